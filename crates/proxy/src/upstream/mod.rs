//! HTTP/1.1 to the backends, spoken by the task that serves the client.
//!
//! Why not hyper's client: it drives each backend connection from a task of
//! its own and hands every request, response and body chunk across channels.
//! On one core those wake-ups cost more than the parsing (hoist's proxy spent
//! 32 µs of CPU per request against nginx's 25). Here the client's task
//! writes the request, reads the answer and streams the body straight off the
//! socket, as nginx's event loop does. The client side is hoist's own too
//! ([`crate::h1`]) for HTTP/1; hyper serves HTTP/2 clients.
//!
//! Errors are classified by side (pingora's rule): a client whose body
//! breaks is not the backend's fault, and only a request that provably did
//! not reach the backend, or an idempotent one, is retried.

mod body;
pub(crate) mod head;

pub(crate) use body::UpstreamBody;

use crate::body::{BoxError, ProxyBody};
use crate::idle::Idle;
use crate::{Backend, Settings};
use bytes::{Bytes, BytesMut};
use head::{ResponseHead, Sending};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to a backend, with what was read past the last
/// response (nothing, when it is clean).
#[derive(Debug)]
pub(crate) struct Connection {
    /// Silence on it is timed: `response_timeout` while the request goes
    /// out and the head comes back, `idle_timeout` while the body streams.
    pub(crate) stream: Idle<TcpStream>,
    pub(crate) buffer: BytesMut,
    /// Came from the pool: the backend may have closed it meanwhile.
    pub(crate) reused: bool,
}

/// What the backend answered.
pub(crate) enum Answer {
    /// An ordinary response; its body streams from the backend.
    Response(Response<UpstreamBody>),
    /// 101 Switching Protocols: the backend's end of the tunnel, holding in
    /// its buffer any bytes the backend sent past the head.
    Switched(http::response::Parts, Connection),
}

/// Why a request got no answer, by side.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// No connection could be made (nothing listens, or too slow).
    Connect(String),
    /// The backend connection failed, or closed before a whole answer.
    Backend(io::Error),
    /// The backend answered something that is not HTTP/1.1.
    BadResponse(String),
    /// The client's request body failed (too large, or the client left).
    Client(BoxError),
}

impl UpstreamError {
    /// The status the client gets.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            UpstreamError::Client(error) if error.is::<http_body_util::LengthLimitError>() => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            UpstreamError::Client(_) if self.timed_out() => StatusCode::REQUEST_TIMEOUT,
            UpstreamError::Client(_) => StatusCode::BAD_REQUEST,
            _ if self.timed_out() => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// The backend's side failed, not the client's.
    pub(crate) fn is_backend_side(&self) -> bool {
        !matches!(self, UpstreamError::Client(_))
    }

    /// The side in question went silent for its whole timeout.
    fn timed_out(&self) -> bool {
        let kind = match self {
            UpstreamError::Backend(error) => Some(error.kind()),
            UpstreamError::Client(error) => error.downcast_ref::<io::Error>().map(io::Error::kind),
            _ => None,
        };
        kind == Some(io::ErrorKind::TimedOut)
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(message) => write!(f, "connect: {message}"),
            UpstreamError::Backend(error) => write!(f, "backend connection: {error}"),
            UpstreamError::BadResponse(message) => write!(f, "backend response: {message}"),
            UpstreamError::Client(error) => write!(f, "client request body: {error}"),
        }
    }
}

/// Sends a request from `peer` (origin-form target, hop-by-hop headers gone,
/// forwarding headers added on the way out) to
/// `backend` on a pooled connection and reads the response head. A request
/// that failed on a reused connection before any answer is sent again once
/// on a fresh one, when that is safe.
///
/// The response timeout counts silence, as nginx's `proxy_read_timeout`
/// and `proxy_send_timeout` do: an upload the app keeps taking may run
/// past it; an app that takes nothing and says nothing for that long
/// gets the client a 504.
#[allow(clippy::manual_async_fn)] // on purpose: see `Proxy::route`
pub(crate) fn exchange<'a>(
    backend: &'a Arc<Backend>,
    parts: http::request::Parts,
    body: Option<ProxyBody>,
    peer: &'a crate::Peer,
    settings: &'a Settings,
) -> impl std::future::Future<Output = Result<Answer, UpstreamError>> + 'a {
    // Not an `async fn`: see `Proxy::route`.
    async move {
        let connect_timeout = settings.connect_timeout;
        let sending = Sending::choose(&parts.headers, body.is_none());
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |target| target.as_str());
        let head = head::encode_request(&parts.method, target, &parts.headers, sending, peer);
        let had_body = body.is_some();
        let mut body = body;
        let mut connection = backend
            .pool()
            .checkout(backend.addr(), connect_timeout)
            .await?;
        let (response, sent_whole) = loop {
            connection.stream.set_timeout(settings.response_timeout);
            match attempt(&mut connection, &head, &mut body, sending, &parts.method).await {
                Ok(answered) => break answered,
                Err(failure) => {
                    // The backend closing an idle connection races our reuse of
                    // it; such a request never reached the app if nothing of it
                    // was written, and is harmless to repeat if idempotent.
                    let safe = failure.unsent || parts.method.is_idempotent();
                    let body_intact = !had_body || body.is_some();
                    // A backend that took too long is not asked again.
                    let timed_out = failure.error.timed_out();
                    if connection.reused
                        && failure.before_answer
                        && safe
                        && body_intact
                        && !timed_out
                    {
                        connection = crate::pool::connect(backend.addr(), connect_timeout).await?;
                        continue;
                    }
                    return Err(failure.error);
                }
            }
        };
        if response.parts.status == StatusCode::SWITCHING_PROTOCOLS {
            return Ok(Answer::Switched(response.parts, connection));
        }
        let reusable = response.keep_alive && sent_whole;
        let body = UpstreamBody::new(
            connection,
            response.framing,
            reusable,
            backend.clone(),
            settings.idle_timeout,
        );
        Ok(Answer::Response(Response::from_parts(response.parts, body)))
    }
}

/// One try on one connection.
struct Failure {
    error: UpstreamError,
    /// Nothing of the request was written.
    unsent: bool,
    /// No byte of an answer arrived.
    before_answer: bool,
}

impl Failure {
    fn backend(error: io::Error, unsent: bool, before_answer: bool) -> Failure {
        Failure {
            error: UpstreamError::Backend(error),
            unsent,
            before_answer,
        }
    }
}

/// Writes the head, then the body while reading the answer (a backend may
/// answer before taking the whole body, as with an early 413). Returns the
/// response head and whether the request was written whole.
async fn attempt(
    connection: &mut Connection,
    head: &Bytes,
    body: &mut Option<ProxyBody>,
    sending: Sending,
    method: &Method,
) -> Result<(ResponseHead, bool), Failure> {
    if let Err(error) = connection.stream.write_all(head).await {
        return Err(Failure::backend(error, true, true));
    }
    let Some(body) = body.take() else {
        let response = read_head(&mut connection.stream, &mut connection.buffer, method).await?;
        return Ok((response, true));
    };
    // Boxed: its state is large and most requests have no body, so it
    // should not weigh on every request's future (moved around by value).
    Box::pin(duplex(connection, body, sending, method)).await
}

/// Sends `body` while reading the response head.
async fn duplex(
    connection: &mut Connection,
    body: ProxyBody,
    sending: Sending,
    method: &Method,
) -> Result<(ResponseHead, bool), Failure> {
    // Both halves share the connection's timer: bytes moving either way
    // count, so a long upload the app keeps reading is not a timeout.
    let (mut reader, mut writer) = tokio::io::split(&mut connection.stream);
    let send = send_body(&mut writer, body, sending == Sending::Chunked);
    let read = read_head(&mut reader, &mut connection.buffer, method);
    tokio::pin!(send, read);
    let mut sent: Option<io::Result<()>> = None;
    loop {
        tokio::select! {
            biased;
            response = &mut read => {
                let sent_whole = matches!(sent, Some(Ok(())));
                return match (response, sent.take()) {
                    (Ok(response), _) => Ok((response, sent_whole)),
                    // The backend hung up on the body: that write error says more.
                    (Err(failure), Some(Err(error))) => {
                        Err(Failure::backend(error, false, failure.before_answer))
                    }
                    (Err(failure), _) => Err(failure),
                };
            }
            result = &mut send, if sent.is_none() => match result {
                Err(BodyFailure::Client(error)) => {
                    return Err(Failure { error: UpstreamError::Client(error), unsent: false, before_answer: true });
                }
                Err(BodyFailure::Backend(error)) => sent = Some(Err(error)),
                Ok(()) => sent = Some(Ok(())),
            },
        }
    }
}

/// Reads one final response head, skipping interim 1xx answers (but not 101).
async fn read_head<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    method: &Method,
) -> Result<ResponseHead, Failure> {
    let mut answered = !buffer.is_empty();
    loop {
        if !buffer.is_empty() {
            match head::parse_response(buffer, method) {
                Ok(Some(response))
                    if response.parts.status.is_informational()
                        && response.parts.status != StatusCode::SWITCHING_PROTOCOLS =>
                {
                    continue
                }
                Ok(Some(response)) => return Ok(response),
                Ok(None) => {}
                Err(bad) => {
                    return Err(Failure {
                        error: UpstreamError::BadResponse(bad.to_string()),
                        unsent: false,
                        before_answer: false,
                    })
                }
            }
        }
        crate::buffers::lend(buffer, 8 * 1024);
        match reader.read_buf(buffer).await {
            Ok(0) => {
                let error = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the backend closed the connection before a whole response head",
                );
                return Err(Failure::backend(error, false, !answered));
            }
            Ok(_) => answered = true,
            Err(error) => return Err(Failure::backend(error, false, !answered)),
        }
    }
}

/// Why a request body could not be written.
enum BodyFailure {
    Client(BoxError),
    Backend(io::Error),
}

/// Copies the client's body to the backend, chunk-encoding it when its length is unknown.
async fn send_body<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut body: ProxyBody,
    chunked: bool,
) -> Result<(), BodyFailure> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyFailure::Client)?;
        // Trailers are dropped, as nginx does: backends rarely read them.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            let size = format!("{:x}\r\n", data.len());
            writer
                .write_all(size.as_bytes())
                .await
                .map_err(BodyFailure::Backend)?;
            writer
                .write_all(&data)
                .await
                .map_err(BodyFailure::Backend)?;
            writer
                .write_all(b"\r\n")
                .await
                .map_err(BodyFailure::Backend)?;
        } else {
            writer
                .write_all(&data)
                .await
                .map_err(BodyFailure::Backend)?;
        }
    }
    if chunked {
        writer
            .write_all(b"0\r\n\r\n")
            .await
            .map_err(BodyFailure::Backend)?;
    }
    writer.flush().await.map_err(BodyFailure::Backend)
}
