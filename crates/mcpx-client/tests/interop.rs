#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Interop: mcpx-client against small servers written with the official TypeScript SDK and the
//! official Python SDK (scripts in `tests/interop/`): Streamable HTTP stateful and stateless,
//! JSON and SSE replies, their legacy HTTP+SSE transport and stdio. The client discovers the era
//! itself (`EraChoice::Auto`), lists tools, calls them, and reads progress as it arrives.
//!
//! The peers are installed by `./scripts/test` into `.peers/` and found through `MCPX_PEERS`.
//! Without it these tests print one SKIPPED line and pass; with it, a missing peer fails.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcpx_client::{Client, ClientOptions, EraChoice, EventKind, ProtocolVersion, Session};
use mcpx_wire::RawJson;
use serde_json::json;
use tokio::process::{Child, Command};

/// One interop case may take this long (Python starts in about a second).
const BOUND: Duration = Duration::from_secs(60);

fn peers() -> Option<PathBuf> {
    match std::env::var_os("MCPX_PEERS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("SKIPPED: mcpx-client interop (set MCPX_PEERS, as ./scripts/test does)");
            None
        }
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

#[derive(Clone, Copy)]
enum Sdk {
    Ts,
    Py,
}

fn command(peers: &Path, sdk: Sdk, mode: &str, port: Option<u16>) -> Command {
    let (program, file) = match sdk {
        Sdk::Ts => (
            peers.join("node_modules/.bin/node"),
            script("ts_server.mjs"),
        ),
        Sdk::Py => (peers.join("venv/bin/python"), script("py_server.py")),
    };
    assert!(program.exists(), "missing peer {}", program.display());
    let mut c = Command::new(program);
    c.arg(file)
        .arg(mode)
        .env("MCPX_PEERS", peers)
        .kill_on_drop(true);
    if let Some(p) = port {
        c.arg(p.to_string());
    }
    c
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A peer HTTP server on a free loopback port, killed on drop.
struct Peer {
    _child: Child,
    port: u16,
}

async fn start(peers: &Path, sdk: Sdk, mode: &str) -> Peer {
    let port = free_port();
    let child = command(peers, sdk, mode, Some(port))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "{mode} server did not open port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Peer {
        _child: child,
        port,
    }
}

fn opts() -> ClientOptions {
    let mut o = ClientOptions::new();
    o.request_timeout(Duration::from_secs(20))
        .discovery_timeout(Duration::from_secs(5));
    o
}

/// List, call, call with progress (counting progress events as they arrive), close.
async fn exercise(s: &Session, what: &str, progress_expected: bool) {
    let tools = s.list_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|t| t.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["count", "echo"], "{what}");
    let out = s
        .call_tool("echo", &json!({"text": "héllo"}))
        .await
        .unwrap();
    assert_eq!(out.text, "héllo", "{what}");
    assert!(!out.is_error);
    let params = RawJson::from_bytes(Bytes::from_static(
        br#"{"name":"count","arguments":{"to":3}}"#,
    ))
    .unwrap();
    let mut ex = s
        .request("tools/call")
        .params(params)
        .progress(true)
        .send()
        .await
        .unwrap();
    let mut progress = 0;
    let mut done = false;
    while let Some(ev) = ex.next().await.unwrap() {
        match ev.kind() {
            EventKind::Progress => progress += 1,
            EventKind::Response => {
                let m = ev.message().unwrap();
                assert!(
                    m.result().unwrap().as_str().contains("counted to 3"),
                    "{what}"
                );
                done = true;
            }
            _ => {}
        }
    }
    assert!(done, "{what}");
    if progress_expected {
        assert_eq!(progress, 3, "{what}: progress events");
    }
    // Many requests at once on one session: ids stay unique.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.call_tool("echo", &json!({"text": i.to_string()}))
                .await
                .unwrap()
                .text
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), i.to_string(), "{what}");
    }
    s.close().await.unwrap();
    eprintln!(
        "interop ok: {what}: version {}, stateless {}, session id {}",
        s.protocol_version().as_str(),
        s.is_stateless(),
        s.session_id().is_some()
    );
}

async fn http_modes(sdk: Sdk, label: &str) {
    let Some(peers) = peers() else { return };
    for mode in [
        "stateful-sse",
        "stateful-json",
        "stateless-sse",
        "stateless-json",
    ] {
        let peer = start(&peers, sdk, mode).await;
        let url = format!("http://127.0.0.1:{}/mcp", peer.port);
        // Discovery picks the era; then the session era is forced (a 2026-capable server still
        // serves `initialize`).
        for era in [
            EraChoice::Auto,
            EraChoice::Session(ProtocolVersion::V2025_11_25),
        ] {
            let what = format!("{label} {mode} {era:?}");
            let mut o = opts();
            o.era(era);
            let s = tokio::time::timeout(BOUND, Client::connect(&url, o))
                .await
                .unwrap_or_else(|_| panic!("{what}: connect timed out"))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            if matches!(era, EraChoice::Session(_)) {
                assert!(!s.is_stateless(), "{what}");
            }
            let progress = mode.ends_with("-sse");
            tokio::time::timeout(BOUND, exercise(&s, &what, progress))
                .await
                .unwrap();
        }
    }
}

async fn legacy(sdk: Sdk, label: &str) {
    let Some(peers) = peers() else { return };
    let peer = start(&peers, sdk, "legacy").await;
    let url = format!("http://127.0.0.1:{}/sse", peer.port);
    let what = format!("{label} legacy HTTP+SSE");
    let s = tokio::time::timeout(BOUND, Client::connect(&url, opts()))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(s.is_channel(), "{what}: expected the legacy transport");
    tokio::time::timeout(BOUND, exercise(&s, &what, true))
        .await
        .unwrap();
}

async fn stdio(sdk: Sdk, label: &str) {
    let Some(peers) = peers() else { return };
    let what = format!("{label} stdio");
    let mut cmd = command(&peers, sdk, "stdio", None);
    cmd.stderr(Stdio::null());
    let client = Client::new(opts()).unwrap();
    let s = tokio::time::timeout(BOUND, client.stdio(cmd))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    tokio::time::timeout(BOUND, exercise(&s, &what, true))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_streamable_http() {
    http_modes(Sdk::Ts, "TypeScript SDK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_legacy_sse() {
    legacy(Sdk::Ts, "TypeScript SDK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_stdio() {
    stdio(Sdk::Ts, "TypeScript SDK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_streamable_http() {
    http_modes(Sdk::Py, "Python SDK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_legacy_sse() {
    legacy(Sdk::Py, "Python SDK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_stdio() {
    stdio(Sdk::Py, "Python SDK").await;
}

/// The conformance client (`src/bin/conformance_client.rs`), built by cargo for this test.
fn conformance_client_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_conformance_client"))
}

/// The official conformance suite's client scenarios drive mcpx-client (through the example
/// client): the session-era ones with the stable suite, all of them (2026-07-28 included:
/// `_meta`, headers, `x-mcp-header`, MRTR `requestState`, schema preservation) with the
/// prerelease line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_client_scenarios() {
    let Some(peers) = peers() else { return };
    let node = peers.join("node_modules/.bin/node");
    let bin = conformance_client_bin();
    let stable = [
        "initialize",
        "tools_call",
        "elicitation-sep1034-client-defaults",
        "sse-retry",
    ];
    let prerelease = [
        "initialize",
        "tools_call",
        "elicitation-sep1034-client-defaults",
        "sse-retry",
        "request-metadata",
        "sep-2322-client-request-state",
        "http-standard-headers",
        "http-custom-headers",
        "http-invalid-tool-headers",
        "json-schema-ref-no-deref",
        "json-schema-2020-12-preservation",
    ];
    let mut failed = Vec::new();
    for (package, scenarios) in [
        ("@modelcontextprotocol/conformance", &stable[..]),
        ("conformance-2026", &prerelease[..]),
    ] {
        let suite = peers
            .join("node_modules")
            .join(package)
            .join("dist/index.js");
        assert!(
            node.exists() && suite.exists(),
            "missing peer {}",
            suite.display()
        );
        for scenario in scenarios {
            let out = tokio::time::timeout(
                BOUND,
                Command::new(&node)
                    .arg(&suite)
                    .args(["client", "--command"])
                    .arg(&bin)
                    .args(["--scenario", scenario, "--timeout", "30000"])
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .unwrap_or_else(|_| panic!("{package} {scenario} timed out"))
            .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let summary = text
                .lines()
                .filter(|l| l.contains("Passed:"))
                .collect::<Vec<_>>()
                .join(" ");
            if out.status.success() {
                eprintln!("conformance ok: {package} {scenario}: {summary}");
            } else {
                eprintln!("conformance FAILED: {package} {scenario}:\n{text}");
                failed.push(format!("{package} {scenario}"));
            }
        }
    }
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}
