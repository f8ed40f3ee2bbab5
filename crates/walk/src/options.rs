//! What a walk crawls and within which bounds.

use std::time::Duration;
use url::Url;

/// Where a walk starts and how far it may go.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// The first page; links are followed only to its scheme, host and port.
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
    /// The defaults of `[deploy.smoke]`: depth 3, 200 pages, 10 s a
    /// request, 4 at a time, no extra headers.
    pub fn new(start: Url) -> WalkOptions {
        WalkOptions {
            start,
            depth: 3,
            max_pages: 200,
            timeout: Duration::from_secs(10),
            concurrency: 4,
            headers: Vec::new(),
        }
    }
}
