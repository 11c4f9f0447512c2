//! The backup catalog in the store: every backup with its status, files and test result. The
//! desktop app and scheduled CLI runs read and write the same rows.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
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
}

pub(crate) fn start_backup(
    ctx: &Ctx,
    profile: &Profile,
    database: &str,
    format: &str,
    started_at: &str,
) -> Result<i64> {
    let s = &profile.settings;
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO backups (profile_name, host, port, database, format, status, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
        params![s.name, s.host, s.port, database, format, started_at],
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

pub async fn list_backups(ctx: &Ctx, input: ListBackups) -> Result<Vec<BackupRecord>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, profile_name, host, port, database, format, status, started_at, duration_ms, \
             manifest_path, size_bytes, sha256, error_code, error_message, test_status, tested_at FROM backups \
             WHERE (?1 IS NULL OR database = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map(params![input.database, i64::from(input.limit.unwrap_or(1000))], |r| {
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
            })
        })
        .map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
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
