//! The recorder in-process, against an in-process mcpx-server: TLS termination (ALPN h2 and
//! http/1.1), trace rotation at the size cap (every rotated file reads on its own), the request
//! body cap, and a replay of the recording with no divergence.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;
use std::time::Duration;

use mcpx_client::{Client, ClientOptions, HttpVersion};
use mcpx_load::MetricsSink;
use mcpx_load::metrics::Metrics;
use mcpx_replay::{RecordOptions, ReplayOptions, TraceFileOptions};
use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
use mcpx_trace::plan::{Plan, PlanOptions};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// Every test ends within this.
const BOUND: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Text {
    text: String,
}

async fn upstream() -> String {
    let mut h = Handlers::new();
    h.tool(ToolDef::new("echo"), |_ctx, Text { text }| async move {
        Ok(ToolResult::text(text))
    });
    h.tool(ToolDef::new("slow"), |_ctx, Text { text }| async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Ok(ToolResult::text(text))
    });
    let server = Server::builder().handlers(h).build().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", l.local_addr().unwrap());
    tokio::spawn(server.serve(l, std::future::pending()));
    url
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpx-replay-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &std::path::Path) -> Vec<mcpx_trace::Event> {
    let f = std::fs::File::open(path).unwrap();
    mcpx_trace::Reader::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_all()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_rotation_and_replay() {
    tokio::time::timeout(BOUND, async {
        let up = upstream().await;
        let dir = tmp("tls");
        let out = dir.join("t.jsonl");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert_pem = cert.cert.pem();
        let key_pem = cert.signing_key.serialize_pem();
        let mut trace = TraceFileOptions::new(&out);
        // Small files: each holds a handful of events, so 20 calls rotate several times.
        trace.max_bytes = 3_000;
        let mut opts = RecordOptions::new(up.clone(), trace);
        opts.tls = Some((cert_pem.clone().into_bytes(), key_pem.into_bytes()));
        // And h2c to the upstream (prior knowledge), so both directions speak HTTP/2 here.
        opts.upstream_http2 = true;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rec = tokio::spawn(mcpx_replay::record(opts, l, async move {
            let _ = stop_rx.await;
        }));
        for version in [HttpVersion::Http1, HttpVersion::Http2] {
            let mut o = ClientOptions::new();
            o.ca_pem(cert_pem.clone().into_bytes());
            o.http_version(version);
            let s = Client::connect(&format!("https://localhost:{port}/mcp"), o)
                .await
                .unwrap();
            for i in 0..10 {
                let r = s
                    .call_tool("echo", &json!({"text": format!("call {i}")}))
                    .await
                    .unwrap();
                assert_eq!(r.text, format!("call {i}"));
            }
            s.close().await.unwrap();
        }
        let _ = stop_tx.send(());
        let summary = rec.await.unwrap().unwrap();
        assert!(summary.rotations >= 2, "{summary:?}");
        assert_eq!(summary.events_dropped, 0);
        // Every file is a trace of its own; together they hold every event once, in order.
        let mut all = Vec::new();
        for n in (1..=mcpx_replay::limits::MAX_ROTATED_FILES).rev() {
            let p = dir.join(format!("t.jsonl.{n}"));
            if p.exists() {
                all.extend(read(&p));
            }
        }
        all.extend(read(&out));
        assert!(all.windows(2).all(|w| w[0].t <= w[1].t));
        let calls = all
            .iter()
            .filter(|e| e.method().as_deref() == Some("tools/call"))
            .count();
        // Up to MAX_ROTATED_FILES old files are kept: with 20 calls nothing was deleted yet
        // unless more rotations happened.
        if summary.rotations <= u64::from(mcpx_replay::limits::MAX_ROTATED_FILES) {
            assert_eq!(calls, 20);
        }
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_replays_in_process_without_divergence_and_bodies_are_capped() {
    tokio::time::timeout(BOUND, async {
        let up = upstream().await;
        let dir = tmp("inproc");
        let out = dir.join("t.jsonl");
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rec = tokio::spawn(mcpx_replay::record(
            RecordOptions::new(up.clone(), TraceFileOptions::new(&out)),
            l,
            async move {
                let _ = stop_rx.await;
            },
        ));
        let mut o = ClientOptions::new();
        o.header(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer ORIGINAL-TOKEN"),
        );
        let s = Client::connect(&format!("{base}/mcp"), o).await.unwrap();
        s.list_tools().await.unwrap();
        // A secret-looking argument: redacted in the trace, put back by `secrets` on replay.
        s.call_tool("echo", &json!({"text": "a", "api_token": "S3CRET"}))
            .await
            .unwrap();
        s.close().await.unwrap();
        // Over the body cap: 413 from the proxy, nothing forwarded.
        let big = "x".repeat(mcpx_replay::limits::MAX_REQUEST_BODY_BYTES + 1);
        let http = mcpx_client::HttpClient::new(mcpx_client::HttpOptions::default()).unwrap();
        let mut req = http::Request::new(bytes::Bytes::from(big));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = format!("{base}/mcp").parse().unwrap();
        let resp = http.send_raw(req).await.unwrap();
        assert_eq!(resp.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        let _ = stop_tx.send(());
        let summary = rec.await.unwrap().unwrap();
        assert_eq!(summary.upstream_errors, 0);

        let events = read(&out);
        let plan = Plan::new(&events, PlanOptions::default()).unwrap();
        let steps = plan.steps();
        let sink = Arc::new(MetricsSink::new(Metrics::new(Duration::from_secs(1))));
        let (_tx, stop) = watch::channel(false);
        // The replay goes through a second recorder: what it sent is traced again, the oracle
        // for "verbatim" (and for the token swap).
        let out2 = dir.join("t2.jsonl");
        let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base2 = format!("http://{}", l2.local_addr().unwrap());
        let (stop2_tx, stop2_rx) = oneshot::channel::<()>();
        let rec2 = tokio::spawn(mcpx_replay::record(
            RecordOptions::new(up.clone(), TraceFileOptions::new(&out2)),
            l2,
            async move {
                let _ = stop2_rx.await;
            },
        ));
        let original_hash = mcpx_trace::redact::sha256_8(b"ORIGINAL-TOKEN");
        let mut ropts = ReplayOptions::new(format!("{base2}/mcp"), plan);
        ropts
            .tokens
            .insert(original_hash.clone(), "REPLAY-TOKEN".to_owned());
        // Without this the filler would differ from the secret, and so would the re-recorded
        // marker's hash: the byte comparison below checks the secret went back.
        ropts.secrets.insert(
            mcpx_trace::redact::sha256_8(br#""S3CRET""#),
            r#""S3CRET""#.to_owned(),
        );
        let r = mcpx_replay::replay(ropts, sink.clone(), stop)
            .await
            .unwrap();
        let _ = stop2_tx.send(());
        rec2.await.unwrap().unwrap();
        let again = read(&out2);
        let sent = |evs: &[mcpx_trace::Event]| -> Vec<(Option<String>, String)> {
            evs.iter()
                .filter(|e| e.k == mcpx_trace::Kind::Req)
                .map(|e| {
                    (
                        e.msg.as_ref().map(|m| m.get().to_owned()),
                        e.http.clone().unwrap_or_default(),
                    )
                })
                .collect()
        };
        assert_eq!(sent(&again), sent(&events), "the replay sent other bytes");
        let auth = |evs: &[mcpx_trace::Event]| -> Vec<String> {
            evs.iter()
                .filter_map(|e| e.hdr.get("authorization").map(str::to_owned))
                .collect()
        };
        let replay_hash = mcpx_trace::redact::sha256_8(b"REPLAY-TOKEN");
        assert!(auth(&events).iter().all(|a| a.ends_with(&original_hash)));
        assert!(!auth(&again).is_empty());
        assert!(
            auth(&again).iter().all(|a| a.ends_with(&replay_hash)),
            "{:?}",
            auth(&again)
        );
        assert_eq!(r.requests, steps);
        assert_eq!(r.divergence.exchanges, steps);
        assert_eq!(r.divergence.diverged, 0, "{:?}", r.divergence);
        assert_eq!(r.unbound, 0);
        assert_eq!(sink.with(|m| m.requests()), steps);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_before_the_answer_ends_its_exchange_in_the_trace() {
    tokio::time::timeout(BOUND, async {
        let up = upstream().await;
        let dir = tmp("leave");
        let out = dir.join("t.jsonl");
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rec = tokio::spawn(mcpx_replay::record(
            RecordOptions::new(up, TraceFileOptions::new(&out)),
            l,
            async move {
                let _ = stop_rx.await;
            },
        ));
        let mut o = ClientOptions::new();
        o.request_timeout(Duration::from_millis(200));
        let s = Client::connect(&format!("{base}/mcp"), o).await.unwrap();
        let e = s.call_tool("slow", &json!({"text": "late"})).await;
        assert!(e.is_err(), "the call must time out on the client");
        let _ = stop_tx.send(());
        rec.await.unwrap().unwrap();
        let events = read(&out);
        let call = events
            .iter()
            .find(|e| e.method().as_deref() == Some("tools/call"))
            .unwrap();
        let ended = events
            .iter()
            .find(|e| e.x == call.x && matches!(e.k, mcpx_trace::Kind::Err | mcpx_trace::Kind::End))
            .unwrap_or_else(|| panic!("exchange {:?} never ended in the trace", call.x));
        assert_eq!(ended.d, mcpx_trace::Dir::C2s, "{ended:?}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// `mcpx replay` against an `https://` target: with the target's CA (`--cacert`) or
/// `--insecure` the replay runs as against plain HTTP; with neither, a self-signed
/// certificate fails every exchange (and the replay says so) instead of being trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reaches_an_https_target_with_its_ca_or_insecure() {
    tokio::time::timeout(BOUND, async {
        let up = upstream().await;
        let dir = tmp("https");
        // Record over plain HTTP.
        let out = dir.join("t.jsonl");
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rec = tokio::spawn(mcpx_replay::record(
            RecordOptions::new(up.clone(), TraceFileOptions::new(&out)),
            l,
            async move {
                let _ = stop_rx.await;
            },
        ));
        let s = Client::connect(&format!("{base}/mcp"), ClientOptions::new())
            .await
            .unwrap();
        s.list_tools().await.unwrap();
        s.call_tool("echo", &json!({"text": "over TLS"}))
            .await
            .unwrap();
        s.close().await.unwrap();
        let _ = stop_tx.send(());
        rec.await.unwrap().unwrap();
        let events = read(&out);
        // The HTTPS target: a TLS-terminating recorder in front of the same server.
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert_pem = cert.cert.pem();
        let mut topts = RecordOptions::new(up.clone(), TraceFileOptions::new(dir.join("t2.jsonl")));
        topts.tls = Some((
            cert_pem.clone().into_bytes(),
            cert.signing_key.serialize_pem().into_bytes(),
        ));
        let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = format!("https://localhost:{}/mcp", l2.local_addr().unwrap().port());
        let (stop2_tx, stop2_rx) = oneshot::channel::<()>();
        let rec2 = tokio::spawn(mcpx_replay::record(topts, l2, async move {
            let _ = stop2_rx.await;
        }));
        let run = |cacert: Option<Vec<u8>>, insecure: bool| {
            let plan = Plan::new(&events, PlanOptions::default()).unwrap();
            let mut ropts = ReplayOptions::new(target.clone(), plan);
            ropts.cacert = cacert;
            ropts.insecure = insecure;
            ropts.request_timeout = Duration::from_secs(10);
            async move {
                let sink = Arc::new(MetricsSink::new(Metrics::new(Duration::from_secs(1))));
                let (_tx, stop) = watch::channel(false);
                mcpx_replay::replay(ropts, sink, stop).await.unwrap()
            }
        };
        let steps = Plan::new(&events, PlanOptions::default()).unwrap().steps();
        for (name, cacert, insecure) in [
            ("--cacert", Some(cert_pem.clone().into_bytes()), false),
            ("--insecure", None, true),
        ] {
            let r = run(cacert, insecure).await;
            assert_eq!(r.requests, steps, "{name}");
            assert_eq!(r.divergence.diverged, 0, "{name}: {:?}", r.divergence);
        }
        // Neither: the self-signed certificate is refused, every exchange diverges.
        let r = run(None, false).await;
        assert_eq!(r.divergence.exchanges, steps, "{:?}", r.divergence);
        assert_eq!(r.divergence.diverged, steps, "{:?}", r.divergence);
        let _ = stop2_tx.send(());
        rec2.await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}
