//! What a database holds, read the same way when a backup records its baseline and when a drill
//! compares a restored copy with it.

use std::collections::BTreeMap;

use crate::base::error::Result;
use crate::pg::connect::query_error;
use crate::util::quote::quote_ident;

/// How a table's rows are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counting {
    /// The table's own rows (`FROM ONLY`): what pg_dump carries for it.
    Own,
    /// With inheritance children and partitions, as manifests before version 3 counted.
    WithChildren,
}

/// The exact `count(*)` of one table, the same way for the baseline and for the drill.
pub(crate) fn count_rows_sql(schema: &str, table: &str, counting: Counting) -> String {
    let only = if counting == Counting::Own { "ONLY " } else { "" };
    format!("SELECT count(*) FROM {only}{}.{}", quote_ident(schema), quote_ident(table))
}

/// SQL condition on `pg_namespace n`: a user schema, not one that belongs to an extension.
pub(crate) const USER_NS: &str = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass \
    AND d.objid = n.oid AND d.deptype = 'e')";

/// Objects of the database by kind (user schemas only, nothing that belongs to an extension):
/// the manifest's baseline, and what a restore drill compares with it. NOT NULL constraints are
/// not counted: PostgreSQL 18 lists them as constraints, older servers do not.
pub(crate) async fn object_counts(
    client: &impl tokio_postgres::GenericClient,
) -> Result<BTreeMap<String, i64>> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let kinds = [
        (
            "tables",
            format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND {USER_NS} AND {}",
                not_extension("pg_class", "c")
            ),
        ),
        (
            "views",
            format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND {USER_NS} AND {}",
                not_extension("pg_class", "c")
            ),
        ),
        (
            "materialized_views",
            format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' AND {USER_NS}"
            ),
        ),
        (
            "sequences",
            format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {USER_NS} AND {}",
                not_extension("pg_class", "c")
            ),
        ),
        (
            "indexes",
            format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i','I') AND {USER_NS} AND {}",
                not_extension("pg_class", "c")
            ),
        ),
        (
            "functions",
            format!(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {}",
                not_extension("pg_proc", "p")
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {USER_NS}"
            ),
        ),
        (
            "constraints",
            format!(
                "SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE k.contype <> 'n' AND {USER_NS} AND {}",
                not_extension("pg_constraint", "k")
            ),
        ),
        // Without public: every new database has it, whether the backed-up one had it or not.
        (
            "schemas",
            format!(
                "SELECT count(*) FROM pg_namespace n WHERE n.nspname <> 'public' AND {USER_NS}"
            ),
        ),
    ];
    let mut counts = BTreeMap::new();
    for (kind, sql) in kinds {
        let count: i64 = client.query_one(&sql, &[]).await.map_err(q)?.get(0);
        counts.insert(kind.to_owned(), count);
    }
    Ok(counts)
}

/// SQL condition: the object `alias.oid` of catalog `class` does not belong to an extension.
pub(crate) fn not_extension(class: &str, alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{class}'::regclass \
         AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )
}
