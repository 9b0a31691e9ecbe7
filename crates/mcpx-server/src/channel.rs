//! Message channels: one client connection whose messages, in both directions, form one ordered
//! sequence (stdio's lines, the legacy HTTP+SSE stream and its POSTs). A [`Channel`] drives the
//! same session table and handlers as Streamable HTTP.
//!
//! How: each incoming message is classified by the core as the body of a POST to the endpoint,
//! with the headers a Streamable HTTP client would send (the session id once `initialize` made
//! one, the negotiated version), so every protocol rule, limit and handler is the HTTP
//! transport's. Everything the server sends (answers, request streams, the session's standalone
//! stream, opened right after `initialize`) goes into the channel's one bounded output queue, in
//! the order it is produced. The transport (`stdio`, `legacy`) frames that queue.
//!
//! ```text
//!   message ──> handle ──> SessionTable ──> Answer ───────────────────────────┐
//!                                       ├─> Dispatch ──> handler task ─ frames ┼─> out (bounded)
//!                                       └─> ClientResponse ──> waiting ask     │
//!   standalone stream (opened after initialize) ─ frames ──────────────────────┘
//! ```
//!
//! # Cancel safety
//!
//! [`Channel::close`] ends the session (as a DELETE would): its requests in flight are
//! cancelled, their handlers see it through their context, and nothing more is queued. A
//! dropped [`Channel::handle`] future loses at most the message it was handling.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use mcpx_proto::http::{MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use mcpx_proto::{
    Dispatch, ProtocolError, ProtocolVersion, Rejection, Routed, SessionId, StreamKey,
};
use mcpx_wire::{ErrorCode, RequestId};
use tokio::sync::{Semaphore, mpsc};

use crate::limits::DEFAULT_MAX_CHANNEL_IN_FLIGHT;
use crate::service::{Frame, Shared, StreamEntry, lock, start_request};

/// One client connection carrying a sequence of messages (see the module docs).
pub(crate) struct Channel {
    shared: Arc<Shared>,
    /// Every message the server sends on this connection, unframed, in order.
    out: mpsc::Sender<Bytes>,
    /// The endpoint the synthetic requests address (the core checks the path).
    uri: Uri,
    state: Mutex<State>,
    /// Requests (and batches) running now; a permit each.
    in_flight: Arc<Semaphore>,
    /// The 2026-07-28 requests running now, by id: a channel cancels them with
    /// `notifications/cancelled` (MCP-DIGEST 7), which the core, built for HTTP where closing
    /// the stream cancels, does not route; the channel closes the request's stream instead.
    stateless: Mutex<HashMap<RequestId, StreamKey>>,
}

#[derive(Default)]
struct State {
    session: Option<SessionId>,
    version: Option<ProtocolVersion>,
    /// The session's standalone stream, forwarded into `out`.
    get_stream: Option<StreamKey>,
    closed: bool,
}

/// Whether a rejection is about the carrier rather than the message (the legacy transport
/// answers these on the POST itself; what concerns the message goes on the stream).
pub(crate) fn is_transport_error(e: &ProtocolError) -> bool {
    matches!(
        e,
        ProtocolError::NotFound
            | ProtocolError::HeadersTooLarge { .. }
            | ProtocolError::BadOrigin
            | ProtocolError::BadHost
            | ProtocolError::MethodNotAllowed
            | ProtocolError::NotAcceptable
            | ProtocolError::UnsupportedMediaType
            | ProtocolError::BodyTooLarge { .. }
            | ProtocolError::DuplicateHeader { .. }
            | ProtocolError::Decode { .. }
    )
}

impl Channel {
    /// A channel whose output goes into `out` (bounded by its capacity).
    pub(crate) fn new(shared: Arc<Shared>, out: mpsc::Sender<Bytes>) -> Arc<Self> {
        let path = shared
            .shards()
            .first()
            .and_then(|t| lock(t).config().endpoint_path().map(str::to_owned))
            .unwrap_or_else(|| "/".to_owned());
        // The configured path was validated as a URI path by the builder's user; `/` is the
        // fallback for `any_path` (any path is accepted then).
        let uri = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"));
        Arc::new(Self {
            shared,
            out,
            uri,
            state: Mutex::new(State::default()),
            in_flight: Arc::new(Semaphore::new(DEFAULT_MAX_CHANNEL_IN_FLIGHT)),
            stateless: Mutex::new(HashMap::new()),
        })
    }

    /// Queues one outgoing message, waiting while the output queue is full.
    pub(crate) async fn send(&self, message: Bytes) {
        let _ = self.out.send(message).await;
    }

    /// Handles one incoming message. `headers` are the carrier's own (stdio: just
    /// `Content-Type`; legacy: the POST's, less the Streamable HTTP ones), which the core checks
    /// as it would on Streamable HTTP (`Host`, `Origin`, sizes, `Content-Type`).
    ///
    /// # Errors
    ///
    /// A rejection about the carrier ([`is_transport_error`]); every other refusal is queued
    /// as a JSON-RPC error (when the message was a request) and `Ok` returned.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        message: Bytes,
        mut headers: HeaderMap,
    ) -> Result<(), Rejection> {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        let (closed, sessionless) = {
            let state = lock(&self.state);
            self.add_session_headers(&state, &mut headers);
            (state.closed, state.session.is_none())
        };
        if closed {
            return Ok(());
        }
        if sessionless
            && let Some(Stateless::Cancel(id)) = mirror_stateless_headers(&message, &mut headers)
        {
            let stream = lock(&self.stateless).remove(&id);
            if let Some(stream) = stream {
                // As a closed response stream would on HTTP: the core cancels the request.
                self.shared.stream_closed(stream);
            }
            return Ok(());
        }
        let parts = self.parts(Method::POST, headers);
        match self.shared.route_request(&parts, message) {
            Ok(routed) => {
                self.route(routed).await;
                Ok(())
            }
            Err(r) if is_transport_error(r.error()) => Err(r),
            Err(r) => {
                self.send_rejection(&r).await;
                Ok(())
            }
        }
    }

    /// Runs the core's carrier checks (`Host`, `Origin`, header size) on `headers` without a
    /// message: a sessionless GET of the endpoint, which the core refuses for want of a session
    /// once everything before that passed.
    ///
    /// # Errors
    ///
    /// The core's rejection when a carrier check fails.
    pub(crate) fn check_carrier(&self, mut headers: HeaderMap) -> Result<(), Rejection> {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let parts = self.parts(Method::GET, headers);
        match self.shared.route_request(&parts, Bytes::new()) {
            Err(r) if is_transport_error(r.error()) => Err(r),
            _ => Ok(()),
        }
    }

    /// Queues a rejection's JSON-RPC error when the client can match it to something: a
    /// request's id, or a message that could not be read at all (`id` null or absent, as the
    /// version says). A refused notification or response gets nothing, as JSON-RPC requires.
    pub(crate) async fn send_rejection(&self, r: &Rejection) {
        if r.id().is_some()
            || matches!(
                r.error(),
                ProtocolError::Decode { .. }
                    | ProtocolError::BodyTooLarge { .. }
                    | ProtocolError::BatchNotAllowed { .. }
            )
        {
            let mut buf = BytesMut::new();
            r.encode_body(&mut buf);
            self.send(buf.freeze()).await;
        } else {
            tracing::debug!(error = %r.message(), "refused a message without an id");
        }
    }

    /// A rejection for a message too large to be read (stdio's oversized line), following the
    /// negotiated version's rules for an unknown id.
    pub(crate) fn too_large(&self, limit: usize) -> Rejection {
        let version = lock(&self.state).version;
        Rejection::new(ProtocolError::BodyTooLarge { limit }, version, None)
    }

    fn add_session_headers(&self, state: &State, headers: &mut HeaderMap) {
        if let Some(id) = &state.session
            && let Ok(v) = HeaderValue::from_str(id.as_str())
        {
            headers.insert(MCP_SESSION_ID, v);
        }
        if let Some(v) = state.version {
            headers.insert(MCP_PROTOCOL_VERSION, HeaderValue::from_static(v.as_str()));
        }
    }

    fn parts(&self, method: Method, headers: HeaderMap) -> http::request::Parts {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = method;
        parts.uri = self.uri.clone();
        parts.headers = headers;
        parts
    }

    async fn route(self: &Arc<Self>, routed: Routed) {
        match routed {
            Routed::Answer(answer) => {
                self.send(answer.body).await;
                // After the answer, so nothing on the standalone stream can precede it.
                if let Some(id) = answer.new_session {
                    self.session_started(id);
                }
            }
            Routed::Dispatch(d) => {
                let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                    self.refuse(&d).await;
                    return;
                };
                let run = self.clone().run_owned(d);
                tokio::spawn(async move {
                    let _permit = permit;
                    run.await;
                });
            }
            Routed::ClientResponse(c) => self.shared.client_response(c),
            Routed::Batch(batch) => {
                let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                    for item in batch.items {
                        if let Routed::Dispatch(d) = item {
                            self.refuse(&d).await;
                        }
                    }
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    this.run_batch(batch.items).await;
                });
            }
            // Notifications need nothing more; GET and DELETE routes never come from a POST.
            _ => {}
        }
    }

    /// Answers a request over the in-flight bound at once (the core forgets it).
    async fn refuse(&self, d: &Dispatch) {
        let stream = d.stream;
        let message = format!(
            "too many requests in flight on this connection (limit {DEFAULT_MAX_CHANNEL_IN_FLIGHT})"
        );
        let out = self.shared.write(stream, |t, now, buf| {
            t.respond_error(now, stream, ErrorCode::INVALID_REQUEST, &message, None, buf)
        });
        if let Ok(out) = out {
            self.send(out.frame.data).await;
        }
    }

    /// [`run`](Self::run) for a spawned task, with the request registered before it returns.
    fn run_owned(self: Arc<Self>, d: Dispatch) -> impl Future<Output = ()> + Send + 'static {
        let registered = self.register(&d);
        async move {
            self.run_registered(d, false, registered).await;
        }
    }

    /// Remembers a 2026-07-28 request so that `notifications/cancelled` finds it.
    fn register(&self, d: &Dispatch) -> Option<RequestId> {
        let id = d.session.is_none().then(|| d.id.clone())?;
        lock(&self.stateless).insert(id.clone(), d.stream);
        Some(id)
    }

    /// Runs one dispatched request, queueing its stream's frames in order. With `collect`, the
    /// final answer is returned instead of queued (a batch answers in one array).
    async fn run(&self, d: Dispatch, collect: bool) -> Option<Bytes> {
        let registered = self.register(&d);
        self.run_registered(d, collect, registered).await
    }

    async fn run_registered(
        &self,
        d: Dispatch,
        collect: bool,
        stateless: Option<RequestId>,
    ) -> Option<Bytes> {
        let (tx, mut rx) = mpsc::channel::<Frame>(self.shared.queue_len());
        let (handler, guard) = start_request(&self.shared, d, tx);
        let mut guard = Some(guard);
        let forward = async {
            while let Some(frame) = rx.recv().await {
                if frame.ends {
                    if let Some(g) = guard.take() {
                        g.answered();
                    }
                    if collect {
                        return Some(frame.data);
                    }
                    self.send(frame.data).await;
                    return None;
                }
                self.send(frame.data).await;
            }
            None
        };
        let ((), last) = tokio::join!(handler, forward);
        // `guard` still set: the request ended unanswered (cancelled); dropping it closes the
        // request's stream in the core.
        drop(guard);
        if let Some(id) = stateless {
            lock(&self.stateless).remove(&id);
        }
        last
    }

    /// A 2025-03-26 batch: its members in order, their answers as one array.
    async fn run_batch(self: &Arc<Self>, items: Vec<Routed>) {
        let mut answers = Vec::new();
        for item in items {
            match item {
                Routed::Answer(a) => answers.push(a.body),
                Routed::Dispatch(d) => answers.extend(self.run(d, true).await),
                Routed::ClientResponse(c) => self.shared.client_response(c),
                _ => {}
            }
        }
        if answers.is_empty() {
            return;
        }
        let mut out = BytesMut::new();
        out.extend_from_slice(b"[");
        for (i, a) in answers.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",");
            }
            out.extend_from_slice(a);
        }
        out.extend_from_slice(b"]");
        self.send(out.freeze()).await;
    }

    /// Remembers the session `initialize` created and opens its standalone stream, which
    /// carries what concerns no request (list changes, resource updates, requests asked
    /// outside a request) and keeps the session from expiring while the channel lives.
    fn session_started(self: &Arc<Self>, id: SessionId) {
        let version = self.shared.session_version(&id);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let adopted = {
            let mut state = lock(&self.state);
            let adopt = state.session.is_none() && !state.closed;
            if adopt {
                state.session = Some(id.clone());
                state.version = version;
                self.add_session_headers(&state, &mut headers);
            }
            adopt
        };
        if !adopted {
            // A second `initialize` that raced the first (legacy POSTs are concurrent), or one
            // answered after the channel closed: its session would have no owner and, with no
            // stream of its own, would linger until idle expiry.
            self.delete_session(&id);
            return;
        }
        let parts = self.parts(Method::GET, headers);
        match self.shared.route_request(&parts, Bytes::new()) {
            Ok(Routed::OpenStream(open)) => {
                let (tx, mut rx) = mpsc::channel::<Frame>(self.shared.queue_len());
                lock(&self.shared.streams).insert(open.stream, StreamEntry::new(tx));
                let closed = {
                    let mut state = lock(&self.state);
                    state.get_stream = Some(open.stream);
                    state.closed
                };
                if closed {
                    // Closed meanwhile: `close` did not see the stream.
                    self.shared.stream_closed(open.stream);
                    return;
                }
                let this = self.clone();
                tokio::spawn(async move {
                    // Ends when the stream leaves the map (close, session end).
                    while let Some(frame) = rx.recv().await {
                        this.send(frame.data).await;
                    }
                });
            }
            Ok(_) => {}
            Err(r) => {
                tracing::debug!(error = %r.message(), "no standalone stream for this channel");
            }
        }
    }

    /// Resolves once no request of this channel runs.
    pub(crate) async fn idle(&self) {
        let all = u32::try_from(DEFAULT_MAX_CHANNEL_IN_FLIGHT).unwrap_or(u32::MAX);
        if let Ok(permits) = self.in_flight.acquire_many(all).await {
            drop(permits);
        }
    }

    /// Ends the channel: closes the standalone stream and ends the session (its requests in
    /// flight are cancelled). Later messages are ignored. Idempotent.
    pub(crate) fn close(&self) {
        let (session, get) = {
            let mut state = lock(&self.state);
            if state.closed {
                return;
            }
            state.closed = true;
            (state.session.clone(), state.get_stream.take())
        };
        if let Some(stream) = get {
            self.shared.stream_closed(stream);
        }
        // 2026-07-28 requests belong to no session: their streams close as HTTP ones would,
        // which cancels them.
        let stateless: Vec<StreamKey> = lock(&self.stateless).drain().map(|(_, k)| k).collect();
        for stream in stateless {
            self.shared.stream_closed(stream);
        }
        if let Some(id) = session {
            self.delete_session(&id);
        }
    }

    /// Ends a session as a DELETE would (its requests in flight are cancelled).
    fn delete_session(&self, id: &SessionId) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(id.as_str()) {
            headers.insert(MCP_SESSION_ID, v);
        }
        let parts = self.parts(Method::DELETE, headers);
        match self.shared.route_request(&parts, Bytes::new()) {
            Ok(Routed::SessionDeleted(id)) => self.shared.session_deleted(&id),
            // DELETE switched off: the session expires when idle, as an abandoned HTTP one.
            Ok(_) | Err(_) => {
                tracing::debug!(
                    session = id.as_str(),
                    "channel closed; session left to expire"
                );
            }
        }
    }
}

/// What a sessionless message turned out to be.
enum Stateless {
    /// A 2026-07-28 request or notification (its headers were mirrored).
    Message,
    /// A 2026-07-28 `notifications/cancelled` for this request id.
    Cancel(RequestId),
}

/// The version, method and name headers of a 2026-07-28 request, mirrored from its body.
///
/// A message channel has no header layer (MCP-DIGEST 5: "everything is in the body"), while the
/// core checks these headers against the body as Streamable HTTP requires; mirrored, they
/// agree by construction. Messages without the modern `_meta` version get nothing (they are
/// `initialize` or refused for want of a session). Not mirrored: `Mcp-Param-*` of tools that
/// declare `x-mcp-header` (such calls are refused with -32020 on a channel), and names that
/// are not visible ASCII.
fn mirror_stateless_headers(message: &Bytes, headers: &mut HeaderMap) -> Option<Stateless> {
    #[derive(serde::Deserialize)]
    struct Params {
        name: Option<String>,
        uri: Option<String>,
        #[serde(rename = "requestId")]
        request_id: Option<serde_json::Value>,
        #[serde(rename = "_meta")]
        meta: Option<Meta>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
        version: Option<String>,
    }
    let msg = mcpx_wire::decode(message.clone(), &mcpx_wire::DecodeOptions::new()).ok()?;
    let (Some(method), Some(Ok(params))) = (msg.method(), msg.params_as::<Params>()) else {
        return None;
    };
    let version = params.meta.and_then(|m| m.version)?;
    if method == "notifications/cancelled" {
        let id = match params.request_id? {
            serde_json::Value::Number(n) => RequestId::from(n.as_i64()?),
            serde_json::Value::String(s) => RequestId::from(s.as_str()),
            _ => return None,
        };
        return Some(Stateless::Cancel(id));
    }
    let name = match method {
        "tools/call" | "prompts/get" => params.name,
        "resources/read" => params.uri,
        _ => None,
    };
    for (header, value) in [
        (MCP_PROTOCOL_VERSION, Some(version.as_str())),
        (MCP_METHOD, Some(method)),
        (MCP_NAME, name.as_deref()),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header, v);
        }
    }
    Some(Stateless::Message)
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.close();
    }
}
