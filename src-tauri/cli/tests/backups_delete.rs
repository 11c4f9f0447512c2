//! `lifeboat status` and `lifeboat backups delete` against a real server: the status shows the
//! database's size, its last backup and its passing test with the certificate; a deleted backup's
//! files are gone, `lifeboat backups` no longer lists it and `--all` shows it as deleted.

mod common;

use std::path::PathBuf;

use common::{add_local_profile, json, lifeboat, text};
use lifeboat_system_tests::PgServer;

#[tokio::test]
async fn status_shows_the_dashboard_and_a_deleted_backup_stays_in_the_catalog() {
    let server = PgServer::shared(18);
    let db = server.create_database("cli_delete").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50);",
        )
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let made = lifeboat(
        home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_dir, "--json"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let made = json(&made);
    let id = made["backupId"].as_i64().unwrap();
    let manifest = PathBuf::from(made["manifestPath"].as_str().unwrap());
    // A test on the profile's own server (the practice server refuses root).
    let tested = lifeboat(home.path(), &["test", manifest.to_str().unwrap(), "--profile", "local"]);
    assert!(tested.status.success(), "{}", text(&tested));

    let status = lifeboat(home.path(), &["status", "--profile", "local", "--database", &db]);
    assert!(status.status.success(), "{}", text(&status));
    let printed = text(&status);
    assert!(printed.contains("last backup:  ") && printed.contains(&format!("#{id}")), "{printed}");
    assert!(printed.contains("passed: every check passed"), "{printed}");
    assert!(printed.contains(".html"), "the certificate is named: {printed}");
    let status = json(&lifeboat(
        home.path(),
        &["status", "--profile", "local", "--database", &db, "--json"],
    ));
    assert!(status["live"]["sizeBytes"].as_i64().is_some_and(|s| s > 0), "{status}");
    assert_eq!(status["lastBackup"]["id"].as_i64(), Some(id));
    assert_eq!(status["lastTest"]["passed"], true);
    assert_eq!(status["recoverable"], true);

    let deleted = lifeboat(home.path(), &["backups", "delete", &id.to_string()]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    let printed = text(&deleted);
    assert!(printed.contains(&format!("removed {}", manifest.display())), "{printed}");
    assert!(!manifest.exists());
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none(), "every file of it went");

    let listed = lifeboat(home.path(), &["backups", "--database", &db]);
    assert!(text(&listed).contains("No backups in the catalog yet"), "{}", text(&listed));
    let all = lifeboat(home.path(), &["backups", "--database", &db, "--all"]);
    let line = text(&all);
    let row =
        line.lines().find(|l| l.trim_start().starts_with(&format!("{id} "))).unwrap_or_default();
    assert!(row.contains("deleted"), "{line}");
    let all = json(&lifeboat(home.path(), &["backups", "--database", &db, "--all", "--json"]));
    assert_eq!(all[0]["deletedBy"], "user", "{all}");

    let again = lifeboat(home.path(), &["backups", "delete", &id.to_string(), "--json"]);
    assert!(!again.status.success());
    assert_eq!(json(&again)["error"]["code"], "backup_not_deletable");
}
