//! The one outbound HTTP request the resource server makes: fetching a JWKS or asking an
//! introspection endpoint. One connection per request (these are rare: caches sit in front),
//! HTTP/1.1 over TCP or TLS (rustls with the web PKI roots), a deadline over the whole exchange
//! and a cap on the body. Redirects are not followed: the operator names the exact URL.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Why a fetch failed (the message names the URL's host, never a credential).
#[derive(Debug)]
pub(crate) struct FetchError(pub(crate) String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed `http://` or `https://` URL to fetch.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    uri: Uri,
    tls: bool,
    host: String,
    port: u16,
}

impl Target {
    /// Parses `url`; only `http` and `https` with a host are accepted.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("URL {url:?} is not http:// or https://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("URL {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self {
            uri,
            tls,
            host,
            port,
        })
    }

    /// Whether the exchange is protected by TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the host is a loopback name or address (plain http is then no exposure).
    pub(crate) fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// What to send.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) target: &'a Target,
    /// `Content-Type: application/x-www-form-urlencoded` body, for POST.
    pub(crate) form: Option<String>,
    pub(crate) authorization: Option<&'a HeaderValue>,
    pub(crate) max_body: usize,
    pub(crate) timeout: Duration,
}

/// Sends one request and returns the status and the body (at most `max_body` bytes, else an
/// error), all within `timeout`.
pub(crate) async fn fetch(out: Outgoing<'_>) -> Result<(http::StatusCode, Bytes), FetchError> {
    let host = out.target.host.clone();
    match tokio::time::timeout(out.timeout, exchange(out)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError(format!("{host}: no answer in time"))),
    }
}

async fn exchange(out: Outgoing<'_>) -> Result<(http::StatusCode, Bytes), FetchError> {
    let t = out.target;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| FetchError(format!("{}: {what}: {e}", t.host));
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| fail("connect", &e))?;
    let _ = tcp.set_nodelay(true);
    if t.tls {
        let name = rustls::pki_types::ServerName::try_from(t.host.clone())
            .map_err(|e| fail("server name", &e))?;
        let stream = tls_connector()
            .map_err(|e| fail("TLS setup", &e))?
            .connect(name, tcp)
            .await
            .map_err(|e| fail("TLS", &e))?;
        send(stream, out).await
    } else {
        send(tcp, out).await
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn send<S>(io: S, out: Outgoing<'_>) -> Result<(http::StatusCode, Bytes), FetchError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let t = out.target;
    let fail =
        |what: &str, e: &dyn std::fmt::Display| FetchError(format!("{}: {what}: {e}", t.host));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| fail("handshake", &e))?;
    // The connection task ends with the exchange: aborted when this future completes or is
    // dropped at the deadline, so a peer that never closes holds no task or socket.
    let conn = AbortOnDrop(tokio::spawn(conn));
    let path = t
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let authority = t.uri.authority().map_or(t.host.as_str(), |a| a.as_str());
    let mut req = Request::builder()
        .method(out.method)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "mcpx-server");
    if let Some(auth) = out.authorization {
        req = req.header(header::AUTHORIZATION, auth);
    }
    let body = match out.form {
        Some(form) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Bytes::from(form)
        }
        None => Bytes::new(),
    };
    let req = req.body(Full::new(body)).map_err(|e| fail("request", &e))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| fail("request", &e))?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail("body", &e))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > out.max_body {
                return Err(FetchError(format!(
                    "{}: answer larger than {} bytes",
                    t.host, out.max_body
                )));
            }
            buf.extend_from_slice(&data);
        }
    }
    drop(conn);
    Ok((status, buf.freeze()))
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 appendix B).
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_form_encoding() {
        let t = Target::parse("https://auth.example.com/jwks").unwrap();
        assert!(t.is_tls() && !t.is_loopback() && t.port == 443);
        let t = Target::parse("http://127.0.0.1:9/x").unwrap();
        assert!(!t.is_tls() && t.is_loopback() && t.port == 9);
        assert!(Target::parse("http://[::1]:9/x").unwrap().is_loopback());
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("/relative").is_err());
        assert_eq!(form_encode("a b+c/é"), "a+b%2Bc%2F%C3%A9");
    }

    /// A loopback server that answers every connection with `reply` (or nothing, holding the
    /// connection open, when `None`).
    async fn peer(reply: Option<Vec<u8>>) -> Target {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    match reply {
                        Some(r) => {
                            let _ = sock.write_all(&r).await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        Target::parse(&format!("http://{addr}/jwks")).unwrap()
    }

    fn get(target: &Target, max_body: usize, timeout: Duration) -> Outgoing<'_> {
        Outgoing {
            method: Method::GET,
            target,
            form: None,
            authorization: None,
            max_body,
            timeout,
        }
    }

    #[tokio::test]
    async fn fetches_are_bounded_in_size_and_time() {
        let body = vec![b'x'; 1000];
        let mut reply =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        reply.extend_from_slice(&body);
        let t = peer(Some(reply)).await;
        let (status, got) = fetch(get(&t, 1000, Duration::from_secs(5))).await.unwrap();
        assert_eq!((status.as_u16(), got.len()), (200, 1000));
        let e = fetch(get(&t, 999, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(e.0.contains("larger than 999"), "{e}");
        let silent = peer(None).await;
        let start = std::time::Instant::now();
        let e = fetch(get(&silent, 1000, Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(e.0.contains("no answer in time"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
        // Nothing listens: a connect error, not a hang.
        let closed = Target::parse("http://127.0.0.1:1/x").unwrap();
        assert!(
            fetch(get(&closed, 10, Duration::from_secs(5)))
                .await
                .is_err()
        );
    }
}
