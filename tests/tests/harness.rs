//! The harness's server options do what they say: password authentication, extra pg_hba.conf
//! rules, TLS with a throwaway CA, and TLS-only. Each test starts its own private servers.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::base::tools::Tool;
use lifeboat_engine::pg::runner::{ConnTarget, StdoutTo, ToolCommand, run};
use lifeboat_system_tests::{PgServer, SUPERUSER, SUPERUSER_PASSWORD, ServerOptions, toolbox};
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

/// Which connection the server sees: "t" over TLS, "f" in plain text.
const SSL_QUERY: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// A plain-text TCP connection to 127.0.0.1 (never TLS), as `user`.
async fn connect_tcp(
    server: &PgServer,
    user: &str,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(server.port)
        .user(user)
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .connect_timeout(Duration::from_secs(15));
    if let Some(password) = password {
        config.password(password);
    }
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The SQLSTATE and message of a failed connection, which must be the server's refusal.
fn server_refusal(error: &tokio_postgres::Error) -> (SqlState, String) {
    let db = error.as_db_error().unwrap_or_else(|| panic!("not a server error: {error}"));
    (db.code().clone(), db.message().to_owned())
}

/// A conninfo value, quoted.
fn conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A conninfo string for the superuser over TCP to `host`, plus `extra` settings.
fn conninfo(server: &PgServer, host: &str, extra: &[(&str, &str)]) -> String {
    let mut parts = vec![
        format!("host={}", conninfo_value(host)),
        format!("port={}", server.port),
        format!("user={SUPERUSER}"),
        "dbname=postgres".to_owned(),
        "connect_timeout=15".to_owned(),
    ];
    parts.extend(extra.iter().map(|(k, v)| format!("{k}={}", conninfo_value(v))));
    parts.join(" ")
}

/// Runs `SQL_QUERY` with the newest bundled psql over `conninfo`, passed as psql's only
/// connection setting (the runner drops inherited PG* variables). Ok is psql's output.
async fn psql_ssl(conninfo: &str) -> Result<String, lifeboat_engine::Error> {
    let command = ToolCommand::new(toolbox().newest(), Tool::Psql)
        .unwrap()
        .args(["-X", "-At", "-d", conninfo, "-c", SSL_QUERY])
        .stdout(StdoutTo::Capture);
    let output = run(command, &NullSink, &CancellationToken::new()).await?;
    Ok(String::from_utf8(output.stdout).unwrap().trim().to_owned())
}

/// Runs psql through the engine's runner with `target` as its connection.
async fn psql_with_target(target: ConnTarget) -> Result<String, lifeboat_engine::Error> {
    let command = ToolCommand::new(toolbox().newest(), Tool::Psql)
        .unwrap()
        .args(["-X", "-At", "-c", "SELECT current_user"])
        .conn(target)
        .stdout(StdoutTo::Capture);
    let output = run(command, &NullSink, &CancellationToken::new()).await?;
    Ok(String::from_utf8(output.stdout).unwrap().trim().to_owned())
}

fn assert_tool_failed(result: Result<String, lifeboat_engine::Error>, expected: &str) {
    let error = result.expect_err("the connection must fail");
    assert_eq!(error.code(), ErrorCode::ToolFailed, "{error}");
    let message = error.to_string();
    assert!(message.contains(expected), "expected {expected:?} in: {message}");
}

async fn password_auth(major: u32) {
    let server =
        PgServer::start_with(major, ServerOptions { password_auth: true, ..Default::default() });
    assert_eq!(server.superuser_password(), Some(SUPERUSER_PASSWORD));
    assert!(server.ca_cert().is_none());

    // The harness's own client still gets in (Unix socket).
    let version: String =
        server.client("postgres").await.query_one("SHOW server_version", &[]).await.unwrap().get(0);
    assert!(version.starts_with(&major.to_string()), "{version}");

    let client = connect_tcp(&server, SUPERUSER, Some(SUPERUSER_PASSWORD)).await.unwrap();
    let method: String = client
        .query_one("SELECT current_setting('password_encryption')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(method, "scram-sha-256");
    let stored: String = client
        .query_one("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&SUPERUSER])
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");

    let error = connect_tcp(&server, SUPERUSER, Some("wrong password")).await.unwrap_err();
    let (code, message) = server_refusal(&error);
    assert_eq!(code, SqlState::INVALID_PASSWORD, "{message}");
    assert!(message.contains("password authentication failed"), "{message}");

    // Without a password the server asks for one; the client has none to give.
    assert!(connect_tcp(&server, SUPERUSER, None).await.is_err());

    // The engine's runner gets in with the password the harness's target carries.
    let target = server.target("postgres");
    assert_eq!(target.password.as_ref().map(|p| p.expose()), Some(SUPERUSER_PASSWORD));
    assert_eq!(psql_with_target(target).await.unwrap(), SUPERUSER);
    let mut no_password = server.target("postgres");
    no_password.password = None;
    assert_tool_failed(psql_with_target(no_password).await, "no password supplied");

    let role_password = "app 'secret' pw";
    server.create_role("app_user", Some(role_password), "CREATEDB").await;
    let app = connect_tcp(&server, "app_user", Some(role_password)).await.unwrap();
    let row = app
        .query_one(
            "SELECT current_user::text, rolcreatedb FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "app_user");
    assert!(row.get::<_, bool>(1), "CREATEDB was granted");
    let error = connect_tcp(&server, "app_user", Some(SUPERUSER_PASSWORD)).await.unwrap_err();
    assert_eq!(server_refusal(&error).0, SqlState::INVALID_PASSWORD);
}

#[tokio::test]
async fn password_auth_needs_the_right_password_on_postgres_14() {
    password_auth(14).await;
}

#[tokio::test]
async fn password_auth_needs_the_right_password_on_postgres_18() {
    password_auth(18).await;
}

async fn hba_reject_line(major: u32) {
    let server = PgServer::start_with(
        major,
        ServerOptions {
            hba_first: vec!["host all blocked_user 127.0.0.1/32 reject".to_owned()],
            ..Default::default()
        },
    );
    assert!(server.superuser_password().is_none());
    assert!(server.target("postgres").password.is_none());
    server.create_role("blocked_user", None, "").await;
    server.create_role("allowed_user", None, "").await;

    let error = connect_tcp(&server, "blocked_user", None).await.unwrap_err();
    let (code, message) = server_refusal(&error);
    assert_eq!(code, SqlState::INVALID_AUTHORIZATION_SPECIFICATION, "{message}");
    assert!(message.contains("pg_hba.conf"), "{message}");
    assert!(message.contains("blocked_user"), "{message}");

    // The line names only that role: others still get in by the default trust rule.
    let allowed = connect_tcp(&server, "allowed_user", None).await.unwrap();
    let user: String = allowed.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(user, "allowed_user");
    connect_tcp(&server, SUPERUSER, None).await.unwrap();
}

#[tokio::test]
async fn an_hba_reject_line_refuses_the_named_role_on_postgres_14() {
    hba_reject_line(14).await;
}

#[tokio::test]
async fn an_hba_reject_line_refuses_the_named_role_on_postgres_18() {
    hba_reject_line(18).await;
}

/// A CA of its own that signed nothing the server uses.
fn unrelated_ca(folder: &Path) -> std::path::PathBuf {
    let cert = folder.join("other-ca.crt");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", "/CN=Unrelated CA", "-keyout"])
        .arg(folder.join("other-ca.key"))
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    cert
}

async fn tls_verify_full(major: u32) {
    let server = PgServer::start_with(major, ServerOptions { tls: true, ..Default::default() });
    let ca = server.ca_cert().expect("a TLS server has a CA");
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let ca = ca.to_str().unwrap();

    // Verified against the test CA, by host name and by address (both are in the SAN).
    for host in ["localhost", "127.0.0.1"] {
        let info = conninfo(&server, host, &[("sslmode", "verify-full"), ("sslrootcert", ca)]);
        assert_eq!(psql_ssl(&info).await.unwrap(), "t", "{host}");
    }
    // TLS is optional here: a plain connection still gets in, and the query tells them apart.
    let plain = conninfo(&server, "127.0.0.1", &[("sslmode", "disable")]);
    assert_eq!(psql_ssl(&plain).await.unwrap(), "f");

    // Without the CA, or with another one, verification fails.
    let missing = conninfo(
        &server,
        "localhost",
        &[("sslmode", "verify-full"), ("sslrootcert", "/nonexistent")],
    );
    assert_tool_failed(psql_ssl(&missing).await, "/nonexistent");
    let folder = tempfile::tempdir().unwrap();
    let other = unrelated_ca(folder.path());
    let other = conninfo(
        &server,
        "localhost",
        &[("sslmode", "verify-full"), ("sslrootcert", other.to_str().unwrap())],
    );
    assert_tool_failed(psql_ssl(&other).await, "certificate verify failed");
}

#[tokio::test]
async fn tls_is_verified_against_the_test_ca_on_postgres_14() {
    tls_verify_full(14).await;
}

#[tokio::test]
async fn tls_is_verified_against_the_test_ca_on_postgres_18() {
    tls_verify_full(18).await;
}

async fn tls_only(major: u32) {
    let server =
        PgServer::start_with(major, ServerOptions { tls_only: true, ..Default::default() });
    assert!(server.ca_cert().is_some(), "tls_only implies tls");

    let error = connect_tcp(&server, SUPERUSER, None).await.unwrap_err();
    let (code, message) = server_refusal(&error);
    assert_eq!(code, SqlState::INVALID_AUTHORIZATION_SPECIFICATION, "{message}");
    assert!(message.contains("no encryption"), "{message}");
    let plain = conninfo(&server, "127.0.0.1", &[("sslmode", "disable")]);
    assert_tool_failed(psql_ssl(&plain).await, "no encryption");

    let tls = conninfo(&server, "127.0.0.1", &[("sslmode", "require")]);
    assert_eq!(psql_ssl(&tls).await.unwrap(), "t");

    // The harness's own client still gets in (Unix socket).
    let ok: i32 = server.client("postgres").await.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn tls_only_refuses_plain_text_on_postgres_14() {
    tls_only(14).await;
}

#[tokio::test]
async fn tls_only_refuses_plain_text_on_postgres_18() {
    tls_only(18).await;
}

#[tokio::test]
async fn all_options_together_on_postgres_16() {
    let server = PgServer::start_with(
        16,
        ServerOptions {
            password_auth: true,
            hba_first: vec!["host all blocked_user 127.0.0.1/32 reject".to_owned()],
            tls: true,
            tls_only: true,
        },
    );
    server.create_role("blocked_user", Some("pw"), "").await;
    let ca = server.ca_cert().unwrap();
    let ca = ca.to_str().unwrap();
    let good = conninfo(
        &server,
        "localhost",
        &[("sslmode", "verify-full"), ("sslrootcert", ca), ("password", SUPERUSER_PASSWORD)],
    );
    assert_eq!(psql_ssl(&good).await.unwrap(), "t");
    let wrong = conninfo(
        &server,
        "localhost",
        &[("sslmode", "verify-full"), ("sslrootcert", ca), ("password", "wrong")],
    );
    assert_tool_failed(psql_ssl(&wrong).await, "password authentication failed");
    // A later keyword wins in a conninfo string, so this connects as blocked_user.
    let blocked = conninfo(
        &server,
        "localhost",
        &[
            ("sslmode", "verify-full"),
            ("sslrootcert", ca),
            ("user", "blocked_user"),
            ("password", "pw"),
        ],
    );
    assert_tool_failed(psql_ssl(&blocked).await, "pg_hba.conf rejects connection");
    let error = connect_tcp(&server, SUPERUSER, Some(SUPERUSER_PASSWORD)).await.unwrap_err();
    assert!(server_refusal(&error).1.contains("no encryption"));
}

#[tokio::test]
async fn a_default_private_server_has_trust_and_no_tls() {
    let server = PgServer::start(14);
    assert!(server.superuser_password().is_none());
    assert!(server.ca_cert().is_none());
    assert!(server.target("postgres").password.is_none());
    connect_tcp(&server, SUPERUSER, None).await.unwrap();
    let require = conninfo(&server, "127.0.0.1", &[("sslmode", "require")]);
    assert_tool_failed(psql_ssl(&require).await, "server does not support SSL");
}
