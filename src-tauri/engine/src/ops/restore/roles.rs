//! Who owns what is restored: the dump's owners when the target has them and the user may
//! create objects owned by them, else the user (or the chosen role); roles the backup saved may
//! be created first. Pure: it reads facts, never a server.

use std::collections::{BTreeMap, BTreeSet};

use crate::base::finding::{Finding, FindingCode, Severity};
use crate::format::globals::{self, SavedRoles};
use crate::format::sqltext::DumpFacts;
use crate::util::quote::quote_ident;

use super::RestoreRequest;
use super::findings::{self, list_names, plural};
use super::target_facts::TargetFacts;

/// What the plan decided about roles.
#[derive(Debug, Default)]
pub(super) struct Roles {
    pub findings: Vec<Finding>,
    pub no_owner: bool,
    /// The role that owns what is restored when the dump's owners are not used.
    pub owned_by: Option<String>,
    /// Owner roles missing on the target (and not created).
    pub missing_owners: usize,
    /// Roles the dump names that are missing on the target (and not created).
    pub missing_roles: BTreeSet<String>,
    /// Missing roles the backup saved.
    pub recreatable: BTreeSet<String>,
    /// `CREATE ROLE` statements by role, for the roles to create.
    pub statements: Vec<(String, String)>,
    /// `GRANT role TO member` statements run after them.
    pub memberships: Vec<String>,
    /// Of the roles to create, those created as plain `NOLOGIN` roles.
    pub plain: BTreeSet<String>,
}

/// Whether Lifeboat may create a role of this name as a plain `NOLOGIN` role: never
/// `postgres`, PostgreSQL's predefined `pg_` roles or the names it reserves (PUBLIC, NONE,
/// CURRENT_USER …), whatever their case, nor a name PostgreSQL would cut or cannot store.
/// Shared with the practice server's stand-in roles.
pub fn may_create_plain_role(name: &str) -> bool {
    let lower = name.to_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "postgres" | "public" | "none" | "current_user" | "session_user" | "current_role" | "user"
    );
    // 63 bytes is PostgreSQL's limit; a longer name would be cut into another role's name.
    !name.is_empty()
        && name.len() <= 63
        && !name.contains('\0')
        && !lower.starts_with("pg_")
        && !reserved
}

/// The roles step: owners, missing roles, roles to create and the role to restore as.
pub(super) fn decide(
    dump: &DumpFacts,
    saved: Option<&SavedRoles>,
    target: &TargetFacts,
    request: &RestoreRequest,
    role: Option<&str>,
) -> Roles {
    let owners: BTreeSet<&String> = dump.entries.iter().filter_map(|e| e.owner.as_ref()).collect();
    let mut missing_owners: Vec<&String> =
        owners.iter().copied().filter(|r| !target.roles.contains(*r)).collect();
    let foreign_owners: Vec<&String> = owners
        .iter()
        .copied()
        .filter(|o| {
            !target.superuser
                && target.roles.contains(*o)
                && **o != target.user
                && !target.member_of.contains(*o)
        })
        .collect();
    let mut missing_roles: BTreeSet<String> =
        dump.roles().into_iter().filter(|r| !target.roles.contains(r)).collect();
    let saved_role = |r: &String| saved.is_some_and(|s| s.roles.contains_key(r));
    // A saved role of a reserved or predefined name (pg_…, postgres …) is never created.
    let (recreatable, reserved): (BTreeSet<String>, BTreeSet<String>) = missing_roles
        .iter()
        .filter(|r| saved_role(r))
        .cloned()
        .partition(|r| may_create_plain_role(r));
    let mut roles = Roles::default();
    // Without saved roles to create from, plain ones stand for them: nothing to warn about.
    let plain_instead = request.create_missing_roles && recreatable.is_empty();
    if request.create_roles && !missing_roles.is_empty() && !plain_instead {
        let (finding, statements, memberships) = creation(saved, &recreatable, &reserved, target);
        roles.findings.push(finding);
        if !statements.is_empty() {
            missing_owners.retain(|r| !recreatable.contains(*r));
            missing_roles.retain(|r| !recreatable.contains(r));
        }
        roles.statements = statements;
        roles.memberships = memberships;
    }
    if request.create_missing_roles && !missing_roles.is_empty() {
        create_plain(&mut roles, &missing_roles, target);
        missing_owners.retain(|r| !roles.plain.contains(*r));
        missing_roles.retain(|r| !roles.plain.contains(r));
    }
    // Giving an object to a role needs membership in it unless one is superuser; a CREATEROLE
    // user has none in the roles it creates (16+: only ADMIN) until it grants it.
    if !target.superuser {
        let grants: Vec<String> = roles
            .statements
            .iter()
            .filter(|(name, _)| owners.contains(name))
            .map(|(name, _)| {
                format!("GRANT {} TO {}", quote_ident(name), quote_ident(&target.user))
            })
            .collect();
        roles.memberships.extend(grants);
    }
    roles.findings.extend(owner_role(target, role));
    roles.no_owner = request.no_owner
        || role.is_some()
        || !missing_owners.is_empty()
        || !foreign_owners.is_empty();
    roles.owned_by =
        roles.no_owner.then(|| role.map_or_else(|| target.user.clone(), str::to_owned));
    if !missing_roles.is_empty() || !foreign_owners.is_empty() {
        let fix = owners_fix(roles.owned_by.as_deref(), role, request, &recreatable);
        roles.findings.push(Finding::new(
            Severity::Warning,
            FindingCode::RolesMissing,
            roles_missing(target, &missing_roles, &foreign_owners),
            Some(fix),
        ));
    }
    roles.missing_owners = missing_owners.len();
    roles.missing_roles = missing_roles;
    roles.recreatable = recreatable;
    roles
}

/// The roles to create from the saved ones, with their memberships: a finding saying so and
/// naming what of their definitions is not recreated, or why they cannot be (then no
/// statements).
fn creation(
    saved: Option<&SavedRoles>,
    recreatable: &BTreeSet<String>,
    reserved: &BTreeSet<String>,
    target: &TargetFacts,
) -> (Finding, Vec<(String, String)>, Vec<String>) {
    let saved = match saved {
        Some(saved) if !recreatable.is_empty() => saved,
        _ => {
            let message = if reserved.is_empty() {
                "The backup saved no roles to create the missing ones from (it was made without \
                 globals)."
                    .to_owned()
            } else {
                findings::reserved_roles(reserved)
            };
            let finding = Finding::new(
                Severity::Warning,
                FindingCode::CannotCreateRoles,
                message,
                Some("Objects are restored without their owners instead.".into()),
            );
            return (finding, Vec::new(), Vec::new());
        }
    };
    if !target.superuser && !target.createrole {
        let finding = Finding::new(
            Severity::Blocker,
            FindingCode::CannotCreateRoles,
            format!(
                "The user {} may not create roles on \"{}\".",
                target.user, target.profile_name
            ),
            Some(
                "Give the user CREATEROLE, use a profile with more rights, or restore without \
                 creating roles (owners are then mapped)."
                    .into(),
            ),
        );
        return (finding, Vec::new(), Vec::new());
    }
    let statements: Vec<(String, String)> = recreatable
        .iter()
        .map(|name| (name.clone(), globals::create_statement(name, &saved.roles[name])))
        .collect();
    let (grants, mut left_out) = memberships(saved, recreatable);
    for name in recreatable {
        let refused = saved.roles[name].refused.iter().cloned();
        let entry = left_out.entry(name.clone()).or_default();
        entry.splice(0..0, refused);
    }
    left_out.retain(|_, what| !what.is_empty());
    let mut message = format!(
        "Creates {} role{} from the roles saved with the backup: {}.",
        recreatable.len(),
        plural(recreatable.len()),
        list_names(recreatable)
    );
    if let Some(trimmed) = findings::roles_trimmed(&left_out) {
        message.push(' ');
        message.push_str(&trimmed);
    }
    if !reserved.is_empty() {
        message.push(' ');
        message.push_str(&findings::reserved_roles(reserved));
    }
    let finding = Finding::new(
        Severity::Warning,
        FindingCode::RolesCreated,
        message,
        Some(
            "Roles are shared by every database of the server. They get no password: set one \
             (ALTER ROLE … PASSWORD) before they need to log in."
                .into(),
        ),
    );
    (finding, statements, grants)
}

/// Plans the missing roles Lifeboat may create (see [`may_create_plain_role`]) as plain
/// `NOLOGIN` roles, with a finding naming them; or a blocker when the user may not create roles.
fn create_plain(roles: &mut Roles, missing: &BTreeSet<String>, target: &TargetFacts) {
    let plain: BTreeSet<String> =
        missing.iter().filter(|r| may_create_plain_role(r)).cloned().collect();
    if plain.is_empty() {
        return;
    }
    if !target.superuser && !target.createrole {
        let blocked = roles
            .findings
            .iter()
            .any(|f| f.code == FindingCode::CannotCreateRoles && f.severity == Severity::Blocker);
        if !blocked {
            roles.findings.push(Finding::new(
                Severity::Blocker,
                FindingCode::CannotCreateRoles,
                format!(
                    "The user {} may not create the missing roles on \"{}\": {}.",
                    target.user,
                    target.profile_name,
                    list_names(&plain)
                ),
                Some(
                    "Give the user CREATEROLE, use a profile with more rights, or restore \
                     without creating the missing roles (what names them is then left out)."
                        .into(),
                ),
            ));
        }
        return;
    }
    roles.findings.push(Finding::new(
        Severity::Warning,
        FindingCode::RolesCreated,
        format!(
            "Creates {} missing role{} as plain NOLOGIN roles, without a password or any other \
             attribute: {}.",
            plain.len(),
            plural(plain.len()),
            list_names(&plain)
        ),
        Some(
            "Roles are shared by every database of the server. Give them LOGIN, a password or \
             memberships (ALTER ROLE …, GRANT …) where they need them."
                .into(),
        ),
    ));
    for name in &plain {
        roles.statements.push((name.clone(), format!("CREATE ROLE {} NOLOGIN", quote_ident(name))));
    }
    roles.plain = plain;
}

/// The saved memberships among the roles this restore creates, as plain grants (never `WITH
/// ADMIN OPTION`), and, by created role, what else was saved for it and is left out: membership
/// in a role that already exists (`postgres`, `pg_execute_server_program` …), a grant of it to
/// one, the admin option.
fn memberships(
    saved: &SavedRoles,
    created: &BTreeSet<String>,
) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut grants = Vec::new();
    let mut kept: Vec<(&String, &String)> = Vec::new();
    let mut left_out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut leave_out = |role: &String, what: String| {
        let entry = left_out.entry(role.clone()).or_default();
        if !entry.contains(&what) {
            entry.push(what);
        }
    };
    for membership in &saved.memberships {
        let (role, member) = (&membership.role, &membership.member);
        match (created.contains(role), created.contains(member)) {
            _ if role == member => {}
            // PostgreSQL refuses a grant that makes a role a member of itself, through others.
            (true, true) if member_of(&kept, role, member) => {
                leave_out(member, format!("membership in {role} (circular)"));
            }
            (true, true) => {
                if !kept.contains(&(role, member)) {
                    kept.push((role, member));
                    grants.push(format!("GRANT {} TO {}", quote_ident(role), quote_ident(member)));
                }
                if membership.admin {
                    leave_out(member, format!("the admin option on {role}"));
                }
            }
            (false, true) => leave_out(member, format!("membership in {role}")),
            (true, false) => leave_out(role, format!("its grant to {member}")),
            (false, false) => {}
        }
    }
    (grants, left_out)
}

/// Whether `role` is `of` or a member of it through the (role, member) grants in `kept`.
fn member_of(kept: &[(&String, &String)], role: &String, of: &String) -> bool {
    let mut seen = BTreeSet::new();
    let mut next = vec![of];
    while let Some(current) = next.pop() {
        if current == role {
            return true;
        }
        if seen.insert(current) {
            next.extend(kept.iter().filter(|(r, _)| *r == current).map(|(_, m)| *m));
        }
    }
    false
}

/// The role to restore as must exist, and the user must be a member of it.
fn owner_role(target: &TargetFacts, role: Option<&str>) -> Option<Finding> {
    let role = role?;
    if !target.roles.contains(role) {
        return Some(Finding::new(
            Severity::Blocker,
            FindingCode::OwnerRoleMissing,
            format!("The role {role} does not exist on \"{}\".", target.profile_name),
            Some("Create the role first, or choose an existing one.".into()),
        ));
    }
    (!target.superuser && !target.member_of.contains(role)).then(|| {
        Finding::new(
            Severity::Blocker,
            FindingCode::OwnerRoleNotGranted,
            format!("The user {} may not act as the role {role}.", target.user),
            Some(format!("Grant {role} to {} first, or choose another role.", target.user)),
        )
    })
}

fn roles_missing(
    target: &TargetFacts,
    missing_roles: &BTreeSet<String>,
    foreign_owners: &[&String],
) -> String {
    let mut parts = Vec::new();
    if !missing_roles.is_empty() {
        parts.push(format!(
            "{} role{} the backup names {} not exist on \"{}\": {}.",
            missing_roles.len(),
            plural(missing_roles.len()),
            if missing_roles.len() == 1 { "does" } else { "do" },
            target.profile_name,
            list_names(missing_roles)
        ));
    }
    if !foreign_owners.is_empty() {
        let owners: Vec<&str> = foreign_owners.iter().map(|o| o.as_str()).collect();
        parts.push(format!(
            "The user {} may not create objects owned by {}.",
            target.user,
            owners.join(", ")
        ));
    }
    parts.join(" ")
}

fn owners_fix(
    owned_by: Option<&str>,
    role: Option<&str>,
    request: &RestoreRequest,
    recreatable: &BTreeSet<String>,
) -> String {
    let fix = match (owned_by, role) {
        (Some(_), Some(role)) => format!("Restored with --no-owner (objects owned by {role})."),
        (Some(user), None) => {
            format!("Restored with --no-owner (objects owned by the connecting user, {user}).")
        }
        (None, _) => "The owners are kept; only grants to missing roles are left out.".into(),
    };
    if !request.create_roles && !recreatable.is_empty() {
        format!(
            "{fix} Or create {} from the roles saved with the backup (--create-roles).",
            list_names(recreatable)
        )
    } else {
        fix
    }
}
