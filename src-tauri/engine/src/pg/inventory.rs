//! What a database holds, read the same way when a backup records its baseline and when a drill
//! compares a restored copy with it.

use std::collections::{BTreeMap, HashSet};

use tokio_postgres::Client;

use crate::base::error::Result;
use crate::pg::connect::{query_error, server_version};
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

/// Tables counted by one query: large enough that round trips stop mattering, small enough
/// that a query's text stays a few kilobytes.
pub(crate) const COUNT_BATCH: usize = 100;

/// `SELECT (SELECT count(*) FROM ONLY a), (SELECT count(*) FROM ONLY b) …`: one row, one
/// column per table, each counted as [`count_rows_sql`] counts it alone.
pub(crate) fn count_batch_sql<'a>(
    tables: impl IntoIterator<Item = (&'a str, &'a str)>,
    counting: Counting,
) -> String {
    let columns: Vec<String> = tables
        .into_iter()
        .map(|(schema, table)| format!("({})", count_rows_sql(schema, table, counting)))
        .collect();
    format!("SELECT {}", columns.join(", "))
}

/// The rows of each of `tables` (schema, table), counted by one [`count_batch_sql`] query.
pub(crate) async fn count_batch<'a>(
    client: &impl tokio_postgres::GenericClient,
    tables: impl IntoIterator<Item = (&'a str, &'a str)>,
    counting: Counting,
) -> std::result::Result<Vec<i64>, tokio_postgres::Error> {
    let row = client.query_one(&count_batch_sql(tables, counting), &[]).await?;
    Ok((0..row.len()).map(|i| row.get::<_, i64>(i)).collect())
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

/// What the connected user can set on a database of this server (`ALTER DATABASE … SET`,
/// `ALTER ROLE … IN DATABASE … SET`). A restore leaves out what it cannot set, and a drill does
/// not expect it: both decide with [`SettingsReach::skip_reason`].
/// Who sets the settings: the server's major and the user's powers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettingsUser {
    pub major: u32,
    pub superuser: bool,
    pub createrole: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SettingsReach {
    /// The settings the server knows.
    pub known: HashSet<String>,
    /// Superuser-only settings the user may not set (lowercase): not a superuser and, from
    /// PostgreSQL 15, not granted `SET` on them.
    pub superuser_only: HashSet<String>,
    /// The roles on the server.
    pub roles: HashSet<String>,
    /// Whether the user may set other roles' settings (a superuser, or CREATEROLE).
    pub role_settings: bool,
    /// Whether the user may set custom `prefix.name` settings no module defines: from
    /// PostgreSQL 15 only a superuser (or a user granted SET on that name) may.
    pub placeholders: bool,
}

impl SettingsReach {
    /// Reads everything from the server (the drill's comparison).
    pub(crate) async fn read(client: &Client) -> Result<SettingsReach> {
        let q = |e: tokio_postgres::Error| query_error(&e);
        let major = server_version(client).await?.major();
        let me = client
            .query_one(
                "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .map_err(q)?;
        let known = client.query("SELECT name FROM pg_settings", &[]).await.map_err(q)?;
        let roles = client.query("SELECT rolname::text FROM pg_roles", &[]).await.map_err(q)?;
        let user = SettingsUser { major, superuser: me.get(0), createrole: me.get(1) };
        SettingsReach::complete(client, user, first_column(known), first_column(roles)).await
    }

    /// From what the caller read already (the restore's target facts): asks the server only
    /// which superuser-only settings the user may not set.
    pub(crate) async fn complete(
        client: &Client,
        user: SettingsUser,
        known: HashSet<String>,
        roles: HashSet<String>,
    ) -> Result<SettingsReach> {
        let granted =
            if user.major >= 15 { " AND NOT has_parameter_privilege(name, 'SET')" } else { "" };
        let superuser_only = if user.superuser {
            HashSet::new()
        } else {
            let sql = format!("SELECT name FROM pg_settings WHERE context = 'superuser'{granted}");
            let rows = client.query(&sql, &[]).await.map_err(|e| query_error(&e))?;
            first_column(rows).into_iter().map(|n| n.to_lowercase()).collect()
        };
        Ok(SettingsReach {
            known,
            superuser_only,
            roles,
            role_settings: user.superuser || user.createrole,
            placeholders: user.superuser || user.major < 15,
        })
    }

    /// Why the setting `name` (of `role`, or database-wide) cannot be set here; `also_roles`
    /// will exist by then too (those a restore creates).
    pub(crate) fn skip_reason(
        &self,
        role: Option<&str>,
        name: &str,
        also_roles: &HashSet<String>,
    ) -> Option<&'static str> {
        let defined = self.known.iter().any(|k| k.eq_ignore_ascii_case(name));
        let placeholder = !defined && name.contains('.');
        match role {
            _ if !defined && !placeholder => Some("this server does not know the setting"),
            _ if placeholder && !self.placeholders => {
                Some("only a superuser may set custom settings here")
            }
            _ if self.superuser_only.contains(&name.to_lowercase()) => {
                Some("only a superuser may set it here")
            }
            Some(role) if !self.roles.contains(role) && !also_roles.contains(role) => {
                Some("the role does not exist on this server")
            }
            Some(_) if !self.role_settings => {
                Some("setting another role's values needs a superuser or CREATEROLE")
            }
            _ => None,
        }
    }
}

fn first_column(rows: Vec<tokio_postgres::Row>) -> HashSet<String> {
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}
