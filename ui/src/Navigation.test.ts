import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { appInfo, backupEntries, listDatabases, listProfiles, watch } from "$lib/ipc";
import { appInfoOf, databaseInfo, profileOf, watchReportOf } from "$lib/ipc/mock";
import App from "./App.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

describe("Main views", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles).mockReset().mockResolvedValue([profileOf("Shop")]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([databaseInfo("shop")]);
    vi.mocked(backupEntries).mockReset().mockResolvedValue([]);
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([]));
  });

  it("switches the main area with tabs, by click and by arrow keys, and back to Servers on a tree selection", async () => {
    render(App);
    const tabs = within(screen.getByRole("tablist", { name: "Main views" })).getAllByRole("tab");
    expect(tabs.map((t) => t.textContent?.trim())).toEqual(["Servers", "Backups", "Activity"]);
    expect(tabs.map((t) => t.getAttribute("aria-selected"))).toEqual(["true", "false", "false"]);
    expect(tabs.map((t) => t.tabIndex)).toEqual([0, -1, -1]);
    expect(await screen.findByTestId("welcome")).toBeTruthy();

    await fireEvent.click(screen.getByTestId("view-backups"));
    expect(screen.getByRole("tabpanel").getAttribute("aria-labelledby")).toBe("view-tab-backups");
    await screen.findByTestId("backups-empty");
    expect(screen.queryByTestId("welcome")).toBeNull();

    await fireEvent.keyDown(screen.getByTestId("view-backups"), { key: "ArrowRight" });
    expect(screen.getByTestId("view-activity").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(screen.getByTestId("view-activity"));
    expect(screen.getByRole("tabpanel").dataset.view).toBe("activity");
    await fireEvent.keyDown(screen.getByTestId("view-activity"), { key: "ArrowRight" });
    expect(document.activeElement).toBe(screen.getByTestId("view-servers"));
    await fireEvent.keyDown(screen.getByTestId("view-servers"), { key: "End" });
    expect(screen.getByTestId("view-activity").getAttribute("aria-selected")).toBe("true");

    // A database chosen in the tree shows its dashboard, whatever the view was.
    await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
    const db = await screen.findByTestId("database-node");
    await fireEvent.click(within(db).getByText("shop"));
    await waitFor(() => expect(screen.getByTestId("view-servers").getAttribute("aria-selected")).toBe("true"));
    expect(screen.getByTestId("database-details")).toBeTruthy();
  });
});
