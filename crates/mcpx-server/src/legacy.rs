//! The legacy HTTP+SSE transport (protocol 2024-11-05), off by default
//! ([`ServerBuilder::legacy_sse`](crate::ServerBuilder::legacy_sse)): `GET /sse` opens a
//! connection's event stream and sends the `endpoint` event; `POST /messages?sessionId=...`
//! delivers one message (202), whose answers and everything else the server sends go on that
//! stream as `message` events. Each connection is one message channel (`crate::channel`), so
//! handlers, protocol rules and limits are those of Streamable HTTP.
//!
//! Security, as on the Streamable HTTP endpoint: the `Host` and `Origin` of the GET and of every
//! POST go through the core's checks (403), bodies through the body limit (413 from
//! `Content-Length`, before reading), `Content-Type` must be JSON (415); connections are
//! bounded by [`ServerBuilder::max_legacy_connections`](crate::ServerBuilder::max_legacy_connections) (503 + `Retry-After`) and sessions by the
//! table's limits. The `sessionId` only names a connection (128 random bits); it is not a
//! credential.
//!
//! ```text
//!   GET /sse ──> 200 text/event-stream
//!                event: endpoint   data: /messages?sessionId=<id>
//!   POST /messages?sessionId=<id> {request} ──> 202
//!                event: message    data: {response, progress, requests, ...}
//!   (stream closed) ──> session ended, its requests cancelled
//! ```
//!
//! # Cancel safety
//!
//! Dropping the stream's body (the client disconnected) ends the connection: its session is
//! deleted and its requests in flight are cancelled; later POSTs for it get 404.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame as BodyFrame, SizeHint};
use mcpx_proto::{ProtocolError, Rejection};
use mcpx_wire::sse::{SseEventRef, encode_comment, encode_event};
use tokio::sync::mpsc;

use crate::channel::Channel;
use crate::service::{ResponseBody, Shared, lock};

/// The path of the event stream.
pub(crate) const SSE_PATH: &str = "/sse";
/// The path messages are POSTed to (with `?sessionId=`).
pub(crate) const MESSAGES_PATH: &str = "/messages";

/// The open legacy connections of one server.
pub(crate) struct Legacy {
    conns: Mutex<HashMap<String, Arc<Channel>>>,
    /// [`ServerBuilder::max_legacy_connections`](crate::ServerBuilder::max_legacy_connections).
    max: usize,
}

impl Legacy {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            conns: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// Graceful shutdown: every connection finishes the requests it has in flight, then ends
    /// its session and its event stream (the stream's end is the last thing its client reads).
    /// New messages are refused meanwhile (the server is draining).
    pub(crate) fn drain(&self) {
        let conns: Vec<Arc<Channel>> = lock(&self.conns).drain().map(|(_, c)| c).collect();
        for channel in conns {
            tokio::spawn(async move {
                channel.idle().await;
                channel.close();
                // The last handle of the channel goes here: its output queue closes and the
                // event stream ends after what is queued.
            });
        }
    }

    /// Whether a request for `path` is this transport's.
    pub(crate) fn owns(&self, path: &str) -> bool {
        path == SSE_PATH || path == MESSAGES_PATH
    }

    /// Open connections.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.conns).len()
    }
}

/// Serves a request for [`SSE_PATH`] or [`MESSAGES_PATH`]. Never fails: every problem is an
/// HTTP response.
pub(crate) async fn handle<B>(shared: Arc<Shared>, req: Request<B>) -> Response<ResponseBody>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let Some(legacy) = &shared.legacy else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    match (parts.uri.path(), &parts.method) {
        (SSE_PATH, &Method::GET) => open(&shared, legacy, &parts),
        (MESSAGES_PATH, &Method::POST) => post(&shared, legacy, &parts, body).await,
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

/// The request's headers as the core checks them on Streamable HTTP (`Host`, or HTTP/2's
/// `:authority`; `Origin`; `Content-Type`; `Content-Length`; the header-size limit), without
/// the Streamable HTTP headers (session, version, method, name, parameters, `Last-Event-ID`,
/// `Accept`), which belong to the channel, not to the legacy client.
fn carrier_headers(parts: &http::request::Parts) -> HeaderMap {
    let mut headers = parts.headers.clone();
    let ours: Vec<header::HeaderName> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            k.starts_with("mcp-") || k == "last-event-id" || k == "accept"
        })
        .cloned()
        .collect();
    for k in ours {
        headers.remove(k);
    }
    // HTTP/2 names the host in the URI (as in the Streamable HTTP handler).
    if !headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(v) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, v);
    }
    headers
}

/// `GET /sse`: a new connection.
fn open(
    shared: &Arc<Shared>,
    legacy: &Legacy,
    parts: &http::request::Parts,
) -> Response<ResponseBody> {
    let (out_tx, out_rx) = mpsc::channel(shared.queue_len());
    let channel = Channel::new(shared.clone(), out_tx);
    if let Err(r) = channel.check_carrier(carrier_headers(parts)) {
        return rejection_response(&r);
    }
    let Some(id) = connection_id() else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "no randomness for an id");
    };
    {
        let mut conns = lock(&legacy.conns);
        if conns.len() >= legacy.max {
            let r = Rejection::new(ProtocolError::Overloaded, None, None);
            let mut resp = rejection_response(&r);
            let after = mcpx_proto::limits::DEFAULT_RETRY_AFTER.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        conns.insert(id.clone(), channel);
    }
    let mut endpoint = BytesMut::new();
    let data = format!("{MESSAGES_PATH}?sessionId={id}");
    let _ = encode_event(
        &mut endpoint,
        &SseEventRef::new(data.as_bytes()).with_event("endpoint"),
    );
    let every = shared.keep_alive();
    let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Bearer mode binds the connection to the token's subject (`crate::auth`).
    let named = crate::auth::LegacyConnection(id.clone());
    let body = LegacyBody {
        head: Some(endpoint.freeze()),
        rx: out_rx,
        keep_alive,
        _conn: ConnGuard {
            shared: shared.clone(),
            id,
        },
    };
    let mut resp = Response::new(body.boxed_unsync());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp.extensions_mut().insert(named);
    resp
}

/// `POST /messages?sessionId=...`: one message for a connection.
async fn post<B>(
    shared: &Arc<Shared>,
    legacy: &Legacy,
    parts: &http::request::Parts,
    body: B,
) -> Response<ResponseBody>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(id) = parts.uri.query().and_then(session_param) else {
        return plain(StatusCode::BAD_REQUEST, "missing sessionId");
    };
    let Some(channel) = lock(&legacy.conns).get(id).cloned() else {
        return plain(StatusCode::NOT_FOUND, "unknown sessionId");
    };
    let limit = shared.max_body_bytes();
    let too_large = || {
        rejection_response(&Rejection::new(
            ProtocolError::BodyTooLarge { limit },
            None,
            None,
        ))
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => return plain(StatusCode::BAD_REQUEST, "the body could not be read"),
    };
    let headers = carrier_headers(parts);
    match channel.handle(bytes, headers).await {
        Ok(()) => plain(StatusCode::ACCEPTED, "Accepted"),
        Err(r) => rejection_response(&r),
    }
}

/// The `sessionId` of a query string (our ids are hex: no percent-decoding needed).
pub(crate) fn session_param(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("sessionId="))
        .filter(|v| !v.is_empty())
}

/// 128 random bits as 32 hex digits.
fn connection_id() -> Option<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).ok()?;
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes its connection when the stream's body is dropped, ending the session.
struct ConnGuard {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let removed = self
            .shared
            .legacy
            .as_ref()
            .and_then(|l| lock(&l.conns).remove(&self.id));
        if let Some(channel) = removed {
            channel.close();
        }
    }
}

/// The connection's event stream: the `endpoint` event, then one `message` event per queued
/// message (one buffer each), with keep-alive comments while idle.
struct LegacyBody {
    head: Option<Bytes>,
    rx: mpsc::Receiver<Bytes>,
    keep_alive: tokio::time::Interval,
    _conn: ConnGuard,
}

impl Body for LegacyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(BodyFrame::data(head))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(message)) => {
                let mut buf = BytesMut::with_capacity(message.len() + 24);
                // JSON-RPC messages from the core are compact; a line break in a raw one is
                // split over `data:` lines, which the client joins back.
                let _ = encode_event(&mut buf, &SseEventRef::new(&message).with_event("message"));
                Poll::Ready(Some(Ok(BodyFrame::data(buf.freeze()))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.keep_alive.poll_tick(cx).is_ready() {
                    let mut buf = BytesMut::new();
                    encode_comment(&mut buf, "keep-alive");
                    return Poll::Ready(Some(Ok(BodyFrame::data(buf.freeze()))));
                }
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A refused request: its status, `Retry-After` when set, and its JSON-RPC error body.
fn rejection_response(rejection: &Rejection) -> Response<ResponseBody> {
    let mut buf = BytesMut::new();
    rejection.encode_body(&mut buf);
    let mut resp = Response::new(Full::new(buf.freeze()).boxed_unsync());
    *resp.status_mut() = rejection.status();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(after) = rejection.retry_after()
        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
    {
        h.insert(header::RETRY_AFTER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_param_is_found_among_others() {
        assert_eq!(session_param("a=1&sessionId=ab12&b=2"), Some("ab12"));
        assert_eq!(session_param("sessionId="), None);
        assert_eq!(session_param("session=ab"), None);
    }

    #[test]
    fn connection_ids_are_128_bit_hex_and_differ() {
        let (a, b) = (connection_id().unwrap(), connection_id().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(Legacy::new(1).len(), 0);
    }
}
