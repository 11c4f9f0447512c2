import { describe, expect, it } from "vitest";
import { countByKind, formatBytes, formatDuration, formatEstimatedRows, formatWhen, plural, yesNo } from "./format";

describe("formatBytes", () => {
  it.each([
    [0, "0 bytes"],
    [1, "1 byte"],
    [1023, "1023 bytes"],
    [1024, "1 kB"],
    [1536, "1.5 kB"],
    [8 * 1024 * 1024 + 300 * 1024, "8.3 MB"],
    [120 * 1024 * 1024, "120 MB"],
    [3 * 1024 ** 4, "3 TB"],
  ])("%d bytes → %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it("says so when the size is unknown", () => {
    expect(formatBytes(null)).toBe("unknown size");
  });
});

describe("counts", () => {
  it("pluralises and groups digits", () => {
    expect(plural(1, "table")).toBe("1 table");
    expect(plural(2, "table")).toBe("2 tables");
    expect(formatEstimatedRows(1234567)).toBe("~1,234,567 rows");
    expect(formatEstimatedRows(1)).toBe("~1 row");
    expect(yesNo(true)).toBe("yes");
    expect(yesNo(false)).toBe("no");
  });
});

describe("formatWhen", () => {
  it("says never for a missing time", () => {
    expect(formatWhen(null)).toBe("never");
  });

  it("formats an RFC 3339 time", () => {
    const text = formatWhen("2025-03-04T05:06:07Z");
    expect(text).not.toBe("never");
    expect(text).toMatch(/2025/);
  });
});

describe("formatDuration", () => {
  it("shows tenths below ten seconds, then seconds, minutes and hours", () => {
    expect(formatDuration(0)).toBe("0.0 s");
    expect(formatDuration(437)).toBe("0.4 s");
    expect(formatDuration(9_940)).toBe("9.9 s");
    expect(formatDuration(12_400)).toBe("12 s");
    expect(formatDuration(185_000)).toBe("3 min 05 s");
    expect(formatDuration(3_725_000)).toBe("1 h 02 min");
    expect(formatDuration(null)).toBe("unknown");
    expect(formatDuration(-1)).toBe("unknown");
  });
});

describe("countByKind", () => {
  it("counts entries by kind, most first", () => {
    const entries = [{ kind: "TABLE" }, { kind: "TABLE DATA" }, { kind: "TABLE DATA" }, { kind: "ACL" }];
    expect(countByKind(entries)).toBe("2 table data, 1 acl, 1 table");
    expect(countByKind([])).toBe("");
  });
});
