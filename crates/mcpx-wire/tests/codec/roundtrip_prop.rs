//! Properties: every message kind round-trips; raw views forward byte for byte, whatever escapes,
//! unicode and number spellings they hold; arbitrary bytes never panic the decoder.

use bytes::{Bytes, BytesMut};
use mcpx_wire::{
    DecodeOptions, MessageKind, RequestId, decode, encode_message, encode_request, fuzzing,
};
use proptest::prelude::*;

/// JSON string tokens full of escapes, surrogate pairs and raw non-ASCII.
pub(crate) fn json_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 _/.-]{0,6}",
        Just(r#"\""#.to_owned()),
        Just(r"\\".to_owned()),
        Just(r"\/".to_owned()),
        Just(r"\b\f\n\r\t".to_owned()),
        Just(r"\u00e9".to_owned()),
        Just(r"\uD83D\uDE00".to_owned()),
        Just(r"\u0000".to_owned()),
        Just("é😀中".to_owned()),
        Just("\u{7f}\u{80}\u{2028}".to_owned()),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| format!("\"{}\"", p.concat()))
}

/// Number spellings JSON allows, including odd ones.
pub(crate) fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("-0".to_owned()),
        Just("0.000".to_owned()),
        Just("1E+2".to_owned()),
        Just("-1.5e-7".to_owned()),
        Just("12345678901234567890123".to_owned()),
        Just("1e308".to_owned()),
        (any::<i32>(), 0u32..6).prop_map(|(a, b)| format!("{a}.{b}0e{b}")),
    ]
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("\n\t "), Just("\r\n")]
}

/// Any JSON value as text, with varied whitespace.
pub(crate) fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        json_string(),
        json_number(),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), ws())
                .prop_map(|(v, w)| format!("[{w}{}{w}]", v.join(&format!("{w},")))),
            (prop::collection::vec(("[a-z_]{1,5}", inner), 0..5), ws()).prop_map(|(m, w)| {
                let members: Vec<String> = m
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| format!("\"{k}{i}\"{w}:{w}{v}"))
                    .collect();
                format!("{{{w}{}{w}}}", members.join(","))
            }),
        ]
    })
}

/// A JSON object as text (params, result).
pub(crate) fn json_object() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(("[a-z_]{1,6}", json_value()), 0..5),
        ws(),
    )
        .prop_map(|(m, w)| {
            let members: Vec<String> = m
                .iter()
                .enumerate()
                .map(|(i, (k, v))| format!("\"{k}{i}\"{w}:{w}{v}"))
                .collect();
            format!("{{{w}{}{w}}}", members.join(&format!("{w},{w}")))
        })
}

#[derive(Clone, Debug)]
pub(crate) enum Id {
    Int(i64),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Str(s) => s.clone(),
        }
    }
}

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        any::<i64>().prop_map(Id::Int),
        json_string().prop_map(Id::Str)
    ]
}

/// A generated message: its text and what decoding must find.
#[derive(Clone, Debug)]
pub(crate) struct Gen {
    pub(crate) text: String,
    kind: MessageKind,
    id: Option<Id>,
    method: Option<String>,
    payload: Option<String>,
}

pub(crate) fn message() -> impl Strategy<Value = Gen> {
    let method = json_string();
    let extra = prop::option::of(("x-[a-z]{1,4}", json_value()));
    (
        0u8..4,
        id(),
        method,
        prop::option::of(json_object()),
        json_value(),
        prop::num::i32::ANY,
        json_string(),
        extra,
        any::<bool>(),
        ws(),
    )
        .prop_map(|(k, id, method, obj, data, code, msg, extra, reorder, w)| {
            let mut members: Vec<String> = vec![format!("\"jsonrpc\"{w}:{w}\"2.0\"")];
            let (kind, idv, m, payload) = match k {
                0 => {
                    members.push(format!("\"id\":{}", id.text()));
                    members.push(format!("\"method\":{method}"));
                    if let Some(p) = &obj {
                        members.push(format!("\"params\":{w}{p}"));
                    }
                    (MessageKind::Request, Some(id), Some(method), obj)
                }
                1 => {
                    members.push(format!("\"method\":{method}"));
                    if let Some(p) = &obj {
                        members.push(format!("\"params\":{p}"));
                    }
                    (MessageKind::Notification, None, Some(method), obj)
                }
                2 => {
                    let r = obj.unwrap_or_else(|| "{}".to_owned());
                    members.push(format!("\"id\":{}", id.text()));
                    members.push(format!("\"result\":{w}{r}"));
                    (MessageKind::Response, Some(id), None, Some(r))
                }
                _ => {
                    members.push(format!("\"id\":{}", id.text()));
                    members.push(format!(
                        "\"error\":{{\"code\":{code},\"message\":{msg},\"data\":{w}{data}{w}}}"
                    ));
                    (MessageKind::ErrorResponse, Some(id), None, Some(data))
                }
            };
            if let Some((k, v)) = extra {
                members.push(format!("\"{k}\":{v}"));
            }
            if reorder {
                members.reverse();
            }
            Gen {
                text: format!("{w}{{{}}}{w}", members.join(&format!("{w},"))),
                kind,
                id: idv,
                method: m,
                payload,
            }
        })
}

fn decoded_str(token: &str) -> String {
    serde_json::from_str::<String>(token).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_kind_round_trips_and_views_forward_byte_for_byte(g in message()) {
        let input = Bytes::from(g.text.clone());
        let m = decode(input.clone(), &DecodeOptions::default()).map_err(|e| TestCaseError::fail(format!("{e} in {}", g.text)))?;
        prop_assert_eq!(m.kind(), g.kind);
        prop_assert_eq!(m.as_bytes(), &input);
        match &g.id {
            Some(Id::Int(i)) => prop_assert_eq!(m.id(), Some(&RequestId::from_i64(*i))),
            Some(Id::Str(s)) => prop_assert_eq!(m.id(), Some(&RequestId::from_string(&decoded_str(s)))),
            None => prop_assert!(m.id().is_none()),
        }
        prop_assert_eq!(m.method().map(str::to_owned), g.method.as_deref().map(decoded_str));
        let view = m.params_bytes().or(m.result_bytes()).or(m.error_data_bytes());
        prop_assert_eq!(view, g.payload.as_deref().map(str::as_bytes), "raw view must equal the input bytes");

        // Canonical re-encoding decodes to the same message, ids echoed as spelled.
        let mut out = BytesMut::new();
        encode_message(&mut out, &m).unwrap();
        let again = decode(out.freeze(), &DecodeOptions::default()).unwrap();
        prop_assert_eq!(&again, &m);
        if let Some(Id::Str(s)) = &g.id {
            prop_assert!(String::from_utf8_lossy(again.as_bytes()).contains(s.as_str()), "string id echoed byte for byte");
        }
        fuzzing::decode_message(&[0].iter().chain(g.text.as_bytes()).copied().collect::<Vec<_>>());
    }

    #[test]
    fn batches_round_trip(gs in prop::collection::vec(message(), 1..6)) {
        let text = format!("[{}]", gs.iter().map(|g| g.text.as_str()).collect::<Vec<_>>().join(","));
        let mut opts = DecodeOptions::default();
        opts.allow_batch(true);
        let m = decode(Bytes::from(text), &opts).unwrap();
        let items = m.batch().unwrap();
        prop_assert_eq!(items.len(), gs.len());
        for (item, g) in items.iter().zip(&gs) {
            let item = item.as_ref().unwrap();
            prop_assert_eq!(item.kind(), g.kind);
            prop_assert_eq!(item.as_bytes().as_ref(), g.text.trim_matches(|c: char| c.is_ascii_whitespace()).as_bytes());
        }
        let mut out = BytesMut::new();
        encode_message(&mut out, &m).unwrap();
        let again = decode(out.freeze(), &opts).unwrap();
        prop_assert_eq!(again.batch().unwrap(), items);
    }

    #[test]
    fn typed_encode_then_decode(params in json_object(), id in any::<i64>(), method in "[a-z/]{1,20}") {
        let value: serde_json::Value = serde_json::from_str(&params).unwrap();
        let mut out = BytesMut::new();
        encode_request(&mut out, &RequestId::from_i64(id), &method, &value).unwrap();
        let m = decode(out.freeze(), &DecodeOptions::default()).unwrap();
        prop_assert_eq!(m.method(), Some(method.as_str()));
        prop_assert_eq!(m.params_as::<serde_json::Value>().unwrap().unwrap(), value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::decode_message(&data);
        fuzzing::typed_views(&data);
    }

    #[test]
    fn mutated_messages_never_panic(g in message(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut bytes = g.text.into_bytes();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] = byte }
        let mut data = vec![1u8];
        data.extend_from_slice(&bytes);
        fuzzing::decode_message(&data);
        fuzzing::decode_differential(&data);
    }
}
