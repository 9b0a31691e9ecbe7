#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Reports end to end: synthetic runs through `Metrics`, JSON validated against the checked-in
//! schema, exact merges of reports and interval logs, the terminal table and thresholds.

use std::path::PathBuf;
use std::time::Duration;

use mcpx_load::report::{CLOSED_MODEL_NOTE, LAG_WARN_US, REPORT_FORMAT, REPORT_SCHEMA};
use mcpx_load::thresholds::check;
use mcpx_load::{
    Metrics, Model, Outcome, Report, RequestRecord, RunInfo, Thresholds, exit, hdrlog,
};

const TOOLS: [&str; 4] = ["search", "fetch", "run \"code\"", "<b>html</b>"];
const FAMILIES: [&str; 3] = ["claude-ai", "claude-code", "api"];

/// A deterministic synthetic run: several methods, tools, families and every error class.
/// `part` selects every `parts`-th request (to build shards whose union is the whole run).
fn synthetic(part: u64, parts: u64, lag_us: u64) -> Metrics {
    let mut m = Metrics::new(Duration::from_millis(500));
    // The runner records each request when it completes: feed them in completion order.
    let mut requests = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..6_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i % parts != part {
            continue;
        }
        let t0 = i * 2_000;
        let fam = FAMILIES[(x % 3) as usize];
        let (method, tool) = match x % 10 {
            0 => ("initialize", None),
            1 => ("tools/list", None),
            2 => ("notifications/initialized", None),
            _ => ("tools/call", Some(TOOLS[(x >> 8) as usize % TOOLS.len()])),
        };
        let outcome = match (x >> 20) % 50 {
            0 => Outcome::Connect,
            1 => Outcome::Timeout,
            2 => Outcome::Http(503),
            3 => Outcome::Http(429),
            4 => Outcome::JsonRpc(-32603),
            5 => Outcome::IsError,
            6 => Outcome::Tls,
            7 => Outcome::Protocol,
            8 => Outcome::Cancelled,
            _ => Outcome::Ok,
        };
        let latency = 200
            + (x >> 32) % 50_000
            + if (x >> 40).is_multiple_of(100) {
                2_000_000
            } else {
                0
            };
        let sent = t0 + lag_us * ((x >> 12) % 2);
        requests.push((t0 + latency, method, tool, fam, t0, sent, outcome, x));
        if tool.is_some() {
            m.record_args_size(100 + x % 5_000);
            m.record_result_size(1_000 + x % 100_000);
        }
        if method == "tools/call" && x.is_multiple_of(7) {
            m.record_sse_event("tools/call", latency / 2);
            m.record_progress_gap(1_000_000 + x % 10_000);
        }
        if i.is_multiple_of(100) {
            m.user_started(fam);
            m.session_opened(fam);
            m.stream_opened();
            m.record_fan_out(1 + x % 4);
            m.record_think("turn", 5_000_000 + x % 1_000_000);
            m.record_think("step", 500_000 + x % 100_000);
            m.record_turn(fam, 3_000_000 + x % 9_000_000);
            m.record_handshake_call(fam, 20_000 + x % 400_000);
        }
        if i % 300 == 299 {
            m.record_conversation(fam, 60_000_000 + x % 1_000_000, 7, 12);
            m.user_finished(fam);
            m.session_closed(fam);
            m.stream_closed();
        }
    }
    requests.sort_by_key(|r| r.0);
    for (done, method, tool, fam, t0, sent, outcome, x) in requests {
        let mut r = RequestRecord::new(method, fam, t0, done, outcome)
            .with_sent(sent)
            .with_first_byte(sent + (done - t0) / 3)
            .with_first_event(sent + (done - t0) / 2)
            .with_bytes(200 + x % 300, 1_000 + x % 70_000);
        if let Some(t) = tool {
            r = r.with_tool(t);
        }
        if outcome == Outcome::Timeout && x.is_multiple_of(2) {
            r = r.with_deadline(if tool.is_some() {
                "tool_call"
            } else {
                "handshake"
            });
        }
        m.record_request(&r);
    }
    m.advance(6_000 * 2_000 + 3_000_000);
    m
}

fn run_info(model: Model) -> RunInfo {
    let mut r = RunInfo::new("http://127.0.0.1:8080/mcp", model);
    r.users = Some(50);
    r.duration_us = 12_000_000;
    r.seed = 42;
    r.scenario = "claude".into();
    r.started_at = "2026-11-26T09:00:00Z".into();
    r
}

fn validate(v: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match its schema:\n{}",
        errors.join("\n")
    );
}

/// Same recorded values and counts (the histograms' allocated ranges may differ).
fn same(a: &hdrhistogram::Histogram<u64>, b: &hdrhistogram::Histogram<u64>) -> bool {
    let v = |h: &hdrhistogram::Histogram<u64>| {
        h.iter_recorded()
            .map(|x| (x.value_iterated_to(), x.count_at_value()))
            .collect::<Vec<_>>()
    };
    a.len() == b.len() && v(a) == v(b)
}

fn without_hdr(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(o) => {
            o.remove("hdr");
            for x in o.values_mut() {
                *x = without_hdr(x.take());
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                *x = without_hdr(x.take());
            }
        }
        _ => {}
    }
    v
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcpx-load-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn public_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Metrics>();
    send_sync::<Report>();
    send_sync::<Thresholds>();
    send::<mcpx_load::Live>();
}

#[test]
fn schema_file_matches_the_embedded_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json");
    assert_eq!(std::fs::read_to_string(path).unwrap(), REPORT_SCHEMA);
    let schema: serde_json::Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
    assert_eq!(schema["properties"]["format"]["const"], REPORT_FORMAT);
}

#[test]
fn synthetic_report_validates_and_round_trips() {
    let m = synthetic(0, 1, 0);
    let report = Report::from_metrics(&m, run_info(Model::Open));
    let v = report.to_json();
    validate(&v);
    assert_eq!(v["format"], REPORT_FORMAT);
    assert_eq!(report.summary.requests, 6_000);
    assert!(report.methods.iter().any(|s| s.name == "tools/call"));
    assert_eq!(report.tools.len(), TOOLS.len());
    assert_eq!(report.families.len(), FAMILIES.len());
    let e = &report.summary.errors_by_class;
    assert!(e.connect > 0 && e.timeout > 0 && e.tls > 0 && e.protocol > 0 && e.cancelled > 0);
    assert!(e.http.contains_key("503") && e.jsonrpc.contains_key("-32603") && e.is_error > 0);
    let by_deadline: u64 = e.timeout_by_deadline.values().sum();
    assert!(by_deadline > 0 && by_deadline < e.timeout, "{e:?}");
    assert!(e.timeout_by_deadline.contains_key("tool_call"));
    // isError answers have a latency; failures do not.
    assert_eq!(report.summary.latency_us.count, report.summary.answered);
    assert_eq!(
        report.summary.answered + report.summary.failed,
        report.summary.requests
    );
    assert!(report.summary.latency_us.p999 >= 2_000_000);
    assert!(!report.generator.behind);
    let first = report.summary.first_event_us.as_ref().unwrap();
    let ttfb = report.summary.ttfb_us.as_ref().unwrap();
    assert_eq!(first.count, 6_000);
    assert!(first.p50 > ttfb.p50);
    assert!(!report.fan_out.counts.is_empty());
    assert!(report.intervals.series.len() >= 24);
    let sum: u64 = report.intervals.series.iter().map(|p| p.requests).sum();
    assert_eq!(sum, 6_000);

    let path = tmp("report.json");
    report.write_json(&path).unwrap();
    let back = Report::read_json(&path).unwrap();
    let text = |r: &Report| serde_json::to_string_pretty(&r.to_json()).unwrap();
    let (a, b) = (text(&back), text(&report));
    for (la, lb) in a.lines().zip(b.lines()) {
        assert_eq!(la, lb);
    }
    assert_eq!(back, report);
    // A report rebuilt from its own JSON is the same report.
    let again = Report::from_metrics(&back.to_metrics().unwrap(), back.run.clone());
    validate(&again.to_json());
    // The `hdr` texts may differ in the histograms' allocated range, not in their values.
    assert_eq!(without_hdr(again.to_json()), without_hdr(report.to_json()));
    assert!(same(
        &again.summary.latency_us.histogram().unwrap(),
        &report.summary.latency_us.histogram().unwrap()
    ));
}

#[test]
fn wrong_format_is_refused() {
    let mut v = Report::from_metrics(&synthetic(0, 1, 0), run_info(Model::Open)).to_json();
    v["format"] = "mcpx-load-report/99".into();
    assert!(matches!(
        Report::from_json(v),
        Err(mcpx_load::ReportError::Format(_))
    ));
}

#[test]
fn shard_reports_merge_exactly() {
    let whole = Report::from_metrics(&synthetic(0, 1, 0), run_info(Model::Open));
    let shards: Vec<Report> = (0..3)
        .map(|i| {
            let mut info = run_info(Model::Open);
            info.shard = Some(format!("{i}/3"));
            // Through JSON, as `mcpx report merge` reads them.
            let r = Report::from_metrics(&synthetic(i, 3, 0), info);
            Report::from_json(r.to_json()).unwrap()
        })
        .collect();
    let merged = Report::merge(&shards).unwrap();
    validate(&merged.to_json());
    assert_eq!(merged.summary.requests, whole.summary.requests);
    assert_eq!(merged.summary.latency_us.p99, whole.summary.latency_us.p99);
    assert_eq!(
        merged.summary.latency_us.p999,
        whole.summary.latency_us.p999
    );
    assert_eq!(
        merged.summary.errors_by_class,
        whole.summary.errors_by_class
    );
    for m in &whole.methods {
        let n = merged.methods.iter().find(|x| x.name == m.name).unwrap();
        assert_eq!(
            (
                n.requests,
                n.latency_us.p50,
                n.latency_us.p99,
                n.latency_us.max
            ),
            (
                m.requests,
                m.latency_us.p50,
                m.latency_us.p99,
                m.latency_us.max
            ),
            "{}",
            m.name
        );
    }
    let a: Vec<(u64, u64, u64)> = merged
        .intervals
        .series
        .iter()
        .map(|p| (p.start_us, p.requests, p.p99_us))
        .collect();
    let b: Vec<(u64, u64, u64)> = whole
        .intervals
        .series
        .iter()
        .map(|p| (p.start_us, p.requests, p.p99_us))
        .collect();
    assert_eq!(a, b);
    // Per-family turn and handshake + call histograms merge exactly too.
    for f in &whole.families {
        let n = merged.families.iter().find(|x| x.name == f.name).unwrap();
        assert!(f.handshake_call_us.count > 0, "{}", f.name);
        assert!(
            same(
                &n.handshake_call_us.histogram().unwrap(),
                &f.handshake_call_us.histogram().unwrap()
            ),
            "{}",
            f.name
        );
        assert_eq!(
            n.handshake_call_us.p99, f.handshake_call_us.p99,
            "{}",
            f.name
        );
        assert_eq!(n.turn_us.count, f.turn_us.count, "{}", f.name);
        assert_eq!(n.turn_us.p99, f.turn_us.p99, "{}", f.name);
    }
    assert_eq!(merged.run.users, Some(150));
    assert!(merged.run.notes.iter().any(|n| n.contains("0/3, 1/3, 2/3")));
    assert!(Report::merge(&[]).is_err());
}

#[test]
fn interval_logs_merge_exactly() {
    let mut whole = Vec::new();
    hdrlog::write_interval_log(&synthetic(0, 1, 0), &mut whole).unwrap();
    let parts: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            let mut b = Vec::new();
            hdrlog::write_interval_log(&synthetic(i, 2, 0), &mut b).unwrap();
            b
        })
        .collect();
    let text = String::from_utf8(whole.clone()).unwrap();
    assert!(
        text.contains("Tag=tools/call,"),
        "{}",
        &text[..500.min(text.len())]
    );
    assert!(text.contains("HISTFAAA"));
    let mut merged = Vec::new();
    hdrlog::merge_interval_logs(&[&parts[0], &parts[1]], &mut merged).unwrap();
    let a = hdrlog::read_interval_log(&merged).unwrap();
    let mut b = hdrlog::read_interval_log(&whole).unwrap();
    b.sort_by(|x, y| (x.start_us, &x.tag).cmp(&(y.start_us, &y.tag)));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.start_us, &x.tag), (y.start_us, &y.tag));
        assert!(
            same(&x.histogram, &y.histogram),
            "{:?} at {}",
            x.tag,
            x.start_us
        );
    }
    let total: u64 = a
        .iter()
        .filter(|x| x.tag.is_none())
        .map(|x| x.histogram.len())
        .sum();
    let report = Report::from_metrics(&synthetic(0, 1, 0), run_info(Model::Open));
    assert_eq!(total, report.summary.answered);
    assert!(hdrlog::read_interval_log(b"garbage line\n").is_err());
}

#[test]
fn table_shows_methods_tools_errors_and_lag_warning() {
    let report = Report::from_metrics(&synthetic(0, 1, 3 * LAG_WARN_US), run_info(Model::Closed));
    validate(&report.to_json());
    assert!(report.generator.behind);
    assert!(report.notes.iter().any(|n| n == CLOSED_MODEL_NOTE));
    let mut out = Vec::new();
    report.print_table(&mut out, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "tools/call",
        "initialize",
        "search",
        "p99.9 ms",
        "HTTP 503",
        "tool_call",
        "JSON-RPC -32603",
        "isError",
        "family claude-code",
        "WARNING: the generator fell behind its schedule",
        "closed model",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'));
    let mut colored = Vec::new();
    report.print_table(&mut colored, true).unwrap();
    assert!(String::from_utf8(colored).unwrap().contains("\x1b[31m"));
}

#[test]
fn thresholds_pass_and_fail() {
    let report = Report::from_metrics(&synthetic(0, 1, 0), run_info(Model::Open));
    let mut ok = Thresholds::new();
    ok.add_max_p99("1h")
        .unwrap()
        .set_max_error_rate("50%")
        .unwrap();
    assert!(check(&report, &ok).is_empty());
    let mut bad = Thresholds::new();
    bad.add_max_p99("1ms").unwrap();
    bad.add_max_p99("tool:search=1ms").unwrap();
    bad.add_max_p99("no/such/method=1s").unwrap();
    bad.set_max_error_rate("0.1%").unwrap();
    let v = check(&report, &bad);
    assert_eq!(v.len(), 4, "{v:?}");
    assert!(v[0].message.contains("all requests") && v[0].message.contains("--max-p99"));
    assert!(v[1].message.contains("tool search"));
    assert!(v[2].message.contains("no requests"));
    assert!(v[3].message.contains("--max-error-rate"));
    assert_eq!(
        (
            exit::OK,
            exit::RUN_FAILED,
            exit::USAGE,
            exit::THRESHOLDS_FAILED
        ),
        (0, 1, 2, 3)
    );
}

#[test]
fn empty_and_failing_runs_report_cleanly() {
    // Nothing at all.
    let empty = Report::from_metrics(
        &Metrics::new(Duration::from_secs(1)),
        run_info(Model::Calls),
    );
    validate(&empty.to_json());
    assert_eq!(empty.summary.requests, 0);
    assert!(mcpx_load::html::render(&empty).contains("<svg id=\"chart-percentiles-tools\""));
    let mut out = Vec::new();
    empty.print_table(&mut out, false).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("errors: none"));
    // Every request failed: no latency at all, errors only; values past 1 h are clamped.
    let mut m = Metrics::new(Duration::from_secs(1));
    for i in 0..100u64 {
        m.record_request(&RequestRecord::new(
            "initialize",
            "api",
            i,
            i + 10,
            Outcome::Connect,
        ));
    }
    m.record_request(&RequestRecord::new(
        "ping",
        "api",
        0,
        5 * 3_600_000_000,
        Outcome::Ok,
    ));
    let r = Report::from_metrics(&m, run_info(Model::Open));
    validate(&r.to_json());
    assert_eq!(r.summary.failed, 100);
    assert_eq!(r.summary.latency_us.count, 1);
    assert_eq!(r.clamped, 1);
    assert!(r.notes.iter().any(|n| n.contains("clamped")));
    let merged = Report::merge(&[r.clone(), empty]).unwrap();
    assert_eq!(merged.summary.requests, 101);
    assert!(mcpx_load::html::render(&merged).contains("101 requests"));
}
