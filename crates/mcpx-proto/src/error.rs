//! Protocol errors: one variant per rule, each mapped to exactly one HTTP status and one
//! JSON-RPC code, and the [`Rejection`] a server turns into an HTTP response.

use std::fmt;
use std::time::Duration;

use bytes::BytesMut;
use http::StatusCode;
use mcpx_wire::{DecodeErrorKind, ErrorCode, MissingId, RequestId, encode_error};
use serde::Serialize;

use crate::ProtocolVersion;

/// A broken protocol rule. [`ProtocolError::status_and_code`] maps every variant, in one
/// `match`, to one HTTP status and one JSON-RPC code (MCP-DIGEST 13.2, 3.8).
///
/// Each variant's doc says what the client must fix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// 404 / -32600: no MCP endpoint at this path. Use the configured endpoint path.
    NotFound,
    /// 431 / -32600: the request headers are larger than the limit. Send fewer or shorter
    /// headers.
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 403 / -32600: a present `Origin` header is not allowed (DNS-rebinding defence,
    /// MCP-DIGEST 10.1). Browser clients must be served from an allowed origin.
    BadOrigin,
    /// 403 / -32600: the `Host` header names a host the server does not serve (DNS-rebinding
    /// protection, MCP-DIGEST 10.1). Allow it with `Config::allow_host`.
    BadHost,
    /// 405 / -32600: an HTTP method other than POST, GET or DELETE (or DELETE where the server
    /// does not let clients end sessions).
    MethodNotAllowed,
    /// 405 / -32600: GET where no standalone SSE stream is offered (2026-07-28, or the server
    /// disabled it). Use POST.
    GetStreamNotOffered,
    /// 406 / -32600: `Accept` does not list `application/json` and `text/event-stream` (POST)
    /// or `text/event-stream` (GET).
    NotAcceptable,
    /// 415 / -32600: a POST body whose `Content-Type` is not `application/json`.
    UnsupportedMediaType,
    /// 413 / -32600: the body (or its declared `Content-Length`) is over the limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 400 / -32600: a header that must appear once appears several times.
    DuplicateHeader {
        /// The header name, lowercase.
        name: &'static str,
    },
    /// 400 / -32600: a session-era request other than `initialize` without `Mcp-Session-Id`
    /// (MCP-DIGEST 3.5). Send `initialize` first, then the id it returns on every request.
    MissingSessionId,
    /// 404 / -32600: `Mcp-Session-Id` names no live session (never issued, expired, evicted
    /// or deleted). Start over with `initialize` without a session id (MCP-DIGEST 3.5).
    UnknownSession,
    /// 400 / -32600: `MCP-Protocol-Version` names no supported version (MCP-DIGEST 3.6).
    UnsupportedVersionHeader,
    /// 400 / -32600: `MCP-Protocol-Version` contradicts the version the session negotiated
    /// (only with [`Config::strict_version_header`](crate::Config::strict_version_header)).
    VersionHeaderMismatch {
        /// The session's version.
        negotiated: ProtocolVersion,
    },
    /// 400 / -32700 or -32600: the body is not JSON (-32700) or not a JSON-RPC message
    /// (-32600), as `mcpx_wire` decoded it.
    Decode {
        /// What the codec found.
        kind: DecodeErrorKind,
    },
    /// 400 / -32600: a JSON-RPC batch where the version does not allow one (every version but
    /// 2025-03-26), or `initialize` inside a batch.
    BatchNotAllowed {
        /// The version in force.
        version: ProtocolVersion,
    },
    /// 400 / -32600: a POST carrying a JSON-RPC response where none is expected (stateless
    /// era: clients never send responses).
    UnexpectedResponse,
    /// 400 / -32600: `initialize` on a session that already has one.
    AlreadyInitialized,
    /// 400 / -32600: a request other than `ping` before `notifications/initialized` (only
    /// with [`Config::strict_lifecycle`](crate::Config::strict_lifecycle)).
    NotInitialized,
    /// 400 / -32600: a request whose id is already in flight on this session (MCP-DIGEST 1.1).
    /// The first request is untouched. Use a fresh id per request.
    DuplicateRequestId,
    /// 429 / -32600: the session already has the maximum of requests in flight. Wait for
    /// answers (see `Retry-After`).
    TooManyInFlight {
        /// The limit.
        limit: usize,
    },
    /// 429 / -32600: the session already has the maximum of open streams.
    TooManyStreams {
        /// The limit.
        limit: usize,
    },
    /// 409 / -32600: a second standalone GET stream on a session whose GET stream is connected
    /// (resume with `Last-Event-ID` instead).
    StreamConflict,
    /// 400 / -32600: `Last-Event-ID` names no stream of this session that can be resumed.
    BadLastEventId,
    /// 503 / -32603: every session slot is busy (or no randomness for a session id, or too
    /// many stateless requests in flight). Retry after `Retry-After`.
    Overloaded,
    /// 400 / -32020: an `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` or `Mcp-Param-*`
    /// header is missing, malformed or different from the body (2026-07-28, MCP-DIGEST 3.8).
    HeaderMismatch {
        /// The header at fault, lowercase (`mcp-param-*` as `mcp-param`).
        header: &'static str,
    },
    /// 400 / -32602: a stateless request without a required `_meta` key (MCP-DIGEST 2.3).
    MissingMeta {
        /// The missing key.
        key: &'static str,
    },
    /// 400 / -32022: a stateless request declaring a version mcpx does not serve statelessly.
    /// `data` lists the supported versions; retry with one of them.
    UnsupportedProtocolVersion {
        /// The version the request declared.
        requested: String,
    },
    /// 400 / -32021: serving the request needs a client capability it did not declare
    /// (raised by the server's handlers, 2026-07-28).
    MissingClientCapability,
    /// 404 / -32601: a stateless request for a method the server does not implement
    /// (MCP-DIGEST 3.8: the JSON-RPC body tells it from a legacy 404).
    MethodNotFound,
}

impl ProtocolError {
    /// The HTTP status and JSON-RPC code of this error: the one place they are decided.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ErrorCode as C;
        use StatusCode as S;
        match self {
            Self::NotFound => (S::NOT_FOUND, C::INVALID_REQUEST),
            Self::HeadersTooLarge { .. } => {
                (S::REQUEST_HEADER_FIELDS_TOO_LARGE, C::INVALID_REQUEST)
            }
            Self::BadOrigin => (S::FORBIDDEN, C::INVALID_REQUEST),
            Self::BadHost => (S::FORBIDDEN, C::INVALID_REQUEST),
            Self::MethodNotAllowed | Self::GetStreamNotOffered => {
                (S::METHOD_NOT_ALLOWED, C::INVALID_REQUEST)
            }
            Self::NotAcceptable => (S::NOT_ACCEPTABLE, C::INVALID_REQUEST),
            Self::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, C::INVALID_REQUEST),
            Self::BodyTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, C::INVALID_REQUEST),
            Self::UnknownSession => (S::NOT_FOUND, C::INVALID_REQUEST),
            Self::DuplicateHeader { .. }
            | Self::MissingSessionId
            | Self::UnsupportedVersionHeader
            | Self::VersionHeaderMismatch { .. }
            | Self::BatchNotAllowed { .. }
            | Self::UnexpectedResponse
            | Self::AlreadyInitialized
            | Self::NotInitialized
            | Self::DuplicateRequestId
            | Self::BadLastEventId => (S::BAD_REQUEST, C::INVALID_REQUEST),
            Self::Decode { kind } => (S::BAD_REQUEST, kind.code()),
            Self::TooManyInFlight { .. } | Self::TooManyStreams { .. } => {
                (S::TOO_MANY_REQUESTS, C::INVALID_REQUEST)
            }
            Self::StreamConflict => (S::CONFLICT, C::INVALID_REQUEST),
            Self::Overloaded => (S::SERVICE_UNAVAILABLE, C::INTERNAL_ERROR),
            Self::HeaderMismatch { .. } => (S::BAD_REQUEST, C::HEADER_MISMATCH),
            Self::MissingMeta { .. } => (S::BAD_REQUEST, C::INVALID_PARAMS),
            Self::UnsupportedProtocolVersion { .. } => {
                (S::BAD_REQUEST, C::UNSUPPORTED_PROTOCOL_VERSION)
            }
            Self::MissingClientCapability => {
                (S::BAD_REQUEST, C::MISSING_REQUIRED_CLIENT_CAPABILITY)
            }
            Self::MethodNotFound => (S::NOT_FOUND, C::METHOD_NOT_FOUND),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("No MCP endpoint at this path"),
            Self::HeadersTooLarge { limit } => {
                write!(f, "Request headers are larger than {limit} bytes")
            }
            Self::BadOrigin => f.write_str("Forbidden: Origin not allowed"),
            Self::BadHost => f.write_str("Forbidden: Host not allowed"),
            Self::MethodNotAllowed => f.write_str("Method not allowed"),
            Self::GetStreamNotOffered => f.write_str("Method not allowed: no SSE stream on GET"),
            Self::NotAcceptable => f.write_str(
                "Not Acceptable: Accept must list application/json and text/event-stream",
            ),
            Self::UnsupportedMediaType => {
                f.write_str("Unsupported Media Type: Content-Type must be application/json")
            }
            Self::BodyTooLarge { limit } => write!(f, "Body is larger than {limit} bytes"),
            Self::DuplicateHeader { name } => write!(f, "Header {name} appears more than once"),
            Self::MissingSessionId => f.write_str("Bad Request: Mcp-Session-Id header is required"),
            Self::UnknownSession => f.write_str("Session not found"),
            Self::UnsupportedVersionHeader => {
                f.write_str("Bad Request: unsupported MCP-Protocol-Version")
            }
            Self::VersionHeaderMismatch { negotiated } => write!(
                f,
                "Bad Request: MCP-Protocol-Version does not match the negotiated version {negotiated}"
            ),
            Self::Decode { kind } => write!(f, "{}: {kind}", kind.code()),
            Self::BatchNotAllowed { version } => {
                write!(f, "Invalid Request: batches are not allowed in {version}")
            }
            Self::UnexpectedResponse => f.write_str("Invalid Request: unexpected response"),
            Self::AlreadyInitialized => f.write_str("Invalid Request: session already initialized"),
            Self::NotInitialized => f.write_str("Invalid Request: session not initialized"),
            Self::DuplicateRequestId => {
                f.write_str("Invalid Request: a request with this id is already in flight")
            }
            Self::TooManyInFlight { limit } => {
                write!(
                    f,
                    "Too many requests in flight on this session (limit {limit})"
                )
            }
            Self::TooManyStreams { limit } => {
                write!(f, "Too many open streams on this session (limit {limit})")
            }
            Self::StreamConflict => f.write_str("Conflict: a GET stream is already open"),
            Self::BadLastEventId => f.write_str("Bad Request: Last-Event-ID cannot be resumed"),
            Self::Overloaded => f.write_str("Service unavailable: server busy"),
            Self::HeaderMismatch { header } => {
                write!(
                    f,
                    "Header mismatch: {header} is missing, malformed or differs from the body"
                )
            }
            Self::MissingMeta { key } => write!(f, "Invalid params: _meta is missing {key}"),
            Self::UnsupportedProtocolVersion { .. } => f.write_str("Unsupported protocol version"),
            Self::MissingClientCapability => f.write_str("Missing required client capability"),
            Self::MethodNotFound => f.write_str("Method not found"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A request the core refuses: what the server sends instead of serving it.
///
/// The server answers with [`Rejection::status`], a `Retry-After` header when
/// [`Rejection::retry_after`] is set, and `Content-Type: application/json` with the body
/// [`Rejection::encode_body`] writes. Boxed: one pointer wide, so `Result<Routed, Rejection>`
/// stays small on the hot path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    status: StatusCode,
    code: ErrorCode,
    id: Option<RequestId>,
    retry_after: Option<Duration>,
    error: ProtocolError,
    missing_id: MissingId,
}

#[derive(Serialize)]
struct VersionData<'a> {
    supported: [&'static str; 5],
    requested: &'a str,
}

impl Rejection {
    /// A rejection for `error`, answering under `version`'s rules (`None`: no version known,
    /// read as [`ProtocolVersion::HEADERLESS_DEFAULT`]) about the request `id`, if it is known.
    pub fn new(
        error: ProtocolError,
        version: Option<ProtocolVersion>,
        id: Option<RequestId>,
    ) -> Self {
        let (status, code) = error.status_and_code();
        let version = version.unwrap_or(ProtocolVersion::HEADERLESS_DEFAULT);
        Self(Box::new(Inner {
            status,
            code,
            id,
            retry_after: None,
            error,
            missing_id: version.rules().missing_id,
        }))
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The JSON-RPC error code of the body.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The error message of the body (the [`ProtocolError`]'s `Display`).
    pub fn message(&self) -> String {
        self.0.error.to_string()
    }

    /// The id of the refused request, when it could be read.
    pub fn id(&self) -> Option<&RequestId> {
        self.0.id.as_ref()
    }

    /// How long the client should wait before retrying (503, 429): send as `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The rule that was broken.
    pub fn error(&self) -> &ProtocolError {
        &self.0.error
    }

    /// How an unknown id is written under the version in use
    /// ([`VersionRules::missing_id`](crate::VersionRules)).
    pub fn missing_id(&self) -> MissingId {
        self.0.missing_id
    }

    /// Writes the JSON-RPC error body into `buf`. An unknown id is written per the version's
    /// rule: `"id":null` or omitted. -32022 carries `data: {supported, requested}`.
    pub fn encode_body(&self, buf: &mut BytesMut) {
        let r = &self.0;
        let message = r.error.to_string();
        let result = match &r.error {
            ProtocolError::UnsupportedProtocolVersion { requested } => encode_error(
                buf,
                r.id.as_ref(),
                r.missing_id,
                r.code,
                &message,
                Some(&VersionData {
                    supported: ProtocolVersion::supported_strs(),
                    requested,
                }),
            ),
            _ => encode_error::<()>(buf, r.id.as_ref(), r.missing_id, r.code, &message, None),
        };
        // Serializing strings and a list of static strings cannot fail; if it ever did, the
        // buffer is left untouched (encode_error is atomic) and the status still speaks.
        let _ = result;
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.error)
    }
}

impl std::error::Error for Rejection {}
