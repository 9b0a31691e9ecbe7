//! `mcpx-server`: the MCP server engine. Streamable HTTP over hyper 1.x (HTTP/1.1 and HTTP/2
//! with prior knowledge on one port), driving the sans-IO [`mcpx_proto::SessionTable`].
//!
//! This crate owns sockets, bodies, the response mode (JSON or SSE), handler tasks and the one
//! idle-expiry timer. It owns no protocol rule (those are mcpx-proto's) and parses no JSON
//! itself beyond handing params to handlers (mcpx-wire decodes).
//!
//! ```no_run
//! use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Echo { text: String }
//!
//! # async fn run() -> std::io::Result<()> {
//! let mut handlers = Handlers::new();
//! handlers.tool(ToolDef::new("echo").description("Echoes `text`"), |_ctx, args: Echo| async move {
//!     Ok(ToolResult::text(args.text))
//! });
//! let server = Server::builder().handlers(handlers).build().map_err(std::io::Error::other)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server.serve(listener, std::future::pending()).await
//! # }
//! ```
//!
//! Per request: the session table shard its session names is locked for one synchronous call
//! (no global lock: [`ServerBuilder::shards`]), the handler runs inside the request's own task
//! until it answers (a handler that streams moves to a task of its own), and a JSON answer
//! goes out as one buffer. Not yet here: replay logs for `Last-Event-ID` resumption (a resumed
//! stream continues live).
//!
//! Production: TLS with ALPN h2/http1.1 ([`ServerBuilder::tls`]), Prometheus metrics at
//! `/metrics` ([`ServerBuilder::metrics_path`]), refusal with 503 and `Retry-After` past a
//! server-wide in-flight bound ([`ServerBuilder::max_in_flight`]; 429 per session past
//! `Config::max_in_flight_per_session`), and a graceful shutdown in [`Server::serve`].
//!
//! Other transports, same handlers and rules: stdio ([`Server::serve_stdio`], or
//! [`Server::serve_io`] on any reader and writer) and, when switched on, the legacy HTTP+SSE
//! transport of 2024-11-05 ([`ServerBuilder::legacy_sse`]).

#![forbid(unsafe_code)]

pub mod auth;
mod channel;
mod context;
mod dispatch;
mod handler;
mod legacy;
pub mod limits;
mod metrics;
mod mrtr;
mod notify;
pub mod replay;
mod service;
mod shed;
mod stdio;
mod tls;
mod tower;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mcpx_proto::{Config, ConfigError, SessionTable};

pub use context::{AskError, RequestContext};
pub use handler::{
    BoxFuture, Content, ContentBlock, HandlerError, Handlers, Service, ServiceResult, ToolDef,
    ToolResult,
};
pub use notify::{ListKind, MAX_SUBSCRIPTIONS_PER_CLIENT, ServerHandle};
pub use tls::{TlsConfig, TlsError};
pub use tower::{McpBody, McpService};

use crate::service::Shared;

/// How a dispatched request is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// JSON when the handler answers without sending anything first; SSE as soon as it emits
    /// progress, a log line or a server-to-client request.
    #[default]
    Auto,
    /// Always `application/json`; notifications sent before the response are dropped.
    Json,
    /// Always `text/event-stream`.
    Sse,
}

/// Builds a [`Server`].
#[derive(Debug, Default)]
pub struct ServerBuilder {
    config: Config,
    handlers: Handlers,
    mode: ResponseMode,
    keep_alive: Option<Duration>,
    max_body_bytes: Option<usize>,
    name: Option<(String, String)>,
    state_key: Option<SecretKey>,
    shards: Option<usize>,
    list_changed: bool,
    legacy_sse: bool,
    auth: Option<auth::AuthConfig>,
    event_store: Option<replay::StoreSlot>,
    max_legacy_connections: Option<usize>,
    tls: Option<TlsConfig>,
    max_in_flight: Option<usize>,
    metrics_path: Option<Option<String>>,
    shutdown_deadline: Option<Duration>,
}

/// A secret that `Debug` never prints.
#[derive(Clone, Default)]
struct SecretKey(Vec<u8>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ServerBuilder {
    /// The protocol configuration (limits, path, origins, identity). Default: [`Config::default`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The protocol configuration set so far (to adjust it: clone, change, [`config`](Self::config)).
    pub fn config_ref(&self) -> &Config {
        &self.config
    }

    /// What the server serves.
    pub fn handlers(mut self, handlers: Handlers) -> Self {
        self.handlers = handlers;
        self
    }

    /// The response mode (default [`ResponseMode::Auto`]).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.mode = mode;
        self
    }

    /// Keep-alive comment interval on GET streams (default [`limits::DEFAULT_KEEP_ALIVE`]).
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = Some(every);
        self
    }

    /// Declare `listChanged` for tools, prompts and resources: the lists may change while the
    /// server runs ([`ServerHandle::set_handlers`]), and each change is announced on GET
    /// streams and to `subscriptions/listen` streams that ask (default off: the lists are
    /// fixed).
    pub fn list_changed(mut self, on: bool) -> Self {
        self.list_changed = on;
        self
    }

    /// How many shards the session table has (default [`limits::default_shards`]: a few per
    /// core, at most [`mcpx_proto::MAX_SHARDS`]). Each shard has its own lock; a request locks
    /// only the one its session names. 1 gives a single table (exact global LRU eviction).
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = Some(n);
        self
    }

    /// Largest request body (default `mcpx_proto::limits::DEFAULT_MAX_BODY_BYTES`); larger
    /// bodies get 413 before they are read.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = Some(n);
        self
    }

    /// The `serverInfo` name and version.
    pub fn server_info(mut self, name: &str, version: &str) -> Self {
        self.name = Some((name.to_owned(), version.to_owned()));
        self
    }

    /// The key that seals 2026-07-28 `requestState`s (any length; hashed to 256 bits). Give
    /// every replica behind one load balancer the same key so a retry can land on any of them.
    /// Default: random per process.
    pub fn request_state_key(mut self, key: &[u8]) -> Self {
        self.state_key = Some(SecretKey(key.to_vec()));
        self
    }

    /// Where SSE events are logged for `Last-Event-ID` resumption (default: a
    /// [`replay::MemoryEventStore`] with the bounds in [`replay`]).
    pub fn event_store(mut self, store: impl replay::EventStore) -> Self {
        self.event_store = Some(replay::StoreSlot(Some(Arc::new(store))));
        self
    }

    /// Whether SSE streams can be resumed with `Last-Event-ID` (default on): off, no event is
    /// logged and a resume only continues the stream live.
    pub fn resumable(mut self, on: bool) -> Self {
        if !on {
            self.event_store = Some(replay::StoreSlot(None));
        } else if matches!(&self.event_store, Some(replay::StoreSlot(None))) {
            self.event_store = None;
        }
        self
    }

    /// Also serve the legacy HTTP+SSE transport of protocol 2024-11-05 (default off): `GET /sse`
    /// opens a connection's event stream, `POST /messages?sessionId=...` delivers its messages.
    /// Same handlers, limits and `Host`/`Origin` checks as the Streamable HTTP endpoint; for old
    /// clients that predate Streamable HTTP.
    pub fn legacy_sse(mut self, on: bool) -> Self {
        self.legacy_sse = on;
        self
    }

    /// Most legacy HTTP+SSE connections open at once (default
    /// [`limits::DEFAULT_MAX_LEGACY_CONNECTIONS`]; at least 1); a `GET /sse` over it gets 503
    /// with `Retry-After`.
    pub fn max_legacy_connections(mut self, n: usize) -> Self {
        self.max_legacy_connections = Some(n.max(1));
        self
    }

    /// Serve TLS with this certificate and key (ALPN `h2` and `http/1.1`) instead of plain
    /// TCP (default: plain, HTTP/1.1 and HTTP/2 with prior knowledge).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Most HTTP requests (POSTs) in flight across the server (default
    /// [`limits::DEFAULT_MAX_IN_FLIGHT`]; at least 1). Over it a request is refused at once
    /// with 503 and `Retry-After`; one session's share is
    /// [`Config::max_in_flight_per_session`](mcpx_proto::Config::max_in_flight_per_session)
    /// (429 over it).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = Some(n.max(1));
        self
    }

    /// Where the Prometheus metrics are served (default [`limits::DEFAULT_METRICS_PATH`];
    /// `None`: not served). The path answers `GET` without the `Host`/`Origin` checks, as
    /// `/healthz` does: it holds counts, never session ids or payloads.
    pub fn metrics_path(mut self, path: Option<&str>) -> Self {
        self.metrics_path = Some(path.map(str::to_owned));
        self
    }

    /// How long [`Server::serve`] lets requests in flight finish after its shutdown signal
    /// before it aborts the connections left (default [`limits::DEFAULT_SHUTDOWN_DEADLINE`]).
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = Some(deadline);
        self
    }

    /// Bearer-token mode (default off): every request needs an OAuth access token issued for
    /// this server, as the MCP authorization spec makes it a resource server (see [`auth`]).
    pub fn auth(mut self, config: auth::AuthConfig) -> Self {
        self.auth = Some(config);
        self
    }

    /// Validates the configuration and builds the server.
    pub fn build(self) -> Result<Server, ConfigError> {
        let mut config = self.config;
        let mut caps = self.handlers.capabilities();
        if self.list_changed
            && let Some(caps) = caps.as_object_mut()
        {
            for kind in ["tools", "prompts", "resources"] {
                if let Some(entry) = caps.get_mut(kind).and_then(|v| v.as_object_mut()) {
                    entry.insert("listChanged".into(), serde_json::Value::Bool(true));
                }
            }
        }
        // A low-level service declares its own capabilities in the config.
        if !self.handlers.has_service() {
            config.capabilities(&caps.to_string());
        }
        let max_body = self
            .max_body_bytes
            .unwrap_or(mcpx_proto::limits::DEFAULT_MAX_BODY_BYTES);
        config.max_body_bytes(max_body);
        if let Some((name, version)) = &self.name {
            config.server_info(name, version);
        }
        let shards = self.shards.unwrap_or_else(limits::default_shards);
        let tables = SessionTable::sharded(config, shards)?;
        let keep_alive = self.keep_alive.unwrap_or(limits::DEFAULT_KEEP_ALIVE);
        let state_key = self
            .state_key
            .as_ref()
            .map_or_else(mrtr::StateKey::random, |k| mrtr::StateKey::from_bytes(&k.0));
        let mut shared = Shared::new(
            tables,
            self.handlers,
            self.list_changed,
            self.mode,
            keep_alive,
            max_body,
            state_key,
        );
        if let Some(replay::StoreSlot(store)) = self.event_store {
            shared.events = store;
        }
        shared.auth = self.auth.map(|c| Arc::new(auth::Auth::new(c)));
        if self.legacy_sse {
            shared.legacy = Some(legacy::Legacy::new(
                self.max_legacy_connections
                    .unwrap_or(limits::DEFAULT_MAX_LEGACY_CONNECTIONS),
            ));
        }
        shared.shed = shed::Shed::new(
            self.max_in_flight.unwrap_or(limits::DEFAULT_MAX_IN_FLIGHT),
            mcpx_proto::limits::DEFAULT_RETRY_AFTER,
        );
        if let Some(path) = self.metrics_path {
            shared.metrics_path = path;
        }
        Ok(Server {
            shared: Arc::new(shared),
            tls: self.tls,
            shutdown_deadline: self
                .shutdown_deadline
                .unwrap_or(limits::DEFAULT_SHUTDOWN_DEADLINE),
        })
    }
}

/// An MCP server: serve it on a listener.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
    tls: Option<TlsConfig>,
    shutdown_deadline: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The server as a `tower` service, to mount in another app's router instead of
    /// [`serve`](Self::serve) (see [`McpService`]; build with
    /// [`Config::any_path`](mcpx_proto::Config::any_path) when the router picks the path). Its
    /// idle-session timer runs on the current tokio runtime from now on.
    pub fn into_service(self) -> McpService {
        tokio::spawn(service::run_timer(self.shared.clone()));
        McpService {
            shared: self.shared,
        }
    }

    /// A handle to change what the running server serves and to announce changes (list
    /// changes, resource updates); take it before [`serve`](Self::serve).
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts connections on `listener` until `shutdown` resolves, serving HTTP/1.1 and
    /// HTTP/2 (prior knowledge, or ALPN `h2` under [`ServerBuilder::tls`]) on each, with
    /// `TCP_NODELAY` so every SSE event leaves at once.
    ///
    /// # Graceful shutdown
    ///
    /// When `shutdown` resolves: the listener is closed (new connections are refused), new
    /// requests on open connections get 503 with `Retry-After` (`/healthz` too, so a load
    /// balancer that still probes takes the replica out), HTTP/1.1 connections close
    /// after their current response and HTTP/2 ones get `GOAWAY`, standalone GET and listen
    /// streams end cleanly (a client reconnects elsewhere), and requests in flight run to their
    /// answers. After [`ServerBuilder::shutdown_deadline`] whatever is left is aborted; then
    /// this returns.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let timer = tokio::spawn(service::run_timer(self.shared.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut conns = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (socket, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                // Reap finished connections so the set holds only live ones.
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
                () = &mut shutdown => break,
            };
            let _ = socket.set_nodelay(true);
            conns.spawn(serve_connection(
                self.shared.clone(),
                socket,
                peer,
                self.tls.clone(),
                stop_rx.clone(),
            ));
        }
        // Stop accepting: the port refuses connections from here on.
        drop(listener);
        tracing::info!(
            connections = conns.len(),
            deadline_s = self.shutdown_deadline.as_secs_f64(),
            "shutting down: draining"
        );
        self.shared.shed.start_draining();
        let _ = stop_tx.send(true);
        shed::close_streams(&self.shared);
        if let Some(legacy) = &self.shared.legacy {
            legacy.drain();
        }
        let drained = tokio::time::timeout(self.shutdown_deadline, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                connections = conns.len(),
                "shutdown deadline passed: aborting the connections left"
            );
            conns.abort_all();
        }
        timer.abort();
        Ok(())
    }
}

/// Resolves once the server shuts down (at once if it already does).
async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: dropped here, never held across an await.
    let _ = stop.wait_for(|stopping| *stopping).await.map(|_| ());
}

/// Counts a connection as open while it lives.
struct ConnectionGuard(Arc<Shared>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.metrics.connection_closed();
    }
}

/// One accepted connection: the TLS handshake when configured, then HTTP until the client
/// closes or a graceful shutdown finishes it.
async fn serve_connection(
    shared: Arc<Shared>,
    socket: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    tls: Option<TlsConfig>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    shared.metrics.connection_opened();
    let _guard = ConnectionGuard(shared.clone());
    let Some(tls) = tls else {
        return drive(shared, TokioIo::new(socket), peer, stop).await;
    };
    let handshake =
        tokio::time::timeout(limits::TLS_HANDSHAKE_TIMEOUT, tls.acceptor.accept(socket));
    let stream = tokio::select! {
        r = handshake => r,
        () = stopping(&mut stop) => return,
    };
    match stream {
        Ok(Ok(stream)) => drive(shared, TokioIo::new(stream), peer, stop).await,
        Ok(Err(e)) => {
            shared.metrics.tls_handshake_failed();
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
        }
        Err(_) => {
            shared.metrics.tls_handshake_failed();
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

/// Serves HTTP/1.1 or HTTP/2 (whichever the client speaks) on `io`; on shutdown, lets the
/// connection finish what it has started and close.
async fn drive<I>(
    shared: Arc<Shared>,
    io: I,
    peer: std::net::SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| service::handle(shared.clone(), req));
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopping(&mut stop) => {
            // h1: close after the response in progress; h2: GOAWAY, finish open streams.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
