//! `mcpx-replay`: the I/O half of `mcpx record` and `mcpx replay` (the sans-IO half, the
//! `mcpx-trace/1` format, the recorder state machine, the replay plan and the divergence
//! classifier, is `mcpx-trace`).
//!
//! Both commands live in one crate because they are two ends of one format: they share the
//! trace file handling and the hyper plumbing, and each is the other's test oracle (a recording
//! replayed against the same server must not diverge). Neither belongs in `mcpx-load`, which
//! owns generated workloads; replay reuses its measurement (`Metrics` through a `MetricsSink`),
//! reports, live view and thresholds unchanged.
//!
//! | module | owns |
//! |---|---|
//! | [`record`](mod@record) | the reverse proxy: HTTP/1.1 + h2c (or TLS) in; out, one upstream connection per inbound HTTP/1.1 connection in the same task (else a pooled client); bodies forwarded frame by frame and shown to the trace writer |
//! | [`tracefile`] | the writer thread: the bounded, non-waking queue of observations, the recorder state machine, SSE decoding, JSON, size cap, rotation |
//! | [`replay`](mod@replay) | the replay driver over mcpx-client's pool: bindings, timing, metrics, divergence |
//! | [`tls`] | TLS termination (rustls, ALPN h2 / http/1.1) |
//! | [`limits`] | every bound, with its reason |

//! # Use
//!
//! ```text
//! mcpx record --listen 127.0.0.1:8181 --upstream http://127.0.0.1:8080/mcp --out trace.jsonl
//! # point clients at http://127.0.0.1:8181/mcp, then Ctrl-C
//! mcpx replay trace.jsonl http://127.0.0.1:9090/mcp --speed 10 --multiply 50 --json r.json
//! mcpx replay trace.jsonl URL --users-per-s 5 --loop --duration 10m --tokens tokens.txt
//! ```
//!
//! # Not covered
//! - Replaying legacy HTTP+SSE (`/sse` + `/messages`) and stdio traces: the recorder proxies
//!   any path transparently, but `mcpx-trace/1` keeps no request path, so replay sends every
//!   request to the one endpoint URL.
//! - zstd-compressed traces are refused with a message (decompress them first).
//! - TLS towards the upstream: the recorder terminates TLS, it speaks plain HTTP/1.1 or h2c to
//!   the server behind it.

// One `unsafe` block: the trace writer's `sched_setscheduler` call (record.rs), which no safe
// wrapper in our dependencies offers.
#![deny(unsafe_code)]

pub mod limits;
pub mod record;
pub mod replay;
pub mod tls;
pub mod tracefile;

pub use record::{RecordError, RecordOptions, RecordSummary, record};
pub use replay::{ReplayError, ReplayOptions, ReplaySummary, replay};
pub use tracefile::TraceFileOptions;
