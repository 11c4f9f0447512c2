// What the backup test ("restore drill") wizard's user chose so far: which backup, where to
// restore it, and the smoke checks for its database. `request()` is what the drill starts with.

import {
  appInfo,
  backupDatabaseName,
  listSmokeChecks,
  pickFile,
  pickUntestedBackup,
  saveSmokeChecks,
  type DrillRequest,
  type DrillStepKind,
  type Expectation,
  type SmokeCheck,
} from "$lib/ipc";
import { formatWhen } from "$lib/format";
import { problemSentence } from "$lib/problem";
import { Generation } from "$lib/generation";

export const STAGES: { kind: DrillStepKind; title: string }[] = [
  { kind: "integrity", title: "Integrity: checksums and a full read" },
  { kind: "restore", title: "Restore into a scratch database" },
  { kind: "compare", title: "Compare with the backup's baseline" },
  { kind: "amcheck", title: "Check tables and indexes (pg_amcheck)" },
  { kind: "smoke_checks", title: "Your smoke checks" },
  { kind: "cleanup", title: "Clean up" },
];

export type ExpectKind = Expectation["kind"];

/** An editor row: the expectation's value as typed. */
export type CheckRow = { label: string; sql: string; kind: ExpectKind; value: string };

export function toRow(check: SmokeCheck): CheckRow {
  const e = check.expect;
  const value = e.kind === "at_least" ? String(e.value) : e.kind === "equals" ? e.value : "";
  return { label: check.label, sql: check.sql, kind: e.kind, value };
}

/** The rows as checks; rows without SQL are dropped, a bad number is an error message. */
export function toChecks(rows: CheckRow[]): SmokeCheck[] | string {
  const checks: SmokeCheck[] = [];
  for (const row of rows) {
    if (row.sql.trim() === "") continue;
    let expect: Expectation;
    if (row.kind === "at_least") {
      const value = Number(row.value);
      if (row.value.trim() === "" || !Number.isInteger(value)) return `"${row.label || row.sql}" needs a whole number.`;
      expect = { kind: "at_least", value };
    } else if (row.kind === "equals") {
      expect = { kind: "equals", value: row.value };
    } else {
      expect = { kind: row.kind };
    }
    checks.push({ label: row.label.trim(), sql: row.sql.trim(), expect });
  }
  return checks;
}

export class DrillDraft {
  source = $state("");
  /** What picking a backup found (or why it could not). */
  note = $state<string | null>(null);
  /** The major of the practice server, once known; null: this Lifeboat has none. */
  practiceMajor = $state<number | null | undefined>(undefined);
  /** Why the bundled practice server cannot run here (Lifeboat runs as root). */
  practiceProblem = $state<string | null>(null);
  where = $state<"practice" | "profile">("practice");
  profile = $state("");
  keep = $state(false);
  /** Download a plain http:// source although it is not encrypted (after a test refused it). */
  allowHttp = $state(false);

  /** The database whose smoke checks are edited (guessed from the backup's name). */
  database = $state("");
  rows = $state<CheckRow[]>([]);
  /** The database the rows were loaded for. */
  checksLoaded = $state<string | null>(null);
  checksProblem = $state<string | null>(null);

  /** The last question about the backup's name; a later one replaces an earlier answer. */
  #guess: Promise<void> = Promise.resolve();
  readonly #guesses = new Generation();

  constructor(
    readonly profiles: string[],
    source: string | null,
  ) {
    this.source = source ?? "";
    this.profile = profiles[0] ?? "";
    void this.guessDatabase(this.source);
  }

  /**
   * Sets the database from the backup's name, as the engine reads Lifeboat's names (the restore
   * reads them the same way). Without an answer the field stays as it is, for the user to fill.
   */
  guessDatabase(source: string): Promise<void> {
    const current = this.#guesses.next();
    this.#guess = (async () => {
      if (source.trim() === "") return;
      try {
        const name = await backupDatabaseName(source);
        if (current()) this.database = name;
      } catch {
        // Outside the app window there is no engine to ask; the user names the database.
      }
    })();
    return this.#guess;
  }

  readonly canGoOn = $derived(
    this.source.trim() !== "" && (this.where === "practice" ? !!this.practiceMajor : this.profile !== ""),
  );

  /** Whether this Lifeboat has a practice server that can run here; without one, a server is chosen. */
  async loadPractice(): Promise<void> {
    try {
      const info = await appInfo();
      this.practiceProblem = info.practiceServerProblem;
      this.practiceMajor = info.practiceServerProblem === null ? info.practiceServerMajor : null;
      if (this.practiceMajor === null) this.where = "profile";
    } catch {
      this.practiceMajor = null;
    }
  }

  sourceTyped(): void {
    void this.guessDatabase(this.source);
  }

  async chooseFile(): Promise<void> {
    this.note = null;
    try {
      const chosen = await pickFile(this.source.trim() || undefined);
      if (chosen !== null) {
        this.source = chosen;
        await this.guessDatabase(chosen);
      }
    } catch (error) {
      this.note = problemSentence(error);
    }
  }

  async pickForMe(): Promise<void> {
    this.note = null;
    try {
      const record = await pickUntestedBackup({ database: null });
      if (record === null || record.manifestPath === null) {
        this.note = "Every backup in the catalog has been tested. Choose a file, or make a new backup.";
        return;
      }
      this.source = record.manifestPath;
      this.#guesses.next();
      this.database = record.database;
      this.note = `Picked the untested backup of ${record.database} from ${formatWhen(record.startedAt)}.`;
    } catch (error) {
      this.note = problemSentence(error);
    }
  }

  /** The saved checks of the database, unless they are loaded already. */
  async loadChecks(): Promise<void> {
    await this.#guess;
    const name = this.database.trim();
    if (name === "" || this.checksLoaded === name) return;
    this.checksProblem = null;
    try {
      this.rows = (await listSmokeChecks({ database: name })).map(toRow);
      this.checksLoaded = name;
    } catch (error) {
      this.checksProblem = problemSentence(error);
    }
  }

  addRow(): void {
    this.rows = [...this.rows, { label: "", sql: "", kind: "rows", value: "" }];
  }

  removeRow(index: number): void {
    this.rows = this.rows.filter((_, i) => i !== index);
  }

  /** Saves the edited checks for the database: the checks, or null with `checksProblem` saying why not. */
  async saveChecks(): Promise<SmokeCheck[] | null> {
    const checks = toChecks(this.rows);
    if (typeof checks === "string") {
      this.checksProblem = checks;
      return null;
    }
    this.checksProblem = null;
    await this.#guess;
    try {
      if (this.database.trim() !== "") await saveSmokeChecks({ database: this.database.trim(), checks });
    } catch (error) {
      this.checksProblem = problemSentence(error);
      return null;
    }
    return checks;
  }

  request(smokeChecks: SmokeCheck[]): DrillRequest {
    return {
      source: this.source.trim(),
      target: this.where === "practice" ? { kind: "practice" } : { kind: "profile", name: this.profile },
      keep: this.keep,
      smokeChecks,
      allowHttp: this.allowHttp,
    };
  }
}
