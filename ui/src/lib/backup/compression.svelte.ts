// The compression part of a backup's "how": what the server's pg_dump allows per format (asked
// of the engine, which also refuses anything else), the user's choice, and what it turns into.

import {
  compressionChoices,
  type BackupFormat,
  type Compression,
  type CompressionChoices,
  type CompressionMethod,
  type FormatCompression,
  type MethodChoice,
} from "$lib/ipc";
import { toProblem, type Problem } from "$lib/problem";
import { Generation } from "$lib/generation";

export type ChoicesLoad =
  | { state: "idle" }
  | { state: "loading" }
  | { state: "ready"; choices: CompressionChoices }
  | { state: "failed"; problem: Problem };

/** "default": whatever the engine picks for the format and the server (nothing is sent). */
export type MethodPick = CompressionMethod | "default";

export function describeCompression(compression: Compression): string {
  return compression.level === null ? compression.method : `${compression.method}:${compression.level}`;
}

export class CompressionDraft {
  choices = $state.raw<ChoicesLoad>({ state: "idle" });
  method = $state<MethodPick>("default");
  /** null (or undefined, an emptied number field): the method's default level. */
  level = $state<number | null | undefined>(null);

  readonly #generation = new Generation();

  /** `format` reads the backup's format (a $state of the draft that owns this). */
  constructor(private readonly formatOf: () => BackupFormat) {}

  /** What this format allows with the server's pg_dump, once known. */
  readonly forFormat = $derived<FormatCompression | null>(
    this.choices.state === "ready" ? (this.choices.choices.formats.find((f) => f.format === this.formatOf()) ?? null) : null,
  );

  /** The methods to offer besides "default" (the default first); none until the server answered. */
  readonly offered = $derived<MethodChoice[]>(this.forFormat?.methods ?? []);

  /**
   * The method in effect: a method the format does not allow (tar after zstd was picked for
   * custom) falls back to the default rather than being sent and refused.
   */
  readonly pick = $derived<MethodPick>(
    this.method !== "default" && this.offered.some((m) => m.method === this.method) ? this.method : "default",
  );

  /** The picked method's levels; null for "default" and "none". */
  readonly levels = $derived(
    this.pick === "default" ? null : (this.offered.find((m) => m.method === this.pick)?.levels ?? null),
  );

  readonly validLevel = $derived(
    this.levels === null ||
      this.level == null ||
      (Number.isInteger(this.level) && this.level >= this.levels.min && this.level <= this.levels.max),
  );

  /** The default for the format, as the engine will apply it, e.g. "zstd". */
  readonly defaultLabel = $derived(this.forFormat ? this.forFormat.default.method : null);

  /** One sentence under the choice: why the default is the default, or what the pick is good for. */
  readonly note = $derived.by(() => {
    if (this.choices.state === "failed") {
      return `The server's version could not be read (${this.choices.problem.message}), so only the default is offered: zstd when the server runs PostgreSQL 16 or newer, gzip before; tar and plain SQL are not compressed.`;
    }
    if (!this.forFormat) return "Asking the server which compression its pg_dump has…";
    if (this.pick === "default") return `Default: ${this.forFormat.why}`;
    const chosen = this.offered.find((m) => m.method === this.pick);
    return chosen ? `${chosen.method}: ${chosen.note}.` : "";
  });

  /** Asks the engine what the profile's server allows; the newest answer wins. */
  async load(profile: string): Promise<void> {
    const current = this.#generation.next();
    if (!profile) {
      this.choices = { state: "idle" };
      return;
    }
    this.choices = { state: "loading" };
    try {
      const choices = await compressionChoices({ profile });
      if (current()) this.choices = { state: "ready", choices };
    } catch (error) {
      if (current()) this.choices = { state: "failed", problem: toProblem(error) };
    }
  }

  pickMethod(method: MethodPick): void {
    this.method = method;
    this.level = null;
  }

  /** What the backup request carries: null for the engine's default. */
  request(): Compression | null {
    if (this.pick === "default") return null;
    return { method: this.pick, level: this.levels === null ? null : (this.level ?? null) };
  }
}
