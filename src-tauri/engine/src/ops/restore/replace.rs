//! The last step of a replace: the restored database takes the replaced one's name, which is
//! kept under another name, never dropped.

use std::collections::HashSet;

use crate::base::error::{Error, Result};
use crate::pg::admin::rename_database;
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::storage::context::Ctx;
use crate::storage::profiles::Profile;

/// Gives the restored database `new` the name `old`, which is kept as `kept`: both renames from
/// the maintenance database; when the second fails, the first is undone. Sessions on `old` are
/// ended first when `terminate`; sessions of the finished restore on `new` always.
pub(super) async fn swap(
    ctx: &Ctx,
    profile: &Profile,
    new: &str,
    old: &str,
    kept: &str,
    terminate: bool,
) -> Result<()> {
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let failed = |detail: String| Error::ReplaceFailed { database: old.to_owned(), detail };
    rename_database(&client, old, kept, terminate).await.map_err(|detail| {
        failed(format!("renaming {old} to {kept} failed ({detail}); {old} was not changed"))
    })?;
    if let Err(detail) = rename_database(&client, new, old, true).await {
        let undo = match rename_database(&client, kept, old, false).await {
            Ok(()) => format!("{old} has its name back"),
            Err(undo) => format!("{old} could not get its name back ({undo}): it is now {kept}"),
        };
        return Err(failed(format!("renaming {new} to {old} failed ({detail}); {undo}")));
    }
    Ok(())
}

/// Swaps in a database restored earlier next to the live one (the Recover wizard's last step):
/// the same renames a replace makes at its end, `live` kept as `<live>_before_YYYYMMDD-HHMMSS`
/// and `restored` renamed to `live`. Returns the name `live` is kept under.
pub(crate) async fn swap_in(
    ctx: &Ctx,
    profile: &Profile,
    restored: &str,
    live: &str,
    terminate: bool,
) -> Result<String> {
    let refuse = |detail: String| Error::SwapFailed {
        live: live.to_owned(),
        restored: restored.to_owned(),
        detail,
    };
    if restored == live {
        return Err(refuse("they are the same database; nothing was changed".into()));
    }
    if live == profile.settings.maintenance_db {
        return Err(refuse(format!(
            "{live} is the maintenance database of the profile \"{}\", which Lifeboat renames \
             databases from; set another maintenance database (e.g. postgres) in the profile. \
             Nothing was changed",
            profile.settings.name
        )));
    }
    let spec = ConnectSpec::for_profile(ctx, profile, &profile.settings.maintenance_db)?;
    let client = connect(&spec).await?;
    let taken: HashSet<String> = client
        .query("SELECT datname::text FROM pg_database", &[])
        .await
        .map_err(|e| query_error(&e))?
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect();
    drop(client);
    for name in [live, restored] {
        if !taken.contains(name) {
            return Err(refuse(format!("there is no database {name}; nothing was changed")));
        }
    }
    let now = chrono::Local::now().naive_local();
    let kept = super::plan::free_name(&super::plan::kept_name(live, now), &taken);
    swap(ctx, profile, restored, live, &kept, terminate).await.map_err(|error| match error {
        Error::ReplaceFailed { detail, .. } => refuse(detail),
        other => other,
    })?;
    Ok(kept)
}
