//! `lifeboat` as a scheduler runs it: no display, no session bus, only the environment a
//! systemd timer or cron gives. A profile that stored no password (trust authentication)
//! checks, lists, backs up into a folder that does not exist yet, shows the catalog, prunes
//! and copies without ever asking the keychain; a profile whose password is in the keychain
//! fails with `keychain_unavailable`, saying so and naming the way out.
//!
//! Runs inside tests/with-keyring.sh (a private Secret Service), which the keychain half needs.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{bundle, json, lifeboat, lifeboat_with_stdin, profile_add, text};
use lifeboat_system_tests::PgServer;

/// `lifeboat ARGS` with only what a scheduler's environment holds: no DBUS_SESSION_BUS_ADDRESS,
/// no DISPLAY, no XDG_RUNTIME_DIR.
fn headless(home: &Path, user_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", user_home)
        .env("LANG", "C.UTF-8")
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_profile_without_a_stored_password_works_without_a_session() {
    let server = PgServer::shared(18);
    let home = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let db = server.create_database("headless").await;
    // Added headless too: no --use-pgpass, no password (the server trusts loopback).
    let args =
        ["profile", "add", "local", "--host", "127.0.0.1", "--port", &port, "--user", "postgres"];
    let added = headless(home.path(), user_home.path(), &args);
    assert!(added.status.success(), "{}", text(&added));

    let check = headless(home.path(), user_home.path(), &["profile", "check", "local"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("Connected: PostgreSQL 18"), "{}", text(&check));
    let databases = headless(home.path(), user_home.path(), &["databases", "local", "--json"]);
    assert!(databases.status.success(), "{}", text(&databases));
    assert!(json(&databases).as_array().unwrap().iter().any(|d| d["name"] == db.as_str()));

    // A destination that does not exist yet is created, owner-only.
    let out = home.path().join("nightly/shop");
    let out_arg = out.display().to_string();
    let backed_up = headless(
        home.path(),
        user_home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_arg, "--json"],
    );
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&home.path().join("nightly")), 0o700);
    let first = json(&backed_up)["backupId"].as_i64().unwrap();
    let again = headless(
        home.path(),
        user_home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_arg],
    );
    assert!(again.status.success(), "{}", text(&again));

    // The catalog, retention and the second copy, headless as well.
    let listed = headless(home.path(), user_home.path(), &["backups", "--database", &db, "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let rows = json(&listed);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["id"].as_i64(), Some(first));
    assert_eq!(rows[1]["status"], "finished");

    let id = first.to_string();
    let unplugged = home.path().join("usb").display().to_string();
    let copied = headless(home.path(), user_home.path(), &["copy", &id, "--to", &unplugged]);
    assert!(copied.status.success(), "a missing disk is a reminder: {}", text(&copied));
    assert!(text(&copied).contains("plugged in"), "{}", text(&copied));
    let usb = home.path().join("usb2");
    std::fs::create_dir(&usb).unwrap();
    let usb_arg = usb.display().to_string();
    let copied = headless(home.path(), user_home.path(), &["copy", &id, "--to", &usb_arg]);
    assert!(copied.status.success(), "{}", text(&copied));
    let verified = headless(home.path(), user_home.path(), &["copy", &id, "--verify", "--json"]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert_eq!(json(&verified)["status"], "copied");

    let prune = ["prune", "--profile", "local", "--database", &db, "--keep-last", "1"];
    let dry =
        headless(home.path(), user_home.path(), &[&prune[..], &["--dry-run", "--json"]].concat());
    assert!(dry.status.success(), "{}", text(&dry));
    let report = json(&dry);
    assert_eq!(report["delete"][0]["backup"]["id"].as_i64(), Some(first));
    assert_eq!(report["keep"][0]["reasons"][0]["kind"], "last");
    let pruned = headless(home.path(), user_home.path(), &prune);
    assert!(pruned.status.success(), "{}", text(&pruned));
    assert!(text(&pruned).contains("Deleted 1 backup(s)"), "{}", text(&pruned));
    let listed = headless(home.path(), user_home.path(), &["backups", "--database", &db]);
    assert!(!text(&listed).contains("deleted"), "hidden unless --all: {}", text(&listed));
    let all = headless(home.path(), user_home.path(), &["backups", "--database", &db, "--all"]);
    assert!(text(&all).contains("deleted"), "{}", text(&all));

    let removed = headless(home.path(), user_home.path(), &["profile", "remove", "local"]);
    assert!(removed.status.success(), "{}", text(&removed));
}

#[tokio::test]
async fn a_password_in_the_keychain_out_of_reach_says_so_and_the_way_out() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "run through tests/with-keyring.sh: this test stores a password in a real Secret Service"
    );
    let server = PgServer::shared(18);
    let home = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    // Stored from the desktop session (this test's own environment has the keyring).
    let added = lifeboat_with_stdin(
        home.path(),
        &profile_add("shop", &port, "--password-stdin"),
        Some("pw\n"),
    );
    assert!(added.status.success(), "{}", text(&added));
    let at_desk = lifeboat(home.path(), &["profile", "check", "shop"]);
    assert!(at_desk.status.success(), "{}", text(&at_desk));

    for args in [&["profile", "check", "shop", "--json"][..], &["databases", "shop", "--json"][..]]
    {
        let run = headless(home.path(), user_home.path(), args);
        assert_eq!(run.status.code(), Some(1), "{}", text(&run));
        let error = &json(&run)["error"];
        assert_eq!(error["code"], "keychain_unavailable", "{}", text(&run));
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("\"shop\"") && message.contains("keychain"), "{message}");
        let hint = error["hint"].as_str().unwrap();
        assert!(hint.contains("unlocked at login"), "{hint}");
        assert!(hint.contains(".pgpass") && hint.contains("--use-pgpass"), "{hint}");
    }
    let run = headless(home.path(), user_home.path(), &["profile", "check", "shop"]);
    let printed = text(&run);
    assert!(printed.contains("error: The password of profile \"shop\""), "{printed}");
    assert!(printed.contains("hint: "), "{printed}");
    let removed = lifeboat(home.path(), &["profile", "remove", "shop"]);
    assert!(removed.status.success(), "{}", text(&removed));
}
