// The file names a backup gets, computed here only for the wizard's preview. The Rust side
// (src-tauri/engine/src/naming.rs) decides the real names; this mirrors its rules:
// `<db>-YYYY-MM-DD-HHMMSS.<ext>`, where the database part has the characters Windows forbids
// (< > : " / \ | ? * and control characters) replaced by "_", trailing dots and spaces turned
// into "_", Windows device names (CON, nul.txt, …) followed by "_", and `~` plus 8 hex digits of
// the SHA-256 of the original name appended whenever the name was changed or cut, or holds an
// uppercase letter, a "~" or a non-ASCII character.

import type { BackupFormat } from "$lib/ipc";

/** Most characters (UTF-16 units) and UTF-8 bytes of one file name. */
const MAX_COMPONENT_CHARS = 100;
const MAX_COMPONENT_BYTES = 200;
/** `.` plus the longest extension kept. */
const EXTENSION_ROOM = 11;
/** `-YYYY-MM-DD-HHMMSS` */
const DATE_CHARS = 18;
/** `~` plus 8 hex digits. */
const HASH_SUFFIX_CHARS = 9;

const FORBIDDEN = new Set(["<", ">", ":", '"', "/", "\\", "|", "?", "*"]);

const RESERVED = new Set([
  "CON", "PRN", "AUX", "NUL",
  ...["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"].flatMap((d) => [`COM${d}`, `LPT${d}`]),
]);

/** The extension of each format; a directory backup is a folder named like the stem. */
export const EXTENSIONS: Record<BackupFormat, string> = {
  custom: "backup",
  directory: "",
  tar: "tar",
  plain: "sql",
};

/** Rust's `char::is_control`: the C0 and C1 control characters and DEL. */
function isControl(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

function isForbidden(c: string): boolean {
  return FORBIDDEN.has(c) || isControl(c);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Plain lowercase ASCII without "~": kept bare, with no hash. */
function isCaseSafe(name: string): boolean {
  return Array.from(name).every((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x80 && !(c >= "A" && c <= "Z") && c !== "~";
  });
}

/** The longest prefix within both bounds, cut between characters. */
function cut(text: string, maxUnits: number, maxBytes: number): string {
  let units = 0;
  let bytes = 0;
  let end = 0;
  for (const c of text) {
    units += c.length;
    bytes += utf8Length(c);
    if (units > maxUnits || bytes > maxBytes) break;
    end += c.length;
  }
  return text.slice(0, end);
}

function sanitizeWithin(name: string, maxUnits: number, maxBytes: number): string {
  let text = Array.from(name, (c) => (isForbidden(c) ? "_" : c)).join("");

  if (/^\.*$/.test(text)) {
    text = "_";
  } else {
    const kept = text.replace(/[. ]+$/, "");
    text = kept + "_".repeat(text.length - kept.length);
  }

  const head = text.split(".")[0].replace(/ +$/, "");
  // ASCII uppercasing only, as Rust's to_ascii_uppercase.
  if (RESERVED.has(head.replace(/[a-z]/g, (c) => c.toUpperCase()))) {
    text = head + "_" + text.slice(head.length);
  }

  const fits = text.length <= maxUnits && utf8Length(text) <= maxBytes;
  if (fits && text === name && isCaseSafe(name)) return text;

  return `${cut(text, maxUnits - HASH_SUFFIX_CHARS, maxBytes - HASH_SUFFIX_CHARS)}~${sha256Hex(name).slice(0, 8)}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `-YYYY-MM-DD-HHMMSS` in local time. */
function datePart(at: Date): string {
  const year = Math.min(Math.max(at.getFullYear(), 0), 9999);
  return (
    `-${pad(year, 4)}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `-${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`
  );
}

/** `<safe db>-YYYY-MM-DD-HHMMSS`, e.g. `shop-2026-11-21-134501`. */
export function backupStem(database: string, at: Date): string {
  const room = DATE_CHARS + EXTENSION_ROOM;
  return sanitizeWithin(database, MAX_COMPONENT_CHARS - room, MAX_COMPONENT_BYTES - room) + datePart(at);
}

/** One path component made safe on Windows, macOS and Linux (e.g. a schema name). */
export function safeComponent(name: string): string {
  return sanitizeWithin(name, MAX_COMPONENT_CHARS, MAX_COMPONENT_BYTES);
}

/** The stem plus the format's extension (a directory backup is the stem alone). */
export function withExtension(stem: string, format: BackupFormat): string {
  const extension = EXTENSIONS[format];
  return extension === "" ? stem : `${stem}.${extension}`;
}

/** The name of the backup of `database` taken at `at`, e.g. `shop-2026-11-21-134501.backup`. */
export function backupFileName(database: string, at: Date, format: BackupFormat): string {
  return withExtension(backupStem(database, at), format);
}

// ---- SHA-256 (FIPS 180-4), synchronous, for the 8 hex digits of the name hash. ----

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The SHA-256 of the UTF-8 bytes of `text`, in lowercase hex. */
export function sha256Hex(text: string): string {
  const data = new TextEncoder().encode(text);
  const length = Math.ceil((data.length + 9) / 64) * 64;
  const bytes = new Uint8Array(length);
  bytes.set(data);
  bytes[data.length] = 0x80;
  const view = new DataView(bytes.buffer);
  const bits = data.length * 8;
  view.setUint32(length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(length - 4, bits >>> 0);

  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}
