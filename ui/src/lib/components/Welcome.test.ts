import { render, screen, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { appInfo, IpcError, type AppInfo } from "$lib/ipc";
import Welcome from "./Welcome.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const mockedAppInfo = vi.mocked(appInfo);

const info: AppInfo = {
  version: "0.1.0",
  dataDir: "/home/ada/.local/share/lifeboat",
  bundled: [
    { major: 16, version: "16.6", hasServer: true },
    { major: 17, version: "17.2", hasServer: false },
  ],
  practiceServerMajor: 16,
  practiceServerProblem: null,
};

describe("Welcome", () => {
  beforeEach(() => {
    mockedAppInfo.mockReset();
  });

  it("shows Loading… until appInfo resolves", () => {
    mockedAppInfo.mockReturnValue(new Promise(() => {}));
    render(Welcome);
    expect(screen.getByTestId("welcome").textContent).toContain("Loading…");
    expect(screen.queryByTestId("bundled-tools")).toBeNull();
  });

  it("renders one row per bundled major", async () => {
    mockedAppInfo.mockResolvedValue(info);
    render(Welcome);

    const table = await screen.findByTestId("bundled-tools");
    expect(mockedAppInfo).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Welcome to Lifeboat");

    const headers = within(table)
      .getAllByRole("columnheader")
      .map((th) => th.textContent?.trim());
    expect(headers).toEqual(["Major", "Version", "Server included"]);

    const rows = within(table).getAllByTestId("bundled-row");
    expect(rows).toHaveLength(2);
    const cells = rows.map((row) =>
      Array.from(row.querySelectorAll("td")).map((td) => td.textContent?.trim()),
    );
    expect(cells).toEqual([
      ["16", "16.6", "yes"],
      ["17", "17.2", "—"],
    ]);

    expect(screen.getByTestId("data-dir").textContent).toBe(
      "Data folder: /home/ada/.local/share/lifeboat",
    );
    expect(screen.getByTestId("version").textContent).toBe("Lifeboat 0.1.0");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the error message and hint when appInfo fails", async () => {
    mockedAppInfo.mockRejectedValue(
      new IpcError({
        code: "data_dir",
        message: "Lifeboat could not open its data folder.",
        hint: "Check that /home/ada/.local/share/lifeboat is writable.",
      }),
    );
    render(Welcome);

    const alert = await screen.findByRole("alert");
    expect(alert).toBe(screen.getByTestId("error"));
    expect(alert.textContent).toContain("Lifeboat could not open its data folder.");
    expect(alert.textContent).toContain("Check that /home/ada/.local/share/lifeboat is writable.");
    expect(alert.textContent).not.toContain("{");
    expect(alert.textContent).not.toContain("data_dir");
    expect(screen.queryByTestId("bundled-tools")).toBeNull();
    expect(screen.queryByText("Loading…")).toBeNull();
  });
});
