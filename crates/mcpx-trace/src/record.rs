//! The recorder's state machine: HTTP exchanges in, trace events out. It owns exchange ids,
//! session keys (`"$" + key` for every `Mcp-Session-Id`, issued or echoed), grouping into users
//! and redaction; the proxy (I/O) only feeds it what passed through and writes what it returns.
//!
//! # Users
//! - A request with `Authorization: Bearer T` belongs to the user of `sha256-8(T)`; the same
//!   token after [`RecorderOptions::group_idle_us`] of silence starts a new user.
//! - Otherwise a request echoing a session id belongs to that session's user;
//! - otherwise an `initialize` starts a new user (one per session, as claude.ai's per-call
//!   sessions are separate conversations as far as the server can tell);
//! - otherwise (sessionless 2026-07-28 traffic without a token) the connection's user, with the
//!   same idle rule.
//!
//! # Call protocol
//! [`Recorder::request`] when a request's body is complete (it returns the exchange id), then
//! [`Recorder::response_head`]; for SSE one [`Recorder::sse_event`] per event and
//! [`Recorder::end`]; otherwise [`Recorder::response_body`] once. [`Recorder::error`] ends an
//! exchange that failed. Times are µs since the trace start, never decreasing.

use std::collections::HashMap;

use base64::Engine as _;
use http::HeaderMap;

use crate::event::{Dir, Event, Headers, Kind};
use crate::limits::{DEFAULT_GROUP_IDLE_S, MAX_RECORDER_KEYS, MAX_TRACED_BODY_BYTES};
use crate::redact::{self, Redact};
use crate::write::msg_of;

/// Request headers kept in a trace (PROFILE.md section 3), plus the `mcp-param-*` family
/// (2026-07-28 servers check them against the body, so replay must send them).
pub const KEPT_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "user-agent",
    "authorization",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "traceparent",
];

/// Response headers kept in a trace.
pub const KEPT_RESPONSE_HEADERS: &[&str] = &[
    "mcp-session-id",
    "allow",
    "www-authenticate",
    "retry-after",
    "location",
];

/// How the recorder groups and redacts.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RecorderOptions {
    /// Body redaction beyond secret-looking arguments.
    pub redact: Redact,
    /// Silence after which a token or connection starts a new user, µs.
    pub group_idle_us: u64,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            redact: Redact::default(),
            group_idle_us: DEFAULT_GROUP_IDLE_S * 1_000_000,
        }
    }
}

/// What the proxy should do with a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyMode {
    /// An SSE stream: feed each event, then the end.
    Sse,
    /// A whole body: collect it (up to [`MAX_TRACED_BODY_BYTES`]) and feed it once.
    Whole,
}

#[derive(Debug)]
struct Open {
    u: String,
    s: Option<String>,
    c: u64,
    status: u16,
    ct: Option<String>,
    hdr: Headers,
}

#[derive(Debug)]
struct Seen {
    user: String,
    last_us: u64,
}

/// The recorder (one per proxy; share it behind a lock: each call is a few map operations).
#[derive(Debug)]
pub struct Recorder {
    opts: RecorderOptions,
    next_x: u64,
    next_user: u64,
    /// Live session id -> (session key, user).
    sessions: HashMap<String, (String, String)>,
    /// Sessions issued per user (for the key suffix).
    per_user: HashMap<String, u32>,
    tokens: HashMap<String, Seen>,
    conns: HashMap<u64, Seen>,
    open: HashMap<u64, Open>,
}

impl Recorder {
    /// A recorder.
    pub fn new(opts: RecorderOptions) -> Self {
        Self {
            opts,
            next_x: 1,
            next_user: 1,
            sessions: HashMap::new(),
            per_user: HashMap::new(),
            tokens: HashMap::new(),
            conns: HashMap::new(),
            open: HashMap::new(),
        }
    }

    fn new_user(&mut self) -> String {
        let u = format!("u{}", self.next_user);
        self.next_user += 1;
        u
    }

    fn grouped(&mut self, now: u64, key: GroupKey<'_>) -> String {
        let idle = self.opts.group_idle_us;
        let (map_len, existing) = match key {
            GroupKey::Token(t) => (self.tokens.len(), self.tokens.get_mut(t)),
            GroupKey::Conn(c) => (self.conns.len(), self.conns.get_mut(&c)),
        };
        if let Some(seen) = existing
            && now.saturating_sub(seen.last_us) <= idle
        {
            seen.last_us = now;
            return seen.user.clone();
        }
        let user = self.new_user();
        let seen = Seen {
            user: user.clone(),
            last_us: now,
        };
        if map_len >= MAX_RECORDER_KEYS {
            // Bounded memory: forget everything idle (a later request starts a new user).
            self.tokens
                .retain(|_, s| now.saturating_sub(s.last_us) <= idle);
            self.conns
                .retain(|_, s| now.saturating_sub(s.last_us) <= idle);
        }
        match key {
            GroupKey::Token(t) => {
                self.tokens.insert(t.to_owned(), seen);
            }
            GroupKey::Conn(c) => {
                self.conns.insert(c, seen);
            }
        }
        user
    }

    fn session_key(&mut self, live: &str, user: &str) -> String {
        if let Some((key, _)) = self.sessions.get(live) {
            return key.clone();
        }
        let n = self.per_user.entry(user.to_owned()).or_insert(0);
        *n += 1;
        let key = format!("{user}s{n}");
        if self.sessions.len() >= MAX_RECORDER_KEYS {
            self.sessions.clear();
        }
        self.sessions
            .insert(live.to_owned(), (key.clone(), user.to_owned()));
        key
    }

    /// A request whose body is complete: its exchange id and its `req` event.
    pub fn request(
        &mut self,
        now: u64,
        conn: u64,
        method: &http::Method,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (u64, Event) {
        let x = self.next_x;
        self.next_x += 1;
        let auth = header_str(headers, "authorization");
        let token = auth.and_then(redact::bearer_hash);
        let live_session = header_str(headers, "mcp-session-id");
        let msg = msg_of(body);
        let is_initialize = msg.as_ref().is_some_and(|m| {
            crate::json::find(m.get().as_bytes(), &["method"])
                .and_then(|r| m.get().get(r))
                .is_some_and(|v| v == "\"initialize\"")
        });
        let user = match (&token, live_session) {
            (Some(t), _) => self.grouped(now, GroupKey::Token(t)),
            (None, Some(sid)) => match self.sessions.get(sid) {
                Some((_, u)) => u.clone(),
                None => self.new_user(),
            },
            (None, None) if is_initialize => self.new_user(),
            (None, None) => self.grouped(now, GroupKey::Conn(conn)),
        };
        let s = live_session.map(|sid| self.session_key(sid, &user));
        let mut ev = Event::new(now, user.clone(), Dir::C2s, Kind::Req);
        ev.x = Some(x);
        ev.c = Some(conn);
        ev.s = s.clone();
        ev.http = Some(method.as_str().to_owned());
        ev.hdr = self.kept(headers, KEPT_REQUEST_HEADERS, true);
        ev.bytes = Some(body.len() as u64);
        self.set_body(&mut ev, body, msg, true);
        self.open.insert(
            x,
            Open {
                u: user,
                s,
                c: conn,
                status: 0,
                ct: None,
                hdr: Headers::default(),
            },
        );
        (x, ev)
    }

    fn kept(&mut self, headers: &HeaderMap, names: &[&str], request: bool) -> Headers {
        let mut out = Headers::default();
        for (name, value) in headers {
            let n = name.as_str();
            let keep = names.contains(&n) || (request && n.starts_with("mcp-param-"));
            if !keep {
                continue;
            }
            let Ok(v) = value.to_str() else { continue };
            let v = match n {
                "mcp-session-id" => format!(
                    "${}",
                    self.sessions
                        .get(v)
                        .map_or_else(|| v.to_owned(), |(k, _)| k.clone())
                ),
                _ => redact::header_value(n, v),
            };
            out.0.push((n.to_owned(), v));
        }
        out
    }

    fn set_body(
        &self,
        ev: &mut Event,
        body: &[u8],
        msg: Option<Box<serde_json::value::RawValue>>,
        redact_args: bool,
    ) {
        if body.is_empty() || body.len() > MAX_TRACED_BODY_BYTES {
            return;
        }
        match msg {
            Some(m) => {
                let red = redact_args
                    .then(|| redact::message(m.get(), self.opts.redact))
                    .flatten();
                ev.msg = match red {
                    Some(r) => serde_json::value::RawValue::from_string(r).ok(),
                    None => Some(m),
                };
            }
            None => {
                ev.raw_b64 = Some(base64::engine::general_purpose::STANDARD.encode(body));
            }
        }
    }

    /// The response head of exchange `x`: how to treat the body, and the `head` event for SSE.
    pub fn response_head(
        &mut self,
        now: u64,
        x: u64,
        status: u16,
        headers: &HeaderMap,
    ) -> (BodyMode, Option<Event>) {
        // A new session id on a response is issued here: key it for the exchange's user.
        if let Some(sid) = header_str(headers, "mcp-session-id")
            && let Some(user) = self.open.get(&x).map(|o| o.u.clone())
        {
            let key = self.session_key(sid, &user);
            if let Some(o) = self.open.get_mut(&x) {
                o.s.get_or_insert(key);
            }
        }
        let ct = header_str(headers, "content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let hdr = self.kept(headers, KEPT_RESPONSE_HEADERS, false);
        let Some(o) = self.open.get_mut(&x) else {
            return (BodyMode::Whole, None);
        };
        let sse = ct.as_deref().is_some_and(is_event_stream);
        o.status = status;
        o.ct = ct;
        o.hdr = hdr;
        if !sse {
            return (BodyMode::Whole, None);
        }
        let mut ev = self.base(now, x, Dir::S2c, Kind::Head);
        if let Some(o) = self.open.get(&x) {
            ev.status = Some(o.status);
            ev.ct.clone_from(&o.ct);
            ev.hdr = o.hdr.clone();
        }
        (BodyMode::Sse, Some(ev))
    }

    /// A whole response body (`total` bytes, of which `body` is what was kept): the `resp`
    /// event; the exchange is over.
    pub fn response_body(&mut self, now: u64, x: u64, body: &[u8], total: u64) -> Event {
        let mut ev = self.base(now, x, Dir::S2c, Kind::Resp);
        if let Some(o) = self.open.remove(&x) {
            ev.status = Some(o.status);
            ev.ct = o.ct;
            ev.hdr = o.hdr;
        }
        ev.bytes = Some(total);
        if total == body.len() as u64 {
            self.set_body(&mut ev, body, msg_of(body), false);
        }
        ev
    }

    /// One SSE event of exchange `x` (its `id:` if it had one, `retry:` if set, its data).
    pub fn sse_event(
        &mut self,
        now: u64,
        x: u64,
        id: Option<&str>,
        retry: Option<u64>,
        data: &[u8],
    ) -> Event {
        let mut ev = self.base(now, x, Dir::S2c, Kind::Sse);
        ev.sse = Some(id.unwrap_or_default().to_owned());
        ev.retry = retry;
        ev.bytes = Some(data.len() as u64);
        if !data.is_empty() {
            self.set_body(&mut ev, data, msg_of(data), false);
        }
        ev
    }

    /// The end of exchange `x`'s stream, closed by `by` after `bytes` body bytes.
    pub fn end(&mut self, now: u64, x: u64, by: Dir, bytes: u64) -> Event {
        let mut ev = self.base(now, x, by, Kind::End);
        ev.bytes = Some(bytes);
        self.open.remove(&x);
        ev
    }

    /// Exchange `x` failed (`connect`, `tls`, `reset`, `timeout`, `decode`) on side `by`.
    pub fn error(&mut self, now: u64, x: u64, by: Dir, what: &str) -> Event {
        let mut ev = self.base(now, x, by, Kind::Err);
        ev.err = Some(what.to_owned());
        self.open.remove(&x);
        ev
    }

    /// Exchanges still open.
    pub fn open_exchanges(&self) -> usize {
        self.open.len()
    }

    fn base(&self, now: u64, x: u64, d: Dir, k: Kind) -> Event {
        let (u, s, c) = self.open.get(&x).map_or((String::new(), None, None), |o| {
            (o.u.clone(), o.s.clone(), Some(o.c))
        });
        let mut ev = Event::new(now, u, d, k);
        ev.x = Some(x);
        ev.s = s;
        ev.c = c;
        ev
    }
}

#[derive(Clone, Copy)]
enum GroupKey<'a> {
    Token(&'a str),
    Conn(u64),
}

/// Whether a `Content-Type` value names an SSE stream (`text/event-stream`, parameters and
/// case aside). The recorder and the proxy in front of it decide with this one function, so a
/// body is framed the same way on both sides.
pub fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("text/event-stream")
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use http::{HeaderValue, Method};

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn sessions_get_keys_and_users() {
        let mut r = Recorder::new(RecorderOptions::default());
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#;
        let (x1, req) = r.request(0, 1, &Method::POST, &h(&[("accept", "*/*")]), init);
        assert_eq!(req.u, "u1");
        assert_eq!(req.s, None);
        let (mode, head) = r.response_head(
            10,
            x1,
            200,
            &h(&[
                ("mcp-session-id", "LIVE-1"),
                ("content-type", "application/json"),
            ]),
        );
        assert_eq!(mode, BodyMode::Whole);
        assert!(head.is_none());
        let resp = r.response_body(11, x1, b"{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}", 34);
        assert_eq!(resp.hdr.get("mcp-session-id"), Some("$u1s1"));
        assert_eq!(resp.s.as_deref(), Some("u1s1"));
        // An echo of the session: same user, key written with `$`.
        let (x2, req) = r.request(
            20,
            2,
            &Method::GET,
            &h(&[("mcp-session-id", "LIVE-1")]),
            b"",
        );
        assert_eq!((req.u.as_str(), req.s.as_deref()), ("u1", Some("u1s1")));
        assert_eq!(req.hdr.get("mcp-session-id"), Some("$u1s1"));
        let (mode, head) =
            r.response_head(21, x2, 200, &h(&[("content-type", "text/event-stream")]));
        assert_eq!(mode, BodyMode::Sse);
        assert_eq!(head.unwrap().k, Kind::Head);
        let ev = r.sse_event(
            22,
            x2,
            Some("7"),
            None,
            b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}",
        );
        assert_eq!(ev.sse.as_deref(), Some("7"));
        let end = r.end(30, x2, Dir::C2s, 99);
        assert_eq!(end.d, Dir::C2s);
        assert_eq!(r.open_exchanges(), 0);
        // A second initialize without token: a new user.
        let (_, req) = r.request(40, 1, &Method::POST, &HeaderMap::new(), init);
        assert_eq!(req.u, "u2");
    }

    #[test]
    fn tokens_group_and_are_redacted() {
        let mut r = Recorder::new(RecorderOptions::default());
        let auth = h(&[("authorization", "Bearer s3cr3t"), ("cookie", "a=b")]);
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"api_token":"zzz"}}}"#;
        let (_, a) = r.request(0, 1, &Method::POST, &auth, body);
        let (_, b) = r.request(1_000_000, 2, &Method::POST, &auth, body);
        assert_eq!(a.u, b.u);
        let line = serde_json::to_string(&a).unwrap();
        assert!(
            !line.contains("s3cr3t") && !line.contains("zzz") && !line.contains("a=b"),
            "{line}"
        );
        // Idle past the gap: a new user.
        let (_, c) = r.request(1_000_000 + 301_000_000, 2, &Method::POST, &auth, body);
        assert_ne!(c.u, a.u);
        // Not JSON: raw_b64.
        let (_, d) = r.request(
            400_000_000,
            3,
            &Method::POST,
            &HeaderMap::new(),
            b"\xff\xfe",
        );
        assert!(d.msg.is_none() && d.raw_b64.is_some());
    }
}
