#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Turn durations as the runner records them (`UserStats::turn_us`, fed to the per-family turn
//! histograms): a user of the one-tool scenario with constant think times, driven on a
//! simulated clock with every call answered after a fixed delay, so each turn's length is
//! known exactly: from its `on_turn` to the answer of its last step. Also: the fan-outs a runner
//! takes in batches from a long-lived user are the ones it would have kept.

use std::path::Path;
use std::sync::Arc;

use mcpx_scenario::{
    Action, Done, OpKind, Outcome, Plan, Scenario, ServerCaps, ToolInfo, VirtualUser,
};

/// Every `tools/call` is answered this long after it starts, µs; everything else at once.
const CALL_US: u64 = 100_000;

fn plan(turns: u32, steps: u32, calls_tools_p: f64) -> Arc<Plan> {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/generator/one-tool.toml"),
    )
    .unwrap();
    let mut text = base;
    for (from, to) in [
        (
            "user_turns = { dist = \"constant\", value = 1 }".to_owned(),
            format!("user_turns = {{ dist = \"constant\", value = {turns} }}"),
        ),
        (
            "steps = { dist = \"constant\", value = 1000000 }".to_owned(),
            format!("steps = {{ dist = \"constant\", value = {steps} }}"),
        ),
        (
            "first_call = { dist = \"constant\", value_ms = 0 }".to_owned(),
            "first_call = { dist = \"constant\", value_ms = 1000 }".to_owned(),
        ),
        (
            "between_steps = { dist = \"constant\", value_ms = 0 }".to_owned(),
            "between_steps = { dist = \"constant\", value_ms = 2000 }".to_owned(),
        ),
        (
            "between_turns = { dist = \"constant\", value_ms = 0 }".to_owned(),
            "between_turns = { dist = \"constant\", value_ms = 3000 }".to_owned(),
        ),
        (
            "calls_tools_p = 1.0".to_owned(),
            format!("calls_tools_p = {calls_tools_p:?}"),
        ),
    ] {
        assert!(text.contains(&from), "one-tool.toml changed: {from}");
        text = text.replace(&from, &to);
    }
    let scenario = Scenario::parse(&text, "one-tool.toml").unwrap();
    let echo = ToolInfo::from_json(&serde_json::json!({
        "name": "echo",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}
    }))
    .unwrap();
    Arc::new(Plan::new(scenario, &[echo]).unwrap())
}

/// Runs one user to its end on a simulated clock; returns its turn durations and its
/// conversation's length.
fn run(plan: &Arc<Plan>) -> (Vec<u64>, u64) {
    let (turns, conversation, _) = run_draining(plan, None);
    (turns, conversation)
}

/// [`run`], handing the user's fan-outs over whenever it holds `drain_at` of them (as the
/// runner does); also returns every fan-out, drained or left in the stats at the end.
fn run_draining(plan: &Arc<Plan>, drain_at: Option<usize>) -> (Vec<u64>, u64, Vec<u8>) {
    let mut user = VirtualUser::new(plan, 0, 0);
    let mut drained: Vec<u8> = Vec::new();
    let mut now = 0u64;
    let mut pending: Vec<(u64, mcpx_scenario::OpId, Outcome)> = Vec::new();
    for _ in 0..100_000 {
        while let Some(a) = user.poll(now) {
            match a {
                Action::Start(op) => {
                    let (delay, outcome) = match &op.kind {
                        OpKind::CallTool { .. } => (CALL_US, Outcome::Done(Done::tool(false))),
                        OpKind::Initialize { .. } => {
                            (0, Outcome::Done(Done::initialize(ServerCaps::all())))
                        }
                        OpKind::Discover => {
                            (0, Outcome::Done(Done::discover(false, ServerCaps::all())))
                        }
                        OpKind::OpenStream { .. } => (0, Outcome::StreamOpen),
                        _ => (0, Outcome::Done(Done::ok())),
                    };
                    pending.push((now + delay, op.id, outcome));
                }
                Action::Cancel { op, .. } => pending.retain(|p| p.1 != op),
                Action::Finished => {
                    let stats = user.stats();
                    let end = stats.conversation_end_us.unwrap();
                    drained.extend_from_slice(&stats.fan_outs);
                    return (stats.turn_us.clone(), end - stats.start_us, drained);
                }
                _ => {}
            }
        }
        if let Some(n) = drain_at
            && user.stats().fan_outs.len() >= n
        {
            let before = user.stats().fan_outs.len();
            user.drain_fan_outs(|f| {
                assert_eq!(f.len(), before);
                drained.extend_from_slice(f);
            });
            assert!(user.stats().fan_outs.is_empty());
        }
        pending.sort_by_key(|p| std::cmp::Reverse(p.0));
        let next = [pending.last().map(|p| p.0), user.next_wakeup()]
            .into_iter()
            .flatten()
            .min()
            .expect("a user that is not finished has something to wait for");
        now = now.max(next);
        while pending.last().is_some_and(|p| p.0 <= now) {
            let (_, id, o) = pending.pop().unwrap();
            user.on_outcome(id, o, now);
        }
    }
    panic!("the user did not finish");
}

#[test]
fn one_turn_spans_first_call_think_steps_and_their_answers() {
    // 1 s first-call think, 4 calls of 0.1 s, 3 waits of 2 s between steps.
    let (turns, conversation) = run(&plan(1, 4, 1.0));
    assert_eq!(turns, vec![1_000_000 + 4 * CALL_US + 3 * 2_000_000]);
    assert_eq!(conversation, turns[0], "the handshake took no time");
}

#[test]
fn turns_without_calls_last_one_think_and_exclude_the_waits_between() {
    // No tool calls: each turn is one first-call think (no_tool_turn = "first_call"); the 3 s
    // between turns belong to no turn, only to the conversation.
    let (turns, conversation) = run(&plan(3, 0, 0.0));
    assert_eq!(turns, vec![1_000_000; 3]);
    assert_eq!(conversation, 3 * 1_000_000 + 2 * 3_000_000);
}

#[test]
fn fan_outs_handed_over_in_batches_are_every_step_once() {
    // 600 steps of one call each: drained every 256 steps, the batches and the rest left at
    // the end are the same 600 fan-outs an undrained user keeps.
    let plan = plan(1, 600, 1.0);
    let (_, _, kept) = run_draining(&plan, None);
    let (_, _, drained) = run_draining(&plan, Some(256));
    assert_eq!(kept.len(), 600);
    assert_eq!(drained, kept);
}
