//! `mcpx serve`: the conformance fixtures and `echo` over Streamable HTTP.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use mcpx_proto::Config;
use mcpx_server::{ResponseMode, Server};

/// `mcpx serve` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Address to bind. Anything but loopback exposes the server to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The MCP endpoint path.
    #[arg(long, default_value = "/mcp")]
    pub path: String,
    /// How requests are answered: auto (JSON unless the handler streams), json or sse.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub response_mode: Mode,
    /// Most sessions held at once (idle ones are evicted first when full).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// Idle time after which a session expires, in seconds.
    #[arg(long)]
    pub session_ttl: Option<u64>,
    /// An extra allowed `Origin` (repeatable); loopback origins are always allowed.
    #[arg(long)]
    pub allow_origin: Vec<String>,
    /// An extra allowed `Host` (repeatable), e.g. the public name behind a load balancer;
    /// loopback hosts are always allowed (DNS-rebinding protection).
    #[arg(long)]
    pub allow_host: Vec<String>,
}

/// `--response-mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum Mode {
    /// JSON unless the handler emits progress, logs or asks the client first.
    Auto,
    /// Always JSON.
    Json,
    /// Always SSE.
    Sse,
}

/// Runs the server until `shutdown` resolves.
pub(crate) async fn run(args: ServeArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut config = Config::new();
    config.path(&args.path);
    if let Some(n) = args.max_sessions {
        config.max_sessions(n);
    }
    if let Some(secs) = args.session_ttl {
        config.idle_ttl(Duration::from_secs(secs));
    }
    for origin in &args.allow_origin {
        config.allow_origin(origin);
    }
    for host in &args.allow_host {
        config.allow_host(host);
    }
    let mode = match args.response_mode {
        Mode::Auto => ResponseMode::Auto,
        Mode::Json => ResponseMode::Json,
        Mode::Sse => ResponseMode::Sse,
    };
    let server = Server::builder()
        .config(config)
        .handlers(crate::fixtures::conformance_handlers())
        .response_mode(mode)
        .server_info("mcpx", env!("CARGO_PKG_VERSION"))
        .build()
        .context("invalid server configuration")?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot bind {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    if !args.bind.is_loopback() {
        eprintln!(
            "mcpx: warning: serving on {} exposes the server beyond this machine",
            args.bind
        );
    }
    println!("mcpx serve: http://{local}{}", args.path);
    server
        .serve(listener, shutdown)
        .await
        .context("server failed")
}
