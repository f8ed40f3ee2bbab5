//! Static backends (hosts the agent does not run), weighted by capacity,
//! health-checked, and drainable one by one.

use crate::Backend;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One static backend.
#[derive(Debug)]
pub struct Member {
    /// Its counters and connection pool; its "release" is a label such as
    /// `backend-1`, which responses may show, never its address.
    pub backend: Arc<Backend>,
    /// Where it is, for `hoist status` and for finding it by `hoist drain URL`.
    pub url: String,
    /// Share of requests relative to the others.
    pub weight: u32,
    healthy: AtomicBool,
    draining: AtomicBool,
}

/// A member as `hoist status` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct MemberInfo {
    /// Its URL.
    pub url: String,
    /// The label its responses and counters carry (`backend-1`, ...).
    #[serde(default)]
    pub label: String,
    /// Its weight.
    pub weight: u32,
    /// Whether its last health checks passed.
    pub healthy: bool,
    /// Whether it is being drained (no new requests).
    pub draining: bool,
    /// Requests still open on it.
    pub in_flight: u64,
    /// Requests it answered.
    pub requests: u64,
}

impl Member {
    /// A member at `url`, healthy until a check says otherwise.
    pub fn new(backend: Arc<Backend>, url: &str, weight: u32) -> Member {
        Member {
            backend,
            url: url.to_owned(),
            weight: weight.max(1),
            healthy: AtomicBool::new(true),
            draining: AtomicBool::new(false),
        }
    }

    /// Marks the result of a health check.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// Stops (or restarts) new requests to this member.
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Ordering::SeqCst);
    }

    /// Whether its health checks pass (as far as the last ones said).
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Whether it is being drained.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether it gets new requests: healthy and not draining.
    pub fn usable(&self) -> bool {
        self.is_healthy() && !self.is_draining()
    }

    /// For `hoist status`.
    pub fn info(&self) -> MemberInfo {
        let stats = self.backend.stats();
        MemberInfo {
            url: self.url.clone(),
            label: self.backend.release().to_owned(),
            weight: self.weight,
            healthy: self.healthy.load(Ordering::SeqCst),
            draining: self.draining.load(Ordering::SeqCst),
            in_flight: stats.in_flight,
            requests: stats.requests,
        }
    }
}

/// The members and a weighted, interleaved schedule over them.
#[derive(Debug, Default)]
pub struct Members {
    members: Vec<Arc<Member>>,
    /// Member indices, each repeated by weight and spread out (smooth weighted round robin).
    schedule: Vec<usize>,
    next: AtomicUsize,
}

impl Members {
    /// A pool of `members`.
    pub fn new(members: Vec<Arc<Member>>) -> Members {
        let schedule = smooth_schedule(
            &members
                .iter()
                .map(|member| member.weight)
                .collect::<Vec<_>>(),
        );
        Members {
            members,
            schedule,
            next: AtomicUsize::new(0),
        }
    }

    /// The members.
    pub fn all(&self) -> &[Arc<Member>] {
        &self.members
    }

    /// The next usable member by weight, skipping unhealthy and draining ones.
    pub(crate) fn pick(&self) -> Option<&Arc<Member>> {
        if self.schedule.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.schedule.len())
            .map(|offset| &self.members[self.schedule[(start + offset) % self.schedule.len()]])
            .find(|member| member.usable())
    }
}

/// nginx's smooth weighted round robin, unrolled once: weights 3 and 1 give a, a, b, a.
fn smooth_schedule(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|weight| i64::from(*weight)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut schedule = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (index, weight) in weights.iter().enumerate() {
            current[index] += i64::from(*weight);
        }
        let best = (0..weights.len())
            .max_by_key(|index| (current[*index], std::cmp::Reverse(*index)))
            .expect("non-empty");
        current[best] -= total;
        schedule.push(best);
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, weight: u32) -> Arc<Member> {
        Arc::new(Member::new(
            Arc::new(Backend::new(name, "127.0.0.1:1".parse().unwrap())),
            "http://127.0.0.1:1",
            weight,
        ))
    }

    #[test]
    fn weights_are_honoured_and_interleaved() {
        assert_eq!(smooth_schedule(&[3, 1]), [0, 0, 1, 0]);
        let members = Members::new(vec![member("a", 3), member("b", 1)]);
        let picks: Vec<&str> = (0..400)
            .map(|_| members.pick().unwrap().backend.release())
            .collect();
        assert_eq!(picks.iter().filter(|name| **name == "a").count(), 300);
    }

    #[test]
    fn unhealthy_and_draining_members_get_nothing() {
        let members = Members::new(vec![member("a", 3), member("b", 1)]);
        members.all()[0].set_draining(true);
        assert!((0..20).all(|_| members.pick().unwrap().backend.release() == "b"));
        members.all()[1].set_healthy(false);
        assert!(members.pick().is_none());
        members.all()[0].set_draining(false);
        assert_eq!(members.pick().unwrap().backend.release(), "a");
    }
}
