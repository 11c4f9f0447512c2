//! Connecting to a server for checks and listings (tokio-postgres, TLS through rustls honouring
//! sslmode), and turning every way a connection fails into a diagnosis with a next step.

use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::base::error::{Error, Result};
use crate::base::tools::ServerVersion;
use crate::pg::tls;
use crate::storage::context::Ctx;
use crate::storage::profiles::{self, Profile, SslMode};
use crate::util::secret::Secret;

/// How long a connection attempt may take before it counts as a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to open one connection.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub sslmode: SslMode,
    pub root_cert: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
}

impl ConnectSpec {
    /// The spec for `profile` on `dbname`, with its password looked up.
    pub fn for_profile(ctx: &Ctx, profile: &Profile, dbname: &str) -> Result<ConnectSpec> {
        let s = &profile.settings;
        Ok(ConnectSpec {
            host: s.host.clone(),
            port: s.port,
            user: s.user.clone(),
            dbname: dbname.to_owned(),
            sslmode: s.sslmode,
            root_cert: s.root_cert.clone(),
            password: profiles::password_for(ctx, profile, dbname)?,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// Opens a connection or says, with an error code, why not.
pub async fn connect(spec: &ConnectSpec) -> Result<Client> {
    // Resolving first tells "no such host" apart from every other failure.
    if !spec.host.starts_with('/')
        && tokio::net::lookup_host((spec.host.as_str(), spec.port)).await.is_err()
    {
        return Err(Error::HostNotFound { host: spec.host.clone() });
    }
    let mut config = tokio_postgres::Config::new();
    config
        .host(&spec.host)
        .port(spec.port)
        .user(&spec.user)
        .dbname(&spec.dbname)
        .application_name("lifeboat")
        .connect_timeout(spec.timeout)
        .ssl_mode(match spec.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
    if let Some(password) = &spec.password {
        config.password(password.expose());
    }
    let attempt = async {
        if spec.sslmode == SslMode::Disable {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(spec)?);
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    };
    let outcome: std::result::Result<Result<Client, ConnectError>, _> =
        tokio::time::timeout(spec.timeout, attempt).await;
    match outcome {
        Err(_elapsed) => Err(timeout_error(spec)),
        Ok(Ok(client)) => Ok(client),
        Ok(Err(ConnectError::Setup(error))) => Err(error),
        Ok(Err(ConnectError::Postgres(error))) => {
            let diagnosis = classify(&error, spec);
            if requires_ssl(&diagnosis, spec).await {
                Err(Error::SslRequired)
            } else {
                Err(diagnosis)
            }
        }
    }
}

/// pg_hba.conf turned away an unencrypted attempt. Whether the server wants SSL or refuses this
/// user outright reads the same ("... no encryption"), so an encrypted attempt tells them apart:
/// if it gets past pg_hba.conf, SSL is what was missing.
async fn requires_ssl(diagnosis: &Error, spec: &ConnectSpec) -> bool {
    let Error::HbaRejected { detail } = diagnosis else { return false };
    if !detail.contains("no encryption") || spec.sslmode != SslMode::Disable {
        // With allow/prefer an unencrypted attempt means the server offered no SSL at all.
        return false;
    }
    let probe = ConnectSpec { sslmode: SslMode::Require, ..spec.clone() };
    !matches!(
        Box::pin(connect(&probe)).await,
        Err(Error::HbaRejected { .. } | Error::SslNotOffered)
    )
}

enum ConnectError {
    Setup(Error),
    Postgres(tokio_postgres::Error),
}

impl From<Error> for ConnectError {
    fn from(error: Error) -> Self {
        ConnectError::Setup(error)
    }
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(error: tokio_postgres::Error) -> Self {
        ConnectError::Postgres(error)
    }
}

fn timeout_error(spec: &ConnectSpec) -> Error {
    Error::ConnectTimeout {
        host: spec.host.clone(),
        port: spec.port,
        seconds: spec.timeout.as_secs().max(1),
    }
}

/// Maps a failed connection attempt to the diagnosis a user can act on.
fn classify(error: &tokio_postgres::Error, spec: &ConnectSpec) -> Error {
    if let Some(db) = error.as_db_error() {
        let message = db.message();
        return match db.code() {
            c if *c == SqlState::INVALID_PASSWORD => {
                Error::PasswordFailed { user: spec.user.clone() }
            }
            c if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && message.contains("pg_hba.conf") =>
            {
                Error::HbaRejected { detail: message.to_owned() }
            }
            c if *c == SqlState::INVALID_CATALOG_NAME => {
                Error::DatabaseMissing { database: spec.dbname.clone() }
            }
            _ => Error::ConnectFailed { detail: message.to_owned() },
        };
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Error::ConnectionRefused { host: spec.host.clone(), port: spec.port };
                }
                std::io::ErrorKind::TimedOut => return timeout_error(spec),
                _ => {}
            }
            if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
                && let Some(untrusted) = certificate_problem(tls)
            {
                return untrusted;
            }
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>()
            && let Some(untrusted) = certificate_problem(tls)
        {
            return untrusted;
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.contains("server does not support TLS") {
        Error::SslNotOffered
    } else if text.contains("password missing") {
        Error::PasswordMissing { user: spec.user.clone() }
    } else {
        Error::ConnectFailed { detail: text }
    }
}

/// The rustls settings for `spec.sslmode`, following libpq: allow/prefer/require encrypt without
/// checking the certificate (require checks the chain when a root certificate is given),
/// verify-ca checks the chain, verify-full also the host name.
fn tls_config(spec: &ConnectSpec) -> Result<ClientConfig> {
    let check = match spec.sslmode {
        SslMode::VerifyFull => tls::Check::ChainAndHost,
        SslMode::VerifyCa => tls::Check::Chain,
        SslMode::Require if spec.root_cert.is_some() => tls::Check::Chain,
        _ => tls::Check::EncryptOnly,
    };
    let roots = match check {
        tls::Check::EncryptOnly => RootCertStore::empty(),
        _ => tls::root_store(spec.root_cert.as_deref())?,
    };
    tls::client_config(check, roots)
        .map_err(|e| Error::ConnectFailed { detail: format!("TLS setup: {e}") })
}

fn certificate_problem(error: &rustls::Error) -> Option<Error> {
    match error {
        rustls::Error::InvalidCertificate(problem) => {
            Some(Error::SslCertUntrusted { detail: format!("{problem:?}") })
        }
        _ => None,
    }
}

/// The server's version, as `server_version_num` gives it.
pub async fn server_version(client: &Client) -> Result<ServerVersion> {
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| query_error(&e))?
        .get(0);
    Ok(ServerVersion(version.max(0) as u32))
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckProfile {
    pub name: String,
    /// Seconds before a silent server counts as a timeout (default 10).
    pub timeout_secs: Option<u32>,
}

/// What a successful check found out.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub server_version: String,
    pub server_version_num: u32,
    pub user: String,
    pub is_superuser: bool,
    pub can_create_db: bool,
    /// Whether the connection is encrypted.
    pub ssl: bool,
    /// The bundled major whose tools Lifeboat will use for this server.
    pub tools_major: u32,
}

/// Connects with the profile and reports the server version and the user's rights.
pub async fn check_profile(ctx: &Ctx, input: CheckProfile) -> Result<CheckReport> {
    let profile = profiles::find_profile(ctx, &input.name)?;
    let mut spec = ConnectSpec::for_profile(ctx, &profile, &profile.settings.maintenance_db)?;
    spec.timeout = timeout_from(input.timeout_secs);
    check(ctx, &spec).await
}

/// Settings being edited in a dialog, checked before they are saved.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckSettings {
    pub settings: profiles::ProfileSettings,
    /// The password typed in the dialog; when absent, the one stored for `existing` is used.
    #[specta(type = Option<String>)]
    pub password: Option<Secret>,
    /// The saved profile being edited, if any.
    pub existing: Option<String>,
    pub timeout_secs: Option<u32>,
}

pub async fn check_settings(ctx: &Ctx, input: CheckSettings) -> Result<CheckReport> {
    let s = input.settings;
    let dbname = if s.maintenance_db.trim().is_empty() {
        "postgres".to_owned()
    } else {
        s.maintenance_db.clone()
    };
    let password = match (input.password, &input.existing) {
        (Some(password), _) => Some(password),
        (None, _) if s.password_source == profiles::PasswordSource::Environment => {
            crate::storage::pgpass::from_environment(&s.host, s.port, &dbname, &s.user)
        }
        (None, Some(existing)) => {
            let saved = profiles::find_profile(ctx, existing)?;
            profiles::keychain_password(ctx, &saved)?
        }
        (None, None) => None,
    };
    let spec = ConnectSpec {
        host: s.host.trim().to_owned(),
        port: s.port,
        user: s.user.trim().to_owned(),
        dbname,
        sslmode: s.sslmode,
        root_cert: s.root_cert.filter(|c| !c.trim().is_empty()),
        password,
        timeout: timeout_from(input.timeout_secs),
    };
    check(ctx, &spec).await
}

fn timeout_from(seconds: Option<u32>) -> Duration {
    seconds.map_or(DEFAULT_TIMEOUT, |s| Duration::from_secs(u64::from(s.max(1))))
}

async fn check(ctx: &Ctx, spec: &ConnectSpec) -> Result<CheckReport> {
    let client = connect(spec).await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
             current_user::text, r.rolsuper, r.rolcreatedb, \
             coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| query_error(&e))?;
    let num: i32 = row.get(0);
    let version = ServerVersion(num.max(0) as u32);
    let tools = ctx.tools.for_dump(version)?;
    Ok(CheckReport {
        server_version: row.get(1),
        server_version_num: version.0,
        user: row.get(2),
        is_superuser: row.get(3),
        can_create_db: row.get(4),
        ssl: row.get(5),
        tools_major: tools.major,
    })
}

pub(crate) fn query_error(error: &tokio_postgres::Error) -> Error {
    let detail =
        error.as_db_error().map(|db| db.message().to_owned()).unwrap_or_else(|| error.to_string());
    Error::Query { detail }
}
