//! Multi round-trip requests (2026-07-28, MCP-DIGEST 8.4): in the stateless era a handler's
//! question to the client (elicitation, sampling, roots) becomes an `input_required` result;
//! the client retries the request with the answers in `inputResponses`, and the answers of
//! earlier rounds travel back in a `requestState` the server sealed.
//!
//! `requestState` is `base64url(payload) "." base64url(HMAC-SHA256(key, method NUL name NUL
//! payload))`, where the payload is the JSON object of every answer so far. The key is random per
//! process unless configured ([`ServerBuilder::request_state_key`](crate::ServerBuilder::request_state_key)),
//! so replicas behind one load balancer can share it. A state that fails verification is refused
//! with -32602; it is never half-trusted.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest `requestState` accepted, in bytes: it holds a request's answers, which the body
/// limit already bounds; this keeps verification cheap on garbage.
const MAX_REQUEST_STATE_BYTES: usize = 1024 * 1024;

/// The key that seals `requestState`.
#[derive(Clone)]
pub(crate) struct StateKey([u8; 32]);

impl StateKey {
    pub(crate) fn random() -> Self {
        let mut key = [0u8; 32];
        // Without OS randomness the state is still sealed, just with a guessable key: say so.
        if getrandom::fill(&mut key).is_err() {
            tracing::warn!("no OS randomness: requestState keys are predictable");
        }
        Self(key)
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let mut key = [0u8; 32];
        // Keys of any length are hashed to 32 bytes, so short and long keys both work.
        let digest = <Sha256 as sha2::Digest>::digest(bytes);
        key.copy_from_slice(&digest);
        Self(key)
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.0).ok()?;
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        Some(mac)
    }

    /// Seals the answers so far.
    pub(crate) fn seal(&self, scope: &str, answers: &Map<String, Value>) -> String {
        let payload = Value::Object(answers.clone()).to_string();
        let tag = self
            .mac(scope, payload.as_bytes())
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Opens a state this key sealed for `scope`; `None` if it was altered or is not ours.
    pub(crate) fn open(&self, scope: &str, state: &str) -> Option<Map<String, Value>> {
        if state.len() > MAX_REQUEST_STATE_BYTES {
            return None;
        }
        let (payload, tag) = state.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // Constant-time comparison inside `verify_slice`.
        self.mac(scope, &payload)?.verify_slice(&tag).ok()?;
        match serde_json::from_slice(&payload).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

/// One request's round: the answers it came with and the questions its handler asked.
pub(crate) struct Round {
    /// Whether the request came back with a verified `requestState`.
    pub(crate) had_state: bool,
    pub(crate) scope: String,
    pub(crate) answers: Map<String, Value>,
    pending: Mutex<Map<String, Value>>,
    next_key: Mutex<usize>,
}

/// Why a retried request's MRTR members were refused (-32602).
pub(crate) struct BadRound(pub(crate) String);

impl Round {
    /// Reads `inputResponses` and `requestState` from a request's params.
    pub(crate) fn from_params(
        key: &StateKey,
        method: &str,
        params: &Value,
    ) -> Result<Self, BadRound> {
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let scope = format!("{method}\u{0}{name}");
        let had_state = matches!(params.get("requestState"), Some(Value::String(_)));
        let mut answers = match params.get("requestState") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::String(s)) => key.open(&scope, s).ok_or_else(|| {
                BadRound("Invalid params: requestState failed integrity verification".into())
            })?,
            Some(_) => {
                return Err(BadRound(
                    "Invalid params: requestState must be a string".into(),
                ));
            }
        };
        match params.get("inputResponses") {
            None => {}
            Some(Value::Object(fresh)) => {
                answers.extend(fresh.iter().map(|(k, v)| (k.clone(), v.clone())))
            }
            Some(_) => {
                return Err(BadRound(
                    "Invalid params: inputResponses must be an object".into(),
                ));
            }
        }
        Ok(Self {
            had_state,
            scope,
            answers,
            pending: Mutex::new(Map::new()),
            next_key: Mutex::new(0),
        })
    }

    /// A key for a question asked without one: `q0`, `q1`, ... in the order the handler asks.
    pub(crate) fn auto_key(&self) -> String {
        let mut n = self
            .next_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = format!("q{n}");
        *n += 1;
        key
    }

    /// Records a question the client must answer in the next round.
    pub(crate) fn ask(&self, key: &str, method: &str, params: Value) {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), json!({"method": method, "params": params}));
    }

    /// The `input_required` result if the handler asked anything this round.
    pub(crate) fn input_required(&self, key: &StateKey) -> Option<Value> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.is_empty() {
            return None;
        }
        Some(json!({
            "resultType": "input_required",
            "inputRequests": Value::Object(pending.clone()),
            "requestState": key.seal(&self.scope, &self.answers),
        }))
    }
}

/// Checks that a client's answer has the shape of the result `method` asks for.
pub(crate) fn valid_answer(method: &str, answer: &Value) -> bool {
    match method {
        "elicitation/create" => answer
            .get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| matches!(a, "accept" | "decline" | "cancel")),
        "sampling/createMessage" => {
            answer.get("role").is_some()
                && answer.get("content").is_some()
                && answer.get("model").is_some()
        }
        "roots/list" => answer.get("roots").is_some_and(Value::is_array),
        _ => answer.is_object(),
    }
}

/// The client capability a server-to-client method needs.
pub(crate) fn capability_for(method: &str) -> Option<&'static str> {
    match method {
        "elicitation/create" => Some("elicitation"),
        "sampling/createMessage" => Some("sampling"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_round_trips_and_tampering_is_refused() {
        let key = StateKey::from_bytes(b"test key");
        let mut answers = Map::new();
        answers.insert(
            "step1".into(),
            json!({"action": "accept", "content": {"name": "Alice"}}),
        );
        let state = key.seal("tools/call\u{0}t", &answers);
        assert_eq!(key.open("tools/call\u{0}t", &state), Some(answers.clone()));
        assert_eq!(
            key.open("tools/call\u{0}other", &state),
            None,
            "bound to the tool"
        );
        assert_eq!(
            key.open("tools/call\u{0}t", &format!("{state}-TAMPERED")),
            None
        );
        assert_eq!(
            StateKey::from_bytes(b"other").open("tools/call\u{0}t", &state),
            None
        );
        assert_eq!(key.open("tools/call\u{0}t", "garbage"), None);
        assert_ne!(key.seal("s", &Map::new()), key.seal("s", &answers));
    }
}
