//! Property tests: SSE and stdio framing give the same outcomes however the input is split,
//! match a model of the generated stream, round-trip through their encoders, and never panic.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers of a test binary: a panic is a test failure"
)]

use bytes::{BufMut, Bytes, BytesMut};
use mcpx_wire::limits::DEFAULT_MAX_SSE_EVENT_BYTES;
use mcpx_wire::sse::{SseDecoder, SseError, SseEvent, SseEventRef, encode_comment, encode_event};
use mcpx_wire::stdio::{LineError, LineFramer, encode_line};
use proptest::prelude::*;

const CASES: u32 = 256;

// ---------------------------------------------------------------------------------------------
// Drivers

/// Feeds `stream` in chunks of the given sizes (cycled; empty = one piece), draining the decoder
/// after each chunk, then at EOF.
fn split<'a>(stream: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![stream];
    }
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let len = sizes[i % sizes.len()].clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(len);
        chunks.push(chunk);
        rest = tail;
        i += 1;
    }
    chunks
}

#[derive(Debug, PartialEq, Eq)]
struct SseRun {
    outcomes: Vec<Result<SseEvent, SseError>>,
    last_event_id: Option<String>,
    retry: Option<u64>,
    comments_seen: u64,
}

fn sse_run(stream: &[u8], limit: usize, sizes: &[usize]) -> SseRun {
    let mut decoder = SseDecoder::with_max_event_bytes(limit);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    for chunk in split(stream, sizes) {
        buf.put_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(event)) => outcomes.push(Ok(event)),
                Ok(None) => break,
                Err(error) => outcomes.push(Err(error)),
            }
        }
        assert!(buf.len() <= limit.max(2));
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(event)) => outcomes.push(Ok(event)),
            Ok(None) => break,
            Err(error) => outcomes.push(Err(error)),
        }
    }
    assert!(buf.is_empty());
    SseRun {
        outcomes,
        last_event_id: decoder.last_event_id().map(str::to_owned),
        retry: decoder.retry(),
        comments_seen: decoder.comments_seen(),
    }
}

fn stdio_run(stream: &[u8], limit: usize, sizes: &[usize]) -> Vec<Result<Bytes, LineError>> {
    let mut framer = LineFramer::with_max_line_bytes(limit);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    for chunk in split(stream, sizes) {
        buf.put_slice(chunk);
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(line)) => outcomes.push(Ok(line)),
                Ok(None) => break,
                Err(error) => outcomes.push(Err(error)),
            }
        }
        assert!(buf.len() <= limit + 1);
    }
    loop {
        match framer.decode_eof(&mut buf) {
            Ok(Some(line)) => outcomes.push(Ok(line)),
            Ok(None) => break,
            Err(error) => outcomes.push(Err(error)),
        }
    }
    assert!(buf.is_empty());
    outcomes
}

/// Splits on LF, CRLF and CR like the SSE encoder does.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&bytes[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&bytes[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&bytes[start..]);
    out
}

fn normalize(bytes: &[u8]) -> Vec<u8> {
    lines(bytes).join(&b'\n')
}

// ---------------------------------------------------------------------------------------------
// Generators

#[derive(Debug, Clone)]
enum Item {
    Event {
        event: Option<String>,
        id: Option<String>,
        retry: Option<u64>,
        data: Vec<u8>,
    },
    Comment(String),
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![
            b'a', b'b', b'{', b'}', b'"', b' ', b':', b'\n', b'\r', 0, 0xFF, 0xC3, 0xA9,
        ]),
        0..48,
    )
}

fn field() -> impl Strategy<Value = String> {
    r"[a-z0-9 :\-é\x00]{0,8}"
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (
            prop::option::of(field()),
            prop::option::of(field().prop_map(|id| id.replace('\0', ""))),
            prop::option::of(0u64..100_000),
            payload(),
        )
            .prop_map(|(event, id, retry, data)| Item::Event { event, id, retry, data }),
        1 => r"[a-z :\r\n]{0,12}".prop_map(Item::Comment),
    ]
}

/// Bytes that often form SSE lines.
fn sse_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data".to_vec()),
        Just(b"id: 1".to_vec()),
        Just(b"id:".to_vec()),
        Just(b"event: e".to_vec()),
        Just(b"retry: 50".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xEF".to_vec()),
        Just(vec![b'x'; 40]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
}

/// Bytes that often form stdio lines.
fn stdio_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{\"a\":1}".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(vec![b'x'; 40]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..48, 1..16)
}

fn limit() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![16usize, 48, 128, DEFAULT_MAX_SSE_EVENT_BYTES])
}

// ---------------------------------------------------------------------------------------------
// SSE model

/// What the decoder should report for one generated item.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Event {
        event_type: String,
        data: Vec<u8>,
        id: Option<String>,
        last_event_id: String,
    },
    TooLarge,
}

struct Model {
    expected: Vec<Expected>,
    last_event_id: String,
    retry: Option<u64>,
    comments_seen: u64,
}

/// Encodes `items` (LF line ends) and computes what a decoder bounded by `limit` must report.
fn encode_items(items: &[Item], limit: usize) -> (BytesMut, Model) {
    let mut wire = BytesMut::new();
    let mut model = Model {
        expected: Vec::new(),
        last_event_id: String::new(),
        retry: None,
        comments_seen: 0,
    };
    for item in items {
        let mut one = BytesMut::new();
        match item {
            Item::Event {
                event,
                id,
                retry,
                data,
            } => {
                let mut event_ref = SseEventRef::new(data);
                if let Some(event) = event {
                    event_ref = event_ref.with_event(event);
                }
                if let Some(id) = id {
                    event_ref = event_ref.with_id(id);
                }
                if let Some(retry) = retry {
                    event_ref = event_ref.with_retry(*retry);
                }
                encode_event(&mut one, &event_ref).unwrap();
                // Field lines (all but the blank line and the empty tail), one byte per line end.
                let size: usize = one[..one.len() - 1]
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| line.len() + 1)
                    .sum();
                if size > limit {
                    // Fields before the bound were applied; `retry` comes before `data`, so it
                    // is applied iff the `event`/`id`/`retry` lines alone fit.
                    let mut head = 0;
                    for line in one[..].split(|&b| b == b'\n') {
                        if line.starts_with(b"data") || head + line.len() + 1 > limit {
                            break;
                        }
                        head += line.len() + 1;
                        if line.starts_with(b"retry") {
                            model.retry = *retry;
                        }
                    }
                    model.expected.push(Expected::TooLarge);
                } else {
                    if let Some(id) = id {
                        model.last_event_id.clone_from(id);
                    }
                    if retry.is_some() {
                        model.retry = *retry;
                    }
                    model.expected.push(Expected::Event {
                        event_type: event
                            .as_deref()
                            .filter(|e| !e.is_empty())
                            .unwrap_or("message")
                            .to_owned(),
                        data: normalize(data),
                        id: id.clone(),
                        last_event_id: model.last_event_id.clone(),
                    });
                }
            }
            Item::Comment(text) => {
                encode_comment(&mut one, text);
                let comment_lines = lines(text.as_bytes());
                if comment_lines.iter().any(|line| line.len() + 3 > limit) {
                    model.expected.push(Expected::TooLarge);
                } else {
                    model.comments_seen += comment_lines.len() as u64;
                }
            }
        }
        wire.put_slice(&one);
    }
    (wire, model)
}

/// Rewrites every LF line end as LF, CRLF or CR, never letting a CR line end be followed by an
/// LF line end (that pair would read as one CRLF).
fn mix_line_ends(lf_stream: &[u8], choices: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf_stream.len() * 2);
    let mut n = 0;
    for &byte in lf_stream {
        if byte != b'\n' {
            out.push(byte);
            continue;
        }
        let choice = choices.get(n % choices.len().max(1)).copied().unwrap_or(0);
        n += 1;
        match choice {
            1 => out.extend_from_slice(b"\r\n"),
            2 => out.push(b'\r'),
            _ if out.last() == Some(&b'\r') => out.extend_from_slice(b"\r\n"),
            _ => out.push(b'\n'),
        }
    }
    out
}

fn observed(run: &SseRun) -> Vec<Expected> {
    run.outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(event) => Expected::Event {
                event_type: event.event_type().to_owned(),
                data: event.data().to_vec(),
                id: event.id().map(str::to_owned),
                last_event_id: event.last_event_id().to_owned(),
            },
            Err(SseError::EventTooLarge { .. }) => Expected::TooLarge,
            Err(other) => panic!("unexpected error {other}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn sse_generated_stream_matches_model_for_any_split(
        items in prop::collection::vec(item(), 0..8),
        bom in any::<bool>(),
        line_ends in prop::collection::vec(0u8..3, 1..32),
        limit in limit(),
        sizes in chunk_sizes(),
    ) {
        let (lf_stream, model) = encode_items(&items, limit);
        let mut stream = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        stream.extend_from_slice(&mix_line_ends(&lf_stream, &line_ends));

        let whole = sse_run(&stream, limit, &[]);
        prop_assert_eq!(observed(&whole), model.expected);
        prop_assert_eq!(whole.retry, model.retry);
        prop_assert_eq!(whole.comments_seen, model.comments_seen);
        if !whole.outcomes.iter().any(Result::is_err) {
            let last = (!model.last_event_id.is_empty()).then_some(model.last_event_id);
            prop_assert_eq!(whole.last_event_id.clone(), last);
        }
        prop_assert_eq!(&sse_run(&stream, limit, &sizes), &whole);
        prop_assert_eq!(&sse_run(&stream, limit, &[1]), &whole);
    }

    #[test]
    fn sse_arbitrary_bytes_same_outcomes_for_any_split(
        stream in sse_soup(),
        limit in limit(),
        sizes in chunk_sizes(),
    ) {
        let whole = sse_run(&stream, limit, &[]);
        prop_assert_eq!(&sse_run(&stream, limit, &sizes), &whole);
        prop_assert_eq!(&sse_run(&stream, limit, &[1]), &whole);
    }

    #[test]
    fn sse_arbitrary_bytes_never_panic(seed in any::<u8>(), stream in sse_soup()) {
        let mut input = vec![seed];
        input.extend_from_slice(&stream);
        mcpx_wire::fuzzing::sse_decode_chunked(&input);
    }

    #[test]
    fn sse_random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        mcpx_wire::fuzzing::sse_decode_chunked(&input);
    }

    #[test]
    fn sse_encode_decode_round_trip(
        event in prop::option::of(r"[^\r\n]{0,12}"),
        id in prop::option::of(r"[^\r\n\x00]{0,12}"),
        retry in prop::option::of(any::<u64>()),
        data in payload(),
    ) {
        let mut event_ref = SseEventRef::new(&data);
        if let Some(event) = &event {
            event_ref = event_ref.with_event(event);
        }
        if let Some(id) = &id {
            event_ref = event_ref.with_id(id);
        }
        if let Some(retry) = retry {
            event_ref = event_ref.with_retry(retry);
        }
        let mut sized = BytesMut::new();
        encode_event(&mut sized, &event_ref).unwrap();
        // Encoding into a buffer with exactly enough room neither grows nor moves it.
        let mut wire = BytesMut::with_capacity(sized.len());
        let ptr = wire.as_ptr();
        encode_event(&mut wire, &event_ref).unwrap();
        prop_assert_eq!((wire.as_ptr(), wire.capacity()), (ptr, sized.len()));

        let mut decoder = SseDecoder::new();
        let decoded = decoder.decode(&mut wire).unwrap().unwrap();
        prop_assert_eq!(decoder.decode(&mut wire), Ok(None));
        let expected_type = event.as_deref().filter(|e| !e.is_empty()).unwrap_or("message");
        prop_assert_eq!(decoded.event_type(), expected_type);
        prop_assert_eq!(decoded.data().to_vec(), normalize(&data));
        prop_assert_eq!(decoded.id(), id.as_deref());
        prop_assert_eq!(decoder.retry(), retry);
    }

    #[test]
    fn sse_encode_rejects_line_breaks_in_id_and_event(
        prefix in "[a-z]{0,4}",
        bad in prop::sample::select(vec!["\n", "\r", "\r\n"]),
        in_id in any::<bool>(),
    ) {
        let value = format!("{prefix}{bad}id: evil");
        let event_ref = if in_id {
            SseEventRef::new(b"x").with_id(&value)
        } else {
            SseEventRef::new(b"x").with_event(&value)
        };
        let mut buf = BytesMut::from(&b"before"[..]);
        prop_assert!(encode_event(&mut buf, &event_ref).is_err());
        prop_assert_eq!(&buf[..], b"before".as_slice());
    }

    #[test]
    fn stdio_generated_lines_match_model_for_any_split(
        messages in prop::collection::vec(r"[!-~][ -~]{0,40}", 0..10),
        separators in prop::collection::vec(
            prop::sample::select(vec!["\n", "\r\n", "\n\n", "\n \t\r\n", "\r\n\r\n"]),
            1..8,
        ),
        final_newline in any::<bool>(),
        limit in prop::sample::select(vec![16usize, 32, 4096]),
        sizes in chunk_sizes(),
    ) {
        let mut stream = BytesMut::new();
        let mut expected = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            if i > 0 {
                stream.put_slice(separators[i % separators.len()].as_bytes());
            }
            stream.put_slice(message.as_bytes());
            expected.push(if message.len() > limit {
                Err(LineError::LineTooLong { limit })
            } else {
                Ok(Bytes::copy_from_slice(message.as_bytes()))
            });
        }
        if final_newline {
            stream.put_slice(separators[0].as_bytes());
        }

        let whole = stdio_run(&stream, limit, &[]);
        prop_assert_eq!(&whole, &expected);
        prop_assert_eq!(&stdio_run(&stream, limit, &sizes), &whole);
        prop_assert_eq!(&stdio_run(&stream, limit, &[1]), &whole);
    }

    #[test]
    fn stdio_arbitrary_bytes_same_outcomes_for_any_split(
        stream in stdio_soup(),
        limit in prop::sample::select(vec![16usize, 48, 4096]),
        sizes in chunk_sizes(),
    ) {
        let whole = stdio_run(&stream, limit, &[]);
        prop_assert_eq!(&stdio_run(&stream, limit, &sizes), &whole);
        prop_assert_eq!(&stdio_run(&stream, limit, &[1]), &whole);
    }

    #[test]
    fn stdio_arbitrary_bytes_never_panic(seed in any::<u8>(), stream in stdio_soup()) {
        let mut input = vec![seed];
        input.extend_from_slice(&stream);
        mcpx_wire::fuzzing::stdio_framing_chunked(&input);
    }

    #[test]
    fn stdio_random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        mcpx_wire::fuzzing::stdio_framing_chunked(&input);
    }

    #[test]
    fn stdio_encode_decode_round_trip(message in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = BytesMut::new();
        let encoded = encode_line(&mut buf, &message);
        if message.contains(&b'\n') || message.contains(&b'\r') {
            prop_assert_eq!(encoded, Err(LineError::EmbeddedNewline));
            prop_assert!(buf.is_empty());
        } else {
            prop_assert_eq!(encoded, Ok(()));
            let mut framer = LineFramer::new();
            let blank = message.iter().all(|b| matches!(b, b' ' | b'\t'));
            let expected = (!blank).then(|| Bytes::copy_from_slice(&message));
            prop_assert_eq!(framer.decode(&mut buf), Ok(expected));
            prop_assert_eq!(framer.decode_eof(&mut buf), Ok(None));
        }
    }
}
