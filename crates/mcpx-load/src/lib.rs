//! `mcpx-load`: the load tester's I/O half (work in progress): virtual users from
//! `mcpx-scenario` driven over `mcpx-client`, measured into HdrHistograms.
//!
//! Measurement and reporting (the recorder, reports, interval logs, HTML, live view,
//! thresholds and exit codes) are described in [`report`].

mod hist;
mod precise;

pub mod hdrlog;
pub mod html;
pub mod merge;
pub mod metrics;
pub mod progress;
pub mod report;
pub mod thresholds;

pub use hist::{DecodeHistError, HIST_LOW_US, HIST_MAX_US, HIST_SIGFIG};
pub use metrics::{Metrics, Outcome, RequestRecord, Snapshot};
pub use progress::Live;
pub use report::{Model, Report, ReportError, RunInfo};
pub use thresholds::{Thresholds, Violation, exit};

// The runner (virtual users over mcpx-client) and its sink into `Metrics`.
pub mod runner;
pub mod sink;

pub use runner::{
    Discovery, LiveCounts, RunError, RunEvent, RunOptions, RunSummary, Sink, Transport, discover,
    discover_tools, run,
};
pub use sink::MetricsSink;
