//! Connection checks against real servers: one test per diagnosis code, plus the rights report
//! and the server tree listings.

use std::net::TcpListener;

use lifeboat_engine::base::tools::Toolbox;
use lifeboat_engine::ops::browse::{
    ListDatabases, ListSchemas, ListTables, list_databases, list_schemas, list_tables,
};
use lifeboat_engine::pg::connect::{CheckReport, CheckSettings, check_settings};
use lifeboat_engine::storage::profiles::{
    AddProfile, PasswordSource, ProfileSettings, SslMode, add_profile,
};
use lifeboat_engine::util::secret::Secret;
use lifeboat_engine::{Error, ErrorCode};
use lifeboat_system_tests::home::{TestHome, test_home, test_home_with};
use lifeboat_system_tests::pg::ServerOptions;
use lifeboat_system_tests::{PgServer, toolbox};

// These tests never store a password, so the keychain is not touched; the keychain tests
// (keychain.rs) use it for real.
type Fixture = TestHome;

fn fixture_with(tools: Toolbox) -> Fixture {
    test_home_with(tools)
}

fn fixture() -> Fixture {
    test_home()
}

fn settings(host: &str, port: u16, user: &str) -> ProfileSettings {
    ProfileSettings {
        name: "test".into(),
        host: host.into(),
        port,
        user: user.into(),
        maintenance_db: "postgres".into(),
        sslmode: SslMode::Prefer,
        root_cert: None,
        password_source: PasswordSource::Keychain,
        allow_cleartext_password: false,
    }
}

async fn check(
    fx: &Fixture,
    settings: ProfileSettings,
    password: Option<&str>,
) -> Result<CheckReport, Error> {
    check_settings(
        &fx.ctx,
        CheckSettings {
            settings,
            password: password.map(Secret::new),
            existing: None,
            timeout_secs: Some(3),
        },
    )
    .await
}

async fn expect_code(
    fx: &Fixture,
    settings: ProfileSettings,
    password: Option<&str>,
    code: ErrorCode,
) -> Error {
    let error = check(fx, settings, password).await.expect_err("the check must fail");
    assert_eq!(error.code(), code, "{error}");
    assert!(!error.hint().is_empty());
    error
}

fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_good_connection_reports_version_and_rights() {
    let fx = fixture();
    for major in [14, 18] {
        let server = PgServer::shared(major);
        let report =
            check(&fx, settings("127.0.0.1", server.port, "postgres"), None).await.unwrap();
        assert_eq!(report.server_version_num / 10_000, major);
        assert!(report.server_version.starts_with(&major.to_string()));
        assert_eq!(report.user, "postgres");
        assert!(report.is_superuser && report.can_create_db);
        assert!(!report.ssl);
        assert_eq!(report.tools_major, major);
    }
}

#[tokio::test]
async fn a_plain_role_is_reported_as_such() {
    let fx = fixture();
    let server = PgServer::shared(18);
    let role = format!("creator_{}", std::process::id());
    server.create_role(&role, None, "CREATEDB").await;
    let report = check(&fx, settings("127.0.0.1", server.port, &role), None).await.unwrap();
    assert_eq!(report.user, role);
    assert!(!report.is_superuser);
    assert!(report.can_create_db);
}

#[tokio::test]
async fn host_not_found() {
    let fx = fixture();
    let error = expect_code(
        &fx,
        settings("no-such-host.invalid", 5432, "postgres"),
        None,
        ErrorCode::HostNotFound,
    )
    .await;
    assert!(error.to_string().contains("no-such-host.invalid"));
}

#[tokio::test]
async fn connection_refused() {
    let fx = fixture();
    let port = unused_port();
    let error = expect_code(
        &fx,
        settings("127.0.0.1", port, "postgres"),
        None,
        ErrorCode::ConnectionRefused,
    )
    .await;
    assert!(error.hint().contains(&port.to_string()));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let fx = fixture();
    // Accepts the TCP connection and never answers, like a host behind a dropping firewall.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    expect_code(&fx, settings("127.0.0.1", port, "postgres"), None, ErrorCode::ConnectTimeout)
        .await;
    drop(listener);
}

#[tokio::test]
async fn wrong_and_missing_passwords() {
    let fx = fixture();
    let server =
        PgServer::start_with(18, ServerOptions { password_auth: true, ..Default::default() });
    let good = server.superuser_password().unwrap();
    check(&fx, settings("127.0.0.1", server.port, "postgres"), Some(good)).await.unwrap();
    expect_code(
        &fx,
        settings("127.0.0.1", server.port, "postgres"),
        Some("wrong"),
        ErrorCode::PasswordFailed,
    )
    .await;
    expect_code(
        &fx,
        settings("127.0.0.1", server.port, "postgres"),
        None,
        ErrorCode::PasswordMissing,
    )
    .await;
}

#[tokio::test]
async fn pg_hba_rejection() {
    let fx = fixture();
    let server = PgServer::start_with(
        14,
        ServerOptions {
            hba_first: vec!["host all blocked 127.0.0.1/32 reject".into()],
            ..Default::default()
        },
    );
    server.create_role("blocked", None, "").await;
    let error = expect_code(
        &fx,
        settings("127.0.0.1", server.port, "blocked"),
        None,
        ErrorCode::HbaRejected,
    )
    .await;
    assert!(error.to_string().contains("pg_hba.conf"));
}

#[tokio::test]
async fn a_rejected_user_on_an_ssl_server_is_not_told_to_use_ssl() {
    // "... no encryption" also ends the message when pg_hba.conf rejects the user outright; an
    // encrypted retry that is rejected too shows SSL is not the problem.
    let fx = fixture();
    let server = PgServer::start_with(
        16,
        ServerOptions {
            tls: true,
            hba_first: vec!["host all banned 127.0.0.1/32 reject".into()],
            ..Default::default()
        },
    );
    server.create_role("banned", None, "").await;
    let mut plain = settings("127.0.0.1", server.port, "banned");
    plain.sslmode = SslMode::Disable;
    expect_code(&fx, plain, None, ErrorCode::HbaRejected).await;
}

#[tokio::test]
async fn ssl_required_by_the_server() {
    let fx = fixture();
    let server =
        PgServer::start_with(18, ServerOptions { tls: true, tls_only: true, ..Default::default() });
    let mut plain = settings("127.0.0.1", server.port, "postgres");
    plain.sslmode = SslMode::Disable;
    expect_code(&fx, plain, None, ErrorCode::SslRequired).await;
    let mut encrypted = settings("127.0.0.1", server.port, "postgres");
    encrypted.sslmode = SslMode::Require;
    assert!(check(&fx, encrypted, None).await.unwrap().ssl);
}

#[tokio::test]
async fn ssl_not_offered_by_the_server() {
    let fx = fixture();
    let server = PgServer::shared(18);
    let mut wants_ssl = settings("127.0.0.1", server.port, "postgres");
    wants_ssl.sslmode = SslMode::Require;
    expect_code(&fx, wants_ssl, None, ErrorCode::SslNotOffered).await;
    // prefer falls back to plain text, as libpq does.
    let mut prefers = settings("127.0.0.1", server.port, "postgres");
    prefers.sslmode = SslMode::Prefer;
    assert!(!check(&fx, prefers, None).await.unwrap().ssl);
}

#[tokio::test]
async fn certificate_verification_follows_sslmode() {
    let fx = fixture();
    let server = PgServer::start_with(16, ServerOptions { tls: true, ..Default::default() });
    let ca = server.ca_cert().unwrap().display().to_string();
    let with = |host: &str, mode: SslMode, root: Option<&str>| {
        let mut s = settings(host, server.port, "postgres");
        s.sslmode = mode;
        s.root_cert = root.map(str::to_owned);
        s
    };
    // No root certificate: the public roots do not know the test CA.
    expect_code(
        &fx,
        with("localhost", SslMode::VerifyFull, None),
        None,
        ErrorCode::SslCertUntrusted,
    )
    .await;
    expect_code(&fx, with("localhost", SslMode::VerifyCa, None), None, ErrorCode::SslCertUntrusted)
        .await;
    // With the CA: the chain and the name check out, by name and by IP address.
    assert!(check(&fx, with("localhost", SslMode::VerifyFull, Some(&ca)), None).await.unwrap().ssl);
    assert!(check(&fx, with("127.0.0.1", SslMode::VerifyFull, Some(&ca)), None).await.unwrap().ssl);
    // require encrypts without checking the certificate.
    assert!(check(&fx, with("localhost", SslMode::Require, None), None).await.unwrap().ssl);
    // A different CA is not trusted.
    let other = PgServer::start_with(16, ServerOptions { tls: true, ..Default::default() });
    let other_ca = other.ca_cert().unwrap().display().to_string();
    expect_code(
        &fx,
        with("localhost", SslMode::VerifyCa, Some(&other_ca)),
        None,
        ErrorCode::SslCertUntrusted,
    )
    .await;
}

#[tokio::test]
async fn a_missing_maintenance_database() {
    let fx = fixture();
    let server = PgServer::shared(18);
    let mut s = settings("127.0.0.1", server.port, "postgres");
    s.maintenance_db = "no such db".into();
    let error = expect_code(&fx, s, None, ErrorCode::DatabaseMissing).await;
    assert!(error.to_string().contains("no such db"));
}

#[tokio::test]
async fn a_server_newer_than_the_bundled_tools() {
    // A bundle that stops at 17, against a real 18 server.
    let partial = tempfile::tempdir().unwrap();
    for bundle in toolbox().majors().iter().filter(|m| m.major <= 17) {
        std::os::unix::fs::symlink(&bundle.root, partial.path().join(bundle.major.to_string()))
            .unwrap();
    }
    let fx = fixture_with(Toolbox::discover(partial.path()).unwrap());
    let server = PgServer::shared(18);
    let error = expect_code(
        &fx,
        settings("127.0.0.1", server.port, "postgres"),
        None,
        ErrorCode::ServerTooNew,
    )
    .await;
    let message = error.to_string();
    assert!(message.contains("18.") && message.contains("17"), "{message}");
}

#[tokio::test]
async fn the_tree_lists_databases_schemas_and_tables() {
    let fx = fixture();
    let server = PgServer::shared(14);
    let db = server.create_database("tree").await;
    server
        .client(&db)
        .await
        .batch_execute(
            "CREATE SCHEMA \"Sales & Co\"; \
             CREATE TABLE \"Sales & Co\".orders (id int PRIMARY KEY, note text); \
             CREATE TABLE \"Sales & Co\".\"Line Items\" (id int); \
             INSERT INTO \"Sales & Co\".orders SELECT g, 'x' FROM generate_series(1, 2000) g; \
             ANALYZE;",
        )
        .await
        .unwrap();
    let mut s = settings("127.0.0.1", server.port, "postgres");
    s.name = "tree".into();
    // Environment: no keychain needed; the server trusts loopback.
    s.password_source = PasswordSource::Environment;
    add_profile(&fx.ctx, AddProfile { settings: s, password: None }).await.unwrap();

    let databases =
        list_databases(&fx.ctx, ListDatabases { profile: "tree".into() }).await.unwrap();
    let found = databases.iter().find(|d| d.name == db).expect("the new database is listed");
    assert_eq!(found.owner, "postgres");
    assert_eq!(found.encoding, "UTF8");
    assert!(found.size_bytes.unwrap() > 0);
    assert!(found.last_backup.is_none() && found.last_successful_test.is_none());
    assert!(!databases.iter().any(|d| d.name.starts_with("template")));

    let schemas =
        list_schemas(&fx.ctx, ListSchemas { profile: "tree".into(), database: db.clone() })
            .await
            .unwrap();
    let names: Vec<&str> = schemas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Sales & Co", "public"]);
    assert_eq!(schemas[0].table_count, 2);
    assert!(schemas[0].size_bytes > 0);

    let tables = list_tables(
        &fx.ctx,
        ListTables { profile: "tree".into(), database: db, schema: "Sales & Co".into() },
    )
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Line Items", "orders"]);
    assert_eq!(tables[1].estimated_rows, 2000);
}
