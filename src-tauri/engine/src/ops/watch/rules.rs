//! The rules: pure functions from the facts and a clock to the items that need attention. The
//! clock is a parameter; nothing here reads the time, the store or the disk.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};

use super::facts::{BackupFacts, DatabaseFacts, FilesCheck, WatchInput};
use super::schedule::{last_slot, longest_interval};
use super::{Action, ActionKind, Attention, AttentionCode, Severity};
use crate::util::size::human_bytes;

/// A scheduled run counts as missed this long after its time (a computer that wakes up runs
/// it late; systemd's `Persistent=true` catches up after boot).
pub const MISSED_RUN_GRACE_HOURS: i64 = 2;
/// Row-count drops are only reported for tables that had at least this many rows, so that
/// small queue or session tables do not raise an alarm every day.
pub const MIN_ROWS_FOR_DROP: i64 = 10;
/// The disk is "filling up" when fewer than this many backups of the current size still fit.
pub const BACKUPS_AHEAD: u64 = 3;
/// How many tables an item names before "and N more".
const TABLES_NAMED: usize = 5;

/// The limits the rules apply; each database may override them (`watch_thresholds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Without a schedule: the newest finished backup may be this old.
    pub max_backup_age_hours: i64,
    /// The newest finished backup should be tested within this many days.
    pub untested_after_days: i64,
    /// Some backup should be tested at least this often.
    pub max_days_without_drill: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { max_backup_age_hours: 48, untested_after_days: 7, max_days_without_drill: 14 }
    }
}

/// Every item for every database, most severe first.
pub fn rules(
    input: &WatchInput,
    defaults: &Thresholds,
    now: DateTime<FixedOffset>,
) -> Vec<Attention> {
    let mut items = Vec::new();
    for facts in &input.databases {
        let o = &facts.overrides;
        let limits = Thresholds {
            max_backup_age_hours: o.max_backup_age_hours.unwrap_or(defaults.max_backup_age_hours),
            untested_after_days: o.untested_after_days.unwrap_or(defaults.untested_after_days),
            max_days_without_drill: o
                .max_days_without_drill
                .unwrap_or(defaults.max_days_without_drill),
        };
        let mut out = Out { facts, items: &mut items };
        backup_age(&mut out, &limits, now);
        testing(&mut out, &limits, now);
        schedules(&mut out, now);
        files(&mut out);
        data(&mut out);
        copies(&mut out);
        space(&mut out);
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.severity));
    items
}

/// Collects the items of one database.
struct Out<'a> {
    facts: &'a DatabaseFacts,
    items: &'a mut Vec<Attention>,
}

impl Out<'_> {
    fn name(&self) -> &str {
        &self.facts.database.database
    }

    fn add(
        &mut self,
        severity: Severity,
        code: AttentionCode,
        title: String,
        message: String,
    ) -> &mut Attention {
        let db = &self.facts.database;
        let key = format!("{}:{}:{}/{}", code_name(code), db.host, db.port, db.database);
        self.items.push(Attention {
            severity,
            code,
            database: db.clone(),
            title,
            message,
            action: action(ActionKind::OpenBackups, None),
            key,
        });
        self.items.last_mut().expect("just pushed")
    }
}

impl Attention {
    fn with(&mut self, action: Action, key_detail: impl std::fmt::Display) {
        self.action = action;
        self.key = format!("{}:{key_detail}", self.key);
    }
}

fn code_name(code: AttentionCode) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

pub(super) fn action(kind: ActionKind, manifest_path: Option<&str>) -> Action {
    let label = match kind {
        ActionKind::TestBackup => "Test this backup",
        ActionKind::BackUpNow => "Back up now",
        ActionKind::OpenBackups => "Open the backups",
        ActionKind::OpenSchedule => "Open the schedule",
    };
    Action {
        kind,
        label: label.to_owned(),
        manifest_path: manifest_path.map(str::to_owned),
        schedule: None,
    }
}

/// "Mon 2 Dec 02:00".
pub(super) fn when(at: DateTime<FixedOffset>) -> String {
    at.format("%a %-d %b %H:%M").to_string()
}

/// "40 min", "26 h", "5 days".
pub fn age_words(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 72 * 60 {
        format!("{} h", (minutes + 30) / 60)
    } else {
        format!("{} days", (minutes + 12 * 60) / (24 * 60))
    }
}

/// The usable (finished, not deleted) backups, newest first.
fn usable(facts: &DatabaseFacts) -> Vec<&BackupFacts> {
    let mut backups: Vec<&BackupFacts> = facts.backups.iter().filter(|b| b.usable()).collect();
    backups.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    backups
}

/// How old the newest backup may be: the user's limit, else 1.5 times the longest gap between
/// scheduled runs, else the default.
fn backup_limit(facts: &DatabaseFacts, limits: &Thresholds) -> Duration {
    if let Some(hours) = facts.overrides.max_backup_age_hours {
        return Duration::hours(hours);
    }
    let scheduled = facts
        .schedules
        .iter()
        .filter_map(|s| longest_interval(&s.days))
        .min()
        .map(|gap| gap * 3 / 2);
    scheduled.unwrap_or_else(|| Duration::hours(limits.max_backup_age_hours))
}

fn backup_age(out: &mut Out, limits: &Thresholds, now: DateTime<FixedOffset>) {
    let facts = out.facts;
    let limit = backup_limit(facts, limits);
    let name = out.name().to_owned();
    let Some(newest) = usable(facts).first().copied() else {
        let attempted = !facts.backups.is_empty();
        let scheduled_long_ago = facts.schedules.iter().any(|s| now - s.created_at > limit);
        if attempted || scheduled_long_ago {
            let message = format!(
                "Lifeboat has no backup of {name} that could be restored: {}. Back it up now; if \
                 it fails, the error says what to fix.",
                if attempted {
                    "every backup failed, was stopped or was deleted"
                } else {
                    "its schedule has not made one yet"
                }
            );
            out.add(
                Severity::Critical,
                AttentionCode::NoRecentBackup,
                format!("{name} has no backup"),
                message,
            )
            .with(action(ActionKind::BackUpNow, None), "none");
        }
        return;
    };
    let age = now - newest.started_at;
    if age <= limit {
        return;
    }
    let severity = if age > limit * 2 { Severity::Critical } else { Severity::Warning };
    let message = format!(
        "The newest backup of {name} is {} old (taken {}); it should be at most {} old. Back it \
         up now{}.",
        age_words(age),
        when(newest.started_at),
        age_words(limit),
        if facts.schedules.is_empty() { "" } else { ", and check that its schedule runs" }
    );
    out.add(severity, AttentionCode::NoRecentBackup, format!("{name} needs a backup"), message)
        .with(action(ActionKind::BackUpNow, None), newest.id);
}

fn testing(out: &mut Out, limits: &Thresholds, now: DateTime<FixedOffset>) {
    let facts = out.facts;
    let name = out.name().to_owned();
    let backups = usable(facts);
    let Some(newest) = backups.first().copied() else { return };
    if is_gone(newest) {
        return; // a backup that is gone cannot be tested; `files` names it
    }
    let manifest = newest.manifest_path.as_deref();
    let mut asked_for_test = false;
    let age = now - newest.started_at;
    if newest.test_status == "untested" && age >= Duration::days(limits.untested_after_days) {
        let message = format!(
            "The newest backup of {name}, taken {} ago ({}), has never been tested, so nobody \
             knows whether it restores. Test it: Lifeboat restores it into a scratch database \
             and compares every table with the backup.",
            age_words(age),
            when(newest.started_at)
        );
        out.add(
            Severity::Warning,
            AttentionCode::UntestedBackup,
            format!("{name} needs a test"),
            message,
        )
        .with(action(ActionKind::TestBackup, manifest), newest.id);
        asked_for_test = true;
    }
    if let Some(last) = facts.drills.first().filter(|d| !d.passed) {
        let of_newest = last.manifest_path.is_some() && last.manifest_path.as_deref() == manifest;
        let (next, fix) = if of_newest {
            (action(ActionKind::BackUpNow, None), "Make a new backup now and test it.".to_owned())
        } else {
            let fix = format!("Test the newest backup (taken {}).", when(newest.started_at));
            (action(ActionKind::TestBackup, manifest), fix)
        };
        let message = format!(
            "The last test of a backup of {name} ({}) failed: {}. That backup may not restore. \
             {fix}",
            when(last.started_at),
            last.summary.trim_end_matches('.')
        );
        out.add(
            Severity::Critical,
            AttentionCode::LastDrillFailed,
            format!("{name}'s last test failed"),
            message,
        )
        .with(next, last.started_at.to_rfc3339());
        asked_for_test = true;
    }
    if asked_for_test {
        return;
    }
    let last_drill = facts.drills.first().map(|d| d.started_at);
    let first_backup = facts
        .backups
        .iter()
        .filter(|b| b.status == crate::storage::catalog::BackupStatus::Finished)
        .map(|b| b.started_at)
        .min();
    let Some(since) = last_drill.or(first_backup) else { return };
    let quiet = now - since;
    if quiet < Duration::days(limits.max_days_without_drill) {
        return;
    }
    let what = match last_drill {
        Some(at) => format!(
            "No backup of {name} has been tested for {} (the last test was on {})",
            age_words(quiet),
            when(at)
        ),
        None => format!(
            "No backup of {name} has ever been tested, and the first was taken {} ago",
            age_words(quiet)
        ),
    };
    let message = format!("{what}. Test the newest backup to be sure the backups still restore.");
    out.add(
        Severity::Warning,
        AttentionCode::NoRecentDrill,
        format!("{name} needs a test"),
        message,
    )
    .with(action(ActionKind::TestBackup, manifest), newest.id);
}

/// Whether a finished backup's manifest or one of its files is gone.
fn is_gone(backup: &BackupFacts) -> bool {
    match &backup.files {
        FilesCheck::ManifestMissing { .. } => true,
        FilesCheck::Listed(files) => files.iter().any(|f| f.actual_bytes.is_none()),
        _ => false,
    }
}

fn schedules(out: &mut Out, now: DateTime<FixedOffset>) {
    let name = out.name().to_owned();
    for schedule in &out.facts.schedules {
        let open = Action {
            schedule: Some(schedule.name.clone()),
            ..action(ActionKind::OpenSchedule, None)
        };
        if let Some(run) = schedule.runs.first().filter(|r| r.status == "failed") {
            let error = match (&run.error_message, &run.error_code) {
                (Some(message), Some(code)) => {
                    format!("{} ({code})", message.trim_end_matches('.'))
                }
                (Some(message), None) => message.trim_end_matches('.').to_owned(),
                (None, Some(code)) => code.clone(),
                (None, None) => "no error was recorded".to_owned(),
            };
            let message = format!(
                "The scheduled backup \"{}\" of {name} failed on {}: {error}. Fix what the error \
                 names (open the schedule to test-fire it), or back up now by hand.",
                schedule.name,
                when(run.started_at)
            );
            out.add(
                Severity::Critical,
                AttentionCode::ScheduledRunFailed,
                format!("a scheduled backup of {name} failed"),
                message,
            )
            .with(open.clone(), format!("{}:{}", schedule.name, run.started_at.to_rfc3339()));
        }
        let due = now - Duration::hours(MISSED_RUN_GRACE_HOURS);
        let Some(slot) = last_slot(&schedule.days, &schedule.time, due) else { continue };
        if slot < schedule.created_at {
            continue;
        }
        // A run started a little early (clock skew, a timer's accuracy) still counts.
        let ran = schedule.runs.iter().any(|r| r.started_at >= slot - Duration::minutes(10));
        if ran {
            continue;
        }
        let message = format!(
            "The scheduled backup \"{}\" of {name} should have run on {} and did not: the \
             computer was probably asleep or switched off. Back it up now; the schedule runs \
             again at its next time.",
            schedule.name,
            when(slot)
        );
        out.add(
            Severity::Warning,
            AttentionCode::ScheduledRunMissed,
            format!("{name} missed a scheduled backup"),
            message,
        )
        .with(
            action(ActionKind::BackUpNow, None),
            format!("{}:{}", schedule.name, slot.to_rfc3339()),
        );
    }
}

fn files(out: &mut Out) {
    let name = out.name().to_owned();
    for backup in usable(out.facts) {
        let taken = when(backup.started_at);
        let manifest = backup.manifest_path.as_deref();
        let (code, message) = match &backup.files {
            FilesCheck::NotChecked => continue,
            FilesCheck::ManifestMissing { path } => (
                AttentionCode::BackupMissing,
                format!(
                    "The backup of {name} taken {taken} is gone from its folder (its manifest {path} \
                     is not there any more), so it cannot be restored. If the disk or folder was \
                     moved, put it back; otherwise make a new backup."
                ),
            ),
            FilesCheck::ManifestUnreadable { path, detail } => (
                AttentionCode::BackupChanged,
                format!(
                    "The manifest {path} of the backup of {name} taken {taken} cannot be read \
                     ({detail}), so the backup cannot be checked. Test it, or make a new backup."
                ),
            ),
            FilesCheck::Listed(listed) => {
                if let Some(gone) = listed.iter().find(|f| f.actual_bytes.is_none()) {
                    let missing = listed.iter().filter(|f| f.actual_bytes.is_none()).count();
                    (
                        AttentionCode::BackupMissing,
                        format!(
                            "The backup of {name} taken {taken} is incomplete: {missing} of its {} \
                             file(s) are gone ({}), so it cannot be restored. If the disk or \
                             folder was moved, put it back; otherwise make a new backup.",
                            listed.len(),
                            gone.path
                        ),
                    )
                } else if let Some(changed) =
                    listed.iter().find(|f| f.actual_bytes != Some(f.expected_bytes))
                {
                    (
                        AttentionCode::BackupChanged,
                        format!(
                            "The backup of {name} taken {taken} changed after it was written: {} \
                             is {} now, its manifest says {}. A changed backup may not restore: \
                             test it, and make a new backup.",
                            changed.path,
                            human_bytes(changed.actual_bytes.unwrap_or(0)),
                            human_bytes(changed.expected_bytes)
                        ),
                    )
                } else {
                    continue;
                }
            }
        };
        let (title, next) = if code == AttentionCode::BackupMissing {
            (format!("a backup of {name} is missing"), action(ActionKind::BackUpNow, None))
        } else {
            (format!("a backup of {name} changed"), action(ActionKind::TestBackup, manifest))
        };
        out.add(Severity::Critical, code, title, message).with(next, backup.id);
    }
}

/// The newest backup against the previous one of the same scope: emptied, shrunk and vanished
/// tables, and a backup less than half the size.
fn data(out: &mut Out) {
    let name = out.name().to_owned();
    let backups = usable(out.facts);
    let Some(newest) = backups.first().copied() else { return };
    let Some(previous) = backups[1..].iter().copied().find(|b| b.scope == newest.scope) else {
        return;
    };
    let context = format!(
        "in the newest backup of {name} (taken {}) against the one before (taken {})",
        when(newest.started_at),
        when(previous.started_at)
    );
    if let (Some(now_tables), Some(before)) = (&newest.tables, &previous.tables) {
        let after: BTreeMap<(&str, &str), Option<i64>> =
            now_tables.iter().map(|t| ((t.schema.as_str(), t.table.as_str()), t.rows)).collect();
        let (mut emptied, mut shrank, mut vanished) = (Vec::new(), Vec::new(), Vec::new());
        for table in before {
            let qualified = format!("{}.{}", table.schema, table.table);
            let before_rows = table.rows.unwrap_or(0);
            match after.get(&(table.schema.as_str(), table.table.as_str())) {
                None => vanished.push(qualified),
                Some(Some(0)) if before_rows >= MIN_ROWS_FOR_DROP => {
                    emptied.push(format!("{qualified} ({before_rows} → 0 rows)"))
                }
                Some(Some(rows)) if before_rows >= MIN_ROWS_FOR_DROP && rows * 2 < before_rows => {
                    shrank.push(format!("{qualified} ({before_rows} → {rows} rows)"))
                }
                _ => {}
            }
        }
        let keep = "If that was not on purpose, the rows are still in the earlier backup: keep it \
                    and restore those tables from it before it is rotated away.";
        let groups = [
            (
                emptied,
                AttentionCode::TableEmptied,
                Severity::Critical,
                "have no rows any more",
                format!("{name} lost all rows of a table"),
            ),
            (
                shrank,
                AttentionCode::TableShrank,
                Severity::Warning,
                "lost more than half of their rows",
                format!("{name} lost rows"),
            ),
            (
                vanished,
                AttentionCode::TableDisappeared,
                Severity::Critical,
                "are gone",
                format!("a table of {name} is gone"),
            ),
        ];
        for (tables, code, severity, what, title) in groups {
            if tables.is_empty() {
                continue;
            }
            let message = format!("Tables that {what} {context}: {}. {keep}", named(&tables));
            out.add(severity, code, title, message)
                .with(action(ActionKind::OpenBackups, None), newest.id);
        }
    }
    if let (Some(size), Some(before)) = (newest.size_bytes, previous.size_bytes)
        && size > 0
        && size * 2 < before
    {
        let message = format!(
            "The newest backup of {name} ({}, taken {}) is less than half the size of the one \
             before ({}). If no large amount of data was deleted on purpose, keep the earlier \
             backup and look at the database.",
            human_bytes(size as u64),
            when(newest.started_at),
            human_bytes(before as u64)
        );
        out.add(
            Severity::Warning,
            AttentionCode::BackupShrank,
            format!("{name}'s backup shrank"),
            message,
        )
        .with(action(ActionKind::OpenBackups, None), newest.id);
    }
}

/// "a, b, c and 4 more".
fn named(items: &[String]) -> String {
    if items.len() <= TABLES_NAMED {
        return items.join(", ");
    }
    format!("{} and {} more", items[..TABLES_NAMED].join(", "), items.len() - TABLES_NAMED)
}

fn copies(out: &mut Out) {
    let name = out.name().to_owned();
    let backups = usable(out.facts);
    let Some(backup) = backups.iter().find(|b| b.copy_status.is_some()) else { return };
    let destination = backup.copy_path.as_deref().unwrap_or("its destination");
    let taken = when(backup.started_at);
    let (code, message) = match backup.copy_status.as_deref() {
        Some("failed") => (
            AttentionCode::CopyFailed,
            format!(
                "The second copy of the backup of {name} taken {taken} to {destination} failed: {}. \
                 The backup itself is fine. Check that the destination has space and is \
                 writable; the next backup copies again.",
                backup
                    .copy_error
                    .as_deref()
                    .unwrap_or("no error was recorded")
                    .trim_end_matches('.')
            ),
        ),
        Some("missing") => (
            AttentionCode::CopyDestinationMissing,
            format!(
                "The second copy of the backup of {name} taken {taken} was not made: \
                 {destination} was not there (is the disk unplugged or the share not mounted?). \
                 Connect it; the next backup copies again."
            ),
        ),
        _ => return,
    };
    out.add(Severity::Warning, code, format!("the second copy of {name} is missing"), message)
        .with(action(ActionKind::OpenBackups, None), backup.id);
}

fn space(out: &mut Out) {
    let name = out.name().to_owned();
    let Some(folder) = &out.facts.folder else { return };
    let Some(size) = usable(out.facts).first().and_then(|b| b.size_bytes).filter(|s| *s > 0) else {
        return;
    };
    let size = size as u64;
    let fit = folder.free_bytes / size;
    if fit >= BACKUPS_AHEAD {
        return;
    }
    let severity = if fit == 0 { Severity::Critical } else { Severity::Warning };
    let outlook = match fit {
        0 => "the next backup will not fit".to_owned(),
        1 => "it will be full after 1 more backup".to_owned(),
        n => format!("it will be full after {n} more backups"),
    };
    let message = format!(
        "The disk holding {} has {} free; at {} per backup of {name}, {outlook}. Free some \
         space, keep fewer backups, or move the backups to a bigger disk.",
        folder.path,
        human_bytes(folder.free_bytes),
        human_bytes(size)
    );
    out.add(
        severity,
        AttentionCode::DiskFillingUp,
        "the backup disk is filling up".to_owned(),
        message,
    )
    .with(action(ActionKind::OpenBackups, None), &folder.path);
}
