import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  cancelOperation,
  IpcError,
  pickFile,
  preflightRestore,
  startRestore,
  type ArchiveItem,
  type Finding,
  type LeftOut,
  type RestoreOutcome,
  type RestorePlan,
  type RestoreRequest,
} from "$lib/ipc";
import { holdOperation } from "$lib/ipc/mock";
import RestoreWizard from "./RestoreWizard.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const MANIFEST = "/home/ada/backups/shop-2026-11-21-134501.lifeboat.json";

/** The archive's tree: schemas audit and sales, a trigger on sales.orders calls an audit function. */
const CONTENTS: ArchiveItem[] = [
  { id: 8, kind: "SCHEMA", schema: null, name: "audit", dataOf: null },
  { id: 7, kind: "SCHEMA", schema: null, name: "sales", dataOf: null },
  { id: 2, kind: "EXTENSION", schema: null, name: "hstore", dataOf: null },
  { id: 231, kind: "FUNCTION", schema: "audit", name: "log_change()", dataOf: null },
  { id: 228, kind: "TABLE", schema: "audit", name: "log", dataOf: null },
  { id: 225, kind: "TABLE", schema: "sales", name: "orders", dataOf: null },
  { id: 2709, kind: "TABLE DATA", schema: "audit", name: "log", dataOf: 228 },
  { id: 2706, kind: "TABLE DATA", schema: "sales", name: "orders", dataOf: 225 },
];

/** What the Rust side answers for a pre-flight; its rules are tested in Rust. */
function planFor(input: RestoreRequest, findings: Finding[] = []): RestorePlan {
  const leftOut: LeftOut[] = input.selection?.excludeSchemas?.includes("audit")
    ? [
        { id: 231, kind: "FUNCTION", schema: "audit", name: "log_change()", because: null },
        { id: 2554, kind: "TRIGGER", schema: "sales", name: "orders orders_audit", because: "FUNCTION audit.log_change()" },
      ]
    : [];
  const database = input.targetDatabase ?? (input.replace ? `${input.replace}_restoring` : "shop_restored_20261121");
  return {
    source: "/home/ada/backups/shop-2026-11-21-134501.backup",
    format: "custom",
    archiveVersion: "1.16",
    sourceDatabase: "shop",
    dumpedFrom: "18.1",
    dumpedBy: "18.1",
    manifest: input.source.endsWith(".json") ? input.source : null,
    verifiedFiles: 1,
    profile: input.profile,
    serverVersion: "18.1",
    database,
    createDatabase: true,
    encoding: "UTF8",
    method: { kind: "pg_restore", readerMajor: 18, psqlMajor: null, jobs: 1, singleTransaction: false, continueOnErrors: false, droppedSettings: [] },
    noOwner: input.noOwner,
    ownedBy: input.ownerRole,
    entries: 42,
    skippedEntries: 0,
    entryCounts: {},
    findings,
    summary: `Restores shop (custom, 42 entries) into a new database ${database} on ${input.profile}.`,
    blocked: findings.some((f) => f.severity === "blocker"),
    replace: input.replace,
    keptAs: input.replace ? `${input.replace}_before_20261121-134501` : null,
    contents: CONTENTS,
    leftOut,
    createRoles: [],
    recreatableRoles: input.selection ? ["ada"] : [],
    plainRoles: [],
    leftOutForRoles: [],
  };
}

const outcome: RestoreOutcome = {
  database: "shop_restored_20261121",
  created: true,
  profile: "Shop",
  method: { kind: "pg_restore", readerMajor: 18, psqlMajor: null, jobs: 1, singleTransaction: false, continueOnErrors: false, droppedSettings: [] },
  toolVersions: ["pg_restore (PostgreSQL) 18.1"],
  warnings: ["Role ada does not exist; its objects belong to postgres."],
  durationMs: 2345,
  restoredEntries: 40,
  skippedEntries: 2,
  entryCounts: {},
  keptAs: null,
  errors: [],
  createdRoles: [],
  databaseSettings: { applied: [], failed: [] },
};

/** Holds startRestore open; gives access to its progress callback and its result. */
const holdRestore = () => holdOperation(startRestore);

const byId = (id: string) => screen.getByTestId(id);

function renderWizard(props: Partial<{ profile: string | null; source: string | null }> = {}) {
  const onclose = vi.fn();
  const onfinished = vi.fn();
  const onreveal = vi.fn();
  render(RestoreWizard, {
    profiles: ["Accounting", "Shop"],
    profile: "Shop",
    source: MANIFEST,
    onclose,
    onfinished,
    onreveal,
    ...props,
  });
  return { onclose, onfinished, onreveal };
}

/** Step 1 → step 2. */
async function check() {
  await fireEvent.click(byId("restore-check"));
  await screen.findByTestId("restore-summary");
}

/** Step 2 → step 3: Start, and return what startRestore got. */
async function start(hold = holdRestore()) {
  await waitFor(() => expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(false));
  await fireEvent.click(byId("restore-start"));
  await waitFor(() => expect(hold.calls).toHaveLength(1));
  return hold;
}

describe("RestoreWizard", () => {
  beforeEach(() => {
    vi.mocked(preflightRestore)
      .mockReset()
      .mockImplementation(async (input) => planFor(input));
    vi.mocked(startRestore).mockReset();
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
    vi.mocked(pickFile).mockReset();
  });

  it("prefills the source and profile, and checks with the defaults", async () => {
    renderWizard();
    expect((byId("restore-source") as HTMLInputElement).value).toBe(MANIFEST);
    expect((byId("restore-profile") as HTMLSelectElement).value).toBe("Shop");
    await check();
    expect(preflightRestore).toHaveBeenCalledWith({
      source: MANIFEST,
      profile: "Shop",
      targetDatabase: null,
      noOwner: false,
      ownerRole: null,
      jobs: null,
      replace: null,
      terminateConnections: false,
      selection: { schemas: [], excludeSchemas: [], tables: [], excludeEntries: [] },
      continueOnErrors: false,
      createRoles: false,
      createMissingRoles: false,
      allowHttp: false,
    });
    expect(byId("restore-summary").textContent).toContain("into a new database shop_restored_20261121");
    const target = byId("restore-target") as HTMLInputElement;
    expect(target.value).toBe("");
    expect(target.placeholder).toBe("shop_restored_20261121");
  });

  it("needs a source and a profile before Check, and takes a picked file", async () => {
    renderWizard({ profile: null, source: null });
    const checkButton = byId("restore-check") as HTMLButtonElement;
    expect(checkButton.disabled).toBe(true);
    vi.mocked(pickFile).mockResolvedValue("/tmp/crm.sql");
    await fireEvent.click(byId("restore-choose"));
    await waitFor(() => expect((byId("restore-source") as HTMLInputElement).value).toBe("/tmp/crm.sql"));
    expect(checkButton.disabled).toBe(true);
    await fireEvent.change(byId("restore-profile"), { target: { value: "Accounting" } });
    expect(checkButton.disabled).toBe(false);
    await check();
    expect(vi.mocked(preflightRestore).mock.calls[0][0]).toMatchObject({ source: "/tmp/crm.sql", profile: "Accounting" });
  });

  it("shows a failed check in step 1", async () => {
    vi.mocked(preflightRestore).mockRejectedValue(
      new IpcError({ code: "not_a_backup", message: "This is not a backup.", hint: "Choose a .backup file." }),
    );
    renderWizard();
    await fireEvent.click(byId("restore-check"));
    const error = await screen.findByTestId("restore-check-error");
    expect(error.getAttribute("data-code")).toBe("not_a_backup");
    expect(error.textContent).toContain("Choose a .backup file.");
    expect(screen.queryByTestId("restore-summary")).toBeNull();
  });

  it("offers to allow plain http when the check refuses it, checks again with it, and forgets it on Back", async () => {
    const URL = "http://backups.lan/shop/";
    vi.mocked(preflightRestore).mockImplementation(async (input) => {
      if (!input.allowHttp) {
        throw new IpcError({
          code: "plain_http_refused",
          message: `${URL} uses plain http, which is not encrypted, so Lifeboat did not download from it.`,
          hint: "Use an https:// address, or, on a network you trust, allow plain http for this source.",
        });
      }
      return planFor(input);
    });
    renderWizard({ source: URL });
    await fireEvent.click(byId("restore-check"));
    const error = await screen.findByTestId("restore-check-error");
    expect(error.getAttribute("data-code")).toBe("plain_http_refused");
    expect(byId("restore-allow-http-note").textContent).toContain("not encrypted");
    await fireEvent.click(byId("restore-allow-http"));
    await screen.findByTestId("restore-summary");
    expect(vi.mocked(preflightRestore).mock.calls.map((c) => c[0].allowHttp)).toEqual([false, true]);
    const hold = await start();
    expect(hold.calls[0].input.allowHttp).toBe(true);
  });

  it("asks again for plain http after going back to the source", async () => {
    const URL = "http://backups.lan/shop/";
    vi.mocked(preflightRestore).mockImplementation(async (input) => {
      if (!input.allowHttp) {
        throw new IpcError({ code: "plain_http_refused", message: "plain http", hint: "Use https." });
      }
      return planFor(input);
    });
    renderWizard({ source: URL });
    await fireEvent.click(byId("restore-check"));
    await fireEvent.click(await screen.findByTestId("restore-allow-http"));
    await screen.findByTestId("restore-summary");
    await fireEvent.click(byId("restore-back"));
    await fireEvent.click(byId("restore-check"));
    expect((await screen.findByTestId("restore-check-error")).getAttribute("data-code")).toBe("plain_http_refused");
    expect(vi.mocked(preflightRestore).mock.calls.at(-1)?.[0].allowHttp).toBe(false);
    expect(byId("restore-allow-http")).toBeTruthy();
  });

  it("offers no plain http button for other failed checks", async () => {
    vi.mocked(preflightRestore).mockRejectedValue(
      new IpcError({ code: "download_failed", message: "The download failed.", hint: "Check the address." }),
    );
    renderWizard({ source: "https://backups.example/shop/" });
    await fireEvent.click(byId("restore-check"));
    await screen.findByTestId("restore-check-error");
    expect(screen.queryByTestId("restore-allow-http")).toBeNull();
  });

  it("renders findings with their severity and disables Start on a blocker", async () => {
    vi.mocked(preflightRestore).mockImplementation(async (input) =>
      planFor(input, [
        { severity: "blocker", code: "target_not_empty", message: "shop is not empty.", fix: "Choose another name." },
        { severity: "warning", code: "roles_missing", message: "Role ada is missing.", fix: "Restore without owners." },
        { severity: "info", code: "checksums_verified", message: "1 file verified.", fix: null },
      ]),
    );
    renderWizard();
    await check();
    const findings = screen.getAllByTestId("restore-finding");
    expect(findings.map((f) => [f.getAttribute("data-severity"), f.getAttribute("data-code")])).toEqual([
      ["blocker", "target_not_empty"],
      ["warning", "roles_missing"],
      ["info", "checksums_verified"],
    ]);
    expect(findings[0].textContent).toContain("Blocker");
    expect(findings[0].textContent).toContain("Choose another name.");
    expect(byId("restore-summary").getAttribute("data-blocked")).toBe("true");
    expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(true);
  });

  it("re-checks with a typed target and the owner choice, and starts with what was checked", async () => {
    renderWizard();
    await check();
    await fireEvent.input(byId("restore-target"), { target: { value: "shop_copy" } });
    await fireEvent.click(byId("restore-owner-role"));
    await fireEvent.input(byId("restore-owner-role-name"), { target: { value: "app_owner" } });
    // Changed since the check: Start waits for Check again.
    expect(byId("restore-stale")).toBeTruthy();
    expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(2));
    const wanted = {
      source: MANIFEST,
      profile: "Shop",
      targetDatabase: "shop_copy",
      noOwner: false,
      ownerRole: "app_owner",
      jobs: null,
      replace: null,
      terminateConnections: false,
      selection: { schemas: [], excludeSchemas: [], tables: [], excludeEntries: [] },
      continueOnErrors: false,
      createRoles: false,
      createMissingRoles: false,
      allowHttp: false,
    };
    expect(vi.mocked(preflightRestore).mock.calls[1][0]).toEqual(wanted);
    await waitFor(() => expect(screen.queryByTestId("restore-stale")).toBeNull());
    const hold = await start();
    expect(hold.calls[0].input).toEqual(wanted);
  });

  it("sends noOwner for “no owners”", async () => {
    renderWizard();
    await check();
    await fireEvent.click(byId("restore-owner-none"));
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(2));
    const hold = await start();
    expect(hold.calls[0].input).toMatchObject({ targetDatabase: null, noOwner: true, ownerRole: null });
  });

  it("shows progress, then the result, and opens the database in the tree", async () => {
    const { onfinished, onreveal } = renderWizard();
    await check();
    const hold = await start();
    hold.calls[0].emit({ kind: "step", done: 0, total: 40, current: "" });
    hold.calls[0].emit({ kind: "step", done: 10, total: 40, current: "TABLE DATA sales orders" });
    await waitFor(() => expect(byId("restore-progress").getAttribute("data-done")).toBe("10"));
    expect(byId("restore-progress").textContent).toContain("10 of 40 items (25%)");
    expect(byId("restore-progress").textContent).toContain("TABLE DATA sales orders");

    hold.run.resolve(outcome);
    const result = await screen.findByTestId("restore-result");
    expect(result.getAttribute("data-database")).toBe("shop_restored_20261121");
    expect(result.textContent).toContain("40 entries");
    expect(result.textContent).toContain("2 skipped");
    expect(byId("restore-warnings").textContent).toContain("Role ada does not exist");
    expect(onfinished).toHaveBeenCalledWith("Shop", "shop_restored_20261121");
    await fireEvent.click(byId("restore-open-in-tree"));
    expect(onreveal).toHaveBeenCalledWith("Shop", "shop_restored_20261121");
  });

  it("cancels through cancelOperation and says the new database was removed", async () => {
    renderWizard();
    await check();
    const hold = await start();
    await fireEvent.click(byId("restore-cancel"));
    await waitFor(() => expect(cancelOperation).toHaveBeenCalledWith(hold.calls[0].id));
    hold.run.reject(new IpcError({ code: "cancelled", message: "Cancelled.", hint: "" }));
    const error = await screen.findByTestId("restore-error");
    expect(error.getAttribute("data-code")).toBe("cancelled");
    expect(error.textContent).toContain("Restore cancelled. The new database was removed.");
  });

  it("shows an error's message and hint", async () => {
    const { onfinished } = renderWizard();
    await check();
    const hold = await start();
    hold.run.reject(
      new IpcError({ code: "tool_failed", message: "pg_restore failed.", hint: "See the program output." }),
    );
    const error = await screen.findByTestId("restore-error");
    expect(error.getAttribute("data-code")).toBe("tool_failed");
    expect(error.textContent).toContain("pg_restore failed.");
    expect(error.textContent).toContain("See the program output.");
    expect(onfinished).not.toHaveBeenCalled();
  });
  it("replaces an existing database: sends replace + terminateConnections, Start waits for the confirmation", async () => {
    renderWizard();
    await check();
    await fireEvent.click(byId("restore-mode-replace"));
    expect(screen.queryByTestId("restore-target")).toBeNull();
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop" } });
    await fireEvent.click(byId("restore-terminate"));
    const startButton = byId("restore-start") as HTMLButtonElement;
    // Not checked with these values yet.
    expect(byId("restore-stale")).toBeTruthy();
    expect(startButton.disabled).toBe(true);
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(2));
    const wanted = {
      source: MANIFEST,
      profile: "Shop",
      targetDatabase: null,
      noOwner: false,
      ownerRole: null,
      jobs: null,
      replace: "shop",
      terminateConnections: true,
      selection: { schemas: [], excludeSchemas: [], tables: [], excludeEntries: [] },
      continueOnErrors: false,
      createRoles: false,
      createMissingRoles: false,
      allowHttp: false,
    };
    expect(vi.mocked(preflightRestore).mock.calls[1][0]).toEqual(wanted);
    await waitFor(() => expect(screen.queryByTestId("restore-stale")).toBeNull());
    expect(byId("restore-replace-note").textContent).toContain("The current shop is kept as");
    expect(byId("restore-replace-note").textContent).toContain("shop_before_20261121-134501");
    expect(byId("restore-replace-note").textContent).toContain("nothing is dropped");
    // Checked, but the name is not confirmed yet.
    expect(startButton.disabled).toBe(true);
    await fireEvent.input(byId("restore-replace-confirm"), { target: { value: "Shop" } });
    expect(startButton.disabled).toBe(true);
    await fireEvent.input(byId("restore-replace-confirm"), { target: { value: "shop " } });
    expect(startButton.disabled).toBe(true);
    await fireEvent.input(byId("restore-replace-confirm"), { target: { value: "shop" } });
    expect(startButton.disabled).toBe(false);
    // Changing the name again needs another check (and another confirmation).
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop2" } });
    expect(startButton.disabled).toBe(true);
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop" } });
    const hold = await start();
    expect(hold.calls[0].input).toEqual(wanted);
  });

  it("sends no replace fields after switching back to a new database", async () => {
    renderWizard();
    await check();
    await fireEvent.click(byId("restore-mode-replace"));
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop" } });
    await fireEvent.click(byId("restore-terminate"));
    await fireEvent.click(byId("restore-mode-new"));
    await fireEvent.input(byId("restore-target"), { target: { value: "shop_copy" } });
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(2));
    expect(vi.mocked(preflightRestore).mock.calls[1][0]).toMatchObject({
      targetDatabase: "shop_copy",
      replace: null,
      terminateConnections: false,
    });
  });

  it("shows the database_in_use blocker and keeps Start disabled", async () => {
    vi.mocked(preflightRestore).mockImplementation(async (input) =>
      planFor(
        input,
        input.replace
          ? [
              {
                severity: "blocker",
                code: "database_in_use",
                message: "2 other sessions are connected to shop.",
                fix: "Close them, or choose “End other sessions on it”.",
              },
            ]
          : [],
      ),
    );
    renderWizard();
    await check();
    await fireEvent.click(byId("restore-mode-replace"));
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop" } });
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(byId("restore-summary").getAttribute("data-blocked")).toBe("true"));
    const finding = screen.getByTestId("restore-finding");
    expect(finding.getAttribute("data-severity")).toBe("blocker");
    expect(finding.getAttribute("data-code")).toBe("database_in_use");
    expect(finding.textContent).toContain("2 other sessions are connected to shop.");
    await fireEvent.input(byId("restore-replace-confirm"), { target: { value: "shop" } });
    expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(true);
  });

  it("says under which name the replaced database is kept", async () => {
    const { onfinished } = renderWizard();
    await check();
    await fireEvent.click(byId("restore-mode-replace"));
    await fireEvent.input(byId("restore-replace"), { target: { value: "shop" } });
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(screen.queryByTestId("restore-stale")).toBeNull());
    await fireEvent.input(byId("restore-replace-confirm"), { target: { value: "shop" } });
    const hold = await start();
    hold.run.resolve({ ...outcome, database: "shop", keptAs: "shop_before_20261121-134501" });
    const keptAs = await screen.findByTestId("restore-kept-as");
    expect(keptAs.textContent?.replace(/\s+/g, " ").trim()).toBe(
      "The previous shop is kept as shop_before_20261121-134501.",
    );
    expect(onfinished).toHaveBeenCalledWith("Shop", "shop");
  });

  it("shows no kept-as line for a new database", async () => {
    renderWizard();
    await check();
    const hold = await start();
    hold.run.resolve(outcome);
    await screen.findByTestId("restore-result");
    expect(screen.queryByTestId("restore-kept-as")).toBeNull();
  });

  it("leaves out an unticked schema or a table's data, and shows what goes with them", async () => {
    renderWizard();
    await check();
    const schemas = screen.getAllByTestId("restore-contents-schema");
    expect(schemas.map((s) => s.getAttribute("data-schema"))).toEqual(["audit", "sales", ""]);
    expect(schemas[2].textContent).toContain("Database-wide");
    const toggles = screen.getAllByTestId("restore-contents-schema-toggle") as HTMLInputElement[];
    await fireEvent.click(toggles[0]);
    expect(toggles[0].checked).toBe(false);
    expect(byId("restore-stale")).toBeTruthy();
    expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(2));
    expect(vi.mocked(preflightRestore).mock.calls[1][0].selection).toEqual({
      schemas: [],
      excludeSchemas: ["audit"],
      tables: [],
      excludeEntries: [],
    });
    await waitFor(() => expect(screen.queryByTestId("restore-stale")).toBeNull());
    expect(byId("restore-contents-dependents").textContent).toContain("sales.orders orders_audit");
    expect(byId("restore-contents-dependents").textContent).toContain("needs FUNCTION audit.log_change()");

    // Ticking the schema again and unticking only the data of sales.orders.
    await fireEvent.click(toggles[0]);
    const orders = screen.getAllByTestId("restore-contents-object").find((r) => r.getAttribute("data-id") === "225")!;
    await fireEvent.click(orders.querySelector('[data-testid="restore-contents-data"]')!);
    expect(toggles[1].indeterminate).toBe(true);
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(preflightRestore).toHaveBeenCalledTimes(3));
    expect(vi.mocked(preflightRestore).mock.calls[2][0].selection?.excludeEntries).toEqual([2706]);
  });

  it("reports a restore that went past errors as failed, listing every error", async () => {
    renderWizard();
    await check();
    await fireEvent.click(byId("restore-continue-on-errors"));
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(vi.mocked(preflightRestore).mock.calls[1]?.[0].continueOnErrors).toBe(true));
    vi.mocked(startRestore).mockResolvedValue({ ...outcome, errors: ['ERROR: relation "no_such_table" does not exist'] });
    await waitFor(() => expect((byId("restore-start") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("restore-start"));
    const errors = await screen.findByTestId("restore-errors");
    expect(errors.textContent).toContain("with 1 error");
    expect(errors.textContent).toContain("no_such_table");
    expect(screen.queryByText(/Restore finished/)?.closest("[hidden]")).toBeTruthy();
  });

  it("offers to create the missing roles the backup saved, and sends createRoles", async () => {
    renderWizard();
    await check();
    const box = byId("restore-create-roles") as HTMLInputElement;
    expect(box.closest("label")!.textContent).toContain("(ada)");
    await fireEvent.click(box);
    await fireEvent.click(byId("restore-recheck"));
    await waitFor(() => expect(vi.mocked(preflightRestore).mock.calls[1]?.[0].createRoles).toBe(true));
  });
});
