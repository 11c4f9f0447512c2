//! `source | filter | consumer`: a program's output or a file, line by line through a filter in
//! the engine, into a second program's standard input. Kept apart from [`super::runner`] because
//! ending it safely (never letting a one-transaction consumer commit half a stream) takes care
//! of its own.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStderr, ChildStdin};
use tokio_util::sync::CancellationToken;

use super::runner::{ToolCommand, read_stderr, spawn, summarize, tool_failed};
use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::base::tools::Tool;

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
    ProducerFailed(ExitStatus),
    /// The consumer stopped reading (it exited, usually on an error).
    ConsumerGone(std::io::Error),
    /// Waiting for a child failed.
    Wait(Tool, std::io::Error),
}

type Input = Box<dyn AsyncRead + Unpin + Send>;
type Writer = BufWriter<ChildStdin>;

/// Large buffers: a dump streams through here at disk speed.
const BUFFER: usize = 256 << 10;

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
    let (input, producer) = open_source(&source, sink).await?;
    // What the consumer prints (psql's query results) is not wanted anywhere.
    let consumer = consumer
        .map(|command| Program::start(&command, Stdio::piped(), Stdio::null(), sink))
        .transpose()?;
    let mut pipe = Pipe::new(producer, consumer);
    let producer_stderr = pipe.producer.as_mut().and_then(Program::take_stderr);
    let consumer_stderr = pipe.consumer.as_mut().and_then(Program::take_stderr);

    let tails = async { tokio::join!(tail(producer_stderr, sink), tail(consumer_stderr, sink)) };
    let joined = async { tokio::join!(pipe.flow(input, filter), tails) };
    let outcome = tokio::select! {
        outcome = joined => Some(outcome),
        () = cancel.cancelled() => None,
    };
    let Some((flow, (producer_tail, consumer_tail))) = outcome else {
        pipe.cancel(sink).await;
        return Err(Error::Cancelled);
    };
    let (read, dropped) = pipe.finish(flow, &source, &producer_tail, &consumer_tail, sink).await?;
    Ok(PipelineRun { lines_read: read, lines_dropped: dropped, duration: started.elapsed() })
}

/// The source's bytes, and the program writing them when the source is one.
async fn open_source(
    source: &PipeSource,
    sink: &dyn ProgressSink,
) -> Result<(Input, Option<Program>)> {
    match source {
        PipeSource::Tool(command) => {
            let mut producer = Program::start(command, Stdio::null(), Stdio::piped(), sink)?;
            let stdout = producer.child.stdout.take().expect("stdout is piped");
            Ok((Box::new(stdout), Some(producer)))
        }
        PipeSource::File(path) => {
            let file =
                tokio::fs::File::open(path).await.map_err(|source| reading_backup(path, source))?;
            Ok((Box::new(file), None))
        }
    }
}

fn reading_backup(path: &Path, source: std::io::Error) -> Error {
    Error::Io { action: "Reading the backup", path: path.to_owned(), source }
}

/// The last diagnostic lines of one program, streamed to the sink on the way.
async fn tail(stderr: Option<(ChildStderr, Tool)>, sink: &dyn ProgressSink) -> Vec<String> {
    match stderr {
        Some((stderr, tool)) => read_stderr(stderr, tool, sink).await.into(),
        None => Vec::new(),
    }
}

/// One started program of a pipeline.
struct Program {
    child: Child,
    tool: Tool,
}

impl Program {
    fn start(
        command: &ToolCommand,
        stdin: Stdio,
        stdout: Stdio,
        sink: &dyn ProgressSink,
    ) -> Result<Program> {
        let child = spawn(command, stdin, stdout)?;
        sink.emit(ProgressEvent::ToolStarted { tool: command.tool, major: command.major });
        Ok(Program { child, tool: command.tool })
    }

    fn take_stderr(&mut self) -> Option<(ChildStderr, Tool)> {
        self.child.stderr.take().map(|stderr| (stderr, self.tool))
    }

    async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Reports the program finished, with its exit code when it has already exited.
    fn report_finished(&mut self, sink: &dyn ProgressSink) {
        let exit_code = self.child.try_wait().ok().flatten().and_then(|s| s.code());
        sink.emit(ProgressEvent::ToolFinished { tool: self.tool, exit_code });
    }
}

/// The running pipeline: its programs and the consumer's input.
struct Pipe {
    producer: Option<Program>,
    consumer: Option<Program>,
    /// Held here so that no early return or cancel closes the consumer's input by accident.
    writer: Option<Writer>,
}

impl Pipe {
    fn new(producer: Option<Program>, mut consumer: Option<Program>) -> Pipe {
        let writer = consumer
            .as_mut()
            .and_then(|c| c.child.stdin.take())
            .map(|stdin| BufWriter::with_capacity(BUFFER, stdin));
        Pipe { producer, consumer, writer }
    }

    /// Moves the lines through, then ends the consumer's input on success or stops both
    /// programs on a failure.
    async fn flow(&mut self, input: Input, filter: &mut (dyn FnMut(&[u8]) -> bool + Send)) -> Flow {
        let ended = async {
            let counts = copy_lines(input, filter, self.writer.as_mut()).await?;
            self.wait_producer().await?;
            if let Some(writer) = self.writer.as_mut() {
                writer.flush().await.map_err(Flow::ConsumerGone)?;
            }
            Ok(counts)
        };
        match ended.await {
            Ok((read, dropped)) => {
                // The producer finished cleanly: now, and only now, the consumer sees the end.
                drop(self.writer.take());
                Flow::Done { read, dropped }
            }
            Err(failure) => {
                self.stop_after(&failure).await;
                failure
            }
        }
    }

    async fn wait_producer(&mut self) -> std::result::Result<(), Flow> {
        let Some(producer) = self.producer.as_mut() else { return Ok(()) };
        match producer.child.wait().await {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(Flow::ProducerFailed(status)),
            Err(error) => Err(Flow::Wait(producer.tool, error)),
        }
    }

    /// The producer stops (it may be blocked writing to us); the consumer is killed while its
    /// input is still open, unless it already left on its own (then its exit status says why).
    async fn stop_after(&mut self, failure: &Flow) {
        if let Some(producer) = self.producer.as_mut() {
            producer.kill().await;
        }
        if let Some(consumer) = self.consumer.as_mut() {
            if matches!(failure, Flow::ConsumerGone(_)) {
                let _ = consumer.child.wait().await;
            } else {
                consumer.kill().await;
            }
        }
        // Only now its input closes: anything the consumer started (a shell's children) ends
        // too, instead of holding its error output open forever.
        drop(self.writer.take());
    }

    /// Consumer first, while its input is still open; then the producer.
    async fn cancel(&mut self, sink: &dyn ProgressSink) {
        if let Some(consumer) = self.consumer.as_mut() {
            consumer.kill().await;
        }
        drop(self.writer.take());
        if let Some(producer) = self.producer.as_mut() {
            producer.kill().await;
        }
        for program in [&self.producer, &self.consumer].into_iter().flatten() {
            sink.emit(ProgressEvent::ToolFinished { tool: program.tool, exit_code: None });
        }
    }

    /// Reports both programs finished and turns how the flow ended into the lines counted or
    /// the error that says which side failed.
    async fn finish(
        mut self,
        flow: Flow,
        source: &PipeSource,
        producer_tail: &[String],
        consumer_tail: &[String],
        sink: &dyn ProgressSink,
    ) -> Result<(u64, u64)> {
        drop(self.writer.take());
        if let Some(producer) = self.producer.as_mut() {
            producer.report_finished(sink);
        }
        let Flow::Done { read, dropped } = flow else {
            if let Some(consumer) = self.consumer.as_mut() {
                consumer.report_finished(sink);
            }
            return Err(self.failure(flow, source, producer_tail, consumer_tail));
        };
        if let Some(Program { child, tool }) = self.consumer.as_mut() {
            let tool = *tool;
            let status = child.wait().await.map_err(|source| Error::ToolSpawn { tool, source })?;
            sink.emit(ProgressEvent::ToolFinished { tool, exit_code: status.code() });
            if !status.success() {
                return Err(tool_failed(tool, status, consumer_tail));
            }
        }
        Ok((read, dropped))
    }

    fn failure(
        &mut self,
        flow: Flow,
        source: &PipeSource,
        producer_tail: &[String],
        consumer_tail: &[String],
    ) -> Error {
        let producer_tool = self.producer.as_ref().map_or(Tool::PgRestore, |p| p.tool);
        match flow {
            Flow::ReadFailed(error) => match source {
                PipeSource::File(path) => reading_backup(path, error),
                PipeSource::Tool(_) => Error::ToolFailed {
                    tool: producer_tool,
                    exit_code: None,
                    detail: format!("its output could not be read: {error}"),
                },
            },
            Flow::ProducerFailed(status) => tool_failed(producer_tool, status, producer_tail),
            Flow::ConsumerGone(error) => self.consumer_gone(error, consumer_tail),
            Flow::Wait(tool, source) => Error::ToolSpawn { tool, source },
            Flow::Done { .. } => unreachable!("a finished flow is no failure"),
        }
    }

    /// Why the consumer stopped reading: its failed exit when it has one.
    fn consumer_gone(&mut self, error: std::io::Error, consumer_tail: &[String]) -> Error {
        let tool = self.consumer.as_ref().map_or(Tool::Psql, |c| c.tool);
        match self.consumer.as_mut().map(|c| c.child.try_wait()) {
            Some(Ok(Some(status))) if !status.success() => tool_failed(tool, status, consumer_tail),
            _ => Error::ToolFailed {
                tool,
                exit_code: None,
                detail: format!(
                    "it stopped reading its input ({error}): {}",
                    summarize(consumer_tail)
                ),
            },
        }
    }
}

/// Passes every line of `input` through `filter` and writes the kept ones to `writer`; the
/// lines read and dropped.
async fn copy_lines(
    input: Input,
    filter: &mut (dyn FnMut(&[u8]) -> bool + Send),
    mut writer: Option<&mut Writer>,
) -> std::result::Result<(u64, u64), Flow> {
    let mut reader = BufReader::with_capacity(BUFFER, input);
    let mut line = Vec::with_capacity(1024);
    let (mut read, mut dropped) = (0u64, 0u64);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await.map_err(Flow::ReadFailed)? == 0 {
            return Ok((read, dropped));
        }
        read += 1;
        if !filter(&line) {
            dropped += 1;
            continue;
        }
        if let Some(writer) = writer.as_mut() {
            writer.write_all(&line).await.map_err(Flow::ConsumerGone)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::tools::BundledMajor;

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
}
