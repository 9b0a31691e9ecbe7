//! Request bodies written straight into a `BytesMut`: the JSON-RPC envelope by hand, the caller's
//! params spliced in byte for byte, `_meta` (progress token, 2026-07-28 keys) merged in front.
//! Also the 2026-07-28 header value encoding (`Mcp-Name`).

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;
use mcpx_wire::RawJson;

use crate::error::Error;

/// A raw view of a constant known to be valid JSON.
pub(crate) fn raw_static(json: &'static [u8]) -> RawJson {
    match RawJson::from_bytes(Bytes::from_static(json)) {
        Ok(raw) => raw,
        // Only called with literal, valid JSON: no input reaches this.
        Err(e) => unreachable!("invalid JSON constant: {e}"),
    }
}

/// Extra top-level members of `params` (2026-07-28 retries: `inputResponses`, `requestState`).
pub(crate) struct Extra<'a> {
    pub(crate) name: &'static str,
    /// A complete JSON value.
    pub(crate) value: &'a [u8],
}

/// What goes into `params._meta` besides the caller's params.
#[derive(Clone, Copy, Default)]
pub(crate) struct Meta<'a> {
    /// `progressToken` (we use the request id, unique within the session).
    pub(crate) progress_token: Option<i64>,
    /// The 2026-07-28 members, pre-encoded once per session (`"key":value,...`, no braces).
    pub(crate) era: Option<&'a [u8]>,
    /// The caller's own members (`RequestBuilder::meta_entry`): key, raw JSON value.
    pub(crate) entries: &'a [(String, Bytes)],
}

/// The inside of a JSON object's braces, or an error if `params` is not an object.
fn object_inner(params: &[u8]) -> Result<&[u8], Error> {
    let t = params.trim_ascii();
    match (t.first(), t.last()) {
        (Some(b'{'), Some(b'}')) if t.len() >= 2 => Ok(t.get(1..t.len() - 1).unwrap_or_default()),
        _ => Err(Error::InvalidArgument(
            "params must be a JSON object".into(),
        )),
    }
}

/// A request's params as the caller gave them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params<'a> {
    /// A JSON object, spliced in (its members beside the client's).
    Object(&'a [u8]),
    /// `tools/call`'s `{"name":NAME,"arguments":ARGUMENTS}`, written straight into the message
    /// (`arguments` a validated JSON value): not assembled in a buffer of its own first.
    Tool { name: &'a str, arguments: &'a [u8] },
}

/// `{"jsonrpc":"2.0","id":ID,"method":METHOD,"params":{...}}` (or a notification when `id` is
/// `None`). Allocation: only `buf`'s growth.
pub(crate) fn write_message(
    buf: &mut BytesMut,
    id: Option<i64>,
    method: &str,
    params: Option<Params<'_>>,
    meta: Meta<'_>,
    extra: &[Extra<'_>],
) -> Result<(), Error> {
    let (inner, tool) = match params {
        None => (None, None),
        Some(Params::Object(p)) => (Some(object_inner(p)?), None),
        Some(Params::Tool { name, arguments }) => (None, Some((name, arguments))),
    };
    let inner = inner.map(<[u8]>::trim_ascii).filter(|i| !i.is_empty());
    let tool_len = tool.map_or(0, |(n, a)| n.len() + a.len() + 24);
    buf.reserve(
        64 + method.len()
            + inner.map_or(0, <[u8]>::len)
            + tool_len
            + meta.era.map_or(0, <[u8]>::len),
    );
    buf.put_slice(br#"{"jsonrpc":"2.0","#);
    if let Some(id) = id {
        buf.put_slice(br#""id":"#);
        put_i64(buf, id);
        buf.put_u8(b',');
    }
    buf.put_slice(br#""method":"#);
    put_str(buf, method);
    let has_meta = meta.progress_token.is_some() || meta.era.is_some() || !meta.entries.is_empty();
    if inner.is_some() || tool.is_some() || has_meta || !extra.is_empty() {
        buf.put_slice(br#","params":{"#);
        let mut first = true;
        if has_meta {
            buf.put_slice(br#""_meta":{"#);
            let mut first_member = true;
            if let Some(token) = meta.progress_token {
                buf.put_slice(br#""progressToken":"#);
                put_i64(buf, token);
                first_member = false;
            }
            if let Some(era) = meta.era {
                if !first_member {
                    buf.put_u8(b',');
                }
                buf.put_slice(era);
                first_member = false;
            }
            for (key, value) in meta.entries {
                if !first_member {
                    buf.put_u8(b',');
                }
                put_str(buf, key);
                buf.put_u8(b':');
                buf.put_slice(value);
                first_member = false;
            }
            buf.put_u8(b'}');
            first = false;
        }
        for e in extra {
            if !first {
                buf.put_u8(b',');
            }
            first = false;
            put_str(buf, e.name);
            buf.put_u8(b':');
            buf.put_slice(e.value);
        }
        if let Some(inner) = inner {
            if !first {
                buf.put_u8(b',');
            }
            buf.put_slice(inner);
        }
        if let Some((name, arguments)) = tool {
            if !first {
                buf.put_u8(b',');
            }
            buf.put_slice(br#""name":"#);
            put_str(buf, name);
            buf.put_slice(br#","arguments":"#);
            buf.put_slice(arguments);
        }
        buf.put_u8(b'}');
    }
    buf.put_u8(b'}');
    Ok(())
}

/// Integers and JSON strings are written by mcpx-wire's encoders (no allocation, the same
/// escaping as the codec's).
pub(crate) use mcpx_wire::{write_i64 as put_i64, write_json_str as put_str};

/// A JSON string token for `s`.
pub(crate) fn json_string(s: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(s.len() + 2);
    put_str(&mut buf, s);
    buf.freeze()
}

/// The `Mcp-Name` / `Mcp-Param-*` value encoding (MCP-DIGEST 3.8): plain when it is safe as a
/// header value, else `=?base64?...?=`.
pub(crate) fn header_value(value: &str) -> Result<HeaderValue, Error> {
    let safe = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.starts_with("=?base64?");
    let v = if safe {
        HeaderValue::from_str(value)
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        HeaderValue::from_str(&format!("=?base64?{b64}?="))
    };
    v.map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// `params.name` (tools/call, prompts/get) or `params.uri` (resources/read), for `Mcp-Name`.
pub(crate) fn name_of(method: &str, params: Option<&[u8]>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct View<'a> {
        #[serde(borrow, default)]
        name: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        uri: Option<std::borrow::Cow<'a, str>>,
    }
    use mcpx_wire::mcp::method as m;
    let params = params?;
    let view: View<'_> = serde_json::from_slice(params).ok()?;
    match method {
        m::TOOLS_CALL | m::PROMPTS_GET => view.name.map(|c| c.into_owned()),
        m::RESOURCES_READ => view.uri.map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether the method carries `Mcp-Name`.
pub(crate) fn has_name(method: &str) -> bool {
    use mcpx_wire::mcp::method as m;
    matches!(method, m::TOOLS_CALL | m::PROMPTS_GET | m::RESOURCES_READ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(
        id: Option<i64>,
        method: &str,
        params: Option<&[u8]>,
        meta: Meta<'_>,
        extra: &[Extra<'_>],
    ) -> String {
        let mut buf = BytesMut::new();
        write_message(
            &mut buf,
            id,
            method,
            params.map(Params::Object),
            meta,
            extra,
        )
        .unwrap();
        let s = String::from_utf8(buf.to_vec()).unwrap();
        let _: serde_json::Value = serde_json::from_str(&s).unwrap();
        s
    }

    #[test]
    fn tool_params_written_in_place_equal_the_object() {
        let era = br#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#;
        let value = Bytes::from_static(b"\"v\"");
        let extra = [Extra {
            name: "requestState",
            value: &value,
        }];
        for (meta, extra) in [
            (Meta::default(), &[][..]),
            (
                Meta {
                    progress_token: Some(7),
                    era: Some(era),
                    entries: &[],
                },
                &extra[..],
            ),
        ] {
            let mut a = BytesMut::new();
            write_message(
                &mut a,
                Some(7),
                "tools/call",
                Some(Params::Object(
                    br#"{"name":"a\"b","arguments":{"x":[1,2]}}"#,
                )),
                meta,
                extra,
            )
            .unwrap();
            let mut b = BytesMut::new();
            write_message(
                &mut b,
                Some(7),
                "tools/call",
                Some(Params::Tool {
                    name: "a\"b",
                    arguments: br#"{"x":[1,2]}"#,
                }),
                meta,
                extra,
            )
            .unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn request_shapes() {
        assert_eq!(
            enc(Some(1), "ping", None, Meta::default(), &[]),
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
        );
        assert_eq!(
            enc(
                Some(-42),
                "tools/call",
                Some(br#" {"name":"x"} "#),
                Meta {
                    progress_token: Some(-42),
                    era: None,
                    entries: &[],
                },
                &[]
            ),
            r#"{"jsonrpc":"2.0","id":-42,"method":"tools/call","params":{"_meta":{"progressToken":-42},"name":"x"}}"#
        );
        assert_eq!(
            enc(
                None,
                "notifications/initialized",
                Some(b"{ }"),
                Meta::default(),
                &[]
            ),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        );
        let era = br#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#;
        assert_eq!(
            enc(
                Some(0),
                "tools/call",
                Some(br#"{"name":"x"}"#),
                Meta {
                    progress_token: Some(0),
                    era: Some(era),
                    entries: &[],
                },
                &[Extra {
                    name: "requestState",
                    value: br#""s""#
                }]
            ),
            r#"{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"_meta":{"progressToken":0,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"requestState":"s","name":"x"}}"#
        );
        let mut buf = BytesMut::new();
        assert!(
            write_message(
                &mut buf,
                Some(1),
                "x",
                Some(Params::Object(b"[1]")),
                Meta::default(),
                &[]
            )
            .is_err()
        );
        // The caller's own `_meta` members join the client's in one object.
        let entries = [(
            "claudecode/toolUseId".to_owned(),
            Bytes::from_static(br#""toolu_01""#),
        )];
        for (token, era) in [(None, None), (Some(3), None), (Some(3), Some(&era[..]))] {
            let out = enc(
                Some(3),
                "tools/call",
                Some(br#"{"name":"x"}"#),
                Meta {
                    progress_token: token,
                    era,
                    entries: &entries,
                },
                &[],
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(
                v["params"]["_meta"]["claudecode/toolUseId"], "toolu_01",
                "{out}"
            );
            assert_eq!(v["params"]["name"], "x");
        }
    }

    #[test]
    fn header_values() {
        assert_eq!(header_value("echo").unwrap(), "echo");
        assert_eq!(header_value("héllo").unwrap(), "=?base64?aMOpbGxv?=");
        assert_eq!(header_value(" x").unwrap(), "=?base64?IHg=?=");
        assert_eq!(
            name_of("resources/read", Some(br#"{"uri":"a://b"}"#)).as_deref(),
            Some("a://b")
        );
        assert_eq!(
            name_of(
                "tools/call",
                Some(br#"{"name":"t","arguments":{"name":"no"}}"#)
            )
            .as_deref(),
            Some("t")
        );
    }
}
