//! `mcpx record`: a transparent reverse proxy that writes what passes through as `mcpx-trace/1`.
//!
//! - Inbound: HTTP/1.1 and h2c on one port, or TLS with ALPN when a certificate is given. A
//!   plain HTTP/1.1 connection to an HTTP/1.1 upstream (the common case) is served by hand in
//!   `record/h1.rs`, with no hyper on either side and its own upstream connection, in the
//!   connection's task. h2c and TLS connections go through hyper-util's auto builder: each
//!   inbound HTTP/1.1-over-TLS connection gets an upstream HTTP/1.1 connection of its own
//!   (`Link`), opened at its first request and driven by the same task as the inbound one (a
//!   request crosses no task or thread on its way through: each hop is a wake-up, and on
//!   shared cores a wake-up can wait for a time slice). HTTP/2 inbound, h2c upstream
//!   (`upstream_http2`) and the rare request that finds its connection's link busy go through a
//!   shared pooled client instead.
//! - Request bodies are read whole (bounded by [`MAX_REQUEST_BODY_BYTES`]: MCP requests are
//!   single JSON messages) and forwarded as the same bytes. Response bodies are forwarded frame
//!   by frame as they arrive (`TeeBody`): an SSE event reaches the client when the server sends
//!   it, never at the end; the tee only hands each frame (a `Bytes`: a reference count, no copy)
//!   to the trace writer on its way through.
//! - Hop-by-hop headers are dropped both ways (RFC 9110 7.6.1); everything else, paths included,
//!   passes unchanged. The upstream URL's origin receives every path; the URL itself is written
//!   as the trace's `endpoint`. `TCP_NODELAY` is set on accepted and upstream connections alike
//!   (a response split in two writes must not wait for a delayed ACK).
//! - Tracing never slows or breaks the proxy: the request path only makes observations (clones
//!   of header maps and `Bytes`) and pushes them, without a lock and without waking anyone, into
//!   a bounded queue ([`crate::limits::TRACE_QUEUE_OBS`]). Users, session keys, redaction, SSE
//!   decoding and JSON all run on the writer thread (see [`crate::tracefile`]); when the queue
//!   is full, observations are dropped and counted (the summary says how many), the traffic
//!   goes on.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited, combinators::UnsyncBoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::client::legacy::Client as UpstreamClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use mcpx_trace::Dir;
use mcpx_trace::Header;
use mcpx_trace::record::RecorderOptions;
use tokio::net::{TcpListener, TcpStream};

mod h1;

use crate::limits::{MAX_IDLE_UPSTREAM_PER_HOST, MAX_REQUEST_BODY_BYTES, UPSTREAM_CONNECT_TIMEOUT};
use crate::tracefile::{
    HeadObs, Kept, Obs, Observer, RequestObs, TraceFile, TraceFileOptions, WriterStats,
};

/// Headers that describe one connection, not the message (RFC 9110 7.6.1): never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How to record.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordOptions {
    /// The upstream MCP endpoint (`http://host:port/path`).
    pub upstream: String,
    /// Speak h2c (prior knowledge) to the upstream instead of HTTP/1.1.
    pub upstream_http2: bool,
    /// Where and how the trace is written.
    pub trace: TraceFileOptions,
    /// Grouping and redaction.
    pub recorder: RecorderOptions,
    /// TLS certificate chain and key (PEM) to terminate TLS with.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
}

impl RecordOptions {
    /// Records `upstream` into `trace`.
    pub fn new(upstream: impl Into<String>, trace: TraceFileOptions) -> Self {
        Self {
            upstream: upstream.into(),
            upstream_http2: false,
            trace,
            recorder: RecorderOptions::default(),
            tls: None,
        }
    }
}

/// What a recording did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RecordSummary {
    /// Exchanges proxied.
    pub exchanges: u64,
    /// Events written to the trace.
    pub events_written: u64,
    /// Events dropped because the writer fell behind.
    pub events_dropped: u64,
    /// Trace files rotated away.
    pub rotations: u64,
    /// Upstream failures (answered 502 to the client).
    pub upstream_errors: u64,
}

/// Errors starting a recording.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecordError {
    /// The upstream URL is not `http://host[:port]/...`.
    Upstream(String),
    /// The trace file could not be created.
    Trace(std::io::Error),
    /// The TLS certificate or key is unusable.
    Tls(String),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upstream(m) => write!(f, "--upstream: {m}"),
            Self::Trace(e) => write!(f, "cannot write the trace: {e}"),
            Self::Tls(m) => write!(f, "TLS: {m}"),
        }
    }
}

impl std::error::Error for RecordError {}

type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// State shared by every connection of one recording.
struct Shared {
    trace: Observer,
    exchanges: AtomicU64,
    upstream_errors: AtomicU64,
    upstream_authority: Authority,
    /// `host:port` of the upstream, for the links' own connections.
    upstream_addr: String,
    upstream_http2: bool,
    client: UpstreamClient<HttpConnector, Full<Bytes>>,
}

impl Shared {
    /// Counts a new exchange and shows its request to the trace writer; returns its id.
    fn begin_exchange(
        &self,
        conn: u64,
        method: http::Method,
        headers: HeaderMap,
        body: &Bytes,
    ) -> u64 {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let id = self.trace.next_id();
        self.trace.push(Obs::Request(Box::new(RequestObs {
            t: self.trace.now(),
            id,
            conn,
            method,
            headers,
            body: body.clone(),
        })));
        id
    }
}

/// A link's upstream connection, polled by the task of its inbound connection.
type LinkConnection = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What a link's upstream connection is doing.
enum Slot {
    /// None open (yet, or the last one closed).
    Empty,
    /// Open and ready for the next request.
    Idle(http1::SendRequest<Full<Bytes>>),
    /// Carrying an exchange (or being opened).
    Busy,
}

/// The upstream HTTP/1.1 connection of one inbound HTTP/1.1 connection. An inbound HTTP/1.1
/// connection carries one exchange at a time, so one upstream connection serves it; the inbound
/// connection's task polls it, so the request, the upstream exchange and the response all run
/// in that one task.
///
/// A new `Connection` future is left in `opened` and taken up by [`drive`] right after the
/// inbound connection's poll that opened it: only HTTP/1 requests use a link, and hyper polls
/// an HTTP/1 connection's service futures inside the connection's own future, so the opening
/// always happens within that poll (no waker needed, nothing to miss).
struct Link {
    slot: Mutex<Slot>,
    opened: Mutex<Option<LinkConnection>>,
}

/// How one request reaches the upstream.
enum Route {
    /// On the link's idle connection.
    Link(http1::SendRequest<Full<Bytes>>),
    /// On a new link connection (the slot is marked busy).
    Connect,
    /// Through the shared pooled client.
    Pool,
}

impl Link {
    fn route(&self) -> Route {
        let Ok(mut slot) = self.slot.lock() else {
            return Route::Pool;
        };
        match std::mem::replace(&mut *slot, Slot::Busy) {
            Slot::Idle(s) if !s.is_closed() => Route::Link(s),
            Slot::Idle(_) | Slot::Empty => Route::Connect,
            Slot::Busy => Route::Pool,
        }
    }

    /// The link's connection finished an exchange cleanly: ready for the next one.
    fn give_back(&self, sender: http1::SendRequest<Full<Bytes>>) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Slot::Idle(sender);
        }
    }

    /// The link's connection is gone (failed, or dropped mid-exchange): the next request opens
    /// a new one.
    fn release(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Slot::Empty;
        }
    }
}

/// A new TCP connection to the upstream, within [`UPSTREAM_CONNECT_TIMEOUT`], with
/// `TCP_NODELAY`; `Err` is the trace's failure class (`connect`).
async fn connect_upstream(shared: &Shared) -> Result<TcpStream, &'static str> {
    let tcp = tokio::time::timeout(
        UPSTREAM_CONNECT_TIMEOUT,
        TcpStream::connect(shared.upstream_addr.as_str()),
    )
    .await
    .map_err(|_| "connect")?
    .map_err(|e| {
        tracing::warn!(error = %e, "upstream connect failed");
        "connect"
    })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Opens a link's upstream connection and hands its `Connection` future to the inbound task.
async fn link_connect(
    shared: &Shared,
    link: &Link,
) -> Result<http1::SendRequest<Full<Bytes>>, &'static str> {
    let tcp = connect_upstream(shared).await?;
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|_| "connect")?;
    let conn: LinkConnection = Box::pin(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    // Taken up by `drive` at the end of this poll of the inbound connection.
    let Ok(mut opened) = link.opened.lock() else {
        return Err("connect");
    };
    *opened = Some(conn);
    Ok(sender)
}

/// Serves one inbound connection and polls its link's upstream connections in the same task.
async fn drive<F, E>(serve: F, link: &Link) -> Result<(), E>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    let mut serve = std::pin::pin!(serve);
    // At most the link's current connection and one it replaced that is still closing.
    let mut upstream: Vec<LinkConnection> = Vec::with_capacity(2);
    std::future::poll_fn(|cx| {
        // The two sides hand work to each other within one wake-up: the inbound side queues a
        // request (or opens a connection) that the upstream side writes; the upstream side
        // delivers a response head, then its body once the inbound side asked for it. Polling
        // them in turn for a few rounds moves an exchange through in one poll of this task
        // instead of a self-wake and a trip through the run queue per step.
        for round in 0..DRIVE_ROUNDS {
            if let Some(c) = link.opened.lock().ok().and_then(|mut o| o.take()) {
                upstream.push(c);
            }
            upstream.retain_mut(|c| c.as_mut().poll(cx).is_pending());
            if round + 1 < DRIVE_ROUNDS
                && let Poll::Ready(r) = serve.as_mut().poll(cx)
            {
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
}

/// Rounds of [`drive`] per wake-up: upstream, inbound, upstream, inbound, upstream covers a
/// request written upstream (or a new connection's first write) and a response head then body
/// forwarded, the common cases; more rounds only re-poll idle futures.
const DRIVE_ROUNDS: usize = 3;

/// Now as RFC 3339 UTC with microseconds (the trace header's `start`).
pub fn rfc3339_now_us() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Proxies connections accepted on `listener` to the upstream until `shutdown` resolves, then
/// waits (at most [`crate::limits::RECORD_DRAIN`]) for open exchanges and closes the trace.
///
/// # Errors
///
/// A bad upstream URL, an unwritable trace file, an unusable certificate.
pub async fn record(
    opts: RecordOptions,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<RecordSummary, RecordError> {
    let upstream: Uri = opts
        .upstream
        .parse()
        .map_err(|e| RecordError::Upstream(format!("{}: {e}", opts.upstream)))?;
    if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
        return Err(RecordError::Upstream(format!(
            "{}: only http://host[:port]/path upstreams (TLS is terminated here, not re-originated)",
            opts.upstream
        )));
    }
    let Some(upstream_authority) = upstream.authority().cloned() else {
        return Err(RecordError::Upstream(format!("{}: no host", opts.upstream)));
    };
    let upstream_addr = format!(
        "{}:{}",
        upstream_authority.host(),
        upstream_authority.port_u16().unwrap_or(80)
    );
    let tls = match &opts.tls {
        Some((cert, key)) => Some(crate::tls::acceptor(cert, key).map_err(RecordError::Tls)?),
        None => None,
    };
    let mut header = Header::new(rfc3339_now_us(), "session");
    header.endpoint = Some(opts.upstream.clone());
    header.recorder = Some(format!("mcpx record {}", env!("CARGO_PKG_VERSION")));
    header.redact = vec!["authorization".into(), "secret-args".into()];
    if opts.recorder.redact.args {
        header.redact.push("args".into());
    }
    header.hdr = mcpx_trace::record::KEPT_REQUEST_HEADERS
        .iter()
        .chain(mcpx_trace::record::KEPT_RESPONSE_HEADERS)
        .map(|s| (*s).to_owned())
        .collect();
    header.group_idle_s = Some(opts.recorder.group_idle_us / 1_000_000);
    header.note = Some(
        "users: by bearer token when requests carry one, else by session (a new user per initialize), else by connection".into(),
    );
    let file = TraceFile::create(opts.trace.clone(), header).map_err(RecordError::Trace)?;
    let (trace, writer) = file.start(opts.recorder);
    let writer = spawn_writer(writer).map_err(RecordError::Trace)?;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(UPSTREAM_CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    let client = UpstreamClient::builder(TokioExecutor::new())
        .http2_only(opts.upstream_http2)
        .pool_max_idle_per_host(MAX_IDLE_UPSTREAM_PER_HOST)
        .build(connector);
    let shared = Arc::new(Shared {
        trace,
        exchanges: AtomicU64::new(0),
        upstream_errors: AtomicU64::new(0),
        upstream_authority,
        upstream_addr,
        upstream_http2: opts.upstream_http2,
        client,
    });
    // Connections are watched for a graceful shutdown (idle keep-alive ones close at once,
    // busy ones finish their exchanges) and aborted after RECORD_DRAIN.
    let graceful = GracefulShutdown::new();
    // The same for the inline HTTP/1.1 connections: idle ones close when this turns true, busy
    // ones after their exchange.
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    let mut next_conn = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (socket, _peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Finished connection tasks are reaped as we go.
        while conns.try_join_next().is_some() {}
        let _ = socket.set_nodelay(true);
        next_conn += 1;
        let conn = next_conn;
        let shared = shared.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let mut closing = close_rx.clone();
        conns.spawn(async move {
            // Plain HTTP/1.1 to an HTTP/1.1 upstream, the common case, takes the inline path.
            if tls.is_none() && !shared.upstream_http2 {
                match h1::preface(&socket, &mut closing).await {
                    h1::Preface::Http1 => return h1::serve(shared, conn, socket, closing).await,
                    h1::Preface::Gone => return,
                    h1::Preface::Http2 => {}
                }
            }
            let link = Arc::new(Link {
                slot: Mutex::new(Slot::Empty),
                opened: Mutex::new(None),
            });
            let driver = link.clone();
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let link = link.clone();
                async move { Ok::<_, Infallible>(proxy(shared, link, conn, req).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(socket).await {
                    Ok(stream) => {
                        let serve =
                            watcher.watch(builder.serve_connection(TokioIo::new(stream), svc));
                        drive(serve, &driver).await
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        Ok(())
                    }
                },
                None => {
                    let serve = watcher.watch(builder.serve_connection(TokioIo::new(socket), svc));
                    drive(serve, &driver).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    let drain = async {
        graceful.shutdown().await;
        while conns.join_next().await.is_some() {}
    };
    if tokio::time::timeout(crate::limits::RECORD_DRAIN, drain)
        .await
        .is_err()
    {
        tracing::warn!("open exchanges did not finish in time: closing them");
    }
    // Every connection (and with it every sender of the trace queue) is gone after this, so
    // the writer sees the end of the queue.
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    let exchanges = shared.exchanges.load(Ordering::Relaxed);
    let upstream_errors = shared.upstream_errors.load(Ordering::Relaxed);
    let dropped = shared.trace.dropped();
    drop(shared);
    let stats: WriterStats = writer
        .await
        .map_err(|_| RecordError::Trace(std::io::Error::other("the trace writer thread died")))?
        .map_err(RecordError::Trace)?;
    Ok(RecordSummary {
        exchanges,
        events_written: stats.events,
        events_dropped: dropped + stats.skipped,
        rotations: stats.rotations,
        upstream_errors,
    })
}

/// Nice value of the trace writer's thread where `SCHED_IDLE` is refused (see
/// [`lower_writer_priority`]).
const WRITER_NICE: i32 = 19;

/// Starts the trace writer on a thread of its own at the lowest priority there is (a dedicated
/// thread, not tokio's blocking pool: a pool thread would keep the priority for whatever runs on
/// it later).
fn spawn_writer(
    writer: crate::tracefile::TraceWriter,
) -> std::io::Result<tokio::sync::oneshot::Receiver<std::io::Result<WriterStats>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mcpx-trace-writer".into())
        .spawn(move || {
            lower_writer_priority();
            let _ = tx.send(writer.run());
        })?;
    Ok(rx)
}

/// Puts the calling thread (the trace writer) under `SCHED_IDLE`, or at [`WRITER_NICE`] where
/// that is refused. The writer batches its work (JSON, redaction, file writes: most of the
/// recording's CPU) every [`crate::limits::WRITER_TICK`]; at normal priority each batch is a
/// burst that the proxy's and the server's threads wait behind on a busy machine, which shows in
/// the tail latency of the exchanges it records. Nice 19 is not enough for that: the kernel's
/// fair scheduler (EEVDF) lets a running nice-19 thread finish its slice before a woken thread
/// may preempt it unless the woken one's deadline is earlier, while any ordinary thread that
/// wakes preempts a `SCHED_IDLE` one at once, and a core running only `SCHED_IDLE` threads
/// counts as idle when the kernel places a woken thread. Taking `SCHED_IDLE` needs no privilege.
/// The writer still gets every idle moment, and its queue absorbs the wait
/// ([`crate::limits::TRACE_QUEUE_OBS`]; what overflows is counted, never blocks the proxy). The
/// price: on a machine whose cores are all busy for longer than the queue lasts, the writer gets
/// almost nothing and observations are dropped, which the summary's `dropped` count reports; the
/// proxied traffic is never slowed for the trace. Measured in BENCHMARKS.md ("The record
/// proxy", tenth session).
fn lower_writer_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` reads one `sched_param` through the pointer during the
        // call and keeps nothing; `param` is an initialized local that outlives the call. Pid 0
        // names the calling thread only.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if rc == 0 {
            return;
        }
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "SCHED_IDLE refused for the trace writer: trying nice {WRITER_NICE}"
        );
        if let Err(e) =
            rustix::process::setpriority_process(Some(rustix::thread::gettid()), WRITER_NICE)
        {
            // Not fatal: the trace is the same, only the proxy's tail is less protected.
            tracing::debug!(error = %e, "could not lower the trace writer's priority");
        }
    }
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<String> = h
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP {
        h.remove(*name);
    }
    for name in named {
        h.remove(name.as_str());
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    r
}

async fn proxy(
    shared: Arc<Shared>,
    link: Arc<Link>,
    conn: u64,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large for mcpx record\n",
                );
            }
            return plain(StatusCode::BAD_REQUEST, "request body could not be read\n");
        }
    };
    // The recorder sees the request as it came (hop-by-hop headers included: it keeps only
    // what PROFILE.md names); the header map clone shares every value's bytes.
    let id = shared.begin_exchange(conn, parts.method.clone(), parts.headers.clone(), &body);
    // Until the response body takes over, a client that goes away (the future is dropped)
    // still ends the exchange in the trace.
    let mut pending = Pending {
        shared: shared.clone(),
        id,
        armed: true,
    };
    // Forward: same method, path, headers (minus hop-by-hop; Host names the upstream) and body
    // bytes.
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(http::header::HOST);
    let inline = parts.version < http::Version::HTTP_2 && !shared.upstream_http2;
    let route = if inline { link.route() } else { Route::Pool };
    let sender = match route {
        Route::Link(s) => Some(s),
        Route::Connect => match link_connect(&shared, &link).await {
            Ok(s) => Some(s),
            Err(what) => {
                link.release();
                return upstream_failed(&shared, &mut pending, what);
            }
        },
        Route::Pool => None,
    };
    let mut up = Request::new(Full::new(body));
    *up.method_mut() = parts.method;
    *up.headers_mut() = parts.headers;
    let result = match sender {
        Some(mut sender) => {
            // Origin form on the link's own connection, with the upstream's Host (what the
            // pooled client does for an absolute URI).
            if let Ok(host) = HeaderValue::from_str(shared.upstream_authority.as_str()) {
                up.headers_mut().insert(http::header::HOST, host);
            }
            *up.uri_mut() = Uri::from(path.clone());
            match sender.try_send_request(up).await {
                Ok(r) => Ok((r, Some(sender))),
                Err(mut e) => {
                    link.release();
                    match e.take_message() {
                        // Never written (the idle connection had just closed): the pool
                        // sends it instead.
                        Some(mut up) => {
                            up.headers_mut().remove(http::header::HOST);
                            match send_pooled(&shared, up, path).await {
                                Ok(r) => r.map(|r| (r, None)),
                                Err(refused) => return refused,
                            }
                        }
                        None => Err(UpstreamFailure::Link(e.into_error())),
                    }
                }
            }
        }
        None => match send_pooled(&shared, up, path).await {
            Ok(r) => r.map(|r| (r, None)),
            Err(refused) => return refused,
        },
    };
    let (resp, sender) = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "upstream request failed");
            return upstream_failed(&shared, &mut pending, e.what());
        }
    };
    let (mut rparts, rbody) = resp.into_parts();
    // Decided here from the content type alone, with the recorder's own function so the writer
    // decides the same way: SSE frames go to the writer one by one, a whole body once at its end.
    let sse = rparts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(mcpx_trace::record::is_event_stream);
    shared.trace.push(Obs::Head(Box::new(HeadObs {
        t: shared.trace.now(),
        id,
        status: rparts.status.as_u16(),
        headers: rparts.headers.clone(),
    })));
    strip_hop_by_hop(&mut rparts.headers);
    pending.armed = false;
    let body = TeeBody {
        inner: rbody,
        trace: BodyTrace::new(shared, id, sse),
        link: sender.map(|s| (link, s)),
    };
    Response::from_parts(rparts, body.boxed_unsync())
}

/// Why an upstream exchange failed.
#[derive(Debug)]
enum UpstreamFailure {
    /// On a link's own connection.
    Link(hyper::Error),
    /// Through the pooled client.
    Pool(hyper_util::client::legacy::Error),
}

impl UpstreamFailure {
    /// The trace's `err` value.
    fn what(&self) -> &'static str {
        match self {
            Self::Pool(e) if e.is_connect() => "connect",
            _ => "reset",
        }
    }
}

impl std::fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Link(e) => e.fmt(f),
            Self::Pool(e) => e.fmt(f),
        }
    }
}

/// An exchange the upstream failed: counted, ended in the trace as failed by the server side,
/// answered 502.
fn upstream_failed(
    shared: &Shared,
    pending: &mut Pending,
    what: &'static str,
) -> Response<ProxyBody> {
    shared.upstream_errors.fetch_add(1, Ordering::Relaxed);
    pending.armed = false;
    shared.trace.push(Obs::End {
        t: shared.trace.now(),
        id: pending.id,
        by: Dir::S2c,
        failed: Some(what),
        total: 0,
    });
    plain(StatusCode::BAD_GATEWAY, "mcpx record: upstream failed\n")
}

/// Sends `up` through the pooled client at the absolute URI of `path`; `Err` (a 400 to answer)
/// when `path` cannot make one.
async fn send_pooled(
    shared: &Shared,
    mut up: Request<Full<Bytes>>,
    path: http::uri::PathAndQuery,
) -> Result<Result<Response<Incoming>, UpstreamFailure>, Response<ProxyBody>> {
    let Some(uri) = pooled_uri(shared, path) else {
        return Err(plain(StatusCode::BAD_REQUEST, "bad request target\n"));
    };
    *up.uri_mut() = uri;
    Ok(shared
        .client
        .request(up)
        .await
        .map_err(UpstreamFailure::Pool))
}

/// The absolute upstream URI of `path`, as the pooled client wants it.
fn pooled_uri(shared: &Shared, path: http::uri::PathAndQuery) -> Option<Uri> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(shared.upstream_authority.clone());
    parts.path_and_query = Some(path);
    Uri::from_parts(parts).ok()
}

/// Ends an exchange whose request future was dropped before its response (the client left).
struct Pending {
    shared: Arc<Shared>,
    id: u64,
    armed: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.armed {
            self.shared.trace.push(Obs::End {
                t: self.shared.trace.now(),
                id: self.id,
                by: Dir::C2s,
                failed: Some("reset"),
                total: 0,
            });
        }
    }
}

/// The response side of one exchange in the trace: its body's frames (SSE: each one; otherwise
/// the body, kept up to the cap) and its end, pushed exactly once. Shared by both proxy paths.
struct BodyTrace {
    shared: Arc<Shared>,
    id: u64,
    sse: bool,
    /// A whole body's frames, up to the traced-body cap (shared `Bytes`, no copy for one frame).
    kept: Kept,
    total: u64,
    finished: bool,
}

impl BodyTrace {
    fn new(shared: Arc<Shared>, id: u64, sse: bool) -> Self {
        Self {
            shared,
            id,
            sse,
            kept: Kept::Empty,
            total: 0,
            finished: false,
        }
    }

    fn on_data(&mut self, data: &Bytes) {
        self.total += data.len() as u64;
        if self.sse {
            self.shared.trace.push(Obs::Frame {
                t: self.shared.trace.now(),
                id: self.id,
                data: data.clone(),
            });
        } else {
            self.kept.push(data);
        }
    }

    /// Ends the exchange (once; later calls do nothing): a whole body that arrived cleanly
    /// goes to the writer with it.
    fn end(&mut self, by: Dir, failed: Option<&'static str>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let t = self.shared.trace.now();
        let obs = if failed.is_none() && by == Dir::S2c && !self.sse {
            Obs::Body {
                t,
                id: self.id,
                kept: std::mem::take(&mut self.kept),
                total: self.total,
            }
        } else {
            Obs::End {
                t,
                id: self.id,
                by,
                failed,
                total: self.total,
            }
        };
        self.shared.trace.push(obs);
    }

    /// The client went away: an SSE stream closed by its reader is a normal end, anything else
    /// a reset.
    fn client_gone(&mut self) {
        let failed = (!self.sse).then_some("reset");
        self.end(Dir::C2s, failed);
    }
}

/// The upstream response body on its way to the client (hyper path): every frame is passed on
/// as it comes and shown to the trace.
struct TeeBody {
    inner: Incoming,
    trace: BodyTrace,
    /// The link connection this body arrives on: handed back when the body ends cleanly.
    link: Option<(Arc<Link>, http1::SendRequest<Full<Bytes>>)>,
}

impl TeeBody {
    fn on_end(&mut self, by: Dir, failed: Option<&'static str>) {
        if self.trace.finished {
            return;
        }
        if let Some((link, sender)) = self.link.take() {
            if failed.is_none() && by == Dir::S2c {
                link.give_back(sender);
            } else {
                link.release();
            }
        }
        self.trace.end(by, failed);
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.trace.on_data(data);
                }
                // hyper stops polling a body that says it is over: record its end now.
                if this.inner.is_end_stream() {
                    this.on_end(Dir::S2c, None);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.on_end(Dir::S2c, Some("reset"));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.on_end(Dir::S2c, None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        // Dropped before its end: the client went away (or closed the stream on purpose).
        if !self.trace.finished {
            if self.inner.is_end_stream() {
                self.on_end(Dir::S2c, None);
            } else {
                if let Some((link, _)) = self.link.take() {
                    link.release();
                }
                self.trace.client_gone();
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The trace writer's thread runs under `SCHED_IDLE` (or, where that is refused, at nice
    /// 19), read back from `/proc/thread-self/stat`: field 19 is the nice value, field 41 the
    /// scheduling policy (`SCHED_IDLE` is 5), counted from the pid.
    #[test]
    fn the_trace_writer_thread_yields_to_everything_else() {
        let (policy, nice) = std::thread::spawn(|| {
            super::lower_writer_priority();
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // After the command name (which may hold spaces) in parentheses: field 3 onward.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            let field = |n: usize| fields[n - 3].parse::<i64>().unwrap();
            (field(41), field(19))
        })
        .join()
        .unwrap();
        assert!(
            policy == i64::from(libc::SCHED_IDLE) || nice == i64::from(super::WRITER_NICE),
            "policy {policy}, nice {nice}"
        );
        // The test thread itself is untouched.
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        assert_eq!(rest.split(' ').nth(41 - 3), Some("0"), "{stat}");
    }
}
