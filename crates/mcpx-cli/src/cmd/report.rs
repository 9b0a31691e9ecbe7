//! `mcpx report merge`: one report from the reports (or interval logs) of a sharded run.
//!
//! ```text
//! mcpx report merge shard-0.json shard-1.json shard-2.json --json all.json --html all.html
//! mcpx report merge --hdr-log shard-0.hlog shard-1.hlog shard-2.hlog -o all.hlog
//! ```
//!
//! The merge is exact (histograms added, percentiles recomputed) and checks the shard set:
//! see `mcpx_load::merge`. The merged report prints as the same table as `mcpx load` and takes
//! the same thresholds. Exit codes: 0 merged (and thresholds held), 1 an input is unreadable,
//! malformed or the shard set is wrong, 2 usage, 3 a threshold failed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mcpx_load::merge::{self, MergeOptions};
use mcpx_load::progress;

use crate::cmd::usage;

/// `mcpx report` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ReportCommand {
    /// Merge the JSON reports (or, with --hdr-log, the interval logs) of the shards of a run
    /// into one, exactly: counts summed, percentiles recomputed from the summed histograms.
    Merge(MergeArgs),
}

/// `mcpx report` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct ReportArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// `mcpx report merge` flags.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct MergeArgs {
    /// The inputs: JSON reports (`mcpx load --json`), or interval logs with --hdr-log.
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// The inputs are HdrHistogram interval logs (`mcpx load --hdr-log`); write the merged log
    /// to -o.
    #[arg(long, requires = "out", conflicts_with_all = ["json", "html", "max_p99", "max_error_rate"])]
    pub hdr_log: bool,
    /// With --hdr-log: where to write the merged interval log.
    #[arg(short, long, value_name = "FILE", requires = "hdr_log")]
    pub out: Option<PathBuf>,
    /// Write the merged JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Merge even when shards are missing (a warning, and a note in the report); duplicates
    /// are refused regardless.
    #[arg(long)]
    pub allow_partial: bool,
    /// Fail (exit 3) when the merged p99 of any method exceeds this, e.g. 200ms.
    #[arg(long, value_name = "DURATION")]
    pub max_p99: Option<String>,
    /// Fail (exit 3) when more than this share of the merged requests failed, e.g. 1%.
    #[arg(long, value_name = "P%")]
    pub max_error_rate: Option<String>,
}

/// Runs `mcpx report ...`.
pub(crate) fn run(args: ReportArgs) -> anyhow::Result<()> {
    match args.command {
        ReportCommand::Merge(m) => run_merge(m),
    }
}

fn run_merge(args: MergeArgs) -> anyhow::Result<()> {
    if args.hdr_log {
        let Some(out) = &args.out else {
            return Err(usage("--hdr-log needs -o FILE"));
        };
        let mut opts = MergeOptions::default();
        opts.allow_partial = args.allow_partial;
        let merged = merge::merge_hdr_log_files(&args.inputs, &opts)?;
        for w in &merged.warnings {
            eprintln!("mcpx report: warning: {w}");
        }
        std::fs::write(out, merged.log)
            .with_context(|| format!("cannot write the interval log {}", out.display()))?;
        println!(
            "mcpx report: merged {} interval logs into {}",
            args.inputs.len(),
            out.display()
        );
        return Ok(());
    }
    // Thresholds are parsed before the (possibly long) merge, so a typo fails at once.
    let thresholds = super::thresholds(args.max_p99.as_deref(), args.max_error_rate.as_deref())?;
    let mut opts = MergeOptions::default();
    opts.allow_partial = args.allow_partial;
    let merged = merge::merge_report_files(&args.inputs, &opts)?;
    for w in &merged.warnings {
        eprintln!("mcpx report: warning: {w}");
    }
    let report = merged.report;
    let mut out = std::io::stdout();
    report.print_table(&mut out, progress::colors_enabled())?;
    if let Some(path) = &args.json {
        report
            .write_json(path)
            .with_context(|| format!("cannot write the JSON report {}", path.display()))?;
        println!("mcpx report: JSON report: {}", path.display());
    }
    if let Some(path) = &args.html {
        super::write_html("mcpx report", &report, path)?;
    }
    super::enforce("mcpx report", &report, &thresholds)?;
    Ok(())
}
