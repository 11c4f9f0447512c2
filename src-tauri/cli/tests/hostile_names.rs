//! Names (issue 13, the hostile suite): databases, schemas, tables, columns, roles and function
//! bodies named with quotes, spaces, unicode, `;`, `--`, `$$`, a leading dash, `=` (libpq reads
//! a dbname holding `=` as a connection string), newlines, tabs, control characters, a
//! backslash and a psql `:variable`. Each name is used for all of them on a real server; the
//! database is backed up, restored and drilled (on the profile's server) through the real CLI,
//! and the restored rows, owner and function body are compared with the original. Nothing may
//! be interpolated: a name reaching a connection string, a shell or SQL unquoted either fails
//! (the assertion names the step) or lands somewhere else (the comparison fails).

mod common;

use std::path::Path;

use common::{add_local_profile, json, lifeboat, text};
use lifeboat_system_tests::{PgServer, quote_ident, quote_literal};

/// The database, schema, table, column and role `name` (made unique to this run), a function
/// with a `$$` body, and rows holding the name.
async fn make(server: &PgServer, name: &str) {
    let admin = server.client("postgres").await;
    let (db, role) = (quote_ident(name), quote_ident(name));
    for sql in [format!("CREATE ROLE {role} NOLOGIN"), format!("CREATE DATABASE {db} OWNER {role}")]
    {
        admin.batch_execute(&sql).await.unwrap_or_else(|e| panic!("creating {name:?}: {e:?}"));
    }
    let client = server.client(name).await;
    let ident = quote_ident(name);
    let literal = quote_literal(name);
    let sql = format!(
        "CREATE SCHEMA {ident} AUTHORIZATION {role};
         CREATE TABLE {ident}.{ident} ({ident} text PRIMARY KEY, n int);
         INSERT INTO {ident}.{ident} SELECT {literal} || g, g FROM generate_series(1, 50) g;
         ALTER TABLE {ident}.{ident} OWNER TO {role};
         CREATE FUNCTION {ident}.{ident}() RETURNS text LANGUAGE sql AS $fn_q7$ SELECT {literal}::text $fn_q7$;
         COMMENT ON TABLE {ident}.{ident} IS {literal};"
    );
    client.batch_execute(&sql).await.unwrap_or_else(|e| panic!("filling {name:?}: {e:?}"));
}

/// (rows, sum of n, table owner, function result) of `name`'s table in `database`.
async fn contents(server: &PgServer, database: &str, name: &str) -> (i64, i64, String, String) {
    let client = server.client(database).await;
    let ident = quote_ident(name);
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), sum(n)::bigint, \
                 (SELECT tableowner::text FROM pg_tables WHERE schemaname = $1 AND tablename = $1), \
                 {ident}.{ident}() FROM {ident}.{ident} WHERE starts_with({ident}, $1)"
            ),
            &[&name],
        )
        .await
        .unwrap_or_else(|e| panic!("reading {name:?} in {database:?}: {e}"));
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

async fn drop_all(server: &PgServer, databases: &[String], role: &str) {
    let admin = server.client("postgres").await;
    for db in databases {
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(db)))
            .await;
    }
    let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(role))).await;
}

async fn database_names(server: &PgServer) -> Vec<String> {
    let rows = server
        .client("postgres")
        .await
        .query("SELECT datname::text FROM pg_database ORDER BY 1", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Backs `name` up, restores it, drills it, and compares.
async fn round_trip(label: &str, raw: &str) {
    let server = PgServer::shared(17);
    let name = format!("{raw} {}", std::process::id());
    make(&server, &name).await;
    let expected = (50, 1275, name.clone(), name.clone());
    assert_eq!(contents(&server, &name, &name).await, expected, "{label}: the original");
    let home = tempfile::tempdir().unwrap();
    add_local_profile(home.path(), &server);
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().display().to_string();
    let before = database_names(&server).await;

    let made = lifeboat(
        home.path(),
        &["backup", "--profile", "local", &format!("--database={name}"), "--out", &out_s, "--json"],
    );
    assert!(made.status.success(), "{label}: backup: {}", text(&made));
    let manifest = json(&made)["manifestPath"].as_str().unwrap().to_owned();
    assert!(Path::new(&manifest).starts_with(out.path()), "{label}: the file stays in its folder");
    let stored = json(&lifeboat(home.path(), &["backups", "--json"]));
    assert_eq!(stored[0]["database"], name.as_str(), "{label}: the catalog keeps the name");

    let restored = lifeboat(home.path(), &["restore", "--profile", "local", &manifest, "--json"]);
    assert!(restored.status.success(), "{label}: restore: {}", text(&restored));
    let warnings = text(&restored);
    let into = json(&restored)["database"].as_str().unwrap().to_owned();
    let head: String = name.chars().take(10).collect();
    assert!(into.starts_with(&head), "{label}: restored into {into:?}");
    assert_eq!(
        contents(&server, &into, &name).await,
        expected,
        "{label}: the restored copy (owner, rows, function); the restore said: {warnings}"
    );

    let target = format!("{name} copy");
    let chosen = lifeboat(
        home.path(),
        &["restore", "--profile", "local", &format!("--target-db={target}"), &manifest, "--json"],
    );
    assert!(chosen.status.success(), "{label}: restore --target-db: {}", text(&chosen));
    assert_eq!(contents(&server, &target, &name).await, expected, "{label}: into a chosen name");

    let drilled = lifeboat(home.path(), &["test", &manifest, "--profile", "local", "--json"]);
    assert_eq!(drilled.status.code(), Some(0), "{label}: drill: {}", text(&drilled));
    assert_eq!(json(&drilled)["passed"], true, "{label}: drill: {}", text(&drilled));

    let mut new: Vec<String> = database_names(&server)
        .await
        .into_iter()
        // A generated name is cut to 63 bytes, so it may not hold the whole of `name`.
        .filter(|d| !before.contains(d) && d.starts_with(&head))
        .collect();
    new.sort();
    let mut want = vec![into.clone(), target.clone()];
    want.sort();
    assert_eq!(new, want, "{label}: only the two restores are new (no scratch database left)");
    assert!(
        !text(&lifeboat(home.path(), &["backups"])).contains("was interrupted"),
        "{label}: no job was left half-done"
    );
    drop_all(&server, &[into, target, name.clone()], &name).await;
}

macro_rules! name_cases {
    ($($case:ident: $name:expr;)*) => {$(
        #[tokio::test]
        async fn $case() {
            round_trip(stringify!($case), $name).await;
        }
    )*};
}

name_cases! {
    quotes_and_spaces: "we\"ird 'quoted' name";
    semicolon_and_comment: "semi; DROP DATABASE postgres; -- x";
    dollar_quotes: "dollar$$ $body$ $1";
    leading_dash: "-d postgres --help";
    equals_sign_is_not_a_connection_string: "dbname=postgres host=evil.invalid";
    newline_and_tab: "new\nline\ttab";
    control_characters: "ctl\u{1}\u{1b}[31m\u{7f}";
    unicode: "ünïcødé 数据 ✓ \u{202e}rtl";
    backslash_and_psql_variable: "back\\slash :var :'x' \\! touch canary";
}
