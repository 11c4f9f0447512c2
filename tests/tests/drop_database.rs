//! Dropping a database Lifeboat created (a drill's scratch database, a failed restore's new
//! database) as a role that is not a superuser, while a session it may not end still holds the
//! database: an autovacuum worker after a large restore, or a superuser's session that is
//! closing. `WITH (FORCE)` refuses that outright; the drop waits for the session instead.

use std::time::{Duration, Instant};

use lifeboat_engine::pg::admin::drop_database;
use lifeboat_engine::pg::connect::{ConnectSpec, connect, server_version};
use lifeboat_engine::storage::profiles::{AddProfile, add_profile, find_profile};
use lifeboat_system_tests::home::{server_settings, test_home};
use lifeboat_system_tests::pg::{PgServer, quote_ident};

#[tokio::test]
async fn a_plain_role_drops_its_database_once_a_superusers_session_on_it_has_closed() {
    let server = PgServer::shared(18);
    let user = format!("dropper_{}", std::process::id());
    server.create_role(&user, None, "CREATEDB").await;
    let db = format!("held_{}", std::process::id());
    let sql = format!("CREATE DATABASE {} OWNER {}", quote_ident(&db), quote_ident(&user));
    server.client("postgres").await.batch_execute(&sql).await.unwrap();

    let home = test_home();
    let mut settings = server_settings("plain", &server);
    settings.user = user.clone();
    add_profile(&home.ctx, AddProfile { settings, password: None }).await.unwrap();
    let profile = find_profile(&home.ctx, "plain").unwrap();
    let version = server_version(
        &connect(&ConnectSpec::for_profile(&home.ctx, &profile, "postgres").unwrap())
            .await
            .unwrap(),
    )
    .await
    .unwrap();

    // The superuser's session on the database ends a second and a half from now.
    let held = server.client(&db).await;
    held.batch_execute("SELECT 1").await.unwrap();
    let closer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(held);
    });

    // What FORCE alone says, as this role: refused.
    let plain =
        connect(&ConnectSpec::for_profile(&home.ctx, &profile, "postgres").unwrap()).await.unwrap();
    let forced = plain
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&db)))
        .await
        .unwrap_err();
    let message = forced.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("permission denied to terminate process"), "{forced:?}");

    let started = Instant::now();
    drop_database(&home.ctx, &profile, version, &db).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    closer.await.unwrap();
    let left = server
        .query_int("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"))
        .await;
    assert_eq!(left, 0, "the database is gone");
}
