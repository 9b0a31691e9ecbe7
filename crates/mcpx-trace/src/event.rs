//! The `mcpx-trace/1` records: the header line and one event per line (PROFILE.md section 3).
//!
//! The types are plain owned values; `msg` is kept as the bytes received
//! ([`serde_json::value::RawValue`]), never re-serialized, so a trace forwards, replays and
//! compares bodies exactly as they were on the wire.

use serde::Serialize;
use serde_json::value::RawValue;

/// The format name and major version this crate reads and writes.
pub const FORMAT: &str = "mcpx-trace/1";

/// Line 1 of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Header {
    /// [`FORMAT`] (or a `mcpx-trace/1.N` minor version on read).
    pub format: String,
    /// RFC 3339 UTC time of t = 0, microseconds (informational).
    pub start: String,
    /// `streamable-http`, `http+sse` or `stdio`.
    pub transport: String,
    /// How users were formed: `session`, `token`, `addr`, `synthetic`.
    pub group: String,
    /// The recorded endpoint URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The producer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder: Option<String>,
    /// Redactions applied (`authorization`, `secret-args`, `args`, `results`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
    /// Headers kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hdr: Vec<String>,
    /// Silence after which a token starts a new user, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_idle_s: Option<u64>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Header {
    /// A header for a Streamable HTTP trace grouped by `group`, starting at `start`.
    pub fn new(start: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            start: start.into(),
            transport: "streamable-http".to_owned(),
            group: group.into(),
            endpoint: None,
            recorder: None,
            redact: Vec::new(),
            hdr: Vec::new(),
            group_idle_s: None,
            note: None,
        }
    }
}

/// Which side produced an event (for `end`/`err`: the side that closed or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum Dir {
    /// Client to server: replay performs these.
    #[serde(rename = "c2s")]
    C2s,
    /// Server to client: replay expects these.
    #[serde(rename = "s2c")]
    S2c,
}

impl Dir {
    /// The trace spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::C2s => "c2s",
            Self::S2c => "s2c",
        }
    }
}

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// A request (POST, GET stream, DELETE) with its body.
    Req,
    /// A complete response.
    Resp,
    /// The head of an SSE response.
    Head,
    /// One SSE event.
    Sse,
    /// The stream is over.
    End,
    /// A failure (`err` says which).
    Err,
    /// One stdio message.
    Msg,
}

impl Kind {
    /// The trace spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Req => "req",
            Self::Resp => "resp",
            Self::Head => "head",
            Self::Sse => "sse",
            Self::End => "end",
            Self::Err => "err",
            Self::Msg => "msg",
        }
    }

    /// Parses the trace spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "req" => Self::Req,
            "resp" => Self::Resp,
            "head" => Self::Head,
            "sse" => Self::Sse,
            "end" => Self::End,
            "err" => Self::Err,
            "msg" => Self::Msg,
            _ => return None,
        })
    }
}

/// One event line. Field names are the trace's keys; see PROFILE.md section 3.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Event {
    /// Microseconds since the header's `start`.
    pub t: u64,
    /// User key (the replay unit).
    pub u: String,
    /// Session key (session era).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    /// Exchange id (HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<u64>,
    /// Connection id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c: Option<u64>,
    /// Producer.
    pub d: Dir,
    /// Kind.
    pub k: Kind,
    /// HTTP method (`req`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// HTTP status (`resp`, `head`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Media type without parameters (`resp`, `head`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ct: Option<String>,
    /// Kept headers, lower-case names, in the order seen.
    #[serde(skip_serializing_if = "Headers::is_empty")]
    pub hdr: Headers,
    /// The body or SSE data, verbatim JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<Box<RawValue>>,
    /// A non-JSON body, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_b64: Option<String>,
    /// SSE event id (`""` if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse: Option<String>,
    /// SSE retry, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
    /// Body bytes (SSE data bytes; for `end` the whole body with framing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// For `err`: `connect`, `tls`, `reset`, `timeout`, `decode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.t == o.t
            && self.u == o.u
            && self.s == o.s
            && self.x == o.x
            && self.c == o.c
            && self.d == o.d
            && self.k == o.k
            && self.http == o.http
            && self.status == o.status
            && self.ct == o.ct
            && self.hdr == o.hdr
            && self.msg.as_ref().map(|m| m.get()) == o.msg.as_ref().map(|m| m.get())
            && self.raw_b64 == o.raw_b64
            && self.sse == o.sse
            && self.retry == o.retry
            && self.bytes == o.bytes
            && self.err == o.err
    }
}

impl Event {
    /// An event with only the keys every event has.
    pub fn new(t: u64, u: impl Into<String>, d: Dir, k: Kind) -> Self {
        Self {
            t,
            u: u.into(),
            s: None,
            x: None,
            c: None,
            d,
            k,
            http: None,
            status: None,
            ct: None,
            hdr: Headers::default(),
            msg: None,
            raw_b64: None,
            sse: None,
            retry: None,
            bytes: None,
            err: None,
        }
    }

    /// The JSON-RPC method of `msg`, if it is a request or notification.
    pub fn method(&self) -> Option<String> {
        let msg = self.msg.as_ref()?;
        #[derive(serde::Deserialize)]
        struct M {
            method: Option<String>,
        }
        serde_json::from_str::<M>(msg.get()).ok()?.method
    }
}

/// Kept headers: lower-case name and value, in the order they were seen (a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `name` (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }
}

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
