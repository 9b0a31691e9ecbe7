//! `mcpx-cli`: the `mcpx` command. Argument parsing, terminal output and exit codes live here;
//! everything a test would call is a function of this library (`run`), so CLI tests run
//! in-process.

#![forbid(unsafe_code)]

mod cmd;
pub mod fixtures;
pub mod mock;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use cmd::load::LoadArgs;
pub use cmd::record::RecordArgs;
pub use cmd::replay::{ReplayArgs, TimingArg};
pub use cmd::report::{MergeArgs, ReportArgs, ReportCommand};
pub use cmd::serve::ServeArgs;

/// mcpx: a fast MCP engine and load tester.
#[derive(Debug, Parser)]
#[command(name = "mcpx", version, about)]
#[non_exhaustive]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Serve MCP over Streamable HTTP: the conformance fixtures plus `echo`, or a mock target
    /// (`--mock claude`: the Claude-like target of the load profile; `--mock null`).
    Serve(ServeArgs),
    /// Load-test an MCP server with realistic Claude traffic (no URL: the embedded mock, a
    /// 30-second demo). Exit codes: 0 ok, 1 run failed, 2 usage, 3 thresholds failed.
    Load(Box<LoadArgs>),
    /// Work with reports: `merge` the JSON reports or interval logs of a sharded run into one,
    /// exactly. Exit codes: 0 ok, 1 bad input or shard set, 2 usage, 3 thresholds failed.
    Report(ReportArgs),
    /// Record real traffic: a reverse proxy in front of an MCP server writing an `mcpx-trace/1`
    /// file (secrets redacted), until Ctrl-C or --duration.
    Record(RecordArgs),
    /// Replay a recorded trace against a server, scaled (--speed) and multiplied (--multiply),
    /// with the reports of `mcpx load` and a divergence summary. Exit codes as `load`.
    Replay(Box<ReplayArgs>),
}

/// Runs a parsed command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args, shutdown_signal()).await,
        Command::Load(args) => cmd::load::run(*args, shutdown_signal()).await,
        Command::Report(args) => cmd::report::run(args),
        Command::Record(args) => cmd::record::run(args, shutdown_signal()).await,
        Command::Replay(args) => cmd::replay::run(*args, shutdown_signal()).await,
    }
}

/// Resolves on Ctrl-C (or SIGTERM on Unix).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The whole program: parse `args`, run, map errors to a message and exit code 1 (2 for usage
/// errors, as clap does).
pub fn main_with_args(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr);
    // `mcpx serve --log-format json`: one JSON object per line, for log collectors. A second
    // run in one process (tests) keeps the first subscriber.
    if matches!(&cli.command, Command::Serve(a) if a.hardening.log_format == cmd::serve::LogFormat::Json)
    {
        logs.json().try_init().ok();
    } else {
        logs.try_init().ok();
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Command::Record(a) = &cli.command {
        runtime.worker_threads(usize::from(a.threads));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpx: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Users still holding streams must not keep the process alive after the report.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<cmd::ThresholdsFailed>().is_some() => {
            ExitCode::from(exit_code(mcpx_load::exit::THRESHOLDS_FAILED))
        }
        Err(e) if e.downcast_ref::<cmd::Usage>().is_some() => {
            eprintln!("mcpx: {e:#}");
            ExitCode::from(exit_code(mcpx_load::exit::USAGE))
        }
        Err(e) => {
            eprintln!("mcpx: {e:#}");
            ExitCode::from(exit_code(mcpx_load::exit::RUN_FAILED))
        }
    }
}

fn exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
