//! The `Pair`: a minimal client-side driver and the server's `SessionTable`, wired in memory,
//! on a clock advanced by hand. No sockets, no sleeps.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use mcpx_wire::{DecodeOptions, ErrorCode, Message, RequestId, decode};

use crate::{
    Answer, Config, Dispatch, Event, ProtocolVersion, Rejection, RequestHead, Routed, SeededIds,
    SessionId, SessionTable,
};

/// The client side: what a Streamable HTTP client remembers between requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct Client {
    pub(crate) session: Option<SessionId>,
    pub(crate) version: Option<ProtocolVersion>,
    next_id: i64,
}

impl Client {
    pub(crate) fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// The headers a well-behaved client sends on a POST.
    pub(crate) fn post_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "accept",
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        self.session_headers(&mut h);
        h
    }

    /// The headers a well-behaved client sends on a GET or DELETE.
    pub(crate) fn get_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("accept", HeaderValue::from_static("text/event-stream"));
        self.session_headers(&mut h);
        h
    }

    fn session_headers(&self, h: &mut HeaderMap) {
        if let Some(s) = &self.session {
            h.insert("mcp-session-id", HeaderValue::from_str(s.as_str()).unwrap());
        }
        if let Some(v) = self.version.filter(|v| *v >= ProtocolVersion::V2025_06_18) {
            h.insert("mcp-protocol-version", HeaderValue::from_static(v.as_str()));
        }
    }
}

/// Client and server on one simulated clock.
pub(crate) struct Pair {
    pub(crate) server: SessionTable,
    pub(crate) client: Client,
    pub(crate) now: Instant,
    pub(crate) events: Vec<Event>,
}

impl Pair {
    pub(crate) fn new() -> Self {
        Self::with_config(Config::new())
    }

    pub(crate) fn with_config(config: Config) -> Self {
        let server = SessionTable::with_id_generator(config, Box::new(SeededIds::new(42))).unwrap();
        Self {
            server,
            client: Client::default(),
            now: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Moves the clock, fires the timer if due, drains events.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        self.drain();
    }

    pub(crate) fn drain(&mut self) -> &[Event] {
        while let Some(e) = self.server.poll_event() {
            self.events.push(e);
        }
        &self.events
    }

    pub(crate) fn send(
        &mut self,
        method: &Method,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Routed, Rejection> {
        let head = RequestHead::new(method, "/mcp", headers);
        let out =
            self.server
                .handle_request(self.now, &head, Bytes::copy_from_slice(body.as_bytes()));
        self.drain();
        out
    }

    /// POSTs `body` with the client's headers.
    pub(crate) fn post(&mut self, body: &str) -> Result<Routed, Rejection> {
        let h = self.client.post_headers();
        self.send(&Method::POST, &h, body)
    }

    /// Sends `initialize` asking for `version`; on success the client keeps the session id and
    /// the version the server chose, and sends `notifications/initialized`.
    pub(crate) fn connect(&mut self, version: &str) -> Answer {
        let answer = self.initialize(version);
        self.client.session = answer.new_session.clone();
        self.client.version = Some(answer.version);
        let r = self.post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(matches!(r, Ok(Routed::Accepted(_))), "{r:?}");
        answer
    }

    pub(crate) fn initialize(&mut self, version: &str) -> Answer {
        let id = self.client.next_id();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{"sampling":{{}}}},"clientInfo":{{"name":"sim","version":"0"}}}}}}"#
        );
        let mut h = self.client.post_headers();
        h.remove("mcp-session-id");
        h.remove("mcp-protocol-version");
        match self.send(&Method::POST, &h, &body) {
            Ok(Routed::Answer(a)) => a,
            other => panic!("initialize: {other:?}"),
        }
    }

    /// A request with a fresh id.
    pub(crate) fn request(&mut self, method: &str, params: &str) -> Result<Routed, Rejection> {
        let id = self.client.next_id();
        self.request_with_id(&id.to_string(), method, params)
    }

    pub(crate) fn request_with_id(
        &mut self,
        id: &str,
        method: &str,
        params: &str,
    ) -> Result<Routed, Rejection> {
        self.post(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#
        ))
    }

    /// A request that must be dispatched.
    pub(crate) fn dispatch(&mut self, method: &str, params: &str) -> Dispatch {
        match self.request(method, params) {
            Ok(Routed::Dispatch(d)) => d,
            other => panic!("{method}: {other:?}"),
        }
    }

    pub(crate) fn notify(&mut self, method: &str, params: &str) -> Result<Routed, Rejection> {
        self.post(&format!(
            r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#
        ))
    }

    pub(crate) fn cancel(&mut self, id: i64) -> Result<Routed, Rejection> {
        self.notify(
            "notifications/cancelled",
            &format!(r#"{{"requestId":{id},"reason":"user"}}"#),
        )
    }

    pub(crate) fn get(&mut self, last_event_id: Option<&str>) -> Result<Routed, Rejection> {
        let mut h = self.client.get_headers();
        if let Some(l) = last_event_id {
            h.insert("last-event-id", HeaderValue::from_str(l).unwrap());
        }
        self.send(&Method::GET, &h, "")
    }

    pub(crate) fn delete(&mut self) -> Result<Routed, Rejection> {
        let h = self.client.get_headers();
        self.send(&Method::DELETE, &h, "")
    }
}

/// Decodes bytes the server wrote.
pub(crate) fn message(bytes: &[u8]) -> Message {
    decode(Bytes::copy_from_slice(bytes), &DecodeOptions::default()).unwrap()
}

pub(crate) fn answer_message(r: Result<Routed, Rejection>) -> Message {
    match r {
        Ok(Routed::Answer(a)) => message(&a.body),
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// Asserts a rejection's status and code, and that its body is a JSON-RPC error with that
/// code; returns the decoded body.
pub(crate) fn rejected(
    r: Result<Routed, Rejection>,
    status: StatusCode,
    code: ErrorCode,
) -> (Rejection, Message) {
    let rej = match r {
        Err(rej) => rej,
        Ok(other) => panic!("expected {status} {code}, got {other:?}"),
    };
    assert_eq!((rej.status(), rej.code()), (status, code), "{rej:?}");
    assert_eq!(rej.error().status_and_code(), (status, code));
    let mut buf = BytesMut::new();
    rej.encode_body(&mut buf);
    let body = message(&buf);
    assert!(body.is_error_response(), "{body:?}");
    assert_eq!(body.error_code(), Some(code));
    (rej, body)
}

pub(crate) fn body_text(r: &Rejection) -> String {
    let mut buf = BytesMut::new();
    r.encode_body(&mut buf);
    String::from_utf8(buf.to_vec()).unwrap()
}

pub(crate) fn int_id(n: i64) -> RequestId {
    RequestId::from_i64(n)
}
