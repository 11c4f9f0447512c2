//! The manifest `<stem>.lifeboat.json` written next to every backup: what was dumped, how, the
//! sha256 of every file, and the baseline (row counts, sequences, extensions, object counts) a
//! restore drill compares against. Everything a later restore needs, without Lifeboat's store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's own format; bump when its meaning changes.
/// 2: object counts leave out NOT NULL constraints and the public schema.
pub const MANIFEST_VERSION: u32 = 2;
pub const MANIFEST_SUFFIX: &str = ".lifeboat.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupFormat {
    /// pg_dump -Fc: one compressed file, restorable selectively and in parallel.
    #[default]
    Custom,
    /// pg_dump -Fd: a folder, dumped and restored in parallel.
    Directory,
    Tar,
    /// Plain SQL, readable and runnable with psql.
    Plain,
}

impl BackupFormat {
    /// The name the manifest, the catalog and the CLI use: "custom", "directory", "tar", "plain".
    pub fn name(self) -> &'static str {
        match self {
            BackupFormat::Custom => "custom",
            BackupFormat::Directory => "directory",
            BackupFormat::Tar => "tar",
            BackupFormat::Plain => "plain",
        }
    }

    /// pg_dump's `--format` argument.
    pub fn flag(self) -> &'static str {
        match self {
            BackupFormat::Custom => "--format=custom",
            BackupFormat::Directory => "--format=directory",
            BackupFormat::Tar => "--format=tar",
            BackupFormat::Plain => "--format=plain",
        }
    }

    /// The file extension; a directory backup has none.
    pub fn extension(self) -> &'static str {
        match self {
            BackupFormat::Custom => "backup",
            BackupFormat::Directory => "",
            BackupFormat::Tar => "tar",
            BackupFormat::Plain => "sql",
        }
    }
}

/// What part of the database a backup holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupScope {
    /// Only these schemas (empty: all).
    pub schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    /// Only these tables, as `schema.table` (empty: all).
    pub tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    pub data_only: bool,
    pub schema_only: bool,
}

impl BackupScope {
    /// Every object of the database (data or not): its object counts describe the backup.
    pub fn is_whole(&self) -> bool {
        self.schemas.is_empty()
            && self.exclude_schemas.is_empty()
            && self.tables.is_empty()
            && self.exclude_tables.is_empty()
            && !self.data_only
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    /// Path relative to the destination folder, with `/` separators.
    pub name: String,
    /// "dump" or "globals".
    pub role: String,
    /// For a per-schema backup, the schema this file holds.
    pub schema: Option<String>,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TableRows {
    pub schema: String,
    pub table: String,
    /// Exact `count(*)` in the dump's snapshot; absent for schema-only backups.
    pub rows: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SequenceValue {
    pub schema: String,
    pub name: String,
    /// Absent when the sequence was never used.
    pub last_value: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionInfo {
    pub name: String,
    pub version: String,
    pub schema: String,
}

/// Everything a later restore or restore test needs, without Lifeboat's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub manifest_version: u32,
    pub app_version: String,
    pub pg_dump_version: String,
    pub server_version: String,
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub encoding: String,
    pub collate: String,
    pub ctype: String,
    pub format: BackupFormat,
    pub compression: String,
    pub scope: BackupScope,
    pub per_schema: bool,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub size_bytes: u64,
    /// The database's size on the server when it was backed up (`pg_database_size`), for the
    /// disk space a restore needs. Absent in manifests of earlier versions.
    #[serde(default)]
    pub database_bytes: Option<u64>,
    pub files: Vec<ManifestFile>,
    pub extensions: Vec<ExtensionInfo>,
    pub roles_referenced: Vec<String>,
    pub object_counts: BTreeMap<String, i64>,
    pub sequences: Vec<SequenceValue>,
    pub tables: Vec<TableRows>,
}
