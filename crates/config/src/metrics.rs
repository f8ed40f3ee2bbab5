//! `[metrics]`: where the agent serves `/metrics` for Prometheus.
//!
//! A host setting, not an app one: which loopback or management address a
//! scraper reaches is the machine's business (its firewall, its
//! Prometheus), and must not change because a release ships another
//! `hoist.toml`. So `[metrics]` lives in `site.toml` ([`crate::HOST_KEYS`]).
//!
//! ```
//! let config = hoist_config::Config::parse(
//!     "[app]\nname = \"shop\"\n[metrics]\nlisten = \"127.0.0.1:9100\"\n",
//!     "hoist.toml".as_ref(),
//! )
//! .unwrap();
//! assert_eq!(config.metrics.listen.as_deref(), Some("127.0.0.1:9100"));
//! ```

use serde::Deserialize;

/// `[metrics]`; off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Metrics {
    /// The address the agent serves `GET /metrics` on, plain HTTP, e.g.
    /// `127.0.0.1:9100`. A listener of its own: the public one carries the
    /// app's traffic, and metrics must not be reachable from where users are.
    #[serde(default, deserialize_with = "crate::vars::deserialize_opt")]
    pub listen: Option<String>,
}

impl Metrics {
    /// What is wrong with `[metrics]` given the proxy's own addresses, as
    /// `(key, problem)`.
    pub(crate) fn check(&self, proxy: &crate::Proxy) -> Result<(), (&'static str, String)> {
        let Some(listen) = &self.listen else {
            return Ok(());
        };
        if crate::vars::names_variable(listen) {
            return Ok(());
        }
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "metrics.listen",
                format!("`{listen}` is not an address like 127.0.0.1:9100"),
            ));
        }
        let taken = [
            ("proxy.listen", Some(&proxy.listen)),
            ("proxy.admin_listen", proxy.admin_listen.as_ref()),
        ];
        for (key, address) in taken {
            if address == Some(listen) {
                return Err((
                    "metrics.listen",
                    format!("`{listen}` is `{key}` too; give metrics an address of their own, e.g. 127.0.0.1:9100"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, SiteConfig};
    use std::path::Path;

    fn site(text: &str) -> Result<SiteConfig, String> {
        SiteConfig::parse(text, Path::new("site.toml")).map_err(|error| error.to_string())
    }

    #[test]
    fn site_toml_carries_metrics_over_the_release() {
        let site = site("[metrics]\nlisten = \"127.0.0.1:9100\"\n").unwrap();
        let shipped = Config::parse(
            "[app]\nname = \"x\"\n[metrics]\nlisten = \"0.0.0.0:9999\"\n",
            Path::new("hoist.toml"),
        )
        .unwrap();
        let applied = shipped.with_site(&site);
        assert_eq!(applied.metrics.listen.as_deref(), Some("127.0.0.1:9100"));
        assert!(site
            .differing_keys(&shipped)
            .contains(&"metrics.listen".to_owned()));
    }

    #[test]
    fn metrics_on_the_public_address_is_refused() {
        let message =
            site("[proxy]\nlisten = \"127.0.0.1:8080\"\n[metrics]\nlisten = \"127.0.0.1:8080\"\n")
                .unwrap_err();
        assert!(
            message.contains("metrics.listen") && message.contains("proxy.listen"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_address_and_an_unknown_key_are_named() {
        let message = site("[metrics]\nlisten = \"localhost\"\n").unwrap_err();
        assert!(message.contains("metrics.listen"), "{message}");
        let message = site("[metrics]\npath = \"/m\"\n").unwrap_err();
        assert!(message.contains("path"), "{message}");
    }
}
