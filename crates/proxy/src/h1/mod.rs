//! hoist's own HTTP/1.1 server side, as pingora has its own: one task per
//! client connection reads a head, hands the request to the [`Proxy`], and
//! writes the answer straight to the socket — no per-request channels, no
//! second task, the response head and a small body in one `write`.
//!
//! HTTP/2 (h2c prior knowledge, or ALPN `h2` over TLS) stays with hyper;
//! see [`crate::server`].

mod feed;
#[cfg(test)]
mod lent;
#[cfg(test)]
mod props;
mod request;
mod response;
mod rewind;

use crate::body::ProxyBody;
use crate::buffers;
use crate::connections::Ticket;
use crate::idle::{Floor, Idle};
use crate::throttle::{warn_throttled, Throttle};
use crate::upstream::Connection;
use crate::{pages, Peer, Proxy};
use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body::Body;
use response::{Asked, Sending};
use std::future::{poll_fn, Future};
use std::io::{self, Write as _};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep};

pub(crate) use rewind::Rewind;

/// How an HTTP/2 client with prior knowledge opens (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// How much room each read of a request head asks for.
const READ_SIZE: usize = 8 * 1024;

/// Body data up to this size is copied behind the head (or chunk size line)
/// so both leave in one `write`; bigger pieces are written as they are.
const COALESCE: usize = 16 * 1024;

/// After refusing a request whose body was not read, the rest is read and
/// dropped for this long (at most [`LINGER_BYTES`]) before closing, so the
/// client reads the answer instead of a reset (nginx's `lingering_close`).
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// An upgraded (101) exchange: the backend connection, handed from the
/// forwarder to the client connection, which tunnels bytes both ways.
#[derive(Clone)]
pub(crate) struct Tunnel(Arc<Mutex<Option<(Connection, crate::backend::InFlight)>>>);

impl Tunnel {
    pub(crate) fn new(connection: Connection, guard: crate::backend::InFlight) -> Tunnel {
        Tunnel(Arc::new(Mutex::new(Some((connection, guard)))))
    }

    fn take(&self) -> Option<(Connection, crate::backend::InFlight)> {
        self.0.lock().ok()?.take()
    }
}

/// Serves HTTP/1 requests on `io` until the client closes, asks to close,
/// the connection is told to go while it waits (evicted to make room, or
/// the server stopping), or no byte moves for the idle timeout. `buffer`
/// holds bytes already read. A client that opens with the HTTP/2 preface
/// gets its stream and bytes back, for an HTTP/2 server.
///
/// A head must arrive whole within the header timeout, counted from its
/// first byte (for the first request, from `accepted`). A head that comes
/// in one read never touches a timer: only a partial one arms the deadline.
///
/// Not an `async fn`: one keeps each argument twice in its future
/// (rust-lang/rust#62958), and this future is every connection's task.
pub(crate) fn serve<'a, I>(
    io: I,
    mut buffer: BytesMut,
    proxy: Arc<Proxy>,
    peer: Peer,
    ticket: &'a Ticket,
    accepted: Instant,
) -> impl Future<Output = io::Result<Option<(I, BytesMut)>>> + Send + 'a
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'a,
{
    let header_timeout = proxy.header_timeout();
    // Until the first head, silence is timed by the header timeout (the
    // head's clock started at the accept); then by the idle timeout.
    // Made here, not in the future: the stream it wraps would stay there too.
    let mut io = Idle::metered(io, header_timeout);
    async move {
        // Lent per response; see `crate::buffers`.
        let mut out = Vec::new();
        let mut first = true;
        // Registered once, so waiting for the next request costs no new registration.
        let mut signalled = pin!(ticket.signalled());
        signalled.as_mut().enable();
        // Made for the first partial head, then moved for later ones.
        let mut deadline: Option<Pin<Box<Sleep>>> = None;
        loop {
            // Whether this head's deadline is armed.
            let mut timed = false;
            let head = loop {
                let h2 =
                    first && H2_PREFACE.starts_with(&buffer[..buffer.len().min(H2_PREFACE.len())]);
                // The parse result lives in this block only: kept across an
                // await, it would take its room in every connection's task.
                let refused = {
                    let parsed = match (h2, buffer.len() >= H2_PREFACE.len()) {
                        (true, true) => return Ok(Some((io.into_inner(), buffer))),
                        (true, false) => Ok(None),
                        (false, _) if buffer.is_empty() => Ok(None),
                        (false, _) => request::parse(&mut buffer),
                    };
                    match parsed {
                        Ok(Some(head)) => break head,
                        Ok(None) => None,
                        Err(refusal) => Some((refusal.status, refusal.why)),
                    }
                };
                if let Some((status, why)) = refused {
                    // Boxed, as is every rare path: its room is not the task's.
                    Box::pin(refuse(&mut io, status, why, &mut out, &mut buffer)).await?;
                    Box::pin(linger(&mut io)).await;
                    return Ok(None);
                }
                let idle = buffer.is_empty();
                if idle && ticket.stopping() {
                    return Ok(None);
                }
                if !idle && !timed {
                    // The first byte just arrived (or, for the first request, the clock started at the accept).
                    let at = if first { accepted } else { Instant::now() } + header_timeout;
                    match &mut deadline {
                        Some(sleep) => sleep.as_mut().reset(at),
                        None => deadline = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                    timed = true;
                }
                let read = poll_fn(|cx| {
                    // Idle, the connection holds a buffer only for the poll.
                    buffers::lend(&mut buffer, READ_SIZE);
                    if let Poll::Ready(read) = pin!(io.read_buf(&mut buffer)).poll(cx) {
                        return Poll::Ready(Some(read));
                    }
                    buffers::give_back(&mut buffer);
                    if let Some(sleep) = deadline.as_mut().filter(|_| timed) {
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Some(Err(io::ErrorKind::TimedOut.into())));
                        }
                    }
                    // A fresh registration is polled at once, so no signal falls between two.
                    while signalled.as_mut().poll(cx).is_ready() {
                        signalled.set(ticket.signalled());
                        // Evicted: close whatever the state. Stopping: only an
                        // idle connection closes; a half-read head is finished.
                        if ticket.evicted() || (idle && ticket.stopping()) {
                            return Poll::Ready(None);
                        }
                    }
                    Poll::Pending
                });
                match read.await {
                    None | Some(Ok(0)) => return Ok(None),
                    Some(Ok(_)) => {}
                    // An idle keep-alive connection just closes; a head that
                    // stopped arriving, or took too long, is answered (nginx's
                    // `client_header_timeout`).
                    Some(Err(error)) if error.kind() == io::ErrorKind::TimedOut && !idle => {
                        warn_throttled!(
                            SLOW_HEAD,
                            client = %peer.addr,
                            timeout_s = header_timeout.as_secs_f32(),
                            "request head not complete in time; answered 408"
                        );
                        let why = "The request took too long to arrive.";
                        Box::pin(refuse(
                            &mut io,
                            StatusCode::REQUEST_TIMEOUT,
                            why,
                            &mut out,
                            &mut buffer,
                        ))
                        .await?;
                        let _ = io.shutdown().await;
                        return Ok(None);
                    }
                    Some(Err(error)) if error.kind() == io::ErrorKind::TimedOut => return Ok(None),
                    Some(Err(error)) => return Err(error),
                }
            };
            ticket.busy();
            if first {
                first = false;
                if header_timeout != proxy.idle_timeout() {
                    io.set_timeout(proxy.idle_timeout());
                }
            }
            // One request's work, boxed: forwarding and writing the response
            // are most of what a connection's task would hold, and a
            // keep-alive connection waiting for its next request should not
            // carry that room (one allocation per request, from the thread's
            // cache). The head moves in whole: a head moved out of field by
            // field keeps its room in the task. Idle, the task is only the
            // wait above.
            let exchange = Box::pin(async {
                let head = head;
                let asked = Asked::of(&head.parts.method, head.parts.version, head.keep_alive);
                let (body, mut pump) =
                    feed::channel(head.body, head.declared, head.expects_continue);
                if pump.is_some() && proxy.min_body_rate() > 0 {
                    io.set_floor(Some(Floor {
                        start: Instant::now(),
                        grace: header_timeout,
                        rate: proxy.min_body_rate(),
                        received: 0,
                    }));
                }
                let request = Request::from_parts(head.parts, body);
                let response = match pump.as_mut() {
                    None => proxy.handle(request, &peer).await,
                    Some(pump) => {
                        let mut handled = pin!(proxy.handle(request, &peer));
                        poll_fn(|cx| {
                            if let Poll::Ready(response) = handled.as_mut().poll(cx) {
                                return Poll::Ready(response);
                            }
                            let _ = pump.poll(cx, &mut io, &mut buffer);
                            Poll::Pending
                        })
                        .await
                    }
                };
                if io.has_floor() {
                    // The body is read, or will not be: the response is not held to a rate.
                    io.set_floor(None);
                }
                // A body left unread leaves the connection at an unknown place.
                let body_read = pump.as_ref().is_none_or(feed::Pump::complete);
                let asked = Asked {
                    keep_alive: asked.keep_alive && body_read,
                    ..asked
                };
                let kept = write_response(&mut io, response, asked, &mut out, &mut buffer).await?;
                io::Result::Ok((kept, body_read))
            });
            let (kept, body_read) = exchange.await?;
            if !kept {
                if body_read {
                    let _ = io.shutdown().await;
                } else {
                    Box::pin(linger(&mut io)).await;
                }
                return Ok(None);
            }
            // Waiting for the next request, it holds no buffer (unless one was
            // pipelined behind this one).
            buffers::give_back(&mut buffer);
            buffers::give_back_write(&mut out);
            ticket.waiting();
        }
    }
}

/// Heads that did not arrive in time, logged at most once a second.
static SLOW_HEAD: Throttle = Throttle::new("request head too slow");

/// Answers a request that will not be served with the proxy's own page,
/// asking the client to close.
async fn refuse<I>(
    io: &mut Idle<I, Option<Floor>>,
    status: StatusCode,
    why: &str,
    out: &mut Vec<u8>,
    buffer: &mut BytesMut,
) -> io::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let page = pages::error(status, why);
    let asked = Asked::of(&http::Method::GET, http::Version::HTTP_11, false);
    write_response(io, page, asked, out, buffer).await?;
    Ok(())
}

/// Writes `response`; returns whether the connection may carry another request.
async fn write_response<I>(
    io: &mut Idle<I, Option<Floor>>,
    response: Response<ProxyBody>,
    asked: Asked,
    out: &mut Vec<u8>,
    buffer: &mut BytesMut,
) -> io::Result<bool>
where
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut parts, mut body) = response.into_parts();
    let exact = body.size_hint().exact();
    buffers::lend_write(out);
    out.clear();
    let (sending, keep_alive) = response::encode(parts.status, &parts.headers, exact, asked, out);
    if parts.status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some((connection, guard)) = parts
            .extensions
            .remove::<Tunnel>()
            .and_then(|tunnel| tunnel.take())
        {
            io.write_all(out).await?;
            // Tunnels may idle (a quiet websocket); the drain timeout ends them at a switch.
            tunnel(io.get_mut(), buffer, connection).await;
            drop(guard);
        }
        return Ok(false);
    }
    let mut body = Pin::new(&mut body);
    let mut written: u64 = 0;
    let mut head_sent = false;
    loop {
        if sending == Sending::Nothing {
            break;
        }
        // The head waits for the first piece of body only if it is already there.
        let frame = if head_sent {
            poll_fn(|cx| body.as_mut().poll_frame(cx)).await
        } else {
            match poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    io.write_all(out).await?;
                    io.flush().await?;
                    out.clear();
                    head_sent = true;
                    continue;
                }
            }
        };
        let data = match frame {
            None => break,
            Some(Err(error)) => {
                // Cut short: the client must see a broken body, not a short one.
                tracing::debug!(%error, "response body broke off");
                if !head_sent {
                    io.write_all(out).await?;
                }
                return Ok(false);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if !data.is_empty() => data,
                _ => continue,
            },
        };
        written += data.len() as u64;
        if let Sending::Length(length) = sending {
            if written > length {
                tracing::warn!(length, "response body longer than its Content-Length; cut");
                if !head_sent {
                    io.write_all(out).await?;
                }
                return Ok(false);
            }
        }
        if sending == Sending::Chunked {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{:x}\r\n", data.len());
        }
        send(io, out, &data).await?;
        if sending == Sending::Chunked {
            out.extend_from_slice(b"\r\n");
        }
        head_sent = true;
        if !body.is_end_stream() && !out.is_empty() {
            // More is coming but maybe not soon: what is ready goes now.
            io.write_all(out).await?;
            out.clear();
        }
    }
    if sending == Sending::Chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await?;
    let complete = match sending {
        Sending::Length(length) => written == length,
        _ => true,
    };
    Ok(keep_alive && complete)
}

/// Sends `out` (what is pending) and `data`: in one write when small.
async fn send<I>(io: &mut I, out: &mut Vec<u8>, data: &Bytes) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    if data.len() <= COALESCE {
        out.extend_from_slice(data);
        return Ok(());
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.write_all(data).await
}

/// Copies bytes both ways after a 101, starting with whatever each side
/// sent right behind its head.
async fn tunnel<I>(client: &mut I, buffer: &mut BytesMut, mut backend: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    if !buffer.is_empty() {
        if backend.stream.get_mut().write_all(buffer).await.is_err() {
            return;
        }
        buffer.clear();
    }
    if !backend.buffer.is_empty() {
        if client.write_all(&backend.buffer).await.is_err() {
            return;
        }
        backend.buffer.clear();
    }
    if let Err(error) = tokio::io::copy_bidirectional(client, backend.stream.get_mut()).await {
        tracing::debug!(%error, "tunnel ended with an error");
    }
}

/// Closes after reading and dropping what the client still sends, briefly.
async fn linger<I>(io: &mut I)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let _ = io.flush().await;
    let _ = io.shutdown().await;
    let drain = async {
        // On the heap: an array here would sit in every connection's
        // future, idle or not, for this rare path.
        let mut sink = vec![0u8; 8 * 1024];
        let mut total = 0;
        while total < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(count) => total += count,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}
