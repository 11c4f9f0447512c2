//! Runs a bundled PostgreSQL program as a child process: an argument vector (never a shell),
//! the connection and password in the child's environment (never in argv), diagnostic lines
//! streamed to the progress sink, and cancellation that kills the child.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::base::tools::{BundledMajor, Tool};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile, SslMode};
use crate::util::checksum::Sha256Hex;
use crate::util::secret::Secret;

pub use super::pipeline::{Consumer, LineFilter, PipeSource, PipelineRun, Route, run_pipeline};

/// How many of the last diagnostic lines an error keeps.
const STDERR_TAIL: usize = 20;

/// Inherited variables that would silently redirect a child to another server or credential.
const INHERITED_PG_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
];

/// Where a child connects. Passed to it only through environment variables.
#[derive(Debug, Clone, Default)]
pub struct ConnTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<Secret>,
    /// libpq's sslmode; absent means libpq's default (prefer).
    pub sslmode: Option<SslMode>,
    pub root_cert: Option<String>,
    /// Whether the server may ask for the password in clear text; otherwise libpq refuses
    /// (`pg::connect::child_auth_env`).
    pub allow_cleartext: bool,
}

impl ConnTarget {
    /// Where the children of an operation on `dbname` of `profile` connect, password included.
    pub fn for_profile(ctx: &Ctx, profile: &Profile, dbname: &str) -> Result<ConnTarget> {
        let s = &profile.settings;
        // The practice database's server is started here when it is down.
        let port = crate::pg::sample_server::ensure_running(ctx, profile)?;
        Ok(ConnTarget {
            host: s.host.clone(),
            port,
            user: s.user.clone(),
            dbname: dbname.to_owned(),
            password: profiles::password_for(ctx, profile, dbname)?,
            sslmode: Some(s.sslmode),
            root_cert: s.root_cert.clone(),
            allow_cleartext: s.cleartext_password_allowed(),
        })
    }

    fn apply(&self, command: &mut Command) {
        command
            .env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user)
            .env("PGDATABASE", &self.dbname)
            .env("PGCONNECT_TIMEOUT", "15");
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose());
        }
        if let Some(sslmode) = self.sslmode {
            command.env("PGSSLMODE", sslmode.as_str());
        }
        if let Some(root_cert) = &self.root_cert {
            command.env("PGSSLROOTCERT", root_cert);
        }
    }
}

/// Where the child's standard output goes.
#[derive(Debug, Clone)]
pub enum StdoutTo {
    Discard,
    /// Kept in memory and returned (for small outputs such as `pg_restore --list`).
    Capture,
    /// Streamed into a new file, with its sha256 computed on the way (no second read) and the
    /// file flushed to disk at the end. A write error (e.g. a full disk) stops the child.
    File(PathBuf),
}

/// One invocation of a bundled program.
#[derive(Debug)]
pub struct ToolCommand {
    pub tool: Tool,
    pub major: u32,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub conn: Option<ConnTarget>,
    pub stdout: StdoutTo,
}

impl ToolCommand {
    /// A command for `tool` of the given bundled major, checked to exist.
    pub fn new(bundle: &BundledMajor, tool: Tool) -> Result<Self> {
        Ok(ToolCommand {
            tool,
            major: bundle.major,
            program: bundle.program(tool)?,
            args: Vec::new(),
            conn: None,
            stdout: StdoutTo::Discard,
        })
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The file the program reads, as its last argument after `--`: a name starting with `-`
    /// (a backup file named `-l` or `--version`) is never taken for an option. Every option
    /// must be added before.
    pub fn file_operand(mut self, path: &std::path::Path) -> Self {
        self.args.push("--".into());
        self.args.push(path.as_os_str().to_owned());
        self
    }

    pub fn conn(mut self, conn: ConnTarget) -> Self {
        self.conn = Some(conn);
        self
    }

    pub fn stdout(mut self, stdout: StdoutTo) -> Self {
        self.stdout = stdout;
        self
    }
}

/// What a finished program left behind.
#[derive(Debug)]
pub struct ToolRun {
    /// The output with [`StdoutTo::Capture`].
    pub stdout: Vec<u8>,
    /// With [`StdoutTo::File`]: bytes written and their sha256 (lowercase hex).
    pub written: Option<Written>,
    pub stderr_tail: Vec<String>,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// How often, at most, byte progress is reported while streaming to a file.
const BYTES_EVERY: u64 = 4 << 20;

/// Copies the child's output from `pipe` into a new file at `path`, hashing it on the way.
///
/// The copy runs on a thread of its own with blocking reads and writes: pg_dump writes its
/// archive 4 KB to 40 KB at a time, and an async copy (the reactor waking a task per write, each
/// file write handed to another thread) took 0.50-0.61 s of Lifeboat's CPU during a 115 MB
/// dump here, against 0.33-0.49 s this way. The thread is not tokio's blocking pool, for the
/// reason the diagnostics reader gives ([`read_stderr_paced`]). Reads are paced over a 1 MB
/// pipe ([`CopyPace`]): 3,500 reads of a 115 MB archive became about 800, and the copy's CPU
/// time 0.19 s to 0.17 s. Byte progress comes back over a channel.
async fn stream_to_file(
    pipe: OutputPipe,
    path: &std::path::Path,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> std::io::Result<Written> {
    let (progress, mut seen) = tokio::sync::watch::channel(0u64);
    let (done, mut copied) = tokio::sync::oneshot::channel();
    let target = path.to_owned();
    std::thread::Builder::new().name("lifeboat-copy".to_owned()).spawn(move || {
        let _ = done.send(copy_hashing(pipe, &target, &progress));
    })?;
    loop {
        tokio::select! {
            written = &mut copied => {
                let written = written.map_err(std::io::Error::other)??;
                sink.emit(ProgressEvent::BytesWritten { tool, bytes: written.bytes });
                return Ok(written);
            }
            Ok(()) = seen.changed() => {
                let bytes = *seen.borrow_and_update();
                sink.emit(ProgressEvent::BytesWritten { tool, bytes });
            }
        }
    }
}

/// The blocking half of [`stream_to_file`]: every [`BYTES_EVERY`] bytes the count so far goes
/// to `progress`. The file is flushed to disk at the end.
fn copy_hashing(
    OutputPipe { mut pipe, capacity }: OutputPipe,
    path: &std::path::Path,
    progress: &tokio::sync::watch::Sender<u64>,
) -> std::io::Result<Written> {
    use std::io::{Read, Write};
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    let mut hash = Sha256Hex::new();
    let mut buffer = vec![0u8; capacity.unwrap_or(COPY_PIPE_BYTES)];
    let mut pace = CopyPace::new(capacity);
    let mut reported = 0u64;
    loop {
        let n = match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hash.update(&buffer[..n]);
        file.write_all(&buffer[..n])?;
        let bytes = hash.bytes();
        if bytes - reported >= BYTES_EVERY {
            reported = bytes;
            progress.send_replace(bytes);
        }
        if pace.pause_after(n) {
            std::thread::sleep(COPY_PAUSE);
        }
    }
    file.sync_all()?;
    Ok(Written { bytes: hash.bytes(), sha256: hash.finish() })
}

/// The pipe a program's output for a file comes through, and what it holds where known.
struct OutputPipe {
    pipe: std::io::PipeReader,
    capacity: Option<usize>,
}

impl OutputPipe {
    /// A pipe of [`COPY_PIPE_BYTES`] where the system allows it (Linux's default limit for an
    /// unprivileged process); where it refuses, the pipe it has.
    fn new() -> std::io::Result<(Self, std::io::PipeWriter)> {
        let (pipe, writer) = std::io::pipe()?;
        #[cfg(target_os = "linux")]
        let capacity = rustix::pipe::fcntl_setpipe_size(&pipe, COPY_PIPE_BYTES)
            .or_else(|_| rustix::pipe::fcntl_getpipe_size(&pipe))
            .ok();
        #[cfg(not(target_os = "linux"))]
        let capacity = None;
        Ok((Self { pipe, capacity }, writer))
    }
}

const COPY_PIPE_BYTES: usize = 1 << 20;
const COPY_PAUSE: Duration = Duration::from_millis(4);

/// When the copy waits before its next read. A read that found less than half the pipe means
/// the program writes slower than the copy reads: pausing lets the pipe fill, so that one read
/// takes what would have been dozens. pg_dump's zstd archive fills 1 MB in about 30 ms here,
/// against a pause of [`COPY_PAUSE`]. A read that found the pipe full means the program may
/// have waited on it (a fast writer, or a small pipe): from then on the copy reads as the
/// program writes. A pipe of unknown size is never paced.
#[derive(Debug)]
struct CopyPace {
    capacity: Option<usize>,
}

impl CopyPace {
    fn new(capacity: Option<usize>) -> Self {
        Self { capacity }
    }

    fn pause_after(&mut self, read: usize) -> bool {
        match self.capacity {
            Some(capacity) if read >= capacity => {
                self.capacity = None;
                false
            }
            Some(capacity) => read < capacity / 2,
            None => false,
        }
    }
}

/// Runs the command to completion. A non-zero exit is an error carrying the last lines the
/// program wrote; `cancel` kills the child and returns [`Error::Cancelled`].
pub async fn run(
    command: ToolCommand,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<ToolRun> {
    let tool = command.tool;
    let mut child_command = base_command(&command);
    child_command.stdin(Stdio::null());
    // Output for a file goes through a plain pipe read by a blocking thread (stream_to_file).
    let mut to_file = None;
    child_command.stdout(match command.stdout {
        StdoutTo::Discard => Stdio::null(),
        StdoutTo::Capture => Stdio::piped(),
        StdoutTo::File(_) => {
            let (reader, writer) =
                OutputPipe::new().map_err(|source| Error::ToolSpawn { tool, source })?;
            to_file = Some(reader);
            Stdio::from(writer)
        }
    });

    // Diagnostics through a plain pipe too, read by a pacing thread (read_stderr_paced).
    let (stderr, stderr_writer) =
        std::io::pipe().map_err(|source| Error::ToolSpawn { tool, source })?;
    child_command.stderr(Stdio::from(stderr_writer));

    let started = Instant::now();
    let spawned = child_command.spawn();
    // The command holds this process's copies of the pipes' writing ends: dropped now, so that
    // the readers see the end of the output when the child exits.
    drop(child_command);
    let mut child = spawned.map_err(|source| Error::ToolSpawn { tool, source })?;
    // The program and its major only: its arguments name databases and files, never a password,
    // but the log keeps to what a reader needs.
    tracing::info!(program = %tool, major = command.major, pid = child.id(), "program started");
    sink.emit(ProgressEvent::ToolStarted { tool, major: command.major });

    let stdout = child.stdout.take();
    let stdout_to = command.stdout.clone();
    let read_stdout = async move {
        let mut captured = Vec::new();
        match (&stdout_to, stdout) {
            (StdoutTo::Capture, Some(mut stdout)) => {
                // A read error means the child went away; its exit status tells the story.
                let _ = stdout.read_to_end(&mut captured).await;
                Ok((captured, None))
            }
            (StdoutTo::File(path), _) => {
                let pipe = to_file.expect("a pipe for the file");
                match stream_to_file(pipe, path, tool, sink).await {
                    Ok(written) => Ok((captured, Some(written))),
                    Err(source) => {
                        Err(Error::Io { action: "Writing the output", path: path.clone(), source })
                    }
                }
            }
            _ => Ok((captured, None)),
        }
    };
    let read_stderr = read_stderr_paced(stderr, tool, sink);

    // A failed write ends the wait at once: the child is killed below, not left blocked on a pipe.
    let finished = async {
        let (out, (tail, status)) = tokio::try_join!(read_stdout, async {
            Ok::<_, Error>(tokio::join!(read_stderr, child.wait()))
        })?;
        Ok::<_, Error>((out, tail, status))
    };
    let outcome = tokio::select! {
        outcome = finished => outcome,
        () = cancel.cancelled() => Err(Error::Cancelled),
    };
    let ((stdout, written), tail, status) = match outcome {
        Ok(done) => done,
        Err(error) => {
            // The join above released its borrow of the child; kill and reap it now.
            let _ = child.kill().await;
            sink.emit(ProgressEvent::ToolFinished { tool, exit_code: None });
            return Err(error);
        }
    };
    let status = status.map_err(|source| Error::ToolSpawn { tool, source })?;
    tracing::info!(
        program = %tool,
        exit_code = status.code(),
        ms = started.elapsed().as_millis() as u64,
        "program ended"
    );
    sink.emit(ProgressEvent::ToolFinished { tool, exit_code: status.code() });
    let stderr_tail: Vec<String> = tail.into();
    if !status.success() {
        return Err(tool_failed(tool, status, &stderr_tail));
    }
    Ok(ToolRun { stdout, written, stderr_tail, duration: started.elapsed() })
}

/// The child process for `command`: its argument vector, stderr piped, inherited `PG*`
/// variables removed, the connection in the environment, killed when dropped. The caller sets
/// stdin and stdout.
fn base_command(command: &ToolCommand) -> Command {
    let mut child_command = Command::new(&command.program);
    child_command.args(&command.args).stderr(Stdio::piped()).kill_on_drop(true);
    for var in INHERITED_PG_VARS {
        child_command.env_remove(var);
    }
    // Messages in English so that later parsing of progress lines does not depend on the locale.
    child_command.env("LC_MESSAGES", "C").env("PGAPPNAME", "lifeboat");
    if let Some(conn) = &command.conn {
        conn.apply(&mut child_command);
        for (name, value) in super::connect::child_auth_env(&command.program, conn.allow_cleartext)
        {
            child_command.env(name, value);
        }
    }
    child_command
}

/// The longest diagnostic line kept; the rest of a longer one is dropped.
const STDERR_LINE_MAX: usize = 64 << 10;

/// Streams a child's diagnostic lines to the sink and keeps the last [`STDERR_TAIL`] of them.
pub(super) async fn read_stderr(
    stderr: tokio::process::ChildStderr,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> VecDeque<String> {
    read_lines(BufReader::new(stderr), tool, sink).await
}

/// After this many diagnostic lines a program's output is read in batches, [`CHATTY_PAUSE`]
/// apart, instead of as each line arrives.
const CHATTY_LINES: u64 = 100;

/// `pg_restore --verbose` writes each line in a write of its own, 14,000 of them for 2,000
/// tables, and a reader waiting on the pipe (an async one too: the reactor waits on it) is
/// woken for each, on cores the restore's server and pg_restore keep busy. That cost 0.15-0.3 s
/// of a 3.6 s restore here; the same restore writing its lines to a file took no longer than
/// without them. A thread that sleeps while the pipe fills is not waiting on it, so it is
/// woken about 100 times a second at most. Short runs (`--list`, `--version`) never pause, and
/// neither does a reader that finds the pipe half full (a burst of lines, as pg_dump's while it
/// reads the catalog), so that the program is not kept waiting on a full pipe.
const CHATTY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// [`read_stderr`] for a plain pipe, read on a thread of its own that pauses once the program
/// has been chatty. The thread is not the runtime's: a pipe a left-over grandchild holds open
/// never keeps the process from ending.
async fn read_stderr_paced(
    pipe: std::io::PipeReader,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> VecDeque<String> {
    let (batches, mut received) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    let pump = std::thread::Builder::new()
        .name("lifeboat-stderr".to_owned())
        .spawn(move || pump_lines(pipe, &batches));
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    if pump.is_ok() {
        while let Some(batch) = received.recv().await {
            for line in batch {
                keep_line(&mut tail, line, tool, sink);
            }
        }
    }
    tail
}

/// Sends the pipe's lines in batches, one for each read.
fn pump_lines(
    mut pipe: std::io::PipeReader,
    batches: &tokio::sync::mpsc::UnboundedSender<Vec<String>>,
) {
    use std::io::Read;
    let mut buffer = vec![0u8; PIPE_BYTES];
    let mut line = Vec::new();
    let mut count = 0u64;
    loop {
        let read = match pipe.read(&mut buffer) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        let mut batch = Vec::new();
        let mut rest = &buffer[..read];
        while !rest.is_empty() {
            let (taken, done) = line_part(rest, &mut line);
            rest = &rest[taken..];
            if done {
                batch.push(finish_line(std::mem::take(&mut line)));
                count += 1;
            }
        }
        if read == 0 && !line.is_empty() {
            batch.push(finish_line(std::mem::take(&mut line)));
        }
        if batches.send(batch).is_err() || read == 0 {
            return;
        }
        // A read that came back half full or more may have left the program waiting on a
        // full pipe (a burst of lines): read again at once.
        if count >= CHATTY_LINES && read < PIPE_BYTES / 2 {
            std::thread::sleep(CHATTY_PAUSE);
        }
    }
}

/// What a pipe holds on Linux by default, and what one read takes at most.
const PIPE_BYTES: usize = 64 << 10;

/// Takes from `buffer` up to and including its first line end into `line` (at most
/// [`STDERR_LINE_MAX`] bytes of a line are kept): how many bytes were taken, and whether the
/// line ended.
fn line_part(buffer: &[u8], line: &mut Vec<u8>) -> (usize, bool) {
    let (taken, done) = match buffer.iter().position(|b| *b == b'\n') {
        Some(at) => (at + 1, true),
        None => (buffer.len(), false),
    };
    let room = STDERR_LINE_MAX.saturating_sub(line.len());
    line.extend_from_slice(&buffer[..taken.min(room)]);
    (taken, done)
}

/// The line without its line end, decoded leniently.
fn finish_line(mut line: Vec<u8>) -> String {
    while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

fn keep_line(tail: &mut VecDeque<String>, line: String, tool: Tool, sink: &dyn ProgressSink) {
    if tail.len() == STDERR_TAIL {
        tail.pop_front();
    }
    tail.push_back(line.clone());
    sink.emit(ProgressEvent::ToolOutput { tool, line });
}

/// The next line of `reader` without its line end, decoded leniently: the tools print names
/// in the database's own encoding (a LATIN1 database's `ü` is one byte that is not UTF-8), and
/// such a line is shown with a replacement character rather than ending the reading. At most
/// [`STDERR_LINE_MAX`] bytes of a line are kept. `None` at the end of the output.
async fn next_lossy_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut line = Vec::new();
    let mut seen = false;
    loop {
        let buffer = reader.fill_buf().await.ok()?;
        if buffer.is_empty() {
            break;
        }
        seen = true;
        let (taken, done) = line_part(buffer, &mut line);
        reader.consume(taken);
        if done {
            break;
        }
    }
    seen.then(|| finish_line(line))
}

async fn read_lines<R: AsyncBufRead + Unpin>(
    mut reader: R,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    while let Some(line) = next_lossy_line(&mut reader).await {
        keep_line(&mut tail, line, tool, sink);
    }
    tail
}

pub(super) fn spawn(command: &ToolCommand, stdin: Stdio, stdout: Stdio) -> Result<Child> {
    let mut child_command = base_command(command);
    child_command.stdin(stdin).stdout(stdout);
    let child =
        child_command.spawn().map_err(|source| Error::ToolSpawn { tool: command.tool, source })?;
    let (program, major) = (command.tool, command.major);
    tracing::info!(program = %program, major, pid = child.id(), "program started");
    Ok(child)
}

/// The `--version` line of a bundled program, e.g. "pg_dump (PostgreSQL) 18.6".
pub async fn version_line(
    bundle: &BundledMajor,
    tool: Tool,
    cancel: &CancellationToken,
) -> Result<String> {
    let command = ToolCommand::new(bundle, tool)?.arg("--version").stdout(StdoutTo::Capture);
    let run = run(command, &crate::base::progress::NullSink, cancel).await?;
    Ok(String::from_utf8_lossy(&run.stdout).trim().to_owned())
}

/// A program's failed exit, told by the lines it last wrote.
pub(super) fn tool_failed(tool: Tool, status: std::process::ExitStatus, tail: &[String]) -> Error {
    Error::ToolFailed { tool, exit_code: status.code(), detail: summarize(tail) }
}

/// The lines that say what went wrong: PostgreSQL tools prefix them with "error:" or "FATAL:".
pub(super) fn summarize(lines: &[String]) -> String {
    let important: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains("error:") || l.contains("FATAL") || l.contains("ERROR"))
        .collect();
    let chosen = if important.is_empty() {
        lines.iter().rev().take(3).rev().map(String::as_str).collect()
    } else {
        important
    };
    if chosen.is_empty() { "it printed no message".to_owned() } else { chosen.join("\n") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_prefers_error_lines() {
        let lines = vec![
            "pg_dump: dumping contents of table x".to_owned(),
            "pg_dump: error: connection to server failed: FATAL:  database \"nope\" does not exist"
                .to_owned(),
            "pg_dump: detail: whatever".to_owned(),
        ];
        assert_eq!(summarize(&lines), lines[1]);
        assert_eq!(summarize(&lines[..1]), lines[0]);
        assert_eq!(summarize(&[]), "it printed no message");
    }

    #[tokio::test]
    async fn lines_that_are_not_utf8_do_not_end_the_reading() {
        let output: &[u8] =
            b"pg_restore: creating TABLE \"public.b\xe4ume\"\r\nsecond\n\xff\xfe\nlast";
        let recorder = crate::base::progress::Recorder::default();
        let tail = read_lines(output, Tool::PgRestore, &recorder).await;
        assert_eq!(
            Vec::from(tail),
            [
                "pg_restore: creating TABLE \"public.b\u{fffd}ume\"",
                "second",
                "\u{fffd}\u{fffd}",
                "last"
            ]
        );
        assert_eq!(recorder.events().len(), 4);
        let long = vec![b'x'; STDERR_LINE_MAX * 2 + 10];
        let tail = read_lines(&long[..], Tool::Psql, &crate::base::progress::NullSink).await;
        assert_eq!(tail.len(), 1);
        assert_eq!(tail[0].len(), STDERR_LINE_MAX);
    }

    #[test]
    fn the_copy_pauses_while_the_pipe_fills_slowly_and_never_again_once_it_was_full() {
        let mut pace = CopyPace::new(Some(1 << 20));
        assert!(pace.pause_after(40 << 10));
        assert!(!pace.pause_after(600 << 10), "half full or more: read again at once");
        assert!(pace.pause_after(100 << 10));
        assert!(!pace.pause_after(1 << 20), "full: the program may have waited");
        assert!(!pace.pause_after(4 << 10), "a writer that filled the pipe is never paced");
        // The default 64 KB pipe (a system that refused a bigger one) fills during one pause
        // of a 33 MB/s writer, and the pacing then stops; a pipe of unknown size never pauses.
        let mut small = CopyPace::new(Some(64 << 10));
        assert!(small.pause_after(20 << 10));
        assert!(!small.pause_after(64 << 10));
        assert!(!small.pause_after(20 << 10));
        assert!(!CopyPace::new(None).pause_after(1));
    }

    #[tokio::test]
    async fn a_chatty_programs_lines_all_arrive_in_order_through_the_paced_reader() {
        use std::io::Write;
        let (reader, mut writer) = std::io::pipe().unwrap();
        let long = "y".repeat(STDERR_LINE_MAX + 100);
        let expected_long = long[..STDERR_LINE_MAX].to_owned();
        let writing = std::thread::spawn(move || {
            // Line by line, as pg_restore --verbose writes; then a burst larger than the pipe.
            for i in 0..3000 {
                writeln!(writer, "pg_restore: creating TABLE \"public.t{i}\"").unwrap();
            }
            writer.write_all(format!("{long}\n").as_bytes()).unwrap();
            writer.write_all(b"last, without a line end").unwrap();
        });
        let recorder = crate::base::progress::Recorder::default();
        let tail = read_stderr_paced(reader, Tool::PgRestore, &recorder).await;
        writing.join().unwrap();
        let lines = recorder.tool_lines();
        assert_eq!(lines.len(), 3002);
        assert!(lines[..3000].iter().enumerate().all(|(i, l)| l.ends_with(&format!("t{i}\""))));
        assert_eq!(lines[3000], expected_long);
        assert_eq!(lines[3001], "last, without a line end");
        assert_eq!(tail.len(), STDERR_TAIL);
        assert_eq!(tail.back().map(String::as_str), Some("last, without a line end"));
    }

    #[test]
    fn a_file_operand_follows_a_double_dash() {
        let command = ToolCommand {
            tool: Tool::PgRestore,
            major: 18,
            program: PathBuf::from("pg_restore"),
            args: vec!["--list".into()],
            conn: None,
            stdout: StdoutTo::Discard,
        }
        .file_operand(std::path::Path::new("-l"));
        assert_eq!(command.args, ["--list", "--", "-l"]);
    }

    #[test]
    fn the_password_reaches_only_the_environment() {
        let conn = ConnTarget {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "app".into(),
            dbname: "shop".into(),
            password: Some(Secret::new("s3cret")),
            ..ConnTarget::default()
        };
        let mut command = Command::new("true");
        conn.apply(&mut command);
        let std = command.as_std();
        assert!(std.get_args().all(|a| a != "s3cret"));
        let envs: Vec<_> = std.get_envs().collect();
        assert!(envs.iter().any(|(k, v)| *k == "PGPASSWORD" && *v == Some("s3cret".as_ref())));
        assert!(!format!("{conn:?}").contains("s3cret"));
    }
}
