// What needs attention: the watch's report (every database Lifeboat knows), asked for when the
// app starts, after each background check, and after a backup or a test; components filter it
// per database. The background check's notification problem, if any, shows as a note.

import {
  onAttentionChecked,
  setThresholds,
  watch,
  watchStatus,
  type Attention,
  type DatabaseRef,
  type Readiness,
  type SetThresholds,
  type WatchReport,
  type WatchStatus,
} from "$lib/ipc";
import { Generation } from "$lib/generation";
import { toProblem, type Problem } from "$lib/problem";

/** A database as the watch names it: its server's address and its name. */
export type DatabaseKey = { host: string; port: number; database: string };

export type ReportLoad =
  | { state: "idle" }
  | { state: "loading" }
  | { state: "ready"; report: WatchReport }
  | { state: "failed"; problem: Problem };

/** The limits the watch uses when a database has none of its own (the engine's defaults). */
export const DEFAULT_LIMITS = { maxBackupAgeHours: 48, untestedAfterDays: 7, maxDaysWithoutDrill: 14 };

export function sameDatabase(a: DatabaseRef | DatabaseKey, b: DatabaseKey): boolean {
  return a.host === b.host && a.port === b.port && a.database === b.database;
}

export class Watch {
  load = $state.raw<ReportLoad>({ state: "idle" });
  /** What the last background check said (null before the app answered). */
  status = $state.raw<WatchStatus | null>(null);
  readonly #generation = new Generation();

  get items(): Attention[] {
    return this.load.state === "ready" ? this.load.report.items : [];
  }

  get readiness(): Readiness[] {
    return this.load.state === "ready" ? this.load.report.databases : [];
  }

  itemsFor(key: DatabaseKey): Attention[] {
    return this.items.filter((item) => sameDatabase(item.database, key));
  }

  readinessFor(key: DatabaseKey): Readiness | null {
    return this.readiness.find((r) => sameDatabase(r.database, key)) ?? null;
  }

  /** Asks the engine again; the last answer stays on screen until the new one is there. */
  async refresh(): Promise<void> {
    const current = this.#generation.next();
    if (this.load.state !== "ready") this.load = { state: "loading" };
    try {
      const report = await watch({ database: null });
      if (current()) this.load = { state: "ready", report };
    } catch (error) {
      if (current()) this.load = { state: "failed", problem: toProblem(error) };
    }
  }

  /** Loads the report and the background check's status, and follows later checks. */
  async start(): Promise<() => void> {
    void this.refresh();
    watchStatus().then(
      (status) => (this.status = status),
      () => {},
    );
    return onAttentionChecked((status) => {
      this.status = status;
      void this.refresh();
    }).catch(() => () => {});
  }

  /** Saves a database's own limits (null: the default) and looks again. */
  async setLimits(input: SetThresholds): Promise<void> {
    await setThresholds(input);
    await this.refresh();
  }
}
