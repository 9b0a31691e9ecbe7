//! The client's error type: one variant per way an operation can fail.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use mcpx_wire::{DecodeError, ErrorCode, RawJson};

/// What a timeout interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the connection (TCP and TLS).
    Connect,
    /// Waiting for the response head (time to first byte).
    Head,
    /// Waiting for the body or the next SSE event.
    Body,
    /// Era discovery or the legacy `endpoint` event.
    Discovery,
}

/// Why a client operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL or an option is invalid. Fix the argument.
    InvalidArgument(String),
    /// The TCP connection could not be opened (refused, unreachable, DNS). Check the URL and
    /// that the server runs.
    Connect(std::io::Error),
    /// The TLS handshake or configuration failed (unknown CA, bad `--cacert` PEM, name mismatch).
    Tls(String),
    /// A deadline fired. Raise the corresponding timeout if the server is legitimately slow.
    Timeout(Phase),
    /// The server answered with a non-success HTTP status; `body` is its first bytes.
    HttpStatus {
        /// The status.
        status: StatusCode,
        /// The body, truncated to `DEFAULT_MAX_ERROR_BODY_BYTES`.
        body: Bytes,
    },
    /// The server answered the request with a JSON-RPC error.
    JsonRpc {
        /// The error code.
        code: ErrorCode,
        /// The error message.
        message: String,
        /// `error.data`, raw.
        data: Option<RawJson>,
    },
    /// The session is gone: the server answered 404 to a request carrying its session id.
    /// Start a new session.
    SessionExpired,
    /// The server broke the protocol (wrong content type, oversized body, a reply that is not
    /// a response, a version the client does not speak, ...).
    Protocol(String),
    /// A message from the server is not valid JSON-RPC.
    Decode(DecodeError),
    /// The HTTP connection failed mid-exchange.
    Transport(String),
    /// The response stream ended before the final response (and could not be resumed).
    StreamClosed,
    /// The session was closed (or its stdio child exited).
    Closed,
    /// An I/O error outside HTTP (stdio child).
    Io(std::io::Error),
}

impl Error {
    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// The HTTP status, for [`Error::HttpStatus`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::HttpStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The JSON-RPC error code, for [`Error::JsonRpc`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::JsonRpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    #[cold]
    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        Self::Protocol(msg.into())
    }

    #[cold]
    pub(crate) fn transport(e: impl fmt::Display) -> Self {
        Self::Transport(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Self::Connect(e) => write!(f, "connect failed: {e}"),
            Self::Tls(m) => write!(f, "TLS failed: {m}"),
            Self::Timeout(p) => write!(f, "timed out ({p:?})"),
            Self::HttpStatus { status, body } => {
                write!(f, "HTTP {status}: {}", String::from_utf8_lossy(body))
            }
            Self::JsonRpc { code, message, .. } => {
                write!(f, "JSON-RPC error {}: {message}", code.code())
            }
            Self::SessionExpired => f.write_str("session expired (HTTP 404)"),
            Self::Protocol(m) => write!(f, "protocol violation: {m}"),
            Self::Decode(e) => write!(f, "undecodable message: {e}"),
            Self::Transport(m) => write!(f, "HTTP transport failed: {m}"),
            Self::StreamClosed => f.write_str("stream closed before the final response"),
            Self::Closed => f.write_str("session closed"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) | Self::Io(e) => Some(e),
            Self::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}
