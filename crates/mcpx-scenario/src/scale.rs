//! `--time-scale F`: every client-side wait and deadline of a scenario multiplied by `F`.

use crate::dist::Dist;
use crate::error::ScenarioError;
use crate::format::{Scenario, TargetSpec};
use crate::limits::MAX_DURATION_US;

/// The file name [`Scenario::scale_time`] errors carry.
const SOURCE: &str = "--time-scale";

/// `us` × `factor`, rounded to the microsecond; a non-zero duration stays non-zero (a scaled
/// deadline or period never becomes "none"); saturates at `u64::MAX`.
pub(crate) fn scale_us(us: u64, factor: f64) -> u64 {
    if us == 0 || factor == 1.0 {
        return us;
    }
    // `as` saturates (NaN -> 0 cannot happen: the product of a finite u64 and a finite factor
    // > 0 is a number, at worst +inf -> u64::MAX).
    ((us as f64 * factor).round() as u64).max(1)
}

/// Scales one key at a time, naming the key when the result is out of range.
struct Scaler {
    factor: f64,
}

impl Scaler {
    fn err(&self, path: &str, what: String) -> ScenarioError {
        ScenarioError::new(SOURCE, path, format!("scaled by {}, {what}", self.factor))
    }

    fn us(&self, path: &str, v: &mut u64) -> Result<(), ScenarioError> {
        let s = scale_us(*v, self.factor);
        if s > MAX_DURATION_US {
            return Err(self.err(
                path,
                format!(
                    "{} s is above the largest duration, {} s",
                    s / 1_000_000,
                    MAX_DURATION_US / 1_000_000
                ),
            ));
        }
        *v = s;
        Ok(())
    }

    fn opt_us(&self, path: &str, v: &mut Option<u64>) -> Result<(), ScenarioError> {
        match v {
            Some(v) => self.us(path, v),
            None => Ok(()),
        }
    }

    fn dist(&self, path: &str, d: &mut Dist) -> Result<(), ScenarioError> {
        let s = d.scaled(self.factor);
        if !s.is_finite() {
            return Err(self.err(path, "the distribution overflows".to_owned()));
        }
        *d = s;
        Ok(())
    }

    fn opt_dist(&self, path: &str, d: &mut Option<Dist>) -> Result<(), ScenarioError> {
        match d {
            Some(d) => self.dist(path, d),
            None => Ok(()),
        }
    }
}

fn check_factor(factor: f64) -> Result<Scaler, ScenarioError> {
    if factor.is_finite() && factor > 0.0 {
        Ok(Scaler { factor })
    } else {
        Err(ScenarioError::new(
            SOURCE,
            "",
            format!("expected a finite factor > 0, got {factor}"),
        ))
    }
}

/// The server side of `--time-scale` ([`crate::MockTarget::with_time_scale`]): every duration
/// of `[target]` multiplied by `factor`; `spec` is unchanged on error.
pub(crate) fn scale_target(spec: &mut TargetSpec, factor: f64) -> Result<(), ScenarioError> {
    let k = check_factor(factor)?;
    let mut t = spec.clone();
    k.us("target.session_idle_ttl_s", &mut t.session_idle_ttl_us)?;
    k.us("target.progress_interval_ms", &mut t.progress_interval_us)?;
    k.us("target.cold_start_ms", &mut t.cold_start_us)?;
    for (class, d) in &mut t.latency {
        k.dist(&format!("target.latency.{class}"), d)?;
    }
    *spec = t;
    Ok(())
}

impl Scenario {
    /// `--time-scale F`: multiplies every client-side wait and deadline by `factor`, so virtual
    /// users run the same conversations `factor` times faster (< 1) or slower (> 1).
    ///
    /// **Scaled** (each family's copy of a shared section included, i.e. `[clients.think]` and
    /// `[clients.session]` overrides and the values they inherited):
    /// - `[think] first_call`, `between_steps`, `between_turns` (top level and per family);
    /// - `[session] cancel_after` (top level and per family);
    /// - `[answers] elicitation_delay`;
    /// - `[[clients]] lifetime`;
    /// - `[clients.timeouts] handshake`, `connect`, `tool_call`, `tool_idle`, `idle_check`
    ///   (`_ms` / `_s`);
    /// - `[clients.stream] reconnect.initial` (`_ms` / `_s`);
    /// - `[clients.probes] unauth_initialize_every`;
    /// - `[load] prefill_ramp` (`_ms` / `_s`);
    /// - `[scenarios] cc_request_cap` (`_ms` / `_s`: Claude Code's old per-request deadline);
    /// - the client-side constants without a key, through [`Scenario::time_scale`]:
    ///   [`crate::LAST_CALL_GRACE_US`], [`crate::STREAM_HEALTHY_US`],
    ///   [`crate::STORM_REOPEN_US`], [`crate::DEAD_SESSION_GET_US`],
    ///   [`crate::LISTEN_STORM_CYCLE_US`], [`crate::CONNECT_PROBE_GAP_US`].
    ///
    /// **Not scaled**: `[load] duration`, `drain` and `stages[].duration` (the run's wall-clock
    /// length, chosen by the user), every rate and count of `[load]` (`users_per_s`, `users`,
    /// `calls_per_s`, `sessions`, `max_users`, `stages[].target`); `[session] user_turns`,
    /// `steps`, `fan_out` and every probability; `[payload]` sizes; `reconnect.factor` and
    /// `reconnect.attempts`; `[report] interval` (the runner's histogram period, not a client
    /// wait); and the whole `[target]` section (latencies, `progress_interval`, `cold_start`,
    /// `session_idle_ttl`): the server side is scaled by whoever runs it (`mcpx serve --mock`
    /// with the same `--time-scale`, or [`crate::MockTarget::with_time_scale`] for the
    /// simulator).
    ///
    /// Distributions are scaled exactly ([`Dist::scaled`]: a lognormal's median and clamps, a
    /// uniform's bounds, a constant, a categorical's values; `sigma` and weights unchanged), so a
    /// user's random draws are the same and only their durations change; plain durations are
    /// rounded to the microsecond and a non-zero one stays at least 1 µs.
    ///
    /// Consequences: each user does the same requests `factor` times faster. In the open model
    /// (same arrival rate) requests per second stay the same and concurrency (users alive,
    /// sessions and streams held) is multiplied by `factor`; in the closed model (same `users`)
    /// concurrency stays and requests per second are divided by `factor`. In particular the
    /// prefilled population
    /// N₀ = `users_per_s` × weight × E\[lifetime\] ([`crate::prefill`]) shrinks with the
    /// lifetimes: that is the steady state of the scaled run, as intended. Outcomes that compare
    /// server latency with a client deadline (a long call against claude.ai's 60 s) are the
    /// same only if the server's latencies are scaled by the same factor.
    ///
    /// Scaling twice multiplies the factors ([`Scenario::time_scale`] is their product).
    ///
    /// # Errors
    /// `factor` not a finite number > 0, or a scaled duration above one week
    /// ([`MAX_DURATION_US`]) or a distribution that overflows; the error names the key and the
    /// scenario is left unchanged.
    pub fn scale_time(&mut self, factor: f64) -> Result<(), ScenarioError> {
        let k = check_factor(factor)?;
        let mut s = self.clone();
        k.us("load.prefill_ramp_s", &mut s.load.prefill_ramp_us)?;
        k.dist(
            "answers.elicitation_delay",
            &mut s.answers.elicitation_delay,
        )?;
        k.dist("session.cancel_after", &mut s.session.cancel_after)?;
        k.dist("think.first_call", &mut s.think.first_call)?;
        k.dist("think.between_steps", &mut s.think.between_steps)?;
        k.dist("think.between_turns", &mut s.think.between_turns)?;
        for (i, c) in s.clients.iter_mut().enumerate() {
            let p = |key: &str| format!("clients[{i}].{key}");
            k.opt_dist(&p("lifetime"), &mut c.lifetime)?;
            k.dist(&p("think.first_call"), &mut c.think.first_call)?;
            k.dist(&p("think.between_steps"), &mut c.think.between_steps)?;
            k.dist(&p("think.between_turns"), &mut c.think.between_turns)?;
            k.dist(&p("session.cancel_after"), &mut c.session.cancel_after)?;
            let t = &mut c.timeouts;
            k.opt_us(&p("timeouts.handshake_ms"), &mut t.handshake_us)?;
            k.opt_us(&p("timeouts.connect_ms"), &mut t.connect_us)?;
            k.opt_us(&p("timeouts.tool_call_ms"), &mut t.tool_call_us)?;
            k.opt_us(&p("timeouts.tool_idle_ms"), &mut t.tool_idle_us)?;
            k.opt_us(&p("timeouts.idle_check_ms"), &mut t.idle_check_us)?;
            k.us(
                &p("stream.reconnect.initial_ms"),
                &mut c.stream.reconnect.initial_us,
            )?;
            k.opt_dist(
                &p("probes.unauth_initialize_every"),
                &mut c.probes.unauth_initialize_every,
            )?;
        }
        k.us(
            "scenarios.cc_request_cap_ms",
            &mut s.scenarios.cc_request_cap_us,
        )?;
        s.time_scale *= factor;
        *self = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::CLAUDE_PROFILE_TOML;
    use crate::rng::Rng;

    /// Every key the format has, with a client-side duration on each scaled one.
    const FULL: &str = r#"
format = "mcpx-scenario/1"
[load]
duration_s = 100
drain_s = 20
prefill_ramp_s = 30
stages = [{ duration_s = 10, target = 2 }]
[answers]
elicitation_delay = { dist = "constant", value_ms = 2000 }
[session]
cancel_p = 0.5
cancel_after = { dist = "categorical", values_ms = [100, 200], weights = [1, 3] }
[think]
first_call = { dist = "uniform", min_ms = 10, max_ms = 30 }
[[clients]]
name = "a"
lifetime = { dist = "lognormal", median_s = 100, sigma = 1.0 }
[clients.stream]
open = true
reconnect = { initial_ms = 1500, factor = 3.0, attempts = 4 }
[clients.timeouts]
handshake_ms = 1000
connect_ms = 2000
tool_call_ms = 3000
tool_idle_ms = 4000
idle_check_ms = 500
[clients.probes]
unauth_initialize_every = { dist = "uniform", min_s = 10, max_s = 20 }
[clients.think]
between_steps = { dist = "constant", value_ms = 700 }
[clients.session]
cancel_after = { dist = "constant", value_ms = 900 }
[[clients]]
name = "b"
[scenarios]
cc_request_cap_ms = 60000
[report]
interval_ms = 500
[target]
progress_interval_ms = 1000
cold_start_ms = 100
session_idle_ttl_s = 60
tools = [{ rank = 1, name = "t", class = "c" }]
[target.latency]
c = { dist = "lognormal", median_ms = 10, sigma = 0.5 }
"#;

    /// Swaps every scaled key (and the recorded factor) between `a` and `b`.
    fn swap_scaled(a: &mut Scenario, b: &mut Scenario) {
        use std::mem::swap;
        swap(&mut a.load.prefill_ramp_us, &mut b.load.prefill_ramp_us);
        swap(
            &mut a.answers.elicitation_delay,
            &mut b.answers.elicitation_delay,
        );
        swap(&mut a.session.cancel_after, &mut b.session.cancel_after);
        swap(&mut a.think.first_call, &mut b.think.first_call);
        swap(&mut a.think.between_steps, &mut b.think.between_steps);
        swap(&mut a.think.between_turns, &mut b.think.between_turns);
        for (x, y) in a.clients.iter_mut().zip(&mut b.clients) {
            swap(&mut x.lifetime, &mut y.lifetime);
            swap(&mut x.think.first_call, &mut y.think.first_call);
            swap(&mut x.think.between_steps, &mut y.think.between_steps);
            swap(&mut x.think.between_turns, &mut y.think.between_turns);
            swap(&mut x.session.cancel_after, &mut y.session.cancel_after);
            swap(&mut x.timeouts.handshake_us, &mut y.timeouts.handshake_us);
            swap(&mut x.timeouts.connect_us, &mut y.timeouts.connect_us);
            swap(&mut x.timeouts.tool_call_us, &mut y.timeouts.tool_call_us);
            swap(&mut x.timeouts.tool_idle_us, &mut y.timeouts.tool_idle_us);
            swap(&mut x.timeouts.idle_check_us, &mut y.timeouts.idle_check_us);
            swap(
                &mut x.stream.reconnect.initial_us,
                &mut y.stream.reconnect.initial_us,
            );
            swap(
                &mut x.probes.unauth_initialize_every,
                &mut y.probes.unauth_initialize_every,
            );
        }
        swap(
            &mut a.scenarios.cc_request_cap_us,
            &mut b.scenarios.cc_request_cap_us,
        );
        swap(&mut a.time_scale, &mut b.time_scale);
    }

    /// The scaled keys of `s`, as (path, value in µs or the distribution's debug form) pairs.
    fn scaled_keys(s: &Scenario) -> Vec<(String, String)> {
        let mut out = vec![
            ("prefill_ramp".into(), format!("{}", s.load.prefill_ramp_us)),
            (
                "elicitation_delay".into(),
                format!("{:?}", s.answers.elicitation_delay),
            ),
            (
                "session.cancel_after".into(),
                format!("{:?}", s.session.cancel_after),
            ),
            (
                "think.first_call".into(),
                format!("{:?}", s.think.first_call),
            ),
            (
                "think.between_steps".into(),
                format!("{:?}", s.think.between_steps),
            ),
            (
                "think.between_turns".into(),
                format!("{:?}", s.think.between_turns),
            ),
            (
                "cc_request_cap".into(),
                format!("{}", s.scenarios.cc_request_cap_us),
            ),
        ];
        for (i, c) in s.clients.iter().enumerate() {
            let t = &c.timeouts;
            for (k, v) in [
                ("lifetime", format!("{:?}", c.lifetime)),
                ("think.first_call", format!("{:?}", c.think.first_call)),
                (
                    "think.between_steps",
                    format!("{:?}", c.think.between_steps),
                ),
                (
                    "think.between_turns",
                    format!("{:?}", c.think.between_turns),
                ),
                (
                    "session.cancel_after",
                    format!("{:?}", c.session.cancel_after),
                ),
                ("handshake", format!("{:?}", t.handshake_us)),
                ("connect", format!("{:?}", t.connect_us)),
                ("tool_call", format!("{:?}", t.tool_call_us)),
                ("tool_idle", format!("{:?}", t.tool_idle_us)),
                ("idle_check", format!("{:?}", t.idle_check_us)),
                ("reconnect", format!("{}", c.stream.reconnect.initial_us)),
                ("probes", format!("{:?}", c.probes.unauth_initialize_every)),
            ] {
                out.push((format!("clients[{i}].{k}"), v));
            }
        }
        out
    }

    /// Checks `scaled` = `orig` with exactly the listed keys multiplied by `f`.
    fn check_scaled(orig: &Scenario, scaled: &Scenario, f: f64) {
        assert_eq!(scaled.time_scale(), orig.time_scale() * f);
        // Nothing else changed: putting the original values of the scaled keys back gives
        // the original scenario, field for field.
        let mut restored = scaled.clone();
        let mut o = orig.clone();
        swap_scaled(&mut restored, &mut o);
        assert_eq!(restored, *orig);
        // And `o` now holds exactly the scaled keys.
        assert_eq!(o, *scaled);

        // Each scaled key changed by exactly `f`.
        let us = |a: u64, b: u64| assert_eq!(b, scale_us(a, f), "{a} -> {b}");
        let ous = |a: Option<u64>, b: Option<u64>| {
            assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                us(a, b);
            }
        };
        let d = |a: &Dist, b: &Dist| check_dist(a, b, f);
        us(orig.load.prefill_ramp_us, scaled.load.prefill_ramp_us);
        d(
            &orig.answers.elicitation_delay,
            &scaled.answers.elicitation_delay,
        );
        d(&orig.session.cancel_after, &scaled.session.cancel_after);
        d(&orig.think.first_call, &scaled.think.first_call);
        d(&orig.think.between_steps, &scaled.think.between_steps);
        d(&orig.think.between_turns, &scaled.think.between_turns);
        us(
            orig.scenarios.cc_request_cap_us,
            scaled.scenarios.cc_request_cap_us,
        );
        for (a, b) in orig.clients.iter().zip(&scaled.clients) {
            assert_eq!(a.lifetime.is_some(), b.lifetime.is_some());
            if let (Some(x), Some(y)) = (&a.lifetime, &b.lifetime) {
                d(x, y);
            }
            d(&a.think.first_call, &b.think.first_call);
            d(&a.think.between_steps, &b.think.between_steps);
            d(&a.think.between_turns, &b.think.between_turns);
            d(&a.session.cancel_after, &b.session.cancel_after);
            ous(a.timeouts.handshake_us, b.timeouts.handshake_us);
            ous(a.timeouts.connect_us, b.timeouts.connect_us);
            ous(a.timeouts.tool_call_us, b.timeouts.tool_call_us);
            ous(a.timeouts.tool_idle_us, b.timeouts.tool_idle_us);
            ous(a.timeouts.idle_check_us, b.timeouts.idle_check_us);
            us(a.stream.reconnect.initial_us, b.stream.reconnect.initial_us);
            assert_eq!(
                a.probes.unauth_initialize_every.is_some(),
                b.probes.unauth_initialize_every.is_some()
            );
            if let (Some(x), Some(y)) = (
                &a.probes.unauth_initialize_every,
                &b.probes.unauth_initialize_every,
            ) {
                d(x, y);
            }
        }
    }

    /// `b` is `a` with every time parameter multiplied by `f` (sigma, weights unchanged), and
    /// draws with the same RNG state are `f` times as long.
    fn check_dist(a: &Dist, b: &Dist, f: f64) {
        match (a, b) {
            (
                Dist::LogNormal {
                    median,
                    sigma,
                    min,
                    max,
                },
                Dist::LogNormal {
                    median: m2,
                    sigma: s2,
                    min: n2,
                    max: x2,
                },
            ) => {
                assert_eq!(*m2, median * f);
                assert_eq!(s2, sigma);
                assert_eq!(*n2, min * f);
                assert_eq!(*x2, max * f);
            }
            (Dist::Uniform { min, max }, Dist::Uniform { min: n2, max: x2 }) => {
                assert_eq!(*n2, min * f);
                assert_eq!(*x2, max * f);
            }
            (Dist::Constant(v), Dist::Constant(v2)) => assert_eq!(*v2, v * f),
            (
                Dist::Categorical { values, cumulative },
                Dist::Categorical {
                    values: v2,
                    cumulative: c2,
                },
            ) => {
                assert_eq!(c2, cumulative);
                let want: Vec<f64> = values.iter().map(|v| v * f).collect();
                assert_eq!(*v2, want);
            }
            other => panic!("not a scaled time distribution: {other:?}"),
        }
        let (mut r1, mut r2) = (Rng::from_seed(5), Rng::from_seed(5));
        for _ in 0..1000 {
            let (x, y) = (a.sample(&mut r1), b.sample(&mut r2));
            assert!((y - x * f).abs() <= 1e-9 * x.abs().max(1.0), "{x} -> {y}");
        }
    }

    #[test]
    fn claude_profile_scaled_by_a_tenth() {
        let orig = Scenario::parse(CLAUDE_PROFILE_TOML, "claude.toml").unwrap();
        let mut s = orig.clone();
        s.scale_time(0.1).unwrap();
        check_scaled(&orig, &s, 0.1);
        // Spot checks against the file's numbers.
        assert_eq!(s.load.prefill_ramp_us, 6_000_000);
        assert_eq!(s.load.duration_us, 600_000_000);
        assert_eq!(s.load.drain_us, 120_000_000);
        assert_eq!(s.load.users_per_s, 1.0);
        let ai = s.family("claude_ai").unwrap();
        assert_eq!(ai.timeouts.handshake_us, Some(1_000_000));
        assert_eq!(ai.timeouts.tool_call_us, Some(6_000_000));
        assert_eq!(
            ai.probes.unauth_initialize_every,
            Some(Dist::Uniform {
                min: 180e6 * 0.1,
                max: 600e6 * 0.1
            })
        );
        let cc = s.family("claude_code").unwrap();
        assert_eq!(cc.timeouts.connect_us, Some(3_000_000));
        assert_eq!(cc.timeouts.tool_idle_us, Some(30_000_000));
        assert_eq!(cc.timeouts.idle_check_us, Some(3_000_000));
        assert_eq!(cc.stream.reconnect.initial_us, 100_000);
        assert_eq!(cc.stream.reconnect.factor, 2.0);
        assert_eq!(cc.stream.reconnect.attempts, 5);
        assert_eq!(
            cc.lifetime,
            Some(Dist::lognormal(
                1500e6 * 0.1,
                1.0,
                60e6 * 0.1,
                28_800e6 * 0.1
            ))
        );
        assert_eq!(
            s.family("messages_api").unwrap().timeouts.tool_call_us,
            Some(30_000_000)
        );
        assert_eq!(s.target, orig.target);
        assert_eq!(s.session.steps, orig.session.steps);
        // Every listed key of the profile actually changed (none is zero or absent).
        let (a, b) = (scaled_keys(&orig), scaled_keys(&s));
        let present = |v: &str| v != "None" && v != "0";
        for ((k, x), (_, y)) in a.iter().zip(&b) {
            if present(x) {
                assert_ne!(x, y, "{k} did not change");
            }
        }
    }

    #[test]
    fn every_key_scaled_exactly() {
        let orig = Scenario::parse(FULL, "full.toml").unwrap();
        let mut s = orig.clone();
        s.scale_time(0.1).unwrap();
        check_scaled(&orig, &s, 0.1);
        // No listed key of FULL is absent or zero: each one changed.
        for ((k, x), (_, y)) in scaled_keys(&orig).iter().zip(&scaled_keys(&s)) {
            if k.starts_with("clients[0]") || !k.starts_with("clients[") {
                assert_ne!(x, y, "{k} did not change");
            }
        }
        let a = s.family("a").unwrap();
        assert_eq!(a.think.between_steps, Dist::Constant(70_000.0));
        assert_eq!(a.session.cancel_after, Dist::Constant(90_000.0));
        assert_eq!(a.timeouts.idle_check_us, Some(50_000));
        assert_eq!(s.scenarios.cc_request_cap_us, 6_000_000);
        // Inherited shared sections are scaled in each family too.
        let b = s.family("b").unwrap();
        assert_eq!(b.think.first_call, s.think.first_call);
        assert_eq!(b.session.cancel_after, s.session.cancel_after);
        // Not scaled: run length, stages, report period, target.
        assert_eq!(s.load.stages, orig.load.stages);
        assert_eq!(s.report.interval_us, 500_000);
        assert_eq!(s.target, orig.target);

        // Another factor, and scaling twice multiplies.
        let mut s3 = orig.clone();
        s3.scale_time(3.0).unwrap();
        check_scaled(&orig, &s3, 3.0);
        let mut twice = s.clone();
        twice.scale_time(2.0).unwrap();
        check_scaled(&s, &twice, 2.0);
        assert!((twice.time_scale() - 0.2).abs() < 1e-15);
    }

    #[test]
    fn small_durations_stay_nonzero() {
        let mut s = Scenario::parse(FULL, "full.toml").unwrap();
        s.scale_time(1e-7).unwrap();
        let a = s.family("a").unwrap();
        assert_eq!(a.timeouts.idle_check_us, Some(1));
        assert_eq!(a.timeouts.handshake_us, Some(1));
        assert_eq!(scale_us(0, 1e-7), 0);
        assert_eq!(scale_us(7, 1.0), 7);
        assert_eq!(scale_us(u64::MAX, 2.0), u64::MAX);
    }

    #[test]
    fn bad_factors_are_errors_and_change_nothing() {
        let orig = Scenario::builtin("claude").unwrap();
        for f in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0] {
            let mut s = orig.clone();
            let e = s.scale_time(f).unwrap_err();
            assert_eq!(e.file(), "--time-scale");
            assert!(e.message().contains("finite factor > 0"), "{e}");
            assert_eq!(s, orig);
        }
        // 60 s of prefill ramp x 1e5 is above one week.
        let mut s = orig.clone();
        let e = s.scale_time(1e5).unwrap_err();
        assert_eq!(e.path(), "load.prefill_ramp_s", "{e}");
        assert_eq!(s, orig);
        // A distribution that overflows.
        let mut s = Scenario::parse(FULL, "full.toml").unwrap();
        s.load.prefill_ramp_us = 0;
        s.think.first_call = Dist::Constant(1e300);
        let before = s.clone();
        let e = s.scale_time(1e10).unwrap_err();
        assert_eq!(e.path(), "think.first_call", "{e}");
        assert_eq!(s, before);
    }
}
