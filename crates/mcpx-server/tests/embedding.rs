//! Embedding: the server mounted in an axum app beside other routes (tower::Service), and a
//! low-level `Service` that sees raw messages (a gateway), both over loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpx_proto::Config;
use mcpx_server::{
    BoxFuture, HandlerError, Handlers, RequestContext, Server, Service, ServiceResult, ToolDef,
    ToolResult,
};
use mcpx_wire::{Message, RawJson};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const BOUND: Duration = Duration::from_secs(5);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn post(
    client: &HttpClient,
    url: &str,
    body: Value,
    sid: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(sid) = sid {
        req = req.header("mcp-session-id", sid);
    }
    let r = client
        .request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let sid = r
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, sid, json)
}

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

async fn session(client: &HttpClient, url: &str) -> (String, Value) {
    let (status, sid, init) = post(client, url, initialize(), None).await;
    assert_eq!(status, StatusCode::OK, "{init}");
    let sid = sid.unwrap();
    let (status, _, _) = post(
        client,
        url,
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        Some(&sid),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    (sid, init)
}

#[tokio::test(flavor = "multi_thread")]
async fn mounts_in_an_axum_app_beside_other_routes() {
    tokio::time::timeout(BOUND, async {
        let mut handlers = Handlers::new();
        handlers.tool(ToolDef::new("echo").description("Echo"), |_ctx, a: Value| async move {
            Ok(ToolResult::text(a["text"].as_str().unwrap_or_default().to_owned()))
        });
        let mut config = Config::new();
        config.any_path();
        let mcp = Server::builder()
            .config(config)
            .handlers(handlers)
            .build()
            .unwrap()
            .into_service();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "the app's own page" }))
            .nest_service("/api/mcp", mcp);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

        let url = format!("{base}/api/mcp");
        let (sid, _) = session(&client, &url).await;
        let (status, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"via axum"}}}),
            Some(&sid),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(r["result"]["content"][0]["text"], "via axum");
        // The app's other routes are the app's.
        let page = client
            .request(Request::get(format!("{base}/")).body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let body = page.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"the app's own page");
    })
    .await
    .unwrap();
}

/// A gateway: answers every request from the raw message.
struct Gateway;

impl Service for Gateway {
    fn call(&self, _ctx: RequestContext, request: Message) -> BoxFuture<ServiceResult> {
        Box::pin(async move {
            let method = request.method().unwrap_or_default().to_owned();
            if method == "x/fail" {
                return Err(HandlerError::invalid_params("the upstream refused"));
            }
            let params = request
                .params()
                .map_or_else(|| "null".to_owned(), |p| p.as_str().to_owned());
            let raw = format!(r#"{{"forwarded":"{method}","params":{params}}}"#);
            Ok(RawJson::from_bytes(Bytes::from(raw)).unwrap())
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_low_level_service_sees_raw_messages() {
    tokio::time::timeout(BOUND, async {
        let mut handlers = Handlers::new();
        handlers.service(Gateway);
        let mut config = Config::new();
        config.capabilities(r#"{"tools":{"listChanged":true}}"#);
        let mut methods = mcpx_proto::DEFAULT_DISPATCH_METHODS.to_vec();
        methods.extend(["x/custom", "x/fail"]);
        config.dispatch_methods(&methods);
        let server = Server::builder()
            .config(config)
            .handlers(handlers)
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(server.serve(listener, std::future::pending()));
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

        let (sid, init) = session(&client, &url).await;
        assert_eq!(
            init["result"]["capabilities"],
            json!({"tools":{"listChanged":true}})
        );
        // Params go through byte for byte (key order, spacing of the raw value kept).
        let (_, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"anything","arguments":{"z":1,"a":2}}}),
            Some(&sid),
        )
        .await;
        assert_eq!(r["result"]["forwarded"], "tools/call");
        assert_eq!(r["result"]["params"]["name"], "anything");
        let (_, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":2,"method":"x/custom"}),
            Some(&sid),
        )
        .await;
        assert_eq!(r["result"]["forwarded"], "x/custom");
        let (_, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":3,"method":"x/fail"}),
            Some(&sid),
        )
        .await;
        assert_eq!(r["error"]["code"], -32602);
        // Methods nobody declared are still the engine's -32601.
        let (_, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":4,"method":"x/undeclared"}),
            Some(&sid),
        )
        .await;
        assert_eq!(r["error"]["code"], -32601);
        // ping is the engine's.
        let (_, _, r) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","id":5,"method":"ping"}),
            Some(&sid),
        )
        .await;
        assert_eq!(r["result"], json!({}));
    })
    .await
    .unwrap();
}

/// A handler waiting on `ctx.cancelled()` wakes up when the client sends
/// `notifications/cancelled` (session era), and `ctx.is_cancelled()` reports it.
#[tokio::test(flavor = "multi_thread")]
async fn handlers_observe_cancellation() {
    tokio::time::timeout(BOUND, async {
        let (woke_tx, mut woke_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
        let mut handlers = Handlers::new();
        handlers.tool(
            ToolDef::new("wait").description("Waits to be cancelled"),
            move |ctx, _a: Value| {
                let woke = woke_tx.clone();
                async move {
                    ctx.cancelled().await;
                    let _ = woke.send(ctx.is_cancelled());
                    Ok(ToolResult::text("cancelled"))
                }
            },
        );
        let server = Server::builder().handlers(handlers).build().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(server.serve(listener, std::future::pending()));
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let (sid, _) = session(&client, &url).await;
        let call = {
            let (client, url, sid) = (client.clone(), url.clone(), sid.clone());
            tokio::spawn(async move {
                post(
                    &client,
                    &url,
                    json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"wait","arguments":{}}}),
                    Some(&sid),
                )
                .await
            })
        };
        // Not cancelled yet.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), woke_rx.recv())
                .await
                .is_err()
        );
        let (status, _, _) = post(
            &client,
            &url,
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}),
            Some(&sid),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(woke_rx.recv().await, Some(true), "the handler saw the cancellation");
        call.abort();
    })
    .await
    .unwrap();
}
