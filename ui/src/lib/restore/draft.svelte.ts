// What the Restore wizard's user chose so far: which backup into which server, the plan the
// pre-flight check made for those choices, and what may change it. `request()` is what the
// check and the restore run with; a plan only counts for the request it was made for.

import { groupItems, selectionFor } from "$lib/components/ArchiveContents.svelte";
import { pickFile, preflightRestore, type RestorePlan, type RestoreRequest, type Severity } from "$lib/ipc";
import { problemSentence, toProblem, type Problem } from "$lib/problem";
import { Generation } from "$lib/generation";

export type Owner = "keep" | "none" | "role";
export type Mode = "new" | "replace";
export type Check = { state: "idle" } | { state: "checking" } | { state: "failed"; problem: Problem };

export const SEVERITY_TEXT: Record<Severity, string> = {
  blocker: "Blocker",
  warning: "Warning",
  info: "Info",
};

/** Whether two requests ask for the same restore. */
export function sameRequest(a: RestoreRequest | null, b: RestoreRequest): boolean {
  return (
    a !== null &&
    a.source === b.source &&
    a.profile === b.profile &&
    a.targetDatabase === b.targetDatabase &&
    a.noOwner === b.noOwner &&
    a.ownerRole === b.ownerRole &&
    a.replace === b.replace &&
    a.terminateConnections === b.terminateConnections &&
    a.continueOnErrors === b.continueOnErrors &&
    a.createRoles === b.createRoles &&
    a.createMissingRoles === b.createMissingRoles &&
    (a.allowHttp ?? false) === (b.allowHttp ?? false) &&
    JSON.stringify(a.selection) === JSON.stringify(b.selection)
  );
}

export class RestoreDraft {
  // Source and target server.
  source = $state("");
  profile = $state("");
  /** Why the file could not be chosen, with what to do. */
  sourceNote = $state<string | null>(null);

  // The plan and what may change it.
  check = $state.raw<Check>({ state: "idle" });
  plan = $state.raw<RestorePlan | null>(null);
  /** The request the plan was made for. */
  planned = $state.raw<RestoreRequest | null>(null);
  /** The name of the new dated database the backend proposes when no name is typed. */
  defaultName = $state<string | null>(null);
  target = $state("");
  /** Restore into a new database, or replace an existing one (kept under another name). */
  mode = $state<Mode>("new");
  replaceName = $state("");
  terminate = $state(false);
  /** The database name typed again to confirm replacing it. */
  confirmName = $state("");
  owner = $state<Owner>("keep");
  role = $state("");
  /** Archive entries not to restore (the contents tree). */
  unticked = $state.raw<ReadonlySet<number>>(new Set());
  continueOnErrors = $state(false);
  /** Create the roles the server lacks from the roles saved with the backup. */
  createRoles = $state(false);
  /** Create every other role the server lacks as a plain NOLOGIN role. */
  createMissingRoles = $state(false);
  /** Download a plain http:// source although it is not encrypted (after the check refused it). */
  allowHttp = $state(false);

  readonly #checkGeneration = new Generation();

  /** With a single profile there is nothing to choose. */
  constructor(
    readonly profiles: string[],
    profile: string | null,
    source: string | null,
  ) {
    this.profile = profile ?? (profiles.length === 1 ? profiles[0] : "");
    this.source = source ?? "";
  }

  /** The archive's contents, from the first check of this source. */
  readonly groups = $derived(groupItems(this.plan?.contents ?? []));

  readonly canCheck = $derived(
    this.source.trim() !== "" &&
      this.profile !== "" &&
      (this.owner !== "role" || this.role.trim() !== "") &&
      (this.mode !== "replace" || this.replaceName.trim() !== ""),
  );

  /** The choices changed since the plan was made: it must be checked again before starting. */
  readonly stale = $derived(this.plan !== null && !sameRequest(this.planned, this.request()));

  /** Replacing needs the database name typed again, exactly. */
  readonly confirmed = $derived(
    this.mode !== "replace" || (this.replaceName.trim() !== "" && this.confirmName === this.replaceName.trim()),
  );

  readonly canStart = $derived(
    this.plan !== null && !this.plan.blocked && !this.stale && this.confirmed && this.check.state !== "checking",
  );

  /** The name the replaced database will be kept under, once the check has named it. */
  readonly keptAs = $derived(
    this.plan !== null && this.plan.replace !== null && this.plan.replace === this.replaceName.trim()
      ? this.plan.keptAs
      : null,
  );

  readonly blockers = $derived(this.plan?.findings.filter((f) => f.severity === "blocker").length ?? 0);

  request(): RestoreRequest {
    const replace = this.mode === "replace";
    return {
      source: this.source.trim(),
      profile: this.profile,
      targetDatabase: replace || this.target.trim() === "" ? null : this.target.trim(),
      noOwner: this.owner === "none",
      ownerRole: this.owner === "role" && this.role.trim() !== "" ? this.role.trim() : null,
      jobs: null,
      replace: replace && this.replaceName.trim() !== "" ? this.replaceName.trim() : null,
      terminateConnections: replace && this.terminate,
      selection: selectionFor(this.groups, this.unticked),
      continueOnErrors: this.continueOnErrors,
      createRoles: this.createRoles,
      createMissingRoles: this.createMissingRoles,
      allowHttp: this.allowHttp,
    };
  }

  /** Whether to offer creating the missing roles as NOLOGIN roles: the plan names roles the server
   * lacks, or the option is on (so that it can be turned off again). */
  get offersMissingRoles(): boolean {
    if (this.createMissingRoles) return true;
    return this.plan?.findings.some((f) => f.code === "roles_missing") ?? false;
  }

  /** Whether a failed check can be fixed by allowing plain http for this source. */
  offersAllowHttp(problem: Problem): boolean {
    return problem.code === "plain_http_refused" && !this.allowHttp;
  }

  /** Runs the pre-flight check for the current choices: true when a new plan arrived. */
  async runCheck(): Promise<boolean> {
    if (!this.canCheck || this.check.state === "checking") return false;
    const current = this.#checkGeneration.next();
    const wanted = this.request();
    this.check = { state: "checking" };
    try {
      const result = await preflightRestore(wanted);
      if (!current()) return false;
      this.plan = result;
      this.planned = wanted;
      if (wanted.targetDatabase === null) this.defaultName = result.database;
      this.check = { state: "idle" };
      return true;
    } catch (error) {
      if (!current()) return false;
      this.check = { state: "failed", problem: toProblem(error) };
      return false;
    }
  }

  /** The source or server changed: a plan made for another one no longer applies. */
  sourceChanged(): void {
    this.plan = null;
    this.planned = null;
    this.defaultName = null;
    this.target = "";
    this.confirmName = "";
    this.unticked = new Set();
    this.createRoles = false;
    this.createMissingRoles = false;
    this.allowHttp = false;
    if (this.check.state === "failed") this.check = { state: "idle" };
  }

  async chooseFile(): Promise<void> {
    this.sourceNote = null;
    try {
      const chosen = await pickFile(this.source.trim() || undefined);
      if (chosen !== null) {
        this.source = chosen;
        this.sourceChanged();
      }
    } catch (error) {
      this.sourceNote = problemSentence(error);
    }
  }
}
