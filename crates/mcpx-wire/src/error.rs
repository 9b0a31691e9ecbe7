//! JSON-RPC error codes and the errors [`decode`](crate::decode()) reports.

use std::fmt;

use crate::RequestId;

/// A JSON-RPC error code: an open newtype, so codes this crate does not name round-trip intact.
///
/// The named constants are the JSON-RPC 2.0 codes and the codes MCP allocates (MCP-DIGEST 1.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a code is exactly one i32, by the JSON-RPC spec"
)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// -32700: the bytes are not one JSON value.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// -32600: valid JSON that is not a valid JSON-RPC message.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// -32601: unknown method, or a method gated by a capability that was not advertised.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// -32602: the method exists but its params are wrong (unknown tool, bad cursor, ...).
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// -32603: the server failed unexpectedly.
    pub const INTERNAL_ERROR: Self = Self(-32603);
    /// -32002: resource not found (2024-11-05 .. 2025-11-25; 2026-07-28 uses -32602 instead).
    pub const RESOURCE_NOT_FOUND: Self = Self(-32002);
    /// -32042: URL elicitation required (2025-11-25 only).
    pub const URL_ELICITATION_REQUIRED: Self = Self(-32042);
    /// -32020: an `Mcp-*` header is missing, malformed or disagrees with the body (2026-07-28).
    pub const HEADER_MISMATCH: Self = Self(-32020);
    /// -32021: the request needs a client capability the client did not declare (2026-07-28).
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: Self = Self(-32021);
    /// -32022: the declared protocol version is not supported (2026-07-28).
    pub const UNSUPPORTED_PROTOCOL_VERSION: Self = Self(-32022);

    /// The numeric code.
    pub const fn code(self) -> i32 {
        self.0
    }

    /// The name of a code this crate knows, e.g. `"parse error"`.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            -32700 => "parse error",
            -32600 => "invalid request",
            -32601 => "method not found",
            -32602 => "invalid params",
            -32603 => "internal error",
            -32002 => "resource not found",
            -32042 => "URL elicitation required",
            -32020 => "header mismatch",
            -32021 => "missing required client capability",
            -32022 => "unsupported protocol version",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<i32> for ErrorCode {
    fn from(code: i32) -> Self {
        Self(code)
    }
}

/// A member of the JSON-RPC envelope, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Member {
    /// `jsonrpc`
    Jsonrpc,
    /// `id`
    Id,
    /// `method`
    Method,
    /// `params`
    Params,
    /// `result`
    Result,
    /// `error`
    Error,
    /// `error.code`
    ErrorCode,
    /// `error.message`
    ErrorMessage,
    /// `error.data`
    ErrorData,
    /// A member the envelope does not define (kept, but still checked for duplicates).
    Other,
}

impl Member {
    /// The member's name as it appears in JSON (`"error.code"` for nested ones).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jsonrpc => "jsonrpc",
            Self::Id => "id",
            Self::Method => "method",
            Self::Params => "params",
            Self::Result => "result",
            Self::Error => "error",
            Self::ErrorCode => "error.code",
            Self::ErrorMessage => "error.message",
            Self::ErrorData => "error.data",
            Self::Other => "(unknown member)",
        }
    }
}

/// Why [`decode`](crate::decode()) refused its input. [`DecodeErrorKind::code`] maps each to the
/// JSON-RPC error a peer should get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    // ---- -32700: not one JSON value ----
    /// The bytes are not UTF-8.
    InvalidUtf8,
    /// The input ends inside a value (truncated), or is empty.
    UnexpectedEnd,
    /// A byte that JSON does not allow at this position.
    UnexpectedByte,
    /// One complete JSON value is followed by more non-whitespace bytes.
    TrailingCharacters,
    /// A string escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
    InvalidEscape,
    /// A `\uD800`..`\uDFFF` escape that is not half of a surrogate pair.
    LoneSurrogate,
    /// An unescaped control character (U+0000..U+001F) inside a string.
    ControlCharacter,
    /// A number that does not follow the JSON grammar (`01`, `1.`, `-`, `1e`).
    InvalidNumber,

    // ---- -32600: JSON, but not a valid message ----
    /// The message is larger than [`DecodeOptions::max_message_bytes`](crate::DecodeOptions).
    TooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
    /// Arrays/objects nest deeper than [`DecodeOptions::max_depth`](crate::DecodeOptions).
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// The value (or a batch member) is not a JSON object.
    NotAnObject,
    /// A required member is absent (`jsonrpc`, a response's `id`, `error.code`, `error.message`).
    MissingMember {
        /// Which one.
        member: Member,
    },
    /// A member has the wrong JSON type (e.g. `method` is a number, `params` is an array).
    WrongType {
        /// Which one.
        member: Member,
    },
    /// A member name appears twice in the envelope (or in `error`).
    DuplicateMember {
        /// Which one ([`Member::Other`] for members the envelope does not define).
        member: Member,
    },
    /// `jsonrpc` is a string other than `"2.0"`.
    WrongJsonrpcVersion,
    /// A request or result response with `"id": null` (MCP forbids null ids).
    NullId,
    /// A numeric id with a fractional part (`1.5`). `1.0` is the integer 1 (MCP-DIGEST 1.1).
    IdNotInteger,
    /// A numeric id outside the range of `i64`.
    IdOutOfRange,
    /// `error.code` is not an integer in the range of `i32`.
    ErrorCodeOutOfRange,
    /// A response carries both `result` and `error`.
    ResultAndError,
    /// A request or notification also carries `result` or `error`.
    MethodAndResponse,
    /// An object with neither `method`, `result` nor `error`.
    NotAMessage,
    /// `[]`.
    EmptyBatch,
    /// A batch where the caller said batches are not allowed (every version but 2025-03-26).
    BatchNotAllowed,
    /// A batch with more members than [`DecodeOptions::max_batch_len`](crate::DecodeOptions).
    BatchTooLong {
        /// The limit in force.
        limit: usize,
    },
}

impl DecodeErrorKind {
    /// The JSON-RPC error code a peer should receive for this failure.
    pub const fn code(self) -> ErrorCode {
        match self {
            Self::InvalidUtf8
            | Self::UnexpectedEnd
            | Self::UnexpectedByte
            | Self::TrailingCharacters
            | Self::InvalidEscape
            | Self::LoneSurrogate
            | Self::ControlCharacter
            | Self::InvalidNumber => ErrorCode::PARSE_ERROR,
            _ => ErrorCode::INVALID_REQUEST,
        }
    }

    /// Whether the bytes were not JSON at all (-32700), as opposed to an invalid message.
    pub const fn is_parse_error(self) -> bool {
        self.code().0 == ErrorCode::PARSE_ERROR.0
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUtf8 => f.write_str("the message is not valid UTF-8"),
            Self::UnexpectedEnd => f.write_str("the JSON ends early (truncated or empty message)"),
            Self::UnexpectedByte => f.write_str("unexpected byte in JSON"),
            Self::TrailingCharacters => f.write_str("more bytes follow the JSON value"),
            Self::InvalidEscape => f.write_str("invalid escape in a JSON string"),
            Self::LoneSurrogate => f.write_str("a \\u escape is half of a surrogate pair"),
            Self::ControlCharacter => f.write_str("unescaped control character in a JSON string"),
            Self::InvalidNumber => f.write_str("invalid JSON number"),
            Self::TooLarge { limit } => write!(f, "the message is larger than {limit} bytes"),
            Self::TooDeep { limit } => write!(f, "the JSON nests deeper than {limit} levels"),
            Self::NotAnObject => f.write_str("a JSON-RPC message must be a JSON object"),
            Self::MissingMember { member } => {
                write!(f, "the `{}` member is missing", member.as_str())
            }
            Self::WrongType { member } => {
                write!(f, "the `{}` member has the wrong type", member.as_str())
            }
            Self::DuplicateMember { member } => {
                write!(f, "the `{}` member appears more than once", member.as_str())
            }
            Self::WrongJsonrpcVersion => f.write_str("`jsonrpc` must be \"2.0\""),
            Self::NullId => f.write_str("`id` must not be null"),
            Self::IdNotInteger => f.write_str("a numeric `id` must be an integer"),
            Self::IdOutOfRange => f.write_str("a numeric `id` must fit in a signed 64-bit integer"),
            Self::ErrorCodeOutOfRange => {
                f.write_str("`error.code` must be an integer in the i32 range")
            }
            Self::ResultAndError => {
                f.write_str("a response must not carry both `result` and `error`")
            }
            Self::MethodAndResponse => {
                f.write_str("a request or notification must not carry `result` or `error`")
            }
            Self::NotAMessage => f.write_str(
                "not a request, notification or response (no `method`, `result` or `error`)",
            ),
            Self::EmptyBatch => f.write_str("a batch must not be empty"),
            Self::BatchNotAllowed => {
                f.write_str("batches are not allowed here (only protocol 2025-03-26 allows them)")
            }
            Self::BatchTooLong { limit } => write!(f, "the batch has more than {limit} members"),
        }
    }
}

/// [`decode`](crate::decode()) refused its input: what went wrong, where, and the request id if
/// it could be recovered (so the error reply can carry it).
///
/// Not `Copy`, unlike its kind: a recovered string id is an owned view of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
    id: Option<RequestId>,
}

impl DecodeError {
    #[cold]
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self {
            kind,
            offset,
            id: None,
        }
    }

    #[cold]
    pub(crate) fn with_id(mut self, id: Option<RequestId>) -> Self {
        self.id = id;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The JSON-RPC code to answer with: -32700 or -32600.
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// Byte offset into the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The message's `id`, when the JSON was valid and the id itself was (so the error reply can
    /// echo it); `None` for parse errors and unreadable ids.
    pub fn id(&self) -> Option<&RequestId> {
        self.id.as_ref()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} ({})",
            self.kind,
            self.offset,
            self.kind.code()
        )
    }
}

impl std::error::Error for DecodeError {}
