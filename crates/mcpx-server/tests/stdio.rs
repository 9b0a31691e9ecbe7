//! The stdio transport in process: `Server::serve_io` over in-memory pipes, one JSON-RPC
//! message per line. Lifecycle, tools, progress and logs in order on the one output,
//! server-to-client requests answered on the input, cancellation, panics, duplicate ids, bad and
//! oversized lines, list changes on the session's standalone stream, the in-flight bound, and
//! the end of input (answers still written, then a clean return).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mcpx_server::limits::DEFAULT_MAX_CHANNEL_IN_FLIGHT;
use mcpx_server::{Handlers, ListKind, Server, ServerHandle, ToolDef, ToolResult};
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(10);
const V: &str = "2025-11-25";
/// Progress notifications the `flood` tool sends.
const FLOOD: u32 = 2000;

/// Set by the `slow` tool when it sees its cancellation.
#[derive(Default)]
struct Seen {
    cancelled: AtomicBool,
    /// How many `slow` calls saw their cancellation.
    count: AtomicUsize,
    /// Progress notifications the `flood` tool has handed over so far.
    flooded: AtomicUsize,
    notify: Notify,
}

fn handlers(seen: Arc<Seen>) -> Handlers {
    let mut h = Handlers::new();
    h.tool(ToolDef::new("echo"), |_ctx, a: Value| async move {
        Ok(ToolResult::text(a["text"].as_str().unwrap_or_default()))
    });
    h.tool(ToolDef::new("progress"), |ctx, _a: Value| async move {
        ctx.progress(1.0, Some(2.0), None).await;
        ctx.log("info", None, json!("halfway")).await;
        ctx.progress(2.0, Some(2.0), None).await;
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
    let flood = seen.clone();
    h.tool(ToolDef::new("slow"), move |ctx, _a: Value| {
        let seen = seen.clone();
        async move {
            ctx.cancelled().await;
            seen.cancelled.store(true, Ordering::SeqCst);
            seen.count.fetch_add(1, Ordering::SeqCst);
            seen.notify.notify_waiters();
            Ok(ToolResult::text("cancelled"))
        }
    });
    h.tool(ToolDef::new("flood"), move |ctx, _a: Value| {
        let seen = flood.clone();
        async move {
            for i in 0..FLOOD {
                ctx.progress(f64::from(i), None, None).await;
                seen.flooded.fetch_add(1, Ordering::SeqCst);
            }
            Ok(ToolResult::text("flooded"))
        }
    });
    h.tool(ToolDef::new("sleep"), |_ctx, _a: Value| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(ToolResult::text("slept"))
    });
    h.tool(ToolDef::new("panic"), |_ctx, _a: Value| async move {
        if true {
            panic!("handler bug");
        }
        Ok(ToolResult::text("unreachable"))
    });
    h
}

struct Conn {
    input: WriteHalf<DuplexStream>,
    output: Lines<BufReader<ReadHalf<DuplexStream>>>,
    served: JoinHandle<std::io::Result<()>>,
    handle: ServerHandle,
    seen: Arc<Seen>,
    stop: Option<oneshot::Sender<()>>,
}

fn start_with(builder: impl FnOnce(Handlers) -> mcpx_server::ServerBuilder) -> Conn {
    start_piped(builder, 1 << 16)
}

/// A connection whose pipes buffer `pipe` bytes.
fn start_piped(builder: impl FnOnce(Handlers) -> mcpx_server::ServerBuilder, pipe: usize) -> Conn {
    let seen = Arc::new(Seen::default());
    let server = builder(handlers(seen.clone())).build().unwrap();
    let handle = server.handle();
    let (client, server_end) = tokio::io::duplex(pipe);
    let (server_r, server_w) = tokio::io::split(server_end);
    let (client_r, client_w) = tokio::io::split(client);
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        server
            .serve_io(server_r, server_w, async {
                let _ = stopped.await;
            })
            .await
    });
    Conn {
        input: client_w,
        output: BufReader::new(client_r).lines(),
        served,
        handle,
        seen,
        stop: Some(stop),
    }
}

fn start() -> Conn {
    start_with(|h| Server::builder().handlers(h).list_changed(true))
}

impl Conn {
    async fn send(&mut self, v: Value) {
        self.send_raw(&v.to_string()).await;
    }

    async fn send_raw(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    /// The next line, which must be one JSON value.
    async fn recv(&mut self) -> Value {
        let line = self
            .output
            .next_line()
            .await
            .unwrap()
            .expect("output ended");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    async fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        let r = self.recv().await;
        assert_eq!(r["id"], id, "{r}");
        r
    }

    async fn initialize(&mut self) -> Value {
        let r = self
            .request(
                0,
                "initialize",
                json!({"protocolVersion": V, "capabilities": {"elicitation": {}},
                       "clientInfo": {"name": "t", "version": "0"}}),
            )
            .await;
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        r
    }

    async fn call(&mut self, id: i64, tool: &str, extra: Value) -> Value {
        let mut params = json!({"name": tool, "arguments": {"text": "hi"}});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params}))
            .await;
        self.recv().await
    }

    /// Closes the input and waits for `serve_io` to return.
    async fn finish(mut self) -> Vec<Value> {
        self.input.shutdown().await.unwrap();
        let mut rest = Vec::new();
        while let Some(line) = self.output.next_line().await.unwrap() {
            rest.push(serde_json::from_str(&line).unwrap());
        }
        self.served.await.unwrap().unwrap();
        rest
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_lists_and_calls() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        let init = c.initialize().await;
        assert_eq!(init["result"]["protocolVersion"], V, "{init}");
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        let tools = c.request(1, "tools/list", json!({})).await;
        let names: Vec<&str> = tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"echo") && names.contains(&"ask"), "{tools}");
        let r = c.call(2, "echo", json!({})).await;
        assert_eq!(r["id"], 2);
        assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
        let r = c.request(3, "ping", json!({})).await;
        assert_eq!(r["result"], json!({}));
        // An unknown tool is the handler's -32602, not a transport failure.
        let r = c.call(4, "nope", json!({})).await;
        assert_eq!(r["error"]["code"], -32602, "{r}");
        assert!(c.finish().await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_and_logs_precede_the_answer_in_order() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        let first = c
            .call(7, "progress", json!({"_meta": {"progressToken": "p"}}))
            .await;
        let (second, third, fourth) = (c.recv().await, c.recv().await, c.recv().await);
        assert_eq!(first["method"], "notifications/progress", "{first}");
        assert_eq!(first["params"]["progressToken"], "p");
        assert_eq!(first["params"]["progress"], 1.0);
        assert_eq!(second["method"], "notifications/message", "{second}");
        assert_eq!(second["params"]["data"], "halfway");
        assert_eq!(third["params"]["progress"], 2.0, "{third}");
        assert_eq!(fourth["id"], 7, "{fourth}");
        assert_eq!(fourth["result"]["content"][0]["text"], "done");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_asks_and_the_client_answers_on_stdin() {
    asks_and_gets_an_answer(start()).await;
}

/// With JSON responses a question goes on the session's standalone stream (HTTP has nowhere
/// else for it): on stdio that is the same output.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_asks_in_json_response_mode_too() {
    asks_and_gets_an_answer(start_with(|h| {
        Server::builder()
            .handlers(h)
            .response_mode(mcpx_server::ResponseMode::Json)
    }))
    .await;
}

async fn asks_and_gets_an_answer(mut c: Conn) {
    tokio::time::timeout(BOUND, async {
        c.initialize().await;
        let ask = c.call(5, "ask", json!({})).await;
        assert_eq!(ask["method"], "elicitation/create", "{ask}");
        let id = ask["id"].clone();
        assert!(!id.is_null());
        c.send(json!({"jsonrpc":"2.0","id":id,
                      "result":{"action":"accept","content":{"name":"Ada"}}}))
            .await;
        let r = c.recv().await;
        assert_eq!(r["id"], 5, "{r}");
        assert_eq!(r["result"]["content"][0]["text"], "Ada", "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_reaches_the_handler_and_nothing_is_answered() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        c.send(json!({"jsonrpc":"2.0","id":9,"method":"tools/call",
                      "params":{"name":"slow","arguments":{}}}))
            .await;
        // The duplicate id while 9 is in flight is refused at once, with its id.
        let dup = c.call(9, "echo", json!({})).await;
        assert_eq!(dup["id"], 9, "{dup}");
        assert_eq!(dup["error"]["code"], -32600, "{dup}");
        let seen = c.seen.clone();
        let notified = seen.notify.notified();
        c.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
                      "params":{"requestId":9,"reason":"user"}}))
            .await;
        if !seen.cancelled.load(Ordering::SeqCst) {
            notified.await;
        }
        assert!(seen.cancelled.load(Ordering::SeqCst));
        // The next thing on the output is the ping's answer: nothing for the cancelled call.
        let r = c.request(10, "ping", json!({})).await;
        assert_eq!(r["result"], json!({}), "{r}");
        assert!(c.finish().await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_gets_internal_error_and_the_connection_goes_on() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        let r = c.call(1, "panic", json!({})).await;
        assert_eq!(r["id"], 1);
        assert_eq!(r["error"]["code"], -32603, "{r}");
        let r = c.call(2, "echo", json!({})).await;
        assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_and_oversized_lines_are_answered_and_skipped() {
    tokio::time::timeout(BOUND, async {
        let mut c = start_with(|h| Server::builder().handlers(h).max_body_bytes(1024));
        c.initialize().await;
        c.send_raw("{not json").await;
        let r = c.recv().await;
        assert_eq!(r["error"]["code"], -32700, "{r}");
        // 2025-11-25: an error whose id cannot be recovered omits it.
        assert!(r.get("id").is_none_or(Value::is_null), "{r}");
        let big = "x".repeat(4096);
        c.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
                      "params":{"name":"echo","arguments":{"text":big}}}))
            .await;
        let r = c.recv().await;
        assert_eq!(r["error"]["code"], -32600, "{r}");
        // Blank lines are skipped; framing goes on after the oversized line.
        c.send_raw("   ").await;
        let r = c.call(4, "echo", json!({})).await;
        assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
        // A notification that is refused gets nothing (the ping's answer comes next).
        c.send(json!({"jsonrpc":"2.0","method":"notifications/bogus"}))
            .await;
        let r = c.request(5, "ping", json!({})).await;
        assert_eq!(r["result"], json!({}), "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn list_changes_arrive_on_the_session_stream() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        // The standalone stream opens with the session; make sure the session is ready.
        c.request(1, "ping", json!({})).await;
        let n = c.handle.list_changed(ListKind::Tools);
        assert_eq!(n, 1, "one session stream (this connection's)");
        let r = c.recv().await;
        assert_eq!(r["method"], "notifications/tools/list_changed", "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_in_flight_at_eof_are_still_written() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        c.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                      "params":{"name":"sleep","arguments":{}}}))
            .await;
        let rest = c.finish().await;
        assert_eq!(rest.len(), 1, "{rest:?}");
        assert_eq!(rest[0]["id"], 1);
        assert_eq!(rest[0]["result"]["content"][0]["text"], "slept");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_ends_the_session_and_cancels_its_requests() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        c.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                      "params":{"name":"slow","arguments":{}}}))
            .await;
        // Answered in order: the call is in flight once the ping comes back.
        c.request(2, "ping", json!({})).await;
        let seen = c.seen.clone();
        let notified = seen.notify.notified();
        let _ = c.stop.take().unwrap().send(());
        if !seen.cancelled.load(Ordering::SeqCst) {
            notified.await;
        }
        c.served.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_need_no_handshake() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}});
        let r = c
            .request(1, "server/discover", json!({"_meta": meta.clone()}))
            .await;
        assert!(r["result"]["supportedVersions"].is_array(), "{r}");
        let r = c
            .request(
                2,
                "tools/call",
                json!({"name": "echo", "arguments": {"text": "hey"}, "_meta": meta}),
            )
            .await;
        assert_eq!(r["result"]["content"][0]["text"], "hey", "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_are_cancelled_by_notification() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}});
        c.send(json!({"jsonrpc":"2.0","id":"s1","method":"tools/call",
                      "params":{"name":"slow","arguments":{},"_meta":meta.clone()}}))
            .await;
        let seen = c.seen.clone();
        let notified = seen.notify.notified();
        // MCP-DIGEST 7: on stdio, the only way a 2026-07-28 client cancels.
        c.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
                      "params":{"requestId":"s1","_meta":meta.clone()}}))
            .await;
        if !seen.cancelled.load(Ordering::SeqCst) {
            notified.await;
        }
        // Nothing is answered for it: the next line is the discover answer.
        let r = c
            .request(2, "server/discover", json!({"_meta": meta}))
            .await;
        assert!(r["result"].is_object(), "{r}");
        assert!(c.finish().await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stateless_listen_gets_list_changes_until_cancelled() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}});
        c.send(
            json!({"jsonrpc":"2.0","id":"l1","method":"subscriptions/listen",
                      "params":{"_meta":meta.clone(),"notifications":{"toolsListChanged":true}}}),
        )
        .await;
        let ack = c.recv().await;
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{ack}"
        );
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "l1"
        );
        assert_eq!(c.handle.list_changed(ListKind::Tools), 1);
        let n = c.recv().await;
        assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
        assert_eq!(
            n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "l1"
        );
        c.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
                      "params":{"requestId":"l1","_meta":meta}}))
            .await;
        // The listen stream is gone: a change reaches no one.
        let gone = async {
            loop {
                if c.handle.list_changed(ListKind::Tools) == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        gone.await;
        c.input.shutdown().await.unwrap();
        c.served.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_over_the_in_flight_bound_are_refused_and_shutdown_cancels_the_rest() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}});
        let n = i64::try_from(DEFAULT_MAX_CHANNEL_IN_FLIGHT).unwrap();
        for id in 0..=n {
            c.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                          "params":{"name":"slow","arguments":{},"_meta":meta.clone()}}))
                .await;
        }
        // Stateless requests count against no session: the channel's own bound refuses the
        // one over it, at once and with its id.
        let r = c.recv().await;
        assert_eq!(r["id"], n, "{r}");
        assert_eq!(r["error"]["code"], -32600, "{r}");
        // Ending the connection cancels every one still running.
        let _ = c.stop.take().unwrap().send(());
        c.served.await.unwrap().unwrap();
        let seen = c.seen.clone();
        while seen.count.load(Ordering::SeqCst) < DEFAULT_MAX_CHANNEL_IN_FLIGHT {
            let notified = seen.notify.notified();
            if seen.count.load(Ordering::SeqCst) >= DEFAULT_MAX_CHANNEL_IN_FLIGHT {
                break;
            }
            notified.await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_read_stalls_the_handler_not_memory() {
    tokio::time::timeout(BOUND, async {
        let mut config = mcpx_proto::Config::new();
        config.max_queued_events_per_stream(4);
        let mut c = start_piped(|h| Server::builder().handlers(h).config(config), 1024);
        c.initialize().await;
        c.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                      "params":{"name":"flood","arguments":{},"_meta":{"progressToken":1}}}))
            .await;
        // Nobody reads: the handler gets as far as the bounded queues and the pipe allow.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stalled = c.seen.flooded.load(Ordering::SeqCst);
        assert!(
            stalled < 200,
            "{stalled} notifications queued for a client that reads none"
        );
        // Reading lets it finish, with every notification in order, then the answer.
        for i in 0..FLOOD {
            let p = c.recv().await;
            assert_eq!(p["params"]["progress"], f64::from(i), "{p}");
        }
        let r = c.recv().await;
        assert_eq!(r["result"]["content"][0]["text"], "flooded", "{r}");
        c.finish().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_serve_io_ends_the_session() {
    tokio::time::timeout(BOUND, async {
        let mut c = start();
        c.initialize().await;
        c.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                      "params":{"name":"slow","arguments":{}}}))
            .await;
        c.request(2, "ping", json!({})).await;
        let seen = c.seen.clone();
        let notified = seen.notify.notified();
        c.served.abort();
        if !seen.cancelled.load(Ordering::SeqCst) {
            notified.await;
        }
    })
    .await
    .unwrap();
}
