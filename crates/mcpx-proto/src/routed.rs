//! What the table tells the server: how to answer a request ([`Routed`]), what happened on its
//! own ([`Event`]), and why an outgoing message could not be sent ([`SendError`]).

use std::fmt;

use bytes::Bytes;
use mcpx_wire::{Message, RawJson, RequestId};

use crate::{EventId, ProtocolVersion, SessionId, StreamKey};

/// The outcome of [`SessionTable::handle_request`](crate::SessionTable::handle_request) for an
/// accepted request: what the server must do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Routed {
    /// Answer now: 200, `Content-Type: application/json`, this body (the core answered
    /// `initialize`, `ping`, `server/discover`, or a method-level error).
    Answer(Answer),
    /// Run the request's handler; finish it with `respond_*` or `abandon` on [`Dispatch::stream`].
    Dispatch(Dispatch),
    /// 202 Accepted, no body: a notification (or an ignorable response) was taken.
    Accepted(Accepted),
    /// 202 Accepted, no body: the client answered a server-to-client request; wake its waiter.
    ClientResponse(ClientResponse),
    /// 200 `text/event-stream`: a new standalone GET stream.
    OpenStream(OpenStream),
    /// 200 `text/event-stream`: a GET with `Last-Event-ID` resuming a stream; replay the events
    /// of `last_event_id.stream` after `last_event_id.seq`, then continue it live. Any previous
    /// connection of that stream is replaced.
    ResumeStream(ResumeStream),
    /// 200, no body: DELETE ended the session; its requests were cancelled (see
    /// [`Event::RequestCancelled`]) and later requests with its id get 404.
    SessionDeleted(SessionId),
    /// A 2025-03-26 batch: each item is an [`Routed::Answer`], [`Routed::Dispatch`],
    /// [`Routed::Accepted`] or [`Routed::ClientResponse`], in body order. If any is an answer or
    /// a dispatch, the HTTP response is a JSON array of their responses (or an SSE stream);
    /// otherwise 202.
    Batch(Batch),
}

/// An answer the core wrote itself.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Answer {
    /// The JSON-RPC response, ready to send.
    pub body: Bytes,
    /// Set when `initialize` created a session: send its id as `Mcp-Session-Id`.
    pub new_session: Option<SessionId>,
    /// The version the answer follows.
    pub version: ProtocolVersion,
}

/// A request for the server's handlers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Dispatch {
    /// The session (`None` in the stateless era).
    pub session: Option<SessionId>,
    /// The request's response stream: name it in `respond_*`, `progress`, `notify`.
    pub stream: StreamKey,
    /// The request id.
    pub id: RequestId,
    /// The version the request is served under (the session's, or the request's `_meta`).
    pub version: ProtocolVersion,
    /// The whole request (method, raw params).
    pub message: Message,
    /// The stateless request's `_meta["io.modelcontextprotocol/clientCapabilities"]`, raw
    /// (session era: see [`Session::client_capabilities`](crate::Session::client_capabilities)).
    pub client_capabilities: Option<RawJson>,
    /// The stateless request's `_meta["io.modelcontextprotocol/logLevel"]` when it is a string:
    /// the least severe level its log notifications may have (session era: `None`, the session's
    /// `logging/setLevel` decides).
    pub log_level: Option<String>,
    /// If the server answers with SSE, send this id with empty data first (2025-11-25 priming
    /// event).
    pub priming: Option<EventId>,
    /// The request carries `_meta.progressToken`: [`SessionTable::progress`](crate::SessionTable::progress)
    /// will send progress.
    pub wants_progress: bool,
}

impl Dispatch {
    /// The method, e.g. `tools/call`.
    pub fn method(&self) -> &str {
        self.message.method().unwrap_or_default()
    }
}

/// A notification (or a response nobody waits for) that was accepted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Accepted {
    /// The session, if any.
    pub session: Option<SessionId>,
    /// A notification for the server to look at (e.g. `notifications/roots/list_changed`).
    /// `None` when the core consumed it (`initialized`, `cancelled`) or it was a late response.
    pub notification: Option<Message>,
}

/// The client's answer to a server-to-client request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientResponse {
    /// The session.
    pub session: SessionId,
    /// The id the server gave its request.
    pub id: RequestId,
    /// The client request the server's request was about, if any.
    pub related: Option<StreamKey>,
    /// The response or error response.
    pub message: Message,
}

/// A new standalone GET stream.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OpenStream {
    /// The session.
    pub session: SessionId,
    /// The stream.
    pub stream: StreamKey,
    /// The priming event id to send first (2025-11-25).
    pub priming: Option<EventId>,
}

/// A resumed stream.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResumeStream {
    /// The session.
    pub session: SessionId,
    /// The last event the client saw.
    pub last_event_id: EventId,
    /// The stream's request was already answered: replay its remaining events (the response
    /// last), then end it; nothing live follows.
    pub ended: bool,
}

/// A 2025-03-26 batch's items.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Batch {
    /// The session.
    pub session: SessionId,
    /// One item per batch member that needs handling, in body order.
    pub items: Vec<Routed>,
}

/// Why a request was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// The client sent `notifications/cancelled` (session era).
    Notification,
    /// The response stream closed (stateless era: that is cancellation).
    StreamClosed,
    /// The session ended (DELETE).
    SessionEnded,
}

/// Something that happened inside the table, drained with
/// [`SessionTable::poll_event`](crate::SessionTable::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Stop the handler of this request: nothing more may be sent for it. Finish it with
    /// `abandon` (or a `respond_*`, which then sends nothing).
    RequestCancelled {
        /// The session (`None`: stateless).
        session: Option<SessionId>,
        /// The request's stream.
        stream: StreamKey,
        /// The request id.
        id: RequestId,
        /// Why.
        reason: CancelReason,
    },
    /// An idle session passed its TTL and was removed.
    SessionExpired(SessionId),
    /// An idle session was removed to make room for a new one (table full).
    SessionEvicted(SessionId),
}

/// Why an outgoing message was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The stream, request or session is gone (answered, abandoned, expired, deleted).
    Gone,
    /// The request was cancelled: send nothing more for it. (`respond_*` also frees it.)
    Cancelled,
    /// The session has no standalone GET stream to carry a message about nothing in flight
    /// (MCP-DIGEST 8.2: it cannot be delivered).
    NoStream,
    /// The request has no progress token.
    NoProgressToken,
    /// The version forbids it (e.g. server-to-client requests in 2026-07-28).
    NotAllowed,
    /// The session already waits for the maximum of client answers.
    TooManyInFlight,
    /// The payload failed to serialize (or is not an object); nothing was written.
    Encode,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gone => "the stream, request or session is gone",
            Self::Cancelled => "the request was cancelled",
            Self::NoStream => "the session has no GET stream",
            Self::NoProgressToken => "the request has no progress token",
            Self::NotAllowed => "the protocol version does not allow this message",
            Self::TooManyInFlight => "too many requests awaiting the client",
            Self::Encode => "the payload failed to serialize",
        })
    }
}

impl std::error::Error for SendError {}
