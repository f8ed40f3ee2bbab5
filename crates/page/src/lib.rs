//! The status page: what runs where, as one self-contained HTML page.
//!
//! `hoist status --html FILE` writes it, and the agent serves the same page
//! read-only, so the rendering lives here, in a library both can call.
//!
//! - [`model`]: the view model ([`SitePage`], [`StagePage`]): everything a
//!   page shows, decided and serialisable.
//! - [`site_page`] builds a [`SitePage`] from a site root (status, ledger,
//!   data catalog) plus [`Extras`] only the caller knows (the agent's view
//!   of what it serves, the schema).
//! - [`render`] and [`render_stage`] turn a model into HTML with maud,
//!   which escapes every value: ids, reasons and names come from users.
//! - `stage_page` (feature `fleet`) builds a [`StagePage`] from
//!   `hoist status --stage`'s judged answers.
//!
//! The page has inline CSS, no script and no external asset, and carries
//! stable ids for tests and scripts (`#live-release`, `tr[data-role=warm]`,
//! `#maintenance-until`, `#traffic`, `#operations`, `tr.host.drift`).
//!
//! From the agent, one call per request:
//!
//! ```no_run
//! use hoist_page::{site_page, render, Extras, Serving};
//! let extras = Extras {
//!     agent: Some(Serving { pid: std::process::id(), live: Some("20261201T0600Z-1.4.2".into()), ..Serving::default() }),
//!     ..Extras::default()
//! };
//! let html: String = render(&site_page(std::path::Path::new("/srv/shop"), extras)?);
//! # Ok::<(), hoist_page::PageError>(())
//! ```

mod build;
mod error;
#[cfg(feature = "fleet")]
mod fleet;
pub mod model;
mod render;
mod render_stage;
mod style;
mod time;

pub use build::{site_page, Extras, Serving, OPERATIONS};
pub use error::PageError;
#[cfg(feature = "fleet")]
pub use fleet::stage_page;
pub use model::{SitePage, StagePage};
pub use render::render;
pub use render_stage::render_stage;
pub use time::gmt;
