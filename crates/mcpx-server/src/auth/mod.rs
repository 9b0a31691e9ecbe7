//! Bearer-token mode: the server as an OAuth 2.1 resource server (MCP authorization, protocol
//! 2025-06-18 and later). This module owns the checks made on every HTTP request before the
//! protocol sees it: the `Authorization` header, the token's verification (a pluggable
//! [`TokenVerifier`]), its audience (RFC 8707: the server's canonical URL), expiry and scopes;
//! the `WWW-Authenticate` challenges of 401 and 403 (RFC 6750, RFC 9728); the protected resource
//! metadata document; and the binding of each session to the identity that created it.
//!
//! It does not issue tokens, talk to an authorization server on a client's behalf, or forward a
//! client's token anywhere (token passthrough is forbidden).
//!
//! ```text
//! request ──> well-known metadata path? ── yes ──> 200 metadata (no token needed)
//!     │ no
//!     ├── no `Authorization: Bearer` ──────────────> 401 WWW-Authenticate: Bearer resource_metadata=..
//!     ├── verifier says invalid / expired / wrong aud ─> 401 .. error="invalid_token"
//!     ├── a required scope missing ─────────────────> 403 .. error="insufficient_scope", scope=..
//!     ├── Mcp-Session-Id bound to another subject ──> 404 (as an unknown session: no oracle)
//!     └── the protocol; a response that creates a session binds it to the token's subject
//! ```
//!
//! Every request is verified (no "already authenticated session" shortcut): the session id is
//! never a credential. A legacy HTTP+SSE connection (2024-11-05) is bound the same way: its
//! `GET /sse` binds the connection id, and a `POST /messages?sessionId=` of another subject
//! gets 404.

mod binding;
mod fetch;
mod introspect;
mod jwt;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use mcpx_wire::ErrorCode;

pub use introspect::IntrospectionVerifier;
pub use jwt::JwksVerifier;

use crate::service::{ResponseBody, Shared};

/// Longest JWKS document or introspection answer read, in bytes. A JWKS holds a handful of
/// keys (a 4096-bit RSA JWK is under 1 KiB); 256 KiB leaves room for hundreds while keeping a
/// hostile or broken endpoint from filling memory.
pub const MAX_FETCH_BYTES: usize = 256 * 1024;

/// Deadline of one JWKS fetch or introspection exchange (connect, TLS, request, body). A
/// request waiting on it is held that long at most; 5 s is far above a healthy authorization
/// server's latency and well under clients' request timeouts.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Shortest interval between two JWKS refreshes caused by tokens with an unknown `kid`. Key
/// rotation is rare, while tokens with made-up `kid`s cost nothing to send: without this bound
/// each one would make the server fetch.
pub const JWKS_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Age after which a JWKS is fetched again on the next verification, so keys the authorization
/// server withdrew stop being accepted. Common authorization servers cache theirs for 10-15
/// minutes (their `Cache-Control`), so 10 minutes follows a rotation promptly.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

/// Keys kept from one JWKS. Real sets hold 1-4 (current, next, previous); more is a broken or
/// hostile document, and each key is tried for a token without a `kid`.
pub const MAX_JWKS_KEYS: usize = 32;

/// Introspection answers cached (by a hash of the token). Each entry is under 1 KiB; at the
/// bound the entries closest to expiry are dropped first.
pub const DEFAULT_MAX_INTROSPECTION_CACHE: usize = 10_000;

/// Longest an introspection answer is reused. A token revoked at the authorization server is
/// still accepted for at most this long: short enough for revocation to matter, long enough to
/// spare the authorization server one call per MCP request.
pub const INTROSPECTION_CACHE_TTL: Duration = Duration::from_secs(60);

/// Longest accepted `Authorization` header value, in bytes. Real access tokens are under 4 KiB
/// (JWTs with many claims); a larger header is refused before any parsing or hashing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Sessions whose owner is remembered. Each entry is a session id and a subject (about 100
/// bytes). At the bound, entries of sessions the server no longer holds are dropped first, then
/// the oldest: such a session then answers 404 and its client starts a new one. 2x the session
/// table's default bound (`mcpx_proto::limits::DEFAULT_MAX_SESSIONS`) so live sessions fit.
pub const DEFAULT_MAX_BOUND_SESSIONS: usize = 2 * mcpx_proto::limits::DEFAULT_MAX_SESSIONS;

/// Clock skew tolerated on a JWT's `exp` and `nbf`, in seconds: the authorization server's
/// clock and ours may differ; 30 s is common practice and far under token lifetimes (minutes to
/// hours).
pub const CLOCK_SKEW_LEEWAY_SECS: u64 = 30;

/// Paths answered without a token: the load balancer's health check (it holds no token).
const UNAUTHENTICATED_PATHS: &[&str] = &["/healthz"];

/// The metadata path prefix of RFC 9728 section 3.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The boxed future a [`TokenVerifier`] returns.
pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Identity, VerifyError>> + Send + 'a>>;

/// Checks an access token and says whose it is. Implement it to plug in any token format or
/// authorization server; [`JwksVerifier`] and [`IntrospectionVerifier`] are built in.
///
/// The verifier checks what only it can (signature or the authorization server's word,
/// issuer); the server then checks the [`Identity`] it returns the same way for every verifier:
/// expiry, audience (must name the server's canonical URL) and scopes.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (the bearer token, untrusted input of at most [`MAX_TOKEN_BYTES`]).
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}

/// Who a verified token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The subject (`sub`): the user or client the token was issued to. Sessions are bound to it.
    pub subject: String,
    /// The scopes granted.
    pub scopes: BTreeSet<String>,
    /// When the token expires (`exp`); `None`: the verifier knows no expiry.
    pub expires_at: Option<SystemTime>,
    /// The audiences (`aud`) the token was issued for.
    pub audience: Vec<String>,
}

impl Identity {
    /// An identity for `subject` with no scopes, expiry or audience yet.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            scopes: BTreeSet::new(),
            expires_at: None,
            audience: Vec::new(),
        }
    }

    /// With these scopes.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// With this expiry.
    #[must_use]
    pub fn with_expiry(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// With these audiences.
    #[must_use]
    pub fn with_audience<I: IntoIterator<Item = S>, S: Into<String>>(mut self, aud: I) -> Self {
        self.audience = aud.into_iter().map(Into::into).collect();
        self
    }
}

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    unavailable: bool,
    message: String,
}

impl VerifyError {
    /// The token is not valid (bad signature, unknown, revoked, expired, malformed): 401
    /// `invalid_token`. `message` goes to the client as `error_description`: name no secret.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            unavailable: false,
            message: message.into(),
        }
    }

    /// The token could not be checked now (the JWKS or introspection endpoint is down): 503
    /// with `Retry-After`, so the client retries instead of starting a new authorization.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            unavailable: true,
            message: message.into(),
        }
    }

    /// Whether the verifier could not reach its source of truth (rather than rejecting).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VerifyError {}

/// An invalid bearer-mode setting (from [`AuthConfig::new`] or its setters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfigError(String);

impl std::fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuthConfigError {}

/// Bearer-token mode settings, for [`ServerBuilder::auth`](crate::ServerBuilder::auth).
#[derive(Clone)]
pub struct AuthConfig {
    resource: CanonicalUrl,
    verifier: Arc<dyn TokenVerifier>,
    authorization_servers: Vec<String>,
    required_scopes: Vec<String>,
    scopes_supported: Vec<String>,
    extra_audiences: Vec<CanonicalUrl>,
    resource_name: Option<String>,
    max_bound_sessions: usize,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("resource", &self.resource.0)
            .field("authorization_servers", &self.authorization_servers)
            .field("required_scopes", &self.required_scopes)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Bearer mode for the MCP endpoint whose public, canonical URL is `resource` (e.g.
    /// `https://mcp.example.com/mcp`: what clients connect to, behind any TLS-terminating load
    /// balancer; tokens must name it as their audience), verifying tokens with `verifier`.
    pub fn new(resource: &str, verifier: impl TokenVerifier) -> Result<Self, AuthConfigError> {
        Ok(Self {
            resource: CanonicalUrl::parse(resource)?,
            verifier: Arc::new(verifier),
            authorization_servers: Vec::new(),
            required_scopes: Vec::new(),
            scopes_supported: Vec::new(),
            extra_audiences: Vec::new(),
            resource_name: None,
            max_bound_sessions: DEFAULT_MAX_BOUND_SESSIONS,
        })
    }

    /// An authorization server (its issuer URL) that issues tokens for this server, listed in
    /// the metadata's `authorization_servers` (at least one is needed for clients to find it).
    pub fn authorization_server(&mut self, issuer: &str) -> &mut Self {
        self.authorization_servers.push(issuer.to_owned());
        self
    }

    /// A scope every request needs (default: none). A token without it gets 403
    /// `insufficient_scope`; the 401 challenge names these scopes so clients ask for them.
    pub fn require_scope(&mut self, scope: &str) -> &mut Self {
        if !self.required_scopes.iter().any(|s| s == scope) {
            self.required_scopes.push(scope.to_owned());
        }
        if !self.scopes_supported.iter().any(|s| s == scope) {
            self.scopes_supported.push(scope.to_owned());
        }
        self
    }

    /// Another accepted audience besides the canonical URL (e.g. an API identifier an
    /// authorization server puts in `aud` instead of the URL).
    pub fn accept_audience(&mut self, audience: &str) -> &mut Self {
        self.extra_audiences
            .push(CanonicalUrl::parse(audience).unwrap_or_else(|_| CanonicalUrl(audience.into())));
        self
    }

    /// The human-readable `resource_name` of the metadata.
    pub fn resource_name(&mut self, name: &str) -> &mut Self {
        self.resource_name = Some(name.to_owned());
        self
    }

    /// Most sessions whose owner is remembered (default [`DEFAULT_MAX_BOUND_SESSIONS`]; at
    /// least 1).
    pub fn max_bound_sessions(&mut self, n: usize) -> &mut Self {
        self.max_bound_sessions = n.max(1);
        self
    }

    /// The canonical URL of the resource.
    pub fn resource(&self) -> &str {
        &self.resource.0
    }

    /// The URL of the protected resource metadata (the path-suffixed form of RFC 9728 section
    /// 3.1), as the challenges name it.
    pub fn metadata_url(&self) -> String {
        let (origin, path) = self.resource.split();
        let path = if path == "/" { "" } else { path };
        format!("{origin}{METADATA_PATH}{path}")
    }

    /// The protected resource metadata document (RFC 9728 section 2).
    pub fn metadata(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "resource": self.resource.0,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if let Some(obj) = doc.as_object_mut() {
            if !self.scopes_supported.is_empty() {
                obj.insert(
                    "scopes_supported".into(),
                    self.scopes_supported.clone().into(),
                );
            }
            if let Some(name) = &self.resource_name {
                obj.insert("resource_name".into(), name.clone().into());
            }
        }
        doc
    }
}

/// A URL in the form RFC 8707 and the MCP authorization spec compare: lowercase scheme and
/// host, no fragment, no trailing slash (except the root path), no default port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CanonicalUrl(String);

impl CanonicalUrl {
    fn parse(url: &str) -> Result<Self, AuthConfigError> {
        let bad = |why: &str| AuthConfigError(format!("resource URL {url:?}: {why}"));
        let url = url.split('#').next().unwrap_or(url);
        let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => "https",
            Some("http") => "http",
            _ => return Err(bad("scheme must be http or https")),
        };
        let host = uri
            .host()
            .ok_or_else(|| bad("no host"))?
            .to_ascii_lowercase();
        let port = match (scheme, uri.port_u16()) {
            (_, None) | ("https", Some(443)) | ("http", Some(80)) => String::new(),
            (_, Some(p)) => format!(":{p}"),
        };
        if uri.query().is_some() {
            return Err(bad("a query is not allowed"));
        }
        let path = uri.path().trim_end_matches('/');
        Ok(Self(format!("{scheme}://{host}{port}{path}")))
    }

    /// (`scheme://host[:port]`, path or "/").
    fn split(&self) -> (&str, &str) {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        match self.0[after_scheme..].find('/') {
            Some(i) => self.0.split_at(after_scheme + i),
            None => (&self.0, "/"),
        }
    }

    /// Whether the token audience `aud` names this URL.
    fn matches(&self, aud: &str) -> bool {
        CanonicalUrl::parse(aud).is_ok_and(|a| a == *self) || aud == self.0
    }
}

/// The running bearer mode of one server.
pub(crate) struct Auth {
    config: AuthConfig,
    metadata: Bytes,
    metadata_url: String,
    /// The metadata paths answered: the bare well-known path and the path-suffixed one.
    metadata_paths: [String; 2],
    bindings: binding::Bindings,
}

/// How a request was refused (before the protocol saw it).
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// No bearer token: 401 with the bare challenge.
    Missing,
    /// A malformed `Authorization` header: 400 `invalid_request`.
    Malformed(&'static str),
    /// 401 `invalid_token`.
    Invalid(String),
    /// 403 `insufficient_scope`.
    Scope,
    /// 503: the verifier could not check.
    Unavailable,
    /// 404: the session is not this identity's (or unknown).
    NotYourSession,
}

impl Auth {
    pub(crate) fn new(config: AuthConfig) -> Self {
        let metadata = Bytes::from(config.metadata().to_string());
        let metadata_url = config.metadata_url();
        let (_, path) = config.resource.split();
        let suffixed = if path == "/" {
            METADATA_PATH.to_owned()
        } else {
            format!("{METADATA_PATH}{path}")
        };
        let bindings = binding::Bindings::new(config.max_bound_sessions);
        Self {
            config,
            metadata,
            metadata_url,
            metadata_paths: [METADATA_PATH.to_owned(), suffixed],
            bindings,
        }
    }

    /// Admits `req` or answers it: the one hook of the HTTP service. `inner` serves an admitted
    /// request; a session its response creates is bound to the request's identity.
    pub(crate) async fn guard<B, F, Fut, R>(&self, shared: &Shared, req: Request<B>, inner: F) -> R
    where
        F: FnOnce(Request<B>) -> Fut,
        Fut: Future<Output = R>,
        R: Answer,
    {
        let path = req.uri().path();
        if self.metadata_paths.iter().any(|p| p == path) {
            return R::from_response(self.metadata_response(req.method()));
        }
        if UNAUTHENTICATED_PATHS.contains(&path) {
            return inner(req).await;
        }
        let identity = match self.authenticate(req.headers()).await {
            Ok(identity) => identity,
            Err(refusal) => return R::from_response(self.refuse(&refusal)),
        };
        // A 2026-07-28 request has no session (the core ignores any `Mcp-Session-Id` on it).
        let stateless = req
            .headers()
            .get(mcpx_proto::http::MCP_PROTOCOL_VERSION)
            .is_some_and(|v| {
                v.as_bytes() == mcpx_proto::ProtocolVersion::V2026_07_28.as_str().as_bytes()
            });
        let session = req
            .headers()
            .get(mcpx_proto::http::MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|_| !stateless)
            .map(str::to_owned)
            .or_else(|| legacy_connection(shared, &req));
        if let Some(id) = &session
            && !self.bindings.is_owner(id, &identity.subject)
        {
            return R::from_response(self.refuse(&Refusal::NotYourSession));
        }
        let is_delete = req.method() == Method::DELETE;
        let answer = inner(req).await;
        let resp = answer.response();
        match &session {
            None => {
                let legacy = resp
                    .extensions()
                    .get::<LegacyConnection>()
                    .map(|c| c.0.as_str());
                if resp.status().is_success()
                    && let Some(new) = resp
                        .headers()
                        .get(mcpx_proto::http::MCP_SESSION_ID)
                        .and_then(|v| v.to_str().ok())
                        .or(legacy)
                {
                    self.bindings
                        .bind(new, &identity.subject, |id| session_alive(shared, id));
                }
            }
            // The session ended (deleted, expired, evicted): forget its owner.
            Some(id)
                if resp.status() == StatusCode::NOT_FOUND
                    || is_delete && resp.status().is_success() =>
            {
                self.bindings.unbind(id);
            }
            Some(_) => {}
        }
        answer
    }

    /// The identity behind the request's bearer token, checked for expiry, audience and
    /// scopes.
    async fn authenticate(&self, headers: &http::HeaderMap) -> Result<Identity, Refusal> {
        let token = bearer_token(headers)?;
        let identity = match self.config.verifier.verify(token).await {
            Ok(identity) => identity,
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "token verification unavailable");
                return Err(Refusal::Unavailable);
            }
            Err(e) => return Err(Refusal::Invalid(e.message)),
        };
        self.check(&identity, SystemTime::now())?;
        Ok(identity)
    }

    /// The checks made on every identity, whichever verifier produced it.
    fn check(&self, identity: &Identity, now: SystemTime) -> Result<(), Refusal> {
        if identity.subject.is_empty() {
            return Err(Refusal::Invalid("the token names no subject".into()));
        }
        if identity.expires_at.is_some_and(|exp| exp <= now) {
            return Err(Refusal::Invalid("the token has expired".into()));
        }
        let ours = identity.audience.iter().any(|aud| {
            self.config.resource.matches(aud)
                || self.config.extra_audiences.iter().any(|a| a.matches(aud))
        });
        if !ours {
            return Err(Refusal::Invalid(
                "the token was not issued for this resource (audience)".into(),
            ));
        }
        if self
            .config
            .required_scopes
            .iter()
            .any(|s| !identity.scopes.contains(s))
        {
            return Err(Refusal::Scope);
        }
        Ok(())
    }

    fn metadata_response(&self, method: &Method) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD && method != Method::OPTIONS {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, Bytes::new());
            resp.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            return resp;
        }
        let mut resp = plain(StatusCode::OK, self.metadata.clone());
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Public by definition, and browser-based clients (the MCP Inspector) read it
        // cross-origin.
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=3600"),
        );
        resp
    }

    /// The `WWW-Authenticate` value for a refusal (RFC 6750 section 3, RFC 9728 section 5.1).
    fn challenge(&self, refusal: &Refusal) -> String {
        let mut v = format!("Bearer resource_metadata=\"{}\"", quote(&self.metadata_url));
        let scope = self.config.required_scopes.join(" ");
        match refusal {
            Refusal::Missing => {}
            Refusal::Malformed(why) => {
                v.push_str(&format!(
                    ", error=\"invalid_request\", error_description=\"{}\"",
                    quote(why)
                ));
            }
            Refusal::Invalid(why) => {
                v.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{}\"",
                    quote(why)
                ));
            }
            Refusal::Scope => {
                v.push_str(", error=\"insufficient_scope\"");
                v.push_str(", error_description=\"the token lacks a required scope\"");
            }
            Refusal::Unavailable | Refusal::NotYourSession => {}
        }
        if !scope.is_empty() {
            v.push_str(&format!(", scope=\"{}\"", quote(&scope)));
        }
        v
    }

    fn refuse(&self, refusal: &Refusal) -> Response<ResponseBody> {
        let (status, message) = match refusal {
            Refusal::Missing => (StatusCode::UNAUTHORIZED, "authorization required"),
            Refusal::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed Authorization header"),
            Refusal::Invalid(_) => (StatusCode::UNAUTHORIZED, "invalid token"),
            Refusal::Scope => (StatusCode::FORBIDDEN, "insufficient scope"),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "token verification is unavailable; retry later",
            ),
            Refusal::NotYourSession => (StatusCode::NOT_FOUND, "Session not found"),
        };
        let code = match refusal {
            // The TypeScript SDK's code for an unknown session: the same answer as for a
            // session that does not exist, so a stolen id tells nothing.
            Refusal::NotYourSession => ErrorCode(-32001),
            _ => ErrorCode::INVALID_REQUEST,
        };
        let mut buf = BytesMut::new();
        let _ = mcpx_wire::encode_error(
            &mut buf,
            None,
            mcpx_wire::MissingId::Null,
            code,
            message,
            None::<&()>,
        );
        let mut resp = plain(status, buf.freeze());
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match refusal {
            Refusal::Unavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Refusal::NotYourSession => {}
            _ => {
                if let Ok(v) = HeaderValue::from_str(&self.challenge(refusal)) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
        }
        resp
    }
}

/// What the inner service answers: a response, or one in an infallible `Result`.
pub(crate) trait Answer {
    fn from_response(resp: Response<ResponseBody>) -> Self;
    fn response(&self) -> &Response<ResponseBody>;
}

impl Answer for Response<ResponseBody> {
    fn from_response(resp: Response<ResponseBody>) -> Self {
        resp
    }

    fn response(&self) -> &Response<ResponseBody> {
        self
    }
}

impl Answer for Result<Response<ResponseBody>, std::convert::Infallible> {
    fn from_response(resp: Response<ResponseBody>) -> Self {
        Ok(resp)
    }

    fn response(&self) -> &Response<ResponseBody> {
        match self {
            Ok(r) => r,
            Err(never) => match *never {},
        }
    }
}

/// Names the legacy HTTP+SSE connection a `GET /sse` response opened (in the response's
/// extensions, never on the wire), so bearer mode binds it like a session.
#[derive(Clone, Debug)]
pub(crate) struct LegacyConnection(pub(crate) String);

/// The legacy connection a `POST /messages?sessionId=...` names, when that transport is on.
fn legacy_connection<B>(shared: &Shared, req: &Request<B>) -> Option<String> {
    let legacy = shared.legacy.as_ref()?;
    if !legacy.owns(req.uri().path()) || req.uri().path() != crate::legacy::MESSAGES_PATH {
        return None;
    }
    // A POST without an id is refused by the transport itself (400).
    crate::legacy::session_param(req.uri().query()?).map(str::to_owned)
}

/// Whether the server still holds session `id` (for dropping bindings of ended sessions).
fn session_alive(shared: &Shared, id: &str) -> bool {
    mcpx_proto::SessionId::new(id)
        .is_some_and(|id| shared.session_capabilities(Some(&id)).is_some())
}

fn plain(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut resp = Response::new(Full::new(body).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

/// Escapes a value for a quoted-string (RFC 9110 section 5.6.4); control characters, which
/// a header value cannot hold, become spaces.
fn quote(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            c if c.is_control() || !c.is_ascii() => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// The bearer token of the request (RFC 6750 section 2.1), or why there is none.
fn bearer_token(headers: &http::HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Refusal::Missing);
    };
    if values.next().is_some() {
        return Err(Refusal::Malformed("more than one Authorization header"));
    }
    if value.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Malformed("the Authorization header is too long"));
    }
    let value = value
        .to_str()
        .map_err(|_| Refusal::Malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme is no bearer token at all: the bare challenge (RFC 6750 section 3.1).
        return Err(Refusal::Missing);
    }
    let token = token.trim_matches(' ');
    // b64token (RFC 6750 section 2.1): letters, digits and -._~+/ then any '='.
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !valid {
        return Err(Refusal::Malformed("the bearer token is not a b64token"));
    }
    Ok(token)
}

/// A space-separated scope string (RFC 6749 section 3.3) as a set.
pub(crate) fn parse_scopes(s: &str) -> BTreeSet<String> {
    s.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
