// One run of a long operation (backup, restore, drill) as a wizard shows it: its operation id,
// the clock, the progress the engine reports, warnings, the programs' output, and cancelling.
// The wizards render these fields; starting and cancelling happen here. A run belongs to no
// component: it goes on to its end when its wizard closes, and WizardShell lists it in the app's
// Activity (`onstart`), where its progress stays visible.

import type { ProgressEvent } from "$lib/ipc";
import { requestCancel } from "$lib/operations";
import { toProblem, type Problem } from "$lib/problem";

export type RunState<T> =
  | { state: "running"; cancelling: boolean }
  | { state: "finished"; outcome: T }
  | { state: "failed"; problem: Problem };

/** Starts the operation with its id; progress events go to `onEvent`. */
export type Launch<T> = (operationId: string, onEvent: (event: ProgressEvent) => void) => Promise<T>;

/** The program output kept: enough to see what went wrong, bounded for a long run. */
export const LOG_LINES = 300;

export class OperationRun<T> {
  /** Null before the first start and after `reset`. */
  state = $state.raw<RunState<T> | null>(null);
  operationId = "";
  /** The stage the operation is in (1-based; drills have stages), 0 before the first. */
  stage = $state(0);
  done = $state(0);
  total = $state(0);
  current = $state("");
  /** Bytes written by each program run so far (pg_dump per file, then pg_dumpall). */
  toolBytes = $state<number[]>([]);
  /** The database's size before compression, when the engine measured it. */
  estimate = $state<number | null>(null);
  warnings = $state<string[]>([]);
  log = $state<string[]>([]);
  elapsedMs = $state(0);

  /** Told each time a run starts (WizardShell lists the run in the app's Activity). */
  onstart: (() => void) | null = null;

  #startedAt = 0;
  #clock: ReturnType<typeof setInterval> | undefined;
  #ended: Promise<void> = Promise.resolve();

  readonly running = $derived(this.state?.state === "running");
  readonly bytesWritten = $derived(this.toolBytes.reduce((sum, n) => sum + n, 0));
  readonly percent = $derived(this.total > 0 ? Math.min(100, Math.round((this.done / this.total) * 100)) : 0);

  /**
   * Runs the operation to its end. `finished` gets the outcome in the same update that shows it
   * (e.g. to add the outcome's warnings), so the wizard never shows one without the other.
   */
  async start(launch: Launch<T>, finished?: (outcome: T) => void): Promise<void> {
    if (this.running) return;
    const ended = this.#run(launch, finished);
    this.#ended = ended;
    this.onstart?.();
    await ended;
  }

  /** Settles when the current run has ended (at once when none runs); never rejects. */
  get ended(): Promise<void> {
    return this.#ended;
  }

  async #run(launch: Launch<T>, finished?: (outcome: T) => void): Promise<void> {
    this.operationId = crypto.randomUUID();
    this.stage = 0;
    this.done = 0;
    this.total = 0;
    this.current = "";
    this.toolBytes = [];
    this.estimate = null;
    this.warnings = [];
    this.log = [];
    this.#startedAt = Date.now();
    this.elapsedMs = 0;
    this.state = { state: "running", cancelling: false };
    this.#clock = setInterval(() => (this.elapsedMs = Date.now() - this.#startedAt), 1000);
    try {
      const outcome = await launch(this.operationId, (event) => this.onEvent(event));
      this.state = { state: "finished", outcome };
      finished?.(outcome);
    } catch (error) {
      this.state = { state: "failed", problem: toProblem(error) };
    } finally {
      this.stopClock();
    }
  }

  /** Asks the engine to stop; retried briefly in case the operation has not registered yet. */
  async cancel(): Promise<void> {
    if (this.state?.state !== "running" || this.state.cancelling) return;
    this.state = { state: "running", cancelling: true };
    const mine = this.operationId;
    await requestCancel(mine, () => this.running && this.operationId === mine);
  }

  /** Forgets the last run (the wizard went back to change its choices). */
  reset(): void {
    if (!this.running) this.state = null;
  }

  /** Adds warnings the outcome repeats or adds to those reported while it ran, once each. */
  addWarnings(more: string[]): void {
    this.warnings = Array.from(new Set([...this.warnings, ...more]));
  }

  /** Stops the elapsed-time clock (the run ended). */
  stopClock(): void {
    clearInterval(this.#clock);
    this.#clock = undefined;
  }

  onEvent(event: ProgressEvent): void {
    switch (event.kind) {
      case "stage":
        this.stage = event.index;
        this.done = 0;
        this.total = 0;
        break;
      case "step":
        this.done = event.done;
        this.total = event.total;
        this.current = event.current;
        break;
      case "tool_started":
        this.toolBytes = [...this.toolBytes, 0];
        this.#addLog(`${event.tool} (PostgreSQL ${event.major}) started`);
        break;
      case "bytes_written":
        this.toolBytes =
          this.toolBytes.length === 0 ? [event.bytes] : [...this.toolBytes.slice(0, -1), event.bytes];
        break;
      case "tool_output":
        this.#addLog(event.line);
        break;
      case "warning":
        this.warnings = [...this.warnings, event.message];
        break;
      case "size_estimate":
        this.estimate = event.bytes;
        break;
      case "tool_finished":
        this.#addLog(`${event.tool} finished${event.exit_code === null ? "" : ` (exit code ${event.exit_code})`}`);
        break;
    }
  }

  #addLog(line: string): void {
    this.log = this.log.length >= LOG_LINES ? [...this.log.slice(1 - LOG_LINES), line] : [...this.log, line];
  }
}
