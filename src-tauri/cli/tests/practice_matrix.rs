//! Scoped backups drilled on the practice server (issue 11): one database with application
//! roles in a policy, grants, default privileges and ownership, inheritance children, a
//! partitioned table, several schemas and extensions, a cross-schema foreign key and a trigger
//! calling a function of another schema. For each format (one test each, so they run in
//! parallel) and each scope option, a backup made by root through a profile passes its drill on
//! the practice server of an unprivileged user; a plain backup that would have to leave out a
//! trigger or a function is refused, saying so; a flipped byte fails the drill naming the file.
//! Every (format, scope, step) runs and the test fails at the end naming each that failed. (A
//! changed row is not tried here: the command line cannot change the scratch database during a
//! drill; the engine's tests do, through `DrillRequest::tamper`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{add_local_profile, json, lifeboat, lifeboat_as_user, text};
use lifeboat_system_tests::{PgServer, give_to_test_user};
use serde_json::Value;

/// The application roles, on the shared server (other test processes may create them at the
/// same moment: a lost race is no error).
const ROLES: &str = r#"
    DO $$
    DECLARE r text;
    BEGIN
      FOREACH r IN ARRAY ARRAY['lb_pm_owner', 'lb_pm_reader', 'lb_pm_auditor'] LOOP
        BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
      END LOOP;
    END $$;
"#;

/// The database: `app` (owned by an application role; RLS, grants, default privileges, an
/// identity and a serial column, an hstore column, inheritance children, a partitioned table, a
/// trigger calling a function of `audit`, a foreign key to `ref`), `ref` (with citext installed
/// in it), `audit` (the log the trigger writes) and a view in `public` over `app`.
const DATA: &str = r#"
    CREATE EXTENSION IF NOT EXISTS hstore;
    CREATE SCHEMA app AUTHORIZATION lb_pm_owner;
    CREATE SCHEMA ref;
    CREATE SCHEMA audit;
    CREATE EXTENSION citext WITH SCHEMA ref;

    CREATE TABLE ref.countries (code char(2) PRIMARY KEY, name ref.citext NOT NULL UNIQUE);
    INSERT INTO ref.countries VALUES ('FR', 'France'), ('DE', 'Germany'), ('JP', 'Japan');

    CREATE TABLE audit.log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      tbl text NOT NULL,
      row_id bigint,
      op text NOT NULL
    );
    CREATE FUNCTION audit.log_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO audit.log (tbl, row_id, op)
        VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, NEW.id, TG_OP);
      RETURN NEW;
    END $fn$;

    CREATE TABLE app.orders (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      country char(2) NOT NULL REFERENCES ref.countries (code),
      placed_by text NOT NULL,
      total numeric(10, 2) NOT NULL
    );
    CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON app.orders
      FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    INSERT INTO app.orders (country, placed_by, total)
      SELECT (ARRAY['FR', 'DE', 'JP'])[1 + g % 3], 'user ' || g, g * 1.5
      FROM generate_series(1, 30) g;
    ALTER TABLE app.orders OWNER TO lb_pm_owner;
    ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
    CREATE POLICY orders_for_auditors ON app.orders FOR SELECT TO lb_pm_auditor
      USING (total > 0);
    GRANT USAGE ON SCHEMA app TO lb_pm_reader, lb_pm_auditor;
    GRANT SELECT ON app.orders TO lb_pm_reader, lb_pm_auditor;
    ALTER DEFAULT PRIVILEGES FOR ROLE lb_pm_owner IN SCHEMA app
      GRANT SELECT ON TABLES TO lb_pm_reader;

    CREATE TABLE app.products (id serial PRIMARY KEY, name text NOT NULL, attrs public.hstore);
    INSERT INTO app.products (name, attrs)
      SELECT 'product ' || g, hstore('colour', CASE WHEN g % 2 = 0 THEN 'red' ELSE 'blue' END)
      FROM generate_series(1, 20) g;
    ALTER TABLE app.products OWNER TO lb_pm_owner;

    CREATE TABLE app.events (id int, at date NOT NULL, what text);
    CREATE TABLE app.events_2024 () INHERITS (app.events);
    CREATE TABLE app.events_2025 () INHERITS (app.events);
    INSERT INTO app.events VALUES (1, '2023-06-01', 'in the parent');
    INSERT INTO app.events_2024 SELECT g, date '2024-01-01' + g, 'e' || g
      FROM generate_series(1, 7) g;
    INSERT INTO app.events_2025 SELECT g, date '2025-01-01' + g, 'e' || g
      FROM generate_series(1, 5) g;

    CREATE TABLE app.measurements (id int, taken date NOT NULL, value double precision)
      PARTITION BY RANGE (taken);
    CREATE TABLE app.measurements_h1 PARTITION OF app.measurements
      FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
    CREATE TABLE app.measurements_h2 PARTITION OF app.measurements
      FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');
    INSERT INTO app.measurements SELECT g, date '2025-01-01' + g, g / 3.0
      FROM generate_series(1, 300) g;

    CREATE TABLE app.visits (id serial PRIMARY KEY, page text, seen_at timestamptz DEFAULT now());
    INSERT INTO app.visits (page) SELECT '/page/' || g FROM generate_series(1, 50) g;

    CREATE VIEW public.app_overview AS
      SELECT 'orders' AS what, count(*) AS n FROM app.orders
      UNION ALL SELECT 'products', count(*) FROM app.products;
"#;

/// The table nothing depends on, for `--exclude-table`.
const UNNEEDED_TABLE: &str = "app.visits";

/// What a plain backup says when it would have to leave out single objects.
const PLAIN_REFUSAL: &str = "a plain SQL backup is restored whole, so it cannot leave out";

/// One scope option: its `lifeboat backup` arguments; whether a plain backup of it would have to
/// leave out single objects (a trigger, a foreign key) and so is refused; whether it makes one
/// file per schema, each drilled with `lifeboat test MANIFEST --schema S`.
struct Scope {
    name: &'static str,
    args: &'static [&'static str],
    plain_refused: bool,
    per_schema: bool,
}

const SCOPES: &[Scope] = &[
    Scope { name: "whole database", args: &[], plain_refused: false, per_schema: false },
    Scope {
        name: "--schema app",
        args: &["--schema", "app", "--keep-needed"],
        plain_refused: false,
        per_schema: false,
    },
    Scope {
        name: "--exclude-schema audit",
        args: &["--exclude-schema", "audit", "--leave-out-dependents"],
        plain_refused: true,
        per_schema: false,
    },
    Scope {
        name: "--table app.orders",
        args: &["--table", "app.orders", "--keep-needed", "--leave-out-dependents"],
        plain_refused: true,
        per_schema: false,
    },
    Scope {
        name: "--exclude-table app.visits",
        args: &["--exclude-table", UNNEEDED_TABLE],
        plain_refused: false,
        per_schema: false,
    },
    Scope {
        name: "--schema-only",
        args: &["--schema-only"],
        plain_refused: false,
        per_schema: false,
    },
    // The trigger and the foreign key of app need audit and ref, which are other files: each
    // file leaves them out, which a plain file cannot.
    Scope {
        name: "--per-schema",
        args: &["--per-schema", "--keep-needed", "--leave-out-dependents"],
        plain_refused: true,
        per_schema: true,
    },
];

/// One step's result for the closing summary.
struct Step {
    scope: &'static str,
    name: String,
    took: Duration,
    failure: Option<String>,
}

/// `lifeboat test MANIFEST [--schema S] --practice --json` as the test user, timed.
fn practice_drill(home: &Path, manifest: &Path, schema: Option<&str>) -> (Output, Duration) {
    let started = Instant::now();
    let mut command = lifeboat_as_user(home);
    command.arg("test").arg(manifest);
    if let Some(schema) = schema {
        command.args(["--schema", schema]);
    }
    let output = command.args(["--practice", "--json"]).output().unwrap();
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

/// A drill's outcome: `None` when it exited 0 and reported PASSED on the practice server.
fn drill_outcome(output: &Output) -> Option<String> {
    let passed = output.status.code() == Some(0)
        && serde_json::from_slice::<Value>(&output.stdout)
            .map(|r| r["passed"] == true && r["target"] == "practice server")
            .unwrap_or(false);
    (!passed).then(|| drill_failure(output))
}

/// A backup's warnings (what was kept or left out), for the log.
fn warnings(outcome: &Value) -> String {
    let list: Vec<&str> =
        outcome["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if list.is_empty() { "no warnings".to_owned() } else { list.join(" | ") }
}

/// Backs the database up as root in `format` and `scope`, drills each file on the practice
/// server as the test user, and returns the steps. `flip_byte` afterwards damages the (single)
/// dump file and expects the drill to fail naming it.
fn run_scope(
    admin: &Path,
    user: &Path,
    db: &str,
    format: &str,
    scope: &'static Scope,
    flip_byte: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let args = [
        &["backup", "--profile", "local", "--database", db, "--format", format][..],
        scope.args,
        &["--out", &out_dir, "--json"],
    ]
    .concat();
    let started = Instant::now();
    let made = lifeboat(admin, &args);
    let took = started.elapsed();
    let step =
        |name: &str, took, failure| Step { scope: scope.name, name: name.into(), took, failure };

    // A plain file restores whole: leaving out a trigger or function is refused, saying so.
    if format == "plain" && scope.plain_refused {
        let output: Value = serde_json::from_slice(&made.stdout).unwrap_or(Value::Null);
        let error = &output["error"];
        let refused = made.status.code() == Some(1)
            && error["code"] == "invalid_input"
            && error["message"].as_str().is_some_and(|m| m.contains(PLAIN_REFUSAL));
        let failure = (!refused)
            .then(|| format!("expected the refusal \"{PLAIN_REFUSAL} …\", got:\n{}", text(&made)));
        if refused {
            eprintln!("[{format}] {}: refused as designed: {}", scope.name, error["message"]);
        }
        steps.push(step("backup refused (plain)", took, failure));
        return steps;
    }

    if !made.status.success() {
        let failure = format!("lifeboat {}:\n{}", args.join(" "), text(&made));
        steps.push(step("backup", took, Some(failure)));
        return steps;
    }
    let outcome = json(&made);
    let manifest = PathBuf::from(outcome["manifestPath"].as_str().unwrap());
    let recorded: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    eprintln!(
        "[{format}] {}: backup in {:.1} s, {} table(s), left out {}; {}",
        scope.name,
        took.as_secs_f64(),
        recorded["tables"].as_array().map_or(0, Vec::len),
        recorded.get("leftOut").unwrap_or(&Value::Null),
        warnings(&outcome)
    );
    steps.push(step("backup", took, None));
    give_to_test_user(out.path());

    let dumps: Vec<&Value> =
        outcome["files"].as_array().unwrap().iter().filter(|f| f["role"] == "dump").collect();
    if scope.per_schema {
        // A directory backup lists every file of each schema's folder.
        let mut schemas: Vec<&str> = dumps.iter().filter_map(|f| f["schema"].as_str()).collect();
        schemas.sort_unstable();
        schemas.dedup();
        for wanted in ["app", "ref", "audit"] {
            if !schemas.contains(&wanted) {
                let failure = format!("no file for schema {wanted}: {:#}", outcome["files"]);
                steps.push(step("per-schema files", Duration::ZERO, Some(failure)));
            }
        }
        for schema in schemas {
            let (drilled, took) = practice_drill(user, &manifest, Some(schema));
            let failure = drill_outcome(&drilled);
            steps.push(step(&format!("practice drill of schema {schema}"), took, failure));
        }
    } else {
        let (drilled, took) = practice_drill(user, &manifest, None);
        steps.push(step("practice drill", took, drill_outcome(&drilled)));
    }

    if flip_byte {
        steps.push(flipped_byte_fails(user, out.path(), &manifest, &dumps, scope.name));
    }
    steps
}

/// Flips one byte in the middle of the one dump file: the drill fails (exit 1), naming it.
fn flipped_byte_fails(
    user: &Path,
    out: &Path,
    manifest: &Path,
    dumps: &[&Value],
    scope: &'static str,
) -> Step {
    let name = dumps[0]["name"].as_str().unwrap();
    let file = out.join(name);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&file, &bytes).unwrap();
    let (drilled, took) = practice_drill(user, manifest, None);
    let report: Value = serde_json::from_slice(&drilled.stdout).unwrap_or(Value::Null);
    let failed = drilled.status.code() == Some(1) && report["passed"] == false;
    let names_it = String::from_utf8_lossy(&drilled.stdout).contains(name);
    let failure = (!failed || !names_it).then(|| {
        format!(
            "a flipped byte in {name} must fail the drill (exit 1, passed false) naming the \
             file; got:\n{}",
            text(&drilled)
        )
    });
    if failure.is_none() {
        eprintln!("flipped byte: the drill failed: {}", report["failure"]);
    }
    Step { scope, name: "flipped byte fails the drill".into(), took, failure }
}

/// Every scope of `format`, each failure collected, the verdict at the end.
async fn practice_drills_pass_for_every_scope(format: &str) {
    let started = Instant::now();
    let server = PgServer::shared(18);
    server.client("postgres").await.batch_execute(ROLES).await.unwrap();
    let db = server.create_database(&format!("lb_pm_{format}")).await;
    server.client(&db).await.batch_execute(DATA).await.unwrap();
    let admin = tempfile::tempdir().unwrap();
    add_local_profile(admin.path(), &server);
    let user = tempfile::tempdir().unwrap();
    give_to_test_user(user.path());

    let mut steps = Vec::new();
    for scope in SCOPES {
        let flip_byte = format == "custom" && scope.args.is_empty();
        steps.extend(run_scope(admin.path(), user.path(), &db, format, scope, flip_byte));
    }

    eprintln!("\n{format}: {:.1} s in all", started.elapsed().as_secs_f64());
    for step in &steps {
        let verdict = if step.failure.is_some() { "FAILED" } else { "passed" };
        eprintln!(
            "{format:<9} {:<28} {:<34} {verdict:<6} {:>6.1} s",
            step.scope,
            step.name,
            step.took.as_secs_f64()
        );
    }
    let failed: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            s.failure.as_ref().map(|f| format!("== {format} / {} / {} ==\n{f}", s.scope, s.name))
        })
        .collect();
    assert!(failed.is_empty(), "{} step(s) failed:\n{}", failed.len(), failed.join("\n\n"));
}

#[tokio::test]
async fn scoped_custom_backups_pass_practice_drills() {
    practice_drills_pass_for_every_scope("custom").await;
}

#[tokio::test]
async fn scoped_directory_backups_pass_practice_drills() {
    practice_drills_pass_for_every_scope("directory").await;
}

#[tokio::test]
async fn scoped_tar_backups_pass_practice_drills() {
    practice_drills_pass_for_every_scope("tar").await;
}

#[tokio::test]
async fn scoped_plain_backups_pass_practice_drills() {
    practice_drills_pass_for_every_scope("plain").await;
}
