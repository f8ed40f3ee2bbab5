//! Traffic counters as the balancer reports them: cumulative since it
//! started, so a watch window is the difference of two readings, taken at
//! its start and at its end.

use serde::Serialize;
use std::collections::BTreeMap;

/// Cumulative counters of one server, or of the whole backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests sent (HAProxy `req_tot`).
    pub requests: u64,
    /// 5xx responses (HAProxy `hrsp_5xx`). For the backend this includes
    /// the 503s HAProxy made itself when no server could take a request;
    /// for a server, only what the server answered.
    pub responses_5xx: u64,
    /// Connections to the server that failed (HAProxy `econ`): a switched
    /// host that refuses connections shows here before anywhere else.
    pub connection_errors: u64,
}

impl Counters {
    /// What happened between `before` and `self`. A counter that went down
    /// means the balancer restarted (its counters start at 0 again), so
    /// what it counted since then is all that is known of the window.
    pub fn since(&self, before: &Counters) -> Counters {
        let delta = |after: u64, before: u64| after.checked_sub(before).unwrap_or(after);
        let restarted = self.requests < before.requests
            || self.responses_5xx < before.responses_5xx
            || self.connection_errors < before.connection_errors;
        if restarted {
            return *self;
        }
        Counters {
            requests: delta(self.requests, before.requests),
            responses_5xx: delta(self.responses_5xx, before.responses_5xx),
            connection_errors: delta(self.connection_errors, before.connection_errors),
        }
    }

    /// The share of requests answered 5xx, or `None` when there were no
    /// requests (no traffic says nothing about errors).
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.responses_5xx as f64 / self.requests as f64)
    }
}

/// One reading of a backend's traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// The backend as a whole: what clients saw.
    pub backend: Counters,
    /// Each host asked about, by the host name the caller gave (not the
    /// balancer's server name).
    pub hosts: BTreeMap<String, Counters>,
}

impl Traffic {
    /// What happened between `before` and `self`, for the backend and for
    /// each host present in both readings.
    pub fn since(&self, before: &Traffic) -> Traffic {
        Traffic {
            backend: self.backend.since(&before.backend),
            hosts: self
                .hosts
                .iter()
                .filter_map(|(host, after)| {
                    let before = before.hosts.get(host)?;
                    Some((host.clone(), after.since(before)))
                })
                .collect(),
        }
    }
}

/// The backend's 5xx rate between two readings, or `None` when no request
/// came in between.
pub fn error_rate(before: &Traffic, after: &Traffic) -> Option<f64> {
    after.backend.since(&before.backend).error_rate()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(requests: u64, responses_5xx: u64) -> Counters {
        Counters {
            requests,
            responses_5xx,
            connection_errors: 0,
        }
    }

    fn traffic(backend: Counters) -> Traffic {
        Traffic {
            backend,
            hosts: BTreeMap::new(),
        }
    }

    #[test]
    fn the_rate_is_over_the_window_only() {
        let before = traffic(counters(1000, 500));
        let after = traffic(counters(1100, 502));
        assert_eq!(error_rate(&before, &after), Some(0.02));
    }

    #[test]
    fn no_requests_in_the_window_is_no_rate() {
        let reading = traffic(counters(10, 1));
        assert_eq!(error_rate(&reading, &reading), None);
    }

    #[test]
    fn a_restarted_balancer_counts_from_its_restart() {
        let before = counters(1000, 0);
        let after = counters(40, 4);
        assert_eq!(after.since(&before), after);
        assert_eq!(after.since(&before).error_rate(), Some(0.1));
    }

    #[test]
    fn hosts_missing_from_either_reading_are_left_out() {
        let mut before = traffic(counters(0, 0));
        before.hosts.insert("web1".into(), counters(1, 0));
        let mut after = traffic(counters(5, 0));
        after.hosts.insert("web1".into(), counters(3, 1));
        after.hosts.insert("web2".into(), counters(2, 0));
        let window = after.since(&before);
        assert_eq!(window.hosts.len(), 1);
        assert_eq!(window.hosts["web1"], counters(2, 1));
    }
}
