//! Hidden entry points for the fuzz targets, shared with the corpus-replay tests.
//!
//! Always compiled (not behind `cfg(fuzzing)`), so `cargo test` replays every corpus file through
//! exactly the code the fuzzers run. Each entry point panics when its oracle fails: that is how
//! libFuzzer learns about a bug. Not part of the public API.

#![allow(clippy::panic, reason = "fuzz oracles report failures by panicking")]
#![allow(missing_docs, reason = "hidden testing hooks")]

mod framing;
pub mod reference;

use bytes::{Bytes, BytesMut};

pub use framing::{sse_decode_chunked, stdio_framing_chunked};

use crate::{DecodeOptions, MessageKind, RawJson, decode, encode_message};

/// Options chosen by the first input byte, so the fuzzer explores batches and tight limits too.
/// Returns the options and the rest of the input.
pub fn split_options(data: &[u8]) -> (DecodeOptions, &[u8]) {
    let mut opts = DecodeOptions::default();
    let Some((&flags, rest)) = data.split_first() else {
        return (opts, data);
    };
    opts.allow_batch(flags & 1 != 0);
    if flags & 2 != 0 {
        opts.max_depth(1 + usize::from(flags >> 4));
    }
    if flags & 4 != 0 {
        opts.max_batch_len(2);
    }
    (opts, rest)
}

/// `decode_message`: never panics; an accepted input's raw views are byte-identical slices of the
/// input and valid JSON on their own; re-encoding decodes to an equal message; a refusal carries
/// -32700 or -32600, and parse errors carry no id.
pub fn decode_message(data: &[u8]) {
    let (opts, input) = split_options(data);
    let bytes = Bytes::copy_from_slice(input);
    match decode(bytes.clone(), &opts) {
        Ok(msg) => {
            assert_eq!(
                msg.as_bytes(),
                &bytes,
                "the message must be the input, untouched"
            );
            check_views(&msg, &bytes);
            if msg
                .batch()
                .is_some_and(|items| items.iter().all(Result::is_err))
            {
                // Nothing valid to re-encode (an empty batch is itself invalid).
                return;
            }
            let mut out = BytesMut::new();
            if let Err(e) = encode_message(&mut out, &msg) {
                panic!("re-encoding an accepted message failed: {e}");
            }
            let again = match decode(out.freeze(), &opts) {
                Ok(m) => m,
                Err(e) => panic!("re-encoded message does not decode: {e}"),
            };
            if msg.kind() == MessageKind::Batch {
                let (valid, back) = (valid_members(&msg), valid_members(&again));
                assert_eq!(valid, back, "batch round trip");
            } else {
                assert_eq!(msg, again, "round trip");
            }
        }
        Err(e) => {
            let code = e.code().0;
            assert!(code == -32700 || code == -32600, "unexpected code {code}");
            if e.kind().is_parse_error() {
                assert!(e.id().is_none(), "a parse error cannot know the id");
            }
        }
    }
}

/// A batch's members that decoded as messages.
fn valid_members(batch: &crate::Message) -> Vec<crate::Message> {
    batch
        .batch()
        .unwrap_or_default()
        .iter()
        .flatten()
        .cloned()
        .collect()
}

/// Every raw view lies inside `input` at the same bytes and is valid JSON by itself.
fn check_views(msg: &crate::Message, input: &Bytes) {
    let views = [
        msg.params_bytes(),
        msg.result_bytes(),
        msg.error_data_bytes(),
    ];
    for view in views.into_iter().flatten() {
        let start = view.as_ptr() as usize - input.as_ptr() as usize;
        assert_eq!(
            input.get(start..start + view.len()),
            Some(view),
            "view is not a slice of input"
        );
        if let Err(e) = RawJson::from_bytes(Bytes::copy_from_slice(view)) {
            panic!("raw view is not one JSON value: {e}");
        }
    }
    for item in msg.batch().unwrap_or_default().iter().flatten() {
        check_views(item, input);
    }
}

/// `decode_differential`: mcpx-wire and the serde_json reference agree, or differ in a named way.
pub fn decode_differential(data: &[u8]) {
    let (opts, input) = split_options(data);
    if let Err(why) = reference::compare(input, &opts) {
        panic!(
            "decoders disagree on {:?}: {why}",
            String::from_utf8_lossy(input)
        );
    }
}

/// The methods whose typed views `typed_views` exercises for responses (a response does not say
/// which method it answers, so the fuzzer picks one).
const RESULT_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "server/discover",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
];

/// `typed_views`: deserializing a valid envelope's params or result into the typed view of its
/// method never panics (it may fail with a serde error).
pub fn typed_views(data: &[u8]) {
    let (opts, input) = split_options(data);
    let pick = data.first().copied().unwrap_or(0) as usize;
    let Ok(msg) = decode(Bytes::copy_from_slice(input), &opts) else {
        return;
    };
    let check = |m: &crate::Message| {
        if let (Some(method), Some(params)) = (m.method(), m.params_bytes()) {
            let _ = crate::mcp::deserialize_params_by_method(method, params);
        }
        if let Some(result) = m.result_bytes() {
            let method = RESULT_METHODS
                .get(pick % RESULT_METHODS.len())
                .copied()
                .unwrap_or("ping");
            let _ = crate::mcp::deserialize_result_by_method(method, result);
        }
    };
    check(&msg);
    for item in msg.batch().unwrap_or_default().iter().flatten() {
        check(item);
    }
}
