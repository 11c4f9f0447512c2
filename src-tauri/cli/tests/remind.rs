//! `lifeboat remind`: a table emptied between two real backups is an item that needs attention
//! (exit 1); headless (no session bus, no display) the items are printed and the notifications
//! are said not to be sent; on a private session bus with a real notification daemon (dunst under
//! Xvfb) `--notify` delivers them with their summary and action, and a second run within the day
//! sends nothing new.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{add_local_profile, bundle, json, lifeboat, text};
use lifeboat_system_tests::PgServer;
use serde_json::Value;

/// Two backups of a fresh database on the shared 18 server, `orders` emptied in between.
/// Returns the data folder, the backups folder and the database.
async fn emptied_between_backups() -> (tempfile::TempDir, tempfile::TempDir, String) {
    let server = PgServer::shared(18);
    let db = server.create_database("remind").await;
    let client = server.client(&db).await;
    client
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, total numeric); \
             INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 100) g;",
        )
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let out = tempfile::tempdir().unwrap();
    let backup = |home: &Path| {
        let out_dir = out.path().display().to_string();
        let made = lifeboat(
            home,
            &["backup", "--profile", "local", "--database", &db, "--out", &out_dir, "--json"],
        );
        assert!(made.status.success(), "{}", text(&made));
    };
    backup(home.path());
    client.batch_execute("TRUNCATE orders").await.unwrap();
    // Backup names carry the second they were taken in.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    backup(home.path());
    (home, out, db)
}

/// `lifeboat ARGS` without a session bus or display, as a scheduler runs it.
fn headless(home: &Path, args: &[&str]) -> Output {
    let runtime = tempfile::tempdir().unwrap(); // no bus socket in it
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn headless_remind_prints_the_items_and_says_notifications_could_not_be_sent() {
    let (home, _out, db) = emptied_between_backups().await;
    let plain = headless(home.path(), &["remind", "--notify", "--database", &db]);
    let printed = text(&plain);
    assert_eq!(plain.status.code(), Some(1), "{printed}");
    assert!(printed.contains("public.orders (100 → 0 rows)"), "{printed}");
    assert!(printed.contains("Notifications could not be sent"), "{printed}");
    assert!(printed.contains("the items will show in the app on its next start"), "{printed}");
    assert!(printed.contains("No backup of this database has passed a test yet"), "{printed}");

    let report = json(&headless(home.path(), &["remind", "--json", "--notify", "--database", &db]));
    let items = report["items"].as_array().unwrap();
    let emptied = items.iter().find(|i| i["code"] == "table_emptied").expect("table_emptied");
    assert_eq!(emptied["severity"], "critical");
    assert_eq!(emptied["action"]["kind"], "open_backups");
    assert_eq!(report["notifications"]["error"]["code"], "notifications_unavailable");
    // Nothing was recorded as notified: a later run with a daemon still sends it.
    assert_eq!(report["notifications"]["sent"], Value::Array(vec![]));

    // Another database's name: nothing needs attention, exit 0.
    let none = headless(home.path(), &["remind", "--database", "no_such_database"]);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
}

/// Runs `lifeboat remind --notify --json` twice inside a private session bus with dunst on a
/// private Xvfb display, capturing the Notifications interface with dbus-monitor. Returns the two
/// outputs and what dbus-monitor saw.
fn remind_twice_with_a_daemon(home: &Path, db: &str) -> (Value, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
set -u
Xvfb -displayfd 3 -nolisten tcp 3>"$DIR/display" 2>"$DIR/xvfb.log" &
xvfb=$!
for _ in $(seq 100); do [ -s "$DIR/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$DIR/display")"
dbus-monitor --session "interface='org.freedesktop.Notifications'" >"$DIR/monitor" 2>&1 &
monitor=$!
dunst -config /dev/null >"$DIR/dunst.log" 2>&1 &
dunst=$!
for _ in $(seq 100); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null \
    | grep -q true && break
  sleep 0.1
done
"$LIFEBOAT" remind --notify --json --database "$DB" >"$DIR/first" 2>"$DIR/first.err"
"$LIFEBOAT" remind --notify --json --database "$DB" >"$DIR/second" 2>"$DIR/second.err"
sleep 0.5
kill "$monitor" "$dunst" "$xvfb" 2>/dev/null
wait 2>/dev/null
exit 0
"#;
    let ran = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", script])
        .env("DIR", dir.path())
        .env("DB", db)
        .env("LIFEBOAT", env!("CARGO_BIN_EXE_lifeboat"))
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_PG_BUNDLE", bundle())
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let logs = format!(
        "{}\nfirst: {}\nsecond: {}\ndunst: {}\nxvfb: {}",
        text(&ran),
        read("first.err"),
        read("second.err"),
        read("dunst.log"),
        read("xvfb.log")
    );
    let parse = |name: &str| -> Value {
        serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}\n{logs}"))
    };
    (parse("first"), parse("second"), read("monitor"))
}

#[tokio::test]
async fn remind_notify_reaches_a_real_daemon_once_a_day() {
    let (home, _out, db) = emptied_between_backups().await;
    let (first, second, monitor) = remind_twice_with_a_daemon(home.path(), &db);

    let sent: Vec<&str> = first["notifications"]["sent"]
        .as_array()
        .unwrap_or_else(|| panic!("{first:#}"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(first["notifications"]["error"].is_null(), "{first:#}");
    assert!(sent.iter().any(|k| k.starts_with("table_emptied:")), "{first:#}");
    assert_eq!(sent.len(), first["items"].as_array().unwrap().len(), "{first:#}");

    // What the daemon received: the Notify call with summary, body and action.
    let calls = monitor.matches("member=Notify").count();
    assert_eq!(calls, sent.len(), "{monitor}");
    assert!(
        monitor.contains(&format!("string \"Lifeboat: {db} lost all rows of a table\"")),
        "{monitor}"
    );
    assert!(monitor.contains("string \"open_backups\""), "{monitor}");
    assert!(monitor.contains("string \"Open the backups\""), "{monitor}");
    assert!(monitor.contains("public.orders (100 → 0 rows)"), "{monitor}");
    assert!(monitor.contains("string \"Lifeboat\""), "{monitor}");

    // The second run within the day: the same items, nothing sent again.
    assert_eq!(second["items"], first["items"]);
    assert_eq!(second["notifications"]["sent"], Value::Array(vec![]), "{second:#}");
    let quiet: Vec<&str> = second["notifications"]["alreadyNotified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(quiet, sent);
}
