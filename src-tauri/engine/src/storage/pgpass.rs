//! Passwords from the environment, for profiles that do not use the keychain: `PGPASSWORD`, then
//! the password file (`PGPASSFILE`, else `~/.pgpass`, on Windows `%APPDATA%\postgresql\pgpass.conf`).

use std::path::PathBuf;

use crate::util::secret::Secret;

pub fn from_environment(host: &str, port: u16, dbname: &str, user: &str) -> Option<Secret> {
    if let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Some(Secret::new(password.to_string_lossy()));
    }
    let text = std::fs::read_to_string(password_file()?).ok()?;
    lookup(&text, host, port, dbname, user)
}

fn password_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(path));
    }
    if cfg!(windows) {
        std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("postgresql").join("pgpass.conf"))
    } else {
        dirs::home_dir().map(|home| home.join(".pgpass"))
    }
}

/// The first line whose host, port, database and user match (`*` matches anything; `\:` and
/// `\\` are escapes), as libpq reads the file.
fn lookup(text: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<Secret> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches =
            fields[..4].iter().zip(wanted).all(|(field, value)| field == "*" || field == value);
        if matches {
            return Some(Secret::new(fields[4].clone()));
        }
    }
    None
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_libpq_rules() {
        let file = "# comment\nother:5432:*:admin:nope\ndb.test:5432:*:admin:pa\\:ss\\\\word\n*:*:*:*:fallback\n";
        assert_eq!(lookup(file, "db.test", 5432, "shop", "admin").unwrap().expose(), "pa:ss\\word");
        assert_eq!(lookup(file, "db.test", 5433, "shop", "admin").unwrap().expose(), "fallback");
        assert!(
            lookup("a:1:b:c\n", "a", 1, "b", "c").is_none(),
            "a line without a password is skipped"
        );
    }
}
