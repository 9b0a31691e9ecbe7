//! [`Config`]: limits, server identity and security knobs of a [`SessionTable`](crate::SessionTable).

use crate::{Map, Set};
use std::fmt;
use std::time::Duration;

use mcpx_wire::mcp::{ServerCapabilities, method};

use crate::limits;

/// The methods dispatched to the server's handlers by default: every client request of
/// MCP-DIGEST 11 that the core does not answer itself.
pub const DEFAULT_DISPATCH_METHODS: &[&str] = &[
    method::TOOLS_LIST,
    method::TOOLS_CALL,
    method::RESOURCES_LIST,
    method::RESOURCES_TEMPLATES_LIST,
    method::RESOURCES_READ,
    method::RESOURCES_SUBSCRIBE,
    method::RESOURCES_UNSUBSCRIBE,
    method::PROMPTS_LIST,
    method::PROMPTS_GET,
    method::COMPLETION_COMPLETE,
    method::LOGGING_SET_LEVEL,
    method::SUBSCRIPTIONS_LISTEN,
];

/// Configuration of a [`SessionTable`](crate::SessionTable): one `&mut self -> &mut Self`
/// setter per knob, each documenting its default. Values are checked when the table is built
/// ([`SessionTable::new`](crate::SessionTable::new) returns [`ConfigError`]), never by a panic.
///
/// Defaults are safe: `Origin` checked (loopback origins allowed), endpoint `/mcp`, every limit
/// from [`limits`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    pub(crate) max_sessions: usize,
    pub(crate) idle_ttl: Duration,
    pub(crate) max_in_flight_per_session: usize,
    pub(crate) max_streams_per_session: usize,
    pub(crate) max_stateless_in_flight: usize,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_queued_events_per_stream: usize,
    pub(crate) retry_after: Duration,
    pub(crate) path: Option<String>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) allow_loopback_origins: bool,
    pub(crate) any_origin: bool,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) any_host: bool,
    pub(crate) offer_get_stream: bool,
    pub(crate) allow_delete: bool,
    pub(crate) strict_lifecycle: bool,
    pub(crate) strict_version_header: bool,
    pub(crate) server_name: String,
    pub(crate) server_version: String,
    pub(crate) server_title: Option<String>,
    pub(crate) instructions: Option<String>,
    pub(crate) capabilities: String,
    pub(crate) discover_ttl: Duration,
    pub(crate) dispatch_methods: Set<String>,
    pub(crate) stateless_era: bool,
    pub(crate) tool_header_params: Map<String, Vec<HeaderParam>>,
}

/// One `x-mcp-header` mapping of a tool: header `Mcp-Param-{header}` mirrors argument `argument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderParam {
    /// `mcp-param-{name}`, lowercase (header names are case-insensitive).
    pub(crate) header: String,
    pub(crate) argument: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_sessions: limits::DEFAULT_MAX_SESSIONS,
            idle_ttl: limits::DEFAULT_IDLE_TTL,
            max_in_flight_per_session: limits::DEFAULT_MAX_IN_FLIGHT_PER_SESSION,
            max_streams_per_session: limits::DEFAULT_MAX_STREAMS_PER_SESSION,
            max_stateless_in_flight: limits::DEFAULT_MAX_STATELESS_IN_FLIGHT,
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: limits::DEFAULT_MAX_HEADER_BYTES,
            max_queued_events_per_stream: limits::DEFAULT_MAX_QUEUED_EVENTS_PER_STREAM,
            retry_after: limits::DEFAULT_RETRY_AFTER,
            path: Some("/mcp".to_owned()),
            allowed_origins: Vec::new(),
            allow_loopback_origins: true,
            any_origin: false,
            allowed_hosts: Vec::new(),
            any_host: false,
            offer_get_stream: true,
            allow_delete: true,
            strict_lifecycle: false,
            strict_version_header: false,
            server_name: "mcpx".to_owned(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            server_title: None,
            instructions: None,
            capabilities: "{}".to_owned(),
            discover_ttl: limits::DEFAULT_DISCOVER_TTL,
            dispatch_methods: DEFAULT_DISPATCH_METHODS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            tool_header_params: Map::default(),
            stateless_era: true,
        }
    }
}

impl Config {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions held at once. Default [`limits::DEFAULT_MAX_SESSIONS`]; must be > 0.
    pub fn max_sessions(&mut self, n: usize) -> &mut Self {
        self.max_sessions = n;
        self
    }

    /// Idle time after which a session expires. Default [`limits::DEFAULT_IDLE_TTL`]; > 0.
    pub fn idle_ttl(&mut self, ttl: Duration) -> &mut Self {
        self.idle_ttl = ttl;
        self
    }

    /// Requests in flight per session and direction. Default
    /// [`limits::DEFAULT_MAX_IN_FLIGHT_PER_SESSION`]; > 0.
    pub fn max_in_flight_per_session(&mut self, n: usize) -> &mut Self {
        self.max_in_flight_per_session = n;
        self
    }

    /// Open streams per session. Default [`limits::DEFAULT_MAX_STREAMS_PER_SESSION`]; > 0.
    pub fn max_streams_per_session(&mut self, n: usize) -> &mut Self {
        self.max_streams_per_session = n;
        self
    }

    /// Stateless-era requests in flight across the table. Default
    /// [`limits::DEFAULT_MAX_STATELESS_IN_FLIGHT`]; > 0.
    pub fn max_stateless_in_flight(&mut self, n: usize) -> &mut Self {
        self.max_stateless_in_flight = n;
        self
    }

    /// Bytes of one request body. Default [`limits::DEFAULT_MAX_BODY_BYTES`]; > 0.
    pub fn max_body_bytes(&mut self, n: usize) -> &mut Self {
        self.max_body_bytes = n;
        self
    }

    /// Bytes of all request headers. Default [`limits::DEFAULT_MAX_HEADER_BYTES`]; > 0.
    pub fn max_header_bytes(&mut self, n: usize) -> &mut Self {
        self.max_header_bytes = n;
        self
    }

    /// Events queued per stream, enforced by the driver (read it back with
    /// [`Config::queued_events_limit`]). Default [`limits::DEFAULT_MAX_QUEUED_EVENTS_PER_STREAM`]; > 0.
    pub fn max_queued_events_per_stream(&mut self, n: usize) -> &mut Self {
        self.max_queued_events_per_stream = n;
        self
    }

    /// The `Retry-After` of 503 and 429 refusals. Default [`limits::DEFAULT_RETRY_AFTER`].
    pub fn retry_after(&mut self, after: Duration) -> &mut Self {
        self.retry_after = after;
        self
    }

    /// The endpoint path; requests elsewhere get 404. Default `/mcp`.
    pub fn path(&mut self, path: &str) -> &mut Self {
        self.path = Some(path.to_owned());
        self
    }

    /// Accept any path (when the embedder already routed the request to the MCP endpoint).
    pub fn any_path(&mut self) -> &mut Self {
        self.path = None;
        self
    }

    /// Allows one more browser origin, e.g. `https://app.example.com` (scheme, host and port;
    /// compared case-insensitively). Default: none besides loopback.
    pub fn allow_origin(&mut self, origin: &str) -> &mut Self {
        self.allowed_origins.push(normalize_origin(origin));
        self
    }

    /// Whether `http(s)://localhost`, `127.0.0.1` and `[::1]` on any port are allowed origins.
    /// Default `true` (the server's own loopback origins).
    pub fn allow_loopback_origins(&mut self, allow: bool) -> &mut Self {
        self.allow_loopback_origins = allow;
        self
    }

    /// Turns the `Origin` check off: any origin is served. This removes the DNS-rebinding
    /// defence of MCP-DIGEST 10.1. Default off.
    pub fn dangerous_allow_any_origin(&mut self, allow: bool) -> &mut Self {
        self.any_origin = allow;
        self
    }

    /// Allows a `Host` (`name` or `name:port`, case-insensitive) besides the loopback ones
    /// (`localhost`, `127.0.0.1`, `[::1]`, any port), which are always allowed. Needed when the
    /// server is reached under a public name, e.g. behind a load balancer.
    pub fn allow_host(&mut self, host: &str) -> &mut Self {
        self.allowed_hosts.push(host.trim().to_ascii_lowercase());
        self
    }

    /// Turns the `Host` check off: any host is served. This removes the second DNS-rebinding
    /// defence (a page on a rebound name sends its own `Host`, MCP-DIGEST 10.1). Default off.
    pub fn dangerous_allow_any_host(&mut self, allow: bool) -> &mut Self {
        self.any_host = allow;
        self
    }

    /// Whether a session-era GET opens a standalone SSE stream (else 405). Default `true`.
    pub fn offer_get_stream(&mut self, offer: bool) -> &mut Self {
        self.offer_get_stream = offer;
        self
    }

    /// Whether DELETE ends a session (else 405). Default `true`.
    pub fn allow_delete(&mut self, allow: bool) -> &mut Self {
        self.allow_delete = allow;
        self
    }

    /// Refuse requests other than `ping` before `notifications/initialized` (400, -32600).
    /// Default `false`: over HTTP the notification and the first request travel in separate
    /// POSTs that may be served out of order, so a strict server would fail real clients.
    pub fn strict_lifecycle(&mut self, strict: bool) -> &mut Self {
        self.strict_lifecycle = strict;
        self
    }

    /// Whether a supported `MCP-Protocol-Version` header that differs from the session's
    /// negotiated version is refused (400 / -32600). Default `false`: such a request is served
    /// under the negotiated version, because the official conformance suite
    /// (`server-sse-multiple-streams`) sends `2025-03-26` on a `2025-11-25` session and expects
    /// 200, and the official TypeScript SDK server accepts it. An unsupported header is always
    /// 400.
    pub fn strict_version_header(&mut self, strict: bool) -> &mut Self {
        self.strict_version_header = strict;
        self
    }

    /// `serverInfo.name` and `serverInfo.version`. Default `mcpx` and this crate's version.
    pub fn server_info(&mut self, name: &str, version: &str) -> &mut Self {
        self.server_name = name.to_owned();
        self.server_version = version.to_owned();
        self
    }

    /// `serverInfo.title` (sent from 2025-06-18 on). Default none.
    pub fn server_title(&mut self, title: &str) -> &mut Self {
        self.server_title = Some(title.to_owned());
        self
    }

    /// `instructions` for the model (sent from 2025-03-26 on). Default none.
    pub fn instructions(&mut self, text: &str) -> &mut Self {
        self.instructions = Some(text.to_owned());
        self
    }

    /// The `ServerCapabilities` JSON object sent in `InitializeResult` and `DiscoverResult`,
    /// e.g. `{"tools":{"listChanged":true}}`. Default `{}`; must be a capabilities object.
    pub fn capabilities(&mut self, json: &str) -> &mut Self {
        self.capabilities = json.to_owned();
        self
    }

    /// `ttlMs` of the `DiscoverResult`. Default [`limits::DEFAULT_DISCOVER_TTL`].
    pub fn discover_ttl(&mut self, ttl: Duration) -> &mut Self {
        self.discover_ttl = ttl;
        self
    }

    /// Serve the 2026-07-28 stateless era (default `true`). Off, the server is a session-era
    /// server only, as every server before it: `MCP-Protocol-Version: 2026-07-28` is an
    /// unsupported version (400), a request carrying the stateless `_meta` without a session
    /// is a request without a session (400), and `server/discover` is not answered, so clients
    /// fall back to `initialize` (the load tester's "legacy target").
    pub fn stateless_era(&mut self, on: bool) -> &mut Self {
        self.stateless_era = on;
        self
    }

    /// The request methods dispatched to the server; others get -32601 (404 in the stateless
    /// era). Default [`DEFAULT_DISPATCH_METHODS`].
    pub fn dispatch_methods(&mut self, methods: &[&str]) -> &mut Self {
        self.dispatch_methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// Declares that tool `tool` marks argument `argument` with `"x-mcp-header": header`, so a
    /// stateless `tools/call` must carry `Mcp-Param-{header}` equal to it (MCP-DIGEST 3.8).
    /// Default: no tool has any.
    pub fn tool_header_param(&mut self, tool: &str, header: &str, argument: &str) -> &mut Self {
        self.tool_header_params
            .entry(tool.to_owned())
            .or_default()
            .push(HeaderParam {
                header: format!("mcp-param-{}", header.to_ascii_lowercase()),
                argument: argument.to_owned(),
            });
        self
    }

    /// The per-stream event queue bound the driver must enforce.
    pub fn queued_events_limit(&self) -> usize {
        self.max_queued_events_per_stream
    }

    /// The endpoint path ([`path`](Self::path)); `None` after [`any_path`](Self::any_path).
    /// Transports that are not Streamable HTTP (stdio, legacy HTTP+SSE) address their
    /// requests to it.
    pub fn endpoint_path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let nonzero = [
            ("max_sessions", self.max_sessions),
            ("max_in_flight_per_session", self.max_in_flight_per_session),
            ("max_streams_per_session", self.max_streams_per_session),
            ("max_stateless_in_flight", self.max_stateless_in_flight),
            ("max_body_bytes", self.max_body_bytes),
            ("max_header_bytes", self.max_header_bytes),
            (
                "max_queued_events_per_stream",
                self.max_queued_events_per_stream,
            ),
        ];
        for (knob, n) in nonzero {
            if n == 0 {
                return Err(ConfigError::Zero { knob });
            }
        }
        if self.idle_ttl.is_zero() {
            return Err(ConfigError::Zero { knob: "idle_ttl" });
        }
        let json = self.capabilities.trim_start();
        if !json.starts_with('{')
            || serde_json::from_str::<ServerCapabilities<'_>>(&self.capabilities).is_err()
        {
            return Err(ConfigError::Capabilities);
        }
        if let Some(p) = &self.path
            && !p.starts_with('/')
        {
            return Err(ConfigError::Path);
        }
        Ok(())
    }

    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let origin = normalize_origin(origin);
        if self.allow_loopback_origins && is_loopback_origin(&origin) {
            return true;
        }
        self.allowed_origins.contains(&origin)
    }
}

impl Config {
    /// Whether a `Host` header value may be served: loopback names, the allow-list (with or
    /// without the port), or anything when the check is off.
    pub(crate) fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        // On every request: no allocation, case-insensitive comparisons in place.
        let host = host.trim();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(n, _)| n),
        };
        if name.eq_ignore_ascii_case("localhost") || name == "::1" || is_loopback_v4(name) {
            return true;
        }
        self.allowed_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
    }
}

/// `127.x.y.z[:port]`: the whole 127/8 block is loopback (tests use other 127 addresses for more
/// source ports).
fn is_loopback_v4(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
    // The exact address nearly every local client sends, without a parse (this runs on every
    // request); anything else that could be 127/8 is parsed.
    name == "127.0.0.1"
        || (name.starts_with("127.")
            && name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, after)) => (h, after),
            None => return false,
        },
        None => match rest.find(':') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        },
    };
    let port_ok = match port.strip_prefix(':') {
        Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    port_ok && matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// A [`Config`] value the table refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit that must be positive is zero. Set it to at least 1.
    Zero {
        /// The setter's name.
        knob: &'static str,
    },
    /// [`Config::capabilities`] is not a JSON `ServerCapabilities` object.
    Capabilities,
    /// [`Config::path`] does not start with `/`.
    Path,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero { knob } => write!(f, "config: {knob} must be greater than zero"),
            Self::Capabilities => f.write_str("config: capabilities must be a JSON object"),
            Self::Path => f.write_str("config: path must start with '/'"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        let c = Config::new();
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "https://127.0.0.1:8443",
            "http://[::1]:80",
            "HTTP://LOCALHOST:1",
        ] {
            assert!(c.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "http://localhost:80x",
            "null",
            "file://localhost",
        ] {
            assert!(!c.origin_allowed(bad), "{bad}");
        }
        let mut c = Config::new();
        c.allow_origin("https://App.example.com/")
            .allow_loopback_origins(false);
        assert!(c.origin_allowed("https://app.example.com"));
        assert!(!c.origin_allowed("http://localhost"));
        c.dangerous_allow_any_origin(true);
        assert!(c.origin_allowed("http://evil.example"));
    }

    #[test]
    fn validation() {
        assert_eq!(Config::new().validate(), Ok(()));
        assert_eq!(
            Config::new().max_sessions(0).validate(),
            Err(ConfigError::Zero {
                knob: "max_sessions"
            })
        );
        assert_eq!(
            Config::new().capabilities("[]").validate(),
            Err(ConfigError::Capabilities)
        );
        assert_eq!(Config::new().path("mcp").validate(), Err(ConfigError::Path));
    }
}
