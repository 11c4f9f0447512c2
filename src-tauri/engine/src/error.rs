//! Errors of the engine. Every variant maps to a stable [`ErrorCode`] the UI and the CLI decide
//! by, a message that says what happened, and a hint that says what to do next.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

use crate::tools::Tool;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Lifeboat's bundled PostgreSQL tools were not found (looked in: {searched}).")]
    ToolsNotFound {
        searched: String,
        /// Whether the place looked in came from `LIFEBOAT_PG_BUNDLE`.
        from_env: bool,
    },

    #[error(
        "The server runs PostgreSQL {server}, which is newer than the newest PostgreSQL tools \
         bundled with Lifeboat ({newest_bundled})."
    )]
    ServerTooNew { server: String, newest_bundled: u32 },

    #[error(
        "The server runs PostgreSQL {server}, which is older than the oldest version the \
         bundled tools can back up ({oldest_supported})."
    )]
    ServerTooOld { server: String, oldest_supported: &'static str },

    #[error("The bundled {tool} for PostgreSQL {major} is missing (expected at {path}).")]
    ToolMissing { tool: Tool, major: u32, path: PathBuf },

    #[error("{tool} could not be started: {source}")]
    ToolSpawn {
        tool: Tool,
        #[source]
        source: io::Error,
    },

    #[error("{tool} failed{}: {detail}", exit_text(*.exit_code))]
    ToolFailed { tool: Tool, exit_code: Option<i32>, detail: String },

    #[error("The operation was cancelled.")]
    Cancelled,

    #[error("Lifeboat cannot use its data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{action} failed for {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!(" with exit code {code}"),
        None => " (it was stopped by a signal)".to_owned(),
    }
}

/// The stable identity of an error. The UI branches on this, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ToolsNotFound,
    ServerTooNew,
    ServerTooOld,
    ToolMissing,
    ToolSpawn,
    ToolFailed,
    Cancelled,
    DataDir,
    Io,
}

/// What crosses the IPC boundary or is printed by `lifeboat --json` when something fails.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ErrorPayload {
    pub code: ErrorCode,
    pub message: String,
    pub hint: String,
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::ToolsNotFound { .. } => ErrorCode::ToolsNotFound,
            Error::ServerTooNew { .. } => ErrorCode::ServerTooNew,
            Error::ServerTooOld { .. } => ErrorCode::ServerTooOld,
            Error::ToolMissing { .. } => ErrorCode::ToolMissing,
            Error::ToolSpawn { .. } => ErrorCode::ToolSpawn,
            Error::ToolFailed { .. } => ErrorCode::ToolFailed,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::DataDir { .. } => ErrorCode::DataDir,
            Error::Io { .. } => ErrorCode::Io,
        }
    }

    /// The next step for the user, in plain words.
    pub fn hint(&self) -> String {
        match self {
            Error::ToolsNotFound { from_env: true, .. } => {
                "LIFEBOAT_PG_BUNDLE points to a folder without PostgreSQL tools: correct it or \
                 unset it to use the tools installed with Lifeboat."
                    .to_owned()
            }
            Error::ToolsNotFound { from_env: false, .. } | Error::ToolMissing { .. } => {
                "Reinstall Lifeboat. When running from source, run `make run` once so the \
                 PostgreSQL binaries are downloaded and unpacked."
                    .to_owned()
            }
            Error::ServerTooNew { newest_bundled, .. } => format!(
                "Update Lifeboat to a version that bundles this PostgreSQL release; the tools in \
                 this version only go up to PostgreSQL {newest_bundled}."
            ),
            Error::ServerTooOld { .. } => {
                "Back this server up with the pg_dump that came with it, or upgrade the server."
                    .to_owned()
            }
            Error::ToolSpawn { .. } => {
                "Check that the Lifeboat installation is complete and that the disk is not full, \
                 then try again."
                    .to_owned()
            }
            Error::ToolFailed { .. } => {
                "Read the message above from PostgreSQL; it names the problem. Fix it and run \
                 the step again."
                    .to_owned()
            }
            Error::Cancelled => {
                "Nothing was left behind. Start again when you are ready.".to_owned()
            }
            Error::DataDir { .. } => {
                "Make sure the folder exists and is writable, or point LIFEBOAT_HOME to a folder \
                 that is."
                    .to_owned()
            }
            Error::Io { .. } => {
                "Check that the path exists, that you may write there, and that the disk has \
                 space, then try again."
                    .to_owned()
            }
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload { code: self.code(), message: self.to_string(), hint: self.hint() }
    }
}

impl From<&Error> for ErrorPayload {
    fn from(error: &Error) -> Self {
        error.payload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_carries_code_message_and_hint() {
        let error = Error::ServerTooNew { server: "19.1".into(), newest_bundled: 18 };
        let payload = error.payload();
        assert_eq!(payload.code, ErrorCode::ServerTooNew);
        assert!(payload.message.contains("19.1") && payload.message.contains("18"));
        assert!(payload.hint.contains("18"));
        let json = serde_json::to_value(&payload).unwrap();
        assert_eq!(json["code"], "server_too_new");
    }

    #[test]
    fn tool_failed_message_names_exit_code_or_signal() {
        let failed = Error::ToolFailed {
            tool: Tool::PgDump,
            exit_code: Some(1),
            detail: "connection refused".into(),
        };
        assert_eq!(failed.to_string(), "pg_dump failed with exit code 1: connection refused");
        let killed =
            Error::ToolFailed { tool: Tool::PgRestore, exit_code: None, detail: "".into() };
        assert!(killed.to_string().contains("stopped by a signal"));
    }
}
