//! Everything known about the backup before a plan is made: its file and checksums, its format,
//! one full read of it (the integrity check) and what that read learned.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::ProgressSink;
use crate::base::tools::BundledMajor;
use crate::format::archive::{self, ArchiveVersion, FoundManifest};
use crate::format::globals::SavedRoles;
use crate::format::manifest::{BackupFormat, DependentLeftOut, TableRows};
use crate::format::read;
use crate::format::remote;
use crate::format::source::resolve_source;
use crate::format::sqltext::DumpFacts;
use crate::storage::context::Ctx;

use super::RestoreRequest;

/// The backup file, checked against its manifest and recognised, before any server is asked.
pub(super) struct SourceFile {
    pub path: PathBuf,
    pub manifest: Option<FoundManifest>,
    pub verified: usize,
    pub format: BackupFormat,
    pub archive_version: Option<ArchiveVersion>,
}

/// What the manifest next to the backup says, as far as a plan needs it.
#[derive(Debug, Clone, Default)]
pub(super) struct ManifestFacts {
    pub path: PathBuf,
    pub encoding: String,
    pub collate: String,
    pub database_bytes: Option<u64>,
    /// Objects the backup leaves out at every restore (they need what its scope left out).
    pub left_out: Vec<DependentLeftOut>,
}

/// Everything known about the backup.
#[derive(Debug, Clone)]
pub(super) struct SourceFacts {
    pub path: PathBuf,
    pub format: BackupFormat,
    pub archive_version: Option<ArchiveVersion>,
    pub manifest: Option<ManifestFacts>,
    /// Files whose sha256 matched the manifest.
    pub verified: usize,
    /// The pg_restore that reads the archive (absent for plain SQL).
    pub reader: Option<BundledMajor>,
    /// What the full read found, every entry (before any selection).
    pub dump: DumpFacts,
    /// `pg_restore --list` of an archive.
    pub list: Option<String>,
    pub source_database: Option<String>,
    pub dumped_from: Option<String>,
    pub dumped_by: Option<String>,
    /// The roles saved with the backup, read when the target lacks a role the dump names.
    pub saved_roles: Option<SavedRoles>,
}

/// Finds the backup (downloading an http(s):// source first), checks every file's sha256
/// against its manifest and recognises its format by content. A damaged header is therefore
/// reported as the checksum mismatch it is, not as "not a backup".
pub(super) async fn open(
    ctx: &Ctx,
    request: &RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<SourceFile> {
    let local = remote::localize(ctx, &request.source, request.allow_http, sink, cancel).await?;
    let path = resolve_source(&local, &request.selection.schemas)?;
    let manifest = archive::find_manifest(&path)?;
    let verified = match &manifest {
        Some(found) if request.checksums_verified => found.files.len(),
        Some(found) => archive::verify(found).await?,
        None => 0,
    };
    let detected = archive::detect(&path)?;
    Ok(SourceFile {
        path,
        manifest,
        verified,
        format: detected.format,
        archive_version: detected.archive_version,
    })
}

/// Reads the whole backup once with `reader` (the integrity check), and what describes it. The
/// saved roles are read later, by [`read_saved_roles`], only when the chosen part needs them.
/// With `definitions_only` (a folder for a list file) only the archive's definitions are read:
/// the restore reads the data (`reads_once` in the restore module).
pub(super) async fn read(
    file: SourceFile,
    reader: Option<BundledMajor>,
    definitions_only: Option<&Path>,
    cancel: &CancellationToken,
) -> Result<SourceFacts> {
    let (mut dump, list) = match (definitions_only, &reader) {
        (Some(scratch), _) => {
            read::definitions_read(&file.path, reader.as_ref(), scratch, cancel).await?
        }
        // The table of contents is read beside the whole: both read the same file, and the
        // whole read's error, about a damaged archive, is the one reported.
        (None, Some(reader)) => {
            let (dump, list) = tokio::join!(
                read::full_read(&file.path, Some(reader), cancel),
                read::list(reader, &file.path, cancel)
            );
            (dump?, Some(list?))
        }
        (None, None) => (read::full_read(&file.path, None, cancel).await?, None),
    };
    if let Some(found) = &file.manifest {
        add_roles_in_data(&mut dump, &found.manifest.tables);
    }
    let from_list = |key: &str| list.as_deref().and_then(|l| list_header(l, key));
    let source_database = file
        .manifest
        .as_ref()
        .map(|m| m.manifest.database.clone())
        .or_else(|| from_list("dbname:"))
        .or_else(|| read::database_from_file_name(&file.path));
    let dumped_from =
        dump.dumped_from.clone().or_else(|| from_list("Dumped from database version:"));
    let dumped_by = dump.dumped_by.clone().or_else(|| from_list("Dumped by pg_dump version:"));
    Ok(SourceFacts {
        manifest: file.manifest.as_ref().map(|found| ManifestFacts {
            path: found.path.clone(),
            encoding: found.manifest.encoding.clone(),
            collate: found.manifest.collate.clone(),
            database_bytes: found.manifest.database_bytes,
            left_out: left_out_of_file(found),
        }),
        path: file.path,
        format: file.format,
        archive_version: file.archive_version,
        verified: file.verified,
        reader,
        dump,
        list,
        source_database,
        dumped_from,
        dumped_by,
        saved_roles: None,
    })
}

/// What the backup leaves out of the file restored: all it names, but of a backup of one file
/// per schema only what it names for that file.
fn left_out_of_file(found: &FoundManifest) -> Vec<DependentLeftOut> {
    let file_schemas: Vec<&str> = found.files.iter().filter_map(|f| f.schema.as_deref()).collect();
    let of_this_file =
        |l: &&DependentLeftOut| l.file_schema.as_deref().is_none_or(|s| file_schemas.contains(&s));
    found.manifest.left_out.iter().filter(of_this_file).cloned().collect()
}

/// The roles a table's rows name (its `regrole` values, from the manifest) belong to the
/// entry of its data: its `COPY` fails where one of them is missing, so the plan treats them
/// like the grantees of a `GRANT`.
fn add_roles_in_data(dump: &mut DumpFacts, tables: &[TableRows]) {
    for table in tables.iter().filter(|t| !t.roles_in_data.is_empty()) {
        let data = dump.entries.iter_mut().filter(|e| {
            e.kind == "TABLE DATA"
                && e.name == table.table
                && e.schema.as_deref() == Some(table.schema.as_str())
        });
        for entry in data {
            entry.roles.extend(table.roles_in_data.iter().cloned());
        }
    }
}

/// The roles saved with the backup (checksum checked), when `needed`: the chosen part of the
/// backup names a role the target lacks. A damaged roles file stops only such a restore.
pub(super) fn read_saved_roles(
    found: Option<&FoundManifest>,
    needed: bool,
) -> Result<Option<SavedRoles>> {
    match found {
        Some(found) if needed => archive::saved_roles(found),
        _ => Ok(None),
    }
}

/// The pg_restore that reads an archive of `version`: the target's own when it can, else the
/// oldest newer bundled one that can (its output needs the fewest settings left out).
pub(super) fn choose_reader<'a>(
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

/// A value from the header of `pg_restore --list`, e.g. `;     dbname: shop`.
fn list_header(list: &str, key: &str) -> Option<String> {
    list.lines()
        .take_while(|l| l.starts_with(';'))
        .find_map(|l| {
            l.trim_start_matches(';').trim().strip_prefix(key).map(|v| v.trim().to_owned())
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_header_gives_values() {
        let list = ";\n; Archive created at x\n;     dbname: shop\n;\n\
                    6; 2615 16385 SCHEMA - sales postgres\n";
        assert_eq!(list_header(list, "dbname:").as_deref(), Some("shop"));
        assert_eq!(list_header(list, "Nope:"), None);
    }
}
