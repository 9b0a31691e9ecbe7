//! Raw JSON views: validated JSON values as `Bytes` slices of the message they came from.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;

use crate::scan::{Scanner, check_utf8};
use crate::{DecodeError, DecodeErrorKind, limits};

/// One valid JSON value, exactly as it appeared on the wire.
///
/// Cheap to clone (a `Bytes` view), independent of the read buffer it was sliced from, and
/// forwardable byte for byte: escapes, number spellings, member order and whitespace are the
/// sender's. Deserialize it on demand with [`RawJson::deserialize`] into the typed views of
/// [`crate::mcp`] (which borrow from it where they can).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Bytes);

impl RawJson {
    /// Builds a view over bytes that are known to hold exactly one valid JSON value.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// Validates `bytes` as exactly one JSON value (surrounding whitespace allowed) within
    /// [`DEFAULT_MAX_DEPTH`](limits::DEFAULT_MAX_DEPTH) and
    /// [`DEFAULT_MAX_MESSAGE_BYTES`](limits::DEFAULT_MAX_MESSAGE_BYTES).
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.len() > limits::DEFAULT_MAX_MESSAGE_BYTES {
            return Err(DecodeError::new(
                DecodeErrorKind::TooLarge {
                    limit: limits::DEFAULT_MAX_MESSAGE_BYTES,
                },
                0,
            ));
        }
        if let Err(valid_up_to) = check_utf8(&bytes) {
            return Err(DecodeError::new(DecodeErrorKind::InvalidUtf8, valid_up_to));
        }
        let mut sc = Scanner::new(&bytes, limits::DEFAULT_MAX_DEPTH);
        sc.skip_value(0)
            .map_err(|e| DecodeError::new(e.kind, e.offset))?;
        sc.skip_ws();
        if sc.pos() != bytes.len() {
            return Err(DecodeError::new(
                DecodeErrorKind::TrailingCharacters,
                sc.pos(),
            ));
        }
        Ok(Self(bytes))
    }

    /// Serializes `value` into a new raw view.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(|v| Self(Bytes::from(v)))
    }

    /// The bytes, exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as a string (always valid UTF-8: the message was validated).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying `Bytes` view.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Whether the value is a JSON object.
    pub fn is_object(&self) -> bool {
        self.first_byte() == Some(b'{')
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.first_byte() == Some(b'n')
    }

    fn first_byte(&self) -> Option<u8> {
        self.0.iter().copied().find(|b| !b.is_ascii_whitespace())
    }

    /// The value of the top-level object member `name` (see [`object_member`]), as a view of
    /// the same bytes: no copy.
    pub fn member(&self, name: &str) -> Option<RawJson> {
        let [range] = member_spans(&self.0, [name]);
        Some(Self(self.0.slice(range?)))
    }

    /// Several members at once, in one pass ([`member`](Self::member) for each name).
    pub fn members<const N: usize>(&self, names: [&str; N]) -> [Option<RawJson>; N] {
        member_spans(&self.0, names).map(|r| r.map(|r| Self(self.0.slice(r))))
    }

    /// The value as a string, if it is one: borrowed when it has no escapes, unescaped
    /// otherwise.
    pub fn as_string(&self) -> Option<std::borrow::Cow<'_, str>> {
        let buf: &[u8] = &self.0;
        let mut sc = Scanner::new(buf, limits::DEFAULT_MAX_DEPTH);
        sc.skip_ws();
        if sc.peek() != Some(b'"') {
            return None;
        }
        let token = sc.string().ok()?;
        let contents = token.contents(buf);
        if token.escaped {
            Some(std::borrow::Cow::Owned(crate::scan::unescape(contents)))
        } else {
            std::str::from_utf8(contents)
                .ok()
                .map(std::borrow::Cow::Borrowed)
        }
    }

    /// Deserializes the value into `T`, borrowing from this view where `T` borrows.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of the top-level member `name` of the JSON object in `json` (its key compared after
/// unescaping), borrowed: no allocation unless a key is escaped. `None` when `json` is not an
/// object (or not valid JSON) or has no such member; when a key repeats, the last one wins (as in
/// `serde_json::Value` and JavaScript). O(n) in the object's length, one pass with mcpx-wire's
/// own scanner: far cheaper than a serde pass over the whole value to reach one member.
pub fn object_member<'a>(json: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let [range] = member_spans(json, [name]);
    json.get(range?)
}

/// Where each named member's value lies, in one pass; all `None` if `buf` is not a valid
/// object.
fn member_spans<const N: usize>(buf: &[u8], names: [&str; N]) -> [Option<Range<usize>>; N] {
    let mut found = [const { None }; N];
    if scan_members(buf, &names, &mut found).is_none() {
        return [const { None }; N];
    }
    found
}

fn scan_members(buf: &[u8], names: &[&str], found: &mut [Option<Range<usize>>]) -> Option<()> {
    let mut sc = Scanner::new(buf, limits::DEFAULT_MAX_DEPTH);
    sc.eat(b'{').ok()?;
    sc.skip_ws();
    if sc.peek() == Some(b'}') {
        return sc.eat(b'}').ok();
    }
    loop {
        let key = sc.key().ok()?;
        sc.skip_ws();
        let start = sc.pos();
        sc.skip_value(1).ok()?;
        let end = sc.pos();
        let raw_key = key.contents(buf);
        let unescaped = key.escaped.then(|| crate::scan::unescape(raw_key));
        let key_bytes = unescaped.as_deref().map_or(raw_key, str::as_bytes);
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if key_bytes == name.as_bytes() {
                *slot = Some(start..end);
            }
        }
        sc.skip_ws();
        match sc.peek() {
            Some(b',') => sc.eat(b',').ok()?,
            Some(b'}') => return sc.eat(b'}').ok(),
            _ => return None,
        }
    }
}
