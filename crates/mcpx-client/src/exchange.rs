//! One request/response exchange, timed: the low-level API the load tester drives.
//!
//! ```text
//! RequestBuilder::send ──► POST ──► head (status, headers, time to first byte)
//!                                     │
//!        application/json ◄───────────┴──────────► text/event-stream
//!        one Event (the response)                  Events as they arrive: priming, progress,
//!                                                  notifications, server requests, the response
//!                                                  (dropped stream: GET + Last-Event-ID, session era)
//! ```
//!
//! # Cancel safety
//!
//! Dropping an [`Exchange`] before its final response cancels the request: the response body is
//! dropped, which closes an HTTP/1.1 connection or resets an HTTP/2 stream (the 2026-07-28
//! cancellation); in the session era and on stdio the client also sends
//! `notifications/cancelled` (from a spawned task). Dropping it after the final response keeps
//! reading a still-open HTTP/1.1 body in the background (bounded by [`DRAIN_TIMEOUT`]) so the
//! connection returns to the pool.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcpx_wire::mcp::method;
use mcpx_wire::sse::{SseDecoder, SseError, SseEvent};
use mcpx_wire::{DecodeOptions, Message, MessageKind, RawJson};
use tokio::sync::mpsc;

use crate::body::{Extra, Meta, Params, write_message};
use crate::error::{Error, Phase};
use crate::header_list::{HeaderList, ResponseHeaders, SharedHeaders};
use crate::limits::{self, DRAIN_TIMEOUT};
use crate::pool::ResponseBody;
use crate::session::{Session, SessionCore, StartBody};

/// What an [`Event`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The final response (result or error) to this exchange's request.
    Response,
    /// `notifications/progress`.
    Progress,
    /// Any other notification.
    Notification,
    /// A server-to-client request (session era): answer it with [`Session::answer`].
    Request,
    /// An SSE event without data (the 2025-11-25 priming event, or one carrying only `retry:`).
    Priming,
    /// A response to some other id (a server bug; reported, not fatal).
    OtherResponse,
}

/// One message (or priming event) of an exchange, stamped when it was decoded.
#[derive(Debug)]
pub struct Event {
    at: Instant,
    kind: EventKind,
    message: Option<Message>,
}

impl Event {
    /// When the event was decoded (just after its last byte arrived).
    pub fn at(&self) -> Instant {
        self.at
    }

    /// What it is.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Whether this is the final response of the exchange.
    pub fn is_final(&self) -> bool {
        self.kind == EventKind::Response
    }

    /// The message (`None` for [`EventKind::Priming`]).
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// Takes the message out.
    pub fn into_message(self) -> Option<Message> {
        self.message
    }
}

enum State {
    /// Status and content type not examined yet.
    Head(ResponseBody),
    Json(ResponseBody),
    Sse(ResponseBody),
    Chan(mpsc::Receiver<Message>),
    Done,
}

/// An in-flight request: the response head with its timing, then its events.
///
/// Get one from [`RequestBuilder::send`]. Read events with [`next`](Self::next) or wait for the
/// final response with [`finish`](Self::finish). Every read is bounded by the exchange's
/// deadline ([`RequestBuilder::timeout`]).
pub struct Exchange {
    core: Arc<SessionCore>,
    id: Option<i64>,
    status: StatusCode,
    headers: ResponseHeaders,
    sent_at: Instant,
    head_at: Instant,
    deadline: Instant,
    state: State,
    /// What an SSE body needs, made when the body turns out to be one: boxed, because most
    /// replies are JSON and an `Exchange` is moved through every layer of a request's future.
    sse: Option<Box<SseRead>>,
    finished: bool,
    /// Response body bytes read so far (all reconnections included).
    received: u64,
    cancel_on_drop: bool,
    sent_session: bool,
    /// The response's content type, classified once (it is asked for several times).
    content: Content,
}

/// The reading state of an SSE response body.
#[derive(Debug)]
struct SseRead {
    dec: SseDecoder,
    buf: BytesMut,
    at_eof: bool,
    reconnects: u32,
    /// Reconnections in a row that have not delivered an event yet: the bound applies to
    /// these, so a stream the server closes on purpose every so often (2025-11-25 polling)
    /// lives on, while one that keeps failing ends.
    strikes: u32,
}

impl SseRead {
    fn new(max_event_bytes: usize) -> Box<Self> {
        Box::new(Self {
            dec: SseDecoder::with_max_event_bytes(max_event_bytes),
            buf: BytesMut::new(),
            at_eof: false,
            reconnects: 0,
            strikes: 0,
        })
    }
}

/// What a response's `Content-Type` says the body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    Sse,
    Json,
    Other,
}

impl Content {
    /// What a `Content-Type` value says the body is (its media type, parameters ignored).
    fn of(content_type: Option<&[u8]>) -> Self {
        let media = content_type
            .and_then(|v| v.split(|&b| b == b';').next())
            .map(<[u8]>::trim_ascii);
        match media {
            Some(m) if m.eq_ignore_ascii_case(b"text/event-stream") => Self::Sse,
            Some(m) if m.eq_ignore_ascii_case(b"application/json") => Self::Json,
            _ => Self::Other,
        }
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Exchange {
    /// The JSON-RPC id of the request (`None` for a notification or the GET stream).
    pub fn id(&self) -> Option<i64> {
        self.id
    }

    /// The HTTP status (200 for stdio).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers (empty for stdio and legacy HTTP+SSE replies).
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// When the request was handed to the connection.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }

    /// When the response head arrived.
    pub fn head_at(&self) -> Instant {
        self.head_at
    }

    /// Time to first byte: from sending to the response head.
    pub fn ttfb(&self) -> Duration {
        self.head_at.saturating_duration_since(self.sent_at)
    }

    /// Whether the reply is an SSE stream.
    pub fn is_sse(&self) -> bool {
        matches!(self.state, State::Sse(_))
            || (matches!(self.state, State::Head(_)) && self.content == Content::Sse)
    }

    /// The latest SSE event id seen (what a resumption sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> Option<&str> {
        self.sse.as_ref().and_then(|s| s.dec.last_event_id())
    }

    /// Response body bytes read so far (JSON body or SSE stream, resumptions included; 0 for
    /// stdio and legacy HTTP+SSE, whose replies arrive on another stream).
    pub fn received_bytes(&self) -> u64 {
        self.received
    }

    /// How many times the stream was resumed.
    pub fn reconnects(&self) -> u32 {
        self.sse.as_ref().map_or(0, |s| s.reconnects)
    }

    /// Whether the final response has been seen.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next event; `None` when the exchange is over (after the final response, or after a
    /// 202 to a notification).
    ///
    /// # Errors
    ///
    /// [`Error::HttpStatus`] / [`Error::SessionExpired`] for a non-success status,
    /// [`Error::Timeout`] at the deadline, [`Error::StreamClosed`] when the stream ends early
    /// and cannot be resumed, [`Error::Decode`] / [`Error::Protocol`] for garbage.
    pub async fn next(&mut self) -> Result<Option<Event>, Error> {
        if self.finished {
            return Ok(None);
        }
        if let Some(r) = self.next_buffered() {
            return r;
        }
        match tokio::time::timeout_at(self.deadline.into(), self.step()).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(Phase::Body)),
        }
    }

    /// Reads until the final response, answering server-to-client requests with the session's
    /// handler on the way (and handing it the notifications, progress included, through
    /// [`ClientHandler::notification`](crate::ClientHandler::notification)), and returns it (a
    /// result or a JSON-RPC error message).
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next); [`Error::StreamClosed`] if the exchange ends without a
    /// response.
    pub async fn finish(mut self) -> Result<Message, Error> {
        while let Some(ev) = self.next().await? {
            match ev.kind {
                EventKind::Response => {
                    if let Some(m) = ev.message {
                        return Ok(m);
                    }
                }
                EventKind::Request => {
                    if let Some(m) = &ev.message {
                        self.core.answer(m).await;
                    }
                }
                EventKind::Progress | EventKind::Notification => {
                    if let Some(m) = &ev.message {
                        self.core.opts.handler.notification(m);
                    }
                }
                _ => {}
            }
        }
        Err(Error::StreamClosed)
    }

    /// Cancels the request now and waits until the cancellation is on the wire: the response
    /// stream is closed (the 2026-07-28 cancellation over HTTP) and, in the session era and on
    /// stdio, `notifications/cancelled` is sent. Nothing happens after the final response.
    ///
    /// # Errors
    ///
    /// As [`Session::notify`] for the notification.
    pub async fn cancel(mut self) -> Result<(), Error> {
        let Some(id) = self.id.filter(|_| !self.finished) else {
            return Ok(());
        };
        // Done here, awaited, instead of from `Drop`.
        self.cancel_on_drop = false;
        let core = self.core.clone();
        drop(self);
        if core.cancels_by_notification() {
            core.send_cancelled(id).await?;
        }
        Ok(())
    }

    async fn step(&mut self) -> Result<Option<Event>, Error> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(None),
                State::Head(mut body) => {
                    let status = self.status;
                    if !status.is_success() {
                        if status == StatusCode::NOT_FOUND && self.sent_session {
                            return Err(Error::SessionExpired);
                        }
                        let body = body
                            .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
                            .await;
                        return Err(Error::HttpStatus { status, body });
                    }
                    if self.id.is_none() {
                        // A notification or response: nothing comes back but the status (some
                        // servers answer 200 with a body anyway; it is read and ignored).
                        let _ = body
                            .collect_truncated(limits::DEFAULT_MAX_ERROR_BODY_BYTES)
                            .await;
                        self.finished = true;
                        return Ok(None);
                    }
                    if self.content == Content::Sse {
                        self.sse_read();
                        self.state = State::Sse(body);
                    } else if self.content == Content::Json {
                        self.state = State::Json(body);
                    } else if status == StatusCode::ACCEPTED {
                        return Err(Error::protocol(
                            "202 Accepted to a request: no response will come",
                        ));
                    } else {
                        return Err(Error::protocol(format!(
                            "unexpected content type {:?}",
                            self.headers.content_type().map(String::from_utf8_lossy)
                        )));
                    }
                }
                State::Json(mut body) => {
                    let bytes = body
                        .collect_bounded(self.core.opts.max_response_body_bytes)
                        .await?;
                    return self.json_reply(bytes);
                }
                State::Sse(mut body) => {
                    let sse = self.sse_read();
                    let at_eof = sse.at_eof;
                    let decoded = if at_eof {
                        sse.dec.decode_eof(&mut sse.buf)
                    } else {
                        sse.dec.decode(&mut sse.buf)
                    };
                    match decoded {
                        Ok(Some(ev)) => {
                            self.state = State::Sse(body);
                            return self.sse_event(ev).map(Some);
                        }
                        Ok(None) if at_eof => {
                            if self.finished {
                                return Ok(None);
                            }
                            drop(body);
                            // Boxed: reconnecting is rare and its future large; inline it
                            // would sit (and be copied) in every read's future.
                            match Box::pin(self.reconnect()).await? {
                                Some(b) => self.state = State::Sse(b),
                                None => return Ok(None),
                            }
                            continue;
                        }
                        Ok(None) => {}
                        Err(SseError::EventTooLarge { limit }) => {
                            self.state = State::Sse(body);
                            return Err(Error::protocol(format!("SSE event over {limit} bytes")));
                        }
                        Err(e) => {
                            self.state = State::Sse(body);
                            return Err(Error::protocol(format!("SSE: {e}")));
                        }
                    }
                    match body.chunk().await {
                        Ok(Some(chunk)) => {
                            self.received += chunk.len() as u64;
                            self.sse_read().buf.extend_from_slice(&chunk);
                        }
                        Ok(None) => self.sse_read().at_eof = true,
                        Err(e) => {
                            tracing::debug!(error = %e, "SSE stream broke");
                            self.sse_read().at_eof = true;
                        }
                    }
                    self.state = State::Sse(body);
                }
                State::Chan(mut rx) => match rx.recv().await {
                    Some(msg) => {
                        self.state = State::Chan(rx);
                        let ev = self.classify(msg, Instant::now());
                        return Ok(Some(ev));
                    }
                    None => return Err(Error::Closed),
                },
            }
        }
    }

    /// The usual reply, a JSON body that arrived whole with its head (inline HTTP/1.1), taken
    /// and decoded without [`step`](Self::step)'s future: `None` when it must be read.
    fn next_buffered(&mut self) -> Option<Result<Option<Event>, Error>> {
        if self.content != Content::Json || self.id.is_none() || !self.status.is_success() {
            return None;
        }
        let (State::Head(body) | State::Json(body)) = &mut self.state else {
            return None;
        };
        let bytes = body.take_buffered(self.core.opts.max_response_body_bytes)?;
        // The body is read to its end and its connection back in the pool.
        self.state = State::Done;
        Some(self.json_reply(bytes))
    }

    /// A JSON body: one message, which must be the response to the request.
    fn json_reply(&mut self, bytes: Bytes) -> Result<Option<Event>, Error> {
        self.received += bytes.len() as u64;
        let msg = mcpx_wire::decode(bytes, &decode_options())?;
        let ev = self.classify(msg, Instant::now());
        if ev.kind != EventKind::Response && self.id.is_some() {
            // A JSON body holds one message; if it is not our response, none comes.
            return Err(Error::protocol(
                "JSON body is not the response to the request",
            ));
        }
        self.finished = true;
        Ok(Some(ev))
    }

    /// The SSE reading state, made on first use.
    fn sse_read(&mut self) -> &mut SseRead {
        let max = self.core.opts.max_sse_event_bytes;
        self.sse.get_or_insert_with(|| SseRead::new(max))
    }

    /// The GET stream: the caller checked the status, the body is SSE.
    pub(crate) fn into_stream(mut self) -> EventStream {
        if let State::Head(body) = std::mem::replace(&mut self.state, State::Done) {
            self.sse_read();
            self.state = State::Sse(body);
        }
        EventStream { inner: self }
    }

    fn sse_event(&mut self, ev: SseEvent) -> Result<Event, Error> {
        let at = Instant::now();
        self.sse_read().strikes = 0;
        if ev.data().is_empty() {
            return Ok(Event {
                at,
                kind: EventKind::Priming,
                message: None,
            });
        }
        let msg = mcpx_wire::decode(ev.into_data(), &decode_options())?;
        Ok(self.classify(msg, at))
    }

    fn classify(&mut self, msg: Message, at: Instant) -> Event {
        let kind = match msg.kind() {
            MessageKind::Request => EventKind::Request,
            MessageKind::Notification if msg.method() == Some(method::NOTIFICATIONS_PROGRESS) => {
                EventKind::Progress
            }
            MessageKind::Notification => EventKind::Notification,
            _ if msg.is_response() || msg.is_error_response() => {
                let ours = self.id.is_some() && msg.id().and_then(|i| i.as_i64()) == self.id;
                if ours {
                    self.finished = true;
                    EventKind::Response
                } else {
                    EventKind::OtherResponse
                }
            }
            _ => EventKind::Notification,
        };
        Event {
            at,
            kind,
            message: Some(msg),
        }
    }

    /// Resumes a dropped SSE stream with `GET` + `Last-Event-ID` (session era only, MCP-DIGEST
    /// 3.2/3.4), after the server's `retry:` delay. `Ok(None)`: the stream is over.
    async fn reconnect(&mut self) -> Result<Option<ResponseBody>, Error> {
        let max_reconnects = self.core.opts.max_reconnects;
        let sse = self.sse_read();
        let last = sse
            .dec
            .last_event_id()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let get_stream = self.id.is_none();
        if !self.core.can_resume() || (!get_stream && last.is_none()) {
            // 2026-07-28 (or no event ids): a broken stream loses the request; the caller
            // re-issues it with a new id.
            return if get_stream {
                Ok(None)
            } else {
                Err(Error::StreamClosed)
            };
        }
        let sse = self.sse_read();
        if sse.strikes >= max_reconnects {
            return if get_stream {
                Ok(None)
            } else {
                Err(Error::StreamClosed)
            };
        }
        sse.reconnects += 1;
        sse.strikes += 1;
        let delay = sse
            .dec
            .retry()
            .map_or(limits::DEFAULT_SSE_RETRY, Duration::from_millis)
            .min(limits::MAX_SSE_RETRY);
        tokio::time::sleep(delay).await;
        let reply = self.core.get(last.as_deref()).await?;
        if reply.status.is_success() && is_event_stream(reply.headers.content_type()) {
            let sse = self.sse_read();
            sse.at_eof = false;
            sse.buf.clear();
            return Ok(Some(reply.body));
        }
        if get_stream {
            return Ok(None);
        }
        Err(Error::StreamClosed)
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.core.forget(id);
            if !self.finished && self.cancel_on_drop && self.core.cancels_by_notification() {
                self.core.spawn_cancel(id);
            }
        }
        // Keep reading a finished HTTP/1.1 body so its connection can be reused.
        if self.finished
            && let State::Sse(mut body) | State::Json(mut body) =
                std::mem::replace(&mut self.state, State::Done)
            && !body.is_done()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
                    while let Ok(Some(_)) = body.chunk().await {}
                })
                .await;
            });
        }
    }
}

fn decode_options() -> DecodeOptions {
    // 2025-03-26 allowed batches; a server may answer with one.
    let mut o = DecodeOptions::new();
    o.allow_batch(true);
    o
}

/// Whether a `Content-Type` value says `text/event-stream` (parameters ignored).
pub(crate) fn is_event_stream(content_type: Option<&[u8]>) -> bool {
    Content::of(content_type) == Content::Sse
}

/// Builds one request. Get one from [`Session::request`].
#[must_use = "a request does nothing until sent"]
pub struct RequestBuilder<'a> {
    pub(crate) session: &'a Session,
    pub(crate) method: &'a str,
    pub(crate) params: Option<Bytes>,
    /// `tools/call` params as their parts ([`tool_params`](Self::tool_params)); `params` is
    /// then `None`.
    pub(crate) tool: Option<(&'a str, RawJson)>,
    pub(crate) id: Option<i64>,
    pub(crate) headers: HeaderList,
    /// Headers shared with other requests, under `headers`.
    pub(crate) shared: Option<SharedHeaders>,
    pub(crate) send_version: bool,
    pub(crate) send_session: bool,
    pub(crate) progress: bool,
    pub(crate) name: Option<&'a str>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel_on_drop: bool,
    pub(crate) bounded_by_caller: bool,
    pub(crate) extra: Vec<(&'static str, Bytes)>,
    pub(crate) meta: Vec<(String, Bytes)>,
}

impl std::fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestBuilder<'a> {
    pub(crate) fn new(session: &'a Session, method: &'a str) -> Self {
        Self {
            session,
            method,
            params: None,
            tool: None,
            id: None,
            // Nothing allocated until a header is set: the client's own headers go into the
            // list only where it is encoded from a list (see `SessionCore::start_body`).
            headers: HeaderList::default(),
            shared: None,
            send_version: true,
            send_session: true,
            progress: false,
            name: None,
            timeout: None,
            cancel_on_drop: true,
            bounded_by_caller: false,
            extra: Vec::new(),
            meta: Vec::new(),
        }
    }

    /// The params, a raw JSON object, spliced into the body byte for byte. In the stateless
    /// era (and with [`progress`](Self::progress)) `_meta` is merged in, so the params must not
    /// carry their own `_meta`.
    pub fn params(mut self, params: RawJson) -> Self {
        self.params = Some(params.into_bytes());
        self.tool = None;
        self
    }

    /// `tools/call` params from their parts, `{"name":<name>,"arguments":<arguments>}`, and
    /// the `Mcp-Name` (as [`name`](Self::name)): the name is written as a JSON string and the
    /// arguments, already a validated value, are spliced in byte for byte, so nothing is parsed
    /// again (a load tester sends the same arguments over and over).
    pub fn tool_params(mut self, name: &'a str, arguments: &RawJson) -> Self {
        // Kept as parts (the arguments' bytes are shared, not copied) and written straight
        // into the message by `send`.
        self.params = None;
        self.tool = Some((name, arguments.clone()));
        self.name = Some(name);
        self
    }

    /// The params, serialized from a value (one allocation for the serialized bytes).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if it does not serialize.
    pub fn params_json<T: serde::Serialize + ?Sized>(mut self, params: &T) -> Result<Self, Error> {
        let raw =
            RawJson::from_serialize(params).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.params = Some(raw.into_bytes());
        self.tool = None;
        Ok(self)
    }

    /// Use this JSON-RPC id instead of the session's next one (quirk tests: a reused id).
    pub fn id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }

    /// An extra header on this request (User-Agent, `traceparent`, `Authorization`, or an
    /// `Accept` override; a header set here replaces the client's).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Headers shared with other requests ([`SharedHeaders`]), sent as if set with
    /// [`header`](Self::header) before this request's own (which replace shared ones of the
    /// same name). A session that sends the same shared set and the same own headers again
    /// reuses its last request's encoded headers.
    pub fn shared_headers(mut self, headers: &SharedHeaders) -> Self {
        self.shared = Some(headers.clone());
        self
    }

    /// Whether to send `MCP-Protocol-Version` (default true where the version defines it).
    pub fn protocol_version_header(mut self, send: bool) -> Self {
        self.send_version = send;
        self
    }

    /// Whether to echo `Mcp-Session-Id` (default true when the server issued one).
    pub fn session_id_header(mut self, send: bool) -> Self {
        self.send_session = send;
        self
    }

    /// Ask for progress: `_meta.progressToken` set to the request id (default off).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The `Mcp-Name` value (2026-07-28; default: read from `params.name` / `params.uri`).
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// The whole-exchange deadline (default: the client's request timeout).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Whether dropping the exchange before its response sends `notifications/cancelled` (session
    /// era, stdio). Default true.
    pub fn cancel_on_drop(mut self, on: bool) -> Self {
        self.cancel_on_drop = on;
        self
    }

    /// The caller bounds this request itself: it drops the future (or the exchange) at a
    /// deadline of its own, as a load tester does with its per-call timeouts. The client then
    /// sets no timer of its own while waiting for the response head, which saves registering
    /// and clearing one in tokio's timer wheel per request; reading the body stays bounded by
    /// [`timeout`](Self::timeout). Only for callers whose own deadline is certain: without
    /// either, a server that never answers holds the request until it is dropped.
    pub fn bounded_by_caller(mut self) -> Self {
        self.bounded_by_caller = true;
        self
    }

    /// One more `params._meta` member (e.g. `claudecode/toolUseId`), merged with the members
    /// the client writes itself (`progressToken`, the 2026-07-28 identity); the params must not
    /// carry their own `_meta`. A key the client also writes would repeat: do not pass those.
    pub fn meta_entry(mut self, key: &str, value: RawJson) -> Self {
        self.meta.push((key.to_owned(), value.into_bytes()));
        self
    }

    pub(crate) fn extra(mut self, name: &'static str, value: Bytes) -> Self {
        self.extra.push((name, value));
        self
    }

    /// Sends the request and waits for the response head (bounded by the deadline).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`], [`Error::Tls`], [`Error::Timeout`], [`Error::Transport`],
    /// [`Error::Closed`], [`Error::InvalidArgument`] (params not an object).
    pub fn send(self) -> impl Future<Output = Result<Exchange, Error>> + Send + 'a {
        // Everything up to the wire is done here, synchronously: the future is only the
        // session's `StartBody`, not an `async fn` layer that would keep this builder (and
        // move the whole future once more) per request.
        let core = self.session.core();
        let id = self.id.unwrap_or_else(|| core.next_id());
        let mut buf = core.take_body_buf();
        let extra: Vec<Extra<'_>> = self
            .extra
            .iter()
            .map(|(name, value)| Extra { name, value })
            .collect();
        let meta = Meta {
            progress_token: self.progress.then_some(id),
            era: core.era_meta(),
            entries: &self.meta,
        };
        let params = match (&self.tool, self.params.as_deref()) {
            (Some((name, arguments)), _) => Some(Params::Tool {
                name,
                arguments: arguments.as_bytes(),
            }),
            (None, p) => p.map(Params::Object),
        };
        let written = write_message(&mut buf, Some(id), self.method, params, meta, &extra);
        drop(extra);
        let body = buf.split().freeze();
        core.put_body_buf(buf);
        if let Err(e) = written {
            return StartBody::failed(e);
        }
        let timeout = self.timeout.unwrap_or(core.opts.request_timeout);
        let name = match self.name {
            Some(n) => Some(std::borrow::Cow::Borrowed(n)),
            None if core.is_stateless() && crate::body::has_name(self.method) => {
                crate::body::name_of(self.method, self.params.as_deref())
                    .map(std::borrow::Cow::Owned)
            }
            None => None,
        };
        let flags = SendFlags {
            version: self.send_version,
            session: self.send_session,
            head_timer: !self.bounded_by_caller,
        };
        core.start_body(
            Some(id),
            Some(self.method),
            name.as_deref(),
            body,
            self.headers,
            self.shared.as_ref(),
            flags,
            timeout,
            self.cancel_on_drop,
        )
    }
}

/// Per-request header switches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendFlags {
    pub(crate) version: bool,
    pub(crate) session: bool,
    /// Whether the client bounds the wait for the response head with a timer of its own
    /// (false: the caller bounds it, see [`RequestBuilder::bounded_by_caller`]).
    pub(crate) head_timer: bool,
}

impl SendFlags {
    pub(crate) const ALL: Self = Self {
        version: true,
        session: true,
        head_timer: true,
    };
}

/// Builds an [`Exchange`] from its parts (the session's transports call this).
#[allow(clippy::too_many_arguments, reason = "one internal constructor")]
pub(crate) fn exchange_http(
    core: Arc<SessionCore>,
    id: Option<i64>,
    status: StatusCode,
    headers: ResponseHeaders,
    body: ResponseBody,
    sent_at: Instant,
    deadline: Instant,
    cancel_on_drop: bool,
    sent_session: bool,
) -> Exchange {
    let content = Content::of(headers.content_type());
    Exchange {
        core,
        id,
        status,
        headers,
        sent_at,
        head_at: Instant::now(),
        deadline,
        state: State::Head(body),
        sse: None,
        finished: false,
        received: 0,
        cancel_on_drop,
        sent_session,
        content,
    }
}

pub(crate) fn exchange_chan(
    core: Arc<SessionCore>,
    id: Option<i64>,
    status: StatusCode,
    rx: Option<mpsc::Receiver<Message>>,
    sent_at: Instant,
    deadline: Instant,
    cancel_on_drop: bool,
) -> Exchange {
    let finished = rx.is_none();
    Exchange {
        core,
        id,
        status,
        headers: ResponseHeaders::empty(),
        sent_at,
        head_at: Instant::now(),
        deadline,
        state: rx.map_or(State::Done, State::Chan),
        sse: None,
        finished,
        received: 0,
        cancel_on_drop,
        sent_session: false,
        content: Content::Other,
    }
}

/// A long-lived stream of server messages (the standalone GET stream, or the legacy / stdio
/// notification queue). Server requests arriving on it are answered by the session's handler
/// before the event is handed out.
#[derive(Debug)]
pub struct EventStream {
    pub(crate) inner: Exchange,
}

impl EventStream {
    /// The next event; `None` when the stream is over (closed by the server and not resumable
    /// or out of reconnections). Bounded only by the session's life: use a timeout around it.
    ///
    /// # Errors
    ///
    /// As [`Exchange::next`].
    pub async fn next(&mut self) -> Result<Option<Event>, Error> {
        let ev = self.inner.step().await?;
        if let Some(ev) = &ev
            && ev.kind == EventKind::Request
            && let Some(m) = &ev.message
        {
            self.inner.core.answer(m).await;
        }
        Ok(ev)
    }

    /// The HTTP status of the stream's response.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// Reconnections so far.
    pub fn reconnects(&self) -> u32 {
        self.inner.reconnects()
    }

    /// The latest SSE event id seen.
    pub fn last_event_id(&self) -> Option<&str> {
        self.inner.last_event_id()
    }
}
