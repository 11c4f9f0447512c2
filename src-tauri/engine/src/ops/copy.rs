//! The second copy ("keep a copy on another disk"): a finished backup's files, its manifest and
//! its certificates copied into another folder (a USB disk, a network share), every copied file
//! read back and checked against the manifest's sha256, and the copy recorded in the catalog.
//!
//! A destination that is not there (an unplugged disk, an unmounted share) is recorded as
//! `missing` and returned as an outcome, not an error: it is a reminder, and must never make a
//! backup fail. The folder is never created, since a missing mount point would otherwise
//! receive the copy on the computer's own disk. A copy that fails or is found damaged is
//! recorded as `failed` and returned as an error.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::format::archive::read_manifest;
use crate::format::manifest::{MANIFEST_SUFFIX, ManifestFile};
use crate::storage::catalog::{self, BackupRecord, CopyStatus};
use crate::storage::context::Ctx;
use crate::util::checksum::Sha256Hex;
use crate::util::private_fs;

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CopyRequest {
    /// The backup's number in the catalog.
    pub backup_id: i64,
    /// The folder the copy goes into; it must exist.
    pub destination: String,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VerifyCopy {
    pub backup_id: i64,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CopyOutcome {
    pub backup_id: i64,
    pub status: CopyStatus,
    /// The copy's manifest; for a missing destination, the folder that was not there.
    pub copy_path: String,
    /// Files copied or checked (the dump files, the manifest, the certificates).
    pub files: u32,
    pub bytes: u64,
    /// What happened, in plain words.
    pub message: String,
}

/// A backup's files on disk, as its manifest lists them.
#[derive(Debug, Clone)]
pub(crate) struct BackupFiles {
    /// The folder the manifest and its file names are in.
    pub folder: PathBuf,
    pub manifest_path: PathBuf,
    /// The dump files (every file of a directory backup) and the globals, with their sha256.
    pub files: Vec<ManifestFile>,
    /// Names (in `folder`) of the drill certificates `<stem>.drill-*.html` / `.json`.
    pub certificates: Vec<String>,
    /// Folders the files are in (a directory backup's folder), deepest first.
    pub folders: Vec<String>,
}

impl BackupFiles {
    pub fn path_of(&self, name: &str) -> PathBuf {
        join_relative(&self.folder, name)
    }
}

/// Reads the manifest at `manifest_path` and lists the backup's files. A file name that points
/// outside the manifest's folder is refused (`manifest_invalid`).
pub(crate) fn backup_files(manifest_path: &Path) -> Result<BackupFiles> {
    let manifest = read_manifest(manifest_path)?;
    let folder = manifest_path.parent().map(Path::to_path_buf).unwrap_or_default();
    for file in &manifest.files {
        if !is_plain_relative(&file.name) {
            return Err(Error::ManifestInvalid {
                path: manifest_path.to_owned(),
                detail: format!("the file name {} points outside the backup's folder", file.name),
            });
        }
    }
    let mut folders: Vec<String> = Vec::new();
    for file in &manifest.files {
        let mut parts: Vec<&str> = file.name.split('/').collect();
        parts.pop();
        while !parts.is_empty() {
            let folder = parts.join("/");
            if !folders.contains(&folder) {
                folders.push(folder);
            }
            parts.pop();
        }
    }
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    let certificates = certificates_of(&folder, manifest_path);
    Ok(BackupFiles {
        folder,
        manifest_path: manifest_path.to_owned(),
        files: manifest.files,
        certificates,
        folders,
    })
}

/// The drill certificates next to a manifest: `<stem>.drill-<when>.html` and `.json`.
pub(crate) fn certificates_of(folder: &Path, manifest_path: &Path) -> Vec<String> {
    let Some(stem) = manifest_path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(MANIFEST_SUFFIX))
    else {
        return Vec::new();
    };
    let prefix = format!("{stem}.drill-");
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.starts_with(&prefix) && (n.ends_with(".html") || n.ends_with(".json")))
        .collect();
    names.sort();
    names
}

/// A `/`-separated name without `..`, a root or a drive.
fn is_plain_relative(name: &str) -> bool {
    !name.is_empty()
        && Path::new(name).components().all(|c| matches!(c, Component::Normal(_)))
        && !name.split('/').any(|part| part.is_empty() || part == "..")
}

fn join_relative(folder: &Path, name: &str) -> PathBuf {
    name.split('/').fold(folder.to_owned(), |path, part| path.join(part))
}

/// Copies backup `backup_id` into `destination` and checks the copy. Progress goes to `sink`
/// (bytes copied of the total); `cancel` stops it and removes the partial files.
pub async fn copy_backup(
    ctx: &Ctx,
    request: CopyRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<CopyOutcome> {
    let subject = format!("backup {}", request.backup_id);
    let work = copy_backup_inner(ctx, request, sink, cancel);
    crate::base::logging::logged("copy_backup", &subject, work).await
}

/// [`copy_backup`] without its lines in the log.
async fn copy_backup_inner(
    ctx: &Ctx,
    request: CopyRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<CopyOutcome> {
    let record = catalog::backup_by_id(ctx, request.backup_id)?;
    let source = source_files(&record)?;
    let destination = PathBuf::from(request.destination.trim());
    if destination.as_os_str().is_empty() {
        return Err(Error::InvalidInput {
            field: "copy destination",
            problem: "choose a folder on another disk for the copy".into(),
        });
    }
    if !destination.is_dir() {
        return missing(ctx, &record, &destination, sink);
    }
    if same_folder(&destination, &source.folder) {
        return Err(Error::InvalidInput {
            field: "copy destination",
            problem: format!(
                "{} is the backup's own folder; a second copy belongs on another disk",
                destination.display()
            ),
        });
    }
    let result = write_copy(&source, &destination, sink, cancel).await;
    match result {
        Ok((files, bytes)) => {
            let copy_manifest = join_relative(&destination, &file_name(&source.manifest_path));
            let copy_path = copy_manifest.display().to_string();
            catalog::record_copy(ctx, record.id, CopyStatus::Copied, Some(&copy_path), None)?;
            Ok(CopyOutcome {
                backup_id: record.id,
                status: CopyStatus::Copied,
                message: format!(
                    "Copied {files} file(s) to {} and checked every one against the manifest.",
                    destination.display()
                ),
                copy_path,
                files,
                bytes,
            })
        }
        Err(error) => {
            let path = destination.display().to_string();
            let message = error.to_string();
            // The catalog must say the copy failed even when it is the store that failed.
            let _ = catalog::record_copy(
                ctx,
                record.id,
                CopyStatus::Failed,
                Some(&path),
                Some(&message),
            );
            Err(error)
        }
    }
}

/// Reads the second copy of backup `backup_id` again and checks every file against the
/// backup's manifest (the original's, while it exists; else the copy's own). A damaged or
/// incomplete copy is recorded as `failed` and returned as an error (`copy_damaged`,
/// `backup_file_missing`); a copy whose disk is not there is recorded as `missing`.
pub async fn verify_copy(ctx: &Ctx, request: VerifyCopy) -> Result<CopyOutcome> {
    let record = catalog::backup_by_id(ctx, request.backup_id)?;
    let Some(copy_path) = record.copy_path.clone() else {
        return Err(Error::InvalidInput {
            field: "backup",
            problem: format!("backup {} has no second copy yet", record.id),
        });
    };
    let copy_manifest = PathBuf::from(&copy_path);
    let copy_folder = copy_manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    if !copy_folder.is_dir() {
        return missing(ctx, &record, &copy_folder, &crate::base::progress::NullSink);
    }
    let result = check_copy(&record, &copy_manifest, &copy_folder).await;
    match result {
        Ok((files, bytes)) => {
            catalog::record_copy(ctx, record.id, CopyStatus::Copied, Some(&copy_path), None)?;
            Ok(CopyOutcome {
                backup_id: record.id,
                status: CopyStatus::Copied,
                copy_path,
                files,
                bytes,
                message: format!("The copy's {files} file(s) match the manifest."),
            })
        }
        Err(error) => {
            let message = error.to_string();
            let _ = catalog::record_copy(
                ctx,
                record.id,
                CopyStatus::Failed,
                Some(&copy_path),
                Some(&message),
            );
            Err(error)
        }
    }
}

/// The checks of [`verify_copy`]: each file of the copy hashed and compared.
async fn check_copy(
    record: &BackupRecord,
    copy_manifest: &Path,
    copy_folder: &Path,
) -> Result<(u32, u64)> {
    if !copy_manifest.is_file() {
        return Err(Error::BackupFileMissing {
            file: copy_manifest.to_owned(),
            manifest: copy_manifest.to_owned(),
        });
    }
    let original = record.manifest_path.as_deref().map(PathBuf::from).filter(|p| p.is_file());
    let expected = backup_files(original.as_deref().unwrap_or(copy_manifest))?;
    let mut bytes = 0;
    for file in &expected.files {
        let path = join_relative(copy_folder, &file.name);
        if !path.is_file() {
            return Err(Error::BackupFileMissing {
                file: path,
                manifest: copy_manifest.to_owned(),
            });
        }
        let (read, actual) = hash_file(&path).await?;
        if actual != file.sha256 {
            return Err(Error::CopyDamaged { file: path, expected: file.sha256.clone(), actual });
        }
        bytes += read;
    }
    Ok((expected.files.len() as u32 + 1, bytes))
}

/// The finished, not deleted backup's files, each there.
fn source_files(record: &BackupRecord) -> Result<BackupFiles> {
    let not_copyable = |why: &str| Error::InvalidInput {
        field: "backup",
        problem: format!("backup {} {why}, so there is nothing to copy", record.id),
    };
    if record.deleted_at.is_some() {
        return Err(not_copyable("was deleted by retention"));
    }
    let Some(manifest) = record.manifest_path.as_deref().filter(|_| record.is_kept()) else {
        return Err(not_copyable("did not finish"));
    };
    let files = backup_files(Path::new(manifest))?;
    for file in &files.files {
        let path = files.path_of(&file.name);
        if !path.is_file() {
            return Err(Error::BackupFileMissing { file: path, manifest: PathBuf::from(manifest) });
        }
    }
    Ok(files)
}

/// Records a destination that is not there and says so: a reminder, not an error.
fn missing(
    ctx: &Ctx,
    record: &BackupRecord,
    destination: &Path,
    sink: &dyn ProgressSink,
) -> Result<CopyOutcome> {
    let path = destination.display().to_string();
    let message = format!(
        "The copy's folder {path} is not there (is the disk plugged in, the share mounted?). The \
         backup itself is fine; copy it once the folder is back (create the folder first if it \
         is new)."
    );
    catalog::record_copy(ctx, record.id, CopyStatus::Missing, Some(&path), Some(&message))?;
    sink.emit(ProgressEvent::Warning { message: message.clone() });
    Ok(CopyOutcome {
        backup_id: record.id,
        status: CopyStatus::Missing,
        copy_path: path,
        files: 0,
        bytes: 0,
        message,
    })
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Partial files of a copy under way, removed unless the copy completes.
#[derive(Default)]
struct Partials(Vec<PathBuf>);

impl Drop for Partials {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Copies every file (dumps checked against the manifest as they are read), then the
/// certificates and the manifest last, then reads each copied dump back. Returns the number
/// of files and bytes copied.
async fn write_copy(
    source: &BackupFiles,
    destination: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(u32, u64)> {
    let total: u64 = source.files.iter().map(|f| f.bytes).sum();
    let mut progress = Progress { sink, done: 0, total };
    let mut partials = Partials::default();
    let mut placed = Vec::new();
    for file in &source.files {
        let from = source.path_of(&file.name);
        let to = join_relative(destination, &file.name);
        if let Some(parent) = to.parent() {
            create_private_dir(parent)?;
        }
        let sha = copy_file(&from, &to, &mut partials, &mut progress, cancel).await?;
        if sha != file.sha256 {
            // The original no longer matches its manifest: nothing to copy from.
            return Err(Error::ChecksumMismatch {
                file: from,
                expected: file.sha256.clone(),
                actual: sha,
            });
        }
        placed.push(to);
    }
    let extras = source.certificates.iter().cloned().chain([file_name(&source.manifest_path)]);
    for name in extras {
        let to = join_relative(destination, &name);
        copy_file(&source.folder.join(&name), &to, &mut partials, &mut progress, cancel).await?;
    }
    // Read back what landed on the other disk: the copy is only as good as what is there now.
    for (file, path) in source.files.iter().zip(&placed) {
        let (_, actual) = hash_file(path).await?;
        if actual != file.sha256 {
            return Err(Error::CopyDamaged {
                file: path.clone(),
                expected: file.sha256.clone(),
                actual,
            });
        }
    }
    partials.0.clear();
    Ok(((source.files.len() + source.certificates.len() + 1) as u32, total))
}

struct Progress<'a> {
    sink: &'a dyn ProgressSink,
    done: u64,
    total: u64,
}

/// Copies `from` to `to` through a hidden partial name, fsynced, owner-only; returns the sha256
/// of what was read.
async fn copy_file(
    from: &Path,
    to: &Path,
    partials: &mut Partials,
    progress: &mut Progress<'_>,
    cancel: &CancellationToken,
) -> Result<String> {
    let partial = to.with_file_name(format!(".{}.partial", file_name(to)));
    let reading =
        |source| Error::Io { action: "Reading the backup", path: from.to_owned(), source };
    let writing = |source| Error::writing("Writing the copy", &partial, source);
    let mut input = tokio::fs::File::open(from).await.map_err(reading)?;
    // The second disk may be shared: a link or file another user put at the partial name is
    // removed, never written through, and the partial created new and owner-only.
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(writing(e)),
        _ => {}
    }
    let mut output =
        tokio::fs::File::from_std(private_fs::create_private_file(&partial).map_err(writing)?);
    partials.0.push(partial.clone());
    let mut hash = Sha256Hex::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let n = input.read(&mut buffer).await.map_err(reading)?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        output.write_all(&buffer[..n]).await.map_err(writing)?;
        progress.done += n as u64;
        progress.sink.emit(ProgressEvent::Step {
            done: progress.done,
            total: progress.total.max(progress.done),
            current: file_name(from),
        });
    }
    output.flush().await.map_err(writing)?;
    output.sync_all().await.map_err(writing)?;
    drop(output);
    tokio::fs::rename(&partial, to).await.map_err(|source| Error::Io {
        action: "Putting the copy in place",
        path: to.to_owned(),
        source,
    })?;
    partials.0.retain(|p| *p != partial);
    Ok(hash.finish())
}

async fn hash_file(path: &Path) -> Result<(u64, String)> {
    let io = |source| Error::Io { action: "Reading the copy", path: path.to_owned(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut hash = Sha256Hex::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).await.map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
    }
    Ok((hash.bytes(), hash.finish()))
}

/// Creates `folder` (and its parents) readable by the owner only, when missing.
fn create_private_dir(folder: &Path) -> Result<()> {
    if folder.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder).map_err(|source| Error::Io {
        action: "Creating a folder of the copy",
        path: folder.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_folder_are_not_plain() {
        assert!(is_plain_relative("shop-2025-01-01-000000/toc.dat"));
        assert!(is_plain_relative("shop.backup"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a//b"] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }
}
