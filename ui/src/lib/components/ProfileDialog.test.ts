import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  addProfile,
  checkSettings,
  IpcError,
  updateProfile,
  type CheckReport,
  type Profile,
  type ProfileSettings,
} from "$lib/ipc";
import ProfileDialog from "./ProfileDialog.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const report: CheckReport = {
  serverVersion: "18.6",
  serverVersionNum: 180006,
  user: "postgres",
  isSuperuser: true,
  canCreateDb: true,
  ssl: false,
  toolsMajor: 18,
};

const stored: Profile = {
  settings: {
    name: "Shop",
    host: "db.example.test",
    port: 5433,
    user: "admin",
    maintenanceDb: "maint",
    sslmode: "verify-full",
    rootCert: "/etc/ssl/root.crt",
    passwordSource: "keychain",
    allowCleartextPassword: false,
  },
};

function field(id: string): HTMLInputElement {
  return screen.getByTestId(id) as HTMLInputElement;
}

async function type(id: string, value: string) {
  await fireEvent.input(field(id), { target: { value } });
}

async function choose(id: string, value: string) {
  await fireEvent.change(field(id), { target: { value } });
}

function open(profile: Profile | null = null) {
  const onsaved = vi.fn();
  const oncancel = vi.fn();
  render(ProfileDialog, { profile, onsaved, oncancel });
  return { onsaved, oncancel };
}

async function fillLocal() {
  await type("field-name", "Local 18");
  await type("field-host", "127.0.0.1");
  await type("field-port", "15432");
  await type("field-user", "postgres");
}

const localSettings: ProfileSettings = {
  name: "Local 18",
  host: "127.0.0.1",
  port: 15432,
  user: "postgres",
  maintenanceDb: "postgres",
  sslmode: "prefer",
  rootCert: null,
  passwordSource: "keychain",
  allowCleartextPassword: false,
};

describe("ProfileDialog: add", () => {
  beforeEach(() => {
    vi.mocked(addProfile).mockReset();
    vi.mocked(updateProfile).mockReset();
    vi.mocked(checkSettings).mockReset();
  });

  it("starts with the usual defaults and no root certificate field", () => {
    open();
    expect(screen.getByTestId("profile-dialog").getAttribute("aria-modal")).toBe("true");
    expect(screen.getByRole("heading").textContent).toBe("Add server");
    expect(field("field-port").value).toBe("5432");
    expect(field("field-dbname").value).toBe("postgres");
    expect(field("field-sslmode").value).toBe("prefer");
    expect(screen.queryByTestId("field-rootcert")).toBeNull();
    expect(screen.queryByTestId("field-clear-password")).toBeNull();
    expect(document.activeElement).toBe(field("field-name"));
    const sslModes = Array.from(field("field-sslmode").querySelectorAll("option")).map((o) => o.value);
    expect(sslModes).toEqual(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]);
  });

  it("saves with addProfile: trimmed settings and the typed password", async () => {
    const { onsaved } = open();
    vi.mocked(addProfile).mockResolvedValue({ settings: localSettings });
    await fillLocal();
    await type("field-host", "  127.0.0.1 ");
    await type("field-password", "s3cret");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenCalledWith({ settings: localSettings, password: "s3cret" });
    await waitFor(() => expect(onsaved).toHaveBeenCalledWith({ settings: localSettings }));
    expect(updateProfile).not.toHaveBeenCalled();
  });

  it("sends no password when the field is empty", async () => {
    open();
    vi.mocked(addProfile).mockResolvedValue({ settings: localSettings });
    await fillLocal();
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenCalledWith({ settings: localSettings, password: null });
  });

  it("uses .pgpass / PGPASSWORD: disables the password field and sends none", async () => {
    open();
    vi.mocked(addProfile).mockResolvedValue({ settings: localSettings });
    await fillLocal();
    await type("field-password", "typed before");
    await fireEvent.click(screen.getByTestId("field-use-environment"));
    expect(field("field-password").disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenCalledWith({
      settings: { ...localSettings, passwordSource: "environment" },
      password: null,
    });
  });

  it("allows a cleartext password only when ticked, with a warning unless TLS verifies", async () => {
    open();
    vi.mocked(addProfile).mockResolvedValue({ settings: localSettings });
    await fillLocal();
    expect(field("field-allow-cleartext").checked).toBe(false);
    expect(screen.queryByTestId("cleartext-warning")).toBeNull();
    await fireEvent.click(screen.getByTestId("field-allow-cleartext"));
    expect(screen.getByTestId("cleartext-warning").textContent).toContain("scram-sha-256");
    await choose("field-sslmode", "verify-full");
    expect(screen.queryByTestId("cleartext-warning")).toBeNull();
    await choose("field-sslmode", "prefer");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenCalledWith({
      settings: { ...localSettings, allowCleartextPassword: true },
      password: null,
    });
  });

  it("shows the root certificate only for modes that encrypt, and sends it only then", async () => {
    open();
    vi.mocked(addProfile).mockResolvedValue({ settings: localSettings });
    await fillLocal();
    await choose("field-sslmode", "verify-full");
    await type("field-rootcert", " /etc/ssl/root.crt ");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenLastCalledWith({
      settings: { ...localSettings, sslmode: "verify-full", rootCert: "/etc/ssl/root.crt" },
      password: null,
    });

    await choose("field-sslmode", "disable");
    expect(screen.queryByTestId("field-rootcert")).toBeNull();
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).toHaveBeenLastCalledWith({
      settings: { ...localSettings, sslmode: "disable", rootCert: null },
      password: null,
    });
  });

  it("shows the server's validation error next to the form and stays open", async () => {
    const { onsaved } = open();
    vi.mocked(addProfile).mockRejectedValue(
      new IpcError({
        code: "profile_exists",
        message: 'A server profile named "Local 18" already exists.',
        hint: "Choose another name, or edit the existing profile.",
      }),
    );
    await fillLocal();
    await fireEvent.click(screen.getByTestId("save-profile"));
    const error = await screen.findByTestId("save-error");
    expect(error.dataset.code).toBe("profile_exists");
    expect(error.textContent).toContain('A server profile named "Local 18" already exists.');
    expect(error.textContent).toContain("Choose another name");
    expect(document.activeElement).toBe(field("field-name"));
    expect(onsaved).not.toHaveBeenCalled();
    expect(screen.getByTestId("profile-dialog")).toBeTruthy();
  });

  it("refuses a port that is not a number without asking the backend", async () => {
    open();
    await fillLocal();
    await type("field-port", "");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(addProfile).not.toHaveBeenCalled();
    expect((await screen.findByTestId("save-error")).textContent).toContain("port");
    expect(document.activeElement).toBe(field("field-port"));
  });

  it("Cancel and Escape close without saving", async () => {
    const { oncancel } = open();
    await fireEvent.click(screen.getByTestId("cancel-profile"));
    expect(oncancel).toHaveBeenCalledTimes(1);
    await fireEvent.keyDown(field("field-name"), { key: "Escape" });
    expect(oncancel).toHaveBeenCalledTimes(2);
    expect(addProfile).not.toHaveBeenCalled();
  });
});

describe("ProfileDialog: test connection", () => {
  beforeEach(() => {
    vi.mocked(checkSettings).mockReset();
  });

  it("checks the values in the form and shows what it found", async () => {
    open();
    let finish!: (r: CheckReport) => void;
    vi.mocked(checkSettings).mockReturnValue(new Promise((resolve) => (finish = resolve)));
    await fillLocal();
    const button = screen.getByTestId("test-connection") as HTMLButtonElement;
    await fireEvent.click(button);
    expect(checkSettings).toHaveBeenCalledWith({
      settings: localSettings,
      password: null,
      existing: null,
      timeoutSecs: 10,
    });
    expect(button.textContent?.trim()).toBe("Testing…");
    expect(button.disabled).toBe(true);

    finish(report);
    const result = await screen.findByTestId("test-result");
    expect(result.dataset.ok).toBe("true");
    expect(result.textContent).toContain(
      "Connected to PostgreSQL 18.6 as postgres — superuser: yes, can create databases: yes, SSL: off",
    );
    expect(button.textContent?.trim()).toBe("Test connection");
    expect(button.disabled).toBe(false);
  });

  it("shows message and hint of a failure and puts the cursor in the password field", async () => {
    open();
    vi.mocked(checkSettings).mockRejectedValue(
      new IpcError({
        code: "password_failed",
        message: 'The server rejected the password for user "postgres".',
        hint: "Check the user name and enter the password again (Edit profile).",
      }),
    );
    await fillLocal();
    await type("field-password", "wrong");
    await fireEvent.click(screen.getByTestId("test-connection"));
    const result = await screen.findByTestId("test-result");
    expect(result.dataset.ok).toBe("false");
    expect(result.dataset.code).toBe("password_failed");
    expect(result.textContent).toContain('The server rejected the password for user "postgres".');
    expect(result.textContent).toContain("enter the password again");
    expect(checkSettings).toHaveBeenCalledWith(expect.objectContaining({ password: "wrong" }));
    expect(document.activeElement).toBe(field("field-password"));
  });

  it("offers to switch to SSL mode require when the server insists on SSL", async () => {
    open();
    vi.mocked(checkSettings).mockRejectedValue(
      new IpcError({ code: "ssl_required", message: "Only SSL.", hint: "Set SSL mode." }),
    );
    await fillLocal();
    await choose("field-sslmode", "disable");
    await fireEvent.click(screen.getByTestId("test-connection"));
    const result = await screen.findByTestId("test-result");
    await fireEvent.click(within(result).getByRole("button", { name: "Use SSL mode require" }));
    expect(field("field-sslmode").value).toBe("require");
    expect(screen.getByTestId("field-rootcert")).toBeTruthy();
    expect(within(result).queryByRole("button", { name: "Use SSL mode require" })).toBeNull();
  });

  it("does not offer the SSL switch for other failures", async () => {
    open();
    vi.mocked(checkSettings).mockRejectedValue(
      new IpcError({ code: "connection_refused", message: "Refused, SSL mentioned.", hint: "Start it." }),
    );
    await fillLocal();
    await fireEvent.click(screen.getByTestId("test-connection"));
    const result = await screen.findByTestId("test-result");
    expect(within(result).queryAllByRole("button")).toHaveLength(0);
    expect(result.dataset.code).toBe("connection_refused");
  });
});

describe("ProfileDialog: edit", () => {
  beforeEach(() => {
    vi.mocked(updateProfile).mockReset().mockResolvedValue(stored);
    vi.mocked(addProfile).mockReset();
    vi.mocked(checkSettings).mockReset().mockResolvedValue(report);
  });

  it("starts from the saved settings with an empty password field", () => {
    open(stored);
    expect(screen.getByRole("heading").textContent).toBe("Edit server “Shop”");
    expect(field("field-name").value).toBe("Shop");
    expect(field("field-host").value).toBe("db.example.test");
    expect(field("field-port").value).toBe("5433");
    expect(field("field-user").value).toBe("admin");
    expect(field("field-dbname").value).toBe("maint");
    expect(field("field-sslmode").value).toBe("verify-full");
    expect(field("field-rootcert").value).toBe("/etc/ssl/root.crt");
    expect(field("field-password").value).toBe("");
    expect(field("field-password").placeholder).toContain("keep the stored password");
  });

  it("keeps the stored password when the field stays empty, under the old name", async () => {
    const { onsaved } = open(stored);
    await type("field-name", "Shop (prod)");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(updateProfile).toHaveBeenCalledWith({
      name: "Shop",
      settings: { ...stored.settings, name: "Shop (prod)" },
      password: { kind: "keep" },
    });
    await waitFor(() => expect(onsaved).toHaveBeenCalledWith(stored));
    expect(addProfile).not.toHaveBeenCalled();
  });

  it("sets a typed password", async () => {
    open(stored);
    await type("field-password", "n3w");
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(updateProfile).toHaveBeenCalledWith(
      expect.objectContaining({ name: "Shop", password: { kind: "set", password: "n3w" } }),
    );
  });

  it("clears the stored password when asked, ignoring the field", async () => {
    open(stored);
    await type("field-password", "ignored");
    await fireEvent.click(screen.getByTestId("field-clear-password"));
    expect(field("field-password").disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(updateProfile).toHaveBeenCalledWith(expect.objectContaining({ password: { kind: "clear" } }));
  });

  it("switches to .pgpass / PGPASSWORD and keeps the keychain entry unless told to remove it", async () => {
    open(stored);
    await fireEvent.click(screen.getByTestId("field-use-environment"));
    await fireEvent.click(screen.getByTestId("save-profile"));
    expect(updateProfile).toHaveBeenCalledWith({
      name: "Shop",
      settings: { ...stored.settings, passwordSource: "environment" },
      password: { kind: "keep" },
    });
  });

  it("tests with the stored password of the profile being edited", async () => {
    open(stored);
    await fireEvent.click(screen.getByTestId("test-connection"));
    expect(checkSettings).toHaveBeenCalledWith({
      settings: stored.settings,
      password: null,
      existing: "Shop",
      timeoutSecs: 10,
    });
    expect((await screen.findByTestId("test-result")).dataset.ok).toBe("true");

    await type("field-password", "typed");
    await fireEvent.click(screen.getByTestId("test-connection"));
    expect(checkSettings).toHaveBeenLastCalledWith(
      expect.objectContaining({ password: "typed", existing: "Shop" }),
    );
  });

  it("tests without the stored password when it is about to be removed", async () => {
    open(stored);
    await fireEvent.click(screen.getByTestId("field-clear-password"));
    await fireEvent.click(screen.getByTestId("test-connection"));
    expect(checkSettings).toHaveBeenCalledWith(expect.objectContaining({ password: null, existing: null }));
  });
});
