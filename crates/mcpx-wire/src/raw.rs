//! Raw JSON views: validated JSON values as `Bytes` slices of the message they came from.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;

use crate::{DecodeError, DecodeErrorKind, limits, scan::Scanner};

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
        if let Err(e) = simdutf8::compat::from_utf8(&bytes) {
            return Err(DecodeError::new(
                DecodeErrorKind::InvalidUtf8,
                e.valid_up_to(),
            ));
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
