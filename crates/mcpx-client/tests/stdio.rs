#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! stdio without external peers: this test binary re-runs itself as the child server (selected
//! by `MCPX_STDIO_CHILD`), a tiny blocking line server. Covers the era probe falling back to
//! `initialize`, requests with progress, a server-to-client request answered by the handler,
//! cancellation by `notifications/cancelled`, notifications to the standalone queue, and the
//! child's exit on close.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcpx_client::{Client, ClientHandler, ClientOptions, EventKind, HandlerFuture};
use mcpx_wire::RawJson;
use serde_json::{Value, json};

const CHILD: &str = "MCPX_STDIO_CHILD";

/// The child: a session-era stdio server that refuses `server/discover`.
fn child_server() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    // The test harness has printed `test stdio_child_end_to_end ... ` without a line end: end
    // that line (the client skips it as undecodable, as it must any non-JSON line).
    writeln!(out).unwrap();
    let mut lines = stdin.lock().lines();
    let mut send = |v: Value| {
        writeln!(out, "{v}").unwrap();
        out.flush().unwrap();
    };

    while let Some(Ok(line)) = lines.next() {
        let msg: Value = serde_json::from_str(&line).unwrap();
        let id = msg["id"].clone();
        match msg["method"].as_str().unwrap_or("") {
            "initialize" => send(json!({"jsonrpc":"2.0","id":id,"result":{
                "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "child", "version": "0"}}})),
            "server/discover" => send(
                json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}}),
            ),
            "tools/list" => send(json!({"jsonrpc":"2.0","id":id,"result":{"tools":[
                {"name":"echo","inputSchema":{"type":"object"}}]}})),
            "tools/call" => match msg["params"]["name"].as_str().unwrap_or("") {
                "echo" => {
                    if let Some(t) = msg["params"]["_meta"]["progressToken"].as_i64() {
                        send(
                            json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":t,"progress":1}}),
                        );
                    }
                    send(
                        json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":msg["params"]["arguments"]["text"]}]}}),
                    );
                }
                "ask" => {
                    send(
                        json!({"jsonrpc":"2.0","id":"s1","method":"elicitation/create","params":{"message":"name?","requestedSchema":{"type":"object","properties":{}}}}),
                    );
                    let answer: Value =
                        serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
                    assert_eq!(answer["id"], "s1");
                    let name = answer["result"]["content"]["name"].clone();
                    send(
                        json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":name}]}}),
                    );
                }
                _ => {} // `slow`: never answers
            },
            "notifications/cancelled" => {
                send(json!({"jsonrpc":"2.0","method":"notifications/message",
                "params":{"level":"info","data": format!("cancelled {}", msg["params"]["requestId"])}}))
            }
            _ => {}
        }
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

#[tokio::test]
async fn stdio_child_end_to_end() {
    if std::env::var_os(CHILD).is_some() {
        child_server();
        return;
    }
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "stdio_child_end_to_end",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .stderr(std::process::Stdio::null());
        let mut o = ClientOptions::new();
        o.handler(Arc::new(Answers))
            .discovery_timeout(Duration::from_secs(5))
            .request_timeout(Duration::from_secs(5));
        let client = Client::new(o).unwrap();
        let s = client.stdio(cmd).await.unwrap();
        assert!(s.is_channel() && !s.is_stateless());
        assert_eq!(s.list_tools().await.unwrap()[0].name, "echo");
        // Progress and the response arrive as events of the exchange.
        let p = RawJson::from_bytes(Bytes::from_static(
            br#"{"name":"echo","arguments":{"text":"hi"}}"#,
        ))
        .unwrap();
        let mut ex = s
            .request("tools/call")
            .params(p)
            .progress(true)
            .send()
            .await
            .unwrap();
        let mut kinds = Vec::new();
        while let Some(ev) = ex.next().await.unwrap() {
            kinds.push(ev.kind());
        }
        assert_eq!(kinds, [EventKind::Progress, EventKind::Response]);
        // The server asks, the handler answers on stdin.
        assert_eq!(s.call_tool("ask", &json!({})).await.unwrap().text, "Ada");
        // Cancel a call that never ends: the server sees notifications/cancelled.
        let p =
            RawJson::from_bytes(Bytes::from_static(br#"{"name":"slow","arguments":{}}"#)).unwrap();
        let ex = s.request("tools/call").params(p).send().await.unwrap();
        let id = ex.id().unwrap();
        ex.cancel().await.unwrap();
        let mut stream = s.open_stream().await.unwrap();
        let ev = stream.next().await.unwrap().unwrap();
        let data = ev.message().unwrap().params().unwrap();
        assert!(
            data.as_str().contains(&format!("cancelled {id}")),
            "{}",
            data.as_str()
        );
        // Unique ids across everything sent.
        s.close().await.unwrap();
        assert!(matches!(s.ping().await, Err(mcpx_client::Error::Closed)));
    })
    .await
    .unwrap();
}
