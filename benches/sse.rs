//! SSE and stdio framing benchmarks: encoding one event (single-line JSON, as MCP sends it, and a
//! multi-line payload), and decoding a stream of events in one chunk, in 1 KiB chunks and in
//! 64-byte chunks. Run: `cargo bench --bench sse`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark whose check fails must abort"
)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcpx_wire::sse::{SseDecoder, SseEventRef, encode_event};
use mcpx_wire::stdio::{LineFramer, encode_line};

const RESULT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/data/tools_call_result_1_5kib.json"
));
const PROGRESS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/data/progress_notification.json"
));

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("sse_encode");
    let mut buf = BytesMut::with_capacity(8 * 1024);
    g.throughput(Throughput::Bytes(RESULT.len() as u64));
    g.bench_function("tools_call_result_1_5kib", |b| {
        b.iter(|| {
            buf.clear();
            encode_event(
                &mut buf,
                &SseEventRef::new(black_box(RESULT))
                    .with_id("0-17")
                    .with_event("message"),
            )
            .expect("encodes");
            assert!(buf.len() > RESULT.len());
        })
    });
    let multi: Vec<u8> = RESULT
        .iter()
        .map(|&b| if b == b',' { b'\n' } else { b })
        .collect();
    g.bench_function("multi_line_1_5kib", |b| {
        b.iter(|| {
            buf.clear();
            encode_event(&mut buf, &SseEventRef::new(black_box(&multi))).expect("encodes");
            assert!(buf.len() > multi.len());
        })
    });
    g.finish();
}

/// A stream of 100 events: progress notifications and results, alternating, as a tools/call with
/// progress sends them.
fn stream() -> Vec<u8> {
    let mut buf = BytesMut::new();
    for i in 0..100 {
        let data = if i % 2 == 0 { PROGRESS } else { RESULT };
        let id = format!("0-{i}");
        encode_event(&mut buf, &SseEventRef::new(data).with_id(&id)).expect("encodes");
    }
    buf.to_vec()
}

fn decode(c: &mut Criterion) {
    let input = stream();
    let mut g = c.benchmark_group("sse_decode_100_events");
    g.throughput(Throughput::Bytes(input.len() as u64));
    for chunk in [input.len(), 1024, 64] {
        g.bench_function(format!("chunks_of_{chunk}"), |b| {
            b.iter(|| {
                let mut dec = SseDecoder::new();
                let mut buf = BytesMut::with_capacity(4 * 1024);
                let mut n = 0;
                for part in black_box(&input).chunks(chunk) {
                    buf.extend_from_slice(part);
                    while let Some(ev) = dec.decode(&mut buf).expect("valid") {
                        assert!(!ev.data().is_empty());
                        n += 1;
                    }
                }
                assert_eq!(n, 100);
            })
        });
    }
    g.finish();

    let mut lines = BytesMut::new();
    for i in 0..100 {
        encode_line(&mut lines, if i % 2 == 0 { PROGRESS } else { RESULT }).expect("encodes");
    }
    let lines = lines.to_vec();
    let mut g = c.benchmark_group("stdio_decode_100_lines");
    g.throughput(Throughput::Bytes(lines.len() as u64));
    for chunk in [lines.len(), 1024, 64] {
        g.bench_function(format!("chunks_of_{chunk}"), |b| {
            b.iter(|| {
                let mut framer = LineFramer::new();
                let mut buf = BytesMut::with_capacity(4 * 1024);
                let mut n = 0;
                for part in black_box(&lines).chunks(chunk) {
                    buf.extend_from_slice(part);
                    while let Some(line) = framer.decode(&mut buf).expect("valid") {
                        assert!(line.starts_with(b"{"));
                        n += 1;
                    }
                }
                assert_eq!(n, 100);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
