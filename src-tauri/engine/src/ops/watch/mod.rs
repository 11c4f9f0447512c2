//! The watch: what needs attention, per database. [`gather`] reads the facts (the catalog, the
//! schedules and their runs, the manifests, the files on disk, free space) into a
//! [`WatchInput`]; [`rules::rules`] turns them into [`Attention`] items with the clock passed in,
//! and [`readiness::line`] says per database how much would be lost and how long a restore takes.
//! The desktop app and `lifeboat remind` show the same items; [`crate::ops::notify`] sends them.

mod facts;
mod gather;
pub mod notified;
pub mod readiness;
pub mod rules;
pub mod schedule;
#[cfg(test)]
mod tests;

/// The clock types of [`WatchRequest::now`], so that callers need no chrono of their own.
pub use chrono::{DateTime, FixedOffset, TimeDelta};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;

pub use facts::{
    BackupFacts, DatabaseFacts, DrillFacts, FileFact, FilesCheck, FolderFacts, RunFacts,
    ScheduleFacts, ThresholdOverrides, WatchInput,
};
pub use rules::{Thresholds, rules};

/// How bad an item is: info can wait, a warning wants doing this week, critical now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
// The type name only (the JSON is the same): a finding's severity (base::finding) is another
// type called Severity in the app's TypeScript bindings.
#[serde(rename = "AttentionSeverity")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What an item is about; stable, for the UI and `--json` consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum AttentionCode {
    /// No finished backup for longer than the limit, or none at all.
    NoRecentBackup,
    /// The newest finished backup was never tested, days after it was taken.
    UntestedBackup,
    /// No drill of any backup of the database for too long.
    NoRecentDrill,
    /// The most recent drill failed.
    LastDrillFailed,
    /// A scheduled run should have happened and did not.
    ScheduledRunMissed,
    /// The most recent scheduled run failed.
    ScheduledRunFailed,
    /// A finished backup's files (or its manifest) are gone.
    BackupMissing,
    /// A finished backup's files have another size than its manifest says.
    BackupChanged,
    /// A table that had rows has none in the newest backup.
    TableEmptied,
    /// A table lost more than half of its rows since the previous backup.
    TableShrank,
    /// A table of the previous backup is not in the newest.
    TableDisappeared,
    /// The newest backup is less than half the size of the previous.
    BackupShrank,
    /// The second copy failed.
    CopyFailed,
    /// The second copy's destination was not there (an unplugged disk).
    CopyDestinationMissing,
    /// The backup folder's disk will be full within a few more backups.
    DiskFillingUp,
}

/// The database an item is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseRef {
    /// The profile its newest backup (or its schedule) used.
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// What fixes an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Test a backup (the drill wizard on `manifest_path`).
    TestBackup,
    /// Back the database up now (the backup wizard).
    BackUpNow,
    /// Open the list of the database's backups.
    OpenBackups,
    /// Open the schedule (`schedule`).
    OpenSchedule,
}

impl ActionKind {
    /// The snake_case name, also the notification action's identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::TestBackup => "test_backup",
            ActionKind::BackUpNow => "back_up_now",
            ActionKind::OpenBackups => "open_backups",
            ActionKind::OpenSchedule => "open_schedule",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub kind: ActionKind,
    /// The button's words, e.g. "Test this backup".
    pub label: String,
    /// For `test_backup`: the backup's manifest.
    pub manifest_path: Option<String>,
    /// For `open_schedule`: the schedule's name.
    pub schedule: Option<String>,
}

/// One thing that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Attention {
    pub severity: Severity,
    pub code: AttentionCode,
    pub database: DatabaseRef,
    /// A short headline: "shop needs a test".
    pub title: String,
    /// What happened and what to do, in plain words.
    pub message: String,
    pub action: Action,
    /// Stable identity of this item (the same problem keeps its key from one check to the
    /// next), so that it is notified at most once a day.
    pub key: String,
}

/// Per database: how much would be lost, and how long a restore took.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub database: DatabaseRef,
    /// "If this database were lost now you would lose up to 26 h of changes; the last test
    /// restored it in 3 min 10 s." or a plain fallback.
    pub line: String,
    /// When the newest backup that passed a test was taken.
    pub tested_backup_at: Option<String>,
    /// How long that backup's passing drill took.
    pub restore_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WatchRequest {
    /// Only databases with this name (any server).
    pub database: Option<String>,
    /// Test hook: the clock the rules use instead of now. Not reachable from the GUI or CLI.
    #[serde(skip)]
    #[specta(skip)]
    pub now: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    /// When the watch looked (RFC 3339).
    pub checked_at: String,
    /// Most severe first.
    pub items: Vec<Attention>,
    /// One per database the catalog or a schedule knows.
    pub databases: Vec<Readiness>,
}

/// The clock the watch uses.
pub type Now = DateTime<FixedOffset>;

/// Reads a report's `checked_at` back (the clock its rules used); now when it cannot be read.
pub fn parse_checked_at(text: &str) -> Now {
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|_| chrono::Local::now().fixed_offset())
}

/// What needs attention now, per database.
pub async fn watch(ctx: &Ctx, request: WatchRequest) -> Result<WatchReport> {
    let now = request.now.unwrap_or_else(|| chrono::Local::now().fixed_offset());
    let ctx = ctx.clone();
    let filter = request.database.clone();
    // Reading manifests and sizes of many files is blocking work.
    let input = tokio::task::spawn_blocking(move || gather::gather(&ctx, filter.as_deref()))
        .await
        .map_err(|e| Error::Io {
            action: "Looking over the backups",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let items = rules(&input, &Thresholds::default(), now);
    let databases = input.databases.iter().map(|facts| readiness::readiness(facts, now)).collect();
    Ok(WatchReport { checked_at: now.to_rfc3339(), items, databases })
}

/// The user's limits for one database; a None field goes back to the default.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SetThresholds {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub max_backup_age_hours: Option<u32>,
    pub untested_after_days: Option<u32>,
    pub max_days_without_drill: Option<u32>,
}

/// Saves (or, with every limit None, removes) a database's own limits.
pub async fn set_thresholds(ctx: &Ctx, input: SetThresholds) -> Result<()> {
    let conn = ctx.store.conn();
    let unset = input.max_backup_age_hours.is_none()
        && input.untested_after_days.is_none()
        && input.max_days_without_drill.is_none();
    let result = if unset {
        conn.execute(
            "DELETE FROM watch_thresholds WHERE host = ?1 AND port = ?2 AND database = ?3",
            params![input.host, input.port, input.database],
        )
    } else {
        conn.execute(
            "INSERT INTO watch_thresholds (host, port, database, max_backup_age_hours, \
             untested_after_days, max_days_without_drill) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (host, port, database) DO UPDATE SET \
             max_backup_age_hours = ?4, untested_after_days = ?5, max_days_without_drill = ?6",
            params![
                input.host,
                input.port,
                input.database,
                input.max_backup_age_hours,
                input.untested_after_days,
                input.max_days_without_drill
            ],
        )
    };
    result.map(|_| ()).map_err(|e| ctx.store.error(e))
}
