//! The HTTP/1.x response-head grammar of the inline codec: the status line and the header
//! lines, validated byte by byte and reported as byte spans into the buffer.
//!
//! This module owns [`parse`] and only the syntax: what the headers mean (framing, reuse, the
//! content type) is the caller's. It accepts, rejects and leaves pending exactly the heads
//! httparse 1.10's `parse_response` does with its default configuration (hyper's client, and
//! what this codec used before), with the same spans: h1's tests hold it to that differentially,
//! at every split point. In short:
//!
//! - empty lines (CRLF or LF) before the status line are skipped;
//! - the status line is `HTTP/1.0` or `HTTP/1.1`, one SP, three digits, then SP and a reason
//!   (HTAB, SP, VCHAR, obs-text), or the line end at once;
//! - a header is a token (RFC 9110 5.1), `:`, optional SP/HTAB, a value of HTAB, SP, VCHAR and
//!   obs-text whose trailing SP/HTAB are not part of it; no space before the colon, no obs-fold
//!   (a line starting with SP/HTAB is an invalid name);
//! - every line ends in CRLF or a bare LF; a CR not followed by LF is an error;
//! - an invalid byte is an error as soon as it is seen, even while the head is incomplete.
//!
//! Why not httparse: for the load generator's short heads its general machinery (runtime SIMD
//! dispatch, per-byte header-name matching, slots to fill and read back) was over half of
//! `parse_head`'s ~1,700 instructions. Here eight bytes are checked at a time in a `u64`
//! (SWAR) for the common bytes, the names MCP responses carry are recognized whole a word at
//! a time (which also tells the caller which of the four names it acts on a header is), and
//! each header is handed to the caller as it is found, so no slots exist at all.

/// What a header's name is, for the names the codec acts on: told by the parser, which
/// recognizes them whole (see [`known_name`]), so no name is compared twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Name {
    ContentType,
    ContentLength,
    TransferEncoding,
    Connection,
    /// Any other name.
    Other,
}

/// Where one header's name and value lie in the head (byte offsets, end exclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span {
    /// Start and end of the name.
    pub(super) name: (usize, usize),
    /// Start and end of the value, without surrounding SP/HTAB.
    pub(super) value: (usize, usize),
}

/// A complete head: its length (through the blank line) and its status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Complete {
    pub(super) len: usize,
    /// The three digits, 0 to 999 (range checks are the caller's).
    pub(super) code: u16,
    /// `x` of `HTTP/1.x`: 0 or 1.
    pub(super) minor: u8,
    /// How many headers were handed out.
    pub(super) count: usize,
}

/// Why a head is invalid: httparse's kinds, so errors read as they did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Invalid {
    Version,
    Status,
    NewLine,
    HeaderName,
    HeaderValue,
    /// More headers than the caller's bound.
    TooManyHeaders,
}

impl Invalid {
    /// httparse's wording for the same error.
    pub(super) fn reason(self) -> &'static str {
        match self {
            Self::Version => "invalid HTTP version",
            Self::Status => "invalid status",
            Self::NewLine => "invalid line ending",
            Self::HeaderName => "invalid header name",
            Self::HeaderValue => "invalid header value",
            Self::TooManyHeaders => "too many headers",
        }
    }
}

/// Parses the response head at the front of `buf`, handing each header's [`Name`] and
/// [`Span`] to `on_header` as soon as its line is complete. `Ok(None)`: the head is not complete yet (the
/// headers handed out so far are to be forgotten). A head with more than `max_headers` headers
/// is [`Invalid::TooManyHeaders`] once the first header over the bound is complete (as
/// httparse, which runs out of slots only then).
pub(super) fn parse(
    buf: &[u8],
    max_headers: usize,
    mut on_header: impl FnMut(Name, Span),
) -> Result<Option<Complete>, Invalid> {
    let Some((mut at, code, minor)) = status_line(buf)? else {
        return Ok(None);
    };
    let mut count = 0;
    loop {
        let start = at;
        match buf.get(at) {
            None => return Ok(None),
            Some(b'\r' | b'\n') => {
                let Some(len) = line_end(buf, at, Invalid::NewLine)? else {
                    return Ok(None);
                };
                return Ok(Some(Complete {
                    len,
                    code,
                    minor,
                    count,
                }));
            }
            // The first byte checked on its own: an empty name (a line starting with `:`) and
            // obs-fold (one starting with SP/HTAB) are invalid names.
            Some(&b) if !is_token(b) => return Err(Invalid::HeaderName),
            Some(_) => {}
        }
        let (name, colon) = match known_name(buf, at) {
            Some(known) => known,
            None => {
                let colon = token_end(buf, at + 1);
                match buf.get(colon) {
                    None => return Ok(None),
                    Some(b':') => (Name::Other, colon),
                    Some(_) => return Err(Invalid::HeaderName),
                }
            }
        };
        // SP and HTAB are value bytes, so one scan finds the line's end; the value is what
        // lies between without the SP/HTAB on either side (an empty value sits where the
        // line ends, as httparse places it).
        let end = value_end(buf, colon + 1);
        let Some(next) = line_end(buf, end, Invalid::HeaderValue)? else {
            return Ok(None);
        };
        let mut value = colon + 1;
        while value < end && matches!(buf.get(value), Some(b' ' | b'\t')) {
            value += 1;
        }
        let mut value_end = end;
        while value_end > value && matches!(buf.get(value_end - 1), Some(b' ' | b'\t')) {
            value_end -= 1;
        }
        if count == max_headers {
            return Err(Invalid::TooManyHeaders);
        }
        on_header(
            name,
            Span {
                name: (start, colon),
                value: (value, value_end),
            },
        );
        count += 1;
        at = next;
    }
}

/// A name and its colon (lowercase) as the words a line's start is compared with: the first
/// eight bytes, the next eight for a name over 16, and the last eight (overlapping the
/// others; a name under eight bytes is one word whose lanes past the colon are masked off).
/// Letter lanes match either case (OR 0x20 maps only the two cases of a letter onto it),
/// every other lane exactly, so a match is exactly "the line starts with this name and a
/// colon, in any case".
#[derive(Clone, Copy)]
struct Known {
    name: Name,
    /// The name and its colon.
    len: usize,
    first: Lanes,
    second: Lanes,
    last: Lanes,
}

/// One word of a [`Known`]: `word & keep | fold == want`.
#[derive(Clone, Copy)]
struct Lanes {
    want: u64,
    fold: u64,
    keep: u64,
}

impl Lanes {
    const fn of(lower: &[u8], from: usize) -> Self {
        let (mut want, mut fold, mut keep) = (0u64, 0u64, 0u64);
        let mut i = 0;
        while i < 8 && from + i < lower.len() {
            let b = lower[from + i];
            want |= (b as u64) << (8 * i);
            keep |= 0xff << (8 * i);
            if b.is_ascii_lowercase() {
                fold |= 0x20 << (8 * i);
            }
            i += 1;
        }
        Self { want, fold, keep }
    }

    fn matches(self, w: u64) -> bool {
        (w & self.keep) | self.fold == self.want
    }
}

impl Known {
    const fn new(name: Name, lower_with_colon: &[u8]) -> Self {
        let len = lower_with_colon.len();
        // Evaluated at compile time: the constants below are all within three words.
        assert!(len <= 24, "three words at most");
        let last = len.saturating_sub(8);
        Self {
            name,
            len,
            first: Lanes::of(lower_with_colon, 0),
            second: Lanes::of(lower_with_colon, 8),
            last: Lanes::of(lower_with_colon, last),
        }
    }
}

/// The names recognized whole: the four the codec acts on, which must all be here (a name
/// the parser does not recognize is [`Name::Other`] to the codec), and the others MCP
/// responses carry most. Constants, so each comparison is compiled with its words inline.
const CONTENT_TYPE: Known = Known::new(Name::ContentType, b"content-type:");
const CONTENT_LENGTH: Known = Known::new(Name::ContentLength, b"content-length:");
const CONNECTION: Known = Known::new(Name::Connection, b"connection:");
const TRANSFER_ENCODING: Known = Known::new(Name::TransferEncoding, b"transfer-encoding:");
const CACHE_CONTROL: Known = Known::new(Name::Other, b"cache-control:");
const DATE: Known = Known::new(Name::Other, b"date:");
const MCP_SESSION_ID: Known = Known::new(Name::Other, b"mcp-session-id:");

/// The header line at `at` starts with a known name and its colon: which, and where the
/// colon is. Compared a word at a time, so the name needs no byte-by-byte scan; `None` for
/// other names, or when fewer bytes are there than a comparison reads (the general scan then
/// decides, and for the four names the codec acts on, all of eight bytes or more, a colon
/// within reach means the bytes were there).
#[inline(always)]
fn known_name(buf: &[u8], at: usize) -> Option<(Name, usize)> {
    let first = word(buf, at)?;
    let one = |known: Known| known.at(buf, at, first);
    match (first as u8) | 0x20 {
        b'c' => one(CONTENT_TYPE)
            .or_else(|| one(CONTENT_LENGTH))
            .or_else(|| one(CONNECTION))
            .or_else(|| one(CACHE_CONTROL)),
        b'd' => one(DATE),
        b'm' => one(MCP_SESSION_ID),
        b't' => one(TRANSFER_ENCODING),
        _ => None,
    }
}

impl Known {
    /// Whether the line at `at`, whose first word is `first`, starts with this name: its name
    /// and where its colon is.
    #[inline(always)]
    fn at(self, buf: &[u8], at: usize, first: u64) -> Option<(Name, usize)> {
        let matched = self.first.matches(first)
            && (self.len <= 16 || word(buf, at + 8).is_some_and(|w| self.second.matches(w)))
            && (self.len <= 8
                || word(buf, at + self.len - 8).is_some_and(|w| self.last.matches(w)));
        matched.then_some((self.name, at + self.len - 1))
    }
}

/// The status line: where the first header line starts, the code and the minor version.
fn status_line(buf: &[u8]) -> Result<Option<(usize, u16, u8)>, Invalid> {
    // Nearly every response: two words compared, and the general path below for the rest.
    if word(buf, 0) == Some(HTTP_11)
        && word(buf, 8) == Some(u64::from_le_bytes(*b" 200 OK\r"))
        && buf.get(16) == Some(&b'\n')
    {
        return Ok(Some((17, 200, 1)));
    }
    // Empty lines before the status line are skipped (RFC 9112 2.2 allows it; httparse does).
    let mut at = 0;
    loop {
        match buf.get(at) {
            None => return Ok(None),
            Some(b'\r' | b'\n') => match line_end(buf, at, Invalid::NewLine)? {
                Some(next) => at = next,
                None => return Ok(None),
            },
            Some(_) => break,
        }
    }
    let minor = match word(buf, at) {
        Some(HTTP_11) => 1,
        Some(HTTP_10) => 0,
        Some(_) => return Err(Invalid::Version),
        // Fewer than 8 bytes: pending while they could still begin a version (`HTTP/1.`).
        None => {
            let rest = buf.get(at..).unwrap_or_default();
            let n = rest.len().min(7);
            return if rest.get(..n) == b"HTTP/1.".get(..n) {
                Ok(None)
            } else {
                Err(Invalid::Version)
            };
        }
    };
    at += 8;
    match buf.get(at) {
        None => return Ok(None),
        Some(b' ') => at += 1,
        Some(_) => return Err(Invalid::Version),
    }
    let mut code = 0u16;
    for _ in 0..3 {
        match buf.get(at) {
            None => return Ok(None),
            Some(&d @ b'0'..=b'9') => code = code * 10 + u16::from(d - b'0'),
            Some(_) => return Err(Invalid::Status),
        }
        at += 1;
    }
    // SP and a reason (possibly empty), or no reason at all.
    let end = match buf.get(at) {
        None => return Ok(None),
        Some(b' ') => value_end(buf, at + 1),
        Some(_) => at,
    };
    Ok(line_end(buf, end, Invalid::Status)?.map(|next| (next, code, minor)))
}

/// `buf[at]` ends a line (CRLF or LF): where the next line starts. `Ok(None)`: not known yet
/// (nothing at `at`, or CR at the very end). Any other byte, or CR without LF, is `err`.
fn line_end(buf: &[u8], at: usize, err: Invalid) -> Result<Option<usize>, Invalid> {
    match buf.get(at) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(at + 1)),
        Some(b'\r') => match buf.get(at + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(at + 2)),
            Some(_) => Err(err),
        },
        Some(_) => Err(err),
    }
}

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// A byte in every lane.
const LO: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
const HI: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `at` as a little-endian word (byte `at` in the lowest lane), if there are 8.
fn word(buf: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The first lane of `mask` (a lane's high bit) as a byte offset.
fn first_lane(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// High bit set in each lane of `w` that is not `A-Z`, `a-z` or `-`: the bytes header names
/// are made of, checked eight at a time. Every lane is computed on its own seven low bits, so
/// no carry crosses lanes and each lane's answer is exact.
fn not_name_fast(w: u64) -> u64 {
    let low7 = w & !HI;
    // Folding in 0x20 maps `A-Z` onto `a-z` and nothing else into it.
    let folded = low7 | (0x20 * LO);
    let ge_a = folded + (0x80 - u64::from(b'a')) * LO;
    let ge_past_z = folded + (0x80 - u64::from(b'z' + 1)) * LO;
    let alpha = ge_a & !ge_past_z;
    let not_dash = (low7 ^ (u64::from(b'-') * LO)) + 0x7f * LO;
    let fast = (alpha | !not_dash) & !w & HI;
    !fast & HI
}

/// High bit set in each lane of `w` that is not a field-value byte or is HTAB: the controls
/// (0x00 to 0x1f) and DEL. SP, VCHAR and obs-text (0x80 and up) pass; exact per lane, as above.
fn not_value_fast(w: u64) -> u64 {
    let low7 = w & !HI;
    let ge_space = low7 + (0x80 - u64::from(b' ')) * LO;
    let not_del = (low7 ^ (0x7f * LO)) + 0x7f * LO;
    let ok = w | (ge_space & not_del);
    !ok & HI
}

/// Where the run of token bytes from `at` ends (`buf.len()` if it runs to the end).
fn token_end(buf: &[u8], mut at: usize) -> usize {
    while let Some(w) = word(buf, at) {
        let odd = not_name_fast(w);
        if odd == 0 {
            at += 8;
            continue;
        }
        at += first_lane(odd);
        // A token byte outside the common set (a digit, `_`, ...): go on after it.
        match buf.get(at) {
            Some(&b) if is_token(b) => at += 1,
            _ => return at,
        }
    }
    while buf.get(at).is_some_and(|&b| is_token(b)) {
        at += 1;
    }
    at
}

/// Where the run of field-value bytes (HTAB, SP, VCHAR, obs-text) from `at` ends
/// (`buf.len()` if it runs to the end).
fn value_end(buf: &[u8], mut at: usize) -> usize {
    while let Some(w) = word(buf, at) {
        let odd = not_value_fast(w);
        if odd == 0 {
            at += 8;
            continue;
        }
        at += first_lane(odd);
        match buf.get(at) {
            Some(b'\t') => at += 1,
            _ => return at,
        }
    }
    while buf.get(at).is_some_and(|&b| is_value(b)) {
        at += 1;
    }
    at
}

/// `tchar` of RFC 9110 5.6.2: ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``.
static TOKEN: [bool; 256] = {
    let mut map = [false; 256];
    let mut i = 0;
    while i < 256 {
        map[i] = matches!(
            i as u8,
            b'A'..=b'Z'
                | b'a'..=b'z'
                | b'0'..=b'9'
                | b'!'
                | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        );
        i += 1;
    }
    map
};

fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// A field-value (or reason-phrase) byte: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5).
fn is_value(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_masks_agree_with_the_byte_rules() {
        // Every byte value in every lane, beside neighbours that would carry if lanes leaked.
        for b in 0..=255u8 {
            for lane in 0..8 {
                for fill in [0u8, b'a', 0x7f, 0xff, b'\t'] {
                    let mut bytes = [fill; 8];
                    bytes[lane] = b;
                    let w = u64::from_le_bytes(bytes);
                    let name_fast = b.is_ascii_alphabetic() || b == b'-';
                    assert_eq!(
                        not_name_fast(w) >> (lane * 8 + 7) & 1 == 0,
                        name_fast,
                        "{b:#x} in lane {lane}"
                    );
                    let value_fast = is_value(b) && b != b'\t';
                    assert_eq!(
                        not_value_fast(w) >> (lane * 8 + 7) & 1 == 0,
                        value_fast,
                        "{b:#x} in lane {lane}"
                    );
                }
            }
        }
    }

    #[test]
    fn spans_and_lengths() {
        let head = b"\r\nHTTP/1.0 404 \tNot Found\r\nA: b \t\nx-Y_1:\r\nz:  \r\n\n";
        let mut spans = Vec::new();
        let done = parse(head, 10, |_, s| spans.push(s));
        assert_eq!(
            done,
            Ok(Some(Complete {
                len: head.len(),
                code: 404,
                minor: 0,
                count: 3
            }))
        );
        let text: Vec<(&[u8], &[u8])> = spans
            .iter()
            .map(|s| (&head[s.name.0..s.name.1], &head[s.value.0..s.value.1]))
            .collect();
        assert_eq!(text, [(&b"A"[..], &b"b"[..]), (b"x-Y_1", b""), (b"z", b"")]);
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\n\r\n", 1, |_, _| {}),
            Err(Invalid::TooManyHeaders)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2", 1, |_, _| {}),
            Ok(None)
        );
    }

    #[test]
    fn known_names_in_any_case_and_nothing_else() {
        let names: [(&[u8], Name); 8] = [
            (b"content-type", Name::ContentType),
            (b"content-length", Name::ContentLength),
            (b"connection", Name::Connection),
            (b"transfer-encoding", Name::TransferEncoding),
            (b"cache-control", Name::Other),
            (b"date", Name::Other),
            (b"mcp-session-id", Name::Other),
            (b"x-other-name", Name::Other),
        ];
        for (lower, want) in names {
            let known = lower != b"x-other-name";
            for name in [lower.to_vec(), lower.to_ascii_uppercase()] {
                let line = [&name[..], b": v\r\n\r\n"].concat();
                assert_eq!(
                    known_name(&line, 0),
                    known.then_some((want, name.len())),
                    "{name:?}"
                );
                let mut seen = Vec::new();
                let head = [&b"HTTP/1.1 200 OK\r\n"[..], &line].concat();
                assert!(matches!(parse(&head, 10, |n, _| seen.push(n)), Ok(Some(_))));
                assert_eq!(seen, [want]);
                // Any byte changed, or the colon missing: not that name.
                for i in 0..=name.len() {
                    for b in [b'x', b'\r', b':' ^ 0x20, 0] {
                        let mut other = line.clone();
                        if other[i] == b {
                            continue;
                        }
                        other[i] = b;
                        assert_eq!(known_name(&other, 0).map(|(_, colon)| colon), None);
                    }
                }
            }
        }
        // Too few bytes to compare: left to the general scan.
        assert_eq!(known_name(b"content", 0), None);
        assert_eq!(known_name(b"content-type", 0), None);
    }
}
