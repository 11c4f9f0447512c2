import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { ArchiveItem, LeftOut } from "$lib/ipc";
import ArchiveContents, { DATABASE_WIDE, groupItems, selectionFor } from "./ArchiveContents.svelte";

const item = (id: number, kind: string, schema: string | null, name: string, dataOf: number | null = null) =>
  ({ id, kind, schema, name, dataOf }) satisfies ArchiveItem;

const ITEMS: ArchiveItem[] = [
  item(2, "EXTENSION", null, "hstore"),
  item(8, "SCHEMA", null, "audit"),
  item(231, "FUNCTION", "audit", "log_change()"),
  item(225, "TABLE", "public", "orders"),
  item(224, "SEQUENCE", "public", "orders_id_seq"),
  item(2706, "TABLE DATA", "public", "orders", 225),
  item(2723, "SEQUENCE SET", "public", "orders_id_seq", 224),
];

describe("the archive contents", () => {
  it("groups by schema, pairs data with its relation and puts database-wide entries last", () => {
    const groups = groupItems(ITEMS);
    expect(groups.map((g) => g.schema)).toEqual(["audit", "public", DATABASE_WIDE]);
    expect(groups[0].ids).toEqual([8, 231]);
    expect(groups[1].objects.map((o) => [o.item.id, o.data?.id ?? null])).toEqual([
      [225, 2706],
      [224, 2723],
    ]);
  });

  it("sends a fully unticked schema as a schema, anything else by id", () => {
    const groups = groupItems(ITEMS);
    expect(selectionFor(groups, new Set([8, 231, 2706]))).toEqual({
      schemas: [],
      excludeSchemas: ["audit"],
      tables: [],
      excludeEntries: [2706],
    });
    // A schema without its own entry (public) also goes as a schema once nothing in it is ticked.
    expect(selectionFor(groups, new Set([225, 224, 2706, 2723])).excludeSchemas).toEqual(["public"]);
    // Database-wide entries are never a schema.
    expect(selectionFor(groups, new Set([2]))).toEqual({
      schemas: [],
      excludeSchemas: [],
      tables: [],
      excludeEntries: [2],
    });
  });
});

describe("the entries left out because of what they need", () => {
  const dependent = (id: number, kind: string): LeftOut => ({
    id,
    kind,
    schema: "public",
    name: `t${id}`,
    because: "SCHEMA audit",
  });

  it("are listed one by one when few, and counted by kind behind a disclosure when many", () => {
    const few = [dependent(1, "TABLE"), dependent(2, "TABLE DATA")];
    const { unmount } = render(ArchiveContents, { items: ITEMS, leftOut: few, unticked: new Set<number>() });
    const list = screen.getByTestId("restore-contents-dependents");
    expect(list.tagName).toBe("DIV");
    expect(list.querySelectorAll("li")).toHaveLength(2);
    unmount();

    const many = Array.from({ length: 30 }, (_, i) => dependent(100 + i, i < 20 ? "TABLE DATA" : "TABLE"));
    render(ArchiveContents, { items: ITEMS, leftOut: many, unticked: new Set<number>() });
    const details = screen.getByTestId("restore-contents-dependents") as HTMLDetailsElement;
    expect(details.tagName).toBe("DETAILS");
    expect(details.open).toBe(false);
    expect(details.querySelector("summary")?.textContent).toContain("30 entries left out because they need what is left out: 20 table data, 10 table");
    expect(details.querySelectorAll("li")).toHaveLength(30);
  });
});
