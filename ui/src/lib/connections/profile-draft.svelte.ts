// What the profile dialog's user typed: a copy of the profile being edited (or a new one), and
// the settings and password change a test or a save sends. The dialog renders these fields.

import type { PasswordChange, ProfileSettings, SslMode } from "$lib/ipc";

export const SSL_MODES: { value: SslMode; label: string }[] = [
  { value: "disable", label: "disable — never encrypt" },
  { value: "allow", label: "allow" },
  { value: "prefer", label: "prefer — encrypt when the server offers it" },
  { value: "require", label: "require — always encrypt" },
  { value: "verify-ca", label: "verify-ca — encrypt, check the certificate" },
  { value: "verify-full", label: "verify-full — also check the host name" },
];

/** SSL modes that encrypt for sure, and so may use a root certificate. */
export function encrypts(mode: SslMode): boolean {
  return mode === "require" || mode === "verify-ca" || mode === "verify-full";
}

export class ProfileDraft {
  name = $state("");
  host = $state("");
  port = $state<number | null>(5432);
  user = $state("postgres");
  maintenanceDb = $state("postgres");
  sslmode = $state<SslMode>("prefer");
  rootCert = $state("");
  password = $state("");
  /** Editing: remove the stored password. */
  clearStored = $state(false);
  /** Take the password from .pgpass / PGPASSWORD instead of the keychain. */
  useEnvironment = $state(false);
  /** Send the password when the server asks for it in clear text (unsafe without TLS). */
  allowCleartextPassword = $state(false);

  /** The profile as saved, when editing; null for a new one. */
  constructor(readonly original: ProfileSettings | null) {
    if (original === null) return;
    this.name = original.name;
    this.host = original.host;
    this.port = original.port;
    this.user = original.user;
    this.maintenanceDb = original.maintenanceDb;
    this.sslmode = original.sslmode;
    this.rootCert = original.rootCert ?? "";
    this.useEnvironment = original.passwordSource === "environment";
    this.allowCleartextPassword = original.allowCleartextPassword ?? false;
  }

  readonly showRootCert = $derived(encrypts(this.sslmode));
  readonly passwordDisabled = $derived(this.useEnvironment || this.clearStored);

  /** The port when it is one (1 to 65535), else null. */
  validPort(): number | null {
    const port = this.port;
    return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
  }

  settings(port: number): ProfileSettings {
    return {
      name: this.name.trim(),
      host: this.host.trim(),
      port,
      user: this.user.trim(),
      maintenanceDb: this.maintenanceDb.trim(),
      sslmode: this.sslmode,
      rootCert: this.showRootCert && this.rootCert.trim() !== "" ? this.rootCert.trim() : null,
      passwordSource: this.useEnvironment ? "environment" : "keychain",
      allowCleartextPassword: this.allowCleartextPassword,
    };
  }

  /** The password typed in the field, when it is to be used. */
  typedPassword(): string | null {
    return this.passwordDisabled || this.password === "" ? null : this.password;
  }

  passwordChange(): PasswordChange {
    if (this.clearStored) return { kind: "clear" };
    const typed = this.typedPassword();
    return typed === null ? { kind: "keep" } : { kind: "set", password: typed };
  }

  /** The saved profile whose stored password a test may use, unless it is about to be removed. */
  existing(): string | null {
    return this.original !== null && !this.clearStored ? this.original.name : null;
  }
}
