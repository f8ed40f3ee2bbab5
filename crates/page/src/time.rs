//! How the page writes times: HTTP dates in GMT (`Tue, 01 Dec 2026
//! 06:00:00 GMT`, RFC 7231's IMF-fixdate) because every operator reads
//! them the same wherever they are, plus an age counted from when the page
//! was built.

use jiff::Timestamp;

/// `Tue, 01 Dec 2026 06:00:00 GMT`.
pub fn gmt(at: Timestamp) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::from(at))
}

/// `5 s`, `3 min`, `2 h 5 min`, `4 d 3 h`: how long before `now` `at` was
/// (`in 3 min` when it is after, as a maintenance end is).
pub fn age(at: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second() - at.as_second();
    let span = span(seconds.unsigned_abs());
    if seconds < 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn span(seconds: u64) -> String {
    let (minute, hour, day) = (60, 3600, 86_400);
    match seconds {
        s if s < minute => format!("{s} s"),
        s if s < hour => format!("{} min", s / minute),
        s if s < day => format!("{} h {} min", s / hour, s % hour / minute),
        s => format!("{} d {} h", s / day, s % day / hour),
    }
}

#[cfg(test)]
mod tests {
    use super::{age, gmt};
    use jiff::Timestamp;

    #[test]
    fn times_are_http_dates_in_gmt_with_an_age() {
        let at: Timestamp = "2026-12-01T06:00:00Z".parse().unwrap();
        assert_eq!(gmt(at), "Tue, 01 Dec 2026 06:00:00 GMT");
        let now: Timestamp = "2026-12-01T08:05:30Z".parse().unwrap();
        assert_eq!(age(at, now), "2 h 5 min ago");
        assert_eq!(age(now, at), "in 2 h 5 min");
        assert_eq!(age(at, at), "0 s ago");
    }
}
