//! Starts a throwaway PostgreSQL server from the bundled binaries for tests written in other
//! languages (the GUI end-to-end test): `test-server <major>`. It creates a database `shop` with a
//! few tables, prints `{"port": N, "version": "..."}` on one line, and stops and deletes the
//! server when its standard input closes (or when it is killed: the harness watchdog).

use std::io::Read;

use lifeboat_system_tests::PgServer;

const DEMO: &str = r#"
    CREATE SCHEMA sales;
    CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE sales.orders (id serial PRIMARY KEY, customer_id int REFERENCES sales.customers(id));
    CREATE TABLE public.settings (key text PRIMARY KEY, value text);
    INSERT INTO sales.customers (name) SELECT 'customer ' || g FROM generate_series(1, 100) g;
    INSERT INTO sales.orders (customer_id) SELECT 1 + g % 100 FROM generate_series(1, 500) g;
    ANALYZE;
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let major: u32 = std::env::args()
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| lifeboat_system_tests::toolbox().newest().major);
    let server = PgServer::start(major);
    let admin = server.client("postgres").await;
    admin.batch_execute("CREATE DATABASE shop").await.expect("create the demo database");
    server.client("shop").await.batch_execute(DEMO).await.expect("fill the demo database");
    println!("{}", serde_json::json!({ "port": server.port, "version": server.version }));
    // Runs until the caller closes our standard input.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(server);
}
