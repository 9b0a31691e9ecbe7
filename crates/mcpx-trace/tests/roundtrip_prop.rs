//! Property: any event written reads back equal (keys, headers, verbatim `msg` with escapes),
//! and a trace cut anywhere in its last line reads as its complete lines.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use mcpx_trace::{Dir, Event, Header, Headers, Kind, Reader, Writer};
use proptest::prelude::*;
use serde_json::value::RawValue;

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Req),
        Just(Kind::Resp),
        Just(Kind::Head),
        Just(Kind::Sse),
        Just(Kind::End),
        Just(Kind::Err),
    ]
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        ".{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just(r#""a\"b\\c\u00e9\n""#.to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-z_]{1,6}", inner), 0..4).prop_map(|v| {
                let m: Vec<String> = v
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", m.join(","))
            }),
        ]
    })
}

prop_compose! {
    fn event()(
        dt in 0u64..1_000_000,
        u in "[a-z0-9]{1,5}",
        s in proptest::option::of("[a-z0-9]{1,5}"),
        x in proptest::option::of(1u64..1000),
        c2s in any::<bool>(),
        k in kind(),
        status in proptest::option::of(100u16..600),
        hdr in prop::collection::vec(("[a-z-]{1,10}", ".{0,10}"), 0..3),
        msg in proptest::option::of(json_value()),
        bytes in proptest::option::of(any::<u64>()),
        sse in proptest::option::of(".{0,5}"),
    ) -> (u64, Event) {
        let mut e = Event::new(0, u, if c2s { Dir::C2s } else { Dir::S2c }, k);
        e.s = s;
        e.x = x;
        if k == Kind::Req && x.is_some() {
            e.http = Some("POST".into());
        }
        if matches!(k, Kind::Resp | Kind::Head) && x.is_some() {
            e.status = Some(status.unwrap_or(200));
        } else {
            e.status = status;
        }
        let mut h = Headers::default();
        for (k, v) in hdr {
            h.set(&k, v);
        }
        // The reader returns headers sorted by name.
        h.0.sort();
        e.hdr = h;
        e.msg = msg.map(|m| RawValue::from_string(m).unwrap());
        e.bytes = bytes;
        e.sse = sse;
        (dt, e)
    }
}

proptest! {
    #[test]
    fn write_then_read(evs in prop::collection::vec(event(), 0..12), cut in 1usize..40) {
        let header = Header::new("2026-11-20T09:30:00.000000Z", "session");
        let mut w = Writer::new(Vec::new(), &header).unwrap();
        let mut t = 0;
        let mut events = Vec::new();
        for (dt, mut e) in evs {
            t += dt;
            e.t = t;
            w.write_event(&e).unwrap();
            events.push(e);
        }
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes[..]).unwrap();
        prop_assert_eq!(r.header(), Some(&header));
        let back = r.read_all().unwrap();
        prop_assert_eq!(&back, &events);
        // Cut inside the last line: the complete lines read, the rest counts as truncated.
        if let Some(last) = events.last() {
            let line = serde_json::to_vec(last).unwrap();
            let keep = bytes.len() - 1 - line.len() + cut.min(line.len() - 1);
            let mut r = Reader::new(&bytes[..keep]).unwrap();
            let back = r.read_all().unwrap();
            prop_assert_eq!(back.len(), events.len() - 1);
            prop_assert!(r.truncated());
        }
    }
}

proptest! {
    /// Untrusted input never panics the reader: any bytes after a valid header give events or
    /// an error naming a line.
    #[test]
    fn reader_never_panics(lines in prop::collection::vec(prop_oneof![
        ".{0,60}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..60),
        json_value().prop_map(String::into_bytes),
        Just(br#"{"t":1,"u":"a","d":"c2s","k":"req","http":"POST","x":1}"#.to_vec()),
    ], 0..8)) {
        let mut text = br#"{"format":"mcpx-trace/1","start":"s","transport":"stdio","group":"session"}"#.to_vec();
        for l in lines {
            text.push(b'\n');
            text.extend_from_slice(&l);
        }
        if let Ok(mut r) = Reader::new(&text[..]) {
            match r.read_all() {
                Ok(_) => {}
                Err(e) => prop_assert!(e.line >= 2, "{e}"),
            }
        }
    }

    /// Redaction keeps a message valid JSON and changes nothing outside the redacted values;
    /// filling the markers back never panics and keeps it valid.
    #[test]
    fn redaction_keeps_json_valid(args in json_value(), secret in json_value()) {
        let msg = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{{"a":{args},"api_key":{secret},"n":[{{"password":{secret}}}]}},"_meta":{{"progressToken":1}}}}}}"#
        );
        let out = mcpx_trace::redact::message(&msg, mcpx_trace::redact::Redact::default()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        prop_assert!(v["params"]["arguments"]["api_key"]["$redacted"]["bytes"].is_u64());
        prop_assert_eq!(&v["params"]["_meta"]["progressToken"], &serde_json::json!(1));
        let filled = mcpx_trace::redact::fill(&out).unwrap_or(out);
        serde_json::from_str::<serde_json::Value>(&filled).unwrap();
    }
}
