//! Reports: what a run measured, as a terminal table, a schema-versioned JSON file, an
//! HdrHistogram interval log and a self-contained HTML page; and how shard reports merge.
//!
//! # The measurement model
//! - **Latency** is timed from each request's *intended* send time (the schedule), not from when
//!   the generator got round to sending it: the wrk2 rule against coordinated omission. If the
//!   server stalls, every request scheduled during the stall is charged the wait.
//! - Only answers (a result, or a `tools/call` result with `isError`) have a latency. Errors
//!   (connect, TLS, timeout, HTTP status, JSON-RPC code, protocol, cancelled) are counted by
//!   class and never mixed into latency; `isError` is counted both ways, since it is an answer
//!   and a tool failure.
//! - Everything is in HdrHistograms (1 µs .. 1 h, 3 significant digits; larger values are
//!   clamped to 1 h and counted as `clamped`), so memory is constant however long the run.
//! - **Generator lag** (actual minus intended send time) has its own histogram. When its p99
//!   exceeds [`LAG_WARN_US`] the report says loudly that the generator fell behind its
//!   schedule: the offered load was lower than asked, even though latency stays honest.
//! - A **closed model** (N users, each waiting for its answers) slows down with the server, so
//!   it under-reports queueing; its reports say so.
//!
//! # Outputs
//! - [`Report::print_table`]: the terminal table at the end of a run.
//! - [`Report::to_json`] / [`Report::write_json`]: `--json FILE`, format [`REPORT_FORMAT`],
//!   validated by the JSON Schema `crates/mcpx-load/schema/report.schema.json` (draft 2020-12).
//!   Every histogram is also carried in full (`hdr`: HdrHistogram V2 compressed, base64, the
//!   `HISTFAAA...` text HdrHistogram's own tools read), so reports merge exactly.
//! - [`crate::hdrlog`]: `--hdr-log FILE`, an HdrHistogram interval log tagged per method.
//! - [`crate::html::render`]: `--html FILE`, one page with inline SVG charts, no network.
//! - [`crate::thresholds`]: `--max-p99`, `--max-error-rate` and the process exit codes.
//!
//! # Example
//! What the runner does, in miniature: record, build the report, print it, check thresholds.
//! ```
//! use std::time::Duration;
//!
//! use mcpx_load::thresholds::check;
//! use mcpx_load::{Metrics, Model, Outcome, Report, RequestRecord, RunInfo, Thresholds, exit};
//!
//! let mut m = Metrics::new(Duration::from_secs(1));
//! m.user_started("claude-code");
//! m.session_opened("claude-code");
//! // Scheduled at 1 ms, sent at 1.2 ms, first byte at 30 ms, answered at 43 ms (µs since start).
//! let r = RequestRecord::new("tools/call", "claude-code", 1_000, 43_000, Outcome::Ok)
//!     .with_tool("search")
//!     .with_sent(1_200)
//!     .with_first_byte(30_000)
//!     .with_bytes(180, 2_400);
//! m.record_request(&r);
//! m.record_request(&RequestRecord::new("tools/list", "claude-code", 2_000, 9_000, Outcome::Http(503)));
//! m.user_finished("claude-code");
//! m.advance(2_000_000); // the run's end
//!
//! let mut info = RunInfo::new("http://127.0.0.1:8080/mcp", Model::Open);
//! info.rate_per_s = Some(10.0);
//! let report = Report::from_metrics(&m, info);
//! assert_eq!(report.summary.latency_us.count, 1); // the 503 has no latency
//! assert_eq!(report.summary.errors_by_class.http["503"], 1);
//!
//! let mut table = Vec::new();
//! report.print_table(&mut table, false)?;
//! let json = report.to_json(); // what `--json FILE` writes (`write_json`)
//! assert_eq!(json["format"], "mcpx-load-report/1");
//!
//! let mut limits = Thresholds::new();
//! limits.add_max_p99("200ms")?.set_max_error_rate("1%")?;
//! let violations = check(&report, &limits);
//! let code = if violations.is_empty() { exit::OK } else { exit::THRESHOLDS_FAILED };
//! assert_eq!(code, exit::THRESHOLDS_FAILED); // 1 of 2 requests failed: 50% > 1%
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Merging shards
//! [`Report::merge`] decodes every histogram of every report, adds them value for value and
//! recomputes the percentiles: the merged p99 is the p99 of all requests, not an average of
//! p99s. Time series are aligned on each shard's own start.
//!
//! # Not here
//! Driving virtual users (the runner) and reading the clock: the recorder ([`Metrics`]) is fed
//! times by its caller.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::hist::{self, DecodeHistError};
use crate::metrics::{Codes, ErrorCounts, Family, IntervalView, Metrics, Stats};

/// The `format` field of every JSON report this version writes and reads.
pub const REPORT_FORMAT: &str = "mcpx-load-report/1";
/// The JSON Schema of [`REPORT_FORMAT`] (draft 2020-12).
pub const REPORT_SCHEMA: &str = include_str!("../schema/report.schema.json");
/// Generator lag p99 above which the report warns that the generator fell behind its schedule
/// (10 ms: well above scheduler jitter on a loaded 2-core machine, well below a think time).
pub const LAG_WARN_US: u64 = 10_000;

/// The note every closed-model report carries.
pub const CLOSED_MODEL_NOTE: &str = "closed model: each user waits for its answers before going \
on, so a slow server lowers the offered load and latency under a closed model hides queueing; \
use an open model (a rate) to measure capacity";

/// How load was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Model {
    /// Users arrive at a rate (open loop).
    Open,
    /// A fixed number of users, each waiting for its answers (closed loop).
    Closed,
    /// Tool calls arrive at a rate over long-lived sessions (open loop).
    Calls,
}

impl Model {
    /// The name used in reports and on the command line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Calls => "calls",
        }
    }
}

/// What was run: passed in by the caller, printed and stored as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunInfo {
    /// Target URL (or `"embedded mock"`).
    pub target: String,
    /// Load model.
    pub model: Model,
    /// Closed model: concurrent users; calls model: sessions.
    pub users: Option<u64>,
    /// Open model: users per second; calls model: calls per second.
    pub rate_per_s: Option<f64>,
    /// Configured duration, µs.
    pub duration_us: u64,
    /// Master seed.
    pub seed: u64,
    /// Scenario or profile name.
    pub scenario: String,
    /// Wall-clock start, RFC 3339 (the caller formats it).
    pub started_at: String,
    /// Time scale applied to think times and server latencies (1 = real time).
    pub time_scale: f64,
    /// `"i/n"` when this run is one shard of a larger one.
    pub shard: Option<String>,
    /// Free-form notes (the closed-model note is added by [`Report::from_metrics`]).
    pub notes: Vec<String>,
}

impl RunInfo {
    /// Run info with the given target and model; everything else empty, time scale 1.
    #[must_use]
    pub fn new(target: impl Into<String>, model: Model) -> Self {
        Self {
            target: target.into(),
            model,
            users: None,
            rate_per_s: None,
            duration_us: 0,
            seed: 0,
            scenario: String::new(),
            started_at: String::new(),
            time_scale: 1.0,
            shard: None,
            notes: Vec::new(),
        }
    }
}

/// A histogram summary: count, percentiles and the full histogram. Units are given by the
/// field holding it (`*_us`: microseconds, `*_bytes`: bytes, others: plain counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dist {
    /// Values recorded.
    pub count: u64,
    /// Smallest value (0 when empty).
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value (to the histogram's precision).
    pub max: u64,
    /// The histogram: HdrHistogram V2 compressed, base64.
    pub hdr: String,
}

impl Dist {
    fn of(h: &Histogram<u64>) -> Self {
        let empty = h.is_empty();
        let q = |x: f64| if empty { 0 } else { h.value_at_quantile(x) };
        Self {
            count: h.len(),
            min: if empty { 0 } else { h.min() },
            mean: if empty { 0.0 } else { round3(h.mean()) },
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: if empty {
                0
            } else {
                h.highest_equivalent(h.max())
            },
            hdr: hist::encode_text(h),
        }
    }

    /// An empty distribution (a field missing from an older report).
    fn empty() -> Self {
        Self::of(&hist::new_hist())
    }

    /// Decodes the full histogram.
    ///
    /// # Errors
    /// When `hdr` is not a valid base64 V2 histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, DecodeHistError> {
        hist::decode_text(&self.hdr)
    }
}

/// Errors by class. HTTP statuses and JSON-RPC codes are keyed by their decimal text; codes past
/// the tracking bound are under `"other"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorClasses {
    /// TCP connect failures.
    pub connect: u64,
    /// TLS handshake failures.
    pub tls: u64,
    /// Client deadlines that expired.
    pub timeout: u64,
    /// Timeouts by the deadline that expired, when the runner named it.
    pub timeout_by_deadline: BTreeMap<String, u64>,
    /// HTTP statuses that are not success.
    pub http: BTreeMap<String, u64>,
    /// JSON-RPC error codes.
    pub jsonrpc: BTreeMap<String, u64>,
    /// `tools/call` results with `isError: true` (answers, also counted in latency).
    pub is_error: u64,
    /// Protocol violations by the peer.
    pub protocol: u64,
    /// Requests cancelled by the user before an answer.
    pub cancelled: u64,
}

impl ErrorClasses {
    fn of(e: &ErrorCounts) -> Self {
        fn codes<K: Ord + Copy + ToString>(c: &Codes<K>) -> BTreeMap<String, u64> {
            let mut m: BTreeMap<String, u64> =
                c.map.iter().map(|(k, n)| (k.to_string(), *n)).collect();
            if c.other > 0 {
                m.insert("other".into(), c.other);
            }
            m
        }
        Self {
            connect: e.connect,
            tls: e.tls,
            timeout: e.timeout,
            timeout_by_deadline: e
                .deadlines
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            http: codes(&e.http),
            jsonrpc: codes(&e.jsonrpc),
            is_error: e.is_error,
            protocol: e.protocol,
            cancelled: e.cancelled,
        }
    }

    fn counts(&self) -> ErrorCounts {
        fn codes<K: Ord + Copy + std::str::FromStr>(m: &BTreeMap<String, u64>) -> Codes<K> {
            let mut c = Codes::default();
            for (k, &n) in m {
                match k.parse::<K>() {
                    Ok(k) => c.add(k, n),
                    Err(_) => c.other += n,
                }
            }
            c
        }
        let mut e = ErrorCounts {
            connect: self.connect,
            tls: self.tls,
            timeout: self.timeout,
            protocol: self.protocol,
            cancelled: self.cancelled,
            is_error: self.is_error,
            http: codes(&self.http),
            jsonrpc: codes(&self.jsonrpc),
            deadlines: Vec::new(),
        };
        for (k, n) in &self.timeout_by_deadline {
            e.count_deadline(k, *n);
        }
        e
    }
}

/// Requests of one method, tool, family, or of the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestStats {
    /// Method, tool or family name (`"(all)"` for the whole run; `"(other)"` past the bounds).
    pub name: String,
    /// Requests completed or failed.
    pub requests: u64,
    /// Requests answered (`ok` + `is_error`): the latency sample count.
    pub answered: u64,
    /// Requests in any error class, `isError` included.
    pub errors: u64,
    /// Requests without an answer (errors other than `isError`).
    pub failed: u64,
    /// `failed / requests` (0 when there were none).
    pub error_rate: f64,
    /// Requests per second over the run's elapsed time.
    pub rps: f64,
    /// Latency from intended send to answer, µs.
    pub latency_us: Dist,
    /// Time to first byte from actual send, µs.
    pub ttfb_us: Option<Dist>,
    /// Time to the first SSE event from actual send, µs (streamed answers only).
    pub first_event_us: Option<Dist>,
    /// Time from send to each SSE event of the response, µs.
    pub sse_event_us: Option<Dist>,
    /// Request bytes sent.
    pub request_bytes: u64,
    /// Response bytes received.
    pub response_bytes: u64,
    /// Errors by class.
    pub errors_by_class: ErrorClasses,
}

impl RequestStats {
    fn of(name: &str, s: &Stats, elapsed_us: u64) -> Self {
        let failed = s.errors.failed();
        Self {
            name: name.into(),
            requests: s.requests,
            answered: s.answered(),
            errors: s.errors.total(),
            failed,
            error_rate: ratio(failed, s.requests),
            rps: per_s(s.requests, elapsed_us),
            latency_us: Dist::of(&s.latency),
            ttfb_us: s.ttfb.as_deref().map(Dist::of),
            first_event_us: s.first_event.as_deref().map(Dist::of),
            sse_event_us: s.sse.as_deref().map(Dist::of),
            request_bytes: s.request_bytes,
            response_bytes: s.response_bytes,
            errors_by_class: ErrorClasses::of(&s.errors),
        }
    }

    fn stats(&self) -> Result<Stats, ReportError> {
        let mut s = Stats::new();
        s.requests = self.requests;
        s.errors = self.errors_by_class.counts();
        s.latency = self.latency_us.histogram()?;
        if let Some(d) = &self.ttfb_us {
            s.ttfb = Some(Box::new(d.histogram()?));
        }
        if let Some(d) = &self.first_event_us {
            s.first_event = Some(Box::new(d.histogram()?));
        }
        if let Some(d) = &self.sse_event_us {
            s.sse = Some(Box::new(d.histogram()?));
        }
        s.request_bytes = self.request_bytes;
        s.response_bytes = self.response_bytes;
        Ok(s)
    }
}

/// One client family: its users, sessions, requests and conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FamilyStats {
    /// Family name.
    pub name: String,
    /// Virtual users started.
    pub users_started: u64,
    /// Virtual users finished.
    pub users_finished: u64,
    /// Sessions opened.
    pub sessions: u64,
    /// Sessions closed.
    pub sessions_closed: u64,
    /// This family's requests.
    pub requests: RequestStats,
    /// User turn durations, µs.
    pub turn_us: Dist,
    /// Conversation durations, µs.
    pub conversation_us: Dist,
    /// Tool calls per conversation (a user's work between start and finish).
    pub calls_per_conversation: Dist,
    /// Requests (all methods) per conversation.
    pub requests_per_conversation: Dist,
    /// Calls on a session opened for them: from the `initialize` start to the tool result,
    /// µs (claude.ai's effective call latency, PROFILE.md section 4; empty for families that
    /// keep their sessions). Absent in reports from before it existed.
    #[serde(default = "Dist::empty")]
    pub handshake_call_us: Dist,
}

/// The generator's own lag behind its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Generator {
    /// Actual minus intended send time, µs.
    pub lag_us: Dist,
    /// Lag p99 above which the generator counts as behind, µs ([`LAG_WARN_US`]).
    pub warn_threshold_us: u64,
    /// Whether the lag p99 exceeded the threshold.
    pub behind: bool,
}

/// Users, sessions and streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Population {
    /// Users running at once, at most (sum of the shards' peaks after a merge).
    pub users_peak: u64,
    /// Users still running at the end.
    pub users_active_end: u64,
    /// Sessions opened.
    pub sessions_opened: u64,
    /// Sessions closed.
    pub sessions_closed: u64,
    /// Sessions opened per second.
    pub sessions_per_s: f64,
    /// Streams opened.
    pub streams_opened: u64,
    /// Streams held at once, at most.
    pub streams_peak: u64,
    /// Streams still open at the end.
    pub streams_active_end: u64,
}

/// Server-sent events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SseStats {
    /// Time from send to each SSE event, all methods, µs.
    pub event_us: Option<Dist>,
    /// Gaps between progress notifications of one call, µs.
    pub progress_gap_us: Dist,
}

/// Parallel tool calls per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FanOut {
    /// Calls per step.
    pub calls: Dist,
    /// Exact histogram: `[calls, steps]` pairs.
    pub counts: Vec<[u64; 2]>,
}

/// Think times of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThinkStats {
    /// Kind (`"turn"`, `"step"`, ...).
    pub kind: String,
    /// Durations, µs.
    pub us: Dist,
}

/// Message sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sizes {
    /// `tools/call` argument sizes, bytes.
    pub args_bytes: Dist,
    /// `tools/call` result sizes, bytes.
    pub result_bytes: Dist,
}

/// One interval of the time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntervalPoint {
    /// Start, µs since run start.
    pub start_us: u64,
    /// Length, µs (the last one may be partial).
    pub duration_us: u64,
    /// Requests completed.
    pub requests: u64,
    /// Requests in any error class.
    pub errors: u64,
    /// Requests without an answer.
    pub failed: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles of the interval's answers, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Largest, µs.
    pub max_us: u64,
    /// The interval's latency histogram (V2 compressed, base64; `""` when empty).
    pub hdr: String,
}

/// The time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Intervals {
    /// Interval length, µs.
    pub interval_us: u64,
    /// Intervals in time order.
    pub series: Vec<IntervalPoint>,
}

/// A whole run's report: what `--json` writes. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// What was run.
    pub run: RunInfo,
    /// Time from run start to the last event, µs.
    pub elapsed_us: u64,
    /// All requests.
    pub summary: RequestStats,
    /// Per method, busiest first.
    pub methods: Vec<RequestStats>,
    /// Per tool, busiest first.
    pub tools: Vec<RequestStats>,
    /// Per client family.
    pub families: Vec<FamilyStats>,
    /// The generator's lag behind its schedule.
    pub generator: Generator,
    /// Users, sessions, streams.
    pub population: Population,
    /// SSE timings.
    pub sse: SseStats,
    /// Parallel calls per step.
    pub fan_out: FanOut,
    /// Think times by kind.
    pub think: Vec<ThinkStats>,
    /// Message sizes.
    pub sizes: Sizes,
    /// Values above 1 h (or refused) that were clamped to 1 h.
    pub clamped: u64,
    /// The time series.
    pub intervals: Intervals,
    /// Warnings and notes (closed model, generator lag, clamping, merge).
    pub notes: Vec<String>,
}

/// Errors reading, writing or merging reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportError {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not JSON, or not a report of this shape.
    Json(serde_json::Error),
    /// The `format` field names another format or version.
    Format(String),
    /// A serialized histogram does not decode.
    Histogram(DecodeHistError),
    /// [`Report::merge`] was given no report.
    Empty,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Json(e) => write!(f, "not a valid report: {e}"),
            Self::Format(v) => {
                write!(
                    f,
                    "report format {v:?} is not {REPORT_FORMAT:?} (written by another mcpx version?)"
                )
            }
            Self::Histogram(e) => write!(f, "{e}"),
            Self::Empty => write!(f, "no report to merge"),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Json(e) => Some(e),
            Self::Histogram(e) => Some(e),
            Self::Format(_) | Self::Empty => None,
        }
    }
}

impl From<DecodeHistError> for ReportError {
    fn from(e: DecodeHistError) -> Self {
        Self::Histogram(e)
    }
}

// Derived floats are rounded so that they survive a JSON round trip bit for bit (a short
// decimal parses exactly; serde_json's default float parser may be off by an ulp otherwise).

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1e9).round() / 1e9
    }
}

fn per_s(n: u64, us: u64) -> f64 {
    if us == 0 {
        0.0
    } else {
        round3(n as f64 * 1e6 / us as f64)
    }
}

impl Report {
    /// Builds the report of `metrics` (call [`Metrics::advance`] with the end time first).
    /// Adds the closed-model note, and warnings for generator lag and clamped values.
    #[must_use]
    pub fn from_metrics(metrics: &Metrics, run: RunInfo) -> Self {
        let elapsed = metrics.elapsed_us();
        let mut methods: Vec<RequestStats> = metrics
            .methods
            .iter()
            .map(|(k, s)| RequestStats::of(k, s, elapsed))
            .collect();
        methods.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut tools: Vec<RequestStats> = metrics
            .tools
            .iter()
            .map(|(k, s)| RequestStats::of(k, s, elapsed))
            .collect();
        tools.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.name.cmp(&b.name))
        });
        let families = metrics
            .families
            .iter()
            .map(|(k, f)| FamilyStats {
                name: k.into(),
                users_started: f.users_started,
                users_finished: f.users_finished,
                sessions: f.sessions,
                sessions_closed: f.sessions_closed,
                requests: RequestStats::of(k, &f.requests, elapsed),
                turn_us: Dist::of(&f.turn_us),
                conversation_us: Dist::of(&f.conversation_us),
                calls_per_conversation: Dist::of(&f.calls_per_conversation),
                requests_per_conversation: Dist::of(&f.requests_per_conversation),
                handshake_call_us: Dist::of(&f.handshake_call_us),
            })
            .collect();
        let lag = Dist::of(&metrics.lag);
        let behind = lag.p99 > LAG_WARN_US;
        let mut notes = Vec::new();
        if run.model == Model::Closed {
            notes.push(CLOSED_MODEL_NOTE.to_owned());
        }
        if behind {
            notes.push(format!(
                "GENERATOR FELL BEHIND ITS SCHEDULE: p99 send lag {} (max {}) is above {}; \
                 latency still counts from the intended send times, but the load offered was \
                 lower than asked: give the generator more CPU or split the run into shards",
                fmt_ms(lag.p99),
                fmt_ms(lag.max),
                fmt_ms(LAG_WARN_US)
            ));
        }
        if run.time_scale != 1.0 {
            notes.push(format!(
                "time scale {}: think times (and an embedded mock's latencies) were scaled; \
                 latencies are as measured",
                run.time_scale
            ));
        }
        if metrics.clamped > 0 {
            notes.push(format!(
                "{} values above 1 h were clamped to 1 h",
                metrics.clamped
            ));
        }
        let series = metrics
            .interval_views()
            .iter()
            .map(|v| {
                let h = hist::decode_bytes(&v.latency).unwrap_or_else(|_| hist::new_hist());
                let d = Dist::of(&h);
                IntervalPoint {
                    start_us: v.start_us,
                    duration_us: v.len_us,
                    requests: v.requests,
                    errors: v.errors,
                    failed: v.failed,
                    rps: per_s(v.requests, v.len_us),
                    p50_us: d.p50,
                    p90_us: d.p90,
                    p99_us: d.p99,
                    max_us: d.max,
                    hdr: if h.is_empty() { String::new() } else { d.hdr },
                }
            })
            .collect();
        let mut think: Vec<ThinkStats> = metrics
            .think
            .iter()
            .map(|(k, h)| ThinkStats {
                kind: k.into(),
                us: Dist::of(h),
            })
            .collect();
        think.sort_by(|a, b| a.kind.cmp(&b.kind));
        Self {
            format: REPORT_FORMAT.into(),
            run,
            elapsed_us: elapsed,
            summary: RequestStats::of("(all)", &metrics.total_stats(), elapsed),
            methods,
            tools,
            families,
            generator: Generator {
                lag_us: lag,
                warn_threshold_us: LAG_WARN_US,
                behind,
            },
            population: Population {
                users_peak: metrics.users_peak,
                users_active_end: metrics.users_active,
                sessions_opened: metrics.sessions_opened,
                sessions_closed: metrics.sessions_closed,
                sessions_per_s: per_s(metrics.sessions_opened, elapsed),
                streams_opened: metrics.streams_opened,
                streams_peak: metrics.streams_peak,
                streams_active_end: metrics.streams_active,
            },
            sse: SseStats {
                event_us: metrics.total.sse.as_deref().map(Dist::of),
                progress_gap_us: Dist::of(&metrics.progress_gap),
            },
            fan_out: FanOut {
                calls: Dist::of(&metrics.fan_out),
                counts: metrics
                    .fan_out
                    .iter_recorded()
                    .map(|v| [v.value_iterated_to(), v.count_at_value()])
                    .collect(),
            },
            think,
            sizes: Sizes {
                args_bytes: Dist::of(&metrics.args_size),
                result_bytes: Dist::of(&metrics.result_size),
            },
            clamped: metrics.clamped,
            intervals: Intervals {
                interval_us: metrics.interval_us(),
                series,
            },
            notes,
        }
    }

    /// The report as JSON ([`REPORT_FORMAT`]).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Parses a JSON report, checking its `format`.
    ///
    /// # Errors
    /// [`ReportError::Json`] when the value is not a report, [`ReportError::Format`] for another
    /// format or version.
    pub fn from_json(v: serde_json::Value) -> Result<Self, ReportError> {
        let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != REPORT_FORMAT {
            return Err(ReportError::Format(format.to_owned()));
        }
        serde_json::from_value(v).map_err(ReportError::Json)
    }

    /// Writes the JSON report to `path` (pretty-printed).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        let path = path.as_ref();
        let text = serde_json::to_vec_pretty(self).map_err(ReportError::Json)?;
        std::fs::write(path, text).map_err(|source| ReportError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a JSON report written by [`Report::write_json`].
    ///
    /// # Errors
    /// When the file cannot be read or is not a report of this format.
    pub fn read_json(path: impl AsRef<Path>) -> Result<Self, ReportError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ReportError::Io {
            path: path.to_owned(),
            source,
        })?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(ReportError::Json)?;
        Self::from_json(v)
    }

    /// Rebuilds a recorder holding this report's measurements (per-method interval histograms,
    /// which only the interval log carries, are not restored).
    ///
    /// # Errors
    /// When a histogram does not decode.
    pub fn to_metrics(&self) -> Result<Metrics, ReportError> {
        let interval = std::time::Duration::from_micros(self.intervals.interval_us.max(1));
        let mut m = Metrics::new(interval);
        for s in &self.methods {
            m.methods.get_mut(&s.name, Stats::new).merge(&s.stats()?);
        }
        for s in &self.tools {
            m.tools.get_mut(&s.name, Stats::new).merge(&s.stats()?);
        }
        for f in &self.families {
            let mut fam = Family::new();
            fam.users_started = f.users_started;
            fam.users_finished = f.users_finished;
            fam.sessions = f.sessions;
            fam.sessions_closed = f.sessions_closed;
            fam.requests = f.requests.stats()?;
            fam.turn_us = f.turn_us.histogram()?;
            fam.conversation_us = f.conversation_us.histogram()?;
            fam.calls_per_conversation = f.calls_per_conversation.histogram()?;
            fam.requests_per_conversation = f.requests_per_conversation.histogram()?;
            fam.handshake_call_us = f.handshake_call_us.histogram()?;
            m.families.get_mut(&f.name, Family::new).merge(&fam);
        }
        for t in &self.think {
            hist::add(m.think.get_mut(&t.kind, hist::new_hist), &t.us.histogram()?);
        }
        m.set_total(self.summary.stats()?);
        m.lag = self.generator.lag_us.histogram()?;
        m.progress_gap = self.sse.progress_gap_us.histogram()?;
        m.fan_out = self.fan_out.calls.histogram()?;
        m.args_size = self.sizes.args_bytes.histogram()?;
        m.result_size = self.sizes.result_bytes.histogram()?;
        let p = &self.population;
        m.users_peak = p.users_peak;
        m.users_active = p.users_active_end;
        m.sessions_opened = p.sessions_opened;
        m.sessions_closed = p.sessions_closed;
        m.streams_opened = p.streams_opened;
        m.streams_peak = p.streams_peak;
        m.streams_active = p.streams_active_end;
        m.clamped = self.clamped;
        for pt in &self.intervals.series {
            let bytes = if pt.hdr.is_empty() {
                Vec::new()
            } else {
                hist::encode_bytes(&hist::decode_text(&pt.hdr)?)
            };
            m.add_interval(&IntervalView {
                start_us: pt.start_us,
                len_us: pt.duration_us,
                requests: pt.requests,
                errors: pt.errors,
                failed: pt.failed,
                latency: std::borrow::Cow::Owned(bytes),
                methods: Vec::new(),
            });
        }
        m.advance(self.elapsed_us);
        Ok(m)
    }

    /// Merges shard reports exactly: every histogram is decoded and added, percentiles are
    /// recomputed. The run info is the first report's, with users and rates summed, the longest
    /// duration, the earliest start, no shard, and the notes of all (each once).
    ///
    /// # Errors
    /// [`ReportError::Empty`] for no reports, or a histogram that does not decode.
    pub fn merge(reports: &[Report]) -> Result<Report, ReportError> {
        let Some(first) = reports.first() else {
            return Err(ReportError::Empty);
        };
        let mut m = first.to_metrics()?;
        let mut run = first.run.clone();
        let mut shards = Vec::new();
        shards.extend(first.run.shard.clone());
        for r in &reports[1..] {
            m.merge(&r.to_metrics()?);
            run.users = match (run.users, r.run.users) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            run.rate_per_s = match (run.rate_per_s, r.run.rate_per_s) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            run.duration_us = run.duration_us.max(r.run.duration_us);
            if !r.run.started_at.is_empty()
                && (run.started_at.is_empty() || r.run.started_at < run.started_at)
            {
                run.started_at.clone_from(&r.run.started_at);
            }
            shards.extend(r.run.shard.clone());
            for n in &r.run.notes {
                if !run.notes.contains(n) {
                    run.notes.push(n.clone());
                }
            }
        }
        run.shard = None;
        let note = if shards.is_empty() {
            format!("merged from {} reports", reports.len())
        } else {
            format!(
                "merged from {} reports (shards {})",
                reports.len(),
                shards.join(", ")
            )
        };
        run.notes.push(note);
        Ok(Self::from_metrics(&m, run))
    }

    /// Writes the terminal table: per method and per tool (count, req/s, p50, p90, p99, p99.9,
    /// max in ms, errors), errors by class, users and sessions per family, the generator's lag
    /// (with a loud warning when it fell behind) and the notes. `color` adds ANSI colors (pass
    /// false for NO_COLOR or a non-terminal).
    ///
    /// # Errors
    /// When writing fails.
    pub fn print_table(&self, w: &mut impl Write, color: bool) -> io::Result<()> {
        let c = Colors::new(color);
        let r = &self.run;
        writeln!(
            w,
            "{}mcpx load{}: {} ({} model{}) for {}, {} requests, {:.1} req/s",
            c.bold,
            c.reset,
            r.target,
            r.model.as_str(),
            r.shard
                .as_deref()
                .map(|s| format!(", shard {s}"))
                .unwrap_or_default(),
            fmt_secs(self.elapsed_us),
            self.summary.requests,
            self.summary.rps,
        )?;
        writeln!(w)?;
        let name_w = self
            .methods
            .iter()
            .chain(&self.tools)
            .map(|s| s.name.chars().count().min(MAX_NAME_COLUMN))
            .chain([6])
            .max()
            .unwrap_or(6);
        self.table(
            w,
            &c,
            "method",
            name_w,
            self.methods.iter().chain([&self.summary]),
        )?;
        if !self.tools.is_empty() {
            writeln!(w)?;
            self.table(w, &c, "tool", name_w, self.tools.iter())?;
        }
        writeln!(w)?;
        let e = &self.summary.errors_by_class;
        let mut classes = Vec::new();
        if e.timeout > 0 {
            let by: Vec<String> = e
                .timeout_by_deadline
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            if by.is_empty() {
                classes.push(format!("timeout {}", e.timeout));
            } else {
                classes.push(format!("timeout {} ({})", e.timeout, by.join(", ")));
            }
        }
        for (name, n) in [
            ("connect", e.connect),
            ("tls", e.tls),
            ("protocol", e.protocol),
            ("cancelled", e.cancelled),
            ("isError", e.is_error),
        ] {
            if n > 0 {
                classes.push(format!("{name} {n}"));
            }
        }
        for (k, n) in &e.http {
            classes.push(format!("HTTP {k} {n}"));
        }
        for (k, n) in &e.jsonrpc {
            classes.push(format!("JSON-RPC {k} {n}"));
        }
        if classes.is_empty() {
            writeln!(w, "errors: none")?;
        } else {
            writeln!(
                w,
                "{}errors{}: {} ({:.2}% without an answer): {}",
                c.red,
                c.reset,
                self.summary.errors,
                self.summary.error_rate * 100.0,
                classes.join(", ")
            )?;
        }
        for f in &self.families {
            writeln!(
                w,
                "family {}: {} users ({} finished), {} sessions, {} requests, p99 {} ms",
                f.name,
                f.users_started,
                f.users_finished,
                f.sessions,
                f.requests.requests,
                fmt_ms_num(f.requests.latency_us.p99)
            )?;
            if f.turn_us.count > 0 || f.conversation_us.count > 0 {
                writeln!(
                    w,
                    "  turns: {} p50 {}, p90 {}; conversations: {} p50 {}, p90 {}",
                    f.turn_us.count,
                    fmt_secs(f.turn_us.p50),
                    fmt_secs(f.turn_us.p90),
                    f.conversation_us.count,
                    fmt_secs(f.conversation_us.p50),
                    fmt_secs(f.conversation_us.p90)
                )?;
            }
            if f.handshake_call_us.count > 0 {
                writeln!(
                    w,
                    "  handshake + call (a session per call): {} calls, p50 {} ms, p99 {} ms",
                    f.handshake_call_us.count,
                    fmt_ms_num(f.handshake_call_us.p50),
                    fmt_ms_num(f.handshake_call_us.p99)
                )?;
            }
        }
        let p = &self.population;
        writeln!(
            w,
            "sessions: {} opened ({:.1}/s), {} closed; users peak {}; streams: {} opened, peak {}",
            p.sessions_opened,
            p.sessions_per_s,
            p.sessions_closed,
            p.users_peak,
            p.streams_opened,
            p.streams_peak
        )?;
        let lag = &self.generator.lag_us;
        if self.generator.behind {
            writeln!(
                w,
                "{}{}WARNING: the generator fell behind its schedule: send lag p99 {} ms, max {} ms (> {} ms){}",
                c.bold,
                c.red,
                fmt_ms_num(lag.p99),
                fmt_ms_num(lag.max),
                fmt_ms_num(self.generator.warn_threshold_us),
                c.reset
            )?;
        } else {
            writeln!(
                w,
                "generator lag: p50 {} ms, p99 {} ms, max {} ms",
                fmt_ms_num(lag.p50),
                fmt_ms_num(lag.p99),
                fmt_ms_num(lag.max)
            )?;
        }
        for n in self.notes.iter().chain(&self.run.notes) {
            writeln!(w, "{}note{}: {n}", c.yellow, c.reset)?;
        }
        Ok(())
    }

    fn table<'a>(
        &self,
        w: &mut impl Write,
        c: &Colors,
        title: &str,
        name_w: usize,
        rows: impl Iterator<Item = &'a RequestStats>,
    ) -> io::Result<()> {
        writeln!(
            w,
            "{}{:<name_w$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}{}",
            c.bold,
            title,
            "count",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors",
            c.reset
        )?;
        for s in rows {
            let name: String = if s.name.chars().count() > MAX_NAME_COLUMN {
                let mut t: String = s.name.chars().take(MAX_NAME_COLUMN - 1).collect();
                t.push('…');
                t
            } else {
                s.name.clone()
            };
            let l = &s.latency_us;
            let (e0, e1) = if s.errors > 0 {
                (c.red, c.reset)
            } else {
                ("", "")
            };
            writeln!(
                w,
                "{:<name_w$} {:>9} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>9} {e0}{:>8}{e1}",
                name,
                s.requests,
                s.rps,
                fmt_ms_num(l.p50),
                fmt_ms_num(l.p90),
                fmt_ms_num(l.p99),
                fmt_ms_num(l.p999),
                fmt_ms_num(l.max),
                s.errors,
            )?;
        }
        Ok(())
    }
}

/// Names longer than this are cut in the terminal table.
const MAX_NAME_COLUMN: usize = 32;

struct Colors {
    bold: &'static str,
    red: &'static str,
    yellow: &'static str,
    reset: &'static str,
}

impl Colors {
    fn new(on: bool) -> Self {
        if on {
            Self {
                bold: "\x1b[1m",
                red: "\x1b[31m",
                yellow: "\x1b[33m",
                reset: "\x1b[0m",
            }
        } else {
            Self {
                bold: "",
                red: "",
                yellow: "",
                reset: "",
            }
        }
    }
}

/// `1234` µs as `"1.23"` (ms, 3 significant digits for small values).
pub(crate) fn fmt_ms_num(us: u64) -> String {
    let ms = us as f64 / 1e3;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// `1234` µs as `"1.23 ms"`.
pub(crate) fn fmt_ms(us: u64) -> String {
    format!("{} ms", fmt_ms_num(us))
}

fn fmt_secs(us: u64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}
