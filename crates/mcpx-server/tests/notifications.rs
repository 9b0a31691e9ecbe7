//! Server-initiated notifications over loopback: `ServerHandle::resource_updated`,
//! `list_changed` and `set_handlers` reach session GET streams (session era, after
//! `resources/subscribe`) and `subscriptions/listen` streams (2026-07-28, per filter, with the
//! subscription id), and nothing else.

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
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpx_server::{Handlers, ListKind, Server, ServerHandle, ToolDef, ToolResult};
use mcpx_wire::sse::SseDecoder;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const BOUND: Duration = Duration::from_secs(5);
const V: &str = "2025-11-25";

fn handlers(extra_tool: bool) -> Handlers {
    let mut h = Handlers::new();
    h.tool(
        ToolDef::new("echo").description("Echo"),
        |_ctx, a: Value| async move { Ok(ToolResult::text(a.to_string())) },
    );
    if extra_tool {
        h.tool(
            ToolDef::new("added").description("Added later"),
            |_ctx, _a: Value| async { Ok(ToolResult::text("added")) },
        );
    }
    h.resource(
        json!({"uri": "test://watched", "name": "watched"}),
        |_ctx, uri| async move { Ok(json!({"contents": [{"uri": uri, "text": "v"}]})) },
    );
    h
}

struct Srv {
    url: String,
    handle: ServerHandle,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn start() -> Srv {
    let server = Server::builder()
        .handlers(handlers(false))
        .list_changed(true)
        .build()
        .unwrap();
    let handle = server.handle();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, std::future::pending()));
    Srv {
        url,
        handle,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Srv {
    async fn post(&self, body: Value, headers: &[(&str, &str)]) -> hyper::Response<Incoming> {
        let mut req = Request::post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        self.client.request(req).await.unwrap()
    }

    async fn session(&self) -> String {
        let r = self
            .post(
                json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion":V,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
                &[],
            )
            .await;
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let r = self
            .post(
                json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
                &[("mcp-session-id", &sid)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        sid
    }

    async fn get_stream(&self, sid: &str) -> Events {
        let req = Request::get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = self.client.request(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        Events::new(r)
    }
}

/// The JSON messages of one SSE response, in order.
struct Events {
    body: Incoming,
    decoder: SseDecoder,
    buf: bytes::BytesMut,
    ready: std::collections::VecDeque<Value>,
}

impl Events {
    fn new(r: hyper::Response<Incoming>) -> Self {
        Self {
            body: r.into_body(),
            decoder: SseDecoder::new(),
            buf: bytes::BytesMut::new(),
            ready: Default::default(),
        }
    }

    async fn next(&mut self) -> Value {
        loop {
            if let Some(v) = self.ready.pop_front() {
                return v;
            }
            let frame = self.body.frame().await.expect("stream ended").unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
                while let Some(event) = self.decoder.decode(&mut self.buf).unwrap() {
                    if !event.data().is_empty() {
                        self.ready
                            .push_back(serde_json::from_slice(event.data()).unwrap());
                    }
                }
            }
        }
    }

    /// Nothing more arrives for a short while.
    async fn quiet(&mut self) {
        assert!(
            tokio::time::timeout(Duration::from_millis(150), self.next())
                .await
                .is_err(),
            "unexpected message"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn session_era_get_streams_get_updates_and_list_changes() {
    tokio::time::timeout(BOUND, async {
        let srv = start().await;
        let subscribed = srv.session().await;
        let other = srv.session().await;
        let mut sub_stream = srv.get_stream(&subscribed).await;
        let mut other_stream = srv.get_stream(&other).await;
        let r = srv
            .post(
                json!({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://watched"}}),
                &[("mcp-session-id", &subscribed)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        assert_eq!(srv.handle.resource_updated("test://watched"), 1);
        let n = sub_stream.next().await;
        assert_eq!(n["method"], "notifications/resources/updated");
        assert_eq!(n["params"]["uri"], "test://watched");
        other_stream.quiet().await;
        assert_eq!(srv.handle.resource_updated("test://elsewhere"), 0);

        // A new tool list: announced to every session with a GET stream, and served.
        srv.handle.set_handlers(handlers(true));
        for s in [&mut sub_stream, &mut other_stream] {
            assert_eq!(s.next().await["method"], "notifications/tools/list_changed");
        }
        let r = srv
            .post(
                json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
                &[("mcp-session-id", &other)],
            )
            .await;
        let body: Value =
            serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let names: Vec<&str> = body["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["echo", "added"]);

        // Unsubscribed: no more updates. Capabilities declared listChanged.
        srv.post(
            json!({"jsonrpc":"2.0","id":3,"method":"resources/unsubscribe","params":{"uri":"test://watched"}}),
            &[("mcp-session-id", &subscribed)],
        )
        .await;
        assert_eq!(srv.handle.resource_updated("test://watched"), 0);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_streams_get_what_their_filter_asks_with_the_subscription_id() {
    tokio::time::timeout(BOUND, async {
        let srv = start().await;
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let listen = |id: i64, filter: Value| {
            json!({"jsonrpc":"2.0","id":id,"method":"subscriptions/listen",
                   "params":{"_meta": meta.clone(), "notifications": filter}})
        };
        let headers = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "subscriptions/listen"),
        ];
        let r = srv
            .post(
                listen(
                    41,
                    json!({"toolsListChanged": true, "resourceSubscriptions": ["test://watched"]}),
                ),
                &headers,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut tools = Events::new(r);
        let ack = tools.next().await;
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(ack["params"]["notifications"]["toolsListChanged"], true);
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            41
        );
        let r = srv
            .post(listen(42, json!({"promptsListChanged": true})), &headers)
            .await;
        let mut prompts = Events::new(r);
        prompts.next().await;

        assert_eq!(srv.handle.list_changed(ListKind::Tools), 1);
        let n = tools.next().await;
        assert_eq!(n["method"], "notifications/tools/list_changed");
        assert_eq!(
            n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            41
        );
        prompts.quiet().await;
        assert_eq!(srv.handle.resource_updated("test://watched"), 1);
        let n = tools.next().await;
        assert_eq!(n["method"], "notifications/resources/updated");
        assert_eq!(n["params"]["uri"], "test://watched");
        assert_eq!(srv.handle.list_changed(ListKind::Prompts), 1);
        assert_eq!(
            prompts.next().await["method"],
            "notifications/prompts/list_changed"
        );

        // Closing a listen stream ends its subscription.
        drop(tools);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while srv.handle.resource_updated("test://watched") != 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "listener not removed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
}
