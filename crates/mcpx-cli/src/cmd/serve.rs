//! `mcpx serve`: the conformance fixtures and `echo` (or a mock target) over Streamable HTTP,
//! plus the legacy HTTP+SSE transport when asked (`--legacy-sse`), or over stdio (`--stdio`).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
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
    /// Serve a mock target instead of the conformance fixtures: `claude` (12 Claude-like tools
    /// with the profile's latencies, result sizes, progress and error rates, 2 prompts, 3
    /// resources) or `null` (the same lists, every call answered at once).
    #[arg(long, value_enum)]
    pub mock: Option<crate::mock::MockKind>,
    /// With --mock: the `[target]` of this scenario file instead of the built-in profile's.
    #[arg(long, value_name = "FILE", requires = "mock")]
    pub scenario: Option<std::path::PathBuf>,
    /// With --mock: switch the 2026-07-28 stateless era off (the profile's "legacy target").
    #[arg(long, requires = "mock")]
    pub legacy: bool,
    /// With --mock: multiply every server-side wait (latencies, progress period, idle TTL).
    #[arg(long, value_name = "F", requires = "mock", default_value_t = 1.0)]
    pub time_scale: f64,
    /// With --mock: the seed of the per-call draws.
    #[arg(long, requires = "mock", default_value_t = 1)]
    pub seed: u64,
    /// Session-table shards (default: a few per core; 1 = one table with exact global LRU).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Serve one client on stdin/stdout (newline-delimited JSON-RPC) instead of HTTP; exits
    /// when stdin ends. Only messages go to stdout; logs go to stderr.
    #[arg(long, conflicts_with_all = ["bind", "port", "legacy_sse"])]
    pub stdio: bool,
    /// Also serve the legacy HTTP+SSE transport of protocol 2024-11-05 (`GET /sse`, `POST
    /// /messages?sessionId=...`) beside the Streamable HTTP endpoint, for old clients. Not to be
    /// confused with `--legacy`, which shapes the mock target.
    #[arg(long)]
    pub legacy_sse: bool,
    /// TLS, overload, metrics, shutdown and log-format flags.
    #[command(flatten)]
    pub hardening: HardeningArgs,
    /// Bearer-token mode (OAuth 2.1 resource server).
    #[command(flatten, next_help_heading = "Authorization (OAuth bearer tokens)")]
    pub auth: Box<AuthArgs>,
}

/// Bearer-token (OAuth 2.1 resource server) flags of `mcpx serve`.
#[derive(Debug, Default, Args)]
#[non_exhaustive]
pub struct AuthArgs {
    /// The public URL of the MCP endpoint (e.g. `https://mcp.example.com/mcp`; without a path,
    /// --path is appended) when mcpx runs behind a TLS-terminating load balancer: the audience
    /// tokens must name and the `resource` of the OAuth metadata (with --auth-jwks or
    /// --auth-introspect). Its host is also allowed as `Host`. Default: http://<bound
    /// address><path>.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Require OAuth bearer tokens that are JWTs signed by a key of this JWKS (a file, or an
    /// https:// URL, fetched with a size bound and a timeout, cached). Needs --auth-issuer.
    #[arg(long, value_name = "FILE|URL", conflicts_with_all = ["stdio", "auth_introspect"], requires = "auth_issuer")]
    pub auth_jwks: Option<String>,
    /// Require OAuth bearer tokens checked at this RFC 7662 introspection endpoint, as client
    /// --auth-client-id with --auth-client-secret (or MCPX_AUTH_CLIENT_SECRET). Needs
    /// --auth-issuer.
    #[arg(long, value_name = "URL", conflicts_with = "stdio", requires_all = ["auth_issuer", "auth_client_id"])]
    pub auth_introspect: Option<String>,
    /// The authorization server's issuer URL: listed in the protected resource metadata (where
    /// clients find it) and, with --auth-jwks, required as the tokens' `iss`.
    #[arg(long, value_name = "URL")]
    pub auth_issuer: Option<String>,
    /// A scope every request needs (repeatable, or comma-separated); a token without it gets
    /// 403 insufficient_scope.
    #[arg(long = "auth-scope", value_name = "SCOPE", value_delimiter = ',')]
    pub auth_scopes: Vec<String>,
    /// Another accepted token audience besides the public URL (repeatable).
    #[arg(long, value_name = "AUD")]
    pub auth_audience: Vec<String>,
    /// The client id of mcpx at the introspection endpoint.
    #[arg(long, value_name = "ID", requires = "auth_introspect")]
    pub auth_client_id: Option<String>,
    /// Its client secret (visible to other local users in the process list: prefer the
    /// MCPX_AUTH_CLIENT_SECRET environment variable).
    #[arg(long, value_name = "SECRET", requires = "auth_introspect")]
    pub auth_client_secret: Option<String>,
}

/// Production flags of `mcpx serve`: TLS, overload bounds, metrics, graceful shutdown, logs.
#[derive(Debug, Default, Args)]
#[non_exhaustive]
pub struct HardeningArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. ALPN offers
    /// h2 and http/1.1.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "stdio"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Most requests in flight across the server; over it new ones get 503 with Retry-After
    /// [default: 8192].
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Most requests in flight on one session; over it that session gets 429 with Retry-After
    /// while others go on [default: 128].
    #[arg(long, value_name = "N")]
    pub max_in_flight_per_session: Option<usize>,
    /// Where Prometheus metrics are served [default: /metrics].
    #[arg(long, value_name = "PATH", conflicts_with = "no_metrics")]
    pub metrics_path: Option<String>,
    /// Do not serve metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Seconds a shutdown (Ctrl-C, SIGTERM) lets requests in flight finish before it cuts them
    /// off [default: 20].
    #[arg(long, value_name = "SECS")]
    pub shutdown_deadline: Option<u64>,
    /// Log lines (stderr; filtered by RUST_LOG) as text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

impl HardeningArgs {
    /// Applies the flags to the builder and the protocol configuration.
    fn apply(
        &self,
        mut builder: mcpx_server::ServerBuilder,
        config: &mut mcpx_proto::Config,
    ) -> anyhow::Result<mcpx_server::ServerBuilder> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let tls = mcpx_server::TlsConfig::from_pem_files(cert, key)?;
            builder = builder.tls(tls);
        }
        if let Some(n) = self.max_in_flight {
            anyhow::ensure!(n > 0, "--max-in-flight must be at least 1");
            builder = builder.max_in_flight(n);
        }
        if let Some(n) = self.max_in_flight_per_session {
            anyhow::ensure!(n > 0, "--max-in-flight-per-session must be at least 1");
            config.max_in_flight_per_session(n);
        }
        if self.no_metrics {
            builder = builder.metrics_path(None);
        } else if let Some(path) = &self.metrics_path {
            anyhow::ensure!(
                path.starts_with('/'),
                "--metrics-path must start with `/` (got {path:?})"
            );
            builder = builder.metrics_path(Some(path));
        }
        if let Some(secs) = self.shutdown_deadline {
            builder = builder.shutdown_deadline(Duration::from_secs(secs));
        }
        Ok(builder)
    }
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
    legacy_sse: Option<bool>,
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
    let mut builder = match args.mock {
        Some(kind) => {
            let scenario = match &args.scenario {
                Some(file) => Some(crate::cmd::read_scenario(file)?),
                None => None,
            };
            let opts = crate::mock::MockOptions {
                kind,
                modern: !args.legacy,
                time_scale: args.time_scale,
                seed: args.seed,
            };
            crate::mock::mock_builder(scenario.as_ref(), &opts)?
        }
        None => Server::builder()
            .handlers(crate::fixtures::conformance_handlers())
            .server_info("mcpx", env!("CARGO_PKG_VERSION")),
    };
    let mut config = builder.config_ref().clone();
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
    match (args.response_mode, file.response_mode) {
        (Some(Mode::Json), _) | (None, Some(FileMode::Json)) => {
            builder = builder.response_mode(ResponseMode::Json);
        }
        (Some(Mode::Sse), _) | (None, Some(FileMode::Sse)) => {
            builder = builder.response_mode(ResponseMode::Sse);
        }
        (Some(Mode::Auto), _) | (None, Some(FileMode::Auto)) => {
            builder = builder.response_mode(ResponseMode::Auto);
        }
        (None, None) => {}
    }
    if let Some(key) = &file.request_state_key {
        builder = builder.request_state_key(key.as_bytes());
    }
    if let Some(n) = args.shards {
        builder = builder.shards(n);
    }
    // Bearer mode needs the bound address for its default canonical URL: bind first.
    let listener = if args.stdio {
        None
    } else {
        let addr = SocketAddr::new(bind, port);
        Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind {addr}"))?,
        )
    };
    let local = match &listener {
        Some(l) => Some(l.local_addr().context("no local address")?),
        None => None,
    };
    let auth = match local {
        Some(local) => auth_config(&args.auth, local, &path)?,
        None => None,
    };
    // Behind a load balancer requests carry the public `Host`.
    if let Some((_, rest)) = args
        .auth
        .public_url
        .as_deref()
        .and_then(|u| u.split_once("://"))
    {
        config.allow_host(rest.split('/').next().unwrap_or(rest));
    }
    if let Some(auth) = &auth {
        builder = builder.auth(auth.clone());
    }
    builder = args.hardening.apply(builder, &mut config)?;
    let legacy_sse = args.legacy_sse || file.legacy_sse.unwrap_or(false);
    let server = builder
        .config(config)
        .legacy_sse(legacy_sse && !args.stdio)
        .build()
        .context("invalid server configuration")?;
    if args.stdio {
        // stdout carries the protocol: everything else goes to stderr.
        eprintln!("mcpx serve: stdio (newline-delimited JSON-RPC on stdin/stdout)");
        return server
            .serve_stdio(shutdown)
            .await
            .context("stdio transport failed");
    }
    let (Some(listener), Some(local)) = (listener, local) else {
        anyhow::bail!("no listener");
    };
    if !bind.is_loopback() {
        eprintln!("mcpx: warning: serving on {bind} exposes the server beyond this machine");
    }
    let scheme = if args.hardening.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    match args.mock {
        Some(kind) => println!(
            "mcpx serve: {scheme}://{local}{path} (mock {}{})",
            match kind {
                crate::mock::MockKind::Claude => "claude",
                crate::mock::MockKind::Null => "null",
            },
            if args.legacy { ", legacy target" } else { "" }
        ),
        None => println!("mcpx serve: {scheme}://{local}{path}"),
    }
    if legacy_sse {
        println!("mcpx serve: legacy HTTP+SSE: {scheme}://{local}/sse");
    }
    if let Some(auth) = &auth {
        println!(
            "mcpx serve: OAuth bearer tokens required for {} (metadata: {})",
            auth.resource(),
            auth.metadata_url()
        );
    }
    server
        .serve(listener, shutdown)
        .await
        .context("server failed")
}

/// The bearer-mode settings the flags ask for (`None`: no --auth-jwks / --auth-introspect).
fn auth_config(
    args: &AuthArgs,
    local: SocketAddr,
    path: &str,
) -> anyhow::Result<Option<mcpx_server::auth::AuthConfig>> {
    use mcpx_server::auth::{AuthConfig, IntrospectionVerifier, JwksVerifier};

    let resource = match &args.public_url {
        Some(url) => {
            let url = url.trim_end_matches('/');
            let has_path = url
                .split_once("://")
                .is_some_and(|(_, rest)| rest.contains('/'));
            if has_path {
                url.to_owned()
            } else {
                format!("{url}{path}")
            }
        }
        None => format!("http://{local}{path}"),
    };
    let issuer = args.auth_issuer.as_deref();
    let mut config = match (&args.auth_jwks, &args.auth_introspect) {
        (Some(jwks), _) => {
            let v = if jwks.starts_with("https://") || jwks.starts_with("http://") {
                JwksVerifier::from_url(jwks)
            } else {
                JwksVerifier::from_file(jwks)
            }
            .map_err(|e| anyhow::anyhow!("--auth-jwks: {e}"))?;
            let v = match issuer {
                Some(iss) => v.issuer(iss),
                None => v,
            };
            AuthConfig::new(&resource, v)
        }
        (None, Some(url)) => {
            let id = args.auth_client_id.as_deref().unwrap_or_default();
            let secret = match &args.auth_client_secret {
                Some(s) => s.clone(),
                None => std::env::var("MCPX_AUTH_CLIENT_SECRET").context(
                    "--auth-introspect needs --auth-client-secret or MCPX_AUTH_CLIENT_SECRET",
                )?,
            };
            let v = IntrospectionVerifier::new(url, id, &secret)
                .map_err(|e| anyhow::anyhow!("--auth-introspect: {e}"))?;
            AuthConfig::new(&resource, v)
        }
        (None, None) => return Ok(None),
    }
    .map_err(|e| anyhow::anyhow!("--public-url: {e}"))?;
    if let Some(iss) = issuer {
        config.authorization_server(iss);
    }
    for scope in args.auth_scopes.iter().flat_map(|s| s.split_whitespace()) {
        config.require_scope(scope);
    }
    for aud in &args.auth_audience {
        config.accept_audience(aud);
    }
    config.resource_name("mcpx");
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_flags_and_the_canonical_url() {
        use clap::Parser as _;
        let parse =
            |args: &[&str]| match crate::Cli::try_parse_from(["mcpx", "serve"].iter().chain(args))
                .map(|c| c.command)
            {
                Ok(crate::Command::Serve(a)) => Ok(a),
                Ok(_) => panic!("not serve"),
                Err(e) => Err(e),
            };
        for bad in [
            &["--auth-jwks", "k.json"][..],
            &[
                "--auth-jwks",
                "k.json",
                "--auth-issuer",
                "https://as",
                "--auth-introspect",
                "https://as/i",
            ],
            &[
                "--auth-introspect",
                "https://as/i",
                "--auth-issuer",
                "https://as",
            ],
            &["--auth-client-id", "x"],
            &[
                "--stdio",
                "--auth-jwks",
                "k.json",
                "--auth-issuer",
                "https://as",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let local: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let dir = std::env::temp_dir().join(format!("mcpx-serve-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks = dir.join("jwks.json");
        std::fs::write(
            &jwks,
            r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"0VUg2lR3uw4wi1NFQuWNIiBuSxoZH74J4dAFpbDQXtk","y":"7jVbdTG9hzcKetL-lk0akcgw2dUA-LzH2uR2E0PQa8U"}]}"#,
        )
        .unwrap();
        let jwks = jwks.to_str().unwrap();
        let base = [
            "--auth-jwks",
            jwks,
            "--auth-issuer",
            "https://as.example.com",
        ];
        // No --public-url: the bound address and the path.
        let a = parse(&base).unwrap();
        let c = auth_config(&a.auth, local, "/mcp").unwrap().unwrap();
        assert_eq!(c.resource(), "http://127.0.0.1:9000/mcp");
        // A public URL without a path gets --path; with one it is kept (normalized).
        for (url, want) in [
            ("https://MCP.example.com", "https://mcp.example.com/mcp"),
            (
                "https://mcp.example.com/tools/mcp/",
                "https://mcp.example.com/tools/mcp",
            ),
        ] {
            let a = parse(&[&base[..], &["--public-url", url, "--auth-scope", "a,b"]].concat())
                .unwrap();
            let c = auth_config(&a.auth, local, "/mcp").unwrap().unwrap();
            assert_eq!(c.resource(), want);
            assert_eq!(
                c.metadata()["scopes_supported"],
                serde_json::json!(["a", "b"])
            );
            assert_eq!(
                c.metadata()["authorization_servers"],
                serde_json::json!(["https://as.example.com"])
            );
        }
        let a = parse(&[&base[..], &["--public-url", "ftp://x"]].concat()).unwrap();
        assert!(auth_config(&a.auth, local, "/mcp").is_err());
        let a = parse(&[
            "--auth-jwks",
            "/nonexistent.json",
            "--auth-issuer",
            "https://as",
        ])
        .unwrap();
        let e = format!("{:#}", auth_config(&a.auth, local, "/mcp").unwrap_err());
        assert!(e.contains("--auth-jwks"), "{e}");
        // No auth flags: no bearer mode.
        assert!(
            auth_config(&parse(&[]).unwrap().auth, local, "/mcp")
                .unwrap()
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stdio_excludes_the_http_flags() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            crate::Cli::try_parse_from(["mcpx", "serve"].iter().chain(args)).map(|c| c.command)
        };
        for bad in [
            &["--stdio", "--port", "1"][..],
            &["--stdio", "--bind", "127.0.0.1"],
            &["--stdio", "--legacy-sse"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let Ok(crate::Command::Serve(args)) = parse(&["--stdio", "--mock", "claude"]) else {
            panic!("--stdio --mock claude refused");
        };
        assert!(args.stdio && !args.legacy_sse);
        // `--legacy` shapes the mock target; `--legacy-sse` is the transport.
        let Ok(crate::Command::Serve(args)) =
            parse(&["--mock", "claude", "--legacy", "--legacy-sse"])
        else {
            panic!("--legacy with --legacy-sse refused");
        };
        assert!(args.legacy && args.legacy_sse);
    }

    #[test]
    fn hardening_flags_parse_and_check() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            crate::Cli::try_parse_from(["mcpx", "serve"].iter().chain(args)).map(|c| c.command)
        };
        // A certificate needs its key and the other way round; TLS is not for stdio.
        for bad in [
            &["--tls-cert", "c.pem"][..],
            &["--tls-key", "k.pem"],
            &["--stdio", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
            &["--no-metrics", "--metrics-path", "/m"],
            &["--log-format", "xml"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let Ok(crate::Command::Serve(args)) = parse(&[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
            "--max-in-flight",
            "64",
            "--log-format",
            "json",
        ]) else {
            panic!("TLS flags refused");
        };
        assert_eq!(args.hardening.log_format, LogFormat::Json);
        let mut config = mcpx_proto::Config::default();
        let e = args
            .hardening
            .apply(Server::builder(), &mut config)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/cert.pem"), "{e}");
        let Ok(crate::Command::Serve(args)) = parse(&["--max-in-flight", "0"]) else {
            panic!("--max-in-flight 0 refused by the parser");
        };
        assert!(
            args.hardening
                .apply(Server::builder(), &mut config)
                .is_err()
        );
    }

    #[test]
    fn config_file_keys_and_errors() {
        let dir = std::env::temp_dir().join(format!("mcpx-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "port = 9000\nresponse_mode = \"sse\"\nallow_host = [\"mcp.example.com\"]\nlegacy_sse = true\n",
        )
        .unwrap();
        let f = load_file(&good).unwrap();
        assert_eq!(f.port, Some(9000));
        assert!(matches!(f.response_mode, Some(FileMode::Sse)));
        assert_eq!(f.allow_host, ["mcp.example.com"]);
        assert_eq!(f.legacy_sse, Some(true));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "prot = 9000\n").unwrap();
        let e = format!("{:#}", load_file(&bad).unwrap_err());
        assert!(e.contains("bad.toml") && e.contains("prot"), "{e}");
        let e = format!("{:#}", load_file(&dir.join("missing.toml")).unwrap_err());
        assert!(e.contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
