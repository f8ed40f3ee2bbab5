//! A webhook: one POST of the message, generic JSON or Slack's `{"text": …}`.
//!
//! `ureq` (rustls): a blocking client fits a deliverer that does one
//! thing at a time per message, and it speaks https with the rustls the
//! workspace already builds (hyper here has no TLS connector).

use crate::Message;
use std::sync::Arc;
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
    // The crypto provider the whole binary uses (the proxy's, for its
    // faster RSA): named here, as ureq's own default would be ring.
    let tls = ureq::tls::TlsConfig::builder()
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .tls_config(tls)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use std::io::{Read, Write};

    // ureq is built without its ring default: an https webhook must get its
    // crypto provider from `post`, or ureq panics at the first handshake.
    #[test]
    fn an_https_webhook_handshakes_with_the_binarys_crypto_provider() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Not a TLS server: it reads the ClientHello and answers in plain
        // HTTP, so the handshake fails as a handshake, not as a panic.
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut hello = [0; 5];
            stream.read_exact(&mut hello).unwrap();
            assert_eq!(hello[0], 0x16, "a TLS handshake record");
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        });
        let message = Message::now(Event::Deploy, "ok", std::path::Path::new("/srv/shop"));
        let url = format!("https://127.0.0.1:{port}/hook");
        let error = post(&url, false, &message).unwrap_err();
        server.join().unwrap();
        assert!(!error.is_empty());
    }
}
