//! Interop with what people really use: the official MCP conformance suite against `mcpx serve`.
//!
//! The peers are installed by `./scripts/test` into `.peers/` and found through `MCPX_PEERS`.
//! Without `MCPX_PEERS` these tests are skipped with one loud line; with it, a missing peer is a
//! failure. Scenarios that do not pass yet are listed in `tests/conformance-expected-failures.yml`
//! (the suite fails on a new failure, and on a listed scenario that starts passing, so the list
//! can only shrink).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The peers folder, or `None` (skip) when the test command did not install them.
fn peers() -> Option<PathBuf> {
    std::env::var_os("MCPX_PEERS").map(PathBuf::from)
}

/// A running `mcpx serve` on a free loopback port; killed on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcpx serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected banner {line:?}"
        );
        Self { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conformance(peers: &Path, url: &str, extra: &[&str]) -> (bool, String) {
    let node = peers.join("node_modules/.bin/node");
    let suite = peers.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "MCPX_PEERS={} lacks node or the conformance suite",
        peers.display()
    );
    let out = Command::new(node)
        .arg(suite)
        .args(["server", "--url", url])
        .args(extra)
        .output()
        .expect("run the conformance suite");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn summary(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.contains("=== SUMMARY ==="))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn conformance_suite_active_server_scenarios() {
    let Some(peers) = peers() else {
        eprintln!(
            "SKIPPED interop: the MCP conformance suite (auto and SSE response modes): MCPX_PEERS is not set; ./scripts/test installs the peers and sets it"
        );
        return;
    };
    let expected = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance-expected-failures.yml"
    );
    for mode in ["auto", "sse"] {
        let serve = Serve::start(&["--response-mode", mode]);
        let (ok, text) = conformance(&peers, &serve.url, &["--expected-failures", expected]);
        eprintln!(
            "conformance suite, --response-mode {mode}:\n{}",
            summary(&text)
        );
        assert!(ok, "conformance suite failed in {mode} mode:\n{text}");
    }
}
