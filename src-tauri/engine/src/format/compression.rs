//! How a backup's dump is compressed: the methods, their levels, which pg_dump major allows
//! which method in which format, the default and why, and the text `METHOD[:LEVEL]` that the
//! CLI's `--compress` and the manifest's `compression` share.
//!
//! Measured with the bundled pg_dump 14–18 (`--compress=…` against a closed port, so that only
//! the option is judged):
//! - pg_dump 14 and 15 take only a gzip level (`--compress=0-9`, 0 meaning none);
//! - pg_dump 16+ take `METHOD[:LEVEL]` with gzip 1–9, lz4 1–12, zstd up to 22 (0 and negative
//!   levels mean zstd's default and its fast modes, which Lifeboat does not offer);
//! - every major refuses to compress the tar format ("compression is not supported by tar
//!   archive format"); only `0` / `none` passes.
//!
//! pg_dump can compress a plain SQL dump, but the result is a `.sql.gz`/`.sql.zst` that psql,
//! and so Lifeboat's restores and tests, cannot read; Lifeboat keeps plain dumps uncompressed.

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::format::manifest::BackupFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CompressionMethod {
    None,
    Gzip,
    Lz4,
    Zstd,
}

/// The first pg_dump major that compresses with lz4 and zstd.
pub const LZ4_ZSTD_SINCE: u32 = 16;

impl CompressionMethod {
    pub const ALL: [CompressionMethod; 4] = [
        CompressionMethod::Zstd,
        CompressionMethod::Gzip,
        CompressionMethod::Lz4,
        CompressionMethod::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompressionMethod::None => "none",
            CompressionMethod::Gzip => "gzip",
            CompressionMethod::Lz4 => "lz4",
            CompressionMethod::Zstd => "zstd",
        }
    }

    fn from_name(name: &str) -> Option<CompressionMethod> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The levels pg_dump accepts and the one it uses when none is given; none for `none`.
    /// lz4's own default (0) compresses exactly as level 1 does (both are lz4's fast mode).
    pub fn levels(self) -> Option<LevelRange> {
        match self {
            CompressionMethod::None => None,
            CompressionMethod::Gzip => Some(LevelRange { min: 1, max: 9, default: 6 }),
            CompressionMethod::Lz4 => Some(LevelRange { min: 1, max: 12, default: 1 }),
            // 4, not pg_dump's 3: on text, level 3 makes files about as large as gzip's default
            // (0.4 % larger in docs/benchmarks.md), level 4 smaller, at about 5x gzip's speed.
            CompressionMethod::Zstd => Some(LevelRange { min: 1, max: 22, default: 4 }),
        }
    }

    /// What the method is good for, in a few plain words.
    pub fn note(self) -> &'static str {
        match self {
            CompressionMethod::Zstd => "small files, fast; higher levels are smaller and slower",
            CompressionMethod::Gzip => "every PostgreSQL version reads it; slower than zstd",
            CompressionMethod::Lz4 => "the fastest, but larger files than zstd or gzip",
            CompressionMethod::None => "the largest files; only worth it on a fast, roomy disk",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LevelRange {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Compression {
    pub method: CompressionMethod,
    /// Absent: the method's own default level.
    pub level: Option<u32>,
}

impl std::fmt::Display for Compression {
    /// `METHOD[:LEVEL]`, as `--compress` takes it and the manifest records it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.level {
            Some(level) => write!(f, "{}:{level}", self.method.name()),
            None => f.write_str(self.method.name()),
        }
    }
}

impl Compression {
    pub const NONE: Compression = Compression { method: CompressionMethod::None, level: None };

    /// Reads `METHOD[:LEVEL]` (e.g. `zstd`, `zstd:9`, `gzip:6`, `none`) and checks the level
    /// against the method's range.
    pub fn parse(text: &str) -> Result<Compression> {
        let text = text.trim();
        let (name, level) = match text.split_once(':') {
            Some((name, level)) => (name, Some(level)),
            None => (text, None),
        };
        let method = CompressionMethod::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
            Error::InvalidInput {
                field: "compression",
                problem: format!(
                    "\"{name}\" is not a compression method; use zstd, gzip, lz4 or none, \
                     optionally with a level, e.g. zstd:9"
                ),
            }
        })?;
        let level = match level {
            None => None,
            Some(level) => Some(level.trim().parse::<i64>().map_err(|_| Error::InvalidInput {
                field: "compression",
                problem: format!("the level \"{level}\" is not a whole number"),
            })?),
        };
        let compression =
            Compression { method, level: level.map(|l| l.clamp(0, u32::MAX as i64) as u32) };
        match level {
            Some(l) if l < 0 || l > u32::MAX as i64 => Err(level_error(method, l)),
            _ => compression.check_level().map(|()| compression),
        }
    }

    /// Reads what a manifest records; manifests written before levels were recorded say only
    /// the method, anything unreadable is `None`.
    pub fn from_manifest(text: &str) -> Option<Compression> {
        let (name, level) = match text.split_once(':') {
            Some((name, level)) => (name, Some(level.parse().ok()?)),
            None => (text, None),
        };
        Some(Compression { method: CompressionMethod::from_name(name)?, level })
    }

    /// Refuses a level outside the method's range, or any level for `none`.
    pub fn check_level(self) -> Result<()> {
        match (self.level, self.method.levels()) {
            (Some(level), None) => Err(Error::CompressionLevelInvalid {
                method: self.method.name(),
                level: level.into(),
                levels: None,
            }),
            (Some(level), Some(range)) if level < range.min || level > range.max => {
                Err(level_error(self.method, level.into()))
            }
            _ => Ok(()),
        }
    }

    /// The same compression with Lifeboat's level for the method when none is given (pg_dump's
    /// own default but for zstd: [`CompressionMethod::levels`]); pg_dump is always given the
    /// level, and the manifest records it.
    pub fn resolved(self) -> Compression {
        Compression { level: self.level.or(self.method.levels().map(|r| r.default)), ..self }
    }

    /// The default for a format and pg_dump major: zstd where pg_dump has it (16+), gzip before;
    /// tar cannot be compressed by pg_dump; plain SQL stays readable.
    pub fn default_for(format: BackupFormat, pg_dump_major: u32) -> Compression {
        let method = match format {
            BackupFormat::Tar | BackupFormat::Plain => CompressionMethod::None,
            _ if pg_dump_major >= LZ4_ZSTD_SINCE => CompressionMethod::Zstd,
            _ => CompressionMethod::Gzip,
        };
        Compression { method, level: None }
    }

    /// Checks the method against the format and the pg_dump major, and the level against the
    /// method, then gives pg_dump's argument (with the level always spelled out).
    pub fn argument(self, format: BackupFormat, pg_dump_major: u32) -> Result<String> {
        self.check_level()?;
        if let Some(why) = refusal(self.method, format, pg_dump_major) {
            return Err(Error::CompressionUnavailable {
                method: self.method.name(),
                format: format.name(),
                pg_dump_major,
                why,
                allowed: allowed(format, pg_dump_major).iter().map(|m| m.name()).collect(),
            });
        }
        let resolved = self.resolved();
        Ok(if pg_dump_major < LZ4_ZSTD_SINCE {
            format!("--compress={}", resolved.level.unwrap_or(0))
        } else {
            format!("--compress={resolved}")
        })
    }
}

fn level_error(method: CompressionMethod, level: i64) -> Error {
    Error::CompressionLevelInvalid {
        method: method.name(),
        level,
        levels: method.levels().map(|r| (r.min, r.max, r.default)),
    }
}

/// Why pg_dump `pg_dump_major` cannot (or Lifeboat will not) write `format` with `method`.
pub fn refusal(
    method: CompressionMethod,
    format: BackupFormat,
    pg_dump_major: u32,
) -> Option<String> {
    if method == CompressionMethod::None {
        return None;
    }
    match format {
        BackupFormat::Tar => Some("pg_dump cannot compress the tar format".into()),
        BackupFormat::Plain => Some(
            "a compressed plain SQL file cannot be read by psql, so Lifeboat could neither \
             restore nor test it"
                .into(),
        ),
        _ if method != CompressionMethod::Gzip && pg_dump_major < LZ4_ZSTD_SINCE => Some(format!(
            "this server is backed up with pg_dump {pg_dump_major}, which compresses only with \
             gzip; lz4 and zstd need PostgreSQL {LZ4_ZSTD_SINCE} or newer"
        )),
        _ => None,
    }
}

/// The methods pg_dump `pg_dump_major` can use for `format`, the default first.
pub fn allowed(format: BackupFormat, pg_dump_major: u32) -> Vec<CompressionMethod> {
    let default = Compression::default_for(format, pg_dump_major).method;
    let mut methods = vec![default];
    methods.extend(
        CompressionMethod::ALL
            .into_iter()
            .filter(|m| *m != default && refusal(*m, format, pg_dump_major).is_none()),
    );
    methods
}

/// What the backup wizard offers for one format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FormatCompression {
    pub format: BackupFormat,
    /// The methods this format allows with this server's pg_dump, the default first.
    pub methods: Vec<MethodChoice>,
    pub default: Compression,
    /// Why the default is the default, in plain words.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MethodChoice {
    pub method: CompressionMethod,
    /// Absent for `none`.
    pub levels: Option<LevelRange>,
    pub note: String,
}

/// What can be chosen for each format with pg_dump `pg_dump_major`.
pub fn choices(pg_dump_major: u32) -> Vec<FormatCompression> {
    [BackupFormat::Custom, BackupFormat::Directory, BackupFormat::Tar, BackupFormat::Plain]
        .into_iter()
        .map(|format| FormatCompression {
            format,
            methods: allowed(format, pg_dump_major)
                .into_iter()
                .map(|method| MethodChoice {
                    method,
                    levels: method.levels(),
                    note: method.note().to_owned(),
                })
                .collect(),
            default: Compression::default_for(format, pg_dump_major),
            why: default_reason(format, pg_dump_major),
        })
        .collect()
}

/// Why the default for `format` is what it is, in plain words.
pub fn default_reason(format: BackupFormat, pg_dump_major: u32) -> String {
    match format {
        BackupFormat::Tar => "none: pg_dump cannot compress the tar format.".into(),
        BackupFormat::Plain => "none: the file stays SQL that psql reads directly, which is \
             how Lifeboat restores and tests it."
            .into(),
        _ if pg_dump_major >= LZ4_ZSTD_SINCE => format!(
            "zstd: about as small as gzip and several times faster; chosen because this \
             server's pg_dump ({pg_dump_major}) supports it."
        ),
        _ => format!(
            "gzip: the only compression pg_dump {pg_dump_major} has (this server's version); \
             zstd and lz4 need PostgreSQL {LZ4_ZSTD_SINCE} or newer."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ErrorCode;

    const FORMATS: [BackupFormat; 4] =
        [BackupFormat::Custom, BackupFormat::Directory, BackupFormat::Tar, BackupFormat::Plain];

    fn c(text: &str) -> Compression {
        Compression::parse(text).unwrap()
    }

    #[test]
    fn parses_method_and_level_and_refuses_levels_out_of_range() {
        assert_eq!(c("zstd"), Compression { method: CompressionMethod::Zstd, level: None });
        assert_eq!(c("ZSTD:19"), Compression { method: CompressionMethod::Zstd, level: Some(19) });
        assert_eq!(c("gzip:9").to_string(), "gzip:9");
        assert_eq!(c("lz4:12").to_string(), "lz4:12");
        assert_eq!(c("none"), Compression::NONE);
        for (text, code) in [
            ("brotli", ErrorCode::InvalidInput),
            ("zstd:fast", ErrorCode::InvalidInput),
            ("zstd:0", ErrorCode::InvalidInput),
            ("zstd:23", ErrorCode::InvalidInput),
            ("zstd:-5", ErrorCode::InvalidInput),
            ("gzip:0", ErrorCode::InvalidInput),
            ("gzip:10", ErrorCode::InvalidInput),
            ("lz4:13", ErrorCode::InvalidInput),
            ("none:3", ErrorCode::InvalidInput),
            ("zstd:99999999999", ErrorCode::InvalidInput),
        ] {
            let error = Compression::parse(text).unwrap_err();
            assert_eq!(error.code(), code, "{text}: {error}");
        }
        let error = Compression::parse("gzip:10").unwrap_err();
        assert_eq!(error.to_string(), "Compression level 10 is not valid for gzip.");
        assert!(error.hint().contains("1 to 9") && error.hint().contains("6"), "{}", error.hint());
        assert!(Compression::parse("none:3").unwrap_err().hint().contains("no level"));
    }

    #[test]
    fn reads_old_and_new_manifest_values() {
        assert_eq!(Compression::from_manifest("zstd"), Some(c("zstd")));
        assert_eq!(Compression::from_manifest("gzip:6"), Some(c("gzip:6")));
        assert_eq!(Compression::from_manifest("none"), Some(Compression::NONE));
        assert_eq!(Compression::from_manifest("bzip2"), None);
        assert_eq!(Compression::from_manifest("zstd:x"), None);
    }

    #[test]
    fn defaults_are_zstd_from_16_gzip_before_and_none_for_tar_and_plain() {
        for major in [14, 15] {
            assert_eq!(Compression::default_for(BackupFormat::Custom, major), c("gzip"));
            assert_eq!(Compression::default_for(BackupFormat::Directory, major), c("gzip"));
            assert!(default_reason(BackupFormat::Custom, major).starts_with("gzip"));
        }
        for major in [16, 17, 18] {
            assert_eq!(Compression::default_for(BackupFormat::Custom, major), c("zstd"));
            assert_eq!(Compression::default_for(BackupFormat::Directory, major), c("zstd"));
            let why = default_reason(BackupFormat::Custom, major);
            assert!(why.starts_with("zstd") && why.contains(&major.to_string()), "{why}");
        }
        for major in [14, 18] {
            assert_eq!(Compression::default_for(BackupFormat::Tar, major), Compression::NONE);
            assert_eq!(Compression::default_for(BackupFormat::Plain, major), Compression::NONE);
        }
    }

    #[test]
    fn allowed_methods_follow_format_and_major() {
        use CompressionMethod::{Gzip, Lz4, None as Plain, Zstd};
        assert_eq!(allowed(BackupFormat::Custom, 14), [Gzip, Plain]);
        assert_eq!(allowed(BackupFormat::Directory, 15), [Gzip, Plain]);
        assert_eq!(allowed(BackupFormat::Custom, 16), [Zstd, Gzip, Lz4, Plain]);
        assert_eq!(allowed(BackupFormat::Directory, 18), [Zstd, Gzip, Lz4, Plain]);
        for major in [14, 16, 18] {
            assert_eq!(allowed(BackupFormat::Tar, major), [Plain]);
            assert_eq!(allowed(BackupFormat::Plain, major), [Plain]);
        }
        // The wizard's list and the backup's check agree on every combination.
        for major in 14..=18 {
            for format in FORMATS {
                for method in CompressionMethod::ALL {
                    let compression = Compression { method, level: None };
                    assert_eq!(
                        compression.argument(format, major).is_ok(),
                        allowed(format, major).contains(&method),
                        "{major} {format:?} {method:?}"
                    );
                }
            }
            let offered = choices(major);
            assert_eq!(offered.len(), 4);
            for choice in offered {
                assert_eq!(choice.methods[0].method, choice.default.method);
            }
        }
    }

    #[test]
    fn pg_dump_arguments_spell_out_the_level() {
        assert_eq!(c("zstd").argument(BackupFormat::Custom, 17).unwrap(), "--compress=zstd:4");
        assert_eq!(c("zstd:9").argument(BackupFormat::Directory, 16).unwrap(), "--compress=zstd:9");
        assert_eq!(c("lz4").argument(BackupFormat::Custom, 18).unwrap(), "--compress=lz4:1");
        assert_eq!(c("gzip").argument(BackupFormat::Custom, 18).unwrap(), "--compress=gzip:6");
        assert_eq!(c("none").argument(BackupFormat::Custom, 18).unwrap(), "--compress=none");
        assert_eq!(c("none").argument(BackupFormat::Tar, 18).unwrap(), "--compress=none");
        // pg_dump 14 and 15 take a bare gzip level, 0 for none.
        assert_eq!(c("gzip").argument(BackupFormat::Custom, 14).unwrap(), "--compress=6");
        assert_eq!(c("gzip:2").argument(BackupFormat::Directory, 15).unwrap(), "--compress=2");
        assert_eq!(c("none").argument(BackupFormat::Tar, 14).unwrap(), "--compress=0");

        let refused = c("zstd").argument(BackupFormat::Custom, 14).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::CompressionUnavailable);
        assert!(refused.to_string().contains("pg_dump 14"), "{refused}");
        assert!(refused.hint().contains("gzip") && refused.hint().contains("none"));
        let tar = c("gzip").argument(BackupFormat::Tar, 18).unwrap_err();
        assert!(tar.to_string().contains("tar"), "{tar}");
        let plain = c("zstd").argument(BackupFormat::Plain, 18).unwrap_err();
        assert_eq!(plain.code(), ErrorCode::CompressionUnavailable);
        // A level out of range is refused before the method is judged.
        let level = Compression { method: CompressionMethod::Lz4, level: Some(40) };
        assert_eq!(
            level.argument(BackupFormat::Custom, 18).unwrap_err().code(),
            ErrorCode::InvalidInput
        );
    }

    #[test]
    fn resolved_fills_in_the_default_level() {
        assert_eq!(c("zstd").resolved(), c("zstd:4"));
        assert_eq!(c("gzip").resolved(), c("gzip:6"));
        assert_eq!(c("lz4").resolved(), c("lz4:1"));
        assert_eq!(c("zstd:7").resolved(), c("zstd:7"));
        assert_eq!(c("none").resolved(), Compression::NONE);
    }
}
