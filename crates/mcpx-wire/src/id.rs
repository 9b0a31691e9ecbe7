//! Request ids and JSON strings as views into the message bytes.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::{BufMut, Bytes, BytesMut};

/// A JSON string from a message: its exact spelling on the wire (quotes and escapes included, so
/// it can be echoed byte for byte) and its decoded value.
///
/// A string without escapes costs one `Bytes` view and no allocation; one with escapes carries a
/// separately allocated decoded copy. Equality and hashing use the decoded value.
#[derive(Clone)]
pub struct JsonStr {
    /// The string token as on the wire, quotes included. Always valid JSON.
    raw: Bytes,
    /// The decoded value when it differs from the raw contents (the raw had escapes).
    unescaped: Option<Box<str>>,
}

impl JsonStr {
    /// `raw` must be a valid JSON string token (validated by the scanner) and `unescaped` its
    /// decoded value if it contains escapes.
    pub(crate) fn from_parts(raw: Bytes, unescaped: Option<Box<str>>) -> Self {
        Self { raw, unescaped }
    }

    /// A JSON string with the given value, escaped as JSON requires.
    pub fn new(value: &str) -> Self {
        let mut buf = BytesMut::with_capacity(value.len() + 2);
        write_json_str(&mut buf, value);
        Self {
            raw: buf.freeze(),
            unescaped: None,
        }
        .normalized(value)
    }

    fn normalized(mut self, value: &str) -> Self {
        if self.contents() != value.as_bytes() {
            self.unescaped = Some(value.into());
        }
        self
    }

    fn contents(&self) -> &[u8] {
        self.raw
            .get(1..self.raw.len().saturating_sub(1))
            .unwrap_or_default()
    }

    /// The decoded string.
    pub fn as_str(&self) -> &str {
        match &self.unescaped {
            Some(s) => s,
            // The scanner validated the whole message as UTF-8 and this token has no escapes, so
            // this never fails; the empty fallback only keeps the accessor panic-free.
            None => std::str::from_utf8(self.contents()).unwrap_or_default(),
        }
    }

    /// The token exactly as it appeared on the wire, quotes and escapes included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }
}

impl PartialEq for JsonStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for JsonStr {}

impl Hash for JsonStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for JsonStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A JSON-RPC request id: an integer or a string (MCP forbids `null`).
///
/// Two ids are equal only if they have the same kind and value: `1` and `"1"` differ, while
/// `"a"` and `"\u0061"` are the same id. The id keeps its wire spelling (for `1.0` or an escaped
/// string) so a reply echoes it byte for byte.
#[derive(Clone)]
pub struct RequestId(IdRepr);

#[derive(Clone)]
enum IdRepr {
    /// An integer; `raw` is set only when the wire spelling is not the canonical one (`1.0`,
    /// `1e2`, `-0`), so the echo stays byte-identical.
    Int {
        value: i64,
        raw: Option<Bytes>,
    },
    Str(JsonStr),
}

impl RequestId {
    /// An integer id.
    pub const fn from_i64(value: i64) -> Self {
        Self(IdRepr::Int { value, raw: None })
    }

    /// A string id.
    pub fn from_string(value: &str) -> Self {
        Self(IdRepr::Str(JsonStr::new(value)))
    }

    pub(crate) fn int_with_spelling(value: i64, raw: Option<Bytes>) -> Self {
        Self(IdRepr::Int { value, raw })
    }

    pub(crate) fn string(s: JsonStr) -> Self {
        Self(IdRepr::Str(s))
    }

    /// The integer, if this is an integer id.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            IdRepr::Int { value, .. } => Some(*value),
            IdRepr::Str(_) => None,
        }
    }

    /// The decoded string, if this is a string id.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            IdRepr::Int { .. } => None,
            IdRepr::Str(s) => Some(s.as_str()),
        }
    }

    /// Whether this is a string id.
    pub fn is_string(&self) -> bool {
        matches!(self.0, IdRepr::Str(_))
    }

    /// Appends the id as JSON, exactly as it was spelled when it was decoded.
    pub fn write_json(&self, buf: &mut BytesMut) {
        match &self.0 {
            IdRepr::Int { raw: Some(raw), .. } => buf.put_slice(raw),
            IdRepr::Int { value, raw: None } => write_i64(buf, *value),
            IdRepr::Str(s) => buf.put_slice(s.raw()),
        }
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (IdRepr::Int { value: a, .. }, IdRepr::Int { value: b, .. }) => a == b,
            (IdRepr::Str(a), IdRepr::Str(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for RequestId {}

impl Hash for RequestId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            IdRepr::Int { value, .. } => {
                state.write_u8(0);
                value.hash(state);
            }
            IdRepr::Str(s) => {
                state.write_u8(1);
                s.hash(state);
            }
        }
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdRepr::Int { value, .. } => write!(f, "{value}"),
            IdRepr::Str(s) => write!(f, "{:?}", s.as_str()),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<i64> for RequestId {
    fn from(value: i64) -> Self {
        Self::from_i64(value)
    }
}

impl From<&str> for RequestId {
    fn from(value: &str) -> Self {
        Self::from_string(value)
    }
}

impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            IdRepr::Int { value, .. } => s.serialize_i64(*value),
            IdRepr::Str(v) => s.serialize_str(v.as_str()),
        }
    }
}

/// The decimal digits of a `u64`, held on the stack: no allocation and no `fmt` machinery
/// (ids, lengths and event positions are written on every request).
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    /// `u64::MAX` has 20 digits.
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    /// The digits of `n`.
    pub fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            if let Some(slot) = buf.get_mut(start) {
                // `n % 10` is below 10: the cast cannot truncate.
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        Self { buf, start }
    }

    /// The digits, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// The digits, as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// One or more ASCII decimal digits (no sign, no spaces, leading zeros allowed) that fit in a
/// `u64`: the number fields of the wire (`Content-Length`, SSE `retry`). `None` otherwise.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let d = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        acc.checked_mul(10)?.checked_add(d)
    })
}

/// Appends an integer in decimal without allocating (a JSON number token).
pub fn write_i64(buf: &mut BytesMut, value: i64) {
    if value < 0 {
        buf.put_u8(b'-');
    }
    buf.put_slice(Decimal::new(value.unsigned_abs()).as_bytes());
}

/// Appends `value` as a JSON string token, escaping `"`, `\` and control characters.
pub fn write_json_str(buf: &mut BytesMut, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.reserve(value.len() + 2);
    buf.put_u8(b'"');
    let bytes = value.as_bytes();
    // Most strings written are method names, tool names and ids with nothing to escape: one
    // plain pass finds that out, and the string goes in whole.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        buf.put_slice(bytes);
        buf.put_u8(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.put_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            buf.put_slice(b"\\u00");
            buf.put_u8(HEX[usize::from(b >> 4)]);
            buf.put_u8(HEX[usize::from(b & 0xf)]);
        } else {
            buf.put_slice(escape);
        }
        start = i + 1;
    }
    buf.put_slice(bytes.get(start..).unwrap_or_default());
    buf.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_and_strings_of_same_text_differ() {
        assert_ne!(RequestId::from_i64(1), RequestId::from_string("1"));
        assert_eq!(
            RequestId::from_i64(1),
            RequestId::int_with_spelling(1, Some(Bytes::from_static(b"1.0")))
        );
    }

    #[test]
    fn decimal_matches_display_at_the_extremes() {
        for n in [
            0,
            9,
            10,
            99,
            100,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(Decimal::new(n).as_str(), n.to_string());
        }
    }

    #[test]
    fn write_i64_extremes() {
        for v in [0, 1, -1, 42, i64::MAX, i64::MIN] {
            let mut b = BytesMut::new();
            write_i64(&mut b, v);
            assert_eq!(&b[..], v.to_string().as_bytes());
        }
    }

    #[test]
    fn json_str_escapes() {
        let s = JsonStr::new("a\"b\\c\n\u{1}é");
        assert_eq!(&s.raw()[..], b"\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
        assert_eq!(s.as_str(), "a\"b\\c\n\u{1}é");
        let plain = JsonStr::new("tools/call");
        assert!(plain.unescaped.is_none());
        assert_eq!(plain.as_str(), "tools/call");
    }
}
