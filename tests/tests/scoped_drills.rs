//! Scoped backups that used to fail every drill, against real servers of 14 and 18: a `--table`
//! backup of a table outside `public` carries no `CREATE SCHEMA`, so the restore creates the
//! schema first (into a new database and in the drill's scratch database), and its drill passes
//! while a changed row still fails naming the table; a data-only backup cannot restore into a new
//! database, so its drill is refused as an error (nothing recorded), not called failed.

use std::path::{Path, PathBuf};

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::format::manifest::BackupScope;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{
    DrillReport, DrillRequest, DrillStepKind, DrillTarget, StepStatus, drill,
};
use lifeboat_engine::ops::restore::{FindingCode, RestoreRequest, preflight, restore};
use lifeboat_engine::storage::catalog::{ListBackups, list_backups};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

/// The table backed up lives in `crm`; another schema and a table in `public` are left out by
/// `--table crm.customers`.
const DATA: &str = r#"
    CREATE SCHEMA crm;
    CREATE SCHEMA sales;
    CREATE TABLE crm.customers (id serial PRIMARY KEY, name text NOT NULL);
    INSERT INTO crm.customers (name) SELECT 'c' || g FROM generate_series(1, 40) g;
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, note text);
    INSERT INTO sales.orders (note) SELECT 'n' || g FROM generate_series(1, 12) g;
    CREATE TABLE public.notes (id int PRIMARY KEY);
    INSERT INTO public.notes SELECT generate_series(1, 3);
"#;

type Fixture = ProdFixture;

async fn fixture(major: u32, prefix: &str) -> Fixture {
    prod_fixture(major, prefix, DATA).await
}

/// Backs the fixture's database up into `out` with `scope`; returns the manifest's path.
async fn make_backup(
    fx: &Fixture,
    out: &Path,
    format: BackupFormat,
    scope: BackupScope,
) -> PathBuf {
    let mut input = backup_request("prod", &fx.db, out, format);
    input.scope = scope;
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("backup of {}: {e}", fx.db));
    PathBuf::from(outcome.manifest_path)
}

fn one_table() -> BackupScope {
    BackupScope { tables: vec!["crm.customers".into()], ..BackupScope::default() }
}

async fn drill_on_prod(fx: &Fixture, source: &Path, tamper: Option<&str>) -> DrillReport {
    let request = DrillRequest {
        source: source.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        tamper: tamper.map(str::to_owned),
        ..DrillRequest::default()
    };
    drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap()
}

fn restore_request(source: &Path) -> RestoreRequest {
    RestoreRequest {
        source: source.display().to_string(),
        profile: "prod".into(),
        ..RestoreRequest::default()
    }
}

/// A `--table crm.customers` backup in every format restores into a new database (the plan says
/// the schema is created) and passes its drill; a changed row fails it, naming the table.
async fn a_table_outside_public_restores_and_passes_its_drill(major: u32) {
    let fx = fixture(major, &format!("scoped_table_{major}")).await;
    for format in
        [BackupFormat::Custom, BackupFormat::Directory, BackupFormat::Tar, BackupFormat::Plain]
    {
        let out = tempfile::tempdir().unwrap();
        let manifest = make_backup(&fx, out.path(), format, one_table()).await;

        let plan = preflight(&fx.home.ctx, restore_request(&manifest)).await.unwrap();
        assert!(!plan.blocked, "{major} {format:?}: {:?}", plan.findings);
        let created = plan.findings.iter().find(|f| f.code == FindingCode::SchemasCreated);
        let created = created.unwrap_or_else(|| panic!("{major} {format:?}: {:?}", plan.findings));
        assert!(created.message.contains("schema crm,"), "{}", created.message);
        assert!(plan.summary.contains("creating schema crm first"), "{}", plan.summary);

        let outcome =
            restore(&fx.home.ctx, restore_request(&manifest), &NullSink, &CancellationToken::new())
                .await
                .unwrap_or_else(|e| panic!("{major} {format:?}: restore: {e}"));
        let rows =
            fx.server.query_int(&outcome.database, "SELECT count(*) FROM crm.customers").await;
        assert_eq!(rows, 40, "{major} {format:?}");
        drop_database(&fx.server, &outcome.database).await;

        let report = drill_on_prod(&fx, &manifest, None).await;
        assert!(report.passed, "{major} {format:?}: {:?} {:?}", report.failure, report.steps);
        let compare = report.steps.iter().find(|s| s.kind == DrillStepKind::Compare).unwrap();
        assert_eq!(compare.status, StepStatus::Passed, "{major} {format:?}: {compare:?}");

        let tamper = "DELETE FROM crm.customers WHERE id = 7";
        let report = drill_on_prod(&fx, &manifest, Some(tamper)).await;
        assert!(!report.passed, "{major} {format:?}: a changed row must fail");
        let compare = report.steps.iter().find(|s| s.kind == DrillStepKind::Compare).unwrap();
        assert_eq!(compare.status, StepStatus::Failed, "{major} {format:?}: {compare:?}");
        assert!(
            compare.summary.contains("crm.customers: 39 rows instead of 40 rows"),
            "{major} {format:?}: {compare:?}"
        );
    }
}

async fn drop_database(server: &PgServer, name: &str) {
    let sql = format!("DROP DATABASE {}", lifeboat_system_tests::quote_ident(name));
    server.client("postgres").await.batch_execute(&sql).await.unwrap();
}

/// A data-only backup's drill is an error with its own code, before anything is restored or
/// recorded, with its manifest and without (the archive holds no table definitions).
async fn a_data_only_backup_is_refused_not_failed(major: u32) {
    let fx = fixture(major, &format!("scoped_data_{major}")).await;
    let out = tempfile::tempdir().unwrap();
    let scope = BackupScope { data_only: true, ..BackupScope::default() };
    let manifest = make_backup(&fx, out.path(), BackupFormat::Custom, scope).await;
    let dump = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "backup"))
        .unwrap();
    let without_manifest = tempfile::tempdir().unwrap();
    let alone = without_manifest.path().join("alone.backup");
    std::fs::copy(&dump, &alone).unwrap();
    for source in [&manifest, &dump, &alone] {
        let request = DrillRequest {
            source: source.display().to_string(),
            target: DrillTarget::Profile { name: "prod".into() },
            ..DrillRequest::default()
        };
        let error = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new())
            .await
            .expect_err("a data-only backup cannot be drilled");
        assert_eq!(error.code(), ErrorCode::DrillNeedsDefinitions, "{major} {source:?}: {error}");
        assert!(error.hint().contains("data-only backup restores into a database"), "{error}");
    }
    let records = list_backups(
        &fx.home.ctx,
        ListBackups { database: Some(fx.db.clone()), ..ListBackups::default() },
    )
    .await
    .unwrap();
    assert_eq!(records[0].test_status, "untested", "nothing recorded");
    let certificates = std::fs::read_dir(out.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".drill-"))
        .count();
    assert_eq!(certificates, 0, "no certificate");
}

#[tokio::test]
async fn a_table_outside_public_restores_and_passes_its_drill_14() {
    a_table_outside_public_restores_and_passes_its_drill(14).await;
}

#[tokio::test]
async fn a_table_outside_public_restores_and_passes_its_drill_18() {
    a_table_outside_public_restores_and_passes_its_drill(18).await;
}

#[tokio::test]
async fn a_data_only_backup_is_refused_not_failed_14() {
    a_data_only_backup_is_refused_not_failed(14).await;
}

#[tokio::test]
async fn a_data_only_backup_is_refused_not_failed_18() {
    a_data_only_backup_is_refused_not_failed(18).await;
}

/// Backups of 18 drilled on a 14 server (pg_restore 18 writes SQL, 14's psql runs it): a whole
/// backup, one table outside `public`, one schema and one without a table all pass, and a
/// changed row still fails.
#[tokio::test]
async fn scoped_backups_of_18_pass_their_drills_on_14() {
    let fx = fixture(18, "scoped_older").await;
    let older = PgServer::shared(14);
    lifeboat_system_tests::home::add_server_profile(&fx.home.ctx, "old", &older).await;
    let on_old = |manifest: &Path, tamper: Option<&str>| DrillRequest {
        source: manifest.display().to_string(),
        target: DrillTarget::Profile { name: "old".into() },
        tamper: tamper.map(str::to_owned),
        ..DrillRequest::default()
    };
    let scopes = [
        ("whole", BackupScope::default()),
        ("--table crm.customers", one_table()),
        ("--schema sales", BackupScope { schemas: vec!["sales".into()], ..BackupScope::default() }),
        (
            "--exclude-table sales.orders",
            BackupScope { exclude_tables: vec!["sales.orders".into()], ..BackupScope::default() },
        ),
    ];
    for (what, scope) in scopes {
        let out = tempfile::tempdir().unwrap();
        let manifest = make_backup(&fx, out.path(), BackupFormat::Custom, scope).await;
        let report =
            drill(&fx.home.ctx, on_old(&manifest, None), &NullSink, &CancellationToken::new())
                .await
                .unwrap();
        assert!(report.passed, "{what}: {:?} {:?}", report.failure, report.steps);
        let version = report.server_version.as_deref().unwrap_or_default();
        assert!(version.starts_with("14."), "{what}: {version}");
    }
    let out = tempfile::tempdir().unwrap();
    let manifest = make_backup(&fx, out.path(), BackupFormat::Custom, one_table()).await;
    let tamper = "DELETE FROM crm.customers WHERE id = 7";
    let report =
        drill(&fx.home.ctx, on_old(&manifest, Some(tamper)), &NullSink, &CancellationToken::new())
            .await
            .unwrap();
    assert!(!report.passed, "a changed row must fail on 14 too");
}
