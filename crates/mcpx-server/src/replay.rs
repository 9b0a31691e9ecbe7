//! Resumable SSE streams: the replay log of every stream sent as SSE, behind the pluggable
//! [`EventStore`] trait, with a bounded in-memory store ([`MemoryEventStore`]) as the default.
//!
//! # What is logged, and when
//! Every server-to-client message on an SSE stream of a version with resumable streams
//! (2025-03-26 .. 2025-11-25) carries an event id `"{stream}-{seq}"` (see
//! [`mcpx_proto::EventId`]). The server appends each such event to the store exactly once, as
//! the whole encoded SSE event: when it is encoded for the stream's HTTP body, or, if the body
//! is gone (the client disconnected), when it is queued for the stream or drained from the
//! dropped body's queue. So the log holds every event the stream produced, whether or not the
//! client read it; the client's `Last-Event-ID` says which it saw.
//!
//! # Resuming
//! A GET with `Last-Event-ID: S-N` (validated by the core: stream `S` belongs to the session
//! and `N` was issued) first installs a new live queue for stream `S`, then replays the logged
//! events of `S` after `N`, oldest first, then continues with the live queue. Installing before
//! reading is what makes it exact: an event produced concurrently either reached the log before
//! the replay read it, or reaches the new queue (the "log or queue" decision is taken under the
//! server's stream-map lock). A stream whose request was answered replays up to its response
//! and ends.
//!
//! # Bounds
//! Per stream at most [`MAX_EVENTS_PER_STREAM`] events and [`MAX_BYTES_PER_STREAM`] bytes (the
//! oldest events go first); in all at most [`MAX_TOTAL_BYTES`] (the oldest stream's whole log
//! goes first). A resume that needs an event no longer kept gets an error (HTTP 400) rather
//! than a stream with a silent gap.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use mcpx_proto::{EventId, StreamKey};

use crate::handler::BoxFuture;

/// Events kept per stream: a request's progress and logs, or a session's notifications. The
/// same bound as the core's per-stream queue
/// ([`DEFAULT_MAX_QUEUED_EVENTS_PER_STREAM`](mcpx_proto::limits::DEFAULT_MAX_QUEUED_EVENTS_PER_STREAM)):
/// minutes of a chatty tool.
pub const MAX_EVENTS_PER_STREAM: usize = 1024;

/// Bytes kept per stream (1 MiB): a few large tool results, or many small notifications.
pub const MAX_BYTES_PER_STREAM: usize = 1024 * 1024;

/// Bytes kept in all (32 MiB), counting [`STREAM_OVERHEAD_BYTES`] per stream: the whole replay
/// log's memory, whatever the number of streams.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;

/// Streams with a log at once. Under SSE load every request stream has one (its response), so
/// this is what bounds the log's bookkeeping: 16,384 streams are about half a second of
/// tools/call at the rates measured here, far longer than a client that lost its connection
/// takes to come back; streams sent whole go first.
pub const MAX_LOGGED_STREAMS: usize = 16_384;

/// What one stream's log costs beyond its events' bytes (map entry, queue, event records),
/// counted against [`MAX_TOTAL_BYTES`].
pub const STREAM_OVERHEAD_BYTES: usize = 256;

/// How long the log of a stream that was sent whole is kept ([`EventStore::forget`]): "sent"
/// means handed to the connection, which may already be dead without the server knowing, so a
/// client may still come back for the end. 30 s covers the 1 s `retry` hint and any sane
/// reconnect backoff.
pub const DELIVERED_RETENTION: std::time::Duration = std::time::Duration::from_secs(30);

/// Streams whose whole log was evicted that are still recognised as such (so their resume gets
/// "too old", not an empty replay). 16,384 keys are 128 KiB.
pub const MAX_EVICTED_REMEMBERED: usize = 16_384;

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedEvent {
    /// Its id.
    pub id: EventId,
    /// The whole encoded SSE event (`id:`, `event:`, `data:` lines and the blank line).
    pub event: Bytes,
    /// It is the stream's last event (a request's response).
    pub ends: bool,
}

impl LoggedEvent {
    /// An event.
    pub fn new(id: EventId, event: Bytes, ends: bool) -> Self {
        Self { id, event, ends }
    }
}

/// Why a stream cannot be replayed from the requested position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// Events after the position were dropped from the log (too old for its bounds).
    TooOld {
        /// The oldest position still kept, if any.
        oldest_kept: Option<u64>,
    },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooOld { .. } => f.write_str(
                "Bad Request: Last-Event-ID is too old: the events after it are no longer kept",
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Where the server keeps the events of its SSE streams for `Last-Event-ID` resumption. The
/// default is [`MemoryEventStore`]; an implementation may keep them elsewhere (shared storage,
/// so another instance behind a load balancer can resume a stream: the core's session state
/// must then be shared too).
///
/// Called by the server only; ids are unique per server for its lifetime. `append` is on the
/// path of every SSE event: it must not block (buffer and write in the background).
pub trait EventStore: Send + Sync + 'static {
    /// Logs one event of `event.id.stream`. Events of one stream arrive in position order.
    fn append(&self, event: LoggedEvent);

    /// The logged events of `after.stream` with a position above `after.seq`, oldest first
    /// (empty: nothing was produced since). [`ReplayError::TooOld`] when some of them were
    /// dropped.
    fn replay(&self, after: EventId) -> BoxFuture<Result<Vec<LoggedEvent>, ReplayError>>;

    /// The stream's last event (a request's response) was handed to the connection: its log is
    /// needed only by a client that lost the connection just then, so it may go soon
    /// ([`MemoryEventStore`]: after [`DELIVERED_RETENTION`]). The default keeps it until evicted.
    fn forget(&self, stream: StreamKey) {
        let _ = stream;
    }

    /// Bytes held (for metrics); 0 when unknown.
    fn bytes(&self) -> usize {
        0
    }
}

/// The in-memory [`EventStore`]: per-stream logs in a bounded map (see the module docs for the
/// bounds). Appends and replays take one short lock.
#[derive(Debug)]
pub struct MemoryEventStore {
    inner: Mutex<Logs>,
    max_events_per_stream: usize,
    max_bytes_per_stream: usize,
    max_total_bytes: usize,
}

#[derive(Debug, Default)]
struct Logs {
    streams: HashMap<StreamKey, StreamLog>,
    /// Streams in the order their logs were created: the first is evicted first.
    order: VecDeque<StreamKey>,
    /// Streams whose logs were evicted whole, oldest first.
    evicted: VecDeque<StreamKey>,
    evicted_set: std::collections::HashSet<StreamKey>,
    /// Streams sent whole, oldest first, with when: dropped after [`DELIVERED_RETENTION`].
    delivered: VecDeque<(std::time::Instant, StreamKey)>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct StreamLog {
    events: VecDeque<LoggedEvent>,
    bytes: usize,
    /// The highest position dropped from the front of this log (0: none).
    dropped_through: u64,
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new(MAX_EVENTS_PER_STREAM, MAX_BYTES_PER_STREAM, MAX_TOTAL_BYTES)
    }
}

impl MemoryEventStore {
    /// A store with these bounds (each at least 1).
    pub fn new(
        max_events_per_stream: usize,
        max_bytes_per_stream: usize,
        max_total_bytes: usize,
    ) -> Self {
        Self {
            inner: Mutex::new(Logs::default()),
            max_events_per_stream: max_events_per_stream.max(1),
            max_bytes_per_stream: max_bytes_per_stream.max(1),
            max_total_bytes: max_total_bytes.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Logs> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn replay_now(&self, after: EventId) -> Result<Vec<LoggedEvent>, ReplayError> {
        let logs = self.lock();
        let Some(log) = logs.streams.get(&after.stream) else {
            if logs.evicted_set.contains(&after.stream) {
                return Err(ReplayError::TooOld { oldest_kept: None });
            }
            // Nothing was ever logged for it: nothing was produced since the client's event.
            return Ok(Vec::new());
        };
        if log.dropped_through > after.seq {
            return Err(ReplayError::TooOld {
                oldest_kept: log.events.front().map(|e| e.id.seq),
            });
        }
        Ok(log
            .events
            .iter()
            .filter(|e| e.id.seq > after.seq)
            .cloned()
            .collect())
    }
}

impl Logs {
    /// Drops the logs of streams sent whole more than [`DELIVERED_RETENTION`] ago.
    fn drop_delivered(&mut self, now: std::time::Instant) {
        while let Some(&(at, key)) = self.delivered.front()
            && now.saturating_duration_since(at) >= DELIVERED_RETENTION
        {
            self.delivered.pop_front();
            if let Some(log) = self.streams.remove(&key) {
                self.bytes = self.bytes.saturating_sub(log.bytes + STREAM_OVERHEAD_BYTES);
                // A late resume of it is refused as too old, not answered with nothing.
                self.remember_gone(key);
            }
        }
    }

    /// Evicts the oldest stream sent whole that still has a log; `false` when there is none.
    fn evict_oldest_delivered(&mut self) -> bool {
        while let Some((_, key)) = self.delivered.pop_front() {
            if let Some(log) = self.streams.remove(&key) {
                self.bytes = self.bytes.saturating_sub(log.bytes + STREAM_OVERHEAD_BYTES);
                self.remember_gone(key);
                return true;
            }
        }
        false
    }

    fn evict_oldest_stream(&mut self) {
        let Some(key) = self.order.pop_front() else {
            return;
        };
        let Some(log) = self.streams.remove(&key) else {
            return; // forgotten already: nothing to free, nothing to refuse later
        };
        self.bytes = self.bytes.saturating_sub(log.bytes + STREAM_OVERHEAD_BYTES);
        self.remember_gone(key);
    }

    /// Remembers that `key`'s log is gone (bounded by [`MAX_EVICTED_REMEMBERED`]).
    fn remember_gone(&mut self, key: StreamKey) {
        if self.evicted.len() >= MAX_EVICTED_REMEMBERED
            && let Some(old) = self.evicted.pop_front()
        {
            self.evicted_set.remove(&old);
        }
        self.evicted.push_back(key);
        self.evicted_set.insert(key);
    }
}

impl EventStore for MemoryEventStore {
    fn append(&self, event: LoggedEvent) {
        let len = event.event.len();
        let key = event.id.stream;
        let mut logs = self.lock();
        if logs.delivered.front().is_some() {
            logs.drop_delivered(std::time::Instant::now());
        }
        if logs.evicted_set.contains(&key) {
            // Its earlier events are gone: a resume must fail, not replay a partial log.
            return;
        }
        if !logs.streams.contains_key(&key) {
            logs.order.push_back(key);
            logs.bytes += STREAM_OVERHEAD_BYTES;
        }
        let log = logs.streams.entry(key).or_default();
        log.events.push_back(event);
        log.bytes += len;
        let mut freed = 0;
        while log.events.len() > self.max_events_per_stream
            || (log.bytes > self.max_bytes_per_stream && log.events.len() > 1)
        {
            let Some(old) = log.events.pop_front() else {
                break;
            };
            log.bytes -= old.event.len();
            log.dropped_through = old.id.seq;
            freed += old.event.len();
        }
        logs.bytes = logs.bytes + len - freed;
        while (logs.bytes > self.max_total_bytes || logs.streams.len() > MAX_LOGGED_STREAMS)
            && logs.streams.len() > 1
        {
            // Streams sent whole first (their clients most likely have everything), then the
            // oldest.
            if !logs.evict_oldest_delivered() {
                logs.evict_oldest_stream();
            }
        }
        // Keys of forgotten streams stay in `order`; sweep them out whenever they are half of
        // it (amortised O(1) per append).
        if logs.order.len() > 2 * (logs.streams.len() + 1) {
            let Logs { order, streams, .. } = &mut *logs;
            order.retain(|k| streams.contains_key(k));
        }
    }

    fn replay(&self, after: EventId) -> BoxFuture<Result<Vec<LoggedEvent>, ReplayError>> {
        let result = self.replay_now(after);
        Box::pin(std::future::ready(result))
    }

    fn forget(&self, stream: StreamKey) {
        let now = std::time::Instant::now();
        let mut logs = self.lock();
        if logs.streams.contains_key(&stream) {
            logs.delivered.push_back((now, stream));
        }
        logs.drop_delivered(now);
    }

    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

/// The builder's choice of store (`None` inside: resumability off), printable.
#[derive(Clone)]
pub(crate) struct StoreSlot(pub(crate) Option<std::sync::Arc<dyn EventStore>>);

impl std::fmt::Debug for StoreSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StoreSlot(Some(..))"
        } else {
            "StoreSlot(None)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> StreamKey {
        // Stream keys come from the core; any issued key will do for the store.
        mcpx_proto::EventId::parse(&format!("{n}-0"))
            .map(|e| e.stream)
            .unwrap()
    }

    fn ev(stream: u64, seq: u64, len: usize) -> LoggedEvent {
        LoggedEvent::new(
            EventId {
                stream: key(stream),
                seq,
            },
            Bytes::from(vec![b'x'; len]),
            false,
        )
    }

    fn seqs(r: Result<Vec<LoggedEvent>, ReplayError>) -> Vec<u64> {
        r.unwrap().iter().map(|e| e.id.seq).collect()
    }

    fn replay(
        s: &MemoryEventStore,
        stream: u64,
        seq: u64,
    ) -> Result<Vec<LoggedEvent>, ReplayError> {
        s.replay_now(EventId {
            stream: key(stream),
            seq,
        })
    }

    #[test]
    fn replays_exactly_the_events_after_the_position_of_that_stream() {
        let s = MemoryEventStore::default();
        for seq in 1..=5 {
            s.append(ev(1, seq, 10));
            s.append(ev(2, seq, 10));
        }
        assert_eq!(seqs(replay(&s, 1, 3)), vec![4, 5]);
        assert_eq!(seqs(replay(&s, 2, 0)), vec![1, 2, 3, 4, 5]);
        assert_eq!(seqs(replay(&s, 1, 5)), Vec::<u64>::new());
        // A stream that never logged anything has nothing to replay.
        assert_eq!(seqs(replay(&s, 9, 0)), Vec::<u64>::new());
        assert_eq!(s.bytes(), 100 + 2 * STREAM_OVERHEAD_BYTES);
    }

    #[test]
    fn per_stream_bounds_drop_the_oldest_and_refuse_older_positions() {
        let s = MemoryEventStore::new(3, 1000, 10_000);
        for seq in 1..=5 {
            s.append(ev(1, seq, 10));
        }
        assert_eq!(seqs(replay(&s, 1, 2)), vec![3, 4, 5]);
        assert_eq!(
            replay(&s, 1, 1),
            Err(ReplayError::TooOld {
                oldest_kept: Some(3)
            })
        );
        let s = MemoryEventStore::new(100, 25, 10_000);
        for seq in 1..=4 {
            s.append(ev(1, seq, 10));
        }
        assert_eq!(seqs(replay(&s, 1, 2)), vec![3, 4]);
        assert!(replay(&s, 1, 1).is_err());
        assert_eq!(s.bytes(), 20 + STREAM_OVERHEAD_BYTES);
    }

    #[test]
    fn the_total_bound_evicts_whole_streams_oldest_first() {
        // Room for two streams of two 10-byte events.
        let s = MemoryEventStore::new(100, 1000, 2 * (STREAM_OVERHEAD_BYTES + 20) + 10);
        for stream in 1..=3 {
            for seq in 1..=2 {
                s.append(ev(stream, seq, 10));
            }
        }
        // The third stream does not fit: stream 1 went.
        assert!(matches!(
            replay(&s, 1, 0),
            Err(ReplayError::TooOld { oldest_kept: None })
        ));
        assert_eq!(seqs(replay(&s, 2, 0)), vec![1, 2]);
        assert_eq!(s.bytes(), 2 * (STREAM_OVERHEAD_BYTES + 20));
        // Nothing more is logged for an evicted stream (its replay would have a hole).
        s.append(ev(1, 3, 10));
        assert!(replay(&s, 1, 2).is_err());
    }

    #[test]
    fn a_stream_sent_whole_is_dropped_after_the_retention() {
        let s = MemoryEventStore::default();
        s.append(ev(1, 1, 10));
        s.append(ev(2, 1, 10));
        s.forget(key(1));
        // Still there within the retention (the connection may have died unnoticed).
        assert_eq!(seqs(replay(&s, 1, 0)), vec![1]);
        // Past it (simulated by ageing the record), the log goes and its bytes with it.
        let old = std::time::Instant::now() - DELIVERED_RETENTION;
        s.lock().delivered.front_mut().unwrap().0 = old;
        s.append(ev(2, 2, 10));
        assert_eq!(s.bytes(), 20 + STREAM_OVERHEAD_BYTES);
        assert!(matches!(
            replay(&s, 1, 0),
            Err(ReplayError::TooOld { oldest_kept: None })
        ));
        assert_eq!(seqs(replay(&s, 2, 0)), vec![1, 2]);
        // Keys of dropped streams do not pile up.
        for n in 3..1000 {
            s.append(ev(n, 1, 1));
            s.forget(key(n));
            s.lock().delivered.back_mut().unwrap().0 = old;
        }
        s.append(ev(2, 3, 1));
        assert!(s.lock().order.len() < 10, "{}", s.lock().order.len());
    }

    #[test]
    fn the_stream_count_is_bounded_and_streams_sent_whole_go_first() {
        let s = MemoryEventStore::default();
        s.append(ev(1, 1, 1)); // never sent whole: kept longest
        for n in 2..(MAX_LOGGED_STREAMS as u64 + 100) {
            s.append(ev(n, 1, 1));
            s.forget(key(n));
        }
        assert!(s.lock().streams.len() <= MAX_LOGGED_STREAMS);
        assert_eq!(seqs(replay(&s, 1, 0)), vec![1]);
        assert!(
            replay(&s, 2, 0).is_err(),
            "the oldest stream sent whole went"
        );
    }
}
