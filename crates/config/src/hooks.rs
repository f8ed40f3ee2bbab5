//! `[hooks]`: the app's own commands around a switch, a rollback and a
//! data roll (seed 002's post-install `ddgc_add_duckpan_dist.pl`).
//!
//! An app setting, not a host setting: like `[deploy] checks`, a hook is
//! code the app ships with its release and changes with it (a new release
//! may add one its predecessor never had), so it is read from the
//! `hoist.toml` of the release going live and never from `site.toml`.
//!
//! ```toml
//! [hooks]
//! pre_switch = "script/warm_cache.pl"
//! post_switch = { command = "script/ddgc_add_duckpan_dist.pl", timeout = "2m", required = true }
//! ```

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// `[hooks]`: each key is a command string or a [`Hook`] table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Hooks {
    /// Before a deploy or promote switches; failing aborts it, nothing live changes.
    pub pre_switch: Option<Hook>,
    /// After a deploy or promote switched and the release answered health.
    pub post_switch: Option<Hook>,
    /// After a rollback (by hand or the agent's own) switched.
    pub post_rollback: Option<Hook>,
    /// After `hoist data roll` or `data revert` moved `data/current` and the app took it.
    pub post_data_roll: Option<Hook>,
}

/// One hook: `"cmd"`, or `{ command = "cmd", timeout = "30s", required = true }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hook {
    /// Run with `sh -c` in the release directory.
    pub command: String,
    /// Killed (its whole process group) after this long; counts as failed.
    pub timeout: Duration,
    /// A failed post hook switches back, as a failed health check does.
    /// (`pre_switch` always aborts on failure.)
    pub required: bool,
}

impl Hook {
    /// The timeout when none is given.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A hook running `command` with the defaults (for tests and callers
    /// building a config in code).
    pub fn new(command: &str) -> Hook {
        Hook {
            command: command.to_owned(),
            timeout: Hook::DEFAULT_TIMEOUT,
            required: false,
        }
    }
}

/// The table form, strict about its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    command: String,
    #[serde(default, deserialize_with = "optional_duration")]
    timeout: Option<Duration>,
    #[serde(default)]
    required: bool,
}

fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    crate::duration::deserialize(deserializer).map(Some)
}

impl<'de> Deserialize<'de> for Hook {
    // By hand rather than `#[serde(untagged)]`, whose error ("did not
    // match any variant") would hide the unknown key the table names.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Hook, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = Hook;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a command string or a table `{ command = \"...\", timeout = \"30s\", required = true }`")
            }
            fn visit_str<E: de::Error>(self, command: &str) -> Result<Hook, E> {
                Ok(Hook::new(command))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Hook, M::Error> {
                let table = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Hook {
                    command: table.command,
                    timeout: table.timeout.unwrap_or(Hook::DEFAULT_TIMEOUT),
                    required: table.required,
                })
            }
        }
        deserializer.deserialize_any(Either)
    }
}

impl Hooks {
    /// Each hook with its key, for checking.
    fn named(&self) -> [(&'static str, Option<&Hook>); 4] {
        [
            ("hooks.pre_switch", self.pre_switch.as_ref()),
            ("hooks.post_switch", self.post_switch.as_ref()),
            ("hooks.post_rollback", self.post_rollback.as_ref()),
            ("hooks.post_data_roll", self.post_data_roll.as_ref()),
        ]
    }

    /// Checks every hook has a command and a timeout; returns the key and the problem.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        for (key, hook) in self.named() {
            let Some(hook) = hook else { continue };
            if hook.command.trim().is_empty() {
                return Err((key, "is empty; give a command, or leave it out".into()));
            }
            if hook.timeout.is_zero() {
                return Err((key, "`timeout` must be longer than 0s".into()));
            }
            // A rollback or a data roll is how one gets out of trouble;
            // undoing it for its hook would put the trouble back.
            let undoable = matches!(key, "hooks.pre_switch" | "hooks.post_switch");
            if hook.required && !undoable {
                return Err((
                    key,
                    "cannot be `required`: a failed hook here is reported, the rollback or roll stands; only `post_switch` switches back".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn parse(hooks: &str) -> Result<Config, String> {
        let text = format!("[app]\nname = \"shop\"\n[hooks]\n{hooks}");
        Config::parse(&text, "hoist.toml".as_ref()).map_err(|error| error.to_string())
    }

    #[test]
    fn a_string_or_a_table() {
        let config = parse(
            "pre_switch = \"true\"\npost_switch = { command = \"x\", timeout = \"5s\", required = true }\n",
        )
        .unwrap();
        let pre = config.hooks.pre_switch.unwrap();
        assert_eq!((pre.command.as_str(), pre.required), ("true", false));
        assert_eq!(pre.timeout, super::Hook::DEFAULT_TIMEOUT);
        let post = config.hooks.post_switch.unwrap();
        assert_eq!(post.timeout, std::time::Duration::from_secs(5));
        assert!(post.required);
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = parse("post_swtich = \"x\"\n").unwrap_err();
        assert!(error.contains("post_swtich"), "{error}");
        let error = parse("post_switch = { command = \"x\", requierd = true }\n").unwrap_err();
        assert!(error.contains("requierd"), "{error}");
        let error = parse("post_switch = { command = \"x\", timeout = \"soon\" }\n").unwrap_err();
        assert!(error.contains("soon"), "{error}");
        let error = parse("pre_switch = \" \"\n").unwrap_err();
        assert!(error.contains("hooks.pre_switch"), "{error}");
    }
}
