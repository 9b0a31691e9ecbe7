//! [`Message`]: a decoded JSON-RPC message as offsets into one frozen `Bytes`.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;

use crate::{DecodeError, ErrorCode, RawJson, RequestId};

/// What a [`Message`] is. JSON-RPC 2.0 defines exactly these five shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(
    clippy::exhaustive_enums,
    reason = "JSON-RPC 2.0 has exactly these message shapes"
)]
pub enum MessageKind {
    /// `method` and `id`: expects a response.
    Request,
    /// `method` without `id`: never answered.
    Notification,
    /// `result` and `id`.
    Response,
    /// `error`, with the `id` of the failed request (absent or null when it could not be read).
    ErrorResponse,
    /// An array of messages (protocol 2025-03-26 only).
    Batch,
}

/// A byte range into the message's buffer. `u32` keeps a [`Message`] small; the decoder caps
/// message size below 4 GiB, so offsets always fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        // The decoder rejects messages over u32::MAX bytes before scanning, so these never
        // saturate; saturating keeps the conversion total anyway.
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    fn rebase(self, by: usize) -> Self {
        Self::new(
            (self.start as usize).saturating_sub(by),
            (self.end as usize).saturating_sub(by),
        )
    }
}

/// A decoded string member: the span of its contents when it has no escapes, else its value.
#[derive(Clone, Debug)]
pub(crate) enum Str {
    Span(Span),
    Owned(Box<str>),
}

impl Str {
    fn as_str<'a>(&'a self, bytes: &'a [u8]) -> &'a str {
        match self {
            // The whole message was validated as UTF-8 and the span covers whole characters
            // (it lies between two ASCII quotes), so this cannot fail.
            Self::Span(span) => {
                std::str::from_utf8(bytes.get(span.range()).unwrap_or_default()).unwrap_or_default()
            }
            Self::Owned(s) => s,
        }
    }

    fn rebase(self, by: usize) -> Self {
        match self {
            Self::Span(s) => Self::Span(s.rebase(by)),
            owned => owned,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Request {
        id: RequestId,
        method: Str,
        params: Option<Span>,
    },
    Notification {
        method: Str,
        params: Option<Span>,
    },
    Response {
        id: RequestId,
        result: Span,
    },
    Error {
        id: Option<RequestId>,
        code: ErrorCode,
        message: Str,
        data: Option<Span>,
    },
    Batch(Vec<Result<Message, DecodeError>>),
}

impl Body {
    /// Makes spans relative to a sub-slice starting at `by` (batch members).
    pub(crate) fn rebase(self, by: usize) -> Self {
        match self {
            Self::Request { id, method, params } => Self::Request {
                id,
                method: method.rebase(by),
                params: params.map(|p| p.rebase(by)),
            },
            Self::Notification { method, params } => Self::Notification {
                method: method.rebase(by),
                params: params.map(|p| p.rebase(by)),
            },
            Self::Response { id, result } => Self::Response {
                id,
                result: result.rebase(by),
            },
            Self::Error {
                id,
                code,
                message,
                data,
            } => Self::Error {
                id,
                code,
                message: message.rebase(by),
                data: data.map(|d| d.rebase(by)),
            },
            batch @ Self::Batch(_) => batch,
        }
    }
}

/// One decoded JSON-RPC message (or batch): offsets into one frozen [`Bytes`].
///
/// Cheap to keep: no accessor copies. [`Message::as_bytes`] is the message exactly as received;
/// [`Message::params`], [`Message::result`] and [`Message::error_data`] are [`RawJson`] views
/// that share the same buffer and outlive the transport's read buffer.
#[derive(Clone)]
pub struct Message {
    bytes: Bytes,
    body: Body,
}

impl Message {
    pub(crate) fn new(bytes: Bytes, body: Body) -> Self {
        Self { bytes, body }
    }

    /// The message's shape.
    pub fn kind(&self) -> MessageKind {
        match self.body {
            Body::Request { .. } => MessageKind::Request,
            Body::Notification { .. } => MessageKind::Notification,
            Body::Response { .. } => MessageKind::Response,
            Body::Error { .. } => MessageKind::ErrorResponse,
            Body::Batch(_) => MessageKind::Batch,
        }
    }

    /// Whether this is a request (has `method` and `id`).
    pub fn is_request(&self) -> bool {
        self.kind() == MessageKind::Request
    }

    /// Whether this is a notification (has `method`, no `id`).
    pub fn is_notification(&self) -> bool {
        self.kind() == MessageKind::Notification
    }

    /// Whether this is a successful response (`result`).
    pub fn is_response(&self) -> bool {
        self.kind() == MessageKind::Response
    }

    /// Whether this is an error response (`error`).
    pub fn is_error_response(&self) -> bool {
        self.kind() == MessageKind::ErrorResponse
    }

    /// Whether this is a batch.
    pub fn is_batch(&self) -> bool {
        self.kind() == MessageKind::Batch
    }

    /// The id of a request or response; `None` for notifications, batches and error responses
    /// whose id was absent or null.
    pub fn id(&self) -> Option<&RequestId> {
        match &self.body {
            Body::Request { id, .. } | Body::Response { id, .. } => Some(id),
            Body::Error { id, .. } => id.as_ref(),
            Body::Notification { .. } | Body::Batch(_) => None,
        }
    }

    /// The method of a request or notification (escapes decoded).
    pub fn method(&self) -> Option<&str> {
        match &self.body {
            Body::Request { method, .. } | Body::Notification { method, .. } => {
                Some(method.as_str(&self.bytes))
            }
            _ => None,
        }
    }

    fn params_span(&self) -> Option<Span> {
        match &self.body {
            Body::Request { params, .. } | Body::Notification { params, .. } => *params,
            _ => None,
        }
    }

    fn result_span(&self) -> Option<Span> {
        match &self.body {
            Body::Response { result, .. } => Some(*result),
            _ => None,
        }
    }

    fn data_span(&self) -> Option<Span> {
        match &self.body {
            Body::Error { data, .. } => *data,
            _ => None,
        }
    }

    fn raw(&self, span: Option<Span>) -> Option<RawJson> {
        span.map(|s| RawJson::from_validated(self.bytes.slice(s.range())))
    }

    fn slice(&self, span: Option<Span>) -> Option<&[u8]> {
        span.and_then(|s| self.bytes.get(s.range()))
    }

    /// `params` as a raw view (always a JSON object when present).
    pub fn params(&self) -> Option<RawJson> {
        self.raw(self.params_span())
    }

    /// `params` as borrowed bytes, without touching the buffer's reference count.
    pub fn params_bytes(&self) -> Option<&[u8]> {
        self.slice(self.params_span())
    }

    /// Deserializes `params` into a typed view (see [`crate::mcp`]); `None` if there are none.
    pub fn params_as<'a, T: Deserialize<'a>>(&'a self) -> Option<Result<T, serde_json::Error>> {
        self.params_bytes().map(serde_json::from_slice)
    }

    /// `result` as a raw view (always a JSON object).
    pub fn result(&self) -> Option<RawJson> {
        self.raw(self.result_span())
    }

    /// `result` as borrowed bytes.
    pub fn result_bytes(&self) -> Option<&[u8]> {
        self.slice(self.result_span())
    }

    /// Deserializes `result` into a typed view; `None` if this is not a result response.
    pub fn result_as<'a, T: Deserialize<'a>>(&'a self) -> Option<Result<T, serde_json::Error>> {
        self.result_bytes().map(serde_json::from_slice)
    }

    /// `error.code` of an error response.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match &self.body {
            Body::Error { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// `error.message` of an error response (escapes decoded).
    pub fn error_message(&self) -> Option<&str> {
        match &self.body {
            Body::Error { message, .. } => Some(message.as_str(&self.bytes)),
            _ => None,
        }
    }

    /// `error.data` of an error response, as a raw view.
    pub fn error_data(&self) -> Option<RawJson> {
        self.raw(self.data_span())
    }

    /// `error.data` as borrowed bytes.
    pub fn error_data_bytes(&self) -> Option<&[u8]> {
        self.slice(self.data_span())
    }

    /// The members of a batch, each decoded on its own: a member that is not a valid message is
    /// an `Err` carrying the JSON-RPC error it deserves (JSON-RPC answers each one separately).
    pub fn batch(&self) -> Option<&[Result<Message, DecodeError>]> {
        match &self.body {
            Body::Batch(items) => Some(items),
            _ => None,
        }
    }

    /// The whole message exactly as received (for a batch member: just that member's bytes).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The whole message exactly as received.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// Messages are equal when they carry the same kind, id, method and the same bytes in each raw
/// view (so a re-encoded message equals the original although unknown envelope members and
/// whitespace outside the views may differ).
impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind()
            && self.id() == other.id()
            && self.method() == other.method()
            && self.params_bytes() == other.params_bytes()
            && self.result_bytes() == other.result_bytes()
            && self.error_code() == other.error_code()
            && self.error_message() == other.error_message()
            && self.error_data_bytes() == other.error_data_bytes()
            && self.batch() == other.batch()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Message");
        d.field("kind", &self.kind());
        if let Some(id) = self.id() {
            d.field("id", id);
        }
        if let Some(m) = self.method() {
            d.field("method", &m);
        }
        if let Some(p) = self.params() {
            d.field("params", &p);
        }
        if let Some(r) = self.result() {
            d.field("result", &r);
        }
        if let Some(c) = self.error_code() {
            d.field("code", &c);
            d.field("message", &self.error_message().unwrap_or_default());
        }
        if let Some(data) = self.error_data() {
            d.field("data", &data);
        }
        if let Some(items) = self.batch() {
            d.field("batch", &items);
        }
        d.finish()
    }
}
