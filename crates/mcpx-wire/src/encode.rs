//! `encode_*`: JSON-RPC messages written straight into the caller's `BytesMut`.
//!
//! The envelope is written by hand; payloads go through serde (`serde_json::to_writer` on the
//! buffer) or are copied verbatim from a [`RawJson`] view. Nothing is allocated when the buffer
//! has room. On error the buffer is truncated back to where it was: no half message is left.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use crate::id::write_json_str;
use crate::message::MessageKind;
use crate::{ErrorCode, Message, RawJson, RequestId};

/// How an error response without a known id spells the missing id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingId {
    /// `"id": null`: JSON-RPC 2.0 and every MCP version up to 2025-06-18 (whose schema requires
    /// an `id` member), and what the official SDKs send.
    #[default]
    Null,
    /// No `id` member: the MCP schema from 2025-11-25 on makes `id` optional on errors and does
    /// not allow `null`.
    Omit,
}

/// An `encode_*` call could not produce a valid message.
#[derive(Debug)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload's `Serialize` implementation failed.
    Serialize(serde_json::Error),
    /// `params` or `result` did not serialize to a JSON object, which MCP requires.
    NotAnObject,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serialize(e) => write!(f, "payload failed to serialize: {e}"),
            Self::NotAnObject => f.write_str("params and result must serialize to a JSON object"),
        }
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Serialize(e) => Some(e),
            Self::NotAnObject => None,
        }
    }
}

/// Runs `f`, and on error truncates `buf` back to its length before the call.
fn atomically(
    buf: &mut BytesMut,
    f: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let mark = buf.len();
    let out = f(buf);
    if out.is_err() {
        buf.truncate(mark);
    }
    out
}

/// Serializes `value` as an object member value, checking it is an object.
fn put_object<T: Serialize + ?Sized>(buf: &mut BytesMut, value: &T) -> Result<(), EncodeError> {
    let at = buf.len();
    serde_json::to_writer(buf.writer(), value).map_err(EncodeError::Serialize)?;
    if buf.get(at) == Some(&b'{') {
        Ok(())
    } else {
        Err(EncodeError::NotAnObject)
    }
}

fn put_raw_object(buf: &mut BytesMut, raw: &RawJson) -> Result<(), EncodeError> {
    if !raw.is_object() {
        return Err(EncodeError::NotAnObject);
    }
    buf.put_slice(raw.as_bytes());
    Ok(())
}

fn head_with_id(buf: &mut BytesMut, id: &RequestId) {
    buf.put_slice(br#"{"jsonrpc":"2.0","id":"#);
    id.write_json(buf);
}

/// `{"jsonrpc":"2.0","id":ID,"method":METHOD,"params":PARAMS}` with typed params.
pub fn encode_request<P: Serialize + ?Sized>(
    buf: &mut BytesMut,
    id: &RequestId,
    method: &str,
    params: &P,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        head_with_id(buf, id);
        buf.put_slice(br#","method":"#);
        write_json_str(buf, method);
        buf.put_slice(br#","params":"#);
        put_object(buf, params)?;
        buf.put_u8(b'}');
        Ok(())
    })
}

/// A request whose params (if any) are forwarded verbatim.
pub fn encode_request_raw(
    buf: &mut BytesMut,
    id: &RequestId,
    method: &str,
    params: Option<&RawJson>,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        head_with_id(buf, id);
        buf.put_slice(br#","method":"#);
        write_json_str(buf, method);
        if let Some(p) = params {
            buf.put_slice(br#","params":"#);
            put_raw_object(buf, p)?;
        }
        buf.put_u8(b'}');
        Ok(())
    })
}

/// `{"jsonrpc":"2.0","method":METHOD,"params":PARAMS}` with typed params.
pub fn encode_notification<P: Serialize + ?Sized>(
    buf: &mut BytesMut,
    method: &str,
    params: &P,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        buf.put_slice(br#"{"jsonrpc":"2.0","method":"#);
        write_json_str(buf, method);
        buf.put_slice(br#","params":"#);
        put_object(buf, params)?;
        buf.put_u8(b'}');
        Ok(())
    })
}

/// A notification whose params (if any) are forwarded verbatim.
pub fn encode_notification_raw(
    buf: &mut BytesMut,
    method: &str,
    params: Option<&RawJson>,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        buf.put_slice(br#"{"jsonrpc":"2.0","method":"#);
        write_json_str(buf, method);
        if let Some(p) = params {
            buf.put_slice(br#","params":"#);
            put_raw_object(buf, p)?;
        }
        buf.put_u8(b'}');
        Ok(())
    })
}

/// `{"jsonrpc":"2.0","id":ID,"result":RESULT}` with a typed result.
pub fn encode_result<R: Serialize + ?Sized>(
    buf: &mut BytesMut,
    id: &RequestId,
    result: &R,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        head_with_id(buf, id);
        buf.put_slice(br#","result":"#);
        put_object(buf, result)?;
        buf.put_u8(b'}');
        Ok(())
    })
}

/// A result response whose result bytes are forwarded verbatim.
pub fn encode_result_raw(
    buf: &mut BytesMut,
    id: &RequestId,
    result: &RawJson,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        head_with_id(buf, id);
        buf.put_slice(br#","result":"#);
        put_raw_object(buf, result)?;
        buf.put_u8(b'}');
        Ok(())
    })
}

/// `{"jsonrpc":"2.0","id":ID,"error":{"code":CODE,"message":MESSAGE,"data":DATA}}`.
///
/// `id` is `None` when the failed request's id could not be read; `missing` says how to spell
/// that for the protocol version in use. `data` is any serializable value (pass
/// `None::<&()>` for none), or use a [`RawJson`] to forward data verbatim (it serializes as is).
pub fn encode_error<D: Serialize + ?Sized>(
    buf: &mut BytesMut,
    id: Option<&RequestId>,
    missing: MissingId,
    code: ErrorCode,
    message: &str,
    data: Option<&D>,
) -> Result<(), EncodeError> {
    atomically(buf, |buf| {
        match (id, missing) {
            (Some(id), _) => head_with_id(buf, id),
            (None, MissingId::Null) => buf.put_slice(br#"{"jsonrpc":"2.0","id":null"#),
            (None, MissingId::Omit) => buf.put_slice(br#"{"jsonrpc":"2.0""#),
        }
        buf.put_slice(br#","error":{"code":"#);
        crate::id::write_i64(buf, i64::from(code.0));
        buf.put_slice(br#","message":"#);
        write_json_str(buf, message);
        if let Some(d) = data {
            buf.put_slice(br#","data":"#);
            serde_json::to_writer(buf.writer(), d).map_err(EncodeError::Serialize)?;
        }
        buf.put_slice(b"}}");
        Ok(())
    })
}

impl Serialize for RawJson {
    /// Serializes as the raw JSON it holds, byte for byte (with serde_json; other serializers see
    /// the parsed value). Re-scans the bytes, but allocates nothing.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(self.as_str()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// Re-encodes a decoded message canonically: the envelope is rewritten (unknown members and
/// whitespace outside the raw views dropped), ids and raw views are copied byte for byte. A batch
/// re-encodes its valid members; invalid members are skipped.
pub fn encode_message(buf: &mut BytesMut, msg: &Message) -> Result<(), EncodeError> {
    let method = msg.method().unwrap_or_default();
    match msg.kind() {
        MessageKind::Request => match msg.id() {
            Some(id) => encode_request_raw(buf, id, method, msg.params().as_ref()),
            None => Err(EncodeError::NotAnObject),
        },
        MessageKind::Notification => encode_notification_raw(buf, method, msg.params().as_ref()),
        MessageKind::Response => match (msg.id(), msg.result()) {
            (Some(id), Some(result)) => encode_result_raw(buf, id, &result),
            _ => Err(EncodeError::NotAnObject),
        },
        MessageKind::ErrorResponse => encode_error(
            buf,
            msg.id(),
            MissingId::Null,
            msg.error_code().unwrap_or(ErrorCode::INTERNAL_ERROR),
            msg.error_message().unwrap_or_default(),
            msg.error_data().as_ref(),
        ),
        MessageKind::Batch => atomically(buf, |buf| {
            buf.put_u8(b'[');
            let mut first = true;
            for item in msg.batch().unwrap_or_default().iter().flatten() {
                if !first {
                    buf.put_u8(b',');
                }
                first = false;
                encode_message(buf, item)?;
            }
            buf.put_u8(b']');
            Ok(())
        }),
    }
}
