//! `mcpx load`: realistic Claude traffic against an MCP server, with a live view and reports.
//!
//! Without a URL it starts the Claude-like mock (`mcpx serve --mock claude`) in-process on
//! loopback and runs a 30-second demo against it, at a rate and time scale chosen to make those
//! 30 seconds show hundreds of users (and says what it chose). With a URL it uses the profile's
//! own values unless flags say otherwise.
//!
//! Exit codes (also in the README): 0 the run completed and every threshold held; 1 the run
//! failed (setup, target unreachable, report not written); 2 usage error; 3 a threshold
//! (`--max-p99`, `--max-error-rate`) failed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use mcpx_load::{
    LiveCounts, MetricsSink, Model, Report, RunInfo, RunOptions, Transport, exit, metrics::Metrics,
    progress,
};
use mcpx_scenario::{LoadModel, MockTarget, Scenario, Shard, ToolInfo};
use tokio::sync::watch;

use super::usage;

/// The demo's length, rate and time scale (no URL): hundreds of users in 30 seconds.
const DEMO_DURATION: Duration = Duration::from_secs(30);
/// New users per second in the demo.
const DEMO_RATE: f64 = 20.0;
/// Every client-side wait and the mock's latencies shrink by this factor in the demo, so a
/// 2-minute conversation takes 6 seconds.
const DEMO_TIME_SCALE: f64 = 0.05;
/// Simulated users behind the `--dry-run` / plan estimate (a second of CPU at most).
const ESTIMATE_USERS: u64 = 3_000;
/// How often the live view refreshes and the metrics roll their interval.
const LIVE_EVERY: Duration = Duration::from_secs(1);
/// How long in-flight users may finish after the duration, at most, in a run from the
/// command line (the profile's `drain_s` is 120 s: too long to wait at a terminal).
const MAX_CLI_DRAIN: Duration = Duration::from_secs(10);

/// `mcpx load` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct LoadArgs {
    /// The MCP endpoint (e.g. http://127.0.0.1:8080/mcp). Without it: the embedded mock.
    pub url: Option<String>,
    /// How clients behave: the built-in profile name.
    #[arg(long, default_value = "claude")]
    pub profile: String,
    /// A scenario file (TOML, `mcpx-scenario/1`, the format of the built-in profile).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Closed model: N concurrent virtual users.
    #[arg(long, value_name = "N", conflicts_with = "rate")]
    pub users: Option<u64>,
    /// Open model: R new virtual users per second.
    #[arg(long, value_name = "R", conflicts_with = "call_rate")]
    pub rate: Option<f64>,
    /// Open model at the call level: R tool calls per second spread over --users sessions
    /// (default 50). The sessions open first and the call schedule starts once they are (at
    /// most 10 s in); each call's latency counts from its scheduled arrival.
    #[arg(long, value_name = "R")]
    pub call_rate: Option<f64>,
    /// Ramp stages, k6-style DURATION:TARGET (repeatable), e.g. --stage 30s:10 --stage 1m:50.
    #[arg(long, value_name = "DURATION:TARGET")]
    pub stage: Vec<String>,
    /// How long users keep arriving, e.g. 30s, 5m.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// After --duration, how long users still running may finish (default: the profile's
    /// drain, at most 10 s).
    #[arg(long, value_name = "DURATION")]
    pub drain: Option<String>,
    /// Stop after this many requests.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// HTTP/2 for every request.
    #[arg(long)]
    pub http2: bool,
    /// Seed of every random draw (the workload is reproducible).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Client-side deadline of every request, e.g. 30s.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// An extra header on every request, 'K: V' (repeatable).
    #[arg(long, value_name = "K: V")]
    pub header: Vec<String>,
    /// Authorization: Bearer TOKEN on authenticated requests.
    #[arg(long, value_name = "TOKEN")]
    pub bearer: Option<String>,
    /// Multiply every client-side wait and deadline by F (the embedded mock scales its
    /// latencies by the same factor).
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// Print the plan (users, requests/s, sessions, streams, tools) and exit; with a URL or
    /// --stdio it first lists the target's tools (a handshake and tools/list), nothing more.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the HdrHistogram interval log here.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// No live progress view.
    #[arg(long)]
    pub no_progress: bool,
    /// Fail (exit 3) when the p99 latency of any method exceeds this, e.g. 200ms.
    #[arg(long, value_name = "DURATION")]
    pub max_p99: Option<String>,
    /// Fail (exit 3) when more than this share of requests fail, e.g. 1%.
    #[arg(long, value_name = "P%")]
    pub max_error_rate: Option<String>,
    /// Run only the users of shard I of N (users k with k mod N = I).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// An extra CA certificate (PEM) for TLS targets.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Call tools marked destructiveHint too (never by default against a real server).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Embedded mock only: switch its 2026-07-28 era off (the profile's "legacy target").
    #[arg(long)]
    pub legacy_target: bool,
    /// Load-test a stdio server: spawn the command after `--` (one process per MCP session,
    /// at most 32 at once), e.g. `mcpx load --stdio -- node server.js`.
    #[arg(long, requires = "command", conflicts_with_all = ["url", "legacy_sse"])]
    pub stdio: bool,
    /// The URL is a legacy HTTP+SSE (2024-11-05) endpoint (the `GET` stream); without this flag
    /// it is detected when the server refuses Streamable HTTP.
    #[arg(long, requires = "url")]
    pub legacy_sse: bool,
    /// The stdio server's command and arguments (after `--`, with --stdio).
    #[arg(last = true, value_name = "CMD ARGS", requires = "stdio")]
    pub command: Vec<String>,
}

/// Parses `30s`, `5m`, `250ms`, `1h`, `2us` or a bare number of seconds.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| t.split_at(i));
    let n: f64 = num.parse().map_err(|_| {
        usage(format!(
            "invalid duration {text:?}: expected e.g. 30s, 5m, 250ms"
        ))
    })?;
    let secs = match unit.trim() {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(usage(format!(
                "invalid duration unit {other:?} in {text:?}: one of us, ms, s, m, h"
            )));
        }
    };
    if !(secs.is_finite() && (0.0..=7.0 * 24.0 * 3600.0).contains(&secs)) {
        return Err(usage(format!(
            "duration {text:?} out of range (0 to 7 days)"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `mcpx load` until its end (or `stop`).
pub(crate) async fn run(
    args: LoadArgs,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut scenario = match &args.scenario {
        Some(file) => crate::cmd::read_scenario(file).map_err(|e| usage(format!("{e:#}")))?,
        None => Scenario::builtin(&args.profile).map_err(|e| usage(e.to_string()))?,
    };
    let demo = args.url.is_none() && !args.stdio;
    let mut notes = Vec::new();
    // The demo's choices, unless flags say otherwise.
    let time_scale = args
        .time_scale
        .unwrap_or(if demo { DEMO_TIME_SCALE } else { 1.0 });
    if !(time_scale.is_finite() && time_scale > 0.0) {
        return Err(usage("--time-scale must be a positive number"));
    }
    if let Some(seed) = args.seed {
        scenario.profile.seed = seed;
    }
    let duration = match &args.duration {
        Some(d) => Some(parse_duration(d)?),
        None if demo => Some(DEMO_DURATION),
        None => None,
    };
    if let Some(d) = duration {
        scenario.load.duration_us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    }
    scenario.load.drain_us = match &args.drain {
        Some(d) => u64::try_from(parse_duration(d)?.as_micros()).unwrap_or(u64::MAX),
        None => scenario
            .load
            .drain_us
            .min(u64::try_from(MAX_CLI_DRAIN.as_micros()).unwrap_or(u64::MAX)),
    };
    if let Some(n) = args.users.filter(|_| args.call_rate.is_none()) {
        scenario.load.model = LoadModel::Closed;
        scenario.load.users = n;
    }
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(usage(
                "--rate must be a positive number of users per second",
            ));
        }
        scenario.load.model = LoadModel::Open;
        scenario.load.users_per_s = r;
    } else if demo && args.users.is_none() && args.call_rate.is_none() {
        scenario.load.users_per_s = DEMO_RATE;
    }
    if let Some(r) = args.call_rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(usage(
                "--call-rate must be a positive number of calls per second",
            ));
        }
        scenario.load.model = LoadModel::Calls;
        scenario.load.calls_per_s = r;
        scenario.load.sessions = args.users.unwrap_or(50).max(1);
    }
    if !args.stage.is_empty() {
        scenario.load.stages = mcpx_scenario::parse_stages(&args.stage.join(","))
            .map_err(|e| usage(format!("--stage: {e}")))?;
    }
    if args.stdio && scenario.load.prefill {
        // Prefill starts the steady-state population of long-lived Claude Code users at once,
        // each holding its session: over stdio that is a process each, hundreds at a time,
        // past the runner's process bound. Users arrive from zero instead.
        scenario.load.prefill = false;
        notes.push("stdio: prefill is off (a held session is a process each)".to_owned());
    }
    scenario
        .scale_time(time_scale)
        .map_err(|e| usage(e.to_string()))?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).map_err(|e| usage(format!("--shard: {e}")))?,
        None => Shard::all(),
    };
    let thresholds = super::thresholds(args.max_p99.as_deref(), args.max_error_rate.as_deref())?;
    let request_timeout = args.timeout.as_deref().map(parse_duration).transpose()?;
    let mut headers = Vec::new();
    for h in &args.header {
        let Some((k, v)) = h.split_once(':') else {
            return Err(usage(format!("--header {h:?}: expected 'Name: value'")));
        };
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let cacert = match &args.cacert {
        Some(p) => Some(
            std::fs::read(p).with_context(|| format!("cannot read --cacert {}", p.display()))?,
        ),
        None => None,
    };

    // The target: the URL, a stdio command, or the embedded mock on loopback.
    let (url, catalog, mock_stop) = if let Some(url) = &args.url {
        (url.clone(), None, None)
    } else if args.stdio {
        let shown = args.command.join(" ");
        (format!("stdio: {shown}"), None, None)
    } else {
        let opts = crate::mock::MockOptions {
            kind: crate::mock::MockKind::Claude,
            modern: !args.legacy_target,
            time_scale,
            seed: scenario.profile.seed,
        };
        let server = crate::mock::mock_builder(Some(&scenario), &opts)?
            .build()
            .context("the embedded mock")?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("cannot bind the embedded mock on 127.0.0.1")?;
        let local = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(server.serve(listener, async move {
            let mut rx = rx;
            let _ = rx.wait_for(|s| *s).await;
        }));
        let tools = scenario
            .target
            .as_ref()
            .map(|t| MockTarget::new(t).tool_infos())
            .unwrap_or_default();
        println!(
            "mcpx load: no URL given: the embedded Claude-like mock serves http://{local}/mcp{}",
            if args.legacy_target {
                " (legacy target: no 2026-07-28)"
            } else {
                ""
            }
        );
        (format!("http://{local}/mcp"), Some(tools), Some(tx))
    };
    let mut opts = RunOptions::new(url.clone(), scenario.clone());
    opts.shard = shard;
    opts.http2 = args.http2;
    opts.headers = headers;
    opts.bearer = args.bearer.clone();
    opts.request_timeout = request_timeout;
    // `--requests N` bounds the whole run: each shard sends its part (the parts add up to N).
    opts.max_requests = args.requests.map(|n| shard.share(n));
    opts.insecure = args.insecure;
    opts.cacert = cacert;
    if args.stdio {
        let Some((program, rest)) = args.command.split_first() else {
            return Err(usage("--stdio needs a command after `--`"));
        };
        opts.transport = Transport::Stdio {
            program: program.clone(),
            args: rest.to_vec(),
        };
    } else if args.legacy_sse {
        opts.transport = Transport::LegacySse;
    }
    // Discovery (no scenario tools, a real target) is the one thing a dry run sends.
    let discovered = catalog.is_none();
    let catalog: Vec<ToolInfo> = match catalog {
        Some(c) => c,
        None => {
            let found = mcpx_load::discover(&opts).await?;
            if found.transport != opts.transport {
                let msg = format!(
                    "the server refused Streamable HTTP: using {}",
                    found.transport.describe()
                );
                // The report's note is the plan's transport line below.
                println!("mcpx load: {msg}");
                opts.transport = found.transport;
            }
            let mut tools = found.tools;
            let mut skipped = 0;
            if !args.allow_destructive {
                let (callable, destructive): (Vec<_>, Vec<_>) = tools
                    .into_iter()
                    .partition(|t| t.read_only || !t.destructive);
                tools = callable;
                skipped = destructive.len();
                if skipped > 0 {
                    let msg = format!(
                        "{skipped} tool(s) not called because they may be destructive (not \
                         marked readOnlyHint, and destructiveHint true or not given, the spec's \
                         default): {}; --allow-destructive calls them",
                        tool_names(&destructive)
                    );
                    println!("mcpx load: {msg}");
                    notes.push(msg);
                }
            }
            if tools.is_empty() {
                if skipped > 0 {
                    return Err(usage(format!(
                        "the server's {skipped} tool(s) may all be destructive: none is called \
                         without --allow-destructive"
                    )));
                }
                bail!("the server lists no tool");
            }
            tools
        }
    };

    let model = match scenario.load.model {
        LoadModel::Closed => Model::Closed,
        LoadModel::Calls => Model::Calls,
        _ => Model::Open,
    };
    let plan_line = plan_summary(&scenario, model, &catalog, time_scale);
    println!("mcpx load: {plan_line}");
    if opts.transport != Transport::StreamableHttp {
        let line = format!("transport: {}", opts.transport.describe());
        println!("mcpx load: {line}");
        notes.push(line);
    }
    if !shard.is_all() {
        println!(
            "mcpx load: shard {shard}: this process runs the users k with k mod {} = {} of that plan",
            shard.count(),
            shard.index()
        );
    }
    if args.dry_run {
        println!(
            "mcpx load: --dry-run: {}",
            if discovered {
                "no load sent (only the discovery's handshake and tools/list)"
            } else {
                "nothing sent"
            }
        );
        if let Some(tx) = mock_stop {
            let _ = tx.send(true);
        }
        return Ok(());
    }
    // The closed-model note is the report's own (`Report::from_metrics` adds it, also to a
    // merged report); a copy here would print it twice.

    let metrics = Metrics::new(LIVE_EVERY);
    let sink = Arc::new(MetricsSink::new(metrics));
    let live_counters = Arc::new(LiveCounts::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let started_at = rfc3339_now();
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            stop.await;
            let _ = stop_tx.send(true);
        });
    }
    // The live view: one refresh per interval, off the request path.
    let view_sink = sink.clone();
    let view_done = Arc::new(tokio::sync::Notify::new());
    let view_stop = view_done.clone();
    let show = !args.no_progress;
    let start = std::time::Instant::now();
    let view = tokio::spawn(async move {
        let mut live = progress::Live::new(show);
        let mut tick = tokio::time::interval(LIVE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let snap = view_sink.with(|m| m.snapshot(now));
                    live.update(&snap);
                }
                () = view_stop.notified() => break,
            }
        }
        live.finish();
    });
    let summary = mcpx_load::run(opts, &catalog, sink.clone(), live_counters, stop_rx).await;
    view_done.notify_one();
    let _ = view.await;
    if let Some(tx) = mock_stop {
        let _ = tx.send(true);
    }
    let summary = summary?;
    if let Some(why) = &summary.stopped_early {
        notes.push(format!("stopped early: {why}"));
    }
    if let Some(us) = summary.calls_started_us {
        notes.push(format!(
            "call-rate model: the call schedule started {:.1} ms into the run, once the \
             sessions were open (the handshakes are not part of the fixed rate)",
            us as f64 / 1000.0
        ));
    }
    if summary.channel_waits > 0 {
        notes.push(format!(
            "{} sessions waited for a free {} (the generator's limit, counted in their latency)",
            summary.channel_waits,
            if args.stdio {
                "server process"
            } else {
                "legacy SSE stream"
            }
        ));
    }
    if summary.users_refused > 0 {
        notes.push(format!(
            "{} arrivals were not started: {} users were alive (the generator's limit)",
            summary.users_refused,
            mcpx_load::runner::MAX_LIVE_USERS
        ));
    }
    let mut info = RunInfo::new(url, model);
    info.users = (model == Model::Closed).then_some(scenario.load.users);
    info.rate_per_s = match model {
        Model::Calls => Some(scenario.load.calls_per_s),
        Model::Open => Some(scenario.load.users_per_s),
        _ => None,
    };
    info.duration_us = scenario.load.duration_us;
    info.seed = scenario.profile.seed;
    info.scenario = args.scenario.as_ref().map_or_else(
        || format!("profile {}", args.profile),
        |p| p.display().to_string(),
    );
    info.started_at = started_at;
    info.time_scale = time_scale;
    // A shard's report describes its part of the run (users k with k mod n = i, a rate of
    // 1/n of the arrivals), so `mcpx report merge` sums the parts back to the whole.
    if args.shard.is_some() {
        info.shard = Some(shard.to_string());
        info.users = info.users.map(|n| shard.share(n));
        info.rate_per_s = info.rate_per_s.map(|r| r / shard.count() as f64);
    }
    info.notes = notes;
    let report = sink.with(|m| {
        m.advance(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
        Report::from_metrics(m, info)
    });
    let color = progress::colors_enabled();
    let mut out = std::io::stdout();
    report.print_table(&mut out, color)?;
    println!(
        "mcpx load: {} users started, {} finished, {} requests in {:.1}s",
        summary.users_started,
        summary.users_finished,
        summary.requests,
        summary.elapsed.as_secs_f64()
    );
    if let Some(path) = &args.json {
        report
            .write_json(path)
            .with_context(|| format!("cannot write the JSON report {}", path.display()))?;
        println!("mcpx load: JSON report: {}", path.display());
    }
    if let Some(path) = &args.html {
        super::write_html("mcpx load", &report, path)?;
    }
    if let Some(path) = &args.hdr_log {
        // A shard's log names its shard, so `mcpx report merge --hdr-log` checks the set.
        let mut log = Vec::new();
        sink.with(|m| mcpx_load::hdrlog::write_interval_log(m, &mut log))
            .map_err(|e| anyhow::anyhow!("cannot write the interval log: {e}"))?;
        if args.shard.is_some() {
            log = mcpx_load::merge::shard_log(shard, &log);
        }
        std::fs::write(path, log)
            .with_context(|| format!("cannot write the interval log {}", path.display()))?;
        println!("mcpx load: HdrHistogram interval log: {}", path.display());
    }
    super::enforce("mcpx load", &report, &thresholds)?;
    let _ = exit::OK;
    Ok(())
}

/// Tool names named in a message: at most this many (a server may list thousands).
const NAMED_TOOLS: usize = 8;

/// `a, b, c` (and "N more" past [`NAMED_TOOLS`]).
fn tool_names(tools: &[ToolInfo]) -> String {
    let mut out = tools
        .iter()
        .take(NAMED_TOOLS)
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if tools.len() > NAMED_TOOLS {
        out.push_str(&format!(" and {} more", tools.len() - NAMED_TOOLS));
    }
    out
}

/// One line: model, rate or users, duration, time scale, seed, tools, and the simulator's
/// steady-state estimate of requests/s, sessions/s and held streams.
fn plan_summary(scenario: &Scenario, model: Model, tools: &[ToolInfo], time_scale: f64) -> String {
    let load = &scenario.load;
    let who = match model {
        Model::Closed => format!("closed model, {} concurrent users", load.users),
        Model::Calls => format!(
            "call-level open model, {} calls/s over {} sessions",
            load.calls_per_s, load.sessions
        ),
        _ => format!(
            "open model, {} new users/s ({:?} arrivals)",
            load.users_per_s, load.arrival
        ),
    };
    // The tools users may call (after `[tools]` source, exclude and overrides), as the plan
    // sees them.
    let plan = mcpx_scenario::Plan::new(scenario.clone(), tools).ok();
    let callable: Vec<&str> = plan.as_ref().map_or_else(
        || tools.iter().map(|t| t.name.as_str()).collect(),
        |p| p.tools().iter().map(|t| t.name.as_str()).collect(),
    );
    let shown = callable.len().min(12);
    let mut line = format!(
        "{who}, {:.0}s, time scale {time_scale}, seed {}; {} tool(s) called: {}{}",
        load.duration_us as f64 / 1e6,
        scenario.profile.seed,
        callable.len(),
        callable.get(..shown).unwrap_or_default().join(", "),
        if callable.len() > shown { ", ..." } else { "" }
    );
    // The simulator's steady state for this plan against the profile's target (for a real
    // server, its latencies are an assumption).
    if let (Some(plan), Some(target)) = (plan, scenario.target.as_ref())
        && model == Model::Open
    {
        let est =
            mcpx_scenario::sim::estimate(&Arc::new(plan), &MockTarget::new(target), ESTIMATE_USERS);
        line.push_str(&format!(
            "\nmcpx load: expected at steady state: {:.0} requests/s, {:.1} tool calls/s, {:.1} new sessions/s, {:.0} streams held, {:.0} users alive",
            est.requests_per_s, est.calls_per_s, est.sessions_per_s, est.streams_held, est.concurrent_users
        ));
    }
    line
}

/// Now as RFC 3339 UTC (seconds), from the system clock.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
        assert!(rfc3339_now().ends_with('Z'));
    }
}
