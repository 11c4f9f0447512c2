//! The history of jobs (backups, restores, drills) for the Activity view: what each was, when it
//! ran, how it ended, in one sentence, and the last lines its programs wrote.
//!
//! A job is recorded when it ends, by whoever ran it (the window or the CLI), through a
//! [`Tracker`]: its sink forwards every progress event to the caller's sink and keeps the log
//! lines in memory, bounded to [`LOG_LINES`]; `finish` writes one row. A job whose process dies
//! leaves no row (its backup or restore is found by the job sweep in `jobs.rs`). Lines pass
//! through [`redact_urls`] before they are kept, as does every text stored here: a download
//! address may carry a password. The table keeps the newest [`KEEP_ENTRIES`] jobs. Each row
//! says where the job was started ([`ActivityOrigin`]): the window, the CLI, or a schedule.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Local};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, ErrorCode, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::storage::context::Ctx;
use crate::util::redact::redact_urls;

/// How many of a job's last log lines are kept: enough to see what went wrong in a long run.
pub const LOG_LINES: usize = 2_000;
/// How many finished jobs are kept; older ones are forgotten when a new one is recorded.
pub const KEEP_ENTRIES: usize = 500;
/// A longer log line is cut (a program can print a whole row of data in an error).
const LINE_CHARS: usize = 2_000;

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    Backup,
    /// A backup of a whole server (every database and the roles).
    ServerBackup,
    Restore,
    /// A restore drill (a test of a backup).
    Drill,
    /// A restored copy took the live database's name (Recover's last step).
    Swap,
}

impl ActivityKind {
    const ALL: [ActivityKind; 5] = [
        ActivityKind::Backup,
        ActivityKind::ServerBackup,
        ActivityKind::Restore,
        ActivityKind::Drill,
        ActivityKind::Swap,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Backup => "backup",
            ActivityKind::ServerBackup => "server_backup",
            ActivityKind::Restore => "restore",
            ActivityKind::Drill => "drill",
            ActivityKind::Swap => "swap",
        }
    }

    fn parse(text: &str) -> Option<ActivityKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a job was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ActivityOrigin {
    /// The desktop window.
    Desktop,
    /// The `lifeboat` command, run by hand or by a script.
    Cli,
    /// A scheduled run (`lifeboat schedule run`, started by the system's scheduler).
    Schedule,
}

impl ActivityOrigin {
    const ALL: [ActivityOrigin; 3] =
        [ActivityOrigin::Desktop, ActivityOrigin::Cli, ActivityOrigin::Schedule];

    fn as_str(self) -> &'static str {
        match self {
            ActivityOrigin::Desktop => "desktop",
            ActivityOrigin::Cli => "cli",
            ActivityOrigin::Schedule => "schedule",
        }
    }

    fn parse(text: &str) -> Option<ActivityOrigin> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ActivityOutcome {
    Succeeded,
    /// It ended with an error, or (a drill) its test failed.
    Failed,
    Cancelled,
}

impl ActivityOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ActivityOutcome::Succeeded => "succeeded",
            ActivityOutcome::Failed => "failed",
            ActivityOutcome::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> ActivityOutcome {
        match text {
            "succeeded" => ActivityOutcome::Succeeded,
            "cancelled" => ActivityOutcome::Cancelled,
            _ => ActivityOutcome::Failed,
        }
    }
}

/// A job as it starts: what it is, what it works on, on which server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub kind: ActivityKind,
    /// The database backed up, the backup restored or tested, the server backed up.
    pub subject: String,
    /// The profile it ran against, when it has one (a drill on the practice server has none).
    pub profile: Option<String>,
    pub origin: ActivityOrigin,
}

/// A finished job, as the Activity view lists it.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub id: i64,
    pub kind: ActivityKind,
    pub subject: String,
    pub profile: Option<String>,
    /// Where it was started; absent when a newer Lifeboat wrote an origin this one does not
    /// know.
    pub origin: Option<ActivityOrigin>,
    /// RFC 3339, local time.
    pub started_at: String,
    pub ended_at: String,
    pub outcome: ActivityOutcome,
    /// The error's code as serialized (`"tool_failed"`) when it failed with an error (absent
    /// for a drill whose test failed).
    pub error_code: Option<String>,
    /// One sentence: what it made, or what went wrong.
    pub summary: String,
    /// How many log lines are kept ([`activity_log`] returns them).
    pub log_lines: u32,
    /// How many earlier lines were dropped to keep the log bounded.
    pub log_dropped: u32,
}

/// What an operation's result says about its job: how it ended and one sentence on what it did.
pub trait Summary {
    fn summary(&self) -> (ActivityOutcome, String);

    /// The code of what went wrong when the operation returned a value but part of it failed
    /// (a server backup where one database failed).
    fn error_code(&self) -> Option<ErrorCode> {
        None
    }
}

/// A progress sink that forwards every event and keeps the log lines, bounded.
pub struct ActivityLog<'a> {
    inner: &'a dyn ProgressSink,
    lines: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    kept: VecDeque<String>,
    dropped: usize,
}

impl<'a> ActivityLog<'a> {
    pub fn new(inner: &'a dyn ProgressSink) -> ActivityLog<'a> {
        ActivityLog { inner, lines: Mutex::new(Lines::default()) }
    }

    fn push(&self, line: String) {
        let mut line = redact_urls(&line);
        if line.chars().count() > LINE_CHARS {
            line = line.chars().take(LINE_CHARS).chain("…".chars()).collect();
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.kept.len() == LOG_LINES {
            lines.kept.pop_front();
            lines.dropped += 1;
        }
        lines.kept.push_back(line);
    }

    /// The lines kept and how many were dropped before them.
    fn take(self) -> (Vec<String>, usize) {
        let lines = self.lines.into_inner().unwrap_or_else(|p| p.into_inner());
        (lines.kept.into(), lines.dropped)
    }
}

impl ProgressSink for ActivityLog<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let Some(line) = log_line(&event) {
            self.push(line);
        }
        self.inner.emit(event);
    }
}

/// The log line an event adds: the programs' own lines, their starts and ends, stages and
/// warnings. Counters (steps, bytes) change too often to be lines.
fn log_line(event: &ProgressEvent) -> Option<String> {
    match event {
        ProgressEvent::ToolStarted { tool, major } => {
            Some(format!("{tool} (PostgreSQL {major}) started"))
        }
        ProgressEvent::ToolOutput { line, .. } => Some(line.clone()),
        ProgressEvent::ToolFinished { tool, exit_code: Some(code) } => {
            Some(format!("{tool} finished (exit code {code})"))
        }
        ProgressEvent::ToolFinished { tool, exit_code: None } => {
            Some(format!("{tool} finished (ended by a signal)"))
        }
        ProgressEvent::Stage { index, total, name } => {
            Some(format!("— step {index} of {total}: {name}"))
        }
        ProgressEvent::Warning { message } => Some(format!("warning: {message}")),
        ProgressEvent::Step { .. }
        | ProgressEvent::SizeEstimate { .. }
        | ProgressEvent::BytesWritten { .. } => None,
    }
}

/// One job being tracked: pass [`Tracker::sink`] to the operation, then [`Tracker::finish`]
/// with its result.
pub struct Tracker<'a> {
    job: Job,
    started_at: DateTime<Local>,
    log: ActivityLog<'a>,
}

impl<'a> Tracker<'a> {
    pub fn start(job: Job, sink: &'a dyn ProgressSink) -> Tracker<'a> {
        Tracker { job, started_at: Local::now(), log: ActivityLog::new(sink) }
    }

    /// The sink the operation reports to.
    pub fn sink(&self) -> &dyn ProgressSink {
        &self.log
    }

    /// Records the job with its result and returns the result. Recording is best effort: a
    /// store that cannot be written must not turn a finished backup into a failed one.
    pub fn finish<T: Summary>(self, ctx: &Ctx, result: Result<T>) -> Result<T> {
        let (outcome, code, summary) = match &result {
            Ok(value) => {
                let (outcome, summary) = value.summary();
                (outcome, value.error_code(), summary)
            }
            Err(error) => {
                let code = error.code();
                let outcome = if code == ErrorCode::Cancelled {
                    ActivityOutcome::Cancelled
                } else {
                    ActivityOutcome::Failed
                };
                (outcome, Some(code), error.to_string())
            }
        };
        let (lines, dropped) = self.log.take();
        let ended = Ended { outcome, code, summary, lines, dropped };
        let _ = record(ctx, &self.job, self.started_at, Local::now(), ended);
        result
    }
}

/// How a job ended, with its log.
struct Ended {
    outcome: ActivityOutcome,
    code: Option<ErrorCode>,
    summary: String,
    lines: Vec<String>,
    dropped: usize,
}

fn record(
    ctx: &Ctx,
    job: &Job,
    started_at: DateTime<Local>,
    ended_at: DateTime<Local>,
    ended: Ended,
) -> Result<i64> {
    let code = ended.code.map(code_text);
    let conn = ctx.store.conn();
    conn.execute(
        "INSERT INTO activity (kind, subject, profile_name, origin, started_at, ended_at, \
         outcome, error_code, summary, log, log_lines, log_dropped) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            job.kind.as_str(),
            redact_urls(&job.subject),
            job.profile,
            job.origin.as_str(),
            started_at.to_rfc3339(),
            ended_at.to_rfc3339(),
            ended.outcome.as_str(),
            code,
            redact_urls(&ended.summary),
            ended.lines.join("\n"),
            ended.lines.len() as i64,
            ended.dropped as i64,
        ],
    )
    .map_err(|e| ctx.store.error(e))?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "DELETE FROM activity WHERE id NOT IN \
         (SELECT id FROM activity ORDER BY id DESC LIMIT ?1)",
        [KEEP_ENTRIES as i64],
    )
    .map_err(|e| ctx.store.error(e))?;
    Ok(id)
}

/// The code as it is serialized (`"tool_failed"`), which is how it is stored.
fn code_text(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// The newest `limit` finished jobs, newest first.
pub fn list(ctx: &Ctx, limit: usize) -> Result<Vec<ActivityEntry>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, kind, subject, profile_name, started_at, ended_at, outcome, error_code, \
             summary, log_lines, log_dropped, origin FROM activity ORDER BY id DESC LIMIT ?1",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map([limit as i64], |r| {
            let kind: String = r.get(1)?;
            let outcome: String = r.get(6)?;
            let origin: String = r.get(11)?;
            let Some(kind) = ActivityKind::parse(&kind) else { return Ok(None) };
            Ok(Some(ActivityEntry {
                id: r.get(0)?,
                kind,
                subject: r.get(2)?,
                profile: r.get(3)?,
                origin: ActivityOrigin::parse(&origin),
                started_at: r.get(4)?,
                ended_at: r.get(5)?,
                outcome: ActivityOutcome::parse(&outcome),
                error_code: r.get(7)?,
                summary: r.get(8)?,
                log_lines: r.get(9)?,
                log_dropped: r.get(10)?,
            }))
        })
        .map_err(|e| ctx.store.error(e))?;
    let entries = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))?;
    // A kind this version does not know was written by a newer one: it is left out.
    Ok(entries.into_iter().flatten().collect())
}

/// The log lines kept for job `id`, oldest first.
pub fn log(ctx: &Ctx, id: i64) -> Result<Vec<String>> {
    let conn = ctx.store.conn();
    let found: Option<String> = conn
        .query_row("SELECT log FROM activity WHERE id = ?1", [id], |r| r.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .map_err(|e| ctx.store.error(e))?;
    let Some(text) = found else {
        return Err(Error::InvalidInput {
            field: "activity",
            problem: format!(
                "no finished job {id} is recorded (only the newest {KEEP_ENTRIES} are kept)"
            ),
        });
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    Ok(text.split('\n').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::base::progress::Recorder;
    use crate::base::tools::Tool;
    use crate::storage::keychain::MemoryKeychain;

    fn ctx(dir: &Path) -> Ctx {
        Ctx::for_tests(dir, Arc::new(MemoryKeychain::default()))
    }

    fn job(subject: &str) -> Job {
        Job {
            kind: ActivityKind::Backup,
            subject: subject.to_owned(),
            profile: Some("p".into()),
            origin: ActivityOrigin::Desktop,
        }
    }

    struct Done(&'static str);

    impl Summary for Done {
        fn summary(&self) -> (ActivityOutcome, String) {
            (ActivityOutcome::Succeeded, self.0.to_owned())
        }
    }

    fn output(line: &str) -> ProgressEvent {
        ProgressEvent::ToolOutput { tool: Tool::PgDump, line: line.to_owned() }
    }

    #[test]
    fn a_finished_job_is_listed_with_its_log_and_the_events_still_reach_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let caller = Recorder::default();
        let tracker = Tracker::start(job("shop"), &caller);
        tracker.sink().emit(ProgressEvent::ToolStarted { tool: Tool::PgDump, major: 18 });
        tracker.sink().emit(ProgressEvent::Step { done: 1, total: 2, current: "t".into() });
        tracker.sink().emit(output("pg_dump: dumping contents of table \"public.t\""));
        tracker.sink().emit(ProgressEvent::ToolFinished { tool: Tool::PgDump, exit_code: Some(0) });
        let kept = tracker.finish(&ctx, Ok(Done("1 file written"))).unwrap();
        assert_eq!(kept.0, "1 file written");
        assert_eq!(caller.events().len(), 4, "every event reaches the caller's sink");

        let entries = list(&ctx, 10).unwrap();
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert_eq!(entry.kind, ActivityKind::Backup);
        assert_eq!(entry.subject, "shop");
        assert_eq!(entry.profile.as_deref(), Some("p"));
        assert_eq!(entry.origin, Some(ActivityOrigin::Desktop));
        assert_eq!(entry.outcome, ActivityOutcome::Succeeded);
        assert_eq!(entry.error_code, None);
        assert_eq!(entry.summary, "1 file written");
        assert_eq!((entry.log_lines, entry.log_dropped), (3, 0));
        assert_eq!(
            log(&ctx, entry.id).unwrap(),
            vec![
                "pg_dump (PostgreSQL 18) started".to_owned(),
                "pg_dump: dumping contents of table \"public.t\"".to_owned(),
                "pg_dump finished (exit code 0)".to_owned(),
            ]
        );
    }

    #[test]
    fn failures_and_cancels_keep_their_code_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let failed = Tracker::start(job("a"), &crate::base::progress::NullSink);
        let error = Error::ToolFailed {
            tool: Tool::PgDump,
            exit_code: Some(1),
            detail: "permission denied for table t".into(),
        };
        assert!(failed.finish::<Done>(&ctx, Err(error)).is_err());
        let cancelled = Tracker::start(job("b"), &crate::base::progress::NullSink);
        assert!(cancelled.finish::<Done>(&ctx, Err(Error::Cancelled)).is_err());

        let entries = list(&ctx, 10).unwrap();
        assert_eq!(entries[0].subject, "b", "newest first");
        assert_eq!(entries[0].outcome, ActivityOutcome::Cancelled);
        assert_eq!(entries[0].error_code.as_deref(), Some("cancelled"));
        assert_eq!(entries[1].outcome, ActivityOutcome::Failed);
        assert_eq!(entries[1].error_code.as_deref(), Some("tool_failed"));
        assert!(entries[1].summary.contains("permission denied"), "{}", entries[1].summary);
        assert!(log(&ctx, entries[1].id).unwrap().is_empty());
    }

    #[test]
    fn the_log_keeps_the_last_lines_and_counts_the_dropped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let tracker = Tracker::start(job("big"), &crate::base::progress::NullSink);
        for n in 0..LOG_LINES + 25 {
            tracker.sink().emit(output(&format!("line {n}")));
        }
        tracker.sink().emit(output(&"x".repeat(LINE_CHARS + 50)));
        tracker.finish(&ctx, Ok(Done("ok"))).unwrap();
        let entry = list(&ctx, 1).unwrap().remove(0);
        assert_eq!((entry.log_lines as usize, entry.log_dropped), (LOG_LINES, 26));
        let lines = log(&ctx, entry.id).unwrap();
        assert_eq!(lines.len(), LOG_LINES);
        assert_eq!(lines[0], "line 26");
        assert_eq!(lines.last().unwrap().chars().count(), LINE_CHARS + 1, "a long line is cut");
    }

    #[test]
    fn passwords_in_addresses_are_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let source = "https://me:hunter2@backups.example.test/shop.backup";
        let tracker = Tracker::start(
            Job {
                kind: ActivityKind::Drill,
                subject: source.into(),
                profile: None,
                origin: ActivityOrigin::Cli,
            },
            &crate::base::progress::NullSink,
        );
        tracker.sink().emit(ProgressEvent::Warning { message: format!("downloading {source}") });
        let error = Error::InvalidInput { field: "source", problem: format!("{source} is gone") };
        let _ = tracker.finish::<Done>(&ctx, Err(error));
        let entry = list(&ctx, 1).unwrap().remove(0);
        let stored: String = ctx
            .store
            .conn()
            .query_row("SELECT subject || summary || log FROM activity", [], |r| r.get(0))
            .unwrap();
        assert!(!stored.contains("hunter2"), "{stored}");
        assert!(entry.subject.contains("me:***@backups.example.test"));
        assert_eq!(log(&ctx, entry.id).unwrap().len(), 1);
    }

    #[test]
    fn only_the_newest_jobs_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        for n in 0..KEEP_ENTRIES + 3 {
            let tracker = Tracker::start(job(&format!("db{n}")), &crate::base::progress::NullSink);
            tracker.finish(&ctx, Ok(Done("ok"))).unwrap();
        }
        let entries = list(&ctx, KEEP_ENTRIES + 10).unwrap();
        assert_eq!(entries.len(), KEEP_ENTRIES);
        assert_eq!(entries[0].subject, format!("db{}", KEEP_ENTRIES + 2));
        assert_eq!(entries.last().unwrap().subject, "db3");
        assert!(log(&ctx, 1).is_err(), "a forgotten job's log is refused, with a reason");
        assert_eq!(list(&ctx, 2).unwrap().len(), 2);
    }

    #[test]
    fn rows_of_an_unknown_kind_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        ctx.store
            .conn()
            .execute(
                "INSERT INTO activity (kind, subject, started_at, ended_at, outcome, summary) \
                 VALUES ('future_kind', 's', 'a', 'b', 'succeeded', 'x')",
                [],
            )
            .unwrap();
        assert!(list(&ctx, 10).unwrap().is_empty());
    }

    struct PartlyFailed;

    impl Summary for PartlyFailed {
        fn summary(&self) -> (ActivityOutcome, String) {
            (ActivityOutcome::Failed, "1 of 2 databases backed up; 1 failed".into())
        }

        fn error_code(&self) -> Option<ErrorCode> {
            Some(ErrorCode::DatabaseMissing)
        }
    }

    #[test]
    fn every_kind_and_origin_is_stored_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut written = Vec::new();
        for kind in ActivityKind::ALL {
            for origin in ActivityOrigin::ALL {
                let job = Job { kind, subject: "s".into(), profile: None, origin };
                Tracker::start(job, &crate::base::progress::NullSink)
                    .finish(&ctx, Ok(Done("ok")))
                    .unwrap();
                written.push((kind, Some(origin)));
            }
        }
        let mut read: Vec<(ActivityKind, Option<ActivityOrigin>)> =
            list(&ctx, 100).unwrap().into_iter().map(|e| (e.kind, e.origin)).collect();
        read.reverse();
        assert_eq!(read, written);
        let json = serde_json::to_value(list(&ctx, 1).unwrap()).unwrap();
        assert_eq!(json[0]["kind"], "swap");
        assert_eq!(json[0]["origin"], "schedule");
    }

    #[test]
    fn a_value_that_partly_failed_keeps_its_code_and_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let job = Job {
            kind: ActivityKind::ServerBackup,
            subject: "all databases".into(),
            profile: Some("p".into()),
            origin: ActivityOrigin::Cli,
        };
        let tracker = Tracker::start(job, &crate::base::progress::NullSink);
        assert!(tracker.finish(&ctx, Ok(PartlyFailed)).is_ok(), "the caller still gets its value");
        let entry = list(&ctx, 1).unwrap().remove(0);
        assert_eq!(entry.kind, ActivityKind::ServerBackup);
        assert_eq!(entry.outcome, ActivityOutcome::Failed);
        assert_eq!(entry.error_code.as_deref(), Some("database_missing"));
        assert_eq!(entry.summary, "1 of 2 databases backed up; 1 failed");
    }

    #[test]
    fn rows_from_before_origins_count_as_the_window_and_unknown_origins_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let conn = ctx.store.conn();
        conn.execute(
            "INSERT INTO activity (kind, subject, started_at, ended_at, outcome, summary) \
             VALUES ('backup', 'old', 'a', 'b', 'succeeded', 'x')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO activity (kind, subject, origin, started_at, ended_at, outcome, summary) \
             VALUES ('backup', 'new', 'future_origin', 'a', 'b', 'succeeded', 'x')",
            [],
        )
        .unwrap();
        drop(conn);
        let entries = list(&ctx, 10).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].subject.as_str(), entries[0].origin), ("new", None));
        assert_eq!(
            (entries[1].subject.as_str(), entries[1].origin),
            ("old", Some(ActivityOrigin::Desktop))
        );
    }
}
