//! Lifeboat's desktop shell. All domain logic lives in `lifeboat-engine`; this crate wires the
//! engine's operations to the window.

mod commands;
mod paths;
mod state;
mod watcher;
mod webview;

use tauri::Manager;
use tauri_specta::{Builder, collect_commands, collect_events};

/// Header of the generated TypeScript bindings.
const BINDINGS_HEADER: &str = "// Generated from Rust by tauri-specta: run `make bindings` after changing a command.\n// Do not edit by hand; src-tauri/tests/bindings.rs fails when this file is stale.";

/// The commands the window may call, with their types for the TypeScript bindings.
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::app_info,
            commands::create_practice_database,
            commands::diagnostics,
            commands::list_profiles,
            commands::add_profile,
            commands::update_profile,
            commands::remove_profile,
            commands::check_profile,
            commands::check_settings,
            commands::list_databases,
            commands::list_schemas,
            commands::list_tables,
            commands::start_backup,
            commands::cancel_operation,
            commands::list_activity,
            commands::activity_log,
            commands::list_backups,
            commands::default_backup_folder,
            commands::preview_backup_names,
            commands::compression_choices,
            commands::start_server_backup,
            commands::backup_database_name,
            commands::preflight_restore,
            commands::start_restore,
            commands::start_drill,
            commands::pick_untested_backup,
            commands::list_smoke_checks,
            commands::save_smoke_checks,
            commands::watch,
            commands::watch_status,
            commands::set_thresholds,
            commands::list_schedules,
            commands::show_schedule,
            commands::add_schedule,
            commands::remove_schedule,
            commands::test_fire_schedule,
            commands::preview_retention,
            commands::pick_path,
            commands::database_overview,
            commands::backup_entries,
            commands::recover_plan,
            commands::swap_restored,
            commands::delete_backup,
            commands::reveal_backup,
            commands::open_certificate,
        ])
        .events(collect_events![watcher::AttentionChecked, watcher::OpenFix])
        // Sizes and row counts are i64; JavaScript numbers hold them exactly up to 2^53.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type, the same for arguments and results.
        .disable_serde_phases()
}

/// The TypeScript exporter with the project's settings.
pub fn typescript() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default().header(BINDINGS_HEADER)
}

pub fn run() {
    // First, while this is the only thread: WebKit reads these when it starts.
    webview::prepare_environment();
    let builder = specta_builder();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        // No permission of the opener is granted to the window: only reveal_backup and
        // open_certificate use it, from Rust, on paths the catalog names.
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            // The log goes to the data folder's `logs`; the window works without it.
            let _ = lifeboat_engine::DataDir::resolve()
                .map(|dir| lifeboat_engine::base::logging::init(dir.path(), "desktop"));
            let state = state::AppState::load(app.handle());
            if let Err(problem) = state.ctx() {
                lifeboat_engine::base::logging::error("starting", &problem);
            }
            let data = state.ctx().ok().map(|ctx| ctx.data_dir.path().to_owned());
            app.manage(paths::PathPolicy::new(data));
            app.manage(state);
            app.manage(watcher::Watcher::default());
            watcher::start(app.handle());
            if let Some(window) = app.get_webview_window("main") {
                webview::tune(&window);
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("Lifeboat could not start its window: {error}");
        eprintln!(
            "hint: on Linux, check that a display is available (DISPLAY or WAYLAND_DISPLAY)."
        );
        std::process::exit(1);
    }
}
