import { describe, expect, it } from "vitest";
import type { ArchiveItem } from "$lib/ipc";
import { DATABASE_WIDE, groupItems, selectionFor } from "./ArchiveContents.svelte";

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
