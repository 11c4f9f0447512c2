//! Deleting one backup by hand (the backups view, `lifeboat backups delete`): its files, its
//! manifest and the test certificates beside it go, the same way retention deletes them
//! ([`crate::ops::retention::delete_files`]); the catalog keeps its row, marked deleted by the
//! user, as history. A backup a test or a restore is using is refused: deleting holds the
//! backup's exclusive in-use claim, which each of them holds shared while it runs.

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::ops::retention::delete_files;
use crate::storage::catalog::{self, BackupRecord, BackupStatus, DeletedBy};
use crate::storage::context::Ctx;

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackup {
    /// The backup's number in the catalog (`lifeboat backups` lists them).
    pub backup_id: i64,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeletedBackup {
    /// The catalog row as it is now (with `deletedAt`).
    pub backup: BackupRecord,
    /// The files removed (dumps, globals, certificates, the manifest last).
    pub removed: Vec<String>,
    /// The backup's recorded size.
    pub freed_bytes: u64,
}

/// Deletes a backup's files and marks its catalog row deleted; refuses one in use, one still
/// being made and one deleted already.
pub async fn delete_backup(ctx: &Ctx, input: DeleteBackup) -> Result<DeletedBackup> {
    let subject = format!("backup {}", input.backup_id);
    crate::base::logging::logged("delete_backup", &subject, delete_inner(ctx, input)).await
}

async fn delete_inner(ctx: &Ctx, input: DeleteBackup) -> Result<DeletedBackup> {
    let id = input.backup_id;
    let record = catalog::backup_by_id(ctx, id)?;
    if let Some(at) = &record.deleted_at {
        let reason = format!("its files were deleted already ({at})");
        return Err(Error::BackupNotDeletable { id, reason });
    }
    if record.status == BackupStatus::Running {
        let reason = "it is still being made".to_owned();
        return Err(Error::BackupNotDeletable { id, reason });
    }
    let Some(_claim) = catalog::claim_for_deletion(ctx, id)? else {
        return Err(Error::BackupInUse { id });
    };
    // Under the claim, read the row again: a delete that ran meanwhile has finished.
    let record = catalog::backup_by_id(ctx, id)?;
    if record.deleted_at.is_some() {
        let reason = "its files were deleted meanwhile".to_owned();
        return Err(Error::BackupNotDeletable { id, reason });
    }
    let removed = delete_files(&record)?;
    let now = chrono::Local::now().to_rfc3339();
    catalog::mark_deleted(ctx, id, &now, DeletedBy::User)?;
    catalog::forget_claim(ctx, id);
    Ok(DeletedBackup {
        backup: catalog::backup_by_id(ctx, id)?,
        removed: removed.iter().map(|p| p.display().to_string()).collect(),
        freed_bytes: record.size_bytes.unwrap_or(0).max(0) as u64,
    })
}
