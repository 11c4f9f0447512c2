import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { addSchedule, listSchedules, previewRetention, removeSchedule, showSchedule, testFireSchedule } from "$lib/ipc";
import { scheduleOf } from "$lib/ipc/mock";
import ScheduleEditor from "./ScheduleEditor.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const TIMER = "[Timer]\nOnCalendar=*-*-* 03:15:00\nPersistent=true\n";

function entryOf(schedule = scheduleOf("shop")) {
  return {
    schedule,
    scheduler: "systemd" as const,
    installed: true,
    entries: [{ location: "/home/ada/.config/systemd/user/lifeboat-shop-shop.timer", text: TIMER }],
  };
}

function open() {
  const onchanged = vi.fn();
  render(ScheduleEditor, { profile: "Shop", database: "shop", profiles: ["Shop", "Lab"], onclose: vi.fn(), onchanged });
  return { onchanged };
}

describe("ScheduleEditor", () => {
  beforeEach(() => {
    for (const f of [addSchedule, listSchedules, previewRetention, removeSchedule, showSchedule, testFireSchedule]) {
      vi.mocked(f).mockReset();
    }
  });

  it("saves a new schedule and shows the entry it installed", async () => {
    vi.mocked(listSchedules).mockResolvedValue([]);
    const saved = scheduleOf("shop", { time: "03:15", days: "mon,fri" });
    vi.mocked(addSchedule).mockResolvedValue(saved);
    vi.mocked(showSchedule).mockResolvedValue(entryOf(saved));
    const { onchanged } = open();
    await screen.findByText("No schedules yet.");

    await fireEvent.click(screen.getByTestId("schedule-weekdays"));
    for (const day of ["tue", "wed", "thu"]) {
      await fireEvent.click(screen.getAllByTestId("schedule-day").find((d) => d.dataset.day === day)!);
    }
    await fireEvent.input(screen.getByTestId("schedule-time"), { target: { value: "03:15" } });
    await fireEvent.change(screen.getByTestId("schedule-drill-target"), { target: { value: "Lab" } });
    await fireEvent.input(screen.getByTestId("schedule-copy"), { target: { value: "/media/usb" } });
    vi.mocked(listSchedules).mockResolvedValue([{ ...saved, lastRun: null }]);
    await fireEvent.click(screen.getByTestId("schedule-save"));

    const entry = await screen.findByTestId("schedule-entry");
    expect(addSchedule).toHaveBeenCalledWith({
      profile: "Shop",
      database: "shop",
      days: "mon,fri",
      time: "03:15",
      format: "custom",
      outDir: null,
      drill: "weekly",
      drillTarget: "Lab",
      keep: { last: 7, daily: null, weekly: 4, monthly: null },
      copyTo: "/media/usb",
    });
    expect(removeSchedule).not.toHaveBeenCalled();
    expect(showSchedule).toHaveBeenCalledWith("lifeboat-shop-shop");
    expect(entry.textContent?.replace(/\s+/g, " ")).toContain("Installed as a systemd user timer");
    expect(entry.textContent).toContain("OnCalendar=*-*-* 03:15:00");
    expect(screen.getAllByTestId("schedule-row").map((r) => r.dataset.name)).toEqual(["lifeboat-shop-shop"]);
    expect(onchanged).toHaveBeenCalled();
  });

  it("edits an existing schedule by removing it and adding the new one", async () => {
    const old = scheduleOf("shop");
    vi.mocked(listSchedules).mockResolvedValue([{ ...old, lastRun: null }]);
    vi.mocked(showSchedule).mockResolvedValue(entryOf(old));
    vi.mocked(removeSchedule).mockResolvedValue(old);
    vi.mocked(addSchedule).mockResolvedValue(scheduleOf("shop", { keep: { last: 3, daily: null, weekly: 4, monthly: null } }));
    open();
    await screen.findByTestId("schedule-entry");
    const keep = screen.getByTestId("keep-last") as HTMLInputElement;
    expect(keep.value).toBe("7");
    expect(screen.getByTestId("schedule-save").textContent?.trim()).toBe("Save changes");
    await fireEvent.input(keep, { target: { value: "3" } });
    await fireEvent.click(screen.getByTestId("schedule-save"));
    await waitFor(() => expect(addSchedule).toHaveBeenCalled());
    expect(removeSchedule).toHaveBeenCalledWith("lifeboat-shop-shop");
    expect(vi.mocked(addSchedule).mock.calls[0][0].keep?.last).toBe(3);
  });

  it("previews what retention would delete", async () => {
    vi.mocked(listSchedules).mockResolvedValue([]);
    const backup = {
      id: 4, profile: "Shop", host: "h", port: 5432, database: "shop", format: "custom", status: "finished" as const,
      startedAt: "2026-11-01T02:30:00+01:00", durationMs: 1000, manifestPath: "/b/x.lifeboat.json", sizeBytes: 2048,
      sha256: null, errorCode: null, errorMessage: null, testStatus: "untested", testedAt: null,
    };
    vi.mocked(previewRetention).mockResolvedValue({
      profile: "Shop", host: "h", port: 5432, database: "shop",
      policy: { keepLast: 7, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 }, dryRun: true,
      keep: [], delete: [{ backup, reasons: [] }], freedBytes: 2048, failures: [],
    });
    open();
    await screen.findByText("No schedules yet.");
    await fireEvent.click(screen.getByTestId("retention-preview"));
    const result = await screen.findByTestId("retention-result");
    expect(previewRetention).toHaveBeenCalledWith({
      profile: "Shop", database: "shop", policy: { keepLast: 7, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 }, dryRun: true,
    });
    expect(result.textContent).toContain("delete 1 backup (2");
  });

  it("removes a schedule only after confirmation", async () => {
    const old = scheduleOf("crm");
    vi.mocked(listSchedules).mockResolvedValue([{ ...old, lastRun: null }]);
    vi.mocked(removeSchedule).mockResolvedValue(old);
    open();
    const row = await screen.findByTestId("schedule-row");
    await fireEvent.click(within(row).getByTestId("schedule-remove"));
    expect(removeSchedule).not.toHaveBeenCalled();
    vi.mocked(listSchedules).mockResolvedValue([]);
    await fireEvent.click(within(row).getByTestId("schedule-remove-yes"));
    await screen.findByText("No schedules yet.");
    expect(removeSchedule).toHaveBeenCalledWith("lifeboat-shop-crm");
  });

  it("test-fires a schedule and says what would break, with the way out", async () => {
    vi.mocked(listSchedules).mockResolvedValue([{ ...scheduleOf("shop"), lastRun: null }]);
    vi.mocked(showSchedule).mockResolvedValue(entryOf());
    vi.mocked(testFireSchedule).mockResolvedValue({
      schedule: "lifeboat-shop-shop", scheduler: "systemd", command: ["/usr/bin/lifeboat", "schedule", "run", "lifeboat-shop-shop"],
      environment: [["HOME", "/home/ada"]], exitCode: 1, passed: false, run: null, output: "error: keychain\n",
      problems: [{
        code: "keychain_unavailable", blocking: true,
        message: "The system keychain is not reachable from the scheduler.",
        fix: "Use the server's .pgpass file for this profile.",
      }],
    });
    open();
    const row = await screen.findByTestId("schedule-row");
    await fireEvent.click(within(row).getByTestId("schedule-test-fire"));
    const result = await screen.findByTestId("test-fire-result");
    expect(testFireSchedule).toHaveBeenCalledWith("lifeboat-shop-shop");
    expect(result.dataset.passed).toBe("false");
    expect(result.textContent).toContain("The scheduled run would not work (it ended with exit code 1).");
    const problem = within(result).getByTestId("test-fire-problem");
    expect(problem.textContent).toContain("Stops the run: The system keychain is not reachable from the scheduler.");
    expect(problem.textContent).toContain("What to do: Use the server's .pgpass file for this profile.");
  });
});
