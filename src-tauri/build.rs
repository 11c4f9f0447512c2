fn main() {
    // Every app command gets an `allow-<command>` permission; a window may call only the
    // commands its capability file lists (capabilities/).
    let manifest = tauri_build::AppManifest::new().commands(&["app_info"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed");
}
