//! Backups: pg_dump of the server's own major into a Windows-safe file name, checksummed while
//! streaming, described by a manifest written last, and recorded in the catalog.
//!
//! Order of events, so that nothing half-done ever looks finished:
//! 1. a catalog row `running`; the server's facts and exact row counts are read inside a
//!    repeatable-read transaction whose snapshot pg_dump then shares (`--snapshot`), so the
//!    counts describe exactly what is in the dump;
//! 2. every output goes to the backup's private folder `.<stem>.partial` in the destination
//!    (0700, made with `mkdir`, so a link or file another user put at that name is refused,
//!    never followed), fsynced;
//! 3. the manifest is written there too, everything in the folder is made owner-only (files
//!    0600, folders 0700, whatever the umask and pg_dump chose), the manifest is renamed into
//!    place and the dumps last;
//! 4. any failure or cancel removes the private folder and marks the row failed / cancelled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::format::manifest::{
    DatabaseSettings, DependentLeftOut, ExtensionInfo, MANIFEST_SUFFIX, MANIFEST_VERSION, Manifest,
    ManifestFile, RoleSettings, SequenceOwner, SequenceValue, TableRows, split_table,
};
use crate::pg::connect::{ConnectSpec, connect, query_error, server_version};
use crate::pg::inventory::{USER_NS, not_extension, object_counts};
use crate::storage::catalog;
use crate::storage::context::Ctx;
use crate::storage::jobs::{self, JobKind, RunningJob};
use crate::util::checksum::sha256_reader;

use crate::base::progress::{NullSink, ProgressEvent, ProgressSink};
use crate::base::tools::{BundledMajor, ServerVersion, Tool};
pub use crate::format::compression::{Compression, CompressionMethod, FormatCompression};
pub use crate::format::manifest::{BackupFormat, BackupScope};
use crate::format::read;
use crate::format::selection::{self, BrokenDependency};
use crate::format::sqltext::DumpEntry;
use crate::pg::runner::{self, ConnTarget, StdoutTo, ToolCommand, Written};
use crate::storage::profiles::{self, Profile};
use crate::util::naming;
use crate::util::private_fs;
use crate::util::quote::quote_ident;

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StartBackup {
    pub profile: String,
    pub database: String,
    /// The folder the backup goes into.
    pub destination: String,
    pub format: BackupFormat,
    /// Absent: [`Compression::default_for`].
    pub compression: Option<Compression>,
    pub scope: BackupScope,
    /// One file per schema, each restorable on its own.
    pub per_schema: bool,
    /// Parallel pg_dump workers (directory format only).
    pub jobs: Option<u32>,
    /// Also save the cluster's roles and tablespaces (pg_dumpall --globals-only).
    pub globals: bool,
    /// With globals: include the roles' password hashes.
    pub role_passwords: bool,
    /// When kept objects need objects the scope leaves out (a trigger calling a function of
    /// an excluded schema): add those schemas or tables to the backup, and say so in the
    /// warnings. Without it such a backup is refused before the dump.
    #[serde(default)]
    pub keep_needed: bool,
    /// When kept objects still need objects the scope leaves out: leave them out too (a view
    /// is excluded from the dump; a trigger or a function, which pg_dump cannot leave out, is
    /// named in the manifest and left out at every restore), and say so in the warnings.
    #[serde(default)]
    pub leave_out_dependents: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupOutcome {
    /// The catalog entry.
    pub backup_id: i64,
    pub manifest_path: String,
    pub files: Vec<ManifestFile>,
    pub size_bytes: u64,
    pub duration_ms: u64,
    /// The compression the dump was written with, its level spelled out.
    pub compression: Compression,
    /// Things the user should know, e.g. little free space left.
    pub warnings: Vec<String>,
}

/// The names a backup's files get, for the wizard's preview and for the backup itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupNames {
    pub stem: String,
    /// The dump (a folder for the directory format).
    pub main: String,
    /// With one file per schema: the file of `schema`.
    pub per_schema: Option<String>,
    pub globals: String,
    pub manifest: String,
}

pub fn names_for(stem: &str, format: BackupFormat, schema: Option<&str>) -> BackupNames {
    BackupNames {
        stem: stem.to_owned(),
        main: with_extension(stem, format),
        per_schema: schema.map(|s| with_extension(&schema_stem(stem, s), format)),
        globals: format!("{stem}.globals.sql"),
        manifest: format!("{stem}{MANIFEST_SUFFIX}"),
    }
}

/// What a backup of `database` started now would be called (before any "-2" for a name taken
/// in the same second).
pub fn preview_names(database: &str, format: BackupFormat, schema: Option<&str>) -> BackupNames {
    names_for(&naming::backup_stem(database, chrono::Local::now().naive_local()), format, schema)
}

fn schema_stem(stem: &str, schema: &str) -> String {
    format!("{stem}.{}", naming::safe_component(schema))
}

/// Where backups go unless the user chooses: "backups" in the data folder, created owner-only
/// when missing.
pub fn default_folder(ctx: &Ctx) -> Result<PathBuf> {
    let folder = ctx.data_dir.path().join("backups");
    private_fs::ensure_private_dir(&folder).map_err(|source| Error::Io {
        action: "Creating the backups folder",
        path: folder.clone(),
        source,
    })?;
    Ok(folder)
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CompressionChoicesInput {
    pub profile: String,
}

/// What the backup wizard may offer for a server: per format, the methods its pg_dump allows,
/// the default and why.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CompressionChoices {
    pub server_version: String,
    /// The bundled pg_dump that backs this server up (its own major, or the closest above).
    pub pg_dump_major: u32,
    pub formats: Vec<FormatCompression>,
}

/// Connects to the profile's maintenance database to learn which pg_dump backs it up, and
/// says what compression each format allows with it.
pub async fn compression_choices(
    ctx: &Ctx,
    input: CompressionChoicesInput,
) -> Result<CompressionChoices> {
    let profile = profiles::find_profile(ctx, &input.profile)?;
    let spec = ConnectSpec::for_profile(ctx, &profile, &profile.settings.maintenance_db)?;
    let server = server_version(&connect(&spec).await?).await?;
    let major = ctx.tools.for_dump(server)?.major;
    Ok(CompressionChoices {
        server_version: server.to_string(),
        pg_dump_major: major,
        formats: crate::format::compression::choices(major),
    })
}

/// The facts read inside the dump's snapshot.
struct Facts {
    encoding: String,
    collate: String,
    ctype: String,
    size_bytes: i64,
    tables: Vec<TableRows>,
    sequences: Vec<SequenceValue>,
    extensions: Vec<ExtensionInfo>,
    roles: Vec<String>,
    object_counts: BTreeMap<String, i64>,
    settings: DatabaseSettings,
}

/// Runs a backup. Progress goes to `sink`; `cancel` stops it and removes what it wrote.
pub async fn backup(
    ctx: &Ctx,
    input: StartBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<BackupOutcome> {
    let subject = format!("{}/{}", input.profile, input.database);
    let work = backup_inner(ctx, input, sink, cancel);
    crate::base::logging::logged("backup", &subject, work).await
}

/// [`backup`] without its lines in the log.
async fn backup_inner(
    ctx: &Ctx,
    input: StartBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<BackupOutcome> {
    let profile = profiles::find_profile(ctx, &input.profile)?;
    check_request(&input)?;
    let destination = PathBuf::from(input.destination.trim());
    check_destination(&destination)?;
    let started = Instant::now();
    let started_at = chrono::Local::now();
    // Held while the backup runs: when this process ends first, the next start marks the
    // backup interrupted and removes its private folder.
    let running = jobs::start(ctx, JobKind::Backup, &profile, &input.database)?;
    let backup_id = match catalog::start_backup(
        ctx,
        &profile,
        &input.database,
        input.format.name(),
        &started_at.to_rfc3339(),
        &running,
    ) {
        Ok(id) => id,
        Err(error) => {
            running.finish(ctx);
            return Err(error);
        }
    };
    let mut partials = Partials::default();
    let job = Job {
        ctx,
        profile: &profile,
        input: &input,
        destination: &destination,
        sink,
        cancel,
        started,
        started_at,
        running: &running,
    };
    // On the heap: the dump, the facts and the counts run side by side, and their futures
    // together outgrow a test thread's stack in debug builds.
    let result = Box::pin(run_backup(&job, &mut partials)).await;
    let result = match result {
        Ok(mut outcome) => {
            outcome.backup_id = backup_id;
            let finished = catalog::FinishedBackup {
                duration_ms: outcome.duration_ms,
                manifest_path: &outcome.manifest_path,
                size_bytes: outcome.size_bytes,
                sha256: outcome.files.first().map(|f| f.sha256.as_str()),
            };
            catalog::finish_backup(ctx, backup_id, &finished).map(|()| outcome)
        }
        Err(error) => {
            partials.remove();
            // The catalog must say what happened even when it is the store that failed.
            let _ =
                catalog::fail_backup(ctx, backup_id, &error, started.elapsed().as_millis() as u64);
            Err(error)
        }
    };
    running.finish(ctx);
    result
}

/// What a backup was asked to do, and where it reports.
struct Job<'a> {
    ctx: &'a Ctx,
    profile: &'a Profile,
    input: &'a StartBackup,
    destination: &'a Path,
    sink: &'a dyn ProgressSink,
    cancel: &'a CancellationToken,
    started: Instant,
    started_at: chrono::DateTime<chrono::Local>,
    /// The job's lock and row, where its temporary files are recorded before they are made.
    running: &'a RunningJob,
}

async fn run_backup(job: &Job<'_>, partials: &mut Partials) -> Result<BackupOutcome> {
    let (input, destination) = (job.input, job.destination);
    let spec = ConnectSpec::for_profile(job.ctx, job.profile, &input.database)?;
    let mut client = connect(&spec).await?;
    let server = server_version(&client).await?;
    let tools = job.ctx.tools.for_dump(server)?.clone();
    let asked =
        input.compression.unwrap_or_else(|| Compression::default_for(input.format, tools.major));
    // Refused here, before any pg_dump runs, when this server's pg_dump lacks the method.
    let compress_arg = asked.argument(input.format, tools.major)?;
    let compression = asked.resolved();

    // The snapshot stays open until every pg_dump has imported it.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| query_error(&e))?;
    let snapshot: String =
        tx.query_one("SELECT pg_export_snapshot()", &[]).await.map_err(|e| query_error(&e))?.get(0);
    let target = ConnTarget::for_profile(job.ctx, job.profile, &input.database)?;
    let Scoped { scope, left_out, mut warnings } =
        checked_scope(job, &tools, &target, &snapshot).await?;
    let input = &StartBackup { scope, ..input.clone() };
    let job = &Job { input, ..*job };
    // Only what pg_dump's progress needs is read before it starts; everything else the
    // manifest records (the database's facts, the exact counts) is read beside it, in its
    // snapshot (ops/backup_counts.rs).
    let listed = listed_in_snapshot(&tx, &input.scope).await?;

    let dumps = Dumps {
        job,
        server,
        compression,
        stem: reserve_stem(job, partials)?,
        target,
        tools,
        snapshot,
        compress_arg,
        left_out,
    };
    let in_snapshot = async {
        let facts = read_facts(&tx, &input.scope, input.per_schema, listed.tables.clone()).await?;
        warnings.extend(check_space(destination, facts.size_bytes.max(0) as u64, job.sink));
        Ok(facts)
    };
    let beside = super::backup_counts::beside(
        dumps.all(&listed.schemas, listed.tables.len(), partials),
        in_snapshot,
        &tx,
        &listed.tables,
        job.cancel,
    );
    let version = runner::version_line(&dumps.tools, Tool::PgDump, job.cancel);
    let ((files, mut facts, counts), pg_dump_version) = tokio::try_join!(beside, version)?;
    super::backup_counts::fill(&mut facts.tables, counts);
    tx.commit().await.map_err(|e| query_error(&e))?;
    drop(client);

    let manifest = dumps.manifest(pg_dump_version, facts, files.clone());
    let manifest_path = put_in_place(&manifest, destination, &dumps.stem, partials)?;
    Ok(BackupOutcome {
        backup_id: 0,
        manifest_path: manifest_path.display().to_string(),
        files,
        size_bytes: manifest.size_bytes,
        duration_ms: manifest.duration_ms,
        compression: dumps.compression,
        warnings,
    })
}

/// Combinations pg_dump cannot make whatever the server, refused before anything is read.
fn check_request(input: &StartBackup) -> Result<()> {
    if let Some(compression) = input.compression {
        // The newest pg_dump allows the most; what this server's allows is checked once its
        // version is known.
        compression.argument(input.format, u32::MAX)?;
    }
    if input.scope.data_only && input.scope.schema_only {
        return Err(Error::InvalidInput {
            field: "scope",
            problem: "data-only and schema-only exclude each other".into(),
        });
    }
    if input.jobs.is_some_and(|j| j > 1) && input.format != BackupFormat::Directory {
        return Err(Error::InvalidInput {
            field: "jobs",
            problem: "parallel jobs need the directory format".into(),
        });
    }
    Ok(())
}

/// The scope a backup is made with, what it leaves out at every restore, and what the user
/// should know about both.
struct Scoped {
    scope: BackupScope,
    left_out: Vec<DependentLeftOut>,
    warnings: Vec<String>,
}

/// The scope the backup is made with. A scoped backup whose kept objects need objects the
/// scope leaves out would never restore on its own: it is refused before the dump, or with
/// `keep_needed` widened to carry them, and then with `leave_out_dependents` narrowed so that
/// what still needs them is left out (the warnings say what was added and what left out).
/// The dependencies are those the restore follows, read from a schema-only dump of the whole
/// database in the backup's own snapshot (definitions only: a fraction of a second for a few
/// hundred objects).
async fn checked_scope(
    job: &Job<'_>,
    tools: &BundledMajor,
    target: &ConnTarget,
    snapshot: &str,
) -> Result<Scoped> {
    let input = job.input;
    let as_asked =
        Scoped { scope: input.scope.clone(), left_out: Vec::new(), warnings: Vec::new() };
    // A whole backup leaves nothing out; a data-only one restores into existing definitions.
    if (input.scope.is_whole() && !input.per_schema) || input.scope.data_only {
        return Ok(as_asked);
    }
    let definitions = definitions(job, tools, target, snapshot).await?;
    if input.per_schema {
        let scoped = per_schema_scope(input, &definitions)?;
        for message in &scoped.warnings {
            job.sink.emit(ProgressEvent::Warning { message: message.clone() });
        }
        return Ok(scoped);
    }
    let (widened, added, unfixable) = selection::keep_needed(&definitions, &input.scope)?;
    if added.is_empty() && unfixable.is_empty() {
        return Ok(as_asked);
    }
    let mut scoped = as_asked;
    if input.keep_needed {
        scoped.scope = widened;
        scoped.warnings = added;
    }
    let broken = selection::broken_dependencies(&definitions, &scoped.scope)?;
    if !broken.is_empty() && !input.leave_out_dependents {
        return Err(Error::BackupHasBrokenDependencies {
            dependents: broken.iter().map(BrokenDependency::sentence).collect(),
            can_keep: !input.keep_needed && unfixable.is_empty(),
        });
    }
    if !broken.is_empty() {
        let (narrowed, left_out, sentences) =
            selection::leave_out_dependents(&definitions, &scoped.scope)?;
        if input.format == BackupFormat::Plain && !left_out.is_empty() {
            return Err(plain_cannot_leave_out(&left_out));
        }
        if !left_out.is_empty() {
            scoped.warnings.push(format!(
                "{} object(s) pg_dump cannot leave out are in the file; every Lifeboat restore \
                 and test of this backup leaves them out (its manifest names them).",
                left_out.len()
            ));
        }
        scoped.warnings.extend(sentences);
        scoped.scope = narrowed;
        scoped.left_out = left_out;
    }
    for message in &scoped.warnings {
        job.sink.emit(ProgressEvent::Warning { message: message.clone() });
    }
    Ok(scoped)
}

/// The scope of a backup of one file per schema, each file a one-schema dump that must restore
/// on its own, so each is checked as one. Keeping what they need can only add extensions (every
/// file then creates them if missing); what needs another schema's objects is left out
/// (`leave_out_dependents`) or refuses the backup.
fn per_schema_scope(input: &StartBackup, definitions: &[DumpEntry]) -> Result<Scoped> {
    let mut scope = input.scope.clone();
    let schemas = selection::schemas_carried(definitions, &scope);
    let file = |scope: &BackupScope, schema: &str| BackupScope {
        schemas: vec![schema.to_owned()],
        ..scope.clone()
    };
    let broken = |scope: &BackupScope| -> Result<Vec<BrokenDependency>> {
        let mut all = Vec::new();
        for schema in &schemas {
            all.extend(selection::broken_dependencies(definitions, &file(scope, schema))?);
        }
        Ok(all)
    };
    let mut warnings = Vec::new();
    if input.keep_needed {
        for b in broken(&scope)? {
            if let Some(extension) = b.needed_extension()
                && !scope.extensions.iter().any(|e| e == extension)
            {
                scope.extensions.push(extension.to_owned());
                warnings
                    .push(format!("Kept extension {extension} in every file: {}.", b.sentence()));
            }
        }
    }
    let still = broken(&scope)?;
    if still.is_empty() {
        return Ok(Scoped { scope, left_out: Vec::new(), warnings });
    }
    if !input.leave_out_dependents {
        return Err(Error::BackupHasBrokenDependencies {
            dependents: still.iter().map(BrokenDependency::sentence).collect(),
            can_keep: !input.keep_needed && still.iter().all(|b| b.needed_extension().is_some()),
        });
    }
    let mut left_out = Vec::new();
    let mut sentences = Vec::new();
    for schema in &schemas {
        let (narrowed, left, said) =
            selection::leave_out_dependents(definitions, &file(&scope, schema))?;
        for table in narrowed.exclude_tables {
            if !scope.exclude_tables.contains(&table) {
                scope.exclude_tables.push(table);
            }
        }
        let file_schema = Some(schema.clone());
        left_out.extend(
            left.into_iter().map(|l| DependentLeftOut { file_schema: file_schema.clone(), ..l }),
        );
        sentences.extend(said.into_iter().map(|s| format!("In the file of {schema}: {s}")));
    }
    if input.format == BackupFormat::Plain && !left_out.is_empty() {
        return Err(plain_cannot_leave_out(&left_out));
    }
    if !left_out.is_empty() {
        warnings.push(format!(
            "{} object(s) pg_dump cannot leave out are in the files; every Lifeboat restore and \
             test of this backup leaves them out (its manifest names them).",
            left_out.len()
        ));
    }
    warnings.extend(sentences);
    Ok(Scoped { scope, left_out, warnings })
}

/// A plain SQL file is restored whole, so a Lifeboat restore could not leave anything out.
fn plain_cannot_leave_out(left_out: &[DependentLeftOut]) -> Error {
    let names: std::collections::BTreeSet<String> = left_out
        .iter()
        .map(|l| selection::describe(&l.kind, l.schema.as_deref(), &l.name))
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    Error::InvalidInput {
        field: "format",
        problem: format!(
            "a plain SQL backup is restored whole, so it cannot leave out {}; choose the custom, \
             directory or tar format, or keep what they need",
            names.join(", ")
        ),
    }
}

/// The entries of a schema-only dump of the whole database in `snapshot`, with what each
/// needs. The dump goes to a hidden file in the data folder, removed afterwards.
async fn definitions(
    job: &Job<'_>,
    tools: &BundledMajor,
    target: &ConnTarget,
    snapshot: &str,
) -> Result<Vec<DumpEntry>> {
    struct Removed(PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let file = Removed(
        job.ctx.data_dir.path().join(format!(".definitions-{}.partial", uuid::Uuid::new_v4())),
    );
    job.running.record_partial(job.ctx, &file.0)?;
    let command = ToolCommand::new(tools, Tool::PgDump)?
        .args([BackupFormat::Custom.flag(), "--schema-only", "--no-password"])
        .arg(format!("--snapshot={snapshot}"))
        .conn(target.clone())
        .stdout(StdoutTo::File(file.0.clone()));
    runner::run(command, &NullSink, job.cancel).await?;
    Ok(read::full_read(&file.0, Some(tools), job.cancel).await?.entries)
}

/// Announces the database's size, and warns when the destination has less space free.
fn check_space(destination: &Path, database_bytes: u64, sink: &dyn ProgressSink) -> Vec<String> {
    sink.emit(ProgressEvent::SizeEstimate { bytes: database_bytes });
    let mut warnings = Vec::new();
    if let Ok(free) = fs4::available_space(destination)
        && free < database_bytes
    {
        warnings.push(format!(
            "Only {} free in {}, and the database is {} before compression; the backup may not fit.",
            crate::util::size::human_bytes(free),
            destination.display(),
            crate::util::size::human_bytes(database_bytes)
        ));
        sink.emit(ProgressEvent::Warning { message: warnings.last().cloned().unwrap_or_default() });
    }
    warnings
}

/// What every program of one backup shares: the tools, the server, the snapshot and the names.
struct Dumps<'a> {
    job: &'a Job<'a>,
    server: ServerVersion,
    compression: Compression,
    tools: BundledMajor,
    target: ConnTarget,
    snapshot: String,
    compress_arg: String,
    stem: String,
    /// What the manifest tells every restore to leave out.
    left_out: Vec<DependentLeftOut>,
}

impl Dumps<'_> {
    /// Every dump (one, or one per schema) and the globals when asked for, each under a
    /// partial name.
    async fn all(
        &self,
        schemas: &[String],
        tables: usize,
        partials: &mut Partials,
    ) -> Result<Vec<ManifestFile>> {
        let units: Vec<Option<&str>> = if self.job.input.per_schema {
            schemas.iter().map(|s| Some(s.as_str())).collect()
        } else {
            vec![None]
        };
        let counter = TableCounter::new(self.job.sink, tables as u64);
        let mut files = Vec::new();
        for unit in units {
            files.extend(self.dump(unit, &counter, partials).await?);
        }
        if self.job.input.globals {
            files.push(self.globals(partials).await?);
        }
        Ok(files)
    }

    /// pg_dump of the database, or of one schema of it.
    async fn dump(
        &self,
        unit: Option<&str>,
        counter: &TableCounter<'_>,
        partials: &mut Partials,
    ) -> Result<Vec<ManifestFile>> {
        let (input, cancel) = (self.job.input, self.job.cancel);
        let name = match unit {
            Some(schema) => schema_stem(&self.stem, schema),
            None => self.stem.clone(),
        };
        let final_name = with_extension(&name, input.format);
        let partial = partials.path(&final_name);
        let mut command = ToolCommand::new(&self.tools, Tool::PgDump)?
            .args([input.format.flag(), "--verbose", "--no-password"])
            .arg(format!("--snapshot={}", self.snapshot))
            .conn(self.target.clone());
        command = command.arg(&self.compress_arg).args(scope_args(&input.scope, unit));
        if let Some(jobs) = input.jobs.filter(|j| *j > 1) {
            command = command.arg(format!("--jobs={jobs}"));
        }
        let files = if input.format == BackupFormat::Directory {
            runner::run(command.arg("--file").arg(&partial), counter, cancel).await?;
            let files = hash_directory(&partial, &final_name)?;
            files
                .into_iter()
                .map(|f| ManifestFile { schema: unit.map(str::to_owned), ..f })
                .collect()
        } else {
            let command = command.stdout(StdoutTo::File(partial.clone()));
            let written = runner::run(command, counter, cancel).await?.written;
            vec![dump_file(&final_name, "dump", unit, &written.expect("streamed to a file"))]
        };
        partials.renames.push((partial, self.job.destination.join(&final_name)));
        Ok(files)
    }

    /// pg_dumpall --globals-only: the cluster's roles and tablespaces.
    async fn globals(&self, partials: &mut Partials) -> Result<ManifestFile> {
        let input = self.job.input;
        let final_name = names_for(&self.stem, input.format, None).globals;
        let partial = partials.path(&final_name);
        let mut command = ToolCommand::new(&self.tools, Tool::PgDumpall)?
            .args(["--globals-only", "--no-password"])
            .conn(self.target.clone())
            .stdout(StdoutTo::File(partial.clone()));
        if !input.role_passwords {
            command = command.arg("--no-role-passwords");
        }
        let written = runner::run(command, self.job.sink, self.job.cancel).await?.written;
        let file = dump_file(&final_name, "globals", None, &written.expect("streamed to a file"));
        partials.renames.push((partial, self.job.destination.join(&final_name)));
        Ok(file)
    }

    /// The manifest that describes the finished files.
    fn manifest(
        &self,
        pg_dump_version: String,
        facts: Facts,
        files: Vec<ManifestFile>,
    ) -> Manifest {
        let (job, input, s) = (self.job, self.job.input, &self.job.profile.settings);
        Manifest {
            manifest_version: MANIFEST_VERSION,
            app_version: crate::VERSION.to_owned(),
            pg_dump_version,
            server_version: self.server.to_string(),
            profile: s.name.clone(),
            host: s.host.clone(),
            port: s.port,
            database: input.database.clone(),
            encoding: facts.encoding,
            collate: facts.collate,
            ctype: facts.ctype,
            format: input.format,
            compression: self.compression.to_string(),
            scope: input.scope.clone(),
            per_schema: input.per_schema,
            started_at: job.started_at.to_rfc3339(),
            finished_at: chrono::Local::now().to_rfc3339(),
            duration_ms: job.started.elapsed().as_millis() as u64,
            size_bytes: files.iter().map(|f| f.bytes).sum(),
            database_bytes: Some(facts.size_bytes.max(0) as u64),
            files,
            extensions: facts.extensions,
            roles_referenced: facts.roles,
            object_counts: facts.object_counts,
            sequences: facts.sequences,
            tables: facts.tables,
            database_settings: Some(facts.settings),
            left_out: self.left_out.clone(),
        }
    }
}

/// The backup's private folder in the destination, where every output is written until the
/// whole backup is done: hidden, named after the backup's stem.
fn staging_path(destination: &Path, stem: &str) -> PathBuf {
    destination.join(format!(".{stem}.partial"))
}

/// Writes the manifest and moves everything to its final name: the manifest first, the dumps
/// last, so that a dump under its final name is always described.
fn put_in_place(
    manifest: &Manifest,
    destination: &Path,
    stem: &str,
    partials: &mut Partials,
) -> Result<PathBuf> {
    let manifest_name = names_for(stem, manifest.format, None).manifest;
    let manifest_partial = partials.path(&manifest_name);
    write_synced(&manifest_partial, &serde_json::to_vec_pretty(manifest).expect("serializable"))?;
    // What pg_dump wrote has the umask's mode: owner-only before it leaves the private folder.
    if let Some(staging) = &partials.staging {
        private_fs::restrict_tree(staging)
            .map_err(|e| Error::writing("Making the backup owner-only", staging, e))?;
    }
    let manifest_path = destination.join(&manifest_name);
    rename(&manifest_partial, &manifest_path)?;
    for (from, to) in &partials.renames {
        rename(from, to)?;
    }
    if let Some(staging) = &partials.staging {
        let _ = std::fs::remove_dir(staging);
    }
    partials.clear();
    sync_dir(destination);
    Ok(manifest_path)
}

/// Outputs not yet under their final names, all inside the backup's private folder
/// (`.<stem>.partial`, 0700, made by Lifeboat itself so that nothing another user put at its
/// name is followed); the folder is removed when the backup does not finish.
#[derive(Default)]
struct Partials {
    staging: Option<PathBuf>,
    renames: Vec<(PathBuf, PathBuf)>,
}

impl Partials {
    /// Makes the private folder; refused ([`Error::UnsafePath`]) when anything is at its name.
    /// Creates the private folder of `stem`; false when something took that name first.
    fn make_staging(&mut self, destination: &Path, stem: &str) -> Result<bool> {
        let staging = staging_path(destination, stem);
        match private_fs::create_private_dir(&staging) {
            Ok(()) => {
                self.staging = Some(staging);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::writing("Creating the backup's private folder", &staging, e)),
        }
    }

    /// Where the output `final_name` is written until the backup is done.
    fn path(&self, final_name: &str) -> PathBuf {
        self.staging.as_ref().expect("the private folder is made first").join(final_name)
    }

    fn remove(&self) {
        if let Some(staging) = &self.staging {
            let _ = std::fs::remove_dir_all(staging);
        }
    }

    fn clear(&mut self) {
        *self = Partials::default();
    }
}

fn check_destination(destination: &Path) -> Result<()> {
    let invalid = |problem: String| Error::InvalidInput { field: "destination folder", problem };
    if destination.as_os_str().is_empty() {
        return Err(invalid("choose a folder for the backup".into()));
    }
    if !naming::fits_windows_path(destination) {
        return Err(invalid(format!(
            "{} is too deep for file names that stay valid on Windows (260 characters); choose a shorter path",
            destination.display()
        )));
    }
    if destination.exists() && !destination.is_dir() {
        return Err(invalid(format!("{} is a file, not a folder", destination.display())));
    }
    if !destination.exists() {
        // A destination that does not exist yet is created, readable by its owner only.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(destination).map_err(|source| Error::Io {
            action: "Creating the backup folder",
            path: destination.to_owned(),
            source,
        })?;
    }
    Ok(())
}

fn with_extension(stem: &str, format: BackupFormat) -> String {
    match format.extension() {
        "" => stem.to_owned(),
        ext => format!("{stem}.{ext}"),
    }
}

/// The stem for this backup, avoiding any name already in the folder (two backups in one second).
/// A name no other backup in the destination has, reserved by creating its private folder: two
/// backups of one database started in the same second (two processes) get different names.
fn reserve_stem(job: &Job<'_>, partials: &mut Partials) -> Result<String> {
    let (input, destination) = (job.input, job.destination);
    for _ in 0..100 {
        let stem =
            unique_stem(destination, &input.database, job.started_at.naive_local(), input.format);
        job.running.record_partial(job.ctx, &staging_path(destination, &stem))?;
        if partials.make_staging(destination, &stem)? {
            return Ok(stem);
        }
    }
    let staging = staging_path(destination, "backup");
    Err(Error::writing(
        "Choosing a name for the backup",
        &staging,
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "every name is being taken"),
    ))
}

fn unique_stem(
    destination: &Path,
    database: &str,
    at: chrono::NaiveDateTime,
    format: BackupFormat,
) -> String {
    let base = naming::backup_stem(database, at);
    // Anything at a name counts, a dangling link too.
    let there = |path: PathBuf| std::fs::symlink_metadata(path).is_ok();
    let taken = |stem: &str| {
        there(destination.join(with_extension(stem, format)))
            || there(destination.join(format!("{stem}{MANIFEST_SUFFIX}")))
            || there(staging_path(destination, stem))
    };
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|s| !taken(s)).expect("an unused name exists")
}

fn scope_args(scope: &BackupScope, only_schema: Option<&str>) -> Vec<String> {
    // Quoted so that names are taken literally, not as pg_dump patterns.
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let table = |spec: &str| {
        let (schema, table) = split_table(spec);
        format!("{}.{}", quoted(schema), quoted(table))
    };
    let mut args = Vec::new();
    match only_schema {
        Some(schema) => args.push(format!("--schema={}", quoted(schema))),
        None => args.extend(scope.schemas.iter().map(|s| format!("--schema={}", quoted(s)))),
    }
    args.extend(scope.exclude_schemas.iter().map(|s| format!("--exclude-schema={}", quoted(s))));
    args.extend(scope.tables.iter().map(|t| format!("--table={}", table(t))));
    args.extend(scope.exclude_tables.iter().map(|t| format!("--exclude-table={}", table(t))));
    // Without names pg_dump carries every extension; `--extension` would narrow that.
    if scope.names_objects() || only_schema.is_some() {
        args.extend(scope.extensions.iter().map(|e| format!("--extension={}", quoted(e))));
    }
    if scope.data_only {
        args.push("--data-only".into());
    }
    if scope.schema_only {
        args.push("--schema-only".into());
    }
    args
}

/// The schemas and tables the dump carries, read in its snapshot before pg_dump starts: the
/// units of a one-file-per-schema backup, and the tables whose progress and counts are
/// reported. Nothing here scans a table.
struct Listed {
    schemas: Vec<String>,
    tables: Vec<TableRows>,
}

async fn listed_in_snapshot(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &BackupScope,
) -> Result<Listed> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let schemas: Vec<String> = tx
        .query(
            &format!("SELECT n.nspname::text FROM pg_namespace n WHERE {USER_NS} ORDER BY 1"),
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|s| scope.carries_schema(s))
        .collect();
    let tables = tables_in_scope(tx, scope).await?;
    Ok(Listed { schemas, tables })
}

/// Everything else the manifest records, read in the same snapshot while pg_dump runs.
async fn read_facts(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &BackupScope,
    per_schema: bool,
    mut tables: Vec<TableRows>,
) -> Result<Facts> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let db = tx
        .query_one(
            "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text, \
             pg_database_size(oid) FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .map_err(q)?;
    if !scope.schema_only {
        add_roles_in_data(tx, &mut tables).await?;
    }
    let sequences = sequences_in_scope(tx, scope).await?;
    let extensions = extensions_in_scope(tx, scope, per_schema).await?;
    let mut roles = roles_referenced(tx).await?;
    roles.extend(tables.iter().flat_map(|t| t.roles_in_data.iter().cloned()));
    roles.sort();
    roles.dedup();
    let object_counts = object_counts(tx).await?;
    let settings = database_settings(tx).await?;
    Ok(Facts {
        encoding: db.get(0),
        collate: db.get(1),
        ctype: db.get(2),
        size_bytes: db.get(3),
        tables,
        sequences,
        extensions,
        roles,
        object_counts,
        settings,
    })
}

/// The database's own settings (database-wide, and per role in it) and its comment, which
/// pg_dump keeps only for `--create`. A drill reads the restored copy's with the same query.
pub(crate) async fn database_settings(
    tx: &impl tokio_postgres::GenericClient,
) -> Result<DatabaseSettings> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let rows = tx
        .query(
            "SELECT s.setrole <> 0, coalesce(r.rolname::text, ''), s.setconfig::text[] \
             FROM pg_db_role_setting s \
             JOIN pg_database d ON d.oid = s.setdatabase AND d.datname = current_database() \
             LEFT JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(q)?;
    let mut settings = DatabaseSettings::default();
    for row in rows {
        let config: Vec<String> = row.get::<_, Option<Vec<String>>>(2).unwrap_or_default();
        if row.get::<_, bool>(0) {
            settings.role_settings.push(RoleSettings { role: row.get(1), settings: config });
        } else {
            settings.settings = config;
        }
    }
    settings.comment = tx
        .query_one(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database \
             WHERE datname = current_database()",
            &[],
        )
        .await
        .map_err(q)?
        .get(0);
    Ok(settings)
}

/// The tables the dump carries, with `rows` Some(0) until counted (None for a schema-only
/// backup).
async fn tables_in_scope(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &BackupScope,
) -> Result<Vec<TableRows>> {
    let mut tables = Vec::new();
    for row in tx
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {USER_NS} AND {} ORDER BY 1, 2",
                not_extension("pg_class", "c")
            ),
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?
    {
        let (schema, table): (String, String) = (row.get(0), row.get(1));
        if !scope.carries_table(&schema, &table) {
            continue;
        }
        // The dump carries each table's own rows: a parent's inheritance children and a
        // partitioned table's partitions are dumped (and counted) as tables of their own.
        // Some(0) until counted beside pg_dump, in its snapshot (ops/backup_counts.rs).
        let rows = (!scope.schema_only).then_some(0);
        tables.push(TableRows { schema, table, rows, roles_in_data: Vec::new() });
    }
    Ok(tables)
}

/// The roles named by the rows of each table that has role columns.
async fn add_roles_in_data(
    tx: &tokio_postgres::Transaction<'_>,
    tables: &mut [TableRows],
) -> Result<()> {
    let role_columns = role_columns(tx).await?;
    for table in tables.iter_mut() {
        let columns: Vec<&RoleColumn> = role_columns
            .iter()
            .filter(|c| c.schema == table.schema && c.table == table.table)
            .collect();
        table.roles_in_data = roles_in_data(tx, &table.schema, &table.table, &columns).await?;
    }
    Ok(())
}

/// A column whose values name roles: `regrole` or `aclitem` (a privilege, `alice=r/bob`), an
/// array of either, or a domain over one of them. Each fails to load where a role is missing.
struct RoleColumn {
    schema: String,
    table: String,
    column: String,
    /// The base type: `regrole`, `regrole[]`, `aclitem` or `aclitem[]`.
    base: String,
}

async fn role_columns(tx: &tokio_postgres::Transaction<'_>) -> Result<Vec<RoleColumn>> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, a.attname::text, b.base::regtype::text \
                 FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_type t ON t.oid = a.atttypid, \
                 LATERAL (SELECT coalesce(nullif(t.typbasetype, 0), t.oid) AS base) b \
                 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
                   AND {USER_NS} \
                   AND b.base IN ('regrole'::regtype, 'regrole[]'::regtype, \
                                  'aclitem'::regtype, 'aclitem[]'::regtype)"
            ),
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    Ok(rows
        .iter()
        .map(|r| RoleColumn { schema: r.get(0), table: r.get(1), column: r.get(2), base: r.get(3) })
        .collect())
}

/// The roles that rows of one table name in such columns. A `regrole` whose role was dropped
/// is dumped as a number and restores anywhere, so only existing roles are named.
async fn roles_in_data(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
    table: &str,
    columns: &[&RoleColumn],
) -> Result<Vec<String>> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let relation = format!("{}.{}", quote_ident(schema), quote_ident(table));
    let values: Vec<String> = columns
        .iter()
        .map(|c| {
            let column = format!("t.{}", quote_ident(&c.column));
            let from = format!("FROM ONLY {relation} t");
            match c.base.as_str() {
                "regrole" => format!("SELECT {column}::regrole::oid AS role {from}"),
                "regrole[]" => format!("SELECT unnest({column}::regrole[])::oid AS role {from}"),
                base => {
                    let items = if base == "aclitem" {
                        format!("ARRAY[{column}::aclitem]")
                    } else {
                        format!("{column}::aclitem[]")
                    };
                    format!(
                        "SELECT unnest(ARRAY[a.grantor, a.grantee]) AS role {from}, \
                         aclexplode({items}) a"
                    )
                }
            }
        })
        .collect();
    let sql = format!(
        "SELECT DISTINCT r.rolname::text FROM ({}) v JOIN pg_roles r ON r.oid = v.role ORDER BY 1",
        values.join(" UNION ALL ")
    );
    let rows = tx.query(&sql, &[]).await.map_err(|e| query_error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The sequences the dump carries; a schema-only dump carries none of their values.
async fn sequences_in_scope(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &BackupScope,
) -> Result<Vec<SequenceValue>> {
    let rows = tx
        .query(
            "SELECT s.schemaname::text, s.sequencename::text, s.last_value, \
               tn.nspname::text, t.relname::text, d.deptype = 'i' \
             FROM pg_sequences s \
             JOIN pg_namespace sn ON sn.nspname = s.schemaname \
             JOIN pg_class sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename \
             LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid \
               AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
             LEFT JOIN pg_class t ON t.oid = d.refobjid \
             LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let mut sequences = Vec::new();
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        let owner = match (row.get::<_, Option<String>>(3), row.get::<_, Option<String>>(4)) {
            (Some(schema), Some(table)) => Some(SequenceOwner {
                schema,
                table,
                identity: row.get::<_, Option<bool>>(5) == Some(true),
            }),
            _ => None,
        };
        if scope.carries_sequence(&schema, &name, owner.as_ref()) {
            let last_value = if scope.schema_only { None } else { row.get(2) };
            sequences.push(SequenceValue { schema, name, last_value });
        }
    }
    Ok(sequences)
}

/// The extensions the dump creates (pg_dump leaves them out of most scoped dumps).
async fn extensions_in_scope(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &BackupScope,
    per_schema: bool,
) -> Result<Vec<ExtensionInfo>> {
    if !scope.carries_extensions(per_schema) && scope.extensions.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx
        .query(
            "SELECT e.extname::text, e.extversion, n.nspname::text FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let extensions =
        rows.iter().map(|r| ExtensionInfo { name: r.get(0), version: r.get(1), schema: r.get(2) });
    Ok(extensions.filter(|e| scope.carries_extension(&e.name, per_schema)).collect())
}

/// Every role that owns or is granted something the dump holds: a restore needs them to exist.
async fn roles_referenced(tx: &tokio_postgres::Transaction<'_>) -> Result<Vec<String>> {
    Ok(tx
        .query(
            &format!(
                "SELECT DISTINCT r::text FROM ( \
                   SELECT pg_get_userbyid(datdba) AS r FROM pg_database WHERE datname = current_database() \
                   UNION SELECT pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE {USER_NS} \
                   UNION SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} \
                   UNION SELECT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} \
                   UNION SELECT pg_get_userbyid(a.grantee) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, \
                     aclexplode(c.relacl) a WHERE {USER_NS} AND a.grantee <> 0 \
                 ) roles ORDER BY 1"
            ),
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

fn dump_file(name: &str, role: &str, schema: Option<&str>, written: &Written) -> ManifestFile {
    ManifestFile {
        name: name.to_owned(),
        role: role.to_owned(),
        schema: schema.map(str::to_owned),
        bytes: written.bytes,
        sha256: written.sha256.clone(),
    }
}

/// The files of a directory-format dump, hashed after pg_dump wrote them (pg_dump writes them
/// itself, in parallel, so they cannot be hashed on the way).
fn hash_directory(dir: &Path, final_name: &str) -> Result<Vec<ManifestFile>> {
    let io = |path: &Path, source| Error::Io {
        action: "Reading the backup",
        path: path.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| io(dir, e))?;
    entries.sort();
    let mut files = Vec::new();
    for path in entries {
        let mut file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        let (bytes, sha256) = sha256_reader(&mut file).map_err(|e| io(&path, e))?;
        file.sync_all().map_err(|e| io(&path, e))?;
        let name =
            format!("{final_name}/{}", path.file_name().unwrap_or_default().to_string_lossy());
        files.push(ManifestFile { name, role: "dump".into(), schema: None, bytes, sha256 });
    }
    Ok(files)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    private_fs::write_private_file(path, bytes)
        .map_err(|e| Error::writing("Writing the manifest", path, e))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| Error::Io {
        action: "Moving the finished backup into place",
        path: to.to_owned(),
        source,
    })
}

/// Makes the renames durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Turns pg_dump's verbose lines into "table n of m" progress.
struct TableCounter<'a> {
    inner: &'a dyn ProgressSink,
    total: u64,
    done: std::sync::atomic::AtomicU64,
}

impl<'a> TableCounter<'a> {
    fn new(inner: &'a dyn ProgressSink, total: u64) -> Self {
        TableCounter { inner, total, done: std::sync::atomic::AtomicU64::new(0) }
    }
}

impl ProgressSink for TableCounter<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event
            && let Some(table) = line.split("dumping contents of table ").nth(1)
        {
            let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            self.inner.emit(ProgressEvent::Step {
                done,
                total: self.total,
                current: table.trim_matches('"').to_owned(),
            });
        }
        self.inner.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_arguments_quote_names_literally() {
        let scope = BackupScope {
            schemas: vec!["Sales \"EU\"".into()],
            exclude_tables: vec!["public.log*".into()],
            tables: vec!["orders".into()],
            data_only: true,
            ..Default::default()
        };
        assert_eq!(
            scope_args(&scope, None),
            [
                "--schema=\"Sales \"\"EU\"\"\"",
                "--table=\"public\".\"orders\"",
                "--exclude-table=\"public\".\"log*\"",
                "--data-only"
            ]
        );
        assert_eq!(scope_args(&BackupScope::default(), Some("s1")), ["--schema=\"s1\""]);
        // Extensions are named only where pg_dump would otherwise leave them all out.
        let with_hstore = BackupScope { extensions: vec!["hstore".into()], ..Default::default() };
        assert!(scope_args(&with_hstore, None).is_empty());
        let one_schema = BackupScope { schemas: vec!["s1".into()], ..with_hstore };
        assert_eq!(scope_args(&one_schema, None), ["--schema=\"s1\"", "--extension=\"hstore\""]);
    }

    #[test]
    fn the_names_of_a_backups_files_share_its_stem() {
        let names = names_for("shop-2026-11-21-134501", BackupFormat::Custom, Some("Sales/EU"));
        assert_eq!(names.main, "shop-2026-11-21-134501.backup");
        let per_schema = names.per_schema.unwrap();
        assert!(
            per_schema.starts_with("shop-2026-11-21-134501.Sales_EU~")
                && per_schema.ends_with(".backup")
        );
        assert_eq!(names.globals, "shop-2026-11-21-134501.globals.sql");
        assert_eq!(names.manifest, "shop-2026-11-21-134501.lifeboat.json");
        assert_eq!(names_for("s", BackupFormat::Directory, None).main, "s");
        let preview = preview_names("My DB", BackupFormat::Plain, None);
        assert!(
            preview.main.starts_with("My DB~") && preview.main.ends_with(".sql"),
            "{}",
            preview.main
        );
    }
}
