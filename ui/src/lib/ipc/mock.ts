// For tests only: the one factory behind every `vi.mock("$lib/ipc", …)`, data the tests share,
// and helpers to hold a mocked call open.
//
//   vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

import { vi } from "vitest";
import type { AppInfo, CheckReport, DatabaseInfo, Profile, ProfileSettings, ProgressEvent } from "./bindings";

type Ipc = typeof import("./index");

/**
 * Every command of `$lib/ipc` as a `vi.fn()` the test scripts. Until it does, a command does
 * what it does outside the Tauri window (it fails with `no_backend`); IpcError stays the class.
 */
export async function mockIpc(importOriginal: <T>() => Promise<T>): Promise<Ipc> {
  const actual = await importOriginal<Ipc>();
  const commands = Object.entries(actual).map(([name, value]) =>
    // Commands are camelCase functions; classes (IpcError) start with a capital.
    typeof value === "function" && /^[a-z]/.test(name) ? [name, vi.fn(value)] : [name, value],
  );
  return Object.fromEntries(commands) as Ipc;
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
