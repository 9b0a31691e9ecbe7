//! The shared sample trace (vendored in `tests/data`) reads, plans and round-trips; the vendored
//! copy still matches `../shared` when that folder is present.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::Path;

use mcpx_trace::plan::{Action, Plan, PlanOptions};
use mcpx_trace::{Reader, Writer};

const SAMPLE: &[u8] = include_bytes!("data/sample-trace.jsonl");

#[test]
fn sample_trace_reads_and_plans() {
    let mut r = Reader::new(SAMPLE).unwrap();
    let header = r.header().unwrap().clone();
    assert_eq!(header.group, "synthetic");
    let events = r.read_all().unwrap();
    assert!(!r.truncated());
    assert_eq!(
        events.len(),
        SAMPLE
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
            - 1
    );
    let plan = Plan::new(&events, PlanOptions::default()).unwrap();
    let users: Vec<&str> = plan.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(users, ["a", "b", "c"]);
    // Every recorded tools/call is performed; user b closes its GET stream at the end.
    let calls = plan
        .users
        .iter()
        .flat_map(|u| u.steps.iter())
        .filter(
            |s| matches!(&s.action, Action::Send(r) if r.method.as_deref() == Some("tools/call")),
        )
        .count();
    let recorded = events
        .iter()
        .filter(|e| e.k == mcpx_trace::Kind::Req && e.method().as_deref() == Some("tools/call"))
        .count();
    assert_eq!(calls, recorded);
    assert!(calls > 0);
    let b = &plan.users[1];
    assert!(matches!(b.steps.last().unwrap().action, Action::Close(_)));
    // Written back, it reads the same.
    let mut w = Writer::new(Vec::new(), &header).unwrap();
    for e in &events {
        w.write_event(e).unwrap();
    }
    let again = Reader::new(&w.into_inner()[..])
        .unwrap()
        .read_all()
        .unwrap();
    assert_eq!(again, events);
}

#[test]
fn vendored_copy_matches_shared() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traffic/sample-trace.jsonl");
    match std::fs::read(&shared) {
        Ok(bytes) => assert!(
            bytes == SAMPLE,
            "tests/data/sample-trace.jsonl differs from {}",
            shared.display()
        ),
        Err(_) => eprintln!("SKIPPED: {} not present", shared.display()),
    }
}
