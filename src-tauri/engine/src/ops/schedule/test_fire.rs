//! Test-fire: runs a schedule's installed command line, exactly as the scheduler has it, in the
//! environment the scheduler gives it (no display, no session bus: the entry's own variables,
//! `HOME`, the user's name and the scheduler's `PATH`), then says what broke there and how to
//! fix it, before the first night fails. The run is a real run, recorded like any other.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use serde::Serialize;

use super::install::{self, Platform, Scheduler};
use super::render;
use super::store::{self, ScheduleRun};
use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, PasswordSource};

/// The `PATH` a systemd user manager gives its services.
const SYSTEMD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The `PATH` cron gives its jobs.
const CRON_PATH: &str = "/usr/bin:/bin";
/// The `PATH` launchd gives its agents.
const LAUNCHD_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";
/// How much of the run's output the report keeps (its last lines).
const OUTPUT_LINES: usize = 40;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// An error code of the run, or `linger_off`, `entry_missing`.
    pub code: String,
    pub message: String,
    /// The way out, in plain words.
    pub fix: String,
    /// Whether it makes the scheduled run fail (else it is worth knowing only).
    pub blocking: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TestFireReport {
    pub schedule: String,
    pub scheduler: Scheduler,
    /// The program and its arguments, as the scheduler starts them.
    pub command: Vec<String>,
    /// Every variable the command had: nothing else.
    pub environment: Vec<(String, String)>,
    /// Absent when it could not run or a signal ended it.
    pub exit_code: Option<i32>,
    /// It ran, exited 0, and nothing stands in the way of the nightly run.
    pub passed: bool,
    /// The run it recorded.
    pub run: Option<ScheduleRun>,
    /// The last lines it wrote.
    pub output: String,
    pub problems: Vec<Problem>,
}

/// Test-fires schedule `name` through its installed entry.
pub async fn test_fire(ctx: &Ctx, platform: &Platform, name: &str) -> Result<TestFireReport> {
    let schedule = store::find(ctx, name)?;
    let data_dir = ctx.data_dir.path().display().to_string();
    let mut report = TestFireReport {
        schedule: schedule.name.clone(),
        scheduler: platform.scheduler,
        command: Vec::new(),
        environment: Vec::new(),
        exit_code: None,
        passed: false,
        run: None,
        output: String::new(),
        problems: Vec::new(),
    };
    let Some((command, environment)) = scheduled_command(ctx, platform, &schedule.name, &data_dir)?
    else {
        report.problems.push(Problem {
            code: "entry_missing".into(),
            message: format!(
                "The {} has no entry for {}: it will never run.",
                platform.scheduler.title(),
                schedule.name
            ),
            fix: format!(
                "Remove the schedule (`lifeboat schedule remove {0}`) and add it again, so Lifeboat \
                 installs its entry.",
                schedule.name
            ),
            blocking: true,
        });
        return Ok(report);
    };
    report.command = command;
    report.environment = environment;
    let newest = store::runs(ctx, &schedule.name, 1)?.first().map_or(0, |r| r.id);
    fire(&mut report).await?;
    report.run = store::runs(ctx, &schedule.name, 1)?.into_iter().find(|r| r.id > newest);
    diagnose(ctx, platform, &schedule, &mut report);
    report.passed = report.exit_code == Some(0) && !report.problems.iter().any(|p| p.blocking);
    Ok(report)
}

/// A command line and the whole environment it runs with.
type Scheduled = (Vec<String>, Vec<(String, String)>);

/// The installed command line and the scheduler's environment for it; None when the entry is
/// not installed.
fn scheduled_command(
    ctx: &Ctx,
    platform: &Platform,
    name: &str,
    data_dir: &str,
) -> Result<Option<Scheduled>> {
    let installed = install::installed(platform, name, data_dir)?;
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let home = platform.home.display().to_string();
    let base = |path: &str, shell: &str| {
        vec![
            ("HOME".to_owned(), home.clone()),
            ("LOGNAME".to_owned(), user.clone()),
            ("USER".to_owned(), user.clone()),
            ("SHELL".to_owned(), shell.to_owned()),
            ("PATH".to_owned(), path.to_owned()),
        ]
    };
    Ok(match platform.scheduler {
        Scheduler::Systemd => {
            let Some(service) = installed.iter().find(|e| e.location.ends_with(".service")) else {
                return Ok(None);
            };
            let mut env = base(SYSTEMD_PATH, "/bin/sh");
            let mut argv = Vec::new();
            for line in service.text.lines() {
                if let Some(value) = line.strip_prefix("Environment=") {
                    env.extend(render::parse_environment(value));
                } else if let Some(value) = line.strip_prefix("ExecStart=") {
                    argv = render::parse_exec_start(value);
                }
            }
            Some((argv, env))
        }
        Scheduler::Cron => installed.first().and_then(|entry| {
            let line = entry.text.lines().nth(1)?;
            let command = render::cron_command(line)?;
            Some((vec!["/bin/sh".into(), "-c".into(), command], base(CRON_PATH, "/bin/sh")))
        }),
        // launchd and Task Scheduler run what Lifeboat wrote for them.
        Scheduler::Launchd | Scheduler::TaskScheduler => {
            if installed.is_empty() {
                return Ok(None);
            }
            let schedule = store::find(ctx, name)?;
            let entry = platform.schedule_entry(ctx, &schedule);
            let mut env = base(LAUNCHD_PATH, "/bin/sh");
            if platform.scheduler == Scheduler::TaskScheduler {
                env = ["SystemRoot", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PATH"]
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
                    .collect();
            }
            env.extend(entry.env.clone());
            Some((entry.argv, env))
        }
    })
}

/// Runs the command with nothing but its environment; keeps the exit code and the output's end.
async fn fire(report: &mut TestFireReport) -> Result<()> {
    let Some((program, args)) = report.command.split_first() else {
        return Err(Error::SchedulerFailed {
            scheduler: "scheduler entry",
            detail: "the installed entry has no command line".into(),
        });
    };
    let output = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(report.environment.iter().map(|(k, v)| (k, v)))
        .current_dir(Path::new(&report.environment_value("HOME").unwrap_or_else(|| "/".into())))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| Error::Io {
            action: "Starting the scheduled command",
            path: program.into(),
            source,
        })?;
    report.exit_code = output.status.code();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    report.output = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n");
    Ok(())
}

impl TestFireReport {
    fn environment_value(&self, name: &str) -> Option<String> {
        self.environment.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// What broke, in plain words: the run's error (the keychain explained), or a command that did
/// not run at all; and, for systemd, timers that only run while the user is logged in.
fn diagnose(
    ctx: &Ctx,
    platform: &Platform,
    schedule: &super::model::Schedule,
    report: &mut TestFireReport,
) {
    let run_error = report.run.as_ref().and_then(|r| r.error_code.clone());
    match run_error.as_deref() {
        Some(code @ ("keychain_unavailable" | "keychain_locked" | "keychain")) => {
            let mut names = BTreeSet::new();
            for name in [&schedule.profile, &schedule.drill_target] {
                if let Ok(profile) = profiles::find_profile(ctx, name)
                    && profile.settings.password_source == PasswordSource::Keychain
                {
                    names.insert(profile.settings.name.clone());
                }
            }
            report.problems.push(keychain_problem(code, platform.scheduler, &names));
        }
        Some(code) => {
            let message = report.run.as_ref().and_then(|r| r.error_message.clone());
            let hint = report.output.lines().find_map(|l| l.strip_prefix("hint: "));
            report.problems.push(Problem {
                code: code.to_owned(),
                message: format!(
                    "The scheduled run failed: {}",
                    message.unwrap_or_else(|| "see its output".into())
                ),
                fix: hint.unwrap_or("Read the run's output above, fix it, and test again.").into(),
                blocking: true,
            });
        }
        None if report.exit_code != Some(0) => report.problems.push(Problem {
            code: "command_failed".into(),
            message: format!(
                "The scheduled command ended with {} before Lifeboat recorded a run.",
                report.exit_code.map_or("a signal".to_owned(), |c| format!("exit code {c}"))
            ),
            fix: "Read its output above. When the program is missing, Lifeboat was moved or \
                  removed since the schedule was added: remove the schedule and add it again."
                .into(),
            blocking: true,
        }),
        None => {}
    }
    if platform.scheduler == Scheduler::Systemd && !lingering() {
        report.problems.push(Problem {
            code: "linger_off".into(),
            message: "systemd runs your user timers only while you are logged in: a backup due \
                      while you are logged out runs at your next login."
                .into(),
            fix: "Let your timers run without a login: `sudo loginctl enable-linger $USER`.".into(),
            blocking: false,
        });
    }
}

/// Whether systemd keeps this user's manager running without a login.
fn lingering() -> bool {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    Path::new("/var/lib/systemd/linger").join(user).exists()
}

fn keychain_problem(code: &str, scheduler: Scheduler, profiles: &BTreeSet<String>) -> Problem {
    let names = profiles.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" and ");
    let whose =
        if names.is_empty() { "the profile".to_owned() } else { format!("profile {names}") };
    Problem {
        code: code.to_owned(),
        message: format!(
            "The {} starts Lifeboat without your desktop session, so the system keychain that \
             holds the password of {whose} cannot be reached there: the scheduled backup \
             would fail every time.",
            scheduler.title()
        ),
        fix: format!(
            "Put the password in your ~/.pgpass file (a line host:port:*:user:password, then \
             `chmod 600 ~/.pgpass`), remove {whose} and add it again with `lifeboat profile add \
             … --use-pgpass`. Or keep it in the keychain and have the keychain unlocked at \
             login and reachable from your user's services; runs while you are logged out will \
             still fail."
        ),
        blocking: true,
    }
}
