//! HTTP health probes against a process on loopback.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// One probe may take this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// GETs `url` once; `Ok` on 2xx, else what went wrong.
pub async fn probe(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|error| format!("bad health URL `{url}`: {error}"))?;
    // A fresh connection per probe: a pooled one could hide a process that stopped accepting.
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    match tokio::time::timeout(PROBE_TIMEOUT, client.get(uri)).await {
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("answered {}", response.status())),
        Ok(Err(error)) => Err(format!("failed: {}", root_cause(&error))),
        Err(_) => Err(format!(
            "did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
