//! Tauri commands: each adapts one engine operation and nothing more.

use lifeboat_engine::ErrorPayload;
use lifeboat_engine::base::progress::ProgressEvent;
use lifeboat_engine::ops::activity::{
    self, ActivityEntry, ActivityLogRequest, ActivityOrigin, ListActivity,
};
use lifeboat_engine::ops::app_info::{self, AppInfo, AppInfoInput};
use lifeboat_engine::ops::backup::{
    self, BackupFormat, BackupNames, BackupOutcome, CompressionChoices, CompressionChoicesInput,
    StartBackup,
};
use lifeboat_engine::ops::backup_server::{ServerBackupOutcome, StartServerBackup};
use lifeboat_engine::ops::browse::{
    self, DatabaseInfo, ListDatabases, ListSchemas, ListTables, SchemaInfo, TableInfo,
};
use lifeboat_engine::ops::diagnostics::{self, Diagnostics, DiagnosticsInput};
use lifeboat_engine::ops::drill::{DrillReport, DrillRequest};
use lifeboat_engine::ops::practice_db::{self, PracticeDatabase};
use lifeboat_engine::ops::restore::{self, RestoreOutcome, RestorePlan, RestoreRequest};
use lifeboat_engine::ops::retention::{self, PruneReport, PruneRequest};
use lifeboat_engine::ops::schedule::{
    self, Schedule, ScheduleEntry, ScheduleInput, ScheduleSummary, TestFireReport,
};
use lifeboat_engine::ops::watch::{self, SetThresholds, WatchReport, WatchRequest};
use lifeboat_engine::pg::connect::{self, CheckProfile, CheckReport, CheckSettings};
use lifeboat_engine::storage::catalog::{self, BackupRecord, ListBackups, PickUntested};
use lifeboat_engine::storage::profiles::{
    self, AddProfile, ListProfiles, Profile, RemoveProfile, UpdateProfile,
};
use lifeboat_engine::storage::smoke::{self, ListSmokeChecks, SaveSmokeChecks, SmokeCheck};
use lifeboat_engine::util::naming;
use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::paths::PathPolicy;
use crate::state::{AppState, ChannelSink};
use crate::watcher::{WatchStatus, Watcher};

type Reply<T> = Result<T, ErrorPayload>;

#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> Reply<AppInfo> {
    app_info::app_info(state.ctx()?, AppInfoInput).await.map_err(|e| e.payload())
}

/// Makes (or finds) the practice server, its profile and the sample database, and starts it.
#[tauri::command]
#[specta::specta]
pub async fn create_practice_database(state: State<'_, AppState>) -> Reply<PracticeDatabase> {
    let ctx = state.ctx()?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let input = practice_db::PracticeSetup::default();
    let sink = lifeboat_engine::base::progress::NullSink;
    practice_db::create_practice_database(ctx, input, &sink, &cancel).await.map_err(|e| e.payload())
}

/// The "Copy diagnostic info" report; when Lifeboat could not start, the report says why.
#[tauri::command]
#[specta::specta]
pub async fn diagnostics(state: State<'_, AppState>) -> Reply<Diagnostics> {
    match state.ctx() {
        Ok(ctx) => diagnostics::diagnostics(ctx, DiagnosticsInput).await.map_err(|e| e.payload()),
        Err(problem) => {
            let data_dir = lifeboat_engine::DataDir::resolve().ok();
            Ok(diagnostics::startup_failed(data_dir.as_ref().map(|d| d.path()), &problem))
        }
    }
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

/// Runs a backup; progress streams through `on_event`; `cancel_operation(operation_id)` stops it.
#[tauri::command]
#[specta::specta]
pub async fn start_backup(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    operation_id: String,
    input: StartBackup,
    on_event: Channel<ProgressEvent>,
) -> Reply<BackupOutcome> {
    paths.check(&input.destination, "Backup folder")?;
    let ctx = state.ctx()?;
    let cancel = state.operations.begin(&operation_id);
    let sink = ChannelSink(on_event);
    let outcome = activity::backup(ctx, ActivityOrigin::Desktop, input, &sink, &cancel).await;
    state.operations.end(&operation_id);
    outcome.map_err(|e| e.payload())
}

/// Backs up every database of a profile's server; progress (a stage per database) streams
/// through `on_event`; `cancel_operation(operation_id)` stops it, keeping finished backups.
#[tauri::command]
#[specta::specta]
pub async fn start_server_backup(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    operation_id: String,
    input: StartServerBackup,
    on_event: Channel<ProgressEvent>,
) -> Reply<ServerBackupOutcome> {
    paths.check(&input.destination, "Backup folder")?;
    let ctx = state.ctx()?;
    let cancel = state.operations.begin(&operation_id);
    let sink = ChannelSink(on_event);
    let outcome =
        activity::backup_server(ctx, ActivityOrigin::Desktop, input, &sink, &cancel).await;
    state.operations.end(&operation_id);
    outcome.map_err(|e| e.payload())
}

/// The finished jobs (backups, restores, drills), newest first, for the Activity view.
#[tauri::command]
#[specta::specta]
pub async fn list_activity(
    state: State<'_, AppState>,
    input: ListActivity,
) -> Reply<Vec<ActivityEntry>> {
    activity::list_activity(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// The last lines a finished job's programs wrote.
#[tauri::command]
#[specta::specta]
pub async fn activity_log(
    state: State<'_, AppState>,
    input: ActivityLogRequest,
) -> Reply<Vec<String>> {
    activity::activity_log(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_operation(state: State<'_, AppState>, operation_id: String) -> Reply<bool> {
    Ok(state.operations.cancel(&operation_id))
}

#[tauri::command]
#[specta::specta]
pub async fn list_backups(
    state: State<'_, AppState>,
    input: ListBackups,
) -> Reply<Vec<BackupRecord>> {
    catalog::list_backups(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// The folder the Backup wizard proposes: "backups" in Lifeboat's data folder, created.
#[tauri::command]
#[specta::specta]
pub async fn default_backup_folder(state: State<'_, AppState>) -> Reply<String> {
    backup::default_folder(state.ctx()?).map(|p| p.display().to_string()).map_err(|e| e.payload())
}

/// The compression each backup format allows with the pg_dump that backs up this profile's server.
#[tauri::command]
#[specta::specta]
pub async fn compression_choices(
    state: State<'_, AppState>,
    input: CompressionChoicesInput,
) -> Reply<CompressionChoices> {
    backup::compression_choices(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// The file names a backup started now would get, for the wizard's preview.
#[tauri::command]
#[specta::specta]
pub async fn preview_backup_names(
    database: String,
    format: BackupFormat,
    schema: Option<String>,
) -> Reply<BackupNames> {
    Ok(backup::preview_names(&database, format, schema.as_deref()))
}

/// The database a backup's file name says it holds, as the engine reads Lifeboat's names.
#[tauri::command]
#[specta::specta]
pub async fn backup_database_name(path: String) -> Reply<String> {
    Ok(naming::database_of_backup(&path))
}

/// What a restore would do, with its findings; changes nothing on the server.
#[tauri::command]
#[specta::specta]
pub async fn preflight_restore(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    input: RestoreRequest,
) -> Reply<RestorePlan> {
    paths.check_source(&input.source, "Backup to restore")?;
    restore::preflight(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// Runs a restore; progress streams through `on_event`; `cancel_operation(operation_id)` stops it.
#[tauri::command]
#[specta::specta]
pub async fn start_restore(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    operation_id: String,
    input: RestoreRequest,
    on_event: Channel<ProgressEvent>,
) -> Reply<RestoreOutcome> {
    paths.check_source(&input.source, "Backup to restore")?;
    let ctx = state.ctx()?;
    let cancel = state.operations.begin(&operation_id);
    let sink = ChannelSink(on_event);
    let outcome = activity::restore(ctx, ActivityOrigin::Desktop, input, &sink, &cancel).await;
    state.operations.end(&operation_id);
    outcome.map_err(|e| e.payload())
}

/// Runs a restore drill; progress streams through `on_event`; `cancel_operation(operation_id)`
/// stops it (the scratch database is dropped, the practice server stopped).
#[tauri::command]
#[specta::specta]
pub async fn start_drill(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    operation_id: String,
    input: DrillRequest,
    on_event: Channel<ProgressEvent>,
) -> Reply<DrillReport> {
    paths.check_source(&input.source, "Backup to test")?;
    let ctx = state.ctx()?;
    let cancel = state.operations.begin(&operation_id);
    let sink = ChannelSink(on_event);
    let report = activity::drill(ctx, ActivityOrigin::Desktop, input, &sink, &cancel).await;
    state.operations.end(&operation_id);
    report.map_err(|e| e.payload())
}

/// A finished, never tested backup chosen at random.
#[tauri::command]
#[specta::specta]
pub async fn pick_untested_backup(
    state: State<'_, AppState>,
    input: PickUntested,
) -> Reply<Option<BackupRecord>> {
    catalog::pick_untested(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_smoke_checks(
    state: State<'_, AppState>,
    input: ListSmokeChecks,
) -> Reply<Vec<SmokeCheck>> {
    smoke::list_checks(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn save_smoke_checks(
    state: State<'_, AppState>,
    input: SaveSmokeChecks,
) -> Reply<Vec<SmokeCheck>> {
    smoke::save_checks(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// What needs attention, per database, and each database's readiness line.
#[tauri::command]
#[specta::specta]
pub async fn watch(state: State<'_, AppState>, input: WatchRequest) -> Reply<WatchReport> {
    watch::watch(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// What the background check found last (when it ran, what it notified, what kept it from it).
#[tauri::command]
#[specta::specta]
pub async fn watch_status(watcher: State<'_, Watcher>) -> Reply<WatchStatus> {
    Ok(watcher.status())
}

/// A database's own limits for the watch; every limit None goes back to the defaults.
#[tauri::command]
#[specta::specta]
pub async fn set_thresholds(state: State<'_, AppState>, input: SetThresholds) -> Reply<()> {
    watch::set_thresholds(state.ctx()?, input).await.map_err(|e| e.payload())
}

#[tauri::command]
#[specta::specta]
pub async fn list_schedules(state: State<'_, AppState>) -> Reply<Vec<ScheduleSummary>> {
    schedule::list(state.ctx()?).await.map_err(|e| e.payload())
}

/// The schedule and its entry in this user's scheduler, verbatim.
#[tauri::command]
#[specta::specta]
pub async fn show_schedule(state: State<'_, AppState>, name: String) -> Reply<ScheduleEntry> {
    let platform = state.scheduler()?;
    schedule::show_with(state.ctx()?, &platform, &name).await.map_err(|e| e.payload())
}

/// Adds a schedule and installs it in this user's scheduler.
#[tauri::command]
#[specta::specta]
pub async fn add_schedule(
    state: State<'_, AppState>,
    paths: State<'_, PathPolicy>,
    input: ScheduleInput,
) -> Reply<Schedule> {
    if let Some(folder) = &input.out_dir {
        paths.check(folder, "Backup folder")?;
    }
    if let Some(folder) = &input.copy_to {
        paths.check(folder, "Second copy folder")?;
    }
    let platform = state.scheduler()?;
    schedule::add_with(state.ctx()?, &platform, input).await.map_err(|e| e.payload())
}

/// Removes a schedule and its scheduler entry; its runs stay as history.
#[tauri::command]
#[specta::specta]
pub async fn remove_schedule(state: State<'_, AppState>, name: String) -> Reply<Schedule> {
    let platform = state.scheduler()?;
    schedule::remove_with(state.ctx()?, &platform, &name).await.map_err(|e| e.payload())
}

/// Runs the schedule's installed command in the scheduler's bare environment (a real run) and
/// says what breaks there.
#[tauri::command]
#[specta::specta]
pub async fn test_fire_schedule(state: State<'_, AppState>, name: String) -> Reply<TestFireReport> {
    let platform = state.scheduler()?;
    schedule::test_fire_with(state.ctx()?, &platform, &name).await.map_err(|e| e.payload())
}

/// What a retention policy would delete; always a dry run, nothing is deleted.
#[tauri::command]
#[specta::specta]
pub async fn preview_retention(
    state: State<'_, AppState>,
    input: PruneRequest,
) -> Reply<PruneReport> {
    let request = PruneRequest { dry_run: true, ..input };
    retention::prune(state.ctx()?, request).await.map_err(|e| e.payload())
}

/// What the system's file or folder picker is asked for.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PickPath {
    /// A folder rather than a backup file.
    pub directory: bool,
    /// Where the picker opens: a folder, or a file whose folder is used.
    pub default_path: Option<String>,
}

/// Opens the system's picker and returns the chosen path (None when it was closed). The path is
/// remembered for this session, so the commands above accept it wherever it is (`paths`).
#[tauri::command]
#[specta::specta]
pub async fn pick_path(
    app: AppHandle,
    paths: State<'_, PathPolicy>,
    input: PickPath,
) -> Reply<Option<String>> {
    let mut dialog = app.dialog().file();
    if let Some(default) = input.default_path.filter(|d| !d.trim().is_empty()) {
        let default = std::path::PathBuf::from(default);
        let folder = if default.is_dir() { Some(default.as_path()) } else { default.parent() };
        if let Some(folder) = folder.filter(|f| f.is_dir()) {
            dialog = dialog.set_directory(folder);
        }
    }
    let (sender, chosen) = tokio::sync::oneshot::channel();
    let reply = move |path: Option<tauri_plugin_dialog::FilePath>| {
        let _ = sender.send(path.and_then(|p| p.into_path().ok()));
    };
    if input.directory {
        dialog.pick_folder(reply);
    } else {
        dialog.add_filter("Backups", &["backup", "tar", "sql", "json", "dump"]).pick_file(reply);
    }
    let chosen = chosen.await.ok().flatten();
    if let Some(path) = &chosen {
        paths.remember_pick(path);
    }
    Ok(chosen.map(|p| p.display().to_string()))
}

// The dashboard, Recover and the backups view (ops::overview, ops::recover, ops::delete).

/// One database's dashboard: catalog, schedules, watch items and the live size.
#[tauri::command]
#[specta::specta]
pub async fn database_overview(
    state: State<'_, AppState>,
    input: lifeboat_engine::ops::overview::OverviewRequest,
) -> Reply<lifeboat_engine::ops::overview::Overview> {
    let ctx = state.ctx()?;
    lifeboat_engine::ops::overview::database_overview(ctx, input).await.map_err(|e| e.payload())
}

/// Every backup of the catalog with the state of its files.
#[tauri::command]
#[specta::specta]
pub async fn backup_entries(
    state: State<'_, AppState>,
    input: lifeboat_engine::ops::overview::BackupsQuery,
) -> Reply<Vec<lifeboat_engine::ops::overview::BackupEntry>> {
    let ctx = state.ctx()?;
    lifeboat_engine::ops::overview::backup_entries(ctx, input).await.map_err(|e| e.payload())
}

/// Which tested backup Recover would restore, and what would be lost.
#[tauri::command]
#[specta::specta]
pub async fn recover_plan(
    state: State<'_, AppState>,
    input: lifeboat_engine::ops::recover::RecoverRequest,
) -> Reply<lifeboat_engine::ops::recover::RecoverPlan> {
    lifeboat_engine::ops::recover::recover_plan(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// The restored copy takes the live database's name; the live one is kept under another.
#[tauri::command]
#[specta::specta]
pub async fn swap_restored(
    state: State<'_, AppState>,
    input: lifeboat_engine::ops::recover::SwapRequest,
) -> Reply<lifeboat_engine::ops::recover::Swapped> {
    activity::swap_restored(state.ctx()?, ActivityOrigin::Desktop, input)
        .await
        .map_err(|e| e.payload())
}

/// Deletes a backup's files; the catalog keeps its row, marked deleted.
#[tauri::command]
#[specta::specta]
pub async fn delete_backup(
    state: State<'_, AppState>,
    input: lifeboat_engine::ops::delete::DeleteBackup,
) -> Reply<lifeboat_engine::ops::delete::DeletedBackup> {
    lifeboat_engine::ops::delete::delete_backup(state.ctx()?, input).await.map_err(|e| e.payload())
}

/// Shows a catalog backup (named by number, never by path) in the file manager.
#[tauri::command]
#[specta::specta]
pub async fn reveal_backup(
    app: AppHandle,
    state: State<'_, AppState>,
    backup_id: i64,
) -> Reply<()> {
    use tauri_plugin_opener::OpenerExt;
    let path = lifeboat_engine::ops::overview::backup_to_show(state.ctx()?, backup_id)
        .map_err(|e| e.payload())?;
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| opener_failed("Showing the backup's files", path, e))
}

/// Opens a test's certificate (named by the test's number, never by path) in the browser.
#[tauri::command]
#[specta::specta]
pub async fn open_certificate(
    app: AppHandle,
    state: State<'_, AppState>,
    drill_id: i64,
) -> Reply<()> {
    use tauri_plugin_opener::OpenerExt;
    let path = lifeboat_engine::ops::overview::certificate_to_open(state.ctx()?, drill_id)
        .map_err(|e| e.payload())?;
    let shown = path.display().to_string();
    app.opener()
        .open_path(shown, None::<&str>)
        .map_err(|e| opener_failed("Opening the certificate", path, e))
}

fn opener_failed(
    action: &'static str,
    path: std::path::PathBuf,
    error: tauri_plugin_opener::Error,
) -> ErrorPayload {
    lifeboat_engine::Error::Io { action, path, source: std::io::Error::other(error.to_string()) }
        .payload()
}
