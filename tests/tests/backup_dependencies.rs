//! A scoped backup whose kept objects need objects its scope leaves out is refused before the
//! dump, naming each dependent and what it needs; with `keep_needed` the scope is widened so
//! that the backup restores on its own (its drill passes); with `leave_out_dependents` the
//! dependents are left out instead (a view from the dump, a trigger or a function through the
//! manifest) and the drill passes too; a scope without such dependents backs up as before.
//! Against real servers of 18 and 14.

use std::path::PathBuf;
use std::time::Instant;

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::format::manifest::{BackupScope, Manifest};
use lifeboat_engine::ops::backup::{BackupFormat, StartBackup, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::storage::catalog::{BackupStatus, ListBackups, list_backups};
use lifeboat_engine::{Error, ErrorCode};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use tokio_util::sync::CancellationToken;

/// A trigger in public that calls a function of the audit schema, which writes to audit.log;
/// crm needs nothing and nothing needs it.
const DATA: &str = r#"
    CREATE SCHEMA audit;
    CREATE TABLE audit.log (id serial PRIMARY KEY, tbl text NOT NULL);
    CREATE FUNCTION audit.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO audit.log (tbl) VALUES (TG_TABLE_NAME); RETURN NEW; END $$;
    CREATE TABLE public.orders (id serial PRIMARY KEY, total numeric);
    CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON public.orders
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    INSERT INTO public.orders (total) SELECT g FROM generate_series(1, 30) g;
    CREATE SCHEMA crm;
    CREATE TABLE crm.contacts (id serial PRIMARY KEY, name text);
    INSERT INTO crm.contacts (name) VALUES ('a'), ('b');
"#;

struct Fixture {
    home: TestHome,
    out: tempfile::TempDir,
    db: String,
}

async fn fixture(major: u32, prefix: &str, extra: &str) -> Fixture {
    let server = PgServer::shared(major);
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(&format!("{DATA}{extra}")).await.unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "prod", &server).await;
    Fixture { home, out: tempfile::tempdir().unwrap(), db }
}

fn request(fx: &Fixture, edit: impl FnOnce(&mut BackupScope)) -> StartBackup {
    let mut input = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    edit(&mut input.scope);
    input
}

async fn run(fx: &Fixture, input: StartBackup) -> Result<Manifest, Error> {
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await?;
    Ok(serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap())
}

fn files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

async fn excluding_a_needed_schema_is_refused_or_kept(major: u32) {
    let fx = fixture(major, &format!("deps_audit_{major}"), "").await;
    let exclude_audit = |s: &mut BackupScope| s.exclude_schemas = vec!["audit".into()];

    let error = run(&fx, request(&fx, exclude_audit)).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasBrokenDependencies, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("TRIGGER public.orders orders_audit needs FUNCTION audit.log_change()"),
        "{message}"
    );
    assert!(error.hint().contains("--keep-needed"), "{}", error.hint());
    // Nothing written: no dump, no manifest, no partial, and the definitions read is gone.
    assert!(files_in(fx.out.path()).is_empty(), "{:?}", files_in(fx.out.path()));
    let leftovers: Vec<PathBuf> = files_in(fx.home.ctx.data_dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".definitions-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The attempt is recorded as failed with the error's code, like any refused backup.
    let records = list_backups(&fx.home.ctx, ListBackups::default()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, BackupStatus::Failed);
    assert_eq!(records[0].error_code.as_deref(), Some("backup_has_broken_dependencies"));

    let mut input = request(&fx, exclude_audit);
    input.keep_needed = true;
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(
        outcome.warnings.iter().any(|w| w.starts_with("Kept schema audit in the backup")),
        "{:?}",
        outcome.warnings
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
    assert!(manifest.scope.exclude_schemas.is_empty(), "{:?}", manifest.scope);
    assert!(manifest.tables.iter().any(|t| t.schema == "audit" && t.table == "log"));

    let report = drill(
        &fx.home.ctx,
        DrillRequest {
            source: outcome.manifest_path.clone(),
            target: DrillTarget::Profile { name: "prod".into() },
            ..DrillRequest::default()
        },
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(report.passed, "{major}: {:?}", report.failure);
}

#[tokio::test]
async fn excluding_a_needed_schema_is_refused_or_kept_18() {
    excluding_a_needed_schema_is_refused_or_kept(18).await;
}

#[tokio::test]
async fn excluding_a_needed_schema_is_refused_or_kept_14() {
    excluding_a_needed_schema_is_refused_or_kept(14).await;
}

/// A table backup cannot carry the function its trigger calls: `keep_needed` cannot help, and
/// the error says to back up the schema instead.
#[tokio::test]
async fn a_table_whose_trigger_needs_a_function_is_refused_even_with_keep_needed() {
    let fx = fixture(18, "deps_table_18", "").await;
    let mut input = request(&fx, |s| s.tables = vec!["public.orders".into()]);
    input.keep_needed = true;
    let error = run(&fx, input).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasBrokenDependencies, "{error}");
    assert!(error.to_string().contains("needs FUNCTION audit.log_change()"), "{error}");
    assert!(error.hint().contains("--leave-out-dependents"), "{}", error.hint());
    assert!(files_in(fx.out.path()).is_empty());

    // Leaving the trigger out makes a backup of the table alone that restores.
    let mut input = request(&fx, |s| s.tables = vec!["public.orders".into()]);
    input.leave_out_dependents = true;
    let manifest = run(&fx, input).await.unwrap();
    assert_eq!(manifest.left_out.len(), 1, "{:?}", manifest.left_out);
    assert_eq!(manifest.left_out[0].kind, "TRIGGER");
    assert_passes(&fx, &manifest, 18).await;
}

async fn assert_passes(fx: &Fixture, manifest: &Manifest, major: u32) {
    let stem = manifest.files[0].name.split('.').next().unwrap().to_owned();
    let path = files_in(fx.out.path())
        .into_iter()
        .find(|p| {
            p.to_string_lossy().ends_with(".lifeboat.json") && p.to_string_lossy().contains(&stem)
        })
        .unwrap();
    let report = drill(
        &fx.home.ctx,
        DrillRequest {
            source: path.display().to_string(),
            target: DrillTarget::Profile { name: "prod".into() },
            ..DrillRequest::default()
        },
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(report.passed, "{major}: {:?}", report.failure);
}

/// Objects left out of the dump because they need what the scope leaves out: a view on a
/// table of the excluded schema goes from the dump itself, the trigger (which pg_dump cannot
/// leave out) is named in the manifest and left out at the restore.
async fn excluding_a_needed_schema_leaves_its_dependents_out(major: u32) {
    let view = "CREATE VIEW public.recent AS SELECT * FROM audit.log;";
    let fx = fixture(major, &format!("deps_leave_{major}"), view).await;
    let mut input = request(&fx, |s| s.exclude_schemas = vec!["audit".into()]);
    input.leave_out_dependents = true;
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let warned = |text: &str| outcome.warnings.iter().any(|w| w.contains(text));
    assert!(
        warned("Left out VIEW public.recent: it needs TABLE audit.log."),
        "{:?}",
        outcome.warnings
    );
    assert!(warned("Left out TRIGGER public.orders orders_audit"), "{:?}", outcome.warnings);
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
    assert_eq!(manifest.scope.exclude_tables, ["public.recent"]);
    assert_eq!(manifest.left_out.len(), 1);
    assert_eq!(manifest.left_out[0].needs, "FUNCTION audit.log_change()");
    assert_passes(&fx, &manifest, major).await;
}

#[tokio::test]
async fn excluding_a_needed_schema_leaves_its_dependents_out_18() {
    excluding_a_needed_schema_leaves_its_dependents_out(18).await;
}

#[tokio::test]
async fn excluding_a_needed_schema_leaves_its_dependents_out_14() {
    excluding_a_needed_schema_leaves_its_dependents_out(14).await;
}

/// pg_dump --schema carries no database-wide object: a function using a transform is named
/// before the dump, cannot be kept, and can be left out; a plain SQL file cannot leave it out.
#[tokio::test]
async fn one_schema_names_and_leaves_out_what_needs_a_transform() {
    let transform = "CREATE TRANSFORM FOR int LANGUAGE sql \
        (FROM SQL WITH FUNCTION prsd_lextype(internal), TO SQL WITH FUNCTION int4recv(internal)); \
        CREATE FUNCTION crm.uses_transform(int) RETURNS int LANGUAGE sql \
        TRANSFORM FOR TYPE int AS 'SELECT $1';";
    let fx = fixture(18, "deps_transform_18", transform).await;
    let only_crm = |s: &mut BackupScope| s.schemas = vec!["crm".into()];
    let mut input = request(&fx, only_crm);
    input.keep_needed = true;
    let error = run(&fx, input).await.unwrap_err();
    assert!(
        error.to_string().contains(
            "FUNCTION crm.uses_transform(integer) needs TRANSFORM FOR integer LANGUAGE sql"
        ),
        "{error}"
    );
    let mut plain = request(&fx, only_crm);
    plain.format = BackupFormat::Plain;
    plain.leave_out_dependents = true;
    let error = run(&fx, plain).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput, "{error}");
    let mut input = request(&fx, only_crm);
    input.leave_out_dependents = true;
    let manifest = run(&fx, input).await.unwrap();
    assert_eq!(manifest.left_out[0].name, "uses_transform(integer)");
    assert_passes(&fx, &manifest, 18).await;
}

/// A few hundred objects: the scoped backup (which reads every definition once more) and the
/// whole one, timed side by side for the cost of the check.
#[tokio::test]
async fn a_scope_without_broken_dependencies_backs_up_as_before() {
    let many = "DO $$ BEGIN FOR i IN 1..150 LOOP \
        EXECUTE format('CREATE TABLE crm.t%s (id serial PRIMARY KEY, v text)', i); \
        EXECUTE format('CREATE INDEX ON crm.t%s (v)', i); \
        EXECUTE format('CREATE FUNCTION crm.f%s() RETURNS int LANGUAGE sql AS ''SELECT 1''', i); \
        END LOOP; END $$;";
    let fx = fixture(18, "deps_none_18", many).await;
    let started = Instant::now();
    run(&fx, request(&fx, |_| {})).await.unwrap();
    let whole = started.elapsed();
    let started = Instant::now();
    let manifest =
        run(&fx, request(&fx, |s| s.exclude_schemas = vec!["crm".into()])).await.unwrap();
    let scoped = started.elapsed();
    eprintln!("whole backup {whole:?}, scoped backup with the dependency check {scoped:?}");
    assert_eq!(manifest.scope.exclude_schemas, ["crm"]);
    assert!(manifest.tables.iter().all(|t| t.schema != "crm"));
    let manifest = run(&fx, request(&fx, |s| s.schemas = vec!["crm".into()])).await.unwrap();
    assert_eq!(manifest.scope.schemas, ["crm"]);
}

/// pg_dump --schema carries no extension unless named: a table using hstore is named before the
/// dump; keeping what it needs adds `--extension hstore`, and the backup's drill passes.
async fn one_schema_keeps_the_extension_its_table_needs(major: u32) {
    let extension = "CREATE EXTENSION hstore; \
        CREATE TABLE crm.tags (id int PRIMARY KEY, h hstore); \
        INSERT INTO crm.tags VALUES (1, 'a=>1'), (2, 'b=>2');";
    let fx = fixture(major, &format!("deps_ext_{major}"), extension).await;
    let only_crm = |s: &mut BackupScope| s.schemas = vec!["crm".into()];
    let error = run(&fx, request(&fx, only_crm)).await.unwrap_err();
    assert!(error.to_string().contains("TABLE crm.tags needs EXTENSION hstore"), "{error}");
    let mut input = request(&fx, only_crm);
    input.keep_needed = true;
    let manifest = run(&fx, input).await.unwrap();
    assert_eq!(manifest.scope.extensions, ["hstore"]);
    assert_eq!(manifest.scope.schemas, ["crm"]);
    assert_eq!(manifest.extensions.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["hstore"]);
    assert_passes(&fx, &manifest, major).await;
}

#[tokio::test]
async fn one_schema_keeps_the_extension_its_table_needs_18() {
    one_schema_keeps_the_extension_its_table_needs(18).await;
}

#[tokio::test]
async fn one_schema_keeps_the_extension_its_table_needs_14() {
    one_schema_keeps_the_extension_its_table_needs(14).await;
}

/// One file per schema: each file is checked as a one-schema backup. The trigger in public
/// needs audit's function, and a table in crm needs hstore: refused; keeping adds hstore to
/// every file but cannot put audit's function into public's file; leaving the trigger out too
/// makes every file pass its drill on its own.
#[tokio::test]
async fn one_file_per_schema_checks_each_file_on_its_own() {
    let extension = "CREATE EXTENSION hstore; \
        CREATE TABLE crm.tags (id int PRIMARY KEY, h hstore); \
        INSERT INTO crm.tags VALUES (1, 'a=>1');";
    let fx = fixture(18, "deps_per_schema_18", extension).await;
    let per_schema = |keep: bool, leave: bool| {
        let mut input = request(&fx, |_| {});
        input.per_schema = true;
        input.keep_needed = keep;
        input.leave_out_dependents = leave;
        input
    };
    let error = run(&fx, per_schema(false, false)).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("TABLE crm.tags needs EXTENSION hstore"), "{message}");
    assert!(
        message.contains("TRIGGER public.orders orders_audit needs FUNCTION audit.log_change()"),
        "{message}"
    );
    let error = run(&fx, per_schema(true, false)).await.unwrap_err();
    assert!(!error.to_string().contains("hstore"), "{error}");
    let manifest = run(&fx, per_schema(true, true)).await.unwrap();
    assert_eq!(manifest.scope.extensions, ["hstore"]);
    assert_eq!(manifest.left_out.len(), 1, "{:?}", manifest.left_out);
    let path = files_in(fx.out.path())
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".lifeboat.json"))
        .unwrap();
    for file in manifest.files.iter().filter_map(|f| f.schema.clone()) {
        let report = drill(
            &fx.home.ctx,
            DrillRequest {
                source: path.display().to_string(),
                target: DrillTarget::Profile { name: "prod".into() },
                schema: Some(file.clone()),
                ..DrillRequest::default()
            },
            &NullSink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(report.passed, "{file}: {:?}", report.failure);
    }
}
