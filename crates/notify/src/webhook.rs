//! A webhook: one POST of the message, generic JSON or Slack's `{"text": …}`.
//!
//! `ureq` (rustls): a blocking client fits a deliverer that does one
//! thing at a time per message, and it speaks https with the rustls the
//! workspace already builds (hyper here has no TLS connector).

use crate::Message;
use std::time::Duration;

/// How long one try may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// POSTs `message` to `url`; any answer but 2xx is a failure.
pub fn post(url: &str, slack: bool, message: &Message) -> Result<(), String> {
    let body = if slack {
        serde_json::json!({ "text": crate::clean::slack(&message.text()) })
    } else {
        serde_json::to_value(message).expect("messages serialize")
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    agent
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("hoist/", env!("CARGO_PKG_VERSION")))
        .header("idempotency-key", &message.id)
        .send(body.to_string().as_bytes())
        .map(|_| ())
        .map_err(|error| error.to_string())
}
