import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setThresholds, watch } from "$lib/ipc";
import { attentionOf, watchReportOf } from "$lib/ipc/mock";
import { Watch } from "$lib/watch/state.svelte";
import NeedsAttention from "./NeedsAttention.svelte";
import WatchLimits from "./WatchLimits.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const SHOP = { host: "db.example.test", port: 5432, database: "shop" };

describe("NeedsAttention", () => {
  beforeEach(() => {
    vi.mocked(watch).mockReset();
    vi.mocked(setThresholds).mockReset();
  });

  it("lists every item with its message and fix button, and each database's readiness", async () => {
    const old = attentionOf("crm", {
      severity: "critical",
      code: "no_recent_backup",
      title: "crm has no recent backup",
      message: "The newest backup of crm is 5 days old.",
      action: { kind: "back_up_now", label: "Back up now", manifestPath: null, schedule: null },
      key: "old:crm",
    });
    vi.mocked(watch).mockResolvedValue(
      watchReportOf([old, attentionOf("shop")], { shop: "If this database were lost now you would lose up to 26 h of changes." }),
    );
    const state = new Watch();
    await state.refresh();
    const onfix = vi.fn();
    render(NeedsAttention, { watch: state, onfix });

    const items = screen.getAllByTestId("attention-item");
    expect(items.map((i) => i.dataset.code)).toEqual(["no_recent_backup", "untested_backup"]);
    expect(items[0].textContent).toContain("The newest backup of crm is 5 days old.");
    expect(items[0].textContent).toContain("Now");
    const lines = screen.getAllByTestId("readiness").map((l) => l.textContent?.replace(/\s+/g, " ").trim());
    expect(lines).toContain("crm (Shop): No backup of crm has passed a test yet.");
    expect(lines).toContain("shop (Shop): If this database were lost now you would lose up to 26 h of changes.");

    const fix = within(items[1]).getByTestId("attention-fix");
    expect(fix.textContent?.trim()).toBe("Test this backup");
    await fireEvent.click(fix);
    expect(onfix).toHaveBeenCalledWith(attentionOf("shop"));
    expect(watch).toHaveBeenCalledWith({ database: null });
  });

  it("shows one database's items only, or says nothing needs attention", async () => {
    vi.mocked(watch).mockResolvedValue(watchReportOf([attentionOf("crm")], { shop: "All good." }));
    const state = new Watch();
    await state.refresh();
    render(NeedsAttention, { watch: state, scope: SHOP, onfix: vi.fn() });
    expect(screen.queryByTestId("attention-item")).toBeNull();
    expect(screen.getByTestId("attention-none").textContent).toContain("Nothing needs attention for this database.");
    expect(screen.getByTestId("readiness").textContent?.trim()).toBe("All good.");
  });

  it("says when desktop notifications could not be shown", async () => {
    vi.mocked(watch).mockResolvedValue(watchReportOf([attentionOf("shop")]));
    const state = new Watch();
    await state.refresh();
    state.status = {
      checkedAt: "2026-11-21T10:00:00+01:00",
      notified: [],
      problem: { code: "notifications_unavailable", message: "No notification service is reachable: no session bus", hint: "" },
    };
    render(NeedsAttention, { watch: state, onfix: vi.fn() });
    expect(screen.getByTestId("attention-item")).toBeTruthy();
    expect(screen.getByTestId("notifications-off").textContent).toContain("no session bus");
  });

  it("saves a database's reminder limits and looks again", async () => {
    vi.mocked(watch).mockResolvedValue(watchReportOf([]));
    vi.mocked(setThresholds).mockResolvedValue(undefined);
    const state = new Watch();
    render(WatchLimits, { watch: state, database: SHOP });
    await fireEvent.input(screen.getByTestId("limit-untested-days"), { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("limits-save"));
    await screen.findByTestId("limits-saved");
    expect(setThresholds).toHaveBeenCalledWith({
      ...SHOP,
      maxBackupAgeHours: null,
      untestedAfterDays: 0,
      maxDaysWithoutDrill: null,
    });
    await waitFor(() => expect(watch).toHaveBeenCalled());
  });
});
