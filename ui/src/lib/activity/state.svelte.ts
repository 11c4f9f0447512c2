// The app's jobs: the runs of this window (backups, restores, drills) while they go on, whether
// or not their wizard is still open, and the finished jobs the engine recorded, with their logs.
// It also guards the window: closing it while a job runs asks first.

import { getContext, setContext } from "svelte";
import {
  activityLog,
  closeWindow,
  listActivity,
  onCloseRequested,
  type ActivityEntry,
  type ActivityKind,
} from "$lib/ipc";
import { Generation } from "$lib/generation";
import { toProblem, type Problem } from "$lib/problem";
import type { OperationRun } from "$lib/wizard/run.svelte";

/** One level of data: not asked for yet, on its way, there, or failed. */
export type Loaded<T> =
  | { state: "idle" }
  | { state: "loading" }
  | { state: "ready"; value: T }
  | { state: "failed"; problem: Problem };

/** A run of this window, listed from its start to its end. */
export class LiveJob {
  /** The wizard that started it was closed; the job goes on here. */
  detached = $state(false);
  readonly startedAt = new Date();

  constructor(
    /** The wizard's name: "backup", "restore", "drill", … */
    readonly kind: string,
    /** What the wizard called it, e.g. "Back up “shop”". */
    readonly title: string,
    readonly run: OperationRun<unknown>,
  ) {}
}

/** What the close-window question is doing. */
export type Closing = "idle" | "asking" | "stopping";

/** How many finished jobs the view asks for. */
export const PAST_LIMIT = 200;

export class Activity {
  /** Runs of this window that have not ended, newest first. */
  live = $state.raw<LiveJob[]>([]);
  /** The finished jobs the engine recorded, newest first. */
  past = $state.raw<Loaded<ActivityEntry[]>>({ state: "idle" });
  /** The logs of finished jobs asked for, by job id. */
  logs = $state.raw<Record<number, Loaded<string[]>>>({});
  /** The last job that ended with its wizard closed: said once in the Activity view. */
  announcement = $state("");
  closing = $state<Closing>("idle");

  readonly running = $derived(this.live.filter((job) => job.run.running));
  readonly #generation = new Generation();

  /** Lists a run that just started; it leaves the list when it ends. */
  track(run: OperationRun<unknown>, kind: string, title: string): LiveJob {
    const job = new LiveJob(kind, title, run);
    // A wizard that runs again (e.g. "Keep what they need") reuses its run object.
    this.live = [job, ...this.live.filter((j) => j.run !== run)];
    void run.ended.then(() => this.#ended(job));
    return job;
  }

  /** The run's wizard is closing while the run goes on. */
  detach(run: OperationRun<unknown>): void {
    for (const job of this.live) if (job.run === run) job.detached = true;
  }

  #ended(job: LiveJob): void {
    if (!this.live.includes(job)) return;
    this.live = this.live.filter((j) => j !== job);
    if (job.detached) this.announcement = `${job.title}: ${endText(job.run)}`;
    if (this.past.state !== "idle") void this.refresh();
  }

  /** Reloads the finished jobs; what was shown stays until the new list is there. */
  async refresh(): Promise<void> {
    const current = this.#generation.next();
    if (this.past.state !== "ready") this.past = { state: "loading" };
    try {
      const value = await listActivity({ limit: PAST_LIMIT });
      if (current()) this.past = { state: "ready", value };
    } catch (error) {
      if (current()) this.past = { state: "failed", problem: toProblem(error) };
    }
  }

  /** Loads a finished job's log (once; again after a failure). */
  async loadLog(id: number): Promise<void> {
    const known = this.logs[id];
    if (known && (known.state === "ready" || known.state === "loading")) return;
    this.logs = { ...this.logs, [id]: { state: "loading" } };
    try {
      const value = await activityLog({ id });
      this.logs = { ...this.logs, [id]: { state: "ready", value } };
    } catch (error) {
      this.logs = { ...this.logs, [id]: { state: "failed", problem: toProblem(error) } };
    }
  }

  /**
   * Asks before the window closes while a job runs. Returns the function that stops asking;
   * outside the Tauri window it does nothing.
   */
  guardWindow(): () => void {
    let stop: (() => void) | null = null;
    let gone = false;
    onCloseRequested((event) => this.closeRequested(event)).then(
      (unlisten) => {
        if (gone) unlisten();
        else stop = unlisten;
      },
      () => {},
    );
    return () => {
      gone = true;
      stop?.();
    };
  }

  /** The user asked to close the window: it closes at once unless a job runs. */
  closeRequested(event: { preventDefault(): void }): void {
    if (this.running.length === 0) return;
    event.preventDefault();
    this.closing = "asking";
  }

  /** "Keep Lifeboat open". */
  keepOpen(): void {
    this.closing = "idle";
  }

  /** "Stop and close": cancels every running job, waits for each to clean up, then closes. */
  async stopAndClose(): Promise<void> {
    this.closing = "stopping";
    const runs = this.running.map((job) => job.run);
    await Promise.all(runs.map((run) => run.cancel()));
    await Promise.all(runs.map((run) => run.ended));
    await this.closeNow();
  }

  /** Closes without waiting any longer (a job that does not stop is killed with the app). */
  async closeNow(): Promise<void> {
    try {
      await closeWindow();
    } catch {
      this.closing = "idle";
    }
  }
}

/** How a run ended, in a few words. */
export function endText(run: OperationRun<unknown>): string {
  const state = run.state;
  if (state?.state === "finished") return "finished";
  if (state?.state === "failed") return state.problem.code === "cancelled" ? "cancelled" : `failed — ${state.problem.message}`;
  return "running";
}

/** What each kind of job is called in a list. */
export const KIND_LABEL: Record<ActivityKind, string> = {
  backup: "Backup",
  server_backup: "Server backup",
  restore: "Restore",
  drill: "Backup test",
  swap: "Recover swap",
};

/** The label of a live job's kind (a wizard name), or of a recorded one. */
export function kindLabel(kind: string): string {
  return (KIND_LABEL as Record<string, string>)[kind] ?? kind.charAt(0).toUpperCase() + kind.slice(1);
}

const KEY = Symbol("activity");

/** Makes `activity` the one the components below list their runs in (WizardShell). */
export function provideActivity(activity: Activity): void {
  setContext(KEY, activity);
}

/** The Activity runs are listed in, when a component above provided one. */
export function useActivity(): Activity | undefined {
  return getContext<Activity | undefined>(KEY);
}
