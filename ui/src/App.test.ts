import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { appInfo, checkProfile, IpcError, listDatabases, listProfiles } from "$lib/ipc";
import { appInfoOf, CHECK_REPORT, profileOf } from "$lib/ipc/mock";
import App from "./App.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

describe("App", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles)
      .mockReset()
      .mockResolvedValue([profileOf("Shop", { port: 5433, sslmode: "require" })]);
    vi.mocked(checkProfile).mockReset();
    vi.mocked(listDatabases).mockReset();
  });

  it("shows the welcome page until something is selected, then its details", async () => {
    render(App);
    expect(await screen.findByTestId("welcome")).toBeTruthy();
    expect(screen.queryByTestId("profile-details")).toBeNull();

    const tree = screen.getByTestId("server-tree");
    await fireEvent.click(await within(tree).findByText("Shop"));
    const details = screen.getByTestId("profile-details");
    expect(screen.queryByTestId("welcome")).toBeNull();
    expect(details.textContent).toContain("db.example.test:5433");
    expect(details.textContent).toContain("admin");
    expect(details.textContent).toContain("require");
    expect(within(details).getByTestId("check-result").textContent).toContain("Not checked yet");

    await fireEvent.click(screen.getByTestId("home"));
    expect(await screen.findByTestId("welcome")).toBeTruthy();
    expect(screen.queryByTestId("profile-details")).toBeNull();
  });

  it("shows the result of Test connection in the details pane", async () => {
    render(App);
    vi.mocked(checkProfile).mockResolvedValue(CHECK_REPORT);
    await fireEvent.click(await screen.findByRole("button", { name: "Test connection to Shop" }));
    const result = await screen.findByTestId("check-result");
    await waitFor(() => expect(result.dataset.state).toBe("ok"));
    expect(result.textContent).toContain(
      "Connected to PostgreSQL 18.6 as admin — superuser: no, can create databases: yes, SSL: on",
    );

    vi.mocked(checkProfile).mockRejectedValue(
      new IpcError({ code: "password_failed", message: "The server rejected the password.", hint: "Edit the profile." }),
    );
    await fireEvent.click(screen.getByTestId("details-test"));
    await waitFor(() => expect(result.dataset.state).toBe("failed"));
    expect(result.textContent).toContain("The server rejected the password.");
    expect(result.textContent).toContain("Edit the profile.");
  });

  it("shows a selected database's facts, with never for no backup yet", async () => {
    vi.mocked(listDatabases).mockResolvedValue([
      { name: "shop", owner: "ada", encoding: "UTF8", sizeBytes: 1536, lastBackup: null, lastSuccessfulTest: null, lastTestFailed: false },
    ]);
    render(App);
    await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
    const db = await screen.findByTestId("database-node");
    await fireEvent.click(within(db).getByText("shop"));
    const details = screen.getByTestId("database-details");
    expect(details.textContent).toContain("Database on Shop");
    expect(details.textContent).toContain("1.5 kB");
    expect(details.textContent).toContain("ada");
    expect(details.textContent).toContain("UTF8");
    expect(within(details).getByTestId("last-backup").textContent).toBe("never");
    expect(within(details).getByTestId("last-test").textContent).toBe("never");
  });
});
