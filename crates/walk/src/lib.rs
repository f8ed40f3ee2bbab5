//! The link walk: crawl a site from one page, follow its same-site links,
//! and list every link that answers 4xx or 5xx (or not at all) with the
//! pages that link to it. Seed 000's `script/walk.pl`, run by `hoist
//! deploy` against the candidate before it takes traffic, and on demand by
//! `hoist walk`.
//!
//! | file | concept |
//! |---|---|
//! | `options.rs` | what to crawl, how deep, how much, with which headers |
//! | `links.rs` | the links one HTML page holds, resolved against it |
//! | `local.rs` | a listener's address as this host reaches it |
//! | `fetch.rs` | one bounded GET |
//! | `crawl.rs` | the breadth-first walk, a few requests at a time |
//! | `report.rs` | what the walk found, for people and for `--json` |
//!
//! The walk is bounded three ways: `depth` link hops from the start page,
//! `max_pages` requests in all, and a timeout per request; it sends at most
//! [`WalkOptions::concurrency`] requests at once.
//!
//! ```no_run
//! use hoist_walk::{walk, WalkOptions};
//! let options = WalkOptions::new("http://127.0.0.1:8080/".parse().unwrap());
//! let report = walk(&options).unwrap();
//! for dead in &report.dead {
//!     println!("{} ({}) linked from {:?}", dead.url, dead.problem, dead.linked_from);
//! }
//! ```

mod crawl;
mod error;
mod fetch;
mod links;
mod local;
mod options;
mod report;

pub use crawl::walk_async;
pub use error::WalkError;
pub use fetch::MAX_PAGE_BYTES;
pub use links::links;
pub use local::from_this_host;
pub use options::WalkOptions;
pub use report::{DeadLink, WalkReport};

/// Walks as `options` says, on a runtime of its own (for the synchronous
/// deploy lifecycle and the CLI).
pub fn walk(options: &WalkOptions) -> Result<WalkReport, WalkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| WalkError::Runtime { source })?;
    runtime.block_on(walk_async(options))
}
