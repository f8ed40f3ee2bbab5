//! `hoist.toml`: the schema, strict parsing and the `hoist init` template;
//! `site.toml`, a site's own host settings, and which keys are the host's
//! ([`HOST_KEYS`], [`Config::with_site`]); `$NAME` in values ([`expand`]).
//!
//! Every section rejects unknown keys, and a parse error names the offending
//! key together with its line, so a typo such as `keep_release = 3` is caught
//! before it silently falls back to a default.
//!
//! ```
//! let config = hoist_config::Config::parse("[app]\nname = \"shop\"\n", "hoist.toml".as_ref()).unwrap();
//! assert_eq!(config.app.name, "shop");
//! assert_eq!(config.deploy.keep_releases, 5);
//! ```

mod data;
mod duration;
mod error;
mod hooks;
mod limits;
mod metrics;
mod notify;
mod parity;
mod plain;
mod schedule;
mod schema;
mod site;
mod site_file;
mod smoke;
mod stages;
mod template;
mod vars;

pub use data::{Data, Database};
pub use duration::{parse_duration, DurationError, MAX_DURATION};
pub use error::ConfigError;
pub use hooks::{Hook, Hooks};
pub use metrics::Metrics;
pub use notify::{Notify, NotifyKind, NotifyOn, WebhookFormat};
pub use parity::Parity;
pub use schedule::{active_window, next_windows, Occurrence};
pub use schema::{
    App, Build, Config, Deploy, MaintenanceConfig, Process, Proxy, StaticBackend, TestGate, Window,
};
pub use site::{SiteConfig, HOST_KEYS, SITE_FILE};
pub use site_file::SITE_TEMPLATE;
pub use smoke::Smoke;
pub use stages::{Balancer, BalancerKind, KnownHosts, Stage, Wave};
pub use template::TEMPLATE;
pub use vars::{expand, parse_env_file, MissingVariable};

/// The file name hoist looks for in the working directory.
pub const FILE_NAME: &str = "hoist.toml";
