//! `lifeboat profile …` and `lifeboat databases` against a real server and the real keychain
//! (run through tests/with-keyring.sh, as `make test` does).

mod common;

use std::path::Path;

use common::{add_profile, json, lifeboat, lifeboat_with_stdin, profile_add};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::pg::ServerOptions;
use serde_json::Value;

#[tokio::test]
async fn add_check_list_browse_and_remove_a_profile() {
    let server =
        PgServer::start_with(18, ServerOptions { password_auth: true, ..Default::default() });
    let password = server.superuser_password().unwrap();
    let db = server.create_database("cli_browse").await;
    let home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let add =
        ["profile", "add", "Shop DB", "--host", "127.0.0.1", "--port", &port, "--user", "postgres"];
    let added = lifeboat_with_stdin(
        home.path(),
        &[&add[..], &["--password-stdin"]].concat(),
        Some(&format!("{password}\n")),
    );
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let list = lifeboat(home.path(), &["profile", "list", "--json"]);
    let profiles = json(&list);
    assert_eq!(profiles[0]["settings"]["name"], "Shop DB");
    assert_eq!(profiles[0]["settings"]["port"], server.port);
    assert!(!String::from_utf8_lossy(&list.stdout).contains(password));

    let check = lifeboat(home.path(), &["profile", "check", "shop db", "--json"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let report = json(&check);
    assert!(report["serverVersion"].as_str().unwrap().starts_with("18."));
    assert_eq!(report["isSuperuser"], true);

    let databases = json(&lifeboat(home.path(), &["databases", "Shop DB", "--json"]));
    assert!(databases.as_array().unwrap().iter().any(|d| d["name"] == db.as_str()));
    let text = lifeboat(home.path(), &["databases", "Shop DB"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&db));

    let removed = lifeboat(home.path(), &["profile", "remove", "Shop DB"]);
    assert!(removed.status.success());
    let gone = lifeboat(home.path(), &["profile", "check", "Shop DB", "--json"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(json(&gone)["error"]["code"], "profile_not_found");
}

#[tokio::test]
async fn failed_checks_exit_1_with_the_diagnosis_code() {
    let server =
        PgServer::start_with(14, ServerOptions { password_auth: true, ..Default::default() });
    let home = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let wrong = lifeboat_with_stdin(
        home.path(),
        &profile_add("wrong", &port, "--password-stdin"),
        Some("not-the-password\n"),
    );
    assert!(wrong.status.success());
    let check = lifeboat(home.path(), &["profile", "check", "wrong", "--json"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(json(&check)["error"]["code"], "password_failed");

    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    lifeboat(
        home.path(),
        &["profile", "add", "dead", "--host", "127.0.0.1", "--port", &dead_port, "--user", "x"],
    );
    let text = lifeboat(home.path(), &["profile", "check", "dead"]);
    assert_eq!(text.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(
        stderr.contains("error: Nothing answered")
            && stderr.contains("hint: Is PostgreSQL running"),
        "{stderr}"
    );
    for name in ["wrong", "dead"] {
        assert!(lifeboat(home.path(), &["profile", "remove", name]).status.success());
    }
}

#[test]
fn profile_usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let missing_host = lifeboat(home.path(), &["profile", "add", "x", "--user", "u"]);
    assert_eq!(missing_host.status.code(), Some(2));
    let bad_mode = lifeboat(
        home.path(),
        &["profile", "add", "x", "--host", "h", "--user", "u", "--sslmode", "maybe"],
    );
    assert_eq!(bad_mode.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_mode.stderr).contains("verify-full"));
}

#[tokio::test]
async fn backup_prints_the_manifest_files_and_checksums() {
    let server = PgServer::shared(18);
    let db = server.create_database("cli_backup").await;
    server
        .client(&db)
        .await
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 42)")
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_profile(home.path(), &server, "b");
    let out_dir = out.path().display().to_string();
    let run = lifeboat(
        home.path(),
        &["backup", "--profile", "b", "--database", &db, "--out", &out_dir, "--json"],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
    let result = json(&run);
    let manifest_path = result["manifestPath"].as_str().unwrap();
    assert!(Path::new(manifest_path).is_file());
    let file = &result["files"][0];
    let name = file["name"].as_str().unwrap();
    assert!(name.starts_with(&format!("{db}-")) && name.ends_with(".backup"), "{name}");
    assert_eq!(file["sha256"].as_str().unwrap().len(), 64);
    assert!(result["sizeBytes"].as_u64().unwrap() > 0);
    assert!(result["durationMs"].is_u64());
    let manifest: Value = serde_json::from_slice(&std::fs::read(manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["tables"][0]["rows"], 42);

    // Without --out the backup goes to the data folder's "backups".
    let default = lifeboat(home.path(), &["backup", "--profile", "b", "--database", &db, "--json"]);
    assert!(default.status.success());
    assert!(
        json(&default)["manifestPath"]
            .as_str()
            .unwrap()
            .starts_with(&home.path().join("backups").display().to_string())
    );

    let missing = lifeboat(
        home.path(),
        &["backup", "--profile", "b", "--database", "nope", "--out", &out_dir, "--json"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(json(&missing)["error"]["code"], "database_missing");
    // A missing --out folder is created (cli/tests/headless.rs); a file in its place is refused.
    let not_a_folder = home.path().join("not-a-folder");
    std::fs::write(&not_a_folder, b"").unwrap();
    let not_a_folder = not_a_folder.display().to_string();
    let bad_out = lifeboat(
        home.path(),
        &["backup", "--profile", "b", "--database", &db, "--out", &not_a_folder],
    );
    assert_eq!(bad_out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_out.stderr).contains(&not_a_folder));
    assert!(
        lifeboat(home.path(), &["backup", "--profile", "b"]).status.code() == Some(2),
        "--database is required"
    );
}
