//! The user's own smoke checks: SQL queries with an expectation (e.g. `SELECT count(*) FROM
//! users` at least 1; "a query returns at least one row"), saved per database name, and how a
//! result is judged. `pg::smoke` runs them against the scratch database of a restore drill.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::storage::context::Ctx;

/// What a smoke check's query must give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expectation {
    /// At least one row.
    Rows,
    /// No row at all.
    NoRows,
    /// The first column of the first row is a number of at least `value`.
    AtLeast { value: i64 },
    /// The first column of the first row is exactly `value` (as text).
    Equals { value: String },
}

impl Expectation {
    pub fn describe(&self) -> String {
        match self {
            Expectation::Rows => "at least one row".into(),
            Expectation::NoRows => "no rows".into(),
            Expectation::AtLeast { value } => format!("a value of at least {value}"),
            Expectation::Equals { value } => format!("the value {value}"),
        }
    }

    /// Parses the CLI's form: `rows`, `no-rows`, `at-least:N`, `equals:TEXT`.
    pub fn parse(text: &str) -> Option<Expectation> {
        match text.split_once(':') {
            None if text == "rows" => Some(Expectation::Rows),
            None if text == "no-rows" => Some(Expectation::NoRows),
            Some(("at-least", n)) => {
                n.trim().parse().ok().map(|value| Expectation::AtLeast { value })
            }
            Some(("equals", value)) => Some(Expectation::Equals { value: value.to_owned() }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SmokeCheck {
    /// A name for people, e.g. "there are users".
    pub label: String,
    pub sql: String,
    pub expect: Expectation,
}

/// The outcome of one smoke check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeResult {
    pub passed: bool,
    /// What the query gave, e.g. "3 rows; first value 42", or its error.
    pub actual: String,
}

/// The smoke checks saved for databases named `database`, in order.
pub fn list(ctx: &Ctx, database: &str) -> Result<Vec<SmokeCheck>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare(
            "SELECT label, sql, expectation FROM smoke_checks WHERE database = ?1 \
             ORDER BY position, id",
        )
        .map_err(|e| ctx.store.error(e))?;
    let rows = statement
        .query_map(params![database], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(|e| ctx.store.error(e))?;
    let mut checks = Vec::new();
    for row in rows {
        let (label, sql, expectation) = row.map_err(|e| ctx.store.error(e))?;
        let expect = serde_json::from_str(&expectation).map_err(|e| Error::InvalidInput {
            field: "smoke check",
            problem: format!("the saved expectation of \"{label}\" cannot be read: {e}"),
        })?;
        checks.push(SmokeCheck { label, sql, expect });
    }
    Ok(checks)
}

/// Replaces the smoke checks of databases named `database`.
pub fn save(ctx: &Ctx, database: &str, checks: &[SmokeCheck]) -> Result<()> {
    for check in checks {
        if check.sql.trim().is_empty() {
            return Err(Error::InvalidInput {
                field: "smoke check",
                problem: format!("\"{}\" has no SQL", check.label),
            });
        }
    }
    let mut conn = ctx.store.conn();
    let tx = conn.transaction().map_err(|e| ctx.store.error(e))?;
    tx.execute("DELETE FROM smoke_checks WHERE database = ?1", params![database])
        .map_err(|e| ctx.store.error(e))?;
    for (position, check) in checks.iter().enumerate() {
        let label = if check.label.trim().is_empty() {
            check.sql.trim().to_owned()
        } else {
            check.label.trim().to_owned()
        };
        tx.execute(
            "INSERT INTO smoke_checks (database, position, label, sql, expectation) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                database,
                position as i64,
                label,
                check.sql.trim(),
                serde_json::to_string(&check.expect).expect("serializable")
            ],
        )
        .map_err(|e| ctx.store.error(e))?;
    }
    tx.commit().map_err(|e| ctx.store.error(e))
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ListSmokeChecks {
    pub database: String,
}

/// The smoke checks saved for a database name (the wizard's editor).
pub async fn list_checks(ctx: &Ctx, input: ListSmokeChecks) -> Result<Vec<SmokeCheck>> {
    list(ctx, &input.database)
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SaveSmokeChecks {
    pub database: String,
    pub checks: Vec<SmokeCheck>,
}

/// Replaces the smoke checks saved for a database name.
pub async fn save_checks(ctx: &Ctx, input: SaveSmokeChecks) -> Result<Vec<SmokeCheck>> {
    save(ctx, &input.database, &input.checks)?;
    list(ctx, &input.database)
}

pub(crate) fn judge(expect: &Expectation, rows: usize, first: Option<&str>) -> SmokeResult {
    let actual = match (rows, first) {
        (0, _) => "no rows".to_owned(),
        (1, Some(value)) => format!("1 row; value {value}"),
        (1, None) => "1 row; value NULL".to_owned(),
        (n, Some(value)) => format!("{n} rows; first value {value}"),
        (n, None) => format!("{n} rows; first value NULL"),
    };
    let passed = match expect {
        Expectation::Rows => rows > 0,
        Expectation::NoRows => rows == 0,
        Expectation::AtLeast { value } => {
            first.and_then(|v| v.trim().parse::<f64>().ok()).is_some_and(|v| v >= *value as f64)
        }
        Expectation::Equals { value } => first == Some(value.as_str()),
    };
    SmokeResult { passed, actual }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_judge_rows_and_the_first_value() {
        assert!(judge(&Expectation::Rows, 2, Some("x")).passed);
        assert!(!judge(&Expectation::Rows, 0, None).passed);
        assert!(judge(&Expectation::NoRows, 0, None).passed);
        let at_least = Expectation::AtLeast { value: 1 };
        assert!(judge(&at_least, 1, Some("3")).passed);
        let zero = judge(&at_least, 1, Some("0"));
        assert!(!zero.passed);
        assert_eq!(zero.actual, "1 row; value 0");
        assert!(!judge(&at_least, 1, Some("abc")).passed);
        assert!(!judge(&at_least, 1, None).passed);
        assert!(judge(&Expectation::Equals { value: "ok".into() }, 1, Some("ok")).passed);
    }

    #[test]
    fn the_cli_form_parses() {
        assert_eq!(Expectation::parse("rows"), Some(Expectation::Rows));
        assert_eq!(Expectation::parse("no-rows"), Some(Expectation::NoRows));
        assert_eq!(Expectation::parse("at-least:5"), Some(Expectation::AtLeast { value: 5 }));
        assert_eq!(
            Expectation::parse("equals:a:b"),
            Some(Expectation::Equals { value: "a:b".into() })
        );
        assert_eq!(Expectation::parse("at-least:x"), None);
        assert_eq!(Expectation::parse("sometimes"), None);
    }
}
