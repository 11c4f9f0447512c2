//! The Activity view's history against a real server: a backup and a failed backup, run through
//! the same functions the window calls, are listed with their outcome, summary and the
//! programs' log, and the profile's password is nowhere in what is stored. Needs the keychain
//! (`tests/with-keyring.sh`), where the profile keeps its password.

use lifeboat_engine::base::progress::{ProgressEvent, Recorder};
use lifeboat_engine::ops::activity::{
    self, ActivityKind, ActivityLogRequest, ActivityOrigin, ListActivity, activity_log,
    list_activity,
};
use lifeboat_engine::ops::backup::BackupFormat;
use lifeboat_engine::storage::activity::ActivityOutcome;
use lifeboat_engine::storage::profiles::{AddProfile, PasswordSource, add_profile};
use lifeboat_engine::storage::store::STORE_FILE;
use lifeboat_engine::util::secret::Secret;
use lifeboat_system_tests::home::{backup_request, server_settings, test_home};
use lifeboat_system_tests::{PgServer, ServerOptions};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_backup_and_a_failed_one_are_listed_with_their_logs_and_no_password() {
    let server =
        PgServer::start_with(18, ServerOptions { password_auth: true, ..Default::default() });
    let password = server.superuser_password().expect("a password server");
    let db = server.create_database("activity").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE sales (id int); INSERT INTO sales SELECT generate_series(1, 40);",
        )
        .await
        .unwrap();
    let home = test_home();
    let mut settings = server_settings("server", &server);
    settings.password_source = PasswordSource::Keychain;
    add_profile(&home.ctx, AddProfile { settings, password: Some(Secret::new(password)) })
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();

    let seen = Recorder::default();
    let request = backup_request("server", &db, out.path(), BackupFormat::Custom);
    let outcome = activity::backup(&home.ctx, ActivityOrigin::Desktop, request, &seen, &cancel)
        .await
        .unwrap();
    assert!(
        seen.events().iter().any(|e| matches!(e, ProgressEvent::ToolOutput { .. })),
        "the caller's sink still gets the programs' lines"
    );
    let missing = backup_request("server", "no_such_database", out.path(), BackupFormat::Custom);
    let quiet = Recorder::default();
    let error = activity::backup(&home.ctx, ActivityOrigin::Cli, missing, &quiet, &cancel).await;
    assert!(error.is_err());

    let entries = list_activity(&home.ctx, ListActivity::default()).await.unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (failed, done) = (&entries[0], &entries[1]);

    assert_eq!(done.kind, ActivityKind::Backup);
    assert_eq!(done.subject, db);
    assert_eq!(done.profile.as_deref(), Some("server"));
    assert_eq!(done.origin, Some(ActivityOrigin::Desktop));
    assert_eq!(done.outcome, ActivityOutcome::Succeeded);
    assert!(done.summary.contains(&outcome.manifest_path), "{}", done.summary);
    assert!(done.started_at <= done.ended_at);
    let log = activity_log(&home.ctx, ActivityLogRequest { id: done.id }).await.unwrap();
    assert_eq!(log.len() as u32, done.log_lines);
    assert!(log.iter().any(|l| l.starts_with("pg_dump (PostgreSQL 18")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("dumping contents of table") && l.contains("sales")));
    assert!(log.iter().any(|l| l == "pg_dump finished (exit code 0)"), "{log:?}");

    assert_eq!(failed.subject, "no_such_database");
    assert_eq!(failed.outcome, ActivityOutcome::Failed);
    assert_eq!(failed.origin, Some(ActivityOrigin::Cli));
    assert_eq!(failed.error_code.as_deref(), Some("database_missing"), "{failed:?}");
    assert!(failed.summary.contains("no_such_database"), "{}", failed.summary);

    // The password is in no entry, no log and no byte of the store's files.
    let mut stored = serde_json::to_string(&entries).unwrap();
    for entry in &entries {
        stored.push_str(
            &activity_log(&home.ctx, ActivityLogRequest { id: entry.id }).await.unwrap().join("\n"),
        );
    }
    assert!(!stored.contains(password));
    for name in [STORE_FILE.to_owned(), format!("{STORE_FILE}-wal")] {
        let path = home.dir.path().join(&name);
        if let Ok(bytes) = std::fs::read(&path) {
            let found = bytes.windows(password.len()).any(|w| w == password.as_bytes());
            assert!(!found, "the password is in {name}");
        }
    }
}
