//! The zero-copy claim, as a test: steady-state heap allocations for decoding a `tools/call`
//! request, encoding a `tools/call` result and framing an SSE event.
//!
//! Its own test binary because it installs a counting `#[global_allocator]`; only allocations
//! made by the measuring thread are counted (the test harness allocates on other threads).

#![allow(
    unsafe_code,
    reason = "a counting global allocator must implement the unsafe GlobalAlloc trait"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use mcpx_wire::sse::{SseEventRef, encode_event};
use mcpx_wire::{DecodeOptions, decode, encode_result};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` over `iters` runs, after `warmup` runs.
fn allocations(warmup: usize, iters: usize, mut f: impl FnMut()) -> u64 {
    for _ in 0..warmup {
        f();
    }
    ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for _ in 0..iters {
        f();
    }
    COUNTING.with(|c| c.set(false));
    ALLOCS.load(Ordering::Relaxed)
}

const TOOLS_CALL_1KIB: &[u8] = include_bytes!("../../../benches/data/tools_call_1kib.json");
const RESULT_TEXT: &str = include_str!("../../../benches/data/tools_call_result_1_5kib.json");

/// The published numbers. If a change makes one of these grow, this test fails: either find the
/// allocation or change the number here and in BENCHMARKS.md, with a reason.
const DECODE_TOOLS_CALL_ALLOCS: u64 = 0;
const ENCODE_TOOLS_CALL_RESULT_ALLOCS: u64 = 0;
const ENCODE_SSE_EVENT_ALLOCS: u64 = 0;

#[derive(serde::Serialize, serde::Deserialize)]
struct Text<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    text: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CallToolResult<'a> {
    content: [Text<'a>; 1],
    is_error: bool,
}

#[test]
fn steady_state_allocations() {
    const ITERS: usize = 1_000;
    let opts = DecodeOptions::default();

    // Decoding as a transport does it: one long-lived read buffer, each message split off and
    // frozen, decoded, used (id, method, typed params) and dropped; the buffer then reclaims its
    // own storage.
    let mut read_buf = BytesMut::with_capacity(8 * 1024);
    let decode_allocs = allocations(10, ITERS, || {
        read_buf.reserve(TOOLS_CALL_1KIB.len());
        read_buf.extend_from_slice(TOOLS_CALL_1KIB);
        let msg = decode(read_buf.split().freeze(), &opts).unwrap();
        assert_eq!(msg.method(), Some("tools/call"));
        assert!(msg.id().is_some());
        let params = msg.params().unwrap();
        assert!(params.as_bytes().starts_with(b"{\"name\""));
    });

    // Encoding a 1.5 KiB tools/call result into a reused buffer.
    let text: serde_json::Value = serde_json::from_str(RESULT_TEXT).unwrap();
    let body = text["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = CallToolResult {
        content: [Text {
            kind: "text",
            text: &body,
        }],
        is_error: false,
    };
    let id = mcpx_wire::RequestId::from_i64(42);
    let mut out = BytesMut::with_capacity(4 * 1024);
    let encode_allocs = allocations(10, ITERS, || {
        out.clear();
        encode_result(&mut out, &id, &result).unwrap();
        assert!(out.len() > 1_500);
    });

    // Framing that result as one SSE event into a reused buffer.
    let payload = out.clone().freeze();
    let mut sse = BytesMut::with_capacity(4 * 1024);
    let sse_allocs = allocations(10, ITERS, || {
        sse.clear();
        encode_event(
            &mut sse,
            &SseEventRef::new(&payload)
                .with_id("0-17")
                .with_event("message"),
        )
        .unwrap();
        assert!(sse.ends_with(b"\n\n"));
    });

    println!(
        "allocations per {ITERS} iterations: decode tools/call 1 KiB = {decode_allocs}, \
         encode tools/call result 1.5 KiB = {encode_allocs}, encode SSE event = {sse_allocs}"
    );
    // `==` while the numbers are 0 (clippy rejects `<= 0`); a number that grows fails either way.
    assert_eq!(
        decode_allocs, DECODE_TOOLS_CALL_ALLOCS,
        "decode allocations changed"
    );
    assert_eq!(
        encode_allocs, ENCODE_TOOLS_CALL_RESULT_ALLOCS,
        "encode allocations changed"
    );
    assert_eq!(
        sse_allocs, ENCODE_SSE_EVENT_ALLOCS,
        "SSE allocations changed"
    );
}
