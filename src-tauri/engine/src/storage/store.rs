//! Lifeboat's SQLite store in the data folder, shared by the desktop app and the CLI.
//! The schema evolves through numbered migrations recorded in `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::base::error::{Error, Result};
use crate::util::private_fs;

pub const STORE_FILE: &str = "lifeboat.sqlite3";

/// Each entry moves the schema one version forward. Never edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    // 1: connection profiles. The password is not here: it lives in the OS keychain under
    // `keychain_account`, which stays the same when the profile is renamed.
    r#"
    CREATE TABLE profiles (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        name             TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        host             TEXT    NOT NULL,
        port             INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        username         TEXT    NOT NULL,
        maintenance_db   TEXT    NOT NULL,
        sslmode          TEXT    NOT NULL,
        root_cert        TEXT,
        password_source  TEXT    NOT NULL,
        keychain_account TEXT    NOT NULL UNIQUE,
        created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    "#,
    // 2: the backup catalog. A row is written when a backup starts and completed when it ends,
    // so that a crash leaves a `running` row, never a silent gap.
    r#"
    CREATE TABLE backups (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        profile_name   TEXT    NOT NULL,
        host           TEXT    NOT NULL,
        port           INTEGER NOT NULL,
        database       TEXT    NOT NULL,
        format         TEXT    NOT NULL,
        status         TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled')),
        started_at     TEXT    NOT NULL,
        duration_ms    INTEGER,
        manifest_path  TEXT,
        size_bytes     INTEGER,
        sha256         TEXT,
        error_code     TEXT,
        error_message  TEXT,
        test_status    TEXT    NOT NULL DEFAULT 'untested',
        tested_at      TEXT
    );
    CREATE INDEX backups_by_database ON backups (host, port, database, started_at);
    "#,
    // 3: restore drills (one row per drill, with its certificate) and the user's smoke checks,
    // saved per database name.
    r#"
    CREATE TABLE drills (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        source           TEXT    NOT NULL,
        manifest_path    TEXT,
        database         TEXT,
        target           TEXT    NOT NULL,
        started_at       TEXT    NOT NULL,
        duration_ms      INTEGER NOT NULL,
        passed           INTEGER NOT NULL,
        summary          TEXT    NOT NULL,
        certificate_json TEXT,
        certificate_html TEXT
    );
    CREATE INDEX drills_by_manifest ON drills (manifest_path, started_at);
    CREATE TABLE smoke_checks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        database    TEXT    NOT NULL,
        position    INTEGER NOT NULL,
        label       TEXT    NOT NULL,
        sql         TEXT    NOT NULL,
        expectation TEXT    NOT NULL
    );
    CREATE INDEX smoke_checks_by_database ON smoke_checks (database, position);
    "#,
    // 4: the watch. Schedules (installed in the OS scheduler, run by `lifeboat schedule run`)
    // and their runs; where each backup's second copy is; deleted backups (pruned files, the
    // row kept as history); per-database thresholds of the reminders; and when each reminder
    // was last notified, so that one is not repeated within a day.
    r#"
    CREATE TABLE schedules (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT    NOT NULL UNIQUE,
        profile_name   TEXT    NOT NULL,
        database       TEXT    NOT NULL,
        -- "daily" or weekdays "mon,wed,fri"
        days           TEXT    NOT NULL,
        -- "HH:MM", local time
        time           TEXT    NOT NULL,
        format         TEXT    NOT NULL DEFAULT 'custom',
        out_dir        TEXT,
        -- "none", "after" (each backup) or "weekly"
        drill          TEXT    NOT NULL DEFAULT 'none',
        -- "practice" or a profile name
        drill_target   TEXT    NOT NULL DEFAULT 'practice',
        keep_last      INTEGER,
        keep_daily     INTEGER,
        keep_weekly    INTEGER,
        keep_monthly   INTEGER,
        copy_to        TEXT,
        created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE schedule_runs (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule_name  TEXT    NOT NULL,
        started_at     TEXT    NOT NULL,
        finished_at    TEXT,
        -- "running", "ok" or "failed"
        status         TEXT    NOT NULL,
        error_code     TEXT,
        error_message  TEXT,
        backup_id      INTEGER
    );
    CREATE INDEX schedule_runs_by_schedule ON schedule_runs (schedule_name, started_at);
    ALTER TABLE backups ADD COLUMN deleted_at TEXT;
    ALTER TABLE backups ADD COLUMN copy_path TEXT;
    -- "copied", "failed" or "missing" (destination not there)
    ALTER TABLE backups ADD COLUMN copy_status TEXT;
    ALTER TABLE backups ADD COLUMN copy_error TEXT;
    CREATE TABLE watch_thresholds (
        host                 TEXT    NOT NULL,
        port                 INTEGER NOT NULL,
        database             TEXT    NOT NULL,
        max_backup_age_hours INTEGER,
        untested_after_days  INTEGER,
        max_days_without_drill INTEGER,
        PRIMARY KEY (host, port, database)
    );
    CREATE TABLE notified (
        item_key       TEXT    PRIMARY KEY,
        last_at        TEXT    NOT NULL
    );
    "#,
    // 5: whether a password was stored in the keychain for a profile (1) or not (0), so that a
    // profile without one never asks the keychain, which is out of reach under a scheduler.
    // NULL for profiles from before: the keychain is asked, as it was.
    r#"
    ALTER TABLE profiles ADD COLUMN password_stored INTEGER;
    "#,
    // 6: jobs that change something (backups, restores) while they run, so that the next start
    // can tell one whose process is gone (its lock in `locks/` is free), remove the temporary
    // files it recorded and mark it interrupted. An interrupted backup becomes `failed` with
    // the error code `interrupted` (the status CHECK stays as it is); a restore that created a
    // database stays here as `interrupted`, naming the database, until the user dismisses it.
    r#"
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        -- "backup" or "restore"
        kind             TEXT    NOT NULL,
        -- the file in locks/ the job holds an exclusive lock on while it runs
        lock_name        TEXT    NOT NULL UNIQUE,
        pid              INTEGER NOT NULL,
        started_at       TEXT    NOT NULL,
        status           TEXT    NOT NULL DEFAULT 'running'
                                 CHECK (status IN ('running', 'interrupted')),
        profile_name     TEXT,
        host             TEXT,
        port             INTEGER,
        -- the database backed up, or the backup restored
        subject          TEXT,
        -- the database the job created and had not finished
        created_database TEXT,
        -- when the job was found interrupted
        ended_at         TEXT
    );
    CREATE TABLE job_partials (
        job_id           INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        path             TEXT    NOT NULL
    );
    CREATE INDEX job_partials_by_job ON job_partials (job_id);
    ALTER TABLE backups ADD COLUMN job_id INTEGER;
    "#,
    // 7: whether the profile may send its password in clear text when the server asks for it
    // (pg_hba.conf `password`, LDAP, PAM) over a connection that does not verify the server.
    r#"
    ALTER TABLE profiles ADD COLUMN allow_cleartext_password INTEGER NOT NULL DEFAULT 0;
    "#,
    // 8: finished jobs (backups, restores, drills) for the Activity view, with the last lines
    // of their programs' output (storage/activity.rs), newest kept.
    r#"
    CREATE TABLE activity (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        -- "backup", "server_backup", "restore" or "drill"
        kind         TEXT    NOT NULL,
        subject      TEXT    NOT NULL,
        profile_name TEXT,
        started_at   TEXT    NOT NULL,
        ended_at     TEXT    NOT NULL,
        outcome      TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
        error_code   TEXT,
        summary      TEXT    NOT NULL,
        -- the kept lines joined by newlines, bounded
        log          TEXT    NOT NULL DEFAULT '',
        log_lines    INTEGER NOT NULL DEFAULT 0,
        log_dropped  INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 9: who deleted a backup's files: "retention" (a policy) or "user" (the Backups view,
    // `lifeboat backups delete`); NULL for rows deleted before this was recorded.
    r#"
    ALTER TABLE backups ADD COLUMN deleted_by TEXT;
    "#,
    // 10: where a finished job was started: "desktop", "cli" or "schedule" (storage/activity.rs).
    // Rows from before were all the window's: only the window recorded jobs then.
    r#"
    ALTER TABLE activity ADD COLUMN origin TEXT NOT NULL DEFAULT 'desktop';
    "#,
];

pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating when missing) the store in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join(STORE_FILE);
        // Before SQLite opens them: SQLite locks these files with POSIX locks, which this
        // process would drop (and another process then read a torn index, SIGBUS) if it opened
        // and closed one of them once SQLite holds it. SQLite gives journal files it creates
        // the store's mode; ones an older version left are tightened here.
        make_private(&path, "")?;
        make_private(&path, "-wal")?;
        make_private(&path, "-shm")?;
        let conn = Connection::open(&path).map_err(|e| store_error(&path, e))?;
        // The GUI and a scheduled CLI run may write at the same time.
        conn.busy_timeout(Duration::from_secs(10)).map_err(|e| store_error(&path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| store_error(&path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| store_error(&path, e))?;
        migrate(&conn).map_err(|e| store_error(&path, e))?;
        Ok(Store { path, conn: Mutex::new(conn) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the engine's own modules. Statements are short; the lock is held only
    /// while one runs.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn error(&self, source: rusqlite::Error) -> Error {
        store_error(&self.path, source)
    }
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the store file (or its journal `suffix`) owner-only before SQLite opens it, or
/// tightens one that exists; never through a link.
fn make_private(store: &Path, suffix: &str) -> Result<()> {
    let mut name = store.as_os_str().to_owned();
    name.push(suffix);
    let path = PathBuf::from(name);
    let made = if suffix.is_empty() {
        private_fs::open_private(&path, false).map(drop)
    } else {
        private_fs::restrict_file(&path)
    };
    made.map_err(|e| Error::Store { path, detail: e.to_string() })
}

fn store_error(path: &Path, source: rusqlite::Error) -> Error {
    Error::Store { path: path.to_owned(), detail: source.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_migrates_once_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO profiles (name, host, port, username, maintenance_db, sslmode, \
                 password_source, keychain_account) VALUES ('a', 'h', 5432, 'u', 'postgres', \
                 'prefer', 'keychain', 'k1')",
                [],
            )
            .unwrap();
        drop(store);
        let again = Store::open(dir.path()).unwrap();
        let version: i64 =
            again.conn().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let count: i64 =
            again.conn().query_row("SELECT count(*) FROM profiles", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_store_and_its_journal_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.conn().execute("CREATE TABLE t (x int)", []).unwrap();
        for name in [STORE_FILE.to_owned(), format!("{STORE_FILE}-wal")] {
            let mode = std::fs::metadata(dir.path().join(&name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn a_store_that_cannot_be_opened_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(STORE_FILE)).unwrap(); // a folder where the file goes
        let error = Store::open(dir.path()).unwrap_err();
        assert_eq!(error.code(), crate::base::error::ErrorCode::Store);
        assert!(error.to_string().contains(STORE_FILE));
    }
}
