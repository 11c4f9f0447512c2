//! Every rule with made-up facts and an injected clock.

use chrono::{DateTime, Duration, FixedOffset};

use super::facts::*;
use super::readiness::{duration_words, readiness};
use super::schedule::{last_slot, longest_interval};
use super::*;
use crate::format::manifest::TableRows;
use crate::storage::catalog::BackupStatus;

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

/// Monday 2 December 2026, 12:00, UTC+1.
fn now() -> DateTime<FixedOffset> {
    at("2026-12-07T12:00:00+01:00")
}

fn ago(hours: i64) -> DateTime<FixedOffset> {
    now() - Duration::hours(hours)
}

fn table(name: &str, rows: i64) -> TableRows {
    TableRows {
        schema: "public".into(),
        table: name.into(),
        rows: Some(rows),
        roles_in_data: Vec::new(),
    }
}

/// A finished, tested backup taken `hours` ago whose files are as the manifest says.
fn backup(id: i64, hours: i64) -> BackupFacts {
    let manifest = format!("/backups/shop-{id}.lifeboat.json");
    BackupFacts {
        id,
        status: BackupStatus::Finished,
        started_at: ago(hours),
        deleted_at: None,
        manifest_path: Some(manifest),
        size_bytes: Some(1_000_000),
        test_status: "tested-ok".into(),
        files: FilesCheck::Listed(vec![FileFact {
            path: format!("/backups/shop-{id}.backup"),
            expected_bytes: 1_000_000,
            actual_bytes: Some(1_000_000),
        }]),
        tables: Some(vec![table("orders", 1000), table("customers", 50)]),
        scope: Some("whole".into()),
        copy_status: None,
        copy_path: None,
        copy_error: None,
    }
}

fn drill(hours: i64, passed: bool, of: &BackupFacts) -> DrillFacts {
    DrillFacts {
        started_at: ago(hours),
        passed,
        duration_ms: 190_000,
        manifest_path: of.manifest_path.clone(),
        summary: if passed {
            "every check passed".into()
        } else {
            "public.orders has 999 rows, expected 1000".into()
        },
    }
}

/// A database backed up 10 hours ago, tested 9 hours ago: nothing needs attention.
fn healthy() -> DatabaseFacts {
    let newest = backup(2, 10);
    DatabaseFacts {
        database: DatabaseRef {
            profile: "prod".into(),
            host: "db.example".into(),
            port: 5432,
            database: "shop".into(),
        },
        overrides: ThresholdOverrides::default(),
        drills: vec![drill(9, true, &newest)],
        backups: vec![newest, backup(1, 34)],
        schedules: Vec::new(),
        folder: Some(FolderFacts { path: "/backups".into(), free_bytes: 100_000_000 }),
    }
}

fn check(facts: DatabaseFacts) -> Vec<Attention> {
    rules(&WatchInput { databases: vec![facts] }, &Thresholds::default(), now())
}

fn codes(items: &[Attention]) -> Vec<AttentionCode> {
    items.iter().map(|i| i.code).collect()
}

#[test]
fn a_healthy_database_needs_nothing() {
    assert_eq!(check(healthy()), vec![]);
    let line = readiness(&healthy(), now()).line;
    assert_eq!(
        line,
        "If this database were lost now you would lose up to 10 h of changes; the last test \
         restored it in 3 min 10 s."
    );
}

#[test]
fn no_backup_for_two_days_asks_for_one() {
    let mut facts = healthy();
    facts.backups = vec![backup(2, 50), backup(1, 80)];
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::NoRecentBackup]);
    assert_eq!(items[0].severity, Severity::Warning);
    assert_eq!(items[0].action.kind, ActionKind::BackUpNow);
    assert!(items[0].message.contains("50 h old"), "{}", items[0].message);
    // Twice the limit is critical.
    facts.backups = vec![backup(2, 100)];
    facts.drills.clear();
    let items = check(facts.clone());
    assert_eq!(items[0].code, AttentionCode::NoRecentBackup);
    assert_eq!(items[0].severity, Severity::Critical);
    // The user's own limit wins.
    facts.overrides.max_backup_age_hours = Some(120);
    assert!(!codes(&check(facts)).contains(&AttentionCode::NoRecentBackup));
}

#[test]
fn a_schedule_sets_the_backup_age_limit_to_one_and_a_half_intervals() {
    let mut facts = healthy();
    facts.backups = vec![backup(2, 40)];
    facts.drills = vec![drill(39, true, &facts.backups[0])];
    facts.schedules = vec![schedule("nightly", "daily", "11:00", vec![run(1, "ok")])];
    // Daily: 36 h.
    assert_eq!(codes(&check(facts.clone())), [AttentionCode::NoRecentBackup]);
    // Mondays and Fridays: the longest gap is 4 days, so 6 days.
    facts.schedules[0].days = "mon,fri".into();
    assert_eq!(codes(&check(facts)), []);
    assert_eq!(longest_interval("mon,fri"), Some(Duration::days(4)));
    assert_eq!(longest_interval("daily"), Some(Duration::days(1)));
}

#[test]
fn only_failed_backups_mean_no_backup_at_all() {
    let mut facts = healthy();
    facts.drills.clear();
    for b in &mut facts.backups {
        b.status = BackupStatus::Failed;
    }
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::NoRecentBackup]);
    assert_eq!(items[0].severity, Severity::Critical);
    assert_eq!(readiness(&facts, now()).tested_backup_at, None);
    assert!(readiness(&facts, now()).line.starts_with("There is no backup of this database"));
}

#[test]
fn the_newest_backup_untested_for_seven_days_asks_for_a_test() {
    let mut facts = healthy();
    facts.overrides.max_backup_age_hours = Some(24 * 30);
    let mut newest = backup(3, 8 * 24);
    newest.test_status = "untested".into();
    facts.backups = vec![newest, backup(1, 9 * 24)];
    facts.drills = vec![drill(9 * 24 - 1, true, &facts.backups[1])];
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::UntestedBackup]);
    let item = &items[0];
    assert_eq!(item.title, "shop needs a test");
    assert_eq!(item.action.kind, ActionKind::TestBackup);
    assert_eq!(item.action.manifest_path.as_deref(), Some("/backups/shop-3.lifeboat.json"));
    assert_eq!(item.key, "untested_backup:db.example:5432/shop:3");
    assert!(item.message.contains("8 days ago"), "{}", item.message);
    // Six days: not yet.
    facts.backups[0].started_at = ago(6 * 24);
    assert_eq!(codes(&check(facts.clone())), []);
    // The user's own limit.
    facts.overrides.untested_after_days = Some(5);
    assert_eq!(codes(&check(facts)), [AttentionCode::UntestedBackup]);
}

#[test]
fn no_test_for_fourteen_days_asks_for_one() {
    let mut facts = healthy();
    facts.drills = vec![drill(15 * 24, true, &facts.backups[1])];
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::NoRecentDrill]);
    assert_eq!(items[0].action.manifest_path.as_deref(), Some("/backups/shop-2.lifeboat.json"));
    facts.drills[0].started_at = ago(13 * 24);
    assert_eq!(codes(&check(facts.clone())), []);
    // Never tested: counted from the first backup.
    facts.drills.clear();
    facts.backups[1].started_at = ago(20 * 24);
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::NoRecentDrill]);
    assert!(items[0].message.contains("has ever been tested"), "{}", items[0].message);
    // Without backups there is nothing to test.
    facts.backups.clear();
    facts.folder = None;
    assert!(!codes(&check(facts)).contains(&AttentionCode::NoRecentDrill));
}

#[test]
fn a_failed_last_test_is_critical() {
    let mut facts = healthy();
    facts.drills.insert(0, drill(2, false, &facts.backups[0]));
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::LastDrillFailed]);
    assert_eq!(items[0].severity, Severity::Critical);
    // The failed backup is the newest: make a new one.
    assert_eq!(items[0].action.kind, ActionKind::BackUpNow);
    assert!(items[0].message.contains("999 rows"), "{}", items[0].message);
    // An older backup failed: test the newest.
    facts.drills[0] = drill(2, false, &facts.backups[1]);
    let items = check(facts.clone());
    assert_eq!(items[0].action.kind, ActionKind::TestBackup);
    // A later passing test clears it.
    facts.drills.insert(0, drill(1, true, &facts.backups[0]));
    assert_eq!(codes(&check(facts)), []);
}

fn schedule(name: &str, days: &str, time: &str, runs: Vec<RunFacts>) -> ScheduleFacts {
    ScheduleFacts {
        name: name.into(),
        days: days.into(),
        time: time.into(),
        created_at: ago(30 * 24),
        runs,
    }
}

fn run(hours: i64, status: &str) -> RunFacts {
    RunFacts {
        started_at: ago(hours),
        status: status.into(),
        error_code: None,
        error_message: None,
    }
}

#[test]
fn a_missed_scheduled_run_is_named_with_its_time() {
    let mut facts = healthy();
    // Daily at 09:00; now is 12:00, so today's run is 3 h overdue (grace 2 h). The last run
    // was yesterday at 09:00 (27 h ago).
    facts.schedules = vec![schedule("shop nightly", "daily", "09:00", vec![run(27, "ok")])];
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::ScheduledRunMissed]);
    assert!(items[0].message.contains("Mon 7 Dec 09:00"), "{}", items[0].message);
    assert_eq!(
        items[0].key,
        "scheduled_run_missed:db.example:5432/shop:shop nightly:2026-12-07T09:00:00+01:00"
    );
    // Within the grace period it is not missed yet (yesterday's 10:30 ran at 11:00).
    facts.schedules[0].time = "10:30".into();
    facts.schedules[0].runs = vec![run(25, "ok")];
    assert_eq!(codes(&check(facts.clone())), []);
    // A run that started late (the computer woke up) counts.
    facts.schedules[0].time = "09:00".into();
    facts.schedules[0].runs.insert(0, run(1, "ok"));
    assert_eq!(codes(&check(facts.clone())), []);
    // A schedule made after its last slot has missed nothing.
    facts.schedules[0].runs.clear();
    facts.schedules[0].created_at = ago(1);
    assert_eq!(codes(&check(facts.clone())), []);
    // Weekdays: on a Monday at 12:00 the "tue,thu" schedule's last slot was Thursday.
    assert_eq!(last_slot("tue,thu", "09:00", now()), Some(at("2026-12-03T09:00:00+01:00")));
    assert_eq!(last_slot("nonsense", "09:00", now()), None);
}

#[test]
fn a_failed_scheduled_run_carries_its_error() {
    let mut facts = healthy();
    let mut failed = run(3, "failed");
    failed.error_code = Some("keychain_unavailable".into());
    failed.error_message = Some("The system keychain is not available.".into());
    facts.schedules = vec![schedule("shop nightly", "daily", "09:00", vec![failed])];
    let items = check(facts);
    assert_eq!(codes(&items), [AttentionCode::ScheduledRunFailed]);
    let item = &items[0];
    assert_eq!(item.action.kind, ActionKind::OpenSchedule);
    assert_eq!(item.action.schedule.as_deref(), Some("shop nightly"));
    assert!(
        item.message.contains("The system keychain is not available (keychain_unavailable)"),
        "{}",
        item.message
    );
}

#[test]
fn a_backup_gone_from_its_folder_or_changed_in_size_is_critical() {
    let mut facts = healthy();
    facts.backups[1].files = FilesCheck::Listed(vec![FileFact {
        path: "/backups/shop-1.backup".into(),
        expected_bytes: 1_000_000,
        actual_bytes: None,
    }]);
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::BackupMissing]);
    assert_eq!(items[0].severity, Severity::Critical);
    assert!(items[0].message.contains("/backups/shop-1.backup"));
    facts.backups[1].files =
        FilesCheck::ManifestMissing { path: "/backups/shop-1.lifeboat.json".into() };
    assert_eq!(codes(&check(facts.clone())), [AttentionCode::BackupMissing]);
    // A newest backup that is gone is not asked to be tested as well.
    let mut gone = facts.clone();
    gone.backups[0].test_status = "untested".into();
    gone.backups[0].started_at = ago(8 * 24);
    gone.backups[0].files = facts.backups[1].files.clone();
    gone.overrides.max_backup_age_hours = Some(24 * 30);
    assert_eq!(codes(&check(gone)), [AttentionCode::BackupMissing, AttentionCode::BackupMissing]);
    facts.backups[1].files = FilesCheck::Listed(vec![FileFact {
        path: "/backups/shop-1.backup".into(),
        expected_bytes: 1_000_000,
        actual_bytes: Some(4096),
    }]);
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::BackupChanged]);
    assert_eq!(items[0].action.kind, ActionKind::TestBackup);
    // A deleted backup is history: its files are expected to be gone.
    facts.backups[1].deleted_at = Some(ago(1));
    assert_eq!(codes(&check(facts)), []);
}

#[test]
fn a_table_emptied_between_two_backups_is_named() {
    let mut facts = healthy();
    facts.backups[0].tables = Some(vec![table("orders", 0), table("customers", 50)]);
    let items = check(facts);
    assert_eq!(codes(&items), [AttentionCode::TableEmptied]);
    let item = &items[0];
    assert_eq!(item.severity, Severity::Critical);
    assert!(item.message.contains("public.orders (1000 → 0 rows)"), "{}", item.message);
    assert_eq!(item.key, "table_emptied:db.example:5432/shop:2");
}

#[test]
fn a_table_that_lost_more_than_half_or_vanished_is_named() {
    let mut facts = healthy();
    facts.backups[0].tables = Some(vec![table("orders", 499)]);
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::TableDisappeared, AttentionCode::TableShrank]);
    assert!(items[0].message.contains("public.customers"), "{}", items[0].message);
    assert!(items[1].message.contains("public.orders (1000 → 499 rows)"), "{}", items[1].message);
    // Exactly half is not "more than half".
    facts.backups[0].tables = Some(vec![table("orders", 500), table("customers", 50)]);
    assert_eq!(codes(&check(facts)), []);
}

#[test]
fn small_tables_and_other_scopes_raise_no_row_alarm() {
    let mut facts = healthy();
    facts.backups[1].tables = Some(vec![table("orders", 1000), table("queue", 9)]);
    facts.backups[0].tables = Some(vec![table("orders", 1000), table("queue", 0)]);
    assert_eq!(codes(&check(facts.clone())), []);
    // A backup of one table is not compared with a whole one.
    facts.backups[0].tables = Some(vec![table("orders", 1000)]);
    facts.backups[1].tables = Some(vec![table("orders", 1000), table("customers", 50)]);
    facts.backups[0].scope = Some("--table orders".into());
    assert_eq!(codes(&check(facts)), []);
}

#[test]
fn a_backup_less_than_half_the_size_of_the_one_before_is_named() {
    let mut facts = healthy();
    facts.backups[0].size_bytes = Some(400_000);
    let items = check(facts);
    assert_eq!(codes(&items), [AttentionCode::BackupShrank]);
    assert!(items[0].message.contains("less than half"), "{}", items[0].message);
}

#[test]
fn a_failed_or_unplugged_second_copy_is_named() {
    let mut facts = healthy();
    facts.backups[0].copy_status = Some("failed".into());
    facts.backups[0].copy_path = Some("/media/usb/shop".into());
    facts.backups[0].copy_error = Some("No space left on device".into());
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::CopyFailed]);
    assert!(items[0].message.contains("No space left on device"));
    facts.backups[0].copy_status = Some("missing".into());
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::CopyDestinationMissing]);
    assert!(items[0].message.contains("/media/usb/shop was not there"), "{}", items[0].message);
    facts.backups[0].copy_status = Some("copied".into());
    assert_eq!(codes(&check(facts)), []);
}

#[test]
fn a_disk_full_within_three_backups_is_named() {
    let mut facts = healthy();
    facts.folder = Some(FolderFacts { path: "/backups".into(), free_bytes: 2_500_000 });
    let items = check(facts.clone());
    assert_eq!(codes(&items), [AttentionCode::DiskFillingUp]);
    assert_eq!(items[0].severity, Severity::Warning);
    assert!(items[0].message.contains("full after 2 more backups"), "{}", items[0].message);
    facts.folder = Some(FolderFacts { path: "/backups".into(), free_bytes: 500_000 });
    assert_eq!(check(facts.clone())[0].severity, Severity::Critical);
    facts.folder = Some(FolderFacts { path: "/backups".into(), free_bytes: 3_000_000 });
    assert_eq!(codes(&check(facts)), []);
}

#[test]
fn items_are_sorted_most_severe_first_and_keys_are_stable() {
    let mut facts = healthy();
    facts.backups[0].tables = Some(vec![table("orders", 0), table("customers", 50)]);
    facts.backups[0].copy_status = Some("missing".into());
    let first = check(facts.clone());
    assert_eq!(codes(&first), [AttentionCode::TableEmptied, AttentionCode::CopyDestinationMissing]);
    // Another hour later the same problems keep their keys.
    let later = rules(
        &WatchInput { databases: vec![facts] },
        &Thresholds::default(),
        now() + Duration::hours(1),
    );
    let keys = |items: &[Attention]| items.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), keys(&later));
}

#[test]
fn readiness_falls_back_to_plain_sentences() {
    let mut facts = healthy();
    for b in &mut facts.backups {
        b.test_status = "untested".into();
    }
    facts.drills.clear();
    let line = readiness(&facts, now()).line;
    assert!(line.starts_with("No backup of this database has passed a test yet"), "{line}");
    assert!(line.contains("10 h ago"), "{line}");
    assert_eq!(duration_words(45_400), "45 s");
    assert_eq!(duration_words(190_000), "3 min 10 s");
    assert_eq!(duration_words(3_900_000), "1 h 5 min");
    assert_eq!(rules::age_words(Duration::minutes(40)), "40 min");
    assert_eq!(rules::age_words(Duration::hours(26)), "26 h");
    assert_eq!(rules::age_words(Duration::hours(8 * 24)), "8 days");
}

#[test]
fn an_item_is_notified_again_only_after_a_day() {
    assert!(notified::due(None, now()));
    assert!(!notified::due(Some(ago(23)), now()));
    assert!(notified::due(Some(ago(24)), now()));
}
