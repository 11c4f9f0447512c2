//! Hostile SQL text: backups that try to make psql run programs or read row data as SQL.
//!
//! - Finding 1 (issue 13): a plain dump made by the real pg_dump, then changed to hold psql
//!   backslash commands (`\!`, `\o |cmd`, `\copy … to program`, `\setenv`, `\i`, `\gexec`,
//!   `\connect` after a statement or with a backquote) at the start of a line, after a
//!   statement, inside a statement that goes on, right after COPY data and inside it. Each is
//!   verified, restored and drilled through the engine: refused with
//!   `backup_has_meta_commands`, no database created, no canary file made. The same text inside
//!   a function body, a string and the rows is data: the untouched dump restores with it.
//! - Finding 7: an 18 table that 14 cannot create (a virtual generated column), whose rows are
//!   SQL and psql commands, restored 18 → 14 through the psql pipeline and from plain SQL with
//!   `continue_on_errors`: the rows never reach the SQL parser (the victim table stays, no
//!   canary), and the errors name the entries.

use std::path::{Path, PathBuf};

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::restore::{MethodKind, RestoreRequest, preflight, restore};
use lifeboat_engine::ops::verify::verify;
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use tokio_util::sync::CancellationToken;

/// A file that must never appear; removed first and at the end.
struct Canary(PathBuf);

impl Canary {
    fn new(case: &str) -> Canary {
        let path =
            std::env::temp_dir().join(format!("lifeboat-canary-{}-{case}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Canary(path)
    }

    fn touch(&self) -> String {
        format!("touch {}", self.0.display())
    }

    fn assert_absent(&self, what: &str) {
        assert!(!self.0.exists(), "{what}: {} was created", self.0.display());
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn databases(server: &PgServer) -> Vec<String> {
    let rows = server
        .client("postgres")
        .await
        .query("SELECT datname::text FROM pg_database ORDER BY 1", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// A database whose function bodies, strings and rows hold text that looks like psql commands.
fn data_sql(canary: &Canary) -> String {
    let touch = canary.touch();
    format!(
        r#"
        CREATE TABLE public.victim (id int PRIMARY KEY);
        INSERT INTO public.victim VALUES (1);
        CREATE TABLE public.notes (id int PRIMARY KEY, body text);
        INSERT INTO public.notes VALUES (1, E'\\! {touch}'), (2, '\o |{touch}'),
            (3, 'drop table public.victim;'), (4, E'line\n\\! {touch}\n\\.');
        CREATE FUNCTION public.shout() RETURNS text LANGUAGE sql AS $fn$
        SELECT '\! {touch}'::text
        $fn$;
        COMMENT ON TABLE public.notes IS '\! {touch}';
        "#
    )
}

/// Restores, verifies and drills `file` on `profile`, expecting the refusal each time; the
/// server keeps exactly its databases and the canary stays away.
async fn assert_refused(home: &TestHome, server: &PgServer, file: &Path, canary: &Canary) {
    let before = databases(server).await;
    let source = file.display().to_string();
    let what = std::fs::read_to_string(file).unwrap();
    let cancel = CancellationToken::new();

    let error = verify(&home.ctx, &source, None, false, &NullSink, &cancel).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasMetaCommands, "verify: {error}");
    assert!(error.to_string().contains("line "), "{error}");
    assert!(!error.hint().is_empty());

    let request = RestoreRequest {
        source: source.clone(),
        profile: "pg".into(),
        ..RestoreRequest::default()
    };
    let error = preflight(&home.ctx, request.clone()).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasMetaCommands, "preflight: {error}");
    let error = restore(&home.ctx, request.clone(), &NullSink, &cancel).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasMetaCommands, "restore: {error}");
    let going_on = RestoreRequest { continue_on_errors: true, ..request };
    let error = restore(&home.ctx, going_on, &NullSink, &cancel).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasMetaCommands, "restore going on: {error}");

    let drill_request = DrillRequest {
        source,
        target: DrillTarget::Profile { name: "pg".into() },
        ..DrillRequest::default()
    };
    let error = drill(&home.ctx, drill_request, &NullSink, &cancel).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackupHasMetaCommands, "drill: {error}");

    assert_eq!(databases(server).await, before, "nothing created on the server for\n{what}");
    canary.assert_absent(&what);
}

/// `dump` with `payload` put in place of the first line equal to `at` (with `{line}` standing
/// for that line).
fn inject(dump: &str, at: &str, payload: &str) -> String {
    let mut done = false;
    let mut out = String::new();
    for line in dump.split_inclusive('\n') {
        if !done && line.trim_end() == at {
            out.push_str(&payload.replace("{line}", line.trim_end()));
            out.push('\n');
            done = true;
        } else {
            out.push_str(line);
        }
    }
    assert!(done, "{at:?} is not a line of the dump");
    out
}

#[tokio::test]
async fn plain_dumps_with_psql_commands_are_refused_everywhere_and_the_real_one_restores() {
    let server = PgServer::start(18);
    let canary = Canary::new("meta");
    let db = server.create_database("hostile").await;
    server.client(&db).await.batch_execute(&data_sql(&canary)).await.unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "pg", &server).await;
    let out = tempfile::tempdir().unwrap();
    let outcome = backup(
        &home.ctx,
        backup_request("pg", &db, out.path(), BackupFormat::Plain),
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let dumped = std::fs::read_to_string(out.path().join(&outcome.files[0].name)).unwrap();
    assert!(dumped.contains("\n\\restrict "), "pg_dump 18 restricts its own dump");
    let touch = canary.touch();
    let copy_line = dumped
        .lines()
        .find(|l| l.starts_with("COPY public.notes "))
        .expect("the notes' COPY")
        .to_owned();
    let set_line = "SET client_min_messages = warning;";
    let payloads: Vec<(&str, &str, String)> = vec![
        ("start of a line", set_line, format!("{{line}}\n\\! {touch}")),
        ("after a statement", set_line, format!("{{line}} \\! {touch}")),
        ("inside a statement", set_line, format!("{{line}}\nSELECT 1,\n\\! {touch}\n2;")),
        ("after COPY data", "\\.", format!("\\.\n\\! {touch}")),
        ("COPY data's end and a command", "\\.", format!("\\. \\! {touch}\n\\.")),
        ("in a COPY statement", &copy_line, format!("{{line}} \\! {touch}")),
        ("\\copy to program", set_line, format!("\\copy (SELECT 1) to program '{touch}'")),
        ("\\o to a pipe", set_line, format!("{{line}}\n\\o |{touch}\nSELECT 1;")),
        ("\\setenv", set_line, format!("{{line}}\n\\setenv PAGER '{touch}'")),
        ("\\i", set_line, "{line}\n\\i /etc/passwd".to_owned()),
        ("\\gexec", set_line, "SELECT 'CREATE TABLE public.gexec_ran ()' \\gexec".to_owned()),
        ("\\connect after a statement", set_line, "{line} \\connect postgres".to_owned()),
        ("\\connect with a backquote", set_line, format!("\\connect `{touch}`")),
        (
            "the dump's \\unrestrict and more",
            set_line,
            format!("{{line}} \\unrestrict x \\! {touch}"),
        ),
    ];
    let hostile = tempfile::tempdir().unwrap();
    for (n, (case, at, payload)) in payloads.iter().enumerate() {
        let file = hostile.path().join(format!("hostile-{n}.sql"));
        std::fs::write(&file, inject(&dumped, at, payload)).unwrap();
        eprintln!("case {n}: {case}");
        assert_refused(&home, &server, &file, &canary).await;
    }
    assert_eq!(payloads.len(), 14);

    // The dump itself, whose function body, comment and rows hold the same text, restores
    // with them as data, verifies, and drills.
    let cancel = CancellationToken::new();
    let source = out.path().join(&outcome.files[0].name).display().to_string();
    verify(&home.ctx, &source, None, false, &NullSink, &cancel).await.unwrap();
    let request =
        RestoreRequest { source: source.clone(), profile: "pg".into(), ..Default::default() };
    let restored = restore(&home.ctx, request, &NullSink, &cancel).await.unwrap();
    assert_eq!(restored.method.kind, MethodKind::Psql);
    let client = server.client(&restored.database).await;
    let body: String = client.query_one("SELECT public.shout()", &[]).await.unwrap().get(0);
    assert_eq!(body, format!("\\! {touch}"));
    let notes: i64 =
        client.query_one("SELECT count(*) FROM public.notes", &[]).await.unwrap().get(0);
    assert_eq!(notes, 4);
    let report = drill(
        &home.ctx,
        DrillRequest {
            source,
            target: DrillTarget::Profile { name: "pg".into() },
            ..DrillRequest::default()
        },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert!(report.passed, "{:?}", report.steps);
    canary.assert_absent("the real dump");
}

#[tokio::test]
async fn rows_of_a_table_the_target_cannot_create_never_run_as_sql() {
    let (source, target) = (PgServer::start(18), PgServer::start(14));
    let canary = Canary::new("rows");
    let touch = canary.touch();
    let db = source.create_database("carrier").await;
    source
        .client(&db)
        .await
        .batch_execute(&format!(
            r#"
            CREATE TABLE public.victim (id int PRIMARY KEY);
            INSERT INTO public.victim VALUES (1);
            CREATE TABLE public.carrier (
                payload text,
                size int GENERATED ALWAYS AS (length(payload)) VIRTUAL
            );
            INSERT INTO public.carrier (payload) VALUES
                ('drop table public.victim;'),
                ('\! {touch}'),
                ('select 1; \! {touch}'),
                ('create table public.from_rows ();');
            CREATE TABLE public.fine (id int);
            INSERT INTO public.fine SELECT generate_series(1, 50);
            "#
        ))
        .await
        .unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "pg18", &source).await;
    add_server_profile(&home.ctx, "pg14", &target).await;
    let out = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    for (format, kind) in
        [(BackupFormat::Custom, MethodKind::Pipeline), (BackupFormat::Plain, MethodKind::Psql)]
    {
        let made =
            backup(&home.ctx, backup_request("pg18", &db, out.path(), format), &NullSink, &cancel)
                .await
                .unwrap();
        let file = out.path().join(&made.files[0].name).display().to_string();
        let request = RestoreRequest {
            source: file,
            profile: "pg14".into(),
            continue_on_errors: true,
            ..RestoreRequest::default()
        };
        let plan = preflight(&home.ctx, request.clone()).await.unwrap();
        assert_eq!(plan.method.kind, kind);
        let outcome = restore(&home.ctx, request, &NullSink, &cancel).await.unwrap();
        let errors = outcome.errors.join("\n");
        assert!(errors.contains("carrier"), "{format:?}: the errors name the entry: {errors}");
        assert!(!errors.contains("victim"), "{format:?}: {errors}");
        let client = target.client(&outcome.database).await;
        let victims: i64 =
            client.query_one("SELECT count(*) FROM public.victim", &[]).await.unwrap().get(0);
        assert_eq!(victims, 1, "{format:?}: the victim table is still there");
        let fine: i64 =
            client.query_one("SELECT count(*) FROM public.fine", &[]).await.unwrap().get(0);
        assert_eq!(fine, 50, "{format:?}: the rest restored past the error");
        let from_rows: i64 = client
            .query_one("SELECT count(*) FROM pg_class WHERE relname = 'from_rows'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(from_rows, 0, "{format:?}: a row ran as SQL");
        canary.assert_absent(&format!("{format:?}"));
    }
}
