#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! mcpx-client against scripted HTTP/1.1 servers on 127.0.0.1 that misbehave on purpose: a
//! dropped SSE stream (resumption with `Last-Event-ID` after `retry:`), a stalled server
//! (deadlines), garbage (typed errors, no panic), era discovery fallbacks, the legacy HTTP+SSE
//! transport, the exact request headers of each era, cancellation by drop.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcpx_client::{Client, ClientOptions, EraChoice, Error, EventKind, ProtocolVersion};
use mcpx_wire::RawJson;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(20);

/// Counts the notifications the high-level API hands to the handler.
#[derive(Default)]
struct Counter(std::sync::atomic::AtomicUsize);

impl mcpx_client::ClientHandler for Counter {
    fn notification(&self, _message: &mcpx_wire::Message) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Clone, Debug)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn rpc(&self) -> &str {
        self.body["method"].as_str().unwrap_or("")
    }
    fn id(&self) -> Value {
        self.body["id"].clone()
    }
}

enum Reply {
    /// Raw response bytes, with optional pauses: (delay before, bytes).
    Chunks(Vec<(u64, Vec<u8>)>),
    /// Never answer.
    Stall,
    /// A head, then whatever the channel sends, until it closes.
    Stream(Vec<u8>, mpsc::Receiver<Vec<u8>>),
}

type Script = Arc<dyn Fn(Req) -> Reply + Send + Sync>;

struct Scripted {
    url: String,
    log: Arc<Mutex<Vec<Req>>>,
}

async fn serve(path: &str, script: impl Fn(Req) -> Reply + Send + Sync + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script: Script = Arc::new(script);
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let script = script.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let _ = conn(sock, script, log).await;
            });
        }
    });
    Scripted {
        url: format!("http://{addr}{path}"),
        log,
    }
}

async fn conn(sock: TcpStream, script: Script, log: Arc<Mutex<Vec<Req>>>) -> std::io::Result<()> {
    let mut rd = BufReader::new(sock);
    // One request per connection: every scripted reply says `Connection: close`.
    {
        let mut line = String::new();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            rd.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        rd.read_exact(&mut body).await?;
        let req = Req {
            method,
            path,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        log.lock().unwrap().push(req.clone());
        let sock = rd.get_mut();
        match script(req) {
            Reply::Stall => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
            Reply::Chunks(chunks) => {
                for (delay, bytes) in chunks {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    sock.write_all(&bytes).await?;
                    sock.flush().await?;
                }
                Ok(())
            }
            Reply::Stream(head, mut rx) => {
                sock.write_all(&head).await?;
                sock.flush().await?;
                while let Some(chunk) = rx.recv().await {
                    sock.write_all(&chunk).await?;
                    sock.flush().await?;
                }
                Ok(())
            }
        }
    }
}

fn raw(status: &str, ctype: Option<&str>, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}",
        body.len()
    );
    if let Some(c) = ctype {
        out.push_str(&format!("Content-Type: {c}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn json_reply(extra: &str, v: &Value) -> Reply {
    Reply::Chunks(vec![(
        0,
        raw(
            "200 OK",
            Some("application/json"),
            extra,
            v.to_string().as_bytes(),
        ),
    )])
}

fn accepted() -> Reply {
    Reply::Chunks(vec![(0, raw("202 Accepted", None, "", b""))])
}

fn sse_head(extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn init_result(id: &Value, version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": version, "capabilities": {"tools": {}},
        "serverInfo": {"name": "scripted", "version": "0"}}})
}

fn result(id: &Value, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
}

/// A legacy-only (session era) server: 404 to server/discover, then `f` for tools/call.
fn session_server(
    f: impl Fn(&Req) -> Reply + Send + Sync + 'static,
) -> impl Fn(Req) -> Reply + Send + Sync + 'static {
    move |req: Req| match (req.method.as_str(), req.rpc()) {
        ("POST", "server/discover") => {
            Reply::Chunks(vec![(0, raw("404 Not Found", None, "", b""))])
        }
        ("POST", "initialize") => json_reply(
            "Mcp-Session-Id: s-1\r\n",
            &init_result(&req.id(), "2025-11-25"),
        ),
        ("POST", "notifications/initialized" | "notifications/cancelled") => accepted(),
        ("DELETE", _) => Reply::Chunks(vec![(0, raw("200 OK", None, "", b""))]),
        _ => f(&req),
    }
}

fn opts() -> ClientOptions {
    let mut o = ClientOptions::new();
    o.request_timeout(Duration::from_secs(5))
        .discovery_timeout(Duration::from_secs(2));
    o
}

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("test exceeded its bound");
}

#[tokio::test]
async fn resumes_a_dropped_sse_stream_with_last_event_id_after_retry() {
    bounded(async {
        let call_id = Arc::new(Mutex::new(Value::Null));
        let cid = call_id.clone();
        let srv = serve(
            "/mcp",
            session_server(move |req| match req.method.as_str() {
                "POST" => {
                    *cid.lock().unwrap() = req.id();
                    let progress = json!({"jsonrpc":"2.0","method":"notifications/progress",
                    "params":{"progressToken": req.id(), "progress": 1}});
                    Reply::Chunks(vec![
                        (0, sse_head("")),
                        (0, b"id: e1\nretry: 50\ndata:\n\n".to_vec()),
                        (10, format!("id: e2\ndata: {progress}\n\n").into_bytes()),
                        // ... and the connection drops before the response.
                    ])
                }
                "GET" => {
                    assert_eq!(req.header("last-event-id"), Some("e2"));
                    assert_eq!(req.header("mcp-session-id"), Some("s-1"));
                    let id = cid.lock().unwrap().clone();
                    Reply::Chunks(vec![
                        (0, sse_head("")),
                        (
                            0,
                            format!("id: e3\ndata: {}\n\n", result(&id, "resumed")).into_bytes(),
                        ),
                    ])
                }
                _ => Reply::Stall,
            }),
        )
        .await;
        let s = Client::connect(&srv.url, opts()).await.unwrap();
        assert!(!s.is_stateless());
        assert_eq!(s.session_id(), Some("s-1"));
        let params = RawJson::from_bytes(Bytes::from_static(br#"{"name":"t"}"#)).unwrap();
        let mut ex = s
            .request("tools/call")
            .params(params)
            .progress(true)
            .send()
            .await
            .unwrap();
        let mut kinds = Vec::new();
        let started = Instant::now();
        while let Some(ev) = ex.next().await.unwrap() {
            kinds.push(ev.kind());
        }
        assert_eq!(
            kinds,
            [EventKind::Priming, EventKind::Progress, EventKind::Response]
        );
        assert_eq!(ex.reconnects(), 1);
        assert_eq!(ex.last_event_id(), Some("e3"));
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "retry: honoured"
        );
        // The high-level call resumes the same way.
        let out = s.call_tool("t", &json!({})).await.unwrap();
        assert_eq!(out.text, "resumed");
    })
    .await;
}

#[tokio::test]
async fn a_dropped_stream_without_event_ids_is_a_typed_error() {
    bounded(async {
        let srv = serve("/mcp", session_server(|req| {
            let progress = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken": req.id(), "progress": 1}});
            Reply::Chunks(vec![(0, sse_head("")), (0, format!("data: {progress}\n\n").into_bytes())])
        }))
        .await;
        let s = Client::connect(&srv.url, opts()).await.unwrap();
        let e = s.call_tool("t", &json!({})).await.unwrap_err();
        assert!(matches!(e, Error::StreamClosed), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn a_stalled_server_hits_the_deadline() {
    bounded(async {
        let srv = serve("/mcp", |_req| Reply::Stall).await;
        let mut o = opts();
        o.request_timeout(Duration::from_millis(300))
            .discovery_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let e = Client::connect(&srv.url, o.clone()).await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // A session that stalls mid-call.
        let srv = serve("/mcp", session_server(|_| Reply::Stall)).await;
        let s = Client::connect(&srv.url, o).await.unwrap();
        let e = s.call_tool("t", &json!({})).await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        // A stream that sends one event then stalls.
        let srv = serve(
            "/mcp",
            session_server(|_| {
                Reply::Chunks(vec![
                    (0, sse_head("")),
                    (0, b": hi\n\n".to_vec()),
                    (10_000, Vec::new()),
                ])
            }),
        )
        .await;
        let mut o = opts();
        o.request_timeout(Duration::from_millis(300));
        let s = Client::connect(&srv.url, o).await.unwrap();
        let e = s.call_tool("t", &json!({})).await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        // Nobody listening at all.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let e = Client::connect(&format!("http://127.0.0.1:{port}/mcp"), opts())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Connect(_)), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn a_request_bounded_by_its_caller_keeps_no_head_timer() {
    bounded(async {
        let srv = serve("/mcp", session_server(|_| Reply::Stall)).await;
        let mut o = opts();
        o.request_timeout(Duration::from_millis(200));
        let s = Client::connect(&srv.url, o).await.unwrap();
        let params = RawJson::from_serialize(&json!({"name": "t", "arguments": {}})).unwrap();
        // The client's own deadline ends a stalled request...
        let e = s
            .request("tools/call")
            .params(params.clone())
            .send()
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        // ...unless the caller bounds it: then only the caller's deadline does, here three
        // times the client's.
        let started = Instant::now();
        let waited = tokio::time::timeout(
            Duration::from_millis(600),
            s.request("tools/call")
                .params(params)
                .bounded_by_caller()
                .send(),
        )
        .await;
        assert!(waited.is_err(), "the client gave up on its own: {waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(600));
    })
    .await;
}

#[tokio::test]
async fn garbage_becomes_typed_errors() {
    bounded(async {
        type Check = fn(&Error) -> bool;
        let cases: Vec<(Vec<u8>, Check)> = vec![
            (raw("200 OK", Some("application/json"), "", b"not json"), |e| matches!(e, Error::Decode(_))),
            (raw("200 OK", Some("text/html"), "", b"<html>"), |e| matches!(e, Error::Protocol(_))),
            (raw("500 Internal Server Error", Some("text/plain"), "", b"boom"), |e| {
                matches!(e, Error::HttpStatus { status, body } if status.as_u16() == 500 && &body[..] == b"boom")
            }),
            ([sse_head(""), b"data: {garbage\n\n".to_vec()].concat(), |e| matches!(e, Error::Decode(_))),
            (raw("200 OK", Some("application/json"), "", br#"{"jsonrpc":"2.0","id":999999,"result":{}}"#), |e| {
                matches!(e, Error::Protocol(_))
            }),
            (raw("200 OK", Some("application/json"), "", &[b' '; 4096]), |e| matches!(e, Error::Protocol(_))),
            (raw("202 Accepted", None, "", b""), |e| matches!(e, Error::Protocol(_))),
            ([sse_head(""), vec![b'x'; 8192], b"\n\n".to_vec()].concat(), |e| matches!(e, Error::Protocol(_) | Error::StreamClosed)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{".to_vec(), |e| {
                matches!(e, Error::Transport(_) | Error::Decode(_) | Error::Protocol(_))
            }),
            (b"garbage\r\n\r\n".to_vec(), |e| matches!(e, Error::Transport(_))),
        ];
        for (i, (bytes, check)) in cases.into_iter().enumerate() {
            let srv = serve("/mcp", session_server(move |_| Reply::Chunks(vec![(0, bytes.clone())]))).await;
            let mut o = opts();
            o.max_response_body_bytes(1024).max_sse_event_bytes(1024);
            let s = Client::connect(&srv.url, o).await.unwrap();
            let e = s.call_tool("t", &json!({})).await.unwrap_err();
            assert!(check(&e), "case {i}: {e:?}");
        }
        // Failed setups are typed errors too.
        let bad: Vec<(Reply, Check)> = vec![
            (json_reply("", &init_result(&json!(0), "1999-01-01")), |e| matches!(e, Error::Protocol(_))),
            (json_reply("", &json!({"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"no"}})), |e| {
                matches!(e, Error::JsonRpc { code, .. } if code.code() == -32602)
            }),
            (json_reply("", &json!({"jsonrpc":"2.0","id":0,"result":{"nope":1}})), |e| matches!(e, Error::Protocol(_))),
        ];
        for (i, (reply, check)) in bad.into_iter().enumerate() {
            let reply = Mutex::new(Some(reply));
            let srv = serve("/mcp", move |req| match req.rpc() {
                "initialize" => reply.lock().unwrap().take().unwrap_or(Reply::Stall),
                _ => Reply::Chunks(vec![(0, raw("404 Not Found", None, "", b""))]),
            })
            .await;
            let mut o = opts();
            o.legacy_fallback(false);
            let e = Client::connect(&srv.url, o).await.unwrap_err();
            assert!(check(&e), "setup case {i}: {e:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn discovery_falls_back_to_initialize() {
    bounded(async {
        // -32601 in a 200, and -32022 naming only 2025-06-18 in a 400.
        for (discover, want) in [
            (json!({"jsonrpc":"2.0","id":0,"error":{"code":-32601,"message":"Method not found"}}), "2025-11-25"),
            (
                json!({"jsonrpc":"2.0","id":0,"error":{"code":-32022,"message":"Unsupported protocol version",
                    "data":{"supported":["2025-06-18"],"requested":"2026-07-28"}}}),
                "2025-06-18",
            ),
        ] {
            let status = if discover["error"]["code"] == -32022 { "400 Bad Request" } else { "200 OK" };
            let srv = serve("/mcp", move |req| match req.rpc() {
                "server/discover" => Reply::Chunks(vec![(0, raw(status, Some("application/json"), "", discover.to_string().as_bytes()))]),
                "initialize" => {
                    let asked = req.body["params"]["protocolVersion"].as_str().unwrap().to_owned();
                    json_reply("", &init_result(&req.id(), &asked))
                }
                "notifications/initialized" => accepted(),
                _ => json_reply("", &result(&req.id(), "ok")),
            })
            .await;
            let s = Client::connect(&srv.url, opts()).await.unwrap();
            assert!(!s.is_stateless());
            assert_eq!(s.protocol_version().as_str(), want);
            // Stateful without a session id: no Mcp-Session-Id is sent.
            assert_eq!(s.session_id(), None);
            assert_eq!(s.call_tool("t", &json!({})).await.unwrap().text, "ok");
            let log = srv.log.lock().unwrap();
            let call = log.iter().find(|r| r.rpc() == "tools/call").unwrap();
            assert_eq!(call.header("mcp-session-id"), None);
            let v = call.header("mcp-protocol-version");
            assert_eq!(v, Some(want));
        }
    })
    .await;
}

#[tokio::test]
async fn request_headers_of_each_era() {
    bounded(async {
        let srv = serve("/mcp", |req| match req.rpc() {
            "server/discover" => json_reply("", &json!({"jsonrpc":"2.0","id":req.id(),"result":{
                "resultType":"complete","supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{"tools":{}},
                "ttlMs":0,"cacheScope":"public"}})),
            _ => json_reply("", &result(&req.id(), "ok")),
        })
        .await;
        let mut o = opts();
        o.header(http::header::USER_AGENT, http::HeaderValue::from_static("mcpx-test/1"))
            .header(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer t0k"));
        let s = Client::connect(&srv.url, o).await.unwrap();
        assert!(s.is_stateless());
        s.call_tool("héllo tool", &json!({"a": 1})).await.unwrap();
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"uri":"memo://x"}"#)).unwrap();
        let mut ex = s
            .request("resources/read")
            .params(p)
            .protocol_version_header(false)
            .header(http::HeaderName::from_static("traceparent"), http::HeaderValue::from_static("00-abc-def-01"))
            .header(http::header::ACCEPT, http::HeaderValue::from_static("application/json"))
            .send()
            .await
            .unwrap();
        while ex.next().await.unwrap().is_some() {}
        let log = srv.log.lock().unwrap();
        let call = log.iter().find(|r| r.rpc() == "tools/call").unwrap();
        assert_eq!(call.header("mcp-protocol-version"), Some("2026-07-28"));
        assert_eq!(call.header("mcp-method"), Some("tools/call"));
        assert_eq!(call.header("mcp-name"), Some("héllo tool").map(|_| "=?base64?aMOpbGxvIHRvb2w=?=").unwrap().into());
        assert_eq!(call.header("accept"), Some("application/json, text/event-stream"));
        assert_eq!(call.header("content-type"), Some("application/json"));
        assert_eq!(call.header("user-agent"), Some("mcpx-test/1"));
        assert_eq!(call.header("authorization"), Some("Bearer t0k"));
        assert_eq!(call.header("mcp-session-id"), None);
        let meta = &call.body["params"]["_meta"];
        assert_eq!(meta["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
        assert!(meta["io.modelcontextprotocol/clientCapabilities"].is_object());
        assert_eq!(meta["io.modelcontextprotocol/clientInfo"]["name"], "mcpx-client");
        assert_eq!(call.body["params"]["arguments"]["a"], 1);
        let read = log.iter().find(|r| r.rpc() == "resources/read").unwrap();
        assert_eq!(read.header("mcp-protocol-version"), None);
        assert_eq!(read.header("mcp-name"), Some("memo://x"));
        assert_eq!(read.header("traceparent"), Some("00-abc-def-01"));
        assert_eq!(read.header("accept"), Some("application/json"));
        // Ids are unique in the session.
        let mut ids: Vec<i64> = log.iter().filter_map(|r| r.body["id"].as_i64()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
    })
    .await;
}

/// A session keeps the request line and headers of its last POST and sends them again when the
/// next one has the same caller's headers and flags: every request still carries exactly its
/// own headers, whatever came before it (a changed value, an omitted session or version
/// header, an overridden `Accept`, a run of changing headers past the point where the session
/// stops keeping them), and its own `Content-Length`.
#[tokio::test]
async fn each_post_carries_its_own_headers_when_the_last_ones_are_kept() {
    bounded(async {
        let srv = serve(
            "/mcp",
            session_server(|req| json_reply("", &result(&req.id(), "ok"))),
        )
        .await;
        let mut o = opts();
        o.header(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("mcpx-test/2"),
        );
        let s = Client::connect(&srv.url, o).await.unwrap();
        assert!(!s.is_stateless());
        let trace = http::HeaderName::from_static("traceparent");
        // Each variation twice (the second finds the first's fields kept), each between two
        // plain requests: every change of one input alone goes through the kept fields.
        let plain = (None, true, true, None, 0);
        // (traceparent, session header, version header, accept override, params size)
        type Step = (Option<String>, bool, bool, Option<&'static str>, usize);
        let mut steps: Vec<Step> = vec![
            plain.clone(),
            (None, true, true, None, 10),
            (Some("t-1".into()), true, true, None, 0),
            (Some("t-1".into()), true, true, None, 3_000),
            (Some("t-2".into()), true, true, None, 0),
            plain.clone(),
            (None, false, true, None, 0),
            (None, false, true, None, 5),
            plain.clone(),
            plain.clone(),
            (None, true, false, None, 0),
            (None, true, false, None, 0),
            plain.clone(),
            plain.clone(),
            (None, true, true, Some("application/json"), 0),
            (None, true, true, Some("application/json"), 0),
            plain.clone(),
        ];
        // Past the session's patience with changing headers, and back to steady ones.
        for i in 0..8 {
            steps.push((Some(format!("run-{i}")), true, true, None, i * 7));
        }
        steps.push((None, true, true, None, 0));
        steps.push((None, true, true, None, 1));
        for (trace_value, session, version, accept, size) in &steps {
            let p = RawJson::from_serialize(&json!({"pad": "x".repeat(*size)})).unwrap();
            let mut b = s
                .request("tools/list")
                .params(p)
                .session_id_header(*session)
                .protocol_version_header(*version);
            if let Some(t) = trace_value {
                b = b.header(trace.clone(), http::HeaderValue::from_str(t).unwrap());
            }
            if let Some(a) = accept {
                b = b.header(http::header::ACCEPT, http::HeaderValue::from_static(a));
            }
            let mut ex = b.send().await.unwrap();
            while ex.next().await.unwrap().is_some() {}
        }
        let log = srv.log.lock().unwrap();
        let lists: Vec<&Req> = log.iter().filter(|r| r.rpc() == "tools/list").collect();
        assert_eq!(lists.len(), steps.len());
        for (i, (req, (trace_value, session, version, accept, size))) in
            lists.iter().zip(&steps).enumerate()
        {
            assert_eq!(
                req.header("traceparent"),
                trace_value.as_deref(),
                "request {i}"
            );
            assert_eq!(
                req.header("mcp-session-id"),
                session.then_some("s-1"),
                "request {i}"
            );
            assert_eq!(
                req.header("mcp-protocol-version"),
                version.then_some("2025-11-25"),
                "request {i}"
            );
            assert_eq!(
                req.header("accept"),
                Some(accept.unwrap_or("application/json, text/event-stream")),
                "request {i}"
            );
            assert_eq!(
                req.header("content-type"),
                Some("application/json"),
                "request {i}"
            );
            assert_eq!(req.header("user-agent"), Some("mcpx-test/2"), "request {i}");
            assert_eq!(
                req.body["params"]["pad"].as_str().map(str::len),
                Some(*size),
                "request {i}"
            );
            // No header twice.
            let mut names: Vec<String> = req
                .headers
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "request {i}: {:?}", req.headers);
        }
    })
    .await;
}

/// Shared headers ([`mcpx_client::SharedHeaders`]) go out as if each request had set them, a
/// request's own header replacing the shared one of its name, and a different set (not an
/// equal one reused) is never mistaken for the last request's.
#[tokio::test]
async fn shared_headers_are_sent_and_replaced_by_a_requests_own() {
    bounded(async {
        let srv = serve(
            "/mcp",
            session_server(|req| json_reply("", &result(&req.id(), "ok"))),
        )
        .await;
        let s = Client::connect(&srv.url, opts()).await.unwrap();
        let x = http::HeaderName::from_static("x-shared");
        let one = mcpx_client::SharedHeaders::new([
            (x.clone(), http::HeaderValue::from_static("a")),
            (
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/json"),
            ),
        ]);
        let two =
            mcpx_client::SharedHeaders::new([(x.clone(), http::HeaderValue::from_static("b"))]);
        // (shared set, own x-shared) -> expected (x-shared, accept)
        let steps: Vec<(Option<&mcpx_client::SharedHeaders>, Option<&'static str>)> = vec![
            (Some(&one), None),
            (Some(&one), None),
            (Some(&two), None),
            (Some(&two), None),
            (None, None),
            (Some(&one), Some("own")),
            (Some(&one), None),
        ];
        for (shared, own) in &steps {
            let mut b = s.request("ping");
            if let Some(shared) = shared {
                b = b.shared_headers(shared);
            }
            if let Some(own) = own {
                b = b.header(x.clone(), http::HeaderValue::from_static(own));
            }
            let mut ex = b.send().await.unwrap();
            while ex.next().await.unwrap().is_some() {}
        }
        let log = srv.log.lock().unwrap();
        let pings: Vec<&Req> = log.iter().filter(|r| r.rpc() == "ping").collect();
        let expected = [
            (Some("a"), "application/json"),
            (Some("a"), "application/json"),
            (Some("b"), "application/json, text/event-stream"),
            (Some("b"), "application/json, text/event-stream"),
            (None, "application/json, text/event-stream"),
            (Some("own"), "application/json"),
            (Some("a"), "application/json"),
        ];
        assert_eq!(pings.len(), expected.len());
        for (i, (req, (x_value, accept))) in pings.iter().zip(expected).enumerate() {
            assert_eq!(req.header("x-shared"), x_value, "request {i}");
            assert_eq!(req.header("accept"), Some(accept), "request {i}");
            assert_eq!(req.header("mcp-session-id"), Some("s-1"), "request {i}");
            let n = req
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-shared"))
                .count();
            assert!(n <= 1, "request {i}: {:?}", req.headers);
        }
    })
    .await;
}

#[tokio::test]
async fn session_era_drop_sends_notifications_cancelled_and_session_header_can_be_omitted() {
    bounded(async {
        let srv = serve(
            "/mcp",
            session_server(|req| match req.rpc() {
                "tools/call" => Reply::Stall,
                _ => json_reply("", &result(&req.id(), "ok")),
            }),
        )
        .await;
        let s = Client::connect(&srv.url, opts()).await.unwrap();
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"name":"t"}"#)).unwrap();
        let fut = s.request("tools/call").params(p).send();
        let id = match tokio::time::timeout(Duration::from_millis(200), fut).await {
            Err(_) => None, // dropped while waiting for the head: no exchange to cancel
            Ok(r) => r.unwrap().id(),
        };
        assert!(id.is_none());
        // A head that misses the deadline: the request is cancelled too.
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"name":"t"}"#)).unwrap();
        let e = s
            .request("tools/call")
            .params(p)
            .timeout(Duration::from_millis(100))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_timeout());
        let deadline = Instant::now() + Duration::from_secs(3);
        while !srv
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.rpc() == "notifications/cancelled")
        {
            assert!(
                Instant::now() < deadline,
                "no notifications/cancelled after a head timeout"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // With a head: the scripted stream sends one priming event and stays open.
        let srv2 = serve(
            "/mcp",
            session_server(|_req| {
                Reply::Chunks(vec![
                    (0, sse_head("")),
                    (0, b"id: 1\ndata:\n\n".to_vec()),
                    (5_000, Vec::new()),
                ])
            }),
        )
        .await;
        let s2 = Client::connect(&srv2.url, opts()).await.unwrap();
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"name":"t"}"#)).unwrap();
        let mut ex = s2.request("tools/call").params(p).send().await.unwrap();
        let id = ex.id().unwrap();
        assert_eq!(ex.next().await.unwrap().unwrap().kind(), EventKind::Priming);
        drop(ex);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let found = srv2.log.lock().unwrap().iter().any(|r| {
                r.rpc() == "notifications/cancelled"
                    && r.body["params"]["requestId"] == id
                    && r.header("mcp-session-id") == Some("s-1")
            });
            if found {
                break;
            }
            assert!(Instant::now() < deadline, "no notifications/cancelled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // An explicit cancel has sent the notification when it returns.
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"name":"t"}"#)).unwrap();
        let mut ex = s2.request("tools/call").params(p).send().await.unwrap();
        let id = ex.id().unwrap();
        assert_eq!(ex.next().await.unwrap().unwrap().kind(), EventKind::Priming);
        ex.cancel().await.unwrap();
        assert!(srv2.log.lock().unwrap().iter().any(|r| {
            r.rpc() == "notifications/cancelled" && r.body["params"]["requestId"] == id
        }));
        // Per-request omission of the session header.
        let mut ex = s
            .request("ping")
            .session_id_header(false)
            .send()
            .await
            .unwrap();
        while ex.next().await.unwrap().is_some() {}
        let ping = srv
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.rpc() == "ping")
            .cloned()
            .unwrap();
        assert_eq!(ping.header("mcp-session-id"), None);
        assert_eq!(ping.header("mcp-protocol-version"), Some("2025-11-25"));
        s.close().await.unwrap();
        assert!(
            srv.log
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.method == "DELETE" && r.header("mcp-session-id") == Some("s-1"))
        );
    })
    .await;
}

/// The 2024-11-05 transport: POST initialize gets 405, so the client GETs the URL, waits for
/// `endpoint`, POSTs there and reads replies from the SSE stream.
#[tokio::test]
async fn falls_back_to_legacy_http_sse() {
    bounded(async {
        let tx: Arc<Mutex<Option<mpsc::Sender<Vec<u8>>>>> = Arc::new(Mutex::new(None));
        let tx2 = tx.clone();
        let srv = serve("/sse", move |req| {
            let push = |v: Value| {
                let t = tx2.lock().unwrap().clone().unwrap();
                let ev = format!("event: message\ndata: {v}\n\n").into_bytes();
                tokio::spawn(async move { t.send(ev).await.unwrap() });
            };
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/sse") => {
                    let (t, rx) = mpsc::channel(16);
                    *tx2.lock().unwrap() = Some(t.clone());
                    tokio::spawn(async move { t.send(b"event: endpoint\ndata: /messages?sessionId=abc\n\n".to_vec()).await.unwrap() });
                    Reply::Stream(sse_head("Cache-Control: no-cache\r\n"), rx)
                }
                ("POST", "/messages?sessionId=abc") => {
                    match req.rpc() {
                        "initialize" => push(init_result(&req.id(), "2024-11-05")),
                        "tools/list" => push(json!({"jsonrpc":"2.0","id":req.id(),"result":{"tools":[
                            {"name":"echo","inputSchema":{"type":"object"}}]}})),
                        "tools/call" => {
                            push(json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":req.id(),"progress":1}}));
                            push(json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}));
                            push(result(&req.id(), req.body["params"]["arguments"]["text"].as_str().unwrap_or("")));
                        }
                        _ => {}
                    }
                    Reply::Chunks(vec![(0, raw("202 Accepted", Some("text/plain"), "", b"Accepted"))])
                }
                _ => Reply::Chunks(vec![(0, raw("405 Method Not Allowed", None, "", b""))]),
            }
        })
        .await;
        let seen = Arc::new(Counter::default());
        let mut o = opts();
        o.era(EraChoice::Session(ProtocolVersion::V2024_11_05))
            .handler(seen.clone());
        let s = Client::connect(&srv.url, o).await.unwrap();
        assert!(s.is_channel());
        assert_eq!(s.protocol_version(), ProtocolVersion::V2024_11_05);
        let tools = s.list_tools().await.unwrap();
        assert_eq!(tools[0].name, "echo");
        let p = RawJson::from_bytes(Bytes::from_static(br#"{"name":"echo","arguments":{"text":"via sse"}}"#)).unwrap();
        let mut ex = s.request("tools/call").params(p).progress(true).send().await.unwrap();
        let mut kinds = Vec::new();
        while let Some(ev) = ex.next().await.unwrap() {
            kinds.push(ev.kind());
        }
        assert_eq!(kinds, [EventKind::Progress, EventKind::Response]);
        // The high-level call hands the progress of its request to the handler.
        assert_eq!(s.call_tool("echo", &json!({"text": "x"})).await.unwrap().text, "x");
        assert_eq!(seen.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        // The unrelated log lines went to the standalone stream.
        let mut stream = s.open_stream().await.unwrap();
        for _ in 0..2 {
            let ev = stream.next().await.unwrap().unwrap();
            assert_eq!(ev.message().unwrap().method(), Some("notifications/message"));
        }
        s.close().await.unwrap();
    })
    .await;
}

/// The era found by discovery is cached per URL: the second stateless session sends nothing
/// before its first request, and a session-era server is initialized without a second probe.
#[tokio::test]
async fn discovered_era_is_cached_per_client() {
    bounded(async {
        let modern = serve("/mcp", |req| match req.rpc() {
            "server/discover" => json_reply(
                "",
                &json!({"jsonrpc":"2.0","id":req.id(),"result":{
                "resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{},
                "ttlMs":0,"cacheScope":"public"}}),
            ),
            _ => json_reply("", &result(&req.id(), "ok")),
        })
        .await;
        let legacy = serve(
            "/mcp",
            session_server(|req| json_reply("", &result(&req.id(), "ok"))),
        )
        .await;
        let client = Client::new(opts()).unwrap();
        for srv in [&modern, &legacy] {
            for _ in 0..3 {
                let s = client.session(&srv.url).await.unwrap();
                assert_eq!(s.call_tool("t", &json!({})).await.unwrap().text, "ok");
            }
            let probes = srv
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.rpc() == "server/discover")
                .count();
            assert_eq!(probes, 1, "{}", srv.url);
        }
        client.forget_eras();
        client.session(&modern.url).await.unwrap();
        let probes = modern
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.rpc() == "server/discover")
            .count();
        assert_eq!(probes, 2);
    })
    .await;
}

/// Handles to one session (the load tester's initialize-then-carry-on pattern) never reuse ids.
#[tokio::test]
async fn handles_to_one_session_use_distinct_ids() {
    bounded(async {
        let srv = serve(
            "/mcp",
            session_server(|req| json_reply("", &result(&req.id(), "ok"))),
        )
        .await;
        let client = Client::new(opts()).unwrap();
        let pre = client
            .handle(&srv.url, ProtocolVersion::V2025_11_25, None)
            .unwrap();
        let mut ex = pre.request("ping").send().await.unwrap();
        while ex.next().await.unwrap().is_some() {}
        let s = client
            .handle(&srv.url, ProtocolVersion::V2025_11_25, Some("s-1"))
            .unwrap();
        let mut ex = s.request("ping").send().await.unwrap();
        while ex.next().await.unwrap().is_some() {}
        let ids: Vec<i64> = srv
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| r.body["id"].as_i64())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert!(ids.iter().all(|i| *i < (1 << 53)));
    })
    .await;
}

/// The standalone GET stream reconnects with `Last-Event-ID` after the server drops it.
#[tokio::test]
async fn get_stream_resumes_after_a_drop() {
    bounded(async {
        let gets = Arc::new(Mutex::new(0));
        let g = gets.clone();
        let srv = serve(
            "/mcp",
            session_server(move |req| {
                if req.method != "GET" {
                    return Reply::Stall;
                }
                let n = {
                    let mut g = g.lock().unwrap();
                    *g += 1;
                    *g
                };
                let note = json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"});
                if n == 1 {
                    assert_eq!(req.header("last-event-id"), None);
                    Reply::Chunks(vec![
                        (0, sse_head("")),
                        (
                            0,
                            format!("id: g1\nretry: 20\ndata: {note}\n\n").into_bytes(),
                        ),
                    ])
                } else {
                    assert_eq!(req.header("last-event-id"), Some("g1"));
                    Reply::Chunks(vec![
                        (0, sse_head("")),
                        (0, format!("id: g2\ndata: {note}\n\n").into_bytes()),
                        (10_000, Vec::new()),
                    ])
                }
            }),
        )
        .await;
        let s = Client::connect(&srv.url, opts()).await.unwrap();
        let mut stream = s.open_stream().await.unwrap();
        for _ in 0..2 {
            let ev = stream.next().await.unwrap().unwrap();
            assert_eq!(
                ev.message().unwrap().method(),
                Some("notifications/tools/list_changed")
            );
        }
        assert_eq!(stream.reconnects(), 1);
        assert_eq!(stream.last_event_id(), Some("g2"));
    })
    .await;
}

/// Seeded garbage (mutated replies, random statuses, content types and bytes) never panics the
/// client and never hangs it: every call ends in a result or a typed error.
#[tokio::test]
async fn random_garbage_never_panics() {
    bounded(async {
        struct Rng(u64);
        impl Rng {
            fn next(&mut self) -> u64 {
                // xorshift64*: deterministic, no dependency.
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
            }
            fn below(&mut self, n: u64) -> usize {
                (self.next() % n) as usize
            }
        }
        let rng = Arc::new(Mutex::new(Rng(0x9E37_79B9_7F4A_7C15)));
        let r2 = rng.clone();
        let srv = serve(
            "/mcp",
            session_server(move |req| {
                let mut rng = r2.lock().unwrap();
                let good = result(&req.id(), "ok").to_string().into_bytes();
                let mut body = good.clone();
                // Mutate: flip, drop or insert a few bytes.
                for _ in 0..rng.below(4) {
                    if body.is_empty() {
                        break;
                    }
                    let at = rng.below(body.len() as u64);
                    match rng.below(3) {
                        0 => body[at] = rng.next() as u8,
                        1 => {
                            body.remove(at);
                        }
                        _ => body.insert(at, b"{}[],:\"\\\n\r\x00"[rng.below(11)]),
                    }
                }
                let status = [
                    "200 OK",
                    "200 OK",
                    "200 OK",
                    "202 Accepted",
                    "404 Not Found",
                    "500 Oops",
                ][rng.below(6)];
                let reply = match rng.below(4) {
                    0 => raw(status, Some("application/json"), "", &body),
                    1 => {
                        let mut sse = sse_head("");
                        for _ in 0..rng.below(3) {
                            sse.extend_from_slice(b"id: x\nretry: 1\ndata:\n\n");
                        }
                        sse.extend_from_slice(b"data: ");
                        sse.extend_from_slice(&body);
                        sse.extend_from_slice([&b"\n\n"[..], b"\r\n", b"", b"\n"][rng.below(4)]);
                        sse
                    }
                    2 => raw(
                        status,
                        [
                            Some("text/plain"),
                            None,
                            Some("application/json; charset=utf-8"),
                        ][rng.below(3)],
                        "",
                        &body,
                    ),
                    _ => {
                        let mut r = raw(status, Some("application/json"), "", &good);
                        let cut = rng.below(r.len() as u64);
                        r.truncate(cut);
                        r
                    }
                };
                Reply::Chunks(vec![(0, reply)])
            }),
        )
        .await;
        let mut o = opts();
        o.request_timeout(Duration::from_secs(2)).max_reconnects(1);
        let s = Client::connect(&srv.url, o).await.unwrap();
        let (mut ok, mut err) = (0, 0);
        for _ in 0..150 {
            match s.call_tool("t", &json!({})).await {
                Ok(_) => ok += 1,
                Err(_) => err += 1,
            }
        }
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    })
    .await;
}

/// A server that closes the GET stream after every event (2025-11-25 polling) is followed past
/// the reconnection bound: only reconnections that deliver nothing count against it.
#[tokio::test]
async fn polling_get_stream_outlives_the_reconnect_bound() {
    bounded(async {
        let n = Arc::new(Mutex::new(0u32));
        let n2 = n.clone();
        let srv = serve(
            "/mcp",
            session_server(move |req| {
                if req.method != "GET" {
                    return Reply::Stall;
                }
                let k = {
                    let mut n = n2.lock().unwrap();
                    *n += 1;
                    *n
                };
                if k > 1 {
                    assert_eq!(
                        req.header("last-event-id"),
                        Some(format!("g{}", k - 1).as_str())
                    );
                }
                let note = json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"});
                Reply::Chunks(vec![
                    (0, sse_head("")),
                    (
                        0,
                        format!("id: g{k}\nretry: 5\ndata: {note}\n\n").into_bytes(),
                    ),
                ])
            }),
        )
        .await;
        let mut o = opts();
        o.max_reconnects(2);
        let s = Client::connect(&srv.url, o).await.unwrap();
        let mut stream = s.open_stream().await.unwrap();
        for _ in 0..6 {
            assert!(stream.next().await.unwrap().is_some());
        }
        assert_eq!(stream.reconnects(), 5);
    })
    .await;
}
