//! One module per subcommand, and what the reporting subcommands (`load`, `replay`, `report
//! merge`) share: the error kinds `main` maps to exit codes, the thresholds flags and the HTML
//! report.

pub(crate) mod load;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod serve;

use anyhow::Context as _;
use mcpx_load::{Report, Thresholds};

/// The thresholds failed: `main` exits with [`mcpx_load::exit::THRESHOLDS_FAILED`].
#[derive(Debug)]
pub(crate) struct ThresholdsFailed(pub(crate) Vec<String>);

impl std::fmt::Display for ThresholdsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "thresholds failed: {}", self.0.join("; "))
    }
}

impl std::error::Error for ThresholdsFailed {}

/// A usage error found after parsing: `main` exits with [`mcpx_load::exit::USAGE`].
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A [`Usage`] error with this message.
pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// The `--max-p99` / `--max-error-rate` thresholds; a bad value is a usage error naming its
/// flag. Parsed before the run, so a typo fails at once.
pub(crate) fn thresholds(
    max_p99: Option<&str>,
    max_error_rate: Option<&str>,
) -> anyhow::Result<Thresholds> {
    let mut thresholds = Thresholds::new();
    if let Some(p) = max_p99 {
        thresholds
            .add_max_p99(p)
            .map_err(|e| usage(format!("--max-p99: {e}")))?;
    }
    if let Some(r) = max_error_rate {
        thresholds
            .set_max_error_rate(r)
            .map_err(|e| usage(format!("--max-error-rate: {e}")))?;
    }
    Ok(thresholds)
}

/// Writes the HTML report to `path` and says so (`tool`: the subcommand, for the message).
pub(crate) fn write_html(
    tool: &str,
    report: &Report,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    std::fs::write(path, mcpx_load::html::render(report))
        .with_context(|| format!("cannot write the HTML report {}", path.display()))?;
    println!("{tool}: HTML report: {}", path.display());
    Ok(())
}

/// Checks the report against the thresholds: each failure on stderr, then
/// [`ThresholdsFailed`].
pub(crate) fn enforce(tool: &str, report: &Report, thresholds: &Thresholds) -> anyhow::Result<()> {
    let violations = mcpx_load::thresholds::check(report, thresholds);
    if violations.is_empty() {
        return Ok(());
    }
    let msgs: Vec<String> = violations.iter().map(ToString::to_string).collect();
    for m in &msgs {
        eprintln!("{tool}: threshold failed: {m}");
    }
    Err(anyhow::Error::new(ThresholdsFailed(msgs)))
}

/// Reads and parses a `mcpx-scenario/1` file; the error names the file, the key and what is
/// allowed.
pub(crate) fn read_scenario(path: &std::path::Path) -> anyhow::Result<mcpx_scenario::Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
    mcpx_scenario::Scenario::parse(&text, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))
}
