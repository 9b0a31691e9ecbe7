//! Every row of the HTTP classification table (`crate::http` module docs, MCP-DIGEST 13.2):
//! one test per rejection, each asserting the status AND the JSON-RPC code, and that other
//! sessions were not disturbed.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use mcpx_wire::{DecodeErrorKind, ErrorCode, MissingId};

use super::util::{Pair, body_text, int_id, rejected};
use crate::{Config, ProtocolError, ProtocolVersion, Rejection, RequestHead, Routed};

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const INVALID: ErrorCode = ErrorCode::INVALID_REQUEST;

/// A connected 2025-06-18 pair plus a second, bystander session whose request is in flight.
fn connected() -> (Pair, crate::Dispatch) {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let bystander = pair.dispatch("tools/call", r#"{"name":"bystander"}"#);
    pair.connect("2025-06-18");
    (pair, bystander)
}

/// The bystander session is untouched: its request is still in flight and answerable.
fn undisturbed(pair: &mut Pair, bystander: &crate::Dispatch) {
    let sid = bystander.session.clone().unwrap();
    let session = pair.server.session(&sid).expect("bystander session gone");
    assert!(session.is_in_flight(&bystander.id));
    let mut buf = BytesMut::new();
    assert!(
        pair.server
            .respond_result(pair.now, bystander.stream, &serde_json::json!({}), &mut buf)
            .is_ok()
    );
}

fn post_with(
    pair: &mut Pair,
    edit: impl FnOnce(&mut HeaderMap),
    body: &str,
) -> Result<Routed, Rejection> {
    let mut h = pair.client.post_headers();
    edit(&mut h);
    pair.send(&Method::POST, &h, body)
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

#[test]
fn wrong_path_404() {
    let (mut pair, by) = connected();
    let h = pair.client.post_headers();
    let head = RequestHead::new(&Method::POST, "/other", &h);
    let r = pair
        .server
        .handle_request(pair.now, &head, Bytes::from_static(LIST.as_bytes()));
    let (rej, _) = rejected(r, StatusCode::NOT_FOUND, INVALID);
    assert_eq!(*rej.error(), ProtocolError::NotFound);
    undisturbed(&mut pair, &by);
}

#[test]
fn headers_too_large_431() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_header_bytes(512);
        c
    });
    pair.connect("2025-06-18");
    let big = "x".repeat(600);
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("x-big", HeaderValue::from_str(&big).unwrap());
        },
        LIST,
    );
    rejected(r, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, INVALID);
}

#[test]
fn bad_origin_403() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("origin", HeaderValue::from_static("http://evil.example"));
        },
        LIST,
    );
    let (rej, _) = rejected(r, StatusCode::FORBIDDEN, INVALID);
    assert_eq!(*rej.error(), ProtocolError::BadOrigin);
    // A loopback origin and no origin at all are fine.
    let ok = post_with(
        &mut pair,
        |h| {
            h.insert("origin", HeaderValue::from_static("http://localhost:6274"));
        },
        LIST,
    );
    assert!(ok.is_ok());
    undisturbed(&mut pair, &by);
}

#[test]
fn bad_host_403_unless_allowed() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("host", HeaderValue::from_static("evil.example"));
        },
        LIST,
    );
    let (rej, _) = rejected(r, StatusCode::FORBIDDEN, INVALID);
    assert_eq!(*rej.error(), ProtocolError::BadHost);
    for ok in [
        "localhost:8080",
        "127.0.0.1",
        "127.3.2.1:9",
        "[::1]:8080",
        "LOCALHOST",
    ] {
        let r = post_with(
            &mut pair,
            |h| {
                h.insert("host", HeaderValue::from_str(ok).unwrap());
            },
            LIST,
        );
        // (The repeated request id may be refused as a duplicate; never for its Host.)
        assert!(
            !matches!(r, Err(ref e) if *e.error() == ProtocolError::BadHost),
            "{ok}: {r:?}"
        );
    }
    undisturbed(&mut pair, &by);
    // An allowed public name, with or without its port.
    let mut config = Config::default();
    config.allow_host("mcp.example.com");
    assert!(config.host_allowed("mcp.example.com:443"));
    assert!(config.host_allowed("MCP.example.com"));
    assert!(!config.host_allowed("evil.example"));
    config.dangerous_allow_any_host(true);
    assert!(config.host_allowed("evil.example"));
}

#[test]
fn other_http_method_405() {
    let (mut pair, by) = connected();
    let h = pair.client.post_headers();
    let (rej, _) = rejected(
        pair.send(&Method::PUT, &h, LIST),
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID,
    );
    assert_eq!(*rej.error(), ProtocolError::MethodNotAllowed);
    undisturbed(&mut pair, &by);
}

#[test]
fn delete_disabled_405() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.allow_delete(false);
        c
    });
    pair.connect("2025-06-18");
    let (rej, _) = rejected(pair.delete(), StatusCode::METHOD_NOT_ALLOWED, INVALID);
    assert_eq!(*rej.error(), ProtocolError::MethodNotAllowed);
    assert_eq!(pair.server.len(), 1);
}

#[test]
fn get_where_no_stream_is_offered_405() {
    // Stateless era: no GET stream.
    let mut pair = Pair::new();
    let mut h = pair.client.get_headers();
    h.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2026-07-28"),
    );
    let (rej, _) = rejected(
        pair.send(&Method::GET, &h, ""),
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID,
    );
    assert_eq!(*rej.error(), ProtocolError::GetStreamNotOffered);
    // Session era, server without GET streams.
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.offer_get_stream(false);
        c
    });
    pair.connect("2025-11-25");
    let (rej, _) = rejected(pair.get(None), StatusCode::METHOD_NOT_ALLOWED, INVALID);
    assert_eq!(*rej.error(), ProtocolError::GetStreamNotOffered);
}

#[test]
fn declared_content_length_over_limit_413_before_parsing() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_body_bytes(256);
        c
    });
    pair.connect("2025-06-18");
    // The body is not even JSON: the declared length alone decides.
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("content-length", HeaderValue::from_static("100000"));
        },
        "{{{{ not json",
    );
    let (rej, _) = rejected(r, StatusCode::PAYLOAD_TOO_LARGE, INVALID);
    assert_eq!(*rej.error(), ProtocolError::BodyTooLarge { limit: 256 });
    // An undeclared body over the limit too.
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{}"}}}}"#,
        "x".repeat(300)
    );
    rejected(pair.post(&long), StatusCode::PAYLOAD_TOO_LARGE, INVALID);
}

#[test]
fn bad_content_type_415() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("content-type", HeaderValue::from_static("text/plain"));
        },
        LIST,
    );
    let (rej, _) = rejected(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID);
    assert_eq!(*rej.error(), ProtocolError::UnsupportedMediaType);
    undisturbed(&mut pair, &by);
}

#[test]
fn bad_accept_406() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.insert("accept", HeaderValue::from_static("application/json"));
        },
        LIST,
    );
    let (rej, _) = rejected(r, StatusCode::NOT_ACCEPTABLE, INVALID);
    assert_eq!(*rej.error(), ProtocolError::NotAcceptable);
    let mut h = pair.client.get_headers();
    h.insert("accept", HeaderValue::from_static("application/json"));
    rejected(
        pair.send(&Method::GET, &h, ""),
        StatusCode::NOT_ACCEPTABLE,
        INVALID,
    );
    undisturbed(&mut pair, &by);
}

#[test]
fn duplicated_session_header_400() {
    let (mut pair, by) = connected();
    let sid = pair.client.session.clone().unwrap();
    let r = post_with(
        &mut pair,
        |h| {
            h.append(
                "mcp-session-id",
                HeaderValue::from_str(sid.as_str()).unwrap(),
            );
        },
        LIST,
    );
    let (rej, _) = rejected(r, BAD, INVALID);
    assert_eq!(
        *rej.error(),
        ProtocolError::DuplicateHeader {
            name: "mcp-session-id"
        }
    );
    undisturbed(&mut pair, &by);
}

#[test]
fn missing_session_id_400() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.remove("mcp-session-id");
        },
        LIST,
    );
    let (rej, body) = rejected(r, BAD, INVALID);
    assert_eq!(*rej.error(), ProtocolError::MissingSessionId);
    assert_eq!(body.id(), Some(&int_id(1)));
    let mut h = pair.client.get_headers();
    h.remove("mcp-session-id");
    let (rej, _) = rejected(pair.send(&Method::GET, &h, ""), BAD, INVALID);
    assert_eq!(*rej.error(), ProtocolError::MissingSessionId);
    let (rej, _) = rejected(pair.send(&Method::DELETE, &h, ""), BAD, INVALID);
    assert_eq!(*rej.error(), ProtocolError::MissingSessionId);
    // A notification without a session is refused the same way.
    let r = post_with(
        &mut pair,
        |h| {
            h.remove("mcp-session-id");
        },
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    rejected(r, BAD, INVALID);
    undisturbed(&mut pair, &by);
}

#[test]
fn unknown_or_junk_session_404() {
    let (mut pair, by) = connected();
    for sid in ["0123456789abcdef0123456789abcdef", "not-an-id", "ZZZZ"] {
        let r = post_with(
            &mut pair,
            |h| {
                h.insert("mcp-session-id", HeaderValue::from_static(sid));
            },
            LIST,
        );
        let (rej, _) = rejected(r, StatusCode::NOT_FOUND, INVALID);
        assert_eq!(*rej.error(), ProtocolError::UnknownSession, "{sid}");
    }
    undisturbed(&mut pair, &by);
}

#[test]
fn unsupported_version_header_400() {
    let (mut pair, by) = connected();
    let r = post_with(
        &mut pair,
        |h| {
            h.insert(
                "mcp-protocol-version",
                HeaderValue::from_static("1900-01-01"),
            );
        },
        LIST,
    );
    let (rej, _) = rejected(r, BAD, INVALID);
    assert_eq!(*rej.error(), ProtocolError::UnsupportedVersionHeader);
    // Without a session either (a legacy request, no stateless `_meta`).
    let r = post_with(
        &mut pair,
        |h| {
            h.remove("mcp-session-id");
            h.insert(
                "mcp-protocol-version",
                HeaderValue::from_static("1900-01-01"),
            );
        },
        LIST,
    );
    let (rej, _) = rejected(r, BAD, INVALID);
    assert_eq!(*rej.error(), ProtocolError::UnsupportedVersionHeader);
    undisturbed(&mut pair, &by);
}

#[test]
fn version_header_contradicting_the_session_is_served_unless_strict() {
    // Default: a supported but different header is served under the negotiated version.
    let (mut lenient, _) = connected();
    let r = post_with(
        &mut lenient,
        |h| {
            h.insert(
                "mcp-protocol-version",
                HeaderValue::from_static("2025-03-26"),
            );
        },
        LIST,
    );
    assert!(
        matches!(r, Ok(Routed::Dispatch(ref d)) if d.version == ProtocolVersion::V2025_06_18),
        "{r:?}"
    );
}

#[test]
fn version_header_contradicting_the_session_400_when_strict_missing_header_is_fine() {
    let mut config = Config::default();
    config.strict_version_header(true);
    let mut pair = Pair::with_config(config);
    pair.connect("2025-06-18");
    let by = pair.dispatch("tools/call", r#"{"name":"bystander"}"#);
    pair.connect("2025-06-18");
    let r = post_with(
        &mut pair,
        |h| {
            h.insert(
                "mcp-protocol-version",
                HeaderValue::from_static("2025-11-25"),
            );
        },
        LIST,
    );
    let (rej, _) = rejected(r, BAD, INVALID);
    assert_eq!(
        *rej.error(),
        ProtocolError::VersionHeaderMismatch {
            negotiated: ProtocolVersion::V2025_06_18
        }
    );
    // A missing header means the session's negotiated version.
    let r = post_with(
        &mut pair,
        |h| {
            h.remove("mcp-protocol-version");
        },
        LIST,
    );
    assert!(matches!(r, Ok(Routed::Dispatch(_))), "{r:?}");
    undisturbed(&mut pair, &by);
}

#[test]
fn body_not_json_400_parse_error() {
    let (mut pair, by) = connected();
    let (rej, body) = rejected(pair.post("{not json"), BAD, ErrorCode::PARSE_ERROR);
    assert!(matches!(rej.error(), ProtocolError::Decode { kind } if kind.is_parse_error()));
    assert_eq!(body.id(), None);
    // 2025-06-18: an unknown id is `null`.
    assert!(
        body_text(&rej).contains(r#""id":null"#),
        "{}",
        body_text(&rej)
    );
    undisturbed(&mut pair, &by);
}

#[test]
fn body_not_a_message_400_invalid_request_with_id_when_recoverable() {
    let (mut pair, by) = connected();
    let (rej, _) = rejected(pair.post(r#"{"jsonrpc":"2.0","id":5}"#), BAD, INVALID);
    assert!(matches!(
        rej.error(),
        ProtocolError::Decode {
            kind: DecodeErrorKind::NotAMessage
        }
    ));
    assert_eq!(rej.id(), Some(&int_id(5)));
    let (rej, _) = rejected(
        pair.post(r#"{"jsonrpc":"1.0","id":"a","method":"x"}"#),
        BAD,
        INVALID,
    );
    assert_eq!(rej.id().and_then(|i| i.as_str()), Some("a"));
    rejected(pair.post("42"), BAD, INVALID);
    undisturbed(&mut pair, &by);
}

#[test]
fn unknown_id_is_omitted_from_2025_11_25_on() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    let (rej, _) = rejected(pair.post("{"), BAD, ErrorCode::PARSE_ERROR);
    assert_eq!(rej.missing_id(), MissingId::Omit);
    let text = body_text(&rej);
    assert!(!text.contains(r#""id""#), "{text}");
    // No session, no header: 2025-03-26 rules, `null`.
    let mut fresh = Pair::new();
    let (rej, _) = rejected(fresh.post("{"), BAD, ErrorCode::PARSE_ERROR);
    assert!(body_text(&rej).contains(r#""id":null"#));
}

#[test]
fn batch_refused_where_the_version_does_not_allow_it_400() {
    let (mut pair, by) = connected();
    let (rej, _) = rejected(
        pair.post(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#),
        BAD,
        INVALID,
    );
    assert!(matches!(rej.error(), ProtocolError::BatchNotAllowed { .. }));
    undisturbed(&mut pair, &by);
}

#[test]
fn response_where_none_is_expected_400() {
    let mut pair = Pair::new();
    let mut h = pair.client.post_headers();
    h.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2026-07-28"),
    );
    let (rej, _) = rejected(
        pair.send(&Method::POST, &h, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
        BAD,
        INVALID,
    );
    assert_eq!(*rej.error(), ProtocolError::UnexpectedResponse);
}

#[test]
fn too_many_streams_429() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_streams_per_session(1);
        c
    });
    pair.connect("2025-11-25");
    let Ok(Routed::OpenStream(_)) = pair.get(None) else {
        panic!()
    };
    let (rej, _) = rejected(
        pair.request("tools/list", "{}"),
        StatusCode::TOO_MANY_REQUESTS,
        INVALID,
    );
    assert_eq!(*rej.error(), ProtocolError::TooManyStreams { limit: 1 });
    assert_eq!(rej.retry_after(), Some(Duration::from_secs(1)));
}

#[test]
fn every_protocol_error_has_one_status_and_one_code() {
    use ProtocolError as E;
    let all = [
        E::NotFound,
        E::HeadersTooLarge { limit: 1 },
        E::BadOrigin,
        E::BadHost,
        E::MethodNotAllowed,
        E::GetStreamNotOffered,
        E::NotAcceptable,
        E::UnsupportedMediaType,
        E::BodyTooLarge { limit: 1 },
        E::DuplicateHeader { name: "x" },
        E::MissingSessionId,
        E::UnknownSession,
        E::UnsupportedVersionHeader,
        E::VersionHeaderMismatch {
            negotiated: ProtocolVersion::V2025_06_18,
        },
        E::Decode {
            kind: DecodeErrorKind::UnexpectedByte,
        },
        E::Decode {
            kind: DecodeErrorKind::NotAMessage,
        },
        E::BatchNotAllowed {
            version: ProtocolVersion::V2025_06_18,
        },
        E::UnexpectedResponse,
        E::AlreadyInitialized,
        E::NotInitialized,
        E::DuplicateRequestId,
        E::TooManyInFlight { limit: 1 },
        E::TooManyStreams { limit: 1 },
        E::StreamConflict,
        E::BadLastEventId,
        E::Overloaded,
        E::HeaderMismatch { header: "mcp-name" },
        E::MissingMeta { key: "k" },
        E::UnsupportedProtocolVersion {
            requested: "x".into(),
        },
        E::MissingClientCapability,
        E::MethodNotFound,
    ];
    for e in all {
        let (status, code) = e.status_and_code();
        assert_eq!(e.status_and_code(), (status, code), "deterministic");
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{e:?}"
        );
        for v in [
            None,
            Some(ProtocolVersion::V2025_11_25),
            Some(ProtocolVersion::V2026_07_28),
        ] {
            let rej = Rejection::new(e.clone(), v, None);
            rejected(Err(rej), status, code);
        }
    }
}
