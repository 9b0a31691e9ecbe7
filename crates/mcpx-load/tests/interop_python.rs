#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! Interop: the histograms of a JSON report and of an interval log decode with the reference
//! Python HdrHistogram (`pip install hdrhistogram`) to the same percentiles. Skipped with a
//! printed line when `python3` or its `hdrh` module is missing.

use std::process::Command;
use std::time::Duration;

use mcpx_load::{Metrics, Model, Outcome, Report, RequestRecord, RunInfo, hdrlog};

const SCRIPT: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
r = json.load(open(sys.argv[1]))
d = r["summary"]["latency_us"]
h = HdrHistogram.decode(d["hdr"])
got = [h.get_total_count(), h.get_value_at_percentile(50), h.get_value_at_percentile(99),
       h.get_value_at_percentile(99.9), h.get_max_value()]
want = [d["count"], d["p50"], d["p99"], d["p999"], d["max"]]
assert got == want, (got, want)
reader = HistogramLogReader(sys.argv[2], HdrHistogram(1, 3600000000, 3))
total = 0
while True:
    x = reader.get_next_interval_histogram()
    if x is None:
        break
    total += x.get_total_count()
print(total)
"#;

#[test]
fn python_hdrhistogram_reads_our_histograms() {
    // The peers' venv (./scripts/test pins hdrhistogram in peers/requirements.txt); with
    // MCPX_PEERS set, a missing module is a failure, not a skip.
    let peers = std::env::var_os("MCPX_PEERS").map(std::path::PathBuf::from);
    let python = peers
        .as_ref()
        .map_or_else(|| "python3".into(), |p| p.join("venv/bin/python"));
    let probe = Command::new(&python).args(["-c", "import hdrh"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            peers.is_none(),
            "MCPX_PEERS is set but {} cannot import hdrh; run ./scripts/test",
            python.display()
        );
        println!("skipped: python3 with the hdrhistogram package (module hdrh) not available");
        return;
    }
    let mut m = Metrics::new(Duration::from_secs(1));
    for i in 0..20_000u64 {
        let t0 = i * 500;
        let lat = 100 + (i * 7919) % 30_000 + if i % 999 == 0 { 4_000_000 } else { 0 };
        let method = if i % 4 == 0 {
            "tools/list"
        } else {
            "tools/call"
        };
        m.record_request(&RequestRecord::new(method, "f", t0, t0 + lat, Outcome::Ok));
    }
    m.advance(15_000_000);
    let report = Report::from_metrics(&m, RunInfo::new("x", Model::Open));
    let dir = std::env::temp_dir().join(format!("mcpx-load-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, log) = (dir.join("r.json"), dir.join("r.hdrlog"));
    report.write_json(&json).unwrap();
    hdrlog::write_interval_log_file(&m, &log).unwrap();
    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&json)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Untagged lines hold every answer once; per-method lines hold them again.
    let total: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(total, 2 * 20_000);
    let _ = std::fs::remove_dir_all(&dir);
}
