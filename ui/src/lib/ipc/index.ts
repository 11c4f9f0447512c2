// The app-facing IPC API. This folder (src/lib/ipc/) is the only place that
// may import `@tauri-apps/*` or `./bindings`; components import `$lib/ipc`.

import { isTauri } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type { AppInfo, BundledTools, ErrorCode, ErrorPayload } from "./bindings";

export type { AppInfo, BundledTools, ErrorCode, ErrorPayload };

type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

/** Codes the front end adds for failures that never reached the Rust side. */
export type UiErrorCode = ErrorCode | "ipc" | "no_backend";

/** An error reported by the Rust side, with a hint the user can act on. */
export class IpcError extends Error {
  readonly code: UiErrorCode;
  readonly hint: string;

  constructor(payload: { code: UiErrorCode; message: string; hint: string }) {
    super(payload.message);
    this.name = "IpcError";
    this.code = payload.code;
    this.hint = payload.hint;
  }
}

function isErrorPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === "string" && typeof v.message === "string" && typeof v.hint === "string";
}

function unwrap<T>(result: Result<T, ErrorPayload>): T {
  if (result.status === "ok") return result.data;
  // Tauri itself may reject with a bare string (e.g. an unknown command);
  // keep the UI contract of always having code, message and hint.
  const error: unknown = result.error;
  if (isErrorPayload(error)) throw new IpcError(error);
  throw new IpcError({
    code: "ipc",
    message: typeof error === "string" ? error : "The Lifeboat backend returned an unexpected error.",
    hint: "Restart Lifeboat. If this keeps happening, please report it.",
  });
}

/** Version, data folder and bundled PostgreSQL tools of this Lifeboat. */
export async function appInfo(): Promise<AppInfo> {
  requireBackend();
  return unwrap(await commands.appInfo());
}

/** Outside the Tauri window (e.g. `npm run dev` in a plain browser) there is no backend. */
function requireBackend(): void {
  if (!isTauri()) {
    throw new IpcError({
      code: "no_backend",
      message: "The Lifeboat backend is not available in this window.",
      hint: "Start Lifeboat with `make run` instead of opening this page in a web browser.",
    });
  }
}
