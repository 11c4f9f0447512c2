//! Step 3: the restored scratch database against the baseline the backup recorded in its
//! manifest.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::{DrillCheck, text_column};
use crate::base::error::Result;
use crate::format::archive::FoundManifest;
use crate::format::manifest::Manifest;
use crate::pg::connect::query_error;
use crate::pg::inventory;
use crate::util::quote::quote_ident;

/// The part of the manifest a drill can expect to find: of a one-file-per-schema backup, one
/// schema's file is tested, so only its schema is compared.
pub(super) fn tested_part(found: &FoundManifest) -> Manifest {
    let mut manifest = found.manifest.clone();
    let schemas: Vec<&str> = found.files.iter().filter_map(|file| file.schema.as_deref()).collect();
    if !schemas.is_empty() {
        manifest.tables.retain(|t| schemas.contains(&t.schema.as_str()));
        manifest.sequences.retain(|q| schemas.contains(&q.schema.as_str()));
        // pg_dump --schema dumps only the extensions installed in that schema.
        manifest.extensions.retain(|e| schemas.contains(&e.schema.as_str()));
    }
    manifest
}

/// Step 3's checks: tables and rows, sequences, extensions and (for a whole-database backup)
/// object counts.
pub(super) async fn compare(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let mut checks = table_checks(client, manifest).await?;
    checks.extend(sequence_checks(client, manifest).await?);
    checks.extend(extension_checks(client, manifest).await?);
    if manifest.scope.is_whole() && !manifest.per_schema {
        checks.extend(object_count_checks(client, manifest).await?);
    }
    Ok(checks)
}

/// Every table with exactly its recorded row count.
async fn table_checks(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let mut checks = Vec::new();
    for table in &manifest.tables {
        let name = format!("{}.{}", table.schema, table.table);
        let sql = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.table)
        );
        let actual = match client.query_one(&sql, &[]).await {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
            {
                Err("missing".to_owned())
            }
            Err(error) => return Err(query_error(&error)),
        };
        let (passed, expected, actual) = match (table.rows, actual) {
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

async fn sequence_checks(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
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
            Some(actual) => (*actual >= sequence.last_value, value(*actual)),
            None => (false, "missing".to_owned()),
        };
        let expected = match sequence.last_value {
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
