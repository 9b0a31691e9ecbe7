//! `mcpx record` and `mcpx replay` end to end, with the real binary on loopback:
//! - the official TypeScript SDK client through `mcpx record` to `mcpx serve`, then the trace
//!   replayed against `mcpx serve`: no divergence, every exchange performed (needs `MCPX_PEERS`;
//!   skipped with one loud line without it);
//! - the proxy streams SSE events as they come (not at the end), speaks h2c, and keeps secrets out
//!   of the trace;
//! - the shared sample trace and a hand-written mixed-era trace replay against `mcpx serve`;
//! - malformed trace lines fail with the line and the field named.
//!
//! Every process is bounded ([`BOUND`]) and killed on drop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcpx_client::{Client, ClientOptions, EventKind, HttpVersion};
use serde_json::{Value, json};

/// Any one process must end within this.
const BOUND: Duration = Duration::from_secs(90);

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpx-record-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed on drop.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mcpx serve --port 0 ARGS`: the process and its URL.
fn serve(extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    (Proc { child }, url)
}

/// `mcpx record` in front of `upstream` into `out`: the process, its stdout and the proxy's
/// base address.
fn record(upstream: &str, out: &Path) -> (Proc, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args([
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--out",
        ])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    (Proc { child }, stdout, base)
}

/// Stops the recorder with SIGTERM (as Ctrl-C would) and returns the rest of its output.
fn stop_record(mut p: Proc, mut stdout: BufReader<std::process::ChildStdout>) -> String {
    let pid = p.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM {pid}");
    let started = Instant::now();
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            let mut rest = String::new();
            stdout.read_to_string(&mut rest).unwrap();
            assert!(status.success(), "mcpx record failed: {rest}");
            return rest;
        }
        assert!(started.elapsed() < BOUND, "mcpx record did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to its end (bounded): exit code, stdout, stderr.
fn run(cmd: &mut Command) -> (i32, String, String) {
    let ran = support::run_with(cmd.env("NO_COLOR", "1"), None, BOUND);
    let Some(status) = ran.status else {
        panic!("{cmd:?} did not end within {BOUND:?}");
    };
    (status.code().unwrap_or(-1), ran.stdout, ran.stderr)
}

fn replay(args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args(["replay", "--no-progress"])
        .args(args))
}

/// The JSON report, checked against the report schema (with its replay-only `divergence`).
fn read_report(path: &Path) -> Value {
    let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(
        report["divergence"].is_object(),
        "no divergence in the replay report"
    );
    let schema: Value = serde_json::from_str(mcpx_load::report::REPORT_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match its schema: {errors:#?}"
    );
    report
}

fn read_trace(path: &Path) -> Vec<mcpx_trace::Event> {
    let f = std::fs::File::open(path).unwrap();
    mcpx_trace::Reader::new(BufReader::new(f))
        .unwrap()
        .read_all()
        .unwrap()
}

#[test]
fn typescript_sdk_through_record_then_replay_without_divergence() {
    let Some(peers) = std::env::var_os("MCPX_PEERS").map(PathBuf::from) else {
        eprintln!(
            "SKIPPED record/replay round trip with the TypeScript SDK: MCPX_PEERS is not set; ./scripts/test installs the peers and sets it"
        );
        return;
    };
    let node = peers.join("node_modules/.bin/node");
    assert!(node.exists(), "MCPX_PEERS lacks node: {}", node.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ts_client.mjs");
    let dir = tmp("ts");
    for mode in ["auto", "sse", "json"] {
        let (_server, url) = serve(&["--response-mode", mode]);
        let trace = dir.join(format!("{mode}.jsonl"));
        let (rec, rec_out, base) = record(&url, &trace);
        let (code, out, err) = run(Command::new(&node)
            .arg(&script)
            .args([&format!("{base}/mcp"), mode])
            .env("MCPX_PEERS", &peers));
        assert_eq!(code, 0, "TS SDK through the proxy ({mode}):\n{out}\n{err}");
        let summary = stop_record(rec, rec_out);
        assert!(summary.contains(" 0 dropped"), "{summary}");
        let events = read_trace(&trace);
        let requests: Vec<&mcpx_trace::Event> = events
            .iter()
            .filter(|e| e.k == mcpx_trace::Kind::Req)
            .collect();
        let methods: Vec<String> = requests.iter().filter_map(|e| e.method()).collect();
        for m in [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "resources/read",
        ] {
            assert!(
                methods.iter().any(|x| x == m),
                "{mode}: no {m} in {methods:?}"
            );
        }
        assert!(
            requests.iter().any(|e| e.http.as_deref() == Some("DELETE")),
            "{mode}"
        );
        if mode != "json" {
            assert!(
                events
                    .iter()
                    .any(|e| e.k == mcpx_trace::Kind::Sse && e.msg.is_some()),
                "{mode}: SSE events traced"
            );
        }
        // Session ids appear only as keys.
        for e in &events {
            if let Some(v) = e.hdr.get("mcp-session-id") {
                assert!(
                    v.starts_with('$'),
                    "a live session id reached the trace: {v}"
                );
            }
        }
        // The one user of the script, its session keyed.
        assert!(events.iter().all(|e| e.u == "u1"), "{mode}: one user");

        let report = dir.join(format!("{mode}.json"));
        let (code, out, err) = replay(&[
            trace.to_str().unwrap(),
            &url,
            "--json",
            report.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "replay ({mode}):\n{out}\n{err}");
        let r = read_report(&report);
        let div = &r["divergence"];
        assert_eq!(
            div["exchanges"].as_u64(),
            Some(requests.len() as u64),
            "{mode}: {div}"
        );
        assert_eq!(div["diverged"], 0, "{mode}: the replay diverged: {div:#}");
        assert_eq!(
            r["summary"]["requests"].as_u64(),
            Some(requests.len() as u64)
        );
        for class in ["connect", "tls", "protocol", "timeout"] {
            assert_eq!(
                r["summary"]["errors_by_class"][class], 0,
                "{mode} {class}: {}",
                r["summary"]
            );
        }
        assert!(!out.contains("went without the live session id"), "{out}");
        assert!(!out.contains("went with their recorded id"), "{out}");
        eprintln!(
            "ts-sdk record -> replay, --response-mode {mode}: {} exchanges, 0 divergences",
            requests.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn proxy_streams_sse_as_it_comes_speaks_h2c_and_redacts_secrets() {
    let (_server, url) = serve(&[]);
    let dir = tmp("proxy");
    let trace = dir.join("t.jsonl");
    let (rec, rec_out, base) = record(&url, &trace);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o = ClientOptions::new();
        o.header(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer TOPSECRET-TOKEN"),
        );
        o.request_timeout(Duration::from_secs(20));
        let session = Client::connect(&format!("{base}/mcp"), o).await.unwrap();
        // The progress tool reports 0, 50, 100 over ~100 ms: through the proxy the first event
        // must arrive well before the response, not with it.
        let mut ex = session
            .request("tools/call")
            .params_json(&json!({"name": "test_tool_with_progress", "arguments": {}}))
            .unwrap()
            .progress(true)
            .send()
            .await
            .unwrap();
        assert!(ex.is_sse());
        let mut first_progress = None;
        let mut answer = None;
        while let Some(ev) = ex.next().await.unwrap() {
            match ev.kind() {
                EventKind::Progress => {
                    first_progress.get_or_insert(ev.at());
                }
                EventKind::Response => answer = Some(ev.at()),
                _ => {}
            }
        }
        let gap = answer.unwrap() - first_progress.unwrap();
        assert!(
            gap >= Duration::from_millis(60),
            "SSE was buffered by the proxy: {gap:?}"
        );
        let _ = session
            .call_tool("echo", &json!({"text": "hi", "api_token": "TOPSECRET-ARG"}))
            .await;
        session.close().await.unwrap();

        // HTTP/2 with prior knowledge through the same port.
        let mut o = ClientOptions::new();
        o.http_version(HttpVersion::Http2);
        let h2 = Client::connect(&format!("{base}/mcp"), o).await.unwrap();
        let out = h2
            .call_tool("echo", &json!({"text": "over h2c"}))
            .await
            .unwrap();
        assert_eq!(out.text, "over h2c");
        h2.close().await.unwrap();
    });
    drop(rt);
    stop_record(rec, rec_out);
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(!text.contains("TOPSECRET"), "a secret reached the trace");
    assert!(text.contains("Bearer $redacted:"), "authorization redacted");
    assert!(
        text.contains(r#""api_token":{"$redacted":{"bytes":15"#),
        "argument redacted"
    );
    assert!(text.contains("over h2c"));
    let events = read_trace(&trace);
    // The bearer token groups both sessions of the first client into one user; the h2 client
    // (no token) is a user of its own.
    let users: std::collections::BTreeSet<&str> = events.iter().map(|e| e.u.as_str()).collect();
    assert_eq!(users.len(), 2, "{users:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two users, both eras: a legacy session (initialize, initialized, GET stream, a call, a
/// streamed call with progress, DELETE, stream closed by the client) and a 2026-07-28 user
/// (server/discover, a stateless call with its headers). Shapes as `mcpx serve` answers them.
const MIXED_ERA: &str = r#"{"format":"mcpx-trace/1","start":"2026-11-26T10:00:00.000000Z","transport":"streamable-http","group":"session","note":"hand-written mixed-era trace"}
{"t":0,"u":"legacy","x":1,"d":"c2s","k":"req","http":"POST","hdr":{"accept":"application/json, text/event-stream","user-agent":"claude-code/2.1.274 (cli)"},"msg":{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"claude-code","version":"2.1.274"}}},"bytes":150}
{"t":1500,"u":"legacy","s":"L1","x":1,"d":"s2c","k":"resp","status":200,"ct":"application/json","hdr":{"mcp-session-id":"$L1"},"msg":{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"x","version":"1"}}},"bytes":120}
{"t":2000,"u":"legacy","s":"L1","x":2,"d":"c2s","k":"req","http":"POST","hdr":{"mcp-session-id":"$L1","mcp-protocol-version":"2025-11-25"},"msg":{"jsonrpc":"2.0","method":"notifications/initialized"},"bytes":54}
{"t":2400,"u":"legacy","s":"L1","x":2,"d":"s2c","k":"resp","status":202,"bytes":0}
{"t":3000,"u":"legacy","s":"L1","x":3,"d":"c2s","k":"req","http":"GET","hdr":{"mcp-session-id":"$L1","mcp-protocol-version":"2025-11-25","accept":"text/event-stream"},"bytes":0}
{"t":3300,"u":"legacy","s":"L1","x":3,"d":"s2c","k":"head","status":200,"ct":"text/event-stream"}
{"t":40000,"u":"legacy","s":"L1","x":4,"d":"c2s","k":"req","http":"POST","hdr":{"mcp-session-id":"$L1","mcp-protocol-version":"2025-11-25"},"msg":{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"echo","arguments":{"text":"legacy says hi"},"_meta":{"claudecode/toolUseId":"toolu_01"}}},"bytes":140}
{"t":41000,"u":"legacy","s":"L1","x":4,"d":"s2c","k":"resp","status":200,"ct":"application/json","msg":{"jsonrpc":"2.0","id":"call-1","result":{"content":[{"type":"text","text":"legacy says hi"}]}},"bytes":90}
{"t":60000,"u":"legacy","s":"L1","x":5,"d":"c2s","k":"req","http":"POST","hdr":{"mcp-session-id":"$L1","mcp-protocol-version":"2025-11-25"},"msg":{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":5}}},"bytes":120}
{"t":60500,"u":"legacy","s":"L1","x":5,"d":"s2c","k":"head","status":200,"ct":"text/event-stream"}
{"t":60600,"u":"legacy","s":"L1","x":5,"d":"s2c","k":"sse","sse":"a-0"}
{"t":60700,"u":"legacy","s":"L1","x":5,"d":"s2c","k":"sse","sse":"a-1","msg":{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":5,"progress":0,"total":100}},"bytes":100}
{"t":161000,"u":"legacy","s":"L1","x":5,"d":"s2c","k":"sse","sse":"a-2","msg":{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"done"}]}},"bytes":80}
{"t":161100,"u":"legacy","s":"L1","x":5,"d":"s2c","k":"end","bytes":400}
{"t":170000,"u":"legacy","s":"L1","x":6,"d":"c2s","k":"req","http":"DELETE","hdr":{"mcp-session-id":"$L1","mcp-protocol-version":"2025-11-25"},"bytes":0}
{"t":170400,"u":"legacy","s":"L1","x":6,"d":"s2c","k":"resp","status":200,"bytes":0}
{"t":171000,"u":"legacy","s":"L1","x":3,"d":"c2s","k":"end","bytes":0}
{"t":20000,"u":"modern","x":7,"d":"c2s","k":"req","http":"POST","hdr":{"mcp-protocol-version":"2026-07-28","mcp-method":"server/discover"},"msg":{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"claude-ai","version":"0.1.0"}}}},"bytes":200}
{"t":21000,"u":"modern","x":7,"d":"s2c","k":"resp","status":200,"ct":"application/json","msg":{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{"tools":{}},"ttlMs":3600000,"cacheScope":"public"}},"bytes":200}
{"t":90000,"u":"modern","x":8,"d":"c2s","k":"req","http":"POST","hdr":{"mcp-protocol-version":"2026-07-28","mcp-method":"tools/call","mcp-name":"echo"},"msg":{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"modern says hi"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"claude-ai","version":"0.1.0"}}}},"bytes":250}
{"t":91000,"u":"modern","x":8,"d":"s2c","k":"resp","status":200,"ct":"application/json","msg":{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"modern says hi"}],"resultType":"complete"}},"bytes":99}
"#;

#[test]
fn mixed_era_trace_replays_without_divergence_multiplied_and_absolute() {
    let (_server, url) = serve(&[]);
    let dir = tmp("mixed");
    // Events in time order, as a recorder writes them.
    let mut lines: Vec<&str> = MIXED_ERA.lines().collect();
    let header = lines.remove(0);
    lines.sort_by_key(|l| {
        serde_json::from_str::<Value>(l).unwrap()["t"]
            .as_u64()
            .unwrap()
    });
    let trace = dir.join("mixed.jsonl");
    std::fs::write(&trace, format!("{header}\n{}\n", lines.join("\n"))).unwrap();
    for (extra, copies) in [
        (&["--speed", "2"][..], 1u64),
        (&["--multiply", "3", "--speed", "4"][..], 3),
        (&["--timing", "absolute"][..], 1),
    ] {
        let report = dir.join("r.json");
        let mut args = vec![
            trace.to_str().unwrap(),
            &url,
            "--json",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = replay(&args);
        assert_eq!(code, 0, "{extra:?}:\n{out}\n{err}");
        let r = read_report(&report);
        let div = &r["divergence"];
        assert_eq!(
            div["exchanges"].as_u64(),
            Some(8 * copies),
            "{extra:?}: {div}"
        );
        assert_eq!(div["diverged"], 0, "{extra:?}: {div:#}\n{out}");
        let pop = &r["population"];
        assert_eq!(
            pop["sessions_opened"].as_u64(),
            Some(copies),
            "{extra:?}: {pop}"
        );
        assert_eq!(
            pop["sessions_closed"].as_u64(),
            Some(copies),
            "{extra:?}: {pop}"
        );
        assert_eq!(
            pop["streams_opened"].as_u64(),
            Some(copies),
            "{extra:?}: {pop}"
        );
    }
    // Poisson arrivals over the trace's users, looped for a second.
    let report = dir.join("r.json");
    let (code, out, err) = replay(&[
        trace.to_str().unwrap(),
        &url,
        "--users-per-s",
        "20",
        "--loop",
        "--duration",
        "1s",
        "--speed",
        "4",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = read_report(&report);
    let div = &r["divergence"];
    let runs = r["families"][0]["users_started"].as_u64().unwrap();
    assert!(
        (8..=40).contains(&runs),
        "{runs} user runs for 20/s over 1 s: {out}"
    );
    assert!(div["exchanges"].as_u64().unwrap() >= 2 * runs, "{div}");
    assert_eq!(div["diverged"], 0, "{div:#}");

    // A wrong path: every exchange answers 404, no session is ever issued, and the requests
    // that needed one do not wait for it (the run takes about the trace's length, not 30 s
    // per request).
    let report = dir.join("r.json");
    let started = Instant::now();
    let (code, out, err) = replay(&[
        trace.to_str().unwrap(),
        &format!("{url}-nowhere"),
        "--json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let div = &read_report(&report)["divergence"];
    assert_eq!(div["diverged"], 8, "{div:#}");
    assert!(out.contains("went without the live session id"), "{out}");

    // The same trace against a server that streams every answer: the replay must notice.
    let (_sse_server, sse_url) = serve(&["--response-mode", "sse"]);
    let report = dir.join("r.json");
    let (code, out, err) = replay(&[
        trace.to_str().unwrap(),
        &sse_url,
        "--speed",
        "4",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let div = &read_report(&report)["divergence"];
    assert!(
        div["by_kind"]["content_type"].as_u64().unwrap() >= 2,
        "{div:#}"
    );
    assert!(out.contains("content_type"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sample_trace_replays_against_mcpx_serve_and_reports_divergence() {
    let (_server, url) = serve(&[]);
    let dir = tmp("sample");
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcpx-trace/tests/data/sample-trace.jsonl");
    let report = dir.join("r.json");
    let (code, out, err) = replay(&[
        sample.to_str().unwrap(),
        &url,
        "--speed",
        "100",
        "--timeout",
        "10s",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = read_report(&report);
    let div = &r["divergence"];
    // The sample was recorded against another server ("notes-hub"): its tools do not exist
    // here, so those calls diverge in error class; the handshakes and lists do not fail.
    assert!(div["exchanges"].as_u64().unwrap() > 20, "{div}");
    let calls = &div["by_method"]["tools/call search_notes"];
    assert!(calls.is_object(), "{div:#}");
    assert!(out.contains("divergence: "), "{out}");
    for class in ["connect", "tls", "protocol"] {
        assert_eq!(
            r["summary"]["errors_by_class"][class], 0,
            "{class}: {}",
            r["summary"]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_trace_lines_are_named() {
    let dir = tmp("bad");
    let head = r#"{"format":"mcpx-trace/1","start":"2026-11-26T10:00:00.000000Z","transport":"streamable-http","group":"session"}"#;
    let ok = r#"{"t":1,"u":"a","x":1,"d":"c2s","k":"req","http":"POST","msg":{"jsonrpc":"2.0","id":1,"method":"ping"}}"#;
    let cases = [
        (format!("{head}\n{ok}\n{{\"t\":\"soon\",\"u\":\"a\",\"d\":\"c2s\",\"k\":\"end\"}}\n"), "line 3, field `t`"),
        (format!("{head}\n{{\"t\":5,\"d\":\"c2s\",\"k\":\"end\"}}\n"), "line 2, field `u`"),
        (format!("{head}\n{{\"t\":5,\"u\":\"a\",\"d\":\"sideways\",\"k\":\"end\"}}\n"), "line 2, field `d`"),
        (format!("{head}\n{ok}\n{ok}\n{{\"t\":7,\"u\":\"a\",\"x\":1,\"d\":\"s2c\",\"k\":\"resp\"}}\n"), "line 4, field `status`"),
        (format!("{head}\n{{not json\n{ok}\n"), "line 2"),
        ("{\"format\":\"mcpx-trace/2\",\"start\":\"x\",\"transport\":\"stdio\",\"group\":\"session\"}\n".to_owned(), "line 1, field `format`"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.jsonl"));
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = replay(&[path.to_str().unwrap(), "http://127.0.0.1:9/mcp"]);
        assert_eq!(code, 1, "case {i}: {out}\n{err}");
        assert!(err.contains(want), "case {i}: expected {want:?} in:\n{err}");
        assert!(
            err.contains(&format!("bad{i}.jsonl")),
            "the file is named: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_interrupted_replay_ends_promptly_with_its_report() {
    let (_server, url) = serve(&[]);
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcpx-trace/tests/data/sample-trace.jsonl");
    // At speed 1 the sample lasts 96 s; SIGTERM after 1.5 s must end it within seconds, open
    // GET streams and long calls included.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args(["replay", "--no-progress"])
        .arg(&sample)
        .arg(&url)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let child = Proc { child };
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let mut child = child;
    let status = loop {
        if let Some(s) = child.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "replay did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap();
    assert!(status.success(), "{out}");
    assert!(out.contains("stopped early"), "{out}");
    assert!(out.contains("divergence: "), "{out}");
}

#[test]
fn record_refuses_a_bad_upstream_before_listening() {
    let dir = tmp("badup");
    let (code, out, err) = run(Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .args([
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "https://example.test/mcp",
            "--out",
        ])
        .arg(dir.join("t.jsonl")));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("--upstream"), "{err}");
    assert!(!out.contains("clients connect to"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
