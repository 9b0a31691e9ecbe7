//! `RawJson::member` and `RawJson::as_string` agree with serde_json on every object the
//! generators make: keys with escapes, repeated keys (the last wins), nested values.

use bytes::Bytes;
use mcpx_wire::RawJson;
use proptest::prelude::*;

use crate::roundtrip_prop::{json_string, json_value};

proptest! {
    #[test]
    fn member_agrees_with_serde_json(
        members in prop::collection::vec((json_string(), json_value()), 0..6),
        probe in json_string(),
    ) {
        let body = format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!("{k} : {v}"))
                .collect::<Vec<_>>()
                .join(" ,\n")
        );
        let raw = RawJson::from_bytes(Bytes::from(body.clone())).unwrap();
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&body).unwrap();
        let mut keys: Vec<String> = members
            .iter()
            .map(|(k, _)| serde_json::from_str::<String>(k).unwrap())
            .collect();
        keys.push(serde_json::from_str::<String>(&probe).unwrap());
        for key in keys {
            let ours = raw
                .member(&key)
                .map(|v| serde_json::from_slice::<serde_json::Value>(v.as_bytes()).unwrap());
            prop_assert_eq!(ours.as_ref(), parsed.get(&key), "key {:?} in {}", key, body);
            let [a, b] = raw.members([key.as_str(), "zz"]);
            prop_assert_eq!(a.map(|v| v.into_bytes()), raw.member(&key).map(|v| v.into_bytes()));
            prop_assert_eq!(b.map(|v| v.into_bytes()), raw.member("zz").map(|v| v.into_bytes()));
            if let Some(serde_json::Value::String(s)) = parsed.get(&key) {
                let member = raw.member(&key).unwrap();
                let text = member.as_string();
                prop_assert_eq!(text.as_deref(), Some(s.as_str()));
            }
        }
    }
}

#[test]
fn member_edge_cases() {
    let raw = |s: &'static str| RawJson::from_bytes(Bytes::from_static(s.as_bytes())).unwrap();
    assert!(raw("{}").member("a").is_none());
    assert!(raw("[1,2]").member("a").is_none());
    assert!(raw("\"a\"").member("a").is_none());
    let obj = raw(r#" { "name" : "echo" , "arguments" : {"text":"hi"} } "#);
    assert_eq!(obj.member("name").unwrap().as_string().unwrap(), "echo");
    assert_eq!(
        obj.member("arguments").unwrap().as_bytes(),
        br#"{"text":"hi"}"#
    );
    assert!(obj.member("missing").is_none());
    let escaped = raw(r#"{"n\u0061me":"a\nb"}"#);
    assert_eq!(escaped.member("name").unwrap().as_string().unwrap(), "a\nb");
    assert!(raw("{\"a\":1}").member("a").unwrap().as_string().is_none());
    let [n, a, m] = obj.members(["name", "arguments", "missing"]);
    assert_eq!(n.unwrap().as_bytes(), br#""echo""#);
    assert_eq!(a.unwrap().as_bytes(), br#"{"text":"hi"}"#);
    assert!(m.is_none());
}
