//! The server tree: databases of a profile, schemas of a database, tables of a schema.
//! Each level is loaded on demand.

use serde::{Deserialize, Serialize};

use crate::base::error::Result;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::catalog;
use crate::storage::context::Ctx;
use crate::storage::profiles;

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct ListDatabases {
    pub profile: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseInfo {
    pub name: String,
    pub owner: String,
    pub encoding: String,
    /// Bytes; absent when the user may not connect to the database.
    pub size_bytes: Option<i64>,
    /// When the newest finished backup of this database was taken (RFC 3339).
    pub last_backup: Option<String>,
    /// When a backup of this database last passed a restore test (RFC 3339).
    pub last_successful_test: Option<String>,
    /// Whether the most recent restore test of a backup of this database failed.
    pub last_test_failed: bool,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct ListSchemas {
    pub profile: String,
    pub database: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SchemaInfo {
    pub name: String,
    pub table_count: i64,
    pub size_bytes: i64,
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct ListTables {
    pub profile: String,
    pub database: String,
    pub schema: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    pub name: String,
    /// The planner's estimate (`reltuples`), not an exact count.
    pub estimated_rows: i64,
    pub size_bytes: i64,
}

async fn client_for(
    ctx: &Ctx,
    profile: &str,
    database: Option<&str>,
) -> Result<tokio_postgres::Client> {
    let profile = profiles::find_profile(ctx, profile)?;
    let dbname = database.unwrap_or(&profile.settings.maintenance_db).to_owned();
    connect(&ConnectSpec::for_profile(ctx, &profile, &dbname)?).await
}

pub async fn list_databases(ctx: &Ctx, input: ListDatabases) -> Result<Vec<DatabaseInfo>> {
    let profile = profiles::find_profile(ctx, &input.profile)?;
    let client = client_for(ctx, &input.profile, None).await?;
    let rows = client
        .query(
            "SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, pg_encoding_to_char(d.encoding)::text, \
             CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END \
             FROM pg_database d WHERE NOT d.datistemplate AND d.datallowconn ORDER BY d.datname",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let mut databases = Vec::with_capacity(rows.len());
    for row in &rows {
        let name: String = row.get(0);
        let history = catalog::history(ctx, &profile.settings.host, profile.settings.port, &name)?;
        databases.push(DatabaseInfo {
            name,
            owner: row.get(1),
            encoding: row.get(2),
            size_bytes: row.get(3),
            last_backup: history.last_backup,
            last_successful_test: history.last_successful_test,
            last_test_failed: history.last_test_failed,
        });
    }
    Ok(databases)
}

pub async fn list_schemas(ctx: &Ctx, input: ListSchemas) -> Result<Vec<SchemaInfo>> {
    let client = client_for(ctx, &input.profile, Some(&input.database)).await?;
    let rows = client
        .query(
            "SELECT n.nspname::text, count(c.oid), coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
             FROM pg_namespace n \
             LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') \
             WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
             GROUP BY n.nspname ORDER BY n.nspname",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    Ok(rows
        .iter()
        .map(|row| SchemaInfo { name: row.get(0), table_count: row.get(1), size_bytes: row.get(2) })
        .collect())
}

pub async fn list_tables(ctx: &Ctx, input: ListTables) -> Result<Vec<TableInfo>> {
    let client = client_for(ctx, &input.profile, Some(&input.database)).await?;
    let rows = client
        .query(
            "SELECT c.relname::text, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            &[&input.schema],
        )
        .await
        .map_err(|e| query_error(&e))?;
    Ok(rows
        .iter()
        .map(|row| TableInfo {
            name: row.get(0),
            estimated_rows: row.get(1),
            size_bytes: row.get(2),
        })
        .collect())
}
