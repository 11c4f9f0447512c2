import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  appInfo,
  listBackups,
  listDatabases,
  listProfiles,
  preflightRestore,
  startRestore,
  type RestoreMethod,
  type RestoreOutcome,
  type RestorePlan,
} from "$lib/ipc";
import { appInfoOf, databaseInfo, profileOf } from "$lib/ipc/mock";
import App from "./App.svelte";

// The Restore wizard as the app opens it (top bar) and what "Open in tree" does afterwards.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const db = (name: string) => databaseInfo(name);

const method: RestoreMethod = {
  kind: "pg_restore",
  readerMajor: 18,
  psqlMajor: null,
  jobs: 1,
  singleTransaction: false,
  continueOnErrors: false,
  droppedSettings: [],
};

const plan: RestorePlan = {
  source: "/b/shop.backup",
  format: "custom",
  archiveVersion: "1.16",
  sourceDatabase: "shop",
  dumpedFrom: "18.1",
  dumpedBy: "18.1",
  manifest: null,
  verifiedFiles: 0,
  profile: "Shop",
  serverVersion: "18.1",
  database: "shop_restored_20261121",
  createDatabase: true,
  encoding: "UTF8",
  method,
  noOwner: false,
  ownedBy: null,
  entries: 19,
  skippedEntries: 0,
  entryCounts: {},
  findings: [],
  summary: "Creates database shop_restored_20261121 on Shop.",
  blocked: false,
  replace: null,
  keptAs: null,
  contents: [],
  leftOut: [],
  createRoles: [],
  recreatableRoles: [],
  plainRoles: [],
  leftOutForRoles: [],
};

const outcome: RestoreOutcome = {
  database: "shop_restored_20261121",
  created: true,
  profile: "Shop",
  method,
  toolVersions: [],
  warnings: [],
  durationMs: 700,
  restoredEntries: 19,
  skippedEntries: 0,
  entryCounts: {},
  keptAs: null,
  errors: [],
  createdRoles: [],
  databaseSettings: { applied: [], failed: [] },
};

describe("restoring from the app", () => {
  beforeEach(() => {
    vi.mocked(appInfo).mockReset().mockResolvedValue(appInfoOf());
    vi.mocked(listProfiles)
      .mockReset()
      .mockResolvedValue([profileOf("Shop", { port: 5433 })]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([db("shop")]);
    vi.mocked(listBackups).mockReset().mockResolvedValue([]);
    vi.mocked(preflightRestore).mockReset().mockResolvedValue(plan);
    vi.mocked(startRestore).mockReset().mockResolvedValue(outcome);
  });

  it("opens from the top bar for the selected server and selects the restored database in the tree", async () => {
    render(App);
    await fireEvent.click(await screen.findByRole("button", { name: "Expand Shop" }));
    const shop = await screen.findByTestId("database-node");
    await fireEvent.click(within(shop).getByText("shop"));

    await fireEvent.click(screen.getByTestId("topbar-restore"));
    const wizard = screen.getByTestId("restore-wizard");
    expect((within(wizard).getByTestId("restore-profile") as HTMLSelectElement).value).toBe("Shop");
    expect((within(wizard).getByTestId("restore-source") as HTMLInputElement).value).toBe("");
    await fireEvent.input(within(wizard).getByTestId("restore-source"), { target: { value: "/b/shop.backup" } });
    await fireEvent.click(within(wizard).getByTestId("restore-check"));
    await screen.findByTestId("restore-summary");

    vi.mocked(listDatabases).mockResolvedValue([db("shop"), db("shop_restored_20261121")]);
    await fireEvent.click(screen.getByTestId("restore-start"));
    await screen.findByTestId("restore-result");
    await fireEvent.click(screen.getByTestId("restore-open-in-tree"));

    await waitFor(() => expect(screen.queryByTestId("restore-wizard")).toBeNull());
    await waitFor(() =>
      expect(screen.getByTestId("database-details").querySelector("h1")?.textContent).toBe("shop_restored_20261121"),
    );
    expect(screen.getAllByTestId("database-node").map((n) => n.dataset.name)).toEqual(["shop", "shop_restored_20261121"]);
  });
});
