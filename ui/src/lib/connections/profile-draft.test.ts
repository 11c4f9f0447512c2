import { describe, expect, it } from "vitest";
import { profileOf } from "$lib/ipc/mock";
import { encrypts, ProfileDraft } from "./profile-draft.svelte";

describe("ProfileDraft", () => {
  it("starts a new profile with the usual defaults and sends what was typed, trimmed", () => {
    const draft = new ProfileDraft(null);
    expect([draft.port, draft.user, draft.maintenanceDb, draft.sslmode]).toEqual([5432, "postgres", "postgres", "prefer"]);
    draft.name = " Shop ";
    draft.host = " db.example.test ";
    draft.rootCert = "/ca.crt";
    expect(draft.settings(5433)).toEqual({
      name: "Shop",
      host: "db.example.test",
      port: 5433,
      user: "postgres",
      maintenanceDb: "postgres",
      sslmode: "prefer",
      rootCert: null,
      passwordSource: "keychain",
      allowCleartextPassword: false,
    });
    draft.sslmode = "verify-full";
    expect(draft.settings(5433).rootCert).toBe("/ca.crt");
  });

  it("takes a port only between 1 and 65535", () => {
    const draft = new ProfileDraft(null);
    for (const [port, valid] of [[0, null], [65536, null], [1.5, null], [null, null], [1, 1], [65535, 65535]] as const) {
      draft.port = port;
      expect(draft.validPort()).toBe(valid);
    }
  });

  it("keeps, sets or clears the stored password of an edited profile", () => {
    const draft = new ProfileDraft(profileOf("Shop").settings);
    expect(draft.passwordChange()).toEqual({ kind: "keep" });
    expect(draft.existing()).toBe("Shop");
    draft.password = "secret";
    expect(draft.passwordChange()).toEqual({ kind: "set", password: "secret" });
    draft.clearStored = true;
    expect(draft.passwordChange()).toEqual({ kind: "clear" });
    expect(draft.typedPassword()).toBeNull();
    expect(draft.existing()).toBeNull();
  });

  it("uses no typed password when it comes from .pgpass or PGPASSWORD", () => {
    const draft = new ProfileDraft(profileOf("Shop", { passwordSource: "environment" }).settings);
    draft.password = "typed";
    expect(draft.useEnvironment).toBe(true);
    expect(draft.typedPassword()).toBeNull();
    expect(draft.settings(5432).passwordSource).toBe("environment");
  });

  it("knows which SSL modes always encrypt", () => {
    expect(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].filter((m) => encrypts(m as never))).toEqual([
      "require",
      "verify-ca",
      "verify-full",
    ]);
  });
});
