import { IpcError, type UiErrorCode } from "$lib/ipc";

/** A failure the UI shows: what happened and what to do next. Never raw JSON. */
export type Problem = { code: UiErrorCode | "unexpected"; message: string; hint: string };

/** Turns anything thrown by an IPC call into a Problem. */
export function toProblem(error: unknown): Problem {
  if (error instanceof IpcError) return { code: error.code, message: error.message, hint: error.hint };
  return {
    code: "unexpected",
    message: error instanceof Error ? error.message : "Something went wrong.",
    hint: "Try again. If this keeps happening, restart Lifeboat and report it.",
  };
}

/** A failure as one line for a note under a field: what happened, then what to do. */
export function problemSentence(error: unknown): string {
  const problem = toProblem(error);
  return `${problem.message} ${problem.hint}`;
}
