//! Quoting for SQL text Lifeboat builds itself. Identifiers are always quoted, so that names
//! with capitals, spaces or quotes mean exactly what the user chose.

/// `name` as a quoted identifier: `Odd "x"` → `"Odd ""x"""`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a string literal (standard_conforming_strings, the default since 9.1).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote_ident("Odd \"x\""), "\"Odd \"\"x\"\"\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
