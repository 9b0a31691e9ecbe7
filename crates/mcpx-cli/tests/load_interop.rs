//! `mcpx load` against the official SDK servers (TypeScript `@modelcontextprotocol/sdk` and
//! Python `mcp`, the small servers of mcpx-client's interop tests), stateful and stateless,
//! JSON and SSE replies: short bounded runs, each checked for zero transport and protocol
//! errors, answered tool calls and plausible counts. Needs the peers `./scripts/test` installs (`MCPX_PEERS`);
//! without them these tests are skipped with one loud line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BOUND: Duration = Duration::from_secs(60);

fn peers() -> Option<PathBuf> {
    match std::env::var_os("MCPX_PEERS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "SKIPPED interop: mcpx load against the TypeScript and Python SDK servers: MCPX_PEERS is not set; ./scripts/test installs the peers and sets it"
            );
            None
        }
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mcpx-client/tests/interop")
        .join(name)
}

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(peers: &Path, ts: bool, mode: &str) -> (Peer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (program, file) = if ts {
        (
            peers.join("node_modules/.bin/node"),
            script("ts_server.mjs"),
        )
    } else {
        (peers.join("venv/bin/python"), script("py_server.py"))
    };
    assert!(program.exists(), "missing peer {}", program.display());
    let child = Command::new(program)
        .arg(file)
        .arg(mode)
        .arg(port.to_string())
        .env("MCPX_PEERS", peers)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let peer = Peer(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{mode} server did not open {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (peer, port)
}

fn load(url: &str, json: &Path) -> i32 {
    run_load(
        &[
            url,
            "--rate",
            "8",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--time-scale",
            "0.02",
        ],
        json,
    )
}

/// `mcpx load ARGS --json JSON`, bounded by [`BOUND`]; its exit code.
fn run_load(args: &[&str], json: &Path) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
        .arg("load")
        // Before ARGS: a stdio run's ARGS end with `-- CMD ...`.
        .args(["--allow-destructive", "--no-progress", "--json"])
        .arg(json)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            panic!("mcpx load did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn load_against_the_sdk_servers() {
    let Some(peers) = peers() else { return };
    let dir = std::env::temp_dir().join(format!("mcpx-load-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ts in [true, false] {
        for mode in [
            "stateful-sse",
            "stateful-json",
            "stateless-sse",
            "stateless-json",
        ] {
            let sdk = if ts { "ts" } else { "py" };
            let (_peer, port) = start(&peers, ts, mode);
            let json = dir.join(format!("{sdk}-{mode}.json"));
            let code = load(&format!("http://127.0.0.1:{port}/mcp"), &json);
            assert_eq!(code, 0, "{sdk} {mode}: mcpx load failed");
            let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
            let total = &report["summary"];
            assert!(
                total["requests"].as_u64().unwrap() > 20,
                "{sdk} {mode}: too few requests: {total}"
            );
            // Transport and protocol errors would be mcpx's or the SDK's bugs. HTTP 400s (the
            // SDKs refuse `server/discover`, which makes users fall back), -32601 (lists the
            // server does not offer, which claude.ai asks for anyway) and timeouts (the
            // profile's deadlines, scaled by 0.02, against a slower server) are measurements.
            for class in ["connect", "tls", "protocol"] {
                assert_eq!(
                    total["errors_by_class"][class], 0,
                    "{sdk} {mode}: {class} errors: {total}"
                );
            }
            let calls = report["methods"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == "tools/call")
                .unwrap_or_else(|| panic!("{sdk} {mode}: no tools/call"));
            assert!(
                calls["answered"].as_u64().unwrap() > 0,
                "{sdk} {mode}: {calls}"
            );
            eprintln!(
                "mcpx load vs {sdk} {mode}: {} requests, {} tools/call, errors {}",
                total["requests"], calls["requests"], total["errors_by_class"]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks a report of a run against an SDK server: enough requests, no connect, TLS or
/// protocol errors, answered tool calls; returns (requests, answered calls).
fn check_report(what: &str, json: &Path, min_requests: u64) -> (u64, u64) {
    let report: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let total = &report["summary"];
    let requests = total["requests"].as_u64().unwrap();
    assert!(
        requests >= min_requests,
        "{what}: too few requests: {total}"
    );
    for class in ["connect", "tls", "protocol"] {
        assert_eq!(
            total["errors_by_class"][class], 0,
            "{what}: {class} errors: {total}"
        );
    }
    let calls = report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "tools/call")
        .unwrap_or_else(|| panic!("{what}: no tools/call"));
    let answered = calls["answered"].as_u64().unwrap();
    assert!(answered > 0, "{what}: {calls}");
    // Sessions were set up (a process or a stream each): `initialize` answered.
    let inits = report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "initialize")
        .unwrap_or_else(|| panic!("{what}: no initialize"));
    assert!(inits["answered"].as_u64().unwrap() > 0, "{what}: {inits}");
    let notes = report["run"]["notes"].to_string();
    eprintln!(
        "mcpx load vs {what}: {requests} requests, {answered} tools/call answered, {} initialize, errors {}, notes {notes}",
        inits["answered"], total["errors_by_class"]
    );
    (requests, answered)
}

/// `--stdio -- CMD`: the SDK servers in stdio mode, one process per session (the Python SDK
/// answers `server/discover` with 2026-07-28 over stdio, so its users also run modern). The
/// time scale is larger than the HTTP runs' because a process start (Node, Python) is part of
/// every session's first request and the profile's handshake deadline (10 s) scales with it.
#[test]
fn load_stdio_sdk_servers() {
    let Some(peers) = peers() else { return };
    let dir = std::env::temp_dir().join(format!("mcpx-load-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ts in [true, false] {
        let sdk = if ts { "ts" } else { "py" };
        let (program, file) = if ts {
            (
                peers.join("node_modules/.bin/node"),
                script("ts_server.mjs"),
            )
        } else {
            (peers.join("venv/bin/python"), script("py_server.py"))
        };
        let json = dir.join(format!("{sdk}-stdio.json"));
        let program = program.to_str().unwrap().to_owned();
        let file = file.to_str().unwrap().to_owned();
        // A Python SDK server takes about a second of CPU to start (seconds on a busy
        // machine): a slower rate and a larger scale keep its handshakes within the deadline.
        let (rate, duration, drain, scale) = if ts {
            ("3", "3s", "4s", "0.1")
        } else {
            ("2", "4s", "6s", "0.5")
        };
        let code = run_load(
            &[
                "--rate",
                rate,
                "--duration",
                duration,
                "--drain",
                drain,
                "--time-scale",
                scale,
                "--stdio",
                "--",
                &program,
                &file,
                "stdio",
            ],
            &json,
        );
        assert_eq!(code, 0, "{sdk} stdio: mcpx load failed");
        let what = format!("{sdk} stdio");
        check_report(&what, &json, 10);
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(
            report["run"]["notes"]
                .to_string()
                .contains("one server process per MCP session"),
            "{what}: the report must say how sessions map to processes"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Legacy HTTP+SSE (2024-11-05): the SDK servers' `GET /sse` endpoints. The run finds the
/// transport itself (the POST `initialize` is refused, the `GET` offers the endpoint), with
/// one stream per session.
#[test]
fn load_legacy_sse_sdk_servers() {
    let Some(peers) = peers() else { return };
    let dir = std::env::temp_dir().join(format!("mcpx-load-legacy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ts in [true, false] {
        let sdk = if ts { "ts" } else { "py" };
        let (_peer, port) = start(&peers, ts, "legacy");
        let json = dir.join(format!("{sdk}-legacy.json"));
        let url = format!("http://127.0.0.1:{port}/sse");
        let code = run_load(
            &[
                &url,
                "--rate",
                "6",
                "--duration",
                "3s",
                "--drain",
                "2s",
                // Not 0.05: that scales the profile's deadlines to half a second, which an SDK
                // server on a loaded CI machine missed (timeouts, then no call before the end).
                "--time-scale",
                "0.1",
            ],
            &json,
        );
        assert_eq!(code, 0, "{sdk} legacy: mcpx load failed");
        let what = format!("{sdk} legacy SSE");
        check_report(&what, &json, 20);
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(
            report["run"]["notes"]
                .to_string()
                .contains("legacy HTTP+SSE"),
            "{what}: the report must name the transport"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
