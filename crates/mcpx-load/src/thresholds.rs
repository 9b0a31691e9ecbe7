//! Pass/fail thresholds for CI (`--max-p99 200ms`, `--max-error-rate 1%`) and the process exit
//! codes of `mcpx load`.
//!
//! A p99 limit applies to all requests, or to one method (`tools/call=200ms`) or one tool
//! (`tool:search=1s`). The error rate is the share of requests that got no answer (connect,
//! TLS, timeout, HTTP status, JSON-RPC error, protocol, cancelled); `isError` results are answers
//! and do not count against it.

use std::fmt;

use crate::report::{Report, RequestStats, fmt_ms};

/// Exit codes of `mcpx load` (and `mcpx report`), for CI pipelines.
pub mod exit {
    /// The run completed and every threshold passed (or none was given).
    pub const OK: i32 = 0;
    /// The run could not be done: setup failed (bad target, unreachable at start, file not
    /// writable) or another runtime error.
    pub const RUN_FAILED: i32 = 1;
    /// The command line or scenario file is invalid (bad flag, bad duration, bad threshold).
    pub const USAGE: i32 = 2;
    /// The run completed but at least one threshold (`--max-p99`, `--max-error-rate`) failed;
    /// the violations are printed after the report.
    pub const THRESHOLDS_FAILED: i32 = 3;
}

/// Which requests a latency limit applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// All requests.
    All,
    /// One method (`tools/call=...`).
    Method(String),
    /// One tool (`tool:NAME=...`).
    Tool(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all requests"),
            Self::Method(m) => write!(f, "method {m}"),
            Self::Tool(t) => write!(f, "tool {t}"),
        }
    }
}

/// A p99 limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencyLimit {
    /// Which requests.
    pub scope: Scope,
    /// The largest allowed p99, µs.
    pub max_us: u64,
}

/// The thresholds of a run (empty: nothing can fail).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Thresholds {
    /// `--max-p99` limits.
    pub max_p99: Vec<LatencyLimit>,
    /// `--max-error-rate`, as a fraction (0.01 = 1 %).
    pub max_error_rate: Option<f64>,
}

impl Thresholds {
    /// No thresholds.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `--max-p99` value: `DURATION`, `METHOD=DURATION` or `tool:NAME=DURATION`.
    ///
    /// # Errors
    /// When the duration does not parse.
    pub fn add_max_p99(&mut self, arg: &str) -> Result<&mut Self, ThresholdError> {
        let (scope, value) = match arg.rsplit_once('=') {
            None => (Scope::All, arg),
            Some((k, v)) => match k.strip_prefix("tool:") {
                Some(t) if !t.is_empty() => (Scope::Tool(t.to_owned()), v),
                _ if !k.is_empty() && !k.starts_with("tool:") => (Scope::Method(k.to_owned()), v),
                _ => {
                    return Err(ThresholdError::new(
                        arg,
                        "expected DURATION, METHOD=DURATION or tool:NAME=DURATION",
                    ));
                }
            },
        };
        let max_us = parse_duration_us(value)?;
        self.max_p99.push(LatencyLimit { scope, max_us });
        Ok(self)
    }

    /// Sets `--max-error-rate`: `1%`, `0.5%` or a fraction `0.01`.
    ///
    /// # Errors
    /// When the value does not parse or is outside 0..=100 %.
    pub fn set_max_error_rate(&mut self, arg: &str) -> Result<&mut Self, ThresholdError> {
        self.max_error_rate = Some(parse_rate(arg)?);
        Ok(self)
    }

    /// Whether no threshold is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.max_p99.is_empty() && self.max_error_rate.is_none()
    }
}

/// A threshold value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThresholdError {
    /// The value given.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

impl ThresholdError {
    fn new(value: &str, expected: &'static str) -> Self {
        Self {
            value: value.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid threshold {:?}: {}", self.value, self.expected)
    }
}

impl std::error::Error for ThresholdError {}

/// Parses `250us`, `200ms`, `1.5s`, `2m`, `1h` (also `µs`) into microseconds. A unit is required.
///
/// # Errors
/// When the number or unit is missing or invalid, or the value is negative or too large.
pub fn parse_duration_us(s: &str) -> Result<u64, ThresholdError> {
    const EXPECTED: &str = "expected a duration with a unit: 250us, 200ms, 1.5s, 2m, 1h";
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600e6)
    } else {
        return Err(ThresholdError::new(s, EXPECTED));
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| ThresholdError::new(s, EXPECTED))?;
    let us = v * scale;
    if !us.is_finite() || !(0.0..=1e15).contains(&us) {
        return Err(ThresholdError::new(s, EXPECTED));
    }
    Ok(us.round() as u64)
}

/// Parses `1%` or `0.01` into a fraction. A bare number must be below 1 (`1` is refused as
/// ambiguous: write `1%` or `100%`).
///
/// # Errors
/// When it does not parse, is ambiguous, or is outside 0..=100 %.
pub fn parse_rate(s: &str) -> Result<f64, ThresholdError> {
    const EXPECTED: &str = "expected a rate: 1% or 0.01 (between 0 and 100%)";
    let t = s.trim();
    let v = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|v| v / 100.0)
    } else {
        let v = t
            .parse::<f64>()
            .map_err(|_| ThresholdError::new(s, EXPECTED))?;
        // A bare `1` or `5` most likely means percent: refuse rather than allow 100 %.
        if v >= 1.0 {
            return Err(ThresholdError::new(
                s,
                "ambiguous rate: write a percentage (1%) or a fraction below 1 (0.01)",
            ));
        }
        Ok(v)
    }
    .map_err(|_| ThresholdError::new(s, EXPECTED))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(ThresholdError::new(s, EXPECTED));
    }
    Ok(v)
}

/// A failed threshold.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Violation {
    /// One line for the terminal and CI logs.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks `report` against `t`; empty means every threshold passed. A limit on a method or tool
/// that saw no request fails (a typo must not pass silently).
#[must_use]
pub fn check(report: &Report, t: &Thresholds) -> Vec<Violation> {
    let mut out = Vec::new();
    for lim in &t.max_p99 {
        let stats: Option<&RequestStats> = match &lim.scope {
            Scope::All => Some(&report.summary),
            Scope::Method(m) => report.methods.iter().find(|s| &s.name == m),
            Scope::Tool(n) => report.tools.iter().find(|s| &s.name == n),
        };
        match stats {
            None => out.push(Violation {
                message: format!(
                    "--max-p99 {}: no requests for {}",
                    fmt_ms(lim.max_us),
                    lim.scope
                ),
            }),
            Some(s) if s.latency_us.p99 > lim.max_us => out.push(Violation {
                message: format!(
                    "p99 latency of {} is {}, above the limit {} (--max-p99)",
                    lim.scope,
                    fmt_ms(s.latency_us.p99),
                    fmt_ms(lim.max_us)
                ),
            }),
            Some(_) => {}
        }
    }
    if let Some(max) = t.max_error_rate {
        let rate = report.summary.error_rate;
        if rate > max {
            out.push(Violation {
                message: format!(
                    "error rate {:.3}% ({} of {} requests without an answer) is above the limit {:.3}% (--max-error-rate)",
                    rate * 100.0,
                    report.summary.failed,
                    report.summary.requests,
                    max * 100.0
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration_us("200ms").unwrap(), 200_000);
        assert_eq!(parse_duration_us("1.5s").unwrap(), 1_500_000);
        assert_eq!(parse_duration_us("250us").unwrap(), 250);
        assert!(parse_duration_us("200").is_err());
        assert!(parse_duration_us("-1ms").is_err());
        assert!(parse_duration_us("ms").is_err());
        assert!((parse_rate("1%").unwrap() - 0.01).abs() < 1e-12);
        assert!((parse_rate("0.02").unwrap() - 0.02).abs() < 1e-12);
        assert!(parse_rate("150%").is_err());
        assert!(parse_rate("x").is_err());
        assert!(parse_rate("1").unwrap_err().expected.contains("ambiguous"));
        assert!((parse_rate("100%").unwrap() - 1.0).abs() < 1e-12);
        let mut t = Thresholds::new();
        t.add_max_p99("tools/call=2s").unwrap();
        t.add_max_p99("tool:search=100ms").unwrap();
        assert_eq!(t.max_p99[0].scope, Scope::Method("tools/call".into()));
        assert_eq!(t.max_p99[1].scope, Scope::Tool("search".into()));
        assert!(t.add_max_p99("tool:=1s").is_err());
        assert!(t.add_max_p99("=1s").is_err());
    }
}
