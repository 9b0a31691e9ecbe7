//! Newline-delimited framing for the MCP stdio transport: a bounded line decoder and encoder.
//!
//! MCP over stdio sends one JSON-RPC message per line, each ended by `\n`, and messages must not
//! contain embedded newlines. [`LineFramer`] cuts lines out of a caller-owned buffer (zero copy,
//! chunk-split invariant, bounded) and [`encode_line`] writes one.
//!
//! ```
//! use bytes::BytesMut;
//! use mcpx_wire::stdio::{LineFramer, encode_line};
//!
//! let mut buf = BytesMut::new();
//! encode_line(&mut buf, br#"{"jsonrpc":"2.0","method":"ping","id":1}"#)?;
//! buf.extend_from_slice(b"\r\n  \n{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":1}");
//!
//! let mut framer = LineFramer::new();
//! let first = framer.decode(&mut buf)?.ok_or("no line")?;
//! assert_eq!(first.as_ref(), br#"{"jsonrpc":"2.0","method":"ping","id":1}"#.as_slice());
//! assert!(framer.decode(&mut buf)?.is_none()); // blank lines skipped, last line unterminated
//! let last = framer.decode_eof(&mut buf)?.ok_or("no line")?;
//! assert_eq!(last.as_ref(), br#"{"jsonrpc":"2.0","result":{},"id":1}"#.as_slice());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::error::Error;
use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::limits::DEFAULT_MAX_LINE_BYTES;

/// Why a line could not be decoded or encoded. A [`LineFramer`] stays usable after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineError {
    /// A line (without its line end) was longer than the framer's limit. Reported once per
    /// line; the rest of the line is discarded as it arrives (without being buffered) and
    /// framing resumes after its `\n`. Fix: raise the limit with
    /// [`LineFramer::with_max_line_bytes`] if such messages are legitimate.
    LineTooLong {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// [`encode_line`] was given a message containing `\n` or `\r`, which MCP's stdio transport
    /// forbids (it would split the message). Fix: serialize JSON compactly; JSON strings escape
    /// their newlines, so only pretty-printed JSON has raw ones.
    EmbeddedNewline,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => write!(f, "line longer than {limit} bytes discarded"),
            Self::EmbeddedNewline => f.write_str("message contains a line break"),
        }
    }
}

impl Error for LineError {}

/// An incremental, bounded newline-delimited framer (like tokio-util's `LinesCodec`, on bytes).
///
/// # Call protocol
///
/// Append the bytes that arrived to a [`BytesMut`], then call [`decode`](Self::decode) until it
/// returns `Ok(None)`; at end of stream call [`decode_eof`](Self::decode_eof) until it returns
/// `Ok(None)`. The lines (and errors) are the same however the input was split.
///
/// # Semantics
///
/// A line ends at `\n`; a `\r` right before it is removed too. Lines made only of spaces, tabs
/// and `\r` are skipped. At end of stream a last line without `\n` is still returned: peers often
/// omit the final newline.
///
/// # Bounds
///
/// A line longer than [`max_line_bytes`](Self::max_line_bytes) (not counting `\r\n` or `\n`)
/// gives [`LineError::LineTooLong`] once; its bytes are dropped as they arrive and framing
/// resumes after its `\n`. Between calls at most `max_line_bytes + 1` bytes (one incomplete
/// line) stay in the caller's buffer.
///
/// # Cost
///
/// Every byte is scanned once for `\n` (`memchr`), even when input arrives one byte at a time.
/// Lines are split off the buffer and frozen, not copied (the buffer allocates once, the first
/// time it is split).
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_line_bytes: usize,
    /// `buf[..scan_pos]` is known to hold no `\n`.
    scan_pos: usize,
    /// Dropping the rest of an oversized line, up to and including its `\n`.
    discarding: bool,
}

impl Default for LineFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineFramer {
    /// A framer bounded by [`DEFAULT_MAX_LINE_BYTES`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_line_bytes(DEFAULT_MAX_LINE_BYTES)
    }

    /// A framer that rejects lines longer than `max_line_bytes` (without the line end).
    #[must_use]
    pub fn with_max_line_bytes(max_line_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            scan_pos: 0,
            discarding: false,
        }
    }

    /// The line length limit, in bytes.
    #[must_use]
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Returns the next non-blank line at the front of `buf` (without `\n` or `\r\n`), split off
    /// `buf` and frozen.
    ///
    /// `Ok(None)` means more bytes are needed; the incomplete line stays in `buf` and the framer
    /// remembers how far it scanned. Call again after `Ok(Some(_))` or `Err(_)`.
    ///
    /// Cost: O(new bytes) scanning plus O(line) to check for blank lines; no copy, and no
    /// allocation once `buf` has been split once.
    ///
    /// # Errors
    ///
    /// [`LineError::LineTooLong`], once per oversized line; the framer has already skipped the
    /// offending bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, LineError> {
        loop {
            let found = buf
                .get(self.scan_pos..)
                .and_then(|unscanned| memchr::memchr(b'\n', unscanned));
            let Some(found) = found else {
                return self.incomplete_line(buf);
            };
            let newline = self.scan_pos + found;
            self.scan_pos = 0;
            if self.discarding {
                self.discarding = false;
                buf.advance(newline + 1);
                continue;
            }
            let mut line = buf.split_to(newline + 1);
            line.truncate(newline);
            if line.last() == Some(&b'\r') {
                line.truncate(newline - 1);
            }
            if line.len() > self.max_line_bytes {
                return Err(self.too_long());
            }
            if !is_blank(&line) {
                return Ok(Some(line.freeze()));
            }
        }
    }

    /// Like [`decode`](Self::decode), at end of stream: returns the lines still complete in
    /// `buf`, then a last unterminated line if it is not blank, then `Ok(None)` with `buf` empty.
    /// The framer is then ready for a new stream.
    ///
    /// # Errors
    ///
    /// As [`decode`](Self::decode).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, LineError> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        self.scan_pos = 0;
        self.discarding = false;
        let mut line = buf.split();
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        // `decode` already rejected an incomplete line over the limit.
        if is_blank(&line) {
            return Ok(None);
        }
        Ok(Some(line.freeze()))
    }

    /// `buf` holds no `\n`: wait for one, unless the line can no longer fit.
    fn incomplete_line(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, LineError> {
        if self.discarding {
            buf.clear();
            self.scan_pos = 0;
            return Ok(None);
        }
        // A trailing `\r` may be the start of `\r\n`, which does not count toward the limit.
        let content = buf.len() - usize::from(buf.last() == Some(&b'\r'));
        if content > self.max_line_bytes {
            buf.clear();
            self.scan_pos = 0;
            self.discarding = true;
            return Err(self.too_long());
        }
        self.scan_pos = buf.len();
        Ok(None)
    }

    #[cold]
    fn too_long(&self) -> LineError {
        LineError::LineTooLong {
            limit: self.max_line_bytes,
        }
    }
}

/// Appends `message` and `\n` to `buf`, reserving once (no allocation if `buf` has the room).
///
/// # Errors
///
/// [`LineError::EmbeddedNewline`] if `message` contains `\n` or `\r`; `buf` is left untouched.
pub fn encode_line(buf: &mut BytesMut, message: &[u8]) -> Result<(), LineError> {
    if memchr::memchr2(b'\n', b'\r', message).is_some() {
        return Err(LineError::EmbeddedNewline);
    }
    buf.reserve(message.len() + 1);
    buf.put_slice(message);
    buf.put_u8(b'\n');
    Ok(())
}

/// Whether a line holds only spaces, tabs and `\r` (or nothing).
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|byte| matches!(byte, b' ' | b'\t' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(framer: &mut LineFramer, chunks: &[&[u8]]) -> Vec<Result<Bytes, LineError>> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.put_slice(chunk);
            loop {
                match framer.decode(&mut buf) {
                    Ok(Some(line)) => out.push(Ok(line)),
                    Ok(None) => break,
                    Err(error) => out.push(Err(error)),
                }
            }
            assert!(buf.len() <= framer.max_line_bytes() + 1);
        }
        loop {
            match framer.decode_eof(&mut buf) {
                Ok(Some(line)) => out.push(Ok(line)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
        assert!(buf.is_empty());
        out
    }

    fn bytewise(input: &[u8]) -> Vec<&[u8]> {
        input.chunks(1).collect()
    }

    #[test]
    fn stdio_lines_lf_crlf_blank_and_final_unterminated() {
        let input = b"{\"a\":1}\n\r\n \t\n{\"b\":2}\r\n\n{\"c\":3}";
        let whole = frame(&mut LineFramer::new(), &[input]);
        assert_eq!(whole, frame(&mut LineFramer::new(), &bytewise(input)));
        let lines: Vec<_> = whole.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            lines,
            vec![
                Bytes::from_static(b"{\"a\":1}"),
                Bytes::from_static(b"{\"b\":2}"),
                Bytes::from_static(b"{\"c\":3}"),
            ]
        );
    }

    #[test]
    fn stdio_only_one_trailing_cr_removed() {
        let out = frame(&mut LineFramer::new(), &[b"x\r\r\ny\r"]);
        assert_eq!(
            out,
            vec![Ok(Bytes::from_static(b"x\r")), Ok(Bytes::from_static(b"y"))]
        );
    }

    #[test]
    fn stdio_blank_final_line_is_skipped_at_eof() {
        assert!(frame(&mut LineFramer::new(), &[b"  \r"]).is_empty());
        assert!(frame(&mut LineFramer::new(), &[b""]).is_empty());
    }

    #[test]
    fn stdio_line_is_zero_copy() {
        let mut buf = BytesMut::from(&b"hello\nworld\n"[..]);
        let start = buf.as_ptr() as usize;
        let mut framer = LineFramer::new();
        let first = framer.decode(&mut buf).unwrap().unwrap();
        let second = framer.decode(&mut buf).unwrap().unwrap();
        assert_eq!(first.as_ptr() as usize, start);
        assert_eq!(second.as_ptr() as usize, start + 6);
    }

    #[test]
    fn stdio_oversized_line_reported_once_then_recovers() {
        let input = b"ok\n0123456789abcdef\nafter\n";
        let expected = vec![
            Ok(Bytes::from_static(b"ok")),
            Err(LineError::LineTooLong { limit: 8 }),
            Ok(Bytes::from_static(b"after")),
        ];
        assert_eq!(
            frame(&mut LineFramer::with_max_line_bytes(8), &[input]),
            expected
        );
        assert_eq!(
            frame(&mut LineFramer::with_max_line_bytes(8), &bytewise(input)),
            expected
        );
    }

    #[test]
    fn stdio_line_at_limit_with_crlf_split_fits() {
        // 8 bytes of content, then "\r" and "\n" in separate chunks.
        let chunks: [&[u8]; 3] = [b"12345678", b"\r", b"\nx"];
        let out = frame(&mut LineFramer::with_max_line_bytes(8), &chunks);
        assert_eq!(
            out,
            vec![
                Ok(Bytes::from_static(b"12345678")),
                Ok(Bytes::from_static(b"x"))
            ]
        );
        let out = frame(&mut LineFramer::with_max_line_bytes(7), &chunks);
        assert_eq!(out[0], Err(LineError::LineTooLong { limit: 7 }));
    }

    #[test]
    fn stdio_oversized_unterminated_line_is_not_buffered() {
        let mut framer = LineFramer::with_max_line_bytes(16);
        let mut buf = BytesMut::from(&[b'z'; 17][..]);
        assert_eq!(
            framer.decode(&mut buf),
            Err(LineError::LineTooLong { limit: 16 })
        );
        for _ in 0..10 {
            buf.put_slice(&[b'z'; 1000]);
            assert_eq!(framer.decode(&mut buf), Ok(None));
            assert!(buf.is_empty());
        }
        buf.put_slice(b"zz\nnext\n");
        assert_eq!(
            framer.decode(&mut buf),
            Ok(Some(Bytes::from_static(b"next")))
        );
    }

    #[test]
    fn stdio_oversized_blank_line_is_still_too_long() {
        let out = frame(
            &mut LineFramer::with_max_line_bytes(4),
            &[b"          \nx\n"],
        );
        assert_eq!(
            out,
            vec![
                Err(LineError::LineTooLong { limit: 4 }),
                Ok(Bytes::from_static(b"x"))
            ]
        );
    }

    #[test]
    fn stdio_encode_line_appends_newline_and_rejects_line_breaks() {
        let mut buf = BytesMut::with_capacity(8);
        encode_line(&mut buf, b"{}").unwrap();
        assert_eq!(&buf[..], b"{}\n".as_slice());
        assert_eq!(
            encode_line(&mut buf, b"{\n}"),
            Err(LineError::EmbeddedNewline)
        );
        assert_eq!(
            encode_line(&mut buf, b"{\r}"),
            Err(LineError::EmbeddedNewline)
        );
        assert_eq!(&buf[..], b"{}\n".as_slice());
        assert!(!LineError::EmbeddedNewline.to_string().is_empty());
    }
}
