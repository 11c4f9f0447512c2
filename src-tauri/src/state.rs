//! The app's managed state: the engine context, or why it could not be built.

use std::path::PathBuf;
use std::sync::Arc;

use lifeboat_engine::keychain::OsKeychain;
use lifeboat_engine::tools::Toolbox;
use lifeboat_engine::{Ctx, DataDir, ErrorPayload};
use tauri::{AppHandle, Manager};

pub struct AppState {
    // A broken installation must still open the window and explain itself, so the startup
    // error is kept and returned by every command instead of aborting.
    ctx: Result<Ctx, ErrorPayload>,
}

impl AppState {
    pub fn load(app: &AppHandle) -> AppState {
        let ctx = DataDir::resolve()
            .and_then(|data_dir| {
                let tools = Toolbox::locate(bundle_candidates(app))?;
                Ctx::open(data_dir, tools, Arc::new(OsKeychain))
            })
            .map_err(|e| e.payload());
        AppState { ctx }
    }

    pub fn ctx(&self) -> Result<&Ctx, ErrorPayload> {
        self.ctx.as_ref().map_err(Clone::clone)
    }
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
