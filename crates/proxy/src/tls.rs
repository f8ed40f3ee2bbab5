//! TLS for the public listener (rustls on aws-lc-rs), with ALPN for HTTP/2
//! and stateless, rotating session tickets.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

/// A TLS acceptor for the public listener; cheap to clone.
#[derive(Clone)]
pub struct Tls(pub(crate) tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Loads a PEM certificate chain and private key; errors name the file.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect())
            .map_err(|error| {
                format!(
                    "cannot read certificates from `{}`: {error}",
                    cert.display()
                )
            })?;
        if certs.is_empty() {
            return Err(format!("`{}` holds no PEM certificate", cert.display()));
        }
        let private_key = PrivateKeyDer::from_pem_file(key).map_err(|error| match error {
            // rustls-pemfile's "no items found": nothing it can use, and an
            // encrypted key is the usual cause.
            rustls::pki_types::pem::Error::NoItemsFound => format!(
                "`{}` holds no unencrypted PEM private key (an encrypted one must be decrypted first: `openssl pkey -in KEY -out KEY`)",
                key.display()
            ),
            error => format!("cannot read the private key `{}`: {error}", key.display()),
        })?;
        // aws-lc-rs, not ring: a full handshake with an RSA-2048 key cost
        // the proxy 589 µs of CPU with ring (1.16× nginx's) and 374 to
        // 395 µs with aws-lc (0.71 to 0.77×), the signature being most of
        // it (`bench/proxy.sh --only tls`, docs/benchmarks.md). aws-lc-sys
        // builds with the C compiler alone on Linux (no cmake, clang, Go).
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, private_key)
            .map_err(|error| match error {
                rustls::Error::InconsistentKeys(_) => format!(
                    "the private key `{}` is not the key of the certificate `{}` (the first one in that file)",
                    key.display(),
                    cert.display()
                ),
                error => format!(
                    "the certificate `{}` and key `{}` cannot be used: {error}",
                    cert.display(),
                    key.display()
                ),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Stateless session tickets, as nginx's default, rather than rustls's
        // default stateful cache: that cache holds 256 sessions behind a
        // mutex, so past 256 recent clients resumption silently fails (a
        // full handshake each), and growing it costs memory per client
        // where a ticket costs none. The ticketer's keys live in memory
        // only, are made at start and rotated every 6 hours (a ticket
        // decrypts for 12), so a stolen ticket key opens at most half a
        // day of sessions; the rotation costs a clock read and an
        // uncontended read lock per ticket.
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|error| format!("cannot make a session ticket key: {error}"))?;
        // One ticket per connection, as nginx and HAProxy send: rustls's
        // default of 2 is for single-use tickets of its stateful cache; a
        // stateless ticket can be used again, and each one more costs an
        // encryption and a record on every handshake, resumed or not.
        config.send_tls13_tickets = 1;
        Ok(Tls(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}
