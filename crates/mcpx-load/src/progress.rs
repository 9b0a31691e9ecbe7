//! The live terminal view of a run: one status line (elapsed, requests/s, active users,
//! sessions and streams, p50/p99 so far, errors), redrawn in place on a terminal with
//! `indicatif`, or printed as a plain line every [`PLAIN_EVERY_US`] when stderr is not a
//! terminal (CI logs). Colors only on a terminal and only without `NO_COLOR`.
//!
//! The view never reads the run's clock: it shows the [`Snapshot`] it is given, and the plain
//! mode paces itself on the snapshot's elapsed time.

use std::io::{IsTerminal as _, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::Snapshot;
use crate::report::{LAG_WARN_US, fmt_ms_num};

/// Period of the plain status line when stderr is not a terminal.
pub const PLAIN_EVERY_US: u64 = 5_000_000;
/// Redraw rate limit of the terminal bar.
const BAR_REFRESH_HZ: u8 = 4;

/// Whether the live view may use colors: `NO_COLOR` unset (or empty) and stderr a terminal.
#[must_use]
pub fn colors_enabled() -> bool {
    no_color_unset() && std::io::stderr().is_terminal()
}

/// Whether the final table on stdout may use colors (pass it to
/// [`crate::Report::print_table`]): `NO_COLOR` unset (or empty) and stdout a terminal.
#[must_use]
pub fn stdout_colors_enabled() -> bool {
    no_color_unset() && std::io::stdout().is_terminal()
}

/// <https://no-color.org>: any non-empty `NO_COLOR` disables colors.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

enum Mode {
    Off,
    Bar(ProgressBar),
    Plain {
        out: Box<dyn Write + Send>,
        next_us: u64,
    },
}

/// The live view. See the module docs.
pub struct Live {
    mode: Mode,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = match self.mode {
            Mode::Off => "off",
            Mode::Bar(_) => "bar",
            Mode::Plain { .. } => "plain",
        };
        f.debug_struct("Live").field("mode", &m).finish()
    }
}

impl Live {
    /// A live view on stderr: a redrawn line on a terminal, a plain line every
    /// [`PLAIN_EVERY_US`] otherwise; nothing when `enabled` is false (`--no-progress`).
    #[must_use]
    pub fn new(enabled: bool) -> Self {
        if !enabled {
            return Self { mode: Mode::Off };
        }
        if !std::io::stderr().is_terminal() {
            return Self::plain(Box::new(std::io::stderr()));
        }
        let template = if colors_enabled() {
            "{spinner:.cyan} {msg}"
        } else {
            "{spinner} {msg}"
        };
        let bar =
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(BAR_REFRESH_HZ));
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Self {
            mode: Mode::Bar(bar),
        }
    }

    /// A plain-line view writing to `out` (what `new` does when stderr is not a terminal).
    #[must_use]
    pub fn plain(out: Box<dyn Write + Send>) -> Self {
        Self {
            mode: Mode::Plain { out, next_us: 0 },
        }
    }

    /// Shows `s`.
    pub fn update(&mut self, s: &Snapshot) {
        match &mut self.mode {
            Mode::Off => {}
            Mode::Bar(bar) => bar.set_message(status_line(s)),
            Mode::Plain { out, next_us } => {
                if s.elapsed_us >= *next_us {
                    *next_us = s.elapsed_us.saturating_add(PLAIN_EVERY_US);
                    // A closed stderr must not stop the run.
                    let _ = writeln!(out, "{}", status_line(s));
                    let _ = out.flush();
                }
            }
        }
    }

    /// Clears the live line (the final table follows).
    pub fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        if let Mode::Plain { out, .. } = &mut self.mode {
            let _ = out.flush();
        }
    }
}

/// The status line shown for `s`.
#[must_use]
pub fn status_line(s: &Snapshot) -> String {
    let err_pct = if s.requests == 0 {
        0.0
    } else {
        s.errors as f64 * 100.0 / s.requests as f64
    };
    let mut line = format!(
        "{:>7.1}s  {} req  {:.1} req/s  users {}  sessions {}  streams {}  p50 {} ms  p99 {} ms  errors {} ({:.1}%)",
        s.elapsed_us as f64 / 1e6,
        s.requests,
        s.rps,
        s.active_users,
        s.active_sessions,
        s.active_streams,
        fmt_ms_num(s.p50_us),
        fmt_ms_num(s.p99_us),
        s.errors,
        err_pct
    );
    if s.lag_p99_us > LAG_WARN_US {
        line.push_str(&format!(
            "  GENERATOR BEHIND SCHEDULE (lag p99 {} ms)",
            fmt_ms_num(s.lag_p99_us)
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::metrics::{Metrics, Outcome, RequestRecord};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_mode_prints_every_few_seconds() {
        let buf = Buf::default();
        let mut live = Live::plain(Box::new(buf.clone()));
        let mut m = Metrics::new(Duration::from_secs(1));
        for i in 0..20u64 {
            m.record_request(&RequestRecord::new(
                "ping",
                "f",
                i * 1_000_000,
                i * 1_000_000 + 900,
                Outcome::Ok,
            ));
            live.update(&m.snapshot(i * 1_000_000 + 1_000));
        }
        live.finish();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains("req/s") && text.contains("p99 0.90 ms"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn lag_is_shouted() {
        let mut m = Metrics::new(Duration::from_secs(1));
        m.record_request(
            &RequestRecord::new("ping", "f", 0, 90_000, Outcome::Ok).with_sent(50_000),
        );
        assert!(status_line(&m.snapshot(100_000)).contains("GENERATOR BEHIND"));
    }
}
