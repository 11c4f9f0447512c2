// What the schedule editor's form holds and the request it turns into. The engine checks the
// schedule again (time, days, folders, profiles); this only keeps the form honest.

import type { DrillPolicy, Keep, PruneRequest, Schedule, ScheduleInput } from "$lib/ipc";

/** Weekdays as the engine spells them, Monday first. */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const WEEKDAY_NAMES: Record<Weekday, string> = {
  mon: "Mon",
  tue: "Tue",
  wed: "Wed",
  thu: "Thu",
  fri: "Fri",
  sat: "Sat",
  sun: "Sun",
};

/** The practice server Lifeboat runs itself, as the engine names a drill target. */
export const PRACTICE = "practice";

export class ScheduleDraft {
  when = $state<"daily" | "weekdays">("daily");
  days = $state<Weekday[]>(["mon", "tue", "wed", "thu", "fri"]);
  time = $state("02:30");
  drill = $state<DrillPolicy>("weekly");
  /** "practice" or a profile name. */
  drillTarget = $state(PRACTICE);
  keepLast = $state("7");
  keepDaily = $state("");
  keepWeekly = $state("4");
  keepMonthly = $state("");
  copyTo = $state("");
  outDir = $state("");

  constructor(
    readonly profile: string,
    readonly database: string,
  ) {}

  /** The form as a saved schedule says. */
  static of(schedule: Schedule): ScheduleDraft {
    const draft = new ScheduleDraft(schedule.profile, schedule.database);
    if (schedule.days === "daily") {
      draft.when = "daily";
    } else {
      draft.when = "weekdays";
      draft.days = WEEKDAYS.filter((d) => schedule.days.split(",").includes(d));
    }
    draft.time = schedule.time;
    draft.drill = schedule.drill;
    draft.drillTarget = schedule.drillTarget;
    const text = (n: number | null) => (n === null ? "" : String(n));
    draft.keepLast = text(schedule.keep.last);
    draft.keepDaily = text(schedule.keep.daily);
    draft.keepWeekly = text(schedule.keep.weekly);
    draft.keepMonthly = text(schedule.keep.monthly);
    draft.copyTo = schedule.copyTo ?? "";
    draft.outDir = schedule.outDir ?? "";
    return draft;
  }

  toggleDay(day: Weekday): void {
    this.days = this.days.includes(day)
      ? this.days.filter((d) => d !== day)
      : WEEKDAYS.filter((d) => d === day || this.days.includes(d));
  }

  /** "daily" or "mon,wed,fri", as the engine reads it. */
  get daysText(): string {
    return this.when === "daily" ? "daily" : this.days.join(",");
  }

  get keep(): Keep {
    return {
      last: count(this.keepLast),
      daily: count(this.keepDaily),
      weekly: count(this.keepWeekly),
      monthly: count(this.keepMonthly),
    };
  }

  /** What is wrong with the form, in plain words; empty when it can be saved. */
  get problems(): string[] {
    const problems: string[] = [];
    if (!/^([01]?\d|2[0-3]):[0-5]\d$/.test(this.time.trim())) {
      problems.push("Give the time as HH:MM on a 24-hour clock, e.g. 02:30.");
    }
    if (this.when === "weekdays" && this.days.length === 0) problems.push("Tick at least one weekday.");
    const keeps = [this.keepLast, this.keepDaily, this.keepWeekly, this.keepMonthly];
    if (keeps.some((k) => k.trim() !== "" && !/^[1-9]\d*$/.test(k.trim()))) {
      problems.push("Numbers of backups to keep are whole numbers from 1 (leave a field empty to skip it).");
    }
    return problems;
  }

  get keepsAll(): boolean {
    const k = this.keep;
    return k.last === null && k.daily === null && k.weekly === null && k.monthly === null;
  }

  toInput(): ScheduleInput {
    return {
      profile: this.profile,
      database: this.database,
      days: this.daysText,
      time: this.time.trim(),
      format: "custom",
      outDir: blankIsNull(this.outDir),
      drill: this.drill,
      drillTarget: this.drill === "none" ? null : this.drillTarget,
      keep: this.keep,
      copyTo: blankIsNull(this.copyTo),
    };
  }

  /** The retention preview's request (a dry run); null when the form keeps every backup. */
  pruneRequest(): PruneRequest | null {
    if (this.keepsAll || this.problems.length > 0) return null;
    const k = this.keep;
    return {
      profile: this.profile,
      database: this.database,
      policy: { keepLast: k.last ?? 0, keepDaily: k.daily ?? 0, keepWeekly: k.weekly ?? 0, keepMonthly: k.monthly ?? 0 },
      dryRun: true,
    };
  }
}

/** A schedule's settings in one sentence. */
export function describeSchedule(s: Schedule): string {
  const when = s.days === "daily" ? `every day at ${s.time}` : `on ${s.days.split(",").join(", ")} at ${s.time}`;
  const where = s.drillTarget === PRACTICE ? "on the practice server" : `on ${s.drillTarget}`;
  const drill =
    s.drill === "after" ? `, tested after each backup ${where}` : s.drill === "weekly" ? `, tested weekly ${where}` : "";
  const keeps = [
    s.keep.last !== null ? `the last ${s.keep.last}` : null,
    s.keep.daily !== null ? `${s.keep.daily} daily` : null,
    s.keep.weekly !== null ? `${s.keep.weekly} weekly` : null,
    s.keep.monthly !== null ? `${s.keep.monthly} monthly` : null,
  ].filter(Boolean);
  const keep = keeps.length ? `; keeps ${keeps.join(", ")}` : "; keeps every backup";
  const copy = s.copyTo ? `; copied to ${s.copyTo}` : "";
  return `Backs up ${s.database} ${when}${drill}${keep}${copy}.`;
}

function count(text: string): number | null {
  const t = text.trim();
  return /^[1-9]\d*$/.test(t) ? Number(t) : null;
}

function blankIsNull(text: string): string | null {
  const t = text.trim();
  return t === "" ? null : t;
}
