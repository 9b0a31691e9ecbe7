#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! TLS: mcpx-client over `https://` to an in-process mcpx-server behind a loopback TLS
//! terminator (rustls, ALPN h2 and http/1.1, a self-signed certificate made by rcgen). A CA added
//! with `ca_pem` (`--cacert`) is trusted, an unknown one is a typed TLS error, and
//! `dangerous_accept_invalid_certs` (`--insecure`) skips verification.

use std::sync::Arc;
use std::time::Duration;

use mcpx_client::{Client, ClientOptions, EraChoice, Error, HttpVersion, ProtocolVersion};
use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

#[derive(Deserialize)]
struct Text {
    text: String,
}

/// Starts mcpx-server on plain TCP and a TLS terminator in front of it; returns the TLS port and
/// the certificate PEM.
async fn start() -> (u16, String) {
    let mut h = Handlers::new();
    h.tool(ToolDef::new("echo"), |_ctx, Text { text }| async move {
        Ok(ToolResult::text(text))
    });
    let server = Server::builder().handlers(h).build().unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = plain.local_addr().unwrap();
    tokio::spawn(server.serve(plain, std::future::pending()));

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let der = cert.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tls.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = tls.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                // h2 after ALPN reaches the backend as h2 with prior knowledge, which it serves.
                let mut up = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (port, pem)
}

fn opts(version: HttpVersion) -> ClientOptions {
    let mut o = ClientOptions::new();
    o.http_version(version)
        .era(EraChoice::Session(ProtocolVersion::V2025_11_25))
        .request_timeout(Duration::from_secs(10));
    o
}

#[tokio::test]
async fn https_with_cacert_insecure_and_unknown_ca() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (port, pem) = start().await;
        let url = format!("https://localhost:{port}/mcp");
        for version in [HttpVersion::Auto, HttpVersion::Http1, HttpVersion::Http2] {
            let mut o = opts(version);
            o.ca_pem(pem.clone().into_bytes());
            let s = Client::connect(&url, o)
                .await
                .unwrap_or_else(|e| panic!("{version:?}: {e}"));
            assert_eq!(
                s.call_tool("echo", &json!({"text": "tls"}))
                    .await
                    .unwrap()
                    .text,
                "tls"
            );
            s.close().await.unwrap();
        }
        let e = Client::connect(&url, opts(HttpVersion::Auto))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Tls(_)), "{e:?}");
        let mut o = opts(HttpVersion::Auto);
        o.dangerous_accept_invalid_certs(true);
        let s = Client::connect(&url, o).await.unwrap();
        assert_eq!(
            s.call_tool("echo", &json!({"text": "insecure"}))
                .await
                .unwrap()
                .text,
            "insecure"
        );
        let mut o = opts(HttpVersion::Auto);
        o.ca_pem(b"not a pem".to_vec());
        assert!(matches!(Client::new(o), Err(Error::Tls(_))));
    })
    .await
    .unwrap();
}
