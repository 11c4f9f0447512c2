//! Architecture checks: the engine and the CLI must build without tauri or any GUI toolkit, so
//! that `lifeboat` runs on a server without a desktop. Checked on the real dependency graph as
//! `cargo tree` reports it for this host.

use std::path::PathBuf;
use std::process::Command;

/// Crate-name prefixes of the desktop stack: tauri and its webview (wry, WebKitGTK) and GUI
/// toolkit (GTK, GDK, libsoup).
const GUI_PREFIXES: [&str; 7] =
    ["tauri", "wry", "webkit2gtk", "javascriptcore", "gtk", "gdk", "soup"];

fn is_gui_crate(name: &str) -> bool {
    GUI_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// One line of `cargo tree --prefix depth -f {p}`: depth and package ("name vX.Y.Z (…)").
struct Node {
    depth: usize,
    package: String,
}

impl Node {
    fn name(&self) -> &str {
        self.package.split_whitespace().next().unwrap_or_default()
    }
}

/// The normal (non-build, non-dev) dependency tree of `package` for this host.
fn dependency_tree(package: &str) -> Vec<Node> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(&cargo)
        .arg("tree")
        .arg("--offline")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", package, "-e", "normal", "--prefix", "depth", "-f", "{p}"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed ({}); run `cargo fetch` once if crates are missing:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let nodes: Vec<Node> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let depth = line[..digits]
                .parse()
                .unwrap_or_else(|_| panic!("no depth prefix in cargo tree line {line:?}"));
            Node { depth, package: line[digits..].to_owned() }
        })
        .collect();
    // Guard against a vacuous pass: the tree must start at the package itself.
    assert!(
        nodes.first().is_some_and(|root| root.depth == 0 && root.name() == package),
        "cargo tree -p {package} printed no tree rooted at {package}:\n{stdout}"
    );
    nodes
}

/// Every dependency path (root → … → offender) that ends in a GUI crate.
fn gui_paths(tree: &[Node]) -> Vec<String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    for node in tree {
        stack.truncate(node.depth);
        stack.push(&node.package);
        if is_gui_crate(node.name()) {
            found.push(stack.join(" -> "));
        }
    }
    found
}

fn assert_free_of_gui(package: &str) {
    let tree = dependency_tree(package);
    let paths = gui_paths(&tree);
    assert!(
        paths.is_empty(),
        "{package} must not depend on tauri or a GUI toolkit, but {} path(s) lead there:\n  {}",
        paths.len(),
        paths.join("\n  ")
    );
}

#[test]
fn the_engine_depends_on_no_tauri_and_no_gui_toolkit() {
    assert_free_of_gui("lifeboat-engine");
}

#[test]
fn the_cli_depends_on_no_tauri_and_no_gui_toolkit() {
    assert_free_of_gui("lifeboat-cli");
}

/// The checks above are only worth something if they see tauri where it is: in the desktop
/// crate's tree, with the path to it.
#[test]
fn the_check_finds_tauri_in_the_desktop_crate() {
    let tree = dependency_tree("lifeboat-desktop");
    let paths = gui_paths(&tree);
    assert!(
        paths.iter().any(|p| p.starts_with("lifeboat-desktop v") && p.contains(" -> tauri v")),
        "expected a path lifeboat-desktop -> tauri, found: {paths:#?}"
    );
    // The engine is in the desktop's tree, and reached directly.
    assert!(
        tree.iter().any(|n| n.depth == 1 && n.name() == "lifeboat-engine"),
        "lifeboat-desktop should depend on lifeboat-engine directly"
    );
}

#[test]
fn gui_crate_names_are_recognised() {
    for name in [
        "tauri",
        "tauri-runtime-wry",
        "wry",
        "webkit2gtk",
        "webkit2gtk-sys",
        "gtk",
        "gtk-sys",
        "gdk",
        "gdkx11-sys",
        "soup3",
        "javascriptcore-rs",
    ] {
        assert!(is_gui_crate(name), "{name} should count as GUI");
    }
    for name in ["tokio", "clap", "serde", "lifeboat-engine", "dirs"] {
        assert!(!is_gui_crate(name), "{name} should not count as GUI");
    }
}
