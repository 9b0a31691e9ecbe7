//! A small OAuth 2.1 authorization server for the bearer-mode tests: RFC 8414 metadata, a JWKS,
//! dynamic client registration (RFC 7591), an authorization endpoint that approves at once
//! (302 to the redirect URI with a code), and a token endpoint for the authorization-code grant
//! with PKCE S256 that issues ES256 JWTs whose `aud` is the `resource` the client asked for
//! (RFC 8707). Also a minimal HTTP/1.1 client for the tests. Plain threads and blocking
//! sockets on 127.0.0.1; every connection is closed after one exchange.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The signing key (P-256, fixed for the tests; `kid` "k1").
pub(crate) const KEY1: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSHVTyNHiWH20CG0H
T/xz8YNwdD9AkCkpEGJXdJ0K/QChRANCAATRVSDaVHe7DjCLU0VC5Y0iIG5LGhkf
vgnh0AWlsNBe2e41W3UxvYc3CnrS/pZNGpHIMNnVAPi8x9rkdhND0GvF
-----END PRIVATE KEY-----
";
/// Its public half.
pub(crate) const JWK1: &str = r#"{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"0VUg2lR3uw4wi1NFQuWNIiBuSxoZH74J4dAFpbDQXtk","y":"7jVbdTG9hzcKetL-lk0akcgw2dUA-LzH2uR2E0PQa8U"}"#;

/// The subject every authorization is for.
pub(crate) const USER: &str = "alice";

/// Longest request the server reads (bytes).
const MAX_REQUEST: usize = 64 * 1024;

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    resource: Option<String>,
    scope: String,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Value>,
    codes: HashMap<String, Code>,
}

/// A running authorization server; stops on drop.
pub(crate) struct AuthServer {
    /// `http://127.0.0.1:<port>`: the issuer.
    pub(crate) issuer: String,
    stop: Arc<AtomicBool>,
    /// How many JWKS fetches it served.
    pub(crate) jwks_fetches: Arc<AtomicU64>,
    /// How many introspection requests it answered.
    pub(crate) introspections: Arc<AtomicU64>,
}

/// The resource server's credentials at the introspection endpoint.
pub(crate) const RS_CLIENT: (&str, &str) = ("mcpx-rs", "rs secret/+");

impl AuthServer {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let jwks_fetches = Arc::new(AtomicU64::new(0));
        let introspections = Arc::new(AtomicU64::new(0));
        let state = Arc::new(Mutex::new(State::default()));
        {
            let (issuer, stop) = (issuer.clone(), stop.clone());
            let fetches = [jwks_fetches.clone(), introspections.clone()];
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let (issuer, state, fetches) =
                                (issuer.clone(), state.clone(), fetches.clone());
                            std::thread::spawn(move || {
                                let _ = serve_one(sock, &issuer, &state, &fetches);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Self {
            issuer,
            stop,
            jwks_fetches,
            introspections,
        }
    }

    pub(crate) fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// A token signed by the server's key with these claims over the defaults.
    pub(crate) fn token(&self, aud: &str, sub: &str, scope: &str, exp_in: i64) -> String {
        sign(&json!({
            "iss": self.issuer, "sub": sub, "aud": aud, "scope": scope,
            "exp": now() + exp_in, "iat": now(),
        }))
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) fn sign(claims: &Value) -> String {
    sign_with_kid(claims, "k1")
}

/// Signed by the server's key but naming key `kid` (a rotation the resource has not seen).
pub(crate) fn sign_with_kid(claims: &Value, kid: &str) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(
        &h,
        claims,
        &EncodingKey::from_ec_pem(KEY1.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn random() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    b64(&Sha256::digest(format!("{n}-{t}").as_bytes())[..18])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `a=b&c=d` (form or query) decoded.
pub(crate) fn form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One parsed request.
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

fn read_request(sock: &mut BufReader<TcpStream>) -> std::io::Result<Req> {
    let mut line = String::new();
    sock.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        sock.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = vec![0; len];
    sock.read_exact(&mut body)?;
    Ok(Req {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    })
}

fn respond(sock: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes());
    let _ = sock.write_all(body);
}

fn json_response(sock: &mut TcpStream, status: u16, v: &Value) {
    respond(
        sock,
        status,
        &[
            ("Content-Type", "application/json".into()),
            ("Cache-Control", "no-store".into()),
        ],
        v.to_string().as_bytes(),
    );
}

fn serve_one(
    sock: TcpStream,
    issuer: &str,
    state: &Mutex<State>,
    fetches: &[Arc<AtomicU64>; 2],
) -> std::io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = sock.try_clone()?;
    let req = read_request(&mut BufReader::new(sock))?;
    let s = &mut out;
    match (req.method.as_str(), req.path.as_str()) {
        (
            "GET",
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration",
        ) => json_response(
            s,
            200,
            &json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "registration_endpoint": format!("{issuer}/register"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
                "scopes_supported": ["mcp:tools"],
                "authorization_response_iss_parameter_supported": true,
            }),
        ),
        ("GET", "/jwks") => {
            fetches[0].fetch_add(1, Ordering::Relaxed);
            let jwks = format!(r#"{{"keys":[{JWK1}]}}"#);
            respond(
                s,
                200,
                &[("Content-Type", "application/json".into())],
                jwks.as_bytes(),
            );
        }
        ("POST", "/register") => {
            let Ok(mut meta) = serde_json::from_slice::<Value>(&req.body) else {
                json_response(s, 400, &json!({"error": "invalid_client_metadata"}));
                return Ok(());
            };
            let id = format!("client-{}", random());
            meta["client_id"] = id.clone().into();
            meta["client_id_issued_at"] = now().into();
            let method = meta["token_endpoint_auth_method"]
                .as_str()
                .unwrap_or("client_secret_basic")
                .to_owned();
            if method != "none" {
                meta["client_secret"] = random().into();
                meta["token_endpoint_auth_method"] = method.into();
            }
            state.lock().unwrap().clients.insert(id, meta.clone());
            json_response(s, 201, &meta);
        }
        ("GET", "/authorize") => {
            let q = form(&req.query);
            let get = |k: &str| q.get(k).cloned().unwrap_or_default();
            let (client_id, redirect_uri) = (get("client_id"), get("redirect_uri"));
            let known = state
                .lock()
                .unwrap()
                .clients
                .get(&client_id)
                .is_some_and(|c| {
                    c["redirect_uris"]
                        .as_array()
                        .is_some_and(|u| u.iter().any(|u| u == redirect_uri.as_str()))
                });
            if !known || get("code_challenge_method") != "S256" || get("response_type") != "code" {
                respond(s, 400, &[], b"bad authorization request");
                return Ok(());
            }
            let code = random();
            state.lock().unwrap().codes.insert(
                code.clone(),
                Code {
                    client_id,
                    redirect_uri: redirect_uri.clone(),
                    challenge: get("code_challenge"),
                    resource: q.get("resource").cloned(),
                    scope: q
                        .get("scope")
                        .cloned()
                        .unwrap_or_else(|| "mcp:tools".into()),
                },
            );
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            let mut location = format!("{redirect_uri}{sep}code={code}&iss={}", escape(issuer));
            if let Some(st) = q.get("state") {
                location.push_str(&format!("&state={}", escape(st)));
            }
            respond(s, 302, &[("Location", location)], b"");
        }
        ("POST", "/token") => {
            let f = form(&String::from_utf8_lossy(&req.body));
            let get = |k: &str| f.get(k).cloned().unwrap_or_default();
            // The client id from the form, or from HTTP Basic.
            let mut client_id = get("client_id");
            if let Some(basic) = req
                .headers
                .get("authorization")
                .and_then(|v| v.strip_prefix("Basic "))
            {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(basic)
                    .unwrap_or_default();
                let decoded = String::from_utf8_lossy(&decoded).into_owned();
                client_id = unescape(decoded.split(':').next().unwrap_or_default());
            }
            let err = |s: &mut TcpStream, e: &str| json_response(s, 400, &json!({"error": e}));
            if get("grant_type") != "authorization_code" {
                err(s, "unsupported_grant_type");
                return Ok(());
            }
            let Some(code) = state.lock().unwrap().codes.remove(&get("code")) else {
                err(s, "invalid_grant");
                return Ok(());
            };
            let pkce = b64(&Sha256::digest(get("code_verifier").as_bytes()));
            if code.client_id != client_id
                || code.redirect_uri != get("redirect_uri")
                || pkce != code.challenge
            {
                err(s, "invalid_grant");
                return Ok(());
            }
            let Some(aud) = f.get("resource").cloned().or(code.resource) else {
                err(s, "invalid_target");
                return Ok(());
            };
            let token = sign(&json!({
                "iss": issuer, "sub": USER, "aud": aud, "scope": code.scope,
                "client_id": client_id, "exp": now() + 600, "iat": now(),
            }));
            json_response(
                s,
                200,
                &json!({"access_token": token, "token_type": "Bearer", "expires_in": 600, "scope": code.scope}),
            );
        }
        ("POST", "/introspect") => {
            fetches[1].fetch_add(1, Ordering::Relaxed);
            // RFC 7662 section 2.1: the resource server authenticates (client_secret_basic).
            let expected = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                escape(RS_CLIENT.0),
                escape(RS_CLIENT.1).replace("%20", "+")
            ));
            if req.headers.get("authorization") != Some(&format!("Basic {expected}")) {
                json_response(s, 401, &json!({"error": "invalid_client"}));
                return Ok(());
            }
            let f = form(&String::from_utf8_lossy(&req.body));
            let token = f.get("token").cloned().unwrap_or_default();
            // Our own tokens: the payload is trusted as issued (this server signed it).
            let answer = match jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&token) {
                Ok(c) if c["exp"].as_i64().is_some_and(|e| e > now()) => json!({
                    "active": true, "sub": c["sub"], "scope": c["scope"], "exp": c["exp"],
                    "aud": c["aud"], "iss": issuer, "token_type": "Bearer",
                }),
                _ => json!({"active": false}),
            };
            json_response(s, 200, &answer);
        }
        _ => respond(s, 404, &[], b"not found"),
    }
    Ok(())
}

/// One HTTP/1.1 exchange (`Connection: close`): status, headers (lowercase names), body.
pub(crate) fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, HashMap<String, String>, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut sock = TcpStream::connect(authority).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    sock.write_all(req.as_bytes()).unwrap();
    let mut text = Vec::new();
    let _ = sock.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}
