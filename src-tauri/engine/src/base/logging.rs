//! Lifeboat's log: what the desktop app and the `lifeboat` CLI did, for whoever has to find out
//! later why something failed. Plain text lines in `logs/lifeboat.YYYY-MM-DD.log` (UTC days) in
//! the data folder; a new file each day, the newest [`KEPT_FILES`] kept.
//!
//! What is logged: each operation's start and end with its duration and outcome (its error code
//! and message when it failed, see [`Op`]), each PostgreSQL program started (program and major,
//! never its arguments or environment) and how it ended. What is never logged: a password in
//! any form. Passwords travel only as [`crate::util::secret::Secret`] (which prints as `***`) and
//! in a child's environment, neither of which is logged; addresses are logged without their
//! `user:password@` ([`redact_urls`]).
//!
//! The files are owner-only like everything in the data folder. tracing-appender creates each
//! day's file itself with the process's umask, so [`PrivateDaily`] creates the day's file first
//! (0600, never through a link) and the appender then only appends to it.
//!
//! `LIFEBOAT_LOG` sets the level of Lifeboat's own lines (`off`, `error`, `warn`, `info` (the
//! default), `debug`, `trace`); other libraries log warnings and errors only, whatever it says,
//! so that no library's debug output (request headers, connection details) reaches the file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use chrono::NaiveDate;
use tracing::level_filters::LevelFilter;
use tracing_appender::rolling::{RollingFileAppender, RollingWriter, Rotation};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::EitherWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use crate::base::error::{Error, ErrorCode, ErrorPayload, Result};
use crate::util::private_fs;
use crate::util::redact::redact_urls;

/// The environment variable that sets the level of Lifeboat's own lines.
pub const LEVEL_ENV: &str = "LIFEBOAT_LOG";
/// How many daily files are kept.
pub const KEPT_FILES: usize = 7;
const PREFIX: &str = "lifeboat";
const SUFFIX: &str = "log";
/// The crates whose lines follow [`LEVEL_ENV`]: the engine, the CLI and the desktop shell.
const OWN_TARGETS: [&str; 3] = ["lifeboat_engine", "lifeboat", "lifeboat_desktop"];
/// How much of the end of each file is read for [`recent_problems`].
const TAIL_BYTES: u64 = 1 << 20;

/// The log folder in the data folder `data_dir`.
pub fn folder(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The file of UTC day `day`, named as tracing-appender's daily rotation names it.
fn file_name(day: NaiveDate) -> String {
    format!("{PREFIX}.{}.{SUFFIX}", day.format("%Y-%m-%d"))
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// tracing-appender's daily files, each created owner-only before the appender opens it.
struct PrivateDaily {
    folder: PathBuf,
    appender: RollingFileAppender,
    /// The day whose file was last made ready.
    ready: Mutex<Option<NaiveDate>>,
}

impl PrivateDaily {
    fn open(folder: &Path) -> io::Result<PrivateDaily> {
        // The appender opens today's file when it is built: it must exist (private) by then.
        let day = today();
        drop(private_fs::open_private(&folder.join(file_name(day)), true)?);
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(PREFIX)
            .filename_suffix(SUFFIX)
            .max_log_files(KEPT_FILES)
            .build(folder)
            .map_err(io::Error::other)?;
        Ok(PrivateDaily { folder: folder.to_owned(), appender, ready: Mutex::new(Some(day)) })
    }

    /// Creates today's file (0600, not through a link) unless it was made ready already; the
    /// appender, which rolls over on the first line of a new day, then appends to it. False
    /// when it cannot be made: the line is dropped rather than written to a file with a wider
    /// mode.
    fn ready_today(&self) -> bool {
        let day = today();
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        if *ready == Some(day) {
            return true;
        }
        match private_fs::open_private(&self.folder.join(file_name(day)), true) {
            Ok(_) => {
                *ready = Some(day);
                true
            }
            Err(_) => false,
        }
    }
}

impl<'a> MakeWriter<'a> for PrivateDaily {
    type Writer = EitherWriter<RollingWriter<'a>, io::Sink>;

    fn make_writer(&'a self) -> Self::Writer {
        if self.ready_today() {
            EitherWriter::A(self.appender.make_writer())
        } else {
            EitherWriter::B(io::sink())
        }
    }
}

/// The level of Lifeboat's own lines: [`LEVEL_ENV`] when it names one, else `info`.
fn level() -> LevelFilter {
    std::env::var(LEVEL_ENV)
        .ok()
        .and_then(|text| LevelFilter::from_str(text.trim()).ok())
        .unwrap_or(LevelFilter::INFO)
}

/// The subscriber writing to the daily files in `folder` (which must exist).
fn subscriber(folder: &Path, level: LevelFilter) -> io::Result<impl tracing::Subscriber> {
    let targets = OWN_TARGETS
        .iter()
        .fold(Targets::new(), |targets, target| targets.with_target(*target, level))
        .with_default(level.min(LevelFilter::WARN));
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(PrivateDaily::open(folder)?)
        .with_filter(targets);
    Ok(Registry::default().with(layer))
}

/// Starts logging to `logs/` in the data folder `data_dir` (created owner-only) for the rest of
/// the process, and logs that `program` started. Returns the log folder. Fails when the folder
/// or today's file cannot be made, or when this process logs already.
pub fn init(data_dir: &Path, program: &'static str) -> io::Result<PathBuf> {
    let folder = folder(data_dir);
    private_fs::ensure_private_dir(&folder)?;
    tracing::subscriber::set_global_default(subscriber(&folder, level())?)
        .map_err(io::Error::other)?;
    tracing::info!(
        version = crate::VERSION,
        program,
        os = std::env::consts::OS,
        arch = std::env::consts::ARCH,
        "Lifeboat started"
    );
    Ok(folder)
}

/// The serialized name of `code`, as the UI and `--json` show it (`password_failed`).
pub fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// Logs that the CLI runs its command `name` (the subcommand alone, never its arguments).
pub fn command_started(name: &str) {
    tracing::info!(command = name, "command started");
}

/// Logs the error `problem` (its code and message, addresses without passwords) as what
/// happened `during` something.
pub fn error(during: &str, problem: &ErrorPayload) {
    tracing::error!(
        during,
        code = %code_name(problem.code),
        error = ?redact_urls(&problem.message),
        "failed"
    );
}

/// One operation's start and end in the log. `Op::start` logs the start; [`Op::end`] its
/// duration and outcome, and hands the result back:
/// `Op::start("backup", &subject).end(run(ctx, input).await)`.
pub struct Op {
    name: &'static str,
    started: Instant,
}

impl Op {
    /// Logs that operation `name` starts on `subject` (a database, a profile, a backup; any
    /// address in it is logged without its password).
    pub fn start(name: &'static str, subject: &str) -> Op {
        tracing::info!(op = name, subject = ?redact_urls(subject), "operation started");
        Op { name, started: Instant::now() }
    }

    pub fn end<T>(self, result: Result<T>) -> Result<T> {
        let ms = self.started.elapsed().as_millis() as u64;
        let op = self.name;
        match &result {
            Ok(_) => tracing::info!(op, ms, outcome = "ok", "operation finished"),
            Err(Error::Cancelled) => {
                tracing::info!(op, ms, outcome = "cancelled", "operation cancelled")
            }
            Err(error) => tracing::error!(
                op,
                ms,
                outcome = "failed",
                code = %code_name(error.code()),
                error = ?redact_urls(&error.to_string()),
                "operation failed"
            ),
        }
        result
    }
}

/// Runs `work`, operation `name` on `subject`, between its [`Op`] lines in the log.
pub async fn logged<T>(
    name: &'static str,
    subject: &str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let op = Op::start(name, subject);
    op.end(work.await)
}

/// The log files in `folder`, oldest first (their names hold the day).
fn log_files(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name().and_then(|n| n.to_str()).is_some_and(|name| {
                name.starts_with(&format!("{PREFIX}.")) && name.ends_with(&format!(".{SUFFIX}"))
            })
        })
        .collect();
    files.sort();
    files
}

/// The last [`TAIL_BYTES`] of `path`, from its first whole line.
fn tail(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    let start = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(match (start, text.find('\n')) {
        (0, _) | (_, None) => text,
        (_, Some(newline)) => text[newline + 1..].to_owned(),
    })
}

/// Whether a log line is a warning or an error: its second word is the level.
fn is_problem(line: &str) -> bool {
    matches!(line.split_whitespace().nth(1), Some("ERROR" | "WARN"))
}

/// The last `limit` warnings and errors in the log folder `folder`, oldest first.
pub fn recent_problems(folder: &Path, limit: usize) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for path in log_files(folder).iter().rev() {
        let Ok(text) = tail(path) else { continue };
        let mut problems: Vec<String> =
            text.lines().filter(|line| is_problem(line)).map(redact_urls).collect();
        problems.append(&mut found);
        found = problems;
        if found.len() >= limit {
            break;
        }
    }
    let skip = found.len().saturating_sub(limit);
    found.split_off(skip)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// Lines logged through a subscriber on `folder`, as they were written.
    fn logged(folder: &Path, level: LevelFilter, log: impl FnOnce()) -> String {
        let subscriber = subscriber(folder, level).unwrap();
        tracing::subscriber::with_default(subscriber, log);
        log_files(folder).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
    }

    #[test]
    fn the_days_file_is_owner_only_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("logs");
        private_fs::ensure_private_dir(&folder).unwrap();
        // A file the appender would have created itself has the umask's mode (0644 here).
        let text = logged(&folder, LevelFilter::INFO, || tracing::info!("hello"));
        assert!(text.contains("hello"), "{text}");
        let files = log_files(&folder);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].file_name().unwrap().to_str().unwrap(), file_name(today()));
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(&folder), 0o700);
    }

    #[test]
    fn a_wider_file_of_an_earlier_run_is_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(today()));
        std::fs::write(&path, "earlier\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = logged(dir.path(), LevelFilter::INFO, || tracing::warn!("later"));
        assert!(text.starts_with("earlier\n") && text.contains("later"), "{text}");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_link_at_the_days_name_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("canary");
        std::fs::write(&canary, "untouched").unwrap();
        std::os::unix::fs::symlink(&canary, dir.path().join(file_name(today()))).unwrap();
        assert!(subscriber(dir.path(), LevelFilter::INFO).is_err());
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched");
    }

    #[test]
    fn old_files_beyond_the_kept_number_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=10 {
            let old = NaiveDate::from_ymd_opt(2020, 1, day).unwrap();
            private_fs::write_private_file(&dir.path().join(file_name(old)), b"old\n").unwrap();
        }
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "not a log").unwrap();
        logged(dir.path(), LevelFilter::INFO, || tracing::info!("now"));
        let files = log_files(dir.path());
        assert!(files.len() <= KEPT_FILES, "{files:?}");
        assert!(files.iter().any(|f| f.ends_with(file_name(today()))), "{files:?}");
        assert!(other.exists(), "only log files are pruned");
    }

    #[test]
    fn operations_log_their_outcome_code_and_no_password_of_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let text = logged(dir.path(), LevelFilter::INFO, || {
            let ok: Result<u32> = Op::start("verify", "/tmp/x.backup").end(Ok(1));
            assert_eq!(ok.unwrap(), 1);
            let failed: Result<()> = Op::start("restore", "https://me:Pw-in-url@h/x.backup").end(
                Err(Error::DownloadFailed {
                    url: "https://me:Pw-in-url@h/x.backup".into(),
                    detail: "line one\nline two".into(),
                }),
            );
            assert!(failed.is_err());
            let _ = Op::start("backup", "db").end::<()>(Err(Error::Cancelled));
        });
        assert!(!text.contains("Pw-in-url"), "{text}");
        assert!(text.contains("me:***@h"), "{text}");
        assert!(text.contains("op=\"verify\"") && text.contains("outcome=\"ok\""), "{text}");
        assert!(text.contains("code=download_failed"), "{text}");
        assert!(text.contains("outcome=\"cancelled\""), "{text}");
        // A message of several lines stays on one line of the log.
        let failed = text.lines().find(|l| l.contains("code=download_failed")).unwrap();
        assert!(failed.contains("line one\\nline two"), "{failed}");
        assert!(failed.split_whitespace().nth(1) == Some("ERROR"), "{failed}");
    }

    #[test]
    fn the_level_applies_to_lifeboat_and_other_libraries_stay_at_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let text = logged(dir.path(), LevelFilter::DEBUG, || {
            tracing::debug!("own debug line");
            tracing::info!(target: "hyper", "library info line");
            tracing::warn!(target: "zbus", "library warning");
        });
        assert!(text.contains("own debug line"), "{text}");
        assert!(!text.contains("library info line"), "{text}");
        assert!(text.contains("library warning"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let text = logged(dir.path(), LevelFilter::OFF, || {
            tracing::error!("own error");
            tracing::warn!(target: "zbus", "library warning");
        });
        assert!(!text.contains("own error"), "{text}");
        assert!(!text.contains("library warning"), "off is off for everyone: {text}");
    }

    #[test]
    fn recent_problems_are_the_last_warnings_and_errors_across_days() {
        let dir = tempfile::tempdir().unwrap();
        let line = |level: &str, n: u32| format!("2020-01-01T00:00:00.000000Z {level} t: {n}\n");
        let older = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let newer = NaiveDate::from_ymd_opt(2020, 1, 2).unwrap();
        let first = [line("ERROR", 1), line(" INFO", 2), line(" WARN", 3)].concat();
        let second = [line("ERROR", 4), line("DEBUG", 5), line("ERROR", 6)].concat();
        std::fs::write(dir.path().join(file_name(older)), first).unwrap();
        std::fs::write(dir.path().join(file_name(newer)), second).unwrap();
        let ends: Vec<String> = recent_problems(dir.path(), 3)
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
            .collect();
        assert_eq!(ends, ["3", "4", "6"]);
        assert_eq!(recent_problems(dir.path(), 10).len(), 4);
        assert!(recent_problems(&dir.path().join("missing"), 5).is_empty());
    }
}
