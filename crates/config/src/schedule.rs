//! Scheduled maintenance windows: "every Sunday 02:00–04:00 Europe/Berlin".
//!
//! Times are local to each window's time zone, so a window stays at 02:00
//! on the wall clock across DST changes. A start inside a DST gap moves
//! forward (02:30 on a spring-forward night is 03:30), and a start in a
//! repeated hour takes its first occurrence (jiff's "compatible" rule, as
//! cron and RFC 5545 do).

use crate::Window;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

/// One concrete window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// When maintenance starts.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// What the page says.
    pub message: String,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// Why a window cannot be used, phrased to follow its key.
pub(crate) fn check(window: &Window) -> Result<(), String> {
    for day in &window.days {
        if weekday(day).is_none() {
            return Err(format!(
                "has day `{day}`; use mon, tue, wed, thu, fri, sat or sun"
            ));
        }
    }
    for time in [&window.from, &window.to] {
        time.parse::<Time>()
            .map_err(|_| format!("has time `{time}`; write it as HH:MM"))?;
    }
    if window.from == window.to {
        return Err("starts and ends at the same time".into());
    }
    TimeZone::get(&window.tz).map_err(|_| {
        format!(
            "has time zone `{}`, which is not an IANA name like Europe/Berlin",
            window.tz
        )
    })?;
    Ok(())
}

fn weekday(name: &str) -> Option<Weekday> {
    let name = name.to_ascii_lowercase();
    DAYS.iter()
        .find(|(short, _)| name.starts_with(short))
        .map(|(_, day)| *day)
}

/// The window starting on local `date`, if it runs that day.
fn on_day(window: &Window, date: Date) -> Option<Occurrence> {
    let days: Vec<Weekday> = window.days.iter().filter_map(|day| weekday(day)).collect();
    if !days.is_empty() && !days.contains(&date.weekday()) {
        return None;
    }
    let tz = TimeZone::get(&window.tz).ok()?;
    let (from, to) = (
        window.from.parse::<Time>().ok()?,
        window.to.parse::<Time>().ok()?,
    );
    let end_date = if to <= from {
        date.tomorrow().ok()?
    } else {
        date
    };
    let start = date
        .to_datetime(from)
        .to_zoned(tz.clone())
        .ok()?
        .timestamp();
    let end = end_date.to_datetime(to).to_zoned(tz).ok()?.timestamp();
    Some(Occurrence {
        start,
        end,
        message: window.message.clone(),
    })
}

/// Every occurrence overlapping the days around `now`, in start order.
fn around(windows: &[Window], now: Timestamp, days_ahead: i64) -> Vec<Occurrence> {
    let mut all = Vec::new();
    for window in windows {
        let Ok(tz) = TimeZone::get(&window.tz) else {
            continue;
        };
        let today = now.to_zoned(tz).date();
        for offset in -1..=days_ahead {
            if let Some(date) = today
                .checked_add(offset.days())
                .ok()
                .and_then(|date| on_day(window, date))
            {
                all.push(date);
            }
        }
    }
    all.sort_by_key(|occurrence| occurrence.start);
    all
}

/// The window in force at `now`, if any.
pub fn active_window(windows: &[Window], now: Timestamp) -> Option<Occurrence> {
    around(windows, now, 1)
        .into_iter()
        .find(|occurrence| occurrence.start <= now && now < occurrence.end)
}

/// The next `count` windows that have not ended by `now`.
pub fn next_windows(windows: &[Window], now: Timestamp, count: usize) -> Vec<Occurrence> {
    around(windows, now, 62)
        .into_iter()
        .filter(|occurrence| occurrence.end > now)
        .take(count)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[&str], from: &str, to: &str, tz: &str) -> Window {
        Window {
            days: days.iter().map(|day| day.to_string()).collect(),
            from: from.into(),
            to: to.into(),
            tz: tz.into(),
            message: "scheduled".into(),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn sunday_night_window_in_summer_and_winter_time() {
        let windows = [window(&["sun"], "02:00", "04:00", "Europe/Berlin")];
        // Summer (CEST, UTC+2): Sunday 2026-07-05 02:00-04:00 local = 00:00-02:00 UTC.
        let summer = active_window(&windows, at("2026-07-05T01:00:00Z")).unwrap();
        assert_eq!(
            (summer.start, summer.end),
            (at("2026-07-05T00:00:00Z"), at("2026-07-05T02:00:00Z"))
        );
        assert!(
            active_window(&windows, at("2026-07-05T02:00:00Z")).is_none(),
            "the end is exclusive"
        );
        // Winter (CET, UTC+1): Sunday 2026-01-04 = 01:00-03:00 UTC.
        let winter = active_window(&windows, at("2026-01-04T02:30:00Z")).unwrap();
        assert_eq!(
            (winter.start, winter.end),
            (at("2026-01-04T01:00:00Z"), at("2026-01-04T03:00:00Z"))
        );
        assert!(
            active_window(&windows, at("2026-01-05T02:00:00Z")).is_none(),
            "Monday is not in the window"
        );
    }

    #[test]
    fn spring_forward_gap_moves_the_start_and_shortens_the_window() {
        // 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST. 02:00 does not exist.
        let windows = [window(&["sun"], "02:00", "04:00", "Europe/Berlin")];
        let next = &next_windows(&windows, at("2026-03-28T12:00:00Z"), 1)[0];
        assert_eq!(
            next.start,
            at("2026-03-29T01:00:00Z"),
            "02:00 in the gap is 03:00 CEST"
        );
        assert_eq!(next.end, at("2026-03-29T02:00:00Z"), "04:00 CEST");
    }

    #[test]
    fn fall_back_fold_takes_the_first_start_and_lengthens_the_window() {
        // 2026-10-25: Berlin clocks go from 03:00 CEST back to 02:00 CET; 02:00-03:00 happens twice.
        let windows = [window(&["sun"], "02:00", "04:00", "Europe/Berlin")];
        let next = &next_windows(&windows, at("2026-10-24T12:00:00Z"), 1)[0];
        assert_eq!(
            next.start,
            at("2026-10-25T00:00:00Z"),
            "the first 02:00, still CEST"
        );
        assert_eq!(
            next.end,
            at("2026-10-25T03:00:00Z"),
            "04:00 CET: three hours of wall time"
        );
    }

    #[test]
    fn overnight_windows_cross_midnight_and_days_are_start_days() {
        let windows = [window(&["sat"], "23:00", "01:30", "UTC")];
        let on = active_window(&windows, at("2026-11-22T00:45:00Z")).unwrap(); // Sunday 00:45
        assert_eq!(
            (on.start, on.end),
            (at("2026-11-21T23:00:00Z"), at("2026-11-22T01:30:00Z"))
        );
        assert!(
            active_window(&windows, at("2026-11-22T23:30:00Z")).is_none(),
            "Sunday night is not a start day"
        );
    }

    #[test]
    fn next_windows_are_listed_in_order_across_zones() {
        let windows = [
            window(&[], "12:00", "12:30", "America/New_York"),
            window(&["mon"], "09:00", "10:00", "Asia/Tokyo"),
        ];
        let next = next_windows(&windows, at("2026-11-22T00:00:00Z"), 3);
        let starts: Vec<Timestamp> = next.iter().map(|occurrence| occurrence.start).collect();
        // Sun 12:00 EST = 17:00Z; Mon 09:00 JST = Mon 00:00Z; Mon 12:00 EST = 17:00Z.
        assert_eq!(
            starts,
            [
                at("2026-11-22T17:00:00Z"),
                at("2026-11-23T00:00:00Z"),
                at("2026-11-23T17:00:00Z")
            ]
        );
    }

    #[test]
    fn bad_windows_are_named() {
        assert!(check(&window(&["funday"], "02:00", "04:00", "UTC"))
            .unwrap_err()
            .contains("`funday`"));
        assert!(check(&window(&[], "2am", "04:00", "UTC"))
            .unwrap_err()
            .contains("`2am`"));
        assert!(check(&window(&[], "02:00", "04:00", "Mars/Olympus"))
            .unwrap_err()
            .contains("`Mars/Olympus`"));
    }
}
