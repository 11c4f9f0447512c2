//! `lifeboat restore --create-missing-roles` into a server that lacks the backup's roles: the
//! dry run names the roles it creates, the restore creates them as NOLOGIN roles and the policy
//! naming one of them restores with it. Without the option the policy is named as left out.

mod common;

use common::{add_profile, json, lifeboat, text};
use lifeboat_system_tests::PgServer;

#[tokio::test]
async fn create_missing_roles_from_the_command_line() {
    let source = PgServer::start(18);
    source.create_role("cli_reader", None, "").await;
    let db = source.create_database("cli_roles").await;
    source
        .client(&db)
        .await
        .batch_execute(
            "CREATE TABLE public.notes (id int PRIMARY KEY); \
             ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; \
             CREATE POLICY notes_read ON public.notes FOR SELECT TO cli_reader USING (true); \
             GRANT SELECT ON public.notes TO cli_reader",
        )
        .await
        .unwrap();
    let target = PgServer::start(18);
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    add_profile(home.path(), &source, "source");
    add_profile(home.path(), &target, "target");
    let out_dir = out.path().display().to_string();
    let made = lifeboat(
        home.path(),
        &["backup", "--profile", "source", "--database", &db, "--out", &out_dir, "--json"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let file = out.path().join(json(&made)["files"][0]["name"].as_str().unwrap());
    let file = file.display().to_string();

    let dry = lifeboat(home.path(), &["restore", &file, "--profile", "target", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        text(&dry).contains("POLICY public.notes notes_read (role cli_reader)"),
        "{}",
        text(&dry)
    );
    let args = ["restore", &file, "--profile", "target", "--create-missing-roles"];
    let plan = json(&lifeboat(home.path(), &[&args[..], &["--dry-run", "--json"]].concat()));
    assert_eq!(plan["plainRoles"], serde_json::json!(["cli_reader"]));
    let restored = lifeboat(home.path(), &[&args[..], &["--json"]].concat());
    assert!(restored.status.success(), "{}", text(&restored));
    let restored = json(&restored);
    assert_eq!(restored["createdRoles"], serde_json::json!(["cli_reader"]));
    let database = restored["database"].as_str().unwrap();
    let sql = "SELECT count(*) FROM pg_policies WHERE policyname = 'notes_read' AND \
               roles = '{cli_reader}'::name[]";
    assert_eq!(target.query_int(database, sql).await, 1);
}
