//! The practice database: a first run without a server of one's own. A PostgreSQL server of the
//! newest bundled major that Lifeboat runs itself (`pg::sample_server`, a cluster of its own in
//! `practice/sample/`, apart from the drill's practice server), holding the sample database
//! [`SAMPLE_DATABASE`] (`practice_db.sql`: a small shop), reached through a stored profile named
//! [`PRACTICE_PROFILE`] whose password comes from the cluster's owner-only file rather than the
//! keychain. Backups, test restores and restores then work on it like on any server, from the
//! window and from the command line.
//!
//! [`create_practice_database`] is idempotent: the cluster is made once, the profile once (a
//! renamed one is still found by its password source), the sample database again only when it
//! was dropped; every call leaves the server running.

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::base::progress::{ProgressEvent, ProgressSink};
use crate::ops::practice;
use crate::pg::admin::{self, Created};
use crate::pg::connect::{ConnectSpec, connect, query_error};
use crate::pg::sample_server;
use crate::storage::context::Ctx;
use crate::storage::profiles::{
    self, AddProfile, ListProfiles, PasswordSource, Profile, ProfileSettings, SslMode,
};
use crate::util::private_fs;
use crate::util::quote::quote_ident;

/// The name the practice database's profile gets (with a number when the user has a profile of
/// that name already).
pub const PRACTICE_PROFILE: &str = "Practice";

/// The sample database on the practice server.
pub const SAMPLE_DATABASE: &str = "shop";

/// The sample database's schema and rows.
const SAMPLE_SQL: &str = include_str!("practice_db.sql");

/// The rows of each table of the sample database, as `practice_db.sql` generates them.
pub const SAMPLE_ROWS: [(&str, i64); 13] = [
    ("categories", 12),
    ("suppliers", 20),
    ("products", 200),
    ("customers", 300),
    ("addresses", 360),
    ("warehouses", 3),
    ("stock", 600),
    ("orders", 1000),
    ("order_items", 2500),
    ("payments", 800),
    ("shipments", 600),
    ("reviews", 400),
    ("order_status_history", 1600),
];

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
pub struct PracticeSetup {}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PracticeDatabase {
    /// The stored profile of the practice server (its port as it runs now).
    pub profile: Profile,
    /// The sample database's name.
    pub database: String,
    /// The server's version, e.g. "18.6".
    pub server_version: String,
    /// Whether this call created the profile (else it existed).
    pub created_profile: bool,
    /// Whether this call created the sample database (else it existed).
    pub created_database: bool,
}

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
pub struct PracticeStop {}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PracticeStopped {
    /// Whether the server ran (and was stopped).
    pub was_running: bool,
}

const STAGES: u32 = 3;

fn stage(sink: &dyn ProgressSink, index: u32, name: &str) {
    sink.emit(ProgressEvent::Stage { index, total: STAGES, name: name.to_owned() });
}

/// Makes the practice server, its profile and the sample database when they are missing, and
/// starts the server. Refused as root (PostgreSQL refuses to run as root).
pub async fn create_practice_database(
    ctx: &Ctx,
    _input: PracticeSetup,
    sink: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> Result<PracticeDatabase> {
    let bundle = ctx.tools.practice_server().ok_or(Error::PracticeServerUnavailable)?.clone();
    if practice::running_as_root() {
        return Err(Error::PracticeServerAsRoot);
    }
    let home = profiles::practice_sample_home(ctx);
    private_fs::ensure_private_dir(&home)
        .map_err(|e| Error::writing("Preparing the practice database's folder", &home, e))?;
    let _lock = lock_setup(&home).await?;
    stage(sink, 1, "Preparing the practice server");
    let password_file = home.join("password");
    if !password_file.is_file() || sample_server::cluster_bundle(ctx).is_err() {
        // No cluster yet, one half made, or one of a major this Lifeboat no longer runs.
        practice::init_cluster(
            &bundle,
            &sample_server::data_dir(ctx),
            &password_file,
            sink,
            cancel,
        )
        .await?;
    }
    let (profile, created_profile) = practice_profile(ctx).await?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    stage(sink, 2, "Starting the practice server");
    // The profile's own connection path starts the server.
    let client = connect(&ConnectSpec::for_profile(ctx, &profile, "postgres")?).await?;
    let server_version: String =
        client.query_one("SHOW server_version", &[]).await.map_err(|e| query_error(&e))?.get(0);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&SAMPLE_DATABASE])
        .await
        .map_err(|e| query_error(&e))?
        .is_some();
    let created_database = !exists && {
        stage(sink, 3, "Creating the sample database");
        create_sample(ctx, &profile, &client).await?
    };
    Ok(PracticeDatabase {
        profile: profiles::find_profile(ctx, &profile.settings.name)?,
        database: SAMPLE_DATABASE.to_owned(),
        server_version,
        created_profile,
        created_database,
    })
}

/// Stops the practice database's server when it runs (the next connection starts it again).
pub async fn stop_practice_database(ctx: &Ctx, _input: PracticeStop) -> Result<PracticeStopped> {
    if sample_server::cluster_major(&sample_server::data_dir(ctx)).is_none() {
        return Ok(PracticeStopped { was_running: false });
    }
    Ok(PracticeStopped { was_running: sample_server::stop(ctx)? })
}

/// One setup at a time (a double click, the window and the command line at once).
async fn lock_setup(home: &std::path::Path) -> Result<std::fs::File> {
    let path = home.join("setup.lock");
    let writing = |e| Error::writing("Locking the practice database's folder", &path, e);
    let file = private_fs::open_private(&path, false).map_err(writing)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| writing(std::io::Error::other(e.to_string())))?
        .map_err(writing)
}

/// The stored practice profile, made when there is none.
async fn practice_profile(ctx: &Ctx) -> Result<(Profile, bool)> {
    let all = profiles::list_profiles(ctx, ListProfiles).await?;
    if let Some(found) = all.iter().find(|p| p.settings.password_source == PasswordSource::Practice)
    {
        return Ok((found.clone(), false));
    }
    let taken: Vec<String> = all.into_iter().map(|p| p.settings.name).collect();
    let settings = practice_settings(profile_name(&taken), sample_server::free_port()?);
    let added = profiles::add_profile(ctx, AddProfile { settings, password: None }).await?;
    Ok((added, true))
}

/// [`PRACTICE_PROFILE`], or with the first number that makes it a name no profile has.
fn profile_name(taken: &[String]) -> String {
    let free = |name: &String| !taken.iter().any(|t| t.to_lowercase() == name.to_lowercase());
    std::iter::once(PRACTICE_PROFILE.to_owned())
        .chain((2..).map(|n| format!("{PRACTICE_PROFILE} {n}")))
        .find(free)
        .expect("some number is free")
}

/// The practice server's profile: its superuser on loopback, no TLS (nothing leaves this
/// computer), the password from the cluster's file.
fn practice_settings(name: String, port: u16) -> ProfileSettings {
    ProfileSettings {
        name,
        host: "127.0.0.1".into(),
        port,
        user: practice::PRACTICE_USER.into(),
        maintenance_db: "postgres".into(),
        sslmode: SslMode::Disable,
        root_cert: None,
        password_source: PasswordSource::Practice,
        allow_cleartext_password: false,
    }
}

/// Creates and fills the sample database; one that failed to fill is dropped again. False when
/// another setup created it meanwhile.
async fn create_sample(
    ctx: &Ctx,
    profile: &Profile,
    client: &tokio_postgres::Client,
) -> Result<bool> {
    if let Created::NameTaken(_) =
        admin::create_database(client, SAMPLE_DATABASE, Some("UTF8"), None).await?
    {
        return Ok(false);
    }
    let filled = async {
        let sample = connect(&ConnectSpec::for_profile(ctx, profile, SAMPLE_DATABASE)?).await?;
        let script = format!("BEGIN;\n{SAMPLE_SQL}\nCOMMIT;");
        sample.batch_execute(&script).await.map_err(|e| query_error(&e))
    }
    .await;
    if let Err(error) = filled {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(SAMPLE_DATABASE));
        let _ = client.batch_execute(&drop).await;
        return Err(error);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_named_practice_unless_the_user_has_one_of_that_name() {
        assert_eq!(profile_name(&[]), "Practice");
        assert_eq!(profile_name(&["Shop".into()]), "Practice");
        assert_eq!(profile_name(&["practice".into()]), "Practice 2");
        assert_eq!(profile_name(&["PRACTICE".into(), "Practice 2".into()]), "Practice 3");
    }

    #[test]
    fn the_profile_reaches_the_superuser_on_loopback_without_the_keychain() {
        let settings = practice_settings("Practice".into(), 54321);
        assert_eq!(settings.host, "127.0.0.1");
        assert_eq!(settings.port, 54321);
        assert_eq!(settings.user, practice::PRACTICE_USER);
        assert_eq!(settings.password_source, PasswordSource::Practice);
        assert!(!settings.cleartext_password_allowed());
    }

    #[test]
    fn the_sample_declares_every_table_it_counts() {
        for (table, rows) in SAMPLE_ROWS {
            assert!(SAMPLE_SQL.contains(&format!("CREATE TABLE {table} (")), "{table}");
            assert!(
                SAMPLE_SQL.contains(&format!(" {table} {rows}")),
                "{table} {rows} in the header"
            );
        }
        assert_eq!(SAMPLE_SQL.matches("CREATE TABLE ").count(), SAMPLE_ROWS.len());
        for object in ["CREATE VIEW ", "CREATE FUNCTION ", "CREATE TRIGGER ", "REFERENCES "] {
            assert!(SAMPLE_SQL.contains(object), "{object}");
        }
        // The same everywhere: nothing from the clock or a random generator.
        for unstable in ["random(", "now()", "clock_timestamp", "current_timestamp"] {
            assert!(!SAMPLE_SQL.to_lowercase().contains(unstable), "{unstable}");
        }
    }
}
