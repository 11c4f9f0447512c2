import { beforeEach, describe, expect, it, vi } from "vitest";
import { IpcError, pickFile, preflightRestore, type RestorePlan, type RestoreRequest } from "$lib/ipc";
import { RestoreDraft, sameRequest } from "./draft.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

/** Only what the draft reads of a plan; the plan itself is made and tested in Rust. */
function planFor(input: RestoreRequest, blocked = false): RestorePlan {
  return {
    database: input.targetDatabase ?? "shop_restored_20261121",
    blocked,
    findings: blocked ? [{ severity: "blocker", code: "newer_source", message: "Too new.", fix: null }] : [],
    replace: input.replace,
    keptAs: input.replace ? `${input.replace}_before_20261121` : null,
    contents: [],
  } as unknown as RestorePlan;
}

describe("RestoreDraft", () => {
  beforeEach(() => {
    vi.mocked(preflightRestore)
      .mockReset()
      .mockImplementation(async (input) => planFor(input));
    vi.mocked(pickFile).mockReset();
  });

  it("checks with the defaults, remembers the proposed name, and may start", async () => {
    const draft = new RestoreDraft(["Shop"], null, " /b/shop.backup ");
    expect(draft.canCheck).toBe(true);
    expect(await draft.runCheck()).toBe(true);
    expect(vi.mocked(preflightRestore).mock.calls[0][0]).toMatchObject({
      source: "/b/shop.backup",
      profile: "Shop",
      targetDatabase: null,
      replace: null,
      noOwner: false,
      ownerRole: null,
    });
    expect(draft.defaultName).toBe("shop_restored_20261121");
    expect(draft.stale).toBe(false);
    expect(draft.canStart).toBe(true);
  });

  it("goes stale when a choice changes, until checked again", async () => {
    const draft = new RestoreDraft(["Shop"], "Shop", "/b/shop.backup");
    await draft.runCheck();
    draft.owner = "none";
    expect(draft.stale).toBe(true);
    expect(draft.canStart).toBe(false);
    await draft.runCheck();
    expect(draft.stale).toBe(false);
    expect(draft.planned?.noOwner).toBe(true);
  });

  it("replaces only after the name is typed again, and names the kept copy from the plan", async () => {
    const draft = new RestoreDraft(["Shop"], "Shop", "/b/shop.backup");
    draft.mode = "replace";
    expect(draft.canCheck).toBe(false);
    draft.replaceName = "shop";
    draft.terminate = true;
    await draft.runCheck();
    expect(draft.planned).toMatchObject({ replace: "shop", terminateConnections: true, targetDatabase: null });
    expect(draft.keptAs).toBe("shop_before_20261121");
    expect(draft.canStart).toBe(false);
    draft.confirmName = "shop";
    expect(draft.canStart).toBe(true);
  });

  it("never starts a blocked plan, and keeps a failed check's problem until the source changes", async () => {
    const draft = new RestoreDraft(["Shop"], "Shop", "/b/shop.backup");
    vi.mocked(preflightRestore).mockImplementationOnce(async (input) => planFor(input, true));
    await draft.runCheck();
    expect(draft.blockers).toBe(1);
    expect(draft.canStart).toBe(false);

    vi.mocked(preflightRestore).mockRejectedValueOnce(
      new IpcError({ code: "not_a_backup", message: "Not a backup.", hint: "Choose another file." }),
    );
    expect(await draft.runCheck()).toBe(false);
    expect(draft.check).toMatchObject({ state: "failed", problem: { code: "not_a_backup" } });
    draft.source = "/b/other.backup";
    draft.sourceChanged();
    expect(draft.check.state).toBe("idle");
    expect(draft.plan).toBeNull();
  });

  it("takes a picked file as a new source, and says why a pick failed", async () => {
    const draft = new RestoreDraft(["Shop"], "Shop", "");
    vi.mocked(pickFile).mockResolvedValueOnce("/b/crm.sql");
    await draft.chooseFile();
    expect(draft.source).toBe("/b/crm.sql");
    vi.mocked(pickFile).mockRejectedValueOnce(
      new IpcError({ code: "io", message: "No file dialog here.", hint: "Type the path instead." }),
    );
    await draft.chooseFile();
    expect(draft.sourceNote).toBe("No file dialog here. Type the path instead.");
  });

  it("offers creating missing roles when the plan names some, and asks for it", async () => {
    vi.mocked(preflightRestore).mockImplementation(async (input) => ({
      ...planFor(input),
      findings: [{ severity: "warning", code: "roles_missing", message: "1 role…", fix: null }],
    }));
    const draft = new RestoreDraft(["Shop"], "Shop", "/b/shop.backup");
    expect(draft.offersMissingRoles).toBe(false);
    await draft.runCheck();
    expect(draft.offersMissingRoles).toBe(true);
    expect(draft.request().createMissingRoles).toBe(false);
    draft.createMissingRoles = true;
    expect(draft.stale).toBe(true);
    expect(draft.request().createMissingRoles).toBe(true);
    draft.sourceChanged();
    expect(draft.createMissingRoles).toBe(false);
    expect(draft.offersMissingRoles).toBe(false);
  });

  it("compares requests field by field, selection included", () => {
    const draft = new RestoreDraft(["Shop"], "Shop", "/b/shop.backup");
    const a = draft.request();
    expect(sameRequest(a, draft.request())).toBe(true);
    expect(sameRequest(null, a)).toBe(false);
    expect(sameRequest(a, { ...a, selection: { excludeSchemas: ["audit"] } as RestoreRequest["selection"] })).toBe(false);
  });
});
