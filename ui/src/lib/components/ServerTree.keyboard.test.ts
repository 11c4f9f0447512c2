import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { listDatabases, listProfiles, listSchemas } from "$lib/ipc";
import { databaseInfo, profileOf } from "$lib/ipc/mock";
import { Connections } from "$lib/connections/state.svelte";
import ServerTree from "./ServerTree.svelte";

// The server tree from the keyboard, as the WAI-ARIA tree pattern has it: one tab stop, arrows,
// Home/End, Right/Left to expand, enter and leave, Enter to select, the menu key for the menu.

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const item = (name: string) => screen.getByRole("treeitem", { name });
const key = (target: Element, k: string, extra: KeyboardEventInit = {}) => fireEvent.keyDown(target, { key: k, ...extra });

/** The items that are tab stops. */
function tabStops(): string[] {
  return screen
    .getAllByRole("treeitem")
    .filter((i) => i.getAttribute("tabindex") === "0")
    .map((i) => i.getAttribute("aria-label") ?? "");
}

async function renderTree() {
  const store = new Connections();
  render(ServerTree, { store });
  await screen.findByRole("tree", { name: "Server profiles" });
  await waitFor(() => expect(tabStops()).toEqual(["Lab"]));
  return store;
}

describe("the server tree from the keyboard", () => {
  beforeEach(() => {
    vi.mocked(listProfiles).mockReset().mockResolvedValue([profileOf("Lab"), profileOf("Shop")]);
    vi.mocked(listDatabases).mockReset().mockResolvedValue([databaseInfo("crm"), databaseInfo("shop")]);
    vi.mocked(listSchemas).mockReset().mockResolvedValue([{ name: "public", tableCount: 2, sizeBytes: 4096 }]);
  });

  it("moves, expands, enters, leaves and collapses with the arrows, Home and End", async () => {
    const store = await renderTree();
    const lab = item("Lab");
    lab.focus();
    await key(lab, "ArrowDown");
    expect(document.activeElement).toBe(item("Shop"));
    expect(tabStops()).toEqual(["Shop"]);
    await key(item("Shop"), "ArrowUp");
    expect(document.activeElement).toBe(lab);

    expect(lab.getAttribute("aria-expanded")).toBe("false");
    await key(lab, "ArrowRight");
    await screen.findByRole("treeitem", { name: "database crm" });
    expect(lab.getAttribute("aria-expanded")).toBe("true");
    expect(listDatabases).toHaveBeenCalledWith({ profile: "Lab" });
    expect(document.activeElement).toBe(lab);

    await key(lab, "ArrowRight");
    expect(document.activeElement).toBe(item("database crm"));
    await key(item("database crm"), "ArrowDown");
    expect(document.activeElement).toBe(item("database shop"));
    await key(item("database shop"), "ArrowRight");
    await screen.findByRole("treeitem", { name: "schema public" });
    await key(item("database shop"), "End");
    expect(document.activeElement).toBe(item("Shop"));
    await key(item("Shop"), "Home");
    expect(document.activeElement).toBe(lab);
    await key(lab, "ArrowDown");
    await key(item("database crm"), "ArrowDown");
    await key(item("database shop"), "ArrowDown");
    expect(document.activeElement).toBe(item("schema public"));
    await key(item("schema public"), "ArrowLeft");
    // Left on a collapsed item goes to its parent.
    expect(document.activeElement).toBe(item("database shop"));
    await key(item("database shop"), "ArrowLeft");
    expect(screen.queryByRole("treeitem", { name: "schema public" })).toBeNull();
    await key(item("database shop"), "ArrowLeft");
    expect(document.activeElement).toBe(lab);
    await key(lab, "ArrowLeft");
    expect(lab.getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByRole("treeitem", { name: "database crm" })).toBeNull();
    expect(store.selection).toBeNull();
  });

  it("selects with Enter, and is one tab stop with the active row's actions", async () => {
    const store = await renderTree();
    const shop = item("Shop");
    shop.focus();
    await key(shop, "Enter");
    expect(store.selection?.kind).toBe("profile");
    expect(shop.getAttribute("aria-selected")).toBe("true");
    // The row's own buttons: the caret and the name are the mouse's; the actions are reachable
    // by Tab from the active item only.
    const tabbable = Array.from(document.querySelectorAll<HTMLElement>('[role="tree"] button')).filter(
      (b) => b.getAttribute("tabindex") !== "-1",
    );
    expect(tabbable.map((b) => b.getAttribute("aria-label"))).toEqual([
      "Refresh Shop",
      "Test connection to Shop",
      "Edit Shop",
      "Remove Shop",
    ]);
    // Enter on an action presses it rather than selecting the item.
    const edit = screen.getByRole("button", { name: "Edit Shop" });
    await key(edit, "Enter");
    expect(store.dialog).toBeNull();
  });

  it("opens a database's menu with Shift+F10 or the menu key, and Escape returns to the item", async () => {
    const store = await renderTree();
    const lab = item("Lab");
    lab.focus();
    await key(lab, "ArrowRight");
    const crm = await screen.findByRole("treeitem", { name: "database crm" });
    await key(lab, "ArrowRight");
    expect(document.activeElement).toBe(crm);

    await key(crm, "F10", { shiftKey: true });
    const menu = await screen.findByRole("menu", { name: "Database crm" });
    expect(document.activeElement).toBe(screen.getByTestId("menu-backup"));
    expect(store.selection?.kind).toBe("database");
    await key(document.activeElement!, "Escape");
    await waitFor(() => expect(menu.isConnected).toBe(false));
    expect(document.activeElement).toBe(crm);

    await key(crm, "F10");
    expect(screen.queryByRole("menu")).toBeNull();
    await key(crm, "ContextMenu");
    await screen.findByRole("menu", { name: "Database crm" });
    await fireEvent.click(screen.getByTestId("menu-backup"));
    expect(store.dialog).toEqual({ kind: "backup", profile: "Lab", database: "crm" });
  });
});
