//! Issue 13, finding 9 (terminal): names from a server or a backup hold whatever their owner
//! typed, escape sequences included (clear the screen, set the window title, hide text). The
//! real `lifeboat` prints a database and a table named with ANSI and OSC sequences, a bell, a
//! newline and a right-to-left override — in `databases`, `backup`, `restore` and `backups` —
//! and no control byte reaches the terminal: each is shown as a visible escape. And a dump named
//! `-l`, restored from a relative manifest path, is read as a file.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{add_local_profile, bundle, lifeboat, text};
use lifeboat_system_tests::{PgServer, quote_ident};
use serde_json::Value;

/// The bytes a terminal acts on: C0 controls but the line break and the tab (the CLI's own
/// layout), DEL, C1 controls (as UTF-8)
/// and the bidirectional override.
fn assert_no_controls(output: &Output, what: &str) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let shown = String::from_utf8_lossy(bytes);
        let bad: Vec<char> = shown
            .chars()
            .filter(|c| {
                (c.is_control() && !matches!(c, '\n' | '\t'))
                    || matches!(c, '\u{202a}'..='\u{202e}')
            })
            .collect();
        assert!(bad.is_empty(), "{what}: {stream} holds {bad:?}:\n{shown}");
    }
}

#[test]
fn names_with_control_characters_reach_the_terminal_escaped() {
    let server = PgServer::shared(18);
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let db = format!("t\x1b[2J\x1b]0;pwned\x07\u{202e}x\ny_{}", std::process::id());
    let table = "red\x1b[31m\x7fcells\u{9b}1m";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let admin = server.client("postgres").await;
        admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&db))).await.unwrap();
        let client = server.client(&db).await;
        client
            .batch_execute(&format!(
                "CREATE TABLE {t} (id int); INSERT INTO {t} SELECT generate_series(1, 7);",
                t = quote_ident(table)
            ))
            .await
            .unwrap();
    });

    let listed = lifeboat(home.path(), &["databases", "local"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert_no_controls(&listed, "databases");
    assert!(
        text(&listed).contains("t\\x1b[2J\\x1b]0;pwned\\x07\\u{202e}x\\ny_"),
        "{}",
        text(&listed)
    );

    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let backed = lifeboat(
        home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_arg],
    );
    assert!(backed.status.success(), "{}", text(&backed));
    assert_no_controls(&backed, "backup");
    let json = lifeboat(
        home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_arg, "--json"],
    );
    let outcome: Value = common::json(&json);
    let manifest = outcome["manifestPath"].as_str().unwrap().to_owned();

    let restored = lifeboat(home.path(), &["restore", "--profile", "local", &manifest]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_no_controls(&restored, "restore");
    assert!(text(&restored).contains("\\x1b[2J"), "{}", text(&restored));

    let listed = lifeboat(home.path(), &["backups"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert_no_controls(&listed, "backups");

    runtime.block_on(async {
        let admin = server.client("postgres").await;
        let rows = admin
            .query(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
                &[&db.as_str()],
            )
            .await
            .unwrap();
        for row in rows {
            let name: String = row.get(0);
            admin
                .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&name)))
                .await
                .unwrap();
        }
    });
}

/// `lifeboat restore x.lifeboat.json` from the backup's folder, the manifest naming a dump `-l`.
#[test]
fn a_dump_named_like_an_option_restores_from_a_relative_manifest() {
    let server = PgServer::shared(18);
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(async {
        let db = server.create_database("dashfile").await;
        server
            .client(&db)
            .await
            .batch_execute(
                "CREATE TABLE items (id int); INSERT INTO items SELECT generate_series(1, 9);",
            )
            .await
            .unwrap();
        db
    });
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let backed = lifeboat(
        home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_arg, "--json"],
    );
    assert!(backed.status.success(), "{}", text(&backed));
    let outcome = common::json(&backed);
    let manifest_path = Path::new(outcome["manifestPath"].as_str().unwrap()).to_owned();
    let dump = outcome["files"][0]["name"].as_str().unwrap().to_owned();
    std::fs::rename(out.path().join(&dump), out.path().join("-l")).unwrap();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["files"][0]["name"] = "-l".into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let relative = manifest_path.file_name().unwrap().to_string_lossy().into_owned();

    let restored = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["restore", "--profile", "local", "--json", "--", &relative])
        .current_dir(out.path())
        .env("LIFEBOAT_HOME", home.path())
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", text(&restored));
    let outcome = common::json(&restored);
    let database = outcome["database"].as_str().unwrap().to_owned();
    let rows = runtime.block_on(server.query_int(&database, "SELECT count(*) FROM items"));
    assert_eq!(rows, 9);
}
