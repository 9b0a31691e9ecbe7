//! The legacy HTTP+SSE transport (2024-11-05) over loopback: the `endpoint` event, messages
//! POSTed (202) and answered on the stream (progress, logs and a server-to-client request
//! included), the same `Host`/`Origin`, body-size and content-type checks as Streamable HTTP,
//! unknown or missing connection ids, the transport being off by default, and a disconnect
//! ending the session (its requests cancelled, its id unknown afterwards).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
use mcpx_wire::sse::SseDecoder;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

const BOUND: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Seen {
    cancelled: AtomicBool,
    notify: Notify,
}

fn handlers(seen: Arc<Seen>) -> Handlers {
    let mut h = Handlers::new();
    h.tool(ToolDef::new("echo"), |_ctx, a: Value| async move {
        Ok(ToolResult::text(a["text"].as_str().unwrap_or_default()))
    });
    h.tool(ToolDef::new("progress"), |ctx, _a: Value| async move {
        ctx.progress(1.0, None, None).await;
        ctx.log("info", None, json!("working")).await;
        Ok(ToolResult::text("done"))
    });
    h.tool(ToolDef::new("ask"), |ctx, _a: Value| async move {
        let answer = ctx
            .ask(
                "elicitation/create",
                json!({"message": "name?", "requestedSchema": {"type": "object", "properties": {}}}),
            )
            .await?;
        Ok(ToolResult::text(
            answer["content"]["name"].as_str().unwrap_or("?"),
        ))
    });
    h.tool(ToolDef::new("slow"), move |ctx, _a: Value| {
        let seen = seen.clone();
        async move {
            ctx.cancelled().await;
            seen.cancelled.store(true, Ordering::SeqCst);
            seen.notify.notify_waiters();
            Ok(ToolResult::text("cancelled"))
        }
    });
    h
}

struct Srv {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    seen: Arc<Seen>,
}

async fn start(legacy: bool) -> Srv {
    start_with(|b| b.legacy_sse(legacy)).await
}

async fn start_with(
    f: impl FnOnce(mcpx_server::ServerBuilder) -> mcpx_server::ServerBuilder,
) -> Srv {
    let seen = Arc::new(Seen::default());
    let server = f(Server::builder()
        .handlers(handlers(seen.clone()))
        .max_body_bytes(4096))
    .build()
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, std::future::pending()));
    Srv {
        base,
        client: Client::builder(TokioExecutor::new()).build_http(),
        seen,
    }
}

/// An open `/sse` stream.
struct Events {
    body: Incoming,
    decoder: SseDecoder,
    buf: BytesMut,
}

impl Events {
    /// The next event's type and data.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(ev) = self.decoder.decode(&mut self.buf).unwrap() {
                return (
                    ev.event_type().to_owned(),
                    String::from_utf8(ev.data().to_vec()).unwrap(),
                );
            }
            let frame = self.body.frame().await.expect("stream ended").unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
            }
        }
    }

    /// The next `message` event, as JSON.
    async fn message(&mut self) -> Value {
        let (kind, data) = self.next().await;
        assert_eq!(kind, "message", "{data}");
        serde_json::from_str(&data).unwrap()
    }
}

impl Srv {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> hyper::Response<Incoming> {
        let mut req =
            Request::get(format!("{}{path}", self.base)).header("accept", "text/event-stream");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap()
    }

    /// Opens a connection: the stream and the endpoint it names.
    async fn open(&self) -> (Events, String) {
        let resp = self.get("/sse", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut events = Events {
            body: resp.into_body(),
            decoder: SseDecoder::new(),
            buf: BytesMut::new(),
        };
        let (kind, endpoint) = events.next().await;
        assert_eq!(kind, "endpoint");
        assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
        (events, endpoint)
    }

    async fn post_raw(
        &self,
        endpoint: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut req = Request::post(format!("{}{endpoint}", self.base));
        if !headers.iter().any(|(k, _)| *k == "content-type") {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .client
            .request(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn post(&self, endpoint: &str, message: Value) {
        let (status, body) = self.post_raw(endpoint, message.to_string(), &[]).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }

    async fn initialize(&self, endpoint: &str, events: &mut Events) {
        self.post(
            endpoint,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion":"2024-11-05","capabilities":{"elicitation":{}},
                "clientInfo":{"name":"t","version":"0"}}}),
        )
        .await;
        let init = events.message().await;
        assert_eq!(init["id"], 0);
        assert_eq!(init["result"]["protocolVersion"], "2024-11-05", "{init}");
        self.post(
            endpoint,
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    }
}

fn call(id: i64, tool: &str, meta: Option<Value>) -> Value {
    let mut params = json!({"name": tool, "arguments": {"text": "hi"}});
    if let Some(m) = meta {
        params["_meta"] = m;
    }
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params})
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_answered_on_the_stream() {
    tokio::time::timeout(BOUND, async {
        let srv = start(true).await;
        let (mut events, endpoint) = srv.open().await;
        srv.initialize(&endpoint, &mut events).await;
        srv.post(
            &endpoint,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        )
        .await;
        let list = events.message().await;
        assert_eq!(list["id"], 1);
        assert!(
            list["result"]["tools"].as_array().unwrap().len() >= 4,
            "{list}"
        );
        srv.post(
            &endpoint,
            call(2, "progress", Some(json!({"progressToken": 5}))),
        )
        .await;
        let p = events.message().await;
        assert_eq!(p["method"], "notifications/progress", "{p}");
        assert_eq!(p["params"]["progressToken"], 5);
        let log = events.message().await;
        assert_eq!(log["method"], "notifications/message", "{log}");
        let r = events.message().await;
        assert_eq!(r["id"], 2);
        assert_eq!(r["result"]["content"][0]["text"], "done", "{r}");
        // The server asks on the stream; the answer is POSTed like any message.
        srv.post(&endpoint, call(3, "ask", None)).await;
        let ask = events.message().await;
        assert_eq!(ask["method"], "elicitation/create", "{ask}");
        srv.post(
            &endpoint,
            json!({"jsonrpc":"2.0","id":ask["id"],
                   "result":{"action":"accept","content":{"name":"Ada"}}}),
        )
        .await;
        let r = events.message().await;
        assert_eq!(r["id"], 3);
        assert_eq!(r["result"]["content"][0]["text"], "Ada", "{r}");
        // A message-level refusal goes on the stream, with its id.
        srv.post(&endpoint, call(4, "slow", None)).await;
        srv.post(&endpoint, call(4, "echo", None)).await;
        let dup = events.message().await;
        assert_eq!(dup["id"], 4);
        assert_eq!(dup["error"]["code"], -32600, "{dup}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn carrier_checks_are_those_of_streamable_http() {
    tokio::time::timeout(BOUND, async {
        let srv = start(true).await;
        // A browser page from elsewhere, or a rebinding DNS name, gets 403 on the GET ...
        let r = srv.get("/sse", &[("origin", "https://evil.example")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = srv.get("/sse", &[("host", "evil.example")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (mut events, endpoint) = srv.open().await;
        srv.initialize(&endpoint, &mut events).await;
        let ok = call(1, "echo", None).to_string();
        // ... and on every POST.
        let (s, body) = srv
            .post_raw(&endpoint, ok.clone(), &[("origin", "https://evil.example")])
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("-32600"), "{body}");
        let (s, _) = srv
            .post_raw(&endpoint, ok.clone(), &[("content-type", "text/plain")])
            .await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // The header-size limit (431), as on the Streamable HTTP endpoint.
        let huge = "a".repeat(40 * 1024);
        let (s, _) = srv
            .post_raw(&endpoint, ok.clone(), &[("x-padding", huge.as_str())])
            .await;
        assert_eq!(s, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let r = srv.get("/sse", &[("x-padding", huge.as_str())]).await;
        assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let big = call(2, "echo", None)
            .to_string()
            .replace("hi", &"x".repeat(8192));
        let (s, _) = srv.post_raw(&endpoint, big, &[]).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let (s, body) = srv.post_raw(&endpoint, "{oops".into(), &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains("-32700"), "{body}");
        let (s, _) = srv
            .post_raw("/messages?sessionId=0123456789abcdef", ok.clone(), &[])
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = srv.post_raw("/messages", ok.clone(), &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // None of that disturbed the connection.
        srv.post(&endpoint, call(3, "echo", None)).await;
        let r = events.message().await;
        assert_eq!(r["id"], 3, "{r}");
        assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn off_by_default() {
    tokio::time::timeout(BOUND, async {
        let srv = start(false).await;
        let r = srv.get("/sse", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let (s, _) = srv
            .post_raw(
                "/messages?sessionId=ab",
                call(1, "echo", None).to_string(),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disconnect_ends_the_session_and_cancels_its_requests() {
    tokio::time::timeout(BOUND, async {
        let srv = start(true).await;
        let (mut events, endpoint) = srv.open().await;
        srv.initialize(&endpoint, &mut events).await;
        srv.post(&endpoint, call(1, "slow", None)).await;
        let seen = srv.seen.clone();
        let notified = seen.notify.notified();
        drop(events);
        if !seen.cancelled.load(Ordering::SeqCst) {
            notified.await;
        }
        // The connection id is gone with it.
        let (s, _) = srv
            .post_raw(&endpoint, call(2, "echo", None).to_string(), &[])
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_bounded_and_idle_streams_kept_alive() {
    tokio::time::timeout(BOUND, async {
        let srv = start_with(|b| {
            b.legacy_sse(true)
                .max_legacy_connections(1)
                .keep_alive(Duration::from_millis(50))
        })
        .await;
        let (mut events, endpoint) = srv.open().await;
        let r = srv.get("/sse", &[]).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
        // An idle stream gets keep-alive comments (which the decoder skips and counts).
        while events.decoder.comments_seen() == 0 {
            let frame = events.body.frame().await.expect("stream ended").unwrap();
            if let Ok(data) = frame.into_data() {
                events.buf.extend_from_slice(&data);
            }
            assert!(events.decoder.decode(&mut events.buf).unwrap().is_none());
        }
        srv.initialize(&endpoint, &mut events).await;
        // A closed connection frees its slot.
        drop(events);
        loop {
            let r = srv.get("/sse", &[]).await;
            if r.status() == StatusCode::OK {
                break;
            }
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            drop(r);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
}
