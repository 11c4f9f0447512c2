//! `lifeboat practice setup` and the practice database from the command line, run as an
//! unprivileged user (PostgreSQL refuses root) with no session bus, so no keychain: the
//! profile "Practice" is created, the sample database holds the rows it should, a backup of it
//! passes its test and restores into a new database on the same profile, a second setup changes
//! nothing, and after the server was stopped (and another program took its port) a backup
//! starts it again on a new port.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{json, lifeboat_as_user, text};
use lifeboat_engine::ops::practice_db::SAMPLE_ROWS;
use lifeboat_engine::pg::connect::{ConnectSpec, DEFAULT_TIMEOUT, connect};
use lifeboat_engine::storage::profiles::SslMode;
use lifeboat_engine::util::secret::Secret;
use lifeboat_system_tests::pg::wait_until;
use lifeboat_system_tests::{give_to_test_user, processes_with_cmdline};
use serde_json::Value;

/// `lifeboat ARGS` as the test user, without a session bus or a display: the way a server
/// without a desktop runs it.
fn headless(home: &Path, args: &[&str]) -> Output {
    let mut command: Command = lifeboat_as_user(home);
    command.env_remove("DBUS_SESSION_BUS_ADDRESS").env_remove("DISPLAY").args(args);
    command.output().unwrap()
}

fn ok_json(home: &Path, args: &[&str]) -> Value {
    let out = headless(home, args);
    assert_eq!(out.status.code(), Some(0), "lifeboat {args:?}: {}", text(&out));
    json(&out)
}

fn practice_home(home: &Path) -> PathBuf {
    home.join("practice").join("sample")
}

/// Stops the practice database's server when the test ends, however it ends.
struct StopAtEnd(PathBuf);

impl Drop for StopAtEnd {
    fn drop(&mut self) {
        let _ = headless(&self.0, &["practice", "stop"]);
    }
}

/// The superuser of the practice server on `dbname`, with the password from its file (root
/// reads it).
fn superuser(home: &Path, port: u16, dbname: &str) -> ConnectSpec {
    let password = std::fs::read_to_string(practice_home(home).join("password")).unwrap();
    ConnectSpec {
        host: "127.0.0.1".into(),
        port,
        user: "lifeboat".into(),
        dbname: dbname.into(),
        sslmode: SslMode::Disable,
        root_cert: None,
        password: Some(Secret::new(password.trim())),
        timeout: DEFAULT_TIMEOUT,
        allow_cleartext: false,
    }
}

async fn row_counts(home: &Path, port: u16, dbname: &str) -> Vec<(String, i64)> {
    let client = connect(&superuser(home, port, dbname)).await.unwrap();
    let mut counts = Vec::new();
    for (table, _) in SAMPLE_ROWS {
        let sql = format!("SELECT count(*) FROM public.{table}");
        counts.push((table.to_owned(), client.query_one(&sql, &[]).await.unwrap().get(0)));
    }
    counts
}

fn expected_counts() -> Vec<(String, i64)> {
    SAMPLE_ROWS.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

fn port_of(setup: &Value) -> u16 {
    setup["profile"]["settings"]["port"].as_u64().unwrap() as u16
}

#[tokio::test]
async fn the_practice_database_backs_up_tests_and_restores_headless() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = dir.path().join("backups");
    std::fs::create_dir(&out).unwrap();
    give_to_test_user(dir.path());
    let _stop = StopAtEnd(home.clone());

    // Setup: the profile, the server, the sample database.
    let setup = ok_json(&home, &["practice", "setup", "--json"]);
    assert_eq!(setup["createdProfile"], true, "{setup:#}");
    assert_eq!(setup["createdDatabase"], true, "{setup:#}");
    assert_eq!(setup["database"], "shop");
    let settings = &setup["profile"]["settings"];
    assert_eq!(settings["name"], "Practice");
    assert_eq!(settings["host"], "127.0.0.1");
    assert_eq!(settings["passwordSource"], "practice");
    let newest = lifeboat_system_tests::toolbox().practice_server().unwrap().major;
    assert!(setup["serverVersion"].as_str().unwrap().starts_with(&format!("{newest}.")));
    let port = port_of(&setup);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(practice_home(&home).join("password")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the password file is owner-only: {mode:o}");
    }

    // The sample: its rows, and the view, function and trigger working on them.
    assert_eq!(row_counts(&home, port, "shop").await, expected_counts());
    let shop = connect(&superuser(&home, port, "shop")).await.unwrap();
    let summary = shop
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE total = order_total(order_id)) \
             FROM order_summary",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((summary.get::<_, i64>(0), summary.get::<_, i64>(1)), (1000, 1000));
    shop.batch_execute("UPDATE orders SET status = 'cancelled' WHERE id = 5").await.unwrap();
    let history: i64 = shop
        .query_one("SELECT count(*) FROM order_status_history WHERE order_id = 5", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, 1, "the trigger wrote the change");
    shop.batch_execute(
        "UPDATE orders SET status = 'new' WHERE id = 5; \
         DELETE FROM order_status_history WHERE order_id = 5",
    )
    .await
    .unwrap();
    drop(shop);

    // Backup with the Practice profile; its baseline counts are the sample's.
    let out_arg = out.display().to_string();
    let backup = ok_json(
        &home,
        &["backup", "--profile", "Practice", "--database", "shop", "--out", &out_arg, "--json"],
    );
    let manifest_path = backup["manifestPath"].as_str().unwrap().to_owned();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let mut baseline: Vec<(String, i64)> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_owned(), t["rows"].as_i64().unwrap()))
        .collect();
    baseline.sort();
    let mut expected = expected_counts();
    expected.sort();
    assert_eq!(baseline, expected);

    // The drill on the drill's own practice server passes.
    let drill = ok_json(&home, &["test", &manifest_path, "--json"]);
    assert_eq!(drill["passed"], true, "{drill:#}");
    assert_eq!(drill["target"], "practice server");

    // Restore into a new database on the Practice profile.
    let restored = ok_json(
        &home,
        &["restore", &manifest_path, "--profile", "Practice", "--target-db", "shop_copy", "--json"],
    );
    assert_eq!(restored["database"], "shop_copy", "{restored:#}");
    assert_eq!(row_counts(&home, port, "shop_copy").await, expected_counts());

    // A second setup changes nothing.
    let again = ok_json(&home, &["practice", "setup", "--json"]);
    assert_eq!(again["createdProfile"], false, "{again:#}");
    assert_eq!(again["createdDatabase"], false, "{again:#}");
    assert_eq!(port_of(&again), port);
    let profiles = ok_json(&home, &["profile", "list", "--json"]);
    assert_eq!(profiles.as_array().unwrap().len(), 1, "{profiles:#}");

    // The server stopped (as after a reboot) and its port taken by another program: the next
    // backup starts it on a free port and the profile follows.
    let pid_file = practice_home(&home).join("data").join("postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap().lines().next().unwrap().to_owned();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    assert!(wait_until(Duration::from_secs(30), || !pid_file.exists()), "the server stopped");
    let squatter = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let backup = ok_json(
        &home,
        &["backup", "--profile", "Practice", "--database", "shop", "--out", &out_arg, "--json"],
    );
    assert!(Path::new(backup["manifestPath"].as_str().unwrap()).is_file());
    let profiles = ok_json(&home, &["profile", "list", "--json"]);
    let moved = profiles[0]["settings"]["port"].as_u64().unwrap() as u16;
    assert_ne!(moved, port, "the profile follows the server to its new port");
    assert_eq!(row_counts(&home, moved, "shop").await, expected_counts());
    drop(squatter);

    // `practice stop` stops it and leaves no process behind.
    let stopped = ok_json(&home, &["practice", "stop", "--json"]);
    assert_eq!(stopped["wasRunning"], true);
    let needle = practice_home(&home).display().to_string();
    assert!(wait_until(Duration::from_secs(30), || processes_with_cmdline(&needle).is_empty()));
    let again = ok_json(&home, &["practice", "stop", "--json"]);
    assert_eq!(again["wasRunning"], false);
}

#[test]
fn as_root_setup_is_refused_with_the_way_out_and_leaves_no_profile() {
    if !lifeboat_system_tests::pg::running_as_root() {
        return; // Only root is refused; the test above covers a normal user.
    }
    let home = tempfile::tempdir().unwrap();
    let out = common::lifeboat(home.path(), &["practice", "setup", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = &json(&out)["error"];
    assert_eq!(error["code"], "practice_server_as_root", "{error:#}");
    assert!(error["hint"].as_str().unwrap().contains("normal user"), "{error:#}");
    let profiles = common::lifeboat(home.path(), &["profile", "list", "--json"]);
    assert_eq!(json(&profiles), serde_json::json!([]));
    assert!(!practice_home(home.path()).join("data").exists());
}
