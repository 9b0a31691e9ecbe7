//! Server-Sent Events framing: an allocation-free encoder and an incremental, bounded decoder.
//!
//! The encoder ([`encode_event`], [`encode_comment`]) writes each event or comment as **one
//! contiguous run of bytes** into the caller's [`BytesMut`](bytes::BytesMut), reserving the exact
//! length once, so a transport can hand it to the socket as a single write and a buffer with
//! enough spare capacity sees no allocation at all.
//!
//! The decoder ([`SseDecoder`]) follows the WHATWG HTML "event stream interpretation" algorithm
//! and works like tokio-util's `LinesCodec`: feed it whatever bytes arrived, call
//! [`SseDecoder::decode`] until it returns `Ok(None)`, and it yields the same events however the
//! stream was split into chunks. It accepts LF, CRLF and CR line ends (a CR at the end of one
//! chunk and an LF at the start of the next are one line end), drops a leading UTF-8 BOM, bounds
//! every event ([`DEFAULT_MAX_SSE_EVENT_BYTES`](crate::limits::DEFAULT_MAX_SSE_EVENT_BYTES)) and,
//! after an oversized event, reports [`SseError::EventTooLarge`] once and resumes with the next
//! event.
//!
//! ```
//! use bytes::BytesMut;
//! use mcpx_wire::sse::{SseDecoder, SseEventRef, encode_event};
//!
//! let mut wire = BytesMut::with_capacity(64);
//! // The MCP 2025-11-25 priming event: an id and empty data.
//! encode_event(&mut wire, &SseEventRef::new(b"").with_id("s1-0"))?;
//! encode_event(&mut wire, &SseEventRef::new(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).with_id("s1-1"))?;
//! assert_eq!(&wire[..18], b"id: s1-0\ndata:\n\nid".as_slice());
//!
//! let mut decoder = SseDecoder::new();
//! let priming = decoder.decode(&mut wire)?.ok_or("no event")?;
//! assert_eq!((priming.id(), priming.data().as_ref()), (Some("s1-0"), b"".as_slice()));
//! let reply = decoder.decode(&mut wire)?.ok_or("no event")?;
//! assert_eq!(reply.event_type(), "message");
//! assert_eq!(reply.data().as_ref(), br#"{"jsonrpc":"2.0","id":1,"result":{}}"#.as_slice());
//! assert!(decoder.decode(&mut wire)?.is_none());
//! assert_eq!(decoder.last_event_id(), Some("s1-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;

pub use decode::{SseDecoder, SseError, SseEvent};
pub use encode::{SseEncodeError, SseEventRef, encode_comment, encode_event};
