//! The post-restart health check: an HTTP GET that must answer 2xx.

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// One attempt may take this long before it counts as a failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between attempts while the app is still coming up.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// Polls `url` until it answers 2xx or `within` has passed; the error names
/// the last status or connection error seen.
pub(crate) fn wait_healthy(url: &str, within: Duration) -> Result<(), String> {
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
            let last = match tokio::time::timeout(ATTEMPT_TIMEOUT, client.get(uri.clone())).await {
                Ok(Ok(response)) if response.status().is_success() => return Ok(()),
                Ok(Ok(response)) => format!("answered {}", response.status()),
                Ok(Err(error)) => format!("failed: {}", error_chain(&error)),
                Err(_) => format!("did not answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
            };
            if Instant::now() + RETRY_EVERY >= deadline {
                return Err(format!(
                    "health check `{url}` {last} (gave up after {}s)",
                    within.as_secs_f32()
                ));
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    })
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
