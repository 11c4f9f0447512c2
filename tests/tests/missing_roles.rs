//! A restore into a server that lacks the roles the backup names (issue 11, point 2): a policy
//! `TO` a role, grants to it, default privileges for and to roles, and objects owned by one. By
//! default the entries that cannot restore without their role are left out and named in the
//! plan; with `create_missing_roles` the roles are created as plain NOLOGIN roles and everything
//! restores, the policy with its role. Rows that name roles (`regrole` and `aclitem` values)
//! are such entries too. Into 18 (the backup's major) and 14 (an older one).

use std::path::PathBuf;

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::restore::{FindingCode, RestoreRequest, preflight, restore};
use lifeboat_system_tests::PgServer;
use lifeboat_system_tests::home::{TestHome, add_server_profile, backup_request, test_home};
use tokio_util::sync::CancellationToken;

const ROLES: [&str; 3] = ["app_owner", "app_reader", "app_writer"];

const DATA: &str = r#"
    CREATE SCHEMA app AUTHORIZATION app_owner;
    CREATE TABLE app.notes (id int PRIMARY KEY, author text NOT NULL, body text);
    ALTER TABLE app.notes OWNER TO app_owner;
    INSERT INTO app.notes VALUES (1, 'app_reader', 'a'), (2, 'someone', 'b');
    ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
    CREATE POLICY notes_read ON app.notes FOR SELECT TO app_reader USING (author = current_user);
    GRANT USAGE ON SCHEMA app TO app_reader, app_writer;
    GRANT SELECT ON app.notes TO app_reader;
    GRANT INSERT, UPDATE ON app.notes TO app_writer;
    ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO app_reader;
    CREATE TABLE app.access (who regrole, rights aclitem[]);
    INSERT INTO app.access VALUES ('app_writer', NULL), (NULL, '{app_reader=r/app_owner}');
    CREATE TABLE public.plain (k int);
    INSERT INTO public.plain VALUES (1), (2), (3);
"#;

/// A database on a private 18 with the application roles, and its default backup (no globals).
async fn backup_with_roles(home: &TestHome, out: &std::path::Path) -> (PgServer, PathBuf) {
    let source = PgServer::start(18);
    for role in ROLES {
        source.create_role(role, None, "").await;
    }
    let db = source.create_database("roles").await;
    source.client(&db).await.batch_execute(DATA).await.unwrap();
    add_server_profile(&home.ctx, "source", &source).await;
    let input = backup_request("source", &db, out, BackupFormat::Custom);
    let outcome = backup(&home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    let manifest: lifeboat_engine::format::manifest::Manifest =
        serde_json::from_slice(&std::fs::read(&outcome.manifest_path).unwrap()).unwrap();
    let file = out.join(manifest.files[0].name.split('/').next().unwrap());
    (source, file)
}

fn request(file: &std::path::Path, profile: &str) -> RestoreRequest {
    RestoreRequest {
        source: file.display().to_string(),
        profile: profile.into(),
        ..RestoreRequest::default()
    }
}

async fn policy_roles(target: &PgServer, db: &str) -> Vec<String> {
    let row = target
        .client(db)
        .await
        .query_one(
            "SELECT roles::text[] FROM pg_policies WHERE schemaname = 'app' AND \
             policyname = 'notes_read'",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

async fn restore_into(major: u32) {
    let home = test_home();
    let out = tempfile::tempdir().unwrap();
    let (_source, file) = backup_with_roles(&home, out.path()).await;
    let target = PgServer::start(major);
    add_server_profile(&home.ctx, "target", &target).await;

    // (a) Default: what names a missing role is left out and named; the rest restores.
    let plan = preflight(&home.ctx, request(&file, "target")).await.unwrap();
    assert!(!plan.blocked, "{:?}", plan.findings);
    assert!(plan.no_owner);
    let left: Vec<(String, String)> =
        plan.left_out_for_roles.iter().map(|l| (l.kind.clone(), l.roles.join(","))).collect();
    assert!(left.contains(&("POLICY".into(), "app_reader".into())), "{left:?}");
    assert!(left.iter().any(|(kind, _)| kind == "DEFAULT ACL"), "{left:?}");
    assert!(left.iter().filter(|(kind, _)| kind == "ACL").count() >= 2, "{left:?}");
    let data = ("TABLE DATA".into(), "app_owner,app_reader,app_writer".into());
    assert!(left.contains(&data), "{left:?}");
    let skipped = plan.findings.iter().find(|f| f.code == FindingCode::RoleEntriesSkipped).unwrap();
    assert!(
        skipped.message.contains("POLICY app.notes notes_read (role app_reader)"),
        "{skipped:?}"
    );
    let outcome =
        restore(&home.ctx, request(&file, "target"), &NullSink, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("restore into {major} without the roles: {e}"));
    assert!(outcome.errors.is_empty() && outcome.created_roles.is_empty());
    assert_eq!(target.query_int(&outcome.database, "SELECT count(*) FROM app.notes").await, 2);
    assert_eq!(target.query_int(&outcome.database, "SELECT count(*) FROM pg_policies").await, 0);
    assert_eq!(target.query_int(&outcome.database, "SELECT count(*) FROM app.access").await, 0);

    // (b) create_missing_roles: the roles are created as NOLOGIN and everything restores.
    let create = RestoreRequest { create_missing_roles: true, ..request(&file, "target") };
    let plan = preflight(&home.ctx, create.clone()).await.unwrap();
    assert_eq!(plan.plain_roles, ROLES);
    assert!(plan.left_out_for_roles.is_empty() && !plan.no_owner, "{:?}", plan.findings);
    let outcome = restore(&home.ctx, create, &NullSink, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("restore into {major} creating the roles: {e}"));
    assert!(outcome.errors.is_empty());
    assert_eq!(outcome.created_roles, ROLES);
    let db = &outcome.database;
    assert_eq!(policy_roles(&target, db).await, ["app_reader"]);
    assert_eq!(target.query_int(db, "SELECT count(*) FROM app.access").await, 2);
    let owner_and_login = "SELECT count(*) FROM pg_tables t JOIN pg_roles r ON r.rolname = \
                           t.tableowner WHERE t.tablename = 'notes' AND r.rolname = 'app_owner' \
                           AND NOT r.rolcanlogin AND NOT r.rolsuper";
    assert_eq!(target.query_int(db, owner_and_login).await, 1);
    let granted = "SELECT count(*) FROM information_schema.role_table_grants WHERE \
                   table_name = 'notes' AND grantee IN ('app_reader', 'app_writer')";
    assert_eq!(target.query_int(db, granted).await, 3);
    let defaults = "SELECT count(*) FROM pg_default_acl d JOIN pg_roles r ON r.oid = \
                    d.defaclrole WHERE r.rolname = 'app_owner'";
    assert_eq!(target.query_int(db, defaults).await, 1);
}

#[tokio::test]
async fn a_restore_into_18_without_the_roles_leaves_out_or_creates_them() {
    restore_into(18).await;
}

#[tokio::test]
async fn a_restore_into_14_without_the_roles_leaves_out_or_creates_them() {
    restore_into(14).await;
}
