import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  IpcError,
  activityLog,
  appInfo,
  backupDatabaseName,
  cancelOperation,
  closeWindow,
  listActivity,
  listProfiles,
  listSmokeChecks,
  onCloseRequested,
  saveSmokeChecks,
  startDrill,
  type ActivityEntry,
  type DrillReport,
} from "$lib/ipc";
import { appInfoOf, deferred, holdOperation } from "$lib/ipc/mock";
import { Connections } from "$lib/connections/state.svelte";
import { Activity } from "$lib/activity/state.svelte";
import { OperationRun } from "$lib/wizard/run.svelte";
import ServerTree from "$lib/components/ServerTree.svelte";
import ActivityView from "$lib/components/ActivityView.svelte";
import CloseGuard from "$lib/components/CloseGuard.svelte";

// Jobs outlive their wizards: a backup test closed while it runs goes on in the Activity view,
// which shows its progress and its end; closing the window while a job runs asks first.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const MANIFEST = "/home/ada/backups/shop-2026-11-21-134501.lifeboat.json";
const byId = (id: string) => screen.getByTestId(id);

function report(): DrillReport {
  return {
    passed: true,
    failure: null,
    source: MANIFEST,
    manifest: MANIFEST,
    database: "shop",
    backedUpAt: "2026-11-21T13:45:01+00:00",
    startedAt: "2026-11-21T14:00:00+00:00",
    finishedAt: "2026-11-21T14:00:02+00:00",
    durationMs: 2100,
    target: "practice server",
    serverVersion: "18.6",
    scratchDatabase: null,
    kept: false,
    toolVersions: [],
    appVersion: "0.1.0",
    steps: [],
    stoodInRoles: [],
    restoredAs: null,
    certificateHtml: null,
    certificateJson: null,
  };
}

function entry(extra: Partial<ActivityEntry> = {}): ActivityEntry {
  return {
    id: 41,
    kind: "drill",
    subject: MANIFEST,
    profile: null,
    origin: "desktop",
    startedAt: "2026-11-21T14:00:00+00:00",
    endedAt: "2026-11-21T14:00:02+00:00",
    outcome: "succeeded",
    errorCode: null,
    summary: "Passed on practice server: the backup of shop restores and matches what was backed up",
    logLines: 2,
    logDropped: 0,
    ...extra,
  };
}

/** The app's tree (where the wizards open) and the Activity view, on one store. */
async function renderApp() {
  const store = new Connections();
  render(ServerTree, { store });
  render(ActivityView, { store });
  await screen.findByTestId("activity-none-finished");
  return store;
}

/** Opens the backup test for MANIFEST and starts it; returns the held operation. */
async function startTest(store: Connections) {
  const hold = holdOperation(startDrill);
  store.openDrill(MANIFEST);
  await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
  await fireEvent.click(byId("drill-next"));
  await fireEvent.click(await screen.findByTestId("drill-start"));
  await waitFor(() => expect(hold.calls).toHaveLength(1));
  return hold;
}

describe("jobs in the Activity view", () => {
  beforeEach(() => {
    vi.mocked(listProfiles).mockReset().mockResolvedValue([]);
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf({ practiceServerMajor: 18 }));
    vi.mocked(backupDatabaseName).mockReset().mockResolvedValue("shop");
    vi.mocked(listSmokeChecks).mockReset().mockResolvedValue([]);
    vi.mocked(saveSmokeChecks).mockReset().mockImplementation(async (input) => input.checks);
    vi.mocked(listActivity).mockReset().mockResolvedValue([]);
    vi.mocked(activityLog).mockReset();
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
    vi.mocked(startDrill).mockReset();
  });

  it("keeps a test running when its wizard closes, shows its progress and finishes it there", async () => {
    const store = await renderApp();
    const hold = await startTest(store);
    const [{ emit }] = hold.calls;

    const running = await screen.findByTestId("activity-running-job");
    expect(running.getAttribute("data-kind")).toBe("drill");
    expect(byId("drill-background-note").textContent).toContain("leaves it running in Activity");

    // Escape closes the wizard although its run goes on.
    await fireEvent.keyDown(byId("drill-wizard"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("drill-wizard")).toBeNull());
    expect(store.dialog).toBeNull();

    emit({ kind: "stage", index: 2, total: 6, name: "restore" });
    emit({ kind: "step", done: 3, total: 4, current: "sales.orders" });
    emit({ kind: "tool_output", tool: "pg_restore", line: "pg_restore: creating TABLE sales.orders" });
    await waitFor(() => expect(byId("activity-progress").textContent).toContain("3 of 4 (75%)"));
    await fireEvent.click(byId("activity-show"));
    const details = byId("activity-live-details");
    expect(details.textContent).toContain("pg_restore: creating TABLE sales.orders");
    expect(details.textContent).toContain("sales.orders");

    // It ends while no wizard shows it: the Activity view says so and lists the recorded job.
    vi.mocked(listActivity).mockResolvedValue([entry()]);
    hold.run.resolve(report());
    await waitFor(() => expect(screen.queryByTestId("activity-running-job")).toBeNull());
    expect(byId("activity-none-running")).toBeTruthy();
    await waitFor(() => expect(byId("activity-announcement").textContent).toContain("finished"));
    const recorded = await screen.findByTestId("activity-entry");
    expect(recorded.getAttribute("data-outcome")).toBe("succeeded");
    expect(within(recorded).getByTestId("activity-summary").textContent).toContain("Passed on practice server");
    // The wizard's own follow-up still ran: backup lists reload after a test.
    expect(store.backupsRevision).toBe(1);

    vi.mocked(activityLog).mockResolvedValue(["pg_restore (PostgreSQL 18) started", "pg_restore finished (exit code 0)"]);
    await fireEvent.click(within(recorded).getByTestId("activity-show-log"));
    expect((await screen.findByTestId("activity-log")).textContent).toContain("pg_restore finished (exit code 0)");
    expect(activityLog).toHaveBeenCalledWith({ id: 41 });
  });

  it("cancels a job from the Activity view after its wizard was closed", async () => {
    const store = await renderApp();
    const hold = await startTest(store);
    await fireEvent.click(byId("drill-background"));
    await waitFor(() => expect(screen.queryByTestId("drill-wizard")).toBeNull());

    await fireEvent.click(await screen.findByTestId("activity-cancel"));
    await waitFor(() => expect(cancelOperation).toHaveBeenCalledWith(hold.calls[0].id));
    expect(byId("activity-progress").textContent).toContain("Cancelling…");
    vi.mocked(listActivity).mockResolvedValue([entry({ outcome: "cancelled", errorCode: "cancelled", summary: "The operation was cancelled." })]);
    hold.run.reject(new IpcError({ code: "cancelled", message: "The operation was cancelled.", hint: "" }));
    await waitFor(() => expect(byId("activity-announcement").textContent).toContain("cancelled"));
    expect((await screen.findByTestId("activity-entry")).getAttribute("data-outcome")).toBe("cancelled");
  });

  it("shows why the finished jobs could not be read, and reads them again", async () => {
    vi.mocked(listActivity).mockReset().mockRejectedValueOnce(
      new IpcError({ code: "store", message: "The store could not be read.", hint: "Restart Lifeboat." }),
    );
    const store = new Connections();
    render(ActivityView, { store });
    const box = await screen.findByTestId("activity-error");
    expect(box.textContent).toContain("The store could not be read.");
    vi.mocked(listActivity).mockResolvedValue([entry()]);
    await fireEvent.click(within(box).getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("activity-entry")).toBeTruthy();
  });

  it("says where each finished job was started: the window, the command line or a schedule", async () => {
    vi.mocked(listActivity).mockResolvedValue([
      entry({ id: 3, kind: "server_backup", subject: "all databases", profile: "Shop", origin: "schedule" }),
      entry({ id: 2, kind: "backup", subject: "shop", profile: "Shop", origin: "cli" }),
      entry({ id: 1, origin: "desktop" }),
      entry({ id: 0, kind: "swap", subject: "shop with shop_restored", origin: null }),
    ]);
    render(ActivityView, { store: new Connections() });
    await waitFor(() => expect(screen.getAllByTestId("activity-entry")).toHaveLength(4));
    const rows = screen.getAllByTestId("activity-entry");
    const origin = (row: HTMLElement) => within(row).queryByTestId("activity-origin")?.textContent ?? null;
    expect(rows.map(origin)).toEqual(["scheduled", "from the command line", "from the window", null]);
    expect(rows[0].textContent).toContain("Server backup");
    expect(rows[0].textContent).toContain("all databases on Shop");
    expect(rows[3].textContent).toContain("Recover swap");
  });
});

describe("closing the window while jobs run", () => {
  /** Registers the guard and returns the close-requested handler it gave the window. */
  async function guarded(activity: Activity) {
    const unlisten = vi.fn();
    let handler: ((event: { preventDefault(): void }) => void | Promise<void>) | null = null;
    vi.mocked(onCloseRequested).mockReset().mockImplementation(async (h) => {
      handler = h;
      return unlisten;
    });
    const stop = activity.guardWindow();
    await waitFor(() => expect(handler).not.toBeNull());
    return { request: () => {
      const event = { preventDefault: vi.fn() };
      void handler!(event);
      return event;
    }, stop, unlisten };
  }

  beforeEach(() => {
    vi.mocked(closeWindow).mockReset().mockResolvedValue(undefined);
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
  });

  it("closes at once when nothing runs, and asks while a job runs", async () => {
    const activity = new Activity();
    const { request, stop, unlisten } = await guarded(activity);
    expect(request().preventDefault).not.toHaveBeenCalled();
    expect(activity.closing).toBe("idle");

    const run = new OperationRun<string>();
    const held = deferred<string>();
    run.onstart = () => activity.track(run, "backup", "Back up “shop”");
    void run.start(() => held.promise);
    expect(activity.running).toHaveLength(1);

    expect(request().preventDefault).toHaveBeenCalledTimes(1);
    expect(activity.closing).toBe("asking");
    activity.keepOpen();
    expect(activity.closing).toBe("idle");
    expect(closeWindow).not.toHaveBeenCalled();
    expect(cancelOperation).not.toHaveBeenCalled();

    // Once the job has ended the window closes without asking.
    held.resolve("done");
    await run.ended;
    expect(activity.running).toHaveLength(0);
    expect(request().preventDefault).not.toHaveBeenCalled();

    stop();
    expect(unlisten).toHaveBeenCalledTimes(1);
  });

  it("stops every running job and closes once they have ended", async () => {
    const activity = new Activity();
    const { request } = await guarded(activity);
    const runs = [new OperationRun<string>(), new OperationRun<string>()];
    const helds = runs.map(() => deferred<string>());
    runs.forEach((run, i) => {
      run.onstart = () => activity.track(run, "backup", `Back up db${i}`);
      void run.start(() => helds[i].promise);
    });
    request();

    render(CloseGuard, { activity });
    expect(within(byId("close-guard-jobs")).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "Backup: Back up db1",
      "Backup: Back up db0",
    ]);
    await fireEvent.click(byId("close-guard-stop"));
    await waitFor(() => expect(cancelOperation).toHaveBeenCalledTimes(2));
    expect(byId("close-guard-stopping")).toBeTruthy();
    helds[0].reject(new IpcError({ code: "cancelled", message: "The operation was cancelled.", hint: "" }));
    await runs[0].ended;
    expect(closeWindow).not.toHaveBeenCalled();
    helds[1].reject(new IpcError({ code: "cancelled", message: "The operation was cancelled.", hint: "" }));
    await waitFor(() => expect(closeWindow).toHaveBeenCalledTimes(1));
  });

  it("keeps Lifeboat open when asked to, with Escape or the button", async () => {
    const activity = new Activity();
    const { request } = await guarded(activity);
    const run = new OperationRun<string>();
    run.onstart = () => activity.track(run, "restore", "Restore a backup");
    void run.start(() => deferred<string>().promise);
    request();
    render(CloseGuard, { activity });
    expect(document.activeElement).toBe(byId("close-guard-keep"));
    await fireEvent.keyDown(byId("close-guard"), { key: "Escape" });
    expect(activity.closing).toBe("idle");
    await waitFor(() => expect(screen.queryByTestId("close-guard")).toBeNull());
    request();
    await fireEvent.click(await screen.findByTestId("close-guard-keep"));
    expect(activity.closing).toBe("idle");
    expect(closeWindow).not.toHaveBeenCalled();
    expect(cancelOperation).not.toHaveBeenCalled();
  });
});
