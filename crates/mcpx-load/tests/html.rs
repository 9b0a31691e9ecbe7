#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
//! The HTML report: one self-contained page whose charts are inline SVG; rendered in headless
//! Chromium when `/usr/bin/chromium` exists (skipped with a printed line otherwise).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpx_load::html::{CHART_IDS, render};
use mcpx_load::{Metrics, Model, Outcome, Report, RequestRecord, RunInfo};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Upper bound on one Chromium run.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

fn latency(i: u64) -> u64 {
    500 + (i * 7919) % 40_000 + if i.is_multiple_of(211) { 1_500_000 } else { 0 }
}

fn report() -> Report {
    let mut m = Metrics::new(Duration::from_secs(1));
    let methods = ["tools/call", "tools/list", "initialize"];
    let tools = ["search", "fetch", "<script>alert(1)</script>"];
    // In completion order, as the runner records them.
    let mut order: Vec<u64> = (0..3_000u64).collect();
    order.sort_by_key(|&i| i * 10_000 + latency(i));
    for i in order {
        let t0 = i * 10_000;
        let method = methods[(i % 3) as usize];
        let lat = latency(i);
        let outcome = match i % 97 {
            0 => Outcome::Http(503),
            1 => Outcome::Timeout,
            2 => Outcome::IsError,
            _ => Outcome::Ok,
        };
        let mut r = RequestRecord::new(method, "claude-code", t0, t0 + lat, outcome);
        if method == "tools/call" {
            r = r.with_tool(tools[(i / 3 % 3) as usize]);
        }
        m.record_request(&r);
    }
    m.advance(31_600_000);
    let mut info = RunInfo::new("http://127.0.0.1:9/mcp", Model::Open);
    info.rate_per_s = Some(100.0);
    info.scenario = "claude".into();
    Report::from_metrics(&m, info)
}

#[test]
fn page_is_self_contained_with_one_svg_per_chart() {
    let r = report();
    let schema: serde_json::Value = serde_json::from_str(mcpx_load::report::REPORT_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    assert!(
        validator.is_valid(&r.to_json()),
        "report does not match its schema"
    );
    let html = render(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in CHART_IDS {
        assert_eq!(
            html.matches(&format!("<svg id=\"{id}\"")).count(),
            1,
            "{id}"
        );
    }
    assert_eq!(html.matches("<svg ").count(), CHART_IDS.len());
    // Numbers are in the page, user text is escaped, nothing is fetched.
    assert!(html.contains(&r.summary.requests.to_string()));
    assert!(html.contains("tools/call") && html.contains("search"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for banned in ["http://", "https://", "<script", "<link", "@import", "src="] {
        let hits: Vec<_> = html
            .match_indices(banned)
            .filter(|(i, _)| {
                // The SVG namespace and the target URL shown in the title are not fetches.
                let ctx = &html[i.saturating_sub(7)..];
                !ctx.starts_with("xmlns=\"http://www.w3.org/2000/svg")
                    && !html[*i..].starts_with("http://127.0.0.1:9/mcp")
            })
            .collect();
        assert!(hits.is_empty(), "{banned:?} in page");
    }
    // Every distribution chart has a line per busy key.
    assert!(html.matches("class=\"series\"").count() >= 3 + 3 + 3 + 3);
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcpx-load-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs Chromium headless with `args` and returns its stdout, or `None` after the timeout.
fn chromium(profile: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut out) = stdout {
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
        }
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return reader.join().ok();
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn charts_render_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        println!("skipped: {CHROMIUM} not installed (apt-get install chromium)");
        return;
    }
    let dir = tmpdir("chromium");
    let page = dir.join("report.html");
    std::fs::write(&page, render(&report())).unwrap();
    let url = format!("file://{}", page.display());

    let png = dir.join("r.png");
    let shot = format!("--screenshot={}", png.display());
    chromium(
        &dir.join("profile-shot"),
        &[&shot, "--window-size=1200,2400", &url],
    )
    .expect("chromium screenshot within the timeout");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot too small: {} bytes",
        bytes.len()
    );

    let dom = chromium(&dir.join("profile-dom"), &["--dump-dom", &url])
        .expect("chromium dump-dom within the timeout");
    for id in CHART_IDS {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} not in DOM"));
        let svg = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        assert!(svg.contains("<polyline"), "{id} has no line");
        assert!(svg.contains("<text"), "{id} has no labels");
    }
    // Keep the page and screenshot for a look: MCPX_HTML_OUT=/some/dir cargo test ...
    if let Some(out) = std::env::var_os("MCPX_HTML_OUT") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(&png, out.join("report.png")).unwrap();
        std::fs::copy(&page, out.join("report.html")).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
