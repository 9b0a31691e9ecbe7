//! `--hdr-log FILE`: the run's time series as an HdrHistogram interval log, and the reader and
//! merger behind `mcpx report merge`.
//!
//! The format is HdrHistogram's own (the Java `HistogramLogWriter`'s, readable by
//! `HistogramLogProcessor` and HdrHistogram plotters): one line per interval and histogram,
//! `[Tag=NAME,]start_s,length_s,max,HISTFAAA...`, each histogram V2 compressed and base64. Values
//! are microseconds of latency from the intended send time; the `max` column is in milliseconds
//! (`MaxValueDivisor` 1000). Each interval has an untagged line for all requests and a line per
//! method tagged with the method name (`,` and spaces become `_`), so two shards' logs merge
//! exactly line by line ([`merge_interval_logs`]). Timestamps are seconds since the run start
//! (`BaseTime` 0), to the millisecond.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};

use crate::hist::{self, DecodeHistError};
use crate::metrics::Metrics;

/// Latency values are µs; the `max` column is written in ms.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// Errors reading, writing or merging interval logs.
#[derive(Debug)]
#[non_exhaustive]
pub enum HdrLogError {
    /// Writing failed.
    Io(io::Error),
    /// A line does not parse (byte offset).
    Parse(usize),
    /// A histogram does not decode.
    Histogram(DecodeHistError),
}

impl std::fmt::Display for HdrLogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "interval log: {e}"),
            Self::Parse(o) => write!(f, "interval log: bad line at byte {o}"),
            Self::Histogram(e) => write!(f, "interval log: {e}"),
        }
    }
}

impl std::error::Error for HdrLogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Histogram(e) => Some(e),
            Self::Parse(_) => None,
        }
    }
}

impl From<io::Error> for HdrLogError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// One histogram line of an interval log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogInterval {
    /// Method name, or `None` for all requests.
    pub tag: Option<String>,
    /// Start, µs since the run start (millisecond precision).
    pub start_us: u64,
    /// Length, µs (millisecond precision).
    pub duration_us: u64,
    /// Latency histogram, µs.
    pub histogram: Histogram<u64>,
}

/// The tag written for `name`: interval-log tags may not hold `,`, spaces or line breaks.
#[must_use]
pub fn tag_for(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Writes `metrics`'s time series (closed intervals, then the open one if it saw requests).
///
/// # Errors
/// When writing fails.
pub fn write_interval_log(metrics: &Metrics, w: &mut impl Write) -> Result<(), HdrLogError> {
    let entries = metrics
        .interval_views()
        .into_iter()
        .map(|v| {
            let mut hs = Vec::with_capacity(v.methods.len() + 1);
            hs.push((None, hist::decode_bytes(&v.latency)));
            for (m, b) in &v.methods {
                hs.push((Some(tag_for(m)), hist::decode_bytes(b)));
            }
            (v.start_us, v.len_us, hs)
        })
        .collect::<Vec<_>>();
    let mut items = Vec::new();
    for (start, len, hs) in entries {
        for (tag, h) in hs {
            items.push(LogInterval {
                tag,
                start_us: start,
                duration_us: len,
                histogram: h.map_err(HdrLogError::Histogram)?,
            });
        }
    }
    write_intervals(&items, w)
}

/// [`write_interval_log`] into a file.
///
/// # Errors
/// When the file cannot be written.
pub fn write_interval_log_file(
    metrics: &Metrics,
    path: impl AsRef<Path>,
) -> Result<(), HdrLogError> {
    let mut buf = Vec::new();
    write_interval_log(metrics, &mut buf)?;
    std::fs::write(path, buf)?;
    Ok(())
}

/// Writes interval histograms as an interval log, in the given order.
///
/// # Errors
/// When writing fails.
pub fn write_intervals(items: &[LogInterval], w: &mut impl Write) -> Result<(), HdrLogError> {
    let mut ser = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(
            "mcpx load interval log: latency from the intended send time, values in microseconds",
        )
        .with_base_time(std::time::UNIX_EPOCH)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(w, &mut ser)?;
    log.write_comment(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
    )?;
    for it in items {
        let tag = it.tag.as_deref().and_then(Tag::new);
        log.write_histogram(
            &it.histogram,
            Duration::from_micros(it.start_us),
            Duration::from_micros(it.duration_us),
            tag,
        )
        .map_err(|e| HdrLogError::Io(io::Error::other(e.to_string())))?;
    }
    Ok(())
}

/// Reads every histogram line of an interval log.
///
/// # Errors
/// When a line or a histogram does not parse.
pub fn read_interval_log(input: &[u8]) -> Result<Vec<LogInterval>, HdrLogError> {
    let mut out = Vec::new();
    for e in IntervalLogIterator::new(input) {
        match e {
            Ok(LogEntry::Interval(ilh)) => out.push(LogInterval {
                tag: ilh.tag().map(|t| t.as_str().to_owned()),
                start_us: to_us(ilh.start_timestamp()),
                duration_us: to_us(ilh.duration()),
                histogram: hist::decode_text(ilh.encoded_histogram())
                    .map_err(HdrLogError::Histogram)?,
            }),
            Ok(_) => {}
            Err(hdrhistogram::serialization::interval_log::LogIteratorError::ParseError {
                offset,
            }) => {
                return Err(HdrLogError::Parse(offset));
            }
        }
    }
    Ok(out)
}

fn to_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Merges interval logs (one per shard) exactly: histograms with the same tag and start are
/// added; the output is sorted by start, then tag (untagged first).
///
/// # Errors
/// When an input does not parse or writing fails.
pub fn merge_interval_logs(inputs: &[&[u8]], w: &mut impl Write) -> Result<(), HdrLogError> {
    let mut merged: BTreeMap<(u64, Option<String>), LogInterval> = BTreeMap::new();
    for input in inputs {
        for it in read_interval_log(input)? {
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
    }
    let items: Vec<LogInterval> = merged.into_values().collect();
    write_intervals(&items, w)
}
