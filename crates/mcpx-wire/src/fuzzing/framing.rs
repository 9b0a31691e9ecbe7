//! Fuzz entry points for SSE and stdio framing: chunk-split invariance and round-trip oracles.
//!
//! Both functions panic when an oracle fails: that is how a fuzzer reports a finding.

use bytes::{BufMut, Bytes, BytesMut};

use crate::sse::{SseDecoder, SseError, SseEvent, SseEventRef, encode_event};
use crate::stdio::{LineError, LineFramer, encode_line};

/// Inputs longer than this are not also fed one byte at a time (that path is O(n) but slow).
const MAX_BYTEWISE_LEN: usize = 4096;

/// Small limits, so that the oversize paths run; chosen by the first input byte.
const LIMITS: [usize; 4] = [16, 64, 256, 4096];

/// Decodes `data[1..]` as an SSE stream in one piece, in pseudo-random chunks derived from
/// `data[0]`, and one byte at a time, and asserts that the outcomes (events, errors, then the
/// decoder's stream state) are identical, that the caller's buffer stays bounded, and that every
/// event survives `encode_event` then decoding again.
///
/// # Panics
///
/// When an oracle fails.
pub fn sse_decode_chunked(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let limit = LIMITS[usize::from(seed & 3)];

    let whole = sse_outcomes(stream, limit, &mut Chunks::whole());
    let chunked = sse_outcomes(stream, limit, &mut Chunks::seeded(seed));
    assert_eq!(whole, chunked, "SSE outcomes differ when chunked");
    if stream.len() <= MAX_BYTEWISE_LEN {
        let bytewise = sse_outcomes(stream, limit, &mut Chunks::bytewise());
        assert_eq!(whole, bytewise, "SSE outcomes differ when fed byte by byte");
    }

    for event in whole.outcomes.iter().flatten() {
        assert_sse_round_trip(event);
    }
}

/// Frames `data[1..]` as newline-delimited stdio in one piece, in pseudo-random chunks derived
/// from `data[0]`, and one byte at a time, and asserts identical outcomes, a bounded buffer, and
/// that every line without `\r` survives `encode_line` then framing again.
///
/// # Panics
///
/// When an oracle fails.
pub fn stdio_framing_chunked(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let limit = LIMITS[usize::from(seed & 3)];

    let whole = stdio_outcomes(stream, limit, &mut Chunks::whole());
    let chunked = stdio_outcomes(stream, limit, &mut Chunks::seeded(seed));
    assert_eq!(whole, chunked, "stdio outcomes differ when chunked");
    if stream.len() <= MAX_BYTEWISE_LEN {
        let bytewise = stdio_outcomes(stream, limit, &mut Chunks::bytewise());
        assert_eq!(
            whole, bytewise,
            "stdio outcomes differ when fed byte by byte"
        );
    }

    for line in whole.iter().flatten() {
        assert!(line.len() <= limit, "line over the limit");
        if memchr::memchr(b'\r', line).is_some() {
            continue;
        }
        let mut buf = BytesMut::new();
        assert_eq!(encode_line(&mut buf, line), Ok(()));
        let mut framer = LineFramer::with_max_line_bytes(limit);
        assert_eq!(framer.decode(&mut buf), Ok(Some(line.clone())));
        assert_eq!(framer.decode_eof(&mut buf), Ok(None));
    }
}

/// What an SSE decoder produced for one stream.
#[derive(Debug, PartialEq, Eq)]
struct SseRun {
    outcomes: Vec<Result<SseEvent, SseError>>,
    last_event_id: Option<String>,
    retry: Option<u64>,
    comments_seen: u64,
}

fn sse_outcomes(stream: &[u8], limit: usize, chunks: &mut Chunks) -> SseRun {
    let mut decoder = SseDecoder::with_max_event_bytes(limit);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunks.next_len(rest.len()));
        rest = tail;
        buf.put_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(event)) => outcomes.push(Ok(event)),
                Ok(None) => break,
                Err(error) => outcomes.push(Err(error)),
            }
        }
        // One incomplete line, or a BOM prefix, is all that may be left.
        assert!(
            buf.len() <= limit.max(2),
            "SSE decoder left {} bytes",
            buf.len()
        );
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(event)) => outcomes.push(Ok(event)),
            Ok(None) => break,
            Err(error) => outcomes.push(Err(error)),
        }
    }
    assert!(buf.is_empty(), "decode_eof left bytes");
    SseRun {
        outcomes,
        last_event_id: decoder.last_event_id().map(str::to_owned),
        retry: decoder.retry(),
        comments_seen: decoder.comments_seen(),
    }
}

fn assert_sse_round_trip(event: &SseEvent) {
    let mut wire = BytesMut::new();
    let mut event_ref = SseEventRef::new(event.data()).with_event(event.event_type());
    if let Some(id) = event.id() {
        event_ref = event_ref.with_id(id);
    }
    assert_eq!(encode_event(&mut wire, &event_ref), Ok(()));
    let mut decoder = SseDecoder::new();
    let again = decoder.decode(&mut wire);
    let again = again.as_ref().ok().and_then(Option::as_ref);
    assert_eq!(
        again.map(|e| (e.event_type(), e.data(), e.id())),
        Some((event.event_type(), event.data(), event.id())),
        "SSE event changed after encode and decode"
    );
    assert_eq!(decoder.decode(&mut wire), Ok(None));
    assert!(wire.is_empty());
}

fn stdio_outcomes(
    stream: &[u8],
    limit: usize,
    chunks: &mut Chunks,
) -> Vec<Result<Bytes, LineError>> {
    let mut framer = LineFramer::with_max_line_bytes(limit);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunks.next_len(rest.len()));
        rest = tail;
        buf.put_slice(chunk);
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(line)) => outcomes.push(Ok(line)),
                Ok(None) => break,
                Err(error) => outcomes.push(Err(error)),
            }
        }
        assert!(
            buf.len() <= limit + 1,
            "line framer left {} bytes",
            buf.len()
        );
    }
    loop {
        match framer.decode_eof(&mut buf) {
            Ok(Some(line)) => outcomes.push(Ok(line)),
            Ok(None) => break,
            Err(error) => outcomes.push(Err(error)),
        }
    }
    assert!(buf.is_empty(), "decode_eof left bytes");
    outcomes
}

/// Chunk lengths: all at once, one byte at a time, or pseudo-random (1 to 64 bytes, sometimes
/// larger) from a seed.
struct Chunks {
    state: u64,
    mode: ChunkMode,
}

#[derive(Clone, Copy)]
enum ChunkMode {
    Whole,
    Bytewise,
    Seeded,
}

impl Chunks {
    fn whole() -> Self {
        Self {
            state: 0,
            mode: ChunkMode::Whole,
        }
    }

    fn bytewise() -> Self {
        Self {
            state: 0,
            mode: ChunkMode::Bytewise,
        }
    }

    fn seeded(seed: u8) -> Self {
        Self {
            state: u64::from(seed) ^ 0x9E37_79B9_7F4A_7C15,
            mode: ChunkMode::Seeded,
        }
    }

    /// The next chunk length, between 1 and `remaining` (which is at least 1).
    fn next_len(&mut self, remaining: usize) -> usize {
        match self.mode {
            ChunkMode::Whole => remaining,
            ChunkMode::Bytewise => 1,
            ChunkMode::Seeded => {
                // splitmix64
                self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = self.state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let max = if z & 0xF00 == 0 { 1024 } else { 64 };
                // Truncation is fine: only the low bits are used.
                let len = (z as usize % max) + 1;
                len.min(remaining)
            }
        }
    }
}
