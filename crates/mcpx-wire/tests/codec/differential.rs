//! The differential test: mcpx-wire against a plain serde_json reference decoder, on generated
//! and hand-written nasty inputs. Where mcpx-wire is deliberately stricter or more exact, the
//! difference is named (`Difference`), never hidden.

use mcpx_wire::DecodeOptions;
use mcpx_wire::fuzzing::reference::{Difference, compare};
use proptest::prelude::*;

use crate::roundtrip_prop::{json_value, message};

fn opts(batch: bool) -> DecodeOptions {
    let mut o = DecodeOptions::default();
    o.allow_batch(batch);
    o
}

#[track_caller]
fn agree(input: &str) {
    match compare(input.as_bytes(), &opts(true)) {
        Ok(None) => {}
        other => panic!("expected agreement on {input:?}, got {other:?}"),
    }
}

#[track_caller]
fn differs(input: &str, d: Difference) {
    assert_eq!(
        compare(input.as_bytes(), &opts(true)),
        Ok(Some(d)),
        "{input:?}"
    );
}

#[test]
fn nasty_inputs_agree() {
    for input in [
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "[]",
        "{}",
        "null",
        "0",
        "\"\"",
        "[1]",
        "[[]]",
        "[{}]",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"} "#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}x"#,
        r#"{"jsonrpc":"2.0","id":"\u0000\ud83d\ude00","method":"\/p"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"\ud83d"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"\udc00x"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":"\u12"}}"#,
        r#"{"jsonrpc":"2.0","id":-0,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":1.0,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":1e2,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":[],"method":"a"}"#,
        r#"{"jsonrpc":"2.0","method":"a","params":[]}"#,
        r#"{"jsonrpc":"2.0","method":"a","params":"x"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"a":[1,2,{"b":null}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":[]}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":""}}"#,
        r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"x","data":{"d":[true]}}}"#,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":1e1,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
        r#"{"jsonrpc":"2.0 ","method":"a"}"#,
        r#"{"jsonrpc":"2\u002e0","method":"a"}"#,
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\u{7f}\"}",
        "\u{feff}{\"jsonrpc\":\"2.0\",\"method\":\"a\"}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\u{0}",
        r#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":1.5,"method":"a"},7,{"jsonrpc":"2.0","method":"b"}]"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"a"},]"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":01}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":.1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":1.}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":-}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":+1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":NaN}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"a":"\x"}}"#,
    ] {
        agree(input);
    }
}

#[test]
fn deliberate_differences_are_named() {
    // serde_json keeps the last duplicate; mcpx-wire refuses an ambiguous envelope.
    differs(
        r#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#,
        Difference::DuplicateMember,
    );
    differs(
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}"#,
        Difference::DuplicateMember,
    );
    // serde_json stops at recursion depth 128 with a parse error; mcpx-wire's own limit is -32600.
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"a","params":{{"x":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    differs(&deep, Difference::DepthLimit);
    // 1e400 is valid JSON; serde_json cannot represent it.
    differs(
        r#"{"jsonrpc":"2.0","method":"a","params":{"x":1e400}}"#,
        Difference::NumberBeyondF64,
    );
    differs(
        r#"{"jsonrpc":"2.0","id":1e400,"method":"a"}"#,
        Difference::NumberBeyondF64,
    );
    differs(
        r#"{"jsonrpc":"2.0","method":"a","x":-1e999}"#,
        Difference::NumberBeyondF64,
    );
    // Exact integer arithmetic on ids spelled with a fraction, where f64 would round.
    differs(
        r#"{"jsonrpc":"2.0","id":9223372036854775807.0,"method":"a"}"#,
        Difference::IdBeyondF64Precision,
    );
    // A fraction finer than f64 resolves at this magnitude: exactly not an integer.
    differs(
        r#"{"jsonrpc":"2.0","id":11561650777777.000378778453,"method":"a"}"#,
        Difference::IdBeyondF64Precision,
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_messages_agree(g in message(), batch in any::<bool>()) {
        let r = compare(g.text.as_bytes(), &opts(batch));
        prop_assert!(matches!(r, Ok(None) | Ok(Some(Difference::IdBeyondF64Precision))), "{:?} on {}", r, g.text);
    }

    #[test]
    fn generated_values_agree(v in json_value()) {
        // Arbitrary values as whole messages (mostly invalid envelopes) and as params.
        let r = compare(v.as_bytes(), &opts(true));
        prop_assert!(r.is_ok(), "{:?}", r);
        let wrapped = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{{"v":{v}}}}}"#);
        let r = compare(wrapped.as_bytes(), &opts(false));
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn arbitrary_bytes_agree(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let r = compare(&data, &opts(true));
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}
