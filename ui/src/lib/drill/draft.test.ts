import { beforeEach, describe, expect, it, vi } from "vitest";
import { appInfo, backupDatabaseName, IpcError, listSmokeChecks, pickUntestedBackup, saveSmokeChecks } from "$lib/ipc";
import { deferred } from "$lib/ipc/mock";
import { appInfoOf } from "$lib/ipc/mock";
import { DrillDraft, toRow } from "./draft.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const MANIFEST = "/b/shop-2026-11-21-134501.lifeboat.json";

describe("DrillDraft", () => {
  beforeEach(() => {
    vi.mocked(appInfo)
      .mockReset()
      .mockResolvedValue(appInfoOf({ practiceServerMajor: 18 }));
    vi.mocked(backupDatabaseName).mockReset().mockResolvedValue("shop");
    vi.mocked(listSmokeChecks).mockReset().mockResolvedValue([]);
    vi.mocked(saveSmokeChecks).mockReset().mockImplementation(async (input) => input.checks);
    vi.mocked(pickUntestedBackup).mockReset();
  });

  it("guesses the database from the backup's name and restores on the practice server", async () => {
    const draft = new DrillDraft(["Shop"], MANIFEST);
    await vi.waitFor(() => expect(draft.database).toBe("shop"));
    expect(backupDatabaseName).toHaveBeenCalledWith(MANIFEST);
    expect(draft.canGoOn).toBe(false);
    await draft.loadPractice();
    expect(draft.canGoOn).toBe(true);
    expect(draft.request([]).target).toEqual({ kind: "practice" });
  });

  it("falls back to one of the user's servers when the practice server cannot run", async () => {
    vi.mocked(appInfo).mockResolvedValue(appInfoOf({ practiceServerMajor: 18, practiceServerProblem: "Lifeboat runs as root." }));
    const draft = new DrillDraft(["Lab"], MANIFEST);
    await draft.loadPractice();
    expect(draft.practiceMajor).toBeNull();
    expect(draft.where).toBe("profile");
    expect(draft.request([]).target).toEqual({ kind: "profile", name: "Lab" });
  });

  it("loads a database's checks once, and saves the edited rows before the run", async () => {
    const saved = { label: "orders", sql: "SELECT count(*) FROM orders", expect: { kind: "at_least" as const, value: 1 } };
    vi.mocked(listSmokeChecks).mockResolvedValue([saved]);
    const draft = new DrillDraft(["Shop"], MANIFEST);
    await draft.loadChecks();
    await draft.loadChecks();
    expect(listSmokeChecks).toHaveBeenCalledTimes(1);
    expect(draft.rows).toEqual([toRow(saved)]);
    draft.addRow();
    draft.rows[1].sql = " SELECT 1 ";
    expect(await draft.saveChecks()).toEqual([saved, { label: "", sql: "SELECT 1", expect: { kind: "rows" } }]);
    draft.removeRow(0);
    expect(draft.rows).toHaveLength(1);
  });

  it("does not run with a bad number or when the checks cannot be saved", async () => {
    const draft = new DrillDraft(["Shop"], MANIFEST);
    draft.rows = [{ label: "n", sql: "SELECT 1", kind: "at_least", value: "many" }];
    expect(await draft.saveChecks()).toBeNull();
    expect(draft.checksProblem).toBe('"n" needs a whole number.');
    draft.rows[0].value = "2";
    vi.mocked(saveSmokeChecks).mockRejectedValueOnce(
      new IpcError({ code: "store", message: "The catalog is locked.", hint: "Try again." }),
    );
    expect(await draft.saveChecks()).toBeNull();
    expect(draft.checksProblem).toBe("The catalog is locked. Try again.");
  });

  it("asks the engine for the database of each new source; the last answer counts, and the checks wait for it", async () => {
    const first = deferred<string>();
    vi.mocked(backupDatabaseName).mockReturnValueOnce(first.promise).mockResolvedValueOnce("crm");
    const draft = new DrillDraft(["Shop"], MANIFEST);
    draft.source = "C:\\b\\crm.sql";
    draft.sourceTyped();
    const loading = draft.loadChecks();
    first.resolve("shop");
    await loading;
    expect(draft.database).toBe("crm");
    expect(listSmokeChecks).toHaveBeenCalledWith({ database: "crm" });
  });

  it("keeps the database field for the user when the engine cannot be asked", async () => {
    vi.mocked(backupDatabaseName).mockRejectedValueOnce(new IpcError({ code: "no_backend", message: "x", hint: "y" }));
    const draft = new DrillDraft(["Shop"], MANIFEST);
    await draft.loadChecks();
    expect(draft.database).toBe("");
    expect(listSmokeChecks).not.toHaveBeenCalled();
  });

  it("picks an untested backup, or says every backup has been tested", async () => {
    vi.mocked(pickUntestedBackup).mockResolvedValueOnce(null);
    const draft = new DrillDraft(["Shop"], null);
    await draft.pickForMe();
    expect(draft.note).toContain("Every backup in the catalog has been tested");
    expect(draft.source).toBe("");
  });
});
