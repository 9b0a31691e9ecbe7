//! The runner: virtual users from `mcpx-scenario` driven over `mcpx-client`, in real time.
//!
//! One task schedules arrivals ([`Arrivals`]) and starts a task per virtual user. A user task
//! owns its [`VirtualUser`] state machine: it starts each operation the user asks for in a
//! task of its own (so a user's parallel calls overlap, as Claude's do), feeds every outcome
//! back (with the time it arrived), and sleeps until the user's next wake-up or the next
//! outcome (the last few milliseconds of a wait on the run's high-resolution wheel,
//! `precise::Wheel`, not tokio's millisecond timer). Every request is reported to a [`Sink`]
//! with its *intended* send time (the moment the user's schedule said
//! to send it), so latency includes any time the generator or the server made it wait: no
//! coordinated omission (the wrk2 rule). The sink also learns how late each request left
//! (generator lag), so a generator that falls behind says so.
//!
//! What each operation is on the wire is the table in the `mcpx-scenario` crate docs; the
//! runner binds sessions issued by `initialize` to the user's session slots, pages lists,
//! sends `_meta` from the profile, and answers server-to-client requests as the user decides.
//!
//! # Transports
//!
//! [`Transport::StreamableHttp`] is the default. Over [`Transport::LegacySse`] (2024-11-05
//! HTTP+SSE, found by [`discover`] when `initialize` is refused and a `GET` offers the
//! `endpoint` event) and [`Transport::Stdio`] (the server spawned as a child), a session is a
//! channel of its own: **one `GET` stream or one child process per MCP session** (each
//! `initialize`), as a real client has it. Channels alive at once are bounded by
//! [`MAX_STDIO_PROCESSES`] / [`MAX_LEGACY_SSE_STREAMS`] (a session beyond it waits for a free
//! one; the wait counts in its latency, and [`RunSummary::channel_waits`] says how often), and
//! a user keeps at most [`MAX_CHANNEL_SESSIONS_PER_USER`] (older ones are closed: the profile
//! never returns to a session it has replaced). A user's first `server/discover` probe over
//! stdio runs in a child of its own: if it lists 2026-07-28 that child is the user's stateless
//! channel (later probes and every modern request go there), else it takes the user's
//! `initialize`. Over legacy HTTP+SSE the probe is POSTed to the URL (as by a client that does
//! not know the server yet) and the user stays in the session era.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use mcpx_client::{
    Client, ClientOptions, EraChoice, Error as ClientError, EventKind, Exchange, HttpVersion,
    PoolMode, ProtocolVersion, Session,
};
use mcpx_scenario::{
    Action, Answer, Arrivals, CancelReason, Connections, Done, Era, Failure, MetaValue, Op, OpId,
    OpKind, Outcome, Plan, Scenario, ServerCaps, ServerRequest, ServerRequestId, SessionRef, Shard,
    StartKind, ToolInfo, UserStats, VirtualUser,
};
use mcpx_wire::{Message, RawJson};

use crate::metrics::{Outcome as RequestOutcome, RequestRecord};
use crate::precise::{PreciseTimer, WakeSlot, Wheel};
use serde_json::Value as Json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

/// Virtual users alive at once, at most: each holds a task, a few sessions and buffers. An
/// arrival beyond it is not started and is counted ([`RunSummary::users_refused`]): the report
/// then says the generator could not keep up instead of silently running fewer.
pub const MAX_LIVE_USERS: usize = 200_000;

/// Outcomes queued per user before its operations wait: a user has a handful of requests in
/// flight, each with a few events.
const USER_EVENT_QUEUE: usize = 256;

/// Server requests waiting for one user's answer, at most: the user schedules at most
/// `mcpx_scenario::MAX_PENDING_ANSWERS` (64) answers and ignores the rest, so a server that
/// asks faster than anyone answers must not grow the runner's memory.
const MAX_ASKED: usize = 256;

/// Pages of one list followed at most (a server whose cursor never ends must not hold a user
/// forever).
const MAX_LIST_PAGES: usize = 100;

/// Steps whose fan-outs a user keeps before the runner hands them to the metrics: one byte
/// each, so a user holds at most this much however long it runs, and the metrics lock is taken
/// once per this many steps for them.
const FAN_OUT_BATCH: usize = 256;

/// How long the scheduler sleeps at most between checks of the stop signal.
const SCHEDULER_TICK: Duration = Duration::from_millis(100);

/// A user's timer deadline when its wait does not fit in an `Instant` (tokio's own
/// "far future" for `sleep`): about 30 years, never reached by a run.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// How long users get after the deadline to close what they hold before the run ends anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// stdio server processes alive at once, at most (one per MCP session). A spawned SDK server
/// costs 30 to 60 MiB and 50 to 300 ms of CPU to start (Node, Python, measured against the
/// interop peers): 32 keep a 2-core machine responsive while still loading the server with
/// concurrent sessions. A session beyond it waits for a free process.
pub const MAX_STDIO_PROCESSES: usize = 32;

/// Legacy HTTP+SSE sessions (each one held `GET` stream) alive at once, at most: a held
/// stream costs the generator one connection and a reader task, far less than a process;
/// the bound keeps a run under the default open-file limit (1024) with room for POSTs.
pub const MAX_LEGACY_SSE_STREAMS: usize = 512;

/// Channel sessions (stdio processes, legacy streams) one user keeps, at most: the profile's
/// widest parallel step is 5 calls, each on a fresh session (claude.ai), plus the session a
/// Claude Code user holds; older sessions are closed when a new one is bound.
pub const MAX_CHANNEL_SESSIONS_PER_USER: usize = 6;

/// The stateless handle's URL in a stdio run (never sent to: see [`drive_user`]).
const UNUSED_HTTP_URL: &str = "http://127.0.0.1:9/unused";

/// How the runner reaches the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Streamable HTTP at [`RunOptions::url`] (both eras).
    #[default]
    StreamableHttp,
    /// Legacy HTTP+SSE (2024-11-05) at [`RunOptions::url`] (the `GET` endpoint): one stream per
    /// session.
    LegacySse,
    /// A stdio server: `program` with `args`, one process per session (stderr discarded).
    Stdio {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl Transport {
    fn is_channel(&self) -> bool {
        !matches!(self, Self::StreamableHttp)
    }

    /// How many channel sessions may be alive at once (none for Streamable HTTP).
    fn channel_limit(&self) -> Option<usize> {
        match self {
            Self::StreamableHttp => None,
            Self::LegacySse => Some(MAX_LEGACY_SSE_STREAMS),
            Self::Stdio { .. } => Some(MAX_STDIO_PROCESSES),
        }
    }

    /// One line for the plan: what a session is on this transport.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::StreamableHttp => "Streamable HTTP".to_owned(),
            Self::LegacySse => format!(
                "legacy HTTP+SSE (2024-11-05): one GET stream per MCP session, at most {MAX_LEGACY_SSE_STREAMS} at once"
            ),
            Self::Stdio { program, .. } => format!(
                "stdio ({program}): one server process per MCP session, at most {MAX_STDIO_PROCESSES} at once, {MAX_CHANNEL_SESSIONS_PER_USER} per user"
            ),
        }
    }

    fn command(&self) -> Option<tokio::process::Command> {
        let Self::Stdio { program, args } = self else {
            return None;
        };
        let mut c = tokio::process::Command::new(program);
        // A server's log lines from hundreds of processes would drown the live view.
        c.args(args).stderr(std::process::Stdio::null());
        Some(c)
    }
}

/// What [`discover`] found: the tools to call and the transport that reached them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Discovery {
    /// The server's tools.
    pub tools: Vec<ToolInfo>,
    /// The transport (Streamable HTTP, or legacy HTTP+SSE when the server fell back to it).
    pub transport: Transport,
}

/// Everything else the runner reports.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum RunEvent<'a> {
    /// A user started.
    UserStarted {
        /// Its family.
        family: &'a str,
    },
    /// Fan-outs of steps a user ran, handed over before it finishes (a long-lived user's
    /// are not kept until its end).
    FanOuts {
        /// One per step.
        fan_outs: &'a [u8],
    },
    /// A user finished.
    UserFinished {
        /// Its family.
        family: &'a str,
        /// Its counters.
        stats: &'a UserStats,
        /// Requests it sent.
        requests: u64,
        /// When it finished, µs.
        at_us: u64,
    },
    /// A session was created (`initialize` answered with a result).
    SessionOpened {
        /// The family.
        family: &'a str,
    },
    /// A session was ended by DELETE.
    SessionClosed {
        /// The family.
        family: &'a str,
    },
    /// A GET or listen stream was accepted.
    StreamOpened,
    /// A stream ended.
    StreamClosed,
    /// An SSE event (progress, notification or the final response) arrived `latency_us`
    /// after its request was sent.
    SseEvent {
        /// The request's method.
        method: &'a str,
        /// Send to event, µs.
        latency_us: u64,
    },
    /// Time between two progress notifications of one call.
    ProgressGap {
        /// µs.
        gap_us: u64,
    },
    /// Serialized `arguments` of a `tools/call`.
    ArgsSize {
        /// Bytes.
        bytes: u64,
    },
    /// A `tools/call` result.
    ResultSize {
        /// Bytes.
        bytes: u64,
    },
    /// A tool call answered on a session opened for it (its `initialize` and
    /// `notifications/initialized` were the session's only requests before it): claude.ai's
    /// effective call latency (PROFILE.md section 4).
    HandshakeCall {
        /// The family.
        family: &'a str,
        /// From the intended start of the `initialize` to the tool result, µs.
        latency_us: u64,
    },
}

/// Where measurements go (the metrics recorder; tests use their own).
pub trait Sink: Send + Sync + 'static {
    /// One request (latency from its intended send time: see [`RequestRecord`]).
    fn request(&self, record: &RequestRecord<'_>);
    /// Anything else.
    fn event(&self, event: RunEvent<'_>);
}

/// How to run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunOptions {
    /// The MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`.
    pub url: String,
    /// The scenario (already given its seed, rates, duration and time scale).
    pub scenario: Scenario,
    /// Which users this process runs.
    pub shard: Shard,
    /// Force HTTP/2 for every family (otherwise each family's `http_version`).
    pub http2: bool,
    /// Extra headers on every request.
    pub headers: Vec<(String, String)>,
    /// `Authorization: Bearer` on authenticated requests (overrides `[auth]`).
    pub bearer: Option<String>,
    /// Deadline of every request (client side); the profile's own deadlines still apply.
    pub request_timeout: Option<Duration>,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// An extra CA (PEM) for TLS targets.
    pub cacert: Option<Vec<u8>>,
    /// How to reach the target (Streamable HTTP unless [`discover`] or the caller says
    /// otherwise).
    pub transport: Transport,
}

impl RunOptions {
    /// Options for `url` and `scenario`, every other knob at its default.
    pub fn new(url: impl Into<String>, scenario: Scenario) -> Self {
        Self {
            url: url.into(),
            scenario,
            shard: Shard::all(),
            http2: false,
            headers: Vec::new(),
            bearer: None,
            request_timeout: None,
            max_requests: None,
            insecure: false,
            cacert: None,
            transport: Transport::StreamableHttp,
        }
    }
}

/// What a run did, beyond the measurements.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunSummary {
    /// Users started.
    pub users_started: u64,
    /// Users that ran to their end.
    pub users_finished: u64,
    /// Arrivals not started because [`MAX_LIVE_USERS`] were alive.
    pub users_refused: u64,
    /// Requests sent.
    pub requests: u64,
    /// Wall-clock length of the run.
    pub elapsed: Duration,
    /// The tools the users called from.
    pub tools: Vec<String>,
    /// Why the run stopped early, if it did (Ctrl-C, request limit).
    pub stopped_early: Option<String>,
    /// Call-rate model: when the call schedule started (µs into the run), once its sessions
    /// were open.
    pub calls_started_us: Option<u64>,
    /// Sessions that waited for a free channel (stdio process, legacy stream) because
    /// [`MAX_STDIO_PROCESSES`] / [`MAX_LEGACY_SSE_STREAMS`] were alive.
    pub channel_waits: u64,
}

/// LiveCounts counters for the progress view.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LiveCounts {
    /// Users alive.
    pub users: AtomicUsize,
    /// Legacy sessions bound and not yet deleted or dropped.
    pub sessions: AtomicUsize,
    /// Streams held open.
    pub streams: AtomicUsize,
    /// Requests sent.
    pub requests: AtomicU64,
}

/// A run failed before it could measure anything.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The options are wrong (what to fix is in the message).
    Invalid(String),
    /// The target could not be reached or listed (the message says which step failed).
    Target(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(m) => write!(f, "invalid run options: {m}"),
            Self::Target(m) => write!(f, "target: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Connects to the target and lists its tools (every page): the catalog virtual users call
/// from.
///
/// # Errors
///
/// [`RunError::Target`] naming the step that failed (connect, handshake, `tools/list`).
pub async fn discover_tools(opts: &RunOptions) -> Result<Vec<ToolInfo>, RunError> {
    Ok(discover(opts).await?.tools)
}

/// Connects to the target as [`RunOptions::transport`] says and lists its tools. Over
/// Streamable HTTP the client falls back to legacy HTTP+SSE when the server refuses
/// `initialize` and offers the `endpoint` event (MCP-DIGEST 3.9): the result then names
/// [`Transport::LegacySse`], which the run must use.
///
/// # Errors
///
/// [`RunError::Target`] naming the step that failed (spawn, connect, handshake, `tools/list`).
pub async fn discover(opts: &RunOptions) -> Result<Discovery, RunError> {
    let mut o = client_options(opts, opts.http2, PoolMode::Shared)?;
    o.legacy_fallback(true);
    if opts.transport == Transport::LegacySse {
        o.era(EraChoice::LegacySse);
    }
    let client = Client::new(o).map_err(|e| RunError::Invalid(e.to_string()))?;
    let session = match opts.transport.command() {
        Some(cmd) => client.stdio(cmd).await.map_err(|e| {
            RunError::Target(format!("cannot start a session with the stdio server: {e}"))
        })?,
        None => client.session(&opts.url).await.map_err(|e| {
            RunError::Target(format!("cannot open a session with {}: {e}", opts.url))
        })?,
    };
    let transport = match &opts.transport {
        Transport::StreamableHttp if session.is_channel() => Transport::LegacySse,
        t => t.clone(),
    };
    let tools = session
        .list_all("tools/list", "tools")
        .await
        .map_err(|e| RunError::Target(format!("tools/list failed: {e}")))?;
    let _ = session.close().await;
    Ok(Discovery {
        tools: tools
            .iter()
            .filter_map(|raw| serde_json::from_slice::<Json>(raw.as_bytes()).ok())
            .filter_map(|t| ToolInfo::from_json(&t))
            .collect(),
        transport,
    })
}

fn client_options(
    opts: &RunOptions,
    http2: bool,
    pool: PoolMode,
) -> Result<ClientOptions, RunError> {
    let mut o = ClientOptions::new();
    o.http_version(if http2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Http1
    })
    .pool(pool)
    .legacy_fallback(false)
    .background_stream(false);
    if let Some(d) = opts.request_timeout {
        o.request_timeout(d);
    }
    if opts.insecure {
        o.dangerous_accept_invalid_certs(true);
    }
    if let Some(pem) = &opts.cacert {
        o.ca_pem(pem.clone());
    }
    Ok(o)
}

/// Runs the scenario against the target until its deadline (or `stop`), reporting to `sink`.
///
/// # Errors
///
/// [`RunError`] when the plan cannot be built from `catalog` (e.g. no callable tool).
pub async fn run(
    opts: RunOptions,
    catalog: &[ToolInfo],
    sink: Arc<dyn Sink>,
    live: Arc<LiveCounts>,
    mut stop: watch::Receiver<bool>,
) -> Result<RunSummary, RunError> {
    if opts.scenario.scenarios.oauth_connect {
        return Err(RunError::Invalid(
            "[scenarios] oauth_connect is not supported by this runner yet; switch it off".into(),
        ));
    }
    let plan = Arc::new(
        Plan::new(opts.scenario.clone(), catalog).map_err(|e| RunError::Invalid(e.to_string()))?,
    );
    let tools = plan.tools().iter().map(|t| t.name.clone()).collect();
    let ctx = Arc::new(RunCtx::new(opts, &plan, sink, live)?);
    let mut arrivals = Arrivals::new(&ctx.opts.scenario, ctx.opts.shard);
    // `[load] prefill` (open model only: a closed model's population is its user count).
    let mut pending: Vec<mcpx_scenario::Start> = if ctx.opts.scenario.load.prefill
        && ctx.opts.scenario.load.model == mcpx_scenario::LoadModel::Open
    {
        mcpx_scenario::prefill(&ctx.opts.scenario, ctx.opts.shard)
    } else {
        Vec::new()
    };
    pending.reverse();
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<u64>();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut drivers: HashMap<u64, mpsc::Sender<u64>> = HashMap::new();
    let mut summary = RunSummary {
        tools,
        ..RunSummary::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    // The call-rate model's schedule starts once its sessions are open (see `CallClock`).
    let mut clock = CallClock::new(ctx.opts.scenario.load.model == mcpx_scenario::LoadModel::Calls);
    // Arrivals leave when they are due, not at the next millisecond tick (see `precise`).
    let mut timer = PreciseTimer::new();
    loop {
        let now = ctx.now_us();
        clock.update(
            now,
            ctx.drivers_ready.load(Ordering::Relaxed),
            summary.users_finished,
        );
        let deadline = clock.deadline(arrivals.deadline_us());
        if now >= deadline || *stop.borrow() || ctx.over_request_limit() {
            if *stop.borrow() {
                summary.stopped_early = Some("interrupted".into());
            } else if ctx.over_request_limit() {
                summary.stopped_early = Some("request limit reached".into());
            }
            break;
        }
        while let Some(start) = pending
            .pop_if(|s| s.at_us <= now)
            .or_else(|| arrivals.poll(clock.to_schedule(now)))
        {
            if start.kind == StartKind::Call {
                if let Some(tx) = drivers.get(&start.index) {
                    let _ = tx.try_send(clock.to_run(start.at_us));
                }
                continue;
            }
            if start.kind == StartKind::Session {
                clock.drivers += 1;
            }
            if ctx.live.users.load(Ordering::Relaxed) >= MAX_LIVE_USERS {
                summary.users_refused += 1;
                continue;
            }
            let user = match start.kind {
                StartKind::Prefilled {
                    family,
                    remaining_us,
                } => VirtualUser::prefilled(&plan, start.index, family, start.at_us, remaining_us),
                StartKind::Session => {
                    VirtualUser::session_driver(&plan, start.index, 0, start.at_us)
                }
                _ => VirtualUser::new(&plan, start.index, start.at_us),
            };
            let inject = if matches!(start.kind, StartKind::Session) {
                let (tx, rx) = mpsc::channel(USER_EVENT_QUEUE);
                drivers.insert(start.index, tx);
                Some(rx)
            } else {
                None
            };
            summary.users_started += 1;
            let ctx = ctx.clone();
            let done = finished_tx.clone();
            let shutdown = shutdown_rx.clone();
            tasks.spawn(async move {
                let index = start.index;
                drive_user(ctx, user, shutdown, inject).await;
                let _ = done.send(index);
            });
        }
        while let Ok(index) = finished_rx.try_recv() {
            summary.users_finished += 1;
            arrivals.on_user_finished(index, ctx.now_us());
            drivers.remove(&index);
        }
        while tasks.try_join_next().is_some() {}
        // A count-bounded run (`max_users`) whose users have all finished has nothing left to
        // do: ending now, not at the deadline, makes it last as long as its users.
        if arrivals.is_exhausted() && pending.is_empty() && tasks.is_empty() {
            break;
        }
        let next = [
            arrivals.next_wakeup().map(|t| clock.to_run(t)),
            pending.last().map(|s| s.at_us),
            Some(deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(deadline);
        let wait = Duration::from_micros(next.saturating_sub(ctx.now_us())).min(SCHEDULER_TICK);
        tokio::select! {
            () = timer.sleep_until(tokio::time::Instant::now() + wait) => {}
            Some(index) = finished_rx.recv() => {
                summary.users_finished += 1;
                arrivals.on_user_finished(index, ctx.now_us());
                drivers.remove(&index);
            }
            _ = stop.changed() => {}
            () = ctx.driver_ready.notified(), if clock.waiting() => {}
        }
    }
    summary.calls_started_us = clock.started_us();
    // The deadline: every user closes what it holds, briefly.
    ctx.stopping.store(true, Ordering::Relaxed);
    let _ = shutdown_tx.send(true);
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = tasks.join_next() => {
                if joined.is_none() {
                    break;
                }
            }
            () = &mut grace => {
                tasks.abort_all();
                break;
            }
        }
    }
    while finished_rx.try_recv().is_ok() {
        summary.users_finished += 1;
    }
    summary.requests = ctx.live.requests.load(Ordering::Relaxed);
    summary.channel_waits = ctx.channel_waits.load(Ordering::Relaxed);
    summary.elapsed = ctx.start.elapsed();
    Ok(summary)
}

/// What every user task shares.
struct RunCtx {
    opts: RunOptions,
    sink: Arc<dyn Sink>,
    live: Arc<LiveCounts>,
    start: Instant,
    /// One client (pool) per family with `connections = "shared"` or `"per_request"`.
    family_clients: Vec<Option<Client>>,
    /// `--header`s, parsed once.
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `Authorization: Bearer ...`, built once.
    bearer: Option<http::HeaderValue>,
    /// Free channel sessions (stdio processes, legacy streams); `None` over Streamable HTTP.
    channels: Option<Arc<Semaphore>>,
    /// Sessions that had to wait for a free channel.
    channel_waits: AtomicU64,
    /// Call-rate session drivers whose session is open (they wait for calls).
    drivers_ready: AtomicU64,
    /// Wakes the scheduler when a driver becomes ready.
    driver_ready: tokio::sync::Notify,
    /// Users' sub-millisecond wake-ups (think times, answer delays, backoffs).
    wheel: Wheel,
    /// Set when the run reaches its deadline, just before the shutdown signal: users check it
    /// on every turn of their loop (see `drive_user`).
    stopping: AtomicBool,
}

/// The call-rate model's schedule clock. `--call-rate R` measures calls at a fixed rate over
/// open sessions, so its schedule starts when every session driver has opened its session
/// (or ended trying), at most [`CALL_SCHEDULE_WAIT_US`] after the run started: calls due
/// while the handshakes were still running would otherwise queue behind them, and the first
/// second would measure the handshakes, not the calls. The schedule's times (arrivals, stages,
/// duration, drain) are then offset by that start; other models start at once.
struct CallClock {
    /// `None`: not started yet; the run time at which the schedule's time 0 falls.
    start_us: Option<u64>,
    /// Session drivers started.
    drivers: u64,
}

/// The longest a call-rate run waits for its sessions before its schedule starts anyway (a
/// session that takes longer is slow or failing: its calls wait, and that counts).
const CALL_SCHEDULE_WAIT_US: u64 = 10_000_000;

impl CallClock {
    fn new(calls_model: bool) -> Self {
        Self {
            start_us: (!calls_model).then_some(0),
            drivers: 0,
        }
    }

    /// Starts the schedule once the drivers started so far are ready or finished.
    fn update(&mut self, now_us: u64, ready: u64, finished: u64) {
        if self.start_us.is_none()
            && ((self.drivers > 0 && ready.saturating_add(finished) >= self.drivers)
                || now_us >= CALL_SCHEDULE_WAIT_US)
        {
            self.start_us = Some(now_us);
        }
    }

    fn waiting(&self) -> bool {
        self.start_us.is_none()
    }

    /// Run time (µs since the run started) to schedule time; before the start, 0 (only the
    /// session starts at time 0 are due then).
    fn to_schedule(&self, run_us: u64) -> u64 {
        self.start_us.map_or(0, |s| run_us.saturating_sub(s))
    }

    /// Schedule time to run time (before the start, as if it started now: never earlier).
    fn to_run(&self, schedule_us: u64) -> u64 {
        schedule_us.saturating_add(self.start_us.unwrap_or(0))
    }

    /// The run's deadline for a schedule ending at `schedule_us`: none before the start.
    fn deadline(&self, schedule_us: u64) -> u64 {
        self.start_us
            .map_or(u64::MAX, |s| schedule_us.saturating_add(s))
    }

    /// When the call schedule started, for the call-rate model.
    fn started_us(&self) -> Option<u64> {
        self.start_us.filter(|_| self.drivers > 0)
    }
}

impl RunCtx {
    fn new(
        opts: RunOptions,
        plan: &Plan,
        sink: Arc<dyn Sink>,
        live: Arc<LiveCounts>,
    ) -> Result<Self, RunError> {
        let mut family_clients = Vec::new();
        for family in &plan.scenario().clients {
            let http2 = opts.http2 || family.http_version == mcpx_scenario::HttpVersion::Http2;
            let client = match family.connections {
                Connections::PerUser => None,
                Connections::PerRequest => Some(
                    Client::new(client_options(&opts, http2, PoolMode::PerRequest)?)
                        .map_err(|e| RunError::Invalid(e.to_string()))?,
                ),
                _ => Some(
                    Client::new(client_options(&opts, http2, PoolMode::Shared)?)
                        .map_err(|e| RunError::Invalid(e.to_string()))?,
                ),
            };
            family_clients.push(client);
        }
        let token = opts.bearer.clone().or_else(|| {
            let token = plan.scenario().auth.bearer_token.clone();
            (!token.is_empty()).then_some(token)
        });
        let bearer = token
            .map(|t| {
                http::HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    RunError::Invalid("the bearer token is not a valid header value".into())
                })
            })
            .transpose()?;
        let headers = opts
            .headers
            .iter()
            .map(|(k, v)| {
                match (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    http::HeaderValue::from_str(v),
                ) {
                    (Ok(k), Ok(v)) => Ok((k, v)),
                    _ => Err(RunError::Invalid(format!("invalid header {k:?}: {v:?}"))),
                }
            })
            .collect::<Result<_, _>>()?;
        let opts_channels = opts
            .transport
            .channel_limit()
            .map(|n| Arc::new(Semaphore::new(n)));
        Ok(Self {
            opts,
            sink,
            live,
            start: Instant::now(),
            family_clients,
            headers,
            bearer,
            channels: opts_channels,
            channel_waits: AtomicU64::new(0),
            drivers_ready: AtomicU64::new(0),
            driver_ready: tokio::sync::Notify::new(),
            wheel: Wheel::spawn(),
            stopping: AtomicBool::new(false),
        })
    }

    /// A free channel slot, waiting for one when all are taken.
    async fn channel_permit(&self) -> Option<OwnedSemaphorePermit> {
        let sem = self.channels.clone()?;
        match sem.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                self.channel_waits.fetch_add(1, Ordering::Relaxed);
                sem.acquire_owned().await.ok()
            }
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX)
    }

    fn over_request_limit(&self) -> bool {
        self.opts
            .max_requests
            .is_some_and(|n| self.live.requests.load(Ordering::Relaxed) >= n)
    }
}

/// A user's small maps, touched on every request (its operations in flight, their JSON-RPC
/// ids, its sessions): keyed by the user's own counters, so foldhash, not SipHash (whose
/// DoS resistance buys nothing here and cost ~80 instructions per lookup, six per request).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A user's connection to the target: its client (shared pool or its own), its sessions.
struct UserWire {
    ctx: Arc<RunCtx>,
    family: String,
    client: Client,
    /// Session slots bound by `initialize` (legacy).
    sessions: Mutex<FastMap<SessionRef, Bound>>,
    /// stdio: the child a `server/discover` probe ran in, kept for the user's `initialize`.
    spare: Mutex<Option<Bound>>,
    /// stdio: the child that answered the probe with 2026-07-28: the user's stateless
    /// requests go there.
    modern: Mutex<Option<Bound>>,
    /// The user task's outcome queue (server requests that arrive outside an exchange: over a
    /// channel's handler).
    events: mpsc::Sender<OpEvent>,
    /// `tools/call` operations in flight, with their session slot (newest last): a server
    /// request over a channel is attributed to the newest call of its session.
    open_calls: Mutex<Vec<(OpId, Option<SessionRef>)>>,
    /// The stateless handle (modern).
    stateless: Session,
    /// JSON-RPC ids: unique per user, so unique in every session it opens.
    next_id: AtomicI64,
    /// JSON-RPC ids for legacy `notifications/cancelled`: a `tools/call` past its first round
    /// (MRTR) lists its current id here while it runs, and a cancelled call's id waits here
    /// for its `Cancelled` operation, which takes it. A first round's id is the one its
    /// [`Running`] entry holds: no lock and no map entry per call.
    ids: Mutex<FastMap<OpId, i64>>,
    /// Server-to-client requests waiting for the user's answer.
    asked: Mutex<FastMap<ServerRequestId, Asked>>,
    /// Sessions with nothing but their handshake sent yet: the intended start of their
    /// `initialize` (for [`RunEvent::HandshakeCall`]). A session leaves at its first other
    /// request.
    fresh: Mutex<FastMap<SessionRef, u64>>,
    /// `fresh` holds a session (kept with it, under its lock).
    any_fresh: AtomicBool,
    next_asked: AtomicU64,
    requests: AtomicU64,
    /// A bound session was counted in `LiveCounts::sessions` and not yet released.
    closed: AtomicBool,
    /// The family's `User-Agent` and `Accept`, then the run's `--header`s (a later one
    /// replaces an earlier of the same name).
    base_headers: mcpx_client::SharedHeaders,
    /// The last `tools/call` arguments text and its validated JSON: a profile's fixed
    /// arguments are the same text on every call, validated once.
    arguments: Mutex<Option<(String, RawJson)>>,
    /// Whether the user's own deadline for a `tools/call` (`tool_call_ms`) comes no later than
    /// the client's request timeout: the user then cancels a stalled call first, and the
    /// client need not keep a timer of its own for it ([`mcpx_client::RequestBuilder::bounded_by_caller`]).
    calls_bounded: bool,
}

/// A bound session and, over a channel transport, the slot it holds.
struct Bound {
    session: Session,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A server-to-client request waiting for the user's [`OpKind::Answer`].
enum Asked {
    /// Arrived on a Streamable HTTP response stream: answered by a POST to its session.
    Http(Session, Message),
    /// Arrived over a channel (answered by its handler) or in an `input_required` result
    /// (answered in the retried request): the answer goes to whoever waits here.
    Waiting(oneshot::Sender<Answer>),
}

impl UserWire {
    /// stdio: the user's 2026-07-28 channel, once a probe found one.
    fn modern_session(&self) -> Option<Session> {
        self.modern.lock().ok()?.as_ref().map(|b| b.session.clone())
    }

    fn session(&self, slot: Option<SessionRef>, era: Era) -> Option<Session> {
        match era {
            Era::Modern => match self.ctx.opts.transport {
                Transport::Stdio { .. } => self.modern_session(),
                _ => Some(self.stateless.clone()),
            },
            _ => {
                let slot = slot?;
                self.sessions
                    .lock()
                    .ok()?
                    .get(&slot)
                    .map(|b| b.session.clone())
            }
        }
    }

    /// Tracks sessions opened for one call: `Some(initialize start)` when `op` is the first
    /// `tools/call` on a session that has sent nothing but its handshake.
    fn fresh_session(&self, op: &Op) -> Option<u64> {
        let slot = op.session.filter(|_| op.era == Era::Legacy)?;
        let starts = matches!(op.kind, OpKind::Initialize { .. }) && op.authenticated;
        // Only an `initialize` adds to the list: with it empty (a session's every request
        // after its first call) there is nothing to take off, and no lock to take.
        if !starts && !self.any_fresh.load(Ordering::Relaxed) {
            return None;
        }
        let mut fresh = self.fresh.lock().ok()?;
        let found = if starts {
            fresh.insert(slot, op.intended_us);
            None
        } else {
            match &op.kind {
                OpKind::Initialized => None,
                OpKind::CallTool { .. } => fresh.remove(&slot),
                _ => {
                    fresh.remove(&slot);
                    None
                }
            }
        };
        self.any_fresh.store(!fresh.is_empty(), Ordering::Relaxed);
        found
    }

    /// Registers a request the user will answer; returns its id and where the answer arrives.
    /// `None` when [`MAX_ASKED`] are already waiting.
    fn ask(&self) -> Option<(ServerRequestId, oneshot::Receiver<Answer>)> {
        let (tx, rx) = oneshot::channel();
        Some((self.register(Asked::Waiting(tx))?, rx))
    }

    /// Keeps a server request until the user answers it; `None` (nothing kept) when
    /// [`MAX_ASKED`] are already waiting.
    fn register(&self, request: Asked) -> Option<ServerRequestId> {
        let mut asked = self.asked.lock().ok()?;
        if asked.len() >= MAX_ASKED {
            return None;
        }
        let rid = ServerRequestId(self.next_asked.fetch_add(1, Ordering::Relaxed));
        asked.insert(rid, request);
        Some(rid)
    }

    /// Binds `session` to `slot`; over a channel transport the user's oldest sessions beyond
    /// [`MAX_CHANNEL_SESSIONS_PER_USER`] are closed (dropping the last handle ends the child or
    /// stream).
    fn bind(&self, slot: SessionRef, bound: Bound) {
        let Ok(mut sessions) = self.sessions.lock() else {
            return;
        };
        if self.ctx.opts.transport.is_channel() {
            while sessions.len() >= MAX_CHANNEL_SESSIONS_PER_USER {
                let Some(oldest) = sessions.keys().min().copied() else {
                    break;
                };
                sessions.remove(&oldest);
                self.ctx.live.sessions.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if sessions.insert(slot, bound).is_none() {
            self.ctx.live.sessions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A new channel (stdio child or legacy stream) for one session, holding a slot of the
    /// run's bound; server requests on it are answered by the user.
    ///
    /// `t.sent_us` becomes the moment a slot was free: a wait for one is the generator's lag,
    /// the child's start or the stream's setup is the session's (its "connect").
    async fn open_channel(
        self: &Arc<Self>,
        slot: Option<SessionRef>,
        version: ProtocolVersion,
        t: &mut Timing,
    ) -> Result<Bound, ClientError> {
        let permit = self.ctx.channel_permit().await;
        t.sent_us = self.ctx.now_us();
        let mut opts = self.client.options().clone();
        opts.handler(Arc::new(Bridge {
            wire: Arc::downgrade(self),
            slot,
        }));
        let client = self.client.with_options(opts);
        let session = match self.ctx.opts.transport.command() {
            Some(cmd) => client.stdio_handle(cmd, version)?,
            None => client.legacy_handle(&self.ctx.opts.url, version).await?,
        };
        Ok(Bound {
            session,
            _permit: permit,
        })
    }

    fn id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// `tools/call` arguments as validated JSON (`{}` for none); `None` if the text is not
    /// JSON. The last text is kept with its JSON, so repeated arguments are parsed once.
    fn arguments(&self, text: &str) -> Option<RawJson> {
        let text = if text.is_empty() { "{}" } else { text };
        let mut last = self.arguments.lock().ok()?;
        if let Some((t, raw)) = last.as_ref()
            && t == text
        {
            return Some(raw.clone());
        }
        let raw = RawJson::from_bytes(bytes::Bytes::copy_from_slice(text.as_bytes())).ok()?;
        *last = Some((text.to_owned(), raw.clone()));
        Some(raw)
    }

    /// Adds the headers a request of `op` carries besides the MCP ones, in order (straight
    /// onto the builder: no list of them per request).
    fn add_headers<'b>(
        &self,
        op: &Op,
        mut b: mcpx_client::RequestBuilder<'b>,
    ) -> mcpx_client::RequestBuilder<'b> {
        // The user's fixed headers, shared by all its requests (no copy per request; the
        // session then reuses the encoded headers of its last request).
        b = b.shared_headers(&self.base_headers);
        if op.version_mismatch {
            // A header that disagrees with the negotiated version (a reported client bug).
            b = b.header(
                http::HeaderName::from_static("mcp-protocol-version"),
                http::HeaderValue::from_static("2025-03-26"),
            );
        }
        // The profile's per-request headers (e.g. a fresh `traceparent`) change every time.
        for (k, v) in &op.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                b = b.header(k, v);
            }
        }
        if op.authenticated
            && let Some(bearer) = &self.ctx.bearer
        {
            b = b.header(http::header::AUTHORIZATION, bearer.clone());
        }
        b
    }
}

/// A user's fixed headers ([`UserWire::base_headers`]).
fn base_headers(
    user: &VirtualUser,
    run_headers: &[(http::HeaderName, http::HeaderValue)],
) -> mcpx_client::SharedHeaders {
    let family = [
        (http::header::USER_AGENT, user.family().user_agent.as_str()),
        (http::header::ACCEPT, user.accept()),
    ];
    let mut list: Vec<(http::HeaderName, http::HeaderValue)> = family
        .into_iter()
        .filter_map(|(k, v)| {
            let v = http::HeaderValue::from_str(v)
                .ok()
                .filter(|v| !v.is_empty())?;
            Some((k, v))
        })
        .collect();
    for (k, v) in run_headers {
        list.retain(|(n, _)| n != k);
        list.push((k.clone(), v.clone()));
    }
    mcpx_client::SharedHeaders::new(list)
}

/// An event of one operation before its end (progress, a server request, a stream opened),
/// sent from its future to the user's loop; its end is the future's output.
struct OpEvent {
    op: OpId,
    outcome: Outcome,
    /// When it happened (µs since the run started): the user times what follows from here,
    /// not from when its task got round to the event.
    at_us: u64,
}

async fn drive_user(
    ctx: Arc<RunCtx>,
    mut user: VirtualUser,
    mut shutdown: watch::Receiver<bool>,
    mut inject: Option<mpsc::Receiver<u64>>,
) {
    let family_index = user.family_index();
    let family = user.family().name.clone();
    let mut opts = match client_options(
        &ctx.opts,
        ctx.opts.http2 || user.family().http_version == mcpx_scenario::HttpVersion::Http2,
        PoolMode::Shared,
    ) {
        Ok(o) => o,
        Err(_) => return,
    };
    opts.client_info(&user.client_info().name, &user.client_info().version);
    if let Ok(caps) = RawJson::from_serialize(user.capabilities()) {
        let _ = opts.capabilities(caps);
    }
    let client = match ctx.family_clients.get(family_index).cloned().flatten() {
        Some(shared) => shared.with_options(opts),
        None => match Client::new(opts) {
            Ok(c) => c,
            Err(_) => return,
        },
    };
    // Over stdio the URL only names the command, and nothing goes over HTTP (the modern era
    // is not spoken over a channel): the stateless handle gets a loopback URL it never uses.
    let http_url = match ctx.opts.transport {
        Transport::Stdio { .. } => UNUSED_HTTP_URL,
        _ => ctx.opts.url.as_str(),
    };
    let Ok(stateless) = client.handle(http_url, ProtocolVersion::LATEST, None) else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<OpEvent>(USER_EVENT_QUEUE);
    let wire = Arc::new(UserWire {
        ctx: ctx.clone(),
        family: family.clone(),
        client,
        sessions: Mutex::new(FastMap::default()),
        spare: Mutex::new(None),
        modern: Mutex::new(None),
        events: tx.clone(),
        open_calls: Mutex::new(Vec::new()),
        stateless,
        next_id: AtomicI64::new(0),
        ids: Mutex::new(FastMap::default()),
        asked: Mutex::new(FastMap::default()),
        fresh: Mutex::new(FastMap::default()),
        any_fresh: AtomicBool::new(false),
        next_asked: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        closed: AtomicBool::new(false),
        base_headers: base_headers(&user, &ctx.headers),
        arguments: Mutex::new(None),
        calls_bounded: {
            let client_timeout = ctx
                .opts
                .request_timeout
                .unwrap_or(mcpx_client::limits::DEFAULT_REQUEST_TIMEOUT);
            user.family()
                .timeouts
                .tool_call_us
                .is_some_and(|d| u128::from(d) <= client_timeout.as_micros())
        },
    });
    ctx.live.users.fetch_add(1, Ordering::Relaxed);
    ctx.sink.event(RunEvent::UserStarted { family: &family });
    let mut running = Ops::default();
    let mut shut = false;
    // A call-rate session driver tells the scheduler once its session is open.
    let mut ready_told = inject.is_none();
    // One timer and one shutdown wait for the user's whole life, not a fresh pair for every
    // event: a new `sleep` registers in the timer wheel and a new `changed()` in the watch's
    // waiter list (a lock each) on every operation, and both were deregistered again a few
    // microseconds later. Resetting a sleep to a later deadline only moves its expiry.
    let timer = tokio::time::sleep(SCHEDULER_TICK);
    tokio::pin!(timer);
    let mut armed = Some(tokio::time::Instant::now() + SCHEDULER_TICK);
    // Waits end when they are due, not at tokio's next millisecond tick: what the user sends
    // after one is intended at its due time, so a late wake-up is latency (and lag) the
    // server did not cause.
    let slot = Arc::new(WakeSlot::default());
    let base = tokio::time::Instant::from_std(ctx.start);
    let stop = async move {
        loop {
            if shutdown.changed().await.is_err() || *shutdown.borrow() {
                return;
            }
        }
    };
    tokio::pin!(stop);
    // The JSON-RPC ids of calls cancelled in this turn of the loop: a legacy cancel's
    // `Cancelled` operation follows its `Cancel` in the same turn and takes the id from here.
    let mut cancelled_ids: Vec<(OpId, i64)> = Vec::new();
    // The clock as an operation's end read it, for the turn that follows (one read, not two).
    let mut fresh_now: Option<u64> = None;
    'user: loop {
        let now = fresh_now.take().unwrap_or_else(|| ctx.now_us());
        cancelled_ids.clear();
        while let Some(action) = user.poll(now) {
            match action {
                Action::Start(op) => {
                    let id = op.id;
                    if let OpKind::Cancelled { request } = &op.kind
                        && let Some(&(_, rpc)) = cancelled_ids.iter().find(|(o, _)| o == request)
                        && let Ok(mut ids) = wire.ids.lock()
                    {
                        ids.insert(*request, rpc);
                    }
                    let method = op.kind.method();
                    let tool = match &op.kind {
                        OpKind::CallTool { name, .. } => Some(name.clone()),
                        _ => None,
                    };
                    let intended_us = op.intended_us;
                    // Boxed: an operation's future is several KiB; a box is moved as a
                    // pointer. A `tools/call` (nearly every request of a run) gets a state
                    // machine of its own, one level above the client's send: every nested
                    // async fn copies its child future when it starts it, and one future for
                    // every kind was sized by the largest kind. Polled by this task (see
                    // `Ops`), first in the `select!` below, which sends its request.
                    let (future, rpc_id): (OpFuture, _) = if tool.is_some() {
                        let rpc_id = wire.id();
                        (boxed(|| call_op(wire.clone(), op, rpc_id)), Some(rpc_id))
                    } else {
                        (boxed(|| run_op(wire.clone(), op, tx.clone())), None)
                    };
                    running.0.push(Running {
                        id,
                        future,
                        method,
                        tool,
                        intended_us,
                        rpc_id,
                    });
                }
                Action::Cancel { op, reason } => {
                    if let Some(task) = running.remove(op) {
                        // A call past its first round listed its current id; cancels are
                        // rare, so the lock here costs the common call nothing.
                        let listed = wire.ids.lock().ok().and_then(|mut ids| ids.remove(&op));
                        if let Some(rpc) = listed.or(task.rpc_id) {
                            cancelled_ids.push((op, rpc));
                        }
                        // Dropping its future abandons the exchange.
                        cancelled(&wire, &task, reason);
                    }
                }
                Action::Finished => break 'user,
                _ => {}
            }
        }
        // A long-lived user's fan-outs go to the metrics in batches rather than piling up
        // in its stats until it ends.
        if user.stats().fan_outs.len() >= FAN_OUT_BATCH {
            user.drain_fan_outs(|fan_outs| ctx.sink.event(RunEvent::FanOuts { fan_outs }));
        }
        if !ready_told && user.is_idle() {
            ready_told = true;
            ctx.drivers_ready.fetch_add(1, Ordering::Relaxed);
            ctx.driver_ready.notify_one();
        }
        let wake = user
            .next_wakeup()
            .map(|at| base.checked_add(Duration::from_micros(at)));
        // The deadline, seen here too: with the branches below polled in order, a user
        // whose operations kept finishing would otherwise never reach the `stop` branch.
        if !shut && ctx.stopping.load(Ordering::Relaxed) {
            shut = true;
            user.shutdown(ctx.now_us());
            continue;
        }
        // `biased`: in the order written, not tokio's random order, so a finished operation
        // (nearly every wake-up of a busy user) is found first and the other branches are not
        // polled at all; `stopping` above keeps the last one from starving.
        tokio::select! {
            biased;
            (id, outcome) = &mut running => {
                // Its earlier events first (a stream's opening, a server request): they were
                // queued before it ended.
                while let Ok(ev) = rx.try_recv() {
                    user.on_outcome(ev.op, ev.outcome, ev.at_us);
                }
                let now = ctx.now_us();
                user.on_outcome(id, outcome, now);
                fresh_now = Some(now);
            }
            ev = rx.recv() => {
                if let Some(ev) = ev {
                    user.on_outcome(ev.op, ev.outcome, ev.at_us);
                }
            }
            () = wake_at(timer.as_mut(), &mut armed, &ctx.wheel, &slot, wake) => {}
            Some(at) = async {
                match inject.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                user.inject_call(at);
            }
            () = &mut stop, if !shut => {
                shut = true;
                user.shutdown(ctx.now_us());
            }
        }
    }
    for task in running.0.drain(..) {
        // An answer already on its way is delivered (the server may be waiting for it; the
        // client's request deadline bounds it): the user often finishes as soon as the call
        // it unblocked returns, before the answer's POST has its 202. The rest are dropped.
        if task.method == "response" {
            tokio::spawn(task.future);
        }
    }
    let sessions = wire.sessions.lock().map(|s| s.len()).unwrap_or_default();
    if !wire.closed.swap(true, Ordering::Relaxed) {
        ctx.live.sessions.fetch_sub(
            sessions.min(ctx.live.sessions.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
    ctx.live.users.fetch_sub(1, Ordering::Relaxed);
    ctx.sink.event(RunEvent::UserFinished {
        family: &family,
        stats: user.stats(),
        requests: wire.requests.load(Ordering::Relaxed),
        at_us: ctx.now_us(),
    });
}

/// Sleeps until `deadline` (`Some(None)`: past what an `Instant` holds; `None`: nothing due,
/// a while): on tokio's millisecond timer (`timer`, the user's one `Sleep`, reset: a fresh one
/// per wait would register in the timer wheel every time) until [`Wheel::MARGIN`] before it,
/// then on the run's high-resolution wheel for the rest.
///
/// `armed` is when `timer` is set to go off. It is moved only when it would go off too late
/// (or has gone off): a user with a call in flight has its deadline a minute on, later with
/// every call, and resetting the timer to each new deadline cost a removal and an insertion in
/// tokio's timer wheel per request. A timer left earlier than needed wakes the user once for
/// nothing, and the next pass arms it anew.
async fn wake_at(
    mut timer: std::pin::Pin<&mut tokio::time::Sleep>,
    armed: &mut Option<tokio::time::Instant>,
    wheel: &Wheel,
    slot: &Arc<WakeSlot>,
    deadline: Option<Option<tokio::time::Instant>>,
) {
    let now = tokio::time::Instant::now();
    let deadline = match deadline {
        Some(Some(d)) => d,
        Some(None) => now + FAR_FUTURE,
        None => {
            // Nothing due: any wake-up a while on will do, the one already set included.
            if armed.is_none_or(|a| a <= now) {
                let at = now + SCHEDULER_TICK * 10;
                timer.as_mut().reset(at);
                *armed = Some(at);
            }
            return timer.await;
        }
    };
    if deadline <= now {
        return;
    }
    if let Some(coarse) = deadline.checked_sub(Wheel::MARGIN)
        && coarse > now
    {
        match *armed {
            // Set in time for this deadline (early at worst): keep it.
            Some(a) if a > now && a <= coarse => {
                timer.as_mut().await;
                if a < coarse {
                    // Early, for a deadline since moved on: the next pass looks again.
                    return;
                }
            }
            _ => {
                timer.as_mut().reset(coarse);
                *armed = Some(coarse);
                timer.as_mut().await;
            }
        }
    }
    wheel.sleep_until(slot, deadline).await;
}

/// `make()`'s future in a box allocated first: built in place rather than on the stack and
/// then copied whole into the box (a future's size is that of its largest state, KiBs, when
/// it starts holding a few pointers).
fn boxed<F>(make: impl FnOnce() -> F) -> OpFuture
where
    F: std::future::Future<Output = Outcome> + Send + 'static,
{
    let future: Box<F> = Box::write(Box::<F>::new_uninit(), make());
    Box::into_pin(future)
}

/// An operation's future ([`run_op`], [`call_op`]): its outcome.
type OpFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;

/// An operation in flight, as the user task knows it.
struct Running {
    id: OpId,
    /// [`run_op`] or [`call_op`].
    future: OpFuture,
    method: &'static str,
    tool: Option<Arc<str>>,
    intended_us: u64,
    /// A `tools/call`'s JSON-RPC id for its first round (given by the user's loop, so that a
    /// cancel can name it without a shared map).
    rpc_id: Option<i64>,
}

/// A user's operations in flight, polled by the user's own task: a task of their own each
/// cost a spawn (allocation, the runtime's task list under a lock, a queue), a channel message
/// back and a switch to the user's task per request. A user has a handful in flight (its
/// widest fan-out, a held stream, an answer), so a wake-up polls them all; each registers the
/// user task's waker with what it waits for. Dropping one abandons it.
#[derive(Default)]
struct Ops(Vec<Running>);

impl Ops {
    fn remove(&mut self, id: OpId) -> Option<Running> {
        let i = self.0.iter().position(|r| r.id == id)?;
        Some(self.0.swap_remove(i))
    }
}

impl std::future::Future for Ops {
    /// The next operation to end, and how it ended.
    type Output = (OpId, Outcome);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        for i in 0..self.0.len() {
            if let Some(op) = self.0.get_mut(i)
                && let std::task::Poll::Ready(outcome) = op.future.as_mut().poll(cx)
            {
                let op = self.0.swap_remove(i);
                return std::task::Poll::Ready((op.id, outcome));
            }
        }
        std::task::Poll::Pending
    }
}

/// A cancelled operation's measurement: a client deadline is a `timeout` error of its method
/// (never a latency), a user's cancellation is counted as such, closing a held stream is the
/// normal end of a stream.
fn cancelled(wire: &UserWire, op: &Running, reason: CancelReason) {
    let outcome = match reason {
        CancelReason::Timeout(_) => RequestOutcome::Timeout,
        CancelReason::User => RequestOutcome::Cancelled,
        _ => return,
    };
    let t = Timing {
        intended_us: op.intended_us,
        sent_us: op.intended_us,
        first_byte_us: None,
        request_bytes: 0,
        response_bytes: 0,
        result_size: None,
    };
    // Requests are reported when they end; this one ends here.
    wire.report(op.method, op.tool.as_deref(), &t, outcome);
}

/// The request part of an operation that every kind shares: timing and counting.
struct Timing {
    intended_us: u64,
    sent_us: u64,
    first_byte_us: Option<u64>,
    request_bytes: u64,
    response_bytes: u64,
    /// A `tools/call`'s final result size (the report's result-size summary).
    result_size: Option<u64>,
}

impl UserWire {
    fn report(&self, method: &str, tool: Option<&str>, t: &Timing, outcome: RequestOutcome) {
        self.report_at(method, tool, t, outcome, self.ctx.now_us());
    }

    /// [`Self::report`] for a request that ended at `done_us` (run time, µs): its reply's
    /// arrival, read already.
    fn report_at(
        &self,
        method: &str,
        tool: Option<&str>,
        t: &Timing,
        outcome: RequestOutcome,
        done_us: u64,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.ctx.live.requests.fetch_add(1, Ordering::Relaxed);
        let mut record = RequestRecord::new(method, &self.family, t.intended_us, done_us, outcome)
            .with_sent(t.sent_us)
            .with_bytes(t.request_bytes, t.response_bytes);
        if let Some(tool) = tool {
            record = record.with_tool(tool);
        }
        if let Some(first_byte) = t.first_byte_us {
            record = record.with_first_byte(first_byte);
        }
        if let Some(bytes) = t.result_size {
            record = record.with_result_size(bytes);
        }
        self.ctx.sink.request(&record);
    }
}

fn classify(e: &ClientError) -> (RequestOutcome, Failure) {
    match e {
        ClientError::Timeout(_) => (RequestOutcome::Timeout, Failure::Timeout),
        ClientError::HttpStatus { status, .. } => (
            RequestOutcome::Http(status.as_u16()),
            Failure::Http(status.as_u16()),
        ),
        ClientError::JsonRpc { code, .. } => (
            RequestOutcome::JsonRpc(code.code()),
            Failure::JsonRpc(code.code()),
        ),
        ClientError::SessionExpired => (RequestOutcome::Http(404), Failure::Http(404)),
        ClientError::Connect(_) => (RequestOutcome::Connect, Failure::Transport),
        ClientError::Tls(_) => (RequestOutcome::Tls, Failure::Transport),
        _ => (RequestOutcome::Protocol, Failure::Transport),
    }
}

/// Runs one operation to its end and returns how it ended (its events before that go to the
/// user through `tx`). Every kind but `tools/call` ([`call_op`]).
async fn run_op(wire: Arc<UserWire>, op: Op, tx: mpsc::Sender<OpEvent>) -> Outcome {
    match op_outcome(&wire, &op, &tx).await {
        Ok(o) => o,
        Err(f) => Outcome::Failed(f),
    }
}

async fn op_outcome(
    wire: &Arc<UserWire>,
    op: &Op,
    tx: &mpsc::Sender<OpEvent>,
) -> Result<Outcome, Failure> {
    let ctx = &wire.ctx;
    let mut t = Timing {
        intended_us: op.intended_us,
        sent_us: ctx.now_us(),
        first_byte_us: None,
        request_bytes: 0,
        response_bytes: 0,
        result_size: None,
    };
    // Kept for its bookkeeping: a session's first other request takes it off the fresh list
    // (`call_op` reads the answer for its `tools/call`).
    wire.fresh_session(op);
    match &op.kind {
        OpKind::Discover => {
            // stdio: the probe runs in a child of its own, which the user's `initialize` then
            // takes (one process per session). Legacy HTTP+SSE: it is POSTed to the URL, as a
            // client that does not know the server yet does.
            // stdio: the first probe runs in a child of its own, which then serves the user
            // as its 2026-07-28 channel if the server speaks it, else takes the user's
            // `initialize` (one process per session either way); later probes go to the
            // modern channel. Legacy HTTP+SSE: it is POSTed to the URL, as a client that does
            // not know the server yet does.
            let stdio = matches!(ctx.opts.transport, Transport::Stdio { .. });
            let mut fresh: Option<Bound> = None;
            let probe = match wire.modern_session() {
                Some(s) => s,
                None if stdio => {
                    let bound = wire
                        .open_channel(op.session, ProtocolVersion::LATEST, &mut t)
                        .await
                        .map_err(|e| {
                            let (s, f) = classify(&e);
                            wire.report("server/discover", None, &t, s);
                            f
                        })?;
                    let session = bound.session.clone();
                    fresh = Some(bound);
                    session
                }
                None => wire.stateless.clone(),
            };
            let (outcome, msg) = call(wire, op, &probe, "server/discover", None, &mut t).await;
            let result: Json = msg
                .as_ref()
                .and_then(Message::result)
                .and_then(|r| serde_json::from_slice(r.as_bytes()).ok())
                .unwrap_or(Json::Null);
            // Over legacy HTTP+SSE the runner speaks the session era only.
            let modern = ctx.opts.transport != Transport::LegacySse
                && result["supportedVersions"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|v| v == ProtocolVersion::LATEST.as_str()));
            if let Some(bound) = fresh {
                let slot = if modern { &wire.modern } else { &wire.spare };
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(bound);
                }
            }
            if msg.is_none() {
                // Anything but a result makes the user fall back (PROFILE 2.1 step 2).
                let _ = outcome;
                return Ok(Outcome::Done(Done::discover(false, ServerCaps::default())));
            }
            let caps = ServerCaps::from_json(&result["capabilities"]);
            Ok(Outcome::Done(Done::discover(modern, caps)))
        }
        OpKind::Initialize {
            client_info,
            protocol_version,
            capabilities,
        } => {
            let version = ProtocolVersion::parse(protocol_version)
                .filter(|v| v.is_session_era())
                .unwrap_or(ProtocolVersion::LATEST_SESSION_ERA);
            // Over a channel the session is the channel: the probe's stdio child if there is
            // one, else a new child or stream (its start counts in this request's latency).
            let mut channel: Option<Bound> = None;
            let pre = if ctx.opts.transport.is_channel() {
                let spare = wire.spare.lock().ok().and_then(|mut s| s.take());
                let bound = match spare {
                    Some(b) => b,
                    None => wire
                        .open_channel(op.session, version, &mut t)
                        .await
                        .map_err(|e| {
                            let (s, f) = classify(&e);
                            wire.report("initialize", None, &t, s);
                            f
                        })?,
                };
                let pre = bound.session.with_version(version);
                channel = Some(bound);
                pre
            } else {
                wire.client
                    .handle(&ctx.opts.url, version, None)
                    .map_err(|_| Failure::Transport)?
            };
            let params = serde_json::json!({
                "protocolVersion": protocol_version,
                "capabilities": capabilities,
                "clientInfo": {"name": client_info.name, "version": client_info.version},
            });
            let params = RawJson::from_serialize(&params).map_err(|_| Failure::Transport)?;
            let mut builder = pre
                .request("initialize")
                .id(wire.id())
                .params(params.clone())
                .protocol_version_header(false)
                .session_id_header(false)
                .cancel_on_drop(false);
            builder = wire.add_headers(op, builder);
            t.request_bytes = params.as_bytes().len() as u64 + 64;
            if channel.is_none() {
                t.sent_us = ctx.now_us();
            }
            let ex = builder.send().await;
            let ex = match ex {
                Ok(ex) => ex,
                Err(e) => {
                    let (s, f) = classify(&e);
                    wire.report("initialize", None, &t, s);
                    return Err(f);
                }
            };
            t.first_byte_us = Some(ctx.us(ex.head_at()));
            let sid = ex
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let msg = finish(wire, ex, "initialize", &mut t).await;
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    let (s, f) = classify(&e);
                    wire.report("initialize", None, &t, s);
                    return Err(f);
                }
            };
            if let Some(code) = msg.error_code() {
                wire.report("initialize", None, &t, RequestOutcome::JsonRpc(code.code()));
                return Err(Failure::JsonRpc(code.code()));
            }
            let result: Json = msg
                .result()
                .and_then(|r| serde_json::from_slice(r.as_bytes()).ok())
                .unwrap_or(Json::Null);
            wire.report("initialize", None, &t, RequestOutcome::Ok);
            let negotiated = result["protocolVersion"]
                .as_str()
                .and_then(ProtocolVersion::parse)
                .filter(|v| v.is_session_era())
                .unwrap_or(version);
            if let Some(slot) = op.session {
                let bound = match channel {
                    Some(c) => Some(Bound {
                        session: c.session.with_version(negotiated),
                        _permit: c._permit,
                    }),
                    None => wire
                        .client
                        .handle(&ctx.opts.url, negotiated, sid.as_deref())
                        .ok()
                        .map(|session| Bound {
                            session,
                            _permit: None,
                        }),
                };
                if let Some(b) = bound {
                    wire.bind(slot, b);
                }
            }
            if op.authenticated {
                ctx.sink.event(RunEvent::SessionOpened {
                    family: &wire.family,
                });
            }
            Ok(Outcome::Done(Done::initialize(ServerCaps::from_json(
                &result["capabilities"],
            ))))
        }
        OpKind::Initialized => {
            let session = wire.session(op.session, op.era).ok_or(Failure::Transport)?;
            notify(
                wire,
                op,
                &session,
                "notifications/initialized",
                None,
                &mut t,
            )
            .await?;
            Ok(Outcome::Done(Done::ok()))
        }
        OpKind::ToolsList | OpKind::PromptsList | OpKind::ResourcesList => {
            let (method, key) = match &op.kind {
                OpKind::ToolsList => ("tools/list", "tools"),
                OpKind::PromptsList => ("prompts/list", "prompts"),
                _ => ("resources/list", "resources"),
            };
            let session = wire.session(op.session, op.era).ok_or(Failure::Transport)?;
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_LIST_PAGES {
                let params = cursor
                    .as_ref()
                    .and_then(|c| RawJson::from_serialize(&serde_json::json!({"cursor": c})).ok());
                let (outcome, msg) = call(wire, op, &session, method, params, &mut t).await;
                let Some(msg) = msg else {
                    return Err(failure_of(outcome));
                };
                cursor = msg
                    .result()
                    .and_then(|r| r.member("nextCursor"))
                    .and_then(|c| c.as_string().map(|s| s.into_owned()));
                let _ = key;
                if cursor.is_none() {
                    break;
                }
                // The next page is intended now: it follows this answer at once.
                t.intended_us = ctx.now_us();
            }
            Ok(Outcome::Done(Done::ok()))
        }
        OpKind::OpenStream { listen } => open_stream(wire, op, listen, &mut t, tx).await,
        OpKind::Delete => {
            let session = wire.session(op.session, op.era).ok_or(Failure::Transport)?;
            t.sent_us = ctx.now_us();
            let r = session.close().await;
            if let Some(slot) = op.session
                && let Ok(mut sessions) = wire.sessions.lock()
                && sessions.remove(&slot).is_some()
            {
                ctx.live.sessions.fetch_sub(1, Ordering::Relaxed);
            }
            match r {
                Ok(()) => {
                    wire.report("DELETE", None, &t, RequestOutcome::Ok);
                    ctx.sink.event(RunEvent::SessionClosed {
                        family: &wire.family,
                    });
                    Ok(Outcome::Done(Done::ok()))
                }
                Err(e) => {
                    let (s, f) = classify(&e);
                    wire.report("DELETE", None, &t, s);
                    Err(f)
                }
            }
        }
        OpKind::Cancelled { request } => {
            let session = wire.session(op.session, op.era).ok_or(Failure::Transport)?;
            let id = wire.ids.lock().ok().and_then(|mut ids| ids.remove(request));
            let Some(id) = id else {
                return Ok(Outcome::Done(Done::ok()));
            };
            let params = RawJson::from_serialize(&serde_json::json!({
                "requestId": id, "reason": "cancelled by the user"
            }))
            .ok();
            notify(
                wire,
                op,
                &session,
                "notifications/cancelled",
                params,
                &mut t,
            )
            .await?;
            Ok(Outcome::Done(Done::ok()))
        }
        OpKind::Answer { request, answer } => {
            let asked = wire.asked.lock().ok().and_then(|mut a| a.remove(request));
            t.sent_us = ctx.now_us();
            let delivered = match asked {
                Some(Asked::Http(session, msg)) => {
                    reply(wire, &session, &msg, answer).await;
                    true
                }
                // The channel's handler writes it, or the retried request carries it.
                Some(Asked::Waiting(tx)) => tx.send(answer.clone()).is_ok(),
                None => false,
            };
            if delivered {
                wire.report("(response)", None, &t, RequestOutcome::Ok);
            }
            Ok(Outcome::Done(Done::ok()))
        }
        _ => Err(Failure::Transport),
    }
}

fn failure_of(outcome: RequestOutcome) -> Failure {
    match outcome {
        RequestOutcome::Http(s) => Failure::Http(s),
        RequestOutcome::JsonRpc(c) => Failure::JsonRpc(c),
        RequestOutcome::Timeout => Failure::Timeout,
        _ => Failure::Transport,
    }
}

/// Sends a request and waits for its final message; reports it. `None`: it failed (or
/// answered with a JSON-RPC error), and the outcome says how.
async fn call(
    wire: &UserWire,
    op: &Op,
    session: &Session,
    method: &str,
    params: Option<RawJson>,
    t: &mut Timing,
) -> (RequestOutcome, Option<Message>) {
    let ctx = &wire.ctx;
    let mut builder = session
        .request(method)
        .id(wire.id())
        .protocol_version_header(op.protocol_header)
        .session_id_header(op.echo_session_id)
        .cancel_on_drop(false);
    if let Some(p) = params {
        t.request_bytes = p.as_bytes().len() as u64 + 64;
        builder = builder.params(p);
    } else {
        t.request_bytes = 64;
    }
    builder = wire.add_headers(op, builder);
    t.sent_us = ctx.now_us();
    let ex = match builder.send().await {
        Ok(ex) => ex,
        Err(e) => {
            let (s, _) = classify(&e);
            wire.report(method, None, t, s);
            return (s, None);
        }
    };
    t.first_byte_us = Some(ctx.us(ex.head_at()));
    match finish(wire, ex, method, t).await {
        Ok(msg) => match msg.error_code() {
            Some(code) => {
                let s = RequestOutcome::JsonRpc(code.code());
                wire.report(method, None, t, s);
                (s, None)
            }
            None => {
                wire.report(method, None, t, RequestOutcome::Ok);
                (RequestOutcome::Ok, Some(msg))
            }
        },
        Err(e) => {
            let (s, _) = classify(&e);
            wire.report(method, None, t, s);
            (s, None)
        }
    }
}

/// Counts one event of a request's response: its bytes, and (for an SSE response) its latency
/// from the request's send.
fn account(wire: &UserWire, ev: &mcpx_client::Event, method: &str, sse: bool, t: &mut Timing) {
    if let Some(m) = ev.message() {
        t.response_bytes += m.as_bytes().len() as u64;
    }
    if sse {
        wire.ctx.sink.event(RunEvent::SseEvent {
            method,
            latency_us: wire.ctx.us(ev.at()).saturating_sub(t.sent_us),
        });
    }
}

/// Reads an exchange to its final message, counting bytes and SSE event latencies.
async fn finish(
    wire: &UserWire,
    mut ex: Exchange,
    method: &str,
    t: &mut Timing,
) -> Result<Message, ClientError> {
    let sse = ex.is_sse();
    while let Some(ev) = ex.next().await? {
        account(wire, &ev, method, sse, t);
        if ev.kind() == EventKind::Response {
            return ev
                .into_message()
                .ok_or_else(|| ClientError::Protocol("a response event without a message".into()));
        }
    }
    Err(ClientError::Protocol(
        "the response ended without an answer".into(),
    ))
}

async fn notify(
    wire: &UserWire,
    op: &Op,
    session: &Session,
    method: &str,
    params: Option<RawJson>,
    t: &mut Timing,
) -> Result<(), Failure> {
    t.sent_us = wire.ctx.now_us();
    t.request_bytes = params.as_ref().map_or(0, |p| p.as_bytes().len() as u64) + 48;
    let _ = op;
    match session.notify(method, params).await {
        Ok(()) => {
            wire.report(method, None, t, RequestOutcome::Ok);
            Ok(())
        }
        Err(e) => {
            let (s, f) = classify(&e);
            wire.report(method, None, t, s);
            Err(f)
        }
    }
}

/// `tools/call`: the arguments and `_meta` from the profile; progress and server requests go
/// to the user as they arrive. Runs the whole operation (what [`run_op`] does for the other
/// kinds) as one state machine whose only nested futures are the client's: started once per
/// call, an async fn level between it and the send would copy its whole future (KiBs) each
/// time, and one future for every kind of operation was sized by the largest kind.
///
/// MRTR (2026-07-28, MCP-DIGEST 8.4): an `input_required` result hands each of its input
/// requests to the user as a server request (the same path as a session-era request on the
/// response stream); once the user's [`OpKind::Answer`]s are in, the call is retried with a new
/// id, the answers in `inputResponses` and the `requestState` echoed byte for byte. Each round
/// is a request of its own in the report (the interim one answered with `input_required`; the
/// retry intended when the last answer came), so a person's think time never counts as
/// server latency. At most [`MAX_MRTR_ROUNDS`] rounds.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would store its arguments twice (see the body)"
)]
fn call_op(
    wire: Arc<UserWire>,
    op: Op,
    first_id: i64,
) -> impl std::future::Future<Output = Outcome> + Send + 'static {
    // An `async move` block, not an `async fn`: an async fn moves its arguments into locals of
    // its state machine, so the 160-byte `Op` would be stored (and copied) twice.
    async move {
        let ctx = &wire.ctx;
        // The user's outcome queue, through the user's own handle (a clone per call costs a
        // sender count and a reference count, up and down).
        let tx = &wire.events;
        let mut t = Timing {
            intended_us: op.intended_us,
            // Set when the request goes (every report follows that): no clock read here.
            sent_us: op.intended_us,
            first_byte_us: None,
            request_bytes: 0,
            response_bytes: 0,
            result_size: None,
        };
        let handshake_from = wire.fresh_session(&op);
        let mut listed = false;
        // Every round's end, reported where it happens; `break 'call` ends the operation.
        let outcome: Result<Outcome, Failure> = 'call: {
            let OpKind::CallTool {
                name,
                arguments,
                meta,
                ..
            } = &op.kind
            else {
                break 'call Err(Failure::Transport);
            };
            let name: &str = name;
            let Some(session) = wire.session(op.session, op.era) else {
                break 'call Err(Failure::Transport);
            };
            let _open = OpenCall::new(&wire, &op);
            ctx.sink.event(RunEvent::ArgsSize {
                bytes: arguments.len() as u64,
            });
            let mut retry: Option<bytes::Bytes> = None;
            for round in 0..MAX_MRTR_ROUNDS {
                // One round, reported when it ends; an interim (MRTR) result leaves it.
                let result = {
                    // The first round's id is the one the user's loop holds for a cancel;
                    // a later round's is listed where a cancel looks first.
                    let id = if round == 0 {
                        first_id
                    } else {
                        let id = wire.id();
                        listed = true;
                        if let Ok(mut ids) = wire.ids.lock() {
                            ids.insert(op.id, id);
                        }
                        id
                    };
                    let params = match retry.as_deref() {
                        // The common case: the client writes the params from the name and the
                        // arguments, validated once per distinct arguments text (not the whole
                        // params every call).
                        None => None,
                        Some(extra) => match retry_params(name, arguments, extra) {
                            Some(p) => Some(p),
                            None => break 'call Err(Failure::Transport),
                        },
                    };
                    let progress = meta
                        .iter()
                        .any(|(k, v)| k == "progressToken" && matches!(v, MetaValue::RequestId));
                    let builder = session.request("tools/call").id(id);
                    let builder = match params {
                        Some(params) => builder.params(params).name(name),
                        None => match wire.arguments(arguments) {
                            Some(a) => builder.tool_params(name, &a),
                            None => break 'call Err(Failure::Transport),
                        },
                    };
                    let mut builder = builder
                        .progress(progress)
                        .protocol_version_header(op.protocol_header)
                        .session_id_header(op.echo_session_id)
                        .cancel_on_drop(false);
                    if wire.calls_bounded {
                        builder = builder.bounded_by_caller();
                    }
                    for (k, v) in meta.iter().filter(|(k, _)| k != "progressToken") {
                        let value = match v {
                            MetaValue::RequestId => id.to_string(),
                            MetaValue::Text(s) => serde_json::to_string(s).unwrap_or_default(),
                            _ => "null".to_owned(),
                        };
                        if let Ok(value) = RawJson::from_bytes(bytes::Bytes::from(value)) {
                            builder = builder.meta_entry(k, value);
                        }
                    }
                    builder = wire.add_headers(&op, builder);
                    t.request_bytes =
                        arguments.len() as u64 + 96 + retry.as_ref().map_or(0, |r| r.len() as u64);
                    t.sent_us = ctx.now_us();
                    let mut ex = match builder.send().await {
                        Ok(ex) => ex,
                        Err(e) => {
                            let (s, f) = classify(&e);
                            wire.report("tools/call", Some(name), &t, s);
                            break 'call Err(f);
                        }
                    };
                    t.first_byte_us = Some(ctx.us(ex.head_at()));
                    let sse = ex.is_sse();
                    let mut last_progress: Option<u64> = None;
                    loop {
                        let ev = match ex.next().await {
                            Ok(Some(ev)) => ev,
                            Ok(None) => {
                                wire.report("tools/call", Some(name), &t, RequestOutcome::Protocol);
                                break 'call Err(Failure::Transport);
                            }
                            Err(e) => {
                                let (s, f) = classify(&e);
                                wire.report("tools/call", Some(name), &t, s);
                                break 'call Err(f);
                            }
                        };
                        let at = ctx.us(ev.at());
                        account(&wire, &ev, "tools/call", sse, &mut t);
                        match ev.kind() {
                            EventKind::Progress => {
                                if let Some(prev) = last_progress {
                                    ctx.sink.event(RunEvent::ProgressGap {
                                        gap_us: at.saturating_sub(prev),
                                    });
                                }
                                last_progress = Some(at);
                                let _ = tx
                                    .send(OpEvent {
                                        op: op.id,
                                        outcome: Outcome::Progress,
                                        at_us: at,
                                    })
                                    .await;
                            }
                            EventKind::Request => {
                                if let Some(msg) = ev.into_message() {
                                    let kind = server_request(&msg);
                                    // Past the bound the request stays unanswered (the
                                    // server's deadline ends it): a server asking faster than
                                    // a person answers.
                                    let Some(rid) =
                                        wire.register(Asked::Http(session.clone(), msg))
                                    else {
                                        continue;
                                    };
                                    let _ = tx
                                        .send(OpEvent {
                                            op: op.id,
                                            outcome: Outcome::ServerRequest(rid, kind),
                                            at_us: at,
                                        })
                                        .await;
                                }
                            }
                            EventKind::Response => {
                                let Some(msg) = ev.into_message() else {
                                    wire.report(
                                        "tools/call",
                                        Some(name),
                                        &t,
                                        RequestOutcome::Protocol,
                                    );
                                    break 'call Err(Failure::Transport);
                                };
                                if let Some(code) = msg.error_code() {
                                    wire.report(
                                        "tools/call",
                                        Some(name),
                                        &t,
                                        RequestOutcome::JsonRpc(code.code()),
                                    );
                                    break 'call Err(Failure::JsonRpc(code.code()));
                                }
                                let result = msg.result();
                                // Looked up only where the text holds the key at all: most
                                // results carry no `isError`, and a member lookup walks the
                                // whole result.
                                let is_error = result
                                    .as_ref()
                                    .filter(|r| IS_ERROR_KEY.find(r.as_bytes()).is_some())
                                    .and_then(|r| r.member("isError"))
                                    .is_some_and(|v| v.as_bytes() == b"true");
                                let interim = op.era == Era::Modern
                                    && result.as_ref().is_some_and(is_input_required);
                                if !interim {
                                    // Recorded with the request, under its lock.
                                    t.result_size = Some(
                                        result.as_ref().map_or(0, |r| r.as_bytes().len() as u64),
                                    );
                                }
                                let s = if is_error {
                                    RequestOutcome::IsError
                                } else {
                                    RequestOutcome::Ok
                                };
                                // Done when its reply arrived (`at`: no second clock read).
                                wire.report_at("tools/call", Some(name), &t, s, at);
                                match result {
                                    Some(r) if interim => break r,
                                    _ => break 'call Ok(Outcome::Done(Done::tool(is_error))),
                                }
                            }
                            _ => {}
                        }
                    }
                };
                retry = match answer_inputs(&wire, &op, &result, tx).await {
                    Ok(r) => Some(r),
                    Err(f) => break 'call Err(f),
                };
                // The retry follows the last answer at once.
                t = Timing {
                    intended_us: ctx.now_us(),
                    sent_us: ctx.now_us(),
                    first_byte_us: None,
                    request_bytes: 0,
                    response_bytes: 0,
                    result_size: None,
                };
            }
            // A server that keeps asking is a protocol error (the client bounds its rounds).
            wire.report("tools/call", Some(name), &t, RequestOutcome::Protocol);
            Err(Failure::Transport)
        };
        if let (Some(from), Ok(Outcome::Done(_))) = (handshake_from, &outcome) {
            ctx.sink.event(RunEvent::HandshakeCall {
                family: &wire.family,
                latency_us: ctx.now_us().saturating_sub(from),
            });
        }
        // A later round's id was listed only so a cancellation could name it: forget it
        // (kept, the map would grow with every such call of a long run).
        if listed && let Ok(mut ids) = wire.ids.lock() {
            ids.remove(&op.id);
        }
        outcome.unwrap_or_else(Outcome::Failed)
    }
}

/// An MRTR retry's params: the call's name and arguments and the answers (`extra`: the
/// `inputResponses` / `requestState` members, already JSON); `None` if they do not make an
/// object.
fn retry_params(name: &str, arguments: &str, extra: &[u8]) -> Option<RawJson> {
    let mut params = BytesMut::with_capacity(arguments.len() + 128 + extra.len());
    params.put_slice(br#"{"name":"#);
    mcpx_wire::write_json_str(&mut params, name);
    params.put_slice(br#","arguments":"#);
    params.put_slice(if arguments.is_empty() {
        b"{}"
    } else {
        arguments.as_bytes()
    });
    params.put_u8(b',');
    params.put_slice(extra);
    params.put_u8(b'}');
    RawJson::from_bytes(params.freeze()).ok()
}

/// The `isError` member's key, searched for in a result's text before a member lookup: a
/// vectorised search, where comparing every 9-byte window cost ~180 instructions a call.
static IS_ERROR_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(br#""isError""#));

/// Rounds of one MRTR call, at most: the client library's own bound.
const MAX_MRTR_ROUNDS: u32 = mcpx_client::limits::MAX_INPUT_ROUNDS + 1;

/// Whether a result is an MRTR interim result (`resultType: "input_required"`).
fn is_input_required(result: &RawJson) -> bool {
    result
        .member("resultType")
        .is_some_and(|v| v.as_bytes() == br#""input_required""#)
}

/// Hands each input request of an `input_required` result to the user and waits for every
/// answer; returns the retry's extra params (`"inputResponses":{..}` and, if given,
/// `,"requestState":..`), ready to splice into the params object.
async fn answer_inputs(
    wire: &Arc<UserWire>,
    op: &Op,
    result: &RawJson,
    tx: &mpsc::Sender<OpEvent>,
) -> Result<bytes::Bytes, Failure> {
    let parsed: Json = serde_json::from_slice(result.as_bytes()).unwrap_or(Json::Null);
    let mut waits = Vec::new();
    if let Some(requests) = parsed["inputRequests"].as_object() {
        for (key, req) in requests.iter().take(MAX_INPUT_REQUESTS) {
            let kind = match req["method"].as_str().unwrap_or_default() {
                "elicitation/create" => ServerRequest::Elicitation {
                    requested_schema: req["params"]["requestedSchema"].clone(),
                },
                "roots/list" => ServerRequest::RootsList,
                "sampling/createMessage" => ServerRequest::Sampling,
                _ => ServerRequest::Other,
            };
            // Past the bound the call cannot be answered: it ends as a failure.
            let (rid, rx) = wire.ask().ok_or(Failure::Transport)?;
            let _ = tx
                .send(OpEvent {
                    op: op.id,
                    outcome: Outcome::ServerRequest(rid, kind),
                    at_us: wire.ctx.now_us(),
                })
                .await;
            waits.push((key.clone(), rx));
        }
    }
    let mut out = BytesMut::with_capacity(256);
    out.put_slice(br#""inputResponses":{"#);
    for (i, (key, rx)) in waits.into_iter().enumerate() {
        // A user who never answers (no capability declared, too many pending) ends the call:
        // MRTR has no error answer, and the server may only ask for declared capabilities.
        let answer = rx.await.map_err(|_| Failure::Transport)?;
        let value = Fixed(answer).result().map_err(|_| Failure::Transport)?;
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(serde_json::to_string(&key).unwrap_or_default().as_bytes());
        out.put_u8(b':');
        out.put_slice(value.as_bytes());
    }
    out.put_u8(b'}');
    // Echoed byte for byte (never parsed into a value and re-encoded).
    if let Some(state) = result.member("requestState") {
        out.put_slice(br#","requestState":"#);
        out.put_slice(state.as_bytes());
    }
    Ok(out.freeze())
}

/// Input requests of one `input_required` result handed to the user, at most (more are left
/// unanswered; the server asks again): the spec sets no bound, a server cannot make a user hold
/// unbounded state.
const MAX_INPUT_REQUESTS: usize = 16;

fn server_request(msg: &Message) -> ServerRequest {
    match msg.method().unwrap_or_default() {
        "elicitation/create" => ServerRequest::Elicitation {
            requested_schema: requested_schema(msg.params().as_ref()),
        },
        "roots/list" => ServerRequest::RootsList,
        "sampling/createMessage" => ServerRequest::Sampling,
        "ping" => ServerRequest::Ping,
        _ => ServerRequest::Other,
    }
}

/// Answers a server-to-client request as the user decided, through a one-off handler.
async fn reply(wire: &UserWire, session: &Session, msg: &Message, answer: &Answer) {
    let handler = Arc::new(Fixed(answer.clone()));
    let mut opts = wire.client.options().clone();
    opts.handler(handler);
    let one_off = wire.client.with_options(opts);
    let Ok(handle) = one_off.handle(
        &wire.ctx.opts.url,
        session.protocol_version(),
        session.session_id(),
    ) else {
        return;
    };
    handle.answer(msg).await;
}

/// A `tools/call` in flight, listed in [`UserWire::open_calls`] until dropped. Only a
/// channel's [`Bridge`] reads the list: over Streamable HTTP (no channel) nothing is listed,
/// two locks fewer per call.
struct OpenCall<'a>(Option<(&'a UserWire, OpId)>);

impl<'a> OpenCall<'a> {
    fn new(wire: &'a UserWire, op: &Op) -> Self {
        if !wire.ctx.opts.transport.is_channel() {
            return Self(None);
        }
        if let Ok(mut calls) = wire.open_calls.lock() {
            calls.push((op.id, op.session));
        }
        Self(Some((wire, op.id)))
    }
}

impl Drop for OpenCall<'_> {
    fn drop(&mut self) {
        if let Some((wire, op)) = self.0
            && let Ok(mut calls) = wire.open_calls.lock()
        {
            calls.retain(|(id, _)| *id != op);
        }
    }
}

/// The handler of one channel session (stdio child, legacy stream): a server request is
/// handed to the user as an outcome of the newest `tools/call` in flight on that session, and
/// answered with what the user's [`OpKind::Answer`] says (the same path as a request on an
/// HTTP response stream). With no call in flight, or a user who does not answer, it is refused
/// with -32601 (what the profile's `undeclared = "method_not_found"` answers).
struct Bridge {
    wire: std::sync::Weak<UserWire>,
    slot: Option<SessionRef>,
}

impl Bridge {
    fn ask(&self, method: &'static str, request: ServerRequest) -> mcpx_client::HandlerFuture {
        let refuse = move || mcpx_client::HandlerError::method_not_found(method);
        let Some(wire) = self.wire.upgrade() else {
            return Box::pin(async move { Err(refuse()) });
        };
        let op = wire.open_calls.lock().ok().and_then(|calls| {
            calls
                .iter()
                .rev()
                // A stdio probe's child is opened before its session slot is known.
                .find(|(_, s)| self.slot.is_none() || *s == self.slot)
                .map(|(id, _)| *id)
        });
        let Some(op) = op else {
            return Box::pin(async move { Err(refuse()) });
        };
        let Some((rid, rx)) = wire.ask() else {
            return Box::pin(async move { Err(refuse()) });
        };
        let events = wire.events.clone();
        let at_us = wire.ctx.now_us();
        drop(wire);
        Box::pin(async move {
            let _ = events
                .send(OpEvent {
                    op,
                    outcome: Outcome::ServerRequest(rid, request),
                    at_us,
                })
                .await;
            match rx.await {
                Ok(answer) => Fixed(answer).result(),
                Err(_) => Err(refuse()),
            }
        })
    }
}

impl mcpx_client::ClientHandler for Bridge {
    fn create_message(&self, _params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        self.ask("sampling/createMessage", ServerRequest::Sampling)
    }
    fn elicit(&self, params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        self.ask(
            "elicitation/create",
            ServerRequest::Elicitation {
                requested_schema: requested_schema(params.as_ref()),
            },
        )
    }
    fn list_roots(&self, _params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        self.ask("roots/list", ServerRequest::RootsList)
    }
}

/// `requestedSchema` of `elicitation/create` params (`null` when absent).
fn requested_schema(params: Option<&RawJson>) -> Json {
    params
        .and_then(|p| p.member("requestedSchema"))
        .and_then(|s| serde_json::from_slice(s.as_bytes()).ok())
        .unwrap_or(Json::Null)
}

/// A client handler that answers with one fixed answer.
struct Fixed(Answer);

impl Fixed {
    fn result(&self) -> Result<RawJson, mcpx_client::HandlerError> {
        let value = match &self.0 {
            Answer::Accept(content) => serde_json::json!({"action": "accept", "content": content}),
            Answer::Decline => serde_json::json!({"action": "decline"}),
            Answer::Cancel => serde_json::json!({"action": "cancel"}),
            Answer::Roots(roots) => serde_json::json!({ "roots": roots }),
            Answer::Empty => serde_json::json!({}),
            _ => {
                return Err(mcpx_client::HandlerError::new(
                    mcpx_wire::ErrorCode::METHOD_NOT_FOUND,
                    "not supported by this client",
                ));
            }
        };
        RawJson::from_serialize(&value).map_err(|e| {
            mcpx_client::HandlerError::new(mcpx_wire::ErrorCode::INTERNAL_ERROR, e.to_string())
        })
    }
}

impl mcpx_client::ClientHandler for Fixed {
    fn create_message(&self, _params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        let r = self.result();
        Box::pin(async move { r })
    }
    fn elicit(&self, _params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        let r = self.result();
        Box::pin(async move { r })
    }
    fn list_roots(&self, _params: Option<RawJson>) -> mcpx_client::HandlerFuture {
        let r = self.result();
        Box::pin(async move { r })
    }
}

/// A held stream, counted in the live view until dropped.
struct Held(Arc<LiveCounts>, Arc<dyn Sink>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
        self.1.event(RunEvent::StreamClosed);
    }
}

/// A stream was accepted: its request is measured, it is counted as held, and the user learns
/// it is open.
async fn stream_opened(
    wire: &UserWire,
    op: &Op,
    method: &str,
    t: &Timing,
    tx: &mpsc::Sender<OpEvent>,
) -> Held {
    let ctx = &wire.ctx;
    wire.report(method, None, t, RequestOutcome::Ok);
    ctx.live.streams.fetch_add(1, Ordering::Relaxed);
    ctx.sink.event(RunEvent::StreamOpened);
    let held = Held(ctx.live.clone(), ctx.sink.clone());
    let _ = tx
        .send(OpEvent {
            op: op.id,
            outcome: Outcome::StreamOpen,
            at_us: ctx.now_us(),
        })
        .await;
    held
}

/// A GET listening stream (legacy) or `subscriptions/listen` (modern), held until the user
/// closes it (its task is aborted) or the server ends it.
async fn open_stream(
    wire: &Arc<UserWire>,
    op: &Op,
    listen: &Json,
    t: &mut Timing,
    tx: &mpsc::Sender<OpEvent>,
) -> Result<Outcome, Failure> {
    let ctx = &wire.ctx;
    let session = wire.session(op.session, op.era).ok_or(Failure::Transport)?;
    t.sent_us = ctx.now_us();
    match op.era {
        Era::Modern => {
            let params = RawJson::from_serialize(&serde_json::json!({ "notifications": listen }))
                .map_err(|_| Failure::Transport)?;
            let mut builder = session
                .request("subscriptions/listen")
                .id(wire.id())
                .params(params)
                .cancel_on_drop(false);
            builder = wire.add_headers(op, builder);
            let mut ex = match builder.send().await {
                Ok(ex) => ex,
                Err(e) => {
                    let (s, f) = classify(&e);
                    wire.report("subscriptions/listen", None, t, s);
                    return Err(f);
                }
            };
            t.first_byte_us = Some(ctx.us(ex.head_at()));
            let _held = stream_opened(wire, op, "subscriptions/listen", t, tx).await;
            loop {
                match ex.next().await {
                    Ok(Some(ev)) if ev.kind() == EventKind::Response => {
                        return Ok(Outcome::Done(Done::ok()));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Ok(Outcome::Done(Done::ok())),
                    Err(e) => return Err(classify(&e).1),
                }
            }
        }
        _ => {
            let mut stream = match session.open_stream().await {
                Ok(s) => s,
                Err(e) => {
                    let (s, f) = classify(&e);
                    wire.report("GET", None, t, s);
                    return Err(f);
                }
            };
            t.first_byte_us = Some(ctx.now_us());
            let _held = stream_opened(wire, op, "GET", t, tx).await;
            loop {
                match stream.next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => return Ok(Outcome::Done(Done::ok())),
                    Err(e) => return Err(classify(&e).1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_schedule_starts_when_the_sessions_are_open() {
        let mut c = CallClock::new(true);
        assert!(c.waiting());
        // Before the start only the session starts (time 0) are due.
        assert_eq!(c.to_schedule(5_000), 0);
        c.drivers = 3;
        c.update(1_000, 2, 0);
        assert!(c.waiting());
        // The third driver ended trying (a failed handshake): it counts as settled.
        c.update(2_500, 2, 1);
        assert!(!c.waiting());
        assert_eq!(c.started_us(), Some(2_500));
        assert_eq!(c.to_schedule(3_000), 500);
        assert_eq!(c.to_run(500), 3_000);
    }

    #[test]
    fn a_call_schedule_waits_for_its_sessions_only_so_long() {
        let mut c = CallClock::new(true);
        c.drivers = 2;
        c.update(CALL_SCHEDULE_WAIT_US, 0, 0);
        assert_eq!(c.started_us(), Some(CALL_SCHEDULE_WAIT_US));
    }

    #[test]
    fn other_models_start_at_once() {
        let c = CallClock::new(false);
        assert!(!c.waiting());
        assert_eq!(c.to_schedule(42), 42);
        assert_eq!(c.started_us(), None);
    }
}
