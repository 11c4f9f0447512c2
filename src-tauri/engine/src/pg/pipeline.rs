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

/// A program the kept lines go into, with what Lifeboat writes before and after them.
#[derive(Debug)]
pub struct Consumer {
    pub command: ToolCommand,
    /// Written before the first line (e.g. psql's `\restrict KEY`).
    pub prologue: Vec<u8>,
    /// Written after the last line, just before the input closes (e.g. `\unrestrict KEY`).
    pub epilogue: Vec<u8>,
    /// An exit code with which this consumer may stop early without failing the pipeline
    /// (psql with `ON_ERROR_STOP` running a part of a restore that goes on after errors); the
    /// lines meant for it after it stopped are dropped.
    pub may_stop_with: Option<i32>,
}

impl Consumer {
    pub fn new(command: ToolCommand) -> Consumer {
        Consumer { command, prologue: Vec::new(), epilogue: Vec::new(), may_stop_with: None }
    }
}

/// What becomes of one line of the source.
#[derive(Debug)]
pub enum Route {
    /// Written to the consumer.
    Keep,
    /// Left out.
    Drop,
    /// Written to a new consumer: the running one gets its epilogue, its input closes and it is
    /// waited for, then this one starts, gets its prologue and the line. Only for consumers that
    /// may each commit their part on its own: only the last one's input waits for the producer.
    NewConsumer(Consumer),
    /// Stop: nothing more is written, the consumer is killed with its input still open (so
    /// `psql -1` commits nothing), the producer too, and the pipeline fails with this error.
    Abort(Error),
}

/// The filter between source and consumer: what becomes of each line.
pub type LineFilter<'a> = dyn FnMut(&[u8]) -> Route + Send + 'a;

/// What a finished pipeline did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRun {
    pub lines_read: u64,
    /// Lines the filter left out.
    pub lines_dropped: u64,
    /// Consumers run (each part the filter began with [`Route::NewConsumer`], and the first).
    pub consumers: u32,
    pub duration: Duration,
}

/// How the middle of a pipeline ended.
enum Flow {
    Done,
    /// The filter stopped the pipeline.
    Aborted(Error),
    /// A consumer could not be started.
    Start(Error),
    /// Reading the source failed (the file, or the producer's pipe).
    ReadFailed(std::io::Error),
    /// The producer exited with an error (or a signal) after its output ended.
    ProducerFailed(ExitStatus),
    /// The consumer stopped reading (it exited, usually on an error).
    ConsumerGone(std::io::Error),
    /// A consumer whose input was closed before the end exited with an error.
    ConsumerFailed(Tool, ExitStatus),
    /// Waiting for a child failed.
    Wait(Tool, std::io::Error),
}

/// How one consumer's part ended.
enum Step {
    /// The filter began a new consumer with this line.
    Next(Consumer, Vec<u8>),
    End(Flow),
}

type Input = Box<dyn AsyncRead + Unpin + Send>;
type Writer = BufWriter<ChildStdin>;

/// Large buffers: a dump streams through here at disk speed.
const BUFFER: usize = 256 << 10;

/// Runs `source | filter | consumer`: every line of the source (a program's output or a file)
/// goes through `filter`, and the lines it keeps are written to the consumer's standard input,
/// after the consumer's prologue and before its epilogue. Without a consumer the kept lines are
/// discarded (the filter only looks at them). The consumer's own standard output is discarded.
///
/// The (last) consumer's input is closed only after the producer has exited successfully: when
/// the producer fails, the filter aborts, or on cancel, the consumer is killed first, so a
/// consumer running one transaction (`psql -1`) never sees a clean end of input and never
/// commits half a stream. Both programs' diagnostic lines stream to `sink`; `cancel` kills
/// both.
pub async fn run_pipeline(
    source: PipeSource,
    filter: &mut LineFilter<'_>,
    consumer: Option<Consumer>,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PipelineRun> {
    let started = Instant::now();
    let (input, producer) = open_source(&source, sink).await?;
    let mut pipe = Pipe::new(producer, input);
    let producer_stderr = pipe.producer.as_mut().and_then(Program::take_stderr);
    let joined =
        async { tokio::join!(pipe.parts(consumer, filter, sink), tail(producer_stderr, sink)) };
    let outcome = tokio::select! {
        outcome = joined => Some(outcome),
        () = cancel.cancelled() => None,
    };
    let Some(((flow, consumer_tail), producer_tail)) = outcome else {
        pipe.cancel(sink).await;
        return Err(Error::Cancelled);
    };
    pipe.finish(flow, &source, &producer_tail, &consumer_tail, sink).await?;
    Ok(PipelineRun {
        lines_read: pipe.read,
        lines_dropped: pipe.dropped,
        consumers: pipe.consumers,
        duration: started.elapsed(),
    })
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

/// The running pipeline: its programs, the source and the consumer's input.
struct Pipe {
    producer: Option<Program>,
    reader: BufReader<Input>,
    consumer: Option<Program>,
    /// Held here so that no early return or cancel closes the consumer's input by accident.
    writer: Option<Writer>,
    epilogue: Vec<u8>,
    may_stop_with: Option<i32>,
    read: u64,
    dropped: u64,
    consumers: u32,
}

impl Pipe {
    fn new(producer: Option<Program>, input: Input) -> Pipe {
        Pipe {
            producer,
            reader: BufReader::with_capacity(BUFFER, input),
            consumer: None,
            writer: None,
            epilogue: Vec::new(),
            may_stop_with: None,
            read: 0,
            dropped: 0,
            consumers: 0,
        }
    }

    /// Runs the consumers one after the other, each with its part of the lines; how it ended
    /// and the last consumer's diagnostic lines.
    async fn parts(
        &mut self,
        first: Option<Consumer>,
        filter: &mut LineFilter<'_>,
        sink: &dyn ProgressSink,
    ) -> (Flow, Vec<String>) {
        let mut next = first;
        let mut carried = None;
        loop {
            let mut prologue = Vec::new();
            let mut stderr = None;
            if let Some(consumer) = next.take() {
                if let Err(error) = self.start_consumer(&consumer.command, sink) {
                    self.stop_after(&Flow::Done).await;
                    return (Flow::Start(error), Vec::new());
                }
                (self.epilogue, self.may_stop_with) = (consumer.epilogue, consumer.may_stop_with);
                prologue = consumer.prologue;
                stderr = self.consumer.as_mut().and_then(Program::take_stderr);
            }
            let fed = self.feed(filter, prologue, carried.take());
            let (step, consumer_tail) = tokio::join!(fed, tail(stderr, sink));
            match step {
                Step::Next(consumer, line) => {
                    if let Err(flow) = self.end_consumer(sink).await {
                        self.stop_after(&flow).await;
                        return (flow, consumer_tail);
                    }
                    (next, carried) = (Some(consumer), Some(line));
                }
                Step::End(flow) => return (flow, consumer_tail),
            }
        }
    }

    fn start_consumer(&mut self, command: &ToolCommand, sink: &dyn ProgressSink) -> Result<()> {
        let mut program = Program::start(command, Stdio::piped(), Stdio::null(), sink)?;
        self.writer =
            program.child.stdin.take().map(|stdin| BufWriter::with_capacity(BUFFER, stdin));
        self.consumer = Some(program);
        self.consumers += 1;
        Ok(())
    }

    /// Moves the lines of one consumer's part through: then, at the end of the source, ends the
    /// consumer's input on success or stops both programs on a failure.
    async fn feed(
        &mut self,
        filter: &mut LineFilter<'_>,
        prologue: Vec<u8>,
        carried: Option<Vec<u8>>,
    ) -> Step {
        let ended = async {
            self.write(&prologue).await?;
            if let Some(line) = carried {
                self.write(&line).await?;
            }
            let mut line = Vec::with_capacity(1024);
            loop {
                line.clear();
                if self.reader.read_until(b'\n', &mut line).await.map_err(Flow::ReadFailed)? == 0 {
                    break;
                }
                self.read += 1;
                match filter(&line) {
                    Route::Keep => self.write(&line).await?,
                    Route::Drop => self.dropped += 1,
                    Route::NewConsumer(next) => {
                        self.close_input().await?;
                        return Ok(Some((next, std::mem::take(&mut line))));
                    }
                    Route::Abort(error) => return Err(Flow::Aborted(error)),
                }
            }
            self.wait_producer().await?;
            // The producer finished cleanly: now, and only now, the consumer sees the end.
            self.close_input().await?;
            Ok(None)
        };
        match ended.await {
            Ok(Some((next, line))) => Step::Next(next, line),
            Ok(None) => Step::End(Flow::Done),
            Err(failure) => {
                self.stop_after(&failure).await;
                Step::End(failure)
            }
        }
    }

    /// Writes to the consumer, if there is one that still reads.
    async fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), Flow> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        match writer.write_all(bytes).await {
            Ok(()) => Ok(()),
            Err(error) => self.consumer_stopped(error).await,
        }
    }

    /// The consumer's epilogue, then the end of its input.
    async fn close_input(&mut self) -> std::result::Result<(), Flow> {
        let epilogue = std::mem::take(&mut self.epilogue);
        self.write(&epilogue).await?;
        if let Some(writer) = self.writer.as_mut()
            && let Err(error) = writer.flush().await
        {
            return self.consumer_stopped(error).await;
        }
        drop(self.writer.take());
        Ok(())
    }

    /// The consumer stopped reading: fine when it exited as it may (its remaining lines are
    /// dropped), else a failure.
    async fn consumer_stopped(&mut self, error: std::io::Error) -> std::result::Result<(), Flow> {
        if let (Some(code), Some(consumer)) = (self.may_stop_with, self.consumer.as_mut())
            && let Ok(status) = consumer.child.wait().await
            && status.code() == Some(code)
        {
            drop(self.writer.take());
            return Ok(());
        }
        Err(Flow::ConsumerGone(error))
    }

    /// Waits for a consumer whose input was closed before the end of the source.
    async fn end_consumer(&mut self, sink: &dyn ProgressSink) -> std::result::Result<(), Flow> {
        let Some(mut consumer) = self.consumer.take() else { return Ok(()) };
        let status = match consumer.child.wait().await {
            Ok(status) => status,
            Err(error) => return Err(Flow::Wait(consumer.tool, error)),
        };
        sink.emit(ProgressEvent::ToolFinished { tool: consumer.tool, exit_code: status.code() });
        if status.success() || status.code().is_some_and(|c| Some(c) == self.may_stop_with) {
            Ok(())
        } else {
            Err(Flow::ConsumerFailed(consumer.tool, status))
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

    /// Reports both programs finished and turns how the flow ended into the error that says
    /// which side failed.
    async fn finish(
        &mut self,
        flow: Flow,
        source: &PipeSource,
        producer_tail: &[String],
        consumer_tail: &[String],
        sink: &dyn ProgressSink,
    ) -> Result<()> {
        drop(self.writer.take());
        if let Some(producer) = self.producer.as_mut() {
            producer.report_finished(sink);
        }
        let Flow::Done = flow else {
            if let Some(consumer) = self.consumer.as_mut() {
                consumer.report_finished(sink);
            }
            return Err(self.failure(flow, source, producer_tail, consumer_tail));
        };
        let tool = self.consumer.as_ref().map(|c| c.tool);
        match self.end_consumer(sink).await {
            Ok(()) => Ok(()),
            Err(Flow::ConsumerFailed(tool, status)) => {
                Err(tool_failed(tool, status, consumer_tail))
            }
            Err(Flow::Wait(_, source)) => {
                Err(Error::ToolSpawn { tool: tool.unwrap_or(Tool::Psql), source })
            }
            Err(_) => unreachable!("ending a consumer fails only so"),
        }
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
            Flow::ConsumerFailed(tool, status) => tool_failed(tool, status, consumer_tail),
            Flow::Wait(tool, source) => Error::ToolSpawn { tool, source },
            Flow::Aborted(error) | Flow::Start(error) => error,
            Flow::Done => unreachable!("a finished flow is no failure"),
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
                    if line.starts_with(b"drop") { Route::Drop } else { Route::Keep }
                };
                let result = run_pipeline(
                    PipeSource::Tool(producer),
                    &mut filter,
                    Some(Consumer::new(consumer)),
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

    /// A fake psql that appends its input to `<arg>` and exits with the number on its first
    /// line of input starting with `exit ` (0 without one).
    #[cfg(unix)]
    fn fake_psql(dir: &std::path::Path) -> BundledMajor {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = "#!/bin/sh\nwhile IFS= read -r l; do\n  case \"$l\" in exit*) exit \"${l#exit }\";; esac\n  \
                      printf '%s\\n' \"$l\" >> \"$1\"\ndone\n";
        let path = bin.join("psql");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        BundledMajor { major: 18, version: "18".into(), root: dir.to_owned(), has_server: false }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn parts_go_to_consumers_of_their_own_with_prologue_and_epilogue() {
        let dir = tempfile::tempdir().unwrap();
        let tools = fake_psql(dir.path());
        let file = dir.path().join("dump.sql");
        let out = dir.path().join("out.txt");
        std::fs::write(&file, "a\nPART b\nexit 3\nlost\nPART c\nd\n").unwrap();
        let consumer = |may_stop: Option<i32>| Consumer {
            command: ToolCommand::new(&tools, Tool::Psql).unwrap().arg(&out),
            prologue: b"<\n".to_vec(),
            epilogue: b">\n".to_vec(),
            may_stop_with: may_stop,
        };
        let mut filter = |line: &[u8]| {
            if line.starts_with(b"PART") {
                Route::NewConsumer(consumer(Some(3)))
            } else {
                Route::Keep
            }
        };
        let run = run_pipeline(
            PipeSource::File(file.clone()),
            &mut filter,
            Some(consumer(None)),
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!((run.lines_read, run.consumers), (6, 3));
        // The second part stopped at "exit 3": its line "lost" went nowhere.
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "<\na\n>\n<\nPART b\n<\nPART c\nd\n>\n");

        // A consumer stopping with another code fails the pipeline; so does the filter.
        std::fs::write(&file, "a\nexit 2\nb\n").unwrap();
        let error = run_pipeline(
            PipeSource::File(file.clone()),
            &mut |_: &[u8]| Route::Keep,
            Some(consumer(Some(3))),
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, Error::ToolFailed { exit_code: Some(2), .. }), "{error}");
        let error = run_pipeline(
            PipeSource::File(file),
            &mut |_: &[u8]| Route::Abort(Error::Cancelled),
            Some(consumer(None)),
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, Error::Cancelled), "{error}");
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
            Route::Keep
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
            &mut |_: &[u8]| Route::Keep,
            None,
            &crate::base::progress::NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(missing.code(), crate::base::error::ErrorCode::Io);
    }
}
