//! Entry points for fuzz targets and corpus replay tests. Always compiled, not public API.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mcpx_wire::{DecodeOptions, decode};

use crate::{Config, RequestHead, Routed, SeededIds, SessionTable};

/// Feeds one HTTP request built from `data` to a table holding one 2025-11-25 session and
/// checks the oracles: every rejection has exactly the status and code its
/// [`ProtocolError`](crate::ProtocolError) maps to, and its body decodes as a JSON-RPC error
/// with that code (and the request id when one was read); every dispatched request is
/// answered exactly once.
///
/// Input format: `METHOD PATH\n` then `name: value\n` header lines, a blank line, the body.
/// `$SID` in a header value is replaced with the live session's id. Panics when an oracle
/// fails (that is the fuzz finding); never panics otherwise.
#[allow(clippy::panic, reason = "a failed oracle is the fuzzer's finding")]
pub fn http_request(data: &[u8]) {
    let Ok(mut table) = SessionTable::with_id_generator(Config::new(), Box::new(SeededIds::new(0)))
    else {
        return;
    };
    let now = Instant::now();
    let sid = open_session(&mut table, now);

    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => {
            let (head, rest) = data.split_at(i);
            (head, rest.get(2..).unwrap_or_default())
        }
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, path) = first.split_once(' ').unwrap_or((first, "/mcp"));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().replace("$SID", sid.as_deref().unwrap_or(""));
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    let req = RequestHead::new(&method, path, &headers);
    match table.handle_request(now, &req, Bytes::copy_from_slice(body)) {
        Err(rej) => {
            if rej.error().status_and_code() != (rej.status(), rej.code()) {
                panic!("status/code mismatch: {rej:?}");
            }
            let mut buf = BytesMut::new();
            rej.encode_body(&mut buf);
            let Ok(msg) = decode(buf.freeze(), &DecodeOptions::default()) else {
                panic!("rejection body does not decode: {rej:?}");
            };
            if msg.error_code() != Some(rej.code()) || msg.id() != rej.id() {
                panic!("rejection body disagrees: {rej:?} vs {msg:?}");
            }
        }
        Ok(Routed::Dispatch(d)) => answer_twice(&mut table, now, d.stream),
        Ok(Routed::Batch(b)) => {
            for item in b.items {
                if let Routed::Dispatch(d) = item {
                    answer_twice(&mut table, now, d.stream);
                }
            }
        }
        // A connected stream keeps its session alive: the client hangs up first.
        Ok(Routed::OpenStream(o)) => table.handle_stream_closed(now, o.stream),
        Ok(Routed::ResumeStream(r)) => table.handle_stream_closed(now, r.last_event_id.stream),
        Ok(_) => {}
    }
    table.handle_timeout(now + std::time::Duration::from_secs(86_400));
    while table.poll_event().is_some() {}
    if !table.is_empty() {
        panic!("idle sessions survived their TTL");
    }
}

#[allow(clippy::panic, reason = "a failed oracle is the fuzzer's finding")]
fn answer_twice(table: &mut SessionTable, now: Instant, stream: crate::StreamKey) {
    let mut buf = BytesMut::new();
    let first = table.respond_result(now, stream, &Empty {}, &mut buf);
    let second = table.respond_result(now, stream, &Empty {}, &mut buf);
    if first.is_err() || second.is_ok() {
        panic!("a dispatched request must be answered exactly once");
    }
}

#[derive(serde::Serialize)]
struct Empty {}

fn open_session(table: &mut SessionTable, now: Instant) -> Option<String> {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    let body = Bytes::from_static(
        br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"f","version":"0"}}}"#,
    );
    match table.handle_request(now, &RequestHead::new(&Method::POST, "/mcp", &h), body) {
        Ok(Routed::Answer(a)) => a.new_session.map(|s| s.as_str().to_owned()),
        _ => None,
    }
}
