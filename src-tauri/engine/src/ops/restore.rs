//! Restores a backup into a new database or an existing empty one, or replaces a database: the
//! backup goes into a new database first, and only after that succeeded the old one is renamed to
//! `<db>_before_YYYYMMDD-HHMMSS` (kept, never dropped) and the new one takes its name. Nothing
//! that holds data is ever written into or dropped.
//!
//! 1. The source is recognised by its content ([`archive::detect`]); a Lifeboat manifest next to
//!    it has every file's sha256 checked before any server is contacted.
//! 2. [`preflight`] connects to the target, picks the tools and reads the whole backup once (the
//!    integrity check: `pg_restore -f -` of an archive, or the SQL file itself), learning which
//!    roles, extensions, settings and encoding it needs. Nothing on the server changes. The
//!    result is a [`RestorePlan`]: findings with a severity and a fix, and a sentence saying what
//!    will happen.
//! 3. [`restore`] repeats the pre-flight (the server may have changed meanwhile), refuses when a
//!    finding blocks, creates the database (`TEMPLATE template0`, the dump's encoding when the
//!    server allows it) and restores with one of three methods:
//!    - pg_restore of the target server's own major straight into the database;
//!    - when that pg_restore cannot read the archive (it was made by a newer pg_dump): a newer
//!      pg_restore writes SQL, settings the target does not know (`SET transaction_timeout`) are
//!      left out on the way, and the target's own psql runs it with `ON_ERROR_STOP`;
//!    - a plain SQL dump goes through the same filter into the target's psql.
//!
//!    Any failure or cancel drops the database the restore created; an existing database is
//!    restored into in one transaction, so a failure leaves it as empty as it was.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
pub use crate::base::finding::{Finding, FindingCode, Severity};
use crate::base::progress::{NullSink, ProgressEvent, ProgressSink};
use crate::base::tools::{BundledMajor, ServerVersion, Tool};
use crate::format::archive::{self, ArchiveVersion, FoundManifest};
use crate::format::manifest::BackupFormat;
use crate::format::remote;
use crate::format::selection::{self, ArchiveItem, LeftOut, Selection};
use crate::format::source::resolve_source;
use crate::format::sqltext::{DumpEntry, DumpFacts, DumpFilter, DumpScanner};
use crate::pg::admin::{conninfo_dbname, drop_database};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::runner::{self, ConnTarget, PipeSource, StdoutTo, ToolCommand};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile};
use crate::util::naming::{MAX_IDENTIFIER_BYTES, fit_identifier};
use crate::util::quote::{quote_ident, quote_literal};

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
    /// What the archive holds, for choosing what to restore (empty for plain SQL).
    pub contents: Vec<ArchiveItem>,
    /// Entries the selection leaves out, with the entry each needs when it is left out only
    /// because of that.
    pub left_out: Vec<LeftOut>,
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
}

/// Checks a restore without changing anything on the server: the source, its checksums and a
/// full read, the target's roles, extensions, encoding and database, and the tools to use.
pub async fn preflight(ctx: &Ctx, request: RestoreRequest) -> Result<RestorePlan> {
    let profile = profiles::find_profile(ctx, &request.profile)?;
    Ok(prepare(ctx, profile, &request, &NullSink, &CancellationToken::new()).await?.plan)
}

/// Runs a restore. Progress goes to `sink`; `cancel` stops it and drops the database it created.
pub async fn restore(
    ctx: &Ctx,
    request: RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RestoreOutcome> {
    let profile = profiles::find_profile(ctx, &request.profile)?;
    restore_on(ctx, profile, request, sink, cancel).await
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
    let prepared = prepare(ctx, profile, &request, sink, cancel).await?;
    let plan = &prepared.plan;
    let blockers: Vec<Finding> =
        plan.findings.iter().filter(|f| f.severity == Severity::Blocker).cloned().collect();
    if !blockers.is_empty() {
        return Err(Error::RestoreBlocked { blockers });
    }
    let warnings: Vec<String> = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| match &f.fix {
            Some(fix) => format!("{} {}", f.message, fix),
            None => f.message.clone(),
        })
        .collect();
    for message in &warnings {
        sink.emit(ProgressEvent::Warning { message: message.clone() });
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let created_roles = create_roles(ctx, &prepared).await?;
    let database = if plan.create_database {
        match create_database(ctx, &prepared).await {
            Ok(name) => name,
            Err(error) => {
                drop_roles(ctx, &prepared, &created_roles, sink).await;
                return Err(error);
            }
        }
    } else {
        plan.database.clone()
    };
    let mut result = run(ctx, &prepared, &database, sink, cancel).await;
    let mut final_database = database.clone();
    if result.is_ok()
        && let (Some(old), Some(kept)) = (&plan.replace, &plan.kept_as)
    {
        result = if cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            match swap(ctx, &prepared, &database, old, kept, request.terminate_connections).await {
                Ok(()) => {
                    final_database = old.clone();
                    result
                }
                Err(error) => Err(error),
            }
        };
    }
    match result {
        Ok((tool_versions, errors)) => {
            let mut entry_counts = plan.entry_counts.clone();
            for entry in &prepared.skipped {
                if let Some(count) = entry_counts.get_mut(entry) {
                    *count = count.saturating_sub(1);
                }
            }
            entry_counts.retain(|_, n| *n > 0);
            Ok(RestoreOutcome {
                database: final_database,
                created: plan.create_database,
                profile: prepared.profile.settings.name.clone(),
                method: plan.method.clone(),
                tool_versions,
                warnings,
                duration_ms: started.elapsed().as_millis() as u64,
                restored_entries: plan.entries - plan.skipped_entries,
                skipped_entries: plan.skipped_entries,
                entry_counts,
                kept_as: plan.kept_as.clone(),
                errors,
                created_roles,
            })
        }
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
            }
            drop_roles(ctx, &prepared, &created_roles, sink).await;
            Err(error)
        }
    }
}

/// What [`verify`] found: the backup is complete and readable.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// The backup file or folder read.
    pub source: String,
    pub format: BackupFormat,
    pub archive_version: Option<String>,
    /// The manifest whose checksums matched.
    pub manifest: Option<String>,
    pub verified_files: u32,
    /// Entries (objects, table data …) read.
    pub entries: u64,
    /// Bytes of SQL the backup turns into.
    pub sql_bytes: u64,
    pub source_database: Option<String>,
    pub dumped_by: Option<String>,
    pub duration_ms: u64,
}

/// The integrity check of a backup, without any server: every file's sha256 against the manifest
/// (when there is one), then a full read — `pg_restore` writing the whole archive as SQL that is
/// thrown away (`--list` alone does not notice a truncated archive), or a plain SQL file read to
/// pg_dump's closing line. Of a one-file-per-schema backup's manifest, `schema` picks the file.
pub async fn verify(
    ctx: &Ctx,
    source: &str,
    schema: Option<&str>,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Verified> {
    let started = Instant::now();
    let local = remote::localize(ctx, source, sink, cancel).await?;
    let schemas: Vec<String> = schema.map(str::to_owned).into_iter().collect();
    let source = resolve_source(&local, &schemas)?;
    let manifest = archive::find_manifest(&source)?;
    let verified = match &manifest {
        Some(found) => archive::verify(found).await?,
        None => 0,
    };
    let detected = archive::detect(&source)?;
    // The newest bundled pg_restore reads every archive version the others do; one it cannot
    // read was made by a newer pg_dump, which says nothing about the backup's health.
    let newest = ctx.tools.newest();
    if let Some(version) = detected.archive_version
        && !archive::pg_restore_reads(newest.major, version)
    {
        return Err(Error::ArchiveTooNew {
            path: source.clone(),
            version: version.to_string(),
            newest_bundled: newest.major,
        });
    }
    let reader = detected.archive_version.map(|_| newest.clone());
    let facts = scan(&source, reader.as_ref(), cancel).await?;
    if detected.format == BackupFormat::Plain && !facts.complete {
        return Err(Error::ArchiveDamaged {
            path: source.clone(),
            detail: "the SQL file does not end with pg_dump's \"dump complete\" line: it was cut \
                     short or edited"
                .into(),
        });
    }
    Ok(Verified {
        source: source.display().to_string(),
        format: detected.format,
        archive_version: detected.archive_version.map(|v| v.to_string()),
        manifest: manifest.as_ref().map(|m| m.path.display().to_string()),
        verified_files: verified as u32,
        entries: facts.entries.len() as u64,
        sql_bytes: facts.sql_bytes,
        source_database: manifest
            .as_ref()
            .map(|m| m.manifest.database.clone())
            .or_else(|| source.file_stem().map(|s| database_from_stem(&s.to_string_lossy()))),
        dumped_by: facts.dumped_by,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Everything the pre-flight decided, for the run.
struct Prepared {
    plan: RestorePlan,
    profile: Profile,
    source: PathBuf,
    server: ServerVersion,
    reader: Option<BundledMajor>,
    writer: BundledMajor,
    known_settings: HashSet<String>,
    /// `pg_restore --list` with the skipped entries commented out (archives, when any).
    use_list: Option<String>,
    /// Archives whose skipped entries carry no TOC id: leave out every grant instead.
    no_privileges: bool,
    /// Ordinals of the entries a plain dump's filter leaves out.
    skip_ordinals: HashSet<usize>,
    /// Kinds of the skipped entries, one per entry.
    skipped: Vec<String>,
    /// Names of the entries in order, for progress.
    entry_names: Vec<String>,
    /// Whether the target name was chosen by Lifeboat (then a name taken meanwhile is skipped).
    auto_named: bool,
    name_base: String,
    role: Option<String>,
    /// `CREATE ROLE` statements, then `GRANT role TO member` ones, for the roles to create.
    role_statements: Vec<(String, String)>,
    membership_statements: Vec<String>,
}

/// What the pre-flight reads from the target server.
struct Target {
    server: ServerVersion,
    server_version: String,
    user: String,
    superuser: bool,
    createdb: bool,
    createrole: bool,
    roles: HashSet<String>,
    settings: HashSet<String>,
    extensions: HashSet<String>,
    databases: HashSet<String>,
    template_encoding: String,
    template_ctype: String,
    template_collate: String,
    template_libc: bool,
}

async fn prepare(
    ctx: &Ctx,
    profile: Profile,
    request: &RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Prepared> {
    // 1. The source, and its checksums before anything else.
    // A damaged header is reported as the checksum mismatch it is, not as "not a backup".
    // An http(s):// source is downloaded first; the local copy is then checked like any file.
    let local = remote::localize(ctx, &request.source, sink, cancel).await?;
    let source = resolve_source(&local, &request.selection.schemas)?;
    let manifest = archive::find_manifest(&source)?;
    let verified = match &manifest {
        Some(found) if request.checksums_verified => found.files.len(),
        Some(found) => archive::verify(found).await?,
        None => 0,
    };
    let detected = archive::detect(&source)?;
    if request.jobs == Some(0) {
        return Err(Error::InvalidInput { field: "jobs", problem: "must be at least 1".into() });
    }
    let role = request.owner_role.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let role = role.map(str::to_owned);
    let explicit_target = match request.target_database.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(name) if name.len() > MAX_IDENTIFIER_BYTES => {
            return Err(Error::InvalidInput {
                field: "target database",
                problem: format!("is longer than {MAX_IDENTIFIER_BYTES} bytes"),
            });
        }
        Some(name) => Some(name.to_owned()),
    };
    let replace = match request.replace.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(_) if explicit_target.is_some() => {
            return Err(Error::InvalidInput {
                field: "replace",
                problem: "cannot be combined with a target database: a replace restores into a \
                          new database and then gives it the replaced database's name"
                    .into(),
            });
        }
        Some(name) if name.len() > MAX_IDENTIFIER_BYTES => {
            return Err(Error::InvalidInput {
                field: "replace",
                problem: format!("is longer than {MAX_IDENTIFIER_BYTES} bytes"),
            });
        }
        Some(name) => Some(name.to_owned()),
    };

    // 2. The target server.
    let spec = ConnectSpec::for_profile(ctx, &profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let target = read_target(&client).await?;
    let writer = ctx.tools.for_restore(target.server)?.clone();
    let reader = match detected.archive_version {
        Some(version) => Some(choose_reader(ctx, &writer, version, &source)?.clone()),
        None => None,
    };

    // 3. One full read of the backup: the integrity check, and what it needs; then what of it
    // is restored.
    let mut facts = scan(&source, reader.as_ref(), cancel).await?;
    let contents = if reader.is_some() { selection::items(&facts.entries) } else { Vec::new() };
    let left_out = if request.selection.is_empty() {
        Vec::new()
    } else if reader.is_none() {
        return Err(Error::InvalidInput {
            field: "selection",
            problem: "a plain SQL backup is restored whole; choosing what to restore needs a \
                      custom, directory or tar backup"
                .into(),
        });
    } else {
        let chosen = selection::choose(&facts.entries, &request.selection)?;
        facts.entries.retain(|e| e.toc_id.is_none_or(|id| chosen.keep.contains(&id)));
        chosen.left_out
    };
    let list = match &reader {
        Some(reader) => Some(pg_restore_list(reader, &source, cancel).await?),
        None => None,
    };
    let source_database = manifest
        .as_ref()
        .map(|m| m.manifest.database.clone())
        .or_else(|| list.as_deref().and_then(|l| list_header(l, "dbname:")))
        .or_else(|| source.file_stem().map(|s| database_from_stem(&s.to_string_lossy())));
    let dumped_from = facts
        .dumped_from
        .clone()
        .or_else(|| list.as_deref().and_then(|l| list_header(l, "Dumped from database version:")));
    let dumped_by = facts
        .dumped_by
        .clone()
        .or_else(|| list.as_deref().and_then(|l| list_header(l, "Dumped by pg_dump version:")));

    let mut findings = Vec::new();
    let profile_name = profile.settings.name.clone();
    match &manifest {
        Some(found) => findings.push(Finding::new(
            Severity::Info,
            FindingCode::ChecksumsVerified,
            format!(
                "{verified} file{} match{} the checksums in {}.",
                plural(verified),
                if verified == 1 { "es" } else { "" },
                found.path.display()
            ),
            None,
        )),
        None => findings.push(Finding::new(
            Severity::Info,
            FindingCode::NoManifest,
            "No Lifeboat manifest describes this backup, so there are no checksums to compare; \
             it was checked by reading it completely."
                .into(),
            None,
        )),
    }
    if detected.format == BackupFormat::Plain && !facts.complete {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::DumpIncomplete,
            "The SQL file does not end with pg_dump's \"dump complete\" line: it was cut short \
             or edited."
                .into(),
            Some("Use a complete copy of the backup.".into()),
        ));
    }
    if facts.connects {
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

    // 4. The target database.
    let now = chrono::Local::now();
    let today = now.date_naive();
    let base_db = match &replace {
        Some(old) => old.clone(),
        None => source_database.clone().unwrap_or_else(|| "restored".to_owned()),
    };
    let name_base = default_base(&base_db, today);
    let mut kept_as = None;
    if let Some(old) = &replace {
        check_replace(
            &client,
            &target,
            &profile,
            old,
            request.terminate_connections,
            &mut findings,
        )
        .await?;
        kept_as = Some(free_name(&kept_name(old, now.naive_local()), &target.databases));
    }
    let (database, create_database, auto_named) = match explicit_target {
        Some(name) => {
            let exists = target.databases.contains(&name);
            (name, !exists, false)
        }
        None => (free_name(&name_base, &target.databases), true, true),
    };
    let mut existing_encoding = None;
    if !create_database {
        let spec = ConnectSpec::for_profile(ctx, &profile, &database)?;
        let db_client = connect(&spec).await?;
        let contents = read_contents(&db_client).await?;
        existing_encoding = Some(contents.encoding.clone());
        if !contents.is_empty() {
            findings.push(Finding::new(
                Severity::Blocker,
                FindingCode::TargetNotEmpty,
                format!(
                    "The database {database} on \"{profile_name}\" is not empty: it holds {}.",
                    contents.describe()
                ),
                Some(format!(
                    "Lifeboat never restores into a non-empty database. Leave the target empty \
                     to restore into a new database ({}), or choose another name.",
                    free_name(&name_base, &target.databases)
                )),
            ));
        }
    } else if !target.superuser && !target.createdb {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::CannotCreateDatabase,
            format!("The user {} may not create databases on \"{profile_name}\".", target.user),
            Some(
                "Give the user CREATEDB, use a profile with more rights, or create an empty \
                 database and choose it as the target."
                    .into(),
            ),
        ));
    }

    // 5. Encoding.
    let dump_encoding =
        facts.encoding.clone().or_else(|| manifest.as_ref().map(|m| m.manifest.encoding.clone()));
    let mut encoding = None;
    if let Some(dump_encoding) = &dump_encoding {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if create_database {
            let any_encoding =
                target.template_libc && matches!(target.template_ctype.as_str(), "C" | "POSIX");
            if same(dump_encoding, &target.template_encoding) || any_encoding {
                encoding = Some(dump_encoding.to_ascii_uppercase());
            } else {
                encoding = Some(target.template_encoding.clone());
                findings.push(Finding::new(
                    Severity::Warning,
                    FindingCode::EncodingDiffers,
                    format!(
                        "The backup is in {dump_encoding}; new databases on \"{profile_name}\" \
                         (locale {}) can only be {}.",
                        target.template_ctype, target.template_encoding
                    ),
                    Some(format!(
                        "The database is created in {} and text is converted on the way; \
                         characters {} cannot hold stop the restore.",
                        target.template_encoding, target.template_encoding
                    )),
                ));
            }
        } else if let Some(existing) = &existing_encoding
            && !same(dump_encoding, existing)
        {
            findings.push(Finding::new(
                Severity::Warning,
                FindingCode::EncodingDiffers,
                format!("The backup is in {dump_encoding}; the database {database} is {existing}."),
                Some(format!(
                    "Text is converted to {existing} on the way; characters {existing} cannot \
                     hold stop the restore."
                )),
            ));
        }
    }

    // 5b. Locale: how text sorts in the new database.
    if create_database
        && target.template_libc
        && let Some(found) = &manifest
        && !found.manifest.collate.is_empty()
        && found.manifest.collate != target.template_collate
    {
        findings.push(Finding::new(
            Severity::Info,
            FindingCode::LocaleDiffers,
            format!(
                "The backed-up database sorted text by the locale {}; new databases on \
                 \"{profile_name}\" use {}.",
                found.manifest.collate, target.template_collate
            ),
            Some(
                "Data and indexes restore the same, but ORDER BY on text may list rows in \
                 another order."
                    .into(),
            ),
        ));
    }

    // 6. Roles: owners, and the roles grants name.
    let owners: BTreeSet<String> = facts.entries.iter().filter_map(|e| e.owner.clone()).collect();
    let mut missing_owners: Vec<String> =
        owners.iter().filter(|r| !target.roles.contains(*r)).cloned().collect();
    let mut foreign_owners = Vec::new();
    if !target.superuser {
        for owner in owners.iter().filter(|o| target.roles.contains(*o) && **o != target.user) {
            if !is_member(&client, &target.user, owner).await? {
                foreign_owners.push(owner.clone());
            }
        }
    }
    let mut missing_roles: BTreeSet<String> =
        facts.roles().into_iter().filter(|r| !target.roles.contains(r)).collect();
    let saved = match &manifest {
        Some(found) if !missing_roles.is_empty() => archive::saved_roles(found)?,
        _ => None,
    };
    let recreatable: BTreeSet<String> = missing_roles
        .iter()
        .filter(|r| saved.as_ref().is_some_and(|s| s.roles.contains_key(*r)))
        .cloned()
        .collect();
    let mut role_statements = Vec::new();
    let mut membership_statements = Vec::new();
    if request.create_roles && !missing_roles.is_empty() {
        if recreatable.is_empty() {
            findings.push(Finding::new(
                Severity::Warning,
                FindingCode::CannotCreateRoles,
                "The backup saved no roles to create the missing ones from (it was made without \
                 globals)."
                    .into(),
                Some("Objects are restored without their owners instead.".into()),
            ));
        } else if !target.superuser && !target.createrole {
            findings.push(Finding::new(
                Severity::Blocker,
                FindingCode::CannotCreateRoles,
                format!("The user {} may not create roles on \"{profile_name}\".", target.user),
                Some(
                    "Give the user CREATEROLE, use a profile with more rights, or restore \
                     without creating roles (owners are then mapped)."
                        .into(),
                ),
            ));
        } else {
            let saved = saved.as_ref().expect("recreatable roles are saved");
            let mut weakened = Vec::new();
            for name in &recreatable {
                let (sql, dropped) = crate::format::globals::create_statement(
                    name,
                    &saved.roles[name],
                    target.superuser,
                );
                if !dropped.is_empty() {
                    weakened.push(format!("{name} (without {})", dropped.join(", ")));
                }
                role_statements.push((name.clone(), sql));
            }
            for (role, member) in &saved.memberships {
                // Predefined roles (pg_write_server_files, pg_execute_server_program …) are
                // server-wide powers too: never given again.
                if role.starts_with("pg_") {
                    continue;
                }
                let exists = |r: &String| target.roles.contains(r) || recreatable.contains(r);
                if (recreatable.contains(role) || recreatable.contains(member))
                    && exists(role)
                    && exists(member)
                {
                    membership_statements.push(format!(
                        "GRANT {} TO {}",
                        quote_ident(role),
                        quote_ident(member)
                    ));
                }
            }
            let mut message = format!(
                "Creates {} role{} from the roles saved with the backup: {}.",
                recreatable.len(),
                plural(recreatable.len()),
                list_names(&recreatable)
            );
            if !weakened.is_empty() {
                message.push_str(&format!(
                    " Server-wide powers are not given again: {}.",
                    weakened.join(", ")
                ));
            }
            findings.push(Finding::new(
                Severity::Warning,
                FindingCode::RolesCreated,
                message,
                Some(
                    "Roles are shared by every database of the server. They get no password: \
                     set one (ALTER ROLE … PASSWORD) before they need to log in."
                        .into(),
                ),
            ));
            missing_owners.retain(|r| !recreatable.contains(r));
            missing_roles.retain(|r| !recreatable.contains(r));
        }
    }
    if let Some(role) = &role {
        if !target.roles.contains(role) {
            findings.push(Finding::new(
                Severity::Blocker,
                FindingCode::OwnerRoleMissing,
                format!("The role {role} does not exist on \"{profile_name}\"."),
                Some("Create the role first, or choose an existing one.".into()),
            ));
        } else if !target.superuser && !is_member(&client, &target.user, role).await? {
            findings.push(Finding::new(
                Severity::Blocker,
                FindingCode::OwnerRoleNotGranted,
                format!("The user {} may not act as the role {role}.", target.user),
                Some(format!("Grant {role} to {} first, or choose another role.", target.user)),
            ));
        }
    }
    let no_owner = request.no_owner
        || role.is_some()
        || !missing_owners.is_empty()
        || !foreign_owners.is_empty();
    let owned_by = no_owner.then(|| role.clone().unwrap_or_else(|| target.user.clone()));
    if !missing_roles.is_empty() || !foreign_owners.is_empty() {
        let mut parts = Vec::new();
        if !missing_roles.is_empty() {
            parts.push(format!(
                "{} role{} the backup names {} not exist on \"{profile_name}\": {}.",
                missing_roles.len(),
                plural(missing_roles.len()),
                if missing_roles.len() == 1 { "does" } else { "do" },
                list_names(&missing_roles)
            ));
        }
        if !foreign_owners.is_empty() {
            parts.push(format!(
                "The user {} may not create objects owned by {}.",
                target.user,
                foreign_owners.join(", ")
            ));
        }
        let fix = match (&owned_by, &role) {
            (Some(_), Some(role)) => format!("Restored with --no-owner (objects owned by {role})."),
            (Some(user), None) => {
                format!("Restored with --no-owner (objects owned by the connecting user, {user}).")
            }
            (None, _) => "The owners are kept; only grants to missing roles are left out.".into(),
        };
        let fix = if !request.create_roles && !recreatable.is_empty() {
            format!(
                "{fix} Or create {} from the roles saved with the backup (--create-roles).",
                list_names(&recreatable)
            )
        } else {
            fix
        };
        findings.push(Finding::new(
            Severity::Warning,
            FindingCode::RolesMissing,
            parts.join(" "),
            Some(fix),
        ));
    }
    // Entries granting privileges to missing roles are left out whole.
    let skipped_entries: Vec<&DumpEntry> = facts
        .entries
        .iter()
        .filter(|e| {
            (e.kind == "ACL" || e.kind == "DEFAULT ACL")
                && e.roles.iter().any(|r| missing_roles.contains(r))
        })
        .collect();
    if !skipped_entries.is_empty() {
        let names: Vec<String> = skipped_entries.iter().map(|e| e.name.clone()).collect();
        findings.push(Finding::new(
            Severity::Warning,
            FindingCode::GrantsSkipped,
            format!(
                "Privileges on {} object{} name missing roles: {}.",
                names.len(),
                plural(names.len()),
                names.join(", ")
            ),
            Some(
                "Those grants are not restored; create the roles and grant the privileges again \
                 if they are needed."
                    .into(),
            ),
        ));
    }

    // 6b. Disk space on the server, when Lifeboat can see its disk.
    let needed =
        facts.sql_bytes.max(manifest.as_ref().and_then(|m| m.manifest.database_bytes).unwrap_or(0));
    findings.push(disk_space_finding(&client, &profile, needed).await);

    // 7. Extensions.
    let unavailable: Vec<String> =
        facts.extensions().into_iter().filter(|e| !target.extensions.contains(e)).collect();
    if !unavailable.is_empty() {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::ExtensionUnavailable,
            format!(
                "The backup needs the extension{} {}, which \"{profile_name}\" (PostgreSQL {}) \
                 cannot provide.",
                plural(unavailable.len()),
                unavailable.join(", "),
                target.server_version
            ),
            Some(
                "Install the extension's package on the server, or restore onto a server that \
                 has it."
                    .into(),
            ),
        ));
    }

    // 8. Versions and the method.
    if let Some(from) = &dumped_from
        && major_of(from).is_some_and(|m| m > target.server.major())
    {
        findings.push(Finding::new(
            Severity::Warning,
            FindingCode::NewerSource,
            format!(
                "The backup comes from PostgreSQL {from}; \"{profile_name}\" runs {}.",
                target.server_version
            ),
            Some(format!(
                "Objects that use features newer than PostgreSQL {} cannot be restored; the \
                 restore stops at the first such error and leaves nothing behind.",
                target.server.major()
            )),
        ));
    }
    // Going on after errors in one transaction would only roll everything back at the end.
    let single_transaction = !create_database && !request.continue_on_errors;
    if request.continue_on_errors {
        findings.push(Finding::new(
            Severity::Warning,
            FindingCode::ContinueOnErrors,
            "Errors do not stop this restore: what fails to restore is missing afterwards, and \
             the database is kept as it is."
                .into(),
            Some(
                "Every error is listed in the result. Restore without this option to get all \
                 or nothing."
                    .into(),
            ),
        ));
    }
    let kind = match &reader {
        None => MethodKind::Psql,
        Some(reader) if reader.major == writer.major => MethodKind::PgRestore,
        Some(_) => MethodKind::Pipeline,
    };
    let dropped_settings: Vec<String> = if kind == MethodKind::PgRestore {
        Vec::new()
    } else {
        facts
            .set_names
            .iter()
            .filter(|s| !s.contains('.') && !target.settings.contains(*s))
            .cloned()
            .collect()
    };
    if !dropped_settings.is_empty() {
        let writer_of_sql = match &reader {
            Some(reader) => format!("pg_restore {}", reader.major),
            None => format!("pg_dump {}", dumped_by.as_deref().unwrap_or("(unknown version)")),
        };
        findings.push(Finding::new(
            Severity::Info,
            FindingCode::SettingsDropped,
            format!(
                "{writer_of_sql} writes SET {}, unknown to PostgreSQL {}.",
                dropped_settings.join(", SET "),
                target.server.major()
            ),
            Some("Lifeboat leaves those lines out; they only tune the restoring session.".into()),
        ));
    }
    let parallel = kind == MethodKind::PgRestore
        && !single_transaction
        && matches!(detected.format, BackupFormat::Custom | BackupFormat::Directory);
    let jobs = if parallel { request.jobs.unwrap_or(1) } else { 1 };
    if request.jobs.is_some_and(|j| j > 1) && !parallel {
        let why = if single_transaction {
            "an existing database is restored in one transaction"
        } else if kind != MethodKind::PgRestore {
            "the SQL goes through one psql session"
        } else {
            "a tar archive is read in order"
        };
        findings.push(Finding::new(
            Severity::Info,
            FindingCode::JobsIgnored,
            format!("The restore runs with one job: {why}."),
            None,
        ));
    }
    let method = RestoreMethod {
        kind,
        reader_major: reader.as_ref().map(|r| r.major),
        psql_major: (kind != MethodKind::PgRestore).then_some(writer.major),
        jobs,
        single_transaction,
        continue_on_errors: request.continue_on_errors,
        dropped_settings,
    };

    // 9. What is left out, and the list pg_restore follows.
    let dependents: Vec<&LeftOut> = left_out.iter().filter(|l| l.because.is_some()).collect();
    if !dependents.is_empty() {
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
        findings.push(Finding::new(
            Severity::Info,
            FindingCode::DependentsLeftOut,
            format!(
                "{} entr{} depend{} on what is left out and {} left out too: {}{}.",
                dependents.len(),
                if dependents.len() == 1 { "y" } else { "ies" },
                if dependents.len() == 1 { "s" } else { "" },
                if dependents.len() == 1 { "is" } else { "are" },
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ),
            Some("Include what they need to restore them as well.".into()),
        ));
    }
    let mut skip_ids: HashSet<u32> = skipped_entries.iter().filter_map(|e| e.toc_id).collect();
    skip_ids.extend(left_out.iter().map(|l| l.id));
    let no_privileges = reader.is_some() && skipped_entries.iter().any(|e| e.toc_id.is_none());
    let use_list = match (&list, skip_ids.is_empty()) {
        (Some(list), false) => Some(comment_out(list, &skip_ids)),
        _ => None,
    };
    let skip_ordinals: HashSet<usize> = if reader.is_none() {
        skipped_entries.iter().map(|e| e.ordinal).collect()
    } else {
        HashSet::new()
    };
    let skipped: Vec<String> = skipped_entries.iter().map(|e| e.kind.clone()).collect();

    let entries = facts.entries.len() as u64;
    let blocked = findings.iter().any(|f| f.severity == Severity::Blocker);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut plan = RestorePlan {
        source: source.display().to_string(),
        format: detected.format,
        archive_version: detected.archive_version.map(|v| v.to_string()),
        source_database,
        dumped_from,
        dumped_by,
        manifest: manifest.as_ref().map(|m: &FoundManifest| m.path.display().to_string()),
        verified_files: verified as u32,
        profile: profile_name,
        server_version: target.server_version.clone(),
        database,
        create_database,
        encoding: if create_database { encoding } else { existing_encoding },
        method,
        no_owner,
        owned_by,
        entries,
        skipped_entries: skipped.len() as u64,
        entry_counts: facts.counts(),
        findings,
        summary: String::new(),
        blocked,
        replace,
        kept_as,
        create_roles: role_statements.iter().map(|(name, _)| name.clone()).collect(),
        recreatable_roles: recreatable.iter().cloned().collect(),
        contents,
        left_out,
    };
    plan.summary = summarize(&plan, &source, missing_owners.len());
    Ok(Prepared {
        plan,
        profile,
        source,
        server: target.server,
        reader,
        writer,
        known_settings: target.settings,
        use_list,
        no_privileges,
        skip_ordinals,
        skipped,
        entry_names: facts.entries.iter().map(|e| format!("{} {}", e.kind, e.name)).collect(),
        auto_named,
        name_base,
        role,
        role_statements,
        membership_statements,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn list_names(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn major_of(version: &str) -> Option<u32> {
    version.split(['.', ' ']).next()?.parse().ok()
}

/// The plan in one sentence, e.g. "Creates database shop_restored_20261121 on "prod"
/// (PostgreSQL 18.6) and restores 42 entries from shop.backup with pg_restore 18; 2 roles
/// missing → owned by postgres; nothing existing is changed."
fn summarize(plan: &RestorePlan, source: &Path, missing_owners: usize) -> String {
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
    let mut parts = Vec::new();
    let m = &plan.method;
    let how = match m.kind {
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
    };
    let server = format!("\"{}\" (PostgreSQL {})", plan.profile, plan.server_version);
    parts.push(if let (Some(old), Some(kept)) = (&plan.replace, &plan.kept_as) {
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
    });
    if !m.dropped_settings.is_empty() {
        parts.push(format!("leaving out SET {}", m.dropped_settings.join(", SET ")));
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
    if !plan.left_out.is_empty() {
        let chosen = plan.left_out.iter().filter(|l| l.because.is_none()).count();
        let followed = plan.left_out.len() - chosen;
        let mut text =
            format!("leaving out {chosen} entr{} by choice", if chosen == 1 { "y" } else { "ies" });
        if followed > 0 {
            text.push_str(&format!(
                " and {followed} that need{} them",
                if followed == 1 { "s" } else { "" }
            ));
        }
        parts.push(text);
    }
    if plan.skipped_entries > 0 {
        parts.push(format!(
            "{} grant entr{} naming missing roles left out",
            plan.skipped_entries,
            if plan.skipped_entries == 1 { "y" } else { "ies" }
        ));
    }
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

/// The pg_restore that reads an archive of `version`: the target's own when it can, else the
/// oldest newer bundled one that can (its output needs the fewest settings left out).
fn choose_reader<'a>(
    ctx: &'a Ctx,
    writer: &'a BundledMajor,
    version: ArchiveVersion,
    source: &Path,
) -> Result<&'a BundledMajor> {
    if archive::pg_restore_reads(writer.major, version) {
        return Ok(writer);
    }
    ctx.tools
        .majors()
        .iter()
        .find(|m| m.major > writer.major && archive::pg_restore_reads(m.major, version))
        .ok_or_else(|| Error::ArchiveTooNew {
            path: source.to_owned(),
            version: version.to_string(),
            newest_bundled: ctx.tools.newest().major,
        })
}

async fn read_target(client: &Client) -> Result<Target> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
             current_user::text, r.rolsuper, r.rolcreatedb, r.rolcreaterole \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(q)?;
    let server = ServerVersion(row.get::<_, i32>(0).max(0) as u32);
    let names = |rows: Vec<tokio_postgres::Row>| -> HashSet<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let roles = names(client.query("SELECT rolname::text FROM pg_roles", &[]).await.map_err(q)?);
    let settings = names(client.query("SELECT name FROM pg_settings", &[]).await.map_err(q)?);
    let extensions = names(
        client.query("SELECT name::text FROM pg_available_extensions", &[]).await.map_err(q)?,
    );
    let databases =
        names(client.query("SELECT datname::text FROM pg_database", &[]).await.map_err(q)?);
    let provider = if server.major() >= 15 { "datlocprovider::text" } else { "'c'" };
    let template = client
        .query_one(
            &format!(
                "SELECT pg_encoding_to_char(encoding)::text, datctype::text, {provider}, \
                 datcollate::text \
                 FROM pg_database WHERE datname = 'template0'"
            ),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(Target {
        server,
        server_version: row.get(1),
        user: row.get(2),
        superuser: row.get(3),
        createdb: row.get(4),
        createrole: row.get(5),
        roles,
        settings,
        extensions,
        databases,
        template_encoding: template.get(0),
        template_ctype: template.get(1),
        template_collate: template.get(3),
        template_libc: template.get::<_, String>(2) == "c",
    })
}

async fn is_member(client: &Client, user: &str, role: &str) -> Result<bool> {
    let row = client
        .query_one("SELECT pg_has_role($1::text::name, $2::text::name, 'MEMBER')", &[&user, &role])
        .await
        .map_err(|e| query_error(&e))?;
    Ok(row.get(0))
}

/// What an existing database holds outside the system schemas and extensions.
struct Contents {
    encoding: String,
    schemas: i64,
    relations: i64,
    functions: i64,
    types: i64,
    public_objects: i64,
}

impl Contents {
    fn is_empty(&self) -> bool {
        self.schemas + self.relations + self.functions + self.types == 0
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |n: i64, one: &str, many: &str| {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        add(self.relations, "table, view or sequence", "tables, views or sequences");
        add(self.functions, "function", "functions");
        add(self.types, "type", "types");
        add(self.schemas, "schema besides public", "schemas besides public");
        let mut text = parts.join(", ");
        if self.public_objects > 0 {
            text.push_str(&format!(" ({} of them in public)", self.public_objects));
        }
        text
    }
}

async fn read_contents(client: &Client) -> Result<Contents> {
    use crate::pg::inventory::{USER_NS, not_extension};
    let relations = format!(
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND {USER_NS} AND {}",
        not_extension("pg_class", "c")
    );
    let functions = format!(
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {}",
        not_extension("pg_proc", "p")
    );
    let types = format!(
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype IN ('b', 'd', 'e', 'm', 'r') AND t.typrelid = 0 AND t.typcategory <> 'A' \
         AND {USER_NS} AND {}",
        not_extension("pg_type", "t")
    );
    let sql = format!(
        "SELECT (SELECT pg_encoding_to_char(encoding)::text FROM pg_database \
                 WHERE datname = current_database()), \
         (SELECT count(*) FROM pg_namespace n WHERE n.nspname <> 'public' AND {USER_NS}), \
         (SELECT count(*) {relations}), (SELECT count(*) {functions}), (SELECT count(*) {types}), \
         (SELECT count(*) {relations} AND n.nspname = 'public') + \
         (SELECT count(*) {functions} AND n.nspname = 'public')"
    );
    let row = client.query_one(&sql, &[]).await.map_err(|e| query_error(&e))?;
    Ok(Contents {
        encoding: row.get(0),
        schemas: row.get(1),
        relations: row.get(2),
        functions: row.get(3),
        types: row.get(4),
        public_objects: row.get(5),
    })
}

/// Reads the whole backup once: an archive through `pg_restore --verbose -f -` (a damaged or
/// truncated archive fails here, where `--list` alone would not notice), a plain dump as it is.
async fn scan(
    source: &Path,
    reader: Option<&BundledMajor>,
    cancel: &CancellationToken,
) -> Result<DumpFacts> {
    let mut scanner = DumpScanner::default();
    let mut look = |line: &[u8]| {
        scanner.line(line);
        false
    };
    let input = match reader {
        Some(reader) => PipeSource::Tool(
            ToolCommand::new(reader, Tool::PgRestore)?
                .args(["--verbose", "--file=-"])
                .arg(source.as_os_str()),
        ),
        None => PipeSource::File(source.to_owned()),
    };
    match runner::run_pipeline(input, &mut look, None, &NullSink, cancel).await {
        Ok(_) => {}
        Err(Error::ToolFailed { detail, .. }) => {
            let detail = detail
                .lines()
                .map(|l| l.trim_start_matches("pg_restore: ").trim_start_matches("error: "))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::ArchiveDamaged { path: source.to_owned(), detail });
        }
        Err(error) => return Err(error),
    }
    Ok(scanner.finish())
}

async fn pg_restore_list(
    reader: &BundledMajor,
    source: &Path,
    cancel: &CancellationToken,
) -> Result<String> {
    let command = ToolCommand::new(reader, Tool::PgRestore)?
        .arg("--list")
        .arg(source.as_os_str())
        .stdout(StdoutTo::Capture);
    let run = runner::run(command, &NullSink, cancel).await.map_err(|error| match error {
        Error::ToolFailed { detail, .. } => {
            Error::ArchiveDamaged { path: source.to_owned(), detail }
        }
        other => other,
    })?;
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

/// A value from the header of `pg_restore --list`, e.g. `;     dbname: shop`.
fn list_header(list: &str, key: &str) -> Option<String> {
    list.lines()
        .take_while(|l| l.starts_with(';'))
        .find_map(|l| {
            l.trim_start_matches(';').trim().strip_prefix(key).map(|v| v.trim().to_owned())
        })
        .filter(|v| !v.is_empty())
}

/// The list with the entries `ids` commented out, for `pg_restore --use-list`.
fn comment_out(list: &str, ids: &HashSet<u32>) -> String {
    let mut out = String::with_capacity(list.len());
    for line in list.lines() {
        let id = line.split(';').next().and_then(|id| id.trim().parse::<u32>().ok());
        if id.is_some_and(|id| ids.contains(&id)) {
            out.push(';');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `shop-2026-11-21-134501` (a Lifeboat file name) → `shop`; any other stem stays as it is.
fn database_from_stem(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let pattern = b"-dddd-dd-dd-dddddd";
    for start in 0..bytes.len() {
        if bytes.len() - start < pattern.len() {
            break;
        }
        let fits = pattern.iter().zip(&bytes[start..]).all(|(p, b)| match p {
            b'd' => b.is_ascii_digit(),
            other => other == b,
        });
        if fits && start > 0 {
            return stem[..start].to_owned();
        }
    }
    stem.to_owned()
}

/// `<db>_restored_YYYYMMDD`, the database part cut (on a character boundary) so that a `_NN`
/// suffix still fits PostgreSQL's 63 bytes.
fn default_base(database: &str, date: chrono::NaiveDate) -> String {
    fit_identifier(database, &format!("_restored_{}", date.format("%Y%m%d")), 4)
}

/// `<db>_before_YYYYMMDD-HHMMSS`, the database part cut (on a character boundary) so that a
/// `_NN` suffix still fits PostgreSQL's 63 bytes.
fn kept_name(database: &str, at: chrono::NaiveDateTime) -> String {
    fit_identifier(database, &format!("_before_{}", at.format("%Y%m%d-%H%M%S")), 4)
}

/// The findings about the database a replace renames: that it exists, who is connected to it,
/// and whether the user may rename it.
async fn check_replace(
    client: &Client,
    target: &Target,
    profile: &Profile,
    old: &str,
    terminate: bool,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let profile_name = &profile.settings.name;
    if !target.databases.contains(old) {
        findings.push(Finding::new(
            Severity::Blocker,
            FindingCode::ReplaceTargetMissing,
            format!("There is no database {old} on \"{profile_name}\" to replace."),
            Some("Check the name, or restore into a new database instead of replacing one.".into()),
        ));
        return Ok(());
    }
    if old == profile.settings.maintenance_db {
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
    let owner: String = client
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1::text",
            &[&old],
        )
        .await
        .map_err(q)?
        .get(0);
    if !target.superuser
        && (!target.createdb
            || (owner != target.user && !is_member(client, &target.user, &owner).await?))
    {
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
    let rows = client
        .query(
            "SELECT coalesce(usename::text, ''), coalesce(application_name, '') \
             FROM pg_stat_activity WHERE datname = $1::text AND pid <> pg_backend_pid()",
            &[&old],
        )
        .await
        .map_err(q)?;
    if !rows.is_empty() {
        let mut who = BTreeSet::new();
        for row in &rows {
            let user: String = row.get(0);
            let app: String = row.get(1);
            let app = if app.is_empty() { "an unnamed application".to_owned() } else { app };
            who.insert(if user.is_empty() { app } else { format!("{app} ({user})") });
        }
        let n = rows.len();
        let message = format!(
            "{n} session{} {} connected to {old}: {}.",
            plural(n),
            if n == 1 { "is" } else { "are" },
            list_names(&who)
        );
        findings.push(if terminate {
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
                    "Close them, or let Lifeboat end them (--terminate-connections / the \
                     checkbox)."
                        .into(),
                ),
            )
        });
    }
    Ok(())
}

/// Gives the restored database `new` the name `old`, which is kept as `kept`: both renames from
/// the maintenance database; when the second fails, the first is undone. Sessions on `old` are
/// ended first when `terminate`; sessions of the finished restore on `new` always.
async fn swap(
    ctx: &Ctx,
    prepared: &Prepared,
    new: &str,
    old: &str,
    kept: &str,
    terminate: bool,
) -> Result<()> {
    let profile = &prepared.profile;
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let failed = |detail: String| Error::ReplaceFailed { database: old.to_owned(), detail };
    let rename = async |from: &str, to: &str, end_sessions: bool| {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", quote_ident(from), quote_ident(to));
        let mut tries = 0;
        loop {
            if end_sessions {
                let _ = client
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = $1::text AND pid <> pg_backend_pid()",
                        &[&from],
                    )
                    .await;
            }
            match client.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                Err(error)
                    if end_sessions
                        && error.code() == Some(&SqlState::OBJECT_IN_USE)
                        && tries < 40 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => return Err(query_error(&error).to_string()),
            }
        }
    };
    rename(old, kept, terminate).await.map_err(|detail| {
        failed(format!("renaming {old} to {kept} failed ({detail}); {old} was not changed"))
    })?;
    if let Err(detail) = rename(new, old, true).await {
        let undo = match rename(kept, old, false).await {
            Ok(()) => format!("{old} has its name back"),
            Err(undo) => format!("{old} could not get its name back ({undo}): it is now {kept}"),
        };
        return Err(failed(format!("renaming {new} to {old} failed ({detail}); {undo}")));
    }
    Ok(())
}

/// Whether the server runs on this machine (so its data directory is on a disk Lifeboat sees).
fn is_local(host: &str) -> bool {
    host.is_empty()
        || host.starts_with('/')
        || matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
        || host.starts_with("127.")
}

/// How the free space on the server's disk compares with `needed` bytes: a blocker when the
/// restore cannot fit, a warning with less than twice the room (indexes and temporary files come
/// on top of the data), else an info. For a server on another machine, or a data directory the
/// user may not read, an info that it was not checked.
async fn disk_space_finding(client: &Client, profile: &Profile, needed: u64) -> Finding {
    let need = crate::util::size::human_bytes(needed);
    let unknown = |why: &str| {
        Finding::new(
            Severity::Info,
            FindingCode::DiskSpace,
            format!("The restore needs about {need} on the server; {why}."),
            Some("Make sure the server's disk has at least twice that free.".into()),
        )
    };
    if !is_local(&profile.settings.host) {
        return unknown("its disk is on another machine, so Lifeboat cannot check the free space");
    }
    let Ok(row) = client.query_one("SELECT current_setting('data_directory')", &[]).await else {
        return unknown("the connecting user may not see where the server keeps its data");
    };
    let data_directory: String = row.get(0);
    let Ok(free) = fs4::available_space(&data_directory) else {
        return unknown("the free space of the server's data directory could not be read");
    };
    let free_text = crate::util::size::human_bytes(free);
    let severity = disk_severity(needed, free);
    let fix = if severity == Severity::Blocker {
        Some(format!(
            "Free at least {} on the disk of {data_directory}, or restore onto another server.",
            crate::util::size::human_bytes(needed.saturating_mul(2).saturating_sub(free))
        ))
    } else if severity == Severity::Warning {
        Some(
            "Indexes and temporary files need more than the data; free more space to be safe."
                .into(),
        )
    } else {
        None
    };
    Finding::new(
        severity,
        FindingCode::DiskSpace,
        format!(
            "The restore needs about {need}; the server's disk ({data_directory}) has {free_text} free."
        ),
        fix,
    )
}

fn disk_severity(needed: u64, free: u64) -> Severity {
    if free < needed {
        Severity::Blocker
    } else if free < needed.saturating_mul(2) {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// `base`, else `base_2`, `base_3` … the first not in `taken`.
fn free_name(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..).map(|n| format!("{base}_{n}")).find(|n| !taken.contains(n)).expect("a free name exists")
}

/// Creates the new database; a name Lifeboat chose that was taken meanwhile moves on to the next
/// suffix. Returns the name.
async fn create_database(ctx: &Ctx, prepared: &Prepared) -> Result<String> {
    let profile = &prepared.profile;
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let mut name = prepared.plan.database.clone();
    let mut taken = HashSet::new();
    loop {
        let mut sql = format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(&name));
        if let Some(encoding) = &prepared.plan.encoding {
            sql.push_str(&format!(" ENCODING {}", quote_literal(encoding)));
        }
        // The role that will own the objects owns the database too, so it may create schemas.
        if let Some(role) = &prepared.role {
            sql.push_str(&format!(" OWNER {}", quote_ident(role)));
        }
        match client.batch_execute(&sql).await {
            Ok(()) => return Ok(name),
            Err(error)
                if prepared.auto_named
                    && error.code() == Some(&SqlState::DUPLICATE_DATABASE)
                    && taken.len() < 1000 =>
            {
                taken.insert(name.clone());
                name = free_name(&prepared.name_base, &taken);
            }
            Err(error) => return Err(query_error(&error)),
        }
    }
}

/// Creates the roles the plan recreates from the saved globals, then their memberships; returns
/// the roles created. When one fails, those created before are dropped again.
async fn create_roles(ctx: &Ctx, prepared: &Prepared) -> Result<Vec<String>> {
    if prepared.role_statements.is_empty() {
        return Ok(Vec::new());
    }
    let profile = &prepared.profile;
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let mut created = Vec::new();
    let statements = prepared.role_statements.iter().map(|(name, sql)| (Some(name), sql));
    let grants = prepared.membership_statements.iter().map(|sql| (None, sql));
    for (name, sql) in statements.chain(grants) {
        if let Err(error) = client.batch_execute(sql).await {
            drop_roles(ctx, prepared, &created, &NullSink).await;
            return Err(query_error(&error));
        }
        if let Some(name) = name {
            created.push(name.clone());
        }
    }
    Ok(created)
}

/// Drops roles this restore created (after a failure), warning about those that remain.
async fn drop_roles(ctx: &Ctx, prepared: &Prepared, roles: &[String], sink: &dyn ProgressSink) {
    if roles.is_empty() {
        return;
    }
    let profile = &prepared.profile;
    let client = match ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db) {
        Ok(spec) => connect(&spec).await,
        Err(error) => Err(error),
    };
    for role in roles {
        let result = match &client {
            Ok(client) => client
                .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(role)))
                .await
                .map_err(|e| query_error(&e).to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(detail) = result {
            sink.emit(ProgressEvent::Warning {
                message: format!(
                    "The role {role}, created for this restore, could not be removed: {detail}. \
                     Drop it by hand."
                ),
            });
        }
    }
}

/// A list file for `pg_restore --use-list`, removed when dropped.
struct ListFile(PathBuf);

impl ListFile {
    fn write(ctx: &Ctx, text: &str) -> Result<ListFile> {
        let dir = ctx.data_dir.path().join("tmp");
        let io = |path: &Path, source| Error::Io {
            action: "Writing the restore list",
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let path = dir.join(format!("restore-{}.list", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        Ok(ListFile(path))
    }
}

impl Drop for ListFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the restore into `database`; returns the versions of the tools used.
async fn run(
    ctx: &Ctx,
    prepared: &Prepared,
    database: &str,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(Vec<String>, Vec<String>)> {
    let plan = &prepared.plan;
    let going_on = plan.method.continue_on_errors;
    let collector = ErrorCollector { inner: sink, errors: Mutex::new(Vec::new()) };
    let sink: &dyn ProgressSink = &collector;
    let target = ConnTarget::for_profile(ctx, &prepared.profile, database)?;
    let total = plan.entries;
    let list = match &prepared.use_list {
        Some(text) => Some(ListFile::write(ctx, text)?),
        None => None,
    };
    let mut versions = Vec::new();
    let restore_options = |mut command: ToolCommand| {
        if plan.no_owner {
            command = command.arg("--no-owner");
        }
        if let Some(role) = &prepared.role {
            command = command.arg(format!("--role={role}"));
        }
        if prepared.no_privileges {
            command = command.arg("--no-privileges");
        }
        if let Some(list) = &list {
            command = command.arg("--use-list").arg(list.0.as_os_str());
        }
        command
    };
    sink.emit(ProgressEvent::Step { done: 0, total, current: String::new() });
    match plan.method.kind {
        MethodKind::PgRestore => {
            let reader = prepared.reader.as_ref().expect("an archive has a reader");
            versions.push(runner::version_line(reader, Tool::PgRestore, cancel).await?);
            let mut command = ToolCommand::new(reader, Tool::PgRestore)?
                .args(["--no-password", "--verbose"])
                .conn(target);
            if !going_on {
                command = command.arg("--exit-on-error");
            }
            command = restore_options(command);
            if plan.method.jobs > 1 {
                command = command.arg(format!("--jobs={}", plan.method.jobs));
            }
            if plan.method.single_transaction {
                command = command.arg("--single-transaction");
            }
            command = command
                .arg(format!("--dbname={}", conninfo_dbname(database)))
                .arg(prepared.source.as_os_str());
            let counter = EntryCounter::new(sink, total);
            match runner::run(command, &counter, cancel).await {
                Ok(_) => {}
                // pg_restore ends with 1 after going past errors ("errors ignored on restore").
                Err(Error::ToolFailed { exit_code: Some(1), .. })
                    if going_on && !collector.errors.lock().expect("errors").is_empty() => {}
                Err(error) => return Err(error),
            }
        }
        MethodKind::Pipeline | MethodKind::Psql => {
            let psql_major = &prepared.writer;
            let mut psql = ToolCommand::new(psql_major, Tool::Psql)?
                .args(["-X", "-q", "--no-password"])
                .conn(target);
            if !going_on {
                psql = psql.args(["-v", "ON_ERROR_STOP=1"]);
            }
            if plan.method.single_transaction {
                psql = psql.arg("--single-transaction");
            }
            let source = match &prepared.reader {
                Some(reader) => {
                    versions.push(runner::version_line(reader, Tool::PgRestore, cancel).await?);
                    let command =
                        ToolCommand::new(reader, Tool::PgRestore)?.args(["--verbose", "--file=-"]);
                    PipeSource::Tool(restore_options(command).arg(prepared.source.as_os_str()))
                }
                None => {
                    if let Some(role) = &prepared.role {
                        psql = psql.arg("-c").arg(format!("SET ROLE {}", quote_ident(role)));
                    }
                    PipeSource::File(prepared.source.clone())
                }
            };
            versions.push(runner::version_line(psql_major, Tool::Psql, cancel).await?);
            psql = psql.args(["-f", "-"]);
            // pg_restore already left out owners and skipped entries; a plain dump is filtered.
            let plain = prepared.reader.is_none();
            let mut filter = DumpFilter::new(
                Some(prepared.known_settings.clone()),
                plain && plan.no_owner,
                if plain { prepared.skip_ordinals.clone() } else { HashSet::new() },
            );
            let mut seen = 0usize;
            let names = &prepared.entry_names;
            let mut keep = |line: &[u8]| {
                let keep = filter.keep(line);
                let entry = filter.entry();
                if entry != seen {
                    seen = entry;
                    sink.emit(ProgressEvent::Step {
                        done: (entry as u64).saturating_sub(1).min(total),
                        total,
                        current: names.get(entry - 1).cloned().unwrap_or_default(),
                    });
                }
                keep
            };
            runner::run_pipeline(source, &mut keep, Some(psql), sink, cancel).await?;
        }
    }
    sink.emit(ProgressEvent::Step { done: total, total, current: String::new() });
    let errors = collector.errors.into_inner().expect("errors");
    Ok((versions, errors))
}

/// Keeps the errors pg_restore and psql report, for a restore that goes on after them.
struct ErrorCollector<'a> {
    inner: &'a dyn ProgressSink,
    errors: Mutex<Vec<String>>,
}

impl ProgressSink for ErrorCollector<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event {
            let error = line
                .strip_prefix("pg_restore: error: ")
                .map(str::to_owned)
                .or_else(|| line.split_once(": ERROR:  ").map(|(_, e)| format!("ERROR: {e}")));
            if let Some(error) = error {
                self.errors.lock().expect("errors").push(error);
            }
        }
        self.inner.emit(event);
    }
}

/// Turns `pg_restore --verbose` lines into "entry n of m" progress.
struct EntryCounter<'a> {
    inner: &'a dyn ProgressSink,
    total: u64,
    done: AtomicU64,
}

impl<'a> EntryCounter<'a> {
    fn new(inner: &'a dyn ProgressSink, total: u64) -> Self {
        EntryCounter { inner, total, done: AtomicU64::new(0) }
    }
}

/// What `pg_restore --verbose` prints once per entry it restores (also from parallel workers).
const ENTRY_LINES: [&str; 4] = [
    "pg_restore: creating ",
    "pg_restore: processing data for table ",
    "pg_restore: executing ",
    "pg_restore: setting owner and privileges for ",
];

impl ProgressSink for EntryCounter<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event
            && let Some(current) = ENTRY_LINES.iter().find_map(|p| line.strip_prefix(p))
            && !current.starts_with("SELECT ")
        {
            let done = (self.done.fetch_add(1, Ordering::Relaxed) + 1).min(self.total);
            self.inner.emit(ProgressEvent::Step {
                done,
                total: self.total,
                current: current.to_owned(),
            });
        }
        self.inner.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_dated_suffixed_and_fit_postgres() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let base = default_base("shop", date);
        assert_eq!(base, "shop_restored_20261121");
        let mut taken = HashSet::new();
        assert_eq!(free_name(&base, &taken), base);
        taken.insert(base.clone());
        assert_eq!(free_name(&base, &taken), "shop_restored_20261121_2");
        taken.insert("shop_restored_20261121_2".into());
        assert_eq!(free_name(&base, &taken), "shop_restored_20261121_3");
        let long = "ü".repeat(40);
        let base = default_base(&long, date);
        assert!(base.len() + 4 <= MAX_IDENTIFIER_BYTES, "{}", base.len());
        assert!(base.ends_with("_restored_20261121"));
    }

    #[test]
    fn disk_space_blocks_when_the_data_cannot_fit_and_warns_below_twice() {
        assert_eq!(disk_severity(100, 99), Severity::Blocker);
        assert_eq!(disk_severity(100, 150), Severity::Warning);
        assert_eq!(disk_severity(100, 200), Severity::Info);
        assert_eq!(disk_severity(0, 0), Severity::Info);
        assert!(is_local("") && is_local("/var/run/postgresql") && is_local("127.0.0.2"));
        assert!(is_local("localhost") && is_local("::1"));
        assert!(!is_local("db.example.com") && !is_local("10.0.0.5"));
    }

    #[test]
    fn lifeboat_file_names_give_back_the_database() {
        assert_eq!(database_from_stem("shop-2026-11-21-134501"), "shop");
        assert_eq!(database_from_stem("my-db-2026-11-21-134501-2"), "my-db");
        assert_eq!(database_from_stem("dump18"), "dump18");
    }

    #[test]
    fn the_list_comments_out_skipped_entries() {
        let list = ";\n; Archive created at x\n;     dbname: shop\n;\n\
                    6; 2615 16385 SCHEMA - sales postgres\n\
                    2709; 0 0 ACL sales TABLE orders postgres\n";
        let out = comment_out(list, &HashSet::from([2709]));
        assert!(out.contains(";2709; 0 0 ACL"));
        assert!(out.contains("\n6; 2615"));
        assert_eq!(list_header(list, "dbname:").as_deref(), Some("shop"));
        assert_eq!(list_header(list, "Nope:"), None);
    }

    #[test]
    fn database_names_never_become_connection_strings() {
        assert_eq!(conninfo_dbname("shop"), "dbname='shop'");
        assert_eq!(conninfo_dbname("a=b 'c'\\"), "dbname='a=b \\'c\\'\\\\'");
        assert_eq!(quote_ident("Odd \"x\""), "\"Odd \"\"x\"\"\"");
    }

    #[test]
    fn the_entry_counter_counts_restored_entries() {
        let recorder = crate::base::progress::Recorder::default();
        let counter = EntryCounter::new(&recorder, 3);
        for line in [
            "pg_restore: connecting to database for restore",
            "pg_restore: executing SELECT pg_catalog.set_config('search_path', '', false);",
            "pg_restore: creating TABLE \"public.t\"",
            "pg_restore: processing data for table \"public.t\"",
            "pg_restore: executing SEQUENCE SET t_id_seq",
            "pg_restore: creating INDEX \"public.t_idx\"",
        ] {
            counter.emit(ProgressEvent::ToolOutput { tool: Tool::PgRestore, line: line.into() });
        }
        let steps: Vec<(u64, String)> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::Step { done, current, .. } => Some((done, current)),
                _ => None,
            })
            .collect();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0], (1, "TABLE \"public.t\"".to_owned()));
        assert_eq!(steps[3].0, 3, "capped at the total");
    }
}
