// For tests only: the one factory behind every `vi.mock("$lib/ipc", …)` (the named commands
// become `vi.fn()` for the test to script; everything else, IpcError included, stays real), and
// helpers to hold a mocked call open.
//
//   vi.mock("$lib/ipc", async (importOriginal) =>
//     (await import("$lib/ipc/mock")).mockIpc(importOriginal, "listDatabases", "startBackup"),
//   );

import { vi } from "vitest";
import type { AppInfo, CheckReport, DatabaseInfo, Profile, ProfileSettings, ProgressEvent } from "./bindings";

type Ipc = typeof import("./index");

/** The functions `$lib/ipc` exports. */
export type Command = { [K in keyof Ipc]: Ipc[K] extends (...args: never[]) => unknown ? K : never }[keyof Ipc];

export async function mockIpc(importOriginal: <T>() => Promise<T>, ...commands: Command[]): Promise<Ipc> {
  const actual = await importOriginal<Ipc>();
  return { ...actual, ...Object.fromEntries(commands.map((name) => [name, vi.fn()])) };
}

/** A promise with its resolve and reject functions, to hold a call open. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** How a long operation starts (startBackup, startRestore, startDrill). */
type Start<I, T> = (operationId: string, input: I, onEvent: (event: ProgressEvent) => void) => Promise<T>;

/**
 * Holds a mocked long operation open: each call's operation id, input and progress callback,
 * and `run` to end it with an outcome or an error.
 */
export function holdOperation<I, T>(start: Start<I, T>) {
  const run = deferred<T>();
  const calls: { id: string; input: I; emit: (event: ProgressEvent) => void }[] = [];
  vi.mocked(start).mockImplementation((id, input, onEvent) => {
    calls.push({ id, input, emit: onEvent });
    return run.promise;
  });
  return { run, calls };
}

/** What `appInfo` answers: no practice server unless the test says otherwise. */
export function appInfoOf(extra: Partial<AppInfo> = {}): AppInfo {
  return { version: "0.1.0", dataDir: "/d", bundled: [], practiceServerMajor: null, practiceServerProblem: null, ...extra };
}

/** A saved profile on db.example.test. */
export function profileOf(name: string, extra: Partial<ProfileSettings> = {}): Profile {
  return {
    settings: {
      name,
      host: "db.example.test",
      port: 5432,
      user: "admin",
      maintenanceDb: "postgres",
      sslmode: "prefer",
      rootCert: null,
      passwordSource: "keychain",
      ...extra,
    },
  };
}

/** A database of the tree or the Backup wizard's list; `sizeBytes` null: no access. */
export function databaseInfo(name: string, sizeBytes: number | null = 1536): DatabaseInfo {
  return { name, owner: "ada", encoding: "UTF8", sizeBytes, lastBackup: null, lastSuccessfulTest: null, lastTestFailed: false };
}

/** A successful Test connection to PostgreSQL 18. */
export const CHECK_REPORT: CheckReport = {
  serverVersion: "18.6",
  serverVersionNum: 180006,
  user: "admin",
  isSuperuser: false,
  canCreateDb: true,
  ssl: true,
  toolsMajor: 18,
};
