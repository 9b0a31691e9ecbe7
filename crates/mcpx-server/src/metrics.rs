//! `/metrics`: the server's counters, gauges and latency histograms, and their rendering in the
//! Prometheus text format (0.0.4).
//!
//! # Why this shape
//!
//! The request path only touches plain atomics in fixed arrays: a request adds one to its
//! `(method, status)` cell and one to a latency bucket, and adds its duration to a sum. No
//! lock, no map lookup, no allocation, no label string is built per request: methods and
//! statuses are small enums that index the arrays, and their label strings are `&'static str`.
//! Everything else (sessions, open streams, in-flight requests) is read at scrape time.
//!
//! The text itself is written by [`prometheus-client`](prometheus_client), the Prometheus
//! project's own Rust client: a scrape builds a [`Collector`] over a snapshot of the atomics and
//! lets the crate's `prometheus_text` encoder write names, `# HELP`/`# TYPE`, label escaping,
//! float formatting, cumulative buckets and `+Inf`, so the output follows the format exactly.
//! Its own metric types were not used on the hot path: a labelled `Family` is a map behind a
//! `RwLock` looked up per observation, and its histogram takes a lock per observation. The
//! `metrics` + `metrics-exporter-prometheus` pair was the other candidate; it routes every
//! observation through a global recorder keyed by name and labels (a hash per call), which is
//! the cost this module avoids.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use mcpx_proto::{ProtocolError, Rejection, Routed};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of a scrape answer (Prometheus text format 0.0.4).
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds: 0.5 ms to 30 s. Fast in-process handlers
/// answer in well under a millisecond; Claude-like tools take 0.1-10 s (the `claude` profile);
/// above 30 s only the `+Inf` bucket counts.
const LATENCY_BOUNDS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
    30.0,
];

/// [`LATENCY_BOUNDS`] in nanoseconds, for a comparison without floats per request.
const LATENCY_BOUNDS_NS: [u64; 16] = {
    let mut out = [0u64; 16];
    let mut i = 0;
    while i < LATENCY_BOUNDS.len() {
        out[i] = (LATENCY_BOUNDS[i] * 1e9) as u64;
        i += 1;
    }
    out
};

macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant,)+];
            const COUNT: usize = Self::ALL.len();

            fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }
    };
}

label_enum! {
    /// The `method` label: what a request was, as far as the server got with it.
    Method {
        /// `initialize`, answered by the core.
        Initialize = "initialize",
        /// Answered by the core without a handler (`ping`, `server/discover`, method-level
        /// errors).
        Core = "core",
        ToolsCall = "tools/call",
        ToolsList = "tools/list",
        ResourcesRead = "resources/read",
        ResourcesList = "resources/list",
        ResourcesTemplatesList = "resources/templates/list",
        ResourcesSubscribe = "resources/subscribe",
        ResourcesUnsubscribe = "resources/unsubscribe",
        PromptsGet = "prompts/get",
        PromptsList = "prompts/list",
        CompletionComplete = "completion/complete",
        LoggingSetLevel = "logging/setLevel",
        SubscriptionsListen = "subscriptions/listen",
        /// Any other method a handler served.
        Other = "other",
        /// A notification (202).
        Notification = "notification",
        /// A client's answer to a server request (202).
        ClientResponse = "client_response",
        /// A GET that opened or resumed a stream.
        Stream = "stream",
        /// A DELETE that ended a session.
        Delete = "delete",
        /// A 2025-03-26 batch.
        Batch = "batch",
        /// Refused before or by routing (see `mcpx_rejections_total` for why).
        Refused = "refused",
        /// Not an MCP endpoint request (health check, legacy HTTP+SSE transport).
        Http = "http",
    }
}

label_enum! {
    /// The `status` label: the HTTP status of the answer.
    Status {
        S200 = "200",
        S202 = "202",
        S400 = "400",
        S401 = "401",
        S403 = "403",
        S404 = "404",
        S405 = "405",
        S406 = "406",
        S409 = "409",
        S413 = "413",
        S415 = "415",
        S429 = "429",
        S431 = "431",
        S500 = "500",
        S503 = "503",
        /// Any other status.
        Other = "other",
    }
}

label_enum! {
    /// The `reason` label of a refusal.
    Reason {
        /// The server's in-flight bound ([`ServerBuilder::max_in_flight`](crate::ServerBuilder::max_in_flight)): 503.
        Overloaded = "overloaded",
        /// The server is shutting down: 503.
        ShuttingDown = "shutting_down",
        /// One session's in-flight bound (`Config::max_in_flight_per_session`): 429.
        SessionInFlight = "session_in_flight",
        /// One session's stream bound: 429.
        SessionStreams = "session_streams",
        /// Every session slot busy, or too many stateless requests: 503 from the core.
        Capacity = "capacity",
        /// The body is over the limit: 413.
        BodyTooLarge = "body_too_large",
        /// Any other broken protocol rule (400, 404, 406, ...).
        Protocol = "protocol",
    }
}

impl Method {
    /// The label of a request the core routed. A match on the method string, no allocation.
    pub(crate) fn of(routed: &Routed) -> Self {
        match routed {
            Routed::Answer(a) if a.new_session.is_some() => Self::Initialize,
            Routed::Answer(_) => Self::Core,
            Routed::Dispatch(d) => match d.message.method().unwrap_or_default() {
                "tools/call" => Self::ToolsCall,
                "tools/list" => Self::ToolsList,
                "resources/read" => Self::ResourcesRead,
                "resources/list" => Self::ResourcesList,
                "resources/templates/list" => Self::ResourcesTemplatesList,
                "resources/subscribe" => Self::ResourcesSubscribe,
                "resources/unsubscribe" => Self::ResourcesUnsubscribe,
                "prompts/get" => Self::PromptsGet,
                "prompts/list" => Self::PromptsList,
                "completion/complete" => Self::CompletionComplete,
                "logging/setLevel" => Self::LoggingSetLevel,
                "subscriptions/listen" => Self::SubscriptionsListen,
                _ => Self::Other,
            },
            Routed::Accepted(_) => Self::Notification,
            Routed::ClientResponse(_) => Self::ClientResponse,
            Routed::OpenStream(_) | Routed::ResumeStream(_) => Self::Stream,
            Routed::SessionDeleted(_) => Self::Delete,
            Routed::Batch(_) => Self::Batch,
            _ => Self::Other,
        }
    }
}

impl Status {
    fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            200 => Self::S200,
            202 => Self::S202,
            400 => Self::S400,
            401 => Self::S401,
            403 => Self::S403,
            404 => Self::S404,
            405 => Self::S405,
            406 => Self::S406,
            409 => Self::S409,
            413 => Self::S413,
            415 => Self::S415,
            429 => Self::S429,
            431 => Self::S431,
            500 => Self::S500,
            503 => Self::S503,
            _ => Self::Other,
        }
    }
}

impl Reason {
    /// Why the core refused a request.
    pub(crate) fn of(rejection: &Rejection) -> Self {
        match rejection.error() {
            ProtocolError::TooManyInFlight { .. } => Self::SessionInFlight,
            ProtocolError::TooManyStreams { .. } => Self::SessionStreams,
            ProtocolError::Overloaded => Self::Capacity,
            ProtocolError::BodyTooLarge { .. } => Self::BodyTooLarge,
            _ => Self::Protocol,
        }
    }
}

/// One latency histogram: per-bucket (not cumulative) counts, plus the overflow, count and sum.
#[derive(Default)]
struct Histogram {
    /// `buckets[i]` counts durations in `(bound[i-1], bound[i]]`; the last cell counts those
    /// above every bound.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // At most 16 comparisons against constants; most requests stop at the first few.
        let i = LATENCY_BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(LATENCY_BOUNDS_NS.len());
        if let Some(cell) = self.buckets.get(i) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The server's counters (one per server, in `Shared`).
pub(crate) struct Metrics {
    requests: [[AtomicU64; Status::COUNT]; Method::COUNT],
    latency: [Histogram; Method::COUNT],
    rejections: [AtomicU64; Reason::COUNT],
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    tls_handshake_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: std::array::from_fn(|_| Histogram::default()),
            rejections: std::array::from_fn(|_| AtomicU64::new(0)),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            tls_handshake_failures: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one finished request (its answer's head is ready) and its latency.
    pub(crate) fn request(&self, method: Method, status: StatusCode, took: Duration) {
        if let Some(row) = self.requests.get(method as usize)
            && let Some(cell) = row.get(Status::of(status) as usize)
        {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(h) = self.latency.get(method as usize) {
            h.observe(took);
        }
    }

    /// Counts one refusal.
    pub(crate) fn rejected(&self, reason: Reason) {
        if let Some(cell) = self.rejections.get(reason as usize) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection was accepted (`open` is decremented by [`connection_closed`](Self::connection_closed)).
    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text format; `gauges` are the values read from
    /// the rest of the server at scrape time.
    pub(crate) fn render(&self, gauges: Gauges) -> String {
        let snapshot = Snapshot {
            requests: self
                .requests
                .iter()
                .map(|row| row.iter().map(|c| c.load(Ordering::Relaxed)).collect())
                .collect(),
            latency: self
                .latency
                .iter()
                .map(|h| HistogramSnapshot {
                    buckets: h
                        .buckets
                        .iter()
                        .map(|c| c.load(Ordering::Relaxed))
                        .collect(),
                    count: h.count.load(Ordering::Relaxed),
                    sum_ns: h.sum_ns.load(Ordering::Relaxed),
                })
                .collect(),
            rejections: self
                .rejections
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            connections_open: self.connections_open.load(Ordering::Relaxed).max(0),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            tls_handshake_failures: self.tls_handshake_failures.load(Ordering::Relaxed),
            gauges,
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(snapshot));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
            // Writing into a String cannot fail; say so in the scrape if it ever does.
            let _ = writeln!(out, "# encoding failed: {e}");
        }
        out
    }
}

/// Answers a scrape (`GET` on the metrics path); `None` for every other request.
pub(crate) fn endpoint<B>(
    shared: &crate::service::Shared,
    req: &http::Request<B>,
) -> Option<http::Response<crate::service::ResponseBody>> {
    use http_body_util::BodyExt as _;
    let path = shared.metrics_path.as_deref()?;
    if req.method() != http::Method::GET || req.uri().path() != path {
        return None;
    }
    let gauges = Gauges {
        // One short lock per shard, at scrape time only.
        sessions: shared
            .shards()
            .iter()
            .map(|shard| crate::service::lock(shard).len())
            .sum(),
        streams: crate::service::lock(&shared.streams).len(),
        in_flight: shared.shed.in_flight(),
        max_in_flight: shared.shed.max(),
        shutting_down: shared.shed.is_draining(),
        replay_log_bytes: shared.events.as_ref().map_or(0, |store| store.bytes()),
    };
    let body = shared.metrics.render(gauges);
    let mut resp =
        http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)).boxed_unsync());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    Some(resp)
}

/// Values read at scrape time from outside [`Metrics`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) sessions: usize,
    pub(crate) streams: usize,
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) shutting_down: bool,
    /// What the event store reports ([`EventStore::bytes`](crate::replay::EventStore::bytes));
    /// 0 with resumability off or a store that does not count.
    pub(crate) replay_log_bytes: usize,
}

#[derive(Debug)]
struct HistogramSnapshot {
    buckets: Vec<u64>,
    count: u64,
    sum_ns: u64,
}

/// What one scrape encodes (owned: a [`Collector`] must be `'static`).
#[derive(Debug)]
struct Snapshot {
    requests: Vec<Vec<u64>>,
    latency: Vec<HistogramSnapshot>,
    rejections: Vec<u64>,
    connections_open: i64,
    connections_total: u64,
    tls_handshake_failures: u64,
    gauges: Gauges,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let g = &self.gauges;
        let gauges: [(&str, &str, i64); 6] = [
            (
                "mcpx_sessions",
                "Sessions held by the session table",
                i64::try_from(g.sessions).unwrap_or(i64::MAX),
            ),
            (
                "mcpx_streams",
                "Open standalone GET and subscriptions/listen streams",
                i64::try_from(g.streams).unwrap_or(i64::MAX),
            ),
            (
                "mcpx_in_flight_requests",
                "HTTP requests admitted and not yet answered",
                i64::try_from(g.in_flight).unwrap_or(i64::MAX),
            ),
            (
                "mcpx_max_in_flight_requests",
                "The in-flight bound above which requests are refused with 503",
                i64::try_from(g.max_in_flight).unwrap_or(i64::MAX),
            ),
            (
                "mcpx_connections",
                "Open client connections",
                self.connections_open,
            ),
            (
                "mcpx_shutting_down",
                "1 while the server drains before exiting",
                i64::from(g.shutting_down),
            ),
        ];
        for (name, help, value) in gauges {
            encoder
                .encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(&value)?;
        }
        encoder
            .encode_descriptor(
                "mcpx_replay_log_bytes",
                "Bytes held by the SSE replay logs (Last-Event-ID resumption)",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&i64::try_from(g.replay_log_bytes).unwrap_or(i64::MAX))?;
        let counters: [(&str, &str, u64); 2] = [
            (
                "mcpx_connections_accepted",
                "Client connections accepted",
                self.connections_total,
            ),
            (
                "mcpx_tls_handshake_failures",
                "TLS handshakes that failed or timed out",
                self.tls_handshake_failures,
            ),
        ];
        for (name, help, value) in counters {
            encoder
                .encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
        }

        {
            let mut requests = encoder.encode_descriptor(
                "mcpx_requests",
                "HTTP requests answered, by MCP method and HTTP status",
                None,
                MetricType::Counter,
            )?;
            for (&method, row) in Method::ALL.iter().zip(&self.requests) {
                for (&status, &n) in Status::ALL.iter().zip(row) {
                    if n == 0 {
                        continue; // only the pairs that happened, or the scrape is 350 lines
                    }
                    let labels = [("method", method.label()), ("status", status.label())];
                    requests
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }

        {
            let mut latency = encoder.encode_descriptor(
            "mcpx_request_duration_seconds",
            "Time from a request's arrival to its answer's head (a JSON answer: the whole handler; an SSE answer: its first event)",
            None,
            MetricType::Histogram,
        )?;
            for (&method, h) in Method::ALL.iter().zip(&self.latency) {
                if h.count == 0 {
                    continue;
                }
                let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
                    .iter()
                    .copied()
                    .zip(h.buckets.iter().copied())
                    .collect();
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "seconds as a float, by the format"
                )]
                let sum = h.sum_ns as f64 / 1e9;
                latency
                    .encode_family(&[("method", method.label())])?
                    .encode_histogram::<NoLabelSet>(sum, h.count, &buckets, None)?;
            }
        }

        let mut rejections = encoder.encode_descriptor(
            "mcpx_rejections",
            "Requests refused, by reason",
            None,
            MetricType::Counter,
        )?;
        for (&reason, &n) in Reason::ALL.iter().zip(&self.rejections) {
            rejections
                .encode_family(&[("reason", reason.label())])?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_increasing_and_exact_in_ns() {
        assert!(LATENCY_BOUNDS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(LATENCY_BOUNDS_NS[0], 500_000);
        assert_eq!(LATENCY_BOUNDS_NS[15], 30_000_000_000);
    }

    #[test]
    fn render_counts_buckets_and_labels() {
        let m = Metrics::default();
        m.request(
            Method::ToolsCall,
            StatusCode::OK,
            Duration::from_micros(300),
        );
        m.request(Method::ToolsCall, StatusCode::OK, Duration::from_millis(2));
        m.request(Method::ToolsCall, StatusCode::OK, Duration::from_secs(60));
        m.rejected(Reason::Overloaded);
        let text = m.render(Gauges {
            sessions: 3,
            ..Gauges::default()
        });
        assert!(text.contains("mcpx_requests_total{method=\"tools/call\",status=\"200\"} 3"));
        assert!(text.contains("mcpx_sessions 3"), "{text}");
        assert!(text.contains("mcpx_replay_log_bytes 0"));
        assert!(text.contains("mcpx_rejections_total{reason=\"overloaded\"} 1"));
        // Cumulative buckets: 1 at 0.5 ms, 2 from 2.5 ms on, 3 only at +Inf.
        assert!(text.contains(
            "mcpx_request_duration_seconds_bucket{method=\"tools/call\",le=\"0.0005\"} 1"
        ));
        assert!(
            text.contains(
                "mcpx_request_duration_seconds_bucket{method=\"tools/call\",le=\"30\"} 2"
            )
        );
        assert!(
            text.contains(
                "mcpx_request_duration_seconds_bucket{method=\"tools/call\",le=\"+Inf\"} 3"
            )
        );
        assert!(text.contains("mcpx_request_duration_seconds_count{method=\"tools/call\"} 3"));
    }
}
