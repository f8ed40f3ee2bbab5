//! Human durations such as `"30s"` or `"5m"` in config values.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Parses `"30s"`, `"5m"`, `"1h 30m"` or ISO 8601 (`"PT30S"`).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like \"30s\" or \"5m\""))?;
    Duration::try_from(signed).map_err(|_| format!("`{text}` must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn friendly_and_iso_forms() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("PT2S").unwrap(), Duration::from_secs(2));
        assert!(parse("soon").is_err());
    }
}
