//! The local practice server: a PostgreSQL server Lifeboat runs itself, from the bundled
//! binaries of the newest major, so that a backup can be test-restored without touching any
//! server of the user's.
//!
//! Its cluster lives in the data folder (`practice/<major>/data`, created with initdb on first
//! use), listens on a free loopback port for the user `lifeboat` with a random password (scram;
//! kept owner-only in `practice/<major>/password`: other users of the computer must not reach
//! the restored data), has no Unix socket (no path-length limits, nothing in /tmp) and no
//! durability (fsync off: it only ever holds scratch databases). It runs for one drill: started by
//! [`PracticeServer::start`], stopped by [`PracticeServer::stop`] — or, when the drill ends any
//! other way (an error, a cancel, a panic), by the drop guard. A file lock lets only one drill use
//! it at a time; scratch databases a crash left behind are dropped when it starts.
//!
//! A drill stands in for the roles a backup names (owners, grantees, policy roles …) that the
//! cluster lacks: plain `NOLOGIN` roles, each marked by a comment, so that the backup restores
//! as it would at home. They are dropped after the drill, and roles carrying the mark that a
//! crash left behind when the server next starts; a role without the mark is never dropped.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{NullSink, ProgressSink};
use crate::base::tools::{BundledMajor, Tool};
use crate::ops::restore::may_create_plain_role;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::runner::{self, ToolCommand};
use crate::storage::context::Ctx;
use crate::storage::profiles::{PasswordSource, Profile, ProfileSettings, SslMode};
use crate::util::private_fs;
use crate::util::quote::{quote_ident, quote_literal};
use crate::util::secret::Secret;

/// The superuser of the practice cluster.
pub const PRACTICE_USER: &str = "lifeboat";

/// The comment on every role Lifeboat stands in for: the only roles it ever drops.
const STAND_IN_MARK: &str = "Stood in by Lifeboat for a restore drill; dropped after it.";

/// The names a drill may stand in for, of the roles a backup names: never the practice
/// superuser, PostgreSQL's predefined `pg_` roles or the names it reserves (PUBLIC, NONE,
/// CURRENT_USER …), whatever their case. `postgres` is only the usual name of a server's
/// superuser; here it is a plain role like the others, because data (a `regrole` column),
/// grants and policies name it and fail to restore without it, and a practice drill restores
/// without owners, so it never has to own what only a superuser may own.
pub fn stand_in_candidates(named: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    named.into_iter().filter(|name| may_stand_in(name)).collect()
}

fn may_stand_in(name: &str) -> bool {
    let lower = name.to_lowercase();
    (may_create_plain_role(name) || lower == "postgres") && lower != PRACTICE_USER
}

/// A running practice server.
#[derive(Debug)]
pub struct PracticeServer {
    pub major: u32,
    pub version: String,
    pub port: u16,
    data: PathBuf,
    password: Secret,
    bundle: BundledMajor,
    stopped: bool,
    _lock: std::fs::File,
}

/// Whether this process runs as root (PostgreSQL refuses to).
pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The owner of a file just created is the effective user. The name is unpredictable and
        // the file created new, never through a link another user put in the shared temp folder.
        let probe = std::env::temp_dir().join(format!("lifeboat-uid-{}", uuid::Uuid::new_v4()));
        let uid =
            private_fs::create_private_file(&probe).and_then(|f| f.metadata()).map(|m| m.uid());
        if uid.is_ok() {
            let _ = std::fs::remove_file(&probe);
        }
        uid.ok() == Some(0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
    private_fs::replace_private_file(path, text.as_bytes())
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|source| Error::Io {
        action: "Finding a free port for the practice server",
        path: PathBuf::new(),
        source,
    })?;
    Ok(listener.local_addr().map(|a| a.port()).unwrap_or(0))
}

/// A program of the practice server that failed is the practice server failing.
fn practice_failed(error: Error) -> Error {
    match error {
        Error::ToolFailed { detail, .. } => Error::PracticeServerFailed { detail },
        other => other,
    }
}

fn preparing(path: &Path, source: std::io::Error) -> Error {
    Error::writing("Preparing the practice server's folder", path, source)
}

/// Holds the practice server for this drill, waiting while another drill has it.
async fn lock_home(home: &Path) -> Result<std::fs::File> {
    let lock_path = home.join("in-use.lock");
    let lock = private_fs::open_private(&lock_path, false).map_err(|e| preparing(&lock_path, e))?;
    tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| preparing(&lock_path, std::io::Error::other(e.to_string())))?
        .map_err(|e| preparing(&lock_path, e))
}

/// The cluster's data folder and its superuser's password, the cluster created when there is
/// none yet.
async fn cluster(
    bundle: &BundledMajor,
    home: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<(PathBuf, Secret)> {
    let data = home.join("data");
    let password_file = home.join("password");
    let password = match std::fs::read_to_string(&password_file) {
        Ok(text) if data.join("PG_VERSION").is_file() => Secret::new(text.trim()),
        // No cluster yet, a cluster half-created by an interrupted initdb, or one without
        // a password: started over.
        _ => init_cluster(bundle, &data, &password_file, sink, cancel).await?,
    };
    Ok((data, password))
}

/// initdb with a new random password, then the settings of a scratch-only server.
async fn init_cluster(
    bundle: &BundledMajor,
    data: &Path,
    password_file: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Secret> {
    if data.exists() {
        std::fs::remove_dir_all(data).map_err(|e| preparing(data, e))?;
    }
    let password =
        Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()));
    write_owner_only(password_file, password.expose()).map_err(|e| preparing(password_file, e))?;
    let initdb = ToolCommand::new(bundle, Tool::Initdb)?
        .arg("-D")
        .arg(data.as_os_str())
        .arg(format!("--pwfile={}", password_file.display()))
        .args(["-U", PRACTICE_USER, "--auth=scram-sha-256", "-E", "UTF8"])
        .args(["--no-locale", "--no-sync", "--no-instructions"]);
    if let Err(error) = runner::run(initdb, sink, cancel).await {
        let _ = std::fs::remove_dir_all(data);
        return Err(practice_failed(error));
    }
    // Settings in the configuration file rather than on pg_ctl's command line, which goes
    // through a shell that quotes differently on each system.
    let settings = "\n# Lifeboat's practice server: loopback only, no Unix socket, \
                    no durability (it only holds scratch databases).\n\
                    listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
                    fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    let conf = data.join("postgresql.conf");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut f| std::io::Write::write_all(&mut f, settings.as_bytes()))
        .map_err(|e| preparing(&conf, e))?;
    Ok(password)
}

impl PracticeServer {
    /// Starts the practice server (creating its cluster on first use). Waits while another
    /// drill uses it.
    pub async fn start(
        ctx: &Ctx,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<PracticeServer> {
        let bundle = ctx.tools.practice_server().ok_or(Error::PracticeServerUnavailable)?.clone();
        if running_as_root() {
            return Err(Error::PracticeServerAsRoot);
        }
        let home = ctx.data_dir.path().join("practice").join(bundle.major.to_string());
        private_fs::ensure_private_dir(&home).map_err(|e| preparing(&home, e))?;
        let lock = lock_home(&home).await?;
        let (data, password) = cluster(&bundle, &home, sink, cancel).await?;
        let server = PracticeServer {
            major: bundle.major,
            version: bundle.version.clone(),
            port: 0,
            data,
            password,
            bundle,
            stopped: true,
            _lock: lock,
        };
        // A server left running by a Lifeboat that crashed is ours (we hold the lock): stop it.
        if server.data.join("postmaster.pid").exists() {
            server.pg_ctl_stop("immediate");
        }
        server.listen(ctx, sink, cancel).await
    }

    /// Starts the postmaster on a free port; a few tries, because another program may take
    /// the port between finding it free and the server binding it.
    async fn listen(
        mut self,
        ctx: &Ctx,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<PracticeServer> {
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            let start = ToolCommand::new(&self.bundle, Tool::PgCtl)?
                .arg("-D")
                .arg(self.data.as_os_str())
                .arg("-l")
                .arg(self.data.join("server.log").as_os_str())
                .args(["-w", "-t", "60", "-o", &format!("-p {port}"), "start"]);
            match runner::run(start, sink, cancel).await {
                Ok(_) => {
                    self.port = port;
                    self.stopped = false;
                    self.drop_leftovers(ctx).await?;
                    return Ok(self);
                }
                Err(Error::Cancelled) => {
                    self.stopped = false;
                    return Err(Error::Cancelled);
                }
                // A postmaster that came up after pg_ctl gave up waiting is stopped first.
                Err(error) => {
                    if self.data.join("postmaster.pid").exists() {
                        self.pg_ctl_stop("immediate");
                    }
                    last = Some(error);
                }
            }
        }
        Err(self.start_failure(last))
    }

    /// Why the server did not start, with the last lines of its log when pg_ctl said little.
    fn start_failure(&self, last: Option<Error>) -> Error {
        let log = std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        match last {
            Some(Error::ToolFailed { detail, .. }) if !tail.is_empty() => {
                Error::PracticeServerFailed {
                    detail: format!(
                        "{detail}; {}",
                        tail.into_iter().rev().collect::<Vec<_>>().join(" ")
                    ),
                }
            }
            Some(error) => practice_failed(error),
            None => Error::PracticeServerFailed { detail: "no attempt was made".into() },
        }
    }

    /// A profile for connecting to it (not stored).
    pub fn profile(&self) -> Profile {
        Profile {
            settings: ProfileSettings {
                name: format!("Practice server (PostgreSQL {})", self.major),
                host: "127.0.0.1".into(),
                port: self.port,
                user: PRACTICE_USER.into(),
                maintenance_db: "postgres".into(),
                sslmode: SslMode::Disable,
                root_cert: None,
                password_source: PasswordSource::Environment,
            },
            keychain_account: String::new(),
            fixed_password: Some(self.password.clone()),
        }
    }

    async fn client(&self, ctx: &Ctx) -> Result<Client> {
        connect(&ConnectSpec::for_profile(ctx, &self.profile(), "postgres")?).await
    }

    /// Creates the roles of `names` that the cluster lacks as plain `NOLOGIN` roles, each with
    /// the stand-in mark; returns those created. A role and its mark are one transaction, so a
    /// crash never leaves an unmarked stand-in.
    pub async fn stand_in_roles(&self, ctx: &Ctx, names: &BTreeSet<String>) -> Result<Vec<String>> {
        let client = self.client(ctx).await?;
        let rows = client
            .query("SELECT rolname::text FROM pg_roles", &[])
            .await
            .map_err(|e| query_error(&e))?;
        let existing: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        let mut created = Vec::new();
        for name in names.iter().filter(|n| may_stand_in(n) && !existing.contains(*n)) {
            let role = quote_ident(name);
            let sql = format!(
                "CREATE ROLE {role} NOLOGIN; COMMENT ON ROLE {role} IS {}",
                quote_literal(STAND_IN_MARK)
            );
            client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
            created.push(name.clone());
        }
        Ok(created)
    }

    /// Drops every role carrying the stand-in mark (after the scratch databases they own
    /// things in are gone); returns their names.
    pub async fn remove_stand_ins(&self, ctx: &Ctx) -> Result<Vec<String>> {
        drop_stand_ins(&self.client(ctx).await?).await
    }

    /// Drops scratch databases, then stand-in roles, that a drill which crashed left behind.
    async fn drop_leftovers(&self, ctx: &Ctx) -> Result<()> {
        let client = self.client(ctx).await?;
        let rows = client
            .query("SELECT datname::text FROM pg_database WHERE datname LIKE '%\\_drill\\_%'", &[])
            .await
            .map_err(|e| query_error(&e))?;
        for row in rows {
            let name: String = row.get(0);
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&name));
            client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        }
        drop_stand_ins(&client).await.map(|_| ())
    }

    /// Stops the server and waits until it is gone.
    pub async fn stop(mut self) -> Result<()> {
        let stop = ToolCommand::new(&self.bundle, Tool::PgCtl)?
            .arg("-D")
            .arg(self.data.as_os_str())
            .args(["-w", "-t", "60", "-m", "fast", "stop"]);
        let result = runner::run(stop, &NullSink, &CancellationToken::new()).await;
        self.stopped = result.is_ok();
        result.map(|_| ()).map_err(practice_failed)
    }

    /// Stops the server without waiting for the runtime (the drop guard).
    fn pg_ctl_stop(&self, mode: &str) {
        if let Ok(program) = self.bundle.program(Tool::PgCtl) {
            let _ = std::process::Command::new(program)
                .arg("-D")
                .arg(&self.data)
                .args(["-w", "-t", "30", "-m", mode, "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn drop_stand_ins(client: &Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT rolname::text FROM pg_roles \
             WHERE shobj_description(oid, 'pg_authid') = $1 ORDER BY 1",
            &[&STAND_IN_MARK],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    for name in &names {
        let sql = format!("DROP ROLE IF EXISTS {}", quote_ident(name));
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
    }
    Ok(names)
}

impl Drop for PracticeServer {
    fn drop(&mut self) {
        if !self.stopped {
            self.pg_ctl_stop("immediate");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ordinary_role_names_are_stood_in_for() {
        let named = [
            "app_reader",
            "Odd Role",
            "postgres",
            "Postgres",
            "lifeboat",
            "pg_read_all_data",
            "PG_Monitor",
            "public",
            "PUBLIC",
            "none",
            "current_user",
            "session_user",
            "",
            "a\0b",
        ]
        .map(String::from);
        let long = "x".repeat(64);
        let chosen = stand_in_candidates(named.into_iter().chain([long, "y".repeat(63)]));
        let chosen: Vec<&str> = chosen.iter().map(String::as_str).collect();
        assert_eq!(
            chosen,
            ["Odd Role", "Postgres", "app_reader", "postgres", "y".repeat(63).as_str()]
        );
    }
}
