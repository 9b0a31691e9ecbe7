//! The bad-request table (`docs/bad-requests.md`), row by row, over real loopback TCP against an
//! in-process [`mcpx_server::Server`].
//!
//! Every test starts its own server, opens a *bystander* session BEFORE the bad request and puts
//! a slow tool call in flight on it (the `slow` tool waits on a gate the test opens). After the
//! bad request has been refused with the exact status, JSON-RPC code, `id` and `Retry-After`,
//! the bystander must be undisturbed: its in-flight call is still pending, completes with the
//! right result once the gate opens, and a new request on the session succeeds.
//!
//! Everything is bounded ([`BOUND`]); nothing leaves 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpx_proto::Config;
use mcpx_server::{Handlers, Server, ServerBuilder, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The version every session of these tests negotiates (unless a row needs another).
const V: &str = "2025-11-25";
/// The stateless era.
const STATELESS: &str = "2026-07-28";
/// Hard bound of one test; a normal run takes a few milliseconds.
const BOUND: Duration = Duration::from_secs(5);

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test exceeded its time bound");
}

#[derive(Deserialize)]
struct TextArgs {
    text: String,
}

/// One HTTP response, body collected.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The text of the first content block of a `tools/call` result.
    fn tool_text(&self) -> String {
        let v = self.json();
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("not a text tool result: {v}"))
            .to_owned()
    }
}

/// An HTTP request to send.
#[derive(Clone, Debug)]
struct Req {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Req {
    fn new(method: Method) -> Self {
        Self {
            method,
            path: "/mcp".to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// A POST with the headers a correct client sends.
    fn post(body: impl Into<String>) -> Self {
        let mut r = Self::new(Method::POST);
        r.body = Bytes::from(body.into());
        r.header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
    }

    /// A GET for the standalone SSE stream.
    fn get() -> Self {
        Self::new(Method::GET).header("accept", "text/event-stream")
    }

    fn delete() -> Self {
        Self::new(Method::DELETE)
    }

    /// On session `sid` of version [`V`].
    fn session(self, sid: &str) -> Self {
        self.header("mcp-session-id", sid)
            .header("mcp-protocol-version", V)
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
        self
    }

    fn append(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        self.headers
            .append(name, HeaderValue::from_str(value).unwrap());
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.remove(name);
        self
    }

    fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }
}

/// A small HTTP/1.1 client bound to one server.
#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

impl Http {
    /// Sends `req` and returns the response with its body still streaming (SSE).
    async fn open(&self, req: Req) -> hyper::Response<Incoming> {
        let mut builder = Request::builder()
            .method(req.method)
            .uri(format!("http://{}{}", self.addr, req.path));
        *builder.headers_mut().unwrap() = req.headers;
        let request = builder.body(Full::new(req.body)).unwrap();
        self.client.request(request).await.expect("HTTP request")
    }

    /// Sends `req` and collects the whole response.
    async fn send(&self, req: Req) -> Reply {
        let resp = self.open(req).await;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A server on 127.0.0.1:0 with the `slow` and `echo` tools; shut down on drop.
struct TestServer {
    http: Http,
    gate: watch::Sender<bool>,
    started: Mutex<mpsc::UnboundedReceiver<String>>,
    _shutdown: oneshot::Sender<()>,
}

/// A session opened before the bad request, with a slow call in flight.
struct Bystander {
    sid: String,
    call: JoinHandle<Reply>,
}

impl TestServer {
    async fn start(config: Config) -> Self {
        Self::start_with(config, |b| b).await
    }

    async fn start_with(config: Config, edit: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Self {
        let (gate, gate_rx) = watch::channel(false);
        let (started_tx, started) = mpsc::unbounded_channel();
        let mut handlers = Handlers::new();
        handlers.tool(
            ToolDef::new("slow").description("Waits for the test's gate, then answers"),
            move |_ctx, args: TextArgs| {
                let mut gate = gate_rx.clone();
                let started = started_tx.clone();
                async move {
                    let _ = started.send(args.text.clone());
                    let _ = gate.wait_for(|open| *open).await;
                    Ok(ToolResult::text(format!("slow:{}", args.text)))
                }
            },
        );
        handlers.tool(
            ToolDef::new("echo").description("Echoes `text`"),
            |_ctx, args: TextArgs| async move { Ok(ToolResult::text(args.text)) },
        );
        handlers.tool(
            ToolDef::new("panics").description("A handler with a bug"),
            |_ctx, args: TextArgs| async move {
                if !args.text.is_empty() {
                    panic!("handler bug: {}", args.text);
                }
                Ok(ToolResult::text("unreachable"))
            },
        );
        let server = edit(Server::builder().config(config).handlers(handlers))
            .build()
            .expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(server.serve(listener, async move {
            let _ = stop.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            http: Http { client, addr },
            gate,
            started: Mutex::new(started),
            _shutdown: shutdown,
        }
    }

    async fn send(&self, req: Req) -> Reply {
        self.http.send(req).await
    }

    /// Sends `req` in the background (for requests that must stay in flight).
    fn spawn(&self, req: Req) -> JoinHandle<Reply> {
        let http = self.http.clone();
        tokio::spawn(async move { http.send(req).await })
    }

    /// Waits until the `slow` tool has started with argument `text`.
    async fn started(&self, text: &str) {
        let got = self.started.lock().await.recv().await;
        assert_eq!(got.as_deref(), Some(text), "slow call started");
    }

    /// Lets every `slow` call (present and future) answer.
    fn open_gate(&self) {
        let _ = self.gate.send(true);
    }

    /// `initialize` at `version`, then `notifications/initialized`; the session id.
    async fn session(&self, version: &str) -> String {
        let sid = self.initialize_only(version).await;
        let r = self
            .send(
                Req::post(
                    json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string(),
                )
                .header("mcp-session-id", &sid)
                .header("mcp-protocol-version", version),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "notifications/initialized");
        sid
    }

    /// `initialize` alone (the session stays awaiting `notifications/initialized`).
    async fn initialize_only(&self, version: &str) -> String {
        let r = self.send(Req::post(initialize(0, version))).await;
        assert_eq!(r.status, StatusCode::OK, "initialize: {:?}", r.body);
        assert_eq!(r.json()["result"]["protocolVersion"], version);
        r.headers
            .get("mcp-session-id")
            .expect("Mcp-Session-Id on the initialize answer")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// A session with a `slow` call (id 1, text `name`) in flight.
    async fn busy_session(&self, name: &str) -> Bystander {
        let sid = self.session(V).await;
        let call = self.spawn(Req::post(call(1, "slow", name)).session(&sid));
        self.started(name).await;
        Bystander { sid, call }
    }

    /// The bystander: opened before the bad request, busy while it is refused.
    async fn bystander(&self) -> Bystander {
        self.busy_session("bystander").await
    }
}

impl Bystander {
    /// The bystander was not disturbed: its call is still in flight, completes with its own
    /// result once the gate opens, and the session serves a new request.
    async fn undisturbed(self, srv: &TestServer) {
        assert!(
            !self.call.is_finished(),
            "the bystander's in-flight call ended before its gate opened"
        );
        srv.open_gate();
        let done = self.call.await.unwrap();
        assert_eq!(
            done.status,
            StatusCode::OK,
            "bystander call: {:?}",
            done.body
        );
        assert_eq!(done.json()["id"], 1);
        assert_eq!(done.tool_text(), "slow:bystander");
        let again = srv
            .send(Req::post(call(2, "echo", "still here")).session(&self.sid))
            .await;
        assert_eq!(again.status, StatusCode::OK, "bystander's next request");
        assert_eq!(again.json()["id"], 2);
        assert_eq!(again.tool_text(), "still here");
    }

    /// Waits for the session's own slow call (after the gate opened).
    async fn finished(self, text: &str) {
        let done = self.call.await.unwrap();
        assert_eq!(done.status, StatusCode::OK, "{text}: {:?}", done.body);
        assert_eq!(done.tool_text(), format!("slow:{text}"));
    }
}

/// The `id` a rejection must carry.
#[derive(Clone, Copy, Debug)]
enum Id {
    Num(i64),
    /// `"id": null` (versions before 2025-11-25, or no version known).
    Null,
    /// No `id` member (2025-11-25 on, MCP-DIGEST 13.2).
    Absent,
}

/// Asserts one row: status, JSON-RPC error body with `code` and `id`; returns the body.
fn rejected(row: &str, r: &Reply, status: StatusCode, code: i64, id: Id) -> Value {
    assert_eq!(
        r.status,
        status,
        "{row}: status; body {:?}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        r.headers.get("content-type").map(HeaderValue::as_bytes),
        Some(&b"application/json"[..]),
        "{row}: content type"
    );
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0", "{row}: {v}");
    assert_eq!(v["error"]["code"], code, "{row}: code in {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{row}: message in {v}"
    );
    assert!(v.get("result").is_none(), "{row}: {v}");
    match id {
        Id::Num(n) => assert_eq!(v.get("id"), Some(&json!(n)), "{row}: id in {v}"),
        Id::Null => assert_eq!(v.get("id"), Some(&Value::Null), "{row}: id in {v}"),
        Id::Absent => assert_eq!(v.get("id"), None, "{row}: id in {v}"),
    }
    v
}

fn retry_after(row: &str, r: &Reply) {
    assert_eq!(
        r.headers.get("retry-after").map(HeaderValue::as_bytes),
        Some(&b"1"[..]),
        "{row}: Retry-After"
    );
}

fn no_retry_after(row: &str, r: &Reply) {
    assert!(r.headers.get("retry-after").is_none(), "{row}: Retry-After");
}

fn initialize(id: i64, version: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
        "protocolVersion":version,"capabilities":{},"clientInfo":{"name":"rejections","version":"0"}}})
    .to_string()
}

fn call(id: i64, tool: &str, text: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"text":text}}})
        .to_string()
}

fn list(id: i64) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}).to_string()
}

/// The `_meta` every 2026-07-28 request carries.
fn meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion":STATELESS,
           "io.modelcontextprotocol/clientCapabilities":{}})
}

/// A stateless `tools/call` body with `meta` as its `_meta` (`None`: no `_meta`).
fn stateless_call(id: i64, tool: &str, text: &str, meta: Option<Value>) -> String {
    let mut params = json!({"name":tool,"arguments":{"text":text}});
    if let Some(m) = meta {
        params["_meta"] = m;
    }
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params}).to_string()
}

/// A stateless POST with the headers 2026-07-28 requires.
fn stateless(body: String, method: &str, name: Option<&str>) -> Req {
    let r = Req::post(body)
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", method);
    match name {
        Some(n) => r.header("mcp-name", n),
        None => r,
    }
}

/// Writes `request` on a fresh connection and reads one response (Content-Length framed).
/// For requests a well-behaved client library will not send (a body that never comes).
async fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap();
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap();
            let code: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
            let mut headers = HeaderMap::new();
            for line in lines {
                let (k, v) = line.split_once(':').unwrap();
                headers.append(
                    HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                    HeaderValue::from_str(v.trim()).unwrap(),
                );
            }
            let len: usize = headers
                .get("content-length")
                .expect("a Content-Length framed response")
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            if buf.len() >= end + 4 + len {
                return Reply {
                    status: StatusCode::from_u16(code).unwrap(),
                    headers,
                    body: Bytes::copy_from_slice(&buf[end + 4..end + 4 + len]),
                };
            }
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a full response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

// ---------------------------------------------------------------------------------------------
// Transport rows: path, headers, Origin, HTTP method, body size, media types
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn wrong_path_404() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv.send(Req::post(list(1)).path("/other")).await;
        rejected(
            "wrong path",
            &r,
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Id::Null,
        );
        // `/healthz` is the server's own and always answers.
        let h = srv.send(Req::new(Method::GET).path("/healthz")).await;
        assert_eq!((h.status, &h.body[..]), (StatusCode::OK, &b"ok\n"[..]));
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_too_large_431() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let big = "x".repeat(mcpx_proto::limits::DEFAULT_MAX_HEADER_BYTES + 1);
        let r = srv.send(Req::post(list(1)).header("x-filler", &big)).await;
        rejected(
            "headers too large",
            &r,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            INVALID_REQUEST,
            Id::Null,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_origin_403() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .header("origin", "http://evil.example"),
            )
            .await;
        rejected(
            "bad Origin",
            &r,
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            Id::Absent,
        );
        // Sessionless (an `initialize` from a rebinding page): 403 too, and no session made.
        let r = srv
            .send(Req::post(initialize(1, V)).header("origin", "http://localhost.evil.example"))
            .await;
        rejected(
            "bad Origin on initialize",
            &r,
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            Id::Null,
        );
        assert!(r.headers.get("mcp-session-id").is_none());
        // The server's own loopback origin and no Origin at all are served.
        let ok = srv
            .send(
                Req::post(list(2))
                    .session(&victim)
                    .header("origin", "http://localhost:6274"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        by.undisturbed(&srv).await;
    })
    .await;
}

/// DNS rebinding: a foreign `Host` is refused even without `Origin`.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_host_403() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv
            .send(Req::post(initialize(1, V)).header("host", "evil.example"))
            .await;
        rejected(
            "foreign Host",
            &r,
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            Id::Null,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_method_not_allowed_405() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let mut put = Req::post(list(1)).session(&victim);
        put.method = Method::PUT;
        let r = srv.send(put).await;
        rejected(
            "PUT",
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_not_allowed_405() {
    bounded(async {
        let mut config = Config::new();
        config.allow_delete(false);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv.send(Req::delete().session(&victim)).await;
        rejected(
            "DELETE where not allowed",
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            Id::Absent,
        );
        // The session was not ended.
        let ok = srv.send(Req::post(list(1)).session(&victim)).await;
        assert_eq!(ok.status, StatusCode::OK);
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_limit_by_content_length_413_before_reading() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let limit = mcpx_proto::limits::DEFAULT_MAX_BODY_BYTES;
        // Only the head is sent: the answer must come without the server waiting for the body.
        let head = format!(
            "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/json, text/event-stream\r\n\
             content-type: application/json\r\nmcp-session-id: {}\r\nmcp-protocol-version: {V}\r\n\
             content-length: {}\r\n\r\n",
            by.sid,
            limit + 1
        );
        let r = raw(srv.http.addr, head.as_bytes()).await;
        let v = rejected(
            "Content-Length over the limit",
            &r,
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            Id::Absent,
        );
        assert_eq!(v["error"]["message"].as_str().unwrap(), format!("Body is larger than {} bytes", limit));
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_limit_chunked_413() {
    bounded(async {
        const LIMIT: usize = 4096;
        let srv = TestServer::start_with(Config::new(), |b| b.max_body_bytes(LIMIT)).await;
        let by = srv.bystander().await;
        // No Content-Length: one chunk one byte over the limit, and no last chunk.
        let text = "a".repeat(LIMIT);
        let body = call(3, "echo", &text);
        let request = format!(
            "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/json, text/event-stream\r\n\
             content-type: application/json\r\nmcp-session-id: {}\r\ntransfer-encoding: chunked\r\n\r\n\
             {:x}\r\n{body}\r\n",
            by.sid,
            body.len()
        );
        assert!(body.len() > LIMIT);
        let r = raw(srv.http.addr, request.as_bytes()).await;
        let v = rejected(
            "chunked body over the limit",
            &r,
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            Id::Null,
        );
        assert_eq!(v["error"]["message"].as_str().unwrap(), format!("Body is larger than {} bytes", LIMIT));
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_content_type_415() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .header("content-type", "text/plain"),
            )
            .await;
        rejected(
            "Content-Type text/plain",
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(Req::post(list(1)).session(&victim).without("content-type"))
            .await;
        rejected(
            "no Content-Type",
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_accept_406() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .header("accept", "application/json"),
            )
            .await;
        rejected(
            "POST Accept without text/event-stream",
            &r,
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(
                Req::get()
                    .session(&victim)
                    .header("accept", "application/json"),
            )
            .await;
        rejected(
            "GET Accept without text/event-stream",
            &r,
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Session rows: session id, version header, lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn duplicated_header_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .append("mcp-session-id", &by.sid),
            )
            .await;
        rejected(
            "two Mcp-Session-Id",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .append("mcp-protocol-version", V),
            )
            .await;
        rejected(
            "two MCP-Protocol-Version",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_session_id_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv.send(Req::post(list(7))).await;
        rejected(
            "POST without Mcp-Session-Id",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(7),
        );
        let r = srv
            .send(Req::post(list(7)).header("mcp-protocol-version", V))
            .await;
        rejected(
            "POST without Mcp-Session-Id, 2025-11-25 header",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(7),
        );
        let r = srv.send(Req::get()).await;
        rejected(
            "GET without Mcp-Session-Id",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Null,
        );
        let r = srv.send(Req::delete()).await;
        rejected(
            "DELETE without Mcp-Session-Id",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Null,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_ended_session_404() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv
            .send(Req::post(list(1)).session("0123456789abcdef0123456789abcdef"))
            .await;
        rejected(
            "never-issued session",
            &r,
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(Req::post(list(1)).session("not a session id"))
            .await;
        rejected(
            "junk session id",
            &r,
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Id::Absent,
        );
        let victim = srv.session(V).await;
        let d = srv.send(Req::delete().session(&victim)).await;
        assert_eq!(d.status, StatusCode::OK, "DELETE");
        let r = srv.send(Req::post(list(1)).session(&victim)).await;
        rejected(
            "deleted session",
            &r,
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv.send(Req::get().session(&victim)).await;
        rejected(
            "GET on a deleted session",
            &r,
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_version_header_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .header("mcp-protocol-version", "1999-01-01"),
            )
            .await;
        rejected(
            "unsupported MCP-Protocol-Version on a session",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(Req::post(list(4)).header("mcp-protocol-version", "1999-01-01"))
            .await;
        rejected(
            "unsupported MCP-Protocol-Version without a session",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(4),
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn contradicting_version_header_served_by_default() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(call(1, "echo", "lenient"))
                    .session(&victim)
                    .header("mcp-protocol-version", "2025-03-26"),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "served under the negotiated version"
        );
        assert_eq!(r.tool_text(), "lenient");
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn contradicting_version_header_400_when_strict() {
    bounded(async {
        let mut config = Config::new();
        config.strict_version_header(true);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::post(list(1))
                    .session(&victim)
                    .header("mcp-protocol-version", "2025-03-26"),
            )
            .await;
        rejected(
            "contradicting MCP-Protocol-Version, strict",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        // A missing header means the negotiated version: served.
        let ok = srv
            .send(
                Req::post(list(2))
                    .session(&victim)
                    .without("mcp-protocol-version"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_on_a_session_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv.send(Req::post(initialize(9, V)).session(&victim)).await;
        rejected(
            "initialize on an initialized session",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(9),
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_before_initialized_400_when_strict() {
    bounded(async {
        let mut config = Config::new();
        config.strict_lifecycle(true);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.initialize_only(V).await;
        let r = srv.send(Req::post(list(5)).session(&victim)).await;
        rejected(
            "tools/list before notifications/initialized, strict",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(5),
        );
        // `ping` is allowed before.
        let ping = json!({"jsonrpc":"2.0","id":6,"method":"ping"}).to_string();
        let ok = srv.send(Req::post(ping).session(&victim)).await;
        assert_eq!(ok.status, StatusCode::OK);
        by.undisturbed(&srv).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Body rows: JSON, message, depth, batch, duplicate id
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_400_parse_error() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(Req::post(r#"{"jsonrpc":"2.0","id":4,"method":"#).session(&victim))
            .await;
        rejected(
            "malformed JSON on a 2025-11-25 session",
            &r,
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            Id::Absent,
        );
        let r = srv.send(Req::post("{not json")).await;
        rejected(
            "malformed JSON without a session",
            &r,
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            Id::Null,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_but_not_a_message_400_invalid_request() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(Req::post(r#"{"jsonrpc":"2.0","id":5,"method":42}"#).session(&victim))
            .await;
        rejected(
            "method is a number (id recoverable)",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(5),
        );
        let r = srv.send(Req::post(r#""hello""#).session(&victim)).await;
        rejected(
            "a JSON string",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(Req::post(r#"{"jsonrpc":"1.0","id":6,"method":"ping"}"#).session(&victim))
            .await;
        rejected(
            "jsonrpc 1.0",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(6),
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_400_invalid_request() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let deep = |levels: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"deep","pad":{}{}}}}}}}"#,
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };
        let r = srv
            .send(
                Req::post(deep(mcpx_wire::limits::DEFAULT_MAX_DEPTH + 1)).session(&victim),
            )
            .await;
        let v = rejected(
            "nesting over DEFAULT_MAX_DEPTH",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains("deep"),
            "{v}"
        );
        // Ordinary nesting is served.
        let ok = srv.send(Req::post(deep(8)).session(&victim)).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.tool_text(), "deep");
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_where_not_allowed_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let batch = json!([{"jsonrpc":"2.0","id":3,"method":"ping"}]).to_string();
        let r = srv.send(Req::post(batch.clone()).session(&victim)).await;
        rejected(
            "batch on a 2025-11-25 session",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        let r = srv
            .send(Req::post(batch.clone()).header("mcp-protocol-version", "2025-06-18"))
            .await;
        rejected(
            "batch without a session, 2025-06-18 header",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Null,
        );
        // 2025-03-26 takes batches; `initialize` inside one is that member's -32600 (200).
        let old = srv.session("2025-03-26").await;
        let mixed = json!([
            {"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","id":2,"method":"initialize","params":{
                "protocolVersion":"2025-03-26","capabilities":{},
                "clientInfo":{"name":"rejections","version":"0"}}}
        ])
        .to_string();
        let r = srv
            .send(
                Req::post(mixed)
                    .header("mcp-session-id", &old)
                    .header("mcp-protocol-version", "2025-03-26"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let v = r.json();
        let members = v.as_array().expect("a batch response");
        let init = members
            .iter()
            .find(|m| m["id"] == 2)
            .unwrap_or_else(|| panic!("no answer for the initialize member: {v}"));
        assert_eq!(init["error"]["code"], INVALID_REQUEST, "{v}");
        assert!(
            members
                .iter()
                .any(|m| m["id"] == 1 && m.get("result").is_some())
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_in_flight_id_400_first_request_still_answered() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.busy_session("victim").await;
        // Same id (1) as the victim's slow call, still in flight.
        let r = srv
            .send(Req::post(call(1, "echo", "second")).session(&victim.sid))
            .await;
        rejected(
            "duplicate in-flight id",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Num(1),
        );
        assert!(!victim.call.is_finished(), "the first request was touched");
        by.undisturbed(&srv).await;
        victim.finished("victim").await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Stream rows: GET
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn get_where_no_stream_is_offered_405() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv
            .send(Req::get().header("mcp-protocol-version", STATELESS))
            .await;
        rejected(
            "GET in the stateless era",
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;

        let mut config = Config::new();
        config.offer_get_stream(false);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv.send(Req::get().session(&victim)).await;
        rejected(
            "GET where the server offers no stream",
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn second_get_stream_409() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let first = srv.http.open(Req::get().session(&victim)).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["content-type"], "text/event-stream");
        let r = srv.send(Req::get().session(&victim)).await;
        rejected(
            "second GET stream",
            &r,
            StatusCode::CONFLICT,
            INVALID_REQUEST,
            Id::Absent,
        );
        // The first stream's session still serves requests.
        let ok = srv.send(Req::post(list(1)).session(&victim)).await;
        assert_eq!(ok.status, StatusCode::OK);
        drop(first);
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_last_event_id_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(
                Req::get()
                    .session(&victim)
                    .header("last-event-id", "no-such-event"),
            )
            .await;
        rejected(
            "Last-Event-ID that cannot be resumed",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Limit rows: 429 and 503 with Retry-After
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn too_many_in_flight_429_retry_after() {
    bounded(async {
        let mut config = Config::new();
        config.max_in_flight_per_session(1);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.busy_session("victim").await;
        let r = srv
            .send(Req::post(call(2, "echo", "one too many")).session(&victim.sid))
            .await;
        rejected(
            "in-flight limit",
            &r,
            StatusCode::TOO_MANY_REQUESTS,
            INVALID_REQUEST,
            Id::Num(2),
        );
        retry_after("in-flight limit", &r);
        by.undisturbed(&srv).await;
        victim.finished("victim").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_streams_429_retry_after() {
    bounded(async {
        let mut config = Config::new();
        config.max_streams_per_session(1);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let stream = srv.http.open(Req::get().session(&victim)).await;
        assert_eq!(stream.status(), StatusCode::OK);
        let r = srv
            .send(Req::post(call(2, "echo", "no room")).session(&victim))
            .await;
        rejected(
            "stream limit",
            &r,
            StatusCode::TOO_MANY_REQUESTS,
            INVALID_REQUEST,
            Id::Num(2),
        );
        retry_after("stream limit", &r);
        drop(stream);
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn session_table_full_of_busy_sessions_503_retry_after() {
    bounded(async {
        let mut config = Config::new();
        config.max_sessions(2);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let victim = srv.busy_session("victim").await;
        let r = srv.send(Req::post(initialize(12, V))).await;
        rejected(
            "table full, every session busy",
            &r,
            StatusCode::SERVICE_UNAVAILABLE,
            INTERNAL_ERROR,
            Id::Num(12),
        );
        retry_after("table full", &r);
        assert!(r.headers.get("mcp-session-id").is_none());
        by.undisturbed(&srv).await;
        victim.finished("victim").await;
        // Once a session is idle, a new initialize evicts it instead of refusing.
        let again = srv.send(Req::post(initialize(13, V))).await;
        assert_eq!(again.status, StatusCode::OK);
        no_retry_after("after eviction", &again);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_in_flight_limit_503_retry_after() {
    bounded(async {
        let mut config = Config::new();
        config.max_stateless_in_flight(1);
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let first = srv.spawn(stateless(
            stateless_call(20, "slow", "stateless", Some(meta())),
            "tools/call",
            Some("slow"),
        ));
        srv.started("stateless").await;
        let r = srv
            .send(stateless(
                stateless_call(21, "echo", "x", Some(meta())),
                "tools/call",
                Some("echo"),
            ))
            .await;
        rejected(
            "stateless in-flight limit",
            &r,
            StatusCode::SERVICE_UNAVAILABLE,
            INTERNAL_ERROR,
            Id::Num(21),
        );
        retry_after("stateless in-flight limit", &r);
        by.undisturbed(&srv).await;
        let first = first.await.unwrap();
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.tool_text(), "slow:stateless");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Stateless-era rows (2026-07-28)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn stateless_valid_request_is_served() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv
            .send(stateless(
                stateless_call(30, "echo", "fine", Some(meta())),
                "tools/call",
                Some("echo"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.tool_text(), "fine");
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_missing_meta_400_invalid_params() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let r = srv
            .send(stateless(
                stateless_call(31, "echo", "x", None),
                "tools/call",
                Some("echo"),
            ))
            .await;
        rejected(
            "no _meta",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            Id::Num(31),
        );
        let r = srv
            .send(stateless(
                stateless_call(
                    32,
                    "echo",
                    "x",
                    Some(json!({"io.modelcontextprotocol/protocolVersion":STATELESS})),
                ),
                "tools/call",
                Some("echo"),
            ))
            .await;
        rejected(
            "_meta without clientCapabilities",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            Id::Num(32),
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_unsupported_version_400_with_data() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        // Header and `_meta` agree (else -32020 first) on a version not served statelessly.
        for (row, version) in [
            ("unknown version in _meta and header", "2099-01-01"),
            ("session-era version in _meta and header", V),
        ] {
            let mut m = meta();
            m["io.modelcontextprotocol/protocolVersion"] = json!(version);
            let r = srv
                .send(
                    stateless(
                        stateless_call(33, "echo", "x", Some(m)),
                        "tools/call",
                        Some("echo"),
                    )
                    .header("mcp-protocol-version", version),
                )
                .await;
            let v = rejected(
                row,
                &r,
                StatusCode::BAD_REQUEST,
                UNSUPPORTED_PROTOCOL_VERSION,
                Id::Num(33),
            );
            assert_eq!(v["error"]["data"]["requested"], version, "{row}: {v}");
            let supported = v["error"]["data"]["supported"].as_array().unwrap();
            assert!(supported.contains(&json!(STATELESS)), "{row}: {v}");
            assert!(supported.contains(&json!(V)), "{row}: {v}");
        }
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_header_mismatch_400() {
    bounded(async {
        let mut config = Config::new();
        config.tool_header_param("echo", "Text", "text");
        let srv = TestServer::start(config).await;
        let by = srv.bystander().await;
        let body = || stateless_call(34, "echo", "x", Some(meta()));
        let cases = [
            (
                "Mcp-Method differs from the body",
                stateless(body(), "tools/list", Some("echo")).header("mcp-param-text", "x"),
            ),
            (
                "Mcp-Method missing",
                stateless(body(), "tools/call", Some("echo"))
                    .header("mcp-param-text", "x")
                    .without("mcp-method"),
            ),
            (
                "Mcp-Name differs from params.name",
                stateless(body(), "tools/call", Some("slow")).header("mcp-param-text", "x"),
            ),
            (
                "MCP-Protocol-Version missing, _meta has it",
                stateless(body(), "tools/call", Some("echo"))
                    .header("mcp-param-text", "x")
                    .without("mcp-protocol-version"),
            ),
            (
                "MCP-Protocol-Version differs from _meta",
                stateless(
                    stateless_call(
                        34,
                        "echo",
                        "x",
                        Some(
                            json!({"io.modelcontextprotocol/protocolVersion":"2099-01-01",
                                    "io.modelcontextprotocol/clientCapabilities":{}}),
                        ),
                    ),
                    "tools/call",
                    Some("echo"),
                )
                .header("mcp-param-text", "x"),
            ),
            (
                "Mcp-Param-Text differs from the argument",
                stateless(body(), "tools/call", Some("echo")).header("mcp-param-text", "y"),
            ),
            (
                "Mcp-Param-Text missing",
                stateless(body(), "tools/call", Some("echo")),
            ),
        ];
        for (row, req) in cases {
            let r = srv.send(req).await;
            rejected(
                row,
                &r,
                StatusCode::BAD_REQUEST,
                HEADER_MISMATCH,
                Id::Num(34),
            );
        }
        // Everything matching: served.
        let ok = srv
            .send(stateless(body(), "tools/call", Some("echo")).header("mcp-param-text", "x"))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_unknown_method_404() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        for (row, method) in [
            ("unknown method", "foo/bar"),
            ("session-era-only method", "ping"),
            ("initialize with the stateless _meta", "initialize"),
        ] {
            let body = json!({"jsonrpc":"2.0","id":35,"method":method,"params":{"_meta":meta()}})
                .to_string();
            let r = srv.send(stateless(body, method, None)).await;
            rejected(
                row,
                &r,
                StatusCode::NOT_FOUND,
                METHOD_NOT_FOUND,
                Id::Num(35),
            );
        }
        by.undisturbed(&srv).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_response_from_client_400() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let body = json!({"jsonrpc":"2.0","id":36,"result":{}}).to_string();
        let r = srv
            .send(Req::post(body).header("mcp-protocol-version", STATELESS))
            .await;
        rejected(
            "a response where none is expected",
            &r,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            Id::Absent,
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Method-level errors are not rejections: 200 with the error (contrast rows)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn method_level_errors_are_200() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let unknown = json!({"jsonrpc":"2.0","id":40,"method":"foo/bar"}).to_string();
        let r = srv.send(Req::post(unknown).session(&victim)).await;
        rejected(
            "unknown method on a session",
            &r,
            StatusCode::OK,
            METHOD_NOT_FOUND,
            Id::Num(40),
        );
        let r = srv
            .send(Req::post(call(41, "nope", "x")).session(&victim))
            .await;
        rejected(
            "unknown tool",
            &r,
            StatusCode::OK,
            INVALID_PARAMS,
            Id::Num(41),
        );
        by.undisturbed(&srv).await;
    })
    .await;
}

/// DNS rebinding over HTTP/2 (h2c prior knowledge): the host is the `:authority`, checked like
/// an HTTP/1.1 `Host`; a loopback authority is served.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_authority_over_h2_403() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let stream = TcpStream::connect(srv.http.addr).await.unwrap();
        let (mut h2, conn) = hyper::client::conn::http2::handshake(
            TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        for (authority, status) in [
            ("evil.example", StatusCode::FORBIDDEN),
            ("127.0.0.1", StatusCode::OK),
        ] {
            let req = Request::post(format!("http://{authority}/mcp"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(Full::new(Bytes::from(initialize(1, V))))
                .unwrap();
            let resp = h2.send_request(req).await.unwrap();
            assert_eq!(resp.version(), http::Version::HTTP_2);
            assert_eq!(resp.status(), status, "authority {authority}");
        }
        by.undisturbed(&srv).await;
    })
    .await;
}

/// A handler that panics gets -32603 for its own request; the session, the server and other
/// sessions carry on.
#[tokio::test(flavor = "multi_thread")]
async fn panicking_handler_gets_internal_error_only_for_itself() {
    bounded(async {
        let srv = TestServer::start(Config::new()).await;
        let by = srv.bystander().await;
        let victim = srv.session(V).await;
        let r = srv
            .send(Req::post(call(50, "panics", "boom")).session(&victim))
            .await;
        rejected(
            "panicking handler",
            &r,
            StatusCode::OK,
            INTERNAL_ERROR,
            Id::Num(50),
        );
        let ok = srv
            .send(Req::post(call(51, "echo", "still here")).session(&victim))
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        by.undisturbed(&srv).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The table and this file agree
// ---------------------------------------------------------------------------------------------

/// Every test named in `docs/bad-requests.md` exists here, and every `ProtocolError` variant
/// has a row there.
#[test]
fn doc_table_matches_tests_and_variants() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let doc = std::fs::read_to_string(format!("{root}/docs/bad-requests.md"))
        .expect("docs/bad-requests.md");
    let this = include_str!("rejections.rs");
    let mut named = 0;
    for part in doc.split('`').skip(1).step_by(2) {
        if let Some(test) = part.strip_prefix("rejections::") {
            named += 1;
            assert!(
                this.contains(&format!("async fn {test}()")),
                "docs/bad-requests.md names a test that does not exist: {test}"
            );
        }
    }
    assert!(named > 20, "the table names its tests");
    let errors = std::fs::read_to_string(format!("{root}/crates/mcpx-proto/src/error.rs"))
        .expect("mcpx-proto's error.rs");
    let body = errors
        .split("pub enum ProtocolError {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("the ProtocolError enum");
    let mut variants = 0;
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("    ") else {
            continue;
        };
        if rest.starts_with(|c: char| c.is_ascii_uppercase()) {
            let name: String = rest
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            variants += 1;
            assert!(
                doc.contains(&format!("`{name}`")),
                "ProtocolError::{name} has no row in docs/bad-requests.md"
            );
        }
    }
    assert!(variants > 20, "found the variants");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_spread_over_shards_and_stay_apart() {
    bounded(async {
        let srv = TestServer::start_with(Config::new(), |b| b.shards(4)).await;
        let mut sessions = Vec::new();
        for _ in 0..12 {
            sessions.push(srv.session(V).await);
        }
        // Round-robin: every shard issued some of them (the id's first digit names it).
        let mut shards: Vec<char> = sessions.iter().filter_map(|s| s.chars().next()).collect();
        shards.sort_unstable();
        shards.dedup();
        assert_eq!(shards, vec!['0', '1', '2', '3']);
        for (i, sid) in sessions.iter().enumerate() {
            let text = format!("s{i}");
            let r = srv
                .send(Req::post(call(7, "echo", &text)).session(sid))
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.tool_text(), text);
        }
        // DELETE ends exactly one session; a forged id naming another shard is unknown there.
        let d = srv.send(Req::delete().session(&sessions[0])).await;
        assert_eq!(d.status, StatusCode::OK);
        let gone = srv
            .send(Req::post(call(8, "echo", "x")).session(&sessions[0]))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let other_shard = if sessions[1].starts_with('0') {
            '1'
        } else {
            '0'
        };
        let forged = format!("{other_shard}{}", &sessions[1][1..]);
        let r = srv
            .send(Req::post(call(9, "echo", "x")).session(&forged))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        for sid in &sessions[1..] {
            let r = srv
                .send(Req::post(call(10, "echo", "still")).session(sid))
                .await;
            assert_eq!(r.tool_text(), "still");
        }
    })
    .await;
}
