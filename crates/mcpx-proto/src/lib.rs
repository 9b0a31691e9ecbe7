//! `mcpx-proto`: the sans-IO MCP protocol core. Version rules, HTTP request classification,
//! sessions and their lifecycle, in-flight requests, cancellation, progress, routing of
//! server-to-client messages, idle expiry and limits, for both protocol eras.
//!
//! - [`ProtocolVersion`] and [`RULES`]: the five versions and everything that differs between
//!   them, as one table of data (MCP-DIGEST 13.1), plus `initialize` negotiation.
//! - [`SessionTable`]: takes one HTTP request ([`RequestHead`] + body) and returns either a
//!   [`Rejection`] (one HTTP status, one JSON-RPC code: [`ProtocolError::status_and_code`]) or
//!   a [`Routed`] that says what the server does next. It answers by itself what needs no
//!   handler (`initialize`, `ping`, `notifications/initialized`, `notifications/cancelled`,
//!   `server/discover`) and dispatches the rest.
//! - [`Session`]: one session-era session and its state machine ([`SessionState`]).
//! - [`SessionIdGenerator`]: 128-bit session ids from the OS CSPRNG ([`OsRngIds`]) or a seeded
//!   generator for tests ([`SeededIds`]).
//!
//! What it does **not** do: sockets, tasks, timers, TLS, reading bodies, SSE framing of the
//! bytes it writes (that is `mcpx_wire::sse`), replay logs (future resumability work keys them
//! by [`EventId`]), locks (a [`SessionTable`] is one shard; [`shard`] says how a server splits
//! one configuration over several and finds the shard from a session id or stream key), handlers.
//! It never calls `Instant::now()`: time is an argument. It never parses JSON by hand: every
//! byte goes through `mcpx_wire`.
//!
//! # The call protocol
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::{Bytes, BytesMut};
//! use http::{HeaderMap, HeaderValue, Method};
//! use mcpx_proto::{Config, RequestHead, Routed, SessionTable};
//!
//! let mut table = SessionTable::new(Config::new())?;
//! let now = Instant::now(); // the driver's clock; the core never reads one
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", HeaderValue::from_static("application/json"));
//! headers.insert("accept", HeaderValue::from_static("application/json, text/event-stream"));
//! let body = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#);
//!
//! let session = match table.handle_request(now, &RequestHead::new(&Method::POST, "/mcp", &headers), body) {
//!     // 200 application/json + `Mcp-Session-Id: <new_session>`
//!     Ok(Routed::Answer(answer)) => answer.new_session.ok_or("no session")?,
//!     Ok(other) => return Err(format!("unexpected {other:?}").into()),
//!     // status, Retry-After, and `rejection.encode_body(&mut buf)`
//!     Err(rejection) => return Err(rejection.into()),
//! };
//!
//! // A tools/call on that session is dispatched to the server's handler ...
//! headers.insert("mcp-session-id", HeaderValue::from_str(session.as_str())?);
//! headers.insert("mcp-protocol-version", HeaderValue::from_static("2025-06-18"));
//! let call = Bytes::from_static(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}"#);
//! let Ok(Routed::Dispatch(d)) = table.handle_request(now, &RequestHead::new(&Method::POST, "/mcp", &headers), call) else {
//!     return Err("not dispatched".into());
//! };
//! // ... which answers on the request's stream; the bytes land in the caller's buffer.
//! let mut buf = BytesMut::new();
//! let tx = table.respond_result(now, d.stream, &serde_json::json!({"content": []}), &mut buf)?;
//! assert!(tx.ends_stream);
//! assert_eq!(&buf[..], br#"{"jsonrpc":"2.0","id":2,"result":{"content":[]}}"#);
//!
//! // The driver drains events and arms its one timer.
//! while let Some(event) = table.poll_event() { let _ = event; }
//! assert_eq!(table.poll_timeout(), Some(now + Duration::from_secs(30 * 60)));
//! table.handle_timeout(now + Duration::from_secs(30 * 60)); // idle session expires
//! assert!(table.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Poll order after every input: the bytes the call wrote (transmit), then
//! [`SessionTable::poll_timeout`], then [`SessionTable::poll_event`] until `None`. `now` never
//! goes backwards (a smaller `now` is read as the largest seen so far).
//!
//! # Eras on one endpoint
//!
//! A POST with `Mcp-Session-Id` (and no `MCP-Protocol-Version: 2026-07-28`) belongs to that
//! session. A POST without one is `initialize` (a new session-era session), a 2026-07-28
//! request (its `_meta` carries `io.modelcontextprotocol/protocolVersion`, or the header says
//! 2026-07-28: served statelessly, no session created), or 400 for a missing session id.
//!
//! # Cancel safety
//!
//! Session era: a closed response stream is not a cancellation ([`SessionTable::handle_stream_closed`]
//! keeps the request in flight); `notifications/cancelled` is. Stateless era: closing the
//! response stream cancels the request. Either way [`Event::RequestCancelled`] tells the server
//! to abort the handler, and any later `respond_*` for it writes nothing.

#![forbid(unsafe_code)]

/// The core's hash maps: foldhash, randomly seeded per map (keys such as request ids are
/// client-chosen, so the seed matters; SipHash cost ~900 instructions per `tools/call`).
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// See [`Map`].
pub(crate) type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

mod config;
mod error;
pub mod http;
mod id;
pub mod limits;
mod routed;
mod session;
pub mod shard;
mod stream;
mod table;
mod version;

#[doc(hidden)]
pub mod fuzzing;
#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, DEFAULT_DISPATCH_METHODS};
pub use error::{ProtocolError, Rejection};
pub use http::RequestHead;
pub use id::{OsRngIds, SeededIds, SessionId, SessionIdGenerator};
pub use routed::{
    Accepted, Answer, Batch, CancelReason, ClientResponse, Dispatch, Event, OpenStream,
    ResumeStream, Routed, SendError,
};
pub use session::{Session, SessionState};
pub use shard::{MAX_SHARDS, shard_of_session};
pub use stream::{EventId, EventIdText, StreamKey, Target, Transmit};
pub use table::SessionTable;
pub use version::{
    Era, HttpTransport, LoggingControl, ProtocolVersion, RULES, ResourceSubscriptions,
    Resumability, StructuredContent, VersionHeader, VersionRules,
};
