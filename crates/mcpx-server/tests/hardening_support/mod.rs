//! Shared by the TLS, metrics, overload and shutdown tests: a server with an `echo` tool and a
//! gated `slow` tool on loopback, and a small HTTP/1.1 or HTTP/2 client over any stream
//! (plain TCP, or TLS).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mcpx_server::{Handlers, ServerBuilder, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// The session-era version the tests speak.
pub const V: &str = "2025-11-25";
/// Hard bound of one test.
pub const BOUND: Duration = Duration::from_secs(20);

#[derive(Deserialize)]
struct Text {
    text: String,
}

/// Opens the `slow` tool's gate: every call waiting on it (and every later one) answers.
#[derive(Clone, Default)]
pub struct Gate {
    open: Arc<std::sync::atomic::AtomicBool>,
    notify: Arc<Notify>,
    /// Calls that reached the gate.
    pub entered: Arc<std::sync::atomic::AtomicUsize>,
}

impl Gate {
    pub fn open(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    async fn wait(&self) {
        self.entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        loop {
            let n = self.notify.notified();
            if self.open.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }

    /// Waits until `n` calls wait at the gate.
    pub async fn entered(&self, n: usize) {
        while self.entered.load(std::sync::atomic::Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `echo` (answers at once), `slow` (answers once the gate opens) and `streaming` (sends a
/// log line, so its answer is an SSE stream, then answers once the gate opens).
pub fn handlers(gate: &Gate) -> Handlers {
    let mut h = Handlers::new();
    h.tool(ToolDef::new("echo"), |_ctx, Text { text }| async move {
        Ok(ToolResult::text(text))
    });
    let g = gate.clone();
    h.tool(ToolDef::new("streaming"), move |ctx, Text { text }| {
        let gate = g.clone();
        async move {
            // A log line first: the answer becomes an SSE stream, then waits for the gate.
            ctx.log("info", None, json!("started")).await;
            gate.wait().await;
            Ok(ToolResult::text(text))
        }
    });
    let gate = gate.clone();
    h.tool(ToolDef::new("slow"), move |_ctx, Text { text }| {
        let gate = gate.clone();
        async move {
            gate.wait().await;
            Ok(ToolResult::text(text))
        }
    });
    h
}

/// A running server: its address, the shutdown trigger and the task serving it.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Starts the graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `builder` on a loopback port until [`Running::shutdown`].
pub async fn start(builder: ServerBuilder) -> Running {
    let server = builder.build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// One response, body collected (a streaming body is read to its end).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first content block of a `tools/call` result.
    pub fn tool_text(&self) -> String {
        let v = self.json();
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("not a text tool result: {v}"))
            .to_owned()
    }
}

/// An HTTP/1.1 or HTTP/2 connection.
#[derive(Clone)]
pub enum Conn {
    H1(Arc<tokio::sync::Mutex<http1::SendRequest<Full<Bytes>>>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Conn {
    /// HTTP/1.1 over `io`.
    pub async fn h1<I>(io: I) -> Self
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = http1::handshake(TokioIo::new(io)).await.unwrap();
        tokio::spawn(conn);
        Self::H1(Arc::new(tokio::sync::Mutex::new(send)))
    }

    /// HTTP/2 (prior knowledge, or after ALPN) over `io`.
    pub async fn h2<I>(io: I) -> Self
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
        tokio::spawn(conn);
        Self::H2(send)
    }

    /// Plain TCP to `addr`, HTTP/1.1.
    pub async fn tcp_h1(addr: SocketAddr) -> Self {
        Self::h1(TcpStream::connect(addr).await.unwrap()).await
    }

    /// Plain TCP to `addr`, HTTP/2 with prior knowledge (h2c).
    pub async fn tcp_h2(addr: SocketAddr) -> Self {
        Self::h2(TcpStream::connect(addr).await.unwrap()).await
    }

    /// Sends a request and returns the head (the body unread).
    pub async fn send_head(
        &self,
        req: Request<Full<Bytes>>,
    ) -> hyper::Result<http::Response<Incoming>> {
        match self {
            Self::H1(s) => {
                let mut s = s.lock().await;
                s.ready().await?;
                s.send_request(req).await
            }
            Self::H2(s) => {
                let mut s = s.clone();
                s.ready().await?;
                s.send_request(req).await
            }
        }
    }

    /// Sends a request and collects the whole response.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> hyper::Result<Reply> {
        let resp = self.send_head(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// A POST to `/mcp` (on `session` when given).
    pub async fn post(&self, body: &Value, session: Option<&str>) -> hyper::Result<Reply> {
        self.send(post(body, session)).await
    }

    /// `initialize` + `notifications/initialized`; returns the session id.
    pub async fn initialize(&self) -> String {
        let r = self.post(&initialize(), None).await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let sid = r.headers["mcp-session-id"].to_str().unwrap().to_owned();
        let r = self
            .post(
                &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
                Some(&sid),
            )
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED);
        sid
    }
}

pub fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":V,"capabilities":{},"clientInfo":{"name":"hardening","version":"0"}}})
}

pub fn call(id: i64, tool: &str, text: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
           "params":{"name":tool,"arguments":{"text":text}}})
}

/// A POST as a correct client sends it. `Host` is set for HTTP/1.1 (HTTP/2 takes the URI's
/// authority).
pub fn post(body: &Value, session: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    if let Some(sid) = session {
        b = b
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", V);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

/// A GET of `path` (the metrics endpoint, a stream).
pub fn get(path: &str, session: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(format!("http://localhost{path}"))
        .header("host", "localhost")
        .header("accept", "text/event-stream");
    if let Some(sid) = session {
        b = b
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", V);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

/// Reads `/metrics` and returns the value of the sample line starting with `series`.
pub async fn metric(conn: &Conn, series: &str) -> Option<f64> {
    let text = conn.send(get("/metrics", None)).await.unwrap().text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
