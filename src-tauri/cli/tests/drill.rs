//! `lifeboat verify` and `lifeboat test` on the local practice server, run as an unprivileged
//! user like a desktop user (PostgreSQL, and so the practice server, refuses root): a good backup
//! passes and no server process is left; a failing smoke check fails with exit 1; an interrupt
//! stops the drill and the practice server; as root the practice server is refused clearly.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{add_local_profile, lifeboat, lifeboat_as_user, text};
use lifeboat_system_tests::pg::{running_as_root, wait_until};
use lifeboat_system_tests::{
    PgServer, as_test_user, give_to_test_user, processes_with_cmdline, reachable_bundle,
};
use serde_json::Value;

/// A backup of a fresh database (made by root through a profile) in a folder the test user owns,
/// and a data folder for the test user. Returns (manifest, backups folder, user's home).
async fn backup_for_the_user(
    server: &PgServer,
    prefix: &str,
    setup: &str,
) -> (PathBuf, tempfile::TempDir, tempfile::TempDir) {
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
    let manifest = PathBuf::from(outcome["manifestPath"].as_str().unwrap());
    let user_home = tempfile::tempdir().unwrap();
    give_to_test_user(out.path());
    give_to_test_user(user_home.path());
    (manifest, out, user_home)
}

/// Processes of a practice server kept in `home`.
fn practice_processes(home: &Path) -> Vec<u32> {
    processes_with_cmdline(&home.join("practice").display().to_string())
}

const SHOP: &str = "CREATE TABLE items (id int PRIMARY KEY, name text); \
                    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 250) g;";

#[tokio::test]
async fn verify_and_a_drill_on_the_practice_server_from_the_command_line() {
    let server = PgServer::shared(16);
    let (manifest, _out, home) = backup_for_the_user(&server, "practice_ok", SHOP).await;
    let manifest_arg = manifest.display().to_string();

    let verify = lifeboat_as_user(home.path()).args(["verify", &manifest_arg]).output().unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(text(&verify).contains("1 file matches the checksums"), "{}", text(&verify));

    let run =
        lifeboat_as_user(home.path()).args(["test", &manifest_arg, "--json"]).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["target"], "practice server");
    let newest = lifeboat_system_tests::toolbox().practice_server().unwrap().major;
    assert!(report["serverVersion"].as_str().unwrap().starts_with(&format!("{newest}.")));
    let html = report["certificateHtml"].as_str().unwrap();
    assert!(std::fs::read_to_string(html).unwrap().contains("PASSED"));
    assert!(practice_processes(home.path()).is_empty(), "the practice server was stopped");
    // Other users of the computer cannot log in to it: a password, readable only by its owner.
    let newest_dir = home.path().join("practice").join(newest.to_string());
    if running_as_root() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(newest_dir.join("password")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let hba = std::fs::read_to_string(newest_dir.join("data/pg_hba.conf")).unwrap_or_default();
    assert!(!hba.lines().any(|l| !l.starts_with('#') && l.contains("trust")), "{hba}");

    // A smoke check that fails: exit 1, the query and what it gave; still nothing left running.
    let add = lifeboat_as_user(home.path())
        .args(["checks", "add", report["database"].as_str().unwrap()])
        .args(["--sql", "SELECT name FROM items WHERE id > 1000", "--expect", "rows"])
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", text(&add));
    let failed = lifeboat_as_user(home.path()).args(["test", &manifest_arg]).output().unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let printed = text(&failed);
    assert!(printed.contains("FAILED: Your smoke checks"), "{printed}");
    assert!(printed.contains("SELECT name FROM items WHERE id > 1000"), "{printed}");
    assert!(practice_processes(home.path()).is_empty());
}

#[tokio::test]
async fn an_interrupted_drill_stops_the_practice_server() {
    let server = PgServer::shared(18);
    let big = "CREATE TABLE big (id int PRIMARY KEY, noise text); \
               INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text) \
               FROM generate_series(1, 400000) g;";
    let (manifest, _out, home) = backup_for_the_user(&server, "practice_stop", big).await;
    // The database's name, as the manifest's file name starts with it; other tests' drills run
    // at the same time, so only this one's scratch database counts.
    let name = manifest.file_name().unwrap().to_string_lossy().into_owned();
    let scratch = format!("{}_drill_", &name[..name.find("-20").unwrap()]);
    let child = lifeboat_as_user(home.path())
        .args(["test", &manifest.display().to_string(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once pg_restore loads the scratch database, interrupt lifeboat (not runuser around it).
    // (pg_restore's arguments name the scratch database.)
    let loading =
        wait_until(Duration::from_secs(60), || !processes_with_cmdline(&scratch).is_empty());
    assert!(loading, "the drill never started restoring");
    let manifest_text = manifest.display().to_string();
    for pid in processes_with_cmdline(&manifest_text) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "runuser" {
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
        }
    }
    let output =
        tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["code"], "cancelled", "{error:#}");
    assert!(
        wait_until(Duration::from_secs(10), || practice_processes(home.path()).is_empty()),
        "a practice server process is left: {:?}",
        practice_processes(home.path())
    );
}

#[test]
fn as_root_the_practice_server_is_refused_with_a_way_out() {
    if !running_as_root() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let backup = home.path().join("x.sql");
    std::fs::write(
        &backup,
        "--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n",
    )
    .unwrap();
    let run = lifeboat(home.path(), &["test", &backup.display().to_string(), "--json"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let error: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(error["error"]["code"], "practice_server_as_root");
    assert!(error["error"]["hint"].as_str().unwrap().contains("profile"));
}

/// A database whose application roles own a schema and a table, are granted privileges, are
/// named in a row-level security policy and in default privileges. The roles exist on the
/// harness server, as at home; the practice server has none of them.
const APP_ROLES: &str = r#"
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lb_pr_owner') THEN
        CREATE ROLE lb_pr_owner NOLOGIN; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lb_pr_reader') THEN
        CREATE ROLE lb_pr_reader NOLOGIN; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lb_pr_auditor') THEN
        CREATE ROLE lb_pr_auditor NOLOGIN; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lb pr "Odd"') THEN
        CREATE ROLE "lb pr ""Odd""" NOLOGIN; END IF;
    END $$;
    CREATE SCHEMA app AUTHORIZATION lb_pr_owner;
    CREATE TABLE app.orders (id int PRIMARY KEY, placed_by text);
    ALTER TABLE app.orders OWNER TO lb_pr_owner;
    INSERT INTO app.orders VALUES (1, 'ada'), (2, 'bob');
    ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
    CREATE POLICY audit_rows ON app.orders FOR SELECT TO lb_pr_auditor
      USING (placed_by IS DISTINCT FROM 'nobody');
    GRANT USAGE ON SCHEMA app TO lb_pr_reader;
    GRANT SELECT ON app.orders TO lb_pr_reader;
    ALTER DEFAULT PRIVILEGES FOR ROLE lb_pr_owner IN SCHEMA app
      GRANT SELECT ON TABLES TO "lb pr ""Odd""";
"#;

/// The mark Lifeboat puts on the roles it stands in for (the contract of crash recovery).
const STAND_IN_MARK: &str = "Stood in by Lifeboat for a restore drill; dropped after it.";

/// Runs SQL in the stopped practice cluster of `home` through postgres' single-user mode, as its
/// owner; returns what postgres printed.
fn in_practice_cluster(home: &Path, sql: &str) -> String {
    use std::io::Write;
    let major = lifeboat_system_tests::toolbox().practice_server().unwrap().major;
    let postgres = reachable_bundle().join(major.to_string()).join("bin").join("postgres");
    let data = home.join("practice").join(major.to_string()).join("data");
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

/// The roles of the practice cluster whose names start with `lb_pr` or `lb pr`.
fn practice_roles(home: &Path) -> Vec<String> {
    let printed = in_practice_cluster(
        home,
        "SELECT rolname FROM pg_roles WHERE rolname ~ '^lb[_ ]pr' ORDER BY 1\n",
    );
    printed
        .lines()
        .filter_map(|l| l.split_once("rolname = \"")?.1.rsplit_once("\"\t").map(|(n, _)| n.into()))
        .collect()
}

#[tokio::test]
async fn a_drill_on_the_practice_server_stands_in_for_the_roles_the_backup_names() {
    let server = PgServer::shared(18);
    let (manifest, _out, home) = backup_for_the_user(&server, "practice_roles", APP_ROLES).await;
    let manifest_arg = manifest.display().to_string();
    let drill = |home: &Path| {
        let run = lifeboat_as_user(home)
            .args(["test", &manifest_arg, "--practice", "--json"])
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", text(&run));
        let report: Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(report["passed"], true, "{report:#}");
        report
    };
    let report = drill(home.path());
    let stood_in: Vec<&str> =
        report["stoodInRoles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for role in ["lb_pr_owner", "lb_pr_reader", "lb_pr_auditor", "lb pr \"Odd\""] {
        assert!(stood_in.contains(&role), "{role} not stood in for: {stood_in:?}");
    }
    // `postgres` (the source's superuser, named by owners and grants) is stood in for as a plain
    // role; the practice superuser and predefined roles never.
    assert!(stood_in.contains(&"postgres"), "{stood_in:?}");
    assert!(!stood_in.iter().any(|r| *r == "lifeboat" || r.starts_with("pg_")));
    let html = std::fs::read_to_string(report["certificateHtml"].as_str().unwrap()).unwrap();
    assert!(html.contains("Roles stood in for"), "{html}");
    assert!(practice_processes(home.path()).is_empty(), "the practice server was stopped");
    assert_eq!(practice_roles(home.path()), Vec::<String>::new(), "stand-ins were dropped");

    // A crash left a stand-in behind: the next start drops it, and never a role without the mark.
    in_practice_cluster(
        home.path(),
        &format!(
            "CREATE ROLE lb_pr_stale NOLOGIN\nCOMMENT ON ROLE lb_pr_stale IS '{STAND_IN_MARK}'\n\
             CREATE ROLE lb_pr_kept NOLOGIN\n"
        ),
    );
    let text_run = lifeboat_as_user(home.path()).args(["test", &manifest_arg]).output().unwrap();
    assert_eq!(text_run.status.code(), Some(0), "{}", text(&text_run));
    assert!(text(&text_run).contains("Roles stood in for: "), "{}", text(&text_run));
    assert_eq!(practice_roles(home.path()), ["lb_pr_kept"]);
}
