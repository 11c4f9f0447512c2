// What the Backup wizard's user chose so far: which database, which part of it, where and how.
// The step components render and edit these fields; the database and schema lists are loaded
// here, and `request()` is what the backup starts with.

import {
  defaultBackupFolder,
  listDatabases,
  listSchemas,
  pickFolder,
  type BackupFormat,
  type DatabaseInfo,
  type SchemaInfo,
  type StartBackup,
} from "$lib/ipc";
import type { Load } from "$lib/connections/state.svelte";
import { problemSentence, toProblem, type Problem } from "$lib/problem";
import { Generation } from "$lib/generation";
import { CompressionDraft } from "./compression.svelte";

export const FORMATS: { value: BackupFormat; label: string; note: string }[] = [
  {
    value: "custom",
    label: "Custom (recommended)",
    note: "One compressed file. Restore all of it or single tables, in parallel.",
  },
  {
    value: "directory",
    label: "Directory (parallel)",
    note: "A folder with one file per table, written by several workers at once. Fastest for big databases.",
  },
  {
    value: "tar",
    label: "Tar",
    note: "One uncompressed tar archive. Restores like Custom, but not in parallel.",
  },
  {
    value: "plain",
    label: "Plain SQL",
    note: "A readable SQL script, restored with psql. No selective or parallel restore.",
  },
];

/** Parallel workers a directory-format backup may use. */
export const MAX_JOBS = 8;

export type Content = "all" | "schema" | "data";

export class BackupDraft {
  // What.
  profile = $state("");
  database = $state("");
  databases = $state.raw<Load<DatabaseInfo>>({ state: "idle" });
  scopeOpen = $state(false);
  schemas = $state.raw<Load<SchemaInfo>>({ state: "idle" });
  checked = $state<Record<string, boolean>>({});
  content = $state<Content>("all");
  perSchema = $state(false);
  globals = $state(false);

  // Where and how.
  folder = $state("");
  /** Why the folder could not be proposed or chosen, with what to do. */
  folderNote = $state<string | null>(null);
  format = $state<BackupFormat>("custom");
  /** What the server's pg_dump allows for the format, and what was picked. */
  readonly compression = new CompressionDraft(() => this.format);
  jobs = $state<number | null>(2);
  /** Add to the backup what kept objects need from the schemas left out, instead of refusing. */
  keepNeeded = $state(false);
  /** Leave out of the backup what needs objects the scope leaves out (restores skip them), instead of refusing. */
  leaveOutDependents = $state(false);

  readonly #databaseGeneration = new Generation();
  readonly #schemaGeneration = new Generation();

  /** With a single profile there is nothing to choose. */
  constructor(
    readonly profiles: string[],
    profile: string | null,
    database: string | null,
  ) {
    this.profile = profile ?? (profiles.length === 1 ? profiles[0] : "");
    this.database = database ?? "";
  }

  /** The schemas to back up: empty (no filter) unless some were unchecked. */
  readonly chosenSchemas = $derived.by(() => {
    if (this.schemas.state !== "ready") return [];
    const names = this.schemas.items.map((s) => s.name).filter((name) => this.checked[name]);
    return names.length === this.schemas.items.length ? [] : names;
  });

  readonly noSchemaChecked = $derived(
    this.schemas.state === "ready" &&
      this.schemas.items.length > 0 &&
      this.schemas.items.every((s) => !this.checked[s.name]),
  );

  readonly canNext = $derived(this.profile !== "" && this.database !== "" && !this.noSchemaChecked);

  readonly validJobs = $derived(
    this.format !== "directory" ||
      (typeof this.jobs === "number" && Number.isInteger(this.jobs) && this.jobs >= 1 && this.jobs <= MAX_JOBS),
  );

  readonly canStart = $derived(this.folder.trim() !== "" && this.validJobs && this.compression.validLevel);

  readonly formatNote = $derived(FORMATS.find((f) => f.value === this.format)?.note ?? "");

  /** The one schema a one-file-per-schema preview names, if any. */
  readonly previewSchema = $derived(this.perSchema ? (this.chosenSchemas[0] ?? null) : null);

  readonly scopeSummary = $derived(
    [
      this.chosenSchemas.length === 0 ? "all schemas" : `schemas ${this.chosenSchemas.join(", ")}`,
      this.content === "all" ? "data and definitions" : this.content === "schema" ? "only definitions" : "only data",
      ...(this.perSchema ? ["one file per schema"] : []),
      ...(this.globals ? ["with roles and tablespaces"] : []),
    ].join(" · "),
  );

  /** The folder the backend proposes, unless one was typed already. */
  async loadDefaultFolder(): Promise<void> {
    try {
      const path = await defaultBackupFolder();
      if (this.folder === "") this.folder = path;
    } catch (error) {
      this.folderNote = `No default folder: ${toProblem(error).message} Choose one.`;
    }
  }

  async loadDatabases(): Promise<void> {
    const current = this.#databaseGeneration.next();
    this.databases = { state: "loading" };
    try {
      const items = await listDatabases({ profile: this.profile });
      if (!current()) return;
      this.databases = { state: "ready", items };
      if (!items.some((d) => d.name === this.database && d.sizeBytes !== null)) this.database = "";
    } catch (error) {
      if (!current()) return;
      this.databases = { state: "failed", problem: toProblem(error) };
    }
  }

  profileChanged(): void {
    this.database = "";
    this.#resetSchemas();
    void this.compression.load(this.profile);
    if (this.profile) void this.loadDatabases();
    else this.databases = { state: "idle" };
  }

  databaseChanged(): void {
    this.#resetSchemas();
    if (this.scopeOpen && this.database) void this.loadSchemas();
  }

  #resetSchemas(): void {
    this.#schemaGeneration.next();
    this.schemas = { state: "idle" };
    this.checked = {};
  }

  async loadSchemas(): Promise<void> {
    const current = this.#schemaGeneration.next();
    this.schemas = { state: "loading" };
    try {
      const items = await listSchemas({ profile: this.profile, database: this.database });
      if (!current()) return;
      this.checked = Object.fromEntries(items.map((s) => [s.name, true]));
      this.schemas = { state: "ready", items };
    } catch (error) {
      if (!current()) return;
      this.schemas = { state: "failed", problem: toProblem(error) };
    }
  }

  toggleScope(): void {
    this.scopeOpen = !this.scopeOpen;
    if (this.scopeOpen && this.database && (this.schemas.state === "idle" || this.schemas.state === "failed")) {
      void this.loadSchemas();
    }
  }

  checkAll(value: boolean): void {
    if (this.schemas.state !== "ready") return;
    this.checked = Object.fromEntries(this.schemas.items.map((s) => [s.name, value]));
  }

  async chooseFolder(): Promise<void> {
    this.folderNote = null;
    try {
      const chosen = await pickFolder(this.folder.trim() || undefined);
      if (chosen !== null) this.folder = chosen;
    } catch (error) {
      this.folderNote = problemSentence(error);
    }
  }

  /** Whether a failed run can be fixed by keeping what the backup's kept objects need. */
  offersKeepNeeded(problem: Problem): boolean {
    return problem.code === "backup_has_broken_dependencies" && !this.keepNeeded;
  }

  /**
   * Whether a failed run can be fixed by leaving out what needs objects the scope leaves out:
   * still offered after keeping what they need failed, as some needs cannot be kept (a
   * one-schema backup never carries a transform).
   */
  offersLeaveOut(problem: Problem): boolean {
    return problem.code === "backup_has_broken_dependencies" && !this.leaveOutDependents;
  }

  request(): StartBackup {
    return {
      profile: this.profile,
      database: this.database,
      destination: this.folder.trim(),
      format: this.format,
      compression: this.compression.request(),
      scope: {
        schemas: this.chosenSchemas,
        excludeSchemas: [],
        tables: [],
        excludeTables: [],
        dataOnly: this.content === "data",
        schemaOnly: this.content === "schema",
      },
      perSchema: this.perSchema,
      jobs: this.format === "directory" ? this.jobs : null,
      globals: this.globals,
      rolePasswords: false,
      keepNeeded: this.keepNeeded,
      leaveOutDependents: this.leaveOutDependents,
    };
  }
}
