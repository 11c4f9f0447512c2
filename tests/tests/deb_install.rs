//! The Linux installer, installed the way a user installs it. `make package-debug` (run by
//! `make test` before this) packages target/debug/bundle/deb/Lifeboat_<version>_amd64.deb; this
//! test unpacks a clean Debian 12 root (debootstrap minbase, cached under installers/.cache/),
//! installs the package with `dpkg -i` and `apt-get -f install`, and runs the installed
//! /usr/bin/lifeboat with an empty environment, so nothing points it at the tools: its version,
//! the tools it finds, a backup of a real server (on the host's loopback, which a chroot shares)
//! and a drill of that backup on the practice server, all from /usr/lib/Lifeboat/postgres and as
//! an unprivileged user of that root (PostgreSQL refuses root).
//!
//! Needs root (chroot, mount) and the Debian mirror apt uses; the root is unmounted and deleted
//! when the test ends, also when it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use lifeboat_system_tests::pg::{processes_with_cmdline, running_as_root};
use lifeboat_system_tests::{PgServer, SUPERUSER, SUPERUSER_PASSWORD, ServerOptions};
use serde_json::Value;

const SUITE: &str = "bookworm";
/// The unprivileged user the drill runs as inside the root.
const USER: &str = "drill";
/// PATH inside the root: nothing of the host's.
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").into()
}

fn cache_dir() -> PathBuf {
    repo().join("installers/.cache")
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command`, fails the test when it fails, and says how long it took (shown with the
/// failure, or with --no-capture).
fn run(command: &mut Command, what: &str) -> Output {
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(output.status.success(), "{what} failed: {}", describe(&output));
    eprintln!("deb_install: {what}: {:.1} s", started.elapsed().as_secs_f64());
    output
}

/// The package `make package-debug` made.
fn the_package() -> PathBuf {
    let folder = repo().join("target/debug/bundle/deb");
    let name = format!("Lifeboat_{}_amd64.deb", env!("CARGO_PKG_VERSION"));
    let deb = folder.join(name);
    assert!(deb.is_file(), "{} is missing: run `make package-debug` first", deb.display());
    deb
}

/// The Debian mirror this machine's apt uses for the release itself (not -security, -updates).
fn debian_mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        if let Some(uri) = mirror_in(&text) {
            return uri;
        }
    }
    panic!("no apt source for Debian {SUITE} in /etc/apt/sources.list(.d)")
}

/// The URI of the first entry of `text` (one-line `deb` format or deb822) that carries SUITE.
fn mirror_in(text: &str) -> Option<String> {
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"deb") {
            let rest: Vec<&str> =
                words[1..].iter().copied().filter(|w| !w.starts_with('[')).collect();
            if rest.len() >= 2 && rest[1] == SUITE {
                return Some(rest[0].to_owned());
            }
        }
    }
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let is_deb = field("Types:").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let suites = field("Suites:").unwrap_or_default();
        if is_deb && suites.split_whitespace().any(|s| s == SUITE) {
            return field("URIs:").and_then(|u| u.split_whitespace().next().map(str::to_owned));
        }
    }
    None
}

/// A tarball of a clean `debootstrap --variant=minbase` root, made on first use and reused.
fn base_root_tarball() -> PathBuf {
    let cache = cache_dir();
    fs::create_dir_all(&cache).unwrap();
    let tarball = cache.join(format!("debian-{SUITE}-minbase.tar"));
    let lock = fs::File::create(cache.join(format!("debian-{SUITE}-minbase.lock"))).unwrap();
    lock.lock().unwrap();
    if tarball.is_file() {
        return tarball;
    }
    let staging = cache.join(format!("debian-{SUITE}-minbase.partial"));
    remove_root(&staging);
    let mirror = debian_mirror();
    let result = Command::new("debootstrap")
        .args(["--variant=minbase", SUITE])
        .arg(&staging)
        .arg(&mirror)
        .stdin(Stdio::null())
        .output();
    let made = match result {
        Ok(output) => output,
        Err(e) => {
            panic!("debootstrap cannot start ({e}): run `make setup` (installers/apt-packages.txt)")
        }
    };
    if !made.status.success() {
        remove_root(&staging);
        panic!("debootstrap {SUITE} from {mirror} failed: {}", describe(&made));
    }
    let partial = tarball.with_extension("tar.partial");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&staging)
            .args(["--numeric-owner", "-cf"])
            .arg(&partial)
            .arg("."),
        "pack the Debian root",
    );
    remove_root(&staging);
    fs::rename(&partial, &tarball).unwrap();
    tarball
}

/// Deletes a root folder without crossing into anything still mounted below it.
fn remove_root(root: &Path) {
    if root.exists() {
        let _ = Command::new("umount").arg(root.join("proc")).stderr(Stdio::null()).status();
        let _ = Command::new("rm").arg("-rf").arg("--one-file-system").arg(root).status();
    }
}

/// A Debian root in a temporary folder with /proc, /dev/shm and apt's download cache mounted.
/// Dropping it kills what still runs inside, unmounts everything and deletes the folder.
struct DebianRoot {
    path: PathBuf,
    mounts: Vec<PathBuf>,
}

impl DebianRoot {
    fn unpack(tarball: &Path) -> DebianRoot {
        let folder = tempfile::Builder::new()
            .prefix("lifeboat-deb-root-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let mut root = DebianRoot { path: folder, mounts: Vec::new() };
        run(
            Command::new("tar")
                .arg("-C")
                .arg(&root.path)
                .args(["--numeric-owner", "-xpf"])
                .arg(tarball),
            "unpack the Debian root",
        );
        fs::copy("/etc/resolv.conf", root.path.join("etc/resolv.conf")).unwrap();
        // The root is thrown away: dpkg need not sync every file it unpacks.
        fs::write(root.path.join("etc/dpkg/dpkg.cfg.d/lifeboat-test"), "force-unsafe-io\n")
            .unwrap();
        root.mount(&["-t", "proc", "proc"], "proc");
        // The practice server's shared memory.
        root.mount(&["-t", "tmpfs", "-o", "mode=1777", "shm"], "dev/shm");
        // Downloaded packages survive the root, so a second run fetches nothing again.
        let archives = cache_dir().join(format!("debian-{SUITE}-apt-archives"));
        fs::create_dir_all(&archives).unwrap();
        root.mount(&["--bind", &archives.display().to_string()], "var/cache/apt/archives");
        root
    }

    fn mount(&mut self, args: &[&str], inside: &str) {
        let target = self.path.join(inside);
        fs::create_dir_all(&target).unwrap();
        run(Command::new("mount").args(args).arg(&target), &format!("mount {inside}"));
        self.mounts.push(target);
    }

    /// `argv` run as root inside the root, with an empty environment but PATH and `env`.
    fn command(&self, argv: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new("/usr/sbin/chroot");
        command.env_clear().env("PATH", ROOT_PATH).arg(&self.path).arg("/usr/bin/env").arg("-i");
        command.arg(format!("PATH={ROOT_PATH}"));
        command.args(env.iter().map(|(k, v)| format!("{k}={v}")));
        command.args(argv);
        command
    }

    /// `argv` run as [`USER`] inside the root, with an empty environment but PATH, HOME and `env`.
    fn as_user(&self, argv: &[&str], env: &[(&str, &str)]) -> Command {
        let home = format!("/home/{USER}");
        let mut full = vec![("HOME", home.as_str())];
        full.extend_from_slice(env);
        let mut command = self.command(&["runuser", "-u", USER, "--", "/usr/bin/env", "-i"], &[]);
        command.arg(format!("PATH={ROOT_PATH}"));
        command.args(full.iter().map(|(k, v)| format!("{k}={v}")));
        command.args(argv);
        command
    }

    /// Processes whose root directory is this root.
    fn processes_inside(&self) -> Vec<u32> {
        let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|root| root == self.path)
            })
            .collect()
    }
}

impl Drop for DebianRoot {
    fn drop(&mut self) {
        for pid in self.processes_inside() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        for target in self.mounts.iter().rev() {
            let unmounted = Command::new("umount").arg(target).status().is_ok_and(|s| s.success());
            if !unmounted {
                let _ = Command::new("umount").arg("-l").arg(target).status();
            }
        }
        let _ = Command::new("rm").arg("-rf").arg("--one-file-system").arg(&self.path).status();
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", describe(output)))
}

#[test]
fn the_mirror_is_read_from_either_apt_source_format() {
    let one_line = "# comment\ndeb [signed-by=/k.gpg] http://m.example/debian bookworm main\n";
    assert_eq!(mirror_in(one_line).as_deref(), Some("http://m.example/debian"));
    let deb822 = "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n\
                  Types: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\n";
    assert_eq!(mirror_in(deb822).as_deref(), Some("http://m.example/debian"));
    assert_eq!(mirror_in("deb http://m.example/debian trixie main\n"), None);
}

#[tokio::test]
async fn the_package_installs_on_a_clean_debian_and_its_cli_backs_up_and_drills() {
    assert!(running_as_root(), "installing a package into a Debian root needs root");
    let deb = the_package();
    let tarball = base_root_tarball();
    let root = DebianRoot::unpack(&tarball);

    fs::copy(&deb, root.path.join("tmp/lifeboat.deb")).unwrap();
    let apt_env = [("DEBIAN_FRONTEND", "noninteractive")];
    run(&mut root.command(&["apt-get", "update"], &apt_env), "apt-get update");
    // A clean root lacks the desktop libraries: dpkg leaves the package unconfigured, and
    // apt-get fetches what its Depends name (only those: they must be enough), then configures it.
    let started = Instant::now();
    let _ = root.command(&["dpkg", "-i", "/tmp/lifeboat.deb"], &apt_env).output().unwrap();
    eprintln!("deb_install: dpkg -i: {:.1} s", started.elapsed().as_secs_f64());
    run(
        &mut root.command(&["apt-get", "-f", "install", "-y", "--no-install-recommends"], &apt_env),
        "apt-get -f install",
    );
    let status = run(
        &mut root.command(&["dpkg-query", "-W", "-f", "${Status}", "lifeboat"], &[]),
        "dpkg-query",
    );
    assert_eq!(String::from_utf8_lossy(&status.stdout), "install ok installed");
    for installed in
        ["usr/bin/lifeboat", "usr/bin/Lifeboat", "usr/lib/Lifeboat/postgres/18/bin/postgres"]
    {
        assert!(root.path.join(installed).is_file(), "/{installed} is installed");
    }

    let version = run(&mut root.command(&["lifeboat", "--version"], &[]), "lifeboat --version");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("lifeboat {}", env!("CARGO_PKG_VERSION"))
    );

    run(
        &mut root.command(&["useradd", "--create-home", "--shell", "/bin/sh", USER], &[]),
        "useradd",
    );
    let tools =
        json(&run(&mut root.as_user(&["lifeboat", "tools", "--json"], &[]), "lifeboat tools"));
    let bundled: Vec<(u64, bool)> = tools["bundled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["major"].as_u64().unwrap(), m["hasServer"].as_bool().unwrap()))
        .collect();
    // The installer's bundle: clients of every major, the server of the newest only.
    assert_eq!(
        bundled,
        [(14, false), (15, false), (16, false), (17, false), (18, true)],
        "{tools:#}"
    );
    assert_eq!(tools["practiceServerMajor"], 18, "{tools:#}");
    assert_eq!(tools["practiceServerProblem"], Value::Null, "{tools:#}");
    assert_eq!(tools["dataDir"], format!("/home/{USER}/.local/share/Lifeboat"), "{tools:#}");

    // A real server of another major than the practice server's, with password authentication.
    let server =
        PgServer::start_with(16, ServerOptions { password_auth: true, ..Default::default() });
    let db = server.create_database("installed").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE parcels (id int PRIMARY KEY, label text NOT NULL); \
             INSERT INTO parcels SELECT g, 'parcel ' || g FROM generate_series(1, 500) g;",
        )
        .await
        .unwrap();
    let port = server.port.to_string();
    let password = [("PGPASSWORD", SUPERUSER_PASSWORD)];
    let profile = [
        "lifeboat",
        "profile",
        "add",
        "source",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        SUPERUSER,
        "--use-pgpass",
        "--json",
    ];
    run(&mut root.as_user(&profile, &password), "lifeboat profile add");

    let backup = ["lifeboat", "backup", "--profile", "source", "--database", &db, "--json"];
    let made = json(&run(&mut root.as_user(&backup, &password), "lifeboat backup"));
    let manifest = made["manifestPath"].as_str().expect("manifestPath").to_owned();
    assert!(manifest.starts_with(&format!("/home/{USER}/")), "{made:#}");

    let started = Instant::now();
    let drill = root.as_user(&["lifeboat", "test", &manifest, "--json"], &[]).output().unwrap();
    eprintln!("deb_install: lifeboat test: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(drill.status.code(), Some(0), "{}", describe(&drill));
    let report = json(&drill);
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["target"], "practice server", "{report:#}");
    assert!(report["serverVersion"].as_str().unwrap().starts_with("18."), "{report:#}");
    assert!(
        processes_with_cmdline("/usr/lib/Lifeboat/postgres").is_empty(),
        "the practice server stopped after the drill"
    );
}
