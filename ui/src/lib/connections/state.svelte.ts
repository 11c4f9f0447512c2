// The state of the server tree: profiles, and under each the databases, schemas and tables,
// each level loaded when it is first expanded. Components render these objects; all IPC calls
// of the tree happen here.

import {
  checkProfile,
  createPracticeDatabase,
  listDatabases,
  listProfiles,
  listSchemas,
  listTables,
  removeProfile,
  type Attention,
  type CheckReport,
  type DatabaseInfo,
  type Profile,
  type SchemaInfo,
  type TableInfo,
} from "$lib/ipc";
import { toProblem, type Problem } from "$lib/problem";
import { Generation } from "$lib/generation";
import { Watch, type DatabaseKey } from "$lib/watch/state.svelte";
import { Activity } from "$lib/activity/state.svelte";

/** How long a check from the tree waits for a silent server. */
export const CHECK_TIMEOUT_SECS = 10;

/** One level of children: not asked for yet, on its way, there, or failed. */
export type Load<T> =
  | { state: "idle" }
  | { state: "loading" }
  | { state: "ready"; items: T[] }
  | { state: "failed"; problem: Problem };

/** What the last connection of a profile showed. */
export type Status = "unknown" | "ok" | "failed";

export class SchemaNode {
  expanded = $state(false);
  tables = $state.raw<Load<TableInfo>>({ state: "idle" });
  readonly #generation = new Generation();

  constructor(
    readonly database: DatabaseNode,
    readonly info: SchemaInfo,
  ) {}

  get key(): string {
    return this.info.name;
  }

  async toggle(): Promise<void> {
    this.expanded = !this.expanded;
    if (this.expanded && (this.tables.state === "idle" || this.tables.state === "failed")) {
      await this.load();
    }
  }

  async load(): Promise<void> {
    const current = this.#generation.next();
    const profile = this.database.profile;
    this.tables = { state: "loading" };
    try {
      const items = await listTables({
        profile: profile.name,
        database: this.database.info.name,
        schema: this.info.name,
      });
      if (!current()) return;
      this.tables = { state: "ready", items };
      profile.connected();
    } catch (error) {
      if (!current()) return;
      const problem = toProblem(error);
      this.tables = { state: "failed", problem };
      profile.failed(problem);
    }
  }
}

export class DatabaseNode {
  /** The database's facts; replaced when the profile re-reads them (e.g. after a backup). */
  info = $state.raw<DatabaseInfo>() as DatabaseInfo;
  expanded = $state(false);
  schemas = $state.raw<Load<SchemaNode>>({ state: "idle" });
  readonly #generation = new Generation();

  constructor(
    readonly profile: ProfileNode,
    info: DatabaseInfo,
  ) {
    this.info = info;
  }

  get key(): string {
    return this.info.name;
  }

  async toggle(): Promise<void> {
    this.expanded = !this.expanded;
    if (this.expanded && (this.schemas.state === "idle" || this.schemas.state === "failed")) {
      await this.load();
    }
  }

  /** Loads the schemas; schemas that were open before stay open and reload their tables. */
  async load(): Promise<void> {
    const current = this.#generation.next();
    const open = openKeys(this.schemas);
    this.schemas = { state: "loading" };
    try {
      const infos = await listSchemas({ profile: this.profile.name, database: this.info.name });
      if (!current()) return;
      const items = infos.map((info) => new SchemaNode(this, info));
      this.schemas = { state: "ready", items };
      this.profile.connected();
      await Promise.all(items.filter((s) => open.has(s.key)).map((s) => s.toggle()));
    } catch (error) {
      if (!current()) return;
      const problem = toProblem(error);
      this.schemas = { state: "failed", problem };
      this.profile.failed(problem);
    }
  }
}

export class ProfileNode {
  profile = $state.raw<Profile>() as Profile;
  expanded = $state(false);
  databases = $state.raw<Load<DatabaseNode>>({ state: "idle" });
  status = $state<Status>("unknown");
  /** Why the last connection failed, when status is "failed". */
  problem = $state.raw<Problem | null>(null);
  /** What the last successful Test connection found. */
  report = $state.raw<CheckReport | null>(null);
  /** When the profile last connected or failed to. */
  checkedAt = $state.raw<Date | null>(null);
  /** A Test connection is running. */
  checking = $state(false);
  readonly #generation = new Generation();

  constructor(profile: Profile) {
    this.profile = profile;
  }

  get name(): string {
    return this.profile.settings.name;
  }

  /** The dot's tooltip: the server version, or what went wrong. */
  get statusText(): string {
    if (this.status === "failed") return this.problem?.message ?? "The last connection failed.";
    if (this.status === "ok") {
      return this.report ? `Connected — PostgreSQL ${this.report.serverVersion}` : "Connected";
    }
    return "Not checked yet";
  }

  connected(): void {
    this.status = "ok";
    this.problem = null;
    this.checkedAt = new Date();
  }

  failed(problem: Problem): void {
    this.status = "failed";
    this.problem = problem;
    this.checkedAt = new Date();
  }

  /** New settings: everything learnt about the old ones is forgotten. */
  replace(profile: Profile): void {
    this.#generation.next();
    this.profile = profile;
    this.expanded = false;
    this.databases = { state: "idle" };
    this.status = "unknown";
    this.problem = null;
    this.report = null;
    this.checkedAt = null;
  }

  async toggle(): Promise<void> {
    this.expanded = !this.expanded;
    if (this.expanded && (this.databases.state === "idle" || this.databases.state === "failed")) {
      await this.load();
    }
  }

  /** Reloads the databases (this counts as a check); open databases stay open and reload. */
  async refresh(): Promise<void> {
    this.expanded = true;
    await this.load();
  }

  async load(): Promise<void> {
    const current = this.#generation.next();
    const open = openKeys(this.databases);
    this.databases = { state: "loading" };
    try {
      const infos = await listDatabases({ profile: this.name });
      if (!current()) return;
      const items = infos.map((info) => new DatabaseNode(this, info));
      this.databases = { state: "ready", items };
      this.connected();
      await Promise.all(items.filter((d) => open.has(d.key)).map((d) => d.toggle()));
    } catch (error) {
      if (!current()) return;
      const problem = toProblem(error);
      this.databases = { state: "failed", problem };
      this.failed(problem);
    }
  }

  /**
   * Re-reads the facts of the listed databases (size, last backup) without collapsing or
   * replacing anything: open nodes stay open and a selected database stays selected.
   */
  async reloadFacts(): Promise<void> {
    if (this.databases.state !== "ready") return;
    const current = this.#generation.next();
    try {
      const infos = await listDatabases({ profile: this.name });
      if (!current() || this.databases.state !== "ready") return;
      const known = new Map(this.databases.items.map((d) => [d.key, d]));
      const items = infos.map((info) => {
        const node = known.get(info.name);
        if (!node) return new DatabaseNode(this, info);
        node.info = info;
        return node;
      });
      this.databases = { state: "ready", items };
      this.connected();
    } catch {
      // The tree keeps what it showed; the next refresh will tell what is wrong.
    }
  }

  /** Test connection: version, rights and SSL of the saved profile. */
  async check(): Promise<void> {
    this.checking = true;
    try {
      const report = await checkProfile({ name: this.name, timeoutSecs: CHECK_TIMEOUT_SECS });
      this.report = report;
      this.connected();
    } catch (error) {
      this.report = null;
      this.failed(toProblem(error));
    } finally {
      this.checking = false;
    }
  }
}

function openKeys(load: Load<{ key: string; expanded: boolean }>): Set<string> {
  if (load.state !== "ready") return new Set();
  return new Set(load.items.filter((item) => item.expanded).map((item) => item.key));
}

export type Selection =
  | { kind: "profile"; node: ProfileNode }
  | { kind: "database"; node: DatabaseNode };

export type Dialog =
  | { kind: "add" }
  | { kind: "edit"; node: ProfileNode }
  | { kind: "remove"; node: ProfileNode }
  | { kind: "backup"; profile: string | null; database: string | null }
  | { kind: "serverBackup"; profile: string }
  | { kind: "restore"; profile: string | null; source: string | null }
  | { kind: "drill"; source: string | null }
  | { kind: "schedule"; profile: string; database: string };

/** How the watch names a database of the tree: its server's address and its name. */
export function databaseKey(node: DatabaseNode): DatabaseKey {
  const settings = node.profile.profile.settings;
  return { host: settings.host, port: settings.port, database: node.info.name };
}

/** What the main area shows: the tree's selection, every backup, or the activity. */
export type MainView = "servers" | "backups" | "activity";

/** Everything the server tree and the details pane share. */
export class Connections {
  /** What the main area shows; selecting something in the tree goes back to "servers". */
  view = $state<MainView>("servers");
  profiles = $state.raw<Load<ProfileNode>>({ state: "idle" });
  selection = $state.raw<Selection | null>(null);
  dialog = $state.raw<Dialog | null>(null);
  /** Goes up after every finished backup, so lists of backups know to reload. */
  backupsRevision = $state(0);
  /** What needs attention, for the welcome page and each database's details. */
  readonly watch = new Watch();
  /** The jobs of this window and the finished ones, for the Activity view. */
  readonly activity = new Activity();

  get nodes(): ProfileNode[] {
    return this.profiles.state === "ready" ? this.profiles.items : [];
  }

  async load(): Promise<void> {
    this.profiles = { state: "loading" };
    try {
      const profiles = await listProfiles();
      this.profiles = { state: "ready", items: profiles.map((p) => new ProfileNode(p)) };
    } catch (error) {
      this.profiles = { state: "failed", problem: toProblem(error) };
    }
  }

  select(selection: Selection | null): void {
    this.selection = selection;
    this.view = "servers";
  }

  /** Switches the main area. */
  show(view: MainView): void {
    this.view = view;
  }

  isSelected(node: ProfileNode | DatabaseNode): boolean {
    return this.selection?.node === node;
  }

  openAdd(): void {
    this.dialog = { kind: "add" };
  }

  openEdit(node: ProfileNode): void {
    this.dialog = { kind: "edit", node };
  }

  openRemove(node: ProfileNode): void {
    this.dialog = { kind: "remove", node };
  }

  /** Opens the Backup wizard, with the profile and database preselected when given. */
  openBackup(profile: ProfileNode | null = null, database: DatabaseNode | null = null): void {
    this.dialog = { kind: "backup", profile: (database?.profile ?? profile)?.name ?? null, database: database?.key ?? null };
  }

  /** Opens the "Back up server" wizard: every database of the profile's server. */
  openServerBackup(profile: ProfileNode): void {
    this.dialog = { kind: "serverBackup", profile: profile.name };
  }

  /** Opens the Backup wizard for what is selected in the tree, if anything. */
  openBackupForSelection(): void {
    const selected = this.selection;
    if (selected?.kind === "database") this.openBackup(null, selected.node);
    else if (selected?.kind === "profile") this.openBackup(selected.node);
    else this.openBackup();
  }

  /** Opens the Restore wizard, with the target profile and the source preselected when given. */
  openRestore(profile: string | null = null, source: string | null = null): void {
    this.dialog = { kind: "restore", profile, source };
  }

  /** Opens the Restore wizard for the server of what is selected in the tree, if anything. */
  openRestoreForSelection(): void {
    const selected = this.selection;
    if (selected?.kind === "database") this.openRestore(selected.node.profile.name);
    else if (selected?.kind === "profile") this.openRestore(selected.node.name);
    else this.openRestore();
  }

  /** Opens the backup test (restore drill) wizard, with the backup preselected when given. */
  openDrill(source: string | null = null): void {
    this.dialog = { kind: "drill", source };
  }

  /** Opens the schedule editor of a database. */
  openSchedule(profile: string, database: string): void {
    this.dialog = { kind: "schedule", profile, database };
  }

  /** Opens what fixes a "needs attention" item (its button, or a click on its notification). */
  async openFix(item: Attention): Promise<void> {
    const { profile, database } = item.database;
    switch (item.action.kind) {
      case "test_backup":
        this.openDrill(item.action.manifestPath);
        return;
      case "back_up_now":
        this.dialog = { kind: "backup", profile, database };
        return;
      case "open_schedule":
        this.openSchedule(profile, database);
        return;
      case "open_backups":
        await this.reveal(profile, database);
        return;
    }
  }

  /** A drill ended: backup lists show the new test status, the tree the last test date. */
  async drilled(): Promise<void> {
    this.backupsRevision++;
    void this.watch.refresh();
    await Promise.all(this.nodes.map((n) => n.reloadFacts()));
  }

  /** A restore finished: the profile's databases show the new one. */
  async restored(profile: string): Promise<void> {
    await this.nodes.find((n) => n.name === profile)?.reloadFacts();
  }

  /** Closes the dialog, reloads the profile's databases and selects `database` in the tree. */
  async reveal(profile: string, database: string): Promise<void> {
    this.dialog = null;
    const node = this.nodes.find((n) => n.name === profile);
    if (!node) return;
    await node.refresh();
    if (node.databases.state !== "ready") {
      this.select({ kind: "profile", node });
      return;
    }
    const found = node.databases.items.find((d) => d.key === database);
    this.select(found ? { kind: "database", node: found } : { kind: "profile", node });
  }

  /** A backup finished: lists of backups reload and the profile's databases show the new date. */
  async backedUp(profile: string): Promise<void> {
    this.backupsRevision++;
    void this.watch.refresh();
    await this.nodes.find((n) => n.name === profile)?.reloadFacts();
  }

  closeDialog(): void {
    this.dialog = null;
  }

  /** Test connection from the tree or the details pane; the result shows in the details pane. */
  async test(node: ProfileNode): Promise<void> {
    this.select({ kind: "profile", node });
    await node.check();
  }

  /** A profile was saved by the dialog: show it in the tree, sorted, and select it. */
  saved(profile: Profile, edited: ProfileNode | null): void {
    let node = edited;
    const others = this.nodes.filter((n) => n !== edited);
    if (node) node.replace(profile);
    else node = new ProfileNode(profile);
    const items = [...others, node].sort((a, b) =>
      a.name.localeCompare(b.name, undefined, { sensitivity: "base" }),
    );
    this.profiles = { state: "ready", items };
    this.dialog = null;
    this.select({ kind: "profile", node });
  }

  /** Whether a profile reaches the practice database (made by `tryPractice`). */
  get hasPractice(): boolean {
    return this.nodes.some((n) => n.profile.settings.passwordSource === "practice");
  }

  /**
   * Sets the practice database up (or finds it; its server is started) and shows it: its
   * profile in the tree, open, with the sample database selected. Throws for the caller to show.
   */
  async tryPractice(): Promise<void> {
    const ready = await createPracticeDatabase();
    const name = ready.profile.settings.name;
    const known = this.nodes.find((n) => n.name.toLowerCase() === name.toLowerCase()) ?? null;
    this.saved(ready.profile, known);
    await this.reveal(name, ready.database);
  }

  /** Removes the profile; throws (for the dialog to show) when the backend refuses. */
  async remove(node: ProfileNode): Promise<void> {
    await removeProfile({ name: node.name });
    this.profiles = { state: "ready", items: this.nodes.filter((n) => n !== node) };
    const selected = this.selection;
    if (selected && (selected.node === node || (selected.kind === "database" && selected.node.profile === node))) {
      this.selection = null;
    }
    this.dialog = null;
  }
}
