//! Stateless era (2026-07-28): requests without sessions, `_meta`, header rules, discover,
//! disconnect = cancel.

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use mcpx_wire::ErrorCode;
use mcpx_wire::mcp::{DiscoverResult, ResultMeta, ResultType};

use super::util::{Pair, answer_message, body_text, message, rejected};
use crate::{CancelReason, Config, Event, ProtocolError, Rejection, Routed, SendError, Target};

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/clientInfo":{"name":"modern","version":"1"}}"#;

fn modern_headers(method: &str, name: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    h.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2026-07-28"),
    );
    h.insert("mcp-method", HeaderValue::from_str(method).unwrap());
    if let Some(n) = name {
        h.insert("mcp-name", HeaderValue::from_str(n).unwrap());
    }
    h
}

fn call_body(id: i64, name: &str, args: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{args},{META}}}}}"#
    )
}

fn send(pair: &mut Pair, h: &HeaderMap, body: &str) -> Result<Routed, Rejection> {
    pair.send(&Method::POST, h, body)
}

#[test]
fn discover_is_answered_by_the_core() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.capabilities(r#"{"tools":{"listChanged":true}}"#)
            .instructions("hi")
            .server_info("sim-server", "9.9");
        c
    });
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{{{META}}}}}"#);
    let msg = answer_message(send(
        &mut pair,
        &modern_headers("server/discover", None),
        &body,
    ));
    let result: DiscoverResult<'_> = msg.result_as().unwrap().unwrap();
    assert_eq!(result.result_type, Some(ResultType::Complete));
    assert_eq!(result.supported_versions[0], "2026-07-28");
    assert_eq!(result.supported_versions.len(), 5);
    assert_eq!(result.capabilities.tools.unwrap().list_changed, Some(true));
    assert_eq!(result.instructions.as_deref(), Some("hi"));
    assert_eq!(result.ttl_ms, Some(3_600_000));
    assert!(result.cache_scope.is_some());
    let meta = ResultMeta::from_meta(result.meta).unwrap();
    assert_eq!(meta.server_info.unwrap().name, "sim-server");
    assert!(pair.server.is_empty(), "no session created");
}

#[test]
fn tools_call_is_dispatched_without_a_session() {
    let mut pair = Pair::new();
    let r = send(
        &mut pair,
        &modern_headers("tools/call", Some("echo")),
        &call_body(1, "echo", r#"{"text":"hi"}"#),
    );
    let Ok(Routed::Dispatch(d)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(d.session, None);
    assert_eq!(d.version, crate::ProtocolVersion::V2026_07_28);
    assert_eq!(
        d.client_capabilities.as_ref().map(|c| c.as_str()),
        Some(r#"{"elicitation":{}}"#)
    );
    assert_eq!(d.priming, None);
    assert!(pair.server.is_empty());
    assert_eq!(pair.server.stateless_in_flight(), 1);
    let mut buf = BytesMut::new();
    let tx = pair
        .server
        .respond_result(
            pair.now,
            d.stream,
            &serde_json::json!({"resultType":"complete","content":[]}),
            &mut buf,
        )
        .unwrap();
    assert_eq!(tx.event_id, None, "no event ids in 2026-07-28");
    assert!(message(&buf).is_response());
    assert_eq!(pair.server.stateless_in_flight(), 0);
}

/// `_meta["io.modelcontextprotocol/logLevel"]` reaches the handler when it is a string; any
/// other value is ignored (the request is still served), and a `_meta` deeper in the
/// arguments is not the request's.
#[test]
fn the_request_log_level_is_read_from_the_request_meta_only() {
    let level = |args: &str, extra: &str| {
        let mut pair = Pair::new();
        let meta = META.replacen(r#""_meta":{"#, &format!(r#""_meta":{{{extra}"#), 1);
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{args},{meta}}}}}"#
        );
        match send(
            &mut pair,
            &modern_headers("tools/call", Some("echo")),
            &body,
        ) {
            Ok(Routed::Dispatch(d)) => d.log_level,
            other => panic!("{other:?}"),
        }
    };
    let debug = r#""io.modelcontextprotocol/logLevel":"debug","#;
    assert_eq!(
        level(r#"{"a":[1,{"_meta":0}]}"#, debug),
        Some("debug".to_owned())
    );
    assert_eq!(
        level("{}", r#""io.modelcontextprotocol/logLevel":3,"#),
        None
    );
    assert_eq!(level("{}", ""), None);
    assert_eq!(
        level(
            r#"{"_meta":{"io.modelcontextprotocol/logLevel":"debug"}}"#,
            ""
        ),
        None
    );
}

#[test]
fn closing_the_response_stream_cancels() {
    let mut pair = Pair::new();
    let Ok(Routed::Dispatch(d)) = send(
        &mut pair,
        &modern_headers("tools/call", Some("slow")),
        &call_body(1, "slow", "{}"),
    ) else {
        panic!()
    };
    pair.server.handle_stream_closed(pair.now, d.stream);
    pair.drain();
    assert_eq!(
        pair.events,
        [Event::RequestCancelled {
            session: None,
            stream: d.stream,
            id: d.id.clone(),
            reason: CancelReason::StreamClosed,
        }]
    );
    assert_eq!(pair.server.route(&Target::Request(d.stream)), None);
    let mut buf = BytesMut::new();
    assert_eq!(
        pair.server
            .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf),
        Err(SendError::Cancelled)
    );
    assert!(buf.is_empty());
    assert_eq!(pair.server.stateless_in_flight(), 0);
}

#[test]
fn progress_goes_on_the_request_stream_without_ids_and_no_server_requests() {
    let mut pair = Pair::new();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"p","_meta":{"progressToken":5,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let Ok(Routed::Dispatch(d)) = send(&mut pair, &modern_headers("tools/call", Some("p")), body)
    else {
        panic!()
    };
    assert!(d.wants_progress);
    let mut buf = BytesMut::new();
    let tx = pair
        .server
        .progress(pair.now, d.stream, 0.5, None, None, &mut buf)
        .unwrap();
    assert_eq!((tx.stream, tx.event_id), (d.stream, None));
    assert_eq!(
        pair.server.request_client(
            pair.now,
            &Target::Request(d.stream),
            "elicitation/create",
            &serde_json::json!({}),
            &mut BytesMut::new()
        ),
        Err(SendError::NotAllowed)
    );
}

#[test]
fn missing_meta_400_invalid_params() {
    let mut pair = Pair::new();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let (rej, msg) = rejected(
        send(&mut pair, &modern_headers("tools/list", None), body),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_PARAMS,
    );
    assert!(matches!(rej.error(), ProtocolError::MissingMeta { .. }));
    assert_eq!(msg.id().and_then(|i| i.as_i64()), Some(1));
    // Version present, capabilities missing.
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
    let (rej, _) = rejected(
        send(&mut pair, &modern_headers("tools/list", None), body),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_PARAMS,
    );
    assert_eq!(
        *rej.error(),
        ProtocolError::MissingMeta {
            key: "io.modelcontextprotocol/clientCapabilities"
        }
    );
}

#[test]
fn unsupported_version_400_with_supported_and_requested() {
    let mut pair = Pair::new();
    for requested in ["1900-01-01", "2025-11-25"] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{requested}","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        );
        let mut h = modern_headers("tools/list", None);
        h.insert(
            "mcp-protocol-version",
            HeaderValue::from_str(requested).unwrap(),
        );
        let (rej, msg) = rejected(
            send(&mut pair, &h, &body),
            StatusCode::BAD_REQUEST,
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
        );
        assert_eq!(msg.id().and_then(|i| i.as_i64()), Some(1));
        let data: serde_json::Value = msg.error_data().unwrap().deserialize().unwrap();
        assert_eq!(data["requested"], requested);
        assert_eq!(data["supported"][0], "2026-07-28");
        assert!(body_text(&rej).contains(r#""supported":["2026-07-28","2025-11-25""#));
    }
}

#[test]
fn header_mismatch_wins_over_an_unsupported_body_version() {
    // Header 2026-07-28, body v999: the request contradicts itself (-32020), as the conformance
    // suite (sep-2575-http-server-header-mismatch-400) requires, before the version is judged.
    let mut pair = Pair::new();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999.0.0","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    rejected(
        send(&mut pair, &modern_headers("server/discover", None), body),
        StatusCode::BAD_REQUEST,
        ErrorCode::HEADER_MISMATCH,
    );
}

#[test]
fn header_mismatch_400_32020() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.tool_header_param("weather", "Region", "region")
            .tool_header_param("weather", "Days", "days");
        c
    });
    let body = call_body(1, "echo", "{}");
    let cases: Vec<(HeaderMap, &str)> = vec![
        // MCP-Protocol-Version missing / different from `_meta`.
        (
            {
                let mut h = modern_headers("tools/call", Some("echo"));
                h.remove("mcp-protocol-version");
                h
            },
            "mcp-protocol-version",
        ),
        // Mcp-Method missing / different.
        (
            {
                let mut h = modern_headers("tools/call", Some("echo"));
                h.remove("mcp-method");
                h
            },
            "mcp-method",
        ),
        (modern_headers("tools/list", Some("echo")), "mcp-method"),
        // Mcp-Name missing / different.
        (modern_headers("tools/call", None), "mcp-name"),
        (modern_headers("tools/call", Some("other")), "mcp-name"),
    ];
    for (h, header) in cases {
        let (rej, _) = rejected(
            send(&mut pair, &h, &body),
            StatusCode::BAD_REQUEST,
            ErrorCode::HEADER_MISMATCH,
        );
        assert_eq!(
            *rej.error(),
            ProtocolError::HeaderMismatch { header },
            "{h:?}"
        );
    }
    // Mcp-Param-*: missing while the argument is present, or different.
    let weather = call_body(2, "weather", r#"{"region":"us-west","days":3}"#);
    let mut h = modern_headers("tools/call", Some("weather"));
    h.insert("mcp-param-region", HeaderValue::from_static("us-west"));
    let (rej, _) = rejected(
        send(&mut pair, &h, &weather),
        StatusCode::BAD_REQUEST,
        ErrorCode::HEADER_MISMATCH,
    );
    assert_eq!(
        *rej.error(),
        ProtocolError::HeaderMismatch {
            header: "mcp-param"
        }
    );
    h.insert("mcp-param-days", HeaderValue::from_static("4"));
    rejected(
        send(&mut pair, &h, &weather),
        StatusCode::BAD_REQUEST,
        ErrorCode::HEADER_MISMATCH,
    );
    // Numeric comparison: 3.0 == 3.
    h.insert("mcp-param-days", HeaderValue::from_static("3.0"));
    assert!(matches!(
        send(&mut pair, &h, &weather),
        Ok(Routed::Dispatch(_))
    ));
    // A null argument needs no header.
    let null_days = call_body(3, "weather", r#"{"region":"us-west","days":null}"#);
    h.remove("mcp-param-days");
    assert!(matches!(
        send(&mut pair, &h, &null_days),
        Ok(Routed::Dispatch(_))
    ));
}

#[test]
fn mcp_name_maps_per_method_and_decodes_base64() {
    let mut pair = Pair::new();
    let read = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{{"uri":"test://static-text",{META}}}}}"#
    );
    let h = modern_headers("resources/read", Some("test://static-text"));
    assert!(matches!(
        send(&mut pair, &h, &read),
        Ok(Routed::Dispatch(_))
    ));
    let prompt = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{{"name":"São",{META}}}}}"#
    );
    let h = modern_headers("prompts/get", Some("=?base64?U8Ojbw==?="));
    assert!(matches!(
        send(&mut pair, &h, &prompt),
        Ok(Routed::Dispatch(_))
    ));
    // tools/list needs no Mcp-Name.
    let list = format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{{META}}}}}"#);
    assert!(matches!(
        send(&mut pair, &modern_headers("tools/list", None), &list),
        Ok(Routed::Dispatch(_))
    ));
}

#[test]
fn unknown_or_removed_method_404_32601() {
    let mut pair = Pair::new();
    for m in [
        "nope/nope",
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{m}","params":{{{META}}}}}"#);
        let (rej, _) = rejected(
            send(&mut pair, &modern_headers(m, None), &body),
            StatusCode::NOT_FOUND,
            ErrorCode::METHOD_NOT_FOUND,
        );
        assert_eq!(*rej.error(), ProtocolError::MethodNotFound, "{m}");
    }
}

#[test]
fn session_header_is_ignored_and_initialize_still_opens_a_session() {
    let mut pair = Pair::new();
    let mut h = modern_headers("tools/call", Some("echo"));
    h.insert(
        "mcp-session-id",
        HeaderValue::from_static("0123456789abcdef0123456789abcdef"),
    );
    assert!(matches!(
        send(&mut pair, &h, &call_body(1, "echo", "{}")),
        Ok(Routed::Dispatch(_))
    ));
    // Dual era: a 2026 client asking initialize for 2026-07-28 gets the newest session era.
    let answer = pair.initialize("2026-07-28");
    assert_eq!(answer.version, crate::ProtocolVersion::V2025_11_25);
    assert_eq!(pair.server.len(), 1);
}

#[test]
fn modern_meta_without_the_header_is_a_header_mismatch() {
    let mut pair = Pair::new();
    let mut h = modern_headers("tools/call", Some("echo"));
    h.remove("mcp-protocol-version");
    let (rej, _) = rejected(
        send(&mut pair, &h, &call_body(1, "echo", "{}")),
        StatusCode::BAD_REQUEST,
        ErrorCode::HEADER_MISMATCH,
    );
    assert_eq!(
        *rej.error(),
        ProtocolError::HeaderMismatch {
            header: "mcp-protocol-version"
        }
    );
    // 2026 error bodies omit an unknown id.
    assert!(!body_text(&rej).contains("null"));
}

#[test]
fn stateless_notification_is_accepted() {
    let mut pair = Pair::new();
    let h = modern_headers("notifications/cancelled", None);
    let r = send(
        &mut pair,
        &h,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
    );
    assert!(matches!(r, Ok(Routed::Accepted(_))), "{r:?}");
}

#[test]
fn stateless_overload_503() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_stateless_in_flight(1);
        c
    });
    let h = modern_headers("tools/call", Some("echo"));
    assert!(matches!(
        send(&mut pair, &h, &call_body(1, "echo", "{}")),
        Ok(Routed::Dispatch(_))
    ));
    let (rej, _) = rejected(
        send(&mut pair, &h, &call_body(2, "echo", "{}")),
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::INTERNAL_ERROR,
    );
    assert!(rej.retry_after().is_some());
}

#[test]
fn legacy_and_modern_clients_share_one_table() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let legacy = pair.dispatch("tools/call", r#"{"name":"a"}"#);
    let Ok(Routed::Dispatch(modern)) = send(
        &mut pair,
        &modern_headers("tools/call", Some("b")),
        &call_body(1, "b", "{}"),
    ) else {
        panic!()
    };
    assert_ne!(legacy.stream, modern.stream);
    let mut buf = BytesMut::new();
    pair.server
        .respond_result(pair.now, modern.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    pair.server
        .respond_result(pair.now, legacy.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    assert_eq!(pair.server.len(), 1);
}

#[test]
fn without_the_stateless_era_the_server_is_a_legacy_one() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.stateless_era(false);
        c
    });
    // server/discover with the 2026 header: an unsupported version.
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{{{META}}}}}"#);
    rejected(
        send(&mut pair, &modern_headers("server/discover", None), &body),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    // The stateless `_meta` without the header, and without a session: no session.
    let mut plain = modern_headers("tools/call", Some("t"));
    plain.remove("mcp-protocol-version");
    let r = send(&mut pair, &plain, &call_body(2, "t", "{}"));
    let (rej, _) = rejected(r, StatusCode::BAD_REQUEST, ErrorCode::INVALID_REQUEST);
    assert!(matches!(rej.error(), ProtocolError::MissingSessionId));
    // `initialize` carrying the stateless `_meta` is a handshake here, and negotiates a
    // session-era version.
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2026-07-28","capabilities":{{}},"clientInfo":{{"name":"c","version":"1"}},{META}}}}}"#
    );
    match send(&mut pair, &plain, &init) {
        Ok(Routed::Answer(a)) => {
            assert!(a.new_session.is_some());
            assert!(a.version.is_session_era());
        }
        other => panic!("{other:?}"),
    }
    // The session era works as always.
    pair.connect("2025-11-25");
    let d = pair.dispatch("tools/call", r#"{"name":"p"}"#);
    assert!(pair.server.abandon(pair.now, d.stream));
}
