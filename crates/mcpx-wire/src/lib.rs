//! `mcpx-wire`: bytes in, JSON-RPC 2.0 / MCP messages out, and back. Sans-IO.
//!
//! This crate owns the byte-level codec of mcpx:
//!
//! - [`decode()`] validates one JSON-RPC message (or a 2025-03-26 batch) and returns a
//!   [`Message`] made of offsets into one frozen [`bytes::Bytes`]. `params`, `result` and
//!   `error.data` are [`RawJson`] views: forwardable byte for byte, deserializable on demand into
//!   the typed views of [`mcp`], and usable after the read buffer is gone.
//! - `encode_*` functions write requests, notifications, results and errors straight into the
//!   caller's [`bytes::BytesMut`].
//! - [`sse`] frames Server-Sent Events (an encoder and an incremental, bounded decoder) and
//!   [`stdio`] frames newline-delimited messages.
//!
//! What it does **not** do: sessions, protocol-version policy (which version allows batches is
//! the caller's [`DecodeOptions::allow_batch`] decision), HTTP, time, tasks or sockets. Those
//! live in the crates above it; this one never imports tokio or hyper.
//!
//! # The call protocol
//!
//! ```
//! use bytes::BytesMut;
//! use mcpx_wire::{decode, encode_result, DecodeOptions, MessageKind};
//!
//! // The transport owns the bytes; decoding freezes them and hands out views.
//! let body = bytes::Bytes::from_static(
//!     br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#,
//! );
//! let msg = decode(body, &DecodeOptions::default()).map_err(|e| e.to_string())?;
//! assert_eq!(msg.kind(), MessageKind::Request);
//! assert_eq!(msg.method(), Some("tools/call"));
//! let params = msg.params().ok_or("no params")?;
//! assert_eq!(params.as_bytes(), br#"{"name":"echo","arguments":{"text":"hi"}}"#.as_slice());
//!
//! // Answer into a caller-owned buffer; the id is echoed byte for byte.
//! let mut out = BytesMut::with_capacity(128);
//! let id = msg.id().ok_or("no id")?;
//! encode_result(&mut out, id, &serde_json::json!({"content": []})).map_err(|e| e.to_string())?;
//! assert_eq!(&out[..], br#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#.as_slice());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Allocations
//!
//! Decoding a message whose strings (method, id) contain no escapes allocates nothing but the
//! message itself is a few words on the stack; a batch allocates one `Vec`. Encoding into a
//! `BytesMut` with enough capacity allocates nothing. `tests/alloc.rs` holds these claims.

mod decode;
mod encode;
mod error;
mod id;
pub mod limits;
pub mod mcp;
mod message;
mod raw;
mod scan;
pub mod sse;
pub mod stdio;

#[doc(hidden)]
pub mod fuzzing;

pub use decode::{DecodeOptions, decode, decode_from};
pub use encode::{
    EncodeError, MissingId, encode_error, encode_message, encode_notification,
    encode_notification_raw, encode_request, encode_request_raw, encode_result, encode_result_raw,
};
pub use error::{DecodeError, DecodeErrorKind, ErrorCode, Member};
pub use id::{Decimal, JsonStr, RequestId, parse_decimal, write_i64, write_json_str};
pub use message::{Message, MessageKind};
pub use raw::{RawJson, object_member};
