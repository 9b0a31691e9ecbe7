#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! `--time-scale F` end to end: the built-in `claude` profile scaled by 0.01 against a mock
//! scaled by the same factor does the same requests, user for user, in a hundredth of the time;
//! with an unscaled mock the outcomes that race server latency against a client deadline change.

use std::sync::Arc;

use mcpx_scenario::sim::{UserRun, run_user};
use mcpx_scenario::{
    Action, Dist, Done, Failure, MockTarget, Op, OpId, OpKind, Outcome, Plan, Scenario, ServerCaps,
    Shard, StartKind, VirtualUser, prefill,
};

const F: f64 = 0.01;
const USERS: u64 = 2000;

fn plan(scale: Option<f64>) -> Arc<Plan> {
    let mut s = Scenario::builtin("claude").unwrap();
    if let Some(f) = scale {
        s.scale_time(f).unwrap();
    }
    let mock = MockTarget::new(s.target.as_ref().unwrap());
    Arc::new(Plan::new(s, &mock.tool_infos()).unwrap())
}

fn mock(scale: Option<f64>) -> MockTarget {
    let s = Scenario::builtin("claude").unwrap();
    let m = MockTarget::new(s.target.as_ref().unwrap());
    match scale {
        Some(f) => m.with_time_scale(f).unwrap(),
        None => m,
    }
}

fn run(plan: &Arc<Plan>, mock: &MockTarget, k: u64) -> UserRun {
    let mut u = VirtualUser::new(plan, k, 0);
    u.record_details(true);
    run_user(plan, mock, u)
}

/// `scaled` ≈ `F` × `base`: within 1 % plus 1 µs per request (each latency and think time is
/// rounded to the microsecond on its own).
fn close(base: u64, scaled: u64, requests: u64, what: &str) {
    let want = base as f64 * F;
    let tol = 0.01 * want + requests as f64 + 2.0;
    assert!(
        (scaled as f64 - want).abs() <= tol,
        "{what}: {scaled} µs, want {want:.0} ± {tol:.0}"
    );
}

#[test]
fn same_requests_in_a_hundredth_of_the_time() {
    let (p0, m0) = (plan(None), mock(None));
    let (p1, m1) = (plan(Some(F)), mock(Some(F)));
    let (mut conv0, mut conv1, mut life0, mut life1) = (0u64, 0u64, 0u64, 0u64);
    let mut per_family = [0u64; 3];
    for k in 0..USERS {
        let (a, b) = (run(&p0, &m0, k), run(&p1, &m1, k));
        let what = format!("user {k} (family {})", a.family);
        assert!(!a.truncated && !b.truncated, "{what}");
        assert_eq!(a.family, b.family, "{what}");
        per_family[a.family] += 1;
        // Counts do not depend on time when both sides are scaled.
        assert_eq!(a.requests, b.requests, "{what}");
        assert_eq!(a.probes, b.probes, "{what}");
        assert_eq!(a.timeouts, b.timeouts, "{what}");
        assert_eq!(a.cancels, b.cancels, "{what}");
        assert_eq!(a.args_bytes, b.args_bytes, "{what}");
        assert_eq!(a.result_bytes, b.result_bytes, "{what}");
        assert_eq!(a.stats.turns, b.stats.turns, "{what}");
        assert_eq!(a.stats.steps, b.stats.steps, "{what}");
        assert_eq!(a.stats.fan_outs, b.stats.fan_outs, "{what}");
        assert_eq!(a.stats.calls, b.stats.calls, "{what}");
        assert_eq!(a.stats.sessions, b.stats.sessions, "{what}");
        // Durations are a hundredth.
        let n = a.requests.total() + a.probes;
        let c0 = a.stats.conversation_end_us.unwrap() - a.start_us;
        let c1 = b.stats.conversation_end_us.unwrap() - b.start_us;
        close(c0, c1, n, &format!("{what} conversation"));
        close(
            a.end_us - a.start_us,
            b.end_us - b.start_us,
            n,
            &format!("{what} lifetime"),
        );
        close(
            a.stream_held_us,
            b.stream_held_us,
            n,
            &format!("{what} streams"),
        );
        assert_eq!(a.stats.thinks.len(), b.stats.thinks.len(), "{what}");
        for ((ka, ta), (kb, tb)) in a.stats.thinks.iter().zip(&b.stats.thinks) {
            assert_eq!(ka, kb, "{what}");
            close(*ta, *tb, 0, &format!("{what} think"));
        }
        conv0 += c0;
        conv1 += c1;
        life0 += a.end_us - a.start_us;
        life1 += b.end_us - b.start_us;
    }
    assert!(per_family.iter().all(|n| *n > 100), "{per_family:?}");
    let (rc, rl) = (conv1 as f64 / conv0 as f64, life1 as f64 / life0 as f64);
    println!("conversation ratio {rc:.6}, lifetime ratio {rl:.6}");
    assert!((rc / F - 1.0).abs() < 0.001, "{rc}");
    assert!((rl / F - 1.0).abs() < 0.001, "{rl}");
}

#[test]
fn an_unscaled_mock_misses_the_scaled_deadlines() {
    // Scaled clients (claude.ai's 60 s deadline is now 0.6 s) against a mock at full speed:
    // web and long calls (1.6 s and 25 s medians) now time out, so the outcomes differ. The
    // mock must be scaled by the same factor for identical counts.
    let (p1, m0, m1) = (plan(Some(F)), mock(None), mock(Some(F)));
    let (mut slow, mut fast, mut differ) = (0, 0, 0);
    for k in 0..500 {
        let (a, b) = (run(&p1, &m0, k), run(&p1, &m1, k));
        slow += a.timeouts;
        fast += b.timeouts;
        differ += u64::from(a.requests != b.requests || a.timeouts != b.timeouts);
    }
    println!("timeouts: unscaled mock {slow}, scaled mock {fast}; users that differ {differ}");
    assert!(slow > 5 * fast.max(1), "{slow} vs {fast}");
    assert!(differ > 10, "{differ}");
}

#[test]
fn prefill_shrinks_with_the_lifetimes() {
    // N₀ = users_per_s × weight × E[lifetime]: ~742 at 1 user/s, ~74 at a tenth.
    let base = Scenario::builtin("claude").unwrap();
    let mut tenth = base.clone();
    tenth.scale_time(0.1).unwrap();
    let (p0, p1) = (prefill(&base, Shard::all()), prefill(&tenth, Shard::all()));
    assert!((700..=790).contains(&p0.len()), "{}", p0.len());
    assert!((64..=84).contains(&p1.len()), "{}", p1.len());
    // Started over the scaled ramp (6 s), with remaining lifetimes a tenth as long.
    assert!(p1.iter().all(|s| s.at_us < 6_000_000));
    let remaining = |v: &[mcpx_scenario::Start]| {
        let r: Vec<f64> = v
            .iter()
            .map(|s| match s.kind {
                StartKind::Prefilled { remaining_us, .. } => remaining_us as f64,
                _ => panic!("not prefilled: {s:?}"),
            })
            .collect();
        r.iter().sum::<f64>() / r.len() as f64
    };
    let ratio = remaining(&p1) / remaining(&p0);
    assert!((0.07..0.13).contains(&ratio), "{ratio}");
}

#[test]
fn mock_time_scale() {
    let s = Scenario::builtin("claude").unwrap();
    let spec = s.target.as_ref().unwrap();
    let m = MockTarget::new(spec).with_time_scale(0.5).unwrap();
    assert_eq!(m.spec().progress_interval_us, 2_500_000);
    assert_eq!(m.spec().session_idle_ttl_us, 300_000_000);
    assert_eq!(m.spec().tools, spec.tools);
    for f in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        assert!(MockTarget::new(spec).with_time_scale(f).is_err(), "{f}");
    }
    // Same draws, half the latency, the same number of progress notifications.
    let full = MockTarget::new(spec);
    for tool in 0..full.tools().len() {
        for n in 0..50 {
            let mut r0 = mcpx_scenario::Rng::derive(1, mcpx_scenario::DOMAIN_TARGET, n);
            let mut r1 = r0.clone();
            let (a, b) = (full.draw_call(tool, &mut r0), m.draw_call(tool, &mut r1));
            assert_eq!(a.reply, b.reply);
            assert!(b.latency_us.abs_diff(a.latency_us / 2) <= 1, "{a:?} {b:?}");
            // The count can differ only when the latency sits on a period boundary.
            assert!(a.progress_count().abs_diff(b.progress_count()) <= 1);
        }
    }
}

/// Answers op number `n` of its method after a delay (µs, unscaled), or never (empty).
type Script = dyn Fn(&Op, usize) -> Vec<(u64, Outcome)>;

/// Runs user 1 of `family` under `scale` against `script` (its delays scaled too); the
/// (time, method) of every request, until the user finishes or `max` requests.
fn scripted(
    s: &Scenario,
    family: usize,
    scale: f64,
    script: &Script,
    max: usize,
) -> Vec<(u64, &'static str)> {
    let mut s = s.clone();
    s.scale_time(scale).unwrap();
    let plan = Arc::new(Plan::new(s, &mock(None).tool_infos()).unwrap());
    let mut user = VirtualUser::with_family(&plan, 1, family, 0);
    let mut now = 0u64;
    let mut pending: Vec<(u64, OpId, Outcome)> = Vec::new();
    let mut log = Vec::new();
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    loop {
        while let Some(a) = user.poll(now) {
            match a {
                Action::Start(op) => {
                    let m = op.kind.method();
                    log.push((now, m));
                    let n = match counts.iter_mut().find(|(k, _)| *k == m) {
                        Some((_, c)) => {
                            *c += 1;
                            *c
                        }
                        None => {
                            counts.push((m, 1));
                            1
                        }
                    };
                    for (d, o) in script(&op, n) {
                        let d = (d as f64 * scale).round() as u64;
                        pending.push((now + d, op.id, o));
                    }
                }
                Action::Cancel { op, .. } => pending.retain(|p| p.1 != op),
                Action::Finished => return log,
                _ => {}
            }
        }
        if log.len() >= max {
            return log;
        }
        pending.sort_by_key(|p| std::cmp::Reverse(p.0));
        let next = [pending.last().map(|p| p.0), user.next_wakeup()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { return log };
        now = now.max(t);
        if pending.last().is_some_and(|p| p.0 <= now) {
            let (_, id, o) = pending.pop().unwrap();
            user.on_outcome(id, o, now);
        }
    }
}

fn ok(op: &Op, modern: bool) -> Outcome {
    match &op.kind {
        OpKind::Discover => Outcome::Done(Done::discover(modern, ServerCaps::all())),
        OpKind::Initialize { .. } => Outcome::Done(Done::initialize(ServerCaps::all())),
        OpKind::OpenStream { .. } => Outcome::StreamOpen,
        OpKind::CallTool { .. } => Outcome::Done(Done::tool(false)),
        _ => Outcome::Done(Done::ok()),
    }
}

/// The same requests, at `F` times the unscaled times (within a few µs of rounding).
fn same_script_scaled(what: &str, s: &Scenario, family: usize, script: &Script) -> usize {
    let a = scripted(s, family, 1.0, script, 2000);
    let b = scripted(s, family, F, script, 2000);
    let ma: Vec<&str> = a.iter().map(|x| x.1).collect();
    let mb: Vec<&str> = b.iter().map(|x| x.1).collect();
    assert_eq!(ma, mb, "{what}");
    for (i, ((ta, _), (tb, _))) in a.iter().zip(&b).enumerate() {
        let want = *ta as f64 * F;
        assert!(
            (*tb as f64 - want).abs() <= 2.0 + 1e-6 * want + i as f64,
            "{what}: request {i} at {tb} µs, want {want}"
        );
    }
    a.len()
}

#[test]
fn built_in_client_waits_are_scaled() {
    let base = Scenario::builtin("claude").unwrap();
    let cc = 1;
    let mut s = base.clone();
    s.clients[cc].lifetime = Some(Dist::Constant(600e6));
    s.clients[cc].calls_tools_p = 1.0;
    s.clients[cc].modern_p = 0.0;

    // Streams closed by the server: two healthy ones (70 s, the series restarts), then closed
    // at once (reconnect backoff 1 s x 2^n, 5 attempts); calls take 2 s.
    let script = |op: &Op, n: usize| match op.kind {
        OpKind::OpenStream { .. } => {
            let life = if n <= 2 { 70_000_000 } else { 1000 };
            vec![(0, Outcome::StreamOpen), (life, Outcome::Done(Done::ok()))]
        }
        OpKind::CallTool { .. } => vec![(2_000_000, ok(op, false))],
        _ => vec![(0, ok(op, false))],
    };
    let n = same_script_scaled("reconnects", &s, cc, &script);
    assert!(n > 10, "{n}");

    // get_reconnect_storm (200 ms reopen).
    let mut q = s.clone();
    q.clients[cc].lifetime = Some(Dist::Constant(10e6));
    q.scenarios.get_reconnect_storm = true;
    let closing = |op: &Op, _: usize| match op.kind {
        OpKind::OpenStream { .. } => {
            vec![(0, Outcome::StreamOpen), (1000, Outcome::Done(Done::ok()))]
        }
        _ => vec![(0, ok(op, false))],
    };
    let n = same_script_scaled("get_reconnect_storm", &q, cc, &closing);
    assert!(n > 40, "{n}");

    // dead_session_get (55 ms period) until a 405.
    let mut q = s.clone();
    q.scenarios.dead_session_get = true;
    let dead = |op: &Op, n: usize| match op.kind {
        OpKind::OpenStream { .. } => {
            let status = if n < 20 { 404 } else { 405 };
            vec![(0, Outcome::Failed(Failure::Http(status)))]
        }
        _ => vec![(0, ok(op, false))],
    };
    same_script_scaled("dead_session_get", &q, cc, &dead);

    // listen_storm (1 s cycles) of a modern Claude Code.
    let mut q = s.clone();
    q.clients[cc].lifetime = Some(Dist::Constant(20e6));
    q.clients[cc].modern_p = 1.0;
    q.scenarios.listen_storm = true;
    let modern = |op: &Op, _: usize| match op.kind {
        OpKind::OpenStream { .. } => {
            vec![(0, Outcome::StreamOpen), (10, Outcome::Done(Done::ok()))]
        }
        _ => vec![(0, ok(op, true))],
    };
    let n = same_script_scaled("listen_storm", &q, cc, &modern);
    assert!(n > 50, "{n}");

    // claude.ai: the Connect sequence (2 s gap), per-call sessions, probes, 60 s deadline
    // against calls of 45 s and 75 s.
    let mut q = base.clone();
    q.clients[0].probes.connect_verify_p = 1.0;
    q.clients[0].calls_tools_p = 1.0;
    let slow = |op: &Op, n: usize| match op.kind {
        OpKind::CallTool { .. } => {
            let d = if n.is_multiple_of(2) {
                75_000_000
            } else {
                45_000_000
            };
            vec![(d, ok(op, false))]
        }
        _ => vec![(0, ok(op, false))],
    };
    same_script_scaled("claude_ai", &q, 0, &slow);
}
