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

    fn push(&mut self, is_object: bool) {
        let i = self.len;
        if i < Self::INLINE {
            let bit = 1u128 << i;
            if is_object {
                self.inline |= bit;
            } else {
                self.inline &= !bit;
            }
        } else {
            let j = i - Self::INLINE;
            let word = j / 64;
            if self.overflow.len() <= word {
                self.overflow.push(0);
            }
            if let Some(w) = self.overflow.get_mut(word) {
                let bit = 1u64 << (j % 64);
                if is_object {
                    *w |= bit;
                } else {
                    *w &= !bit;
                }
            }
        }
        self.len += 1;
    }

    /// Whether the innermost open container is an object; `None` when nothing is open.
    fn top(&self) -> Option<bool> {
        let i = self.len.checked_sub(1)?;
        if i < Self::INLINE {
            Some(self.inline & (1u128 << i) != 0)
        } else {
            let j = i - Self::INLINE;
            self.overflow
                .get(j / 64)
                .map(|w| w & (1u64 << (j % 64)) != 0)
        }
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
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
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
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
    pub(crate) fn string(&mut self) -> ScanResult<StrToken> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let Some(i) = find_string_special(rest) else {
                self.pos = self.buf.len();
                return Err(self.err(DecodeErrorKind::UnexpectedEnd));
            };
            self.pos += i;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(StrToken {
                        start,
                        end: self.pos,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
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
    fn member_key(&mut self) -> ScanResult<StrToken> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        let key = self.string()?;
        self.eat(b':')?;
        Ok(key)
    }

    /// Scans `"key" :` (public to the envelope decoder); the cursor may be before whitespace.
    pub(crate) fn key(&mut self) -> ScanResult<StrToken> {
        self.skip_ws();
        self.member_key()
    }
}

/// The index of the first byte in `bytes` that ends a run of plain string contents: `"`, `\\`
/// or a control character (below 0x20, which JSON forbids unescaped).
///
/// SWAR, eight bytes per step: for each byte class, `(w - 0x01..) & !w & 0x80..` flags a zero
/// byte of `w ^ class`, and `(w - 0x20..) & !w & 0x80..` flags bytes below 0x20. Borrows only
/// propagate upwards from a flagged byte, so the lowest flag is always a true match. This is the
/// hot loop of decoding (strings are most of an MCP message). Replacing `memchr2` plus a separate
/// control-character pass with this, together with SIMD UTF-8 validation (simdutf8) in place of
/// `std::str::from_utf8`, took the 1 KiB `tools/call` decode from 1.12 us to 0.64 us in
/// `benches/codec.rs` (see BENCHMARKS.md).
#[inline]
pub(crate) fn find_string_special(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    const SPACE: u64 = LO * 0x20;
    let chunks = bytes.chunks_exact(8);
    let tail_start = bytes.len() - chunks.remainder().len();
    for (k, chunk) in chunks.enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let q = w ^ QUOTE;
        let b = w ^ BACKSLASH;
        let hit =
            ((q.wrapping_sub(LO) & !q) | (b.wrapping_sub(LO) & !b) | (w.wrapping_sub(SPACE) & !w))
                & HI;
        if hit != 0 {
            return Some(k * 8 + (hit.trailing_zeros() / 8) as usize);
        }
    }
    bytes
        .get(tail_start..)
        .unwrap_or_default()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| tail_start + p)
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
pub(crate) fn integer_value(text: &[u8]) -> Result<i64, bool> {
    let (neg, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // The common spelling (request ids are small plain integers), read directly: at most 18
    // digits cannot overflow an i64.
    if !body.is_empty() && body.len() <= 18 && body.iter().all(u8::is_ascii_digit) {
        let v = body.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        return Ok(if neg { -v } else { v });
    }
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
