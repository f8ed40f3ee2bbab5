//! Request bodies: the connection's task reads them off the client socket
//! (the pump) and hands them, one chunk at a time, to whoever polls the
//! request's body (the forwarder, in the same task). Bodiless requests —
//! most of them — never touch any of this.

use crate::body::BoxError;
use crate::decode::Decoder;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// How much room each read from the client asks for.
const READ_SIZE: usize = 16 * 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the pump and the body share.
#[derive(Debug, Default)]
struct Shared {
    /// One decoded chunk waiting to be taken: the pump reads no further
    /// until it is, so a slow backend slows the client (backpressure).
    chunk: Option<Bytes>,
    /// Set when the body has ended: cleanly, or how it broke.
    end: Option<Result<(), io::ErrorKind>>,
    /// The body has been polled: the forwarder wants the bytes.
    wanted: bool,
    /// The body was dropped: nobody will read the rest.
    gone: bool,
    body_waker: Option<Waker>,
    pump_waker: Option<Waker>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // Nothing panics while holding it; a poisoned lock still holds valid state.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The body of a request from an HTTP/1 client.
#[derive(Debug)]
pub(crate) struct RequestBody {
    shared: Option<Arc<Mutex<Shared>>>,
    declared: Option<u64>,
}

/// The connection's side of a request body.
#[derive(Debug)]
pub(crate) struct Pump {
    shared: Arc<Mutex<Shared>>,
    decoder: Decoder,
    /// Bytes of `100 Continue` still to write, once the body is wanted.
    continue_left: usize,
    finished: bool,
}

/// The body for a request framed by `decoder`, and the pump that feeds it
/// (`None` when there is no body at all).
pub(crate) fn channel(
    decoder: Decoder,
    declared: Option<u64>,
    expects_continue: bool,
) -> (RequestBody, Option<Pump>) {
    if decoder.is_done() {
        let body = RequestBody {
            shared: None,
            declared,
        };
        return (body, None);
    }
    let shared = Arc::new(Mutex::new(Shared::default()));
    let body = RequestBody {
        shared: Some(shared.clone()),
        declared,
    };
    let pump = Pump {
        shared,
        decoder,
        continue_left: if expects_continue { CONTINUE.len() } else { 0 },
        finished: false,
    };
    (body, Some(pump))
}

impl Pump {
    /// Whether the whole body was read off the connection, so the next
    /// request starts right after it.
    pub(crate) fn complete(&self) -> bool {
        self.decoder.is_done()
    }

    /// Moves the body along; `Ready` once there is nothing more to do
    /// (body complete, broken, or no longer wanted).
    pub(crate) fn poll<I>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut I,
        buffer: &mut BytesMut,
    ) -> Poll<()>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            if self.finished {
                return Poll::Ready(());
            }
            let mut shared = lock(&self.shared);
            if shared.gone {
                self.finished = true;
                return Poll::Ready(());
            }
            if shared.chunk.is_some() || (self.continue_left > 0 && !shared.wanted) {
                shared.pump_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            drop(shared);
            if self.continue_left > 0 {
                let written = CONTINUE.len() - self.continue_left;
                match Pin::new(&mut *io).poll_write(cx, &CONTINUE[written..]) {
                    Poll::Ready(Ok(count)) if count > 0 => self.continue_left -= count,
                    Poll::Ready(Ok(_)) => return self.end(Err(io::ErrorKind::WriteZero)),
                    Poll::Ready(Err(error)) => return self.end(Err(error.kind())),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            match self.decoder.decode(buffer) {
                Err(error) => return self.end(Err(error.kind())),
                Ok(Some(data)) => {
                    let mut shared = lock(&self.shared);
                    shared.chunk = Some(data);
                    if let Some(waker) = shared.body_waker.take() {
                        waker.wake();
                    }
                    continue;
                }
                Ok(None) if self.decoder.is_done() => return self.end(Ok(())),
                Ok(None) => {}
            }
            crate::buffers::lend(buffer, READ_SIZE);
            let read = pin!(io.read_buf(buffer));
            match read.poll(cx) {
                Poll::Ready(Ok(0)) => return self.end(Err(io::ErrorKind::UnexpectedEof)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => return self.end(Err(error.kind())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn end(&mut self, outcome: Result<(), io::ErrorKind>) -> Poll<()> {
        self.finished = true;
        let mut shared = lock(&self.shared);
        shared.end = Some(outcome);
        if let Some(waker) = shared.body_waker.take() {
            waker.wake();
        }
        Poll::Ready(())
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(shared) = &self.shared else {
            return Poll::Ready(None);
        };
        let mut shared = lock(shared);
        shared.wanted = true;
        if let Some(chunk) = shared.chunk.take() {
            if let Some(waker) = shared.pump_waker.take() {
                waker.wake();
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match shared.end {
            Some(Ok(())) => Poll::Ready(None),
            Some(Err(kind)) => Poll::Ready(Some(Err(io::Error::new(
                kind,
                "the client's request body broke off",
            )
            .into()))),
            None => {
                shared.body_waker = Some(cx.waker().clone());
                if let Some(waker) = shared.pump_waker.take() {
                    waker.wake();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.shared {
            None => true,
            Some(shared) => {
                let shared = lock(shared);
                shared.chunk.is_none() && shared.end == Some(Ok(()))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.shared, self.declared) {
            (None, _) => SizeHint::with_exact(0),
            (Some(_), Some(length)) => SizeHint::with_exact(length),
            (Some(_), None) => SizeHint::default(),
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            let mut shared = lock(shared);
            shared.gone = true;
            if let Some(waker) = shared.pump_waker.take() {
                waker.wake();
            }
        }
    }
}
