//! Databases as whole objects: dropping one a restore or drill made, naming one safely for the
//! tools.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::base::error::{Error, Result};
use crate::base::tools::ServerVersion;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;
use crate::util::quote::quote_ident;

/// A libpq connection string naming only the database, so that no database name is ever taken
/// for a connection string or URI by pg_restore's `--dbname`.
pub(crate) fn conninfo_dbname(name: &str) -> String {
    format!("dbname='{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Drops a database this restore created, even while the killed tools' sessions are still
/// ending (`WITH (FORCE)` from PostgreSQL 13; before that, their sessions are ended first).
pub(crate) async fn drop_database(
    ctx: &Ctx,
    profile: &Profile,
    server: ServerVersion,
    name: &str,
) -> Result<()> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let quoted = quote_ident(name);
    if server.0 >= 130_000 {
        return client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            .await
            .map_err(|e| query_error(&e));
    }
    let mut last = None;
    for _ in 0..40 {
        let _ = client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1::text AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await;
        match client.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}")).await {
            Ok(()) => return Ok(()),
            Err(error) if error.code() == Some(&SqlState::OBJECT_IN_USE) => {
                last = Some(error);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => return Err(query_error(&error)),
        }
    }
    Err(last.map(|e| query_error(&e)).unwrap_or(Error::Query { detail: "database in use".into() }))
}
