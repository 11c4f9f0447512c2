//! The Activity view's operations: the finished jobs and each one's log, and the backup, server
//! backup, restore, drill and Recover's swap as the window, the CLI and scheduled runs start
//! them, each recorded when it ends (`storage/activity.rs`) with where it was started.

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::base::error::{ErrorCode, Result};
use crate::base::progress::ProgressSink;
use crate::ops::backup::{self, BackupOutcome, StartBackup};
use crate::ops::backup_server::{
    self, DatabaseBackupState, ServerBackupOutcome, ServerBackupStatus, StartServerBackup,
};
use crate::ops::drill::{self, DrillReport, DrillRequest, DrillTarget};
use crate::ops::recover::{self, SwapRequest, Swapped};
use crate::ops::restore::{self, RestoreOutcome, RestoreRequest};
use crate::storage::activity::{self, ActivityOutcome, Job, Summary, Tracker};
use crate::storage::context::Ctx;
use crate::util::size::human_bytes;

pub use crate::storage::activity::{ActivityEntry, ActivityKind, ActivityOrigin};

/// The subject of a server backup's entry (the profile names the server).
pub const SERVER_BACKUP_SUBJECT: &str = "all databases";

/// How many finished jobs the Activity view lists when it does not say.
pub const DEFAULT_LIMIT: u32 = 200;

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ListActivity {
    /// At most this many, newest first ([`DEFAULT_LIMIT`] when absent).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ActivityLogRequest {
    /// The job's id, from [`ActivityEntry::id`].
    pub id: i64,
}

/// The finished jobs, newest first.
pub async fn list_activity(ctx: &Ctx, input: ListActivity) -> Result<Vec<ActivityEntry>> {
    activity::list(ctx, input.limit.unwrap_or(DEFAULT_LIMIT) as usize)
}

/// The last lines a finished job's programs wrote, oldest first.
pub async fn activity_log(ctx: &Ctx, input: ActivityLogRequest) -> Result<Vec<String>> {
    activity::log(ctx, input.id)
}

/// [`backup::backup`], recorded in the activity when it ends.
pub async fn backup(
    ctx: &Ctx,
    origin: ActivityOrigin,
    input: StartBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<BackupOutcome> {
    let job = Job {
        kind: ActivityKind::Backup,
        subject: input.database.clone(),
        profile: Some(input.profile.clone()),
        origin,
    };
    let tracker = Tracker::start(job, sink);
    let result = backup::backup(ctx, input, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`restore::restore`], recorded in the activity when it ends.
pub async fn restore(
    ctx: &Ctx,
    origin: ActivityOrigin,
    request: RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RestoreOutcome> {
    let job = Job {
        kind: ActivityKind::Restore,
        subject: request.source.clone(),
        profile: Some(request.profile.clone()),
        origin,
    };
    let tracker = Tracker::start(job, sink);
    let result = restore::restore(ctx, request, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`drill::drill`], recorded in the activity when it ends.
pub async fn drill(
    ctx: &Ctx,
    origin: ActivityOrigin,
    request: DrillRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<DrillReport> {
    let profile = match &request.target {
        DrillTarget::Practice => None,
        DrillTarget::Profile { name } => Some(name.clone()),
    };
    let job = Job { kind: ActivityKind::Drill, subject: request.source.clone(), profile, origin };
    let tracker = Tracker::start(job, sink);
    let result = drill::drill(ctx, request, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`backup_server::backup_server`], recorded in the activity when it ends: one entry for the
/// whole job, its log holding every database's stage and programs' lines.
pub async fn backup_server(
    ctx: &Ctx,
    origin: ActivityOrigin,
    input: StartServerBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<ServerBackupOutcome> {
    let job = Job {
        kind: ActivityKind::ServerBackup,
        subject: SERVER_BACKUP_SUBJECT.to_owned(),
        profile: Some(input.profile.clone()),
        origin,
    };
    let tracker = Tracker::start(job, sink);
    let result = backup_server::backup_server(ctx, input, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`recover::swap_restored`], recorded in the activity (a short entry: it runs no program).
pub async fn swap_restored(
    ctx: &Ctx,
    origin: ActivityOrigin,
    request: SwapRequest,
) -> Result<Swapped> {
    let job = Job {
        kind: ActivityKind::Swap,
        subject: format!("{} with {}", request.live.trim(), request.restored.trim()),
        profile: Some(request.profile.clone()),
        origin,
    };
    let tracker = Tracker::start(job, &crate::base::progress::NullSink);
    let result = recover::swap_restored(ctx, request).await;
    tracker.finish(ctx, result)
}

impl Summary for ServerBackupOutcome {
    /// "4 of 5 databases backed up; 1 failed; 2 skipped, 1.2 GiB": the counts in one line (the
    /// outcome's own summary names the databases; the log has the rest).
    fn summary(&self) -> (ActivityOutcome, String) {
        let count = |state| self.databases.iter().filter(|d| d.state == state).count();
        let done = count(DatabaseBackupState::BackedUp);
        let failed = count(DatabaseBackupState::Failed);
        let skipped = count(DatabaseBackupState::Skipped);
        let tried = done + failed;
        let mut text = match tried {
            1 => format!("{done} of 1 database backed up"),
            n => format!("{done} of {n} databases backed up"),
        };
        if failed > 0 {
            text.push_str(&format!("; {failed} failed"));
        }
        if skipped > 0 {
            text.push_str(&format!("; {skipped} skipped"));
        }
        if self.cancelled {
            text.push_str("; cancelled");
        }
        text.push_str(&format!(", {}", human_bytes(self.size_bytes)));
        let outcome = if self.cancelled {
            ActivityOutcome::Cancelled
        } else if self.status == ServerBackupStatus::Ok {
            ActivityOutcome::Succeeded
        } else {
            ActivityOutcome::Failed
        };
        (outcome, text)
    }

    fn error_code(&self) -> Option<ErrorCode> {
        self.databases.iter().find_map(|d| d.error.as_ref().map(|e| e.code))
    }
}

impl Summary for Swapped {
    fn summary(&self) -> (ActivityOutcome, String) {
        let text = format!(
            "The restored copy is now {}; the previous database is kept as {}",
            self.database, self.kept_as
        );
        (ActivityOutcome::Succeeded, text)
    }
}

impl Summary for BackupOutcome {
    fn summary(&self) -> (ActivityOutcome, String) {
        let files = match self.files.len() {
            1 => "1 file".to_owned(),
            n => format!("{n} files"),
        };
        let size = human_bytes(self.size_bytes);
        (ActivityOutcome::Succeeded, format!("{files}, {size}: {}", self.manifest_path))
    }
}

impl Summary for RestoreOutcome {
    fn summary(&self) -> (ActivityOutcome, String) {
        let mut text = format!(
            "Restored into {} ({} entries restored, {} skipped)",
            self.database, self.restored_entries, self.skipped_entries
        );
        if !self.errors.is_empty() {
            text.push_str(&format!("; {} errors were passed over", self.errors.len()));
        }
        (ActivityOutcome::Succeeded, text)
    }
}

impl Summary for DrillReport {
    fn summary(&self) -> (ActivityOutcome, String) {
        let database = self.database.as_deref().unwrap_or("the database");
        if self.passed {
            let text = format!(
                "Passed on {}: the backup of {database} restores and matches what was backed up",
                self.target
            );
            (ActivityOutcome::Succeeded, text)
        } else {
            let why = self.failure.as_deref().unwrap_or("a check did not pass");
            (ActivityOutcome::Failed, format!("Failed on {}: {why}", self.target))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ErrorPayload;
    use crate::ops::backup_server::DatabaseBackupResult;

    fn db(name: &str, state: DatabaseBackupState) -> DatabaseBackupResult {
        let error = (state == DatabaseBackupState::Failed).then(|| ErrorPayload {
            code: ErrorCode::ToolFailed,
            message: "pg_dump failed".into(),
            hint: String::new(),
        });
        DatabaseBackupResult { database: name.into(), state, outcome: None, error, reason: None }
    }

    fn server(
        status: ServerBackupStatus,
        databases: Vec<DatabaseBackupResult>,
        cancelled: bool,
    ) -> ServerBackupOutcome {
        ServerBackupOutcome {
            status,
            summary: String::new(),
            databases,
            globals: None,
            size_bytes: 2000,
            duration_ms: 1,
            cancelled,
        }
    }

    #[test]
    fn a_server_backup_is_summed_up_in_one_line_with_the_first_failure_code() {
        use DatabaseBackupState::*;
        let all = server(ServerBackupStatus::Ok, vec![db("a", BackedUp), db("b", BackedUp)], false);
        assert_eq!(
            all.summary(),
            (ActivityOutcome::Succeeded, "2 of 2 databases backed up, 2 kB".into())
        );
        assert_eq!(all.error_code(), None);

        let dbs = vec![db("a", BackedUp), db("b", Failed), db("c", BackedUp), db("t", Skipped)];
        let partial = server(ServerBackupStatus::Partial, dbs, false);
        let (outcome, text) = partial.summary();
        assert_eq!(outcome, ActivityOutcome::Failed);
        assert_eq!(text, "2 of 3 databases backed up; 1 failed; 1 skipped, 2 kB");
        assert_eq!(partial.error_code(), Some(ErrorCode::ToolFailed));

        let stopped = server(ServerBackupStatus::Partial, vec![db("a", BackedUp)], true);
        assert_eq!(stopped.summary().0, ActivityOutcome::Cancelled);
        assert!(stopped.summary().1.contains("cancelled"));
    }
}
