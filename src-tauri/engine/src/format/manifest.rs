//! The manifest `<stem>.lifeboat.json` written next to every backup: what was dumped, how, the
//! sha256 of every file, and the baseline (row counts, sequences, extensions, object counts) a
//! restore drill compares against. Everything a later restore needs, without Lifeboat's store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::format::compression::Compression;

/// The manifest's own format; bump when its meaning changes.
/// 2: object counts leave out NOT NULL constraints and the public schema.
/// 3: row counts are `FROM ONLY` (what the dump carries for each table), and the tables,
///    sequences and extensions are those the backup's scope carries, not the whole database's.
pub const MANIFEST_VERSION: u32 = 3;
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
    /// Extensions a `--schema` or `--table` backup carries all the same (pg_dump
    /// `--extension`): those its kept objects need. Such a backup carries no other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

impl BackupScope {
    /// Whether pg_dump picks objects by name (`--schema`, `--table`): it then leaves out every
    /// database-wide object, extensions but those of [`Self::extensions`] included.
    pub fn names_objects(&self) -> bool {
        !self.schemas.is_empty() || !self.tables.is_empty()
    }

    /// Every object of the database (data or not): its object counts describe the backup.
    pub fn is_whole(&self) -> bool {
        self.schemas.is_empty()
            && self.exclude_schemas.is_empty()
            && self.tables.is_empty()
            && self.exclude_tables.is_empty()
            && !self.data_only
    }

    /// Whether pg_dump with these options carries the table (its definition or its data).
    /// As measured with pg_dump 14 and 18: `--table` selects regardless of `--schema` /
    /// `--exclude-schema`; `--exclude-table` wins over everything.
    pub fn carries_table(&self, schema: &str, table: &str) -> bool {
        let selected = if self.tables.is_empty() {
            self.carries_schema(schema)
        } else {
            self.tables.iter().any(|spec| names(spec, schema, table))
        };
        selected && !self.exclude_tables.iter().any(|spec| names(spec, schema, table))
    }

    /// Whether the schema's own objects are selected (ignoring table filters).
    pub fn carries_schema(&self, schema: &str) -> bool {
        (self.schemas.is_empty() || self.schemas.iter().any(|s| s == schema))
            && !self.exclude_schemas.iter().any(|s| s == schema)
    }

    /// Whether pg_dump carries the sequence. Measured with pg_dump 14 and 18: with `--table`
    /// only the sequences a selected table owns (serial or identity) or that are named
    /// themselves; otherwise those of the selected schemas, except that an identity sequence
    /// goes with its table (`--exclude-table` drops it) while a serial one stays.
    pub fn carries_sequence(
        &self,
        schema: &str,
        name: &str,
        owner: Option<&SequenceOwner>,
    ) -> bool {
        if self.exclude_tables.iter().any(|spec| names(spec, schema, name)) {
            return false;
        }
        let owner_carried = || owner.is_some_and(|o| self.carries_table(&o.schema, &o.table));
        if !self.tables.is_empty() {
            return self.tables.iter().any(|spec| names(spec, schema, name)) || owner_carried();
        }
        match owner {
            Some(o) if o.identity => owner_carried(),
            _ => self.carries_schema(schema),
        }
    }

    /// Whether the dump carries `CREATE EXTENSION`. pg_dump writes extensions only when it
    /// dumps "everything": never with `--schema` (even of the extension's own schema),
    /// `--table`, `--data-only` or one file per schema; `--exclude-schema` does not drop them.
    pub fn carries_extensions(&self, per_schema: bool) -> bool {
        self.schemas.is_empty() && self.tables.is_empty() && !self.data_only && !per_schema
    }

    /// Whether pg_dump carries the extension `name` (with one file per schema: every file).
    pub fn carries_extension(&self, name: &str, per_schema: bool) -> bool {
        self.carries_extensions(per_schema)
            || ((self.names_objects() || per_schema)
                && !self.data_only
                && self.extensions.iter().any(|e| e == name))
    }
}

/// The table that owns a sequence (`OWNED BY` of a serial, or an identity column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceOwner {
    pub schema: String,
    pub table: String,
    /// An identity column's sequence, dumped as part of its table.
    pub identity: bool,
}

/// `schema.table` → (schema, table); a bare name is in `public`.
pub fn split_table(spec: &str) -> (&str, &str) {
    spec.split_once('.').unwrap_or(("public", spec))
}

/// Whether a `--table` / `--exclude-table` entry names this relation.
fn names(spec: &str, schema: &str, relation: &str) -> bool {
    split_table(spec) == (schema, relation)
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
    /// Exact `count(*) FROM ONLY` in the dump's snapshot: the rows the dump carries for this
    /// table, without inheritance children (0 for a partitioned parent, whose partitions are
    /// listed themselves); manifests before version 3 counted the children too. Absent for
    /// schema-only backups.
    pub rows: Option<i64>,
    /// Roles named by the rows themselves (values of `regrole` columns): a `COPY` of this
    /// table fails where one of them does not exist. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_in_data: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SequenceValue {
    pub schema: String,
    pub name: String,
    /// Absent when the sequence was never used, and (from version 3) in schema-only backups,
    /// which carry no sequence values.
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
    /// `METHOD:LEVEL` as pg_dump applied it (`zstd:4`, `gzip:6`, `none`); manifests written
    /// before the level was recorded say only the method. See [`Manifest::compression_used`].
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
    /// The database's own settings and comment. Absent in manifests written before they were
    /// recorded: a drill then says it could not compare them.
    #[serde(default)]
    pub database_settings: Option<DatabaseSettings>,
    /// Objects left out so that the backup restores on its own (`leave_out_dependents`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<DependentLeftOut>,
}

impl Manifest {
    /// The compression the dump was written with; `None` when the manifest names a method
    /// this version does not know.
    pub fn compression_used(&self) -> Option<Compression> {
        Compression::from_manifest(&self.compression)
    }
}

/// An object a backup leaves out because it needs what the backup's scope leaves out, and that
/// pg_dump cannot leave out itself (a trigger, a function, a column default): the manifest
/// names it and every Lifeboat restore of the backup leaves it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DependentLeftOut {
    pub kind: String,
    pub schema: Option<String>,
    /// The archive entry's name ("orders orders_audit" for a trigger on orders).
    pub name: String,
    /// What it needs, e.g. "FUNCTION audit.log_change()".
    pub needs: String,
    /// Of a backup of one file per schema: the schema whose file leaves it out (each file is
    /// restored on its own; another file may carry what it needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_schema: Option<String>,
}

impl DependentLeftOut {
    /// Whether the archive entry of `kind`, `schema` and `name` is this object.
    pub fn is(&self, kind: &str, schema: Option<&str>, name: &str) -> bool {
        self.kind == kind && self.schema.as_deref() == schema && self.name == name
    }
}

/// What belongs to the database itself rather than to anything in it: pg_dump writes these
/// only with `--create`, which a restore into a new or chosen database does not use, so
/// Lifeboat records them and a restore re-applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSettings {
    /// `ALTER DATABASE … SET` values as `pg_db_role_setting.setconfig` stores them:
    /// `name=value`, a list setting's elements already quoted (`search_path="$user", public`).
    #[serde(default)]
    pub settings: Vec<String>,
    /// `ALTER ROLE … IN DATABASE … SET` values, per role.
    #[serde(default)]
    pub role_settings: Vec<RoleSettings>,
    /// `COMMENT ON DATABASE`.
    #[serde(default)]
    pub comment: Option<String>,
}

/// One role's settings in this database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoleSettings {
    pub role: String,
    /// `name=value`, as for the database.
    pub settings: Vec<String>,
}

impl DatabaseSettings {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.role_settings.is_empty() && self.comment.is_none()
    }
}

/// A `setconfig` entry `name=value` split at its first `=` (a name never holds one).
pub fn split_setting(entry: &str) -> (&str, &str) {
    entry.split_once('=').unwrap_or((entry, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(schema: &str, table: &str, identity: bool) -> SequenceOwner {
        SequenceOwner { schema: schema.into(), table: table.into(), identity }
    }

    #[test]
    fn tables_follow_pg_dumps_selection() {
        let whole = BackupScope::default();
        assert!(whole.carries_table("sales", "orders"));
        let one = BackupScope { tables: vec!["sales.orders".into()], ..Default::default() };
        assert!(one.carries_table("sales", "orders") && !one.carries_table("sales", "events"));
        // --table selects regardless of --exclude-schema; --exclude-table wins.
        let both = BackupScope {
            tables: vec!["sales.orders".into(), "t".into()],
            exclude_schemas: vec!["sales".into()],
            exclude_tables: vec!["public.t".into()],
            ..Default::default()
        };
        assert!(both.carries_table("sales", "orders") && !both.carries_table("public", "t"));
        let schema = BackupScope { schemas: vec!["sales".into()], ..Default::default() };
        assert!(schema.carries_table("sales", "x") && !schema.carries_table("public", "x"));
    }

    #[test]
    fn sequences_go_with_their_table_or_their_schema_as_pg_dump_does() {
        let serial = owner("public", "animals", false);
        let identity = owner("sales", "events", true);
        let one = BackupScope { tables: vec!["animals".into()], ..Default::default() };
        assert!(one.carries_sequence("public", "animals_id_seq", Some(&serial)));
        assert!(!one.carries_sequence("public", "standalone", None));
        assert!(!one.carries_sequence("sales", "events_id_seq", Some(&identity)));
        let named = BackupScope { tables: vec!["public.standalone".into()], ..Default::default() };
        assert!(named.carries_sequence("public", "standalone", None));

        let without = BackupScope {
            exclude_tables: vec!["public.animals".into(), "sales.events".into()],
            ..Default::default()
        };
        assert!(without.carries_sequence("public", "animals_id_seq", Some(&serial)));
        assert!(!without.carries_sequence("sales", "events_id_seq", Some(&identity)));
        assert!(without.carries_sequence("public", "standalone", None));

        let schema = BackupScope { schemas: vec!["sales".into()], ..Default::default() };
        assert!(schema.carries_sequence("sales", "events_id_seq", Some(&identity)));
        assert!(!schema.carries_sequence("public", "standalone", None));
        let data = BackupScope { data_only: true, ..Default::default() };
        assert!(data.carries_sequence("sales", "events_id_seq", Some(&identity)));
    }

    #[test]
    fn extensions_only_come_with_everything() {
        assert!(BackupScope::default().carries_extensions(false));
        assert!(!BackupScope::default().carries_extensions(true));
        let excluded = BackupScope { exclude_schemas: vec!["ext".into()], ..Default::default() };
        assert!(excluded.carries_extensions(false));
        let schema_only = BackupScope { schema_only: true, ..Default::default() };
        assert!(schema_only.carries_extensions(false));
        for scope in [
            BackupScope { schemas: vec!["ext".into()], ..Default::default() },
            BackupScope { tables: vec!["t".into()], ..Default::default() },
            BackupScope { data_only: true, ..Default::default() },
        ] {
            assert!(!scope.carries_extensions(false), "{scope:?}");
        }
    }
}
