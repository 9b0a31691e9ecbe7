//! Codec benchmarks: one criterion group per Claude-shaped message, every decoder side by side in
//! the same run. Shapes are vendored in `benches/data/` (see its README).
//!
//! Decoders compared (each closure checks its result; inputs are prepared in setup):
//! - `mcpx_wire`: `decode` (full validation, envelope + id + method + raw params/result views);
//! - `serde_json_owned`: serde_json into owned typed structs, payloads included (what rmcp does);
//! - `serde_json_raw`: serde_json into a borrowed envelope with `&RawValue` payloads;
//! - `simd_json`: simd-json borrowed DOM, parsed from a scratch copy (it rewrites its input);
//! - `sonic_rs`: sonic-rs into a borrowed envelope with `LazyValue` payloads.
//!
//! Run: `cargo bench --bench codec`. Under `cargo test --all-targets` each runs once (smoke).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark whose check fails must abort"
)]

use std::borrow::Cow;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcpx_wire::{DecodeOptions, RawJson, RequestId, decode, encode_result, encode_result_raw};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

// ---- the peers' envelopes ----

#[derive(Deserialize)]
#[serde(untagged)]
#[allow(dead_code, reason = "decoded for its cost, as an SDK would")]
enum OwnedId {
    Int(i64),
    Str(String),
}

#[derive(Deserialize)]
struct OwnedError {
    code: i64,
    message: String,
    #[allow(dead_code)]
    data: Option<Value>,
}

/// serde_json into owned structs, with the payload type chosen per shape (as an SDK does after
/// dispatching on the method).
#[derive(Deserialize)]
struct Owned<P, R> {
    jsonrpc: String,
    id: Option<OwnedId>,
    method: Option<String>,
    params: Option<P>,
    result: Option<R>,
    error: Option<OwnedError>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct CallToolParams {
    name: String,
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta")]
    meta: Option<Map<String, Value>>,
}

#[derive(Deserialize, Serialize)]
struct TextContent {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallToolResult {
    content: Vec<TextContent>,
    is_error: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Tool {
    name: String,
    title: Option<String>,
    description: Option<String>,
    input_schema: Map<String, Value>,
    annotations: Option<Value>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoded for its cost, as an SDK would")]
struct ToolsList {
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SonicEnvelope<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    result: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    error: Option<sonic_rs::LazyValue<'a>>,
}

/// What every decoder must report for a shape: a cheap fingerprint checked in each closure.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Seen {
    has_id: bool,
    method_len: usize,
    payload: bool,
}

fn mcpx(input: &Bytes, opts: &DecodeOptions) -> Seen {
    let m = decode(input.clone(), opts).expect("valid");
    if let Some(items) = m.batch() {
        return Seen {
            has_id: false,
            method_len: items.len(),
            payload: true,
        };
    }
    Seen {
        has_id: m.id().is_some(),
        method_len: m.method().map_or(0, str::len),
        payload: m
            .params_bytes()
            .or(m.result_bytes())
            .or(m.error_data_bytes())
            .is_some()
            || m.error_code().is_some(),
    }
}

fn owned<P: for<'de> Deserialize<'de>, R: for<'de> Deserialize<'de>>(input: &[u8]) -> Seen {
    let m: Owned<P, R> = serde_json::from_slice(input).expect("valid");
    assert_eq!(m.jsonrpc, "2.0");
    Seen {
        has_id: m.id.is_some(),
        method_len: m.method.as_deref().map_or(0, str::len),
        payload: m.params.is_some()
            || m.result.is_some()
            || m.error
                .as_ref()
                .is_some_and(|e| e.code != 0 && !e.message.is_empty()),
    }
}

fn owned_batch(input: &[u8]) -> Seen {
    let v: Vec<Owned<Value, Value>> = serde_json::from_slice(input).expect("valid");
    Seen {
        has_id: false,
        method_len: v.len(),
        payload: true,
    }
}

fn raw(input: &[u8]) -> Seen {
    let m: RawEnvelope<'_> = serde_json::from_slice(input).expect("valid");
    assert_eq!(m.jsonrpc, "2.0");
    Seen {
        has_id: m.id.is_some(),
        method_len: m.method.as_deref().map_or(0, str::len),
        payload: m.params.or(m.result).or(m.error).is_some(),
    }
}

fn raw_batch(input: &[u8]) -> Seen {
    let v: Vec<RawEnvelope<'_>> = serde_json::from_slice(input).expect("valid");
    Seen {
        has_id: false,
        method_len: v.len(),
        payload: true,
    }
}

fn simd(input: &[u8], scratch: &mut Vec<u8>, buffers: &mut simd_json::Buffers) -> Seen {
    use simd_json::prelude::*;
    scratch.clear();
    scratch.extend_from_slice(input);
    let v = simd_json::to_borrowed_value_with_buffers(scratch, buffers).expect("valid");
    if let Some(items) = v.as_array() {
        return Seen {
            has_id: false,
            method_len: items.len(),
            payload: true,
        };
    }
    assert_eq!(v.get_str("jsonrpc"), Some("2.0"));
    Seen {
        has_id: v.get("id").is_some(),
        method_len: v.get_str("method").map_or(0, str::len),
        payload: v
            .get("params")
            .or(v.get("result"))
            .or(v.get("error"))
            .is_some(),
    }
}

fn sonic(input: &[u8]) -> Seen {
    let m: SonicEnvelope<'_> = sonic_rs::from_slice(input).expect("valid");
    assert_eq!(m.jsonrpc, "2.0");
    Seen {
        has_id: m.id.is_some(),
        method_len: m.method.as_deref().map_or(0, str::len),
        payload: m.params.is_some() || m.result.is_some() || m.error.is_some(),
    }
}

fn sonic_batch(input: &[u8]) -> Seen {
    let v: Vec<SonicEnvelope<'_>> = sonic_rs::from_slice(input).expect("valid");
    Seen {
        has_id: false,
        method_len: v.len(),
        payload: true,
    }
}

/// One group: all decoders on one shape.
fn group(
    c: &mut Criterion,
    name: &str,
    data: &'static [u8],
    owned_fn: fn(&[u8]) -> Seen,
    batch: bool,
) {
    let input = Bytes::from_static(data);
    let mut opts = DecodeOptions::default();
    opts.allow_batch(batch);
    let expect = mcpx(&input, &opts);
    let mut scratch = Vec::with_capacity(data.len());
    let mut buffers = simd_json::Buffers::new(data.len());
    // Every peer must see the same message before it is timed.
    assert_eq!(owned_fn(data), expect, "{name}: serde_json owned");
    if batch {
        assert_eq!(raw_batch(data), expect, "{name}: serde_json raw");
        assert_eq!(sonic_batch(data), expect, "{name}: sonic-rs");
    } else {
        assert_eq!(raw(data), expect, "{name}: serde_json raw");
        assert_eq!(sonic(data), expect, "{name}: sonic-rs");
    }
    assert_eq!(
        simd(data, &mut scratch, &mut buffers),
        expect,
        "{name}: simd-json"
    );

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("mcpx_wire", |b| {
        b.iter(|| assert_eq!(mcpx(black_box(&input), &opts), expect))
    });
    g.bench_function("serde_json_owned", |b| {
        b.iter(|| assert_eq!(owned_fn(black_box(data)), expect))
    });
    if batch {
        g.bench_function("serde_json_raw", |b| {
            b.iter(|| assert_eq!(raw_batch(black_box(data)), expect))
        });
    } else {
        g.bench_function("serde_json_raw", |b| {
            b.iter(|| assert_eq!(raw(black_box(data)), expect))
        });
    }
    g.bench_function("simd_json", |b| {
        b.iter(|| assert_eq!(simd(black_box(data), &mut scratch, &mut buffers), expect))
    });
    if batch {
        g.bench_function("sonic_rs", |b| {
            b.iter(|| assert_eq!(sonic_batch(black_box(data)), expect))
        });
    } else {
        g.bench_function("sonic_rs", |b| {
            b.iter(|| assert_eq!(sonic(black_box(data)), expect))
        });
    }
    g.finish();
}

macro_rules! shape {
    ($file:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/", $file))
    };
}

fn decode_groups(c: &mut Criterion) {
    group(
        c,
        "decode/initialize_request",
        shape!("initialize_request.json"),
        owned::<Value, Value>,
        false,
    );
    group(
        c,
        "decode/tools_list_result_50_tools",
        shape!("tools_list_50.json"),
        owned::<Value, ToolsList>,
        false,
    );
    group(
        c,
        "decode/tools_call_request_200b",
        shape!("tools_call_200b.json"),
        owned::<CallToolParams, Value>,
        false,
    );
    group(
        c,
        "decode/tools_call_request_1kib",
        shape!("tools_call_1kib.json"),
        owned::<CallToolParams, Value>,
        false,
    );
    group(
        c,
        "decode/tools_call_result_1_5kib",
        shape!("tools_call_result_1_5kib.json"),
        owned::<Value, CallToolResult>,
        false,
    );
    group(
        c,
        "decode/tools_call_result_64kib",
        shape!("tools_call_result_64kib.json"),
        owned::<Value, CallToolResult>,
        false,
    );
    group(
        c,
        "decode/progress_notification",
        shape!("progress_notification.json"),
        owned::<Value, Value>,
        false,
    );
    group(
        c,
        "decode/error_response",
        shape!("error_response.json"),
        owned::<Value, Value>,
        false,
    );
    group(
        c,
        "decode/batch_10_2025_03_26",
        shape!("batch_10.json"),
        owned_batch,
        true,
    );
}

/// Encoding a tools/call result: typed through serde into a reused buffer (both), and mcpx's
/// verbatim forwarding of a raw result (what a proxy or recorder does).
fn encode_groups(c: &mut Criterion) {
    for (name, data) in [
        (
            "encode/tools_call_result_1_5kib",
            &shape!("tools_call_result_1_5kib.json")[..],
        ),
        (
            "encode/tools_call_result_64kib",
            &shape!("tools_call_result_64kib.json")[..],
        ),
    ] {
        #[derive(Deserialize)]
        struct Env {
            result: CallToolResult,
        }
        #[derive(Serialize)]
        struct OwnedOut<'a> {
            jsonrpc: &'static str,
            id: i64,
            result: &'a CallToolResult,
        }
        let typed: Env = serde_json::from_slice(data).expect("valid");
        let result = typed.result;
        let raw_result = decode(Bytes::from_static(data), &DecodeOptions::default())
            .expect("valid")
            .result()
            .expect("result");
        let id = RequestId::from_i64(42);
        let mut buf = BytesMut::with_capacity(data.len() * 2);
        let mut vec = Vec::with_capacity(data.len() * 2);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("mcpx_wire_typed", |b| {
            b.iter(|| {
                buf.clear();
                encode_result(&mut buf, &id, black_box(&result)).expect("encodes");
                assert!(buf.len() >= data.len() - 16);
            })
        });
        g.bench_function("mcpx_wire_raw_forward", |b| {
            b.iter(|| {
                buf.clear();
                encode_result_raw(&mut buf, &id, black_box::<&RawJson>(&raw_result))
                    .expect("encodes");
                assert!(buf.len() >= data.len() - 16);
            })
        });
        g.bench_function("serde_json_owned", |b| {
            b.iter(|| {
                vec.clear();
                serde_json::to_writer(
                    &mut vec,
                    &OwnedOut {
                        jsonrpc: "2.0",
                        id: 42,
                        result: black_box(&result),
                    },
                )
                .expect("encodes");
                assert!(vec.len() >= data.len() - 16);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, decode_groups, encode_groups);
criterion_main!(benches);
