//! The restore drill ("backup test"): proves that a backup restores, without touching
//! production, and keeps the proof.
//!
//! 1. Integrity: every file's sha256 against the manifest, hashed while the archive's definitions
//!    are read ([`crate::ops::verify::verify_with`]); the restore then reads every entry's data
//!    once, and a damaged block fails it. Without a manifest (no checksums) a full read of the
//!    data comes first, as does one after a restore that left entries out.
//! 2. Restore into a scratch database `<db>_drill_YYYYMMDD_HHMMSS`, on the local practice server
//!    ([`PracticeServer`]) or on a server the user chooses. On the practice server the roles the
//!    backup names are stood in for first, so that owners, grants and policies restore, and
//!    every step that runs the backup's SQL connects as its unprivileged role
//!    ([`crate::ops::practice::DRILL_USER`]); on a profile, as the profile's user. Either way the
//!    report names that role and what it may do ([`RestoringRole`]), warning when SQL in the
//!    backup could reach beyond the scratch database (a superuser …).
//! 3. Compare with the manifest's baseline: every table with exactly its recorded row count,
//!    sequences at their recorded values, extensions present, object counts by kind.
//! 4. `pg_amcheck --heapallindexed --install-missing` on the scratch database.
//! 5. The user's smoke checks for the database ([`crate::storage::smoke`]).
//! 6. Drop the scratch database (unless kept); on the practice server also the stand-in roles, the
//!    drill role and any database it created; stop the practice server.
//!
//! A finding about the backup (a checksum, a damaged archive, a restore error, a difference, a
//! failed check) makes a failed drill: it is still recorded, with a certificate. Anything that
//! keeps the drill from judging the backup (the chosen server is down, a cancel) is an error and
//! records nothing. Either way no scratch database and no practice server is left behind.

mod certificate;
mod compare;
mod role;
mod steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::ProgressSink;
use crate::format::archive;
use crate::format::manifest::Manifest;
use crate::format::source;
use crate::ops::practice::PracticeServer;
use crate::ops::verify::Verified;
use crate::pg::admin;
use crate::pg::connect::{ConnectSpec, connect, query_error, server_version};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile};
use crate::storage::smoke::SmokeCheck;
use crate::util::naming::fit_identifier;

pub use certificate::certificate_html;
pub use role::RestoringRole;

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
    /// Download a plain `http://` source although plain http is not encrypted (for the
    /// integrity check and the restore); without it such a source is refused.
    #[serde(default)]
    pub allow_http: bool,
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
    /// Roles the backup names that the practice server lacked, created there for the drill as
    /// plain NOLOGIN roles and dropped after it.
    pub stood_in_roles: Vec<String>,
    /// The role the restore, the comparison and the smoke checks ran as, and what it may do
    /// (absent when no server was reached).
    pub restored_as: Option<RestoringRole>,
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
    let subject = crate::util::redact::redact_urls(&request.source);
    let work = drill_inner(ctx, request, sink, cancel);
    let result = crate::base::logging::logged("drill", &subject, work).await;
    match &result {
        Ok(report) if report.passed => tracing::info!(on = %report.target, "drill passed"),
        Ok(report) => tracing::warn!(
            on = %report.target,
            failure = ?report.failure.as_deref().unwrap_or(""),
            "drill failed"
        ),
        Err(_) => {}
    }
    result
}

/// [`drill`] without its lines in the log.
async fn drill_inner(
    ctx: &Ctx,
    request: DrillRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<DrillReport> {
    let started_at = chrono::Local::now();
    let started = Instant::now();
    check_request(ctx, &request)?;
    // Retention leaves a backup alone while a drill uses it.
    let _in_use = crate::storage::catalog::use_backup(ctx, &request.source)?;
    let schema = request.schema.as_deref().map(str::trim).filter(|s| !s.is_empty());
    // Up front from the manifest beside the backup; after the full read from what it holds.
    let beside = source::locate_manifest(&request.source, schema);
    refuse_data_only(&request.source, beside.as_ref().map(|f| &f.manifest), None)?;
    let mut run = Run::new(ctx, &request, sink, cancel);
    let verified = run.integrity(schema).await?;
    let baseline = Baseline::find(&request.source, schema, verified.as_ref())?;
    refuse_data_only(
        verified.as_ref().map_or(&request.source, |v| &v.source),
        baseline.manifest.as_ref(),
        verified.as_ref().map(|v| &v.entry_counts),
    )?;
    let mut report = new_report(&request, verified.as_ref(), &baseline, started_at);
    if let Some(verified) = &verified {
        on_server(&mut run, verified, &baseline, started_at, &mut report).await?;
    }
    conclude(ctx, run, report, started)
}

/// Mistakes of the request, not findings about the backup: they fail before any step.
fn check_request(ctx: &Ctx, request: &DrillRequest) -> Result<()> {
    match &request.target {
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
    Ok(())
}

/// A data-only backup restores only into a database that already has its tables, never into a
/// new scratch database: refused as an error (nothing tested, nothing recorded) rather than
/// called a failed backup. Known from the manifest's scope, or, without one, from entries that
/// hold data and none that define a table or sequence.
fn refuse_data_only(
    backup: &str,
    manifest: Option<&Manifest>,
    entry_counts: Option<&BTreeMap<String, u64>>,
) -> Result<()> {
    let from_manifest = manifest.is_some_and(|m| m.scope.data_only);
    let from_entries = manifest.is_none() && entry_counts.is_some_and(holds_only_data);
    if from_manifest || from_entries {
        return Err(Error::DrillNeedsDefinitions { backup: backup.to_owned() });
    }
    Ok(())
}

/// Entries that hold data (rows, sequence values) and none that define a table or sequence.
fn holds_only_data(counts: &BTreeMap<String, u64>) -> bool {
    let has = |kind: &str| counts.get(kind).is_some_and(|n| *n > 0);
    (has("TABLE DATA") || has("SEQUENCE SET")) && !has("TABLE") && !has("SEQUENCE")
}

/// The drill's state while it runs.
struct Run<'a> {
    ctx: &'a Ctx,
    request: &'a DrillRequest,
    sink: &'a dyn ProgressSink,
    cancel: &'a CancellationToken,
    steps: Vec<DrillStep>,
    tool_versions: Vec<String>,
    /// The step under way and when it began.
    current: (DrillStepKind, Instant),
    /// The scratch database exists (the restore into it finished): cleanup must drop it.
    scratch_created: bool,
    /// Roles stood in for on the practice server.
    stood_in: Vec<String>,
    /// Who restores and what it may do, for the restore's summary.
    role_summary: Option<String>,
    /// Step 1 read only the definitions (the checksums vouch for the bytes): the entries it
    /// found (all of whose data the restore must read, else a full read follows it) and the
    /// backup file as step 1 resolved it.
    data_left_to_restore: Option<(u64, String)>,
}

impl<'a> Run<'a> {
    fn new(
        ctx: &'a Ctx,
        request: &'a DrillRequest,
        sink: &'a dyn ProgressSink,
        cancel: &'a CancellationToken,
    ) -> Self {
        Run {
            ctx,
            request,
            sink,
            cancel,
            steps: Vec::new(),
            tool_versions: Vec::new(),
            current: (DrillStepKind::Integrity, Instant::now()),
            scratch_created: false,
            stood_in: Vec::new(),
            role_summary: None,
            data_left_to_restore: None,
        }
    }
}

/// On the practice server: what the roles to stand in for are read from.
struct StandIn<'a> {
    server: &'a PracticeServer,
    source: &'a Verified,
    manifest: Option<&'a Manifest>,
}

/// What the restored database is compared with, as far as the backup tells.
struct Baseline {
    /// The manifest found beside the backup.
    path: Option<PathBuf>,
    /// Its part that the tested file holds.
    manifest: Option<Manifest>,
    /// The database the backup was made from.
    database: Option<String>,
}

impl Baseline {
    fn find(source: &str, schema: Option<&str>, verified: Option<&Verified>) -> Result<Baseline> {
        let found = match verified {
            Some(v) => archive::find_manifest(Path::new(&v.source))?,
            // A damaged backup is still recorded against its manifest, when it has a readable one.
            None => source::locate_manifest(source, schema),
        };
        let manifest = found.as_ref().map(compare::tested_part);
        let database = manifest
            .as_ref()
            .map(|m| m.database.clone())
            .or_else(|| verified.and_then(|v| v.source_database.clone()));
        Ok(Baseline { path: found.map(|f| f.path), manifest, database })
    }
}

/// The report as known before any server is involved.
fn new_report(
    request: &DrillRequest,
    verified: Option<&Verified>,
    baseline: &Baseline,
    started_at: chrono::DateTime<chrono::Local>,
) -> DrillReport {
    let target = match &request.target {
        DrillTarget::Practice => "practice server".to_owned(),
        DrillTarget::Profile { name } => name.clone(),
    };
    DrillReport {
        passed: false,
        failure: None,
        source: verified.map(|v| v.source.clone()).unwrap_or(request.source.clone()),
        manifest: baseline.path.as_ref().map(|p| p.display().to_string()),
        database: baseline.database.clone(),
        backed_up_at: baseline.manifest.as_ref().map(|m| m.finished_at.clone()),
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        duration_ms: 0,
        target,
        server_version: None,
        scratch_database: None,
        kept: false,
        tool_versions: Vec::new(),
        app_version: crate::VERSION.to_owned(),
        steps: Vec::new(),
        stood_in_roles: Vec::new(),
        restored_as: None,
        certificate_html: None,
        certificate_json: None,
    }
}

/// Steps 2–6: the server is found (or the practice server started), the scratch database
/// tested, and everything cleaned up whatever the test came to.
async fn on_server(
    run: &mut Run<'_>,
    verified: &Verified,
    baseline: &Baseline,
    started_at: chrono::DateTime<chrono::Local>,
    report: &mut DrillReport,
) -> Result<()> {
    let (ctx, request) = (run.ctx, run.request);
    let practice = match &request.target {
        DrillTarget::Practice => Some(PracticeServer::start(ctx, run.sink, run.cancel).await?),
        DrillTarget::Profile { .. } => None,
    };
    let profile = match (&practice, &request.target) {
        (Some(server), _) => server.drill_profile(),
        (None, DrillTarget::Profile { name }) => profiles::find_profile(ctx, name)?,
        (None, DrillTarget::Practice) => unreachable!("the practice server was started"),
    };
    report.restored_as = Some(role::read(ctx, &profile, practice.is_some()).await?);
    run.restoring_role(report.restored_as.as_ref());
    let wanted = scratch_name(baseline.database.as_deref().unwrap_or("backup"), started_at);
    let scratch = free_scratch_name(ctx, &profile, &wanted).await?;
    let stand_in = practice.as_ref().map(|server| StandIn {
        server,
        source: verified,
        manifest: baseline.manifest.as_ref(),
    });
    let tested = in_scratch(run, &profile, &scratch, stand_in, baseline.manifest.as_ref()).await;
    let keep = request.keep && tested.is_ok() && run.scratch_created;
    run.cleanup(&profile, &scratch, keep, practice, &report.target).await;
    report.server_version = tested?;
    report.scratch_database = Some(scratch);
    report.kept = keep;
    Ok(())
}

/// Steps 2–5. Ok(Some(version)) when the scratch database was restored (whatever the checks
/// found); Ok(None) when the restore itself failed on the backup (a failed step, nothing left).
async fn in_scratch(
    run: &mut Run<'_>,
    profile: &Profile,
    scratch: &str,
    stand_in: Option<StandIn<'_>>,
    manifest: Option<&Manifest>,
) -> Result<Option<String>> {
    let practice = stand_in.as_ref().map(|s| s.server);
    if !run.restore(profile, scratch, stand_in).await? {
        return Ok(None);
    }
    run.check_cancel()?;
    let client = connect(&ConnectSpec::for_profile(run.ctx, profile, scratch)?).await?;
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| query_error(&e))?
        .get(0);
    if let Some(sql) = &run.request.tamper {
        client.batch_execute(sql).await.map_err(|e| query_error(&e))?;
    }
    run.compare(&client, manifest).await?;
    run.check_cancel()?;
    run.amcheck(&client, profile, scratch, practice).await?;
    run.check_cancel()?;
    run.smoke_checks(&client, manifest).await?;
    run.check_cancel()?;
    Ok(Some(version))
}

/// Completes the report from the steps run, then keeps it: certificate and catalog.
fn conclude(
    ctx: &Ctx,
    run: Run<'_>,
    mut report: DrillReport,
    started: Instant,
) -> Result<DrillReport> {
    let mut steps = run.steps;
    // Steps that did not run are listed as skipped, so every certificate has all six.
    for kind in DrillStepKind::ALL {
        if !steps.iter().any(|s| s.kind == kind) {
            steps.push(DrillStep {
                kind,
                status: StepStatus::Skipped,
                duration_ms: 0,
                summary: "Not run: an earlier step failed.".into(),
                checks: Vec::new(),
            });
        }
    }
    steps.sort_by_key(|s| DrillStepKind::ALL.iter().position(|k| *k == s.kind));
    report.failure = steps
        .iter()
        .find(|s| s.status == StepStatus::Failed)
        .map(|s| format!("{}: {}", s.kind.title(), s.summary));
    report.passed = report.failure.is_none();
    report.steps = steps;
    report.tool_versions = run.tool_versions;
    report.stood_in_roles = run.stood_in;
    report.finished_at = chrono::Local::now().to_rfc3339();
    report.duration_ms = started.elapsed().as_millis() as u64;
    certificate::write_certificate(ctx, &mut report)?;
    certificate::record(ctx, &report)?;
    Ok(report)
}

/// `<db>_drill_YYYYMMDD_HHMMSS`, the database part cut so that it fits 63 bytes.
pub fn scratch_name(database: &str, at: chrono::DateTime<chrono::Local>) -> String {
    fit_identifier(database, &format!("_drill_{}", at.format("%Y%m%d_%H%M%S")), 0)
}

/// `name`, or `name_2`, `name_3` … when a database of that name exists: the drill must create
/// its scratch database itself, never fill (and then drop) one that was there.
async fn free_scratch_name(ctx: &Ctx, profile: &Profile, name: &str) -> Result<String> {
    let client = maintenance_client(ctx, profile).await?;
    let taken = text_column(&client, "SELECT datname::text FROM pg_database").await?;
    Ok((1..)
        .map(|n| if n == 1 { name.to_owned() } else { format!("{name}_{n}") })
        .find(|n| !taken.contains(n))
        .expect("a free name exists"))
}

async fn drop_scratch(ctx: &Ctx, profile: &Profile, scratch: &str) -> Result<()> {
    let version = server_version(&maintenance_client(ctx, profile).await?).await?;
    admin::drop_database(ctx, profile, version, scratch).await
}

async fn maintenance_client(ctx: &Ctx, profile: &Profile) -> Result<Client> {
    connect(&ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?).await
}

/// The first column of a query's rows, as text.
async fn text_column(client: &Client, sql: &str) -> Result<Vec<String>> {
    let rows = client.query(sql, &[]).await.map_err(|e| query_error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
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
    fn a_backup_without_table_definitions_is_refused_not_failed() {
        let counts = |kinds: &[&str]| -> BTreeMap<String, u64> {
            kinds.iter().map(|k| (k.to_string(), 1)).collect()
        };
        let data_only = counts(&["TABLE DATA", "SEQUENCE SET"]);
        let error = refuse_data_only("/b/shop.backup", None, Some(&data_only)).unwrap_err();
        assert_eq!(error.code(), crate::base::error::ErrorCode::DrillNeedsDefinitions);
        assert!(error.to_string().contains("/b/shop.backup"), "{error}");
        assert!(error.hint().contains("data-only backup restores into a database"));
        let whole = counts(&["TABLE", "SEQUENCE", "TABLE DATA", "SEQUENCE SET"]);
        assert!(refuse_data_only("b", None, Some(&whole)).is_ok());
        assert!(refuse_data_only("b", None, Some(&counts(&["TABLE"]))).is_ok(), "schema-only");
        assert!(refuse_data_only("b", None, Some(&BTreeMap::new())).is_ok(), "an empty database");
        assert!(refuse_data_only("b", None, None).is_ok(), "not read yet, no manifest");
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
            stood_in_roles: vec!["app_reader".into(), "Odd <Role>".into()],
            restored_as: None,
            certificate_html: None,
            certificate_json: None,
        };
        let html = certificate_html(&report);
        assert!(html.contains("FAILED: a &lt;b&gt; failure"));
        assert!(html.contains("/b/x&amp;y.backup"));
        assert!(html.contains("table &quot;a&quot;.&lt;b&gt;"));
        assert!(
            html.contains("<th>Roles stood in for</th><td>app_reader, Odd &lt;Role&gt; ("),
            "{html}"
        );
        assert!(!html.contains("<script"));
    }
}
