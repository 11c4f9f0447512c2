//! The roles a backup saved with its globals (`pg_dumpall --globals-only`), for recreating the
//! ones a restore target lacks.
//!
//! The globals file is untrusted input: whoever could write to the backup folder could write
//! anything into it. Nothing of it is replayed. Lifeboat reads each role's attributes and
//! memberships with its own lexer (quotes, comments, dollar quotes and psql's backslash lines
//! understood, any number of statements on a line or lines in a statement), keeps only the
//! allow-listed ones (LOGIN/NOLOGIN, INHERIT/NOINHERIT, CONNECTION LIMIT, VALID UNTIL) as
//! values, and writes its own statement from them with quoted identifiers. Everything else a
//! role was given (SUPERUSER, CREATEROLE, per-role settings …) is recorded by name so that the
//! plan can say it was not recreated; passwords are never kept. Which memberships are granted
//! is the restore's decision (`ops::restore::roles`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::util::quote::{quote_ident, quote_literal};

/// One saved role: the allow-listed attributes as values, and what else the file gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRole {
    /// `LOGIN` (true) or `NOLOGIN`; unset means NOLOGIN, like `CREATE ROLE`.
    pub login: Option<bool>,
    /// `INHERIT` or `NOINHERIT` (true: INHERIT); unset means INHERIT.
    pub inherit: Option<bool>,
    /// `CONNECTION LIMIT n`, n ≥ -1.
    pub connection_limit: Option<i32>,
    /// `VALID UNTIL`, as Lifeboat writes it: `infinity`, `-infinity` or a UTC timestamp.
    pub valid_until: Option<String>,
    /// What the file gives the role that is never recreated, in plain words and file order:
    /// `SUPERUSER`, `CREATEROLE`, `the setting session_preload_libraries` … (never a password).
    pub refused: Vec<String>,
}

/// `GRANT role TO member` (or `IN ROLE`, `ROLE`, `ADMIN` clauses saying the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMembership {
    pub role: String,
    pub member: String,
    /// Granted `WITH ADMIN OPTION` (or by an `ADMIN` clause): never recreated as such.
    pub admin: bool,
}

/// The roles and memberships of a globals file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRoles {
    pub roles: BTreeMap<String, SavedRole>,
    pub memberships: Vec<SavedMembership>,
}

/// Attributes that give a role power beyond its own objects: never recreated. `CREATEUSER` is
/// the old spelling of SUPERUSER.
const REFUSED: &[&str] =
    &["SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS", "CREATEUSER"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An unquoted word: uppercased for keyword checks, and as written.
    Word(String, String),
    /// A quoted identifier.
    Ident(String),
    /// A string constant's value (standard, `E''` or dollar quoted).
    Str(String),
    Num(String),
    Punct(char),
}

/// Splits a globals file into statements of tokens. Comments and psql's backslash lines are
/// dropped (a backslash line also ends the statement before it); `;` inside quotes is text.
fn statements(sql: &str) -> Vec<Vec<Tok>> {
    let chars: Vec<char> = sql.chars().collect();
    let mut all = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if (c == '-' && next == Some('-')) || c == '\\' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            if c == '\\' && !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
        } else if c == '/' && next == Some('*') {
            i = block_comment_end(&chars, i);
        } else if c == ';' {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            i += 1;
        } else if c == '"' {
            let (text, end) = quoted(&chars, i + 1, '"', false);
            current.push(Tok::Ident(text));
            i = end;
        } else if c == '\'' {
            let (text, end) = quoted(&chars, i + 1, '\'', false);
            current.push(Tok::Str(text));
            i = end;
        } else if (c == 'E' || c == 'e') && next == Some('\'') {
            let (text, end) = quoted(&chars, i + 2, '\'', true);
            current.push(Tok::Str(text));
            i = end;
        } else if c == '$'
            && let Some((text, end)) = dollar_quoted(&chars, i)
        {
            current.push(Tok::Str(text));
            i = end;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            current.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$')) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            current.push(Tok::Word(word.to_ascii_uppercase(), word));
        } else {
            current.push(Tok::Punct(c));
            i += 1;
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

/// Where a `/* … */` comment starting at `start` ends (they nest).
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0usize, start);
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// The text of a quoted token from `start` (after the opening quote) to its closing `quote`
/// (doubled inside), and the index after it. `escapes`: an `E''` string's backslashes.
fn quoted(chars: &[char], start: usize, quote: char, escapes: bool) -> (String, usize) {
    let mut text = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if escapes && c == '\\' {
            if let Some(&escaped) = chars.get(i + 1) {
                text.push(escaped);
            }
            i += 2;
        } else if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                text.push(quote);
                i += 2;
            } else {
                return (text, i + 1);
            }
        } else {
            text.push(c);
            i += 1;
        }
    }
    (text, i)
}

/// A `$tag$ … $tag$` string at `start`, or None when the `$` opens none.
fn dollar_quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start + 1;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    if chars.get(i) != Some(&'$') || chars.get(start + 1).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let tag: Vec<char> = chars[start..=i].to_vec();
    let body = i + 1;
    let end = (body..=chars.len().saturating_sub(tag.len()))
        .find(|&j| chars[j..].starts_with(&tag))
        .unwrap_or(chars.len());
    Some((chars[body..end].iter().collect(), (end + tag.len()).min(chars.len())))
}

/// A role name: a quoted identifier as written, an unquoted one folded the way PostgreSQL
/// folds it (ASCII letters only).
fn name_at(tokens: &[Tok], i: usize) -> Option<String> {
    match tokens.get(i)? {
        Tok::Ident(name) => Some(name.clone()),
        Tok::Word(_, original) => Some(original.to_ascii_lowercase()),
        _ => None,
    }
}

fn word_at(tokens: &[Tok], i: usize) -> Option<&str> {
    match tokens.get(i)? {
        Tok::Word(upper, _) => Some(upper.as_str()),
        _ => None,
    }
}

/// A comma-separated list of role names from `i`; the names and the index after the list.
fn name_list(tokens: &[Tok], mut i: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    while let Some(name) = name_at(tokens, i) {
        names.push(name);
        i += 1;
        if tokens.get(i) != Some(&Tok::Punct(',')) {
            break;
        }
        i += 1;
    }
    (names, i)
}

/// Reads the roles and memberships of a globals file: `CREATE ROLE|USER|GROUP`, `ALTER
/// ROLE|USER|GROUP` (options, `SET`, `ADD USER`) and `GRANT role TO member`. Anything else is
/// ignored. Passwords are never kept.
pub fn parse(sql: &str) -> SavedRoles {
    let mut saved = SavedRoles::default();
    for tokens in statements(sql) {
        let kind = word_at(&tokens, 1);
        match (word_at(&tokens, 0), kind) {
            (Some("CREATE" | "ALTER"), Some("ROLE" | "USER" | "GROUP")) => {
                let Some(role) = name_at(&tokens, 2) else { continue };
                if word_at(&tokens, 0) == Some("CREATE") && kind == Some("USER") {
                    saved.roles.entry(role.clone()).or_default().login.get_or_insert(true);
                }
                role_statement(&mut saved, &role, &tokens[3..]);
            }
            (Some("GRANT"), _) => grant(&mut saved, &tokens),
            _ => {}
        }
    }
    saved
}

/// The part of `CREATE|ALTER ROLE name` after the name.
fn role_statement(saved: &mut SavedRoles, role: &str, rest: &[Tok]) {
    let entry = saved.roles.entry(role.to_owned()).or_default();
    let mut i = 0;
    if word_at(rest, 0) == Some("IN") && word_at(rest, 1) == Some("DATABASE") {
        i = 3;
    }
    match word_at(rest, i) {
        Some("SET") => {
            let (parameter, _) = dotted_name(rest, i + 1);
            entry.refused.push(format!("the setting {parameter}"));
        }
        Some("RESET" | "RENAME") => {}
        Some("ADD" | "DROP") if word_at(rest, i + 1) == Some("USER") => {
            let (members, _) = name_list(rest, i + 2);
            let add = word_at(rest, i) == Some("ADD");
            for member in members {
                saved.memberships.retain(|m| !(m.role == role && m.member == member));
                if add {
                    saved.memberships.push(SavedMembership {
                        role: role.to_owned(),
                        member,
                        admin: false,
                    });
                }
            }
        }
        _ => options(saved, role, rest),
    }
}

/// A parameter name, possibly qualified (`plpgsql.check`), from `i`.
fn dotted_name(tokens: &[Tok], mut i: usize) -> (String, usize) {
    let mut parts = Vec::new();
    while let Some(part) = name_at(tokens, i) {
        parts.push(part);
        i += 1;
        if tokens.get(i) != Some(&Tok::Punct('.')) {
            break;
        }
        i += 1;
    }
    let name = if parts.is_empty() { "(unnamed)".to_owned() } else { parts.join(".") };
    (name, i)
}

/// The role options of `CREATE|ALTER ROLE name [WITH] …`.
fn options(saved: &mut SavedRoles, role: &str, tokens: &[Tok]) {
    let mut i = usize::from(word_at(tokens, 0) == Some("WITH"));
    while i < tokens.len() {
        let Some(keyword) = word_at(tokens, i) else {
            i += 1;
            continue;
        };
        let next = word_at(tokens, i + 1);
        i += 1;
        let membership = match (keyword, next) {
            ("IN", Some("ROLE" | "GROUP")) => Some((true, false)),
            ("ROLE" | "USER", _) => Some((false, false)),
            ("ADMIN", _) => Some((false, true)),
            _ => None,
        };
        if let Some((member_of, admin)) = membership {
            let (names, end) = name_list(tokens, i + usize::from(keyword == "IN"));
            for other in names {
                let (granted, member) =
                    if member_of { (other, role.to_owned()) } else { (role.to_owned(), other) };
                saved.memberships.push(SavedMembership { role: granted, member, admin });
            }
            i = end;
            continue;
        }
        let entry = saved.roles.entry(role.to_owned()).or_default();
        i = attribute(entry, keyword, tokens, i);
    }
}

/// One attribute keyword (the token before `i`); returns the index after its value.
fn attribute(entry: &mut SavedRole, keyword: &str, tokens: &[Tok], i: usize) -> usize {
    let refuse = |entry: &mut SavedRole, what: String| {
        if !entry.refused.contains(&what) {
            entry.refused.push(what);
        }
    };
    match keyword {
        "LOGIN" | "NOLOGIN" => entry.login = Some(keyword == "LOGIN"),
        "INHERIT" | "NOINHERIT" => entry.inherit = Some(keyword == "INHERIT"),
        "ENCRYPTED" | "UNENCRYPTED" => {}
        // The password's value (a string or NULL) is skipped, never kept.
        "PASSWORD" | "SYSID" => return i + 1,
        "CONNECTION" if word_at(tokens, i) == Some("LIMIT") => {
            let (limit, end) = signed_number(tokens, i + 1);
            match limit.filter(|n| *n >= -1) {
                Some(n) => entry.connection_limit = Some(n),
                None => refuse(entry, "a CONNECTION LIMIT that is not a number".into()),
            }
            return end;
        }
        "VALID" if word_at(tokens, i) == Some("UNTIL") => {
            let value = match tokens.get(i + 1) {
                Some(Tok::Str(text)) => valid_until(text),
                _ => None,
            };
            match value {
                Some(value) => entry.valid_until = Some(value),
                None => refuse(entry, "a VALID UNTIL that is not a timestamp".into()),
            }
            return i + 2;
        }
        _ if REFUSED.contains(&keyword) => refuse(entry, keyword.to_owned()),
        _ if keyword.strip_prefix("NO").is_some_and(|k| REFUSED.contains(&k)) => {
            let granted = &keyword[2..];
            entry.refused.retain(|r| r != granted);
        }
        other => refuse(entry, format!("the option {other}")),
    }
    i
}

/// An integer with an optional sign from `i`, and the index after it.
fn signed_number(tokens: &[Tok], i: usize) -> (Option<i32>, usize) {
    let negative = tokens.get(i) == Some(&Tok::Punct('-'));
    let at = i + usize::from(negative);
    match tokens.get(at) {
        Some(Tok::Num(digits)) => {
            let n = digits.parse::<i32>().ok().map(|n| if negative { -n } else { n });
            (n, at + 1)
        }
        _ => (None, at),
    }
}

/// A `VALID UNTIL` value as Lifeboat writes it: `infinity`, `-infinity`, or the timestamp
/// (ISO, with an offset, as pg_dumpall writes it) in UTC. None for anything else.
fn valid_until(text: &str) -> Option<String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("infinity") || text.eq_ignore_ascii_case("-infinity") {
        return Some(text.to_ascii_lowercase());
    }
    ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"].iter().find_map(|format| {
        let at = DateTime::parse_from_str(text, format).ok()?.with_timezone(&Utc);
        Some(at.format("%Y-%m-%d %H:%M:%S%.f+00").to_string())
    })
}

/// `GRANT role[, …] TO member[, …] [WITH ADMIN OPTION | WITH ADMIN TRUE, …] [GRANTED BY …]`;
/// privilege grants (`… ON …`) are not memberships.
fn grant(saved: &mut SavedRoles, tokens: &[Tok]) {
    let (roles, to) = name_list(tokens, 1);
    if roles.is_empty() || word_at(tokens, to) != Some("TO") {
        return;
    }
    let (members, mut i) = name_list(tokens, to + 1);
    let mut admin = false;
    if word_at(tokens, i) == Some("WITH") {
        i += 1;
        while let Some(option) = word_at(tokens, i) {
            if option == "GRANTED" {
                break;
            }
            let value = word_at(tokens, i + 1);
            if option == "ADMIN" && matches!(value, Some("OPTION" | "TRUE" | "ON")) {
                admin = true;
            }
            i += 2;
            if tokens.get(i) == Some(&Tok::Punct(',')) {
                i += 1;
            }
        }
    }
    for role in &roles {
        for member in &members {
            saved.memberships.push(SavedMembership {
                role: role.clone(),
                member: member.clone(),
                admin,
            });
        }
    }
}

/// The statement that recreates `role` from its allow-listed attributes only, every part
/// written by Lifeboat: `CREATE ROLE "name" WITH LOGIN INHERIT CONNECTION LIMIT 5 VALID UNTIL
/// '…'`.
pub fn create_statement(role: &str, saved: &SavedRole) -> String {
    let mut sql = format!("CREATE ROLE {} WITH", quote_ident(role));
    sql.push_str(if saved.login == Some(true) { " LOGIN" } else { " NOLOGIN" });
    sql.push_str(if saved.inherit == Some(false) { " NOINHERIT" } else { " INHERIT" });
    if let Some(limit) = saved.connection_limit {
        sql.push_str(&format!(" CONNECTION LIMIT {limit}"));
    }
    if let Some(until) = &saved.valid_until {
        sql.push_str(&format!(" VALID UNTIL {}", quote_literal(until)));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As pg_dumpall 18 writes it.
    const GLOBALS: &str = "\\restrict abc\n\
        SET default_transaction_read_only = off;\n\
        CREATE ROLE \"Odd Role\";\n\
        ALTER ROLE \"Odd Role\" WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5;\n\
        CREATE ROLE ghost;\n\
        ALTER ROLE ghost WITH NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:x' VALID UNTIL '2031-02-03 04:05:06+02';\n\
        COMMENT ON ROLE ghost IS 'a ghost';\n\
        CREATE ROLE su;\n\
        ALTER ROLE su WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;\n\
        GRANT ghost TO \"Odd Role\" WITH INHERIT TRUE GRANTED BY postgres;\n\
        GRANT SELECT ON TABLE t TO ghost;\n\
        \\unrestrict abc\n";

    fn member(role: &str, member: &str, admin: bool) -> SavedMembership {
        SavedMembership { role: role.into(), member: member.into(), admin }
    }

    #[test]
    fn a_real_globals_file_gives_attributes_and_memberships_without_passwords() {
        let saved = parse(GLOBALS);
        assert_eq!(saved.roles.keys().collect::<Vec<_>>(), ["Odd Role", "ghost", "su"]);
        let odd = &saved.roles["Odd Role"];
        assert_eq!(
            (odd.login, odd.inherit, odd.connection_limit),
            (Some(true), Some(true), Some(5))
        );
        assert_eq!(odd.refused, ["CREATEDB"]);
        let ghost = &saved.roles["ghost"];
        assert_eq!(ghost.valid_until.as_deref(), Some("2031-02-03 02:05:06+00"));
        assert!(ghost.refused.is_empty(), "{:?}", ghost.refused);
        assert!(!format!("{saved:?}").contains("SCRAM"), "no password is kept");
        assert_eq!(saved.roles["su"].refused, ["SUPERUSER"]);
        assert_eq!(saved.memberships, [member("ghost", "Odd Role", false)]);
    }

    #[test]
    fn the_statement_holds_only_allow_listed_attributes() {
        let saved = parse(GLOBALS);
        assert_eq!(
            create_statement("su", &saved.roles["su"]),
            "CREATE ROLE \"su\" WITH NOLOGIN INHERIT"
        );
        assert_eq!(
            create_statement("Odd Role", &saved.roles["Odd Role"]),
            "CREATE ROLE \"Odd Role\" WITH LOGIN INHERIT CONNECTION LIMIT 5"
        );
        assert_eq!(
            create_statement("ghost", &saved.roles["ghost"]),
            "CREATE ROLE \"ghost\" WITH NOLOGIN NOINHERIT VALID UNTIL '2031-02-03 02:05:06+00'"
        );
        let name = "x\" SUPERUSER; DROP ROLE postgres; --";
        assert_eq!(
            create_statement(name, &SavedRole::default()),
            "CREATE ROLE \"x\"\" SUPERUSER; DROP ROLE postgres; --\" WITH NOLOGIN INHERIT"
        );
    }

    #[test]
    fn every_power_an_attribute_can_give_is_refused() {
        let saved = parse(
            "CREATE ROLE evil WITH SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS LOGIN;\n\
             CREATE USER evil2 CREATEUSER;\n\
             ALTER ROLE evil3 SUPERUSER;\n\
             ALTER ROLE evil4 WITH SUPERUSER NOSUPERUSER;",
        );
        assert_eq!(
            saved.roles["evil"].refused,
            ["SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"]
        );
        assert_eq!(saved.roles["evil"].login, Some(true));
        assert_eq!(saved.roles["evil2"].refused, ["CREATEUSER"]);
        assert_eq!(saved.roles["evil2"].login, Some(true), "CREATE USER logs in");
        assert_eq!(saved.roles["evil3"].refused, ["SUPERUSER"]);
        assert!(saved.roles["evil4"].refused.is_empty(), "the last word counts");
        for (role, saved) in &saved.roles {
            let sql = create_statement(role, saved);
            let words =
                ["SUPERUSER", "REPLICATION", "BYPASSRLS", "CREATEDB", "CREATEROLE", "USER "];
            assert!(words.iter().all(|w| !sql.contains(w)), "{sql}");
        }
    }

    #[test]
    fn statements_after_a_role_on_the_same_line_are_their_own() {
        let saved = parse(
            "CREATE ROLE evil; ALTER ROLE evil WITH SUPERUSER; DROP DATABASE prod;\n\
             ALTER ROLE evil WITH LOGIN; GRANT postgres TO evil GRANTED BY postgres; SELECT 1;",
        );
        assert_eq!(saved.roles.keys().collect::<Vec<_>>(), ["evil"]);
        assert_eq!(saved.roles["evil"].refused, ["SUPERUSER"]);
        assert_eq!(saved.roles["evil"].login, Some(true), "a later ALTER adds to the first");
        assert_eq!(saved.memberships, [member("postgres", "evil", false)]);
    }

    #[test]
    fn membership_clauses_and_grants_are_all_read_as_memberships() {
        let saved = parse(
            "CREATE ROLE evil IN ROLE pg_execute_server_program, postgres ROLE alice ADMIN bob;\n\
             CREATE ROLE evil2 IN GROUP pg_read_server_files USER carol;\n\
             GRANT pg_write_server_files TO evil WITH ADMIN OPTION;\n\
             GRANT a, \"B\" TO c, d WITH ADMIN TRUE, INHERIT FALSE GRANTED BY postgres;\n\
             GRANT SELECT, UPDATE ON TABLE t TO evil;\n\
             GRANT ALL ON SCHEMA s TO evil WITH GRANT OPTION;\n\
             ALTER GROUP staff ADD USER evil, \"Other\";",
        );
        let expected = [
            member("pg_execute_server_program", "evil", false),
            member("postgres", "evil", false),
            member("evil", "alice", false),
            member("evil", "bob", true),
            member("pg_read_server_files", "evil2", false),
            member("evil2", "carol", false),
            member("pg_write_server_files", "evil", true),
            member("a", "c", true),
            member("a", "d", true),
            member("B", "c", true),
            member("B", "d", true),
            member("staff", "evil", false),
            member("staff", "Other", false),
        ];
        assert_eq!(saved.memberships, expected);
        assert!(saved.roles["evil"].refused.is_empty(), "{:?}", saved.roles["evil"].refused);
    }

    #[test]
    fn role_settings_are_never_kept_and_are_named() {
        let saved = parse(
            "ALTER ROLE evil SET session_preload_libraries = '/tmp/evil.so';\n\
             ALTER ROLE evil IN DATABASE prod SET local_preload_libraries TO 'evil';\n\
             ALTER ROLE evil SET plpgsql.extra_warnings = 'all';\n\
             ALTER ROLE evil SET search_path = public; ALTER ROLE evil RESET ALL;\n\
             ALTER ROLE ALL SET log_statement = 'all';",
        );
        assert_eq!(
            saved.roles["evil"].refused,
            [
                "the setting session_preload_libraries",
                "the setting local_preload_libraries",
                "the setting plpgsql.extra_warnings",
                "the setting search_path",
            ]
        );
        assert_eq!(
            create_statement("evil", &saved.roles["evil"]),
            "CREATE ROLE \"evil\" WITH NOLOGIN INHERIT"
        );
    }

    #[test]
    fn quotes_comments_and_backslash_lines_hide_nothing_and_add_nothing() {
        let saved = parse(
            "CREATE ROLE \"semi;\nALTER ROLE x WITH SUPERUSER\";\n\
             -- ALTER ROLE y WITH SUPERUSER;\n\
             /* ALTER ROLE y WITH SUPERUSER; /* nested; */ ALTER ROLE y WITH SUPERUSER; */\n\
             COMMENT ON ROLE z IS 'a; ALTER ROLE z WITH SUPERUSER';\n\
             COMMENT ON ROLE z IS E'it\\'s; ALTER ROLE z WITH SUPERUSER';\n\
             DO $x$ BEGIN ALTER ROLE z WITH SUPERUSER; END $x$;\n\
             ALTER ROLE w WITH PASSWORD 'SUPERUSER; ALTER ROLE w WITH SUPERUSER' LOGIN;\n\
             ALTER ROLE v WITH PASSWORD NULL; \\! touch /tmp/canary\n\
             ALTER ROLE v WITH LOGIN SELECT 1 \\gexec\n\
             ALTER ROLE \"q\"\"uote\" WITH VALID UNTIL '2030'' SUPERUSER' CONNECTION LIMIT 99999999999;",
        );
        assert_eq!(
            saved.roles.keys().collect::<Vec<_>>(),
            ["q\"uote", "semi;\nALTER ROLE x WITH SUPERUSER", "v", "w"]
        );
        assert!(saved.roles["semi;\nALTER ROLE x WITH SUPERUSER"].refused.is_empty());
        assert_eq!(saved.roles["w"].login, Some(true));
        assert!(saved.roles["w"].refused.is_empty(), "{:?}", saved.roles["w"].refused);
        assert_eq!(saved.roles["v"].refused, ["the option SELECT"]);
        assert_eq!(
            saved.roles["q\"uote"].refused,
            ["a VALID UNTIL that is not a timestamp", "a CONNECTION LIMIT that is not a number"]
        );
        assert!(saved.memberships.is_empty());
    }

    #[test]
    fn allow_listed_values_are_checked_and_rewritten() {
        let saved = parse(
            "ALTER ROLE a WITH CONNECTION LIMIT -1 VALID UNTIL 'infinity';\n\
             ALTER ROLE b WITH CONNECTION LIMIT -5 VALID UNTIL '2030-01-01 00:00:00.25-05:30';\n\
             ALTER ROLE c WITH VALID UNTIL 'now'; ALTER ROLE d WITH VALID UNTIL now();\n\
             CREATE ROLE ÉVIL;",
        );
        assert_eq!(saved.roles["a"].connection_limit, Some(-1));
        assert_eq!(saved.roles["a"].valid_until.as_deref(), Some("infinity"));
        assert_eq!(saved.roles["b"].connection_limit, None);
        assert_eq!(saved.roles["b"].valid_until.as_deref(), Some("2030-01-01 05:30:00.250+00"));
        assert_eq!(saved.roles["c"].refused, ["a VALID UNTIL that is not a timestamp"]);
        assert!(saved.roles["d"].refused.contains(&"a VALID UNTIL that is not a timestamp".into()));
        assert!(saved.roles.contains_key("Évil"), "only ASCII letters are folded");
    }
}
