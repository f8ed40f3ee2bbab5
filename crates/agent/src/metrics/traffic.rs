//! Traffic, read from the proxy's own counters at scrape time: answers by
//! status class, latency, requests in flight per release, open client
//! connections, held requests. Nothing here runs per request: the proxy
//! counts as it always did ([`hoist_proxy::Backend::counts`]), and a scrape
//! reads the atomics.

use hoist_proxy::{Backend, Latency, StatusCounts};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label values of `hoist_requests_total{class}`, by index `status / 100`.
const CLASSES: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];

/// One release's counters, summed over its backends: a release restarted
/// in place drains its old process beside the new one, and a scrape must
/// not show the same label set twice.
#[derive(Debug, Default)]
pub(crate) struct ReleaseTraffic {
    counts: StatusCounts,
    latency: Latency,
    in_flight: u64,
}

/// Sums `backends` per release.
pub(crate) fn by_release(backends: &[Arc<Backend>]) -> BTreeMap<String, ReleaseTraffic> {
    let mut releases: BTreeMap<String, ReleaseTraffic> = BTreeMap::new();
    for backend in backends {
        let traffic = releases.entry(backend.release().to_owned()).or_default();
        traffic.counts.add(&backend.counts());
        traffic.latency.merge(&backend.latency());
        traffic.in_flight += backend.in_flight();
    }
    releases
}

/// Writes the per-release families.
pub(crate) fn encode_releases(
    releases: &BTreeMap<String, ReleaseTraffic>,
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "hoist_requests",
        "Requests answered through the proxy, by release and status class (the proxy's own 502/504 included).",
        None,
        MetricType::Counter,
    )?;
    for (release, traffic) in releases {
        for (class, count) in CLASSES.iter().zip(traffic.counts.classes) {
            // `other` (a status outside 100..=599) only when it happened.
            if *class == "other" && count == 0 {
                continue;
            }
            let labels = [("release", release.as_str()), ("class", class)];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "hoist_proxy_errors",
        "Answers the proxy made itself because the app did not answer (502 unreachable, 504 too slow), by release; also counted in hoist_requests_total.",
        None,
        MetricType::Counter,
    )?;
    for (release, traffic) in releases {
        ConstCounter::new(traffic.counts.proxy_made)
            .encode(family.encode_family(&[("release", release.as_str())])?)?;
    }
    let mut family = encoder.encode_descriptor(
        "hoist_request_duration",
        "Time from routing a request to its response head, by release.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for (release, traffic) in releases {
        let latency = &traffic.latency;
        family
            .encode_family(&[("release", release.as_str())])?
            .encode_histogram::<NoLabelSet>(
                latency.sum_seconds,
                latency.count,
                &per_bucket(&latency.buckets),
                None,
            )?;
    }
    let mut family = encoder.encode_descriptor(
        "hoist_requests_in_flight",
        "Requests (and upgraded connections) open now, by release.",
        None,
        MetricType::Gauge,
    )?;
    for (release, traffic) in releases {
        ConstGauge::new(traffic.in_flight)
            .encode(family.encode_family(&[("release", release.as_str())])?)?;
    }
    Ok(())
}

/// Writes one unlabelled gauge.
pub(crate) fn encode_gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// The proxy's cumulative buckets as `prometheus-client` takes them: a count
/// per bucket (it adds them up itself as it writes), and `f64::MAX` for the
/// last bound, which it writes as `le="+Inf"`.
fn per_bucket(cumulative: &[(f64, u64)]) -> Vec<(f64, u64)> {
    let mut below = 0;
    cumulative
        .iter()
        .map(|&(bound, total)| {
            let count = total.saturating_sub(below);
            below = total;
            let bound = if bound.is_finite() { bound } else { f64::MAX };
            (bound, count)
        })
        .collect()
}
