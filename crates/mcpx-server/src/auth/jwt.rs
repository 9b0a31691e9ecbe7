//! The JWT verifier: access tokens signed by the authorization server, checked against the
//! public keys of its JWKS (from a file or a URL), cached and refreshed on rotation.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use http::Method;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::Deserialize;

use super::fetch::{self, Target};
use super::{
    CLOCK_SKEW_LEEWAY_SECS, FETCH_TIMEOUT, Identity, JWKS_MAX_AGE, JWKS_MIN_REFRESH_INTERVAL,
    MAX_FETCH_BYTES, MAX_JWKS_KEYS, TokenVerifier, VerifyError, VerifyFuture, parse_scopes,
};
use crate::service::lock;

/// Where the keys come from.
#[derive(Debug)]
enum Source {
    File(PathBuf),
    Url(Target),
    /// Fixed at construction.
    Fixed,
}

/// One usable key of the set.
pub(super) struct Key {
    kid: Option<String>,
    /// The `alg` the JWK pins, if any (a token must then use exactly it).
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The keys in force and when they were loaded.
pub(super) struct KeySet {
    pub(super) keys: Vec<Key>,
    loaded: Option<Instant>,
}

impl KeySet {
    /// Whether the set must be (re)loaded before use.
    fn is_stale(&self) -> bool {
        self.keys.is_empty() || self.loaded.is_none_or(|t| t.elapsed() >= JWKS_MAX_AGE)
    }
}

/// Verifies JWT access tokens (RFC 9068 shape: `sub`, `aud`, `exp`, `scope` or `scp`) signed
/// with an asymmetric algorithm (RS*, PS*, ES256/384, EdDSA) by a key of a JWKS. HMAC
/// algorithms are refused: a JWKS holds public keys, and accepting `HS256` with a public key as
/// the secret is the classic algorithm-confusion forgery.
///
/// A JWKS from a URL is fetched on first use (within [`FETCH_TIMEOUT`], at most
/// [`MAX_FETCH_BYTES`]), again when older than [`JWKS_MAX_AGE`], and when a token names an
/// unknown `kid` (key rotation), but not more often than [`JWKS_MIN_REFRESH_INTERVAL`]. A
/// JWKS file is re-read on the same schedule, so replacing it rotates keys.
pub struct JwksVerifier {
    source: Source,
    issuer: Option<String>,
    keys: Mutex<Arc<KeySet>>,
    /// Serializes refreshes (one fetch for many requests with the same new `kid`) and holds
    /// their times.
    refresh: tokio::sync::Mutex<Refreshes>,
}

/// When keys were last loaded for each reason, for the rate limits.
#[derive(Default)]
struct Refreshes {
    /// The last load that failed (a failing source is retried only after
    /// [`JWKS_MIN_REFRESH_INTERVAL`]).
    failed: Option<Instant>,
    /// The last load caused by an unknown `kid`.
    unknown_kid: Option<Instant>,
}

/// Why keys are (re)loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// None held yet, or older than [`JWKS_MAX_AGE`].
    Stale,
    /// A token names a key not held.
    UnknownKid,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwksVerifier {
    /// Keys from a JWKS file, read now (an unreadable or keyless file is an error) and re-read
    /// on rotation.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, VerifyError> {
        let path = path.into();
        let keys = read_file(&path)?;
        let v = Self::with(Source::File(path), keys);
        Ok(v)
    }

    /// Keys from a JWKS URL (`https://`, or `http://` for loopback and tests), fetched on first
    /// use.
    pub fn from_url(url: &str) -> Result<Self, VerifyError> {
        let target = Target::parse(url).map_err(VerifyError::invalid)?;
        if !target.is_tls() && !target.is_loopback() {
            tracing::warn!(url, "JWKS over plain http: keys can be swapped in transit");
        }
        Ok(Self::with(
            Source::Url(target),
            KeySet {
                keys: Vec::new(),
                loaded: None,
            },
        ))
    }

    /// Keys from a JWKS document given as JSON, fixed for the verifier's life.
    pub fn from_jwks(json: &str) -> Result<Self, VerifyError> {
        let keys = parse_jwks(json.as_bytes())?;
        Ok(Self::with(Source::Fixed, keys))
    }

    /// Also require the `iss` claim to equal `issuer` (the authorization server's issuer
    /// identifier). Recommended: without it any issuer whose keys are in the set is accepted.
    #[must_use]
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    fn with(source: Source, keys: KeySet) -> Self {
        Self {
            source,
            issuer: None,
            keys: Mutex::new(Arc::new(keys)),
            refresh: tokio::sync::Mutex::new(Refreshes::default()),
        }
    }

    pub(super) fn current(&self) -> Arc<KeySet> {
        lock(&self.keys).clone()
    }

    /// Reloads the keys, within the rate limits: after a failed load, and for unknown `kid`s,
    /// at most once per [`JWKS_MIN_REFRESH_INTERVAL`]; a stale set is reloaded once however
    /// many requests wait for it. Fails only when no keys are held at all afterwards.
    async fn refresh(&self, why: Why) -> Result<(), VerifyError> {
        let mut last = self.refresh.lock().await;
        let now = Instant::now();
        let recent = |t: Option<Instant>| {
            t.is_some_and(|t| now.duration_since(t) < JWKS_MIN_REFRESH_INTERVAL)
        };
        let skip = match why {
            // Another request reloaded while this one waited for the lock.
            Why::Stale => !self.current().is_stale() || recent(last.failed),
            Why::UnknownKid => recent(last.unknown_kid) || recent(last.failed),
        };
        if why == Why::UnknownKid && !skip {
            last.unknown_kid = Some(now);
        }
        let loaded = match &self.source {
            Source::Fixed => return Ok(()),
            _ if skip => None,
            Source::File(path) => Some(read_file(path)),
            Source::Url(target) => Some(fetch_jwks(target).await),
        };
        match loaded {
            Some(Ok(keys)) => *lock(&self.keys) = Arc::new(keys),
            Some(Err(e)) => {
                last.failed = Some(now);
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys held");
            }
            None => {}
        }
        if self.current().keys.is_empty() {
            return Err(VerifyError::unavailable("no signing keys could be loaded"));
        }
        Ok(())
    }

    async fn verify_token(&self, token: &str) -> Result<Identity, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| VerifyError::invalid("the token is not a JWT"))?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(VerifyError::invalid(
                "symmetric JWT algorithms are not accepted",
            ));
        }
        let set = self.current();
        let set = if set.is_stale() && !matches!(self.source, Source::Fixed) {
            self.refresh(Why::Stale).await?;
            self.current()
        } else {
            set
        };
        match self.try_keys(&set, header.kid.as_deref(), header.alg, token) {
            Some(r) => r,
            None => {
                // An unknown `kid`: perhaps a rotation (rate-limited reload).
                self.refresh(Why::UnknownKid).await?;
                let set = self.current();
                self.try_keys(&set, header.kid.as_deref(), header.alg, token)
                    .unwrap_or_else(|| {
                        Err(VerifyError::invalid("the token's signing key is unknown"))
                    })
            }
        }
    }

    /// Checks the token against the keys its header can name: `None` when none fits.
    fn try_keys(
        &self,
        set: &KeySet,
        kid: Option<&str>,
        alg: Algorithm,
        token: &str,
    ) -> Option<Result<Identity, VerifyError>> {
        let mut candidates = set.keys.iter().filter(|k| {
            (kid.is_none() || k.kid.as_deref() == kid)
                && k.key.family() == alg.family()
                && k.alg.is_none_or(|a| a == alg)
        });
        let first = candidates.next()?;
        let mut result = self.check(first, alg, token);
        // A token without a `kid` may fit any key of its family (bounded by MAX_JWKS_KEYS).
        for k in candidates {
            if result.is_ok() {
                break;
            }
            result = self.check(k, alg, token);
        }
        Some(result)
    }

    fn check(&self, key: &Key, alg: Algorithm, token: &str) -> Result<Identity, VerifyError> {
        let mut v = Validation::new(alg);
        v.leeway = CLOCK_SKEW_LEEWAY_SECS;
        v.validate_nbf = true;
        // The audience is checked by the server, for every verifier alike (RFC 8707).
        v.validate_aud = false;
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            VerifyError::invalid(match e.kind() {
                K::ExpiredSignature => "the token has expired",
                K::ImmatureSignature => "the token is not valid yet",
                K::InvalidIssuer => "the token's issuer is not accepted",
                K::InvalidSignature => "the token's signature is invalid",
                K::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is invalid",
            })
        })?;
        Ok(data.claims.identity())
    }
}

impl TokenVerifier for JwksVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token))
    }
}

/// The claims read from an access token.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    aud: OneOrMany,
    exp: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    /// Some authorization servers (Azure AD, Okta) put scopes in `scp`, a string or an array.
    #[serde(default)]
    scp: OneOrMany,
}

/// A claim that is one string or an array of strings.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

impl Claims {
    fn identity(self) -> Identity {
        let mut scopes = self.scope.as_deref().map(parse_scopes).unwrap_or_default();
        for s in self.scp.into_vec() {
            scopes.extend(parse_scopes(&s));
        }
        let mut id = Identity::new(self.sub).with_audience(self.aud.into_vec());
        id.scopes = scopes;
        if let Some(exp) = self.exp {
            id.expires_at = UNIX_EPOCH.checked_add(Duration::from_secs(
                exp.saturating_add(CLOCK_SKEW_LEEWAY_SECS),
            ));
        }
        id
    }
}

fn read_file(path: &std::path::Path) -> Result<KeySet, VerifyError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| {
        VerifyError::unavailable(format!("cannot read the JWKS file {}: {e}", path.display()))
    })?;
    let mut buf = Vec::new();
    // One byte over the bound tells an oversized file from one exactly at it.
    file.take(MAX_FETCH_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| VerifyError::unavailable(format!("cannot read {}: {e}", path.display())))?;
    if buf.len() > MAX_FETCH_BYTES {
        return Err(VerifyError::unavailable(format!(
            "{} is larger than {MAX_FETCH_BYTES} bytes",
            path.display()
        )));
    }
    parse_jwks(&buf)
}

async fn fetch_jwks(target: &Target) -> Result<KeySet, VerifyError> {
    let (status, body) = fetch::fetch(fetch::Outgoing {
        method: Method::GET,
        target,
        form: None,
        authorization: None,
        max_body: MAX_FETCH_BYTES,
        timeout: FETCH_TIMEOUT,
    })
    .await
    .map_err(|e| VerifyError::unavailable(format!("JWKS fetch failed: {e}")))?;
    if !status.is_success() {
        return Err(VerifyError::unavailable(format!(
            "JWKS fetch answered {status}"
        )));
    }
    parse_jwks(&body)
}

/// Parses a JWKS, keeping the usable signature keys (at most [`MAX_JWKS_KEYS`]) and skipping
/// the rest (encryption keys, unknown key types, symmetric keys).
fn parse_jwks(bytes: &[u8]) -> Result<KeySet, VerifyError> {
    #[derive(Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(bytes)
        .map_err(|e| VerifyError::unavailable(format!("invalid JWKS: {e}")))?;
    let mut keys = Vec::new();
    for value in doc.keys {
        if keys.len() == MAX_JWKS_KEYS {
            tracing::warn!("JWKS holds more than {MAX_JWKS_KEYS} keys; the rest are ignored");
            break;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        if key.family() == AlgorithmFamily::Hmac {
            continue;
        }
        let alg = match jwk.common.key_algorithm {
            Some(a) => match Algorithm::try_from(a) {
                Ok(a) => Some(a),
                // An algorithm we cannot check (e.g. an encryption one): not a signing key.
                Err(_) => continue,
            },
            None => None,
        };
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    if keys.is_empty() {
        return Err(VerifyError::unavailable(
            "the JWKS holds no usable signing key",
        ));
    }
    Ok(KeySet {
        keys,
        loaded: Some(Instant::now()),
    })
}

/// Seconds since the Unix epoch.
#[cfg(test)]
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
