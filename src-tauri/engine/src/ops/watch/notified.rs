//! When each item was last notified (the store's `notified` table), so that the same item is
//! notified at most once a day. [`due`] decides with the clock passed in.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset};
use rusqlite::params;

use crate::base::error::Result;
use crate::storage::context::Ctx;

/// The same item is not notified again within this many hours.
pub const QUIET_HOURS: i64 = 24;

/// Whether an item last notified at `last` may be notified again at `now`.
pub fn due(last: Option<DateTime<FixedOffset>>, now: DateTime<FixedOffset>) -> bool {
    match last {
        None => true,
        Some(last) => now - last >= Duration::hours(QUIET_HOURS),
    }
}

/// When each of `keys` was last notified (keys never notified are absent).
pub fn load(ctx: &Ctx, keys: &[&str]) -> Result<HashMap<String, DateTime<FixedOffset>>> {
    let conn = ctx.store.conn();
    let mut statement = conn
        .prepare("SELECT last_at FROM notified WHERE item_key = ?1")
        .map_err(|e| ctx.store.error(e))?;
    let mut found = HashMap::new();
    for key in keys {
        let last: Option<String> = statement
            .query_row(params![key], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| ctx.store.error(e))?;
        if let Some(at) = last.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()) {
            found.insert((*key).to_owned(), at);
        }
    }
    Ok(found)
}

/// Records that `key` was notified at `at`.
pub fn mark(ctx: &Ctx, key: &str, at: DateTime<FixedOffset>) -> Result<()> {
    ctx.store
        .conn()
        .execute(
            "INSERT INTO notified (item_key, last_at) VALUES (?1, ?2) \
             ON CONFLICT (item_key) DO UPDATE SET last_at = ?2",
            params![key, at.to_rfc3339()],
        )
        .map(|_| ())
        .map_err(|e| ctx.store.error(e))
}
