//! `mcpx replay`: performs a [`Plan`] against a live server over mcpx-client's connection pool
//! ([`HttpClient::send_raw`]), measures every exchange into the load tester's [`Metrics`]
//! (through a [`MetricsSink`]) and classifies how each answer differs from the recording.
//!
//! # What goes out
//! - Bodies, JSON-RPC ids, progress tokens and `_meta` verbatim; recorded headers verbatim,
//!   except: `Mcp-Session-Id: $key` becomes the live id bound to `key` in this copy (bound when
//!   the response that issued it arrives); `Last-Event-ID` becomes the live event id at the same
//!   position of the same exchange; a redacted `Authorization` becomes `--token` (or is dropped);
//!   `$redacted` argument values become same-size fillers.
//! - A recorded client answer to a server request goes with its `id` set to the live request's
//!   id (matched by order within the exchange), once that live request has arrived.
//! - A recorded `c2s` `end` closes the live stream (dropping the body closes the HTTP/1.1
//!   connection or resets the HTTP/2 stream).
//!
//! # Tasks
//! One task per user copy walks its steps in recorded order; each request runs in a task of its
//! own, so concurrent requests of a user stay concurrent. Copies share nothing but the pool.
//!
//! [`Metrics`]: mcpx_load::Metrics

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request as HttpRequest, Uri};
use mcpx_client::{HttpClient, HttpOptions, HttpVersion};
use mcpx_load::{MetricsSink, Outcome, RequestRecord};
use mcpx_trace::diverge::{DivergenceReport, Observed, Shape, classify, shape_of};
use mcpx_trace::plan::{Action, Anchor, Expected, Plan, Request, Timing, UserSteps};
use mcpx_wire::sse::SseDecoder;
use tokio::sync::{Notify, oneshot, watch};

use crate::limits::{BINDING_WAIT, MAX_BINDINGS_PER_COPY, MAX_REPLAY_BODY_BYTES};

/// The client family name replayed users are counted under.
pub const FAMILY: &str = "replay";

/// How to replay.
#[derive(Debug)]
#[non_exhaustive]
pub struct ReplayOptions {
    /// The live endpoint.
    pub url: String,
    /// The plan.
    pub plan: Plan,
    /// HTTP/2 (h2c prior knowledge on `http://`).
    pub http2: bool,
    /// The bearer token that replaces redacted `Authorization` values.
    pub token: Option<String>,
    /// Tokens by the redaction hash of the recorded credential (`--tokens`): a recorded
    /// `Bearer $redacted:HASH` is sent as `Bearer TOKEN` when HASH is here (before `token`).
    pub tokens: HashMap<String, String>,
    /// Redacted argument values by their marker's `sha256_8` (`--secrets`): raw JSON put back
    /// where the marker is; other markers become same-size fillers.
    pub secrets: HashMap<String, String>,
    /// Deadline of each exchange.
    pub request_timeout: Duration,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// Extra CA (PEM).
    pub cacert: Option<Vec<u8>>,
}

impl ReplayOptions {
    /// Replays `plan` against `url` with the defaults.
    pub fn new(url: impl Into<String>, plan: Plan) -> Self {
        Self {
            url: url.into(),
            plan,
            http2: false,
            token: None,
            tokens: HashMap::new(),
            secrets: HashMap::new(),
            request_timeout: crate::limits::DEFAULT_REPLAY_TIMEOUT,
            insecure: false,
            cacert: None,
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReplaySummary {
    /// User copies started.
    pub copies_started: u64,
    /// User copies that performed all their steps.
    pub copies_finished: u64,
    /// Requests sent.
    pub requests: u64,
    /// Requests sent without the live session id their key needed (never bound).
    pub unbound: u64,
    /// Answers to server requests sent with the recorded id (the live request never came).
    pub unmatched_answers: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Divergence from the recording.
    pub divergence: DivergenceReport,
    /// Stopped before the end (Ctrl-C).
    pub stopped_early: bool,
}

/// Errors setting a replay up.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplayError {
    /// The URL or TLS options are unusable.
    Setup(String),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ReplayError {}

struct Ctx {
    http: HttpClient,
    url: Uri,
    token: Option<HeaderValue>,
    tokens: HashMap<String, HeaderValue>,
    secrets: HashMap<String, String>,
    timeout: Duration,
    timing: Timing,
    /// Poisson arrivals: a copy starts with its first request (its recorded offset from the
    /// trace start is dropped).
    at_arrival: bool,
    expected: Arc<HashMap<u64, Expected>>,
    /// Session keys some exchange of the trace issues (a key never issued, because the
    /// recording began mid-session, cannot be bound: requests using it do not wait).
    issued: HashSet<String>,
    sink: Arc<MetricsSink>,
    start: Instant,
    div: Mutex<DivergenceReport>,
    requests: AtomicU64,
    unbound: AtomicU64,
    unmatched: AtomicU64,
    stop: watch::Receiver<bool>,
}

impl Ctx {
    fn us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX)
    }
}

#[derive(Default)]
struct Ex {
    ended: Option<Instant>,
    close: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct CopyState {
    sessions: HashMap<String, String>,
    ex: HashMap<u64, Ex>,
    step_at: Vec<Option<Instant>>,
    /// Recorded SSE event id -> live one.
    cursors: HashMap<String, String>,
    /// Recorded server request id (raw JSON) -> live one.
    answers: HashMap<String, String>,
    /// Keys whose issuing exchange ended live without issuing a session.
    unissued: HashSet<String>,
    /// Recorded server requests whose exchange ended live without them.
    unasked: HashSet<String>,
}

struct CopyRun {
    state: Mutex<CopyState>,
    changed: Notify,
    label: String,
    stop: watch::Receiver<bool>,
}

impl CopyRun {
    fn with<T>(&self, f: impl FnOnce(&mut CopyState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Waits until `pred` holds, `deadline` passes or the run is stopped; whether it holds.
    async fn wait_for(&self, deadline: Instant, pred: impl Fn(&CopyState) -> bool) -> bool {
        let mut stop = self.stop.clone();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.with(|s| pred(s)).unwrap_or(true) {
                return true;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline.into()) => return false,
                () = stopped(&mut stop) => return false,
            }
        }
    }
}

/// Replays the plan to its end (or until `stop` turns true).
///
/// # Errors
///
/// [`ReplayError::Setup`] for an unusable URL or TLS option.
pub async fn replay(
    opts: ReplayOptions,
    sink: Arc<MetricsSink>,
    stop: watch::Receiver<bool>,
) -> Result<ReplaySummary, ReplayError> {
    let url: Uri = opts
        .url
        .parse()
        .map_err(|e| ReplayError::Setup(format!("{}: {e}", opts.url)))?;
    if !matches!(url.scheme_str(), Some("http" | "https")) || url.authority().is_none() {
        return Err(ReplayError::Setup(format!(
            "{}: expected http(s)://host[:port]/path",
            opts.url
        )));
    }
    let mut hopts = HttpOptions::default();
    hopts.version = if opts.http2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Auto
    };
    hopts.tls.ca_pem.clone_from(&opts.cacert);
    hopts.tls.dangerous_accept_invalid_certs = opts.insecure;
    let http = HttpClient::new(hopts).map_err(|e| ReplayError::Setup(e.to_string()))?;
    let token = match &opts.token {
        Some(t) => Some(
            HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| ReplayError::Setup("--token is not a valid header value".into()))?,
        ),
        None => None,
    };
    let mut tokens = HashMap::new();
    for (hash, t) in &opts.tokens {
        let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
            ReplayError::Setup(format!(
                "--tokens: the token for {hash} is not a header value"
            ))
        })?;
        tokens.insert(hash.clone(), v);
    }
    let plan = opts.plan;
    let start = Instant::now();
    let ctx = Arc::new(Ctx {
        http,
        url,
        token,
        tokens,
        secrets: opts.secrets,
        timeout: opts.request_timeout,
        timing: plan.options.timing,
        at_arrival: plan.options.arrivals.is_some(),
        expected: plan.expected.clone(),
        issued: plan
            .expected
            .values()
            .filter_map(|e| e.issues_session.clone())
            .collect(),
        sink,
        start,
        div: Mutex::new(DivergenceReport::default()),
        requests: AtomicU64::new(0),
        unbound: AtomicU64::new(0),
        unmatched: AtomicU64::new(0),
        stop: stop.clone(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0u64;
    for c in &plan.copies {
        let Some(user) = plan.users.get(c.user).cloned() else {
            continue;
        };
        let copy_start = start + Duration::from_micros(c.offset_us);
        let label = format!("{}/{}", c.copy, user.user);
        let ctx = ctx.clone();
        started += 1;
        tasks.spawn(async move { run_copy(ctx, user, label, copy_start).await });
    }
    let mut finished = 0;
    while let Some(r) = tasks.join_next().await {
        if matches!(r, Ok(true)) {
            finished += 1;
        }
    }
    let divergence = ctx.div.lock().map(|d| d.clone()).unwrap_or_default();
    Ok(ReplaySummary {
        copies_started: started,
        copies_finished: finished,
        requests: ctx.requests.load(Ordering::Relaxed),
        unbound: ctx.unbound.load(Ordering::Relaxed),
        unmatched_answers: ctx.unmatched.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        divergence,
        stopped_early: *stop.borrow(),
    })
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs one copy of one user; whether it performed every step.
async fn run_copy(ctx: Arc<Ctx>, user: Arc<UserSteps>, label: String, copy_start: Instant) -> bool {
    let run = Arc::new(CopyRun {
        state: Mutex::new(CopyState {
            step_at: vec![None; user.steps.len()],
            ..CopyState::default()
        }),
        changed: Notify::new(),
        label,
        stop: ctx.stop.clone(),
    });
    let mut stop = ctx.stop.clone();
    ctx.sink.with(|m| m.user_started(FAMILY));
    let mut complete = true;
    let mut reqs = tokio::task::JoinSet::new();
    let shift = if ctx.at_arrival {
        user.steps.first().map_or(0, |s| s.at_us)
    } else {
        0
    };
    for (i, step) in user.steps.iter().enumerate() {
        if *stop.borrow() {
            complete = false;
            break;
        }
        // User timing: first the exchanges that had ended when this was recorded (absolute
        // timing waits for nothing but the session binding a request needs).
        let deadline = Instant::now() + ctx.timeout;
        let waits = if ctx.timing == Timing::User {
            step.wait.as_slice()
        } else {
            &[]
        };
        for x in waits {
            run.wait_for(deadline, |s| s.ex.get(x).is_none_or(|e| e.ended.is_some()))
                .await;
        }
        let at = match ctx.timing {
            Timing::Absolute => {
                copy_start + Duration::from_micros(step.at_us.saturating_sub(shift))
            }
            _ => {
                let (base, gap) = match step.anchor {
                    Anchor::Step(j) => (
                        run.with(|s| s.step_at.get(j).copied().flatten()).flatten(),
                        step.gap_us,
                    ),
                    Anchor::Ended(x) => (
                        run.with(|s| s.ex.get(&x).and_then(|e| e.ended)).flatten(),
                        step.gap_us,
                    ),
                    _ => (Some(copy_start), step.gap_us.saturating_sub(shift)),
                };
                base.unwrap_or_else(Instant::now) + Duration::from_micros(gap)
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => {}
            () = stopped(&mut stop) => { complete = false; break; }
        }
        match &step.action {
            Action::Close(x) => {
                let close = run
                    .with(|s| s.ex.get_mut(x).and_then(|e| e.close.take()))
                    .flatten();
                if let Some(tx) = close {
                    let _ = tx.send(());
                }
                run.with(|s| {
                    if let Some(slot) = s.step_at.get_mut(i) {
                        *slot = Some(Instant::now());
                    }
                });
            }
            Action::Send(req) => {
                let prepared = prepare(&ctx, &run, req).await;
                let (close_tx, close_rx) = oneshot::channel();
                let now = Instant::now();
                run.with(|s| {
                    if let Some(slot) = s.step_at.get_mut(i) {
                        *slot = Some(now);
                    }
                    s.ex.insert(
                        req.x,
                        Ex {
                            ended: None,
                            close: Some(close_tx),
                        },
                    );
                });
                ctx.requests.fetch_add(1, Ordering::Relaxed);
                let (ctx2, run2, req2) = (ctx.clone(), run.clone(), req.clone());
                reqs.spawn(async move { exchange(ctx2, run2, req2, prepared, at, close_rx).await });
                // Finished exchange tasks are reaped as we go (bounded memory over long users).
                while reqs.try_join_next().is_some() {}
            }
            _ => {}
        }
    }
    // The end: exchanges that ended in the recording may finish (bounded); streams still open
    // when the recording stopped are closed. Interrupted: everything is closed at once.
    if complete {
        let deadline = Instant::now() + ctx.timeout;
        let expected = ctx.expected.clone();
        run.wait_for(deadline, |s| {
            s.ex.iter().all(|(x, e)| {
                e.ended.is_some() || expected.get(x).is_none_or(|exp| exp.ended_at.is_none())
            })
        })
        .await;
    }
    run.with(|s| {
        for e in s.ex.values_mut() {
            if let Some(tx) = e.close.take() {
                let _ = tx.send(());
            }
        }
    });
    while reqs.join_next().await.is_some() {}
    ctx.sink.with(|m| m.user_finished(FAMILY));
    complete
}

/// A request ready to go.
struct Prepared {
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    session: Option<String>,
}

/// Binds session keys, cursors, answer ids and secrets for this copy.
async fn prepare(ctx: &Ctx, run: &CopyRun, req: &Request) -> Prepared {
    let method = Method::from_bytes(req.http.as_bytes()).unwrap_or(Method::POST);
    let mut headers = HeaderMap::new();
    let mut session = None;
    for (name, value) in &req.hdr.0 {
        let Ok(hname) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let value = match name.as_str() {
            "mcp-session-id" => {
                let key = value.trim_start_matches('$').to_owned();
                if ctx.issued.contains(&key) {
                    let deadline = Instant::now() + BINDING_WAIT;
                    run.wait_for(deadline, |s| {
                        s.sessions.contains_key(&key) || s.unissued.contains(&key)
                    })
                    .await;
                }
                match run.with(|s| s.sessions.get(&key).cloned()).flatten() {
                    Some(live) => {
                        session = Some(key);
                        live
                    }
                    None => {
                        ctx.unbound.fetch_add(1, Ordering::Relaxed);
                        session = Some(key);
                        continue;
                    }
                }
            }
            "last-event-id" => match run.with(|s| s.cursors.get(value).cloned()).flatten() {
                Some(live) => live,
                None => continue,
            },
            "authorization" if value.contains("$redacted") => match value
                .rsplit_once("$redacted:")
                .and_then(|(_, hash)| ctx.tokens.get(hash.trim()))
                .or(ctx.token.as_ref())
            {
                Some(t) => {
                    headers.insert(hname, t.clone());
                    continue;
                }
                None => continue,
            },
            _ => value.clone(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(hname, v);
        }
    }
    if let (None, Some(t)) = (headers.get(http::header::AUTHORIZATION), &ctx.token) {
        headers.insert(http::header::AUTHORIZATION, t.clone());
    }
    let mut body = req.body.clone().unwrap_or_default();
    if let Some(recorded_id) = &req.answer_to {
        let deadline = Instant::now() + BINDING_WAIT;
        run.wait_for(deadline, |s| {
            s.answers.contains_key(recorded_id) || s.unasked.contains(recorded_id)
        })
        .await;
        match run.with(|s| s.answers.get(recorded_id).cloned()).flatten() {
            Some(live) => {
                if let Some(b) = mcpx_trace::with_id(&body, &live) {
                    body = b;
                }
            }
            None => {
                ctx.unmatched.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if let Some(filled) = mcpx_trace::redact::fill_with(&body, &ctx.secrets) {
        body = filled;
    }
    let body = if body.is_empty() {
        match &req.raw_b64 {
            Some(b64) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map(Bytes::from)
                    .unwrap_or_default()
            }
            None => Bytes::new(),
        }
    } else {
        Bytes::from(body)
    };
    if !body.is_empty() && !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if !headers.contains_key(http::header::ACCEPT) {
        let accept = if method == Method::GET {
            "text/event-stream"
        } else {
            "application/json, text/event-stream"
        };
        headers.insert(http::header::ACCEPT, HeaderValue::from_static(accept));
    }
    Prepared {
        method,
        headers,
        body,
        session,
    }
}

fn label_of(req: &Request) -> String {
    match (&req.method, &req.tool, &req.answer_to) {
        (Some(m), Some(t), _) if m == "tools/call" => format!("tools/call {t}"),
        (Some(m), _, _) => m.clone(),
        (None, _, Some(_)) => "(response)".to_owned(),
        _ => req.http.clone(),
    }
}

fn failure(e: &mcpx_client::Error) -> (&'static str, Outcome) {
    match e {
        mcpx_client::Error::Connect(_) => ("connect", Outcome::Connect),
        mcpx_client::Error::Tls(_) => ("tls", Outcome::Tls),
        mcpx_client::Error::Timeout(_) => ("timeout", Outcome::Timeout),
        _ => ("reset", Outcome::Protocol),
    }
}

/// Sends one request, reads its answer (closing early on a recorded client close), binds what
/// it issues, and records metrics and divergences.
async fn exchange(
    ctx: Arc<Ctx>,
    run: Arc<CopyRun>,
    req: Box<Request>,
    p: Prepared,
    intended: Instant,
    mut close: oneshot::Receiver<()>,
) {
    let x = req.x;
    let expected = ctx.expected.get(&x);
    let method = req.method.clone().unwrap_or_else(|| {
        if req.answer_to.is_some() {
            "(response)".into()
        } else {
            req.http.clone()
        }
    });
    let sent = Instant::now();
    let deadline = sent + ctx.timeout;
    let request_bytes = p.body.len() as u64;
    let mut hreq = HttpRequest::new(p.body);
    *hreq.method_mut() = p.method.clone();
    *hreq.uri_mut() = ctx.url.clone();
    *hreq.headers_mut() = p.headers;
    let mut observed = Observed::default();
    let mut outcome = Outcome::Ok;
    let mut first_byte = None;
    let mut first_event = None;
    let mut answered_at = None;
    let is_stream = p.method == Method::GET;
    let head = tokio::select! {
        r = tokio::time::timeout_at(deadline.into(), ctx.http.send_raw(hreq)) => Some(r),
        _ = &mut close => None,
    };
    match head {
        None => {
            observed.failed = Some("closed".into());
            outcome = Outcome::Cancelled;
        }
        Some(Err(_)) => {
            observed.failed = Some("timeout".into());
            outcome = Outcome::Timeout;
        }
        Some(Ok(Err(e))) => {
            let (what, o) = failure(&e);
            observed.failed = Some(what.into());
            outcome = o;
        }
        Some(Ok(Ok(mut resp))) => {
            let at = Instant::now();
            first_byte = Some(at);
            let status = resp.status();
            observed.status = Some(status.as_u16());
            observed.ct = resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                });
            if !status.is_success() {
                outcome = Outcome::Http(status.as_u16());
            }
            bind_session(&ctx, &run, expected, resp.headers());
            if is_stream && status.is_success() {
                ctx.sink.with(|m| m.stream_opened());
                answered_at = Some(at);
            }
            let sse = observed.ct.as_deref() == Some("text/event-stream");
            let mut dec = SseDecoder::new();
            let mut buf = BytesMut::new();
            let mut whole = BytesMut::new();
            let mut live_ids: Vec<String> = Vec::new();
            let mut live_reqs: Vec<String> = Vec::new();
            let mut last_progress: Option<Instant> = None;
            loop {
                let chunk = tokio::select! {
                    c = tokio::time::timeout_at(deadline.into(), resp.chunk()) => c,
                    _ = &mut close => break,
                };
                let chunk = match chunk {
                    Ok(Ok(Some(c))) => c,
                    Ok(Ok(None)) => break,
                    Ok(Err(_)) => {
                        if answered_at.is_none() {
                            observed.failed = Some("reset".into());
                            outcome = Outcome::Protocol;
                        }
                        break;
                    }
                    Err(_) => {
                        if answered_at.is_none() && !is_stream {
                            observed.failed = Some("timeout".into());
                            outcome = Outcome::Timeout;
                        }
                        break;
                    }
                };
                if !sse {
                    if whole.len() + chunk.len() <= MAX_REPLAY_BODY_BYTES {
                        whole.extend_from_slice(&chunk);
                    }
                    observed.bytes += chunk.len() as u64;
                    continue;
                }
                buf.extend_from_slice(&chunk);
                loop {
                    let ev = match dec.decode(&mut buf) {
                        Ok(Some(ev)) => ev,
                        Ok(None) => break,
                        // An oversized event is skipped by the decoder; the next ones follow.
                        Err(_) => continue,
                    };
                    let now = Instant::now();
                    first_event.get_or_insert(now);
                    live_ids.push(ev.id().unwrap_or_default().to_owned());
                    if ev.data().is_empty() {
                        continue;
                    }
                    observed.bytes += ev.data().len() as u64;
                    let text = std::str::from_utf8(ev.data()).unwrap_or_default();
                    let shape = shape_of(text);
                    // SSE timings as `mcpx load` reports them: each event from the send, and
                    // the gaps between progress notifications.
                    let since_sent = ctx.us(now).saturating_sub(ctx.us(sent));
                    let is_progress = matches!(&shape, Shape::Notification { method: m } if m == "notifications/progress");
                    let gap = is_progress
                        .then(|| last_progress.replace(now))
                        .flatten()
                        .map(|prev| ctx.us(now).saturating_sub(ctx.us(prev)));
                    ctx.sink.with(|m| {
                        m.record_sse_event(&method, since_sent);
                        if let Some(g) = gap {
                            m.record_progress_gap(g);
                        }
                    });
                    match &shape {
                        Shape::Request { .. } => {
                            if let Some(id) = raw_id(text) {
                                live_reqs.push(id);
                            }
                        }
                        Shape::Result { .. } | Shape::Error { .. } => {
                            answered_at.get_or_insert(now);
                        }
                        _ => {}
                    }
                    observed.messages.push(shape);
                    map_positions(&run, expected, &live_ids, &live_reqs);
                }
            }
            if !sse
                && !whole.is_empty()
                && let Ok(text) = std::str::from_utf8(&whole)
            {
                observed.messages.push(shape_of(text));
            }
            if is_stream && status.is_success() {
                ctx.sink.with(|m| m.stream_closed());
            }
            if p.method == Method::DELETE && status.is_success() {
                ctx.sink.with(|m| m.session_closed(FAMILY));
            }
        }
    }
    let done = Instant::now();
    run.with(|s| {
        if let Some(e) = s.ex.get_mut(&x) {
            e.ended = Some(done);
            e.close = None;
        }
        // What this exchange should have issued and did not will not come: nobody waits.
        if let Some(exp) = expected {
            if let Some(key) = &exp.issues_session
                && !s.sessions.contains_key(key)
            {
                s.unissued.insert(key.clone());
            }
            for id in &exp.server_request_ids {
                if !s.answers.contains_key(id) && s.unasked.len() < MAX_BINDINGS_PER_COPY {
                    s.unasked.insert(id.clone());
                }
            }
        }
    });
    run.changed.notify_waiters();
    // The outcome of an answered request follows its final message.
    if matches!(outcome, Outcome::Ok) {
        match observed
            .messages
            .iter()
            .rev()
            .find(|s| matches!(s, Shape::Result { .. } | Shape::Error { .. }))
        {
            Some(Shape::Error { code }) => {
                outcome = Outcome::JsonRpc(i32::try_from(*code).unwrap_or(i32::MIN));
            }
            Some(Shape::Result {
                is_error: Some(true),
                ..
            }) => outcome = Outcome::IsError,
            _ => {}
        }
    }
    let label = label_of(&req);
    if let Some(exp) = expected {
        let divs = classify(&exp.observed, &observed);
        let session = format!(
            "{}{}",
            run.label,
            p.session
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default()
        );
        if let Ok(mut d) = ctx.div.lock() {
            d.add(&label, &session, &divs);
        }
    }
    let end = answered_at.filter(|_| is_stream).unwrap_or(done);
    let mut rec = RequestRecord::new(&method, FAMILY, ctx.us(intended), ctx.us(end), outcome)
        .with_sent(ctx.us(sent));
    if let Some(t) = &req.tool {
        rec = rec.with_tool(t);
    }
    if let Some(fb) = first_byte {
        rec = rec.with_first_byte(ctx.us(fb));
    }
    if let Some(fe) = first_event {
        rec = rec.with_first_event(ctx.us(fe));
    }
    if outcome == Outcome::Timeout {
        rec = rec.with_deadline("replay");
    }
    rec.request_bytes = request_bytes;
    rec.response_bytes = observed.bytes;
    ctx.sink.with(|m| m.record_request(&rec));
}

/// The raw JSON `id` of a message.
fn raw_id(msg: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: Option<&'a serde_json::value::RawValue>,
    }
    serde_json::from_str::<Id<'_>>(msg)
        .ok()?
        .id
        .map(|r| r.get().to_owned())
}

/// A session id issued live where the recording issued key K binds K in this copy.
fn bind_session(ctx: &Ctx, run: &CopyRun, expected: Option<&Expected>, headers: &HeaderMap) {
    let (Some(key), Some(live)) = (
        expected.and_then(|e| e.issues_session.clone()),
        headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    ) else {
        return;
    };
    let fresh = run
        .with(|s| s.sessions.insert(key, live).is_none())
        .unwrap_or(false);
    if fresh {
        ctx.sink.with(|m| m.session_opened(FAMILY));
    }
    run.changed.notify_waiters();
}

/// Maps recorded SSE ids and server request ids to live ones by position in the exchange.
fn map_positions(
    run: &CopyRun,
    expected: Option<&Expected>,
    live_ids: &[String],
    live_reqs: &[String],
) {
    let Some(exp) = expected else { return };
    let changed = run
        .with(|s| {
            let mut changed = false;
            if let (Some(rec), Some(live)) = (
                live_ids
                    .len()
                    .checked_sub(1)
                    .and_then(|i| exp.sse_ids.get(i)),
                live_ids.last(),
            ) && !rec.is_empty()
                && !live.is_empty()
                && s.cursors.len() < MAX_BINDINGS_PER_COPY
            {
                s.cursors.insert(rec.clone(), live.clone());
            }
            if let (Some(rec), Some(live)) = (
                live_reqs
                    .len()
                    .checked_sub(1)
                    .and_then(|i| exp.server_request_ids.get(i)),
                live_reqs.last(),
            ) && !s.answers.contains_key(rec)
                && s.answers.len() < MAX_BINDINGS_PER_COPY
            {
                s.answers.insert(rec.clone(), live.clone());
                changed = true;
            }
            changed
        })
        .unwrap_or(false);
    if changed {
        run.changed.notify_waiters();
    }
}
