//! The sans-IO session table under load: a `tools/call` classified, dispatched and answered on
//! one of 10,000 or 100,000 live sessions, and a session opened (initialize) then deleted, with
//! the table that full. No I/O: what the core costs per request, separate from HTTP.
//!
//! Run: `cargo bench --bench sessions`. Under `cargo test --all-targets` each runs once.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark whose check fails must abort"
)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use mcpx::proto::{Config, RequestHead, Routed, SeededIds, SessionId, SessionTable};

const INIT: &[u8] = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;

fn base_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    h
}

fn open(table: &mut SessionTable, now: Instant) -> SessionId {
    let h = base_headers();
    match table.handle_request(
        now,
        &RequestHead::new(&Method::POST, "/mcp", &h),
        Bytes::from_static(INIT),
    ) {
        Ok(Routed::Answer(a)) => a.new_session.expect("a session"),
        other => panic!("initialize failed: {other:?}"),
    }
}

fn session_headers(id: &SessionId) -> HeaderMap {
    let mut h = base_headers();
    h.insert(
        "mcp-session-id",
        HeaderValue::from_str(id.as_str()).expect("visible ASCII"),
    );
    h.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2025-11-25"),
    );
    h
}

fn table_with(n: usize, now: Instant) -> (SessionTable, Vec<SessionId>) {
    let mut config = Config::new();
    config.max_sessions(n + 16);
    let mut table =
        SessionTable::with_id_generator(config, Box::new(SeededIds::new(7))).expect("config");
    let ids = (0..n).map(|_| open(&mut table, now)).collect();
    (table, ids)
}

fn sessions(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("session_table");
    g.sample_size(50);
    for n in [10_000usize, 100_000] {
        let (mut table, ids) = table_with(n, now);
        let headers: Vec<HeaderMap> = ids.iter().step_by(n / 100).map(session_headers).collect();
        let mut buf = BytesMut::with_capacity(256);
        let mut next_id = 1u64;
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("tools_call_dispatch_and_respond", n), |b| {
            b.iter(|| {
                let h = &headers[i % headers.len()];
                i += 1;
                next_id += 1;
                let body = Bytes::from(format!(
                    r#"{{"jsonrpc":"2.0","id":{next_id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hi"}}}}}}"#
                ));
                let Ok(Routed::Dispatch(d)) = table.handle_request(now, &RequestHead::new(&Method::POST, "/mcp", h), body) else {
                    panic!("not dispatched");
                };
                buf.clear();
                let tx = table
                    .respond_result(now, d.stream, &serde_json::json!({"content": []}), &mut buf)
                    .expect("answered");
                table.handle_stream_closed(now, d.stream);
                assert!(black_box(tx).ends_stream);
            })
        });
        g.bench_function(BenchmarkId::new("open_and_delete_session", n), |b| {
            b.iter(|| {
                let id = open(&mut table, now);
                let h = session_headers(&id);
                let r = table.handle_request(
                    now,
                    &RequestHead::new(&Method::DELETE, "/mcp", &h),
                    Bytes::new(),
                );
                assert!(matches!(r, Ok(Routed::SessionDeleted(_))));
                while table.poll_event().is_some() {}
            })
        });
        assert_eq!(table.len(), n);
    }
    g.finish();
}

criterion_group!(benches, sessions);
criterion_main!(benches);
