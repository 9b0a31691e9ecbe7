//! The server's own bounds (the protocol's are in `mcpx_proto::limits`).

use std::time::Duration;

/// Items per page of `tools/list`, `resources/list`, `prompts/list` (the default;
/// Claude fetches every page, so larger pages only cost first-byte latency).
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// Interval of `: keep-alive` comments on an idle standalone GET stream. 15 s stays under the
/// 30-60 s idle timeouts of common proxies and load balancers.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Longest sleep of the idle-expiry timer, so a first session in an empty table is seen.
pub(crate) const IDLE_TIMER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// `ttlMs` of list results in 2026-07-28 (tools, prompts, resources, templates). The registry is
/// fixed once the server is built, so lists only change with a redeploy; 5 minutes bounds how
/// long a client keeps a list across one.
pub const DEFAULT_LIST_TTL_MS: u64 = 300_000;

/// Session-table shards per core by default: enough that two requests on different sessions
/// rarely wait for the same lock, few enough that the per-shard share of `max_sessions` stays
/// large (eviction is least-recently-used per shard).
pub const SHARDS_PER_CORE: usize = 4;

/// The default shard count: [`SHARDS_PER_CORE`] per available core, at most
/// [`mcpx_proto::MAX_SHARDS`].
pub fn default_shards() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores * SHARDS_PER_CORE).min(mcpx_proto::MAX_SHARDS)
}

/// The `retry:` hint of the priming event (2025-11-25), in milliseconds: how long a client
/// waits before it reconnects with `Last-Event-ID` after its stream closed. One second: quick
/// enough for a tool call in progress, slow enough that a restarting server is not hammered.
pub const SSE_RETRY_MS: u64 = 1000;

/// Starting capacity of the buffer a response or notification is encoded into: a typical
/// `tools/call` answer fits, so encoding it grows the buffer zero times instead of three or
/// four (each growth is an allocation and a copy). Larger messages grow it as needed.
pub(crate) const MESSAGE_BUF_START: usize = 512;

/// Requests (or 2025-03-26 batches) one message channel (a stdio connection, a legacy
/// HTTP+SSE connection) runs at once. At the bound another request is answered at once with
/// -32600 and not run. Equal to the session's own in-flight bound
/// (`mcpx_proto::limits::DEFAULT_MAX_IN_FLIGHT_PER_SESSION`), which refuses it first in the
/// session era; this one also bounds 2026-07-28 requests, which no session counts.
pub const DEFAULT_MAX_CHANNEL_IN_FLIGHT: usize =
    mcpx_proto::limits::DEFAULT_MAX_IN_FLIGHT_PER_SESSION;

/// How long `serve_io` lets requests in flight finish after its input ended (EOF), before it
/// cancels them and returns. A client that pipes requests and closes its end still gets their
/// answers; the official SDK clients wait about 2 s after closing stdin and then send SIGTERM,
/// which ends the process anyway.
pub const STDIO_EOF_DRAIN: Duration = Duration::from_secs(10);

/// Bytes read from stdio at once (one Linux pipe buffer). Lines longer than this arrive over
/// several reads; the line limit is the body limit (`max_body_bytes`).
pub const STDIO_READ_CHUNK: usize = 64 * 1024;

/// Connections of the legacy HTTP+SSE transport open at once. At the bound a new `GET /sse` is
/// refused with 503 and `Retry-After`. The core's session limit does not bound them before
/// their `initialize` (they hold no session yet); legacy clients are old SDK versions, a small
/// share of traffic, and each connection holds a task and a bounded queue.
pub const DEFAULT_MAX_LEGACY_CONNECTIONS: usize = 4096;

/// HTTP requests (POSTs: each starts work) admitted and not yet answered, across the server.
/// At the bound a new one is refused at once with 503 and `Retry-After` before its body is
/// read (`ServerBuilder::max_in_flight`), so admitted requests keep their latency instead of
/// queueing behind an unbounded backlog. 8,192: each in-flight request holds a task and a few
/// KiB of buffers (tens of MiB at the bound); by Little's law it admits ~8,000 calls/s of
/// 1 s tools, and the per-session share (128, `mcpx_proto::limits`) is far below it.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8192;

/// Where `/metrics` (Prometheus text format) is served by default (`ServerBuilder::metrics_path`).
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// How long a graceful shutdown waits for requests in flight and their connections to finish
/// before it aborts what is left (`ServerBuilder::shutdown_deadline`). 20 s fits inside
/// Kubernetes' default 30 s termination grace period with room for the process to exit.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// Longest TLS handshake: a client that opens a TCP connection and sends nothing (or trickles
/// a ClientHello) is dropped after it, so it holds no task for long. 10 s covers a handshake
/// over a slow mobile link many times over.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
