//! HTTP request classification inputs and header rules (MCP-DIGEST 3, 13.2), over `http` types.
//!
//! The table ([`SessionTable::handle_request`](crate::SessionTable::handle_request)) runs the
//! checks in this order, so each request gets exactly one rejection, the first that applies:
//!
//! | # | check | rejection |
//! |---|---|---|
//! | 1 | path is the endpoint | 404 / -32600 [`NotFound`](crate::ProtocolError::NotFound) |
//! | 2 | header bytes within the limit | 431 / -32600 |
//! | 3 | a present `Host`, then a present `Origin`, is allowed | 403 / -32600 |
//! | 4 | method is POST, GET or DELETE | 405 / -32600 |
//! | 5 | POST: declared `Content-Length` within the limit (before reading) | 413 / -32600 |
//! | 6 | POST: `Content-Type: application/json` | 415 / -32600 |
//! | 7 | `Accept` lists JSON and SSE (POST) or SSE (GET) | 406 / -32600 |
//! | 8 | POST: body within the limit | 413 / -32600 |
//! | 9 | `Mcp-Session-Id` / `MCP-Protocol-Version` appear at most once | 400 / -32600 |
//! | 10 | `Mcp-Session-Id` names a live session | 404 / -32600 |
//! | 11 | `MCP-Protocol-Version` supported and equal to the session's | 400 / -32600 |
//! | 12 | body is JSON (-32700) and a message (-32600); batch only in 2025-03-26 | 400 |
//! | 13 | session era: a session id unless `initialize` | 400 / -32600 |
//! | 14 | stateless: `_meta` version supported, headers match, `_meta` complete | 400 / -32022, -32020, -32602 |
//! | 15 | stateless: the method exists | 404 / -32601 |
//! | 16 | session: lifecycle, duplicate id, limits | 400 / 409 / 429 / 503 |

use std::borrow::Cow;

use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, ORIGIN};
use http::{HeaderMap, HeaderValue, Method};
use mcpx_wire::Message;
use mcpx_wire::mcp::{Json, method};
use serde::Deserialize;

use crate::ProtocolError;
use crate::config::Config;

/// `Mcp-Session-Id` (case-insensitive; written `MCP-Session-Id` in 2025-11-25).
pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
/// `MCP-Protocol-Version`.
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// `Mcp-Method` (2026-07-28).
pub const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// `Mcp-Name` (2026-07-28).
pub const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
/// `Last-Event-ID`.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// The head of one HTTP request, borrowed from the server's request: all the core needs to
/// classify it (the body is passed separately).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The request path (without query).
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    /// A head from its parts.
    pub fn new(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            path,
            headers,
        }
    }

    /// A head from an `http::Request` (or `http::request::Parts`) a server already has.
    pub fn from_request<B>(req: &'a http::Request<B>) -> Self {
        Self::new(req.method(), req.uri().path(), req.headers())
    }
}

/// The header checks that need no session state: rows 2..8 of the module table (row 1 and the
/// body limit are applied by the table, which knows the body).
pub(crate) fn check_transport(
    head: &RequestHead<'_>,
    config: &Config,
) -> Result<(), ProtocolError> {
    let header_bytes: usize = head
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if header_bytes > config.max_header_bytes {
        return Err(ProtocolError::HeadersTooLarge {
            limit: config.max_header_bytes,
        });
    }
    // HTTP/1.1 carries the host in `Host`; an HTTP/2 request without one is not checked here.
    for host in head.headers.get_all(HOST) {
        if !host.to_str().is_ok_and(|h| config.host_allowed(h)) {
            return Err(ProtocolError::BadHost);
        }
    }
    for origin in head.headers.get_all(ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| config.origin_allowed(o));
        if !ok {
            return Err(ProtocolError::BadOrigin);
        }
    }
    if *head.method == Method::POST {
        if let Some(len) = content_length(head.headers)
            && len > config.max_body_bytes as u64
        {
            return Err(ProtocolError::BodyTooLarge {
                limit: config.max_body_bytes,
            });
        }
        if !is_json_content_type(head.headers) {
            return Err(ProtocolError::UnsupportedMediaType);
        }
        let accepts = accepts(head.headers);
        if !(accepts.json && accepts.sse) {
            return Err(ProtocolError::NotAcceptable);
        }
    } else if *head.method == Method::GET {
        if !accepts(head.headers).sse {
            return Err(ProtocolError::NotAcceptable);
        }
    } else if *head.method != Method::DELETE {
        return Err(ProtocolError::MethodNotAllowed);
    }
    Ok(())
}

/// The declared `Content-Length`; `None` when absent or unreadable (the body check catches it).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all(CONTENT_LENGTH)
        .iter()
        .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .max()
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return false;
    };
    v.to_str().is_ok_and(|s| {
        let essence = s.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Whether some `Accept` media range covers `ty/sub` (`*/*` and `ty/*` count; `q=0` excludes).
/// What an `Accept` header allows: JSON, SSE.
#[derive(Clone, Copy, Default)]
struct Accepts {
    json: bool,
    sse: bool,
}

/// Reads every `Accept` value once for both media types (RFC 9110 12.5.1: ranges with `q=0`
/// refuse; `*/*` and `type/*` match). The exact value the official SDKs send is recognised
/// without parsing: this runs on every request.
fn accepts(headers: &HeaderMap) -> Accepts {
    let mut values = headers.get_all(ACCEPT).iter();
    if let (Some(v), None) = (values.next(), values.next())
        && matches!(
            v.as_bytes(),
            b"application/json, text/event-stream" | b"text/event-stream, application/json"
        )
    {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    let mut found = Accepts::default();
    for range in headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        let Some((t, s)) = essence.split_once('/') else {
            continue;
        };
        if refused || (t == "*" && s != "*") {
            continue;
        }
        let matches = |ty: &str, sub: &str| {
            (t == "*" || t.eq_ignore_ascii_case(ty)) && (s == "*" || s.eq_ignore_ascii_case(sub))
        };
        found.json |= matches("application", "json");
        found.sse |= matches("text", "event-stream");
    }
    found
}

/// The one value of a header that may appear at most once; `Err` when it appears twice.
pub(crate) fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    static_name: &'static str,
) -> Result<Option<&'h HeaderValue>, ProtocolError> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
        (Some(_), Some(_)) => Err(ProtocolError::DuplicateHeader { name: static_name }),
    }
}

/// Decodes an `Mcp-Name` / `Mcp-Param-*` value: as-is, or the `=?base64?...?=` sentinel form
/// (MCP-DIGEST 3.8). `None` when the value is not visible ASCII or the base64 is broken.
pub(crate) fn decode_header_value(v: &HeaderValue) -> Option<Cow<'_, str>> {
    let s = v.to_str().ok()?;
    match s
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => String::from_utf8(base64_decode(b64)?).ok().map(Cow::Owned),
        None => Some(Cow::Borrowed(s)),
    }
}

/// Standard base64 (RFC 4648 section 4) with optional padding.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits must be padding zeros, and a single leftover sextet is impossible.
    (bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

#[derive(Deserialize)]
struct NamedParams<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Json<'a>>,
}

/// The stateless-era header rules besides the version (MCP-DIGEST 3.8): `Mcp-Method` equals the
/// method, `Mcp-Name` equals `params.name` (`tools/call`, `prompts/get`) or `params.uri`
/// (`resources/read`), and every `Mcp-Param-*` the tool declares equals its argument.
pub(crate) fn check_method_headers(
    headers: &HeaderMap,
    msg: &Message,
    config: &Config,
) -> Result<(), ProtocolError> {
    let mismatch = |header| ProtocolError::HeaderMismatch { header };
    let method = msg.method().unwrap_or_default();
    let sent = single(headers, &MCP_METHOD, "mcp-method").map_err(|_| mismatch("mcp-method"))?;
    if sent.and_then(|v| v.to_str().ok()) != Some(method) {
        return Err(mismatch("mcp-method"));
    }
    let named = matches!(
        method,
        method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ
    );
    if !named {
        return Ok(());
    }
    let params: NamedParams<'_> = match msg.params_as() {
        Some(Ok(p)) => p,
        // Params the handler will refuse anyway: only the header check is ours.
        _ => NamedParams {
            name: None,
            uri: None,
            arguments: None,
        },
    };
    let body_name = if method == method::RESOURCES_READ {
        params.uri.as_deref()
    } else {
        params.name.as_deref()
    };
    let sent = single(headers, &MCP_NAME, "mcp-name").map_err(|_| mismatch("mcp-name"))?;
    let sent = sent.and_then(decode_header_value);
    if sent.as_deref() != body_name || body_name.is_none() {
        return Err(mismatch("mcp-name"));
    }
    if method != method::TOOLS_CALL {
        return Ok(());
    }
    let Some(declared) = body_name.and_then(|n| config.tool_header_params.get(n)) else {
        return Ok(());
    };
    #[derive(Deserialize)]
    struct Args<'a>(#[serde(borrow)] std::collections::BTreeMap<Cow<'a, str>, Json<'a>>);
    let args = params
        .arguments
        .and_then(|a| a.parse::<Args<'_>>().ok())
        .map(|a| a.0)
        .unwrap_or_default();
    for p in declared {
        let value = args
            .get(p.argument.as_str())
            .filter(|v| v.get().trim() != "null");
        let mut sent = headers.get_all(p.header.as_str()).iter();
        let ok = match (value, sent.next(), sent.next()) {
            (None, None, _) => true,
            (Some(v), Some(h), None) => {
                decode_header_value(h).is_some_and(|h| param_matches(v.get(), &h))
            }
            _ => false,
        };
        if !ok {
            return Err(mismatch("mcp-param"));
        }
    }
    Ok(())
}

/// Compares a header value with a JSON scalar argument: strings exactly, booleans as
/// `true`/`false`, numbers numerically (`42.0` == `42`).
fn param_matches(json: &str, header: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(s)) => s == header,
        Ok(serde_json::Value::Bool(b)) => header == if b { "true" } else { "false" },
        Ok(serde_json::Value::Number(n)) => {
            let body = n.as_f64();
            let sent = header.parse::<f64>().ok();
            matches!((body, sent), (Some(a), Some(b)) if a == b)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn accept_rules() {
        let both = accepts(&headers(&[(
            "accept",
            "application/json, text/event-stream",
        )]));
        assert!(both.json && both.sse);
        let spaced = accepts(&headers(&[(
            "accept",
            "application/json,text/event-stream",
        )]));
        assert!(spaced.json && spaced.sse);
        let star = accepts(&headers(&[("accept", "*/*")]));
        assert!(star.json && star.sse);
        let text_any = accepts(&headers(&[("accept", "TEXT/*, application/JSON")]));
        assert!(text_any.json && text_any.sse);
        let json = accepts(&headers(&[("accept", "application/json")]));
        assert!(json.json && !json.sse);
        let split = accepts(&headers(&[
            ("accept", "application/json"),
            ("accept", "text/event-stream"),
        ]));
        assert!(split.json && split.sse);
        let refused = accepts(&headers(&[(
            "accept",
            "text/event-stream;q=0, application/json",
        )]));
        assert!(refused.json && !refused.sse);
        let bogus = accepts(&headers(&[("accept", "*/json")]));
        assert!(!bogus.json && !bogus.sse);
        let none = accepts(&HeaderMap::new());
        assert!(!none.json && !none.sse);
    }

    #[test]
    fn content_type_rules() {
        assert!(is_json_content_type(&headers(&[(
            "content-type",
            "Application/JSON; charset=utf-8"
        )])));
        assert!(!is_json_content_type(&headers(&[(
            "content-type",
            "text/plain"
        )])));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }

    #[test]
    fn base64_sentinel() {
        let v = HeaderValue::from_static("=?base64?U8OjbyBQYXVsbw==?=");
        assert_eq!(decode_header_value(&v).as_deref(), Some("São Paulo"));
        let plain = HeaderValue::from_static("get_weather");
        assert_eq!(decode_header_value(&plain).as_deref(), Some("get_weather"));
        let broken = HeaderValue::from_static("=?base64?U8O$?=");
        assert_eq!(decode_header_value(&broken), None);
        assert_eq!(base64_decode("aGk"), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("a"), None);
    }

    #[test]
    fn params_compare_by_type() {
        assert!(param_matches("42", "42.0"));
        assert!(param_matches("\"us-west\"", "us-west"));
        assert!(param_matches("true", "true"));
        assert!(!param_matches("true", "True"));
        assert!(!param_matches("{}", "{}"));
    }
}
