// For tests only: the one factory behind every `vi.mock("$lib/ipc", …)`, data the tests share,
// and helpers to hold a mocked call open.
//
//   vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

import { vi } from "vitest";
import type {
  AppInfo,
  Attention,
  CheckReport,
  CompressionChoices,
  CompressionMethod,
  DatabaseInfo,
  Profile,
  ProfileSettings,
  ProgressEvent,
  Schedule,
  WatchReport,
} from "./bindings";

type Ipc = typeof import("./index");

/**
 * Every command of `$lib/ipc` as a `vi.fn()` the test scripts. Until it does, a command does
 * what it does outside the Tauri window (it fails with `no_backend`); IpcError stays the class.
 */
export async function mockIpc(importOriginal: <T>() => Promise<T>): Promise<Ipc> {
  const actual = await importOriginal<Ipc>();
  const commands = Object.entries(actual).map(([name, value]) =>
    // Commands are camelCase functions; classes (IpcError) start with a capital.
    typeof value === "function" && /^[a-z]/.test(name)
      ? [name, vi.fn(value as (...args: unknown[]) => unknown)]
      : [name, value],
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

/**
 * What `compressionChoices` answers for a server backed up with pg_dump `major`, as the engine
 * says it (format/compression.rs is the rule; this is a copy for tests only).
 */
export function compressionChoicesOf(major: number): CompressionChoices {
  const levels = {
    zstd: { min: 1, max: 22, default: 4 },
    gzip: { min: 1, max: 9, default: 6 },
    lz4: { min: 1, max: 12, default: 1 },
    none: null,
  } as const;
  const method = (m: CompressionMethod) => ({ method: m, levels: levels[m], note: `${m} note` });
  const compressed: CompressionMethod[] = major >= 16 ? ["zstd", "gzip", "lz4", "none"] : ["gzip", "none"];
  const why =
    major >= 16
      ? `zstd: about as small as gzip and several times faster; chosen because this server's pg_dump (${major}) supports it.`
      : `gzip: the only compression pg_dump ${major} has (this server's version); zstd and lz4 need PostgreSQL 16 or newer.`;
  const none = { method: "none" as const, level: null };
  return {
    serverVersion: `${major}.1`,
    pgDumpMajor: major,
    formats: [
      ...(["custom", "directory"] as const).map((format) => ({
        format,
        methods: compressed.map(method),
        default: { method: compressed[0], level: null },
        why,
      })),
      { format: "tar", methods: [method("none")], default: none, why: "none: pg_dump cannot compress the tar format." },
      { format: "plain", methods: [method("none")], default: none, why: "none: the file stays SQL." },
    ],
  };
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

/** A "needs attention" item about database `database` on db.example.test:5432 (profile Shop). */
export function attentionOf(database: string, extra: Partial<Attention> = {}): Attention {
  return {
    severity: "warning",
    code: "untested_backup",
    database: { profile: "Shop", host: "db.example.test", port: 5432, database },
    title: `${database} needs a test`,
    message: `The newest backup of ${database} has never been tested.`,
    action: {
      kind: "test_backup",
      label: "Test this backup",
      manifestPath: `/b/${database}-2026-11-20-100000.lifeboat.json`,
      schedule: null,
    },
    key: `untested:${database}`,
    ...extra,
  };
}

/** A watch report with `items` and a readiness line for each database they name. */
export function watchReportOf(items: Attention[], lines: Record<string, string> = {}): WatchReport {
  const names = [...new Set([...items.map((i) => i.database.database), ...Object.keys(lines)])];
  return {
    checkedAt: "2026-11-21T10:00:00+01:00",
    items,
    databases: names.map((database) => ({
      database: { profile: "Shop", host: "db.example.test", port: 5432, database },
      line: lines[database] ?? `No backup of ${database} has passed a test yet.`,
      testedBackupAt: null,
      restoreMs: null,
    })),
  };
}

/** A saved schedule of `database` on profile Shop. */
export function scheduleOf(database: string, extra: Partial<Schedule> = {}): Schedule {
  return {
    name: `lifeboat-shop-${database}`,
    profile: "Shop",
    database,
    days: "daily",
    time: "02:30",
    format: "custom",
    outDir: null,
    drill: "weekly",
    drillTarget: "practice",
    keep: { last: 7, daily: null, weekly: 4, monthly: null },
    copyTo: null,
    createdAt: "2026-11-20T10:00:00+01:00",
    ...extra,
  };
}
