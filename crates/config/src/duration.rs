//! Human durations such as `"30s"` or `"5m"` in config values and on the
//! command line, bounded so that no timestamp or deadline computed from one
//! can overflow (`rollback_window = "1000000000h"` once panicked the agent).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The longest duration hoist accepts anywhere (config, CLI, admin API):
/// a year. Anything longer is a typo, and `now + it` must always fit.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Why a duration was refused; the message names the text and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("`{0}` is not a duration; write it like 30s, 5m, 2h 30m or 7d")]
    NotADuration(String),
    /// A duration below zero.
    #[error("`{0}` must not be negative")]
    Negative(String),
    /// Longer than [`MAX_DURATION`].
    #[error("`{0}` is over the limit of 365 days (8760h)")]
    OverLimit(String),
}

/// Parses `"30s"`, `"5m"`, `"1h 30m"`, `"7d"` (a day is 24 hours here) or
/// ISO 8601 (`"PT30S"`), at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let signed: jiff::SignedDuration = match text.parse() {
        Ok(signed) => signed,
        // Days and weeks are calendar units to jiff; here they are 24h and 7 days.
        Err(_) => text
            .parse::<jiff::Span>()
            .ok()
            .and_then(|span| {
                span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                    .ok()
            })
            .ok_or_else(|| DurationError::NotADuration(text.to_owned()))?,
    };
    let duration =
        Duration::try_from(signed).map_err(|_| DurationError::Negative(text.to_owned()))?;
    if duration > MAX_DURATION {
        return Err(DurationError::OverLimit(text.to_owned()));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_and_iso_forms() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("PT2S").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            parse_duration("1w").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("365d").unwrap(), MAX_DURATION);
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn the_limit_is_a_year_and_is_named() {
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
        let error = parse_duration("1000000000h").unwrap_err().to_string();
        assert!(error.contains("over the limit of 365 days"), "{error}");
        assert!(matches!(
            parse_duration("366d"),
            Err(DurationError::OverLimit(_))
        ));
        assert!(parse_duration("-5s")
            .unwrap_err()
            .to_string()
            .contains("negative"));
    }
}
