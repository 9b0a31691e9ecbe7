//! What the interop test files share: finding the peers that `./scripts/test` installs (and the
//! one loud line when they are not there), the client scripts in `tests/interop/`, and running
//! a peer client to its end under a time bound.
//!
//! Each test file is its own crate and uses only part of this.
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the support module"
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The peers folder (`MCPX_PEERS`), or `None` after printing one loud line saying what is
/// skipped and why.
pub(crate) fn peers_or_skip(what: &str) -> Option<PathBuf> {
    let peers = std::env::var_os("MCPX_PEERS").map(PathBuf::from);
    if peers.is_none() {
        eprintln!(
            "SKIPPED interop: {what}: MCPX_PEERS is not set; ./scripts/test installs the peers and sets it"
        );
    }
    peers
}

/// `path` inside the peers folder; a missing peer fails the test.
pub(crate) fn peer(peers: &Path, path: &str, what: &str) -> PathBuf {
    let full = peers.join(path);
    assert!(
        full.exists(),
        "MCPX_PEERS={} lacks {what} ({}); run ./scripts/test to install the peers",
        peers.display(),
        full.display()
    );
    full
}

/// A client script in this crate's `tests/interop/`.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// A command run to its end (or killed at its bound).
pub(crate) struct Ran {
    /// `None`: killed at the bound.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    pub(crate) fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// Runs `cmd` to completion, fed `input` on stdin (then EOF; no stdin without it), killed after
/// `bound`.
pub(crate) fn run_with(cmd: &mut Command, input: Option<&[u8]>, bound: Duration) -> Ran {
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        // Dropped: EOF.
    }
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = stderr.join().unwrap();
    if status.is_none() {
        stderr.push_str(&format!("\nKILLED after {bound:?}"));
    }
    Ran {
        status,
        stdout: stdout.join().unwrap(),
        stderr,
    }
}

/// Runs `cmd` to completion, killed after `bound`: whether it succeeded, and its stdout then
/// stderr.
pub(crate) fn run_bounded(cmd: &mut Command, bound: Duration) -> (bool, String) {
    let ran = run_with(cmd, None, bound);
    (ran.ok(), format!("{}{}", ran.stdout, ran.stderr))
}
