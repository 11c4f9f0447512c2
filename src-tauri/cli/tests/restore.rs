//! `lifeboat restore` against a real server: the dry run prints the plan and changes nothing, a
//! restore creates the database with the rows, a blocker exits 1 with its code in `--json`.

mod common;

use common::{add_local_profile, json, lifeboat, text};
use lifeboat_system_tests::PgServer;

async fn databases(server: &PgServer) -> Vec<String> {
    server
        .client("postgres")
        .await
        .query("SELECT datname::text FROM pg_database", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A data folder with the profile "local" for `server`, and a backup of `db` made by
/// `lifeboat backup` into a folder of its own; the backup's main file.
fn backed_up(server: &PgServer, db: &str) -> (tempfile::TempDir, tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), server);
    let out_dir = out.path().display().to_string();
    let made = lifeboat(
        home.path(),
        &["backup", "--profile", "local", "--database", db, "--out", &out_dir, "--json"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let file = out.path().join(json(&made)["files"][0]["name"].as_str().unwrap());
    (home, out, file.display().to_string())
}

#[tokio::test]
async fn dry_run_restore_and_blocker_from_the_command_line() {
    let server = PgServer::shared(18);
    let db = server.create_database("cli_restore").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.items (id int PRIMARY KEY, name text); \
             CREATE TABLE public.notes (id int, note text); \
             INSERT INTO shop.items SELECT g, 'item ' || g FROM generate_series(1, 64) g",
        )
        .await
        .unwrap();
    let (home, out, file) = backed_up(&server, &db);
    let prefix = format!("{db}_restored_");

    // The dry run says what would happen and changes nothing.
    let dry = lifeboat(home.path(), &["restore", &file, "--profile", "local", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(printed.contains(&format!("Creates database {prefix}")), "{printed}");
    assert!(printed.contains("checksums_verified"), "{printed}");
    assert!(!databases(&server).await.iter().any(|d| d.starts_with(&prefix)));
    let plan = json(&lifeboat(
        home.path(),
        &["restore", &file, "--profile", "local", "--dry-run", "--json"],
    ));
    assert_eq!(plan["method"]["kind"], "pg_restore");
    assert_eq!(plan["blocked"], false);

    // The restore creates the database with every row.
    let run = lifeboat(home.path(), &["restore", &file, "--profile", "local", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let outcome = json(&run);
    let restored = outcome["database"].as_str().unwrap().to_owned();
    assert!(restored.starts_with(&prefix), "{restored}");
    assert_eq!(outcome["created"], true);
    let rows = server.query_int(&restored, "SELECT count(*) FROM shop.items").await;
    assert_eq!(rows, 64);

    // Only what is chosen: --exclude-schema and --table, with what was left out in the plan.
    let only_public = lifeboat(
        home.path(),
        &[
            "restore",
            &file,
            "--profile",
            "local",
            "--exclude-schema",
            "shop",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(only_public.status.code(), Some(0), "{}", text(&only_public));
    let left_out: Vec<String> = json(&only_public)["leftOut"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{} {}", l["kind"].as_str().unwrap(), l["name"].as_str().unwrap()))
        .collect();
    assert!(left_out.contains(&"SCHEMA shop".to_owned()), "{left_out:?}");
    assert!(left_out.contains(&"TABLE DATA items".to_owned()), "{left_out:?}");
    let one_table = lifeboat(
        home.path(),
        &["restore", &file, "--profile", "local", "--table", "shop.items", "--target-db", "one_t"],
    );
    assert_eq!(one_table.status.code(), Some(0), "{}", text(&one_table));
    let rows = server.query_int("one_t", "SELECT count(*) FROM shop.items").await;
    assert_eq!(rows, 64);
    let typo =
        lifeboat(home.path(), &["restore", &file, "--profile", "local", "--schema", "shopp"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(text(&typo).contains("no schema shopp"), "{}", text(&typo));

    // Into the now non-empty database: blocked, exit 1, the finding's code in the JSON.
    let blocked =
        lifeboat(home.path(), &["restore", &file, "--profile", "local", "--target-db", &restored]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(text(&blocked).contains("not empty"), "{}", text(&blocked));
    let blocked_json = lifeboat(
        home.path(),
        &["restore", &file, "--profile", "local", "--target-db", &restored, "--json"],
    );
    assert_eq!(blocked_json.status.code(), Some(1));
    let error = json(&blocked_json);
    assert_eq!(error["error"]["code"], "restore_blocked");
    assert_eq!(error["findings"][0]["code"], "target_not_empty");
    let dry_blocked = lifeboat(
        home.path(),
        &["restore", &file, "--profile", "local", "--target-db", &restored, "--dry-run", "--json"],
    );
    assert_eq!(dry_blocked.status.code(), Some(1));
    assert_eq!(json(&dry_blocked)["findings"][0]["severity"], "blocker");

    // Not a backup: exit 1 with the code; contradicting options: usage error, exit 2.
    let photo = out.path().join("photo.backup");
    std::fs::write(&photo, [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F']).unwrap();
    let photo = photo.display().to_string();
    let not = lifeboat(home.path(), &["restore", &photo, "--profile", "local", "--json"]);
    assert_eq!(not.status.code(), Some(1));
    assert_eq!(json(&not)["error"]["code"], "not_a_backup");
    let usage = lifeboat(
        home.path(),
        &["restore", &file, "--profile", "local", "--no-owner", "--owner", "x"],
    );
    assert_eq!(usage.status.code(), Some(2));
    let zero_jobs = lifeboat(home.path(), &["restore", &file, "--profile", "local", "--jobs", "0"]);
    assert_eq!(zero_jobs.status.code(), Some(2));
}

#[test]
fn replacing_needs_yes_and_excludes_a_target_name() {
    let home = tempfile::tempdir().unwrap();
    let without_yes =
        lifeboat(home.path(), &["restore", "x.backup", "--profile", "p", "--replace", "shop"]);
    assert_eq!(without_yes.status.code(), Some(2), "{}", text(&without_yes));
    assert!(text(&without_yes).contains("--yes"), "{}", text(&without_yes));
    let both = lifeboat(
        home.path(),
        &[
            "restore",
            "x.backup",
            "--profile",
            "p",
            "--replace",
            "shop",
            "--yes",
            "--target-db",
            "other",
        ],
    );
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
}

/// A dry run of one table out of many counts what it leaves out by kind; --verbose lists each.
#[tokio::test]
async fn a_long_left_out_list_is_counted_by_kind_unless_verbose() {
    let server = PgServer::shared(18);
    let db = server.create_database("cli_many").await;
    let tables: String = (1..=30)
        .map(|n| format!("CREATE TABLE public.t{n} (id int PRIMARY KEY); INSERT INTO public.t{n} VALUES ({n});"))
        .collect();
    server.client(&db).await.batch_execute(&tables).await.unwrap();
    let (home, _out, file) = backed_up(&server, &db);
    let dry = ["restore", &file, "--profile", "local", "--table", "public.t1", "--dry-run"];

    let counted = lifeboat(home.path(), &dry);
    assert_eq!(counted.status.code(), Some(0), "{}", text(&counted));
    let printed = String::from_utf8_lossy(&counted.stdout);
    assert!(
        printed.contains(
            "Left out: 87 entries (29 CONSTRAINT, 29 TABLE, 29 TABLE DATA); --verbose lists each."
        ),
        "{printed}"
    );
    assert!(!printed.contains("public.t2\n"), "{printed}");
    let findings = printed.find("Findings:").expect("the findings are printed");
    assert!(printed[..findings].lines().count() < 10, "{printed}");

    let verbose: Vec<&str> = dry.iter().copied().chain(["--verbose"]).collect();
    let listed = lifeboat(home.path(), &verbose);
    let printed = String::from_utf8_lossy(&listed.stdout);
    assert!(printed.contains("Left out:\n"), "{printed}");
    assert!(printed.lines().filter(|l| l.starts_with("  ")).count() >= 87, "{printed}");
}
