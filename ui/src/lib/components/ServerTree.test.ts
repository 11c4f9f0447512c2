import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  checkProfile,
  IpcError,
  listDatabases,
  listProfiles,
  listSchemas,
  listTables,
  removeProfile,
  type DatabaseInfo,
  type Profile,
} from "$lib/ipc";
import { CHECK_REPORT, databaseInfo, profileOf } from "$lib/ipc/mock";
import { Connections } from "$lib/connections/state.svelte";
import ServerTree from "./ServerTree.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const profile = (name: string, port = 5432): Profile => profileOf(name, { port });

const shop: DatabaseInfo = databaseInfo("shop", 8 * 1024 * 1024);

const refused = new IpcError({
  code: "connection_refused",
  message: "Nothing answered at db.example.test port 5432: the connection was refused.",
  hint: "Is PostgreSQL running on that machine?",
});

/** A promise with its resolve function, to hold a call open. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function renderTree(profiles: Profile[]) {
  vi.mocked(listProfiles).mockResolvedValue(profiles);
  const store = new Connections();
  render(ServerTree, { store });
  if (profiles.length > 0) await screen.findAllByTestId("profile-node");
  return store;
}

function node(testid: string, name: string): HTMLElement {
  const found = screen.getAllByTestId(testid).find((el) => el.dataset.name === name);
  if (!found) throw new Error(`no ${testid} named ${name}`);
  return found;
}

/** The expand/collapse button of a tree node (the first one: its own, not a child's). */
function toggler(el: HTMLElement): HTMLElement {
  return el.querySelector<HTMLElement>("button[aria-expanded]")!;
}

function dot(name: string): HTMLElement {
  return within(node("profile-node", name)).getAllByTestId("profile-status")[0];
}

describe("ServerTree", () => {
  beforeEach(() => {
    vi.mocked(listProfiles).mockReset();
    vi.mocked(listDatabases).mockReset();
    vi.mocked(listSchemas).mockReset();
    vi.mocked(listTables).mockReset();
    vi.mocked(checkProfile).mockReset();
    vi.mocked(removeProfile).mockReset();
  });

  it("shows the empty state and the Add server button when there are no profiles", async () => {
    await renderTree([]);
    expect(await screen.findByText("No servers yet.")).toBeTruthy();
    expect(screen.getByTestId("add-server").textContent).toContain("Add server");
    expect(screen.queryAllByTestId("profile-node")).toHaveLength(0);
  });

  it("lists the profiles, unchecked, collapsed", async () => {
    await renderTree([profile("Accounting"), profile("Shop", 5433)]);
    const nodes = screen.getAllByTestId("profile-node");
    expect(nodes.map((n) => n.dataset.name)).toEqual(["Accounting", "Shop"]);
    expect(nodes[1].textContent).toContain("admin@db.example.test:5433");
    expect(dot("Shop").dataset.state).toBe("unknown");
    expect(dot("Shop").getAttribute("title")).toBe("Not checked yet");
    expect(toggler(nodes[0]).getAttribute("aria-expanded")).toBe("false");
    expect(listDatabases).not.toHaveBeenCalled();
  });

  it("loads databases, then schemas, then tables as the nodes are expanded", async () => {
    await renderTree([profile("Shop")]);
    const databases = deferred<DatabaseInfo[]>();
    vi.mocked(listDatabases).mockReturnValue(databases.promise);
    vi.mocked(listSchemas).mockResolvedValue([
      { name: "public", tableCount: 1, sizeBytes: 16384 },
      { name: "sales", tableCount: 2, sizeBytes: 2 * 1024 * 1024 },
    ]);
    vi.mocked(listTables).mockResolvedValue([
      { name: "customers", estimatedRows: 100, sizeBytes: 49152 },
      { name: "orders", estimatedRows: 1234, sizeBytes: 98304 },
    ]);

    const profileToggle = toggler(node("profile-node", "Shop"));
    await fireEvent.click(profileToggle);
    expect(profileToggle.getAttribute("aria-expanded")).toBe("true");
    expect(listDatabases).toHaveBeenCalledWith({ profile: "Shop" });
    expect(within(node("profile-node", "Shop")).getByTestId("node-loading").textContent).toContain(
      "Loading…",
    );

    databases.resolve([shop, { ...shop, name: "postgres", owner: "postgres", sizeBytes: null }]);
    const shopNode = await waitFor(() => node("database-node", "shop"));
    expect(shopNode.textContent).toContain("8 MB");
    expect(shopNode.textContent).toContain("ada");
    expect(shopNode.textContent).toContain("UTF8");
    expect(shopNode.textContent).toContain("last backup: never");
    expect(shopNode.textContent).toContain("last test: never");
    expect(node("database-node", "postgres").textContent).toContain("no access");
    expect(screen.queryByTestId("node-loading")).toBeNull();
    // Listing the databases is a successful connection.
    expect(dot("Shop").dataset.state).toBe("ok");

    await fireEvent.click(toggler(shopNode));
    expect(listSchemas).toHaveBeenCalledWith({ profile: "Shop", database: "shop" });
    const sales = await waitFor(() => node("schema-node", "sales"));
    expect(sales.textContent).toContain("2 tables");
    expect(sales.textContent).toContain("2 MB");
    expect(node("schema-node", "public").textContent).toContain("1 table ·");

    await fireEvent.click(toggler(sales));
    expect(listTables).toHaveBeenCalledWith({ profile: "Shop", database: "shop", schema: "sales" });
    const tables = await within(sales).findAllByTestId("table-node");
    expect(tables.map((t) => t.dataset.name)).toEqual(["customers", "orders"]);
    expect(tables[1].textContent).toContain("~1,234 rows");
    expect(tables[1].textContent).toContain("96 kB");

    // Collapsing hides the children; expanding again does not reload them.
    await fireEvent.click(toggler(sales));
    expect(within(sales).queryAllByTestId("table-node")).toHaveLength(0);
    await fireEvent.click(toggler(sales));
    expect(within(sales).getAllByTestId("table-node")).toHaveLength(2);
    expect(listTables).toHaveBeenCalledTimes(1);
  });

  it("shows the message and hint under the node and turns the dot red when expanding fails", async () => {
    await renderTree([profile("Shop"), profile("Other")]);
    vi.mocked(listDatabases).mockRejectedValue(refused);

    await fireEvent.click(toggler(node("profile-node", "Shop")));
    const error = await within(node("profile-node", "Shop")).findByTestId("node-error");
    expect(error.textContent).toContain("the connection was refused");
    expect(error.textContent).toContain("Is PostgreSQL running on that machine?");
    expect(error.textContent).not.toContain("{");
    expect(error.textContent).not.toContain("connection_refused");
    expect(error.dataset.code).toBe("connection_refused");
    expect(dot("Shop").dataset.state).toBe("failed");
    expect(dot("Shop").getAttribute("title")).toBe(refused.message);
    expect(dot("Other").dataset.state).toBe("unknown");

    // Try again succeeds: the error goes, the dot turns green.
    vi.mocked(listDatabases).mockResolvedValue([shop]);
    await fireEvent.click(within(error).getByRole("button", { name: "Try again" }));
    await waitFor(() => node("database-node", "shop"));
    expect(screen.queryByTestId("node-error")).toBeNull();
    expect(dot("Shop").dataset.state).toBe("ok");
  });

  it("an error on a schema shows under the database and turns the profile dot red", async () => {
    await renderTree([profile("Shop")]);
    vi.mocked(listDatabases).mockResolvedValue([shop]);
    vi.mocked(listSchemas).mockRejectedValue(
      new IpcError({ code: "query", message: "The server reported an error: permission denied", hint: "Check rights." }),
    );
    await fireEvent.click(toggler(node("profile-node", "Shop")));
    const db = await waitFor(() => node("database-node", "shop"));
    expect(dot("Shop").dataset.state).toBe("ok");
    await fireEvent.click(toggler(db));
    const error = await within(db).findByTestId("node-error");
    expect(error.textContent).toContain("permission denied");
    expect(error.textContent).toContain("Check rights.");
    expect(dot("Shop").dataset.state).toBe("failed");
  });

  it("Refresh reloads the databases and keeps open databases open", async () => {
    await renderTree([profile("Shop")]);
    vi.mocked(listDatabases).mockResolvedValue([shop]);
    vi.mocked(listSchemas).mockResolvedValue([{ name: "sales", tableCount: 2, sizeBytes: 1 }]);
    await fireEvent.click(toggler(node("profile-node", "Shop")));
    await fireEvent.click(toggler(await waitFor(() => node("database-node", "shop"))));
    await waitFor(() => node("schema-node", "sales"));

    vi.mocked(listDatabases).mockResolvedValue([shop, { ...shop, name: "wiki" }]);
    await fireEvent.click(screen.getByRole("button", { name: "Refresh Shop" }));
    await waitFor(() => node("database-node", "wiki"));
    await waitFor(() => node("schema-node", "sales"));
    expect(listDatabases).toHaveBeenCalledTimes(2);
    expect(listSchemas).toHaveBeenCalledTimes(2);
  });

  it("Test connection checks the saved profile, selects it and colours the dot", async () => {
    const store = await renderTree([profile("Shop")]);
    vi.mocked(checkProfile).mockResolvedValue(CHECK_REPORT);
    await fireEvent.click(screen.getByRole("button", { name: "Test connection to Shop" }));
    expect(checkProfile).toHaveBeenCalledWith({ name: "Shop", timeoutSecs: 10 });
    await waitFor(() => expect(dot("Shop").dataset.state).toBe("ok"));
    expect(dot("Shop").getAttribute("title")).toBe("Connected — PostgreSQL 18.6");
    expect(store.selection?.node).toBe(store.nodes[0]);

    vi.mocked(checkProfile).mockRejectedValue(refused);
    await fireEvent.click(screen.getByRole("button", { name: "Test connection to Shop" }));
    await waitFor(() => expect(dot("Shop").dataset.state).toBe("failed"));
    expect(dot("Shop").getAttribute("title")).toBe(refused.message);
  });

  it("asks before removing a profile and removes it only when confirmed", async () => {
    await renderTree([profile("Accounting"), profile("Shop")]);
    vi.mocked(removeProfile).mockResolvedValue(undefined);

    await fireEvent.click(screen.getByRole("button", { name: "Remove Shop" }));
    const dialog = screen.getByTestId("confirm-dialog");
    expect(dialog.textContent).toContain(
      "Remove the profile “Shop”? Its stored password is deleted from the system keychain. Nothing on the server changes.",
    );
    await fireEvent.click(within(dialog).getByTestId("confirm-cancel"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(removeProfile).not.toHaveBeenCalled();
    expect(screen.getAllByTestId("profile-node")).toHaveLength(2);

    await fireEvent.click(screen.getByRole("button", { name: "Remove Shop" }));
    await fireEvent.click(screen.getByTestId("confirm-remove"));
    expect(removeProfile).toHaveBeenCalledWith({ name: "Shop" });
    await waitFor(() => expect(screen.queryByTestId("confirm-dialog")).toBeNull());
    expect(screen.getAllByTestId("profile-node").map((n) => n.dataset.name)).toEqual(["Accounting"]);
  });

  it("keeps the confirm dialog open with the reason when removing fails", async () => {
    await renderTree([profile("Shop")]);
    vi.mocked(removeProfile).mockRejectedValue(
      new IpcError({ code: "keychain_locked", message: "The system keychain is locked: x", hint: "Unlock it." }),
    );
    await fireEvent.click(screen.getByRole("button", { name: "Remove Shop" }));
    await fireEvent.click(screen.getByTestId("confirm-remove"));
    const error = await screen.findByTestId("confirm-error");
    expect(error.textContent).toContain("The system keychain is locked");
    expect(error.textContent).toContain("Unlock it.");
    expect(screen.getAllByTestId("profile-node")).toHaveLength(1);
  });

  it("says when the latest restore test of a database failed", async () => {
    await renderTree([profile("Shop")]);
    vi.mocked(listDatabases).mockResolvedValue([
      { ...shop, lastSuccessfulTest: "2026-11-01T10:00:00Z", lastTestFailed: true },
      { ...shop, name: "wiki", lastSuccessfulTest: null, lastTestFailed: false },
    ]);
    await fireEvent.click(toggler(node("profile-node", "Shop")));
    const failed = await waitFor(() => node("database-node", "shop"));
    expect(within(failed).getByTestId("database-test-failed").textContent).toBe("last test failed");
    expect(node("database-node", "wiki").textContent).toContain("last test: never");
  });

  it("shows why the profiles could not be listed", async () => {
    vi.mocked(listProfiles).mockRejectedValue(
      new IpcError({ code: "store", message: "Lifeboat's catalog cannot be used.", hint: "Check the disk." }),
    );
    render(ServerTree, { store: new Connections() });
    const error = await screen.findByTestId("node-error");
    expect(error.textContent).toContain("Lifeboat's catalog cannot be used.");
    expect(error.textContent).toContain("Check the disk.");
  });
});
