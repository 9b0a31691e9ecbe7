//! `--html FILE`: the report as one self-contained page (inline CSS and inline SVG drawn here,
//! no script, no network), with latency percentiles over time, throughput and errors over time,
//! and the percentile distribution per method and per tool.
//!
//! Charts are `<svg>` elements with stable ids ([`CHART_IDS`]) so tests and scripts can find
//! them. The distribution charts use HdrHistogram's layout: x is the percentile on a log scale
//! of `1 / (1 - q)` (50 %, 90 %, 99 %, 99.9 %, ...), y the latency in ms on a log scale, so a
//! millisecond `ping` and a 30-second tool share one chart.

use std::fmt::Write as _;

use crate::report::{Dist, Report, RequestStats, fmt_ms_num};

/// Ids of the charts every page has, in page order.
pub const CHART_IDS: [&str; 4] = [
    "chart-latency-over-time",
    "chart-throughput-over-time",
    "chart-percentiles-methods",
    "chart-percentiles-tools",
];

/// Series drawn per distribution chart (the busiest keys; the tables list all).
pub const MAX_CHART_SERIES: usize = 12;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;
/// Room per legend row under a chart.
const LEGEND_ROW: f64 = 18.0;
/// Deepest percentile drawn: 99.999 % (x = 5 on the log axis).
const MAX_NINES: f64 = 5.0;

const PALETTE: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939",
];

/// Renders `report` as a self-contained HTML page.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let run = &report.run;
    let title = format!("mcpx load: {}", run.target);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(
        o,
        "<p class=\"run\">{} model · {} · scenario {} · seed {} · started {} · elapsed {:.1} s · \
         time scale {}{}</p>",
        run.model.as_str(),
        run.users
            .map(|u| format!("{u} users"))
            .or(run.rate_per_s.map(|r| format!("{r}/s")))
            .unwrap_or_default(),
        esc(&run.scenario),
        run.seed,
        esc(&run.started_at),
        report.elapsed_us as f64 / 1e6,
        run.time_scale,
        run.shard
            .as_deref()
            .map(|s| format!(" · shard {}", esc(s)))
            .unwrap_or_default()
    );
    for n in report.notes.iter().chain(&run.notes) {
        let class = if n.starts_with("GENERATOR") {
            "warn"
        } else {
            "note"
        };
        let _ = writeln!(o, "<p class=\"{class}\">{}</p>", esc(n));
    }
    let s = &report.summary;
    let _ = writeln!(
        o,
        "<p class=\"summary\">{} requests · {:.1} req/s · p50 {} ms · p99 {} ms · p99.9 {} ms · \
         max {} ms · {} errors ({:.2}% without an answer) · generator lag p99 {} ms</p>",
        s.requests,
        s.rps,
        fmt_ms_num(s.latency_us.p50),
        fmt_ms_num(s.latency_us.p99),
        fmt_ms_num(s.latency_us.p999),
        fmt_ms_num(s.latency_us.max),
        s.errors,
        s.error_rate * 100.0,
        fmt_ms_num(report.generator.lag_us.p99),
    );

    // Over time.
    let series = &report.intervals.series;
    let t = |us: u64| us as f64 / 1e6;
    let with_answers: Vec<_> = series.iter().filter(|p| !p.hdr.is_empty()).collect();
    let lat = |f: fn(&crate::report::IntervalPoint) -> u64| -> Vec<(f64, f64)> {
        with_answers
            .iter()
            .map(|p| (t(p.start_us + p.duration_us / 2), f(p) as f64 / 1e3))
            .collect()
    };
    let x_end = series
        .last()
        .map_or(1.0, |p| t(p.start_us + p.duration_us))
        .max(1e-3);
    let lat_series = vec![
        Series::new("p50", lat(|p| p.p50_us)),
        Series::new("p90", lat(|p| p.p90_us)),
        Series::new("p99", lat(|p| p.p99_us)),
    ];
    let y_max = lat_series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    o.push_str("<h2>Latency percentiles over time</h2>\n");
    o.push_str(&chart(
        CHART_IDS[0],
        "latency (ms) by interval, from the intended send time",
        &lat_series,
        &Axis::linear(0.0, x_end, "time (s)"),
        &Axis::linear(0.0, nice_max(y_max), "ms"),
    ));
    let rate = |f: fn(&crate::report::IntervalPoint) -> u64| -> Vec<(f64, f64)> {
        series
            .iter()
            .map(|p| {
                let secs = (p.duration_us as f64 / 1e6).max(1e-6);
                (t(p.start_us + p.duration_us / 2), f(p) as f64 / secs)
            })
            .collect()
    };
    let tp_series = vec![
        Series::new("requests/s", rate(|p| p.requests)),
        Series::new("errors/s", rate(|p| p.errors)),
        Series::new("failed/s", rate(|p| p.failed)),
    ];
    let tp_max = tp_series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    o.push_str("<h2>Throughput and errors over time</h2>\n");
    o.push_str(&chart(
        CHART_IDS[1],
        "requests, errors (any class) and failures (no answer) per second",
        &tp_series,
        &Axis::linear(0.0, x_end, "time (s)"),
        &Axis::linear(0.0, nice_max(tp_max), "per second"),
    ));

    // Distributions.
    o.push_str("<h2>Percentile distribution per method</h2>\n");
    o.push_str(&distribution_chart(CHART_IDS[2], &report.methods));
    o.push_str(&table(&report.methods, "method"));
    o.push_str("<h2>Percentile distribution per tool</h2>\n");
    o.push_str(&distribution_chart(CHART_IDS[3], &report.tools));
    o.push_str(&table(&report.tools, "tool"));

    // Families and errors.
    o.push_str(
        "<h2>Client families</h2>\n<table><tr><th>family</th><th>users</th><th>finished</th>\
                <th>sessions</th><th>requests</th><th>p50 ms</th><th>p99 ms</th>\
                <th>calls/conversation p50</th><th>turn p50 / p90 s</th>\
                <th>conversation p50 / p90 s</th><th>handshake + call p50 / p99 ms</th></tr>\n",
    );
    for f in &report.families {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.name),
            f.users_started,
            f.users_finished,
            f.sessions,
            f.requests.requests,
            fmt_ms_num(f.requests.latency_us.p50),
            fmt_ms_num(f.requests.latency_us.p99),
            f.calls_per_conversation.p50,
            pair_s(&f.turn_us),
            pair_s(&f.conversation_us),
            if f.handshake_call_us.count == 0 {
                "-".to_owned()
            } else {
                format!(
                    "{} / {}",
                    fmt_ms_num(f.handshake_call_us.p50),
                    fmt_ms_num(f.handshake_call_us.p99)
                )
            }
        );
    }
    o.push_str(
        "</table>\n<h2>Errors by class</h2>\n<table><tr><th>class</th><th>count</th></tr>\n",
    );
    let e = &s.errors_by_class;
    for (k, n) in [
        ("connect", e.connect),
        ("tls", e.tls),
        ("timeout", e.timeout),
        ("protocol", e.protocol),
        ("cancelled", e.cancelled),
        ("isError", e.is_error),
    ] {
        let _ = writeln!(o, "<tr><td>{k}</td><td>{n}</td></tr>");
    }
    for (k, n) in &e.http {
        let _ = writeln!(o, "<tr><td>HTTP {}</td><td>{n}</td></tr>", esc(k));
    }
    for (k, n) in &e.jsonrpc {
        let _ = writeln!(o, "<tr><td>JSON-RPC {}</td><td>{n}</td></tr>", esc(k));
    }
    o.push_str("</table>\n</body></html>\n");
    o
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.warn{color:#b00;font-weight:bold}.note{color:#850}\
svg{background:#fff;border:1px solid #ddd}svg text{font:11px sans-serif;fill:#333}";

struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

impl Series {
    fn new(name: &str, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

struct Axis {
    min: f64,
    max: f64,
    log: bool,
    label: String,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn linear(min: f64, max: f64, label: &str) -> Self {
        let max = if max > min { max } else { min + 1.0 };
        let step = nice_step((max - min) / 5.0);
        let mut ticks = Vec::new();
        let mut v = min;
        while v <= max + step * 1e-9 && ticks.len() < 20 {
            ticks.push((v, trim_num(v)));
            v += step;
        }
        Self {
            min,
            max,
            log: false,
            label: label.into(),
            ticks,
        }
    }

    fn pos(&self, v: f64, lo: f64, hi: f64) -> f64 {
        let (a, b, v) = if self.log {
            (self.min.log10(), self.max.log10(), v.max(self.min).log10())
        } else {
            (self.min, self.max, v)
        };
        let f = if b > a { (v - a) / (b - a) } else { 0.0 };
        lo + f.clamp(0.0, 1.0) * (hi - lo)
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let n = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * p
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let s = nice_step(v / 5.0);
    (v / s).ceil() * s
}

fn trim_num(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn chart(id: &str, caption: &str, series: &[Series], x: &Axis, y: &Axis) -> String {
    let legend_rows = series.len().div_ceil(4) as f64;
    let h = HEIGHT + legend_rows * LEGEND_ROW + LEGEND_ROW / 2.0;
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<figure><svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{WIDTH}\" height=\"{h}\" viewBox=\"0 0 {WIDTH} {h}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(caption)
    );
    // Grid and ticks.
    for (v, label) in &y.ticks {
        let py = y.pos(*v, y0, y1);
        let _ = writeln!(
            o,
            "<line x1=\"{x0:.1}\" y1=\"{py:.1}\" x2=\"{x1:.1}\" y2=\"{py:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            py + 4.0,
            esc(label)
        );
    }
    for (v, label) in &x.ticks {
        let px = x.pos(*v, x0, x1);
        let _ = writeln!(
            o,
            "<line x1=\"{px:.1}\" y1=\"{y0:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#bbb\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0 + 5.0,
            y0 + 18.0,
            esc(label)
        );
    }
    let _ = writeln!(
        o,
        "<rect x=\"{x0:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">{}</text>\
         <text x=\"{x0:.1}\" y=\"18\">{}</text>",
        x1 - x0,
        y0 - y1,
        (x0 + x1) / 2.0,
        y0 + 36.0,
        esc(&x.label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        esc(&y.label),
        esc(caption)
    );
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if !s.points.is_empty() {
            let mut pts = String::new();
            for (px, py) in &s.points {
                let _ = write!(pts, "{:.1},{:.1} ", x.pos(*px, x0, x1), y.pos(*py, y0, y1));
            }
            let _ = writeln!(
                o,
                "<polyline class=\"series\" data-name=\"{}\" fill=\"none\" stroke=\"{color}\" \
                 stroke-width=\"1.6\" points=\"{}\"/>",
                esc(&s.name),
                pts.trim_end()
            );
        }
        let lx = LEFT + (i % 4) as f64 * 220.0;
        let ly = HEIGHT + (i / 4) as f64 * LEGEND_ROW + LEGEND_ROW / 2.0;
        let _ = writeln!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            ly - 6.0,
            lx + 16.0,
            esc(&short(&s.name, 30))
        );
    }
    o.push_str("</svg></figure>\n");
    o
}

/// Points of a percentile distribution: x = log10(1 / (1 - q)), y = latency in ms.
fn distribution(d: &Dist) -> Vec<(f64, f64)> {
    let Ok(h) = d.histogram() else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    // Beyond ~1/count the quantiles are all the max: stop a little after.
    let deepest = ((h.len() as f64).log10() + 0.5).clamp(0.5, MAX_NINES);
    let mut out = Vec::new();
    let mut x: f64 = 0.0;
    while x <= deepest + 1e-9 {
        let q = 1.0 - 10f64.powf(-x);
        out.push((x, h.value_at_quantile(q) as f64 / 1e3));
        x += 0.05;
    }
    out.push((deepest, h.highest_equivalent(h.max()) as f64 / 1e3));
    out
}

fn distribution_chart(id: &str, rows: &[RequestStats]) -> String {
    let mut rows: Vec<&RequestStats> = rows.iter().filter(|r| r.latency_us.count > 0).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.answered));
    let shown = rows.len().min(MAX_CHART_SERIES);
    let series: Vec<Series> = rows[..shown]
        .iter()
        .map(|r| Series::new(&r.name, distribution(&r.latency_us)))
        .collect();
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for s in &series {
        for p in &s.points {
            if p.1 > 0.0 {
                lo = lo.min(p.1);
            }
            hi = hi.max(p.1);
        }
    }
    if lo == f64::MAX {
        lo = 0.001;
    }
    let ymin = 10f64.powf(lo.max(0.001).log10().floor());
    let ymax = 10f64.powf(hi.max(ymin * 10.0).log10().ceil());
    let mut yt = Vec::new();
    let mut v = ymin;
    while v <= ymax * 1.0001 && yt.len() < 12 {
        yt.push((v, trim_num(v)));
        v *= 10.0;
    }
    let y = Axis {
        min: ymin,
        max: ymax,
        log: true,
        label: "latency (ms, log)".into(),
        ticks: yt,
    };
    let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
    let x = Axis {
        min: 0.0,
        max: MAX_NINES,
        log: false,
        label: "percentile".into(),
        ticks: labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i as f64, (*l).to_owned()))
            .collect(),
    };
    let caption = if rows.len() > shown {
        format!("latency by percentile, busiest {shown} of {}", rows.len())
    } else if rows.is_empty() {
        "no answers".to_owned()
    } else {
        "latency by percentile".to_owned()
    };
    chart(id, &caption, &series, &x, &y)
}

fn table(rows: &[RequestStats], what: &str) -> String {
    let mut o = format!(
        "<table><tr><th>{what}</th><th>count</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th>\
         <th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>errors</th></tr>\n"
    );
    for r in rows {
        let l = &r.latency_us;
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            r.requests,
            r.rps,
            fmt_ms_num(l.p50),
            fmt_ms_num(l.p90),
            fmt_ms_num(l.p99),
            fmt_ms_num(l.p999),
            fmt_ms_num(l.max),
            r.errors
        );
    }
    o.push_str("</table>\n");
    o
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `p50 / p90` of a duration distribution in seconds, `-` when empty.
fn pair_s(d: &crate::report::Dist) -> String {
    if d.count == 0 {
        return "-".to_owned();
    }
    format!("{:.1} / {:.1}", d.p50 as f64 / 1e6, d.p90 as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nice_numbers() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert!((nice_max(93.0) - 100.0).abs() < 1e-9);
        assert!((nice_step(0.37) - 0.5).abs() < 1e-9);
        assert_eq!(trim_num(0.25), "0.25");
    }
}
