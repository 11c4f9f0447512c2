//! The plan in one sentence.

use std::path::Path;

use crate::base::finding::Severity;

use super::findings::{entry_forms, plural};
use super::plan::is_grant;
use super::{MethodKind, RestoreMethod, RestorePlan};

/// The plan in one sentence, e.g. "Creates database shop_restored_20261121 on "prod"
/// (PostgreSQL 18.6) and restores 42 entries from shop.backup with pg_restore 18; 2 roles
/// missing → owned by postgres; nothing existing is changed."
pub(super) fn summarize(
    plan: &RestorePlan,
    source: &Path,
    missing_owners: usize,
    create_schemas: &[String],
) -> String {
    let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if plan.blocked {
        let reasons: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Blocker)
            .map(|f| f.message.as_str())
            .collect();
        return format!("Cannot restore {name}: {}", reasons.join(" "));
    }
    let how = tools(&plan.method);
    let server = format!("\"{}\" (PostgreSQL {})", plan.profile, plan.server_version);
    let mut parts = vec![if let (Some(old), Some(kept)) = (&plan.replace, &plan.kept_as) {
        format!(
            "Restores {} entries from {name} into a new database {} on {server} with {how}, then \
             renames {old} to {kept} and {} to {old}",
            plan.entries, plan.database, plan.database
        )
    } else if plan.create_database {
        format!(
            "Creates database {} on {server} and restores {} entries from {name} with {how}",
            plan.database, plan.entries
        )
    } else {
        format!(
            "Restores {} entries from {name} into the empty database {} on {server} with {how}, \
             in one transaction so that an error leaves it empty",
            plan.entries, plan.database
        )
    }];
    if !create_schemas.is_empty() {
        parts.push(format!(
            "creating schema{} {} first (the backup does not)",
            plural(create_schemas.len()),
            create_schemas.join(", ")
        ));
    }
    if !plan.method.dropped_settings.is_empty() {
        parts.push(format!("leaving out SET {}", plan.method.dropped_settings.join(", SET ")));
    }
    if let Some(owner) = &plan.owned_by {
        if missing_owners > 0 {
            parts.push(format!(
                "{missing_owners} owner role{} missing → owned by {owner}",
                plural(missing_owners)
            ));
        } else {
            parts.push(format!("owned by {owner}"));
        }
    }
    if !plan.create_roles.is_empty() {
        parts.push(format!(
            "creates role{} {} from the saved roles",
            plural(plan.create_roles.len()),
            plan.create_roles.join(", ")
        ));
    }
    parts.extend(left_out(plan));
    parts.push(
        if plan.replace.is_some() {
            "nothing is dropped"
        } else if plan.create_database {
            "nothing existing is changed"
        } else {
            "nothing else is changed"
        }
        .to_owned(),
    );
    format!("{}.", parts.join("; "))
}

/// "pg_restore 18 with 4 jobs", "psql 16" …
fn tools(m: &RestoreMethod) -> String {
    match m.kind {
        MethodKind::PgRestore if m.jobs > 1 => {
            format!("pg_restore {} with {} jobs", m.reader_major.unwrap_or(0), m.jobs)
        }
        MethodKind::PgRestore => format!("pg_restore {}", m.reader_major.unwrap_or(0)),
        MethodKind::Pipeline => format!(
            "pg_restore {} turned into SQL for psql {}",
            m.reader_major.unwrap_or(0),
            m.psql_major.unwrap_or(0)
        ),
        MethodKind::Psql => format!("psql {}", m.psql_major.unwrap_or(0)),
    }
}

/// The parts about entries left out, by choice or for missing roles.
fn left_out(plan: &RestorePlan) -> Vec<String> {
    let mut parts = Vec::new();
    if !plan.left_out.is_empty() {
        let chosen = plan.left_out.iter().filter(|l| l.because.is_none()).count();
        let followed = plan.left_out.len() - chosen;
        let mut text = format!("leaving out {chosen} entr{} by choice", entry_forms(chosen).0);
        if followed > 0 {
            text.push_str(&format!(" and {followed} that need{} them", entry_forms(followed).1));
        }
        parts.push(text);
    }
    if plan.skipped_entries > 0 {
        let grants_only = plan.left_out_for_roles.iter().all(|l| is_grant(&l.kind));
        parts.push(format!(
            "{} {}entr{} naming missing roles left out",
            plan.skipped_entries,
            if grants_only { "grant " } else { "" },
            entry_forms(plan.skipped_entries as usize).0
        ));
    }
    parts
}
