//! `mcpx-trace`: the sans-IO half of `mcpx record` and `mcpx replay`, over the `mcpx-trace/1`
//! JSONL format of `shared/traffic/PROFILE.md` section 3.
//!
//! | module | owns |
//! |---|---|
//! | [`event`] | the header and event records (`msg` kept as the bytes received) |
//! | [`read`] | the reader: line-by-line, errors naming line and field, truncated last line tolerated |
//! | [`write`](mod@write) | the writer, and a body as a `msg` |
//! | [`redact`] | `Authorization`, cookies, secret-looking arguments; same-size fillers for replay |
//! | [`record`] | the recorder state machine: exchange ids, session keys, users, redaction |
//! | [`plan`] | the replay plan: per-user steps, timing anchors, waits, copies, expectations |
//! | [`diverge`] | the divergence classifier and its bounded summary |
//! | [`limits`] | every bound, with its reason |
//!
//! No sockets, tasks or clocks here: times are µs offsets handed in by the caller, so everything
//! is tested deterministically. `mcpx-replay` drives it over hyper and `mcpx-client`.
//!
//! ```
//! use mcpx_trace::{read::Reader, plan::{Plan, PlanOptions}};
//!
//! let trace = br#"{"format":"mcpx-trace/1","start":"2026-11-20T09:30:00.000000Z","transport":"streamable-http","group":"session"}
//! {"t":0,"u":"u1","x":1,"d":"c2s","k":"req","http":"POST","msg":{"jsonrpc":"2.0","id":1,"method":"ping"}}
//! {"t":900,"u":"u1","x":1,"d":"s2c","k":"resp","status":200,"ct":"application/json","msg":{"jsonrpc":"2.0","id":1,"result":{}}}
//! "#;
//! let mut reader = Reader::new(&trace[..])?;
//! let events = reader.read_all()?;
//! let plan = Plan::new(&events, PlanOptions::default())?;
//! assert_eq!(plan.steps(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod diverge;
pub mod event;
mod json;
pub mod limits;
pub mod plan;
pub mod read;
pub mod record;
pub mod redact;
pub mod write;

pub use event::{Dir, Event, FORMAT, Header, Headers, Kind};
pub use read::{Reader, TraceError};
pub use write::Writer;

/// Sets the `id` member of a JSON-RPC message (raw JSON) to `id` (raw JSON), keeping every
/// other byte. `None` if `msg` is not an object with an `id`.
pub fn with_id(msg: &str, id: &str) -> Option<String> {
    let b = msg.as_bytes();
    let r = json::find(b, &["id"])?;
    String::from_utf8(json::splice(b, vec![(r, id.as_bytes().to_vec())])).ok()
}
