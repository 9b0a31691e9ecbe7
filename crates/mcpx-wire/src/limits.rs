//! Default bounds for everything the codec and framers accept, in one place.
//!
//! Every limit is configurable (see [`DecodeOptions`](crate::DecodeOptions),
//! [`SseDecoder::with_max_event_bytes`](crate::sse::SseDecoder::with_max_event_bytes) and
//! [`LineFramer::with_max_line_bytes`](crate::stdio::LineFramer::with_max_line_bytes)); these are
//! the values used when the caller does not say otherwise.

/// Largest JSON-RPC message [`decode`](crate::decode()) accepts, in bytes.
///
/// At the bound: [`DecodeErrorKind::TooLarge`](crate::DecodeErrorKind::TooLarge) (JSON-RPC
/// -32600) before a single byte is scanned; HTTP transports answer 413 from `Content-Length`
/// before they even read the body. Why 4 MiB: the largest shape in the Claude traffic profile is a
/// 64 KiB tool result and a ~53 KB `tools/list`; resource reads of embedded files are the outliers,
/// and 4 MiB matches the default body cap of the official TypeScript SDK's HTTP transport.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of arrays and objects inside one message (the envelope object counts as 1).
///
/// At the bound: [`DecodeErrorKind::TooDeep`](crate::DecodeErrorKind::TooDeep) (JSON-RPC -32600).
/// The scanner is iterative, so a deeper limit costs no stack; 128 is serde_json's own recursion
/// limit, so every message serde_json-based peers (rmcp, most gateways) accept, we accept too.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Most members in one JSON-RPC batch (protocol 2025-03-26 only).
///
/// At the bound: [`DecodeErrorKind::BatchTooLong`](crate::DecodeErrorKind::BatchTooLong)
/// (JSON-RPC -32600). No SDK sends more than a handful; 1,024 keeps the per-batch `Vec` of
/// decoded members small while leaving room for generated traffic.
pub const DEFAULT_MAX_BATCH_LEN: usize = 1024;

/// Largest SSE event (all its lines, including field names and line ends), in bytes.
///
/// At the bound: the decoder returns
/// [`SseError::EventTooLarge`](crate::sse::SseError::EventTooLarge) once, discards the rest of
/// that event and resumes with the next one: one lost event, not a lost stream. Equal to
/// [`DEFAULT_MAX_MESSAGE_BYTES`] plus room for the `id:`/`event:` fields and `data:` prefixes,
/// since an SSE event carries exactly one JSON-RPC message in MCP.
pub const DEFAULT_MAX_SSE_EVENT_BYTES: usize = DEFAULT_MAX_MESSAGE_BYTES + 64 * 1024;

/// Longest newline-delimited stdio line (one JSON-RPC message), in bytes, without the line end.
///
/// At the bound: [`LineError::LineTooLong`](crate::stdio::LineError::LineTooLong) once; the rest
/// of the line is discarded and framing resumes after its newline. Same reasoning as
/// [`DEFAULT_MAX_MESSAGE_BYTES`]: one line is one message.
pub const DEFAULT_MAX_LINE_BYTES: usize = DEFAULT_MAX_MESSAGE_BYTES;
