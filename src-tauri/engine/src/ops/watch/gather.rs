//! Reads the facts the rules need: the catalog (backups, drills), the schedules and their runs,
//! the per-database limits, each finished backup's manifest and files, and the free space of
//! the backup folder. Blocking; [`super::watch`] runs it off the async threads.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone};
use rusqlite::{Connection, params};

use super::DatabaseRef;
use super::facts::{
    BackupFacts, DatabaseFacts, DrillFacts, FileFact, FilesCheck, FolderFacts, RunFacts,
    ScheduleFacts, ThresholdOverrides, WatchInput,
};
use crate::base::error::Result;
use crate::format::archive::read_manifest;
use crate::storage::catalog::BackupStatus;
use crate::storage::context::Ctx;

/// A database's identity: server address and name.
type DbKey = (String, u16, String);

/// Reads a time as the store holds it: RFC 3339, or a plain local date and time.
pub(super) fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at);
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|naive| Local.from_local_datetime(&naive).earliest())
        .map(|at| at.fixed_offset())
}

/// What the rules look at, for every database (or those named `filter`).
pub(super) fn gather(ctx: &Ctx, filter: Option<&str>) -> Result<WatchInput> {
    let rows = {
        let conn = ctx.store.conn();
        read_rows(&conn, filter).map_err(|e| ctx.store.error(e))?
    };
    let mut databases: BTreeMap<DbKey, DatabaseFacts> = BTreeMap::new();
    for (row, profile) in rows.backups {
        let key = (row.host.clone(), row.port, row.database.clone());
        let facts = databases
            .entry(key)
            .or_insert_with(|| empty(&row.host, row.port, &row.database, &profile));
        facts.backups.push(check_files(row.facts));
    }
    for schedule in rows.schedules {
        let (host, port) =
            rows.profiles.get(&schedule.profile.to_lowercase()).cloned().unwrap_or_default();
        let key = (host.clone(), port, schedule.database.clone());
        let facts = databases
            .entry(key)
            .or_insert_with(|| empty(&host, port, &schedule.database, &schedule.profile));
        facts.schedules.push(schedule.facts);
    }
    let mut input = WatchInput::default();
    for ((host, port, database), mut facts) in databases {
        facts.overrides = rows.thresholds.get(&(host, port, database)).copied().unwrap_or_default();
        facts.drills = rows
            .drills
            .iter()
            .filter(|d| {
                d.manifest_path.as_deref().is_some_and(|m| {
                    facts.backups.iter().any(|b| b.manifest_path.as_deref() == Some(m))
                })
            })
            .cloned()
            .collect();
        facts.folder = folder_of(&facts);
        input.databases.push(facts);
    }
    Ok(input)
}

fn empty(host: &str, port: u16, database: &str, profile: &str) -> DatabaseFacts {
    DatabaseFacts {
        database: DatabaseRef {
            profile: profile.to_owned(),
            host: host.to_owned(),
            port,
            database: database.to_owned(),
        },
        overrides: ThresholdOverrides::default(),
        backups: Vec::new(),
        drills: Vec::new(),
        schedules: Vec::new(),
        folder: None,
    }
}

struct BackupRow {
    host: String,
    port: u16,
    database: String,
    facts: BackupFacts,
}

struct ScheduleRow {
    profile: String,
    database: String,
    facts: ScheduleFacts,
}

struct Rows {
    /// Newest first, with the profile each used.
    backups: Vec<(BackupRow, String)>,
    /// Newest first; manifest paths made absolute where the file exists.
    drills: Vec<DrillFacts>,
    schedules: Vec<ScheduleRow>,
    /// Profile name (lower case) → host and port.
    profiles: BTreeMap<String, (String, u16)>,
    thresholds: BTreeMap<DbKey, ThresholdOverrides>,
}

fn read_rows(conn: &Connection, filter: Option<&str>) -> rusqlite::Result<Rows> {
    Ok(Rows {
        backups: read_backups(conn, filter)?,
        drills: read_drills(conn)?,
        schedules: read_schedules(conn, filter)?,
        profiles: conn
            .prepare("SELECT name, host, port FROM profiles")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?.to_lowercase(), (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?,
        thresholds: conn
            .prepare(
                "SELECT host, port, database, max_backup_age_hours, untested_after_days, \
                 max_days_without_drill FROM watch_thresholds",
            )?
            .query_map([], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?),
                    ThresholdOverrides {
                        max_backup_age_hours: r.get(3)?,
                        untested_after_days: r.get(4)?,
                        max_days_without_drill: r.get(5)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?,
    })
}

fn read_backups(
    conn: &Connection,
    filter: Option<&str>,
) -> rusqlite::Result<Vec<(BackupRow, String)>> {
    let mut statement = conn.prepare(
        "SELECT id, profile_name, host, port, database, status, started_at, manifest_path, \
         size_bytes, test_status, deleted_at, copy_status, copy_path, copy_error FROM backups \
         WHERE (?1 IS NULL OR database = ?1) ORDER BY id DESC",
    )?;
    let rows = statement.query_map(params![filter], |r| {
        let status = match r.get::<_, String>(5)?.as_str() {
            "finished" => BackupStatus::Finished,
            "failed" => BackupStatus::Failed,
            "cancelled" => BackupStatus::Cancelled,
            _ => BackupStatus::Running,
        };
        let started: String = r.get(6)?;
        let deleted: Option<String> = r.get(10)?;
        let row = BackupRow {
            host: r.get(2)?,
            port: r.get(3)?,
            database: r.get(4)?,
            facts: BackupFacts {
                id: r.get(0)?,
                status,
                // An unreadable time sorts as the oldest rather than hiding the backup.
                started_at: parse_time(&started).unwrap_or_default(),
                deleted_at: deleted.as_deref().map(|d| parse_time(d).unwrap_or_default()),
                manifest_path: r.get(7)?,
                size_bytes: r.get(8)?,
                test_status: r.get(9)?,
                files: FilesCheck::NotChecked,
                tables: None,
                scope: None,
                copy_status: r.get(11)?,
                copy_path: r.get(12)?,
                copy_error: r.get(13)?,
            },
        };
        Ok((row, r.get::<_, String>(1)?))
    })?;
    let mut backups = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    backups.sort_by_key(|b| std::cmp::Reverse(b.0.facts.started_at));
    Ok(backups)
}

fn read_drills(conn: &Connection) -> rusqlite::Result<Vec<DrillFacts>> {
    let mut statement = conn.prepare(
        "SELECT started_at, passed, duration_ms, manifest_path, summary FROM drills ORDER BY id DESC",
    )?;
    let rows = statement.query_map([], |r| {
        let started: String = r.get(0)?;
        let manifest: Option<String> = r.get(3)?;
        Ok(DrillFacts {
            started_at: parse_time(&started).unwrap_or_default(),
            passed: r.get(1)?,
            duration_ms: r.get(2)?,
            // The catalog's backups hold absolute paths; a drill run on a relative one too.
            manifest_path: manifest
                .map(|m| std::fs::canonicalize(&m).map(|p| p.display().to_string()).unwrap_or(m)),
            summary: r.get(4)?,
        })
    })?;
    let mut drills = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    drills.sort_by_key(|d| std::cmp::Reverse(d.started_at));
    Ok(drills)
}

fn read_schedules(conn: &Connection, filter: Option<&str>) -> rusqlite::Result<Vec<ScheduleRow>> {
    let mut runs: BTreeMap<String, Vec<RunFacts>> = BTreeMap::new();
    let mut statement = conn.prepare(
        "SELECT schedule_name, started_at, status, error_code, error_message FROM schedule_runs \
         ORDER BY id DESC",
    )?;
    for row in statement.query_map([], |r| {
        let started: String = r.get(1)?;
        Ok((
            r.get::<_, String>(0)?,
            RunFacts {
                started_at: parse_time(&started).unwrap_or_default(),
                status: r.get(2)?,
                error_code: r.get(3)?,
                error_message: r.get(4)?,
            },
        ))
    })? {
        let (name, run) = row?;
        runs.entry(name).or_default().push(run);
    }
    let mut statement = conn.prepare(
        "SELECT name, profile_name, database, days, time, created_at FROM schedules \
         WHERE (?1 IS NULL OR database = ?1) ORDER BY name",
    )?;
    let rows = statement.query_map(params![filter], |r| {
        let name: String = r.get(0)?;
        let created: String = r.get(5)?;
        Ok(ScheduleRow {
            profile: r.get(1)?,
            database: r.get(2)?,
            facts: ScheduleFacts {
                name: name.clone(),
                days: r.get(3)?,
                time: r.get(4)?,
                created_at: parse_time(&created).unwrap_or_default(),
                runs: Vec::new(),
            },
        })
    })?;
    let mut schedules = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for schedule in &mut schedules {
        let mut own = runs.remove(&schedule.facts.name).unwrap_or_default();
        own.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        schedule.facts.runs = own;
    }
    Ok(schedules)
}

/// Reads a finished backup's manifest: its files on disk, its row counts and its scope.
fn check_files(mut backup: BackupFacts) -> BackupFacts {
    if !backup.usable() {
        return backup;
    }
    let Some(manifest_path) = backup.manifest_path.clone() else { return backup };
    let path = Path::new(&manifest_path);
    if !path.exists() {
        backup.files = FilesCheck::ManifestMissing { path: manifest_path };
        return backup;
    }
    let manifest = match read_manifest(path) {
        Ok(manifest) => manifest,
        Err(error) => {
            backup.files =
                FilesCheck::ManifestUnreadable { path: manifest_path, detail: error.to_string() };
            return backup;
        }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let listed = manifest
        .files
        .iter()
        .map(|file| {
            let on_disk = folder.join(file.name.replace('/', std::path::MAIN_SEPARATOR_STR));
            FileFact {
                path: on_disk.display().to_string(),
                expected_bytes: file.bytes,
                actual_bytes: std::fs::metadata(&on_disk)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len()),
            }
        })
        .collect();
    backup.files = FilesCheck::Listed(listed);
    backup.scope = serde_json::to_string(&(&manifest.scope, manifest.per_schema)).ok();
    backup.tables = Some(manifest.tables);
    backup
}

/// The folder of the newest finished backup, with its free space.
fn folder_of(facts: &DatabaseFacts) -> Option<FolderFacts> {
    let newest = facts.backups.iter().filter(|b| b.usable()).max_by_key(|b| b.started_at)?;
    let folder = Path::new(newest.manifest_path.as_deref()?).parent()?;
    let free_bytes = fs4::available_space(folder).ok()?;
    Some(FolderFacts { path: folder.display().to_string(), free_bytes })
}
