//! `mcpx load` end to end: the real binary against the embedded mock and against an in-process
//! server, with its reports validated against the checked-in JSON Schema, its exit codes, and
//! the coordinated-omission check (a server that stalls once: the report's p99 must show it).
//! Every run is a few seconds of scaled time on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
use serde_json::{Value, json};

/// A run must finish within this, whatever happens (bounded tests).
const BOUND: Duration = Duration::from_secs(60);

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpx-load-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `mcpx load ARGS`; returns the exit code and stdout.
fn mcpx_load(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .arg("load")
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if status.code() != Some(0) {
                eprintln!("stdout:\n{stdout}\nstderr:\n{stderr}");
            }
            return (status.code().unwrap_or(-1), stdout);
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            panic!("mcpx load did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `mcpx load URL --scenario SCENARIO --users USERS` for 2 s (1 s drain), its JSON report to
/// `json`; returns the exit code and stdout.
fn run_scenario(url: &str, scenario: &Path, users: u32, json: &Path) -> (i32, String) {
    let users = users.to_string();
    mcpx_load(&[
        url,
        "--scenario",
        scenario.to_str().unwrap(),
        "--users",
        &users,
        "--duration",
        "2s",
        "--drain",
        "1s",
        "--no-progress",
        "--json",
        json.to_str().unwrap(),
    ])
}

fn read_report(path: &Path) -> Value {
    let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
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

fn method<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

#[test]
fn the_demo_runs_and_writes_every_report() {
    let dir = tmp("demo");
    let (json, html, hlog) = (dir.join("r.json"), dir.join("r.html"), dir.join("r.hlog"));
    let (code, stdout) = mcpx_load(&[
        "--duration",
        "2s",
        "--drain",
        "1s",
        "--time-scale",
        "0.02",
        "--no-progress",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--hdr-log",
        hlog.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("embedded Claude-like mock"), "{stdout}");
    assert!(stdout.contains("tools/call"), "{stdout}");
    let report = read_report(&json);
    let total = &report["summary"];
    assert!(total["requests"].as_u64().unwrap() > 300, "{total}");
    // The mock never breaks the protocol: no transport or protocol errors at all.
    for class in ["connect", "tls", "protocol"] {
        assert_eq!(total["errors_by_class"][class], 0, "{class}: {total}");
    }
    // Both eras and the whole Claude mix appear.
    for m in [
        "initialize",
        "notifications/initialized",
        "server/discover",
        "tools/list",
        "tools/call",
        "GET",
        "subscriptions/listen",
    ] {
        assert!(method(&report, m)["requests"].as_u64().unwrap() > 0, "{m}");
    }
    // Turns and conversations per family, and claude.ai's handshake + call latency (a
    // session before each call) which Claude Code (one session, kept) never has.
    let family = |name: &str| -> &Value {
        report["families"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    };
    for name in ["claude_ai", "claude_code", "messages_api"] {
        let f = family(name);
        assert!(f["turn_us"]["count"].as_u64().unwrap() > 0, "{name}: {f}");
        assert!(
            f["conversation_us"]["count"].as_u64().unwrap() > 0,
            "{name}"
        );
        // A conversation holds at least one turn.
        assert!(
            f["conversation_us"]["max"].as_u64().unwrap() >= f["turn_us"]["p50"].as_u64().unwrap(),
            "{name}: {f}"
        );
    }
    let ai = &family("claude_ai")["handshake_call_us"];
    assert!(ai["count"].as_u64().unwrap() > 0, "claude_ai: {ai}");
    // Each sample spans a handshake and a call: none is shorter than the fastest call plus the
    // fastest initialize.
    let fastest = |m: &str| method(&report, m)["latency_us"]["min"].as_u64().unwrap();
    assert!(
        ai["min"].as_u64().unwrap() >= fastest("tools/call") + fastest("initialize"),
        "{ai}"
    );
    assert_eq!(family("claude_code")["handshake_call_us"]["count"], 0);
    assert!(
        stdout.contains("turns:") && stdout.contains("handshake + call"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<svg"), "the HTML report has charts");
    assert!(
        html.contains("handshake + call"),
        "the HTML report shows it"
    );
    assert!(std::fs::metadata(&hlog).unwrap().len() > 100);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exit_codes_for_thresholds_and_usage() {
    let (code, _) = mcpx_load(&[
        "--duration",
        "1s",
        "--drain",
        "0s",
        "--time-scale",
        "0.02",
        "--no-progress",
        "--max-p99",
        "1us",
    ]);
    assert_eq!(code, 3, "a failed threshold exits 3");
    let (code, _) = mcpx_load(&["--rate", "0"]);
    assert_eq!(code, 2, "a usage error exits 2");
    let (code, _) = mcpx_load(&["--duration", "forever"]);
    assert_eq!(code, 2);
    let (code, _) = mcpx_load(&["http://127.0.0.1:1/mcp", "--duration", "1s"]);
    assert_eq!(code, 1, "an unreachable target exits 1");
}

/// A server whose only tool stalls every call that arrives during one second of the run (a GC
/// pause, a lock convoy): an open-model load test must see it in its p99, because the calls
/// that were due during the stall are measured from when they were due.
#[test]
fn a_stall_shows_in_p99_no_coordinated_omission() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let stalled_calls = Arc::new(AtomicU64::new(0));
    let url = rt.block_on(async {
        let mut handlers = Handlers::new();
        let stalled = stalled_calls.clone();
        handlers.tool(
            ToolDef::new("lookup")
                .description("Looks something up")
                .input_schema(json!({"type":"object","properties":{"q":{"type":"string"}}}))
                .annotations(json!({"readOnlyHint": true})),
            move |_ctx, _a: Value| {
                let stalled = stalled.clone();
                async move {
                    // The stall: from 1.5 s to 2.5 s after start, nothing is answered.
                    let now = started.elapsed();
                    let (from, to) = (Duration::from_millis(1500), Duration::from_millis(2500));
                    if now >= from && now < to {
                        stalled.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(to - now).await;
                    }
                    Ok(ToolResult::text("found"))
                }
            },
        );
        let server = Server::builder().handlers(handlers).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(server.serve(listener, std::future::pending()));
        url
    });
    let dir = tmp("stall");
    let json = dir.join("r.json");
    let (code, stdout) = mcpx_load(&[
        &url,
        "--call-rate",
        "40",
        "--users",
        "4",
        "--duration",
        "4s",
        "--drain",
        "1s",
        "--no-progress",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stalled_calls.load(Ordering::Relaxed) > 0,
        "the stall happened"
    );
    let report = read_report(&json);
    let calls = method(&report, "tools/call");
    let p99 = calls["latency_us"]["p99"].as_u64().unwrap();
    let p50 = calls["latency_us"]["p50"].as_u64().unwrap();
    // ~40 calls were due during the stall (a tenth of the run): they waited up to a second.
    assert!(p99 >= 500_000, "p99 {p99} us hides the 1 s stall: {calls}");
    assert!(p50 < 200_000, "p50 {p50} us: most calls were fast");
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The one-tool scenario, made to call `confirm` with users that declare elicitation and
/// accept every form after 20 ms, in the era `modern_p` draws (0: sessions, 1: 2026-07-28).
fn elicit_scenario(dir: &Path, modern_p: &str) -> PathBuf {
    elicit_scenario_for(dir, modern_p, "confirm", "{ text = \"hello\" }")
}

/// [`elicit_scenario`] calling `tool` with `arguments` (a TOML inline table).
fn elicit_scenario_for(dir: &Path, modern_p: &str, tool: &str, arguments: &str) -> PathBuf {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/generator/one-tool.toml"),
    )
    .unwrap();
    let mut text = base.clone();
    for (from, to) in [
        (
            "steps = { dist = \"constant\", value = 1000000 }",
            "steps = { dist = \"constant\", value = 3 }".to_owned(),
        ),
        (
            "elicitation_accept_p = 0.0",
            "elicitation_accept_p = 1.0".to_owned(),
        ),
        (
            "elicitation_delay = { dist = \"constant\", value_ms = 0 }",
            "elicitation_delay = { dist = \"constant\", value_ms = 20 }".to_owned(),
        ),
        (
            "capabilities = [ { value = {}, weight = 1.0 } ]",
            "capabilities = [ { value = { elicitation = {} }, weight = 1.0 } ]".to_owned(),
        ),
        ("modern_p = 0.0", format!("modern_p = {modern_p}")),
        ("name = \"echo\"", format!("name = \"{tool}\"")),
        (
            "arguments = { text = \"hello\" }",
            format!("arguments = {arguments}"),
        ),
    ] {
        assert!(text.contains(from), "one-tool.toml changed: {from}");
        text = text.replace(from, &to);
    }
    let path = dir.join(format!("elicit-{tool}-{modern_p}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Server-to-client requests are answered by the virtual users' Answer ops in both eras: in
/// the session era an `elicitation/create` on the call's SSE stream (answered by a POST), in
/// 2026-07-28 an `input_required` result (MRTR: answered in a retry that carries
/// `inputResponses` and the sealed `requestState`). The server counts the accepted answers
/// it saw and the retries that came back with its state.
#[test]
fn server_requests_and_mrtr_are_answered_by_the_users() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let url = rt.block_on(async {
        let mut handlers = Handlers::new();
        let (acc, ret) = (accepted.clone(), retries.clone());
        handlers.tool(
            ToolDef::new("confirm")
                .description("Asks the user to confirm")
                .input_schema(json!({"type":"object","properties":{"text":{"type":"string"}}}))
                .annotations(json!({"readOnlyHint": true})),
            move |ctx: mcpx_server::RequestContext, _a: Value| {
                let (acc, ret) = (acc.clone(), ret.clone());
                async move {
                    if ctx.has_request_state() {
                        ret.fetch_add(1, Ordering::Relaxed);
                    }
                    let schema = json!({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]});
                    let asked = ctx
                        .ask(
                            "elicitation/create",
                            json!({"message": "Proceed?", "requestedSchema": schema}),
                        )
                        .await;
                    Ok(match asked {
                        Ok(answer) if answer["action"] == "accept" => {
                            acc.fetch_add(1, Ordering::Relaxed);
                            ToolResult::text("confirmed")
                        }
                        Ok(answer) => ToolResult::error(format!("not accepted: {answer}")),
                        Err(e) => ToolResult::error(format!("ask failed: {e}")),
                    })
                }
            },
        );
        let server = Server::builder().handlers(handlers).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(server.serve(listener, std::future::pending()));
        url
    });
    let dir = tmp("elicit");
    for modern_p in ["0.0", "1.0"] {
        let before = accepted.load(Ordering::Relaxed);
        let scenario = elicit_scenario(&dir, modern_p);
        let json = dir.join(format!("r-{modern_p}.json"));
        let (code, stdout) = run_scenario(&url, &scenario, 3, &json);
        assert_eq!(code, 0, "{stdout}");
        // A closed model says so, once.
        assert_eq!(stdout.matches("note: closed model").count(), 1, "{stdout}");
        let report = read_report(&json);
        let total = &report["summary"];
        for class in ["connect", "tls", "protocol", "is_error"] {
            assert_eq!(
                total["errors_by_class"][class], 0,
                "modern_p {modern_p}: {class}: {total}"
            );
        }
        let answered = accepted.load(Ordering::Relaxed) - before;
        assert!(answered > 5, "modern_p {modern_p}: {answered} accepted");
        // Every accepted form was one answer the users sent.
        let responses = method(&report, "(response)")["requests"].as_u64().unwrap();
        assert!(
            responses >= answered,
            "modern_p {modern_p}: {responses} answers sent, {answered} accepted"
        );
        let calls = method(&report, "tools/call")["requests"].as_u64().unwrap();
        if modern_p == "1.0" {
            // MRTR: each confirmed call is an input_required round and a retry with the state.
            assert!(retries.load(Ordering::Relaxed) >= answered, "retries");
            assert!(
                calls >= 2 * answered,
                "{calls} calls for {answered} answers"
            );
            assert!(
                method(&report, "server/discover")["requests"]
                    .as_u64()
                    .unwrap()
                    > 0
            );
        } else {
            assert_eq!(
                retries.load(Ordering::Relaxed),
                0,
                "no MRTR in the session era"
            );
            assert!(calls >= answered);
        }
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session-era user that gives up on a call sends `notifications/cancelled` naming the
/// call's JSON-RPC id in the call's session. The server sits behind a hyper layer that notes
/// every `tools/call` (session, id) and every cancellation's (session, requestId): each
/// cancellation must name a call of its own session. Every call here outlives the user's
/// patience (cancelled after 100 ms; the tool takes 5 s).
#[test]
fn a_cancelled_call_is_named_by_its_own_id() {
    use http_body_util::BodyExt;
    use std::collections::HashSet;
    use std::sync::Mutex;

    type Seen = Arc<Mutex<(HashSet<(String, i64)>, Vec<(String, i64)>)>>;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen: Seen = Arc::default();
    let url = rt.block_on(async {
        let mut handlers = Handlers::new();
        handlers.tool(
            ToolDef::new("slow")
                .description("Takes its time")
                .input_schema(json!({"type":"object","properties":{"text":{"type":"string"}}}))
                .annotations(json!({"readOnlyHint": true})),
            move |ctx: mcpx_server::RequestContext, _a: Value| async move {
                tokio::select! {
                    () = ctx.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                Ok(ToolResult::text("done"))
            },
        );
        let server = Server::builder().handlers(handlers).build().unwrap();
        let mcp = server.into_service();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (mcp, seen) = (mcp.clone(), seen.clone());
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (mut mcp, seen) = (mcp.clone(), seen.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let session = parts
                                .headers
                                .get("mcp-session-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            if let Ok(msg) = serde_json::from_slice::<Value>(&body) {
                                let mut seen = seen.lock().unwrap();
                                match msg["method"].as_str() {
                                    Some("tools/call") => {
                                        if let Some(id) = msg["id"].as_i64() {
                                            seen.0.insert((session, id));
                                        }
                                    }
                                    Some("notifications/cancelled") => {
                                        let id = msg["params"]["requestId"].as_i64().unwrap_or(-1);
                                        seen.1.push((session, id));
                                    }
                                    _ => {}
                                }
                            }
                            let req =
                                hyper::Request::from_parts(parts, http_body_util::Full::new(body));
                            tower_service::Service::call(&mut mcp, req).await
                        }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service),
                );
            }
        });
        url
    });
    let dir = tmp("cancel");
    let scenario = elicit_scenario_for(&dir, "0.0", "slow", "{ text = \"hello\" }");
    let text = std::fs::read_to_string(&scenario).unwrap();
    let mut changed = text.clone();
    for (from, to) in [
        ("cancel_p = 0.0", "cancel_p = 1.0"),
        (
            "cancel_after = { dist = \"constant\", value_ms = 1000 }",
            "cancel_after = { dist = \"constant\", value_ms = 100 }",
        ),
    ] {
        assert!(changed.contains(from), "one-tool.toml changed: {from}");
        changed = changed.replace(from, to);
    }
    std::fs::write(&scenario, changed).unwrap();
    let json = dir.join("r.json");
    let (code, stdout) = run_scenario(&url, &scenario, 2, &json);
    assert_eq!(code, 0, "{stdout}");
    let report = read_report(&json);
    let calls = method(&report, "tools/call");
    let user_cancelled = calls["errors_by_class"]["cancelled"].as_u64().unwrap();
    let notified = method(&report, "notifications/cancelled")["requests"]
        .as_u64()
        .unwrap();
    assert!(
        user_cancelled >= 6,
        "{user_cancelled} calls cancelled: {calls}"
    );
    assert!(
        notified >= 6,
        "{notified} notifications for {user_cancelled} cancels"
    );
    let (calls_seen, cancels_seen) = std::mem::take(&mut *seen.lock().unwrap());
    assert!(cancels_seen.len() as u64 >= notified, "{cancels_seen:?}");
    for cancel in &cancels_seen {
        assert!(
            calls_seen.contains(cancel),
            "{cancel:?} names no call of its session: {calls_seen:?}"
        );
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `mcpx ARGS` (a server) and waits until it accepts connections on `port`.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(args: &[&str], port: u16) -> Serve {
    let child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let s = Serve(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mcpx serve did not open {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}

/// `mcpx load --stdio -- mcpx serve --stdio` and `mcpx load http://.../sse` against
/// `mcpx serve --legacy-sse`: the fixtures' `test_elicitation` asks the user on every call, over
/// a channel (the process's stdout, the legacy GET stream) and in both eras on stdio (MRTR in
/// 2026-07-28). Zero protocol and isError errors: every form was answered by a user's Answer op.
#[test]
fn channels_answer_server_requests_through_the_users() {
    let dir = tmp("channels");
    let mcpx = env!("CARGO_BIN_EXE_mcpx");
    let port = free_port();
    let port_s = port.to_string();
    let _legacy = serve(&["--port", &port_s, "--legacy-sse"], port);
    let legacy_url = format!("http://127.0.0.1:{port}/sse");
    let runs: [(&str, &str, Vec<&str>); 3] = [
        (
            "stdio-session",
            "0.0",
            vec!["--stdio", "--", mcpx, "serve", "--stdio"],
        ),
        (
            "stdio-modern",
            "1.0",
            vec!["--stdio", "--", mcpx, "serve", "--stdio"],
        ),
        (
            "legacy-sse",
            "0.0",
            vec![legacy_url.as_str(), "--legacy-sse"],
        ),
    ];
    for (what, modern_p, target) in runs {
        let scenario = elicit_scenario_for(
            &dir,
            modern_p,
            "test_elicitation",
            "{ message = \"Who are you?\" }",
        );
        let json = dir.join(format!("{what}.json"));
        let mut args = vec![
            "--scenario",
            scenario.to_str().unwrap(),
            "--users",
            "3",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--allow-destructive",
            "--no-progress",
            "--json",
            json.to_str().unwrap(),
        ];
        // The target last: a stdio command ends the arguments.
        args.extend(target.iter().copied());
        let (code, stdout) = mcpx_load(&args);
        assert_eq!(code, 0, "{what}: {stdout}");
        let report = read_report(&json);
        let total = &report["summary"];
        for class in ["connect", "tls", "protocol", "is_error", "timeout"] {
            assert_eq!(
                total["errors_by_class"][class], 0,
                "{what}: {class}: {total}"
            );
        }
        let calls = method(&report, "tools/call");
        let answered = calls["answered"].as_u64().unwrap();
        assert!(answered > 3, "{what}: {calls}");
        let responses = method(&report, "(response)")["requests"].as_u64().unwrap();
        assert!(
            responses >= answered / 2,
            "{what}: {responses} answers for {answered} calls"
        );
        let notes = report["run"]["notes"].to_string();
        assert!(
            notes.contains(if what == "legacy-sse" {
                "legacy HTTP+SSE"
            } else {
                "one server process per MCP session"
            }),
            "{what}: {notes}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Discovery mode never calls a tool that may be destructive unless `--allow-destructive` says
/// so: a tool without annotations counts as destructive (the spec's defaults), one marked
/// `readOnlyHint` does not. The run names the tools it leaves out; a server whose every tool may
/// be destructive is a usage error (exit 2) saying which flag to add.
#[test]
fn discovery_leaves_out_tools_that_may_be_destructive() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let calls = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let serve = |with_reader: bool| {
        let calls = calls.clone();
        rt.block_on(async move {
            let mut handlers = Handlers::new();
            let schema = json!({"type":"object","properties":{"text":{"type":"string"}}});
            if with_reader {
                let c = calls.clone();
                handlers.tool(
                    ToolDef::new("look")
                        .input_schema(schema.clone())
                        .annotations(json!({"readOnlyHint": true})),
                    move |_ctx: mcpx_server::RequestContext, _a: Value| {
                        c.lock().unwrap().push("look".into());
                        async { Ok(ToolResult::text("seen")) }
                    },
                );
            }
            let c = calls.clone();
            handlers.tool(
                ToolDef::new("wipe").input_schema(schema),
                move |_ctx: mcpx_server::RequestContext, _a: Value| {
                    c.lock().unwrap().push("wipe".into());
                    async { Ok(ToolResult::text("gone")) }
                },
            );
            let server = Server::builder().handlers(handlers).build().unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/mcp", listener.local_addr().unwrap());
            tokio::spawn(server.serve(listener, std::future::pending()));
            url
        })
    };
    let args = |url: &str| {
        [
            url,
            "--users",
            "10",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--time-scale",
            "0.02",
            "--no-progress",
        ]
        .map(str::to_owned)
    };
    let url = serve(true);
    // A dry run lists the tools and calls none.
    let (code, stdout) = mcpx_load(&[&url, "--dry-run", "--allow-destructive"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("tool(s) called: "), "{stdout}");
    assert!(stdout.contains("no load sent"), "{stdout}");
    assert!(calls.lock().unwrap().is_empty());
    let a = args(&url);
    let (code, stdout) = mcpx_load(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("1 tool(s) not called because they may be destructive")
            && stdout.contains("default): wipe;"),
        "{stdout}"
    );
    let seen = calls.lock().unwrap().clone();
    assert!(seen.iter().any(|t| t == "look"), "{seen:?}");
    assert!(!seen.iter().any(|t| t == "wipe"), "{seen:?}");

    let url = serve(false);
    let a = args(&url);
    let (code, stdout) = mcpx_load(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{stdout}");
    assert!(!calls.lock().unwrap().iter().any(|t| t == "wipe"));
}
