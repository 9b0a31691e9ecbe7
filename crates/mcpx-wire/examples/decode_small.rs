//! Decodes the load generator's typical 78-byte `tools/call` reply (or the file given as the
//! second argument, e.g. one of `benches/data/*.json`) N times (default 100 000): a fixed workload
//! for counting instructions per decode under callgrind, e.g.
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/decode_small 100000
//! ```
//!
//! (subtract a run with N = 0, ~0.3 M instructions of process start-up, and divide by N).

use std::hint::black_box;

use bytes::Bytes;
use mcpx_wire::{DecodeOptions, decode};

const REPLY: &[u8] =
    br#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"hello"}]}}"#;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let input = match std::env::args().nth(2) {
        Some(path) => match std::fs::read(&path) {
            Ok(data) => Bytes::from(data),
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        },
        None => Bytes::from_static(REPLY),
    };
    let mut opts = DecodeOptions::default();
    // The batch shape in benches/data is a 2025-03-26 batch.
    opts.allow_batch(true);
    let mut ok = 0usize;
    for _ in 0..n {
        ok += usize::from(decode(black_box(input.clone()), &opts).is_ok());
    }
    println!("{ok} of {n} decoded");
}
