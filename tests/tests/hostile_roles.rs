//! Issue 13, finding 3: a backup's globals file is untrusted input, and recreating its roles
//! must not escalate. A real `pg_dumpall --globals-only` of a server with a few roles (one whose
//! name holds `;`, a quote and a newline) is edited as an attacker with write access to the
//! backup folder would: payloads appended (powerful attributes, memberships in `postgres` and
//! the predefined roles, admin options, per-role settings that load libraries, a reserved name,
//! statements hidden after others on a line, in quotes and comments, a psql shell escape), the
//! manifest's sha256 rewritten to match. Restored with `create_roles` into a fresh 18: the roles
//! the dump names exist with only LOGIN, INHERIT, CONNECTION LIMIT and VALID UNTIL, memberships
//! only among themselves and never with the admin option, no setting; the plan names what was
//! not recreated; the data restores.

use std::path::{Path, PathBuf};

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::restore::{FindingCode, RestoreRequest, preflight, restore};
use lifeboat_engine::util::checksum::sha256_reader;
use lifeboat_system_tests::home::{add_server_profile, backup_request, test_home};
use lifeboat_system_tests::{PgServer, quote_ident};
use tokio_util::sync::CancellationToken;

const ODD: &str = "odd;\n\"role\" -- x";

/// Appended to the real globals file: each line one or more attempts (counted in `PAYLOADS`).
const INJECTED: &str = r#"
ALTER ROLE evil WITH SUPERUSER; DROP ROLE app_admin;
ALTER ROLE evil WITH CREATEROLE CREATEDB REPLICATION BYPASSRLS;
ALTER ROLE app_admin SUPERUSER IN ROLE pg_execute_server_program ADMIN evil;
CREATE ROLE evil IN ROLE pg_execute_server_program, postgres ROLE app_admin;
GRANT pg_write_server_files TO evil;
GRANT postgres TO evil GRANTED BY postgres;
GRANT pg_read_server_files, pg_signal_backend TO evil, reader WITH ADMIN OPTION;
GRANT app_admin TO evil WITH ADMIN TRUE, INHERIT TRUE;
GRANT evil TO postgres;
ALTER ROLE evil SET session_preload_libraries = 'auto_explain';
ALTER ROLE evil IN DATABASE postgres SET local_preload_libraries TO 'auto_explain';
ALTER ROLE reader SET shared_preload_libraries = 'x'; ALTER ROLE reader SET log_statement = 'all';
ALTER ROLE reader WITH VALID UNTIL '2030'' SUPERUSER' CONNECTION LIMIT 99999999999;
CREATE ROLE pg_evil SUPERUSER; GRANT pg_evil TO evil;
-- ALTER ROLE reader WITH SUPERUSER;
/* ALTER ROLE reader WITH SUPERUSER; */ COMMENT ON ROLE reader IS 'x; ALTER ROLE reader SUPERUSER';
DO $$ BEGIN ALTER ROLE reader WITH SUPERUSER; END $$;
CREATE ROLE "x;
ALTER ROLE reader WITH SUPERUSER";
ALTER ROLE reader WITH PASSWORD 'SUPERUSER; ALTER ROLE reader SUPERUSER' NOINHERIT;
\! touch CANARY
ALTER ROLE reader WITH LOGIN; \! touch CANARY
"#;

// The 36 attempts in `INJECTED`: attributes ×6 (SUPERUSER twice, CREATEROLE, CREATEDB,
// REPLICATION, BYPASSRLS); memberships ×13 (IN ROLE ×3, ROLE, ADMIN, GRANT of postgres and of
// pg_ roles, GRANTED BY, a 2×2 grant list WITH ADMIN OPTION, ADMIN TRUE, a grant of a created
// role to postgres, a circular one); settings ×4 (session_, local_ and shared_preload_libraries,
// log_statement, one IN DATABASE); bad values ×2 (a quote-escaped VALID UNTIL, an overflowing
// CONNECTION LIMIT); a reserved name ×2; hidden statements ×7 (after a statement, in a line and
// a block comment, a string, a dollar quote, a quoted name with a newline, a password); psql
// shell escapes ×2 (own line, after a statement).

async fn roles_and_backup(home: &lifeboat_system_tests::home::TestHome, out: &Path) -> PathBuf {
    let source = PgServer::start(18);
    let client = source.client("postgres").await;
    client
        .batch_execute(&format!(
            "CREATE ROLE app_admin LOGIN CONNECTION LIMIT 4 VALID UNTIL '2040-01-02 03:04:05+00';
             CREATE ROLE evil LOGIN PASSWORD 'evil-secret'; CREATE ROLE reader NOLOGIN; CREATE ROLE {odd} NOLOGIN;
             GRANT reader TO evil; GRANT reader TO {odd};",
            odd = quote_ident(ODD)
        ))
        .await
        .unwrap();
    let db = source.create_database("hostile_roles").await;
    source
        .client(&db)
        .await
        .batch_execute(&format!(
            "CREATE TABLE public.orders (id int PRIMARY KEY, item text);
             INSERT INTO public.orders SELECT g, 'item ' || g FROM generate_series(1, 50) g;
             ALTER TABLE public.orders OWNER TO app_admin;
             GRANT SELECT ON public.orders TO evil, reader, {odd};",
            odd = quote_ident(ODD)
        ))
        .await
        .unwrap();
    add_server_profile(&home.ctx, "source", &source).await;
    let mut input = backup_request("source", &db, out, BackupFormat::Custom);
    input.globals = true;
    input.role_passwords = true;
    let outcome = backup(&home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    PathBuf::from(outcome.manifest_path)
}

/// Appends the payloads to the globals file and rewrites its sha256 and size in the manifest.
fn inject(manifest_path: &Path, canary: &Path) {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest_path).unwrap()).unwrap();
    let files = manifest["files"].as_array_mut().unwrap();
    let entry = files.iter_mut().find(|f| f["role"] == "globals").expect("a globals file");
    let path = manifest_path.parent().unwrap().join(entry["name"].as_str().unwrap());
    let real = std::fs::read_to_string(&path).unwrap();
    for line in ["CREATE ROLE evil;", "CREATE ROLE app_admin;", "GRANT reader TO evil", "SCRAM"] {
        assert!(real.contains(line), "pg_dumpall wrote {line:?}:\n{real}");
    }
    let injected = INJECTED.replace("CANARY", &canary.display().to_string());
    let text = format!("{real}{injected}");
    std::fs::write(&path, &text).unwrap();
    let (bytes, sha256) = sha256_reader(&mut text.as_bytes()).unwrap();
    entry["sha256"] = sha256.into();
    entry["bytes"] = bytes.into();
    std::fs::write(manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// (superuser, createrole, createdb, replication, bypassrls, login, inherit, connlimit,
/// valid until) of a role.
async fn attributes(
    client: &tokio_postgres::Client,
    role: &str,
) -> (Vec<bool>, i32, Option<String>) {
    let row = client
        .query_one(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, \
             rolcanlogin, rolinherit, rolconnlimit, \
             to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
             FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap_or_else(|e| panic!("role {role}: {e}"));
    ((0..7).map(|i| row.get(i)).collect(), row.get(7), row.get(8))
}

/// Every membership that involves one of `roles`: (role, member, admin option).
async fn memberships(
    client: &tokio_postgres::Client,
    roles: &[&str],
) -> Vec<(String, String, bool)> {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let rows = client
        .query(
            "SELECT r.rolname::text, m.rolname::text, a.admin_option FROM pg_auth_members a \
             JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
             WHERE r.rolname = ANY($1) OR m.rolname = ANY($1) ORDER BY 1, 2",
            &[&roles],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

#[tokio::test]
async fn a_hostile_globals_file_recreates_roles_without_any_escalation() {
    let home = test_home();
    let out = tempfile::tempdir().unwrap();
    let manifest = roles_and_backup(&home, out.path()).await;
    let canary = out.path().join("canary-hostile-roles");
    inject(&manifest, &canary);

    let target = PgServer::start(18);
    add_server_profile(&home.ctx, "target", &target).await;
    let request = RestoreRequest {
        source: manifest.display().to_string(),
        profile: "target".into(),
        create_roles: true,
        ..RestoreRequest::default()
    };
    let plan = preflight(&home.ctx, request.clone()).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    let mut expected = vec!["app_admin", "evil", "reader", ODD];
    expected.sort();
    assert_eq!(plan.create_roles, expected, "only the roles the dump names, never pg_evil");
    let created = plan.findings.iter().find(|f| f.code == FindingCode::RolesCreated).unwrap();
    for named in [
        "role app_admin: SUPERUSER, membership in pg_execute_server_program and membership in \
         evil (circular) were not recreated",
        "role evil: SUPERUSER, CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS, the setting \
         session_preload_libraries, the setting local_preload_libraries, the admin option on \
         app_admin, membership in pg_execute_server_program, membership in postgres, membership \
         in pg_write_server_files, membership in pg_read_server_files, membership in \
         pg_signal_backend, its grant to postgres and membership in pg_evil were not recreated",
        "role reader: the setting shared_preload_libraries, the setting log_statement, a VALID \
         UNTIL that is not a timestamp, a CONNECTION LIMIT that is not a number, membership in \
         pg_read_server_files and membership in pg_signal_backend were not recreated",
    ] {
        assert!(created.message.contains(named), "{named:?} not in {}", created.message);
    }

    let outcome = restore(&home.ctx, request, &NullSink, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("restore with hostile globals: {e}"));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.created_roles, expected);
    assert!(!canary.exists(), "a shell escape in the globals file ran");

    let client = target.client("postgres").await;
    let no_power = [false, false, false, false, false];
    let (flags, limit, until) = attributes(&client, "app_admin").await;
    assert_eq!(flags, [&no_power[..], &[true, true]].concat(), "app_admin: login, inherit only");
    assert_eq!((limit, until.as_deref()), (4, Some("2040-01-02 03:04:05")));
    let (flags, limit, until) = attributes(&client, "evil").await;
    assert_eq!(flags, [&no_power[..], &[true, true]].concat(), "evil: login, inherit only");
    assert_eq!((limit, until), (-1, None));
    let (flags, _, until) = attributes(&client, "reader").await;
    assert_eq!(flags, [&no_power[..], &[true, false]].concat(), "reader: LOGIN, NOINHERIT");
    assert_eq!(until, None);
    let (flags, _, _) = attributes(&client, ODD).await;
    assert_eq!(flags, [&no_power[..], &[false, true]].concat());
    let exists: i64 = client
        .query_one("SELECT count(*) FROM pg_roles WHERE rolname IN ('pg_evil', 'x;\nALTER ROLE reader WITH SUPERUSER')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(exists, 0);
    let password: bool = client
        .query_one("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'evil'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(password, "a saved password is never restored");

    // Memberships only among the created roles, never with the admin option.
    let all = memberships(&client, &expected).await;
    let want = vec![
        ("app_admin".to_owned(), "evil".to_owned(), false),
        ("reader".to_owned(), "evil".to_owned(), false),
        ("reader".to_owned(), ODD.to_owned(), false),
    ];
    assert_eq!(all, want);
    let escalated: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_roles r, pg_roles m WHERE m.rolname = ANY($1) \
             AND (r.rolname = 'postgres' OR r.rolname LIKE 'pg\\_%' OR r.rolsuper) \
             AND pg_has_role(m.oid, r.oid, 'USAGE')",
            &[&expected.iter().map(|r| r.to_string()).collect::<Vec<_>>()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(escalated, 0, "a created role reaches postgres, a superuser or a pg_ role");
    let settings: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole \
             WHERE r.rolname = ANY($1)",
            &[&expected.iter().map(|r| r.to_string()).collect::<Vec<_>>()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(settings, 0, "no per-role setting is recreated");

    // The rest of the restore: data, owner and grants.
    let db = target.client(&outcome.database).await;
    assert_eq!(target.query_int(&outcome.database, "SELECT count(*) FROM public.orders").await, 50);
    let owner: String = db
        .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'orders'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, "app_admin");
    for role in ["evil", "reader", ODD] {
        let can: bool = db
            .query_one("SELECT has_table_privilege($1::text, 'public.orders', 'SELECT')", &[&role])
            .await
            .unwrap()
            .get(0);
        assert!(can, "the grant to {role:?} was restored");
    }
}
