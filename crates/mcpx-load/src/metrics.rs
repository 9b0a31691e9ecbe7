//! The recorder: every measurement of a run, in bounded memory (histograms and counters, never a
//! list of samples), fed by the runner with offsets in microseconds since the run started.
//!
//! # Call protocol
//! - The runner owns the clock. Every method takes times as `u64` microseconds since run start
//!   and never reads a clock itself, so the recorder is deterministic and testable.
//! - [`Metrics::record_request`] once per request, when it completes (or fails). Latency is
//!   `done_us - intended_us`: from the *intended* send time, so a server (or a generator) that
//!   stalls is charged for every request it delayed (no coordinated omission). Only answers
//!   ([`Outcome::Ok`] and [`Outcome::IsError`]) enter the latency histograms; every other outcome
//!   is counted by error class, never mixed into latency.
//! - [`Metrics::snapshot`] for the live view, any time (it also closes finished intervals).
//! - [`Metrics::advance`] with the end time once the run is over, before building a report.
//! - Per-thread recorders combine exactly with [`Metrics::merge`].
//!
//! # Time series
//! Requests are put in the interval of their completion time (`done_us`). A record that arrives
//! after its interval was closed (another thread was slower to report it) goes into the current
//! interval. At most [`MAX_INTERVALS`] intervals are kept: when the run outlives them, pairs of
//! intervals are merged and the interval length doubles, so a week-long run uses the same memory
//! as a 1-hour one. Closed intervals keep their histograms serialized (HdrHistogram V2: sparse, a few
//! hundred bytes each).
//!
//! # Bounds
//! At most [`MAX_METHODS`] methods, [`MAX_TOOLS`] tools, [`MAX_FAMILIES`] families and
//! [`MAX_THINK_KINDS`] think-time kinds are tracked by name; later names are folded into
//! [`OTHER_KEY`]. Error sub-keys (HTTP status, JSON-RPC code) are bounded by
//! [`MAX_ERROR_CODES`] per table. Once a key has been seen, recording allocates nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::hist::{self, new_hist};

/// Methods tracked by name; later ones are folded into [`OTHER_KEY`].
pub const MAX_METHODS: usize = 256;
/// Tools tracked by name; later ones are folded into [`OTHER_KEY`] (a discovery-mode run
/// against a server with thousands of tools stays bounded: about 100 KiB per tool at most).
pub const MAX_TOOLS: usize = 1024;
/// Client families tracked by name.
pub const MAX_FAMILIES: usize = 64;
/// Think-time kinds tracked by name.
pub const MAX_THINK_KINDS: usize = 64;
/// Distinct HTTP statuses / JSON-RPC codes kept per error table; the rest are counted as "other".
pub const MAX_ERROR_CODES: usize = 64;
/// Distinct client deadlines (`tool_call`, `handshake`, ...) told apart in timeout counts.
pub const MAX_DEADLINE_KINDS: usize = 16;
/// Time-series intervals kept; beyond that, neighbours are merged and the interval doubles.
pub const MAX_INTERVALS: usize = 4096;
/// Name of the bucket that collects keys past a bound.
pub const OTHER_KEY: &str = "(other)";
/// Shortest interval accepted by [`Metrics::new`] (shorter ones are raised to it).
pub const MIN_INTERVAL_US: u64 = 1_000;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A result (for `tools/call`, without `isError`).
    Ok,
    /// A `tools/call` result with `isError: true`: a valid answer (its latency counts) and an
    /// error class of its own.
    IsError,
    /// A JSON-RPC error response with this code.
    JsonRpc(i32),
    /// An HTTP status that is not success (4xx/5xx, or an unexpected one).
    Http(u16),
    /// A client deadline expired.
    Timeout,
    /// TCP connect failed (refused, reset, unreachable).
    Connect,
    /// TLS handshake failed.
    Tls,
    /// The peer broke the protocol (bad JSON, bad SSE, missing session id, ...).
    Protocol,
    /// The request was cancelled by the user (scenario `cancel_p`) before an answer.
    Cancelled,
}

impl Outcome {
    /// Whether the server answered (the latency is meaningful): `Ok` or `IsError`.
    #[must_use]
    pub const fn is_answer(self) -> bool {
        matches!(self, Self::Ok | Self::IsError)
    }

    /// The error class name used in reports (`"ok"` for [`Outcome::Ok`]).
    #[must_use]
    pub const fn class(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::IsError => "is_error",
            Self::JsonRpc(_) => "jsonrpc",
            Self::Http(_) => "http",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Protocol => "protocol",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One completed (or failed) request, as the runner saw it. Times are µs since run start.
///
/// Build with [`RequestRecord::new`] and the `with_*` setters; it borrows its names, so
/// recording one allocates nothing once its keys have been seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRecord<'a> {
    /// JSON-RPC method (`tools/call`, `initialize`, ...), or a pseudo-method such as `GET` for
    /// the standalone stream.
    pub method: &'a str,
    /// Tool name for `tools/call`.
    pub tool: Option<&'a str>,
    /// Client family of the virtual user.
    pub family: &'a str,
    /// When the schedule said to send it.
    pub intended_us: u64,
    /// When it was actually sent (defaults to `intended_us`).
    pub sent_us: u64,
    /// First response byte, if any arrived.
    pub first_byte_us: Option<u64>,
    /// First SSE event of the response stream, if the answer was streamed.
    pub first_event_us: Option<u64>,
    /// When the answer (or failure) was complete.
    pub done_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// For [`Outcome::Timeout`]: which client deadline expired (`"tool_call"`, `"handshake"`,
    /// ...), counted per deadline in the report.
    pub deadline: Option<&'a str>,
    /// Request body size.
    pub request_bytes: u64,
    /// Response body size.
    pub response_bytes: u64,
    /// A `tools/call`'s result size, bytes, on the record of its final answer: recorded as
    /// [`Metrics::record_result_size`] does, in the same measurement (one lock fewer per call).
    pub result_size: Option<u64>,
}

impl<'a> RequestRecord<'a> {
    /// A record with `sent_us = intended_us`, no tool, no first byte and no sizes.
    #[must_use]
    pub const fn new(
        method: &'a str,
        family: &'a str,
        intended_us: u64,
        done_us: u64,
        outcome: Outcome,
    ) -> Self {
        Self {
            method,
            tool: None,
            family,
            intended_us,
            sent_us: intended_us,
            first_byte_us: None,
            first_event_us: None,
            done_us,
            outcome,
            deadline: None,
            request_bytes: 0,
            response_bytes: 0,
            result_size: None,
        }
    }

    /// Sets a `tools/call`'s result size (see [`RequestRecord::result_size`]).
    #[must_use]
    pub const fn with_result_size(mut self, bytes: u64) -> Self {
        self.result_size = Some(bytes);
        self
    }

    /// Sets the tool name.
    #[must_use]
    pub const fn with_tool(mut self, tool: &'a str) -> Self {
        self.tool = Some(tool);
        self
    }

    /// Sets the actual send time (generator lag = `sent_us - intended_us`).
    #[must_use]
    pub const fn with_sent(mut self, sent_us: u64) -> Self {
        self.sent_us = sent_us;
        self
    }

    /// Sets the first-byte time (TTFB = `first_byte_us - sent_us`).
    #[must_use]
    pub const fn with_first_byte(mut self, first_byte_us: u64) -> Self {
        self.first_byte_us = Some(first_byte_us);
        self
    }

    /// Sets the time of the first SSE event (time to first event = `first_event_us - sent_us`).
    #[must_use]
    pub const fn with_first_event(mut self, first_event_us: u64) -> Self {
        self.first_event_us = Some(first_event_us);
        self
    }

    /// Names the client deadline that expired (for [`Outcome::Timeout`]).
    #[must_use]
    pub const fn with_deadline(mut self, deadline: &'a str) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the request and response body sizes.
    #[must_use]
    pub const fn with_bytes(mut self, request_bytes: u64, response_bytes: u64) -> Self {
        self.request_bytes = request_bytes;
        self.response_bytes = response_bytes;
        self
    }
}

/// What the live view shows, computed by [`Metrics::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Time since run start.
    pub elapsed_us: u64,
    /// Requests completed so far.
    pub requests: u64,
    /// Requests that ended in any error class (including `isError`).
    pub errors: u64,
    /// Requests per second over the last closed interval (or the current one at the start).
    pub rps: f64,
    /// Virtual users running.
    pub active_users: u64,
    /// Sessions open.
    pub active_sessions: u64,
    /// Streams (GET / SSE) open.
    pub active_streams: u64,
    /// Median latency so far, µs (0 before the first answer).
    pub p50_us: u64,
    /// 99th percentile latency so far, µs.
    pub p99_us: u64,
    /// 99th percentile of the generator's own lag behind schedule, µs.
    pub lag_p99_us: u64,
}

// ------------------------------------------------------------------------------------------------
// Internals shared with `report` and `hdrlog`.

/// A bounded table of named entries; lookups by `&str` allocate nothing.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable<T> {
    /// foldhash: three lookups per request (method, tool, family); SipHash made them a tenth
    /// of the recording cost. Keys are bounded by `max`, so a hostile server's tool names
    /// cannot grow the table whatever they hash to.
    index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    pub(crate) entries: Vec<(Box<str>, T)>,
    max: usize,
    /// The entry found last: a run records the same method, tool and family over and over,
    /// and comparing the key with it is a fraction of hashing it.
    last: usize,
}

impl<T> KeyTable<T> {
    fn new(max: usize) -> Self {
        Self {
            index: HashMap::default(),
            entries: Vec::new(),
            max,
            last: 0,
        }
    }

    /// Index of `key`, creating it (or folding it into [`OTHER_KEY`] past the bound).
    fn slot(&mut self, key: &str, make: impl FnOnce() -> T) -> usize {
        if let Some((k, _)) = self.entries.get(self.last)
            && **k == *key
        {
            return self.last;
        }
        if let Some(&i) = self.index.get(key) {
            self.last = i;
            return i;
        }
        let key = if self.entries.len() >= self.max {
            if let Some(&i) = self.index.get(OTHER_KEY) {
                return i;
            }
            OTHER_KEY
        } else {
            key
        };
        let i = self.entries.len();
        self.index.insert(key.into(), i);
        self.entries.push((key.into(), make()));
        i
    }

    pub(crate) fn get_mut(&mut self, key: &str, make: impl FnOnce() -> T) -> &mut T {
        let i = self.slot(key, make);
        &mut self.entries[i].1
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
}

/// Counts per sub-key (HTTP status, JSON-RPC code), bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Codes<K: Ord> {
    pub(crate) map: BTreeMap<K, u64>,
    /// Codes past [`MAX_ERROR_CODES`].
    pub(crate) other: u64,
}

impl<K: Ord> Default for Codes<K> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
            other: 0,
        }
    }
}

impl<K: Ord + Copy> Codes<K> {
    pub(crate) fn add(&mut self, k: K, n: u64) {
        if let Some(c) = self.map.get_mut(&k) {
            *c += n;
        } else if self.map.len() < MAX_ERROR_CODES {
            self.map.insert(k, n);
        } else {
            self.other += n;
        }
    }

    fn merge(&mut self, o: &Self) {
        for (&k, &n) in &o.map {
            self.add(k, n);
        }
        self.other += o.other;
    }

    pub(crate) fn total(&self) -> u64 {
        self.map.values().sum::<u64>() + self.other
    }
}

/// Errors by class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorCounts {
    pub(crate) connect: u64,
    pub(crate) tls: u64,
    pub(crate) timeout: u64,
    pub(crate) protocol: u64,
    pub(crate) cancelled: u64,
    pub(crate) is_error: u64,
    pub(crate) http: Codes<u16>,
    pub(crate) jsonrpc: Codes<i32>,
    /// Timeouts per named deadline (bounded by [`MAX_DEADLINE_KINDS`], then [`OTHER_KEY`]).
    pub(crate) deadlines: Vec<(Box<str>, u64)>,
}

impl ErrorCounts {
    fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Ok => {}
            Outcome::IsError => self.is_error += 1,
            Outcome::JsonRpc(c) => self.jsonrpc.add(c, 1),
            Outcome::Http(s) => self.http.add(s, 1),
            Outcome::Timeout => self.timeout += 1,
            Outcome::Connect => self.connect += 1,
            Outcome::Tls => self.tls += 1,
            Outcome::Protocol => self.protocol += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }

    pub(crate) fn count_deadline(&mut self, name: &str, n: u64) {
        if let Some((_, c)) = self.deadlines.iter_mut().find(|(k, _)| &**k == name) {
            *c += n;
            return;
        }
        let name = if self.deadlines.len() >= MAX_DEADLINE_KINDS {
            OTHER_KEY
        } else {
            name
        };
        if let Some((_, c)) = self.deadlines.iter_mut().find(|(k, _)| &**k == name) {
            *c += n;
        } else {
            self.deadlines.push((name.into(), n));
        }
    }

    pub(crate) fn merge(&mut self, o: &Self) {
        self.connect += o.connect;
        self.tls += o.tls;
        self.timeout += o.timeout;
        self.protocol += o.protocol;
        self.cancelled += o.cancelled;
        self.is_error += o.is_error;
        self.http.merge(&o.http);
        self.jsonrpc.merge(&o.jsonrpc);
        for (k, n) in &o.deadlines {
            self.count_deadline(k, *n);
        }
    }

    /// Every error, `isError` included.
    pub(crate) fn total(&self) -> u64 {
        self.failed() + self.is_error
    }

    /// Requests without a valid answer (everything but `Ok` and `IsError`).
    pub(crate) fn failed(&self) -> u64 {
        self.connect
            + self.tls
            + self.timeout
            + self.protocol
            + self.cancelled
            + self.http.total()
            + self.jsonrpc.total()
    }
}

/// Per method / tool / family / overall request statistics.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) errors: ErrorCounts,
    /// Latency from intended send to done, answers only.
    pub(crate) latency: Histogram<u64>,
    /// Time to first byte (from actual send); created on first use.
    pub(crate) ttfb: Option<Box<Histogram<u64>>>,
    /// Time to the first SSE event (from actual send); created on first use.
    pub(crate) first_event: Option<Box<Histogram<u64>>>,
    /// Time from send to each SSE event; created on first use.
    pub(crate) sse: Option<Box<Histogram<u64>>>,
    pub(crate) request_bytes: u64,
    pub(crate) response_bytes: u64,
    /// Latency in the current interval (methods and overall only); created on first use.
    interval: Option<Box<Histogram<u64>>>,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            requests: 0,
            errors: ErrorCounts::default(),
            latency: new_hist(),
            ttfb: None,
            first_event: None,
            sse: None,
            request_bytes: 0,
            response_bytes: 0,
            interval: None,
        }
    }

    /// Counts `r` in the counters only (requests, errors, bytes), not in the histograms.
    fn count(&mut self, r: &RequestRecord<'_>) {
        self.requests += 1;
        self.errors.count(r.outcome);
        if let (Outcome::Timeout, Some(d)) = (r.outcome, r.deadline) {
            self.errors.count_deadline(d, 1);
        }
        self.request_bytes = self.request_bytes.saturating_add(r.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(r.response_bytes);
    }

    /// Counts `r`; returns the number of clamped values.
    fn record(
        &mut self,
        r: &RequestRecord<'_>,
        latency: u64,
        ttfb: Option<u64>,
        interval: bool,
    ) -> u64 {
        let mut clamped = 0;
        self.count(r);
        if r.outcome.is_answer() {
            clamped += u64::from(hist::record(&mut self.latency, latency));
            if interval {
                let h = self.interval.get_or_insert_with(|| Box::new(new_hist()));
                hist::record(h, latency);
            }
        }
        if let Some(t) = ttfb {
            let h = self.ttfb.get_or_insert_with(|| Box::new(new_hist()));
            clamped += u64::from(hist::record(h, t));
        }
        if let Some(t) = r.first_event_us {
            let h = self.first_event.get_or_insert_with(|| Box::new(new_hist()));
            clamped += u64::from(hist::record(h, t.saturating_sub(r.sent_us)));
        }
        clamped
    }

    pub(crate) fn merge(&mut self, o: &Self) {
        self.requests += o.requests;
        self.errors.merge(&o.errors);
        hist::add(&mut self.latency, &o.latency);
        merge_opt(&mut self.ttfb, o.ttfb.as_deref());
        merge_opt(&mut self.first_event, o.first_event.as_deref());
        merge_opt(&mut self.sse, o.sse.as_deref());
        self.request_bytes = self.request_bytes.saturating_add(o.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(o.response_bytes);
        // Interval histograms are merged through the time series, not here.
    }

    /// Requests that got an answer (`Ok` or `IsError`).
    pub(crate) fn answered(&self) -> u64 {
        self.requests.saturating_sub(self.errors.failed())
    }
}

fn merge_opt(dst: &mut Option<Box<Histogram<u64>>>, src: Option<&Histogram<u64>>) {
    if let Some(s) = src
        && !s.is_empty()
    {
        hist::add(dst.get_or_insert_with(|| Box::new(new_hist())), s);
    }
}

/// Per client family.
#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) users_started: u64,
    pub(crate) users_finished: u64,
    pub(crate) sessions: u64,
    pub(crate) sessions_closed: u64,
    pub(crate) requests: Stats,
    pub(crate) turn_us: Histogram<u64>,
    pub(crate) conversation_us: Histogram<u64>,
    pub(crate) calls_per_conversation: Histogram<u64>,
    pub(crate) requests_per_conversation: Histogram<u64>,
    /// A session opened for one call: `initialize` start to the tool result (claude.ai's
    /// effective call latency, PROFILE.md section 4).
    pub(crate) handshake_call_us: Histogram<u64>,
}

impl Family {
    pub(crate) fn new() -> Self {
        Self {
            users_started: 0,
            users_finished: 0,
            sessions: 0,
            sessions_closed: 0,
            requests: Stats::new(),
            turn_us: new_hist(),
            conversation_us: new_hist(),
            calls_per_conversation: new_hist(),
            requests_per_conversation: new_hist(),
            handshake_call_us: new_hist(),
        }
    }

    pub(crate) fn merge(&mut self, o: &Self) {
        self.users_started += o.users_started;
        self.users_finished += o.users_finished;
        self.sessions += o.sessions;
        self.sessions_closed += o.sessions_closed;
        self.requests.merge(&o.requests);
        hist::add(&mut self.turn_us, &o.turn_us);
        hist::add(&mut self.conversation_us, &o.conversation_us);
        hist::add(&mut self.calls_per_conversation, &o.calls_per_conversation);
        hist::add(
            &mut self.requests_per_conversation,
            &o.requests_per_conversation,
        );
        hist::add(&mut self.handshake_call_us, &o.handshake_call_us);
    }
}

/// One closed interval of the time series. Its start is `index * interval_us`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Interval {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) failed: u64,
    /// Overall latency, serialized V2 (empty = no answer in the interval).
    pub(crate) latency: Vec<u8>,
    /// Per-method latency: (method table index, serialized V2).
    pub(crate) methods: Vec<(u32, Vec<u8>)>,
}

/// An interval with absolute times, for merging and output.
#[derive(Debug, Clone)]
pub(crate) struct IntervalView<'a> {
    pub(crate) start_us: u64,
    pub(crate) len_us: u64,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) failed: u64,
    pub(crate) latency: std::borrow::Cow<'a, [u8]>,
    /// (method name, serialized V2).
    pub(crate) methods: Vec<(&'a str, std::borrow::Cow<'a, [u8]>)>,
}

/// All measurements of a run (or of one thread, or one shard). See the module docs.
#[derive(Debug, Clone)]
pub struct Metrics {
    interval_us: u64,
    pub(crate) methods: KeyTable<Stats>,
    pub(crate) tools: KeyTable<Stats>,
    pub(crate) families: KeyTable<Family>,
    pub(crate) think: KeyTable<Histogram<u64>>,
    /// The whole run. Its counters and SSE histogram are always kept; its other histograms
    /// only once `total_from_methods` is cleared (read it with [`Metrics::total_stats`]).
    pub(crate) total: Stats,
    /// Whether `total`'s latency, TTFB, first-event and interval histograms are left empty and
    /// are the sum of the methods' instead: every request is recorded into exactly one method,
    /// so summing where they are read (report, live view, interval close) is exact, and spares
    /// three histogram records per request. Set while this recorder has only recorded; cleared
    /// (the sums stored) before anything that feeds `total` other than by method: merging, or
    /// a total restored from a report.
    total_from_methods: bool,
    pub(crate) lag: Histogram<u64>,
    pub(crate) progress_gap: Histogram<u64>,
    pub(crate) fan_out: Histogram<u64>,
    pub(crate) args_size: Histogram<u64>,
    pub(crate) result_size: Histogram<u64>,
    pub(crate) users_active: u64,
    pub(crate) users_peak: u64,
    pub(crate) sessions_opened: u64,
    pub(crate) sessions_closed: u64,
    pub(crate) streams_opened: u64,
    pub(crate) streams_active: u64,
    pub(crate) streams_peak: u64,
    pub(crate) clamped: u64,
    pub(crate) last_us: u64,
    closed: Vec<Interval>,
    cur_idx: u64,
    cur_requests: u64,
    cur_errors: u64,
    cur_failed: u64,
}

impl Metrics {
    /// An empty recorder whose time series has one entry per `interval` (at least
    /// [`MIN_INTERVAL_US`]; 1 s is the usual choice).
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        let us = u64::try_from(interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(MIN_INTERVAL_US);
        Self {
            interval_us: us,
            methods: KeyTable::new(MAX_METHODS),
            tools: KeyTable::new(MAX_TOOLS),
            families: KeyTable::new(MAX_FAMILIES),
            think: KeyTable::new(MAX_THINK_KINDS),
            total: Stats::new(),
            total_from_methods: true,
            lag: new_hist(),
            progress_gap: new_hist(),
            fan_out: new_hist(),
            args_size: new_hist(),
            result_size: new_hist(),
            users_active: 0,
            users_peak: 0,
            sessions_opened: 0,
            sessions_closed: 0,
            streams_opened: 0,
            streams_active: 0,
            streams_peak: 0,
            clamped: 0,
            last_us: 0,
            closed: Vec::new(),
            cur_idx: 0,
            cur_requests: 0,
            cur_errors: 0,
            cur_failed: 0,
        }
    }

    /// Records one request. O(1); allocates only the first time a method, tool or family name
    /// is seen (and when a histogram first grows to a new magnitude).
    pub fn record_request(&mut self, r: &RequestRecord<'_>) {
        self.advance(r.done_us);
        let latency = r.done_us.saturating_sub(r.intended_us);
        let ttfb = r.first_byte_us.map(|f| f.saturating_sub(r.sent_us));
        let lag = r.sent_us.saturating_sub(r.intended_us);
        let mut clamped = u64::from(hist::record(&mut self.lag, lag));
        if self.total_from_methods {
            // The values go into the method's histograms just below (their clamps counted there).
            self.total.count(r);
        } else {
            clamped += self.total.record(r, latency, ttfb, true);
        }
        clamped += self
            .methods
            .get_mut(r.method, Stats::new)
            .record(r, latency, ttfb, true);
        if let Some(tool) = r.tool {
            clamped += self
                .tools
                .get_mut(tool, Stats::new)
                .record(r, latency, ttfb, false);
        }
        if let Some(b) = r.result_size {
            self.record_result_size(b);
        }
        clamped += self
            .families
            .get_mut(r.family, Family::new)
            .requests
            .record(r, latency, ttfb, false);
        // Each value was clamped once per histogram it went into; count requests, not copies.
        if clamped > 0 {
            self.clamped += 1;
        }
        self.cur_requests += 1;
        if r.outcome != Outcome::Ok {
            self.cur_errors += 1;
        }
        if !r.outcome.is_answer() {
            self.cur_failed += 1;
        }
    }

    /// Time from sending `method` to one SSE event on its response stream (progress included).
    pub fn record_sse_event(&mut self, method: &str, latency_us: u64) {
        let s = self.methods.get_mut(method, Stats::new);
        let h = s.sse.get_or_insert_with(|| Box::new(new_hist()));
        let mut c = hist::record(h, latency_us);
        let t = self.total.sse.get_or_insert_with(|| Box::new(new_hist()));
        c |= hist::record(t, latency_us);
        self.clamped += u64::from(c);
    }

    /// Gap between two progress notifications of one call.
    pub fn record_progress_gap(&mut self, us: u64) {
        self.clamped += u64::from(hist::record(&mut self.progress_gap, us));
    }

    /// Duration of one user turn (prompt to the last call's answer).
    pub fn record_turn(&mut self, family: &str, duration_us: u64) {
        let f = self.families.get_mut(family, Family::new);
        self.clamped += u64::from(hist::record(&mut f.turn_us, duration_us));
    }

    /// A tool call on a session opened for it (claude.ai opens one before nearly every call):
    /// from the intended start of its `initialize` to the tool result, µs. Only answered calls.
    pub fn record_handshake_call(&mut self, family: &str, latency_us: u64) {
        let f = self.families.get_mut(family, Family::new);
        self.clamped += u64::from(hist::record(&mut f.handshake_call_us, latency_us));
    }

    /// One finished conversation: its duration, tool calls and requests (all methods).
    pub fn record_conversation(
        &mut self,
        family: &str,
        duration_us: u64,
        calls: u64,
        requests: u64,
    ) {
        let f = self.families.get_mut(family, Family::new);
        let mut c = hist::record(&mut f.conversation_us, duration_us);
        c |= hist::record(&mut f.calls_per_conversation, calls);
        c |= hist::record(&mut f.requests_per_conversation, requests);
        self.clamped += u64::from(c);
    }

    /// A virtual user started.
    pub fn user_started(&mut self, family: &str) {
        self.families.get_mut(family, Family::new).users_started += 1;
        self.users_active += 1;
        self.users_peak = self.users_peak.max(self.users_active);
    }

    /// A virtual user finished.
    pub fn user_finished(&mut self, family: &str) {
        self.families.get_mut(family, Family::new).users_finished += 1;
        self.users_active = self.users_active.saturating_sub(1);
    }

    /// A session was created (`initialize` answered, or a legacy SSE session opened).
    pub fn session_opened(&mut self, family: &str) {
        self.families.get_mut(family, Family::new).sessions += 1;
        self.sessions_opened += 1;
    }

    /// A session was ended (DELETE, or dropped by the user).
    pub fn session_closed(&mut self, family: &str) {
        self.families.get_mut(family, Family::new).sessions_closed += 1;
        self.sessions_closed += 1;
    }

    /// A stream (standalone GET, legacy SSE) was opened.
    pub fn stream_opened(&mut self) {
        self.streams_opened += 1;
        self.streams_active += 1;
        self.streams_peak = self.streams_peak.max(self.streams_active);
    }

    /// A stream was closed.
    pub fn stream_closed(&mut self) {
        self.streams_active = self.streams_active.saturating_sub(1);
    }

    /// One step issued `n` tool calls together.
    pub fn record_fan_out(&mut self, n: u64) {
        self.clamped += u64::from(hist::record(&mut self.fan_out, n));
    }

    /// A think time of `kind` (`"turn"`, `"step"`, ...) that the user waited.
    pub fn record_think(&mut self, kind: &str, us: u64) {
        let h = self.think.get_mut(kind, new_hist);
        self.clamped += u64::from(hist::record(h, us));
    }

    /// Size of one `tools/call` arguments object, bytes.
    pub fn record_args_size(&mut self, bytes: u64) {
        self.clamped += u64::from(hist::record(&mut self.args_size, bytes));
    }

    /// Size of one `tools/call` result, bytes.
    pub fn record_result_size(&mut self, bytes: u64) {
        self.clamped += u64::from(hist::record(&mut self.result_size, bytes));
    }

    /// Moves the clock to `now_us`: closes the intervals that ended. Call it with the end time
    /// when the run is over (the report's elapsed time is the latest time seen).
    pub fn advance(&mut self, now_us: u64) {
        self.last_us = self.last_us.max(now_us);
        while now_us / self.interval_us > self.cur_idx {
            self.close_interval();
        }
    }

    /// The live view's numbers at `now_us` (also closes finished intervals).
    pub fn snapshot(&mut self, now_us: u64) -> Snapshot {
        self.advance(now_us);
        let rps = if let Some(last) = self.closed.last() {
            last.requests as f64 * 1e6 / self.interval_us as f64
        } else {
            let t = now_us.max(1);
            self.cur_requests as f64 * 1e6 / t as f64
        };
        let (p50_us, p99_us) = self.total_latency_quantiles();
        Snapshot {
            elapsed_us: self.last_us,
            requests: self.total.requests,
            errors: self.total.errors.total(),
            rps,
            active_users: self.users_active,
            active_sessions: self.sessions_opened.saturating_sub(self.sessions_closed),
            active_streams: self.streams_active,
            p50_us,
            p99_us,
            lag_p99_us: self.lag.value_at_quantile(0.99),
        }
    }

    /// Adds `other` into `self` exactly: counters add, histograms merge value for value, keys are
    /// matched by name. Time series are aligned on the run start; if the two interval lengths
    /// differ, the finer series is coarsened when the ratio is a power of two, otherwise each
    /// of `other`'s intervals lands in the interval of `self` holding its start.
    pub fn merge(&mut self, other: &Self) {
        // `other`'s totals are added whole: ours must be stored before its methods join ours.
        self.store_total();
        for (k, s) in other.methods.iter() {
            self.methods.get_mut(k, Stats::new).merge(s);
        }
        for (k, s) in other.tools.iter() {
            self.tools.get_mut(k, Stats::new).merge(s);
        }
        for (k, f) in other.families.iter() {
            self.families.get_mut(k, Family::new).merge(f);
        }
        for (k, h) in other.think.iter() {
            hist::add(self.think.get_mut(k, new_hist), h);
        }
        self.total.merge(&other.total_stats());
        hist::add(&mut self.lag, &other.lag);
        hist::add(&mut self.progress_gap, &other.progress_gap);
        hist::add(&mut self.fan_out, &other.fan_out);
        hist::add(&mut self.args_size, &other.args_size);
        hist::add(&mut self.result_size, &other.result_size);
        self.users_active += other.users_active;
        // Peaks of separate recorders may not coincide: their sum is an upper bound.
        self.users_peak = self
            .users_peak
            .saturating_add(other.users_peak)
            .max(self.users_active);
        self.sessions_opened += other.sessions_opened;
        self.sessions_closed += other.sessions_closed;
        self.streams_opened += other.streams_opened;
        self.streams_active += other.streams_active;
        self.streams_peak = self
            .streams_peak
            .saturating_add(other.streams_peak)
            .max(self.streams_active);
        self.clamped += other.clamped;

        // Time series.
        while self.interval_us < other.interval_us
            && other.interval_us.is_multiple_of(self.interval_us)
            && (other.interval_us / self.interval_us).is_power_of_two()
        {
            self.coarsen();
        }
        for iv in other.interval_views() {
            self.add_interval(&iv);
        }
        self.advance(other.last_us);
    }

    /// Length of one time-series interval now (it doubles when the run outlives
    /// [`MAX_INTERVALS`] intervals).
    #[must_use]
    pub fn interval_us(&self) -> u64 {
        self.interval_us
    }

    /// Latest time seen (records, [`Metrics::advance`], [`Metrics::snapshot`]).
    #[must_use]
    pub fn elapsed_us(&self) -> u64 {
        self.last_us
    }

    /// Requests recorded.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.total.requests
    }

    /// The whole run's statistics, histograms included (summed from the methods' unless the
    /// total is kept on its own).
    pub(crate) fn total_stats(&self) -> std::borrow::Cow<'_, Stats> {
        if !self.total_from_methods {
            return std::borrow::Cow::Borrowed(&self.total);
        }
        let methods = || self.methods.entries.iter().map(|(_, s)| s);
        let some = |hs: Vec<&Histogram<u64>>| {
            (!hs.is_empty()).then(|| Box::new(hist::sum(hs.iter().copied())))
        };
        let t = &self.total;
        std::borrow::Cow::Owned(Stats {
            requests: t.requests,
            errors: t.errors.clone(),
            latency: hist::sum(methods().map(|s| &s.latency)),
            // A method's optional histogram exists once it took a value, so the sum exists
            // exactly when the recorded total's would.
            ttfb: some(methods().filter_map(|s| s.ttfb.as_deref()).collect()),
            first_event: some(methods().filter_map(|s| s.first_event.as_deref()).collect()),
            sse: t.sse.clone(),
            request_bytes: t.request_bytes,
            response_bytes: t.response_bytes,
            interval: self.methods_interval_sum().map(Box::new),
        })
    }

    /// Replaces the whole run's statistics (a report's summary): kept on their own from here on.
    pub(crate) fn set_total(&mut self, total: Stats) {
        self.total = total;
        self.total_from_methods = false;
    }

    /// Stores the sums into `total` and records into it from here on.
    fn store_total(&mut self) {
        if self.total_from_methods {
            let t = self.total_stats().into_owned();
            self.set_total(t);
        }
    }

    /// The open interval's overall latency, summed from the methods' (`None` before any
    /// method's interval histogram exists).
    fn methods_interval_sum(&self) -> Option<Histogram<u64>> {
        let hs = || {
            self.methods
                .entries
                .iter()
                .filter_map(|(_, s)| s.interval.as_deref())
        };
        hs().next().is_some().then(|| hist::sum(hs()))
    }

    /// Median and 99th percentile of the whole run's latency, for the live view (once a
    /// second): without summing when a single method has answers, as in most runs.
    fn total_latency_quantiles(&self) -> (u64, u64) {
        let q = |h: &Histogram<u64>| (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
        if !self.total_from_methods {
            return q(&self.total.latency);
        }
        let answered = || {
            self.methods
                .entries
                .iter()
                .map(|(_, s)| &s.latency)
                .filter(|h| !h.is_empty())
        };
        let mut it = answered();
        match (it.next(), it.next()) {
            (None, _) => (0, 0),
            // Quantiles depend on the counts only, which are that method's.
            (Some(h), None) => q(h),
            _ => q(&hist::sum(answered())),
        }
    }

    /// Approximate heap held by the histograms and the time series, bytes (for the
    /// constant-memory test and for reporting the generator's own footprint).
    #[must_use]
    pub fn approx_heap_bytes(&self) -> usize {
        fn h(x: &Histogram<u64>) -> usize {
            x.distinct_values() * 8
        }
        fn oh(x: Option<&Histogram<u64>>) -> usize {
            x.map_or(0, h)
        }
        fn stats(s: &Stats) -> usize {
            h(&s.latency)
                + oh(s.ttfb.as_deref())
                + oh(s.first_event.as_deref())
                + oh(s.sse.as_deref())
                + oh(s.interval.as_deref())
        }
        let keyed = self.methods.iter().map(|(_, s)| stats(s)).sum::<usize>()
            + self.tools.iter().map(|(_, s)| stats(s)).sum::<usize>()
            + self
                .families
                .iter()
                .map(|(_, f)| {
                    stats(&f.requests)
                        + h(&f.turn_us)
                        + h(&f.conversation_us)
                        + h(&f.calls_per_conversation)
                        + h(&f.requests_per_conversation)
                        + h(&f.handshake_call_us)
                })
                .sum::<usize>()
            + self.think.iter().map(|(_, x)| h(x)).sum::<usize>();
        let globals = stats(&self.total)
            + h(&self.lag)
            + h(&self.progress_gap)
            + h(&self.fan_out)
            + h(&self.args_size)
            + h(&self.result_size);
        let series = self
            .closed
            .iter()
            .map(|iv| {
                std::mem::size_of::<Interval>()
                    + iv.latency.capacity()
                    + iv.methods
                        .iter()
                        .map(|(_, b)| 8 + b.capacity())
                        .sum::<usize>()
            })
            .sum::<usize>();
        keyed + globals + series
    }

    // --------------------------------------------------------------------------------------------

    /// The time series, closed intervals then the open one (if it saw anything).
    pub(crate) fn interval_views(&self) -> Vec<IntervalView<'_>> {
        let mut out = Vec::with_capacity(self.closed.len() + 1);
        for (i, iv) in self.closed.iter().enumerate() {
            out.push(IntervalView {
                start_us: i as u64 * self.interval_us,
                len_us: self.interval_us,
                requests: iv.requests,
                errors: iv.errors,
                failed: iv.failed,
                latency: std::borrow::Cow::Borrowed(&iv.latency),
                methods: iv
                    .methods
                    .iter()
                    .filter_map(|(m, b)| {
                        self.methods
                            .entries
                            .get(*m as usize)
                            .map(|(name, _)| (&**name, std::borrow::Cow::Borrowed(&b[..])))
                    })
                    .collect(),
            });
        }
        let start = self.cur_idx * self.interval_us;
        let has_current = self.cur_requests > 0;
        if has_current {
            // The open interval ends at the latest time seen (it may be partial).
            let len = self
                .last_us
                .saturating_sub(start)
                .clamp(1, self.interval_us);
            out.push(IntervalView {
                start_us: start,
                len_us: len,
                requests: self.cur_requests,
                errors: self.cur_errors,
                failed: self.cur_failed,
                latency: std::borrow::Cow::Owned(if self.total_from_methods {
                    self.methods_interval_sum()
                        .map(|h| hist::encode_bytes(&h))
                        .unwrap_or_default()
                } else {
                    self.total
                        .interval
                        .as_deref()
                        .map(hist::encode_bytes)
                        .unwrap_or_default()
                }),
                methods: self
                    .methods
                    .iter()
                    .filter_map(|(name, s)| {
                        s.interval
                            .as_deref()
                            .filter(|h| !h.is_empty())
                            .map(|h| (name, std::borrow::Cow::Owned(hist::encode_bytes(h))))
                    })
                    .collect(),
            });
        }
        out
    }

    fn close_interval(&mut self) {
        let mut methods = Vec::new();
        for (i, (_, s)) in self.methods.entries.iter().enumerate() {
            if let Some(h) = s.interval.as_deref()
                && !h.is_empty()
            {
                methods.push((i as u32, hist::encode_bytes(h)));
            }
        }
        let latency = if self.total_from_methods {
            let high = self
                .methods
                .entries
                .iter()
                .filter_map(|(_, s)| s.interval.as_deref())
                .map(Histogram::high)
                .max();
            match methods.as_slice() {
                [] => Vec::new(),
                // One method answered in this interval: when its histogram also has the
                // total's shape (see `hist::sum`), the sum is that histogram, V2 bytes and all.
                [(i, b)]
                    if self
                        .methods
                        .entries
                        .get(*i as usize)
                        .and_then(|(_, s)| s.interval.as_deref())
                        .map(Histogram::high)
                        == high =>
                {
                    b.clone()
                }
                _ => self
                    .methods_interval_sum()
                    .map(|h| hist::encode_bytes(&h))
                    .unwrap_or_default(),
            }
        } else {
            let latency = self
                .total
                .interval
                .as_deref()
                .map(hist::encode_bytes)
                .unwrap_or_default();
            if let Some(h) = self.total.interval.as_deref_mut() {
                h.reset();
            }
            latency
        };
        for (i, _) in &methods {
            if let Some((_, s)) = self.methods.entries.get_mut(*i as usize)
                && let Some(h) = s.interval.as_deref_mut()
            {
                h.reset();
            }
        }
        self.closed.push(Interval {
            requests: self.cur_requests,
            errors: self.cur_errors,
            failed: self.cur_failed,
            latency,
            methods,
        });
        self.cur_requests = 0;
        self.cur_errors = 0;
        self.cur_failed = 0;
        self.cur_idx += 1;
        if self.closed.len() >= MAX_INTERVALS {
            self.coarsen();
        }
    }

    /// Doubles the interval length: merges closed intervals pairwise; an odd last one joins the
    /// open interval.
    fn coarsen(&mut self) {
        let closed = std::mem::take(&mut self.closed);
        let n = closed.len();
        let mut it = closed.into_iter();
        let mut merged = Vec::with_capacity(n / 2 + 1);
        for _ in 0..n / 2 {
            if let (Some(a), Some(b)) = (it.next(), it.next()) {
                merged.push(merge_intervals(a, &b));
            }
        }
        if let Some(last) = it.next() {
            // Fold the odd one into the open interval (it starts where the new one does).
            self.cur_requests += last.requests;
            self.cur_errors += last.errors;
            self.cur_failed += last.failed;
            // A total summed from the methods gets these values from their histograms below.
            if !self.total_from_methods
                && let Ok(h) = hist::decode_bytes(&last.latency)
            {
                hist::add(
                    self.total
                        .interval
                        .get_or_insert_with(|| Box::new(new_hist())),
                    &h,
                );
            }
            for (m, b) in &last.methods {
                if let (Some((_, s)), Ok(h)) = (
                    self.methods.entries.get_mut(*m as usize),
                    hist::decode_bytes(b),
                ) {
                    hist::add(s.interval.get_or_insert_with(|| Box::new(new_hist())), &h);
                }
            }
        }
        self.closed = merged;
        self.interval_us = self.interval_us.saturating_mul(2);
        self.cur_idx = n as u64 / 2;
    }

    /// Adds an interval (from another recorder or a report) at its start time.
    pub(crate) fn add_interval(&mut self, iv: &IntervalView<'_>) {
        // The interval's overall latency need not be the sum of its methods' (a report keeps
        // only the former): the total is kept on its own from here on.
        self.store_total();
        let idx = iv.start_us / self.interval_us;
        if idx >= self.cur_idx {
            self.advance(iv.start_us);
        }
        let idx = iv.start_us / self.interval_us;
        if idx >= self.cur_idx {
            self.cur_requests += iv.requests;
            self.cur_errors += iv.errors;
            self.cur_failed += iv.failed;
            if let Ok(h) = hist::decode_bytes(&iv.latency) {
                hist::add(
                    self.total
                        .interval
                        .get_or_insert_with(|| Box::new(new_hist())),
                    &h,
                );
            }
            for (name, b) in &iv.methods {
                if let Ok(h) = hist::decode_bytes(b) {
                    let s = self.methods.get_mut(name, Stats::new);
                    hist::add(s.interval.get_or_insert_with(|| Box::new(new_hist())), &h);
                }
            }
        } else if let Some(slot) = self.closed.get_mut(idx as usize) {
            let mut methods = Vec::with_capacity(iv.methods.len());
            for (name, b) in &iv.methods {
                let i = self.methods.slot(name, Stats::new);
                methods.push((i as u32, b.to_vec()));
            }
            let add = Interval {
                requests: iv.requests,
                errors: iv.errors,
                failed: iv.failed,
                latency: iv.latency.to_vec(),
                methods,
            };
            *slot = merge_intervals(std::mem::take(slot), &add);
        }
    }
}

fn merge_bytes(a: &[u8], b: &[u8]) -> Vec<u8> {
    if b.is_empty() {
        return a.to_vec();
    }
    if a.is_empty() {
        return b.to_vec();
    }
    match (hist::decode_bytes(a), hist::decode_bytes(b)) {
        (Ok(mut x), Ok(y)) => {
            hist::add(&mut x, &y);
            hist::encode_bytes(&x)
        }
        (Ok(_), Err(_)) => a.to_vec(),
        (Err(_), _) => b.to_vec(),
    }
}

fn merge_intervals(mut a: Interval, b: &Interval) -> Interval {
    a.requests += b.requests;
    a.errors += b.errors;
    a.failed += b.failed;
    a.latency = merge_bytes(&a.latency, &b.latency);
    for (m, bytes) in &b.methods {
        if let Some((_, mine)) = a.methods.iter_mut().find(|(k, _)| k == m) {
            *mine = merge_bytes(mine, bytes);
        } else {
            a.methods.push((*m, bytes.clone()));
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(m: &str, t0: u64, t1: u64, o: Outcome) -> RequestRecord<'_> {
        RequestRecord::new(m, "claude-ai", t0, t1, o)
    }

    /// A call's result size travels with its request record and lands where
    /// `record_result_size` puts it.
    #[test]
    fn a_result_size_on_the_record_is_the_result_size_summary() {
        let mut m = Metrics::new(Duration::from_secs(1));
        m.record_request(
            &RequestRecord::new("tools/call", "f", 0, 10, Outcome::Ok).with_result_size(1_234),
        );
        m.record_request(&RequestRecord::new("tools/call", "f", 0, 10, Outcome::Ok));
        let mut direct = Metrics::new(Duration::from_secs(1));
        direct.record_result_size(1_234);
        assert_eq!(m.result_size, direct.result_size);
        assert_eq!(m.result_size.len(), 1);
    }

    #[test]
    fn latency_only_for_answers_and_lag_separate() {
        let mut m = Metrics::new(Duration::from_secs(1));
        m.record_request(
            &req("tools/call", 0, 10_000, Outcome::Ok)
                .with_tool("search")
                .with_sent(2_000),
        );
        m.record_request(&req("tools/call", 0, 20_000, Outcome::IsError).with_tool("search"));
        m.record_request(&req("tools/call", 0, 900_000, Outcome::Timeout).with_tool("search"));
        m.record_request(&req("initialize", 0, 5_000, Outcome::Http(503)));
        assert_eq!(m.total.requests, 4);
        assert_eq!(m.total_stats().latency.len(), 2);
        assert_eq!(m.total.errors.total(), 3);
        assert_eq!(m.total.errors.failed(), 2);
        assert_eq!(m.total.errors.http.map.get(&503), Some(&1));
        assert!(m.lag.equivalent(m.lag.max(), 2_000));
        let s = m.tools.iter().next().unwrap().1;
        assert_eq!(s.requests, 3);
        assert_eq!(s.latency.len(), 2);
    }

    #[test]
    fn keys_are_bounded() {
        let mut m = Metrics::new(Duration::from_secs(1));
        for i in 0..MAX_TOOLS + 10 {
            let name = format!("t{i}");
            m.record_request(&req("tools/call", 0, 1, Outcome::Ok).with_tool(&name));
        }
        assert_eq!(m.tools.entries.len(), MAX_TOOLS + 1);
        let other = m.tools.iter().find(|(k, _)| *k == OTHER_KEY).unwrap().1;
        assert_eq!(other.requests, 10);
    }

    #[test]
    fn intervals_coarsen_and_stay_bounded() {
        let mut m = Metrics::new(Duration::from_millis(1));
        let n = (MAX_INTERVALS as u64) * 3;
        for i in 0..n {
            m.record_request(&req("ping", i * 1_000, i * 1_000 + 10, Outcome::Ok));
        }
        assert!(m.closed.len() < MAX_INTERVALS);
        assert_eq!(m.interval_us, 4_000);
        let total: u64 = m.interval_views().iter().map(|v| v.requests).sum();
        assert_eq!(total, n);
        let mut lat = 0;
        for v in m.interval_views() {
            lat += hist::decode_bytes(&v.latency).unwrap().len();
        }
        assert_eq!(lat, n);
    }

    #[test]
    fn memory_stays_bounded_over_a_long_run() {
        // 1 s intervals over 3 simulated hours (past MAX_INTERVALS twice), 2 methods
        // and 3 tools, two requests a second.
        let mut m = Metrics::new(Duration::from_secs(1));
        let mut peak = 0;
        for i in 0..21_600u64 {
            let t = i * 500_000;
            let (method, tool) = if i % 2 == 0 {
                ("tools/call", Some(["a", "b", "c"][(i % 3) as usize]))
            } else {
                ("tools/list", None)
            };
            let mut r = req(method, t, t + 1_000 + (i * 7919) % 5_000_000, Outcome::Ok);
            if let Some(tool) = tool {
                r = r.with_tool(tool);
            }
            m.record_request(&r);
            if i % 1_800 == 0 {
                peak = peak.max(m.approx_heap_bytes());
            }
        }
        assert!(m.closed.len() < MAX_INTERVALS);
        assert_eq!(m.interval_us, 4_000_000);
        let total: u64 = m.interval_views().iter().map(|v| v.requests).sum();
        assert_eq!(total, 21_600);
        // Bounded: at most MAX_INTERVALS serialized intervals plus fixed-size histograms.
        assert!(peak < 4 << 20, "{peak} bytes");
    }

    #[test]
    fn merge_is_exact() {
        let mut a = Metrics::new(Duration::from_secs(1));
        let mut b = Metrics::new(Duration::from_secs(1));
        let mut all = Metrics::new(Duration::from_secs(1));
        for i in 0..5_000u64 {
            let r = req(
                if i % 3 == 0 {
                    "tools/call"
                } else {
                    "tools/list"
                },
                i * 1_000,
                i * 1_000 + i % 777 * 13,
                Outcome::Ok,
            );
            if i % 2 == 0 {
                a.record_request(&r)
            } else {
                b.record_request(&r)
            }
            all.record_request(&r);
        }
        a.merge(&b);
        assert_eq!(a.total_stats().latency, all.total_stats().latency);
        let va: Vec<u64> = a.interval_views().iter().map(|v| v.requests).collect();
        let vall: Vec<u64> = all.interval_views().iter().map(|v| v.requests).collect();
        assert_eq!(va, vall);
    }

    /// A deterministic mixed workload: several methods (past the `(other)` bound for tools),
    /// families, outcomes, streamed answers, values from 1 µs to past the clamp, and enough
    /// 1 ms intervals to coarsen the time series twice.
    fn mixed_workload(mut f: impl FnMut(&RequestRecord<'_>, u64)) {
        const METHODS: [&str; 4] = ["tools/call", "tools/list", "initialize", "ping"];
        const FAMILIES: [&str; 3] = ["claude-ai", "cursor", "vscode"];
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..3 * MAX_INTERVALS as u64 {
            let a = next();
            let t0 = i * 1_000;
            // Mostly sub-millisecond, growing every few hundred requests, a few past an hour.
            let latency = match a % 1_000 {
                0 => hist::HIST_MAX_US + a % 7,
                1..=9 => (a >> 20) % (1 << (10 + i / 1_500)),
                _ => 1 + (a >> 12) % 900,
            };
            let method = METHODS[(a >> 3) as usize % METHODS.len()];
            let outcome = match (a >> 8) % 23 {
                0 => Outcome::Timeout,
                1 => Outcome::Http(503),
                2 => Outcome::JsonRpc(-32603),
                3 => Outcome::IsError,
                4 => Outcome::Connect,
                _ => Outcome::Ok,
            };
            let tool = format!("t{}", (a >> 16) % (MAX_TOOLS as u64 + 40));
            let mut r = RequestRecord::new(
                method,
                FAMILIES[(a >> 5) as usize % 3],
                t0,
                t0 + latency,
                outcome,
            )
            .with_sent(t0 + (a >> 24) % 50)
            .with_bytes(a % 300, a % 5_000)
            .with_deadline("tool_call");
            if method == "tools/call" {
                r = r.with_tool(&tool).with_result_size(a % 10_000);
            }
            if a % 5 != 0 {
                r = r.with_first_byte(t0 + latency / 2);
            }
            if a % 11 == 0 {
                r = r.with_first_event(t0 + latency / 3);
            }
            f(&r, a);
        }
    }

    fn recording_total() -> Metrics {
        let mut m = Metrics::new(Duration::from_millis(1));
        m.store_total();
        assert!(!m.total_from_methods);
        m
    }

    fn report_json(m: &Metrics) -> serde_json::Value {
        let run = crate::report::RunInfo::new("http://x/mcp", crate::report::Model::Open);
        crate::report::Report::from_metrics(m, run).to_json()
    }

    fn interval_log(m: &Metrics) -> String {
        let mut out = Vec::new();
        crate::hdrlog::write_interval_log(m, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Summing the total from the methods gives what recording it gave, to the byte: report
    /// (percentiles, max, V2 text), interval series and log, live view, and merges.
    #[test]
    fn total_summed_from_methods_is_the_recorded_total() {
        let mut derived = Metrics::new(Duration::from_millis(1));
        let mut recorded = recording_total();
        let (mut da, mut db) = (
            Metrics::new(Duration::from_millis(1)),
            Metrics::new(Duration::from_millis(1)),
        );
        let (mut ra, mut rb) = (recording_total(), recording_total());
        let mut n = 0u64;
        mixed_workload(|r, a| {
            derived.record_request(r);
            recorded.record_request(r);
            derived.record_sse_event(r.method, a % 700);
            recorded.record_sse_event(r.method, a % 700);
            if a % 2 == 0 {
                da.record_request(r);
                ra.record_request(r);
            } else {
                db.record_request(r);
                rb.record_request(r);
            }
            n += 1;
            if n.is_multiple_of(997) {
                let t = r.done_us + 1;
                assert_eq!(derived.snapshot(t), recorded.snapshot(t));
                assert_eq!(interval_log(&derived), interval_log(&recorded));
            }
        });
        assert!(derived.total_from_methods);
        assert!(derived.interval_us > 1_000, "the series coarsened");
        assert_eq!(report_json(&derived), report_json(&recorded));
        assert_eq!(interval_log(&derived), interval_log(&recorded));
        let (d, r) = (derived.total_stats(), recorded.total_stats());
        assert_eq!(d.latency.high(), r.latency.high());
        assert_eq!(
            hist::encode_bytes(&d.latency),
            hist::encode_bytes(&r.latency)
        );
        for end in [recorded.last_us, recorded.last_us + 5_000] {
            derived.advance(end);
            recorded.advance(end);
            assert_eq!(report_json(&derived), report_json(&recorded));
        }

        da.merge(&db);
        ra.merge(&rb);
        assert_eq!(report_json(&da), report_json(&ra));
        assert_eq!(interval_log(&da), interval_log(&ra));
        // Recording after a merge (the total is then kept on its own).
        mixed_workload(|r, _| {
            if r.done_us < 300_000 {
                da.record_request(r);
                ra.record_request(r);
            }
        });
        assert_eq!(report_json(&da), report_json(&ra));

        let shards = |a: &Metrics, b: &Metrics| {
            let run = crate::report::RunInfo::new("http://x/mcp", crate::report::Model::Open);
            crate::report::Report::merge(&[
                crate::report::Report::from_metrics(a, run.clone()),
                crate::report::Report::from_metrics(b, run),
            ])
            .unwrap()
            .to_json()
        };
        assert_eq!(shards(&derived, &db), shards(&recorded, &rb));
    }

    #[test]
    fn snapshot_reports_rate_and_actives() {
        let mut m = Metrics::new(Duration::from_secs(1));
        m.user_started("cc");
        m.session_opened("cc");
        m.stream_opened();
        for i in 0..100 {
            m.record_request(&req("ping", i * 10_000, i * 10_000 + 500, Outcome::Ok));
        }
        let s = m.snapshot(1_500_000);
        assert_eq!(s.requests, 100);
        assert!((s.rps - 100.0).abs() < 1e-9);
        assert_eq!(
            (s.active_users, s.active_sessions, s.active_streams),
            (1, 1, 1)
        );
        assert!(s.p50_us >= 499 && s.p50_us <= 501);
    }
}
