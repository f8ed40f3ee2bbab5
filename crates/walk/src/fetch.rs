//! One GET of the walk, bounded in time and in how much of the body it
//! reads; an HTML answer is parsed for its links at once (the parsed
//! document never crosses an await).

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use url::Url;

/// The most of a page the walk reads for links; a bigger page is checked
/// (its status counts) but its links past this are not followed.
const MAX_PAGE_BYTES: usize = 4 << 20;

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
    /// Where it leads: a redirect's `Location` and, for an HTML page read
    /// for links, every link on it (resolved, fragments dropped).
    pub(crate) links: Vec<Url>,
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
        if let Some(location) = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|value| value.to_str().ok())
        {
            if let Ok(mut target) = url.join(location) {
                target.set_fragment(None);
                links.push(target);
            }
        }
        let html = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("text/html"));
        if read_links && html && response.status().is_success() {
            let body = Limited::new(response.into_body(), MAX_PAGE_BYTES);
            if let Ok(collected) = body.collect().await {
                let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
                links.extend(crate::links(url, &text));
            }
        }
        Ok(Fetched { status, links })
    })
    .await;
    answered.unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs_f32())))
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
