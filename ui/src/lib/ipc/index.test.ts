import { beforeEach, describe, expect, it, vi } from "vitest";
import { isTauri } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import * as ipc from "./index";
import { appInfo, IpcError } from "./index";

vi.mock("@tauri-apps/api/core", () => ({ isTauri: vi.fn(), invoke: vi.fn() }));
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
    const data = { version: "0.1.0", dataDir: "/d", bundled: [], practiceServerMajor: null };
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
