//! Pause: new requests wait (bounded) instead of failing while the app is
//! briefly unavailable, e.g. around a switch or a quick database upgrade.
//!
//! Held requests cost a task and their connection's read buffer: their
//! bodies are not read while they wait, so memory is bounded by
//! `max_held` × the per-connection buffer (64 KiB), never by body sizes.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::watch;
use tokio::time::Instant;

/// The pause gate; cheap to consult when not paused.
#[derive(Debug)]
pub(crate) struct Gate {
    /// `Some(deadline)` while paused; requests wait at most until the deadline.
    state: watch::Sender<Option<Instant>>,
    held: AtomicUsize,
    max_held: usize,
}

/// What a request gets from the gate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Passage {
    /// Go on to the app.
    Open,
    /// The pause outlasted its `--max`: answer 503.
    Expired,
    /// Too many requests are held already: answer 503.
    Full,
}

impl Gate {
    pub(crate) fn new(max_held: usize) -> Gate {
        Gate {
            state: watch::channel(None).0,
            held: AtomicUsize::new(0),
            max_held,
        }
    }

    pub(crate) fn pause(&self, until: Instant) {
        self.state.send_replace(Some(until));
    }

    pub(crate) fn resume(&self) {
        self.state.send_replace(None);
    }

    pub(crate) fn paused_until(&self) -> Option<Instant> {
        *self.state.borrow()
    }

    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Waits while paused (bounded by the deadline and `max_held`).
    pub(crate) async fn pass(&self) -> Passage {
        let Some(deadline) = *self.state.borrow() else {
            return Passage::Open;
        };
        if Instant::now() >= deadline {
            return Passage::Expired;
        }
        if self.held.fetch_add(1, Ordering::SeqCst) >= self.max_held {
            self.held.fetch_sub(1, Ordering::SeqCst);
            return Passage::Full;
        }
        let mut state = self.state.subscribe();
        let released = tokio::time::timeout_at(deadline, state.wait_for(Option::is_none)).await;
        self.held.fetch_sub(1, Ordering::SeqCst);
        match released {
            Ok(_) => Passage::Open,
            Err(_) => Passage::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn held_until_resume_then_expired_after_the_deadline() {
        let gate = Arc::new(Gate::new(2));
        assert_eq!(gate.pass().await, Passage::Open);
        gate.pause(Instant::now() + Duration::from_secs(30));
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(gate.held(), 1);
        gate.resume();
        assert_eq!(waiting.await.unwrap(), Passage::Open);

        gate.pause(Instant::now() + Duration::from_secs(3));
        let late = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass().await }
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(late.await.unwrap(), Passage::Expired);
        assert_eq!(
            gate.pass().await,
            Passage::Expired,
            "after the deadline, no more holding"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_held_is_bounded() {
        let gate = Arc::new(Gate::new(2));
        gate.pause(Instant::now() + Duration::from_secs(30));
        let held: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn({
                    let gate = gate.clone();
                    async move { gate.pass().await }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(gate.pass().await, Passage::Full);
        gate.resume();
        for task in held {
            assert_eq!(task.await.unwrap(), Passage::Open);
        }
    }
}
