//! System tests of the real `lifeboat` binary: exit codes, JSON and text output, and the errors
//! a user sees, run against the bundled PostgreSQL tools in src-tauri/resources/postgres.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const MAJORS: [u64; 5] = [14, 15, 16, 17, 18];

/// The bundled tools, as `make setup` unpacks them.
fn bundle() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources/postgres");
    let path = path.canonicalize().unwrap_or_else(|_| {
        panic!("the PostgreSQL bundle is missing at {}; run `make setup` first", path.display())
    });
    for major in MAJORS {
        assert!(
            path.join(major.to_string()).join("bin").is_dir(),
            "PostgreSQL {major} is missing from {}; run `make setup` first",
            path.display()
        );
    }
    path
}

/// `lifeboat` with a clean environment as far as Lifeboat is concerned: no display, and its
/// data folder and bundle only where the test says.
fn lifeboat(home: &Path, bundle: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    command
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle);
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the lifeboat binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// Describes an output for assertion messages.
fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Stdout parsed as exactly one JSON document.
fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", describe(output)))
}

#[test]
fn version_prints_the_crate_version_without_a_display() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .arg("--version")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY"));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(text(&output.stdout).trim_end(), format!("lifeboat {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn tools_json_reports_the_data_folder_and_every_bundled_major() {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("not-yet-there");
    assert!(!home.exists());

    let output = run(lifeboat(&home, &bundle()).args(["tools", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(output.stderr.is_empty(), "nothing on stderr: {}", describe(&output));
    let info = json(&output);

    assert!(home.is_dir(), "the data folder was created");
    assert_eq!(info["dataDir"], home.display().to_string());
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["practiceServerMajor"], 18);

    let bundled = info["bundled"].as_array().expect("bundled is a list");
    let majors: Vec<u64> =
        bundled.iter().map(|b| b["major"].as_u64().expect("major is a number")).collect();
    assert_eq!(majors, MAJORS);
    for tools in bundled {
        let major = &tools["major"];
        let version = tools["version"].as_str().expect("version is a string");
        assert!(
            version.starts_with(&format!("{major}.")),
            "PostgreSQL {major} reports version {version}"
        );
    }
    let newest = bundled.last().unwrap();
    assert_eq!(newest["hasServer"], true, "18 carries the practice server");
}

#[test]
fn tools_text_lists_every_bundled_major() {
    let home = tempfile::tempdir().unwrap();
    let output = run(lifeboat(home.path(), &bundle()).arg("tools"));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("Data folder: {}", home.path().display())), "{stdout}");
    // Rows look like "14     14.23.0    yes".
    let listed: Vec<u64> = stdout
        .lines()
        .filter_map(|line| {
            let mut columns = line.split_whitespace();
            let major: u64 = columns.next()?.parse().ok()?;
            let version = columns.next()?;
            assert!(
                version.starts_with(&format!("{major}.")),
                "row {line:?} pairs {major} with {version}"
            );
            Some(major)
        })
        .collect();
    assert_eq!(listed, MAJORS, "{stdout}");
}

#[test]
fn a_missing_bundle_is_tools_not_found_in_json() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-bundle-here");
    let output = run(lifeboat(home.path(), &missing).args(["tools", "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));

    let document = json(&output);
    let object = document.as_object().expect("a JSON object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["error"], "{document:#}");
    let error = &document["error"];
    assert_eq!(error["code"], "tools_not_found", "{document:#}");
    let message = error["message"].as_str().expect("message is a string");
    assert!(
        message.contains(&missing.display().to_string()),
        "the message names the folder: {message}"
    );
    let hint = error["hint"].as_str().expect("hint is a string");
    assert!(!hint.trim().is_empty(), "a hint is given");
}

#[test]
fn a_missing_bundle_is_explained_on_stderr_in_text_mode() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-bundle-here");
    let output = run(lifeboat(home.path(), &missing).arg("tools"));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "nothing on stdout: {}", describe(&output));
    let stderr = text(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no 'error:' line in {stderr}"));
    assert!(error.contains(&missing.display().to_string()), "the error names the folder: {error}");
    let hint = stderr
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no 'hint:' line in {stderr}"));
    assert!(hint.len() > "hint: ".len(), "{hint}");
}

#[test]
fn usage_errors_exit_with_2() {
    let home = tempfile::tempdir().unwrap();
    let bundle = bundle();
    for args in
        [&["frobnicate"][..], &["tools", "--frobnicate"][..], &["--frobnicate"][..], &[][..]]
    {
        let output = run(lifeboat(home.path(), &bundle).args(args));
        assert_eq!(output.status.code(), Some(2), "lifeboat {args:?}: {}", describe(&output));
        assert!(!output.stderr.is_empty(), "lifeboat {args:?} explains itself on stderr");
    }
}

#[test]
fn a_data_folder_that_cannot_be_created_is_data_dir() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let home = file.join("lifeboat");

    let output = run(lifeboat(&home, &bundle()).args(["tools", "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let document = json(&output);
    assert_eq!(document["error"]["code"], "data_dir", "{document:#}");
    let message = document["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&home.display().to_string()),
        "the message names the folder: {message}"
    );
    assert!(document["error"]["hint"].as_str().unwrap().contains("LIFEBOAT_HOME"), "{document:#}");
}

#[test]
fn plain_http_needs_allow_http() {
    let home = tempfile::tempdir().unwrap();
    let bundle = bundle();
    // Nothing listens on port 9: refused before any request without the flag, tried with it.
    let url = "http://127.0.0.1:9/backups/shop.backup";
    let refused = run(lifeboat(home.path(), &bundle).args(["verify", url, "--json"]));
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let document = json(&refused);
    assert_eq!(document["error"]["code"], "plain_http_refused", "{document:#}");
    assert!(document["error"]["hint"].as_str().unwrap().contains("--allow-http"), "{document:#}");
    let tried = run(lifeboat(home.path(), &bundle).args(["verify", url, "--allow-http", "--json"]));
    assert_eq!(tried.status.code(), Some(1), "{}", describe(&tried));
    assert_eq!(json(&tried)["error"]["code"], "download_failed", "{}", describe(&tried));
    for command in ["restore", "test", "verify"] {
        let help = run(lifeboat(home.path(), &bundle).args([command, "--help"]));
        assert!(text(&help.stdout).contains("--allow-http"), "lifeboat {command} --help");
    }
}
