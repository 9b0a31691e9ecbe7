//! A request's headers as a short list, in the order they were set.
//!
//! An MCP request carries a handful of headers (content type, accept, the protocol version, the
//! session id, what the caller adds). An `http::HeaderMap` hashes every name, allocates two
//! tables and is dropped again per request, which was a tenth of the load generator's own
//! instructions per request; a list answers "is it set?" by comparing a few names and is
//! written onto the wire by the inline HTTP/1.1 codec as it stands. It becomes a `HeaderMap`
//! only on the paths that hand the request to hyper (TLS, HTTP/2).

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Headers of one request: a name set with [`insert`](Self::insert) replaces what was there,
/// [`append`](Self::append) adds a value beside it (as `HeaderMap` does).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HeaderList(Vec<(HeaderName, HeaderValue)>);

impl HeaderList {
    /// An empty list with room for `n` headers.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Whether a value of `name` is set.
    pub(crate) fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Sets `name` to `value`, replacing its values.
    pub(crate) fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        // Usually the name is new: one comparison pass, no rebuild of the list.
        if self.contains(&name) {
            self.0.retain(|(n, _)| *n != name);
        }
        self.0.push((name, value));
    }

    /// Adds a value of `name` beside the ones already set.
    pub(crate) fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push((name, value));
    }

    /// Sets `name` to `value` unless a value of it is set.
    pub(crate) fn set_default(&mut self, name: HeaderName, value: HeaderValue) {
        if !self.contains(&name) {
            self.0.push((name, value));
        }
    }

    /// The headers, in the order they were set.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// How many values are set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The same headers as a map (for hyper).
    pub(crate) fn into_map(self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.0.len());
        for (n, v) in self.0 {
            map.append(n, v);
        }
        map
    }
}

impl HeaderList {
    /// `shared`, then `own` over them: a name set in `own` replaces the shared values of that
    /// name (as [`RequestBuilder::header`](crate::RequestBuilder::header) replaces), with room
    /// for the `extra` headers the client adds.
    pub(crate) fn merged(shared: Option<&SharedHeaders>, own: Self, extra: usize) -> Self {
        let Some(shared) = shared.filter(|s| !s.0.is_empty()) else {
            let mut own = own;
            own.0.reserve(extra);
            return own;
        };
        let mut list = Self(Vec::with_capacity(shared.0.len() + own.0.len() + extra));
        list.0.extend(
            shared
                .0
                .iter()
                .filter(|(n, _)| !own.contains(n))
                .map(|(n, v)| (n.clone(), v.clone())),
        );
        list.0.extend(own.0);
        list
    }
}

/// Headers that many requests share (a virtual user's `User-Agent` and `Accept`, say), set on
/// a request with [`RequestBuilder::shared_headers`](crate::RequestBuilder::shared_headers)
/// without a copy per request. A header the request sets itself replaces the shared one of
/// that name. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct SharedHeaders(std::sync::Arc<Vec<(HeaderName, HeaderValue)>>);

impl SharedHeaders {
    /// These headers, in this order (a name given twice is sent twice).
    pub fn new(headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>) -> Self {
        Self(std::sync::Arc::new(headers.into_iter().collect()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same set (not merely equal headers): what a session compares to reuse the encoded
    /// headers of its last request.
    pub(crate) fn same(a: Option<&Self>, b: Option<&Self>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

impl From<&HeaderMap> for HeaderList {
    fn from(map: &HeaderMap) -> Self {
        Self(map.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
    }
}

/// A response's headers: a map (hyper's paths), or the head as it arrived (the inline
/// HTTP/1.1 path), turned into a map the first time someone asks. The client itself reads only
/// the content type on most replies, and `Mcp-Session-Id` once per session.
#[derive(Debug)]
pub(crate) struct ResponseHeaders {
    /// The head's bytes, and where its `Content-Type` value lies in them.
    raw: Option<(Bytes, Option<(usize, usize)>)>,
    map: OnceLock<HeaderMap>,
}

impl ResponseHeaders {
    /// Headers that are a map already.
    pub(crate) fn from_map(map: HeaderMap) -> Self {
        Self {
            raw: None,
            map: OnceLock::from(map),
        }
    }

    /// No headers (stdio, legacy HTTP+SSE replies).
    pub(crate) fn empty() -> Self {
        Self::from_map(HeaderMap::new())
    }

    /// A head parsed by the inline codec: `content_type` is where its value lies in `raw`.
    pub(crate) fn from_head(raw: Bytes, content_type: Option<(usize, usize)>) -> Self {
        Self {
            raw: Some((raw, content_type)),
            map: OnceLock::new(),
        }
    }

    /// The headers as a map (built on the first call for a head kept as bytes).
    pub(crate) fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| match &self.raw {
            Some((raw, _)) => crate::h1::header_map(raw),
            None => HeaderMap::new(),
        })
    }

    /// The `Content-Type` value (the first, if several), without building the map.
    pub(crate) fn content_type(&self) -> Option<&[u8]> {
        match &self.raw {
            Some((raw, at)) => at.and_then(|(a, b)| raw.get(a..b)),
            None => self
                .map()
                .get(http::header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ACCEPT, USER_AGENT};

    #[test]
    fn insert_replaces_append_adds_default_yields() {
        let mut h = HeaderList::with_capacity(4);
        h.append(ACCEPT, HeaderValue::from_static("a"));
        h.append(ACCEPT, HeaderValue::from_static("b"));
        h.insert(ACCEPT, HeaderValue::from_static("c"));
        h.set_default(ACCEPT, HeaderValue::from_static("d"));
        h.set_default(USER_AGENT, HeaderValue::from_static("ua"));
        let got: Vec<_> = h
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            got,
            [
                ("accept".into(), "c".into()),
                ("user-agent".into(), "ua".into())
            ]
        );
        assert!(h.contains(&USER_AGENT));
        assert_eq!(h.len(), 2);
        let map = h.clone().into_map();
        assert_eq!(map["accept"], "c");
        assert_eq!(HeaderList::from(&map).len(), 2);
    }

    #[test]
    fn response_headers_from_a_head_or_a_map_agree() {
        let raw = Bytes::from_static(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s1\r\n\r\n",
        );
        let mut buf = bytes::BytesMut::from(&raw[..]);
        let Ok(crate::h1::Parsed::Final(head)) =
            crate::h1::parse_head(&mut buf, &http::Method::POST)
        else {
            panic!("not a head");
        };
        let lazy = ResponseHeaders::from_head(head.raw, head.content_type);
        assert_eq!(lazy.content_type(), Some(&b"text/event-stream"[..]));
        let map = lazy.map().clone();
        assert_eq!(map["mcp-session-id"], "s1");
        let eager = ResponseHeaders::from_map(map);
        assert_eq!(eager.content_type(), lazy.content_type());
        assert!(ResponseHeaders::empty().map().is_empty());
        assert_eq!(ResponseHeaders::empty().content_type(), None);
    }
}
