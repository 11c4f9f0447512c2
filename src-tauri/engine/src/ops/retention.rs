//! Retention: which backups of a database to keep, and deleting the others.
//!
//! A policy keeps the newest `keep_last` backups, plus the newest backup of each of the last
//! `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly` months that have a backup
//! (counted, like borg and restic, over periods that hold a backup rather than calendar
//! periods back from today, so that a computer switched off for a fortnight does not lose its
//! older backups to the clock). Periods are those of the time the backup started, in the
//! offset it was recorded with.
//!
//! Whatever the policy, these are never deleted:
//! - the newest backup that passed a test (the last one known to restore);
//! - the only backup of a database (and so, with any policy, at least the newest);
//! - a backup a drill or restore is using: each holds a shared lock on the backup's in-use
//!   mark in the data folder (`storage::catalog::use_backup`) for as long as it runs, and
//!   retention deletes only while holding the exclusive lock;
//! - a running backup (it has no files to delete yet; its row is listed as kept).
//!
//! Deleting removes the dump files (every file of a directory backup, then its folder), the
//! globals, the manifest and the drill certificates next to it, and marks the catalog row
//! deleted; the row stays as history. A second copy on another disk is left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::ops::copy::{backup_files, certificates_of};
use crate::storage::catalog::{self, BackupRecord, BackupStatus};
use crate::storage::context::Ctx;
use crate::storage::profiles;

/// How many backups to keep; 0 leaves a rule out. At least one must be above 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

impl RetentionPolicy {
    fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
    }
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PruneRequest {
    /// The profile whose server the database is on (backups count by server address, so those
    /// made before a rename of the profile count too).
    pub profile: String,
    pub database: String,
    pub policy: RetentionPolicy,
    /// Only say what would be deleted.
    pub dry_run: bool,
}

/// Why a backup is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeepReason {
    /// One of the newest `keep_last` (1 = the newest).
    Last { position: u32 },
    /// The newest backup of this day (YYYY-MM-DD).
    Daily { day: String },
    /// The newest backup of this ISO week (YYYY-Www).
    Weekly { week: String },
    /// The newest backup of this month (YYYY-MM).
    Monthly { month: String },
    /// The newest backup that passed a test.
    NewestTested,
    /// The only backup of the database.
    OnlyBackup,
    /// A drill or a restore is using it.
    InUse,
    /// The backup is still being made.
    Running,
    /// Its start time cannot be read, so it fits no slot; kept to be safe.
    UnknownTime,
    /// Its manifest cannot be read, so which files are its is not known.
    ManifestUnreadable { detail: String },
}

impl KeepReason {
    /// The reason in plain words.
    pub fn describe(&self) -> String {
        match self {
            KeepReason::Last { position: 1 } => "the newest backup".to_owned(),
            KeepReason::Last { position } => format!("one of the last backups (#{position})"),
            KeepReason::Daily { day } => format!("the newest of {day}"),
            KeepReason::Weekly { week } => format!("the newest of week {week}"),
            KeepReason::Monthly { month } => format!("the newest of {month}"),
            KeepReason::NewestTested => "the newest backup that passed a test".to_owned(),
            KeepReason::OnlyBackup => "the only backup of this database".to_owned(),
            KeepReason::InUse => "a test or restore is using it right now".to_owned(),
            KeepReason::Running => "it is still being made".to_owned(),
            KeepReason::UnknownTime => "its start time cannot be read".to_owned(),
            KeepReason::ManifestUnreadable { detail } => {
                format!("its manifest cannot be read, so its files are not known ({detail})")
            }
        }
    }

    /// Whether the reason protects the backup whatever the policy.
    pub fn protects(&self) -> bool {
        !matches!(
            self,
            KeepReason::Last { .. }
                | KeepReason::Daily { .. }
                | KeepReason::Weekly { .. }
                | KeepReason::Monthly { .. }
        )
    }
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PruneItem {
    pub backup: BackupRecord,
    /// Why it is kept (empty for a backup that goes).
    pub reasons: Vec<KeepReason>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PruneFailure {
    pub backup_id: i64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub policy: RetentionPolicy,
    pub dry_run: bool,
    /// Newest first, each with why.
    pub keep: Vec<PruneItem>,
    /// What goes (a dry run) or went, newest first.
    pub delete: Vec<PruneItem>,
    /// The size of what goes or went.
    pub freed_bytes: u64,
    /// Backups that could not be deleted, and why (they stay in the catalog, not deleted).
    pub failures: Vec<PruneFailure>,
}

/// One backup as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub running: bool,
    pub tested_ok: bool,
    pub in_use: bool,
}

/// A slot rule: how many periods, the period a time falls in, and the reason it gives.
type Slot = (u32, fn(&DateTime<FixedOffset>) -> String, fn(String) -> KeepReason);

/// The rules, without any disk or store: for each candidate (any order) why it is kept, or an
/// empty list for one that goes. Only finished backups (`running == false`) may go.
pub fn decide(
    candidates: &[Candidate],
    policy: &RetentionPolicy,
) -> BTreeMap<i64, Vec<KeepReason>> {
    let mut reasons: BTreeMap<i64, Vec<KeepReason>> =
        candidates.iter().map(|c| (c.id, Vec::new())).collect();
    let mut keep = |id: i64, reason: KeepReason| reasons.entry(id).or_default().push(reason);
    // Newest first: by start time, then by number; unknown times last.
    let mut finished: Vec<&Candidate> = candidates.iter().filter(|c| !c.running).collect();
    finished.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    for c in candidates {
        if c.running {
            keep(c.id, KeepReason::Running);
        }
        if c.in_use {
            keep(c.id, KeepReason::InUse);
        }
        if !c.running && c.started_at.is_none() {
            keep(c.id, KeepReason::UnknownTime);
        }
    }
    if finished.len() == 1 {
        keep(finished[0].id, KeepReason::OnlyBackup);
    }
    if let Some(tested) = finished.iter().find(|c| c.tested_ok) {
        keep(tested.id, KeepReason::NewestTested);
    }
    for (position, c) in finished.iter().take(policy.keep_last as usize).enumerate() {
        keep(c.id, KeepReason::Last { position: position as u32 + 1 });
    }
    let dated: Vec<(&Candidate, DateTime<FixedOffset>)> =
        finished.iter().filter_map(|c| c.started_at.map(|t| (*c, t))).collect();
    let slots: [Slot; 3] = [
        (policy.keep_daily, |t| t.format("%Y-%m-%d").to_string(), |day| KeepReason::Daily { day }),
        (
            policy.keep_weekly,
            |t| {
                let w = t.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            },
            |week| KeepReason::Weekly { week },
        ),
        (
            policy.keep_monthly,
            |t| t.format("%Y-%m").to_string(),
            |month| KeepReason::Monthly { month },
        ),
    ];
    for (count, period_of, reason) in slots {
        let mut periods: Vec<String> = Vec::new();
        for (c, at) in &dated {
            let period = period_of(at);
            if periods.contains(&period) {
                continue;
            }
            if periods.len() == count as usize {
                break;
            }
            periods.push(period.clone());
            keep(c.id, reason(period));
        }
    }
    reasons
}

/// Applies `policy` to the backups of one database: says what it keeps (and why) and what it
/// deletes, and unless `dry_run` deletes those. A backup whose files cannot all be removed is
/// named in `failures` and stays in the catalog.
pub async fn prune(ctx: &Ctx, request: PruneRequest) -> Result<PruneReport> {
    let subject = format!("{}/{}", request.profile, request.database);
    let work = prune_inner(ctx, request);
    crate::base::logging::logged("prune", &subject, work).await
}

/// [`prune`] without its lines in the log.
async fn prune_inner(ctx: &Ctx, request: PruneRequest) -> Result<PruneReport> {
    if request.policy.is_empty() {
        return Err(Error::InvalidInput {
            field: "retention policy",
            problem: "keeps nothing; keep at least the last backup (keep-last 1 or more)".into(),
        });
    }
    let profile = profiles::find_profile(ctx, &request.profile)?;
    let (host, port) = (profile.settings.host.clone(), profile.settings.port);
    let database = request.database.trim().to_owned();
    let records: Vec<BackupRecord> = catalog::backups_of(ctx, &host, port, &database)?
        .into_iter()
        .filter(|b| matches!(b.status, BackupStatus::Finished | BackupStatus::Running))
        .collect();
    let mut candidates = Vec::with_capacity(records.len());
    for b in &records {
        candidates.push(Candidate {
            id: b.id,
            started_at: DateTime::parse_from_rfc3339(&b.started_at).ok(),
            running: b.status == BackupStatus::Running,
            tested_ok: b.test_status == "tested-ok",
            in_use: b.status == BackupStatus::Finished && catalog::in_use(ctx, b.id)?,
        });
    }
    let mut decisions = decide(&candidates, &request.policy);
    let mut report = PruneReport {
        profile: profile.settings.name.clone(),
        host,
        port,
        database,
        policy: request.policy,
        dry_run: request.dry_run,
        keep: Vec::new(),
        delete: Vec::new(),
        freed_bytes: 0,
        failures: Vec::new(),
    };
    for backup in records {
        let mut reasons = decisions.remove(&backup.id).unwrap_or_default();
        if reasons.is_empty()
            && let Some(detail) = unreadable_manifest(&backup)
        {
            reasons.push(KeepReason::ManifestUnreadable { detail });
        }
        if reasons.is_empty() {
            report.delete.push(PruneItem { backup, reasons });
        } else {
            report.keep.push(PruneItem { backup, reasons });
        }
    }
    if !request.dry_run {
        delete_all(ctx, &mut report)?;
    }
    report.freed_bytes =
        report.delete.iter().map(|i| i.backup.size_bytes.unwrap_or(0).max(0) as u64).sum();
    Ok(report)
}

/// Why a backup's manifest, which is there, cannot be read (a missing one is no obstacle:
/// its files went with it).
fn unreadable_manifest(backup: &BackupRecord) -> Option<String> {
    let path = Path::new(backup.manifest_path.as_deref()?);
    if !path.exists() {
        return None;
    }
    backup_files(path).err().map(|e| e.to_string())
}

/// Deletes every backup of `report.delete`, each under its exclusive in-use claim; those a
/// drill or restore took meanwhile move to `keep`, those that fail to `failures`.
fn delete_all(ctx: &Ctx, report: &mut PruneReport) -> Result<()> {
    let now = chrono::Local::now().to_rfc3339();
    let mut deleted = Vec::new();
    for mut item in std::mem::take(&mut report.delete) {
        let Some(_claim) = catalog::claim_for_deletion(ctx, item.backup.id)? else {
            item.reasons.push(KeepReason::InUse);
            report.keep.push(item);
            continue;
        };
        match delete_files(&item.backup) {
            Ok(_) => {
                catalog::mark_deleted(ctx, item.backup.id, &now, catalog::DeletedBy::Retention)?;
                catalog::forget_claim(ctx, item.backup.id);
                item.backup.deleted_at = Some(now.clone());
                deleted.push(item);
            }
            Err(error) => report
                .failures
                .push(PruneFailure { backup_id: item.backup.id, message: error.to_string() }),
        }
    }
    report.keep.sort_by(|a, b| b.backup.started_at.cmp(&a.backup.started_at));
    report.delete = deleted;
    Ok(())
}

/// Removes a backup's files: those its manifest lists, the folders they are in once empty,
/// the certificates beside it and the manifest last (so that an interrupted delete can be
/// run again). Returns the files it removed (those already gone are not listed). The caller
/// holds the backup's exclusive in-use claim.
pub(crate) fn delete_files(backup: &BackupRecord) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Some(manifest) = backup.manifest_path.as_deref().map(PathBuf::from) else {
        return Ok(removed);
    };
    let folder = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut remove = |path: PathBuf| -> Result<()> {
        if remove_file(&path)? {
            removed.push(path);
        }
        Ok(())
    };
    if !manifest.exists() {
        // The files went with the manifest; only certificates may be left.
        for name in certificates_of(&folder, &manifest) {
            remove(folder.join(name))?;
        }
        return Ok(removed);
    }
    let files = backup_files(&manifest)?;
    for file in &files.files {
        remove(files.path_of(&file.name))?;
    }
    for sub in &files.folders {
        let path = files.path_of(sub);
        match std::fs::remove_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io { action: "Removing the backup's folder", path, source });
            }
        }
    }
    for name in &files.certificates {
        remove(folder.join(name))?;
    }
    remove(manifest)?;
    Ok(removed)
}

/// Removes one file; false when it was not there.
fn remove_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => {
            Err(Error::Io { action: "Deleting the backup's file", path: path.to_owned(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minutes: i64) -> DateTime<FixedOffset> {
        let base = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+01:00").unwrap();
        base + chrono::Duration::minutes(minutes)
    }

    fn candidate(id: i64, minutes: i64) -> Candidate {
        Candidate {
            id,
            started_at: Some(at(minutes)),
            running: false,
            tested_ok: false,
            in_use: false,
        }
    }

    fn kept(decisions: &BTreeMap<i64, Vec<KeepReason>>) -> Vec<i64> {
        decisions.iter().filter(|(_, r)| !r.is_empty()).map(|(id, _)| *id).collect()
    }

    #[test]
    fn keep_last_and_daily_slots_pick_the_newest_of_each_day() {
        const DAY: i64 = 24 * 60;
        // Two backups a day for four days: ids 1..=8, oldest first.
        let candidates: Vec<Candidate> =
            (0..8).map(|i| candidate(i + 1, (i / 2) * DAY + (i % 2) * 60)).collect();
        let policy = RetentionPolicy { keep_last: 1, keep_daily: 3, ..Default::default() };
        let decisions = decide(&candidates, &policy);
        assert_eq!(kept(&decisions), [4, 6, 8]);
        assert_eq!(decisions[&8][0], KeepReason::Last { position: 1 });
        assert_eq!(decisions[&4], [KeepReason::Daily { day: "2025-01-02".into() }]);
    }

    #[test]
    fn the_newest_tested_and_a_used_backup_survive_a_keep_last_of_one() {
        let mut candidates: Vec<Candidate> = (1..=5).map(|i| candidate(i, i * 10)).collect();
        candidates[0].tested_ok = true; // the oldest passed a test
        candidates[1].tested_ok = true; // and a newer one too
        candidates[2].in_use = true;
        let policy = RetentionPolicy { keep_last: 1, ..Default::default() };
        let decisions = decide(&candidates, &policy);
        assert_eq!(kept(&decisions), [2, 3, 5]);
        assert_eq!(decisions[&2], [KeepReason::NewestTested]);
        assert_eq!(decisions[&3], [KeepReason::InUse]);
    }

    #[test]
    fn weeks_are_iso_weeks_and_months_calendar_months() {
        // 2024-12-30 is in ISO week 2025-W01.
        let base = DateTime::parse_from_rfc3339("2024-12-30T10:00:00+00:00").unwrap();
        let c = Candidate {
            id: 1,
            started_at: Some(base),
            running: false,
            tested_ok: false,
            in_use: false,
        };
        let policy = RetentionPolicy { keep_weekly: 1, keep_monthly: 1, ..Default::default() };
        let decisions = decide(&[c], &policy);
        assert!(decisions[&1].contains(&KeepReason::Weekly { week: "2025-W01".into() }));
        assert!(decisions[&1].contains(&KeepReason::Monthly { month: "2024-12".into() }));
    }

    fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
        // Up to 40 backups over ~4 months; some running, tested, in use, or without a time.
        prop::collection::vec(
            (0i64..(120 * 24 * 60), 0u8..20, any::<bool>(), 0u8..10, 0u8..30),
            0..40,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (minutes, running, tested, in_use, unknown))| Candidate {
                    id: i as i64 + 1,
                    started_at: if unknown == 0 { None } else { Some(at(minutes)) },
                    running: running == 0,
                    tested_ok: tested,
                    in_use: in_use == 0,
                })
                .collect()
        })
    }

    fn policies() -> impl Strategy<Value = RetentionPolicy> {
        (0u32..6, 0u32..8, 0u32..5, 0u32..4)
            .prop_map(|(keep_last, keep_daily, keep_weekly, keep_monthly)| RetentionPolicy {
                keep_last,
                keep_daily,
                keep_weekly,
                keep_monthly,
            })
            .prop_filter("a policy keeps something", |p| !p.is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn protected_backups_survive_every_policy(cs in candidates(), policy in policies()) {
            let decisions = decide(&cs, &policy);
            let keeps = |id: i64| !decisions[&id].is_empty();
            let mut finished: Vec<&Candidate> = cs.iter().filter(|c| !c.running).collect();
            finished.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
            for c in &cs {
                if c.running || c.in_use || c.started_at.is_none() {
                    prop_assert!(keeps(c.id), "{c:?} deleted");
                }
            }
            if let Some(tested) = finished.iter().find(|c| c.tested_ok) {
                prop_assert!(keeps(tested.id), "the newest tested backup was deleted");
            }
            if !finished.is_empty() {
                prop_assert!(keeps(finished[0].id), "the newest backup was deleted");
            }
            if finished.len() == 1 {
                prop_assert!(decisions[&finished[0].id].contains(&KeepReason::OnlyBackup));
            }
        }

        #[test]
        fn slots_are_honoured_and_nothing_else_is_kept(cs in candidates(), policy in policies()) {
            let decisions = decide(&cs, &policy);
            let keeps = |id: i64| !decisions[&id].is_empty();
            let mut finished: Vec<&Candidate> = cs.iter().filter(|c| !c.running).collect();
            finished.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
            for c in finished.iter().take(policy.keep_last as usize) {
                prop_assert!(keeps(c.id), "one of the last {} was deleted", policy.keep_last);
            }
            // The newest backup of each of the newest `keep_daily` days that have one.
            let mut days: Vec<chrono::NaiveDate> = Vec::new();
            for c in &finished {
                let Some(t) = c.started_at else { continue };
                if days.contains(&t.date_naive()) { continue; }
                if days.len() == policy.keep_daily as usize { break; }
                days.push(t.date_naive());
                prop_assert!(keeps(c.id), "the newest backup of {} was deleted", t.date_naive());
            }
            // A backup kept by no protection is kept by a slot, and slots hold one backup each.
            let by_slot = decisions.values().filter(|r| !r.is_empty() && !r.iter().any(KeepReason::protects)).count();
            let slots = policy.keep_last + policy.keep_daily + policy.keep_weekly + policy.keep_monthly;
            prop_assert!(by_slot <= slots as usize);
            for reasons in decisions.values() {
                for r in reasons {
                    if let KeepReason::Last { position } = r {
                        prop_assert!(*position <= policy.keep_last);
                    }
                }
            }
            let daily = decisions.values().flatten().filter(|r| matches!(r, KeepReason::Daily { .. })).count();
            prop_assert!(daily <= policy.keep_daily as usize);
        }
    }
}
