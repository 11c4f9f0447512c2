// For tests only: the one factory behind every `vi.mock("$lib/ipc", …)`. The named commands
// become `vi.fn()` for the test to script; everything else (IpcError, the rest) stays real.
//
//   vi.mock("$lib/ipc", async (importOriginal) =>
//     (await import("$lib/ipc/mock")).mockIpc(importOriginal, "listDatabases", "startBackup"),
//   );

import { vi } from "vitest";

type Ipc = typeof import("./index");

/** The functions `$lib/ipc` exports. */
export type Command = { [K in keyof Ipc]: Ipc[K] extends (...args: never[]) => unknown ? K : never }[keyof Ipc];

export async function mockIpc(importOriginal: <T>() => Promise<T>, ...commands: Command[]): Promise<Ipc> {
  const actual = await importOriginal<Ipc>();
  return { ...actual, ...Object.fromEntries(commands.map((name) => [name, vi.fn()])) };
}
