//! Client configuration: one setter per knob, each documenting its default.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use mcpx_proto::ProtocolVersion;
use mcpx_wire::RawJson;

use crate::error::Error;
use crate::handler::{ClientHandler, NoHandler};
use crate::limits;
use crate::pool::{HttpOptions, HttpVersion, PoolMode};

/// Which protocol era (and transport) a session uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EraChoice {
    /// Discover (MCP-DIGEST 2.4, 3.9): `server/discover` first; a result listing 2026-07-28 means
    /// the stateless era; 400/404/405 without a modern error, `-32601`, other errors or a timeout
    /// fall back to `initialize` (and from there to legacy HTTP+SSE on 400/404/405).
    #[default]
    Auto,
    /// The session era at this version: `initialize` straight away (with the legacy HTTP+SSE
    /// fallback on 400/404/405 unless disabled).
    Session(ProtocolVersion),
    /// The stateless era (2026-07-28): `server/discover`, which must succeed.
    Stateless,
    /// The deprecated HTTP+SSE transport (2024-11-05) only: `GET` the URL, wait for `endpoint`.
    LegacySse,
}

/// Options of a [`Client`](crate::Client): transport, identity, handler, limits.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    pub(crate) http: HttpOptions,
    pub(crate) era: EraChoice,
    pub(crate) session_version: ProtocolVersion,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) capabilities: RawJson,
    pub(crate) handler: Arc<dyn ClientHandler>,
    pub(crate) request_timeout: Duration,
    pub(crate) discovery_timeout: Duration,
    pub(crate) max_response_body_bytes: usize,
    pub(crate) max_sse_event_bytes: usize,
    pub(crate) max_queued_events: usize,
    pub(crate) max_reconnects: u32,
    pub(crate) headers: HeaderMap,
    pub(crate) legacy_fallback: bool,
    pub(crate) background_stream: bool,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("http", &self.http)
            .field("era", &self.era)
            .field("session_version", &self.session_version)
            .field("name", &self.name)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            http: HttpOptions::default(),
            era: EraChoice::Auto,
            session_version: ProtocolVersion::LATEST_SESSION_ERA,
            name: "mcpx-client".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: crate::handler::empty_object(),
            handler: Arc::new(NoHandler),
            request_timeout: limits::DEFAULT_REQUEST_TIMEOUT,
            discovery_timeout: limits::DEFAULT_DISCOVERY_TIMEOUT,
            max_response_body_bytes: limits::DEFAULT_MAX_RESPONSE_BODY_BYTES,
            max_sse_event_bytes: limits::DEFAULT_MAX_SSE_EVENT_BYTES,
            max_queued_events: limits::DEFAULT_MAX_QUEUED_EVENTS,
            max_reconnects: limits::DEFAULT_MAX_RECONNECTS,
            headers: HeaderMap::new(),
            legacy_fallback: true,
            background_stream: false,
        }
    }
}

impl ClientOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Era and transport selection (default [`EraChoice::Auto`]).
    pub fn era(&mut self, era: EraChoice) -> &mut Self {
        self.era = era;
        self
    }

    /// The version `initialize` asks for (default 2025-11-25, the newest session-era version).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for 2026-07-28 (it has no `initialize`).
    pub fn session_version(&mut self, v: ProtocolVersion) -> Result<&mut Self, Error> {
        if !v.is_session_era() {
            return Err(Error::InvalidArgument(format!(
                "{} has no initialize; use EraChoice::Stateless",
                v.as_str()
            )));
        }
        self.session_version = v;
        Ok(self)
    }

    /// `clientInfo` name and version (default `mcpx-client` and this crate's version).
    pub fn client_info(&mut self, name: &str, version: &str) -> &mut Self {
        self.name = name.into();
        self.version = version.into();
        self
    }

    /// The client capabilities, a JSON object (default `{}`): declare what the
    /// [`handler`](Self::handler) answers, e.g. `{"elicitation":{},"sampling":{}}`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if it is not an object.
    pub fn capabilities(&mut self, caps: RawJson) -> Result<&mut Self, Error> {
        if !caps.is_object() {
            return Err(Error::InvalidArgument(
                "capabilities must be an object".into(),
            ));
        }
        self.capabilities = caps;
        Ok(self)
    }

    /// Answers the server's sampling, elicitation and roots requests (default: refuse all).
    pub fn handler(&mut self, handler: Arc<dyn ClientHandler>) -> &mut Self {
        self.handler = handler;
        self
    }

    /// HTTP version (default [`HttpVersion::Auto`]).
    pub fn http_version(&mut self, v: HttpVersion) -> &mut Self {
        self.http.version = v;
        self
    }

    /// Connection reuse (default [`PoolMode::Shared`]).
    pub fn pool(&mut self, mode: PoolMode) -> &mut Self {
        self.http.pool = mode;
        self
    }

    /// Idle HTTP/1.1 connections kept per origin (default
    /// [`limits::DEFAULT_MAX_IDLE_PER_ORIGIN`]).
    pub fn max_idle_per_origin(&mut self, n: usize) -> &mut Self {
        self.http.max_idle_per_origin = n;
        self
    }

    /// TCP + TLS connect deadline (default [`limits::DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(&mut self, d: Duration) -> &mut Self {
        self.http.connect_timeout = d;
        self
    }

    /// Whole-request deadline (default [`limits::DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(&mut self, d: Duration) -> &mut Self {
        self.request_timeout = d;
        self
    }

    /// Discovery and legacy `endpoint` deadline (default [`limits::DEFAULT_DISCOVERY_TIMEOUT`]).
    pub fn discovery_timeout(&mut self, d: Duration) -> &mut Self {
        self.discovery_timeout = d;
        self
    }

    /// Largest JSON response body (default [`limits::DEFAULT_MAX_RESPONSE_BODY_BYTES`]).
    pub fn max_response_body_bytes(&mut self, n: usize) -> &mut Self {
        self.max_response_body_bytes = n;
        self
    }

    /// Largest SSE event (default [`limits::DEFAULT_MAX_SSE_EVENT_BYTES`]).
    pub fn max_sse_event_bytes(&mut self, n: usize) -> &mut Self {
        self.max_sse_event_bytes = n;
        self
    }

    /// Queued messages per request and on the standalone stream (default
    /// [`limits::DEFAULT_MAX_QUEUED_EVENTS`]).
    pub fn max_queued_events(&mut self, n: usize) -> &mut Self {
        self.max_queued_events = n.max(1);
        self
    }

    /// SSE reconnections in a row without an event, per stream (default
    /// [`limits::DEFAULT_MAX_RECONNECTS`]).
    pub fn max_reconnects(&mut self, n: u32) -> &mut Self {
        self.max_reconnects = n;
        self
    }

    /// A header sent on every request (User-Agent, `Authorization: Bearer ...`).
    pub fn header(&mut self, name: HeaderName, value: HeaderValue) -> &mut Self {
        self.headers.append(name, value);
        self
    }

    /// Whether a failed Streamable HTTP `initialize` (400/404/405) tries the legacy HTTP+SSE
    /// transport (default true).
    pub fn legacy_fallback(&mut self, on: bool) -> &mut Self {
        self.legacy_fallback = on;
        self
    }

    /// Whether a session-era Streamable HTTP session opens the standalone GET stream in the
    /// background right after `initialize` and answers the server requests that arrive on it
    /// with the [`handler`](Self::handler) (what the official SDK clients do; servers send
    /// requests unrelated to a call there). Notifications on it go to
    /// [`ClientHandler::notification`]. Default false: the load
    /// tester opens streams explicitly. [`Session::close`](crate::Session::close) stops it.
    pub fn background_stream(&mut self, on: bool) -> &mut Self {
        self.background_stream = on;
        self
    }

    /// Extra trusted CA certificates, PEM (`--cacert`).
    pub fn ca_pem(&mut self, pem: Vec<u8>) -> &mut Self {
        self.http.tls.ca_pem = Some(pem);
        self
    }

    /// Accept any TLS certificate (`--insecure`). Default false.
    pub fn dangerous_accept_invalid_certs(&mut self, on: bool) -> &mut Self {
        self.http.tls.dangerous_accept_invalid_certs = on;
        self
    }
}
