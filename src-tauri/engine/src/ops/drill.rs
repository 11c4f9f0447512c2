//! The restore drill ("backup test"): proves that a backup restores, without touching
//! production, and keeps the proof.
//!
//! 1. Integrity: every file's sha256 against the manifest, then a full read ([`restore::verify`]).
//! 2. Restore into a scratch database `<db>_drill_YYYYMMDD_HHMMSS`, on the local practice server
//!    ([`PracticeServer`]) or on a server the user chooses.
//! 3. Compare with the manifest's baseline: every table with exactly its recorded row count,
//!    sequences at their recorded values, extensions present, object counts by kind.
//! 4. `pg_amcheck --heapallindexed --install-missing` on the scratch database.
//! 5. The user's smoke checks for the database ([`smoke`]).
//! 6. Drop the scratch database (unless kept) and stop the practice server.
//!
//! A finding about the backup (a checksum, a damaged archive, a restore error, a difference, a
//! failed check) makes a failed drill: it is still recorded, with a certificate. Anything that
//! keeps the drill from judging the backup (the chosen server is down, a cancel) is an error and
//! records nothing. Either way no scratch database and no practice server is left behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::base::tools::{ServerVersion, Tool};
use crate::format::archive;
use crate::format::manifest::{MANIFEST_SUFFIX, Manifest};
use crate::format::selection::Selection;
use crate::format::source;
use crate::ops::practice::PracticeServer;
use crate::ops::restore::{self, FindingCode, RestoreRequest, Verified};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::runner::{self, ConnTarget, StdoutTo, ToolCommand};
use crate::pg::{admin, inventory, smoke as pg_smoke};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile};
use crate::storage::smoke::{self, SmokeCheck};
use crate::util::naming::fit_identifier;
use crate::util::quote::quote_ident;

/// Where the scratch database is restored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DrillTarget {
    /// The local practice server Lifeboat runs itself.
    #[default]
    Practice,
    /// A server of the user's, by profile name.
    Profile { name: String },
}

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillRequest {
    /// A backup file, the folder of a directory backup, or its manifest.
    pub source: String,
    #[serde(default)]
    pub target: DrillTarget,
    /// Keep the scratch database afterwards (to look at it).
    #[serde(default)]
    pub keep: bool,
    /// Of a one-file-per-schema backup's manifest: the schema whose file is tested.
    #[serde(default)]
    pub schema: Option<String>,
    /// The smoke checks to run; absent: those saved for the backup's database.
    #[serde(default)]
    pub smoke_checks: Option<Vec<SmokeCheck>>,
    /// Test hook: SQL run in the scratch database between the restore and the comparison, to
    /// prove that the comparison notices a difference. Not reachable from the GUI or the CLI.
    #[serde(skip)]
    #[specta(skip)]
    pub tamper: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DrillStepKind {
    Integrity,
    Restore,
    Compare,
    Amcheck,
    SmokeChecks,
    Cleanup,
}

impl DrillStepKind {
    const ALL: [DrillStepKind; 6] = [
        DrillStepKind::Integrity,
        DrillStepKind::Restore,
        DrillStepKind::Compare,
        DrillStepKind::Amcheck,
        DrillStepKind::SmokeChecks,
        DrillStepKind::Cleanup,
    ];

    pub fn title(self) -> &'static str {
        match self {
            DrillStepKind::Integrity => "Integrity (checksums and a full read)",
            DrillStepKind::Restore => "Restore into a scratch database",
            DrillStepKind::Compare => "Compare with the backup's baseline",
            DrillStepKind::Amcheck => "Check tables and indexes (pg_amcheck)",
            DrillStepKind::SmokeChecks => "Your smoke checks",
            DrillStepKind::Cleanup => "Clean up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Not run: an earlier step failed, or there was nothing to check.
    Skipped,
}

/// One comparison or check inside a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillCheck {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillStep {
    pub kind: DrillStepKind,
    pub status: StepStatus,
    pub duration_ms: u64,
    /// What happened, in plain words.
    pub summary: String,
    pub checks: Vec<DrillCheck>,
}

/// The result of a drill; also the JSON certificate.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillReport {
    pub passed: bool,
    /// Why it failed, in one sentence.
    pub failure: Option<String>,
    /// The backup tested.
    pub source: String,
    pub manifest: Option<String>,
    /// The database the backup was made from.
    pub database: Option<String>,
    /// When the backup was made (from its manifest).
    pub backed_up_at: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// Where it was restored: "practice server" or the profile's name.
    pub target: String,
    pub server_version: Option<String>,
    pub scratch_database: Option<String>,
    /// Whether the scratch database was kept.
    pub kept: bool,
    pub tool_versions: Vec<String>,
    pub app_version: String,
    pub steps: Vec<DrillStep>,
    /// Where the certificate was written (HTML and JSON).
    pub certificate_html: Option<String>,
    pub certificate_json: Option<String>,
}

/// Runs a drill. Progress goes to `sink` (a `stage` event per step, the restore's own events in
/// between); `cancel` stops it, removes the scratch database and stops the practice server.
pub async fn drill(
    ctx: &Ctx,
    request: DrillRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<DrillReport> {
    let started_at = chrono::Local::now();
    let started = Instant::now();
    let mut run =
        Run { steps: Vec::new(), tool_versions: Vec::new(), sink, scratch_created: false };
    match &request.target {
        // A wrong profile name is a mistake of the request, not a finding about the backup.
        DrillTarget::Profile { name } => {
            profiles::find_profile(ctx, name)?;
        }
        DrillTarget::Practice if request.keep => {
            return Err(Error::InvalidInput {
                field: "keep",
                problem: "the practice server stops after the test, so a kept scratch database \
                          could not be looked at; test on one of your servers to keep it"
                    .into(),
            });
        }
        DrillTarget::Practice => {}
    }

    // 1. Integrity, before any server is involved.
    run.stage(DrillStepKind::Integrity);
    let clock = Instant::now();
    let schema = request.schema.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let verified = match restore::verify(ctx, &request.source, schema, sink, cancel).await {
        Ok(verified) => {
            run.done(
                DrillStepKind::Integrity,
                clock,
                StepStatus::Passed,
                integrity_text(&verified),
            );
            Some(verified)
        }
        Err(error) if is_about_the_backup(&error) => {
            run.done(DrillStepKind::Integrity, clock, StepStatus::Failed, error.to_string());
            None
        }
        Err(error) => return Err(error),
    };
    let found = match &verified {
        Some(v) => archive::find_manifest(Path::new(&v.source))?,
        // A damaged backup is still recorded against its manifest, when it has a readable one.
        None => source::locate_manifest(&request.source, schema),
    };
    // Of a one-file-per-schema backup, one schema's file is tested: only its schema is compared.
    let manifest = found.as_ref().map(|f| {
        let mut manifest = f.manifest.clone();
        let schemas: Vec<&str> = f.files.iter().filter_map(|file| file.schema.as_deref()).collect();
        if !schemas.is_empty() {
            manifest.tables.retain(|t| schemas.contains(&t.schema.as_str()));
            manifest.sequences.retain(|q| schemas.contains(&q.schema.as_str()));
            // pg_dump --schema dumps only the extensions installed in that schema.
            manifest.extensions.retain(|e| schemas.contains(&e.schema.as_str()));
        }
        manifest
    });
    let database = manifest
        .as_ref()
        .map(|m| m.database.clone())
        .or_else(|| verified.as_ref().and_then(|v| v.source_database.clone()));
    let target_name = match &request.target {
        DrillTarget::Practice => "practice server".to_owned(),
        DrillTarget::Profile { name } => name.clone(),
    };
    let mut report = DrillReport {
        passed: false,
        failure: None,
        source: verified.as_ref().map(|v| v.source.clone()).unwrap_or(request.source.clone()),
        manifest: found.as_ref().map(|f| f.path.display().to_string()),
        database: database.clone(),
        backed_up_at: manifest.as_ref().map(|m| m.finished_at.clone()),
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        duration_ms: 0,
        target: target_name,
        server_version: None,
        scratch_database: None,
        kept: false,
        tool_versions: Vec::new(),
        app_version: crate::VERSION.to_owned(),
        steps: Vec::new(),
        certificate_html: None,
        certificate_json: None,
    };

    if verified.is_some() {
        // 2.–6. on a server.
        let practice = match &request.target {
            DrillTarget::Practice => Some(PracticeServer::start(ctx, sink, cancel).await?),
            DrillTarget::Profile { .. } => None,
        };
        let profile = match (&practice, &request.target) {
            (Some(server), _) => server.profile(),
            (None, DrillTarget::Profile { name }) => profiles::find_profile(ctx, name)?,
            (None, DrillTarget::Practice) => unreachable!("the practice server was started"),
        };
        let scratch = free_scratch_name(
            ctx,
            &profile,
            &scratch_name(database.as_deref().unwrap_or("backup"), started_at),
        )
        .await?;
        let on_server =
            on_server(ctx, &request, &profile, &scratch, manifest.as_ref(), &mut run, cancel).await;
        // Cleanup happens whatever came before.
        run.stage(DrillStepKind::Cleanup);
        let clock = Instant::now();
        let mut cleanup = Vec::new();
        let mut cleanup_failed = false;
        let keep = request.keep && on_server.is_ok() && run.scratch_created;
        if run.scratch_created && !keep {
            match drop_scratch(ctx, &profile, &scratch).await {
                Ok(()) => cleanup.push(format!("Dropped the scratch database {scratch}.")),
                Err(error) => {
                    cleanup_failed = true;
                    cleanup.push(format!(
                        "The scratch database {scratch} could not be dropped ({error}); drop it \
                         by hand."
                    ));
                }
            }
        } else if keep {
            cleanup.push(format!("Kept the scratch database {scratch} on {}.", report.target));
        }
        if let Some(server) = practice {
            match server.stop().await {
                Ok(()) => cleanup.push("Stopped the practice server.".to_owned()),
                Err(error) => {
                    cleanup_failed = true;
                    cleanup.push(format!("The practice server did not stop: {error}"));
                }
            }
        }
        let status = if cleanup_failed { StepStatus::Failed } else { StepStatus::Passed };
        run.done(DrillStepKind::Cleanup, clock, status, cleanup.join(" "));
        match on_server {
            Ok(server_version) => {
                report.server_version = server_version;
                report.scratch_database = Some(scratch);
                report.kept = keep;
            }
            Err(error) => return Err(error),
        }
    }

    // Steps that did not run are listed as skipped, so every certificate has all six.
    for kind in DrillStepKind::ALL {
        if !run.steps.iter().any(|s| s.kind == kind) {
            run.steps.push(DrillStep {
                kind,
                status: StepStatus::Skipped,
                duration_ms: 0,
                summary: "Not run: an earlier step failed.".into(),
                checks: Vec::new(),
            });
        }
    }
    run.steps.sort_by_key(|s| DrillStepKind::ALL.iter().position(|k| *k == s.kind));
    report.failure = run
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Failed)
        .map(|s| format!("{}: {}", s.kind.title(), s.summary));
    report.passed = report.failure.is_none();
    report.steps = run.steps;
    report.tool_versions = run.tool_versions;
    report.finished_at = chrono::Local::now().to_rfc3339();
    report.duration_ms = started.elapsed().as_millis() as u64;
    write_certificate(ctx, &mut report)?;
    record(ctx, &report)?;
    Ok(report)
}

/// The drill's state while it runs.
struct Run<'a> {
    steps: Vec<DrillStep>,
    tool_versions: Vec<String>,
    sink: &'a dyn ProgressSink,
    /// The scratch database exists (the restore into it finished): cleanup must drop it.
    scratch_created: bool,
}

impl Run<'_> {
    fn stage(&self, kind: DrillStepKind) {
        let index = DrillStepKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u32 + 1;
        self.sink.emit(ProgressEvent::Stage {
            index,
            total: DrillStepKind::ALL.len() as u32,
            name: kind.title().to_owned(),
        });
    }

    fn done(&mut self, kind: DrillStepKind, clock: Instant, status: StepStatus, summary: String) {
        self.done_with(kind, clock, status, summary, Vec::new());
    }

    fn done_with(
        &mut self,
        kind: DrillStepKind,
        clock: Instant,
        status: StepStatus,
        summary: String,
        checks: Vec<DrillCheck>,
    ) {
        self.steps.push(DrillStep {
            kind,
            status,
            duration_ms: clock.elapsed().as_millis() as u64,
            summary,
            checks,
        });
    }
}

/// Errors that say something about the backup itself (a failed drill), as opposed to errors that
/// keep the drill from running (the server is down, the request is wrong, the archive is newer
/// than the bundled tools can read).
fn is_about_the_backup(error: &Error) -> bool {
    matches!(
        error,
        Error::NotABackup { .. }
            | Error::ManifestInvalid { .. }
            | Error::ChecksumMismatch { .. }
            | Error::BackupFileMissing { .. }
            | Error::ArchiveDamaged { .. }
            | Error::ToolFailed { tool: Tool::PgRestore | Tool::Psql, .. }
    ) || matches!(
        error,
        // Only what the backup itself holds; a full disk or a missing extension on the server
        // restored into says nothing about the backup.
        Error::RestoreBlocked { blockers } if blockers.iter().all(|b| matches!(
            b.code,
            FindingCode::DumpIncomplete | FindingCode::DumpSwitchesDatabase
        ))
    )
}

fn integrity_text(v: &Verified) -> String {
    let checksums = match &v.manifest {
        Some(_) => format!(
            "{} file{} match{} the manifest's sha256",
            v.verified_files,
            if v.verified_files == 1 { "" } else { "s" },
            if v.verified_files == 1 { "es" } else { "" }
        ),
        None => "no manifest, so no checksums to compare".to_owned(),
    };
    format!(
        "{checksums}; read completely: {} entries, {} of SQL.",
        v.entries,
        crate::util::size::human_bytes(v.sql_bytes)
    )
}

/// `<db>_drill_YYYYMMDD_HHMMSS`, the database part cut so that it fits 63 bytes.
pub fn scratch_name(database: &str, at: chrono::DateTime<chrono::Local>) -> String {
    fit_identifier(database, &format!("_drill_{}", at.format("%Y%m%d_%H%M%S")), 0)
}

/// Steps 2–5. Ok(Some(version)) when the scratch database was restored (whatever the checks
/// found); Ok(None) when the restore itself failed on the backup (a failed step, nothing left).
async fn on_server(
    ctx: &Ctx,
    request: &DrillRequest,
    profile: &Profile,
    scratch: &str,
    manifest: Option<&Manifest>,
    run: &mut Run<'_>,
    cancel: &CancellationToken,
) -> Result<Option<String>> {
    // 2. Restore.
    run.stage(DrillStepKind::Restore);
    let clock = Instant::now();
    let restore_request = RestoreRequest {
        source: request.source.clone(),
        profile: profile.settings.name.clone(),
        target_database: Some(scratch.to_owned()),
        selection: Selection {
            schemas: request.schema.iter().filter(|s| !s.trim().is_empty()).cloned().collect(),
            ..Selection::default()
        },
        // The practice server is Lifeboat's own: roles saved with the backup are recreated
        // there, so owners and grants are tested too. A user's server is left as it is.
        create_roles: matches!(request.target, DrillTarget::Practice),
        // Step 1 has just hashed every file; a large backup is not read once more for that.
        checksums_verified: true,
        ..RestoreRequest::default()
    };
    let outcome =
        match restore::restore_on(ctx, profile.clone(), restore_request, run.sink, cancel).await {
            Ok(outcome) => outcome,
            Err(error) if is_about_the_backup(&error) => {
                run.done(DrillStepKind::Restore, clock, StepStatus::Failed, error.to_string());
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
    run.scratch_created = true;
    run.tool_versions.extend(outcome.tool_versions.iter().cloned());
    let mut summary = format!(
        "Restored {} entries into {scratch} on {} in {:.1} s.",
        outcome.restored_entries,
        profile.settings.name,
        outcome.duration_ms as f64 / 1000.0
    );
    if !outcome.warnings.is_empty() {
        summary.push_str(&format!(" Notes: {}", outcome.warnings.join(" ")));
    }
    run.done(DrillStepKind::Restore, clock, StepStatus::Passed, summary);
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    let spec = ConnectSpec::for_profile(ctx, profile, scratch)?;
    let client = connect(&spec).await?;
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| query_error(&e))?
        .get(0);
    if let Some(sql) = &request.tamper {
        client.batch_execute(sql).await.map_err(|e| query_error(&e))?;
    }

    // 3. Compare with the baseline.
    run.stage(DrillStepKind::Compare);
    let clock = Instant::now();
    match manifest {
        Some(manifest) => {
            let checks = compare(&client, manifest).await?;
            let differ: Vec<&DrillCheck> = checks.iter().filter(|c| !c.passed).collect();
            let (status, summary) = if differ.is_empty() {
                (
                    StepStatus::Passed,
                    format!("All {} checks match the backup's baseline.", checks.len()),
                )
            } else {
                let first: Vec<String> = differ
                    .iter()
                    .take(3)
                    .map(|c| format!("{}: {} instead of {}", c.name, c.actual, c.expected))
                    .collect();
                (
                    StepStatus::Failed,
                    format!(
                        "{} of {} checks differ from the backup's baseline: {}.",
                        differ.len(),
                        checks.len(),
                        first.join("; ")
                    ),
                )
            };
            run.done_with(DrillStepKind::Compare, clock, status, summary, checks);
        }
        None => run.done(
            DrillStepKind::Compare,
            clock,
            StepStatus::Skipped,
            "No Lifeboat manifest describes this backup, so there is no baseline to compare with."
                .into(),
        ),
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // 4. pg_amcheck.
    run.stage(DrillStepKind::Amcheck);
    let clock = Instant::now();
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'), \
             EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck'), \
             (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let (available, installed, superuser): (bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2));
    if available && !installed && !superuser {
        // amcheck is not a trusted extension: only a superuser may install it.
        run.done(
            DrillStepKind::Amcheck,
            clock,
            StepStatus::Skipped,
            format!(
                "Installing the amcheck extension needs a superuser, and \"{}\" connects as {}.",
                profile.settings.name, profile.settings.user
            ),
        );
    } else if available {
        let server_num: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| query_error(&e))?
            .get(0);
        let tools = ctx.tools.for_restore(ServerVersion(server_num.max(0) as u32))?;
        run.tool_versions.push(runner::version_line(tools, Tool::PgAmcheck, cancel).await?);
        let command = ToolCommand::new(tools, Tool::PgAmcheck)?
            .args(["--install-missing", "--heapallindexed", "--no-password"])
            .arg(admin::conninfo_dbname(scratch))
            .conn(ConnTarget::for_profile(ctx, profile, scratch)?)
            .stdout(StdoutTo::Capture);
        match runner::run(command, run.sink, cancel).await {
            Ok(_) => run.done(
                DrillStepKind::Amcheck,
                clock,
                StepStatus::Passed,
                "Every table and B-tree index was read and checked; no corruption.".into(),
            ),
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            // pg_amcheck ends with 2 when it found corruption, with 1 when it could not check.
            Err(Error::ToolFailed { exit_code: Some(2), detail, .. }) => run.done(
                DrillStepKind::Amcheck,
                clock,
                StepStatus::Failed,
                format!("pg_amcheck found corruption: {detail}"),
            ),
            Err(Error::ToolFailed { detail, .. }) => run.done(
                DrillStepKind::Amcheck,
                clock,
                StepStatus::Skipped,
                format!("pg_amcheck could not check the database: {detail}"),
            ),
            Err(error) => return Err(error),
        }
    } else {
        run.done(
            DrillStepKind::Amcheck,
            clock,
            StepStatus::Skipped,
            format!(
                "The server \"{}\" does not offer the amcheck extension.",
                profile.settings.name
            ),
        );
    }

    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // 5. Smoke checks.
    run.stage(DrillStepKind::SmokeChecks);
    let clock = Instant::now();
    let checks = match &request.smoke_checks {
        Some(checks) => checks.clone(),
        None => match manifest {
            Some(m) => smoke::list(ctx, &m.database)?,
            None => Vec::new(),
        },
    };
    if checks.is_empty() {
        run.done(
            DrillStepKind::SmokeChecks,
            clock,
            StepStatus::Skipped,
            "No smoke checks are saved for this database.".into(),
        );
    } else {
        let mut results = Vec::new();
        for check in &checks {
            let result = pg_smoke::run(&client, check).await;
            results.push(DrillCheck {
                name: format!("{} ({})", check.label, check.sql),
                passed: result.passed,
                expected: check.expect.describe(),
                actual: result.actual,
            });
        }
        let failed = results.iter().filter(|r| !r.passed).count();
        let (status, summary) = if failed == 0 {
            let text = match results.len() {
                1 => "The smoke check passed.".to_owned(),
                n => format!("All {n} smoke checks passed."),
            };
            (StepStatus::Passed, text)
        } else {
            let first = results.iter().find(|r| !r.passed).expect("a failed check");
            (
                StepStatus::Failed,
                format!(
                    "{failed} of {} smoke checks failed: {} gave {}, expected {}.",
                    results.len(),
                    first.name,
                    first.actual,
                    first.expected
                ),
            )
        };
        run.done_with(DrillStepKind::SmokeChecks, clock, status, summary, results);
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    Ok(Some(version))
}

/// Step 3's checks: tables and rows, sequences, extensions and (for a whole-database backup)
/// object counts.
async fn compare(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let mut checks = Vec::new();
    for table in &manifest.tables {
        let name = format!("{}.{}", table.schema, table.table);
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.table)
        );
        let actual = match client.query_one(&sql, &[]).await {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
            {
                Err("missing".to_owned())
            }
            Err(error) => return Err(query_error(&error)),
        };
        let (passed, expected, actual) = match (table.rows, actual) {
            (Some(rows), Ok(count)) => (rows == count, rows_text(rows), rows_text(count)),
            // Schema-only backups record no row counts: the table must exist.
            (None, Ok(_)) => (true, "present".to_owned(), "present".to_owned()),
            (rows, Err(missing)) => {
                (false, rows.map(rows_text).unwrap_or("present".into()), missing)
            }
        };
        checks.push(DrillCheck { name: format!("table {name}"), passed, expected, actual });
    }
    let sequences: BTreeMap<(String, String), Option<i64>> = client
        .query("SELECT schemaname::text, sequencename::text, last_value FROM pg_sequences", &[])
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let value = |v: Option<i64>| v.map_or_else(|| "never used".to_owned(), |v| v.to_string());
    for sequence in &manifest.sequences {
        let key = (sequence.schema.clone(), sequence.name.clone());
        // Sequences are not transactional: pg_dump reads them a moment after the baseline was
        // taken, so a busy database may have moved them on, never back.
        let (passed, actual) = match sequences.get(&key) {
            Some(actual) => (*actual >= sequence.last_value, value(*actual)),
            None => (false, "missing".to_owned()),
        };
        let expected = match sequence.last_value {
            Some(v) => format!("at least {v}"),
            None => value(None),
        };
        checks.push(DrillCheck {
            name: format!("sequence {}.{}", sequence.schema, sequence.name),
            passed,
            expected,
            actual,
        });
    }
    let extensions: Vec<String> = client
        .query("SELECT extname::text FROM pg_extension", &[])
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for extension in &manifest.extensions {
        let present = extensions.contains(&extension.name);
        checks.push(DrillCheck {
            name: format!("extension {}", extension.name),
            passed: present,
            expected: "present".into(),
            actual: if present { "present" } else { "missing" }.into(),
        });
    }
    if manifest.scope.is_whole() && !manifest.per_schema {
        let counts = inventory::object_counts(client).await?;
        for (kind, expected) in &manifest.object_counts {
            // Manifests before version 2 counted NOT NULL constraints (PostgreSQL 18) and the
            // public schema; those two counts are not comparable.
            if manifest.manifest_version < 2 && matches!(kind.as_str(), "constraints" | "schemas") {
                continue;
            }
            let Some(actual) = counts.get(kind) else { continue };
            checks.push(DrillCheck {
                name: format!("number of {}", kind.replace('_', " ")),
                passed: actual == expected,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    Ok(checks)
}

fn rows_text(rows: i64) -> String {
    format!("{rows} row{}", if rows == 1 { "" } else { "s" })
}

/// `name`, or `name_2`, `name_3` … when a database of that name exists: the drill must create
/// its scratch database itself, never fill (and then drop) one that was there.
async fn free_scratch_name(ctx: &Ctx, profile: &Profile, name: &str) -> Result<String> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let taken: std::collections::HashSet<String> = connect(&spec)
        .await?
        .query("SELECT datname::text FROM pg_database", &[])
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((1..)
        .map(|n| if n == 1 { name.to_owned() } else { format!("{name}_{n}") })
        .find(|n| !taken.contains(n))
        .expect("a free name exists"))
}

async fn drop_scratch(ctx: &Ctx, profile: &Profile, scratch: &str) -> Result<()> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let version: i32 = connect(&spec)
        .await?
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| query_error(&e))?
        .get(0);
    admin::drop_database(ctx, profile, ServerVersion(version.max(0) as u32), scratch).await
}

/// Writes the certificate (JSON and HTML) next to the backup; when that folder is not writable,
/// into `certificates/` in the data folder.
fn write_certificate(ctx: &Ctx, report: &mut DrillReport) -> Result<()> {
    let source = PathBuf::from(&report.source);
    let stem = match &report.manifest {
        Some(manifest) => Path::new(manifest)
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(MANIFEST_SUFFIX).to_owned()),
        None => source.file_name().map(|n| n.to_string_lossy().into_owned()),
    }
    .unwrap_or_else(|| "backup".to_owned());
    let at = chrono::DateTime::parse_from_rfc3339(&report.started_at)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_default();
    let name = format!("{stem}.drill-{at}");
    let beside = match &report.manifest {
        Some(manifest) => Path::new(manifest).parent().map(Path::to_path_buf),
        None => source.parent().map(Path::to_path_buf),
    };
    let fallback = ctx.data_dir.path().join("certificates");
    for folder in beside.into_iter().chain([fallback]) {
        let html = folder.join(format!("{name}.html"));
        let json = folder.join(format!("{name}.json"));
        report.certificate_html = Some(html.display().to_string());
        report.certificate_json = Some(json.display().to_string());
        let written = std::fs::create_dir_all(&folder)
            .and_then(|()| {
                std::fs::write(&json, serde_json::to_vec_pretty(report).expect("serializable"))
            })
            .and_then(|()| std::fs::write(&html, certificate_html(report)));
        if written.is_ok() {
            return Ok(());
        }
        let _ = std::fs::remove_file(&json);
    }
    report.certificate_html = None;
    report.certificate_json = None;
    Err(Error::Io {
        action: "Writing the restore certificate",
        path: ctx.data_dir.path().join("certificates"),
        source: std::io::Error::other(
            "neither the backup's folder nor the data folder is writable",
        ),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The certificate as a page that reads offline: no scripts, no external files.
pub fn certificate_html(report: &DrillReport) -> String {
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let mut rows = String::new();
    for step in &report.steps {
        let status = match step.status {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        };
        rows.push_str(&format!(
            "<tr class=\"{status}\"><td>{}</td><td>{status}</td><td>{:.1} s</td><td>{}",
            escape(step.kind.title()),
            step.duration_ms as f64 / 1000.0,
            escape(&step.summary)
        ));
        if !step.checks.is_empty() {
            rows.push_str(
                "<table class=\"checks\"><tr><th>Check</th><th>Expected</th><th>Found</th></tr>",
            );
            for check in &step.checks {
                rows.push_str(&format!(
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if check.passed { "passed" } else { "failed" },
                    escape(&check.name),
                    escape(&check.expected),
                    escape(&check.actual)
                ));
            }
            rows.push_str("</table>");
        }
        rows.push_str("</td></tr>\n");
    }
    let fact = |label: &str, value: Option<&str>| match value {
        Some(value) => format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(label), escape(value)),
        None => String::new(),
    };
    let facts = [
        fact("Backup", Some(&report.source)),
        fact("Manifest (baseline)", report.manifest.as_deref()),
        fact("Database", report.database.as_deref()),
        fact("Backed up at", report.backed_up_at.as_deref()),
        fact("Tested at", Some(&report.started_at)),
        fact("Restored on", Some(&report.target)),
        fact("Server version", report.server_version.as_deref()),
        fact("Scratch database", report.scratch_database.as_deref()),
        fact("Tools", Some(&report.tool_versions.join(", "))),
        fact("Lifeboat", Some(&report.app_version)),
        fact("Duration", Some(&format!("{:.1} s", report.duration_ms as f64 / 1000.0))),
    ]
    .concat();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Restore certificate: {title} {verdict}</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}}\
         h1{{font-size:1.4em}} .verdict{{padding:.6em 1em;border-radius:6px;font-weight:600}}\
         .verdict.passed{{background:#e6f4ea;color:#1e6b34}} .verdict.failed{{background:#fde8e8;color:#9b1c1c}}\
         table{{border-collapse:collapse;width:100%;margin:1em 0}} th,td{{text-align:left;vertical-align:top;\
         padding:.3em .6em;border-bottom:1px solid #ddd}} tr.failed td{{color:#9b1c1c}}\
         tr.skipped td{{color:#777}} .checks{{font-size:.9em;margin:.4em 0}}</style></head><body>\
         <h1>Restore certificate</h1><p class=\"verdict {class}\" id=\"verdict\">{verdict}{failure}</p>\
         <table>{facts}</table><h2>Steps</h2><table><tr><th>Step</th><th>Result</th><th>Time</th>\
         <th>Details</th></tr>\n{rows}</table></body></html>\n",
        title = escape(report.database.as_deref().unwrap_or("backup")),
        class = if report.passed { "passed" } else { "failed" },
        failure = report.failure.as_deref().map(|f| format!(": {}", escape(f))).unwrap_or_default(),
    )
}

/// The drill in the catalog: its own row, and the backup's test status.
fn record(ctx: &Ctx, report: &DrillReport) -> Result<()> {
    let summary = report.failure.clone().unwrap_or_else(|| "every check passed".to_owned());
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO drills (source, manifest_path, database, target, started_at, duration_ms, \
         passed, summary, certificate_json, certificate_html) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            report.source,
            report.manifest,
            report.database,
            report.target,
            report.started_at,
            report.duration_ms as i64,
            report.passed,
            summary,
            report.certificate_json,
            report.certificate_html
        ],
    )
    .map_err(|e| ctx.store.error(e))?;
    if let Some(manifest) = &report.manifest {
        // The catalog holds absolute paths; a relative one from the command line is made so.
        let manifest = std::fs::canonicalize(manifest)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| manifest.clone());
        conn.execute(
            "UPDATE backups SET test_status = ?2, tested_at = ?3 WHERE manifest_path = ?1",
            params![
                manifest,
                if report.passed { "tested-ok" } else { "tested-failed" },
                report.started_at
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_dated_and_fit_postgres() {
        let at = chrono::Local::now();
        let name = scratch_name("shop", at);
        assert!(
            name.starts_with("shop_drill_") && name.len() == "shop_drill_20261121_134501".len()
        );
        let long = scratch_name(&"ü".repeat(40), at);
        assert!(long.len() <= 63, "{}", long.len());
        assert!(long.contains("_drill_"));
    }

    #[test]
    fn the_certificate_escapes_what_it_shows() {
        let report = DrillReport {
            passed: false,
            failure: Some("a <b> failure".into()),
            source: "/b/x&y.backup".into(),
            manifest: None,
            database: Some("shop".into()),
            backed_up_at: None,
            started_at: "2026-11-21T13:45:01+00:00".into(),
            finished_at: String::new(),
            duration_ms: 1500,
            target: "practice server".into(),
            server_version: Some("18.6".into()),
            scratch_database: None,
            kept: false,
            tool_versions: vec![],
            app_version: "0.1.0".into(),
            steps: vec![DrillStep {
                kind: DrillStepKind::Compare,
                status: StepStatus::Failed,
                duration_ms: 10,
                summary: "1 of 2 differ".into(),
                checks: vec![DrillCheck {
                    name: "table \"a\".<b>".into(),
                    passed: false,
                    expected: "3 rows".into(),
                    actual: "2 rows".into(),
                }],
            }],
            certificate_html: None,
            certificate_json: None,
        };
        let html = certificate_html(&report);
        assert!(html.contains("FAILED: a &lt;b&gt; failure"));
        assert!(html.contains("/b/x&amp;y.backup"));
        assert!(html.contains("table &quot;a&quot;.&lt;b&gt;"));
        assert!(!html.contains("<script"));
    }
}
