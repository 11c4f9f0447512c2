//! The readiness line of a database: how much would be lost if it were lost now (the age of the
//! newest backup that passed a test), and how long that backup took to restore in its test.

use chrono::{DateTime, FixedOffset};

use super::Readiness;
use super::facts::DatabaseFacts;
use super::rules::age_words;

/// "3 min 10 s", "45 s", "1 h 5 min".
pub fn duration_words(ms: i64) -> String {
    let seconds = (ms.max(0) + 500) / 1000;
    if seconds < 60 {
        format!("{seconds} s")
    } else if seconds < 3600 {
        format!("{} min {} s", seconds / 60, seconds % 60)
    } else {
        format!("{} h {} min", seconds / 3600, seconds % 3600 / 60)
    }
}

pub fn readiness(facts: &DatabaseFacts, now: DateTime<FixedOffset>) -> Readiness {
    let mut usable: Vec<_> = facts.backups.iter().filter(|b| b.usable()).collect();
    usable.sort_by_key(|b| std::cmp::Reverse(b.started_at));
    let passed_drill = |manifest: Option<&str>| {
        facts
            .drills
            .iter()
            .find(|d| d.passed && manifest.is_some() && d.manifest_path.as_deref() == manifest)
    };
    let tested = usable.iter().find(|b| {
        b.test_status == "tested-ok" || passed_drill(b.manifest_path.as_deref()).is_some()
    });
    let (line, tested_backup_at, restore_ms) = match tested {
        Some(backup) => {
            let drill = passed_drill(backup.manifest_path.as_deref());
            let lost = format!(
                "If this database were lost now you would lose up to {} of changes",
                age_words(now - backup.started_at)
            );
            let line = match drill {
                Some(d) => format!(
                    "{lost}; the last test restored it in {}.",
                    duration_words(d.duration_ms)
                ),
                None => format!("{lost}; that backup passed its test."),
            };
            (line, Some(backup.started_at.to_rfc3339()), drill.map(|d| d.duration_ms))
        }
        None => match usable.first() {
            Some(newest) => (
                format!(
                    "No backup of this database has passed a test yet, so nobody knows whether \
                     one restores; the newest was taken {} ago. Test it to know.",
                    age_words(now - newest.started_at)
                ),
                None,
                None,
            ),
            None => (
                "There is no backup of this database to restore from: if it were lost now, its \
                 data would be gone. Back it up now."
                    .to_owned(),
                None,
                None,
            ),
        },
    };
    Readiness { database: facts.database.clone(), line, tested_backup_at, restore_ms }
}
