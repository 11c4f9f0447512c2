//! Schedules through the real schedulers' files, against a real PostgreSQL server:
//! - systemd: `lifeboat schedule add` writes the user service and timer into a temporary home;
//!   `systemd-analyze verify --user` accepts them; the service's exact `ExecStart` run with
//!   nothing but its `Environment=` lines, `HOME` and systemd's `PATH` (`env -i`) makes the
//!   backup, its drill and its second copy, all in the catalog, and a recorded run;
//! - cron: the same through the real `crontab` (as the harness's unprivileged user when the
//!   tests run as root, so root's crontab is never touched), the line run by `/bin/sh -c` the
//!   way cron runs it (`%` handling, cron's environment); other crontab lines stay;
//! - test-fire: a profile whose password is in the keychain fails in the scheduler's bare
//!   environment, and `lifeboat schedule test` says so, with the way out.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bundle, json, lifeboat, text};
use lifeboat_system_tests::pg::running_as_root;
use lifeboat_system_tests::{PgServer, as_test_user, give_to_test_user, reachable_bundle};
use serde_json::Value;

const SHOP: &str = "CREATE TABLE items (id int PRIMARY KEY, name text); \
                    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 120) g;";

/// systemd's `PATH` for user services.
const SYSTEMD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A data folder, a user home with its own config and runtime folders, for `lifeboat` run with
/// the systemd scheduler into that home.
struct SystemdHome {
    data: tempfile::TempDir,
    home: tempfile::TempDir,
    runtime: tempfile::TempDir,
}

impl SystemdHome {
    fn new() -> SystemdHome {
        SystemdHome {
            data: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            runtime: tempfile::tempdir().unwrap(),
        }
    }

    fn units(&self) -> PathBuf {
        self.home.path().join(".config/systemd/user")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
            .args(args)
            .env("LIFEBOAT_HOME", self.data.path())
            .env("LIFEBOAT_PG_BUNDLE", bundle())
            .env("LIFEBOAT_SCHEDULER", "systemd")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            // No user manager there: the units are written and enabled by their link only.
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            pipe.write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }
}

/// The words of an ExecStart= value, read as systemd reads them: double-quoted words with `\"`
/// and `\\`, `%%` and `$$` for literal `%` and `$`. Written here again, not taken from the
/// engine, so the test does not trust the code it checks.
fn systemd_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let quoted = c == '"';
        if quoted {
            chars.next();
        }
        let mut word = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted => break,
                ' ' if !quoted => break,
                '\\' => word.push(chars.next().unwrap()),
                '%' | '$' if chars.peek() == Some(&c) => {
                    chars.next();
                    word.push(c);
                }
                c => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

fn catalog(data: &Path) -> Vec<Value> {
    let listed = lifeboat(data, &["backups", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let value = json(&listed);
    value.as_array().cloned().or_else(|| value["backups"].as_array().cloned()).unwrap()
}

#[tokio::test]
async fn systemd_units_verify_and_their_exec_start_backs_up_tests_and_copies() {
    let server = PgServer::shared(18);
    let db = server.create_database("sched_systemd").await;
    server.client(&db).await.batch_execute(SHOP).await.unwrap();
    let h = SystemdHome::new();
    let out = tempfile::tempdir().unwrap();
    let copies = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    let added = h.run(&common::profile_add("local", &port, "--use-pgpass"), None);
    assert!(added.status.success(), "{}", text(&added));

    let out_dir = out.path().display().to_string();
    let copy_dir = copies.path().display().to_string();
    #[rustfmt::skip]
    let add = h.run(&[
        "schedule", "add", &db, "--profile", "local", "--weekly", "mon,wed,fri", "02:30",
        "--drill", "after", "--drill-on", "local", "--keep-last", "5", "--out", &out_dir,
        "--copy-to", &copy_dir, "--json",
    ], None);
    assert!(add.status.success(), "{}", text(&add));
    let name = json(&add)["name"].as_str().unwrap().to_owned();
    assert_eq!(name, format!("lifeboat-local-{}", db.replace('_', "-")));

    let service = h.units().join(format!("{name}.service"));
    let timer = h.units().join(format!("{name}.timer"));
    let unit = std::fs::read_to_string(&service).unwrap();
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    assert!(timer_text.contains("OnCalendar=Mon,Wed,Fri *-*-* 02:30:00\nPersistent=true"));
    assert!(h.units().join("timers.target.wants").join(format!("{name}.timer")).exists());
    let remind = h.units().join("lifeboat-remind.service");
    assert!(std::fs::read_to_string(&remind).unwrap().contains("remind --notify"));

    // systemd itself reads the units, without a running manager.
    let verify_runtime = tempfile::tempdir().unwrap();
    let verified = Command::new("systemd-analyze")
        .env("XDG_RUNTIME_DIR", verify_runtime.path())
        .args(["verify", "--user"])
        .args([&service, &timer, &remind, &h.units().join("lifeboat-remind.timer")])
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    assert!(verified.status.success(), "systemd-analyze verify: {}", text(&verified));

    // `schedule show` prints the unit as installed, verbatim.
    let shown = h.run(&["schedule", "show", &name], None);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&unit), "{}", text(&shown));

    // The exact ExecStart, with only the unit's environment, HOME and systemd's PATH.
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let argv = systemd_words(exec);
    assert_eq!(
        argv[0],
        std::fs::canonicalize(env!("CARGO_BIN_EXE_lifeboat")).unwrap().display().to_string()
    );
    let mut bare = Command::new("env");
    bare.arg("-i")
        .arg(format!("HOME={}", h.home.path().display()))
        .arg(format!("PATH={SYSTEMD_PATH}"));
    let mut saw_home = false;
    for value in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let assignment = systemd_words(value).remove(0);
        saw_home |= assignment == format!("LIFEBOAT_HOME={}", h.data.path().display());
        bare.arg(assignment);
    }
    assert!(saw_home, "the unit sets LIFEBOAT_HOME: {unit}");
    let ran = bare.args(&argv).stdin(Stdio::null()).output().unwrap();
    assert!(ran.status.success(), "the scheduled command: {}", text(&ran));

    let backups = catalog(h.data.path());
    let made = backups.iter().find(|b| b["database"] == db.as_str()).expect("the backup");
    assert_eq!(made["status"], "finished", "{made:#}");
    assert_eq!(made["testStatus"], "tested-ok", "the drill ran: {made:#}");
    assert_eq!(made["copyStatus"], "copied", "the second copy: {made:#}");
    let manifest = PathBuf::from(made["manifestPath"].as_str().unwrap());
    assert!(manifest.starts_with(out.path()));
    assert!(copies.path().join(manifest.file_name().unwrap()).is_file());
    let listed = json(&h.run(&["schedule", "list", "--json"], None));
    let run = &listed[0]["lastRun"];
    assert_eq!(run["status"], "ok", "{listed:#}");
    assert_eq!(run["backupId"], made["id"]);

    // Test-fire runs the same line the same way: it passes (a note about lingering at most).
    let fired = h.run(&["schedule", "test", &name, "--json"], None);
    let report = json(&fired);
    assert_eq!(fired.status.code(), Some(0), "{report:#}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["command"], serde_json::json!(argv));
    let names: Vec<&str> =
        report["environment"].as_array().unwrap().iter().map(|p| p[0].as_str().unwrap()).collect();
    assert!(!names.contains(&"DISPLAY") && !names.contains(&"DBUS_SESSION_BUS_ADDRESS"));

    let removed = h.run(&["schedule", "remove", &name], None);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(!service.exists() && !timer.exists() && !remind.exists());
    assert!(!h.units().join("timers.target.wants").join(format!("{name}.timer")).exists());
}

/// `lifeboat` as the user whose crontab the test may change: the harness's unprivileged user
/// when running as root (never root's own crontab), else the current user.
fn lifeboat_as_cron_user(data: &Path, args: &[&str]) -> Output {
    as_test_user(Path::new(env!("CARGO_BIN_EXE_lifeboat")))
        .args(args)
        .env("LIFEBOAT_HOME", data)
        .env("LIFEBOAT_PG_BUNDLE", reachable_bundle())
        .env("LIFEBOAT_SCHEDULER", "cron")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn crontab_of_cron_user() -> String {
    let mut command = Command::new("crontab");
    if running_as_root() {
        command.args(["-u", lifeboat_system_tests::pg::TEST_USER]);
    }
    let listed = command.arg("-l").output().expect("crontab (Debian's cron package)");
    String::from_utf8_lossy(&listed.stdout).into_owned()
}

fn set_crontab_of_cron_user(text: &str) {
    let mut command = Command::new("crontab");
    if running_as_root() {
        command.args(["-u", lifeboat_system_tests::pg::TEST_USER]);
    }
    let mut child = command.arg("-").stdin(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn the_cron_line_runs_as_cron_runs_it_and_leaves_other_lines_alone() {
    let server = PgServer::shared(16);
    let db = server.create_database("sched_cron").await;
    server.client(&db).await.batch_execute(SHOP).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    give_to_test_user(data.path());
    give_to_test_user(out.path());
    // The test user's crontab belongs to the tests: it starts with only a line of "someone
    // else" that must stay, whatever an interrupted run left there.
    let foreign = "17 5 * * * echo not lifeboat's 100\\% # keep me\n";
    let before = if running_as_root() { String::new() } else { crontab_of_cron_user() };
    if running_as_root() {
        set_crontab_of_cron_user(foreign);
    }
    let port = server.port.to_string();
    let added =
        lifeboat_as_cron_user(data.path(), &common::profile_add("local", &port, "--use-pgpass"));
    assert!(added.status.success(), "{}", text(&added));
    let out_dir = out.path().display().to_string();
    #[rustfmt::skip]
    let add = lifeboat_as_cron_user(data.path(), &[
        "schedule", "add", &db, "--profile", "local", "--daily", "3:05", "--drill", "after",
        "--drill-on", "local", "--out", &out_dir, "--json",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let name = json(&add)["name"].as_str().unwrap().to_owned();

    let crontab = crontab_of_cron_user();
    let mut lines =
        crontab.lines().skip_while(|l| !(l.starts_with("# Lifeboat ") && l.contains(&name)));
    let marker = lines.next().unwrap_or_else(|| panic!("no marked entry: {crontab}"));
    assert!(marker.contains(&data.path().display().to_string()), "{marker}");
    let line = lines.next().unwrap();
    assert!(line.starts_with("5 3 * * * "), "{line}");
    assert!(crontab.contains("remind --notify"), "{crontab}");
    if running_as_root() {
        assert!(crontab.contains(foreign.trim_end()), "{crontab}");
    }
    let shown = lifeboat_as_cron_user(data.path(), &["schedule", "show", &name]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(line), "{}", text(&shown));

    // As cron runs it: the command after five fields, `\%` as `%`, by /bin/sh, with cron's
    // environment only.
    let command: String = line.splitn(6, ' ').nth(5).unwrap().replace("\\%", "%");
    let home = data.path().display().to_string();
    let ran = as_test_user(Path::new("/usr/bin/env"))
        .args([
            "-i",
            &format!("HOME={home}"),
            "LOGNAME=cron",
            "SHELL=/bin/sh",
            "PATH=/usr/bin:/bin",
        ])
        .args(["/bin/sh", "-c", &command])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(ran.status.success(), "the cron command `{command}`: {}", text(&ran));

    let listed = lifeboat_as_cron_user(data.path(), &["backups", "--json"]);
    let value = json(&listed);
    let backups =
        value.as_array().cloned().or_else(|| value["backups"].as_array().cloned()).unwrap();
    let made = backups.iter().find(|b| b["database"] == db.as_str()).expect("the backup");
    assert_eq!(made["status"], "finished", "{made:#}");
    assert_eq!(made["testStatus"], "tested-ok", "{made:#}");
    let runs = json(&lifeboat_as_cron_user(data.path(), &["schedule", "list", "--json"]));
    assert_eq!(runs[0]["lastRun"]["status"], "ok", "{runs:#}");

    let removed = lifeboat_as_cron_user(data.path(), &["schedule", "remove", &name]);
    assert!(removed.status.success(), "{}", text(&removed));
    let after = crontab_of_cron_user();
    assert!(!after.contains("Lifeboat") && !after.contains("remind --notify"), "{after}");
    if running_as_root() {
        assert_eq!(after, format!("{before}{foreign}"));
        set_crontab_of_cron_user(&before);
    } else {
        assert_eq!(after, before, "the user's crontab is as it was");
    }
}

#[tokio::test]
async fn test_fire_finds_the_keychain_out_of_reach_of_the_scheduler() {
    let server = PgServer::shared(18);
    let db = server.create_database("sched_keychain").await;
    let h = SystemdHome::new();
    let port = server.port.to_string();
    // Under tests/with-keyring.sh the real Secret Service takes the password.
    let added =
        h.run(&common::profile_add("vault", &port, "--password-stdin"), Some("not-needed\n"));
    assert!(added.status.success(), "{}", text(&added));
    let add = h.run(&["schedule", "add", &db, "--profile", "vault", "--daily", "01:00"], None);
    assert!(add.status.success(), "{}", text(&add));
    let name = format!("lifeboat-vault-{}", db.replace('_', "-"));

    let fired = h.run(&["schedule", "test", &name, "--json"], None);
    assert_eq!(fired.status.code(), Some(1), "{}", text(&fired));
    let report = json(&fired);
    assert_eq!(report["passed"], false);
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"].as_str().unwrap().starts_with("keychain"))
        .unwrap_or_else(|| panic!("no keychain problem: {report:#}"));
    assert!(problem["message"].as_str().unwrap().contains("\"vault\""), "{problem:#}");
    let fix = problem["fix"].as_str().unwrap();
    assert!(fix.contains(".pgpass") && fix.contains("--use-pgpass"), "{fix}");
    // The failed run is recorded with its error, for the reminders.
    assert_eq!(report["run"]["status"], "failed", "{report:#}");
    assert!(report["run"]["errorCode"].as_str().unwrap().starts_with("keychain"));

    let printed = h.run(&["schedule", "test", &name], None);
    assert_eq!(printed.status.code(), Some(1));
    let printed = text(&printed);
    assert!(printed.contains("PROBLEM [keychain") && printed.contains("FAILED"), "{printed}");
    let removed = h.run(&["schedule", "remove", &name], None);
    assert!(removed.status.success(), "{}", text(&removed));
}
