//! Every bound of the client, as named defaults. Each setter on
//! [`ClientOptions`](crate::ClientOptions) overrides one of them.

use std::time::Duration;

/// Time to open a TCP connection and finish the TLS handshake. At the bound the request fails
/// with [`Error::Connect`](crate::Error::Connect). 10 s is what browsers and curl give a silent
/// SYN before users give up.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whole-exchange deadline of one request: from sending it to its final response (SSE streams
/// included). At the bound the exchange fails with [`Error::Timeout`](crate::Error::Timeout) and
/// the request is cancelled. 60 s matches the official SDKs' default request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long era discovery (`server/discover`) and the legacy `endpoint` event may take before
/// the client falls back (MCP-DIGEST 2.4, 3.9: a timeout means "legacy server").
pub const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest JSON response body. Larger bodies fail with
/// [`Error::Protocol`](crate::Error::Protocol) without being buffered further; the server's
/// own default request limit (4 MiB, the TypeScript SDK's) is mirrored here.
pub const DEFAULT_MAX_RESPONSE_BODY_BYTES: usize = mcpx_wire::limits::DEFAULT_MAX_MESSAGE_BYTES;

/// Largest SSE event (one JSON-RPC message plus framing). An oversized event is skipped by the
/// decoder and reported as [`Error::Protocol`](crate::Error::Protocol).
pub const DEFAULT_MAX_SSE_EVENT_BYTES: usize = mcpx_wire::limits::DEFAULT_MAX_SSE_EVENT_BYTES;

/// How much of an error response body is kept in [`Error::HttpStatus`](crate::Error::HttpStatus)
/// (the rest is discarded): enough for any JSON-RPC error body, small enough to log.
pub const DEFAULT_MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Messages queued per request (legacy HTTP+SSE and stdio route replies through a channel) and on
/// the standalone stream. When a queue is full, further notifications for it are dropped (with a
/// `tracing` warning); responses are never dropped because each request waits for exactly one.
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 256;

/// Idle HTTP/1.1 connections kept per origin. Beyond this a connection is closed after use.
/// 64 keeps a busy virtual user's burst warm without hoarding sockets.
pub const DEFAULT_MAX_IDLE_PER_ORIGIN: usize = 64;

/// Reconnection delay for a dropped SSE stream when the server sent no `retry:` field (the
/// WHATWG `EventSource` default is "a few seconds"; we pick one).
pub const DEFAULT_SSE_RETRY: Duration = Duration::from_secs(1);

/// Cap on a server-supplied `retry:` delay, so a hostile or buggy value cannot park a request
/// past any useful deadline.
pub const MAX_SSE_RETRY: Duration = Duration::from_secs(30);

/// Reconnections (`GET` with `Last-Event-ID`) in a row, none of which delivered an event, after
/// which a stream gives up with [`Error::StreamClosed`](crate::Error::StreamClosed) (a GET
/// stream just ends). A reconnection that delivers an event resets the count, so a server
/// that closes streams on purpose (2025-11-25 polling) can be followed for hours.
pub const DEFAULT_MAX_RECONNECTS: u32 = 5;

/// 2026-07-28 multi round-trip requests: retries with `inputResponses` one call may make before
/// it fails. A server that keeps asking is broken; 8 rounds is far above any real flow.
pub const MAX_INPUT_ROUNDS: u32 = 8;

/// Pages one `*/list` call follows before it fails (a server whose cursors loop).
pub const MAX_LIST_PAGES: usize = 1000;

/// After a final response, how long a dropped exchange keeps reading the rest of an HTTP/1.1
/// body in the background so the connection can be reused.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// stdio shutdown: how long the child gets to exit after its stdin is closed before it is
/// killed (MCP-DIGEST 5: close stdin, wait, then terminate).
pub const STDIO_EXIT_GRACE: Duration = Duration::from_secs(2);

/// URLs whose discovered era one [`Client`](crate::Client) remembers. A load test targets a
/// handful; past the bound new URLs are simply discovered every time.
pub const MAX_CACHED_ERAS: usize = 1024;
