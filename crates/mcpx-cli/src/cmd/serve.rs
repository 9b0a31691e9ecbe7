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
    /// Address to bind [default: 127.0.0.1]. Anything but loopback exposes the server to the
    /// network.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Port to bind; 0 picks a free one [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// The MCP endpoint path [default: /mcp].
    #[arg(long)]
    pub path: Option<String>,
    /// How requests are answered: auto (JSON unless the handler streams), json or sse
    /// [default: auto].
    #[arg(long, value_enum)]
    pub response_mode: Option<Mode>,
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
    /// A TOML file with any of the settings above (snake_case keys, e.g. `max_sessions = 5000`,
    /// `allow_origin = ["https://app.example"]`) plus `request_state_key`, the secret shared
    /// by replicas to seal 2026-07-28 request state. Flags win over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

/// The `--config` file: every key optional, unknown keys refused with their name.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    bind: Option<IpAddr>,
    port: Option<u16>,
    path: Option<String>,
    response_mode: Option<FileMode>,
    max_sessions: Option<usize>,
    session_ttl: Option<u64>,
    #[serde(default)]
    allow_origin: Vec<String>,
    #[serde(default)]
    allow_host: Vec<String>,
    request_state_key: Option<String>,
}

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileMode {
    Auto,
    Json,
    Sse,
}

fn load_file(path: &std::path::Path) -> anyhow::Result<ServeFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
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

/// The port `mcpx serve` binds without `--port`.
const DEFAULT_PORT: u16 = 8080;

/// Runs the server until `shutdown` resolves.
pub(crate) async fn run(args: ServeArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => load_file(path)?,
        None => ServeFile::default(),
    };
    let bind = args
        .bind
        .or(file.bind)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let port = args.port.or(file.port).unwrap_or(DEFAULT_PORT);
    let path = args
        .path
        .clone()
        .or(file.path)
        .unwrap_or_else(|| "/mcp".to_owned());
    if !path.starts_with('/') {
        anyhow::bail!("--path must start with `/` (got {path:?})");
    }
    let mut config = Config::new();
    config.path(&path);
    if let Some(n) = args.max_sessions.or(file.max_sessions) {
        config.max_sessions(n);
    }
    if let Some(secs) = args.session_ttl.or(file.session_ttl) {
        config.idle_ttl(Duration::from_secs(secs));
    }
    for origin in file.allow_origin.iter().chain(&args.allow_origin) {
        config.allow_origin(origin);
    }
    for host in file.allow_host.iter().chain(&args.allow_host) {
        config.allow_host(host);
    }
    let mode = match (args.response_mode, file.response_mode) {
        (Some(Mode::Json), _) | (None, Some(FileMode::Json)) => ResponseMode::Json,
        (Some(Mode::Sse), _) | (None, Some(FileMode::Sse)) => ResponseMode::Sse,
        _ => ResponseMode::Auto,
    };
    let mut builder = Server::builder();
    if let Some(key) = &file.request_state_key {
        builder = builder.request_state_key(key.as_bytes());
    }
    let server = builder
        .config(config)
        .handlers(crate::fixtures::conformance_handlers())
        .response_mode(mode)
        .server_info("mcpx", env!("CARGO_PKG_VERSION"))
        .build()
        .context("invalid server configuration")?;
    let addr = SocketAddr::new(bind, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot bind {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    if !bind.is_loopback() {
        eprintln!("mcpx: warning: serving on {bind} exposes the server beyond this machine");
    }
    println!("mcpx serve: http://{local}{path}");
    server
        .serve(listener, shutdown)
        .await
        .context("server failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_keys_and_errors() {
        let dir = std::env::temp_dir().join(format!("mcpx-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "port = 9000\nresponse_mode = \"sse\"\nallow_host = [\"mcp.example.com\"]\n",
        )
        .unwrap();
        let f = load_file(&good).unwrap();
        assert_eq!(f.port, Some(9000));
        assert!(matches!(f.response_mode, Some(FileMode::Sse)));
        assert_eq!(f.allow_host, ["mcp.example.com"]);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "prot = 9000\n").unwrap();
        let e = format!("{:#}", load_file(&bad).unwrap_err());
        assert!(e.contains("bad.toml") && e.contains("prot"), "{e}");
        let e = format!("{:#}", load_file(&dir.join("missing.toml")).unwrap_err());
        assert!(e.contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
