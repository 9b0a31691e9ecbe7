//! Resumable SSE streams over loopback (2025-11-25): a client that loses its connection, or
//! opens a second one with `Last-Event-ID`, gets exactly the events it missed on that stream,
//! in order, then the live tail; a request answered meanwhile replays up to its response and
//! ends; an id the log no longer covers gets a clear 400.
//!
//! The property test drives a tool that emits progress on command, with random interleavings
//! of emits, reads, disconnects and resumes (with or without dropping the old connection
//! first), and checks that every event arrives exactly once, in order.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpx_server::replay::MemoryEventStore;
use mcpx_server::{
    Handlers, ListKind, RequestContext, ResponseMode, Server, ServerHandle, ToolDef, ToolResult,
};
use mcpx_wire::sse::SseDecoder;
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const V: &str = "2025-11-25";
/// How long one expected event may take (loopback: milliseconds; generous for CI).
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// What the test tells the `emit` tool to do.
#[derive(Debug)]
enum Cmd {
    Progress(u64),
    Finish,
}

type Control = Arc<tokio::sync::Mutex<Option<mpsc::UnboundedReceiver<Cmd>>>>;

fn handlers(control: Control) -> Handlers {
    let mut h = Handlers::new();
    h.tool(
        ToolDef::new("emit").description("Emits progress on command"),
        move |ctx: RequestContext, _a: Value| {
            let control = control.clone();
            async move {
                let mut rx = control.lock().await.take().expect("one emit call per test");
                while let Some(cmd) = rx.recv().await {
                    match cmd {
                        Cmd::Progress(i) => ctx.progress(i as f64, None, None).await,
                        Cmd::Finish => break,
                    }
                }
                Ok(ToolResult::text("done"))
            }
        },
    );
    h
}

struct Srv {
    url: String,
    client: Client<HttpConnector, Full<Bytes>>,
    handle: ServerHandle,
}

async fn start(control: Control, store: Option<MemoryEventStore>) -> Srv {
    let mut b = Server::builder()
        .handlers(handlers(control))
        .response_mode(ResponseMode::Sse)
        .list_changed(true);
    if let Some(store) = store {
        b = b.event_store(store);
    }
    let server = b.build().unwrap();
    let handle = server.handle();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(server.serve(listener, std::future::pending()));
    Srv {
        url,
        // One connection per request: a dropped body must close its own connection.
        client: Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http(),
        handle,
    }
}

impl Srv {
    async fn post(&self, sid: Option<&str>, body: Value) -> hyper::Response<Incoming> {
        let mut req = Request::post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", V);
        if let Some(sid) = sid {
            req = req.header("mcp-session-id", sid);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        self.client.request(req).await.unwrap()
    }

    async fn session(&self) -> String {
        let r = self
            .post(
                None,
                json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion":V,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
            )
            .await;
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let r = self
            .post(
                Some(&sid),
                json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        sid
    }

    /// Starts the `emit` call; its SSE response.
    async fn call(&self, sid: &str) -> Events {
        let r = self
            .post(
                Some(sid),
                json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{
                    "name":"emit","arguments":{},"_meta":{"progressToken":"p"}}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        Events::new(r)
    }

    async fn get(&self, sid: &str, last: Option<&str>) -> hyper::Response<Incoming> {
        let mut req = Request::get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", V)
            .header("mcp-session-id", sid);
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        self.client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap()
    }

    async fn resume(&self, sid: &str, last: &str) -> Events {
        let r = self.get(sid, Some(last)).await;
        if r.status() != StatusCode::OK {
            let status = r.status();
            let body = r.into_body().collect().await.unwrap().to_bytes();
            panic!(
                "resume from {last}: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        Events::new(r)
    }
}

/// One SSE event: its id and its JSON message (`None`: a priming event).
type Event = (String, Option<Value>);

/// The events of one SSE response, in order.
struct Events {
    body: Incoming,
    decoder: SseDecoder,
    buf: BytesMut,
    ready: std::collections::VecDeque<Event>,
}

impl Events {
    fn new(r: hyper::Response<Incoming>) -> Self {
        Self {
            body: r.into_body(),
            decoder: SseDecoder::new(),
            buf: BytesMut::new(),
            ready: Default::default(),
        }
    }

    /// The next event; `None` when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let frame = self.body.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
                while let Some(event) = self.decoder.decode(&mut self.buf).unwrap() {
                    let Some(id) = event.id() else { continue };
                    let msg = (!event.data().is_empty())
                        .then(|| serde_json::from_slice(event.data()).unwrap());
                    self.ready.push_back((id.to_owned(), msg));
                }
            }
        }
    }

    async fn next_within(&mut self) -> Option<Event> {
        tokio::time::timeout(EVENT_WAIT, self.next())
            .await
            .expect("an expected event did not come")
    }
}

/// What the client saw of the `emit` call's stream.
#[derive(Default)]
struct Seen {
    last_id: Option<String>,
    progress: Vec<u64>,
    responses: usize,
}

impl Seen {
    /// Takes one event: ids of one stream go up by one (no gap, no repeat).
    fn take(&mut self, (id, msg): Event) {
        let seq = |id: &str| id.rsplit_once('-').unwrap().1.parse::<u64>().unwrap();
        if let Some(last) = &self.last_id {
            assert_eq!(seq(&id), seq(last) + 1, "event {id} after {last}");
        } else {
            assert_eq!(seq(&id), 0, "the stream starts with its priming event");
        }
        self.last_id = Some(id);
        let Some(msg) = msg else { return };
        if msg["method"] == "notifications/progress" {
            self.progress
                .push(msg["params"]["progress"].as_f64().unwrap() as u64);
        } else {
            assert_eq!(msg["id"], 7, "{msg}");
            self.responses += 1;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Emit,
    Read,
    Disconnect,
    /// Resume with `Last-Event-ID`; `true`: drop the current connection first.
    Resume(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Emit),
        2 => Just(Op::Read),
        1 => Just(Op::Disconnect),
        1 => Just(Op::Resume(true)),
        1 => Just(Op::Resume(false)),
    ]
}

async fn run_ops(ops: Vec<Op>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let srv = start(Arc::new(tokio::sync::Mutex::new(Some(cmd_rx))), None).await;
    let sid = srv.session().await;
    let mut seen = Seen::default();
    let mut conn = Some(srv.call(&sid).await);
    seen.take(conn.as_mut().unwrap().next_within().await.unwrap()); // the priming event
    let mut emitted = 0u64;
    for op in ops {
        match op {
            Op::Emit => {
                emitted += 1;
                cmd_tx.send(Cmd::Progress(emitted)).unwrap();
            }
            Op::Read => {
                if let Some(c) = conn.as_mut() {
                    while (seen.progress.len() as u64) < emitted {
                        seen.take(c.next_within().await.expect("stream ended early"));
                    }
                }
            }
            Op::Disconnect => conn = None,
            Op::Resume(drop_first) => {
                if drop_first {
                    // Closed before the resume is sent.
                    drop(conn.take());
                }
                let last = seen.last_id.clone().unwrap();
                // The old connection, if still open, is superseded: the client reads only the
                // new one from now on.
                let new = srv.resume(&sid, &last).await;
                conn = Some(new);
            }
        }
    }
    cmd_tx.send(Cmd::Finish).unwrap();
    if conn.is_none() {
        conn = Some(srv.resume(&sid, seen.last_id.as_deref().unwrap()).await);
    }
    let c = conn.as_mut().unwrap();
    while seen.responses == 0 {
        seen.take(
            c.next_within()
                .await
                .expect("stream ended before the response"),
        );
    }
    // The response ends the stream.
    assert!(c.next_within().await.is_none(), "events after the response");
    let expected: Vec<u64> = (1..=emitted).collect();
    assert_eq!(seen.progress, expected);
    assert_eq!(seen.responses, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every event of the stream arrives exactly once, in order, however emits, reads,
    /// disconnects and resumes interleave.
    #[test]
    fn every_event_exactly_once_in_order(ops in proptest::collection::vec(op(), 0..14)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tokio::time::timeout(Duration::from_secs(30), run_ops(ops))
                .await
                .expect("the case took too long");
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answered_request_replays_to_its_response_then_ends() {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let srv = start(Arc::new(tokio::sync::Mutex::new(Some(cmd_rx))), None).await;
    let sid = srv.session().await;
    let mut seen = Seen::default();
    let mut c = srv.call(&sid).await;
    seen.take(c.next_within().await.unwrap());
    cmd_tx.send(Cmd::Progress(1)).unwrap();
    seen.take(c.next_within().await.unwrap());
    drop(c);
    cmd_tx.send(Cmd::Progress(2)).unwrap();
    cmd_tx.send(Cmd::Progress(3)).unwrap();
    cmd_tx.send(Cmd::Finish).unwrap();
    // Give the handler time to answer while nobody is connected (the order of what follows
    // does not depend on it: a resume before the answer gets it live).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = seen.last_id.clone().unwrap();
    let mut c = srv.resume(&sid, &last).await;
    while let Some(e) = c.next_within().await {
        seen.take(e);
    }
    assert_eq!(seen.progress, vec![1, 2, 3]);
    assert_eq!(seen.responses, 1);
    // Resuming again from the same point replays the same events (within the retention of a
    // stream sent whole).
    let mut again = Seen {
        last_id: Some(last.clone()),
        ..Seen::default()
    };
    let mut c = srv.resume(&sid, &last).await;
    while let Some(e) = c.next_within().await {
        again.take(e);
    }
    assert_eq!(again.progress, vec![2, 3]);
    assert_eq!(again.responses, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_position_the_log_no_longer_holds_is_refused() {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let store = MemoryEventStore::new(2, 1 << 20, 1 << 20);
    let srv = start(Arc::new(tokio::sync::Mutex::new(Some(cmd_rx))), Some(store)).await;
    let sid = srv.session().await;
    let mut c = srv.call(&sid).await;
    let (priming, _) = c.next_within().await.unwrap();
    drop(c);
    for i in 1..=4 {
        cmd_tx.send(Cmd::Progress(i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Only events 3 and 4 are kept: from the priming event, 1 and 2 would be missing.
    let r = srv.get(&sid, Some(&priming)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too old"),
        "{body}"
    );
    // An id that was never issued is refused too.
    let stream = priming.split_once('-').unwrap().0;
    let r = srv.get(&sid, Some(&format!("{stream}-99"))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    cmd_tx.send(Cmd::Finish).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_stream_resumes_with_the_notifications_it_missed() {
    let (_cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let srv = start(Arc::new(tokio::sync::Mutex::new(Some(cmd_rx))), None).await;
    let sid = srv.session().await;
    let r = srv.get(&sid, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut c = Events::new(r);
    let mut seen = Seen::default();
    seen.take(c.next_within().await.unwrap()); // priming
    srv.handle.list_changed(ListKind::Tools);
    let (id, msg) = c.next_within().await.unwrap();
    assert_eq!(
        msg.as_ref().unwrap()["method"],
        "notifications/tools/list_changed"
    );
    let last = id.clone();
    seen.take((id, None));
    drop(c);
    // The server notices the closed connection; notifications meanwhile go to the log.
    tokio::time::sleep(Duration::from_millis(100)).await;
    srv.handle.list_changed(ListKind::Prompts);
    srv.handle.list_changed(ListKind::Resources);
    let mut c = srv.resume(&sid, &last).await;
    let (_, a) = c.next_within().await.unwrap();
    let (_, b) = c.next_within().await.unwrap();
    assert_eq!(a.unwrap()["method"], "notifications/prompts/list_changed");
    assert_eq!(b.unwrap()["method"], "notifications/resources/list_changed");
    // Then live.
    srv.handle.list_changed(ListKind::Tools);
    let (_, live) = c.next_within().await.unwrap();
    assert_eq!(live.unwrap()["method"], "notifications/tools/list_changed");
}
