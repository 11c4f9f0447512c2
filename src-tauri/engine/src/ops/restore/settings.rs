//! The database's own settings and comment. pg_dump writes `ALTER DATABASE … SET`,
//! `ALTER ROLE … IN DATABASE … SET` and `COMMENT ON DATABASE` only with `--create`, which a
//! restore into a new or chosen database does not use; the manifest records them instead, and a
//! restore that created its database sets them again once the data is in. The plan is pure
//! (made-up facts in its tests); [`apply`] runs it.

use std::collections::HashSet;

use serde::Serialize;

use crate::base::finding::{Finding, FindingCode, Severity};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::format::archive::FoundManifest;
use crate::format::manifest::{DatabaseSettings, split_setting};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::inventory::SettingsReach;
use crate::storage::context::Ctx;
use crate::util::quote::{quote_ident, quote_literal};

use super::target_facts::TargetFacts;
use super::{Prepared, RestorePlan};

/// One thing to set on the new database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// `ALTER DATABASE … SET name = value`; `role`: `ALTER ROLE role IN DATABASE …`.
    Setting {
        role: Option<String>,
        name: String,
        value: String,
    },
    Comment(String),
}

impl Item {
    /// What the item sets, as the plan and the outcome name it.
    fn describe(&self) -> String {
        match self {
            Item::Setting { role: None, name, value } => format!("{name}={value}"),
            Item::Setting { role: Some(role), name, value } => {
                format!("{name}={value} for role {role}")
            }
            Item::Comment(_) => "the database comment".to_owned(),
        }
    }

    /// The statement for the database as it is finally named.
    fn sql(&self, database: &str) -> String {
        let db = quote_ident(database);
        match self {
            Item::Setting { role, name, value } => {
                let target = match role {
                    Some(role) => format!("ROLE {} IN DATABASE {db}", quote_ident(role)),
                    None => format!("DATABASE {db}"),
                };
                format!("ALTER {target} SET {} TO {}", quote_ident(name), value_sql(name, value))
            }
            Item::Comment(text) => format!("COMMENT ON DATABASE {db} IS {}", quote_literal(text)),
        }
    }
}

/// Settings whose stored value is a list of (double-quoted where needed) elements, as
/// PostgreSQL's `GUC_LIST_QUOTE` flag marks them; pg_dump's `variable_is_guc_list_quote`.
const LIST_QUOTE: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// The value as SQL: one literal, or for a list setting one literal per element, which the
/// server quotes again exactly as it stored them (`"$user", public`), as pg_dump does.
fn value_sql(name: &str, value: &str) -> String {
    if !LIST_QUOTE.contains(&name.to_ascii_lowercase().as_str()) {
        return quote_literal(value);
    }
    let elements = split_list(value);
    if elements.is_empty() {
        return "''".to_owned();
    }
    elements.iter().map(|e| quote_literal(e)).collect::<Vec<_>>().join(", ")
}

/// The elements of a stored list value: separated by commas, each bare or double-quoted
/// (`""` inside stands for `"`); bare elements keep their case (pg_dump's `SplitGUCList`).
fn split_list(value: &str) -> Vec<String> {
    let mut elements = Vec::new();
    let mut chars = value.trim().chars().peekable();
    while chars.peek().is_some() {
        let mut element = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        element.push('"');
                    }
                    '"' => break,
                    c => element.push(c),
                }
            }
            chars.by_ref().take_while(|c| *c != ',').for_each(drop);
        } else {
            element = chars.by_ref().take_while(|c| *c != ',').collect::<String>();
            element = element.trim().to_owned();
        }
        elements.push(element);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    }
    elements
}

/// What will be set, and the findings that say so.
#[derive(Debug, Default)]
pub(super) struct SettingsPlan {
    pub items: Vec<Item>,
    pub findings: Vec<Finding>,
}

/// Decides which recorded settings the new database gets. `created`: roles the restore creates
/// before the settings are set. What the target cannot take ([`SettingsReach::skip_reason`]:
/// unknown settings, superuser-only ones, those of missing roles …) is left out and named.
pub(super) fn plan(
    recorded: Option<&DatabaseSettings>,
    reach: &SettingsReach,
    created: &HashSet<String>,
    create_database: bool,
    database: &str,
) -> SettingsPlan {
    let Some(recorded) = recorded.filter(|r| !r.is_empty()) else {
        return SettingsPlan::default();
    };
    if !create_database {
        return SettingsPlan { items: Vec::new(), findings: vec![kept_as_they_are(database)] };
    }
    let mut items = Vec::new();
    // By reason, in the order the reasons first come up.
    let mut left_out: Vec<(&'static str, Vec<String>)> = Vec::new();
    let entries = recorded.settings.iter().map(|e| (None, e));
    let role_entries = recorded
        .role_settings
        .iter()
        .flat_map(|r| r.settings.iter().map(move |e| (Some(r.role.clone()), e)));
    for (role, entry) in entries.chain(role_entries) {
        let (name, value) = split_setting(entry);
        let reason = reach.skip_reason(role.as_deref(), name, created);
        let item = Item::Setting { role, name: name.into(), value: value.into() };
        match reason {
            Some(why) => match left_out.iter_mut().find(|(reason, _)| *reason == why) {
                Some((_, settings)) => settings.push(item.describe()),
                None => left_out.push((why, vec![item.describe()])),
            },
            None => items.push(item),
        }
    }
    if let Some(comment) = &recorded.comment {
        items.push(Item::Comment(comment.clone()));
    }
    let mut findings = Vec::new();
    if !items.is_empty() {
        let what: Vec<String> = items.iter().map(Item::describe).collect();
        findings.push(Finding::new(
            Severity::Info,
            FindingCode::DatabaseSettings,
            format!(
                "The backed-up database's own settings are set on {database}: {}.",
                what.join("; ")
            ),
            None,
        ));
    }
    findings.extend(left_out.iter().map(|(why, settings)| skipped(why, settings)));
    SettingsPlan { items, findings }
}

fn kept_as_they_are(database: &str) -> Finding {
    Finding::new(
        Severity::Info,
        FindingCode::DatabaseSettings,
        format!(
            "The backup recorded the database's own settings or comment; {database} exists \
             already, so its settings and comment stay as they are."
        ),
        Some(
            "Restore into a new database to get them, or set them with ALTER DATABASE and \
             COMMENT ON DATABASE (the manifest lists them)."
                .into(),
        ),
    )
}

/// Settings left out for one reason, with what the user can do about it.
fn skipped(why: &str, settings: &[String]) -> Finding {
    Finding::new(
        Severity::Warning,
        FindingCode::DatabaseSettingsSkipped,
        format!(
            "These settings of the backed-up database are left out ({why}): {}.",
            settings.join("; ")
        ),
        Some(
            "Set them by hand with ALTER DATABASE … SET or ALTER ROLE … IN DATABASE … SET once \
             the server, the role or a user with the right to do so is there (the manifest \
             lists them)."
                .into(),
        ),
    )
}

/// The settings the manifest recorded, planned for this restore: their findings join the
/// plan's (blockers, then warnings, then infos), the items are returned for [`apply`].
pub(super) fn for_plan(
    found: Option<&FoundManifest>,
    target: &TargetFacts,
    plan: &mut RestorePlan,
) -> Vec<Item> {
    let recorded = found.and_then(|f| f.manifest.database_settings.as_ref());
    let created: HashSet<String> = plan.create_roles.iter().cloned().collect();
    let planned = self::plan(
        recorded,
        &target.settings_reach,
        &created,
        plan.create_database,
        &plan.database,
    );
    plan.findings.extend(planned.findings);
    plan.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    planned.items
}

/// What a restore set on the database it created, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppliedSettings {
    /// The settings (`name=value`, per role where so) and the comment set.
    pub applied: Vec<String>,
    /// Those the server refused, with its reason.
    pub failed: Vec<String>,
}

/// Sets the planned items on `database`, each on its own: one the server refuses (a value an
/// older server rejects, a superuser-only setting) is named in a warning, the rest still set.
pub(super) async fn apply(
    ctx: &Ctx,
    prepared: &Prepared,
    database: &str,
    sink: &dyn ProgressSink,
) -> AppliedSettings {
    let (profile, items) = (&prepared.profile, &prepared.db_settings);
    let mut result = AppliedSettings::default();
    if items.is_empty() {
        return result;
    }
    let client = match ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db) {
        Ok(spec) => connect(&spec).await,
        Err(error) => Err(error),
    };
    for item in items {
        let outcome = match &client {
            Ok(client) => client
                .batch_execute(&item.sql(database))
                .await
                .map_err(|e| query_error(&e).to_string()),
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok(()) => result.applied.push(item.describe()),
            Err(reason) => {
                let message = format!(
                    "{} could not be set on {database}: {reason}. Set it by hand: {};",
                    item.describe(),
                    item.sql(database)
                );
                sink.emit(ProgressEvent::Warning { message: message.clone() });
                result.failed.push(message);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::RoleSettings;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn recorded() -> DatabaseSettings {
        DatabaseSettings {
            settings: vec![
                "TimeZone=Europe/Paris".into(),
                "search_path=\"$user\", public, \"Odd \"\"x\"\"\"".into(),
                "lc_messages=C".into(),
                "app.tenant=it's".into(),
                "io_method=worker".into(),
            ],
            role_settings: vec![
                RoleSettings { role: "app_reader".into(), settings: vec!["work_mem=64MB".into()] },
                RoleSettings { role: "gone".into(), settings: vec!["work_mem=1MB".into()] },
            ],
            comment: Some("Shop's data".into()),
        }
    }

    /// A superuser's reach on a server that knows four settings and has the role app_reader.
    fn reach() -> SettingsReach {
        SettingsReach {
            known: set(&["TimeZone", "search_path", "lc_messages", "work_mem"]),
            superuser_only: set(&[]),
            roles: set(&["app_reader"]),
            role_settings: true,
            placeholders: true,
        }
    }

    fn planned() -> SettingsPlan {
        plan(Some(&recorded()), &reach(), &set(&[]), true, "shop new")
    }

    #[test]
    fn statements_quote_names_and_give_values_as_literals() {
        let sql: Vec<String> = planned().items.iter().map(|i| i.sql("shop new")).collect();
        assert_eq!(
            sql,
            [
                "ALTER DATABASE \"shop new\" SET \"TimeZone\" TO 'Europe/Paris'",
                "ALTER DATABASE \"shop new\" SET \"search_path\" TO '$user', 'public', 'Odd \"x\"'",
                "ALTER DATABASE \"shop new\" SET \"lc_messages\" TO 'C'",
                "ALTER DATABASE \"shop new\" SET \"app.tenant\" TO 'it''s'",
                "ALTER ROLE \"app_reader\" IN DATABASE \"shop new\" SET \"work_mem\" TO '64MB'",
                "COMMENT ON DATABASE \"shop new\" IS 'Shop''s data'",
            ]
        );
    }

    #[test]
    fn list_values_are_reproduced_as_stored() {
        assert_eq!(value_sql("search_path", "app, public"), "'app', 'public'");
        assert_eq!(value_sql("Search_Path", "\"$user\",public"), "'$user', 'public'");
        assert_eq!(value_sql("search_path", "\"\""), "''");
        assert_eq!(value_sql("search_path", ""), "''");
        assert_eq!(value_sql("temp_tablespaces", "\"A,b\", c"), "'A,b', 'c'");
        assert_eq!(value_sql("work_mem", "64MB"), "'64MB'");
    }

    #[test]
    fn unknown_settings_and_missing_roles_are_named_and_left_out() {
        let p = planned();
        let warnings: Vec<&Finding> =
            p.findings.iter().filter(|f| f.severity == Severity::Warning).collect();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].message.contains("io_method=worker"), "{}", warnings[0].message);
        assert!(warnings[1].message.contains("work_mem=1MB for role gone"));
        assert!(p.findings[0].message.contains("TimeZone=Europe/Paris"));
        assert!(p.findings[0].message.contains("the database comment"));
    }

    #[test]
    fn an_existing_database_keeps_its_settings_and_nothing_is_said_without_any() {
        let p = plan(Some(&recorded()), &reach(), &set(&[]), false, "mine");
        assert!(p.items.is_empty());
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0].message.contains("stay as they are"));
        let none = plan(Some(&DatabaseSettings::default()), &reach(), &set(&[]), true, "x");
        assert!(none.items.is_empty() && none.findings.is_empty());
        assert!(plan(None, &reach(), &set(&[]), true, "x").findings.is_empty());
    }

    #[test]
    fn what_a_user_may_not_set_is_left_out_and_named_by_reason() {
        let user = SettingsReach {
            superuser_only: set(&["lc_messages"]),
            role_settings: false,
            placeholders: false,
            ..reach()
        };
        let p = plan(Some(&recorded()), &user, &set(&["gone"]), true, "db");
        let described: Vec<String> = p.items.iter().map(Item::describe).collect();
        assert!(!described.iter().any(|d| d.contains("lc_messages")), "{described:?}");
        assert!(!described.iter().any(|d| d.contains("for role")), "{described:?}");
        assert!(described.iter().any(|d| d.contains("TimeZone")), "{described:?}");
        let warnings: Vec<&str> = p
            .findings
            .iter()
            .filter(|f| f.code == FindingCode::DatabaseSettingsSkipped)
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        let reason = |text: &str| warnings.iter().find(|w| w.contains(text)).copied();
        assert!(reason("only a superuser may set it here").unwrap().contains("lc_messages=C"));
        assert!(reason("needs a superuser or CREATEROLE").unwrap().contains("for role gone"));
        assert!(reason("does not know").unwrap().contains("io_method=worker"));
        assert!(reason("custom settings").unwrap().contains("app.tenant"));
    }
}
