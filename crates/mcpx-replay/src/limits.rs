//! Every bound of the recorder and the replayer, with its reason.

use std::time::Duration;

/// Largest request body the proxy accepts (16 MiB; 413 beyond). An MCP request is one JSON
/// message; the profile's largest arguments are 64 KiB, file-carrying tools a few MiB.
pub const MAX_REQUEST_BODY_BYTES: usize = 16 << 20;

/// Observations waiting for the trace writer (the queue's slots are allocated up front, about
/// 100 bytes each: 3 MiB; bodies are shared, not copied, so a queued large body costs its own
/// memory until written). A JSON exchange is 3 observations, so this holds about 2 s of 5,000
/// req/s: the writer drains it every [`WRITER_TICK`] and only a stalled disk fills it. When it
/// is full, observations are dropped and counted: recording never slows the proxied traffic.
pub const TRACE_QUEUE_OBS: usize = 32_768;

/// How often the trace writer drains its queue. The request path never wakes the writer (a
/// wake is a futex syscall and a context switch per message on shared cores); 5 ms batches
/// cost 200 wake-ups per second at most, and a message reaches the file within 5 ms plus
/// [`TRACE_FLUSH_EVERY`].
pub const WRITER_TICK: Duration = Duration::from_millis(5);

/// Write buffer of the trace file (256 KiB): at 5,000 req/s (about 3 MB/s of trace) a write
/// syscall every ~80 ms instead of every 8 KiB.
pub const TRACE_WRITE_BUFFER_BYTES: usize = 256 << 10;

/// Exchanges the trace writer follows at once (each ~200 bytes, plus an SSE decoder's buffer
/// for streams). Only a queue that overflowed can leave exchanges open forever (their end was
/// dropped); past this bound new exchanges are forwarded but not traced, and counted.
pub const MAX_OPEN_TRACED_EXCHANGES: usize = 65_536;

/// Default size of one trace file before it is rotated (1 GiB).
pub const DEFAULT_MAX_TRACE_BYTES: u64 = 1 << 30;

/// Rotated trace files kept (`trace.jsonl.1` .. `.4`; older ones are deleted), so a recorder left
/// running uses at most five times the cap on disk.
pub const MAX_ROTATED_FILES: u32 = 4;

/// How often the trace writer flushes when events keep coming (a crash loses at most this much);
/// it also flushes whenever its queue is idle.
pub const TRACE_FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Upstream TCP connect deadline of the proxy (then 502).
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle upstream connections the shared pooled client keeps (HTTP/2 inbound and busy links only:
/// each inbound HTTP/1.1 connection has its own upstream connection).
pub const MAX_IDLE_UPSTREAM_PER_HOST: usize = 256;

/// After shutdown, how long open exchanges may finish before the trace is closed.
pub const RECORD_DRAIN: Duration = Duration::from_secs(5);

/// Default replay deadline of one exchange (the profile's longest client tool timeout, 300 s).
pub const DEFAULT_REPLAY_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a replayed request waits for the live session id its key needs, or for the live
/// server request it answers, before it is sent without (and counted as diverged).
pub const BINDING_WAIT: Duration = Duration::from_secs(30);

/// Largest response body the replayer keeps to classify (the body is read to its end anyway).
pub const MAX_REPLAY_BODY_BYTES: usize = 16 << 20;

/// Live SSE event ids and server request ids remembered per replayed user copy (cursor and answer
/// mapping); past this the oldest mapping is not kept.
pub const MAX_BINDINGS_PER_COPY: usize = 65_536;

/// Largest HTTP/1.1 request or response head the inline proxy path reads (64 KiB, 431 or 502
/// beyond). MCP heads are a few hundred bytes; the room is for large cookies and tokens, and a
/// peer that never ends its head fails at once instead of growing a buffer.
pub const MAX_HTTP1_HEAD_BYTES: usize = 64 << 10;

/// Headers in one HTTP/1.1 head on the inline path: hyper's default, so what the hyper path
/// accepted is accepted.
pub const MAX_HTTP1_HEADERS: usize = 100;

/// Interim (1xx) responses skipped before the final one: a server sends one `100 Continue` or
/// a few `103 Early Hints` at most; more is a loop.
pub const MAX_INTERIM_RESPONSES: usize = 8;

/// How long an inbound keep-alive connection may sit idle between requests before the proxy
/// closes it (clients reopen one when they need it; Claude Code's GET stream is a request in
/// progress, not idle).
pub const INBOUND_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a client may take to send a request head or the next piece of a request body once
/// it has started (a stalled or slowloris client loses its connection, not the proxy's memory).
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// After refusing a request (413, 431, 400), how long the inline path keeps reading and
/// discarding what the client still sends before it closes (a "lingering close"): closing a
/// socket with unread bytes resets it, and the client would lose the answer that says what to
/// fix. Bounded in time and in bytes ([`REFUSAL_LINGER_BYTES`]).
pub const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Bytes discarded at most during [`REFUSAL_LINGER`]: a body just over the cap is drained,
/// an endless one is cut off.
pub const REFUSAL_LINGER_BYTES: usize = 2 * MAX_REQUEST_BODY_BYTES;
