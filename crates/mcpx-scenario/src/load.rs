//! Load models as sans-IO schedulers: who starts when. Open arrivals (Poisson or constant,
//! optionally ramped by stages), closed populations, the call-level open model, the prefill of
//! long-lived users, duration/drain, and `--shard i/n`.
//!
//! Every shard computes the same global arrival sequence from (`profile.seed`,
//! [`DOMAIN_ARRIVALS`]) and keeps the users it owns (index mod n = i), so the union of the shards
//! is exactly the unsharded run.

use crate::limits::{MAX_PREFILL, MAX_SKIP_PER_POLL};
use std::collections::VecDeque;

use crate::format::{Arrival as ArrivalLaw, LoadModel, Scenario, Stage};
use crate::rng::{DOMAIN_ARRIVALS, DOMAIN_PREFILL, Rng};

/// Index of the first prefilled user: prefilled users live in their own index space so they
/// never share an RNG stream with arriving users.
pub const PREFILL_INDEX_BASE: u64 = 1 << 62;

/// `--shard i/n`: this process runs users with index mod n = i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `index < count`.
    #[must_use]
    pub fn new(index: u64, count: u64) -> Option<Self> {
        (index < count).then_some(Self { index, count })
    }

    /// Parses `--shard i/n`.
    ///
    /// # Errors
    /// Not two whole numbers with i < n.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected i/n, e.g. 0/4, got {text:?}"))?;
        let i: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard index {i:?} is not a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count {n:?} is not a whole number"))?;
        Self::new(i, n).ok_or_else(|| format!("expected 0 <= i < n, got {i}/{n}"))
    }

    /// This shard's index.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of shards.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The whole run.
    #[must_use]
    pub fn all() -> Self {
        Self { index: 0, count: 1 }
    }

    /// Whether user `k` belongs to this shard.
    #[must_use]
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }

    /// How many of `total` indices `0..total` this shard owns: its part of `--users N`,
    /// `--requests N` or `max_users`. The parts of all shards add up to `total`; shard `i`
    /// gets one more than shard `j > i` when `total` is not a multiple of the count.
    #[must_use]
    pub fn share(&self, total: u64) -> u64 {
        // Indices i, i + n, i + 2n, ... below `total`; never overflows (no `total + n`).
        if total <= self.index {
            0
        } else {
            (total - self.index - 1) / self.count + 1
        }
    }

    /// Whether this is the whole run (`0/1`).
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

/// `i/n`, the form [`Shard::parse`] reads (and reports record).
impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parses k6-style `--stage` lists: `30s:10,2m:50,30s:0` (duration with `ms`, `s`, `m` or `h`,
/// then the rate or user count at the end of the stage).
///
/// # Errors
/// A malformed stage, a duration beyond [`crate::MAX_DURATION_US`], a negative or absurd target.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .take(crate::limits::MAX_LIST + 1)
        .map(|stage| {
            let (d, t) = stage
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("expected duration:target, e.g. 30s:10, got {stage:?}"))?;
            let duration_us = parse_duration(d.trim())?;
            let target: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("stage target {t:?} is not a number"))?;
            if !(0.0..=1e6).contains(&target) {
                return Err(format!("stage target {target} out of [0, 1000000]"));
            }
            Ok(Stage::new(duration_us, target))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.len() > crate::limits::MAX_LIST {
                Err(format!("at most {} stages", crate::limits::MAX_LIST))
            } else {
                Ok(v)
            }
        })
}

/// `250ms`, `30s`, `2m`, `1h` (a bare number is seconds) in µs.
fn parse_duration(d: &str) -> Result<u64, String> {
    let (num, factor) = if let Some(n) = d.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = d.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = d.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = d.strip_suffix('h') {
        (n, 3600e6)
    } else {
        (d, 1e6)
    };
    let x: f64 = num
        .parse()
        .map_err(|_| format!("duration {d:?}: expected e.g. 30s, 2m, 250ms"))?;
    let us = x * factor;
    if !(0.0..=crate::limits::MAX_DURATION_US as f64).contains(&us) {
        return Err(format!("duration {d:?} out of range"));
    }
    Ok(us.round() as u64)
}

/// What to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartKind {
    /// A fresh user: [`crate::VirtualUser::new`]`(plan, index, at_us)`.
    User,
    /// A prefilled long-lived user: [`crate::VirtualUser::prefilled`].
    Prefilled {
        /// Family index.
        family: usize,
        /// Remaining lifetime, µs.
        remaining_us: u64,
    },
    /// Call-level model: start session driver `index` ([`crate::VirtualUser::session_driver`],
    /// family 0 unless the runner picks another).
    Session,
    /// Call-level model: [`crate::VirtualUser::inject_call`] into session driver `index`.
    Call,
}

/// One scheduled start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Start {
    /// User (or session-driver) index.
    pub index: u64,
    /// Intended start time, µs (measure from here, not from when the runner got to it).
    pub at_us: u64,
    /// What to start.
    pub kind: StartKind,
}

/// A piecewise-linear rate (or population) over time.
#[derive(Debug, Clone, PartialEq)]
struct Ramp {
    /// (start µs, end µs, value at start, value at end).
    segments: Vec<(u64, u64, f64, f64)>,
}

impl Ramp {
    fn new(s: &Scenario, flat: f64) -> Self {
        let load = &s.load;
        if load.stages.is_empty() {
            return Self {
                segments: vec![(0, load.duration_us, flat, flat)],
            };
        }
        let mut t = 0u64;
        let mut prev = 0.0;
        let mut segments = Vec::with_capacity(load.stages.len());
        for st in &load.stages {
            let end = t.saturating_add(st.duration_us);
            segments.push((t, end, prev, st.target));
            prev = st.target;
            t = end;
        }
        Self { segments }
    }

    fn end(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.1)
    }

    fn at(&self, t: u64) -> f64 {
        for &(a, b, va, vb) in &self.segments {
            if t < b || b == self.end() && t == b {
                if b <= a {
                    return vb;
                }
                let x = (t.saturating_sub(a)) as f64 / (b - a) as f64;
                return va + (vb - va) * x.clamp(0.0, 1.0);
            }
        }
        0.0
    }

    fn max(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.2.max(s.3))
            .fold(0.0, f64::max)
    }

    /// The time at which the integral of the rate (per second) reaches `target`, or `None`
    /// if it never does before the end.
    fn inverse_integral(&self, target: f64) -> Option<u64> {
        let mut acc = 0.0;
        for &(a, b, va, vb) in &self.segments {
            let d = (b.saturating_sub(a)) as f64 / 1e6;
            let area = (va + vb) / 2.0 * d;
            if acc + area >= target && area > 0.0 {
                let need = target - acc;
                // Solve va x + (vb - va) / (2 d) x^2 = need for x in [0, d].
                let k = if d > 0.0 { (vb - va) / (2.0 * d) } else { 0.0 };
                let x = if k.abs() < 1e-12 {
                    need / va
                } else {
                    (-va + (va * va + 4.0 * k * need).max(0.0).sqrt()) / (2.0 * k)
                };
                return Some(a.saturating_add((x.clamp(0.0, d) * 1e6).round() as u64));
            }
            acc += area;
        }
        None
    }
}

/// The scheduler of one run (or shard). See the module docs.
///
/// Protocol: call [`Arrivals::poll`]`(now)` until `None`, start what it returns, sleep until
/// [`Arrivals::next_wakeup`]; in the closed model, report each finished user with
/// [`Arrivals::on_user_finished`]. New users stop at [`Arrivals::stop_us`]; at
/// [`Arrivals::deadline_us`] the runner shuts down whoever is left.
#[derive(Debug, Clone)]
pub struct Arrivals {
    model: LoadModel,
    law: ArrivalLaw,
    shard: Shard,
    ramp: Ramp,
    stop_us: u64,
    drain_us: u64,
    rng: Rng,
    /// Open / calls: integral of the rate reached by the next arrival, and its index.
    next_mass: f64,
    next_index: u64,
    next_at: Option<u64>,
    /// Calls model: number of session slots.
    sessions: u64,
    /// Closed model: per owned slot, (slot, generation, running).
    slots: Vec<(u64, u64, bool)>,
    closed_max: u64,
    /// Count bound on indices (0 = none).
    max_users: u64,
    /// The latest `now` given to `poll`.
    now: u64,
    queue: VecDeque<Start>,
}

impl Arrivals {
    /// The schedule of `scenario`'s `[load]` for `shard`.
    #[must_use]
    pub fn new(scenario: &Scenario, shard: Shard) -> Self {
        let load = &scenario.load;
        let flat = match load.model {
            LoadModel::Open => load.users_per_s,
            LoadModel::Closed => load.users as f64,
            LoadModel::Calls => load.calls_per_s,
        };
        let ramp = Ramp::new(scenario, flat);
        let stop_us = ramp.end();
        let mut rng = Rng::derive(scenario.profile.seed, DOMAIN_ARRIVALS, 0);
        let mut queue = VecDeque::new();
        let mut slots = Vec::new();
        let mut closed_max = 0;
        match load.model {
            LoadModel::Open => {
                if load.prefill && load.stages.is_empty() {
                    queue.extend(prefill(scenario, shard));
                }
            }
            LoadModel::Closed => {
                closed_max = ramp.max().ceil().min(10_000_000.0) as u64;
                slots = (0..closed_max)
                    .filter(|s| shard.owns(*s))
                    .map(|s| (s, 0, false))
                    .collect();
            }
            LoadModel::Calls => {
                queue.extend(
                    (0..load.sessions)
                        .filter(|s| shard.owns(*s))
                        .map(|s| Start {
                            index: s,
                            at_us: 0,
                            kind: StartKind::Session,
                        }),
                );
            }
        }
        let first_mass = match load.law_first() {
            Some(m) => m,
            None => exp1(&mut rng),
        };
        let mut a = Self {
            model: load.model,
            law: load.arrival,
            shard,
            ramp,
            stop_us,
            drain_us: load.drain_us,
            rng,
            next_mass: first_mass,
            next_index: 0,
            next_at: None,
            sessions: load.sessions.max(1),
            slots,
            closed_max,
            max_users: load.max_users,
            now: 0,
            queue,
        };
        if a.model != LoadModel::Closed {
            a.next_at = a.ramp.inverse_integral(a.next_mass);
        }
        a
    }

    /// When new users stop arriving, µs.
    #[must_use]
    pub fn stop_us(&self) -> u64 {
        self.stop_us
    }

    /// When the run ends: stop plus drain, µs.
    #[must_use]
    pub fn deadline_us(&self) -> u64 {
        self.stop_us.saturating_add(self.drain_us)
    }

    /// The next start due at `now_us`.
    pub fn poll(&mut self, now_us: u64) -> Option<Start> {
        self.now = self.now.max(now_us);
        if let Some(pos) = self.queue.iter().position(|s| s.at_us <= now_us) {
            return self.queue.remove(pos);
        }
        match self.model {
            LoadModel::Closed => {
                if now_us >= self.stop_us {
                    return None;
                }
                let target = self.ramp.at(now_us);
                for (slot, generation, running) in &mut self.slots {
                    if !*running && (*slot as f64) < target {
                        let index = *generation * self.closed_max + *slot;
                        if self.max_users > 0 && index >= self.max_users {
                            continue;
                        }
                        *running = true;
                        *generation += 1;
                        return Some(Start {
                            index,
                            at_us: now_us,
                            kind: StartKind::User,
                        });
                    }
                }
                None
            }
            LoadModel::Open | LoadModel::Calls => {
                for _ in 0..MAX_SKIP_PER_POLL {
                    let at = self.next_at.filter(|t| *t <= now_us && *t < self.stop_us)?;
                    let index = self.next_index;
                    if self.max_users > 0 && index >= self.max_users {
                        self.next_at = None;
                        return None;
                    }
                    self.next_index += 1;
                    self.next_mass += match self.law {
                        ArrivalLaw::Constant => 1.0,
                        _ => exp1(&mut self.rng),
                    };
                    self.next_at = self.ramp.inverse_integral(self.next_mass);
                    if self.model == LoadModel::Calls {
                        // Calls are spread over the sessions round-robin by arrival index.
                        let slot = index % self.sessions;
                        if self.shard.owns(slot) {
                            return Some(Start {
                                index: slot,
                                at_us: at,
                                kind: StartKind::Call,
                            });
                        }
                    } else if self.shard.owns(index) {
                        return Some(Start {
                            index,
                            at_us: at,
                            kind: StartKind::User,
                        });
                    }
                }
                None
            }
        }
    }

    /// The next time [`Arrivals::poll`] may return something (closed model: only ramp
    /// activations; finished users are reported with [`Arrivals::on_user_finished`]).
    #[must_use]
    pub fn next_wakeup(&self) -> Option<u64> {
        let queued = self.queue.iter().map(|s| s.at_us).min();
        let next = match self.model {
            LoadModel::Closed => {
                // The earliest time an idle slot becomes active under the ramp.
                self.slots
                    .iter()
                    .filter(|(_, _, running)| !running)
                    .filter(|(slot, generation, _)| {
                        self.max_users == 0 || generation * self.closed_max + slot < self.max_users
                    })
                    .filter_map(|(slot, _, _)| self.activation(*slot))
                    .filter(|_| self.now < self.stop_us)
                    .map(|t| t.max(self.now))
                    .filter(|t| *t < self.stop_us)
                    .min()
            }
            _ => self.next_at.filter(|t| *t < self.stop_us),
        };
        match (queued, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether no start will ever come again: nothing is queued and the arrivals ran out
    /// (the count bound `max_users` was reached, or the open process passed its last stage).
    /// Once it holds and the users it started have finished, a runner may end the run before
    /// [`Arrivals::deadline_us`]: a count-bounded run (e.g. a closed population run once) then
    /// takes as long as its users, not its duration. A ramp-limited closed model never runs out
    /// (its slots restart until the duration ends).
    #[must_use]
    pub fn is_exhausted(&self) -> bool {
        if !self.queue.is_empty() {
            return false;
        }
        match self.model {
            LoadModel::Closed => {
                self.max_users > 0
                    && self.slots.iter().all(|(slot, generation, _)| {
                        generation
                            .saturating_mul(self.closed_max)
                            .saturating_add(*slot)
                            >= self.max_users
                    })
            }
            _ => self.next_at.is_none(),
        }
    }

    /// Closed model: user `index` ended at `now_us`; its slot starts a new one at the next poll.
    pub fn on_user_finished(&mut self, index: u64, _now_us: u64) {
        if self.closed_max == 0 {
            return;
        }
        let slot = index % self.closed_max;
        if let Some(s) = self.slots.iter_mut().find(|s| s.0 == slot) {
            s.2 = false;
        }
    }

    /// First time at which slot `s` is within the ramp's population (closed model).
    fn activation(&self, s: u64) -> Option<u64> {
        let need = s as f64 + 1e-9;
        for &(a, b, va, vb) in &self.ramp.segments {
            if va > need {
                return Some(a);
            }
            if vb > need && vb > va {
                let x = (need - va) / (vb - va);
                return Some(a.saturating_add(((b - a) as f64 * x).ceil() as u64).min(b));
            }
        }
        None
    }
}

fn exp1(rng: &mut Rng) -> f64 {
    -rng.f64_open0().ln()
}

trait FirstMass {
    fn law_first(&self) -> Option<f64>;
}

impl FirstMass for crate::format::Load {
    /// Constant arrivals start at t = 0; Poisson ones after an exponential gap.
    fn law_first(&self) -> Option<f64> {
        match self.arrival {
            ArrivalLaw::Constant => Some(0.0),
            _ => None,
        }
    }
}

/// The prefilled population (PROFILE 2.1 "Prefill"): for each family with a `lifetime`,
/// N₀ = `users_per_s` × weight × E(lifetime) idle users, lifetime length-biased
/// (median × e^{σ²} for a lognormal), age uniform within it, started evenly over
/// `prefill_ramp_s`.
#[must_use]
pub fn prefill(scenario: &Scenario, shard: Shard) -> Vec<Start> {
    let load = &scenario.load;
    let total_w: f64 = scenario.clients.iter().map(|c| c.weight).sum();
    if total_w <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut j = 0u64;
    for (fi, f) in scenario.clients.iter().enumerate() {
        let Some(life) = &f.lifetime else { continue };
        let mean_s = life.mean() / 1e6;
        let n0 = load.users_per_s * f.weight / total_w * mean_s;
        // Deterministic rounding: the fractional user exists with its probability.
        let mut r = Rng::derive(scenario.profile.seed, DOMAIN_PREFILL, u64::MAX - fi as u64);
        let n = (n0.floor() as u64 + u64::from(r.bernoulli(n0.fract()))).min(MAX_PREFILL);
        let biased = match life {
            crate::dist::Dist::LogNormal {
                median,
                sigma,
                min,
                max,
            } => crate::dist::Dist::lognormal(median * (sigma * sigma).exp(), *sigma, *min, *max),
            other => other.clone(),
        };
        for i in 0..n {
            let index = PREFILL_INDEX_BASE + j;
            j += 1;
            if !shard.owns(index) {
                continue;
            }
            let mut rng = Rng::derive(scenario.profile.seed, DOMAIN_PREFILL, index);
            let lifetime = biased.sample_u64(&mut rng);
            let age = (rng.f64() * lifetime as f64) as u64;
            let at_us = load
                .prefill_ramp_us
                .saturating_mul(i)
                .checked_div(n)
                .unwrap_or(0);
            out.push(Start {
                index,
                at_us,
                kind: StartKind::Prefilled {
                    family: fi,
                    remaining_us: lifetime - age.min(lifetime),
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(load: &str) -> Scenario {
        let text =
            format!("format = \"mcpx-scenario/1\"\n[load]\n{load}\n[[clients]]\nname = \"a\"\n");
        Scenario::parse(&text, "t.toml").unwrap()
    }

    fn drain(a: &mut Arrivals, until: u64) -> Vec<Start> {
        let mut out = Vec::new();
        let mut now = 0;
        loop {
            while let Some(s) = a.poll(now) {
                out.push(s);
            }
            match a.next_wakeup() {
                Some(t) if t <= until => now = t.max(now),
                _ => return out,
            }
        }
    }

    #[test]
    fn poisson_rate_and_shards_partition() {
        let s = scenario("users_per_s = 5\nduration_s = 2000\nprefill = false");
        let all = drain(&mut Arrivals::new(&s, Shard::all()), u64::MAX);
        let n = all.len() as f64;
        assert!((n - 10_000.0).abs() < 300.0, "{n}");
        let mut merged: Vec<Start> = (0..3)
            .flat_map(|i| drain(&mut Arrivals::new(&s, Shard::new(i, 3).unwrap()), u64::MAX))
            .collect();
        merged.sort_by_key(|s| s.index);
        assert_eq!(merged, all);
        // Exponential gaps: about 63 % shorter than the mean.
        let short = all
            .windows(2)
            .filter(|w| w[1].at_us - w[0].at_us < 200_000)
            .count() as f64;
        assert!((short / n - 0.632).abs() < 0.02);
    }

    #[test]
    fn constant_arrivals_and_ramp() {
        let s =
            scenario("arrival = \"constant\"\nusers_per_s = 2\nduration_s = 10\nprefill = false");
        let all = drain(&mut Arrivals::new(&s, Shard::all()), u64::MAX);
        assert_eq!(all.len(), 20);
        assert_eq!(all[1].at_us - all[0].at_us, 500_000);
        // Ramp 0 -> 10/s over 10 s then 10/s for 10 s: 50 + 100 users.
        let r = scenario(
            "arrival = \"constant\"\nprefill = false\nstages = [{ duration_s = 10, target = 10 }, { duration_s = 10, target = 10 }]",
        );
        let a = drain(&mut Arrivals::new(&r, Shard::all()), u64::MAX);
        assert!((a.len() as i64 - 150).abs() <= 1, "{}", a.len());
        assert!(
            a.iter()
                .filter(|s| s.at_us < 10_000_000)
                .count()
                .abs_diff(50)
                <= 1
        );
    }

    #[test]
    fn closed_population_restarts() {
        let s = scenario("model = \"closed\"\nusers = 3\nduration_s = 100");
        let mut a = Arrivals::new(&s, Shard::all());
        let first: Vec<Start> = std::iter::from_fn(|| a.poll(0)).collect();
        assert_eq!(
            first.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(a.poll(5).is_none());
        a.on_user_finished(1, 7);
        let next = a.poll(7).unwrap();
        assert_eq!((next.index, next.at_us), (4, 7));
        assert!(a.poll(200_000_000).is_none());
        a.on_user_finished(0, 200_000_000);
        assert_eq!(a.next_wakeup(), None, "nothing starts after the duration");
    }

    #[test]
    fn prefill_population() {
        let s = Scenario::builtin("claude").unwrap();
        let p = prefill(&s, Shard::all());
        // 1 user/s x .3 x E[lifetime] (1500 s x e^0.5 = 2473 s) ~ 742.
        assert!((p.len() as i64 - 742).abs() <= 2, "{}", p.len());
        let mean_rem = p
            .iter()
            .map(|s| match s.kind {
                StartKind::Prefilled { remaining_us, .. } => remaining_us as f64,
                _ => 0.0,
            })
            .sum::<f64>()
            / p.len() as f64
            / 1e6;
        // Residual life of a length-biased lognormal: E[L^2] / (2 E[L]) = median e^{3σ²/2} / 2 ~ 3361 s.
        assert!((mean_rem - 3361.0).abs() < 400.0, "{mean_rem}");
        assert!(p.iter().all(|s| s.at_us < 60_000_000));
    }

    #[test]
    fn count_bound() {
        let s = scenario("users_per_s = 100\nduration_s = 100\nmax_users = 40\nprefill = false");
        let mut open = Arrivals::new(&s, Shard::all());
        assert!(!open.is_exhausted());
        assert_eq!(drain(&mut open, u64::MAX).len(), 40);
        assert!(open.is_exhausted(), "the count bound ends the arrivals");
        let c = scenario("model = \"closed\"\nusers = 3\nmax_users = 4");
        let mut a = Arrivals::new(&c, Shard::all());
        assert_eq!(std::iter::from_fn(|| a.poll(0)).count(), 3);
        a.on_user_finished(0, 1);
        a.on_user_finished(1, 1);
        assert_eq!(
            std::iter::from_fn(|| a.poll(1))
                .map(|s| s.index)
                .collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn cli_parsers() {
        let st = parse_stages("30s:10, 2m:50,250ms:0").unwrap();
        assert_eq!(
            st,
            vec![
                Stage::new(30_000_000, 10.0),
                Stage::new(120_000_000, 50.0),
                Stage::new(250_000, 0.0)
            ]
        );
        assert!(parse_stages("30x:1").is_err());
        assert!(parse_stages("30s").is_err());
        assert!(parse_stages("30s:-1").is_err());
        assert_eq!(Shard::parse("1/4").unwrap(), Shard::new(1, 4).unwrap());
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("a/4").is_err());
        assert!(Shard::parse("3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert_eq!(Shard::new(2, 3).unwrap().to_string(), "2/3");
        assert_eq!(
            Shard::parse(&Shard::new(5, 7).unwrap().to_string()),
            Ok(Shard::new(5, 7).unwrap())
        );
    }

    #[test]
    fn shares_add_up_to_the_total() {
        for n in 1..=7u64 {
            for total in [0u64, 1, 2, 5, 6, 7, 100, 101, u64::MAX] {
                let shares: Vec<u64> = (0..n)
                    .map(|i| Shard::new(i, n).unwrap().share(total))
                    .collect();
                // Exactly the count of owned indices (checked by enumeration when small).
                if total <= 101 {
                    for (i, s) in shares.iter().enumerate() {
                        let owned = (0..total)
                            .filter(|k| Shard::new(i as u64, n).unwrap().owns(*k))
                            .count() as u64;
                        assert_eq!(*s, owned, "{i}/{n} of {total}");
                    }
                }
                let sum: u128 = shares.iter().map(|s| u128::from(*s)).sum();
                assert_eq!(sum, u128::from(total), "{n} shards of {total}");
            }
        }
        assert!(Shard::all().is_all());
        assert!(!Shard::new(0, 2).unwrap().is_all());
    }

    #[test]
    fn closed_shards_partition_the_users() {
        // 10 users, each slot run once (max_users): the 3 shards start exactly the users of
        // the whole run, each owning its slots (k mod 3 = i), the same indices (seeds).
        let s = scenario("model = \"closed\"\nusers = 10\nmax_users = 10\nduration_s = 100");
        let run = |shard: Shard| {
            let mut a = Arrivals::new(&s, shard);
            let mut started = Vec::new();
            for t in (0..100_000_000).step_by(1_000_000) {
                let batch: Vec<Start> = std::iter::from_fn(|| a.poll(t)).collect();
                for b in &batch {
                    a.on_user_finished(b.index, t + 1);
                }
                started.extend(batch);
            }
            assert!(a.is_exhausted(), "{shard}: every user of max_users started");
            started.into_iter().map(|s| s.index).collect::<Vec<_>>()
        };
        let all = run(Shard::all());
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let mut merged = Vec::new();
        for i in 0..3 {
            let part = run(Shard::new(i, 3).unwrap());
            assert_eq!(part.len() as u64, Shard::new(i, 3).unwrap().share(10));
            assert!(part.iter().all(|k| k % 3 == i), "{part:?}");
            merged.extend(part);
        }
        merged.sort_unstable();
        assert_eq!(merged, all);
    }

    #[test]
    fn calls_and_prefill_shards_partition() {
        let s = scenario("model = \"calls\"\ncalls_per_s = 50\nsessions = 7\nduration_s = 10");
        let key = |v: &Start| (v.at_us, v.index, v.kind == StartKind::Call);
        let mut all: Vec<_> = drain(&mut Arrivals::new(&s, Shard::all()), u64::MAX)
            .iter()
            .map(key)
            .collect();
        let mut merged: Vec<_> = (0..3)
            .flat_map(|i| drain(&mut Arrivals::new(&s, Shard::new(i, 3).unwrap()), u64::MAX))
            .map(|v| key(&v))
            .collect();
        all.sort_unstable();
        merged.sort_unstable();
        assert!(all.len() > 400, "{}", all.len());
        assert_eq!(
            merged, all,
            "each call goes to the shard owning its session"
        );
        let claude = Scenario::builtin("claude").unwrap();
        let mut all = prefill(&claude, Shard::all());
        let mut merged: Vec<Start> = (0..4)
            .flat_map(|i| prefill(&claude, Shard::new(i, 4).unwrap()))
            .collect();
        all.sort_by_key(|s| s.index);
        merged.sort_by_key(|s| s.index);
        assert_eq!(
            merged, all,
            "prefilled users split, same lifetimes and start times"
        );
    }

    #[test]
    fn calls_model_spreads_over_sessions() {
        let s = scenario("model = \"calls\"\ncalls_per_s = 50\nsessions = 4\nduration_s = 10");
        let all = drain(&mut Arrivals::new(&s, Shard::all()), u64::MAX);
        assert_eq!(
            all.iter().filter(|s| s.kind == StartKind::Session).count(),
            4
        );
        let calls = all.iter().filter(|s| s.kind == StartKind::Call).count();
        assert!((calls as i64 - 500).abs() < 80, "{calls}");
    }
}
