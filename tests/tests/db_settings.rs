//! The database's own settings (`ALTER DATABASE … SET`, per role in the database) and its
//! comment, on 14 and 18: the backup records them, a restore into a new database sets them
//! again and says so, a drill compares them and fails naming a changed one.

use std::path::PathBuf;

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::format::manifest::Manifest;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillStepKind, DrillTarget, StepStatus, drill};
use lifeboat_engine::ops::restore::{FindingCode, RestoreRequest, preflight, restore};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use tokio_util::sync::CancellationToken;

const ROLE: &str = "dbset_app";

struct Fixture {
    home: TestHome,
    out: tempfile::TempDir,
    server: PgServer,
    db: String,
}

/// A database with settings of its own, one for an existing role, and a comment.
async fn fixture(major: u32) -> Fixture {
    let server = PgServer::shared(major);
    let db = server.create_database("dbset").await;
    let client = server.client(&db).await;
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             CREATE SCHEMA app; CREATE TABLE app.t (id int); INSERT INTO app.t VALUES (1), (2);
             ALTER DATABASE \"{db}\" SET timezone = 'Europe/Paris';
             ALTER DATABASE \"{db}\" SET search_path = app, public, \"$user\";
             ALTER DATABASE \"{db}\" SET lc_messages = 'C';
             ALTER DATABASE \"{db}\" SET work_mem = '8MB';
             ALTER DATABASE \"{db}\" SET app.tenant = 'it''s';
             ALTER ROLE {ROLE} IN DATABASE \"{db}\" SET work_mem = '64MB';
             COMMENT ON DATABASE \"{db}\" IS 'The shop''s data';"
        ))
        .await
        .unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "prod", &server).await;
    Fixture { home, out: tempfile::tempdir().unwrap(), server, db }
}

async fn make_backup(fx: &Fixture) -> (PathBuf, Manifest) {
    let input = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let path = PathBuf::from(outcome.manifest_path);
    let manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, manifest)
}

/// `setconfig` of `db` (database-wide with `role` None), sorted.
async fn setconfig(server: &PgServer, db: &str, role: Option<&str>) -> Vec<String> {
    let row = server
        .client("postgres")
        .await
        .query_opt(
            "SELECT s.setconfig::text[] FROM pg_db_role_setting s \
             JOIN pg_database d ON d.oid = s.setdatabase \
             WHERE d.datname = $1 AND s.setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $2), 0)",
            &[&db, &role],
        )
        .await
        .unwrap();
    let mut config: Vec<String> = row.map(|r| r.get(0)).unwrap_or_default();
    config.sort();
    config
}

async fn settings_survive_backup_restore_and_drill(major: u32) {
    let fx = fixture(major).await;
    let (manifest_path, manifest) = make_backup(&fx).await;
    let recorded = manifest.database_settings.clone().expect("settings recorded");
    let mut expected = setconfig(&fx.server, &fx.db, None).await;
    let mut settings = recorded.settings.clone();
    settings.sort();
    assert_eq!(settings, expected);
    assert!(expected.contains(&"search_path=app, public, \"$user\"".to_owned()), "{expected:?}");
    assert!(expected.contains(&"TimeZone=Europe/Paris".to_owned()), "{expected:?}");
    assert_eq!(recorded.role_settings.len(), 1);
    assert_eq!(recorded.role_settings[0].role, ROLE);
    assert_eq!(recorded.role_settings[0].settings, ["work_mem=64MB"]);
    assert_eq!(recorded.comment.as_deref(), Some("The shop's data"));

    // The plan says what it sets; the restore sets it on the database it created.
    let request = RestoreRequest {
        source: manifest_path.display().to_string(),
        profile: "prod".into(),
        ..RestoreRequest::default()
    };
    let plan = preflight(&fx.home.ctx, request.clone()).await.unwrap();
    let said = plan.findings.iter().find(|f| f.code == FindingCode::DatabaseSettings).unwrap();
    assert!(said.message.contains("TimeZone=Europe/Paris"), "{said:?}");
    let outcome =
        restore(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(outcome.database_settings.failed.is_empty(), "{:?}", outcome.database_settings);
    assert_eq!(outcome.database_settings.applied.len(), 7, "{:?}", outcome.database_settings);
    expected.sort();
    assert_eq!(setconfig(&fx.server, &outcome.database, None).await, expected);
    assert_eq!(setconfig(&fx.server, &outcome.database, Some(ROLE)).await, ["work_mem=64MB"]);
    let comment: Option<String> = fx
        .server
        .client("postgres")
        .await
        .query_one(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&outcome.database],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("The shop's data"));

    // Into an existing database the settings stay as they are, and the plan says so.
    let existing = fx.server.create_database("dbset_into").await;
    let into = RestoreRequest {
        source: manifest_path.display().to_string(),
        profile: "prod".into(),
        target_database: Some(existing.clone()),
        ..RestoreRequest::default()
    };
    let plan = preflight(&fx.home.ctx, into).await.unwrap();
    let said = plan.findings.iter().find(|f| f.code == FindingCode::DatabaseSettings).unwrap();
    assert!(said.message.contains("stay as they are"), "{said:?}");

    // A drill passes; the same drill with a changed setting fails, naming it.
    let on_prod = DrillRequest {
        source: manifest_path.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    };
    let report =
        drill(&fx.home.ctx, on_prod.clone(), &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{report:?}");
    let compare = report.steps.iter().find(|s| s.kind == DrillStepKind::Compare).unwrap();
    assert!(compare.checks.iter().any(|c| c.name == "database setting TimeZone" && c.passed));
    let mut tampered = on_prod;
    tampered.tamper = Some(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), \
         'UTC'); END $$"
            .into(),
    );
    let report = drill(&fx.home.ctx, tampered, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(!report.passed);
    let compare = report.steps.iter().find(|s| s.kind == DrillStepKind::Compare).unwrap();
    assert_eq!(compare.status, StepStatus::Failed);
    assert!(
        compare.summary.contains("database setting TimeZone: UTC instead of Europe/Paris"),
        "{compare:?}"
    );
}

#[tokio::test]
async fn settings_survive_on_14() {
    settings_survive_backup_restore_and_drill(14).await;
}

#[tokio::test]
async fn settings_survive_on_18() {
    settings_survive_backup_restore_and_drill(18).await;
}

/// A restore and a drill by a user who is no superuser and lacks CREATEROLE: the superuser-only
/// `lc_messages` and the role's own setting cannot be set; the plan names them, the restore
/// leaves them out, and the drill of the good backup passes, comparing the rest.
#[tokio::test]
async fn a_user_without_the_rights_gets_the_rest_and_a_passing_drill() {
    use lifeboat_engine::storage::profiles::{AddProfile, add_profile};
    let fx = fixture(18).await;
    let (manifest_path, _) = make_backup(&fx).await;
    let user = format!("dbset_restorer_{}", std::process::id());
    fx.server.create_role(&user, None, "CREATEDB").await;
    let mut settings = lifeboat_system_tests::home::server_settings("restorer", &fx.server);
    settings.user = user.clone();
    add_profile(&fx.home.ctx, AddProfile { settings, password: None }).await.unwrap();
    let request = RestoreRequest {
        source: manifest_path.display().to_string(),
        profile: "restorer".into(),
        ..RestoreRequest::default()
    };
    let plan = preflight(&fx.home.ctx, request.clone()).await.unwrap();
    let skipped: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::DatabaseSettingsSkipped)
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        skipped.iter().any(|m| m.contains("only a superuser") && m.contains("lc_messages")),
        "{skipped:?}"
    );
    assert!(skipped.iter().any(|m| m.contains("CREATEROLE") && m.contains(ROLE)), "{skipped:?}");
    assert!(
        skipped.iter().any(|m| m.contains("custom settings") && m.contains("app.tenant")),
        "{skipped:?}"
    );
    let outcome =
        restore(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    let config = setconfig(&fx.server, &outcome.database, None).await;
    assert!(config.iter().any(|c| c == "TimeZone=Europe/Paris"), "{config:?}");
    assert!(!config.iter().any(|c| c.starts_with("lc_messages")), "{config:?}");

    let drill_request = DrillRequest {
        source: manifest_path.display().to_string(),
        target: DrillTarget::Profile { name: "restorer".into() },
        ..DrillRequest::default()
    };
    let report =
        drill(&fx.home.ctx, drill_request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{:?}", report.failure);
    let compare = report.steps.iter().find(|s| s.kind == DrillStepKind::Compare).unwrap();
    assert!(
        compare.checks.iter().any(|c| c.name == "database setting lc_messages"
            && c.actual.starts_with("skipped: only a superuser")),
        "{:?}",
        compare.checks
    );
}
