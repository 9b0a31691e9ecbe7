//! The SSE encoder: one event or comment as one contiguous, exactly pre-sized write.

use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};

/// One event to encode, borrowed from the caller.
///
/// Build it with [`SseEventRef::new`] and the `with_*` methods:
///
/// ```
/// use mcpx_wire::sse::SseEventRef;
///
/// let event = SseEventRef::new(b"{}").with_id("s1-7").with_event("message").with_retry(1_000);
/// assert_eq!(event.id, Some("s1-7"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SseEventRef<'a> {
    /// The `event:` field (the event type); `None` writes no field, which readers take as
    /// `"message"`. Must not contain CR or LF.
    pub event: Option<&'a str>,
    /// The `id:` field; `None` writes no field. `Some("")` writes `id:`, which resets the reader's
    /// last event ID. Must not contain CR, LF or NUL.
    pub id: Option<&'a str>,
    /// The `retry:` field: the reconnection time the reader should use, in milliseconds.
    pub retry: Option<u64>,
    /// The payload. Split on every line end (LF, CRLF or CR) into `data:` lines, so a reader gets
    /// it back with each line end normalised to LF. Empty data still writes one `data:` line,
    /// because a reader dispatches an event only if it saw at least one.
    pub data: &'a [u8],
}

impl<'a> SseEventRef<'a> {
    /// An event carrying `data`, with no `event`, `id` or `retry` field.
    #[must_use]
    pub const fn new(data: &'a [u8]) -> Self {
        Self {
            event: None,
            id: None,
            retry: None,
            data,
        }
    }

    /// Sets the `event:` field (the event type).
    #[must_use]
    pub const fn with_event(mut self, event: &'a str) -> Self {
        self.event = Some(event);
        self
    }

    /// Sets the `id:` field.
    #[must_use]
    pub const fn with_id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the `retry:` field, in milliseconds.
    #[must_use]
    pub const fn with_retry(mut self, retry_ms: u64) -> Self {
        self.retry = Some(retry_ms);
        self
    }
}

/// Why [`encode_event`] refused an event. Nothing was written to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseEncodeError {
    /// The `event` field contains a CR or LF, which would end the field early (and could inject
    /// fields). Fix: use a single-line event type.
    EventHasLineBreak,
    /// The `id` field contains a CR or LF, which would end the field early. Fix: use a
    /// single-line id.
    IdHasLineBreak,
    /// The `id` field contains NUL, which makes readers ignore the field (WHATWG HTML). Fix:
    /// remove the NUL.
    IdHasNul,
}

impl fmt::Display for SseEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EventHasLineBreak => "SSE event type contains a line break",
            Self::IdHasLineBreak => "SSE event id contains a line break",
            Self::IdHasNul => "SSE event id contains NUL",
        })
    }
}

impl Error for SseEncodeError {}

/// Appends one event to `buf`: `event:`, `id:`, `retry:` fields (those that are set), the data
/// lines, then the blank line that dispatches it.
///
/// The exact length is computed first and reserved once, so the event is one contiguous run of
/// bytes; if `buf` already has that much spare capacity nothing is allocated. Cost: two passes
/// over `data` (one to measure, one to copy), `memchr`-accelerated.
///
/// # Errors
///
/// [`SseEncodeError`] if `event` contains CR or LF, or `id` contains CR, LF or NUL. `buf` is left
/// untouched in that case.
///
/// ```
/// use bytes::BytesMut;
/// use mcpx_wire::sse::{SseEventRef, encode_event};
///
/// let mut buf = BytesMut::new();
/// encode_event(&mut buf, &SseEventRef::new(b"a\r\nb").with_event("ping").with_id("7"))?;
/// assert_eq!(&buf[..], b"event: ping\nid: 7\ndata: a\ndata: b\n\n".as_slice());
/// # Ok::<(), mcpx_wire::sse::SseEncodeError>(())
/// ```
pub fn encode_event(buf: &mut BytesMut, event: &SseEventRef<'_>) -> Result<(), SseEncodeError> {
    if let Some(name) = event.event
        && has_line_break(name.as_bytes())
    {
        return Err(SseEncodeError::EventHasLineBreak);
    }
    if let Some(id) = event.id {
        if has_line_break(id.as_bytes()) {
            return Err(SseEncodeError::IdHasLineBreak);
        }
        if memchr::memchr(0, id.as_bytes()).is_some() {
            return Err(SseEncodeError::IdHasNul);
        }
    }

    let mut len = 1; // the blank line
    if let Some(name) = event.event {
        len += field_len(b"event", name.as_bytes());
    }
    if let Some(id) = event.id {
        len += field_len(b"id", id.as_bytes());
    }
    if let Some(retry) = event.retry {
        len += "retry: \n".len() + decimal_len(retry);
    }
    len += Lines::new(event.data)
        .map(|line| field_len(b"data", line))
        .sum::<usize>();
    buf.reserve(len);

    if let Some(name) = event.event {
        put_field(buf, b"event", name.as_bytes());
    }
    if let Some(id) = event.id {
        put_field(buf, b"id", id.as_bytes());
    }
    if let Some(retry) = event.retry {
        buf.put_slice(b"retry: ");
        buf.put_slice(crate::Decimal::new(retry).as_bytes());
        buf.put_u8(b'\n');
    }
    for line in Lines::new(event.data) {
        put_field(buf, b"data", line);
    }
    buf.put_u8(b'\n');
    Ok(())
}

/// Appends a comment block to `buf`: each line of `text` (split on LF, CRLF or CR) as a line
/// starting with `:`, then a blank line. Readers ignore it; servers send it as a keep-alive so
/// that proxies do not time the stream out.
///
/// `encode_comment(buf, "")` writes `:\n\n` (3 bytes). Like [`encode_event`] it reserves the
/// exact length once and allocates nothing if `buf` has the capacity.
///
/// ```
/// use bytes::BytesMut;
/// use mcpx_wire::sse::encode_comment;
///
/// let mut buf = BytesMut::new();
/// encode_comment(&mut buf, "keep-alive");
/// assert_eq!(&buf[..], b": keep-alive\n\n".as_slice());
/// ```
pub fn encode_comment(buf: &mut BytesMut, text: &str) {
    let len = 1 + Lines::new(text.as_bytes())
        .map(|line| field_len(b"", line))
        .sum::<usize>();
    buf.reserve(len);
    for line in Lines::new(text.as_bytes()) {
        put_field(buf, b"", line);
    }
    buf.put_u8(b'\n');
}

fn has_line_break(bytes: &[u8]) -> bool {
    memchr::memchr2(b'\n', b'\r', bytes).is_some()
}

/// Length of `name: value\n`, or `name:\n` when `value` is empty.
fn field_len(name: &[u8], value: &[u8]) -> usize {
    if value.is_empty() {
        name.len() + 2
    } else {
        name.len() + 3 + value.len()
    }
}

/// Writes exactly [`field_len`] bytes.
fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.put_slice(name);
    if value.is_empty() {
        buf.put_slice(b":\n");
    } else {
        buf.put_slice(b": ");
        buf.put_slice(value);
        buf.put_u8(b'\n');
    }
}

fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// The lines of `bytes` split on LF, CRLF and CR. Always yields at least one (possibly empty)
/// line, and an empty last line after a trailing line end, so that joining the lines with LF
/// gives back `bytes` with its line ends normalised.
struct Lines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: Some(bytes) }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest.take()?;
        let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
            return Some(rest);
        };
        let (line, tail) = rest.split_at_checked(end)?;
        let eol_len = if tail.starts_with(b"\r\n") { 2 } else { 1 };
        self.rest = tail.get(eol_len..);
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(event: &SseEventRef<'_>) -> Result<BytesMut, SseEncodeError> {
        let mut buf = BytesMut::new();
        encode_event(&mut buf, event)?;
        Ok(buf)
    }

    #[test]
    fn sse_encode_all_fields_exact_bytes() {
        let event = SseEventRef::new(br#"{"jsonrpc":"2.0","method":"x"}"#)
            .with_event("message")
            .with_id("s1-42")
            .with_retry(3000);
        let buf = encoded(&event).unwrap();
        assert_eq!(
            &buf[..],
            b"event: message\nid: s1-42\nretry: 3000\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"
                .as_slice()
        );
    }

    #[test]
    fn sse_encode_priming_event_has_empty_data_line() {
        let buf = encoded(&SseEventRef::new(b"").with_id("s1-0")).unwrap();
        assert_eq!(&buf[..], b"id: s1-0\ndata:\n\n".as_slice());
    }

    #[test]
    fn sse_encode_splits_data_on_every_line_end() {
        let buf = encoded(&SseEventRef::new(b"a\nb\r\nc\rd\n\ne\r")).unwrap();
        assert_eq!(
            &buf[..],
            b"data: a\ndata: b\ndata: c\ndata: d\ndata:\ndata: e\ndata:\n\n".as_slice()
        );
    }

    #[test]
    fn sse_encode_retry_digits() {
        for (retry, text) in [
            (0u64, "0"),
            (9, "9"),
            (10, "10"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let buf = encoded(&SseEventRef::new(b"x").with_retry(retry)).unwrap();
            assert_eq!(buf, format!("retry: {text}\ndata: x\n\n").as_bytes());
        }
    }

    #[test]
    fn sse_encode_empty_id_and_event_write_bare_fields() {
        let buf = encoded(&SseEventRef::new(b"x").with_event("").with_id("")).unwrap();
        assert_eq!(&buf[..], b"event:\nid:\ndata: x\n\n".as_slice());
    }

    #[test]
    fn sse_encode_rejects_line_breaks_and_nul_without_writing() {
        let mut buf = BytesMut::from(&b"kept"[..]);
        let cases = [
            (
                SseEventRef::new(b"x").with_id("a\nb"),
                SseEncodeError::IdHasLineBreak,
            ),
            (
                SseEventRef::new(b"x").with_id("a\r"),
                SseEncodeError::IdHasLineBreak,
            ),
            (
                SseEventRef::new(b"x").with_id("a\0"),
                SseEncodeError::IdHasNul,
            ),
            (
                SseEventRef::new(b"x").with_event("a\nid: 9"),
                SseEncodeError::EventHasLineBreak,
            ),
        ];
        for (event, error) in cases {
            assert_eq!(encode_event(&mut buf, &event), Err(error));
            assert_eq!(&buf[..], b"kept".as_slice());
        }
        assert!(!SseEncodeError::IdHasNul.to_string().is_empty());
    }

    #[test]
    fn sse_encode_reserves_exactly_once() {
        let event = SseEventRef::new(b"line one\nline two\r\n")
            .with_event("e")
            .with_id("1")
            .with_retry(12345);
        let len = encoded(&event).unwrap().len();
        let mut buf = BytesMut::with_capacity(len);
        let ptr = buf.as_ptr();
        encode_event(&mut buf, &event).unwrap();
        assert_eq!((buf.len(), buf.capacity(), buf.as_ptr()), (len, len, ptr));
    }

    #[test]
    fn sse_comment_keep_alive_and_multi_line() {
        let mut buf = BytesMut::new();
        encode_comment(&mut buf, "");
        encode_comment(&mut buf, "ping");
        encode_comment(&mut buf, "a\r\nb\rc\n");
        assert_eq!(&buf[..], b":\n\n: ping\n\n: a\n: b\n: c\n:\n\n".as_slice());
    }
}
