//! Step 3: the restored scratch database against the baseline the backup recorded in its
//! manifest.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::{DrillCheck, text_column};
use crate::base::error::Result;
use crate::format::archive::FoundManifest;
use crate::format::manifest::Manifest;
use crate::pg::connect::query_error;
use crate::pg::inventory::{self, Counting, count_rows_sql};

/// The part of the manifest a drill can expect to find: of a one-file-per-schema backup, one
/// schema's file is tested, so only its schema is compared.
pub(super) fn tested_part(found: &FoundManifest) -> Manifest {
    let mut manifest = found.manifest.clone();
    let schemas: Vec<&str> = found.files.iter().filter_map(|file| file.schema.as_deref()).collect();
    if !schemas.is_empty() {
        manifest.tables.retain(|t| schemas.contains(&t.schema.as_str()));
        manifest.sequences.retain(|q| schemas.contains(&q.schema.as_str()));
        // pg_dump --schema carries no extensions: version 3 records none for such a backup,
        // and an older manifest's are skipped by `Comparable`.
        manifest.extensions.retain(|e| schemas.contains(&e.schema.as_str()));
    }
    manifest
}

/// How far a sequence's recorded value can be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SequenceCheck {
    /// At least the recorded value.
    Values,
    /// Only that it exists.
    Presence,
    Skipped,
}

/// What of a manifest's baseline a restored copy can be held to, given how the manifest's
/// version recorded it; what is not comparable is named in `skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparable {
    /// How rows are counted; `None`: the tables' presence only.
    rows: Option<Counting>,
    sequences: SequenceCheck,
    extensions: bool,
    skipped: Vec<(&'static str, &'static str)>,
}

impl Comparable {
    /// Version 3 records exactly what the dump carries. Version 2 counted rows with inheritance
    /// children and recorded the sequences and extensions of every selected schema, whatever
    /// pg_dump left out of the backup's scope.
    fn of(manifest: &Manifest) -> Comparable {
        let mut c = Comparable {
            rows: Some(Counting::Own),
            sequences: SequenceCheck::Values,
            extensions: true,
            skipped: Vec::new(),
        };
        if manifest.manifest_version >= 3 {
            return c;
        }
        let scope = &manifest.scope;
        let picks_tables = !scope.tables.is_empty() || !scope.exclude_tables.is_empty();
        c.rows = Some(Counting::WithChildren);
        if picks_tables {
            c.rows = None;
            c.skipped.push((
                "row counts",
                "a version 2 manifest counted inheritance children and partitions, which a \
                 backup with --table or --exclude-table may not carry; tables checked for \
                 presence only",
            ));
            c.sequences = SequenceCheck::Skipped;
            c.skipped.push((
                "sequences",
                "a version 2 manifest recorded every sequence of the schemas, not only those \
                 the selected tables carry",
            ));
        } else if scope.schema_only {
            c.sequences = SequenceCheck::Presence;
            c.skipped.push((
                "sequence values",
                "a schema-only dump carries none; sequences checked for presence only",
            ));
        }
        if !scope.carries_extensions(manifest.per_schema) {
            c.extensions = false;
            c.skipped.push((
                "extensions",
                "a version 2 manifest recorded the whole database's, which pg_dump leaves out \
                 of this backup's scope",
            ));
        }
        c
    }

    /// The comparisons left out, as passed checks that say why.
    fn skipped_checks(&self) -> impl Iterator<Item = DrillCheck> + '_ {
        self.skipped.iter().map(|(what, why)| DrillCheck {
            name: format!("{what} (manifest version 2)"),
            passed: true,
            expected: "not comparable".into(),
            actual: format!("skipped: {why}"),
        })
    }
}

/// Step 3's checks: tables and rows, sequences, extensions and (for a whole-database backup)
/// object counts; then the comparisons an older manifest does not allow, named as skipped.
pub(super) async fn compare(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let comparable = Comparable::of(manifest);
    let mut checks = table_checks(client, manifest, comparable.rows).await?;
    if comparable.sequences != SequenceCheck::Skipped {
        checks.extend(sequence_checks(client, manifest, comparable.sequences).await?);
    }
    if comparable.extensions {
        checks.extend(extension_checks(client, manifest).await?);
    }
    if manifest.scope.is_whole() && !manifest.per_schema {
        checks.extend(object_count_checks(client, manifest).await?);
    }
    checks.extend(comparable.skipped_checks());
    Ok(checks)
}

/// Every table with exactly its recorded row count, counted as the manifest counted it.
async fn table_checks(
    client: &Client,
    manifest: &Manifest,
    counting: Option<Counting>,
) -> Result<Vec<DrillCheck>> {
    let mut checks = Vec::new();
    for table in &manifest.tables {
        let name = format!("{}.{}", table.schema, table.table);
        let sql = count_rows_sql(&table.schema, &table.table, counting.unwrap_or(Counting::Own));
        let actual = match client.query_one(&sql, &[]).await {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
            {
                Err("missing".to_owned())
            }
            Err(error) => return Err(query_error(&error)),
        };
        let recorded = table.rows.filter(|_| counting.is_some());
        let (passed, expected, actual) = match (recorded, actual) {
            (Some(rows), Ok(count)) => (rows == count, rows_text(rows), rows_text(count)),
            // Schema-only backups record no row counts: the table must exist.
            (None, Ok(_)) => (true, "present".to_owned(), "present".to_owned()),
            (rows, Err(missing)) => {
                (false, rows.map(rows_text).unwrap_or("present".into()), missing)
            }
        };
        checks.push(DrillCheck { name: format!("table {name}"), passed, expected, actual });
    }
    Ok(checks)
}

fn rows_text(rows: i64) -> String {
    format!("{rows} row{}", if rows == 1 { "" } else { "s" })
}

async fn sequence_checks(
    client: &Client,
    manifest: &Manifest,
    how: SequenceCheck,
) -> Result<Vec<DrillCheck>> {
    let sequences: BTreeMap<(String, String), Option<i64>> = client
        .query("SELECT schemaname::text, sequencename::text, last_value FROM pg_sequences", &[])
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let value = |v: Option<i64>| v.map_or_else(|| "never used".to_owned(), |v| v.to_string());
    let mut checks = Vec::new();
    for sequence in &manifest.sequences {
        let key = (sequence.schema.clone(), sequence.name.clone());
        // Sequences are not transactional: pg_dump reads them a moment after the baseline was
        // taken, so a busy database may have moved them on, never back.
        let (passed, actual) = match sequences.get(&key) {
            Some(_) if how == SequenceCheck::Presence => (true, "present".to_owned()),
            Some(actual) => (*actual >= sequence.last_value, value(*actual)),
            None => (false, "missing".to_owned()),
        };
        let expected = match sequence.last_value {
            _ if how == SequenceCheck::Presence => "present".to_owned(),
            Some(v) => format!("at least {v}"),
            None => value(None),
        };
        checks.push(DrillCheck {
            name: format!("sequence {}.{}", sequence.schema, sequence.name),
            passed,
            expected,
            actual,
        });
    }
    Ok(checks)
}

async fn extension_checks(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let extensions = text_column(client, "SELECT extname::text FROM pg_extension").await?;
    Ok(manifest
        .extensions
        .iter()
        .map(|extension| {
            let present = extensions.contains(&extension.name);
            DrillCheck {
                name: format!("extension {}", extension.name),
                passed: present,
                expected: "present".into(),
                actual: if present { "present" } else { "missing" }.into(),
            }
        })
        .collect())
}

async fn object_count_checks(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let counts = inventory::object_counts(client).await?;
    let mut checks = Vec::new();
    for (kind, expected) in &manifest.object_counts {
        // Manifests before version 2 counted NOT NULL constraints (PostgreSQL 18) and the
        // public schema; those two counts are not comparable.
        if manifest.manifest_version < 2 && matches!(kind.as_str(), "constraints" | "schemas") {
            continue;
        }
        let Some(actual) = counts.get(kind) else { continue };
        checks.push(DrillCheck {
            name: format!("number of {}", kind.replace('_', " ")),
            passed: actual == expected,
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::BackupScope;

    fn manifest(version: u32, scope: BackupScope, per_schema: bool) -> Manifest {
        let json = serde_json::json!({
            "manifestVersion": version, "appVersion": "", "pgDumpVersion": "",
            "serverVersion": "", "profile": "", "host": "", "port": 5432, "database": "d",
            "encoding": "UTF8", "collate": "C", "ctype": "C", "format": "custom",
            "compression": "none", "scope": scope, "perSchema": per_schema, "startedAt": "",
            "finishedAt": "", "durationMs": 0, "sizeBytes": 0, "files": [], "extensions": [],
            "rolesReferenced": [], "objectCounts": {}, "sequences": [], "tables": []
        });
        serde_json::from_value(json).unwrap()
    }

    fn skipped(c: &Comparable) -> Vec<&str> {
        c.skipped.iter().map(|(what, _)| *what).collect()
    }

    #[test]
    fn a_current_manifest_is_compared_in_full_with_own_rows() {
        let scope = BackupScope { tables: vec!["t".into()], ..Default::default() };
        let c = Comparable::of(&manifest(crate::format::manifest::MANIFEST_VERSION, scope, false));
        assert_eq!(c.rows, Some(Counting::Own));
        assert_eq!(c.sequences, SequenceCheck::Values);
        assert!(c.extensions && c.skipped.is_empty());
    }

    #[test]
    fn a_version_2_manifest_is_compared_the_way_it_was_taken() {
        let whole = Comparable::of(&manifest(2, BackupScope::default(), false));
        assert_eq!(whole.rows, Some(Counting::WithChildren));
        assert!(whole.extensions && whole.skipped.is_empty());

        let table = BackupScope { tables: vec!["public.animals".into()], ..Default::default() };
        let c = Comparable::of(&manifest(2, table, false));
        assert_eq!((c.rows, c.sequences), (None, SequenceCheck::Skipped));
        assert_eq!(skipped(&c), ["row counts", "sequences", "extensions"]);
        assert!(
            c.skipped_checks().all(|check| check.passed && check.actual.starts_with("skipped"))
        );

        let schema = BackupScope { schemas: vec!["sales".into()], ..Default::default() };
        let c = Comparable::of(&manifest(2, schema, false));
        assert_eq!(c.rows, Some(Counting::WithChildren));
        assert_eq!(skipped(&c), ["extensions"]);

        let schema_only = BackupScope { schema_only: true, ..Default::default() };
        let c = Comparable::of(&manifest(2, schema_only, false));
        assert_eq!(c.sequences, SequenceCheck::Presence);
        assert_eq!(skipped(&c), ["sequence values"]);

        let c = Comparable::of(&manifest(2, BackupScope::default(), true));
        assert_eq!(skipped(&c), ["extensions"]);
    }
}
