//! Which paths the window may hand to an operation (issue 13, finding 9). The window is the
//! least trusted part of the app: if a script ever ran in it, the commands are what it could
//! call. So a backup folder, a restore or drill source and a schedule's folders must be:
//!
//! - absolute, without `..`, and without control characters;
//! - not in (and not a link into) a system folder: `/etc`, `/proc`, `/sys`, `/dev`, `/boot`,
//!   `/usr`, `/bin`, `/sbin`, `/lib*`, `/opt`, `/var` (but its temporary folder), `/run` (but
//!   `/run/media`), `/root` unless it is the home folder, `/System` and `/Library` on macOS;
//!   `C:\Windows`, the program folders and `C:\ProgramData` on Windows;
//! - and either picked in the dialog during this session (the dialog is opened from Rust, see
//!   `commands::pick_path`, and remembers its answers here), or in Lifeboat's data folder, or in
//!   the home folder (not in one of its hidden folders such as `~/.ssh` or `~/.config`), the
//!   temporary folder, or a mounted disk (`/media`, `/mnt`, `/run/media`, `/Volumes`; on Windows
//!   any drive but the system one).
//!
//! A path typed by hand that passes these rules is accepted, as the field allows typing.
//! `http://` and `https://` sources are not paths and pass unchanged (the engine checks them).

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use lifeboat_engine::ErrorPayload;
use lifeboat_engine::base::error::ErrorCode;

/// The folders a path may live in, and what the dialog returned this session.
pub struct PathPolicy {
    data: Option<PathBuf>,
    home: Option<PathBuf>,
    temp: PathBuf,
    picked: Mutex<Vec<PathBuf>>,
}

impl PathPolicy {
    pub fn new(data: Option<PathBuf>) -> PathPolicy {
        PathPolicy::with_roots(data, dirs::home_dir(), std::env::temp_dir())
    }

    pub fn with_roots(data: Option<PathBuf>, home: Option<PathBuf>, temp: PathBuf) -> PathPolicy {
        let real = |p: PathBuf| std::fs::canonicalize(&p).unwrap_or(p);
        PathPolicy {
            data: data.map(real),
            home: home.map(real),
            temp: real(temp),
            picked: Mutex::new(Vec::new()),
        }
    }

    /// A path the user chose in the dialog: it and (for a folder) everything in it are allowed.
    pub fn remember_pick(&self, path: &Path) {
        let path = resolve(&lexical(path).unwrap_or_else(|| path.to_owned()));
        self.picked.lock().unwrap_or_else(|p| p.into_inner()).push(path);
    }

    /// A restore or drill source: a URL passes, anything else must be an allowed path.
    pub fn check_source(&self, source: &str, what: &str) -> Result<(), ErrorPayload> {
        let lower = source.trim_start().to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(());
        }
        self.check(source, what)
    }

    /// Whether `raw` may be used; the error names the path and the way out.
    pub fn check(&self, raw: &str, what: &str) -> Result<(), ErrorPayload> {
        let refuse = |why: &str| Err(refusal(raw, what, why));
        if raw.chars().any(char::is_control) {
            return refuse("it contains control characters");
        }
        let Some(path) = lexical(Path::new(raw)) else {
            return refuse("it is not an absolute path without \"..\"");
        };
        let real = resolve(&path);
        if self.is_picked(&real) || self.data.as_deref().is_some_and(|d| real.starts_with(d)) {
            return Ok(());
        }
        if [&path, &real].into_iter().any(|p| self.is_system(p)) {
            return refuse("it is in a system folder");
        }
        if self.is_hidden_in_home(&real) {
            return refuse("it is in a hidden folder of your home folder");
        }
        if self.in_allowed_root(&real) {
            return Ok(());
        }
        refuse("it is outside your home folder, the temporary folder and mounted disks")
    }

    fn is_picked(&self, real: &Path) -> bool {
        let picked = self.picked.lock().unwrap_or_else(|p| p.into_inner());
        picked.iter().any(|p| real.starts_with(p))
    }

    fn is_system(&self, path: &Path) -> bool {
        let home = self.home.as_deref();
        let temp = self.temp.as_path();
        if home.is_some_and(|h| path.starts_with(h)) || path.starts_with(temp) {
            return false;
        }
        if cfg!(windows) {
            return windows_system_folders().iter().any(|f| starts_with_ignore_case(path, f));
        }
        const UNIX: &[&str] = &[
            "/etc",
            "/proc",
            "/sys",
            "/dev",
            "/boot",
            "/usr",
            "/bin",
            "/sbin",
            "/lib",
            "/lib32",
            "/lib64",
            "/libx32",
            "/opt",
            "/var",
            "/root",
            "/snap",
            "/System",
            "/Library",
            "/private/etc",
            "/private/var",
        ];
        if path.starts_with("/run") && !path.starts_with("/run/media") {
            return true;
        }
        // `/var/tmp` is a temporary folder like `/tmp`.
        if path.starts_with("/var/tmp") {
            return false;
        }
        path == Path::new("/") || UNIX.iter().any(|folder| path.starts_with(folder))
    }

    fn is_hidden_in_home(&self, real: &Path) -> bool {
        let Some(home) = &self.home else { return false };
        let Ok(inside) = real.strip_prefix(home) else { return false };
        inside
            .components()
            .next()
            .is_some_and(|first| first.as_os_str().to_string_lossy().starts_with('.'))
    }

    fn in_allowed_root(&self, real: &Path) -> bool {
        if self.home.as_deref().is_some_and(|h| real.starts_with(h)) || real.starts_with(&self.temp)
        {
            return true;
        }
        if cfg!(windows) {
            let system_drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
            return !starts_with_ignore_case(real, Path::new(&format!("{system_drive}\\")));
        }
        ["/media", "/mnt", "/run/media", "/Volumes", "/tmp", "/var/tmp"]
            .iter()
            .any(|root| real.starts_with(root))
    }
}

/// `path` with `.` and repeated separators gone; `None` when it is relative or has `..`.
fn lexical(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => return None,
            Component::CurDir => {}
            other => clean.push(other.as_os_str()),
        }
    }
    Some(clean)
}

/// `path` with links resolved in the part that exists (the rest is yet to be created).
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_owned();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            return rest.iter().rev().fold(real, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.file_name().map(ToOwned::to_owned), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_owned();
            }
            _ => return path.to_owned(),
        }
    }
}

fn windows_system_folders() -> Vec<PathBuf> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    vec![
        PathBuf::from(var("SystemRoot", r"C:\Windows")),
        PathBuf::from(var("ProgramFiles", r"C:\Program Files")),
        PathBuf::from(var("ProgramFiles(x86)", r"C:\Program Files (x86)")),
        PathBuf::from(var("ProgramData", r"C:\ProgramData")),
    ]
}

fn starts_with_ignore_case(path: &Path, prefix: &Path) -> bool {
    let path = path.to_string_lossy().to_lowercase();
    let prefix = prefix.to_string_lossy().to_lowercase();
    path == prefix || path.starts_with(&format!("{}\\", prefix.trim_end_matches('\\')))
}

fn refusal(raw: &str, what: &str, why: &str) -> ErrorPayload {
    let shown: String = raw.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    ErrorPayload {
        code: ErrorCode::InvalidInput,
        message: format!("{what}: Lifeboat does not use {shown}: {why}."),
        hint: "Choose the file or folder with the Choose… button (a path chosen there is always \
               accepted), or use one in your home folder, on a mounted disk or in Lifeboat's data \
               folder."
            .to_owned(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    struct Setup {
        _dir: tempfile::TempDir,
        home: PathBuf,
        data: PathBuf,
        policy: PathPolicy,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let home = root.join("home/ann");
        let data = home.join(".local/share/Lifeboat");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let policy =
            PathPolicy::with_roots(Some(data.clone()), Some(home.clone()), root.join("tmp"));
        Setup { _dir: dir, home, data, policy }
    }

    fn ok(s: &Setup, path: &Path) -> bool {
        s.policy.check(&path.display().to_string(), "Backup folder").is_ok()
    }

    #[test]
    fn home_data_folder_temp_and_disks_are_allowed() {
        let s = setup();
        assert!(ok(&s, &s.home.join("backups/new")), "a folder yet to be created in the home");
        assert!(ok(&s, &s.data.join("backups")), "the data folder, though it is hidden");
        assert!(ok(&s, &s.policy.temp.join("x")));
        assert!(ok(&s, Path::new("/media/usb/backups")));
        assert!(ok(&s, Path::new("/run/media/ann/disk")));
        assert!(s.policy.check_source("https://example.test/b.backup", "Source").is_ok());
    }

    #[test]
    fn system_folders_relative_paths_and_dot_dot_are_refused() {
        let s = setup();
        for bad in ["/etc/cron.d", "/proc/self", "/dev/sda", "/usr/lib", "/var/lib/postgresql", "/"]
        {
            let error = s.policy.check(bad, "Backup folder").unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidInput, "{bad}");
            assert!(error.message.contains("system folder"), "{bad}: {}", error.message);
            assert!(error.hint.contains("Choose"), "{}", error.hint);
        }
        let dotdot = format!("{}/../../../../etc", s.home.display());
        assert!(s.policy.check(&dotdot, "Source").is_err(), "..");
        assert!(s.policy.check("backups", "Source").is_err(), "relative");
        assert!(s.policy.check("/home/ann/a\nb", "Source").is_err(), "control characters");
        assert!(s.policy.check_source("file:///etc/passwd", "Source").is_err());
    }

    #[test]
    fn hidden_home_folders_and_links_into_system_folders_are_refused() {
        let s = setup();
        assert!(!ok(&s, &s.home.join(".ssh/id_ed25519")), "~/.ssh");
        let link = s.home.join("innocent");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        let error = s.policy.check(&link.join("cron.d").display().to_string(), "X").unwrap_err();
        assert!(error.message.contains("system folder"), "{}", error.message);
    }

    #[test]
    fn a_path_picked_in_the_dialog_is_allowed_with_what_it_holds() {
        let s = setup();
        let outside = Path::new("/srv/backups");
        assert!(!ok(&s, outside), "outside every root");
        s.policy.remember_pick(outside);
        assert!(ok(&s, outside) && ok(&s, &outside.join("shop.backup")));
        assert!(!ok(&s, Path::new("/srv/other")), "only what was picked");
    }
}
