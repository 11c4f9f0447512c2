//! Verify: the integrity check of a backup, without any server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::ProgressSink;
use crate::format::manifest::BackupFormat;
use crate::format::source::resolve_source;
use crate::format::sqltext::DumpFacts;
use crate::format::{archive, read, remote};
use crate::storage::context::Ctx;

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
    /// Entries read per kind ("TABLE", "TABLE DATA" …).
    pub entry_counts: BTreeMap<String, u64>,
    /// Bytes of SQL the backup turns into.
    pub sql_bytes: u64,
    pub source_database: Option<String>,
    pub dumped_by: Option<String>,
    pub duration_ms: u64,
    /// The roles the entries name (owners, grantees, policy and user mapping roles), for the
    /// drill's stand-ins on the practice server, so that it need not read the backup again.
    #[serde(skip)]
    #[specta(skip)]
    pub roles: BTreeSet<String>,
    /// Whether every entry's data was read ([`ReadDepth::Full`]); else only the definitions,
    /// and the caller's restore reads the data.
    #[serde(skip)]
    #[specta(skip)]
    pub data_read: bool,
}

/// How much of an archive [`verify_with`] decompresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDepth {
    /// Everything, data included: the integrity check `lifeboat verify` runs.
    Full,
    /// For a caller that restores the backup next and so reads every entry's data anyway (a
    /// drill): when a manifest's sha256 covers the backup, the files are hashed while only the
    /// definitions are read ([`read::definitions_read`]); the bytes are then exactly those
    /// pg_dump wrote, and the restore proves them readable. Without a manifest there is no
    /// checksum, so the full read runs as with [`ReadDepth::Full`].
    DataReadByRestore,
}

/// The integrity check of a backup, without any server: every file's sha256 against the manifest
/// (when there is one), then a full read — `pg_restore` writing the whole archive as SQL that is
/// thrown away (`--list` alone does not notice a truncated archive), or a plain SQL file read to
/// pg_dump's closing line. Of a one-file-per-schema backup's manifest, `schema` picks the file.
/// A plain `http://` source is downloaded only with `allow_http` (the user's explicit choice).
pub async fn verify(
    ctx: &Ctx,
    source: &str,
    schema: Option<&str>,
    allow_http: bool,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Verified> {
    let work = verify_inner(ctx, source, schema, allow_http, sink, cancel);
    crate::base::logging::logged("verify", source, work).await
}

/// [`verify`] without its lines in the log.
async fn verify_inner(
    ctx: &Ctx,
    source: &str,
    schema: Option<&str>,
    allow_http: bool,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Verified> {
    verify_with(ctx, source, schema, allow_http, ReadDepth::Full, sink, cancel).await
}

/// [`verify`], reading as deep as `depth` says.
pub async fn verify_with(
    ctx: &Ctx,
    source: &str,
    schema: Option<&str>,
    allow_http: bool,
    depth: ReadDepth,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Verified> {
    let started = Instant::now();
    let local = remote::localize(ctx, source, allow_http, sink, cancel).await?;
    let schemas: Vec<String> = schema.map(str::to_owned).into_iter().collect();
    let source = resolve_source(&local, &schemas)?;
    let manifest = archive::find_manifest(&source)?;
    let (verified, read) = match &manifest {
        Some(found) if depth == ReadDepth::DataReadByRestore => {
            // Both read the file; the page cache serves the second, and the hash (its own
            // thread) and pg_restore (its own process) share the cores. A mismatch is what
            // is reported even when the read failed too: it says more.
            let (hashed, read) =
                tokio::join!(archive::verify(found), read_archive(ctx, &source, false, cancel));
            (hashed?, read)
        }
        Some(found) => {
            (archive::verify(found).await?, read_archive(ctx, &source, true, cancel).await)
        }
        None => (0, read_archive(ctx, &source, true, cancel).await),
    };
    let (detected, facts, data_read) = read?;
    if detected.format == BackupFormat::Plain && !facts.complete {
        return Err(Error::ArchiveDamaged {
            path: source.clone(),
            detail: "the SQL file does not end with pg_dump's \"dump complete\" line: it was cut \
                     short or edited"
                .into(),
        });
    }
    let roles = facts.roles();
    Ok(Verified {
        source: source.display().to_string(),
        format: detected.format,
        archive_version: detected.archive_version.map(|v| v.to_string()),
        manifest: manifest.as_ref().map(|m| m.path.display().to_string()),
        verified_files: verified as u32,
        entries: facts.entries.len() as u64,
        entry_counts: facts.counts(),
        sql_bytes: facts.sql_bytes,
        source_database: manifest
            .as_ref()
            .map(|m| m.manifest.database.clone())
            .or_else(|| read::database_from_file_name(&source)),
        dumped_by: facts.dumped_by,
        duration_ms: started.elapsed().as_millis() as u64,
        roles,
        data_read,
    })
}

/// Recognises the backup and reads it: whole (`full`), or an archive's definitions only.
/// Returns whether the data was read.
async fn read_archive(
    ctx: &Ctx,
    source: &Path,
    full: bool,
    cancel: &CancellationToken,
) -> Result<(archive::Detected, DumpFacts, bool)> {
    let detected = archive::detect(source)?;
    // The newest bundled pg_restore reads every archive version the others do; one it cannot
    // read was made by a newer pg_dump, which says nothing about the backup's health.
    let newest = ctx.tools.newest();
    if let Some(version) = detected.archive_version
        && !archive::pg_restore_reads(newest.major, version)
    {
        return Err(Error::ArchiveTooNew {
            path: source.to_owned(),
            version: version.to_string(),
            newest_bundled: newest.major,
        });
    }
    let reader = detected.archive_version.map(|_| newest.clone());
    if full || reader.is_none() {
        let facts = read::full_read(source, reader.as_ref(), cancel).await?;
        return Ok((detected, facts, true));
    }
    let scratch = ctx.data_dir.path().join("tmp");
    let (facts, _) = read::definitions_read(source, reader.as_ref(), &scratch, cancel).await?;
    Ok((detected, facts, false))
}
