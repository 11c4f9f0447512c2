//! Connecting to a server for checks and listings (tokio-postgres, TLS through rustls honouring
//! sslmode), and turning every way a connection fails into a diagnosis with a next step.
//!
//! A server (or anyone between it and us, when the connection does not verify the server) can
//! ask for the password in clear text. Unless the profile allows it, Lifeboat's own connections
//! refuse such a request before the password is sent: the socket is read through [`AuthGuard`],
//! which watches the server's messages until authentication is over and fails the read that
//! would complete an `AuthenticationCleartextPassword` message, so tokio-postgres never sees it.
//! The bundled programs get the same rule from libpq's `require_auth` ([`child_auth_env`]).

use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

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
    /// Whether the server may ask for the password in clear text
    /// ([`profiles::ProfileSettings::cleartext_password_allowed`]).
    pub allow_cleartext: bool,
}

impl ConnectSpec {
    /// The spec for `profile` on `dbname`, with its password looked up.
    pub fn for_profile(ctx: &Ctx, profile: &Profile, dbname: &str) -> Result<ConnectSpec> {
        let s = &profile.settings;
        // The practice database's server is started here when it is down.
        let port = crate::pg::sample_server::ensure_running(ctx, profile)?;
        Ok(ConnectSpec {
            host: s.host.clone(),
            port,
            user: s.user.clone(),
            dbname: dbname.to_owned(),
            sslmode: s.sslmode,
            root_cert: s.root_cert.clone(),
            password: profiles::password_for(ctx, profile, dbname)?,
            timeout: DEFAULT_TIMEOUT,
            allow_cleartext: s.cleartext_password_allowed(),
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
    config.user(&spec.user).dbname(&spec.dbname).application_name("lifeboat").ssl_mode(match spec
        .sslmode
    {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    if let Some(password) = &spec.password {
        config.password(password.expose());
    }
    // The socket is opened here and handed to tokio-postgres, so that the guard reads it.
    let attempt = async {
        let refuse = !spec.allow_cleartext;
        let socket = open_socket(spec).await?;
        if spec.sslmode == SslMode::Disable {
            let guarded = AuthGuard::new(socket, Watch::Messages, refuse);
            let (client, connection) = config.connect_raw(guarded, NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        } else {
            // The reply to the SSL request tells whether the rest is TLS (watched inside it).
            let guarded = AuthGuard::new(socket, Watch::SslReply, refuse);
            let mut make = MakeRustlsConnect::new(tls_config(spec)?);
            let inner = match MakeTlsConnect::<AuthGuard<Socket>>::make_tls_connect(
                &mut make, &spec.host,
            ) {
                Ok(inner) => inner,
                Err(never) => match never {},
            };
            let tls = GuardedTls { inner, refuse };
            let (client, connection) = config.connect_raw(guarded, tls).await?;
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

/// Opens the TCP connection (or, for a host starting with `/`, the Unix socket in that folder).
async fn open_socket(spec: &ConnectSpec) -> Result<Socket, ConnectError> {
    let opened: io::Result<Socket> = if spec.host.starts_with('/') {
        open_unix_socket(&spec.host, spec.port).await
    } else {
        match tokio::net::TcpStream::connect((spec.host.as_str(), spec.port)).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                Ok(Socket::Tcp(stream))
            }
            Err(error) => Err(error),
        }
    };
    opened.map_err(|error| {
        ConnectError::Setup(match error.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
                Error::ConnectionRefused { host: spec.host.clone(), port: spec.port }
            }
            io::ErrorKind::TimedOut => timeout_error(spec),
            _ => Error::ConnectFailed { detail: error.to_string() },
        })
    })
}

#[cfg(unix)]
async fn open_unix_socket(folder: &str, port: u16) -> io::Result<Socket> {
    let path = Path::new(folder).join(format!(".s.PGSQL.{port}"));
    Ok(Socket::Unix(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn open_unix_socket(_folder: &str, _port: u16) -> io::Result<Socket> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "Unix sockets need a Unix system"))
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
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<CleartextRequested>())
        {
            return Error::CleartextPasswordRefused { host: spec.host.clone() };
        }
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
    let subject = input.name.clone();
    let work = check_profile_inner(ctx, input);
    crate::base::logging::logged("check_profile", &subject, work).await
}

/// [`check_profile`] without its lines in the log.
async fn check_profile_inner(ctx: &Ctx, input: CheckProfile) -> Result<CheckReport> {
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
    let subject = format!("{}:{}", input.settings.host, input.settings.port);
    let work = check_settings_inner(ctx, input);
    crate::base::logging::logged("check_settings", &subject, work).await
}

/// [`check_settings`] without its lines in the log.
async fn check_settings_inner(ctx: &Ctx, input: CheckSettings) -> Result<CheckReport> {
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
            if saved.settings.password_source == profiles::PasswordSource::Practice {
                // Its server is started too, like for every connection of the profile.
                ConnectSpec::for_profile(ctx, &saved, &dbname)?.password
            } else {
                profiles::keychain_password(ctx, &saved)?
            }
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
        allow_cleartext: false,
    };
    let spec = ConnectSpec {
        allow_cleartext: profiles::cleartext_allowed(
            s.allow_cleartext_password,
            spec.sslmode,
            spec.root_cert.is_some(),
        ),
        ..spec
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

/// The socket under a connection: TCP or a Unix socket. (An enum, not a boxed trait object:
/// a lifetime inside the socket type makes the futures above it fail the `Send` check.)
enum Socket {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

macro_rules! on_socket {
    ($self:expr, $stream:ident => $body:expr) => {
        match $self.get_mut() {
            Socket::Tcp($stream) => $body,
            #[cfg(unix)]
            Socket::Unix($stream) => $body,
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        on_socket!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_socket!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_socket!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// The marker inside the I/O error that ends a connection whose server asked for a cleartext
/// password ([`classify`] turns it into [`Error::CleartextPasswordRefused`]).
#[derive(Debug)]
struct CleartextRequested;

impl std::fmt::Display for CleartextRequested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server asked for the password in clear text; it was not sent")
    }
}

impl std::error::Error for CleartextRequested {}

/// Where the guard is in the server's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// The one-byte reply to the SSL request: `S` means TLS follows (watched inside it).
    SslReply,
    /// Backend messages until authentication is over.
    Messages,
    /// Authentication is over, or TLS carries the rest: nothing more to watch.
    Done,
}

/// Reads the server's messages as they pass (type byte, 4-byte length, body) until
/// `AuthenticationOk`, and fails when the bytes complete an authentication request with code 3
/// (`AuthenticationCleartextPassword`). A client can only answer such a request once it holds
/// all nine bytes, so refusing the read that completes them keeps the password unsent.
#[derive(Debug)]
struct AuthWatch {
    state: Watch,
    header: [u8; 9],
    filled: usize,
    skip: u64,
}

impl AuthWatch {
    fn new(state: Watch) -> AuthWatch {
        AuthWatch { state, header: [0; 9], filled: 0, skip: 0 }
    }

    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<(), CleartextRequested> {
        for &byte in bytes {
            match self.state {
                Watch::Done => return Ok(()),
                Watch::SslReply => {
                    self.state = if byte == b'S' { Watch::Done } else { Watch::Messages };
                }
                Watch::Messages if self.skip > 0 => self.skip -= 1,
                Watch::Messages => {
                    self.header[self.filled] = byte;
                    self.filled += 1;
                    let authentication = self.header[0] == b'R';
                    if self.filled < if authentication { 9 } else { 5 } {
                        continue;
                    }
                    self.filled = 0;
                    let length = [self.header[1], self.header[2], self.header[3], self.header[4]];
                    let length = u64::from(u32::from_be_bytes(length));
                    if !authentication {
                        self.skip = length.saturating_sub(4);
                        continue;
                    }
                    let code = [self.header[5], self.header[6], self.header[7], self.header[8]];
                    match u32::from_be_bytes(code) {
                        3 => return Err(CleartextRequested),
                        0 => self.state = Watch::Done,
                        _ => self.skip = length.saturating_sub(8),
                    }
                }
            }
        }
        Ok(())
    }
}

/// A stream whose reads pass through an [`AuthWatch`] (when `refuse`); writes go straight on.
struct AuthGuard<S> {
    inner: S,
    watch: AuthWatch,
    refuse: bool,
}

impl<S> AuthGuard<S> {
    fn new(inner: S, state: Watch, refuse: bool) -> AuthGuard<S> {
        AuthGuard { inner, watch: AuthWatch::new(state), refuse }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if this.refuse && this.watch.feed(&buf.filled()[before..]).is_err() {
            buf.set_filled(before);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                CleartextRequested,
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for AuthGuard<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

/// The rustls connector for the guarded socket.
type RustlsConnect = <MakeRustlsConnect as MakeTlsConnect<AuthGuard<Socket>>>::TlsConnect;
type RustlsStream = <RustlsConnect as TlsConnect<AuthGuard<Socket>>>::Stream;

/// rustls, with the guard inside TLS: what the server says after the handshake is watched.
struct GuardedTls {
    inner: RustlsConnect,
    refuse: bool,
}

type TlsFuture = Pin<Box<dyn Future<Output = io::Result<AuthGuard<RustlsStream>>> + Send>>;

impl TlsConnect<AuthGuard<Socket>> for GuardedTls {
    type Stream = AuthGuard<RustlsStream>;
    type Error = io::Error;
    type Future = TlsFuture;

    fn connect(self, stream: AuthGuard<Socket>) -> TlsFuture {
        let refuse = self.refuse;
        let handshake = self.inner.connect(stream);
        Box::pin(async move {
            let stream = handshake.await?;
            Ok(AuthGuard::new(stream, Watch::Messages, refuse))
        })
    }
}

/// The variables that give a bundled program the same rule as Lifeboat's own connections:
/// `PGREQUIREAUTH=!password` (libpq 16 and later refuse a cleartext password request before
/// sending anything). A program of an older major (14, 15) has a libpq that ignores the
/// variable, so it loads the newest bundled libpq instead, through the loader's search path
/// (the bundle's programs find their own libpq through `RUNPATH`, which that path overrides):
/// libpq keeps its interface across majors, and a newer libpq serves older programs and servers
/// (Linux distributions ship one libpq for every client version). Nothing when the profile
/// allows cleartext passwords.
pub(crate) fn child_auth_env(
    program: &Path,
    allow_cleartext: bool,
) -> Vec<(&'static str, OsString)> {
    if allow_cleartext {
        return Vec::new();
    }
    let mut env = vec![("PGREQUIREAUTH", OsString::from("!password"))];
    let major_dir = program.parent().and_then(Path::parent);
    let own_major = major_dir
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse::<u32>().ok());
    let bundle = major_dir.and_then(Path::parent);
    if let (Some(own), Some(bundle)) = (own_major, bundle)
        && own < FIRST_REQUIRE_AUTH_MAJOR
        && let Some((name, lib)) = newer_libpq(bundle)
    {
        let mut path = OsString::from(lib.as_os_str());
        if let Some(existing) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            path.push(":");
            path.push(existing);
        }
        env.push((name, path));
    }
    env
}

/// The first major whose libpq knows `require_auth`.
const FIRST_REQUIRE_AUTH_MAJOR: u32 = 16;

/// The loader variable and the `lib` folder of the newest bundled major whose libpq knows
/// `require_auth`; `None` on systems where a program's own folder wins (Windows).
fn newer_libpq(bundle: &Path) -> Option<(&'static str, PathBuf)> {
    let (variable, file) = if cfg!(target_os = "macos") {
        ("DYLD_LIBRARY_PATH", "libpq.5.dylib")
    } else if cfg!(windows) {
        return None;
    } else {
        ("LD_LIBRARY_PATH", "libpq.so.5")
    };
    let newest = std::fs::read_dir(bundle)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let lib = entry.path().join("lib");
            (major >= FIRST_REQUIRE_AUTH_MAJOR && lib.join(file).is_file()).then_some((major, lib))
        })
        .max_by_key(|(major, _)| *major)?;
    Some((variable, newest.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    fn auth(code: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        message(b'R', &body)
    }

    #[test]
    fn a_cleartext_request_is_refused_however_the_bytes_arrive() {
        let mut stream = message(b'N', b"SNOTICE\0\0");
        stream.extend(auth(3, b""));
        for chunk in [1, 2, 5, 9, 64] {
            let mut watch = AuthWatch::new(Watch::Messages);
            let refused = stream.chunks(chunk).any(|bytes| watch.feed(bytes).is_err());
            assert!(refused, "chunks of {chunk}");
        }
        // After an 'N' reply to the SSL request the plain messages are watched.
        let mut watch = AuthWatch::new(Watch::SslReply);
        assert!(watch.feed(b"N").is_ok());
        assert!(watch.feed(&auth(3, b"")).is_err());
    }

    #[test]
    fn scram_md5_and_everything_after_authentication_pass() {
        let mut stream = auth(10, b"SCRAM-SHA-256\0\0");
        stream.extend(auth(11, b"r=abc,s=salt,i=4096"));
        stream.extend(auth(12, b"v=proof"));
        stream.extend(auth(0, b""));
        // After AuthenticationOk, bytes that look like a cleartext request are row data.
        stream.extend(auth(3, b""));
        let mut watch = AuthWatch::new(Watch::Messages);
        for bytes in stream.chunks(3) {
            assert!(watch.feed(bytes).is_ok());
        }
        let mut md5 = AuthWatch::new(Watch::Messages);
        assert!(md5.feed(&auth(5, b"salt")).is_ok() && md5.feed(&auth(0, b"")).is_ok());
        // TLS follows an 'S': the encrypted bytes are not read as messages.
        let mut tls = AuthWatch::new(Watch::SslReply);
        assert!(tls.feed(b"S").is_ok() && tls.feed(&auth(3, b"")).is_ok());
    }

    #[test]
    fn older_programs_get_the_newest_libpq_that_knows_require_auth() {
        let bundle = tempfile::tempdir().unwrap();
        let file = if cfg!(target_os = "macos") { "libpq.5.dylib" } else { "libpq.so.5" };
        for major in [14, 16, 18] {
            let lib = bundle.path().join(major.to_string()).join("lib");
            std::fs::create_dir_all(&lib).unwrap();
            std::fs::write(lib.join(file), b"").unwrap();
        }
        let program = |major: u32| bundle.path().join(major.to_string()).join("bin/pg_dump");
        assert!(child_auth_env(&program(14), true).is_empty());
        let old = child_auth_env(&program(14), false);
        assert_eq!(old[0], ("PGREQUIREAUTH", OsString::from("!password")));
        if cfg!(unix) {
            let path = old[1].1.to_string_lossy().into_owned();
            assert!(
                path.starts_with(&bundle.path().join("18/lib").display().to_string()),
                "{path}"
            );
        }
        assert_eq!(child_auth_env(&program(16), false).len(), 1, "16 reads PGREQUIREAUTH itself");
    }
}
