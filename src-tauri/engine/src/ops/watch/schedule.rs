//! When a schedule should have run: its `days` ("daily" or "mon,wed") at its `time` ("HH:MM",
//! local), computed in the offset of the clock passed in.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Weekday};

/// The weekdays a schedule runs on; None when `days` cannot be read.
pub fn weekdays(days: &str) -> Option<Vec<Weekday>> {
    let days = days.trim().to_ascii_lowercase();
    if days == "daily" {
        return Some(vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]);
    }
    let mut chosen = Vec::new();
    for day in days.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let weekday = match day.get(..3)? {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return None,
        };
        if !chosen.contains(&weekday) {
            chosen.push(weekday);
        }
    }
    (!chosen.is_empty()).then_some(chosen)
}

fn time_of_day(time: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()
}

/// The longest time between two runs: a day for "daily", four days for "mon,fri".
pub fn longest_interval(days: &str) -> Option<Duration> {
    let chosen = weekdays(days)?;
    let mut numbers: Vec<i64> =
        chosen.iter().map(|d| i64::from(d.num_days_from_monday())).collect();
    numbers.sort_unstable();
    let mut longest = 0;
    for (i, day) in numbers.iter().enumerate() {
        let next = numbers.get(i + 1).copied().unwrap_or(numbers[0] + 7);
        longest = longest.max(next - day);
    }
    Some(Duration::days(longest))
}

/// The most recent time the schedule should have started at or before `until`.
pub fn last_slot(
    days: &str,
    time: &str,
    until: DateTime<FixedOffset>,
) -> Option<DateTime<FixedOffset>> {
    let chosen = weekdays(days)?;
    let at = time_of_day(time)?;
    let offset = *until.offset();
    (0..8).find_map(|back| {
        let date = until.date_naive() - Duration::days(back);
        if !chosen.contains(&date.weekday()) {
            return None;
        }
        let slot = offset.from_local_datetime(&date.and_time(at)).single()?;
        (slot <= until).then_some(slot)
    })
}
