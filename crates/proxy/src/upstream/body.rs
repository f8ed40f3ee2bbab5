//! Response bodies read straight from the backend socket by whoever polls
//! them (the client connection's task), then the connection goes back to
//! its pool the moment the body has ended.

use super::head::Framing;
use super::Connection;
use crate::body::BoxError;
use crate::decode::{Chunk, Decoder};
use crate::Backend;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How much room each read from the backend asks for, streaming a long
/// body: a buffer that stays in the core's cache as bytes pass through it.
const READ_SIZE: usize = 16 * 1024;

/// A body of known length up to this size is read in one go when it has
/// arrived: one read and one write instead of four of each (64 KiB bodies
/// took 15% more proxy CPU than HAProxy's with 16 KiB reads). Longer ones
/// stream at [`READ_SIZE`], which measured faster for 1 MiB bodies.
const WHOLE_BODY: u64 = 64 * 1024;

/// A response body being read from its backend connection.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    /// `None` once the body has ended (the connection is back in the pool or closed).
    connection: Option<Connection>,
    decoder: Decoder,
    /// Whether the connection may serve another request when this body ends.
    reusable: bool,
    backend: Arc<Backend>,
}

impl UpstreamBody {
    pub(crate) fn new(
        mut connection: Connection,
        framing: Framing,
        reusable: bool,
        backend: Arc<Backend>,
        idle_timeout: Duration,
    ) -> UpstreamBody {
        let decoder = match framing {
            Framing::Empty | Framing::Length(0) => Decoder::Done,
            Framing::Length(length) => Decoder::Length(length),
            Framing::Chunked => Decoder::Chunked(Chunk::Size),
            Framing::UntilClose => Decoder::UntilClose,
        };
        // A backend that sends nothing for this long has its response cut
        // (nginx's `proxy_read_timeout`), so a hung app cannot hold the client.
        connection.stream.set_timeout(idle_timeout);
        let mut body = UpstreamBody {
            connection: Some(connection),
            decoder,
            reusable,
            backend,
        };
        if body.decoder.is_done() {
            body.release();
        }
        body
    }

    /// The body cannot go on: the connection is closed, never reused.
    fn abandon(&mut self, error: io::Error) -> BoxError {
        self.reusable = false;
        self.release();
        error.into()
    }

    /// The body has ended: the connection goes back to the pool if it is
    /// clean (reusable, and the backend sent nothing past the body).
    fn release(&mut self) {
        if let Some(connection) = self.connection.take() {
            if self.reusable && connection.buffer.is_empty() {
                crate::pool::Pool::put(&self.backend, connection);
            }
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(connection) = this.connection.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut connection.buffer) {
                Err(error) => return Poll::Ready(Some(Err(this.abandon(error)))),
                Ok(data) => {
                    if this.decoder.is_done() {
                        this.release();
                    }
                    if let Some(data) = data {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    if this.connection.is_none() {
                        return Poll::Ready(None);
                    }
                }
            }
            let Some(connection) = this.connection.as_mut() else {
                return Poll::Ready(None);
            };
            let room = match this.decoder {
                Decoder::Length(left) if left <= WHOLE_BODY => left as usize,
                _ => READ_SIZE,
            };
            crate::buffers::lend(&mut connection.buffer, room);
            // A fresh `read_buf` future per poll holds no state of its own; it
            // goes through `poll_read`, which clears readiness on a short read,
            // so the pool's liveness check costs no syscall afterwards.
            let read = pin!(connection.stream.read_buf(&mut connection.buffer));
            match ready!(read.poll(cx)) {
                Ok(0) if this.decoder == Decoder::UntilClose => {
                    this.decoder = Decoder::Done;
                    this.reusable = false;
                    this.release();
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    let cut = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the backend closed the connection mid-body",
                    );
                    return Poll::Ready(Some(Err(this.abandon(cut))));
                }
                Ok(_) => {}
                Err(error) => {
                    if error.kind() == io::ErrorKind::TimedOut {
                        tracing::warn!(release = this.backend.release(), %error, "backend stopped sending its response body; cut");
                    }
                    return Poll::Ready(Some(Err(this.abandon(error))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.connection.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder {
            Decoder::Done => SizeHint::with_exact(0),
            Decoder::Length(left) => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}
