//! Recover, for the bad day: bring a database back from the newest backup that is known to
//! restore. [`recover_plan`] picks that backup (the newest that passed a test, whose files are
//! there and whose checksums match), says in plain words what will be lost, and changes nothing.
//! The desktop then restores it next to the live database with the ordinary restore, and
//! [`swap_restored`] lets the restored copy take the live database's name with the same renames
//! a replace makes (`ops::restore`'s replace mode): the live one is kept, never dropped.
//!
//! Why only tested backups: a backup nobody restored may not restore, and the bad day is the
//! worst day to find out. A newer untested backup is named in the plan, with a way to test it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::format::archive::{self, FoundManifest, read_manifest};
use crate::ops::copy::backup_files;
use crate::ops::restore::swap_in;
use crate::storage::catalog::{self, BackupRecord, BackupStatus, DrillRecord};
use crate::storage::context::Ctx;
use crate::storage::profiles;

#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecoverRequest {
    /// The profile of the server the database is on (backups count by server address).
    pub profile: String,
    pub database: String,
    /// Test hook: the clock the plan's words use instead of now. Not reachable from the GUI
    /// or the CLI.
    #[serde(skip)]
    #[specta(skip)]
    pub now: Option<DateTime<FixedOffset>>,
}

/// Why a backup newer than the chosen one is not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Nobody has tested it.
    Untested,
    /// Its last test failed.
    TestFailed,
    /// Its manifest or a file of it is gone.
    FilesMissing { detail: String },
    /// A file's sha256 differs from the manifest's (or the manifest cannot be read).
    FilesDamaged { detail: String },
}

impl SkipReason {
    pub fn describe(&self) -> String {
        match self {
            SkipReason::Untested => "it was never tested".to_owned(),
            SkipReason::TestFailed => "its last test failed".to_owned(),
            SkipReason::FilesMissing { detail } => format!("its files are gone ({detail})"),
            SkipReason::FilesDamaged { detail } => format!("its files are damaged ({detail})"),
        }
    }
}

/// A backup the plan passed over, newest first.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SkippedBackup {
    pub backup_id: i64,
    pub started_at: String,
    pub manifest_path: Option<String>,
    pub reason: SkipReason,
    /// "The backup of today 15:00 is not used: it was never tested."
    pub why: String,
}

/// What Recover would restore, and what that costs.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecoverPlan {
    pub profile: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// The backup to restore: the newest that passed a test, files present, checksums matched.
    pub backup: BackupRecord,
    /// Its passing test (absent when the catalog says it passed but the test's row is gone).
    pub test: Option<DrillRecord>,
    /// How old the backup is, in milliseconds, when the plan was made.
    pub age_ms: i64,
    /// "Changes made since Tuesday 14:02, 3 hours ago, will be lost."
    pub lost: String,
    /// How many of its files had their sha256 checked against the manifest (all of them).
    pub verified_files: u32,
    /// Newer backups not used, and why.
    pub skipped: Vec<SkippedBackup>,
    /// What will happen, in plain words.
    pub summary: String,
}

/// One backup as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub started_at: DateTime<FixedOffset>,
    pub tested_ok: bool,
    pub test_failed: bool,
    /// Why its files cannot be used (missing or damaged), when they cannot.
    pub files: Option<SkipReason>,
}

/// The choice, without any disk or store: the index (in `candidates`) of the newest backup that
/// passed its last test and whose files are usable, and the newer ones passed over (all of them
/// when none qualifies), newest first.
pub fn choose(candidates: &[Candidate]) -> (Option<usize>, Vec<(usize, SkipReason)>) {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id))
    });
    let mut skipped = Vec::new();
    for index in order {
        let c = &candidates[index];
        let reason = if c.test_failed {
            Some(SkipReason::TestFailed)
        } else if !c.tested_ok {
            Some(SkipReason::Untested)
        } else {
            c.files.clone()
        };
        match reason {
            Some(reason) => skipped.push((index, reason)),
            None => return (Some(index), skipped),
        }
    }
    (None, skipped)
}

/// "today 14:02", "yesterday 09:15", "Tuesday 14:02", "Tuesday 2 December 14:02" (with the year
/// when it is not this one), in the clock's offset.
pub fn when_words(at: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let at = at.with_timezone(now.offset());
    let days = (now.date_naive() - at.date_naive()).num_days();
    let time = at.format("%H:%M");
    match days {
        0 => format!("today {time}"),
        1 => format!("yesterday {time}"),
        2..=6 => format!("{} {time}", at.format("%A")),
        _ if at.year() == now.year() => format!("{} {time}", at.format("%A %-d %B")),
        _ => format!("{} {time}", at.format("%A %-d %B %Y")),
    }
}

/// "less than a minute ago", "1 minute ago", "3 hours ago", "5 days ago" (whole units, rounded
/// down: never younger than it is).
pub fn ago_words(age: TimeDelta) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") }
    };
    let minutes = age.num_minutes().max(0);
    if minutes < 1 {
        "less than a minute ago".to_owned()
    } else if minutes < 60 {
        plural(minutes, "minute")
    } else if minutes < 48 * 60 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes / (24 * 60), "day")
    }
}

/// "Changes made since Tuesday 14:02, 3 hours ago, will be lost."
pub fn lost_words(backup_at: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    format!(
        "Changes made since {}, {}, will be lost.",
        when_words(backup_at, now),
        ago_words(now - backup_at)
    )
}

/// Which backup Recover would restore for a database, and what would be lost; changes nothing.
/// [`Error::NoTestedBackup`] when no backup of it passed a test (with usable files).
pub async fn recover_plan(ctx: &Ctx, request: RecoverRequest) -> Result<RecoverPlan> {
    let now = request.now.unwrap_or_else(|| chrono::Local::now().fixed_offset());
    let profile = profiles::find_profile(ctx, &request.profile)?;
    let (host, port) = (profile.settings.host.clone(), profile.settings.port);
    let database = request.database.trim().to_owned();
    let records: Vec<BackupRecord> = catalog::backups_of(ctx, &host, port, &database)?
        .into_iter()
        .filter(|b| b.status == BackupStatus::Finished)
        .collect();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(records.len());
    for b in &records {
        candidates.push(Candidate {
            id: b.id,
            // An unreadable time sorts as the oldest rather than hiding the backup.
            started_at: DateTime::parse_from_rfc3339(&b.started_at).unwrap_or_default(),
            tested_ok: b.test_status == "tested-ok",
            test_failed: b.test_status == "tested-failed",
            files: files_present(b).err(),
        });
    }
    // The files of the chosen backup are checksummed; when they do not match, the next one is
    // chosen, so that Recover never starts from a file known to be damaged.
    let (chosen, skipped, verified_files) = loop {
        let (chosen, skipped) = choose(&candidates);
        let Some(index) = chosen else { break (None, skipped, 0) };
        match verify_files(&records[index]).await {
            Ok(count) => break (Some(index), skipped, count),
            Err(reason) => candidates[index].files = Some(reason),
        }
    };
    let skipped: Vec<SkippedBackup> = skipped
        .into_iter()
        .map(|(index, reason)| skipped_backup(&records[index], &candidates[index], reason, now))
        .collect();
    let Some(index) = chosen else {
        return Err(no_tested_backup(&database, &skipped));
    };
    let backup = records[index].clone();
    let started = candidates[index].started_at;
    let manifest = backup.manifest_path.clone().unwrap_or_default();
    let test = catalog::drills_of(ctx, &[manifest.as_str()])?.into_iter().find(|d| d.passed);
    let lost = lost_words(started, now);
    let summary = summary(&database, started, test.as_ref(), now);
    Ok(RecoverPlan {
        profile: profile.settings.name.clone(),
        host,
        port,
        database,
        age_ms: (now - started).num_milliseconds().max(0),
        backup,
        test,
        lost,
        verified_files,
        skipped,
        summary,
    })
}

fn skipped_backup(
    record: &BackupRecord,
    candidate: &Candidate,
    reason: SkipReason,
    now: DateTime<FixedOffset>,
) -> SkippedBackup {
    let why = format!(
        "The backup of {} is not used: {}.",
        when_words(candidate.started_at, now),
        reason.describe()
    );
    SkippedBackup {
        backup_id: record.id,
        started_at: record.started_at.clone(),
        manifest_path: record.manifest_path.clone(),
        reason,
        why,
    }
}

fn no_tested_backup(database: &str, skipped: &[SkippedBackup]) -> Error {
    let detail = match skipped.first() {
        None => " (there is no backup of it in Lifeboat's catalog)".to_owned(),
        Some(newest) => {
            format!(
                " ({})",
                newest.why.trim_end_matches('.').replacen("The backup", "the backup", 1)
            )
        }
    };
    Error::NoTestedBackup { database: database.to_owned(), detail }
}

fn summary(
    database: &str,
    started: DateTime<FixedOffset>,
    test: Option<&DrillRecord>,
    now: DateTime<FixedOffset>,
) -> String {
    let tested = match test.and_then(|t| DateTime::parse_from_rfc3339(&t.started_at).ok()) {
        Some(at) => format!("it passed its test {}", when_words(at, now)),
        None => "it passed its test".to_owned(),
    };
    format!(
        "Lifeboat will restore the backup of {} ({tested}) into a new database next to \
         {database}. {database} itself is not touched: afterwards you choose whether the \
         restored copy takes its place (the current {database} is then kept under another \
         name) or both stay.",
        when_words(started, now)
    )
}

/// Whether a finished backup's manifest and every file it lists are there.
fn files_present(backup: &BackupRecord) -> std::result::Result<(), SkipReason> {
    let Some(manifest) = backup.manifest_path.as_deref() else {
        return Err(SkipReason::FilesMissing { detail: "no manifest was recorded".into() });
    };
    let manifest = Path::new(manifest);
    if !manifest.is_file() {
        return Err(SkipReason::FilesMissing {
            detail: format!("{} is not there", manifest.display()),
        });
    }
    let files =
        backup_files(manifest).map_err(|e| SkipReason::FilesDamaged { detail: e.to_string() })?;
    for file in &files.files {
        let path = files.path_of(&file.name);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(SkipReason::FilesMissing {
                detail: format!("{} is not there", path.display()),
            });
        }
    }
    Ok(())
}

/// Every file of the backup against its manifest's sha256; how many were checked.
async fn verify_files(backup: &BackupRecord) -> std::result::Result<u32, SkipReason> {
    let path = PathBuf::from(backup.manifest_path.as_deref().unwrap_or_default());
    let manifest =
        read_manifest(&path).map_err(|e| SkipReason::FilesDamaged { detail: e.to_string() })?;
    let found = FoundManifest {
        folder: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        files: manifest.files.clone(),
        manifest,
        path,
    };
    match archive::verify(&found).await {
        Ok(count) => Ok(count as u32),
        Err(e @ Error::BackupFileMissing { .. }) => {
            Err(SkipReason::FilesMissing { detail: e.to_string() })
        }
        Err(e) => Err(SkipReason::FilesDamaged { detail: e.to_string() }),
    }
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SwapRequest {
    pub profile: String,
    /// The live database, which is kept under `<live>_before_YYYYMMDD-HHMMSS`.
    pub live: String,
    /// The database restored next to it, which takes the live database's name.
    pub restored: String,
    /// End the other sessions connected to the live database first (else they block the swap).
    #[serde(default)]
    pub terminate_connections: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Swapped {
    pub profile: String,
    /// The live name, now the restored copy's.
    pub database: String,
    /// The name the previous live database is kept under.
    pub kept_as: String,
}

/// Lets a database restored next to the live one take its place: the replace's renames
/// (`ops::restore`), the live database kept under another name, never dropped.
pub async fn swap_restored(ctx: &Ctx, request: SwapRequest) -> Result<Swapped> {
    let subject = format!("{}/{} with {}", request.profile, request.live, request.restored);
    crate::base::logging::logged("swap_restored", &subject, swap_inner(ctx, request)).await
}

async fn swap_inner(ctx: &Ctx, request: SwapRequest) -> Result<Swapped> {
    let profile = profiles::find_profile(ctx, &request.profile)?;
    let live = request.live.trim().to_owned();
    let restored = request.restored.trim().to_owned();
    let kept_as = swap_in(ctx, &profile, &restored, &live, request.terminate_connections).await?;
    Ok(Swapped { profile: profile.settings.name.clone(), database: live, kept_as })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn candidate(id: i64, hour: u32) -> Candidate {
        Candidate {
            id,
            started_at: at(&format!("2025-03-04T{hour:02}:00:00+01:00")),
            tested_ok: false,
            test_failed: false,
            files: None,
        }
    }

    #[test]
    fn the_newest_tested_backup_wins_over_newer_untested_ones() {
        let mut cs = vec![candidate(1, 8), candidate(2, 10), candidate(3, 12), candidate(4, 14)];
        cs[0].tested_ok = true;
        cs[1].tested_ok = true;
        let (chosen, skipped) = choose(&cs);
        assert_eq!(chosen, Some(1), "backup 2, the newest tested");
        let skipped: Vec<(i64, SkipReason)> =
            skipped.into_iter().map(|(i, r)| (cs[i].id, r)).collect();
        assert_eq!(skipped, [(4, SkipReason::Untested), (3, SkipReason::Untested)]);
    }

    #[test]
    fn failed_tests_and_missing_files_are_passed_over() {
        let mut cs = vec![candidate(1, 8), candidate(2, 10), candidate(3, 12)];
        cs[2].test_failed = true;
        cs[1].tested_ok = true;
        cs[1].files = Some(SkipReason::FilesMissing { detail: "gone".into() });
        cs[0].tested_ok = true;
        let (chosen, skipped) = choose(&cs);
        assert_eq!(chosen, Some(0));
        assert_eq!(skipped[0], (2, SkipReason::TestFailed));
        assert_eq!(skipped[1], (1, SkipReason::FilesMissing { detail: "gone".into() }));
    }

    #[test]
    fn a_test_that_failed_after_one_passed_counts_as_failed() {
        // The catalog keeps the last test's result: passed once, failed since.
        let mut cs = vec![candidate(1, 8)];
        cs[0].tested_ok = false;
        cs[0].test_failed = true;
        let (chosen, skipped) = choose(&cs);
        assert_eq!(chosen, None);
        assert_eq!(skipped, [(0, SkipReason::TestFailed)]);
    }

    #[test]
    fn nothing_tested_chooses_nothing_and_names_every_backup() {
        let cs = vec![candidate(1, 8), candidate(2, 9)];
        let (chosen, skipped) = choose(&cs);
        assert_eq!(chosen, None);
        assert_eq!(skipped.len(), 2);
        assert_eq!(skipped[0].0, 1, "newest first");
        assert_eq!(choose(&[]), (None, vec![]));
    }

    #[test]
    fn the_same_start_time_prefers_the_higher_number() {
        let mut cs = vec![candidate(7, 8), candidate(9, 8)];
        cs[0].tested_ok = true;
        cs[1].tested_ok = true;
        assert_eq!(choose(&cs).0, Some(1));
    }

    #[test]
    fn what_is_lost_is_said_in_plain_words() {
        // Wednesday 5 March 2025, 17:30.
        let now = at("2025-03-05T17:30:00+01:00");
        assert_eq!(
            lost_words(at("2025-03-05T14:02:00+01:00"), now),
            "Changes made since today 14:02, 3 hours ago, will be lost."
        );
        assert_eq!(
            lost_words(at("2025-03-04T14:02:00+01:00"), now),
            "Changes made since yesterday 14:02, 27 hours ago, will be lost."
        );
        assert_eq!(
            lost_words(at("2025-03-02T09:00:00+01:00"), now),
            "Changes made since Sunday 09:00, 3 days ago, will be lost."
        );
        assert_eq!(when_words(at("2025-01-07T08:05:00+01:00"), now), "Tuesday 7 January 08:05");
        assert_eq!(
            when_words(at("2024-12-31T23:00:00+01:00"), now),
            "Tuesday 31 December 2024 23:00"
        );
    }

    #[test]
    fn ages_round_down_and_say_their_unit() {
        assert_eq!(ago_words(TimeDelta::seconds(30)), "less than a minute ago");
        assert_eq!(ago_words(TimeDelta::minutes(1)), "1 minute ago");
        assert_eq!(ago_words(TimeDelta::minutes(59)), "59 minutes ago");
        assert_eq!(ago_words(TimeDelta::minutes(119)), "1 hour ago");
        assert_eq!(ago_words(TimeDelta::hours(47)), "47 hours ago");
        assert_eq!(ago_words(TimeDelta::hours(49)), "2 days ago");
        assert_eq!(ago_words(TimeDelta::minutes(-5)), "less than a minute ago");
    }

    #[test]
    fn times_are_shown_in_the_clock_offset() {
        // 13:02 UTC is 14:02 at +01:00.
        let now = at("2025-03-05T17:30:00+01:00");
        assert_eq!(when_words(at("2025-03-05T13:02:00+00:00"), now), "today 14:02");
    }
}
