//! The trace writer: what the proxy saw goes in as cheap observations, `mcpx-trace/1` lines come
//! out, on a thread of its own, with a size cap and rotation.
//!
//! The request path only clones what it already holds (header maps, `Bytes` bodies and frames:
//! reference counts, no copies of bodies) into an `Obs` and pushes it into a bounded queue
//! ([`TRACE_QUEUE_OBS`]) without waking anyone: the writer thread is not parked on the queue, it
//! drains it every [`WRITER_TICK`] in a batch. Everything that costs CPU per message, the
//! [`Recorder`] state machine (users, session keys, redaction, JSON checks), SSE decoding and JSON
//! serialization, runs on that thread. When the queue is full, observations are dropped and
//! counted; the traffic never waits for the trace.
//!
//! Times are taken on the request path when each observation is made. Two connections' pushes
//! can reach the queue in the other order than their clocks were read; the writer clamps `t` to
//! never go backwards (a difference of microseconds), as the format requires.
//!
//! When a file reaches [`TraceFileOptions::max_bytes`] it is renamed `NAME.1` (older ones shift
//! to `.2` .. `.MAX_ROTATED_FILES`, the oldest is deleted) and a new `NAME` starts with the same
//! header, so every file reads on its own and `t` stays comparable across them.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use mcpx_trace::record::{BodyMode, Recorder, RecorderOptions};
use mcpx_trace::{Dir, Event, Header, Writer};
use mcpx_wire::sse::SseDecoder;

use crate::limits::{
    DEFAULT_MAX_TRACE_BYTES, MAX_OPEN_TRACED_EXCHANGES, MAX_ROTATED_FILES, TRACE_FLUSH_EVERY,
    TRACE_QUEUE_OBS, TRACE_WRITE_BUFFER_BYTES, WRITER_TICK,
};

/// Where and how big.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TraceFileOptions {
    /// The trace path.
    pub path: PathBuf,
    /// Size of one file before rotation.
    pub max_bytes: u64,
}

impl TraceFileOptions {
    /// `path` with the default cap ([`DEFAULT_MAX_TRACE_BYTES`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: DEFAULT_MAX_TRACE_BYTES,
        }
    }
}

/// What the writer did.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct WriterStats {
    /// Events written.
    pub events: u64,
    /// Files rotated away.
    pub rotations: u64,
    /// Observations not traced because the start of their exchange was not (dropped from a full
    /// queue, or past [`MAX_OPEN_TRACED_EXCHANGES`]).
    pub skipped: u64,
}

/// The request of one exchange, body complete.
#[derive(Debug)]
pub(crate) struct RequestObs {
    pub t: u64,
    pub id: u64,
    pub conn: u64,
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The response head of one exchange.
#[derive(Debug)]
pub(crate) struct HeadObs {
    pub t: u64,
    pub id: u64,
    pub status: u16,
    pub headers: HeaderMap,
}

/// What was kept of a whole response body (at most [`mcpx_trace::limits::MAX_TRACED_BODY_BYTES`]).
#[derive(Debug, Default)]
pub(crate) enum Kept {
    /// Nothing (yet).
    #[default]
    Empty,
    /// One frame: the usual JSON response, kept without a copy.
    One(Bytes),
    /// Several frames, copied together.
    Many(BytesMut),
}

impl Kept {
    /// Keeps `data` if the total stays within the traced-body cap.
    pub(crate) fn push(&mut self, data: &Bytes) {
        let len = match self {
            Self::Empty => 0,
            Self::One(b) => b.len(),
            Self::Many(b) => b.len(),
        };
        if len + data.len() > mcpx_trace::limits::MAX_TRACED_BODY_BYTES {
            return;
        }
        match std::mem::take(self) {
            Self::Empty => *self = Self::One(data.clone()),
            Self::One(first) => {
                let mut b = BytesMut::with_capacity(first.len() + data.len());
                b.extend_from_slice(&first);
                b.extend_from_slice(data);
                *self = Self::Many(b);
            }
            Self::Many(mut b) => {
                b.extend_from_slice(data);
                *self = Self::Many(b);
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Self::Empty => Bytes::new(),
            Self::One(b) => b,
            Self::Many(b) => b.freeze(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Empty => &[],
            Self::One(b) => b,
            Self::Many(b) => b,
        }
    }
}

/// One thing the proxy saw, in the order it saw it for each exchange (`id` is the proxy's).
#[derive(Debug)]
pub(crate) enum Obs {
    /// A request whose body is complete: the start of exchange `id`.
    Request(Box<RequestObs>),
    /// Its response head.
    Head(Box<HeadObs>),
    /// One body frame of a streamed (SSE) response.
    Frame { t: u64, id: u64, data: Bytes },
    /// A whole (non-SSE) response body ended: what was kept of it and its length.
    Body {
        t: u64,
        id: u64,
        kept: Kept,
        total: u64,
    },
    /// The exchange ended otherwise: a stream closed by `by` after `total` bytes, or a failure
    /// (`connect`, `reset`) on side `by`.
    End {
        t: u64,
        id: u64,
        by: Dir,
        failed: Option<&'static str>,
        total: u64,
    },
}

/// The request path's end of the queue: a clock and a non-blocking, non-waking push.
#[derive(Debug)]
pub(crate) struct Observer {
    tx: SyncSender<Obs>,
    start: Instant,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

impl Observer {
    /// Microseconds since the trace start.
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A new exchange id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `obs`; when the queue is full (or the writer is gone) it is dropped and counted.
    /// Never blocks, and never wakes the writer (it drains the queue on its own tick).
    pub(crate) fn push(&self, obs: Obs) {
        match self.tx.try_send(obs) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Observations dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// An open trace file.
#[derive(Debug)]
pub struct TraceFile {
    opts: TraceFileOptions,
    header: Header,
    writer: Writer<BufWriter<File>>,
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn buffered(path: &Path) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        TRACE_WRITE_BUFFER_BYTES,
        File::create(path)?,
    ))
}

impl TraceFile {
    /// Creates (truncates) the file and writes the header.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or written.
    pub fn create(opts: TraceFileOptions, header: Header) -> std::io::Result<Self> {
        let writer = Writer::new(buffered(&opts.path)?, &header)?;
        Ok(Self {
            opts,
            header,
            writer,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        let _ = std::fs::remove_file(rotated(&self.opts.path, MAX_ROTATED_FILES));
        for n in (1..MAX_ROTATED_FILES).rev() {
            let from = rotated(&self.opts.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.opts.path, n + 1))?;
            }
        }
        std::fs::rename(&self.opts.path, rotated(&self.opts.path, 1))?;
        self.writer = Writer::new(buffered(&self.opts.path)?, &self.header)?;
        Ok(())
    }

    fn write(&mut self, ev: &Event, stats: &mut WriterStats) -> std::io::Result<()> {
        self.writer.write_event(ev)?;
        stats.events += 1;
        if self.writer.bytes_written() >= self.opts.max_bytes.max(1) {
            self.rotate()?;
            stats.rotations += 1;
        }
        Ok(())
    }

    /// Starts a recording into this file: the request path's [`Observer`], and the writer to run
    /// on a blocking thread ([`TraceWriter::run`]).
    pub(crate) fn start(self, recorder: RecorderOptions) -> (Observer, TraceWriter) {
        let (tx, rx) = mpsc::sync_channel(TRACE_QUEUE_OBS);
        let observer = Observer {
            tx,
            start: Instant::now(),
            next_id: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
        };
        let writer = TraceWriter {
            file: self,
            rx,
            rec: Recorder::new(recorder),
            open: HashMap::new(),
            last_t: 0,
            stats: WriterStats::default(),
        };
        (observer, writer)
    }
}

/// How the writer reads the body of one open exchange.
#[derive(Debug)]
enum Tap {
    /// No response head yet.
    Request,
    Sse {
        dec: SseDecoder,
        buf: BytesMut,
    },
    Whole {
        kept: Kept,
    },
}

#[derive(Debug)]
struct OpenExchange {
    /// The recorder's exchange id.
    x: u64,
    tap: Tap,
}

/// The writer thread's state: the queue's far end, the recorder, the exchanges in progress.
#[derive(Debug)]
pub(crate) struct TraceWriter {
    file: TraceFile,
    rx: Receiver<Obs>,
    rec: Recorder,
    /// Proxy exchange id -> the recorder's, and how to read its body.
    open: HashMap<u64, OpenExchange>,
    last_t: u64,
    stats: WriterStats,
}

impl TraceWriter {
    /// Writes until every [`Observer`] is gone and the queue is empty (blocking: run it on a
    /// blocking thread). Sleeps [`WRITER_TICK`] between batches; flushes when a batch finds the
    /// queue idle, and at least every [`TRACE_FLUSH_EVERY`] under load.
    ///
    /// # Errors
    ///
    /// The first write error (the trace is then incomplete; the proxy keeps forwarding, and
    /// counts what it can no longer queue as dropped).
    pub(crate) fn run(mut self) -> std::io::Result<WriterStats> {
        let mut last_flush = Instant::now();
        let mut unflushed = false;
        loop {
            let mut got = false;
            loop {
                match self.rx.try_recv() {
                    Ok(obs) => {
                        got = true;
                        unflushed = true;
                        self.handle(obs)?;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.file.writer.flush()?;
                        return Ok(self.stats);
                    }
                }
            }
            if unflushed && (!got || last_flush.elapsed() >= TRACE_FLUSH_EVERY) {
                self.file.writer.flush()?;
                last_flush = Instant::now();
                unflushed = false;
            }
            std::thread::sleep(WRITER_TICK);
        }
    }

    /// The time of an observation, never before the previous one's.
    fn clamp(&mut self, t: u64) -> u64 {
        self.last_t = self.last_t.max(t);
        self.last_t
    }

    fn emit(&mut self, ev: &Event) -> std::io::Result<()> {
        self.file.write(ev, &mut self.stats)
    }

    fn handle(&mut self, obs: Obs) -> std::io::Result<()> {
        match obs {
            Obs::Request(r) => {
                if self.open.len() >= MAX_OPEN_TRACED_EXCHANGES {
                    self.stats.skipped += 1;
                    return Ok(());
                }
                let t = self.clamp(r.t);
                let (x, ev) = self.rec.request(t, r.conn, &r.method, &r.headers, &r.body);
                self.open.insert(
                    r.id,
                    OpenExchange {
                        x,
                        tap: Tap::Request,
                    },
                );
                self.emit(&ev)
            }
            Obs::Head(h) => {
                let Some(x) = self.open.get(&h.id).map(|o| o.x) else {
                    self.stats.skipped += 1;
                    return Ok(());
                };
                let t = self.clamp(h.t);
                let (mode, head) = self.rec.response_head(t, x, h.status, &h.headers);
                if let Some(o) = self.open.get_mut(&h.id) {
                    o.tap = match mode {
                        BodyMode::Sse => Tap::Sse {
                            dec: SseDecoder::new(),
                            buf: BytesMut::new(),
                        },
                        _ => Tap::Whole { kept: Kept::Empty },
                    };
                }
                match head {
                    Some(ev) => self.emit(&ev),
                    None => Ok(()),
                }
            }
            Obs::Frame { t, id, data } => {
                if !self.open.contains_key(&id) {
                    self.stats.skipped += 1;
                    return Ok(());
                }
                let t = self.clamp(t);
                self.feed(t, id, &data)
            }
            Obs::Body { t, id, kept, total } => {
                let Some((x, sse)) = self
                    .open
                    .get(&id)
                    .map(|o| (o.x, matches!(o.tap, Tap::Sse { .. })))
                else {
                    self.stats.skipped += 1;
                    return Ok(());
                };
                let t = self.clamp(t);
                let ev = if sse {
                    // A body the recorder wanted as a stream after all: decode it as one.
                    self.feed(t, id, &kept.into_bytes())?;
                    self.rec.end(t, x, Dir::S2c, total)
                } else {
                    self.rec.response_body(t, x, kept.as_slice(), total)
                };
                self.open.remove(&id);
                self.emit(&ev)
            }
            Obs::End {
                t,
                id,
                by,
                failed,
                total,
            } => {
                let Some(o) = self.open.remove(&id) else {
                    self.stats.skipped += 1;
                    return Ok(());
                };
                let t = self.clamp(t);
                let ev = match (failed, o.tap) {
                    (Some(what), _) => self.rec.error(t, o.x, by, what),
                    (None, Tap::Whole { kept }) => {
                        self.rec.response_body(t, o.x, kept.as_slice(), total)
                    }
                    (None, Tap::Sse { .. } | Tap::Request) => self.rec.end(t, o.x, by, total),
                };
                self.emit(&ev)
            }
        }
    }

    /// Feeds body bytes of exchange `id` to its tap: SSE events are traced as they complete.
    fn feed(&mut self, t: u64, id: u64, data: &Bytes) -> std::io::Result<()> {
        let Some(o) = self.open.get_mut(&id) else {
            return Ok(());
        };
        let x = o.x;
        let mut events = Vec::new();
        match &mut o.tap {
            Tap::Request => {}
            Tap::Whole { kept } => kept.push(data),
            Tap::Sse { dec, buf } => {
                buf.extend_from_slice(data);
                loop {
                    let before = dec.retry();
                    match dec.decode(buf) {
                        Ok(Some(ev)) => {
                            let retry = dec.retry().filter(|r| Some(*r) != before);
                            let id = ev.id().map(str::to_owned);
                            events.push(self.rec.sse_event(t, x, id.as_deref(), retry, ev.data()));
                        }
                        Ok(None) => break,
                        // An oversized or broken event is skipped (the decoder recovers); the
                        // client got every byte anyway.
                        Err(e) => {
                            tracing::debug!(error = %e, "SSE event not traced");
                        }
                    }
                }
            }
        }
        for ev in &events {
            self.emit(ev)?;
        }
        Ok(())
    }
}
