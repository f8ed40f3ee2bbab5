//! The client connections open at once, capped per agent
//! (`max_connections`) and per client address (`max_connections_per_client`).
//!
//! A connection *waits* while it has no request in flight: an idle
//! keep-alive, a head not yet complete, a TLS handshake not finished. At the
//! cap, the connection that has waited longest is closed to make room (as
//! nginx reuses its idle keep-alives); only when none waits does the new
//! one get a 503. A slow-head attacker so pushes out its own oldest heads,
//! not the clients being served.
//!
//! Cost: per request a connection makes two relaxed atomic stores (busy,
//! then waiting since a sequence number). The registry's lock is taken when
//! a connection opens or closes, and the scan for the oldest waiting one
//! happens only at the cap.
//!
//! ```text
//! accept ──admit──▶ Ticket (slot: waiting since #n)
//!   head parsed ──▶ busy          response written ──▶ waiting since #m
//!   at the cap: evict(min #) ──▶ its slot is woken, the connection closes
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The connection was chosen to make room: it closes at its next wait.
const EVICTED: u8 = 1;
/// The server is stopping: idle connections close.
const STOPPING: u8 = 2;
/// Its ticket was dropped: it no longer counts.
const CLOSED: u8 = 4;

/// `max_connections` when nothing says otherwise: half the open-file limit
/// (a client may need a backend connection too, as nginx's
/// `worker_connections` counts both), less some for the agent's own files.
pub fn default_max_connections(open_file_limit: u64) -> usize {
    (open_file_limit.saturating_sub(64) / 2).max(64) as usize
}

/// Evictions at the cap, logged at most once a second.
static CAP_EVICTED: crate::throttle::Throttle = crate::throttle::Throttle::new(
    "connection limit reached; closed the longest-waiting connection",
);

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// At `max_connections`, and every connection has a request in flight.
    Busy,
    /// This client address is at `max_connections_per_client`.
    PerClient,
}

/// Every open client connection.
#[derive(Debug)]
pub(crate) struct Registry {
    max: usize,
    max_per_client: usize,
    /// Connections that count against `max`: open and not evicted.
    counted: AtomicUsize,
    /// Connections whose task still runs, evicted or not.
    running: AtomicUsize,
    /// Hands out "waiting since" numbers; 0 means busy.
    sequence: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    /// Woken whenever a connection closes (the accept loop waits for an
    /// evicted one's descriptor; shutdown waits for the last one).
    closed: Notify,
}

/// One connection's shared state.
#[derive(Debug)]
pub(crate) struct Slot {
    /// 0 while a request is in flight; else the sequence number at which
    /// the connection began to wait.
    since: AtomicU64,
    flags: AtomicU8,
    /// Woken when `flags` gains `EVICTED` or `STOPPING`.
    wake: Notify,
}

/// A connection's place in the registry; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Ticket {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
    id: u64,
    client: IpAddr,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these; a poisoned lock still holds valid state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    /// A registry admitting `max` connections, `max_per_client` from one
    /// address (0: no such limit).
    pub(crate) fn new(max: usize, max_per_client: usize) -> Registry {
        Registry {
            max: max.max(1),
            max_per_client,
            counted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            sequence: AtomicU64::new(1),
            slots: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            per_client: Mutex::new(HashMap::new()),
            closed: Notify::new(),
        }
    }

    /// Admits a new connection from `client`, closing the oldest waiting
    /// one if that is what makes room.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Ticket, Refused> {
        if self.max_per_client > 0 {
            let mut per_client = lock(&self.per_client);
            let count = per_client.entry(client).or_insert(0);
            if *count >= self.max_per_client {
                return Err(Refused::PerClient);
            }
            *count += 1;
        }
        if self.counted.load(Ordering::SeqCst) >= self.max {
            if !self.evict_oldest() {
                self.forget_client(client);
                return Err(Refused::Busy);
            }
            crate::throttle::warn_throttled!(
                CAP_EVICTED,
                max_connections = self.max,
                "connection limit reached; closed the longest-waiting connection (a slow head or an idle keep-alive) to make room"
            );
        }
        self.counted.fetch_add(1, Ordering::SeqCst);
        self.running.fetch_add(1, Ordering::SeqCst);
        let slot = Arc::new(Slot {
            since: AtomicU64::new(self.next_sequence()),
            flags: AtomicU8::new(0),
            wake: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.slots).insert(id, slot.clone());
        Ok(Ticket {
            registry: self.clone(),
            slot,
            id,
            client,
        })
    }

    /// Closes the connection that has waited longest; `false` if none waits.
    pub(crate) fn evict_oldest(&self) -> bool {
        let slots = lock(&self.slots);
        let oldest = slots
            .values()
            .filter(|slot| slot.flags.load(Ordering::SeqCst) & (EVICTED | CLOSED) == 0)
            .filter_map(|slot| match slot.since.load(Ordering::SeqCst) {
                0 => None,
                since => Some((since, slot)),
            })
            .min_by_key(|(since, _)| *since);
        let Some((_, slot)) = oldest else {
            return false;
        };
        // Under the lock, so a closing ticket cannot uncount it too.
        slot.flags.fetch_or(EVICTED, Ordering::SeqCst);
        self.counted.fetch_sub(1, Ordering::SeqCst);
        slot.wake.notify_one();
        true
    }

    /// Tells every connection the server stops: idle ones close, HTTP/2
    /// ones go away gracefully, busy ones finish their request first.
    pub(crate) fn stop(&self) {
        for slot in lock(&self.slots).values() {
            slot.flags.fetch_or(STOPPING, Ordering::SeqCst);
            slot.wake.notify_one();
        }
    }

    /// Connections whose task still runs.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Connections counted against the cap.
    pub(crate) fn counted(&self) -> usize {
        self.counted.load(Ordering::SeqCst)
    }

    /// Resolves once fewer than `count` connections run.
    pub(crate) async fn fewer_than(&self, count: usize) {
        loop {
            let notified = self.closed.notified();
            if self.running() < count {
                return;
            }
            notified.await;
        }
    }

    fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    fn forget_client(&self, client: IpAddr) {
        if self.max_per_client == 0 {
            return;
        }
        let mut per_client = lock(&self.per_client);
        if let Some(count) = per_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&client);
            }
        }
    }
}

impl Ticket {
    /// A request is in flight: this connection is not to be evicted.
    pub(crate) fn busy(&self) {
        self.slot.since.store(0, Ordering::Relaxed);
    }

    /// No request in flight any more: from now on it may be evicted, after
    /// every connection that began waiting earlier.
    pub(crate) fn waiting(&self) {
        let since = self.registry.next_sequence();
        self.slot.since.store(since, Ordering::Relaxed);
    }

    /// Whether it was chosen to make room.
    pub(crate) fn evicted(&self) -> bool {
        self.slot.flags.load(Ordering::SeqCst) & EVICTED != 0
    }

    /// Whether the server is stopping.
    pub(crate) fn stopping(&self) -> bool {
        self.slot.flags.load(Ordering::SeqCst) & STOPPING != 0
    }

    /// Resolves when the connection is evicted or the server stops (check
    /// which); a signal sent before this is polled is not lost.
    pub(crate) fn signalled(&self) -> tokio::sync::futures::Notified<'_> {
        self.slot.wake.notified()
    }

    /// Resolves once the connection is evicted or the server stops.
    pub(crate) async fn told_to_go(&self) {
        loop {
            let notified = self.slot.wake.notified();
            if self.slot.flags.load(Ordering::SeqCst) & (EVICTED | STOPPING) != 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let registry = &self.registry;
        {
            let mut slots = lock(&registry.slots);
            slots.remove(&self.id);
            let flags = self.slot.flags.fetch_or(CLOSED, Ordering::SeqCst);
            if flags & EVICTED == 0 {
                registry.counted.fetch_sub(1, Ordering::SeqCst);
            }
        }
        registry.forget_client(self.client);
        registry.running.fetch_sub(1, Ordering::SeqCst);
        registry.closed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn at_the_cap_the_oldest_waiting_connection_makes_room() {
        let registry = Arc::new(Registry::new(2, 0));
        let first = registry.admit(client(1)).unwrap();
        let second = registry.admit(client(2)).unwrap();
        first.busy();
        first.waiting();
        // `second` has waited longest now; `first` began again later.
        let third = registry.admit(client(3)).unwrap();
        assert!(second.evicted() && !first.evicted());
        assert_eq!(registry.counted(), 2);
        drop(second);
        assert_eq!((registry.counted(), registry.running()), (2, 2));
        first.busy();
        third.busy();
        assert_eq!(
            registry.admit(client(4)).unwrap_err(),
            Refused::Busy,
            "nobody waits: the newcomer is refused"
        );
    }

    #[test]
    fn one_address_gets_at_most_its_share() {
        let registry = Arc::new(Registry::new(100, 2));
        let _a = registry.admit(client(1)).unwrap();
        let b = registry.admit(client(1)).unwrap();
        assert_eq!(registry.admit(client(1)).unwrap_err(), Refused::PerClient);
        let _other = registry.admit(client(2)).unwrap();
        drop(b);
        assert!(registry.admit(client(1)).is_ok());
    }

    #[test]
    fn the_default_cap_leaves_room_for_backend_connections() {
        assert_eq!(default_max_connections(1024), 480);
        assert_eq!(default_max_connections(100), 64);
        assert_eq!(default_max_connections(0), 64);
    }
}
