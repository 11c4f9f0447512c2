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

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{BackupFormat, MANIFEST_SUFFIX, Manifest, ManifestFile};
use crate::error::{Error, Result};

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
    let file = std::fs::File::open(path)?;
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
    let mut file = std::fs::File::open(path)?;
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
    if exact.is_file() {
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

/// Reads and parses a manifest.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "Reading the manifest",
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::ManifestInvalid { path: path.to_owned(), detail: e.to_string() })
}

/// Checks every file of `found` against its recorded size and sha256, before anything else
/// happens. Returns how many files were checked.
pub async fn verify(found: &FoundManifest) -> Result<usize> {
    let found = found.clone();
    tokio::task::spawn_blocking(move || {
        for file in &found.files {
            let path = found.folder.join(file.name.replace('/', std::path::MAIN_SEPARATOR_STR));
            if !path.is_file() {
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
pub fn saved_roles(found: &FoundManifest) -> Result<Option<crate::globals::SavedRoles>> {
    let Some(file) = found.manifest.files.iter().find(|f| f.role == "globals") else {
        return Ok(None);
    };
    let path = found.folder.join(file.name.replace('/', std::path::MAIN_SEPARATOR_STR));
    if !path.is_file() {
        return Err(Error::BackupFileMissing { file: path, manifest: found.path.clone() });
    }
    let actual = sha256_file(&path)?;
    if actual != file.sha256 {
        return Err(Error::ChecksumMismatch { file: path, expected: file.sha256.clone(), actual });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        action: "Reading the saved roles",
        path: path.clone(),
        source,
    })?;
    Ok(Some(crate::globals::parse(&text)))
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let io = |source| Error::Io { action: "Reading the backup", path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(crate::runner::hex(&hasher.finalize()))
}

// ----------------------------------------------------------------------------------------------
// The SQL text of a dump, line by line.

/// Where a line stands in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Blank,
    /// A `--` comment between statements (pg_dump's entry headers are these).
    Comment,
    /// A psql meta-command between statements (`\connect`, `\restrict`).
    Meta,
    /// The first line of a statement; `complete` when the statement also ends on it.
    StatementStart {
        complete: bool,
    },
    /// A later line of a statement spanning several lines (e.g. a function body).
    Continuation,
    /// A row of `COPY … FROM stdin` data, or the `\.` that ends it.
    CopyData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Quote {
    None,
    /// `'…'`; `escapes` for `E'…'`, where a backslash escapes the next character.
    Single {
        escapes: bool,
    },
    Double,
    /// `$tag$…$tag$`, holding the whole delimiter.
    Dollar(Vec<u8>),
    /// `/* … */`, nested to this depth.
    Block(u32),
}

/// Follows SQL quoting across lines so that only lines between statements are taken for
/// headers, `SET` statements and grants; text inside strings, function bodies and COPY data
/// never is.
#[derive(Debug, Clone)]
pub struct SqlLexer {
    quote: Quote,
    in_statement: bool,
    copy_data: bool,
}

impl Default for SqlLexer {
    fn default() -> Self {
        SqlLexer { quote: Quote::None, in_statement: false, copy_data: false }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl SqlLexer {
    pub fn line(&mut self, line: &[u8]) -> LineKind {
        let text = trim_newline(line);
        if self.copy_data {
            if text == b"\\." {
                self.copy_data = false;
            }
            return LineKind::CopyData;
        }
        let starts = !self.in_statement && self.quote == Quote::None;
        if starts {
            let trimmed = text.trim_ascii_start();
            if trimmed.is_empty() {
                return LineKind::Blank;
            }
            if trimmed.starts_with(b"--") {
                return LineKind::Comment;
            }
            if trimmed.starts_with(b"\\") {
                return LineKind::Meta;
            }
        }
        self.scan(text);
        if !starts {
            return LineKind::Continuation;
        }
        let complete = !self.in_statement && self.quote == Quote::None;
        if complete && text.starts_with(b"COPY ") && text.trim_ascii_end().ends_with(b"FROM stdin;")
        {
            self.copy_data = true;
        }
        LineKind::StatementStart { complete }
    }

    fn scan(&mut self, s: &[u8]) {
        let mut i = 0;
        while i < s.len() {
            let b = s[i];
            let next = s.get(i + 1).copied();
            match &mut self.quote {
                Quote::None => match b {
                    b'-' if next == Some(b'-') => return,
                    b'/' if next == Some(b'*') => {
                        self.quote = Quote::Block(1);
                        i += 2;
                        continue;
                    }
                    b'\'' => {
                        let escapes = i >= 1
                            && matches!(s[i - 1], b'E' | b'e')
                            && (i < 2 || !is_ident_byte(s[i - 2]));
                        self.quote = Quote::Single { escapes };
                        self.in_statement = true;
                    }
                    b'"' => {
                        self.quote = Quote::Double;
                        self.in_statement = true;
                    }
                    b'$' => {
                        self.in_statement = true;
                        if i == 0 || !(is_ident_byte(s[i - 1]) || s[i - 1] == b'$') {
                            let mut j = i + 1;
                            while j < s.len() && (is_ident_byte(s[j])) {
                                j += 1;
                            }
                            let tag_ok = j == i + 1 || !s[i + 1].is_ascii_digit();
                            if tag_ok && j < s.len() && s[j] == b'$' {
                                self.quote = Quote::Dollar(s[i..=j].to_vec());
                                i = j + 1;
                                continue;
                            }
                        }
                    }
                    b';' => self.in_statement = false,
                    b if b.is_ascii_whitespace() => {}
                    _ => self.in_statement = true,
                },
                Quote::Single { escapes } => {
                    if *escapes && b == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b == b'\'' {
                        if next == Some(b'\'') {
                            i += 2;
                            continue;
                        }
                        self.quote = Quote::None;
                    }
                }
                Quote::Double => {
                    if b == b'"' {
                        self.quote = Quote::None;
                    }
                }
                Quote::Dollar(tag) => {
                    if s[i..].starts_with(tag) {
                        i += tag.len();
                        self.quote = Quote::None;
                        continue;
                    }
                }
                Quote::Block(depth) => {
                    if b == b'/' && next == Some(b'*') {
                        *depth += 1;
                        i += 2;
                        continue;
                    }
                    if b == b'*' && next == Some(b'/') {
                        *depth -= 1;
                        if *depth == 0 {
                            self.quote = Quote::None;
                        }
                        i += 2;
                        continue;
                    }
                }
            }
            i += 1;
        }
    }
}

/// One entry of the dump as its header comment names it:
/// `-- [Data for ]Name: <name>; Type: <kind>; Schema: <schema>; Owner: <owner>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    /// 1 for the first header in the text, 2 for the next …
    pub ordinal: usize,
    /// The archive's TOC id (from `-- TOC entry N` lines of `pg_restore --verbose`).
    pub toc_id: Option<u32>,
    pub name: String,
    pub kind: String,
    pub schema: Option<String>,
    pub owner: Option<String>,
    /// Roles the entry's statements name (grantees, grantors, default-privilege roles).
    pub roles: BTreeSet<String>,
    /// TOC ids of the entries this one needs (`-- Dependencies: …` of `pg_restore --verbose`).
    pub deps: Vec<u32>,
}

fn parse_header(comment: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let rest =
        comment.strip_prefix("-- Name: ").or_else(|| comment.strip_prefix("-- Data for Name: "))?;
    let rest = match rest.rfind("; Tablespace: ") {
        Some(at) => &rest[..at],
        None => rest,
    };
    // An entry without owner (a comment on an extension) ends in "Owner: ", trimmed to "Owner:".
    let (rest, owner) =
        rest.rsplit_once("; Owner: ").or_else(|| Some((rest.strip_suffix("; Owner:")?, "")))?;
    let (rest, schema) = rest.rsplit_once("; Schema: ")?;
    let (name, kind) = rest.rsplit_once("; Type: ")?;
    let some = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s != "-").then(|| s.to_owned())
    };
    Some((name.to_owned(), kind.to_owned(), some(schema), some(owner)))
}

/// Everything a pre-flight learns from the SQL text of a dump.
#[derive(Debug, Clone, Default)]
pub struct DumpFacts {
    pub entries: Vec<DumpEntry>,
    /// Parameters of the `SET name = …` statements between entries.
    pub set_names: BTreeSet<String>,
    /// The dump's encoding (its `SET client_encoding`).
    pub encoding: Option<String>,
    /// "18.6" from `-- Dumped by pg_dump version 18.6`.
    pub dumped_by: Option<String>,
    pub dumped_from: Option<String>,
    /// Whether pg_dump's closing "dump complete" comment is there.
    pub complete: bool,
    /// `\connect` lines: the dump switches databases (pg_dump --create).
    pub connects: bool,
    /// Bytes of SQL text read: about the size of the data once restored, before indexes.
    pub sql_bytes: u64,
}

impl DumpFacts {
    /// Entries per kind, e.g. {"TABLE": 4, "TABLE DATA": 4, "INDEX": 2}.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for entry in &self.entries {
            *counts.entry(entry.kind.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Every role the dump names: owners and the roles in grants.
    pub fn roles(&self) -> BTreeSet<String> {
        let mut roles = BTreeSet::new();
        for entry in &self.entries {
            roles.extend(entry.owner.iter().cloned());
            roles.extend(entry.roles.iter().cloned());
        }
        roles
    }

    pub fn extensions(&self) -> Vec<String> {
        self.entries.iter().filter(|e| e.kind == "EXTENSION").map(|e| e.name.clone()).collect()
    }
}

/// Kinds of entries whose statements grant privileges to roles.
fn is_acl(kind: &str) -> bool {
    kind == "ACL" || kind == "DEFAULT ACL"
}

/// Reads the SQL text of a dump line by line and collects [`DumpFacts`].
#[derive(Debug, Default)]
pub struct DumpScanner {
    lexer: SqlLexer,
    facts: DumpFacts,
    pending_toc_id: Option<u32>,
    pending_deps: Vec<u32>,
    statement: Option<String>,
}

impl DumpScanner {
    pub fn line(&mut self, line: &[u8]) {
        self.facts.sql_bytes += line.len() as u64;
        let kind = self.lexer.line(line);
        if matches!(kind, LineKind::Blank | LineKind::CopyData) {
            // Most of a dump is table data: nothing to learn there.
            return;
        }
        let text = String::from_utf8_lossy(trim_newline(line));
        match kind {
            LineKind::Comment => self.comment(text.trim_end()),
            LineKind::Meta => {
                if text.trim_start().starts_with("\\connect")
                    || text.trim_start().starts_with("\\c ")
                {
                    self.facts.connects = true;
                }
            }
            LineKind::StatementStart { complete } => {
                if let Some(name) = set_parameter(&text) {
                    if name == "client_encoding" && self.facts.encoding.is_none() {
                        self.facts.encoding = set_value(&text);
                    }
                    self.facts.set_names.insert(name);
                }
                if self.facts.entries.last().is_some_and(|e| is_acl(&e.kind)) {
                    self.statement = Some(text.into_owned());
                    if complete {
                        self.finish_statement();
                    }
                }
            }
            LineKind::Continuation => {
                if let Some(statement) = self.statement.as_mut() {
                    statement.push('\n');
                    statement.push_str(&text);
                    if !self.lexer.in_statement && self.lexer.quote == Quote::None {
                        self.finish_statement();
                    }
                }
            }
            LineKind::Blank | LineKind::CopyData => {}
        }
    }

    fn finish_statement(&mut self) {
        if let (Some(statement), Some(entry)) =
            (self.statement.take(), self.facts.entries.last_mut())
        {
            entry.roles.extend(roles_in_statement(&statement));
        }
    }

    fn comment(&mut self, text: &str) {
        if let Some(rest) = text.strip_prefix("-- TOC entry ") {
            self.pending_toc_id = rest.split_whitespace().next().and_then(|id| id.parse().ok());
            self.pending_deps.clear();
        } else if let Some(rest) = text.strip_prefix("-- Dependencies: ") {
            self.pending_deps = rest.split_whitespace().filter_map(|id| id.parse().ok()).collect();
        } else if let Some((name, kind, schema, owner)) = parse_header(text) {
            self.facts.entries.push(DumpEntry {
                ordinal: self.facts.entries.len() + 1,
                toc_id: self.pending_toc_id.take(),
                name,
                kind,
                schema,
                owner,
                roles: BTreeSet::new(),
                deps: std::mem::take(&mut self.pending_deps),
            });
        } else if let Some(version) = text.strip_prefix("-- Dumped by pg_dump version ") {
            self.facts.dumped_by = Some(version.trim().to_owned());
        } else if let Some(version) = text.strip_prefix("-- Dumped from database version ") {
            self.facts.dumped_from = Some(version.trim().to_owned());
        } else if text == "-- PostgreSQL database dump complete" {
            self.facts.complete = true;
        }
    }

    pub fn finish(self) -> DumpFacts {
        self.facts
    }
}

/// `SET name = value;` / `SET name TO value;` → the parameter name, lowercased.
fn set_parameter(statement: &str) -> Option<String> {
    let rest = statement.strip_prefix("SET ")?;
    let name: String =
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
    let after = rest[name.len()..].trim_start();
    if name.is_empty() || !(after.starts_with('=') || after.starts_with("TO ")) {
        return None;
    }
    let name = name.to_ascii_lowercase();
    // SET SESSION …, SET LOCAL …, SET ROLE … are not parameters.
    (!matches!(name.as_str(), "session" | "local" | "role" | "constraints" | "transaction"))
        .then_some(name)
}

fn set_value(statement: &str) -> Option<String> {
    let (_, value) = statement.split_once('=')?;
    Some(value.trim().trim_end_matches(';').trim().trim_matches('\'').to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An unquoted word, uppercased for keyword checks, with its original text.
    Word(String, String),
    Quoted(String),
    Punct(char),
}

pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '"' {
            let mut ident = String::new();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        ident.push('"');
                    } else {
                        break;
                    }
                } else {
                    ident.push(c);
                }
            }
            tokens.push(Token::Quoted(ident));
        } else if c == '\'' {
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            tokens.push(Token::Punct('\''));
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word.to_ascii_uppercase(), word));
        } else {
            tokens.push(Token::Punct(c));
        }
    }
    tokens
}

/// The roles a GRANT, REVOKE, ALTER DEFAULT PRIVILEGES or SET SESSION AUTHORIZATION statement
/// names (as pg_dump writes them in ACL entries). PUBLIC and CURRENT_USER-like words are not
/// roles.
pub fn roles_in_statement(sql: &str) -> BTreeSet<String> {
    let tokens = tokenize(sql);
    let mut roles = BTreeSet::new();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(upper, _)) => Some(upper.as_str()),
        _ => None,
    };
    let role_at = |i: usize| -> Option<String> {
        match tokens.get(i)? {
            Token::Quoted(name) => Some(name.clone()),
            Token::Word(upper, original) => (!matches!(
                upper.as_str(),
                "PUBLIC" | "CURRENT_USER" | "SESSION_USER" | "CURRENT_ROLE" | "GROUP"
            ))
            .then(|| original.to_lowercase()),
            Token::Punct(_) => None,
        }
    };
    // Role lists: `name [, name …]`, e.g. after TO, FROM, FOR ROLE, GRANTED BY.
    let list_from = |mut i: usize, roles: &mut BTreeSet<String>| {
        loop {
            if word(i) == Some("GROUP") {
                i += 1;
            }
            match role_at(i) {
                Some(role) => {
                    roles.insert(role);
                }
                None if word(i) == Some("PUBLIC")
                    || word(i)
                        .is_some_and(|w| w.starts_with("CURRENT_") || w == "SESSION_USER") => {}
                None => return,
            }
            if tokens.get(i + 1) == Some(&Token::Punct(',')) {
                i += 2;
            } else {
                return;
            }
        }
    };
    let mut i = 0;
    while i < tokens.len() {
        match (word(i), word(i + 1), word(i + 2)) {
            (Some("SET"), Some("SESSION"), Some("AUTHORIZATION")) => list_from(i + 3, &mut roles),
            (Some("FOR"), Some("ROLE" | "USER"), _) => list_from(i + 2, &mut roles),
            (Some("TO" | "FROM"), _, _) => list_from(i + 1, &mut roles),
            (Some("GRANTED"), Some("BY"), _) => list_from(i + 2, &mut roles),
            _ => {}
        }
        i += 1;
    }
    roles
}

/// Decides, line by line, what of a dump's SQL text reaches psql.
#[derive(Debug)]
pub struct DumpFilter {
    lexer: SqlLexer,
    /// When set, `SET` statements whose parameter is not in it are left out (settings a newer
    /// pg_dump / pg_restore writes that the target server does not know).
    known_settings: Option<HashSet<String>>,
    /// Leave out `ALTER … OWNER TO …` statements (psql has no --no-owner).
    drop_owner: bool,
    /// Ordinals of entries whose statements are left out entirely.
    skip_entries: HashSet<usize>,
    entry: usize,
    pub dropped_settings: BTreeSet<String>,
}

impl DumpFilter {
    pub fn new(
        known_settings: Option<HashSet<String>>,
        drop_owner: bool,
        skip_entries: HashSet<usize>,
    ) -> Self {
        DumpFilter {
            lexer: SqlLexer::default(),
            known_settings,
            drop_owner,
            skip_entries,
            entry: 0,
            dropped_settings: BTreeSet::new(),
        }
    }

    /// The ordinal of the entry the last line belongs to (0 before the first header).
    pub fn entry(&self) -> usize {
        self.entry
    }

    /// Whether `line` goes on to psql.
    pub fn keep(&mut self, line: &[u8]) -> bool {
        let kind = self.lexer.line(line);
        if kind == LineKind::Comment {
            let text = String::from_utf8_lossy(trim_newline(line));
            if parse_header(text.trim_end()).is_some() {
                self.entry += 1;
            }
            return true;
        }
        if matches!(kind, LineKind::Blank) {
            return true;
        }
        if self.skip_entries.contains(&self.entry) && kind != LineKind::Meta {
            return false;
        }
        if let LineKind::StatementStart { complete: true } = kind {
            let text = String::from_utf8_lossy(trim_newline(line));
            if let (Some(known), Some(name)) = (&self.known_settings, set_parameter(&text))
                && !name.contains('.')
                && !known.contains(&name)
            {
                self.dropped_settings.insert(name);
                return false;
            }
            if self.drop_owner && text.starts_with("ALTER ") && text.contains(" OWNER TO ") {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<LineKind> {
        let mut lexer = SqlLexer::default();
        text.split_inclusive('\n').map(|l| lexer.line(l.as_bytes())).collect()
    }

    #[test]
    fn the_lexer_keeps_function_bodies_strings_and_copy_data_apart() {
        use LineKind::*;
        let sql = "--\n\
                   SET transaction_timeout = 0;\n\
                   CREATE FUNCTION f() RETURNS int AS $_$\n\
                   SET transaction_timeout = 0;\n\
                   $_$;\n\
                   COMMENT ON TABLE t IS 'it''s\n\
                   SET x = 1;';\n\
                   COPY t (a) FROM stdin;\n\
                   SET transaction_timeout = 0;\n\
                   \\.\n\
                   \n\
                   \\restrict abc\n\
                   SELECT E'a\\'b;\n\
                   c';\n";
        assert_eq!(
            kinds(sql),
            [
                Comment,
                StatementStart { complete: true },
                StatementStart { complete: false },
                Continuation,
                Continuation,
                StatementStart { complete: false },
                Continuation,
                StatementStart { complete: true },
                CopyData,
                CopyData,
                Blank,
                Meta,
                StatementStart { complete: false },
                Continuation,
            ]
        );
    }

    #[test]
    fn the_filter_drops_only_unknown_settings_between_statements() {
        let known: HashSet<String> =
            ["statement_timeout", "client_encoding"].iter().map(|s| s.to_string()).collect();
        let mut filter = DumpFilter::new(Some(known), false, HashSet::new());
        let sql = "SET statement_timeout = 0;\n\
                   SET transaction_timeout = 0;\n\
                   SET myapp.flag = on;\n\
                   COPY t (a) FROM stdin;\n\
                   SET transaction_timeout = 0;\n\
                   \\.\n\
                   CREATE FUNCTION f() RETURNS int AS $$\n\
                   SET transaction_timeout = 0;\n\
                   $$;\n";
        let kept: Vec<&str> =
            sql.split_inclusive('\n').filter(|l| filter.keep(l.as_bytes())).collect();
        assert_eq!(kept.len(), 8, "{kept:?}");
        // The two left are COPY data and a function body, not statements.
        assert_eq!(kept.iter().filter(|l| l.starts_with("SET transaction")).count(), 2);
        assert_eq!(filter.dropped_settings.iter().collect::<Vec<_>>(), ["transaction_timeout"]);
    }

    #[test]
    fn the_filter_drops_owners_and_skipped_entries() {
        let sql = "--\n-- Name: t; Type: TABLE; Schema: public; Owner: app\n--\n\n\
                   CREATE TABLE public.t (a int);\n\
                   ALTER TABLE public.t OWNER TO app;\n\
                   --\n-- Name: TABLE t; Type: ACL; Schema: public; Owner: app\n--\n\n\
                   GRANT SELECT ON TABLE public.t TO reporting;\n";
        let mut filter = DumpFilter::new(None, true, HashSet::from([2]));
        let kept: String =
            sql.split_inclusive('\n').filter(|l| filter.keep(l.as_bytes())).collect();
        assert!(kept.contains("CREATE TABLE public.t"));
        assert!(!kept.contains("OWNER TO"));
        assert!(!kept.contains("GRANT"));
    }

    #[test]
    fn the_scanner_reads_entries_owners_grants_and_settings() {
        let sql = "--\n-- PostgreSQL database dump\n--\n\n\
                   -- Dumped from database version 14.23\n\
                   -- Dumped by pg_dump version 18.6\n\n\
                   SET transaction_timeout = 0;\n\
                   SET client_encoding = 'LATIN1';\n\n\
                   --\n-- TOC entry 2 (class 3079 OID 16494)\n\
                   -- Name: hstore; Type: EXTENSION; Schema: -; Owner: -\n--\n\n\
                   CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\n\n\
                   --\n-- TOC entry 2717 (class 0 OID 0)\n-- Dependencies: 2\n\
                   -- Name: EXTENSION hstore; Type: COMMENT; Schema: -; Owner: \n--\n\n\
                   COMMENT ON EXTENSION hstore IS 'data type for storing sets of (key, value) pairs';\n\n\
                   --\n-- Name: Odd; Name; Type: TABLE; Schema: public; Owner: Odd Role\n--\n\n\
                   CREATE TABLE public.\"Odd; Name\" (a int);\n\
                   COMMENT ON TABLE public.x IS '\n-- Name: fake; Type: ACL; Schema: -; Owner: x\n';\n\
                   --\n-- TOC entry 2709 (class 0 OID 0)\n\
                   -- Name: TABLE orders; Type: ACL; Schema: sales; Owner: postgres\n--\n\n\
                   GRANT SELECT ON TABLE sales.orders TO \"Odd Role\";\n\
                   GRANT SELECT ON TABLE sales.orders TO rep, PUBLIC WITH GRANT OPTION;\n\
                   REVOKE ALL ON TABLE sales.orders FROM Old_Team;\n\
                   --\n-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: sales; Owner: postgres\n--\n\n\
                   ALTER DEFAULT PRIVILEGES FOR ROLE owner1 IN SCHEMA sales GRANT SELECT ON TABLES TO rep2;\n\
                   --\n-- Data for Name: orders; Type: TABLE DATA; Schema: sales; Owner: postgres\n--\n\n\
                   COPY sales.orders (id) FROM stdin;\n\
                   -- Name: in data; Type: ACL; Schema: -; Owner: nobody\n\
                   \\.\n\n\
                   --\n-- PostgreSQL database dump complete\n--\n\n";
        let mut scanner = DumpScanner::default();
        for line in sql.split_inclusive('\n') {
            scanner.line(line.as_bytes());
        }
        let facts = scanner.finish();
        let names: Vec<(&str, &str)> =
            facts.entries.iter().map(|e| (e.name.as_str(), e.kind.as_str())).collect();
        assert_eq!(
            names,
            [
                ("hstore", "EXTENSION"),
                ("EXTENSION hstore", "COMMENT"),
                ("Odd; Name", "TABLE"),
                ("TABLE orders", "ACL"),
                ("DEFAULT PRIVILEGES FOR TABLES", "DEFAULT ACL"),
                ("orders", "TABLE DATA"),
            ]
        );
        assert_eq!(facts.entries[0].toc_id, Some(2));
        assert_eq!(facts.entries[0].owner, None);
        assert_eq!(
            (facts.entries[1].toc_id, facts.entries[1].owner.as_deref()),
            (Some(2717), None)
        );
        assert_eq!(facts.entries[1].deps, [2]);
        assert_eq!(facts.entries[2].owner.as_deref(), Some("Odd Role"));
        assert_eq!(facts.entries[3].toc_id, Some(2709));
        let acl: Vec<&str> = facts.entries[3].roles.iter().map(String::as_str).collect();
        assert_eq!(acl, ["Odd Role", "old_team", "rep"]);
        let default_acl: Vec<&str> = facts.entries[4].roles.iter().map(String::as_str).collect();
        assert_eq!(default_acl, ["owner1", "rep2"]);
        assert_eq!(facts.extensions(), ["hstore"]);
        assert_eq!(facts.encoding.as_deref(), Some("LATIN1"));
        assert_eq!(facts.dumped_by.as_deref(), Some("18.6"));
        assert_eq!(facts.dumped_from.as_deref(), Some("14.23"));
        assert!(facts.set_names.contains("transaction_timeout"));
        assert!(facts.complete && !facts.connects);
        assert_eq!(facts.counts()["TABLE DATA"], 1);
        assert!(facts.roles().contains("postgres") && facts.roles().contains("Odd Role"));
    }

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
        assert_eq!(error.code(), crate::error::ErrorCode::NotABackup);
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
