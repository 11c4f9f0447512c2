import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  appInfo,
  cancelOperation,
  compressionChoices,
  defaultBackupFolder,
  IpcError,
  listBackups,
  listDatabases,
  listProfiles,
  startServerBackup,
  type BackupOutcome,
  type ServerBackupOutcome,
} from "$lib/ipc";
import { appInfoOf, compressionChoicesOf, databaseInfo, holdOperation, profileOf } from "$lib/ipc/mock";
import ServerBackupWizard from "./ServerBackupWizard.svelte";
import App from "../../App.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const byId = (id: string) => screen.getByTestId(id);

function backup(database: string, sizeBytes: number): BackupOutcome {
  const stem = `${database}-2026-12-01-184001`;
  return {
    backupId: 1,
    manifestPath: `/b/${stem}.lifeboat.json`,
    files: [{ name: `${stem}.backup`, role: "dump", schema: null, bytes: sizeBytes, sha256: "a".repeat(64) }],
    sizeBytes,
    durationMs: 300,
    compression: { method: "zstd", level: 3 },
    warnings: [],
  };
}

const partial: ServerBackupOutcome = {
  status: "partial",
  summary:
    "Not every database was backed up. 2 databases backed up. 1 database failed; each shows its error. 1 could not be reached and is not backed up: archive.",
  databases: [
    { database: "app", state: "backed_up", outcome: backup("app", 2048), error: null, reason: null },
    {
      database: "broken",
      state: "failed",
      outcome: null,
      error: { code: "query", message: "The server reported an error: permission denied for table items", hint: "Check the rights." },
      reason: null,
    },
    { database: "archive", state: "skipped", outcome: null, error: null, reason: "it does not accept connections" },
    { database: "postgres", state: "backed_up", outcome: backup("postgres", 1024), error: null, reason: null },
  ],
  globals: {
    file: { name: "app-2026-12-01-184001.globals.sql", role: "globals", schema: null, bytes: 300, sha256: "b".repeat(64) },
    database: "app",
  },
  sizeBytes: 3072,
  durationMs: 2500,
  cancelled: false,
};

function renderWizard() {
  const onclose = vi.fn();
  const onfinished = vi.fn();
  render(ServerBackupWizard, { profile: "Shop", onclose, onfinished });
  return { onclose, onfinished };
}

async function ready() {
  await waitFor(() => expect((byId("server-backup-folder") as HTMLInputElement).value).toBe("/b"));
  await waitFor(() => expect((byId("backup-compression") as HTMLSelectElement).options.length).toBe(5));
}

describe("ServerBackupWizard", () => {
  beforeEach(() => {
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/b");
    vi.mocked(compressionChoices).mockReset().mockResolvedValue(compressionChoicesOf(17));
    vi.mocked(startServerBackup).mockReset();
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
  });

  it("sends where and how, shows each database as it goes, then a row per database", async () => {
    const { onfinished } = renderWizard();
    await ready();
    expect(byId("server-backup-intro").textContent).toContain("roles and tablespaces are saved once");
    await fireEvent.change(byId("backup-compression"), { target: { value: "lz4" } });
    await fireEvent.input(byId("backup-compression-level"), { target: { value: "4" } });
    const hold = holdOperation(startServerBackup);
    await fireEvent.click(byId("server-backup-start"));
    await waitFor(() => expect(hold.calls).toHaveLength(1));
    expect(hold.calls[0].input).toEqual({
      profile: "Shop",
      destination: "/b",
      format: "custom",
      compression: { method: "lz4", level: 4 },
      jobs: null,
      rolePasswords: false,
    });

    const { emit } = hold.calls[0];
    emit({ kind: "stage", index: 1, total: 3, name: "app" });
    emit({ kind: "step", done: 1, total: 2, current: "public.items" });
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("Database 1 of 3: app…"));
    emit({ kind: "stage", index: 2, total: 3, name: "broken" });
    emit({ kind: "warning", message: "The backup of broken failed: permission denied for table items" });
    emit({ kind: "stage", index: 3, total: 3, name: "postgres" });
    await waitFor(() =>
      expect(
        [...byId("server-backup-live").querySelectorAll("li")].map((li) => [li.dataset.name, li.dataset.state]),
      ).toEqual([
        ["app", "done"],
        ["broken", "failed"],
        ["postgres", "running"],
      ]),
    );
    expect(screen.getByRole("status").textContent).toContain("Database 3 of 3: postgres…");

    hold.run.resolve(partial);
    const summary = await screen.findByTestId("server-backup-summary");
    expect(summary.dataset.status).toBe("partial");
    expect(byId("server-backup-summary-text").textContent).toContain("Not every database was backed up.");
    const rows = screen.getAllByTestId("server-backup-row");
    expect(rows.map((r) => [r.dataset.name, r.dataset.state])).toEqual([
      ["app", "backed_up"],
      ["broken", "failed"],
      ["archive", "skipped"],
      ["postgres", "backed_up"],
    ]);
    expect(rows[0].textContent).toContain("zstd:3");
    expect(rows[0].textContent).toContain("/b/app-2026-12-01-184001.lifeboat.json");
    expect(rows[1].textContent).toContain("permission denied for table items");
    expect(rows[2].textContent).toContain("does not accept connections");
    expect(byId("server-backup-roles").textContent).toContain("app-2026-12-01-184001.globals.sql");
    expect(within(byId("server-backup-warnings")).getByText(/The backup of broken failed/)).toBeTruthy();
    expect(onfinished).toHaveBeenCalledWith("Shop");
  });

  it("cannot start with a level out of range, and says why a failed job failed", async () => {
    const { onfinished } = renderWizard();
    await ready();
    await fireEvent.change(byId("backup-compression"), { target: { value: "gzip" } });
    await fireEvent.input(byId("backup-compression-level"), { target: { value: "10" } });
    expect((byId("server-backup-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(byId("backup-compression-level"), { target: { value: "" } });
    expect((byId("server-backup-start") as HTMLButtonElement).disabled).toBe(false);

    vi.mocked(startServerBackup).mockRejectedValue(
      new IpcError({ code: "connection_refused", message: "Nothing answered at db port 5432.", hint: "Is it running?" }),
    );
    await fireEvent.click(byId("server-backup-start"));
    expect((await screen.findByTestId("server-backup-error")).textContent).toContain("Nothing answered");
    expect(onfinished).not.toHaveBeenCalled();
    await fireEvent.click(byId("server-backup-back"));
    expect((byId("backup-compression") as HTMLSelectElement).value).toBe("gzip");
  });
});

describe("Back up server from the tree", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles).mockReset().mockResolvedValue([profileOf("Shop")]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([databaseInfo("shop")]);
    vi.mocked(listBackups).mockReset().mockResolvedValue([]);
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/b");
    vi.mocked(compressionChoices).mockReset().mockResolvedValue(compressionChoicesOf(14));
  });

  it("opens from the server's context menu", async () => {
    render(App);
    const node = await screen.findByTestId("profile-node");
    await fireEvent.contextMenu(node.querySelector<HTMLElement>(".tree-row")!, { clientX: 50, clientY: 60 });
    const menu = screen.getByTestId("context-menu");
    expect(document.activeElement).toBe(within(menu).getByTestId("menu-backup-server"));
    await fireEvent.click(within(menu).getByTestId("menu-backup-server"));
    const wizard = screen.getByTestId("server-backup-wizard");
    expect(within(wizard).getByRole("heading").textContent).toBe("Back up server “Shop”");
    expect(compressionChoices).toHaveBeenCalledWith({ profile: "Shop" });
    await waitFor(() =>
      expect(within(wizard).getByTestId("backup-compression-note").textContent).toContain("gzip: the only compression"),
    );
  });
});
