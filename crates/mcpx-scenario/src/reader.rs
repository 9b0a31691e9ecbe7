//! The typed walk over a parsed TOML table: key paths, known-key lists, unit suffixes.
//!
//! Owns every rule about *how* a value is written (types, ranges, units, `dist` tables);
//! [`crate::format`] owns *which* keys exist.

use toml::{Table, Value};

use crate::dist::{Dist, Unit};
use crate::error::ScenarioError;
use crate::limits::MAX_COUNT;

pub(crate) type R<T> = Result<T, ScenarioError>;

/// The names of every distribution, as listed in error messages.
pub(crate) const DIST_NAMES: &str = "lognormal, negbin, categorical, uniform, constant, zipf";

/// A table being read: records which keys were asked for, so [`Node::finish`] can reject the
/// rest with the list of known ones.
pub(crate) struct Node<'a> {
    table: &'a Table,
    path: String,
    file: &'a str,
    known: Vec<&'static str>,
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl<'a> Node<'a> {
    pub(crate) fn new(table: &'a Table, path: String, file: &'a str) -> Self {
        Self {
            table,
            path,
            file,
            known: Vec::new(),
        }
    }

    pub(crate) fn table_ref(&self) -> &'a Table {
        self.table
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    #[cold]
    pub(crate) fn err(&self, key: &str, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::new(self.file, &self.key_path(key), msg)
    }

    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.table.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(crate) fn string(&mut self, key: &'static str, default: &str) -> R<String> {
        Ok(self.opt_string(key)?.unwrap_or_else(|| default.to_owned()))
    }

    pub(crate) fn opt_string(&mut self, key: &'static str) -> R<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(key, format!("expected a string, got {}", type_name(v)))),
        }
    }

    pub(crate) fn req_string(&mut self, key: &'static str) -> R<String> {
        self.opt_string(key)?
            .ok_or_else(|| self.err(key, "required key is missing"))
    }

    pub(crate) fn boolean(&mut self, key: &'static str, default: bool) -> R<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.err(key, format!("expected true or false, got {}", type_name(v)))),
        }
    }

    pub(crate) fn opt_number(&mut self, key: &'static str) -> R<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match as_f64(v) {
                Some(x) if x.is_finite() => Ok(Some(x)),
                Some(x) => Err(self.err(key, format!("expected a finite number, got {x}"))),
                None => Err(self.err(key, format!("expected a number, got {}", type_name(v)))),
            },
        }
    }

    /// A number in `[lo, hi]`.
    pub(crate) fn number(&mut self, key: &'static str, default: f64, lo: f64, hi: f64) -> R<f64> {
        let x = self.opt_number(key)?.unwrap_or(default);
        if x < lo || x > hi {
            let range = if hi == f64::INFINITY {
                format!("a number >= {lo}")
            } else {
                format!("a number in [{lo}, {hi}]")
            };
            return Err(self.err(key, format!("expected {range}, got {x}")));
        }
        Ok(x)
    }

    pub(crate) fn prob(&mut self, key: &'static str, default: f64) -> R<f64> {
        let x = self.opt_number(key)?.unwrap_or(default);
        if !(0.0..=1.0).contains(&x) {
            return Err(self.err(key, format!("expected a probability in [0, 1], got {x}")));
        }
        Ok(x)
    }

    pub(crate) fn weight(&mut self, key: &'static str, default: f64) -> R<f64> {
        self.number(key, default, 0.0, f64::INFINITY)
    }

    /// A whole number in `[0, max]`.
    pub(crate) fn uint(&mut self, key: &'static str, default: u64, max: u64) -> R<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Integer(i)) if *i >= 0 && (*i as u64) <= max => Ok(*i as u64),
            Some(Value::Integer(i)) => Err(self.err(
                key,
                format!("expected a whole number in [0, {max}], got {i}"),
            )),
            Some(v) => Err(self.err(
                key,
                format!("expected a whole number, got {}", type_name(v)),
            )),
        }
    }

    /// A duration written under `<base>_ms` or `<base>_s` (one of them), in microseconds,
    /// at most `max_us`.
    pub(crate) fn duration(
        &mut self,
        base_ms: &'static str,
        base_s: &'static str,
        default_us: u64,
        max_us: u64,
    ) -> R<u64> {
        let ms = self.opt_number(base_ms)?;
        let s = self.opt_number(base_s)?;
        let (key, us) = match (ms, s) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    base_ms,
                    format!("give either {base_ms} or {base_s}, not both"),
                ));
            }
            (Some(v), None) => (base_ms, v * 1e3),
            (None, Some(v)) => (base_s, v * 1e6),
            (None, None) => return Ok(default_us),
        };
        if us < 0.0 || us > max_us as f64 {
            return Err(self.err(
                key,
                format!(
                    "expected a duration in [0, {} s], got {} s",
                    max_us / 1_000_000,
                    us / 1e6
                ),
            ));
        }
        Ok(us.round() as u64)
    }

    pub(crate) fn opt_table(&mut self, key: &'static str) -> R<Option<Node<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Node::new(t, self.key_path(key), self.file))),
            Some(v) => Err(self.err(key, format!("expected a table, got {}", type_name(v)))),
        }
    }

    pub(crate) fn opt_array(&mut self, key: &'static str) -> R<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(self.err(key, format!("expected an array, got {}", type_name(v)))),
        }
    }

    /// The tables of an array of tables, each with its `key[i]` path.
    pub(crate) fn tables(&mut self, key: &'static str, max: usize) -> R<Vec<Node<'a>>> {
        let Some(items) = self.opt_array(key)? else {
            return Ok(Vec::new());
        };
        if items.len() > max {
            return Err(self.err(key, format!("at most {max} entries, got {}", items.len())));
        }
        let base = self.key_path(key);
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Table(t) => Ok(Node::new(t, format!("{base}[{i}]"), self.file)),
                other => Err(ScenarioError::new(
                    self.file,
                    &format!("{base}[{i}]"),
                    format!("expected a table, got {}", type_name(other)),
                )),
            })
            .collect()
    }

    pub(crate) fn strings(&mut self, key: &'static str, max: usize) -> R<Option<Vec<String>>> {
        let Some(items) = self.opt_array(key)? else {
            return Ok(None);
        };
        if items.len() > max {
            return Err(self.err(key, format!("at most {max} entries, got {}", items.len())));
        }
        let base = self.key_path(key);
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(ScenarioError::new(
                    self.file,
                    &format!("{base}[{i}]"),
                    format!("expected a string, got {}", type_name(other)),
                )),
            })
            .collect::<R<Vec<_>>>()
            .map(Some)
    }

    /// One of `choices` (a string), or `default`.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        default: T,
        choices: &[(&str, T)],
    ) -> R<T> {
        let Some(s) = self.opt_string(key)? else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.err(
                    key,
                    format!("unknown value {s:?}: one of {}", names.join(", ")),
                )
            })
    }

    /// A distribution of the given unit, or `default`.
    pub(crate) fn dist(&mut self, key: &'static str, unit: Unit, default: Dist) -> R<Dist> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_dist(v, &self.key_path(key), unit, self.file),
        }
    }

    pub(crate) fn opt_dist(&mut self, key: &'static str, unit: Unit) -> R<Option<Dist>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_dist(v, &self.key_path(key), unit, self.file).map(Some),
        }
    }

    /// Rejects every key that was never asked for, listing the known ones.
    pub(crate) fn finish(self) -> R<()> {
        for key in self.table.keys() {
            if !self.known.iter().any(|k| k == key) {
                let mut known = self.known.clone();
                known.sort_unstable();
                known.dedup();
                let where_ = if self.path.is_empty() {
                    "the top level".to_owned()
                } else {
                    format!("[{}]", self.path)
                };
                return Err(self.err(
                    key,
                    format!("unknown key in {where_}; known keys: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// The suffixes of a unit and their factor to the internal unit.
fn suffixes(unit: Unit) -> &'static [(&'static str, f64)] {
    match unit {
        Unit::Duration => &[("_ms", 1e3), ("_s", 1e6), ("_us", 1.0)],
        Unit::Bytes => &[("_bytes", 1.0)],
        Unit::Count => &[("", 1.0)],
    }
}

const ANY_SUFFIX: [&str; 4] = ["_ms", "_s", "_us", "_bytes"];

/// The keys of one `dist` table after unit normalisation.
struct DistKeys<'v> {
    path: String,
    file: &'v str,
    unit: Unit,
    table: &'v Table,
    used: Vec<String>,
    known: Vec<String>,
}

impl<'v> DistKeys<'v> {
    #[cold]
    fn err(&self, key: &str, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::new(self.file, &join(&self.path, key), msg)
    }

    /// A unit-bearing key (`median` -> `median_ms` / `median_s` / ...), in the internal unit.
    fn unit_value(&mut self, base: &str) -> R<Option<f64>> {
        let mut found: Option<(String, f64)> = None;
        for (suffix, factor) in suffixes(self.unit) {
            let key = format!("{base}{suffix}");
            self.known.push(key.clone());
            if let Some(v) = self.table.get(&key) {
                if found.is_some() {
                    return Err(self.err(&key, format!("{base} is given twice (in two units)")));
                }
                let x = self.number_of(&key, v)?;
                self.used.push(key.clone());
                found = Some((key, x * factor));
            }
        }
        Ok(found.map(|(_, x)| x))
    }

    fn plain(&mut self, key: &str) -> R<Option<f64>> {
        self.known.push(key.to_owned());
        match self.table.get(key) {
            None => Ok(None),
            Some(v) => {
                self.used.push(key.to_owned());
                self.number_of(key, v).map(Some)
            }
        }
    }

    fn number_of(&self, key: &str, v: &Value) -> R<f64> {
        match as_f64(v) {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(self.err(key, format!("expected a number, got {}", type_name(v)))),
        }
    }

    fn required(&self, base: &str, got: Option<f64>) -> R<f64> {
        got.ok_or_else(|| {
            let keys: Vec<String> = suffixes(self.unit)
                .iter()
                .map(|(s, _)| format!("{base}{s}"))
                .collect();
            self.err(base, format!("missing: give {}", keys.join(" or ")))
        })
    }

    fn finish(&self, kind: &str) -> R<()> {
        for key in self.table.keys() {
            if key == "dist" || self.used.iter().any(|u| u == key) {
                continue;
            }
            // A known base with the wrong unit gets a unit message, not "unknown key".
            let known_base = |base: &str| {
                self.known
                    .iter()
                    .any(|k| k == base || ANY_SUFFIX.iter().any(|s| *k == format!("{base}{s}")))
            };
            let base = ANY_SUFFIX
                .iter()
                .find_map(|s| key.strip_suffix(s))
                .unwrap_or(key);
            if known_base(base) {
                return Err(self.err(key, format!("expected {}", self.unit.describe())));
            }
            return Err(self.err(
                key,
                format!(
                    "unknown key in a {kind} dist; known keys: dist, {}",
                    self.known.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Parses a `{ dist = "...", ... }` table (not `zipf`: only `tools.choice` takes it).
pub(crate) fn parse_dist(v: &Value, path: &str, unit: Unit, file: &str) -> R<Dist> {
    let table = match v {
        Value::Table(t) => t,
        other => {
            return Err(ScenarioError::new(
                file,
                path,
                format!(
                    "expected a distribution table {{ dist = \"...\", ... }}, got {}",
                    type_name(other)
                ),
            ));
        }
    };
    let kind = match table.get("dist") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(ScenarioError::new(
                file,
                &join(path, "dist"),
                format!(
                    "expected a string naming the distribution, got {}",
                    type_name(other)
                ),
            ));
        }
        None => {
            return Err(ScenarioError::new(
                file,
                &join(path, "dist"),
                format!("missing: give dist = one of {DIST_NAMES}"),
            ));
        }
    };
    let mut k = DistKeys {
        path: path.to_owned(),
        file,
        unit,
        table,
        used: Vec::new(),
        known: Vec::new(),
    };
    // A unit from another quantity (median_bytes for a duration) is the likely mistake: say so
    // before complaining about the missing key it should have been.
    for key in table.keys() {
        let suffix = ANY_SUFFIX.iter().find(|s| key.ends_with(**s));
        if let Some(suffix) = suffix
            && !suffixes(unit).iter().any(|(s, _)| s == suffix)
        {
            return Err(k.err(key, format!("expected {}", unit.describe())));
        }
    }
    let dist = match kind {
        "lognormal" => {
            let median = k.unit_value("median")?;
            let median = k.required("median", median)?;
            let sigma = k.plain("sigma")?;
            let sigma = k.required("sigma", sigma)?;
            let min = k.unit_value("min")?.unwrap_or(0.0);
            let max = k.unit_value("max")?.unwrap_or(f64::INFINITY);
            if median <= 0.0 {
                return Err(k.err("median", format!("expected a number > 0, got {median}")));
            }
            if !(0.0..=10.0).contains(&sigma) {
                return Err(k.err(
                    "sigma",
                    format!("expected a number in [0, 10], got {sigma}"),
                ));
            }
            check_range(&k, min, max)?;
            Dist::LogNormal {
                median,
                sigma,
                min,
                max,
            }
        }
        "negbin" => {
            if unit != Unit::Count {
                return Err(k.err(
                    "dist",
                    format!("negbin describes counts; expected {}", unit.describe()),
                ));
            }
            let offset = k.plain("offset")?.unwrap_or(0.0);
            let mean = k.plain("mean")?;
            let mean = k.required("mean", mean)?;
            let r = k.plain("r")?;
            let r = k.required("r", r)?;
            let max = k.plain("max")?.unwrap_or(MAX_COUNT as f64);
            for (name, x) in [("offset", offset), ("max", max)] {
                if x < 0.0 || x.fract() != 0.0 || x > MAX_COUNT as f64 {
                    return Err(k.err(
                        name,
                        format!("expected a whole number in [0, {MAX_COUNT}], got {x}"),
                    ));
                }
            }
            if mean < 0.0 || mean > MAX_COUNT as f64 {
                return Err(k.err(
                    "mean",
                    format!("expected a number in [0, {MAX_COUNT}], got {mean}"),
                ));
            }
            if r <= 0.0 {
                return Err(k.err("r", format!("expected a number > 0, got {r}")));
            }
            if max < offset {
                return Err(k.err(
                    "max",
                    format!("expected max >= offset ({offset}), got {max}"),
                ));
            }
            Dist::NegBin {
                offset: offset as u64,
                mean,
                r,
                max: max as u64,
            }
        }
        "categorical" => {
            let (suffix, factor) = suffixes(unit).first().copied().unwrap_or(("", 1.0));
            let mut values = None;
            for (s, f) in suffixes(unit) {
                let key = format!("values{s}");
                k.known.push(key.clone());
                if let Some(v) = table.get(&key) {
                    k.used.push(key.clone());
                    values = Some((key, v, *f));
                }
            }
            k.known.push("weights".to_owned());
            let (vkey, vval, vf) = values.ok_or_else(|| {
                k.err(
                    &format!("values{suffix}"),
                    "missing: give the list of values",
                )
            })?;
            let _ = factor;
            let nums = number_list(&k, &vkey, vval)?;
            let weights = match table.get("weights") {
                Some(w) => {
                    k.used.push("weights".to_owned());
                    number_list(&k, "weights", w)?
                }
                None => vec![1.0; nums.len()],
            };
            if nums.is_empty() || nums.len() > MAX_COUNT as usize {
                return Err(k.err(
                    &vkey,
                    format!("expected 1 to {MAX_COUNT} values, got {}", nums.len()),
                ));
            }
            if weights.len() != nums.len() {
                return Err(k.err(
                    "weights",
                    format!(
                        "expected {} weights (one per value), got {}",
                        nums.len(),
                        weights.len()
                    ),
                ));
            }
            if nums.iter().any(|x| *x < 0.0) {
                return Err(k.err(&vkey, "expected values >= 0"));
            }
            let values: Vec<f64> = nums.iter().map(|x| x * vf).collect();
            Dist::categorical(values, &weights)
                .ok_or_else(|| k.err("weights", "expected weights >= 0 with a positive sum"))?
        }
        "uniform" => {
            let min = k.unit_value("min")?;
            let min = k.required("min", min)?;
            let max = k.unit_value("max")?;
            let max = k.required("max", max)?;
            if min < 0.0 {
                return Err(k.err("min", format!("expected a number >= 0, got {min}")));
            }
            check_range(&k, min, max)?;
            Dist::Uniform { min, max }
        }
        "constant" => {
            let v = k.unit_value("value")?;
            let v = k.required("value", v)?;
            if v < 0.0 {
                return Err(k.err("value", format!("expected a number >= 0, got {v}")));
            }
            Dist::Constant(v)
        }
        "zipf" => {
            return Err(k.err(
                "dist",
                "zipf is a popularity over ranks: only tools.choice takes it",
            ));
        }
        other => {
            return Err(k.err(
                "dist",
                format!("unknown dist {other:?}: one of {DIST_NAMES}"),
            ));
        }
    };
    k.finish(kind)?;
    Ok(dist)
}

fn check_range(k: &DistKeys<'_>, min: f64, max: f64) -> R<()> {
    if min < 0.0 {
        return Err(k.err("min", format!("expected a number >= 0, got {min}")));
    }
    if max < min {
        return Err(k.err("max", format!("expected max >= min ({min}), got {max}")));
    }
    Ok(())
}

fn number_list(k: &DistKeys<'_>, key: &str, v: &Value) -> R<Vec<f64>> {
    let Value::Array(items) = v else {
        return Err(k.err(
            key,
            format!("expected an array of numbers, got {}", type_name(v)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match as_f64(x) {
            Some(f) if f.is_finite() => Ok(f),
            _ => Err(k.err(
                &format!("{key}[{i}]"),
                format!("expected a number, got {}", type_name(x)),
            )),
        })
        .collect()
}
