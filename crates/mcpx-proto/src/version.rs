//! Protocol versions and their rules, as one table of data (MCP-DIGEST 13.1).

use std::fmt;

use mcpx_wire::{ErrorCode, MissingId};

/// A protocol version mcpx speaks.
///
/// Ordered by date, so `v >= ProtocolVersion::V2025_06_18` reads as "2025-06-18 or later". What
/// each version switches on is in its [`VersionRules`] ([`ProtocolVersion::rules`]); code should
/// ask the rules, not compare versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// `2024-11-05`: the first published version (session era).
    V2024_11_05,
    /// `2025-03-26`: Streamable HTTP, sessions, JSON-RPC batches (session era).
    V2025_03_26,
    /// `2025-06-18`: batches removed, `MCP-Protocol-Version` header (session era).
    V2025_06_18,
    /// `2025-11-25`: SSE polling with a priming event, 403 on a bad `Origin` (session era).
    V2025_11_25,
    /// `2026-07-28`: the stateless era: no `initialize`, no sessions, `_meta` on every request.
    V2026_07_28,
}

/// Which lifecycle a version uses (MCP-DIGEST 0, 2.1, 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Era {
    /// 2024-11-05 .. 2025-11-25: `initialize` opens a session that fixes version and
    /// capabilities; `Mcp-Session-Id` over HTTP.
    Session,
    /// 2026-07-28: every request carries its version and client capabilities in
    /// `params._meta`; no handshake, no session.
    Stateless,
}

/// The HTTP transport a version defines (MCP-DIGEST 13.1 "HTTP transport").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpTransport {
    /// The deprecated two-endpoint HTTP+SSE transport (2024-11-05). mcpx still serves a
    /// 2024-11-05 session over Streamable HTTP when a client negotiates it there.
    HttpSse,
    /// Streamable HTTP: POST, GET and DELETE on one endpoint.
    Streamable,
    /// Streamable HTTP, POST only (2026-07-28).
    StreamablePostOnly,
}

/// When the `MCP-Protocol-Version` request header is required (MCP-DIGEST 3.6, 3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VersionHeader {
    /// Not defined by this version (a missing header is normal).
    Undefined,
    /// Only on authorization discovery requests (2025-03-26); absent on MCP requests.
    AuthDiscoveryOnly,
    /// Required on every request after `initialize` (2025-06-18, 2025-11-25). A missing header
    /// is read as the session's negotiated version (issue 4).
    AfterInitialize,
    /// Required on every POST and equal to `_meta["io.modelcontextprotocol/protocolVersion"]`
    /// (2026-07-28; otherwise 400 with -32020).
    EveryPostEqualsMeta,
}

/// What the server may do with SSE event ids (MCP-DIGEST 3.4, 3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resumability {
    /// No event ids, no `Last-Event-ID` (2024-11-05's Streamable use and 2026-07-28).
    None,
    /// Event ids and resumption with `Last-Event-ID` are optional.
    Optional,
    /// Optional, plus the priming event and `retry` polling (2025-11-25).
    OptionalWithPolling,
}

/// How `structuredContent` in a tool result is typed (MCP-DIGEST 13.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StructuredContent {
    /// Not defined by this version.
    Undefined,
    /// A JSON object.
    Object,
    /// Any JSON value (2026-07-28).
    Any,
}

/// How a client controls logging (MCP-DIGEST 6.4, 13.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoggingControl {
    /// The `logging/setLevel` request, for the whole session.
    SetLevel,
    /// `_meta["io.modelcontextprotocol/logLevel"]` on each request (2026-07-28).
    PerRequestMeta,
}

/// How a client subscribes to resource updates (MCP-DIGEST 7.5, 13.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceSubscriptions {
    /// `resources/subscribe` and `resources/unsubscribe`, notifications on the GET stream.
    SubscribeRpc,
    /// `subscriptions/listen`, a long-lived SSE response (2026-07-28).
    Listen,
}

/// Everything mcpx switches on the protocol version: one row of [`RULES`] per version.
///
/// Every row of MCP-DIGEST 13.1 is a field here; a few transport facts the digest states
/// elsewhere are added (error id rule, priming event, `instructions`, `Implementation` fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionRules {
    /// The version this row describes.
    pub version: ProtocolVersion,
    /// Handshake and state model ("Handshake" row).
    pub era: Era,
    /// The HTTP transport this version defines ("HTTP transport" row).
    pub http_transport: HttpTransport,
    /// JSON-RPC batches must be received ("Batches" row; only 2025-03-26). Everywhere else an
    /// array body is -32600.
    pub batches: bool,
    /// `Mcp-Session-Id` is used ("Session header" row; the 2026 server ignores it).
    pub session_header: bool,
    /// When `MCP-Protocol-Version` is required ("`MCP-Protocol-Version` header" row).
    pub version_header: VersionHeader,
    /// `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` must match the body (2026-07-28).
    pub method_headers: bool,
    /// A standalone GET SSE stream may be offered ("GET stream" row; otherwise 405).
    pub get_stream: bool,
    /// SSE event ids and `Last-Event-ID` ("Resumability" row).
    pub resumability: Resumability,
    /// An SSE response starts with a priming event (an id and empty data; 2025-11-25).
    pub priming_event: bool,
    /// Closing an HTTP response stream cancels its request ("Disconnect = cancel" row).
    pub disconnect_cancels: bool,
    /// The server may send JSON-RPC requests to the client ("Server -> client requests" row;
    /// 2026-07-28 uses `input_required` results instead).
    pub server_requests: bool,
    /// `ping` exists ("`ping`" row).
    pub ping: bool,
    /// The spec names 403 for a present, invalid `Origin` ("Bad `Origin` status" row). mcpx
    /// answers 403 in every version; earlier versions only say "validate".
    pub origin_403: bool,
    /// The error code for an unknown resource ("Resource not found" row).
    pub resource_not_found: ErrorCode,
    /// How `structuredContent` is typed ("`structuredContent`" row).
    pub structured_content: StructuredContent,
    /// Every result carries `resultType` ("`resultType` in results" row).
    pub result_type: bool,
    /// Cacheable results carry `ttlMs` and `cacheScope` ("Cache hints" row).
    pub cache_hints: bool,
    /// How logging is controlled ("Logging control" row).
    pub logging: LoggingControl,
    /// How resource updates are subscribed to ("Resource subscriptions" row).
    pub resource_subscriptions: ResourceSubscriptions,
    /// An error whose request id cannot be recovered: `"id": null` before 2025-11-25, id
    /// omitted from 2025-11-25 on (the schema makes it optional; MCP-DIGEST 1.1, issue 4).
    pub missing_id: MissingId,
    /// `InitializeResult.instructions` / `DiscoverResult.instructions` exist (2025-03-26+).
    pub instructions: bool,
    /// `Implementation.title` exists (2025-06-18+).
    pub implementation_title: bool,
    /// `Implementation.description`, `icons`, `websiteUrl` exist (2025-11-25+).
    pub implementation_details: bool,
}

const fn session_rules(version: ProtocolVersion) -> VersionRules {
    VersionRules {
        version,
        era: Era::Session,
        http_transport: HttpTransport::Streamable,
        batches: false,
        session_header: true,
        version_header: VersionHeader::AfterInitialize,
        method_headers: false,
        get_stream: true,
        resumability: Resumability::Optional,
        priming_event: false,
        disconnect_cancels: false,
        server_requests: true,
        ping: true,
        origin_403: false,
        resource_not_found: ErrorCode::RESOURCE_NOT_FOUND,
        structured_content: StructuredContent::Object,
        result_type: false,
        cache_hints: false,
        logging: LoggingControl::SetLevel,
        resource_subscriptions: ResourceSubscriptions::SubscribeRpc,
        missing_id: MissingId::Null,
        instructions: true,
        implementation_title: true,
        implementation_details: false,
    }
}

/// The version gate table (MCP-DIGEST 13.1), one row per [`ProtocolVersion`], oldest first.
pub const RULES: [VersionRules; 5] = [
    VersionRules {
        http_transport: HttpTransport::HttpSse,
        session_header: false,
        version_header: VersionHeader::Undefined,
        resumability: Resumability::None,
        structured_content: StructuredContent::Undefined,
        instructions: false,
        implementation_title: false,
        ..session_rules(ProtocolVersion::V2024_11_05)
    },
    VersionRules {
        batches: true,
        version_header: VersionHeader::AuthDiscoveryOnly,
        structured_content: StructuredContent::Undefined,
        implementation_title: false,
        ..session_rules(ProtocolVersion::V2025_03_26)
    },
    session_rules(ProtocolVersion::V2025_06_18),
    VersionRules {
        resumability: Resumability::OptionalWithPolling,
        priming_event: true,
        origin_403: true,
        missing_id: MissingId::Omit,
        implementation_details: true,
        ..session_rules(ProtocolVersion::V2025_11_25)
    },
    VersionRules {
        version: ProtocolVersion::V2026_07_28,
        era: Era::Stateless,
        http_transport: HttpTransport::StreamablePostOnly,
        batches: false,
        session_header: false,
        version_header: VersionHeader::EveryPostEqualsMeta,
        method_headers: true,
        get_stream: false,
        resumability: Resumability::None,
        priming_event: false,
        disconnect_cancels: true,
        server_requests: false,
        ping: false,
        origin_403: true,
        resource_not_found: ErrorCode::INVALID_PARAMS,
        structured_content: StructuredContent::Any,
        result_type: true,
        cache_hints: true,
        logging: LoggingControl::PerRequestMeta,
        resource_subscriptions: ResourceSubscriptions::Listen,
        missing_id: MissingId::Omit,
        instructions: true,
        implementation_title: true,
        implementation_details: true,
    },
];

impl ProtocolVersion {
    /// Every supported version, newest first (the order `supported` lists use).
    pub const SUPPORTED: [Self; 5] = [
        Self::V2026_07_28,
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
        Self::V2024_11_05,
    ];

    /// The newest version: 2026-07-28.
    pub const LATEST: Self = Self::V2026_07_28;

    /// The newest session-era version, the counter-offer to an `initialize` asking for a
    /// version mcpx does not serve in the session era: 2025-11-25.
    pub const LATEST_SESSION_ERA: Self = Self::V2025_11_25;

    /// The version assumed for an HTTP request with no `MCP-Protocol-Version` header and no
    /// session to ask (MCP-DIGEST 3.6): 2025-03-26.
    pub const HEADERLESS_DEFAULT: Self = Self::V2025_03_26;

    /// Parses a version string exactly (`"2025-06-18"`). Unknown strings give `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "2024-11-05" => Self::V2024_11_05,
            "2025-03-26" => Self::V2025_03_26,
            "2025-06-18" => Self::V2025_06_18,
            "2025-11-25" => Self::V2025_11_25,
            "2026-07-28" => Self::V2026_07_28,
            _ => return None,
        })
    }

    /// The wire string, e.g. `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// This version's row of [`RULES`].
    pub const fn rules(self) -> &'static VersionRules {
        match self {
            Self::V2024_11_05 => &RULES[0],
            Self::V2025_03_26 => &RULES[1],
            Self::V2025_06_18 => &RULES[2],
            Self::V2025_11_25 => &RULES[3],
            Self::V2026_07_28 => &RULES[4],
        }
    }

    /// The version's era.
    pub const fn era(self) -> Era {
        self.rules().era
    }

    /// Whether this version uses `initialize` and sessions.
    pub const fn is_session_era(self) -> bool {
        matches!(self.rules().era, Era::Session)
    }

    /// The answer to `initialize` asking for `requested` (MCP-DIGEST 2.1): the requested
    /// version when it is a supported session-era version, else [`Self::LATEST_SESSION_ERA`]
    /// (the server counter-offers; the client disconnects if it cannot use it).
    pub fn negotiate(requested: &str) -> Self {
        match Self::parse(requested) {
            Some(v) if v.is_session_era() => v,
            _ => Self::LATEST_SESSION_ERA,
        }
    }

    /// The wire strings of [`Self::SUPPORTED`], newest first.
    pub fn supported_strs() -> [&'static str; 5] {
        Self::SUPPORTED.map(Self::as_str)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_in_version_order() {
        for (row, v) in RULES.iter().zip(ProtocolVersion::SUPPORTED.iter().rev()) {
            assert_eq!(row.version, *v);
            assert_eq!(v.rules().version, *v);
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(*v));
        }
    }

    #[test]
    fn digest_13_1_rows() {
        use ProtocolVersion as V;
        let batches: Vec<_> = RULES
            .iter()
            .filter(|r| r.batches)
            .map(|r| r.version)
            .collect();
        assert_eq!(batches, [V::V2025_03_26]);
        assert_eq!(V::V2025_11_25.rules().missing_id, MissingId::Omit);
        assert_eq!(V::V2025_06_18.rules().missing_id, MissingId::Null);
        assert!(V::V2025_11_25.rules().priming_event);
        assert!(!V::V2025_06_18.rules().priming_event);
        assert!(!V::V2026_07_28.rules().get_stream);
        assert!(V::V2026_07_28.rules().disconnect_cancels);
        assert!(V::V2026_07_28.rules().method_headers);
        assert_eq!(
            V::V2026_07_28.rules().resource_not_found,
            ErrorCode::INVALID_PARAMS
        );
        assert_eq!(
            V::V2025_06_18.rules().version_header,
            VersionHeader::AfterInitialize
        );
        assert_eq!(
            V::V2024_11_05.rules().http_transport,
            HttpTransport::HttpSse
        );
        assert!(!V::V2024_11_05.rules().instructions);
        for v in V::SUPPORTED {
            assert_eq!(v.rules().ping, v.is_session_era());
            assert_eq!(v.rules().server_requests, v.is_session_era());
        }
    }

    #[test]
    fn negotiation() {
        use ProtocolVersion as V;
        for v in V::SUPPORTED {
            let expect = if v.is_session_era() {
                v
            } else {
                V::LATEST_SESSION_ERA
            };
            assert_eq!(V::negotiate(v.as_str()), expect);
        }
        assert_eq!(V::negotiate("1900-01-01"), V::V2025_11_25);
        assert_eq!(V::negotiate(""), V::V2025_11_25);
        assert_eq!(V::parse("2025-06-18 "), None);
    }
}
