//! Everything the plan needs to know about the target server, read up front in one go so that
//! the plan itself never asks the server anything.

use std::collections::HashSet;

use tokio_postgres::Client;

use crate::base::error::Result;
use crate::base::tools::{BundledMajor, ServerVersion};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::inventory;
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;

/// The names a request gives, checked: what the target facts are read about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Requested {
    /// The role to restore as (`SET ROLE`).
    pub role: Option<String>,
    /// The database named as the target.
    pub target: Option<String>,
    /// The database to replace.
    pub replace: Option<String>,
}

/// What the target server holds and allows.
#[derive(Debug, Clone)]
pub(super) struct TargetFacts {
    pub profile_name: String,
    pub maintenance_db: String,
    pub server: ServerVersion,
    pub server_version: String,
    /// The bundled tools that write into this server (its psql, its pg_restore).
    pub writer: BundledMajor,
    pub user: String,
    pub superuser: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub roles: HashSet<String>,
    /// The roles the user is a member of (and so may act as, or create objects owned by).
    pub member_of: HashSet<String>,
    /// What the user can set on a new database (for the database's own settings).
    pub settings_reach: inventory::SettingsReach,
    pub extensions: HashSet<String>,
    pub databases: HashSet<String>,
    /// What new databases get from `template0`.
    pub template: Template,
    /// The contents of the requested target database, when it exists.
    pub existing: Option<Contents>,
    /// The database to replace, when it exists.
    pub replaced: Option<Replaced>,
    pub disk: Disk,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Template {
    pub encoding: String,
    pub ctype: String,
    pub collate: String,
    /// Whether the locale provider is libc (its ctype decides which encodings are allowed).
    pub libc: bool,
}

/// The database a replace renames.
#[derive(Debug, Clone, Default)]
pub(super) struct Replaced {
    pub owner: String,
    /// The other sessions connected to it: (user, application), either may be empty.
    pub sessions: Vec<(String, String)>,
}

/// The free space on the server's disk, as far as Lifeboat can see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Disk {
    /// The server runs on another machine.
    Remote,
    /// The user may not read where the server keeps its data.
    Hidden,
    /// The data directory's free space could not be read.
    Unreadable,
    Free {
        data_directory: String,
        bytes: u64,
    },
}

/// What an existing database holds outside the system schemas and extensions.
#[derive(Debug, Clone, Default)]
pub(super) struct Contents {
    pub encoding: String,
    pub schemas: i64,
    pub relations: i64,
    pub functions: i64,
    pub types: i64,
    pub public_objects: i64,
}

impl Contents {
    pub fn is_empty(&self) -> bool {
        self.schemas + self.relations + self.functions + self.types == 0
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |n: i64, one: &str, many: &str| {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        add(self.relations, "table, view or sequence", "tables, views or sequences");
        add(self.functions, "function", "functions");
        add(self.types, "type", "types");
        add(self.schemas, "schema besides public", "schemas besides public");
        let mut text = parts.join(", ");
        if self.public_objects > 0 {
            text.push_str(&format!(" ({} of them in public)", self.public_objects));
        }
        text
    }
}

/// Reads every fact about the target: the server and user from the profile's maintenance
/// database, the requested target database's contents from itself.
pub(super) async fn read(
    ctx: &Ctx,
    profile: &Profile,
    requested: &Requested,
) -> Result<TargetFacts> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let mut facts = read_server(ctx, &client, profile).await?;
    if let Some(old) = &requested.replace
        && facts.databases.contains(old)
    {
        facts.replaced = Some(read_replaced(&client, old).await?);
    }
    if let Some(name) = &requested.target
        && facts.databases.contains(name)
    {
        let spec = ConnectSpec::for_profile(ctx, profile, name)?;
        facts.existing = Some(read_contents(&connect(&spec).await?).await?);
    }
    facts.disk = read_disk(&client, &profile.settings.host).await;
    Ok(facts)
}

async fn read_server(ctx: &Ctx, client: &Client, profile: &Profile) -> Result<TargetFacts> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
             current_user::text, r.rolsuper, r.rolcreatedb, r.rolcreaterole \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(q)?;
    let server = ServerVersion(row.get::<_, i32>(0).max(0) as u32);
    let writer = ctx.tools.for_restore(server)?.clone();
    let names = |rows: Vec<tokio_postgres::Row>| -> HashSet<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let role_rows = client
        .query("SELECT rolname::text, pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles", &[])
        .await
        .map_err(q)?;
    let member_of =
        role_rows.iter().filter(|r| r.get::<_, bool>(1)).map(|r| r.get::<_, String>(0)).collect();
    let settings = names(client.query("SELECT name FROM pg_settings", &[]).await.map_err(q)?);
    let mut roles = names(role_rows);
    // pg_dump writes an owner's newline as a space in the comments the plan reads its owners
    // from: a role whose name has one is also known by that spelling.
    let as_written: Vec<String> = roles
        .iter()
        .filter(|r| r.contains(['\n', '\r']))
        .map(|r| r.replace(['\n', '\r'], " "))
        .collect();
    roles.extend(as_written);
    let user = inventory::SettingsUser {
        major: server.major(),
        superuser: row.get(3),
        createrole: row.get(5),
    };
    let settings_reach =
        inventory::SettingsReach::complete(client, user, settings, roles.clone()).await?;
    let extensions = names(
        client.query("SELECT name::text FROM pg_available_extensions", &[]).await.map_err(q)?,
    );
    let databases =
        names(client.query("SELECT datname::text FROM pg_database", &[]).await.map_err(q)?);
    let provider = if server.major() >= 15 { "datlocprovider::text" } else { "'c'" };
    let template = client
        .query_one(
            &format!(
                "SELECT pg_encoding_to_char(encoding)::text, datctype::text, {provider}, \
                 datcollate::text \
                 FROM pg_database WHERE datname = 'template0'"
            ),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(TargetFacts {
        profile_name: profile.settings.name.clone(),
        maintenance_db: profile.settings.maintenance_db.clone(),
        server,
        server_version: row.get(1),
        writer,
        user: row.get(2),
        superuser: row.get(3),
        createdb: row.get(4),
        createrole: row.get(5),
        roles,
        member_of,
        settings_reach,
        extensions,
        databases,
        template: Template {
            encoding: template.get(0),
            ctype: template.get(1),
            collate: template.get(3),
            libc: template.get::<_, String>(2) == "c",
        },
        existing: None,
        replaced: None,
        disk: Disk::Remote,
    })
}

async fn read_replaced(client: &Client, old: &str) -> Result<Replaced> {
    let q = |e: tokio_postgres::Error| query_error(&e);
    let owner: String = client
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1::text",
            &[&old],
        )
        .await
        .map_err(q)?
        .get(0);
    let rows = client
        .query(
            "SELECT coalesce(usename::text, ''), coalesce(application_name, '') \
             FROM pg_stat_activity WHERE datname = $1::text AND pid <> pg_backend_pid()",
            &[&old],
        )
        .await
        .map_err(q)?;
    let sessions = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    Ok(Replaced { owner, sessions })
}

async fn read_contents(client: &Client) -> Result<Contents> {
    use crate::pg::inventory::{USER_NS, not_extension};
    let relations = format!(
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND {USER_NS} AND {}",
        not_extension("pg_class", "c")
    );
    let functions = format!(
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {}",
        not_extension("pg_proc", "p")
    );
    let types = format!(
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype IN ('b', 'd', 'e', 'm', 'r') AND t.typrelid = 0 AND t.typcategory <> 'A' \
         AND {USER_NS} AND {}",
        not_extension("pg_type", "t")
    );
    let sql = format!(
        "SELECT (SELECT pg_encoding_to_char(encoding)::text FROM pg_database \
                 WHERE datname = current_database()), \
         (SELECT count(*) FROM pg_namespace n WHERE n.nspname <> 'public' AND {USER_NS}), \
         (SELECT count(*) {relations}), (SELECT count(*) {functions}), (SELECT count(*) {types}), \
         (SELECT count(*) {relations} AND n.nspname = 'public') + \
         (SELECT count(*) {functions} AND n.nspname = 'public')"
    );
    let row = client.query_one(&sql, &[]).await.map_err(|e| query_error(&e))?;
    Ok(Contents {
        encoding: row.get(0),
        schemas: row.get(1),
        relations: row.get(2),
        functions: row.get(3),
        types: row.get(4),
        public_objects: row.get(5),
    })
}

/// Whether the server runs on this machine (so its data directory is on a disk Lifeboat sees).
fn is_local(host: &str) -> bool {
    host.is_empty()
        || host.starts_with('/')
        || matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
        || host.starts_with("127.")
}

async fn read_disk(client: &Client, host: &str) -> Disk {
    if !is_local(host) {
        return Disk::Remote;
    }
    let Ok(row) = client.query_one("SELECT current_setting('data_directory')", &[]).await else {
        return Disk::Hidden;
    };
    let data_directory: String = row.get(0);
    match fs4::available_space(&data_directory) {
        Ok(bytes) => Disk::Free { data_directory, bytes },
        Err(_) => Disk::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_servers_on_this_machine_have_a_visible_disk() {
        assert!(is_local("") && is_local("/var/run/postgresql") && is_local("127.0.0.2"));
        assert!(is_local("localhost") && is_local("::1"));
        assert!(!is_local("db.example.com") && !is_local("10.0.0.5"));
    }
}
