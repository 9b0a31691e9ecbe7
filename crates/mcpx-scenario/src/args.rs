//! Tool arguments from a JSON Schema: valid values for the subset of JSON Schema real tools use,
//! padded to a drawn size.
//!
//! Supported: `type` (one or a list), `const`, `enum`, `properties` + `required` (optional ones
//! kept with `optional_p`), `additionalProperties` (never generated), string `format`s `date`,
//! `date-time`, `email`, `uri`, `uuid`, `minLength`/`maxLength`, `minimum`/`maximum` and their
//! exclusive forms, `multipleOf` (integers), arrays with `items`, `minItems`/`maxItems`,
//! `anyOf`/`oneOf` (first branch), `allOf` (first branch). `$ref`, `pattern` and
//! `not` are not followed: such a schema yields a value valid against the rest.

use crate::limits::{MAX_ARGS_BYTES, MAX_ARRAY_ITEMS, MAX_GENERATED_NODES, MAX_SCHEMA_DEPTH};
use serde_json::{Map, Value as Json};

use crate::rng::Rng;

const WORDS: [&str; 16] = [
    "alpha",
    "report",
    "quarterly",
    "notes",
    "budget",
    "team",
    "draft",
    "review",
    "status",
    "project",
    "launch",
    "metrics",
    "invoice",
    "roadmap",
    "summary",
    "customer",
];

/// Generates arguments valid against `schema` (an object schema for `tools/call`), with each
/// optional property present with probability `optional_p`, then pads the longest free-form
/// string so the serialised arguments reach `target_bytes` (when the schema has such a string).
///
/// Returns the arguments serialised as compact JSON.
pub fn generate_arguments(
    schema: &Json,
    optional_p: f64,
    target_bytes: usize,
    rng: &mut Rng,
) -> String {
    let mut value = generate_value(schema, optional_p, rng);
    if !value.is_object() && schema.get("type").is_none_or(|t| t == "object") {
        value = Json::Object(Map::new());
    }
    pad_to(&mut value, schema, target_bytes.min(MAX_ARGS_BYTES));
    serde_json::to_string(&value).unwrap_or_else(|_| "{}".to_owned())
}

/// A value valid against `schema` (no padding).
pub fn generate_value(schema: &Json, optional_p: f64, rng: &mut Rng) -> Json {
    let mut budget = MAX_GENERATED_NODES;
    generate(schema, optional_p, rng, 0, &mut budget)
}

fn generate(
    schema: &Json,
    optional_p: f64,
    rng: &mut Rng,
    depth: usize,
    budget: &mut usize,
) -> Json {
    if *budget == 0 {
        return Json::Null;
    }
    *budget -= 1;
    if depth > MAX_SCHEMA_DEPTH {
        return Json::Null;
    }
    let Some(obj) = schema.as_object() else {
        return Json::Null; // `true` / `{}`-like: anything goes; null is valid.
    };
    if let Some(c) = obj.get("const") {
        return c.clone();
    }
    if let Some(Json::Array(options)) = obj.get("enum")
        && !options.is_empty()
    {
        let i = rng.below(options.len() as u64) as usize;
        return options.get(i).cloned().unwrap_or(Json::Null);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Json::Array(branches)) = obj.get(key)
            && let Some(first) = branches.first()
        {
            return generate(first, optional_p, rng, depth + 1, budget);
        }
    }
    match schema_type(obj) {
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = obj
                .get("required")
                .and_then(Json::as_array)
                .map(|r| r.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            if let Some(Json::Object(props)) = obj.get("properties") {
                for (name, sub) in props {
                    if required.contains(&name.as_str()) || rng.bernoulli(optional_p) {
                        out.insert(
                            name.clone(),
                            generate(sub, optional_p, rng, depth + 1, budget),
                        );
                    }
                }
            }
            // A required name without a property schema still has to be present.
            for name in required {
                if !out.contains_key(name) {
                    out.insert(name.to_owned(), Json::String(word(rng).to_owned()));
                }
            }
            Json::Object(out)
        }
        "array" => {
            let min = uint(obj, "minItems").unwrap_or(0).min(MAX_ARRAY_ITEMS);
            let max = uint(obj, "maxItems")
                .unwrap_or(min.max(3))
                .clamp(min, MAX_ARRAY_ITEMS);
            let n = min + rng.below((max - min + 1) as u64) as usize;
            let items = obj.get("items").cloned().unwrap_or(Json::Bool(true));
            let unique = obj.get("uniqueItems") == Some(&Json::Bool(true));
            let mut out: Vec<Json> = Vec::with_capacity(n);
            for i in 0..n {
                if *budget == 0 {
                    break;
                }
                let mut v = generate(&items, optional_p, rng, depth + 1, budget);
                if unique && out.contains(&v) {
                    if let Json::String(s) = &mut v {
                        s.push_str(&i.to_string());
                    }
                    if out.contains(&v) {
                        continue;
                    }
                }
                out.push(v);
            }
            Json::Array(out)
        }
        "string" => Json::String(string(obj, rng)),
        "integer" => Json::from(integer(obj, rng)),
        "number" => {
            let (lo, hi) = bounds(obj);
            let x = rng.uniform(lo, hi);
            serde_json::Number::from_f64(x).map_or(Json::from(0), Json::Number)
        }
        "boolean" => Json::Bool(rng.bernoulli(0.5)),
        _ => Json::Null,
    }
}

fn schema_type(obj: &Map<String, Json>) -> &str {
    match obj.get("type") {
        Some(Json::String(t)) => t,
        Some(Json::Array(ts)) => ts
            .iter()
            .filter_map(Json::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ if obj.contains_key("items") => "array",
        _ => "null",
    }
}

fn uint(obj: &Map<String, Json>, key: &str) -> Option<usize> {
    obj.get(key)
        .and_then(Json::as_u64)
        .map(|v| v.min(u64::from(u32::MAX)) as usize)
}

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize % WORDS.len()]
}

fn string(obj: &Map<String, Json>, rng: &mut Rng) -> String {
    // A minLength beyond the argument bound is not worth honouring (and would allocate it).
    let min = uint(obj, "minLength").unwrap_or(0).min(MAX_ARGS_BYTES);
    let max = uint(obj, "maxLength").unwrap_or(usize::MAX).max(min);
    let formatted = match obj.get("format").and_then(Json::as_str) {
        Some("date") => Some(format!(
            "2026-{:02}-{:02}",
            1 + rng.below(12),
            1 + rng.below(28)
        )),
        Some("date-time") => Some(format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        )),
        Some("email") => Some(format!("{}{}@example.com", word(rng), rng.below(1000))),
        Some("uri") | Some("url") => Some(format!(
            "https://example.com/{}/{}",
            word(rng),
            rng.below(100_000)
        )),
        Some("uuid") => {
            let mut s = String::with_capacity(36);
            for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
                if i > 0 {
                    s.push('-');
                }
                rng.hex(n, &mut s);
            }
            Some(s)
        }
        _ => None,
    };
    if let Some(s) = formatted
        && (min..=max).contains(&s.chars().count())
    {
        return s;
    }
    let mut s = String::new();
    let goal = (3 + rng.below(10) as usize).clamp(min, max.min(min.max(3) + 64));
    while s.len() < goal {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(word(rng));
    }
    fit_length(&mut s, min, max);
    s
}

/// Truncates or extends an ASCII string to `[min, max]` characters.
fn fit_length(s: &mut String, min: usize, max: usize) {
    if s.len() > max {
        s.truncate(max);
    }
    while s.len() < min {
        s.push('x');
    }
}

fn bounds(obj: &Map<String, Json>) -> (f64, f64) {
    let num = |k: &str| obj.get(k).and_then(Json::as_f64);
    let lo = num("minimum").or(num("exclusiveMinimum")).unwrap_or(0.0);
    let hi = num("maximum")
        .or(num("exclusiveMaximum"))
        .unwrap_or(lo.max(0.0) + 100.0)
        .max(lo);
    (lo, hi)
}

fn integer(obj: &Map<String, Json>, rng: &mut Rng) -> i64 {
    let num = |k: &str| obj.get(k).and_then(Json::as_f64);
    let mut lo = num("minimum").map_or(0.0, f64::ceil);
    if let Some(x) = num("exclusiveMinimum") {
        lo = lo.max(x.floor() + 1.0);
    }
    let mut hi = num("maximum").map_or(lo.max(0.0) + 100.0, f64::floor);
    if let Some(x) = num("exclusiveMaximum") {
        hi = hi.min(x.ceil() - 1.0);
    }
    // Keep within the range where i64 and f64 agree exactly; i128 arithmetic cannot overflow.
    let lo = lo.clamp(-9e15, 9e15) as i128;
    let hi = (hi.clamp(-9e15, 9e15) as i128).max(lo);
    let step = i128::from(
        obj.get("multipleOf")
            .and_then(Json::as_i64)
            .filter(|m| *m > 0)
            .unwrap_or(1),
    );
    let first = lo.div_euclid(step) * step + if lo.rem_euclid(step) == 0 { 0 } else { step };
    if first > hi {
        return lo as i64;
    }
    let count = u64::try_from((hi - first) / step + 1).unwrap_or(u64::MAX);
    (first + i128::from(rng.below(count)) * step) as i64
}

/// A path to a string inside the generated value, and its schema's `maxLength`.
struct Paddable {
    path: Vec<PathSeg>,
    len: usize,
    max: usize,
}

#[derive(Clone)]
enum PathSeg {
    Key(String),
    Index(usize),
}

/// Collects free-form strings (no `format`, `enum`, `const`, `pattern`) reachable through
/// `properties` and `items`.
fn collect(
    value: &Json,
    schema: &Json,
    path: &mut Vec<PathSeg>,
    out: &mut Vec<Paddable>,
    depth: usize,
) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    let schema = ["anyOf", "oneOf", "allOf"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Json::as_array).and_then(|b| b.first()))
        .unwrap_or(schema);
    let Some(obj) = schema.as_object() else {
        return;
    };
    match value {
        Json::String(s) => {
            let free = !["format", "enum", "const", "pattern"]
                .iter()
                .any(|k| obj.contains_key(*k));
            if free {
                out.push(Paddable {
                    path: path.clone(),
                    len: s.len(),
                    max: uint(obj, "maxLength").unwrap_or(usize::MAX),
                });
            }
        }
        Json::Object(map) => {
            if let Some(Json::Object(props)) = obj.get("properties") {
                for (k, v) in map {
                    if let Some(sub) = props.get(k) {
                        path.push(PathSeg::Key(k.clone()));
                        collect(v, sub, path, out, depth + 1);
                        path.pop();
                    }
                }
            }
        }
        Json::Array(items) => {
            if obj.get("uniqueItems") == Some(&Json::Bool(true)) {
                return; // padding one item could make two equal
            }
            if let Some(sub) = obj.get("items") {
                for (i, v) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    collect(v, sub, path, out, depth + 1);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

fn at_path<'v>(value: &'v mut Json, path: &[PathSeg]) -> Option<&'v mut Json> {
    let mut cur = value;
    for seg in path {
        cur = match seg {
            PathSeg::Key(k) => cur.get_mut(k.as_str())?,
            PathSeg::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Adds one absent top-level property that can hold free text, if the schema has one.
fn add_paddable(value: &mut Json, schema: &Json) {
    let Some(props) = schema.get("properties").and_then(Json::as_object) else {
        return;
    };
    let Some(map) = value.as_object_mut() else {
        return;
    };
    let free = |s: &Json| {
        s.get("type").and_then(Json::as_str) == Some("string")
            && !["format", "enum", "const", "pattern"]
                .iter()
                .any(|k| s.get(*k).is_some())
            && s.get("maxLength")
                .and_then(Json::as_u64)
                .is_none_or(|m| m > 0)
    };
    for (name, sub) in props {
        if map.contains_key(name) {
            continue;
        }
        if free(sub) {
            let min = sub.get("minLength").and_then(Json::as_u64).unwrap_or(0) as usize;
            map.insert(
                name.clone(),
                Json::String("x".repeat(min.min(MAX_ARGS_BYTES))),
            );
            return;
        }
        let array_of_free = sub.get("type").and_then(Json::as_str) == Some("array")
            && sub.get("items").is_some_and(free)
            && sub
                .get("maxItems")
                .and_then(Json::as_u64)
                .is_none_or(|m| m > 0)
            && sub.get("uniqueItems") != Some(&Json::Bool(true));
        if array_of_free {
            let min_items = sub
                .get("minItems")
                .and_then(Json::as_u64)
                .unwrap_or(1)
                .max(1) as usize;
            let min_len = sub
                .get("items")
                .and_then(|i| i.get("minLength"))
                .and_then(Json::as_u64)
                .unwrap_or(0) as usize;
            let item = Json::String("x".repeat(min_len.min(MAX_ARGS_BYTES)));
            map.insert(
                name.clone(),
                Json::Array(vec![item; min_items.min(MAX_ARRAY_ITEMS)]),
            );
            return;
        }
    }
}

/// Pads the longest free-form string so the serialised value reaches `target` bytes.
fn pad_to(value: &mut Json, schema: &Json, target: usize) {
    let size = serde_json::to_string(value).map_or(0, |s| s.len());
    if size >= target {
        return;
    }
    let mut found = Vec::new();
    collect(value, schema, &mut Vec::new(), &mut found, 0);
    if !found.iter().any(|p| p.len < p.max) {
        // Nothing to pad among the chosen properties: add an optional top-level one that can
        // carry the bytes (a free-form string, or an array of them), as a model writing a
        // longer request would.
        add_paddable(value, schema);
        found.clear();
        collect(value, schema, &mut Vec::new(), &mut found, 0);
    }
    let size = serde_json::to_string(value).map_or(0, |s| s.len());
    if size >= target {
        return;
    }
    let Some(best) = found
        .into_iter()
        .filter(|p| p.len < p.max)
        .max_by_key(|p| p.len)
    else {
        return;
    };
    let add = (target - size).min(best.max - best.len);
    if let Some(Json::String(s)) = at_path(value, &best.path) {
        // Lower-case letters and spaces: one byte each, never escaped in JSON.
        const FILL: &[u8] = b"lorem ipsum dolor sit amet consectetur adipiscing elit ";
        s.reserve(add);
        for i in 0..add {
            s.push(char::from(FILL[i % FILL.len()]));
        }
    }
}

/// Checks `value` against `schema` for the subset [`generate_value`] understands; `Err` names
/// the first violation. Used by the tests and by `mcpx load --dry-run` to vet fixed arguments.
///
/// # Errors
/// The path and rule of the first violation.
pub fn validate(schema: &Json, value: &Json) -> Result<(), String> {
    check(schema, value, "$", 0)
}

fn check(schema: &Json, value: &Json, at: &str, depth: usize) -> Result<(), String> {
    let Some(obj) = schema.as_object() else {
        return Ok(());
    };
    if depth > MAX_SCHEMA_DEPTH {
        return Ok(());
    }
    if let Some(c) = obj.get("const") {
        return if c == value {
            Ok(())
        } else {
            Err(format!("{at}: expected const {c}"))
        };
    }
    if let Some(Json::Array(options)) = obj.get("enum") {
        return if options.contains(value) {
            Ok(())
        } else {
            Err(format!("{at}: not in enum"))
        };
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Json::Array(branches)) = obj.get(key)
            && let Some(first) = branches.first()
        {
            return check(first, value, at, depth + 1);
        }
    }
    let ty = schema_type(obj);
    let ok_type = match (ty, value) {
        ("object", Json::Object(_)) | ("array", Json::Array(_)) | ("string", Json::String(_)) => {
            true
        }
        ("boolean", Json::Bool(_)) | ("null", _) => true,
        ("integer", Json::Number(n)) => n.is_i64() || n.is_u64(),
        ("number", Json::Number(_)) => true,
        _ => false,
    };
    if !ok_type {
        return Err(format!("{at}: expected {ty}, got {value}"));
    }
    match value {
        Json::Object(map) => {
            if let Some(req) = obj.get("required").and_then(Json::as_array) {
                for r in req.iter().filter_map(Json::as_str) {
                    if !map.contains_key(r) {
                        return Err(format!("{at}: missing required {r}"));
                    }
                }
            }
            let props = obj.get("properties").and_then(Json::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => check(sub, v, &format!("{at}.{k}"), depth + 1)?,
                    None if obj.get("additionalProperties") == Some(&Json::Bool(false)) => {
                        return Err(format!("{at}: additional property {k}"));
                    }
                    None => {}
                }
            }
        }
        Json::Array(items) => {
            if let Some(min) = uint(obj, "minItems")
                && items.len() < min
            {
                return Err(format!("{at}: fewer than {min} items"));
            }
            if let Some(max) = uint(obj, "maxItems")
                && items.len() > max
            {
                return Err(format!("{at}: more than {max} items"));
            }
            if let Some(sub) = obj.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(sub, v, &format!("{at}[{i}]"), depth + 1)?;
                }
            }
        }
        Json::String(s) => {
            let n = s.chars().count();
            if uint(obj, "minLength").is_some_and(|m| n < m)
                || uint(obj, "maxLength").is_some_and(|m| n > m)
            {
                return Err(format!("{at}: length {n} out of bounds"));
            }
            let ok = match obj.get("format").and_then(Json::as_str) {
                Some("date") => s.len() == 10 && s.as_bytes().get(4) == Some(&b'-'),
                Some("date-time") => s.len() >= 20 && s.contains('T'),
                Some("email") => s.contains('@'),
                Some("uri") | Some("url") => s.contains(':'),
                Some("uuid") => s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4,
                _ => true,
            };
            if !ok {
                return Err(format!("{at}: bad format: {s}"));
            }
        }
        Json::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let num = |k: &str| obj.get(k).and_then(Json::as_f64);
            if num("minimum").is_some_and(|m| x < m)
                || num("maximum").is_some_and(|m| x > m)
                || num("exclusiveMinimum").is_some_and(|m| x <= m)
                || num("exclusiveMaximum").is_some_and(|m| x >= m)
            {
                return Err(format!("{at}: {x} out of range"));
            }
            if let (Some(m), Some(i)) = (obj.get("multipleOf").and_then(Json::as_i64), n.as_i64())
                && m > 0
                && i % m != 0
            {
                return Err(format!("{at}: {i} not a multiple of {m}"));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::rng::Rng;

    fn leaf() -> impl Strategy<Value = Json> {
        prop_oneof![
            (0usize..5, 0usize..40).prop_map(
                |(min, extra)| json!({"type": "string", "minLength": min, "maxLength": min + extra})
            ),
            Just(json!({"type": "string"})),
            prop::sample::select(vec!["date", "date-time", "email", "uri", "uuid"])
                .prop_map(|f| json!({"type": "string", "format": f})),
            (-50i64..50, 0i64..100)
                .prop_map(|(lo, w)| json!({"type": "integer", "minimum": lo, "maximum": lo + w})),
            (0i64..10)
                .prop_map(|lo| json!({"type": "integer", "exclusiveMinimum": lo, "multipleOf": 3})),
            Just(json!({"type": "number", "minimum": 0.5, "maximum": 2.5})),
            Just(json!({"type": "boolean"})),
            Just(json!({"enum": ["a", "b", 3]})),
            Just(json!({"const": "fixed"})),
            Just(json!({"type": ["string", "null"]})),
        ]
    }

    fn schema() -> impl Strategy<Value = Json> {
        leaf().prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                (prop::collection::vec(inner.clone(), 1..5), prop::collection::vec(any::<bool>(), 5)).prop_map(|(props, req)| {
                    let mut p = Map::new();
                    let mut r = Vec::new();
                    for (i, s) in props.into_iter().enumerate() {
                        let name = format!("p{i}");
                        if req[i] {
                            r.push(Json::String(name.clone()));
                        }
                        p.insert(name, s);
                    }
                    json!({"type": "object", "properties": p, "required": r, "additionalProperties": false})
                }),
                (inner, 0usize..3, 0usize..4).prop_map(|(items, min, extra)| json!({"type": "array", "items": items, "minItems": min, "maxItems": min + extra})),
            ]
        })
    }

    proptest! {
        #[test]
        fn generated_arguments_validate(s in schema(), seed in any::<u64>(), size in 2usize..5000, p in 0.0f64..=1.0) {
            let root = json!({"type": "object", "properties": {"x": s, "text": {"type": "string"}}, "required": ["x"]});
            let mut rng = Rng::from_seed(seed);
            let args = generate_arguments(&root, p, size, &mut rng);
            let v: Json = serde_json::from_str(&args).unwrap();
            prop_assert!(validate(&root, &v).is_ok(), "{:?} for {}", validate(&root, &v), args);
        }
    }

    #[test]
    fn hostile_schemas_stay_bounded() {
        let mut nested = json!({"type": "string", "minLength": 1_000_000_000_000u64});
        for _ in 0..12 {
            nested = json!({"type": "array", "items": nested, "minItems": 64});
        }
        let schema = json!({"type": "object", "properties": {"x": nested,
            "n": {"type": "integer", "multipleOf": i64::MAX, "minimum": -9e18, "maximum": 9e18}},
            "required": ["x", "n"]});
        let mut rng = Rng::from_seed(1);
        let args = generate_arguments(&schema, 1.0, 10, &mut rng);
        assert!(args.len() < 8 * MAX_GENERATED_NODES, "{}", args.len());
        let weird = json!({"type": "object", "properties": {"s": {"type": "string", "minLength": 5, "maxLength": 2}}});
        let _ = generate_arguments(&weird, 1.0, 100, &mut rng);
        let _ = generate_arguments(&json!(true), 1.0, 100, &mut rng);
        let _ = generate_arguments(&json!({"type": 3}), 1.0, 100, &mut rng);
    }

    #[test]
    fn padding_reaches_the_drawn_size() {
        let schema = json!({"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "id": {"type": "string", "format": "uuid"}}, "required": ["query", "id"]});
        let mut rng = Rng::from_seed(1);
        for target in [80usize, 500, 4096, 65536] {
            let args = generate_arguments(&schema, 0.5, target, &mut rng);
            assert_eq!(args.len(), target, "{args}");
            assert!(validate(&schema, &serde_json::from_str(&args).unwrap()).is_ok());
        }
        // Smaller than the minimum object: left as generated.
        assert!(generate_arguments(&schema, 0.0, 2, &mut rng).len() > 2);
        // maxLength caps the padding.
        let capped = json!({"type": "object", "properties": {"t": {"type": "string", "maxLength": 10}}, "required": ["t"]});
        let args = generate_arguments(&capped, 0.0, 1000, &mut rng);
        assert!(validate(&capped, &serde_json::from_str(&args).unwrap()).is_ok());
    }
}
