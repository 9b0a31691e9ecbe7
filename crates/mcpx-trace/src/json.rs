//! A small span scanner over JSON bytes that are already known to be valid (they came through
//! a [`serde_json::value::RawValue`]): where each object member's value starts and ends, so
//! redaction and id rewriting splice bytes without re-serializing (the rest of the message stays
//! exactly as received, key order and escapes included).

use std::ops::Range;

use crate::limits::MAX_JSON_DEPTH;

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The end of the string starting at `i` (at its opening quote).
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The end of the value starting at `i` (after whitespace).
pub(crate) fn value_end(b: &[u8], i: usize) -> Option<usize> {
    let i = skip_ws(b, i);
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The members of the object spanning `span`: the decoded key and the value's byte range.
/// `None` if `span` is not an object.
pub(crate) fn members(b: &[u8], span: Range<usize>) -> Option<Vec<(String, Range<usize>)>> {
    let mut i = skip_ws(b, span.start);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b'}' => return Some(out),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = string_end(b, i)?;
        let key: String = serde_json::from_slice(b.get(i..kend)?).ok()?;
        i = skip_ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let vstart = skip_ws(b, i + 1);
        let vend = value_end(b, vstart)?;
        out.push((key, vstart..vend));
        i = vend;
        if i > span.end {
            return None;
        }
    }
}

/// The element ranges of the array spanning `span`; `None` if it is not an array.
pub(crate) fn elements(b: &[u8], span: Range<usize>) -> Option<Vec<Range<usize>>> {
    let mut i = skip_ws(b, span.start);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b']' => return Some(out),
            b',' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let end = value_end(b, i)?;
        out.push(i..end);
        i = end;
        if i > span.end {
            return None;
        }
    }
}

/// The byte range of the value at `path` (object keys) inside `b`.
pub(crate) fn find(b: &[u8], path: &[&str]) -> Option<Range<usize>> {
    let mut span = 0..b.len();
    for key in path.iter().take(MAX_JSON_DEPTH) {
        let m = members(b, span)?;
        span = m.into_iter().find(|(k, _)| k == key)?.1;
    }
    Some(span)
}

/// `b` with `edits` (non-overlapping ranges, any order) replaced.
pub(crate) fn splice(b: &[u8], mut edits: Vec<(Range<usize>, Vec<u8>)>) -> Vec<u8> {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(b.len());
    let mut at = 0;
    for (r, with) in edits {
        if r.start < at {
            continue;
        }
        out.extend_from_slice(b.get(at..r.start).unwrap_or_default());
        out.extend_from_slice(&with);
        at = r.end;
    }
    out.extend_from_slice(b.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn spans() {
        let b = br#" {"a" : [1,{"x":"]}"}], "b\"q":"s\\", "c":-1.5e3 ,"d":{}} "#;
        let m = members(b, 0..b.len()).unwrap();
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b\"q", "c", "d"]);
        assert_eq!(&b[m[0].1.clone()], br#"[1,{"x":"]}"}]"#);
        assert_eq!(&b[m[2].1.clone()], b"-1.5e3");
        assert_eq!(&b[find(b, &["d"]).unwrap()], b"{}");
        let out = splice(b, vec![(m[2].1.clone(), b"7".to_vec())]);
        assert!(String::from_utf8(out).unwrap().contains(r#""c":7 ,"#));
    }
}
