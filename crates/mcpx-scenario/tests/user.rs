#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Virtual-user behaviours of PROFILE 2.1, each driven by a scripted runner on a simulated clock.

use std::sync::Arc;

use mcpx_scenario::{
    Action, CancelReason, Deadline, Done, Era, Failure, MetaValue, Op, OpId, OpKind, Outcome, Plan,
    Scenario, ServerCaps, ServerRequest, ServerRequestId, ToolInfo, VirtualUser,
};
use serde_json::json;

fn catalog() -> Vec<ToolInfo> {
    [("read_a", true), ("write_b", false), ("read_c", true)]
        .iter()
        .map(|(n, ro)| {
            ToolInfo::from_json(&json!({"name": n, "annotations": {"readOnlyHint": ro},
                "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}))
            .unwrap()
        })
        .collect()
}

const SHAPE: &str = r#"
format = "mcpx-scenario/1"
[session]
user_turns = { dist = "constant", value = 1 }
steps = { dist = "constant", value = STEPS }
fan_out = { dist = "constant", value = FANOUT }
cancel_p = 0.0
[think]
first_call = { dist = "constant", value_ms = 1000 }
between_steps = { dist = "constant", value_ms = 2000 }
between_turns = { dist = "constant", value_ms = 3000 }
"#;

fn plan(steps: u32, fan_out: u32, family: &str) -> Arc<Plan> {
    let text = SHAPE
        .replace("STEPS", &steps.to_string())
        .replace("FANOUT", &fan_out.to_string())
        + family;
    let s = Scenario::parse(&text, "t.toml").unwrap();
    Arc::new(Plan::new(s, &catalog()).unwrap())
}

/// Says when (delay µs) and how an op is answered.
type Responder<'a> = dyn FnMut(&Op, u64) -> Vec<(u64, Outcome)> + 'a;

/// A scripted runner: `respond` says when (delay µs) and how each op is answered (None = never).
struct Run {
    user: VirtualUser,
    now: u64,
    pending: Vec<(u64, OpId, Outcome)>,
    log: Vec<(u64, Action)>,
}

impl Run {
    fn new(user: VirtualUser) -> Self {
        Self {
            user,
            now: 0,
            pending: Vec::new(),
            log: Vec::new(),
        }
    }

    fn run(&mut self, until: u64, respond: &mut Responder<'_>) {
        loop {
            while let Some(a) = self.user.poll(self.now) {
                match &a {
                    Action::Start(op) => {
                        for (d, o) in respond(op, self.now) {
                            self.pending.push((self.now + d, op.id, o));
                        }
                    }
                    Action::Cancel { op, .. } => self.pending.retain(|p| p.1 != *op),
                    Action::Finished => {
                        self.log.push((self.now, a));
                        return;
                    }
                    _ => {}
                }
                self.log.push((self.now, a));
            }
            self.pending.sort_by_key(|p| std::cmp::Reverse(p.0));
            let next = [self.pending.last().map(|p| p.0), self.user.next_wakeup()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => self.now = self.now.max(t),
                _ => return,
            }
            if self.pending.last().is_some_and(|p| p.0 <= self.now) {
                let (_, id, o) = self.pending.pop().unwrap();
                self.user.on_outcome(id, o, self.now);
            }
        }
    }

    fn starts(&self) -> Vec<(u64, Op)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Start(op) => Some((*t, op.clone())),
                _ => None,
            })
            .collect()
    }

    fn methods(&self) -> Vec<&'static str> {
        self.starts().iter().map(|(_, o)| o.kind.method()).collect()
    }
}

fn ok(op: &Op) -> Outcome {
    match &op.kind {
        OpKind::Discover => Outcome::Done(Done::discover(false, ServerCaps::all())),
        OpKind::Initialize { .. } => Outcome::Done(Done::initialize(ServerCaps::all())),
        OpKind::OpenStream { .. } => Outcome::StreamOpen,
        OpKind::CallTool { .. } => Outcome::Done(Done::tool(false)),
        _ => Outcome::Done(Done::ok()),
    }
}

fn answer_all(delay_call: u64) -> impl FnMut(&Op, u64) -> Vec<(u64, Outcome)> {
    move |op, _| {
        let d = if matches!(op.kind, OpKind::CallTool { .. }) {
            delay_call
        } else {
            0
        };
        vec![(d, ok(op))]
    }
}

const CC: &str = r#"
[[clients]]
name = "claude_code"
call_meta = { progressToken = "$id", "claudecode/toolUseId" = "$toolu" }
capabilities = [ { value = { roots = {}, elicitation = {} }, weight = 1.0 } ]
parallel = "read_only"
lifetime = { dist = "constant", value_s = 1 }
[clients.sequence]
on_start = ["handshake", "tools/list", "prompts/list?advertised", "resources/list?advertised", "stream"]
on_exit = ["handshake", "tools/list"]
exit_session_p = 0.0
[clients.stream]
open = true
[clients.timeouts]
tool_idle_ms = 300000
idle_check_ms = 30000
on_timeout = "cancel"
"#;

#[test]
fn claude_code_legacy_process() {
    let p = plan(2, 2, CC);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut answer_all(100_000));
    let m = r.methods();
    assert_eq!(
        &m[..6],
        [
            "initialize",
            "notifications/initialized",
            "tools/list",
            "prompts/list",
            "resources/list",
            "GET"
        ]
    );
    assert_eq!(m.iter().filter(|x| **x == "tools/call").count(), 4);
    assert!(!m.contains(&"DELETE"));
    let starts = r.starts();
    // Every request after initialize runs on session 0, with the protocol header (p = 1).
    assert!(
        starts
            .iter()
            .skip(1)
            .all(|(_, o)| o.session.map(|s| s.0) == Some(0) && o.protocol_header)
    );
    // First call after first_call think (1 s); the next step 2 s after the previous completed.
    let calls: Vec<&(u64, Op)> = starts
        .iter()
        .filter(|(_, o)| o.kind.method() == "tools/call")
        .collect();
    assert_eq!(calls[0].0, 1_000_000);
    for (_, op) in &calls {
        let OpKind::CallTool {
            meta, arguments, ..
        } = &op.kind
        else {
            panic!()
        };
        let get = |k: &str| &meta.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(*get("progressToken"), MetaValue::RequestId);
        let MetaValue::Text(t) = get("claudecode/toolUseId") else {
            panic!()
        };
        assert!(t.starts_with("toolu_01") && t.len() == 30, "{t}");
        assert!(serde_json::from_str::<serde_json::Value>(arguments).unwrap()["q"].is_string());
    }
    // The stream is closed 5 s after the last call completed (lifetime 1 s is shorter).
    let last_done = calls.last().unwrap().0 + 100_000;
    let close = r
        .log
        .iter()
        .find(|(_, a)| {
            matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::Close,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(close.0, last_done + 5_000_000);
    assert!(matches!(r.log.last().unwrap().1, Action::Finished));
    assert!(r.user.stats().conversation_end_us.unwrap() <= close.0);
}

#[test]
fn read_only_rule_groups_calls() {
    let p = plan(30, 5, CC);
    let mut r = Run::new(VirtualUser::new(&p, 3, 0));
    r.run(u64::MAX, &mut answer_all(50_000));
    // Replay the log: concurrent calls are all read-only; a write call runs alone.
    let names = |op: &Op| match &op.kind {
        OpKind::CallTool { name, .. } => Some(name.to_string()),
        _ => None,
    };
    let mut open: Vec<(String, u64)> = Vec::new();
    let mut saw_concurrent = false;
    for (t, a) in &r.log {
        open.retain(|(_, end)| *end > *t);
        if let Action::Start(op) = a
            && let Some(n) = names(op)
        {
            if !open.is_empty() {
                saw_concurrent = true;
                assert!(
                    n.starts_with("read") && open.iter().all(|(o, _)| o.starts_with("read")),
                    "{n} with {open:?}"
                );
            }
            open.push((n, t + 50_000));
        }
    }
    assert!(saw_concurrent);
}

#[test]
fn idle_deadline_is_reset_by_progress() {
    let p = plan(1, 1, CC);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    // The call never answers; progress every 5 s for the first 100 s.
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::CallTool { .. } => (1..=20)
            .map(|k| (k * 5_000_000, Outcome::Progress))
            .collect(),
        _ => vec![(0, ok(op))],
    });
    let call = r
        .starts()
        .into_iter()
        .find(|(_, o)| o.kind.method() == "tools/call")
        .unwrap();
    let (t, a) = r
        .log
        .iter()
        .find(|(_, a)| matches!(a, Action::Cancel { .. }))
        .unwrap();
    assert_eq!(
        *a,
        Action::Cancel {
            op: call.1.id,
            reason: CancelReason::Timeout(Deadline::ToolIdle)
        }
    );
    // Last activity at +100 s, idle 300 s => due +400 s, checked every 30 s => +420 s.
    assert_eq!(*t, call.0 + 420_000_000);
    // Legacy + on_timeout = cancel: notifications/cancelled follows.
    let next = r
        .starts()
        .into_iter()
        .find(|(tt, o)| tt == t && o.kind.method() == "notifications/cancelled");
    assert!(matches!(next.unwrap().1.kind, OpKind::Cancelled { request } if request == call.1.id));
}

const AI: &str = r#"
[[clients]]
name = "claude_ai"
headers = { traceparent = "$traceparent" }
parallel = "all"
protocol_header_p = 0.5
modern_p = 1.0
reprobe_p = 0.0
[clients.sequence]
on_start = ["handshake", "tools/list", "prompts/list", "resources/list", "delete"]
before_call = ["handshake"]
delete_p = 1.0
reuse_session_p = 0.0
[clients.timeouts]
handshake_ms = 10000
tool_call_ms = 60000
on_timeout = "close"
[clients.probes]
unauth_initialize_every = { dist = "constant", value_s = 10 }
connect_verify_p = 1.0
"#;

#[test]
fn claude_ai_connect_verify_fresh_session_per_call_and_close_on_timeout() {
    let p = plan(1, 3, AI);
    let mut r = Run::new(VirtualUser::new(&p, 9, 0));
    // Calls hang past 60 s; everything else answers at once (legacy target: discover fails).
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::CallTool { .. } => Vec::new(),
        OpKind::Discover => vec![(0, Outcome::Failed(Failure::Http(404)))],
        _ => vec![(0, ok(op))],
    });
    let starts = r.starts();
    let m: Vec<&str> = starts.iter().map(|(_, o)| o.kind.method()).collect();
    assert_eq!(
        &m[..8],
        [
            "initialize",
            "initialize",
            "initialize",
            "tools/list",
            "notifications/initialized",
            "prompts/list",
            "resources/list",
            "DELETE"
        ]
    );
    let OpKind::Initialize { client_info, .. } = &starts[0].1.kind else {
        panic!()
    };
    assert_eq!(client_info.name, "Anthropic");
    assert_eq!(starts[1].0, 2_000_000);
    // Then on_start: discover (probing), fallback to initialize.
    assert_eq!(
        &m[8..11],
        ["server/discover", "initialize", "notifications/initialized"]
    );
    // Three calls, each on its own fresh session.
    let calls: Vec<&(u64, Op)> = starts
        .iter()
        .filter(|(_, o)| o.kind.method() == "tools/call")
        .collect();
    assert_eq!(calls.len(), 3);
    let sessions: std::collections::HashSet<_> = calls.iter().map(|(_, o)| o.session).collect();
    assert_eq!(sessions.len(), 3);
    // Closed at 60 s, no notifications/cancelled.
    let timeouts = r
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::Timeout(Deadline::ToolCall),
                    ..
                }
            )
        })
        .count();
    assert_eq!(timeouts, 3);
    assert!(!m.contains(&"notifications/cancelled"));
    // traceparent on every request, W3C shaped.
    for (_, o) in &starts {
        let (k, v) = &o.headers[0];
        assert_eq!(k, "traceparent");
        assert_eq!(v.len(), 55, "{v}");
    }
    // Background probes: unauthenticated initialize every 10 s while active.
    let probes: Vec<u64> = starts
        .iter()
        .filter(|(_, o)| !o.authenticated)
        .map(|(t, _)| *t)
        .collect();
    assert!(
        probes.len() >= 6 && probes[0] == 10_000_000 && probes[1] == 20_000_000,
        "{probes:?}"
    );
    let end = r.user.stats().conversation_end_us.unwrap();
    assert!(probes.iter().all(|t| *t <= end));
}

#[test]
fn modern_user_is_sessionless() {
    let p = plan(
        2,
        1,
        &AI.replace("connect_verify_p = 1.0", "connect_verify_p = 0.0"),
    );
    let mut r = Run::new(VirtualUser::new(&p, 4, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::Discover => vec![(0, Outcome::Done(Done::discover(true, ServerCaps::all())))],
        _ => vec![(1000, ok(op))],
    });
    let starts: Vec<(u64, Op)> = r
        .starts()
        .into_iter()
        .filter(|(_, o)| o.authenticated)
        .collect();
    let m: Vec<&str> = starts.iter().map(|(_, o)| o.kind.method()).collect();
    assert_eq!(
        m,
        [
            "server/discover",
            "tools/list",
            "prompts/list",
            "resources/list",
            "tools/call",
            "tools/call"
        ]
    );
    assert!(r.user.is_modern());
    assert!(
        starts[1..]
            .iter()
            .all(|(_, o)| o.era == Era::Modern && o.session.is_none() && o.protocol_header)
    );
}

#[test]
fn answers_to_server_requests() {
    let p = plan(1, 1, CC);
    let mut r = Run::new(VirtualUser::new(&p, 2, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::CallTool { .. } => vec![
            (10, Outcome::ServerRequest(ServerRequestId(1), ServerRequest::RootsList)),
            (20, Outcome::ServerRequest(ServerRequestId(2), ServerRequest::Sampling)),
            (
                30,
                Outcome::ServerRequest(
                    ServerRequestId(3),
                    ServerRequest::Elicitation {
                        requested_schema: json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
                    },
                ),
            ),
            (400_000_000, Outcome::Done(Done::tool(false))),
        ],
        _ => vec![(0, ok(op))],
    });
    let answers: Vec<(u64, mcpx_scenario::ServerRequestId, mcpx_scenario::Answer)> = r
        .starts()
        .into_iter()
        .filter_map(|(t, o)| match o.kind {
            OpKind::Answer { request, answer } => Some((t, request, answer)),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 3);
    let roots = &answers[0];
    assert_eq!(roots.1, ServerRequestId(1));
    let mcpx_scenario::Answer::Roots(v) = &roots.2 else {
        panic!()
    };
    assert_eq!(v["roots"][0]["uri"], "file:///home/user/projects/project-2");
    assert_eq!(answers[1].2, mcpx_scenario::Answer::MethodNotFound);
    // The elicitation is answered after a person's delay, LN(8 s, 0.8) in [1 s, 300 s].
    let e = &answers[2];
    assert_eq!(e.1, ServerRequestId(3));
    let call_start = r
        .starts()
        .into_iter()
        .find(|(_, o)| o.kind.method() == "tools/call")
        .unwrap()
        .0;
    let delay = e.0 - (call_start + 30);
    assert!((1_000_000..=300_000_000).contains(&delay), "{delay}");
}

#[test]
fn stream_policies() {
    let p = plan(0, 1, CC);
    // 405: no stream, no retry.
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } => vec![(0, Outcome::Failed(Failure::Http(405)))],
        _ => vec![(0, ok(op))],
    });
    assert_eq!(r.methods().iter().filter(|m| **m == "GET").count(), 1);
    // Server closes every stream after 1 ms: 5 reconnects from 1 s, doubling.
    let long = plan(0, 1, &CC.replace("value_s = 1 }", "value_s = 100 }"));
    let mut r = Run::new(VirtualUser::new(&long, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } => {
            vec![(0, Outcome::StreamOpen), (1000, Outcome::Done(Done::ok()))]
        }
        _ => vec![(0, ok(op))],
    });
    let gets: Vec<u64> = r
        .starts()
        .into_iter()
        .filter(|(_, o)| o.kind.method() == "GET")
        .map(|(t, _)| t)
        .collect();
    let gaps: Vec<u64> = gets.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        [1_001_000, 2_001_000, 4_001_000, 8_001_000, 16_001_000]
    );
    // 404: a new handshake (new session), then the stream again.
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    let mut first = true;
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } if first => {
            first = false;
            vec![(0, Outcome::Failed(Failure::Http(404)))]
        }
        _ => vec![(0, ok(op))],
    });
    let m = r.methods();
    let i = m.iter().position(|x| *x == "GET").unwrap();
    assert_eq!(
        &m[i..i + 4],
        ["GET", "initialize", "notifications/initialized", "GET"]
    );
    let last_get = r
        .starts()
        .into_iter()
        .rfind(|(_, o)| o.kind.method() == "GET")
        .unwrap();
    assert_eq!(last_get.1.session.map(|s| s.0), Some(1));
}

#[test]
fn session_driver_runs_injected_calls() {
    let p = plan(0, 1, CC);
    let mut u = VirtualUser::session_driver(&p, 0, 0, 0);
    let mut started = Vec::new();
    while let Some(a) = u.poll(0) {
        if let Action::Start(op) = a {
            let o = ok(&op);
            started.push(op.kind.method());
            u.on_outcome(op.id, o, 0);
        }
    }
    assert_eq!(started.last(), Some(&"GET"));
    assert_eq!(u.next_wakeup(), None);
    u.inject_call(5);
    u.inject_call(7);
    // Taken up later than they arrived (the user task was busy): each call's latency still
    // counts from its arrival.
    let calls: Vec<Action> = std::iter::from_fn(|| u.poll(9)).collect();
    let intended: Vec<u64> = calls
        .iter()
        .filter_map(|a| match a {
            Action::Start(op) if op.kind.method() == "tools/call" => Some(op.intended_us),
            _ => None,
        })
        .collect();
    assert_eq!(intended, [5, 7]);
    u.shutdown(10);
    let rest: Vec<Action> = std::iter::from_fn(|| u.poll(10)).collect();
    assert!(matches!(rest.last(), Some(Action::Finished)));
    assert!(
        rest.iter()
            .filter(|a| matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::Close,
                    ..
                }
            ))
            .count()
            >= 3
    );
}

#[test]
fn opt_in_quirks() {
    let quirks = "\n[scenarios]\nget_reconnect_storm = true\ncc_request_cap_ms = 60000\naccept_json_only_p = 1.0\nheader_version_mismatch_p = 1.0\n";
    let p = plan(
        1,
        1,
        &(CC.replace("value_s = 1 }", "value_s = 10 }") + quirks),
    );
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    assert_eq!(r.user.accept(), "application/json");
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } => {
            vec![(0, Outcome::StreamOpen), (1000, Outcome::Done(Done::ok()))]
        }
        OpKind::CallTool { .. } => Vec::new(),
        _ => vec![(0, ok(op))],
    });
    // The old 60 s cap of Claude Code's calls.
    assert!(r.log.iter().any(|(_, a)| matches!(
        a,
        Action::Cancel {
            reason: CancelReason::Timeout(Deadline::ToolCall),
            ..
        }
    )));
    // A closed GET is reopened at once, again and again, for the whole lifetime.
    let gets = r.methods().iter().filter(|m| **m == "GET").count();
    assert!(gets > 100, "{gets}");
    assert!(
        r.starts()
            .iter()
            .filter(|(_, o)| o.protocol_header)
            .all(|(_, o)| o.version_mismatch)
    );
}

#[test]
fn users_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VirtualUser>();
    assert_send_sync::<Plan>();
    assert_send_sync::<mcpx_scenario::MockTarget>();
    assert_send_sync::<mcpx_scenario::Arrivals>();
}

#[test]
fn user_cancels_notify_legacy_only() {
    let fam = CC.replace(
        "lifetime = { dist = \"constant\", value_s = 1 }",
        "lifetime = { dist = \"constant\", value_s = 1 }\nmodern_p = 0.0",
    );
    let text = SHAPE.replace("STEPS", "1").replace("FANOUT", "1").replace(
        "cancel_p = 0.0",
        "cancel_p = 1.0\ncancel_after = { dist = \"constant\", value_ms = 1500 }",
    ) + &fam;
    let p = Arc::new(Plan::new(Scenario::parse(&text, "t.toml").unwrap(), &catalog()).unwrap());
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::CallTool { .. } => Vec::new(),
        _ => vec![(0, ok(op))],
    });
    let call = r
        .starts()
        .into_iter()
        .find(|(_, o)| o.kind.method() == "tools/call")
        .unwrap();
    let (t, _) = r
        .log
        .iter()
        .find(|(_, a)| {
            matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::User,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(*t, call.0 + 1_500_000);
    assert!(r.methods().contains(&"notifications/cancelled"));
}

#[test]
fn handshake_and_connect_deadlines() {
    // claude_ai: an initialize unanswered for 10 s is abandoned and its call never sent.
    let p = plan(
        1,
        1,
        &AI.replace("connect_verify_p = 1.0", "connect_verify_p = 0.0")
            .replace("modern_p = 1.0", "modern_p = 0.0"),
    );
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::Initialize { .. } if op.authenticated => Vec::new(),
        _ => vec![(0, ok(op))],
    });
    let handshake_timeouts: Vec<u64> = r
        .log
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::Timeout(Deadline::Handshake),
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(handshake_timeouts[0], 10_000_000);
    assert!(!r.methods().contains(&"tools/call"));
    assert!(matches!(r.log.last().unwrap().1, Action::Finished));
    // claude_code: the whole start sequence has connect_ms (30 s).
    let cc = CC.replace(
        "on_timeout = \"cancel\"",
        "on_timeout = \"cancel\"\nconnect_ms = 30000",
    );
    let p = plan(1, 1, &cc);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::ToolsList => Vec::new(),
        _ => vec![(0, ok(op))],
    });
    let (t, _) = r
        .log
        .iter()
        .find(|(_, a)| {
            matches!(
                a,
                Action::Cancel {
                    reason: CancelReason::Timeout(Deadline::Connect),
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(*t, 30_000_000);
    assert!(!r.methods().contains(&"GET"));
}

#[test]
fn opt_in_session_quirks() {
    // oauth_connect: claude_ai starts with 401 -> metadata -> register -> token.
    let ai = AI.replace("connect_verify_p = 1.0", "connect_verify_p = 0.0")
        + "\n[scenarios]\noauth_connect = true\n";
    let p = plan(0, 1, &ai);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::Initialize { .. } if !op.authenticated => {
            vec![(0, Outcome::Failed(Failure::Http(401)))]
        }
        _ => vec![(0, ok(op))],
    });
    assert_eq!(
        &r.methods()[..6],
        [
            "initialize",
            "oauth/protected-resource",
            "oauth/authorization-server",
            "oauth/register",
            "oauth/token",
            "server/discover"
        ]
    );
    assert!(!r.starts()[0].1.authenticated);

    // dead_session_get: a 404 on the GET is retried with the same id every 55 ms until 405.
    let cc =
        CC.replace("value_s = 1 }", "value_s = 100 }") + "\n[scenarios]\ndead_session_get = true\n";
    let p = plan(0, 1, &cc);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    let mut gets = 0;
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } => {
            gets += 1;
            let status = if gets < 20 { 404 } else { 405 };
            vec![(0, Outcome::Failed(Failure::Http(status)))]
        }
        _ => vec![(0, ok(op))],
    });
    let g: Vec<(u64, Op)> = r
        .starts()
        .into_iter()
        .filter(|(_, o)| o.kind.method() == "GET")
        .collect();
    assert_eq!(g.len(), 20);
    assert!(g.iter().all(|(_, o)| o.session == g[0].1.session));
    assert_eq!(g[1].0 - g[0].0, 55_000);
    assert!(!r.methods()[6..].contains(&"initialize"));

    // stale_session: a 404 stops the stream; no re-initialisation.
    let cc =
        CC.replace("value_s = 1 }", "value_s = 100 }") + "\n[scenarios]\nstale_session = true\n";
    let p = plan(0, 1, &cc);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::OpenStream { .. } => vec![(0, Outcome::Failed(Failure::Http(404)))],
        _ => vec![(0, ok(op))],
    });
    assert_eq!(
        r.methods().iter().filter(|m| **m == "initialize").count(),
        1
    );
    assert_eq!(r.methods().iter().filter(|m| **m == "GET").count(), 1);

    // listen_storm: a modern Claude Code whose listen ends redoes discover + lists + listen.
    let cc = CC.replace("value_s = 1 }", "value_s = 20 }").replace(
        "parallel = \"read_only\"",
        "parallel = \"read_only\"\nmodern_p = 1.0",
    ) + "\n[scenarios]\nlisten_storm = true\n";
    let p = plan(0, 1, &cc);
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(u64::MAX, &mut |op, _| match op.kind {
        OpKind::Discover => vec![(0, Outcome::Done(Done::discover(true, ServerCaps::all())))],
        OpKind::OpenStream { .. } => {
            vec![(0, Outcome::StreamOpen), (10, Outcome::Done(Done::ok()))]
        }
        _ => vec![(0, ok(op))],
    });
    let n = r.methods().len() as f64;
    // ~5 requests per second over a 20 s life.
    assert!((80.0..=110.0).contains(&n), "{n}");
    assert!(r.starts().iter().all(|(_, o)| o.era == Era::Modern));
}

#[test]
fn expired_session_is_reinitialised() {
    // The server forgets session 0 after the start: the first call gets 404, a new session is
    // opened in the background, and later calls use it.
    let p = plan(3, 1, &CC.replace("value_s = 1 }", "value_s = 100 }"));
    let mut r = Run::new(VirtualUser::new(&p, 1, 0));
    r.run(
        u64::MAX,
        &mut |op, _| match (&op.kind, op.session.map(|s| s.0)) {
            (OpKind::CallTool { .. }, Some(0)) => vec![(0, Outcome::Failed(Failure::Http(404)))],
            _ => vec![(0, ok(op))],
        },
    );
    let calls: Vec<Option<u32>> = r
        .starts()
        .into_iter()
        .filter(|(_, o)| o.kind.method() == "tools/call")
        .map(|(_, o)| o.session.map(|s| s.0))
        .collect();
    assert_eq!(calls, [Some(0), Some(1), Some(1)]);
    assert_eq!(
        r.methods().iter().filter(|m| **m == "initialize").count(),
        2
    );
}

/// One request as a late runner sent it: (intended µs, time it was actually taken up, method).
type Sent = (u64, u64, &'static str);

/// A runner that is `lag` µs late for everything, as a busy task or a coarse timer is: it
/// takes up each answer and each wake-up `lag` after it was due, and reports each answer with
/// its arrival time. The server answers each request `respond(op)` after its *intended* time
/// (all delays longer than `lag`, so after it was sent), so the times a user intends are the
/// same whatever `lag` is, and only the send times move.
fn late_run(
    user: &mut VirtualUser,
    lag: u64,
    respond: &mut dyn FnMut(&Op) -> Vec<(u64, Outcome)>,
) -> Vec<Sent> {
    let mut now = 0u64;
    let mut pending: Vec<(u64, OpId, Outcome)> = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..1_000_000 {
        while let Some(a) = user.poll(now) {
            match a {
                Action::Start(op) => {
                    assert!(op.intended_us <= now, "{op:?} intended after {now}");
                    sent.push((op.intended_us, now, op.kind.method()));
                    for (d, o) in respond(&op) {
                        assert!(d > lag, "a reply before the late send");
                        pending.push((op.intended_us + d, op.id, o));
                    }
                }
                Action::Cancel { op, .. } => pending.retain(|p| p.1 != op),
                Action::Finished => return sent,
                _ => {}
            }
        }
        pending.sort_by_key(|p| std::cmp::Reverse(p.0));
        let Some(next) = [pending.last().map(|p| p.0), user.next_wakeup()]
            .into_iter()
            .flatten()
            .min()
        else {
            return sent;
        };
        now = now.max(next + lag);
        while pending.last().is_some_and(|p| p.0 <= now) {
            let (at, id, o) = pending.pop().unwrap();
            user.on_outcome(id, o, at);
        }
    }
    panic!("the user did not finish");
}

/// The wrk2 rule for requests that follow an answer: intended = that answer's arrival + the
/// drawn wait (think times, the connect probes' gap, a person's answer delay, reconnect
/// backoff, probe intervals, listen-storm cycles), never the moment the runner got round to
/// it. A runner 700 µs late for everything leaves every intended time where an on-time one
/// has it, and each request after a wait shows the whole 700 µs between intended and sent.
#[test]
fn a_late_runner_moves_no_intended_time() {
    let elicit = || {
        Outcome::ServerRequest(
            ServerRequestId(1),
            ServerRequest::Elicitation {
                requested_schema: json!({"type": "object"}),
            },
        )
    };
    let long_cc = CC.replace("value_s = 1 }", "value_s = 30 }");
    let storm = CC.replace("value_s = 1 }", "value_s = 5 }").replace(
        "parallel = \"read_only\"",
        "parallel = \"read_only\"\nmodern_p = 1.0",
    ) + "\n[scenarios]\nlisten_storm = true\n";
    type Respond = Box<dyn Fn(&Op) -> Vec<(u64, Outcome)>>;
    let cases: Vec<(&str, Arc<Plan>, Respond)> = vec![
        // Think times, an elicitation answered after a person's delay, a stream closed by the
        // server and reopened after the backoff.
        (
            "claude_code",
            plan(3, 2, &long_cc),
            Box::new(move |op: &Op| match op.kind {
                OpKind::CallTool { .. } if op.id.0.is_multiple_of(2) => {
                    vec![
                        (1_500, elicit()),
                        (400_000_000, Outcome::Done(Done::tool(false))),
                    ]
                }
                OpKind::CallTool { .. } => vec![(5_000, Outcome::Done(Done::tool(false)))],
                OpKind::OpenStream { .. } => vec![
                    (1_000, Outcome::StreamOpen),
                    (3_000_000, Outcome::Done(Done::ok())),
                ],
                _ => vec![(1_000, ok(op))],
            }),
        ),
        // The connect probes 2 s apart, fresh sessions per call, unauthenticated probes.
        (
            "claude_ai",
            plan(2, 3, AI),
            Box::new(|op: &Op| match op.kind {
                OpKind::Discover => vec![(1_000, Outcome::Failed(Failure::Http(404)))],
                OpKind::CallTool { .. } => vec![(30_000, Outcome::Done(Done::tool(false)))],
                _ => vec![(1_000, ok(op))],
            }),
        ),
        // listen_storm's 1 s cycles.
        (
            "listen_storm",
            plan(0, 1, &storm),
            Box::new(|op: &Op| match op.kind {
                OpKind::Discover => {
                    vec![(
                        1_000,
                        Outcome::Done(Done::discover(true, ServerCaps::all())),
                    )]
                }
                OpKind::OpenStream { .. } => vec![
                    (1_000, Outcome::StreamOpen),
                    (20_000, Outcome::Done(Done::ok())),
                ],
                _ => vec![(1_000, ok(op))],
            }),
        ),
    ];
    for (name, p, respond) in cases {
        let on_time = late_run(&mut VirtualUser::new(&p, 3, 0), 0, &mut |op| respond(op));
        let late = late_run(&mut VirtualUser::new(&p, 3, 0), 700, &mut |op| respond(op));
        let intended = |s: &[Sent]| s.iter().map(|(i, _, m)| (*i, *m)).collect::<Vec<_>>();
        assert_eq!(intended(&on_time), intended(&late), "{name}");
        assert!(
            on_time.iter().all(|(i, t, _)| i == t),
            "{name}: {on_time:?}"
        );
        // Every request waited for is taken up late: all of the runner's 700 µs show.
        let waited = late.iter().filter(|(i, t, _)| t - i == 700).count();
        assert!(waited >= 3, "{name}: {late:?}");
        assert!(late.iter().all(|(i, t, _)| t - i <= 700), "{name}");
        let methods: Vec<&str> = late.iter().map(|s| s.2).collect();
        match name {
            "claude_code" => {
                assert!(methods.contains(&"response"), "{methods:?}");
                assert!(methods.iter().filter(|m| **m == "GET").count() >= 2);
            }
            "claude_ai" => assert!(
                late.iter()
                    .any(|(i, _, m)| *m == "initialize" && *i == 2_001_000)
            ),
            _ => assert!(methods.iter().filter(|m| **m == "server/discover").count() >= 3),
        }
    }
}

/// The think before a step is timed from the previous step's answer, not from when the user
/// was next polled: a user polled 300 µs after the answer and 900 µs after the think ended
/// intends its next call at answer + think.
#[test]
fn a_think_is_timed_from_the_answer_it_follows() {
    let p = plan(2, 1, CC);
    let mut u = VirtualUser::new(&p, 1, 0);
    let mut now = 0;
    let mut calls = Vec::new();
    let mut last_answer = 0;
    while calls.len() < 2 {
        let mut started = Vec::new();
        while let Some(a) = u.poll(now) {
            if let Action::Start(op) = a {
                started.push(op);
            }
        }
        for op in started {
            if op.kind.method() == "tools/call" {
                calls.push((op.intended_us, last_answer, now));
            }
            // Answered 50 µs after it was sent; the runner learns it 300 µs later.
            last_answer = now + 50;
            u.on_outcome(op.id, ok(&op), last_answer);
            now = last_answer + 300;
        }
        if let Some(w) = u.next_wakeup() {
            now = now.max(w + 900);
        }
    }
    // first_call think 1 s, between_steps 2 s (SHAPE).
    let (intended, answer, polled) = calls[0];
    assert_eq!(intended, answer + 1_000_000);
    assert_eq!(polled, intended + 900);
    let (intended, answer, _) = calls[1];
    assert_eq!(intended, answer + 2_000_000);
}
