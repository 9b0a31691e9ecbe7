//! The introspection verifier (RFC 7662): opaque tokens checked by asking the authorization
//! server, authenticated with client credentials, answers cached for a bounded time and count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::{HeaderValue, Method};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::fetch::{self, Target, form_encode};
use super::jwt::OneOrMany;
use super::{
    DEFAULT_MAX_INTROSPECTION_CACHE, FETCH_TIMEOUT, INTROSPECTION_CACHE_TTL, Identity,
    MAX_FETCH_BYTES, TokenVerifier, VerifyError, VerifyFuture, parse_scopes,
};
use crate::service::lock;

/// A cached answer: the identity, or `None` for an inactive token.
struct Entry {
    identity: Option<Identity>,
    until: Instant,
}

/// Verifies tokens with an RFC 7662 introspection endpoint, authenticating as a confidential
/// client with HTTP Basic (`client_secret_basic`). Answers are cached by the SHA-256 of the
/// token (never the token itself) for [`INTROSPECTION_CACHE_TTL`] or until the token expires,
/// whichever comes first, at most [`DEFAULT_MAX_INTROSPECTION_CACHE`] of them; inactive
/// answers are cached too, so a flood of one bad token costs one call.
pub struct IntrospectionVerifier {
    target: Target,
    authorization: HeaderValue,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    max_cache: usize,
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl IntrospectionVerifier {
    /// Introspects at `url` as client `client_id` with `client_secret`.
    pub fn new(url: &str, client_id: &str, client_secret: &str) -> Result<Self, VerifyError> {
        let target = Target::parse(url).map_err(VerifyError::invalid)?;
        if !target.is_tls() && !target.is_loopback() {
            tracing::warn!(
                url,
                "introspection over plain http: tokens and the client secret travel in clear"
            );
        }
        // RFC 6749 section 2.3.1: each part form-encoded, then base64.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(client_id),
            form_encode(client_secret)
        ));
        let mut authorization = HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| VerifyError::invalid("client credentials do not fit a header"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            target,
            authorization,
            cache: Mutex::new(HashMap::new()),
            max_cache: DEFAULT_MAX_INTROSPECTION_CACHE,
        })
    }

    /// Most answers cached (default [`DEFAULT_MAX_INTROSPECTION_CACHE`]; 0 disables caching).
    #[must_use]
    pub fn max_cache(mut self, n: usize) -> Self {
        self.max_cache = n;
        self
    }

    async fn verify_token(&self, token: &str) -> Result<Identity, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some(e) = lock(&self.cache).get(&key)
            && e.until > now
        {
            return e
                .identity
                .clone()
                .ok_or_else(|| VerifyError::invalid("the token is not active"));
        }
        let (status, body) = fetch::fetch(fetch::Outgoing {
            method: Method::POST,
            target: &self.target,
            form: Some(format!(
                "token={}&token_type_hint=access_token",
                form_encode(token)
            )),
            authorization: Some(&self.authorization),
            max_body: MAX_FETCH_BYTES,
            timeout: FETCH_TIMEOUT,
        })
        .await
        .map_err(|e| VerifyError::unavailable(format!("introspection failed: {e}")))?;
        if !status.is_success() {
            return Err(VerifyError::unavailable(format!(
                "introspection answered {status}"
            )));
        }
        let answer = parse_answer(&body, SystemTime::now())?;
        self.remember(key, answer.clone(), now);
        answer.ok_or_else(|| VerifyError::invalid("the token is not active"))
    }

    fn remember(&self, key: [u8; 32], identity: Option<Identity>, now: Instant) {
        if self.max_cache == 0 {
            return;
        }
        let mut ttl = INTROSPECTION_CACHE_TTL;
        if let Some(exp) = identity.as_ref().and_then(|i| i.expires_at) {
            ttl = ttl.min(
                exp.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            );
        }
        let mut cache = lock(&self.cache);
        if cache.len() >= self.max_cache {
            cache.retain(|_, e| e.until > now);
        }
        if cache.len() >= self.max_cache {
            // Still full of live answers: drop the one closest to expiry (it had the least
            // reuse left).
            if let Some(k) = cache.iter().min_by_key(|(_, e)| e.until).map(|(k, _)| *k) {
                cache.remove(&k);
            }
        }
        cache.insert(
            key,
            Entry {
                identity,
                until: now + ttl,
            },
        );
    }
}

impl TokenVerifier for IntrospectionVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token))
    }
}

/// An introspection response (RFC 7662 section 2.2): `Ok(None)` for an inactive token.
fn parse_answer(body: &[u8], now: SystemTime) -> Result<Option<Identity>, VerifyError> {
    #[derive(Deserialize)]
    struct Answer {
        active: bool,
        sub: Option<String>,
        client_id: Option<String>,
        scope: Option<String>,
        exp: Option<u64>,
        #[serde(default)]
        aud: OneOrMany,
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|_| VerifyError::unavailable("the introspection answer is not valid"))?;
    if !a.active {
        return Ok(None);
    }
    // A client-credentials token may have no `sub`: its client is the subject then.
    let Some(subject) = a.sub.or(a.client_id) else {
        return Err(VerifyError::invalid("the token names no subject"));
    };
    let mut id = Identity::new(subject).with_audience(a.aud.into_vec());
    id.scopes = a.scope.as_deref().map(parse_scopes).unwrap_or_default();
    if let Some(exp) = a.exp {
        id.expires_at = UNIX_EPOCH.checked_add(Duration::from_secs(exp));
        if id.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
    }
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn introspection_answers() {
        let now = SystemTime::now();
        let later = super::super::jwt::unix_now() + 600;
        let body = format!(
            r#"{{"active":true,"sub":"alice","scope":"mcp:tools read","exp":{later},"aud":"https://mcp.example.com/mcp"}}"#
        );
        let id = parse_answer(body.as_bytes(), now).unwrap().unwrap();
        assert_eq!(id.subject, "alice");
        assert!(id.scopes.contains("mcp:tools") && id.scopes.contains("read"));
        assert_eq!(id.audience, ["https://mcp.example.com/mcp"]);
        assert!(id.expires_at.is_some());
        assert_eq!(parse_answer(br#"{"active":false}"#, now).unwrap(), None);
        // Expired per its own `exp`: inactive.
        assert_eq!(
            parse_answer(br#"{"active":true,"sub":"a","exp":1}"#, now).unwrap(),
            None
        );
        // No subject but a client: the client is the subject.
        let id = parse_answer(br#"{"active":true,"client_id":"c","aud":["x","y"]}"#, now)
            .unwrap()
            .unwrap();
        assert_eq!((id.subject.as_str(), id.audience.len()), ("c", 2));
        assert!(parse_answer(br#"{"active":true}"#, now).is_err());
        assert!(parse_answer(b"not json", now).unwrap_err().is_unavailable());
        assert!(parse_answer(br#"{"active":"yes"}"#, now).is_err());
    }
}
