//! Redaction: secrets never reach a trace (PROFILE.md section 3).
//!
//! - `Authorization` becomes `"<scheme> $redacted:<sha256-8>"` (the hash of the credential, so
//!   replay can key `--tokens` by it and grouping by token still works);
//! - `Cookie` / `Set-Cookie` values become `"$redacted:<sha256-8>"`;
//! - values under secret-looking keys (`token`, `secret`, `password`, `api_key`,
//!   `authorization`, `cookie`, as case-insensitive substrings) inside request arguments
//!   (`params.arguments`) and client answers (`result`) become
//!   `{"$redacted":{"bytes":N,"sha256_8":"..."}}`; with [`Redact::args`] whole arguments do.
//!
//! Only the redacted spans change: the rest of the message keeps its bytes. `progressToken` is
//! not an argument, so it is never touched (replay sends it verbatim).

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::json;
use crate::limits::MAX_JSON_DEPTH;

/// Key substrings that mark a secret value.
pub const SECRET_KEY_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "api_key",
    "authorization",
    "cookie",
];

/// The marker key of a redacted value.
pub const REDACTED_KEY: &str = "$redacted";

/// What to redact in bodies (headers are always redacted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redact {
    /// Whole `arguments` objects, not only secret-looking members.
    pub args: bool,
}

/// The first 8 hex digits of SHA-256 of `data`.
pub fn sha256_8(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// An `Authorization` value as written to a trace.
pub fn authorization(value: &str) -> String {
    let (scheme, cred) = value.trim().split_once(' ').unwrap_or(("", value.trim()));
    let hash = sha256_8(cred.trim().as_bytes());
    if scheme.is_empty() {
        format!("$redacted:{hash}")
    } else {
        format!("{scheme} $redacted:{hash}")
    }
}

/// The bearer credential hash of an `Authorization` value (the grouping key), if it is one.
pub fn bearer_hash(value: &str) -> Option<String> {
    let (scheme, cred) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| sha256_8(cred.trim().as_bytes()))
}

/// A header value as written to a trace: secrets replaced.
pub fn header_value(name: &str, value: &str) -> String {
    match name {
        "authorization" | "proxy-authorization" => authorization(value),
        "cookie" | "set-cookie" => format!("$redacted:{}", sha256_8(value.as_bytes())),
        _ => value.to_owned(),
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|p| k.contains(p))
}

fn marker(value: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"{REDACTED_KEY}":{{"bytes":{},"sha256_8":"{}"}}}}"#,
        value.len(),
        sha256_8(value)
    )
    .into_bytes()
}

fn walk(b: &[u8], span: Range<usize>, depth: usize, edits: &mut Vec<(Range<usize>, Vec<u8>)>) {
    if depth >= MAX_JSON_DEPTH {
        return;
    }
    if let Some(members) = json::members(b, span.clone()) {
        for (key, r) in members {
            if is_secret_key(&key) {
                let v = b.get(r.clone()).unwrap_or_default();
                edits.push((r, marker(v)));
            } else {
                walk(b, r, depth + 1, edits);
            }
        }
    } else if let Some(items) = json::elements(b, span) {
        for r in items {
            walk(b, r, depth + 1, edits);
        }
    }
}

/// A message with its secrets redacted, or `None` when nothing changes (the common case: the
/// caller keeps the original bytes). `msg` must be valid JSON.
pub fn message(msg: &str, how: Redact) -> Option<String> {
    let b = msg.as_bytes();
    let mut edits = Vec::new();
    if let Some(args) = json::find(b, &["params", "arguments"]) {
        if how.args {
            let v = b.get(args.clone()).unwrap_or_default();
            edits.push((args, marker(v)));
        } else {
            walk(b, args, 0, &mut edits);
        }
    }
    // A client's answer to a server request (elicitation forms hold what users typed).
    if json::find(b, &["method"]).is_none()
        && let Some(result) = json::find(b, &["result"])
    {
        walk(b, result, 0, &mut edits);
    }
    if edits.is_empty() {
        return None;
    }
    String::from_utf8(json::splice(b, edits)).ok()
}

/// Replaces every redaction marker in `msg` with a same-size filler string (replay sends
/// something of the recorded size where the secret was). `None` when there is no marker.
pub fn fill(msg: &str) -> Option<String> {
    fill_with(msg, &std::collections::HashMap::new())
}

/// As [`fill`], but a marker whose `sha256_8` is a key of `secrets` gets that value (raw JSON,
/// `--secrets`) instead of a filler.
pub fn fill_with(msg: &str, secrets: &std::collections::HashMap<String, String>) -> Option<String> {
    if !msg.contains(REDACTED_KEY) {
        return None;
    }
    let b = msg.as_bytes();
    let mut edits = Vec::new();
    fill_walk(b, 0..b.len(), 0, secrets, &mut edits);
    if edits.is_empty() {
        return None;
    }
    String::from_utf8(json::splice(b, edits)).ok()
}

fn fill_walk(
    b: &[u8],
    span: Range<usize>,
    depth: usize,
    secrets: &std::collections::HashMap<String, String>,
    edits: &mut Vec<(Range<usize>, Vec<u8>)>,
) {
    if depth >= MAX_JSON_DEPTH {
        return;
    }
    if let Some(members) = json::members(b, span.clone()) {
        if let [(key, r)] = members.as_slice()
            && key == REDACTED_KEY
        {
            let inner = b.get(r.clone()).unwrap_or_default();
            let known = json::find(inner, &["sha256_8"])
                .and_then(|hr| serde_json::from_slice::<String>(inner.get(hr)?).ok())
                .and_then(|h| secrets.get(&h));
            if let Some(value) = known {
                edits.push((span, value.clone().into_bytes()));
                return;
            }
            let n = json::find(b.get(r.clone()).unwrap_or_default(), &["bytes"])
                .and_then(|br| {
                    std::str::from_utf8(b.get(r.start + br.start..r.start + br.end)?)
                        .ok()?
                        .parse::<usize>()
                        .ok()
                })
                .unwrap_or(2);
            let mut filler = Vec::with_capacity(n.max(2));
            filler.push(b'"');
            filler.resize(n.max(2) - 1, b'x');
            filler.push(b'"');
            edits.push((span, filler));
            return;
        }
        for (_, r) in members {
            fill_walk(b, r, depth + 1, secrets, edits);
        }
    } else if let Some(items) = json::elements(b, span) {
        for r in items {
            fill_walk(b, r, depth + 1, secrets, edits);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn headers() {
        let a = authorization("Bearer sk-live-123");
        assert!(a.starts_with("Bearer $redacted:") && a.len() == "Bearer $redacted:".len() + 8);
        assert!(!a.contains("sk-live"));
        assert_eq!(
            bearer_hash("bearer sk-live-123").unwrap(),
            a.rsplit(':').next().unwrap()
        );
        assert!(!header_value("cookie", "sid=abc").contains("abc"));
        assert_eq!(header_value("user-agent", "x"), "x");
    }

    #[test]
    fn secret_arguments_only() {
        let msg = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"login","arguments":{"user":"bo","Password":"hunter2","nested":[{"api_key":42}]},"_meta":{"progressToken":7}}}"#;
        let out = message(msg, Redact::default()).unwrap();
        assert!(!out.contains("hunter2") && !out.contains("42}"), "{out}");
        assert!(
            out.contains(r#""user":"bo""#) && out.contains(r#""progressToken":7"#),
            "{out}"
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
        assert!(message(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":"x"},"_meta":{"progressToken":1}}}"#, Redact::default()).is_none());
        let all = message(msg, Redact { args: true }).unwrap();
        assert!(!all.contains("\"bo\""), "{all}");
        // Replay fills the same number of bytes back.
        let filled = fill(&out).unwrap();
        assert!(filled.contains(r#""Password":"xxxxxxx""#), "{filled}");
        assert_eq!(filled.len(), msg.len(), "{filled}");
        // With the secret known (`--secrets`), the original value goes back.
        let mut known = std::collections::HashMap::new();
        known.insert(sha256_8(br#""hunter2""#), r#""hunter2""#.to_owned());
        let back = fill_with(&out, &known).unwrap();
        assert!(back.contains(r#""Password":"hunter2""#), "{back}");
    }
}
