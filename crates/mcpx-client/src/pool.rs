//! Connections: TCP and TLS (rustls, ALPN) connects, a small HTTP/1.1 pool and shared HTTP/2
//! connections, and the response body that hands its HTTP/1.1 connection back to the pool when
//! it is read to the end.
//!
//! Plain `http://` HTTP/1.1 takes the inline path of [`crate::h1`]: the task that sends a
//! request writes it and reads its response on the connection itself. TLS and HTTP/2 go through
//! `hyper::client::conn` (a connection task each, requests handed over a channel).
//!
//! One [`HttpClient`] is one pool. The load tester chooses the sharing: one client for all
//! virtual users (shared pool), one per user (per-user pool), or [`PoolMode::PerRequest`] (a
//! fresh connection for every request).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::{Error, Phase};
use crate::h1::{self, BodyDecoder, Decoded};
use crate::header_list::{HeaderList, ResponseHeaders};
use crate::limits;

/// Which HTTP version to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1 on `http://`; on `https://` whatever ALPN picks (h2 preferred).
    #[default]
    Auto,
    /// HTTP/1.1 only (ALPN offers only `http/1.1`).
    Http1,
    /// HTTP/2: prior knowledge (h2c) on `http://`, ALPN `h2` on `https://`. All requests to
    /// one origin multiplex over one connection.
    Http2,
}

/// How connections are reused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolMode {
    /// Keep idle connections (HTTP/1.1) and share one connection per origin (HTTP/2).
    #[default]
    Shared,
    /// A new connection for every request, closed after it (models clients without keep-alive).
    PerRequest,
}

/// TLS settings for `https://` URLs.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TlsOptions {
    /// Extra trusted CA certificates, PEM (`--cacert`), added to the webpki roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any server certificate (`--insecure`). Only for tests against self-signed servers.
    pub dangerous_accept_invalid_certs: bool,
}

/// Transport knobs of an [`HttpClient`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpOptions {
    /// HTTP version (default [`HttpVersion::Auto`]).
    pub version: HttpVersion,
    /// Connection reuse (default [`PoolMode::Shared`]).
    pub pool: PoolMode,
    /// TCP + TLS connect deadline (default [`limits::DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// Idle HTTP/1.1 connections kept per origin (default
    /// [`limits::DEFAULT_MAX_IDLE_PER_ORIGIN`]).
    pub max_idle_per_origin: usize,
    /// TLS settings.
    pub tls: TlsOptions,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            version: HttpVersion::Auto,
            pool: PoolMode::Shared,
            connect_timeout: limits::DEFAULT_CONNECT_TIMEOUT,
            max_idle_per_origin: limits::DEFAULT_MAX_IDLE_PER_ORIGIN,
            tls: TlsOptions::default(),
        }
    }
}

/// Where requests go: the parts of a URL the pool keys on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    /// Shared: every pooled response body holds a copy of its origin.
    pub(crate) host: Arc<str>,
    pub(crate) port: u16,
}

impl Origin {
    pub(crate) fn of(uri: &Uri) -> Result<Self, Error> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{uri}: only http:// and https:// URLs"
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::InvalidArgument(format!("{uri}: no host")))?;
        // `[::1]` in a URI; the socket wants `::1`.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Self {
            https,
            host: host.into(),
            port,
        })
    }
}

type Body = Full<Bytes>;

/// A session request's reply head and body ([`HttpClient::send_listed`]).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: ResponseHeaders,
    pub(crate) body: ResponseBody,
}

/// A pool of HTTP connections (cheap to clone; clones share the pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("version", &self.inner.opts.version)
            .field("pool", &self.inner.opts.pool)
            .finish_non_exhaustive()
    }
}

/// Maps keyed by origin, looked up twice per request: foldhash (seeded per process) instead of
/// SipHash, which cost a few hundred instructions per lookup.
type OriginMap<V> = HashMap<Origin, V, foldhash::fast::RandomState>;

struct PoolInner {
    opts: HttpOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<OriginMap<Vec<http1::SendRequest<Body>>>>,
    /// Idle connections of the inline HTTP/1.1 path.
    idle_inline: Mutex<OriginMap<Vec<h1::Conn>>>,
    h2: Mutex<HashMap<Origin, http2::SendRequest<Body>>>,
}

enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl HttpClient {
    /// A pool with these options.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] when the CA PEM cannot be parsed.
    pub fn new(opts: HttpOptions) -> Result<Self, Error> {
        let tls = Some(tls_connector(&opts)?);
        Ok(Self {
            inner: Arc::new(PoolInner {
                opts,
                tls,
                idle: Mutex::new(OriginMap::default()),
                idle_inline: Mutex::new(OriginMap::default()),
                h2: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The options this pool was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.inner.opts
    }

    /// Sends one request (absolute URI) and returns the response head with its body.
    pub(crate) async fn send(
        &self,
        origin: &Origin,
        req: Request<Bytes>,
    ) -> Result<Response<ResponseBody>, Error> {
        if self.takes_inline(origin) {
            let (parts, body) = req.into_parts();
            let headers = HeaderList::from(&parts.headers);
            let (path_and_query, host) = path_and_host(&parts.uri);
            let fields = h1::Fields::Listed {
                path_and_query,
                host,
                headers: &headers,
            };
            let (head, body) = self
                .send_inline(origin, &parts.method, fields, &body)
                .await?;
            let mut resp = Response::new(body);
            *resp.status_mut() = head.status;
            *resp.version_mut() = head.version;
            *resp.headers_mut() = h1::header_map(&head.raw);
            return Ok(resp);
        }
        self.send_hyper(origin, req).await
    }

    /// Sends one request of a session (`uri` absolute); the future gives its reply. On the
    /// inline path the headers go onto the wire as listed and the reply's stay unparsed until
    /// asked for: no `HeaderMap` either way. The request is encoded here, when a pooled
    /// connection is at hand, so the future keeps neither the headers nor the body.
    pub(crate) fn send_listed<'a>(
        &'a self,
        origin: &'a Origin,
        method: Method,
        uri: &Uri,
        headers: HeaderList,
        body: Bytes,
    ) -> ListedSend<'a> {
        if self.takes_inline(origin) {
            let (path_and_query, host) = path_and_host(uri);
            let fields = h1::Fields::Listed {
                path_and_query,
                host,
                headers: &headers,
            };
            return ListedSend::Inline(self.send_inline(origin, &method, fields, &body));
        }
        ListedSend::Hyper(self.hyper_boxed(origin, method, uri, headers, body))
    }

    /// A request to an origin that [`takes_inline`](Self::takes_inline), its request line and
    /// headers already encoded ([`Self::encode_fields`]): only the body is new.
    pub(crate) fn send_encoded<'a>(
        &'a self,
        origin: &'a Origin,
        method: &Method,
        fields: &[u8],
        body: &[u8],
    ) -> ListedSend<'a> {
        ListedSend::Inline(self.send_inline(origin, method, h1::Fields::Encoded(fields), body))
    }

    /// The request line and headers the inline path would write for `uri` and `headers`, to
    /// send again with [`Self::send_encoded`].
    pub(crate) fn encode_fields(method: &Method, uri: &Uri, headers: &HeaderList) -> Vec<u8> {
        let (path_and_query, host) = path_and_host(uri);
        let mut out = Vec::new();
        h1::encode_fields(&mut out, method, path_and_query, host, headers);
        out
    }

    /// hyper's path for a listed request, boxed: it is a future of a few KiB that the inline
    /// path's callers would otherwise carry and copy on every request (and built here, outside
    /// the caller's future, so the `Request` is not kept in it either).
    fn hyper_boxed<'a>(
        &'a self,
        origin: &'a Origin,
        method: Method,
        uri: &Uri,
        headers: HeaderList,
        body: Bytes,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<ResponseBody>, Error>> + Send + 'a>,
    > {
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers.into_map();
        Box::pin(self.send_hyper(origin, req))
    }

    /// Whether requests to `origin` take the inline HTTP/1.1 path.
    pub(crate) fn takes_inline(&self, origin: &Origin) -> bool {
        !origin.https && self.inner.opts.version != HttpVersion::Http2
    }

    /// hyper's path: TLS, HTTP/2, HTTP/1.1 over TLS.
    async fn send_hyper(
        &self,
        origin: &Origin,
        req: Request<Bytes>,
    ) -> Result<Response<ResponseBody>, Error> {
        let mut req = req.map(Full::new);
        let sender = self.checkout(origin).await?;
        match sender {
            Sender::H1(mut s) => {
                // HTTP/1.1 wants the origin form and a Host header.
                if !req.headers().contains_key(http::header::HOST)
                    && let Some(auth) = req.uri().authority()
                    && let Ok(v) = http::HeaderValue::from_str(auth.as_str())
                {
                    req.headers_mut().insert(http::header::HOST, v);
                }
                let pq = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |pq| pq.as_str())
                    .parse::<Uri>()
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                *req.uri_mut() = pq;
                let resp = s.send_request(req).await.map_err(Error::transport)?;
                let reuse = (self.inner.opts.pool == PoolMode::Shared)
                    .then(|| (s, self.inner.clone(), origin.clone()));
                Ok(resp.map(|body| ResponseBody {
                    inner: BodyIo::Hyper {
                        body,
                        give_back: reuse,
                    },
                    done: false,
                }))
            }
            Sender::H2(mut s) => {
                let resp = s.send_request(req).await.map_err(Error::transport)?;
                Ok(resp.map(|body| ResponseBody {
                    inner: BodyIo::Hyper {
                        body,
                        give_back: None,
                    },
                    done: false,
                }))
            }
        }
    }

    /// The inline HTTP/1.1 path (plain TCP): this task writes the request and reads the
    /// response head on the connection; the body reads on through [`ResponseBody::chunk`].
    /// Dropping the future or the body closes the connection, as with hyper.
    /// The inline HTTP/1.1 path: a pooled connection (or a new one) carries the request; the
    /// future gives the response head and the body that reads the rest from the connection.
    fn send_inline<'a>(
        &'a self,
        origin: &'a Origin,
        method: &Method,
        fields: h1::Fields<'_>,
        body: &[u8],
    ) -> InlineSend<'a> {
        let shared = self.inner.opts.pool == PoolMode::Shared;
        let state = match shared.then(|| self.inline_pop(origin)).flatten() {
            Some(mut conn) => {
                conn.encode(method, fields, body);
                InlineState::Writing { conn, sent: 0 }
            }
            None => {
                // Boxed: most requests never connect, and this future is part of theirs.
                let timeout = self.inner.opts.connect_timeout;
                let connect = Box::pin(async move {
                    tokio::time::timeout(timeout, connect_tcp(origin))
                        .await
                        .map_err(|_| Error::Timeout(Phase::Connect))?
                });
                // The request waits for its connection, encoded (a fresh connection has no
                // buffer to encode into yet).
                let mut conn_less = Vec::new();
                fields.encode(&mut conn_less, method, body);
                InlineState::Connecting {
                    connect,
                    request: conn_less,
                }
            }
        };
        InlineSend {
            client: self,
            origin,
            method: method.clone(),
            shared,
            state,
        }
    }

    fn inline_pop(&self, origin: &Origin) -> Option<h1::Conn> {
        let mut idle = self.inner.idle_inline.lock().ok()?;
        let list = idle.get_mut(origin)?;
        while let Some(conn) = list.pop() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    async fn checkout(&self, origin: &Origin) -> Result<Sender, Error> {
        let shared = self.inner.opts.pool == PoolMode::Shared;
        if shared {
            if let Some(mut s) = self.h2_cached(origin) {
                if s.ready().await.is_ok() {
                    return Ok(Sender::H2(s));
                }
                self.forget_h2(origin);
            }
            while let Some(mut s) = self.idle_pop(origin) {
                if s.is_closed() {
                    continue;
                }
                if tokio::time::timeout(self.inner.opts.connect_timeout, s.ready())
                    .await
                    .is_ok_and(|r| r.is_ok())
                {
                    return Ok(Sender::H1(s));
                }
            }
        }
        // Boxed: connecting (TCP, TLS, the HTTP handshake) is a future of several KiB that most
        // requests never run; inline, every request's future (and each task that holds one)
        // would carry and copy it.
        let connect = Box::pin(self.connect(origin));
        let sender = tokio::time::timeout(self.inner.opts.connect_timeout, connect)
            .await
            .map_err(|_| Error::Timeout(Phase::Connect))??;
        if shared
            && let Sender::H2(s) = &sender
            && let Ok(mut map) = self.inner.h2.lock()
        {
            map.insert(origin.clone(), s.clone());
        }
        Ok(sender)
    }

    fn h2_cached(&self, origin: &Origin) -> Option<http2::SendRequest<Body>> {
        let map = self.inner.h2.lock().ok()?;
        map.get(origin).filter(|s| !s.is_closed()).cloned()
    }

    fn forget_h2(&self, origin: &Origin) {
        if let Ok(mut map) = self.inner.h2.lock() {
            map.remove(origin);
        }
    }

    fn idle_pop(&self, origin: &Origin) -> Option<http1::SendRequest<Body>> {
        self.inner.idle.lock().ok()?.get_mut(origin)?.pop()
    }

    async fn connect(&self, origin: &Origin) -> Result<Sender, Error> {
        let tcp = TcpStream::connect((&*origin.host, origin.port))
            .await
            .map_err(Error::Connect)?;
        // Every request and SSE event should leave at once, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let want_h2 = self.inner.opts.version == HttpVersion::Http2;
        if !origin.https {
            return handshake(tcp, want_h2).await;
        }
        let connector = self
            .inner
            .tls
            .as_ref()
            .ok_or_else(|| Error::Tls("no TLS configuration".into()))?;
        let name = ServerName::try_from(origin.host.to_string())
            .map_err(|e| Error::Tls(format!("{}: {e}", origin.host)))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls(e.to_string()))?;
        let alpn_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        handshake(tls, alpn_h2).await
    }
}

/// The request target and `host` of a request to `uri` on the inline path.
fn path_and_host(uri: &Uri) -> (&str, Option<&str>) {
    (
        uri.path_and_query().map_or("/", |pq| pq.as_str()),
        uri.authority().map(http::uri::Authority::as_str),
    )
}

/// A listed request in flight ([`HttpClient::send_listed`], [`HttpClient::send_encoded`]): on
/// the inline HTTP/1.1 path or through hyper.
pub(crate) enum ListedSend<'a> {
    Inline(InlineSend<'a>),
    Hyper(HyperSend<'a>),
}

type HyperSend<'a> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Error>> + Send + 'a>>;

impl Future for ListedSend<'_> {
    type Output = Result<Reply, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Inline(send) => Pin::new(send).poll(cx).map_ok(|(head, body)| Reply {
                status: head.status,
                headers: ResponseHeaders::from_head(head.raw, head.content_type),
                body,
            }),
            Self::Hyper(send) => send.as_mut().poll(cx).map_ok(|resp| {
                let (parts, body) = resp.into_parts();
                Reply {
                    status: parts.status,
                    headers: ResponseHeaders::from_map(parts.headers),
                    body,
                }
            }),
        }
    }
}

/// One request on the inline HTTP/1.1 path, written out by hand as a state machine: it is
/// part of every request's future, and as nested `async fn`s its layers were each moved into
/// the next (a memcpy of the whole future per layer and request) and polled through in turn.
pub(crate) struct InlineSend<'a> {
    client: &'a HttpClient,
    origin: &'a Origin,
    method: Method,
    shared: bool,
    state: InlineState<'a>,
}

enum InlineState<'a> {
    /// A new connection is being opened; the request is encoded and waits.
    Connecting {
        connect: Pin<Box<dyn Future<Output = Result<h1::Conn, Error>> + Send + 'a>>,
        request: Vec<u8>,
    },
    /// The request is being written (`sent` bytes so far).
    Writing { conn: h1::Conn, sent: usize },
    /// Waiting for the final response head.
    Head { conn: h1::Conn, interim: usize },
    /// Finished (or failed).
    Done,
}

impl Future for InlineSend<'_> {
    type Output = Result<(h1::Head, ResponseBody), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                InlineState::Connecting { connect, request } => {
                    let mut conn = match connect.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.state = InlineState::Done;
                            return Poll::Ready(Err(e));
                        }
                        Poll::Ready(Ok(conn)) => conn,
                    };
                    conn.set_request(std::mem::take(request));
                    this.state = InlineState::Writing { conn, sent: 0 };
                }
                InlineState::Writing { conn, sent } => {
                    match conn.poll_write_request(cx, sent) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.state = InlineState::Done;
                            return Poll::Ready(Err(Error::transport(h1::ConnError::Io(e))));
                        }
                        Poll::Ready(Ok(())) => {}
                    }
                    let InlineState::Writing { conn, .. } =
                        std::mem::replace(&mut this.state, InlineState::Done)
                    else {
                        continue;
                    };
                    this.state = InlineState::Head { conn, interim: 0 };
                }
                InlineState::Head { conn, interim } => {
                    let head = match conn.poll_head(cx, &this.method, interim) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.state = InlineState::Done;
                            return Poll::Ready(Err(Error::transport(e)));
                        }
                        Poll::Ready(Ok(head)) => head,
                    };
                    let InlineState::Head { conn, .. } =
                        std::mem::replace(&mut this.state, InlineState::Done)
                    else {
                        continue;
                    };
                    // A request that said `Connection: close` (PerRequest) is not followed by
                    // another.
                    let reuse = this.shared && head.keep_alive;
                    let body = ResponseBody {
                        inner: BodyIo::Inline {
                            dec: BodyDecoder::new(head.body),
                            conn: Some(conn),
                            give_back: reuse
                                .then(|| (this.client.inner.clone(), this.origin.clone())),
                        },
                        done: false,
                    };
                    return Poll::Ready(Ok((head, body)));
                }
                InlineState::Done => {
                    return Poll::Ready(Err(Error::InvalidArgument(
                        "request polled after it finished".into(),
                    )));
                }
            }
        }
    }
}

async fn connect_tcp(origin: &Origin) -> Result<h1::Conn, Error> {
    let tcp = TcpStream::connect((&*origin.host, origin.port))
        .await
        .map_err(Error::Connect)?;
    // Every request should leave at once, not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    Ok(h1::Conn::new(tcp))
}

async fn handshake<I>(io: I, h2: bool) -> Result<Sender, Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(Error::transport)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "h2 connection ended");
            }
        });
        Ok(Sender::H2(sender))
    } else {
        let (sender, conn) = http1::handshake(io).await.map_err(Error::transport)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "h1 connection ended");
            }
        });
        Ok(Sender::H1(sender))
    }
}

fn tls_connector(opts: &HttpOptions) -> Result<tokio_rustls::TlsConnector, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let mut config = if opts.tls.dangerous_accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(danger::AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &opts.tls.ca_pem {
            let mut added = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| Error::Tls(format!("CA PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Tls(format!("CA certificate: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::Tls("CA PEM holds no certificate".into()));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = match opts.version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

mod danger {
    //! `--insecure`: a verifier that accepts every certificate but still checks signatures, so
    //! the handshake itself stays sound.

    use std::sync::Arc;

    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    #[derive(Debug)]
    pub(super) struct AcceptAny(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// A response body. Read to its end, an HTTP/1.1 body puts its connection back in the pool;
/// dropped early, the connection closes (which is how a stateless-era request is cancelled).
pub(crate) struct ResponseBody {
    inner: BodyIo,
    done: bool,
}

/// Where a body's bytes come from.
enum BodyIo {
    /// hyper (TLS, HTTP/2): frames from the connection task.
    Hyper {
        body: Incoming,
        give_back: Option<(http1::SendRequest<Body>, Arc<PoolInner>, Origin)>,
    },
    /// The inline HTTP/1.1 path: read from the connection by whoever reads the body.
    Inline {
        /// `None` once handed back to the pool or closed.
        conn: Option<h1::Conn>,
        dec: BodyDecoder,
        give_back: Option<(Arc<PoolInner>, Origin)>,
    },
}

impl ResponseBody {
    /// The next chunk of data; `None` at the end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if self.done {
            return Ok(None);
        }
        let r = match &mut self.inner {
            BodyIo::Hyper { body, .. } => hyper_chunk(body).await,
            BodyIo::Inline { conn, dec, .. } => inline_chunk(conn, dec).await,
        };
        match &r {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.done = true;
                self.release();
            }
            Err(_) => {
                self.done = true;
                self.drop_connection();
            }
        }
        r
    }

    /// The whole body when it is already in the connection's buffer (inline HTTP/1.1, a
    /// `Content-Length` body that arrived with its head: the usual JSON reply), taken without a
    /// future and the connection handed back. `None`: it must be read ([`collect_bounded`]),
    /// which also reports a body over `max`.
    ///
    /// [`collect_bounded`]: Self::collect_bounded
    pub(crate) fn take_buffered(&mut self, max: usize) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let BodyIo::Inline {
            conn: Some(c), dec, ..
        } = &mut self.inner
        else {
            return None;
        };
        let data = dec.take_whole(&mut c.rbuf, max)?;
        self.done = true;
        self.release();
        Some(data)
    }

    /// Whether the body was read to its end.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    fn drop_connection(&mut self) {
        match &mut self.inner {
            BodyIo::Hyper { give_back, .. } => *give_back = None,
            BodyIo::Inline {
                conn, give_back, ..
            } => {
                *conn = None;
                *give_back = None;
            }
        }
    }

    fn release(&mut self) {
        match &mut self.inner {
            BodyIo::Hyper { give_back, .. } => {
                let Some((sender, pool, origin)) = give_back.take() else {
                    return;
                };
                if sender.is_closed() {
                    return;
                }
                if let Ok(mut idle) = pool.idle.lock() {
                    let list = idle.entry(origin).or_default();
                    if list.len() < pool.opts.max_idle_per_origin {
                        list.push(sender);
                    }
                }
            }
            BodyIo::Inline {
                conn, give_back, ..
            } => {
                let (Some(c), Some((pool, origin))) = (conn.take(), give_back.take()) else {
                    return;
                };
                // Bytes past the body's end are a server bug (or an unasked response): such
                // a connection is not reused.
                if !c.rbuf.is_empty() {
                    return;
                }
                if let Ok(mut idle) = pool.idle_inline.lock() {
                    let list = idle.entry(origin).or_default();
                    if list.len() < pool.opts.max_idle_per_origin {
                        list.push(c);
                    }
                }
            }
        }
    }

    /// Reads the whole body, failing past `max` bytes.
    pub(crate) async fn collect_bounded(&mut self, max: usize) -> Result<Bytes, Error> {
        let mut out = bytes::BytesMut::new();
        let mut first: Option<Bytes> = None;
        while let Some(chunk) = self.chunk().await? {
            let total = first.as_ref().map_or(0, Bytes::len) + out.len() + chunk.len();
            if total > max {
                return Err(Error::protocol(format!("response body over {max} bytes")));
            }
            // The common single-chunk body is handed out without a copy.
            match first.take() {
                None if out.is_empty() => first = Some(chunk),
                Some(f) => {
                    out.extend_from_slice(&f);
                    out.extend_from_slice(&chunk);
                }
                None => out.extend_from_slice(&chunk),
            }
        }
        Ok(first.unwrap_or_else(|| out.freeze()))
    }

    /// Reads up to `max` bytes of the body (an error body), ignoring the rest and any error.
    pub(crate) async fn collect_truncated(&mut self, max: usize) -> Bytes {
        let mut out = bytes::BytesMut::new();
        while let Ok(Some(chunk)) = self.chunk().await {
            let room = max.saturating_sub(out.len());
            out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            if out.len() >= max {
                break;
            }
        }
        out.freeze()
    }
}

/// One data chunk from a hyper body; `None` at the end.
async fn hyper_chunk(body: &mut Incoming) -> Result<Option<Bytes>, Error> {
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data()
                    && !data.is_empty()
                {
                    return Ok(Some(data));
                }
                // Trailers and empty frames carry nothing for us.
            }
            Some(Err(e)) => return Err(Error::transport(e)),
            None => return Ok(None),
        }
    }
}

/// One data chunk from an inline HTTP/1.1 body, reading the connection as needed; `None` at the
/// end. Cancel safe: bytes are only ever consumed from the connection's buffer synchronously.
async fn inline_chunk(
    conn: &mut Option<h1::Conn>,
    dec: &mut BodyDecoder,
) -> Result<Option<Bytes>, Error> {
    if dec.is_done() {
        return Ok(None);
    }
    let Some(c) = conn.as_mut() else {
        return Err(Error::transport(h1::CodecError::Incomplete));
    };
    loop {
        match dec.decode(&mut c.rbuf).map_err(Error::transport)? {
            Decoded::Data(data) => return Ok(Some(data)),
            Decoded::Done => return Ok(None),
            Decoded::NeedMore => {}
        }
        if c.fill().await.map_err(Error::transport)? == 0 {
            dec.eof().map_err(Error::transport)?;
            // Delimited by the close: the connection is spent.
            *conn = None;
            return Ok(None);
        }
    }
}
