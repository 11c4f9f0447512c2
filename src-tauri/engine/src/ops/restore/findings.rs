//! The findings of a plan that each depend on one fact or two: the backup's own health, the
//! target database, encoding and locale, the database a replace renames, disk space, extensions
//! and versions. Pure: they read facts, never a server.

use std::collections::{BTreeMap, BTreeSet};

use crate::base::finding::{Finding, FindingCode, Severity};
use crate::format::manifest::BackupFormat;
use crate::format::selection::{self, LeftOut};
use crate::format::sqltext::{DumpEntry, DumpFacts};
use crate::util::size::human_bytes;

use super::RoleLeftOut;
use super::source_facts::SourceFacts;
use super::target_facts::{Disk, TargetFacts};

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The endings for a count of entries: "entr{y|ies}", "depend{s|}", "{is|are}".
pub(super) fn entry_forms(n: usize) -> (&'static str, &'static str, &'static str) {
    if n == 1 { ("y", "s", "is") } else { ("ies", "", "are") }
}

pub(super) fn list_names(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

/// What the roles created from the saved ones had at the source and do not get again, role by
/// role: "Only LOGIN, … are recreated: role app_admin: SUPERUSER, CREATEROLE and membership in
/// pg_execute_server_program were not recreated."
pub(super) fn roles_trimmed(left_out: &BTreeMap<String, Vec<String>>) -> Option<String> {
    if left_out.is_empty() {
        return None;
    }
    let roles: Vec<String> = left_out
        .iter()
        .map(|(role, what)| {
            let verb = if what.len() == 1 { "was" } else { "were" };
            format!("role {role}: {} {verb} not recreated", and_list(what))
        })
        .collect();
    Some(format!(
        "Only LOGIN, INHERIT, CONNECTION LIMIT, VALID UNTIL and memberships among the roles this \
         restore creates are taken from a backup; {}.",
        roles.join("; ")
    ))
}

/// Saved roles whose names Lifeboat never creates.
pub(super) fn reserved_roles(reserved: &BTreeSet<String>) -> String {
    format!(
        "Not created, whatever the backup saved: {} (PostgreSQL's predefined pg_ roles, postgres \
         and the names PostgreSQL reserves are never created from a backup).",
        list_names(reserved)
    )
}

/// The checksums, and whether the SQL file is whole and stays in one database.
pub(super) fn source(source: &SourceFacts) -> Vec<Finding> {
    let verified = source.verified;
    let mut findings = vec![match &source.manifest {
        Some(found) => Finding::new(
            Severity::Info,
            FindingCode::ChecksumsVerified,
            format!(
                "{verified} file{} match{} the checksums in {}.",
                plural(verified),
                if verified == 1 { "es" } else { "" },
                found.path.display()
            ),
            None,
        ),
        None => Finding::new(
            Severity::Info,
            FindingCode::NoManifest,
            "No Lifeboat manifest describes this backup, so there are no checksums to compare; \
             it was checked by reading it completely."
                .into(),
            None,
        ),
    }];
    if source.format == BackupFormat::Plain && !source.dump.complete {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::DumpIncomplete,
            "The SQL file does not end with pg_dump's \"dump complete\" line: it was cut short \
             or edited."
                .into(),
            Some("Use a complete copy of the backup.".into()),
        ));
    }
    if source.dump.connects {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::DumpSwitchesDatabase,
            "The SQL file connects to other databases (\\connect): it was made with pg_dump \
             --create or by pg_dumpall, and would not stay in the database Lifeboat restores \
             into."
                .into(),
            Some("Make the dump without --create, or run it with psql yourself.".into()),
        ));
    }
    findings
}

/// An existing target that is not empty; `instead` is the new database Lifeboat would pick.
pub(super) fn not_empty(target: &TargetFacts, database: &str, instead: &str) -> Option<Finding> {
    let contents = target.existing.as_ref().filter(|c| !c.is_empty())?;
    Some(Finding::new(
        Severity::Blocker,
        FindingCode::TargetNotEmpty,
        format!(
            "The database {database} on \"{}\" is not empty: it holds {}.",
            target.profile_name,
            contents.describe()
        ),
        Some(format!(
            "Lifeboat never restores into a non-empty database. Leave the target empty to \
             restore into a new database ({instead}), or choose another name."
        )),
    ))
}

pub(super) fn cannot_create_database(target: &TargetFacts) -> Option<Finding> {
    (!target.superuser && !target.createdb).then(|| {
        Finding::new(
            Severity::Blocker,
            FindingCode::CannotCreateDatabase,
            format!(
                "The user {} may not create databases on \"{}\".",
                target.user, target.profile_name
            ),
            Some(
                "Give the user CREATEDB, use a profile with more rights, or create an empty \
                 database and choose it as the target."
                    .into(),
            ),
        )
    })
}

/// A new database cannot take the backup's encoding.
pub(super) fn new_encoding_differs(dump_encoding: &str, target: &TargetFacts) -> Finding {
    let template = &target.template;
    Finding::new(
        Severity::Warning,
        FindingCode::EncodingDiffers,
        format!(
            "The backup is in {dump_encoding}; new databases on \"{}\" (locale {}) can only be \
             {}.",
            target.profile_name, template.ctype, template.encoding
        ),
        Some(format!(
            "The database is created in {} and text is converted on the way; characters {} \
             cannot hold stop the restore.",
            template.encoding, template.encoding
        )),
    )
}

/// The existing target database is in another encoding than the backup.
pub(super) fn existing_encoding_differs(
    dump_encoding: &str,
    database: &str,
    existing: &str,
) -> Finding {
    Finding::new(
        Severity::Warning,
        FindingCode::EncodingDiffers,
        format!("The backup is in {dump_encoding}; the database {database} is {existing}."),
        Some(format!(
            "Text is converted to {existing} on the way; characters {existing} cannot hold stop \
             the restore."
        )),
    )
}

/// How text sorts in the new database, when that differs from the backed-up one.
pub(super) fn locale(source: &SourceFacts, target: &TargetFacts, create: bool) -> Option<Finding> {
    let manifest = source.manifest.as_ref()?;
    let template = &target.template;
    if !create
        || !template.libc
        || manifest.collate.is_empty()
        || manifest.collate == template.collate
    {
        return None;
    }
    Some(Finding::new(
        Severity::Info,
        FindingCode::LocaleDiffers,
        format!(
            "The backed-up database sorted text by the locale {}; new databases on \"{}\" use {}.",
            manifest.collate, target.profile_name, template.collate
        ),
        Some(
            "Data and indexes restore the same, but ORDER BY on text may list rows in another \
             order."
                .into(),
        ),
    ))
}

/// The findings about the database a replace renames: that it exists, who is connected to it,
/// and whether the user may rename it.
pub(super) fn replace(target: &TargetFacts, old: &str, terminate: bool) -> Vec<Finding> {
    let profile_name = &target.profile_name;
    let Some(replaced) = &target.replaced else {
        return vec![Finding::new(
            Severity::Blocker,
            FindingCode::ReplaceTargetMissing,
            format!("There is no database {old} on \"{profile_name}\" to replace."),
            Some("Check the name, or restore into a new database instead of replacing one.".into()),
        )];
    };
    let mut findings = Vec::new();
    if old == target.maintenance_db {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::CannotRenameDatabase,
            format!(
                "{old} is the maintenance database of the profile \"{profile_name}\"; Lifeboat \
                 renames databases from it, so it cannot rename {old} itself."
            ),
            Some("Set another maintenance database in the profile (e.g. postgres).".into()),
        ));
    }
    let owner = &replaced.owner;
    let owns = *owner == target.user || target.member_of.contains(owner);
    if !target.superuser && (!target.createdb || !owns) {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::CannotRenameDatabase,
            format!(
                "The user {} may not rename the database {old} (owned by {owner}): renaming \
                 takes its owner with CREATEDB, or a superuser.",
                target.user
            ),
            Some(format!(
                "Use a profile connecting as {owner} or as a superuser, or grant {owner} to {}.",
                target.user
            )),
        ));
    }
    findings.extend(sessions(&replaced.sessions, old, terminate));
    findings
}

/// Other sessions on the database a replace renames: they block it unless Lifeboat may end them.
fn sessions(sessions: &[(String, String)], old: &str, terminate: bool) -> Option<Finding> {
    if sessions.is_empty() {
        return None;
    }
    let who: BTreeSet<String> = sessions
        .iter()
        .map(|(user, app)| {
            let app = if app.is_empty() { "an unnamed application" } else { app.as_str() };
            if user.is_empty() { app.to_owned() } else { format!("{app} ({user})") }
        })
        .collect();
    let n = sessions.len();
    let message = format!(
        "{n} session{} {} connected to {old}: {}.",
        plural(n),
        if n == 1 { "is" } else { "are" },
        list_names(&who)
    );
    Some(if terminate {
        Finding::new(
            Severity::Warning,
            FindingCode::DatabaseInUse,
            message,
            Some(format!(
                "Lifeboat ends {} after the restore succeeded, just before renaming {old}.",
                if n == 1 { "it" } else { "them" }
            )),
        )
    } else {
        Finding::new(
            Severity::Blocker,
            FindingCode::DatabaseInUse,
            message,
            Some(
                "Close them, or let Lifeboat end them (--terminate-connections / the checkbox)."
                    .into(),
            ),
        )
    })
}

/// How the free space on the server's disk compares with `needed` bytes: a blocker when the
/// restore cannot fit, a warning with less than twice the room (indexes and temporary files come
/// on top of the data), else an info. For a server on another machine, or a data directory the
/// user may not read, an info that it was not checked.
pub(super) fn disk_space(disk: &Disk, needed: u64) -> Finding {
    let need = human_bytes(needed);
    let unknown = |why: &str| {
        Finding::new(
            Severity::Info,
            FindingCode::DiskSpace,
            format!("The restore needs about {need} on the server; {why}."),
            Some("Make sure the server's disk has at least twice that free.".into()),
        )
    };
    let (data_directory, free) = match disk {
        Disk::Remote => {
            return unknown(
                "its disk is on another machine, so Lifeboat cannot check the free space",
            );
        }
        Disk::Hidden => {
            return unknown("the connecting user may not see where the server keeps its data");
        }
        Disk::Unreadable => {
            return unknown("the free space of the server's data directory could not be read");
        }
        Disk::Free { data_directory, bytes } => (data_directory, *bytes),
    };
    let severity = disk_severity(needed, free);
    let fix = match severity {
        Severity::Blocker => Some(format!(
            "Free at least {} on the disk of {data_directory}, or restore onto another server.",
            human_bytes(needed.saturating_mul(2).saturating_sub(free))
        )),
        Severity::Warning => Some(
            "Indexes and temporary files need more than the data; free more space to be safe."
                .into(),
        ),
        Severity::Info => None,
    };
    Finding::new(
        severity,
        FindingCode::DiskSpace,
        format!(
            "The restore needs about {need}; the server's disk ({data_directory}) has {} free.",
            human_bytes(free)
        ),
        fix,
    )
}

pub(super) fn disk_severity(needed: u64, free: u64) -> Severity {
    if free < needed {
        Severity::Blocker
    } else if free < needed.saturating_mul(2) {
        Severity::Warning
    } else {
        Severity::Info
    }
}

pub(super) fn extensions(dump: &DumpFacts, target: &TargetFacts) -> Option<Finding> {
    let unavailable: Vec<String> =
        dump.extensions().into_iter().filter(|e| !target.extensions.contains(e)).collect();
    if unavailable.is_empty() {
        return None;
    }
    Some(Finding::new(
        Severity::Blocker,
        FindingCode::ExtensionUnavailable,
        format!(
            "The backup needs the extension{} {}, which \"{}\" (PostgreSQL {}) cannot provide.",
            plural(unavailable.len()),
            unavailable.join(", "),
            target.profile_name,
            target.server_version
        ),
        Some(
            "Install the extension's package on the server, or restore onto a server that has \
             it."
            .into(),
        ),
    ))
}

fn major_of(version: &str) -> Option<u32> {
    version.split(['.', ' ']).next()?.parse().ok()
}

pub(super) fn newer_source(source: &SourceFacts, target: &TargetFacts) -> Option<Finding> {
    let from = source.dumped_from.as_ref()?;
    let major = target.server.major();
    major_of(from).is_some_and(|m| m > major).then(|| {
        Finding::new(
            Severity::Warning,
            FindingCode::NewerSource,
            format!(
                "The backup comes from PostgreSQL {from}; \"{}\" runs {}.",
                target.profile_name, target.server_version
            ),
            Some(format!(
                "Objects that use features newer than PostgreSQL {major} cannot be restored; the \
                 restore stops at the first such error and leaves nothing behind."
            )),
        )
    })
}

/// Schemas the backup creates that the target already holds: their `CREATE SCHEMA` is left out.
pub(super) fn schemas_exist(entries: &[&DumpEntry]) -> Option<Finding> {
    let names: BTreeSet<String> = entries.iter().map(|e| e.name.clone()).collect();
    if names.is_empty() {
        return None;
    }
    Some(Finding::new(
        Severity::Info,
        FindingCode::SchemaExists,
        format!(
            "The backup creates the schema{} {}, which every new database already has; Lifeboat \
             restores into the existing schema instead of creating it again.",
            plural(names.len()),
            list_names(&names)
        ),
        None,
    ))
}

/// Schemas the restore creates because the chosen entries live there and the dump does not
/// create them (a `--table` backup of a table outside `public`).
pub(super) fn schemas_created(schemas: &[String], database: &str) -> Option<Finding> {
    if schemas.is_empty() {
        return None;
    }
    Some(Finding::new(
        Severity::Info,
        FindingCode::SchemasCreated,
        format!(
            "The backup's entries live in the schema{} {}, which it does not create (a backup of \
             chosen tables carries no CREATE SCHEMA); Lifeboat creates {} in {database} before \
             restoring.",
            plural(schemas.len()),
            schemas.join(", "),
            if schemas.len() == 1 { "it" } else { "them" }
        ),
        None,
    ))
}

/// Entries the selection leaves out only because they need what it leaves out.
pub(super) fn dependents(left_out: &[LeftOut]) -> Option<Finding> {
    let dependents: Vec<&LeftOut> = left_out.iter().filter(|l| l.because.is_some()).collect();
    if dependents.is_empty() {
        return None;
    }
    let shown: Vec<String> = dependents
        .iter()
        .take(8)
        .map(|l| {
            format!(
                "{} (needs {})",
                selection::describe(&l.kind, l.schema.as_deref(), &l.name),
                l.because.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let more = dependents.len().saturating_sub(shown.len());
    let (entr, verb_s, is) = entry_forms(dependents.len());
    Some(Finding::new(
        Severity::Info,
        FindingCode::DependentsLeftOut,
        format!(
            "{} entr{entr} depend{verb_s} on what is left out and {is} left out too: {}{}.",
            dependents.len(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ),
        Some("Include what they need to restore them as well.".into()),
    ))
}

/// The entries other than grants left out because they name missing roles, each named with
/// its roles (grants have their own finding).
pub(super) fn role_entries_skipped(left_out: &[RoleLeftOut]) -> Option<Finding> {
    let named: Vec<String> = left_out
        .iter()
        .filter(|l| l.kind != "ACL" && l.kind != "DEFAULT ACL")
        .map(|l| {
            format!(
                "{} (role {})",
                selection::describe(&l.kind, l.schema.as_deref(), &l.name),
                l.roles.join(", ")
            )
        })
        .collect();
    if named.is_empty() {
        return None;
    }
    let (entr, verb_s, is) = entry_forms(named.len());
    Some(Finding::new(
        Severity::Warning,
        FindingCode::RoleEntriesSkipped,
        format!(
            "{} entr{entr} name{verb_s} roles missing on the target and {is} left out: {}.",
            named.len(),
            named.join(", ")
        ),
        Some(
            "Restore with --create-missing-roles (the wizard's \"Create the missing roles as \
             NOLOGIN roles\") to create them and restore these too, or create the roles first."
                .into(),
        ),
    ))
}
