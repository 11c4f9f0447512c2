//! Restore drills on a chosen server (a profile), against real servers: a good backup passes and
//! leaves a certificate and a catalog status; tampered data, a flipped byte, a truncated archive
//! and a failing smoke check each fail the drill at the right step, naming what is wrong; a
//! cancel leaves nothing behind. The practice server is tested through the CLI
//! (`src-tauri/cli/tests/drill.rs`), which runs as an unprivileged user as PostgreSQL requires.

use std::path::{Path, PathBuf};

use lifeboat_engine::base::progress::{NullSink, ProgressEvent, ProgressSink, Recorder};
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{
    DrillReport, DrillRequest, DrillStepKind, DrillTarget, StepStatus, drill,
};
use lifeboat_engine::storage::catalog::{ListBackups, list_backups};
use lifeboat_engine::storage::smoke::{Expectation, SmokeCheck};
use lifeboat_engine::{Error, ErrorCode};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE SCHEMA sales;
    CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sales.customers(id));
    INSERT INTO sales.customers (name) SELECT 'c' || g FROM generate_series(1, 50) g;
    INSERT INTO sales.orders (customer_id) SELECT 1 + g % 50 FROM generate_series(1, 321) g;
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
"#;

type Fixture = ProdFixture;

async fn fixture(major: u32, prefix: &str) -> Fixture {
    prod_fixture(major, prefix, DATA).await
}

/// Backs the fixture's database up; returns the manifest.
async fn make_backup(fx: &Fixture, format: BackupFormat) -> PathBuf {
    let input = backup_request("prod", &fx.db, fx.out.path(), format);
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    PathBuf::from(outcome.manifest_path)
}

/// The fixture's custom-format dump file.
fn dump_file(fx: &Fixture) -> PathBuf {
    std::fs::read_dir(fx.out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "backup"))
        .unwrap()
}

fn on_prod(source: &Path) -> DrillRequest {
    DrillRequest {
        source: source.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    }
}

fn step(report: &DrillReport, kind: DrillStepKind) -> &lifeboat_engine::ops::drill::DrillStep {
    report.steps.iter().find(|s| s.kind == kind).unwrap()
}

/// Databases on the (shared) server made by drills of `db`.
async fn scratch_databases(server: &PgServer, db: &str) -> Vec<String> {
    let prefix = format!("{db}_drill_");
    server
        .client("postgres")
        .await
        .query("SELECT datname::text FROM pg_database", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

async fn test_status(fx: &Fixture) -> String {
    let records = list_backups(
        &fx.home.ctx,
        ListBackups { database: Some(fx.db.clone()), ..ListBackups::default() },
    )
    .await
    .unwrap();
    records[0].test_status.clone()
}

#[tokio::test]
async fn a_good_backup_passes_on_a_chosen_server_with_a_certificate() {
    let fx = fixture(16, "drill_ok").await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    let recorder = Recorder::default();
    let report = drill(&fx.home.ctx, on_prod(&manifest), &recorder, &CancellationToken::new())
        .await
        .unwrap();
    assert!(report.passed, "{:?}", report.failure);
    for kind in [
        DrillStepKind::Integrity,
        DrillStepKind::Restore,
        DrillStepKind::Compare,
        DrillStepKind::Amcheck,
        DrillStepKind::Cleanup,
    ] {
        assert_eq!(step(&report, kind).status, StepStatus::Passed, "{kind:?}: {:?}", report.steps);
    }
    assert_eq!(step(&report, DrillStepKind::SmokeChecks).status, StepStatus::Skipped);
    let compare = step(&report, DrillStepKind::Compare);
    let orders = compare.checks.iter().find(|c| c.name.ends_with("sales.orders")).unwrap();
    assert_eq!((orders.expected.as_str(), orders.actual.as_str()), ("321 rows", "321 rows"));
    assert!(compare.checks.iter().any(|c| c.name == "extension pg_trgm" && c.passed));
    assert!(compare.checks.iter().any(|c| c.name == "number of indexes" && c.passed));
    assert!(report.tool_versions.iter().any(|v| v.starts_with("pg_amcheck (PostgreSQL) 16.")));
    assert_eq!(report.server_version.as_deref().map(|v| v.starts_with("16.")), Some(true));

    // Every step announced itself, in order.
    let stages: Vec<u32> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Stage { index, .. } => Some(index),
            _ => None,
        })
        .collect();
    assert_eq!(stages, [1, 2, 3, 4, 5, 6]);

    // The proof: HTML and JSON next to the backup, the status in the catalog; nothing left.
    let html = std::fs::read_to_string(report.certificate_html.as_ref().unwrap()).unwrap();
    assert!(html.contains("PASSED") && html.contains(&fx.db), "{html}");
    assert_eq!(Path::new(report.certificate_html.as_ref().unwrap()).parent(), manifest.parent());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.certificate_json.as_ref().unwrap()).unwrap())
            .unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["steps"].as_array().unwrap().len(), 6);
    assert_eq!(test_status(&fx).await, "tested-ok");
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
}

#[tokio::test]
async fn tampered_data_fails_the_comparison_naming_the_table() {
    let fx = fixture(18, "drill_tamper").await;
    let manifest = make_backup(&fx, BackupFormat::Directory).await;
    let mut request = on_prod(&manifest);
    request.tamper = Some("DELETE FROM sales.orders WHERE id % 100 = 0".into());
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(!report.passed);
    let compare = step(&report, DrillStepKind::Compare);
    assert_eq!(compare.status, StepStatus::Failed);
    assert!(compare.summary.contains("sales.orders: 318 rows instead of 321 rows"), "{compare:?}");
    assert!(report.failure.as_deref().unwrap().contains("sales.orders"));
    assert_eq!(test_status(&fx).await, "tested-failed");
    let listed = lifeboat_engine::ops::browse::list_databases(
        &fx.home.ctx,
        lifeboat_engine::ops::browse::ListDatabases { profile: "prod".into() },
    )
    .await
    .unwrap();
    let info = listed.iter().find(|d| d.name == fx.db).unwrap();
    assert!(info.last_test_failed && info.last_successful_test.is_none(), "{info:?}");
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty(), "dropped after a failure");
    let html = std::fs::read_to_string(report.certificate_html.unwrap()).unwrap();
    assert!(html.contains("FAILED") && html.contains("318 rows"));
}

/// 250 tables with odd names (counted in batches of 100), one of them dropped and one short
/// of a row in the scratch copy: both are named, and every other table passes.
#[tokio::test]
async fn among_many_tables_a_missing_one_and_a_short_one_are_each_named() {
    let data = format!(
        "{DATA}
        CREATE SCHEMA \"odd \"\"s\"\"\";
        DO $$ BEGIN
          FOR i IN 1..250 LOOP
            EXECUTE format('CREATE TABLE %I.%I (id int)', 'odd \"s\"', 'T ' || i);
            EXECUTE format('INSERT INTO %I.%I SELECT generate_series(1, %s)', 'odd \"s\"',
                           'T ' || i, i);
          END LOOP;
        END $$;"
    );
    let fx = prod_fixture(17, "drill_many", &data).await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    let mut request = on_prod(&manifest);
    request.tamper = Some(
        "DROP TABLE \"odd \"\"s\"\"\".\"T 7\"; \
         DELETE FROM \"odd \"\"s\"\"\".\"T 180\" WHERE id = 1"
            .into(),
    );
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(!report.passed);
    let compare = step(&report, DrillStepKind::Compare);
    assert_eq!(compare.status, StepStatus::Failed);
    let tables: Vec<_> = compare.checks.iter().filter(|c| c.name.starts_with("table ")).collect();
    assert_eq!(tables.len(), 252, "{tables:?}");
    let mut failed: Vec<(&str, &str, &str)> = tables
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.name.as_str(), c.expected.as_str(), c.actual.as_str()))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            ("table odd \"s\".T 180", "180 rows", "179 rows"),
            ("table odd \"s\".T 7", "7 rows", "missing"),
        ],
    );
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
}

#[tokio::test]
async fn a_flipped_byte_fails_integrity_before_any_restore() {
    let fx = fixture(18, "drill_flip").await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    let dump = dump_file(&fx);
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&dump, bytes).unwrap();
    let report = drill(&fx.home.ctx, on_prod(&manifest), &NullSink, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.passed);
    let integrity = step(&report, DrillStepKind::Integrity);
    assert_eq!(integrity.status, StepStatus::Failed);
    assert!(
        integrity.summary.contains("sha256") || integrity.summary.contains("checksum"),
        "{integrity:?}"
    );
    assert_eq!(step(&report, DrillStepKind::Restore).status, StepStatus::Skipped);
    assert!(report.scratch_database.is_none());
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
    // The damaged backup is marked in the catalog, so it is not picked as untested again.
    assert_eq!(test_status(&fx).await, "tested-failed");
}

#[tokio::test]
async fn a_truncated_archive_fails_the_full_read() {
    let fx = fixture(17, "drill_cut").await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    // Without its manifest the checksum cannot catch it; the full read must.
    let dump = dump_file(&fx);
    std::fs::remove_file(&manifest).unwrap();
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let report =
        drill(&fx.home.ctx, on_prod(&dump), &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(!report.passed);
    let integrity = step(&report, DrillStepKind::Integrity);
    assert_eq!(integrity.status, StepStatus::Failed);
    assert!(
        integrity.summary.contains("damaged") || integrity.summary.contains("end of file"),
        "{integrity:?}"
    );
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
}

#[tokio::test]
async fn a_failing_smoke_check_fails_the_drill_with_its_query_and_result() {
    let fx = fixture(15, "drill_smoke").await;
    let manifest = make_backup(&fx, BackupFormat::Plain).await;
    let checks = vec![
        SmokeCheck {
            label: "there are customers".into(),
            sql: "SELECT count(*) FROM sales.customers".into(),
            expect: Expectation::AtLeast { value: 1 },
        },
        SmokeCheck {
            label: "a big order exists".into(),
            sql: "SELECT id FROM sales.orders WHERE id > 1000".into(),
            expect: Expectation::Rows,
        },
    ];
    lifeboat_engine::storage::smoke::save(&fx.home.ctx, &fx.db, &checks).unwrap();
    let report = drill(&fx.home.ctx, on_prod(&manifest), &NullSink, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!report.passed);
    let smoke = step(&report, DrillStepKind::SmokeChecks);
    assert_eq!(smoke.status, StepStatus::Failed);
    assert!(smoke.checks[0].passed, "{:?}", smoke.checks[0]);
    assert_eq!(smoke.checks[0].actual, "1 row; value 50");
    assert!(!smoke.checks[1].passed);
    assert!(
        smoke.summary.contains("SELECT id FROM sales.orders WHERE id > 1000"),
        "{}",
        smoke.summary
    );
    assert!(smoke.summary.contains("gave no rows"), "{}", smoke.summary);
    assert_eq!(step(&report, DrillStepKind::Compare).status, StepStatus::Passed);
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());

    // A smoke check cannot change the scratch database: it runs read-only.
    let writer = SmokeCheck {
        label: "writes".into(),
        sql: "DELETE FROM sales.orders".into(),
        expect: Expectation::NoRows,
    };
    let escaper = SmokeCheck {
        label: "leaves the transaction".into(),
        sql: "COMMIT; DELETE FROM sales.orders".into(),
        expect: Expectation::NoRows,
    };
    let mut request = on_prod(&manifest);
    request.smoke_checks = Some(vec![writer, escaper]);
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    let smoke = step(&report, DrillStepKind::SmokeChecks);
    assert!(smoke.checks[0].actual.contains("read-only"), "{:?}", smoke.checks[0]);
    assert!(smoke.checks[1].actual.contains("one SELECT"), "{:?}", smoke.checks[1]);
}

/// Cancels once the restore has created the scratch database and starts filling it.
struct CancelOnRestore {
    cancel: CancellationToken,
    created: std::sync::Mutex<Option<bool>>,
    major: u32,
    db: String,
}

impl ProgressSink for CancelOnRestore {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::Step { done: 0, .. } = event
            && !self.cancel.is_cancelled()
        {
            // Seen from another connection: the scratch database exists at this point.
            let (major, db) = (self.major, self.db.clone());
            let exists = std::thread::spawn(move || {
                let server = PgServer::shared(major);
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(async { !scratch_databases(&server, &db).await.is_empty() })
            })
            .join()
            .unwrap();
            *self.created.lock().unwrap() = Some(exists);
            self.cancel.cancel();
        }
    }
}

#[tokio::test]
async fn a_cancelled_drill_leaves_no_scratch_database_and_records_nothing() {
    let fx = fixture(18, "drill_cancel").await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    let cancel = CancellationToken::new();
    let sink = CancelOnRestore {
        cancel: cancel.clone(),
        created: std::sync::Mutex::new(None),
        major: 18,
        db: fx.db.clone(),
    };
    let mut request = on_prod(&manifest);
    request.keep = true;
    let error = drill(&fx.home.ctx, request, &sink, &cancel).await.unwrap_err();
    assert!(matches!(error, Error::Cancelled), "{error}");
    assert_eq!(*sink.created.lock().unwrap(), Some(true), "cancelled after the creation");
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
    assert_eq!(test_status(&fx).await, "untested");

    // A profile that does not exist is a mistake of the request, not a failed backup.
    let mut wrong = on_prod(&manifest);
    wrong.target = DrillTarget::Profile { name: "nope".into() };
    let error = drill(&fx.home.ctx, wrong, &NullSink, &CancellationToken::new()).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ProfileNotFound);
}

#[tokio::test]
async fn keep_leaves_the_scratch_database_to_look_at() {
    let fx = fixture(14, "drill_keep").await;
    let manifest = make_backup(&fx, BackupFormat::Tar).await;
    let mut request = on_prod(&manifest);
    request.keep = true;
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{:?}", report.failure);
    assert!(report.kept);
    let scratch = report.scratch_database.unwrap();
    assert_eq!(scratch_databases(&fx.server, &fx.db).await, std::slice::from_ref(&scratch));
    let rows: i64 = fx
        .server
        .client(&scratch)
        .await
        .query_one("SELECT count(*) FROM sales.orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 321);
}

#[tokio::test]
async fn an_archive_newer_than_the_bundled_tools_is_an_error_not_a_failed_backup() {
    let fx = fixture(18, "drill_future").await;
    let manifest = make_backup(&fx, BackupFormat::Custom).await;
    let dump = dump_file(&fx);
    std::fs::remove_file(&manifest).unwrap();
    // "PGDMP", then the archive version: major, minor, revision. 1.99 does not exist yet.
    let mut bytes = std::fs::read(&dump).unwrap();
    assert_eq!(&bytes[..5], b"PGDMP");
    bytes[6] = 99;
    std::fs::write(&dump, bytes).unwrap();
    let error = drill(&fx.home.ctx, on_prod(&dump), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::ArchiveTooNew, "{error}");
    assert!(scratch_databases(&fx.server, &fx.db).await.is_empty());
    assert_eq!(test_status(&fx).await, "untested");
}

#[tokio::test]
async fn one_schema_of_a_schema_wise_backup_is_tested_against_its_own_tables() {
    let fx = fixture(17, "drill_schemawise").await;
    fx.server
        .client(&fx.db)
        .await
        .batch_execute("CREATE TABLE public.notes (id int); INSERT INTO public.notes VALUES (1)")
        .await
        .unwrap();
    let mut input = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    input.per_schema = true;
    let made = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let mut request = on_prod(Path::new(&made.manifest_path));
    // The manifest names two files: without a schema the drill cannot choose.
    let error = drill(&fx.home.ctx, request.clone(), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--schema"), "{error}");
    request.schema = Some("sales".into());
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{:?}", report.failure);
    let compare = step(&report, DrillStepKind::Compare);
    assert!(compare.checks.iter().any(|c| c.name == "table sales.orders"));
    assert!(!compare.checks.iter().any(|c| c.name.contains("public.notes")), "{compare:?}");
}
