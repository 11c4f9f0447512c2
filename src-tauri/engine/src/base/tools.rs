//! The PostgreSQL programs Lifeboat ships, and which of them to use against a given server.
//!
//! The bundle is a folder with one sub-folder per major (`14/`, `15/`, …), each holding `bin/`,
//! `lib/` and, for majors that carry a server, `share/`. The rules for picking a major:
//! - pg_dump: the server's own major when bundled, else the closest one above it. Any newer
//!   pg_dump could read the server too, but its archive could then only be restored by an equally
//!   new pg_restore (pg_restore 14 rejects an 18 archive: "unsupported version (1.16) in file
//!   header"), and that one writes settings old servers reject. A dump made by the server's own
//!   major restores into that server with its own tools and into every newer one.
//! - pg_restore, psql: the target server's own major when bundled. A newer pg_restore emits
//!   settings an older server rejects (pg_restore 17+ writes `SET transaction_timeout`, unknown
//!   to servers up to 16), so the closest major at or above the server's is the next best.
//! - A server newer than every bundled major is refused with both versions named.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Result};

/// The oldest server pg_dump of the bundled majors can read (PostgreSQL 9.2).
const OLDEST_DUMPABLE_NUM: u32 = 90_200;

/// File the fetch script writes into each major's folder: `<version> <platform> <sha256>`.
pub const STAMP_FILE: &str = ".lifeboat-stamp";

/// Environment variable that points Lifeboat at a bundle folder, ahead of every default.
pub const BUNDLE_ENV: &str = "LIFEBOAT_PG_BUNDLE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    PgDump,
    PgDumpall,
    PgRestore,
    Psql,
    PgAmcheck,
    Initdb,
    PgCtl,
    Postgres,
}

impl Tool {
    pub const CLIENTS: [Tool; 5] =
        [Tool::PgDump, Tool::PgDumpall, Tool::PgRestore, Tool::Psql, Tool::PgAmcheck];
    pub const SERVER: [Tool; 3] = [Tool::Initdb, Tool::PgCtl, Tool::Postgres];

    pub fn program_name(self) -> &'static str {
        match self {
            Tool::PgDump => "pg_dump",
            Tool::PgDumpall => "pg_dumpall",
            Tool::PgRestore => "pg_restore",
            Tool::Psql => "psql",
            Tool::PgAmcheck => "pg_amcheck",
            Tool::Initdb => "initdb",
            Tool::PgCtl => "pg_ctl",
            Tool::Postgres => "postgres",
        }
    }

    fn file_name(self) -> String {
        if cfg!(windows) {
            format!("{}.exe", self.program_name())
        } else {
            self.program_name().to_owned()
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program_name())
    }
}

/// A server's version as `server_version_num` reports it (e.g. 180006 for 18.6, 90624 for 9.6.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion(pub u32);

impl ServerVersion {
    /// The major as the bundle names it. Releases before 10 had two-part majors (9.6); all of them
    /// sort below every bundled major, so they share the value 9.
    pub fn major(self) -> u32 {
        self.0 / 10_000
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 100_000 {
            write!(f, "{}.{}", self.0 / 10_000, self.0 % 10_000)
        } else {
            write!(f, "{}.{}.{}", self.0 / 10_000, (self.0 / 100) % 100, self.0 % 100)
        }
    }
}

/// One major of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledMajor {
    pub major: u32,
    /// Full release, e.g. "18.6.0".
    pub version: String,
    pub root: PathBuf,
    /// Whether initdb, pg_ctl and postgres are present (only the newest major ships them).
    pub has_server: bool,
}

impl BundledMajor {
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// Path of `tool`, checked to exist.
    pub fn program(&self, tool: Tool) -> Result<PathBuf> {
        let path = self.bin_dir().join(tool.file_name());
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::ToolMissing { tool, major: self.major, path })
        }
    }
}

/// All bundled majors, oldest first.
#[derive(Debug, Clone)]
pub struct Toolbox {
    root: PathBuf,
    majors: Vec<BundledMajor>,
}

impl Toolbox {
    /// Reads the bundle at `root`. A major counts when its folder name is a number and it has the
    /// client tools; the server tools are optional.
    pub fn discover(root: &Path) -> Result<Toolbox> {
        let not_found =
            || Error::ToolsNotFound { searched: root.display().to_string(), from_env: false };
        let entries = std::fs::read_dir(root).map_err(|_| not_found())?;
        let mut majors = Vec::new();
        for entry in entries.flatten() {
            let Some(major) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let dir = entry.path();
            let has = |tool: Tool| dir.join("bin").join(tool.file_name()).is_file();
            if !Tool::CLIENTS.iter().all(|t| has(*t)) {
                continue;
            }
            let version = read_stamp_version(&dir).unwrap_or_else(|| major.to_string());
            let has_server = Tool::SERVER.iter().all(|t| has(*t)) && dir.join("share").is_dir();
            majors.push(BundledMajor { major, version, root: dir, has_server });
        }
        if majors.is_empty() {
            return Err(not_found());
        }
        majors.sort_by_key(|m| m.major);
        Ok(Toolbox { root: root.to_owned(), majors })
    }

    /// Finds the bundle. `LIFEBOAT_PG_BUNDLE`, when set, is the only place looked at (a wrong
    /// value must not be hidden by a fallback); otherwise each candidate in order.
    pub fn locate(candidates: impl IntoIterator<Item = PathBuf>) -> Result<Toolbox> {
        match std::env::var_os(BUNDLE_ENV) {
            Some(path) if !path.is_empty() => Toolbox::first_of(vec![PathBuf::from(path)], true),
            _ => Toolbox::locate_in(candidates),
        }
    }

    /// The first of `candidates` that holds a bundle, whatever `LIFEBOAT_PG_BUNDLE` says.
    pub fn locate_in(candidates: impl IntoIterator<Item = PathBuf>) -> Result<Toolbox> {
        Toolbox::first_of(candidates.into_iter().collect(), false)
    }

    fn first_of(candidates: Vec<PathBuf>, from_env: bool) -> Result<Toolbox> {
        for candidate in &candidates {
            if let Ok(toolbox) = Toolbox::discover(candidate) {
                return Ok(toolbox);
            }
        }
        let searched = candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        Err(Error::ToolsNotFound { searched: searched.join(", "), from_env })
    }

    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> Toolbox {
        Toolbox { root: PathBuf::new(), majors: Vec::new() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn majors(&self) -> &[BundledMajor] {
        &self.majors
    }

    pub fn get(&self, major: u32) -> Option<&BundledMajor> {
        self.majors.iter().find(|m| m.major == major)
    }

    pub fn newest(&self) -> &BundledMajor {
        self.majors.last().expect("a toolbox is never empty")
    }

    /// The major whose pg_dump backs up a server of `server` version.
    pub fn for_dump(&self, server: ServerVersion) -> Result<&BundledMajor> {
        if server.0 < OLDEST_DUMPABLE_NUM {
            return Err(Error::ServerTooOld {
                server: server.to_string(),
                oldest_supported: "9.2",
            });
        }
        self.closest_at_or_above(server)
    }

    /// The major whose pg_restore and psql write into a server of `server` version.
    pub fn for_restore(&self, server: ServerVersion) -> Result<&BundledMajor> {
        self.closest_at_or_above(server)
    }

    fn closest_at_or_above(&self, server: ServerVersion) -> Result<&BundledMajor> {
        self.majors.iter().find(|m| m.major >= server.major()).ok_or_else(|| self.too_new(server))
    }

    /// The newest major that carries a server, for the local practice server.
    pub fn practice_server(&self) -> Option<&BundledMajor> {
        self.majors.iter().rev().find(|m| m.has_server)
    }

    fn too_new(&self, server: ServerVersion) -> Error {
        Error::ServerTooNew { server: server.to_string(), newest_bundled: self.newest().major }
    }
}

/// The name the installers give the app's folders (`productName` in tauri.conf.json).
const PRODUCT: &str = "Lifeboat";

/// Where a program installed with Lifeboat (the `lifeboat` CLI, or the app) finds the bundle,
/// in order: next to its own canonical path (so a symlink such as /usr/local/bin/lifeboat
/// pointing into an install still finds that install), next to the path it was started by,
/// then the places the installers use. `exe` is the running program, e.g. from
/// `std::env::current_exe()`.
pub fn bundle_candidates(exe: &Path) -> Vec<PathBuf> {
    let mut folders = Vec::new();
    if let Ok(canonical) = std::fs::canonicalize(exe) {
        folders.extend(canonical.parent().map(Path::to_path_buf));
    }
    folders.extend(exe.parent().map(Path::to_path_buf));
    let mut candidates = Vec::new();
    for folder in folders {
        for candidate in candidates_next_to(&folder) {
            if !candidates.contains(&candidate) {
                candidates.push(candidate);
            }
        }
    }
    for candidate in installed_locations() {
        if !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    candidates
}

/// The bundle's place relative to the folder holding the program, for each installer layout.
fn candidates_next_to(folder: &Path) -> [PathBuf; 5] {
    [
        // Windows installers put resources next to the programs.
        folder.join("postgres"),
        folder.join("resources/postgres"),
        // Debian/RPM packages: the programs in /usr/bin, resources in /usr/lib/<product>.
        folder.join("../lib").join(PRODUCT).join("postgres"),
        // macOS: Lifeboat.app/Contents/MacOS and Contents/Resources.
        folder.join("../Resources/postgres"),
        // A source checkout: target/<profile>/lifeboat and the fetched binaries.
        folder.join("../../src-tauri/resources/postgres"),
    ]
}

/// Where the installers put the bundle, for a program copied away from its install.
fn installed_locations() -> Vec<PathBuf> {
    let mut places = Vec::new();
    if cfg!(target_os = "macos") {
        places.push(PathBuf::from(format!(
            "/Applications/{PRODUCT}.app/Contents/Resources/postgres"
        )));
    } else if cfg!(windows) {
        // The installer's per-user and per-machine folders.
        for var in ["LOCALAPPDATA", "ProgramFiles"] {
            if let Some(base) = std::env::var_os(var) {
                places.push(PathBuf::from(base).join(PRODUCT).join("postgres"));
            }
        }
    } else {
        places.push(PathBuf::from(format!("/usr/lib/{PRODUCT}/postgres")));
    }
    places
}

fn read_stamp_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(STAMP_FILE)).ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ErrorCode;

    /// Builds a fake bundle: `majors` with client tools, the last one also with a server.
    fn fake_bundle(majors: &[u32]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (i, major) in majors.iter().enumerate() {
            let root = dir.path().join(major.to_string());
            std::fs::create_dir_all(root.join("bin")).unwrap();
            let mut tools = Tool::CLIENTS.to_vec();
            if i + 1 == majors.len() {
                tools.extend(Tool::SERVER);
                std::fs::create_dir_all(root.join("share")).unwrap();
            }
            for tool in tools {
                std::fs::write(root.join("bin").join(tool.file_name()), b"").unwrap();
            }
            std::fs::write(root.join(STAMP_FILE), format!("{major}.3.0 test-platform abc\n"))
                .unwrap();
        }
        dir
    }

    fn v(num: u32) -> ServerVersion {
        ServerVersion(num)
    }

    #[test]
    fn selection_table() {
        let bundle = fake_bundle(&[14, 15, 16, 17, 18]);
        let tools = Toolbox::discover(bundle.path()).unwrap();
        // (server_version_num, expected pg_dump major, expected pg_restore/psql major)
        let table = [
            (90_624, 14, 14),  // 9.6: the oldest bundled major reads and writes it
            (130_015, 14, 14), // 13: no 13 bundled; 14 is the closest at or above
            (140_023, 14, 14),
            (150_019, 15, 15),
            (160_015, 16, 16),
            (170_011, 17, 17),
            (180_006, 18, 18),
        ];
        for (num, dump, restore) in table {
            assert_eq!(tools.for_dump(v(num)).unwrap().major, dump, "pg_dump for {num}");
            assert_eq!(tools.for_restore(v(num)).unwrap().major, restore, "pg_restore for {num}");
        }
    }

    #[test]
    fn gaps_in_the_bundle_pick_the_next_major_up() {
        let bundle = fake_bundle(&[14, 16, 18]);
        let tools = Toolbox::discover(bundle.path()).unwrap();
        assert_eq!(tools.for_restore(v(150_000)).unwrap().major, 16);
        assert_eq!(tools.for_dump(v(150_000)).unwrap().major, 16);
        assert_eq!(tools.for_restore(v(170_000)).unwrap().major, 18);
    }

    #[test]
    fn a_server_newer_than_the_bundle_is_refused_naming_both_versions() {
        let bundle = fake_bundle(&[14, 18]);
        let tools = Toolbox::discover(bundle.path()).unwrap();
        for error in
            [tools.for_dump(v(190_001)).unwrap_err(), tools.for_restore(v(190_001)).unwrap_err()]
        {
            assert_eq!(error.code(), ErrorCode::ServerTooNew);
            let message = error.to_string();
            assert!(message.contains("19.1") && message.contains("18"), "{message}");
        }
    }

    #[test]
    fn a_server_older_than_9_2_cannot_be_dumped() {
        let bundle = fake_bundle(&[18]);
        let tools = Toolbox::discover(bundle.path()).unwrap();
        let error = tools.for_dump(v(90_124)).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ServerTooOld);
        assert!(error.to_string().contains("9.1.24"));
    }

    #[test]
    fn discovery_reads_versions_and_server_presence() {
        let bundle = fake_bundle(&[14, 18]);
        std::fs::create_dir_all(bundle.path().join("not-a-major")).unwrap();
        std::fs::create_dir_all(bundle.path().join("19/bin")).unwrap(); // no tools inside
        let tools = Toolbox::discover(bundle.path()).unwrap();
        let found: Vec<_> =
            tools.majors().iter().map(|m| (m.major, m.version.as_str(), m.has_server)).collect();
        assert_eq!(found, [(14, "14.3.0", false), (18, "18.3.0", true)]);
        assert_eq!(tools.practice_server().unwrap().major, 18);
        assert!(tools.get(14).unwrap().program(Tool::PgRestore).unwrap().ends_with("pg_restore"));
        assert_eq!(
            tools.get(14).unwrap().program(Tool::Initdb).unwrap_err().code(),
            ErrorCode::ToolMissing
        );
    }

    #[test]
    fn an_empty_or_missing_bundle_is_tools_not_found() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(Toolbox::discover(empty.path()).unwrap_err().code(), ErrorCode::ToolsNotFound);
        let missing = empty.path().join("nope");
        let error = Toolbox::locate([missing.clone()]).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ToolsNotFound);
        assert!(error.to_string().contains("nope"));
    }

    /// A copy of a Debian package's layout: usr/bin/lifeboat and usr/lib/Lifeboat/postgres.
    #[test]
    fn an_installed_cli_finds_the_bundle_of_its_install() {
        let root = tempfile::tempdir().unwrap();
        let usr = root.path().join("usr");
        std::fs::create_dir_all(usr.join("bin")).unwrap();
        std::fs::create_dir_all(usr.join("lib/Lifeboat")).unwrap();
        let bundle = fake_bundle(&[14, 18]);
        std::fs::rename(bundle.path(), usr.join("lib/Lifeboat/postgres")).unwrap();
        let exe = usr.join("bin/lifeboat");
        std::fs::write(&exe, b"").unwrap();

        let tools = Toolbox::locate_in(bundle_candidates(&exe)).unwrap();
        assert_eq!(
            std::fs::canonicalize(tools.root()).unwrap(),
            std::fs::canonicalize(usr.join("lib/Lifeboat/postgres")).unwrap()
        );
        assert_eq!(tools.majors().len(), 2);
    }

    /// /usr/local/bin/lifeboat -> /opt/…/usr/bin/lifeboat: the link's own folder has no bundle,
    /// the install the link points into has.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_cli_finds_the_bundle_of_the_install_it_points_into() {
        let root = tempfile::tempdir().unwrap();
        let install = root.path().join("opt/usr");
        std::fs::create_dir_all(install.join("bin")).unwrap();
        std::fs::create_dir_all(install.join("lib/Lifeboat")).unwrap();
        let bundle = fake_bundle(&[18]);
        std::fs::rename(bundle.path(), install.join("lib/Lifeboat/postgres")).unwrap();
        std::fs::write(install.join("bin/lifeboat"), b"").unwrap();
        let links = root.path().join("local/bin");
        std::fs::create_dir_all(&links).unwrap();
        let link = links.join("lifeboat");
        std::os::unix::fs::symlink(install.join("bin/lifeboat"), &link).unwrap();

        let candidates = bundle_candidates(&link);
        let found = Toolbox::locate_in(candidates.clone()).unwrap();
        assert!(
            found.root().starts_with(std::fs::canonicalize(&install).unwrap()),
            "{candidates:?}"
        );
    }

    #[test]
    fn the_candidates_cover_every_installer_layout_in_order() {
        let folder = Path::new("/x/bin");
        let candidates = bundle_candidates(&folder.join("lifeboat"));
        let next_to: Vec<PathBuf> = candidates_next_to(folder).into();
        assert_eq!(candidates[..next_to.len()], next_to[..], "the program's own folder first");
        for layout in
            ["x/bin/postgres", "x/bin/../lib/Lifeboat/postgres", "x/bin/../Resources/postgres"]
        {
            assert!(candidates.contains(&Path::new("/").join(layout)), "{layout}: {candidates:?}");
        }
        assert_eq!(&candidates[next_to.len()..], installed_locations(), "then the install folders");
        if cfg!(target_os = "linux") {
            assert!(candidates.contains(&PathBuf::from("/usr/lib/Lifeboat/postgres")));
        }
    }

    #[test]
    fn server_versions_print_like_postgres_does() {
        assert_eq!(v(180_006).to_string(), "18.6");
        assert_eq!(v(90_624).to_string(), "9.6.24");
        assert_eq!(v(90_624).major(), 9);
        assert_eq!(v(140_023).major(), 14);
    }
}
