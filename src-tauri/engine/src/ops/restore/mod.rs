//! Restores a backup into a new database or an existing empty one, or replaces a database: the
//! backup goes into a new database first, and only after that succeeded the old one is renamed to
//! `<db>_before_YYYYMMDD-HHMMSS` (kept, never dropped) and the new one takes its name. Nothing
//! that holds data is ever written into or dropped.
//!
//! 1. The source is recognised by its content ([`crate::format::archive::detect`]); a Lifeboat manifest next to
//!    it has every file's sha256 checked before any server is contacted.
//! 2. [`preflight`] connects to the target, picks the tools and reads the whole backup once (the
//!    integrity check: `pg_restore -f -` of an archive, or the SQL file itself), learning which
//!    roles, extensions, settings and encoding it needs. Nothing on the server changes. The
//!    result is a [`RestorePlan`]: findings with a severity and a fix, and a sentence saying what
//!    will happen.
//! 3. [`restore`] repeats the pre-flight (the server may have changed meanwhile), refuses when a
//!    finding blocks, creates the database (`TEMPLATE template0`, the dump's encoding when the
//!    server allows it) and restores with one of three methods. Its pre-flight reads only the
//!    archive's definitions when the manifest's sha256 of every file matched and the target's
//!    own pg_restore restores it ([`reads_once`]): the data is then decompressed once, by the
//!    restore itself, instead of twice. The methods:
//!    - pg_restore of the target server's own major straight into the database;
//!    - when that pg_restore cannot read the archive (it was made by a newer pg_dump): a newer
//!      pg_restore writes SQL, settings the target does not know (`SET transaction_timeout`) are
//!      left out on the way, and the target's own psql runs it with `ON_ERROR_STOP`;
//!    - a plain SQL dump goes through the same filter into the target's psql.
//!
//!    Any failure or cancel drops the database the restore created; an existing database is
//!    restored into in one transaction, so a failure leaves it as empty as it was.
//!
//! The pre-flight is three parts, so that every decision can be tested without a server: what
//! is known about the backup (`source_facts`), everything read from the target server up front
//! (`target_facts`), and a pure `plan` of small steps that decides from those facts alone.

mod findings;
mod plan;
mod replace;
mod roles;
mod run;
mod settings;
mod source_facts;
mod summary;
mod target_facts;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
pub use crate::base::finding::{Finding, FindingCode, Severity};
use crate::base::progress::{NullSink, ProgressEvent, ProgressSink};
use crate::base::tools::{BundledMajor, ServerVersion};
use crate::format::manifest::BackupFormat;
use crate::format::selection::{ArchiveItem, LeftOut, Selection};
use crate::pg::admin::drop_database;
use crate::storage::context::Ctx;
use crate::storage::jobs::{self, JobKind, RunningJob};
use crate::storage::profiles::{self, Profile};

pub(crate) use replace::swap_in;
pub use roles::may_create_plain_role;
pub use settings::AppliedSettings;

use plan::RunDetails;

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    /// A backup file, the folder of a directory backup, or a Lifeboat manifest
    /// (`….lifeboat.json`).
    pub source: String,
    /// The profile of the server to restore into.
    pub profile: String,
    /// The database to restore into: created when it does not exist, used when it exists and is
    /// empty. Absent: a new database `<db>_restored_YYYYMMDD` (`_2`, `_3` … when taken).
    pub target_database: Option<String>,
    /// Ignore the dump's owners: what is restored belongs to the connecting user (or to
    /// `owner_role`). Chosen automatically when an owner role is missing on the target.
    pub no_owner: bool,
    /// Restore as this role (`SET ROLE`), so that it owns what is restored.
    pub owner_role: Option<String>,
    /// Parallel pg_restore workers (custom and directory archives restored directly).
    pub jobs: Option<u32>,
    /// Replace this existing database: the backup is restored into a new database first, and
    /// only after that succeeded the old one is renamed to `<db>_before_YYYYMMDD-HHMMSS` (kept,
    /// never dropped) and the new one takes its name. Excludes `target_database`.
    pub replace: Option<String>,
    /// With `replace`: end the other sessions connected to the database being replaced (else
    /// they block the restore).
    pub terminate_connections: bool,
    /// What of the backup to restore (archives only); empty: everything. With a one-file-per-
    /// schema backup's manifest as the source, one schema picks that schema's file.
    #[serde(default)]
    pub selection: Selection,
    /// Go on after an error instead of stopping at the first one: every error is reported, the
    /// restored database is kept with what did restore, and the result is never "success".
    #[serde(default)]
    pub continue_on_errors: bool,
    /// Create the roles the target lacks from the roles saved with the backup (its globals
    /// file), without passwords and without superuser-like attributes, so that owners and
    /// grants are restored as they were.
    #[serde(default)]
    pub create_roles: bool,
    /// Create every role the restored entries name that the target lacks (and `create_roles`
    /// does not create from the saved roles) as a plain `NOLOGIN` role with no other
    /// attribute, so that policies, grants, default privileges and owners restore as they
    /// were. Without it, entries that cannot restore without their role are left out.
    #[serde(default)]
    pub create_missing_roles: bool,
    /// Download a plain `http://` source (and the `http://` files it leads to) although plain
    /// http is not encrypted; a warning says so. Without it such a source is refused
    /// (`plain_http_refused`). A redirect from https to http is refused either way.
    #[serde(default)]
    pub allow_http: bool,
    /// The caller checked every file's sha256 against the manifest just before (a drill's
    /// integrity step): not read and hashed a second time. Not reachable from the GUI or CLI.
    #[serde(skip)]
    #[specta(skip)]
    pub checksums_verified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// pg_restore writes into the database itself.
    PgRestore,
    /// A newer pg_restore writes SQL, filtered on its way into the target's psql.
    Pipeline,
    /// psql runs a plain SQL dump (filtered on the way).
    Psql,
}

/// How the restore runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreMethod {
    pub kind: MethodKind,
    /// The major whose pg_restore reads the archive (absent for plain SQL).
    pub reader_major: Option<u32>,
    /// The major whose psql runs the SQL (absent when pg_restore writes directly).
    pub psql_major: Option<u32>,
    /// Parallel pg_restore workers.
    pub jobs: u32,
    /// All in one transaction (restoring into an existing database).
    pub single_transaction: bool,
    /// Errors do not stop the restore; they are collected and reported.
    pub continue_on_errors: bool,
    /// `SET` parameters the dump uses that the target server does not know; left out.
    pub dropped_settings: Vec<String>,
}

/// What a restore will do, found out without changing anything.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestorePlan {
    /// The backup (file or folder) that will be restored.
    pub source: String,
    pub format: BackupFormat,
    /// For archives, the version in the header, e.g. "1.16".
    pub archive_version: Option<String>,
    /// The database the backup was made from, when known.
    pub source_database: Option<String>,
    pub dumped_from: Option<String>,
    pub dumped_by: Option<String>,
    /// The manifest whose checksums were verified.
    pub manifest: Option<String>,
    pub verified_files: u32,
    pub profile: String,
    pub server_version: String,
    /// The database restored into.
    pub database: String,
    /// Whether the restore creates it (else it exists and is empty).
    pub create_database: bool,
    /// The encoding the new database is created with.
    pub encoding: Option<String>,
    pub method: RestoreMethod,
    pub no_owner: bool,
    /// The role that owns what is restored when the dump's owners are not used.
    pub owned_by: Option<String>,
    /// Entries (objects, table data …) in the backup.
    pub entries: u64,
    /// Entries left out because they grant privileges to roles missing on the target.
    pub skipped_entries: u64,
    pub entry_counts: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    /// What will happen, in plain words.
    pub summary: String,
    /// Whether a finding stops the restore.
    pub blocked: bool,
    /// The existing database the restore replaces (then `database` is the new database restored
    /// into first, which takes this name afterwards).
    pub replace: Option<String>,
    /// The name the replaced database is kept under, `<db>_before_YYYYMMDD-HHMMSS`.
    pub kept_as: Option<String>,
    /// Roles the restore creates from the roles saved with the backup.
    pub create_roles: Vec<String>,
    /// Missing roles the backup saved, which `create_roles` in the request would create.
    pub recreatable_roles: Vec<String>,
    /// Of `create_roles`, those created as plain `NOLOGIN` roles (`create_missing_roles`).
    pub plain_roles: Vec<String>,
    /// Entries left out because they name roles the target lacks, with those roles.
    pub left_out_for_roles: Vec<RoleLeftOut>,
    /// What the archive holds, for choosing what to restore (empty for plain SQL).
    pub contents: Vec<ArchiveItem>,
    /// Entries the selection leaves out, with the entry each needs when it is left out only
    /// because of that.
    pub left_out: Vec<LeftOut>,
}

/// An entry left out because it names roles the target lacks (a policy `TO` them, a grant, a
/// default privilege or user mapping `FOR` them): restoring it would fail or grant nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoleLeftOut {
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    /// The missing roles it names.
    pub roles: Vec<String>,
}

/// What a finished restore did.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOutcome {
    pub database: String,
    pub created: bool,
    pub profile: String,
    pub method: RestoreMethod,
    /// The `--version` line of every tool used, e.g. "pg_restore (PostgreSQL) 18.6".
    pub tool_versions: Vec<String>,
    pub warnings: Vec<String>,
    pub duration_ms: u64,
    /// Entries of the backup restored.
    pub restored_entries: u64,
    pub skipped_entries: u64,
    pub entry_counts: BTreeMap<String, u64>,
    /// When a database was replaced: the name its old version is kept under.
    pub kept_as: Option<String>,
    /// With continue-on-errors: every error the restore went past. Not empty means the
    /// database lacks what failed.
    pub errors: Vec<String>,
    /// Roles created from the roles saved with the backup.
    pub created_roles: Vec<String>,
    /// The backed-up database's own settings and comment set on the database the restore
    /// created.
    pub database_settings: AppliedSettings,
}

/// Checks a restore without changing anything on the server: the source, its checksums and a
/// full read, the target's roles, extensions, encoding and database, and the tools to use.
pub async fn preflight(ctx: &Ctx, request: RestoreRequest) -> Result<RestorePlan> {
    let subject = format!("{} into {}", request.source, request.profile);
    crate::base::logging::logged("preflight", &subject, async {
        let profile = profiles::find_profile(ctx, &request.profile)?;
        let cancel = CancellationToken::new();
        Ok(prepare(ctx, profile, &request, Reading::Whole, &NullSink, &cancel).await?.plan)
    })
    .await
}

/// Runs a restore. Progress goes to `sink`; `cancel` stops it and drops the database it created.
pub async fn restore(
    ctx: &Ctx,
    request: RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RestoreOutcome> {
    let subject = format!("{} into {}", request.source, request.profile);
    crate::base::logging::logged("restore", &subject, async {
        let profile = profiles::find_profile(ctx, &request.profile)?;
        restore_on(ctx, profile, request, sink, cancel).await
    })
    .await
}

/// [`restore`] onto a server given by a profile that need not be stored (the practice server);
/// `request.profile` is ignored.
pub async fn restore_on(
    ctx: &Ctx,
    profile: Profile,
    request: RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RestoreOutcome> {
    let started = Instant::now();
    // Retention leaves a backup alone while a restore uses it.
    let _in_use = crate::storage::catalog::use_backup(ctx, &request.source)?;
    let prepared = prepare(ctx, profile, &request, Reading::ReadOnce, sink, cancel).await?;
    let plan = &prepared.plan;
    let warnings = warnings(plan)?;
    for message in &warnings {
        sink.emit(ProgressEvent::Warning { message: message.clone() });
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    // Held while the restore runs: when this process ends first, the next start records the
    // database it created as left by an interrupted restore.
    let subject = crate::util::redact::redact_urls(&request.source);
    let running = jobs::start(ctx, JobKind::Restore, &prepared.profile, &subject)?;
    let run = Run { prepared: &prepared, running: &running, request: &request, sink, cancel };
    let result = create_and_run(ctx, run, warnings, started).await;
    running.finish(ctx);
    result
}

/// One restore between its pre-flight and its end.
struct Run<'a> {
    prepared: &'a Prepared,
    running: &'a RunningJob,
    request: &'a RestoreRequest,
    sink: &'a dyn ProgressSink,
    cancel: &'a CancellationToken,
}

/// Creates the roles and the database, restores and swaps; on failure drops what it created.
async fn create_and_run(
    ctx: &Ctx,
    Run { prepared, running, request, sink, cancel }: Run<'_>,
    warnings: Vec<String>,
    started: Instant,
) -> Result<RestoreOutcome> {
    let plan = &prepared.plan;
    // The practice server (the profile whose password is its own) drops the scratch databases
    // a crash left at its next start; elsewhere a database left behind is the user's to judge.
    let record = plan.create_database && prepared.profile.fixed_password.is_none();
    if record {
        running.record_database(ctx, &plan.database)?;
    }
    let created_roles = run::create_roles(ctx, prepared).await?;
    let database = if plan.create_database {
        match run::create_database(ctx, prepared).await {
            Ok(name) => {
                if record && name != plan.database {
                    let _ = running.record_database(ctx, &name);
                }
                name
            }
            Err(error) => {
                run::drop_roles(ctx, prepared, &created_roles, sink).await;
                return Err(error);
            }
        }
    } else {
        plan.database.clone()
    };
    let terminate = request.terminate_connections;
    match run_and_swap(ctx, prepared, &database, terminate, sink, cancel).await {
        Ok((tool_versions, errors, final_database)) => Ok(RestoreOutcome {
            database_settings: settings::apply(ctx, prepared, &final_database, sink).await,
            database: final_database,
            created: plan.create_database,
            profile: prepared.profile.settings.name.clone(),
            method: plan.method.clone(),
            tool_versions,
            warnings,
            duration_ms: started.elapsed().as_millis() as u64,
            restored_entries: plan.entries - plan.skipped_entries,
            skipped_entries: plan.skipped_entries,
            entry_counts: restored_counts(prepared),
            kept_as: plan.kept_as.clone(),
            errors,
            created_roles,
        }),
        Err(error) => {
            if plan.create_database
                && let Err(drop_error) =
                    drop_database(ctx, &prepared.profile, prepared.server, &database).await
            {
                sink.emit(ProgressEvent::Warning {
                    message: format!(
                        "The partly restored database {database} could not be removed: \
                         {drop_error}. Drop it by hand."
                    ),
                });
                running.left_database_behind(ctx);
            }
            run::drop_roles(ctx, prepared, &created_roles, sink).await;
            Err(error)
        }
    }
}

/// The plan's warnings as the restore reports them; its blockers as the error that stops it.
fn warnings(plan: &RestorePlan) -> Result<Vec<String>> {
    let blockers: Vec<Finding> =
        plan.findings.iter().filter(|f| f.severity == Severity::Blocker).cloned().collect();
    if !blockers.is_empty() {
        return Err(Error::RestoreBlocked { blockers });
    }
    Ok(plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| match &f.fix {
            Some(fix) => format!("{} {}", f.message, fix),
            None => f.message.clone(),
        })
        .collect())
}

/// Runs the restore into `database` and, for a replace, gives it the replaced database's name.
/// Returns the tool versions, the errors gone past and the database's final name.
async fn run_and_swap(
    ctx: &Ctx,
    prepared: &Prepared,
    database: &str,
    terminate: bool,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(Vec<String>, Vec<String>, String)> {
    let (versions, errors) = run::run(ctx, prepared, database, sink, cancel).await?;
    let (Some(old), Some(kept)) = (&prepared.plan.replace, &prepared.plan.kept_as) else {
        return Ok((versions, errors, database.to_owned()));
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    replace::swap(ctx, &prepared.profile, database, old, kept, terminate).await?;
    Ok((versions, errors, old.clone()))
}

/// The entries restored per kind: the plan's counts without the skipped entries.
fn restored_counts(prepared: &Prepared) -> BTreeMap<String, u64> {
    let mut entry_counts = prepared.plan.entry_counts.clone();
    for entry in &prepared.details.skipped {
        if let Some(count) = entry_counts.get_mut(entry) {
            *count = count.saturating_sub(1);
        }
    }
    entry_counts.retain(|_, n| *n > 0);
    entry_counts
}

/// Everything the pre-flight decided, for the run.
struct Prepared {
    plan: RestorePlan,
    details: RunDetails,
    profile: Profile,
    source: PathBuf,
    server: ServerVersion,
    reader: Option<BundledMajor>,
    writer: BundledMajor,
    known_settings: HashSet<String>,
    db_settings: Vec<settings::Item>,
}

/// How much of an archive the pre-flight reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Everything, data included: the integrity check of a plan (`--dry-run`, the wizard's
    /// plan), which changes nothing on the server.
    Whole,
    /// Only the definitions, when the restore that follows reads every data block itself: see
    /// [`reads_once`].
    ReadOnce,
}

/// Whether a restore reads the archive's data once. Its pre-flight reads only the definitions (every
/// entry's SQL, scanned as a full read scans it) when
/// - every file's sha256 matched the manifest (just now, or in the drill's integrity step):
///   the bytes are those pg_dump wrote, so a truncated or damaged file never gets this far;
/// - and the target's own pg_restore restores the archive directly: the data goes from the
///   archive into the server without passing through psql, and a block pg_restore cannot
///   decompress fails the restore, which drops the database it created or rolls back the
///   existing one it restored into, exactly as a failed full read would have left it.
///
/// A backup without a manifest, and one restored through another major's pg_restore and
/// psql, is read whole first.
fn reads_once(
    reading: Reading,
    verified: bool,
    reader: Option<&BundledMajor>,
    writer: u32,
) -> bool {
    reading == Reading::ReadOnce && verified && reader.is_some_and(|r| r.major == writer)
}

/// The pre-flight: the backup and its checksums before anything else, then every fact about the
/// target, one read of the backup (whole, or its definitions: [`reads_once`]), and the plan made
/// from those facts.
async fn prepare(
    ctx: &Ctx,
    profile: Profile,
    request: &RestoreRequest,
    reading: Reading,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Prepared> {
    let file = source_facts::open(ctx, request, sink, cancel).await?;
    let requested = plan::requested(request)?;
    let target = target_facts::read(ctx, &profile, &requested).await?;
    let reader = match file.archive_version {
        Some(version) => {
            Some(source_facts::choose_reader(ctx, &target.writer, version, &file.path)?.clone())
        }
        None => None,
    };
    let found = file.manifest.clone();
    // Files are counted as verified only against a manifest.
    let definitions_only =
        reads_once(reading, file.verified > 0, reader.as_ref(), target.writer.major);
    let scratch = definitions_only.then(|| ctx.data_dir.path().join("tmp"));
    let mut source = source_facts::read(file, reader, scratch.as_deref(), cancel).await?;
    let selected = plan::select(&source, &request.selection)?;
    let needs_missing_role = selected.dump.roles().iter().any(|r| !target.roles.contains(r));
    source.saved_roles = source_facts::read_saved_roles(found.as_ref(), needs_missing_role)?;
    let now = chrono::Local::now().naive_local();
    let mut planned = plan::plan(&source, &target, request, &requested, selected, now)?;
    let db_settings = settings::for_plan(found.as_ref(), &target, &mut planned.plan);
    Ok(Prepared {
        db_settings,
        plan: planned.plan,
        details: planned.run,
        profile,
        source: source.path,
        server: target.server,
        reader: source.reader,
        writer: target.writer,
        known_settings: target.settings_reach.known,
    })
}
