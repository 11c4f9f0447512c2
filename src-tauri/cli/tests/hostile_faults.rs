//! Faults (issue 13, the hostile suite): what a job leaves when the world fails under it.
//!
//! - `lifeboat` killed (SIGKILL) during a backup, a restore and a drill on a profile: the next
//!   start marks the backup `failed` with the code `interrupted` and removes its private
//!   `.<stem>.partial` folder; a restore or drill that had created a database is listed by
//!   `lifeboat backups` as interrupted, naming that database (Lifeboat does not drop it).
//! - The server stopped mid-backup, mid-restore and mid-drill: a clear error with a code, no
//!   `.partial` left, the catalog row `failed` with the same code.
//! - Disk full (a 2 MB tmpfs) and a read-only destination (a read-only tmpfs): a clear error,
//!   nothing left in the destination. Root only (mounting); skipped with a message otherwise.
//! - A file of a directory backup deleted between the pre-flight and the restore:
//!   `backup_file_missing`/`checksum_mismatch`, no database created.
//! - Two backups of one database at once into one folder, and a "GUI" job (the engine called in
//!   this process) with a CLI job on the same data folder: every job finishes, none is taken for
//!   interrupted by the other's start.
//!
//! Every case also checks that nothing appeared outside the data folder and the destination.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{add_local_profile, bundle, json, lifeboat, text};
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::base::tools::Toolbox;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::restore::{RestoreRequest, preflight, restore};
use lifeboat_engine::storage::jobs;
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::{Ctx, DataDir};
use lifeboat_system_tests::home::backup_request;
use lifeboat_system_tests::pg::{running_as_root, wait_until};
use lifeboat_system_tests::{PgServer, quote_ident};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Enough rows that pg_dump and pg_restore run for a second or two (a few MB).
const BIG: &str = "CREATE TABLE big (id int PRIMARY KEY, a text, b text); \
    INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text), md5((g * 13)::text) \
    FROM generate_series(1, 300000) g;";

fn ctx_on(home: &Path) -> Ctx {
    let tools = Toolbox::discover(&bundle()).unwrap();
    Ctx::open(DataDir::at(home.to_owned()).unwrap(), tools, Arc::new(OsKeychain)).unwrap()
}

/// `lifeboat ARGS` started in the background, its output in files under `home`'s parent.
fn spawn(home: &Path, args: &[&str]) -> Child {
    let log = tempfile::tempfile().unwrap();
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The children of `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            found.push(child);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).map(|z| !z))
        .unwrap_or(false)
}

/// SIGKILLs `child` (lifeboat) and waits until the programs it had started are gone too (an
/// orphaned pg_dump finishes on its own).
fn kill_and_wait(child: &mut Child) {
    let pid = child.id();
    let mut family = children_of(pid);
    for c in family.clone() {
        family.extend(children_of(c));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || family.iter().all(|p| !alive(*p))),
        "the programs lifeboat started did not end"
    );
}

/// Names in `dir` (not recursive) ending in `.partial`.
fn partials_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".partial") {
            found.push(name.clone());
        }
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) && !name.starts_with('.') {
            found.extend(partials_in(&entry.path()).into_iter().map(|n| format!("{name}/{n}")));
        }
    }
    found
}

fn catalog(home: &Path) -> Vec<Value> {
    let listed = lifeboat(home, &["backups", "--json", "--all"]);
    assert!(listed.status.success(), "{}", text(&listed));
    json(&listed).as_array().unwrap().clone()
}

async fn databases_like(server: &PgServer, prefix: &str) -> Vec<String> {
    let rows = server
        .client("postgres")
        .await
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            &[&prefix],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Waits (up to 90 s) for databases starting with `prefix` that are not in `before`.
async fn new_databases(server: &PgServer, prefix: &str, before: &[String]) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let new: Vec<String> = databases_like(server, prefix)
            .await
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        if !new.is_empty() || std::time::Instant::now() > deadline {
            return new;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A database filled with [`BIG`] on `server`, a data folder with the profile "local" and a
/// backups folder.
async fn big_fixture(server: &PgServer, prefix: &str) -> (String, tempfile::TempDir, PathBuf) {
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(BIG).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), server);
    let out = home.path().parent().unwrap().join(format!("{db}-out"));
    std::fs::create_dir_all(&out).unwrap();
    (db, home, out)
}

fn backup_args<'a>(db: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["backup", "--profile", "local", "--database", db, "--out", out, "--json"]
}

/// A finished backup of `db` into `out`; returns its manifest.
fn finished_backup(home: &Path, db: &str, out: &Path, format: &str) -> String {
    let out_s = out.display().to_string();
    let mut args = backup_args(db, &out_s);
    args.extend(["--format", format]);
    let made = lifeboat(home, &args);
    assert!(made.status.success(), "{}", text(&made));
    json(&made)["manifestPath"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_killed_backup_is_marked_interrupted_and_its_partials_removed_at_the_next_start() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_kill_backup").await;
    let out_s = out.display().to_string();
    let mut child = spawn(home.path(), &backup_args(&db, &out_s));
    let staged = wait_until(Duration::from_secs(60), || !partials_in(&out).is_empty());
    assert!(staged, "the backup never made its private folder");
    kill_and_wait(&mut child);
    assert!(!partials_in(&out).is_empty(), "the kill left the private folder (the fault)");

    // The next start (any command) sweeps.
    let rows = catalog(home.path());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["status"], "failed", "{rows:#?}");
    assert_eq!(rows[0]["errorCode"], "interrupted", "{rows:#?}");
    assert!(rows[0]["errorMessage"].as_str().unwrap().contains("Interrupted"));
    assert_eq!(partials_in(&out), Vec::<String>::new(), "the private folder is removed");
    assert_eq!(partials_in(home.path()), Vec::<String>::new(), "no partial in the data folder");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "nothing else in the destination");
    let listed = lifeboat(home.path(), &["backups"]);
    assert!(text(&listed).contains("failed"), "{}", text(&listed));
    // And a new backup runs normally afterwards.
    finished_backup(home.path(), &db, &out, "custom");
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test]
async fn a_killed_restore_is_listed_with_the_database_it_left() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_kill_restore").await;
    let manifest = finished_backup(home.path(), &db, &out, "custom");
    let mut child = spawn(home.path(), &["restore", "--profile", "local", &manifest, "--json"]);
    let prefix = format!("{db}_restored_");
    let created = new_databases(&server, &prefix, &[]).await;
    let appeared = !created.is_empty();
    assert!(appeared, "the restore never created its database");
    kill_and_wait(&mut child);

    let listed = lifeboat(home.path(), &["backups"]);
    let shown = text(&listed);
    assert!(listed.status.success(), "{shown}");
    assert!(shown.contains("was interrupted") && shown.contains(&created[0]), "{shown}");
    let ctx = ctx_on(home.path());
    let interrupted = jobs::interrupted(&ctx).unwrap();
    assert_eq!(interrupted.len(), 1, "{interrupted:?}");
    assert_eq!(interrupted[0].database.as_deref(), Some(created[0].as_str()));
    assert_eq!(partials_in(home.path()), Vec::<String>::new());
    // The user drops it and dismisses the note.
    let client = server.client("postgres").await;
    client.batch_execute(&format!("DROP DATABASE {}", quote_ident(&created[0]))).await.unwrap();
    jobs::dismiss(&ctx, interrupted[0].id).unwrap();
    assert!(!text(&lifeboat(home.path(), &["backups"])).contains("was interrupted"));
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test]
async fn a_killed_drill_on_a_profile_is_listed_with_its_scratch_database() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_kill_drill").await;
    let manifest = finished_backup(home.path(), &db, &out, "custom");
    let before = databases_like(&server, "").await;
    let mut child = spawn(home.path(), &["test", &manifest, "--profile", "local", "--json"]);
    // Only this drill's scratch database: other tests make databases on the shared server too.
    let new = new_databases(&server, &format!("{db}_drill"), &before).await;
    let appeared = !new.is_empty();
    assert!(appeared, "the drill never created its scratch database");
    kill_and_wait(&mut child);
    let shown = text(&lifeboat(home.path(), &["backups"]));
    assert!(shown.contains("was interrupted") && shown.contains(&new[0]), "{shown}");
    let client = server.client("postgres").await;
    for name in &new {
        let _ =
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(name))).await;
    }
    let _ = std::fs::remove_dir_all(&out);
}

// Several threads: the test waits (blocking) while the engine's job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stopped_mid_backup_fails_clearly_and_leaves_nothing() {
    let server = PgServer::start(17);
    let (db, home, out) = big_fixture(&server, "fault_stop_backup").await;
    let ctx = ctx_on(home.path());
    let request = backup_request("local", &db, &out, BackupFormat::Custom);
    let running = tokio::spawn({
        let ctx = ctx.clone();
        async move { backup(&ctx, request, &NullSink, &CancellationToken::new()).await }
    });
    assert!(wait_until(Duration::from_secs(60), || !partials_in(&out).is_empty()));
    server.stop();
    let error = running.await.unwrap().expect_err("a backup of a stopped server cannot finish");
    let code = serde_json::to_value(error.code()).unwrap();
    assert!(
        ["tool_failed", "connection_refused", "query", "connect_failed"]
            .contains(&code.as_str().unwrap()),
        "{code}: {error}"
    );
    assert_eq!(partials_in(&out), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    let rows = catalog(home.path());
    assert_eq!((rows[0]["status"].clone(), rows[0]["errorCode"].clone()), ("failed".into(), code));
    let _ = std::fs::remove_dir_all(&out);
}

// Several threads: the test waits (blocking) while the engine's job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stopped_mid_restore_fails_clearly_and_records_the_database_left() {
    let server = PgServer::start(17);
    let (db, home, out) = big_fixture(&server, "fault_stop_restore").await;
    let manifest = finished_backup(home.path(), &db, &out, "custom");
    let ctx = ctx_on(home.path());
    let request =
        RestoreRequest { source: manifest, profile: "local".into(), ..RestoreRequest::default() };
    let running = tokio::spawn({
        let ctx = ctx.clone();
        async move { restore(&ctx, request, &NullSink, &CancellationToken::new()).await }
    });
    let prefix = format!("{db}_restored_");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while databases_like(&server, &prefix).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "the restore never created its database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop();
    let error = running.await.unwrap().expect_err("a restore into a stopped server cannot finish");
    let code = serde_json::to_value(error.code()).unwrap();
    assert!(
        ["tool_failed", "connection_refused", "query"].contains(&code.as_str().unwrap()),
        "{code}: {error}"
    );
    // The database could not be dropped (no server): it is recorded, not forgotten.
    let left = jobs::interrupted(&ctx).unwrap();
    assert_eq!(left.len(), 1, "the database left behind is recorded: {left:?}");
    assert!(left[0].database.as_deref().unwrap().starts_with(&prefix));
    assert_eq!(partials_in(home.path()), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test]
async fn the_server_stopped_mid_drill_fails_clearly() {
    let server = PgServer::start(17);
    let (db, home, out) = big_fixture(&server, "fault_stop_drill").await;
    let manifest = finished_backup(home.path(), &db, &out, "custom");
    let before = databases_like(&server, "").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["test", &manifest, "--profile", "local", "--json"])
        .env("LIFEBOAT_HOME", home.path())
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while databases_like(&server, "").await.iter().all(|d| before.contains(d)) {
        assert!(std::time::Instant::now() < deadline, "the drill never created its database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop();
    child.wait().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    let shown = text(&output);
    assert!(shown.contains("\"code\"") || shown.contains("\"passed\": false"), "{shown}");
    assert_eq!(partials_in(home.path()), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&out);
}

/// A tmpfs mounted at a new folder, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(options: &str) -> Option<Tmpfs> {
        if !running_as_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        if !status.success() {
            eprintln!("skipped: mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
            return None;
        }
        Some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

fn error_code(output: &std::process::Output) -> String {
    json(output)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_full_disk_fails_the_backup_clearly_and_leaves_nothing() {
    let Some(disk) = Tmpfs::mount("size=2m,mode=0700") else { return };
    let server = PgServer::shared(17);
    let (db, home, _out) = big_fixture(&server, "fault_disk_full").await;
    let dest = disk.path().display().to_string();
    let made = lifeboat(home.path(), &backup_args(&db, &dest));
    assert_eq!(made.status.code(), Some(1), "{}", text(&made));
    let code = error_code(&made);
    assert!(["io", "tool_failed"].contains(&code.as_str()), "{code}: {}", text(&made));
    assert!(text(&made).to_lowercase().contains("space"), "{}", text(&made));
    assert_eq!(std::fs::read_dir(disk.path()).unwrap().count(), 0, "nothing left on the disk");
    let rows = catalog(home.path());
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["errorCode"], code.as_str());
}

#[tokio::test]
async fn a_read_only_destination_fails_the_backup_clearly() {
    let Some(disk) = Tmpfs::mount("size=4m,mode=0700") else { return };
    let remounted =
        Command::new("mount").args(["-o", "remount,ro"]).arg(disk.path()).status().unwrap();
    assert!(remounted.success());
    let server = PgServer::shared(17);
    let (db, home, _out) = big_fixture(&server, "fault_read_only").await;
    let dest = disk.path().display().to_string();
    let made = lifeboat(home.path(), &backup_args(&db, &dest));
    assert_eq!(made.status.code(), Some(1), "{}", text(&made));
    let code = error_code(&made);
    assert!(["io", "unsafe_path"].contains(&code.as_str()), "{code}: {}", text(&made));
    assert!(text(&made).contains(&dest), "the message names the folder: {}", text(&made));
    assert_eq!(std::fs::read_dir(disk.path()).unwrap().count(), 0);
    assert_eq!(catalog(home.path())[0]["errorCode"], code.as_str());
}

#[tokio::test]
async fn a_file_deleted_between_the_preflight_and_the_restore_is_refused() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_deleted").await;
    let manifest = finished_backup(home.path(), &db, &out, "directory");
    let ctx = ctx_on(home.path());
    let request =
        RestoreRequest { source: manifest.clone(), profile: "local".into(), ..Default::default() };
    let plan = preflight(&ctx, request.clone()).await.unwrap();
    assert!(!plan.blocked);
    // A data file of the directory backup goes away after it was listed.
    let folder = Path::new(&manifest).with_file_name(
        Path::new(&manifest).file_name().unwrap().to_str().unwrap().replace(".lifeboat.json", ""),
    );
    let data = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap() != "toc.dat")
        .unwrap();
    std::fs::remove_file(&data).unwrap();
    let error = restore(&ctx, request, &NullSink, &CancellationToken::new()).await.unwrap_err();
    let code = serde_json::to_value(error.code()).unwrap();
    assert!(
        ["backup_file_missing", "checksum_mismatch"].contains(&code.as_str().unwrap()),
        "{code}: {error}"
    );
    assert!(databases_like(&server, &format!("{db}_restored")).await.is_empty());
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test]
async fn two_backups_of_one_database_at_once_both_finish() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_two_at_once").await;
    let out_s = out.display().to_string();
    let args = backup_args(&db, &out_s);
    let first = std::thread::spawn({
        let (home, args) =
            (home.path().to_owned(), args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        move || lifeboat(&home, &args.iter().map(String::as_str).collect::<Vec<_>>())
    });
    let second = lifeboat(home.path(), &args);
    let first = first.join().unwrap();
    for made in [&first, &second] {
        assert!(
            made.status.success(),
            "both backups finish, under different names (each reserves its name by creating \
             its private folder): {:?} {}",
            made.status,
            text(made)
        );
    }
    assert_ne!(json(&first)["manifestPath"], json(&second)["manifestPath"]);
    let rows = catalog(home.path());
    assert!(rows.iter().all(|r| r["status"] == "finished"), "{rows:#?}");
    assert_eq!(partials_in(&out), Vec::<String>::new());
    for made in [&first, &second] {
        let manifest = json(made)["manifestPath"].as_str().unwrap().to_owned();
        let verified = lifeboat(home.path(), &["verify", &manifest]);
        assert!(verified.status.success(), "{}", text(&verified));
    }
    let _ = std::fs::remove_dir_all(&out);
}

// Several threads: the test waits (blocking) while the engine's job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gui_job_and_a_cli_job_on_one_data_folder_both_finish() {
    let server = PgServer::shared(17);
    let (db, home, out) = big_fixture(&server, "fault_gui_cli").await;
    let gui_out = out.join("gui");
    let ctx = ctx_on(home.path());
    let request = backup_request("local", &db, &gui_out, BackupFormat::Custom);
    let gui = tokio::spawn({
        let ctx = ctx.clone();
        async move { backup(&ctx, request, &NullSink, &CancellationToken::new()).await }
    });
    // The CLI starts while the GUI's backup runs: its start must not take that job for
    // interrupted.
    assert!(wait_until(Duration::from_secs(60), || !partials_in(&gui_out).is_empty()));
    let cli_out = out.join("cli").display().to_string();
    let cli = tokio::task::spawn_blocking({
        let (home, db) = (home.path().to_owned(), db.clone());
        move || lifeboat(&home, &backup_args(&db, &cli_out))
    });
    let gui = gui.await.unwrap().expect("the GUI's backup finishes");
    let cli = cli.await.unwrap();
    assert!(cli.status.success(), "{}", text(&cli));
    let rows = catalog(home.path());
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r["status"] == "finished"), "{rows:#?}");
    assert!(Path::new(&gui.manifest_path).is_file());
    assert!(partials_in(&out).is_empty() && partials_in(home.path()).is_empty());
    let _ = std::fs::remove_dir_all(&out);
}
