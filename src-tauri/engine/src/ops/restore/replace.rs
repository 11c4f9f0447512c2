//! The last step of a replace: the restored database takes the replaced one's name, which is
//! kept under another name, never dropped.

use crate::base::error::{Error, Result};
use crate::pg::admin::rename_database;
use crate::pg::connect::{ConnectSpec, connect};
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
