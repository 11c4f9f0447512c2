import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import axe from "axe-core";
import type { Component } from "svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  activityLog,
  appInfo,
  backupDatabaseName,
  defaultBackupFolder,
  listActivity,
  listBackups,
  listDatabases,
  listProfiles,
  listSchedules,
  listSchemas,
  listSmokeChecks,
  previewBackupNames,
  previewRetention,
  saveSmokeChecks,
  startDrill,
  watch,
  type ActivityEntry,
} from "$lib/ipc";
import { appInfoOf, attentionOf, databaseInfo, holdOperation, profileOf, watchReportOf } from "$lib/ipc/mock";
import { Connections, type DatabaseNode } from "$lib/connections/state.svelte";
import App from "./App.svelte";
import ActivityView from "$lib/components/ActivityView.svelte";
import BackupWizard from "$lib/components/BackupWizard.svelte";
import DrillWizard from "$lib/components/DrillWizard.svelte";
import ProfileDialog from "$lib/components/ProfileDialog.svelte";
import RestoreWizard from "$lib/components/RestoreWizard.svelte";
import ScheduleEditor from "$lib/components/ScheduleEditor.svelte";

// Every screen, checked by axe-core: no violation of impact "serious" or "critical". The IPC is
// mocked as in the other tests. jsdom lays nothing out and computes no colors, so the
// `color-contrast` rule (which needs both) is off here; the theme's colors are chosen for 4.5:1
// in app.css instead.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const SEVERE = new Set(["serious", "critical"]);

/** The serious and critical violations axe finds in the document, one line each. */
async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => SEVERE.has(v.impact ?? ""))
    .flatMap((v) => v.nodes.map((n) => `${v.impact} ${v.id}: ${n.target.join(" ")} — ${n.failureSummary ?? v.help}`));
}

async function expectAccessible() {
  expect(await violations()).toEqual([]);
}

const MANIFEST = "/b/shop-2026-11-21-134501.lifeboat.json";

function finished(id: number, outcome: ActivityEntry["outcome"]): ActivityEntry {
  return {
    id,
    kind: id % 2 === 0 ? "backup" : "restore",
    subject: "shop",
    profile: "Shop",
    origin: id % 3 === 0 ? "schedule" : "desktop",
    startedAt: "2026-11-21T14:00:00+00:00",
    endedAt: "2026-11-21T14:00:09+00:00",
    outcome,
    errorCode: outcome === "succeeded" ? null : outcome,
    summary: outcome === "succeeded" ? "1 file, 2 kB: /b/shop.lifeboat.json" : "pg_dump failed: permission denied",
    logLines: 2,
    logDropped: 0,
  };
}

describe("accessibility of every screen", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf({ practiceServerMajor: 18 }));
    vi.mocked(listProfiles).mockReset().mockResolvedValue([]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([databaseInfo("shop"), databaseInfo("crm", null)]);
    vi.mocked(listSchemas).mockReset().mockResolvedValue([{ name: "public", tableCount: 2, sizeBytes: 4096 }]);
    vi.mocked(listBackups).mockReset().mockResolvedValue([]);
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([attentionOf("shop")]));
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/b");
    vi.mocked(previewBackupNames).mockReset().mockResolvedValue({
      stem: "shop-2026-11-21-134501",
      main: "shop-2026-11-21-134501.backup",
      perSchema: null,
      globals: "shop-2026-11-21-134501.globals.sql",
      manifest: "shop-2026-11-21-134501.lifeboat.json",
    });
    vi.mocked(backupDatabaseName).mockReset().mockResolvedValue("shop");
    vi.mocked(listSmokeChecks).mockReset().mockResolvedValue([]);
    vi.mocked(listSchedules).mockReset().mockResolvedValue([]);
    vi.mocked(previewRetention).mockReset();
    vi.mocked(listActivity).mockReset().mockResolvedValue([]);
  });

  it("the welcome page, with no server yet", async () => {
    render(App);
    await screen.findByTestId("welcome");
    await screen.findByText("No servers yet.");
    await expectAccessible();
  });

  it("the server tree with profiles, databases and schemas, and a selected database", async () => {
    vi.mocked(listProfiles).mockResolvedValue([profileOf("Shop"), profileOf("Lab")]);
    render(App);
    await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Expand database shop" }));
    await screen.findByRole("treeitem", { name: "schema public" });
    await fireEvent.click(screen.getByText("shop", { selector: ".name" }));
    await expectAccessible();
  });

  it("the Backup wizard", async () => {
    render(BackupWizard, { profiles: ["Shop"], profile: "Shop", database: "shop", onclose: vi.fn() });
    await screen.findByTestId("backup-wizard");
    await waitFor(() => expect(listDatabases).toHaveBeenCalled());
    await expectAccessible();
  });

  it("the Restore wizard", async () => {
    render(RestoreWizard, { profiles: ["Shop"], profile: "Shop", source: MANIFEST, onclose: vi.fn() });
    await screen.findByTestId("restore-wizard");
    await expectAccessible();
  });

  it("the backup test wizard", async () => {
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await screen.findByTestId("drill-wizard");
    await waitFor(() => expect(appInfo).toHaveBeenCalled());
    await expectAccessible();
  });

  it("the schedule editor", async () => {
    render(ScheduleEditor, { profile: "Shop", database: "shop", profiles: ["Shop"], onclose: vi.fn() });
    await screen.findByTestId("schedule-editor");
    await waitFor(() => expect(listSchedules).toHaveBeenCalled());
    await expectAccessible();
  });

  it("the profile dialog", async () => {
    render(ProfileDialog, { onsaved: vi.fn(), oncancel: vi.fn() });
    await screen.findByTestId("profile-dialog");
    await expectAccessible();
  });

  it("the Activity view with a running job, finished ones and a log", async () => {
    vi.mocked(listActivity).mockResolvedValue([finished(2, "succeeded"), finished(3, "failed"), finished(4, "cancelled")]);
    vi.mocked(activityLog).mockReset().mockResolvedValue(["pg_dump (PostgreSQL 18) started", "pg_dump finished (exit code 0)"]);
    vi.mocked(appInfo).mockResolvedValue(appInfoOf({ practiceServerMajor: 18 }));
    vi.mocked(listSmokeChecks).mockResolvedValue([]);
    vi.mocked(saveSmokeChecks).mockReset().mockImplementation(async (input) => input.checks);
    const store = new Connections();
    // A job whose wizard was closed, as the Activity view shows it.
    const { default: ServerTree } = await import("$lib/components/ServerTree.svelte");
    render(ServerTree, { store });
    render(ActivityView, { store });
    const hold = holdOperation(startDrill);
    store.openDrill(MANIFEST);
    await waitFor(() => expect((screen.getByTestId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("drill-next"));
    await fireEvent.click(await screen.findByTestId("drill-start"));
    await waitFor(() => expect(hold.calls).toHaveLength(1));
    hold.calls[0].emit({ kind: "tool_output", tool: "pg_restore", line: "pg_restore: creating TABLE t" });
    await fireEvent.click(screen.getByTestId("drill-background"));
    await fireEvent.click(await screen.findByTestId("activity-show"));
    const entries = await screen.findAllByTestId("activity-entry");
    await fireEvent.click(entries[0].querySelector("button")!);
    await screen.findByTestId("activity-log");
    await expectAccessible();
  });

  // Screens other parts of the app add, once they exist (the glob finds nothing before). They
  // get the store and a database of its tree; the commands they add are not mocked here, so
  // they show what they show without a backend.
  const extra = import.meta.glob<{ default: Component<{ store: Connections; node: DatabaseNode }> }>([
    "./lib/components/BackupsView.svelte",
    "./lib/components/Dashboard.svelte",
  ]);
  for (const [path, load] of Object.entries(extra)) {
    it(`${path.split("/").pop()}`, async () => {
      const { default: View } = await load();
      vi.mocked(listProfiles).mockResolvedValue([profileOf("Shop")]);
      const store = new Connections();
      await store.load();
      const profile = store.nodes[0];
      await profile.toggle();
      if (profile.databases.state !== "ready") throw new Error("the databases did not load");
      render(View, { store, node: profile.databases.items[0] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expectAccessible();
    });
  }
});
