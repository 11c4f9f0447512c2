//! Databases as whole objects: creating, renaming and dropping them, naming one safely for the
//! tools.

use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::base::error::{Error, Result};
use crate::base::tools::ServerVersion;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;
use crate::util::quote::{quote_ident, quote_literal};

/// A libpq connection string naming only the database, so that no database name is ever taken
/// for a connection string or URI by pg_restore's `--dbname`.
pub(crate) fn conninfo_dbname(name: &str) -> String {
    format!("dbname='{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// What `CREATE DATABASE` did.
pub(crate) enum Created {
    Yes,
    /// A database of that name exists already: the server's error, for a caller that does not
    /// try another name.
    NameTaken(Error),
}

/// Creates the database `name` from `template0`, in `encoding` and owned by `owner` when given.
/// The encoding comes from the backup (its manifest or its `SET client_encoding`), so it is
/// refused unless it is a plain name (`[A-Za-z0-9_]+`), before anything is sent.
pub(crate) async fn create_database(
    client: &Client,
    name: &str,
    encoding: Option<&str>,
    owner: Option<&str>,
) -> Result<Created> {
    if let Some(encoding) = encoding {
        check_encoding(encoding)?;
    }
    let mut sql = format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(name));
    if let Some(encoding) = encoding {
        sql.push_str(&format!(" ENCODING {}", quote_literal(encoding)));
    }
    if let Some(owner) = owner {
        sql.push_str(&format!(" OWNER {}", quote_ident(owner)));
    }
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(Created::Yes),
        Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => {
            Ok(Created::NameTaken(query_error(&error)))
        }
        Err(error) => Err(query_error(&error)),
    }
}

/// An encoding name as PostgreSQL spells them (`UTF8`, `LATIN1`, `WIN1252`, `EUC_JP`): letters,
/// digits and underscores only.
pub(crate) fn check_encoding(encoding: &str) -> Result<()> {
    if !encoding.is_empty() && encoding.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    Err(Error::InvalidInput {
        field: "encoding",
        problem: format!(
            "the backup names the encoding {encoding:?}, which is not an encoding name; no \
             database was created"
        ),
    })
}

/// Creates each schema in `schemas` that the database lacks, owned by `owner` when given (the
/// role the restore runs as, which must be able to create in it). Returns those it created.
pub(crate) async fn create_schemas(
    client: &Client,
    schemas: &[String],
    owner: Option<&str>,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for schema in schemas {
        let exists = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1::text)",
                &[schema],
            )
            .await
            .map_err(|e| query_error(&e))?
            .get::<_, bool>(0);
        if exists {
            continue;
        }
        let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
        if let Some(owner) = owner {
            sql.push_str(&format!(" AUTHORIZATION {}", quote_ident(owner)));
        }
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))?;
        created.push(schema.clone());
    }
    Ok(created)
}

/// Drops schemas [`create_schemas`] created, when what was to fill them failed: only empty ones
/// (no `CASCADE`), so nothing restored meanwhile is ever dropped.
pub(crate) async fn drop_empty_schemas(client: &Client, schemas: &[String]) -> Result<()> {
    for schema in schemas {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {}", quote_ident(schema)))
            .await
            .map_err(|e| query_error(&e))?;
    }
    Ok(())
}

/// Renames the database `from` to `to`; with `end_sessions`, the sessions connected to `from`
/// are ended first (and again while they hold it).
pub(crate) async fn rename_database(
    client: &Client,
    from: &str,
    to: &str,
    end_sessions: bool,
) -> Result<()> {
    let sql = format!("ALTER DATABASE {} RENAME TO {}", quote_ident(from), quote_ident(to));
    if end_sessions {
        execute_ending_sessions(client, from, &sql).await
    } else {
        client.batch_execute(&sql).await.map_err(|e| query_error(&e))
    }
}

/// Drops a database this restore created, even while the killed tools' sessions are still
/// ending (`WITH (FORCE)` from PostgreSQL 13; before that, their sessions are ended first).
pub async fn drop_database(
    ctx: &Ctx,
    profile: &Profile,
    server: ServerVersion,
    name: &str,
) -> Result<()> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let quoted = quote_ident(name);
    if server.0 >= 130_000 {
        match client.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")).await
        {
            Ok(()) => return Ok(()),
            // FORCE refuses, for a role that is not a superuser, to end any session it may not
            // end: an autovacuum worker (which a large restore sets off) or a superuser's
            // session that is still closing (the practice server's superuser installs and
            // removes amcheck in a drill's scratch database). A plain DROP DATABASE ends
            // autovacuum workers itself; the other sessions are waited for below.
            Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {}
            Err(error) => return Err(query_error(&error)),
        }
    }
    execute_ending_sessions(&client, name, &format!("DROP DATABASE IF EXISTS {quoted}")).await
}

/// Runs `sql`, which needs `database` to itself: the other sessions on it are ended first, and
/// for ten seconds again each time one still holds it.
async fn execute_ending_sessions(client: &Client, database: &str, sql: &str) -> Result<()> {
    let mut tries = 0;
    loop {
        let _ = client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1::text AND pid <> pg_backend_pid()",
                &[&database],
            )
            .await;
        match client.batch_execute(sql).await {
            Ok(()) => return Ok(()),
            Err(error) if error.code() == Some(&SqlState::OBJECT_IN_USE) && tries < 40 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(error) => return Err(query_error(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_encoding_names_are_used() {
        for good in ["UTF8", "LATIN1", "WIN1252", "EUC_JP", "sql_ascii"] {
            assert!(check_encoding(good).is_ok(), "{good}");
        }
        for bad in ["", "UTF8; DROP DATABASE x", "UTF8'", "UTF-8", "LATIN1 LC_COLLATE 'C'", "ü"] {
            let error = check_encoding(bad).unwrap_err();
            assert_eq!(error.code(), crate::base::error::ErrorCode::InvalidInput, "{bad}");
        }
    }
}
