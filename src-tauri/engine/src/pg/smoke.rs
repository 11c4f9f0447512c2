//! Running one of the user's smoke checks against a database.

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::pg::connect::query_error;
use crate::storage::smoke::{SmokeCheck, SmokeResult, judge};

/// Runs one check in a read-only transaction with a time limit, so that a check can neither
/// change the scratch database nor hang the drill.
pub async fn run(client: &Client, check: &SmokeCheck) -> SmokeResult {
    // Preparing refuses several statements ("COMMIT; DELETE …" would leave the read-only
    // transaction); the text protocol then gives every value as text.
    if let Err(error) = client.prepare(&check.sql).await {
        return SmokeResult {
            passed: false,
            actual: format!(
                "the query cannot run: {} (a smoke check is one SELECT)",
                query_error(&error)
            ),
        };
    }
    if let Err(error) =
        client.batch_execute("BEGIN READ ONLY; SET LOCAL statement_timeout = '120s'").await
    {
        return SmokeResult { passed: false, actual: query_error(&error).to_string() };
    }
    let result = client.simple_query(&check.sql).await;
    let _ = client.batch_execute("ROLLBACK").await;
    let messages = match result {
        Ok(messages) => messages,
        Err(error) => {
            return SmokeResult {
                passed: false,
                actual: format!("the query failed: {}", query_error(&error)),
            };
        }
    };
    let rows: Vec<&tokio_postgres::SimpleQueryRow> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect();
    let first = rows.first().and_then(|r| r.get(0)).map(str::to_owned);
    judge(&check.expect, rows.len(), first.as_deref())
}
