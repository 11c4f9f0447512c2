import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  appInfo,
  defaultBackupFolder,
  listBackups,
  listDatabases,
  listProfiles,
  startBackup,
  type BackupOutcome,
  type BackupRecord,
  type DatabaseInfo,
} from "$lib/ipc";
import { appInfoOf, databaseInfo, profileOf } from "$lib/ipc/mock";
import App from "./App.svelte";

// The Backup wizard as the app opens it: from the tree's context menu, the details pane and the
// top bar; and what changes in the app after a backup.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const shop: DatabaseInfo = databaseInfo("shop");

function record(id: number, status: BackupRecord["status"], extra: Partial<BackupRecord> = {}): BackupRecord {
  return {
    id,
    profile: "Shop",
    host: "db.example.test",
    port: 5433,
    database: "shop",
    format: "custom",
    status,
    startedAt: "2026-11-21T13:45:01+01:00",
    durationMs: 1200,
    manifestPath: null,
    sizeBytes: 24 * 1024,
    sha256: null,
    errorCode: null,
    errorMessage: null,
    testStatus: "untested",
      testedAt: null,
    ...extra,
  };
}

const outcome: BackupOutcome = {
  backupId: 3,
  manifestPath: "/b/shop-2026-11-21-134501.lifeboat.json",
  files: [{ name: "shop-2026-11-21-134501.backup", role: "dump", schema: null, bytes: 2048, sha256: "f".repeat(64) }],
  sizeBytes: 2048,
  durationMs: 800,
  compression: { method: "zstd", level: 3 },
  warnings: [],
};

/** Renders the app and opens the database "shop" of the profile "Shop" in the tree. */
async function openShop() {
  render(App);
  await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
  return await screen.findByTestId("database-node");
}

describe("backing up from the app", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles)
      .mockReset()
      .mockResolvedValue([profileOf("Shop", { port: 5433 })]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([shop]);
    vi.mocked(listBackups).mockReset().mockResolvedValue([]);
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/b");
    vi.mocked(startBackup).mockReset();
  });

  it("opens the wizard for a database from its context menu", async () => {
    const db = await openShop();
    const row = db.querySelector<HTMLElement>(".tree-row")!;
    await fireEvent.contextMenu(row, { clientX: 120, clientY: 200 });
    const menu = screen.getByTestId("context-menu");
    expect(menu.getAttribute("role")).toBe("menu");
    // Right-click selects the database, as in a file manager.
    expect(screen.getByTestId("database-details")).toBeTruthy();
    expect(document.activeElement).toBe(within(menu).getByTestId("menu-backup"));

    await fireEvent.click(within(menu).getByTestId("menu-backup"));
    expect(screen.queryByTestId("context-menu")).toBeNull();
    const wizard = screen.getByTestId("backup-wizard");
    expect((within(wizard).getByTestId("backup-profile") as HTMLSelectElement).value).toBe("Shop");
    await waitFor(() =>
      expect((within(wizard).getByTestId("backup-database") as HTMLSelectElement).value).toBe("shop"),
    );
    expect((within(wizard).getByTestId("backup-next") as HTMLButtonElement).disabled).toBe(false);
  });

  it("closes the context menu on Escape and on a click elsewhere", async () => {
    const db = await openShop();
    const row = db.querySelector<HTMLElement>(".tree-row")!;
    await fireEvent.contextMenu(row, { clientX: 10, clientY: 10 });
    await fireEvent.keyDown(screen.getByTestId("context-menu"), { key: "Escape" });
    expect(screen.queryByTestId("context-menu")).toBeNull();

    await fireEvent.contextMenu(row, { clientX: 10, clientY: 10 });
    await fireEvent.pointerDown(document.body);
    expect(screen.queryByTestId("context-menu")).toBeNull();
    expect(screen.queryByTestId("backup-wizard")).toBeNull();
  });

  it("opens the wizard from the details pane and refreshes the database after a backup", async () => {
    const db = await openShop();
    await fireEvent.click(within(db).getByText("shop"));
    const details = screen.getByTestId("database-details");
    await waitFor(() => expect(listBackups).toHaveBeenCalledWith({ database: "shop", limit: 10 }));
    expect((await within(details).findByTestId("backup-history")).textContent).toContain(
      "No backups of this database yet.",
    );
    expect(within(details).getByTestId("last-backup").textContent).toBe("never");

    await fireEvent.click(within(details).getByTestId("details-backup"));
    const wizard = screen.getByTestId("backup-wizard");
    await waitFor(() =>
      expect((within(wizard).getByTestId("backup-next") as HTMLButtonElement).disabled).toBe(false),
    );
    await fireEvent.click(within(wizard).getByTestId("backup-next"));
    await waitFor(() => expect((within(wizard).getByTestId("backup-folder") as HTMLInputElement).value).toBe("/b"));

    const finished = "2026-11-21T13:45:02+01:00";
    vi.mocked(listDatabases).mockResolvedValue([{ ...shop, lastBackup: finished }]);
    vi.mocked(listBackups).mockResolvedValue([record(3, "finished")]);
    vi.mocked(startBackup).mockResolvedValue(outcome);
    const listedBefore = vi.mocked(listDatabases).mock.calls.length;
    await fireEvent.click(within(wizard).getByTestId("backup-start"));
    await screen.findByTestId("backup-summary");

    // The tree and the details pane show the new backup without collapsing anything.
    await waitFor(() => expect(listDatabases).toHaveBeenCalledTimes(listedBefore + 1));
    expect(listDatabases).toHaveBeenLastCalledWith({ profile: "Shop" });
    await waitFor(() =>
      expect(within(details).getByTestId("last-backup").textContent).not.toBe("never"),
    );
    expect(screen.getByTestId("database-node").textContent).not.toContain("last backup: never");
    expect(screen.getByTestId("database-details")).toBe(details);
    const rows = await within(details).findAllByTestId("backup-row");
    expect(rows).toHaveLength(1);
    expect(listBackups).toHaveBeenCalledTimes(2);

    await fireEvent.click(within(wizard).getByTestId("backup-close"));
    expect(screen.queryByTestId("backup-wizard")).toBeNull();
  });

  it("lists a database's backups with status, size and test status", async () => {
    vi.mocked(listBackups).mockResolvedValue([
      record(4, "running", { sizeBytes: null, durationMs: null }),
      record(3, "failed", { errorMessage: "pg_dump failed: disk full", sizeBytes: null }),
      record(2, "cancelled", { sizeBytes: null }),
      record(1, "finished", { profile: "Shop copy", manifestPath: "/b/shop-1.lifeboat.json" }),
    ]);
    const db = await openShop();
    await fireEvent.click(within(db).getByText("shop"));
    const rows = await screen.findAllByTestId("backup-row");
    expect(rows.map((r) => r.dataset.status)).toEqual(["running", "failed", "cancelled", "finished"]);
    const status = (row: HTMLElement) => row.querySelector<HTMLElement>(".status")!;
    expect(status(rows[1]).getAttribute("title")).toBe("pg_dump failed: disk full");
    expect(status(rows[1]).dataset.status).toBe("failed");
    expect(rows[3].textContent).toContain("24 kB");
    expect(rows[3].textContent).toContain("finished");
    expect(rows[3].textContent).toContain("untested");
    expect(rows[3].textContent).toContain("Shop copy");
    expect(rows[0].textContent).toContain("—");
    expect(screen.getByTestId("backup-history").querySelectorAll("th").length).toBe(6);

    // Only a finished backup can be restored; Restore… opens the wizard with its manifest.
    expect(rows.map((r) => within(r).queryByTestId("history-restore") !== null)).toEqual([false, false, false, true]);
    await fireEvent.click(within(rows[3]).getByTestId("history-restore"));
    await screen.findByTestId("restore-wizard");
    expect((screen.getByTestId("restore-source") as HTMLInputElement).value).toBe("/b/shop-1.lifeboat.json");
    expect((screen.getByTestId("restore-profile") as HTMLSelectElement).value).toBe("Shop");
  });

  it("the top bar button opens the wizard for the selected database", async () => {
    const db = await openShop();
    await fireEvent.click(within(db).getByText("shop"));
    await fireEvent.click(screen.getByTestId("toolbar-backup"));
    const wizard = screen.getByTestId("backup-wizard");
    await waitFor(() =>
      expect((within(wizard).getByTestId("backup-database") as HTMLSelectElement).value).toBe("shop"),
    );
  });
});
