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
//!
//! A backup is untrusted input, so nothing of it runs as the superuser: the restore, the
//! comparison, pg_amcheck and the smoke checks connect as [`DRILL_USER`], a login role that may
//! create databases and read past row security, and nothing else — not a superuser, no
//! CREATEROLE, never a member of `pg_execute_server_program`, `pg_read_server_files` or
//! `pg_write_server_files` (so `COPY … TO PROGRAM`, `ALTER SYSTEM` and file access are refused).
//! It connects rather than `SET ROLE`s, as a restored `RESET ROLE` would undo a `SET ROLE`. It is
//! re-created with a new random password (kept in memory only) every time the server starts,
//! after the databases it owns are dropped, and dropped after the drill: whatever a drill changed
//! of it (its password, its own settings) never reaches the next. The superuser only creates it,
//! stands in for roles (granting them to it, so that default privileges `FOR ROLE` restore),
//! installs amcheck for pg_amcheck in a schema of its own, and drops what a drill left.

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

/// The unprivileged role that restores, compares, checks and runs the smoke checks.
pub const DRILL_USER: &str = "lifeboat_drill";

/// The attributes of [`DRILL_USER`]: it creates the scratch database (and so owns it and what
/// the restore creates without owners) and reads tables with forced row security whole.
const DRILL_USER_ATTRIBUTES: &str =
    "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS INHERIT";

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
    (may_create_plain_role(name) || lower == "postgres")
        && lower != PRACTICE_USER
        && lower != DRILL_USER
}

fn random_password() -> Secret {
    Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
}

/// A running practice server.
#[derive(Debug)]
pub struct PracticeServer {
    pub major: u32,
    pub version: String,
    pub port: u16,
    data: PathBuf,
    password: Secret,
    /// [`DRILL_USER`]'s password, new at every start.
    drill_password: Secret,
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
pub(crate) async fn init_cluster(
    bundle: &BundledMajor,
    data: &Path,
    password_file: &Path,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<Secret> {
    if data.exists() {
        std::fs::remove_dir_all(data).map_err(|e| preparing(data, e))?;
    }
    let password = random_password();
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
            drill_password: random_password(),
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
                    self.create_drill_user(ctx).await?;
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

    /// A profile for connecting to it as its superuser (not stored): for Lifeboat's own
    /// statements only, never for SQL that comes from a backup.
    pub fn profile(&self) -> Profile {
        self.profile_as(PRACTICE_USER, &self.password)
    }

    /// A profile for connecting as [`DRILL_USER`] (not stored): the restore, the comparison,
    /// pg_amcheck and the smoke checks use it.
    pub fn drill_profile(&self) -> Profile {
        self.profile_as(DRILL_USER, &self.drill_password)
    }

    fn profile_as(&self, user: &str, password: &Secret) -> Profile {
        Profile {
            settings: ProfileSettings {
                name: format!("Practice server (PostgreSQL {})", self.major),
                host: "127.0.0.1".into(),
                port: self.port,
                user: user.into(),
                maintenance_db: "postgres".into(),
                sslmode: SslMode::Disable,
                root_cert: None,
                password_source: PasswordSource::Environment,
                allow_cleartext_password: false,
            },
            keychain_account: String::new(),
            fixed_password: Some(password.clone()),
        }
    }

    async fn client(&self, ctx: &Ctx) -> Result<Client> {
        self.client_in(ctx, "postgres").await
    }

    /// The superuser in `database`, resolving names in `pg_catalog` only: a scratch database's
    /// owner (the drill role) may have set its `search_path` to a schema of its own.
    async fn client_in(&self, ctx: &Ctx, database: &str) -> Result<Client> {
        let client = connect(&ConnectSpec::for_profile(ctx, &self.profile(), database)?).await?;
        client
            .batch_execute("SET search_path = pg_catalog; SET default_transaction_read_only = off")
            .await
            .map_err(|e| query_error(&e))?;
        Ok(client)
    }

    /// Creates the roles of `names` that the cluster lacks as plain `NOLOGIN` roles, each with
    /// the stand-in mark and granted to [`DRILL_USER`] (a restore without owners still sets
    /// default privileges `FOR ROLE` them, which needs membership); returns those created. A
    /// role, its mark and the grant are one transaction, so a crash never leaves an unmarked
    /// stand-in.
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
                "CREATE ROLE {role} NOLOGIN; COMMENT ON ROLE {role} IS {}; GRANT {role} TO {}",
                quote_literal(STAND_IN_MARK),
                quote_ident(DRILL_USER)
            );
            client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
            created.push(name.clone());
        }
        Ok(created)
    }

    /// After a drill: drops the databases the drill role owns (the scratch database, any other
    /// a restore created), the stand-in roles and the drill role itself; returns the stand-ins.
    pub async fn reset_after_drill(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let stood_in = self.drop_leftovers(ctx).await?;
        self.drop_drill_user(ctx).await?;
        Ok(stood_in)
    }

    /// Drops scratch databases and the databases the drill role owns, then stand-in roles, that
    /// an earlier drill left (a crash, or a restore that created a database of its own); returns
    /// the stand-ins dropped.
    async fn drop_leftovers(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let client = self.client(ctx).await?;
        let rows = client
            .query(
                "SELECT datname::text, datistemplate FROM pg_database \
                 WHERE datname NOT IN ('postgres', 'template0', 'template1') \
                 AND (datname LIKE '%\\_drill\\_%' \
                 OR datdba = (SELECT oid FROM pg_roles WHERE rolname = $1))",
                &[&DRILL_USER],
            )
            .await
            .map_err(|e| query_error(&e))?;
        for row in rows {
            let name = quote_ident(row.get::<_, &str>(0));
            if row.get::<_, bool>(1) {
                let sql = format!("ALTER DATABASE {name} IS_TEMPLATE false");
                client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
            }
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        }
        drop_stand_ins(&client).await
    }

    /// Drops [`DRILL_USER`] with whatever it owns or was granted in the databases left (after
    /// [`Self::drop_leftovers`]).
    async fn drop_drill_user(&self, ctx: &Ctx) -> Result<()> {
        let client = self.client(ctx).await?;
        let role = quote_ident(DRILL_USER);
        let exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&DRILL_USER])
            .await
            .map_err(|e| query_error(&e))?
            .is_some();
        if !exists {
            return Ok(());
        }
        let databases = client
            .query("SELECT datname::text FROM pg_database WHERE datallowconn ORDER BY 1", &[])
            .await
            .map_err(|e| query_error(&e))?;
        for row in databases {
            let database: String = row.get(0);
            let there = self.client_in(ctx, &database).await?;
            let sql = format!("DROP OWNED BY {role}");
            there.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        }
        let sql = format!("DROP ROLE {role}");
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))
    }

    /// Creates [`DRILL_USER`] anew with a new password, after dropping the one an earlier drill
    /// used, then checks that it has exactly the rights it should.
    async fn create_drill_user(&self, ctx: &Ctx) -> Result<()> {
        self.drop_drill_user(ctx).await?;
        let client = self.client(ctx).await?;
        let sql = format!(
            "CREATE ROLE {} {DRILL_USER_ATTRIBUTES} PASSWORD {}",
            quote_ident(DRILL_USER),
            quote_literal(self.drill_password.expose())
        );
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        let row = client
            .query_one(
                "SELECT r.rolsuper OR r.rolcreaterole OR r.rolreplication OR NOT r.rolcreatedb \
                 OR NOT r.rolcanlogin \
                 OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) \
                 OR EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setrole = r.oid) \
                 OR pg_has_role(r.oid, 'pg_execute_server_program', 'MEMBER') \
                 OR pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER') \
                 OR pg_has_role(r.oid, 'pg_write_server_files', 'MEMBER') \
                 FROM pg_roles r WHERE r.rolname = $1",
                &[&DRILL_USER],
            )
            .await
            .map_err(|e| query_error(&e))?;
        if row.get::<_, bool>(0) {
            return Err(Error::PracticeServerFailed {
                detail: format!("the role {DRILL_USER} has rights it must not have"),
            });
        }
        Ok(())
    }

    /// Installs amcheck into the scratch `database` for pg_amcheck run as [`DRILL_USER`]: in a
    /// new schema the superuser owns, the role allowed to use it and call its functions
    /// (pg_amcheck finds the extension's schema itself). Returns the schema.
    pub async fn install_amcheck(&self, ctx: &Ctx, database: &str) -> Result<String> {
        let schema =
            format!("lifeboat_amcheck_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let (s, role) = (quote_ident(&schema), quote_ident(DRILL_USER));
        let sql = format!(
            "BEGIN; CREATE SCHEMA {s}; CREATE EXTENSION amcheck SCHEMA {s}; \
             GRANT USAGE ON SCHEMA {s} TO {role}; \
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {role}; COMMIT"
        );
        let client = self.client_in(ctx, database).await?;
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        Ok(schema)
    }

    /// Removes what [`Self::install_amcheck`] installed, so that the smoke checks see the
    /// database as restored.
    pub async fn remove_amcheck(&self, ctx: &Ctx, database: &str, schema: &str) -> Result<()> {
        let sql = format!(
            "DROP EXTENSION IF EXISTS amcheck; DROP SCHEMA IF EXISTS {}",
            quote_ident(schema)
        );
        let client = self.client_in(ctx, database).await?;
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))
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
             WHERE shobj_description(oid, 'pg_authid') = $1 \
             AND rolname NOT IN ($2, $3) ORDER BY 1",
            &[&STAND_IN_MARK, &PRACTICE_USER, &DRILL_USER],
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
