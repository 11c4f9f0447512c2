//! The watch over real backups of a real server: a backup left untested is an item eight days
//! later (the clock injected through `WatchRequest::now`), a table emptied between two backups is
//! named with its row counts, a deleted file is a missing backup, and once a drill passed, the
//! readiness line says how much would be lost and how long the restore took.

use lifeboat_engine::base::progress::NullSink;
use lifeboat_engine::ops::backup::{BackupFormat, backup};
use lifeboat_engine::ops::drill::{DrillRequest, DrillTarget, drill};
use lifeboat_engine::ops::watch::{
    ActionKind, AttentionCode, SetThresholds, TimeDelta, WatchReport, WatchRequest,
    parse_checked_at, set_thresholds, watch,
};
use lifeboat_system_tests::home::{ProdFixture, backup_request, prod_fixture};
use tokio_util::sync::CancellationToken;

const SHOP: &str = "CREATE TABLE orders (id int PRIMARY KEY, total numeric); \
    INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 200) g; \
    CREATE TABLE customers (id int PRIMARY KEY, name text); \
    INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 40) g;";

/// A backup of the fixture's database; returns its manifest path.
async fn back_up(fx: &ProdFixture) -> String {
    let request = backup_request("prod", &fx.db, fx.out.path(), BackupFormat::Custom);
    let outcome =
        backup(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    outcome.manifest_path
}

async fn watch_at(fx: &ProdFixture, later: TimeDelta) -> WatchReport {
    let now = watch(&fx.home.ctx, WatchRequest::default()).await.unwrap().checked_at;
    let request =
        WatchRequest { database: Some(fx.db.clone()), now: Some(parse_checked_at(&now) + later) };
    watch(&fx.home.ctx, request).await.unwrap()
}

fn codes(report: &WatchReport) -> Vec<AttentionCode> {
    report.items.iter().map(|i| i.code).collect()
}

#[tokio::test]
async fn an_untested_backup_is_an_item_eight_days_later_and_a_passed_test_gives_readiness() {
    let fx = prod_fixture(18, "watch_untested", SHOP).await;
    let manifest = back_up(&fx).await;

    let today = watch_at(&fx, TimeDelta::zero()).await;
    assert_eq!(codes(&today), [], "{:#?}", today.items);
    assert_eq!(today.databases.len(), 1);
    assert!(today.databases[0].line.starts_with("No backup of this database has passed a test"));

    // Eight days later: too old, and untested. (The user allows ten days between backups.)
    let db = &today.databases[0].database;
    let limits = SetThresholds {
        host: db.host.clone(),
        port: db.port,
        database: db.database.clone(),
        max_backup_age_hours: Some(240),
        ..SetThresholds::default()
    };
    set_thresholds(&fx.home.ctx, limits).await.unwrap();
    let later = watch_at(&fx, TimeDelta::days(8)).await;
    assert_eq!(codes(&later), [AttentionCode::UntestedBackup], "{:#?}", later.items);
    let item = &later.items[0];
    assert_eq!(item.title, format!("{} needs a test", fx.db));
    assert_eq!(item.action.kind, ActionKind::TestBackup);
    assert_eq!(item.action.manifest_path.as_deref(), Some(manifest.as_str()));
    assert!(item.message.contains("has never been tested"), "{}", item.message);

    // A passing drill clears it and gives the readiness line.
    let request = DrillRequest {
        source: manifest.clone(),
        target: DrillTarget::Profile { name: "prod".into() },
        ..DrillRequest::default()
    };
    let report = drill(&fx.home.ctx, request, &NullSink, &CancellationToken::new()).await.unwrap();
    assert!(report.passed, "{report:#?}");
    let after = watch_at(&fx, TimeDelta::hours(26)).await;
    assert_eq!(codes(&after), [], "{:#?}", after.items);
    let line = &after.databases[0].line;
    assert!(
        line.starts_with(
            "If this database were lost now you would lose up to 26 h of changes; \
                          the last test restored it in "
        ),
        "{line}"
    );
    assert!(after.databases[0].restore_ms.is_some());
}

#[tokio::test]
async fn a_table_emptied_between_two_real_backups_is_named_and_a_deleted_file_is_missing() {
    let fx = prod_fixture(18, "watch_rows", SHOP).await;
    back_up(&fx).await;
    fx.server.client(&fx.db).await.batch_execute("DELETE FROM orders").await.unwrap();
    // Backup names carry the second they were taken in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    back_up(&fx).await;

    let report = watch_at(&fx, TimeDelta::zero()).await;
    assert_eq!(codes(&report), [AttentionCode::TableEmptied], "{:#?}", report.items);
    let item = &report.items[0];
    assert!(item.message.contains("public.orders (200 → 0 rows)"), "{}", item.message);
    assert!(!item.message.contains("customers"), "{}", item.message);
    assert_eq!(item.title, format!("{} lost all rows of a table", fx.db));

    // The older backup's dump file is deleted behind Lifeboat's back.
    let mut dumps: Vec<_> = std::fs::read_dir(fx.out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "backup"))
        .collect();
    dumps.sort();
    std::fs::remove_file(&dumps[0]).unwrap();
    let report = watch_at(&fx, TimeDelta::zero()).await;
    let missing = report
        .items
        .iter()
        .find(|i| i.code == AttentionCode::BackupMissing)
        .unwrap_or_else(|| panic!("{:#?}", report.items));
    assert!(missing.message.contains(&dumps[0].display().to_string()), "{}", missing.message);
}
