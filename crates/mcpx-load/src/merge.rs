//! `mcpx report merge`: shard reports and interval logs read from files and merged exactly,
//! with the shard set checked.
//!
//! A sharded run (`mcpx load --shard i/n` on n machines) writes one JSON report per shard. Each
//! report carries every histogram in full (HdrHistogram V2, base64), so [`merge_reports`] adds
//! them value for value and recomputes every percentile from the sums ([`Report::merge`]): the
//! merged p99 is the p99 of all requests, exact to the histograms' precision (3 significant
//! digits), never an average of p99s. Counts are summed.
//!
//! # What is checked
//! - Every input is a report of [`crate::report::REPORT_FORMAT`] whose histograms decode, have
//!   the standard shape ([`crate::HIST_LOW_US`], [`crate::HIST_SIGFIG`]) and hold as many values
//!   as their `count` says. A malformed file gets a [`MergeError`] naming the file and the field
//!   (a JSON path such as `methods["tools/call"].latency_us.hdr`, or the key and line where the
//!   JSON does not fit the report's shape).
//! - The shard set ([`check_shards`]): reports of shards (`run.shard = "i/n"`) must all have the
//!   same n, each index at most once (a duplicate would count its requests twice: always an
//!   error) and every index present (a missing shard is an error, or with
//!   [`MergeOptions::allow_partial`] a warning and a note in the merged report). Shards must
//!   describe one workload: the same model, seed, duration and time scale (a different scenario
//!   path or target is only a warning: one file has many paths, each embedded mock its own
//!   port). Reports without a shard are independent runs, added up with a warning; mixing both
//!   is an error. The same report given twice is an error either way.
//!
//! Interval logs (`--hdr-log`) of a shard start with a `#[mcpx shard i/n]` comment
//! ([`shard_log`]); [`merge_hdr_log_files`] checks their set by the same rules and adds the
//! histograms with the same tag and start.
//!
//! # Not here
//! Printing and exit codes (`mcpx-cli`); the arithmetic of merging ([`Report::merge`],
//! [`crate::hdrlog`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use mcpx_scenario::Shard;

use crate::hdrlog::{self, HdrLogError, LogInterval};
use crate::hist::{self, HIST_LOW_US, HIST_SIGFIG};
use crate::report::{Dist, REPORT_FORMAT, Report};

/// Largest report file read (256 MiB): a report of an hour at 1 s intervals with every method
/// and tool is a few MiB; anything far larger is not a report, and reading it whole would cost
/// that much memory.
pub const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;
/// Largest interval log read (1 GiB): logs hold a histogram line per method per interval, so
/// they outgrow reports on long runs.
pub const MAX_HDR_LOG_BYTES: u64 = 1024 * 1024 * 1024;
/// Most inputs one merge takes (each report is held in memory until the merge ends); 4096
/// shards is far beyond any Kubernetes Job we ship.
pub const MAX_MERGE_INPUTS: usize = 4096;
/// Merged rates (sums of a rate split n ways) are rounded to this many decimals, so 3 × 0.3
/// reads back as 0.9 rather than 0.8999999999999999.
const RATE_DECIMALS: i32 = 6;

/// How strict a merge is.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MergeOptions {
    /// Merge an incomplete shard set (a warning and a note in the report) instead of refusing.
    pub allow_partial: bool,
}

/// A merged report and what the caller should tell the user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Merged {
    /// The merged report (percentiles recomputed from the summed histograms).
    pub report: Report,
    /// Warnings (independent runs, missing shards with `allow_partial`, different targets).
    pub warnings: Vec<String>,
    /// The shard set found.
    pub shards: ShardSet,
}

/// What the inputs were.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardSet {
    /// Reports without a shard: independent runs.
    Independent,
    /// Shards of one run: `count` shards, `present` indices given (sorted).
    Shards {
        /// n of `i/n`.
        count: u64,
        /// The indices given.
        present: Vec<u64>,
    },
}

impl ShardSet {
    /// Whether every shard of the run is present (or the reports are independent runs).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        match self {
            Self::Independent => true,
            Self::Shards { count, present } => present.len() as u64 == *count,
        }
    }

    /// The indices missing from a shard set (empty for independent runs).
    #[must_use]
    pub fn missing(&self) -> Vec<u64> {
        match self {
            Self::Independent => Vec::new(),
            Self::Shards { count, present } => (0..*count)
                .filter(|i| present.binary_search(i).is_err())
                .collect(),
        }
    }
}

/// Why inputs could not be merged. Each variant names the file involved.
#[derive(Debug)]
#[non_exhaustive]
pub enum MergeError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than the limit for its kind.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, bytes.
        max: u64,
    },
    /// The file is not a report: not JSON, another format, or a field that does not fit.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The field (JSON path or key) when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The inputs do not form one run: duplicate, missing or mismatched shards, or the same
    /// input twice.
    Shards(String),
    /// No input, or more than [`MAX_MERGE_INPUTS`].
    Inputs(String),
    /// Writing the merged interval log failed.
    Write(String),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::TooLarge { path, max } => write!(
                f,
                "{}: larger than {} MiB, the most this command reads",
                path.display(),
                max / (1024 * 1024)
            ),
            Self::Malformed {
                path,
                field: Some(field),
                message,
            } => write!(f, "{}: field {field}: {message}", path.display()),
            Self::Malformed {
                path,
                field: None,
                message,
            } => write!(f, "{}: {message}", path.display()),
            Self::Shards(m) | Self::Inputs(m) | Self::Write(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn malformed(path: &Path, field: Option<String>, message: impl Into<String>) -> MergeError {
    MergeError::Malformed {
        path: path.to_owned(),
        field,
        message: message.into(),
    }
}

/// Reads a file of at most `max` bytes.
fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, MergeError> {
    let io = |source| MergeError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // One byte past the cap tells "exactly max" from "more".
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(MergeError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

/// Reads and checks one JSON report (see the module docs for what is checked).
///
/// # Errors
/// [`MergeError`] naming `path` and, when the content is at fault, the field.
pub fn read_report(path: &Path) -> Result<Report, MergeError> {
    let bytes = read_capped(path, MAX_REPORT_BYTES)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        malformed(
            path,
            None,
            format!("not JSON ({e}); a report is the file `mcpx load --json` writes"),
        )
    })?;
    match value.get("format").and_then(serde_json::Value::as_str) {
        Some(REPORT_FORMAT) => {}
        Some(other) => {
            return Err(malformed(
                path,
                Some("format".into()),
                format!("{other:?} is not {REPORT_FORMAT:?} (written by another mcpx version?)"),
            ));
        }
        None => {
            return Err(malformed(
                path,
                Some("format".into()),
                format!("missing: not an mcpx load report (expected {REPORT_FORMAT:?})"),
            ));
        }
    }
    drop(value);
    // Deserialized from the text (not the value) so that an error has a line and column, from
    // which the offending key is recovered.
    let report: Report = serde_json::from_slice(&bytes).map_err(|e| {
        let field = key_before(&bytes, e.line(), e.column());
        malformed(path, field, format!("does not fit the report's shape: {e}"))
    })?;
    if let Some(s) = &report.run.shard {
        Shard::parse(s).map_err(|e| malformed(path, Some("run.shard".into()), e))?;
    }
    for (field, dist) in dists(&report) {
        check_dist(path, &field, dist)?;
    }
    for (i, p) in report.intervals.series.iter().enumerate() {
        if !p.hdr.is_empty() {
            let h = decode(path, || format!("intervals.series[{i}].hdr"), &p.hdr)?;
            check_shape(path, || format!("intervals.series[{i}].hdr"), &h)?;
        }
    }
    Ok(report)
}

/// The name of the JSON key nearest before (line, column) (1-based, as serde_json reports
/// them), e.g. `"p99"`: with the pretty-printed reports `mcpx load` writes, the key of the value
/// that failed.
fn key_before(bytes: &[u8], line: usize, column: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    let mut offset = 0usize;
    for _ in 1..line {
        offset += memchr_newline(bytes.get(offset..)?)? + 1;
    }
    let end = offset.saturating_add(column).min(bytes.len());
    let text = bytes.get(..end)?;
    // Scan back for `"key"` followed by optional spaces and a colon.
    let mut i = text.len();
    while i > 0 {
        i -= 1;
        if text[i] != b':' {
            continue;
        }
        let before = text[..i].trim_ascii_end();
        let Some(close) = before.len().checked_sub(1) else {
            continue;
        };
        if before.get(close) != Some(&b'"') {
            continue;
        }
        let open = before[..close].iter().rposition(|b| *b == b'"')?;
        return std::str::from_utf8(&before[open + 1..close])
            .ok()
            .map(|k| format!("{k:?} (line {line})"));
    }
    None
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

fn decode(
    path: &Path,
    field: impl Fn() -> String,
    text: &str,
) -> Result<Histogram<u64>, MergeError> {
    hist::decode_text(text).map_err(|e| malformed(path, Some(field()), e.to_string()))
}

/// Only histograms of the standard shape add up exactly (another precision would be rounded
/// into ours silently).
fn check_shape(
    path: &Path,
    field: impl Fn() -> String,
    h: &Histogram<u64>,
) -> Result<(), MergeError> {
    if h.sigfig() != HIST_SIGFIG || h.low() != HIST_LOW_US {
        return Err(malformed(
            path,
            Some(field()),
            format!(
                "histogram of {} significant digits from {} µs; mcpx reports use {HIST_SIGFIG} \
                 from {HIST_LOW_US} µs, and only those merge exactly",
                h.sigfig(),
                h.low()
            ),
        ));
    }
    Ok(())
}

fn check_dist(path: &Path, field: &str, d: &Dist) -> Result<(), MergeError> {
    let h = decode(path, || format!("{field}.hdr"), &d.hdr)?;
    check_shape(path, || format!("{field}.hdr"), &h)?;
    if h.len() != d.count {
        return Err(malformed(
            path,
            Some(format!("{field}.count")),
            format!(
                "says {} values but its histogram holds {}: the report was edited or truncated",
                d.count,
                h.len()
            ),
        ));
    }
    Ok(())
}

/// Every summary histogram of a report with its JSON path.
fn dists(r: &Report) -> Vec<(String, &Dist)> {
    fn requests<'a>(
        out: &mut Vec<(String, &'a Dist)>,
        at: &str,
        s: &'a crate::report::RequestStats,
    ) {
        out.push((format!("{at}.latency_us"), &s.latency_us));
        for (name, d) in [
            ("ttfb_us", &s.ttfb_us),
            ("first_event_us", &s.first_event_us),
            ("sse_event_us", &s.sse_event_us),
        ] {
            if let Some(d) = d {
                out.push((format!("{at}.{name}"), d));
            }
        }
    }
    let mut out = Vec::new();
    requests(&mut out, "summary", &r.summary);
    for m in &r.methods {
        requests(&mut out, &format!("methods[{:?}]", m.name), m);
    }
    for t in &r.tools {
        requests(&mut out, &format!("tools[{:?}]", t.name), t);
    }
    for f in &r.families {
        let at = format!("families[{:?}]", f.name);
        requests(&mut out, &format!("{at}.requests"), &f.requests);
        out.push((format!("{at}.turn_us"), &f.turn_us));
        out.push((format!("{at}.conversation_us"), &f.conversation_us));
        out.push((
            format!("{at}.calls_per_conversation"),
            &f.calls_per_conversation,
        ));
        out.push((
            format!("{at}.requests_per_conversation"),
            &f.requests_per_conversation,
        ));
        out.push((format!("{at}.handshake_call_us"), &f.handshake_call_us));
    }
    out.push(("generator.lag_us".into(), &r.generator.lag_us));
    if let Some(d) = &r.sse.event_us {
        out.push(("sse.event_us".into(), d));
    }
    out.push(("sse.progress_gap_us".into(), &r.sse.progress_gap_us));
    out.push(("fan_out.calls".into(), &r.fan_out.calls));
    for t in &r.think {
        out.push((format!("think[{:?}].us", t.kind), &t.us));
    }
    out.push(("sizes.args_bytes".into(), &r.sizes.args_bytes));
    out.push(("sizes.result_bytes".into(), &r.sizes.result_bytes));
    out
}

/// Checks that `reports` (labelled by their file) form one run, or independent runs; returns
/// the set and warnings. See the module docs for the rules.
///
/// # Errors
/// [`MergeError::Shards`] naming the files involved.
pub fn check_shards(
    reports: &[(PathBuf, Report)],
    opts: &MergeOptions,
) -> Result<(ShardSet, Vec<String>), MergeError> {
    for (i, (pa, a)) in reports.iter().enumerate() {
        for (pb, b) in &reports[..i] {
            if a == b {
                return Err(MergeError::Shards(format!(
                    "{} and {} are the same report: its requests would count twice",
                    pb.display(),
                    pa.display()
                )));
            }
        }
    }
    let mut tagged = Vec::with_capacity(reports.len());
    for (path, r) in reports {
        // read_report checked the field; a report built in memory gets the same message.
        let shard = r
            .run
            .shard
            .as_deref()
            .map(Shard::parse)
            .transpose()
            .map_err(|e| MergeError::Shards(format!("{}: run.shard: {e}", path.display())))?;
        tagged.push((path.as_path(), shard));
    }
    let (set, mut warnings) = check_set(&tagged, "reports", "run.shard", opts)?;
    if set == ShardSet::Independent {
        return Ok((set, warnings));
    }
    // One workload: the shards of a run share everything that decides who does what.
    let (p0, r0) = &reports[0];
    for (p, r) in &reports[1..] {
        let (a, b) = (&r0.run, &r.run);
        let differs = [
            ("run.model", a.model != b.model),
            ("run.seed", a.seed != b.seed),
            ("run.duration_us", a.duration_us != b.duration_us),
            ("run.time_scale", a.time_scale != b.time_scale),
        ];
        if let Some((field, _)) = differs.iter().find(|(_, d)| *d) {
            return Err(MergeError::Shards(format!(
                "{} and {} differ in {field}: they are shards of different runs (every shard \
                 must run the same scenario, seed, model, duration and time scale)",
                p0.display(),
                p.display()
            )));
        }
        // The scenario is recorded as the path it was read from: the same file may be reached
        // by different paths on different machines, so a difference is only suspicious.
        if a.scenario != b.scenario && !warnings.iter().any(|w| w.starts_with("scenarios differ")) {
            warnings.push(format!(
                "scenarios differ ({:?} in {}, {:?} in {}): fine for two paths to the same file, \
                 wrong for two scenarios",
                a.scenario,
                p0.display(),
                b.scenario,
                p.display()
            ));
        }
        if a.target != b.target && !warnings.iter().any(|w| w.starts_with("targets differ")) {
            warnings.push(format!(
                "targets differ ({} in {}, {} in {}): fine for embedded mocks, suspicious otherwise",
                a.target,
                p0.display(),
                b.target,
                p.display()
            ));
        }
    }
    Ok((set, warnings))
}

/// The shard-set rules shared by reports and interval logs: one n, each index once, none
/// missing (unless `allow_partial`), shards not mixed with whole runs. `what` names the inputs
/// and `field` where their shard is recorded, for the messages.
fn check_set(
    items: &[(&Path, Option<Shard>)],
    what: &str,
    field: &str,
    opts: &MergeOptions,
) -> Result<(ShardSet, Vec<String>), MergeError> {
    let mut warnings = Vec::new();
    let mut shards: BTreeMap<u64, &Path> = BTreeMap::new();
    let mut count: Option<(u64, &Path)> = None;
    let mut whole: Option<&Path> = None;
    for &(path, shard) in items {
        let Some(s) = shard else {
            whole.get_or_insert(path);
            continue;
        };
        match count {
            None => count = Some((s.count(), path)),
            Some((n, first)) if n != s.count() => {
                return Err(MergeError::Shards(format!(
                    "{} is shard {s} but {} is one of {n} shards: shards of one run share their n",
                    path.display(),
                    first.display()
                )));
            }
            Some(_) => {}
        }
        if let Some(other) = shards.insert(s.index(), path) {
            return Err(MergeError::Shards(format!(
                "shard {s} appears twice ({} and {}): its requests would count twice",
                other.display(),
                path.display()
            )));
        }
    }
    let Some((n, first)) = count else {
        if items.len() > 1 {
            warnings.push(format!(
                "the {} {what} carry no shard ({field}): merged as independent runs, their \
                 counts added",
                items.len()
            ));
        }
        return Ok((ShardSet::Independent, warnings));
    };
    if let Some(w) = whole {
        return Err(MergeError::Shards(format!(
            "{} is a whole run (no {field}) but {} is a shard of {n}: merge the shards of one \
             run, or whole runs, not both",
            w.display(),
            first.display()
        )));
    }
    let set = ShardSet::Shards {
        count: n,
        present: shards.keys().copied().collect(),
    };
    let missing = set.missing();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|i| format!("{i}/{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !opts.allow_partial {
            return Err(MergeError::Shards(format!(
                "incomplete run: shard(s) {list} missing (--allow-partial merges what is there)"
            )));
        }
        warnings.push(format!(
            "PARTIAL: shard(s) {list} missing: the merged counts cover {} of {n} shards",
            n - missing.len() as u64
        ));
    }
    Ok((set, warnings))
}

/// Merges reports after [`check_shards`]: histograms added, percentiles recomputed, counts
/// summed; the report's notes say which shards (and which are missing).
///
/// # Errors
/// The shard check's errors; [`MergeError::Inputs`] for no input or too many; a histogram that
/// does not decode (names the file when it can).
pub fn merge_reports(
    reports: &[(PathBuf, Report)],
    opts: &MergeOptions,
) -> Result<Merged, MergeError> {
    check_count(reports.len())?;
    let (shards, warnings) = check_shards(reports, opts)?;
    let plain: Vec<Report> = reports.iter().map(|(_, r)| r.clone()).collect();
    let mut report = Report::merge(&plain).map_err(|e| MergeError::Inputs(e.to_string()))?;
    if let Some(r) = report.run.rate_per_s.as_mut() {
        let k = 10f64.powi(RATE_DECIMALS);
        *r = (*r * k).round() / k;
    }
    for w in &warnings {
        if w.starts_with("PARTIAL") {
            report.run.notes.push(w.clone());
        }
    }
    Ok(Merged {
        report,
        warnings,
        shards,
    })
}

/// Reads the reports at `paths` and merges them ([`read_report`], [`merge_reports`]).
///
/// # Errors
/// As [`read_report`] and [`merge_reports`].
pub fn merge_report_files(paths: &[PathBuf], opts: &MergeOptions) -> Result<Merged, MergeError> {
    check_count(paths.len())?;
    let reports = paths
        .iter()
        .map(|p| read_report(p).map(|r| (p.clone(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    merge_reports(&reports, opts)
}

fn check_count(n: usize) -> Result<(), MergeError> {
    if n == 0 {
        return Err(MergeError::Inputs("no input to merge".into()));
    }
    if n > MAX_MERGE_INPUTS {
        return Err(MergeError::Inputs(format!(
            "{n} inputs: at most {MAX_MERGE_INPUTS} merge at once (merge in groups, then merge \
             the results)"
        )));
    }
    Ok(())
}

/// The comment that names the shard an interval log belongs to: `#[mcpx shard i/n]` before
/// its first line ([`shard_log`]). Interval-log readers skip comments; [`merge_hdr_log_files`]
/// reads it to check the shard set as it does for reports.
const SHARD_COMMENT: &str = "#[mcpx shard ";

/// `log` (an interval log as [`crate::hdrlog`] writes it) marked as shard `shard`.
#[must_use]
pub fn shard_log(shard: Shard, log: &[u8]) -> Vec<u8> {
    let mut out = format!("{SHARD_COMMENT}{shard}]\n").into_bytes();
    out.extend_from_slice(log);
    out
}

/// The shard an interval log says it is (its `#[mcpx shard i/n]` comment), if any.
fn log_shard(path: &Path, bytes: &[u8]) -> Result<Option<Shard>, MergeError> {
    let mut found: Option<(Shard, usize)> = None;
    for (n, line) in bytes.split(|c| *c == b'\n').enumerate() {
        let Some(rest) = line.strip_prefix(SHARD_COMMENT.as_bytes()) else {
            continue;
        };
        let text = std::str::from_utf8(rest)
            .ok()
            .and_then(|t| t.trim_end().strip_suffix(']'));
        let shard = text
            .ok_or_else(|| "expected #[mcpx shard i/n]".to_owned())
            .and_then(Shard::parse)
            .map_err(|e| malformed(path, None, format!("line {}: {e}", n + 1)))?;
        match found {
            Some((first, line)) if first != shard => {
                return Err(malformed(
                    path,
                    None,
                    format!(
                        "line {}: shard {shard}, but line {line} said {first}: one log, one shard",
                        n + 1
                    ),
                ));
            }
            Some(_) => {}
            None => found = Some((shard, n + 1)),
        }
    }
    Ok(found.map(|(s, _)| s))
}

/// A merged interval log and what the caller should tell the user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MergedLog {
    /// The merged log (interval-log text).
    pub log: Vec<u8>,
    /// Warnings (independent runs, missing shards with `allow_partial`).
    pub warnings: Vec<String>,
    /// The shard set found.
    pub shards: ShardSet,
}

/// Merges the interval logs at `paths` exactly (histograms with the same tag and start are
/// added, sorted by start then tag), after the shard-set check of [`check_shards`] on their
/// `#[mcpx shard i/n]` comments. The merged log is a whole run (no shard comment).
///
/// # Errors
/// [`MergeError`] naming the file and line that does not parse, the same log given twice, or a
/// wrong shard set.
pub fn merge_hdr_log_files(
    paths: &[PathBuf],
    opts: &MergeOptions,
) -> Result<MergedLog, MergeError> {
    check_count(paths.len())?;
    // A fingerprint per input, not its bytes: the logs are not kept once merged.
    let mut seen: Vec<(&Path, (usize, u64))> = Vec::new();
    let mut tagged: Vec<(&Path, Option<Shard>)> = Vec::new();
    let mut merged: BTreeMap<(u64, Option<String>), LogInterval> = BTreeMap::new();
    for path in paths {
        let bytes = read_capped(path, MAX_HDR_LOG_BYTES)?;
        let fingerprint = (bytes.len(), {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&bytes, &mut h);
            std::hash::Hasher::finish(&h)
        });
        if let Some((other, _)) = seen.iter().find(|(_, f)| *f == fingerprint) {
            return Err(MergeError::Shards(format!(
                "{} and {} are the same interval log: its requests would count twice",
                other.display(),
                path.display()
            )));
        }
        tagged.push((path, log_shard(path, &bytes)?));
        let items = hdrlog::read_interval_log(&bytes).map_err(|e| {
            let line = match &e {
                HdrLogError::Parse(offset) => Some(line_of(&bytes, *offset)),
                _ => first_bad_line(&bytes),
            };
            let what = match &e {
                HdrLogError::Parse(_) => {
                    "not an interval-log line (HdrHistogram log format)".into()
                }
                other => other.to_string(),
            };
            match line {
                Some(n) => malformed(path, None, format!("line {n}: {what}")),
                None => malformed(path, None, what),
            }
        })?;
        for (n, it) in items.into_iter().enumerate() {
            check_shape(
                path,
                || format!("histogram {} (tag {:?})", n + 1, it.tag),
                &it.histogram,
            )?;
            match merged.get_mut(&(it.start_us, it.tag.clone())) {
                Some(m) => {
                    hist::add(&mut m.histogram, &it.histogram);
                    m.duration_us = m.duration_us.max(it.duration_us);
                }
                None => {
                    merged.insert((it.start_us, it.tag.clone()), it);
                }
            }
        }
        seen.push((path, fingerprint));
    }
    let (shards, warnings) = check_set(&tagged, "interval logs", "#[mcpx shard i/n]", opts)?;
    let items: Vec<LogInterval> = merged.into_values().collect();
    let mut log = Vec::new();
    if let ShardSet::Shards { count, present } = &shards {
        let list: Vec<String> = present.iter().map(|i| format!("{i}/{count}")).collect();
        log.extend_from_slice(
            format!("#[mcpx merged from shards {}]\n", list.join(", ")).as_bytes(),
        );
    }
    hdrlog::write_intervals(&items, &mut log).map_err(|e| MergeError::Write(e.to_string()))?;
    Ok(MergedLog {
        log,
        warnings,
        shards,
    })
}

/// 1-based line number of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes
        .get(..offset)
        .unwrap_or(bytes)
        .iter()
        .filter(|c| **c == b'\n')
        .count()
}

/// The first line that does not read on its own (error path only: a histogram that does not
/// decode is reported by the log reader without its position).
fn first_bad_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .split(|c| *c == b'\n')
        .enumerate()
        .find_map(|(n, line)| {
            let mut one = line.to_vec();
            one.push(b'\n');
            hdrlog::read_interval_log(&one).is_err().then_some(n + 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_before_finds_the_failing_key() {
        let text = b"{\n  \"a\": 1,\n  \"p99\": \"x\",\n  \"b\": 2\n}";
        // serde_json points just past the bad value on line 3.
        assert_eq!(key_before(text, 3, 12).as_deref(), Some("\"p99\" (line 3)"));
        assert_eq!(key_before(text, 0, 0), None);
        assert_eq!(key_before(b"[1, 2]", 1, 4), None);
        assert_eq!(key_before(b"", 9, 9), None);
    }

    #[test]
    fn log_shard_comments() {
        let p = Path::new("x.hlog");
        let s = Shard::new(1, 3).unwrap_or(Shard::all());
        let log = shard_log(s, b"#[StartTime: 0]\n");
        assert_eq!(log_shard(p, &log).ok(), Some(Some(s)));
        assert_eq!(log_shard(p, b"#[StartTime: 0]\n").ok(), Some(None));
        let bad = log_shard(p, b"#[mcpx shard 3/2]\n")
            .map(|_| ())
            .unwrap_err();
        assert!(bad.to_string().contains("x.hlog: line 1"), "{bad}");
        let two = log_shard(p, b"#[mcpx shard 0/2]\n#[mcpx shard 1/2]\n").map(|_| ());
        assert!(two.is_err());
    }

    #[test]
    fn shard_rates_and_users_add_back_to_the_run() {
        // `mcpx load --shard i/3 --rate 0.9` records 0.3 per shard, and 0.3 + 0.3 + 0.3 is
        // 0.8999999999999999 in floating point: the merge gives 0.9.
        let reports: Vec<(PathBuf, Report)> = (0..3u64)
            .map(|i| {
                let mut info = crate::RunInfo::new("http://127.0.0.1:9/mcp", crate::Model::Open);
                info.rate_per_s = Some(0.9 / 3.0);
                info.users = Some(Shard::new(i, 3).map_or(0, |s| s.share(10)));
                info.shard = Some(format!("{i}/3"));
                info.started_at = format!("2026-01-01T00:00:0{i}Z");
                let m = crate::Metrics::new(std::time::Duration::from_secs(1));
                (
                    PathBuf::from(format!("s{i}.json")),
                    Report::from_metrics(&m, info),
                )
            })
            .collect();
        let merged = merge_reports(&reports, &MergeOptions::default()).map(|m| m.report.run);
        let run = merged.as_ref().ok();
        assert_eq!(run.and_then(|r| r.rate_per_s), Some(0.9));
        assert_eq!(run.and_then(|r| r.users), Some(10));
    }

    #[test]
    fn shard_sets() {
        let s = ShardSet::Shards {
            count: 4,
            present: vec![0, 2],
        };
        assert!(!s.is_complete());
        assert_eq!(s.missing(), vec![1, 3]);
        assert!(ShardSet::Independent.is_complete());
    }
}
