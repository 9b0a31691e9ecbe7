//! Sharded runs end to end: a fixed population of users against a deterministic target, run as
//! one process and as 3 shards (`mcpx load --shard i/3`), the shard reports merged with
//! `mcpx report merge`; and the merge's refusals (duplicate, missing, mixed or foreign shards,
//! malformed reports and interval logs), through the real binary.
//!
//! The target is the embedded mock serving this file's `[target]`: constant latencies per tool
//! class, constant result size, no `isError`, no JSON-RPC errors, no long (progress) tools, no
//! cold start. The users have no time-dependent branches (no lifetimes, probes, cancellation or
//! reachable timeouts) and one call per step: a user's draws then depend only on (seed, index),
//! so both runs send exactly the same requests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mcpx_load::{Metrics, Model, Outcome, Report, RequestRecord, RunInfo};
use serde_json::Value;

/// A command must end within this, whatever happens (bounded tests).
const BOUND: Duration = Duration::from_secs(60);
/// Users of the run (each runs once: `max_users`), so shards own 10 each.
const USERS: u64 = 30;
/// Shards of the sharded run.
const SHARDS: u64 = 3;
/// Every wait and the mock's latencies at a tenth: each run lasts 1-2 s.
const TIME_SCALE: &str = "0.1";
/// The mock's `tools/call` latencies after scaling (250 ms and 1 s at 0.1), µs: a lower bound
/// of every measured call.
const LOCAL_US: u64 = 25_000;
const API_US: u64 = 100_000;
/// Allowance for the timing noise of two runs on a shared 2-core machine (loopback, scheduler,
/// other processes), on top of the histograms' precision: the latencies themselves are real
/// measurements, only the workload is deterministic.
const JITTER_US: u64 = 10_000;
/// The tails (p99, max) are one or two samples of a few dozen: one slow wake-up moves them by
/// tens of ms, so they are only bounded: no call waits this much beyond the mock's latency.
const TAIL_BOUND_US: u64 = 500_000;

/// Medians are compared only for tools with at least this many calls in each run (fewer: a
/// median is one or two samples, so only the bounds apply).
const MIN_SAMPLES_FOR_MEDIAN: u64 = 10;

/// The tests of this file run one at a time: the timed runs must not share the CPU with the
/// processes the other tests start.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still run.
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The deterministic workload and target (see the module docs).
const SCENARIO: &str = r#"
format = "mcpx-scenario/1"

[profile]
name = "shard-test"
seed = 7

[load]
model = "closed"
users = 30
max_users = 30
duration_s = 120
drain_s = 10
prefill = false

[session]
user_turns = { dist = "uniform", min = 1, max = 3 }
steps = { dist = "uniform", min = 1, max = 4 }
# One call per step: the draws of overlapping calls would follow their completion order.
fan_out = { dist = "constant", value = 1 }
cancel_p = 0.0

[think]
first_call = { dist = "uniform", min_ms = 500, max_ms = 1500 }
between_steps = { dist = "uniform", min_ms = 300, max_ms = 1000 }
between_turns = { dist = "uniform", min_ms = 1000, max_ms = 3000 }

[[clients]]
name = "per_call"
weight = 0.6
calls_tools_p = 1.0
connections = "shared"
modern_p = 0.5
reprobe_p = 0.3
client_info = [ { name = "claude-ai", version = "0.1.0", weight = 1.0 } ]
protocol_versions = [ { version = "2025-11-25", weight = 1.0 } ]

[clients.sequence]
on_start = ["handshake", "tools/list", "prompts/list", "resources/list", "delete"]
before_call = ["handshake"]
delete_p = 0.5
reuse_session_p = 0.2

[clients.timeouts]
handshake_ms = 600000
tool_call_ms = 600000

[[clients]]
name = "per_turn"
weight = 0.4
calls_tools_p = 0.9
connections = "per_user"
modern_p = 0.0
client_info = [ { name = "Anthropic/API", version = "1.0.0", weight = 1.0 } ]
protocol_versions = [ { version = "2025-06-18", weight = 0.5 }, { version = "2025-03-26", weight = 0.5 } ]

[clients.sequence]
on_turn = ["handshake", "tools/list"]

[clients.timeouts]
tool_call_ms = 600000

[target]
server_info = { name = "mcpx-mock-deterministic", version = "1" }
versions = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
capabilities = { tools = {}, prompts = {}, resources = {} }
prompts = 2
resources = 3
get_stream = "accept"
response_mode = "json"
result_size = { dist = "constant", value_bytes = 1000 }
is_error_p = 0.0
jsonrpc_error_p = 0.0
cold_start_ms = 0
tools = [
  { rank = 1, name = "search_notes", class = "local", read_only = true, output_schema = false, def_bytes = 600 },
  { rank = 2, name = "get_record", class = "api", read_only = true, output_schema = true, def_bytes = 600 },
  { rank = 3, name = "list_records", class = "api", read_only = true, output_schema = true, def_bytes = 600 },
  { rank = 4, name = "save_draft", class = "local", read_only = false, output_schema = false, def_bytes = 400 },
]

[target.latency]
local = { dist = "constant", value_ms = 250 }
api = { dist = "constant", value_ms = 1000 }
"#;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpx-shard-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `mcpx ARGS`; returns the exit code, stdout and stderr.
fn mcpx(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            panic!("mcpx {args:?} did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn validated(path: &Path) -> Value {
    let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(mcpx_load::report::REPORT_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    report
}

fn by_name<'a>(report: &'a Value, list: &str, name: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {list} {name:?}"))
}

fn names(report: &Value, list: &str) -> Vec<String> {
    let mut v: Vec<String> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The counts of a request row that must be identical between the runs.
fn counts(row: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = [
        "requests",
        "answered",
        "errors",
        "failed",
        "request_bytes",
        "response_bytes",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), u(&row[k])))
    .collect();
    out.push(("latency_us.count".into(), u(&row["latency_us"]["count"])));
    out
}

/// A histogram summary whose values the workload alone decides: identical, not close.
fn exact_dist(a: &Value, b: &Value, what: &str) {
    for k in ["count", "min", "p50", "p90", "p99", "p999", "max"] {
        assert_eq!(a[k], b[k], "{what}.{k}");
    }
}

fn load_args<'a>(scenario: &'a str, json: &'a str, hlog: &'a str) -> Vec<&'a str> {
    vec![
        "load",
        "--scenario",
        scenario,
        "--users",
        "30",
        "--duration",
        "120s",
        "--time-scale",
        TIME_SCALE,
        "--no-progress",
        "--json",
        json,
        "--hdr-log",
        hlog,
    ]
}

#[test]
fn three_shards_merge_to_the_single_run() {
    let _serial = serial();
    let dir = tmp("runs");
    let scenario = dir.join("deterministic.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let started = Instant::now();

    // The whole run, in one process.
    let (one_json, one_hlog) = (dir.join("one.json"), dir.join("one.hlog"));
    let (code, out, err) = mcpx(&load_args(p(&scenario), p(&one_json), p(&one_hlog)));
    assert_eq!(code, 0, "{out}\n{err}");
    let one = validated(&one_json);

    // The same run as 3 shards, one after another (as on 3 machines: no shared CPU).
    let mut shard_json = Vec::new();
    let mut shard_hlog = Vec::new();
    for i in 0..SHARDS {
        let (json, hlog) = (
            dir.join(format!("s{i}.json")),
            dir.join(format!("s{i}.hlog")),
        );
        let shard = format!("{i}/{SHARDS}");
        let mut args = load_args(p(&scenario), p(&json), p(&hlog));
        args.extend(["--shard", &shard]);
        let (code, out, err) = mcpx(&args);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains(&format!("shard {shard}")), "{out}");
        let r = validated(&json);
        assert_eq!(r["run"]["shard"], shard.as_str());
        // Its part of the users: k mod 3 = i.
        assert_eq!(u(&r["run"]["users"]), USERS / SHARDS);
        let started: u64 = r["families"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| u(&f["users_started"]))
            .sum();
        assert_eq!(started, USERS / SHARDS, "shard {shard}");
        shard_json.push(json);
        shard_hlog.push(hlog);
    }

    let merged_json = dir.join("merged.json");
    let merged_html = dir.join("merged.html");
    let mut args = vec!["report", "merge"];
    args.extend(shard_json.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--json", p(&merged_json), "--html", p(&merged_html)]);
    let (code, table, err) = mcpx(&args);
    assert_eq!(code, 0, "{table}\n{err}");
    // The same terminal table as `mcpx load`.
    assert!(table.contains("tools/call"), "{table}");
    assert!(table.contains("p99 ms"), "{table}");
    assert!(
        table.contains("merged from 3 reports (shards 0/3, 1/3, 2/3)"),
        "{table}"
    );
    assert!(
        std::fs::read_to_string(&merged_html)
            .unwrap()
            .contains("<svg")
    );
    let merged = validated(&merged_json);
    assert_eq!(merged["run"]["shard"], Value::Null);
    assert_eq!(merged["run"]["users"], one["run"]["users"]);

    // Counts: identical, everywhere.
    assert!(u(&one["summary"]["requests"]) > 200, "{}", one["summary"]);
    assert_eq!(u(&one["summary"]["errors"]), 0, "the target is error-free");
    assert_eq!(counts(&merged["summary"]), counts(&one["summary"]));
    for list in ["methods", "tools", "families"] {
        assert_eq!(names(&merged, list), names(&one, list), "{list}");
    }
    for name in names(&one, "methods") {
        let (a, b) = (
            by_name(&one, "methods", &name),
            by_name(&merged, "methods", &name),
        );
        assert_eq!(counts(b), counts(a), "method {name}");
    }
    for name in names(&one, "tools") {
        let (a, b) = (
            by_name(&one, "tools", &name),
            by_name(&merged, "tools", &name),
        );
        assert_eq!(counts(b), counts(a), "tool {name}");
    }
    for name in names(&one, "families") {
        let (a, b) = (
            by_name(&one, "families", &name),
            by_name(&merged, "families", &name),
        );
        for k in [
            "users_started",
            "users_finished",
            "sessions",
            "sessions_closed",
        ] {
            assert_eq!(a[k], b[k], "family {name}: {k}");
        }
        assert_eq!(
            counts(&b["requests"]),
            counts(&a["requests"]),
            "family {name}"
        );
        // Calls and requests per conversation: drawn by the users alone.
        exact_dist(
            &a["calls_per_conversation"],
            &b["calls_per_conversation"],
            &format!("{name}.calls_per_conversation"),
        );
        exact_dist(
            &a["requests_per_conversation"],
            &b["requests_per_conversation"],
            &format!("{name}.requests_per_conversation"),
        );
    }
    for k in [
        "sessions_opened",
        "sessions_closed",
        "streams_opened",
        "users_active_end",
    ] {
        assert_eq!(
            one["population"][k], merged["population"][k],
            "population.{k}"
        );
    }
    exact_dist(
        &one["sizes"]["args_bytes"],
        &merged["sizes"]["args_bytes"],
        "args_bytes",
    );
    exact_dist(
        &one["sizes"]["result_bytes"],
        &merged["sizes"]["result_bytes"],
        "result_bytes",
    );
    assert_eq!(one["fan_out"]["counts"], merged["fan_out"]["counts"]);

    // The merge is exact: its percentiles are those of the shards' histograms added up.
    let reports: Vec<Report> = shard_json
        .iter()
        .map(|p| Report::read_json(p).unwrap())
        .collect();
    let merged_report = Report::read_json(&merged_json).unwrap();
    for (name, pick) in [
        ("summary", None),
        ("tools/call", Some("tools/call")),
        ("initialize", Some("initialize")),
    ] {
        let dist_of = |r: &Report| {
            match pick {
                None => &r.summary,
                Some(m) => r.methods.iter().find(|s| s.name == m).unwrap(),
            }
            .latency_us
            .clone()
        };
        let mut sum = dist_of(&reports[0]).histogram().unwrap();
        for r in &reports[1..] {
            sum.add(dist_of(r).histogram().unwrap()).unwrap();
        }
        let d = dist_of(&merged_report);
        assert_eq!(d.count, sum.len(), "{name}");
        for (q, got) in [(0.5, d.p50), (0.9, d.p90), (0.99, d.p99), (0.999, d.p999)] {
            assert_eq!(got, sum.value_at_quantile(q), "{name} q{q}");
        }
        assert_eq!(d.max, sum.highest_equivalent(sum.max()), "{name} max");
    }

    // Latency: the calls wait the mock's constant latencies, so both runs' medians (and the
    // p90 of all calls, which falls in the 100 ms class) sit at them, within histogram precision
    // (0.1 %) and the machine's jitter; the tails are bounded.
    let close = |what: &str, x: u64, y: u64| {
        let tolerance = x.max(y) / 1000 + JITTER_US;
        assert!(
            x.abs_diff(y) <= tolerance,
            "{what}: {x} vs {y} µs\nsingle run: {}\nmerged: {}",
            one["tools"],
            merged["tools"]
        );
    };
    for name in names(&one, "tools") {
        let (a, b) = (
            &by_name(&one, "tools", &name)["latency_us"],
            &by_name(&merged, "tools", &name)["latency_us"],
        );
        let floor = if name == "get_record" || name == "list_records" {
            API_US
        } else {
            LOCAL_US
        };
        for k in ["min", "p50", "p90", "p99", "max"] {
            let (x, y) = (u(&a[k]), u(&b[k]));
            assert!(
                x >= floor && y >= floor,
                "{name}.{k}: {x} / {y} below {floor} µs"
            );
            assert!(
                x.max(y) <= floor + TAIL_BOUND_US,
                "{name}.{k}: {x} / {y} µs"
            );
        }
        if u(&a["count"]).min(u(&b["count"])) >= MIN_SAMPLES_FOR_MEDIAN {
            close(&format!("{name}.p50"), u(&a["p50"]), u(&b["p50"]));
        }
    }
    let (a, b) = (
        &by_name(&one, "methods", "tools/call")["latency_us"],
        &by_name(&merged, "methods", "tools/call")["latency_us"],
    );
    for k in ["p50", "p90"] {
        close(&format!("tools/call.{k}"), u(&a[k]), u(&b[k]));
    }
    assert!(u(&a["p90"]) >= API_US && u(&b["p90"]) >= API_US);

    // The interval logs merge to the same totals per method.
    let merged_hlog = dir.join("merged.hlog");
    let mut args = vec!["report", "merge", "--hdr-log"];
    args.extend(shard_hlog.iter().map(|p| p.to_str().unwrap()));
    args.extend(["-o", p(&merged_hlog)]);
    let (code, out, err) = mcpx(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    let totals = |path: &Path| {
        let items = mcpx_load::hdrlog::read_interval_log(&std::fs::read(path).unwrap()).unwrap();
        let mut t: std::collections::BTreeMap<Option<String>, u64> = Default::default();
        for it in items {
            *t.entry(it.tag).or_default() += it.histogram.len();
        }
        t
    };
    for (i, path) in shard_hlog.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.starts_with(&format!("#[mcpx shard {i}/3]\n")),
            "{text:.80}"
        );
    }
    let merged_text = std::fs::read_to_string(&merged_hlog).unwrap();
    assert!(
        merged_text.starts_with("#[mcpx merged from shards 0/3, 1/3, 2/3]\n"),
        "{merged_text:.80}"
    );
    let (whole, parts) = (totals(&one_hlog), totals(&merged_hlog));
    assert_eq!(whole, parts);
    assert_eq!(
        whole.get(&Some("tools/call".to_owned())).copied(),
        Some(u(&by_name(&one, "methods", "tools/call")["answered"]))
    );
    eprintln!("the single and sharded runs took {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small report of `requests` answered calls, as shard `shard` with `seed`.
fn synthetic(dir: &Path, name: &str, shard: Option<&str>, seed: u64, requests: u64) -> PathBuf {
    let mut m = Metrics::new(Duration::from_secs(1));
    m.user_started("a");
    for i in 0..requests {
        let r = RequestRecord::new(
            "tools/call",
            "a",
            i * 1_000,
            i * 1_000 + 500 + i,
            Outcome::Ok,
        )
        .with_tool("search");
        m.record_request(&r);
    }
    m.user_finished("a");
    m.advance(requests * 1_000 + 1_000);
    let mut info = RunInfo::new("http://127.0.0.1:9/mcp", Model::Open);
    info.shard = shard.map(str::to_owned);
    info.seed = seed;
    info.scenario = "s.toml".into();
    let path = dir.join(name);
    Report::from_metrics(&m, info).write_json(&path).unwrap();
    path
}

fn merge(files: &[&Path], extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["report", "merge"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    mcpx(&args)
}

/// Rewrites a report's JSON through `f`.
fn edited(dir: &Path, from: &Path, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(from).unwrap()).unwrap();
    f(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    path
}

#[test]
fn the_merge_refuses_what_is_not_one_run() {
    let _serial = serial();
    let dir = tmp("refusals");
    let s0 = synthetic(&dir, "s0.json", Some("0/3"), 1, 10);
    let s1 = synthetic(&dir, "s1.json", Some("1/3"), 1, 20);
    let s2 = synthetic(&dir, "s2.json", Some("2/3"), 1, 30);
    let (code, out, err) = merge(&[&s0, &s1, &s2], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("shards 0/3, 1/3, 2/3"), "{out}");

    // A duplicate shard would count twice: refused, naming both files.
    let again = synthetic(&dir, "s1-again.json", Some("1/3"), 1, 5);
    let (code, _, err) = merge(&[&s0, &s1, &again, &s2], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shard 1/3 appears twice"), "{err}");
    assert!(
        err.contains("s1.json") && err.contains("s1-again.json"),
        "{err}"
    );
    // The same file twice, even without shards.
    let (code, _, err) = merge(&[&s0, &s1, &s2, &s2], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("same report"), "{err}");

    // A missing shard: refused, or merged with a warning and a note.
    let (code, _, err) = merge(&[&s0, &s2], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1/3 missing"), "{err}");
    let partial = dir.join("partial.json");
    let (code, out, err) = merge(&[&s0, &s2], &["--allow-partial", "--json", p(&partial)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("warning: PARTIAL"), "{err}");
    let v = validated(&partial);
    assert_eq!(u(&v["summary"]["requests"]), 40);
    assert!(
        v["run"]["notes"].to_string().contains("PARTIAL"),
        "{}",
        v["run"]
    );

    // Shards of different runs, different shard counts, shards mixed with whole runs.
    let other_seed = synthetic(&dir, "seed2.json", Some("2/3"), 2, 30);
    let (code, _, err) = merge(&[&s0, &s1, &other_seed], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("run.seed"), "{err}");
    let of4 = synthetic(&dir, "of4.json", Some("3/4"), 1, 30);
    let (code, _, err) = merge(&[&s0, &of4], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("share their n"), "{err}");
    let whole = synthetic(&dir, "whole.json", None, 1, 30);
    let (code, _, err) = merge(&[&s0, &whole], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("whole run"), "{err}");
    // Whole runs alone add up, with a warning.
    let whole2 = synthetic(&dir, "whole2.json", None, 2, 7);
    let (code, _, err) = merge(&[&whole, &whole2], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("independent runs"), "{err}");

    // The scenario is recorded as a path: another path to it is only a warning.
    let moved = edited(&dir, &s2, "moved.json", |v| {
        v["run"]["scenario"] = "/elsewhere/s.toml".into();
    });
    let (code, _, err) = merge(&[&s0, &s1, &moved], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: scenarios differ"), "{err}");

    // A shard index out of range is a usage error of `mcpx load`.
    for bad in ["3/3", "1/0", "one/3"] {
        let (code, _, err) = mcpx(&["load", "--shard", bad, "--dry-run"]);
        assert_eq!(code, 2, "--shard {bad}: {err}");
        assert!(err.contains("--shard"), "{err}");
    }

    // Interval logs: the same rules, from their `#[mcpx shard i/n]` comment.
    let log = |name: &str, shard: Option<(u64, u64)>, requests: u64| {
        let mut m = Metrics::new(Duration::from_secs(1));
        for i in 0..requests {
            m.record_request(&RequestRecord::new(
                "tools/call",
                "a",
                i,
                i + 700,
                Outcome::Ok,
            ));
        }
        m.advance(2_000_000);
        let mut bytes = Vec::new();
        mcpx_load::hdrlog::write_interval_log(&m, &mut bytes).unwrap();
        if let Some((i, n)) = shard {
            let s = mcpx_scenario::Shard::new(i, n).unwrap();
            bytes = mcpx_load::merge::shard_log(s, &bytes);
        }
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let l0 = log("l0.hlog", Some((0, 3)), 1);
    let l1 = log("l1.hlog", Some((1, 3)), 2);
    let l1b = log("l1b.hlog", Some((1, 3)), 3);
    let l2 = log("l2.hlog", Some((2, 3)), 4);
    let lw = log("lw.hlog", None, 5);
    let out = dir.join("out.hlog");
    let logs = |files: &[&Path], extra: &[&str]| {
        let mut args = vec!["report", "merge", "--hdr-log"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        args.extend(["-o", p(&out)]);
        args.extend(extra);
        mcpx(&args)
    };
    let (code, _, err) = logs(&[&l0, &l1, &l2], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = logs(&[&l0, &l1, &l1b, &l2], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shard 1/3 appears twice"), "{err}");
    let (code, _, err) = logs(&[&l0, &l2], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1/3 missing"), "{err}");
    let (code, _, err) = logs(&[&l0, &l2], &["--allow-partial"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("PARTIAL"), "{err}");
    let (code, _, err) = logs(&[&l0, &l1, &l2, &lw], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("whole run"), "{err}");

    // Thresholds apply to the merged report (exit 3).
    let (code, _, _) = merge(&[&s0, &s1, &s2], &["--max-p99", "1us"]);
    assert_eq!(code, 3);
    // Usage errors exit 2.
    assert_eq!(mcpx(&["report", "merge"]).0, 2);
    assert_eq!(mcpx(&["report", "merge", "--hdr-log", p(&s0)]).0, 2);
    assert_eq!(merge(&[&s0], &["--max-p99", "soon"]).0, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_inputs_name_the_file_and_field() {
    let _serial = serial();
    let dir = tmp("malformed");
    let good = synthetic(&dir, "good.json", Some("0/2"), 1, 10);
    let other = synthetic(&dir, "other.json", Some("1/2"), 1, 10);
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            {
                let p = dir.join("not-json.json");
                std::fs::write(&p, "{ this is not json").unwrap();
                p
            },
            "not JSON",
        ),
        (
            edited(&dir, &good, "format.json", |v| {
                v["format"] = "mcpx-load-report/9".into()
            }),
            "field format",
        ),
        (
            edited(&dir, &good, "p99.json", |v| {
                v["summary"]["latency_us"]["p99"] = "slow".into();
            }),
            "field \"p99\"",
        ),
        (
            edited(&dir, &good, "hdr.json", |v| {
                v["methods"][0]["latency_us"]["hdr"] = "bm90IGEgaGlzdG9ncmFt".into();
            }),
            "field methods[\"tools/call\"].latency_us.hdr",
        ),
        (
            edited(&dir, &good, "count.json", |v| {
                v["tools"][0]["latency_us"]["count"] = 99.into();
            }),
            "field tools[\"search\"].latency_us.count",
        ),
        (
            edited(&dir, &good, "shard.json", |v| {
                v["run"]["shard"] = "3/2".into()
            }),
            "field run.shard",
        ),
        (
            edited(&dir, &good, "missing.json", |v| {
                v.as_object_mut().unwrap().remove("summary");
            }),
            "missing field `summary`",
        ),
    ];
    for (bad, expect) in &cases {
        let (code, out, err) = merge(&[bad, &other], &[]);
        assert_eq!(code, 1, "{}: {out}\n{err}", bad.display());
        assert!(err.contains(p(bad)), "names the file: {err}");
        assert!(err.contains(expect), "{expect}: {err}");
    }
    let (code, _, err) = merge(&[&dir.join("absent.json")], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("absent.json"), "{err}");

    // Interval logs: a bad line is named by file and line; the same log twice is refused.
    let log = dir.join("a.hlog");
    let mut m = Metrics::new(Duration::from_secs(1));
    m.record_request(&RequestRecord::new("tools/call", "a", 0, 900, Outcome::Ok));
    m.advance(2_000_000);
    mcpx_load::hdrlog::write_interval_log_file(&m, &log).unwrap();
    let mut text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().count();
    text.push_str("0.000,1.000,0.9,not-a-histogram\n");
    let bad = dir.join("bad.hlog");
    std::fs::write(&bad, text).unwrap();
    let out = dir.join("out.hlog");
    let (code, _, err) = mcpx(&[
        "report",
        "merge",
        "--hdr-log",
        p(&log),
        p(&bad),
        "-o",
        p(&out),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(p(&bad)), "{err}");
    assert!(err.contains(&format!("line {}", lines + 1)), "{err}");
    let (code, _, err) = mcpx(&[
        "report",
        "merge",
        "--hdr-log",
        p(&log),
        p(&log),
        "-o",
        p(&out),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("same interval log"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_kubernetes_scenario_is_the_claude_profile() {
    // deploy/kubernetes/scenario.toml (the ConfigMap every shard runs) is the built-in profile
    // with a header: it must parse, and not drift from the profile it says it copies.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let deploy = std::fs::read_to_string(root.join("deploy/kubernetes/scenario.toml")).unwrap();
    let profile =
        std::fs::read_to_string(root.join("crates/mcpx-scenario/profiles/claude.toml")).unwrap();
    let parsed = mcpx_scenario::Scenario::parse(&deploy, "deploy/kubernetes/scenario.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(parsed.target.is_some(), "the embedded mock needs [target]");
    assert!(
        deploy.ends_with(&profile),
        "deploy/kubernetes/scenario.toml no longer ends with the claude profile: refresh it \
         (keep its header, then crates/mcpx-scenario/profiles/claude.toml)"
    );
}
