//! The backup catalog in the store: every backup with its status, files and test result. The
//! desktop app and scheduled CLI runs read and write the same rows.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
use crate::storage::jobs::RunningJob;
use crate::storage::profiles::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    Running,
    Finished,
    Failed,
    Cancelled,
}

impl BackupStatus {
    fn parse(text: &str) -> BackupStatus {
        match text {
            "finished" => BackupStatus::Finished,
            "failed" => BackupStatus::Failed,
            "cancelled" => BackupStatus::Cancelled,
            _ => BackupStatus::Running,
        }
    }
}

/// Where a backup's second copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CopyStatus {
    /// Copied, and every file's sha256 matched the manifest.
    Copied,
    /// The copy failed or was found damaged (`copy_error` says why).
    Failed,
    /// The destination folder was not there (an unplugged disk, an unmounted share).
    Missing,
}

impl CopyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyStatus::Copied => "copied",
            CopyStatus::Failed => "failed",
            CopyStatus::Missing => "missing",
        }
    }

    fn parse(text: &str) -> Option<CopyStatus> {
        [CopyStatus::Copied, CopyStatus::Failed, CopyStatus::Missing]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    pub id: i64,
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub format: String,
    pub status: BackupStatus,
    pub started_at: String,
    pub duration_ms: Option<i64>,
    pub manifest_path: Option<String>,
    pub size_bytes: Option<i64>,
    /// sha256 of the main file (the first dump file).
    pub sha256: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// "untested", "tested-ok" or "tested-failed".
    pub test_status: String,
    /// When it was last tested.
    pub tested_at: Option<String>,
    /// When retention deleted its files; the row stays as history.
    #[specta(optional)]
    pub deleted_at: Option<String>,
    /// Who deleted its files: "retention" or "user" (absent when not deleted, or deleted
    /// before this was recorded).
    #[specta(optional)]
    pub deleted_by: Option<String>,
    /// The second copy's manifest (or, while it is missing, the folder it should go to).
    #[specta(optional)]
    pub copy_path: Option<String>,
    #[specta(optional)]
    pub copy_status: Option<CopyStatus>,
    /// Why the second copy failed or is missing.
    #[specta(optional)]
    pub copy_error: Option<String>,
}

impl BackupRecord {
    /// The backup's files are (or should be) on disk: it finished and was not deleted.
    pub fn is_kept(&self) -> bool {
        self.status == BackupStatus::Finished && self.deleted_at.is_none()
    }
}

const RECORD_COLUMNS: &str = "id, profile_name, host, port, database, format, status, started_at, \
     duration_ms, manifest_path, size_bytes, sha256, error_code, error_message, test_status, \
     tested_at, deleted_at, copy_path, copy_status, copy_error, deleted_by";

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BackupRecord> {
    Ok(BackupRecord {
        id: r.get(0)?,
        profile: r.get(1)?,
        host: r.get(2)?,
        port: r.get(3)?,
        database: r.get(4)?,
        format: r.get(5)?,
        status: BackupStatus::parse(&r.get::<_, String>(6)?),
        started_at: r.get(7)?,
        duration_ms: r.get(8)?,
        manifest_path: r.get(9)?,
        size_bytes: r.get(10)?,
        sha256: r.get(11)?,
        error_code: r.get(12)?,
        error_message: r.get(13)?,
        test_status: r.get(14)?,
        tested_at: r.get(15)?,
        deleted_at: r.get(16)?,
        copy_path: r.get(17)?,
        copy_status: r.get::<_, Option<String>>(18)?.as_deref().and_then(CopyStatus::parse),
        copy_error: r.get(19)?,
        deleted_by: r.get(20)?,
    })
}

pub(crate) fn start_backup(
    ctx: &Ctx,
    profile: &Profile,
    database: &str,
    format: &str,
    started_at: &str,
    job: &RunningJob,
) -> Result<i64> {
    let s = &profile.settings;
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO backups (profile_name, host, port, database, format, status, started_at, \
         job_id) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7)",
        params![s.name, s.host, s.port, database, format, started_at, job.id()],
    )
    .map_err(|e| ctx.store.error(e))?;
    Ok(conn.last_insert_rowid())
}

/// What the catalog keeps of a finished backup.
pub(crate) struct FinishedBackup<'a> {
    pub duration_ms: u64,
    pub manifest_path: &'a str,
    pub size_bytes: u64,
    /// sha256 of the main file (the first dump file).
    pub sha256: Option<&'a str>,
}

pub(crate) fn finish_backup(ctx: &Ctx, id: i64, outcome: &FinishedBackup) -> Result<()> {
    let sha = outcome.sha256;
    ctx.store
        .conn()
        .execute(
            "UPDATE backups SET status = 'finished', duration_ms = ?2, manifest_path = ?3, \
             size_bytes = ?4, sha256 = ?5 WHERE id = ?1",
            params![
                id,
                outcome.duration_ms as i64,
                outcome.manifest_path,
                outcome.size_bytes as i64,
                sha
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

pub(crate) fn fail_backup(ctx: &Ctx, id: i64, error: &Error, duration_ms: u64) -> Result<()> {
    let status = if matches!(error, Error::Cancelled) { "cancelled" } else { "failed" };
    let code = serde_json::to_value(error.code()).ok().and_then(|v| v.as_str().map(str::to_owned));
    ctx.store
        .conn()
        .execute(
            "UPDATE backups SET status = ?2, duration_ms = ?3, error_code = ?4, error_message = ?5 WHERE id = ?1",
            params![id, status, duration_ms as i64, code, error.to_string()],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ListBackups {
    /// Only backups of this database (any server).
    pub database: Option<String>,
    pub limit: Option<u32>,
}

/// The catalog, newest first, without the backups retention deleted.
pub async fn list_backups(ctx: &Ctx, input: ListBackups) -> Result<Vec<BackupRecord>> {
    query_catalog(
        ctx,
        &CatalogQuery { database: input.database, limit: input.limit, ..Default::default() },
    )
}

/// Which rows of the catalog to show (the command line's `lifeboat backups`).
#[derive(Debug, Clone, Default)]
pub struct CatalogQuery {
    /// Only backups of this database (any server).
    pub database: Option<String>,
    /// Only backups made with this profile (its name, any case).
    pub profile: Option<String>,
    /// At most this many (default 1000).
    pub limit: Option<u32>,
    /// Also the backups retention deleted (their rows are kept as history).
    pub include_deleted: bool,
}

/// The catalog rows `query` asks for, newest first.
pub fn query_catalog(ctx: &Ctx, input: &CatalogQuery) -> Result<Vec<BackupRecord>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM backups \
             WHERE (?1 IS NULL OR database = ?1) AND (?3 IS NULL OR profile_name = ?3 COLLATE NOCASE) \
             AND (?4 OR deleted_at IS NULL) ORDER BY id DESC LIMIT ?2"
        ))
        .map_err(|e| ctx.store.error(e))?;
    let limit = i64::from(input.limit.unwrap_or(1000));
    let rows = statement
        .query_map(
            params![input.database, limit, input.profile, input.include_deleted],
            record_from_row,
        )
        .map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// One backup of the catalog, deleted or not.
pub fn backup_by_id(ctx: &Ctx, id: i64) -> Result<BackupRecord> {
    let conn = ctx.store.conn();
    conn.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM backups WHERE id = ?1"),
        [id],
        record_from_row,
    )
    .optional()
    .map_err(|e| ctx.store.error(e))?
    .ok_or(Error::BackupNotInCatalog { id })
}

/// Every backup of one database on one server that was not deleted, newest first (by start
/// time, then number).
pub fn backups_of(ctx: &Ctx, host: &str, port: u16, database: &str) -> Result<Vec<BackupRecord>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM backups WHERE host = ?1 AND port = ?2 AND database = ?3 \
             AND deleted_at IS NULL ORDER BY started_at DESC, id DESC"
        ))
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map(params![host, port, database], record_from_row)
        .map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// Who deletes a backup's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeletedBy {
    Retention,
    User,
}

/// Marks a backup deleted (its files are gone); the row stays as history.
pub(crate) fn mark_deleted(ctx: &Ctx, id: i64, at: &str, by: DeletedBy) -> Result<()> {
    let by = match by {
        DeletedBy::Retention => "retention",
        DeletedBy::User => "user",
    };
    ctx.store
        .conn()
        .execute(
            "UPDATE backups SET deleted_at = ?2, deleted_by = ?3 WHERE id = ?1",
            params![id, at, by],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// Records where a backup's second copy is, or why it is not there.
pub(crate) fn record_copy(
    ctx: &Ctx,
    id: i64,
    status: CopyStatus,
    path: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    ctx.store
        .conn()
        .execute(
            "UPDATE backups SET copy_status = ?2, copy_path = ?3, copy_error = ?4 WHERE id = ?1",
            params![id, status.as_str(), path, error],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// When a database (identified by server address and name) was last backed up, and last proven
/// to restore.
pub(crate) struct History {
    pub last_backup: Option<String>,
    pub last_successful_test: Option<String>,
    /// Whether the most recent test of any backup of the database failed.
    pub last_test_failed: bool,
}

pub(crate) fn history(ctx: &Ctx, host: &str, port: u16, database: &str) -> Result<History> {
    ctx.store
        .conn()
        .query_row(
            "SELECT max(CASE WHEN status = 'finished' THEN started_at END), \
             max(CASE WHEN test_status = 'tested-ok' THEN tested_at END), \
             coalesce((SELECT test_status = 'tested-failed' FROM backups \
                       WHERE host = ?1 AND port = ?2 AND database = ?3 AND tested_at IS NOT NULL \
                       ORDER BY tested_at DESC LIMIT 1), 0) \
             FROM backups WHERE host = ?1 AND port = ?2 AND database = ?3",
            params![host, port, database],
            |r| {
                Ok(History {
                    last_backup: r.get(0)?,
                    last_successful_test: r.get(1)?,
                    last_test_failed: r.get(2)?,
                })
            },
        )
        .map_err(|e| ctx.store.error(e))
}

/// One test (restore drill) of a backup, as the catalog's `drills` table holds it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillRecord {
    pub id: i64,
    pub started_at: String,
    pub passed: bool,
    pub duration_ms: i64,
    /// "every check passed" or why it failed.
    pub summary: String,
    /// Where it was restored: "practice" or a profile's name.
    pub target: String,
    /// The tested backup's manifest (absolute where the file still exists).
    pub manifest_path: Option<String>,
    /// The certificate (the drill's report) as JSON and as a web page.
    pub certificate_json: Option<String>,
    pub certificate_html: Option<String>,
}

/// One test of the catalog by its number.
pub fn drill_by_id(ctx: &Ctx, id: i64) -> Result<Option<DrillRecord>> {
    ctx.store
        .conn()
        .query_row(
            "SELECT id, started_at, passed, duration_ms, summary, target, manifest_path, \
             certificate_json, certificate_html FROM drills WHERE id = ?1",
            [id],
            drill_from_row,
        )
        .optional()
        .map_err(|e| ctx.store.error(e))
}

fn drill_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DrillRecord> {
    Ok(DrillRecord {
        id: r.get(0)?,
        started_at: r.get(1)?,
        passed: r.get(2)?,
        duration_ms: r.get(3)?,
        summary: r.get(4)?,
        target: r.get(5)?,
        manifest_path: r.get(6)?,
        certificate_json: r.get(7)?,
        certificate_html: r.get(8)?,
    })
}

/// The tests of the backups whose manifests are `manifests` (absolute paths, as the catalog's
/// backups hold them), newest first. A drill run on a relative path counts too.
pub fn drills_of(ctx: &Ctx, manifests: &[&str]) -> Result<Vec<DrillRecord>> {
    if manifests.is_empty() {
        return Ok(Vec::new());
    }
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, started_at, passed, duration_ms, summary, target, manifest_path, \
             certificate_json, certificate_html FROM drills \
             WHERE manifest_path IS NOT NULL ORDER BY started_at DESC, id DESC",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map([], drill_from_row)
        .map_err(|e| ctx.store.error(e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| ctx.store.error(e))?;
    drop(statement);
    drop(conn);
    Ok(rows
        .into_iter()
        .filter_map(|mut drill| {
            let recorded = drill.manifest_path.clone()?;
            let absolute = std::fs::canonicalize(&recorded)
                .map(|p| p.display().to_string())
                .unwrap_or(recorded.clone());
            let known = manifests.iter().any(|m| *m == recorded || *m == absolute);
            known.then(|| {
                drill.manifest_path = Some(absolute);
                drill
            })
        })
        .collect())
}

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PickUntested {
    /// Only backups of this database.
    pub database: Option<String>,
}

/// A finished backup never tested whose manifest is still there, chosen at random ("pick one
/// for me"); None when every backup has been tested.
pub async fn pick_untested(ctx: &Ctx, input: PickUntested) -> Result<Option<BackupRecord>> {
    let candidates: Vec<BackupRecord> =
        list_backups(ctx, ListBackups { database: input.database, limit: Some(10_000) })
            .await?
            .into_iter()
            .filter(|b| {
                b.status == BackupStatus::Finished
                    && b.test_status == "untested"
                    && b.manifest_path.as_deref().is_some_and(|m| std::path::Path::new(m).is_file())
            })
            .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    // Good enough randomness for picking a backup, without another dependency.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0);
    let index = nanos % candidates.len();
    Ok(candidates.into_iter().nth(index))
}

/// The suffix of a backup's manifest (as `format::manifest` names it; storage sits below it).
const MANIFEST_SUFFIX: &str = ".lifeboat.json";

/// A drill or a restore is using a backup of the catalog: retention does not delete it while
/// this is held. It is a shared lock on `locks/backup-<id>.lock` in the data folder, taken by
/// each drill and restore, which the operating system releases when the process ends, so a
/// crashed run leaves no claim behind. Retention takes the exclusive lock before it deletes;
/// a drill that starts meanwhile waits for the deletion to end (and then finds no files).
#[derive(Debug)]
pub struct BackupInUse {
    _lock: File,
}

/// Claims the catalog backup that `source` (a dump file, a directory backup's folder or a
/// manifest) belongs to, for as long as the result is held. `None` when `source` is not a
/// backup of the catalog (a URL, a dump from elsewhere): there is nothing retention could delete.
pub fn use_backup(ctx: &Ctx, source: &str) -> Result<Option<BackupInUse>> {
    let Some(id) = catalog_backup_of(ctx, Path::new(source.trim()))? else {
        return Ok(None);
    };
    let path = lock_path(ctx, id)?;
    let file = open_lock(&path)?;
    file.lock_shared().map_err(|source| Error::Io {
        action: "Marking the backup as in use",
        path: path.clone(),
        source,
    })?;
    Ok(Some(BackupInUse { _lock: file }))
}

/// Whether a drill or restore is using backup `id` right now (some process holds its claim).
pub fn in_use(ctx: &Ctx, id: i64) -> Result<bool> {
    Ok(claim_for_deletion(ctx, id)?.is_none())
}

/// The exclusive claim retention holds while it deletes backup `id`; `None` when a drill or a
/// restore is using it.
pub(crate) fn claim_for_deletion(ctx: &Ctx, id: i64) -> Result<Option<File>> {
    let path = lock_path(ctx, id)?;
    let file = open_lock(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => {
            Err(Error::Io { action: "Checking whether the backup is in use", path, source })
        }
    }
}

/// Removes the in-use mark of a deleted backup (no drill can claim it any more: claims are only
/// taken on backups that are not deleted).
pub(crate) fn forget_claim(ctx: &Ctx, id: i64) {
    let _ =
        std::fs::remove_file(ctx.data_dir.path().join("locks").join(format!("backup-{id}.lock")));
}

fn lock_path(ctx: &Ctx, id: i64) -> Result<PathBuf> {
    let folder = ctx.data_dir.path().join("locks");
    crate::util::private_fs::ensure_private_dir(&folder).map_err(|source| Error::Io {
        action: "Creating the folder of in-use marks",
        path: folder.clone(),
        source,
    })?;
    Ok(folder.join(format!("backup-{id}.lock")))
}

fn open_lock(path: &Path) -> Result<File> {
    crate::util::private_fs::open_private(path, false).map_err(|source| Error::Io {
        action: "Opening the backup's in-use mark",
        path: path.to_owned(),
        source,
    })
}

/// The catalog backup (finished, not deleted) whose files include `source`: its manifest, its
/// dump file or folder (`<stem>.backup`, `<stem>`), a per-schema file or its globals
/// (`<stem>.<anything>`), all in the manifest's folder.
fn catalog_backup_of(ctx: &Ctx, source: &Path) -> Result<Option<i64>> {
    let Ok(source) = std::fs::canonicalize(source) else { return Ok(None) };
    let (Some(folder), Some(name)) = (source.parent(), source.file_name()) else {
        return Ok(None);
    };
    let name = name.to_string_lossy();
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, manifest_path FROM backups WHERE status = 'finished' \
             AND deleted_at IS NULL AND manifest_path IS NOT NULL ORDER BY id DESC",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| ctx.store.error(e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| ctx.store.error(e))?;
    for (id, manifest) in rows {
        let manifest = PathBuf::from(manifest);
        let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
        if manifest.parent() != Some(folder) {
            continue;
        }
        let Some(stem) = manifest
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(MANIFEST_SUFFIX))
        else {
            continue;
        };
        if name == stem || name.starts_with(&format!("{stem}.")) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
