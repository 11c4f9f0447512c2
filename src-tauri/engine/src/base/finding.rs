//! What a pre-flight finds: a severity, a stable code, a sentence and what to do about it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    /// The restore does not start.
    Blocker,
}

/// The stable identity of a finding (the UI and `--json` consumers branch on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    ChecksumsVerified,
    NoManifest,
    RolesMissing,
    GrantsSkipped,
    OwnerRoleMissing,
    OwnerRoleNotGranted,
    ExtensionUnavailable,
    EncodingDiffers,
    /// The new database sorts text by another locale than the backed-up one.
    LocaleDiffers,
    TargetNotEmpty,
    CannotCreateDatabase,
    NewerSource,
    SettingsDropped,
    JobsIgnored,
    DumpIncomplete,
    DumpSwitchesDatabase,
    /// The database to replace does not exist.
    ReplaceTargetMissing,
    /// Other sessions are connected to the database to replace.
    DatabaseInUse,
    /// The server's disk: enough free space, too little, or not visible from here.
    DiskSpace,
    /// The user may not rename the database to replace.
    CannotRenameDatabase,
    /// Entries are left out because they need entries the selection leaves out.
    DependentsLeftOut,
    /// The restore goes on after errors.
    ContinueOnErrors,
    /// Missing roles are created from the roles saved with the backup.
    RolesCreated,
    /// Roles were to be created, but the backup saved none, or the user may not create roles.
    CannotCreateRoles,
    /// The backup creates a schema the target database already has (`public`, in a one-schema
    /// backup of it); the restore goes into the existing schema.
    SchemaExists,
    /// The chosen entries live in schemas the backup does not create (a `--table` backup carries
    /// no `CREATE SCHEMA`); the restore creates them first.
    SchemasCreated,
    /// Entries naming roles the target lacks (policies, user mappings …) are left out.
    RoleEntriesSkipped,
    /// The database's own settings and comment: re-applied to the new database, or left as
    /// they are in an existing one.
    DatabaseSettings,
    /// Recorded database settings the target server does not know, or for roles it lacks:
    /// left out.
    DatabaseSettingsSkipped,
}

/// Something the pre-flight found, with what Lifeboat does about it or what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Severity,
    pub code: FindingCode,
    pub message: String,
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(
        severity: Severity,
        code: FindingCode,
        message: String,
        fix: Option<String>,
    ) -> Self {
        Finding { severity, code, message, fix }
    }
}
