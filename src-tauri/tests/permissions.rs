//! A command the window may call must be in three places: the invoke handler (`lib.rs`), the
//! permissions tauri-build generates (`build.rs`) and the window's capability. A command
//! missing from either of the last two is refused at run time ("not allowed"), which no
//! compiler and no mocked UI test notices, so this test compares the three lists.

use std::collections::BTreeSet;
use std::path::Path;

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not found")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("{end:?} not found after {start:?}"));
    &text[from..from + to]
}

fn handler_commands() -> BTreeSet<String> {
    let lib = read("src/lib.rs");
    between(&lib, "collect_commands![", "]")
        .split(',')
        .filter_map(|item| item.trim().strip_prefix("commands::"))
        .map(str::to_owned)
        .collect()
}

fn defined_commands() -> BTreeSet<String> {
    let source = read("src/commands.rs");
    let mut names = BTreeSet::new();
    let mut after_attribute = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[tauri::command") {
            after_attribute = true;
        } else if after_attribute && line.contains("fn ") {
            let name = line.split("fn ").nth(1).unwrap().split(['(', '<']).next().unwrap();
            names.insert(name.trim().to_owned());
            after_attribute = false;
        }
    }
    names
}

fn manifest_commands() -> BTreeSet<String> {
    let build = read("build.rs");
    between(&build, ".commands(&[", "]")
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

fn granted_commands() -> BTreeSet<String> {
    let capability: serde_json::Value =
        serde_json::from_str(&read("capabilities/main-window.json")).unwrap();
    capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|name| name.replace('-', "_"))
        .collect()
}

#[test]
fn every_command_is_registered_permitted_and_granted() {
    let handler = handler_commands();
    assert!(handler.len() > 10, "parsed too few commands from lib.rs: {handler:?}");
    let lists = [
        ("defined with #[tauri::command] in commands.rs", defined_commands()),
        ("in build.rs's AppManifest (allow-<command> permissions)", manifest_commands()),
        ("granted in capabilities/main-window.json", granted_commands()),
    ];
    for (what, list) in lists {
        let missing: Vec<_> = handler.difference(&list).collect();
        let extra: Vec<_> = list.difference(&handler).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "commands in lib.rs's invoke handler but not {what}: {missing:?}; {what} but not in \
             the handler: {extra:?}"
        );
    }
}
