import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  compressionChoices,
  defaultBackupFolder,
  IpcError,
  listDatabases,
  listSchemas,
  pickFolder,
  type DatabaseInfo,
} from "$lib/ipc";
import { compressionChoicesOf, databaseInfo } from "$lib/ipc/mock";
import { BackupDraft } from "./draft.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const db = (name: string, sizeBytes: number | null = 1024) => databaseInfo(name, sizeBytes);

const schemas = [
  { name: "public", tableCount: 1, sizeBytes: 10 },
  { name: "sales", tableCount: 2, sizeBytes: 20 },
];

describe("BackupDraft", () => {
  beforeEach(() => {
    vi.mocked(listDatabases).mockReset().mockResolvedValue([db("postgres", null), db("shop")]);
    vi.mocked(listSchemas).mockReset().mockResolvedValue(schemas);
    vi.mocked(defaultBackupFolder).mockReset().mockResolvedValue("/backups");
    vi.mocked(pickFolder).mockReset();
    vi.mocked(compressionChoices).mockReset().mockResolvedValue(compressionChoicesOf(18));
  });

  it("takes the only profile, and forgets a database the user may not back up", async () => {
    const draft = new BackupDraft(["Shop"], null, "postgres");
    expect(draft.profile).toBe("Shop");
    await draft.loadDatabases();
    expect(draft.database).toBe("");
    expect(draft.canNext).toBe(false);
    draft.database = "shop";
    expect(draft.canNext).toBe(true);
  });

  it("asks for a profile when there are several", () => {
    expect(new BackupDraft(["A", "B"], null, null).profile).toBe("");
  });

  it("sends no schema filter until a schema is unticked, and none ticked blocks Next", async () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    draft.toggleScope();
    await vi.waitFor(() => expect(draft.schemas.state).toBe("ready"));
    expect(draft.request().scope.schemas).toEqual([]);
    draft.checked.public = false;
    expect(draft.request().scope.schemas).toEqual(["sales"]);
    expect(draft.scopeSummary).toBe("schemas sales · data and definitions");
    draft.checkAll(false);
    expect(draft.noSchemaChecked).toBe(true);
    expect(draft.canNext).toBe(false);
  });

  it("starts with what was chosen: format, jobs only for a directory, contents", () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    draft.folder = "  /media/usb ";
    draft.content = "schema";
    draft.globals = true;
    expect(draft.request()).toMatchObject({
      destination: "/media/usb",
      format: "custom",
      jobs: null,
      globals: true,
      scope: { schemaOnly: true, dataOnly: false },
    });
    draft.format = "directory";
    draft.jobs = 9;
    expect(draft.validJobs).toBe(false);
    expect(draft.canStart).toBe(false);
    draft.jobs = 4;
    expect(draft.request().jobs).toBe(4);
    expect(draft.request().compression).toBeNull();
  });

  it("asks the engine what the server allows, falls back to the default when the format changes", async () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    expect(draft.compression.note).toContain("Asking the server");
    await draft.compression.load("Shop");
    expect(compressionChoices).toHaveBeenCalledWith({ profile: "Shop" });
    expect(draft.compression.offered.map((m) => m.method)).toEqual(["zstd", "gzip", "lz4", "none"]);
    expect(draft.compression.note).toMatch(/^Default: zstd/);
    draft.compression.pickMethod("lz4");
    draft.compression.level = 12;
    expect(draft.request().compression).toEqual({ method: "lz4", level: 12 });
    draft.compression.level = 13;
    expect(draft.canStart).toBe(false);
    draft.compression.level = null;
    expect(draft.request().compression).toEqual({ method: "lz4", level: null });
    // Tar allows no compression: the pick falls back to the default, nothing is sent.
    draft.format = "tar";
    expect(draft.compression.pick).toBe("default");
    expect(draft.request().compression).toBeNull();
    draft.format = "custom";
    draft.compression.pickMethod("none");
    expect(draft.request().compression).toEqual({ method: "none", level: null });
  });

  it("offers only the default, and says why, when the server cannot be asked", async () => {
    vi.mocked(compressionChoices).mockRejectedValueOnce(
      new IpcError({ code: "connection_refused", message: "Nothing answered.", hint: "" }),
    );
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    await draft.compression.load("Shop");
    expect(draft.compression.offered).toEqual([]);
    expect(draft.compression.note).toContain("Nothing answered.");
    expect(draft.request().compression).toBeNull();
  });

  it("proposes the default folder unless one was typed, and says why when there is none", async () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    await draft.loadDefaultFolder();
    expect(draft.folder).toBe("/backups");

    vi.mocked(defaultBackupFolder).mockRejectedValue(
      new IpcError({ code: "io", message: "The home folder cannot be written.", hint: "" }),
    );
    const other = new BackupDraft(["Shop"], "Shop", "shop");
    await other.loadDefaultFolder();
    expect(other.folder).toBe("");
    expect(other.folderNote).toBe("No default folder: The home folder cannot be written. Choose one.");
  });

  it("keeps only the newest database list when the profile changes quickly", async () => {
    let answer!: (value: DatabaseInfo[]) => void;
    vi.mocked(listDatabases).mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
    const draft = new BackupDraft(["A", "B"], "A", null);
    const first = draft.loadDatabases();
    draft.profile = "B";
    draft.profileChanged();
    await vi.waitFor(() => expect(draft.databases.state).toBe("ready"));
    answer([db("stale")]);
    await first;
    expect(draft.databases).toEqual({ state: "ready", items: [db("postgres", null), db("shop")] });
  });

  it("offers to keep what kept objects need once, and asks for it in the request", () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    const refused = {
      code: "backup_has_broken_dependencies" as const,
      message: "TRIGGER public.orders orders_audit needs FUNCTION audit.log_change().",
      hint: "",
    };
    expect(draft.request().keepNeeded).toBe(false);
    expect(draft.offersKeepNeeded(refused)).toBe(true);
    expect(draft.offersKeepNeeded({ ...refused, code: "io" })).toBe(false);
    draft.keepNeeded = true;
    expect(draft.request().keepNeeded).toBe(true);
    expect(draft.offersKeepNeeded(refused)).toBe(false);
  });

  it("offers to leave out what needs objects left out, also after keeping failed, and asks for it", () => {
    const draft = new BackupDraft(["Shop"], "Shop", "shop");
    const refused = {
      code: "backup_has_broken_dependencies" as const,
      message: "FUNCTION public.f(hstore) needs TRANSFORM FOR hstore LANGUAGE plpython3u.",
      hint: "",
    };
    expect(draft.request().leaveOutDependents).toBe(false);
    expect(draft.offersLeaveOut(refused)).toBe(true);
    expect(draft.offersLeaveOut({ ...refused, code: "io" })).toBe(false);
    // Some needs cannot be kept: keeping failed, leaving out is still offered.
    draft.keepNeeded = true;
    expect(draft.offersKeepNeeded(refused)).toBe(false);
    expect(draft.offersLeaveOut(refused)).toBe(true);
    draft.leaveOutDependents = true;
    expect(draft.request()).toMatchObject({ keepNeeded: true, leaveOutDependents: true });
    expect(draft.offersLeaveOut(refused)).toBe(false);
  });
});
