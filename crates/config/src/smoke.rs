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

/// Why `crawl` is not a path on the site, if it is not: it must start with
/// one `/` and, joined to any origin, keep that origin. `//host/x`,
/// `/\host/x` (a backslash is a slash to a URL parser) and a scheme would
/// send the walk to another host, whose "no dead links" says nothing about
/// the release.
pub(crate) fn path_problem(crawl: &str) -> Option<&'static str> {
    if !crawl.starts_with('/') {
        return Some("must be a path on the site, starting with `/`");
    }
    if crawl.starts_with("//") || crawl.contains('\\') {
        return Some("names another host (`//` or a backslash starts an authority)");
    }
    if crawl.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("must not contain spaces or control characters");
    }
    // The parser's own verdict, for whatever the checks above miss.
    let site = url::Url::parse("http://site.invalid/").ok()?;
    match site.join(crawl) {
        Ok(joined) if joined.origin() == site.origin() => None,
        Ok(_) => Some("leaves the site when joined to its address"),
        Err(_) => Some("is not a URL path"),
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

    // `//host/x` and `/\host/x` start with `/`, passed, and sent the walk
    // to another host whose "0 dead links" let the release go live unwalked.
    #[test]
    fn crawl_path_naming_another_host_passed_validation() {
        for away in [
            "//127.0.0.3:18098/from-deploy",
            "/\\127.0.0.3:18098/x",
            "/\t/127.0.0.3/x",
            "/ok\\..\\x",
        ] {
            let toml = format!("[app]\nname = \"x\"\n[deploy.smoke]\ncrawl = '{away}'\n");
            let refused = parse(&toml).unwrap_err();
            assert!(refused.contains("deploy.smoke.crawl"), "{away}: {refused}");
        }
        for fine in ["/", "/docs/", "/a%2F%2Fb?x=//y", "/search?q=a"] {
            let toml = format!("[app]\nname = \"x\"\n[deploy.smoke]\ncrawl = '{fine}'\n");
            assert!(parse(&toml).is_ok(), "{fine}");
        }
    }
}
