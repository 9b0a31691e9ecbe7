//! Clients and sessions: connecting (era discovery, `initialize`, fallbacks), the per-session
//! state every request reads (version, session id, `_meta`, id counter), and the high-level API.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use mcpx_proto::ProtocolVersion;
use mcpx_proto::http::{LAST_EVENT_ID, MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use mcpx_wire::mcp::{self, method};
use mcpx_wire::{ErrorCode, Message, RawJson};

use crate::body::{self, Meta, put_str, write_message};
use crate::chan::Channel;
use crate::error::{Error, Phase};
use crate::exchange::{
    EventKind, EventStream, Exchange, RequestBuilder, SendFlags, exchange_chan, exchange_http,
};
use crate::handler;
use crate::header_list::{HeaderList, SharedHeaders};
use crate::limits;
use crate::options::{ClientOptions, EraChoice};
use crate::params::{ParamHeader, headers_for, param_headers};
use crate::pool::{HttpClient, ListedSend, Origin, PoolMode, Reply};

const ACCEPT_BOTH: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");
const ACCEPT_SSE: HeaderValue = HeaderValue::from_static("text/event-stream");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The first id of a [`Client::handle`]: distinct id ranges of 2^20 per handle, wrapping below
/// 2^53 (the integers a JavaScript peer holds exactly).
fn handle_first_id() -> i64 {
    static HANDLES: AtomicI64 = AtomicI64::new(0);
    let n = HANDLES.fetch_add(1, Ordering::Relaxed) & ((1 << 33) - 1);
    n << 20
}

/// `Mcp-Method`: the spec's method names need no copy.
fn method_header(m: &str) -> Result<HeaderValue, Error> {
    let known = method::REQUESTS
        .iter()
        .chain(method::NOTIFICATIONS)
        .find(|k| **k == m);
    match known {
        Some(k) => Ok(HeaderValue::from_static(k)),
        None => HeaderValue::from_str(m).map_err(|e| Error::InvalidArgument(e.to_string())),
    }
}

/// What era discovery found for one URL (cached per client, MCP-DIGEST 2.4).
#[derive(Clone, Debug)]
enum CachedEra {
    /// 2026-07-28, with the `DiscoverResult`.
    Stateless(RawJson),
    /// The session era, with the version to ask for.
    Session(ProtocolVersion),
}

/// An MCP client: options plus a connection pool, shared by the sessions it opens (cheap to
/// clone).
///
/// With [`EraChoice::Auto`] the era discovered for a URL is cached here, so later sessions to
/// the same URL skip `server/discover` (a stateless session then costs no request at all);
/// [`Client::forget_eras`] clears the cache.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) opts: Arc<ClientOptions>,
    pub(crate) http: HttpClient,
    eras: Arc<std::sync::Mutex<HashMap<String, CachedEra>>>,
}

impl Client {
    /// A client with these options.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] when the CA PEM is invalid.
    pub fn new(opts: ClientOptions) -> Result<Self, Error> {
        let http = HttpClient::new(opts.http.clone())?;
        Ok(Self {
            opts: Arc::new(opts),
            http,
            eras: Arc::new(std::sync::Mutex::new(HashMap::new())),
        })
    }

    /// Forgets the eras discovered so far (the next session to each URL discovers again).
    pub fn forget_eras(&self) {
        if let Ok(mut e) = self.eras.lock() {
            e.clear();
        }
    }

    fn cached_era(&self, url: &str) -> Option<CachedEra> {
        self.eras.lock().ok()?.get(url).cloned()
    }

    fn remember_era(&self, url: &str, era: CachedEra) {
        if let Ok(mut e) = self.eras.lock() {
            // Bounded: one entry per URL the client talks to; a runaway caller is cut off.
            if e.len() < limits::MAX_CACHED_ERAS || e.contains_key(url) {
                e.insert(url.to_owned(), era);
            }
        }
    }

    /// One-shot: a client with `opts` and a session to `url`.
    ///
    /// # Errors
    ///
    /// As [`Client::session`].
    pub async fn connect(url: &str, opts: ClientOptions) -> Result<Session, Error> {
        Self::new(opts)?.session(url).await
    }

    /// Opens a session to a Streamable HTTP (or legacy HTTP+SSE) endpoint, choosing the era as
    /// [`ClientOptions::era`] says.
    ///
    /// # Errors
    ///
    /// A failed setup is always an error, never a half-open session: [`Error::Connect`],
    /// [`Error::Tls`], [`Error::Timeout`], [`Error::HttpStatus`] (the `initialize` answer),
    /// [`Error::JsonRpc`], [`Error::Protocol`] (e.g. a version the client does not speak).
    pub async fn session(&self, url: &str) -> Result<Session, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("{url}: {e}")))?;
        let origin = Origin::of(&uri)?;
        let base = Base {
            client: self.clone(),
            url: uri,
            origin: Some(origin),
        };
        match self.opts.era {
            EraChoice::Stateless => match discover(&base, Transport::Http).await? {
                Discovered::Modern(session) => Ok(session),
                Discovered::Legacy(_) => Err(Error::protocol(
                    "the server does not offer 2026-07-28 (server/discover failed)",
                )),
            },
            EraChoice::Auto => match self.cached_era(url) {
                Some(CachedEra::Stateless(result)) => Ok(Session {
                    core: base.core(
                        Transport::Http,
                        ProtocolVersion::LATEST,
                        None,
                        Some(result),
                        0,
                    ),
                }),
                Some(CachedEra::Session(v)) => initialize_http(&base, v).await,
                None => match discover(&base, Transport::Http).await? {
                    Discovered::Modern(session) => {
                        if let Some(r) = session.server_result() {
                            self.remember_era(url, CachedEra::Stateless(r.clone()));
                        }
                        Ok(session)
                    }
                    Discovered::Legacy(v) => {
                        let v = v.unwrap_or(self.opts.session_version);
                        let session = initialize_http(&base, v).await?;
                        if !session.is_channel() {
                            self.remember_era(url, CachedEra::Session(session.protocol_version()));
                        }
                        Ok(session)
                    }
                },
            },
            EraChoice::Session(v) => initialize_http(&base, v).await,
            EraChoice::LegacySse => {
                let chan = crate::chan::connect_legacy(&base).await?;
                initialize(&base, Transport::Chan(chan), self.opts.session_version).await
            }
        }
    }

    /// Spawns `command` as an MCP server over stdio (newline-delimited JSON on its stdin and
    /// stdout; its stderr is inherited) and opens a session with it. With [`EraChoice::Auto`]
    /// the client probes with `server/discover` first (MCP-DIGEST 2.4). The child is killed
    /// when the session is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be spawned; otherwise as [`Client::session`].
    pub async fn stdio(&self, command: tokio::process::Command) -> Result<Session, Error> {
        let chan = crate::chan::spawn_stdio(self, command)?;
        let base = Base {
            client: self.clone(),
            url: Uri::from_static("stdio:"),
            origin: None,
        };
        let t = Transport::Chan(chan);
        match self.opts.era {
            EraChoice::Stateless => match discover(&base, t).await? {
                Discovered::Modern(s) => Ok(s),
                Discovered::Legacy(_) => {
                    Err(Error::protocol("the server does not offer 2026-07-28"))
                }
            },
            EraChoice::Auto => match discover(&base, t.clone()).await? {
                Discovered::Modern(s) => Ok(s),
                Discovered::Legacy(v) => {
                    initialize(&base, t, v.unwrap_or(self.opts.session_version)).await
                }
            },
            EraChoice::Session(v) => initialize(&base, t, v).await,
            EraChoice::LegacySse => Err(Error::InvalidArgument(
                "legacy HTTP+SSE is an HTTP transport".into(),
            )),
        }
    }

    /// A client with other options that shares this one's connection pool (the HTTP settings
    /// of `opts` are ignored: they belong to the pool). For many users with different client
    /// info or capabilities over one set of connections (the load tester's proxy families).
    pub fn with_options(&self, opts: ClientOptions) -> Client {
        Client {
            opts: Arc::new(opts),
            http: self.http.clone(),
            eras: self.eras.clone(),
        }
    }

    /// A session handle for `url` under `version`, with `session_id` if one was issued: sends
    /// nothing. For callers that run the protocol steps themselves and time each one (the load
    /// tester sends `initialize` with [`Session::request`], reads `Mcp-Session-Id` from
    /// [`Exchange::headers`](crate::Exchange::headers), then takes a handle with that id for
    /// `notifications/initialized` and what follows). Under 2026-07-28 the handle adds the
    /// stateless `_meta` and headers to every request, as a discovered session does.
    ///
    /// Ids: every handle starts at its own base (a process-wide counter times 2^20, below
    /// 2^53 so JavaScript servers read them exactly), so the handle that sent `initialize` and
    /// the one that carries on never reuse each other's ids within the session.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a URL that is not `http(s)://host[:port]/path` or a
    /// session id that is not visible ASCII.
    pub fn handle(
        &self,
        url: &str,
        version: ProtocolVersion,
        session_id: Option<&str>,
    ) -> Result<Session, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("{url}: {e}")))?;
        let origin = Origin::of(&uri)?;
        let session_id = session_id
            .map(|s| {
                HeaderValue::from_str(s)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::InvalidArgument("session id is not visible ASCII".into()))
            })
            .transpose()?;
        let base = Base {
            client: self.clone(),
            url: uri,
            origin: Some(origin),
        };
        Ok(Session {
            core: base.core(
                Transport::Http,
                version,
                session_id,
                None,
                handle_first_id(),
            ),
        })
    }

    /// A session handle over a new stdio child, before any handshake: spawns `command` (its
    /// stdin and stdout piped, everything else as the command says) and sends nothing. The
    /// stdio counterpart of [`Client::handle`], for callers that send `initialize` (or
    /// `server/discover`) themselves and time it. Server requests go to this client's
    /// [`ClientOptions::handler`]; the child is killed when the last handle is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the command cannot be spawned.
    pub fn stdio_handle(
        &self,
        command: tokio::process::Command,
        version: ProtocolVersion,
    ) -> Result<Session, Error> {
        let chan = crate::chan::spawn_stdio(self, command)?;
        let base = Base {
            client: self.clone(),
            url: Uri::from_static("stdio:"),
            origin: None,
        };
        Ok(Session {
            core: base.core(
                Transport::Chan(chan),
                version,
                None,
                None,
                handle_first_id(),
            ),
        })
    }

    /// A session handle over a new legacy HTTP+SSE (2024-11-05) connection to `url`, before
    /// any handshake: opens the `GET` stream and waits for its `endpoint` event, sends no
    /// MCP message. The legacy counterpart of [`Client::handle`]. Server requests go to this
    /// client's [`ClientOptions::handler`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad URL; [`Error::HttpStatus`] when the `GET` is
    /// refused; [`Error::Protocol`] when no `endpoint` event comes; [`Error::Timeout`] after
    /// [`ClientOptions::discovery_timeout`].
    pub async fn legacy_handle(
        &self,
        url: &str,
        version: ProtocolVersion,
    ) -> Result<Session, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("{url}: {e}")))?;
        let origin = Origin::of(&uri)?;
        let base = Base {
            client: self.clone(),
            url: uri,
            origin: Some(origin),
        };
        let chan = crate::chan::connect_legacy(&base).await?;
        Ok(Session {
            core: base.core(
                Transport::Chan(chan),
                version,
                None,
                None,
                handle_first_id(),
            ),
        })
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }
}

/// What a session is carried over.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Streamable HTTP.
    Http,
    /// Legacy HTTP+SSE or stdio: replies come through a dispatcher.
    Chan(Arc<Channel>),
}

/// What every session to one target shares while it is being set up.
pub(crate) struct Base {
    pub(crate) client: Client,
    pub(crate) url: Uri,
    pub(crate) origin: Option<Origin>,
}

impl Base {
    fn core(
        &self,
        transport: Transport,
        version: ProtocolVersion,
        session_id: Option<HeaderValue>,
        server: Option<RawJson>,
        first_id: i64,
    ) -> Arc<SessionCore> {
        let meta = (!version.is_session_era()).then(|| stateless_meta(&self.client.opts, version));
        Arc::new(SessionCore {
            opts: self.client.opts.clone(),
            http: self.client.http.clone(),
            url: self.url.clone(),
            origin: self.origin.clone(),
            version,
            session_id,
            next_id: AtomicI64::new(first_id),
            meta,
            server,
            transport,
            closed: AtomicBool::new(false),
            background: std::sync::Mutex::new(None),
            tool_headers: std::sync::Mutex::new(HashMap::new()),
            body_buf: std::sync::Mutex::new(BytesMut::new()),
            post_fields: std::sync::Mutex::default(),
        })
    }
}

/// `"io.modelcontextprotocol/protocolVersion":..,"...clientCapabilities":..,"...clientInfo":..`
fn stateless_meta(opts: &ClientOptions, version: ProtocolVersion) -> Bytes {
    let mut b = BytesMut::with_capacity(160);
    b.put_slice(br#""io.modelcontextprotocol/protocolVersion":"#);
    put_str(&mut b, version.as_str());
    b.put_slice(br#","io.modelcontextprotocol/clientCapabilities":"#);
    b.put_slice(opts.capabilities.as_bytes());
    b.put_slice(br#","io.modelcontextprotocol/clientInfo":"#);
    put_implementation(&mut b, opts);
    b.freeze()
}

fn put_implementation(b: &mut BytesMut, opts: &ClientOptions) {
    b.put_slice(br#"{"name":"#);
    put_str(b, &opts.name);
    b.put_slice(br#","version":"#);
    put_str(b, &opts.version);
    b.put_u8(b'}');
}

/// State shared by a session and its exchanges.
pub(crate) struct SessionCore {
    pub(crate) opts: Arc<ClientOptions>,
    pub(crate) http: HttpClient,
    pub(crate) url: Uri,
    pub(crate) origin: Option<Origin>,
    pub(crate) version: ProtocolVersion,
    pub(crate) session_id: Option<HeaderValue>,
    next_id: AtomicI64,
    meta: Option<Bytes>,
    server: Option<RawJson>,
    transport: Transport,
    closed: AtomicBool,
    /// The background GET stream task ([`ClientOptions::background_stream`]).
    background: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
    /// `x-mcp-header` annotations by tool name, learnt from `tools/list`.
    tool_headers: std::sync::Mutex<HashMap<String, Arc<[ParamHeader]>>>,
    /// Request bodies are written here and split off: once the bodies sent before are dropped
    /// (on the inline HTTP/1.1 path, as soon as they are on the connection), the next one
    /// reuses the space instead of allocating a buffer (and its shared header) per request.
    body_buf: std::sync::Mutex<BytesMut>,
    /// The request line and headers of this session's last POST on the inline HTTP/1.1 path,
    /// encoded, with what they were made from: the next POST with the same caller's headers
    /// and flags sends these bytes again instead of listing and encoding every header (see
    /// [`PostFields`]).
    post_fields: std::sync::Mutex<PostCache>,
}

/// Headers the client adds to a request's own (content type, accept, version, session id, a
/// few of its options'): room made for them at once.
const CLIENT_HEADERS: usize = 6;

/// Consecutive POSTs whose fields could not be reused after which a session stops keeping
/// them: a caller whose headers change on every request (a fresh `traceparent`, say) would
/// otherwise pay for a copy that is never sent again.
const MAX_POST_FIELD_MISSES: u8 = 4;

/// What [`SessionCore::post_fields`] holds.
#[derive(Default)]
struct PostCache {
    kept: Option<PostFields>,
    /// Consecutive requests that found different fields kept.
    misses: u8,
}

/// A session-era POST's encoded request line and headers ([`crate::h1::encode_fields`]).
/// They follow from the caller's headers and the per-request flags; everything else that goes
/// into them (the URL, the protocol version, the session id, the client's own headers, the
/// pool mode) is fixed for the session's life. Stateless requests are not kept: their
/// `Mcp-Method` / `Mcp-Name` headers change from request to request.
struct PostFields {
    headers: HeaderList,
    shared: Option<SharedHeaders>,
    version: bool,
    session: bool,
    /// Whether these fields carry the session id (what [`SessionCore::post_headers`] said).
    sent_session: bool,
    bytes: Vec<u8>,
}

/// The most body buffer a session keeps between requests: a body above this (a large
/// `tools/call` argument) gets a buffer of its own, so an idle session holds at most this.
const MAX_KEPT_BODY_BUF: usize = 4096;

impl SessionCore {
    /// The session's body buffer, to write one request body into (see `body_buf`).
    pub(crate) fn take_body_buf(&self) -> BytesMut {
        self.body_buf
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }

    /// Gives the body buffer back (what is left of it after the body was split off).
    pub(crate) fn put_body_buf(&self, buf: BytesMut) {
        if buf.capacity() <= MAX_KEPT_BODY_BUF
            && let Ok(mut b) = self.body_buf.lock()
        {
            *b = buf;
        }
    }

    /// A fresh id, unique within the session (servers lose replies on reused ids).
    pub(crate) fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn era_meta(&self) -> Option<&[u8]> {
        self.meta.as_deref()
    }

    pub(crate) fn is_stateless(&self) -> bool {
        !self.version.is_session_era()
    }

    fn is_http(&self) -> bool {
        matches!(self.transport, Transport::Http)
    }

    /// Resumption with `Last-Event-ID` exists only for Streamable HTTP in the session era.
    pub(crate) fn can_resume(&self) -> bool {
        self.is_http() && self.version.is_session_era()
    }

    /// Session era and stdio cancel with `notifications/cancelled`; 2026-07-28 HTTP cancels by
    /// closing the stream.
    pub(crate) fn cancels_by_notification(&self) -> bool {
        !self.is_http() || self.version.is_session_era()
    }

    pub(crate) fn forget(&self, id: i64) {
        if let Transport::Chan(c) = &self.transport {
            c.forget(id);
        }
    }

    pub(crate) fn spawn_cancel(self: &Arc<Self>, id: i64) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let core = self.clone();
        rt.spawn(async move {
            let _ = core.send_cancelled(id).await;
        });
    }

    /// `notifications/cancelled` for request `id`.
    pub(crate) async fn send_cancelled(self: &Arc<Self>, id: i64) -> Result<(), Error> {
        let mut params = BytesMut::with_capacity(64);
        params.put_slice(br#"{"requestId":"#);
        params.put_slice(id.to_string().as_bytes());
        params.put_slice(br#","reason":"cancelled by the client"}"#);
        self.notify_raw(method::NOTIFICATIONS_CANCELLED, Some(&params))
            .await
    }

    /// Answers a server-to-client request with the handler (errors are logged: the request
    /// that carried it goes on).
    pub(crate) async fn answer(self: &Arc<Self>, msg: &Message) {
        let Some(reply) = handler::answer(&*self.opts.handler, msg).await else {
            return;
        };
        if let Err(e) = self.send_body(reply).await {
            tracing::warn!(error = %e, "could not deliver the answer to a server request");
        }
    }

    /// Sends a notification or response (no reply expected).
    async fn send_body(self: &Arc<Self>, body: Bytes) -> Result<(), Error> {
        let mut ex = self
            .start_body(
                None,
                None,
                None,
                body,
                HeaderList::default(),
                None,
                SendFlags::ALL,
                self.opts.request_timeout,
                false,
            )
            .await?;
        while ex.next().await?.is_some() {}
        Ok(())
    }

    pub(crate) async fn notify_raw(
        self: &Arc<Self>,
        method_name: &str,
        params: Option<&[u8]>,
    ) -> Result<(), Error> {
        let mut buf = BytesMut::new();
        write_message(
            &mut buf,
            None,
            method_name,
            params.map(body::Params::Object),
            Meta::default(),
            &[],
        )?;
        let mut ex = self
            .start_body(
                None,
                Some(method_name),
                None,
                buf.freeze(),
                HeaderList::default(),
                None,
                SendFlags::ALL,
                self.opts.request_timeout,
                false,
            )
            .await?;
        while ex.next().await?.is_some() {}
        Ok(())
    }

    /// Sends one message body (a request when `id` is set); the future gives its exchange once
    /// the response head is in. The headers are decided and (on a pooled HTTP/1.1 connection)
    /// the request encoded here, before the future is first polled.
    #[allow(clippy::too_many_arguments, reason = "internal: the builder's fields")]
    pub(crate) fn start_body<'a>(
        self: &'a Arc<Self>,
        id: Option<i64>,
        method_name: Option<&str>,
        name: Option<&str>,
        body: Bytes,
        headers: HeaderList,
        shared: Option<&SharedHeaders>,
        flags: SendFlags,
        timeout: Duration,
        cancel_on_drop: bool,
    ) -> StartBody<'a> {
        if self.closed.load(Ordering::Relaxed) {
            return StartBody::failed(Error::Closed);
        }
        let sent_at = Instant::now();
        let deadline = sent_at + timeout;
        let state = match &self.transport {
            Transport::Http => {
                let origin = match self.origin() {
                    Ok(o) => o,
                    Err(e) => return StartBody::failed(e),
                };
                let kept = if self.is_stateless() || !self.http.takes_inline(origin) {
                    None
                } else {
                    self.send_kept(origin, &headers, shared, flags, &body)
                };
                let (send, sent_session) = match kept {
                    Some(Ok(kept)) => kept,
                    Some(Err(e)) => return StartBody::failed(e),
                    None => {
                        let mut headers = HeaderList::merged(shared, headers, CLIENT_HEADERS);
                        let sent_session =
                            match self.post_headers(&mut headers, method_name, name, flags) {
                                Ok(s) => s,
                                Err(e) => return StartBody::failed(e),
                            };
                        self.client_headers(&mut headers);
                        let send =
                            self.http
                                .send_listed(origin, Method::POST, &self.url, headers, body);
                        (send, sent_session)
                    }
                };
                StartState::Http {
                    send,
                    then: HttpThen {
                        core: self,
                        id,
                        sent_at,
                        deadline,
                        cancel_on_drop,
                        sent_session,
                        head_timer: flags.head_timer,
                    },
                }
            }
            Transport::Chan(chan) => {
                let rx = id.map(|id| chan.register(id));
                // Boxed: the channel's send is a future of a few KiB that the HTTP path, the
                // common one, would otherwise carry (and copy) in every request's future.
                StartState::Chan(Box::pin(async move {
                    let sent = tokio::time::timeout_at(deadline.into(), chan.send(self, body))
                        .await
                        .map_err(|_| Error::Timeout(Phase::Head))
                        .and_then(|r| r);
                    if let Err(e) = sent {
                        if let Some(id) = id {
                            chan.forget(id);
                        }
                        return Err(e);
                    }
                    Ok(exchange_chan(
                        self.clone(),
                        id,
                        StatusCode::OK,
                        rx,
                        sent_at,
                        deadline,
                        cancel_on_drop,
                    ))
                }))
            }
        };
        StartBody { state, timer: None }
    }

    /// A session-era POST on the inline path with the request line and headers kept from the
    /// last one ([`PostFields`]), made and kept now if they differ. `None`: this session does
    /// not keep them (its caller's headers change on every request), list them instead.
    fn send_kept<'a>(
        &'a self,
        origin: &'a Origin,
        headers: &HeaderList,
        shared: Option<&SharedHeaders>,
        flags: SendFlags,
        body: &[u8],
    ) -> Option<Result<(ListedSend<'a>, bool), Error>> {
        let mut cache = self.post_fields.lock().ok()?;
        let same = cache.kept.as_ref().is_some_and(|k| {
            k.version == flags.version
                && k.session == flags.session
                && SharedHeaders::same(k.shared.as_ref(), shared)
                && k.headers == *headers
        });
        if same {
            cache.misses = 0;
        } else {
            if cache.misses >= MAX_POST_FIELD_MISSES {
                return None;
            }
            if cache.kept.is_some() {
                cache.misses += 1;
            }
            let mut listed = HeaderList::merged(shared, headers.clone(), CLIENT_HEADERS);
            // Not stateless here: no `Mcp-Method` / `Mcp-Name`, so no method or name to give.
            let sent_session = match self.post_headers(&mut listed, None, None, flags) {
                Ok(s) => s,
                Err(e) => return Some(Err(e)),
            };
            self.client_headers(&mut listed);
            cache.kept = Some(PostFields {
                bytes: HttpClient::encode_fields(&Method::POST, &self.url, &listed),
                headers: headers.clone(),
                shared: shared.cloned(),
                version: flags.version,
                session: flags.session,
                sent_session,
            });
        }
        let kept = cache.kept.as_ref()?;
        Some(Ok((
            self.http
                .send_encoded(origin, &Method::POST, &kept.bytes, body),
            kept.sent_session,
        )))
    }

    fn origin(&self) -> Result<&Origin, Error> {
        self.origin
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("not an HTTP session".into()))
    }

    /// Fills in the MCP headers of a POST; returns whether the session id was sent.
    fn post_headers(
        &self,
        h: &mut HeaderList,
        method_name: Option<&str>,
        name: Option<&str>,
        flags: SendFlags,
    ) -> Result<bool, Error> {
        h.set_default(CONTENT_TYPE, JSON);
        h.set_default(ACCEPT, ACCEPT_BOTH);
        if self.is_stateless() {
            if let Some(m) = method_name {
                h.insert(MCP_METHOD, method_header(m)?);
            }
            if let Some(n) = name {
                h.insert(MCP_NAME, body::header_value(n)?);
            }
        }
        Ok(self.common_headers(h, flags))
    }

    /// Version and session headers; returns whether the session id was sent.
    fn common_headers(&self, h: &mut HeaderList, flags: SendFlags) -> bool {
        let rules = self.version.rules();
        let defines_header = !matches!(
            rules.version_header,
            mcpx_proto::VersionHeader::Undefined | mcpx_proto::VersionHeader::AuthDiscoveryOnly
        );
        if flags.version && defines_header && !h.contains(&MCP_PROTOCOL_VERSION) {
            h.append(
                MCP_PROTOCOL_VERSION,
                HeaderValue::from_static(self.version.as_str()),
            );
        }
        match (&self.session_id, flags.session) {
            (Some(sid), true) => {
                h.insert(MCP_SESSION_ID, sid.clone());
                true
            }
            _ => false,
        }
    }

    /// The client's own headers where the request does not set them, and `Connection: close`
    /// when every request gets a connection of its own.
    fn client_headers(&self, headers: &mut HeaderList) {
        for k in self.opts.headers.keys() {
            if !headers.contains(k) {
                for v in self.opts.headers.get_all(k) {
                    headers.append(k.clone(), v.clone());
                }
            }
        }
        if self.http.options().pool == PoolMode::PerRequest {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
    }

    /// `GET` the endpoint for an SSE stream (standalone stream or resumption).
    pub(crate) async fn get(&self, last_event_id: Option<&str>) -> Result<Reply, Error> {
        let mut h = HeaderList::with_capacity(4);
        h.append(ACCEPT, ACCEPT_SSE);
        if let Some(id) = last_event_id {
            h.append(
                LAST_EVENT_ID,
                HeaderValue::from_str(id).map_err(|e| Error::protocol(format!("event id: {e}")))?,
            );
        }
        self.common_headers(&mut h, SendFlags::ALL);
        self.send_bodiless(Method::GET, h).await
    }

    /// A GET or DELETE with these headers (and the client's), bounded by the request timeout.
    async fn send_bodiless(&self, method: Method, mut headers: HeaderList) -> Result<Reply, Error> {
        self.client_headers(&mut headers);
        tokio::time::timeout(
            self.opts.request_timeout,
            self.http
                .send_listed(self.origin()?, method, &self.url, headers, Bytes::new()),
        )
        .await
        .map_err(|_| Error::Timeout(Phase::Head))?
    }

    async fn delete(&self) -> Result<StatusCode, Error> {
        let mut h = HeaderList::default();
        self.common_headers(&mut h, SendFlags::ALL);
        let mut reply = self.send_bodiless(Method::DELETE, h).await?;
        let _ = tokio::time::timeout(
            self.opts.request_timeout,
            reply
                .body
                .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES),
        )
        .await;
        Ok(reply.status)
    }
}

enum Discovered {
    Modern(Session),
    /// Fall back to `initialize`, with the version the server named if it named one.
    Legacy(Option<ProtocolVersion>),
}

/// `server/discover` (MCP-DIGEST 2.4, 3.9).
async fn discover(base: &Base, transport: Transport) -> Result<Discovered, Error> {
    let probe = Session {
        core: base.core(transport.clone(), ProtocolVersion::LATEST, None, None, 0),
    };
    // A -32022 that names 2026-07-28 among the supported versions asks for one retry.
    match discover_once(base, &probe, transport.clone()).await? {
        Some(d) => Ok(d),
        None => Ok(discover_once(base, &probe, transport)
            .await?
            .unwrap_or(Discovered::Legacy(None))),
    }
}

/// One `server/discover`; `None`: retry (a -32022 that lists 2026-07-28 as supported).
async fn discover_once(
    base: &Base,
    probe: &Session,
    transport: Transport,
) -> Result<Option<Discovered>, Error> {
    let opts = &base.client.opts;
    let attempt = tokio::time::timeout(opts.discovery_timeout, async {
        probe
            .request(method::SERVER_DISCOVER)
            .timeout(opts.discovery_timeout)
            .cancel_on_drop(false)
            .send()
            .await?
            .finish()
            .await
    })
    .await;
    let msg = match attempt {
        Err(_) | Ok(Err(Error::Timeout(_))) => return Ok(Some(Discovered::Legacy(None))),
        Ok(Err(e @ (Error::Connect(_) | Error::Tls(_) | Error::InvalidArgument(_)))) => {
            return Err(e);
        }
        Ok(Err(Error::HttpStatus { body, .. })) => {
            // A modern server explains a 400 with a JSON-RPC error; anything else is legacy.
            match mcpx_wire::decode(body, &mcpx_wire::DecodeOptions::default()) {
                Ok(m) if m.is_error_response() => m,
                _ => return Ok(Some(Discovered::Legacy(None))),
            }
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "server/discover failed; falling back to initialize");
            return Ok(Some(Discovered::Legacy(None)));
        }
        Ok(Ok(m)) => m,
    };
    if let Some(code) = msg.error_code() {
        return match code {
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION => {
                #[derive(serde::Deserialize)]
                struct Data<'a> {
                    #[serde(borrow, default)]
                    supported: Vec<Cow<'a, str>>,
                }
                let data = msg.error_data();
                let supported = data
                    .as_ref()
                    .and_then(|d| d.deserialize::<Data<'_>>().ok())
                    .map(|d| d.supported)
                    .unwrap_or_default();
                if supported
                    .iter()
                    .any(|v| v == ProtocolVersion::LATEST.as_str())
                {
                    return Ok(None);
                }
                Ok(Some(Discovered::Legacy(pick(&supported))))
            }
            ErrorCode::HEADER_MISMATCH | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY => {
                Err(json_rpc_error(&msg))
            }
            _ => Ok(Some(Discovered::Legacy(None))),
        };
    }
    let Some(result) = msg.result() else {
        return Ok(Some(Discovered::Legacy(None)));
    };
    let versions = result.deserialize::<mcp::DiscoverResult<'_>>().map(|d| {
        d.supported_versions
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
    });
    let Ok(versions) = versions else {
        return Ok(Some(Discovered::Legacy(None)));
    };
    if versions
        .iter()
        .any(|v| v == ProtocolVersion::LATEST.as_str())
    {
        // Ids go on from the probe's: unique across the whole conversation.
        let first = probe.core.next_id();
        let core = base.core(
            transport,
            ProtocolVersion::LATEST,
            None,
            Some(result),
            first,
        );
        return Ok(Some(Discovered::Modern(Session { core })));
    }
    let named: Vec<Cow<'_, str>> = versions.iter().map(|v| Cow::Borrowed(v.as_str())).collect();
    Ok(Some(Discovered::Legacy(pick(&named))))
}

/// The newest session-era version in a server's list.
fn pick(versions: &[Cow<'_, str>]) -> Option<ProtocolVersion> {
    versions
        .iter()
        .filter_map(|v| ProtocolVersion::parse(v))
        .filter(|v| v.is_session_era())
        .max()
}

fn json_rpc_error(msg: &Message) -> Error {
    Error::JsonRpc {
        code: msg.error_code().unwrap_or(ErrorCode::INTERNAL_ERROR),
        message: msg.error_message().unwrap_or_default().to_owned(),
        data: msg.error_data(),
    }
}

/// `initialize` over Streamable HTTP, with the HTTP+SSE fallback (MCP-DIGEST 3.9).
async fn initialize_http(base: &Base, version: ProtocolVersion) -> Result<Session, Error> {
    match initialize(base, Transport::Http, version).await {
        Err(Error::HttpStatus { status, body })
            if base.client.opts.legacy_fallback && matches!(status.as_u16(), 400 | 404 | 405) =>
        {
            let original = Error::HttpStatus { status, body };
            match crate::chan::connect_legacy(base).await {
                Ok(chan) => initialize(base, Transport::Chan(chan), version).await,
                Err(e) => {
                    tracing::debug!(error = %e, "legacy HTTP+SSE fallback failed");
                    Err(original)
                }
            }
        }
        other => other,
    }
}

/// The session-era handshake: `initialize`, checks, `notifications/initialized`.
async fn initialize(
    base: &Base,
    transport: Transport,
    version: ProtocolVersion,
) -> Result<Session, Error> {
    let opts = &base.client.opts;
    let pre = Session {
        core: base.core(transport.clone(), version, None, None, 0),
    };
    let mut params = BytesMut::with_capacity(256);
    params.put_slice(br#"{"protocolVersion":"#);
    put_str(&mut params, version.as_str());
    params.put_slice(br#","capabilities":"#);
    params.put_slice(opts.capabilities.as_bytes());
    params.put_slice(br#","clientInfo":"#);
    put_implementation(&mut params, opts);
    params.put_u8(b'}');
    let params = RawJson::from_bytes(params.freeze())?;
    let ex = pre
        .request(method::INITIALIZE)
        .params(params)
        // No version header before the version is negotiated.
        .protocol_version_header(false)
        .cancel_on_drop(false)
        .send()
        .await?;
    let session_id = ex.headers().get(MCP_SESSION_ID).cloned();
    let msg = ex.finish().await?;
    if msg.is_error_response() {
        return Err(json_rpc_error(&msg));
    }
    let result = msg
        .result()
        .ok_or_else(|| Error::protocol("initialize answered without a result"))?;
    let negotiated = {
        let init: mcp::InitializeResult<'_> = result
            .deserialize()
            .map_err(|e| Error::protocol(format!("InitializeResult: {e}")))?;
        ProtocolVersion::parse(&init.protocol_version)
            .filter(|v| v.is_session_era())
            .ok_or_else(|| {
                Error::protocol(format!(
                    "the server chose version {:?}, which this client does not speak",
                    init.protocol_version
                ))
            })?
    };
    if let Some(sid) = &session_id
        && (sid.is_empty() || !sid.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b)))
    {
        return Err(Error::protocol("Mcp-Session-Id is not visible ASCII"));
    }
    let session = Session {
        core: base.core(transport, negotiated, session_id, Some(result), 1),
    };
    session
        .notify(method::NOTIFICATIONS_INITIALIZED, None)
        .await?;
    if opts.background_stream && session.core.is_http() {
        let s = session.clone();
        let task = tokio::spawn(async move {
            match s.open_stream().await {
                Ok(mut stream) => {
                    // Requests are answered inside `next`; notifications go to the handler.
                    while let Ok(Some(ev)) = stream.next().await {
                        if let Some(m) = ev.message()
                            && matches!(ev.kind(), EventKind::Notification | EventKind::Progress)
                        {
                            s.core.opts.handler.notification(m);
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "no standalone GET stream"),
            }
        });
        if let Ok(mut b) = session.core.background.lock() {
            *b = Some(task.abort_handle());
        }
    }
    Ok(session)
}

/// A tool as listed by `tools/list`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ToolInfo {
    /// The name to call it by.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Its input JSON Schema, raw.
    pub input_schema: RawJson,
    /// The whole tool object, raw.
    pub raw: RawJson,
}

/// The outcome of `tools/call`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ToolOutput {
    /// `isError`: the tool failed (a result, not a JSON-RPC error).
    pub is_error: bool,
    /// The text content blocks, concatenated.
    pub text: String,
    /// The whole result, raw.
    pub raw: RawJson,
}

/// One MCP session (or, in the stateless era, one discovered server): cheap to clone; clones
/// share the id counter, the session id and the connection pool.
#[derive(Clone)]
pub struct Session {
    pub(crate) core: Arc<SessionCore>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("url", &self.core.url)
            .field("version", &self.core.version)
            .field("session_id", &self.core.session_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn core(&self) -> &Arc<SessionCore> {
        &self.core
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.core.version
    }

    /// A handle over the same transport and session id under another protocol version (its
    /// own id counter starts where this one's is): for a caller that probed with
    /// `server/discover` on a stdio child or legacy connection and carries on there with
    /// `initialize`, or that learnt the negotiated version. Sends nothing.
    pub fn with_version(&self, version: ProtocolVersion) -> Session {
        let c = &self.core;
        Session {
            core: Arc::new(SessionCore {
                opts: c.opts.clone(),
                http: c.http.clone(),
                url: c.url.clone(),
                origin: c.origin.clone(),
                version,
                session_id: c.session_id.clone(),
                next_id: AtomicI64::new(c.next_id.load(Ordering::Relaxed)),
                meta: (!version.is_session_era()).then(|| stateless_meta(&c.opts, version)),
                server: None,
                transport: c.transport.clone(),
                closed: AtomicBool::new(false),
                background: std::sync::Mutex::new(None),
                tool_headers: std::sync::Mutex::new(HashMap::new()),
                body_buf: std::sync::Mutex::new(BytesMut::new()),
                post_fields: std::sync::Mutex::default(),
            }),
        }
    }

    /// Whether this is a 2026-07-28 (stateless) session.
    pub fn is_stateless(&self) -> bool {
        self.core.is_stateless()
    }

    /// Whether it runs over the legacy HTTP+SSE transport or stdio (not Streamable HTTP).
    pub fn is_channel(&self) -> bool {
        !self.core.is_http()
    }

    /// The `Mcp-Session-Id` the server issued, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.core.session_id.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The `InitializeResult` (session era) or `DiscoverResult` (stateless era), raw.
    pub fn server_result(&self) -> Option<&RawJson> {
        self.core.server.as_ref()
    }

    /// Starts a request (the low-level, timed API).
    pub fn request<'a>(&'a self, method_name: &'a str) -> RequestBuilder<'a> {
        RequestBuilder::new(self, method_name)
    }

    /// Sends a notification.
    ///
    /// # Errors
    ///
    /// As [`RequestBuilder::send`], plus [`Error::HttpStatus`] if it is refused.
    pub async fn notify(&self, method_name: &str, params: Option<RawJson>) -> Result<(), Error> {
        self.core
            .notify_raw(method_name, params.as_ref().map(RawJson::as_bytes))
            .await
    }

    /// Answers a server-to-client request (from an [`Exchange`] event) with the handler.
    pub async fn answer(&self, request: &Message) {
        self.core.answer(request).await;
    }

    /// Sends a request and returns its result, answering server requests on the way and, in
    /// the 2026-07-28 era, following `input_required` results (the handler answers the input
    /// requests; the request is retried with a new id, `inputResponses` and the echoed
    /// `requestState`, at most [`limits::MAX_INPUT_ROUNDS`] times).
    ///
    /// # Errors
    ///
    /// [`Error::JsonRpc`] for an error response, and everything [`Exchange::next`] returns.
    pub async fn call(&self, method_name: &str, params: Option<RawJson>) -> Result<RawJson, Error> {
        self.call_with_headers(method_name, params, &HeaderMap::new())
            .await
    }

    async fn call_with_headers(
        &self,
        method_name: &str,
        params: Option<RawJson>,
        headers: &HeaderMap,
    ) -> Result<RawJson, Error> {
        let mut retry: Option<(Bytes, Option<Bytes>)> = None;
        for _ in 0..=limits::MAX_INPUT_ROUNDS {
            let mut rb = self.request(method_name);
            for (k, v) in headers {
                rb = rb.header(k.clone(), v.clone());
            }
            if let Some(p) = &params {
                rb = rb.params(p.clone());
            }
            if let Some((responses, state)) = retry.take() {
                rb = rb.extra("inputResponses", responses);
                if let Some(s) = state {
                    rb = rb.extra("requestState", s);
                }
            }
            let msg = rb.send().await?.finish().await?;
            if msg.is_error_response() {
                return Err(json_rpc_error(&msg));
            }
            let result = msg
                .result()
                .ok_or_else(|| Error::protocol("response without result"))?;
            if self.is_stateless() && is_input_required(&result) {
                retry = Some(self.answer_inputs(&result).await?);
                continue;
            }
            return Ok(result);
        }
        Err(Error::protocol("the server kept asking for input"))
    }

    async fn answer_inputs(&self, result: &RawJson) -> Result<(Bytes, Option<Bytes>), Error> {
        let ir: mcp::InputRequiredResult<'_> = result
            .deserialize()
            .map_err(|e| Error::protocol(format!("InputRequiredResult: {e}")))?;
        let mut out = BytesMut::with_capacity(256);
        out.put_u8(b'{');
        let mut first = true;
        for (key, req) in ir.input_requests.iter().flatten() {
            let params = req
                .params
                .map(|p| RawJson::from_bytes(Bytes::copy_from_slice(p.get().as_bytes())))
                .transpose()?;
            let answer = handler::dispatch(&*self.core.opts.handler, &req.method, params)
                .await
                .map_err(|e| {
                    Error::protocol(format!(
                        "the client handler refused {}: {}",
                        req.method, e.message
                    ))
                })?;
            if !first {
                out.put_u8(b',');
            }
            first = false;
            put_str(&mut out, key);
            out.put_u8(b':');
            out.put_slice(answer.as_bytes());
        }
        out.put_u8(b'}');
        let state = ir.request_state.as_deref().map(body::json_string);
        Ok((out.freeze(), state))
    }

    /// Follows `nextCursor` through every page of a `*/list` method; returns the items of
    /// `key` (`"tools"`, `"prompts"`, `"resources"`, `"resourceTemplates"`) raw.
    ///
    /// # Errors
    ///
    /// As [`Session::call`]; [`Error::Protocol`] past [`limits::MAX_LIST_PAGES`].
    pub async fn list_all(&self, method_name: &str, key: &str) -> Result<Vec<RawJson>, Error> {
        #[derive(serde::Deserialize)]
        struct Page<'a> {
            #[serde(rename = "nextCursor", borrow, default)]
            next_cursor: Option<Cow<'a, str>>,
        }
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..limits::MAX_LIST_PAGES {
            let params = match &cursor {
                None => None,
                Some(c) => {
                    let mut p = BytesMut::new();
                    p.put_slice(br#"{"cursor":"#);
                    put_str(&mut p, c);
                    p.put_u8(b'}');
                    Some(RawJson::from_bytes(p.freeze())?)
                }
            };
            let result = self.call(method_name, params).await?;
            let bytes = result.clone().into_bytes();
            let list: std::collections::HashMap<Cow<'_, str>, &serde_json::value::RawValue> =
                serde_json::from_slice(&bytes)
                    .map_err(|e| Error::protocol(format!("{method_name}: {e}")))?;
            if let Some(raw) = list.get(key) {
                let arr: Vec<&serde_json::value::RawValue> = serde_json::from_str(raw.get())
                    .map_err(|e| Error::protocol(format!("{method_name}.{key}: {e}")))?;
                for item in arr {
                    items.push(RawJson::from_bytes(bytes.slice_ref(item.get().as_bytes()))?);
                }
            }
            let page: Page<'_> = result
                .deserialize()
                .map_err(|e| Error::protocol(format!("{method_name}: {e}")))?;
            match page.next_cursor {
                Some(c) => cursor = Some(c.into_owned()),
                None => return Ok(items),
            }
        }
        Err(Error::protocol("too many pages"))
    }

    /// `tools/list`, all pages.
    ///
    /// # Errors
    ///
    /// As [`Session::list_all`].
    ///
    /// A tool whose input schema carries an invalid `x-mcp-header` annotation is left out (with
    /// a `tracing` warning), as 2026-07-28 requires; the valid annotations are remembered so
    /// [`Session::call_tool`] sends the `Mcp-Param-*` headers.
    pub async fn list_tools(&self) -> Result<Vec<ToolInfo>, Error> {
        let raw = self.list_all(method::TOOLS_LIST, "tools").await?;
        let mut tools = Vec::with_capacity(raw.len());
        for r in raw {
            let t: mcp::Tool<'_> = r
                .deserialize()
                .map_err(|e| Error::protocol(format!("tool: {e}")))?;
            let schema_value: serde_json::Value =
                serde_json::from_str(t.input_schema.get()).unwrap_or_default();
            match param_headers(&schema_value) {
                Ok(headers) => {
                    if let Ok(mut cache) = self.core.tool_headers.lock() {
                        if headers.is_empty() {
                            cache.remove(t.name.as_ref());
                        } else {
                            cache.insert(t.name.to_string(), headers.into());
                        }
                    }
                }
                Err(why) => {
                    tracing::warn!(tool = %t.name, %why, "tool dropped: invalid x-mcp-header");
                    continue;
                }
            }
            let input_schema = RawJson::from_bytes(
                r.clone()
                    .into_bytes()
                    .slice_ref(t.input_schema.get().as_bytes()),
            )?;
            tools.push(ToolInfo {
                name: t.name.into_owned(),
                description: t.description.map(Cow::into_owned),
                input_schema,
                raw: r.clone(),
            });
        }
        Ok(tools)
    }

    /// The `Mcp-Param-*` headers `tools/call` of `tool` with these arguments carries (from the
    /// `x-mcp-header` annotations seen by [`Session::list_tools`]); empty when there are none.
    /// For the low-level API: add them to a [`RequestBuilder`].
    pub fn param_headers(&self, tool: &str, args: &RawJson) -> HeaderMap {
        let params = self
            .core
            .tool_headers
            .lock()
            .ok()
            .and_then(|c| c.get(tool).cloned());
        match params {
            Some(p) => match args.deserialize::<serde_json::Value>() {
                Ok(v) => headers_for(&p, &v),
                Err(_) => HeaderMap::new(),
            },
            None => HeaderMap::new(),
        }
    }

    /// `tools/call` with arguments serialized from `args` (an object, or `()` for none).
    ///
    /// # Errors
    ///
    /// As [`Session::call`]; [`Error::InvalidArgument`] if `args` is not an object.
    pub async fn call_tool<A: serde::Serialize + ?Sized>(
        &self,
        name: &str,
        args: &A,
    ) -> Result<ToolOutput, Error> {
        let raw =
            RawJson::from_serialize(args).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let args = (!raw.is_null()).then_some(raw);
        self.call_tool_raw(name, args).await
    }

    /// `tools/call` with raw arguments.
    ///
    /// # Errors
    ///
    /// As [`Session::call`].
    pub async fn call_tool_raw(
        &self,
        name: &str,
        args: Option<RawJson>,
    ) -> Result<ToolOutput, Error> {
        let mut p = BytesMut::with_capacity(
            32 + name.len() + args.as_ref().map_or(0, |a| a.as_bytes().len()),
        );
        p.put_slice(br#"{"name":"#);
        put_str(&mut p, name);
        if let Some(a) = &args {
            if !a.is_object() {
                return Err(Error::InvalidArgument(
                    "tool arguments must be an object".into(),
                ));
            }
            p.put_slice(br#","arguments":"#);
            p.put_slice(a.as_bytes());
        }
        p.put_u8(b'}');
        let headers = args
            .as_ref()
            .map(|a| self.param_headers(name, a))
            .unwrap_or_default();
        let raw = self
            .call_with_headers(
                method::TOOLS_CALL,
                Some(RawJson::from_bytes(p.freeze())?),
                &headers,
            )
            .await?;
        let r: mcp::CallToolResult<'_> = raw
            .deserialize()
            .map_err(|e| Error::protocol(format!("CallToolResult: {e}")))?;
        let mut text = String::new();
        for block in &r.content {
            if let mcp::ContentBlock::Text(t) = block {
                text.push_str(&t.text);
            }
        }
        let is_error = r.is_error.unwrap_or(false);
        drop(r);
        Ok(ToolOutput {
            is_error,
            text,
            raw,
        })
    }

    /// `prompts/list`, all pages, raw.
    ///
    /// # Errors
    ///
    /// As [`Session::list_all`].
    pub async fn list_prompts(&self) -> Result<Vec<RawJson>, Error> {
        self.list_all(method::PROMPTS_LIST, "prompts").await
    }

    /// `prompts/get` with string arguments (raw object or `None`); returns the result raw.
    ///
    /// # Errors
    ///
    /// As [`Session::call`].
    pub async fn get_prompt(&self, name: &str, args: Option<RawJson>) -> Result<RawJson, Error> {
        let mut p = BytesMut::new();
        p.put_slice(br#"{"name":"#);
        put_str(&mut p, name);
        if let Some(a) = &args {
            p.put_slice(br#","arguments":"#);
            p.put_slice(a.as_bytes());
        }
        p.put_u8(b'}');
        self.call(method::PROMPTS_GET, Some(RawJson::from_bytes(p.freeze())?))
            .await
    }

    /// `resources/list`, all pages, raw.
    ///
    /// # Errors
    ///
    /// As [`Session::list_all`].
    pub async fn list_resources(&self) -> Result<Vec<RawJson>, Error> {
        self.list_all(method::RESOURCES_LIST, "resources").await
    }

    /// `resources/read`; returns the result raw.
    ///
    /// # Errors
    ///
    /// As [`Session::call`].
    pub async fn read_resource(&self, uri: &str) -> Result<RawJson, Error> {
        let mut p = BytesMut::new();
        p.put_slice(br#"{"uri":"#);
        put_str(&mut p, uri);
        p.put_u8(b'}');
        self.call(
            method::RESOURCES_READ,
            Some(RawJson::from_bytes(p.freeze())?),
        )
        .await
    }

    /// `ping` (session era). 2026-07-28 has no ping; there it sends `server/discover`, the
    /// cheapest request every modern server answers.
    ///
    /// # Errors
    ///
    /// As [`Session::call`].
    pub async fn ping(&self) -> Result<(), Error> {
        let m = if self.is_stateless() {
            method::SERVER_DISCOVER
        } else {
            method::PING
        };
        self.call(m, None).await.map(drop)
    }

    /// Opens the standalone stream of server messages: the GET stream over Streamable HTTP
    /// (session era; resumed with `Last-Event-ID` when it drops), or the queue of unsolicited
    /// messages on legacy HTTP+SSE and stdio (which can be taken once).
    ///
    /// # Errors
    ///
    /// [`Error::HttpStatus`] (405: the server offers no GET stream), [`Error::InvalidArgument`]
    /// in the stateless era (it has no GET stream), [`Error::Closed`] if the queue was taken.
    pub async fn open_stream(&self) -> Result<EventStream, Error> {
        let core = &self.core;
        match &core.transport {
            Transport::Chan(chan) => {
                let rx = chan.take_standalone().ok_or(Error::Closed)?;
                let now = Instant::now();
                let ex = exchange_chan(
                    core.clone(),
                    None,
                    StatusCode::OK,
                    Some(rx),
                    now,
                    now,
                    false,
                );
                Ok(EventStream { inner: ex })
            }
            Transport::Http => {
                if core.is_stateless() {
                    return Err(Error::InvalidArgument(
                        "2026-07-28 has no GET stream (use subscriptions/listen)".into(),
                    ));
                }
                let sent_at = Instant::now();
                let Reply {
                    status,
                    headers,
                    mut body,
                } = core.get(None).await?;
                if !status.is_success() {
                    if status == StatusCode::NOT_FOUND && core.session_id.is_some() {
                        return Err(Error::SessionExpired);
                    }
                    let body = body
                        .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
                        .await;
                    return Err(Error::HttpStatus { status, body });
                }
                let ex = exchange_http(
                    core.clone(),
                    None,
                    status,
                    headers,
                    body,
                    sent_at,
                    sent_at,
                    false,
                    core.session_id.is_some(),
                );
                if !ex.is_sse() {
                    return Err(Error::protocol("the GET stream is not text/event-stream"));
                }
                Ok(ex.into_stream())
            }
        }
    }

    /// A new session like this one (same client, URL and version): what a client must do when
    /// the server answers 404 to its session id ([`Error::SessionExpired`], MCP-DIGEST 3.5).
    /// A stateless session has nothing to expire and is returned as is.
    ///
    /// # Errors
    ///
    /// As [`Client::session`]; [`Error::InvalidArgument`] for stdio and legacy HTTP+SSE
    /// sessions (open those anew with the [`Client`]).
    pub async fn reopen(&self) -> Result<Session, Error> {
        let core = &self.core;
        if !core.is_http() {
            return Err(Error::InvalidArgument(
                "reopen is for Streamable HTTP sessions".into(),
            ));
        }
        if core.is_stateless() {
            return Ok(self.clone());
        }
        let base = Base {
            client: Client {
                opts: core.opts.clone(),
                http: core.http.clone(),
                eras: Arc::default(),
            },
            url: core.url.clone(),
            origin: core.origin.clone(),
        };
        initialize_http(&base, core.version).await
    }

    /// Ends the session: `DELETE` with the session id (Streamable HTTP, session era; a 405 is
    /// fine), closes the legacy SSE stream, or closes the stdio child's stdin and waits for it
    /// (killing it after [`limits::STDIO_EXIT_GRACE`]). Later requests fail with
    /// [`Error::Closed`].
    ///
    /// # Errors
    ///
    /// [`Error::HttpStatus`] if the DELETE is refused with anything but 405.
    pub async fn close(&self) -> Result<(), Error> {
        let core = &self.core;
        if core.closed.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        if let Ok(mut b) = core.background.lock()
            && let Some(task) = b.take()
        {
            task.abort();
        }
        match &core.transport {
            Transport::Chan(chan) => {
                chan.close().await;
                Ok(())
            }
            Transport::Http if core.session_id.is_some() => {
                let status = core.delete().await?;
                if status.is_success()
                    || status == StatusCode::METHOD_NOT_ALLOWED
                    || status == StatusCode::NOT_FOUND
                {
                    Ok(())
                } else {
                    Err(Error::HttpStatus {
                        status,
                        body: Bytes::new(),
                    })
                }
            }
            Transport::Http => Ok(()),
        }
    }
}

fn is_input_required(result: &RawJson) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "resultType", borrow, default)]
        result_type: Option<Cow<'a, str>>,
    }
    result
        .deserialize::<Peek<'_>>()
        .ok()
        .and_then(|p| p.result_type)
        .is_some_and(|t| t == "input_required")
}

pin_project_lite::pin_project! {
    /// [`SessionCore::start_body`]'s future, written out by hand: it is part of every request's
    /// future, and as an `async fn` over the pool's it was one more layer that each request
    /// moved (a memcpy of the whole future) and polled through.
    pub(crate) struct StartBody<'a> {
        state: StartState<'a>,
        // The head timer (`SendFlags::head_timer`), set when the head is first waited for.
        #[pin]
        timer: Option<tokio::time::Sleep>,
    }
}

enum StartState<'a> {
    /// Refused before anything was sent (taken when polled).
    Failed(Option<Error>),
    Http {
        send: ListedSend<'a>,
        then: HttpThen<'a>,
    },
    Chan(ChanSend<'a>),
}

type ChanSend<'a> = Pin<Box<dyn Future<Output = Result<Exchange, Error>> + Send + 'a>>;

/// What an HTTP reply becomes an [`Exchange`] with.
struct HttpThen<'a> {
    core: &'a Arc<SessionCore>,
    id: Option<i64>,
    sent_at: Instant,
    deadline: Instant,
    cancel_on_drop: bool,
    sent_session: bool,
    head_timer: bool,
}

impl StartBody<'_> {
    pub(crate) fn failed(e: Error) -> Self {
        Self {
            state: StartState::Failed(Some(e)),
            timer: None,
        }
    }
}

impl Future for StartBody<'_> {
    type Output = Result<Exchange, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let (send, then) = match this.state {
            StartState::Failed(e) => {
                return Poll::Ready(Err(e.take().unwrap_or(Error::Closed)));
            }
            StartState::Chan(send) => return send.as_mut().poll(cx),
            StartState::Http { send, then } => (send, then),
        };
        if let Poll::Ready(reply) = Pin::new(send).poll(cx) {
            let reply = reply?;
            return Poll::Ready(Ok(exchange_http(
                then.core.clone(),
                then.id,
                reply.status,
                reply.headers,
                reply.body,
                then.sent_at,
                then.deadline,
                then.cancel_on_drop,
                then.sent_session,
            )));
        }
        if !then.head_timer {
            // The caller's own deadline bounds the wait (it drops this future).
            return Poll::Pending;
        }
        if this.timer.is_none() {
            this.timer
                .set(Some(tokio::time::sleep_until(then.deadline.into())));
        }
        let fired = this
            .timer
            .as_mut()
            .as_pin_mut()
            .is_some_and(|t| t.poll(cx).is_ready());
        if !fired {
            return Poll::Pending;
        }
        // The server has the request but not its answer: cancel it (session era); in
        // 2026-07-28 dropping the request already closed the stream.
        if let Some(id) = then.id
            && then.cancel_on_drop
            && then.core.cancels_by_notification()
        {
            then.core.spawn_cancel(id);
        }
        Poll::Ready(Err(Error::Timeout(Phase::Head)))
    }
}
