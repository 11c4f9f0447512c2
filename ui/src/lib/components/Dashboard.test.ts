import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  databaseOverview,
  IpcError,
  openCertificate,
  recoverPlan,
  watch,
  type BackupRecord,
  type DrillRecord,
  type Overview,
} from "$lib/ipc";
import { databaseInfo, profileOf, scheduleOf, watchReportOf } from "$lib/ipc/mock";
import { Connections, DatabaseNode, ProfileNode } from "$lib/connections/state.svelte";
import Dashboard from "./Dashboard.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const MANIFEST = "/b/shop-2026-11-21-134501.lifeboat.json";

function backup(id: number, extra: Partial<BackupRecord> = {}): BackupRecord {
  return {
    id,
    profile: "Shop",
    host: "db.example.test",
    port: 5432,
    database: "shop",
    format: "custom",
    status: "finished",
    startedAt: "2026-11-21T13:45:01+01:00",
    durationMs: 1200,
    manifestPath: MANIFEST,
    sizeBytes: 24 * 1024,
    sha256: null,
    errorCode: null,
    errorMessage: null,
    testStatus: "tested-ok",
    testedAt: "2026-11-21T14:00:00+01:00",
    ...extra,
  };
}

const TEST: DrillRecord = {
  id: 7,
  startedAt: "2026-11-21T14:00:00+01:00",
  passed: true,
  durationMs: 9000,
  summary: "every check passed",
  target: "practice server",
  manifestPath: MANIFEST,
  certificateJson: "/b/shop-2026-11-21-134501.drill-20261121-140000.json",
  certificateHtml: "/b/shop-2026-11-21-134501.drill-20261121-140000.html",
};

function overviewOf(extra: Partial<Overview> = {}): Overview {
  return {
    profile: "Shop",
    host: "db.example.test",
    port: 5432,
    database: "shop",
    live: databaseInfo("shop", 3 * 1024 * 1024),
    onServer: true,
    serverProblem: null,
    lastBackup: backup(3),
    lastAttempt: null,
    lastTest: TEST,
    lastTestBackupId: 3,
    backupsKept: 2,
    keptBytes: 48 * 1024,
    recoverable: true,
    schedules: [{ ...scheduleOf("shop"), lastRun: null }],
    attention: [],
    readiness: null,
    ...extra,
  };
}

function setup() {
  const store = new Connections();
  const profile = new ProfileNode(profileOf("Shop"));
  const node = new DatabaseNode(profile, { ...databaseInfo("shop", 1536), lastBackup: "2026-11-21T13:45:01+01:00" });
  render(Dashboard, { node, store });
  return { store, node };
}

describe("Dashboard", () => {
  beforeEach(() => {
    vi.mocked(databaseOverview).mockReset();
    vi.mocked(openCertificate).mockReset();
    vi.mocked(recoverPlan).mockReset().mockReturnValue(new Promise(() => {}));
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([]));
  });

  it("shows the size now, the last backup and test with its certificate, and the schedule", async () => {
    vi.mocked(databaseOverview).mockResolvedValue(overviewOf());
    vi.mocked(openCertificate).mockResolvedValue();
    setup();
    const details = screen.getByTestId("database-details");
    await waitFor(() => expect(details.dataset.overview).toBe("ready"));
    expect(databaseOverview).toHaveBeenCalledWith({ profile: "Shop", database: "shop" });
    expect(screen.getByTestId("dashboard-size").textContent).toBe("3 MB");
    expect(screen.getByTestId("dashboard-last-backup").textContent).toContain("#3");
    expect(screen.getByTestId("dashboard-last-backup").textContent).toContain("test passed");
    const test = screen.getByTestId("dashboard-last-test");
    expect(test.dataset.passed).toBe("true");
    expect(test.textContent).toContain("the practice server: every check passed");
    expect(screen.getByTestId("dashboard-certificate-path").textContent).toContain(TEST.certificateHtml);
    await fireEvent.click(screen.getByTestId("dashboard-open-certificate"));
    expect(openCertificate).toHaveBeenCalledWith(7);
    expect(screen.getByTestId("dashboard-schedule").textContent).toContain("daily at 02:30, tested weekly; not run yet");
    expect(screen.getByTestId("dashboard-kept").textContent).toContain("2 backups, 48 kB");
  });

  it("says when the database is gone from the server, and keeps the tree's facts when the server cannot be asked", async () => {
    vi.mocked(databaseOverview).mockResolvedValueOnce(overviewOf({ live: null, onServer: false }));
    setup();
    await waitFor(() => expect(screen.getByTestId("dashboard-size").textContent).toBe("not on the server any more"));
  });

  it("shows the tree's size and the problem when the server is unreachable", async () => {
    vi.mocked(databaseOverview).mockResolvedValue(
      overviewOf({
        live: null,
        onServer: null,
        serverProblem: { code: "connection_refused", message: "The server refused the connection.", hint: "Start it." },
      }),
    );
    setup();
    await screen.findByTestId("dashboard-server-problem");
    expect(screen.getByTestId("dashboard-size").textContent).toBe("1.5 kB");
    expect(screen.getByTestId("dashboard-server-problem").textContent).toContain("The server refused the connection.");
  });

  it("opens the three wizards and Recover for this database", async () => {
    vi.mocked(databaseOverview).mockResolvedValue(overviewOf());
    const { store } = setup();
    await waitFor(() => expect(screen.getByTestId("database-details").dataset.overview).toBe("ready"));
    await fireEvent.click(screen.getByTestId("details-backup"));
    expect(store.dialog).toEqual({ kind: "backup", profile: "Shop", database: "shop" });
    await fireEvent.click(screen.getByTestId("dashboard-restore"));
    expect(store.dialog).toEqual({ kind: "restore", profile: "Shop", source: MANIFEST });
    await fireEvent.click(screen.getByTestId("dashboard-test"));
    expect(store.dialog).toEqual({ kind: "drill", source: MANIFEST });

    await fireEvent.click(screen.getByTestId("dashboard-recover"));
    const wizard = await screen.findByTestId("recover-wizard");
    expect(recoverPlan).toHaveBeenCalledWith({ profile: "Shop", database: "shop" });
    expect(within(wizard).getByTestId("recover-plan").dataset.state).toBe("loading");
  });

  it("shows an error of the overview with a way to try again", async () => {
    vi.mocked(databaseOverview)
      .mockRejectedValueOnce(new IpcError({ code: "store", message: "The catalog is locked.", hint: "Try again." }))
      .mockResolvedValueOnce(overviewOf());
    setup();
    const error = await screen.findByTestId("dashboard-error");
    await fireEvent.click(within(error).getByText("Try again"));
    await waitFor(() => expect(screen.queryByTestId("dashboard-error")).toBeNull());
    expect(databaseOverview).toHaveBeenCalledTimes(2);
  });
});
