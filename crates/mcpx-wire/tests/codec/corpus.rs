//! Replays every fuzz corpus file through the same entry points the fuzz targets call, so
//! `cargo test` catches regressions where cargo-fuzz is not installed.

use std::path::Path;

use mcpx_wire::fuzzing;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = file.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(
            outcome.is_ok(),
            "{target}: corpus file {} fails its oracle",
            path.display()
        );
        n += 1;
    }
    assert!(n > 0, "{target}: empty corpus in {}", dir.display());
}

#[test]
fn decode_message_corpus() {
    replay("decode_message", fuzzing::decode_message);
}

#[test]
fn decode_differential_corpus() {
    replay("decode_differential", fuzzing::decode_differential);
}

#[test]
fn sse_decode_chunked_corpus() {
    replay("sse_decode_chunked", fuzzing::sse_decode_chunked);
}

#[test]
fn stdio_framing_chunked_corpus() {
    replay("stdio_framing_chunked", fuzzing::stdio_framing_chunked);
}

#[test]
fn typed_views_corpus() {
    replay("typed_views", fuzzing::typed_views);
}
