// The app-facing IPC API. This folder (src/lib/ipc/) is the only place that
// may import `@tauri-apps/*` or `./bindings`; components import `$lib/ipc`.

import { Channel, isTauri } from "@tauri-apps/api/core";
import { getCurrentWindow } from "@tauri-apps/api/window";
import { commands, events } from "./bindings";
import type {
  ActivityEntry,
  ActivityLogRequest,
  ListActivity,
  AddProfile,
  AppInfo,
  BackupFormat,
  BackupNames,
  BackupOutcome,
  BackupRecord,
  CheckProfile,
  CheckReport,
  CheckSettings,
  CompressionChoices,
  CompressionChoicesInput,
  DatabaseInfo,
  DrillReport,
  DrillRequest,
  ErrorCode,
  ErrorPayload,
  ListBackups,
  ListDatabases,
  ListSchemas,
  ListSmokeChecks,
  ListTables,
  PickUntested,
  PracticeDatabase,
  Attention,
  Profile,
  PruneReport,
  PruneRequest,
  Schedule,
  ScheduleEntry,
  ScheduleInput,
  ScheduleSummary,
  SetThresholds,
  TestFireReport,
  WatchReport,
  WatchRequest,
  WatchStatus,
  ProgressEvent,
  RemoveProfile,
  RestoreOutcome,
  RestorePlan,
  RestoreRequest,
  SaveSmokeChecks,
  SchemaInfo,
  ServerBackupOutcome,
  SmokeCheck,
  StartBackup,
  StartServerBackup,
  TableInfo,
  UpdateProfile,
} from "./bindings";

// Every generated type, for components (they never import ./bindings themselves).
export type * from "./bindings";

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

/**
 * The "Copy diagnostic info" report, plain text: versions, system, tools, profiles (never their
 * passwords), backups, schedules and the last problems in the log.
 */
export async function diagnostics(): Promise<string> {
  requireBackend();
  return unwrap(await commands.diagnostics()).text;
}

/**
 * Sets the practice database up (a server Lifeboat runs on this computer, its profile and the
 * sample database), or finds it, and starts its server.
 */
export async function createPracticeDatabase(): Promise<PracticeDatabase> {
  requireBackend();
  return unwrap(await commands.createPracticeDatabase());
}

/** The saved connection profiles, sorted by name. */
export async function listProfiles(): Promise<Profile[]> {
  requireBackend();
  return unwrap(await commands.listProfiles());
}

/** Saves a new profile; its password (if any) goes to the system keychain. */
export async function addProfile(input: AddProfile): Promise<Profile> {
  requireBackend();
  return unwrap(await commands.addProfile(input));
}

/** Changes a profile (`input.name` is its current name) and, if asked, its stored password. */
export async function updateProfile(input: UpdateProfile): Promise<Profile> {
  requireBackend();
  return unwrap(await commands.updateProfile(input));
}

/** Deletes a profile and its stored password. Nothing on the server changes. */
export async function removeProfile(input: RemoveProfile): Promise<void> {
  requireBackend();
  unwrap(await commands.removeProfile(input));
}

/** Connects with a saved profile and reports the server version and the user's rights. */
export async function checkProfile(input: CheckProfile): Promise<CheckReport> {
  requireBackend();
  return unwrap(await commands.checkProfile(input));
}

/** Connects with settings still being edited, before they are saved. */
export async function checkSettings(input: CheckSettings): Promise<CheckReport> {
  requireBackend();
  return unwrap(await commands.checkSettings(input));
}

/** The databases of a profile's server. */
export async function listDatabases(input: ListDatabases): Promise<DatabaseInfo[]> {
  requireBackend();
  return unwrap(await commands.listDatabases(input));
}

/** The schemas of one database. */
export async function listSchemas(input: ListSchemas): Promise<SchemaInfo[]> {
  requireBackend();
  return unwrap(await commands.listSchemas(input));
}

/** The tables of one schema. */
export async function listTables(input: ListTables): Promise<TableInfo[]> {
  requireBackend();
  return unwrap(await commands.listTables(input));
}

/**
 * Runs a backup. Progress events arrive through `onEvent` while it runs; the promise settles
 * with the outcome, or rejects with an IpcError (code `cancelled` after `cancelOperation`).
 */
export async function startBackup(
  operationId: string,
  input: StartBackup,
  onEvent: (event: ProgressEvent) => void,
): Promise<BackupOutcome> {
  requireBackend();
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onEvent;
  return unwrap(await commands.startBackup(operationId, input, channel));
}

/**
 * Backs up every database of a profile's server: a `stage` event per database, then that
 * backup's own events. Settles with the per-database outcome (also when some failed).
 */
export async function startServerBackup(
  operationId: string,
  input: StartServerBackup,
  onEvent: (event: ProgressEvent) => void,
): Promise<ServerBackupOutcome> {
  requireBackend();
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onEvent;
  return unwrap(await commands.startServerBackup(operationId, input, channel));
}

/** Asks a running operation to stop; false when no operation has that id (any more). */
export async function cancelOperation(operationId: string): Promise<boolean> {
  requireBackend();
  return unwrap(await commands.cancelOperation(operationId));
}

/** The finished jobs (backups, restores, drills), newest first. */
export async function listActivity(input: ListActivity): Promise<ActivityEntry[]> {
  requireBackend();
  return unwrap(await commands.listActivity(input));
}

/** The last lines a finished job's programs wrote, oldest first. */
export async function activityLog(input: ActivityLogRequest): Promise<string[]> {
  requireBackend();
  return unwrap(await commands.activityLog(input));
}

/**
 * Calls `handler` when the user asks to close the window. Once this listens, the window closes
 * only when the handler returns without calling `preventDefault()` (or through `closeWindow`).
 * Outside the Tauri window it never calls.
 */
export async function onCloseRequested(
  handler: (event: { preventDefault(): void }) => void | Promise<void>,
): Promise<() => void> {
  if (!isTauri()) return () => {};
  return getCurrentWindow().onCloseRequested(handler);
}

/** Closes the window (and so Lifeboat) without asking again. */
export async function closeWindow(): Promise<void> {
  requireBackend();
  await getCurrentWindow().destroy();
}

/** The newest backups from the catalog, optionally of one database only. */
export async function listBackups(input: ListBackups): Promise<BackupRecord[]> {
  requireBackend();
  return unwrap(await commands.listBackups(input));
}

/** The folder the Backup wizard proposes (created if missing). */
export async function defaultBackupFolder(): Promise<string> {
  requireBackend();
  return unwrap(await commands.defaultBackupFolder());
}

/** The names a backup started now would get (computed by the same Rust code the backup uses). */
export async function previewBackupNames(
  database: string,
  format: BackupFormat,
  schema: string | null,
): Promise<BackupNames> {
  requireBackend();
  return unwrap(await commands.previewBackupNames(database, format, schema));
}

/** What compression each backup format allows with the pg_dump of the profile's server, the default and why. */
export async function compressionChoices(input: CompressionChoicesInput): Promise<CompressionChoices> {
  requireBackend();
  return unwrap(await commands.compressionChoices(input));
}

/** The database a backup's file name says it holds (the engine's reading of Lifeboat's names). */
export async function backupDatabaseName(path: string): Promise<string> {
  requireBackend();
  return unwrap(await commands.backupDatabaseName(path));
}

/** What a restore of `input` would do, with its findings; changes nothing on the server. */
export async function preflightRestore(input: RestoreRequest): Promise<RestorePlan> {
  requireBackend();
  return unwrap(await commands.preflightRestore(input));
}

/**
 * Runs a restore. Progress events arrive through `onEvent` while it runs; the promise settles
 * with the outcome, or rejects with an IpcError (code `cancelled` after `cancelOperation`).
 */
export async function startRestore(
  operationId: string,
  input: RestoreRequest,
  onEvent: (event: ProgressEvent) => void,
): Promise<RestoreOutcome> {
  requireBackend();
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onEvent;
  return unwrap(await commands.startRestore(operationId, input, channel));
}

/**
 * Runs a restore drill (backup test). Step and restore progress arrive through `onEvent`; the
 * promise settles with the report (passed or failed), or rejects with an IpcError when the drill
 * could not run (code `cancelled` after `cancelOperation`).
 */
export async function startDrill(
  operationId: string,
  input: DrillRequest,
  onEvent: (event: ProgressEvent) => void,
): Promise<DrillReport> {
  requireBackend();
  const channel = new Channel<ProgressEvent>();
  channel.onmessage = onEvent;
  return unwrap(await commands.startDrill(operationId, input, channel));
}

/** A finished backup never tested, chosen at random; null when there is none. */
export async function pickUntestedBackup(input: PickUntested): Promise<BackupRecord | null> {
  requireBackend();
  return unwrap(await commands.pickUntestedBackup(input));
}

/** The smoke checks saved for a database name. */
export async function listSmokeChecks(input: ListSmokeChecks): Promise<SmokeCheck[]> {
  requireBackend();
  return unwrap(await commands.listSmokeChecks(input));
}

/** Replaces the smoke checks saved for a database name; returns them as saved. */
export async function saveSmokeChecks(input: SaveSmokeChecks): Promise<SmokeCheck[]> {
  requireBackend();
  return unwrap(await commands.saveSmokeChecks(input));
}

/** What needs attention (per database, most severe first) and each database's readiness line. */
export async function watch(input: WatchRequest): Promise<WatchReport> {
  requireBackend();
  return unwrap(await commands.watch(input));
}

/** What the app's background check found last (it runs at start and every hour). */
export async function watchStatus(): Promise<WatchStatus> {
  requireBackend();
  return unwrap(await commands.watchStatus());
}

/** A database's own limits for the watch; every limit null goes back to the defaults. */
export async function setThresholds(input: SetThresholds): Promise<void> {
  requireBackend();
  unwrap(await commands.setThresholds(input));
}

/** Every schedule with its latest run. */
export async function listSchedules(): Promise<ScheduleSummary[]> {
  requireBackend();
  return unwrap(await commands.listSchedules());
}

/** A schedule and its entry in the system's scheduler, verbatim. */
export async function showSchedule(name: string): Promise<ScheduleEntry> {
  requireBackend();
  return unwrap(await commands.showSchedule(name));
}

/** Adds a schedule and installs it in the system's scheduler. */
export async function addSchedule(input: ScheduleInput): Promise<Schedule> {
  requireBackend();
  return unwrap(await commands.addSchedule(input));
}

/** Removes a schedule and its scheduler entry. */
export async function removeSchedule(name: string): Promise<Schedule> {
  requireBackend();
  return unwrap(await commands.removeSchedule(name));
}

/** Runs the schedule now as the scheduler would (a real run) and reports what breaks there. */
export async function testFireSchedule(name: string): Promise<TestFireReport> {
  requireBackend();
  return unwrap(await commands.testFireSchedule(name));
}

/** What a retention policy would delete now; nothing is deleted. */
export async function previewRetention(input: PruneRequest): Promise<PruneReport> {
  requireBackend();
  return unwrap(await commands.previewRetention(input));
}

/**
 * Calls `handler` with the item whose notification the user clicked (the window is already in
 * front). Returns the function that stops listening; outside the Tauri window it never calls.
 */
export async function onOpenFix(handler: (item: Attention) => void): Promise<() => void> {
  if (!isTauri()) return () => {};
  return events.openFix.listen((event) => handler(event.payload.item));
}

/** Calls `handler` after each background check (at start and every hour). */
export async function onAttentionChecked(handler: (status: WatchStatus) => void): Promise<() => void> {
  if (!isTauri()) return () => {};
  return events.attentionChecked.listen((event) => handler(event.payload.status));
}

/** The system's file picker for a backup file; null when the user closes it without choosing.
 * Opened by the Rust side, which remembers the choice: the backup, restore and drill commands
 * accept a path chosen here wherever it is, and a typed one only in the usual places. */
export async function pickFile(defaultPath?: string): Promise<string | null> {
  requireBackend();
  try {
    return unwrap(await commands.pickPath({ directory: false, defaultPath: defaultPath ?? null }));
  } catch (error) {
    if (error instanceof IpcError) throw error;
    throw new IpcError({
      code: "ipc",
      message: typeof error === "string" ? error : "The file picker could not be opened.",
      hint: "Type the backup's path into the field instead.",
    });
  }
}

/** The system's folder picker; null when the user closes it without choosing. */
export async function pickFolder(defaultPath?: string): Promise<string | null> {
  requireBackend();
  try {
    return unwrap(await commands.pickPath({ directory: true, defaultPath: defaultPath ?? null }));
  } catch (error) {
    if (error instanceof IpcError) throw error;
    throw new IpcError({
      code: "ipc",
      message: typeof error === "string" ? error : "The folder picker could not be opened.",
      hint: "Type the folder's path into the field instead.",
    });
  }
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

// The dashboard, Recover and the backups view.

import type {
  BackupEntry,
  BackupsQuery,
  DeleteBackup,
  DeletedBackup,
  Overview,
  OverviewRequest,
  RecoverPlan,
  RecoverRequest,
  SwapRequest,
  Swapped,
} from "./bindings";

/** One database's dashboard: catalog, schedules, what needs attention, and its live size. */
export async function databaseOverview(input: OverviewRequest): Promise<Overview> {
  requireBackend();
  return unwrap(await commands.databaseOverview(input));
}

/** Every backup of the catalog, with the state of its files and its newest test. */
export async function backupEntries(input: BackupsQuery): Promise<BackupEntry[]> {
  requireBackend();
  return unwrap(await commands.backupEntries(input));
}

/** Which tested backup Recover would restore, and what would be lost (changes nothing). */
export async function recoverPlan(input: RecoverRequest): Promise<RecoverPlan> {
  requireBackend();
  return unwrap(await commands.recoverPlan(input));
}

/** The restored copy takes the live database's name; the live one is kept under another. */
export async function swapRestored(input: SwapRequest): Promise<Swapped> {
  requireBackend();
  return unwrap(await commands.swapRestored(input));
}

/** Deletes a backup's files; the catalog keeps its row, marked deleted. */
export async function deleteBackup(input: DeleteBackup): Promise<DeletedBackup> {
  requireBackend();
  return unwrap(await commands.deleteBackup(input));
}

/** Shows a catalog backup in the system's file manager. */
export async function revealBackup(backupId: number): Promise<void> {
  requireBackend();
  unwrap(await commands.revealBackup(backupId));
}

/** Opens a test's certificate in the browser. */
export async function openCertificate(drillId: number): Promise<void> {
  requireBackend();
  unwrap(await commands.openCertificate(drillId));
}
