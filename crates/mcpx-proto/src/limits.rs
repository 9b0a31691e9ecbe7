//! Default bounds for everything the protocol core keeps or accepts, in one place.
//!
//! Each is a default of a [`Config`](crate::Config) setter of the same name without `DEFAULT_`
//! (e.g. [`Config::max_sessions`](crate::Config::max_sessions)); each says what it bounds, what
//! happens at the bound, and where the number comes from.

use std::time::Duration;

/// Sessions held at once by one [`SessionTable`](crate::SessionTable).
///
/// At the bound, a new `initialize` evicts the least recently used *idle* session (nothing in
/// flight, no open stream); when every session is busy it is refused with 503 and
/// `Retry-After` ([`DEFAULT_RETRY_AFTER`]). 65,536 sessions at the 8 KiB-per-idle-session
/// budget of issue 4 is at most 512 MiB, and because idle sessions are evicted first the bound
/// costs clients that never DELETE (claude.ai opens one session per call) nothing but a
/// re-initialize.
pub const DEFAULT_MAX_SESSIONS: usize = 65_536;

/// How long a session may stay idle (nothing in flight, no open stream) before it expires.
///
/// An expired session is removed; its next request gets 404 and the client re-initializes
/// (MCP-DIGEST 3.5). 30 minutes outlasts a human pause in a conversation; a client that holds
/// its GET stream open is never idle.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(30 * 60);

/// Client requests in flight on one session at once (not yet answered or cancelled), plus
/// server-to-client requests awaiting an answer, each direction counted separately.
///
/// At the bound, another request is refused with 429 (-32600) and `Retry-After`. Claude
/// clients run a handful of parallel tool calls; 128 leaves a wide margin while bounding the
/// per-session bookkeeping.
pub const DEFAULT_MAX_IN_FLIGHT_PER_SESSION: usize = 128;

/// Open streams on one session: one per request in flight (its response stream) plus the
/// standalone GET stream and its resumptions.
///
/// At the bound, a request or GET that would open another stream is refused with 429. The
/// in-flight bound plus room for the GET stream and a few resumptions.
pub const DEFAULT_MAX_STREAMS_PER_SESSION: usize = DEFAULT_MAX_IN_FLIGHT_PER_SESSION + 8;

/// Stateless-era (2026-07-28) requests in flight at once across the table.
///
/// At the bound, another one is refused with 503 and `Retry-After`. Equal to
/// [`DEFAULT_MAX_SESSIONS`]: one request per session-sized slot.
pub const DEFAULT_MAX_STATELESS_IN_FLIGHT: usize = DEFAULT_MAX_SESSIONS;

/// Bytes of one request body.
///
/// A declared `Content-Length` above it is refused with 413 before any byte is read or parsed;
/// a body that turns out longer gets 413 too. 4 MiB is the TypeScript SDK's limit and
/// `mcpx_wire`'s `DEFAULT_MAX_MESSAGE_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = mcpx_wire::limits::DEFAULT_MAX_MESSAGE_BYTES;

/// Bytes of all request header names and values together.
///
/// Above it the request is refused with 431 before anything else is looked at. 32 KiB is
/// nginx's default (4 buffers of 8 KiB) and leaves room for `Mcp-Param-*` headers.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// Events queued on one stream for a slow reader (and kept for replay).
///
/// The driver that owns the stream enforces it: at the bound the stream is closed and the
/// client resumes with `Last-Event-ID` where the version allows it. 1,024 events of progress
/// and logs is minutes of a chatty tool at any sane rate limit.
pub const DEFAULT_MAX_QUEUED_EVENTS_PER_STREAM: usize = 1024;

/// Request streams remembered after their response, so a client cut off before it read the
/// response can still resume them with `Last-Event-ID` (the driver replays the rest from its
/// event log). Only streams that were sent as SSE are remembered; the oldest is forgotten first.
/// 4,096 entries are ~100 KiB per table and cover every stream of a few seconds of heavy SSE
/// traffic, longer than a reconnecting client waits.
pub const MAX_ENDED_STREAMS: usize = 4096;

/// The `Retry-After` sent with a 503 or 429 refusal.
///
/// One second: an idle session frees within a request's time under Claude-like traffic.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `ttlMs` of the `DiscoverResult` (2026-07-28 cache hint): one hour, the spec example's value.
pub const DEFAULT_DISCOVER_TTL: Duration = Duration::from_secs(60 * 60);
