import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  IpcError,
  recoverPlan,
  startRestore,
  swapRestored,
  type BackupRecord,
  type RecoverPlan,
  type RestoreOutcome,
} from "$lib/ipc";
import { holdOperation } from "$lib/ipc/mock";
import RecoverWizard from "./RecoverWizard.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const TESTED = "/b/shop-2026-11-21-090000.lifeboat.json";
const NEWEST = "/b/shop-2026-11-21-150000.lifeboat.json";

function backup(id: number, manifestPath: string, extra: Partial<BackupRecord> = {}): BackupRecord {
  return {
    id,
    profile: "Shop",
    host: "db.example.test",
    port: 5432,
    database: "shop",
    format: "custom",
    status: "finished",
    startedAt: "2026-11-21T09:00:00+01:00",
    durationMs: 1200,
    manifestPath,
    sizeBytes: 24 * 1024,
    sha256: null,
    errorCode: null,
    errorMessage: null,
    testStatus: "tested-ok",
    testedAt: "2026-11-21T10:00:00+01:00",
    ...extra,
  };
}

/** What the engine answers; its choice and wording are tested in Rust (ops/recover.rs). */
const PLAN: RecoverPlan = {
  profile: "Shop",
  host: "db.example.test",
  port: 5432,
  database: "shop",
  backup: backup(2, TESTED),
  test: {
    id: 5,
    startedAt: "2026-11-21T10:00:00+01:00",
    passed: true,
    durationMs: 9000,
    summary: "every check passed",
    target: "practice",
    manifestPath: TESTED,
    certificateJson: null,
    certificateHtml: "/b/shop.drill.html",
  },
  ageMs: 6 * 3600 * 1000,
  lost: "Changes made since today 09:00, 6 hours ago, will be lost.",
  verifiedFiles: 1,
  skipped: [
    {
      backupId: 3,
      startedAt: "2026-11-21T15:00:00+01:00",
      manifestPath: NEWEST,
      reason: { kind: "untested" },
      why: "The backup of today 15:00 is not used: it was never tested.",
    },
  ],
  summary: "Lifeboat will restore the backup of today 09:00 (it passed its test today 10:00) into a new database next to shop.",
};

const OUTCOME: RestoreOutcome = {
  database: "shop_restored_20261121",
  created: true,
  profile: "Shop",
  method: { kind: "pg_restore", readerMajor: 18, psqlMajor: null, jobs: 1, singleTransaction: false, continueOnErrors: false, droppedSettings: [] },
  toolVersions: ["pg_restore (PostgreSQL) 18.6"],
  warnings: [],
  durationMs: 4200,
  restoredEntries: 42,
  skippedEntries: 0,
  entryCounts: {},
  keptAs: null,
  errors: [],
  createdRoles: [],
  databaseSettings: { applied: [], failed: [] },
};

function open(extra: Record<string, unknown> = {}) {
  const props = { profile: "Shop", database: "shop", newestManifest: NEWEST, onclose: vi.fn(), ...extra };
  render(RecoverWizard, props);
  return { props, wizard: screen.getByTestId("recover-wizard") };
}

describe("RecoverWizard", () => {
  beforeEach(() => {
    vi.mocked(recoverPlan).mockReset();
    vi.mocked(startRestore).mockReset();
    vi.mocked(swapRestored).mockReset();
  });

  it("says what will be lost, restores the tested backup next to the live one and swaps them", async () => {
    vi.mocked(recoverPlan).mockResolvedValue(PLAN);
    const onrestored = vi.fn();
    const onswapped = vi.fn();
    const { wizard } = open({ onrestored, onswapped });

    expect(await within(wizard).findByTestId("recover-lost")).toHaveProperty(
      "textContent",
      "Changes made since today 09:00, 6 hours ago, will be lost.",
    );
    expect(recoverPlan).toHaveBeenCalledWith({ profile: "Shop", database: "shop" });
    expect(within(wizard).getByTestId("recover-backup").dataset.backupId).toBe("2");
    expect(within(wizard).getByTestId("recover-files").textContent).toContain("1 file present");
    const skipped = within(wizard).getAllByTestId("recover-skipped-item");
    expect(skipped.map((s) => s.dataset.reason)).toEqual(["untested"]);
    expect(skipped[0].textContent).toContain("it was never tested");

    const { run, calls } = holdOperation(startRestore);
    await fireEvent.click(within(wizard).getByTestId("recover-start"));
    await waitFor(() => expect(calls).toHaveLength(1));
    // The tested backup into a new database; the live one is not named as a target.
    expect(calls[0].input).toEqual({
      source: TESTED,
      profile: "Shop",
      targetDatabase: null,
      noOwner: false,
      ownerRole: null,
      jobs: null,
      replace: null,
      terminateConnections: false,
    });
    expect(within(wizard).getByTestId("restore-progress")).toBeTruthy();
    run.resolve(OUTCOME);

    const swapStep = await within(wizard).findByTestId("recover-swap-step");
    expect(onrestored).toHaveBeenCalledWith("shop_restored_20261121");
    expect(within(swapStep).getByTestId("recover-restored").textContent).toBe("shop_restored_20261121");
    vi.mocked(swapRestored).mockResolvedValue({ profile: "Shop", database: "shop", keptAs: "shop_before_20261121-153000" });
    await fireEvent.click(within(swapStep).getByTestId("recover-terminate"));
    await fireEvent.click(within(wizard).getByTestId("recover-swap"));
    expect(swapRestored).toHaveBeenCalledWith({
      profile: "Shop",
      live: "shop",
      restored: "shop_restored_20261121",
      terminateConnections: true,
    });
    expect((await within(wizard).findByTestId("recover-kept-as")).textContent).toBe("shop_before_20261121-153000");
    expect(onswapped).toHaveBeenCalledTimes(1);
  });

  it("keeps both when asked, without renaming anything", async () => {
    vi.mocked(recoverPlan).mockResolvedValue(PLAN);
    vi.mocked(startRestore).mockResolvedValue(OUTCOME);
    const { wizard } = open();
    await within(wizard).findByTestId("recover-lost");
    await fireEvent.click(within(wizard).getByTestId("recover-start"));
    await within(wizard).findByTestId("recover-swap-step");
    await fireEvent.click(within(wizard).getByTestId("recover-keep-both"));
    expect(within(wizard).getByTestId("recover-kept-both").textContent).toContain("shop_restored_20261121");
    expect(swapRestored).not.toHaveBeenCalled();
  });

  it("shows why a swap failed and lets the user try again", async () => {
    vi.mocked(recoverPlan).mockResolvedValue(PLAN);
    vi.mocked(startRestore).mockResolvedValue(OUTCOME);
    vi.mocked(swapRestored).mockRejectedValueOnce(
      new IpcError({ code: "swap_failed", message: "shop_restored_20261121 could not take the place of shop: in use", hint: "End the sessions." }),
    );
    const { wizard } = open();
    await within(wizard).findByTestId("recover-lost");
    await fireEvent.click(within(wizard).getByTestId("recover-start"));
    await within(wizard).findByTestId("recover-swap-step");
    await fireEvent.click(within(wizard).getByTestId("recover-swap"));
    const error = await within(wizard).findByTestId("recover-swap-error");
    expect(error.dataset.code).toBe("swap_failed");
    expect((within(wizard).getByTestId("recover-swap") as HTMLButtonElement).disabled).toBe(false);
  });

  it("offers to test the newest backup when none passed a test", async () => {
    vi.mocked(recoverPlan).mockRejectedValue(
      new IpcError({
        code: "no_tested_backup",
        message: "No backup of shop has passed a test, so Lifeboat cannot tell which one would bring it back.",
        hint: "Test the newest backup first.",
      }),
    );
    const ontest = vi.fn();
    const { wizard } = open({ ontest });
    const error = await within(wizard).findByTestId("recover-error");
    expect(error.dataset.code).toBe("no_tested_backup");
    expect((within(wizard).getByTestId("recover-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(within(wizard).getByTestId("recover-test-newest"));
    expect(ontest).toHaveBeenCalledWith(NEWEST);
    expect(startRestore).not.toHaveBeenCalled();
  });
});
