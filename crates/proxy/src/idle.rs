//! The idle timeout: a connection on which no byte moves, either way, for
//! `[proxy] idle_timeout` is given up (nginx's `client_header_timeout`,
//! `keepalive_timeout`, `client_body_timeout`, `send_timeout` and
//! `proxy_read_timeout`, as one setting). Backend connections carry one
//! too: `response_timeout` until the response head, then `idle_timeout`.
//!
//! Why not a `timeout()` around each read: a fresh tokio timer is filed in
//! the timer wheel and taken out again, and even moving the deadline of a
//! kept one reads the clock, for every request. Here bytes moving only set
//! a flag. One timer per connection ticks every quarter of the timeout
//! while the connection waits, and [`CHECKS`] ticks in a row with nothing
//! moved end it: silence is caught between one and one and a quarter
//! timeouts, and a busy connection pays a wake-up per quarter, not per read.
//!
//! The same ticks check a request body's minimum rate ([`Floor`], Apache's
//! `MinRate`): a body that keeps trickling is never silent, but it must
//! keep up an average rate after a grace period.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Ticks in a row without a byte moved that end a waiting connection.
const CHECKS: u32 = 4;

/// Tells a connection that waits when it has been silent for too long.
#[derive(Debug)]
struct IdleTimer<R> {
    timeout: Duration,
    /// Made the first time the connection waits, then re-armed per tick.
    tick: Option<Pin<Box<Sleep>>>,
    /// The timeout changed: the next wait re-arms the tick at its pace.
    retimed: bool,
    /// Bytes moved since the last tick.
    moved: bool,
    /// Ticks in a row that found nothing moved.
    silent: u32,
    /// The rate reads must keep up: `()` (none, and no room taken) for
    /// backend connections, `Option<Floor>` for clients.
    floor: R,
}

/// A rate check the idle timer's ticks make.
pub(crate) trait RateCheck: Default + Unpin {
    /// `count` bytes were read.
    fn counted(&mut self, count: usize);
    /// Whether reads have fallen behind at `now`; a miss ends the check.
    fn missed(&mut self, now: Instant) -> bool;
}

impl RateCheck for () {
    #[inline]
    fn counted(&mut self, _: usize) {}
    #[inline]
    fn missed(&mut self, _: Instant) -> bool {
        false
    }
}

impl RateCheck for Option<Floor> {
    #[inline]
    fn counted(&mut self, count: usize) {
        if let Some(floor) = self {
            floor.received += count as u64;
        }
    }

    fn missed(&mut self, now: Instant) -> bool {
        let missed = self.is_some_and(|floor| floor.missed(now));
        if missed {
            *self = None;
        }
        missed
    }
}

/// A minimum average rate for bytes read: by `start + grace + received /
/// rate`, reads fail with `TimedOut`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    pub(crate) start: Instant,
    pub(crate) grace: Duration,
    /// Bytes per second, above 0.
    pub(crate) rate: u64,
    /// Bytes read since `start`.
    pub(crate) received: u64,
}

impl Floor {
    fn missed(&self, now: Instant) -> bool {
        let earned = Duration::from_millis(self.received.saturating_mul(1000) / self.rate);
        now > self.start + self.grace.saturating_add(earned)
    }
}

impl<R: RateCheck> IdleTimer<R> {
    fn new(timeout: Duration) -> IdleTimer<R> {
        IdleTimer {
            timeout,
            tick: None,
            retimed: false,
            moved: false,
            silent: 0,
            floor: R::default(),
        }
    }

    /// Bytes moved.
    fn progress(&mut self) {
        self.moved = true;
    }

    /// A new phase starts: from now on, silence ends the connection after
    /// `timeout` (a backend connection has one for the response head and one
    /// for the body). Whatever silence came before does not count.
    fn set_timeout(&mut self, timeout: Duration) {
        self.silent = 0;
        self.moved = true;
        if timeout != self.timeout {
            self.timeout = timeout;
            self.retimed = true;
        }
    }

    /// Called while an operation is pending: `Ready` with a `TimedOut`
    /// error once the connection has been silent for the whole timeout.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let every = self.timeout / CHECKS;
        if std::mem::take(&mut self.retimed) {
            self.silent = 0;
            self.moved = false;
            if let Some(tick) = &mut self.tick {
                tick.as_mut().reset(Instant::now() + every);
            }
        }
        let tick = self.tick.get_or_insert_with(|| {
            self.moved = false;
            Box::pin(tokio::time::sleep(every))
        });
        while tick.as_mut().poll(cx).is_ready() {
            if std::mem::take(&mut self.moved) {
                self.silent = 0;
            } else {
                self.silent += 1;
            }
            let now = Instant::now();
            tick.as_mut().reset(now + every);
            if self.floor.missed(now) {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body arrived too slowly",
                ));
            }
            if self.silent >= CHECKS {
                // A later wait (a 408 being written, say) gets a whole timeout again.
                self.silent = 0;
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no bytes moved for {}s", self.timeout.as_secs_f32()),
                ));
            }
        }
        Poll::Pending
    }

    /// Passes on what an operation returned, or its timeout.
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.progress();
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_expired(cx).map(Err),
        }
    }
}

/// A stream whose reads and writes fail with `TimedOut` after the idle
/// timeout, and reads also when they fall behind a [`RateCheck`].
#[derive(Debug)]
pub(crate) struct Idle<I, R = ()> {
    io: I,
    timer: IdleTimer<R>,
}

impl<I> Idle<I> {
    pub(crate) fn new(io: I, timeout: Duration) -> Idle<I> {
        Idle {
            io,
            timer: IdleTimer::new(timeout),
        }
    }
}

impl<I, R: RateCheck> Idle<I, R> {
    /// The stream without the timeout (for tunnels, which may idle).
    pub(crate) fn get_mut(&mut self) -> &mut I {
        &mut self.io
    }

    pub(crate) fn get_ref(&self) -> &I {
        &self.io
    }

    /// A new phase starts, silent for at most `timeout` (see [`IdleTimer::set_timeout`]).
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timer.set_timeout(timeout);
    }

    /// How long it may stay silent.
    pub(crate) fn timeout(&self) -> Duration {
        self.timer.timeout
    }

    pub(crate) fn into_inner(self) -> I {
        self.io
    }
}

impl<I> Idle<I, Option<Floor>> {
    /// Like [`Idle::new`], for a client whose request bodies may be held to a rate.
    pub(crate) fn metered(io: I, timeout: Duration) -> Idle<I, Option<Floor>> {
        Idle {
            io,
            timer: IdleTimer::new(timeout),
        }
    }

    /// From now on, reads must keep up `floor`'s rate (`None`: no more).
    pub(crate) fn set_floor(&mut self, floor: Option<Floor>) {
        self.timer.floor = floor;
    }

    /// Whether reads are held to a rate.
    pub(crate) fn has_floor(&self) -> bool {
        self.timer.floor.is_some()
    }
}

impl<I: AsyncRead + Unpin, R: RateCheck> AsyncRead for Idle<I, R> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        this.timer.floor.counted(buf.filled().len() - before);
        this.timer.check(cx, polled)
    }
}

impl<I: AsyncWrite + Unpin, R: RateCheck> AsyncWrite for Idle<I, R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.timer.check(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.timer.check(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        this.timer.check(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_shutdown(cx);
        this.timer.check(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_read_with_nothing_coming_times_out_after_the_timeout() {
        let (near, _far) = tokio::io::duplex(64);
        let mut idle = Idle::new(near, Duration::from_millis(50));
        let started = std::time::Instant::now();
        let error = idle.read_u8().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn bytes_that_keep_moving_never_time_out() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut idle = Idle::new(near, Duration::from_millis(500));
        let feeder = tokio::spawn(async move {
            // Bytes 60 ms apart: over a second in all, never 500 ms of silence.
            for byte in 0..20u8 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                far.write_u8(byte).await.unwrap();
            }
            far
        });
        for expected in 0..20u8 {
            assert_eq!(idle.read_u8().await.unwrap(), expected);
        }
        drop(feeder.await.unwrap());
    }

    #[tokio::test]
    async fn a_write_the_peer_never_reads_times_out() {
        let (near, _far) = tokio::io::duplex(8);
        let mut idle = Idle::new(near, Duration::from_millis(50));
        let error = idle.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_new_timeout_applies_from_the_next_wait() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut idle = Idle::new(near, Duration::from_secs(3600));
        // The read waits first, so the hour-long tick is armed.
        let (read, written) = tokio::join!(idle.read_u8(), far.write_u8(1));
        written.unwrap();
        assert_eq!(read.unwrap(), 1);
        idle.set_timeout(Duration::from_millis(50));
        let started = std::time::Instant::now();
        let error = tokio::time::timeout(Duration::from_secs(10), idle.read_u8())
            .await
            .expect("the new timeout, not the hour, applied")
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_body_below_the_floor_times_out_though_bytes_keep_moving() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut idle = Idle::metered(near, Duration::from_millis(200));
        idle.set_floor(Some(Floor {
            start: Instant::now(),
            grace: Duration::from_millis(100),
            rate: 100,
            received: 0,
        }));
        let feeder = tokio::spawn(async move {
            // A byte every 40 ms: never silent, but 25 bytes a second where
            // the floor wants 100 after the grace.
            for byte in 0..50u8 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                if far.write_u8(byte).await.is_err() {
                    break;
                }
            }
        });
        let mut read = 0;
        let error = loop {
            match idle.read_u8().await {
                Ok(_) => read += 1,
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "after {read} bytes");
        assert!(read < 50, "{read}");
        drop(idle);
        feeder.await.unwrap();
    }

    #[tokio::test]
    async fn after_a_timeout_the_next_wait_gets_a_whole_timeout() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut idle = Idle::new(near, Duration::from_millis(50));
        assert!(idle.read_u8().await.is_err());
        far.write_u8(7).await.unwrap();
        assert_eq!(idle.read_u8().await.unwrap(), 7);
    }
}
