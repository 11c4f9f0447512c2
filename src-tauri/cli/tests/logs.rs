//! The CLI's log: written to `logs/` in the data folder, owner-only even under a umask that
//! would give every user read and write access, and never to standard error, which belongs to
//! the user. (The secrets test checks what a real backup, restore and drill log, and that no
//! password is in it.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{bundle, text};

/// `lifeboat ARGS` started by a shell that first sets `umask 000`.
fn lifeboat_with_open_umask(home: &Path, level: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .env_remove("LIFEBOAT_LOG")
        .stdin(Stdio::null());
    if let Some(level) = level {
        command.env("LIFEBOAT_LOG", level);
    }
    command.output().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The log files and what they hold.
fn log(home: &Path) -> (Vec<std::path::PathBuf>, String) {
    let mut files: Vec<_> =
        std::fs::read_dir(home.join("logs")).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let text = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    (files, text)
}

#[test]
fn the_log_is_owner_only_under_an_open_umask_and_stays_off_standard_error() {
    let home = tempfile::tempdir().unwrap();
    let output = lifeboat_with_open_umask(
        home.path(),
        None,
        &["backup", "--profile", "nope", "--database", "x"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no server profile named"), "{stderr}");
    assert!(!stderr.contains("operation failed") && !stderr.contains(" INFO "), "{stderr}");

    assert_eq!(mode(&home.path().join("logs")), 0o700);
    let (files, text) = log(home.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600, "{}", files[0].display());
    for expected in [
        "Lifeboat started",
        "command started command=\"backup\"",
        "operation started op=\"backup\" subject=\"nope/x\"",
        "code=profile_not_found",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    // The arguments themselves are not logged.
    assert!(!text.contains("--database"), "{text}");

    // A second run appends to the day's file and `lifeboat diagnostics` quotes the failure.
    let report = lifeboat_with_open_umask(home.path(), None, &["diagnostics"]);
    assert!(report.status.success(), "{}", common::text(&report));
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains("[Recent problems in the log]"), "{report}");
    assert!(report.contains("code=profile_not_found"), "{report}");
    let (files, text) = log(home.path());
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
    assert!(text.contains("command started command=\"diagnostics\""), "{text}");
}

#[test]
fn lifeboat_log_off_writes_no_lines() {
    let home = tempfile::tempdir().unwrap();
    let output = lifeboat_with_open_umask(
        home.path(),
        Some("off"),
        &["backup", "--profile", "nope", "--database", "x"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let (_, text) = log(home.path());
    assert!(text.is_empty(), "{text}");
}
