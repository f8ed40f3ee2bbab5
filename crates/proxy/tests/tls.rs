//! TLS session resumption through a real listener: how many session tickets
//! a handshake sends, and that a client resumes with one.

mod common;

use hoist_proxy::{Settings, Tls};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::{ClientSessionMemoryCache, ClientSessionStore};

/// A client's session store that counts the TLS 1.3 tickets it is given.
#[derive(Debug)]
struct CountingStore {
    inner: ClientSessionMemoryCache,
    tickets: AtomicUsize,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, name: rustls_pki_types::ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(name, group);
    }

    fn kx_hint(&self, name: &rustls_pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(name)
    }

    fn set_tls12_session(
        &self,
        name: rustls_pki_types::ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, value);
    }

    fn tls12_session(
        &self,
        name: &rustls_pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &rustls_pki_types::ServerName<'static>) {
        self.inner.remove_tls12_session(name);
    }

    fn insert_tls13_ticket(
        &self,
        name: rustls_pki_types::ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(name, value);
    }

    fn take_tls13_ticket(
        &self,
        name: &rustls_pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

/// A TLS proxy on 127.0.0.1:0 in front of a backend answering "ok", with
/// the self-signed certificate it serves.
async fn tls_proxy() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    rustls_pki_types::CertificateDer<'static>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let settings = Settings {
        tls: Some(Tls::from_pem_files(&cert, &key).unwrap()),
        ..Settings::default()
    };
    let backend = common::hyper_backend(|_| async {
        Ok(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"ok"),
        )))
    })
    .await;
    let (address, stop) = common::proxy_to(backend, settings).await;
    (address, stop, certified.cert.der().clone())
}

/// A client trusting `cert`, keeping its sessions in `store`.
fn client(
    cert: &rustls_pki_types::CertificateDer<'static>,
    store: Arc<CountingStore>,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::store(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn counting_store() -> Arc<CountingStore> {
    Arc::new(CountingStore {
        inner: ClientSessionMemoryCache::new(8),
        tickets: AtomicUsize::new(0),
    })
}

/// One GET over a new TLS connection, read to the end (tickets come after
/// the handshake, so only a read takes them in); whether it was resumed.
async fn get(connector: &tokio_rustls::TlsConnector, address: std::net::SocketAddr) -> bool {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    // The proxy closes without close_notify once it answered `connection: close`.
    let _ = tls.read_to_end(&mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok"),
        "{reply}"
    );
    tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
}

// Broke: every handshake sent two TLS 1.3 session tickets (rustls's default,
// for its single-use stateful tickets) where nginx and HAProxy send one.
#[tokio::test]
async fn a_handshake_sends_one_session_ticket_not_two() {
    let (address, _stop, cert) = tls_proxy().await;
    let store = counting_store();
    let connector = client(&cert, store.clone());

    assert!(
        !get(&connector, address).await,
        "the first connection has nothing to resume"
    );
    assert_eq!(store.tickets.load(Ordering::SeqCst), 1);
    assert!(
        get(&connector, address).await,
        "the second connection resumes"
    );
    assert_eq!(store.tickets.load(Ordering::SeqCst), 2);
}

// Broke: sessions lived in rustls's default server cache of 256, so a
// client that came back after 256 others had a full handshake again.
#[tokio::test]
async fn a_client_resumes_after_more_clients_than_the_session_cache_held() {
    let (address, _stop, cert) = tls_proxy().await;
    let first = client(&cert, counting_store());
    assert!(!get(&first, address).await);
    for _ in 0..300 {
        let other = client(&cert, counting_store());
        get(&other, address).await;
    }
    assert!(
        get(&first, address).await,
        "the first client resumes after 300 others"
    );
}

// Broke: a key that was not the certificate's said only "certificate and
// key do not fit together: keys may not be consistent: KeyMismatch", naming
// neither file, and an encrypted key said "no items found".
#[test]
fn a_key_not_the_certificates_named_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("other.pem"));
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
    let problem = Tls::from_pem_files(&cert, &key).unwrap_err();
    assert!(
        problem.contains(&key.display().to_string())
            && problem.contains(&cert.display().to_string())
            && problem.contains("is not the key of the certificate"),
        "{problem}"
    );

    let plain = dir.path().join("key.pem");
    std::fs::write(&plain, one.key_pair.serialize_pem()).unwrap();
    let encrypted = dir.path().join("encrypted.pem");
    let made = std::process::Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(&plain)
        .arg("-out")
        .arg(&encrypted)
        .status()
        .unwrap();
    assert!(made.success());
    let problem = Tls::from_pem_files(&cert, &encrypted).unwrap_err();
    assert!(
        problem.contains(&encrypted.display().to_string()) && problem.contains("unencrypted"),
        "{problem}"
    );
}
