import { describe, expect, it, vi } from "vitest";
import { cancelOperation, IpcError, type ProgressEvent } from "$lib/ipc";
import { LOG_LINES, OperationRun } from "./run.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

/** A launch held open: its id, its event callback, and how to end it. */
function held<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const seen: { id: string; emit: (event: ProgressEvent) => void }[] = [];
  const launch = (id: string, emit: (event: ProgressEvent) => void) => {
    seen.push({ id, emit });
    return new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
  };
  return { launch, seen, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e) };
}

describe("OperationRun", () => {
  it("runs with a fresh operation id and ends with the outcome, in the same update as `finished`", async () => {
    const run = new OperationRun<string>();
    const op = held<string>();
    let seenState: string | undefined;
    const done = run.start(op.launch, () => (seenState = run.state?.state));
    expect(run.running).toBe(true);
    expect(op.seen[0].id).toBe(run.operationId);
    expect(run.operationId).not.toBe("");
    op.resolve("ok");
    await done;
    expect(run.state).toEqual({ state: "finished", outcome: "ok" });
    expect(seenState).toBe("finished");
  });

  it("turns a rejection into a problem, and reset forgets it", async () => {
    const run = new OperationRun<string>();
    const op = held<string>();
    const done = run.start(op.launch);
    op.reject(new IpcError({ code: "tool_failed", message: "pg_dump failed.", hint: "See the output." }));
    await done;
    expect(run.state).toEqual({
      state: "failed",
      problem: { code: "tool_failed", message: "pg_dump failed.", hint: "See the output." },
    });
    run.reset();
    expect(run.state).toBeNull();
  });

  it("counts progress, bytes per program, the estimate, warnings and the log", () => {
    const run = new OperationRun<string>();
    const op = held<string>();
    void run.start(op.launch);
    const emit = op.seen[0].emit;
    emit({ kind: "size_estimate", bytes: 1000 });
    emit({ kind: "tool_started", tool: "pg_dump", major: 18 });
    emit({ kind: "bytes_written", tool: "pg_dump", bytes: 300 });
    emit({ kind: "tool_started", tool: "pg_dumpall", major: 18 });
    emit({ kind: "bytes_written", tool: "pg_dumpall", bytes: 20 });
    emit({ kind: "step", done: 1, total: 4, current: "public.users" });
    emit({ kind: "warning", message: "Low disk." });
    emit({ kind: "tool_finished", tool: "pg_dumpall", exit_code: 0 });
    expect(run.bytesWritten).toBe(320);
    expect(run.estimate).toBe(1000);
    expect([run.done, run.total, run.current, run.percent]).toEqual([1, 4, "public.users", 25]);
    expect(run.warnings).toEqual(["Low disk."]);
    expect(run.log).toEqual([
      "pg_dump (PostgreSQL 18) started",
      "pg_dumpall (PostgreSQL 18) started",
      "pg_dumpall finished (exit code 0)",
    ]);
    run.addWarnings(["Low disk.", "No manifest."]);
    expect(run.warnings).toEqual(["Low disk.", "No manifest."]);
    run.stopClock();
  });

  it("starts each stage's count afresh, and keeps only the newest log lines", () => {
    const run = new OperationRun<string>();
    const op = held<string>();
    void run.start(op.launch);
    const emit = op.seen[0].emit;
    emit({ kind: "step", done: 3, total: 9, current: "" });
    emit({ kind: "stage", index: 2, total: 6, name: "restore" });
    expect([run.stage, run.done, run.total]).toEqual([2, 0, 0]);
    for (let i = 0; i < LOG_LINES + 5; i++) emit({ kind: "tool_output", tool: "pg_restore", line: `line ${i}` });
    expect(run.log).toHaveLength(LOG_LINES);
    expect(run.log[LOG_LINES - 1]).toBe(`line ${LOG_LINES + 4}`);
    run.stopClock();
  });

  it("cancels once, by operation id, and a second start waits for the first to end", async () => {
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
    const run = new OperationRun<string>();
    const op = held<string>();
    void run.start(op.launch);
    const second = held<string>();
    await run.start(second.launch);
    expect(second.seen).toHaveLength(0);
    await run.cancel();
    await run.cancel();
    expect(run.state).toEqual({ state: "running", cancelling: true });
    expect(cancelOperation).toHaveBeenCalledTimes(1);
    expect(cancelOperation).toHaveBeenCalledWith(run.operationId);
    run.stopClock();
  });
});
