#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Graceful shutdown of `Server::serve`: once the shutdown future resolves, a new connection is
//! refused, a slow tool call already in flight still gets its answer, an open GET stream ends
//! cleanly, and `serve` returns; a handler that never finishes is cut off at the deadline.
//! Loopback only, every test bounded.

mod hardening_support;

use std::time::Duration;

use hardening_support::{BOUND, Conn, Gate, call, get, handlers, start};
use http::StatusCode;
use http_body_util::BodyExt;
use mcpx_server::Server;
use tokio::net::TcpStream;

#[tokio::test]
async fn in_flight_call_answers_new_connections_refused_streams_end() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(
            Server::builder()
                .handlers(handlers(&gate))
                .shutdown_deadline(Duration::from_secs(15)),
        )
        .await;
        let addr = running.addr;
        // A slow call in flight over HTTP/1.1 ...
        let h1 = Conn::tcp_h1(addr).await;
        let sid = h1.initialize().await;
        let slow = {
            let h1 = h1.clone();
            let sid = sid.clone();
            tokio::spawn(async move { h1.post(&call(1, "slow", "finished"), Some(&sid)).await })
        };
        gate.entered(1).await;
        // ... and an open standalone GET stream over HTTP/2.
        let h2 = Conn::tcp_h2(addr).await;
        let sid2 = h2.initialize().await;
        let stream = h2.send_head(get("/mcp", Some(&sid2))).await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        let stream_end = tokio::spawn(async move { stream.into_body().collect().await });

        running.shutdown();
        // The listener closes: connecting is refused from now on.
        loop {
            match TcpStream::connect(addr).await {
                Err(e) => {
                    // Reset: a connection that raced into the backlog as the listener closed.
                    assert!(
                        matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionRefused
                                | std::io::ErrorKind::ConnectionReset
                        ),
                        "{e}"
                    );
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        // The GET stream ends cleanly (end of body, no error).
        stream_end
            .await
            .unwrap()
            .expect("the GET stream ended with an error");
        // The server is still draining: the call in flight has not been cut off.
        assert!(!running.task.is_finished());
        gate.open();
        let r = slow.await.unwrap().unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.tool_text(), "finished");
        // Everything finished: serve returns (well before the 15 s deadline).
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn a_handler_that_never_ends_is_cut_off_at_the_deadline() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default(); // never opened
        let mut running = start(
            Server::builder()
                .handlers(handlers(&gate))
                .shutdown_deadline(Duration::from_millis(200)),
        )
        .await;
        let conn = Conn::tcp_h2(running.addr).await;
        let sid = conn.initialize().await;
        let stuck = {
            let conn = conn.clone();
            tokio::spawn(async move { conn.post(&call(1, "slow", "never"), Some(&sid)).await })
        };
        gate.entered(1).await;
        running.shutdown();
        running.task.await.unwrap().unwrap();
        // The connection was aborted: the client sees an error, not an answer.
        assert!(stuck.await.unwrap().is_err());
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn requests_during_the_drain_get_503() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(Server::builder().handlers(handlers(&gate))).await;
        let conn = Conn::tcp_h1(running.addr).await;
        let sid = conn.initialize().await;
        // A second HTTP/1.1 connection, idle when the drain starts, then used: either it was
        // closed by the drain (an error) or the request is refused with 503 and Retry-After.
        let idle = Conn::tcp_h1(running.addr).await;
        let held = {
            let conn = conn.clone();
            let sid = sid.clone();
            tokio::spawn(async move { conn.post(&call(1, "slow", "ok"), Some(&sid)).await })
        };
        gate.entered(1).await;
        running.shutdown();
        match idle.post(&call(2, "echo", "late"), Some(&sid)).await {
            Err(_) => {}
            Ok(r) => {
                assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
                assert!(r.headers.contains_key("retry-after"));
            }
        }
        gate.open();
        assert_eq!(held.await.unwrap().unwrap().tool_text(), "ok");
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

/// Reads a legacy event stream until `pred` holds on all that arrived; returns it.
async fn read_until(
    body: &mut hyper::body::Incoming,
    seen: &mut String,
    pred: impl Fn(&str) -> bool,
) {
    while !pred(seen) {
        let frame = body.frame().await.expect("stream ended early").unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
}

fn legacy_post(
    endpoint: &str,
    body: &serde_json::Value,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("http://localhost{endpoint}"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap()
}

#[tokio::test]
async fn legacy_streams_finish_their_calls_then_end() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(
            Server::builder()
                .handlers(handlers(&gate))
                .legacy_sse(true)
                .shutdown_deadline(Duration::from_secs(15)),
        )
        .await;
        let addr = running.addr;
        let sse = Conn::tcp_h1(addr).await;
        let resp = sse.send_head(get("/sse", None)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        let mut seen = String::new();
        read_until(&mut body, &mut seen, |s| {
            s.contains("sessionId=") && s.contains("\n\n")
        })
        .await;
        let endpoint = seen
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap()
            .trim()
            .to_owned();
        let posts = Conn::tcp_h1(addr).await;
        let init = hardening_support::initialize();
        assert_eq!(
            posts
                .send(legacy_post(&endpoint, &init))
                .await
                .unwrap()
                .status,
            StatusCode::ACCEPTED
        );
        read_until(&mut body, &mut seen, |s| s.contains("\"id\":0")).await;
        let initialized = serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert_eq!(
            posts
                .send(legacy_post(&endpoint, &initialized))
                .await
                .unwrap()
                .status,
            StatusCode::ACCEPTED
        );
        let slow = call(1, "slow", "finished");
        assert_eq!(
            posts
                .send(legacy_post(&endpoint, &slow))
                .await
                .unwrap()
                .status,
            StatusCode::ACCEPTED
        );
        gate.entered(1).await;

        running.shutdown();
        // The call in flight is not cut off: the stream stays open until it answers ...
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!running.task.is_finished());
        gate.open();
        // ... then carries the answer, then ends cleanly (end of body, no error).
        let rest = body
            .collect()
            .await
            .expect("the legacy stream ended with an error");
        seen.push_str(&String::from_utf8_lossy(&rest.to_bytes()));
        assert!(seen.contains("finished"), "{seen}");
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}
