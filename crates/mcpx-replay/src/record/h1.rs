//! The inline HTTP/1.1 path of `mcpx record`: a plain (not TLS) inbound HTTP/1.1 connection is
//! served by hand in its own task, with no hyper server, no hyper client and no body adapters
//! between the two sockets.
//!
//! Why: the proxy's cost per exchange is what it adds to every request its users make. Through
//! hyper a request crossed a server connection, a service future, a client `SendRequest`, a
//! client connection and two boxed bodies; here it is one read, one parse, one write each way
//! (the head and the bytes that came with it leave in one write).
//!
//! This module owns, per inbound connection:
//! - reading request heads (httparse) and bodies (`Content-Length` or chunked, bounded by
//!   [`MAX_REQUEST_BODY_BYTES`]), with `Expect: 100-continue` answered here;
//! - its upstream HTTP/1.1 connection, opened at the first request and reused while both sides
//!   keep it alive (reopened once when a reused one turns out closed before the request left);
//! - forwarding: the request head rewritten (origin-form target, the upstream's `Host`,
//!   hop-by-hop headers dropped, the body's own length) with the body bytes as they came; the
//!   response head the same way back, its body streamed to the client piece by piece as it
//!   arrives (re-chunked when the upstream chunks it or ends it by closing), so SSE events are
//!   never held back;
//! - the observations the trace writer needs (the request, the response head with the headers
//!   the trace keeps, SSE frames or the whole body, the end), and the end of an exchange the
//!   client abandoned ([`Traced`]'s drop).
//!
//! Everything else (h2c prior knowledge, TLS, an h2c upstream) goes through hyper in the parent
//! module, with the same observations.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mcpx_client::http1::{BodyDecoder, BodyKind, Decoded};
use mcpx_trace::Dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{BodyTrace, HOP_BY_HOP, Shared};
use crate::limits::{
    CLIENT_READ_TIMEOUT, INBOUND_IDLE_TIMEOUT, MAX_HTTP1_HEAD_BYTES, MAX_HTTP1_HEADERS,
    MAX_INTERIM_RESPONSES, MAX_REQUEST_BODY_BYTES, REFUSAL_LINGER, REFUSAL_LINGER_BYTES,
};
use crate::tracefile::{HeadObs, Obs};

/// Room one socket read asks for: an MCP request or JSON reply and its head arrive in one read.
const READ_CHUNK: usize = 8 << 10;

/// What a new plain connection opens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preface {
    /// The HTTP/2 connection preface (h2c with prior knowledge): only the hyper path speaks it.
    Http2,
    /// Anything else: HTTP/1.x.
    Http1,
    /// The client left, or sent nothing in time, or the recording is closing.
    Gone,
}

/// Looks at the first bytes of a connection without taking them (they stay for whoever serves
/// it).
pub(super) async fn preface(socket: &TcpStream, closing: &mut watch::Receiver<bool>) -> Preface {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0";
    let mut first = [0u8; 4];
    let look = async {
        // A client sends its first bytes in one segment; a few bytes at a time is rare, and
        // each retry waits a millisecond (a peek returns the same bytes at once).
        for _ in 0..100 {
            let Ok(n) = socket.peek(&mut first).await else {
                return Preface::Gone;
            };
            if n == 0 {
                return Preface::Gone;
            }
            if PREFACE.get(..n) != first.get(..n) {
                return Preface::Http1;
            }
            if n == first.len() {
                return Preface::Http2;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Preface::Http1
    };
    tokio::select! {
        r = tokio::time::timeout(INBOUND_IDLE_TIMEOUT, look) => r.unwrap_or(Preface::Gone),
        _ = closing.wait_for(|c| *c) => Preface::Gone,
    }
}

/// Serves one plain inbound HTTP/1.1 connection until either side closes it, it idles out, or
/// the recording shuts down between two exchanges.
pub(super) async fn serve(
    shared: Arc<Shared>,
    conn: u64,
    io: TcpStream,
    mut closing: watch::Receiver<bool>,
) {
    let mut inbound = Inbound {
        io,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: Vec::with_capacity(READ_CHUNK),
    };
    let mut upstream: Option<Upstream> = None;
    loop {
        let req = match inbound.read_request(&mut closing).await {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(refusal) => {
                if inbound
                    .io
                    .write_all(refusal.response().as_bytes())
                    .await
                    .is_ok()
                {
                    linger(&mut inbound.io).await;
                }
                return;
            }
        };
        let closing_now = *closing.borrow();
        match exchange(&shared, conn, &mut inbound, &mut upstream, req, closing_now).await {
            After::KeepAlive if !*closing.borrow() => {}
            _ => return,
        }
    }
}

/// Closes after a refusal without losing it: our side is shut down (the client reads the
/// answer, then EOF) and what the client still sends is read and dropped, within
/// [`REFUSAL_LINGER`] and [`REFUSAL_LINGER_BYTES`].
async fn linger(io: &mut TcpStream) {
    let _ = io.shutdown().await;
    let mut sink = vec![0u8; READ_CHUNK];
    let mut left = REFUSAL_LINGER_BYTES;
    let drain = async {
        while left > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}

/// A request the proxy refuses before forwarding it; the connection closes after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Not HTTP/1.x, or framing the proxy will not guess at.
    BadRequest,
    /// Head over [`MAX_HTTP1_HEAD_BYTES`] or [`MAX_HTTP1_HEADERS`].
    HeadTooLarge,
    /// Body over [`MAX_REQUEST_BODY_BYTES`].
    BodyTooLarge,
}

impl Refusal {
    fn response(self) -> &'static str {
        match self {
            Self::BadRequest => {
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 32\r\nconnection: close\r\n\r\nmcpx record: malformed request\r\n"
            }
            Self::HeadTooLarge => {
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\ncontent-length: 37\r\nconnection: close\r\n\r\nmcpx record: request head too large\r\n"
            }
            Self::BodyTooLarge => {
                "HTTP/1.1 413 Content Too Large\r\ncontent-type: text/plain\r\ncontent-length: 40\r\nconnection: close\r\n\r\nrequest body too large for mcpx record\r\n"
            }
        }
    }
}

/// Answer to a request whose upstream failed before its response head (counted, traced).
const BAD_GATEWAY: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 30\r\n\r\nmcpx record: upstream failed\r\n";

/// Where a header lies in a head's bytes.
#[derive(Clone, Copy, Debug)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

impl Span {
    /// The offsets of httparse's slices into `base` (they always point into it).
    fn of(base: &[u8], h: &httparse::Header<'_>) -> Self {
        let start = base.as_ptr() as usize;
        // httparse's slices always point into `base`; wrapping keeps even a broken promise
        // from panicking (the spans then fall outside the head, and `get` yields nothing).
        let n = (h.name.as_ptr() as usize).wrapping_sub(start);
        let v = (h.value.as_ptr() as usize).wrapping_sub(start);
        Self {
            name: (n, n.wrapping_add(h.name.len())),
            value: (v, v.wrapping_add(h.value.len())),
        }
    }

    fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.name.0..self.name.1).unwrap_or_default()
    }

    fn value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.value.0..self.value.1).unwrap_or_default()
    }
}

/// What the framing and connection headers of a head said.
#[derive(Debug, Default)]
struct Framing {
    /// `Transfer-Encoding` present: whether its last coding is chunked.
    chunked: Option<bool>,
    /// `Content-Length` (all copies agree).
    length: Option<u64>,
    /// `Connection: close`.
    close: bool,
    /// `Connection: keep-alive` (matters for HTTP/1.0).
    keep_alive: bool,
    /// Other names listed in `Connection`: hop-by-hop for this message.
    named: Vec<Vec<u8>>,
}

impl Framing {
    /// Reads the framing headers among `spans`; `Err` on contradicting lengths.
    fn read(raw: &[u8], spans: &[Span]) -> Result<Self, ()> {
        let mut f = Self::default();
        for s in spans {
            let (name, value) = (s.name(raw), s.value(raw));
            if name.eq_ignore_ascii_case(b"connection") {
                for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        f.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        f.keep_alive = true;
                    } else if !token.is_empty() {
                        f.named.push(token.to_ascii_lowercase());
                    }
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
                f.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"content-length") {
                for part in value.split(|&b| b == b',') {
                    let n = mcpx_wire::parse_decimal(part.trim_ascii()).ok_or(())?;
                    if f.length.is_some_and(|l| l != n) {
                        return Err(());
                    }
                    f.length = Some(n);
                }
            }
        }
        Ok(f)
    }

    /// Whether a header is the proxy's to write (framing) or not to be forwarded (hop-by-hop,
    /// including the names `Connection` lists).
    fn is_own(&self, name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"content-length")
            || HOP_BY_HOP
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
            || self.named.iter().any(|n| name.eq_ignore_ascii_case(n))
    }
}

/// The headers of `spans` that the trace writer reads (`keep`), as a header map (sharing the
/// head's bytes). Only these are cloned into an observation: the writer drops the rest.
fn observed(raw: &Bytes, spans: &[Span], keep: impl Fn(&str) -> bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for s in spans {
        let Ok(name) = HeaderName::from_bytes(s.name(raw)) else {
            continue;
        };
        if !keep(name.as_str()) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_maybe_shared(raw.slice(s.value.0..s.value.1)) {
            out.append(name, v);
        }
    }
    out
}

fn kept_request_header(name: &str) -> bool {
    mcpx_trace::record::KEPT_REQUEST_HEADERS.contains(&name) || name.starts_with("mcp-param-")
}

fn kept_response_header(name: &str) -> bool {
    name == "content-type" || mcpx_trace::record::KEPT_RESPONSE_HEADERS.contains(&name)
}

/// Appends the header lines of `spans` that are not `framing`'s own.
fn put_forwarded(out: &mut Vec<u8>, raw: &[u8], spans: &[Span], framing: &Framing) {
    for s in spans {
        let name = s.name(raw);
        if framing.is_own(name) {
            continue;
        }
        out.put_slice(name);
        out.put_slice(b": ");
        out.put_slice(s.value(raw));
        out.put_slice(b"\r\n");
    }
}

/// A parsed request head.
struct RequestHead {
    method: Method,
    /// The head's bytes; `target` and `spans` point into it.
    raw: Bytes,
    target: (usize, usize),
    spans: Vec<Span>,
    framing: Framing,
    body: BodyKind,
    /// HTTP/1.0: the connection closes after the response (no chunked coding there).
    http10: bool,
    /// `Expect: 100-continue` (answered here, not forwarded).
    expect_continue: bool,
    /// The client sent a `Content-Length` or chunked body, even an empty one: the upstream
    /// gets a `Content-Length` too.
    framed: bool,
}

impl RequestHead {
    /// The request target in origin form (an absolute-form target loses its scheme and host:
    /// the upstream is fixed).
    fn path<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        let t = raw.get(self.target.0..self.target.1).unwrap_or_default();
        if t.first() == Some(&b'/') {
            return t;
        }
        // `http://host[:port]/path?query` -> `/path?query`.
        let Some(after_scheme) = t.windows(3).position(|w| w == b"://") else {
            return t;
        };
        let rest = t.get(after_scheme + 3..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'/' || b == b'?') {
            Some(p) => rest.get(p..).unwrap_or(b"/"),
            None => b"/",
        }
    }
}

/// Parses the request head at the front of `buf` (removing it). `Ok(None)`: not complete yet.
fn parse_request_head(buf: &mut BytesMut) -> Result<Option<RequestHead>, Refusal> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HTTP1_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HTTP1_HEAD_BYTES => {
            return Err(Refusal::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::HeadTooLarge),
        Err(_) => return Err(Refusal::BadRequest),
    };
    if n > MAX_HTTP1_HEAD_BYTES {
        return Err(Refusal::HeadTooLarge);
    }
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| Refusal::BadRequest)?;
    let base: &[u8] = buf;
    let start = base.as_ptr() as usize;
    let target = req.path.unwrap_or("/");
    let t0 = (target.as_ptr() as usize).wrapping_sub(start);
    let target = (t0, t0.wrapping_add(target.len()));
    let spans: Vec<Span> = req.headers.iter().map(|h| Span::of(base, h)).collect();
    let http10 = req.version == Some(0);
    let raw = buf.split_to(n).freeze();
    let framing = Framing::read(&raw, &spans).map_err(|()| Refusal::BadRequest)?;
    let expect_continue = spans.iter().any(|s| {
        s.name(&raw).eq_ignore_ascii_case(b"expect")
            && s.value(&raw)
                .trim_ascii()
                .eq_ignore_ascii_case(b"100-continue")
    });
    let body = match (framing.chunked, framing.length) {
        // Both, or a coding other than chunked last: the classic smuggling ambiguity, refused
        // (RFC 9112 6.1 lets a server reject it).
        (Some(_), Some(_)) | (Some(false), None) => return Err(Refusal::BadRequest),
        (Some(true), None) => BodyKind::Chunked,
        (None, Some(n)) if n > MAX_REQUEST_BODY_BYTES as u64 => {
            return Err(Refusal::BodyTooLarge);
        }
        (None, Some(0)) | (None, None) => BodyKind::Empty,
        (None, Some(n)) => BodyKind::Length(n),
    };
    let framed = framing.chunked.is_some() || framing.length.is_some();
    Ok(Some(RequestHead {
        method,
        raw,
        target,
        spans,
        framing,
        body,
        http10,
        expect_continue,
        framed,
    }))
}

/// A complete request: head and body.
struct Request {
    head: RequestHead,
    body: Bytes,
}

/// The client side of the connection.
struct Inbound {
    io: TcpStream,
    /// Bytes read and not yet consumed (a pipelined next request stays here).
    rbuf: BytesMut,
    wbuf: Vec<u8>,
}

impl Inbound {
    /// Reads the next request. `Ok(None)`: the client closed, idled out or the recording is
    /// closing, with no request started.
    async fn read_request(
        &mut self,
        closing: &mut watch::Receiver<bool>,
    ) -> Result<Option<Request>, Refusal> {
        let mut deadline: Option<Instant> = None;
        let head = loop {
            if let Some(head) = parse_request_head(&mut self.rbuf)? {
                break head;
            }
            if self.rbuf.is_empty() {
                // Between requests: idle, and the first to go when the recording closes.
                if *closing.borrow() {
                    return Ok(None);
                }
                self.rbuf.reserve(READ_CHUNK);
                let read = tokio::select! {
                    r = tokio::time::timeout(INBOUND_IDLE_TIMEOUT, self.io.read_buf(&mut self.rbuf)) => r,
                    _ = closing.wait_for(|c| *c) => return Ok(None),
                };
                match read {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return Ok(None),
                }
            } else {
                let d = *deadline.get_or_insert_with(|| Instant::now() + CLIENT_READ_TIMEOUT);
                self.rbuf.reserve(READ_CHUNK);
                match tokio::time::timeout_at(d, self.io.read_buf(&mut self.rbuf)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    // A head cut off: nothing to answer to.
                    _ => return Ok(None),
                }
            }
        };
        if head.expect_continue && head.body != BodyKind::Empty && self.rbuf.is_empty() {
            let _ = self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        let Some(body) = self.read_body(head.body).await? else {
            return Ok(None);
        };
        Ok(Some(Request { head, body }))
    }

    /// Reads a request body whole. `Ok(None)`: the client left or stalled mid-body.
    async fn read_body(&mut self, kind: BodyKind) -> Result<Option<Bytes>, Refusal> {
        if kind == BodyKind::Empty {
            return Ok(Some(Bytes::new()));
        }
        // The common case: a Content-Length body already read with its head leaves as a
        // slice of the read buffer, no copy.
        if let BodyKind::Length(n) = kind
            && let Ok(n) = usize::try_from(n)
            && self.rbuf.len() >= n
        {
            return Ok(Some(self.rbuf.split_to(n).freeze()));
        }
        let mut dec = BodyDecoder::new(kind);
        let mut body = BytesMut::new();
        loop {
            match dec.decode(&mut self.rbuf) {
                Ok(Decoded::Data(d)) => {
                    if body.len() + d.len() > MAX_REQUEST_BODY_BYTES {
                        return Err(Refusal::BodyTooLarge);
                    }
                    body.extend_from_slice(&d);
                }
                Ok(Decoded::NeedMore) => {
                    self.rbuf.reserve(READ_CHUNK);
                    match tokio::time::timeout(
                        CLIENT_READ_TIMEOUT,
                        self.io.read_buf(&mut self.rbuf),
                    )
                    .await
                    {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => return Ok(None),
                    }
                }
                Ok(Decoded::Done) => return Ok(Some(body.freeze())),
                Ok(_) | Err(_) => return Err(Refusal::BadRequest),
            }
        }
    }
}

/// The connection's upstream HTTP/1.1 connection.
struct Upstream {
    io: TcpStream,
    rbuf: BytesMut,
}

impl Upstream {
    async fn connect(shared: &Shared) -> Result<Self, &'static str> {
        Ok(Self {
            io: super::connect_upstream(shared).await?,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
        })
    }

    /// Whether an idle connection can carry another request: nothing unread, not closed by the
    /// server (a non-blocking probe).
    fn is_reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        self.rbuf.is_empty()
            && matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// What the connection does after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// One exchange's response side in the trace; dropped unfinished (the client left, or the
/// recording's drain ran out), it ends the exchange as the client's doing.
struct Traced(BodyTrace);

impl std::ops::Deref for Traced {
    type Target = BodyTrace;
    fn deref(&self) -> &BodyTrace {
        &self.0
    }
}

impl std::ops::DerefMut for Traced {
    fn deref_mut(&mut self) -> &mut BodyTrace {
        &mut self.0
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.0.client_gone();
    }
}

/// Forwards one request and its response; says whether the inbound connection goes on.
async fn exchange(
    shared: &Arc<Shared>,
    conn: u64,
    inbound: &mut Inbound,
    upstream: &mut Option<Upstream>,
    req: Request,
    closing: bool,
) -> After {
    let Request { head, body } = req;
    let headers = observed(&head.raw, &head.spans, kept_request_header);
    let id = shared.begin_exchange(conn, head.method.clone(), headers, &body);
    let mut traced = Traced(BodyTrace::new(shared.clone(), id, false));
    let mut out = std::mem::take(&mut inbound.wbuf);
    out.clear();
    encode_upstream_request(&mut out, shared, &head, &body);
    let sent = send_upstream(shared, upstream, &out).await;
    inbound.wbuf = out;
    let mut up = match sent {
        Ok(up) => up,
        Err(what) => return upstream_failed(&mut traced, inbound, what, &head, closing).await,
    };
    // The response head; a client that leaves meanwhile ends the exchange.
    let resp = loop {
        match parse_response_head(&mut up.rbuf, &head.method) {
            Ok(Some(r)) => break r,
            Ok(None) => {}
            Err(()) => {
                return upstream_failed(&mut traced, inbound, "reset", &head, closing).await;
            }
        }
        match read_upstream(&mut up, inbound).await {
            Woke::Upstream(n) if n > 0 => {}
            Woke::Upstream(_) => {
                return upstream_failed(&mut traced, inbound, "reset", &head, closing).await;
            }
            Woke::ClientGone => {
                traced.client_gone();
                return After::Close;
            }
        }
    };
    traced.sse = resp.sse;
    shared.trace.push(Obs::Head(Box::new(HeadObs {
        t: shared.trace.now(),
        id,
        status: resp.status,
        headers: observed(&resp.raw, &resp.spans, kept_response_header),
    })));
    // How the body reaches the client: its length when the upstream gave one; otherwise
    // chunked to an HTTP/1.1 client, or until close to an HTTP/1.0 one.
    let rechunk = matches!(resp.body, BodyKind::Chunked | BodyKind::Close) && !head.http10;
    // HTTP/1.0 clients get no chunked coding and no keep-alive: their connection closes
    // after the answer (which also delimits a body the upstream ended by closing).
    let client_close = closing || head.http10 || head.framing.close;
    let mut out = std::mem::take(&mut inbound.wbuf);
    out.clear();
    encode_response_head(&mut out, &resp, rechunk, client_close);
    let mut dec = BodyDecoder::new(resp.body);
    let upstream_reusable = resp.keep_alive;
    let result = loop {
        match dec.decode(&mut up.rbuf) {
            Ok(Decoded::Data(d)) => {
                traced.on_data(&d);
                if rechunk {
                    let _ = write!(out, "{:x}\r\n", d.len());
                    out.put_slice(&d);
                    out.put_slice(b"\r\n");
                } else {
                    out.put_slice(&d);
                }
            }
            Ok(Decoded::NeedMore) => {
                // What arrived so far goes out now: an SSE event is never held back.
                if !out.is_empty() {
                    if inbound.io.write_all(&out).await.is_err() {
                        break Err(Dir::C2s);
                    }
                    out.clear();
                }
                match read_upstream(&mut up, inbound).await {
                    Woke::Upstream(n) if n > 0 => {}
                    Woke::Upstream(_) => {
                        if dec.eof().is_err() {
                            break Err(Dir::S2c);
                        }
                    }
                    Woke::ClientGone => break Err(Dir::C2s),
                }
            }
            Ok(Decoded::Done) => {
                if rechunk {
                    out.put_slice(b"0\r\n\r\n");
                }
                if inbound.io.write_all(&out).await.is_err() {
                    break Err(Dir::C2s);
                }
                break Ok(());
            }
            Ok(_) | Err(_) => break Err(Dir::S2c),
        }
    };
    if out.capacity() > 4 * READ_CHUNK {
        out = Vec::with_capacity(READ_CHUNK);
    }
    out.clear();
    inbound.wbuf = out;
    match result {
        Ok(()) => {
            traced.end(Dir::S2c, None);
            if upstream_reusable && up.rbuf.is_empty() {
                *upstream = Some(up);
            }
            if client_close {
                After::Close
            } else {
                After::KeepAlive
            }
        }
        Err(Dir::C2s) => {
            traced.client_gone();
            After::Close
        }
        Err(_) => {
            // The upstream broke the body off: the client sees its connection close, as a
            // proxy cannot tell it otherwise once the head has left.
            traced.end(Dir::S2c, Some("reset"));
            After::Close
        }
    }
}

/// Writes the upstream request: origin-form target, the upstream's `Host`, the client's
/// headers minus hop-by-hop and framing, the body's length, the body.
fn encode_upstream_request(out: &mut Vec<u8>, shared: &Shared, head: &RequestHead, body: &[u8]) {
    let raw = &head.raw[..];
    out.reserve(raw.len() + 64 + body.len());
    out.put_slice(head.method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.path(raw));
    out.put_slice(b" HTTP/1.1\r\nhost: ");
    out.put_slice(shared.upstream_authority.as_str().as_bytes());
    out.put_slice(b"\r\n");
    for s in &head.spans {
        let name = s.name(raw);
        if head.framing.is_own(name)
            || name.eq_ignore_ascii_case(b"host")
            || name.eq_ignore_ascii_case(b"expect")
        {
            continue;
        }
        out.put_slice(name);
        out.put_slice(b": ");
        out.put_slice(s.value(raw));
        out.put_slice(b"\r\n");
    }
    if head.framed || !body.is_empty() {
        out.put_slice(b"content-length: ");
        out.put_slice(mcpx_wire::Decimal::new(body.len() as u64).as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    out.put_slice(body);
}

/// Writes `request` on the connection's upstream connection (opening one when there is none or
/// the idle one was closed; a reused one that fails the write is replaced once: the request
/// never reached the server).
async fn send_upstream(
    shared: &Shared,
    upstream: &mut Option<Upstream>,
    request: &[u8],
) -> Result<Upstream, &'static str> {
    let reused = upstream.take().filter(Upstream::is_reusable);
    if let Some(mut up) = reused
        && up.io.write_all(request).await.is_ok()
    {
        return Ok(up);
    }
    let mut up = Upstream::connect(shared).await?;
    up.io.write_all(request).await.map_err(|_| "reset")?;
    Ok(up)
}

/// Answers 502 for an exchange whose upstream failed before its head (counted, ended in the
/// trace as failed by the server side).
async fn upstream_failed(
    traced: &mut Traced,
    inbound: &mut Inbound,
    what: &'static str,
    head: &RequestHead,
    closing: bool,
) -> After {
    traced
        .shared
        .upstream_errors
        .fetch_add(1, Ordering::Relaxed);
    traced.end(Dir::S2c, Some(what));
    if inbound.io.write_all(BAD_GATEWAY).await.is_err()
        || closing
        || head.http10
        || head.framing.close
    {
        return After::Close;
    }
    After::KeepAlive
}

/// What woke a wait on the upstream.
enum Woke {
    /// Bytes read from the upstream (0: it closed).
    Upstream(usize),
    /// The client closed its side (or its connection failed).
    ClientGone,
}

/// Reads from the upstream while watching the client: a client that closes mid-exchange ends
/// it (and its upstream connection) at once. Bytes the client pipelines meanwhile are kept, up
/// to a head's bound; past that the client is not read until the exchange ends.
async fn read_upstream(up: &mut Upstream, inbound: &mut Inbound) -> Woke {
    loop {
        up.rbuf.reserve(READ_CHUNK);
        if inbound.rbuf.len() >= MAX_HTTP1_HEAD_BYTES {
            return Woke::Upstream(up.io.read_buf(&mut up.rbuf).await.unwrap_or(0));
        }
        tokio::select! {
            biased;
            r = up.io.read_buf(&mut up.rbuf) => return Woke::Upstream(r.unwrap_or(0)),
            r = inbound.io.readable() => {
                if r.is_err() {
                    return Woke::ClientGone;
                }
                inbound.rbuf.reserve(READ_CHUNK);
                match inbound.io.try_read_buf(&mut inbound.rbuf) {
                    Ok(0) => return Woke::ClientGone,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return Woke::ClientGone,
                }
            }
        }
    }
}

/// A parsed final response head.
struct ResponseHead {
    status: u16,
    raw: Bytes,
    reason: (usize, usize),
    spans: Vec<Span>,
    framing: Framing,
    body: BodyKind,
    /// The upstream connection may carry another request after this body.
    keep_alive: bool,
    /// `text/event-stream`: the body's frames go to the trace one by one.
    sse: bool,
}

/// Parses the upstream's response head at the front of `buf` (skipping interim responses,
/// removing what it parsed). `Ok(None)`: not complete yet; `Err`: not a response the proxy can
/// forward.
fn parse_response_head(buf: &mut BytesMut, method: &Method) -> Result<Option<ResponseHead>, ()> {
    for _ in 0..=MAX_INTERIM_RESPONSES {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HTTP1_HEADERS];
        let mut resp = httparse::Response::new(&mut slots);
        let n = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) if n <= MAX_HTTP1_HEAD_BYTES => n,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HTTP1_HEAD_BYTES => {
                return Ok(None);
            }
            _ => return Err(()),
        };
        let status = resp.code.unwrap_or(0);
        if (100..200).contains(&status) {
            // 101 needs an Upgrade, which the proxy never forwards; other 1xx are skipped.
            if status == 101 {
                return Err(());
            }
            let _ = buf.split_to(n);
            continue;
        }
        if !(200..1000).contains(&status) {
            return Err(());
        }
        let base: &[u8] = buf;
        let start = base.as_ptr() as usize;
        let reason = resp.reason.unwrap_or_default();
        let r0 = (reason.as_ptr() as usize).wrapping_sub(start);
        let reason = if reason.is_empty() {
            (0, 0)
        } else {
            (r0, r0.wrapping_add(reason.len()))
        };
        let spans: Vec<Span> = resp.headers.iter().map(|h| Span::of(base, h)).collect();
        let http11 = resp.version == Some(1);
        let raw = buf.split_to(n).freeze();
        let framing = Framing::read(&raw, &spans)?;
        let no_body = *method == Method::HEAD || status == 204 || status == 304;
        let (body, reusable_framing) = match (no_body, framing.chunked, framing.length) {
            (true, _, _) => (BodyKind::Empty, true),
            // Transfer-Encoding overrides Content-Length, and such a message must not be
            // followed on the same connection (RFC 9112 6.3 item 3).
            (false, Some(true), l) => (BodyKind::Chunked, l.is_none()),
            (false, Some(false), _) | (false, None, None) => (BodyKind::Close, false),
            (false, None, Some(0)) => (BodyKind::Empty, true),
            (false, None, Some(n)) => (BodyKind::Length(n), true),
        };
        let keep_alive = reusable_framing && !framing.close && (http11 || framing.keep_alive);
        let sse = spans.iter().any(|s| {
            s.name(&raw).eq_ignore_ascii_case(b"content-type")
                && std::str::from_utf8(s.value(&raw)).is_ok_and(mcpx_trace::record::is_event_stream)
        });
        return Ok(Some(ResponseHead {
            status,
            raw,
            reason,
            spans,
            framing,
            body,
            keep_alive,
            sse,
        }));
    }
    Err(())
}

/// Writes the response head for the client: the upstream's status, reason and headers minus
/// hop-by-hop and framing, then the proxy's own framing.
fn encode_response_head(out: &mut Vec<u8>, resp: &ResponseHead, rechunk: bool, close: bool) {
    let raw = &resp.raw[..];
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(mcpx_wire::Decimal::new(u64::from(resp.status)).as_bytes());
    out.put_u8(b' ');
    out.put_slice(raw.get(resp.reason.0..resp.reason.1).unwrap_or_default());
    out.put_slice(b"\r\n");
    put_forwarded(out, raw, &resp.spans, &resp.framing);
    match resp.body {
        BodyKind::Length(n) => {
            out.put_slice(b"content-length: ");
            out.put_slice(mcpx_wire::Decimal::new(n).as_bytes());
            out.put_slice(b"\r\n");
        }
        BodyKind::Chunked | BodyKind::Close if rechunk => {
            out.put_slice(b"transfer-encoding: chunked\r\n");
        }
        BodyKind::Empty => {
            // A HEAD or 304 answer's length describes the body it stands for; a 204 has none;
            // an empty body says so.
            match resp.framing.length {
                Some(n) if resp.status != 204 => {
                    out.put_slice(b"content-length: ");
                    out.put_slice(mcpx_wire::Decimal::new(n).as_bytes());
                    out.put_slice(b"\r\n");
                }
                _ => {}
            }
        }
        _ => {}
    }
    if close {
        out.put_slice(b"connection: close\r\n");
    }
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a client or an upstream sends, parsing never panics, and a head that
        /// parses is taken off the buffer whole.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            if let Ok(Some(h)) = parse_request_head(&mut buf) {
                prop_assert_eq!(h.raw.len() + buf.len(), bytes.len());
                let _ = h.path(&h.raw);
            }
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = parse_response_head(&mut buf, &Method::GET);
        }

        /// A request head built from parts parses back to the same parts, and is forwarded
        /// with each of its end-to-end headers unchanged.
        #[test]
        fn request_heads_round_trip(
            path in "/[a-z0-9/?=&]{0,40}",
            headers in proptest::collection::vec(("x-[a-z]{1,12}", "[ -~]{0,30}"), 0..8),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut wire = format!("POST {path} HTTP/1.1\r\n").into_bytes();
            for (n, v) in &headers {
                wire.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
            wire.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            wire.extend_from_slice(&body);
            let mut buf = BytesMut::from(&wire[..]);
            let Ok(Some(h)) = parse_request_head(&mut buf) else {
                return Err(TestCaseError::fail("not parsed"));
            };
            prop_assert_eq!(h.path(&h.raw), path.as_bytes());
            prop_assert_eq!(&buf[..], &body[..]);
            prop_assert_eq!(h.spans.len(), headers.len() + 1);
            for ((n, v), s) in headers.iter().zip(&h.spans) {
                prop_assert_eq!(s.name(&h.raw), n.as_bytes());
                // httparse trims the value's surrounding whitespace, as RFC 9110 5.5 says.
                prop_assert_eq!(s.value(&h.raw), v.trim_matches([' ', '\t']).as_bytes());
            }
        }
    }

    fn request(bytes: &[u8]) -> Result<Option<RequestHead>, Refusal> {
        let mut buf = BytesMut::from(bytes);
        parse_request_head(&mut buf)
    }

    #[test]
    fn request_heads_parse_with_their_framing() {
        let Ok(Some(h)) = request(
            b"POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nMcp-Session-Id: s\r\n\r\nhello",
        ) else {
            panic!("not parsed");
        };
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.path(&h.raw), b"/mcp?x=1");
        assert_eq!(h.body, BodyKind::Length(5));
        assert!(h.framed && !h.http10 && !h.framing.close);
        assert!(h.framing.is_own(b"x-hop") && h.framing.is_own(b"Keep-Alive"));
        assert!(!h.framing.is_own(b"mcp-session-id"));
        let obs = observed(&h.raw, &h.spans, kept_request_header);
        assert_eq!(
            obs.get("mcp-session-id").map(|v| v.as_bytes()),
            Some(&b"s"[..])
        );
        assert!(
            obs.get("host").is_none(),
            "only the kept headers are observed"
        );
    }

    #[test]
    fn absolute_targets_become_origin_form() {
        let Ok(Some(h)) = request(b"GET http://example.com:8080/mcp?a HTTP/1.1\r\n\r\n") else {
            panic!("not parsed");
        };
        assert_eq!(h.path(&h.raw), b"/mcp?a");
        let Ok(Some(h)) = request(b"GET http://example.com HTTP/1.1\r\n\r\n") else {
            panic!("not parsed");
        };
        assert_eq!(h.path(&h.raw), b"/");
    }

    #[test]
    fn ambiguous_or_oversized_requests_are_refused() {
        assert_eq!(
            request(b"GE T / HTTP/1.1\r\n\r\n").err(),
            Some(Refusal::BadRequest)
        );
        assert_eq!(
            request(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .err(),
            Some(Refusal::BadRequest)
        );
        assert_eq!(
            request(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").err(),
            Some(Refusal::BadRequest)
        );
        assert_eq!(
            request(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").err(),
            Some(Refusal::BadRequest)
        );
        assert_eq!(
            request(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n").err(),
            Some(Refusal::BodyTooLarge)
        );
        let mut big = b"GET / HTTP/1.1\r\nx: ".to_vec();
        big.resize(MAX_HTTP1_HEAD_BYTES + 10, b'a');
        assert_eq!(request(&big).err(), Some(Refusal::HeadTooLarge));
        assert!(matches!(
            request(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Ok(None)
        ));
        for r in [
            Refusal::BadRequest,
            Refusal::HeadTooLarge,
            Refusal::BodyTooLarge,
        ] {
            // Each canned answer's Content-Length matches its body.
            let text = r.response();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.parse::<usize>().ok());
            assert_eq!(len, Some(body.len()), "{text}");
        }
        let bad_gateway = std::str::from_utf8(BAD_GATEWAY).unwrap_or_default();
        let (_, body) = bad_gateway.split_once("\r\n\r\n").unwrap_or_default();
        assert!(bad_gateway.contains(&format!("content-length: {}\r\n", body.len())));
    }

    fn response(bytes: &[u8], method: &Method) -> Result<Option<ResponseHead>, ()> {
        let mut buf = BytesMut::from(bytes);
        parse_response_head(&mut buf, method)
    }

    fn head_text(resp: &ResponseHead, rechunk: bool, close: bool) -> String {
        let mut out = Vec::new();
        encode_response_head(&mut out, resp, rechunk, close);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn response_heads_are_forwarded_without_hop_by_hop_headers() {
        let Ok(Some(r)) = response(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\nmcp-session-id: abc\r\n\r\n",
            &Method::POST,
        ) else {
            panic!("not parsed");
        };
        assert_eq!(
            (r.status, r.body, r.keep_alive, r.sse),
            (200, BodyKind::Chunked, true, true)
        );
        assert_eq!(
            head_text(&r, true, false),
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nmcp-session-id: abc\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let obs = observed(&r.raw, &r.spans, kept_response_header);
        assert_eq!(obs.len(), 2, "content-type and mcp-session-id");
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        let Ok(Some(r)) = response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            &Method::HEAD,
        ) else {
            panic!("not parsed");
        };
        assert_eq!(r.body, BodyKind::Empty);
        assert!(head_text(&r, true, false).contains("content-length: 3\r\n"));
        let Ok(Some(r)) = response(b"HTTP/1.0 200 OK\r\n\r\n", &Method::GET) else {
            panic!("not parsed");
        };
        assert_eq!((r.body, r.keep_alive), (BodyKind::Close, false));
        let Ok(Some(r)) = response(b"HTTP/1.1 204 No Content\r\n\r\n", &Method::DELETE) else {
            panic!("not parsed");
        };
        assert_eq!(r.body, BodyKind::Empty);
        assert_eq!(
            head_text(&r, true, true),
            "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
        );
        assert!(response(b"HTTP/1.1 101 Switching\r\n\r\n", &Method::GET).is_err());
        assert!(
            response(
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                &Method::GET
            )
            .is_err()
        );
        assert!(matches!(
            response(b"HTTP/1.1 200 OK\r\n", &Method::GET),
            Ok(None)
        ));
        let Ok(Some(r)) = response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\n",
            &Method::POST,
        ) else {
            panic!("not parsed");
        };
        assert!(!r.keep_alive);
        assert!(
            !head_text(&r, true, false)
                .to_ascii_lowercase()
                .contains("connection")
        );
    }
}
