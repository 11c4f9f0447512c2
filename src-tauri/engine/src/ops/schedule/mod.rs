//! Schedules, through the OS scheduler: a backup of one database daily or on chosen weekdays,
//! optionally followed by a drill, a second copy and retention. Lifeboat keeps each schedule in
//! the store and installs an entry that runs `lifeboat schedule run NAME` in the platform's
//! scheduler (a systemd user timer, else a crontab line, on Linux; a launchd agent on macOS; a
//! Task Scheduler task on Windows), plus the daily `lifeboat remind --notify` with the first
//! schedule (removed with the last). The entries run the absolute path of this `lifeboat` and
//! set `LIFEBOAT_HOME` when the data folder is not the one a scheduled run finds by itself.
//!
//! - [`add`], [`list`], [`show`] (the entry as installed, verbatim), [`remove`];
//! - [`run`]: what the scheduler calls, recorded in `schedule_runs`;
//! - [`test_fire`]: the installed command line in the scheduler's bare environment, and what
//!   breaks there.

mod install;
mod model;
mod render;
mod run;
mod store;
mod test_fire;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
use crate::storage::profiles;

pub use install::{EntryText, Platform, REMIND_NAME, SCHEDULER_ENV, Scheduler};
pub use model::{DrillPolicy, Keep, Schedule, ScheduleInput, schedule_name};
pub use render::{Entry, cron_command, on_calendar, parse_exec_start};
pub use run::{RunOutcome, run};
pub use store::{ScheduleRun, runs};
pub use test_fire::{Problem, TestFireReport};

/// A schedule and its latest run.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSummary {
    #[serde(flatten)]
    pub schedule: Schedule,
    pub last_run: Option<ScheduleRun>,
}

/// A schedule and its entry in the scheduler.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEntry {
    pub schedule: Schedule,
    pub scheduler: Scheduler,
    /// Whether the scheduler has the entry now; when not, `entries` is what Lifeboat would
    /// install.
    pub installed: bool,
    pub entries: Vec<EntryText>,
}

/// Adds a schedule and installs it in this user's scheduler.
pub async fn add(ctx: &Ctx, input: ScheduleInput) -> Result<Schedule> {
    add_with(ctx, &Platform::detect()?, input).await
}

/// [`add`] with the scheduler and the folders given (tests use a temporary home).
pub async fn add_with(ctx: &Ctx, platform: &Platform, input: ScheduleInput) -> Result<Schedule> {
    let schedule = validate(ctx, input)?;
    if store::exists(ctx, &schedule.name)? {
        return Err(Error::ScheduleExists { name: schedule.name });
    }
    if let Some(out) = &schedule.out_dir {
        create_private_dir(Path::new(out))?;
    }
    let data_dir = ctx.data_dir.path().display().to_string();
    let first = store::all(ctx)?.is_empty();
    install::install(platform, &platform.schedule_entry(ctx, &schedule), &data_dir)?;
    let remind = if first {
        install::install(platform, &platform.remind_entry(ctx), &data_dir)
    } else {
        Ok(())
    };
    if let Err(error) = remind.and_then(|()| store::insert(ctx, &schedule)) {
        // Nothing half-installed: the entry goes again (and the reminder with the first one).
        let _ = install::uninstall(platform, &schedule.name, &data_dir);
        if first {
            let _ = install::uninstall(platform, REMIND_NAME, &data_dir);
        }
        return Err(error);
    }
    Ok(schedule)
}

pub async fn list(ctx: &Ctx) -> Result<Vec<ScheduleSummary>> {
    store::all(ctx)?
        .into_iter()
        .map(|schedule| {
            let last_run = store::runs(ctx, &schedule.name, 1)?.into_iter().next();
            Ok(ScheduleSummary { schedule, last_run })
        })
        .collect()
}

/// The schedule and its entry as the scheduler has it, verbatim.
pub async fn show(ctx: &Ctx, name: &str) -> Result<ScheduleEntry> {
    show_with(ctx, &Platform::detect()?, name).await
}

pub async fn show_with(ctx: &Ctx, platform: &Platform, name: &str) -> Result<ScheduleEntry> {
    let schedule = store::find(ctx, name)?;
    let data_dir = ctx.data_dir.path().display().to_string();
    let entries = install::installed(platform, &schedule.name, &data_dir)?;
    let installed = !entries.is_empty();
    let entries = if installed {
        entries
    } else {
        install::rendered(platform, &platform.schedule_entry(ctx, &schedule), &data_dir)
    };
    Ok(ScheduleEntry { schedule, scheduler: platform.scheduler, installed, entries })
}

/// Removes a schedule and its entry (and the daily reminder with the last schedule). Its runs
/// stay in the store as history.
pub async fn remove(ctx: &Ctx, name: &str) -> Result<Schedule> {
    remove_with(ctx, &Platform::detect()?, name).await
}

pub async fn remove_with(ctx: &Ctx, platform: &Platform, name: &str) -> Result<Schedule> {
    let schedule = store::find(ctx, name)?;
    let data_dir = ctx.data_dir.path().display().to_string();
    install::uninstall(platform, &schedule.name, &data_dir)?;
    store::delete(ctx, &schedule.name)?;
    if store::all(ctx)?.is_empty() {
        install::uninstall(platform, REMIND_NAME, &data_dir)?;
    }
    Ok(schedule)
}

/// Runs the schedule's installed command in the scheduler's environment and reports what
/// breaks there.
pub async fn test_fire(ctx: &Ctx, name: &str) -> Result<TestFireReport> {
    test_fire::test_fire(ctx, &Platform::detect()?, name).await
}

pub async fn test_fire_with(ctx: &Ctx, platform: &Platform, name: &str) -> Result<TestFireReport> {
    test_fire::test_fire(ctx, platform, name).await
}

/// The schedule `input` asks for, checked: the profiles exist, the time and days read, the
/// folders are absolute (a scheduler starts elsewhere) and without control characters.
fn validate(ctx: &Ctx, input: ScheduleInput) -> Result<Schedule> {
    let profile = profiles::find_profile(ctx, &input.profile)?.settings.name;
    let database = input.database.trim().to_owned();
    if database.is_empty() || database.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            field: "database",
            problem: "name the database to back up (no control characters)".into(),
        });
    }
    let (hour, minute) = model::parse_time(&input.time)?;
    let days = model::days_text(&model::parse_days(&input.days)?);
    let drill_target = match input.drill_target.as_deref().map(str::trim) {
        None | Some("") | Some("practice") => "practice".to_owned(),
        Some(name) => profiles::find_profile(ctx, name)?.settings.name,
    };
    for (field, value) in [
        ("keep-last", input.keep.last),
        ("keep-daily", input.keep.daily),
        ("keep-weekly", input.keep.weekly),
        ("keep-monthly", input.keep.monthly),
    ] {
        if value == Some(0) {
            return Err(Error::InvalidInput {
                field,
                problem: "must be 1 or more (leave it out to keep no backups by this rule)".into(),
            });
        }
    }
    let name = model::schedule_name(&profile, &database);
    debug_assert!(model::is_safe_name(&name), "{name}");
    Ok(Schedule {
        name,
        profile,
        database,
        days,
        time: format!("{hour:02}:{minute:02}"),
        format: input.format,
        out_dir: absolute("out", input.out_dir)?,
        drill: input.drill,
        drill_target,
        keep: input.keep,
        copy_to: absolute("copy-to", input.copy_to)?,
        created_at: chrono::Local::now().to_rfc3339(),
    })
}

fn absolute(field: &'static str, dir: Option<String>) -> Result<Option<String>> {
    let Some(dir) = dir.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if dir.chars().any(char::is_control) {
        return Err(Error::InvalidInput { field, problem: "contains a control character".into() });
    }
    let path = std::path::absolute(PathBuf::from(&dir)).map_err(|source| Error::Io {
        action: "Reading the folder",
        path: dir.into(),
        source,
    })?;
    Ok(Some(path.display().to_string()))
}

/// Creates the backup folder when missing, readable by its owner only.
fn create_private_dir(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|source| Error::Io {
        action: "Creating the backup folder",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
