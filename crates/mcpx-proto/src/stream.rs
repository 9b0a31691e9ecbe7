//! Stream keys, SSE event ids, and where a server-to-client message goes.

use std::fmt;

use crate::SessionId;

/// Names one logical server-to-client stream: a request's response stream or a session's
/// standalone GET stream. Unique within a [`SessionTable`](crate::SessionTable) for its
/// lifetime (a counter, never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey(u64);

impl StreamKey {
    /// The key's number (what the event id carries).
    pub const fn get(self) -> u64 {
        self.0
    }

    pub(crate) const fn new(n: u64) -> Self {
        Self(n)
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An SSE event id: the stream and the event's position on it.
///
/// # Format
///
/// `"{stream}-{seq}"`, both decimal `u64` without leading zeros or sign, e.g. `"17-3"` is the
/// third message event of stream 17. `seq` 0 is the priming event (an id with empty data,
/// 2025-11-25); messages count from 1, so a client that saw `"17-3"` has missed exactly the
/// events with `seq > 3` of stream 17 and nothing of any other stream (MCP-DIGEST 3.4: ids
/// are per-stream cursors). Ids are unique across all streams of a table, hence of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_structs,
    reason = "an event id is exactly a stream and a position; the wire format is fixed"
)]
pub struct EventId {
    /// The stream the event belongs to.
    pub stream: StreamKey,
    /// Its position: 0 = priming event, then 1, 2, ...
    pub seq: u64,
}

impl EventId {
    /// Parses the `"{stream}-{seq}"` format; `None` for anything else (O(len), no allocation).
    pub fn parse(s: &str) -> Option<Self> {
        let (stream, seq) = s.split_once('-')?;
        Some(Self {
            stream: StreamKey(parse_decimal(stream)?),
            seq: parse_decimal(seq)?,
        })
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

impl EventId {
    /// The `"{stream}-{seq}"` text on the stack, without the formatting machinery (two per SSE
    /// response, on the request path).
    pub fn text(&self) -> EventIdText {
        let mut out = EventIdText {
            buf: [0; EVENT_ID_MAX_LEN],
            len: 0,
        };
        out.push(mcpx_wire::Decimal::new(self.stream.0).as_bytes());
        out.push(b"-");
        out.push(mcpx_wire::Decimal::new(self.seq).as_bytes());
        out
    }
}

/// The longest event id: two 20-digit `u64`s and the dash.
const EVENT_ID_MAX_LEN: usize = 41;

/// An [`EventId`]'s text, held inline (see [`EventId::text`]).
#[derive(Clone, Copy)]
pub struct EventIdText {
    buf: [u8; EVENT_ID_MAX_LEN],
    len: usize,
}

impl EventIdText {
    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(slot) = self.buf.get_mut(self.len..end) {
            slot.copy_from_slice(bytes);
            self.len = end;
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and a dash were written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// What a server-to-client message is about, which decides its stream (MCP-DIGEST 3.4, 8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// About the client request whose response stream this is (progress, a log line for it,
    /// a sampling or elicitation request it needs): goes on that stream.
    Request(StreamKey),
    /// About nothing in flight (list changed, resource updated, roots refresh): goes on the
    /// session's standalone GET stream, or nowhere if it has none.
    Session(SessionId),
}

/// A message the core encoded into the caller's buffer, and where to send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transmit {
    /// The stream to send it on.
    pub stream: StreamKey,
    /// The SSE `id:` to put on it, when the version has resumable streams (`None`: no id,
    /// 2026-07-28 and 2024-11-05).
    pub event_id: Option<EventId>,
    /// This is the response: after it the server ends the stream (and a JSON-mode response
    /// is complete).
    pub ends_stream: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_round_trip() {
        let id = EventId {
            stream: StreamKey(17),
            seq: 3,
        };
        assert_eq!(id.to_string(), "17-3");
        assert_eq!(EventId::parse("17-3"), Some(id));
        for bad in [
            "",
            "17",
            "17-",
            "-3",
            "017-3",
            "17-03",
            "1-2-3",
            "a-1",
            "+1-2",
            "18446744073709551616-0",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
        assert_eq!(EventId::parse("0-0").map(|e| e.seq), Some(0));
    }

    #[test]
    fn event_id_text_matches_the_decimal_format_at_the_extremes() {
        for (stream, seq) in [
            (0, 0),
            (9, 10),
            (10, 9),
            (u64::MAX, u64::MAX),
            (1, u64::MAX),
        ] {
            let id = EventId {
                stream: StreamKey(stream),
                seq,
            };
            assert_eq!(id.text().as_str(), format!("{stream}-{seq}"));
            assert_eq!(EventId::parse(id.text().as_str()), Some(id));
        }
    }
}
