import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backupFileName, backupStem, safeComponent, sha256Hex } from "./naming";

// The same cases as the Rust tests in src-tauri/engine/src/naming.rs, so the preview shows what
// the backend will write.
const at = new Date(2026, 10, 21, 13, 45, 1);
const hash8 = (name: string) => createHash("sha256").update(name, "utf8").digest("hex").slice(0, 8);
const dbPart = (name: string) => backupStem(name, at).slice(0, -18);

describe("sha256Hex", () => {
  it("matches node:crypto for short, block-sized and multi-byte inputs", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for (const text of ["", "a".repeat(55), "a".repeat(56), "a".repeat(64), "日本😀".repeat(40)]) {
      expect(sha256Hex(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
    }
  });
});

describe("backup file names", () => {
  it("are <db>-YYYY-MM-DD-HHMMSS.<ext> in local time", () => {
    expect(backupStem("shop", at)).toBe("shop-2026-11-21-134501");
    expect(backupFileName("shop", at, "custom")).toBe("shop-2026-11-21-134501.backup");
    expect(backupFileName("shop", at, "tar")).toBe("shop-2026-11-21-134501.tar");
    expect(backupFileName("shop", at, "plain")).toBe("shop-2026-11-21-134501.sql");
    expect(backupFileName("shop", at, "directory")).toBe("shop-2026-11-21-134501");
    expect(backupStem("a", new Date(2016, 0, 2, 3, 4, 5))).toBe("a-2016-01-02-030405");
  });

  it("replace characters Windows forbids and control characters with _", () => {
    expect(dbPart("a/b")).toBe(`a_b~${hash8("a/b")}`);
    expect(dbPart("c:\\x")).toBe(`c__x~${hash8("c:\\x")}`);
    const name = 'say "hi" <now> | why? *';
    expect(safeComponent(name)).toBe(`say _hi_ _now_ _ why_ _~${hash8(name)}`);
    expect(safeComponent("tab\there\u007f\0")).toBe(`tab_here__~${hash8("tab\there\u007f\0")}`);
    expect(backupFileName("sales/eu:2024?", at, "custom")).toMatch(
      /^sales_eu_2024_~[0-9a-f]{8}-2026-11-21-134501\.backup$/,
    );
  });

  it("keep plain lowercase names bare and hash the others", () => {
    expect(dbPart("a_b")).toBe("a_b");
    expect(dbPart("my db")).toBe("my db");
    expect(dbPart("100%")).toBe("100%");
    expect(dbPart("Shop")).toBe(`Shop~${hash8("Shop")}`);
    expect(dbPart("café")).toBe(`café~${hash8("café")}`);
    expect(dbPart("日本")).toBe(`日本~${hash8("日本")}`);
    expect(dbPart("~")).toBe(`~~${hash8("~")}`);
  });

  it("handle device names, dots and trailing spaces", () => {
    expect(safeComponent("CON")).toBe(`CON_~${hash8("CON")}`);
    expect(safeComponent("nul.txt")).toBe(`nul_.txt~${hash8("nul.txt")}`);
    expect(safeComponent("com¹")).toBe(`com¹_~${hash8("com¹")}`);
    expect(safeComponent("aux .x")).toBe(`aux_ .x~${hash8("aux .x")}`);
    expect(safeComponent("console")).toBe("console");
    expect(safeComponent("com10")).toBe("com10");
    expect(dbPart("")).toBe(`_~${hash8("")}`);
    expect(dbPart("..")).toBe(`_~${hash8("..")}`);
    expect(dbPart("shop. ")).toBe(`shop__~${hash8("shop. ")}`);
    expect(safeComponent(".hidden")).toBe(".hidden");
    expect(backupFileName("con.backup", at, "custom")).toBe(
      `con_.backup~${hash8("con.backup")}-2026-11-21-134501.backup`,
    );
  });

  it("cut long names and keep their hash", () => {
    const long = "x".repeat(300);
    expect(dbPart(long)).toBe(`${"x".repeat(100 - 18 - 11 - 9)}~${hash8(long)}`);
    expect(dbPart("a".repeat(71))).toBe("a".repeat(71));
    expect(dbPart("a".repeat(72))).toContain("~");
    const emoji = "😀".repeat(300);
    const part = dbPart(emoji);
    expect(part.endsWith(`~${hash8(emoji)}`)).toBe(true);
    expect(part.length).toBeLessThanOrEqual(71);
    expect(Array.from(part.slice(0, -9)).every((c) => c === "😀")).toBe(true);
  });
});
