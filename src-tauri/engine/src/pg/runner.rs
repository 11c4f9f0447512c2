//! Runs a bundled PostgreSQL program as a child process: an argument vector (never a shell),
//! the connection and password in the child's environment (never in argv), diagnostic lines
//! streamed to the progress sink, and cancellation that kills the child.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::base::tools::{BundledMajor, Tool};
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile, SslMode};
use crate::util::checksum::Sha256Hex;
use crate::util::secret::Secret;

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
}

impl ConnTarget {
    /// Where the children of an operation on `dbname` of `profile` connect, password included.
    pub fn for_profile(ctx: &Ctx, profile: &Profile, dbname: &str) -> Result<ConnTarget> {
        let s = &profile.settings;
        Ok(ConnTarget {
            host: s.host.clone(),
            port: s.port,
            user: s.user.clone(),
            dbname: dbname.to_owned(),
            password: profiles::password_for(ctx, profile, dbname)?,
            sslmode: Some(s.sslmode),
            root_cert: s.root_cert.clone(),
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

async fn stream_to_file(
    mut stdout: tokio::process::ChildStdout,
    path: &std::path::Path,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> std::io::Result<Written> {
    let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(path).await?;
    let mut hash = Sha256Hex::new();
    let mut buffer = vec![0u8; 256 << 10];
    let mut reported = 0u64;
    loop {
        let n = stdout.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        file.write_all(&buffer[..n]).await?;
        let bytes = hash.bytes();
        if bytes - reported >= BYTES_EVERY {
            reported = bytes;
            sink.emit(ProgressEvent::BytesWritten { tool, bytes });
        }
    }
    file.flush().await?;
    file.sync_all().await?;
    let bytes = hash.bytes();
    sink.emit(ProgressEvent::BytesWritten { tool, bytes });
    Ok(Written { bytes, sha256: hash.finish() })
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
    child_command.stdout(match command.stdout {
        StdoutTo::Discard => Stdio::null(),
        StdoutTo::Capture | StdoutTo::File(_) => Stdio::piped(),
    });

    let started = Instant::now();
    let mut child = child_command.spawn().map_err(|source| Error::ToolSpawn { tool, source })?;
    sink.emit(ProgressEvent::ToolStarted { tool, major: command.major });

    let stderr = child.stderr.take().expect("stderr is piped");
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
            (StdoutTo::File(path), Some(stdout)) => {
                match stream_to_file(stdout, path, tool, sink).await {
                    Ok(written) => Ok((captured, Some(written))),
                    Err(source) => {
                        Err(Error::Io { action: "Writing the output", path: path.clone(), source })
                    }
                }
            }
            _ => Ok((captured, None)),
        }
    };
    let read_stderr = read_stderr(stderr, tool, sink);

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
    sink.emit(ProgressEvent::ToolFinished { tool, exit_code: status.code() });
    let stderr_tail: Vec<String> = tail.into();
    if !status.success() {
        return Err(Error::ToolFailed {
            tool,
            exit_code: status.code(),
            detail: summarize(&stderr_tail),
        });
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
    }
    child_command
}

/// Streams a child's diagnostic lines to the sink and keeps the last [`STDERR_TAIL`] of them.
async fn read_stderr(
    stderr: tokio::process::ChildStderr,
    tool: Tool,
    sink: &dyn ProgressSink,
) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line.clone());
        sink.emit(ProgressEvent::ToolOutput { tool, line });
    }
    tail
}

fn spawn(command: &ToolCommand, stdin: Stdio, stdout: Stdio) -> Result<Child> {
    let mut child_command = base_command(command);
    child_command.stdin(stdin).stdout(stdout);
    child_command.spawn().map_err(|source| Error::ToolSpawn { tool: command.tool, source })
}

/// Where the lines of a pipeline come from.
#[derive(Debug)]
pub enum PipeSource {
    /// A bundled program's standard output (e.g. `pg_restore -f -`).
    Tool(ToolCommand),
    /// A file, read from the start (e.g. a plain SQL dump).
    File(PathBuf),
}

/// What a finished pipeline did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRun {
    pub lines_read: u64,
    /// Lines the filter left out.
    pub lines_dropped: u64,
    pub duration: Duration,
}

/// How the middle of a pipeline ended.
enum Flow {
    Done {
        read: u64,
        dropped: u64,
    },
    /// Reading the source failed (the file, or the producer's pipe).
    ReadFailed(std::io::Error),
    /// The producer exited with an error (or a signal) after its output ended.
    ProducerFailed(std::process::ExitStatus),
    /// The consumer stopped reading (it exited, usually on an error).
    ConsumerGone(std::io::Error),
    /// Waiting for a child failed.
    Wait(Tool, std::io::Error),
}

/// Runs `source | filter | consumer`: every line of the source (a program's output or a file)
/// goes through `filter`, and the lines it keeps are written to the consumer's standard input.
/// Without a consumer the kept lines are discarded (the filter only looks at them). The
/// consumer's own standard output is discarded.
///
/// The consumer's input is closed only after the producer has exited successfully: when the
/// producer fails, or on cancel, the consumer is killed first, so a consumer running one
/// transaction (`psql -1`) never sees a clean end of input and never commits half a stream.
/// Both programs' diagnostic lines stream to `sink`; `cancel` kills both.
pub async fn run_pipeline(
    source: PipeSource,
    filter: &mut (dyn FnMut(&[u8]) -> bool + Send),
    consumer: Option<ToolCommand>,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PipelineRun> {
    let started = Instant::now();
    let (input, mut producer, producer_tool, file_path): (
        Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Option<Child>,
        Option<Tool>,
        Option<PathBuf>,
    ) = match &source {
        PipeSource::Tool(command) => {
            let mut child = spawn(command, Stdio::null(), Stdio::piped())?;
            sink.emit(ProgressEvent::ToolStarted { tool: command.tool, major: command.major });
            let stdout = child.stdout.take().expect("stdout is piped");
            (Box::new(stdout), Some(child), Some(command.tool), None)
        }
        PipeSource::File(path) => {
            let file = tokio::fs::File::open(path).await.map_err(|source| Error::Io {
                action: "Reading the backup",
                path: path.clone(),
                source,
            })?;
            (Box::new(file), None, None, Some(path.clone()))
        }
    };
    let mut consumer_child = match &consumer {
        Some(command) => {
            // What the consumer prints (psql's query results) is not wanted anywhere.
            let child = spawn(command, Stdio::piped(), Stdio::null())?;
            sink.emit(ProgressEvent::ToolStarted { tool: command.tool, major: command.major });
            Some(child)
        }
        None => None,
    };
    let consumer_tool = consumer.as_ref().map(|c| c.tool);
    // Held out here so that no early return or cancel closes the consumer's input by accident.
    let mut writer = consumer_child
        .as_mut()
        .and_then(|c| c.stdin.take())
        .map(|stdin| tokio::io::BufWriter::with_capacity(256 << 10, stdin));
    let producer_stderr = producer.as_mut().and_then(|c| c.stderr.take());
    let consumer_stderr = consumer_child.as_mut().and_then(|c| c.stderr.take());

    let flow = async {
        let mut reader = BufReader::with_capacity(256 << 10, input);
        let mut line = Vec::with_capacity(1024);
        let (mut read, mut dropped) = (0u64, 0u64);
        let mut ended = None;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    ended = Some(Flow::ReadFailed(error));
                    break;
                }
            }
            read += 1;
            if !filter(&line) {
                dropped += 1;
                continue;
            }
            if let Some(writer) = writer.as_mut()
                && let Err(error) = writer.write_all(&line).await
            {
                ended = Some(Flow::ConsumerGone(error));
                break;
            }
        }
        if ended.is_none()
            && let Some(producer) = producer.as_mut()
        {
            match producer.wait().await {
                Ok(status) if status.success() => {}
                Ok(status) => ended = Some(Flow::ProducerFailed(status)),
                Err(error) => {
                    ended = Some(Flow::Wait(producer_tool.unwrap_or(Tool::PgRestore), error))
                }
            }
        }
        if ended.is_none()
            && let Some(open) = writer.as_mut()
            && let Err(error) = open.flush().await
        {
            ended = Some(Flow::ConsumerGone(error));
        }
        match ended {
            None => {
                // The producer finished cleanly: now, and only now, the consumer sees the end.
                drop(writer.take());
                Flow::Done { read, dropped }
            }
            Some(failure) => {
                // The producer stops (it may be blocked writing to us); the consumer is killed
                // while its input is still open, unless it already left on its own (then its
                // exit status says why).
                if let Some(child) = producer.as_mut() {
                    let _ = child.kill().await;
                }
                if let Some(child) = consumer_child.as_mut() {
                    if matches!(failure, Flow::ConsumerGone(_)) {
                        let _ = child.wait().await;
                    } else {
                        let _ = child.kill().await;
                    }
                }
                // Only now its input closes: anything the consumer started (a shell's children)
                // ends too, instead of holding its error output open forever.
                drop(writer.take());
                failure
            }
        }
    };
    let tails = async {
        let producer_tail = async {
            match (producer_stderr, producer_tool) {
                (Some(stderr), Some(tool)) => read_stderr(stderr, tool, sink).await,
                _ => VecDeque::new(),
            }
        };
        let consumer_tail = async {
            match (consumer_stderr, consumer_tool) {
                (Some(stderr), Some(tool)) => read_stderr(stderr, tool, sink).await,
                _ => VecDeque::new(),
            }
        };
        tokio::join!(producer_tail, consumer_tail)
    };
    let joined = async { tokio::join!(flow, tails) };
    let outcome = tokio::select! {
        outcome = joined => Some(outcome),
        () = cancel.cancelled() => None,
    };
    let Some((flow, (producer_tail, consumer_tail))) = outcome else {
        // Consumer first, while its input is still open; then the producer.
        if let Some(child) = consumer_child.as_mut() {
            let _ = child.kill().await;
        }
        drop(writer.take());
        if let Some(child) = producer.as_mut() {
            let _ = child.kill().await;
        }
        for tool in [producer_tool, consumer_tool].into_iter().flatten() {
            sink.emit(ProgressEvent::ToolFinished { tool, exit_code: None });
        }
        return Err(Error::Cancelled);
    };
    drop(writer.take());
    let producer_tail: Vec<String> = producer_tail.into();
    let consumer_tail: Vec<String> = consumer_tail.into();
    let exit_of = |child: Option<&mut Child>| {
        child.and_then(|c| c.try_wait().ok().flatten()).and_then(|s| s.code())
    };
    if let Some(tool) = producer_tool {
        sink.emit(ProgressEvent::ToolFinished { tool, exit_code: exit_of(producer.as_mut()) });
    }
    let failed = |tool: Tool, status: std::process::ExitStatus, tail: &[String]| {
        Error::ToolFailed { tool, exit_code: status.code(), detail: summarize(tail) }
    };
    let (read, dropped) = match flow {
        Flow::Done { read, dropped } => (read, dropped),
        failure => {
            if let Some(tool) = consumer_tool {
                let exit_code = exit_of(consumer_child.as_mut());
                sink.emit(ProgressEvent::ToolFinished { tool, exit_code });
            }
            return Err(match failure {
                Flow::ReadFailed(source) => match (&file_path, producer_tool) {
                    (Some(path), _) => {
                        Error::Io { action: "Reading the backup", path: path.clone(), source }
                    }
                    (None, tool) => Error::ToolFailed {
                        tool: tool.unwrap_or(Tool::PgRestore),
                        exit_code: None,
                        detail: format!("its output could not be read: {source}"),
                    },
                },
                Flow::ProducerFailed(status) => {
                    failed(producer_tool.unwrap_or(Tool::PgRestore), status, &producer_tail)
                }
                Flow::ConsumerGone(source) => {
                    let tool = consumer_tool.unwrap_or(Tool::Psql);
                    match consumer_child.as_mut().map(|c| c.try_wait()) {
                        Some(Ok(Some(status))) if !status.success() => {
                            failed(tool, status, &consumer_tail)
                        }
                        _ => Error::ToolFailed {
                            tool,
                            exit_code: None,
                            detail: format!(
                                "it stopped reading its input ({source}): {}",
                                summarize(&consumer_tail)
                            ),
                        },
                    }
                }
                Flow::Wait(tool, source) => Error::ToolSpawn { tool, source },
                Flow::Done { .. } => unreachable!("handled above"),
            });
        }
    };
    if let (Some(child), Some(tool)) = (consumer_child.as_mut(), consumer_tool) {
        let status = child.wait().await.map_err(|source| Error::ToolSpawn { tool, source })?;
        sink.emit(ProgressEvent::ToolFinished { tool, exit_code: status.code() });
        if !status.success() {
            return Err(failed(tool, status, &consumer_tail));
        }
    }
    Ok(PipelineRun { lines_read: read, lines_dropped: dropped, duration: started.elapsed() })
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

/// The lines that say what went wrong: PostgreSQL tools prefix them with "error:" or "FATAL:".
fn summarize(lines: &[String]) -> String {
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

    /// A fake bundle whose pg_restore prints three lines and exits with its first argument, and
    /// whose psql copies its input to `<arg>.part` and renames it to `<arg>` only on a clean
    /// end of input (the way `psql -1` commits only then).
    #[cfg(unix)]
    fn fake_tools(dir: &std::path::Path) -> BundledMajor {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let scripts = [
            ("pg_restore", "#!/bin/sh\nprintf 'keep 1\\ndrop 2\\nkeep 3\\n'\nexit \"$1\"\n"),
            ("psql", "#!/bin/sh\ncat > \"$1.part\" && mv \"$1.part\" \"$1\"\n"),
        ];
        for (name, script) in scripts {
            let path = bin.join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        BundledMajor { major: 18, version: "18".into(), root: dir.to_owned(), has_server: false }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_pipeline_filters_lines_and_ends_the_consumer_only_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let tools = fake_tools(dir.path());
        let run = |exit: &'static str, out: PathBuf| {
            let tools = tools.clone();
            async move {
                let producer = ToolCommand::new(&tools, Tool::PgRestore).unwrap().arg(exit);
                let consumer = ToolCommand::new(&tools, Tool::Psql).unwrap().arg(&out);
                let mut seen = Vec::new();
                let mut filter = |line: &[u8]| {
                    seen.push(String::from_utf8_lossy(line).into_owned());
                    !line.starts_with(b"drop")
                };
                let result = run_pipeline(
                    PipeSource::Tool(producer),
                    &mut filter,
                    Some(consumer),
                    &crate::base::progress::NullSink,
                    &CancellationToken::new(),
                )
                .await;
                (result, seen)
            }
        };
        let good = dir.path().join("good.sql");
        let (result, seen) = run("0", good.clone()).await;
        let done = result.unwrap();
        assert_eq!((done.lines_read, done.lines_dropped), (3, 1));
        assert_eq!(seen.len(), 3);
        assert_eq!(std::fs::read_to_string(&good).unwrap(), "keep 1\nkeep 3\n");

        let bad = dir.path().join("bad.sql");
        let (result, _) = run("3", bad.clone()).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::ToolFailed { tool: Tool::PgRestore, exit_code: Some(3), .. }),
            "{error}"
        );
        assert!(!bad.exists(), "the consumer never saw a clean end of its input");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_file_pipeline_without_consumer_only_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dump.sql");
        std::fs::write(&file, "a\nb\nc").unwrap();
        let mut lines = Vec::new();
        let mut filter = |line: &[u8]| {
            lines.push(line.to_vec());
            true
        };
        let done = run_pipeline(
            PipeSource::File(file),
            &mut filter,
            None,
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(done.lines_read, 3);
        assert_eq!(lines, [b"a\n".to_vec(), b"b\n".to_vec(), b"c".to_vec()]);
        let missing = run_pipeline(
            PipeSource::File(dir.path().join("nope.sql")),
            &mut |_: &[u8]| true,
            None,
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), crate::base::error::ErrorCode::Io);
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
