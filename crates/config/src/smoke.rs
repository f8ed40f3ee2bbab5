//! `[deploy.smoke]`: the link walk a deploy runs against the candidate
//! before it takes traffic (see the `hoist-walk` crate).
//!
//! An app setting, shipped in the release: which pages a release must
//! serve, and how far its links reach, are facts about the app's code, not
//! about the host it lands on.

use serde::Deserialize;
use std::time::Duration;

/// `[deploy.smoke]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Smoke {
    /// The path the walk starts from (`"/"`); absent means no walk.
    pub crawl: Option<String>,
    /// Link hops followed from `crawl`.
    #[serde(default = "Smoke::default_depth")]
    pub depth: u32,
    /// Requests the walk sends at most; past it the walk stops (and says so).
    #[serde(default = "Smoke::default_max_pages")]
    pub max_pages: usize,
    /// How long one request may take before its link counts as dead.
    #[serde(
        default = "Smoke::default_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub timeout: Duration,
}

impl Smoke {
    fn default_depth() -> u32 {
        3
    }
    fn default_max_pages() -> usize {
        200
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(10)
    }
}

impl Default for Smoke {
    fn default() -> Self {
        Smoke {
            crawl: None,
            depth: Smoke::default_depth(),
            max_pages: Smoke::default_max_pages(),
            timeout: Smoke::default_timeout(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "hoist.toml".as_ref()).map_err(|error| error.to_string())
    }

    #[test]
    fn defaults_a_bad_path_and_an_unknown_key() {
        let config = parse("[app]\nname = \"x\"\n[deploy.smoke]\ncrawl = \"/\"\n").unwrap();
        let smoke = config.deploy.smoke;
        assert_eq!(smoke.crawl.as_deref(), Some("/"));
        assert_eq!((smoke.depth, smoke.max_pages), (3, 200));
        assert_eq!(smoke.timeout, std::time::Duration::from_secs(10));
        let relative = parse("[app]\nname = \"x\"\n[deploy.smoke]\ncrawl = \"index.html\"\n");
        assert!(relative.unwrap_err().contains("deploy.smoke.crawl"));
        let unknown = parse("[app]\nname = \"x\"\n[deploy.smoke]\ncrawl = \"/\"\nmax_page = 3\n");
        assert!(unknown.unwrap_err().contains("max_page"));
    }
}
