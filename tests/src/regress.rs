//! PostgreSQL's own regression database as a test corpus: the SQL of `src/test/regress` of
//! PostgreSQL 18 (fetched by `installers/fetch-regress.py`, nothing compiled), replayed with the
//! bundled psql in `parallel_schedule` order, one test at a time, the way pg_upgrade's tests
//! build the database they upgrade. Thousands of statements fail on purpose (and a few dozen
//! because the test library regress.so is not built); what is left is ~95 MB with every kind of
//! object PostgreSQL has.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::pg::{PgServer, SUPERUSER, quote_ident, toolbox};

/// The PostgreSQL release whose regression SQL is replayed (the pin of fetch-regress.py).
pub const REGRESS_VERSION: &str = "18.6";

/// Fewer user tables than this after a replay means the replay broke (the full one leaves
/// 725 with 18.6), not that PostgreSQL changed its tests.
const PLAUSIBLE_TABLES: i64 = 500;

/// The unpacked corpus: `parallel_schedule`, `sql/`, `data/`.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../installers/.cache")
        .join(format!("regress-{REGRESS_VERSION}"))
}

/// A regression database built by [`regression_database`].
pub struct RegressionDb {
    pub database: String,
    /// Tests replayed (each `test:` name of the schedule).
    pub tests: usize,
    /// Statements that failed during the replay (psql's `ERROR:` lines), most on purpose.
    pub errors: usize,
    /// Tables (plain and partitioned) outside the system schemas.
    pub tables: i64,
    /// `pg_database_size`.
    pub bytes: i64,
    pub duration: Duration,
    /// The replay's folder: the corpus copy, `results/`, and `output/<test>.out` (psql's echo
    /// of each test with its errors). Deleted with this value; kept when the replay fails.
    pub work: tempfile::TempDir,
}

/// The test names of `parallel_schedule`'s `test:` lines, in order.
pub fn schedule(corpus: &Path) -> Vec<String> {
    let text = fs::read_to_string(corpus.join("parallel_schedule"))
        .unwrap_or_else(|e| panic!("read {}: {e}", corpus.join("parallel_schedule").display()));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("test:"))
        .flat_map(|names| names.split_whitespace().map(str::to_owned))
        .collect()
}

/// Creates `name` on `server` as pg_regress does (template0, its database settings) and
/// replays the regression tests into it. Panics when the corpus is missing or the result is
/// implausibly small (a broken replay must not pass as a small database).
pub async fn regression_database(server: &PgServer, name: &str) -> RegressionDb {
    let corpus = corpus_dir();
    assert!(
        corpus.join("parallel_schedule").is_file() && corpus.join("sql").is_dir(),
        "PostgreSQL's regression SQL is missing from {}.\nRun `python3 installers/fetch-regress.py` \
         (also part of `make setup`) to fetch it; if it reports that the pinned file is gone from \
         Debian's pool, update its pin.",
        corpus.display()
    );
    let started = Instant::now();
    let work = tempfile::Builder::new().prefix("lifeboat-regress-").tempdir().unwrap();
    // The server's own user reads data/ (COPY FROM a file) and writes results/ (COPY TO):
    // the corpus is copied where it can, as the checkout may be in a private folder.
    let regress = work.path().join("regress");
    let mut copy = Command::new("cp");
    copy.arg("-a").arg(&corpus).arg(&regress);
    let copied = copy.status().expect("run cp");
    assert!(copied.success(), "copy {} to {}", corpus.display(), regress.display());
    for dir in ["regress/results", "lib", "output"] {
        fs::create_dir_all(work.path().join(dir)).unwrap();
    }
    for path in [work.path(), &regress] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(regress.join("results"), fs::Permissions::from_mode(0o777)).unwrap();

    let q = quote_ident(name);
    let setup = format!(
        "CREATE DATABASE {q} TEMPLATE=template0; \
         ALTER DATABASE {q} SET lc_messages TO 'C'; ALTER DATABASE {q} SET lc_monetary TO 'C'; \
         ALTER DATABASE {q} SET lc_numeric TO 'C'; ALTER DATABASE {q} SET lc_time TO 'C'; \
         ALTER DATABASE {q} SET bytea_output TO 'hex'; \
         ALTER DATABASE {q} SET timezone_abbreviations TO 'Default';"
    );
    let admin = server.client("postgres").await;
    for statement in setup.split_inclusive(';') {
        // CREATE DATABASE cannot run in the implicit transaction of a multi-statement batch.
        admin.batch_execute(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    let tests = schedule(&regress);
    let psql = toolbox()
        .get(server.major)
        .unwrap_or_else(|| panic!("major {} is not bundled", server.major))
        .bin_dir()
        .join("psql");
    let (port, password) = (server.port, server.superuser_password());
    let (dbname, folder) = (name.to_owned(), work.path().to_owned());
    let replayed = tests.clone();
    let errors = tokio::task::spawn_blocking(move || {
        replayed.iter().map(|test| replay(&psql, &folder, port, password, &dbname, test)).sum()
    })
    .await
    .unwrap();

    let tables = server
        .query_int(
            name,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%'",
        )
        .await;
    // test_setup loads tenk1 with COPY FROM a data file: the server could read the corpus.
    let tenk1 = server.query_int(name, "SELECT count(*) FROM public.tenk1").await;
    if tables < PLAUSIBLE_TABLES || tenk1 != 10_000 {
        let kept = work.keep();
        panic!(
            "the regression replay into {name} looks broken: {tables} tables (expected at least \
             {PLAUSIBLE_TABLES}), {tenk1} rows in tenk1 (expected 10000). psql's output of each \
             test is in {}",
            kept.join("output").display()
        );
    }
    let bytes = server.query_int(name, "SELECT pg_database_size(current_database())").await;
    RegressionDb {
        database: name.to_owned(),
        tests: tests.len(),
        errors,
        tables,
        bytes,
        duration: started.elapsed(),
        work,
    }
}

/// Runs one test's SQL with psql as pg_regress would, its output to `output/<test>.out`, and
/// returns the number of errors it printed. psql's exit status is not looked at: the tests
/// fail statements on purpose.
fn replay(
    psql: &Path,
    work: &Path,
    port: u16,
    password: Option<&str>,
    dbname: &str,
    test: &str,
) -> usize {
    let regress = work.join("regress");
    let out_path = work.join("output").join(format!("{test}.out"));
    let out = File::create(&out_path).unwrap();
    let mut command = Command::new(psql);
    command
        .args(["-X", "-a", "-q", "-v", "HIDE_TABLEAM=on", "-v", "HIDE_TOAST_COMPRESSION=on"])
        .args(["-d", dbname, "-f"])
        .arg(regress.join("sql").join(format!("{test}.sql")))
        .current_dir(&regress)
        // The tests read these with \getenv, so they are environment variables, not -v.
        .env("PG_ABS_SRCDIR", &regress)
        .env("PG_ABS_BUILDDIR", &regress)
        .env("PG_LIBDIR", work.join("lib"))
        .env("PG_DLSUFFIX", ".so")
        .env("PGTZ", "America/Los_Angeles")
        .env("PGDATESTYLE", "Postgres, MDY")
        .env("PGOPTIONS", "-c intervalstyle=postgres_verbose")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGUSER", SUPERUSER)
        .env("PGAPPNAME", format!("pg_regress/{test}"))
        .env_remove("PGSERVICE")
        .env_remove("PGPASSFILE")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    match password {
        Some(password) => command.env("PGPASSWORD", password),
        None => command.env_remove("PGPASSWORD"),
    };
    command.status().unwrap_or_else(|e| panic!("run {}: {e}", psql.display()));
    fs::read_to_string(&out_path)
        .map(|text| {
            text.lines().filter(|l| l.starts_with("psql:") && l.contains(": ERROR:")).count()
        })
        .unwrap_or(0)
}
