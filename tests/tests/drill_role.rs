//! A drill on a chosen server (a profile) says who restores and what that role may do: SQL in the
//! backup runs with its rights. A superuser, or a member of the roles that run programs and read
//! or write the server's files, is warned about (in the progress, the report, the restore step
//! and the certificate) but not refused: users test their own backups on their own servers. A
//! plain CREATEDB user is described without a warning.

use std::path::{Path, PathBuf};

use lifeboat_engine::base::progress::{NullSink, ProgressEvent, Recorder};
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{DrillReport, DrillRequest, DrillStepKind, DrillTarget, drill};
use lifeboat_engine::storage::profiles::{AddProfile, add_profile};
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture, server_settings};
use tokio_util::sync::CancellationToken;

const DATA: &str = "CREATE TABLE items (id int PRIMARY KEY, name text); \
                    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 40) g;";

async fn backed_up(prefix: &str) -> (ProdFixture, PathBuf) {
    let fx = prod_fixture(18, prefix, DATA).await;
    let input = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    (fx, PathBuf::from(outcome.manifest_path))
}

/// A drill of `manifest` on the profile `profile`, and the warnings it emitted.
async fn drill_on(fx: &ProdFixture, manifest: &Path, profile: &str) -> (DrillReport, Vec<String>) {
    let request = DrillRequest {
        source: manifest.display().to_string(),
        target: DrillTarget::Profile { name: profile.into() },
        ..DrillRequest::default()
    };
    let recorder = Recorder::default();
    let report = drill(&fx.home.ctx, request, &recorder, &CancellationToken::new()).await.unwrap();
    let warnings = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message } => Some(message),
            _ => None,
        })
        .collect();
    (report, warnings)
}

fn restore_summary(report: &DrillReport) -> &str {
    &report.steps.iter().find(|s| s.kind == DrillStepKind::Restore).unwrap().summary
}

/// A login role of the harness server with `attributes`, and a profile "`name`" connecting as it.
async fn profile_as(fx: &ProdFixture, name: &str, attributes: &str, grant: Option<&str>) -> String {
    let user = format!("{name}_{}", std::process::id());
    fx.server.create_role(&user, None, attributes).await;
    if let Some(role) = grant {
        let sql = format!("GRANT {role} TO {user}");
        fx.server.client("postgres").await.batch_execute(&sql).await.unwrap();
    }
    let mut settings = server_settings(name, &fx.server);
    settings.user = user.clone();
    add_profile(&fx.home.ctx, AddProfile { settings, password: None }).await.unwrap();
    user
}

#[tokio::test]
async fn a_drill_as_a_superuser_passes_and_warns_that_the_backup_runs_with_full_rights() {
    let (fx, manifest) = backed_up("role_super").await;
    let (report, warnings) = drill_on(&fx, &manifest, "prod").await;
    assert!(report.passed, "{:?}", report.failure);
    let role = report.restored_as.clone().expect("the report names the restoring role");
    assert!(role.superuser, "{role:?}");
    let warning = role.warning.clone().expect("a superuser is warned about");
    assert!(
        warning.starts_with(&format!(
            "The test restores as {}, a superuser: SQL in the backup runs with full rights on \
             that server",
            role.name
        )),
        "{warning}"
    );
    assert!(warning.contains("use a profile with a restricted user, or the practice server"));
    assert!(warnings.contains(&warning), "the warning is emitted before the restore: {warnings:?}");
    assert!(restore_summary(&report).contains(&role.summary), "{}", restore_summary(&report));
    let html = std::fs::read_to_string(report.certificate_html.as_ref().unwrap()).unwrap();
    assert!(html.contains("<th>Restored as</th>"), "{html}");
    assert!(html.contains("a superuser: SQL in the backup runs with full rights"), "{html}");
    // The JSON certificate carries it too.
    let json = std::fs::read_to_string(report.certificate_json.as_ref().unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["restoredAs"]["superuser"], true, "{json:#}");
}

#[tokio::test]
async fn a_drill_as_a_createdb_user_names_its_rights_without_a_warning() {
    let (fx, manifest) = backed_up("role_plain").await;
    let user = profile_as(&fx, "drill_plain", "CREATEDB", None).await;
    let (report, warnings) = drill_on(&fx, &manifest, "drill_plain").await;
    assert!(report.passed, "{:?}", report.failure);
    let role = report.restored_as.clone().unwrap();
    assert_eq!(role.name, user);
    assert!(!role.superuser && role.createdb && !role.createrole, "{role:?}");
    assert!(role.server_access.is_empty(), "{role:?}");
    assert_eq!(role.warning, None);
    assert_eq!(
        role.summary,
        format!(
            "The test restores as {user}: not a superuser, may create databases, may not create \
             roles and is a member of none of pg_execute_server_program, pg_read_server_files \
             and pg_write_server_files."
        )
    );
    assert!(restore_summary(&report).contains(&role.summary));
    assert!(!warnings.iter().any(|w| w.contains("The test restores as")), "{warnings:?}");
}

#[tokio::test]
async fn a_drill_as_a_member_of_pg_execute_server_program_is_warned_about() {
    let (fx, manifest) = backed_up("role_program").await;
    let user =
        profile_as(&fx, "drill_program", "CREATEDB", Some("pg_execute_server_program")).await;
    let (report, warnings) = drill_on(&fx, &manifest, "drill_program").await;
    assert!(report.passed, "{:?}", report.failure);
    let role = report.restored_as.clone().unwrap();
    assert!(!role.superuser);
    assert_eq!(role.server_access, ["pg_execute_server_program"]);
    let warning = role.warning.clone().unwrap();
    assert!(
        warning.starts_with(&format!(
            "The test restores as {user}, a member of pg_execute_server_program: SQL in the \
             backup can run programs"
        )),
        "{warning}"
    );
    assert!(warnings.contains(&warning), "{warnings:?}");
}
