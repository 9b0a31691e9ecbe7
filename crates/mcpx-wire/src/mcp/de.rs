//! Private serde helpers for the typed views: borrowing strings, tag peeking and re-parsing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A `Cow<str>` that borrows whenever the input string has no escapes.
///
/// serde's own `Cow<'a, str>` impl only borrows for a field marked `#[serde(borrow)]` that is a
/// bare `Cow`; inside `Option`, `Vec` or map keys it always allocates. This wrapper borrows
/// everywhere, and the `opt_*`/`vec_*` functions below unwrap it for `deserialize_with`.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct BorrowCow<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowCow<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowVisitor).map(BorrowCow)
    }
}

struct CowVisitor;

impl<'de> Visitor<'de> for CowVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `deserialize_with` for `Option<Cow<'a, str>>` (borrowing).
pub(super) fn opt_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<BorrowCow<'a>>::deserialize(d)?.map(|c| c.0))
}

/// `deserialize_with` for `Vec<Cow<'a, str>>` (borrowing).
pub(super) fn vec_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Cow<'a, str>>, D::Error> {
    Ok(Vec::<BorrowCow<'a>>::deserialize(d)?
        .into_iter()
        .map(|c| c.0)
        .collect())
}

/// `deserialize_with` for `Option<Vec<Cow<'a, str>>>` (borrowing).
pub(super) fn opt_vec_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<Cow<'a, str>>>, D::Error> {
    Ok(Option::<Vec<BorrowCow<'a>>>::deserialize(d)?.map(|v| v.into_iter().map(|c| c.0).collect()))
}

/// `deserialize_with` for `Option<BTreeMap<Cow<'a, str>, V>>` (borrowing keys).
pub(super) fn opt_map<'de: 'a, 'a, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
) -> Result<Option<BTreeMap<Cow<'a, str>, V>>, D::Error> {
    Ok(Option::<BTreeMap<BorrowCow<'a>, V>>::deserialize(d)?
        .map(|m| m.into_iter().map(|(k, v)| (k.0, v)).collect()))
}

/// A string-to-string map (prompt arguments, completion context).
type CowMap<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// `deserialize_with` for `Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>` (borrowing both).
pub(super) fn opt_map_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<CowMap<'a>>, D::Error> {
    Ok(
        Option::<BTreeMap<BorrowCow<'a>, BorrowCow<'a>>>::deserialize(d)?
            .map(|m| m.into_iter().map(|(k, v)| (k.0, v.0)).collect()),
    )
}

/// Deserializes a typed value out of an already validated raw value, borrowing from it.
pub(super) fn reparse<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// The string value of member `key` of the JSON object `raw`, `None` when it is absent or not a
/// string. Errors only when `raw` is not an object.
///
/// Fast path without a parse when `key` is the first member and its value has no escapes
/// (`{"type":"text",...}`, `{"resultType":"complete",...}`); otherwise one scan of the object.
pub(super) fn peek_str<'a>(
    raw: &'a RawValue,
    key: &str,
) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
    if let Some(v) = leading_str_member(raw.get(), key) {
        return Ok(Some(Cow::Borrowed(v)));
    }
    serde_json::Deserializer::from_str(raw.get()).deserialize_map(MemberPeek { key })
}

fn is_json_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn leading_str_member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let rest = json
        .trim_start_matches(is_json_ws)
        .strip_prefix('{')?
        .trim_start_matches(is_json_ws)
        .strip_prefix('"')?
        .strip_prefix(key)?
        .strip_prefix('"')?
        .trim_start_matches(is_json_ws)
        .strip_prefix(':')?
        .trim_start_matches(is_json_ws)
        .strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    let (value, tail) = rest.split_at(end);
    tail.starts_with('"').then_some(value)
}

struct MemberPeek<'k> {
    key: &'k str,
}

impl<'de> Visitor<'de> for MemberPeek<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut seen = false;
        while let Some(k) = map.next_key::<BorrowCow<'de>>()? {
            if !seen && k.0 == self.key {
                seen = true;
                let v: &'de RawValue = map.next_value()?;
                found = serde_json::from_str::<BorrowCow<'de>>(v.get())
                    .ok()
                    .map(|c| c.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn peek_fast_and_slow_paths() {
        let r = raw(r#"{"type":"text","text":"x"}"#);
        assert_eq!(peek_str(r, "type").unwrap().as_deref(), Some("text"));
        let r = raw(r#" { "text":"x", "type" : "image" }"#);
        assert_eq!(peek_str(r, "type").unwrap().as_deref(), Some("image"));
        let r = raw(r#"{"type":"te\u0078t"}"#);
        assert_eq!(peek_str(r, "type").unwrap().as_deref(), Some("text"));
        let r = raw(r#"{"type":5}"#);
        assert_eq!(peek_str(r, "type").unwrap(), None);
        let r = raw(r#"{"a":1}"#);
        assert_eq!(peek_str(r, "type").unwrap(), None);
        assert!(peek_str(raw("[1]"), "type").is_err());
    }

    #[test]
    fn leading_member_needs_exact_key() {
        assert_eq!(leading_str_member(r#"{"types":"x"}"#, "type"), None);
        assert_eq!(leading_str_member(r#"{"type":"a\"b"}"#, "type"), None);
        assert_eq!(leading_str_member(r#"{"type":"ab"}"#, "type"), Some("ab"));
    }
}
