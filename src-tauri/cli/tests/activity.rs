//! `lifeboat activity` against a real server, with the profile's password in the real keychain
//! (run through tests/with-keyring.sh): the CLI's backups (one that works, one of a database
//! that is not there, one of the whole server), a restore and a scheduled run with its drill are
//! each recorded once, with where they were started, their outcome and code; `activity show`
//! prints the log with pg_dump's own lines; the password is in no output and no byte of the
//! store's files.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{bundle, json, lifeboat, lifeboat_with_stdin, profile_add, text};
use lifeboat_engine::storage::store::STORE_FILE;
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::pg::ServerOptions;
use serde_json::Value;

const SHOP: &str = "CREATE TABLE sales (id int PRIMARY KEY, note text); \
                    INSERT INTO sales SELECT g, 'sale ' || g FROM generate_series(1, 60) g;";

/// `lifeboat ARGS` with the systemd scheduler writing into `user_home` (no user manager runs
/// here: the units are only written), for `schedule add`.
fn with_scheduler(home: &Path, user_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .env("LIFEBOAT_SCHEDULER", "systemd")
        .env("HOME", user_home)
        .env("XDG_CONFIG_HOME", user_home.join(".config"))
        .env("XDG_RUNTIME_DIR", user_home.join("run"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The entries of `lifeboat activity --json`, newest first.
fn entries(home: &Path) -> Vec<Value> {
    let listed = lifeboat(home, &["activity", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    json(&listed).as_array().unwrap().clone()
}

#[tokio::test]
async fn cli_and_scheduled_jobs_are_listed_with_their_logs_and_no_password() {
    let server =
        PgServer::start_with(18, ServerOptions { password_auth: true, ..Default::default() });
    let password = server.superuser_password().expect("a password server");
    let db = server.create_database("act_shop").await;
    server.client(&db).await.batch_execute(SHOP).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    std::fs::create_dir(user_home.path().join("run")).unwrap();
    let port = server.port.to_string();
    let added = lifeboat_with_stdin(
        home.path(),
        &profile_add("server", &port, "--password-stdin"),
        Some(&format!("{password}\n")),
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(entries(home.path()).is_empty(), "nothing ran yet");
    let none = lifeboat(home.path(), &["activity"]);
    assert!(String::from_utf8_lossy(&none.stdout).contains("No finished jobs yet"));

    let out_dir = out.path().display().to_string();
    let mut outputs: Vec<Output> = Vec::new();
    let backup = ["backup", "--profile", "server", "--out", &out_dir, "--json"];
    let made = lifeboat(home.path(), &[&backup[..], &["--database", &db]].concat());
    assert!(made.status.success(), "{}", text(&made));
    let manifest = json(&made)["manifestPath"].as_str().unwrap().to_owned();
    outputs.push(made);
    let missing = lifeboat(home.path(), &[&backup[..], &["--database", "no_such_db"]].concat());
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    outputs.push(missing);
    let all = lifeboat(home.path(), &[&backup[..], &["--all-databases"]].concat());
    let server_outcome = json(&all);
    assert_eq!(server_outcome["status"], "ok", "{}", text(&all));
    let backed_up = server_outcome["databases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["state"] == "backed_up")
        .count();
    assert!(backed_up >= 2, "{server_outcome:#}");
    outputs.push(all);
    let restored = lifeboat(
        home.path(),
        &["restore", &manifest, "--profile", "server", "--target-db", "act_copy", "--json"],
    );
    assert!(restored.status.success(), "{}", text(&restored));
    outputs.push(restored);
    // A dry run changes nothing and is no job.
    let dry = lifeboat(home.path(), &["restore", &manifest, "--profile", "server", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));

    // A scheduled run: its backup and its drill (on the profile's server, which root may use).
    #[rustfmt::skip]
    let add = with_scheduler(home.path(), user_home.path(), &[
        "schedule", "add", &db, "--profile", "server", "--daily", "02:30", "--drill", "after",
        "--drill-on", "server", "--out", &out_dir, "--json",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let name = json(&add)["name"].as_str().unwrap().to_owned();
    let run = lifeboat(home.path(), &["schedule", "run", &name, "--json"]);
    assert!(run.status.success(), "{}", text(&run));
    outputs.push(run);

    let listed = entries(home.path());
    let summary: Vec<(String, String, String, String)> = listed
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (field("kind"), field("origin"), field("outcome"), field("subject"))
        })
        .collect();
    let expected = [
        ("drill", "schedule", "succeeded", ""),
        ("backup", "schedule", "succeeded", db.as_str()),
        ("restore", "cli", "succeeded", manifest.as_str()),
        ("server_backup", "cli", "succeeded", "all databases"),
        ("backup", "cli", "failed", "no_such_db"),
        ("backup", "cli", "succeeded", db.as_str()),
    ];
    assert_eq!(summary.len(), expected.len(), "{summary:#?}");
    for (got, want) in summary.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), (want.0, want.1, want.2));
        if !want.3.is_empty() {
            assert_eq!(got.3, want.3);
        }
    }
    assert!(summary[0].3.ends_with(".lifeboat.json"), "the drill names the backup it tested");
    let by_position = |n: usize| &listed[n];
    assert_eq!(by_position(4)["errorCode"], "database_missing", "{:#}", by_position(4));
    assert!(by_position(4)["summary"].as_str().unwrap().contains("no_such_db"));
    assert_eq!(by_position(5)["errorCode"], Value::Null);
    assert_eq!(by_position(5)["profile"], "server");
    let server_summary = by_position(3)["summary"].as_str().unwrap();
    assert!(
        server_summary.starts_with(&format!("{backed_up} of {backed_up} databases backed up")),
        "{server_summary}"
    );
    assert!(by_position(2)["summary"].as_str().unwrap().contains("act_copy"));
    let limited = json(&lifeboat(home.path(), &["activity", "--limit", "2", "--json"]));
    assert_eq!(limited.as_array().unwrap().len(), 2);
    assert_eq!(limited[0]["id"], listed[0]["id"]);

    // One job's log: pg_dump's own lines, as JSON and as text.
    let id = by_position(5)["id"].to_string();
    let shown = lifeboat(home.path(), &["activity", "show", &id, "--json"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = json(&shown);
    assert_eq!(shown["job"]["id"], by_position(5)["id"]);
    let log: Vec<&str> =
        shown["log"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(log.iter().any(|l| l.starts_with("pg_dump (PostgreSQL 18")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.contains("dumping contents of table") && l.contains("sales")),
        "{log:#?}"
    );
    assert!(log.contains(&"pg_dump finished (exit code 0)"), "{log:#?}");
    let printed = lifeboat(home.path(), &["activity", "show", &id]);
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(stdout.contains("pg_dump finished (exit code 0)"), "{stdout}");
    assert!(stdout.contains(&format!("backup of {db} on server, from cli")), "{stdout}");
    let server_log = json(&lifeboat(
        home.path(),
        &["activity", "show", &by_position(3)["id"].to_string(), "--json"],
    ));
    let server_lines = server_log["log"].as_array().unwrap();
    assert!(
        server_lines.iter().any(|l| l.as_str().unwrap().contains(&format!(": {db}"))),
        "a stage per database: {server_lines:#?}"
    );
    let gone = lifeboat(home.path(), &["activity", "show", "999999", "--json"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(json(&gone)["error"]["code"], "invalid_input", "{}", text(&gone));

    // The text list names each job with where it came from.
    let text_list = lifeboat(home.path(), &["activity"]);
    let list_out = String::from_utf8_lossy(&text_list.stdout);
    assert!(list_out.contains("schedule  succeeded"), "{list_out}");
    assert!(list_out.contains("FAILED"), "{list_out}");
    outputs.extend([text_list, printed]);

    // The password is in no output and no byte of the store.
    for output in &outputs {
        assert!(!text(output).contains(password), "{}", text(output));
    }
    let everything = serde_json::to_string(&listed).unwrap() + &server_log.to_string();
    assert!(!everything.contains(password));
    for name in [STORE_FILE.to_owned(), format!("{STORE_FILE}-wal")] {
        if let Ok(bytes) = std::fs::read(home.path().join(&name)) {
            let found = bytes.windows(password.len()).any(|w| w == password.as_bytes());
            assert!(!found, "the password is in {name}");
        }
    }
}
