//! The reader: a trace from any [`BufRead`], one event at a time, with errors that name the
//! line and the field.
//!
//! Rules (PROFILE.md section 3): line 1 is the header; other major versions are refused; unknown
//! keys are ignored; `t` never goes backwards; a truncated last line (no newline, not valid JSON)
//! is tolerated and reported by [`Reader::truncated`]. zstd-compressed traces are recognised and
//! refused with a message saying to decompress them first.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::event::{Dir, Event, FORMAT, Header, Headers, Kind};
use crate::limits::MAX_LINE_BYTES;

/// Why a trace could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub struct TraceError {
    /// 1-based line number (0: before the first line).
    pub line: u64,
    /// The key at fault, if one is.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}, field `{field}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for TraceError {}

fn err(line: u64, field: Option<&'static str>, message: impl Into<String>) -> TraceError {
    TraceError {
        line,
        field,
        message: message.into(),
    }
}

/// The zstd frame magic (RFC 8878).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Reads a trace line by line.
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    last_t: u64,
    truncated: bool,
    header: Option<Header>,
}

impl<R: BufRead> Reader<R> {
    /// Reads and checks the header.
    ///
    /// # Errors
    ///
    /// A [`TraceError`] naming line 1 and the field (`format`, `start`, ...).
    pub fn new(input: R) -> Result<Self, TraceError> {
        let mut r = Self {
            input,
            line: 0,
            buf: Vec::new(),
            last_t: 0,
            truncated: false,
            header: None,
        };
        let Some(complete) = r.next_line()? else {
            return Err(err(1, None, "empty trace: line 1 must be the header"));
        };
        if r.buf.starts_with(&ZSTD_MAGIC) {
            return Err(err(
                1,
                None,
                "zstd-compressed trace: decompress it first (zstd -d)",
            ));
        }
        let obj = parse_object(&r.buf, r.line, complete)?
            .ok_or_else(|| err(1, None, "truncated header"))?;
        let header = header_of(&obj, r.line)?;
        r.header = Some(header);
        Ok(r)
    }

    /// The header.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Whether the last line was cut short (and skipped).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The line number of the event returned last.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next event; `None` at the end.
    ///
    /// # Errors
    ///
    /// A [`TraceError`] naming the line and the field.
    pub fn next_event(&mut self) -> Result<Option<Event>, TraceError> {
        loop {
            let Some(complete) = self.next_line()? else {
                return Ok(None);
            };
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some(obj) = parse_object(&self.buf, self.line, complete)? else {
                self.truncated = true;
                return Ok(None);
            };
            let ev = event_of(&obj, self.line)?;
            if ev.t < self.last_t {
                return Err(err(
                    self.line,
                    Some("t"),
                    format!("goes backwards ({} after {})", ev.t, self.last_t),
                ));
            }
            self.last_t = ev.t;
            return Ok(Some(ev));
        }
    }

    /// Reads every remaining event.
    ///
    /// # Errors
    ///
    /// The first [`TraceError`].
    pub fn read_all(&mut self) -> Result<Vec<Event>, TraceError> {
        let mut out = Vec::new();
        while let Some(ev) = self.next_event()? {
            out.push(ev);
        }
        Ok(out)
    }

    /// Reads one line into `buf` (without its newline); `Some(true)` when it ended with a
    /// newline, `Some(false)` for a last line without one, `None` at the end.
    fn next_line(&mut self) -> Result<Option<bool>, TraceError> {
        self.buf.clear();
        self.line += 1;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(self.line, None, format!("read error: {e}"))),
            };
            if avail.is_empty() {
                return Ok((!self.buf.is_empty()).then_some(false));
            }
            let (take, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if self.buf.len() + take > MAX_LINE_BYTES {
                return Err(err(
                    self.line,
                    None,
                    format!("line longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            self.buf
                .extend_from_slice(avail.get(..take).unwrap_or_default());
            self.input.consume(take);
            if done {
                self.buf.pop();
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                return Ok(Some(true));
            }
        }
    }
}

type Object<'a> = HashMap<String, &'a RawValue>;

/// Parses a line as a JSON object of raw members. `Ok(None)`: a truncated last line.
fn parse_object(buf: &[u8], line: u64, complete: bool) -> Result<Option<Object<'_>>, TraceError> {
    match serde_json::from_slice::<Object<'_>>(buf) {
        Ok(o) => Ok(Some(o)),
        Err(e) if !complete && e.is_eof() => Ok(None),
        Err(e) => Err(err(
            line,
            None,
            format!("not a JSON object: {e} (column {})", e.column()),
        )),
    }
}

fn field<T: DeserializeOwned>(
    obj: &Object<'_>,
    name: &'static str,
    line: u64,
    expected: &str,
) -> Result<Option<T>, TraceError> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|_| {
            err(
                line,
                Some(name),
                format!("expected {expected}, got {}", short(raw.get())),
            )
        }),
    }
}

fn required<T: DeserializeOwned>(
    obj: &Object<'_>,
    name: &'static str,
    line: u64,
    expected: &str,
) -> Result<T, TraceError> {
    field(obj, name, line, expected)?.ok_or_else(|| err(line, Some(name), "missing"))
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

fn header_of(obj: &Object<'_>, line: u64) -> Result<Header, TraceError> {
    let format: String = required(obj, "format", line, "a string")?;
    let major_ok = format == FORMAT
        || format
            .strip_prefix(FORMAT)
            .is_some_and(|rest| rest.starts_with('.'));
    if !major_ok {
        return Err(err(
            line,
            Some("format"),
            format!("{format:?} is not {FORMAT} (another format or major version)"),
        ));
    }
    let start: String = required(obj, "start", line, "an RFC 3339 time")?;
    let transport: String = required(obj, "transport", line, "a string")?;
    if !matches!(transport.as_str(), "streamable-http" | "http+sse" | "stdio") {
        return Err(err(
            line,
            Some("transport"),
            format!("{transport:?}: one of streamable-http, http+sse, stdio"),
        ));
    }
    let group: String = required(obj, "group", line, "a string")?;
    Ok(Header {
        format,
        start,
        transport,
        group,
        endpoint: field(obj, "endpoint", line, "a string")?,
        recorder: field(obj, "recorder", line, "a string")?,
        redact: field(obj, "redact", line, "an array of strings")?.unwrap_or_default(),
        hdr: field(obj, "hdr", line, "an array of strings")?.unwrap_or_default(),
        group_idle_s: field(obj, "group_idle_s", line, "an integer")?,
        note: field(obj, "note", line, "a string")?,
    })
}

fn event_of(obj: &Object<'_>, line: u64) -> Result<Event, TraceError> {
    const INT: &str = "a non-negative integer";
    const STR: &str = "a string";
    let t: u64 = required(obj, "t", line, INT)?;
    let u: String = required(obj, "u", line, STR)?;
    let d: String = required(obj, "d", line, "\"c2s\" or \"s2c\"")?;
    let d = match d.as_str() {
        "c2s" => Dir::C2s,
        "s2c" => Dir::S2c,
        other => {
            return Err(err(
                line,
                Some("d"),
                format!("{other:?}: expected c2s or s2c"),
            ));
        }
    };
    let k: String = required(obj, "k", line, STR)?;
    let k = Kind::parse(&k).ok_or_else(|| {
        err(
            line,
            Some("k"),
            format!("{k:?}: one of req, resp, head, sse, end, err, msg"),
        )
    })?;
    let mut ev = Event::new(t, u, d, k);
    ev.s = field(obj, "s", line, STR)?;
    ev.x = field(obj, "x", line, INT)?;
    ev.c = field(obj, "c", line, INT)?;
    ev.http = field(obj, "http", line, STR)?;
    ev.status = field(obj, "status", line, "an HTTP status")?;
    ev.ct = field(obj, "ct", line, STR)?;
    if let Some(h) = obj.get("hdr") {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(h.get())
            .map_err(|_| err(line, Some("hdr"), "expected an object of strings"))?;
        let mut hdr = Headers::default();
        // serde_json's map sorts keys; order does not matter to replay.
        for (k, v) in map {
            let v = v
                .as_str()
                .ok_or_else(|| err(line, Some("hdr"), format!("header {k:?} is not a string")))?;
            hdr.0.push((k.to_ascii_lowercase(), v.to_owned()));
        }
        ev.hdr = hdr;
    }
    ev.msg = obj.get("msg").map(|m| (*m).to_owned());
    ev.raw_b64 = field(obj, "raw_b64", line, STR)?;
    ev.sse = field(obj, "sse", line, STR)?;
    ev.retry = field(obj, "retry", line, INT)?;
    ev.bytes = field(obj, "bytes", line, INT)?;
    ev.err = field(obj, "err", line, STR)?;
    // What replay needs to perform or pair the event.
    if matches!(k, Kind::Req) && ev.http.is_none() && ev.x.is_some() {
        return Err(err(line, Some("http"), "missing on an HTTP req event"));
    }
    if matches!(k, Kind::Resp | Kind::Head) && ev.x.is_some() && ev.status.is_none() {
        return Err(err(line, Some("status"), "missing on a resp/head event"));
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;

    const HEAD: &str = r#"{"format":"mcpx-trace/1","start":"2026-11-20T09:30:00.000000Z","transport":"streamable-http","group":"session"}"#;

    fn read(text: &str) -> Result<Vec<Event>, TraceError> {
        Reader::new(text.as_bytes())?.read_all()
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = read(&format!(
            "{HEAD}\n{{\"t\":\"x\",\"u\":\"a\",\"d\":\"c2s\",\"k\":\"req\"}}\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field), (2, Some("t")), "{e}");
        let e = read(&format!(
            "{HEAD}\n{{\"t\":1,\"u\":\"a\",\"d\":\"up\",\"k\":\"req\"}}\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field), (2, Some("d")), "{e}");
        let e = read(&format!(
            "{HEAD}\n{{\"t\":1,\"d\":\"c2s\",\"k\":\"end\"}}\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field), (2, Some("u")), "{e}");
        assert!(e.to_string().contains("line 2, field `u`"), "{e}");
        let e = read(&format!("{HEAD}\n{{\"t\":5,\"u\":\"a\",\"d\":\"c2s\",\"k\":\"end\"}}\n{{\"t\":4,\"u\":\"a\",\"d\":\"c2s\",\"k\":\"end\"}}\n")).unwrap_err();
        assert_eq!((e.line, e.field), (3, Some("t")), "{e}");
        let e = read(&format!("{HEAD}\nnot json\n")).unwrap_err();
        assert_eq!((e.line, e.field), (2, None), "{e}");
        let e =
            read(r#"{"format":"mcpx-trace/2","start":"x","transport":"stdio","group":"session"}"#)
                .unwrap_err();
        assert_eq!((e.line, e.field), (1, Some("format")), "{e}");
        let e =
            read(r#"{"format":"mcpx-trace/1","transport":"stdio","group":"session"}"#).unwrap_err();
        assert_eq!((e.line, e.field), (1, Some("start")), "{e}");
        let e = read(&format!(
            "{HEAD}\n{{\"t\":1,\"u\":\"a\",\"x\":1,\"d\":\"s2c\",\"k\":\"resp\"}}\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.field), (2, Some("status")), "{e}");
        let e = Reader::new(&[0x28u8, 0xB5, 0x2F, 0xFD, 0, 0][..]).unwrap_err();
        assert!(e.to_string().contains("zstd"), "{e}");
    }

    #[test]
    fn unknown_keys_minor_versions_and_truncated_last_line() {
        let text = format!(
            "{}\n{{\"t\":1,\"u\":\"a\",\"d\":\"c2s\",\"k\":\"end\",\"future\":[1]}}\n{{\"t\":2,\"u\":\"a\",\"d\":",
            HEAD.replace("mcpx-trace/1", "mcpx-trace/1.3")
        );
        let mut r = Reader::new(text.as_bytes()).unwrap();
        let evs = r.read_all().unwrap();
        assert_eq!(evs.len(), 1);
        assert!(r.truncated());
        // A cut line in the middle is an error, not a truncation.
        let text = format!("{HEAD}\n{{\"t\":2,\"u\":\"a\",\"d\":\n{{\"t\":3}}\n");
        assert_eq!(read(&text).unwrap_err().line, 2);
    }

    #[test]
    fn msg_is_kept_verbatim() {
        let text = format!(
            "{HEAD}\n{{\"t\":1,\"u\":\"a\",\"x\":1,\"d\":\"c2s\",\"k\":\"req\",\"http\":\"POST\",\"msg\":{{\"jsonrpc\":\"2.0\", \"id\":1,\"method\":\"a\\u0041\"}}}}\n"
        );
        let evs = read(&text).unwrap();
        assert_eq!(
            evs[0].msg.as_ref().unwrap().get(),
            r#"{"jsonrpc":"2.0", "id":1,"method":"a\u0041"}"#
        );
        assert_eq!(evs[0].method().as_deref(), Some("aA"));
    }
}
