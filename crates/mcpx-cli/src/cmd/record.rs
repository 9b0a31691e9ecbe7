//! `mcpx record`: a reverse proxy in front of an MCP server that writes the traffic as an
//! `mcpx-trace/1` file (see `mcpx_replay::record`). Runs until Ctrl-C / SIGTERM (or
//! `--duration`), then prints what it recorded.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use mcpx_replay::{RecordOptions, TraceFileOptions};

use crate::cmd::Usage;

/// `mcpx record` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct RecordArgs {
    /// Where clients connect (a port of 0 picks a free one). Binding beyond loopback is allowed
    /// and warned about: the proxy forwards anything to the upstream.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8181")]
    pub listen: SocketAddr,
    /// The MCP server to record (http://host:port/path; every request path is forwarded as is).
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// The trace file (JSONL, `mcpx-trace/1`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Rotate the trace (to FILE.1 .. FILE.4) when it reaches this many bytes (default 1 GiB).
    #[arg(long, value_name = "BYTES")]
    pub max_trace_bytes: Option<u64>,
    /// Speak h2c (HTTP/2 prior knowledge) to the upstream.
    #[arg(long)]
    pub upstream_http2: bool,
    /// Terminate TLS with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Redact whole tool arguments, not only secret-looking values.
    #[arg(long)]
    pub redact_args: bool,
    /// Silence after which the same bearer token starts a new user, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub group_idle: Option<u64>,
    /// Stop after this long, e.g. 10m (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Threads that carry the traffic (the trace is written by one more). One thread proxies
    /// thousands of requests a second (bench/record/run.sh) and adds the least latency: each
    /// further thread is woken to look for work whenever a request arrives, on cores the
    /// server may need. Raise it for more than ~10,000 requests a second.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
}

/// Runs `mcpx record` until `stop` (or `--duration`).
pub(crate) async fn run(
    args: RecordArgs,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Checked before anything is bound or printed (the proxy checks it again, fully).
    if !args.upstream.starts_with("http://") {
        return Err(anyhow::Error::new(Usage(format!(
            "--upstream {}: only http://host[:port]/path (TLS is terminated here, not re-originated)",
            args.upstream
        ))));
    }
    let mut trace = TraceFileOptions::new(&args.out);
    if let Some(n) = args.max_trace_bytes {
        if n == 0 {
            return Err(anyhow::Error::new(Usage(
                "--max-trace-bytes must be positive".into(),
            )));
        }
        trace.max_bytes = n;
    }
    let mut opts = RecordOptions::new(args.upstream.clone(), trace);
    opts.upstream_http2 = args.upstream_http2;
    opts.recorder.redact.args = args.redact_args;
    if let Some(s) = args.group_idle {
        opts.recorder.group_idle_us = s.saturating_mul(1_000_000);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let cert = std::fs::read(cert)
            .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?;
        let key = std::fs::read(key)
            .with_context(|| format!("cannot read --tls-key {}", key.display()))?;
        opts.tls = Some((cert, key));
    }
    let duration = match &args.duration {
        Some(d) => Some(std::time::Duration::from_micros(
            mcpx_load::thresholds::parse_duration_us(d)
                .map_err(|e| anyhow::Error::new(Usage(format!("--duration: {e}"))))?,
        )),
        None => None,
    };
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "mcpx record: WARNING: listening on {} (beyond loopback): anyone who reaches it reaches {} through this proxy",
            args.listen, args.upstream
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    // Line 1 is machine-read by tests and scripts: the address ends it.
    println!(
        "mcpx record: recording {} into {}; clients connect to {scheme}://{local}",
        args.upstream,
        args.out.display()
    );
    let stop = async move {
        match duration {
            Some(d) => {
                tokio::select! {
                    () = stop => {}
                    () = tokio::time::sleep(d) => {}
                }
            }
            None => stop.await,
        }
    };
    let summary = mcpx_replay::record(opts, listener, stop)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "mcpx record: {} exchanges, {} events written, {} dropped (writer behind), {} rotations, {} upstream errors",
        summary.exchanges,
        summary.events_written,
        summary.events_dropped,
        summary.rotations,
        summary.upstream_errors
    );
    Ok(())
}
