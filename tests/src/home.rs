//! A Lifeboat data folder for a test: the engine context on a fresh `LIFEBOAT_HOME`-like folder,
//! with the real keychain, and profiles for harness servers.

use std::path::Path;
use std::sync::Arc;

use lifeboat_engine::base::tools::Toolbox;
use lifeboat_engine::ops::backup::{BackupFormat, BackupScope, StartBackup};
use lifeboat_engine::storage::keychain::OsKeychain;
use lifeboat_engine::storage::profiles::{
    AddProfile, PasswordSource, ProfileSettings, SslMode, add_profile,
};
use lifeboat_engine::{Ctx, DataDir};

use crate::pg::{PgServer, SUPERUSER, toolbox};

pub struct TestHome {
    /// Removed when the test ends.
    pub dir: tempfile::TempDir,
    pub ctx: Ctx,
}

/// A fresh data folder with every bundled major.
pub fn test_home() -> TestHome {
    test_home_with(toolbox())
}

pub fn test_home_with(tools: Toolbox) -> TestHome {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::open(DataDir::at(dir.path().to_owned()).unwrap(), tools, Arc::new(OsKeychain))
        .unwrap();
    TestHome { dir, ctx }
}

/// Settings for `server` as the superuser. The password comes from the environment: trusting
/// test servers need none, so the keychain is not involved (keychain.rs tests it on purpose).
pub fn server_settings(name: &str, server: &PgServer) -> ProfileSettings {
    ProfileSettings {
        name: name.into(),
        host: "127.0.0.1".into(),
        port: server.port,
        user: SUPERUSER.into(),
        maintenance_db: "postgres".into(),
        sslmode: SslMode::Prefer,
        root_cert: None,
        password_source: PasswordSource::Environment,
        allow_cleartext_password: false,
    }
}

/// Adds the profile `name` for `server` (see [`server_settings`]).
pub async fn add_server_profile(ctx: &Ctx, name: &str, server: &PgServer) {
    add_profile(ctx, AddProfile { settings: server_settings(name, server), password: None })
        .await
        .unwrap();
}

/// A database filled by `sql` on the shared server of `major`, and a data folder whose profile
/// "prod" points at that server, with a folder for backups.
pub struct ProdFixture {
    pub home: TestHome,
    pub out: tempfile::TempDir,
    pub server: PgServer,
    pub db: String,
}

pub async fn prod_fixture(major: u32, prefix: &str, sql: &str) -> ProdFixture {
    let server = PgServer::shared(major);
    let db = server.create_database(prefix).await;
    server.client(&db).await.batch_execute(sql).await.unwrap();
    let home = test_home();
    add_server_profile(&home.ctx, "prod", &server).await;
    ProdFixture { home, out: tempfile::tempdir().unwrap(), server, db }
}

/// A backup of the whole `database` through `profile` into `out`: no filters, one file, no
/// globals (tests change the fields they need).
pub fn backup_request(
    profile: &str,
    database: &str,
    out: &Path,
    format: BackupFormat,
) -> StartBackup {
    StartBackup {
        profile: profile.into(),
        database: database.into(),
        destination: out.display().to_string(),
        format,
        compression: None,
        scope: BackupScope::default(),
        per_schema: false,
        jobs: None,
        globals: false,
        role_passwords: false,
        keep_needed: false,
        leave_out_dependents: false,
    }
}
