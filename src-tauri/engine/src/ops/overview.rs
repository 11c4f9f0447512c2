//! The database dashboard and the backups view: facts gathered once from the catalog, the
//! schedules, the watch and the server, so that the desktop's dashboard and `lifeboat status`
//! show the same; and every backup of the catalog with the state of its files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, ErrorPayload, Result};
use crate::ops::browse::{DatabaseInfo, ListDatabases, list_databases};
use crate::ops::copy::backup_files;
use crate::ops::schedule::{self, ScheduleSummary};
use crate::ops::watch::{self, Attention, DateTime, FixedOffset, Readiness, WatchRequest};
use crate::storage::catalog::{
    self, BackupRecord, BackupStatus, CatalogQuery, DrillRecord, query_catalog,
};
use crate::storage::context::Ctx;
use crate::storage::profiles;

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OverviewRequest {
    pub profile: String,
    pub database: String,
    /// Test hook: the watch's clock. Not reachable from the GUI or the CLI.
    #[serde(skip)]
    #[specta(skip)]
    pub now: Option<DateTime<FixedOffset>>,
}

/// Everything the dashboard of one database shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// The database as the server has it now (size, owner, encoding); absent when the server
    /// could not be asked (`server_problem`) or has no such database (`on_server` false).
    pub live: Option<DatabaseInfo>,
    /// Whether the server has the database; absent when it could not be asked.
    pub on_server: Option<bool>,
    /// Why the server could not be asked.
    pub server_problem: Option<ErrorPayload>,
    /// The newest finished backup whose files were not deleted.
    pub last_backup: Option<BackupRecord>,
    /// The newest backup attempt when it is not `last_backup` (one that failed, was cancelled
    /// or is running).
    pub last_attempt: Option<BackupRecord>,
    /// The newest test of any of its backups, with its certificate.
    pub last_test: Option<DrillRecord>,
    /// The catalog number of the backup `last_test` tested.
    pub last_test_backup_id: Option<i64>,
    /// Finished backups whose files are kept, and their size.
    pub backups_kept: u32,
    pub kept_bytes: i64,
    /// Whether some kept backup passed its last test (Recover has something to restore).
    pub recoverable: bool,
    /// The schedules that back it up.
    pub schedules: Vec<ScheduleSummary>,
    /// What needs attention for it (the watch's items), most severe first.
    pub attention: Vec<Attention>,
    /// How much would be lost, and how long a restore took.
    pub readiness: Option<Readiness>,
}

/// The dashboard of one database: catalog, schedules and watch, plus the live facts from the
/// server (an unreachable server is reported in the overview, not as an error).
pub async fn database_overview(ctx: &Ctx, request: OverviewRequest) -> Result<Overview> {
    let profile = profiles::find_profile(ctx, &request.profile)?;
    let (host, port) = (profile.settings.host.clone(), profile.settings.port);
    let name = profile.settings.name.clone();
    let database = request.database.trim().to_owned();
    let (live, on_server, server_problem) =
        match list_databases(ctx, ListDatabases { profile: name.clone() }).await {
            Ok(all) => {
                let live = all.into_iter().find(|d| d.name == database);
                let present = live.is_some();
                (live, Some(present), None)
            }
            Err(error) => (None, None, Some(error.payload())),
        };
    let rows = catalog::backups_of(ctx, &host, port, &database)?;
    let kept: Vec<&BackupRecord> = rows.iter().filter(|b| b.is_kept()).collect();
    let last_backup = kept.first().map(|b| (*b).clone());
    let last_attempt = rows
        .iter()
        .find(|b| b.status != BackupStatus::Finished)
        .filter(|attempt| last_backup.as_ref().is_none_or(|b| attempt.started_at > b.started_at))
        .cloned();
    let manifests: Vec<&str> = kept.iter().filter_map(|b| b.manifest_path.as_deref()).collect();
    let last_test = catalog::drills_of(ctx, &manifests)?.into_iter().next();
    let last_test_backup_id = last_test
        .as_ref()
        .and_then(|t| kept.iter().find(|b| b.manifest_path == t.manifest_path).map(|b| b.id));
    let schedules = schedule::list(ctx)
        .await?
        .into_iter()
        .filter(|s| {
            s.schedule.database == database && s.schedule.profile.eq_ignore_ascii_case(&name)
        })
        .collect();
    let report =
        watch::watch(ctx, WatchRequest { database: Some(database.clone()), now: request.now })
            .await?;
    let here = |d: &watch::DatabaseRef| d.host == host && d.port == port && d.database == database;
    Ok(Overview {
        attention: report.items.into_iter().filter(|i| here(&i.database)).collect(),
        readiness: report.databases.into_iter().find(|r| here(&r.database)),
        backups_kept: kept.len() as u32,
        kept_bytes: kept.iter().filter_map(|b| b.size_bytes).sum(),
        recoverable: kept.iter().any(|b| b.test_status == "tested-ok"),
        profile: name,
        host: host.clone(),
        port,
        database: database.clone(),
        live,
        on_server,
        server_problem,
        last_backup,
        last_attempt,
        last_test,
        last_test_backup_id,
        schedules,
    })
}

/// Which backups the backups view lists.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupsQuery {
    /// Only backups made with this profile (its name, any case).
    pub profile: Option<String>,
    /// Only backups of this database (any server).
    pub database: Option<String>,
    /// Also the backups whose files were deleted (the catalog keeps them as history).
    #[serde(default)]
    pub include_deleted: bool,
    /// At most this many, newest first (default 1000).
    pub limit: Option<u32>,
}

/// The files of a backup on disk, against its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FilesState {
    /// Every file the manifest lists is there with the size it records.
    Present,
    /// The manifest or a file is gone.
    Missing { detail: String },
    /// A file has another size than the manifest records.
    Changed { detail: String },
    /// The manifest cannot be read.
    Unreadable { detail: String },
    /// Not a kept finished backup (running, failed, cancelled or deleted): no files to check.
    None,
}

/// One backup of the backups view.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub backup: BackupRecord,
    pub files: FilesState,
    /// The folder its manifest is in.
    pub folder: Option<String>,
    /// Its newest test, with the certificate.
    pub last_test: Option<DrillRecord>,
}

/// Every backup of the catalog (the rows `lifeboat backups` lists), each with the state of its
/// files and its newest test.
pub async fn backup_entries(ctx: &Ctx, query: BackupsQuery) -> Result<Vec<BackupEntry>> {
    let rows = query_catalog(
        ctx,
        &CatalogQuery {
            database: query.database,
            profile: query.profile,
            limit: query.limit,
            include_deleted: query.include_deleted,
        },
    )?;
    let manifests: Vec<&str> = rows.iter().filter_map(|b| b.manifest_path.as_deref()).collect();
    let drills = catalog::drills_of(ctx, &manifests)?;
    // Reading manifests and sizes of many files is blocking work.
    let entries = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|backup| {
                let manifest = backup.manifest_path.as_deref().map(Path::new);
                BackupEntry {
                    files: files_state(&backup),
                    folder: manifest
                        .and_then(Path::parent)
                        .map(|folder| folder.display().to_string()),
                    last_test: drills
                        .iter()
                        .find(|d| {
                            d.manifest_path.is_some() && d.manifest_path == backup.manifest_path
                        })
                        .cloned(),
                    backup,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Error::Io {
        action: "Looking over the backups",
        path: std::path::PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(entries)
}

/// The files of one backup against its manifest (names and sizes, no checksums: the view lists
/// every backup and must stay quick; a test or `lifeboat verify` reads the checksums).
pub fn files_state(backup: &BackupRecord) -> FilesState {
    if !backup.is_kept() {
        return FilesState::None;
    }
    let Some(manifest) = backup.manifest_path.as_deref().map(Path::new) else {
        return FilesState::Missing { detail: "no manifest was recorded".into() };
    };
    if !manifest.is_file() {
        return FilesState::Missing { detail: format!("{} is not there", manifest.display()) };
    }
    let files = match backup_files(manifest) {
        Ok(files) => files,
        Err(error) => return FilesState::Unreadable { detail: error.to_string() },
    };
    for file in &files.files {
        let path = files.path_of(&file.name);
        match std::fs::metadata(&path) {
            Err(_) => {
                return FilesState::Missing { detail: format!("{} is not there", path.display()) };
            }
            Ok(meta) if meta.is_file() && meta.len() != file.bytes => {
                return FilesState::Changed {
                    detail: format!(
                        "{} has {} bytes, the manifest records {}",
                        path.display(),
                        meta.len(),
                        file.bytes
                    ),
                };
            }
            Ok(_) => {}
        }
    }
    FilesState::Present
}

/// The file the file manager shows for a catalog backup: its manifest, next to its dump files.
/// The window names a backup by its number, never a path.
pub fn backup_to_show(ctx: &Ctx, backup_id: i64) -> Result<PathBuf> {
    let backup = catalog::backup_by_id(ctx, backup_id)?;
    let path = PathBuf::from(backup.manifest_path.as_deref().unwrap_or_default());
    if backup.is_kept() && path.is_file() {
        return Ok(path);
    }
    Err(Error::Io {
        action: "Showing the backup's files",
        path,
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("backup {backup_id} has no files on this computer"),
        ),
    })
}

/// The web page certificate of a test of the catalog, to open in the browser. The window names
/// the test by its number, never a path.
pub fn certificate_to_open(ctx: &Ctx, drill_id: i64) -> Result<PathBuf> {
    let drill = catalog::drill_by_id(ctx, drill_id)?;
    let path = PathBuf::from(drill.and_then(|d| d.certificate_html).unwrap_or_default());
    if path.is_file() && path.extension().is_some_and(|e| e == "html") {
        return Ok(path);
    }
    Err(Error::Io {
        action: "Opening the test's certificate",
        path,
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("the certificate of test {drill_id} is not there"),
        ),
    })
}
