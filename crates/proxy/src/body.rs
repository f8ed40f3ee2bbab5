//! Response bodies that hold their request's in-flight count until they end.

use crate::backend::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Errors from either side of a proxied body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type flowing through the proxy both ways.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Streams `inner` and drops the in-flight guard only when the body is done
/// (or the client goes away), so a drain waits for slow downloads and SSE.
/// It also carries the backend connection, returned to its pool only when
/// the body was read to the end (declared before the guard, so it is back
/// in the pool by the time the in-flight count drops).
pub(crate) struct Guarded {
    inner: ProxyBody,
    connection: Option<crate::pool::Return>,
    _guard: InFlight,
}

impl Guarded {
    pub(crate) fn wrap(
        inner: ProxyBody,
        guard: InFlight,
        connection: Option<crate::pool::Return>,
    ) -> ProxyBody {
        BoxBody::new(Guarded {
            inner,
            connection,
            _guard: guard,
        })
    }
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // hyper stops polling once `is_end_stream` says so, so the last data
        // frame, not only a final `None`, can be what ends the body.
        let ended = matches!(polled, Poll::Ready(None))
            || (matches!(polled, Poll::Ready(Some(Ok(_)))) && self.inner.is_end_stream());
        if ended {
            if let Some(connection) = &mut self.connection {
                connection.finished = true;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
