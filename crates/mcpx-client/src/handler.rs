//! What the client answers when the server asks: `sampling/createMessage`,
//! `elicitation/create` and `roots/list`, through a [`ClientHandler`] the user supplies.

use std::future::Future;
use std::pin::Pin;

use bytes::BytesMut;
use mcpx_wire::mcp::method;
use mcpx_wire::{ErrorCode, Message, MissingId, RawJson, RequestId};

/// A boxed, sendable future (what [`ClientHandler`] methods return).
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<RawJson, HandlerError>> + Send>>;

/// A JSON-RPC error the handler answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerError {
    /// The code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl HandlerError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `-32601`: the client does not support this request.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("client does not handle {method}"),
        )
    }
}

/// Answers the server's requests. Every method has a default that refuses with `-32601`;
/// override the ones the client supports and declare them in
/// [`ClientOptions::capabilities`](crate::ClientOptions::capabilities).
///
/// In the session era the answers are POSTed back (or written to stdin); in 2026-07-28 they
/// become the `inputResponses` of the retried request.
pub trait ClientHandler: Send + Sync + 'static {
    /// `sampling/createMessage`: returns a `CreateMessageResult`.
    fn create_message(&self, params: Option<RawJson>) -> HandlerFuture {
        let _ = params;
        refuse(method::SAMPLING_CREATE_MESSAGE)
    }

    /// `elicitation/create`: returns an `ElicitResult`.
    fn elicit(&self, params: Option<RawJson>) -> HandlerFuture {
        let _ = params;
        refuse(method::ELICITATION_CREATE)
    }

    /// `roots/list`: returns a `ListRootsResult`.
    fn list_roots(&self, params: Option<RawJson>) -> HandlerFuture {
        let _ = params;
        refuse(method::ROOTS_LIST)
    }

    /// A notification (progress, log line, list change) that arrived while the high-level API
    /// was waiting for a response ([`Exchange::finish`](crate::Exchange::finish),
    /// [`Session::call`](crate::Session::call) and its helpers) or on the
    /// [`background stream`](crate::ClientOptions::background_stream). Called inline on the
    /// reading task: keep it quick. Default: ignore.
    fn notification(&self, message: &Message) {
        let _ = message;
    }
}

fn refuse(method: &'static str) -> HandlerFuture {
    Box::pin(async move { Err(HandlerError::method_not_found(method)) })
}

/// A handler that refuses everything (the default).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoHandler;

impl ClientHandler for NoHandler {}

/// Runs the handler for one server request (by method).
pub(crate) fn dispatch(
    handler: &dyn ClientHandler,
    method_name: &str,
    params: Option<RawJson>,
) -> HandlerFuture {
    match method_name {
        method::SAMPLING_CREATE_MESSAGE => handler.create_message(params),
        method::ELICITATION_CREATE => handler.elicit(params),
        method::ROOTS_LIST => handler.list_roots(params),
        // The server may ping the client in the session era.
        method::PING => Box::pin(async { Ok(empty_object()) }),
        other => {
            let e = HandlerError::method_not_found(other);
            Box::pin(async move { Err(e) })
        }
    }
}

/// `{}` as a raw view.
pub(crate) fn empty_object() -> RawJson {
    crate::body::raw_static(b"{}")
}

/// Answers a server-to-client request message with the handler; returns the encoded response.
pub(crate) async fn answer(handler: &dyn ClientHandler, msg: &Message) -> Option<bytes::Bytes> {
    let id = msg.id()?.clone();
    let method_name = msg.method()?;
    let outcome = dispatch(handler, method_name, msg.params()).await;
    Some(encode_answer(&id, outcome))
}

pub(crate) fn encode_answer(
    id: &RequestId,
    outcome: Result<RawJson, HandlerError>,
) -> bytes::Bytes {
    let mut buf = BytesMut::with_capacity(128);
    let written = match &outcome {
        Ok(result) => mcpx_wire::encode_result_raw(&mut buf, id, result),
        Err(e) => mcpx_wire::encode_error(
            &mut buf,
            Some(id),
            MissingId::Omit,
            e.code,
            &e.message,
            None::<&()>,
        ),
    };
    if written.is_err() {
        // A handler returned a non-object result: answer with an internal error instead.
        buf.clear();
        let _ = mcpx_wire::encode_error(
            &mut buf,
            Some(id),
            MissingId::Omit,
            ErrorCode::INTERNAL_ERROR,
            "client handler returned an invalid result",
            None::<&()>,
        );
    }
    buf.freeze()
}
