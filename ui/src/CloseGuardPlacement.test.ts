import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  appInfo,
  backupEntries,
  closeWindow,
  defaultBackupFolder,
  listActivity,
  listBackups,
  listDatabases,
  listProfiles,
  onCloseRequested,
  startBackup,
  watch,
  type BackupOutcome,
} from "$lib/ipc";
import { appInfoOf, databaseInfo, holdOperation, profileOf, watchReportOf } from "$lib/ipc/mock";
import App from "./App.svelte";

// The close-window question belongs to the whole app, not to one view: with the Backups or the
// Activity tab shown and the wizard that started a job closed, closing the window still asks.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const outcome: BackupOutcome = {
  backupId: 3,
  manifestPath: "/b/shop-2026-11-21-134501.lifeboat.json",
  files: [],
  sizeBytes: 2048,
  durationMs: 800,
  compression: { method: "zstd", level: 3 },
  warnings: [],
};

describe("closing the window from any tab", () => {
  let handlers: ((event: { preventDefault(): void }) => void | Promise<void>)[] = [];

  beforeEach(() => {
    handlers = [];
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles).mockReset().mockResolvedValue([profileOf("Shop")]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([databaseInfo("shop")]);
    vi.mocked(listBackups).mockReset().mockResolvedValue([]);
    vi.mocked(backupEntries).mockReset().mockResolvedValue([]);
    vi.mocked(listActivity).mockReset().mockResolvedValue([]);
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/b");
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([]));
    vi.mocked(closeWindow).mockReset().mockResolvedValue(undefined);
    vi.mocked(onCloseRequested)
      .mockReset()
      .mockImplementation(async (handler) => {
        handlers.push(handler);
        return () => {
          handlers = handlers.filter((h) => h !== handler);
        };
      });
  });

  /** What the window does when its close button is pressed: every listener is asked. */
  function requestClose() {
    const event = { preventDefault: vi.fn() };
    for (const handler of handlers) void handler(event);
    return event;
  }

  it("asks while a backup runs with the Backups tab shown, and closes at once after it ended", async () => {
    render(App);
    await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
    const db = await screen.findByTestId("database-node");
    await fireEvent.click(within(db).getByText("shop"));
    await fireEvent.click(screen.getByTestId("details-backup"));
    const wizard = screen.getByTestId("backup-wizard");
    await waitFor(() =>
      expect((within(wizard).getByTestId("backup-next") as HTMLButtonElement).disabled).toBe(false),
    );
    await fireEvent.click(within(wizard).getByTestId("backup-next"));
    await waitFor(() => expect((within(wizard).getByTestId("backup-folder") as HTMLInputElement).value).toBe("/b"));
    const hold = holdOperation(startBackup);
    await fireEvent.click(within(wizard).getByTestId("backup-start"));
    await waitFor(() => expect(hold.calls).toHaveLength(1));

    // The wizard closes, the job goes on; the main area shows the Backups view.
    await fireEvent.keyDown(wizard, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("backup-wizard")).toBeNull());
    await fireEvent.click(screen.getByTestId("view-backups"));
    expect(screen.getByRole("tabpanel").dataset.view).toBe("backups");
    expect(screen.queryByTestId("activity-view")).toBeNull();
    expect(handlers).toHaveLength(1);

    const asked = requestClose();
    expect(asked.preventDefault).toHaveBeenCalledTimes(1);
    const guard = await screen.findByTestId("close-guard");
    expect(within(guard).getAllByRole("listitem").map((li) => li.textContent)).toHaveLength(1);
    expect(within(guard).getByRole("listitem").textContent).toContain("shop");
    expect(screen.getAllByTestId("close-guard")).toHaveLength(1);
    await fireEvent.click(screen.getByTestId("close-guard-keep"));
    await waitFor(() => expect(screen.queryByTestId("close-guard")).toBeNull());
    expect(closeWindow).not.toHaveBeenCalled();

    // On the Activity tab too, then not at all once the backup has ended.
    await fireEvent.click(screen.getByTestId("view-activity"));
    expect(requestClose().preventDefault).toHaveBeenCalledTimes(1);
    await screen.findByTestId("close-guard");
    await fireEvent.click(screen.getByTestId("close-guard-keep"));
    hold.run.resolve(outcome);
    await waitFor(() => expect(screen.getByTestId("activity-none-running")).toBeTruthy());
    expect(requestClose().preventDefault).not.toHaveBeenCalled();
    expect(screen.queryByTestId("close-guard")).toBeNull();
  });
});
