#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Inputs from files and servers never panic the crate: mangled scenario files, and users fed
//! random, hostile outcomes always end once shut down.

use std::sync::Arc;

use mcpx_scenario::{
    Action, CLAUDE_PROFILE_TOML, Done, Failure, MockTarget, OpKind, Outcome, Plan, Rng, Scenario,
    ServerCaps, ServerRequest, ServerRequestId, VirtualUser,
};
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mangled_profiles_parse_or_fail_cleanly(
        drops in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
            "-1", "1e300", "\"x\"", "[]", "{}", "nan", "0", "{ dist = \"lognormal\" }", "true",
        ])), 0..4),
    ) {
        let mut lines: Vec<String> = CLAUDE_PROFILE_TOML.lines().map(str::to_owned).collect();
        for d in drops {
            let i = d.index(lines.len());
            lines.remove(i);
        }
        for (at, value) in edits {
            let i = at.index(lines.len());
            if let Some(eq) = lines[i].find(" = ") {
                let key = lines[i][..eq].to_owned();
                lines[i] = format!("{key} = {value}");
            }
        }
        let text = lines.join("\n");
        match Scenario::parse(&text, "mangled.toml") {
            Ok(s) => {
                if let Some(t) = &s.target {
                    let mock = MockTarget::new(t);
                    let _ = Plan::new(s.clone(), &mock.tool_infos());
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("mangled.toml: ")),
        }
    }

    #[test]
    fn users_survive_hostile_servers(seed in any::<u64>(), index in 0u64..1000) {
        let s = Scenario::builtin("claude").unwrap();
        let mock = MockTarget::new(s.target.as_ref().unwrap());
        let plan = Arc::new(Plan::new(s, &mock.tool_infos()).unwrap());
        let mut user = VirtualUser::new(&plan, index, 0);
        let mut rng = Rng::from_seed(seed);
        let mut now = 0u64;
        let mut pending: Vec<(u64, mcpx_scenario::OpId, Outcome)> = Vec::new();
        let horizon = 3_600_000_000u64;
        let mut shut = false;
        for _ in 0..200_000 {
            while let Some(a) = user.poll(now) {
                match a {
                    Action::Start(op) => {
                        let delay = rng.below(20_000_000);
                        let outcome = match rng.below(12) {
                            0 => Some(Outcome::Failed(Failure::Http(404))),
                            1 => Some(Outcome::Failed(Failure::Http(405))),
                            2 => Some(Outcome::Failed(Failure::Transport)),
                            3 => Some(Outcome::Failed(Failure::JsonRpc(-32603))),
                            4 => None,
                            5 => Some(Outcome::Progress),
                            6 => Some(Outcome::ServerRequest(
                                ServerRequestId(rng.next_u64()),
                                ServerRequest::Elicitation { requested_schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}) },
                            )),
                            7 => Some(Outcome::ServerRequest(ServerRequestId(1), ServerRequest::RootsList)),
                            8 => Some(Outcome::StreamOpen),
                            _ => Some(match op.kind {
                                OpKind::Discover => Outcome::Done(Done::discover(rng.bernoulli(0.5), ServerCaps::default())),
                                OpKind::Initialize { .. } => Outcome::Done(Done::initialize(ServerCaps::all())),
                                OpKind::OpenStream { .. } => Outcome::StreamOpen,
                                _ => Outcome::Done(Done::tool(rng.bernoulli(0.1))),
                            }),
                        };
                        if let Some(o) = outcome {
                            pending.push((now + delay, op.id, o));
                        }
                        // Sometimes a second, late or duplicate outcome for the same op.
                        if rng.bernoulli(0.1) {
                            pending.push((now + delay + 1, op.id, Outcome::Done(Done::ok())));
                        }
                    }
                    Action::Cancel { .. } => {}
                    Action::Finished => return Ok(()),
                    _ => {}
                }
            }
            pending.sort_by_key(|p| std::cmp::Reverse(p.0));
            let next = [pending.last().map(|p| p.0), user.next_wakeup()].into_iter().flatten().min();
            match next {
                Some(t) if t < horizon => now = now.max(t),
                _ if !shut => {
                    // The run's drain deadline: whatever is left is shut down.
                    now = now.max(horizon);
                    user.shutdown(now);
                    shut = true;
                    continue;
                }
                _ => break,
            }
            if pending.last().is_some_and(|p| p.0 <= now) {
                let (_, id, o) = pending.pop().unwrap();
                user.on_outcome(id, o, now);
            }
        }
        prop_assert!(false, "user {index} never finished (shut down: {shut})");
    }
}
