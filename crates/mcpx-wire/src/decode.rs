//! [`decode`]: one JSON-RPC message or batch from bytes, fully validated, zero-copy.

use bytes::{Bytes, BytesMut};

use crate::id::JsonStr;
use crate::message::{Body, Span, Str};
use crate::scan::{ScanErr, ScanResult, Scanner, StrToken, check_utf8, integer_value, unescape};
use crate::{DecodeError, DecodeErrorKind, ErrorCode, Member, Message, RequestId, limits};

/// What [`decode`] accepts. Defaults are the `DEFAULT_MAX_*` constants of [`limits`] and no
/// batches.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    max_message_bytes: usize,
    max_depth: usize,
    max_batch_len: usize,
    allow_batch: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_message_bytes: limits::DEFAULT_MAX_MESSAGE_BYTES,
            max_depth: limits::DEFAULT_MAX_DEPTH,
            max_batch_len: limits::DEFAULT_MAX_BATCH_LEN,
            allow_batch: false,
        }
    }
}

impl DecodeOptions {
    /// The defaults: see [`limits`]; batches refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest message in bytes (default
    /// [`DEFAULT_MAX_MESSAGE_BYTES`](limits::DEFAULT_MAX_MESSAGE_BYTES)). Values above
    /// `u32::MAX` are clamped to it: message offsets are 32-bit.
    pub fn max_message_bytes(&mut self, bytes: usize) -> &mut Self {
        self.max_message_bytes = bytes.min(u32::MAX as usize);
        self
    }

    /// Deepest nesting of objects and arrays, the envelope counting as 1 (default
    /// [`DEFAULT_MAX_DEPTH`](limits::DEFAULT_MAX_DEPTH)). Any value is safe: the scanner is
    /// iterative, and past 128 levels it needs one bit of heap per level.
    pub fn max_depth(&mut self, depth: usize) -> &mut Self {
        self.max_depth = depth;
        self
    }

    /// Most members in a batch (default [`DEFAULT_MAX_BATCH_LEN`](limits::DEFAULT_MAX_BATCH_LEN)).
    pub fn max_batch_len(&mut self, len: usize) -> &mut Self {
        self.max_batch_len = len;
        self
    }

    /// (max message bytes, max batch length, batches allowed), for the reference decoder.
    pub(crate) fn limits(&self) -> (usize, usize, bool) {
        (self.max_message_bytes, self.max_batch_len, self.allow_batch)
    }

    /// Whether a JSON array (a batch) is accepted (default `false`). Only protocol 2025-03-26
    /// allows batches; the session layer, which knows the negotiated version, decides.
    pub fn allow_batch(&mut self, allow: bool) -> &mut Self {
        self.allow_batch = allow;
        self
    }
}

/// Decodes everything in `buf` (the transport's read buffer) as one message, leaving `buf` empty
/// and ready for reuse; see [`decode`].
pub fn decode_from(buf: &mut BytesMut, opts: &DecodeOptions) -> Result<Message, DecodeError> {
    decode(buf.split().freeze(), opts)
}

/// Decodes one JSON-RPC message (or batch, if allowed) and validates all of it.
///
/// The result holds `bytes` and offsets into it; nothing is copied, and nothing is allocated
/// unless the method, an id or `error.message` contains escapes, or the input is a batch.
/// O(n) in the input length.
///
/// Errors: -32700 ([`DecodeErrorKind::is_parse_error`]) if `bytes` is not exactly one JSON value;
/// -32600 if it is JSON but not a valid message, with the message's id when it could be read.
/// A parse error anywhere wins over an invalid envelope, as JSON-RPC requires.
pub fn decode(bytes: Bytes, opts: &DecodeOptions) -> Result<Message, DecodeError> {
    if bytes.len() > opts.max_message_bytes {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge {
                limit: opts.max_message_bytes,
            },
            opts.max_message_bytes,
        ));
    }
    if let Err(valid_up_to) = check_utf8(&bytes) {
        return Err(DecodeError::new(DecodeErrorKind::InvalidUtf8, valid_up_to));
    }
    let mut sc = Scanner::new(&bytes, opts.max_depth);
    sc.skip_ws();
    let start = sc.pos();
    let body = match sc.peek() {
        Some(b'{') => {
            let mut env = Envelope::new(sc.pos());
            object(&mut sc, &bytes, 0, &mut env).map_err(from_scan)?;
            end_of_input(&mut sc)?;
            env.take_body()?
        }
        Some(b'[') => batch(&mut sc, &bytes, opts)?,
        _ => {
            sc.skip_value(0).map_err(from_scan)?;
            end_of_input(&mut sc)?;
            return Err(DecodeError::new(DecodeErrorKind::NotAnObject, start));
        }
    };
    Ok(Message::new(bytes, body))
}

fn from_scan(e: ScanErr) -> DecodeError {
    DecodeError::new(e.kind, e.offset)
}

fn end_of_input(sc: &mut Scanner<'_>) -> Result<(), DecodeError> {
    sc.skip_ws();
    if sc.pos() == sc.buf().len() {
        Ok(())
    } else {
        Err(DecodeError::new(
            DecodeErrorKind::TrailingCharacters,
            sc.pos(),
        ))
    }
}

fn batch(sc: &mut Scanner<'_>, bytes: &Bytes, opts: &DecodeOptions) -> Result<Body, DecodeError> {
    let open = sc.pos();
    if opts.max_depth < 1 {
        return Err(DecodeError::new(
            DecodeErrorKind::TooDeep {
                limit: opts.max_depth,
            },
            open,
        ));
    }
    // Past the first byte of '['.
    sc.eat(b'[').map_err(from_scan)?;
    let mut items = Vec::new();
    let mut too_long = false;
    sc.skip_ws();
    if sc.peek() == Some(b']') {
        sc.eat(b']').map_err(from_scan)?;
    } else {
        loop {
            sc.skip_ws();
            let start = sc.pos();
            let item = if sc.peek() == Some(b'{') {
                let mut env = Envelope::new(start);
                object(sc, bytes, 1, &mut env).map_err(from_scan)?;
                let end = sc.pos();
                env.take_body()
                    .map(|body| Message::new(bytes.slice(start..end), body.rebase(start)))
            } else {
                sc.skip_value(1).map_err(from_scan)?;
                Err(DecodeError::new(DecodeErrorKind::NotAnObject, start))
            };
            if items.len() < opts.max_batch_len {
                items.push(item);
            } else {
                too_long = true;
            }
            sc.skip_ws();
            match sc.peek() {
                Some(b',') => sc.eat(b',').map_err(from_scan)?,
                Some(b']') => {
                    sc.eat(b']').map_err(from_scan)?;
                    break;
                }
                _ => return Err(from_scan(sc.unexpected())),
            }
        }
    }
    end_of_input(sc)?;
    if !opts.allow_batch {
        return Err(DecodeError::new(DecodeErrorKind::BatchNotAllowed, open));
    }
    if items.is_empty() {
        return Err(DecodeError::new(DecodeErrorKind::EmptyBatch, open));
    }
    if too_long {
        return Err(DecodeError::new(
            DecodeErrorKind::BatchTooLong {
                limit: opts.max_batch_len,
            },
            open,
        ));
    }
    Ok(Body::Batch(items))
}

/// What the `id` member held.
enum IdSlot {
    Absent,
    Null,
    Valid(RequestId),
    /// Present but unusable (wrong type, fraction, out of range); the problem is recorded.
    Invalid,
}

#[derive(Default)]
struct ErrorObj {
    code: Option<i32>,
    message: Option<Str>,
    data: Option<Span>,
}

/// The envelope members seen while scanning one object, and the first rule it broke.
struct Envelope {
    start: usize,
    jsonrpc: bool,
    id: IdSlot,
    method: Option<Str>,
    params: Option<Span>,
    result: Option<Span>,
    error: Option<ErrorObj>,
    problem: Option<(DecodeErrorKind, usize)>,
    /// Whether the id can be trusted for the error reply (seen once, well-formed).
    id_ambiguous: bool,
}

impl Envelope {
    fn new(start: usize) -> Self {
        Self {
            start,
            jsonrpc: false,
            id: IdSlot::Absent,
            method: None,
            params: None,
            result: None,
            error: None,
            problem: None,
            id_ambiguous: false,
        }
    }

    /// Records a broken rule. The first one wins, except that a duplicate member replaces any
    /// earlier problem: with two values for one name, the other verdicts are guesses.
    fn note(&mut self, kind: DecodeErrorKind, offset: usize) {
        let duplicate = |k: DecodeErrorKind| matches!(k, DecodeErrorKind::DuplicateMember { .. });
        match self.problem {
            None => self.problem = Some((kind, offset)),
            Some((old, _)) if duplicate(kind) && !duplicate(old) => {
                self.problem = Some((kind, offset))
            }
            Some(_) => {}
        }
    }

    fn recovered_id(&self) -> Option<RequestId> {
        match &self.id {
            IdSlot::Valid(id) if !self.id_ambiguous => Some(id.clone()),
            _ => None,
        }
    }

    fn fail(&self, kind: DecodeErrorKind, offset: usize) -> DecodeError {
        DecodeError::new(kind, offset).with_id(self.recovered_id())
    }

    /// Applies the classification rule of MCP-DIGEST 1.1 to the members seen, taking them out.
    ///
    /// By `&mut self`: taking the few-hundred-byte `Envelope` by value cost a memcpy per message.
    fn take_body(&mut self) -> Result<Body, DecodeError> {
        if let Some((kind, offset)) = self.problem {
            return Err(self.fail(kind, offset));
        }
        let start = self.start;
        let recovered = self.recovered_id();
        let fail = |kind| Err(DecodeError::new(kind, start).with_id(recovered.clone()));
        if !self.jsonrpc {
            return fail(DecodeErrorKind::MissingMember {
                member: Member::Jsonrpc,
            });
        }
        match (self.method.take(), self.result, self.error.take()) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                fail(DecodeErrorKind::MethodAndResponse)
            }
            (Some(method), None, None) => match std::mem::replace(&mut self.id, IdSlot::Absent) {
                IdSlot::Absent => Ok(Body::Notification {
                    method,
                    params: self.params,
                }),
                IdSlot::Valid(id) => Ok(Body::Request {
                    id,
                    method,
                    params: self.params,
                }),
                IdSlot::Null | IdSlot::Invalid => fail(DecodeErrorKind::NullId),
            },
            (None, Some(_), Some(_)) => fail(DecodeErrorKind::ResultAndError),
            // `params` on a response is tolerated like any unknown member.
            (None, Some(result), None) => match std::mem::replace(&mut self.id, IdSlot::Absent) {
                IdSlot::Valid(id) => Ok(Body::Response { id, result }),
                IdSlot::Absent => fail(DecodeErrorKind::MissingMember { member: Member::Id }),
                IdSlot::Null | IdSlot::Invalid => fail(DecodeErrorKind::NullId),
            },
            (None, None, Some(err)) => {
                let Some(code) = err.code else {
                    return fail(DecodeErrorKind::MissingMember {
                        member: Member::ErrorCode,
                    });
                };
                let Some(message) = err.message else {
                    return fail(DecodeErrorKind::MissingMember {
                        member: Member::ErrorMessage,
                    });
                };
                Ok(Body::Error {
                    id: recovered.clone(),
                    code: ErrorCode(code),
                    message,
                    data: err.data,
                })
            }
            (None, None, None) => fail(DecodeErrorKind::NotAMessage),
        }
    }
}

/// The name of an envelope member; escaped keys are decoded first (rare).
#[inline]
fn member_of(buf: &[u8], key: StrToken, names: fn(&[u8]) -> Member) -> Member {
    let contents = key.contents(buf);
    if key.escaped {
        names(unescape(contents).as_bytes())
    } else {
        names(contents)
    }
}

/// The envelope member a (decoded) name denotes. A `match` on the literal names compiles to a
/// switch on the length and one fixed-size compare, where walking a table of names called memcmp
/// once per entry (~95 instructions per key).
fn envelope_member(name: &[u8]) -> Member {
    match name {
        b"jsonrpc" => Member::Jsonrpc,
        b"id" => Member::Id,
        b"method" => Member::Method,
        b"params" => Member::Params,
        b"result" => Member::Result,
        b"error" => Member::Error,
        _ => Member::Other,
    }
}

/// The `error` object member a (decoded) name denotes; see [`envelope_member`].
fn error_object_member(name: &[u8]) -> Member {
    match name {
        b"code" => Member::ErrorCode,
        b"message" => Member::ErrorMessage,
        b"data" => Member::ErrorData,
        _ => Member::Other,
    }
}

/// Names of members the envelope does not define, to catch duplicates among them. Inline for
/// the usual handful; spills to the heap only for envelopes with many unknown members.
#[derive(Default)]
struct OtherKeys {
    inline: [(u32, u32); 4],
    len: usize,
    spill: Vec<(u32, u32)>,
}

impl OtherKeys {
    /// Records the key; returns `true` if the same raw name was seen before.
    fn insert(&mut self, buf: &[u8], key: StrToken) -> bool {
        let name = key.contents(buf);
        let seen = self
            .inline
            .iter()
            .take(self.len)
            .chain(self.spill.iter())
            .any(|&(s, e)| buf.get(s as usize..e as usize) == Some(name));
        let entry = (key.start as u32 + 1, key.end.saturating_sub(1) as u32);
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = entry;
            self.len += 1;
        } else {
            self.spill.push(entry);
        }
        seen
    }
}

/// Scans one envelope object; the cursor is on `{`. `depth` is the nesting depth of its container
/// (0 at the top level, 1 inside a batch). Parse errors return at once; envelope rule violations
/// are recorded and scanning continues, so a later parse error still wins.
///
/// Fills `env`, which the caller made with [`Envelope::new`] at the cursor: an `Envelope` is a
/// few hundred bytes, and returning it by value cost a memcpy per message.
fn object(sc: &mut Scanner<'_>, bytes: &Bytes, depth: usize, env: &mut Envelope) -> ScanResult<()> {
    let buf = sc.buf();
    let mut seen: u8 = 0;
    let mut others = OtherKeys::default();
    open(sc, depth)?;
    sc.skip_ws();
    if sc.peek() == Some(b'}') {
        sc.eat(b'}')?;
        return Ok(());
    }
    loop {
        let key = sc.key()?;
        sc.skip_ws();
        let at = sc.pos();
        let member = member_of(buf, key, envelope_member);
        let bit = 1u8 << (member as u8 & 7);
        let duplicate = if member == Member::Other {
            others.insert(buf, key)
        } else {
            let dup = seen & bit != 0;
            seen |= bit;
            dup
        };
        if duplicate {
            env.note(DecodeErrorKind::DuplicateMember { member }, key.start);
            if member == Member::Id {
                env.id_ambiguous = true;
            }
        }
        match member {
            Member::Jsonrpc => {
                env.jsonrpc = true;
                if sc.peek() == Some(b'"') {
                    let tok = sc.string()?;
                    let is_20 = if tok.escaped {
                        unescape(tok.contents(buf)) == "2.0"
                    } else {
                        tok.contents(buf) == b"2.0"
                    };
                    if !is_20 {
                        env.note(DecodeErrorKind::WrongJsonrpcVersion, at);
                    }
                } else {
                    sc.skip_value(depth + 1)?;
                    env.note(DecodeErrorKind::WrongType { member }, at);
                }
            }
            Member::Id => {
                let slot = id_value(sc, bytes, depth, env, at)?;
                if !duplicate {
                    env.id = slot;
                }
            }
            Member::Method => {
                if sc.peek() == Some(b'"') {
                    let tok = sc.string()?;
                    env.method = Some(str_of(buf, tok));
                } else {
                    sc.skip_value(depth + 1)?;
                    env.note(DecodeErrorKind::WrongType { member }, at);
                }
            }
            Member::Params | Member::Result => {
                let is_object = sc.peek() == Some(b'{');
                sc.skip_value(depth + 1)?;
                if !is_object {
                    env.note(DecodeErrorKind::WrongType { member }, at);
                }
                let span = Span::new(at, sc.pos());
                if member == Member::Params {
                    env.params = Some(span);
                } else {
                    env.result = Some(span);
                }
            }
            Member::Error => {
                if sc.peek() == Some(b'{') {
                    let err = error_object(sc, depth + 1, env)?;
                    env.error = Some(err);
                } else {
                    sc.skip_value(depth + 1)?;
                    env.note(DecodeErrorKind::WrongType { member }, at);
                    env.error = Some(ErrorObj::default());
                }
            }
            _ => sc.skip_value(depth + 1)?,
        }
        sc.skip_ws();
        match sc.peek() {
            Some(b',') => sc.advance(),
            Some(b'}') => {
                sc.advance();
                return Ok(());
            }
            _ => return Err(sc.unexpected()),
        }
    }
}

fn open(sc: &mut Scanner<'_>, depth: usize) -> ScanResult<()> {
    if depth + 1 > sc.max_depth() {
        return Err(sc.err(DecodeErrorKind::TooDeep {
            limit: sc.max_depth(),
        }));
    }
    sc.eat(b'{')
}

fn str_of(buf: &[u8], tok: StrToken) -> Str {
    if tok.escaped {
        Str::Owned(unescape(tok.contents(buf)).into_boxed_str())
    } else {
        Str::Span(Span::new(tok.start + 1, tok.end - 1))
    }
}

/// Reads the `id` member's value; the cursor is on it.
fn id_value(
    sc: &mut Scanner<'_>,
    bytes: &Bytes,
    depth: usize,
    env: &mut Envelope,
    at: usize,
) -> ScanResult<IdSlot> {
    let buf = sc.buf();
    match sc.peek() {
        Some(b'"') => {
            let tok = sc.string()?;
            let unescaped = tok
                .escaped
                .then(|| unescape(tok.contents(buf)).into_boxed_str());
            let raw = bytes.slice(tok.start..tok.end);
            Ok(IdSlot::Valid(RequestId::string(JsonStr::from_parts(
                raw, unescaped,
            ))))
        }
        Some(b'-' | b'0'..=b'9') => {
            let num = sc.number()?;
            let text = buf.get(num.start..num.end).unwrap_or_default();
            match integer_value(text) {
                Ok(value) => {
                    let canonical = !num.has_frac && !num.has_exp && text != b"-0";
                    let raw = if canonical {
                        None
                    } else {
                        Some(bytes.slice(num.start..num.end))
                    };
                    Ok(IdSlot::Valid(RequestId::int_with_spelling(value, raw)))
                }
                Err(out_of_range) => {
                    env.note(
                        if out_of_range {
                            DecodeErrorKind::IdOutOfRange
                        } else {
                            DecodeErrorKind::IdNotInteger
                        },
                        at,
                    );
                    env.id_ambiguous = true;
                    Ok(IdSlot::Invalid)
                }
            }
        }
        Some(b'n') => {
            sc.skip_value(depth + 1)?;
            Ok(IdSlot::Null)
        }
        _ => {
            sc.skip_value(depth + 1)?;
            env.note(DecodeErrorKind::WrongType { member: Member::Id }, at);
            env.id_ambiguous = true;
            Ok(IdSlot::Invalid)
        }
    }
}

/// Scans the `error` object; the cursor is on its `{`, which sits at `depth + 1`.
fn error_object(sc: &mut Scanner<'_>, depth: usize, env: &mut Envelope) -> ScanResult<ErrorObj> {
    let buf = sc.buf();
    let mut err = ErrorObj::default();
    let mut seen: u8 = 0;
    open(sc, depth)?;
    sc.skip_ws();
    if sc.peek() == Some(b'}') {
        sc.eat(b'}')?;
        return Ok(err);
    }
    loop {
        let key = sc.key()?;
        sc.skip_ws();
        let at = sc.pos();
        let member = member_of(buf, key, error_object_member);
        if member != Member::Other {
            let bit = 1u8 << (member as u8 & 7);
            if seen & bit != 0 {
                env.note(DecodeErrorKind::DuplicateMember { member }, key.start);
            }
            seen |= bit;
        }
        match member {
            Member::ErrorCode => {
                if let Some(b'-' | b'0'..=b'9') = sc.peek() {
                    let num = sc.number()?;
                    let text = buf.get(num.start..num.end).unwrap_or_default();
                    match integer_value(text).ok().and_then(|v| i32::try_from(v).ok()) {
                        Some(code) => err.code = Some(code),
                        None => env.note(DecodeErrorKind::ErrorCodeOutOfRange, at),
                    }
                } else {
                    sc.skip_value(depth + 1)?;
                    env.note(DecodeErrorKind::WrongType { member }, at);
                }
            }
            Member::ErrorMessage => {
                if sc.peek() == Some(b'"') {
                    let tok = sc.string()?;
                    err.message = Some(str_of(buf, tok));
                } else {
                    sc.skip_value(depth + 1)?;
                    env.note(DecodeErrorKind::WrongType { member }, at);
                }
            }
            Member::ErrorData => {
                sc.skip_value(depth + 1)?;
                err.data = Some(Span::new(at, sc.pos()));
            }
            _ => sc.skip_value(depth + 1)?,
        }
        sc.skip_ws();
        match sc.peek() {
            Some(b',') => sc.advance(),
            Some(b'}') => {
                sc.advance();
                return Ok(err);
            }
            _ => return Err(sc.unexpected()),
        }
    }
}
