// placeholder — regenerated from Rust
// This file is overwritten by tauri-specta when the Rust side exports its
// bindings. Hand-written for now in the same shape so the app compiles.
// Do not import it from components: use `$lib/ipc` instead.

import { invoke as TAURI_INVOKE } from "@tauri-apps/api/core";

export const commands = {
  async appInfo(): Promise<Result<AppInfo, ErrorPayload>> {
    try {
      return { status: "ok", data: await TAURI_INVOKE("app_info") };
    } catch (e) {
      if (e instanceof Error) throw e;
      else return { status: "error", error: e as any };
    }
  },
};

export type AppInfo = {
  version: string;
  dataDir: string;
  bundled: BundledMajor[];
  practiceServerMajor: number | null;
};
export type BundledMajor = { major: number; version: string; hasServer: boolean };
export type ErrorPayload = { code: string; message: string; hint: string };
export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };
