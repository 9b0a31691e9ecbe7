#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! mcpx-client against an in-process `mcpx-server` on 127.0.0.1: both eras, JSON and SSE
//! replies, HTTP/1.1 and h2c, progress, elicitation (session era and 2026-07-28 round trip),
//! the GET stream, DELETE then 404, unique ids under concurrency, cancellation by drop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcpx_client::{
    Client, ClientHandler, ClientOptions, EraChoice, Error, EventKind, HandlerFuture, HttpVersion,
    ProtocolVersion,
};
use mcpx_server::{Handlers, RequestContext, ResponseMode, Server, ToolDef, ToolResult};
use mcpx_wire::RawJson;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const BOUND: Duration = Duration::from_secs(20);

async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("test exceeded its bound");
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct Count {
    to: u32,
}

#[derive(Deserialize)]
struct Nothing {}

fn handlers() -> Handlers {
    let mut h = Handlers::new();
    h.tool(
        ToolDef::new("echo")
            .description("Echoes `text`")
            .input_schema(json!({
                "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]
            })),
        |_ctx, Text { text }| async move { Ok(ToolResult::text(text)) },
    );
    h.tool(
        ToolDef::new("count").description("Counts with progress"),
        |ctx: RequestContext, Count { to }| async move {
            for i in 1..=to {
                ctx.progress(f64::from(i), Some(f64::from(to)), None).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(ToolResult::text(format!("counted to {to}")))
        },
    );
    h.tool(
        ToolDef::new("ask").description("Asks the user's name"),
        |ctx: RequestContext, Nothing {}| async move {
            let answer = ctx
                .ask(
                    "elicitation/create",
                    json!({"message": "Your name?", "requestedSchema": {"type": "object",
                        "properties": {"name": {"type": "string"}}, "required": ["name"]}}),
                )
                .await?;
            let name = answer["content"]["name"].as_str().unwrap_or("?").to_owned();
            Ok(ToolResult::text(format!("hello {name}")))
        },
    );
    h.tool(
        ToolDef::new("slow").description("Never answers before it is cancelled"),
        |ctx: RequestContext, Nothing {}| async move {
            tokio::select! {
                () = ctx.cancelled() => Ok(ToolResult::text("cancelled")),
                () = tokio::time::sleep(Duration::from_secs(30)) => Ok(ToolResult::text("slept")),
            }
        },
    );
    h.resource(
        json!({"uri": "memo://readme", "name": "readme", "mimeType": "text/plain"}),
        |_ctx, uri: String| async move {
            Ok(json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": "Hello"}]}))
        },
    );
    h.prompt(
        json!({"name": "greet", "arguments": [{"name": "who", "required": true}]}),
        |_ctx, args: serde_json::Value| async move {
            let who = args["who"].as_str().unwrap_or("?").to_owned();
            Ok(json!({"messages": [{"role": "user", "content": {"type": "text", "text": format!("hi {who}")}}]}))
        },
    );
    h
}

struct Running {
    url: String,
    _stop: oneshot::Sender<()>,
}

async fn start(mode: ResponseMode) -> Running {
    let server = Server::builder()
        .handlers(handlers())
        .response_mode(mode)
        .keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async {
        let _ = rx.await;
    }));
    Running {
        url: format!("http://{addr}/mcp"),
        _stop: tx,
    }
}

struct Answers;

impl ClientHandler for Answers {
    fn elicit(&self, _params: Option<RawJson>) -> HandlerFuture {
        Box::pin(async {
            Ok(RawJson::from_bytes(Bytes::from_static(
                br#"{"action":"accept","content":{"name":"Ada"}}"#,
            ))
            .unwrap())
        })
    }
}

fn options(era: EraChoice, version: HttpVersion) -> ClientOptions {
    let mut o = ClientOptions::new();
    o.era(era)
        .http_version(version)
        .handler(Arc::new(Answers))
        .request_timeout(Duration::from_secs(10));
    o.capabilities(RawJson::from_bytes(Bytes::from_static(br#"{"elicitation":{}}"#)).unwrap())
        .unwrap();
    o
}

const SESSION: EraChoice = EraChoice::Session(ProtocolVersion::V2025_11_25);

/// Everything the high-level API offers, in one era / mode / HTTP version.
async fn full_tour(mode: ResponseMode, era: EraChoice, version: HttpVersion, stateless: bool) {
    let srv = start(mode).await;
    let s = Client::connect(&srv.url, options(era, version))
        .await
        .unwrap();
    assert_eq!(s.is_stateless(), stateless);
    assert_eq!(s.session_id().is_some(), !stateless);
    let tools = s.list_tools().await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"echo") && names.contains(&"count"),
        "{names:?}"
    );
    let out = s
        .call_tool("echo", &json!({"text": "héllo"}))
        .await
        .unwrap();
    assert!(!out.is_error);
    assert_eq!(out.text, "héllo");
    let out = s.call_tool("count", &json!({"to": 3})).await.unwrap();
    assert_eq!(out.text, "counted to 3");
    // A forced-JSON session-era response cannot carry the server's question.
    if stateless || mode != ResponseMode::Json {
        let out = s.call_tool("ask", &json!({})).await.unwrap();
        assert_eq!(out.text, "hello Ada");
    }
    assert_eq!(s.list_prompts().await.unwrap().len(), 1);
    let p = s
        .get_prompt(
            "greet",
            Some(RawJson::from_bytes(Bytes::from_static(br#"{"who":"Bo"}"#)).unwrap()),
        )
        .await
        .unwrap();
    assert!(p.as_str().contains("hi Bo"));
    assert_eq!(s.list_resources().await.unwrap().len(), 1);
    let r = s.read_resource("memo://readme").await.unwrap();
    assert!(r.as_str().contains("Hello"));
    s.ping().await.unwrap();
    let e = s.call_tool("nope", &json!({})).await;
    assert!(
        matches!(&e, Err(Error::JsonRpc { .. })) || matches!(&e, Ok(o) if o.is_error),
        "{e:?}"
    );
    s.close().await.unwrap();
    assert!(matches!(s.ping().await, Err(Error::Closed)));
}

#[tokio::test]
async fn session_era_json_h1() {
    bounded(full_tour(
        ResponseMode::Json,
        SESSION,
        HttpVersion::Http1,
        false,
    ))
    .await;
}

#[tokio::test]
async fn session_era_sse_h1() {
    bounded(full_tour(
        ResponseMode::Sse,
        SESSION,
        HttpVersion::Http1,
        false,
    ))
    .await;
}

#[tokio::test]
async fn session_era_auto_h2c() {
    bounded(full_tour(
        ResponseMode::Auto,
        SESSION,
        HttpVersion::Http2,
        false,
    ))
    .await;
}

#[tokio::test]
async fn session_era_2025_06_18_and_2025_03_26() {
    bounded(async {
        for v in [ProtocolVersion::V2025_06_18, ProtocolVersion::V2025_03_26] {
            full_tour(
                ResponseMode::Auto,
                EraChoice::Session(v),
                HttpVersion::Http1,
                false,
            )
            .await;
        }
    })
    .await;
}

#[tokio::test]
async fn stateless_discovered_json_h1() {
    bounded(full_tour(
        ResponseMode::Json,
        EraChoice::Auto,
        HttpVersion::Http1,
        true,
    ))
    .await;
}

#[tokio::test]
async fn stateless_sse_h2c() {
    bounded(full_tour(
        ResponseMode::Sse,
        EraChoice::Stateless,
        HttpVersion::Http2,
        true,
    ))
    .await;
}

/// The load tester's path: events with arrival times, progress before the response.
#[tokio::test]
async fn progress_events_arrive_in_order_with_times() {
    bounded(async {
        for era in [SESSION, EraChoice::Stateless] {
            let srv = start(ResponseMode::Auto).await;
            let s = Client::connect(&srv.url, options(era, HttpVersion::Http1))
                .await
                .unwrap();
            let params = RawJson::from_bytes(Bytes::from_static(
                br#"{"name":"count","arguments":{"to":4}}"#,
            ))
            .unwrap();
            let mut ex = s
                .request("tools/call")
                .params(params)
                .progress(true)
                .send()
                .await
                .unwrap();
            assert_eq!(ex.status(), 200);
            assert!(ex.is_sse());
            assert!(ex.head_at() >= ex.sent_at());
            let mut progress = 0;
            let mut last = ex.sent_at();
            let mut done = false;
            while let Some(ev) = ex.next().await.unwrap() {
                assert!(ev.at() >= last);
                last = ev.at();
                match ev.kind() {
                    EventKind::Progress => progress += 1,
                    EventKind::Response => done = true,
                    _ => {}
                }
            }
            assert!(done);
            assert_eq!(progress, 4);
            assert!(ex.received_bytes() > 200, "{}", ex.received_bytes());
        }
    })
    .await;
}

/// Ids stay unique when many requests share one session (the server refuses duplicates).
#[tokio::test]
async fn unique_ids_under_concurrency_h1_and_h2() {
    bounded(async {
        for version in [HttpVersion::Http1, HttpVersion::Http2] {
            let srv = start(ResponseMode::Auto).await;
            let s = Client::connect(&srv.url, options(SESSION, version))
                .await
                .unwrap();
            let mut tasks = Vec::new();
            for i in 0..64 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    let out = s
                        .call_tool("echo", &json!({"text": i.to_string()}))
                        .await
                        .unwrap();
                    assert_eq!(out.text, i.to_string());
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
    })
    .await;
}

#[tokio::test]
async fn get_stream_opens_and_delete_then_404() {
    bounded(async {
        let srv = start(ResponseMode::Auto).await;
        let s = Client::connect(&srv.url, options(SESSION, HttpVersion::Http1))
            .await
            .unwrap();
        let mut stream = s.open_stream().await.unwrap();
        assert_eq!(stream.status(), 200);
        // A priming event at most, then only keep-alive comments: no message.
        let next = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                match stream.next().await {
                    Ok(Some(ev)) if ev.kind() == EventKind::Priming => continue,
                    other => break other,
                }
            }
        })
        .await;
        assert!(next.is_err(), "{next:?}");
        drop(stream);
        // A second session handle to the same server id, then DELETE through the first.
        let sid = s.session_id().unwrap().to_owned();
        let other = s.clone();
        let raw = hyper_delete(&srv.url, &sid).await;
        assert!(raw.is_success(), "{raw}");
        let e = other
            .call_tool("echo", &json!({"text": "x"}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::SessionExpired), "{e:?}");
        let fresh = other.reopen().await.unwrap();
        assert_ne!(fresh.session_id(), Some(sid.as_str()));
        assert_eq!(
            fresh
                .call_tool("echo", &json!({"text": "again"}))
                .await
                .unwrap()
                .text,
            "again"
        );
        fresh.close().await.unwrap();
        // close() on an expired session is not an error.
        s.close().await.unwrap();
    })
    .await;
}

async fn hyper_delete(url: &str, sid: &str) -> http::StatusCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let uri: http::Uri = url.parse().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(uri.authority().unwrap().as_str())
        .await
        .unwrap();
    let req = format!(
        "DELETE {} HTTP/1.1\r\nHost: {}\r\nMcp-Session-Id: {sid}\r\nMCP-Protocol-Version: 2025-11-25\r\nConnection: close\r\n\r\n",
        uri.path(),
        uri.authority().unwrap()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let code: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    http::StatusCode::from_u16(code).unwrap()
}

/// Dropping an exchange cancels the request (session era: notifications/cancelled; stateless:
/// the closed stream), and the deadline fires on a tool that never answers.
#[tokio::test]
async fn deadline_and_cancel_by_drop() {
    bounded(async {
        for era in [SESSION, EraChoice::Stateless] {
            let srv = start(ResponseMode::Sse).await;
            let s = Client::connect(&srv.url, options(era, HttpVersion::Http1))
                .await
                .unwrap();
            let params =
                RawJson::from_bytes(Bytes::from_static(br#"{"name":"slow","arguments":{}}"#))
                    .unwrap();
            let started = std::time::Instant::now();
            let sent = s
                .request("tools/call")
                .params(params)
                .timeout(Duration::from_millis(300))
                .send()
                .await;
            // The deadline covers the head too: a server that sends nothing times out there.
            let mut ex = match sent {
                Ok(ex) => ex,
                Err(e) => {
                    assert!(e.is_timeout(), "{e:?}");
                    continue;
                }
            };
            let e = loop {
                match ex.next().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("ended without a response"),
                    Err(e) => break e,
                }
            };
            assert!(e.is_timeout(), "{e:?}");
            assert!(started.elapsed() < Duration::from_secs(5));
            drop(ex);
            // The session is still usable.
            let out = s
                .call_tool("echo", &json!({"text": "after"}))
                .await
                .unwrap();
            assert_eq!(out.text, "after");
        }
    })
    .await;
}

/// Session era with `ResponseMode::Json`: a tool's `ctx.ask` (here elicitation) goes out on the
/// open GET stream (a JSON response has room for nothing but the answer), the client answers
/// it, and the call completes (it once hung until the client's deadline).
#[tokio::test]
async fn server_json_mode_ask_completes() {
    let srv = start(ResponseMode::Json).await;
    let mut o = options(SESSION, HttpVersion::Http1);
    o.background_stream(true)
        .request_timeout(Duration::from_secs(2));
    let s = Client::connect(&srv.url, o).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = s.call_tool("ask", &json!({})).await;
    assert!(!matches!(r, Err(Error::Timeout(_))), "{r:?}");
}

/// A request body larger than the socket takes in one write, and a reply larger than one read:
/// the hand-written request future resumes its write where it stopped, and the reply is read
/// in pieces (not the whole-in-the-buffer path), on a pooled connection that is then reused.
#[tokio::test]
async fn large_request_and_reply_on_the_inline_path() {
    bounded(async {
        for mode in [ResponseMode::Json, ResponseMode::Sse] {
            let srv = start(mode).await;
            let s = Client::connect(&srv.url, options(SESSION, HttpVersion::Http1))
                .await
                .unwrap();
            let big = "x".repeat(3 << 20);
            for text in [big.as_str(), "small after big", big.as_str()] {
                let out = s.call_tool("echo", &json!({ "text": text })).await.unwrap();
                assert_eq!(out.text.len(), text.len());
                assert!(out.text == text);
            }
        }
    })
    .await;
}
