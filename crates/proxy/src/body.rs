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
/// The inner body, dropped first, has put its backend connection back into
/// the pool by the time the in-flight count drops.
pub(crate) struct Guarded<B> {
    inner: B,
    _guard: InFlight,
}

impl<B> Guarded<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Send + Sync + Unpin + 'static,
{
    pub(crate) fn wrap(inner: B, guard: InFlight) -> ProxyBody {
        BoxBody::new(Guarded {
            inner,
            _guard: guard,
        })
    }
}

impl<B> Body for Guarded<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
