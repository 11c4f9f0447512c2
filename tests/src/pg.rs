//! Throwaway PostgreSQL servers from the bundled binaries, for system tests.
//!
//! - A server runs on a free loopback port with its data folder under a temp folder, as the
//!   unprivileged system user `lifeboat-test` when the tests run as root (postgres refuses root).
//! - [`PgServer::start`] gives a private server, stopped and deleted when dropped (also when the
//!   test panics). [`PgServer::start_with`] does the same with [`ServerOptions`]: password
//!   authentication, extra pg_hba.conf rules, TLS with a throwaway CA, TLS-only.
//!   [`PgServer::shared`] gives one server per major for a whole test run, reused by every test
//!   process of that run; tests on it create their own uniquely named databases.
//! - The harness's own SQL client ([`PgServer::client`]) connects over the Unix socket in the
//!   server's folder, which every server trusts, so it gets in whatever the TCP rules say.
//! - Every server gets a watchdog process that stops it and deletes its folder as soon as the
//!   process owning it (the test process, or for shared servers the nextest runner) has gone,
//!   so a killed or crashed run leaves nothing behind.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lifeboat_engine::base::tools::{BundledMajor, Toolbox};
use lifeboat_engine::pg::runner::ConnTarget;
use lifeboat_engine::util::secret::Secret;

/// The system user test servers run as when the tests run as root.
pub const TEST_USER: &str = "lifeboat-test";
/// The superuser every test server is initialised with (trust authentication on loopback
/// unless [`ServerOptions::password_auth`]; always trusted over the Unix socket).
pub const SUPERUSER: &str = "postgres";
/// The password of [`SUPERUSER`] on servers started with [`ServerOptions::password_auth`].
pub const SUPERUSER_PASSWORD: &str = "harness-superuser-pw";

/// How a private server ([`PgServer::start_with`]) is set up. The default is what
/// [`PgServer::start`] gives: trust on loopback TCP, no TLS.
#[derive(Debug, Default, Clone)]
pub struct ServerOptions {
    /// TCP connections need a password (scram-sha-256) instead of trust. The superuser
    /// [`SUPERUSER`] then has the password [`SUPERUSER_PASSWORD`].
    pub password_auth: bool,
    /// pg_hba.conf lines placed before the default TCP rules (after the Unix-socket trust line),
    /// e.g. `"host all blocked_user 127.0.0.1/32 reject"`.
    pub hba_first: Vec<String>,
    /// TLS on the server, with a certificate for CN=localhost (SAN DNS:localhost, IP:127.0.0.1)
    /// signed by a throwaway CA generated for this server; see [`PgServer::ca_cert`].
    pub tls: bool,
    /// Plain-text TCP connections are rejected by pg_hba.conf, so only TLS gets in. Implies `tls`.
    pub tls_only: bool,
}

fn state_root() -> PathBuf {
    std::env::temp_dir().join("lifeboat-pg-tests")
}

/// The bundle the tests use: every fetched major, with servers.
pub fn bundle_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/resources/postgres")
}

pub fn toolbox() -> Toolbox {
    Toolbox::discover(&bundle_root()).unwrap_or_else(|e| {
        panic!("{e}\nRun `make setup` (or installers/fetch-postgres.py) to fetch the PostgreSQL binaries.")
    })
}

/// Whether the tests run as root (then servers run as TEST_USER, and tmpfs can be mounted).
pub fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        let out = Command::new("id").arg("-u").output().expect("run id -u");
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    })
}

/// Creates the unprivileged user when missing and returns its uid and gid.
fn ensure_test_user() -> (u32, u32) {
    let lookup = || {
        let out = Command::new("id").args(["-u", TEST_USER]).output().ok()?;
        let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        let out = Command::new("id").args(["-g", TEST_USER]).output().ok()?;
        let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        Some((uid, gid))
    };
    if let Some(ids) = lookup() {
        return ids;
    }
    let status = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER])
        .status()
        .expect("run useradd");
    // Another test process may have created it at the same moment; only the lookup counts.
    lookup().unwrap_or_else(|| panic!("could not create the system user {TEST_USER} ({status})"))
}

/// A command that runs `program` as the server's owner.
fn as_owner(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", TEST_USER, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run_checked(mut command: Command, what: &str) {
    let out = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether every folder from `path` up to `/` lets other users through.
fn traversable_by_others(path: &Path) -> bool {
    path.ancestors()
        .all(|p| fs::metadata(p).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false))
}

/// The bundled major's files where the unprivileged user can run them. A checkout inside a
/// private folder (e.g. `mktemp -d`) is not reachable, so it is copied once to the temp folder.
fn reachable_install(bundle: &BundledMajor) -> PathBuf {
    let root = fs::canonicalize(&bundle.root).expect("bundle folder");
    if !running_as_root() || traversable_by_others(&root) {
        return root;
    }
    let copy = state_root().join(format!("bundle-{}-{}", bundle.major, bundle.version));
    let lock = File::create(state_root().join(format!("bundle-{}.lock", bundle.major))).unwrap();
    lock.lock().unwrap();
    if !copy.join("bin/postgres").exists() {
        let staging = state_root().join(format!("bundle-{}.partial", bundle.major));
        let _ = fs::remove_dir_all(&staging);
        run_checked(
            {
                let mut cp = Command::new("cp");
                cp.arg("-a").arg(&root).arg(&staging);
                cp
            },
            "copy the bundled PostgreSQL",
        );
        fs::rename(&staging, &copy).unwrap();
    }
    copy
}

/// A bundle folder (`<major>/bin/…` for every major) the unprivileged user can run, for
/// `LIFEBOAT_PG_BUNDLE` of programs run with [`as_test_user`].
pub fn reachable_bundle() -> PathBuf {
    let root = fs::canonicalize(bundle_root()).expect("bundle folder");
    if !running_as_root() || traversable_by_others(&root) {
        return root;
    }
    let links = state_root().join("bundle-links");
    fs::create_dir_all(&links).unwrap();
    for bundle in toolbox().majors() {
        let link = links.join(bundle.major.to_string());
        if !link.exists() {
            let _ = std::os::unix::fs::symlink(reachable_install(bundle), &link);
        }
    }
    links
}

/// A command running `program` as the unprivileged test user when the tests run as root (the
/// practice server, like PostgreSQL, refuses root), else as the current user. A program inside
/// a private folder is first made reachable by [`reachable_program`].
pub fn as_test_user(program: &Path) -> Command {
    if !running_as_root() {
        return Command::new(program);
    }
    ensure_test_user();
    let program = fs::canonicalize(program).expect("program");
    let reachable =
        if traversable_by_others(&program) { program } else { reachable_program(&program) };
    as_owner(&reachable)
}

/// `program` (inside a folder closed to others) under the shared temp folder. Every test
/// process of one build shares one entry, named by the file's identity, and it is a hard link
/// where the file system allows, so a debug binary of 200 MB costs no space per test (one
/// copy per test process once filled CI's disk). Entries whose build is gone are removed.
fn reachable_program(program: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = state_root();
    fs::create_dir_all(&root).unwrap();
    let name = program.file_name().unwrap().to_string_lossy().into_owned();
    let meta = fs::metadata(program).expect("program");
    let key = format!("{:x}-{:x}-{:x}", meta.dev(), meta.ino(), meta.mtime_nsec() ^ meta.mtime());
    let link = root.join(format!("{name}-{key}"));
    let copy = root.join(format!("{name}-{key}-copy"));
    if link.exists() {
        return link;
    }
    if copy.exists() {
        return copy;
    }
    remove_stale_programs(&root, &name);
    let staging = root.join(format!("{name}-{key}-{}.partial", std::process::id()));
    let _ = fs::remove_file(&staging);
    let target = if fs::hard_link(program, &staging).is_ok() {
        link
    } else {
        fs::copy(program, &staging).expect("copy the program where the test user can run it");
        copy
    };
    // Another process may have won the race; the rename replaces its entry with the same file.
    fs::rename(&staging, &target).unwrap();
    // rename() between two names of one file does nothing and leaves the staging name.
    let _ = fs::remove_file(&staging);
    target
}

/// Removes entries of `name` made by [`reachable_program`] for builds that no longer exist: a
/// hard link that is its file's last name, or a copy older than a day.
fn remove_stale_programs(root: &Path, name: &str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(root) else { return };
    let prefix = format!("{name}-");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let Ok(meta) = fs::symlink_metadata(entry.path()) else { continue };
        if !meta.is_file() || rest.ends_with(".partial") || rest.split('-').count() < 3 {
            continue;
        }
        let day_old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 86_400);
        let stale = if rest.ends_with("-copy") { day_old } else { meta.nlink() == 1 };
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Hands `path` (recursively) to the test user, so that programs run with [`as_test_user`] may
/// read and write it.
pub fn give_to_test_user(path: &Path) {
    if running_as_root() {
        ensure_test_user();
        let mut chown = Command::new("chown");
        chown.args(["-R", &format!("{TEST_USER}:")]).arg(path);
        run_checked(chown, "chown to the test user");
        // Its parents must let the user through (a tempdir is 0700).
        for parent in path.ancestors().skip(1) {
            if parent == Path::new("/") || traversable_by_others(parent) {
                break;
            }
            let mode = fs::metadata(parent).unwrap().permissions().mode();
            fs::set_permissions(parent, fs::Permissions::from_mode(mode | 0o711)).unwrap();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A running test server.
pub struct PgServer {
    pub major: u32,
    pub version: String,
    pub port: u16,
    /// The folder holding `data/` and the Unix socket.
    dir: PathBuf,
    install: PathBuf,
    /// Private servers are stopped on drop; shared ones by their watchdog.
    owned: bool,
    /// [`SUPERUSER_PASSWORD`] when the server was started with password authentication.
    password: Option<&'static str>,
    /// The throwaway CA's certificate when the server has TLS.
    ca_cert: Option<PathBuf>,
}

impl PgServer {
    /// A private server of `major`, stopped and deleted when dropped.
    pub fn start(major: u32) -> PgServer {
        PgServer::start_with(major, ServerOptions::default())
    }

    /// A private server of `major` set up as `options` say, stopped and deleted when dropped.
    pub fn start_with(major: u32, options: ServerOptions) -> PgServer {
        let dir = new_server_dir(&format!("private-{major}"));
        PgServer::boot(major, dir, std::process::id(), Some(&options))
    }

    /// The run-wide server of `major`, started by the first test that asks for it.
    pub fn shared(major: u32) -> PgServer {
        let owner = run_owner_pid();
        fs::create_dir_all(state_root()).unwrap();
        let name = format!("shared-{owner}-{major}");
        let lock = File::create(state_root().join(format!("{name}.lock"))).unwrap();
        lock.lock().unwrap();
        let dir = state_root().join(&name);
        if let Ok(port) = fs::read_to_string(dir.join("port")) {
            let port: u16 = port.trim().parse().unwrap();
            let bundle = toolbox().get(major).cloned().expect("major is bundled");
            let server = PgServer {
                major,
                version: bundle.version.clone(),
                port,
                dir: dir.clone(),
                install: reachable_install(&bundle),
                owned: false,
                password: None,
                ca_cert: None,
            };
            if server.is_running() {
                return server;
            }
            let _ = fs::remove_dir_all(&server.dir);
        }
        fs::create_dir_all(&dir).unwrap();
        PgServer::boot(major, dir, owner, None)
    }

    /// Initialises and starts a server in `dir`. `private` holds the options of a private
    /// server (stopped on drop, pg_hba.conf written by the harness); `None` is a shared server
    /// with initdb's own trust rules.
    fn boot(major: u32, dir: PathBuf, owner: u32, private: Option<&ServerOptions>) -> PgServer {
        let owned = private.is_some();
        let options = private.cloned().unwrap_or_default();
        let tls = options.tls || options.tls_only;
        let bundle =
            toolbox().get(major).cloned().unwrap_or_else(|| panic!("major {major} is not bundled"));
        assert!(bundle.has_server, "the bundled {major} has no server");
        let install = reachable_install(&bundle);
        if running_as_root() {
            let (uid, gid) = ensure_test_user();
            chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let data = dir.join("data");
        let mut initdb = as_owner(&install.join("bin/initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        let pwfile = dir.join("superuser.pw");
        if options.password_auth {
            write_owner_only(&pwfile, SUPERUSER_PASSWORD.as_bytes());
            initdb.arg("--pwfile").arg(&pwfile);
        }
        let initdb_out = initdb.stdin(Stdio::null()).output();
        let _ = fs::remove_file(&pwfile);
        let initdb_out = initdb_out.unwrap_or_else(|e| panic!("initdb: {e}"));
        assert!(
            initdb_out.status.success(),
            "initdb failed ({}):\n{}\n{}",
            initdb_out.status,
            String::from_utf8_lossy(&initdb_out.stdout),
            String::from_utf8_lossy(&initdb_out.stderr)
        );
        spawn_watchdog(owner, &dir);

        let ca_cert = tls.then(|| {
            let files = make_server_tls(&dir);
            append_conf(
                &data,
                &[
                    "ssl = on".to_owned(),
                    format!("ssl_cert_file = {}", conf_string(&files.server_cert)),
                    format!("ssl_key_file = {}", conf_string(&files.server_key)),
                ],
            );
            files.ca_cert
        });
        if options.password_auth {
            append_conf(&data, &["password_encryption = 'scram-sha-256'".to_owned()]);
        }
        if owned {
            fs::write(data.join("pg_hba.conf"), hba_conf(&options, tls)).unwrap();
        }
        let password = options.password_auth.then_some(SUPERUSER_PASSWORD);

        // A free port can be taken between the probe and the start; try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut server = PgServer {
                major,
                version: bundle.version.clone(),
                port,
                dir: dir.clone(),
                install: install.clone(),
                owned,
                password,
                ca_cert: ca_cert.clone(),
            };
            let options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
                dir.display()
            );
            let mut pg_ctl = as_owner(&install.join("bin/pg_ctl"));
            pg_ctl
                .arg("-D")
                .arg(&data)
                .args(["-w", "-t", "30", "-l"])
                .arg(dir.join("server.log"))
                .args(["-o", &options, "start"]);
            if pg_ctl.stdin(Stdio::null()).output().map(|o| o.status.success()).unwrap_or(false) {
                fs::write(dir.join("port"), port.to_string()).unwrap();
                return server;
            }
            server.owned = false; // nothing to stop; try the next port
        }
        let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL {major} did not start in {}:\n{log}", dir.display());
    }

    /// Connection settings for `dbname` as the superuser.
    pub fn target(&self, dbname: &str) -> ConnTarget {
        ConnTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: SUPERUSER.into(),
            dbname: dbname.into(),
            password: self.password.map(Secret::new),
            ..ConnTarget::default()
        }
    }

    /// PEM of the throwaway CA that signed the server's certificate (`None` without TLS).
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.ca_cert.clone()
    }

    /// [`SUPERUSER_PASSWORD`] when the server was started with password authentication.
    pub fn superuser_password(&self) -> Option<&'static str> {
        self.password
    }

    /// A SQL client on `dbname` as the superuser, over the Unix socket in the server's folder
    /// (trusted on every server, whatever the TCP rules).
    pub async fn client(&self, dbname: &str) -> tokio_postgres::Client {
        let mut config = tokio_postgres::Config::new();
        config.host_path(&self.dir).port(self.port).user(SUPERUSER).dbname(dbname);
        if let Some(password) = self.password {
            config.password(password);
        }
        let (client, connection) =
            config.connect(tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                panic!("connect to {dbname} via the socket in {}: {e}", self.dir.display())
            });
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Creates a login role `name` with an optional password and extra attributes (e.g.
    /// `"CREATEDB"`, spliced in as SQL), as the superuser.
    /// The one integer `sql` returns in `dbname` (a `count(*)`, say).
    pub async fn query_int(&self, dbname: &str, sql: &str) -> i64 {
        self.client(dbname).await.query_one(sql, &[]).await.unwrap().get(0)
    }

    pub async fn create_role(&self, name: &str, password: Option<&str>, attributes: &str) {
        let mut sql = format!("CREATE ROLE {} LOGIN", quote_ident(name));
        if let Some(password) = password {
            sql.push_str(&format!(" PASSWORD {}", quote_literal(password)));
        }
        if !attributes.trim().is_empty() {
            sql.push(' ');
            sql.push_str(attributes);
        }
        self.client("postgres")
            .await
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("create role {name}: {e}"));
    }

    /// Creates an empty database with a name unique to this process, and returns the name.
    pub async fn create_database(&self, prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name =
            format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let client = self.client("postgres").await;
        client.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name))).await.unwrap();
        name
    }

    /// `server_version_num` as the server reports it.
    pub async fn version_num(&self) -> u32 {
        let client = self.client("postgres").await;
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .unwrap();
        row.get::<_, i32>(0) as u32
    }

    pub fn is_running(&self) -> bool {
        let mut status = as_owner(&self.install.join("bin/pg_ctl"));
        status.arg("-D").arg(self.dir.join("data")).arg("status");
        status
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops the server now (fast shutdown), e.g. to test what a dead server does to a backup.
    pub fn stop(&self) {
        let mut stop = as_owner(&self.install.join("bin/pg_ctl"));
        stop.arg("-D").arg(self.dir.join("data")).args(["-m", "fast", "-w", "stop"]);
        let _ = stop.stdin(Stdio::null()).output();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.owned {
            let mut stop = as_owner(&self.install.join("bin/pg_ctl"));
            stop.arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "-w", "stop"]);
            let _ = stop.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// SQL identifier quoting, for test setup statements.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQL string literal quoting (standard_conforming_strings is on), for test setup statements.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A postgresql.conf string value.
fn conf_string(path: &Path) -> String {
    quote_literal(&path.display().to_string())
}

/// Appends settings to the server's postgresql.conf (later lines win).
fn append_conf(data: &Path, lines: &[String]) {
    let mut conf = OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
    writeln!(conf, "\n# Added by the Lifeboat test harness").unwrap();
    for line in lines {
        writeln!(conf, "{line}").unwrap();
    }
}

/// The whole pg_hba.conf of a private server. The Unix socket is always trusted, so the
/// harness's own client gets in; everything else is TCP on 127.0.0.1 (the only listen address).
fn hba_conf(options: &ServerOptions, tls: bool) -> String {
    let method = if options.password_auth { "scram-sha-256" } else { "trust" };
    let mut lines = vec![
        "# Written by the Lifeboat test harness".to_owned(),
        "local all all trust".to_owned(),
        "local replication all trust".to_owned(),
    ];
    lines.extend(options.hba_first.iter().cloned());
    if tls && options.tls_only {
        lines.push("hostnossl all all 127.0.0.1/32 reject".to_owned());
        lines.push("hostnossl replication all 127.0.0.1/32 reject".to_owned());
    }
    lines.push(format!("host all all 127.0.0.1/32 {method}"));
    lines.push(format!("host replication all 127.0.0.1/32 {method}"));
    lines.join("\n") + "\n"
}

/// Writes a file only its owner may read: the server's user when running as root.
fn write_owner_only(path: &Path, contents: &[u8]) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    if running_as_root() {
        let (uid, gid) = ensure_test_user();
        chown(path, Some(uid), Some(gid)).unwrap();
    }
}

struct TlsFiles {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

fn openssl(args: &[&OsStr], what: &str) {
    let mut command = Command::new("openssl");
    command.args(args);
    run_checked(command, what);
}

/// A throwaway CA and a server certificate for CN=localhost (SAN DNS:localhost, IP:127.0.0.1)
/// signed by it, in `dir/tls`. The server's key and certificate belong to the server's user,
/// mode 0600 (postgres refuses a key others can read).
fn make_server_tls(dir: &Path) -> TlsFiles {
    let tls = dir.join("tls");
    fs::create_dir(&tls).unwrap();
    fs::set_permissions(&tls, fs::Permissions::from_mode(0o755)).unwrap();
    let ca_key = tls.join("ca.key");
    let ca_cert = tls.join("ca.crt");
    let csr = tls.join("server.csr");
    let ext = tls.join("server.ext");
    let server_key = tls.join("server.key");
    let server_cert = tls.join("server.crt");
    let ec =
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].map(OsStr::new);
    let mut args: Vec<&OsStr> = ["req", "-x509"].map(OsStr::new).to_vec();
    args.extend(ec);
    args.extend([
        OsStr::new("-keyout"),
        ca_key.as_os_str(),
        OsStr::new("-out"),
        ca_cert.as_os_str(),
        OsStr::new("-days"),
        OsStr::new("2"),
        OsStr::new("-subj"),
        OsStr::new("/CN=Lifeboat throwaway test CA"),
        OsStr::new("-addext"),
        OsStr::new("basicConstraints=critical,CA:TRUE"),
        OsStr::new("-addext"),
        OsStr::new("keyUsage=critical,keyCertSign,cRLSign"),
    ]);
    openssl(&args, "openssl: create the test CA");

    let mut args: Vec<&OsStr> = ["req", "-new"].map(OsStr::new).to_vec();
    args.extend(ec);
    args.extend([
        OsStr::new("-keyout"),
        server_key.as_os_str(),
        OsStr::new("-out"),
        csr.as_os_str(),
        OsStr::new("-subj"),
        OsStr::new("/CN=localhost"),
    ]);
    openssl(&args, "openssl: create the server key");

    fs::write(
        &ext,
        "basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let serial = format!(
        "0x{:x}{:08x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
    );
    openssl(
        &[
            OsStr::new("x509"),
            OsStr::new("-req"),
            OsStr::new("-in"),
            csr.as_os_str(),
            OsStr::new("-CA"),
            ca_cert.as_os_str(),
            OsStr::new("-CAkey"),
            ca_key.as_os_str(),
            OsStr::new("-set_serial"),
            OsStr::new(&serial),
            OsStr::new("-days"),
            OsStr::new("2"),
            OsStr::new("-extfile"),
            ext.as_os_str(),
            OsStr::new("-out"),
            server_cert.as_os_str(),
        ],
        "openssl: sign the server certificate",
    );
    let _ = fs::remove_file(&csr);
    let _ = fs::remove_file(&ext);
    for file in [&server_key, &server_cert] {
        fs::set_permissions(file, fs::Permissions::from_mode(0o600)).unwrap();
        if running_as_root() {
            let (uid, gid) = ensure_test_user();
            chown(file, Some(uid), Some(gid)).unwrap();
        }
    }
    fs::set_permissions(&ca_key, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&ca_cert, fs::Permissions::from_mode(0o644)).unwrap();
    TlsFiles { ca_cert, server_cert, server_key }
}

fn new_server_dir(label: &str) -> PathBuf {
    fs::create_dir_all(state_root()).unwrap();
    // The root is shared by root-run and user-run tests; others may create entries too.
    let _ = fs::set_permissions(state_root(), fs::Permissions::from_mode(0o1777));
    let started = Instant::now();
    loop {
        let dir = state_root().join(format!(
            "{label}-{}-{}",
            std::process::id(),
            started.elapsed().as_nanos()
        ));
        if fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
}

/// The process whose end means the test run is over: the nextest runner, whose child each test
/// process is, or this process under plain `cargo test`.
fn run_owner_pid() -> u32 {
    if std::env::var_os("NEXTEST_RUN_ID").is_some() {
        std::os::unix::process::parent_id()
    } else {
        std::process::id()
    }
}

/// Starts a detached process that waits for `owner` to exit, then kills the server in `dir`
/// (immediate shutdown through the postmaster's pid file) and removes `dir`.
fn spawn_watchdog(owner: u32, dir: &Path) {
    // Fixed script; the pid and folder arrive as positional parameters, never spliced in.
    const SCRIPT: &str = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ]; then
          kill -QUIT "$pid" 2>/dev/null
          for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
          kill -KILL "$pid" 2>/dev/null
        fi
        rm -rf "$2" "$2.lock"
    "#;
    let mut watchdog = Command::new("sh");
    watchdog
        .args(["-c", SCRIPT, "lifeboat-pg-watchdog"])
        .arg(owner.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // Not waited for on purpose: it must outlive this process, and only exits after it.
    #[allow(clippy::zombie_processes)]
    let _detached = watchdog.spawn().expect("start the test server watchdog");
}

/// Waits until `check` holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Pids of the processes whose command line contains `needle` (Linux `/proc`). Used to prove a
/// child was killed, and that a secret never appears in a child's argv.
pub fn processes_with_cmdline(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(raw) = fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(pid);
            }
        }
    }
    found
}
