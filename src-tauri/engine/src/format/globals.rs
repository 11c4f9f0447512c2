//! The roles a backup saved with its globals (`pg_dumpall --globals-only`), for recreating the
//! ones a restore target lacks.
//!
//! The saved statements are not replayed as they are: a newer pg_dumpall writes syntax older
//! servers reject (`GRANT … WITH INHERIT TRUE`), and a role that was a superuser at the source
//! should not silently become one on another server. Lifeboat reads each role's attributes and
//! memberships and writes its own plain statements, which every supported server accepts.

use std::collections::BTreeMap;

use crate::format::sqltext::{Token, tokenize};
use crate::util::quote::quote_ident;

/// Attributes that would give a recreated role power over the whole server; never recreated.
const POWERFUL: &[&str] = &["SUPERUSER", "REPLICATION", "BYPASSRLS"];
/// Attributes that need a superuser to grant.
const ADMIN: &[&str] = &["CREATEROLE", "CREATEDB"];

/// One saved role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRole {
    /// Attribute keywords in the order saved, e.g. ["NOSUPERUSER", "INHERIT", "LOGIN"], and
    /// `CONNECTION LIMIT n` as one item.
    pub attributes: Vec<String>,
}

/// The roles and memberships of a globals file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRoles {
    pub roles: BTreeMap<String, SavedRole>,
    /// (role, member): `GRANT role TO member`.
    pub memberships: Vec<(String, String)>,
}

fn name(token: Option<&Token>) -> Option<String> {
    match token? {
        Token::Quoted(name) => Some(name.clone()),
        Token::Word(_, original) => Some(original.to_lowercase()),
        Token::Punct(_) => None,
    }
}

fn word(token: Option<&Token>) -> Option<&str> {
    match token? {
        Token::Word(upper, _) => Some(upper.as_str()),
        _ => None,
    }
}

/// Reads the `CREATE ROLE`, `ALTER ROLE … WITH …` and `GRANT role TO member` statements of a
/// globals file (one statement per line, as pg_dumpall writes them). Passwords are never kept.
pub fn parse(sql: &str) -> SavedRoles {
    let mut saved = SavedRoles::default();
    for line in sql.lines() {
        let line = line.trim();
        if !(line.starts_with("CREATE ROLE ")
            || line.starts_with("ALTER ROLE ")
            || line.starts_with("GRANT "))
        {
            continue;
        }
        let tokens = tokenize(line);
        match (word(tokens.first()), word(tokens.get(1))) {
            (Some("CREATE"), Some("ROLE")) => {
                if let Some(role) = name(tokens.get(2)) {
                    saved.roles.entry(role).or_default();
                }
            }
            (Some("ALTER"), Some("ROLE")) if word(tokens.get(3)) == Some("WITH") => {
                let Some(role) = name(tokens.get(2)) else { continue };
                let mut attributes = Vec::new();
                let mut i = 4;
                while let Some(keyword) = word(tokens.get(i)) {
                    match keyword {
                        "PASSWORD" | "VALID" => break,
                        "CONNECTION" if word(tokens.get(i + 1)) == Some("LIMIT") => {
                            if let Some(Token::Word(n, _)) = tokens.get(i + 2) {
                                attributes.push(format!("CONNECTION LIMIT {n}"));
                            }
                            i += 3;
                        }
                        other => {
                            attributes.push(other.to_owned());
                            i += 1;
                        }
                    }
                }
                saved.roles.entry(role).or_default().attributes = attributes;
            }
            (Some("GRANT"), _) => {
                // GRANT role TO member [WITH … | GRANTED BY …]; only single-role grants.
                if word(tokens.get(2)) == Some("TO")
                    && let (Some(role), Some(member)) = (name(tokens.get(1)), name(tokens.get(3)))
                {
                    saved.memberships.push((role, member));
                }
            }
            _ => {}
        }
    }
    saved
}

/// The statement that recreates `role` on a server where the connecting user is (or is not) a
/// superuser, and the attributes left out.
pub fn create_statement(role: &str, saved: &SavedRole, superuser: bool) -> (String, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for attribute in &saved.attributes {
        let powerful = POWERFUL.contains(&attribute.as_str())
            || (!superuser && ADMIN.contains(&attribute.as_str()));
        if powerful {
            dropped.push(attribute.clone());
        } else if !POWERFUL.iter().any(|p| attribute == &format!("NO{p}")) {
            kept.push(attribute.clone());
        }
    }
    let mut sql = format!("CREATE ROLE {}", quote_ident(role));
    if !kept.is_empty() {
        sql.push_str(" WITH ");
        sql.push_str(&kept.join(" "));
    }
    (sql, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOBALS: &str = "\\restrict abc\n\
        SET default_transaction_read_only = off;\n\
        CREATE ROLE \"Odd Role\";\n\
        ALTER ROLE \"Odd Role\" WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5;\n\
        CREATE ROLE ghost;\n\
        ALTER ROLE ghost WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:x';\n\
        COMMENT ON ROLE ghost IS 'a ghost';\n\
        CREATE ROLE su;\n\
        ALTER ROLE su WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;\n\
        GRANT ghost TO \"Odd Role\" WITH INHERIT TRUE GRANTED BY postgres;\n\
        GRANT SELECT ON TABLE t TO ghost;\n";

    #[test]
    fn roles_attributes_and_memberships_are_read_without_passwords() {
        let saved = parse(GLOBALS);
        assert_eq!(saved.roles.keys().collect::<Vec<_>>(), ["Odd Role", "ghost", "su"]);
        assert!(saved.roles["Odd Role"].attributes.contains(&"CONNECTION LIMIT 5".to_owned()));
        assert!(!saved.roles["ghost"].attributes.iter().any(|a| a.contains("SCRAM")));
        assert_eq!(saved.memberships, [("ghost".to_owned(), "Odd Role".to_owned())]);
    }

    #[test]
    fn powerful_attributes_are_never_recreated() {
        let saved = parse(GLOBALS);
        let (sql, dropped) = create_statement("su", &saved.roles["su"], true);
        assert_eq!(sql, "CREATE ROLE \"su\" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN");
        assert_eq!(dropped, ["SUPERUSER"]);
        let (sql, dropped) = create_statement("Odd Role", &saved.roles["Odd Role"], false);
        assert_eq!(
            sql,
            "CREATE ROLE \"Odd Role\" WITH INHERIT NOCREATEROLE LOGIN CONNECTION LIMIT 5"
        );
        assert_eq!(dropped, ["CREATEDB"]);
    }
}
