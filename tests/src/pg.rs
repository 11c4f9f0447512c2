//! Throwaway PostgreSQL servers from the bundled binaries, for system tests.
//!
//! - A server runs on a free loopback port with its data folder under a temp folder, as the
//!   unprivileged system user `lifeboat-test` when the tests run as root (postgres refuses root).
//! - [`PgServer::start`] gives a private server, stopped and deleted when dropped (also when the
//!   test panics). [`PgServer::shared`] gives one server per major for a whole test run, reused
//!   by every test process of that run; tests on it create their own uniquely named databases.
//! - Every server gets a watchdog process that stops it and deletes its folder as soon as the
//!   process owning it (the test process, or for shared servers the nextest runner) has gone,
//!   so a killed or crashed run leaves nothing behind.

use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lifeboat_engine::runner::ConnTarget;
use lifeboat_engine::tools::{BundledMajor, Toolbox};

/// The system user test servers run as when the tests run as root.
pub const TEST_USER: &str = "lifeboat-test";
/// The superuser every test server is initialised with (trust authentication on loopback).
pub const SUPERUSER: &str = "postgres";

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

fn running_as_root() -> bool {
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
}

impl PgServer {
    /// A private server of `major`, stopped and deleted when dropped.
    pub fn start(major: u32) -> PgServer {
        let dir = new_server_dir(&format!("private-{major}"));
        PgServer::boot(major, dir, std::process::id(), true)
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
            };
            if server.is_running() {
                return server;
            }
            let _ = fs::remove_dir_all(&server.dir);
        }
        fs::create_dir_all(&dir).unwrap();
        PgServer::boot(major, dir, owner, false)
    }

    fn boot(major: u32, dir: PathBuf, owner: u32, owned: bool) -> PgServer {
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
        run_checked(initdb, "initdb");
        spawn_watchdog(owner, &dir);

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
            password: None,
        }
    }

    /// A SQL client on `dbname`.
    pub async fn client(&self, dbname: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(dbname)
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {dbname} on port {}: {e}", self.port));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
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
