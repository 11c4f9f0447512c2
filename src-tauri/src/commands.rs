//! Tauri commands: each adapts one engine operation and nothing more.

use lifeboat_engine::ErrorPayload;
use lifeboat_engine::browse::{
    self, DatabaseInfo, ListDatabases, ListSchemas, ListTables, SchemaInfo, TableInfo,
};
use lifeboat_engine::connect::{self, CheckProfile, CheckReport, CheckSettings};
use lifeboat_engine::ops::app_info::{self, AppInfo, AppInfoInput};
use lifeboat_engine::profiles::{
    self, AddProfile, ListProfiles, Profile, RemoveProfile, UpdateProfile,
};
use tauri::State;

use crate::state::AppState;

type Reply<T> = Result<T, ErrorPayload>;

#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> Reply<AppInfo> {
    app_info::app_info(state.ctx()?, AppInfoInput).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_profiles(state: State<'_, AppState>) -> Reply<Vec<Profile>> {
    profiles::list_profiles(state.ctx()?, ListProfiles).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn add_profile(state: State<'_, AppState>, input: AddProfile) -> Reply<Profile> {
    profiles::add_profile(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn update_profile(state: State<'_, AppState>, input: UpdateProfile) -> Reply<Profile> {
    profiles::update_profile(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_profile(state: State<'_, AppState>, input: RemoveProfile) -> Reply<()> {
    profiles::remove_profile(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn check_profile(state: State<'_, AppState>, input: CheckProfile) -> Reply<CheckReport> {
    connect::check_profile(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn check_settings(
    state: State<'_, AppState>,
    input: CheckSettings,
) -> Reply<CheckReport> {
    connect::check_settings(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_databases(
    state: State<'_, AppState>,
    input: ListDatabases,
) -> Reply<Vec<DatabaseInfo>> {
    browse::list_databases(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_schemas(
    state: State<'_, AppState>,
    input: ListSchemas,
) -> Reply<Vec<SchemaInfo>> {
    browse::list_schemas(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_tables(state: State<'_, AppState>, input: ListTables) -> Reply<Vec<TableInfo>> {
    browse::list_tables(state.ctx()?, input).await.map_err(|e| e.payload())
}
