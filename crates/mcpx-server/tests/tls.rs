#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! TLS and HTTP/2: the server terminates TLS itself (a certificate made by rcgen) and ALPN picks
//! h2 or http/1.1; without TLS it speaks h2c with prior knowledge. Each runs a real MCP session
//! (initialize, tools/call). Bad certificate files are refused with a message naming the file.
//! Loopback only, every test bounded.

mod hardening_support;

use std::sync::Arc;

use hardening_support::{BOUND, Conn, Gate, call, handlers, start};
use mcpx_server::{Server, TlsConfig};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

/// A TLS client trusting `ca_pem` and offering `alpn`; returns the stream and the protocol
/// the server chose.
async fn connect(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>) {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (tls, alpn)
}

/// A session and an `echo` call on `conn`.
async fn exercise(conn: &Conn, text: &str) {
    let sid = conn.initialize().await;
    let r = conn.post(&call(1, "echo", text), Some(&sid)).await.unwrap();
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.text());
    assert_eq!(r.tool_text(), text);
}

#[tokio::test]
async fn tls_alpn_h2_and_http1() {
    tokio::time::timeout(BOUND, async {
        let (cert, key) = certificate();
        let tls = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let gate = Gate::default();
        let mut running = start(Server::builder().handlers(handlers(&gate)).tls(tls)).await;

        let (stream, alpn) = connect(running.addr, &cert, &[b"h2", b"http/1.1"]).await;
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "h2 is preferred");
        let h2 = Conn::h2(stream).await;
        exercise(&h2, "over h2").await;

        let (stream, alpn) = connect(running.addr, &cert, &[b"http/1.1"]).await;
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        let h1 = Conn::h1(stream).await;
        exercise(&h1, "over http/1.1").await;

        // A client that offers no ALPN gets HTTP/1.1 too.
        let (stream, alpn) = connect(running.addr, &cert, &[]).await;
        assert_eq!(alpn, None);
        exercise(&Conn::h1(stream).await, "no alpn").await;

        // Plain HTTP on the TLS port is not served.
        let plain = Conn::tcp_h1(running.addr).await;
        assert!(
            plain
                .send(hardening_support::get("/healthz", None))
                .await
                .is_err(),
            "plain HTTP answered on the TLS port"
        );
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn h2c_prior_knowledge_without_tls() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(Server::builder().handlers(handlers(&gate))).await;
        let h2 = Conn::tcp_h2(running.addr).await;
        exercise(&h2, "h2c").await;
        // Many concurrent streams on the one connection.
        let sid = h2.initialize().await;
        let calls = (0..64).map(|i| {
            let h2 = h2.clone();
            let sid = sid.clone();
            async move {
                let r = h2
                    .post(&call(100 + i, "echo", &format!("n{i}")), Some(&sid))
                    .await
                    .unwrap();
                assert_eq!(r.tool_text(), format!("n{i}"));
            }
        });
        futures_join_all(calls).await;
        exercise(&Conn::tcp_h1(running.addr).await, "h1 on the same port").await;
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

/// Joins futures without a futures-util dependency: one task each.
async fn futures_join_all<F>(futs: impl IntoIterator<Item = F>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[test]
fn bad_pem_files_are_named_in_the_error() {
    let dir = std::env::temp_dir().join(format!("mcpx-server-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let junk = dir.join("junk.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    std::fs::write(&junk, "not a pem file\n").unwrap();

    assert!(TlsConfig::from_pem_files(&cert_path, &key_path).is_ok());
    let missing = dir.join("missing.pem");
    let e = TlsConfig::from_pem_files(&missing, &key_path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.pem") && e.contains("certificate"),
        "{e}"
    );
    let e = TlsConfig::from_pem_files(&junk, &key_path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.pem"), "{e}");
    let e = TlsConfig::from_pem_files(&cert_path, &junk)
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.pem") && e.contains("key"), "{e}");
    // A key that does not belong to the certificate.
    let (_, other_key) = certificate();
    let other = dir.join("other-key.pem");
    std::fs::write(&other, other_key).unwrap();
    let e = TlsConfig::from_pem_files(&cert_path, &other)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other-key.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
