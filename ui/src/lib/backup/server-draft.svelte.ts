// The "Back up server" wizard's choices (where and how every database of one server is backed
// up) and, while it runs, which database it is at and how the earlier ones went.

import {
  defaultBackupFolder,
  pickFolder,
  type BackupFormat,
  type ProgressEvent,
  type ServerBackupOutcome,
  type StartServerBackup,
} from "$lib/ipc";
import { problemSentence, toProblem } from "$lib/problem";
import { CompressionDraft } from "./compression.svelte";
import { MAX_JOBS } from "./draft.svelte";

export class ServerBackupDraft {
  folder = $state("");
  folderNote = $state<string | null>(null);
  format = $state<BackupFormat>("custom");
  readonly compression = new CompressionDraft(() => this.format);
  jobs = $state<number | null>(2);

  constructor(readonly profile: string) {}

  readonly validJobs = $derived(
    this.format !== "directory" ||
      (typeof this.jobs === "number" && Number.isInteger(this.jobs) && this.jobs >= 1 && this.jobs <= MAX_JOBS),
  );

  readonly canStart = $derived(this.folder.trim() !== "" && this.validJobs && this.compression.validLevel);

  async loadDefaultFolder(): Promise<void> {
    try {
      const path = await defaultBackupFolder();
      if (this.folder === "") this.folder = path;
    } catch (error) {
      this.folderNote = `No default folder: ${toProblem(error).message} Choose one.`;
    }
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

  request(): StartServerBackup {
    return {
      profile: this.profile,
      destination: this.folder.trim(),
      format: this.format,
      compression: this.compression.request(),
      jobs: this.format === "directory" ? this.jobs : null,
      rolePasswords: false,
    };
  }
}

export type LiveState = "running" | "done" | "failed";

/**
 * Which database a running server backup is at, and how the ones before went: the engine
 * announces each database with a `stage` event and reports a failure as a warning naming it.
 */
export class ServerProgress {
  databases = $state<{ name: string; state: LiveState }[]>([]);
  total = $state(0);

  readonly current = $derived(this.databases.at(-1) ?? null);

  reset(): void {
    this.databases = [];
    this.total = 0;
  }

  onEvent(event: ProgressEvent): void {
    if (event.kind === "stage") {
      this.total = event.total;
      this.databases = [
        ...this.databases.map((d) => (d.state === "running" ? { ...d, state: "done" as const } : d)),
        { name: event.name, state: "running" },
      ];
    } else if (event.kind === "warning" && this.current?.state === "running") {
      if (event.message.startsWith(`The backup of ${this.current.name} failed:`)) {
        this.databases = this.databases.map((d, i) =>
          i === this.databases.length - 1 ? { ...d, state: "failed" as const } : d,
        );
      }
    }
  }
}

/** The result line of one database in the final table. */
export function resultOf(result: ServerBackupOutcome["databases"][number]): string {
  switch (result.state) {
    case "backed_up":
      return "Backed up";
    case "failed":
      return "Failed";
    case "skipped":
      return "Skipped";
  }
}
