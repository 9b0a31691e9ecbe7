//! Every complete example message in the MCP digest decodes to what it shows. The examples are
//! vendored here; when `../shared` is beside the checkout, the test also checks that the digest
//! holds no example this file does not.

use bytes::Bytes;
use mcpx_wire::{DecodeOptions, ErrorCode, MessageKind, RawJson, RequestId, decode};

const PING: &str = r#"{"jsonrpc":"2.0","id":"123","method":"ping"}"#;
const PING_RESULT: &str = r#"{"jsonrpc":"2.0","id":"123","result":{}}"#;
const UNSUPPORTED_VERSION: &str = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25"],"requested":"1900-01-01"}}}"#;
const MODERN_TOOLS_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Seattle, WA"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"ExampleClient","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// Payload examples that are complete JSON (the digest's other shapes are templates).
const PAYLOADS: &[&str] = &[
    r#"{"resultType":"complete"}"#,
    r#"{"type":"object","additionalProperties":false}"#,
    r#"{"type":"object"}"#,
    r#"{"type":"text","text":"..."}"#,
    r#"{"type":"image","data":"<base64>","mimeType":"image/png"}"#,
    r#"{"type":"audio","data":"<base64>","mimeType":"audio/wav"}"#,
];

fn dec(s: &str) -> mcpx_wire::Message {
    decode(
        Bytes::copy_from_slice(s.as_bytes()),
        &DecodeOptions::default(),
    )
    .unwrap()
}

#[test]
fn ping_request_and_result() {
    let m = dec(PING);
    assert_eq!(m.kind(), MessageKind::Request);
    assert_eq!(m.id(), Some(&RequestId::from_string("123")));
    assert_eq!(m.method(), Some("ping"));
    assert!(m.params().is_none());
    let r = dec(PING_RESULT);
    assert_eq!(r.kind(), MessageKind::Response);
    assert_eq!(r.id(), m.id(), "the response echoes the string id");
    assert_eq!(r.result_bytes(), Some(&b"{}"[..]));
}

#[test]
fn unsupported_protocol_version_error() {
    let m = dec(UNSUPPORTED_VERSION);
    assert_eq!(m.kind(), MessageKind::ErrorResponse);
    assert_eq!(m.id(), Some(&RequestId::from_i64(1)));
    assert_eq!(
        m.error_code(),
        Some(ErrorCode::UNSUPPORTED_PROTOCOL_VERSION)
    );
    assert_eq!(m.error_message(), Some("Unsupported protocol version"));
    assert_eq!(
        m.error_data_bytes(),
        Some(&br#"{"supported":["2026-07-28","2025-11-25"],"requested":"1900-01-01"}"#[..])
    );
}

#[test]
fn modern_tools_call() {
    let m = dec(MODERN_TOOLS_CALL);
    assert_eq!(m.kind(), MessageKind::Request);
    assert_eq!(m.method(), Some("tools/call"));
    let p: serde_json::Value = m.params_as().unwrap().unwrap();
    assert_eq!(p["name"], "get_weather");
    assert_eq!(p["arguments"]["location"], "Seattle, WA");
    assert_eq!(
        p["_meta"]["io.modelcontextprotocol/protocolVersion"],
        "2026-07-28"
    );
}

#[test]
fn payload_examples_are_json() {
    for p in PAYLOADS {
        let raw = RawJson::from_bytes(Bytes::from_static(p.as_bytes())).unwrap();
        assert!(raw.is_object());
    }
}

/// If the digest is beside the checkout, every full JSON-RPC example in it must be one of ours.
#[test]
fn digest_has_no_unvendored_example() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/MCP-DIGEST.md"
    );
    let Ok(digest) = std::fs::read_to_string(path) else {
        return;
    };
    let known = [PING, PING_RESULT, UNSUPPORTED_VERSION, MODERN_TOOLS_CALL];
    let mut found = 0;
    for line in digest.lines() {
        let mut rest = line;
        while let Some(start) = rest.find("{\"jsonrpc\"") {
            let tail = &rest[start..];
            let end = tail.find('`').unwrap_or(tail.len());
            let example = tail[..end].trim();
            rest = &tail[end..];
            // Envelope templates (`"id":<string|integer>`) are shapes, not messages.
            if serde_json::from_str::<serde_json::Value>(example).is_err() {
                continue;
            }
            assert!(
                known.contains(&example),
                "digest example not vendored in spec_examples.rs: {example}"
            );
            found += 1;
        }
    }
    assert!(
        found >= known.len(),
        "expected the digest's examples, found {found}"
    );
}
