//! The divergence classifier: where a live answer differs *in kind* from the recorded one
//! (status, content type, error class, `isError`, result shape, missing notifications, server
//! request sequence, size), and the bounded summary per method/tool and per session.
//!
//! Values are never compared (ids, timestamps and text legitimately differ between runs); kinds
//! are: a result that became an error, a `-32602` that became `-32601`, a result whose keys
//! changed, a progress stream that went silent.

use std::collections::BTreeMap;

use serde::Serialize;

/// Sessions listed by name in a report; the rest are counted together (a multiplied replay
/// can have millions).
pub const MAX_REPORTED_SESSIONS: usize = 200;

/// Methods (and tools) listed by name in a report, as `mcpx load` bounds its tables; later
/// names are counted under [`OTHER_METHODS`].
pub const MAX_REPORTED_METHODS: usize = 256;

/// The key that collects methods past [`MAX_REPORTED_METHODS`].
pub const OTHER_METHODS: &str = "(other)";

/// A size differs in kind when one is more than this many times the other...
pub const SIZE_RATIO: u64 = 4;
/// ...and they differ by more than this many bytes (small bodies vary freely).
pub const SIZE_SLACK_BYTES: u64 = 1024;

/// The kind of one server message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// A result: `isError` when present, and its sorted top-level keys (without `_meta`).
    Result {
        /// `result.isError`.
        is_error: Option<bool>,
        /// Sorted top-level keys.
        keys: Vec<String>,
    },
    /// An error response with this code.
    Error {
        /// `error.code`.
        code: i64,
    },
    /// A notification.
    Notification {
        /// Its method.
        method: String,
    },
    /// A server-to-client request.
    Request {
        /// Its method.
        method: String,
    },
    /// A batch or anything else.
    Other,
}

/// The shape of a message (raw JSON).
pub fn shape_of(msg: &str) -> Shape {
    #[derive(serde::Deserialize)]
    struct Env<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
        id: Option<&'a serde_json::value::RawValue>,
        result: Option<BTreeMap<String, &'a serde_json::value::RawValue>>,
        error: Option<Err>,
    }
    #[derive(serde::Deserialize)]
    struct Err {
        code: Option<i64>,
    }
    let Ok(env) = serde_json::from_str::<Env<'_>>(msg) else {
        return Shape::Other;
    };
    match (env.method, env.id, env.result, env.error) {
        (Some(m), Some(_), _, _) => Shape::Request {
            method: m.into_owned(),
        },
        (Some(m), None, _, _) => Shape::Notification {
            method: m.into_owned(),
        },
        (None, _, Some(r), _) => Shape::Result {
            is_error: r.get("isError").and_then(|v| v.get().parse::<bool>().ok()),
            keys: r.keys().filter(|k| *k != "_meta").cloned().collect(),
        },
        (None, _, None, Some(e)) => Shape::Error {
            code: e.code.unwrap_or(0),
        },
        _ => Shape::Other,
    }
}

/// What one exchange answered, recorded or live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observed {
    /// HTTP status (`None`: no response).
    pub status: Option<u16>,
    /// Media type.
    pub ct: Option<String>,
    /// The messages, in order.
    pub messages: Vec<Shape>,
    /// Body bytes (SSE: data bytes).
    pub bytes: u64,
    /// The exchange failed (`connect`, `timeout`, ...).
    pub failed: Option<String>,
}

/// A divergence class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DivergenceKind {
    /// No answer at all (connect error, timeout) where one was recorded, or the reverse.
    Failure,
    /// HTTP status differs.
    Status,
    /// `application/json` vs `text/event-stream` (or other).
    ContentType,
    /// A result became an error, an error a result, or the JSON-RPC code changed.
    ErrorClass,
    /// `isError` flipped.
    IsError,
    /// The result's top-level keys differ.
    ResultShape,
    /// A notification method the recording had is absent.
    MissingNotification,
    /// The server-to-client requests differ (methods, in order).
    ServerRequests,
    /// The size differs by more than [`SIZE_RATIO`] and [`SIZE_SLACK_BYTES`].
    Size,
}

impl DivergenceKind {
    /// The report spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Status => "status",
            Self::ContentType => "content_type",
            Self::ErrorClass => "error_class",
            Self::IsError => "is_error",
            Self::ResultShape => "result_shape",
            Self::MissingNotification => "missing_notification",
            Self::ServerRequests => "server_requests",
            Self::Size => "size",
        }
    }
}

/// One divergence of one exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Divergence {
    /// Its class.
    pub kind: DivergenceKind,
    /// What the recording had.
    pub expected: String,
    /// What the live server did.
    pub actual: String,
}

fn final_of(m: &[Shape]) -> Option<&Shape> {
    m.iter()
        .rev()
        .find(|s| matches!(s, Shape::Result { .. } | Shape::Error { .. }))
}

fn describe(s: Option<&Shape>) -> String {
    match s {
        None => "no response".into(),
        Some(Shape::Result { .. }) => "result".into(),
        Some(Shape::Error { code }) => format!("error {code}"),
        Some(Shape::Notification { method } | Shape::Request { method }) => method.clone(),
        Some(Shape::Other) => "other".into(),
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// Classifies how `actual` differs from `expected`.
pub fn classify(expected: &Observed, actual: &Observed) -> Vec<Divergence> {
    let mut out = Vec::new();
    let mut push = |kind, e: String, a: String| {
        out.push(Divergence {
            kind,
            expected: e,
            actual: a,
        });
    };
    if expected.failed.is_some() != actual.failed.is_some()
        || (expected.status.is_some() != actual.status.is_some())
    {
        push(
            DivergenceKind::Failure,
            expected
                .failed
                .clone()
                .unwrap_or_else(|| opt(expected.status)),
            actual.failed.clone().unwrap_or_else(|| opt(actual.status)),
        );
        return out;
    }
    if expected.status != actual.status {
        push(
            DivergenceKind::Status,
            opt(expected.status),
            opt(actual.status),
        );
    }
    if expected.ct != actual.ct {
        push(
            DivergenceKind::ContentType,
            opt(expected.ct.as_deref()),
            opt(actual.ct.as_deref()),
        );
    }
    let (ef, af) = (final_of(&expected.messages), final_of(&actual.messages));
    match (ef, af) {
        (
            Some(Shape::Result {
                is_error: ei,
                keys: ek,
            }),
            Some(Shape::Result {
                is_error: ai,
                keys: ak,
            }),
        ) => {
            if ei.unwrap_or(false) != ai.unwrap_or(false) {
                push(DivergenceKind::IsError, opt(*ei), opt(*ai));
            }
            if ek != ak {
                push(DivergenceKind::ResultShape, ek.join(","), ak.join(","));
            }
        }
        (Some(Shape::Error { code: e }), Some(Shape::Error { code: a })) if e == a => {}
        (None, None) => {}
        _ => push(DivergenceKind::ErrorClass, describe(ef), describe(af)),
    }
    let methods = |m: &[Shape], want_request: bool| -> Vec<String> {
        m.iter()
            .filter_map(|s| match s {
                Shape::Notification { method } if !want_request => Some(method.clone()),
                Shape::Request { method } if want_request => Some(method.clone()),
                _ => None,
            })
            .collect()
    };
    let (en, an) = (
        methods(&expected.messages, false),
        methods(&actual.messages, false),
    );
    let mut missing: Vec<&String> = en.iter().filter(|m| !an.contains(m)).collect();
    missing.dedup();
    if !missing.is_empty() {
        let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        push(
            DivergenceKind::MissingNotification,
            m.join(","),
            String::new(),
        );
    }
    let (er, ar) = (
        methods(&expected.messages, true),
        methods(&actual.messages, true),
    );
    if er != ar {
        push(DivergenceKind::ServerRequests, er.join(","), ar.join(","));
    }
    let (lo, hi) = (
        expected.bytes.min(actual.bytes),
        expected.bytes.max(actual.bytes),
    );
    if hi - lo > SIZE_SLACK_BYTES && hi > lo.saturating_mul(SIZE_RATIO) {
        push(
            DivergenceKind::Size,
            expected.bytes.to_string(),
            actual.bytes.to_string(),
        );
    }
    out
}

/// Counts for one (method or tool, class).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KindCount {
    /// Exchanges with this divergence.
    pub count: u64,
    /// The first one seen: expected.
    pub example_expected: String,
    /// The first one seen: actual.
    pub example_actual: String,
}

/// The divergence summary of a replay (bounded: see [`MAX_REPORTED_SESSIONS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DivergenceReport {
    /// Exchanges compared.
    pub exchanges: u64,
    /// Exchanges with at least one divergence.
    pub diverged: u64,
    /// By class, all methods together.
    pub by_kind: BTreeMap<String, u64>,
    /// By method (`tools/call name` for tools), then class.
    pub by_method: BTreeMap<String, BTreeMap<String, KindCount>>,
    /// Diverged exchanges per session (`copy/session key`, or `copy/user` without a session).
    pub by_session: BTreeMap<String, u64>,
    /// Diverged exchanges of sessions past the bound.
    pub other_sessions: u64,
}

impl DivergenceReport {
    /// Adds the outcome of one exchange.
    pub fn add(&mut self, method: &str, session: &str, divs: &[Divergence]) {
        self.exchanges += 1;
        if divs.is_empty() {
            return;
        }
        self.diverged += 1;
        for d in divs {
            *self.by_kind.entry(d.kind.as_str().to_owned()).or_default() += 1;
            let key = if self.by_method.contains_key(method)
                || self.by_method.len() < MAX_REPORTED_METHODS
            {
                method
            } else {
                OTHER_METHODS
            };
            let per = self.by_method.entry(key.to_owned()).or_default();
            let k = per.entry(d.kind.as_str().to_owned()).or_default();
            if k.count == 0 {
                k.example_expected.clone_from(&d.expected);
                k.example_actual.clone_from(&d.actual);
            }
            k.count += 1;
        }
        if let Some(n) = self.by_session.get_mut(session) {
            *n += 1;
        } else if self.by_session.len() < MAX_REPORTED_SESSIONS {
            self.by_session.insert(session.to_owned(), 1);
        } else {
            self.other_sessions += 1;
        }
    }

    /// A few lines for the terminal.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "divergence: {} of {} exchanges differ in kind from the recording",
            self.diverged, self.exchanges
        )];
        for (method, kinds) in &self.by_method {
            for (kind, c) in kinds {
                out.push(format!(
                    "  {method}: {kind} x{} (recorded {:?}, live {:?})",
                    c.count, c.example_expected, c.example_actual
                ));
            }
        }
        if !self.by_session.is_empty() {
            let shown: Vec<String> = self
                .by_session
                .iter()
                .take(10)
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            out.push(format!(
                "  sessions with divergences: {}{}",
                shown.join(", "),
                if self.by_session.len() > 10 || self.other_sessions > 0 {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn obs(status: u16, ct: &str, msgs: &[&str], bytes: u64) -> Observed {
        Observed {
            status: Some(status),
            ct: Some(ct.into()),
            messages: msgs.iter().map(|m| shape_of(m)).collect(),
            bytes,
            failed: None,
        }
    }

    #[test]
    fn classes() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false}}"#;
        let is_err = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#;
        let err = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}"#;
        let progress = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#;
        let elicit = r#"{"jsonrpc":"2.0","id":9,"method":"elicitation/create","params":{}}"#;
        let e = obs(200, "text/event-stream", &[progress, elicit, ok], 300);
        assert!(classify(&e, &e).is_empty());
        let kinds = |a: &Observed| -> Vec<DivergenceKind> {
            classify(&e, a).iter().map(|d| d.kind).collect()
        };
        assert_eq!(
            kinds(&obs(200, "application/json", &[ok], 100)),
            [
                DivergenceKind::ContentType,
                DivergenceKind::MissingNotification,
                DivergenceKind::ServerRequests
            ]
        );
        assert_eq!(
            kinds(&obs(
                200,
                "text/event-stream",
                &[progress, elicit, is_err],
                300
            )),
            [DivergenceKind::IsError]
        );
        assert_eq!(
            kinds(&obs(
                200,
                "text/event-stream",
                &[progress, elicit, err],
                300
            )),
            [DivergenceKind::ErrorClass]
        );
        assert_eq!(
            kinds(&obs(404, "text/event-stream", &[progress, elicit, ok], 300)),
            [DivergenceKind::Status]
        );
        assert_eq!(
            kinds(&obs(
                200,
                "text/event-stream",
                &[progress, elicit, ok],
                300_000
            )),
            [DivergenceKind::Size]
        );
        let mut failed = e.clone();
        failed.status = None;
        failed.failed = Some("connect".into());
        assert_eq!(kinds(&failed), [DivergenceKind::Failure]);
        let shape = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#;
        assert_eq!(
            kinds(&obs(
                200,
                "text/event-stream",
                &[progress, elicit, shape],
                300
            )),
            [DivergenceKind::ResultShape]
        );

        let mut r = DivergenceReport::default();
        r.add(
            "tools/call echo",
            "0/u1s1",
            &classify(&e, &obs(200, "application/json", &[ok], 100)),
        );
        r.add("tools/list", "0/u1s1", &[]);
        assert_eq!((r.exchanges, r.diverged), (2, 1));
        assert_eq!(r.by_kind.get("content_type"), Some(&1));
        assert!(r.summary_lines().len() >= 4);
    }
}
