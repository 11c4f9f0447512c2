//! Backups against real servers of majors 14 and 18: every format, per-schema, scope filters,
//! manifests checked against the source, checksums checked with sha256sum, odd database names,
//! and faults (cancel, killed pg_dump, stopped server, read-only folder, full disk) that must leave
//! no finished-looking file and never touch earlier backups.

use std::path::{Path, PathBuf};
use std::process::Command;

use lifeboat_engine::base::progress::{NullSink, ProgressEvent, ProgressSink, Recorder};
use lifeboat_engine::format::manifest::Manifest;
use lifeboat_engine::ops::backup::{BackupFormat, BackupOutcome, BackupScope, StartBackup, backup};
use lifeboat_engine::storage::catalog::{BackupStatus, ListBackups, list_backups};
use lifeboat_engine::{Error, ErrorCode};
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use lifeboat_system_tests::{PgServer, processes_with_cmdline, quote_ident, toolbox};
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE SCHEMA sales;
    CREATE SCHEMA audit;
    CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sales.customers(id), total numeric);
    CREATE TABLE audit.log (id serial PRIMARY KEY, message text);
    CREATE TABLE public."Odd ""Table"" ü" (k text PRIMARY KEY);
    INSERT INTO sales.customers (name) SELECT 'c' || g FROM generate_series(1, 120) g;
    INSERT INTO sales.orders (customer_id, total) SELECT 1 + g % 120, g FROM generate_series(1, 777) g;
    INSERT INTO audit.log (message) SELECT 'm' || g FROM generate_series(1, 55) g;
    INSERT INTO public."Odd ""Table"" ü" VALUES ('x'), ('y');
    CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 500;
"#;

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

async fn fixture(server: &PgServer) -> Fixture {
    let home = test_home();
    add_server_profile(&home.ctx, "server", server).await;
    Fixture { home, out: tempfile::tempdir().unwrap() }
}

async fn database_with_data(server: &PgServer, prefix: &str) -> String {
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(DATA).await.unwrap();
    db
}

fn request(db: &str, out: &Path, format: BackupFormat) -> StartBackup {
    backup_request("server", db, out, format)
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

fn read_manifest(outcome: &BackupOutcome) -> Manifest {
    serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap()
}

/// Every file the manifest names exists with the recorded size and sha256 (checked by sha256sum).
fn assert_files_match(out: &Path, manifest: &Manifest) {
    assert!(!manifest.files.is_empty());
    for file in &manifest.files {
        let path = out.join(&file.name);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), file.bytes, "{}", file.name);
        assert_eq!(sha256sum(&path), file.sha256, "{}", file.name);
    }
}

/// The manifest's row counts equal count(*) on the source.
async fn assert_rows_match(server: &PgServer, db: &str, manifest: &Manifest) {
    let client = server.client(db).await;
    for table in &manifest.tables {
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.table)
        );
        let count: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(table.rows, Some(count), "{}.{}", table.schema, table.table);
    }
}

/// Names in `dir` that look like finished backups (not hidden partials).
fn visible_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn all_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

async fn every_format_on(major: u32) {
    let server = PgServer::shared(major);
    let db = database_with_data(&server, "formats").await;
    let fx = fixture(&server).await;
    for format in
        [BackupFormat::Custom, BackupFormat::Directory, BackupFormat::Tar, BackupFormat::Plain]
    {
        let recorder = Recorder::default();
        let mut input = request(&db, fx.out.path(), format);
        if format == BackupFormat::Directory {
            input.jobs = Some(2);
        }
        let outcome = backup(&fx.ctx, input, &recorder, &CancellationToken::new()).await.unwrap();
        let manifest = read_manifest(&outcome);
        assert_eq!(manifest.format, format);
        assert_eq!(manifest.database, db);
        assert_eq!(manifest.server_version.split('.').next().unwrap(), major.to_string());
        assert!(manifest.pg_dump_version.contains(&format!("(PostgreSQL) {major}.")));
        assert_files_match(fx.out.path(), &manifest);
        assert_rows_match(&server, &db, &manifest).await;
        let names: Vec<String> =
            manifest.tables.iter().map(|t| format!("{}.{}", t.schema, t.table)).collect();
        assert_eq!(
            names,
            ["audit.log", "public.Odd \"Table\" ü", "sales.customers", "sales.orders"]
        );
        assert_eq!(manifest.object_counts["views"], 1);
        assert_eq!(manifest.object_counts["tables"], 4);
        assert!(
            manifest
                .sequences
                .iter()
                .any(|s| s.name == "orders_id_seq" && s.last_value == Some(777))
        );
        assert!(manifest.roles_referenced.contains(&"postgres".to_owned()));
        let steps = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, ProgressEvent::Step { total: 4, .. }))
            .count();
        assert_eq!(steps, 4, "one progress step per table for {format:?}");
        let main = &manifest.files[0].name;
        let pattern = format!("{db}-");
        assert!(main.starts_with(&pattern), "{main}");
    }
    // Each finished backup is in the catalog, with the manifest it wrote.
    let records = list_backups(&fx.ctx, ListBackups { database: Some(db.clone()), limit: None })
        .await
        .unwrap();
    assert_eq!(records.len(), 4);
    assert!(
        records.iter().all(|r| r.status == BackupStatus::Finished && r.manifest_path.is_some())
    );
    assert!(visible_entries(fx.out.path()).iter().all(|n| !n.contains("partial")));
}

#[tokio::test]
async fn every_format_on_postgres_14() {
    every_format_on(14).await;
}

#[tokio::test]
async fn every_format_on_postgres_18() {
    every_format_on(18).await;
}

#[tokio::test]
async fn a_custom_backup_restores_completely() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "roundtrip").await;
    let fx = fixture(&server).await;
    let outcome = backup(
        &fx.ctx,
        request(&db, fx.out.path(), BackupFormat::Custom),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let manifest = read_manifest(&outcome);
    let restored = server.create_database("restored").await;
    let pg_restore =
        toolbox().newest().program(lifeboat_engine::base::tools::Tool::PgRestore).unwrap();
    let status = Command::new(pg_restore)
        .args([
            "--exit-on-error",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-p",
            &server.port.to_string(),
            "-d",
            &restored,
        ])
        .arg(fx.out.path().join(&manifest.files[0].name))
        .status()
        .unwrap();
    assert!(status.success());
    assert_rows_match(&server, &restored, &manifest).await;
}

#[tokio::test]
async fn per_schema_backups_and_scope_filters() {
    let server = PgServer::shared(14);
    let db = database_with_data(&server, "scope").await;
    let fx = fixture(&server).await;
    let mut input = request(&db, fx.out.path(), BackupFormat::Custom);
    input.per_schema = true;
    input.globals = true;
    let outcome = backup(&fx.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let manifest = read_manifest(&outcome);
    let schemas: Vec<Option<&str>> =
        manifest.files.iter().filter(|f| f.role == "dump").map(|f| f.schema.as_deref()).collect();
    assert_eq!(schemas, [Some("audit"), Some("public"), Some("sales")]);
    assert!(manifest.files.iter().any(|f| f.role == "globals" && f.name.ends_with(".globals.sql")));
    assert_files_match(fx.out.path(), &manifest);
    let globals = manifest.files.iter().find(|f| f.role == "globals").unwrap();
    let text = std::fs::read_to_string(fx.out.path().join(&globals.name)).unwrap();
    assert!(
        text.contains("CREATE ROLE postgres") && !text.contains("PASSWORD 'SCRAM"),
        "no role passwords"
    );

    let mut scoped = request(&db, fx.out.path(), BackupFormat::Plain);
    scoped.scope = BackupScope {
        exclude_schemas: vec!["audit".into()],
        // The view on sales.orders goes too: a backup that kept it could never restore.
        exclude_tables: vec!["sales.orders".into(), "sales.big_orders".into()],
        ..Default::default()
    };
    let outcome = backup(&fx.ctx, scoped, &NullSink, &CancellationToken::new()).await.unwrap();
    let manifest = read_manifest(&outcome);
    let names: Vec<String> =
        manifest.tables.iter().map(|t| format!("{}.{}", t.schema, t.table)).collect();
    assert_eq!(names, ["public.Odd \"Table\" ü", "sales.customers"]);
    let sql = std::fs::read_to_string(fx.out.path().join(&manifest.files[0].name)).unwrap();
    assert!(
        sql.contains("COPY sales.customers")
            && !sql.contains("COPY sales.orders")
            && !sql.contains("audit.log")
    );

    let mut schema_only = request(&db, fx.out.path(), BackupFormat::Plain);
    schema_only.scope = BackupScope {
        schema_only: true,
        // Not sales.orders: its foreign key needs sales.customers, which a backup of orders
        // alone cannot carry (it would be refused as never restoring).
        tables: vec!["sales.customers".into()],
        ..Default::default()
    };
    let manifest = read_manifest(
        &backup(&fx.ctx, schema_only, &NullSink, &CancellationToken::new()).await.unwrap(),
    );
    assert_eq!(manifest.tables.len(), 1);
    assert_eq!(manifest.tables[0].rows, None);
}

#[tokio::test]
async fn odd_database_names_make_valid_file_names() {
    let server = PgServer::shared(18);
    let fx = fixture(&server).await;
    let admin = server.client("postgres").await;
    let pid = std::process::id();
    for (i, odd) in ["it's \"quoted\" ü", "a:b/c\\d", "CON", "spaces and dots. ", "日本語 db"]
        .iter()
        .enumerate()
    {
        let name = format!("{odd} {pid}{i}");
        let name = if *odd == "CON" { "CON".to_owned() + &"".repeat(i) } else { name };
        let _ =
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&name))).await;
        admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name))).await.unwrap();
        server
            .client(&name)
            .await
            .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let outcome = backup(
            &fx.ctx,
            request(&name, fx.out.path(), BackupFormat::Custom),
            &NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("backup of {name:?}: {e}"));
        let manifest = read_manifest(&outcome);
        assert_eq!(manifest.database, name);
        let file = &manifest.files[0].name;
        assert!(!file.chars().any(|c| "<>:\"/\\|?*".contains(c) || c.is_control()), "{file}");
        let stem = file.split('.').next().unwrap().to_uppercase();
        assert!(!["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str()), "{file}");
        assert!(fx.out.path().join(file).is_file());
        assert_eq!(manifest.tables[0].rows, Some(1));
        if *odd == "CON" {
            admin.batch_execute("DROP DATABASE \"CON\"").await.unwrap();
        }
    }
}

/// A database whose table `public.big` takes pg_dump a while to copy, for the fault tests.
async fn database_with_a_big_table(server: &PgServer, prefix: &str) -> String {
    let db = database_with_data(server, prefix).await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE public.big (id int, noise text); \
             INSERT INTO public.big SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 400000) g;",
        )
        .await
        .unwrap();
    db
}

/// A progress sink that tells the test when pg_dump starts copying `public.big`: the moment to
/// interrupt it mid-way.
struct MidWay(tokio::sync::mpsc::UnboundedSender<()>);

impl ProgressSink for MidWay {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::ToolOutput { line, .. } = &event
            && line.contains("dumping contents of table \"public.big\"")
        {
            let _ = self.0.send(());
        }
    }
}

fn mid_way() -> (MidWay, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (MidWay(tx), rx)
}

/// The pg_dump processes working on `db` (found by the database in their environment).
fn pg_dumps_of(db: &str) -> Vec<u32> {
    let wanted = format!("PGDATABASE={db}\0");
    processes_with_cmdline("pg_dump")
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "pg_dump")
        })
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.windows(wanted.len()).any(|w| w == wanted.as_bytes()))
        })
        .collect()
}

/// What every failed backup must leave: the earlier backup intact, nothing new that looks
/// finished, no partial file, and the catalog saying why.
async fn assert_clean_failure(
    fx: &Fixture,
    earlier: &BackupOutcome,
    before: &[String],
    status: BackupStatus,
) {
    assert_eq!(visible_entries(fx.out.path()), before, "no new finished-looking file");
    assert!(!all_entries(fx.out.path()).iter().any(|n| n.ends_with(".partial")), "no partial left");
    let manifest = read_manifest(earlier);
    assert_files_match(fx.out.path(), &manifest);
    let records = list_backups(&fx.ctx, ListBackups::default()).await.unwrap();
    let last = &records[0];
    assert_eq!(last.status, status);
    assert!(last.error_message.as_deref().is_some_and(|m| !m.is_empty()));
}

/// A first backup of `db` (the one a failure must not touch), then a second one that `interrupt`
/// disturbs as soon as pg_dump starts copying `public.big`. Returns the first backup, the folder's
/// listing after it, and the second backup's result.
async fn interrupted_backup<F: std::future::Future<Output = ()>>(
    fx: &Fixture,
    db: &str,
    first_format: BackupFormat,
    cancel: &CancellationToken,
    interrupt: impl FnOnce() -> F,
) -> (BackupOutcome, Vec<String>, Result<BackupOutcome, Error>) {
    let earlier = backup(
        &fx.ctx,
        request(db, fx.out.path(), first_format),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let before = visible_entries(fx.out.path());
    let (sink, mut copying) = mid_way();
    let running = backup(&fx.ctx, request(db, fx.out.path(), BackupFormat::Custom), &sink, cancel);
    let trigger = async {
        copying.recv().await.expect("pg_dump reached the big table");
        interrupt().await;
    };
    let (result, ()) = tokio::join!(running, trigger);
    (earlier, before, result)
}

#[tokio::test]
async fn cancelling_leaves_nothing_behind() {
    let server = PgServer::shared(18);
    let db = database_with_a_big_table(&server, "cancel").await;
    let fx = fixture(&server).await;
    let cancel = CancellationToken::new();
    let (earlier, before, result) =
        interrupted_backup(&fx, &db, BackupFormat::Custom, &cancel, || async { cancel.cancel() })
            .await;
    assert_eq!(result.unwrap_err().code(), ErrorCode::Cancelled);
    assert!(pg_dumps_of(&db).is_empty(), "the cancelled pg_dump is gone");
    assert_clean_failure(&fx, &earlier, &before, BackupStatus::Cancelled).await;
}

#[tokio::test]
async fn a_killed_pg_dump_is_a_failed_backup() {
    let server = PgServer::shared(14);
    let db = database_with_a_big_table(&server, "killed").await;
    let fx = fixture(&server).await;
    let kill = || async {
        let pids = pg_dumps_of(&db);
        assert!(!pids.is_empty(), "pg_dump is running");
        for pid in pids {
            Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        }
    };
    let (earlier, before, result) =
        interrupted_backup(&fx, &db, BackupFormat::Directory, &CancellationToken::new(), kill)
            .await;
    let error = result.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ToolFailed, "{error}");
    assert!(error.to_string().contains("stopped by a signal"), "{error}");
    assert_clean_failure(&fx, &earlier, &before, BackupStatus::Failed).await;
}

#[tokio::test]
async fn a_server_stopping_mid_way_fails_the_backup() {
    let server = PgServer::start(16);
    let db = database_with_a_big_table(&server, "stopped").await;
    let fx = fixture(&server).await;
    let (earlier, before, result) =
        interrupted_backup(&fx, &db, BackupFormat::Custom, &CancellationToken::new(), || async {
            server.stop()
        })
        .await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::ToolFailed { .. } | Error::Query { .. }), "{error}");
    assert_clean_failure(&fx, &earlier, &before, BackupStatus::Failed).await;
}

/// A small tmpfs mounted for a test, unmounted when dropped. Needs root (CI runs as root).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(options: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok =
            Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(&dir).status();
        if ok.is_ok_and(|s| s.success()) { Some(Mount(dir)) } else { None }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test]
async fn a_read_only_destination_is_refused_cleanly() {
    let server = PgServer::shared(18);
    let db = database_with_data(&server, "readonly").await;
    let fx = fixture(&server).await;
    let folder = if lifeboat_system_tests::pg::running_as_root() {
        Mount::tmpfs("ro,size=1m").expect("mount a read-only tmpfs")
    } else {
        let dir = tempfile::tempdir().unwrap().keep();
        Command::new("chmod").arg("555").arg(&dir).status().unwrap();
        Mount(dir)
    };
    let error = backup(
        &fx.ctx,
        request(&db, &folder.0, BackupFormat::Custom),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Io, "{error}");
    assert!(error.to_string().contains(&folder.0.display().to_string()), "{error}");
    assert!(all_entries(&folder.0).is_empty());
    let records = list_backups(&fx.ctx, ListBackups::default()).await.unwrap();
    assert_eq!(records[0].status, BackupStatus::Failed);
}

#[tokio::test]
async fn a_full_disk_fails_cleanly_and_keeps_earlier_backups() {
    if !lifeboat_system_tests::pg::running_as_root() {
        eprintln!("this test mounts a 2 MiB tmpfs and needs root; CI runs it as root");
        return;
    }
    let server = PgServer::shared(18);
    let small = server.create_database("small").await;
    server
        .client(&small)
        .await
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let big = server.create_database("big").await;
    // Random text does not compress: several MiB of dump for a 2 MiB disk.
    server
        .client(&big)
        .await
        .batch_execute(
            "CREATE SCHEMA sales; CREATE TABLE sales.orders (id int, noise text); \
             INSERT INTO sales.orders SELECT g, md5(random()::text) || md5(random()::text) FROM generate_series(1, 120000) g;",
        )
        .await
        .unwrap();
    let mut fx = fixture(&server).await;
    let disk = Mount::tmpfs("size=2m").expect("mount a small tmpfs");
    fx.out = tempfile::tempdir_in(&disk.0).unwrap();
    let earlier = backup(
        &fx.ctx,
        request(&small, fx.out.path(), BackupFormat::Custom),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let before = visible_entries(fx.out.path());
    let recorder = Recorder::default();
    let error = backup(
        &fx.ctx,
        request(&big, fx.out.path(), BackupFormat::Custom),
        &recorder,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Io, "{error}");
    assert!(
        error.to_string().contains("No space left") || error.to_string().contains("space"),
        "{error}"
    );
    assert!(
        recorder
            .events()
            .iter()
            .any(|e| matches!(e, ProgressEvent::Warning { message } if message.contains("free"))),
        "the free-space warning came first"
    );
    assert_clean_failure(&fx, &earlier, &before, BackupStatus::Failed).await;
}
