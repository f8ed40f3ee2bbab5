//! The post-restart health check: an HTTP GET that must answer 2xx, and
//! whose answer the caller judges (see [`crate::proof`]): a 2xx from the
//! old code is not yet health.

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// One attempt may take this long before it counts as a failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between attempts while the app is still coming up.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// What a 2xx answer shows.
pub(crate) enum Judged {
    /// It is what should answer; the warning says what could not be proven.
    Accept(Option<String>),
    /// Not yet: keep polling; this is the error if time runs out.
    NotYet(String),
}

/// Polls `url` until it answers 2xx and `judge` accepts the answer, or
/// `within` has passed; returns the judge's warning. The error is the
/// judge's last word, else names the last status or connection error.
pub(crate) fn wait_healthy(
    url: &str,
    within: Duration,
    judge: &dyn Fn(&hyper::HeaderMap) -> Judged,
) -> Result<Option<String>, String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|error| format!("health URL `{url}` is invalid: {error}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the health checker: {error}"))?;
    runtime.block_on(async {
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let deadline = Instant::now() + within;
        loop {
            // One timeout is the operator's (`health_timeout`); name it as theirs.
            let gave_up = || {
                format!(
                    "(kept trying for {}, the `health_timeout`)",
                    jiff::SignedDuration::try_from(within)
                        .map_or_else(|_| format!("{}s", within.as_secs()), |d| format!("{d:#}"))
                )
            };
            // Ok: the check failed; Err: it answered, but the judge said not yet.
            let last = match tokio::time::timeout(ATTEMPT_TIMEOUT, client.get(uri.clone())).await {
                Ok(Ok(response)) if response.status().is_success() => {
                    match judge(response.headers()) {
                        Judged::Accept(warning) => return Ok(warning),
                        Judged::NotYet(problem) => Err(format!("{problem} {}", gave_up())),
                    }
                }
                Ok(Ok(response)) => Ok(format!("answered {}", response.status())),
                Ok(Err(error)) => Ok(format!("failed: {}", connect_failure(&uri, &error))),
                Err(_) => Ok(format!(
                    "left its last request unanswered for {}s",
                    ATTEMPT_TIMEOUT.as_secs()
                )),
            };
            if Instant::now() + RETRY_EVERY >= deadline {
                return Err(match last {
                    Ok(failure) => format!("health check `{url}` {failure} {}", gave_up()),
                    Err(problem) => problem,
                });
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    })
}

/// One health probe of `url` (a fleet's watch, between waves): `Ok` once
/// it answers 2xx within `within`, else why not.
pub fn probe(url: &str, within: Duration) -> Result<(), String> {
    wait_healthy(url, within, &|_| Judged::Accept(None)).map(|_| ())
}

/// A refused connection in words (the client's chain reads "client error
/// (Connect): tcp connect error: Connection refused (os error 111)").
fn connect_failure(uri: &hyper::Uri, error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(error);
    while let Some(error) = cause {
        let refused = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused {
            let port = uri.port_u16().unwrap_or(80);
            let host = uri.host().unwrap_or("?");
            return format!("nothing listens on {host}:{port} (connection refused)");
        }
        cause = error.source();
    }
    error_chain(error)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
