//! Step 3: the restored scratch database against the baseline the backup recorded in its
//! manifest.

use std::collections::{BTreeMap, HashSet};

use tokio_postgres::Client;

use super::{DrillCheck, text_column};
use crate::base::error::Result;
use crate::format::archive::FoundManifest;
use crate::format::manifest::{DatabaseSettings, Manifest, TableRows, split_setting};
use crate::ops::backup::database_settings;
use crate::pg::connect::query_error;
use crate::pg::inventory::{
    self, COUNT_BATCH, Counting, SettingsReach, count_batch, count_rows_sql,
};

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

/// Step 3's checks: tables and rows, sequences, extensions, (for a whole-database backup)
/// object counts, the database's own settings and comment; then the comparisons an older
/// manifest does not allow, named as skipped.
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
    checks.extend(settings_checks(client, manifest).await?);
    checks.extend(comparable.skipped_checks());
    Ok(checks)
}

/// The database's own settings and comment, as the restore set them on the scratch database.
async fn settings_checks(client: &Client, manifest: &Manifest) -> Result<Vec<DrillCheck>> {
    let Some(recorded) = &manifest.database_settings else {
        return Ok(vec![DrillCheck {
            name: "database settings".into(),
            passed: true,
            expected: "not recorded".into(),
            actual: "skipped: the manifest was written before Lifeboat recorded the database's \
                     own settings and comment"
                .into(),
        }]);
    };
    let restored = database_settings(client).await?;
    let reach = SettingsReach::read(client).await?;
    Ok(compare_settings(recorded, &restored, &reach))
}

/// Every recorded setting with the same value on the restored copy, and the same comment.
/// What the restore could not set here it left out and named ([`SettingsReach::skip_reason`],
/// decided alike): passed checks that say they were skipped.
fn compare_settings(
    recorded: &DatabaseSettings,
    restored: &DatabaseSettings,
    reach: &SettingsReach,
) -> Vec<DrillCheck> {
    let restored_value = |role: Option<&str>, name: &str| -> Option<String> {
        let entries = match role {
            None => Some(&restored.settings),
            Some(role) => {
                restored.role_settings.iter().find(|r| r.role == role).map(|r| &r.settings)
            }
        };
        entries?
            .iter()
            .map(|e| split_setting(e))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_owned())
    };
    let entries = recorded.settings.iter().map(|e| (None, e));
    let role_entries = recorded
        .role_settings
        .iter()
        .flat_map(|r| r.settings.iter().map(move |e| (Some(r.role.as_str()), e)));
    let mut checks = Vec::new();
    for (role, entry) in entries.chain(role_entries) {
        let (name, value) = split_setting(entry);
        let name_text = match role {
            None => format!("database setting {name}"),
            Some(role) => format!("database setting {name} for role {role}"),
        };
        let skipped = reach.skip_reason(role, name, &HashSet::new());
        let (passed, actual) = match (skipped, restored_value(role, name)) {
            (Some(why), _) => (true, format!("skipped: {why}; the restore left it out")),
            (None, Some(actual)) => (actual == value, actual),
            (None, None) => (false, "not set".to_owned()),
        };
        checks.push(DrillCheck { name: name_text, passed, expected: value.to_owned(), actual });
    }
    if let Some(comment) = &recorded.comment {
        let actual = restored.comment.clone();
        checks.push(DrillCheck {
            name: "database comment".into(),
            passed: actual.as_ref() == Some(comment),
            expected: comment.clone(),
            actual: actual.unwrap_or_else(|| "none".into()),
        });
    }
    checks
}

/// Every table with exactly its recorded row count, counted as the manifest counted it.
async fn table_checks(
    client: &Client,
    manifest: &Manifest,
    counting: Option<Counting>,
) -> Result<Vec<DrillCheck>> {
    let counted = count_tables(client, &manifest.tables, counting.unwrap_or(Counting::Own)).await?;
    let mut checks = Vec::new();
    for (table, actual) in manifest.tables.iter().zip(counted) {
        let name = format!("{}.{}", table.schema, table.table);
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

/// The rows of each of `tables` in the restored copy, or `Err("missing")` for a table it lacks.
/// One query finds the tables that exist, and they are counted in batches (a database of 2,000
/// small tables pays for 20 counting queries, not 2,000 round trips). A batch that fails is
/// counted again table by table, so that each table's own error decides, as when each was
/// counted alone.
async fn count_tables(
    client: &Client,
    tables: &[TableRows],
    counting: Counting,
) -> Result<Vec<std::result::Result<i64, String>>> {
    let schemas: Vec<&str> = tables.iter().map(|t| t.schema.as_str()).collect();
    let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    let present: Vec<bool> = client
        .query(
            "SELECT to_regclass(format('%I.%I', s, t)) IS NOT NULL \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(s, t, i) ORDER BY i",
            &[&schemas, &names],
        )
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut counts: Vec<std::result::Result<i64, String>> =
        present.iter().map(|&found| if found { Ok(0) } else { Err("missing".into()) }).collect();
    let found: Vec<usize> = (0..tables.len()).filter(|&i| present[i]).collect();
    for batch in found.chunks(COUNT_BATCH) {
        let named = batch.iter().map(|&i| (tables[i].schema.as_str(), tables[i].table.as_str()));
        match count_batch(client, named, counting).await {
            Ok(rows) => {
                for (&i, rows) in batch.iter().zip(rows) {
                    counts[i] = Ok(rows);
                }
            }
            Err(_) => {
                for &i in batch {
                    counts[i] = count_one(client, &tables[i], counting).await?;
                }
            }
        }
    }
    Ok(counts)
}

/// One table's rows, `Err("missing")` when it does not exist.
async fn count_one(
    client: &Client,
    table: &TableRows,
    counting: Counting,
) -> Result<std::result::Result<i64, String>> {
    let sql = count_rows_sql(&table.schema, &table.table, counting);
    match client.query_one(&sql, &[]).await {
        Ok(row) => Ok(Ok(row.get::<_, i64>(0))),
        Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            Ok(Err("missing".to_owned()))
        }
        Err(error) => Err(query_error(&error)),
    }
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

    #[test]
    fn database_settings_must_match_except_those_the_server_could_not_take() {
        use crate::format::manifest::RoleSettings;
        let role = |role: &str, settings: &[&str]| RoleSettings {
            role: role.into(),
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        let recorded = DatabaseSettings {
            settings: vec![
                "TimeZone=Europe/Paris".into(),
                "search_path=app, public".into(),
                "io_method=worker".into(),
                "lc_messages=C".into(),
            ],
            role_settings: vec![role("app", &["work_mem=64MB"]), role("gone", &["work_mem=1MB"])],
            comment: Some("Shop".into()),
        };
        let reach = SettingsReach {
            known: ["TimeZone", "search_path", "work_mem", "lc_messages"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            superuser_only: ["lc_messages".to_owned()].into(),
            roles: ["app".to_owned()].into(),
            role_settings: true,
            placeholders: true,
        };
        let same = DatabaseSettings {
            settings: vec!["timezone=Europe/Paris".into(), "search_path=app, public".into()],
            role_settings: vec![role("app", &["work_mem=64MB"])],
            comment: Some("Shop".into()),
        };
        let checks = compare_settings(&recorded, &same, &reach);
        assert_eq!(checks.len(), 7);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        assert!(checks[2].actual.starts_with("skipped: this server does not know"));
        assert!(checks[3].actual.starts_with("skipped: only a superuser may set it"));
        assert!(checks[5].actual.starts_with("skipped: the role does not exist"));

        let changed = DatabaseSettings {
            settings: vec!["TimeZone=UTC".into()],
            role_settings: Vec::new(),
            comment: None,
        };
        let failed: Vec<String> = compare_settings(&recorded, &changed, &reach)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {} instead of {}", c.name, c.actual, c.expected))
            .collect();
        assert_eq!(
            failed,
            [
                "database setting TimeZone: UTC instead of Europe/Paris",
                "database setting search_path: not set instead of app, public",
                "database setting work_mem for role app: not set instead of 64MB",
                "database comment: none instead of Shop",
            ]
        );
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
