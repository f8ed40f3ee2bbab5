//! Environment parity (seed 004: "both machines must have an identical
//! software base"): a host's runtime fingerprint, recorded with each
//! release a site deploys and compared line by line with another's.
//!
//! | file | concept |
//! |---|---|
//! | `fingerprint.rs` | what a fingerprint holds, and taking one |
//! | `probe.rs` | one `[parity] probes` command, run with a timeout |
//! | `record.rs` | `<root>/parity/<release>.json`, written durably |
//! | `diff.rs` | two fingerprints, compared per probe in unified-diff style |
//!
//! The database server's version is read by the caller (which knows the
//! site's `[database]`) and handed in as text: this crate runs commands
//! and compares text, nothing else.
//!
//! ```no_run
//! use hoist_parity::{compare, Fingerprint, Probing};
//! let probing = Probing { commands: vec!["perl -v".into()], env: vec![], dir: "/srv/shop/current".into(), timeout: std::time::Duration::from_secs(10) };
//! let here = Fingerprint::take(&probing, Some("20261201T0000Z-1"), Some("PostgreSQL 15.5".into()));
//! let there = hoist_parity::load("/srv/shop-staging".as_ref(), "20261201T0000Z-1").unwrap().unwrap();
//! for difference in compare(&there, &here).differences {
//!     println!("{}", difference.diff);
//! }
//! ```

mod diff;
mod error;
mod fingerprint;
mod probe;
mod record;

pub use diff::{compare, compare_as, describe, Compared, Difference, DATABASE};
pub use error::ParityError;
pub use fingerprint::{Fingerprint, ProbeOutput, Probing};
pub use record::{load, path as record_path, save};
