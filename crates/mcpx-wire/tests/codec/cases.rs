//! Hand-written decode and encode cases: every rule, with its exact error and recovered id.

use bytes::{Bytes, BytesMut};
use mcpx_wire::{
    DecodeErrorKind as K, DecodeOptions, ErrorCode, Member, MessageKind, MissingId, RawJson,
    RequestId, decode, encode_error, encode_notification_raw, encode_request, encode_result,
    encode_result_raw,
};

fn dec(s: &str) -> Result<mcpx_wire::Message, mcpx_wire::DecodeError> {
    decode(
        Bytes::copy_from_slice(s.as_bytes()),
        &DecodeOptions::default(),
    )
}

fn batch_opts() -> DecodeOptions {
    let mut o = DecodeOptions::default();
    o.allow_batch(true);
    o
}

#[track_caller]
fn rejects(s: &str, kind: K, id: Option<RequestId>) {
    match dec(s) {
        Ok(m) => panic!("accepted {s}: {m:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{s}");
            assert_eq!(e.id(), id.as_ref(), "recovered id for {s}");
        }
    }
}

#[test]
fn request_notification_response_error() {
    let m = dec(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#).unwrap();
    assert_eq!(m.kind(), MessageKind::Request);
    assert_eq!(m.id(), Some(&RequestId::from_i64(1)));
    assert_eq!(m.method(), Some("tools/call"));
    assert_eq!(m.params_bytes(), Some(&br#"{"name":"x"}"#[..]));

    let m = dec(r#" {"method":"notifications/initialized","jsonrpc":"2.0"} "#).unwrap();
    assert_eq!(m.kind(), MessageKind::Notification);
    assert!(m.id().is_none() && m.params().is_none());

    let m = dec(r#"{"jsonrpc":"2.0","id":"abc","result":{}}"#).unwrap();
    assert_eq!(m.kind(), MessageKind::Response);
    assert_eq!(m.id(), Some(&RequestId::from_string("abc")));
    assert_eq!(m.result().unwrap().as_bytes(), b"{}");

    let m = dec(r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no \"such\" method","data":[1,{"a":null}]}}"#).unwrap();
    assert_eq!(m.kind(), MessageKind::ErrorResponse);
    assert_eq!(m.error_code(), Some(ErrorCode::METHOD_NOT_FOUND));
    assert_eq!(m.error_message(), Some("no \"such\" method"));
    assert_eq!(m.error_data_bytes(), Some(&br#"[1,{"a":null}]"#[..]));

    // Error responses may have a null or absent id.
    for s in [
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
        r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}"#,
    ] {
        let m = dec(s).unwrap();
        assert!(m.is_error_response() && m.id().is_none(), "{s}");
    }
}

#[test]
fn ids_keep_kind_value_and_spelling() {
    let int = dec(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
    let s = dec(r#"{"jsonrpc":"2.0","id":"1","method":"ping"}"#).unwrap();
    assert_ne!(int.id(), s.id(), "1 and \"1\" are different ids");
    let esc = dec(r#"{"jsonrpc":"2.0","id":"\u0031","method":"ping"}"#).unwrap();
    assert_eq!(s.id(), esc.id(), "escapes do not change the value");
    let float = dec(r#"{"jsonrpc":"2.0","id":1.0,"method":"ping"}"#).unwrap();
    assert_eq!(float.id(), int.id(), "1.0 is the integer 1");
    // ... and is echoed as spelled.
    let mut out = BytesMut::new();
    encode_result(&mut out, float.id().unwrap(), &serde_json::json!({})).unwrap();
    assert_eq!(&out[..], br#"{"jsonrpc":"2.0","id":1.0,"result":{}}"#);
    let mut out = BytesMut::new();
    encode_result(&mut out, esc.id().unwrap(), &serde_json::json!({})).unwrap();
    assert_eq!(&out[..], br#"{"jsonrpc":"2.0","id":"\u0031","result":{}}"#);
    let big = dec(r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}"#).unwrap();
    assert_eq!(big.id().unwrap().as_i64(), Some(i64::MIN));
}

#[test]
fn parse_errors_are_32700_without_id() {
    for (s, kind) in [
        ("", K::UnexpectedEnd),
        ("   ", K::UnexpectedEnd),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping""#,
            K::UnexpectedEnd,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#,
            K::TrailingCharacters,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}{}"#,
            K::TrailingCharacters,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"\ud800"}"#,
            K::LoneSurrogate,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"a\qb"}"#,
            K::InvalidEscape,
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\tb\"}",
            K::ControlCharacter,
        ),
        (
            r#"{"jsonrpc":"2.0","id":01,"method":"ping"}"#,
            K::UnexpectedByte,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping",}"#,
            K::UnexpectedByte,
        ),
        (r#"{'jsonrpc':'2.0'}"#, K::UnexpectedByte),
        // An invalid envelope does not hide a later parse error.
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"ping","params":{"a":tru}}"#,
            K::UnexpectedByte,
        ),
    ] {
        rejects(s, kind, None);
        assert_eq!(kind.code(), ErrorCode::PARSE_ERROR);
    }
    let e = decode(
        Bytes::from_static(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), K::InvalidUtf8);
    assert_eq!(e.code(), ErrorCode::PARSE_ERROR);
}

#[test]
fn invalid_requests_are_32600_with_recovered_id() {
    let id7 = Some(RequestId::from_i64(7));
    for (s, kind, id) in [
        (
            r#"{"id":7,"method":"ping"}"#,
            K::MissingMember {
                member: Member::Jsonrpc,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
            K::WrongJsonrpcVersion,
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":2.0,"id":7,"method":"ping"}"#,
            K::WrongType {
                member: Member::Jsonrpc,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":1}"#,
            K::WrongType {
                member: Member::Method,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"m","params":[1]}"#,
            K::WrongType {
                member: Member::Params,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"m","params":null}"#,
            K::WrongType {
                member: Member::Params,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"result":1}"#,
            K::WrongType {
                member: Member::Result,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":"x"}"#,
            K::WrongType {
                member: Member::Error,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"m"}}"#,
            K::ResultAndError,
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"m","result":{}}"#,
            K::MethodAndResponse,
            id7.clone(),
        ),
        (r#"{"jsonrpc":"2.0","id":7}"#, K::NotAMessage, id7.clone()),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":{"message":"m"}}"#,
            K::MissingMember {
                member: Member::ErrorCode,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":1}}"#,
            K::MissingMember {
                member: Member::ErrorMessage,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":1.5,"message":"m"}}"#,
            K::ErrorCodeOutOfRange,
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":2147483648,"message":"m"}}"#,
            K::ErrorCodeOutOfRange,
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"m","method":"n"}"#,
            K::DuplicateMember {
                member: Member::Method,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"m","x":1,"x":2}"#,
            K::DuplicateMember {
                member: Member::Other,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"code":2,"message":"m"}}"#,
            K::DuplicateMember {
                member: Member::ErrorCode,
            },
            id7.clone(),
        ),
        (
            r#"{"jsonrpc":"2.0","\u006dethod":"m","id":7,"method":"n"}"#,
            K::DuplicateMember {
                member: Member::Method,
            },
            id7.clone(),
        ),
        // Unreadable or ambiguous ids are not recovered.
        (
            r#"{"jsonrpc":"2.0","id":7,"id":8,"method":"m"}"#,
            K::DuplicateMember { member: Member::Id },
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            K::NullId,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"result":{}}"#,
            K::NullId,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","result":{}}"#,
            K::MissingMember { member: Member::Id },
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
            K::WrongType { member: Member::Id },
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
            K::WrongType { member: Member::Id },
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
            K::IdNotInteger,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1e-3,"method":"m"}"#,
            K::IdNotInteger,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9223372036854775808,"method":"m"}"#,
            K::IdOutOfRange,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1e400,"method":"m"}"#,
            K::IdOutOfRange,
            None,
        ),
        ("[]", K::BatchNotAllowed, None),
        (
            r#"[{"jsonrpc":"2.0","method":"m"}]"#,
            K::BatchNotAllowed,
            None,
        ),
        ("1", K::NotAnObject, None),
        (r#""x""#, K::NotAnObject, None),
        ("null", K::NotAnObject, None),
    ] {
        rejects(s, kind, id);
        assert_eq!(kind.code(), ErrorCode::INVALID_REQUEST, "{s}");
    }
    // String ids are recovered too.
    rejects(
        r#"{"jsonrpc":"2.0","id":"a","method":5}"#,
        K::WrongType {
            member: Member::Method,
        },
        Some(RequestId::from_string("a")),
    );
}

#[test]
fn unknown_members_pass_through() {
    let s = r#"{"jsonrpc":"2.0","id":1,"method":"x/y","params":{"_meta":{"k":1},"zz":[]},"extension":{"a":1}}"#;
    let m = dec(s).unwrap();
    assert_eq!(m.method(), Some("x/y"));
    assert_eq!(m.as_bytes().as_ref(), s.as_bytes());
    assert_eq!(m.params_bytes(), Some(&br#"{"_meta":{"k":1},"zz":[]}"#[..]));
}

#[test]
fn batches() {
    let s = r#"[{"jsonrpc":"2.0","id":1,"method":"a"}, 5, {"jsonrpc":"2.0","method":"b"}, {"jsonrpc":"2.0","id":2,"method":3}]"#;
    let m = decode(Bytes::copy_from_slice(s.as_bytes()), &batch_opts()).unwrap();
    let items = m.batch().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0].as_ref().unwrap().method(), Some("a"));
    assert_eq!(
        items[0].as_ref().unwrap().as_bytes().as_ref(),
        br#"{"jsonrpc":"2.0","id":1,"method":"a"}"#
    );
    assert_eq!(items[1].as_ref().unwrap_err().kind(), K::NotAnObject);
    assert!(items[2].as_ref().unwrap().is_notification());
    let e = items[3].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.id()),
        (
            K::WrongType {
                member: Member::Method
            },
            Some(&RequestId::from_i64(2))
        )
    );

    let e = decode(Bytes::from_static(b"[ ]"), &batch_opts()).unwrap_err();
    assert_eq!(e.kind(), K::EmptyBatch);
    let mut o = batch_opts();
    o.max_batch_len(2);
    let e = decode(Bytes::from_static(br#"[{},{},{}]"#), &o).unwrap_err();
    assert_eq!(e.kind(), K::BatchTooLong { limit: 2 });
    // Nested batches are invalid members; a parse error anywhere fails the whole batch.
    let m = decode(
        Bytes::from_static(br#"[[{"jsonrpc":"2.0","method":"a"}]]"#),
        &batch_opts(),
    )
    .unwrap();
    assert_eq!(
        m.batch().unwrap()[0].as_ref().unwrap_err().kind(),
        K::NotAnObject
    );
    let e = decode(
        Bytes::from_static(br#"[{"jsonrpc":"2.0","method":"a"}, {]"#),
        &batch_opts(),
    )
    .unwrap_err();
    assert!(e.kind().is_parse_error());
}

#[test]
fn limits_are_clear_errors() {
    let mut o = DecodeOptions::default();
    o.max_message_bytes(16);
    let e = decode(
        Bytes::from_static(br#"{"jsonrpc":"2.0","method":"ping"}"#),
        &o,
    )
    .unwrap_err();
    assert_eq!(e.kind(), K::TooLarge { limit: 16 });
    // Depth: the envelope is level 1, params level 2.
    let mut o = DecodeOptions::default();
    o.max_depth(3);
    assert!(
        decode(
            Bytes::from_static(br#"{"jsonrpc":"2.0","method":"m","params":{"a":[]}}"#),
            &o
        )
        .is_ok()
    );
    let e = decode(
        Bytes::from_static(br#"{"jsonrpc":"2.0","id":3,"method":"m","params":{"a":[[]]}}"#),
        &o,
    )
    .unwrap_err();
    assert_eq!(e.kind(), K::TooDeep { limit: 3 });
    // A million nested arrays: an error, not a stack overflow.
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"m","params":{{"a":{}}}}}"#,
        "[".repeat(1_000_000)
    );
    let e = decode(Bytes::from(deep), &DecodeOptions::default()).unwrap_err();
    assert_eq!(
        e.kind(),
        K::TooDeep {
            limit: mcpx_wire::limits::DEFAULT_MAX_DEPTH
        }
    );
}

#[test]
fn encoders_write_exact_bytes() {
    let mut b = BytesMut::new();
    encode_request(
        &mut b,
        &RequestId::from_string("r\"1"),
        "tools/call",
        &serde_json::json!({"name":"echo"}),
    )
    .unwrap();
    assert_eq!(
        &b[..],
        br#"{"jsonrpc":"2.0","id":"r\"1","method":"tools/call","params":{"name":"echo"}}"#
    );
    b.clear();
    encode_notification_raw(&mut b, "notifications/initialized", None).unwrap();
    assert_eq!(
        &b[..],
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
    );
    b.clear();
    let raw =
        RawJson::from_bytes(Bytes::from_static(br#"{ "content" : [ ] , "x":"\u00e9" }"#)).unwrap();
    encode_result_raw(&mut b, &RequestId::from_i64(-3), &raw).unwrap();
    assert_eq!(
        &b[..],
        br#"{"jsonrpc":"2.0","id":-3,"result":{ "content" : [ ] , "x":"\u00e9" }}"#
    );
    b.clear();
    encode_error(
        &mut b,
        None,
        MissingId::Null,
        ErrorCode::PARSE_ERROR,
        "Parse error",
        None::<&()>,
    )
    .unwrap();
    assert_eq!(
        &b[..],
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
    );
    b.clear();
    encode_error(
        &mut b,
        None,
        MissingId::Omit,
        ErrorCode::INVALID_REQUEST,
        "bad",
        Some(&raw),
    )
    .unwrap();
    assert_eq!(&b[..], br#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"bad","data":{ "content" : [ ] , "x":"\u00e9" }}}"#);
    // A payload that is not an object is refused and leaves the buffer as it was.
    b.clear();
    b.extend_from_slice(b"prefix");
    assert!(encode_result(&mut b, &RequestId::from_i64(1), &5).is_err());
    assert_eq!(&b[..], b"prefix");
    let not_obj = RawJson::from_bytes(Bytes::from_static(b"[1]")).unwrap();
    assert!(encode_result_raw(&mut b, &RequestId::from_i64(1), &not_obj).is_err());
    assert_eq!(&b[..], b"prefix");
}

#[test]
fn raw_views_outlive_the_read_buffer() {
    let mut read_buf =
        BytesMut::from(&br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"k":"v"}}"#[..]);
    let m = mcpx_wire::decode_from(&mut read_buf, &DecodeOptions::default()).unwrap();
    let params = m.params().unwrap();
    drop(m);
    read_buf.extend_from_slice(b"unrelated bytes reuse the buffer");
    drop(read_buf);
    assert_eq!(params.as_bytes(), br#"{"k":"v"}"#);
    #[derive(serde::Deserialize)]
    struct P<'a> {
        k: &'a str,
    }
    assert_eq!(params.deserialize::<P<'_>>().unwrap().k, "v");
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<mcpx_wire::Message>();
    check::<mcpx_wire::RawJson>();
    check::<mcpx_wire::RequestId>();
    check::<mcpx_wire::DecodeError>();
    check::<mcpx_wire::DecodeOptions>();
    check::<mcpx_wire::EncodeError>();
    check::<mcpx_wire::sse::SseDecoder>();
    check::<mcpx_wire::sse::SseEvent>();
    check::<mcpx_wire::stdio::LineFramer>();
}
