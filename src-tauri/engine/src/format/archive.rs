//! What is inside a backup, read without a server: the kind of dump (from its content, never its
//! extension), the archive version in its header, the Lifeboat manifest next to it and its
//! checksums, and the SQL text a dump turns into (scanned for owners, grants, extensions and
//! settings, and filtered on its way into psql).
//!
//! Kinds, as pg_dump writes them:
//! - custom (`-Fc`): a file starting with `PGDMP`, then the archive version (major, minor, rev);
//! - directory (`-Fd`): a folder holding `toc.dat`, which starts like a custom archive;
//! - tar (`-Ft`): `ustar` at offset 257 of a 512-byte header, members `toc.dat` first;
//! - plain (`-Fp`): SQL text whose first lines say "PostgreSQL database dump".

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::format::manifest::{BackupFormat, MANIFEST_SUFFIX, Manifest, ManifestFile};
use crate::util::bounded::{self, Refused};
use crate::util::checksum::sha256_reader;

/// The version pg_dump writes after `PGDMP` (K_VERS_MAJOR.K_VERS_MINOR-K_VERS_REV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, specta::Type)]
pub struct ArchiveVersion {
    pub major: u8,
    pub minor: u8,
    pub rev: u8,
}

impl ArchiveVersion {
    pub const fn new(major: u8, minor: u8, rev: u8) -> Self {
        ArchiveVersion { major, minor, rev }
    }
}

impl fmt::Display for ArchiveVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.rev != 0 {
            write!(f, "-{}", self.rev)?;
        }
        Ok(())
    }
}

/// The newest archive version each bundled pg_restore major reads. Measured (November 2026, the
/// bundled 14.23, 15.19, 16.15, 17.11 and 18.6) by dumping one database with every bundled
/// pg_dump in custom, directory and tar format and reading each archive with every bundled
/// pg_restore (`pg_restore -f /dev/null`):
///
/// | pg_dump | writes | read by pg_restore |
/// |---------|--------|--------------------|
/// | 14, 15  | 1.14   | 14, 15, 16, 17, 18 |
/// | 16      | 1.15   | 16, 17, 18         |
/// | 17, 18  | 1.16   | 17, 18             |
///
/// Older readers fail with "unsupported version (1.15) in file header". The system test
/// `the_archive_version_table_matches_the_bundled_tools` repeats the measurement.
pub const PG_RESTORE_READS: [(u32, ArchiveVersion); 5] = [
    (14, ArchiveVersion::new(1, 14, 0)),
    (15, ArchiveVersion::new(1, 14, 0)),
    (16, ArchiveVersion::new(1, 15, 0)),
    (17, ArchiveVersion::new(1, 16, 0)),
    (18, ArchiveVersion::new(1, 16, 0)),
];

/// Whether pg_restore of `major` reads an archive of `version`. Majors older than the table are
/// not bundled; a major newer than the table reads at least what the newest measured one reads.
pub fn pg_restore_reads(major: u32, version: ArchiveVersion) -> bool {
    let limit = PG_RESTORE_READS.iter().find(|(m, _)| *m == major).map(|(_, v)| *v).or_else(|| {
        let (newest, limit) = PG_RESTORE_READS[PG_RESTORE_READS.len() - 1];
        (major > newest).then_some(limit)
    });
    match limit {
        // Minor and major decide; a revision only adds fixes within a minor.
        Some(limit) => (version.major, version.minor) <= (limit.major, limit.minor),
        None => false,
    }
}

/// A backup's kind and, for archives, the version in its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub format: BackupFormat,
    pub archive_version: Option<ArchiveVersion>,
}

const MAGIC: &[u8] = b"PGDMP";
/// How much of a text file is looked at for pg_dump's header.
const PLAIN_HEAD: usize = 8 << 10;

/// Tells what `path` holds from its content. Anything that is not a pg_dump output is
/// [`Error::NotABackup`] naming the file and what it looks like instead.
pub fn detect(path: &Path) -> Result<Detected> {
    let io = |source| Error::Io { action: "Reading the backup", path: path.to_owned(), source };
    let not = |detail: &str| Error::NotABackup { path: path.to_owned(), detail: detail.to_owned() };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(not(&format!("{}, not a file or folder", bounded::kind_of(&meta))));
    }
    if meta.is_dir() {
        let toc = path.join("toc.dat");
        if !toc.is_file() {
            return Err(not("it is a folder without toc.dat, so not a pg_dump directory backup"));
        }
        let head = read_head(&toc, 16).map_err(io)?;
        return match archive_version(&head) {
            Some(version) => {
                Ok(Detected { format: BackupFormat::Directory, archive_version: Some(version) })
            }
            None => Err(not("its toc.dat is not a pg_dump table of contents")),
        };
    }
    let head = read_head(path, PLAIN_HEAD).map_err(io)?;
    if head.is_empty() {
        return Err(not("the file is empty"));
    }
    if let Some(version) = archive_version(&head) {
        return Ok(Detected { format: BackupFormat::Custom, archive_version: Some(version) });
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return match tar_toc_version(path).map_err(io)? {
            Some(version) => {
                Ok(Detected { format: BackupFormat::Tar, archive_version: Some(version) })
            }
            None => Err(not("it is a tar file without a pg_dump toc.dat")),
        };
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(not("it is gzip-compressed; decompress it first (gunzip) and choose the .sql"));
    }
    if head.starts_with(b"(\xb5/\xfd") {
        return Err(not("it is zstd-compressed; decompress it first (unzstd) and choose the .sql"));
    }
    let text = String::from_utf8_lossy(&head);
    if text.contains("PostgreSQL database cluster dump") {
        return Err(not(
            "it is a whole-cluster dump (pg_dumpall), which restores every database at once; \
             Lifeboat restores one database",
        ));
    }
    if text.contains("PostgreSQL database dump") {
        return Ok(Detected { format: BackupFormat::Plain, archive_version: None });
    }
    Err(not(&format!("{} does not start like any pg_dump output", describe_content(&head))))
}

fn read_head(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut head = Vec::with_capacity(max);
    file.take(max as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn archive_version(head: &[u8]) -> Option<ArchiveVersion> {
    if head.len() < 8 || !head.starts_with(MAGIC) {
        return None;
    }
    Some(ArchiveVersion::new(head[5], head[6], head[7]))
}

/// The archive version of `toc.dat` inside a tar file: the members are walked header by header
/// (pg_dump writes `toc.dat` first, but any position is accepted).
fn tar_toc_version(path: &Path) -> std::io::Result<Option<ArchiveVersion>> {
    use std::io::{Seek, SeekFrom};
    let mut file = open_regular(path)?;
    let mut header = [0u8; 512];
    for _ in 0..100_000 {
        if file.read_exact(&mut header).is_err() || header.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let name_end = header[..100].iter().position(|b| *b == 0).unwrap_or(100);
        let name = &header[..name_end];
        let size_field = String::from_utf8_lossy(&header[124..136]);
        let size = u64::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
            .unwrap_or(0);
        if name == b"toc.dat" {
            let mut head = [0u8; 8];
            return Ok(file.read_exact(&mut head).ok().and_then(|()| archive_version(&head)));
        }
        file.seek(SeekFrom::Current(size.div_ceil(512) as i64 * 512))?;
    }
    Ok(None)
}

/// A regular file opened for reading (never waiting on a FIFO), as an I/O result.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    bounded::open_regular(path).map_err(|refused| match refused {
        Refused::Io(error) => error,
        other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
    })
}

/// A few words about what a file that is not a dump seems to be, for the error message.
fn describe_content(head: &[u8]) -> String {
    let known: [(&[u8], &str); 8] = [
        (&[0xff, 0xd8, 0xff], "a JPEG image"),
        (b"\x89PNG", "a PNG image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an office document)"),
        (b"SQLite format 3", "an SQLite database"),
        (b"\x7fELF", "a program"),
        (b"BZh", "a bzip2-compressed file"),
        (b"\xfd7zXZ", "an xz-compressed file"),
    ];
    for (magic, what) in known {
        if head.starts_with(magic) {
            return format!("it looks like {what}, and");
        }
    }
    let text = head.iter().take(512).all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if text { "it is text, but".to_owned() } else { "its content".to_owned() }
}

/// A manifest that describes the chosen backup, with the entries that belong to it.
#[derive(Debug, Clone)]
pub struct FoundManifest {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// The manifest's files that make up the chosen dump (one file, or every file of a
    /// directory backup).
    pub files: Vec<ManifestFile>,
    /// The folder the manifest's file names are relative to.
    pub folder: PathBuf,
}

impl FoundManifest {
    /// Where one of the manifest's files is: inside its folder, or [`Error::ManifestInvalid`].
    pub fn file_path(&self, file: &ManifestFile) -> Result<PathBuf> {
        if !confined_name(&file.name) {
            return Err(Error::ManifestInvalid {
                path: self.path.clone(),
                detail: format!("the file name {:?} leaves the backup's folder", file.name),
            });
        }
        Ok(self.folder.join(file.name.replace('/', std::path::MAIN_SEPARATOR_STR)))
    }
}

/// The Lifeboat manifest describing `source`: `<stem>.lifeboat.json` next to it (stem = the name
/// without its extension), else any `*.lifeboat.json` in the same folder that lists it. `None`
/// for a dump that did not come from Lifeboat.
pub fn find_manifest(source: &Path) -> Result<Option<FoundManifest>> {
    let Some(name) = source.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let folder = source.parent().map(Path::to_path_buf).unwrap_or_default();
    let folder = if folder.as_os_str().is_empty() { PathBuf::from(".") } else { folder };
    let is_dir = source.is_dir();
    let stem = if is_dir {
        name.clone()
    } else {
        Path::new(&name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    };
    let belongs =
        |manifest: &Manifest| -> Vec<ManifestFile> {
            manifest
                .files
                .iter()
                .filter(|f| {
                    if is_dir { f.name.starts_with(&format!("{name}/")) } else { f.name == name }
                })
                .cloned()
                .collect()
        };
    let found = |path: PathBuf, manifest: Manifest, files: Vec<ManifestFile>| FoundManifest {
        path,
        manifest,
        files,
        folder: folder.clone(),
    };
    let exact = folder.join(format!("{stem}{MANIFEST_SUFFIX}"));
    // Whatever is at the manifest's own name must be a manifest: a FIFO, a device or a link to
    // one is refused (manifest_invalid), not passed over.
    if std::fs::symlink_metadata(&exact).is_ok() {
        let manifest = read_manifest(&exact)?;
        let files = belongs(&manifest);
        if !files.is_empty() {
            return Ok(Some(found(exact, manifest, files)));
        }
    }
    let Ok(entries) = std::fs::read_dir(&folder) else { return Ok(None) };
    let mut candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.ends_with(MANIFEST_SUFFIX) && !n.starts_with('.'))
        })
        .filter(|p| *p != exact)
        .collect();
    candidates.sort();
    for candidate in candidates {
        // Other manifests in the folder may be anything; only one that lists this file counts.
        let Ok(manifest) = read_manifest(&candidate) else { continue };
        let files = belongs(&manifest);
        if !files.is_empty() {
            return Ok(Some(found(candidate, manifest, files)));
        }
    }
    Ok(None)
}

/// The most a manifest can be. A manifest lists a backup's files, tables and sequences: 64 MB
/// holds several hundred thousand tables.
pub const MANIFEST_MAX_BYTES: u64 = 64 << 20;

/// Reads and parses a manifest: a regular file of at most [`MANIFEST_MAX_BYTES`], whose file
/// names stay inside its folder and whose encoding is a plain name. Anything else is
/// [`Error::ManifestInvalid`].
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let invalid = |detail: String| Error::ManifestInvalid { path: path.to_owned(), detail };
    let bytes = match bounded::read_regular(path, MANIFEST_MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(Refused::Io(source)) => {
            return Err(Error::Io {
                action: "Reading the manifest",
                path: path.to_owned(),
                source,
            });
        }
        Err(refused) => return Err(invalid(refused.to_string())),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    check_manifest(&manifest).map_err(invalid)?;
    Ok(manifest)
}

/// What a manifest must hold to be used at all: file names relative to its folder and an
/// encoding name that is only letters, digits and underscores.
fn check_manifest(manifest: &Manifest) -> std::result::Result<(), String> {
    if let Some(file) = manifest.files.iter().find(|f| !confined_name(&f.name)) {
        return Err(format!(
            "the file name {:?} leaves the backup's folder (file names are relative, without \"..\")",
            file.name
        ));
    }
    if !manifest.encoding.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("the encoding {:?} is not an encoding name", manifest.encoding));
    }
    Ok(())
}

/// Whether a manifest's file name (`a.backup`, `dir/toc.dat`) names a file inside the
/// manifest's folder: relative, `/`-separated, no empty, `.` or `..` part, no backslash, colon
/// (a Windows drive or stream) or NUL.
pub fn confined_name(name: &str) -> bool {
    name.split('/').all(|part| {
        !part.is_empty() && part != "." && part != ".." && !part.contains(['\\', ':', '\0'])
    })
}

/// Checks every file of `found` against its recorded size and sha256, before anything else
/// happens. Returns how many files were checked.
pub async fn verify(found: &FoundManifest) -> Result<usize> {
    let found = found.clone();
    tokio::task::spawn_blocking(move || {
        for file in &found.files {
            let path = found.file_path(file)?;
            if std::fs::symlink_metadata(&path).is_err() {
                return Err(Error::BackupFileMissing { file: path, manifest: found.path.clone() });
            }
            let actual = sha256_file(&path)?;
            if actual != file.sha256 {
                return Err(Error::ChecksumMismatch {
                    file: path,
                    expected: file.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(found.files.len())
    })
    .await
    .map_err(|e| Error::Io {
        action: "Checking the backup's checksums",
        path: PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    })?
}

/// The roles saved with a backup (its globals file), checked against the manifest's sha256.
/// None when the backup saved no globals.
pub fn saved_roles(found: &FoundManifest) -> Result<Option<crate::format::globals::SavedRoles>> {
    let Some(file) = found.manifest.files.iter().find(|f| f.role == "globals") else {
        return Ok(None);
    };
    let path = found.file_path(file)?;
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(Error::BackupFileMissing { file: path, manifest: found.path.clone() });
    }
    let actual = sha256_file(&path)?;
    if actual != file.sha256 {
        return Err(Error::ChecksumMismatch { file: path, expected: file.sha256.clone(), actual });
    }
    let bytes = bounded::read_regular(&path, MANIFEST_MAX_BYTES).map_err(|refused| {
        Error::NotABackup { path: path.clone(), detail: format!("its saved roles: {refused}") }
    })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(crate::format::globals::parse(&text)))
}

/// The sha256 of a backup file, which must be a regular file (never a FIFO or a device).
fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io { action: "Reading the backup", path: path.to_owned(), source };
    let mut file = bounded::open_regular(path).map_err(|refused| match refused {
        Refused::Io(source) => io(source),
        other => Error::NotABackup { path: path.to_owned(), detail: other.to_string() },
    })?;
    let (_, sha256) = sha256_reader(&mut file).map_err(io)?;
    Ok(sha256)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn archive_versions_and_the_reader_table() {
        let v = ArchiveVersion::new;
        assert!(pg_restore_reads(14, v(1, 14, 0)));
        assert!(!pg_restore_reads(15, v(1, 15, 0)));
        assert!(pg_restore_reads(16, v(1, 15, 0)));
        assert!(!pg_restore_reads(16, v(1, 16, 0)));
        assert!(pg_restore_reads(18, v(1, 16, 0)));
        assert!(pg_restore_reads(19, v(1, 16, 0)), "a newer pg_restore reads older archives");
        assert!(!pg_restore_reads(18, v(1, 17, 0)));
        assert!(!pg_restore_reads(13, v(1, 14, 0)));
        assert_eq!(v(1, 16, 0).to_string(), "1.16");
    }

    #[test]
    fn content_decides_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let custom = write("x.sql", b"PGDMP\x01\x10\x00\x04\x08\x03rest");
        assert_eq!(
            detect(&custom).unwrap(),
            Detected {
                format: BackupFormat::Custom,
                archive_version: Some(ArchiveVersion::new(1, 16, 0))
            }
        );
        let plain = write("x.backup", b"--\n-- PostgreSQL database dump\n--\n");
        assert_eq!(detect(&plain).unwrap().format, BackupFormat::Plain);
        let jpeg = write("photo.backup", &[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F']);
        let error = detect(&jpeg).unwrap_err();
        assert_eq!(error.code(), crate::base::error::ErrorCode::NotABackup);
        assert!(error.to_string().contains("photo.backup") && error.to_string().contains("JPEG"));
        let cluster = write("all.sql", b"--\n-- PostgreSQL database cluster dump\n--\n");
        assert!(detect(&cluster).unwrap_err().to_string().contains("pg_dumpall"));
        let empty_dir = dir.path().join("folder");
        std::fs::create_dir(&empty_dir).unwrap();
        assert!(detect(&empty_dir).unwrap_err().to_string().contains("toc.dat"));
        std::fs::write(empty_dir.join("toc.dat"), b"PGDMP\x01\x0e\x00").unwrap();
        assert_eq!(detect(&empty_dir).unwrap().format, BackupFormat::Directory);
    }

    #[test]
    fn a_tar_archive_is_read_through_its_headers() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = vec![0u8; 512];
        tar[..7].copy_from_slice(b"toc.dat");
        tar[124..135].copy_from_slice(b"00000000010");
        tar[257..262].copy_from_slice(b"ustar");
        let mut content = b"PGDMP\x01\x0f\x00".to_vec();
        content.resize(512, 0);
        tar.extend(content);
        tar.extend([0u8; 1024]);
        let path = dir.path().join("a.tar");
        std::fs::write(&path, tar).unwrap();
        assert_eq!(
            detect(&path).unwrap(),
            Detected {
                format: BackupFormat::Tar,
                archive_version: Some(ArchiveVersion::new(1, 15, 0))
            }
        );
    }
}
