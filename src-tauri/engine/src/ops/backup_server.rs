//! "Back up server": every database of a profile's server in one job, each with the ordinary
//! single-database backup (its own files, manifest and catalog row), and the server's roles and
//! tablespaces once.
//!
//! - Databases are listed on the maintenance database. template0 and template1 are never
//!   backed up; other templates, databases that refuse connections (`ALLOW_CONNECTIONS false`)
//!   and databases the profile's user may not connect to are skipped and named with the reason.
//! - One failed database does not stop the job: the next one is backed up, and the outcome lists
//!   every database as backed up, failed (with its error) or skipped. The job failed only when
//!   no database was backed up; partial when some were not.
//! - The roles (pg_dumpall --globals-only) go with the first database backed up: its manifest
//!   lists the file, so a restore of that backup can recreate them. Saving them per database
//!   would write the same server-wide file again and again.
//! - Progress: a `Stage` per database (its name, n of m), then that backup's own events; a
//!   failure is also a `Warning` as it happens.

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::base::error::{ErrorPayload, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::format::manifest::ManifestFile;
use crate::ops::backup::{
    self, BackupFormat, BackupOutcome, BackupScope, Compression, StartBackup,
};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::context::Ctx;
use crate::storage::profiles;

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StartServerBackup {
    pub profile: String,
    /// The folder every database's backup goes into.
    pub destination: String,
    pub format: BackupFormat,
    /// Absent: the default for the format and the server's pg_dump.
    pub compression: Option<Compression>,
    /// Parallel pg_dump workers per database (directory format only).
    pub jobs: Option<u32>,
    /// Include the roles' password hashes in the roles file.
    #[serde(default)]
    pub role_passwords: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ServerBackupStatus {
    /// Every database that could be backed up was.
    Ok,
    /// Some databases were backed up, others failed or were skipped.
    Partial,
    /// No database was backed up.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseBackupState {
    BackedUp,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseBackupResult {
    pub database: String,
    pub state: DatabaseBackupState,
    /// The backup, when it was made.
    pub outcome: Option<BackupOutcome>,
    /// Why it failed.
    pub error: Option<ErrorPayload>,
    /// Why it was skipped, in plain words.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerBackupOutcome {
    pub status: ServerBackupStatus,
    /// What happened, in one or two plain sentences.
    pub summary: String,
    /// Every database of the server but template0 and template1, in name order.
    pub databases: Vec<DatabaseBackupResult>,
    /// The roles and tablespaces file, and the database whose backup lists it in its manifest.
    pub globals: Option<ServerGlobals>,
    pub size_bytes: u64,
    pub duration_ms: u64,
    /// Whether the job was cancelled; the backups finished before stay.
    pub cancelled: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerGlobals {
    pub file: ManifestFile,
    pub database: String,
}

/// A database of the server and whether it can be backed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDatabase {
    pub name: String,
    /// Why it is not backed up; `None` when it is.
    pub skip: Option<String>,
    /// Whether the skip matters: a template is skipped by design, a database the user cannot
    /// reach is one the server backup does not cover.
    pub skip_is_gap: bool,
}

/// Backs up every database of the profile's server; see the module's notes.
pub async fn backup_server(
    ctx: &Ctx,
    input: StartServerBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<ServerBackupOutcome> {
    let started = std::time::Instant::now();
    let databases = server_databases(ctx, &input.profile).await?;
    let to_back_up: Vec<&ServerDatabase> = databases.iter().filter(|d| d.skip.is_none()).collect();
    let total = to_back_up.len() as u32;
    let mut results = Vec::with_capacity(databases.len());
    let mut globals: Option<ServerGlobals> = None;
    let mut index = 0;
    for database in &databases {
        if let Some(reason) = &database.skip {
            results.push(skipped(&database.name, reason.clone()));
            continue;
        }
        if cancel.is_cancelled() {
            results.push(skipped(&database.name, "the job was cancelled before it started".into()));
            continue;
        }
        index += 1;
        sink.emit(ProgressEvent::Stage { index, total, name: database.name.clone() });
        let request = single(&input, &database.name, globals.is_none());
        match backup::backup(ctx, request, sink, cancel).await {
            Ok(outcome) => {
                if globals.is_none() {
                    globals = outcome.files.iter().find(|f| f.role == "globals").map(|file| {
                        ServerGlobals { file: file.clone(), database: database.name.clone() }
                    });
                }
                results.push(DatabaseBackupResult {
                    database: database.name.clone(),
                    state: DatabaseBackupState::BackedUp,
                    outcome: Some(outcome),
                    error: None,
                    reason: None,
                });
            }
            Err(error) => {
                sink.emit(ProgressEvent::Warning {
                    message: format!("The backup of {} failed: {error}", database.name),
                });
                results.push(DatabaseBackupResult {
                    database: database.name.clone(),
                    state: DatabaseBackupState::Failed,
                    outcome: None,
                    error: Some(error.payload()),
                    reason: None,
                });
            }
        }
    }
    let (status, summary) = judge(&databases, &results, cancel.is_cancelled());
    Ok(ServerBackupOutcome {
        status,
        summary,
        size_bytes: results.iter().filter_map(|r| r.outcome.as_ref()).map(|o| o.size_bytes).sum(),
        databases: results,
        globals,
        duration_ms: started.elapsed().as_millis() as u64,
        cancelled: cancel.is_cancelled(),
    })
}

/// The single-database backup of `database`: everything of it, with the roles when no earlier
/// database of this job saved them.
fn single(input: &StartServerBackup, database: &str, with_globals: bool) -> StartBackup {
    StartBackup {
        profile: input.profile.clone(),
        database: database.to_owned(),
        destination: input.destination.clone(),
        format: input.format,
        compression: input.compression,
        scope: BackupScope::default(),
        per_schema: false,
        jobs: input.jobs,
        globals: with_globals,
        role_passwords: input.role_passwords,
        keep_needed: false,
        leave_out_dependents: false,
    }
}

fn skipped(database: &str, reason: String) -> DatabaseBackupResult {
    DatabaseBackupResult {
        database: database.to_owned(),
        state: DatabaseBackupState::Skipped,
        outcome: None,
        error: None,
        reason: Some(reason),
    }
}

/// The databases of the profile's server, read on its maintenance database, each with why it
/// is skipped (if it is).
pub async fn server_databases(ctx: &Ctx, profile: &str) -> Result<Vec<ServerDatabase>> {
    let profile = profiles::find_profile(ctx, profile)?;
    let spec = ConnectSpec::for_profile(ctx, &profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let rows = client
        .query(
            "SELECT datname::text, datistemplate, datallowconn, \
               has_database_privilege(oid, 'CONNECT'), current_user::text \
             FROM pg_database WHERE datname NOT IN ('template0', 'template1') ORDER BY datname",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let (name, template, allows, may): (String, bool, bool, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let user: String = row.get(4);
            let (skip, skip_is_gap) = skip_reason(template, allows, may, &user);
            ServerDatabase { name, skip, skip_is_gap }
        })
        .collect())
}

/// Why a database is not backed up, and whether that leaves a gap in the server's backup.
fn skip_reason(
    template: bool,
    allows: bool,
    may_connect: bool,
    user: &str,
) -> (Option<String>, bool) {
    if template {
        return (
            Some(
                "a template (new databases are copied from it); back it up on its own if it \
                 holds data you need"
                    .into(),
            ),
            false,
        );
    }
    if !allows {
        return (
            Some(
                "it does not accept connections (ALLOW_CONNECTIONS is false); allow them with \
                 ALTER DATABASE … ALLOW_CONNECTIONS true to back it up"
                    .into(),
            ),
            true,
        );
    }
    if !may_connect {
        return (
            Some(format!(
                "the user {user} may not connect to it; grant CONNECT on it, or back it up with a \
                 profile whose user may"
            )),
            true,
        );
    }
    (None, false)
}

/// The job's status and its summary in plain words.
fn judge(
    databases: &[ServerDatabase],
    results: &[DatabaseBackupResult],
    cancelled: bool,
) -> (ServerBackupStatus, String) {
    let count = |state| results.iter().filter(|r| r.state == state).count();
    let (done, failed) = (count(DatabaseBackupState::BackedUp), count(DatabaseBackupState::Failed));
    let gaps: Vec<&str> =
        databases.iter().filter(|d| d.skip_is_gap).map(|d| d.name.as_str()).collect();
    let not_started = if cancelled {
        results
            .iter()
            .filter(|r| r.state == DatabaseBackupState::Skipped)
            .count()
            .saturating_sub(databases.iter().filter(|d| d.skip.is_some()).count())
    } else {
        0
    };
    let plural = |n: usize| if n == 1 { "database" } else { "databases" };
    let mut sentences = Vec::new();
    if done == 0 {
        sentences.push("No database was backed up.".to_owned());
    } else {
        sentences.push(format!("{done} {} backed up.", plural(done)));
    }
    if failed > 0 {
        sentences.push(format!("{failed} {} failed; each shows its error.", plural(failed)));
    }
    if !gaps.is_empty() {
        sentences.push(format!(
            "{} could not be reached and {} not backed up: {}.",
            gaps.len(),
            if gaps.len() == 1 { "is" } else { "are" },
            gaps.join(", ")
        ));
    }
    if cancelled {
        sentences.push(format!(
            "Cancelled: {not_started} {} not started; the backups finished before stay.",
            plural(not_started)
        ));
    }
    let status = if done == 0 {
        ServerBackupStatus::Failed
    } else if failed > 0 || !gaps.is_empty() || cancelled {
        ServerBackupStatus::Partial
    } else {
        ServerBackupStatus::Ok
    };
    if status == ServerBackupStatus::Partial {
        sentences.insert(0, "Not every database was backed up.".into());
    }
    (status, sentences.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str, skip: Option<&str>, gap: bool) -> ServerDatabase {
        ServerDatabase { name: name.into(), skip: skip.map(str::to_owned), skip_is_gap: gap }
    }

    fn result(name: &str, state: DatabaseBackupState) -> DatabaseBackupResult {
        DatabaseBackupResult {
            database: name.into(),
            state,
            outcome: None,
            error: None,
            reason: (state == DatabaseBackupState::Skipped).then(|| "x".into()),
        }
    }

    #[test]
    fn templates_are_skipped_by_design_and_unreachable_databases_are_gaps() {
        let (reason, gap) = skip_reason(true, true, true, "ada");
        assert!(reason.unwrap().contains("template") && !gap);
        let (reason, gap) = skip_reason(false, false, true, "ada");
        assert!(reason.unwrap().contains("ALLOW_CONNECTIONS") && gap);
        let (reason, gap) = skip_reason(false, true, false, "ada");
        assert!(reason.unwrap().contains("ada may not connect") && gap);
        assert_eq!(skip_reason(false, true, true, "ada"), (None, false));
    }

    #[test]
    fn the_job_failed_only_when_nothing_was_backed_up() {
        use DatabaseBackupState::*;
        let dbs = [db("a", None, false), db("b", None, false), db("tpl", Some("t"), false)];
        let all = [result("a", BackedUp), result("b", BackedUp), result("tpl", Skipped)];
        let (status, summary) = judge(&dbs, &all, false);
        assert_eq!(status, ServerBackupStatus::Ok);
        assert_eq!(summary, "2 databases backed up.");

        let one_failed = [result("a", BackedUp), result("b", Failed), result("tpl", Skipped)];
        let (status, summary) = judge(&dbs, &one_failed, false);
        assert_eq!(status, ServerBackupStatus::Partial);
        assert_eq!(
            summary,
            "Not every database was backed up. 1 database backed up. 1 database failed; each \
             shows its error."
        );

        let none = [result("a", Failed), result("b", Failed), result("tpl", Skipped)];
        let (status, summary) = judge(&dbs, &none, false);
        assert_eq!(status, ServerBackupStatus::Failed);
        assert!(summary.starts_with("No database was backed up. 2 databases failed"), "{summary}");

        let closed = [db("a", None, false), db("locked", Some("no"), true)];
        let (status, summary) =
            judge(&closed, &[result("a", BackedUp), result("locked", Skipped)], false);
        assert_eq!(status, ServerBackupStatus::Partial);
        assert!(
            summary.contains("1 could not be reached and is not backed up: locked."),
            "{summary}"
        );

        let (status, summary) = judge(
            &dbs,
            &[result("a", BackedUp), result("b", Skipped), result("tpl", Skipped)],
            true,
        );
        assert_eq!(status, ServerBackupStatus::Partial);
        assert!(summary.contains("Cancelled: 1 database not started"), "{summary}");
    }
}
