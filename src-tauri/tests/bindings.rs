//! The TypeScript bindings in ui/src/lib/ipc/bindings.ts are generated from the Rust commands.
//! This test regenerates them and fails when the committed file differs.
//! `LIFEBOAT_UPDATE_BINDINGS=1` (what `make bindings` sets) rewrites the file instead.

use std::path::Path;

#[test]
fn typescript_bindings_are_up_to_date() {
    let committed_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/ipc/bindings.ts");
    let scratch = tempfile::tempdir().unwrap();
    let fresh_path = scratch.path().join("bindings.ts");
    lifeboat_desktop::specta_builder()
        .export(lifeboat_desktop::typescript(), &fresh_path)
        .expect("export the TypeScript bindings");
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();
    if std::env::var_os("LIFEBOAT_UPDATE_BINDINGS").is_some_and(|v| v == "1") {
        std::fs::write(&committed_path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run `make bindings` and commit the result",
        committed_path.display()
    );
}
