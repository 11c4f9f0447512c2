//! `lifeboat backup --all-databases` against a server of its own: every database is backed up
//! with its own manifest, the roles once; a database that refuses connections is skipped and
//! named; a database whose backup fails does not stop the others and makes the job partial;
//! one of the backups then passes a drill on the practice server (run as the unprivileged user).

mod common;

use std::path::{Path, PathBuf};

use common::{add_local_profile, json, lifeboat, lifeboat_as_user, text};
use lifeboat_system_tests::{PgServer, give_to_test_user};
use serde_json::Value;

const ROWS: &str = "CREATE TABLE items (id int PRIMARY KEY, note text); \
                    INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 120) g; \
                    GRANT SELECT ON items TO server_reader;";

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

fn by_name<'a>(outcome: &'a Value, database: &str) -> &'a Value {
    outcome["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == database)
        .unwrap_or_else(|| panic!("{database} is not in {outcome:#}"))
}

#[tokio::test]
async fn every_database_is_backed_up_once_with_the_roles_and_the_gaps_named() {
    // A server of its own: a server backup takes every database there is.
    let server = PgServer::start(17);
    server.create_role("server_reader", Some("reader-pw"), "").await;
    let admin = server.client("postgres").await;
    admin.batch_execute("CREATE ROLE server_weak NOLOGIN").await.unwrap();
    for db in ["app_a", "app_b", "app_c", "app_broken", "app_locked"] {
        admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    }
    for db in ["app_a", "app_b", "app_c", "app_broken"] {
        server.client(db).await.batch_execute(ROWS).await.unwrap();
    }
    // Whoever connects to app_broken becomes server_weak, who may not read its table: its
    // backup fails on the server, deterministically.
    admin
        .batch_execute(
            "ALTER DATABASE app_broken SET role = 'server_weak'; \
             ALTER DATABASE app_locked ALLOW_CONNECTIONS false",
        )
        .await
        .unwrap();

    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let out_dir = out.path().display().to_string();
    let run = lifeboat(
        home.path(),
        &["backup", "--all-databases", "--profile", "local", "--out", &out_dir, "--json"],
    );
    // Not everything was backed up: exit code 1, and the outcome, not an error.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let outcome = json(&run);
    assert_eq!(outcome["status"], "partial", "{outcome:#}");
    let summary = outcome["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Not every database was backed up. 4 databases backed up."),
        "{summary}"
    );
    assert!(summary.contains("1 database failed"), "{summary}");
    assert!(summary.contains("not backed up: app_locked"), "{summary}");

    let names: Vec<&str> = outcome["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["database"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app_a", "app_b", "app_broken", "app_c", "app_locked", "postgres"]);
    for db in ["app_a", "app_b", "app_c", "postgres"] {
        let result = by_name(&outcome, db);
        assert_eq!(result["state"], "backed_up", "{result:#}");
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(result["outcome"]["manifestPath"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["database"], db);
        assert_eq!(manifest["compression"], "zstd:4");
    }
    let broken = by_name(&outcome, "app_broken");
    assert_eq!(broken["state"], "failed");
    assert!(
        broken["error"]["message"].as_str().unwrap().contains("permission denied"),
        "{broken:#}"
    );
    let locked = by_name(&outcome, "app_locked");
    assert_eq!(locked["state"], "skipped");
    assert!(locked["reason"].as_str().unwrap().contains("ALLOW_CONNECTIONS"), "{locked:#}");

    // One manifest per database backed up, no trace of the failed one, the roles once.
    let manifests = files_ending(out.path(), ".lifeboat.json");
    assert_eq!(manifests.len(), 4, "{manifests:?}");
    assert!(!manifests.iter().any(|m| m.to_string_lossy().contains("app_broken")));
    let globals = files_ending(out.path(), ".globals.sql");
    assert_eq!(globals.len(), 1, "{globals:?}");
    let roles = std::fs::read_to_string(&globals[0]).unwrap();
    assert!(roles.contains("server_reader"), "{roles}");
    assert!(!roles.contains("reader-pw") && !roles.contains("SCRAM-SHA-256$"), "no passwords");
    assert_eq!(outcome["globals"]["database"], "app_a");
    assert_eq!(
        outcome["globals"]["file"]["name"].as_str().unwrap(),
        globals[0].file_name().unwrap().to_str().unwrap()
    );
    // Each backup is in the catalog; the failed one as failed.
    let listed = json(&lifeboat(home.path(), &["backups", "--json"]));
    let statuses: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["database"].as_str().unwrap().into(), r["status"].as_str().unwrap().into()))
        .collect();
    for db in ["app_a", "app_b", "app_c", "postgres"] {
        assert!(statuses.contains(&(db.into(), "finished".into())), "{statuses:?}");
    }
    assert!(statuses.contains(&("app_broken".into(), "failed".into())), "{statuses:?}");

    // The text output names every database with what happened to it.
    let printed = lifeboat(
        home.path(),
        &["backup", "--all-databases", "--profile", "local", "--out", &out_dir],
    );
    assert_eq!(printed.status.code(), Some(1), "{}", text(&printed));
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(stdout.contains("  ok       app_a"), "{stdout}");
    assert!(stdout.contains("  failed   app_broken"), "{stdout}");
    assert!(stdout.contains("  skipped  app_locked"), "{stdout}");
    assert!(String::from_utf8_lossy(&printed.stderr).contains("Database 1 of 5: app_a"));

    // The backup carrying the roles passes a drill on the practice server.
    let user_home = tempfile::tempdir().unwrap();
    give_to_test_user(out.path());
    give_to_test_user(user_home.path());
    let manifest =
        by_name(&outcome, "app_a")["outcome"]["manifestPath"].as_str().unwrap().to_owned();
    let drill =
        lifeboat_as_user(user_home.path()).args(["test", &manifest, "--json"]).output().unwrap();
    assert_eq!(drill.status.code(), Some(0), "{}", text(&drill));
    let report: Value = serde_json::from_slice(&drill.stdout).unwrap();
    assert_eq!(report["passed"], true, "{report:#}");
}

#[tokio::test]
async fn a_server_with_nothing_to_back_up_fails_and_a_usage_error_is_refused() {
    let server = PgServer::start(14);
    // The only database left is the maintenance database, and it refuses nothing; make the
    // backup fail there too by turning its connections into a role without rights.
    let admin = server.client("postgres").await;
    admin
        .batch_execute(
            "CREATE ROLE nothing_weak NOLOGIN; CREATE TABLE t (id int); \
             ALTER DATABASE postgres SET role = 'nothing_weak'",
        )
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let out_dir = out.path().display().to_string();
    let run = lifeboat(
        home.path(),
        &["backup", "--all-databases", "--profile", "local", "--out", &out_dir, "--json"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let outcome = json(&run);
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    assert!(outcome["summary"].as_str().unwrap().starts_with("No database was backed up."));
    assert_eq!(by_name(&outcome, "postgres")["state"], "failed");
    assert!(files_ending(out.path(), ".lifeboat.json").is_empty());

    // zstd is refused for a PostgreSQL 14 server, database by database, before any pg_dump.
    admin.batch_execute("ALTER DATABASE postgres RESET role").await.unwrap();
    let zstd = lifeboat(
        home.path(),
        &[
            "backup",
            "--all-databases",
            "--profile",
            "local",
            "--compress",
            "zstd",
            "--out",
            &out_dir,
            "--json",
        ],
    );
    assert_eq!(zstd.status.code(), Some(1), "{}", text(&zstd));
    let refused = json(&zstd);
    assert_eq!(by_name(&refused, "postgres")["error"]["code"], "compression_unavailable");

    // --all-databases and --database exclude each other; one of them is needed.
    let both = lifeboat(
        home.path(),
        &["backup", "--all-databases", "--database", "postgres", "--profile", "local"],
    );
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    let neither = lifeboat(home.path(), &["backup", "--profile", "local"]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));
}
