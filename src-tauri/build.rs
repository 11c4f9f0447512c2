fn main() {
    // Every app command gets an `allow-<command>` permission; a window may call only the
    // commands its capability file lists (capabilities/).
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_info",
        "list_profiles",
        "add_profile",
        "update_profile",
        "remove_profile",
        "check_profile",
        "check_settings",
        "list_databases",
        "list_schemas",
        "list_tables",
        "start_backup",
        "cancel_operation",
        "list_backups",
        "default_backup_folder",
        "preview_backup_names",
        "backup_database_name",
        "preflight_restore",
        "start_restore",
        "start_drill",
        "pick_untested_backup",
        "list_smoke_checks",
        "save_smoke_checks",
        "watch",
        "watch_status",
        "set_thresholds",
        "list_schedules",
        "show_schedule",
        "add_schedule",
        "remove_schedule",
        "test_fire_schedule",
        "preview_retention",
        "pick_path",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed");
}
