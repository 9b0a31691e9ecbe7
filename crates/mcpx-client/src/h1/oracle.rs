//! The head parser held to httparse, its oracle: [`head::parse`] against httparse's default
//! `parse_response`, and [`parse_head`] against the httparse-based `parse_head` it replaced
//! (kept here verbatim in substance), on generated and mutated heads, whole and cut at every
//! byte, and on a fixed corpus of awkward heads.

use super::*;
use proptest::prelude::*;

/// What a parser made of a buffer, in terms both parsers share.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Partial,
    Invalid(&'static str),
    Complete {
        len: usize,
        code: u16,
        minor: u8,
        spans: Vec<head::Span>,
    },
}

fn ours(buf: &[u8], max_headers: usize) -> Outcome {
    let mut spans = Vec::new();
    let parsed = head::parse(buf, max_headers, |name, s| {
        // The name the parser tells is the name the bytes spell.
        let bytes = &buf[s.name.0..s.name.1];
        let spelled = [
            (&b"content-type"[..], head::Name::ContentType),
            (b"content-length", head::Name::ContentLength),
            (b"transfer-encoding", head::Name::TransferEncoding),
            (b"connection", head::Name::Connection),
        ]
        .into_iter()
        .find(|(n, _)| bytes.eq_ignore_ascii_case(n))
        .map_or(head::Name::Other, |(_, name)| name);
        assert_eq!(name, spelled, "{:?}", String::from_utf8_lossy(bytes));
        spans.push(s);
    });
    match parsed {
        Ok(None) => Outcome::Partial,
        Err(e) => Outcome::Invalid(e.reason()),
        Ok(Some(done)) => {
            assert_eq!(done.count, spans.len());
            Outcome::Complete {
                len: done.len,
                code: done.code,
                minor: done.minor,
                spans,
            }
        }
    }
}

fn httparse_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

fn oracle(buf: &[u8], max_headers: usize) -> Outcome {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(buf) {
        Ok(httparse::Status::Partial) => Outcome::Partial,
        Err(e) => Outcome::Invalid(httparse_error(e)),
        Ok(httparse::Status::Complete(len)) => {
            let base = buf.as_ptr() as usize;
            let at = |part: &[u8]| {
                let start = part.as_ptr() as usize - base;
                (start, start + part.len())
            };
            Outcome::Complete {
                len,
                code: resp.code.unwrap_or(0),
                minor: resp.version.unwrap_or(9),
                spans: resp
                    .headers
                    .iter()
                    .map(|h| head::Span {
                        name: at(h.name.as_bytes()),
                        value: at(h.value),
                    })
                    .collect(),
            }
        }
    }
}

/// The `parse_head` this module's parser replaced: httparse, then the old framing rules.
fn reference_parse_head(buf: &mut BytesMut, method: &Method) -> Result<Parsed, CodecError> {
    if buf.is_empty() {
        return Ok(Parsed::Partial);
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(CodecError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(CodecError::HeadTooLarge),
        Err(e) => return Err(CodecError::Head(httparse_error(e))),
    };
    let base = buf.as_ptr() as usize;
    let (mut close, mut keep_alive_token) = (false, false);
    let (mut chunked, mut length, mut content_type) = (None, None::<u64>, None);
    for h in resp.headers.iter() {
        let (name, value) = (h.name.as_bytes(), h.value);
        let at = (
            value.as_ptr() as usize - base,
            value.as_ptr() as usize - base + value.len(),
        );
        if name.eq_ignore_ascii_case(b"content-type") {
            content_type.get_or_insert(at);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let n =
                    mcpx_wire::parse_decimal(part.trim_ascii()).ok_or(CodecError::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(CodecError::ContentLength);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value
                .rsplit(|&b| b == b',')
                .next()
                .map(<[u8]>::trim_ascii)
                .unwrap_or_default();
            chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let (code, minor) = (resp.code.unwrap_or(0), resp.version.unwrap_or(1));
    if len > MAX_HEAD_BYTES {
        return Err(CodecError::HeadTooLarge);
    }
    let status = StatusCode::from_u16(code).map_err(|_| CodecError::Status(code))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(CodecError::Status(code));
    }
    let raw = buf.split_to(len).freeze();
    if status.is_informational() {
        return Ok(Parsed::Interim);
    }
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let no_body = *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let (body, reusable_framing) = match (no_body, chunked, length) {
        (true, _, _) => (BodyKind::Empty, true),
        (false, Some(true), l) => (BodyKind::Chunked, l.is_none()),
        (false, Some(false), _) => (BodyKind::Close, false),
        (false, None, Some(0)) => (BodyKind::Empty, true),
        (false, None, Some(n)) => (BodyKind::Length(n), true),
        (false, None, None) => (BodyKind::Close, false),
    };
    let keep_alive =
        reusable_framing && !close && (version == Version::HTTP_11 || keep_alive_token);
    Ok(Parsed::Final(Head {
        status,
        version,
        raw,
        content_type,
        body,
        keep_alive,
    }))
}

/// `parse_head` and the reference on the same bytes: the same result, the same bytes left.
fn same_parse_head(bytes: &[u8], method: &Method) -> Result<(), String> {
    let (mut a, mut b) = (BytesMut::from(bytes), BytesMut::from(bytes));
    let (got, want) = (
        parse_head(&mut a, method),
        reference_parse_head(&mut b, method),
    );
    let same = match (&got, &want) {
        (Ok(Parsed::Partial), Ok(Parsed::Partial)) | (Ok(Parsed::Interim), Ok(Parsed::Interim)) => {
            true
        }
        (Ok(Parsed::Final(x)), Ok(Parsed::Final(y))) => {
            (
                x.status,
                x.version,
                &x.raw,
                x.content_type,
                x.body,
                x.keep_alive,
            ) == (
                y.status,
                y.version,
                &y.raw,
                y.content_type,
                y.body,
                y.keep_alive,
            )
        }
        (Err(x), Err(y)) => x == y,
        _ => false,
    };
    if same && a == b {
        Ok(())
    } else {
        Err(format!(
            "{:?} ({method}): {got:?} but the reference gives {want:?}",
            String::from_utf8_lossy(bytes)
        ))
    }
}

/// Both checks on `bytes` and on every prefix of it.
fn check_all_prefixes(bytes: &[u8]) -> Result<(), String> {
    for cut in 0..=bytes.len() {
        let part = &bytes[..cut];
        for max in [MAX_HEADERS, 2] {
            let (got, want) = (ours(part, max), oracle(part, max));
            if got != want {
                return Err(format!(
                    "{:?} (max {max}): {got:?} but httparse gives {want:?}",
                    String::from_utf8_lossy(part)
                ));
            }
        }
        same_parse_head(part, &Method::POST)?;
    }
    same_parse_head(bytes, &Method::HEAD)
}

/// Heads that have tripped parsers: each is checked whole and cut at every byte.
const CORPUS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 78\r\ndate: Fri, 27 Nov 2026 01:38:19 GMT\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nMcp-Session-Id: abc\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"\r\n\nHTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 2\n\nok",
    b"HTTP/1.1 200\r\n\r\n",
    b"HTTP/1.1 200 \r\n\r\n",
    b"HTTP/1.1 200\n\n",
    b"HTTP/1.1 999 \t\x80\xff weird\r\n\r\n",
    b"HTTP/1.1 099 Low\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx:\r\ny: \t \r\nz:\t v \t\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: a\x7fb\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: a\x00b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: a\rb\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx : a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n x: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx\x80y: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09AZaz: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx-\xc3\xa9: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: caf\xc3\xa9\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\rx\r\n",
    b"HTTP/1.1 200 OK\r\nx: y\r\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nx: y\n\r\r\n",
    b"HTTP/1.2 200 OK\r\n\r\n",
    b"HTTP/2.0 200 OK\r\n\r\n",
    b"http/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1  200 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 20x OK\r\n\r\n",
    b"HTTP/1.1\t200 OK\r\n\r\n",
    b"\r\rHTTP/1.1 200 OK\r\n\r\n",
    b"\n\r\n\r",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nCONTENT-LENGTH: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Lengthx: 3\r\nContent-Typ: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip , CHUNKED \r\ncontent-length: 4\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\ncontent-length: 0\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\ncontent-length: 12\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: x\r\nbad line\r\n\r\n",
];

#[test]
fn corpus_agrees_with_httparse_at_every_cut() {
    for head in CORPUS {
        if let Err(why) = check_all_prefixes(head) {
            panic!("{why}");
        }
    }
}

/// Bytes that matter to the grammar, more often than chance would pick them.
const SPECIAL: &[u8] = b"\x00\t\n\r :\"(),/;=@[]{}\x7f\x80\xffaAzZ-_09H/.1";

fn special_byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => proptest::sample::select(SPECIAL), 1 => any::<u8>()]
}

fn piece(options: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(options).prop_map(<[u8]>::to_vec)
}

const TOKEN_BYTES: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn header_line() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        piece(&[
            b"content-type",
            b"Content-Type",
            b"content-length",
            b"CONTENT-LENGTH",
            b"transfer-encoding",
            b"Transfer-Encoding",
            b"connection",
            b"Connection",
            b"date",
            b"mcp-session-id",
            b"cache-control",
        ]),
        proptest::collection::vec(proptest::sample::select(TOKEN_BYTES), 1..24),
        (
            piece(&[
                b"content-type",
                b"content-length",
                b"transfer-encoding",
                b"connection"
            ]),
            any::<u32>()
        )
            .prop_map(|(name, cases)| name
                .iter()
                .enumerate()
                .map(|(i, &b)| if cases >> (i % 32) & 1 == 1 {
                    b.to_ascii_uppercase()
                } else {
                    b
                })
                .collect()),
    ];
    let separator = piece(&[b": ", b":", b":\t", b":  ", b": \t "]);
    let value = prop_oneof![
        piece(&[
            b"application/json",
            b"text/event-stream",
            b"78",
            b"0",
            b"3, 3",
            b"1, 2",
            b" 5 ",
            b"chunked",
            b"gzip, Chunked",
            b"gzip",
            b"close",
            b"keep-alive",
            b"Keep-Alive, close",
            b"Fri, 27 Nov 2026 01:38:19 GMT",
            b"",
        ]),
        proptest::collection::vec(prop_oneof![4 => 0x20u8..0x7f, 1 => special_byte()], 0..40),
    ];
    let eol = prop_oneof![
        8 => piece(&[b"\r\n"]),
        2 => piece(&[b"\n"]),
        1 => piece(&[b"\r", b" \r\n", b"\t\n"]),
    ];
    (name, separator, value, eol).prop_map(|(n, s, v, e)| [n, s, v, e].concat())
}

fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![
        piece(&[
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 202 Accepted\r\n",
            b"HTTP/1.0 200 OK\n",
            b"HTTP/1.1 204 No Content\r\n",
            b"HTTP/1.1 100 Continue\r\n",
            b"HTTP/1.1 101 Switching\r\n",
            b"HTTP/1.1 404\r\n",
            b"\r\nHTTP/1.1 500 Oops \r\n",
        ]),
        (0u16..1000, proptest::collection::vec(special_byte(), 0..12)).prop_map(
            |(code, reason)| {
                [format!("HTTP/1.1 {code:03} ").as_bytes(), &reason, b"\r\n"].concat()
            }
        ),
    ];
    let headers = proptest::collection::vec(header_line(), 0..6);
    let end = piece(&[b"\r\n", b"\n", b"\r\nbody", b""]);
    (status, headers, end).prop_map(|(s, h, e)| [s, h.concat(), e].concat())
}

/// One edit to a head: a byte inserted, removed or replaced at a position (taken modulo the
/// length).
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, u8),
    Remove(usize),
    Replace(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), special_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), special_byte()).prop_map(|(i, b)| Edit::Replace(i, b)),
    ]
}

fn apply(mut head: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = head.len();
        match *e {
            Edit::Insert(i, b) => head.insert(i % (n + 1), b),
            Edit::Remove(i) if n > 0 => {
                head.remove(i % n);
            }
            Edit::Replace(i, b) if n > 0 => head[i % n] = b,
            _ => {}
        }
    }
    head
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Well-formed and nearly well-formed heads: the same verdict, length, status and spans
    /// as httparse, whole and at every cut; `parse_head` as the httparse-based one.
    #[test]
    fn agrees_with_httparse(
        head in head_bytes(),
        edits in proptest::collection::vec(edit(), 0..3),
    ) {
        let head = apply(head, &edits);
        if let Err(why) = check_all_prefixes(&head) {
            prop_assert!(false, "{}", why);
        }
    }

    /// Arbitrary bytes after a valid status line, and arbitrary bytes alone.
    #[test]
    fn agrees_with_httparse_on_noise(noise in proptest::collection::vec(special_byte(), 0..80)) {
        let head = [&b"HTTP/1.1 200 OK\r\n"[..], &noise].concat();
        if let Err(why) = check_all_prefixes(&head) {
            prop_assert!(false, "{}", why);
        }
        if let Err(why) = check_all_prefixes(&noise) {
            prop_assert!(false, "{}", why);
        }
    }
}

/// Past the bound on headers and on the head's size, as httparse and the old codec.
#[test]
fn bounds_agree() {
    for n in [MAX_HEADERS - 1, MAX_HEADERS, MAX_HEADERS + 1] {
        let head = [&b"HTTP/1.1 200 OK\r\n"[..], &b"x: y\r\n".repeat(n), b"\r\n"].concat();
        assert_eq!(ours(&head, MAX_HEADERS), oracle(&head, MAX_HEADERS), "{n}");
        same_parse_head(&head, &Method::POST).unwrap();
        // The header over the bound not yet complete: still pending.
        let cut = head.len() - 4;
        assert_eq!(
            ours(&head[..cut], MAX_HEADERS),
            oracle(&head[..cut], MAX_HEADERS)
        );
        same_parse_head(&head[..cut], &Method::POST).unwrap();
    }
    let long_value = [
        &b"HTTP/1.1 200 OK\r\nx: "[..],
        &vec![b'a'; MAX_HEAD_BYTES],
        b"\r\n\r\n",
    ]
    .concat();
    for cut in [MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1, long_value.len()] {
        same_parse_head(&long_value[..cut], &Method::POST).unwrap();
    }
    let many_blank_lines = [
        &b"\n".repeat(MAX_HEAD_BYTES + 1)[..],
        b"HTTP/1.1 200 OK\r\n\r\n",
    ]
    .concat();
    same_parse_head(&many_blank_lines, &Method::POST).unwrap();
    let blank_lines_then_head =
        [&b"\r\n".repeat(300)[..], b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n"].concat();
    let mut buf = BytesMut::from(&blank_lines_then_head[..]);
    let Ok(Parsed::Final(h)) = parse_head(&mut buf, &Method::POST) else {
        panic!()
    };
    assert_eq!(header_map(&h.raw)["x"], "y");
}
