//! `[parity]`: the runtime a release depends on, recorded at each deploy
//! and compared with the host where the same release passed its tests
//! (seed 004: live ran an older MySQL than development).
//!
//! An app setting, shipped in the release: which tools and versions the
//! code depends on (`perl -v`, `psql --version`) is a fact about the app,
//! and so is how strictly a mismatch is treated. `against`, the site whose
//! record counts, names a directory on the host; it ships too, so a
//! staging site and its live twin on one host agree on it without a
//! `site.toml` edit on each.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[parity]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Parity {
    /// Shell commands whose output is the fingerprint, each run with `sh
    /// -c` in the site's environment (`[process] env_file`).
    #[serde(default)]
    pub probes: Vec<String>,
    /// Refuse (instead of warn about) a deploy whose fingerprint differs
    /// from the reference's.
    #[serde(default)]
    pub strict: bool,
    /// The site root on this host whose record for the same release is the
    /// reference (the site where it passed its tests), for a single-host
    /// deploy; a `--from-stage` promotion uses the source stage instead.
    pub against: Option<PathBuf>,
    /// How long one probe may run.
    #[serde(
        default = "Parity::default_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub timeout: Duration,
}

impl Parity {
    fn default_timeout() -> Duration {
        Duration::from_secs(10)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn probes_strict_against_and_an_unknown_key() {
        let text = "[app]\nname = \"x\"\n[parity]\nprobes = [\"perl -v\"]\nstrict = true\nagainst = \"/srv/staging\"\n";
        let parity = Config::parse(text, "hoist.toml".as_ref())
            .unwrap()
            .parity
            .unwrap();
        assert_eq!(parity.probes, ["perl -v"]);
        assert!(parity.strict);
        assert_eq!(parity.against.as_deref(), Some("/srv/staging".as_ref()));
        assert_eq!(parity.timeout, std::time::Duration::from_secs(10));
        let error = Config::parse(
            "[app]\nname = \"x\"\n[parity]\nprobe = []\n",
            "hoist.toml".as_ref(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("probe"), "{error}");
    }
}
