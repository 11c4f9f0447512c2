import { describe, expect, it } from "vitest";
import { scheduleOf } from "$lib/ipc/mock";
import { describeSchedule, ScheduleDraft } from "./draft.svelte";

describe("ScheduleDraft", () => {
  it("turns the form into the engine's schedule input", () => {
    const draft = new ScheduleDraft("Shop", "shop");
    draft.when = "weekdays";
    draft.toggleDay("fri");
    draft.toggleDay("sun");
    draft.time = " 23:05 ";
    draft.drill = "after";
    draft.drillTarget = "Lab";
    draft.keepLast = "3";
    draft.keepWeekly = "";
    draft.keepMonthly = "6";
    draft.copyTo = "/media/usb ";
    expect(draft.problems).toEqual([]);
    expect(draft.toInput()).toEqual({
      profile: "Shop",
      database: "shop",
      days: "mon,tue,wed,thu,sun",
      time: "23:05",
      format: "custom",
      outDir: null,
      drill: "after",
      drillTarget: "Lab",
      keep: { last: 3, daily: null, weekly: null, monthly: 6 },
      copyTo: "/media/usb",
    });
  });

  it("sends no drill target when nothing is tested", () => {
    const draft = new ScheduleDraft("Shop", "shop");
    draft.drill = "none";
    expect(draft.toInput().drillTarget).toBeNull();
    expect(draft.toInput().days).toBe("daily");
  });

  it("says what keeps it from being saved", () => {
    const draft = new ScheduleDraft("Shop", "shop");
    draft.time = "25:00";
    draft.when = "weekdays";
    draft.days = [];
    draft.keepLast = "0";
    expect(draft.problems).toEqual([
      "Give the time as HH:MM on a 24-hour clock, e.g. 02:30.",
      "Tick at least one weekday.",
      "Numbers of backups to keep are whole numbers from 1 (leave a field empty to skip it).",
    ]);
  });

  it("reads a saved schedule back into the form", () => {
    const draft = ScheduleDraft.of(scheduleOf("shop", { days: "mon,wed", copyTo: "/copy", drill: "none" }));
    expect(draft.when).toBe("weekdays");
    expect(draft.days).toEqual(["mon", "wed"]);
    expect(draft.keepLast).toBe("7");
    expect(draft.keepDaily).toBe("");
    expect(draft.toInput()).toMatchObject({ days: "mon,wed", copyTo: "/copy", drill: "none", drillTarget: null });
  });

  it("asks for a retention preview as a dry run, and none when every backup is kept", () => {
    const draft = new ScheduleDraft("Shop", "shop");
    expect(draft.pruneRequest()).toEqual({
      profile: "Shop",
      database: "shop",
      policy: { keepLast: 7, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 },
      dryRun: true,
    });
    draft.keepLast = "";
    draft.keepWeekly = "";
    expect(draft.pruneRequest()).toBeNull();
  });

  it("describes a schedule in one sentence", () => {
    expect(describeSchedule(scheduleOf("shop"))).toBe(
      "Backs up shop every day at 02:30, tested weekly on the practice server; keeps the last 7, 4 weekly.",
    );
  });
});
