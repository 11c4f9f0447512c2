//! The Activity view's operations: the finished jobs and each one's log, and the backup, restore
//! and drill as the window and the CLI run them, each recorded when it ends
//! (`storage/activity.rs`).

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::base::error::Result;
use crate::base::progress::ProgressSink;
use crate::ops::backup::{self, BackupOutcome, StartBackup};
use crate::ops::drill::{self, DrillReport, DrillRequest, DrillTarget};
use crate::ops::restore::{self, RestoreOutcome, RestoreRequest};
use crate::storage::activity::{self, ActivityOutcome, Job, Summary, Tracker};
use crate::storage::context::Ctx;
use crate::util::size::human_bytes;

pub use crate::storage::activity::{ActivityEntry, ActivityKind};

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
    input: StartBackup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<BackupOutcome> {
    let job = Job {
        kind: ActivityKind::Backup,
        subject: input.database.clone(),
        profile: Some(input.profile.clone()),
    };
    let tracker = Tracker::start(job, sink);
    let result = backup::backup(ctx, input, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`restore::restore`], recorded in the activity when it ends.
pub async fn restore(
    ctx: &Ctx,
    request: RestoreRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RestoreOutcome> {
    let job = Job {
        kind: ActivityKind::Restore,
        subject: request.source.clone(),
        profile: Some(request.profile.clone()),
    };
    let tracker = Tracker::start(job, sink);
    let result = restore::restore(ctx, request, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
}

/// [`drill::drill`], recorded in the activity when it ends.
pub async fn drill(
    ctx: &Ctx,
    request: DrillRequest,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<DrillReport> {
    let profile = match &request.target {
        DrillTarget::Practice => None,
        DrillTarget::Profile { name } => Some(name.clone()),
    };
    let job = Job { kind: ActivityKind::Drill, subject: request.source.clone(), profile };
    let tracker = Tracker::start(job, sink);
    let result = drill::drill(ctx, request, tracker.sink(), cancel).await;
    tracker.finish(ctx, result)
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
