//! A plain serde_json reference decoder, and the differential comparison against [`decode`].
//!
//! The reference parses into `serde_json::Value` and applies the envelope rules of MCP-DIGEST 1.1
//! independently of the scanner. Where mcpx-wire is deliberately stricter or more exact than
//! serde_json, [`compare`] names the difference ([`Difference`]) instead of hiding it.

#![allow(
    clippy::exhaustive_enums,
    clippy::exhaustive_structs,
    reason = "test oracle types, matched and built by the tests"
)]

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::{DecodeErrorKind, DecodeOptions, Message, MessageKind, RequestId, decode};

/// An id as the reference sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefId {
    /// Integer id.
    Int(i64),
    /// String id.
    Str(String),
    /// A float-spelled id of magnitude 2^53 or more: `f64` cannot tell whether it is integral.
    Imprecise,
}

/// One decoded message as the reference sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RefMessage {
    /// The kind.
    pub kind: MessageKind,
    /// `id`, when present and valid.
    pub id: Option<RefId>,
    /// `method`.
    pub method: Option<String>,
    /// `params`.
    pub params: Option<Value>,
    /// `result`.
    pub result: Option<Value>,
    /// `error.code`.
    pub code: Option<i64>,
    /// `error.message`.
    pub message: Option<String>,
    /// `error.data`.
    pub data: Option<Value>,
}

/// The reference decoder's verdict.
#[derive(Clone, Debug, PartialEq)]
pub enum RefOutcome {
    /// -32700, with serde_json's message.
    Parse(String),
    /// -32600, with the id if it could be read.
    Invalid(Option<RefId>),
    /// A valid message.
    Message(RefMessage),
    /// A valid batch: each member valid or invalid on its own.
    Batch(Vec<Result<RefMessage, Option<RefId>>>),
}

/// A place where mcpx-wire deliberately disagrees with the serde_json reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Difference {
    /// A member name appears twice in the envelope: mcpx-wire rejects it (-32600); serde_json
    /// keeps the last value and says nothing.
    DuplicateMember,
    /// Nesting near the depth limit: mcpx-wire counts the envelope as level 1 and reports
    /// -32600 past [`DecodeOptions::max_depth`]; serde_json stops at its own recursion limit (128)
    /// with a parse error.
    DepthLimit,
    /// A number whose magnitude overflows `f64` (`1e400`): valid JSON, so mcpx-wire accepts it
    /// (or, as an id, rejects it with -32600 as out of range); serde_json fails to parse it.
    NumberBeyondF64,
    /// An id spelled with a fraction or exponent where `f64` rounding changes the verdict:
    /// `9223372036854775807.0` (integral, beyond 2^53) or `11561650777777.000378778453` (a
    /// fraction finer than `f64` resolves). mcpx-wire decides exactly from the decimal text;
    /// serde_json rounds through `f64` first.
    IdBeyondF64Precision,
}

fn ref_id(v: &Value) -> Option<RefId> {
    match v {
        Value::String(s) => Some(RefId::Str(s.clone())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(RefId::Int(i))
            } else if n.as_u64().is_some() {
                None
            } else {
                let f = n.as_f64()?;
                if f.abs() >= 9_007_199_254_740_992.0 {
                    return Some(RefId::Imprecise);
                }
                // Integral floats are integers (JSON Schema `integer`); |f| < 2^63 fits.
                (f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18)
                    .then_some(RefId::Int(f as i64))
            }
        }
        _ => None,
    }
}

/// Whether the object's `id` is spelled as a float (fraction or exponent) with more than 15
/// significant digits: beyond that, `f64` may round a fraction away or an integer off, so the
/// reference cannot judge it. With at most 15 digits the nearest `f64` is integral exactly when
/// the decimal is.
fn id_spelled_imprecisely(object: &[u8]) -> bool {
    let Ok(members) =
        serde_json::from_slice::<std::collections::BTreeMap<String, Box<RawValue>>>(object)
    else {
        return false;
    };
    let Some(id) = members.get("id") else {
        return false;
    };
    let text = id.get();
    if !text.contains(['.', 'e', 'E']) {
        return false;
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').len() > 15
}

fn classify(map: &Map<String, Value>, imprecise: bool) -> Result<RefMessage, Option<RefId>> {
    let id_value = map.get("id");
    let id = match id_value {
        Some(Value::Number(n)) if imprecise && n.as_i64().is_none() && n.as_u64().is_none() => {
            Some(RefId::Imprecise)
        }
        _ => id_value.and_then(ref_id),
    };
    let invalid = || Err(id.clone());
    if map.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return invalid();
    }
    if id_value.is_some_and(|v| !v.is_null()) && id.is_none() {
        return Err(None);
    }
    let method = match map.get("method") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return invalid(),
    };
    let params = match map.get("params") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return invalid(),
    };
    let result = match map.get("result") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return invalid(),
    };
    let error = match map.get("error") {
        None => None,
        Some(Value::Object(e)) => {
            let code = match e.get("code") {
                None => None,
                Some(Value::Number(n)) => match ref_id(&Value::Number(n.clone())) {
                    Some(RefId::Int(c)) if i32::try_from(c).is_ok() => Some(c),
                    _ => return invalid(),
                },
                Some(_) => return invalid(),
            };
            let message = match e.get("message") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return invalid(),
            };
            Some((code, message, e.get("data").cloned()))
        }
        Some(_) => return invalid(),
    };
    let base = RefMessage {
        kind: MessageKind::Request,
        id: id.clone(),
        method: None,
        params: None,
        result: None,
        code: None,
        message: None,
        data: None,
    };
    match (method, result, error) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => invalid(),
        (Some(method), None, None) => match (id_value, &id) {
            (None, _) => Ok(RefMessage {
                kind: MessageKind::Notification,
                method: Some(method),
                params,
                ..base
            }),
            (Some(_), Some(_)) => Ok(RefMessage {
                kind: MessageKind::Request,
                method: Some(method),
                params,
                ..base
            }),
            _ => invalid(),
        },
        (None, Some(_), Some(_)) => invalid(),
        (None, Some(result), None) => match id {
            Some(_) => Ok(RefMessage {
                kind: MessageKind::Response,
                result: Some(result),
                ..base
            }),
            None => invalid(),
        },
        (None, None, Some((Some(code), Some(message), data))) => Ok(RefMessage {
            kind: MessageKind::ErrorResponse,
            code: Some(code),
            message: Some(message),
            data,
            ..base
        }),
        _ => invalid(),
    }
}

/// The reference decoder: serde_json plus the envelope rules, with the same size and batch
/// options as [`decode`].
pub fn reference_decode(input: &[u8], opts: &DecodeOptions) -> RefOutcome {
    let (max_bytes, max_batch, allow_batch) = opts.limits();
    if input.len() > max_bytes {
        return RefOutcome::Invalid(None);
    }
    let value: Value = match serde_json::from_slice(input) {
        Ok(v) => v,
        Err(e) => return RefOutcome::Parse(e.to_string()),
    };
    match value {
        Value::Object(map) => match classify(&map, id_spelled_imprecisely(input)) {
            Ok(m) => RefOutcome::Message(m),
            Err(id) => RefOutcome::Invalid(id),
        },
        Value::Array(items) => {
            if !allow_batch || items.is_empty() || items.len() > max_batch {
                return RefOutcome::Invalid(None);
            }
            let raws: Vec<Box<RawValue>> = serde_json::from_slice(input).unwrap_or_default();
            RefOutcome::Batch(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Object(map) => {
                            let raw = raws.get(i).map_or("", |r| r.get());
                            classify(map, id_spelled_imprecisely(raw.as_bytes()))
                        }
                        _ => Err(None),
                    })
                    .collect(),
            )
        }
        _ => RefOutcome::Invalid(None),
    }
}

fn to_ref_id(id: &RequestId) -> RefId {
    match (id.as_i64(), id.as_str()) {
        (Some(i), _) => RefId::Int(i),
        (None, s) => RefId::Str(s.unwrap_or_default().to_owned()),
    }
}

fn parse_view(bytes: Option<&[u8]>) -> Result<Option<Value>, String> {
    bytes
        .map(|b| serde_json::from_slice(b).map_err(|e| format!("raw view does not parse: {e}")))
        .transpose()
}

fn to_ref_message(m: &Message) -> Result<RefMessage, String> {
    Ok(RefMessage {
        kind: m.kind(),
        id: m.id().map(to_ref_id),
        method: m.method().map(str::to_owned),
        params: parse_view(m.params_bytes())?,
        result: parse_view(m.result_bytes())?,
        code: m.error_code().map(|c| i64::from(c.0)),
        message: m.error_message().map(str::to_owned),
        data: parse_view(m.error_data_bytes())?,
    })
}

/// Whether an integer id was spelled with a fraction or exponent and is too large for `f64` to
/// hold exactly.
fn has_imprecise_id(m: &Message) -> bool {
    let spelled = |id: &RequestId| {
        let mut b = bytes::BytesMut::new();
        id.write_json(&mut b);
        b.iter().any(|c| matches!(c, b'.' | b'e' | b'E'))
    };
    m.id()
        .is_some_and(|id| spelled(id) && id.as_i64().is_some_and(|v| v.unsigned_abs() > (1 << 53)))
        || m.batch()
            .is_some_and(|items| items.iter().flatten().any(has_imprecise_id))
}

/// Runs both decoders on `input`. `Ok(None)`: they agree; `Ok(Some(d))`: they differ in the named,
/// deliberate way `d`; `Err`: an unexplained disagreement (a bug in one of them).
pub fn compare(input: &[u8], opts: &DecodeOptions) -> Result<Option<Difference>, String> {
    let ours = decode(Bytes::copy_from_slice(input), opts);
    let theirs = reference_decode(input, opts);
    let mismatch = |what: &str| {
        Err(format!(
            "{what}: mcpx-wire {ours:?} vs reference {theirs:?}"
        ))
    };
    if let RefOutcome::Parse(msg) = &theirs {
        if msg.contains("recursion limit") {
            return Ok(Some(Difference::DepthLimit));
        }
        if msg.contains("number out of range") {
            return Ok(Some(Difference::NumberBeyondF64));
        }
    }
    let imprecise = |id: &Option<RefId>| *id == Some(RefId::Imprecise);
    let theirs_imprecise = match &theirs {
        RefOutcome::Invalid(id) => imprecise(id),
        RefOutcome::Message(m) => imprecise(&m.id),
        RefOutcome::Batch(items) => items.iter().any(|i| match i {
            Ok(m) => imprecise(&m.id),
            Err(id) => imprecise(id),
        }),
        RefOutcome::Parse(_) => false,
    };
    if theirs_imprecise {
        return Ok(Some(Difference::IdBeyondF64Precision));
    }
    match &ours {
        Err(e) if matches!(e.kind(), DecodeErrorKind::TooDeep { .. }) => {
            return Ok(Some(Difference::DepthLimit));
        }
        Err(e) if matches!(e.kind(), DecodeErrorKind::DuplicateMember { .. }) => {
            return Ok(Some(Difference::DuplicateMember));
        }
        Ok(m) if has_imprecise_id(m) => return Ok(Some(Difference::IdBeyondF64Precision)),
        _ => {}
    }
    // An exact "not an integer" where f64 rounded the fraction away.
    let rounded = |e: &crate::DecodeError, id: &Option<RefId>| {
        e.kind() == DecodeErrorKind::IdNotInteger && matches!(id, Some(RefId::Int(_)))
    };
    match (&ours, &theirs) {
        (Err(e), RefOutcome::Invalid(id)) if rounded(e, id) => {
            return Ok(Some(Difference::IdBeyondF64Precision));
        }
        (Err(e), RefOutcome::Message(m)) if rounded(e, &m.id) => {
            return Ok(Some(Difference::IdBeyondF64Precision));
        }
        _ => {}
    }
    match (&ours, &theirs) {
        (Err(e), RefOutcome::Parse(_)) if e.kind().is_parse_error() => Ok(None),
        (Err(e), RefOutcome::Invalid(id)) if !e.kind().is_parse_error() => {
            if e.id().map(to_ref_id) == *id {
                Ok(None)
            } else {
                mismatch("recovered id differs")
            }
        }
        (Ok(m), RefOutcome::Message(r)) => {
            if to_ref_message(m)? == *r {
                Ok(None)
            } else {
                mismatch("message differs")
            }
        }
        (Ok(m), RefOutcome::Batch(items)) => {
            let Some(ours) = m.batch() else {
                return mismatch("batch vs non-batch");
            };
            if ours.len() != items.len() {
                return mismatch("batch length differs");
            }
            for (a, b) in ours.iter().zip(items) {
                match (a, b) {
                    (Ok(a), Ok(b)) if to_ref_message(a)? == *b => {}
                    (Err(e), Err(id)) if e.id().map(to_ref_id) == *id => {}
                    (Err(e), Err(id)) if rounded(e, id) => {
                        return Ok(Some(Difference::IdBeyondF64Precision));
                    }
                    (Err(e), Ok(m)) if rounded(e, &m.id) => {
                        return Ok(Some(Difference::IdBeyondF64Precision));
                    }
                    (Err(e), _) if matches!(e.kind(), DecodeErrorKind::DuplicateMember { .. }) => {
                        return Ok(Some(Difference::DuplicateMember));
                    }
                    _ => return mismatch("batch member differs"),
                }
            }
            Ok(None)
        }
        _ => mismatch("verdicts differ"),
    }
}
