import { beforeEach, describe, expect, it, vi } from "vitest";
import { isTauri } from "@tauri-apps/api/core";
import { commands, events } from "./bindings";
import * as ipc from "./index";
import { appInfo, cancelOperation, IpcError, pickFolder, startBackup, type ProgressEvent, type StartBackup } from "./index";

vi.mock("@tauri-apps/api/core", () => ({
  isTauri: vi.fn(),
  invoke: vi.fn(),
  // Enough of Tauri's Channel for the wrapper: an object with an onmessage callback.
  Channel: class {
    onmessage: (message: unknown) => void = () => {};
  },
}));
vi.mock("./bindings", () => ({
  commands: {
    appInfo: vi.fn(),
    listProfiles: vi.fn(),
    addProfile: vi.fn(),
    updateProfile: vi.fn(),
    removeProfile: vi.fn(),
    checkProfile: vi.fn(),
    checkSettings: vi.fn(),
    listDatabases: vi.fn(),
    listSchemas: vi.fn(),
    listTables: vi.fn(),
    startBackup: vi.fn(),
    cancelOperation: vi.fn(),
    listBackups: vi.fn(),
    defaultBackupFolder: vi.fn(),
    watch: vi.fn(),
    watchStatus: vi.fn(),
    setThresholds: vi.fn(),
    listSchedules: vi.fn(),
    showSchedule: vi.fn(),
    addSchedule: vi.fn(),
    removeSchedule: vi.fn(),
    testFireSchedule: vi.fn(),
    previewRetention: vi.fn(),
    pickPath: vi.fn(),
  },
  events: {
    openFix: { listen: vi.fn() },
    attentionChecked: { listen: vi.fn() },
  },
}));

const mockedIsTauri = vi.mocked(isTauri);
const mockedCommand = vi.mocked(commands.appInfo);

describe("appInfo", () => {
  beforeEach(() => {
    mockedIsTauri.mockReset().mockReturnValue(true);
    mockedCommand.mockReset();
  });

  it("returns the data of an ok result", async () => {
    const data = { version: "0.1.0", dataDir: "/d", bundled: [], practiceServerMajor: null, practiceServerProblem: null };
    mockedCommand.mockResolvedValue({ status: "ok", data });
    await expect(appInfo()).resolves.toEqual(data);
  });

  it("throws IpcError with code, message and hint on an error result", async () => {
    mockedCommand.mockResolvedValue({
      status: "error",
      error: { code: "io", message: "Disk full.", hint: "Free some space." },
    });
    const err = await appInfo().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "io", message: "Disk full.", hint: "Free some space." });
  });

  it("wraps a bare string rejection from Tauri in an IpcError", async () => {
    mockedCommand.mockResolvedValue({
      status: "error",
      error: "command app_info not found" as never,
    });
    const err = await appInfo().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "ipc", message: "command app_info not found" });
    expect((err as IpcError).hint).not.toBe("");
  });

  it("fails with a clear IpcError outside the Tauri window", async () => {
    mockedIsTauri.mockReturnValue(false);
    const err = await appInfo().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "no_backend" });
    expect(mockedCommand).not.toHaveBeenCalled();
  });
});

// Every connection command: the wrapper passes its input through, returns the data of an ok
// result and turns an error result into an IpcError.
const wrappers = [
  ["listProfiles", undefined],
  ["addProfile", { settings: { name: "a" }, password: null }],
  ["updateProfile", { name: "a", settings: { name: "b" }, password: { kind: "keep" } }],
  ["removeProfile", { name: "a" }],
  ["checkProfile", { name: "a", timeoutSecs: 10 }],
  ["checkSettings", { settings: { name: "a" }, password: null, existing: null, timeoutSecs: 10 }],
  ["listDatabases", { profile: "a" }],
  ["listSchemas", { profile: "a", database: "shop" }],
  ["listTables", { profile: "a", database: "shop", schema: "sales" }],
  ["listBackups", { database: "shop", limit: 10 }],
  ["defaultBackupFolder", undefined],
  ["watch", { database: null }],
  ["watchStatus", undefined],
  ["listSchedules", undefined],
  ["showSchedule", "lifeboat-shop-shop"],
  ["addSchedule", { profile: "a", database: "shop", days: "daily", time: "02:30" }],
  ["removeSchedule", "lifeboat-shop-shop"],
  ["testFireSchedule", "lifeboat-shop-shop"],
  ["previewRetention", { profile: "a", database: "shop", policy: { keepLast: 1 }, dryRun: true }],
] as const;

describe.each(wrappers)("%s", (name, input) => {
  const command = vi.mocked(commands[name]) as unknown as ReturnType<typeof vi.fn>;
  const wrapper = ipc[name] as unknown as (input?: unknown) => Promise<unknown>;

  beforeEach(() => {
    mockedIsTauri.mockReset().mockReturnValue(true);
    command.mockReset();
  });

  it("passes the input through and returns the data", async () => {
    const data = name === "removeProfile" ? null : { some: "data" };
    command.mockResolvedValue({ status: "ok", data });
    const value = await wrapper(input);
    if (input === undefined) expect(command).toHaveBeenCalledWith();
    else expect(command).toHaveBeenCalledWith(input);
    expect(value).toEqual(name === "removeProfile" ? undefined : data);
  });

  it("throws an IpcError with the code of an error result", async () => {
    command.mockResolvedValue({
      status: "error",
      error: { code: "connection_refused", message: "Refused.", hint: "Start it." },
    });
    const err = await wrapper(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "connection_refused", message: "Refused.", hint: "Start it." });
  });

  it("does not call the backend outside the Tauri window", async () => {
    mockedIsTauri.mockReturnValue(false);
    const err = await wrapper(input).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "no_backend" });
    expect(command).not.toHaveBeenCalled();
  });
});

const backupInput: StartBackup = {
  profile: "a",
  database: "shop",
  destination: "/backups",
  format: "custom",
  compression: null,
  scope: { schemas: [], excludeSchemas: [], tables: [], excludeTables: [], dataOnly: false, schemaOnly: false },
  perSchema: false,
  jobs: null,
  globals: false,
  rolePasswords: false,
};

describe("startBackup", () => {
  const command = vi.mocked(commands.startBackup);

  beforeEach(() => {
    mockedIsTauri.mockReset().mockReturnValue(true);
    command.mockReset();
  });

  it("passes the operation id and input, forwards channel messages and returns the outcome", async () => {
    const outcome = {
      backupId: 1,
      manifestPath: "/m",
      files: [],
      sizeBytes: 0,
      durationMs: 5,
      compression: { method: "zstd" as const, level: 3 },
      warnings: [],
    };
    const seen: ProgressEvent[] = [];
    command.mockImplementation(async (_id, _input, channel) => {
      channel.onmessage({ kind: "step", done: 1, total: 2, current: "sales.orders" });
      return { status: "ok", data: outcome };
    });
    await expect(startBackup("op-1", backupInput, (e) => seen.push(e))).resolves.toEqual(outcome);
    expect(command).toHaveBeenCalledWith("op-1", backupInput, expect.anything());
    expect(seen).toEqual([{ kind: "step", done: 1, total: 2, current: "sales.orders" }]);
  });

  it("throws an IpcError with code cancelled when the backend reports it", async () => {
    command.mockResolvedValue({
      status: "error",
      error: { code: "cancelled", message: "The operation was cancelled.", hint: "" },
    });
    const err = await startBackup("op-1", backupInput, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "cancelled" });
  });
});

describe("cancelOperation", () => {
  it("passes the operation id and returns whether something was cancelled", async () => {
    mockedIsTauri.mockReset().mockReturnValue(true);
    vi.mocked(commands.cancelOperation).mockResolvedValue({ status: "ok", data: true });
    await expect(cancelOperation("op-1")).resolves.toBe(true);
    expect(commands.cancelOperation).toHaveBeenCalledWith("op-1");
  });
});

describe("pickFolder", () => {
  // The picker is opened by the Rust side (pick_path), which remembers the choice.
  const mockedPick = vi.mocked(commands.pickPath);

  beforeEach(() => {
    mockedIsTauri.mockReset().mockReturnValue(true);
    mockedPick.mockReset();
  });

  it("opens a single-folder picker at the given path and returns the choice", async () => {
    mockedPick.mockResolvedValue({ status: "ok", data: "/home/ada/backups" });
    await expect(pickFolder("/home/ada")).resolves.toBe("/home/ada/backups");
    expect(mockedPick).toHaveBeenCalledWith({ directory: true, defaultPath: "/home/ada" });
  });

  it("returns null when the picker is closed without a choice", async () => {
    mockedPick.mockResolvedValue({ status: "ok", data: null });
    await expect(pickFolder()).resolves.toBeNull();
  });

  it("turns a rejection into an IpcError with a hint", async () => {
    mockedPick.mockRejectedValue("dialog failed");
    const err = await pickFolder().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "ipc", message: "dialog failed" });
  });
});

describe("events", () => {
  beforeEach(() => mockedIsTauri.mockReset().mockReturnValue(true));

  it("hands a clicked notification's item to the handler and returns the unlisten", async () => {
    const unlisten = vi.fn();
    const listen = vi.mocked(events.openFix.listen);
    listen.mockResolvedValue(unlisten);
    const handler = vi.fn();
    const stop = await ipc.onOpenFix(handler);
    const callback = listen.mock.calls[0][0] as (event: { payload: { item: unknown } }) => void;
    callback({ payload: { item: { key: "k" } } });
    expect(handler).toHaveBeenCalledWith({ key: "k" });
    expect(stop).toBe(unlisten);
  });

  it("listens to nothing outside the Tauri window", async () => {
    mockedIsTauri.mockReturnValue(false);
    vi.mocked(events.attentionChecked.listen).mockReset();
    const stop = await ipc.onAttentionChecked(vi.fn());
    stop();
    expect(events.attentionChecked.listen).not.toHaveBeenCalled();
  });
});
