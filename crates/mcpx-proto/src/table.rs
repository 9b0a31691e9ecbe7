//! [`SessionTable`]: classifies HTTP requests, owns the sessions and in-flight requests of
//! both eras, routes server-to-client messages, expires idle sessions.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};

use crate::Map;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::Method;
use mcpx_wire::mcp::{
    CacheScope, DiscoverResult, Implementation, InitializeResult, Json, ProgressNotificationParams,
    ProgressToken, RequestIdRef, ResultMeta, ResultType, ServerCapabilities, method,
};
use mcpx_wire::{
    DecodeError, DecodeOptions, EncodeError, ErrorCode, Message, MessageKind, MissingId, RawJson,
    RequestId, decode, encode_error, encode_notification, encode_request, encode_result,
    encode_result_raw,
};
use serde::{Deserialize, Serialize};
use slab::Slab;

use crate::config::Config;
use crate::http::{self as h, LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, RequestHead};
use crate::routed::{
    Accepted, Answer, Batch, CancelReason, ClientResponse, Dispatch, Event, OpenStream,
    ResumeStream, Routed, SendError,
};
use crate::session::{Outbound, Session, SessionState};
use crate::{
    ConfigError, EventId, OsRngIds, ProtocolError, ProtocolVersion, Rejection, Resumability,
    SessionId, SessionIdGenerator, StreamKey, Target, Transmit,
};

/// Methods the stateless era removed (MCP-DIGEST 11.1): 404 / -32601 there.
const SESSION_ERA_ONLY: &[&str] = &[
    method::INITIALIZE,
    method::PING,
    method::LOGGING_SET_LEVEL,
    method::RESOURCES_SUBSCRIBE,
    method::RESOURCES_UNSUBSCRIBE,
];

/// Methods the session era does not have: -32601 there.
const STATELESS_ONLY: &[&str] = &[method::SERVER_DISCOVER, method::SUBSCRIPTIONS_LISTEN];

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// Who owns a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Session { idx: usize, serial: u64 },
    Stateless,
}

/// A client request in flight on its response stream.
#[derive(Clone, Debug)]
struct ReqState {
    id: RequestId,
    progress: Option<ProgressToken<'static>>,
    cancelled: bool,
}

#[derive(Clone, Debug)]
struct StreamEntry {
    owner: Owner,
    version: ProtocolVersion,
    /// The seq of the last event id issued (0 = only the priming id).
    seq: u64,
    /// `None` for a standalone GET stream.
    req: Option<ReqState>,
    /// The driver sends this stream as SSE ([`SessionTable::mark_sse`]): once answered it is
    /// remembered for resumption.
    sse: bool,
}

/// A request stream that was answered, kept for a late `Last-Event-ID`.
#[derive(Clone, Copy, Debug)]
struct EndedStream {
    owner: Owner,
    /// The seq of its last event (the response).
    seq: u64,
}

/// All sessions of one server (or one shard of it) and every request in flight, as a plain
/// state machine: no I/O, no clock, no threads, no locks.
///
/// # Call protocol
///
/// The driver (the server's I/O layer) owns the table and is the only one calling it:
///
/// 1. For each HTTP request: [`handle_request`](Self::handle_request)`(now, head, body)`.
///    `Err(Rejection)`: answer with its status, `Retry-After` and
///    [`Rejection::encode_body`]. `Ok(Routed)`: do what it says; a [`Routed::Dispatch`] runs a
///    handler.
/// 2. While a handler runs, send what concerns its request with
///    [`progress`](Self::progress), [`notify`](Self::notify) and
///    [`request_client`](Self::request_client) on [`Target::Request`]; each writes one message
///    into the caller's `BytesMut` and returns the [`Transmit`] naming its stream and SSE id.
/// 3. Every dispatched request ends exactly once: [`respond_result`](Self::respond_result),
///    [`respond_raw`](Self::respond_raw), [`respond_error`](Self::respond_error) or
///    [`abandon`](Self::abandon). A cancelled request's `respond_*` writes nothing and
///    returns [`SendError::Cancelled`].
/// 4. When an HTTP response stream closes: [`handle_stream_closed`](Self::handle_stream_closed).
/// 5. After each call: drain [`poll_event`](Self::poll_event) (cancelled requests to abort,
///    expired sessions), then re-arm the one timer at [`poll_timeout`](Self::poll_timeout) and
///    call [`handle_timeout`](Self::handle_timeout) when it fires.
///
/// Poll order: transmit (the bytes each call wrote), then timeout, then events.
///
/// `now` never goes backwards: pass a monotonic clock. A `now` older than one seen before is
/// treated as that earlier instant.
pub struct SessionTable {
    config: Config,
    pub(crate) ids: Box<dyn SessionIdGenerator>,
    sessions: Slab<Session>,
    by_id: Map<SessionId, usize>,
    /// Idle sessions by expiry deadline: the first is the next to expire and the least
    /// recently used (one TTL for all).
    idle: BTreeSet<(Instant, usize)>,
    streams: Map<StreamKey, StreamEntry>,
    /// Answered SSE request streams of resumable versions, oldest first in `ended_order`
    /// (bounded by [`MAX_ENDED_STREAMS`](crate::limits::MAX_ENDED_STREAMS)).
    ended: Map<StreamKey, EndedStream>,
    ended_order: VecDeque<StreamKey>,
    stateless_in_flight: usize,
    next_stream: u64,
    /// Stream keys go up by this much (the shard count: keys stay congruent to the shard).
    stream_step: u64,
    next_serial: u64,
    events: VecDeque<Event>,
    now: Option<Instant>,
}

impl std::fmt::Debug for SessionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("sessions", &self.sessions.len())
            .field("streams", &self.streams.len())
            .field("stateless_in_flight", &self.stateless_in_flight)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct InitParams<'a> {
    #[serde(rename = "protocolVersion", borrow)]
    protocol_version: Cow<'a, str>,
    #[serde(default, borrow)]
    capabilities: Option<Json<'a>>,
    #[serde(rename = "clientInfo", default, borrow)]
    client_info: Option<Json<'a>>,
}

#[derive(Deserialize, Default)]
struct StatelessMeta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, borrow)]
    protocol_version: Option<Cow<'a, str>>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default, borrow)]
    client_capabilities: Option<Json<'a>>,
    #[serde(rename = "progressToken", default, borrow)]
    progress_token: Option<ProgressToken<'a>>,
    /// Raw: a value of the wrong type is ignored, never a reason to refuse the whole `_meta`.
    #[serde(rename = "io.modelcontextprotocol/logLevel", default, borrow)]
    log_level: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct CancelParams<'a> {
    #[serde(rename = "requestId", default, borrow)]
    request_id: Option<RequestIdRef<'a>>,
}

/// The `_meta` of a request's params, typed; all `None` when params or `_meta` are absent or
/// malformed.
fn request_meta(msg: &Message) -> StatelessMeta<'_> {
    // mcpx-wire's scanner finds `_meta` in place; serde reads only that member. Most requests
    // have none: params without the bytes `_meta` and without any escape cannot hold that key
    // (an escaped key such as `"\u005fmeta"` has a backslash), and two byte searches are far
    // cheaper than a scan.
    msg.params_bytes()
        .filter(|p| memchr::memchr(b'\\', p).is_some() || holds_meta_key(p))
        .and_then(|p| mcpx_wire::object_member(p, "_meta"))
        .and_then(|m| serde_json::from_slice::<StatelessMeta<'_>>(m).ok())
        .unwrap_or_default()
}

/// Whether the bytes `_meta` occur in `p`. A `memchr` for the rare `_` and a compare at each
/// hit: cheaper than building a substring searcher for a few hundred bytes of params.
fn holds_meta_key(p: &[u8]) -> bool {
    memchr::memchr_iter(b'_', p).any(|i| p.get(i..i + 5) == Some(b"_meta".as_slice()))
}

fn owned_token(t: ProgressToken<'_>) -> ProgressToken<'static> {
    match t {
        ProgressToken::Int(i) => ProgressToken::Int(i),
        ProgressToken::Str(s) => ProgressToken::Str(Cow::Owned(s.into_owned())),
    }
}

/// A copy of a borrowed JSON value that outlives the request body (capabilities, client info).
/// `None` only if the value is over the codec's size limit.
fn raw_copy(json: Json<'_>) -> Option<RawJson> {
    RawJson::from_bytes(Bytes::copy_from_slice(json.get().as_bytes())).ok()
}

/// `{}`: the result of `ping`.
#[derive(Serialize)]
struct EmptyObject {}

/// Encodes a JSON-RPC error response into fresh bytes.
fn error_bytes(
    id: Option<&RequestId>,
    missing: MissingId,
    code: ErrorCode,
    message: &str,
) -> Bytes {
    let mut buf = BytesMut::with_capacity(96 + message.len());
    let _ = encode_error::<()>(&mut buf, id, missing, code, message, None);
    buf.freeze()
}

impl SessionTable {
    /// A table with the OS CSPRNG for session ids.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_id_generator(config, Box::new(OsRngIds::new()))
    }

    /// A table with the given session id generator (e.g. [`SeededIds`](crate::SeededIds) in
    /// tests).
    pub fn with_id_generator(
        config: Config,
        ids: Box<dyn SessionIdGenerator>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            ids,
            sessions: Slab::new(),
            by_id: Map::default(),
            idle: BTreeSet::new(),
            streams: Map::default(),
            ended: Map::default(),
            ended_order: VecDeque::new(),
            stateless_in_flight: 0,
            next_stream: 1,
            stream_step: 1,
            next_serial: 0,
            events: VecDeque::new(),
            now: None,
        })
    }

    /// Stream keys `index + step`, `index + 2 * step`, ... (shard `index` of `step`).
    pub(crate) fn set_stream_keys(&mut self, index: u64, step: u64) {
        self.stream_step = step.max(1);
        self.next_stream = index + self.stream_step;
    }

    /// A fresh stream key.
    pub(crate) fn new_stream_key(&mut self) -> StreamKey {
        let key = StreamKey::new(self.next_stream);
        self.next_stream += self.stream_step;
        key
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Stateless-era requests in flight.
    pub fn stateless_in_flight(&self) -> usize {
        self.stateless_in_flight
    }

    /// A session by id.
    pub fn session(&self, id: &SessionId) -> Option<&Session> {
        self.by_id.get(id).and_then(|&i| self.sessions.get(i))
    }

    /// The ids of all sessions held (arbitrary order).
    pub fn session_ids(&self) -> impl Iterator<Item = &SessionId> {
        self.by_id.keys()
    }

    fn clock(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |seen| seen.max(now));
        self.now = Some(now);
        now
    }

    fn new_stream(
        &mut self,
        owner: Owner,
        version: ProtocolVersion,
        req: Option<ReqState>,
    ) -> StreamKey {
        let key = self.new_stream_key();
        self.streams.insert(
            key,
            StreamEntry {
                owner,
                version,
                seq: 0,
                req,
                sse: false,
            },
        );
        key
    }

    /// Tells the table that `stream` is sent as SSE (the driver chose an SSE response for it):
    /// in a version with resumable streams, the stream stays resumable with `Last-Event-ID`
    /// after its response, for the last [`MAX_ENDED_STREAMS`](crate::limits::MAX_ENDED_STREAMS)
    /// such streams. Streams answered as JSON are not remembered (nothing to resume). O(1).
    pub fn mark_sse(&mut self, stream: StreamKey) {
        if let Some(entry) = self.streams.get_mut(&stream) {
            entry.sse = true;
        }
    }

    /// Remembers an answered SSE stream (see [`mark_sse`](Self::mark_sse)).
    fn remember_ended(&mut self, key: StreamKey, owner: Owner, seq: u64) {
        if self.ended_order.len() >= crate::limits::MAX_ENDED_STREAMS
            && let Some(old) = self.ended_order.pop_front()
        {
            self.ended.remove(&old);
        }
        self.ended.insert(key, EndedStream { owner, seq });
        self.ended_order.push_back(key);
    }

    /// Updates a session's activity time and its place in the idle index.
    fn touch(&mut self, idx: usize, now: Instant) {
        let ttl = self.config.idle_ttl;
        let Some(s) = self.sessions.get_mut(idx) else {
            return;
        };
        s.last_activity = now;
        if let Some(d) = s.idle_deadline.take() {
            self.idle.remove(&(d, idx));
        }
        if s.is_idle() {
            // Config caps the TTL, so this cannot overflow; if it did, the session is simply
            // never idle-expired (it can still be evicted as busy sessions cannot).
            if let Some(d) = now.checked_add(ttl) {
                s.idle_deadline = Some(d);
                self.idle.insert((d, idx));
            }
        }
    }

    fn remove_session(&mut self, idx: usize, reason: CancelReason) -> Option<SessionId> {
        if !self.sessions.contains(idx) {
            return None;
        }
        let s = self.sessions.remove(idx);
        if let Some(d) = s.idle_deadline {
            self.idle.remove(&(d, idx));
        }
        self.by_id.remove(&s.id);
        for (id, key) in s.inbound {
            if let Some(entry) = self.streams.remove(&key)
                && entry.req.is_some_and(|r| !r.cancelled)
            {
                self.events.push_back(Event::RequestCancelled {
                    session: Some(s.id.clone()),
                    stream: key,
                    id,
                    reason,
                });
            }
        }
        if let Some((key, _)) = s.get_stream {
            self.streams.remove(&key);
        }
        Some(s.id)
    }

    // -----------------------------------------------------------------------------------------
    // Input
    // -----------------------------------------------------------------------------------------

    /// Classifies one HTTP request and applies it: the module table of [`crate::http`] gives the
    /// checks in order. `body` is the whole request body (empty for GET and DELETE).
    ///
    /// Cost: one decode of the body (zero-copy), O(1) hash lookups; allocations only for what
    /// it keeps (a new session, an in-flight entry) and for answers it writes itself.
    pub fn handle_request(
        &mut self,
        now: Instant,
        head: &RequestHead<'_>,
        body: Bytes,
    ) -> Result<Routed, Rejection> {
        let now = self.clock(now);
        let header_version = head
            .headers
            .get(MCP_PROTOCOL_VERSION)
            .and_then(|v| v.to_str().ok())
            .and_then(ProtocolVersion::parse);
        let reject = |e| Rejection::new(e, header_version, None);
        if let Some(path) = &self.config.path
            && head.path != path
        {
            return Err(reject(ProtocolError::NotFound));
        }
        h::check_transport(head, &self.config).map_err(reject)?;
        if *head.method == Method::POST && body.len() > self.config.max_body_bytes {
            return Err(reject(ProtocolError::BodyTooLarge {
                limit: self.config.max_body_bytes,
            }));
        }
        let sid = h::single(head.headers, &MCP_SESSION_ID, "mcp-session-id").map_err(reject)?;
        let hv = h::single(head.headers, &MCP_PROTOCOL_VERSION, "mcp-protocol-version")
            .map_err(reject)?
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(ProtocolVersion::parse)
                    // Without the stateless era, its version is one this server does not speak.
                    .filter(|v| self.config.stateless_era || v.is_session_era())
            });
        let stateless_header = hv == Some(Some(ProtocolVersion::V2026_07_28));

        // A stateless request ignores any Mcp-Session-Id (MCP-DIGEST 3.8).
        if let (Some(sid), false) = (sid, stateless_header) {
            let idx = sid
                .to_str()
                .ok()
                .filter(|s| self.ids.validate(s) && SessionId::is_valid(s))
                .and_then(|id| self.by_id.get(id).copied())
                .ok_or_else(|| reject(ProtocolError::UnknownSession))?;
            let version = self
                .sessions
                .get(idx)
                .map(|s| s.version)
                .ok_or_else(|| reject(ProtocolError::UnknownSession))?;
            let reject = |e| Rejection::new(e, Some(version), None);
            match hv {
                None => {}
                Some(None) => return Err(reject(ProtocolError::UnsupportedVersionHeader)),
                Some(Some(v)) if v != version && self.config.strict_version_header => {
                    return Err(reject(ProtocolError::VersionHeaderMismatch {
                        negotiated: version,
                    }));
                }
                Some(Some(_)) => {}
            }
            return if *head.method == Method::POST {
                self.session_post(now, idx, version, body)
            } else if *head.method == Method::GET {
                self.session_get(now, idx, version, head)
            } else {
                self.session_delete(idx, version)
            };
        }

        if *head.method == Method::GET {
            return Err(reject(
                if stateless_header || !self.config.offer_get_stream {
                    ProtocolError::GetStreamNotOffered
                } else {
                    ProtocolError::MissingSessionId
                },
            ));
        }
        if *head.method == Method::DELETE {
            return Err(reject(if stateless_header {
                ProtocolError::MethodNotAllowed
            } else {
                ProtocolError::MissingSessionId
            }));
        }
        self.sessionless_post(now, head, hv, body)
    }

    /// A POST without a (usable) session id: `initialize`, a stateless request, or a 400.
    fn sessionless_post(
        &mut self,
        now: Instant,
        head: &RequestHead<'_>,
        hv: Option<Option<ProtocolVersion>>,
        body: Bytes,
    ) -> Result<Routed, Rejection> {
        let stateless_header = hv == Some(Some(ProtocolVersion::V2026_07_28));
        let version = hv.flatten();
        let mut opts = DecodeOptions::new();
        opts.max_message_bytes(self.config.max_body_bytes)
            .allow_batch(true);
        let msg = decode(body, &opts).map_err(|e| decode_rejection(&e, version))?;
        let reject = |e, id: Option<&RequestId>| Rejection::new(e, version, id.cloned());
        match msg.kind() {
            MessageKind::Batch => {
                let v = version.unwrap_or(ProtocolVersion::HEADERLESS_DEFAULT);
                Err(reject(
                    if v.rules().batches {
                        ProtocolError::MissingSessionId
                    } else {
                        ProtocolError::BatchNotAllowed { version: v }
                    },
                    None,
                ))
            }
            // `initialize` carrying the stateless `_meta` is a 2026-07-28 request for a removed
            // method (404 / -32601 there), not a handshake.
            MessageKind::Request
                if msg.method() == Some(method::INITIALIZE)
                    && (!self.config.stateless_era
                        || request_meta(&msg).protocol_version.is_none()) =>
            {
                self.initialize(now, &msg)
            }
            MessageKind::Request => {
                let has_meta_version =
                    self.config.stateless_era && request_meta(&msg).protocol_version.is_some();
                if stateless_header || has_meta_version {
                    self.stateless_request(head, msg)
                } else if hv == Some(None) {
                    Err(reject(ProtocolError::UnsupportedVersionHeader, msg.id()))
                } else {
                    Err(reject(ProtocolError::MissingSessionId, msg.id()))
                }
            }
            MessageKind::Notification if stateless_header => Ok(Routed::Accepted(Accepted {
                session: None,
                notification: Some(msg),
            })),
            MessageKind::Response | MessageKind::ErrorResponse if stateless_header => {
                Err(reject(ProtocolError::UnexpectedResponse, None))
            }
            _ if hv == Some(None) => Err(reject(ProtocolError::UnsupportedVersionHeader, None)),
            _ => Err(reject(ProtocolError::MissingSessionId, None)),
        }
    }

    /// `initialize` without a session: negotiate, create the session, answer.
    fn initialize(&mut self, now: Instant, msg: &Message) -> Result<Routed, Rejection> {
        let id = msg.id().cloned().unwrap_or(RequestId::from_i64(0));
        let params = match msg.params_as::<InitParams<'_>>() {
            Some(Ok(p)) => p,
            _ => {
                let v = ProtocolVersion::LATEST_SESSION_ERA;
                return Ok(Routed::Answer(Answer {
                    body: error_bytes(
                        Some(&id),
                        v.rules().missing_id,
                        ErrorCode::INVALID_PARAMS,
                        "Invalid params: initialize needs protocolVersion, capabilities and clientInfo",
                    ),
                    new_session: None,
                    version: v,
                }));
            }
        };
        let version = ProtocolVersion::negotiate(&params.protocol_version);
        let retry_after = self.config.retry_after;
        let overloaded = || {
            Rejection::new(ProtocolError::Overloaded, Some(version), Some(id.clone()))
                .with_retry_after(retry_after)
        };
        if self.sessions.len() >= self.config.max_sessions {
            let Some(&(_, victim)) = self.idle.first() else {
                return Err(overloaded());
            };
            if let Some(gone) = self.remove_session(victim, CancelReason::SessionEnded) {
                self.events.push_back(Event::SessionEvicted(gone));
            }
        }
        // A collision among 128-bit random ids means a broken generator: refuse, don't loop.
        let Some(sid) = self.ids.generate().filter(|s| !self.by_id.contains_key(s)) else {
            return Err(overloaded());
        };
        let caps = params.capabilities.and_then(raw_copy);
        let info = params.client_info.and_then(raw_copy);
        let serial = self.next_serial;
        self.next_serial += 1;
        let mut session = Session::new(sid.clone(), version, caps, info, now, serial);
        session.state = SessionState::AwaitingInitialized;
        let idx = self.sessions.insert(session);
        self.by_id.insert(sid.clone(), idx);
        self.touch(idx, now);

        let mut buf = BytesMut::with_capacity(256 + self.config.capabilities.len());
        let rules = version.rules();
        let capabilities: ServerCapabilities<'_> =
            serde_json::from_str(&self.config.capabilities).unwrap_or_default();
        let result = InitializeResult {
            protocol_version: Cow::Borrowed(version.as_str()),
            capabilities,
            server_info: self.implementation(version),
            instructions: self
                .config
                .instructions
                .as_deref()
                .filter(|_| rules.instructions)
                .map(Cow::Borrowed),
            meta: None,
        };
        if encode_result(&mut buf, &id, &result).is_err() {
            buf.clear();
            let _ = encode_error::<()>(
                &mut buf,
                Some(&id),
                rules.missing_id,
                ErrorCode::INTERNAL_ERROR,
                "Internal error",
                None,
            );
        }
        Ok(Routed::Answer(Answer {
            body: buf.freeze(),
            new_session: Some(sid),
            version,
        }))
    }

    fn implementation(&self, version: ProtocolVersion) -> Implementation<'_> {
        let rules = version.rules();
        Implementation {
            name: Cow::Borrowed(&self.config.server_name),
            title: self
                .config
                .server_title
                .as_deref()
                .filter(|_| rules.implementation_title)
                .map(Cow::Borrowed),
            version: Cow::Borrowed(&self.config.server_version),
            description: None,
            icons: None,
            website_url: None,
        }
    }

    /// A 2026-07-28 request: check `_meta` and headers, answer `server/discover`, dispatch the
    /// rest (MCP-DIGEST 2.3, 3.8).
    fn stateless_request(
        &mut self,
        head: &RequestHead<'_>,
        msg: Message,
    ) -> Result<Routed, Rejection> {
        const V: ProtocolVersion = ProtocolVersion::V2026_07_28;
        let Some(id) = msg.id().cloned() else {
            let kind = mcpx_wire::DecodeErrorKind::NotAMessage;
            return Err(Rejection::new(
                ProtocolError::Decode { kind },
                Some(V),
                None,
            ));
        };
        let reject = |e| Rejection::new(e, Some(V), Some(id.clone()));
        let meta = request_meta(&msg);
        let Some(requested) = meta.protocol_version.as_deref() else {
            return Err(reject(ProtocolError::MissingMeta { key: META_VERSION }));
        };
        // The header must repeat the body's version before the version itself is judged: a
        // request whose header and `_meta` disagree is malformed (-32020), whatever it asks for.
        let header = head
            .headers
            .get(MCP_PROTOCOL_VERSION)
            .and_then(|v| v.to_str().ok());
        if header != Some(requested) {
            return Err(reject(ProtocolError::HeaderMismatch {
                header: "mcp-protocol-version",
            }));
        }
        if ProtocolVersion::parse(requested).is_none_or(ProtocolVersion::is_session_era) {
            return Err(reject(ProtocolError::UnsupportedProtocolVersion {
                requested: requested.to_owned(),
            }));
        }
        h::check_method_headers(head.headers, &msg, &self.config).map_err(reject)?;
        let Some(caps) = meta.client_capabilities else {
            return Err(reject(ProtocolError::MissingMeta {
                key: META_CAPABILITIES,
            }));
        };
        let m = msg.method().unwrap_or_default();
        if m == method::SERVER_DISCOVER {
            return Ok(Routed::Answer(Answer {
                body: self.discover_body(&id),
                new_session: None,
                version: V,
            }));
        }
        if !self.config.dispatch_methods.contains(m) || SESSION_ERA_ONLY.contains(&m) {
            return Err(reject(ProtocolError::MethodNotFound));
        }
        if self.stateless_in_flight >= self.config.max_stateless_in_flight {
            return Err(reject(ProtocolError::Overloaded).with_retry_after(self.config.retry_after));
        }
        let progress = meta.progress_token.map(owned_token);
        let wants_progress = progress.is_some();
        let client_capabilities = raw_copy(caps);
        let log_level = meta
            .log_level
            .and_then(|l| serde_json::from_str::<String>(l.get()).ok());
        let stream = self.new_stream(
            Owner::Stateless,
            V,
            Some(ReqState {
                id: id.clone(),
                progress,
                cancelled: false,
            }),
        );
        self.stateless_in_flight += 1;
        Ok(Routed::Dispatch(Dispatch {
            session: None,
            stream,
            id,
            version: V,
            message: msg,
            client_capabilities,
            log_level,
            priming: None,
            wants_progress,
        }))
    }

    fn discover_body(&self, id: &RequestId) -> Bytes {
        let v = ProtocolVersion::V2026_07_28;
        let mut buf = BytesMut::with_capacity(384 + self.config.capabilities.len());
        let meta = serde_json::to_string(&ResultMeta {
            server_info: Some(self.implementation(v)),
            subscription_id: None,
        })
        .unwrap_or_default();
        let result = DiscoverResult {
            result_type: Some(ResultType::Complete),
            supported_versions: ProtocolVersion::supported_strs()
                .into_iter()
                .map(Cow::Borrowed)
                .collect(),
            capabilities: serde_json::from_str(&self.config.capabilities).unwrap_or_default(),
            instructions: self.config.instructions.as_deref().map(Cow::Borrowed),
            ttl_ms: Some(i64::try_from(self.config.discover_ttl.as_millis()).unwrap_or(i64::MAX)),
            cache_scope: Some(CacheScope::Public),
            meta: Json::new(&meta).ok(),
        };
        if encode_result(&mut buf, id, &result).is_err() {
            return error_bytes(
                Some(id),
                v.rules().missing_id,
                ErrorCode::INTERNAL_ERROR,
                "Internal error",
            );
        }
        buf.freeze()
    }

    /// A POST on a session.
    fn session_post(
        &mut self,
        now: Instant,
        idx: usize,
        version: ProtocolVersion,
        body: Bytes,
    ) -> Result<Routed, Rejection> {
        let rules = version.rules();
        let mut opts = DecodeOptions::new();
        opts.max_message_bytes(self.config.max_body_bytes)
            .allow_batch(rules.batches);
        let msg = decode(body, &opts).map_err(|e| {
            if e.kind() == mcpx_wire::DecodeErrorKind::BatchNotAllowed {
                Rejection::new(
                    ProtocolError::BatchNotAllowed { version },
                    Some(version),
                    None,
                )
            } else {
                decode_rejection(&e, Some(version))
            }
        })?;
        let out = if let Some(items) = msg.batch() {
            let mut routed = Vec::with_capacity(items.len());
            for item in items {
                let r = match item {
                    Ok(m) if m.is_request() && m.method() == Some(method::INITIALIZE) => {
                        Err(Rejection::new(
                            ProtocolError::BatchNotAllowed { version },
                            Some(version),
                            m.id().cloned(),
                        ))
                    }
                    Ok(m) => self.session_message(now, idx, version, m.clone()),
                    Err(e) => Err(decode_rejection(e, Some(version))),
                };
                match r {
                    Ok(Routed::Accepted(a)) if a.notification.is_none() => {}
                    Ok(r) => routed.push(r),
                    // A member that is not a notification gets its error as its response.
                    Err(rej) if !(matches!(item, Ok(m) if m.is_notification())) => {
                        let mut buf = BytesMut::new();
                        rej.encode_body(&mut buf);
                        routed.push(Routed::Answer(Answer {
                            body: buf.freeze(),
                            new_session: None,
                            version,
                        }));
                    }
                    Err(_) => {}
                }
            }
            let session = self
                .sessions
                .get(idx)
                .map(|s| s.id.clone())
                .ok_or_else(|| {
                    Rejection::new(ProtocolError::UnknownSession, Some(version), None)
                })?;
            Ok(Routed::Batch(Batch {
                session,
                items: routed,
            }))
        } else {
            self.session_message(now, idx, version, msg)
        };
        self.touch(idx, now);
        out
    }

    /// One message on a session (alone or a batch member).
    fn session_message(
        &mut self,
        now: Instant,
        idx: usize,
        version: ProtocolVersion,
        msg: Message,
    ) -> Result<Routed, Rejection> {
        let rules = version.rules();
        let Some(session) = self.sessions.get_mut(idx) else {
            return Err(Rejection::new(
                ProtocolError::UnknownSession,
                Some(version),
                None,
            ));
        };
        session.last_activity = now;
        let sid = session.id.clone();
        let reject = |e, id: Option<&RequestId>| Rejection::new(e, Some(version), id.cloned());
        match msg.kind() {
            MessageKind::Request => {
                let Some(id) = msg.id().cloned() else {
                    return Err(reject(ProtocolError::UnexpectedResponse, None));
                };
                let m = msg.method().unwrap_or_default();
                if m == method::INITIALIZE {
                    return Err(reject(ProtocolError::AlreadyInitialized, Some(&id)));
                }
                if session.inbound.contains_key(&id) {
                    return Err(reject(ProtocolError::DuplicateRequestId, Some(&id)));
                }
                if m == method::PING {
                    let mut buf = BytesMut::with_capacity(48);
                    let _ = encode_result(&mut buf, &id, &EmptyObject {});
                    return Ok(Routed::Answer(Answer {
                        body: buf.freeze(),
                        new_session: None,
                        version,
                    }));
                }
                if self.config.strict_lifecycle && session.state != SessionState::Ready {
                    return Err(reject(ProtocolError::NotInitialized, Some(&id)));
                }
                if !self.config.dispatch_methods.contains(m) || STATELESS_ONLY.contains(&m) {
                    return Ok(Routed::Answer(Answer {
                        body: error_bytes(
                            Some(&id),
                            rules.missing_id,
                            ErrorCode::METHOD_NOT_FOUND,
                            "Method not found",
                        ),
                        new_session: None,
                        version,
                    }));
                }
                if session.inbound.len() >= self.config.max_in_flight_per_session {
                    return Err(reject(
                        ProtocolError::TooManyInFlight {
                            limit: self.config.max_in_flight_per_session,
                        },
                        Some(&id),
                    )
                    .with_retry_after(self.config.retry_after));
                }
                if session.open_streams() >= self.config.max_streams_per_session {
                    return Err(reject(
                        ProtocolError::TooManyStreams {
                            limit: self.config.max_streams_per_session,
                        },
                        Some(&id),
                    )
                    .with_retry_after(self.config.retry_after));
                }
                let serial = session.serial;
                let progress = request_meta(&msg).progress_token.map(owned_token);
                let wants_progress = progress.is_some();
                let stream = self.new_stream(
                    Owner::Session { idx, serial },
                    version,
                    Some(ReqState {
                        id: id.clone(),
                        progress,
                        cancelled: false,
                    }),
                );
                if let Some(s) = self.sessions.get_mut(idx) {
                    s.inbound.insert(id.clone(), stream);
                }
                Ok(Routed::Dispatch(Dispatch {
                    session: Some(sid),
                    stream,
                    id,
                    version,
                    message: msg,
                    client_capabilities: None,
                    log_level: None,
                    priming: rules.priming_event.then_some(EventId { stream, seq: 0 }),
                    wants_progress,
                }))
            }
            MessageKind::Notification => {
                let m = msg.method().unwrap_or_default();
                if m == method::NOTIFICATIONS_INITIALIZED {
                    if session.state == SessionState::AwaitingInitialized {
                        session.state = SessionState::Ready;
                    }
                    return Ok(accepted(Some(sid), None));
                }
                if m == method::NOTIFICATIONS_CANCELLED {
                    let target = match msg.params_as::<CancelParams<'_>>() {
                        Some(Ok(CancelParams {
                            request_id: Some(r),
                        })) => Some(match r {
                            RequestIdRef::Int(i) => RequestId::from_i64(i),
                            RequestIdRef::Str(s) => RequestId::from_string(&s),
                        }),
                        _ => None,
                    };
                    // Unknown, finished or malformed cancellations are ignored (MCP-DIGEST 7.3).
                    if let Some(key) = target.and_then(|id| session.inbound.get(&id).copied()) {
                        self.cancel_stream(key, CancelReason::Notification);
                    }
                    return Ok(accepted(Some(sid), None));
                }
                Ok(accepted(Some(sid), Some(msg)))
            }
            MessageKind::Response | MessageKind::ErrorResponse => {
                let waiting = msg.id().and_then(|id| session.outbound.remove_entry(id));
                match waiting {
                    Some((id, out)) => Ok(Routed::ClientResponse(ClientResponse {
                        session: sid,
                        id,
                        related: out.related,
                        message: msg,
                    })),
                    // A late answer to a request the server gave up on: accepted and dropped.
                    None => Ok(accepted(Some(sid), None)),
                }
            }
            MessageKind::Batch => Err(reject(ProtocolError::BatchNotAllowed { version }, None)),
        }
    }

    /// Marks a request cancelled and emits the event (once).
    fn cancel_stream(&mut self, key: StreamKey, reason: CancelReason) {
        let Some(entry) = self.streams.get_mut(&key) else {
            return;
        };
        let Some(req) = entry.req.as_mut().filter(|r| !r.cancelled) else {
            return;
        };
        req.cancelled = true;
        let session = match entry.owner {
            Owner::Session { idx, .. } => self.sessions.get(idx).map(|s| s.id.clone()),
            Owner::Stateless => None,
        };
        self.events.push_back(Event::RequestCancelled {
            session,
            stream: key,
            id: req.id.clone(),
            reason,
        });
    }

    fn session_get(
        &mut self,
        now: Instant,
        idx: usize,
        version: ProtocolVersion,
        head: &RequestHead<'_>,
    ) -> Result<Routed, Rejection> {
        let reject = |e| Rejection::new(e, Some(version), None);
        if !self.config.offer_get_stream || !version.rules().get_stream {
            return Err(reject(ProtocolError::GetStreamNotOffered));
        }
        let Some(session) = self.sessions.get(idx) else {
            return Err(reject(ProtocolError::UnknownSession));
        };
        let (sid, serial) = (session.id.clone(), session.serial);
        let (get_stream, open_streams) = (session.get_stream, session.open_streams());
        if let Some(last) = head.headers.get(LAST_EVENT_ID) {
            let resumable = version.rules().resumability != Resumability::None;
            let owner = Owner::Session { idx, serial };
            let mut ended = false;
            let event = last
                .to_str()
                .ok()
                .and_then(EventId::parse)
                .filter(|e| {
                    resumable
                        && match self.streams.get(&e.stream) {
                            Some(s) => s.owner == owner && e.seq <= s.seq,
                            None => self.ended.get(&e.stream).is_some_and(|s| {
                                ended = true;
                                s.owner == owner && e.seq <= s.seq
                            }),
                        }
                })
                .ok_or_else(|| reject(ProtocolError::BadLastEventId))?;
            if let Some(s) = self.sessions.get_mut(idx)
                && let Some((k, connected)) = s.get_stream.as_mut()
                && *k == event.stream
            {
                *connected = true;
            }
            self.touch(idx, now);
            return Ok(Routed::ResumeStream(ResumeStream {
                session: sid,
                last_event_id: event,
                ended,
            }));
        }
        match get_stream {
            Some((_, true)) => return Err(reject(ProtocolError::StreamConflict)),
            Some((old, false)) => {
                // A plain GET starts a fresh stream; the disconnected one cannot be resumed.
                self.streams.remove(&old);
            }
            None => {}
        }
        if open_streams >= self.config.max_streams_per_session {
            return Err(reject(ProtocolError::TooManyStreams {
                limit: self.config.max_streams_per_session,
            })
            .with_retry_after(self.config.retry_after));
        }
        let stream = self.new_stream(Owner::Session { idx, serial }, version, None);
        if let Some(s) = self.sessions.get_mut(idx) {
            s.get_stream = Some((stream, true));
        }
        self.touch(idx, now);
        Ok(Routed::OpenStream(OpenStream {
            session: sid,
            stream,
            priming: version
                .rules()
                .priming_event
                .then_some(EventId { stream, seq: 0 }),
        }))
    }

    fn session_delete(
        &mut self,
        idx: usize,
        version: ProtocolVersion,
    ) -> Result<Routed, Rejection> {
        if !self.config.allow_delete {
            return Err(Rejection::new(
                ProtocolError::MethodNotAllowed,
                Some(version),
                None,
            ));
        }
        self.remove_session(idx, CancelReason::SessionEnded)
            .map(Routed::SessionDeleted)
            .ok_or_else(|| Rejection::new(ProtocolError::UnknownSession, Some(version), None))
    }

    /// An HTTP response stream closed (client disconnect, or the server ended it).
    ///
    /// Stateless era: the request is cancelled ([`Event::RequestCancelled`] with
    /// [`CancelReason::StreamClosed`]). Session era: a disconnect is not a cancellation
    /// (MCP-DIGEST 3.2); the request stays in flight and its messages keep their stream for a
    /// resumption; a standalone GET stream is marked disconnected (a new GET may open).
    pub fn handle_stream_closed(&mut self, now: Instant, stream: StreamKey) {
        let now = self.clock(now);
        let Some(entry) = self.streams.get(&stream) else {
            return;
        };
        match (entry.owner, entry.req.is_some()) {
            (Owner::Stateless, true) => self.cancel_stream(stream, CancelReason::StreamClosed),
            (Owner::Session { idx, .. }, is_req) => {
                if !is_req
                    && let Some(s) = self.sessions.get_mut(idx)
                    && let Some((k, connected)) = s.get_stream.as_mut()
                    && *k == stream
                {
                    *connected = false;
                }
                self.touch(idx, now);
            }
            (Owner::Stateless, false) => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Output
    // -----------------------------------------------------------------------------------------

    /// Which stream a message about `target` goes on (MCP-DIGEST 3.4, 8.2): a live request's
    /// own response stream, or the session's standalone GET stream. `None`: nowhere (the
    /// request is over or cancelled, or the session has no GET stream). O(1).
    pub fn route(&self, target: &Target) -> Option<StreamKey> {
        match target {
            Target::Request(key) => self
                .streams
                .get(key)
                .and_then(|e| e.req.as_ref())
                .filter(|r| !r.cancelled)
                .map(|_| *key),
            Target::Session(id) => self.session(id).and_then(Session::get_stream),
        }
    }

    fn next_event_id(&mut self, key: StreamKey, ends: bool) -> Option<Transmit> {
        let entry = self.streams.get_mut(&key)?;
        entry.seq += 1;
        let event_id =
            (entry.version.rules().resumability != Resumability::None).then_some(EventId {
                stream: key,
                seq: entry.seq,
            });
        Some(Transmit {
            stream: key,
            event_id,
            ends_stream: ends,
        })
    }

    /// Ends a request: removes it and updates its owner. Returns its id, owner and version.
    fn finish(
        &mut self,
        now: Instant,
        key: StreamKey,
    ) -> Option<(ReqState, Owner, ProtocolVersion)> {
        let entry = self.streams.get(&key)?;
        let (owner, version) = (entry.owner, entry.version);
        entry.req.as_ref()?;
        let entry = self.streams.remove(&key)?;
        if entry.sse
            && matches!(owner, Owner::Session { .. })
            && version.rules().resumability != Resumability::None
        {
            self.remember_ended(key, owner, entry.seq);
        }
        let req = entry.req?;
        match owner {
            Owner::Stateless => {
                self.stateless_in_flight = self.stateless_in_flight.saturating_sub(1)
            }
            Owner::Session { idx, .. } => {
                if let Some(s) = self.sessions.get_mut(idx) {
                    s.inbound.remove(&req.id);
                }
                self.touch(idx, now);
            }
        }
        Some((req, owner, version))
    }

    fn respond_with(
        &mut self,
        now: Instant,
        stream: StreamKey,
        buf: &mut BytesMut,
        encode: impl FnOnce(&mut BytesMut, &RequestId) -> Result<(), EncodeError>,
    ) -> Result<Transmit, SendError> {
        let now = self.clock(now);
        let cancelled = self
            .streams
            .get(&stream)
            .and_then(|e| e.req.as_ref())
            .map(|r| r.cancelled)
            .ok_or(SendError::Gone)?;
        if cancelled {
            self.finish(now, stream);
            return Err(SendError::Cancelled);
        }
        let transmit = self.next_event_id(stream, true).ok_or(SendError::Gone)?;
        let (req, _, version) = self.finish(now, stream).ok_or(SendError::Gone)?;
        if encode(buf, &req.id).is_err() {
            let _ = encode_error::<()>(
                buf,
                Some(&req.id),
                version.rules().missing_id,
                ErrorCode::INTERNAL_ERROR,
                "Internal error: the result failed to serialize",
                None,
            );
        }
        Ok(transmit)
    }

    /// Answers a dispatched request with a result (serialized with serde into `buf`) and ends
    /// it. If the result fails to serialize, a -32603 error is written instead. A cancelled
    /// request gets nothing ([`SendError::Cancelled`]) and is freed all the same.
    pub fn respond_result<R: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        stream: StreamKey,
        result: &R,
        buf: &mut BytesMut,
    ) -> Result<Transmit, SendError> {
        self.respond_with(now, stream, buf, |buf, id| encode_result(buf, id, result))
    }

    /// [`respond_result`](Self::respond_result) with a raw result object, copied verbatim.
    pub fn respond_raw(
        &mut self,
        now: Instant,
        stream: StreamKey,
        result: &RawJson,
        buf: &mut BytesMut,
    ) -> Result<Transmit, SendError> {
        self.respond_with(now, stream, buf, |buf, id| {
            encode_result_raw(buf, id, result)
        })
    }

    /// Answers a dispatched request with a JSON-RPC error and ends it.
    pub fn respond_error(
        &mut self,
        now: Instant,
        stream: StreamKey,
        code: ErrorCode,
        message: &str,
        data: Option<&RawJson>,
        buf: &mut BytesMut,
    ) -> Result<Transmit, SendError> {
        self.respond_with(now, stream, buf, |buf, id| {
            encode_error(buf, Some(id), MissingId::Omit, code, message, data)
        })
    }

    /// Ends a dispatched request without answering (its handler stopped after a
    /// cancellation). `false` if it was not in flight.
    pub fn abandon(&mut self, now: Instant, stream: StreamKey) -> bool {
        let now = self.clock(now);
        self.finish(now, stream).is_some()
    }

    /// Sends `notifications/progress` for a live request that asked for progress, with the
    /// token it gave. `progress` should increase with every call (MCP-DIGEST 7.2).
    pub fn progress(
        &mut self,
        now: Instant,
        stream: StreamKey,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
        buf: &mut BytesMut,
    ) -> Result<Transmit, SendError> {
        let now = self.clock(now);
        let req = self
            .streams
            .get(&stream)
            .and_then(|e| e.req.as_ref())
            .ok_or(SendError::Gone)?;
        if req.cancelled {
            return Err(SendError::Cancelled);
        }
        let token = req.progress.clone().ok_or(SendError::NoProgressToken)?;
        let params = ProgressNotificationParams {
            progress_token: token,
            progress,
            total,
            message: message.map(Cow::Borrowed),
            meta: None,
        };
        encode_notification(buf, method::NOTIFICATIONS_PROGRESS, &params)
            .map_err(|_| SendError::Encode)?;
        self.touch_owner(stream, now);
        self.next_event_id(stream, false).ok_or(SendError::Gone)
    }

    fn touch_owner(&mut self, stream: StreamKey, now: Instant) {
        if let Some(Owner::Session { idx, .. }) = self.streams.get(&stream).map(|e| e.owner) {
            self.touch(idx, now);
        }
    }

    fn target_stream(&self, target: &Target) -> Result<StreamKey, SendError> {
        match target {
            Target::Request(key) => {
                let req = self
                    .streams
                    .get(key)
                    .and_then(|e| e.req.as_ref())
                    .ok_or(SendError::Gone)?;
                if req.cancelled {
                    Err(SendError::Cancelled)
                } else {
                    Ok(*key)
                }
            }
            Target::Session(id) => self
                .session(id)
                .ok_or(SendError::Gone)?
                .get_stream()
                .ok_or(SendError::NoStream),
        }
    }

    /// Sends a notification (a log line, list changed, ...) on the stream [`route`](Self::route)
    /// picks for `target`.
    pub fn notify<P: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        target: &Target,
        method: &str,
        params: &P,
        buf: &mut BytesMut,
    ) -> Result<Transmit, SendError> {
        let now = self.clock(now);
        let stream = self.target_stream(target)?;
        encode_notification(buf, method, params).map_err(|_| SendError::Encode)?;
        self.touch_owner(stream, now);
        self.next_event_id(stream, false).ok_or(SendError::Gone)
    }

    /// Sends a server-to-client request (sampling, elicitation, roots) on the stream
    /// [`route`](Self::route) picks for `target`, and remembers it until the client answers
    /// ([`Routed::ClientResponse`]). Session era only ([`SendError::NotAllowed`] in
    /// 2026-07-28, which uses `input_required` results instead).
    pub fn request_client<P: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        target: &Target,
        method: &str,
        params: &P,
        buf: &mut BytesMut,
    ) -> Result<(RequestId, Transmit), SendError> {
        let now = self.clock(now);
        let stream = self.target_stream(target)?;
        let (owner, version) = self
            .streams
            .get(&stream)
            .map(|e| (e.owner, e.version))
            .ok_or(SendError::Gone)?;
        if !version.rules().server_requests {
            return Err(SendError::NotAllowed);
        }
        let Owner::Session { idx, .. } = owner else {
            return Err(SendError::NotAllowed);
        };
        let limit = self.config.max_in_flight_per_session;
        let session = self.sessions.get_mut(idx).ok_or(SendError::Gone)?;
        if session.outbound.len() >= limit {
            return Err(SendError::TooManyInFlight);
        }
        let id = RequestId::from_i64(session.next_outbound_id);
        encode_request(buf, &id, method, params).map_err(|_| SendError::Encode)?;
        session.next_outbound_id += 1;
        let related = matches!(target, Target::Request(_)).then_some(stream);
        session.outbound.insert(id.clone(), Outbound { related });
        self.touch(idx, now);
        let transmit = self.next_event_id(stream, false).ok_or(SendError::Gone)?;
        Ok((id, transmit))
    }

    /// Forgets a server-to-client request the server stopped waiting for (timeout); a late
    /// answer is then accepted and dropped. `false` if it was not pending.
    pub fn forget_client_request(
        &mut self,
        now: Instant,
        session: &SessionId,
        id: &RequestId,
    ) -> bool {
        let now = self.clock(now);
        let Some(&idx) = self.by_id.get(session) else {
            return false;
        };
        let removed = self
            .sessions
            .get_mut(idx)
            .is_some_and(|s| s.outbound.remove(id).is_some());
        self.touch(idx, now);
        removed
    }

    // -----------------------------------------------------------------------------------------
    // Time and events
    // -----------------------------------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the earliest idle
    /// deadline. `None`: no timer needed. O(log n).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.idle.first().map(|&(d, _)| d)
    }

    /// Expires every idle session whose deadline is at or before `now`
    /// ([`Event::SessionExpired`] for each). O(k log n) for k expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        while let Some(&(deadline, idx)) = self.idle.first() {
            if deadline > now {
                break;
            }
            self.idle.remove(&(deadline, idx));
            if let Some(s) = self.sessions.get_mut(idx) {
                s.idle_deadline = None;
            }
            if let Some(id) = self.remove_session(idx, CancelReason::SessionEnded) {
                self.events.push_back(Event::SessionExpired(id));
            }
        }
    }

    /// The next event, oldest first. The queue holds at most one event per request and per
    /// session the table removed since the last drain.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

fn accepted(session: Option<SessionId>, notification: Option<Message>) -> Routed {
    Routed::Accepted(Accepted {
        session,
        notification,
    })
}

fn decode_rejection(e: &DecodeError, version: Option<ProtocolVersion>) -> Rejection {
    Rejection::new(
        ProtocolError::Decode { kind: e.kind() },
        version,
        e.id().cloned(),
    )
}
