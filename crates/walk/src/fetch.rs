//! One GET of the walk, bounded in time and in how much of the body it
//! reads; an HTML answer is parsed for its links at once (the parsed
//! document never crosses an await).

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use url::Url;

/// The most of a page the walk reads for links; a bigger page is checked
/// (its status counts) and its first 4 MiB read, but its links past that
/// are not followed, and the report says so.
pub const MAX_PAGE_BYTES: usize = 4 << 20;

/// The walk's HTTP client: plain HTTP/1.1, connections kept alive.
pub(crate) type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A client for one walk.
pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// What one GET answered.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The status code.
    pub(crate) status: u16,
    /// A redirect's `Location`, resolved, fragment dropped.
    pub(crate) redirect: Option<Url>,
    /// For an HTML page read for links, every link on it (resolved,
    /// fragments dropped).
    pub(crate) links: Vec<Url>,
    /// The page was bigger than [`MAX_PAGE_BYTES`]: only its start was read.
    pub(crate) cut: bool,
}

/// GETs `url` with `headers` within `timeout`; reads the body for links
/// when `read_links` and the answer is a successful HTML page. `Err` says
/// why there was no answer.
pub(crate) async fn get(
    client: &HttpClient,
    url: &Url,
    headers: &[(String, String)],
    timeout: Duration,
    read_links: bool,
) -> Result<Fetched, String> {
    let request = build(url, headers)?;
    let answered = tokio::time::timeout(timeout, async {
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("no answer: {}", describe(&error)))?;
        let status = response.status().as_u16();
        let mut links = Vec::new();
        let redirect = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|location| url.join(location).ok())
            .map(|mut target| {
                target.set_fragment(None);
                target
            });
        let mut cut = false;
        let html = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("text/html"));
        if read_links && html && response.status().is_success() {
            let (body, over) = read_capped(response.into_body()).await;
            cut = over;
            let text = String::from_utf8_lossy(&body).into_owned();
            links.extend(crate::links(url, &text));
        }
        Ok(Fetched {
            status,
            redirect,
            links,
            cut,
        })
    })
    .await;
    answered.unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs_f32())))
}

/// The body's first [`MAX_PAGE_BYTES`], and whether there was more (the
/// rest is not read: the connection is dropped instead of drained). A
/// body that breaks off mid-way gives what arrived.
async fn read_capped(mut body: hyper::body::Incoming) -> (Vec<u8>, bool) {
    let mut read = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let room = MAX_PAGE_BYTES - read.len();
        if data.len() > room {
            read.extend_from_slice(&data[..room]);
            return (read, true);
        }
        read.extend_from_slice(&data);
    }
    (read, false)
}

fn build(url: &Url, headers: &[(String, String)]) -> Result<hyper::Request<Empty<Bytes>>, String> {
    let mut request = hyper::Request::get(url.as_str())
        .header(hyper::header::USER_AGENT, "hoist-walk")
        .header(hyper::header::ACCEPT, "text/html,*/*;q=0.8");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
        .body(Empty::new())
        .map_err(|error| format!("cannot request `{url}`: {error}"))
}

/// The innermost cause of a client error (hyper's outer message is "client error (Connect)").
fn describe(error: &dyn std::error::Error) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}
