//! The foundation's smoke tests: real servers of majors 14 and 18, the bundled pg_dump and
//! pg_restore run through the engine's tool runner, and the data compared afterwards.

use std::time::{Duration, Instant};

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::{NullSink, ProgressEvent, Recorder};
use lifeboat_engine::base::tools::{ServerVersion, Tool};
use lifeboat_engine::pg::runner::{StdoutTo, ToolCommand, run};
use lifeboat_system_tests::{PgServer, toolbox};
use tokio_util::sync::CancellationToken;

const SCHEMA: &str = r#"
    CREATE SCHEMA shop;
    CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
    CREATE TABLE shop.orders (
        id bigserial PRIMARY KEY,
        customer_id int NOT NULL REFERENCES shop.customers(id),
        total numeric(10,2) NOT NULL
    );
    CREATE TABLE public."Odd ""Name"" é" (k text PRIMARY KEY, v jsonb);
    INSERT INTO shop.customers (name, email)
        SELECT 'customer ' || g, 'c' || g || '@example.test' FROM generate_series(1, 250) g;
    INSERT INTO shop.orders (customer_id, total)
        SELECT 1 + g % 250, (g * 7 % 1000) / 10.0 FROM generate_series(1, 1000) g;
    INSERT INTO public."Odd ""Name"" é" VALUES ('ä', '{"a": [1, 2]}'), ('b', NULL);
"#;

/// A fingerprint of every table's content, to compare source and restored databases.
const FINGERPRINT: &str = r#"
    SELECT (SELECT count(*) FROM shop.customers)::text || '/' ||
           (SELECT count(*) FROM shop.orders)::text || '/' ||
           (SELECT count(*) FROM public."Odd ""Name"" é")::text || '/' ||
           (SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM shop.customers c) || '/' ||
           (SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM shop.orders o) || '/' ||
           (SELECT md5(string_agg(x::text, ',' ORDER BY k)) FROM public."Odd ""Name"" é" x)
"#;

async fn fingerprint(server: &PgServer, db: &str) -> String {
    server.client(db).await.query_one(FINGERPRINT, &[]).await.unwrap().get(0)
}

/// Creates a database with data on `source`, dumps it with the bundled pg_dump, restores it on
/// `target` with the bundled pg_restore, and checks the data came back unchanged.
async fn dump_and_restore(source: &PgServer, target: &PgServer) {
    let tools = toolbox();
    let source_db = source.create_database("smoke_src").await;
    source.client(&source_db).await.batch_execute(SCHEMA).await.unwrap();
    let expected = fingerprint(source, &source_db).await;
    assert!(expected.starts_with("250/1000/2/"), "{expected}");

    let cancel = CancellationToken::new();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("smoke.backup");
    let dumper = tools.for_dump(ServerVersion(source.version_num().await)).unwrap();
    assert_eq!(dumper.major, source.major, "pg_dump of the source's own major");
    let recorder = Recorder::default();
    let dump = ToolCommand::new(dumper, Tool::PgDump)
        .unwrap()
        .args(["--format=custom", "--verbose", "--file"])
        .arg(&file)
        .conn(source.target(&source_db));
    run(dump, &recorder, &cancel).await.unwrap();
    assert!(std::fs::metadata(&file).unwrap().len() > 1000);
    let events = recorder.events();
    assert_eq!(
        events.first(),
        Some(&ProgressEvent::ToolStarted { tool: Tool::PgDump, major: dumper.major })
    );
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::ToolFinished { tool: Tool::PgDump, exit_code: Some(0) })
    );
    assert!(
        events.iter().any(|e| matches!(e, ProgressEvent::ToolOutput { line, .. } if line.contains("dumping contents of table \"shop.orders\""))),
        "pg_dump --verbose lines reach the sink"
    );

    let target_version = ServerVersion(target.version_num().await);
    let restorer = tools.for_restore(target_version).unwrap();
    assert_eq!(restorer.major, target.major, "pg_restore of the target's own major");
    let target_db = target.create_database("smoke_dst").await;
    let restore = ToolCommand::new(restorer, Tool::PgRestore)
        .unwrap()
        .args(["--exit-on-error", "--no-owner", "--dbname", &target_db])
        .arg(&file)
        .conn(target.target(&target_db));
    run(restore, &NullSink, &cancel).await.unwrap();
    assert_eq!(fingerprint(target, &target_db).await, expected);
}

#[tokio::test]
async fn dump_and_restore_on_postgres_14() {
    let server = PgServer::shared(14);
    dump_and_restore(&server, &server).await;
}

#[tokio::test]
async fn dump_and_restore_on_postgres_18() {
    let server = PgServer::shared(18);
    dump_and_restore(&server, &server).await;
}

#[tokio::test]
async fn servers_of_14_and_18_run_side_by_side_and_a_14_dump_restores_on_18() {
    let old = PgServer::shared(14);
    let new = PgServer::shared(18);
    assert_ne!(old.port, new.port);
    assert!(old.is_running() && new.is_running());
    assert_eq!(ServerVersion(old.version_num().await).major(), 14);
    assert_eq!(ServerVersion(new.version_num().await).major(), 18);
    dump_and_restore(&old, &new).await;
}

#[tokio::test]
async fn every_bundled_major_runs_and_reports_its_version() {
    let tools = toolbox();
    let majors: Vec<u32> = tools.majors().iter().map(|m| m.major).collect();
    assert_eq!(majors, [14, 15, 16, 17, 18]);
    for bundle in tools.majors() {
        for tool in Tool::CLIENTS {
            let command =
                ToolCommand::new(bundle, tool).unwrap().arg("--version").stdout(StdoutTo::Capture);
            let output = run(command, &NullSink, &CancellationToken::new()).await.unwrap();
            let text = String::from_utf8(output.stdout).unwrap();
            let release = bundle.version.trim_end_matches(".0");
            assert!(
                text.contains(&format!("(PostgreSQL) {release}")),
                "{tool} {}: {text}",
                bundle.major
            );
        }
    }
}

#[tokio::test]
async fn a_failing_tool_reports_what_postgres_said() {
    let server = PgServer::shared(18);
    let bundle = toolbox().newest().clone();
    let dump = ToolCommand::new(&bundle, Tool::PgDump)
        .unwrap()
        .arg("--schema-only")
        .conn(server.target("no_such_db"));
    let error = run(dump, &NullSink, &CancellationToken::new()).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ToolFailed);
    let message = error.to_string();
    assert!(message.contains("pg_dump failed with exit code 1"), "{message}");
    assert!(message.contains("\"no_such_db\" does not exist"), "{message}");
}

#[tokio::test]
async fn cancelling_kills_the_child_promptly() {
    let server = PgServer::shared(18);
    let bundle = toolbox().newest().clone();
    let sleeper = ToolCommand::new(&bundle, Tool::Psql)
        .unwrap()
        .args(["-X", "-c", "SELECT pg_sleep(60)"])
        .conn(server.target("postgres"));
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = run(sleeper, &NullSink, &cancel).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::Cancelled);
    // The limit is generous on purpose: it only tells "killed" apart from "waited 60 s".
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        lifeboat_system_tests::processes_with_cmdline("SELECT pg_sleep(60)").is_empty(),
        "no psql is left running"
    );
}

#[tokio::test]
async fn a_private_server_is_stopped_and_deleted_when_dropped() {
    let server = PgServer::start(16);
    assert!(server.is_running());
    let data = server.data_dir();
    let port = server.port;
    assert!(data.join("PG_VERSION").exists());
    drop(server);
    assert!(!data.exists(), "the data folder is deleted");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on {port}"
    );
}
