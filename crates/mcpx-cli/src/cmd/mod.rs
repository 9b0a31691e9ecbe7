//! One module per subcommand.

pub(crate) mod load;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod serve;

use anyhow::Context as _;

/// Reads and parses a `mcpx-scenario/1` file; the error names the file, the key and what is
/// allowed.
pub(crate) fn read_scenario(path: &std::path::Path) -> anyhow::Result<mcpx_scenario::Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
    mcpx_scenario::Scenario::parse(&text, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))
}
