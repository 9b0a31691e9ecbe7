//! `mcpx-client`: the MCP client. Streamable HTTP in both protocol eras (the session era,
//! 2024-11-05 .. 2025-11-25, and the stateless 2026-07-28), over HTTP/1.1 (a small pool) or
//! HTTP/2 (h2c or TLS with ALPN), JSON and SSE replies, the standalone GET stream, resumption with
//! `Last-Event-ID`, the legacy HTTP+SSE transport and stdio.
//!
//! It is embeddable on its own ([`Session`]'s high-level methods) and it is the engine of the
//! load tester ([`Session::request`] → [`Exchange`]: one request, its time to first byte and its
//! events with their arrival times). Per request it allocates the body, the header map and the
//! decoded messages; it never builds a `serde_json::Value`.
//!
//! What it does **not** do: protocol rules of its own (versions and header names come from
//! `mcpx-proto`, framing from `mcpx-wire`), OAuth flows (pass a bearer token as a header), retries
//! of failed requests (the caller decides), `subscriptions/listen` helpers (send it with
//! [`Session::request`]).
//!
//! # Connecting
//!
//! ```no_run
//! # async fn run() -> Result<(), mcpx_client::Error> {
//! use mcpx_client::{Client, ClientOptions};
//!
//! let session = Client::connect("http://127.0.0.1:8080/mcp", ClientOptions::new()).await?;
//! for tool in session.list_tools().await? {
//!     println!("{}", tool.name);
//! }
//! let out = session.call_tool("echo", &serde_json::json!({"text": "hi"})).await?;
//! println!("{}", out.text);
//! session.close().await?;
//! # Ok(()) }
//! ```
//!
//! [`ClientOptions::era`] picks the era: by default the client discovers it (MCP-DIGEST 3.9):
//! `server/discover` first, then `initialize`, then the legacy HTTP+SSE transport. The era found
//! for a URL is cached in the [`Client`], so later sessions skip the probe. In the stateless era
//! every request carries the `_meta` identity and the `MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name` and (from `x-mcp-header` annotations seen by [`Session::list_tools`])
//! `Mcp-Param-*` headers; `input_required` results are answered by the [`ClientHandler`] and
//! retried. In the session era, server requests on a response stream are answered by the
//! handler and POSTed back; [`ClientOptions::background_stream`] also keeps the GET stream open
//! for the ones that arrive there.
//!
//! # Connections
//!
//! One [`Client`] is one connection pool: HTTP/1.1 connections are reused once a response has
//! been read to its end, HTTP/2 multiplexes every request to an origin over one connection
//! ([`HttpVersion`]), and [`PoolMode::PerRequest`] opens a connection per request. Share one
//! client among virtual users for a shared pool, give each its own for per-user pools;
//! [`Client::with_options`] shares a pool across different identities.
//!
//! # The timed hot path
//!
//! ```no_run
//! # async fn run(session: mcpx_client::Session, params: mcpx_wire::RawJson) -> Result<(), mcpx_client::Error> {
//! use mcpx_client::EventKind;
//!
//! // `name` spares the client reading `Mcp-Name` out of the params (2026-07-28).
//! let mut ex = session.request("tools/call").params(params).name("echo").progress(true).send().await?;
//! let ttfb = ex.ttfb();
//! while let Some(ev) = ex.next().await? {
//!     match ev.kind() {
//!         EventKind::Progress => { /* ev.at() - ex.sent_at() */ }
//!         EventKind::Request => { if let Some(m) = ev.message() { session.answer(m).await } }
//!         EventKind::Response => break,
//!         _ => {}
//!     }
//! }
//! # let _ = ttfb; Ok(()) }
//! ```
//!
//! # Cancel safety
//!
//! [`Exchange::cancel`] cancels and waits until the cancellation is sent. Dropping an
//! [`Exchange`] before its final response also cancels the request: the HTTP/2 stream is
//! reset or the HTTP/1.1 connection closed (2026-07-28 cancellation), and in the session era (and
//! on stdio) `notifications/cancelled` is sent from a spawned task. Dropping a [`Session`] does not
//! send `DELETE`; call [`Session::close`]. A stdio child is killed when its last session handle
//! is dropped.
//!
//! # Bounds
//!
//! Every wait has a deadline and every buffer a cap; see [`limits`].

#![forbid(unsafe_code)]

mod body;
mod chan;
mod error;
mod exchange;
mod h1;
mod handler;
mod header_list;
pub mod limits;
mod options;
mod params;
mod pool;
mod raw;
mod session;

/// HTTP/1.1 body framing (RFC 9112 section 6.3), sans-IO: how a body is delimited and an
/// incremental decoder for it. The client's inline HTTP/1.1 path uses it for response bodies;
/// `mcpx record`'s inline proxy path uses it for both directions (the chunked coding is the
/// same for requests).
pub mod http1 {
    pub use crate::h1::{BodyDecoder, BodyKind, CodecError, Decoded};
}

pub use error::{Error, Phase};
pub use exchange::{Event, EventKind, EventStream, Exchange, RequestBuilder};
pub use handler::{ClientHandler, HandlerError, HandlerFuture};
pub use header_list::SharedHeaders;
pub use mcpx_proto::ProtocolVersion;
pub use options::{ClientOptions, EraChoice};
pub use pool::{HttpClient, HttpOptions, HttpVersion, PoolMode, TlsOptions};
pub use raw::RawResponse;
pub use session::{Client, Session, ToolInfo, ToolOutput};
