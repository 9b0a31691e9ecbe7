//! The HTTP side: one hyper service per connection feeding the shared [`SessionTable`], the
//! per-stream outbound queues, SSE bodies, and the dispatch of requests to handlers.
//!
//! Locking: the session table is sharded ([`mcpx_proto::shard`]): each shard sits behind its
//! own `std::sync::Mutex`, held only for one synchronous table call (never across an
//! `.await`), and a request locks only the shard its session id or stream key names. The other
//! maps are locked after a shard, never before, so the order is fixed.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame as BodyFrame, SizeHint};
use mcpx_proto::http::MCP_PROTOCOL_VERSION;
use mcpx_proto::{
    Dispatch, Event, EventId, ProtocolError, ProtocolVersion, Rejection, RequestHead, Routed,
    SendError, SessionId, SessionTable, StreamKey, Transmit,
};
use mcpx_wire::sse::{SseEventRef, encode_comment, encode_event};
use mcpx_wire::{ErrorCode, Message, RawJson, RequestId};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::context::RequestContext;
use crate::dispatch::run_request;
use crate::handler::Handlers;
use crate::{ResponseMode, limits};

/// The response body type of every answer.
pub(crate) type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// One message bound for a stream.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) data: Bytes,
    pub(crate) event_id: Option<EventId>,
    pub(crate) ends: bool,
    /// The HTTP status when this frame is the whole JSON response (default 200).
    pub(crate) status: Option<StatusCode>,
}

/// Hashes stream keys, which the core hands out from a counter (never chosen by a client, so
/// no flooding defence is needed): one multiply (Fibonacci hashing) instead of SipHash.
#[derive(Clone, Copy, Default)]
pub(crate) struct StreamKeyHash;

impl std::hash::BuildHasher for StreamKeyHash {
    type Hasher = StreamKeyHasher;

    fn build_hasher(&self) -> StreamKeyHasher {
        StreamKeyHasher(0)
    }
}

/// See [`StreamKeyHash`].
pub(crate) struct StreamKeyHasher(u64);

impl std::hash::Hasher for StreamKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A stream that frames reach from outside its own request (GET streams, listen streams,
/// resumed streams).
pub(crate) struct StreamEntry {
    pub(crate) tx: mpsc::Sender<Frame>,
    /// Tells this registration from a later one of the same stream (a resumed stream replaces
    /// its old connection's): only its own registration is removed when a body goes away.
    pub(crate) id: u64,
    /// Set (under its lock) when a resumed connection replaces this one: its body then stops
    /// sending and hands every further frame to the new connection. The body logs each event
    /// under the same lock, so no event falls between the log a resume replays and the new
    /// connection's queue.
    pub(crate) superseded: Arc<Mutex<bool>>,
}

impl StreamEntry {
    /// A registration with a fresh id.
    pub(crate) fn new(tx: mpsc::Sender<Frame>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            tx,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            superseded: Arc::new(Mutex::new(false)),
        }
    }
}

/// A request's cancellation, registered with the server only when its handler asks about it
/// (most never do: no map entry and no channel per request otherwise).
#[derive(Default)]
pub(crate) struct CancelSlot {
    fired: std::sync::atomic::AtomicBool,
    registered: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl CancelSlot {
    pub(crate) fn fire(&self) {
        self.fired.store(true, std::sync::atomic::Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Resolves once fired.
    pub(crate) async fn fired(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_fired() {
                return;
            }
            notified.await;
        }
    }
}

/// A frame with the stream it goes to.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) stream: StreamKey,
    pub(crate) frame: Frame,
}

impl Out {
    /// The frame a table call wrote into `buf`, for the stream its transmit names.
    pub(crate) fn new(t: Transmit, buf: BytesMut) -> Self {
        Self {
            stream: t.stream,
            frame: Frame {
                data: buf.freeze(),
                event_id: t.event_id,
                ends: t.ends_stream,
                status: None,
            },
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler panic never happens while a lock is held (locks guard synchronous table calls
    // only), so a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by every connection of one server.
pub(crate) struct Shared {
    /// The session table's shards (at least one).
    tables: Box<[Mutex<SessionTable>]>,
    /// Round-robin cursor for requests that name no session (`initialize`, stateless).
    next_shard: std::sync::atomic::AtomicUsize,
    /// The outbound queue of each stream that frames reach from outside its request: standalone
    /// GET streams and `subscriptions/listen` streams (a request's own answer goes through the
    /// queue its context holds).
    pub(crate) streams: Mutex<HashMap<StreamKey, StreamEntry, StreamKeyHash>>,
    /// Cancellation slots of requests whose handlers asked about cancellation.
    cancels: Mutex<HashMap<StreamKey, Arc<CancelSlot>, StreamKeyHash>>,
    waiting: Mutex<HashMap<(SessionId, RequestId), oneshot::Sender<Message>>>,
    log_levels: Mutex<HashMap<SessionId, u8>>,
    /// What the server serves; swapped whole by [`ServerHandle::set_handlers`]
    /// (crate::ServerHandle), read once per request.
    pub(crate) handlers: std::sync::RwLock<Arc<Handlers>>,
    /// Resource subscriptions and listen streams.
    pub(crate) registry: Mutex<crate::notify::Registry>,
    /// Whether the capabilities declare `listChanged` (so changes are announced).
    pub(crate) list_changed: bool,
    /// Seals 2026-07-28 `requestState`s.
    pub(crate) state_key: crate::mrtr::StateKey,
    mode: ResponseMode,
    keep_alive: Duration,
    max_body_bytes: usize,
    queue: usize,
    /// The replay log of SSE streams (`None`: streams are not resumable).
    pub(crate) events: Option<Arc<dyn crate::replay::EventStore>>,
    /// The legacy HTTP+SSE transport's connections, when it is on
    /// ([`ServerBuilder::legacy_sse`](crate::ServerBuilder::legacy_sse)).
    pub(crate) legacy: Option<crate::legacy::Legacy>,
    /// Bearer-token mode, when on ([`ServerBuilder::auth`](crate::ServerBuilder::auth)).
    pub(crate) auth: Option<Arc<crate::auth::Auth>>,
    /// The in-flight bound and the draining flag (`crate::shed`).
    pub(crate) shed: crate::shed::Shed,
    /// Counters behind `/metrics` (`crate::metrics`).
    pub(crate) metrics: crate::metrics::Metrics,
    /// Where `/metrics` is served (`None`: not served).
    pub(crate) metrics_path: Option<String>,
}

impl Shared {
    pub(crate) fn new(
        tables: Vec<SessionTable>,
        handlers: Handlers,
        list_changed: bool,
        mode: ResponseMode,
        keep_alive: Duration,
        max_body_bytes: usize,
        state_key: crate::mrtr::StateKey,
    ) -> Self {
        let queue = tables
            .first()
            .map_or(1, |t| t.config().queued_events_limit().max(1));
        Self {
            tables: tables.into_iter().map(Mutex::new).collect(),
            next_shard: std::sync::atomic::AtomicUsize::new(0),
            streams: Mutex::new(HashMap::default()),
            cancels: Mutex::new(HashMap::default()),
            waiting: Mutex::new(HashMap::new()),
            log_levels: Mutex::new(HashMap::new()),
            handlers: std::sync::RwLock::new(Arc::new(handlers)),
            registry: Mutex::new(crate::notify::Registry::default()),
            list_changed,
            state_key,
            mode,
            keep_alive,
            max_body_bytes,
            queue,
            events: Some(Arc::new(crate::replay::MemoryEventStore::default())),
            legacy: None,
            auth: None,
            shed: crate::shed::Shed::new(
                limits::DEFAULT_MAX_IN_FLIGHT,
                mcpx_proto::limits::DEFAULT_RETRY_AFTER,
            ),
            metrics: crate::metrics::Metrics::default(),
            metrics_path: Some(limits::DEFAULT_METRICS_PATH.to_owned()),
        }
    }

    /// Whether every response is JSON ([`ResponseMode::Json`]): nothing but the final answer
    /// can go on a request's own stream.
    pub(crate) fn json_responses(&self) -> bool {
        self.mode == ResponseMode::Json
    }

    /// The handlers in force now.
    pub(crate) fn handlers(&self) -> Arc<Handlers> {
        self.handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every shard of the table.
    pub(crate) fn shards(&self) -> &[Mutex<SessionTable>] {
        &self.tables
    }

    /// Queues a frame for its stream without waiting: `false` when the stream is gone or its
    /// queue is full (the frame is dropped; used for broadcasts, which must not stall).
    pub(crate) fn deliver_now(&self, out: Out) -> bool {
        let tx = {
            let streams = lock(&self.streams);
            match streams.get(&out.stream) {
                Some(e) => e.tx.clone(),
                None => {
                    // Nobody is connected: kept in the log for a resume (see `deliver`).
                    return self.log_frame(&out.frame).is_some();
                }
            }
        };
        match tx.try_send(out.frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(frame)) => {
                self.deliver_orphan(out.stream, frame, None);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => false,
        }
    }

    /// Registers a request's cancellation slot (once): from now on a cancellation fires it.
    /// A request already cancelled or gone fires it at once.
    pub(crate) fn watch_cancel(&self, stream: StreamKey, slot: &Arc<CancelSlot>) {
        if slot
            .registered
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        lock(&self.cancels).insert(stream, slot.clone());
        let over = lock(self.shard_of_stream(stream))
            .route(&mcpx_proto::Target::Request(stream))
            .is_none();
        if over {
            slot.fire();
        }
    }

    fn forget_cancel(&self, stream: StreamKey, slot: &CancelSlot) {
        if slot.registered.load(std::sync::atomic::Ordering::Acquire) {
            lock(&self.cancels).remove(&stream);
        }
    }

    /// Shard `i` of the table (`i` from [`shard_of_session`](mcpx_proto::shard_of_session) or
    /// [`StreamKey::shard`], always below the shard count).
    fn shard(&self, i: usize) -> &Mutex<SessionTable> {
        // `tables` is never empty (see `ServerBuilder::build`); the modulo keeps any index in
        // range.
        &self.tables[i % self.tables.len()]
    }

    /// The shard that owns `stream` (and the request or session behind it).
    fn shard_of_stream(&self, stream: StreamKey) -> &Mutex<SessionTable> {
        self.shard(stream.shard(self.tables.len()))
    }

    /// The shard that issued `session`.
    fn shard_of_session(&self, session: &SessionId) -> &Mutex<SessionTable> {
        self.shard(mcpx_proto::shard_of_session(
            session.as_str().as_bytes(),
            self.tables.len(),
        ))
    }

    /// Runs one synchronous operation on the shard that owns `stream` (the request the caller
    /// serves) that writes a message, then drains that shard's events.
    pub(crate) fn write(
        &self,
        stream: StreamKey,
        f: impl FnOnce(&mut SessionTable, Instant, &mut BytesMut) -> Result<Transmit, SendError>,
    ) -> Result<Out, SendError> {
        self.write_with(stream, |t, now, buf| f(t, now, buf).map(|tx| ((), tx)))
            .map(|((), out)| out)
    }

    /// [`write`](Self::write) for operations that return a value beside the transmit.
    pub(crate) fn write_with<T>(
        &self,
        stream: StreamKey,
        f: impl FnOnce(&mut SessionTable, Instant, &mut BytesMut) -> Result<(T, Transmit), SendError>,
    ) -> Result<(T, Out), SendError> {
        // Sized so a typical answer is written without growing the buffer (each growth is an
        // allocation and a copy).
        let mut buf = BytesMut::with_capacity(limits::MESSAGE_BUF_START);
        let result = {
            let mut table = lock(self.shard_of_stream(stream));
            let r = f(&mut table, Instant::now(), &mut buf);
            self.drain_events(&mut table);
            r
        };
        let (value, t) = result?;
        let frame = Frame {
            data: buf.freeze(),
            event_id: t.event_id,
            ends: t.ends_stream,
            status: None,
        };
        Ok((
            value,
            Out {
                stream: t.stream,
                frame,
            },
        ))
    }

    /// Sends a frame to its stream's body, waiting if the stream's bounded queue is full. A
    /// stream nobody listens to any more drops it.
    pub(crate) async fn deliver(&self, out: Out) {
        let tx = {
            let streams = lock(&self.streams);
            match streams.get(&out.stream) {
                Some(e) => e.tx.clone(),
                None => {
                    // Nobody is connected: the event waits in the log for a resume. Decided
                    // under the map lock, so a resume that installs its queue first sees it
                    // in the log, and one that installs it later gets it live.
                    self.log_frame(&out.frame);
                    return;
                }
            }
        };
        if let Err(e) = tx.send(out.frame).await {
            self.deliver_orphan(out.stream, e.0, None);
        }
    }

    /// Logs a frame that has an event id (a message of an SSE stream of a resumable version);
    /// returns its encoded event.
    pub(crate) fn log_frame(&self, frame: &Frame) -> Option<Bytes> {
        let (Some(store), Some(id)) = (self.events.as_ref(), frame.event_id) else {
            return None;
        };
        let event = sse_event(frame);
        store.append(crate::replay::LoggedEvent::new(
            id,
            event.clone(),
            frame.ends,
        ));
        Some(event)
    }

    /// A frame whose stream's body is gone (dropped before reading it, or the send found the
    /// receiver closed): to the stream's newer registration when one was made since (a
    /// resumed connection; `not` is the registration it came from), else into the log.
    pub(crate) fn deliver_orphan(&self, stream: StreamKey, frame: Frame, not: Option<u64>) {
        let streams = lock(&self.streams);
        self.deliver_orphan_locked(&streams, stream, frame, not);
    }

    /// [`deliver_orphan`](Self::deliver_orphan) with the stream map already locked.
    fn deliver_orphan_locked(
        &self,
        streams: &HashMap<StreamKey, StreamEntry, StreamKeyHash>,
        stream: StreamKey,
        frame: Frame,
        not: Option<u64>,
    ) {
        if let Some(e) = streams.get(&stream)
            && Some(e.id) != not
            && !e.tx.is_closed()
        {
            match e.tx.try_send(frame) {
                Ok(()) => {}
                // Its queue is full: the log keeps it; the client gets it on its next resume.
                Err(mpsc::error::TrySendError::Full(f) | mpsc::error::TrySendError::Closed(f)) => {
                    self.log_frame(&f);
                }
            }
            return;
        }
        self.log_frame(&frame);
    }

    /// A request's stream is sent as SSE: when it can be resumed, the core keeps it resumable
    /// after its answer and the stream map gets a registration for it (a resume replaces it).
    fn register_sse(
        &self,
        stream: StreamKey,
        version: ProtocolVersion,
        tx: &mpsc::WeakSender<Frame>,
    ) -> Option<Registration> {
        if self.events.is_none() || version.rules().resumability == mcpx_proto::Resumability::None {
            return None;
        }
        let tx = tx.upgrade()?;
        lock(self.shard_of_stream(stream)).mark_sse(stream);
        Some(self.register(stream, tx))
    }

    /// Registers `tx` as `stream`'s live queue, replacing (superseding) an older registration.
    fn register(&self, stream: StreamKey, tx: mpsc::Sender<Frame>) -> Registration {
        let entry = StreamEntry::new(tx);
        let reg = Registration {
            id: entry.id,
            superseded: entry.superseded.clone(),
        };
        let mut streams = lock(&self.streams);
        if let Some(old) = streams.insert(stream, entry) {
            *lock(&old.superseded) = true;
        }
        reg
    }

    pub(crate) fn drain_events(&self, table: &mut SessionTable) {
        while let Some(event) = table.poll_event() {
            match event {
                Event::RequestCancelled { stream, .. } => {
                    if let Some(slot) = lock(&self.cancels).get(&stream) {
                        slot.fire();
                    }
                }
                Event::SessionExpired(id) | Event::SessionEvicted(id) => {
                    tracing::debug!(session = id.as_str(), "session ended (idle or evicted)");
                    lock(&self.registry).session_ended(&id);
                    lock(&self.log_levels).remove(&id);
                    lock(&self.waiting).retain(|(s, _), _| *s != id);
                }
                _ => {}
            }
        }
    }

    /// Hands a request to the shard its session id names; a request that names none goes to
    /// the next shard round-robin, and to the others in turn while they refuse it as full.
    pub(crate) fn route_request(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<Routed, Rejection> {
        let head = RequestHead::new(&parts.method, parts.uri.path(), &parts.headers);
        let count = self.tables.len();
        // A 2026-07-28 request ignores any Mcp-Session-Id (the core does the same).
        let stateless = parts
            .headers
            .get(MCP_PROTOCOL_VERSION)
            .is_some_and(|v| v.as_bytes() == ProtocolVersion::V2026_07_28.as_str().as_bytes());
        let session = parts.headers.get(mcpx_proto::http::MCP_SESSION_ID);
        let (first, tries) = match session {
            Some(id) if !stateless => (mcpx_proto::shard_of_session(id.as_bytes(), count), 1),
            _ => (
                self.next_shard
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                count,
            ),
        };
        let mut k = 0;
        loop {
            let mut table = lock(self.shard(first.wrapping_add(k)));
            let result = table.handle_request(Instant::now(), &head, body.clone());
            self.drain_events(&mut table);
            k += 1;
            match &result {
                Err(r) if matches!(r.error(), ProtocolError::Overloaded) && k < tries => {}
                _ => return result,
            }
        }
    }

    pub(crate) fn session_capabilities(&self, session: Option<&SessionId>) -> Option<RawJson> {
        let session = session?;
        let table = lock(self.shard_of_session(session));
        table.session(session)?.client_capabilities().cloned()
    }

    pub(crate) fn await_client(
        &self,
        session: SessionId,
        id: RequestId,
        tx: oneshot::Sender<Message>,
    ) {
        lock(&self.waiting).insert((session, id), tx);
    }

    pub(crate) fn forget_client(&self, session: &SessionId, id: &RequestId) {
        lock(&self.waiting).remove(&(session.clone(), id.clone()));
        lock(self.shard_of_session(session)).forget_client_request(Instant::now(), session, id);
    }

    /// `logging/setLevel` for a session.
    pub(crate) fn set_log_level(&self, session: Option<&SessionId>, level: &str) -> bool {
        let Some(severity) = severity(level) else {
            return false;
        };
        if let Some(s) = session {
            lock(&self.log_levels).insert(s.clone(), severity);
        }
        true
    }

    pub(crate) fn log_enabled(&self, session: Option<&SessionId>, level: &str) -> bool {
        let min = session
            .and_then(|s| lock(&self.log_levels).get(s).copied())
            .unwrap_or(0);
        severity(level).unwrap_or(0) >= min
    }

    /// Expires idle sessions in every shard; returns when the timer must fire next.
    pub(crate) fn on_timer(&self) -> Option<Instant> {
        self.tables
            .iter()
            .filter_map(|shard| {
                let mut table = lock(shard);
                table.handle_timeout(Instant::now());
                self.drain_events(&mut table);
                table.poll_timeout()
            })
            .min()
    }

    /// Forgets everything about a stream whose body went away.
    pub(crate) fn stream_closed(&self, stream: StreamKey) {
        let mut table = lock(self.shard_of_stream(stream));
        table.handle_stream_closed(Instant::now(), stream);
        self.drain_events(&mut table);
    }
}

/// Whether `level` is at or above `min` (unknown levels never pass).
pub(crate) fn at_or_above(level: &str, min: &str) -> bool {
    matches!((severity(level), severity(min)), (Some(l), Some(m)) if l >= m)
}

/// RFC 5424 rank of an MCP log level (`debug` 0 .. `emergency` 7), as the typed view defines it.
fn severity(level: &str) -> Option<u8> {
    mcpx_wire::mcp::LoggingLevel::from_cow(std::borrow::Cow::Borrowed(level)).severity()
}

/// A body's registration in the stream map.
pub(crate) struct Registration {
    id: u64,
    superseded: Arc<Mutex<bool>>,
}

/// Closes a stream's bookkeeping when its response (JSON wait or SSE body) is dropped: that is
/// how a disconnect reaches the core (cancellation in the stateless era).
pub(crate) struct StreamGuard {
    shared: Arc<Shared>,
    stream: StreamKey,
    /// The stream-map registration this body owns (GET and resumed streams).
    entry: Option<u64>,
    /// The request's answer went out: the core already forgot the stream (answering ends it).
    answered: bool,
    /// A request's stream: its cancellation slot (fired when the stream closes unanswered).
    /// `None`: a GET stream, registered in the stream map.
    slot: Option<Arc<CancelSlot>>,
}

impl StreamGuard {
    /// The guard of a stream registered in the stream map as `entry` (a standalone GET stream,
    /// or a resumed one).
    fn new(shared: Arc<Shared>, stream: StreamKey, entry: u64) -> Self {
        Self {
            shared,
            stream,
            entry: Some(entry),
            answered: false,
            slot: None,
        }
    }

    /// The guard of a request's response stream.
    fn request(shared: Arc<Shared>, stream: StreamKey, slot: Arc<CancelSlot>) -> Self {
        Self {
            shared,
            stream,
            entry: None,
            answered: false,
            slot: Some(slot),
        }
    }

    /// Drops the guard after the stream's final frame.
    pub(crate) fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        match &self.slot {
            None => {
                // Only this body's own registration goes; when a resumed connection replaced
                // it, that one lives on and the core must not hear "closed".
                let mine = {
                    let mut streams = lock(&self.shared.streams);
                    let mine = streams
                        .get(&self.stream)
                        .is_some_and(|e| Some(e.id) == self.entry);
                    if mine {
                        streams.remove(&self.stream);
                    }
                    mine
                };
                if mine {
                    self.shared.stream_closed(self.stream);
                }
            }
            Some(slot) => {
                if !self.answered {
                    // Closed before its answer: the core learns it (the stateless era cancels),
                    // and a handler waiting on `cancelled()` stops waiting (as it always did
                    // when its stream went away).
                    self.shared.stream_closed(self.stream);
                    slot.fire();
                }
                self.shared.forget_cancel(self.stream, slot);
            }
        }
    }
}

/// An SSE response body: pre-encoded head events, then each frame of the stream's queue as one
/// event (one contiguous buffer each), with keep-alive comments while idle.
struct SseBody {
    head: VecDeque<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Option<tokio::time::Interval>,
    done: bool,
    guard: StreamGuard,
    /// Its stream-map registration, when the stream can be resumed.
    registration: Option<Registration>,
}

fn sse_event(frame: &Frame) -> Bytes {
    let mut buf = BytesMut::with_capacity(frame.data.len() + 48);
    let id = frame.event_id.map(|e| e.text());
    let mut event = SseEventRef::new(&frame.data).with_event("message");
    if let Some(id) = &id {
        event = event.with_id(id.as_str());
    }
    // Our event ids are digits and a dash, never a line break: encoding cannot fail.
    let _ = encode_event(&mut buf, &event);
    buf.freeze()
}

/// Appends the priming event (an id and a `retry:` hint, no data) to `buf`.
fn encode_priming(buf: &mut BytesMut, id: EventId) {
    let id = id.text();
    let event = SseEventRef::new(b"")
        .with_id(id.as_str())
        .with_retry(limits::SSE_RETRY_MS);
    let _ = encode_event(buf, &event);
}

/// The head of a request's SSE response: its priming event, then `first`, logged. Both go in
/// one buffer: one chunk, one write.
fn sse_head(shared: &Shared, priming: Option<EventId>, first: Option<&Frame>) -> VecDeque<Bytes> {
    let first = first.map(|frame| shared.log_frame(frame).unwrap_or_else(|| sse_event(frame)));
    let mut head = VecDeque::with_capacity(1);
    match (priming, first) {
        (Some(id), first) => {
            let extra = first.as_ref().map_or(0, Bytes::len);
            let mut buf = BytesMut::with_capacity(64 + extra);
            encode_priming(&mut buf, id);
            if let Some(event) = first {
                buf.extend_from_slice(&event);
            }
            head.push_back(buf.freeze());
        }
        (None, Some(event)) => head.push_back(event),
        (None, None) => {}
    }
    head
}

impl Drop for SseBody {
    fn drop(&mut self) {
        // Frames still queued never reached the client: they go to a resumed connection of the
        // stream, or into the log for one. The map stays locked from closing the queue to the
        // last drained frame: a sender that finds the queue closed hands its frame over through
        // the same lock, so it cannot overtake the frames queued before it.
        let shared = self.guard.shared.clone();
        // A finished stream that nothing routes to (its whole answer was in the head, the
        // common case) needs no lock: only its handler could still send, after its answer, so
        // there is no earlier frame to overtake (one less global lock per SSE response).
        let streams = (!self.done || self.registration.is_some()).then(|| lock(&shared.streams));
        self.rx.close();
        let not = self.registration.as_ref().map(|r| r.id);
        while let Ok(frame) = self.rx.try_recv() {
            if frame.event_id.is_none() {
                continue;
            }
            match &streams {
                Some(streams) => {
                    shared.deliver_orphan_locked(streams, self.guard.stream, frame, not);
                }
                None => shared.deliver_orphan(self.guard.stream, frame, not),
            }
        }
        drop(streams);
        // Everything up to the stream's last event was handed to the connection: no resume
        // will need its log.
        if self.done
            && self.head.is_empty()
            && self.guard.answered
            && let Some(store) = &self.guard.shared.events
        {
            store.forget(self.guard.stream);
        }
        // A request stream's own registration goes with its body (a newer one stays); a GET or
        // resumed stream's goes with its guard, which also tells the core.
        if let Some(reg) = self
            .registration
            .as_ref()
            .filter(|_| self.guard.entry.is_none())
        {
            let mut streams = lock(&self.guard.shared.streams);
            if streams
                .get(&self.guard.stream)
                .is_some_and(|e| e.id == reg.id)
            {
                streams.remove(&self.guard.stream);
            }
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        if let Some(bytes) = self.head.pop_front() {
            return Poll::Ready(Some(Ok(BodyFrame::data(bytes))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                let event = match &self.registration {
                    Some(reg) => {
                        let superseded = lock(&reg.superseded);
                        if *superseded {
                            // A resumed connection took the stream over: the frame is its.
                            drop(superseded);
                            let not = Some(reg.id);
                            self.guard
                                .shared
                                .deliver_orphan(self.guard.stream, frame, not);
                            self.done = true;
                            return Poll::Ready(None);
                        }
                        self.guard.shared.log_frame(&frame)
                    }
                    None => self.guard.shared.log_frame(&frame),
                };
                self.done = frame.ends;
                self.guard.answered |= frame.ends;
                let event = event.unwrap_or_else(|| sse_event(&frame));
                Poll::Ready(Some(Ok(BodyFrame::data(event))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if let Some(tick) = self.keep_alive.as_mut()
                    && tick.poll_tick(cx).is_ready()
                {
                    let mut buf = BytesMut::new();
                    encode_comment(&mut buf, "keep-alive");
                    return Poll::Ready(Some(Ok(BodyFrame::data(buf.freeze()))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.head.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn full(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Bytes,
) -> Response<ResponseBody> {
    let mut resp = Response::new(Full::new(body).boxed_unsync());
    *resp.status_mut() = status;
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp
}

fn json(body: Bytes) -> Response<ResponseBody> {
    json_with(None, body)
}

fn json_with(status: Option<StatusCode>, body: Bytes) -> Response<ResponseBody> {
    full(
        status.unwrap_or(StatusCode::OK),
        Some("application/json"),
        body,
    )
}

fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response<ResponseBody> {
    let mut buf = BytesMut::new();
    let _ = mcpx_wire::encode_error(
        &mut buf,
        None,
        mcpx_wire::MissingId::Null,
        code,
        message,
        None::<&()>,
    );
    full(status, Some("application/json"), buf.freeze())
}

fn sse(
    head: VecDeque<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Option<Duration>,
    guard: StreamGuard,
    registration: Option<Registration>,
) -> Response<ResponseBody> {
    sse_body(head, rx, keep_alive, guard, false, registration)
}

fn sse_body(
    head: VecDeque<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Option<Duration>,
    mut guard: StreamGuard,
    done: bool,
    registration: Option<Registration>,
) -> Response<ResponseBody> {
    guard.answered |= done;
    let keep_alive = keep_alive.map(|every| {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    let body = SseBody {
        head,
        rx,
        keep_alive,
        done,
        guard,
        registration,
    };
    let mut resp = Response::new(body.boxed_unsync());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Serves one HTTP request. Never fails: every problem is an HTTP response.
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    req: Request<B>,
) -> Result<Response<ResponseBody>, Infallible>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(resp) = crate::metrics::endpoint(&shared, &req) {
        return Ok(resp);
    }
    // Over the in-flight bound, or shutting down: refused before the body is read.
    let mut meter = match shared.shed.admit(&shared.metrics, req.method()) {
        Ok(meter) => meter,
        Err(refusal) => return Ok(refusal),
    };
    // Bearer-token mode: the token is checked first, and a session the response creates is
    // bound to the token's subject (`crate::auth`).
    let Ok(resp) = match shared.auth.clone() {
        Some(auth) => {
            auth.guard(&shared, req, |req| {
                handle_admitted(shared.clone(), req, &mut meter)
            })
            .await
        }
        None => handle_admitted(shared.clone(), req, &mut meter).await,
    };
    Ok(meter.finish(resp, &shared))
}

async fn handle_admitted<B>(
    shared: Arc<Shared>,
    req: Request<B>,
    meter: &mut crate::shed::Meter<'_>,
) -> Result<Response<ResponseBody>, Infallible>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(legacy) = &shared.legacy
        && legacy.owns(req.uri().path())
    {
        return Ok(crate::legacy::handle(shared.clone(), req).await);
    }
    if req.uri().path() == "/healthz" && req.method() == Method::GET {
        return Ok(full(
            StatusCode::OK,
            Some("text/plain"),
            Bytes::from_static(b"ok\n"),
        ));
    }
    let (mut parts, body) = req.into_parts();
    // HTTP/2 names the host in the `:authority` pseudo-header, which hyper keeps in the URI, not
    // in a `Host` header: give the core's DNS-rebinding check the same input for both versions.
    if parts.version == http::Version::HTTP_2
        && !parts.headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(header::HOST, value);
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // 413 before the core sees the request: the core's own `BodyTooLarge` rejection, so the
    // body follows the rules of the version the request names (no `"id": null` from 2025-11-25).
    let mut too_large = || {
        let version = parts
            .headers
            .get(MCP_PROTOCOL_VERSION)
            .and_then(|v| v.to_str().ok())
            .and_then(ProtocolVersion::parse);
        let limit = shared.max_body_bytes;
        let rejection = Rejection::new(ProtocolError::BodyTooLarge { limit }, version, None);
        meter.rejected(&rejection);
        rejection_response(&rejection)
    };
    if declared.is_some_and(|n| n > shared.max_body_bytes as u64) {
        return Ok(too_large());
    }
    let bytes = match read_body(body, shared.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return Ok(too_large()),
        Err(BodyError::Read) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::PARSE_ERROR,
                "the body could not be read",
            ));
        }
    };
    let routed = shared.route_request(&parts, bytes);
    Ok(match routed {
        Err(rejection) => {
            meter.rejected(&rejection);
            rejection_response(&rejection)
        }
        Ok(routed) => {
            meter.routed(&routed);
            let trace = parts
                .headers
                .get(&TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .and_then(TraceParent::parse);
            route(&shared, routed, trace).await
        }
    })
}

/// Why a request body could not be read.
enum BodyError {
    /// It grew past the limit.
    TooLarge,
    /// The connection failed while it was read.
    Read,
}

/// Reads a whole request body of at most `limit` bytes. A body that arrives as one frame (almost
/// every JSON-RPC message) is returned as that frame, not copied; more frames are appended to
/// one buffer.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(mut data) = frame.map_err(|_| BodyError::Read)?.into_data() else {
            continue; // trailers carry nothing for us
        };
        // `Bytes` (hyper's and axum's chunk type) hands itself over here without a copy.
        let len = bytes::Buf::remaining(&data);
        let data = bytes::Buf::copy_to_bytes(&mut data, len);
        let total = first.as_ref().map_or(0, Bytes::len) + rest.len() + data.len();
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(f) = first.take() {
                    rest.extend_from_slice(&f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// A refused request: its status, `Retry-After` when set, and its JSON-RPC error body.
fn rejection_response(rejection: &Rejection) -> Response<ResponseBody> {
    let mut buf = BytesMut::new();
    rejection.encode_body(&mut buf);
    let mut resp = full(rejection.status(), Some("application/json"), buf.freeze());
    if let Some(after) = rejection.retry_after()
        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn route(
    shared: &Arc<Shared>,
    routed: Routed,
    trace: Option<TraceParent<'_>>,
) -> Response<ResponseBody> {
    match routed {
        Routed::Answer(answer) => {
            let mut resp = json(answer.body);
            if let Some(session) = answer.new_session
                && let Ok(v) = HeaderValue::from_str(session.as_str())
            {
                resp.headers_mut().insert("mcp-session-id", v);
            }
            resp
        }
        Routed::Dispatch(d) => {
            let span = request_span(
                d.message.method().unwrap_or_default(),
                &d.id,
                d.session.as_ref(),
                d.version,
                trace,
            );
            dispatch(shared.clone(), d, span).await
        }
        Routed::Accepted(_) => full(StatusCode::ACCEPTED, None, Bytes::new()),
        Routed::ClientResponse(c) => {
            if let Some(tx) = lock(&shared.waiting).remove(&(c.session, c.id)) {
                let _ = tx.send(c.message);
            }
            full(StatusCode::ACCEPTED, None, Bytes::new())
        }
        Routed::OpenStream(open) => open_stream(shared, open.stream, open.priming),
        Routed::ResumeStream(resume) => resume_stream(shared, &resume).await,
        Routed::SessionDeleted(id) => {
            lock(&shared.registry).session_ended(&id);
            lock(&shared.log_levels).remove(&id);
            full(StatusCode::OK, None, Bytes::new())
        }
        Routed::Batch(batch) => {
            let mut bodies = Vec::new();
            for item in batch.items {
                let resp = Box::pin(route(shared, item, trace)).await;
                if resp.status() == StatusCode::OK {
                    let Ok(collected) = resp.into_body().collect().await;
                    bodies.push(collected.to_bytes());
                }
            }
            if bodies.is_empty() {
                return full(StatusCode::ACCEPTED, None, Bytes::new());
            }
            let mut out = BytesMut::new();
            out.extend_from_slice(b"[");
            for (i, b) in bodies.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",");
                }
                out.extend_from_slice(b);
            }
            out.extend_from_slice(b"]");
            json(out.freeze())
        }
        _ => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::INTERNAL_ERROR,
            "unsupported route",
        ),
    }
}

fn open_stream(
    shared: &Arc<Shared>,
    stream: StreamKey,
    priming: Option<EventId>,
) -> Response<ResponseBody> {
    let (tx, rx) = mpsc::channel(shared.queue);
    let reg = shared.register(stream, tx);
    let head = sse_head(shared, priming, None);
    let guard = StreamGuard::new(shared.clone(), stream, reg.id);
    sse(head, rx, Some(shared.keep_alive), guard, Some(reg))
}

/// `GET` with `Last-Event-ID`: installs the stream's new live queue (replacing the old
/// connection's), then replays the logged events after the client's last one, then goes on
/// live; a stream whose request was answered ends after its response. See [`crate::replay`].
async fn resume_stream(
    shared: &Arc<Shared>,
    resume: &mcpx_proto::ResumeStream,
) -> Response<ResponseBody> {
    let after = resume.last_event_id;
    let stream = after.stream;
    let (tx, rx) = mpsc::channel(shared.queue);
    // Installed before the log is read: see the module docs of `replay` for why this order.
    let reg = shared.register(stream, tx);
    let guard = StreamGuard::new(shared.clone(), stream, reg.id);
    let events = match &shared.events {
        Some(store) => store.replay(after).await,
        None => Ok(Vec::new()),
    };
    // An answered stream whose log does not reach its response yet: the response is on its way
    // (the core ends a request when its answer is encoded, a moment before the answer reaches a
    // queue or the log) and comes through the queue just installed. A log that is gone for good
    // is refused by the store (too old).
    match events {
        Ok(events) => {
            let done = events.iter().any(|e| e.ends);
            let head = events.into_iter().map(|e| e.event).collect();
            // A GET stream idles between notifications; a request stream only until its answer.
            let keep_alive = (!resume.ended).then_some(shared.keep_alive);
            sse_body(head, rx, keep_alive, guard, done, Some(reg))
        }
        Err(e) => {
            lock(&shared.streams).remove(&stream);
            drop(guard);
            error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_REQUEST,
                &e.to_string(),
            )
        }
    }
}

/// The context a dispatched request's handler gets, answering into `own`.
fn request_context(
    shared: &Arc<Shared>,
    d: &Dispatch,
    cancel: Arc<CancelSlot>,
    own: mpsc::Sender<Frame>,
) -> RequestContext {
    RequestContext {
        shared: shared.clone(),
        stream: d.stream,
        session: d.session.clone(),
        version: d.version,
        client_capabilities: d.client_capabilities.clone(),
        cancel,
        // Only the stateless era reads it: spare the session era a second look at the params.
        request_log_level: d.log_level.clone(),
        round: None,
        request_id: d.id.clone(),
        own,
        handlers: shared.handlers(),
    }
}

/// Runs a dispatched request's handler and answers per the response mode: JSON when the
/// handler answers before emitting anything else (auto) or always (json), SSE otherwise.
async fn dispatch(shared: Arc<Shared>, d: Dispatch, span: tracing::Span) -> Response<ResponseBody> {
    let (tx, mut rx) = mpsc::channel(shared.queue);
    // Registered only if the response turns into SSE; weak, so the queue still closes when the
    // handler is done with it.
    let weak_tx = tx.downgrade();
    let slot = Arc::new(CancelSlot::default());
    let guard = StreamGuard::request(shared.clone(), d.stream, slot.clone());
    let ctx = request_context(&shared, &d, slot, tx.clone());
    let mut handler = Handler::new(tracing::Instrument::instrument(
        supervised(shared.clone(), d.stream, tx, ctx, d.message),
        span,
    ));
    // Encoded only where an SSE response is really sent.
    let priming = d.priming;
    match shared.mode {
        ResponseMode::Json => {
            while let Some(frame) = handler.next_frame(&mut rx).await {
                // JSON responses have no room for anything but the response itself.
                if frame.ends {
                    guard.answered();
                    return json_with(frame.status, frame.data);
                }
            }
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::INTERNAL_ERROR,
                "no response",
            )
        }
        ResponseMode::Auto => {
            match handler.next_frame(&mut rx).await {
                Some(frame) if frame.ends => {
                    guard.answered();
                    json_with(frame.status, frame.data)
                }
                Some(frame) => {
                    // The handler streams: it goes on in its own task, feeding the SSE body.
                    handler.detach();
                    let reg = shared.register_sse(d.stream, d.version, &weak_tx);
                    let head = sse_head(&shared, priming, Some(&frame));
                    sse(head, rx, None, guard, reg)
                }
                None => error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::INTERNAL_ERROR,
                    "no response",
                ),
            }
        }
        // A stateless request has no priming event to send at once, so its headers can wait
        // for the first message: an error that must be an HTTP 400 (-32021) still can be.
        ResponseMode::Sse if priming.is_none() => {
            match handler.next_frame(&mut rx).await {
                Some(frame) => {
                    handler.detach();
                    let status = frame.status;
                    let done = frame.ends;
                    let head = sse_head(&shared, None, Some(&frame));
                    // `done`: the head already holds the final message.
                    let mut resp = sse_body(head, rx, None, guard, done, None);
                    if let Some(status) = status {
                        *resp.status_mut() = status;
                    }
                    resp
                }
                None => error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::INTERNAL_ERROR,
                    "no response",
                ),
            }
        }
        ResponseMode::Sse => {
            // A handler that answers at once (most do) is polled here first, so its answer
            // leaves with the headers and the priming event in one write (else two writes per
            // request); one still working gets its priming event sent now, as 2025-11-25 wants.
            let first = handler.frame_now(&mut rx).await;
            handler.detach();
            match first {
                Some(frame) if frame.ends => {
                    // The head holds the whole stream: nothing more to route to it.
                    let head = sse_head(&shared, priming, Some(&frame));
                    sse_body(head, rx, None, guard, true, None)
                }
                first => {
                    let reg = shared.register_sse(d.stream, d.version, &weak_tx);
                    sse(
                        sse_head(&shared, priming, first.as_ref()),
                        rx,
                        None,
                        guard,
                        reg,
                    )
                }
            }
        }
    }
}

/// The W3C Trace Context header, named once (a name given as a string is parsed on every
/// lookup).
static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// A W3C `traceparent` header (`00-{trace-id}-{parent-id}-{flags}`), borrowed.
#[derive(Clone, Copy, Debug)]
struct TraceParent<'a> {
    trace_id: &'a str,
    parent_id: &'a str,
}

impl<'a> TraceParent<'a> {
    /// The ids of a well-formed version-00 header (lowercase hex, not all zero); `None`
    /// otherwise (the header is then ignored, as W3C Trace Context says).
    fn parse(header: &'a str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
        (version == "00"
            && parts.next().is_none()
            && hex(trace_id, 32)
            && hex(parent_id, 16)
            && hex(flags, 2)
            && nonzero(trace_id)
            && nonzero(parent_id))
        .then_some(Self {
            trace_id,
            parent_id,
        })
    }
}

/// The span of one dispatched request (level DEBUG: free when disabled): method, id, session,
/// protocol version, and the caller's trace context when it sent a `traceparent`, so the
/// request's logs join the caller's trace.
fn request_span(
    method: &str,
    id: &RequestId,
    session: Option<&SessionId>,
    version: ProtocolVersion,
    trace: Option<TraceParent<'_>>,
) -> tracing::Span {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return tracing::Span::none();
    }
    tracing::debug_span!(
        "mcp.request",
        method,
        id = %id,
        session = session.map(SessionId::as_str),
        version = version.as_str(),
        trace_id = trace.map(|t| t.trace_id),
        parent_id = trace.map(|t| t.parent_id),
    )
}

/// A request's handler with its panic caught in place: a panicking handler gets -32603 for its
/// own request; nothing else is disturbed.
async fn supervised(
    shared: Arc<Shared>,
    stream: StreamKey,
    own: mpsc::Sender<Frame>,
    ctx: RequestContext,
    msg: Message,
) {
    // Pinned in place: this future is itself boxed once (by `Handler`), so no second box.
    let request = std::pin::pin!(run_request(ctx, msg));
    if CatchUnwind(request).await.is_err() {
        let out = shared.write(stream, |t, now, buf| {
            t.respond_error(
                now,
                stream,
                ErrorCode::INTERNAL_ERROR,
                "the handler failed",
                None,
                buf,
            )
        });
        if let Ok(out) = out {
            // The answer to this request goes on its own queue (it is in no map).
            let _ = own.send(out.frame).await;
        }
    }
}

type HandlerFuture = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A handler run inside the HTTP request's own task until its answer is known: most handlers
/// answer without streaming, and then no task is spawned and no other thread is woken (the
/// biggest single cost per request once the codec is fast). A handler that outlives its
/// response (it streams, or the client went away first) moves to a task of its own, so it still
/// runs to the end: disconnecting is not cancelling in the session era, and in the stateless era
/// the closed stream cancels it through its context.
struct Handler(Option<HandlerFuture>);

impl Handler {
    fn new(fut: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(Box::pin(fut)))
    }

    /// Runs the handler until the stream's next frame (`None`: the queue closed).
    async fn next_frame(&mut self, rx: &mut mpsc::Receiver<Frame>) -> Option<Frame> {
        std::future::poll_fn(|cx| self.poll_next_frame(cx, rx)).await
    }

    /// The stream's first frame if the handler has it at once (polled once, never waited
    /// for); `None` when it is still working or the queue closed.
    async fn frame_now(&mut self, rx: &mut mpsc::Receiver<Frame>) -> Option<Frame> {
        std::future::poll_fn(|cx| match self.poll_next_frame(cx, rx) {
            Poll::Ready(frame) => Poll::Ready(frame),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    fn poll_next_frame(
        &mut self,
        cx: &mut Context<'_>,
        rx: &mut mpsc::Receiver<Frame>,
    ) -> Poll<Option<Frame>> {
        // A frame already queued goes first: the handler is not polled past its answer.
        // `try_recv`, not `poll_recv`: registering this task's waker before the handler runs
        // would make the handler's own send wake the running task, which tokio then
        // reschedules and, with an idle worker, unparks that worker for it (a futex wake and a
        // wasted poll per request).
        if let Ok(frame) = rx.try_recv() {
            return Poll::Ready(Some(frame));
        }
        if let Some(fut) = self.0.as_mut()
            && fut.as_mut().poll(cx).is_ready()
        {
            self.0 = None;
        }
        // What the handler sent, or (handler pending or done, nothing queued) interest in
        // frames from elsewhere (a task it spawned) or in the queue closing.
        rx.poll_recv(cx)
    }

    /// Moves a still-running handler to its own task.
    fn detach(&mut self) {
        if let Some(fut) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(fut);
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.detach();
    }
}

/// Polls a pinned future and turns a panic inside it into `Err(())`.
struct CatchUnwind<'a, F>(Pin<&'a mut F>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        // The future is not polled again after a panic (this future completes with `Err`), so
        // no broken invariant inside it can be observed: asserting unwind safety is sound.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// Encodes a typed result as the request's answer and sends it (session era: results need no
/// additions, so they are serialized as they are).
pub(crate) async fn respond_typed<R: serde::Serialize + ?Sized>(ctx: &RequestContext, result: &R) {
    let stream = ctx.stream;
    let out = ctx.shared.write(stream, |t, now, buf| {
        t.respond_result(now, stream, result, buf)
    });
    if let Ok(out) = out {
        ctx.deliver(out).await;
    }
}

/// Sends a raw result object, byte for byte, as the request's answer.
pub(crate) async fn respond_raw(ctx: &RequestContext, result: &RawJson) {
    let stream = ctx.stream;
    let out = ctx.shared.write(stream, |t, now, buf| {
        t.respond_raw(now, stream, result, buf)
    });
    if let Ok(out) = out {
        ctx.deliver(out).await;
    }
}

/// Encodes `value` as the result of the request on `stream` and sends it.
pub(crate) async fn respond(ctx: &RequestContext, value: Result<Value, crate::HandlerError>) {
    let stream = ctx.stream;
    let rules = ctx.version.rules();
    let value = value.map(|mut v| {
        // 2026-07-28 results say what they are: a plain answer is `"resultType": "complete"`.
        if rules.result_type
            && let Some(obj) = v.as_object_mut()
        {
            obj.entry("resultType")
                .or_insert_with(|| Value::from("complete"));
        }
        v
    });
    let value = value.map_err(|mut e| {
        // -32002 is legacy; 2026-07-28 servers must say -32602 for a missing resource.
        if e.code == ErrorCode::RESOURCE_NOT_FOUND {
            e.code = rules.resource_not_found;
        }
        e
    });
    let missing_capability =
        matches!(&value, Err(e) if e.code == ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
    let out = match value {
        Ok(v) => ctx
            .shared
            .write(stream, |t, now, buf| t.respond_result(now, stream, &v, buf)),
        Err(e) => {
            let data = e
                .data
                .as_ref()
                .and_then(|d| RawJson::from_serialize(d).ok());
            ctx.shared.write(stream, |t, now, buf| {
                t.respond_error(now, stream, e.code, &e.message, data.as_ref(), buf)
            })
        }
    };
    if let Ok(mut out) = out {
        // MissingRequiredClientCapabilityError is an HTTP 400 (MCP-DIGEST 1.2).
        if missing_capability {
            out.frame.status = Some(StatusCode::BAD_REQUEST);
        }
        ctx.deliver(out).await;
    }
}

// -------------------------------------------------------------------------------------------
// For the message-channel transports (stdio, legacy HTTP+SSE: `crate::channel`), which drive the
// same table and handlers without one HTTP response per request.
// -------------------------------------------------------------------------------------------

impl Shared {
    /// Hands a client's answer to the server request waiting for it (as `route` does for a
    /// POSTed one).
    pub(crate) fn client_response(&self, c: mcpx_proto::ClientResponse) {
        if let Some(tx) = lock(&self.waiting).remove(&(c.session, c.id)) {
            let _ = tx.send(c.message);
        }
    }

    /// Forgets a session's subscriptions and log level after the table deleted it.
    pub(crate) fn session_deleted(&self, id: &SessionId) {
        lock(&self.registry).session_ended(id);
        lock(&self.log_levels).remove(id);
    }

    /// The negotiated version of a live session.
    pub(crate) fn session_version(&self, id: &SessionId) -> Option<ProtocolVersion> {
        lock(self.shard_of_session(id))
            .session(id)
            .map(mcpx_proto::Session::version)
    }

    /// The keep-alive interval of idle SSE streams.
    pub(crate) fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    /// The request body limit (also the stdio line limit: one line is one message).
    pub(crate) fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The per-stream queue bound (`Config::max_queued_events_per_stream`).
    pub(crate) fn queue_len(&self) -> usize {
        self.queue
    }
}

/// Starts a dispatched request for a message-channel transport: every frame of the request's
/// stream goes into `own` (the final one with `ends` set). Returns the supervised handler
/// future (to spawn) and the stream's guard: drop it after the final frame with
/// [`StreamGuard::answered`], or plainly when the channel closes first (the request's stream
/// then closes as an HTTP response body's would).
pub(crate) fn start_request(
    shared: &Arc<Shared>,
    d: Dispatch,
    own: mpsc::Sender<Frame>,
) -> (
    impl std::future::Future<Output = ()> + Send + 'static,
    StreamGuard,
) {
    let slot = Arc::new(CancelSlot::default());
    let guard = StreamGuard::request(shared.clone(), d.stream, slot.clone());
    let span = request_span(d.method(), &d.id, d.session.as_ref(), d.version, None);
    let ctx = request_context(shared, &d, slot, own.clone());
    let fut = tracing::Instrument::instrument(
        supervised(shared.clone(), d.stream, own, ctx, d.message),
        span,
    );
    (fut, guard)
}

/// The idle-expiry timer: the only timer of the server. A new session's deadline is never
/// earlier than the ones already armed (same TTL, later start), so the timer needs no wake-up
/// from the request path; the sleep cap covers an empty table gaining its first session.
pub(crate) async fn run_timer(shared: Arc<Shared>) {
    loop {
        let next = shared.on_timer();
        let wait = next.map_or(limits::IDLE_TIMER_MAX_SLEEP, |at| {
            at.saturating_duration_since(Instant::now())
        });
        tokio::time::sleep(wait.min(limits::IDLE_TIMER_MAX_SLEEP)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event as TracingEvent, Metadata, Subscriber};

    #[test]
    fn traceparent_is_parsed_strictly() {
        let ok =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(ok.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ok.parent_id, "00f067aa0ba902b7");
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad}");
        }
    }

    /// Records the fields of every new span.
    #[derive(Default)]
    struct Recorder(StdMutex<Vec<(String, String)>>);

    struct Fields<'a>(&'a mut Vec<(String, String)>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_owned(), value.to_owned()));
        }
    }

    impl Subscriber for &'static Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            span.record(&mut Fields(&mut self.0.lock().unwrap()));
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &TracingEvent<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn request_span_continues_the_callers_trace() {
        let recorder: &'static Recorder = Box::leak(Box::default());
        let trace = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let session = SessionId::new("abc").unwrap();
        tracing::subscriber::with_default(recorder, || {
            let _span = request_span(
                "tools/call",
                &RequestId::from_i64(7),
                Some(&session),
                ProtocolVersion::V2025_11_25,
                trace,
            );
        });
        let fields = recorder.0.lock().unwrap().clone();
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("method").as_deref(), Some("tools/call"));
        assert_eq!(get("id").as_deref(), Some("7"));
        assert_eq!(get("session").as_deref(), Some("abc"));
        assert_eq!(
            get("trace_id").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(get("parent_id").as_deref(), Some("00f067aa0ba902b7"));
    }
    /// A body that yields the given chunks, one frame each.
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(BodyFrame::data(b))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Chunks {
        Chunks(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    #[tokio::test]
    async fn read_body_keeps_one_frame_and_joins_many() {
        let one = Bytes::from_static(b"{\"a\":1}");
        let got = read_body(Chunks([one.clone()].into()), 100).await;
        let got = got.ok().unwrap_or_default();
        assert_eq!(got, one);
        // The same memory: a one-frame body is handed over, not copied.
        assert_eq!(got.as_ptr(), one.as_ptr());

        let got = read_body(chunks(&[b"{\"a\"", b"", b":1", b"}"]), 100).await;
        assert_eq!(got.ok().as_deref(), Some(&b"{\"a\":1}"[..]));
        let got = read_body(chunks(&[]), 100).await;
        assert_eq!(got.ok().as_deref(), Some(&b""[..]));
    }

    #[tokio::test]
    async fn read_body_refuses_past_the_limit_across_frames() {
        assert!(read_body(chunks(&[b"12345"]), 5).await.is_ok());
        assert!(matches!(
            read_body(chunks(&[b"123456"]), 5).await,
            Err(BodyError::TooLarge)
        ));
        assert!(matches!(
            read_body(chunks(&[b"123", b"456"]), 5).await,
            Err(BodyError::TooLarge)
        ));
    }
}
