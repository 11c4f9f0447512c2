import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  backupEntries,
  deleteBackup,
  IpcError,
  revealBackup,
  watch,
  type BackupEntry,
  type BackupRecord,
} from "$lib/ipc";
import { watchReportOf } from "$lib/ipc/mock";
import { Connections } from "$lib/connections/state.svelte";
import BackupsView from "./BackupsView.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

function entry(id: number, extra: Partial<BackupRecord> = {}, files: BackupEntry["files"] = { state: "present" }): BackupEntry {
  const database = extra.database ?? "shop";
  const backup: BackupRecord = {
    id,
    profile: "Shop",
    host: "db.example.test",
    port: 5432,
    database,
    format: "custom",
    status: "finished",
    startedAt: `2026-11-2${id}T09:00:00+01:00`,
    durationMs: 1200,
    manifestPath: `/b/${database}-${id}.lifeboat.json`,
    sizeBytes: 2048,
    sha256: null,
    errorCode: null,
    errorMessage: null,
    testStatus: "untested",
    testedAt: null,
    ...extra,
  };
  return { backup, files, folder: "/b", lastTest: null };
}

const ENTRIES: BackupEntry[] = [
  entry(5, { testStatus: "tested-ok", testedAt: "2026-11-25T10:00:00+01:00", copyStatus: "copied", copyPath: "/mnt/usb" }),
  entry(4, { testStatus: "tested-failed" }),
  entry(3, {}, { state: "missing", detail: "/b/shop-3.backup is not there" }),
  entry(2, { database: "crm", profile: "Office", host: "office.test" }),
  entry(1, { deletedAt: "2026-11-26T08:00:00+01:00", deletedBy: "user" }, { state: "none" }),
];

function badgesOf(row: HTMLElement): string[] {
  return within(row)
    .getAllByTestId("backup-badge")
    .map((b) => b.dataset.badge ?? "");
}

async function show() {
  const store = new Connections();
  render(BackupsView, { store });
  await waitFor(() => expect(screen.getByTestId("backups-view").dataset.state).toBe("ready"));
  return store;
}

const row = (id: number) => screen.getAllByTestId("backups-row").find((r) => r.dataset.backupId === String(id))!;

describe("BackupsView", () => {
  beforeEach(() => {
    vi.mocked(backupEntries).mockReset().mockResolvedValue(ENTRIES);
    vi.mocked(deleteBackup).mockReset();
    vi.mocked(revealBackup).mockReset();
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([]));
  });

  it("lists every backup with its badges; deleted ones only when asked", async () => {
    await show();
    expect(backupEntries).toHaveBeenCalledWith({ profile: null, database: null, includeDeleted: true, limit: null });
    expect(screen.getAllByTestId("backups-row").map((r) => r.dataset.backupId)).toEqual(["5", "4", "3", "2"]);
    expect(badgesOf(row(5))).toEqual(["finished", "verified", "tested-ok", "copied"]);
    expect(badgesOf(row(4))).toEqual(["finished", "verified", "tested-failed"]);
    expect(badgesOf(row(3))).toEqual(["finished", "missing", "untested"]);

    await fireEvent.click(screen.getByTestId("backups-show-deleted"));
    expect(badgesOf(row(1))).toEqual(["deleted"]);
    expect(row(1).dataset.deleted).toBe("true");
    expect(within(row(1)).queryByTestId("backups-delete")).toBeNull();
    expect(within(row(1)).queryByTestId("backups-reveal")).toBeNull();
  });

  it("filters by server and by database", async () => {
    await show();
    const server = screen.getByTestId("backups-filter-server") as HTMLSelectElement;
    expect([...server.options].map((o) => o.textContent)).toEqual([
      "All servers",
      "Shop (db.example.test:5432)",
      "Office (office.test:5432)",
    ]);
    await fireEvent.change(server, { target: { value: "office.test:5432" } });
    expect(screen.getAllByTestId("backups-row").map((r) => r.dataset.database)).toEqual(["crm"]);
    const database = screen.getByTestId("backups-filter-database") as HTMLSelectElement;
    expect([...database.options].map((o) => o.value)).toEqual(["", "crm"]);

    await fireEvent.change(server, { target: { value: "" } });
    await fireEvent.change(database, { target: { value: "shop" } });
    expect(screen.getAllByTestId("backups-row").map((r) => r.dataset.backupId)).toEqual(["5", "4", "3"]);
  });

  it("deletes after a confirmation that warns about the only tested backup, and says which files went", async () => {
    const store = await show();
    await fireEvent.click(within(row(5)).getByTestId("backups-delete"));
    const dialog = screen.getByTestId("backups-delete-dialog");
    expect(within(dialog).getByTestId("backups-delete-only-tested")).toBeTruthy();
    expect(deleteBackup).not.toHaveBeenCalled();

    vi.mocked(deleteBackup).mockResolvedValue({
      backup: { ...ENTRIES[0].backup, deletedAt: "2026-11-26T09:00:00+01:00", deletedBy: "user" },
      removed: ["/b/shop-5.backup", "/b/shop-5.lifeboat.json"],
      freedBytes: 2048,
    });
    vi.mocked(backupEntries).mockResolvedValue(ENTRIES.slice(1));
    const revision = store.backupsRevision;
    await fireEvent.click(within(dialog).getByTestId("backups-delete-confirm"));
    expect(deleteBackup).toHaveBeenCalledWith({ backupId: 5 });
    const done = await screen.findByTestId("backups-deleted");
    expect(done.textContent).toContain("Removed 2 files");
    expect(done.textContent).toContain("/b/shop-5.lifeboat.json");
    expect(screen.queryByTestId("backups-delete-dialog")).toBeNull();
    expect(store.backupsRevision).toBe(revision + 1);
    await waitFor(() => expect(screen.getAllByTestId("backups-row").map((r) => r.dataset.backupId)).toEqual(["4", "3", "2"]));
  });

  it("shows a refusal (a backup in use) in the dialog and deletes nothing", async () => {
    await show();
    vi.mocked(deleteBackup).mockRejectedValue(
      new IpcError({
        code: "backup_in_use",
        message: "Backup 4 is being used by a test or a restore right now; it was not deleted.",
        hint: "Wait until it has ended.",
      }),
    );
    await fireEvent.click(within(row(4)).getByTestId("backups-delete"));
    expect(screen.queryByTestId("backups-delete-only-tested")).toBeNull();
    await fireEvent.click(screen.getByTestId("backups-delete-confirm"));
    const error = await screen.findByTestId("backups-delete-error");
    expect(error.dataset.code).toBe("backup_in_use");
    expect(screen.getByTestId("backups-delete-dialog")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("backups-delete-cancel"));
    expect(row(4)).toBeTruthy();
  });

  it("opens the folder, or shows its path to copy when the file manager cannot", async () => {
    await show();
    vi.mocked(revealBackup).mockResolvedValueOnce();
    await fireEvent.click(within(row(5)).getByTestId("backups-reveal"));
    expect(revealBackup).toHaveBeenCalledWith(5);
    expect(screen.queryByTestId("backups-reveal-error")).toBeNull();

    vi.mocked(revealBackup).mockRejectedValueOnce(
      new IpcError({ code: "io", message: "Showing the backup's files failed.", hint: "Open the folder yourself." }),
    );
    await fireEvent.click(within(row(4)).getByTestId("backups-reveal"));
    const error = await screen.findByTestId("backups-reveal-error");
    expect(within(error).getByTestId("backups-folder-path").textContent).toContain("/b");
  });

  it("opens the restore and test wizards on a backup", async () => {
    const store = await show();
    await fireEvent.click(within(row(5)).getByTestId("backups-restore"));
    expect(store.dialog).toEqual({ kind: "restore", profile: "Shop", source: "/b/shop-5.lifeboat.json" });
    await fireEvent.click(within(row(5)).getByTestId("backups-test"));
    expect(store.dialog).toEqual({ kind: "drill", source: "/b/shop-5.lifeboat.json" });
  });
});
