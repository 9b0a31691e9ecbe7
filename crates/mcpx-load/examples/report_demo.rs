//! Synthetic traffic through the recorder, the live view and the reports, without a server:
//! `cargo run -p mcpx-load --example report_demo -- [OUT_DIR]` shows the live line for about
//! two seconds, prints the final table, and writes `report.json`, `report.hdrlog` and
//! `report.html` into OUT_DIR when one is given.

use std::time::{Duration, Instant};

use mcpx_load::progress::{Live, stdout_colors_enabled};
use mcpx_load::{Metrics, Model, Outcome, Report, RequestRecord, RunInfo, hdrlog, html};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1);
    let mut m = Metrics::new(Duration::from_millis(100));
    let mut live = Live::new(true);
    let start = Instant::now();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut t: u64 = 0;
    m.user_started("claude-code");
    m.session_opened("claude-code");
    m.stream_opened();
    while start.elapsed() < Duration::from_secs(2) {
        // 1000 synthetic requests per 10 ms of wall time, timestamps on a simulated clock.
        for _ in 0..1_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += 100;
            let lat = 300 + (x >> 40) % 20_000;
            let outcome = if x.is_multiple_of(101) {
                Outcome::Http(503)
            } else {
                Outcome::Ok
            };
            let tool = ["search", "read_file", "bash"][(x % 3) as usize];
            let r = RequestRecord::new("tools/call", "claude-code", t, t + lat, outcome)
                .with_tool(tool);
            m.record_request(&r);
        }
        live.update(&m.snapshot(t));
        std::thread::sleep(Duration::from_millis(10));
    }
    live.finish();
    m.advance(t + 50_000);
    let mut info = RunInfo::new("(synthetic)", Model::Closed);
    info.users = Some(1);
    let report = Report::from_metrics(&m, info);
    report.print_table(&mut std::io::stdout().lock(), stdout_colors_enabled())?;
    if let Some(dir) = out {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        report.write_json(dir.join("report.json"))?;
        hdrlog::write_interval_log_file(&m, dir.join("report.hdrlog"))?;
        std::fs::write(dir.join("report.html"), html::render(&report))?;
    }
    Ok(())
}
