//! The writer: one JSON line per record, `msg` embedded as received.

use std::io::{self, Write};

use serde_json::value::RawValue;

use crate::event::{Event, Header};

/// Writes a trace (header first) to any [`Write`]; counts the bytes written (for the size cap
/// and rotation, which the I/O side owns).
#[derive(Debug)]
pub struct Writer<W> {
    out: W,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Writes `header` as line 1.
    ///
    /// # Errors
    ///
    /// I/O errors of `out`.
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut w = Self { out, written: 0 };
        w.line(header)?;
        Ok(w)
    }

    /// Appends one event.
    ///
    /// # Errors
    ///
    /// I/O errors of `out`.
    pub fn write_event(&mut self, ev: &Event) -> io::Result<()> {
        self.line(ev)
    }

    /// Bytes written so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Flushes the output.
    ///
    /// # Errors
    ///
    /// I/O errors of `out`.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn line<T: serde::Serialize>(&mut self, v: &T) -> io::Result<()> {
        let mut buf = serde_json::to_vec(v).map_err(io::Error::other)?;
        buf.push(b'\n');
        self.out.write_all(&buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }
}

/// A body as a trace `msg`: the bytes as received, with CR and LF (whitespace between JSON
/// tokens: JSON strings cannot hold raw control characters) turned into spaces so the record stays
/// on one line. `None` when the body is not one JSON value (the caller writes `raw_b64`).
pub fn msg_of(body: &[u8]) -> Option<Box<RawValue>> {
    let text = std::str::from_utf8(body).ok()?;
    let text = if text.contains(['\r', '\n']) {
        std::borrow::Cow::Owned(text.replace(['\r', '\n'], " "))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let trimmed = text.trim_matches(|c: char| c == ' ' || c == '\t');
    if trimmed.is_empty() {
        return None;
    }
    RawValue::from_string(trimmed.to_owned()).ok()
}
