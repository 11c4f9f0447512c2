import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  appInfo,
  createPracticeDatabase,
  IpcError,
  listDatabases,
  listProfiles,
  type AppInfo,
  type PracticeDatabase,
  type Profile,
} from "$lib/ipc";
import { databaseInfo, deferred, profileOf } from "$lib/ipc/mock";
import { Connections } from "$lib/connections/state.svelte";
import ServerTree from "./ServerTree.svelte";
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

const practiceProfile: Profile = profileOf("Practice", {
  host: "127.0.0.1",
  port: 45123,
  user: "lifeboat",
  sslmode: "disable",
  passwordSource: "practice",
});

const ready: PracticeDatabase = {
  profile: practiceProfile,
  database: "shop",
  serverVersion: "18.6",
  createdProfile: true,
  createdDatabase: true,
};

/** The welcome page next to the tree, as the window shows them, with `profiles` saved. */
async function renderWithTree(profiles: Profile[], extra: Partial<AppInfo> = {}) {
  vi.mocked(listProfiles).mockResolvedValue(profiles);
  mockedAppInfo.mockResolvedValue({ ...info, ...extra });
  const store = new Connections();
  render(ServerTree, { store });
  render(Welcome, { store });
  await screen.findByRole("heading", { level: 1 });
  await waitFor(() => expect(store.profiles.state).toBe("ready"));
  return store;
}

describe("Welcome: the first run", () => {
  beforeEach(() => {
    mockedAppInfo.mockReset();
    vi.mocked(createPracticeDatabase).mockReset();
    vi.mocked(listDatabases).mockReset();
  });

  it("offers two paths without a profile: connect to my server, or a practice database", async () => {
    const store = await renderWithTree([]);
    const connect = await screen.findByTestId("path-connect");
    const practice = screen.getByTestId("path-practice");
    expect(within(connect).getByRole("heading").textContent).toBe("Connect to my server");
    expect(within(practice).getByRole("heading").textContent).toBe("Try it on a practice database");
    expect(within(practice).getByTestId("welcome-try-practice").textContent?.trim()).toBe(
      "Try it on a practice database",
    );
    // The tools table stays, folded away below.
    expect(screen.getByTestId("bundled-tools").closest("details")).not.toBeNull();

    await fireEvent.click(within(connect).getByTestId("welcome-connect"));
    expect(store.dialog).toEqual({ kind: "add" });
  });

  it("says how to start Lifeboat as a normal user instead of offering a button that fails as root", async () => {
    await renderWithTree([], {
      practiceServerProblem: "The practice server cannot run while Lifeboat runs as root.",
    });
    const practice = await screen.findByTestId("path-practice");
    const note = within(practice).getByTestId("practice-as-root").textContent?.replace(/\s+/g, " ");
    expect(note).toContain("runs as root");
    expect(note).toContain("start it again as your normal user");
    expect(note).toContain("sudo");
    expect(within(practice).queryByTestId("welcome-try-practice")).toBeNull();
    // Connecting to one's own server still works.
    expect(screen.getByTestId("welcome-connect")).toBeTruthy();
  });

  it("sets the practice database up on Try it: Practice appears in the tree with its sample database selected", async () => {
    const store = await renderWithTree([]);
    const held = deferred<PracticeDatabase>();
    vi.mocked(createPracticeDatabase).mockReturnValue(held.promise);
    vi.mocked(listDatabases).mockResolvedValue([databaseInfo("postgres"), databaseInfo("shop")]);

    const button = await screen.findByTestId("welcome-try-practice");
    await fireEvent.click(button);
    expect(createPracticeDatabase).toHaveBeenCalledTimes(1);
    expect((button as HTMLButtonElement).disabled).toBe(true);
    expect(button.textContent).toContain("Starting the practice server");
    await fireEvent.click(button);
    expect(createPracticeDatabase).toHaveBeenCalledTimes(1);

    held.resolve(ready);
    const node = await screen.findByTestId("profile-node");
    expect(node.dataset.name).toBe("Practice");
    await waitFor(() => expect(store.selection?.kind).toBe("database"));
    const selected = store.selection;
    expect(selected?.kind === "database" ? selected.node.key : null).toBe("shop");
    expect(vi.mocked(listDatabases)).toHaveBeenCalledWith({ profile: "Practice" });
    expect(store.hasPractice).toBe(true);
  });

  it("shows why the practice database could not be set up, and lets the user try again", async () => {
    await renderWithTree([]);
    vi.mocked(createPracticeDatabase).mockRejectedValueOnce(
      new IpcError({
        code: "practice_server_failed",
        message: "The practice server did not start: the disk is full.",
        hint: "Free some space and try again.",
      }),
    );
    await fireEvent.click(await screen.findByTestId("welcome-try-practice"));
    const problem = await screen.findByTestId("practice-error");
    expect(problem.textContent).toContain("the disk is full");
    expect(problem.textContent).toContain("Free some space");
    expect((screen.getByTestId("welcome-try-practice") as HTMLButtonElement).disabled).toBe(false);
  });

  it("with profiles: no big paths, an unobtrusive offer of the practice database until one exists", async () => {
    await renderWithTree([profileOf("Shop")]);
    await screen.findByTestId("welcome-practice-line");
    expect(screen.queryByTestId("welcome-paths")).toBeNull();
    expect(screen.getByTestId("welcome-try-practice").textContent?.trim()).toBe(
      "Try the practice database",
    );
  });

  it("offers nothing more once a Practice profile exists", async () => {
    await renderWithTree([profileOf("Shop"), practiceProfile]);
    await screen.findAllByTestId("profile-node");
    expect(screen.queryByTestId("welcome-paths")).toBeNull();
    expect(screen.queryByTestId("welcome-practice-line")).toBeNull();
    expect(screen.queryByTestId("welcome-try-practice")).toBeNull();
  });
});
