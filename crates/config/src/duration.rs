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

/// Parses `"30s"`, `"5m"`, `"1h 30m"` or ISO 8601 (`"PT30S"`), at most
/// [`MAX_DURATION`]; the error names the limit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like \"30s\" or \"5m\""))?;
    let duration =
        Duration::try_from(signed).map_err(|_| format!("`{text}` must not be negative"))?;
    if duration > MAX_DURATION {
        return Err(format!("`{text}` is over the limit of 365 days (8760h)"));
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
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn the_limit_is_a_year_and_is_named() {
        assert_eq!(parse_duration("8760h").unwrap(), MAX_DURATION);
        let error = parse_duration("1000000000h").unwrap_err();
        assert!(error.contains("over the limit of 365 days"), "{error}");
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
    }
}
