import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  cancelOperation,
  compressionChoices,
  defaultBackupFolder,
  IpcError,
  listDatabases,
  listSchemas,
  pickFolder,
  previewBackupNames,
  startBackup,
  type BackupNames,
  type BackupOutcome,
} from "$lib/ipc";
import { compressionChoicesOf, databaseInfo, holdOperation } from "$lib/ipc/mock";
import BackupWizard from "./BackupWizard.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

/** What the Rust side answers for a preview; the naming rules themselves are tested in Rust. */
function namesFor(database: string, format: string, schema: string | null): BackupNames {
  const stem = `${database.replace(/[^A-Za-z0-9_-]/g, "_")}-2026-11-21-134501`;
  const ext = format === "custom" ? ".backup" : format === "tar" ? ".tar" : format === "plain" ? ".sql" : "";
  return {
    stem,
    main: stem + ext,
    perSchema: schema === null ? null : `${stem}.${schema}${ext}`,
    globals: `${stem}.globals.sql`,
    manifest: `${stem}.lifeboat.json`,
  };
}

const db = (name: string, sizeBytes: number | null = 8 * 1024 * 1024) => databaseInfo(name, sizeBytes);

const outcome: BackupOutcome = {
  backupId: 7,
  manifestPath: "/home/ada/backups/shop-2026-11-21-134501.lifeboat.json",
  files: [
    {
      name: "shop-2026-11-21-134501.backup",
      role: "dump",
      schema: null,
      bytes: 24 * 1024,
      sha256: "a".repeat(64),
    },
    {
      name: "shop-2026-11-21-134501.globals.sql",
      role: "globals",
      schema: null,
      bytes: 900,
      sha256: "0123456789abcdef".repeat(4),
    },
  ],
  sizeBytes: 24 * 1024 + 900,
  durationMs: 1234,
  compression: { method: "zstd", level: 3 },
  warnings: ["Only 1 GB free in /home/ada/backups."],
};

/** Holds startBackup open; gives access to its progress callback and its result. */
const holdBackup = () => holdOperation(startBackup);

const byId = (id: string) => screen.getByTestId(id);

function renderWizard(props: Partial<{ profile: string | null; database: string | null }> = {}) {
  const onclose = vi.fn();
  const onfinished = vi.fn();
  render(BackupWizard, {
    profiles: ["Accounting", "Shop"],
    profile: "Shop",
    database: "shop",
    onclose,
    onfinished,
    ...props,
  });
  return { onclose, onfinished };
}

/** Step 1 → step 2 with the preselected database. */
async function toStep2() {
  await waitFor(() => expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(false));
  await fireEvent.click(byId("backup-next"));
  await screen.findByTestId("backup-folder");
  await waitFor(() => expect((byId("backup-folder") as HTMLInputElement).value).toBe("/home/ada/backups"));
}

/** Step 2 → step 3: Start, and return what startBackup got. */
async function start(hold = holdBackup()) {
  await fireEvent.click(byId("backup-start"));
  await waitFor(() => expect(hold.calls).toHaveLength(1));
  return hold;
}

describe("BackupWizard", () => {
  beforeEach(() => {
    vi.mocked(previewBackupNames)
      .mockReset()
      .mockImplementation(async (database, format, schema) => namesFor(database, format, schema));
    vi.mocked(listDatabases).mockReset().mockResolvedValue([db("postgres", null), db("shop"), db("crm")]);
    vi.mocked(listSchemas)
      .mockReset()
      .mockResolvedValue([
        { name: "public", tableCount: 1, sizeBytes: 16384 },
        { name: "sales", tableCount: 2, sizeBytes: 2 * 1024 * 1024 },
        { name: "audit", tableCount: 4, sizeBytes: 65536 },
      ]);
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/home/ada/backups");
    vi.mocked(compressionChoices).mockReset().mockResolvedValue(compressionChoicesOf(18));
    vi.mocked(startBackup).mockReset();
    vi.mocked(cancelOperation).mockReset().mockResolvedValue(true);
    vi.mocked(pickFolder).mockReset();
  });

  it("preselects the profile and database it was opened for, and walks through the steps", async () => {
    renderWizard();
    const wizard = byId("backup-wizard");
    expect(within(wizard).getByRole("heading").textContent).toBe("Back up “shop”");
    const steps = screen.getAllByTestId("backup-step");
    expect(steps.map((s) => s.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "1 What",
      "2 Where and how",
      "3 Run",
    ]);
    expect(steps[0].getAttribute("aria-current")).toBe("step");

    expect((byId("backup-profile") as HTMLSelectElement).value).toBe("Shop");
    await waitFor(() => expect(listDatabases).toHaveBeenCalledWith({ profile: "Shop" }));
    const database = byId("backup-database") as HTMLSelectElement;
    await waitFor(() => expect(database.disabled).toBe(false));
    expect(database.value).toBe("shop");
    // A database the user may not connect to cannot be chosen.
    expect(within(database).getByRole("option", { name: "postgres (no access)" })).toHaveProperty("disabled", true);

    await toStep2();
    expect(screen.getAllByTestId("backup-step")[1].getAttribute("aria-current")).toBe("step");
    expect(document.activeElement).toBe(byId("backup-folder"));
    expect((byId("backup-format") as HTMLSelectElement).value).toBe("custom");
    expect(screen.queryByTestId("backup-jobs")).toBeNull();
    expect(byId("backup-format-note").textContent).toContain("One compressed file");

    await fireEvent.click(byId("backup-back"));
    expect((byId("backup-database") as HTMLSelectElement).value).toBe("shop");
    await waitFor(() => expect(document.activeElement).toBe(byId("backup-profile")));
    await fireEvent.click(byId("backup-next"));
    // The folder typed or loaded before is kept.
    expect((byId("backup-folder") as HTMLInputElement).value).toBe("/home/ada/backups");
  });

  it("needs a profile and a database before Next", async () => {
    renderWizard({ profile: null, database: null });
    const next = byId("backup-next") as HTMLButtonElement;
    expect(next.disabled).toBe(true);
    expect(listDatabases).not.toHaveBeenCalled();

    await fireEvent.change(byId("backup-profile"), { target: { value: "Accounting" } });
    await waitFor(() => expect(listDatabases).toHaveBeenCalledWith({ profile: "Accounting" }));
    const database = byId("backup-database") as HTMLSelectElement;
    await waitFor(() => expect(database.disabled).toBe(false));
    expect(database.value).toBe("");
    expect(next.disabled).toBe(true);

    await fireEvent.change(database, { target: { value: "crm" } });
    expect(next.disabled).toBe(false);
    expect(within(byId("backup-wizard")).getByRole("heading").textContent).toBe("Back up “crm”");
  });

  it("sends the defaults: everything, custom format, default compression, no jobs", async () => {
    renderWizard();
    await toStep2();
    await fireEvent.input(byId("backup-folder"), { target: { value: "  /mnt/usb/backups  " } });
    const { calls } = await start();
    expect(calls[0].input).toEqual({
      profile: "Shop",
      database: "shop",
      destination: "/mnt/usb/backups",
      format: "custom",
      compression: null,
      scope: { schemas: [], excludeSchemas: [], tables: [], excludeTables: [], dataOnly: false, schemaOnly: false },
      perSchema: false,
      jobs: null,
      globals: false,
      rolePasswords: false,
      keepNeeded: false,
      leaveOutDependents: false,
    });
    expect(calls[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(listSchemas).not.toHaveBeenCalled();
  });

  it("offers what the server's pg_dump allows, says why the default is the default, and sends the pick", async () => {
    renderWizard();
    await toStep2();
    expect(compressionChoices).toHaveBeenCalledWith({ profile: "Shop" });
    const select = byId("backup-compression") as HTMLSelectElement;
    await waitFor(() => expect(select.options.length).toBe(5));
    expect([...select.options].map((o) => o.textContent)).toEqual(["Default (zstd)", "zstd", "gzip", "lz4", "none"]);
    expect(byId("backup-compression-note").textContent).toContain("chosen because this server's pg_dump (18)");
    expect(screen.queryByTestId("backup-compression-level")).toBeNull();

    await fireEvent.change(select, { target: { value: "zstd" } });
    const level = byId("backup-compression-level") as HTMLInputElement;
    expect(level.placeholder).toBe("4");
    await fireEvent.input(level, { target: { value: "23" } });
    expect(screen.getByRole("alert").textContent).toBe("Between 1 and 22.");
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(level, { target: { value: "9" } });
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(false);
    const { calls } = await start();
    expect(calls[0].input.compression).toEqual({ method: "zstd", level: 9 });
  });

  it("offers only gzip and none for a PostgreSQL 14 server, and nothing but the default for tar", async () => {
    vi.mocked(compressionChoices).mockResolvedValue(compressionChoicesOf(14));
    renderWizard();
    await toStep2();
    const select = byId("backup-compression") as HTMLSelectElement;
    await waitFor(() => expect(select.options.length).toBe(3));
    expect([...select.options].map((o) => o.value)).toEqual(["default", "gzip", "none"]);
    expect(byId("backup-compression-note").textContent).toContain("zstd and lz4 need PostgreSQL 16");
    await fireEvent.change(select, { target: { value: "none" } });
    expect(screen.queryByTestId("backup-compression-level")).toBeNull();
    await fireEvent.change(select, { target: { value: "gzip" } });
    expect((byId("backup-compression-level") as HTMLInputElement).placeholder).toBe("6");

    // gzip is no choice for tar: back to the default, which says why.
    await fireEvent.change(byId("backup-format"), { target: { value: "tar" } });
    expect(select.value).toBe("default");
    expect([...select.options].map((o) => o.value)).toEqual(["default", "none"]);
    expect(byId("backup-compression-note").textContent).toContain("cannot compress the tar format");
    const { calls } = await start();
    expect(calls[0].input).toMatchObject({ format: "tar", compression: null });
  });

  it("shows the compression the finished backup used", async () => {
    renderWizard();
    await toStep2();
    const hold = await start();
    hold.run.resolve(outcome);
    await waitFor(() => expect(byId("backup-compression-used").textContent).toBe("zstd:3"));
  });

  it("builds the scope from the schema checkboxes and the options", async () => {
    renderWizard();
    await waitFor(() => expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(false));

    await fireEvent.click(byId("backup-scope-toggle"));
    expect(listSchemas).toHaveBeenCalledWith({ profile: "Shop", database: "shop" });
    const rows = await screen.findAllByTestId("backup-schema");
    expect(rows.map((r) => r.dataset.name)).toEqual(["public", "sales", "audit"]);
    const box = (name: string) =>
      within(rows.find((r) => r.dataset.name === name)!).getByRole("checkbox") as HTMLInputElement;
    expect(rows.every((r) => (within(r).getByRole("checkbox") as HTMLInputElement).checked)).toBe(true);
    expect(rows[1].textContent).toContain("2 tables");

    // Unchecking everything blocks Next.
    await fireEvent.click(screen.getByRole("button", { name: "Select none" }));
    expect(byId("backup-wizard").textContent).toContain("Choose at least one schema.");
    expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByRole("button", { name: "Select all" }));
    expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(false);

    await fireEvent.click(box("audit"));
    expect(box("audit").checked).toBe(false);
    await fireEvent.click(byId("backup-content-schema"));
    await fireEvent.click(byId("backup-per-schema"));
    await fireEvent.click(byId("backup-globals"));

    await fireEvent.click(byId("backup-next"));
    await screen.findByTestId("backup-folder");
    expect(byId("backup-wizard").textContent).toContain(
      "schemas public, sales · only definitions · one file per schema · with roles and tablespaces",
    );
    const { calls } = await start();
    expect(calls[0].input.scope).toEqual({
      schemas: ["public", "sales"],
      excludeSchemas: [],
      tables: [],
      excludeTables: [],
      dataOnly: false,
      schemaOnly: true,
    });
    expect(calls[0].input.perSchema).toBe(true);
    expect(calls[0].input.globals).toBe(true);
    expect(calls[0].input.rolePasswords).toBe(false);
  });

  it("sends dataOnly for Only data, and no schema filter when all stay checked", async () => {
    renderWizard();
    await waitFor(() => expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(byId("backup-scope-toggle"));
    await screen.findAllByTestId("backup-schema");
    await fireEvent.click(byId("backup-content-data"));
    await toStep2();
    const { calls } = await start();
    expect(calls[0].input.scope.schemas).toEqual([]);
    expect(calls[0].input.scope.dataOnly).toBe(true);
    expect(calls[0].input.scope.schemaOnly).toBe(false);
  });

  it("asks for parallel jobs only for the directory format", async () => {
    renderWizard();
    await toStep2();
    const format = byId("backup-format") as HTMLSelectElement;
    expect(Array.from(format.options).map((o) => o.text)).toEqual([
      "Custom (recommended)",
      "Directory (parallel)",
      "Tar",
      "Plain SQL",
    ]);

    await fireEvent.change(format, { target: { value: "directory" } });
    const jobs = byId("backup-jobs") as HTMLInputElement;
    expect(jobs.value).toBe("2");
    expect(jobs.min).toBe("1");
    expect(jobs.max).toBe("8");
    await fireEvent.input(jobs, { target: { value: "9" } });
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(jobs, { target: { value: "4" } });
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(false);

    const hold = holdBackup();
    await start(hold);
    expect(hold.calls[0].input.format).toBe("directory");
    expect(hold.calls[0].input.jobs).toBe(4);
  });

  it("does not send jobs after switching away from the directory format", async () => {
    renderWizard();
    await toStep2();
    await fireEvent.change(byId("backup-format"), { target: { value: "directory" } });
    await fireEvent.input(byId("backup-jobs"), { target: { value: "6" } });
    await fireEvent.change(byId("backup-format"), { target: { value: "tar" } });
    expect(screen.queryByTestId("backup-jobs")).toBeNull();
    const { calls } = await start();
    expect(calls[0].input.format).toBe("tar");
    expect(calls[0].input.jobs).toBeNull();
  });

  it("needs a folder, and fills it from the folder picker", async () => {
    renderWizard();
    await toStep2();
    await fireEvent.input(byId("backup-folder"), { target: { value: "   " } });
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(true);

    vi.mocked(pickFolder).mockResolvedValueOnce("/media/usb").mockResolvedValueOnce(null);
    await fireEvent.input(byId("backup-folder"), { target: { value: "/home/ada" } });
    await fireEvent.click(byId("backup-choose-folder"));
    expect(pickFolder).toHaveBeenCalledWith("/home/ada");
    await waitFor(() => expect((byId("backup-folder") as HTMLInputElement).value).toBe("/media/usb"));
    // Closing the picker without a choice keeps the folder.
    await fireEvent.click(byId("backup-choose-folder"));
    await waitFor(() => expect(pickFolder).toHaveBeenCalledTimes(2));
    expect((byId("backup-folder") as HTMLInputElement).value).toBe("/media/usb");
    expect((byId("backup-start") as HTMLButtonElement).disabled).toBe(false);
  });

  it("previews the names the backend computes, for the chosen database, format and schema", async () => {
    vi.mocked(listDatabases).mockResolvedValue([db("Sales/EU")]);
    renderWizard({ database: "Sales/EU" });
    await toStep2();
    const preview = byId("backup-filename-preview");
    await waitFor(() => expect(preview.textContent).toBe("Sales_EU-2026-11-21-134501.backup"));
    expect(previewBackupNames).toHaveBeenLastCalledWith("Sales/EU", "custom", null);
    expect(byId("backup-wizard").textContent).toContain("Sales_EU-2026-11-21-134501.lifeboat.json");
    expect(byId("backup-wizard").textContent).toContain("File name (preview)");

    await fireEvent.change(byId("backup-format"), { target: { value: "plain" } });
    await waitFor(() => expect(preview.textContent).toBe("Sales_EU-2026-11-21-134501.sql"));
    expect(previewBackupNames).toHaveBeenLastCalledWith("Sales/EU", "plain", null);
    await fireEvent.change(byId("backup-format"), { target: { value: "directory" } });
    await waitFor(() => expect(preview.textContent).toBe("Sales_EU-2026-11-21-134501"));
  });

  it("shows progress from the events: tables done, current table, bytes and warnings", async () => {
    renderWizard();
    await toStep2();
    const { calls } = await start();
    const emit = calls[0].emit;
    const progress = byId("backup-progress");
    expect(progress.dataset.done).toBe("0");
    expect(progress.dataset.total).toBe("0");
    expect(screen.getAllByTestId("backup-step")[2].getAttribute("aria-current")).toBe("step");
    expect(screen.queryByTestId("backup-next")).toBeNull();

    emit({ kind: "tool_started", tool: "pg_dump", major: 18 });
    emit({ kind: "tool_output", tool: "pg_dump", line: "pg_dump: dumping contents of table \"sales.customers\"" });
    emit({ kind: "step", done: 1, total: 4, current: "sales.customers" });
    emit({ kind: "bytes_written", tool: "pg_dump", bytes: 1024 * 1024 });
    emit({ kind: "bytes_written", tool: "pg_dump", bytes: 1.5 * 1024 * 1024 });
    emit({ kind: "warning", message: "Only 1 GB free in /home/ada/backups." });
    await waitFor(() => expect(progress.dataset.done).toBe("1"));
    expect(progress.dataset.total).toBe("4");
    expect(progress.textContent).toContain("1 of 4 tables (25%)");
    expect(progress.textContent).toContain("sales.customers");
    expect(byId("backup-bytes").textContent).toBe("1.5 MB");
    expect(byId("backup-warnings").textContent).toContain("Only 1 GB free in /home/ada/backups.");
    const bar = progress.querySelector("progress")!;
    expect(bar.max).toBe(4);
    expect(bar.value).toBe(1);

    emit({ kind: "step", done: 3, total: 4, current: "sales.orders" });
    emit({ kind: "tool_finished", tool: "pg_dump", exit_code: 0 });
    // A second program (the globals) adds to the bytes written.
    emit({ kind: "tool_started", tool: "pg_dumpall", major: 18 });
    emit({ kind: "bytes_written", tool: "pg_dumpall", bytes: 512 * 1024 });
    await waitFor(() => expect(progress.dataset.done).toBe("3"));
    expect(progress.textContent).toContain("sales.orders");
    expect(progress.textContent).not.toContain("sales.customers");
    expect(byId("backup-bytes").textContent).toBe("2 MB");
    // With the database size known, the bytes are put against it.
    emit({ kind: "size_estimate", bytes: 8 * 1024 * 1024 });
    await waitFor(() =>
      expect(byId("backup-bytes").textContent?.replace(/\s+/g, " ").trim()).toBe(
        "2 MB (the database holds 8 MB before compression)",
      ),
    );
  });

  it("cannot be closed with Escape while the backup runs", async () => {
    const { onclose } = renderWizard();
    await toStep2();
    await start();
    await fireEvent.keyDown(byId("backup-wizard"), { key: "Escape" });
    expect(onclose).not.toHaveBeenCalled();
    expect(byId("backup-wizard")).toBeTruthy();
  });

  it("cancels through cancelOperation and says nothing was left behind", async () => {
    renderWizard();
    await toStep2();
    const { calls, run } = await start();
    const cancel = byId("backup-cancel") as HTMLButtonElement;
    await fireEvent.click(cancel);
    expect(cancelOperation).toHaveBeenCalledWith(calls[0].id);
    expect(cancel.disabled).toBe(true);
    expect(cancel.textContent).toContain("Cancelling…");

    run.reject(new IpcError({ code: "cancelled", message: "The operation was cancelled.", hint: "" }));
    const error = await screen.findByTestId("backup-error");
    expect(error.dataset.code).toBe("cancelled");
    expect(error.textContent).toContain("Backup cancelled. Nothing was left behind.");
    expect(screen.queryByTestId("backup-cancel")).toBeNull();
    expect(screen.queryByTestId("backup-summary")).toBeNull();
  });

  it("asks again when the backend did not know the operation yet", async () => {
    renderWizard();
    await toStep2();
    const { calls } = await start();
    vi.mocked(cancelOperation).mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    await fireEvent.click(byId("backup-cancel"));
    await waitFor(() => expect(cancelOperation).toHaveBeenCalledTimes(2), { timeout: 2000 });
    expect(vi.mocked(cancelOperation).mock.calls).toEqual([[calls[0].id], [calls[0].id]]);
  });

  it("shows a failure with its hint, and Back returns to the settings", async () => {
    renderWizard();
    await toStep2();
    await fireEvent.change(byId("backup-format"), { target: { value: "plain" } });
    const { run } = await start();
    run.reject(
      new IpcError({
        code: "invalid_input",
        message: "destination folder: /nowhere does not exist or is not a folder",
        hint: "Correct the value and try again.",
      }),
    );
    const error = await screen.findByTestId("backup-error");
    expect(error.dataset.code).toBe("invalid_input");
    expect(error.textContent).toContain("/nowhere does not exist or is not a folder");
    expect(error.textContent).toContain("Correct the value and try again.");
    expect(error.textContent).not.toContain("Nothing was left behind");

    await fireEvent.click(byId("backup-back"));
    expect((byId("backup-format") as HTMLSelectElement).value).toBe("plain");
    expect((byId("backup-folder") as HTMLInputElement).value).toBe("/home/ada/backups");
    expect(screen.queryByTestId("backup-error")).toBeNull();

    // A second try sends a new operation id.
    const again = holdBackup();
    await start(again);
    expect(again.calls[0].id).not.toBe("");
  });

  it("keeps what kept objects need when asked, for that run only: Back and Start check afresh", async () => {
    renderWizard();
    await toStep2();
    const refused = new IpcError({
      code: "backup_has_broken_dependencies",
      message: "TRIGGER public.orders orders_audit needs FUNCTION audit.log_change().",
      hint: "Keep what they need, or leave the schema in.",
    });
    const first = await start();
    first.run.reject(refused);
    const kept = holdBackup();
    await fireEvent.click(await screen.findByTestId("backup-keep-needed"));
    await waitFor(() => expect(kept.calls).toHaveLength(1));
    expect(kept.calls[0].input.keepNeeded).toBe(true);
    kept.run.reject(new IpcError({ code: "invalid_input", message: "x", hint: "y" }));
    await screen.findByTestId("backup-error");

    await fireEvent.click(byId("backup-back"));
    const again = await start();
    expect(again.calls[0].input.keepNeeded).toBe(false);
  });

  it("offers both fixes for a refusal, saying what each does; leaving out shows what was left out", async () => {
    renderWizard();
    await toStep2();
    const first = await start();
    first.run.reject(
      new IpcError({
        code: "backup_has_broken_dependencies",
        message: "VIEW public.recent needs TABLE audit.log.",
        hint: "Keep what they need, or leave them out.",
      }),
    );
    await screen.findByTestId("backup-keep-needed");
    const note = byId("backup-fix-note").textContent!;
    expect(note).toContain("Keeping adds the schemas or tables they need to the backup");
    expect(note).toContain("leaving them out drops them from the backup");
    expect(note).toContain("restores and tests skip them");

    const left = holdBackup();
    await fireEvent.click(byId("backup-leave-out"));
    await waitFor(() => expect(left.calls).toHaveLength(1));
    expect(left.calls[0].input).toMatchObject({ keepNeeded: false, leaveOutDependents: true });
    left.run.resolve({ ...outcome, warnings: ["Left out VIEW public.recent: it needs TABLE audit.log."] });
    await screen.findByTestId("backup-summary");
    expect(byId("backup-warnings").textContent).toContain("Left out VIEW public.recent: it needs TABLE audit.log.");
  });

  it("still offers to leave out what keeping could not fix, keeps keepNeeded, and Back resets both", async () => {
    renderWizard();
    await toStep2();
    const refused = new IpcError({
      code: "backup_has_broken_dependencies",
      message: "FUNCTION public.f(hstore) needs TRANSFORM FOR hstore LANGUAGE plpython3u.",
      hint: "Leave them out, or back up the whole database.",
    });
    const first = await start();
    first.run.reject(refused);
    const kept = holdBackup();
    await fireEvent.click(await screen.findByTestId("backup-keep-needed"));
    await waitFor(() => expect(kept.calls).toHaveLength(1));
    expect(kept.calls[0].input).toMatchObject({ keepNeeded: true, leaveOutDependents: false });

    // Keeping failed the same way: only leaving out is offered now.
    kept.run.reject(refused);
    await screen.findByTestId("backup-leave-out");
    expect(screen.queryByTestId("backup-keep-needed")).toBeNull();
    expect(byId("backup-fix-note").textContent).toMatch(/^Leaving them out drops them from the backup/);

    const left = holdBackup();
    await fireEvent.click(byId("backup-leave-out"));
    await waitFor(() => expect(left.calls).toHaveLength(1));
    expect(left.calls[0].input).toMatchObject({ keepNeeded: true, leaveOutDependents: true });
    left.run.reject(refused);
    await screen.findByTestId("backup-error");
    expect(screen.queryByTestId("backup-leave-out")).toBeNull();
    expect(screen.queryByTestId("backup-keep-needed")).toBeNull();
    expect(screen.queryByTestId("backup-fix-note")).toBeNull();

    await fireEvent.click(byId("backup-back"));
    const again = await start();
    expect(again.calls[0].input).toMatchObject({ keepNeeded: false, leaveOutDependents: false });
  });

  it("summarizes a finished backup: files with size and sha256, manifest, duration", async () => {
    const { onfinished, onclose } = renderWizard();
    await toStep2();
    const { run } = await start();
    run.resolve(outcome);

    const summary = await screen.findByTestId("backup-summary");
    await waitFor(() => expect(document.activeElement).toBe(byId("backup-close")));
    expect(onfinished).toHaveBeenCalledWith("Shop", "shop");
    expect(summary.textContent).toContain("Backup finished — 2 files, 25 kB");
    expect(summary.textContent).toMatch(/Duration\s*1\.2 s/);
    const files = screen.getAllByTestId("backup-file");
    expect(files).toHaveLength(2);
    expect(files[0].dataset.name).toBe("shop-2026-11-21-134501.backup");
    expect(files[0].textContent).toContain("shop-2026-11-21-134501.backup");
    expect(files[0].textContent).toContain("24 kB");
    expect(files[0].textContent).toContain("a".repeat(64));
    expect(files[1].textContent).toContain("roles and tablespaces");
    expect(files[1].textContent).toContain("0123456789abcdef".repeat(4));
    expect(byId("backup-manifest").textContent).toBe(outcome.manifestPath);
    expect(byId("backup-warnings").textContent).toContain("Only 1 GB free");
    expect(screen.queryByText(/Test this backup/)).toBeNull();
    expect(screen.queryByTestId("backup-cancel")).toBeNull();

    await fireEvent.click(byId("backup-close"));
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("explains a failure to list the databases and can try again", async () => {
    vi.mocked(listDatabases)
      .mockReset()
      .mockRejectedValueOnce(
        new IpcError({ code: "connection_refused", message: "Nothing answered.", hint: "Is PostgreSQL running?" }),
      )
      .mockResolvedValueOnce([db("shop")]);
    renderWizard();
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Nothing answered.");
    expect((byId("backup-next") as HTMLButtonElement).disabled).toBe(false);
    await fireEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
    expect((byId("backup-database") as HTMLSelectElement).value).toBe("shop");
  });
});
