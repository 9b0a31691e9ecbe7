//! The replay plan (PROFILE.md section 3): which `c2s` events each user performs, when, and
//! what it waits for; and what each exchange is expected to answer.
//!
//! # Timing
//! - [`Timing::User`] (default): request R of user u goes at `live(E) + (t_R - t_E) / speed`,
//!   E being the latest earlier event of u that R could have seen: u's previous request, or the
//!   last `s2c` event of an exchange that had ended before R. R first waits for the exchanges
//!   that had ended when it was recorded, never for open ones, so concurrency and think time
//!   survive any server speed.
//! - [`Timing::Absolute`]: each request at `t / speed` from the start (it still waits for the
//!   session key it needs to be bound, or it could not be sent).
//! - `--multiply N`: N copies of every user; copy i starts `i * span / N` later (span: the
//!   trace's length, scaled by the speed). Copies share nothing (bindings live in the driver).
//!
//! The plan is data: the driver (mcpx-replay) owns clocks, tasks and sockets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::diverge::Observed;
use crate::event::{Dir, Event, Headers, Kind};
use crate::limits::{MAX_ARRIVALS, MAX_MULTIPLY};

/// How requests are timed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timing {
    /// Per user, relative to what the user could have seen (default).
    #[default]
    User,
    /// At the recorded time from the start, scaled.
    Absolute,
}

/// Open-model arrivals (`--users-per-s`): trace users started round-robin as a Poisson
/// process instead of at their recorded times.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Arrivals {
    /// Users started per second (> 0).
    pub users_per_s: f64,
    /// Start users only this long, µs (required with `looped`).
    pub duration_us: Option<u64>,
    /// Cycle through the trace's users until the duration is over (otherwise each starts once).
    pub looped: bool,
    /// Seed of the arrival times.
    pub seed: u64,
}

impl Arrivals {
    /// `users_per_s` users per second, each trace user once, seed 1.
    pub fn new(users_per_s: f64) -> Self {
        Self {
            users_per_s,
            duration_us: None,
            looped: false,
            seed: 1,
        }
    }
}

/// Replay knobs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Gaps are divided by this (> 0).
    pub speed: f64,
    /// Copies of each user (>= 1).
    pub multiply: u32,
    /// Timing rule.
    pub timing: Timing,
    /// Poisson arrivals instead of recorded start times and `multiply`.
    pub arrivals: Option<Arrivals>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            multiply: 1,
            timing: Timing::User,
            arrivals: None,
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// What a step's wait is measured from (user timing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Anchor {
    /// The copy's start.
    Start,
    /// When step `i` of this user was performed.
    Step(usize),
    /// When exchange `x` ended live.
    Ended(u64),
}

/// A request to send.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// Exchange id in the trace.
    pub x: u64,
    /// Session key it runs in (legacy), as recorded.
    pub s: Option<String>,
    /// HTTP method.
    pub http: String,
    /// Recorded headers (`mcp-session-id` still `$key`, `authorization` still redacted).
    pub hdr: Headers,
    /// The body as recorded (JSON), if any.
    pub body: Option<String>,
    /// A non-JSON body, base64.
    pub raw_b64: Option<String>,
    /// The JSON-RPC method, if the body is a request or notification.
    pub method: Option<String>,
    /// The tool of a `tools/call`.
    pub tool: Option<String>,
    /// The body is a JSON-RPC response: the client's answer to a server request; replay sets
    /// its `id` to the live request's id.
    pub answer_to: Option<String>,
    /// Whether the recorded request expected an answer (a request with an id).
    pub has_id: bool,
}

/// What a step does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Send a request (opens exchange `x`).
    Send(Box<Request>),
    /// The client closed exchange `x`'s stream.
    Close(u64),
}

/// One `c2s` event of a user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Step {
    /// Recorded time, µs.
    pub t: u64,
    /// Absolute timing: µs after the copy's start (scaled).
    pub at_us: u64,
    /// User timing: measured from this.
    pub anchor: Anchor,
    /// User timing: µs after the anchor (scaled).
    pub gap_us: u64,
    /// Exchanges that must have ended first.
    pub wait: Vec<u64>,
    /// What to do.
    pub action: Action,
}

/// What the recording says an exchange answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Expected {
    /// The observable answer.
    pub observed: Observed,
    /// Session key issued by its response (`mcp-session-id: $key`).
    pub issues_session: Option<String>,
    /// SSE event ids in order (`""` for none): maps recorded cursors to live ones.
    pub sse_ids: Vec<String>,
    /// JSON-RPC ids (raw JSON) of the server requests it carried, in order.
    pub server_request_ids: Vec<String>,
    /// When it ended (last `s2c` event, or a `c2s` end), if it did before the trace ended.
    pub ended_at: Option<u64>,
    /// Last `s2c` event time.
    pub last_s2c: Option<u64>,
}

/// One user of the trace: its steps (shared by all copies).
#[derive(Debug)]
#[non_exhaustive]
pub struct UserSteps {
    /// The user key.
    pub user: String,
    /// Its steps in recorded order.
    pub steps: Vec<Step>,
    /// Recorded time of the user's last event.
    pub last_t: u64,
}

/// One copy of one user to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Copy {
    /// Index into [`Plan::users`].
    pub user: usize,
    /// Copy number, from 0.
    pub copy: u32,
    /// Start offset of this copy, µs (scaled).
    pub offset_us: u64,
}

/// The whole plan.
#[derive(Debug)]
#[non_exhaustive]
pub struct Plan {
    /// Trace users.
    pub users: Vec<Arc<UserSteps>>,
    /// Every copy to run, by start offset.
    pub copies: Vec<Copy>,
    /// Expectations per exchange id.
    pub expected: Arc<HashMap<u64, Expected>>,
    /// Recorded span (first to last event), µs.
    pub span_us: u64,
    /// Events replay cannot perform (stdio `msg`, requests without an exchange id).
    pub skipped: u64,
    /// The options it was made with.
    pub options: PlanOptions,
}

fn scaled(us: u64, speed: f64) -> u64 {
    let v = us as f64 / speed;
    if v.is_finite() && v >= 0.0 {
        // Saturating: a scaled time beyond u64 is not reachable anyway.
        v.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

impl Plan {
    /// Builds the plan of `events` (a whole trace, in file order).
    ///
    /// # Errors
    ///
    /// Invalid options (speed not positive, multiply 0 or over [`MAX_MULTIPLY`]).
    pub fn new(events: &[Event], options: PlanOptions) -> Result<Self, PlanError> {
        if !(options.speed.is_finite() && options.speed > 0.0) {
            return Err(PlanError("--speed must be a positive number".into()));
        }
        if options.multiply == 0 || options.multiply > MAX_MULTIPLY {
            return Err(PlanError(format!("--multiply must be 1 to {MAX_MULTIPLY}")));
        }
        let expected = expectations(events);
        let first = events.first().map_or(0, |e| e.t);
        let last = events.last().map_or(0, |e| e.t);
        let span_us = last.saturating_sub(first);
        let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for ev in events {
            let list = by_user.entry(ev.u.as_str()).or_default();
            if list.is_empty() {
                order.push(ev.u.as_str());
            }
            list.push(ev);
        }
        let mut skipped = 0;
        let mut users = Vec::with_capacity(order.len());
        for u in order {
            let evs = by_user.get(u).map(Vec::as_slice).unwrap_or_default();
            let (steps, skip) = user_steps(evs, &expected, options.speed);
            skipped += skip;
            users.push(Arc::new(UserSteps {
                user: u.to_owned(),
                steps,
                last_t: evs.last().map_or(0, |e| e.t),
            }));
        }
        if let Some(a) = options.arrivals {
            let copies = arrivals(a, users.len())?;
            return Ok(Self {
                users,
                copies,
                expected: Arc::new(expected),
                span_us,
                skipped,
                options,
            });
        }
        let mut copies = Vec::with_capacity(users.len() * options.multiply as usize);
        for copy in 0..options.multiply {
            let offset = scaled(
                span_us.saturating_mul(u64::from(copy)) / u64::from(options.multiply),
                options.speed,
            );
            for user in 0..users.len() {
                copies.push(Copy {
                    user,
                    copy,
                    offset_us: offset,
                });
            }
        }
        Ok(Self {
            users,
            copies,
            expected: Arc::new(expected),
            span_us,
            skipped,
            options,
        })
    }

    /// Requests (and closes) the plan performs in all.
    pub fn steps(&self) -> u64 {
        self.copies
            .iter()
            .filter_map(|c| self.users.get(c.user))
            .map(|u| u.steps.len() as u64)
            .sum()
    }
}

/// The copies of a Poisson arrival process over `n` trace users, round-robin: copy k is trace
/// user k mod n, started at the k-th arrival (its steps keep their recorded offsets from the
/// trace start, scaled, in either timing).
fn arrivals(a: Arrivals, n: usize) -> Result<Vec<Copy>, PlanError> {
    if !(a.users_per_s.is_finite() && a.users_per_s > 0.0) {
        return Err(PlanError("--users-per-s must be a positive number".into()));
    }
    if a.looped && a.duration_us.is_none() {
        return Err(PlanError("--loop needs --duration".into()));
    }
    let mut out = Vec::new();
    if n == 0 {
        return Ok(out);
    }
    let mut rng = SplitMix64(a.seed);
    let mut t = 0.0f64;
    let mut i = 0usize;
    while out.len() < MAX_ARRIVALS && (a.looped || i < n) {
        // Exponential gaps: -ln(1 - U) / rate, U in [0, 1).
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        t += -(1.0 - u).ln() / a.users_per_s * 1e6;
        let at = t.min(u64::MAX as f64) as u64;
        if a.duration_us.is_some_and(|d| at > d) {
            break;
        }
        out.push(Copy {
            user: i % n,
            copy: u32::try_from(i / n).unwrap_or(u32::MAX),
            offset_us: at,
        });
        i += 1;
    }
    Ok(out)
}

/// A small seeded generator for arrival times (deterministic per seed, no dependency).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn user_steps(evs: &[&Event], expected: &HashMap<u64, Expected>, speed: f64) -> (Vec<Step>, u64) {
    let mut steps = Vec::new();
    let mut skipped = 0;
    // (recorded t, step index) of the previous request.
    let mut prev: Option<(u64, usize)> = None;
    // Exchanges of this user, by id, with their end time.
    let mut mine: Vec<(u64, u64, u64)> = Vec::new(); // (x, ended_at, last_s2c)
    let mut waited: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for ev in evs {
        if ev.d != Dir::C2s || !matches!(ev.k, Kind::Req | Kind::End) {
            continue;
        }
        let Some(x) = ev.x else {
            skipped += 1;
            continue;
        };
        let t = ev.t;
        // E: the previous request, or the latest s2c event of an exchange ended before R.
        let mut anchor = prev.map_or((0, Anchor::Start), |(pt, i)| (pt, Anchor::Step(i)));
        let mut wait = Vec::new();
        for &(ox, ended, last_s2c) in &mine {
            if ended < t {
                if !waited.contains(&ox) {
                    wait.push(ox);
                }
                if last_s2c >= anchor.0 && ended < t {
                    anchor = (last_s2c, Anchor::Ended(ox));
                }
            }
        }
        for w in &wait {
            waited.insert(*w);
        }
        let action = match ev.k {
            Kind::End => Action::Close(x),
            _ => Action::Send(Box::new(request_of(ev, x))),
        };
        let idx = steps.len();
        steps.push(Step {
            t,
            at_us: scaled(t, speed),
            anchor: anchor.1,
            gap_us: scaled(t.saturating_sub(anchor.0), speed),
            wait,
            action,
        });
        if ev.k == Kind::Req {
            prev = Some((t, idx));
            if let Some(e) = expected.get(&x)
                && let Some(ended) = e.ended_at
            {
                mine.push((x, ended, e.last_s2c.unwrap_or(ended)));
            }
        }
    }
    (steps, skipped)
}

fn request_of(ev: &Event, x: u64) -> Request {
    let body = ev.msg.as_ref().map(|m| m.get().to_owned());
    let mut method = None;
    let mut tool = None;
    let mut answer_to = None;
    let mut has_id = false;
    if let Some(b) = &body {
        let bytes = b.as_bytes();
        let get = |path: &[&str]| crate::json::find(bytes, path).and_then(|r| b.get(r));
        method = get(&["method"]).and_then(|m| serde_json::from_str::<String>(m).ok());
        has_id = get(&["id"]).is_some();
        if method.as_deref() == Some("tools/call") {
            tool = get(&["params", "name"]).and_then(|m| serde_json::from_str::<String>(m).ok());
        }
        if method.is_none() && (get(&["result"]).is_some() || get(&["error"]).is_some()) {
            answer_to = get(&["id"]).map(str::to_owned);
        }
    }
    Request {
        x,
        s: ev.s.clone(),
        http: ev.http.clone().unwrap_or_else(|| "POST".to_owned()),
        hdr: ev.hdr.clone(),
        body,
        raw_b64: ev.raw_b64.clone(),
        method,
        tool,
        answer_to,
        has_id,
    }
}

/// The expectations of every exchange in `events`.
pub fn expectations(events: &[Event]) -> HashMap<u64, Expected> {
    let mut out: HashMap<u64, Expected> = HashMap::new();
    for ev in events {
        let Some(x) = ev.x else { continue };
        if ev.k == Kind::Req {
            continue;
        }
        let e = out.entry(x).or_insert_with(|| Expected {
            observed: Observed::default(),
            issues_session: None,
            sse_ids: Vec::new(),
            server_request_ids: Vec::new(),
            ended_at: None,
            last_s2c: None,
        });
        if ev.d == Dir::S2c {
            e.last_s2c = Some(ev.t);
        }
        match ev.k {
            Kind::Resp | Kind::Head => {
                e.observed.status = ev.status;
                e.observed.ct.clone_from(&ev.ct);
                if let Some(key) = ev.hdr.get("mcp-session-id") {
                    e.issues_session = Some(key.trim_start_matches('$').to_owned());
                }
                if ev.k == Kind::Resp {
                    e.ended_at = Some(ev.t);
                    e.observed.bytes = ev.bytes.unwrap_or(0);
                }
            }
            Kind::Sse => {
                e.sse_ids.push(ev.sse.clone().unwrap_or_default());
                e.observed.bytes += ev.bytes.unwrap_or(0);
            }
            Kind::End | Kind::Err => {
                e.ended_at = Some(ev.t);
                if ev.k == Kind::Err {
                    e.observed.failed = ev.err.clone();
                }
            }
            _ => {}
        }
        if matches!(ev.k, Kind::Resp | Kind::Sse)
            && let Some(m) = &ev.msg
        {
            let shape = crate::diverge::shape_of(m.get());
            if let crate::diverge::Shape::Request { .. } = shape
                && let Some(r) = crate::json::find(m.get().as_bytes(), &["id"])
                && let Some(id) = m.get().get(r)
            {
                e.server_request_ids.push(id.to_owned());
            }
            e.observed.messages.push(shape);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn ev(t: u64, u: &str, x: u64, d: Dir, k: Kind) -> Event {
        let mut e = Event::new(t, u, d, k);
        e.x = Some(x);
        if k == Kind::Req {
            e.http = Some("POST".into());
        }
        if matches!(k, Kind::Resp | Kind::Head) {
            e.status = Some(200);
        }
        e
    }

    #[test]
    fn user_timing_anchors_and_waits() {
        // x1: req at 0, resp at 100. x2 (a stream): req at 200, head 210, never ends.
        // x2 waits for x1 and is anchored on its answer; x3 (req at 1000) on x2's req (x2 is open).
        // x4: req at 5000 after x3 answered at 4000: anchored on x3's end.
        let events = vec![
            ev(0, "a", 1, Dir::C2s, Kind::Req),
            ev(100, "a", 1, Dir::S2c, Kind::Resp),
            ev(200, "a", 2, Dir::C2s, Kind::Req),
            ev(210, "a", 2, Dir::S2c, Kind::Head),
            ev(1000, "a", 3, Dir::C2s, Kind::Req),
            ev(4000, "a", 3, Dir::S2c, Kind::Resp),
            ev(5000, "a", 4, Dir::C2s, Kind::Req),
            ev(6000, "a", 2, Dir::C2s, Kind::End),
            ev(50, "b", 9, Dir::C2s, Kind::Req),
        ];
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| e.t);
        let plan = Plan::new(
            &sorted,
            PlanOptions {
                speed: 2.0,
                multiply: 3,
                timing: Timing::User,
                arrivals: None,
            },
        )
        .unwrap();
        let a = &plan.users[0];
        assert_eq!(a.user, "a");
        let s = &a.steps;
        assert_eq!(s.len(), 5);
        assert_eq!((s[0].anchor, s[0].gap_us), (Anchor::Start, 0));
        assert_eq!(
            (s[1].anchor, s[1].gap_us, s[1].wait.clone()),
            (Anchor::Ended(1), 50, vec![1])
        );
        assert_eq!(
            (s[2].anchor, s[2].gap_us, s[2].wait.clone()),
            (Anchor::Step(1), 400, vec![])
        );
        assert_eq!(
            (s[3].anchor, s[3].gap_us, s[3].wait.clone()),
            (Anchor::Ended(3), 500, vec![3])
        );
        assert!(matches!(s[4].action, Action::Close(2)));
        assert_eq!(s[4].at_us, 3000);
        // 2 users x 3 copies, staggered by span/3 scaled: span 6000 -> 2000, 1000 at speed 2.
        assert_eq!(plan.copies.len(), 6);
        let offsets: Vec<u64> = plan.copies.iter().map(|c| c.offset_us).collect();
        assert_eq!(offsets, [0, 0, 1000, 1000, 2000, 2000]);
        assert_eq!(plan.steps(), 18);
        assert!(
            Plan::new(
                &sorted,
                PlanOptions {
                    speed: 0.0,
                    ..PlanOptions::default()
                }
            )
            .is_err()
        );
        assert!(
            Plan::new(
                &sorted,
                PlanOptions {
                    multiply: 0,
                    ..PlanOptions::default()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn poisson_arrivals() {
        let mut events = Vec::new();
        for (i, u) in ["a", "b", "c"].iter().enumerate() {
            events.push(ev(i as u64 * 10, u, i as u64 + 1, Dir::C2s, Kind::Req));
        }
        // Round-robin over the users, increasing offsets, bounded by the duration when
        // looping; deterministic per seed.
        let mut a = Arrivals::new(1000.0);
        a.looped = true;
        a.duration_us = Some(100_000);
        let opts = PlanOptions {
            arrivals: Some(a),
            ..PlanOptions::default()
        };
        let p = Plan::new(&events, opts).unwrap();
        assert!((50..=160).contains(&p.copies.len()), "{}", p.copies.len());
        assert!(
            p.copies
                .windows(2)
                .all(|w| w[0].offset_us <= w[1].offset_us)
        );
        assert!(
            p.copies
                .iter()
                .enumerate()
                .all(|(k, c)| c.user == k % 3 && c.copy == (k / 3) as u32)
        );
        assert!(p.copies.iter().all(|c| c.offset_us <= 100_000));
        let again = Plan::new(&events, opts).unwrap();
        let offsets = |p: &Plan| p.copies.iter().map(|c| c.offset_us).collect::<Vec<_>>();
        assert_eq!(offsets(&again), offsets(&p));
        // The mean gap is 1/rate (1 ms) within sampling error.
        let mean = p.copies.last().unwrap().offset_us as f64 / p.copies.len() as f64;
        assert!((700.0..1400.0).contains(&mean), "{mean}");
        let once = PlanOptions {
            arrivals: Some(Arrivals::new(10.0)),
            ..PlanOptions::default()
        };
        assert_eq!(Plan::new(&events, once).unwrap().copies.len(), 3);
        let mut bad = Arrivals::new(10.0);
        bad.looped = true;
        let bad = PlanOptions {
            arrivals: Some(bad),
            ..PlanOptions::default()
        };
        assert!(Plan::new(&events, bad).is_err());
    }
}
