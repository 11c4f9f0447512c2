//! Recover, the dashboard and deleting a backup, against a real server: Recover picks the newest
//! backup that passed a test (not a newer untested one, not one whose files are gone), restores
//! it next to the live database and swaps them with the restore's replace renames; a deleted
//! backup's files go while its catalog row stays, marked; a backup in use is not deleted.

use std::path::PathBuf;

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::delete::{DeleteBackup, delete_backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::overview::{
    BackupsQuery, FilesState, OverviewRequest, backup_entries, database_overview,
};
use lifeboat_engine::ops::recover::{
    RecoverRequest, SkipReason, SwapRequest, recover_plan, swap_restored,
};
use lifeboat_engine::ops::restore::{RestoreRequest, restore};
use lifeboat_engine::storage::catalog::{
    CatalogQuery, ListBackups, backup_by_id, list_backups, query_catalog, use_backup,
};
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

const DATA: &str = r#"
    CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);
    INSERT INTO items (name) SELECT 'i' || g FROM generate_series(1, 10) g;
"#;

/// Backs the fixture's database up; returns its catalog number and manifest.
async fn make_backup(fx: &ProdFixture) -> (i64, PathBuf) {
    let input = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    let outcome = backup(&fx.home.ctx, input, &NullSink, &CancellationToken::new()).await.unwrap();
    (outcome.backup_id, PathBuf::from(outcome.manifest_path))
}

async fn drill_on_prod(fx: &ProdFixture, manifest: &std::path::Path) {
    let request = DrillRequest {
        source: manifest.display().to_string(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    };
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{:?}", report.failure);
}

async fn rows(fx: &ProdFixture, database: &str) -> i64 {
    fx.server
        .client(database)
        .await
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0)
}

async fn add_rows(fx: &ProdFixture, n: i32) {
    fx.server
        .client(&fx.db)
        .await
        .execute("INSERT INTO items (name) SELECT 'n' || g FROM generate_series(1, $1) g", &[&n])
        .await
        .unwrap();
}

fn dump_of(manifest: &std::path::Path) -> PathBuf {
    manifest.with_file_name(
        manifest.file_name().unwrap().to_str().unwrap().replace(".lifeboat.json", ".backup"),
    )
}

#[tokio::test]
async fn recover_restores_the_newest_tested_backup_next_to_the_live_one_and_swaps_them() {
    let fx = prod_fixture(18, "recover", DATA).await;
    let ctx = &fx.home.ctx;
    let request = || RecoverRequest { profile: "prod".into(), database: fx.db.clone(), now: None };

    // Nothing tested yet: Recover refuses and says so.
    let (_, first) = make_backup(&fx).await;
    let error = recover_plan(ctx, request()).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::NoTestedBackup, "{error}");
    assert!(error.to_string().contains("never tested"), "{error}");

    // 10 rows: tested. 15 rows: tested, then its dump goes missing. 22 rows: never tested.
    drill_on_prod(&fx, &first).await;
    add_rows(&fx, 5).await;
    let (second_id, second) = make_backup(&fx).await;
    drill_on_prod(&fx, &second).await;
    add_rows(&fx, 7).await;
    let (third_id, _) = make_backup(&fx).await;
    std::fs::remove_file(dump_of(&second)).unwrap();

    let plan = recover_plan(ctx, request()).await.unwrap();
    assert_eq!(plan.backup.manifest_path.as_deref(), Some(first.to_str().unwrap()));
    assert!(plan.test.as_ref().is_some_and(|t| t.passed), "{:?}", plan.test);
    assert_eq!(plan.verified_files, 1);
    assert!(plan.lost.starts_with("Changes made since today "), "{}", plan.lost);
    assert!(plan.lost.ends_with(" ago, will be lost."), "{}", plan.lost);
    let skipped: Vec<(i64, &SkipReason)> =
        plan.skipped.iter().map(|s| (s.backup_id, &s.reason)).collect();
    assert_eq!(skipped[0], (third_id, &SkipReason::Untested));
    assert_eq!(skipped[1].0, second_id);
    assert!(matches!(skipped[1].1, SkipReason::FilesMissing { .. }), "{skipped:?}");

    // The dashboard says the same: the newest test passed, a newer backup exists.
    let overview = database_overview(
        ctx,
        OverviewRequest { profile: "prod".into(), database: fx.db.clone(), now: None },
    )
    .await
    .unwrap();
    assert_eq!(overview.on_server, Some(true));
    assert!(overview.live.as_ref().and_then(|l| l.size_bytes).is_some_and(|s| s > 0));
    assert_eq!(overview.last_backup.as_ref().map(|b| b.id), Some(third_id));
    assert_eq!(overview.last_test_backup_id, Some(second_id));
    assert!(overview.recoverable);
    assert!(overview.readiness.is_some());

    // Step 2: the ordinary restore, next to the live database. Step 3: the swap.
    let restored = restore(
        ctx,
        RestoreRequest {
            source: plan.backup.manifest_path.clone().unwrap(),
            profile: "prod".into(),
            ..RestoreRequest::default()
        },
        &NullSink,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_ne!(restored.database, fx.db);
    assert_eq!(rows(&fx, &restored.database).await, 10);
    assert_eq!(rows(&fx, &fx.db).await, 22);
    let swapped = swap_restored(
        ctx,
        SwapRequest {
            profile: "prod".into(),
            live: fx.db.clone(),
            restored: restored.database.clone(),
            terminate_connections: true,
        },
    )
    .await
    .unwrap();
    assert!(swapped.kept_as.starts_with(&format!("{}_before_", fx.db)), "{}", swapped.kept_as);
    assert_eq!(rows(&fx, &fx.db).await, 10, "the live name holds the recovered copy");
    assert_eq!(rows(&fx, &swapped.kept_as).await, 22, "the old database is kept");

    // A second swap of a name that is gone changes nothing and says so.
    let again = swap_restored(
        ctx,
        SwapRequest {
            profile: "prod".into(),
            live: fx.db.clone(),
            restored: restored.database.clone(),
            terminate_connections: false,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), ErrorCode::SwapFailed, "{again}");
    assert_eq!(rows(&fx, &fx.db).await, 10);
}

#[tokio::test]
async fn deleting_a_backup_removes_its_files_keeps_its_row_and_refuses_one_in_use() {
    let fx = prod_fixture(18, "delete_backup", DATA).await;
    let ctx = &fx.home.ctx;
    let (id, manifest) = make_backup(&fx).await;
    drill_on_prod(&fx, &manifest).await;
    let (other, _) = make_backup(&fx).await;
    let certificates: Vec<PathBuf> = std::fs::read_dir(fx.out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().contains(".drill-"))
        .collect();
    assert_eq!(certificates.len(), 2, "{certificates:?}");

    // A restore or a test holds the backup: deleting it is refused and nothing goes.
    let claim = use_backup(ctx, manifest.to_str().unwrap()).unwrap().expect("a catalog backup");
    let refused = delete_backup(ctx, DeleteBackup { backup_id: id }).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::BackupInUse, "{refused}");
    assert!(manifest.is_file() && dump_of(&manifest).is_file());
    assert!(backup_by_id(ctx, id).unwrap().deleted_at.is_none());
    drop(claim);

    let deleted = delete_backup(ctx, DeleteBackup { backup_id: id }).await.unwrap();
    let mut removed = deleted.removed.clone();
    removed.sort();
    let mut expected: Vec<String> = [manifest.clone(), dump_of(&manifest)]
        .into_iter()
        .chain(certificates)
        .map(|p| p.display().to_string())
        .collect();
    expected.sort();
    assert_eq!(removed, expected);
    for file in &expected {
        assert!(!std::path::Path::new(file).exists(), "{file} is still there");
    }
    assert!(deleted.backup.deleted_at.is_some());
    assert_eq!(deleted.backup.deleted_by.as_deref(), Some("user"));

    // The catalog keeps the row: hidden from the plain list, shown with the deleted ones.
    let listed = list_backups(ctx, ListBackups { database: Some(fx.db.clone()), limit: None })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|b| b.id).collect::<Vec<_>>(), [other]);
    let all = query_catalog(
        ctx,
        &CatalogQuery {
            database: Some(fx.db.clone()),
            include_deleted: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(all.iter().any(|b| b.id == id && b.deleted_at.is_some()));
    let entries = backup_entries(
        ctx,
        BackupsQuery { database: Some(fx.db.clone()), include_deleted: true, ..Default::default() },
    )
    .await
    .unwrap();
    let state = |n: i64| entries.iter().find(|e| e.backup.id == n).map(|e| e.files.clone());
    assert_eq!(state(id), Some(FilesState::None));
    assert_eq!(state(other), Some(FilesState::Present));

    // Deleted once is deleted: a second delete is refused, and Recover has no tested backup.
    let twice = delete_backup(ctx, DeleteBackup { backup_id: id }).await.unwrap_err();
    assert_eq!(twice.code(), ErrorCode::BackupNotDeletable, "{twice}");
    let plan = recover_plan(
        ctx,
        RecoverRequest { profile: "prod".into(), database: fx.db.clone(), now: None },
    )
    .await
    .unwrap_err();
    assert_eq!(plan.code(), ErrorCode::NoTestedBackup, "{plan}");
}
