import { beforeEach, describe, expect, it, vi } from "vitest";
import { isTauri } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import { appInfo, IpcError } from "./index";

vi.mock("@tauri-apps/api/core", () => ({ isTauri: vi.fn(), invoke: vi.fn() }));
vi.mock("./bindings", () => ({ commands: { appInfo: vi.fn() } }));

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
