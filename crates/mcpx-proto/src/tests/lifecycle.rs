//! Session era: lifecycle, negotiation for every version, in-flight requests, cancellation,
//! progress, routing, server-to-client requests, expiry, eviction, DELETE, batches.

use std::time::Duration;

use bytes::BytesMut;
use http::StatusCode;
use mcpx_wire::ErrorCode;
use mcpx_wire::mcp::InitializeResult;

use super::util::{Pair, answer_message, int_id, message, rejected};
use crate::{
    CancelReason, Config, Event, EventId, ProtocolError, ProtocolVersion, Routed, SendError,
    SessionState, Target,
};

#[test]
fn initialize_negotiates_every_version() {
    let mut asks: Vec<&str> = ProtocolVersion::SUPPORTED
        .iter()
        .map(|v| v.as_str())
        .collect();
    asks.extend(["1900-01-01", "2099-01-01", "draft"]);
    for ask in asks {
        let mut pair = Pair::with_config({
            let mut c = Config::new();
            c.instructions("use echo").server_title("Sim");
            c
        });
        let answer = pair.initialize(ask);
        let expect = ProtocolVersion::negotiate(ask);
        let expect = match ProtocolVersion::parse(ask) {
            Some(v) if v.is_session_era() => {
                assert_eq!(expect, v);
                v
            }
            _ => {
                assert_eq!(expect, ProtocolVersion::LATEST_SESSION_ERA, "{ask}");
                expect
            }
        };
        assert_eq!(answer.version, expect);
        let msg = message(&answer.body);
        let result: InitializeResult<'_> = msg.result_as().unwrap().unwrap();
        assert_eq!(result.protocol_version, expect.as_str(), "{ask}");
        assert_eq!(result.server_info.name, "mcpx");
        assert_eq!(result.instructions.is_some(), expect.rules().instructions);
        assert_eq!(
            result.server_info.title.is_some(),
            expect.rules().implementation_title
        );
        let sid = answer.new_session.unwrap();
        let session = pair.server.session(&sid).unwrap();
        assert_eq!(session.version(), expect);
        assert_eq!(session.state(), SessionState::AwaitingInitialized);
        assert_eq!(
            session.client_capabilities().map(|c| c.as_str()),
            Some(r#"{"sampling":{}}"#)
        );
    }
}

#[test]
fn lifecycle_to_ready_and_ping_in_every_state() {
    let mut pair = Pair::new();
    let answer = pair.initialize("2025-06-18");
    pair.client.session = answer.new_session.clone();
    pair.client.version = Some(answer.version);
    let sid = answer.new_session.unwrap();
    // ping before initialized: answered by the core.
    let pong = answer_message(pair.request("ping", "{}"));
    assert_eq!(pong.result().unwrap().as_str(), "{}");
    pair.notify("notifications/initialized", "{}").unwrap();
    assert_eq!(
        pair.server.session(&sid).unwrap().state(),
        SessionState::Ready
    );
    let pong = answer_message(pair.request("ping", "{}"));
    assert!(pong.is_response());
}

#[test]
fn requests_before_initialized_lenient_and_strict() {
    let mut pair = Pair::new();
    let a = pair.initialize("2025-11-25");
    pair.client.session = a.new_session;
    pair.client.version = Some(a.version);
    assert!(matches!(
        pair.request("tools/list", "{}"),
        Ok(Routed::Dispatch(_))
    ));

    let mut strict = Pair::with_config({
        let mut c = Config::new();
        c.strict_lifecycle(true);
        c
    });
    let a = strict.initialize("2025-11-25");
    strict.client.session = a.new_session;
    strict.client.version = Some(a.version);
    let (rej, _) = rejected(
        strict.request("tools/list", "{}"),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::NotInitialized);
    strict.notify("notifications/initialized", "{}").unwrap();
    assert!(matches!(
        strict.request("tools/list", "{}"),
        Ok(Routed::Dispatch(_))
    ));
}

#[test]
fn second_initialize_on_a_session_is_refused() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let body = r#"{"jsonrpc":"2.0","id":99,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#;
    let (rej, msg) = rejected(
        pair.post(body),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::AlreadyInitialized);
    assert_eq!(msg.id(), Some(&int_id(99)));
}

#[test]
fn dispatch_respond_exactly_once() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let d = pair.dispatch("tools/call", r#"{"name":"echo","arguments":{"text":"hi"}}"#);
    assert_eq!(d.method(), "tools/call");
    assert_eq!(d.priming, None, "no priming before 2025-11-25");
    let sid = pair.client.session.clone().unwrap();
    assert_eq!(pair.server.session(&sid).unwrap().in_flight(), 1);
    let mut buf = BytesMut::new();
    let tx = pair
        .server
        .respond_result(
            pair.now,
            d.stream,
            &serde_json::json!({"content":[]}),
            &mut buf,
        )
        .unwrap();
    assert!(tx.ends_stream);
    assert_eq!(
        tx.event_id,
        Some(EventId {
            stream: d.stream,
            seq: 1
        })
    );
    let msg = message(&buf);
    assert_eq!(msg.id(), Some(&d.id));
    let mut again = BytesMut::new();
    assert_eq!(
        pair.server
            .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut again),
        Err(SendError::Gone)
    );
    assert!(again.is_empty());
    assert_eq!(pair.server.session(&sid).unwrap().in_flight(), 0);
}

#[test]
fn unknown_method_is_a_200_error() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    for m in ["nope/nope", "server/discover", "subscriptions/listen"] {
        let msg = answer_message(pair.request(m, "{}"));
        assert_eq!(msg.error_code(), Some(ErrorCode::METHOD_NOT_FOUND), "{m}");
    }
}

#[test]
fn duplicate_in_flight_id_is_refused_and_first_survives() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let first = match pair.request_with_id("7", "tools/call", r#"{"name":"a"}"#) {
        Ok(Routed::Dispatch(d)) => d,
        other => panic!("{other:?}"),
    };
    let (rej, msg) = rejected(
        pair.request_with_id("7", "tools/call", r#"{"name":"b"}"#),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::DuplicateRequestId);
    assert_eq!(msg.id(), Some(&int_id(7)));
    // "7" the string is a different id.
    assert!(matches!(
        pair.request_with_id("\"7\"", "tools/call", r#"{"name":"c"}"#),
        Ok(Routed::Dispatch(_))
    ));
    let mut buf = BytesMut::new();
    pair.server
        .respond_result(
            pair.now,
            first.stream,
            &serde_json::json!({"n":1}),
            &mut buf,
        )
        .unwrap();
    assert_eq!(message(&buf).result().unwrap().as_str(), r#"{"n":1}"#);
    // Once answered, the id is free again.
    assert!(matches!(
        pair.request_with_id("7", "tools/call", r#"{"name":"d"}"#),
        Ok(Routed::Dispatch(_))
    ));
}

#[test]
fn cancel_before_response() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let d = pair.dispatch("tools/call", r#"{"name":"slow"}"#);
    let id = d.id.as_i64().unwrap();
    assert!(matches!(pair.cancel(id), Ok(Routed::Accepted(a)) if a.notification.is_none()));
    assert_eq!(
        pair.events,
        [Event::RequestCancelled {
            session: pair.client.session.clone(),
            stream: d.stream,
            id: d.id.clone(),
            reason: CancelReason::Notification,
        }]
    );
    // A second cancel is ignored: one event per request.
    pair.cancel(id).unwrap();
    assert_eq!(pair.events.len(), 1);
    // The entry stays (marked) until the handler ends; nothing more may be sent.
    let sid = pair.client.session.clone().unwrap();
    assert_eq!(pair.server.session(&sid).unwrap().in_flight(), 1);
    assert_eq!(pair.server.route(&Target::Request(d.stream)), None);
    let mut buf = BytesMut::new();
    assert_eq!(
        pair.server
            .progress(pair.now, d.stream, 1.0, None, None, &mut buf),
        Err(SendError::Cancelled)
    );
    assert_eq!(
        pair.server
            .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf),
        Err(SendError::Cancelled)
    );
    assert!(buf.is_empty());
    assert_eq!(pair.server.session(&sid).unwrap().in_flight(), 0);
}

#[test]
fn cancel_after_response_and_unknown_cancel_are_ignored() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let d = pair.dispatch("tools/call", r#"{"name":"fast"}"#);
    let mut buf = BytesMut::new();
    pair.server
        .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    pair.cancel(d.id.as_i64().unwrap()).unwrap();
    pair.cancel(12345).unwrap();
    pair.notify("notifications/cancelled", r#"{"reason":"no id"}"#)
        .unwrap();
    assert!(pair.events.is_empty());
}

#[test]
fn abandon_after_cancel_frees_the_slot() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let d = pair.dispatch("tools/call", r#"{"name":"slow"}"#);
    pair.cancel(d.id.as_i64().unwrap()).unwrap();
    assert!(pair.server.abandon(pair.now, d.stream));
    assert!(!pair.server.abandon(pair.now, d.stream));
    let sid = pair.client.session.clone().unwrap();
    assert!(pair.server.session(&sid).unwrap().is_idle());
}

#[test]
fn meta_is_found_however_its_key_is_spelled() {
    // The fast path skips params without the bytes `_meta`; an escaped key must still count.
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    for params in [
        r#"{"name":"p","\u005fmeta":{"progressToken":7}}"#,
        r#"{"name":"p","_met\u0061":{"progressToken":7}}"#,
        r#"{"name":"p", "_meta" : {"progressToken":7}}"#,
    ] {
        let d = pair.dispatch("tools/call", params);
        assert!(d.wants_progress, "{params}");
        assert!(pair.server.abandon(pair.now, d.stream));
    }
    for params in [
        r#"{"name":"p","meta":{"progressToken":7}}"#,
        r#"{"name":"_meta"}"#,
    ] {
        let d = pair.dispatch("tools/call", params);
        assert!(!d.wants_progress, "{params}");
        assert!(pair.server.abandon(pair.now, d.stream));
    }
}

#[test]
fn progress_uses_the_requests_token_and_stream() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    let d = pair.dispatch(
        "tools/call",
        r#"{"name":"p","_meta":{"progressToken":"tok-1"}}"#,
    );
    assert!(d.wants_progress);
    assert_eq!(
        d.priming,
        Some(EventId {
            stream: d.stream,
            seq: 0
        })
    );
    let mut buf = BytesMut::new();
    let tx = pair
        .server
        .progress(pair.now, d.stream, 1.0, Some(2.0), Some("half"), &mut buf)
        .unwrap();
    assert_eq!(
        tx.event_id,
        Some(EventId {
            stream: d.stream,
            seq: 1
        })
    );
    assert!(!tx.ends_stream);
    let n = message(&buf);
    assert_eq!(n.method(), Some("notifications/progress"));
    assert_eq!(
        n.params().unwrap().as_str(),
        r#"{"progressToken":"tok-1","progress":1.0,"total":2.0,"message":"half"}"#
    );
    buf.clear();
    let tx = pair
        .server
        .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    assert_eq!(tx.event_id.map(|e| e.seq), Some(2));
    // No token: no progress.
    let d = pair.dispatch("tools/call", r#"{"name":"q"}"#);
    assert_eq!(
        pair.server
            .progress(pair.now, d.stream, 1.0, None, None, &mut BytesMut::new()),
        Err(SendError::NoProgressToken)
    );
}

#[test]
fn session_disconnect_is_not_cancellation() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    let d = pair.dispatch("tools/call", r#"{"name":"x"}"#);
    pair.server.handle_stream_closed(pair.now, d.stream);
    assert!(pair.drain().is_empty());
    assert_eq!(
        pair.server.route(&Target::Request(d.stream)),
        Some(d.stream)
    );
    // The client resumes the request's stream with GET + Last-Event-ID.
    let prime = d.priming.unwrap().to_string();
    match pair.get(Some(&prime)) {
        Ok(Routed::ResumeStream(r)) => assert_eq!(r.last_event_id, d.priming.unwrap()),
        other => panic!("{other:?}"),
    }
    let mut buf = BytesMut::new();
    assert!(
        pair.server
            .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf)
            .is_ok()
    );
}

#[test]
fn routing_request_stream_vs_get_stream() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    let sid = pair.client.session.clone().unwrap();
    let d = pair.dispatch("tools/call", r#"{"name":"x"}"#);
    let mut buf = BytesMut::new();
    // Nothing in flight to attach to and no GET stream: cannot be delivered.
    assert_eq!(pair.server.route(&Target::Session(sid.clone())), None);
    assert_eq!(
        pair.server.notify(
            pair.now,
            &Target::Session(sid.clone()),
            "notifications/tools/list_changed",
            &serde_json::json!({}),
            &mut buf
        ),
        Err(SendError::NoStream)
    );
    assert!(buf.is_empty());
    let get = match pair.get(None) {
        Ok(Routed::OpenStream(o)) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        get.priming,
        Some(EventId {
            stream: get.stream,
            seq: 0
        })
    );
    assert_ne!(get.stream, d.stream);
    assert_eq!(
        pair.server.route(&Target::Session(sid.clone())),
        Some(get.stream)
    );
    assert_eq!(
        pair.server.route(&Target::Request(d.stream)),
        Some(d.stream)
    );
    let tx = pair
        .server
        .notify(
            pair.now,
            &Target::Request(d.stream),
            "notifications/message",
            &serde_json::json!({"level":"info","data":"x"}),
            &mut buf,
        )
        .unwrap();
    assert_eq!(tx.stream, d.stream);
    let tx = pair
        .server
        .notify(
            pair.now,
            &Target::Session(sid.clone()),
            "notifications/tools/list_changed",
            &serde_json::json!({}),
            &mut buf,
        )
        .unwrap();
    assert_eq!(tx.stream, get.stream);
    assert_eq!(
        tx.event_id,
        Some(EventId {
            stream: get.stream,
            seq: 1
        })
    );
    // A second GET while the first is connected: 409.
    let (rej, _) = rejected(
        pair.get(None),
        StatusCode::CONFLICT,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::StreamConflict);
    // Resuming the GET stream is allowed and replaces the connection.
    assert!(matches!(
        pair.get(Some(&format!("{}-1", get.stream))),
        Ok(Routed::ResumeStream(_))
    ));
    // After a disconnect a plain GET opens a fresh stream.
    pair.server.handle_stream_closed(pair.now, get.stream);
    let again = match pair.get(None) {
        Ok(Routed::OpenStream(o)) => o,
        other => panic!("{other:?}"),
    };
    assert_ne!(again.stream, get.stream);
    // The request's stream ends with its response; messages about it stop.
    pair.server
        .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    assert_eq!(pair.server.route(&Target::Request(d.stream)), None);
}

#[test]
fn last_event_id_must_name_a_stream_of_this_session() {
    let mut pair = Pair::new();
    pair.connect("2025-11-25");
    let d = pair.dispatch("tools/call", r#"{"name":"x"}"#);
    for bad in [
        "junk".to_owned(),
        format!("{}-9", d.stream),
        "999-0".to_owned(),
    ] {
        let (rej, _) = rejected(
            pair.get(Some(&bad)),
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_REQUEST,
        );
        assert_eq!(*rej.error(), ProtocolError::BadLastEventId, "{bad}");
    }
    // Another session of the same table cannot resume this one's stream.
    let mut second = Pair::new();
    std::mem::swap(&mut second.server, &mut pair.server);
    second.connect("2025-11-25");
    let (rej, _) = rejected(
        second.get(Some(&format!("{}-0", d.stream))),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::BadLastEventId);
}

#[test]
fn server_to_client_request_round_trip() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let d = pair.dispatch("tools/call", r#"{"name":"needs_sampling"}"#);
    let mut buf = BytesMut::new();
    let (id, tx) = pair
        .server
        .request_client(
            pair.now,
            &Target::Request(d.stream),
            "sampling/createMessage",
            &serde_json::json!({"messages":[],"maxTokens":10}),
            &mut buf,
        )
        .unwrap();
    assert_eq!(tx.stream, d.stream);
    let req = message(&buf);
    assert_eq!(req.method(), Some("sampling/createMessage"));
    assert_eq!(req.id(), Some(&id));
    let sid = pair.client.session.clone().unwrap();
    assert_eq!(pair.server.session(&sid).unwrap().awaiting_client(), 1);
    // The client's id space is separate: its answer carries the server's id.
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"role":"assistant","content":{{"type":"text","text":"ok"}},"model":"m"}}}}"#,
        id.as_i64().unwrap()
    );
    match pair.post(&answer) {
        Ok(Routed::ClientResponse(r)) => {
            assert_eq!(r.id, id);
            assert_eq!(r.related, Some(d.stream));
        }
        other => panic!("{other:?}"),
    }
    // A late duplicate answer is accepted and dropped.
    assert!(matches!(pair.post(&answer), Ok(Routed::Accepted(a)) if a.notification.is_none()));
    assert_eq!(pair.server.session(&sid).unwrap().awaiting_client(), 0);
}

#[test]
fn other_notifications_reach_the_server() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    match pair.notify("notifications/roots/list_changed", "{}") {
        Ok(Routed::Accepted(a)) => {
            assert_eq!(
                a.notification.unwrap().method(),
                Some("notifications/roots/list_changed")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_expiry_through_poll_timeout() {
    let ttl = Duration::from_secs(60);
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.idle_ttl(ttl);
        c
    });
    pair.connect("2025-06-18");
    let sid = pair.client.session.clone().unwrap();
    assert_eq!(pair.server.poll_timeout(), Some(pair.now + ttl));
    // Activity moves the deadline.
    pair.advance(Duration::from_secs(50));
    pair.request("ping", "{}").unwrap();
    assert_eq!(pair.server.poll_timeout(), Some(pair.now + ttl));
    // A busy session never expires.
    let d = pair.dispatch("tools/call", r#"{"name":"long"}"#);
    assert_eq!(pair.server.poll_timeout(), None);
    pair.advance(ttl * 10);
    assert!(pair.server.session(&sid).is_some());
    let mut buf = BytesMut::new();
    pair.server
        .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf)
        .unwrap();
    pair.advance(ttl - Duration::from_millis(1));
    assert!(pair.server.session(&sid).is_some());
    pair.advance(Duration::from_millis(1));
    assert!(pair.server.session(&sid).is_none());
    assert_eq!(pair.events, [Event::SessionExpired(sid)]);
    assert_eq!(pair.server.poll_timeout(), None);
    let (rej, _) = rejected(
        pair.request("tools/list", "{}"),
        StatusCode::NOT_FOUND,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(*rej.error(), ProtocolError::UnknownSession);
}

#[test]
fn open_get_stream_keeps_a_session_alive() {
    let ttl = Duration::from_secs(60);
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.idle_ttl(ttl);
        c
    });
    pair.connect("2025-11-25");
    let sid = pair.client.session.clone().unwrap();
    let Ok(Routed::OpenStream(get)) = pair.get(None) else {
        panic!()
    };
    pair.advance(ttl * 3);
    assert!(pair.server.session(&sid).is_some());
    pair.server.handle_stream_closed(pair.now, get.stream);
    pair.advance(ttl);
    assert!(pair.server.session(&sid).is_none());
}

#[test]
fn time_never_goes_backwards() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let deadline = pair.server.poll_timeout().unwrap();
    let earlier = pair.now - Duration::from_secs(5);
    pair.server.handle_timeout(earlier);
    // An older `now` is read as the newest seen: activity cannot move a deadline back.
    let h = pair.client.post_headers();
    let head = crate::RequestHead::new(&http::Method::POST, "/mcp", &h);
    pair.server
        .handle_request(
            earlier,
            &head,
            bytes::Bytes::from_static(br#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#),
        )
        .unwrap();
    assert_eq!(pair.server.poll_timeout(), Some(deadline));
}

#[test]
fn table_full_evicts_least_recently_used_idle_session() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_sessions(2).retry_after(Duration::from_secs(3));
        c
    });
    let a = pair.initialize("2025-06-18").new_session.unwrap();
    pair.advance(Duration::from_secs(1));
    let b = pair.initialize("2025-06-18").new_session.unwrap();
    pair.advance(Duration::from_secs(1));
    // Touch `a`: now `b` is the least recently used.
    pair.client.session = Some(a.clone());
    pair.client.version = Some(ProtocolVersion::V2025_06_18);
    pair.request("ping", "{}").unwrap();
    pair.advance(Duration::from_secs(1));
    let c = pair.initialize("2025-06-18").new_session.unwrap();
    assert_eq!(pair.events, [Event::SessionEvicted(b.clone())]);
    assert!(pair.server.session(&a).is_some() && pair.server.session(&c).is_some());
    pair.client.session = Some(b);
    rejected(
        pair.request("tools/list", "{}"),
        StatusCode::NOT_FOUND,
        ErrorCode::INVALID_REQUEST,
    );
    // Make both remaining sessions busy: the next initialize gets 503 + Retry-After.
    for s in [a, c] {
        pair.client.session = Some(s);
        pair.dispatch("tools/call", r#"{"name":"busy"}"#);
    }
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#;
    let mut h = pair.client.post_headers();
    h.remove("mcp-session-id");
    let (rej, msg) = rejected(
        pair.send(&http::Method::POST, &h, body),
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::INTERNAL_ERROR,
    );
    assert_eq!(rej.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(msg.id(), Some(&int_id(1)));
    assert_eq!(pair.server.len(), 2);
}

#[test]
fn delete_ends_the_session_and_cancels_its_requests() {
    let mut pair = Pair::new();
    pair.connect("2025-06-18");
    let sid = pair.client.session.clone().unwrap();
    let d = pair.dispatch("tools/call", r#"{"name":"slow"}"#);
    assert!(matches!(pair.delete(), Ok(Routed::SessionDeleted(s)) if s == sid));
    assert_eq!(
        pair.events,
        [Event::RequestCancelled {
            session: Some(sid.clone()),
            stream: d.stream,
            id: d.id.clone(),
            reason: CancelReason::SessionEnded,
        }]
    );
    assert!(pair.server.is_empty());
    assert_eq!(pair.server.poll_timeout(), None);
    let mut buf = BytesMut::new();
    assert_eq!(
        pair.server
            .respond_result(pair.now, d.stream, &serde_json::json!({}), &mut buf),
        Err(SendError::Gone)
    );
    for r in [
        pair.request("tools/list", "{}"),
        pair.delete(),
        pair.get(None),
    ] {
        rejected(r, StatusCode::NOT_FOUND, ErrorCode::INVALID_REQUEST);
    }
}

#[test]
fn batches_in_2025_03_26_only() {
    let mut pair = Pair::new();
    pair.connect("2025-03-26");
    let body = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/roots/list_changed"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}},{"jsonrpc":"2.0","id":4}]"#;
    let items = match pair.post(body) {
        Ok(Routed::Batch(b)) => b.items,
        other => panic!("{other:?}"),
    };
    assert_eq!(items.len(), 5, "{items:?}");
    assert!(matches!(&items[0], Routed::Answer(a) if message(&a.body).is_response()));
    assert!(matches!(&items[1], Routed::Dispatch(d) if d.method() == "tools/list"));
    assert!(matches!(&items[2], Routed::Accepted(a) if a.notification.is_some()));
    let Routed::Answer(init) = &items[3] else {
        panic!()
    };
    assert_eq!(
        message(&init.body).error_code(),
        Some(ErrorCode::INVALID_REQUEST)
    );
    let Routed::Answer(bad) = &items[4] else {
        panic!()
    };
    let bad = message(&bad.body);
    assert_eq!(bad.error_code(), Some(ErrorCode::INVALID_REQUEST));

    let mut later = Pair::new();
    later.connect("2025-06-18");
    let (rej, _) = rejected(
        later.post(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
        StatusCode::BAD_REQUEST,
        ErrorCode::INVALID_REQUEST,
    );
    assert_eq!(
        *rej.error(),
        ProtocolError::BatchNotAllowed {
            version: ProtocolVersion::V2025_06_18
        }
    );
}

#[test]
fn in_flight_limit_is_enforced_per_session() {
    let mut pair = Pair::with_config({
        let mut c = Config::new();
        c.max_in_flight_per_session(2);
        c
    });
    pair.connect("2025-06-18");
    pair.dispatch("tools/call", r#"{"name":"a"}"#);
    pair.dispatch("tools/call", r#"{"name":"b"}"#);
    let (rej, _) = rejected(
        pair.request("tools/call", r#"{"name":"c"}"#),
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::INVALID_REQUEST,
    );
    assert!(rej.retry_after().is_some());
    // ping needs no slot.
    assert!(pair.request("ping", "{}").is_ok());
}
