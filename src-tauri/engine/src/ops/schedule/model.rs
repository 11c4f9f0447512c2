//! What a schedule is: when it runs (every day or on chosen weekdays, at a local time), what it
//! backs up, and what follows each backup (a drill, retention, a second copy). Validation lives
//! here, so the CLI, the app and the store agree on what a schedule may say.

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Result};
use crate::format::manifest::BackupFormat;

/// Weekdays in the order schedules list them; index 0 is Monday.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When a drill follows a scheduled backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DrillPolicy {
    /// No drill.
    #[default]
    None,
    /// After every backup.
    After,
    /// After the first backup of a week without a drill of this database.
    Weekly,
}

impl DrillPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillPolicy::None => "none",
            DrillPolicy::After => "after",
            DrillPolicy::Weekly => "weekly",
        }
    }

    pub fn parse(text: &str) -> Option<DrillPolicy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Some(DrillPolicy::None),
            "after" => Some(DrillPolicy::After),
            "weekly" => Some(DrillPolicy::Weekly),
            _ => None,
        }
    }
}

/// How many backups retention keeps, per slot; absent: that slot keeps nothing extra.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Keep {
    pub last: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
}

impl Keep {
    /// Whether the schedule prunes at all.
    pub fn any(&self) -> bool {
        self.last.is_some()
            || self.daily.is_some()
            || self.weekly.is_some()
            || self.monthly.is_some()
    }
}

/// What the user asks for when adding a schedule.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleInput {
    pub profile: String,
    pub database: String,
    /// "daily", or weekdays such as "mon,wed,fri" (full names, spaces and "weekdays" work too).
    pub days: String,
    /// Local time, "HH:MM".
    pub time: String,
    #[serde(default)]
    pub format: BackupFormat,
    /// Where the backups go (default: the data folder's "backups").
    pub out_dir: Option<String>,
    #[serde(default)]
    pub drill: DrillPolicy,
    /// "practice" (the default) or the name of a profile whose server takes the drill.
    pub drill_target: Option<String>,
    #[serde(default)]
    pub keep: Keep,
    /// A second folder every finished backup is copied to.
    pub copy_to: Option<String>,
}

/// A schedule as stored and installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// `lifeboat-<profile>-<database>`, safe as a systemd unit, launchd label and task name.
    pub name: String,
    pub profile: String,
    pub database: String,
    /// "daily" or weekdays "mon,wed,fri".
    pub days: String,
    /// "HH:MM", local time.
    pub time: String,
    pub format: BackupFormat,
    pub out_dir: Option<String>,
    pub drill: DrillPolicy,
    /// "practice" or a profile name.
    pub drill_target: String,
    pub keep: Keep,
    pub copy_to: Option<String>,
    pub created_at: String,
}

impl Schedule {
    /// (hour, minute) of `time`, which validation made "HH:MM".
    pub fn hour_minute(&self) -> (u32, u32) {
        parse_time(&self.time).unwrap_or((0, 0))
    }

    /// The weekdays it runs on (0 = Monday), all seven for "daily".
    pub fn weekdays(&self) -> Vec<usize> {
        parse_days(&self.days).unwrap_or_else(|_| (0..7).collect())
    }

    pub fn is_daily(&self) -> bool {
        self.weekdays().len() == 7
    }

    /// "every day at 02:30", "on mon, wed, fri at 02:30".
    pub fn describe_when(&self) -> String {
        if self.is_daily() {
            format!("every day at {}", self.time)
        } else {
            format!("on {} at {}", self.days.replace(',', ", "), self.time)
        }
    }
}

/// "HH:MM" (or "H:MM") into (hour, minute).
pub fn parse_time(text: &str) -> Result<(u32, u32)> {
    let invalid = || Error::InvalidInput {
        field: "time",
        problem: format!("\"{text}\" is not a time of day as HH:MM (24-hour clock, e.g. 02:30)"),
    };
    let (hour, minute) = text.trim().split_once(':').ok_or_else(invalid)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hour) || minute.len() != 2 || !digits(minute) {
        return Err(invalid());
    }
    let (hour, minute): (u32, u32) = (hour.parse().unwrap_or(99), minute.parse().unwrap_or(99));
    if hour > 23 || minute > 59 {
        return Err(invalid());
    }
    Ok((hour, minute))
}

/// "daily", "weekdays", or weekday names ("mon,wed,fri", "Monday Friday") into sorted weekday
/// indexes (0 = Monday).
pub fn parse_days(text: &str) -> Result<Vec<usize>> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "daily" | "every day" | "*" => return Ok((0..7).collect()),
        "weekdays" => return Ok((0..5).collect()),
        "weekends" => return Ok(vec![5, 6]),
        _ => {}
    }
    let mut days = Vec::new();
    for word in lower.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
        let index = WEEKDAYS
            .iter()
            .position(|day| word.len() >= 3 && day.starts_with(&word[..3]) && is_day_name(word))
            .ok_or_else(|| Error::InvalidInput {
                field: "days",
                problem: format!(
                    "\"{word}\" is not a weekday: use mon, tue, wed, thu, fri, sat, sun, \
                     separated by commas (e.g. mon,wed,fri)"
                ),
            })?;
        if !days.contains(&index) {
            days.push(index);
        }
    }
    if days.is_empty() {
        return Err(Error::InvalidInput {
            field: "days",
            problem: "name at least one weekday (e.g. mon,wed,fri)".into(),
        });
    }
    days.sort_unstable();
    Ok(days)
}

/// "mon" … "sun", or the full English name.
fn is_day_name(word: &str) -> bool {
    const FULL: [&str; 7] =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    WEEKDAYS.contains(&word) || FULL.contains(&word)
}

/// The stored form of weekday indexes: "daily" for all seven, else "mon,wed,fri".
pub fn days_text(days: &[usize]) -> String {
    if days.len() == 7 {
        return "daily".to_owned();
    }
    days.iter().map(|&d| WEEKDAYS[d]).collect::<Vec<_>>().join(",")
}

/// `lifeboat-<profile>-<database>`: lower-case letters, digits and single dashes, so it is a
/// valid systemd unit name, launchd label, Task Scheduler task name and cron marker as it is.
pub fn schedule_name(profile: &str, database: &str) -> String {
    format!("lifeboat-{}-{}", safe_part(profile), safe_part(database))
}

/// At most 40 characters of `[a-z0-9-]`, never empty.
fn safe_part(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    let out = out.trim_end_matches('-');
    if out.is_empty() { "x".to_owned() } else { out.to_owned() }
}

/// Whether `name` is made only of what [`schedule_name`] produces.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 120
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_hours_and_minutes_of_a_24_hour_clock() {
        assert_eq!(parse_time("02:30").unwrap(), (2, 30));
        assert_eq!(parse_time("2:30").unwrap(), (2, 30));
        assert_eq!(parse_time("23:59").unwrap(), (23, 59));
        for bad in ["24:00", "12:60", "1230", "12:3", "ab:cd", "", "-1:30", "12:30:00"] {
            let error = parse_time(bad).unwrap_err();
            assert!(error.to_string().contains("HH:MM"), "{bad}: {error}");
        }
    }

    #[test]
    fn weekdays_are_read_in_any_common_spelling_and_stored_sorted() {
        assert_eq!(days_text(&parse_days("fri,mon,wed").unwrap()), "mon,wed,fri");
        assert_eq!(days_text(&parse_days("Monday Friday").unwrap()), "mon,fri");
        assert_eq!(days_text(&parse_days("daily").unwrap()), "daily");
        assert_eq!(days_text(&parse_days("mon,tue,wed,thu,fri,sat,sun").unwrap()), "daily");
        assert_eq!(days_text(&parse_days("weekdays").unwrap()), "mon,tue,wed,thu,fri");
        assert_eq!(days_text(&parse_days("sun,sun").unwrap()), "sun");
        let error = parse_days("mon,funday").unwrap_err();
        assert!(error.to_string().contains("\"funday\" is not a weekday"), "{error}");
        assert!(parse_days("monkey").is_err());
        assert!(parse_days(" , ").is_err());
    }

    #[test]
    fn names_are_safe_for_every_scheduler() {
        assert_eq!(schedule_name("Prod", "shop"), "lifeboat-prod-shop");
        assert_eq!(
            schedule_name("my server", "Shop DB%1;rm -rf"),
            "lifeboat-my-server-shop-db-1-rm-rf"
        );
        assert_eq!(schedule_name("ü", "$$$"), "lifeboat-x-x");
        assert!(is_safe_name(&schedule_name("a/b\\c", "..\n")));
        assert!(!is_safe_name("lifeboat-a b"));
        assert!(!is_safe_name("../x"));
    }
}
