//! 2026-07-28 `x-mcp-header`: which tool arguments are mirrored into `Mcp-Param-{Name}` request
//! headers, the validation that drops a tool with a bad annotation from the client's view
//! (MCP-DIGEST 3.8), and the value encoding.

use http::{HeaderMap, HeaderName};
use serde_json::Value;

use crate::body::header_value;

/// One mirrored argument: the header and the argument's path from the arguments object.
#[derive(Clone, Debug)]
pub(crate) struct ParamHeader {
    header: HeaderName,
    path: Vec<String>,
}

/// Schema keywords whose values are data, not subschemas: never searched for annotations.
const DATA_KEYWORDS: &[&str] = &["default", "enum", "const", "examples"];

/// The `x-mcp-header` annotations of an input schema, or why the tool must be dropped.
pub(crate) fn param_headers(schema: &Value) -> Result<Vec<ParamHeader>, String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    walk(schema, &mut Vec::new(), true, &mut out, &mut seen)?;
    Ok(out)
}

fn walk(
    node: &Value,
    path: &mut Vec<String>,
    pure: bool,
    out: &mut Vec<ParamHeader>,
    seen: &mut Vec<String>,
) -> Result<(), String> {
    let obj = match node {
        Value::Object(o) => o,
        Value::Array(items) => {
            for item in items {
                walk(item, path, false, out, seen)?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if let Some(h) = obj.get("x-mcp-header") {
        if !pure || path.is_empty() {
            return Err("x-mcp-header outside a property reachable through `properties`".into());
        }
        let name = h.as_str().ok_or("x-mcp-header is not a string")?;
        if name.is_empty() {
            return Err("empty x-mcp-header".into());
        }
        if !name.bytes().all(is_tchar) {
            return Err(format!("x-mcp-header {name:?} is not an RFC 9110 token"));
        }
        if !matches!(
            obj.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "boolean")
        ) {
            return Err(format!("x-mcp-header {name:?} on a non-primitive property"));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(format!("x-mcp-header {name:?} is not unique"));
        }
        seen.push(lower);
        let header = HeaderName::from_bytes(format!("mcp-param-{name}").as_bytes())
            .map_err(|e| e.to_string())?;
        out.push(ParamHeader {
            header,
            path: path.clone(),
        });
    }
    for (k, v) in obj {
        if k == "x-mcp-header" || DATA_KEYWORDS.contains(&k.as_str()) {
            continue;
        }
        if k == "properties"
            && let Some(props) = v.as_object()
        {
            for (pk, pv) in props {
                path.push(pk.clone());
                walk(pv, path, pure, out, seen)?;
                path.pop();
            }
        } else {
            walk(v, path, false, out, seen)?;
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The `Mcp-Param-*` headers for these arguments (absent and `null` arguments send nothing).
pub(crate) fn headers_for(params: &[ParamHeader], args: &Value) -> HeaderMap {
    let mut h = HeaderMap::new();
    for p in params {
        let mut v = args;
        for key in &p.path {
            v = &v[key.as_str()];
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            // Integers in decimal; `42.0` is the integer 42.
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                    format!("{f:.0}")
                }
                _ => n.to_string(),
            },
            _ => continue,
        };
        if let Ok(value) = header_value(&text) {
            h.insert(p.header.clone(), value);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn annotations_and_values() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "n": {"type": "integer", "x-mcp-header": "N"},
            "nested": {"type": "object", "properties": {"flag": {"type": "boolean", "x-mcp-header": "Flag"}}},
            "plain": {"type": "string", "default": {"x-mcp-header": "ignored"}}
        }});
        let p = param_headers(&schema).unwrap();
        assert_eq!(p.len(), 3);
        let h = headers_for(
            &p,
            &json!({"region": "Hello, 世界", "n": 42.0, "nested": {"flag": false}}),
        );
        assert_eq!(h["mcp-param-region"], "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(h["mcp-param-n"], "42");
        assert_eq!(h["mcp-param-flag"], "false");
        let h = headers_for(&p, &json!({"region": null}));
        assert!(h.is_empty());
    }

    #[test]
    fn invalid_annotations_drop_the_tool() {
        for bad in [
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A"},
                                  "b": {"type": "string", "x-mcp-header": "a"}}}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            json!({"x-mcp-header": "Root", "type": "string"}),
        ] {
            assert!(param_headers(&bad).is_err(), "{bad}");
        }
    }
}
