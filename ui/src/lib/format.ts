// Small formatting helpers for sizes, counts and times shown in the tree and the details panes.

const UNITS = ["kB", "MB", "GB", "TB", "PB"];

/** A byte count the way pg_size_pretty shows it: "512 bytes", "7.5 MB", "120 GB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return "unknown size";
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value < 10 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value).toString();
  return `${text} ${UNITS[unit]}`;
}

const counts = new Intl.NumberFormat("en-US");

/** "1 table", "12 tables", "1,234 rows". */
export function plural(count: number, one: string, many: string = `${one}s`): string {
  return `${counts.format(count)} ${count === 1 ? one : many}`;
}

/** The planner's row estimate, marked as an estimate: "~1,234 rows". */
export function formatEstimatedRows(rows: number): string {
  return `~${plural(Math.max(0, Math.round(rows)), "row")}`;
}

/** An RFC 3339 time in the user's locale, or "never" when there is none. */
export function formatWhen(when: string | Date | null | undefined): string {
  if (when === null || when === undefined) return "never";
  const date = when instanceof Date ? when : new Date(when);
  if (Number.isNaN(date.getTime())) return String(when);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "yes" / "no" for a flag in a sentence. */
export function yesNo(flag: boolean): string {
  return flag ? "yes" : "no";
}

/** The one-line result of a successful connection check. */
export function checkSummary(report: {
  serverVersion: string;
  user: string;
  isSuperuser: boolean;
  canCreateDb: boolean;
  ssl: boolean;
}): string {
  return (
    `Connected to PostgreSQL ${report.serverVersion} as ${report.user} — ` +
    `superuser: ${yesNo(report.isSuperuser)}, can create databases: ${yesNo(report.canCreateDb)}, ` +
    `SSL: ${report.ssl ? "on" : "off"}`
  );
}

/** A duration for people: "0.4 s", "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "unknown";
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** "12 table data, 3 index", most first: how many entries of each kind. */
export function countByKind(entries: { kind: string }[]): string {
  const counts = new Map<string, number>();
  for (const entry of entries) counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1);
  return [...counts]
    .sort(([a, m], [b, n]) => n - m || a.localeCompare(b))
    .map(([kind, n]) => `${n} ${kind.toLowerCase()}`)
    .join(", ");
}
