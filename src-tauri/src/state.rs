//! The app's managed state: the engine context, or why it could not be built.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lifeboat_engine::base::error::ErrorCode;
use lifeboat_engine::base::progress::{ProgressEvent, ProgressSink};
use lifeboat_engine::base::tools::Toolbox;
use lifeboat_engine::ops::schedule::Platform;
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::{Ctx, DataDir, ErrorPayload};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};
use tokio_util::sync::CancellationToken;

pub struct AppState {
    // A broken installation must still open the window and explain itself, so the startup
    // error is kept and returned by every command instead of aborting.
    ctx: Result<Ctx, ErrorPayload>,
    pub operations: Operations,
}

/// Long operations the window can cancel, by the id the window gave them.
#[derive(Default)]
pub struct Operations(Mutex<HashMap<String, CancellationToken>>);

impl Operations {
    pub fn begin(&self, id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), token.clone());
        token
    }

    pub fn end(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Whether an operation with this id was running.
    pub fn cancel(&self, id: &str) -> bool {
        let found = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        found.map(|token| token.cancel()).is_some()
    }
}

/// Forwards engine progress to the window through a Tauri channel.
pub struct ChannelSink(pub Channel<ProgressEvent>);

impl ProgressSink for ChannelSink {
    fn emit(&self, event: ProgressEvent) {
        // A closed window stops listening; the operation itself goes on to its end.
        let _ = self.0.send(event);
    }
}

impl AppState {
    /// This user's scheduler, with entries that run the `lifeboat` command-line program
    /// installed next to this app (a scheduled run has no window, so not this program).
    pub fn scheduler(&self) -> Result<Platform, ErrorPayload> {
        let mut platform = Platform::detect().map_err(|e| e.payload())?;
        platform.exe = cli_program(&platform.exe)?;
        Ok(platform)
    }

    pub fn load(app: &AppHandle) -> AppState {
        let ctx = DataDir::resolve()
            .and_then(|data_dir| {
                let tools = Toolbox::locate(bundle_candidates(app))?;
                Ctx::open(data_dir, tools, Arc::new(OsKeychain))
            })
            .map_err(|e| e.payload());
        AppState { ctx, operations: Operations::default() }
    }

    pub fn ctx(&self) -> Result<&Ctx, ErrorPayload> {
        self.ctx.as_ref().map_err(Clone::clone)
    }
}

/// `lifeboat` (`lifeboat.exe`) in the folder of `app`, the running app.
fn cli_program(app: &Path) -> Result<PathBuf, ErrorPayload> {
    let name = if cfg!(windows) { "lifeboat.exe" } else { "lifeboat" };
    let folder = app.parent().unwrap_or(Path::new("."));
    let cli = folder.join(name);
    if cli.is_file() {
        return Ok(cli);
    }
    Err(ErrorPayload {
        code: ErrorCode::SchedulerUnavailable,
        message: format!(
            "The lifeboat command-line program, which scheduled backups run, is not in {}.",
            folder.display()
        ),
        hint: "Install Lifeboat's command-line program next to the app (a source build makes \
               both with `make build`), then save the schedule again."
            .to_owned(),
    })
}

/// Where the bundled PostgreSQL tools are: the installed app's resources, and in debug builds
/// the folder the fetch script fills in the source tree.
fn bundle_candidates(app: &AppHandle) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        app.path().resource_dir().map(|dir| dir.join("postgres")).into_iter().collect();
    if cfg!(debug_assertions) {
        candidates.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/resources/postgres")));
    }
    candidates
}
