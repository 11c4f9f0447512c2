//! Who restores: the role a drill's restore, comparison and smoke checks run as, and what it may
//! do on the server. SQL in a backup runs with that role's rights, so the report names them and
//! warns when they reach beyond the database (a superuser, or a member of the roles that run
//! programs and read or write files on the server).

use serde::{Deserialize, Serialize};

use crate::base::error::Result;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;

/// The predefined roles whose members reach the server's computer: programs, files.
const SERVER_ACCESS_ROLES: [&str; 3] =
    ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"];

/// The role a drill restores as, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RestoringRole {
    pub name: String,
    pub superuser: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub bypassrls: bool,
    /// Of `pg_execute_server_program`, `pg_read_server_files` and `pg_write_server_files`, the
    /// roles it is a member of (a superuser counts as a member of every role).
    pub server_access: Vec<String>,
    /// What the role may do, in one sentence.
    pub summary: String,
    /// Set when SQL in the backup could reach beyond the scratch database.
    pub warning: Option<String>,
}

/// Reads the profile's role on its server (as the profile connects).
pub(super) async fn read(ctx: &Ctx, profile: &Profile, practice: bool) -> Result<RestoringRole> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let row = client
        .query_one(
            "SELECT current_user::text, r.rolsuper, r.rolcreatedb, r.rolcreaterole, \
             r.rolbypassrls, ARRAY(SELECT p FROM unnest($1::text[]) p WHERE CASE WHEN EXISTS \
             (SELECT 1 FROM pg_catalog.pg_roles x WHERE x.rolname = p) THEN \
             pg_catalog.pg_has_role(current_user, p::name, 'MEMBER') ELSE false END ORDER BY p) \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[&SERVER_ACCESS_ROLES.as_slice()],
        )
        .await
        .map_err(|e| query_error(&e))?;
    Ok(describe(
        RestoringRole {
            name: row.get(0),
            superuser: row.get(1),
            createdb: row.get(2),
            createrole: row.get(3),
            bypassrls: row.get(4),
            server_access: row.get(5),
            summary: String::new(),
            warning: None,
        },
        practice,
    ))
}

/// Fills in the summary and the warning from the facts.
fn describe(mut role: RestoringRole, practice: bool) -> RestoringRole {
    let name = role.name.clone();
    let elsewhere = "use a profile with a restricted user, or the practice server, to test \
                     backups that come from elsewhere";
    if role.superuser {
        role.summary = format!("The test restores as {name}, a superuser.");
        role.warning = Some(format!(
            "The test restores as {name}, a superuser: SQL in the backup runs with full rights \
             on that server (it can run programs and read or write files there); {elsewhere}."
        ));
        return role;
    }
    let may =
        |yes: bool, what: &str| if yes { format!("may {what}") } else { format!("may not {what}") };
    let mut rights =
        vec![may(role.createdb, "create databases"), may(role.createrole, "create roles")];
    if role.bypassrls {
        rights.push("reads tables past row security".into());
    }
    let access = if role.server_access.is_empty() {
        "and is a member of none of pg_execute_server_program, pg_read_server_files and \
         pg_write_server_files"
            .to_owned()
    } else {
        format!("and is a member of {}", role.server_access.join(", "))
    };
    let kind = if practice { ", the practice server's unprivileged role" } else { "" };
    role.summary = format!(
        "The test restores as {name}{kind}: not a superuser, {} {access}.",
        rights.join(", ")
    );
    if !role.server_access.is_empty() {
        role.warning = Some(format!(
            "The test restores as {name}, a member of {}: SQL in the backup can run programs or \
             read and write files on that server; {elsewhere}.",
            role.server_access.join(", ")
        ));
    } else if role.createrole {
        role.warning = Some(format!(
            "The test restores as {name}, which may create roles: SQL in the backup can create \
             and change roles on that server; {elsewhere}."
        ));
    }
    role
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(superuser: bool, createrole: bool, access: &[&str]) -> RestoringRole {
        describe(
            RestoringRole {
                name: "app".into(),
                superuser,
                createdb: true,
                createrole,
                bypassrls: false,
                server_access: access.iter().map(|s| s.to_string()).collect(),
                summary: String::new(),
                warning: None,
            },
            false,
        )
    }

    #[test]
    fn a_superuser_or_a_role_reaching_the_computer_is_warned_about() {
        let superuser = role(true, false, &SERVER_ACCESS_ROLES);
        assert!(superuser.warning.unwrap().starts_with(
            "The test restores as app, a superuser: SQL in the backup runs with full rights"
        ));
        let program = role(false, false, &["pg_execute_server_program"]);
        assert!(program.warning.unwrap().contains("a member of pg_execute_server_program"));
        let creates_roles = role(false, true, &[]);
        assert!(creates_roles.warning.unwrap().contains("may create roles"));
        let plain = role(false, false, &[]);
        assert_eq!(plain.warning, None);
        assert_eq!(
            plain.summary,
            "The test restores as app: not a superuser, may create databases, may not create \
             roles and is a member of none of pg_execute_server_program, pg_read_server_files \
             and pg_write_server_files."
        );
    }
}
