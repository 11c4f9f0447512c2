//! What the CLI tests share: running the real `lifeboat` binary with its own data folder and the
//! bundled PostgreSQL tools, and reading what it printed.

#![allow(dead_code)] // Each test file uses its own part of this.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lifeboat_system_tests::{PgServer, as_test_user, reachable_bundle};
use serde_json::Value;

pub fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources/postgres")
}

/// Runs `lifeboat ARGS` with `home` as its data folder and nothing on its standard input.
pub fn lifeboat(home: &Path, args: &[&str]) -> Output {
    lifeboat_with_stdin(home, args, None)
}

/// Runs `lifeboat ARGS` with `stdin` (when given) written to its standard input, then closed.
pub fn lifeboat_with_stdin(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `lifeboat` as the unprivileged test user (the practice server, like PostgreSQL, refuses
/// root), with `home` as its data folder and the bundle that user can run.
pub fn lifeboat_as_user(home: &Path) -> Command {
    let mut command = as_test_user(Path::new(env!("CARGO_BIN_EXE_lifeboat")));
    command
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", reachable_bundle())
        .stdin(Stdio::null());
    command
}

/// Standard output and error, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("not one JSON document ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

/// Adds the profile "local" for `server` (its superuser, password from the environment).
pub fn add_local_profile(home: &Path, server: &PgServer) {
    add_profile(home, server, "local");
}

/// Adds the profile `name` for `server` (its superuser, password from the environment).
pub fn add_profile(home: &Path, server: &PgServer, name: &str) {
    let port = server.port.to_string();
    let added = lifeboat(home, &profile_add(name, &port, "--use-pgpass"));
    assert!(added.status.success(), "{}", text(&added));
}

/// `lifeboat profile add NAME` for the superuser of a server on loopback `port`, the password
/// taken as `password_flag` says (`--use-pgpass`, `--password-stdin`).
pub fn profile_add<'a>(name: &'a str, port: &'a str, password_flag: &'a str) -> [&'a str; 10] {
    [
        "profile",
        "add",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--user",
        "postgres",
        password_flag,
    ]
}
