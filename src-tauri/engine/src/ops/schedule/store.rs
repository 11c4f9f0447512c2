//! Schedules and their runs in the store (`schedules`, `schedule_runs`). Every run is recorded
//! as it starts and completed when it ends, so a run that crashed stays `running` and a failed
//! one keeps its error code and message: the watch reads these rows for missed and failed runs.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::model::{DrillPolicy, Keep, Schedule};
use crate::base::error::{Error, Result};
use crate::format::manifest::BackupFormat;
use crate::storage::context::Ctx;

const COLUMNS: &str = "name, profile_name, database, days, time, format, out_dir, drill, \
                       drill_target, keep_last, keep_daily, keep_weekly, keep_monthly, copy_to, \
                       created_at";

fn format_from(name: &str) -> BackupFormat {
    match name {
        "directory" => BackupFormat::Directory,
        "tar" => BackupFormat::Tar,
        "plain" => BackupFormat::Plain,
        _ => BackupFormat::Custom,
    }
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Schedule> {
    let keep = |i: usize| -> rusqlite::Result<Option<u32>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32))
    };
    Ok(Schedule {
        name: r.get(0)?,
        profile: r.get(1)?,
        database: r.get(2)?,
        days: r.get(3)?,
        time: r.get(4)?,
        format: format_from(&r.get::<_, String>(5)?),
        out_dir: r.get(6)?,
        drill: DrillPolicy::parse(&r.get::<_, String>(7)?).unwrap_or_default(),
        drill_target: r.get(8)?,
        keep: Keep { last: keep(9)?, daily: keep(10)?, weekly: keep(11)?, monthly: keep(12)? },
        copy_to: r.get(13)?,
        created_at: r.get(14)?,
    })
}

pub(crate) fn insert(ctx: &Ctx, s: &Schedule) -> Result<()> {
    ctx.store
        .conn()
        .execute(
            &format!(
                "INSERT INTO schedules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
                 ?10, ?11, ?12, ?13, ?14, ?15)"
            ),
            params![
                s.name,
                s.profile,
                s.database,
                s.days,
                s.time,
                s.format.name(),
                s.out_dir,
                s.drill.as_str(),
                s.drill_target,
                s.keep.last,
                s.keep.daily,
                s.keep.weekly,
                s.keep.monthly,
                s.copy_to,
                s.created_at,
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

pub(crate) fn all(ctx: &Ctx) -> Result<Vec<Schedule>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY name"))
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement.query_map([], from_row).map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// The schedule named `name`, or `lifeboat-<name>` (so `prod-shop` finds `lifeboat-prod-shop`).
pub(crate) fn find(ctx: &Ctx, name: &str) -> Result<Schedule> {
    let name = name.trim();
    let conn = ctx.store.conn();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM schedules WHERE name = ?1 OR name = 'lifeboat-' || ?1"),
        [name],
        from_row,
    )
    .optional()
    .map_err(|e| ctx.store.error(e))?
    .ok_or_else(|| Error::ScheduleNotFound { name: name.to_owned() })
}

pub(crate) fn exists(ctx: &Ctx, name: &str) -> Result<bool> {
    let found: Option<i64> = ctx
        .store
        .conn()
        .query_row("SELECT id FROM schedules WHERE name = ?1", [name], |r| r.get(0))
        .optional()
        .map_err(|e| ctx.store.error(e))?;
    Ok(found.is_some())
}

pub(crate) fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    ctx.store
        .conn()
        .execute("DELETE FROM schedules WHERE name = ?1", [name])
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// One run of a schedule, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRun {
    pub id: i64,
    pub schedule: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// "running", "ok" or "failed".
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub backup_id: Option<i64>,
}

pub(crate) fn start_run(ctx: &Ctx, schedule: &str) -> Result<i64> {
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO schedule_runs (schedule_name, started_at, status) VALUES (?1, ?2, 'running')",
        params![schedule, chrono::Local::now().to_rfc3339()],
    )
    .map_err(|e| ctx.store.error(e))?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn finish_run(
    ctx: &Ctx,
    id: i64,
    backup_id: Option<i64>,
    error: Option<&Error>,
) -> Result<()> {
    let code = error.map(|e| {
        serde_json::to_value(e.code())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    ctx.store
        .conn()
        .execute(
            "UPDATE schedule_runs SET finished_at = ?2, status = ?3, error_code = ?4, \
             error_message = ?5, backup_id = ?6 WHERE id = ?1",
            params![
                id,
                chrono::Local::now().to_rfc3339(),
                if error.is_some() { "failed" } else { "ok" },
                code,
                error.map(|e| e.to_string()),
                backup_id
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// The runs of a schedule, newest first.
pub fn runs(ctx: &Ctx, schedule: &str, limit: u32) -> Result<Vec<ScheduleRun>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, schedule_name, started_at, finished_at, status, error_code, \
             error_message, backup_id FROM schedule_runs WHERE schedule_name = ?1 \
             ORDER BY id DESC LIMIT ?2",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map(params![schedule, i64::from(limit)], |r| {
            Ok(ScheduleRun {
                id: r.get(0)?,
                schedule: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                status: r.get(4)?,
                error_code: r.get(5)?,
                error_message: r.get(6)?,
                backup_id: r.get(7)?,
            })
        })
        .map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// The newest catalog row of `profile`/`database` above `after_id`: the backup a failed run
/// started, so its run points at it.
pub(crate) fn backup_since(
    ctx: &Ctx,
    profile: &str,
    database: &str,
    after_id: i64,
) -> Result<Option<i64>> {
    ctx.store
        .conn()
        .query_row(
            "SELECT max(id) FROM backups WHERE profile_name = ?1 AND database = ?2 AND id > ?3",
            params![profile, database, after_id],
            |r| r.get(0),
        )
        .map_err(|e| ctx.store.error(e))
}

pub(crate) fn last_backup_id(ctx: &Ctx) -> Result<i64> {
    ctx.store
        .conn()
        .query_row("SELECT coalesce(max(id), 0) FROM backups", [], |r| r.get(0))
        .map_err(|e| ctx.store.error(e))
}

/// When a backup of `profile`/`database` was last drilled, whatever the result.
pub(crate) fn last_drill(ctx: &Ctx, profile: &str, database: &str) -> Result<Option<String>> {
    ctx.store
        .conn()
        .query_row(
            "SELECT max(d.started_at) FROM drills d JOIN backups b \
             ON b.manifest_path = d.manifest_path WHERE b.profile_name = ?1 AND b.database = ?2",
            params![profile, database],
            |r| r.get(0),
        )
        .map_err(|e| ctx.store.error(e))
}
