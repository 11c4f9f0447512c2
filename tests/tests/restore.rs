//! Restores against real servers: backups made by `backup::backup` (or pg_dump through the
//! runner) restored across majors (14→18 straight, 18→14 through psql, 16→16 in parallel), into
//! new databases with dated names and suffixes and into existing empty ones; and the refusals
//! and faults that must leave nothing behind (non-empty target, truncated archive, failing SQL,
//! a JPEG, a flipped byte, a cancel).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lifeboat_engine::base::progress::{NullSink, ProgressEvent, ProgressSink, Recorder};
use lifeboat_engine::base::tools::Tool;
use lifeboat_engine::format::archive::{self, pg_restore_reads};
use lifeboat_engine::format::manifest::Manifest;
use lifeboat_engine::ops::backup::{BackupFormat, StartBackup, backup};
use lifeboat_engine::ops::restore::{
    FindingCode, MethodKind, RestoreOutcome, RestorePlan, RestoreRequest, Severity, preflight,
    restore,
};
use lifeboat_engine::pg::runner::{self, StdoutTo, ToolCommand};
use lifeboat_engine::storage::profiles::{AddProfile, add_profile};
use lifeboat_engine::{Error, ErrorCode};
use lifeboat_system_tests::home::{
    TestHome, add_server_profile, backup_request, server_settings, test_home,
};
use lifeboat_system_tests::{PgServer, processes_with_cmdline, quote_ident, toolbox};
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE SCHEMA sales;
    CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sales.customers(id), total numeric);
    CREATE TABLE public."Odd ""Table"" ü" (k text PRIMARY KEY);
    INSERT INTO sales.customers (name) SELECT 'c' || g FROM generate_series(1, 120) g;
    INSERT INTO sales.orders (customer_id, total) SELECT 1 + g % 120, g FROM generate_series(1, 777) g;
    INSERT INTO public."Odd ""Table"" ü" VALUES ('x'), ('y'), ('SET transaction_timeout = 0;');
    CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 500;
    CREATE FUNCTION sales.tax(numeric) RETURNS numeric LANGUAGE sql AS $$
    SELECT $1 * 0.2
    $$;
    COMMENT ON TABLE sales.orders IS 'it''s -- Name: fake; Type: ACL';
"#;

/// A Lifeboat context with one profile per server, named "pg<major>".
struct Fixture {
    home: TestHome,
    out: tempfile::TempDir,
}

impl std::ops::Deref for Fixture {
    type Target = TestHome;
    fn deref(&self) -> &TestHome {
        &self.home
    }
}

async fn fixture(servers: &[&PgServer]) -> Fixture {
    let home = test_home();
    for server in servers {
        add_server_profile(&home.ctx, &format!("pg{}", server.major), server).await;
    }
    Fixture { home, out: tempfile::tempdir().unwrap() }
}

async fn database_with_data(server: &PgServer, prefix: &str) -> String {
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(DATA).await.unwrap();
    db
}

/// Backs `db` up from the fixture's profile for `server` and returns the main file and manifest.
async fn make_backup(
    fx: &Fixture,
    server: &PgServer,
    db: &str,
    format: BackupFormat,
) -> (PathBuf, Manifest) {
    let outcome = backup_to_out(fx, server, db, format, |_| {}).await;
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
    let first = manifest.files[0].name.split('/').next().unwrap().to_owned();
    (fx.out.path().join(first), manifest)
}

/// Backs `db` up from the fixture's profile for `server` into the fixture's folder; `adjust`
/// changes the request (one file per schema, globals …).
async fn backup_to_out(
    fx: &Fixture,
    server: &PgServer,
    db: &str,
    format: BackupFormat,
    adjust: impl FnOnce(&mut StartBackup),
) -> lifeboat_engine::ops::backup::BackupOutcome {
    let mut input = backup_request(&format!("pg{}", server.major), db, fx.out.path(), format);
    adjust(&mut input);
    backup(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap()
}

fn request(source: &Path, profile: &str) -> RestoreRequest {
    RestoreRequest {
        source: source.display().to_string(),
        profile: profile.into(),
        ..RestoreRequest::default()
    }
}

/// Every table of the manifest has its recorded row count in `db`, and every sequence its value.
async fn assert_matches_manifest(server: &PgServer, db: &str, manifest: &Manifest) {
    let client = server.client(db).await;
    assert!(!manifest.tables.is_empty());
    for table in &manifest.tables {
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.table)
        );
        let count: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(Some(count), table.rows, "{}.{} in {db}", table.schema, table.table);
    }
    for sequence in &manifest.sequences {
        let row = client
            .query_one(
                "SELECT last_value FROM pg_sequences WHERE schemaname = $1 AND sequencename = $2",
                &[&sequence.schema, &sequence.name],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, Option<i64>>(0), sequence.last_value, "{}", sequence.name);
    }
    let views: i64 = client
        .query_one("SELECT count(*) FROM pg_views WHERE schemaname = 'sales'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(views, manifest.object_counts["views"]);
}

async fn databases(server: &PgServer) -> Vec<String> {
    let client = server.client("postgres").await;
    let mut names: Vec<String> = client
        .query("SELECT datname::text FROM pg_database ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    names.sort();
    names
}

/// Databases on the (shared) server restored from `db`: `<db>_restored…`. Other tests run on
/// the same server at the same time, so only these are compared.
async fn restored_from(server: &PgServer, db: &str) -> Vec<String> {
    let prefix = format!("{db}_restored");
    databases(server).await.into_iter().filter(|n| n.starts_with(&prefix)).collect()
}

fn dated(db: &str) -> String {
    format!("{db}_restored_{}", chrono_today())
}

fn chrono_today() -> String {
    let out = std::process::Command::new("date").arg("+%Y%m%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn codes(plan: &RestorePlan) -> Vec<FindingCode> {
    plan.findings.iter().map(|f| f.code).collect()
}

/// No diagnostic line of any tool reported an error (nothing was ignored on the way).
fn assert_no_error_lines(recorder: &Recorder) {
    for event in recorder.events() {
        if let ProgressEvent::ToolOutput { line, .. } = event {
            assert!(!line.contains("ERROR") && !line.contains("error:"), "{line}");
        }
    }
}

/// The last progress step reached the total.
fn assert_progress_completed(recorder: &Recorder, outcome: &RestoreOutcome) {
    let steps: Vec<(u64, u64)> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Step { done, total, .. } => Some((done, total)),
            _ => None,
        })
        .collect();
    assert!(steps.len() > 2, "{steps:?}");
    assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic: {steps:?}");
    let total = outcome.restored_entries + outcome.skipped_entries;
    assert_eq!(steps.last(), Some(&(total, total)));
}

#[tokio::test]
async fn the_archive_version_table_matches_the_bundled_tools() {
    let server = PgServer::shared(14);
    let db = database_with_data(&server, "versions").await;
    let out = tempfile::tempdir().unwrap();
    let tools = toolbox();
    let cancel = CancellationToken::new();
    for dumper in tools.majors() {
        let file = out.path().join(format!("by{}.backup", dumper.major));
        let dump = ToolCommand::new(dumper, Tool::PgDump)
            .unwrap()
            .args(["--format=custom", "--no-password"])
            .conn(server.target(&db))
            .stdout(StdoutTo::File(file.clone()));
        runner::run(dump, &NullSink, &cancel).await.unwrap();
        let version = archive::detect(&file).unwrap().archive_version.unwrap();
        for reader in tools.majors() {
            let list = ToolCommand::new(reader, Tool::PgRestore)
                .unwrap()
                .arg("--list")
                .arg(&file)
                .stdout(StdoutTo::Capture);
            let reads = runner::run(list, &NullSink, &cancel).await.is_ok();
            assert_eq!(
                pg_restore_reads(reader.major, version),
                reads,
                "pg_restore {} reading archive {version} written by pg_dump {}",
                reader.major,
                dumper.major
            );
        }
    }
}

#[tokio::test]
async fn a_14_backup_restores_into_18_with_pg_restore_18() {
    let (source, target) = (PgServer::shared(14), PgServer::shared(18));
    let db = database_with_data(&source, "up").await;
    let fx = fixture(&[&source, &target]).await;
    let (file, manifest) = make_backup(&fx, &source, &db, BackupFormat::Custom).await;
    let plan = preflight(&fx.ctx, request(&file, "pg18")).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    assert_eq!(plan.method.kind, MethodKind::PgRestore);
    assert_eq!(plan.method.reader_major, Some(18));
    assert_eq!(plan.archive_version.as_deref(), Some("1.14"));
    assert_eq!(plan.database, dated(&db));
    assert!(plan.create_database && plan.summary.starts_with("Creates database"));
    assert!(codes(&plan).contains(&FindingCode::ChecksumsVerified));
    assert!(!databases(&target).await.contains(&plan.database), "pre-flight changes nothing");
    // The server runs here: its disk's free space is compared with the database's size.
    let disk = plan.findings.iter().find(|f| f.code == FindingCode::DiskSpace).unwrap();
    assert_eq!(disk.severity, Severity::Info, "{}", disk.message);
    assert!(disk.message.contains(" free") && !disk.message.contains("about 0 B"), "{disk:?}");
    assert!(manifest.database_bytes.is_some_and(|b| b > 0));

    let recorder = Recorder::default();
    let outcome = restore(&fx.ctx, request(&file, "pg18"), &recorder, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.database, dated(&db));
    assert!(outcome.created);
    assert_eq!(outcome.tool_versions.len(), 1);
    assert!(outcome.tool_versions[0].starts_with("pg_restore (PostgreSQL) 18."));
    assert_eq!(outcome.entry_counts["TABLE"], 3);
    assert_eq!(outcome.entry_counts["TABLE DATA"], 3);
    assert_matches_manifest(&target, &outcome.database, &manifest).await;
    assert_no_error_lines(&recorder);
    assert_progress_completed(&recorder, &outcome);
}

#[tokio::test]
async fn an_18_backup_restores_into_14_through_psql_without_ignored_errors() {
    let (source, target) = (PgServer::shared(18), PgServer::shared(14));
    let db = database_with_data(&source, "down").await;
    let fx = fixture(&[&source, &target]).await;
    for format in [BackupFormat::Custom, BackupFormat::Plain] {
        let (file, manifest) = make_backup(&fx, &source, &db, format).await;
        let plan = preflight(&fx.ctx, request(&file, "pg14")).await.unwrap();
        assert!(!plan.blocked, "{:?}", plan.findings);
        let expected_kind =
            if format == BackupFormat::Plain { MethodKind::Psql } else { MethodKind::Pipeline };
        assert_eq!(plan.method.kind, expected_kind, "{format:?}");
        assert_eq!(plan.method.psql_major, Some(14));
        if format == BackupFormat::Custom {
            // pg_restore 14 cannot read archive 1.16; 17 is the oldest that can.
            assert_eq!(plan.method.reader_major, Some(17));
        }
        assert_eq!(plan.method.dropped_settings, ["transaction_timeout"]);
        assert!(codes(&plan).contains(&FindingCode::SettingsDropped));
        assert!(codes(&plan).contains(&FindingCode::NewerSource));

        let recorder = Recorder::default();
        let outcome =
            restore(&fx.ctx, request(&file, "pg14"), &recorder, &CancellationToken::new())
                .await
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_matches_manifest(&target, &outcome.database, &manifest).await;
        assert_no_error_lines(&recorder);
        assert_progress_completed(&recorder, &outcome);
        let finished: Vec<(Tool, Option<i32>)> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::ToolFinished { tool, exit_code } => Some((tool, exit_code)),
                _ => None,
            })
            .filter(|(tool, _)| matches!(tool, Tool::Psql | Tool::PgRestore))
            .collect();
        assert!(finished.iter().all(|(_, code)| *code == Some(0)), "{finished:?}");
        // The text that looks like a SET inside the table data arrived unchanged.
        let kept: i64 = target
            .client(&outcome.database)
            .await
            .query_one(
                "SELECT count(*) FROM public.\"Odd \"\"Table\"\" ü\" \
                 WHERE k = 'SET transaction_timeout = 0;'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(kept, 1);
    }
}

#[tokio::test]
async fn a_16_directory_backup_restores_into_16_with_dated_names_and_suffixes() {
    let server = PgServer::shared(16);
    let db = database_with_data(&server, "same").await;
    let fx = fixture(&[&server]).await;
    let (folder, manifest) = make_backup(&fx, &server, &db, BackupFormat::Directory).await;
    let mut input = request(&folder, "pg16");
    input.jobs = Some(2);
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert_eq!(plan.method.kind, MethodKind::PgRestore);
    assert_eq!((plan.method.reader_major, plan.method.jobs), (Some(16), 2));
    assert!(plan.verified_files > 1, "every file of the folder is checked");
    let first =
        restore(&fx.ctx, input.clone(), &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(first.database, dated(&db));
    let second = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(second.database, format!("{}_2", dated(&db)));
    for restored in [&first.database, &second.database] {
        assert_matches_manifest(&server, restored, &manifest).await;
    }
    // The manifest itself names the backup too.
    let manifest_path = fx.out.path().join(format!(
        "{}{}",
        folder.file_name().unwrap().to_string_lossy(),
        lifeboat_engine::format::manifest::MANIFEST_SUFFIX
    ));
    let plan = preflight(&fx.ctx, request(&manifest_path, "pg16")).await.unwrap();
    assert_eq!(plan.source, folder.display().to_string());
    assert_eq!(plan.database, format!("{}_3", dated(&db)));
}

#[tokio::test]
async fn restores_into_an_existing_empty_database() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "into").await;
    let fx = fixture(&[&server]).await;
    let (file, manifest) = make_backup(&fx, &server, &db, BackupFormat::Tar).await;
    let empty = server.create_database("empty_target").await;
    let mut input = request(&file, "pg18");
    input.target_database = Some(empty.clone());
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(!plan.create_database && !plan.blocked, "{:?}", plan.findings);
    assert!(plan.method.single_transaction);
    assert!(plan.summary.contains("empty database"), "{}", plan.summary);
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.database, empty);
    assert!(!outcome.created);
    assert!(restored_from(&server, &db).await.is_empty(), "no database was created");
    assert_matches_manifest(&server, &empty, &manifest).await;
}

#[tokio::test]
async fn a_non_empty_database_is_refused_and_nothing_changes() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "busy").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    let occupied = server.create_database("occupied").await;
    server
        .client(&occupied)
        .await
        .batch_execute("CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42)")
        .await
        .unwrap();
    let mut input = request(&file, "pg18");
    input.target_database = Some(occupied.clone());
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(plan.blocked);
    let blocker = plan.findings.iter().find(|f| f.severity == Severity::Blocker).unwrap();
    assert_eq!(blocker.code, FindingCode::TargetNotEmpty);
    assert!(blocker.message.contains(&occupied) && blocker.fix.is_some());
    assert!(plan.summary.starts_with("Cannot restore"), "{}", plan.summary);
    let error = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::RestoreBlocked);
    assert!(error.to_string().contains("not empty"), "{error}");
    assert!(restored_from(&server, &db).await.is_empty());
    let client = server.client(&occupied).await;
    let tables: i64 = client
        .query_one("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
    let kept: i32 = client.query_one("SELECT x FROM keep_me", &[]).await.unwrap().get(0);
    assert_eq!(kept, 42);
}

#[tokio::test]
async fn tables_owned_by_a_role_missing_on_the_target_restore_without_owners() {
    let (source, target) = (PgServer::shared(16), PgServer::shared(18));
    let pid = std::process::id();
    let (owner, reader) = (format!("Shop Owner {pid}"), format!("reporting_{pid}"));
    source.create_role(&owner, None, "").await;
    source.create_role(&reader, None, "").await;
    let db = database_with_data(&source, "owned").await;
    source
        .client(&db)
        .await
        .batch_execute(&format!(
            "ALTER TABLE sales.orders OWNER TO {o}; ALTER TABLE sales.customers OWNER TO {o}; \
             GRANT SELECT ON sales.customers TO {r};",
            o = quote_ident(&owner),
            r = quote_ident(&reader)
        ))
        .await
        .unwrap();
    let fx = fixture(&[&source, &target]).await;
    for format in [BackupFormat::Custom, BackupFormat::Plain] {
        let (file, manifest) = make_backup(&fx, &source, &db, format).await;
        let plan = preflight(&fx.ctx, request(&file, "pg18")).await.unwrap();
        assert!(!plan.blocked, "{:?}", plan.findings);
        assert!(plan.no_owner);
        assert_eq!(plan.owned_by.as_deref(), Some("postgres"));
        let missing = plan.findings.iter().find(|f| f.code == FindingCode::RolesMissing).unwrap();
        assert_eq!(missing.severity, Severity::Warning);
        assert!(missing.message.contains(&owner) && missing.message.contains(&reader));
        assert!(missing.fix.as_deref().unwrap().contains("--no-owner"));
        assert!(codes(&plan).contains(&FindingCode::GrantsSkipped));
        assert!(plan.summary.contains("owned by postgres"), "{}", plan.summary);

        let outcome =
            restore(&fx.ctx, request(&file, "pg18"), &NullSink, &CancellationToken::new())
                .await
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(outcome.skipped_entries, 1);
        assert_matches_manifest(&target, &outcome.database, &manifest).await;
        let owners: Vec<String> = target
            .client(&outcome.database)
            .await
            .query(
                "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'sales'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners, ["postgres"]);
    }

    // With a role of the target's own chosen, that role owns everything.
    let app = format!("app_{pid}");
    target.create_role(&app, None, "").await;
    let (file, _) = make_backup(&fx, &source, &db, BackupFormat::Custom).await;
    let mut input = request(&file, "pg18");
    input.owner_role = Some(app.clone());
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let owners: Vec<String> = target
        .client(&outcome.database)
        .await
        .query("SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'sales'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, [app]);
    let mut missing_role = request(&file, "pg18");
    missing_role.owner_role = Some(format!("nobody_{pid}"));
    let plan = preflight(&fx.ctx, missing_role).await.unwrap();
    assert!(plan.blocked && codes(&plan).contains(&FindingCode::OwnerRoleMissing));
}

#[tokio::test]
async fn a_truncated_archive_fails_in_preflight_and_leaves_no_database() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "cut").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    let bytes = std::fs::read(&file).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let half = elsewhere.path().join("half.backup");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let error = preflight(&fx.ctx, request(&half, "pg18")).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ArchiveDamaged, "{error}");
    let message = error.to_string();
    assert!(message.contains("half.backup") && message.contains("end of file"), "{message}");
    let error =
        restore(&fx.ctx, request(&half, "pg18"), &NullSink, &CancellationToken::new()).await;
    assert_eq!(error.unwrap_err().code(), ErrorCode::ArchiveDamaged);
    assert!(restored_from(&server, &db).await.is_empty());
    assert!(restored_from(&server, "half").await.is_empty());
}

/// A copy of the plain dump `file` of `db` (without its manifest, in a folder of its own) with a
/// failing statement in the middle.
fn broken_copy(file: &Path, db: &str) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let broken = folder.path().join(format!("{db}.sql"));
    std::fs::write(&broken, with_error_in_the_middle(&std::fs::read_to_string(file).unwrap()))
        .unwrap();
    (folder, broken)
}

/// A copy of a plain dump with a failing statement between two entries in the middle.
fn with_error_in_the_middle(sql: &str) -> String {
    let lines: Vec<&str> = sql.split_inclusive('\n').collect();
    let headers: Vec<usize> =
        (0..lines.len()).filter(|i| lines[*i].starts_with("-- Name: ")).collect();
    let at = headers[headers.len() / 2] - 1; // before the "--" that opens the header
    let mut out: String = lines[..at].concat();
    out.push_str("INSERT INTO no_such_table VALUES (1);\n\n");
    out.push_str(&lines[at..].concat());
    out
}

#[tokio::test]
async fn a_plain_sql_file_failing_mid_way_leaves_no_new_database() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "broken").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Plain).await;
    let (_elsewhere, broken) = broken_copy(&file, &db);
    let plan = preflight(&fx.ctx, request(&broken, "pg18")).await.unwrap();
    assert_eq!(plan.database, dated(&db));
    assert!(!plan.blocked && codes(&plan).contains(&FindingCode::NoManifest));
    let error = restore(&fx.ctx, request(&broken, "pg18"), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ToolFailed { tool: Tool::Psql, .. }), "{error}");
    assert!(error.to_string().contains("no_such_table"), "{error}");
    assert!(restored_from(&server, &db).await.is_empty(), "the new database was dropped");

    // Into an existing empty database the failure rolls everything back.
    let empty = server.create_database("stays_empty").await;
    let mut input = request(&broken, "pg18");
    input.target_database = Some(empty.clone());
    let error = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap_err();
    assert!(error.to_string().contains("no_such_table"), "{error}");
    assert!(databases(&server).await.contains(&empty), "an existing database is never dropped");
    let objects: i64 = server
        .client(&empty)
        .await
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(objects, 0);
}

#[tokio::test]
async fn a_jpeg_is_not_a_backup() {
    let server = PgServer::shared(18);
    let fx = fixture(&[&server]).await;
    let photo = fx.out.path().join("photo.backup");
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    bytes.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    std::fs::write(&photo, bytes).unwrap();
    let error = preflight(&fx.ctx, request(&photo, "pg18")).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::NotABackup);
    assert!(error.to_string().contains("photo.backup"), "{error}");
    assert!(error.to_string().contains("JPEG"), "{error}");
    assert!(!error.hint().is_empty());
}

#[tokio::test]
async fn a_flipped_byte_is_caught_before_any_server_is_contacted() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "flip").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    // A profile whose server does not exist: the checksum fails first, so it is never tried.
    let dead_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut dead = server_settings("dead", &server);
    dead.port = dead_port;
    add_profile(&fx.ctx, AddProfile { settings: dead, password: None }).await.unwrap();
    let error = preflight(&fx.ctx, request(&file, "dead")).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ChecksumMismatch, "{error}");
    assert!(error.to_string().contains(&file.file_name().unwrap().to_string_lossy().into_owned()));
    let error =
        restore(&fx.ctx, request(&file, "pg18"), &NullSink, &CancellationToken::new()).await;
    assert_eq!(error.unwrap_err().code(), ErrorCode::ChecksumMismatch);
    assert!(restored_from(&server, &db).await.is_empty());
}

/// Tells the test when pg_restore starts loading `public.big`.
struct MidWay(tokio::sync::mpsc::UnboundedSender<()>);

impl ProgressSink for MidWay {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event
            && line.contains("processing data for table \"public.big\"")
        {
            let _ = self.0.send(());
        }
    }
}

/// The pg_restore processes writing into `db` (found by the database in their arguments).
fn pg_restores_of(db: &str) -> Vec<u32> {
    processes_with_cmdline(&format!("dbname='{db}'"))
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "pg_restore")
        })
        .collect()
}

async fn database_with_a_big_table(server: &PgServer, prefix: &str) -> String {
    let db = database_with_data(server, prefix).await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE public.big (id int, noise text); \
             INSERT INTO public.big SELECT g, md5(g::text) || md5((g * 7)::text) \
             FROM generate_series(1, 400000) g;",
        )
        .await
        .unwrap();
    db
}

/// Runs `input` and cancels it once pg_restore starts loading `public.big`; `while_loading`
/// runs at that moment, before the cancel.
async fn cancel_mid_way<F: std::future::Future<Output = ()>>(
    fx: &Fixture,
    input: RestoreRequest,
    while_loading: impl FnOnce() -> F,
) -> Result<RestoreOutcome, Error> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = MidWay(tx);
    let cancel = CancellationToken::new();
    let running = restore(&fx.ctx, input, &sink, &cancel);
    let trigger = async {
        rx.recv().await.expect("pg_restore reached the big table");
        while_loading().await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(running, trigger);
    result
}

#[tokio::test]
async fn cancelling_mid_way_drops_the_new_database() {
    let server = PgServer::shared(18);
    let db = database_with_a_big_table(&server, "stop").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    let result = cancel_mid_way(&fx, request(&file, "pg18"), || async {
        assert_eq!(restored_from(&server, &db).await, [dated(&db)], "it exists while loading");
    })
    .await;
    assert_eq!(result.unwrap_err().code(), ErrorCode::Cancelled);
    assert!(restored_from(&server, &db).await.is_empty(), "the new database was dropped");
    assert!(pg_restores_of(&dated(&db)).is_empty(), "pg_restore is gone");
}

#[tokio::test]
async fn cancelling_the_psql_pipeline_leaves_an_existing_database_empty() {
    let (source, target) = (PgServer::shared(18), PgServer::shared(14));
    let db = database_with_a_big_table(&source, "stop_pipe").await;
    let fx = fixture(&[&source, &target]).await;
    let (file, _) = make_backup(&fx, &source, &db, BackupFormat::Custom).await;
    let empty = target.create_database("stays_empty_on_cancel").await;
    let mut input = request(&file, "pg14");
    input.target_database = Some(empty.clone());
    let result = cancel_mid_way(&fx, input, || async {}).await;
    assert_eq!(result.unwrap_err().code(), ErrorCode::Cancelled);
    let client = target.client(&empty).await;
    let objects: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(objects, 0, "the one transaction was rolled back, never committed");
    assert!(restored_from(&target, &db).await.is_empty());
}

#[tokio::test]
async fn findings_name_extensions_the_target_cannot_provide() {
    // A plain dump that needs an extension no server has: a blocker, and nothing is created.
    let server = PgServer::shared(14);
    let fx = fixture(&[&server]).await;
    let sql = "--\n-- PostgreSQL database dump\n--\n\n\
               SET client_encoding = 'UTF8';\n\n\
               --\n-- Name: warp_drive; Type: EXTENSION; Schema: -; Owner: -\n--\n\n\
               CREATE EXTENSION IF NOT EXISTS warp_drive WITH SCHEMA public;\n\n\
               --\n-- PostgreSQL database dump complete\n--\n\n";
    let file = fx.out.path().join("needs-extension.sql");
    std::fs::write(&file, sql).unwrap();
    let plan = preflight(&fx.ctx, request(&file, "pg14")).await.unwrap();
    assert!(plan.blocked);
    let finding =
        plan.findings.iter().find(|f| f.code == FindingCode::ExtensionUnavailable).unwrap();
    assert!(finding.message.contains("warp_drive"));
    assert_eq!(plan.database, "needs-extension_restored_".to_owned() + &chrono_today());
    let error = restore(&fx.ctx, request(&file, "pg14"), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::RestoreBlocked);
    assert!(restored_from(&server, "needs-extension").await.is_empty());
    let counts: BTreeMap<String, u64> = plan.entry_counts;
    assert_eq!(counts["EXTENSION"], 1);
}

/// Databases on the server named `<db>_before_…` (the kept old versions of a replace).
async fn kept_versions(server: &PgServer, db: &str) -> Vec<String> {
    let prefix = format!("{db}_before_");
    databases(server).await.into_iter().filter(|n| n.starts_with(&prefix)).collect()
}

/// Marks `db` as the old version: a table the backup does not have, and one more customer.
async fn mark_as_old(server: &PgServer, db: &str) {
    server
        .client(db)
        .await
        .batch_execute(
            "CREATE TABLE old_marker (x int); INSERT INTO old_marker VALUES (7); \
             INSERT INTO sales.customers (name) VALUES ('only in the old one')",
        )
        .await
        .unwrap();
}

async fn assert_is_old(server: &PgServer, db: &str) {
    let client = server.client(db).await;
    let marker: i32 = client.query_one("SELECT x FROM old_marker", &[]).await.unwrap().get(0);
    assert_eq!(marker, 7);
    let customers: i64 =
        client.query_one("SELECT count(*) FROM sales.customers", &[]).await.unwrap().get(0);
    assert_eq!(customers, 121, "the old rows of {db}");
}

fn replacing(file: &Path, db: &str) -> RestoreRequest {
    let mut input = request(file, "pg18");
    input.replace = Some(db.to_owned());
    input
}

#[tokio::test]
async fn replace_keeps_the_old_database_under_a_before_name() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "repl").await;
    let fx = fixture(&[&server]).await;
    let (file, manifest) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    mark_as_old(&server, &db).await;

    let plan = preflight(&fx.ctx, replacing(&file, &db)).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    assert!(plan.create_database);
    assert_eq!(plan.replace.as_deref(), Some(db.as_str()));
    let kept = plan.kept_as.clone().unwrap();
    assert!(kept.starts_with(&format!("{db}_before_{}-", chrono_today())), "{kept}");
    assert_ne!(plan.database, db);
    assert!(
        plan.summary.contains(&format!("renames {db} to {kept} and {} to {db}", plan.database))
            && plan.summary.contains("nothing is dropped"),
        "{}",
        plan.summary
    );
    assert!(kept_versions(&server, &db).await.is_empty(), "pre-flight changes nothing");

    let outcome = restore(&fx.ctx, replacing(&file, &db), &NullSink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.database, db);
    let kept = outcome.kept_as.clone().unwrap();
    assert!(kept.starts_with(&format!("{db}_before_{}-", chrono_today())), "{kept}");
    assert_eq!(kept_versions(&server, &db).await, vec![kept.clone()]);
    assert!(restored_from(&server, &db).await.is_empty(), "no temporary database is left");
    assert_is_old(&server, &kept).await;
    assert_matches_manifest(&server, &db, &manifest).await;
    let marker: i64 = server
        .client(&db)
        .await
        .query_one("SELECT count(*) FROM pg_tables WHERE tablename = 'old_marker'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(marker, 0, "the new {db} holds only the backup");
}

#[tokio::test]
async fn replace_is_refused_while_connected_and_ends_the_sessions_when_asked() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "inuse").await;
    let fx = fixture(&[&server]).await;
    let (file, manifest) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    mark_as_old(&server, &db).await;
    let open = server.client(&db).await;
    open.batch_execute("SET application_name = 'the_report_tool'").await.unwrap();

    let plan = preflight(&fx.ctx, replacing(&file, &db)).await.unwrap();
    assert!(plan.blocked);
    let in_use = plan.findings.iter().find(|f| f.code == FindingCode::DatabaseInUse).unwrap();
    assert_eq!(in_use.severity, Severity::Blocker);
    assert!(in_use.message.contains("1 session") && in_use.message.contains("the_report_tool"));
    assert!(in_use.fix.as_deref().unwrap().contains("--terminate-connections"));
    let error = restore(&fx.ctx, replacing(&file, &db), &NullSink, &CancellationToken::new()).await;
    let error = error.unwrap_err();
    assert_eq!(error.code(), ErrorCode::RestoreBlocked, "{error}");
    assert!(kept_versions(&server, &db).await.is_empty());
    assert!(restored_from(&server, &db).await.is_empty());
    assert_is_old(&server, &db).await;
    open.query_one("SELECT 1", &[]).await.expect("the session was left alone");

    let mut input = replacing(&file, &db);
    input.terminate_connections = true;
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    let in_use = plan.findings.iter().find(|f| f.code == FindingCode::DatabaseInUse).unwrap();
    assert_eq!(in_use.severity, Severity::Warning);
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let kept = outcome.kept_as.unwrap();
    assert!(open.query_one("SELECT 1", &[]).await.is_err(), "the session was ended");
    assert_is_old(&server, &kept).await;
    assert_matches_manifest(&server, &db, &manifest).await;
    assert!(restored_from(&server, &db).await.is_empty());
}

#[tokio::test]
async fn replacing_a_missing_database_is_blocked() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "gone").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    let missing = format!("{db}_nowhere");
    let plan = preflight(&fx.ctx, replacing(&file, &missing)).await.unwrap();
    assert!(plan.blocked);
    assert_eq!(codes(&plan)[0], FindingCode::ReplaceTargetMissing);
    let error = restore(&fx.ctx, replacing(&file, &missing), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::RestoreBlocked);
    assert!(restored_from(&server, &missing).await.is_empty());
    assert!(!databases(&server).await.contains(&missing));

    let mut both = replacing(&file, &db);
    both.target_database = Some("elsewhere".into());
    let error = preflight(&fx.ctx, both).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput, "{error}");
}

#[tokio::test]
async fn a_failing_restore_in_replace_mode_leaves_the_old_database_untouched() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "failrepl").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Plain).await;
    mark_as_old(&server, &db).await;
    let (_elsewhere, broken) = broken_copy(&file, &db);
    let plan = preflight(&fx.ctx, replacing(&broken, &db)).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    let error = restore(&fx.ctx, replacing(&broken, &db), &NullSink, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ToolFailed { tool: Tool::Psql, .. }), "{error}");
    assert!(restored_from(&server, &db).await.is_empty(), "the temporary database was dropped");
    assert!(kept_versions(&server, &db).await.is_empty(), "nothing was renamed");
    assert_is_old(&server, &db).await;
}

/// A schema `audit` that others depend on: a trigger on sales.orders calls its function, a
/// table in public has a column of its type, and a view in public reads its table.
const AUDIT: &str = r#"
    CREATE SCHEMA audit;
    CREATE TABLE audit.log (id serial PRIMARY KEY, tbl text, at timestamptz DEFAULT now());
    CREATE FUNCTION audit.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO audit.log (tbl) VALUES (TG_TABLE_NAME); RETURN NEW; END
    $$;
    CREATE TRIGGER orders_audit AFTER INSERT ON sales.orders
        FOR EACH ROW EXECUTE PROCEDURE audit.log_change();
    CREATE TYPE audit.level AS ENUM ('low', 'high');
    CREATE TABLE public.alerts (id int PRIMARY KEY, level audit.level);
    INSERT INTO public.alerts VALUES (1, 'high');
    CREATE VIEW public.recent_log AS SELECT * FROM audit.log;
"#;

async fn relations(server: &PgServer, db: &str) -> Vec<String> {
    server
        .client(db)
        .await
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn count(server: &PgServer, db: &str, sql: &str) -> i64 {
    server.client(db).await.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_schema_excluded_with_a_trigger_depending_on_it_restores_cleanly() {
    for major in [14, 18] {
        let server = PgServer::shared(major);
        let db = database_with_data(&server, "audited").await;
        server.client(&db).await.batch_execute(AUDIT).await.unwrap();
        let fx = fixture(&[&server]).await;
        let (file, manifest) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;

        // What pg_restore --exclude-schema alone does: the trigger still calls audit.log_change().
        let plain_target = server.create_database("plain_exclude").await;
        let tools = toolbox();
        let bundled = tools.majors().iter().find(|m| m.major == major).unwrap();
        let command = ToolCommand::new(bundled, Tool::PgRestore)
            .unwrap()
            .args(["--exit-on-error", "--exclude-schema=audit"])
            .arg(format!("--dbname={plain_target}"))
            .conn(server.target(&plain_target))
            .arg(file.as_os_str());
        let error = runner::run(command, &NullSink, &CancellationToken::new()).await.unwrap_err();
        assert!(error.to_string().contains("audit"), "{major}: {error}");

        let mut input = request(&file, &format!("pg{major}"));
        input.selection.exclude_schemas = vec!["audit".into()];
        let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
        assert!(!plan.blocked, "{:?}", plan.findings);
        assert!(codes(&plan).contains(&FindingCode::DependentsLeftOut));
        let needs = |name: &str| {
            plan.left_out.iter().find(|l| l.name == name).and_then(|l| l.because.clone())
        };
        assert_eq!(needs("orders orders_audit").as_deref(), Some("FUNCTION audit.log_change()"));
        assert_eq!(needs("alerts").as_deref(), Some("TYPE audit.level"));
        assert_eq!(needs("recent_log").as_deref(), Some("TABLE audit.log"));
        assert!(plan.summary.contains("that need them"), "{}", plan.summary);

        let recorder = Recorder::default();
        let outcome = restore(&fx.ctx, input, &recorder, &CancellationToken::new()).await.unwrap();
        assert_no_error_lines(&recorder);
        assert!(outcome.errors.is_empty());
        assert_progress_completed(&recorder, &outcome);
        let restored = &outcome.database;
        assert_eq!(
            relations(&server, restored).await,
            ["public.Odd \"Table\" ü", "sales.big_orders", "sales.customers", "sales.orders"]
        );
        let orders = manifest.tables.iter().find(|t| t.table == "orders").unwrap().rows.unwrap();
        assert_eq!(count(&server, restored, "SELECT count(*) FROM sales.orders").await, orders);
        let triggers = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal";
        assert_eq!(count(&server, restored, triggers).await, 0);
        let keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'";
        assert_eq!(count(&server, restored, keys).await, 1, "the foreign key in sales stays");
    }
}

#[tokio::test]
async fn a_table_restores_with_its_key_and_sequence_without_the_trigger_of_another_schema() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "one_table").await;
    server.client(&db).await.batch_execute(AUDIT).await.unwrap();
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Directory).await;
    let mut input = request(&file, "pg18");
    input.selection.tables = vec!["sales.orders".into()];
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    let trigger = plan.left_out.iter().find(|l| l.kind == "TRIGGER").unwrap();
    assert_eq!(trigger.because.as_deref(), Some("FUNCTION audit.log_change()"));
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let restored = &outcome.database;
    assert_eq!(relations(&server, restored).await, ["sales.orders"]);
    assert_eq!(count(&server, restored, "SELECT count(*) FROM sales.orders").await, 777);
    // The trigger writes to audit.log, which is not restored: it is left out, so writes work,
    // and the serial sequence goes on from its value.
    let client = server.client(restored).await;
    client.batch_execute("INSERT INTO sales.orders (total) VALUES (1)").await.unwrap();
    let id: i64 = client.query_one("SELECT max(id) FROM sales.orders", &[]).await.unwrap().get(0);
    assert_eq!(id, 778);
    let keys = "SELECT count(*) FROM pg_constraint \
                WHERE contype IN ('p', 'f') AND connamespace = 'sales'::regnamespace";
    assert_eq!(count(&server, restored, keys).await, 1, "the primary key, not the foreign key");

    let mut wrong = request(&file, "pg18");
    wrong.selection.tables = vec!["sales.ordres".into()];
    let error = preflight(&fx.ctx, wrong).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput);
    assert!(error.to_string().contains("sales.ordres"), "{error}");
}

#[tokio::test]
async fn one_schema_of_a_schema_wise_backup_restores_into_another_database() {
    let server = PgServer::shared(16);
    let db = database_with_data(&server, "schemawise").await;
    let fx = fixture(&[&server]).await;
    let backup =
        backup_to_out(&fx, &server, &db, BackupFormat::Custom, |b| b.per_schema = true).await;
    let manifest = Path::new(&backup.manifest_path);

    // The manifest alone names two files; one schema picks its file.
    let error = preflight(&fx.ctx, request(manifest, "pg16")).await.unwrap_err();
    assert!(error.to_string().contains("--schema"), "{error}");
    let other = server.create_database("other_db").await;
    let mut input = request(manifest, "pg16");
    input.selection.schemas = vec!["sales".into()];
    input.target_database = Some(other.clone());
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(plan.source.contains(".sales."), "{}", plan.source);
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.database, other);
    assert_eq!(
        relations(&server, &other).await,
        ["sales.big_orders", "sales.customers", "sales.orders"]
    );
    assert_eq!(count(&server, &other, "SELECT count(*) FROM sales.customers").await, 120);

    let mut missing = request(manifest, "pg16");
    missing.selection.schemas = vec!["nope".into()];
    let error = preflight(&fx.ctx, missing).await.unwrap_err();
    assert!(error.to_string().contains("no file for the schema nope"), "{error}");
}

#[tokio::test]
async fn continuing_on_errors_reports_every_error_and_keeps_the_database() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "goes_on").await;
    let fx = fixture(&[&server]).await;
    let (file, _) = make_backup(&fx, &server, &db, BackupFormat::Plain).await;
    let (_elsewhere, broken) = broken_copy(&file, &db);
    let mut input = request(&broken, "pg18");
    input.continue_on_errors = true;
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(codes(&plan).contains(&FindingCode::ContinueOnErrors));
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    assert!(outcome.errors[0].contains("no_such_table"), "{:?}", outcome.errors);
    // Everything else restored, past the error.
    assert_eq!(count(&server, &outcome.database, "SELECT count(*) FROM sales.orders").await, 777);

    let mut archive = request(&file, "pg18");
    archive.selection.schemas = vec!["sales".into()];
    let error = preflight(&fx.ctx, archive).await.unwrap_err();
    assert!(error.to_string().contains("plain SQL"), "{error}");
}

async fn role_names(server: &PgServer) -> Vec<String> {
    let rows = server
        .client("postgres")
        .await
        .query("SELECT rolname::text FROM pg_roles ORDER BY 1", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn missing_roles_are_created_from_the_saved_globals_keeping_owners_and_grants() {
    // 18 → 14: pg_dumpall 18 writes `GRANT … WITH INHERIT TRUE`, which 14 rejects.
    let (source, target) = (PgServer::shared(18), PgServer::shared(14));
    let pid = std::process::id();
    let owner = format!("Globals Owner {pid}");
    let reader = format!("globals_reader_{pid}");
    let admin = format!("globals_admin_{pid}");
    source.create_role(&owner, None, "CREATEDB CONNECTION LIMIT 7").await;
    source.create_role(&reader, None, "").await;
    source.create_role(&admin, None, "SUPERUSER").await;
    let db = database_with_data(&source, "with_roles").await;
    source
        .client(&db)
        .await
        .batch_execute(&format!(
            "ALTER TABLE sales.orders OWNER TO {o}; GRANT SELECT ON sales.orders TO {r}; \
             GRANT {r} TO {o}; ALTER TABLE sales.customers OWNER TO {a};",
            o = quote_ident(&owner),
            r = quote_ident(&reader),
            a = quote_ident(&admin),
        ))
        .await
        .unwrap();
    let fx = fixture(&[&source, &target]).await;
    let made = backup_to_out(&fx, &source, &db, BackupFormat::Custom, |b| b.globals = true).await;
    let manifest = Path::new(&made.manifest_path);

    // Without the option, the fix offers it.
    let plan = preflight(&fx.ctx, request(manifest, "pg14")).await.unwrap();
    let missing = plan.findings.iter().find(|f| f.code == FindingCode::RolesMissing).unwrap();
    assert!(missing.fix.as_deref().unwrap().contains("--create-roles"), "{missing:?}");
    assert!(plan.no_owner);

    let mut input = request(manifest, "pg14");
    input.create_roles = true;
    let plan = preflight(&fx.ctx, input.clone()).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    assert!(!plan.no_owner, "the owners exist once created");
    let mut expected = vec![admin.clone(), owner.clone(), reader.clone()];
    expected.sort();
    assert_eq!(plan.create_roles, expected);
    let created = plan.findings.iter().find(|f| f.code == FindingCode::RolesCreated).unwrap();
    assert!(
        created.message.contains(&format!("role {admin}: SUPERUSER was not recreated")),
        "{created:?}"
    );
    assert!(
        created.message.contains(&format!("role {owner}: CREATEDB was not recreated")),
        "{created:?}"
    );
    assert!(!role_names(&target).await.contains(&owner), "the pre-flight creates nothing");

    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.created_roles, expected);
    let client = target.client(&outcome.database).await;
    let owner_of = |table: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = $1", &[&table])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(owner_of("orders").await, owner);
    assert_eq!(owner_of("customers").await, admin);
    let can_read: bool = client
        .query_one("SELECT has_table_privilege($1::text, 'sales.orders', 'SELECT')", &[&reader])
        .await
        .unwrap()
        .get(0);
    assert!(can_read, "the grant to the recreated reader was restored");
    let row = client
        .query_one(
            "SELECT r.rolsuper, o.rolcreatedb, o.rolconnlimit, pg_has_role(o.oid, r2.oid, 'MEMBER') \
             FROM pg_roles r, pg_roles o, pg_roles r2 \
             WHERE r.rolname = $1 AND o.rolname = $2 AND r2.rolname = $3",
            &[&admin, &owner, &reader],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0), "no superuser is recreated");
    assert!(!row.get::<_, bool>(1), "CREATEDB is not on the allow-list");
    assert_eq!(row.get::<_, i32>(2), 7);
    assert!(row.get::<_, bool>(3), "the membership was recreated");
}

#[tokio::test]
async fn a_database_sorted_by_another_locale_is_reported() {
    let server = PgServer::shared(17);
    let db = format!("sorted_c_{}", std::process::id());
    server
        .client("postgres")
        .await
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
            quote_ident(&db)
        ))
        .await
        .unwrap();
    server.client(&db).await.batch_execute(DATA).await.unwrap();
    let fx = fixture(&[&server]).await;
    let (file, manifest) = make_backup(&fx, &server, &db, BackupFormat::Custom).await;
    assert_eq!(manifest.collate, "C");
    let plan = preflight(&fx.ctx, request(&file, "pg17")).await.unwrap();
    let locale = plan.findings.iter().find(|f| f.code == FindingCode::LocaleDiffers).unwrap();
    assert_eq!(locale.severity, Severity::Info);
    assert!(locale.message.contains("locale C;"), "{}", locale.message);
    assert!(!plan.blocked);
}

/// pg_dump writes `CREATE SCHEMA public` when the schema is chosen by name; every new database
/// already has it. The restore goes into the existing schema, and so does the drill.
#[tokio::test]
async fn a_backup_of_the_public_schema_restores_and_passes_its_drill() {
    use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
    for major in [14, 18] {
        let server = PgServer::shared(major);
        let fx = fixture(&[&server]).await;
        let profile = format!("pg{major}");
        let db = database_with_data(&server, "public_only").await;
        for format in [BackupFormat::Custom, BackupFormat::Plain] {
            let outcome = backup_to_out(&fx, &server, &db, format, |input| {
                input.scope.schemas = vec!["public".into()];
            })
            .await;
            let manifest: Manifest =
                serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
            let file = fx.out.path().join(&manifest.files[0].name);
            let plan = preflight(&fx.ctx, request(&file, &profile)).await.unwrap();
            assert!(!plan.blocked, "{major} {format:?}: {:?}", plan.findings);
            let restored =
                restore(&fx.ctx, request(&file, &profile), &NullSink, &CancellationToken::new())
                    .await
                    .unwrap_or_else(|e| panic!("{major} {format:?}: {e}"));
            let rows = server
                .query_int(&restored.database, r#"SELECT count(*) FROM public."Odd ""Table"" ü""#)
                .await;
            assert_eq!(rows, 3, "{major} {format:?}");
            let request = DrillRequest {
                source: outcome.manifest_path.clone(),
                target: DrillTarget::Profile { name: profile.clone() },
                ..DrillRequest::default()
            };
            let report =
                drill(&fx.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
            assert!(report.passed, "{major} {format:?}: {:?}", report.failure);
        }
    }
}

/// Errors gone past name the entry they belong to: an 18 backup restored into 14 through psql,
/// where a view calling a function 14 does not have (`any_value`, from 16) fails.
#[tokio::test]
async fn errors_gone_past_name_their_entry() {
    let (source, target) = (PgServer::shared(18), PgServer::shared(14));
    let db = database_with_data(&source, "named_errors").await;
    source
        .client(&db)
        .await
        .batch_execute("CREATE VIEW public.any_name AS SELECT any_value(name) FROM sales.customers")
        .await
        .unwrap();
    let fx = fixture(&[&source, &target]).await;
    let (file, _) = make_backup(&fx, &source, &db, BackupFormat::Custom).await;
    let mut input = request(&file, "pg14");
    input.continue_on_errors = true;
    let outcome = restore(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    // The view, then its owner change: both belong to the view's entry.
    assert!(!outcome.errors.is_empty());
    assert!(
        outcome.errors[0].starts_with("VIEW any_name: ERROR: function any_value"),
        "{:?}",
        outcome.errors
    );
    assert!(
        outcome.errors.iter().all(|e| e.starts_with("VIEW any_name: ")),
        "{:?}",
        outcome.errors
    );
    assert_eq!(count(&target, &outcome.database, "SELECT count(*) FROM sales.orders").await, 777);
}
