//! File names of backups: `<db>-YYYY-MM-DD-HHMMSS.<ext>`, valid on Windows, macOS and Linux.
//!
//! Pure functions, no I/O, no panics on any input.
//!
//! - The date is the caller's local time, written without colons.
//! - The database part goes through [`safe_component`]. That removes what any of the three systems
//!   forbids (`< > : " / \ | ? *`, control characters, reserved device names such as `CON` or
//!   `lpt1.txt`, and a trailing dot or space) and bounds the length.
//! - Two different database names never get file names that differ only by case (NTFS and APFS
//!   ignore case by default). When the readable part could clash with the name of another
//!   database, `~` and 8 hex digits of the SHA-256 of the original name are appended. That
//!   happens when sanitizing changed the text, or the text was cut, or the name holds an
//!   uppercase letter, a `~` or any non-ASCII character. So `shop` stays `shop`, and `Shop`
//!   becomes `Shop~1a2b3c4d`.
//!
//! Non-ASCII names keep their letters but always get the hash. File systems disagree about
//! Unicode: APFS treats NFC `é` and NFD `e\u{301}` as the same name, and a case-insensitive
//! system may fold `ſ`, `ı` or `ς` into `S`, `I` or `Σ`. Hashing every non-ASCII name means the
//! only names kept bare are plain lowercase ASCII, where every file system agrees.

use std::path::Path;

use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::util::checksum::short_sha256;

/// Most characters in a name this module produces, the date and the extension included.
///
/// The count is in UTF-16 code units, the unit Windows counts for `MAX_PATH`. That count is never
/// below the number of `char`s, so the name also has at most this many `char`s.
pub const MAX_COMPONENT_CHARS: usize = 100;

/// Most bytes (UTF-8) in a name this module produces. Linux allows 255, so this leaves room for a
/// suffix such as [`SIDECAR_SUFFIX`].
pub const MAX_COMPONENT_BYTES: usize = 200;

/// Room kept in [`backup_file_name`] for the extension: `.` plus at most this many characters. A
/// longer extension is cut to fit.
pub const MAX_EXTENSION_CHARS: usize = 10;

/// Added to a backup's file name to name its metadata file.
pub const SIDECAR_SUFFIX: &str = ".lifeboat.json";

/// Room that [`fits_windows_path`] keeps for a temporary suffix (such as `.part` or
/// `.tmp-1a2b3c4d`). It is added while a file is being written, after [`SIDECAR_SUFFIX`].
pub const TEMP_SUFFIX_MAX_CHARS: usize = 16;

/// Windows `MAX_PATH`. It includes the terminating NUL, so a full path can have at most 259
/// UTF-16 units.
const WINDOWS_MAX_PATH: usize = 260;

/// `-YYYY-MM-DD-HHMMSS`
const DATE_CHARS: usize = 18;

/// `~` followed by 8 hex digits.
const HASH_SUFFIX_CHARS: usize = 9;

/// Characters that Windows forbids in a file name (`/` is the only one Unix forbids, `:` the one
/// macOS's Finder turns into `/`).
const FORBIDDEN: [char; 9] = ['<', '>', ':', '"', '/', '\\', '|', '?', '*'];

/// Windows device names, compared after ASCII uppercasing. Windows also treats the superscript
/// digits ¹ ² ³ as digits here. It reserves these names even when an extension follows them.
const RESERVED: [&str; 30] = [
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// The stem of a backup's file name: `<safe db>-YYYY-MM-DD-HHMMSS`, e.g.
/// `shop-2026-11-21-134501`.
///
/// `taken_at` is the local time the backup started. A year outside 0000–9999 is clamped to that
/// range, so the date always has exactly the form `-YYYY-MM-DD-HHMMSS`. A leap second is written
/// as `59`.
///
/// The stem leaves room for `.` and an extension of up to [`MAX_EXTENSION_CHARS`]. That way
/// [`backup_file_name`] never has to cut the stem, and a directory-format backup (the stem alone)
/// has the same name as the other formats without their extension.
pub fn backup_stem(database: &str, taken_at: NaiveDateTime) -> String {
    let room = DATE_CHARS + 1 + MAX_EXTENSION_CHARS;
    let db = sanitize_within(
        database,
        MAX_COMPONENT_CHARS.saturating_sub(room),
        MAX_COMPONENT_BYTES.saturating_sub(room),
    );
    let mut stem = db;
    stem.push_str(&date_part(taken_at));
    stem
}

/// The file name of a backup: [`backup_stem`] + `.` + `extension`, or the stem alone when
/// `extension` is empty.
///
/// The caller chooses the extension for each format: `"backup"` (custom), `"tar"`, `"sql"`, or
/// `""` for a directory-format backup (a folder). Leading dots are ignored (`".sql"` is the same
/// as `"sql"`). Any character other than an ASCII letter, digit, `-`, `_` or `.` becomes `_`. The
/// extension is cut to [`MAX_EXTENSION_CHARS`], and a trailing dot becomes `_`.
///
/// The result has at most [`MAX_COMPONENT_CHARS`] characters and [`MAX_COMPONENT_BYTES`] bytes.
pub fn backup_file_name(database: &str, taken_at: NaiveDateTime, extension: &str) -> String {
    let mut name = backup_stem(database, taken_at);
    let extension = clean_extension(extension);
    if !extension.is_empty() {
        name.push('.');
        name.push_str(&extension);
    }
    name
}

/// Makes `name` safe as one path component on Windows, macOS and Linux. It works for a database
/// name, and also for a schema name in a per-schema backup.
///
/// - `< > : " / \ | ? *` and control characters become `_`. Everything else is kept: inner
///   spaces, `%`, and letters such as é, ü or 日本.
/// - An empty name, or a name made only of dots, becomes `_`.
/// - Trailing dots and spaces become `_`, so `a.` and `a` stay different names.
/// - A Windows device name gets `_` added after it. This applies in any case, and also when a dot
///   and more text follow it: `CON` becomes `CON_` and `nul.txt` becomes `nul_.txt`.
/// - `~` and 8 hex digits of the SHA-256 of `name` are appended when the text could clash with
///   another name. That is when any rule above changed it, when it was cut, or when `name`
///   holds an uppercase letter, a `~` or a non-ASCII character. See the module docs.
/// - The result has at most [`MAX_COMPONENT_CHARS`] characters (UTF-16 units) and
///   [`MAX_COMPONENT_BYTES`] bytes. When cutting, the readable text is cut on a character
///   boundary, never the hash.
///
/// Two different names never give results that are equal, or equal when case is ignored (up to
/// the 32-bit hash).
pub fn safe_component(name: &str) -> String {
    sanitize_within(name, MAX_COMPONENT_CHARS, MAX_COMPONENT_BYTES)
}

/// Whether backups can be written in `folder` without reaching Windows `MAX_PATH`, 260 UTF-16
/// units with the terminating NUL.
///
/// The longest path is `folder` + a separator + a name of [`MAX_COMPONENT_CHARS`] +
/// [`SIDECAR_SUFFIX`] + a temporary suffix of up to [`TEMP_SUFFIX_MAX_CHARS`]. That also covers
/// the files that `pg_dump` writes inside a directory-format backup (`\toc.dat`,
/// `\12345.dat.gz`).
///
/// `folder` should be absolute: a relative path is counted as given. Any folder of up to 128
/// UTF-16 units fits. The caller uses this to warn about, or refuse, a destination that is too
/// deep.
pub fn fits_windows_path(folder: &Path) -> bool {
    // On Windows an OsStr is WTF-8. The lossy conversion replaces each unpaired surrogate with
    // one U+FFFD, so the count of UTF-16 units stays exact.
    let folder_units = folder.as_os_str().to_string_lossy().encode_utf16().count();
    let longest =
        folder_units + 1 + MAX_COMPONENT_CHARS + SIDECAR_SUFFIX.len() + TEMP_SUFFIX_MAX_CHARS;
    longest < WINDOWS_MAX_PATH
}

/// [`safe_component`] with the given bounds on UTF-16 units and bytes. Both must be larger than
/// [`HASH_SUFFIX_CHARS`] (the private callers pass constants far above it).
fn sanitize_within(name: &str, max_units: usize, max_bytes: usize) -> String {
    let mut text: String = name.chars().map(|c| if is_forbidden(c) { '_' } else { c }).collect();

    if text.chars().all(|c| c == '.') {
        // Empty, ".", ".." and so on.
        text = String::from("_");
    } else {
        let kept = text.trim_end_matches(['.', ' ']).len();
        let trailing = text.len() - kept;
        text.truncate(kept);
        text.extend(std::iter::repeat_n('_', trailing));
    }

    if let Some(end) = reserved_prefix_end(&text) {
        text.insert(end, '_');
    }

    let fits = text.encode_utf16().count() <= max_units && text.len() <= max_bytes;
    if fits && text == name && is_case_safe(name) {
        return text;
    }

    let mut result = cut(
        &text,
        max_units.saturating_sub(HASH_SUFFIX_CHARS),
        max_bytes.saturating_sub(HASH_SUFFIX_CHARS),
    )
    .to_owned();
    result.push('~');
    result.push_str(&short_hash(name));
    result
}

fn is_forbidden(c: char) -> bool {
    FORBIDDEN.contains(&c) || c.is_control()
}

/// Whether `name` can be kept bare, with no hash appended, without risking a clash on a
/// case-insensitive or Unicode-normalizing file system. That needs plain ASCII with no uppercase
/// letter, and no `~`, because `~` marks the hash.
fn is_case_safe(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii() && !c.is_ascii_uppercase() && c != '~')
}

/// If the part of `text` before its first dot, without trailing spaces, is a device name: the
/// byte offset just after that name. Windows ignores the trailing spaces (`nul .txt` is `NUL`).
fn reserved_prefix_end(text: &str) -> Option<usize> {
    let head = text.split('.').next().unwrap_or(text);
    let head = head.trim_end_matches(' ');
    let upper = head.to_ascii_uppercase();
    RESERVED.contains(&upper.as_str()).then_some(head.len())
}

/// The longest prefix of `text` within both bounds, cut on a character boundary.
fn cut(text: &str, max_units: usize, max_bytes: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max_units || index + c.len_utf8() > max_bytes {
            return &text[..index];
        }
    }
    text
}

/// The first 8 hex digits (lowercase) of the SHA-256 of `name`.
fn short_hash(name: &str) -> String {
    short_sha256(name, 4)
}

/// `-YYYY-MM-DD-HHMMSS`, with the year clamped to 0000–9999.
fn date_part(t: NaiveDateTime) -> String {
    format!(
        "-{:04}-{:02}-{:02}-{:02}{:02}{:02}",
        t.year().clamp(0, 9999),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
}

fn clean_extension(extension: &str) -> String {
    let mut clean: String = extension
        .trim_start_matches('.')
        .chars()
        .take(MAX_EXTENSION_CHARS)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if clean.ends_with('.') {
        clean.pop();
        clean.push('_');
    }
    clean
}

/// The database a backup's file or folder name says it holds: `shop-2026-11-21-134501.backup`,
/// its manifest or its folder → `shop` (the part before Lifeboat's date); any other name without
/// its extension (`crm.sql` → `crm`). Takes a path with `/` or `\` separators, so the desktop can
/// ask about a path it has only as text.
pub fn database_of_backup(path: &str) -> String {
    let name = path.rsplit(['/', '\\']).find(|part| !part.is_empty()).unwrap_or_default();
    let stem = match name.strip_suffix(".lifeboat.json") {
        Some(stem) => stem,
        // As `Path::file_stem`: a leading dot does not start an extension.
        None => match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => name,
        },
    };
    database_from_stem(stem)
}

/// `shop-2026-11-21-134501` (a Lifeboat file name) → `shop`; any other stem stays as it is.
pub fn database_from_stem(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let pattern = b"-dddd-dd-dd-dddddd";
    for start in 1..bytes.len().saturating_sub(pattern.len() - 1) {
        let fits = pattern.iter().zip(&bytes[start..]).all(|(p, b)| match p {
            b'd' => b.is_ascii_digit(),
            other => other == b,
        });
        if fits {
            return stem[..start].to_owned();
        }
    }
    stem.to_owned()
}

/// PostgreSQL's limit on an identifier, in bytes (NAMEDATALEN - 1); longer names are cut.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `base` followed by `suffix`, `base` cut on a character boundary so that the name plus
/// `reserve` more bytes (room for a `_NN` added later) fits [`MAX_IDENTIFIER_BYTES`].
pub fn fit_identifier(base: &str, suffix: &str, reserve: usize) -> String {
    let room = MAX_IDENTIFIER_BYTES.saturating_sub(suffix.len() + reserve);
    let mut cut = room.min(base.len());
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &base[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn lifeboat_file_names_give_back_the_database() {
        assert_eq!(database_from_stem("shop-2026-11-21-134501"), "shop");
        assert_eq!(database_from_stem("my-db-2026-11-21-134501-2"), "my-db");
        assert_eq!(database_from_stem("dump18"), "dump18");
    }

    #[test]
    fn the_database_is_read_from_a_backup_name() {
        let manifest = "/home/ada/backups/shop-2026-11-21-134501.lifeboat.json";
        assert_eq!(database_of_backup(manifest), "shop");
        assert_eq!(database_of_backup("/x/my-db-2026-11-21-134501.backup"), "my-db");
        assert_eq!(database_of_backup("/x/my-db-2026-11-21-134501-2.backup"), "my-db");
        assert_eq!(database_of_backup("C:\\b\\crm.sql"), "crm");
        assert_eq!(database_of_backup("/b/shop-2026-11-21-134501/"), "shop");
        assert_eq!(database_of_backup("dump18"), "dump18");
        assert_eq!(database_of_backup(""), "");
        assert_eq!(database_of_backup("/b/.backup"), ".backup");
        assert_eq!(database_from_stem("-2026-11-21-134501"), "-2026-11-21-134501");
    }

    const EXTENSIONS: [&str; 4] = ["backup", "tar", "sql", ""];

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap().and_hms_opt(13, 45, 1).unwrap()
    }

    fn hash8(name: &str) -> String {
        let digest = Sha256::digest(name.as_bytes());
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The db part of a stem, i.e. without the 18-char date.
    fn db_part(database: &str) -> String {
        let stem = backup_stem(database, at());
        stem[..stem.len() - DATE_CHARS].to_owned()
    }

    // ---- An oracle written independently of the implementation. ----

    const DEVICE_NAMES: &[&str] = &[
        "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
        "com8", "com9", "com¹", "com²", "com³", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5",
        "lpt6", "lpt7", "lpt8", "lpt9", "lpt¹", "lpt²", "lpt³",
    ];

    /// Every reason a component would be invalid on some system, or None.
    fn invalid_because(name: &str) -> Option<String> {
        if name.is_empty() {
            return Some("empty".into());
        }
        if name == "." || name == ".." {
            return Some("dot name".into());
        }
        if let Some(c) = name.chars().find(|c| "<>:\"/\\|?*".contains(*c) || c.is_control()) {
            return Some(format!("forbidden char {c:?}"));
        }
        if name.ends_with('.') || name.ends_with(' ') {
            return Some("trailing dot or space".into());
        }
        let head = name.split('.').next().unwrap().trim_end_matches(' ').to_lowercase();
        if DEVICE_NAMES.contains(&head.as_str()) {
            return Some(format!("device name {head:?}"));
        }
        if name.chars().count() > MAX_COMPONENT_CHARS {
            return Some(format!("{} chars", name.chars().count()));
        }
        if name.encode_utf16().count() > MAX_COMPONENT_CHARS {
            return Some(format!("{} UTF-16 units", name.encode_utf16().count()));
        }
        if name.len() > MAX_COMPONENT_BYTES {
            return Some(format!("{} bytes", name.len()));
        }
        None
    }

    // ---- Strategies. ----

    /// Characters that exercise every rule: forbidden ones, controls (C0, DEL, C1), dots, spaces,
    /// `~`, case, letters of several widths, and a combining mark.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(vec![
                '<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\n', '\t', '\x1f', '\x7f',
                '\u{85}', '.', ' ', '~', '_', '-', '%',
            ]),
            4 => prop::char::range('a', 'z'),
            2 => prop::char::range('A', 'Z'),
            1 => prop::sample::select(vec![
                'é', 'É', 'ü', '日', '本', 'ſ', 'ı', 'İ', 'ς', 'Σ', '\u{301}', '¹', '😀', '\u{10FFFF}',
            ]),
            2 => any::<char>(),
        ]
    }

    /// Device names in random case, with an optional tail that Windows still treats as the
    /// device.
    fn reserved_like() -> impl Strategy<Value = String> {
        (
            prop::sample::select(DEVICE_NAMES.to_vec()),
            prop::collection::vec(any::<bool>(), 4),
            prop::sample::select(vec!["", ".", ".backup", " ", "  .txt", ":", ".x.y", "-1", "..."]),
        )
            .prop_map(|(name, upper, tail)| {
                let cased: String = name
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect();
                format!("{cased}{tail}")
            })
    }

    /// Arbitrary Unicode strings, with control and forbidden characters, device names, and
    /// lengths past every bound.
    fn any_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::collection::vec(tricky_char(), 0..24).prop_map(String::from_iter),
            2 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
            2 => reserved_like(),
            // Close to names that are kept bare: ASCII, with dots, spaces, `~` and some case.
            2 => "[a-z0-9 ._%~A-Z-]{0,12}",
            1 => "[a-z. ]{0,6}",
            // Lowercase letters that some file systems fold together with ASCII ones.
            1 => prop::collection::vec(
                prop::sample::select(vec![
                    's', 'ſ', 'i', 'ı', 'σ', 'ς', 'k', 'µ', 'μ', 'e', 'é', '\u{301}',
                ]),
                1..6,
            )
            .prop_map(String::from_iter),
            1 => prop::collection::vec(tricky_char(), 60..320).prop_map(String::from_iter),
            1 => "[a-z]{60,120}",
            1 => prop::collection::vec(
                prop::sample::select(vec!['é', '日', '😀', 'a', 'Ü', '\u{301}']),
                40..120,
            )
            .prop_map(String::from_iter),
        ]
    }

    /// A second name made to collide with `a` if the implementation were careless. It differs by
    /// case, swaps in a character the sanitizer replaces, adds a trailing dot or space, changes
    /// the tail of a long name, or appends the hash that `a` itself would get.
    fn near(a: String) -> impl Strategy<Value = (String, String)> {
        let len = a.chars().count();
        (Just(a), 0..9u8, 0..len.max(1), tricky_char()).prop_map(|(a, how, i, c)| {
            let mut chars: Vec<char> = a.chars().collect();
            let b = match how {
                0 => a.to_uppercase(),
                1 => a.to_lowercase(),
                2 => {
                    if let Some(x) = chars.get_mut(i) {
                        *x = if x.is_ascii_uppercase() {
                            x.to_ascii_lowercase()
                        } else {
                            x.to_ascii_uppercase()
                        };
                    }
                    chars.into_iter().collect()
                }
                3 => {
                    if let Some(x) = chars.get_mut(i) {
                        *x = c;
                    }
                    chars.into_iter().collect()
                }
                4 => format!("{a}{c}"),
                5 => format!("{a}."),
                6 => {
                    let replaced: String = a
                        .chars()
                        .map(|x| if "<>:\"/\\|?*".contains(x) || x.is_control() { '_' } else { x })
                        .collect();
                    if replaced == a { format!("{a}/") } else { replaced }
                }
                7 => format!("{}~{}", a.to_lowercase(), hash8(&a)),
                // Case folding through uppercase: ſ → S → s, ı → I → i, ς → Σ → σ.
                _ => a.to_uppercase().to_lowercase(),
            };
            (a, b)
        })
    }

    fn any_datetime() -> impl Strategy<Value = NaiveDateTime> {
        let min = DateTime::<chrono::Utc>::MIN_UTC.timestamp();
        let max = DateTime::<chrono::Utc>::MAX_UTC.timestamp();
        (
            prop_oneof![
                // Realistic dates, and the whole range chrono supports.
                4 => 0i64..=253_402_300_799, // 1970 to 9999-12-31T23:59:59
                1 => min..=max,
            ],
            prop_oneof![9 => 0u32..1_000_000_000, 1 => 1_000_000_000u32..2_000_000_000],
        )
            .prop_filter_map("a valid timestamp", |(secs, nanos)| {
                // chrono represents a leap second as nanos ≥ 1e9, only at second 59.
                let secs =
                    if nanos >= 1_000_000_000 { secs - secs.rem_euclid(60) + 59 } else { secs };
                DateTime::from_timestamp(secs, nanos).map(|t| t.naive_utc())
            })
    }

    // ---- Properties. ----

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn file_names_are_valid_everywhere(name in any_name(), t in any_datetime()) {
            for ext in EXTENSIONS {
                let file = backup_file_name(&name, t, ext);
                prop_assert_eq!(invalid_because(&file), None, "{:?} -> {:?}", name, file);
            }
            let component = safe_component(&name);
            prop_assert_eq!(invalid_because(&component), None, "{:?} -> {:?}", name, component);
        }

        #[test]
        fn different_names_never_clash_even_ignoring_case(
            (a, b) in prop_oneof![
                any_name().prop_flat_map(near),
                (any_name(), any_name()),
            ]
        ) {
            prop_assume!(a != b);
            let (sa, sb) = (backup_stem(&a, at()), backup_stem(&b, at()));
            // Case-insensitive file systems compare names by lowercasing (APFS-like) or by
            // uppercasing (NTFS), so check both.
            prop_assert_ne!(sa.to_lowercase(), sb.to_lowercase(), "{:?} vs {:?}", a, b);
            prop_assert_ne!(sa.to_uppercase(), sb.to_uppercase(), "{:?} vs {:?}", a, b);
            let (ca, cb) = (safe_component(&a), safe_component(&b));
            prop_assert_ne!(ca.to_lowercase(), cb.to_lowercase(), "{:?} vs {:?}", a, b);
            prop_assert_ne!(ca.to_uppercase(), cb.to_uppercase(), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn stem_ends_with_the_date(name in any_name(), t in any_datetime()) {
            let stem = backup_stem(&name, t);
            prop_assert!(stem.len() > DATE_CHARS);
            let date = &stem[stem.len() - DATE_CHARS..];
            let shape: String = date
                .chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect();
            prop_assert_eq!(shape, "-9999-99-99-999999");
            let year = t.year().clamp(0, 9999);
            let expected = format!(
                "-{year:04}-{:02}-{:02}-{:02}{:02}{:02}",
                t.month(), t.day(), t.hour(), t.minute(), t.second()
            );
            prop_assert_eq!(date, expected.as_str());
            prop_assert!(stem.is_char_boundary(stem.len() - DATE_CHARS));
        }

        #[test]
        fn plain_lowercase_names_stay_as_they_are(name in "[a-z0-9_-]{1,71}") {
            prop_assume!(!DEVICE_NAMES.contains(&name.as_str()));
            prop_assert_eq!(backup_stem(&name, at()), format!("{name}-2026-11-21-134501"));
            prop_assert_eq!(safe_component(&name), name.clone());
            prop_assert_eq!(
                backup_file_name(&name, at(), "backup"),
                format!("{name}-2026-11-21-134501.backup")
            );
        }

        #[test]
        fn odd_extensions_still_give_valid_names(name in any_name(), ext in any_name()) {
            let file = backup_file_name(&name, at(), &ext);
            prop_assert_eq!(invalid_because(&file), None, "{:?} / {:?} -> {:?}", name, ext, file);
            prop_assert!(file.starts_with(&backup_stem(&name, at())));
        }
    }

    // ---- Examples. ----

    #[test]
    fn the_documented_shape() {
        assert_eq!(backup_stem("shop", at()), "shop-2026-11-21-134501");
        assert_eq!(backup_file_name("shop", at(), "backup"), "shop-2026-11-21-134501.backup");
        assert_eq!(backup_file_name("shop", at(), "tar"), "shop-2026-11-21-134501.tar");
        assert_eq!(backup_file_name("shop", at(), "sql"), "shop-2026-11-21-134501.sql");
        assert_eq!(backup_file_name("shop", at(), ""), "shop-2026-11-21-134501");
        assert_eq!(backup_file_name("shop", at(), ".sql"), "shop-2026-11-21-134501.sql");
    }

    #[test]
    fn case_and_replaced_characters_get_the_hash() {
        assert_eq!(db_part("shop"), "shop");
        assert_eq!(db_part("Shop"), format!("Shop~{}", hash8("Shop")));
        assert_eq!(db_part("a/b"), format!("a_b~{}", hash8("a/b")));
        assert_eq!(db_part("a_b"), "a_b");
        assert_eq!(db_part("a:b"), format!("a_b~{}", hash8("a:b")));
        assert_ne!(db_part("a/b"), db_part("a:b"));
        assert_eq!(db_part("c:\\x"), format!("c__x~{}", hash8("c:\\x")));
    }

    #[test]
    fn quotes_and_other_forbidden_characters() {
        let name = "say \"hi\" <now> | why? *";
        assert_eq!(safe_component(name), format!("say _hi_ _now_ _ why_ _~{}", hash8(name)));
        assert_eq!(
            safe_component("tab\there\u{7f}\0"),
            format!("tab_here__~{}", hash8("tab\there\u{7f}\0"))
        );
    }

    #[test]
    fn inner_spaces_and_percent_are_kept() {
        assert_eq!(db_part("my db"), "my db");
        assert_eq!(db_part("100%"), "100%");
        assert_eq!(db_part(" lead"), " lead");
    }

    #[test]
    fn unicode_letters_are_kept_with_a_hash() {
        assert_eq!(db_part("café"), format!("café~{}", hash8("café")));
        assert_eq!(db_part("日本"), format!("日本~{}", hash8("日本")));
        assert_eq!(db_part("über"), format!("über~{}", hash8("über")));
        // NFC and NFD forms are one name on APFS.
        assert_ne!(db_part("caf\u{e9}"), db_part("cafe\u{301}"));
        // ſ, ı and ς fold to S, I and Σ on some case-insensitive file systems.
        assert_ne!(db_part("ſhop").to_uppercase(), db_part("shop").to_uppercase());
    }

    #[test]
    fn device_names() {
        assert_eq!(safe_component("CON"), format!("CON_~{}", hash8("CON")));
        assert_eq!(safe_component("nul.txt"), format!("nul_.txt~{}", hash8("nul.txt")));
        assert_eq!(safe_component("LPT9"), format!("LPT9_~{}", hash8("LPT9")));
        assert_eq!(safe_component("com¹"), format!("com¹_~{}", hash8("com¹")));
        assert_eq!(safe_component("aux .x"), format!("aux_ .x~{}", hash8("aux .x")));
        // Not device names: a longer word, or a digit out of range.
        assert_eq!(safe_component("console"), "console");
        assert_eq!(safe_component("com10"), "com10");
        assert_eq!(safe_component("lpt"), "lpt");

        assert_eq!(db_part("CON"), format!("CON_~{}", hash8("CON")));
        assert_eq!(db_part("con"), format!("con_~{}", hash8("con")));
        assert_eq!(db_part("LPT9"), format!("LPT9_~{}", hash8("LPT9")));
        // Without the fix this would be "con.backup-…": the device CON with an extension.
        assert_eq!(
            backup_file_name("con.backup", at(), "backup"),
            format!("con_.backup~{}-2026-11-21-134501.backup", hash8("con.backup"))
        );
    }

    #[test]
    fn dots_empty_and_trailing() {
        assert_eq!(db_part(""), format!("_~{}", hash8("")));
        assert_eq!(db_part("."), format!("_~{}", hash8(".")));
        assert_eq!(db_part(".."), format!("_~{}", hash8("..")));
        assert_ne!(db_part("."), db_part(".."));
        assert_ne!(db_part(""), db_part("_"));
        assert_eq!(db_part("shop."), format!("shop_~{}", hash8("shop.")));
        assert_eq!(db_part("shop. "), format!("shop__~{}", hash8("shop. ")));
        assert_ne!(db_part("shop."), db_part("shop"));
        assert_eq!(safe_component("a."), format!("a_~{}", hash8("a.")));
        assert_eq!(safe_component(".hidden"), ".hidden");
        assert_eq!(safe_component("v1.2"), "v1.2");
    }

    #[test]
    fn tilde_is_hashed_so_it_cannot_imitate_a_hash() {
        let fake = format!("shop~{}", hash8("Shop"));
        assert_ne!(db_part(&fake).to_lowercase(), db_part("Shop").to_lowercase());
        assert_eq!(db_part("~"), format!("~~{}", hash8("~")));
    }

    #[test]
    fn long_names_are_cut_but_keep_their_hash() {
        let long = "x".repeat(300);
        let file = backup_file_name(&long, at(), "backup");
        assert_eq!(invalid_because(&file), None);
        let readable = MAX_COMPONENT_CHARS - DATE_CHARS - 1 - MAX_EXTENSION_CHARS - 9;
        assert_eq!(db_part(&long), format!("{}~{}", "x".repeat(readable), hash8(&long)));
        // Names that differ only after the cut still differ.
        let other = format!("{}y", "x".repeat(299));
        assert_ne!(backup_stem(&long, at()), backup_stem(&other, at()));
        // Exactly at the limit: kept bare. One more: cut and hashed.
        let limit = MAX_COMPONENT_CHARS - DATE_CHARS - 1 - MAX_EXTENSION_CHARS;
        assert_eq!(db_part(&"a".repeat(limit)), "a".repeat(limit));
        assert!(db_part(&"a".repeat(limit + 1)).contains('~'));
        assert_eq!(safe_component(&long).chars().count(), MAX_COMPONENT_CHARS);

        // Multi-byte and non-BMP characters are cut on a character boundary, within both bounds.
        for unit in ["é", "日", "😀"] {
            let long = unit.repeat(300);
            for ext in EXTENSIONS {
                let file = backup_file_name(&long, at(), ext);
                assert_eq!(invalid_because(&file), None, "{file}");
            }
            assert!(db_part(&long).ends_with(&format!("~{}", hash8(&long))));
        }
    }

    #[test]
    fn odd_extensions() {
        assert_eq!(backup_file_name("a", at(), "."), "a-2026-11-21-134501");
        assert_eq!(backup_file_name("a", at(), "tar.gz"), "a-2026-11-21-134501.tar.gz");
        assert_eq!(backup_file_name("a", at(), "b/c:d"), "a-2026-11-21-134501.b_c_d");
        assert_eq!(backup_file_name("a", at(), "x."), "a-2026-11-21-134501.x_");
        assert_eq!(
            backup_file_name("a", at(), "averyveryverylongextension"),
            "a-2026-11-21-134501.averyveryv"
        );
    }

    #[test]
    fn dates_outside_four_digit_years_are_clamped() {
        let far = NaiveDate::from_ymd_opt(12345, 6, 7).unwrap().and_hms_opt(8, 9, 10).unwrap();
        assert_eq!(backup_stem("a", far), "a-9999-06-07-080910");
        let old = NaiveDate::from_ymd_opt(-44, 3, 15).unwrap().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(backup_stem("a", old), "a-0000-03-15-000000");
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1500)
            .unwrap();
        assert_eq!(backup_stem("a", leap), "a-2016-12-31-235959");
    }

    #[test]
    fn windows_path_budget() {
        assert!(fits_windows_path(Path::new(r"C:\Users\someone\Documents\Lifeboat backups")));
        let limit = WINDOWS_MAX_PATH
            - 1
            - 1
            - MAX_COMPONENT_CHARS
            - SIDECAR_SUFFIX.len()
            - TEMP_SUFFIX_MAX_CHARS;
        assert_eq!(limit, 128);
        let at_limit = format!(r"C:\{}", "d".repeat(limit - 3));
        assert!(fits_windows_path(Path::new(&at_limit)));
        let over = format!(r"C:\{}", "d".repeat(limit - 2));
        assert!(!fits_windows_path(Path::new(&over)));
        // Non-BMP characters count as two UTF-16 units.
        let emoji = format!(r"C:\{}", "😀".repeat(limit / 2));
        assert!(!fits_windows_path(Path::new(&emoji)));
        assert!(fits_windows_path(Path::new("")));
    }
}
