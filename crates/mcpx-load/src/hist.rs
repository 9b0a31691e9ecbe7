//! The one histogram shape every measurement uses (1 µs .. 1 h, 3 significant digits) and its
//! V2 (deflate) + base64 text form.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{
    Deserializer, Serializer as _, V2DeflateSerializer, V2Serializer,
};

/// Largest recorded value: one hour in microseconds. Larger values are clamped to it and counted
/// (`clamped` in the report), so a stuck request shows up as "≥ 1 h", never as a lost sample.
pub const HIST_MAX_US: u64 = 3_600_000_000;
/// Lowest discernible value: 1 µs.
pub const HIST_LOW_US: u64 = 1;
/// Significant decimal digits kept by every histogram (value precision 0.1 %).
pub const HIST_SIGFIG: u8 = 3;
/// Initial highest trackable value. Histograms start small (2048 counters, 16 KiB) and grow on
/// demand up to [`HIST_MAX_US`], so a key that only sees millisecond latencies never pays for
/// the hour-long range (a fully grown histogram is 23552 counters, 184 KiB).
const HIST_INITIAL_HIGH: u64 = 2;

/// A fresh, empty histogram of the standard shape.
#[allow(
    clippy::expect_used,
    reason = "constant, valid bounds: creation cannot fail"
)]
pub(crate) fn new_hist() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(HIST_LOW_US, HIST_INITIAL_HIGH, HIST_SIGFIG)
        .expect("1 <= 2, 3 significant digits");
    h.auto(true);
    h
}

/// Records `v`, clamped to [`HIST_MAX_US`]; returns whether it was clamped (or refused).
#[inline]
pub(crate) fn record(h: &mut Histogram<u64>, v: u64) -> bool {
    let clamped = v > HIST_MAX_US;
    let v = v.min(HIST_MAX_US);
    h.record(v).is_err() || clamped
}

/// Adds `src` into `dst` exactly (`dst` resizes as needed).
pub(crate) fn add(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    dst.auto(true);
    // Both histograms have the standard precision and `dst` auto-resizes, so addition cannot
    // fail; if a foreign histogram still refuses, the values are lost rather than panicking.
    let _ = dst.add(src);
}

/// The sum of `hists` in the shape a histogram fed all their values by [`record`] would have
/// (empty, of the standard shape, for none).
///
/// Recording only grows a histogram, and to a highest trackable value that is a
/// non-decreasing function of the largest value it ever took: 2 until the first value past its
/// 2048 counters, then the top of its counts array. So when every value of a histogram `t` was
/// recorded into exactly one of `hists` and nothing else touched them, `t`'s highest trackable
/// value is the largest of theirs. Created with that one, the sum takes every `add` without
/// resizing: its counts, `max`, `min`, percentiles and V2 bytes (which carry that value) are
/// `t`'s. `add` keeps `max` and `min` only to the bucket, which is all they are ever read to.
pub(crate) fn sum<'a>(hists: impl Iterator<Item = &'a Histogram<u64>> + Clone) -> Histogram<u64> {
    let high = hists
        .clone()
        .map(Histogram::high)
        .max()
        .unwrap_or(HIST_INITIAL_HIGH);
    let mut out = match Histogram::new_with_bounds(HIST_LOW_US, high, HIST_SIGFIG) {
        Ok(h) => h,
        // Unreachable for histograms of the standard shape (`high` >= 2); the counts stay
        // exact anyway, `add` resizing as needed.
        Err(_) => new_hist(),
    };
    out.auto(true);
    for h in hists {
        add(&mut out, h);
    }
    out
}

/// Serializes to plain V2 bytes (empty vector for an empty histogram): the in-memory form of
/// closed intervals. V2 is already sparse (varint counts, zero runs); skipping DEFLATE keeps an
/// interval close cheap (a DEFLATE compressor allocates and zeroes ~300 KiB per call).
pub(crate) fn encode_bytes(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    if h.is_empty() {
        return out;
    }
    if V2Serializer::new().serialize(h, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Serializes to base64 (standard alphabet, padded) of compressed V2, as HdrHistogram's own
/// tools print it (`HISTFAAA...`). An empty histogram is encoded too, so the text always decodes.
pub(crate) fn encode_text(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Error decoding a serialized histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeHistError {
    /// What failed.
    pub reason: String,
}

impl std::fmt::Display for DecodeHistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad serialized histogram: {}", self.reason)
    }
}

impl std::error::Error for DecodeHistError {}

/// Decodes V2 or compressed V2 bytes (empty input = empty histogram).
pub(crate) fn decode_bytes(bytes: &[u8]) -> Result<Histogram<u64>, DecodeHistError> {
    if bytes.is_empty() {
        return Ok(new_hist());
    }
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| DecodeHistError {
            reason: format!("{e:?}"),
        })?;
    h.auto(true);
    Ok(h)
}

/// Decodes the base64 text form (empty text = empty histogram).
pub(crate) fn decode_text(text: &str) -> Result<Histogram<u64>, DecodeHistError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| DecodeHistError {
            reason: format!("base64: {e}"),
        })?;
    decode_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_text_and_clamp() {
        let mut h = new_hist();
        assert!(!record(&mut h, 1234));
        assert!(record(&mut h, HIST_MAX_US * 10));
        let back = decode_text(&encode_text(&h)).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.equivalent(back.max(), HIST_MAX_US));
        assert_eq!(decode_text("").unwrap().len(), 0);
        assert!(decode_text("not base64!").is_err());
    }
}
