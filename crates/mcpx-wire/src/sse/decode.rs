//! The incremental SSE decoder: WHATWG event-stream interpretation over a caller-owned buffer.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::limits::DEFAULT_MAX_SSE_EVENT_BYTES;

/// The UTF-8 byte order mark, dropped once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event, as an `EventSource` would see it.
///
/// Cheap to clone: the data is a [`Bytes`] and the id is reference-counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    event_type: Option<Box<str>>,
    data: Bytes,
    has_id: bool,
    last_event_id: Option<Arc<str>>,
}

impl SseEvent {
    /// The event type: the last non-empty `event:` field of the event, or `"message"`.
    #[must_use]
    pub fn event_type(&self) -> &str {
        self.event_type.as_deref().unwrap_or("message")
    }

    /// The data: the values of the event's `data:` fields joined with LF. Empty when the event
    /// had only empty `data:` lines (the MCP priming event). The bytes are kept as they arrived
    /// (invalid UTF-8 is not replaced); the JSON decoder validates them.
    #[must_use]
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Takes the data out of the event.
    #[must_use]
    pub fn into_data(self) -> Bytes {
        self.data
    }

    /// The `id:` field of this event, if it had one (the last one wins). `Some("")` means the
    /// server reset the last event ID. An `id:` containing NUL is ignored, as in WHATWG HTML.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.has_id.then(|| self.last_event_id())
    }

    /// The stream's last event ID when this event was dispatched: this event's `id:` if it had
    /// one, otherwise the one of the latest earlier event that had one (`""` if none).
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        self.last_event_id.as_deref().unwrap_or("")
    }
}

/// Why [`SseDecoder::decode`] did not return an event. The decoder stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseError {
    /// An event was larger than the decoder's limit. Reported once per event; the rest of the
    /// event is discarded as it arrives (without being buffered) and decoding resumes with the
    /// next event. Fix: raise the limit with [`SseDecoder::with_max_event_bytes`] if such events
    /// are legitimate.
    EventTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EventTooLarge { limit } => {
                write!(f, "SSE event larger than {limit} bytes discarded")
            }
        }
    }
}

impl Error for SseError {}

/// An incremental, bounded Server-Sent Events decoder (WHATWG HTML "event stream
/// interpretation").
///
/// # Call protocol
///
/// Append the bytes that arrived to a [`BytesMut`], then call [`decode`](Self::decode) until it
/// returns `Ok(None)` (it consumes the complete lines it used and leaves the rest). At end of
/// stream call [`decode_eof`](Self::decode_eof) until it returns `Ok(None)`. The events (and
/// errors) are the same however the stream was split.
///
/// # Semantics
///
/// - Line ends are LF, CRLF and CR; a CR ending one chunk and an LF starting the next are one
///   line end.
/// - A UTF-8 BOM at the very start of the stream is dropped (once). If the first bytes are a
///   strict prefix of the BOM the decoder waits for more.
/// - Lines starting with `:` are comments: ignored, but counted by
///   [`comments_seen`](Self::comments_seen) so a client can see keep-alives.
/// - `name: value` sets a field (one space after the colon is stripped); a line without a colon
///   is a field with an empty value; unknown fields are ignored.
/// - A blank line ends the event block. It dispatches an event if at least one `data` line was
///   seen, even an empty one (`data:` alone dispatches an event with empty data, which is how
///   the MCP priming event works).
/// - `id` and the last event ID: an `id` field without NUL becomes the stream's last event ID
///   when its block ends (the WHATWG "last event ID string"); `id:` with an empty value resets
///   it. `retry` (ASCII digits only, fitting in `u64`) takes effect immediately.
/// - Invalid UTF-8: `data` is kept byte for byte; `event` and `id` values are decoded with
///   U+FFFD replacement, as WHATWG does for the whole stream.
/// - End of stream: an unterminated last line and an event without its blank line are
///   discarded, as WHATWG requires.
///
/// # Bounds
///
/// An event's size is the bytes of its field lines, counting each line end as one byte (the
/// dispatching blank line and comment lines are not counted, but a single comment line must fit
/// in what is left of the limit too). Beyond [`max_event_bytes`](Self::max_event_bytes) the
/// decoder returns [`SseError::EventTooLarge`] once, drops the fields it had gathered for that
/// event (including a pending `id`), discards the rest of the event as it arrives (up to the
/// next blank line) and resumes. Between calls the decoder holds at most one event's data and
/// leaves at most `max_event_bytes` bytes (one incomplete line) in the caller's buffer.
///
/// # Cost
///
/// Every byte is scanned once (`memchr`), even when it arrives one byte at a time. A single
/// `data:` line is handed out as a slice of the input (zero copy: the buffer is split and
/// frozen, which allocates once per buffer the first time it is split); only multi-line data is
/// copied, into one buffer. `event` and `id` values allocate.
#[derive(Debug)]
pub struct SseDecoder {
    max_event_bytes: usize,

    // Stream state, kept across `decode_eof` (a reconnection resumes from it).
    last_event_id: Option<Arc<str>>,
    retry: Option<u64>,
    comments_seen: u64,

    // Framing state.
    /// No byte of the stream has been looked at: a BOM may still come.
    at_start: bool,
    /// The previous line ended with CR: an LF right after it belongs to that line end.
    skip_lf: bool,
    /// `buf[..scan_pos]` is known to hold no line end.
    scan_pos: usize,
    /// Dropping the rest of an oversized event, up to the next blank line.
    discarding: bool,
    /// While discarding: the start of the current line was already dropped, so its line end is
    /// not a blank line.
    mid_line: bool,

    // The event being gathered.
    event_bytes: usize,
    data: Data,
    event_type: Option<Box<str>>,
    id_seen: bool,
    pending_id: Option<Arc<str>>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder bounded by [`DEFAULT_MAX_SSE_EVENT_BYTES`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_SSE_EVENT_BYTES)
    }

    /// A decoder that rejects events larger than `max_event_bytes` (see the type's "Bounds").
    #[must_use]
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            last_event_id: None,
            retry: None,
            comments_seen: 0,
            at_start: true,
            skip_lf: false,
            scan_pos: 0,
            discarding: false,
            mid_line: false,
            event_bytes: 0,
            data: Data::Empty,
            event_type: None,
            id_seen: false,
            pending_id: None,
        }
    }

    /// The event size limit, in bytes.
    #[must_use]
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// The stream's last event ID (what a client sends as `Last-Event-ID` when it reconnects),
    /// or `None` if no event set one or the latest `id:` was empty.
    #[must_use]
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection time from the latest valid `retry:` field, in milliseconds.
    #[must_use]
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// How many comment lines (keep-alives) the decoder has seen.
    #[must_use]
    pub fn comments_seen(&self) -> u64 {
        self.comments_seen
    }

    /// Decodes the next event from the complete lines at the front of `buf`, consuming them.
    ///
    /// `Ok(None)` means more bytes are needed; whatever incomplete line is left stays in `buf`
    /// (the decoder remembers how far it scanned). Call again after `Ok(Some(_))` or `Err(_)`:
    /// more events may be buffered.
    ///
    /// Cost: O(bytes consumed), plus O(new bytes) to scan the incomplete line; allocations as
    /// described on [`SseDecoder`].
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`], once per oversized event; the decoder has already skipped
    /// past the offending bytes and continues with the next event on the next call.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<SseEvent>, SseError> {
        loop {
            if self.at_start {
                let n = buf.len().min(BOM.len());
                if buf.get(..n) == BOM.get(..n) {
                    if n < BOM.len() {
                        return Ok(None);
                    }
                    buf.advance(BOM.len());
                }
                self.at_start = false;
            }
            if self.skip_lf {
                match buf.first() {
                    None => return Ok(None),
                    Some(b'\n') => buf.advance(1),
                    Some(_) => {}
                }
                self.skip_lf = false;
            }

            let found = buf
                .get(self.scan_pos..)
                .and_then(|unscanned| memchr::memchr2(b'\n', b'\r', unscanned));
            let Some(found) = found else {
                return self.incomplete_line(buf);
            };
            let line_len = self.scan_pos + found;
            self.scan_pos = 0;
            self.skip_lf = buf.get(line_len) == Some(&b'\r');

            if self.discarding {
                buf.advance(line_len + 1);
                if line_len == 0 && !self.mid_line {
                    self.discarding = false;
                }
                self.mid_line = false;
            } else if line_len == 0 {
                buf.advance(1);
                if let Some(event) = self.end_block() {
                    return Ok(Some(event));
                }
            } else if !self.fits(line_len) {
                buf.advance(line_len + 1);
                return Err(self.start_discarding(false));
            } else {
                self.process_line(buf, line_len);
            }
        }
    }

    /// Like [`decode`](Self::decode), at end of stream: returns the events still complete in
    /// `buf`, then discards the rest (an unterminated line and an event missing its blank line,
    /// as WHATWG requires), clears `buf` and returns `Ok(None)`.
    ///
    /// After that the decoder is ready for a new stream (say, after reconnecting): it expects a
    /// possible BOM again and keeps [`last_event_id`](Self::last_event_id),
    /// [`retry`](Self::retry) and [`comments_seen`](Self::comments_seen).
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<SseEvent>, SseError> {
        if let Some(event) = self.decode(buf)? {
            return Ok(Some(event));
        }
        buf.clear();
        self.reset_block();
        self.at_start = true;
        self.skip_lf = false;
        self.scan_pos = 0;
        self.discarding = false;
        self.mid_line = false;
        Ok(None)
    }

    /// Whether a line of `line_len` bytes plus its line end still fits in the current event.
    fn fits(&self, line_len: usize) -> bool {
        self.event_bytes.saturating_add(line_len).saturating_add(1) <= self.max_event_bytes
    }

    /// `buf` holds no line end: wait for one, unless the line can no longer fit.
    fn incomplete_line(&mut self, buf: &mut BytesMut) -> Result<Option<SseEvent>, SseError> {
        if self.discarding {
            self.mid_line |= !buf.is_empty();
            buf.clear();
            self.scan_pos = 0;
            return Ok(None);
        }
        if !buf.is_empty() && !self.fits(buf.len()) {
            buf.clear();
            self.scan_pos = 0;
            return Err(self.start_discarding(true));
        }
        self.scan_pos = buf.len();
        Ok(None)
    }

    #[cold]
    fn start_discarding(&mut self, mid_line: bool) -> SseError {
        self.reset_block();
        self.discarding = true;
        self.mid_line = mid_line;
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    fn reset_block(&mut self) {
        self.event_bytes = 0;
        self.data = Data::Empty;
        self.event_type = None;
        self.id_seen = false;
        self.pending_id = None;
    }

    /// A blank line: commit the id, dispatch the event if there was data, reset the block.
    fn end_block(&mut self) -> Option<SseEvent> {
        self.event_bytes = 0;
        let has_id = std::mem::take(&mut self.id_seen);
        if has_id {
            self.last_event_id = self.pending_id.take();
        }
        let event_type = self.event_type.take();
        let data = match std::mem::replace(&mut self.data, Data::Empty) {
            Data::Empty => return None,
            Data::One(data) => data,
            Data::Many(data) => data.freeze(),
        };
        Some(SseEvent {
            event_type,
            data,
            has_id,
            last_event_id: self.last_event_id.clone(),
        })
    }

    /// Consumes the non-blank line `buf[..line_len]` and its one-byte line end (an LF after a
    /// CR is skipped later), applying its field. The caller checked that it fits.
    fn process_line(&mut self, buf: &mut BytesMut, line_len: usize) {
        let line = buf.get(..line_len).unwrap_or_default();
        if line.first() == Some(&b':') {
            self.comments_seen += 1;
            buf.advance(line_len + 1);
            return;
        }
        self.event_bytes += line_len + 1;
        let (name, value_start) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let space = usize::from(line.get(colon + 1) == Some(&b' '));
                (line.get(..colon).unwrap_or_default(), colon + 1 + space)
            }
            None => (line, line_len),
        };
        let value = line.get(value_start..).unwrap_or_default();
        match name {
            b"data" => {
                let mut value = buf.split_to(line_len + 1);
                value.truncate(line_len);
                value.advance(value_start);
                self.data.push(value);
                return;
            }
            b"event" => {
                self.event_type =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into());
            }
            // An id containing NUL is ignored (WHATWG).
            b"id" if memchr::memchr(0, value).is_none() => {
                self.id_seen = true;
                self.pending_id =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into());
            }
            b"retry" => self.retry = crate::parse_decimal(value).or(self.retry),
            _ => {}
        }
        buf.advance(line_len + 1);
    }
}

/// The data buffer of the event being gathered.
#[derive(Debug)]
enum Data {
    /// No `data` line yet: a blank line dispatches nothing.
    Empty,
    /// One `data` line: a frozen slice of the input, no copy.
    One(Bytes),
    /// Several: copied and joined with LF.
    Many(BytesMut),
}

impl Data {
    fn push(&mut self, value: BytesMut) {
        match self {
            Self::Empty => *self = Self::One(value.freeze()),
            Self::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + 1 + value.len());
                joined.put_slice(first);
                joined.put_u8(b'\n');
                joined.put_slice(&value);
                *self = Self::Many(joined);
            }
            Self::Many(joined) => {
                joined.reserve(1 + value.len());
                joined.put_u8(b'\n');
                joined.put_slice(&value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` in one piece, then at EOF; returns events, errors as `Err`.
    fn decode_all(decoder: &mut SseDecoder, input: &[u8]) -> Vec<Result<SseEvent, SseError>> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(event)) => out.push(Ok(event)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
        loop {
            match decoder.decode_eof(&mut buf) {
                Ok(Some(event)) => out.push(Ok(event)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
        assert!(buf.is_empty());
        out
    }

    /// Decodes `input` one byte at a time.
    fn decode_bytewise(decoder: &mut SseDecoder, input: &[u8]) -> Vec<Result<SseEvent, SseError>> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &byte in input {
            buf.put_u8(byte);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(event)) => out.push(Ok(event)),
                    Ok(None) => break,
                    Err(error) => out.push(Err(error)),
                }
            }
        }
        loop {
            match decoder.decode_eof(&mut buf) {
                Ok(Some(event)) => out.push(Ok(event)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
        out
    }

    fn events(input: &[u8]) -> Vec<SseEvent> {
        let whole = decode_all(&mut SseDecoder::new(), input);
        let bytewise = decode_bytewise(&mut SseDecoder::new(), input);
        assert_eq!(whole, bytewise);
        whole.into_iter().map(Result::unwrap).collect()
    }

    fn summary(events: &[SseEvent]) -> Vec<(&str, &[u8], Option<&str>, &str)> {
        events
            .iter()
            .map(|e| (e.event_type(), e.data().as_ref(), e.id(), e.last_event_id()))
            .collect()
    }

    #[test]
    fn whatwg_example_stock_ticker_and_multi_line() {
        let input = b"data: This is the first message.\n\n\
data: This is the second message, it\n\
data: has two lines.\n\n\
data: This is the third message.\n\n";
        let events = events(input);
        assert_eq!(
            summary(&events),
            vec![
                (
                    "message",
                    b"This is the first message.".as_slice(),
                    None,
                    ""
                ),
                (
                    "message",
                    b"This is the second message, it\nhas two lines.".as_slice(),
                    None,
                    ""
                ),
                (
                    "message",
                    b"This is the third message.".as_slice(),
                    None,
                    ""
                ),
            ]
        );
    }

    #[test]
    fn whatwg_example_event_types() {
        let input = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n";
        let events = events(input);
        let types: Vec<_> = events
            .iter()
            .map(|e| (e.event_type(), e.data().as_ref()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("add", b"73857293".as_slice()),
                ("remove", b"2153".as_slice()),
                ("add", b"113411".as_slice()),
            ]
        );
    }

    #[test]
    fn whatwg_example_comment_id_reset_and_unterminated_event() {
        let input =
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
        let mut decoder = SseDecoder::new();
        let events: Vec<_> = decode_all(&mut decoder, input)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            summary(&events),
            vec![
                ("message", b"first event".as_slice(), Some("1"), "1"),
                ("message", b"second event".as_slice(), Some(""), ""),
            ]
        );
        assert_eq!(decoder.comments_seen(), 1);
        assert_eq!(decoder.last_event_id(), None);
    }

    #[test]
    fn whatwg_example_fields_without_colon() {
        // Two events: "" and "\n"; the final "data:" has no blank line and is dropped.
        let events = events(b"data\n\ndata\ndata\n\ndata:");
        assert_eq!(
            summary(&events),
            vec![
                ("message", b"".as_slice(), None, ""),
                ("message", b"\n".as_slice(), None, ""),
            ]
        );
    }

    #[test]
    fn whatwg_example_space_after_colon_stripped_once() {
        let events = events(b"data:test\n\ndata: test\n\ndata:  test\n\n");
        let data: Vec<_> = events.iter().map(|e| e.data().as_ref()).collect();
        assert_eq!(
            data,
            vec![b"test".as_slice(), b"test".as_slice(), b" test".as_slice()]
        );
    }

    #[test]
    fn sse_mixed_line_ends() {
        let events = events(b"data: a\r\ndata: b\rdata: c\n\r\n\rdata: d\r\r");
        assert_eq!(
            summary(&events),
            vec![
                ("message", b"a\nb\nc".as_slice(), None, ""),
                ("message", b"d".as_slice(), None, ""),
            ]
        );
    }

    #[test]
    fn sse_cr_then_lf_in_next_chunk_is_one_line_end() {
        let mut decoder = SseDecoder::new();
        let mut buf = BytesMut::from(&b"data: a\r"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.put_slice(b"\ndata: b\r");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.put_slice(b"\n\r\n");
        let event = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(event.data().as_ref(), b"a\nb".as_slice());
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn sse_bom_dropped_once_at_start_only() {
        let first = events(b"\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n");
        assert_eq!(
            summary(&first),
            vec![("message", b"x".as_slice(), None, "")]
        );
        // A second BOM at the start makes the field name unknown.
        assert!(events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n").is_empty());
        // A BOM prefix that is not a BOM is kept (and here makes the field unknown).
        assert!(events(b"\xEF\xBBdata: x\n\n").is_empty());
    }

    #[test]
    fn sse_bom_split_across_chunks() {
        let mut decoder = SseDecoder::new();
        let mut buf = BytesMut::from(&b"\xEF"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 1);
        buf.put_slice(b"\xBB");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.put_slice(b"\xBFdata: x\n\n");
        let event = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(event.data().as_ref(), b"x".as_slice());
    }

    #[test]
    fn mcp_priming_event_then_message() {
        let input = b"id: s1-0\ndata:\n\nid: s1-1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let mut decoder = SseDecoder::new();
        let events: Vec<_> = decode_all(&mut decoder, input)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            summary(&events),
            vec![
                ("message", b"".as_slice(), Some("s1-0"), "s1-0"),
                (
                    "message",
                    br#"{"jsonrpc":"2.0","id":1,"result":{}}"#.as_slice(),
                    Some("s1-1"),
                    "s1-1"
                ),
            ]
        );
        assert_eq!(decoder.last_event_id(), Some("s1-1"));
    }

    #[test]
    fn sse_id_without_data_sets_last_event_id_but_dispatches_nothing() {
        let mut decoder = SseDecoder::new();
        let out = decode_all(&mut decoder, b"id: 7\n\ndata: x\n\n");
        let events: Vec<_> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            summary(&events),
            vec![("message", b"x".as_slice(), None, "7")]
        );
    }

    #[test]
    fn sse_id_with_nul_is_ignored() {
        let events = events(b"id: 1\n\nid: a\0b\ndata: x\n\n");
        assert_eq!(
            summary(&events),
            vec![("message", b"x".as_slice(), None, "1")]
        );
    }

    #[test]
    fn sse_unknown_fields_and_empty_event_type() {
        let events = events(b"foo: bar\nevent: a\nevent:\nEvent: b\ndata: x\n\n");
        assert_eq!(
            summary(&events),
            vec![("message", b"x".as_slice(), None, "")]
        );
    }

    #[test]
    fn sse_invalid_utf8_is_replaced_in_event_and_id_kept_in_data() {
        let events = events(b"event: a\xFFb\nid: \xC3\ndata: \xFF\xFE\n\n");
        assert_eq!(
            summary(&events),
            vec![(
                "a\u{FFFD}b",
                b"\xFF\xFE".as_slice(),
                Some("\u{FFFD}"),
                "\u{FFFD}"
            )]
        );
    }

    #[test]
    fn sse_retry_parsing() {
        let mut decoder = SseDecoder::new();
        let _ = decode_all(&mut decoder, b"retry: 1000\n");
        // Applied immediately, even without a blank line or data.
        assert_eq!(decoder.retry(), Some(1000));
        for ignored in [
            &b"retry: 10a\n"[..],
            b"retry:\n",
            b"retry: -5\n",
            b"retry:  5\n",
            b"retry: 99999999999999999999999\n",
        ] {
            let _ = decode_all(&mut decoder, ignored);
            assert_eq!(decoder.retry(), Some(1000));
        }
        let _ = decode_all(&mut decoder, b"retry:0\n");
        assert_eq!(decoder.retry(), Some(0));
    }

    #[test]
    fn sse_comments_are_counted_and_ignored() {
        let mut decoder = SseDecoder::new();
        let out = decode_all(&mut decoder, b":\n\n: ping\n\ndata: x\n: inside\n\n");
        assert_eq!(out.len(), 1);
        assert_eq!(decoder.comments_seen(), 3);
    }

    #[test]
    fn sse_single_data_line_is_zero_copy() {
        let mut buf = BytesMut::from(&b"id: 1\ndata: payload\n\n"[..]);
        let start = buf.as_ptr() as usize;
        let end = start + buf.len();
        let event = SseDecoder::new().decode(&mut buf).unwrap().unwrap();
        let data = event.data().as_ptr() as usize;
        assert!(start <= data && data < end);
        assert_eq!(event.data().as_ref(), b"payload".as_slice());
    }

    #[test]
    fn sse_oversized_event_reported_once_then_recovers() {
        let big = "x".repeat(100);
        let input = format!(
            "data: small\n\nid: 9\ndata: {big}\ndata: more\nid: 10\n\nid: 11\ndata: after\n\n"
        );
        for bytewise in [false, true] {
            let mut decoder = SseDecoder::with_max_event_bytes(64);
            let out = if bytewise {
                decode_bytewise(&mut decoder, input.as_bytes())
            } else {
                decode_all(&mut decoder, input.as_bytes())
            };
            assert_eq!(out.len(), 3, "{out:?}");
            assert_eq!(
                out[0].as_ref().unwrap().data().as_ref(),
                b"small".as_slice()
            );
            assert_eq!(out[1], Err(SseError::EventTooLarge { limit: 64 }));
            let after = out[2].as_ref().unwrap();
            assert_eq!(
                (after.data().as_ref(), after.id()),
                (b"after".as_slice(), Some("11"))
            );
            assert_eq!(decoder.last_event_id(), Some("11"));
        }
    }

    #[test]
    fn sse_oversized_unterminated_line_is_not_buffered() {
        let mut decoder = SseDecoder::with_max_event_bytes(32);
        let mut buf = BytesMut::from(&b"data: "[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.put_slice(&[b'y'; 40]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(SseError::EventTooLarge { limit: 32 })
        );
        assert!(buf.is_empty());
        for _ in 0..10 {
            buf.put_slice(&[b'y'; 1000]);
            assert_eq!(decoder.decode(&mut buf), Ok(None));
            assert!(buf.is_empty());
        }
        // The giant line ends; the next line is still part of the discarded event.
        buf.put_slice(b"\ndata: still discarded\n\ndata: ok\n\n");
        let event = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(event.data().as_ref(), b"ok".as_slice());
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    }

    #[test]
    fn sse_event_exactly_at_limit_fits() {
        // "data: abc\n" is 10 bytes: fits a limit of 10, not 9.
        let input = b"data: abc\n\n";
        let fits = decode_all(&mut SseDecoder::with_max_event_bytes(10), input);
        assert!(fits[0].is_ok());
        let too_big = decode_all(&mut SseDecoder::with_max_event_bytes(9), input);
        assert_eq!(too_big, vec![Err(SseError::EventTooLarge { limit: 9 })]);
        assert_eq!(
            decode_bytewise(&mut SseDecoder::with_max_event_bytes(9), input),
            too_big
        );
    }

    #[test]
    fn sse_eof_discards_pending_event_and_resets_for_reconnect() {
        let mut decoder = SseDecoder::new();
        let out = decode_all(&mut decoder, b"id: 1\ndata: a\n\nid: 2\ndata: lost\n");
        assert_eq!(out.len(), 1);
        assert_eq!(decoder.last_event_id(), Some("1"));
        // A new stream may start with a BOM again; the last event ID is kept.
        let out = decode_all(&mut decoder, b"\xEF\xBB\xBFdata: b\n\n");
        let event = out[0].as_ref().unwrap();
        assert_eq!(
            (event.data().as_ref(), event.last_event_id()),
            (b"b".as_slice(), "1")
        );
    }

    #[test]
    fn sse_error_display() {
        assert_eq!(
            SseError::EventTooLarge { limit: 5 }.to_string(),
            "SSE event larger than 5 bytes discarded"
        );
    }
}
