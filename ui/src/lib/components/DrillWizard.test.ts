import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  IpcError,
  appInfo,
  backupDatabaseName,
  listSmokeChecks,
  pickUntestedBackup,
  saveSmokeChecks,
  startDrill,
  type DrillReport,
  type DrillStep,
  type ProgressEvent,
} from "$lib/ipc";
import { appInfoOf } from "$lib/ipc/mock";
import DrillWizard from "./DrillWizard.svelte";
import { toChecks } from "$lib/drill/draft.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const MANIFEST = "/home/ada/backups/shop-2026-11-21-134501.lifeboat.json";
const byId = (id: string) => screen.getByTestId(id);

function step(kind: DrillStep["kind"], status: DrillStep["status"], summary = "ok", checks: DrillStep["checks"] = []): DrillStep {
  return { kind, status, durationMs: 120, summary, checks };
}

function report(passed: boolean): DrillReport {
  return {
    passed,
    failure: passed ? null : "Compare with the backup's baseline: 1 of 9 checks differ",
    source: "/home/ada/backups/shop-2026-11-21-134501.backup",
    manifest: MANIFEST,
    database: "shop",
    backedUpAt: "2026-11-21T13:45:01+00:00",
    startedAt: "2026-11-21T14:00:00+00:00",
    finishedAt: "2026-11-21T14:00:02+00:00",
    durationMs: 2100,
    target: "practice server",
    serverVersion: "18.6",
    scratchDatabase: "shop_drill_20261121_140000",
    kept: false,
    toolVersions: ["pg_restore (PostgreSQL) 18.6"],
    appVersion: "0.1.0",
    steps: [
      step("integrity", "passed"),
      step("restore", "passed"),
      passed
        ? step("compare", "passed", "All 9 checks match.", [{ name: "table sales.orders", passed: true, expected: "3 rows", actual: "3 rows" }])
        : step("compare", "failed", "1 of 9 checks differ", [{ name: "table sales.orders", passed: false, expected: "321 rows", actual: "318 rows" }]),
      step("amcheck", "passed"),
      step("smoke_checks", "passed"),
      step("cleanup", "passed"),
    ],
    // The practice server stood in for the backup's roles; a user's server never does.
    stoodInRoles: passed ? ["app_reader", "app_owner"] : [],
    restoredAs: null,
    certificateHtml: "/home/ada/backups/shop-2026-11-21-134501.drill-20261121-140000.html",
    certificateJson: "/home/ada/backups/shop-2026-11-21-134501.drill-20261121-140000.json",
  };
}

describe("DrillWizard", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf({ practiceServerMajor: 18 }));
    vi.mocked(backupDatabaseName).mockReset().mockResolvedValue("shop");
    vi.mocked(listSmokeChecks).mockReset().mockResolvedValue([
      { label: "customers", sql: "SELECT count(*) FROM sales.customers", expect: { kind: "at_least", value: 1 } },
    ]);
    vi.mocked(saveSmokeChecks).mockReset().mockImplementation(async (input) => input.checks);
    vi.mocked(pickUntestedBackup).mockReset();
    vi.mocked(startDrill).mockReset();
  });

  it("tests on the practice server with the saved and added smoke checks, and shows the certificate", async () => {
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    expect((byId("drill-where-practice") as HTMLInputElement).checked).toBe(true);
    await fireEvent.click(byId("drill-next"));
    await waitFor(() => expect(screen.getAllByTestId("drill-check")).toHaveLength(1));
    expect(listSmokeChecks).toHaveBeenCalledWith({ database: "shop" });
    await fireEvent.click(byId("drill-add-check"));
    const sql = screen.getAllByTestId("drill-check-sql")[1];
    await fireEvent.input(sql, { target: { value: "SELECT 1 FROM sales.orders LIMIT 1" } });

    let emit: (event: ProgressEvent) => void = () => {};
    let finish: (report: DrillReport) => void = () => {};
    vi.mocked(startDrill).mockImplementation((_id, _input, onEvent) => {
      emit = onEvent;
      return new Promise((resolve) => (finish = resolve));
    });
    await fireEvent.click(byId("drill-start"));
    await waitFor(() => expect(startDrill).toHaveBeenCalled());
    const [, input] = vi.mocked(startDrill).mock.calls[0];
    expect(input.target).toEqual({ kind: "practice" });
    expect(input.source).toBe(MANIFEST);
    expect(input.smokeChecks).toEqual([
      { label: "customers", sql: "SELECT count(*) FROM sales.customers", expect: { kind: "at_least", value: 1 } },
      { label: "", sql: "SELECT 1 FROM sales.orders LIMIT 1", expect: { kind: "rows" } },
    ]);
    expect(saveSmokeChecks).toHaveBeenCalledWith({ database: "shop", checks: input.smokeChecks });

    emit({ kind: "stage", index: 2, total: 6, name: "Restore into a scratch database" });
    await waitFor(() => expect(screen.getAllByTestId("drill-stage")[1].className).toContain("now"));
    finish(report(true));
    const result = await screen.findByTestId("drill-result");
    expect(result.getAttribute("data-passed")).toBe("true");
    expect(result.textContent).toContain("Passed");
    expect(byId("drill-certificate").textContent).toContain("drill-20261121-140000.html");
    expect(byId("drill-stood-in").textContent).toContain("Roles stood in for: app_reader, app_owner");
    expect(screen.getAllByTestId("drill-step")).toHaveLength(6);
  });

  it("shows a failed drill with the differing check, and a chosen server", async () => {
    render(DrillWizard, { profiles: ["Shop", "Lab"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("drill-where-profile"));
    await fireEvent.change(byId("drill-profile"), { target: { value: "Lab" } });
    await fireEvent.click(byId("drill-next"));
    vi.mocked(startDrill).mockResolvedValue(report(false));
    await fireEvent.click(byId("drill-start"));
    const result = await screen.findByTestId("drill-result");
    expect(vi.mocked(startDrill).mock.calls[0][1].target).toEqual({ kind: "profile", name: "Lab" });
    expect(result.getAttribute("data-passed")).toBe("false");
    expect(result.textContent).toContain("Failed: Compare");
    const compare = screen.getAllByTestId("drill-step").find((s) => s.getAttribute("data-kind") === "compare")!;
    expect(compare.getAttribute("data-status")).toBe("failed");
    expect(compare.textContent).toContain("table sales.orders: expected 321 rows, found 318 rows");
    expect(screen.queryByTestId("drill-stood-in")).toBeNull();
  });

  it("shows a data-only backup as not testable, not as a failed test", async () => {
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("drill-next"));
    vi.mocked(startDrill).mockRejectedValue(
      new IpcError({
        code: "drill_needs_definitions",
        message: "The backup shop.backup holds only data, no table definitions (a data-only backup).",
        hint: "Test a whole or schema-including backup of the same database.",
      }),
    );
    await fireEvent.click(byId("drill-start"));
    const box = await screen.findByTestId("drill-error");
    expect(box.getAttribute("data-code")).toBe("drill_needs_definitions");
    expect(box.textContent).toContain("holds only data");
    expect(box.textContent).toContain("Test a whole or schema-including backup");
    expect(byId("drill-not-testable").textContent).toContain("nothing was recorded");
    expect(screen.queryByTestId("drill-result")).toBeNull();
  });

  it("offers to allow plain http when the test refuses it, runs again with it, and forgets it on Back", async () => {
    const URL = "http://backups.lan/shop/";
    render(DrillWizard, { profiles: ["Shop"], source: URL, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("drill-next"));
    const warning = `${URL} is downloaded over plain http, which is not encrypted.`;
    vi.mocked(startDrill).mockImplementation(async (_id, input, onEvent) => {
      if (!input.allowHttp) {
        throw new IpcError({
          code: "plain_http_refused",
          message: `${URL} uses plain http, which is not encrypted, so Lifeboat did not download from it.`,
          hint: "Use an https:// address, or, on a network you trust, allow plain http for this source.",
        });
      }
      onEvent({ kind: "warning", message: warning });
      onEvent({ kind: "warning", message: warning });
      return report(true);
    });
    await fireEvent.click(byId("drill-start"));
    const box = await screen.findByTestId("drill-error");
    expect(box.getAttribute("data-code")).toBe("plain_http_refused");
    expect(byId("drill-allow-http-note").textContent).toContain("not encrypted");
    await fireEvent.click(byId("drill-allow-http"));
    const result = await screen.findByTestId("drill-result");
    expect(result.getAttribute("data-passed")).toBe("true");
    expect(vi.mocked(startDrill).mock.calls.map((c) => c[1].allowHttp)).toEqual([false, true]);
    // The warning, once.
    expect(byId("drill-warnings").textContent).toContain("not encrypted");
    expect(screen.getByTestId("drill-warnings").querySelectorAll("li")).toHaveLength(1);

    await fireEvent.click(byId("drill-back"));
    await fireEvent.click(byId("drill-start"));
    await screen.findByTestId("drill-error");
    expect(vi.mocked(startDrill).mock.calls.at(-1)?.[1].allowHttp).toBe(false);
    expect(byId("drill-allow-http")).toBeTruthy();
  });

  it("offers no plain http button for other failed tests", async () => {
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("drill-next"));
    vi.mocked(startDrill).mockRejectedValue(new IpcError({ code: "download_failed", message: "failed", hint: "again" }));
    await fireEvent.click(byId("drill-start"));
    await screen.findByTestId("drill-error");
    expect(screen.queryByTestId("drill-allow-http")).toBeNull();
  });

  it("picks an untested backup, and says when there is none", async () => {
    render(DrillWizard, { profiles: ["Shop"], onclose: vi.fn() });
    vi.mocked(pickUntestedBackup).mockResolvedValueOnce({
      id: 7,
      profile: "Shop",
      host: "h",
      port: 5432,
      database: "lab",
      format: "custom",
      status: "finished",
      startedAt: "2026-11-20T10:00:00+00:00",
      durationMs: 100,
      manifestPath: "/b/lab-2026-11-20-100000.lifeboat.json",
      sizeBytes: 10,
      sha256: null,
      errorCode: null,
      errorMessage: null,
      testStatus: "untested",
      testedAt: null,
    });
    await fireEvent.click(byId("drill-pick"));
    await waitFor(() => expect((byId("drill-source") as HTMLInputElement).value).toBe("/b/lab-2026-11-20-100000.lifeboat.json"));
    expect(byId("drill-note").textContent).toContain("untested backup of lab");
    vi.mocked(pickUntestedBackup).mockResolvedValueOnce(null);
    await fireEvent.click(byId("drill-pick"));
    await waitFor(() => expect(byId("drill-note").textContent).toContain("Every backup in the catalog has been tested"));
  });

  it("offers only servers when there is no practice server", async () => {
    vi.mocked(appInfo).mockResolvedValue(appInfoOf());
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-where-profile") as HTMLInputElement).checked).toBe(true));
    expect((byId("drill-where-practice") as HTMLInputElement).disabled).toBe(true);
    expect(screen.getByText(/has no practice server/)).toBeTruthy();
  });

  it("says why the practice server cannot run when Lifeboat runs as root", async () => {
    vi.mocked(appInfo).mockResolvedValue(appInfoOf({ practiceServerMajor: 18, practiceServerProblem: "The practice server cannot run while Lifeboat runs as root. Start Lifeboat as your normal user." }));
    render(DrillWizard, { profiles: ["Shop"], source: MANIFEST, onclose: vi.fn() });
    await waitFor(() => expect((byId("drill-where-profile") as HTMLInputElement).checked).toBe(true));
    expect((byId("drill-where-practice") as HTMLInputElement).disabled).toBe(true);
    expect(byId("drill-practice-problem").textContent).toContain("runs as root");
  });
});

describe("drill helpers", () => {
  it("turns editor rows into checks, refusing a value that is not a whole number", () => {
    expect(toChecks([{ label: "", sql: " ", kind: "rows", value: "" }])).toEqual([]);
    expect(toChecks([{ label: "n", sql: "SELECT 1", kind: "at_least", value: "x" }])).toBe('"n" needs a whole number.');
    expect(toChecks([{ label: "", sql: "SELECT 'a'", kind: "equals", value: "a" }])).toEqual([
      { label: "", sql: "SELECT 'a'", expect: { kind: "equals", value: "a" } },
    ]);
  });
});
