//! `mcpx serve --stdio` and `mcpx serve --legacy-sse` with real clients: the project's own
//! client (`mcpx-client`, always), and, with the pinned peers (`MCPX_PEERS`, installed by
//! `./scripts/test`), the official TypeScript SDK's `StdioClientTransport` and
//! `SSEClientTransport`, the Python SDK's `stdio_client` and `sse_client`, and the MCP Inspector
//! CLI over stdio (scripts in `tests/interop/`).
//!
//! Without `MCPX_PEERS` the peer tests are skipped with one loud line each; with it, a missing
//! peer is a failure. Every child is bounded by a timeout and killed on drop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcpx_client::{Client, ClientOptions, EraChoice};
use serde_json::{Value, json};
use support::{peer, peers_or_skip, script};

/// How long one client run may take before it is killed (each takes 1-3 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

const MCPX: &str = env!("CARGO_BIN_EXE_mcpx");

/// What a finished child printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Output {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` to completion (killed after [`CLIENT_TIMEOUT`]), feeding it `input`.
fn run(cmd: &mut Command, input: Option<&[u8]>) -> Output {
    let ran = support::run_with(cmd, input, CLIENT_TIMEOUT);
    Output {
        ok: ran.ok(),
        stdout: ran.stdout,
        stderr: ran.stderr,
    }
}

/// A running `mcpx serve --legacy-sse` on a free loopback port; killed on drop.
struct LegacyServe {
    child: Child,
    sse_url: String,
}

impl LegacyServe {
    fn start() -> Self {
        let mut child = Command::new(MCPX)
            .args(["serve", "--port", "0", "--legacy-sse"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcpx serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut first, mut second) = (String::new(), String::new());
        out.read_line(&mut first).unwrap();
        out.read_line(&mut second).unwrap();
        let sse_url = second.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            first.contains("http://127.0.0.1:")
                && sse_url.starts_with("http://127.0.0.1:")
                && sse_url.ends_with("/sse"),
            "unexpected banner {first:?} {second:?}"
        );
        Self { child, sse_url }
    }
}

impl Drop for LegacyServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Without peers

/// Piped requests: every line on stdout is one JSON-RPC message, the answers of requests still
/// running at EOF are written, the process exits 0 by itself, and its one banner is on stderr.
#[test]
fn stdio_pipe_gets_every_answer_and_exits_on_eof() {
    let lines = [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
               "capabilities":{},"clientInfo":{"name":"pipe","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}),
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_tool_with_progress",
               "arguments":{},"_meta":{"progressToken":"t"}}}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let started = Instant::now();
    let out = run(
        Command::new(MCPX).args(["serve", "--stdio"]),
        Some(input.as_bytes()),
    );
    assert!(out.ok, "mcpx serve --stdio failed:\n{}", out.all());
    // Well under the drain bound: nothing was left running.
    assert!(started.elapsed() < Duration::from_secs(5), "slow exit");
    let messages: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    let mut ids: Vec<i64> = messages
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_i64))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3], "one answer per request: {messages:?}");
    let progress = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 3, "{messages:?}");
    // Requests 2 and 3 run concurrently, so 3's progress may come before 2's answer.
    let echo = messages
        .iter()
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to id 2: {messages:?}"));
    assert_eq!(echo["result"]["content"][0]["text"], "hi", "{messages:?}");
    assert!(
        out.stderr.contains("stdio"),
        "banner on stderr: {}",
        out.stderr
    );
}

/// The project's own client spawns `mcpx serve --stdio` (probing `server/discover` first, as
/// MCP-DIGEST 2.4 says a stdio client does) and connects to `--legacy-sse`.
#[tokio::test(flavor = "multi_thread")]
async fn mcpx_client_over_stdio_and_legacy_sse() {
    tokio::time::timeout(CLIENT_TIMEOUT, async {
        let mut cmd = tokio::process::Command::new(MCPX);
        cmd.args(["serve", "--stdio"]).stderr(Stdio::null());
        let client = Client::new(ClientOptions::new()).unwrap();
        let s = client.stdio(cmd).await.unwrap();
        assert!(s.is_channel());
        let tools = s.list_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "echo"));
        let out = s
            .call_tool("echo", &json!({"text": "via stdio"}))
            .await
            .unwrap();
        assert_eq!(out.text, "via stdio");
        s.close().await.unwrap();

        let serve = LegacyServe::start();
        let mut opts = ClientOptions::new();
        opts.era(EraChoice::LegacySse);
        let s = Client::connect(&serve.sse_url, opts).await.unwrap();
        assert!(s.is_channel());
        let out = s
            .call_tool("echo", &json!({"text": "via sse"}))
            .await
            .unwrap();
        assert_eq!(out.text, "via sse");
        s.close().await.unwrap();
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// With the official SDK clients and the Inspector

#[test]
fn typescript_sdk_stdio_and_sse_transports() {
    let Some(peers) = peers_or_skip(
        "the TypeScript SDK's StdioClientTransport (mcpx serve --stdio) and SSEClientTransport (--legacy-sse)",
    ) else {
        return;
    };
    let node = peer(&peers, "node_modules/.bin/node", "Node 22");
    peer(
        &peers,
        "node_modules/@modelcontextprotocol/sdk/package.json",
        "@modelcontextprotocol/sdk",
    );
    let serve = LegacyServe::start();
    for (kind, target) in [("stdio", MCPX), ("sse", serve.sse_url.as_str())] {
        let out = run(
            Command::new(&node)
                .arg(script("ts_transports.mjs"))
                .args([kind, target])
                .env("MCPX_PEERS", &peers),
            None,
        );
        assert!(out.ok, "ts-sdk over {kind} failed:\n{}", out.all());
        eprintln!("{}", out.stdout.lines().last().unwrap_or_default());
    }
}

#[test]
fn python_sdk_stdio_and_sse_clients() {
    let Some(peers) = peers_or_skip(
        "the Python SDK's stdio_client (mcpx serve --stdio, both eras) and sse_client (--legacy-sse)",
    ) else {
        return;
    };
    let python = peer(&peers, "venv/bin/python", "the Python venv with `mcp`");
    let serve = LegacyServe::start();
    for (kind, target, connect) in [
        ("stdio", MCPX, "legacy"),
        // The SDK's default probes server/discover and adopts 2026-07-28 over stdio.
        ("stdio", MCPX, "auto"),
        ("sse", serve.sse_url.as_str(), "legacy"),
    ] {
        let out = run(
            Command::new(&python).arg(script("py_transports.py")).args([
                kind,
                target,
                "--connect",
                connect,
            ]),
            None,
        );
        assert!(
            out.ok,
            "python-sdk over {kind} (--connect {connect}) failed:\n{}",
            out.all()
        );
        eprintln!("{}", out.stdout.lines().last().unwrap_or_default());
    }
}

#[test]
fn inspector_cli_over_stdio() {
    let Some(peers) = peers_or_skip("the MCP Inspector CLI over stdio (mcpx serve --stdio)") else {
        return;
    };
    let node = peer(&peers, "node_modules/.bin/node", "Node 22");
    let cli = peer(
        &peers,
        "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
        "@modelcontextprotocol/inspector",
    );
    let home =
        std::env::temp_dir().join(format!("mcpx-inspector-stdio-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let inspector = |args: &[&str]| -> Value {
        let out = run(
            Command::new(&node)
                .arg(&cli)
                .args(["--cli", "--transport", "stdio"])
                .args(args)
                .args(["--", MCPX, "serve", "--stdio"])
                // Its catalog and storage live under $HOME; keep them out of the real one.
                .env("HOME", &home),
            None,
        );
        assert!(out.ok, "inspector --cli {args:?} failed:\n{}", out.all());
        // Only the JSON result is on stdout (the server's banner is on stderr).
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "inspector --cli {args:?} printed no JSON ({e}):\n{}",
                out.all()
            )
        })
    };
    let list = inspector(&["--method", "tools/list"]);
    let names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list without tools: {list}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for name in ["echo", "test_simple_text", "test_tool_with_progress"] {
        assert!(names.contains(&name), "{name} not in tools/list: {names:?}");
    }
    let call = inspector(&[
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        "text=hello over stdio",
    ]);
    assert_eq!(call["content"][0]["text"], "hello over stdio", "{call}");
    let prompt = inspector(&[
        "--method",
        "prompts/get",
        "--prompt-name",
        "test_prompt_with_arguments",
        "--prompt-args",
        "arg1=alpha",
        "arg2=beta",
    ]);
    assert!(
        prompt["messages"][0]["content"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("alpha")),
        "{prompt}"
    );
    eprintln!(
        "inspector --cli over stdio: tools/list ({} tools), tools/call echo, prompts/get OK",
        names.len()
    );
    let _ = std::fs::remove_dir_all(&home);
}
