//! Hostile backups drilled on the practice server (issue 13, finding 2): a backup is untrusted
//! input, and its SQL never runs as the practice server's superuser. Each payload tries to run a
//! program on this computer (`COPY … TO PROGRAM 'touch CANARY'`) or to change the cluster for
//! later drills: from a table's CHECK constraint while its rows load (custom archive), from a
//! smoke check calling a restored function, from an index expression pg_amcheck evaluates, and
//! from a plain SQL file (a DO block, a plain COPY statement, ALTER SYSTEM, RESET ROLE / SET
//! SESSION AUTHORIZATION, and changes to the drill role itself and a database of its own). Each
//! asserts: the canary never appears, the drill fails or stops naming the refusal (permission
//! denied) rather than passing, and afterwards the practice cluster holds no drill role, no
//! database a drill made and no ALTER SYSTEM setting, and a good backup still passes there.
//! The payload is proved real first: run as a superuser in a database named like a scratch
//! database, it does create the canary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{add_local_profile, lifeboat, lifeboat_as_user, text};
use lifeboat_system_tests::{PgServer, as_test_user, give_to_test_user, reachable_bundle};
use serde_json::Value;

/// A file path no one has created; the payloads `touch` it.
fn canary() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("lifeboat-canary-{}-{nanos}-{n}", std::process::id()))
}

/// `COPY … TO PROGRAM 'touch <canary>'` as the text of a SQL string literal's content.
fn touch(canary: &Path) -> String {
    // The program reads its input, so that COPY never meets a closed pipe.
    format!("COPY (SELECT 1) TO PROGRAM ''touch {}; cat > /dev/null''", canary.display())
}

/// A function `name(v int) RETURNS int` (IMMUTABLE, so that an index may use it) that calls
/// the payload: a volatile `name_payload()` running `COPY … TO PROGRAM` only in a database named
/// like a drill's scratch database (harmless where the backup is made), and only when the query
/// under way contains `when` (the empty string: always).
fn hostile_function(name: &str, canary: &Path, when: &str) -> String {
    format!(
        "CREATE FUNCTION public.{name}_payload() RETURNS void LANGUAGE plpgsql VOLATILE AS $f$ \
         BEGIN \
           IF current_database() LIKE '%\\_drill\\_%' \
              AND position('{when}' in current_query()) > 0 THEN \
             EXECUTE '{}'; \
           END IF; \
         END $f$; \
         CREATE FUNCTION public.{name}(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ \
         BEGIN PERFORM public.{name}_payload(); RETURN v; END $f$;",
        touch(canary)
    )
}

/// A backup (default format) of a fresh database filled by `setup`, made by root through a
/// profile, in a folder the test user owns. Returns (manifest, database, backups folder).
async fn backup_of(
    server: &PgServer,
    prefix: &str,
    setup: &str,
) -> (PathBuf, String, tempfile::TempDir) {
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(setup).await.unwrap();
    let admin_home = tempfile::tempdir().unwrap();
    add_local_profile(admin_home.path(), server);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let made = lifeboat(
        admin_home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &out_dir, "--json"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let outcome: Value = serde_json::from_slice(&made.stdout).unwrap();
    give_to_test_user(out.path());
    (PathBuf::from(outcome["manifestPath"].as_str().unwrap()), db, out)
}

/// A plain SQL backup of a small database, copied alone (no manifest) into a folder the test
/// user owns, with `payload` inserted before pg_dump's closing lines.
async fn plain_with(
    server: &PgServer,
    prefix: &str,
    payload: &str,
) -> (PathBuf, tempfile::TempDir) {
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(GOOD).await.unwrap();
    let admin_home = tempfile::tempdir().unwrap();
    add_local_profile(admin_home.path(), server);
    let made_in = tempfile::tempdir().unwrap();
    let dir = made_in.path().display().to_string();
    let made = lifeboat(
        admin_home.path(),
        &["backup", "--profile", "local", "--database", &db, "--out", &dir, "--format", "plain"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let sql_file = std::fs::read_dir(made_in.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sql"))
        .expect("a plain backup");
    let dump = std::fs::read_to_string(sql_file).unwrap();
    let end = dump.find("--\n-- PostgreSQL database dump complete").expect("pg_dump's last lines");
    let hostile = format!("{}\n{payload}\n\n{}", &dump[..end], &dump[end..]);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("hostile.sql");
    std::fs::write(&path, hostile).unwrap();
    give_to_test_user(out.path());
    (path, out)
}

const GOOD: &str = "CREATE TABLE items (id int PRIMARY KEY, name text); \
                    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 25) g;";

/// `lifeboat test BACKUP --json` on the practice server as the test user.
fn drill(home: &Path, backup: &Path) -> (Output, Value) {
    let run = lifeboat_as_user(home)
        .args(["test", &backup.display().to_string(), "--practice", "--json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&run.stdout).unwrap_or(Value::Null);
    (run, report)
}

/// The drill stopped with `drill_permission_denied`, naming PostgreSQL's refusal.
fn assert_refused(run: &Output, report: &Value, refusal: &str) {
    assert_eq!(run.status.code(), Some(1), "{}", text(run));
    assert_eq!(report["error"]["code"], "drill_permission_denied", "{report:#}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("lifeboat_drill") && message.contains(refusal), "{message}");
    assert!(report["error"]["hint"].as_str().unwrap().contains("profile"), "{report:#}");
}

/// Runs SQL in the stopped practice cluster of `home` through postgres' single-user mode, as its
/// owner; returns what postgres printed.
fn in_practice_cluster(home: &Path, sql: &str) -> String {
    use std::io::Write;
    let data = practice_data(home);
    let major = lifeboat_system_tests::toolbox().practice_server().unwrap().major;
    let postgres = reachable_bundle().join(major.to_string()).join("bin").join("postgres");
    let mut child = as_test_user(&postgres)
        .args(["--single", "-D"])
        .arg(&data)
        .arg("postgres")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn practice_data(home: &Path) -> PathBuf {
    let major = lifeboat_system_tests::toolbox().practice_server().unwrap().major;
    home.join("practice").join(major.to_string()).join("data")
}

/// After a drill the cluster holds only what it started with: no drill role, no database but
/// postgres and the templates, no stand-in, nothing set by ALTER SYSTEM.
fn assert_cluster_clean(home: &Path) {
    let printed = in_practice_cluster(
        home,
        "SELECT 'role:' || rolname AS x FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> \
         'lifeboat' UNION ALL SELECT 'db:' || datname FROM pg_database WHERE datname NOT IN \
         ('postgres', 'template0', 'template1')\n",
    );
    let left: Vec<&str> = printed.lines().filter(|l| l.contains("x = \"")).collect();
    assert!(left.is_empty(), "left in the practice cluster: {left:?}");
    let auto = std::fs::read_to_string(practice_data(home).join("postgresql.auto.conf"))
        .unwrap_or_default();
    assert!(
        !auto.lines().any(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()),
        "{auto}"
    );
}

/// A good backup still passes on the same practice server.
fn assert_good_backup_passes(home: &Path, good: &Path) {
    let (run, report) = drill(home, good);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["restoredAs"]["name"], "lifeboat_drill", "{report:#}");
    assert_eq!(report["restoredAs"]["superuser"], false);
    assert!(report["restoredAs"]["warning"].is_null(), "{report:#}");
}

fn user_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    give_to_test_user(home.path());
    home
}

#[tokio::test]
async fn the_payload_is_real_as_a_superuser() {
    let server = PgServer::shared(18);
    let db = server.create_database("hostile_probe_drill_x").await;
    let canary = canary();
    let client = server.client(&db).await;
    client.batch_execute(&hostile_function("lb_probe", &canary, "")).await.unwrap();
    client.batch_execute("SELECT public.lb_probe(1)").await.unwrap();
    assert!(canary.exists(), "a superuser runs the payload: the test would prove nothing");
    let _ = std::fs::remove_file(&canary);
}

#[tokio::test]
async fn a_check_constraint_running_a_program_while_rows_load_is_refused() {
    let server = PgServer::shared(18);
    let canary = canary();
    let setup = format!(
        "{} CREATE TABLE public.victim (id int PRIMARY KEY CHECK (public.lb_check(id) = id)); \
         INSERT INTO public.victim SELECT generate_series(1, 3);",
        hostile_function("lb_check", &canary, "")
    );
    let (manifest, _, _out) = backup_of(&server, "hostile_check", &setup).await;
    let (good, _, _good_out) = backup_of(&server, "hostile_good", GOOD).await;
    let home = user_home();
    let (run, report) = drill(home.path(), &manifest);
    assert!(!canary.exists(), "the CHECK constraint ran a program on this computer");
    assert_refused(&run, &report, "permission denied to COPY to or from an external program");
    assert_cluster_clean(home.path());
    assert_good_backup_passes(home.path(), &good);
    assert_cluster_clean(home.path());
}

#[tokio::test]
async fn a_smoke_check_calling_a_restored_function_cannot_run_a_program() {
    let server = PgServer::shared(18);
    let canary = canary();
    let setup = format!("{} {GOOD}", hostile_function("lb_smoke", &canary, ""));
    let (manifest, db, _out) = backup_of(&server, "hostile_smoke", &setup).await;
    let home = user_home();
    let add = lifeboat_as_user(home.path())
        .args(["checks", "add", &db, "--sql", "SELECT public.lb_smoke(1)", "--expect", "rows"])
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", text(&add));
    let (run, report) = drill(home.path(), &manifest);
    assert!(!canary.exists(), "the smoke check ran a program on this computer");
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert_eq!(report["passed"], false, "{report:#}");
    let failure = report["failure"].as_str().unwrap();
    assert!(failure.starts_with("Your smoke checks"), "{failure}");
    assert!(failure.contains("permission denied"), "{failure}");
    assert_cluster_clean(home.path());
}

#[tokio::test]
async fn an_index_expression_pg_amcheck_evaluates_cannot_run_a_program() {
    let server = PgServer::shared(18);
    let canary = canary();
    // Harmless while the restore builds the index; the payload when pg_amcheck's bt_index_check
    // recomputes it from the table (heapallindexed).
    let setup = format!(
        "{} {GOOD} CREATE INDEX items_hostile ON items (public.lb_index(id));",
        hostile_function("lb_index", &canary, "bt_index")
    );
    let (manifest, _, _out) = backup_of(&server, "hostile_index", &setup).await;
    let home = user_home();
    let (run, report) = drill(home.path(), &manifest);
    assert!(!canary.exists(), "pg_amcheck ran a program on this computer");
    let amcheck = report["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["kind"] == "amcheck"))
        .unwrap_or_else(|| panic!("{}", text(&run)));
    let summary = amcheck["summary"].as_str().unwrap();
    assert_ne!(amcheck["status"], "passed", "{report:#}");
    assert!(summary.contains("permission denied"), "{summary}");
    assert_eq!(report["passed"], false, "{report:#}");
    assert_cluster_clean(home.path());
}

#[tokio::test]
async fn sql_in_a_plain_file_cannot_run_programs_or_change_the_server() {
    let server = PgServer::shared(18);
    let (good, _, _good_out) = backup_of(&server, "hostile_plain_good", GOOD).await;
    let home = user_home();
    let canary = canary();
    let c = canary.display();
    let payloads = [
        (
            format!("DO $$BEGIN EXECUTE '{}'; END$$;", touch(&canary)),
            "permission denied to COPY to or from an external program",
        ),
        (
            format!("SELECT 1; COPY (SELECT 1) TO PROGRAM 'touch {c}; cat > /dev/null';"),
            "permission denied to COPY to or from an external program",
        ),
        ("ALTER SYSTEM SET work_mem = '7MB';".to_owned(), "permission denied to set parameter"),
        (
            format!(
                "RESET ROLE;\nSET SESSION AUTHORIZATION lifeboat;\nCOPY (SELECT 1) TO PROGRAM 'touch {c}; cat > /dev/null';"
            ),
            "permission denied to set session authorization",
        ),
        (format!("COPY (SELECT 1) TO '{c}';"), "permission denied to COPY to a file"),
    ];
    for (n, (payload, refusal)) in payloads.iter().enumerate() {
        let (hostile, _out) = plain_with(&server, &format!("hostile_plain{n}"), payload).await;
        let (run, report) = drill(home.path(), &hostile);
        assert!(!canary.exists(), "payload {n} reached this computer: {payload}");
        assert_refused(&run, &report, refusal);
        assert_cluster_clean(home.path());
    }
    // What the drill role may do to itself and to databases of its own is undone after the drill:
    // a known password, settings that would break the next drill, a database left behind.
    let poison = "ALTER ROLE CURRENT_USER PASSWORD 'known-to-the-attacker';\n\
                  ALTER ROLE CURRENT_USER SET statement_timeout = '1ms';\n\
                  ALTER ROLE CURRENT_USER SET search_path = nowhere;\n\
                  CREATE DATABASE lb_hostile_leftover;\n";
    let (hostile, _out) = plain_with(&server, "hostile_poison", poison).await;
    let (run, _) = drill(home.path(), &hostile);
    assert!(run.status.code().is_some(), "{}", text(&run));
    assert_cluster_clean(home.path());
    assert_good_backup_passes(home.path(), &good);
    assert_cluster_clean(home.path());
}
