#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Overload: past the server-wide in-flight bound a request is refused at once with 503 and
//! `Retry-After` (its body unread, nothing else disturbed); one session past its own share
//! gets 429 with `Retry-After` while other sessions go on; once the work drains, requests are
//! admitted again. Plus the HTTP/2 load check with `h2load`: many streams on few connections,
//! zero errors. Loopback only, every test bounded.

mod hardening_support;

use hardening_support::{BOUND, Conn, Gate, call, handlers, metric, start};
use http::StatusCode;
use mcpx_server::Server;

#[tokio::test]
async fn past_the_in_flight_bound_503_with_retry_after() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(Server::builder().handlers(handlers(&gate)).max_in_flight(2)).await;
        let conn = Conn::tcp_h2(running.addr).await;
        let sid = conn.initialize().await;
        // Two slow calls hold both slots.
        let slow: Vec<_> = (1..=2)
            .map(|i| {
                let conn = conn.clone();
                let sid = sid.clone();
                tokio::spawn(async move { conn.post(&call(i, "slow", "held"), Some(&sid)).await })
            })
            .collect();
        gate.entered(2).await;
        // The third is refused at once, on this session or any other request.
        let r = conn.post(&call(3, "echo", "x"), Some(&sid)).await.unwrap();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(r.json()["error"]["code"], -32603);
        let other = Conn::tcp_h1(running.addr).await;
        let r = other
            .post(&hardening_support::initialize(), None)
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        // Scrapes are not work: they still answer, and count the refusals.
        assert_eq!(
            metric(&other, "mcpx_rejections_total{reason=\"overloaded\"}").await,
            Some(2.0)
        );
        assert_eq!(metric(&other, "mcpx_in_flight_requests").await, Some(2.0));
        // The held calls are undisturbed and answer once released.
        gate.open();
        for t in slow {
            let r = t.await.unwrap().unwrap();
            assert_eq!(r.tool_text(), "held");
        }
        // Slots are free again.
        let r = conn
            .post(&call(4, "echo", "again"), Some(&sid))
            .await
            .unwrap();
        assert_eq!(r.tool_text(), "again");
        assert_eq!(metric(&other, "mcpx_in_flight_requests").await, Some(0.0));
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn a_streamed_answer_holds_its_slot_until_it_ends() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut running = start(Server::builder().handlers(handlers(&gate)).max_in_flight(1)).await;
        let conn = Conn::tcp_h2(running.addr).await;
        let sid = conn.initialize().await;
        // The head of the SSE answer arrives while the handler still runs ...
        let head = conn
            .send_head(hardening_support::post(
                &call(1, "streaming", "done"),
                Some(&sid),
            ))
            .await
            .unwrap();
        assert_eq!(head.headers()["content-type"], "text/event-stream");
        gate.entered(1).await;
        // ... and the stream still holds the one slot.
        let r = conn.post(&call(2, "echo", "x"), Some(&sid)).await.unwrap();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
        gate.open();
        let body = http_body_util::BodyExt::collect(head.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("done"));
        // The stream ended: the slot is free.
        let r = conn
            .post(&call(3, "echo", "free"), Some(&sid))
            .await
            .unwrap();
        assert_eq!(r.tool_text(), "free");
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn one_session_past_its_share_429_others_go_on() {
    tokio::time::timeout(BOUND, async {
        let gate = Gate::default();
        let mut config = mcpx_proto::Config::default();
        config.max_in_flight_per_session(1);
        let mut running = start(
            Server::builder()
                .config(config)
                .handlers(handlers(&gate))
                .max_in_flight(100),
        )
        .await;
        let conn = Conn::tcp_h2(running.addr).await;
        let greedy = conn.initialize().await;
        let polite = conn.initialize().await;
        let held = {
            let conn = conn.clone();
            let greedy = greedy.clone();
            tokio::spawn(async move { conn.post(&call(1, "slow", "held"), Some(&greedy)).await })
        };
        gate.entered(1).await;
        let r = conn
            .post(&call(2, "echo", "more"), Some(&greedy))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        assert!(r.headers.contains_key("retry-after"));
        // Another client is not affected.
        let r = conn
            .post(&call(2, "echo", "fine"), Some(&polite))
            .await
            .unwrap();
        assert_eq!(r.tool_text(), "fine");
        assert_eq!(
            metric(&conn, "mcpx_rejections_total{reason=\"session_in_flight\"}").await,
            Some(1.0)
        );
        gate.open();
        assert_eq!(held.await.unwrap().unwrap().tool_text(), "held");
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

/// Whether `h2load` can run; says so loudly when not.
fn have_h2load(test: &str) -> bool {
    match std::process::Command::new("h2load")
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => true,
        _ => {
            eprintln!(
                "SKIPPED {test}: h2load not installed (apt-get install nghttp2-client; scripts/test does)"
            );
            false
        }
    }
}

/// Runs h2load with `n` stateless `tools/call echo`s over `c` connections of up to `m` streams
/// each against `url`, asserts every one succeeded over HTTP/2, and returns its output.
async fn h2load(url: &str, n: u32, c: u32, m: u32) -> String {
    let dir =
        std::env::temp_dir().join(format!("mcpx-h2load-{}-{}", std::process::id(), url.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("call.json");
    let meta = serde_json::json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{}});
    let req = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"echo","arguments":{"text":"h2load"},"_meta":meta}});
    std::fs::write(&body, req.to_string()).unwrap();
    let out = tokio::process::Command::new("h2load")
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-m",
            &m.to_string(),
        ])
        .args(["-t", "1", "-d", body.to_str().unwrap()])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "accept: application/json, text/event-stream"])
        .args(["-H", "mcp-protocol-version: 2026-07-28"])
        .args(["-H", "mcp-method: tools/call"])
        .args(["-H", "mcp-name: echo"])
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    assert!(out.status.success(), "h2load failed: {text}");
    assert!(
        text.contains(&format!("{n} succeeded, 0 failed, 0 errored")),
        "not every request succeeded: {text}"
    );
    assert!(text.contains(&format!("status codes: {n} 2xx")), "{text}");
    text
}

/// `h2load` (Debian package `nghttp2-client`, installed by scripts/test): 4 connections with
/// up to 100 concurrent streams each send 4,000 stateless `tools/call`s over h2c; every one
/// must succeed. Skips with one line when h2load is absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_many_streams_few_connections_zero_errors() {
    if !have_h2load("h2load_many_streams_few_connections_zero_errors") {
        return;
    }
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let gate = Gate::default();
        gate.open();
        let mut running = start(Server::builder().handlers(handlers(&gate))).await;
        let url = format!("http://127.0.0.1:{}/mcp", running.addr.port());
        let text = h2load(&url, 4000, 4, 100).await;
        assert!(text.contains("h2c"), "not HTTP/2: {text}");
        let conn = Conn::tcp_h1(running.addr).await;
        assert_eq!(
            metric(
                &conn,
                "mcpx_requests_total{method=\"tools/call\",status=\"200\"}"
            )
            .await,
            Some(4000.0)
        );
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}

/// The same over TLS: ALPN picks h2 for h2load's connections (it does not verify the
/// self-signed certificate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_over_tls_alpn_h2_zero_errors() {
    if !have_h2load("h2load_over_tls_alpn_h2_zero_errors") {
        return;
    }
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let tls = mcpx_server::TlsConfig::from_pem(
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let gate = Gate::default();
        gate.open();
        let mut running = start(Server::builder().handlers(handlers(&gate)).tls(tls)).await;
        let url = format!("https://127.0.0.1:{}/mcp", running.addr.port());
        let text = h2load(&url, 2000, 2, 100).await;
        assert!(text.contains("Application protocol: h2"), "not h2: {text}");
        running.shutdown();
        running.task.await.unwrap().unwrap();
    })
    .await
    .expect("bounded");
}
