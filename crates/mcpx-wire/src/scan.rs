//! The JSON scanner: validates JSON in place, without mutating or copying it, and reports
//! offsets. The only module of the crate allowed to hold `unsafe`; today it holds none, because
//! the safe scanner already clears the bar in `benches/codec.rs` (see BENCHMARKS.md).
//!
//! The scanner is iterative: nesting is tracked in a bit stack (128 levels inline, deeper levels
//! in a `Vec` that only inputs nesting past 128 levels ever allocate), so no input can overflow
//! the call stack whatever depth limit the caller configures.

use crate::DecodeErrorKind;

/// A scan failure: the kind and the byte offset where it was found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanErr {
    pub(crate) kind: DecodeErrorKind,
    pub(crate) offset: usize,
}

pub(crate) type ScanResult<T> = Result<T, ScanErr>;

/// A string token: `start` is the opening quote, `end` is one past the closing quote.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StrToken {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) escaped: bool,
}

impl StrToken {
    /// The contents between the quotes, undecoded.
    pub(crate) fn contents<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start + 1..self.end.saturating_sub(1))
            .unwrap_or_default()
    }
}

/// A number token and the shape of its spelling.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumToken {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) has_frac: bool,
    pub(crate) has_exp: bool,
}

/// Nesting kinds: one bit per open container (1 = object, 0 = array).
///
/// The innermost container is bit 0 of `inline`: push shifts left, pop shifts right, so neither
/// needs a variable 128-bit shift (which cost ~10 instructions per push and per check). Past 128
/// levels the bits shifted out at the top are kept in `overflow`, a bit stack of its own.
struct DepthStack {
    inline: u128,
    overflow: Vec<u64>,
    len: usize,
}

impl DepthStack {
    const INLINE: usize = 128;

    fn new() -> Self {
        Self {
            inline: 0,
            overflow: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, is_object: bool) {
        if self.len >= Self::INLINE {
            self.spill();
        }
        self.inline = (self.inline << 1) | u128::from(is_object);
        self.len += 1;
    }

    /// Saves the outermost inline bit (about to be shifted out) as overflow bit
    /// `len - INLINE`.
    #[cold]
    fn spill(&mut self) {
        let j = self.len - Self::INLINE;
        let word = j / 64;
        if self.overflow.len() <= word {
            self.overflow.push(0);
        }
        if let Some(w) = self.overflow.get_mut(word) {
            let bit = 1u64 << (j % 64);
            if self.inline >> (Self::INLINE - 1) != 0 {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// Whether the innermost open container is an object; `None` when nothing is open.
    #[inline]
    fn top(&self) -> Option<bool> {
        (self.len > 0).then_some(self.inline & 1 != 0)
    }

    #[inline]
    fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.inline >>= 1;
        if self.len >= Self::INLINE {
            self.unspill();
        }
    }

    /// Restores overflow bit `len - INLINE` as the outermost inline bit.
    #[cold]
    fn unspill(&mut self) {
        let j = self.len - Self::INLINE;
        let set = self
            .overflow
            .get(j / 64)
            .is_some_and(|w| w & (1u64 << (j % 64)) != 0);
        self.inline |= u128::from(set) << (Self::INLINE - 1);
    }
}

/// A cursor over a borrowed buffer that is already known to be UTF-8.
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(buf: &'a [u8], max_depth: usize) -> Self {
        Self {
            buf,
            pos: 0,
            max_depth,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn max_depth(&self) -> usize {
        self.max_depth
    }

    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    #[cold]
    pub(crate) fn err(&self, kind: DecodeErrorKind) -> ScanErr {
        ScanErr {
            kind,
            offset: self.pos,
        }
    }

    /// The error for "expected something else here": end of input or a wrong byte.
    #[cold]
    pub(crate) fn unexpected(&self) -> ScanErr {
        if self.pos >= self.buf.len() {
            self.err(DecodeErrorKind::UnexpectedEnd)
        } else {
            self.err(DecodeErrorKind::UnexpectedByte)
        }
    }

    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        // Compact JSON (what MCP peers send) has no whitespace between tokens: one compare
        // settles the usual case, and every JSON whitespace byte is <= b' '.
        if let Some(&b) = self.buf.get(self.pos)
            && b > b' '
        {
            return;
        }
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Steps over the byte [`peek`](Self::peek) just returned.
    #[inline]
    pub(crate) fn advance(&mut self) {
        self.pos += 1;
    }

    /// Skips whitespace, then consumes `byte` or fails.
    #[inline]
    pub(crate) fn eat(&mut self, byte: u8) -> ScanResult<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Scans a string token; the cursor must be on its opening quote.
    ///
    /// Inlined for the common case, a string of at most seven bytes without escapes (member
    /// names, ids, `"2.0"`, short values): its closing quote is the first special byte of the
    /// eight after the opening quote, so one SWAR word settles it, with no loop. The out-of-line
    /// general loop cost ~75 instructions per such string (call frame, loop setup, a `Result` in
    /// memory). Anything else takes [`Self::string_general`] from the start.
    #[inline]
    pub(crate) fn string(&mut self) -> ScanResult<StrToken> {
        let start = self.pos;
        if let Some(chunk) = self.buf.get(start + 1..).and_then(<[u8]>::first_chunk::<8>) {
            let w = u64::from_le_bytes(*chunk);
            let hit = string_specials(w);
            let shift = hit.trailing_zeros() & !7;
            // `hit == 0` gives shift 64: `checked_shr` turns that into no match.
            if w.checked_shr(shift).is_some_and(|v| v as u8 == b'"') {
                let end = start + 2 + (shift / 8) as usize;
                self.pos = end;
                return Ok(StrToken {
                    start,
                    end,
                    escaped: false,
                });
            }
        }
        self.string_general()
    }

    /// [`Self::string`] for any string: escapes, errors and all.
    #[inline(never)]
    fn string_general(&mut self) -> ScanResult<StrToken> {
        let buf = self.buf;
        let start = self.pos;
        let mut escaped = false;
        let mut from = start + 1;
        loop {
            let Some(at) = find_string_special_from(buf, from) else {
                self.pos = buf.len();
                return Err(self.err(DecodeErrorKind::UnexpectedEnd));
            };
            self.pos = at;
            match buf.get(at) {
                Some(b'"') => {
                    self.pos = at + 1;
                    return Ok(StrToken {
                        start,
                        end: at + 1,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                    from = self.pos;
                }
                _ => return Err(self.err(DecodeErrorKind::ControlCharacter)),
            }
        }
    }

    /// Validates one escape; the cursor is on the backslash.
    fn escape(&mut self) -> ScanResult<()> {
        match self.buf.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let at = self.pos;
                let unit = self.hex4(self.pos + 2)?;
                self.pos += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let pair = self.buf.get(self.pos..self.pos + 2) == Some(b"\\u".as_slice());
                        let low = if pair {
                            Some(self.hex4(self.pos + 2)?)
                        } else {
                            None
                        };
                        match low {
                            Some(0xDC00..=0xDFFF) => {
                                self.pos += 6;
                                Ok(())
                            }
                            _ => Err(ScanErr {
                                kind: DecodeErrorKind::LoneSurrogate,
                                offset: at,
                            }),
                        }
                    }
                    0xDC00..=0xDFFF => Err(ScanErr {
                        kind: DecodeErrorKind::LoneSurrogate,
                        offset: at,
                    }),
                    _ => Ok(()),
                }
            }
            None => {
                self.pos = self.buf.len();
                Err(self.err(DecodeErrorKind::UnexpectedEnd))
            }
            Some(_) => Err(self.err(DecodeErrorKind::InvalidEscape)),
        }
    }

    /// Reads four hex digits at `at`.
    fn hex4(&self, at: usize) -> ScanResult<u16> {
        let mut v: u16 = 0;
        for k in 0..4 {
            let d = match self.buf.get(at + k) {
                None => {
                    return Err(ScanErr {
                        kind: DecodeErrorKind::UnexpectedEnd,
                        offset: self.buf.len(),
                    });
                }
                Some(&b) => match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => {
                        return Err(ScanErr {
                            kind: DecodeErrorKind::InvalidEscape,
                            offset: at + k,
                        });
                    }
                },
            };
            v = (v << 4) | u16::from(d);
        }
        Ok(v)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Scans a number token; the cursor is on `-` or a digit.
    pub(crate) fn number(&mut self) -> ScanResult<NumToken> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            None => return Err(self.err(DecodeErrorKind::UnexpectedEnd)),
            Some(_) => return Err(self.err(DecodeErrorKind::InvalidNumber)),
        }
        let mut has_frac = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digit()?;
            has_frac = true;
        }
        let mut has_exp = false;
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digit()?;
            has_exp = true;
        }
        Ok(NumToken {
            start,
            end: self.pos,
            has_frac,
            has_exp,
        })
    }

    fn require_digit(&mut self) -> ScanResult<()> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.digits();
                Ok(())
            }
            None => Err(self.err(DecodeErrorKind::UnexpectedEnd)),
            Some(_) => Err(self.err(DecodeErrorKind::InvalidNumber)),
        }
    }

    fn literal(&mut self, lit: &'static [u8]) -> ScanResult<()> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else if lit.starts_with(rest) {
            self.pos = self.buf.len();
            Err(self.err(DecodeErrorKind::UnexpectedEnd))
        } else {
            // Point at the first byte that differs.
            let same = rest.iter().zip(lit).take_while(|(a, b)| a == b).count();
            self.pos += same;
            Err(self.err(DecodeErrorKind::UnexpectedByte))
        }
    }

    /// Validates one complete JSON value (leading whitespace allowed) and leaves the cursor just
    /// past it. `depth` is the nesting depth of the container holding the value (0 at the top),
    /// so an object or array here sits at `depth + 1`.
    ///
    /// O(n) in the value's length, no allocation for nesting up to 128 levels.
    pub(crate) fn skip_value(&mut self, depth: usize) -> ScanResult<()> {
        let mut stack = DepthStack::new();
        'value: loop {
            self.skip_ws();
            match self.peek() {
                Some(b'{') => {
                    self.open(&mut stack, depth, true)?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        self.member_key()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.open(&mut stack, depth, false)?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.unexpected()),
            }
            // A value is complete: close containers until one expects another element.
            loop {
                let Some(in_object) = stack.top() else {
                    return Ok(());
                };
                self.skip_ws();
                match (in_object, self.peek()) {
                    (_, Some(b',')) => {
                        self.pos += 1;
                        if in_object {
                            self.skip_ws();
                            self.member_key()?;
                        }
                        continue 'value;
                    }
                    (true, Some(b'}')) | (false, Some(b']')) => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return Err(self.unexpected()),
                }
            }
        }
    }

    fn open(&mut self, stack: &mut DepthStack, depth: usize, is_object: bool) -> ScanResult<()> {
        if depth + stack.len + 1 > self.max_depth {
            return Err(self.err(DecodeErrorKind::TooDeep {
                limit: self.max_depth,
            }));
        }
        stack.push(is_object);
        self.pos += 1;
        Ok(())
    }

    /// Scans `"key" :` inside an object; the cursor is on the key's quote (after whitespace).
    ///
    /// Always inlined: as a call, moving its `Result` through memory and the call frame cost
    /// ~25 instructions of the ~80 per key, and it has only three callers.
    #[inline(always)]
    fn member_key(&mut self) -> ScanResult<StrToken> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        let key = self.string()?;
        self.eat(b':')?;
        Ok(key)
    }

    /// Scans `"key" :` (public to the envelope decoder); the cursor may be before whitespace.
    #[inline]
    pub(crate) fn key(&mut self) -> ScanResult<StrToken> {
        self.skip_ws();
        self.member_key()
    }
}

/// Checks that `bytes` is UTF-8; `Err` carries the length of the longest valid prefix (the
/// offset [`DecodeErrorKind::InvalidUtf8`] reports), exactly as `simdutf8::compat` does.
///
/// MCP traffic is mostly ASCII, and for a short message simdutf8's setup (and its copy of the
/// tail into a 64-byte block) cost more than the check itself: ~170 of the ~2,700 instructions
/// of decoding a 78-byte reply. So ASCII is skipped first, 32 bytes per step (an OR that the
/// compiler vectorizes), and simdutf8 only sees the input from the first block holding a
/// non-ASCII byte. That block starts a character (the byte before it is ASCII), so the input's
/// validity and the offset of the first error are unchanged; nothing is examined twice.
#[inline]
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<(), usize> {
    const BLOCK: usize = 32;
    let mut i = 0;
    while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<BLOCK>) {
        if block.iter().fold(0, |acc, &b| acc | b) >= 0x80 {
            return check_utf8_from(bytes, i);
        }
        i += BLOCK;
    }
    // The last 0..32 bytes: eight at a time, then one word overlapping the previous ones (which
    // are ASCII, so a high bit in it is at or past `i`); bytewise only for inputs under 8 bytes.
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        if u64::from_le_bytes(*word) & HI != 0 {
            return check_utf8_from(bytes, i);
        }
        i += 8;
    }
    let high = match bytes.last_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word) & HI != 0,
        None => bytes.iter().any(|&b| b >= 0x80),
    };
    if high {
        return check_utf8_from(bytes, i);
    }
    Ok(())
}

/// The non-ASCII part of [`check_utf8`]: `bytes[..from]` is ASCII.
#[cold]
fn check_utf8_from(bytes: &[u8], from: usize) -> Result<(), usize> {
    let rest = bytes.get(from..).unwrap_or_default();
    simdutf8::compat::from_utf8(rest)
        .map(|_| ())
        .map_err(|e| from + e.valid_up_to())
}

/// [`find_string_special_from`] from the start of `bytes` (the unit tests' form).
#[cfg(test)]
pub(crate) fn find_string_special(bytes: &[u8]) -> Option<usize> {
    find_string_special_from(bytes, 0)
}

/// The index (into `bytes`) of the first byte of `bytes[from..]` that ends a run of plain string
/// contents: `"`, `\\` or a control character (below 0x20, which JSON forbids unescaped). The
/// scanner keeps one running index rather than re-slicing the buffer per string.
///
/// SWAR, eight bytes per step: for each byte class, `(x - 0x01..) & !x & 0x80..` flags a zero
/// byte of `x = w ^ class`, and `(w - 0x20..) & !w & 0x80..` flags bytes below 0x20. Borrows only
/// propagate upwards from a flagged byte, so the lowest flag is always a true match. This is the
/// hot loop of decoding (strings are most of an MCP message). Replacing `memchr2` plus a separate
/// control-character pass with this, together with SIMD UTF-8 validation (simdutf8) in place of
/// `std::str::from_utf8`, took the 1 KiB `tools/call` decode from 1.12 us to 0.64 us in
/// `benches/codec.rs` (see BENCHMARKS.md).
///
/// Out of line, with its loop unrolled to two words: inlined into [`Scanner::string_general`]
/// the loop ran short of registers and reloaded its constants every step (23 instructions per
/// word); on its own, two words per step take ~14 per word, which pays for the call on text with
/// many escapes (the 64 KiB `tools/call` result in `benches/codec.rs`).
#[inline(never)]
fn find_string_special_from(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..).unwrap_or_default();
    let mut pairs = rest.chunks_exact(16);
    let mut i = from;
    for pair in pairs.by_ref() {
        let (lo, hi) = pair.split_at(8);
        let lo = string_specials(u64::from_le_bytes(lo.try_into().unwrap_or([0; 8])));
        let hi = string_specials(u64::from_le_bytes(hi.try_into().unwrap_or([0; 8])));
        if lo | hi != 0 {
            let k = if lo != 0 {
                lo.trailing_zeros() / 8
            } else {
                8 + hi.trailing_zeros() / 8
            };
            return Some(i + k as usize);
        }
        i += 16;
    }
    let mut words = pairs.remainder().chunks_exact(8);
    for word in words.by_ref() {
        let hit = string_specials(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// The SWAR step of [`find_string_special_from`] on eight bytes read little-endian: bit 7 of
/// byte k is set if byte k is `"`, `\\` or below 0x20, or (only ever above such a byte) a
/// borrow reached it; bits other than the top bit of each byte are clear.
#[inline]
fn string_specials(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    const SPACE: u64 = LO * 0x20;
    let q = w ^ QUOTE;
    let b = w ^ BACKSLASH;
    // `!q & HI`, `!b & HI` and `!w & HI` are the same mask (the classes are ASCII, so the xors
    // keep every byte's high bit), hence one `& !w & HI` for all three terms.
    (q.wrapping_sub(LO) | b.wrapping_sub(LO) | w.wrapping_sub(SPACE)) & !w & HI
}

/// Decodes a validated string token's contents (escapes resolved). The token was validated by
/// [`Scanner::string`], so every escape is well formed; the replacement character only keeps this
/// total for inputs that were not.
pub(crate) fn unescape(contents: &[u8]) -> String {
    let mut out = String::with_capacity(contents.len());
    let mut i = 0;
    while let Some(&b) = contents.get(i) {
        if b != b'\\' {
            let run = contents.get(i..).unwrap_or_default();
            let n = memchr::memchr(b'\\', run).unwrap_or(run.len());
            out.push_str(
                std::str::from_utf8(run.get(..n).unwrap_or_default()).unwrap_or("\u{FFFD}"),
            );
            i += n;
            continue;
        }
        let c = match contents.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = hex4(contents.get(i + 2..i + 6));
                i += 6;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(contents.get(i + 2..i + 6));
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3ff)
                } else {
                    hi
                };
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                continue;
            }
            _ => '\u{FFFD}',
        };
        out.push(c);
        i += 2;
    }
    out
}

fn hex4(digits: Option<&[u8]>) -> u32 {
    digits.unwrap_or_default().iter().fold(0, |v, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0,
        };
        (v << 4) | u32::from(d)
    })
}

/// The exact integer value of a validated JSON number, if it is integral and fits `i64`.
///
/// `Err(true)` = integral but out of range, `Err(false)` = has a fractional part. Exact for any
/// spelling (`1.0`, `1e2`, `1000e-3`), with no floating point involved.
///
/// The common spelling (request ids and error codes are small plain integers) is read inline;
/// the general path is out of line.
#[inline]
pub(crate) fn integer_value(text: &[u8]) -> Result<i64, bool> {
    let (neg, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // At most 18 digits cannot overflow an i64.
    if !body.is_empty() && body.len() <= 18 && body.iter().all(u8::is_ascii_digit) {
        let v = body.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        return Ok(if neg { -v } else { v });
    }
    integer_value_general(neg, body)
}

/// [`integer_value`] for any spelling: fraction, exponent, or more than 18 digits.
#[inline(never)]
fn integer_value_general(neg: bool, body: &[u8]) -> Result<i64, bool> {
    let (mantissa, exp) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) => (
            body.get(..e).unwrap_or_default(),
            body.get(e + 1..).unwrap_or_default(),
        ),
        None => (body, &b""[..]),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(d) => (
            mantissa.get(..d).unwrap_or_default(),
            mantissa.get(d + 1..).unwrap_or_default(),
        ),
        None => (mantissa, &b""[..]),
    };
    // Exponent, saturated: anything beyond +-10^6 is far outside i64 or far below 1 anyway.
    let (exp_neg, exp_digits) = match exp.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, exp),
    };
    let mut e: i64 = 0;
    for &d in exp_digits {
        e = (e * 10 + i64::from(d - b'0')).min(1_000_000);
    }
    if exp_neg {
        e = -e;
    }
    // Significant digits = int_part ++ frac_part, scaled by 10^(e - frac_len).
    let digits = int_part.iter().chain(frac_part.iter());
    let mut scale = e - frac_part.len() as i64;
    // Strip trailing zeros into the scale, leading zeros are harmless.
    let all: Vec<u8>;
    let sig: &[u8] = if scale < 0 || !frac_part.is_empty() {
        all = digits.copied().collect();
        let mut end = all.len();
        while end > 0 && scale < 0 && all.get(end - 1) == Some(&b'0') {
            end -= 1;
            scale += 1;
        }
        all.get(..end).unwrap_or_default()
    } else {
        int_part
    };
    let nonzero = sig.iter().any(|&d| d != b'0');
    if !nonzero {
        return Ok(0);
    }
    if scale < 0 {
        return Err(false);
    }
    // Accumulate in i128 with the sign applied at the end so i64::MIN is reachable.
    let mut v: i128 = 0;
    for &d in sig {
        v = v * 10 + i128::from(d - b'0');
        if v > i128::from(i64::MAX) + 1 {
            return Err(true);
        }
    }
    for _ in 0..scale {
        v *= 10;
        if v > i128::from(i64::MAX) + 1 {
            return Err(true);
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).map_err(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> ScanResult<usize> {
        let mut sc = Scanner::new(s.as_bytes(), 128);
        sc.skip_value(0)?;
        Ok(sc.pos())
    }

    #[test]
    fn values() {
        for ok in [
            "0",
            "-0",
            "1.5e-3",
            "true",
            "null",
            "\"a\\u00e9\\ud83d\\ude00\"",
            "[]",
            "{}",
            "[1,[2,{\"a\":[]}]]",
            "{\"a\" : 1 , \"b\":[ ]}",
        ] {
            assert_eq!(scan(ok).map_err(|e| e.kind), Ok(ok.len()), "{ok}");
        }
        for (bad, kind) in [
            ("", DecodeErrorKind::UnexpectedEnd),
            ("[01]", DecodeErrorKind::UnexpectedByte),
            ("1.", DecodeErrorKind::UnexpectedEnd),
            ("1.x", DecodeErrorKind::InvalidNumber),
            ("-", DecodeErrorKind::UnexpectedEnd),
            ("tru", DecodeErrorKind::UnexpectedEnd),
            ("trux", DecodeErrorKind::UnexpectedByte),
            ("\"\\ud800\"", DecodeErrorKind::LoneSurrogate),
            ("\"\\udc00\"", DecodeErrorKind::LoneSurrogate),
            ("\"\\ud800\\u0041\"", DecodeErrorKind::LoneSurrogate),
            ("\"\\x\"", DecodeErrorKind::InvalidEscape),
            ("\"a\nb\"", DecodeErrorKind::ControlCharacter),
            ("[1,]", DecodeErrorKind::UnexpectedByte),
            ("{\"a\"}", DecodeErrorKind::UnexpectedByte),
            ("{\"a\":1,}", DecodeErrorKind::UnexpectedByte),
            ("[1 2]", DecodeErrorKind::UnexpectedByte),
            ("[", DecodeErrorKind::UnexpectedEnd),
        ] {
            assert_eq!(scan(bad).map_err(|e| e.kind), Err(kind), "{bad:?}");
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = "[".repeat(100_000);
        let mut sc = Scanner::new(deep.as_bytes(), 128);
        assert_eq!(
            sc.skip_value(0).map_err(|e| e.kind),
            Err(DecodeErrorKind::TooDeep { limit: 128 })
        );
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(Scanner::new(ok.as_bytes(), 128).skip_value(0).is_ok());
        let deeper = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(Scanner::new(deeper.as_bytes(), 128).skip_value(0).is_err());
        // Past the inline 128 levels the stack spills to the heap, still iteratively.
        let very = format!("{}1{}", "[{\"k\":".repeat(1000), "}]".repeat(1000));
        assert!(Scanner::new(very.as_bytes(), 4000).skip_value(0).is_ok());
    }

    #[test]
    fn deep_nesting_keeps_every_level_kind() {
        // Past the 128 inline levels the kinds spill to the heap and come back on the way out:
        // a closer of the wrong kind must be caught at any depth, at its own offset.
        let kinds: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
        let opens: String = kinds
            .iter()
            .map(|&obj| if obj { "{\"k\":" } else { "[" })
            .collect();
        let closers: Vec<u8> = kinds
            .iter()
            .rev()
            .map(|&obj| if obj { b'}' } else { b']' })
            .collect();
        let body = |closers: &[u8]| {
            let mut v = format!("{opens}1").into_bytes();
            v.extend_from_slice(closers);
            v
        };
        let ok = body(&closers);
        let mut sc = Scanner::new(&ok, 1000);
        assert!(sc.skip_value(0).is_ok());
        assert_eq!(sc.pos(), ok.len());
        for k in [0, 1, 2, 100, 171, 172, 173, 200, 299] {
            let mut bad = closers.clone();
            bad[k] = if bad[k] == b'}' { b']' } else { b'}' };
            let input = body(&bad);
            let err = Scanner::new(&input, 1000)
                .skip_value(0)
                .map_err(|e| (e.kind, e.offset));
            let at = opens.len() + 1 + k;
            assert_eq!(
                err,
                Err((DecodeErrorKind::UnexpectedByte, at)),
                "closer {k}"
            );
        }
    }

    #[test]
    fn integers() {
        for (t, v) in [
            ("0", Ok(0)),
            ("-0", Ok(0)),
            ("1.0", Ok(1)),
            ("1e2", Ok(100)),
            ("1000e-3", Ok(1)),
            ("1.5", Err(false)),
            ("1e-1", Err(false)),
            ("9223372036854775807", Ok(i64::MAX)),
            ("-9223372036854775808", Ok(i64::MIN)),
            ("9223372036854775808", Err(true)),
            ("1e19", Err(true)),
            ("1e999999999999", Err(true)),
            ("0.0e5", Ok(0)),
            ("12.50e1", Ok(125)),
        ] {
            assert_eq!(integer_value(t.as_bytes()), v, "{t}");
        }
    }

    #[test]
    fn swar_finds_the_first_special_byte() {
        let mut s = vec![b'a'; 40];
        assert_eq!(find_string_special(&s), None);
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..40 {
                let mut t = s.clone();
                t[at] = special;
                // A later special byte never hides an earlier one, and high bytes never match.
                if at + 3 < 40 {
                    t[at + 3] = b'"';
                }
                t.iter_mut().skip(at + 1).take(2).for_each(|b| *b = 0xc3);
                assert_eq!(find_string_special(&t), Some(at), "{special:#x} at {at}");
            }
        }
        s[39] = 0x80;
        assert_eq!(find_string_special(&s), None);
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape(br#"a\"b\\\/\n\u00e9\ud83d\ude00"#), "a\"b\\/\né😀");
    }
}
