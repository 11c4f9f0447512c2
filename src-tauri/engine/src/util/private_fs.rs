//! Files and folders only their owner may read, created so that nothing already at the name is
//! followed or reused.
//!
//! Backups go to folders other users may be able to write to (a shared disk, a folder the user
//! chose), under names anyone can predict. Another user could put a file, a folder or a symbolic
//! link there first (`.x.dump.partial -> ~/.bashrc`). So a file is always created new
//! (`O_CREAT|O_EXCL`, which refuses any existing name, a dangling link included) and opened
//! without following a link (`O_NOFOLLOW`); a folder is made with `mkdir`, which never follows a
//! link either. Files get mode 0600 and folders 0700 whatever the umask: the mode is set on the
//! open handle after creating, because the umask may have taken bits away.
//!
//! What a child program writes (pg_dump) goes into a private folder Lifeboat made first, where no
//! other user can reach it, and is made private with [`restrict_tree`] before it leaves.
//!
//! Windows has no modes: a new file or folder takes the inherited ACL of its folder, which under
//! the user's profile (where the data folder is) grants only the user, SYSTEM and the
//! administrators; a folder the user chose keeps its own ACL. `create_new` (`CREATE_NEW`) refuses
//! any existing name, link or not, and existing files are opened as the link itself
//! (`FILE_FLAG_OPEN_REPARSE_POINT`), never its target.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The mode of every file Lifeboat writes (Unix).
pub const FILE_MODE: u32 = 0o600;
/// The mode of every folder Lifeboat makes (Unix).
pub const DIR_MODE: u32 = 0o700;

/// Why a name was refused although it exists: it is a link, or not what it should be.
#[derive(Debug)]
pub struct NotOurs(pub String);

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotOurs {}

fn not_ours(path: &Path, what: &str) -> io::Error {
    io::Error::other(NotOurs(format!("{} {what}", path.display())))
}

/// Whether `error` is the refusal of a name that was taken already or is a link: what a file,
/// folder or link another user put at a predictable name causes.
pub fn is_refusal(error: &io::Error) -> bool {
    if error.kind() == io::ErrorKind::AlreadyExists
        || error.get_ref().is_some_and(|inner| inner.is::<NotOurs>())
    {
        return true;
    }
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return true;
    }
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
    if error.raw_os_error() == Some(libc::EMLINK) {
        return true;
    }
    false
}

/// Open options that never follow a link at the name and create with mode 0600.
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options
}

/// Sets an open file's mode to 0600 (through its handle, so no link is followed).
pub fn make_file_private(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates `path` as a new, empty file open for writing, readable and writable by its owner
/// only. Fails when anything is at the name already: a file, a folder or a link (dangling or
/// not), which [`is_refusal`] tells apart.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = options().write(true).create_new(true).open(path)?;
    make_file_private(&file)?;
    Ok(file)
}

/// Writes `bytes` to the new private file `path` (see [`create_private_file`]) and makes them
/// durable.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create_private_file(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Opens `path` for writing, creating it when missing, without following a link and without
/// truncating it; the file must be a regular file and is made private (an earlier version may
/// have left it with the umask's mode). For Lifeboat's own files in its data folder (locks, the
/// store) and for continuing a download. `append` opens it for appending.
pub fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut options = options();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(false);
    }
    #[cfg(unix)]
    {
        // A FIFO planted at the name must not block the open.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_ours(path, "is not a regular file"));
    }
    make_file_private(&file)?;
    Ok(file)
}

/// Replaces the contents of `path` (a file of Lifeboat's own, e.g. a password in the data
/// folder) with `bytes`: the old file is removed and a new private one created, so that a link
/// or a file with a wider mode at the name is never written through.
pub fn replace_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    write_private_file(path, bytes)
}

fn dir_builder(recursive: bool) -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder
}

/// Sets the mode of the folder `path` to 0700, refusing a link at the name.
fn make_dir_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)?;
        if dir.metadata()?.permissions().mode() & 0o7777 != DIR_MODE {
            dir.set_permissions(std::fs::Permissions::from_mode(DIR_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the folder `path` (its parent must exist), owner-only. Fails when anything is at the
/// name already, a link to a folder included (`mkdir` never follows one).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    dir_builder(false).create(path)?;
    make_dir_private(path)
}

/// Creates the folders up to `path` that are missing, owner-only; folders that exist are left
/// as they are (a folder the user chose).
pub fn create_private_dirs(path: &Path) -> io::Result<()> {
    dir_builder(true).create(path)
}

/// Makes sure `path` is an owner-only folder: the missing folders up to it are created
/// owner-only, and the folder itself made owner-only when it exists with a wider mode. For
/// Lifeboat's own folders: the data folder (which the user may have made a link to another
/// disk, followed here) and the folders in it.
pub fn ensure_private_dir(path: &Path) -> io::Result<()> {
    dir_builder(true).create(path)?;
    let real = std::fs::canonicalize(path)?;
    make_dir_private(&real)
}

/// Makes Lifeboat's own file `path`, when it exists, owner-only without following a link (the
/// store and its journal, written by SQLite).
pub fn restrict_file(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_symlink() => Err(not_ours(path, "is a symbolic link")),
        Ok(_) => open_private(path, false).map(drop),
    }
}

/// Makes everything under `root`, itself included, owner-only: files 0600, folders 0700. A link
/// anywhere in it is refused, never followed. For what a child program wrote inside a private
/// folder Lifeboat made, which no other user can reach meanwhile.
pub fn restrict_tree(root: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(root)?;
    if meta.file_type().is_symlink() {
        return Err(not_ours(root, "is a symbolic link"));
    }
    if meta.is_dir() {
        make_dir_private(root)?;
        for entry in std::fs::read_dir(root)? {
            restrict_tree(&entry?.path())?;
        }
        return Ok(());
    }
    if !meta.is_file() {
        return Err(not_ours(root, "is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o7777 != FILE_MODE {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// A folder with a canary file outside it, and a link to the canary inside.
    fn planted() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("canary");
        std::fs::write(&canary, b"untouched").unwrap();
        std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("x.partial");
        symlink(&canary, &link).unwrap();
        (dir, canary, link)
    }

    fn assert_canary(canary: &Path) {
        assert_eq!(std::fs::read(canary).unwrap(), b"untouched");
        assert_eq!(mode(canary), 0o644);
    }

    #[test]
    fn a_new_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_private_file(&path, b"data").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        let error = create_private_file(&path).unwrap_err();
        assert!(is_refusal(&error), "{error}");
    }

    #[test]
    fn a_link_at_the_name_is_never_written_through() {
        let (_dir, canary, link) = planted();
        let error = create_private_file(&link).unwrap_err();
        assert!(is_refusal(&error), "{error}");
        for append in [false, true] {
            let error = open_private(&link, append).unwrap_err();
            assert!(is_refusal(&error), "{error}");
        }
        let error = restrict_file(&link).unwrap_err();
        assert!(is_refusal(&error), "{error}");
        assert_canary(&canary);
    }

    #[test]
    fn a_dangling_link_is_not_created_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("would-be-created");
        let link = dir.path().join("x.partial");
        symlink(&target, &link).unwrap();
        assert!(is_refusal(&create_private_file(&link).unwrap_err()));
        assert!(is_refusal(&open_private(&link, true).unwrap_err()));
        assert!(is_refusal(&create_private_dir(&link).unwrap_err()));
        assert!(!target.exists());
    }

    #[test]
    fn replacing_a_file_removes_a_link_instead_of_following_it() {
        let (_dir, canary, link) = planted();
        replace_private_file(&link, b"secret").unwrap();
        assert_eq!(mode(&link), 0o600);
        assert_eq!(std::fs::read(&link).unwrap(), b"secret");
        assert_canary(&canary);
    }

    #[test]
    fn an_existing_file_is_made_private_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"kept").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_private(&path, false).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Refused at once (no reader: ENXIO), never waited on.
        assert!(open_private(&fifo, true).is_err());
    }

    #[test]
    fn a_folder_is_made_owner_only_and_a_linked_folder_refused() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        create_private_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        assert!(is_refusal(&create_private_dir(&made).unwrap_err()));

        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("x.partial");
        symlink(&elsewhere, &link).unwrap();
        assert!(is_refusal(&create_private_dir(&link).unwrap_err()));
        assert!(is_refusal(&restrict_tree(&link).unwrap_err()));
        assert_eq!(mode(&elsewhere), 0o755);
    }

    #[test]
    fn ensure_creates_missing_folders_and_tightens_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        ensure_private_dir(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
    }

    #[test]
    fn a_tree_is_made_private_and_a_link_in_it_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dump");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        for path in [root.join("toc.dat"), root.join("sub/1.dat")] {
            std::fs::write(&path, b"x").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict_tree(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("sub")), 0o700);
        assert_eq!(mode(&root.join("toc.dat")), 0o600);
        assert_eq!(mode(&root.join("sub/1.dat")), 0o600);

        let (_other, canary, _) = planted();
        symlink(&canary, root.join("sub/evil")).unwrap();
        assert!(is_refusal(&restrict_tree(&root).unwrap_err()));
        assert_canary(&canary);
    }

    #[test]
    fn other_errors_are_not_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let error = create_private_file(&dir.path().join("missing/f")).unwrap_err();
        assert!(!is_refusal(&error));
    }
}
