//! A deterministic discrete-event simulator: virtual users against a [`MockTarget`] in simulated
//! time with zero network time. It is the oracle test's engine and `mcpx load --dry-run`'s
//! estimator (requests per user, method mix, sessions, streams held at a given arrival rate).
//!
//! [`estimate`] turns a simulation into steady-state rates at the plan's arrival rate.
//!
//! `--time-scale F`: simulate a [`crate::Plan`] of a scenario scaled with
//! [`crate::Scenario::scale_time`] against a mock scaled with
//! [`MockTarget::with_time_scale`] by the same factor: every user sends the same requests as
//! unscaled, in `F` times the time. With an unscaled mock, calls that race a client deadline
//! (long calls against claude.ai's 60 s) end differently.
//!
//! Users never interact through the mock (its per-call draws come from a per-user stream), so
//! each user is simulated to completion on its own: memory is one user at a time.

use crate::limits::MAX_EVENTS_PER_USER;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::plan::Plan;
use crate::rng::{DOMAIN_TARGET, Rng};
use crate::target::{CallReply, GetStreamPolicy, MockTarget};
use crate::user::{
    Action, CancelReason, Done, Failure, OpId, OpKind, Outcome, UserStats, VirtualUser,
};

/// Methods counted by the simulator, in [`MethodCounts`] order.
pub const METHODS: [&str; 11] = [
    "tools/call",
    "initialize",
    "notifications/initialized",
    "tools/list",
    "resources/list",
    "prompts/list",
    "server/discover",
    "DELETE",
    "GET",
    "notifications/cancelled",
    "response",
];

/// Requests per method, indexed like [`METHODS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs, reason = "one counter per METHODS entry")]
pub struct MethodCounts(pub [u64; METHODS.len()]);

impl MethodCounts {
    /// The count of `method` (as in [`METHODS`]); 0 for others.
    #[must_use]
    pub fn get(&self, method: &str) -> u64 {
        METHODS
            .iter()
            .position(|m| *m == method)
            .map_or(0, |i| self.0[i])
    }

    /// All requests.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn add(&mut self, method: &str) {
        if let Some(i) = METHODS.iter().position(|m| *m == method) {
            self.0[i] += 1;
        }
    }

    fn merge(&mut self, o: &Self) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
}

/// What one simulated user did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UserRun {
    /// Family index.
    pub family: usize,
    /// The user's own counters.
    pub stats: UserStats,
    /// Requests sent (background probes excluded).
    pub requests: MethodCounts,
    /// Unauthenticated background `initialize` probes.
    pub probes: u64,
    /// Start and end (Finished) times, µs.
    pub start_us: u64,
    /// End time, µs.
    pub end_us: u64,
    /// Total time streams were held open, µs.
    pub stream_held_us: u64,
    /// Serialised argument sizes of the calls.
    pub args_bytes: Vec<u32>,
    /// Result text sizes of the calls answered with a result (`structuredContent` doubles the
    /// bytes on the wire for tools with an `outputSchema`).
    pub result_bytes: Vec<u64>,
    /// Calls abandoned on a client deadline.
    pub timeouts: u64,
    /// Calls the user cancelled.
    pub cancels: u64,
    /// `true` if [`MAX_EVENTS_PER_USER`] was hit.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Done { is_error: bool, modern: bool },
    Failed(i32),
    Progress,
    StreamOpen,
}

/// Runs one user to completion against `mock` (zero network time).
pub fn run_user(plan: &Plan, mock: &MockTarget, mut user: VirtualUser) -> UserRun {
    let start = user.stats().start_us;
    let mut rng = Rng::derive(plan.scenario().profile.seed, DOMAIN_TARGET, user.index());
    let mut run = UserRun {
        family: user.family_index(),
        start_us: start,
        ..UserRun::default()
    };
    let mut now = start;
    let mut heap: BinaryHeap<Reverse<(u64, u64, OpId, Ev)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut cancelled: Vec<OpId> = Vec::new();
    let mut streams: Vec<(OpId, u64)> = Vec::new();
    let caps = mock.caps();
    let mut push =
        |heap: &mut BinaryHeap<Reverse<(u64, u64, OpId, Ev)>>, t: u64, op: OpId, ev: Ev| {
            seq += 1;
            heap.push(Reverse((t, seq, op, ev)));
        };
    for _ in 0..MAX_EVENTS_PER_USER {
        while let Some(action) = user.poll(now) {
            match action {
                Action::Start(op) => {
                    if let OpKind::Initialize { .. } = op.kind
                        && !op.authenticated
                    {
                        run.probes += 1;
                        push(
                            &mut heap,
                            now,
                            op.id,
                            Ev::Done {
                                is_error: false,
                                modern: false,
                            },
                        );
                        continue;
                    }
                    run.requests.add(op.kind.method());
                    match &op.kind {
                        OpKind::CallTool {
                            tool, arguments, ..
                        } => {
                            run.args_bytes
                                .push(u32::try_from(arguments.len()).unwrap_or(u32::MAX));
                            let idx = plan
                                .tools()
                                .get(*tool)
                                .map_or(usize::MAX, |t| t.catalog_index);
                            let b = mock.draw_call(idx, &mut rng);
                            for k in 1..=b.progress_count() {
                                let p = b.progress_interval_us.unwrap_or(0).saturating_mul(k);
                                push(&mut heap, now.saturating_add(p), op.id, Ev::Progress);
                            }
                            let ev = match b.reply {
                                CallReply::Result { is_error, .. } => Ev::Done {
                                    is_error,
                                    modern: false,
                                },
                                CallReply::Error(code) => Ev::Failed(code),
                            };
                            if let CallReply::Result { text_bytes, .. } = b.reply {
                                run.result_bytes.push(text_bytes);
                            }
                            push(&mut heap, now.saturating_add(b.latency_us), op.id, ev);
                        }
                        OpKind::OpenStream { .. } => {
                            if mock.get_stream_policy() == GetStreamPolicy::Accept {
                                streams.push((op.id, now));
                                push(&mut heap, now, op.id, Ev::StreamOpen);
                            } else {
                                push(&mut heap, now, op.id, Ev::Failed(405));
                            }
                        }
                        OpKind::Discover => push(
                            &mut heap,
                            now,
                            op.id,
                            Ev::Done {
                                is_error: false,
                                modern: mock.is_modern(),
                            },
                        ),
                        _ => push(
                            &mut heap,
                            now,
                            op.id,
                            Ev::Done {
                                is_error: false,
                                modern: false,
                            },
                        ),
                    }
                }
                Action::Cancel { op, reason } => {
                    cancelled.push(op);
                    match reason {
                        CancelReason::Timeout(_) => run.timeouts += 1,
                        CancelReason::User => run.cancels += 1,
                        CancelReason::Close => {}
                    }
                    if let Some(i) = streams.iter().position(|(s, _)| *s == op) {
                        let (_, t0) = streams.swap_remove(i);
                        run.stream_held_us += now.saturating_sub(t0);
                    }
                }
                Action::Finished => {
                    run.end_us = now;
                    run.stats = user.stats().clone();
                    return run;
                }
            }
        }
        let next_ev = heap.peek().map(|Reverse((t, ..))| *t);
        let next = match (next_ev, user.next_wakeup()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        now = now.max(next);
        if next_ev.is_some_and(|t| t <= now)
            && let Some(Reverse((_, _, op, ev))) = heap.pop()
        {
            if cancelled.contains(&op) {
                continue;
            }
            let outcome = match ev {
                Ev::Done { is_error, modern } => {
                    let d = if modern {
                        Done::discover(true, caps)
                    } else if is_error {
                        Done::tool(true)
                    } else {
                        Done::initialize(caps)
                    };
                    Outcome::Done(d)
                }
                Ev::Failed(405) => Outcome::Failed(Failure::Http(405)),
                Ev::Failed(code) => Outcome::Failed(Failure::JsonRpc(code)),
                Ev::Progress => Outcome::Progress,
                Ev::StreamOpen => Outcome::StreamOpen,
            };
            user.on_outcome(op, outcome, now);
        }
    }
    run.truncated = true;
    run.end_us = now;
    run.stats = user.stats().clone();
    run
}

/// Totals over many simulated users of one family (or all).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Users simulated.
    pub users: u64,
    /// Calls per user.
    pub calls: Vec<u32>,
    /// Requests per user (probes excluded).
    pub requests: Vec<u32>,
    /// Requests by method.
    pub methods: MethodCounts,
    /// Sessions per user.
    pub sessions: Vec<u32>,
    /// Conversation length per user, µs.
    pub conversation_us: Vec<u64>,
    /// Lifetime (start to Finished) per user, µs.
    pub lifetime_us: Vec<u64>,
    /// Stream hold time, summed, µs.
    pub stream_held_us: u64,
    /// Fan-out histogram (index = B).
    pub fan_out: Vec<u64>,
    /// All argument sizes.
    pub args_bytes: Vec<u32>,
    /// All result text sizes.
    pub result_bytes: Vec<u64>,
    /// Think samples by kind (first_call, between_steps, between_turns), µs.
    pub thinks: [Vec<u64>; 3],
    /// Deadline timeouts.
    pub timeouts: u64,
    /// Background probes.
    pub probes: u64,
    /// Users cut at [`MAX_EVENTS_PER_USER`].
    pub truncated: u64,
}

impl Summary {
    /// Adds one user.
    pub fn add(&mut self, r: &UserRun) {
        self.users += 1;
        self.calls.push(r.stats.calls);
        self.requests
            .push(u32::try_from(r.requests.total()).unwrap_or(u32::MAX));
        self.methods.merge(&r.requests);
        self.sessions.push(r.stats.sessions);
        if let Some(end) = r.stats.conversation_end_us {
            self.conversation_us.push(end.saturating_sub(r.start_us));
        }
        self.lifetime_us.push(r.end_us.saturating_sub(r.start_us));
        self.stream_held_us += r.stream_held_us;
        for b in &r.stats.fan_outs {
            let b = usize::from(*b);
            if self.fan_out.len() <= b {
                self.fan_out.resize(b + 1, 0);
            }
            self.fan_out[b] += 1;
        }
        self.args_bytes.extend_from_slice(&r.args_bytes);
        self.result_bytes.extend_from_slice(&r.result_bytes);
        for (k, us) in &r.stats.thinks {
            let i = match k {
                crate::user::ThinkKind::FirstCall => 0,
                crate::user::ThinkKind::BetweenSteps => 1,
                crate::user::ThinkKind::BetweenTurns => 2,
            };
            self.thinks[i].push(*us);
        }
        self.timeouts += r.timeouts;
        self.probes += r.probes;
        self.truncated += u64::from(r.truncated);
    }

    /// Mean of a per-user series.
    #[must_use]
    pub fn mean<T: Copy + Into<f64>>(v: &[T]) -> f64 {
        if v.is_empty() {
            0.0
        } else {
            v.iter().map(|x| (*x).into()).sum::<f64>() / v.len() as f64
        }
    }

    /// The `q` quantile (0..=1, nearest rank) of a series.
    #[must_use]
    pub fn quantile<T: Copy + PartialOrd + Into<f64>>(v: &[T], q: f64) -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let mut s: Vec<f64> = v.iter().map(|x| (*x).into()).collect();
        s.sort_by(f64::total_cmp);
        let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
        s[i]
    }

    /// Mean requests per user.
    #[must_use]
    pub fn requests_per_user(&self) -> f64 {
        Self::mean(&self.requests)
    }

    /// Share of `method` in all requests.
    #[must_use]
    pub fn share(&self, method: &str) -> f64 {
        let t = self.methods.total();
        if t == 0 {
            0.0
        } else {
            self.methods.get(method) as f64 / t as f64
        }
    }
}

/// Simulates `users` users of family `family` (all families by weight when `None`), indices
/// `first..first + users`, each starting at time 0, against `mock`.
pub fn simulate(
    plan: &Arc<Plan>,
    mock: &MockTarget,
    family: Option<usize>,
    first: u64,
    users: u64,
    details: bool,
) -> Summary {
    let mut s = Summary::default();
    for k in first..first.saturating_add(users) {
        let mut u = match family {
            Some(f) => VirtualUser::with_family(plan, k, f, 0),
            None => VirtualUser::new(plan, k, 0),
        };
        u.record_details(details);
        s.add(&run_user(plan, mock, u));
    }
    s
}

/// What a run of the plan's `[load]` would ask of the target at steady state (Little's law over
/// simulated users): the `mcpx load --dry-run` figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Estimate {
    /// New users per second (the plan's `users_per_s`).
    pub users_per_s: f64,
    /// HTTP requests per second (probes excluded).
    pub requests_per_s: f64,
    /// `tools/call` per second.
    pub calls_per_s: f64,
    /// New sessions per second.
    pub sessions_per_s: f64,
    /// Streams held open at once.
    pub streams_held: f64,
    /// Users alive at once (start to finish).
    pub concurrent_users: f64,
}

/// Estimates the steady state of the open model at the plan's `users_per_s`, from `users`
/// simulated users (families drawn by weight) against `mock`.
pub fn estimate(plan: &Arc<Plan>, mock: &MockTarget, users: u64) -> Estimate {
    let s = simulate(plan, mock, None, 0, users, false);
    let rate = plan.scenario().load.users_per_s;
    let n = s.users.max(1) as f64;
    Estimate {
        users_per_s: rate,
        requests_per_s: rate * s.methods.total() as f64 / n,
        calls_per_s: rate * s.methods.get("tools/call") as f64 / n,
        sessions_per_s: rate * Summary::mean(&s.sessions),
        streams_held: rate * s.stream_held_us as f64 / 1e6 / n,
        concurrent_users: rate * s.lifetime_us.iter().map(|x| *x as f64 / 1e6).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    #[test]
    fn estimate_at_one_user_per_second() {
        let s = Scenario::builtin("claude").unwrap();
        let mock = MockTarget::new(s.target.as_ref().unwrap()).with_modern(false);
        let plan = Arc::new(Plan::new(s, &mock.tool_infos()).unwrap());
        let e = estimate(&plan, &mock, 3000);
        // PROFILE 2.4 at 1 user/s: ~3.7 sessions/s, ~740 streams; ~17 requests/s on a legacy target.
        assert!((e.sessions_per_s - 3.7).abs() < 0.3, "{e:?}");
        assert!((e.streams_held - 740.0).abs() < 80.0, "{e:?}");
        assert!((e.requests_per_s - 17.0).abs() < 1.5, "{e:?}");
        assert!(e.concurrent_users > e.streams_held);
    }
}
