//! Putting entries into the platform's scheduler and taking them out: systemd user units (files
//! in `~/.config/systemd/user`, enabled by a `timers.target.wants` link; reloaded and started
//! when a user manager runs), a marked crontab line where systemd does not run, a launchd agent
//! on macOS, a Task Scheduler task on Windows. [`Platform`] carries where those live, so tests
//! point it at a temporary home.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use super::model::Schedule;
use super::render::{self, Entry};
use crate::base::error::{Error, Result};
use crate::storage::context::{Ctx, HOME_ENV};

/// Chooses the scheduler instead of detecting it: `systemd`, `cron`, `launchd`, `task-scheduler`.
pub const SCHEDULER_ENV: &str = "LIFEBOAT_SCHEDULER";

/// The name of the daily `lifeboat remind --notify` entry.
pub const REMIND_NAME: &str = "lifeboat-remind";

/// When the daily reminder runs.
const REMIND_AT: (u32, u32) = (9, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    Systemd,
    Cron,
    Launchd,
    TaskScheduler,
}

impl Scheduler {
    pub fn title(self) -> &'static str {
        match self {
            Scheduler::Systemd => "systemd user timer",
            Scheduler::Cron => "crontab",
            Scheduler::Launchd => "launchd agent",
            Scheduler::TaskScheduler => "Task Scheduler",
        }
    }

    fn parse(text: &str) -> Option<Scheduler> {
        match text.trim().to_ascii_lowercase().as_str() {
            "systemd" => Some(Scheduler::Systemd),
            "cron" => Some(Scheduler::Cron),
            "launchd" => Some(Scheduler::Launchd),
            "task-scheduler" | "windows" => Some(Scheduler::TaskScheduler),
            _ => None,
        }
    }
}

/// Where this user's scheduler keeps its entries, and the program they run.
#[derive(Debug, Clone)]
pub struct Platform {
    pub scheduler: Scheduler,
    /// The user's home (the scheduler's `HOME`).
    pub home: PathBuf,
    /// `XDG_CONFIG_HOME` (default `~/.config`): systemd user units go in `systemd/user` there.
    pub config_dir: PathBuf,
    /// The absolute path of the `lifeboat` binary the entries run.
    pub exe: PathBuf,
    /// Whether a systemd user manager runs (then it is reloaded and the timer started).
    pub systemd_manager: bool,
}

impl Platform {
    /// This user's scheduler: `LIFEBOAT_SCHEDULER` when set, else launchd on macOS, Task
    /// Scheduler on Windows, on Linux systemd when it runs the user's session, else cron.
    pub fn detect() -> Result<Platform> {
        let home = dirs::home_dir().ok_or_else(|| Error::SchedulerUnavailable {
            detail: "this system reports no home folder for the current user".into(),
        })?;
        let config_dir = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        let exe = std::env::current_exe().map_err(|source| Error::Io {
            action: "Finding the lifeboat program",
            path: PathBuf::from("(current program)"),
            source,
        })?;
        let systemd_manager = Path::new("/run/systemd/system").is_dir()
            && std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|dir| Path::new(&dir).join("systemd/private").exists());
        let forced = std::env::var(SCHEDULER_ENV).ok().filter(|s| !s.trim().is_empty());
        let scheduler = match forced {
            Some(text) => Scheduler::parse(&text).ok_or_else(|| Error::InvalidInput {
                field: SCHEDULER_ENV,
                problem: format!(
                    "\"{text}\" is not a scheduler: use systemd, cron, launchd or task-scheduler"
                ),
            })?,
            None if cfg!(target_os = "macos") => Scheduler::Launchd,
            None if cfg!(windows) => Scheduler::TaskScheduler,
            None if systemd_manager => Scheduler::Systemd,
            None => Scheduler::Cron,
        };
        Ok(Platform { scheduler, home, config_dir, exe, systemd_manager })
    }

    /// `~/.config/systemd/user`.
    pub fn unit_dir(&self) -> PathBuf {
        self.config_dir.join("systemd").join("user")
    }

    /// `~/Library/LaunchAgents/<label>.plist`.
    fn plist_path(&self, name: &str) -> PathBuf {
        self.home
            .join("Library/LaunchAgents")
            .join(format!("{}{name}.plist", render::LAUNCHD_PREFIX))
    }

    /// The data folder a scheduled `lifeboat` finds without `LIFEBOAT_HOME`.
    fn default_data_dir(&self) -> PathBuf {
        if cfg!(any(target_os = "macos", windows)) {
            dirs::data_dir().unwrap_or_default().join("Lifeboat")
        } else {
            // The scheduler's environment has no XDG_DATA_HOME.
            self.home.join(".local/share/Lifeboat")
        }
    }

    /// What the entries set: `LIFEBOAT_HOME` unless the data folder is the one a scheduled run
    /// finds by itself, and `LIFEBOAT_PG_BUNDLE` when this process was given one.
    pub fn entry_env(&self, ctx: &Ctx) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if ctx.data_dir.path() != self.default_data_dir() {
            env.push((HOME_ENV.to_owned(), ctx.data_dir.path().display().to_string()));
        }
        if let Some(bundle) = std::env::var_os(crate::base::tools::BUNDLE_ENV) {
            env.push((crate::base::tools::BUNDLE_ENV.to_owned(), bundle.to_string_lossy().into()));
        }
        env
    }

    /// The entry that runs `schedule`.
    pub fn schedule_entry(&self, ctx: &Ctx, schedule: &Schedule) -> Entry {
        let (hour, minute) = schedule.hour_minute();
        Entry {
            name: schedule.name.clone(),
            description: format!(
                "Lifeboat: back up {} ({}) {}",
                schedule.database,
                schedule.profile,
                schedule.describe_when()
            ),
            argv: vec![
                self.exe.display().to_string(),
                "schedule".into(),
                "run".into(),
                schedule.name.clone(),
            ],
            env: self.entry_env(ctx),
            days: schedule.weekdays(),
            hour,
            minute,
        }
    }

    /// The daily `lifeboat remind --notify`.
    pub fn remind_entry(&self, ctx: &Ctx) -> Entry {
        Entry {
            name: REMIND_NAME.to_owned(),
            description: "Lifeboat: remind about backups that need attention".into(),
            argv: vec![self.exe.display().to_string(), "remind".into(), "--notify".into()],
            env: self.entry_env(ctx),
            days: (0..7).collect(),
            hour: REMIND_AT.0,
            minute: REMIND_AT.1,
        }
    }
}

/// One piece of an installed entry: where it is, and its text as the scheduler has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EntryText {
    /// A file, or "crontab", or the task's path.
    pub location: String,
    pub text: String,
}

/// The text of `entry` as installed for `platform`, without installing it.
pub fn rendered(platform: &Platform, entry: &Entry, data_dir: &str) -> Vec<EntryText> {
    let at = |path: PathBuf, text: String| EntryText { location: path.display().to_string(), text };
    match platform.scheduler {
        Scheduler::Systemd => vec![
            at(
                platform.unit_dir().join(format!("{}.service", entry.name)),
                render::systemd_service(entry),
            ),
            at(
                platform.unit_dir().join(format!("{}.timer", entry.name)),
                render::systemd_timer(entry),
            ),
        ],
        Scheduler::Cron => vec![EntryText {
            location: "crontab".into(),
            text: format!(
                "{}\n{}\n",
                render::cron_marker(&entry.name, data_dir),
                render::cron_line(entry)
            ),
        }],
        Scheduler::Launchd => {
            vec![at(platform.plist_path(&entry.name), render::launchd_plist(entry))]
        }
        Scheduler::TaskScheduler => vec![EntryText {
            location: render::task_path(&entry.name),
            text: render::task_xml(entry),
        }],
    }
}

/// Installs (or replaces) `entry`.
pub fn install(platform: &Platform, entry: &Entry, data_dir: &str) -> Result<()> {
    match platform.scheduler {
        Scheduler::Systemd => install_systemd(platform, entry, data_dir),
        Scheduler::Cron => {
            let current = read_crontab()?;
            let mut text = strip_block(&current, &render::cron_marker(&entry.name, data_dir));
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&rendered(platform, entry, data_dir)[0].text);
            write_crontab(&text)
        }
        Scheduler::Launchd => {
            let path = platform.plist_path(&entry.name);
            write_file(&path, &render::launchd_plist(entry))?;
            launchd_load(&path, &entry.name)
        }
        Scheduler::TaskScheduler => task_create(entry),
    }
}

/// Removes the entry named `name`; one that is not there is not an error.
pub fn uninstall(platform: &Platform, name: &str, data_dir: &str) -> Result<()> {
    match platform.scheduler {
        Scheduler::Systemd => uninstall_systemd(platform, name),
        Scheduler::Cron => {
            let current = read_crontab()?;
            let text = strip_block(&current, &render::cron_marker(name, data_dir));
            if text == current { Ok(()) } else { write_crontab(&text) }
        }
        Scheduler::Launchd => {
            let path = platform.plist_path(name);
            launchd_unload(name);
            remove_file(&path)
        }
        Scheduler::TaskScheduler => task_delete(name),
    }
}

/// The entry named `name` as the scheduler has it now; empty when it is not installed.
pub fn installed(platform: &Platform, name: &str, data_dir: &str) -> Result<Vec<EntryText>> {
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path)
            .ok()
            .map(|text| EntryText { location: path.display().to_string(), text })
    };
    Ok(match platform.scheduler {
        Scheduler::Systemd => ["service", "timer"]
            .iter()
            .filter_map(|ext| read(platform.unit_dir().join(format!("{name}.{ext}"))))
            .collect(),
        Scheduler::Cron => {
            let marker = render::cron_marker(name, data_dir);
            let crontab = read_crontab()?;
            let mut lines = crontab.lines().skip_while(|l| *l != marker);
            match (lines.next(), lines.next()) {
                (Some(m), Some(line)) => {
                    vec![EntryText { location: "crontab".into(), text: format!("{m}\n{line}\n") }]
                }
                _ => Vec::new(),
            }
        }
        Scheduler::Launchd => read(platform.plist_path(name)).into_iter().collect(),
        Scheduler::TaskScheduler => task_query(name).into_iter().collect(),
    })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    let io =
        |source| Error::Io { action: "Writing the scheduler entry", path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            action: "Removing the scheduler entry",
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn install_systemd(platform: &Platform, entry: &Entry, data_dir: &str) -> Result<()> {
    let files = rendered(platform, entry, data_dir);
    for file in &files {
        write_file(Path::new(&file.location), &file.text)?;
    }
    let timer = format!("{}.timer", entry.name);
    if platform.systemd_manager {
        systemctl(&["daemon-reload"])?;
        return systemctl(&["enable", "--now", &timer]);
    }
    // No user manager now: enable it as `systemctl --user enable` would, so the manager starts
    // the timer when it next runs (at the next login).
    let wants = platform.unit_dir().join("timers.target.wants");
    std::fs::create_dir_all(&wants).map_err(|source| Error::Io {
        action: "Enabling the timer",
        path: wants.clone(),
        source,
    })?;
    let link = wants.join(&timer);
    let _ = std::fs::remove_file(&link);
    symlink(&platform.unit_dir().join(&timer), &link)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|source| Error::Io {
        action: "Enabling the timer",
        path: link.to_owned(),
        source,
    })
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::fs::copy(target, link).map(|_| ()).map_err(|source| Error::Io {
        action: "Enabling the timer",
        path: link.to_owned(),
        source,
    })
}

fn uninstall_systemd(platform: &Platform, name: &str) -> Result<()> {
    let timer = format!("{name}.timer");
    if platform.systemd_manager {
        // A timer the manager does not know is not an error here.
        let _ = systemctl(&["disable", "--now", &timer]);
    }
    remove_file(&platform.unit_dir().join("timers.target.wants").join(&timer))?;
    remove_file(&platform.unit_dir().join(&timer))?;
    remove_file(&platform.unit_dir().join(format!("{name}.service")))?;
    if platform.systemd_manager {
        systemctl(&["daemon-reload"])?;
    }
    Ok(())
}

fn systemctl(args: &[&str]) -> Result<()> {
    run_tool("systemd user manager", Command::new("systemctl").arg("--user").args(args), None)
        .map(|_| ())
}

/// Runs a scheduler's program; its stdout, or its complaint as [`Error::SchedulerFailed`].
fn run_tool(scheduler: &'static str, command: &mut Command, input: Option<&str>) -> Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::SchedulerUnavailable {
                detail: format!("the program {program} is not installed"),
            },
            _ => Error::SchedulerFailed { scheduler, detail: format!("{program}: {e}") },
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| Error::SchedulerFailed { scheduler, detail: format!("{program}: {e}") })?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::SchedulerFailed { scheduler, detail: format!("{program}: {e}") })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(Error::SchedulerFailed { scheduler, detail: format!("{program}: {stderr}") })
}

/// The user's crontab; empty when there is none yet.
fn read_crontab() -> Result<String> {
    match run_tool("crontab", Command::new("crontab").arg("-l"), None) {
        Err(Error::SchedulerFailed { detail, .. }) if detail.contains("no crontab for") => {
            Ok(String::new())
        }
        other => other,
    }
}

fn write_crontab(text: &str) -> Result<()> {
    run_tool("crontab", Command::new("crontab").arg("-"), Some(text)).map(|_| ())
}

/// `crontab` without the line `marker` and the entry under it.
pub fn strip_block(crontab: &str, marker: &str) -> String {
    let mut out = String::new();
    let mut lines = crontab.lines();
    while let Some(line) = lines.next() {
        if line == marker {
            lines.next();
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(target_os = "macos")]
fn gui_domain() -> Result<String> {
    let uid = run_tool("launchd", Command::new("id").arg("-u"), None)?;
    Ok(format!("gui/{}", uid.trim()))
}

#[cfg(target_os = "macos")]
fn launchd_load(path: &Path, name: &str) -> Result<()> {
    launchd_unload(name);
    let domain = gui_domain()?;
    run_tool("launchd", Command::new("launchctl").arg("bootstrap").arg(&domain).arg(path), None)
        .map(|_| ())
}

#[cfg(target_os = "macos")]
fn launchd_unload(name: &str) {
    if let Ok(domain) = gui_domain() {
        let target = format!("{domain}/{}{name}", render::LAUNCHD_PREFIX);
        let _ = run_tool("launchd", Command::new("launchctl").args(["bootout", &target]), None);
    }
}

/// Elsewhere the agent's file is written; launchd reads it at the next login on a Mac.
#[cfg(not(target_os = "macos"))]
fn launchd_load(_path: &Path, _name: &str) -> Result<()> {
    Ok(())
}

#[cfg(not(target_os = "macos"))]
fn launchd_unload(_name: &str) {}

#[cfg(windows)]
fn task_create(entry: &Entry) -> Result<()> {
    // schtasks reads the XML as UTF-16 (its declaration says so).
    let xml = render::task_xml(entry);
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
    let file = std::env::temp_dir().join(format!("{}-{}.xml", entry.name, std::process::id()));
    std::fs::write(&file, bytes).map_err(|source| Error::Io {
        action: "Writing the task",
        path: file.clone(),
        source,
    })?;
    let created = run_tool(
        "Task Scheduler",
        Command::new("schtasks")
            .args(["/Create", "/F", "/TN", &render::task_path(&entry.name), "/XML"])
            .arg(&file),
        None,
    );
    let _ = std::fs::remove_file(&file);
    created.map(|_| ())
}

#[cfg(windows)]
fn task_delete(name: &str) -> Result<()> {
    match run_tool(
        "Task Scheduler",
        Command::new("schtasks").args(["/Delete", "/F", "/TN", &render::task_path(name)]),
        None,
    ) {
        Err(Error::SchedulerFailed { detail, .. }) if detail.contains("cannot find") => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(windows)]
fn task_query(name: &str) -> Option<EntryText> {
    let path = render::task_path(name);
    let xml = run_tool(
        "Task Scheduler",
        Command::new("schtasks").args(["/Query", "/XML", "/TN", &path]),
        None,
    )
    .ok()?;
    Some(EntryText { location: path, text: xml })
}

/// Task Scheduler exists only on Windows.
#[cfg(not(windows))]
fn task_create(_entry: &Entry) -> Result<()> {
    Err(Error::SchedulerUnavailable { detail: "Task Scheduler exists only on Windows".into() })
}

#[cfg(not(windows))]
fn task_delete(_name: &str) -> Result<()> {
    Ok(())
}

#[cfg(not(windows))]
fn task_query(_name: &str) -> Option<EntryText> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crontab_block_is_removed_by_its_marker_and_other_lines_stay() {
        let marker = render::cron_marker("lifeboat-a-b", "/data");
        let other = render::cron_marker("lifeboat-a-c", "/data");
        let crontab =
            format!("MAILTO=me\n{marker}\n30 2 * * * x\n5 4 * * * mine\n{other}\n1 1 * * * y\n");
        assert_eq!(
            strip_block(&crontab, &marker),
            format!("MAILTO=me\n5 4 * * * mine\n{other}\n1 1 * * * y\n")
        );
        assert_eq!(strip_block("", &marker), "");
    }
}
