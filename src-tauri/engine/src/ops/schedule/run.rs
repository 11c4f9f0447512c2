//! `lifeboat schedule run NAME`, what the scheduler calls: the backup with the schedule's
//! settings, then the drill (after each backup, or weekly when none ran for a week), the second
//! copy and retention. The run is recorded in `schedule_runs` as it starts and ends; a failed run
//! keeps the first error's code and message.

use std::path::PathBuf;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::model::{DrillPolicy, Schedule};
use super::store;
use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::format::manifest::BackupScope;
use crate::ops::activity::{self, ActivityOrigin};
use crate::ops::backup::{self, BackupOutcome, StartBackup};
use crate::ops::copy::{self, CopyOutcome, CopyRequest};
use crate::ops::drill::{DrillReport, DrillRequest, DrillTarget};
use crate::ops::retention::{self, PruneReport, PruneRequest, RetentionPolicy};
use crate::storage::context::Ctx;

/// A weekly drill is due when the last one is older than this (a little under a week, so a
/// drill that took a few minutes longer last week does not push this one to the next day).
const WEEKLY_DRILL_AFTER: chrono::Duration = chrono::Duration::hours(6 * 24 + 12);

/// What a scheduled run did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    pub schedule: String,
    /// Its row in `schedule_runs`.
    pub run_id: i64,
    pub backup: BackupOutcome,
    /// The drill, when one was due.
    pub drill: Option<DrillReport>,
    /// The second copy, when the schedule keeps one.
    pub copy: Option<CopyOutcome>,
    /// Retention, when the schedule has a policy.
    pub pruned: Option<PruneReport>,
}

/// Runs schedule `name` once and records the run.
pub async fn run(
    ctx: &Ctx,
    name: &str,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome> {
    let work = run_inner(ctx, name, sink, cancel);
    crate::base::logging::logged("scheduled run", name, work).await
}

/// [`run`] without its lines in the log.
async fn run_inner(
    ctx: &Ctx,
    name: &str,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome> {
    let schedule = store::find(ctx, name)?;
    let run_id = store::start_run(ctx, &schedule.name)?;
    let before = store::last_backup_id(ctx).unwrap_or(0);
    let result = steps(ctx, &schedule, run_id, sink, cancel).await;
    let (backup_id, error) = match &result {
        Ok(outcome) => (Some(outcome.backup.backup_id), None),
        Err(failure) => (
            failure.backup_id.or_else(|| {
                store::backup_since(ctx, &schedule.profile, &schedule.database, before)
                    .ok()
                    .flatten()
            }),
            Some(&failure.error),
        ),
    };
    store::finish_run(ctx, run_id, backup_id, error)?;
    result.map_err(|failure| failure.error)
}

/// The first error of a run, and the backup it made when it got that far.
struct Failure {
    error: Error,
    backup_id: Option<i64>,
}

async fn steps(
    ctx: &Ctx,
    schedule: &Schedule,
    run_id: i64,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<RunOutcome, Failure> {
    // The backup and the drill are recorded in the activity, as the schedule's.
    let request = backup_request(ctx, schedule)?;
    let made = activity::backup(ctx, ActivityOrigin::Schedule, request, sink, cancel)
        .await
        .map_err(|error| Failure { error, backup_id: None })?;
    let backup_id = Some(made.backup_id);
    // After a backup, each step runs even when one before it failed; the first error counts.
    let mut first: Option<Error> = None;
    let mut note = |result: Result<()>| {
        if let Err(error) = result
            && first.is_none()
        {
            first = Some(error);
        }
    };
    let drill = match drill_due(ctx, schedule) {
        Ok(true) => match run_drill(ctx, schedule, &made, sink, cancel).await {
            Ok(report) => {
                note(drill_passed(&report, &made));
                Some(report)
            }
            Err(error) => {
                note(Err(error));
                None
            }
        },
        Ok(false) => None,
        Err(error) => {
            note(Err(error));
            None
        }
    };
    let copy = match &schedule.copy_to {
        Some(destination) => {
            let request =
                CopyRequest { backup_id: made.backup_id, destination: destination.clone() };
            match copy::copy_backup(ctx, request, sink, cancel).await {
                Ok(outcome) => {
                    // A destination that is not there is a reminder, not a failed run.
                    if outcome.status != crate::storage::catalog::CopyStatus::Copied {
                        sink.emit(ProgressEvent::Warning { message: outcome.message.clone() });
                    }
                    Some(outcome)
                }
                Err(error) => {
                    note(Err(error));
                    None
                }
            }
        }
        None => None,
    };
    let pruned = if schedule.keep.any() && !cancel.is_cancelled() {
        match retention::prune(ctx, prune_request(schedule)).await {
            Ok(report) => Some(report),
            Err(error) => {
                note(Err(error));
                None
            }
        }
    } else {
        None
    };
    match first {
        Some(error) => Err(Failure { error, backup_id }),
        None => Ok(RunOutcome {
            schedule: schedule.name.clone(),
            run_id,
            backup: made,
            drill,
            copy,
            pruned,
        }),
    }
}

fn backup_request(ctx: &Ctx, schedule: &Schedule) -> Result<StartBackup, Failure> {
    let destination = match &schedule.out_dir {
        Some(dir) => PathBuf::from(dir),
        None => backup::default_folder(ctx).map_err(|error| Failure { error, backup_id: None })?,
    };
    Ok(StartBackup {
        profile: schedule.profile.clone(),
        database: schedule.database.clone(),
        destination: destination.display().to_string(),
        format: schedule.format,
        compression: None,
        scope: BackupScope::default(),
        per_schema: false,
        jobs: None,
        globals: false,
        role_passwords: false,
        keep_needed: false,
        leave_out_dependents: false,
    })
}

/// Whether this run drills: always with `after`; with `weekly` when no backup of this database
/// was drilled in the last week.
fn drill_due(ctx: &Ctx, schedule: &Schedule) -> Result<bool> {
    match schedule.drill {
        DrillPolicy::None => Ok(false),
        DrillPolicy::After => Ok(true),
        DrillPolicy::Weekly => {
            let last = store::last_drill(ctx, &schedule.profile, &schedule.database)?;
            let last = last.and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok());
            Ok(last.is_none_or(|at| chrono::Local::now().fixed_offset() - at >= WEEKLY_DRILL_AFTER))
        }
    }
}

async fn run_drill(
    ctx: &Ctx,
    schedule: &Schedule,
    made: &BackupOutcome,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<DrillReport> {
    let target = if schedule.drill_target == "practice" {
        DrillTarget::Practice
    } else {
        DrillTarget::Profile { name: schedule.drill_target.clone() }
    };
    let request =
        DrillRequest { source: made.manifest_path.clone(), target, ..DrillRequest::default() };
    activity::drill(ctx, ActivityOrigin::Schedule, request, sink, cancel).await
}

fn drill_passed(report: &DrillReport, made: &BackupOutcome) -> Result<()> {
    if report.passed {
        return Ok(());
    }
    Err(Error::ScheduleDrillFailed {
        backup: made.manifest_path.clone(),
        failure: report.failure.clone().unwrap_or_else(|| "a check failed".into()),
    })
}

fn prune_request(schedule: &Schedule) -> PruneRequest {
    let keep = schedule.keep;
    PruneRequest {
        profile: schedule.profile.clone(),
        database: schedule.database.clone(),
        policy: RetentionPolicy {
            keep_last: keep.last.unwrap_or(0),
            keep_daily: keep.daily.unwrap_or(0),
            keep_weekly: keep.weekly.unwrap_or(0),
            keep_monthly: keep.monthly.unwrap_or(0),
        },
        dry_run: false,
    }
}
