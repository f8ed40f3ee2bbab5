//! What to crawl and within which bounds.

use crate::WalkError;
use std::time::Duration;
use url::Url;

/// Where a walk starts and how far it may go.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// The site walked: its scheme, host and port are the only origin the
    /// walk fetches from. A start page elsewhere is refused, so a start
    /// path such as `//other.host/` cannot send the walk to another host.
    pub site: Url,
    /// The first page; links are followed only on [`WalkOptions::site`].
    pub start: Url,
    /// Link hops followed from the start page (0: the start page only).
    pub depth: u32,
    /// Requests sent in all; past it the walk stops and says it was cut short.
    pub max_pages: usize,
    /// How long one request may take, answer included, before it counts as dead.
    pub timeout: Duration,
    /// Requests in flight at once: small, so a walk never loads the site.
    pub concurrency: usize,
    /// Headers sent with every request: `hoist-release: candidate` steers
    /// the walk to a held candidate through the public listener.
    pub headers: Vec<(String, String)>,
}

impl WalkOptions {
    /// A walk of `start`'s own site, with the defaults of `[deploy.smoke]`:
    /// depth 3, 200 pages, 10 s a request, 4 at a time, no extra headers.
    pub fn new(start: Url) -> WalkOptions {
        WalkOptions {
            site: start.clone(),
            start,
            depth: 3,
            max_pages: 200,
            timeout: Duration::from_secs(10),
            concurrency: 4,
            headers: Vec::new(),
        }
    }

    /// A walk of `path` on `site` (a `[deploy.smoke] crawl` path on the
    /// candidate's or the app's address); a path whose join leaves the
    /// site (`//host/x`, `/\host/x`, `http://host/`) is refused.
    pub fn on_site(site: &Url, path: &str) -> Result<WalkOptions, WalkError> {
        let start = site.join(path).map_err(|error| WalkError::BadStart {
            url: path.to_owned(),
            reason: format!("it is not a path on `{site}`: {error}"),
        })?;
        check_on_site(site, &start)?;
        Ok(WalkOptions {
            site: site.clone(),
            ..WalkOptions::new(start)
        })
    }
}

/// `start` is on `site`: same scheme, host and port.
pub(crate) fn check_on_site(site: &Url, start: &Url) -> Result<(), WalkError> {
    if site.origin() == start.origin() {
        return Ok(());
    }
    Err(WalkError::BadStart {
        url: start.to_string(),
        reason: format!(
            "it is not on the site walked, `{}`; give a path on the site (\"/docs/\"), not another host",
            site.origin().ascii_serialization()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_names_another_host_is_refused() {
        let site: Url = "http://127.0.0.1:8080/".parse().unwrap();
        let on = WalkOptions::on_site(&site, "/docs/").unwrap();
        assert_eq!(on.start.as_str(), "http://127.0.0.1:8080/docs/");
        for away in [
            "//127.0.0.3:18098/from-deploy",
            "/\\127.0.0.3:18098/x",
            "http://127.0.0.3/",
            "/\t/127.0.0.3/",
        ] {
            let refused = WalkOptions::on_site(&site, away).unwrap_err();
            assert!(
                refused.to_string().contains("not on the site walked"),
                "{away}: {refused}"
            );
        }
    }
}
