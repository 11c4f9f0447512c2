//! docs/cli.md is the CLI reference `lifeboat help-markdown` prints from the same clap
//! definitions that parse the command line. This test fails when the committed page differs;
//! `LIFEBOAT_UPDATE_DOCS=1` rewrites it instead.

mod common;

use std::path::Path;

use common::{lifeboat, text};

#[test]
fn the_cli_reference_is_up_to_date() {
    let home = tempfile::tempdir().unwrap();
    let output = lifeboat(home.path(), &["help-markdown"]);
    assert!(output.status.success(), "{}", text(&output));
    let fresh = String::from_utf8(output.stdout).unwrap();
    // Every visible command has its section: a command missing from the page is a bug in the
    // generator, not a stale page.
    let help = lifeboat(home.path(), &["--help"]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands = help.split("Commands:").nth(1).unwrap().split("Options:").next().unwrap();
    for line in commands.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        if name != "help" {
            assert!(fresh.contains(&format!("## `lifeboat {name}`")), "no section for {name}");
        }
    }
    assert!(!fresh.contains("## `lifeboat help-markdown`"), "the generator itself is hidden");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    if std::env::var_os("LIFEBOAT_UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run `LIFEBOAT_UPDATE_DOCS=1 cargo nextest run -p lifeboat-cli --test docs` \
         and commit the result",
        path.display()
    );
}
