//! `/metrics` for Prometheus, on `[metrics] listen`: read-only, plain
//! HTTP, a listener of its own next to the public one.
//!
//! Everything is read at scrape time from counters the agent and the proxy
//! keep anyway, through one [`Collector`]: a scrape costs the request path
//! nothing. The text is OpenMetrics (what `prometheus-client` writes and
//! Prometheus asks for first), with `HELP` on every family.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `hoist_requests_total` | counter | `release`, `class` (`1xx`..`5xx`) |
//! | `hoist_proxy_errors_total` | counter | `release` |
//! | `hoist_request_duration_seconds` | histogram | `release` |
//! | `hoist_requests_in_flight` | gauge | `release` |
//! | `hoist_open_connections` | gauge | |
//! | `hoist_held_requests`, `hoist_paused` | gauge | |
//! | `hoist_maintenance` | gauge (0/1) | |
//! | `hoist_live_info`, `hoist_data_info`, `hoist_schema_info` | info | `release` / `version` |
//! | `hoist_deploys_total`, `hoist_rollbacks_total` | counter | `outcome` (`ok`, `failed`) |
//! | `hoist_auto_rollbacks_total` | counter | `outcome` (`done`, `refused`, `failed`) |
//! | `hoist_app_restarts_total` | counter | `outcome` (`ok`, `failed`) |
//!
//! Layout: [`http`] is the listener and its router (`/` is the status
//! page, [`crate::page`]), [`traffic`] the proxy's counters, [`state`] versions
//! and maintenance, [`events`] what the agent did.

mod events;
mod http;
mod state;
mod traffic;

pub(crate) use events::{AutoRollback, Events, Switch};

use crate::Agent;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What Prometheus is told the body is.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where `/metrics` is served.
#[derive(Debug)]
pub enum MetricsListener {
    /// Bound already.
    Bound(TcpListener),
    /// Still held by the agent this one replaces (`hoist agent --upgrade`):
    /// bound as soon as that one lets go of it.
    Pending(String),
}

/// Serves `/metrics` for `agent` and `proxy` in the background until the
/// agent shuts down.
pub(crate) fn start(agent: &Arc<Agent>, proxy: Arc<hoist_proxy::Proxy>, listener: MetricsListener) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(AgentCollector {
        agent: agent.clone(),
        proxy,
        schema: state::SchemaCache::default(),
    }));
    let registry = Arc::new(registry);
    let render: http::Handler = Arc::new(move || {
        let registry = registry.clone();
        Box::pin(async move {
            let mut body = String::new();
            if let Err(error) = prometheus_client::encoding::text::encode(&mut body, &registry) {
                tracing::warn!(%error, "cannot encode the metrics");
            }
            http::Page {
                content_type: CONTENT_TYPE,
                body,
            }
        })
    });
    let page_agent = agent.clone();
    let page: http::Handler = Arc::new(move || {
        let agent = page_agent.clone();
        Box::pin(async move {
            match crate::page::render(&agent).await {
                Ok(body) => http::Page {
                    content_type: "text/html; charset=utf-8",
                    body,
                },
                Err(problem) => {
                    tracing::warn!(%problem, "cannot build the status page");
                    http::Page {
                        content_type: "text/plain; charset=utf-8",
                        body: format!("the status page cannot be built: {problem}\n"),
                    }
                }
            }
        })
    });
    let routes = http::Routes::default()
        .get("/metrics", render)
        .get("/", page);
    let shutdown = agent.shutdown_token().clone();
    agent.spawn_loop(async move {
        let listener = match listener {
            MetricsListener::Bound(listener) => listener,
            MetricsListener::Pending(address) => {
                match shutdown.run_until_cancelled(bind_when_free(&address)).await {
                    Some(listener) => listener,
                    None => return,
                }
            }
        };
        if let Ok(address) = listener.local_addr() {
            // At the default level, as the agent's start and stop are: an
            // operator must learn where to point Prometheus and a browser.
            tracing::info!(
                target: "hoist::lifecycle",
                %address,
                "serving /metrics and the status page at /"
            );
        }
        http::serve(listener, routes, shutdown.cancelled()).await;
    });
}

/// Binds `address` once it is free. The predecessor agent gives no sign
/// when it lets go (it closes it as it exits, after draining), so this
/// tries once a second; metrics are missing only for that drain.
async fn bind_when_free(address: &str) -> TcpListener {
    loop {
        match TcpListener::bind(address).await {
            Ok(listener) => {
                tracing::info!(%address, "serving /metrics");
                return listener;
            }
            Err(error) => tracing::debug!(%address, %error, "metrics address still taken"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads the agent's and the proxy's state at each scrape.
#[derive(Debug)]
struct AgentCollector {
    agent: Arc<Agent>,
    proxy: Arc<hoist_proxy::Proxy>,
    schema: state::SchemaCache,
}

impl Collector for AgentCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let agent = &self.agent;
        let router = agent.router();
        let releases = traffic::by_release(&agent.backends());
        traffic::encode_releases(&releases, &mut encoder)?;
        let gauges = [
            (
                "hoist_open_connections",
                "Client connections open on the public listener.",
                self.proxy.open_connections() as u64,
            ),
            (
                "hoist_held_requests",
                "Requests held by a pause (hoist pause, a switch), waiting to be let through.",
                router.held() as u64,
            ),
            (
                "hoist_paused",
                "1 while new requests are held (a pause is in force), else 0.",
                u64::from(router.paused_for().is_some()),
            ),
            (
                "hoist_maintenance",
                "1 while maintenance is on (by command, flag file or schedule), else 0.",
                u64::from(router.maintenance().is_some()),
            ),
        ];
        for (name, help, value) in gauges {
            traffic::encode_gauge(&mut encoder, name, help, value)?;
        }
        let live = agent.live_release();
        let versions = state::Versions {
            schema: live
                .as_deref()
                .and_then(|live| self.schema.for_release(agent.site(), live)),
            data: router
                .data_version()
                .as_ref()
                .and_then(|version| version.to_str().ok().map(str::to_owned)),
            live,
        };
        state::encode_versions(&versions, &mut encoder)?;
        agent.events().encode(&mut encoder)
    }
}
