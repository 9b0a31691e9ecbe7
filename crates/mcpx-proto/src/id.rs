//! Session ids: 128 random bits as 32 lowercase hex characters, from a pluggable generator.

use std::fmt;
use std::sync::Arc;

/// Bytes of randomness in a session id (128 bits, MCP-DIGEST 10.2).
const ID_BYTES: usize = 16;
/// Characters of a session id: two hex digits per byte.
const ID_CHARS: usize = ID_BYTES * 2;

/// An `Mcp-Session-Id`: visible ASCII (bytes 0x21..0x7E, MCP-DIGEST 3.5). Cheap to clone.
///
/// Ids mcpx issues are 32 lowercase hex characters (128 bits from a CSPRNG); ids read from a
/// request are only trusted after [`SessionIdGenerator::validate`] and a table lookup.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// Wraps `s` if it is non-empty visible ASCII, the only bytes the spec allows.
    pub fn new(s: &str) -> Option<Self> {
        Self::is_valid(s).then(|| Self(Arc::from(s)))
    }

    /// Whether `s` could be a session id (non-empty visible ASCII), without making one.
    pub fn is_valid(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
    }

    /// The id as sent in the header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_random(bytes: [u8; ID_BYTES]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(ID_CHARS);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Self(Arc::from(s))
    }
}

/// Maps keyed by session id are searched with the header's `&str`, so a lookup allocates
/// nothing. Sound: `Hash`, `Eq` and `Ord` of `SessionId` are those of its string.
impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where session ids come from: a CSPRNG in production ([`OsRngIds`]), a seeded generator in
/// tests ([`SeededIds`]).
pub trait SessionIdGenerator: Send {
    /// A fresh id, or `None` if no randomness is available (the table then refuses the
    /// `initialize` with 503 rather than issue a guessable id).
    fn generate(&mut self) -> Option<SessionId>;

    /// Whether `id` has the shape of an id this generator issues. Called before any table
    /// lookup, so a junk header costs no hashing; `false` means 404 at once. O(len), no
    /// allocation.
    fn validate(&self, id: &str) -> bool {
        is_hex_id(id)
    }
}

/// Whether `id` is exactly 32 lowercase hex characters, the shape both generators issue.
fn is_hex_id(id: &str) -> bool {
    id.len() == ID_CHARS && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The default generator: 128 bits from the operating system's CSPRNG (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct OsRngIds;

impl OsRngIds {
    /// The OS generator.
    pub fn new() -> Self {
        Self
    }
}

impl SessionIdGenerator for OsRngIds {
    fn generate(&mut self) -> Option<SessionId> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes).ok()?;
        Some(SessionId::from_random(bytes))
    }
}

/// A deterministic generator for tests and simulations: SplitMix64 from a seed. **Not secure**:
/// its ids are predictable; never use it to serve real clients.
#[derive(Clone, Debug)]
pub struct SeededIds {
    state: u64,
}

impl SeededIds {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        // SplitMix64 (Steele, Lea, Flood 2014): full period, good enough for test ids.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl SessionIdGenerator for SeededIds {
    fn generate(&mut self) -> Option<SessionId> {
        let mut bytes = [0u8; ID_BYTES];
        let (a, b) = bytes.split_at_mut(8);
        a.copy_from_slice(&self.next_u64().to_le_bytes());
        b.copy_from_slice(&self.next_u64().to_le_bytes());
        Some(SessionId::from_random(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_ids_are_128_bit_hex_and_distinct() {
        let mut g = OsRngIds::new();
        let a = g.generate().unwrap();
        let b = g.generate().unwrap();
        assert_ne!(a, b);
        assert!(g.validate(a.as_str()));
        assert_eq!(a.as_str().len(), 32);
        assert!(SessionId::new(a.as_str()).is_some());
    }

    #[test]
    fn seeded_ids_repeat_per_seed() {
        let a: Vec<_> = (0..3)
            .map(|_| SeededIds::new(7))
            .map(|mut g| g.generate())
            .collect();
        assert_eq!(a[0], a[1]);
        let mut g = SeededIds::new(7);
        let x = g.generate().unwrap();
        let y = g.generate().unwrap();
        assert_ne!(x, y);
        assert!(g.validate(y.as_str()));
    }

    #[test]
    fn validate_rejects_what_was_never_issued() {
        let g = OsRngIds::new();
        for bad in [
            "",
            "abc",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef 123456789abcdef",
        ] {
            assert!(!g.validate(bad), "{bad:?}");
        }
        assert!(SessionId::new("a b").is_none());
        assert!(SessionId::new("é").is_none());
    }
}
