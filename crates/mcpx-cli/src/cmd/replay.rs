//! `mcpx replay`: a recorded trace against a live server (PROFILE.md section 3), with the same
//! live view, reports and thresholds as `mcpx load`, plus a divergence summary (printed, added
//! to the report's notes, and as a `divergence` object in the JSON report).
//!
//! Exit codes as `mcpx load`: 0 ok, 1 run failed (unreadable trace, unreachable target), 2 usage,
//! 3 thresholds failed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use mcpx_load::{MetricsSink, Model, Report, RunInfo, metrics::Metrics, progress};
use mcpx_replay::ReplayOptions;
use mcpx_trace::plan::{Plan, PlanOptions, Timing};
use tokio::sync::watch;

use crate::cmd::usage;

/// How often the live view refreshes and the metrics roll their interval (as `mcpx load`).
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// Timing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum TimingArg {
    /// Per user: each request after what its user could have seen, gaps scaled.
    User,
    /// Each request at its recorded time from the start, scaled.
    Absolute,
}

/// `mcpx replay` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct ReplayArgs {
    /// The trace (`mcpx-trace/1` JSONL).
    pub trace: PathBuf,
    /// The MCP endpoint (default: the trace's `endpoint`).
    pub url: Option<String>,
    /// Divide every gap by F (2 = twice as fast).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub speed: f64,
    /// Run N copies of every user, copy i started i*span/N later.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub multiply: u32,
    /// Start trace users round-robin as a Poisson process at R users per second instead of at
    /// their recorded times (each once, or until --duration with --loop); replaces --multiply.
    #[arg(long, value_name = "R", conflicts_with = "multiply")]
    pub users_per_s: Option<f64>,
    /// With --users-per-s: cycle through the trace's users until --duration is over.
    #[arg(long = "loop", requires_all = ["users_per_s", "duration"])]
    pub looped: bool,
    /// With --users-per-s: start users only this long, e.g. 10m.
    #[arg(long, value_name = "DURATION", requires = "users_per_s")]
    pub duration: Option<String>,
    /// Seed of the --users-per-s arrival times.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Timing rule.
    #[arg(long, value_enum, default_value_t = TimingArg::User)]
    pub timing: TimingArg,
    /// HTTP/2 for every request.
    #[arg(long)]
    pub http2: bool,
    /// Bearer token sent where the trace has a redacted Authorization.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Tokens by recorded credential: lines `HASH TOKEN` (HASH as in the trace's
    /// `Bearer $redacted:HASH`); used before --token.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Redacted argument values: lines `HASH VALUE` (HASH as in the trace's
    /// `{"$redacted":{"sha256_8":HASH}}`, VALUE JSON or else taken as a string); other redacted
    /// values are sent as same-size fillers.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// Deadline of each exchange, e.g. 30s (default 300s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
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
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// An extra CA certificate (PEM) for TLS targets.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
}

/// `KEY VALUE` lines of a file (blank lines and `#` comments skipped).
fn pairs_file(p: &std::path::Path, flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read {flag} {}", p.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(char::is_whitespace) else {
            return Err(usage(format!(
                "{flag} {} line {}: expected `HASH VALUE`",
                p.display(),
                i + 1
            )));
        };
        out.push((k.to_owned(), v.trim().to_owned()));
    }
    Ok(out)
}

/// Runs `mcpx replay` to its end (or `stop`).
pub(crate) async fn run(
    args: ReplayArgs,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.trace)
        .with_context(|| format!("cannot read the trace {}", args.trace.display()))?;
    let mut reader = mcpx_trace::Reader::new(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.trace.display()))?;
    let header = reader.header().cloned();
    let events = reader
        .read_all()
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.trace.display()))?;
    let mut notes = Vec::new();
    if reader.truncated() {
        notes.push("the trace's last line was cut short and skipped".to_owned());
    }
    let url = match args
        .url
        .clone()
        .or_else(|| header.as_ref().and_then(|h| h.endpoint.clone()))
    {
        Some(u) => u,
        None => return Err(usage("no URL given and the trace names no endpoint")),
    };
    let mut popts = PlanOptions::default();
    popts.speed = args.speed;
    popts.multiply = args.multiply;
    popts.timing = match args.timing {
        TimingArg::User => Timing::User,
        TimingArg::Absolute => Timing::Absolute,
    };
    if let Some(r) = args.users_per_s {
        let mut a = mcpx_trace::plan::Arrivals::new(r);
        a.looped = args.looped;
        a.seed = args.seed;
        a.duration_us = args
            .duration
            .as_deref()
            .map(mcpx_load::thresholds::parse_duration_us)
            .transpose()
            .map_err(|e| usage(format!("--duration: {e}")))?;
        popts.arrivals = Some(a);
    }
    let plan = Plan::new(&events, popts).map_err(|e| usage(e.to_string()))?;
    let copies = plan.copies.len();
    if plan.skipped > 0 {
        notes.push(format!(
            "{} trace events cannot be replayed over HTTP (stdio messages, requests without an exchange id)",
            plan.skipped
        ));
    }
    let thresholds = super::thresholds(args.max_p99.as_deref(), args.max_error_rate.as_deref())?;
    let users = plan.users.len();
    let steps = plan.steps();
    let span = plan.span_us;
    let mut opts = ReplayOptions::new(url.clone(), plan);
    opts.http2 = args.http2;
    opts.token.clone_from(&args.token);
    if let Some(p) = &args.secrets {
        for (hash, value) in pairs_file(p, "--secrets")? {
            let json = if serde_json::from_str::<serde_json::Value>(&value).is_ok() {
                value
            } else {
                serde_json::to_string(&value)?
            };
            opts.secrets.insert(hash, json);
        }
    }
    if let Some(p) = &args.tokens {
        opts.tokens.extend(pairs_file(p, "--tokens")?);
    }
    opts.insecure = args.insecure;
    if let Some(t) = &args.timeout {
        opts.request_timeout = Duration::from_micros(
            mcpx_load::thresholds::parse_duration_us(t)
                .map_err(|e| usage(format!("--timeout: {e}")))?,
        );
    }
    if let Some(p) = &args.cacert {
        opts.cacert = Some(
            std::fs::read(p).with_context(|| format!("cannot read --cacert {}", p.display()))?,
        );
    }
    println!(
        "mcpx replay: {} users, {copies} user runs, {steps} requests over {:.1}s recorded, speed {}, {:?} timing, against {url}",
        users,
        span as f64 / 1e6,
        args.speed,
        args.timing
    );

    let sink = Arc::new(MetricsSink::new(Metrics::new(LIVE_EVERY)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
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
    let result = mcpx_replay::replay(opts, sink.clone(), stop_rx).await;
    view_done.notify_one();
    let _ = view.await;
    let summary = result.map_err(|e| usage(e.to_string()))?;
    if summary.stopped_early {
        notes.push("stopped early (interrupted)".to_owned());
    }
    if summary.unbound > 0 {
        notes.push(format!(
            "{} requests went without the live session id their recorded session needed (its initialize failed or diverged)",
            summary.unbound
        ));
    }
    if summary.unmatched_answers > 0 {
        notes.push(format!(
            "{} recorded answers to server requests went with their recorded id (the live server did not ask)",
            summary.unmatched_answers
        ));
    }
    let div_lines = summary.divergence.summary_lines();
    notes.extend(div_lines.iter().cloned());
    let mut info = RunInfo::new(url, Model::Open);
    info.scenario = format!("replay {}", args.trace.display());
    info.started_at = header.map(|h| h.start).unwrap_or_default();
    info.time_scale = 1.0 / args.speed;
    info.notes = notes;
    let report = sink.with(|m| {
        m.advance(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
        Report::from_metrics(m, info)
    });
    let mut out = std::io::stdout();
    report.print_table(&mut out, progress::colors_enabled())?;
    for line in &div_lines {
        println!("mcpx replay: {line}");
    }
    println!(
        "mcpx replay: {} user copies started, {} finished, {} requests in {:.1}s",
        summary.copies_started,
        summary.copies_finished,
        summary.requests,
        summary.elapsed.as_secs_f64()
    );
    if let Some(path) = &args.json {
        let mut v = report.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "divergence".into(),
                serde_json::to_value(&summary.divergence).unwrap_or_default(),
            );
        }
        let text = serde_json::to_vec_pretty(&v)?;
        std::fs::write(path, text)
            .with_context(|| format!("cannot write the JSON report {}", path.display()))?;
        println!("mcpx replay: JSON report: {}", path.display());
    }
    if let Some(path) = &args.html {
        super::write_html("mcpx replay", &report, path)?;
    }
    if let Some(path) = &args.hdr_log {
        sink.with(|m| mcpx_load::hdrlog::write_interval_log_file(m, path))
            .map_err(|e| {
                anyhow::anyhow!("cannot write the interval log {}: {e}", path.display())
            })?;
        println!("mcpx replay: HdrHistogram interval log: {}", path.display());
    }
    super::enforce("mcpx replay", &report, &thresholds)?;
    Ok(())
}
