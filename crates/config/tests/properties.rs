//! Property tests for `hoist.toml` parsing (proptest; no nightly here for
//! cargo-fuzz): a config may ship inside an artifact, so it is input.

use hoist_config::{parse_duration, Config, MAX_DURATION};
use proptest::prelude::*;
use std::path::Path;

/// Keys whose values are durations, with the section they live in.
const DURATIONS: &[(&str, &str)] = &[
    ("process", "health_timeout"),
    ("process", "stop_timeout"),
    ("process", "drain_timeout"),
    ("process", "rollback_window"),
    ("process", "watch"),
    ("proxy", "connect_timeout"),
    ("proxy", "response_timeout"),
    ("proxy", "idle_timeout"),
    ("deploy", "health_timeout"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the text, parsing answers with a config or an error.
    #[test]
    fn any_text_is_parsed_or_refused(text in "\\PC{0,400}") {
        let _ = Config::parse(&text, Path::new("hoist.toml"));
    }

    /// Near-valid configs: a real section with a random key and value.
    #[test]
    fn odd_values_are_refused_with_a_message(
        section in prop::sample::select(vec!["app", "deploy", "process", "proxy", "data", "maintenance", "database"]),
        key in "[a-z_]{1,20}",
        value in prop_oneof![
            "\"[ -~]{0,30}\"",
            "-?[0-9]{1,25}",
            "\\[\"[a-z./]{0,10}\"\\]",
            Just("1e400".to_owned()),
        ],
    ) {
        let text = format!("[app]\nname = \"x\"\n[process]\ncommand = \"a\"\n[{section}]\n{key} = {value}\n");
        if let Err(error) = Config::parse(&text, Path::new("hoist.toml")) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    /// Every duration key, any duration text: refused, or within the year.
    #[test]
    fn durations_never_exceed_the_limit(
        which in 0..DURATIONS.len(),
        amount in 0u64..u64::MAX,
        unit in prop::sample::select(vec!["ms", "s", "m", "h", "d", "w"]),
    ) {
        let (section, key) = DURATIONS[which];
        let value = format!("{amount}{unit}");
        let extra = if section == "process" { "" } else { "[process]\ncommand = \"a\"\n" };
        let text = format!("[app]\nname = \"x\"\n{extra}[{section}]\n{}{key} = \"{value}\"\n",
            if section == "process" { "command = \"a\"\n" } else { "" });
        if let Ok(config) = Config::parse(&text, Path::new("hoist.toml")) {
            let process = config.process.unwrap();
            for duration in [
                process.health_timeout, process.stop_timeout, process.drain_timeout,
                process.rollback_window, process.watch, config.proxy.connect_timeout,
                config.proxy.response_timeout, config.proxy.idle_timeout, config.deploy.health_timeout,
            ] {
                prop_assert!(duration <= MAX_DURATION);
            }
        }
        if let Ok(duration) = parse_duration(&value) {
            prop_assert!(duration <= MAX_DURATION);
        }
    }
}
