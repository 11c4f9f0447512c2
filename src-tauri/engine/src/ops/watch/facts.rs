//! What the rules look at: plain facts gathered from the store, the manifests and the disk
//! ([`super::gather`]), so that every rule is a pure function tested with made-up facts.

use chrono::{DateTime, FixedOffset};

use crate::format::manifest::TableRows;
use crate::storage::catalog::BackupStatus;

use super::DatabaseRef;

/// Everything the watch knows, one entry per database (server address and name).
#[derive(Debug, Clone, Default)]
pub struct WatchInput {
    pub databases: Vec<DatabaseFacts>,
}

#[derive(Debug, Clone)]
pub struct DatabaseFacts {
    pub database: DatabaseRef,
    /// The user's own limits for this database (`watch_thresholds`); None fields use defaults.
    pub overrides: ThresholdOverrides,
    /// Every backup in the catalog, deleted ones included (history), newest first.
    pub backups: Vec<BackupFacts>,
    /// The drills of this database's backups, newest first.
    pub drills: Vec<DrillFacts>,
    pub schedules: Vec<ScheduleFacts>,
    /// The folder of the newest finished backup and its free space.
    pub folder: Option<FolderFacts>,
}

/// Per-database limits set by the user; a None field keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThresholdOverrides {
    pub max_backup_age_hours: Option<i64>,
    pub untested_after_days: Option<i64>,
    pub max_days_without_drill: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct BackupFacts {
    pub id: i64,
    pub status: BackupStatus,
    pub started_at: DateTime<FixedOffset>,
    /// Set when retention (or the user) deleted its files; the row stays as history.
    pub deleted_at: Option<DateTime<FixedOffset>>,
    pub manifest_path: Option<String>,
    pub size_bytes: Option<i64>,
    /// "untested", "tested-ok" or "tested-failed".
    pub test_status: String,
    /// What is on disk compared with what the manifest lists.
    pub files: FilesCheck,
    /// The manifest's exact row counts (None: no readable manifest).
    pub tables: Option<Vec<TableRows>>,
    /// The backup's scope as text: row counts are compared only between backups of one scope.
    pub scope: Option<String>,
    /// "copied", "failed" or "missing" (the destination was not there).
    pub copy_status: Option<String>,
    pub copy_path: Option<String>,
    pub copy_error: Option<String>,
}

impl BackupFacts {
    /// Finished and not deleted: a backup one could restore from.
    pub fn usable(&self) -> bool {
        self.status == BackupStatus::Finished && self.deleted_at.is_none()
    }
}

/// A finished backup's files on disk against its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesCheck {
    /// Not checked: the backup is not finished, deleted, or has no manifest path.
    NotChecked,
    /// The manifest itself is gone.
    ManifestMissing { path: String },
    /// The manifest is there but cannot be read.
    ManifestUnreadable { path: String, detail: String },
    /// Each file the manifest lists.
    Listed(Vec<FileFact>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    pub path: String,
    /// Bytes recorded in the manifest.
    pub expected_bytes: u64,
    /// Bytes on disk now; None when the file is gone.
    pub actual_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct DrillFacts {
    pub started_at: DateTime<FixedOffset>,
    pub passed: bool,
    pub duration_ms: i64,
    /// The tested backup's manifest (absolute, as in the catalog).
    pub manifest_path: Option<String>,
    /// "every check passed" or why it failed.
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct ScheduleFacts {
    pub name: String,
    /// "daily" or weekdays "mon,wed,fri".
    pub days: String,
    /// "HH:MM", local time.
    pub time: String,
    pub created_at: DateTime<FixedOffset>,
    /// Newest first.
    pub runs: Vec<RunFacts>,
}

#[derive(Debug, Clone)]
pub struct RunFacts {
    pub started_at: DateTime<FixedOffset>,
    /// "running", "ok" or "failed".
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FolderFacts {
    pub path: String,
    pub free_bytes: u64,
}
