//! Progress reporting. The caller of an operation passes a sink: the desktop forwards events
//! through a Tauri channel, the CLI draws a progress bar, tests record them.

use std::sync::Mutex;

use serde::Serialize;

use crate::base::tools::Tool;

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A bundled program was started.
    ToolStarted { tool: Tool, major: u32 },
    /// One line the program wrote to its diagnostic output (e.g. `pg_dump --verbose`).
    ToolOutput { tool: Tool, line: String },
    /// A multi-step operation (a restore drill) entered step `index` (1-based) of `total`.
    Stage { index: u32, total: u32, name: String },
    /// An operation's own progress: `done` of `total` units (e.g. tables), working on `current`.
    Step { done: u64, total: u64, current: String },
    /// How many bytes the data to write amounts to, before compression (e.g. the database size).
    SizeEstimate { bytes: u64 },
    /// Something the user should know that does not stop the operation.
    Warning { message: String },
    /// Bytes of output written to the destination so far.
    BytesWritten { tool: Tool, bytes: u64 },
    /// The program ended; `exit_code` is absent when a signal ended it.
    ToolFinished { tool: Tool, exit_code: Option<i32> },
}

pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);
}

/// Drops every event.
pub struct NullSink;

impl ProgressSink for NullSink {
    fn emit(&self, _event: ProgressEvent) {}
}

/// Keeps every event, for tests and for summaries.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<ProgressEvent>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events.lock().expect("recorder lock").clone()
    }

    /// The lines the programs wrote, in order.
    pub fn tool_lines(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::ToolOutput { line, .. } => Some(line),
                _ => None,
            })
            .collect()
    }
}

impl ProgressSink for Recorder {
    fn emit(&self, event: ProgressEvent) {
        self.events.lock().expect("recorder lock").push(event);
    }
}
