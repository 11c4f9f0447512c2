import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { appInfo, listProfiles, listSchedules, listSmokeChecks, onOpenFix, watch, type Attention } from "$lib/ipc";
import { appInfoOf, attentionOf, profileOf, watchReportOf } from "$lib/ipc/mock";
import App from "./App.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

// "Needs attention" on the welcome page, and the wizard a fix opens: from its button, and from
// a click on a desktop notification (the open-fix event).
describe("needs attention in the app", () => {
  let clicked: ((item: Attention) => void) | null;

  beforeEach(() => {
    clicked = null;
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles).mockReset().mockResolvedValue([profileOf("Shop")]);
    vi.mocked(listSmokeChecks).mockReset().mockResolvedValue([]);
    vi.mocked(listSchedules).mockReset().mockResolvedValue([]);
    vi.mocked(watch).mockReset().mockResolvedValue(watchReportOf([attentionOf("shop")]));
    vi.mocked(onOpenFix).mockReset().mockImplementation(async (handler) => {
      clicked = handler;
      return () => {};
    });
  });

  it("lists the items on the welcome page; a fix button opens the test wizard on that backup", async () => {
    render(App);
    const item = await screen.findByTestId("attention-item");
    expect(item.textContent).toContain("The newest backup of shop has never been tested.");
    await fireEvent.click(screen.getByTestId("attention-fix"));
    await screen.findByTestId("drill-wizard");
    expect((screen.getByTestId("drill-source") as HTMLInputElement).value).toBe(
      "/b/shop-2026-11-20-100000.lifeboat.json",
    );
  });

  it("opens the wizard a clicked notification asks for", async () => {
    render(App);
    await waitFor(() => expect(clicked).not.toBeNull());
    clicked!(attentionOf("shop"));
    await screen.findByTestId("drill-wizard");
    expect((screen.getByTestId("drill-source") as HTMLInputElement).value).toBe(
      "/b/shop-2026-11-20-100000.lifeboat.json",
    );
  });

  it("opens the backup wizard for back up now and the schedule editor for open schedule", async () => {
    render(App);
    await waitFor(() => expect(clicked).not.toBeNull());
    clicked!(attentionOf("shop", { action: { kind: "open_schedule", label: "Open the schedule", manifestPath: null, schedule: "x" } }));
    const editor = await screen.findByTestId("schedule-editor");
    expect(editor.textContent).toContain("Schedule for shop on Shop");
    await fireEvent.click(screen.getByTestId("schedule-close"));
    clicked!(attentionOf("shop", { action: { kind: "back_up_now", label: "Back up now", manifestPath: null, schedule: null } }));
    await screen.findByTestId("backup-wizard");
    expect((screen.getByTestId("backup-profile") as HTMLSelectElement).value).toBe("Shop");
  });
});
