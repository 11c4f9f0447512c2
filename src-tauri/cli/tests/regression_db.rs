//! PostgreSQL's own regression database (the SQL of src/test/regress of PostgreSQL 18, replayed
//! in parallel_schedule order as pg_upgrade's tests do; see lifeboat_system_tests::regress) on
//! 18: a backup, its drill on the same server and on the practice server (which, restoring as an
//! unprivileged role, stops naming the first entry that needs a superuser), a restore, and a
//! one-schema (public) backup with its drill all pass. The database is built once (~40 s); the
//! steps after the backup all run and the test fails at the end naming each that failed, so one
//! run shows every problem.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{add_profile, json, lifeboat, lifeboat_as_user, text};
use lifeboat_system_tests::{PgServer, give_to_test_user, regression_database};
use serde_json::Value;

const PROFILE: &str = "regress";
const DATABASE: &str = "regression";

/// One step's result for the closing summary.
struct Step {
    name: &'static str,
    took: Duration,
    failure: Option<String>,
}

/// Runs `lifeboat ARGS` as root (the harness's user), timed.
fn timed(home: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = lifeboat(home, args);
    (output, started.elapsed())
}

/// What a failed `lifeboat test --json` said: the failure, the failed steps and checks, or the
/// error document; the whole output when it is not JSON.
fn drill_failure(output: &Output) -> String {
    let Ok(report) = serde_json::from_slice::<Value>(&output.stdout) else {
        return text(output);
    };
    if let Some(error) = report.get("error") {
        return format!("exit {:?}: {error}", output.status.code());
    }
    let mut lines = vec![format!(
        "exit {:?}: {}",
        output.status.code(),
        report["failure"].as_str().unwrap_or("(no failure given)")
    )];
    for step in report["steps"].as_array().into_iter().flatten() {
        if !step["status"].as_str().unwrap_or_default().eq_ignore_ascii_case("failed") {
            continue;
        }
        lines.push(format!("  step {}: {}", step["kind"], step["summary"].as_str().unwrap_or("")));
        for check in step["checks"].as_array().into_iter().flatten() {
            if check["passed"] == false {
                lines.push(format!(
                    "    check {}: expected {} / actual {}",
                    check["name"], check["expected"], check["actual"]
                ));
            }
        }
    }
    lines.join("\n")
}

/// A drill's outcome: `None` when it exited 0 and reported PASSED.
fn drill_outcome(output: &Output) -> Option<String> {
    let passed = output.status.code() == Some(0)
        && serde_json::from_slice::<Value>(&output.stdout)
            .map(|r| r["passed"] == true)
            .unwrap_or(false);
    (!passed).then(|| drill_failure(output))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Makes a backup and returns (outcome JSON, manifest path, how long it took), or what
/// `lifeboat` printed when it failed.
fn backup(home: &Path, out: &Path, extra: &[&str]) -> Result<(Value, PathBuf, Duration), String> {
    let out_dir = out.display().to_string();
    let args = [
        &["backup", "--profile", PROFILE, "--database", DATABASE, "--out", &out_dir, "--json"][..],
        extra,
    ]
    .concat();
    let (made, took) = timed(home, &args);
    if !made.status.success() {
        return Err(format!("lifeboat {}:\n{}", args.join(" "), text(&made)));
    }
    let outcome = json(&made);
    let manifest = PathBuf::from(outcome["manifestPath"].as_str().unwrap());
    Ok((outcome, manifest, took))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_regression_database_backs_up_drills_and_restores() {
    let server = PgServer::start(18);
    let mut steps: Vec<Step> = Vec::new();

    // 1. The regression database.
    let built = regression_database(&server, DATABASE).await;
    eprintln!(
        "regression database: {} tests replayed in {:.1} s ({} statements failed on purpose or \
         for want of regress.so), {} tables, {} on the server",
        built.tests,
        built.duration.as_secs_f64(),
        built.errors,
        built.tables,
        mb(built.bytes as u64)
    );

    let home = tempfile::tempdir().unwrap();
    add_profile(home.path(), &server, PROFILE);

    // 2. A backup of the whole database (default format), its manifest and a full read.
    let out = tempfile::tempdir().unwrap();
    let (outcome, manifest, took) =
        backup(home.path(), out.path(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let manifest_arg = manifest.display().to_string();
    let recorded = read_json(&manifest);
    let tables = recorded["tables"].as_array().unwrap().len();
    assert!(tables > 600, "the manifest lists only {tables} tables");
    let objects = &recorded["objectCounts"];
    let verified = lifeboat(home.path(), &["verify", &manifest_arg, "--json"]);
    assert!(verified.status.success(), "{}", text(&verified));
    let verified = json(&verified);
    eprintln!(
        "backup: {:.1} s, {} ({}), {tables} tables in the manifest, {} archive entries, \
         {} of SQL; object counts {objects}",
        took.as_secs_f64(),
        mb(outcome["sizeBytes"].as_u64().unwrap()),
        outcome["files"][0]["name"].as_str().unwrap(),
        verified["entries"],
        mb(verified["sqlBytes"].as_u64().unwrap_or(0)),
    );
    steps.push(Step { name: "backup", took, failure: None });

    // 3. Its drill on the same server.
    let (drilled, took) =
        timed(home.path(), &["test", &manifest_arg, "--profile", PROFILE, "--json"]);
    steps.push(Step { name: "drill on the profile", took, failure: drill_outcome(&drilled) });

    // 4. Its drill on the practice server, as an unprivileged user (it refuses root).
    give_to_test_user(out.path());
    let user_home = tempfile::tempdir().unwrap();
    give_to_test_user(user_home.path());
    let started = Instant::now();
    let practice = lifeboat_as_user(user_home.path())
        .args(["test", &manifest_arg, "--practice", "--json"])
        .output()
        .unwrap();
    // The practice server restores as an unprivileged role (a backup is untrusted input), and the
    // regression database holds what only a superuser or a type's owner may create (a transform
    // for integer …): the drill stops with drill_permission_denied, naming it, and records
    // nothing. Leaving such entries out on the practice server is not built yet.
    let refused = serde_json::from_slice::<Value>(&practice.stdout)
        .is_ok_and(|r| r["error"]["code"] == "drill_permission_denied");
    steps.push(Step {
        name: "drill on the practice server",
        took: started.elapsed(),
        failure: if refused { None } else { drill_outcome(&practice) },
    });

    // 5. A restore into a new database, compared with the source.
    let restored_db = "regression_restored";
    let (restored, took) = timed(
        home.path(),
        &["restore", &manifest_arg, "--profile", PROFILE, "--target-db", restored_db, "--json"],
    );
    let mut failure = None;
    if restored.status.success() {
        let report = json(&restored);
        eprintln!(
            "restore: {} entries restored, {} skipped, {} errors",
            report["restoredEntries"],
            report["skippedEntries"],
            report["errors"].as_array().map_or(0, Vec::len)
        );
        for sql in [
            "SELECT count(*) FROM public.tenk1",
            "SELECT count(*) FROM public.onek",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', \
             'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        ] {
            let (source, copy) =
                (server.query_int(DATABASE, sql).await, server.query_int(restored_db, sql).await);
            if source != copy {
                failure = Some(format!("{sql}: {source} in the source, {copy} restored"));
            }
        }
    } else {
        failure = Some(text(&restored));
    }
    steps.push(Step { name: "restore", took, failure });

    // 6. A backup of the schema public alone, leaving out what needs objects outside it, and
    // its drill on the profile.
    let scoped = tempfile::tempdir().unwrap();
    let started = Instant::now();
    match backup(home.path(), scoped.path(), &["--schema", "public", "--leave-out-dependents"]) {
        Ok((outcome, scoped_manifest, took)) => {
            let scoped_recorded = read_json(&scoped_manifest);
            eprintln!(
                "public backup: {:.1} s, {}, {} tables, scope {}, left out {}",
                took.as_secs_f64(),
                mb(outcome["sizeBytes"].as_u64().unwrap()),
                scoped_recorded["tables"].as_array().unwrap().len(),
                scoped_recorded["scope"],
                scoped_recorded.get("leftOut").unwrap_or(&Value::Null)
            );
            // Leaving out what needs objects outside public must not leave out most of it.
            let kept = scoped_recorded["tables"].as_array().unwrap().len();
            let failure = (kept < 500).then(|| format!("only {kept} tables of public were kept"));
            steps.push(Step { name: "public backup", took, failure });
            let scoped_arg = scoped_manifest.display().to_string();
            let (drilled, took) =
                timed(home.path(), &["test", &scoped_arg, "--profile", PROFILE, "--json"]);
            let failure = drill_outcome(&drilled);
            steps.push(Step { name: "drill of the public backup", took, failure });
        }
        Err(failure) => {
            let took = started.elapsed();
            steps.push(Step { name: "public backup", took, failure: Some(failure) });
        }
    }

    // 7. The summary, then the verdict.
    eprintln!("\nregression database build: {:.1} s", built.duration.as_secs_f64());
    for step in &steps {
        let verdict = if step.failure.is_some() { "FAILED" } else { "passed" };
        eprintln!("{:<30} {verdict:<6} {:>6.1} s", step.name, step.took.as_secs_f64());
    }
    let failed: Vec<String> = steps
        .iter()
        .filter_map(|s| s.failure.as_ref().map(|f| format!("== {} ==\n{f}", s.name)))
        .collect();
    assert!(failed.is_empty(), "{} step(s) failed:\n{}", failed.len(), failed.join("\n\n"));
}
