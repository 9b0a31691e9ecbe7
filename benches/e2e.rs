//! End to end, in process: `tools/call echo` through the whole server (hyper, the sharded
//! session table, the handler, the response) over loopback TCP, from a hyper HTTP/1.1 client on
//! one keep-alive connection. JSON and SSE response modes, and a stateless (2026-07-28) call.
//! The server and the client share one tokio runtime, so a round trip here is the engine's
//! latency floor without a network: `../shared/perf` and `bench/perf` measure throughput and
//! server CPU against other servers.
//!
//! Run: `cargo bench --bench e2e`. Under `cargo test --all-targets` each runs once.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark whose check fails must abort"
)]

use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use mcpx::server::{Handlers, ResponseMode, Server, ToolDef, ToolResult};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

#[derive(Deserialize)]
struct Echo {
    text: String,
}

/// A server on 127.0.0.1 with an `echo` tool; returns its URL path root (`host:port`).
async fn start(mode: ResponseMode) -> String {
    let mut handlers = Handlers::new();
    handlers.tool(
        ToolDef::new("echo").description("Echoes `text`"),
        |_ctx, a: Echo| async move { Ok(ToolResult::text(a.text)) },
    );
    let server = Server::builder()
        .handlers(handlers)
        .response_mode(mode)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr
}

async fn connect(addr: &str) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

async fn post(
    send: &mut SendRequest<Full<Bytes>>,
    addr: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (http::HeaderMap, Bytes) {
    let mut req = Request::post(format!("http://{addr}/mcp"))
        .header("host", addr)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send.ready().await.unwrap();
    let resp = send
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let headers = resp.headers().clone();
    (
        headers,
        resp.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// Opens a session; returns its id.
async fn session(send: &mut SendRequest<Full<Bytes>>, addr: &str) -> String {
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let (h, _) = post(send, addr, &[], init.to_owned()).await;
    let sid = h["mcp-session-id"].to_str().unwrap().to_owned();
    post(
        send,
        addr,
        &[("mcp-session-id", &sid)],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
    )
    .await;
    sid
}

fn call(id: i64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello"}}}}}}"#
    )
}

fn stateless_call(id: i64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    )
}

fn bench_e2e(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("e2e_tools_call_echo");
    let next = AtomicI64::new(1);
    for (label, mode) in [("json", ResponseMode::Json), ("sse", ResponseMode::Sse)] {
        let (addr, mut send, sid) = rt.block_on(async {
            let addr = start(mode).await;
            let mut send = connect(&addr).await;
            let sid = session(&mut send, &addr).await;
            (addr, send, sid)
        });
        g.bench_function(format!("session_{label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    let (_, body) = post(
                        &mut send,
                        &addr,
                        &[
                            ("mcp-session-id", &sid),
                            ("mcp-protocol-version", "2025-11-25"),
                        ],
                        call(id),
                    )
                    .await;
                    assert!(body.windows(5).any(|w| w == b"hello"));
                })
            });
        });
    }
    let (addr, mut send) = rt.block_on(async {
        let addr = start(ResponseMode::Auto).await;
        let send = connect(&addr).await;
        (addr, send)
    });
    g.bench_function("stateless_auto", |b| {
        b.iter(|| {
            rt.block_on(async {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let (_, body) = post(
                    &mut send,
                    &addr,
                    &[
                        ("mcp-protocol-version", "2026-07-28"),
                        ("mcp-method", "tools/call"),
                        ("mcp-name", "echo"),
                    ],
                    stateless_call(id),
                )
                .await;
                assert!(body.windows(5).any(|w| w == b"hello"));
            })
        });
    });
    g.finish();
}

criterion_group!(benches, bench_e2e);
criterion_main!(benches);
