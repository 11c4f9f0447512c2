//! Tauri commands: each adapts one engine operation and nothing more.

use lifeboat_engine::ErrorPayload;
use lifeboat_engine::ops::app_info::{self, AppInfo, AppInfoInput};
use tauri::State;

use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo, ErrorPayload> {
    let ctx = state.ctx()?;
    app_info::app_info(ctx, AppInfoInput).await.map_err(|e| e.payload())
}
