//! What every operation receives: where Lifeboat keeps its data, and the bundled tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::base::error::{Error, Result};
use crate::base::tools::Toolbox;
use crate::storage::jobs;
use crate::storage::keychain::Keychain;
use crate::storage::store::Store;
use crate::util::private_fs;

/// Environment variable that overrides the data folder (tests always set it).
pub const HOME_ENV: &str = "LIFEBOAT_HOME";

/// Lifeboat's data folder: the store, logs and the practice server live here. The desktop app
/// and the CLI resolve it the same way so that they share one catalog.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// `LIFEBOAT_HOME` when set, otherwise the platform's data folder plus "Lifeboat".
    pub fn resolve() -> Result<DataDir> {
        let path = match std::env::var_os(HOME_ENV) {
            Some(home) if !home.is_empty() => PathBuf::from(home),
            _ => dirs::data_dir().map(|d| d.join("Lifeboat")).ok_or_else(|| Error::DataDir {
                path: PathBuf::from("(unknown)"),
                source: std::io::Error::other(
                    "this system reports no data folder for the current user",
                ),
            })?,
        };
        DataDir::at(path)
    }

    /// Uses `path`, creating it when missing. It holds the store, logs, certificates and the
    /// practice server's data: owner-only (0700, also when an older version made it wider).
    pub fn at(path: PathBuf) -> Result<DataDir> {
        private_fs::ensure_private_dir(&path)
            .map_err(|source| Error::DataDir { path: path.clone(), source })?;
        Ok(DataDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// The context every engine operation takes as its first argument.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub data_dir: DataDir,
    pub tools: Toolbox,
    pub store: Arc<Store>,
    pub keychain: Arc<dyn Keychain>,
}

impl Ctx {
    /// Opens the store in `data_dir` (migrating it) and assembles the context. Jobs whose
    /// process ended while they ran (killed, crashed) are marked interrupted and their
    /// temporary files removed ([`jobs::sweep`]); a sweep that fails is tried again at the next
    /// start and does not keep Lifeboat from starting.
    pub fn open(data_dir: DataDir, tools: Toolbox, keychain: Arc<dyn Keychain>) -> Result<Ctx> {
        let store = Arc::new(Store::open(data_dir.path())?);
        let ctx = Ctx { data_dir, tools, store, keychain };
        let _ = jobs::sweep(&ctx);
        Ok(ctx)
    }

    /// A context on a temporary folder with no bundled tools, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(dir: &Path, keychain: Arc<dyn Keychain>) -> Ctx {
        let data_dir = DataDir::at(dir.to_owned()).unwrap();
        Ctx::open(data_dir, Toolbox::empty_for_tests(), keychain).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_is_created_when_missing() {
        let parent = tempfile::tempdir().unwrap();
        let wanted = parent.path().join("a/b");
        let dir = DataDir::at(wanted.clone()).unwrap();
        assert!(wanted.is_dir());
        assert_eq!(dir.path(), wanted);
    }

    #[cfg(unix)]
    #[test]
    fn data_dir_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let wanted = parent.path().join("home");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        DataDir::at(wanted.clone()).unwrap();
        assert_eq!(mode(&wanted), 0o700);
        std::fs::set_permissions(&wanted, std::fs::Permissions::from_mode(0o755)).unwrap();
        DataDir::at(wanted.clone()).unwrap();
        assert_eq!(mode(&wanted), 0o700, "an existing data folder is tightened");
    }

    #[test]
    fn an_unusable_data_dir_is_reported_with_its_path() {
        let parent = tempfile::tempdir().unwrap();
        let file = parent.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let error = DataDir::at(file.join("sub")).unwrap_err();
        assert_eq!(error.code(), crate::base::error::ErrorCode::DataDir);
        assert!(error.to_string().contains("file/sub"));
    }
}
