//! Retention on real backups: a dry run says what goes and why the rest stays and deletes
//! nothing; pruning removes every file of what goes (a directory backup's folder, globals,
//! manifest, certificates) and marks its catalog row deleted, while the newest backup that
//! passed a real drill, the only backup of a database and a backup a drill or restore is using
//! survive. (The rules themselves are property-tested in `ops::retention`.)

use std::path::{Path, PathBuf};

use lifeboat_engine::ErrorCode;
use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, BackupOutcome, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::retention::{KeepReason, PruneRequest, RetentionPolicy, prune};
use lifeboat_engine::storage::catalog::{CatalogQuery, backup_by_id, query_catalog, use_backup};
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

const DATA: &str =
    "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50);";

async fn make(fx: &ProdFixture, format: BackupFormat, globals: bool) -> BackupOutcome {
    let mut request = backup_request("prod", &fx.db, fx.out.path(), format);
    request.globals = globals;
    backup(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    names.sort();
    names
}

fn request(fx: &ProdFixture, keep_last: u32, dry_run: bool) -> PruneRequest {
    PruneRequest {
        profile: "prod".into(),
        database: fx.db.clone(),
        policy: RetentionPolicy { keep_last, ..Default::default() },
        dry_run,
    }
}

#[tokio::test]
async fn pruning_deletes_every_file_of_what_goes_and_keeps_the_protected() {
    let fx = prod_fixture(18, "retention", DATA).await;
    let ctx = &fx.home.ctx;
    let cancel = CancellationToken::new();
    // Oldest first: a tested one, a directory backup with globals, one "in use", two more.
    let tested = make(&fx, BackupFormat::Custom, false).await;
    let report = drill(
        ctx,
        DrillRequest {
            source: tested.manifest_path.clone(),
            target: DrillTarget::Profile { name: "prod".into() },
            ..Default::default()
        },
        &NullSink,
        &cancel,
    )
    .await
    .unwrap();
    assert!(report.passed, "{:?}", report.failure);
    let directory = make(&fx, BackupFormat::Directory, true).await;
    // A certificate next to the directory backup, as a drill writes it.
    let stem = directory.manifest_path.trim_end_matches(".lifeboat.json").to_owned();
    std::fs::write(format!("{stem}.drill-20250101-120000.json"), "{}").unwrap();
    std::fs::write(format!("{stem}.drill-20250101-120000.html"), "<p>").unwrap();
    let used = make(&fx, BackupFormat::Tar, false).await;
    let old_plain = make(&fx, BackupFormat::Plain, false).await;
    let newest = make(&fx, BackupFormat::Custom, false).await;
    let before = files_in(fx.out.path());

    // A drill or restore holding the backup (the claim they take while they run).
    let claim = use_backup(ctx, &used.manifest_path).unwrap().expect("a catalog backup");

    let dry = prune(ctx, request(&fx, 1, true)).await.unwrap();
    assert_eq!(files_in(fx.out.path()), before, "a dry run deletes nothing");
    let ids = |items: &[lifeboat_engine::ops::retention::PruneItem]| -> Vec<i64> {
        items.iter().map(|i| i.backup.id).collect()
    };
    assert_eq!(ids(&dry.delete), [old_plain.backup_id, directory.backup_id]);
    assert_eq!(ids(&dry.keep), [newest.backup_id, used.backup_id, tested.backup_id]);
    let reasons = |id: i64| dry.keep.iter().find(|i| i.backup.id == id).unwrap().reasons.clone();
    assert_eq!(reasons(newest.backup_id), [KeepReason::Last { position: 1 }]);
    assert_eq!(reasons(used.backup_id), [KeepReason::InUse]);
    assert_eq!(reasons(tested.backup_id), [KeepReason::NewestTested]);
    assert!(dry.freed_bytes > 0);

    let done = prune(ctx, request(&fx, 1, false)).await.unwrap();
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert_eq!(ids(&done.delete), [old_plain.backup_id, directory.backup_id]);
    let after = files_in(fx.out.path());
    for gone in [&directory, &old_plain] {
        let stem = gone.manifest_path.trim_end_matches(".lifeboat.json");
        let left: Vec<_> = after
            .iter()
            .map(|p| p.display().to_string())
            .filter(|p| p == stem || p.starts_with(&format!("{stem}.")))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        let record = backup_by_id(ctx, gone.backup_id).unwrap();
        assert!(record.deleted_at.is_some(), "the row stays as history, marked deleted");
    }
    for kept in [&tested, &used, &newest] {
        assert!(Path::new(&kept.manifest_path).is_file());
        for file in &kept.files {
            assert!(fx.out.path().join(&file.name).exists(), "{}", file.name);
        }
        assert!(backup_by_id(ctx, kept.backup_id).unwrap().deleted_at.is_none());
    }
    let tested_certificate = report.certificate_json.unwrap();
    assert!(Path::new(&tested_certificate).is_file(), "a kept backup keeps its certificate");
    let listed =
        query_catalog(ctx, &CatalogQuery { database: Some(fx.db.clone()), ..Default::default() })
            .unwrap();
    assert_eq!(listed.len(), 3, "deleted backups are hidden by default");
    let all = query_catalog(
        ctx,
        &CatalogQuery {
            database: Some(fx.db.clone()),
            include_deleted: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(all.len(), 5);

    // Once the drill is over, the next prune may take that backup.
    drop(claim);
    let again = prune(ctx, request(&fx, 1, false)).await.unwrap();
    assert_eq!(ids(&again.delete), [used.backup_id]);
    assert!(!Path::new(&used.manifest_path).exists());
}

#[tokio::test]
async fn the_only_backup_survives_and_an_empty_policy_is_refused() {
    let fx = prod_fixture(18, "retention_only", DATA).await;
    let ctx = &fx.home.ctx;
    let only = make(&fx, BackupFormat::Custom, false).await;
    let policy = RetentionPolicy { keep_weekly: 1, ..Default::default() };
    let report = prune(
        ctx,
        PruneRequest { profile: "prod".into(), database: fx.db.clone(), policy, dry_run: false },
    )
    .await
    .unwrap();
    assert!(report.delete.is_empty());
    assert!(report.keep[0].reasons.contains(&KeepReason::OnlyBackup));
    assert!(Path::new(&only.manifest_path).is_file());

    let error = prune(ctx, request(&fx, 0, true)).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidInput);
    assert!(error.to_string().contains("keeps nothing"), "{error}");
}
