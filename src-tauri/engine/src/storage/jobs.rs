//! Jobs that change something (a backup, a restore) and what they leave behind when their
//! process ends before they do: killed, crashed, the computer switched off.
//!
//! A job holds an exclusive lock on `locks/job-<uuid>.lock` in the data folder for as long as it
//! runs; the operating system releases it when the process ends, however it ends. Its row in
//! `jobs` says what it is, which temporary files it made (a backup's private `.<stem>.partial`
//! folder, the schema-only dump a scoped backup reads) and which database it created and has not
//! finished (a restore's new database).
//!
//! At the next start ([`sweep`], run when the store is opened), every `running` row whose lock
//! can be taken belongs to a process that is gone: its temporary files are removed, its backup
//! becomes `failed` with the error code [`INTERRUPTED`], and a restore that had created a
//! database is kept as an `interrupted` row naming that database ([`interrupted`]), which
//! Lifeboat does not drop by itself: the user decides. A job that ends in its own process
//! (finished, failed, cancelled) removes its row with [`RunningJob::finish`].
//!
//! The lock is taken before the row is written, so a sweep never sees a row whose job has not
//! locked yet.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;
use crate::util::private_fs;

/// The error code of a backup whose process ended while it ran.
pub const INTERRUPTED: &str = "interrupted";

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Backup,
    Restore,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Restore => "restore",
        }
    }
}

/// A job of this process, holding its lock. Dropped without [`RunningJob::finish`] (a panic),
/// its row stays and the next start treats it as interrupted.
#[derive(Debug)]
pub struct RunningJob {
    id: i64,
    lock_path: PathBuf,
    _lock: File,
}

impl RunningJob {
    /// The job's row number (the `job_id` of its backup).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Records a temporary file or folder before the job makes it, so that an interrupted job's
    /// is removed at the next start.
    pub fn record_partial(&self, ctx: &Ctx, path: &Path) -> Result<()> {
        let path = path.to_str().ok_or_else(|| Error::InvalidInput {
            field: "destination folder",
            problem: format!("{} is not valid Unicode", path.display()),
        })?;
        ctx.store
            .conn()
            .execute(
                "INSERT INTO job_partials (job_id, path) VALUES (?1, ?2)",
                params![self.id, path],
            )
            .map_err(|e| ctx.store.error(e))?;
        Ok(())
    }

    /// Records the database the job creates (before creating it) or created (the name it got).
    pub fn record_database(&self, ctx: &Ctx, database: &str) -> Result<()> {
        ctx.store
            .conn()
            .execute(
                "UPDATE jobs SET created_database = ?2 WHERE id = ?1",
                params![self.id, database],
            )
            .map_err(|e| ctx.store.error(e))?;
        Ok(())
    }

    /// The job failed and could not remove the database it created (the server went away):
    /// it is kept as interrupted, naming the database, like one whose process ended.
    pub fn left_database_behind(&self, ctx: &Ctx) {
        let _ = ctx.store.conn().execute(
            "UPDATE jobs SET status = 'interrupted', ended_at = ?2 \
             WHERE id = ?1 AND created_database IS NOT NULL",
            params![self.id, chrono::Local::now().to_rfc3339()],
        );
    }

    /// The job ended in its own process (whatever its outcome): its row (unless it left a
    /// database behind) and lock go. Best effort: a row left here is swept at the next start,
    /// where its lock is free.
    pub fn finish(self, ctx: &Ctx) {
        let _ = ctx
            .store
            .conn()
            .execute("DELETE FROM jobs WHERE id = ?1 AND status = 'running'", [self.id]);
        // Removed while still held: a sweep that opens the name afterwards finds no row.
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Starts a job: takes its lock, then writes its row. `subject` is what it works on (the
/// database backed up, the backup restored).
pub fn start(ctx: &Ctx, kind: JobKind, profile: &Profile, subject: &str) -> Result<RunningJob> {
    let s = &profile.settings;
    start_on(ctx, kind, (&s.name, &s.host, s.port), subject)
}

/// [`start`] for a server given as (profile name, host, port).
fn start_on(
    ctx: &Ctx,
    kind: JobKind,
    (profile, host, port): (&str, &str, u16),
    subject: &str,
) -> Result<RunningJob> {
    let lock_name = format!("job-{}.lock", uuid::Uuid::new_v4());
    let lock_path = locks_folder(ctx)?.join(&lock_name);
    let lock = private_fs::create_private_file(&lock_path)
        .map_err(|e| Error::writing("Creating the job's lock", &lock_path, e))?;
    lock.lock().map_err(|source| Error::Io {
        action: "Locking the job's lock",
        path: lock_path.clone(),
        source,
    })?;
    let inserted = ctx.store.conn().execute(
        "INSERT INTO jobs (kind, lock_name, pid, started_at, profile_name, host, port, subject) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            kind.as_str(),
            lock_name,
            std::process::id(),
            chrono::Local::now().to_rfc3339(),
            profile,
            host,
            port,
            subject
        ],
    );
    let id = match inserted {
        Ok(_) => ctx.store.conn().last_insert_rowid(),
        Err(e) => {
            let _ = std::fs::remove_file(&lock_path);
            return Err(ctx.store.error(e));
        }
    };
    Ok(RunningJob { id, lock_path, _lock: lock })
}

/// A restore whose process ended after it had created its database: the database is still on
/// the server, partly restored.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct InterruptedJob {
    pub id: i64,
    /// "restore".
    pub kind: String,
    pub started_at: String,
    /// When the next start found it interrupted.
    pub found_at: Option<String>,
    pub profile: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The backup it restored.
    pub subject: Option<String>,
    /// The database it had created, left partly restored.
    pub database: Option<String>,
}

impl InterruptedJob {
    /// What happened and what to do, in plain words.
    pub fn describe(&self) -> String {
        let database = self.database.as_deref().unwrap_or("?");
        let server = match (&self.host, self.port) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => "its server".to_owned(),
        };
        format!(
            "A restore started {} was interrupted (Lifeboat stopped, or lost its server, while \
             it ran). It had created the database {database:?} on {server}, which may be partly \
             restored: Lifeboat did not drop it. Check it, drop it if you do not need it, and run \
             the restore again.",
            self.started_at
        )
    }
}

/// Restores found interrupted that left a database behind, newest first.
pub fn interrupted(ctx: &Ctx) -> Result<Vec<InterruptedJob>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT id, kind, started_at, ended_at, profile_name, host, port, subject, \
             created_database FROM jobs WHERE status = 'interrupted' ORDER BY id DESC",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map([], |r| {
            Ok(InterruptedJob {
                id: r.get(0)?,
                kind: r.get(1)?,
                started_at: r.get(2)?,
                found_at: r.get(3)?,
                profile: r.get(4)?,
                host: r.get(5)?,
                port: r.get(6)?,
                subject: r.get(7)?,
                database: r.get(8)?,
            })
        })
        .map_err(|e| ctx.store.error(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))
}

/// Forgets an interrupted restore (the user dealt with its database).
pub fn dismiss(ctx: &Ctx, id: i64) -> Result<()> {
    ctx.store
        .conn()
        .execute("DELETE FROM jobs WHERE id = ?1 AND status = 'interrupted'", [id])
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

/// Finds the jobs whose process is gone and cleans up after them; returns how many. Backups
/// left `running` by a version that kept no job rows are marked interrupted too (no process of
/// this version can be running them).
pub fn sweep(ctx: &Ctx) -> Result<usize> {
    let running: Vec<(i64, String)> = {
        let conn = ctx.store.conn();
        let mut statement = conn
            .prepare("SELECT id, lock_name FROM jobs WHERE status = 'running'")
            .map_err(|e| ctx.store.error(e))?;
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| ctx.store.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))?
    };
    let mut swept = 0;
    for (id, lock_name) in running {
        let lock_path = locks_folder(ctx)?.join(&lock_name);
        let Some(lock) = take_if_free(&lock_path)? else { continue };
        clean_up(ctx, id)?;
        let _ = std::fs::remove_file(&lock_path);
        drop(lock);
        swept += 1;
    }
    swept += mark_orphan_backups(ctx)?;
    Ok(swept)
}

/// The job `id`'s lock when no process holds it (the job is gone); the name may be missing.
fn take_if_free(path: &Path) -> Result<Option<File>> {
    let file = private_fs::open_private(path, false).map_err(|source| Error::Io {
        action: "Opening a job's lock",
        path: path.to_owned(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => {
            Err(Error::Io { action: "Checking whether a job runs", path: path.to_owned(), source })
        }
    }
}

/// Removes an interrupted job's temporary files, marks its backup, and keeps its row only when
/// it left a database behind.
fn clean_up(ctx: &Ctx, id: i64) -> Result<()> {
    let partials: Vec<String> = {
        let conn = ctx.store.conn();
        let mut statement = conn
            .prepare("SELECT path FROM job_partials WHERE job_id = ?1")
            .map_err(|e| ctx.store.error(e))?;
        let rows = statement.query_map([id], |r| r.get(0)).map_err(|e| ctx.store.error(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ctx.store.error(e))?
    };
    for path in &partials {
        remove_partial(Path::new(path));
    }
    let now = chrono::Local::now().to_rfc3339();
    let conn = ctx.store.conn();
    conn.execute(
        "UPDATE backups SET status = 'failed', error_code = ?2, error_message = ?3 \
         WHERE job_id = ?1 AND status = 'running'",
        params![id, INTERRUPTED, interrupted_backup_message(&partials)],
    )
    .map_err(|e| ctx.store.error(e))?;
    conn.execute(
        "UPDATE jobs SET status = 'interrupted', ended_at = ?2 \
         WHERE id = ?1 AND status = 'running' AND created_database IS NOT NULL",
        params![id, now],
    )
    .map_err(|e| ctx.store.error(e))?;
    conn.execute("DELETE FROM jobs WHERE id = ?1 AND status = 'running'", [id])
        .map_err(|e| ctx.store.error(e))?;
    conn.execute("DELETE FROM job_partials WHERE job_id = ?1", [id])
        .map_err(|e| ctx.store.error(e))?;
    Ok(())
}

fn interrupted_backup_message(partials: &[String]) -> String {
    let removed = if partials.is_empty() {
        String::new()
    } else {
        " Its unfinished files were removed.".to_owned()
    };
    format!(
        "Interrupted: Lifeboat stopped (it was killed, crashed or the computer shut down) while \
         this backup ran.{removed} Run the backup again."
    )
}

/// Backups `running` with no running job: left by a version that kept no job rows, or whose
/// job row was lost. Their partial folders are not known; they are only marked.
fn mark_orphan_backups(ctx: &Ctx) -> Result<usize> {
    let changed = ctx
        .store
        .conn()
        .execute(
            "UPDATE backups SET status = 'failed', error_code = ?1, error_message = ?2 \
             WHERE status = 'running' AND (job_id IS NULL OR job_id NOT IN \
             (SELECT id FROM jobs WHERE status = 'running'))",
            params![INTERRUPTED, interrupted_backup_message(&[])],
        )
        .map_err(|e| ctx.store.error(e))?;
    Ok(changed)
}

/// Removes a recorded temporary file or folder: only a hidden `.….partial` name, never through
/// a link (a link at the name is removed itself, its target is not touched).
fn remove_partial(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    if !(name.starts_with('.') && name.ends_with(".partial")) {
        return;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

fn locks_folder(ctx: &Ctx) -> Result<PathBuf> {
    let folder = ctx.data_dir.path().join("locks");
    private_fs::ensure_private_dir(&folder).map_err(|source| Error::Io {
        action: "Creating the folder of locks",
        path: folder.clone(),
        source,
    })?;
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::keychain::MemoryKeychain;

    fn ctx(dir: &Path) -> Ctx {
        Ctx::for_tests(dir, Arc::new(MemoryKeychain::default()))
    }

    fn start(ctx: &Ctx, kind: JobKind, subject: &str) -> RunningJob {
        start_on(ctx, kind, ("p", "127.0.0.1", 5432), subject).unwrap()
    }

    fn backup_row(ctx: &Ctx, job: Option<i64>) -> i64 {
        let conn = ctx.store.conn();
        conn.execute(
            "INSERT INTO backups (profile_name, host, port, database, format, status, started_at, \
             job_id) VALUES ('p', 'h', 5432, 'db', 'custom', 'running', 'now', ?1)",
            [job],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    fn status(ctx: &Ctx, id: i64) -> (String, Option<String>) {
        ctx.store
            .conn()
            .query_row("SELECT status, error_code FROM backups WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    }

    #[test]
    fn a_running_job_is_left_alone_and_a_gone_one_is_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let job = start(&ctx, JobKind::Backup, "db");
        let backup = backup_row(&ctx, Some(job.id()));
        let partial = dest.path().join(".db_x.partial");
        job.record_partial(&ctx, &partial).unwrap();
        std::fs::create_dir(&partial).unwrap();
        std::fs::write(partial.join("db_x.backup"), b"half").unwrap();

        assert_eq!(sweep(&ctx).unwrap(), 0, "a job holding its lock runs");
        assert_eq!(status(&ctx, backup).0, "running");
        assert!(partial.exists());

        // The process "ends": its lock is released, its row stays.
        drop(job);
        assert_eq!(sweep(&ctx).unwrap(), 1);
        assert_eq!(status(&ctx, backup), ("failed".into(), Some(INTERRUPTED.into())));
        assert!(!partial.exists(), "the partial folder is removed");
        assert!(interrupted(&ctx).unwrap().is_empty(), "a backup leaves no database");
        let left: i64 =
            ctx.store.conn().query_row("SELECT count(*) FROM jobs", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
        let locks: Vec<_> = std::fs::read_dir(dir.path().join("locks")).unwrap().collect();
        assert!(locks.is_empty(), "no lock file is left");
    }

    #[test]
    fn a_finished_job_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let job = start(&ctx, JobKind::Restore, "x.backup");
        job.record_database(&ctx, "db_restored").unwrap();
        job.finish(&ctx);
        assert_eq!(sweep(&ctx).unwrap(), 0);
        assert!(interrupted(&ctx).unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path().join("locks")).unwrap().count(), 0);
    }

    #[test]
    fn an_interrupted_restore_is_kept_with_its_database_until_dismissed() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let job = start(&ctx, JobKind::Restore, "x.backup");
        job.record_database(&ctx, "db_restored_20250101").unwrap();
        drop(job);
        // A second opening of the store (the next start) sweeps.
        let again = super::super::context::Ctx::open(
            ctx.data_dir.clone(),
            ctx.tools.clone(),
            ctx.keychain.clone(),
        )
        .unwrap();
        let found = interrupted(&again).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].database.as_deref(), Some("db_restored_20250101"));
        assert!(found[0].describe().contains("did not drop it"));
        dismiss(&again, found[0].id).unwrap();
        assert!(interrupted(&again).unwrap().is_empty());
    }

    #[test]
    fn backups_running_without_a_job_are_marked_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let legacy = backup_row(&ctx, None);
        assert_eq!(sweep(&ctx).unwrap(), 1);
        assert_eq!(status(&ctx, legacy), ("failed".into(), Some(INTERRUPTED.into())));
    }

    #[test]
    fn only_hidden_partial_names_are_removed_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("important");
        std::fs::create_dir(&keep).unwrap();
        remove_partial(&keep);
        assert!(keep.exists(), "a name that is not a partial is never removed");
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            std::fs::create_dir(&target).unwrap();
            std::fs::write(target.join("file"), b"x").unwrap();
            let link = dir.path().join(".x.partial");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            remove_partial(&link);
            assert!(!link.exists() && target.join("file").exists());
        }
    }
}
