//! Bearer-token mode end to end: `mcpx serve --auth-jwks` against a small authorization server
//! written for the tests (`auth_as`), driven through the whole OAuth flow by hand (401
//! challenge, protected resource metadata, authorization server metadata, dynamic
//! registration, authorization code with PKCE, token, MCP calls), then every refusal (audience,
//! expiry, scope, malformed header, another user's session); and the official TypeScript and
//! Python SDK clients' OAuth flows (scripts in `tests/interop/auth_*`), each ending with a
//! successful `tools/call`; the introspection verifier against the same server's RFC 7662
//! endpoint. The SDK tests skip with one loud line without `MCPX_PEERS`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod auth_as;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use auth_as::{AuthServer, RS_CLIENT, USER, form, http, sign_with_kid};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::{peers_or_skip, script};

/// Longest a peer client may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `mcpx serve` on a free loopback port; killed on drop.
struct Serve {
    child: Child,
    url: String,
    /// Kept open so later banner lines never hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcpx"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcpx serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected banner {line:?}"
        );
        let mut auth_line = String::new();
        out.read_line(&mut auth_line).unwrap();
        assert!(
            auth_line.contains("OAuth bearer tokens required"),
            "{auth_line:?}"
        );
        Self {
            child,
            url,
            _stdout: out,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(as_: &AuthServer) -> Serve {
    Serve::start(&[
        "--response-mode",
        "json",
        "--auth-jwks",
        &as_.jwks_url(),
        "--auth-issuer",
        &as_.issuer,
        "--auth-scope",
        "mcp:tools",
    ])
}

/// A JSON-RPC POST to the MCP endpoint.
fn mcp(
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> (u16, std::collections::HashMap<String, String>, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    if let Some(b) = &bearer {
        h.push(("Authorization", b));
    }
    if let Some(s) = session {
        h.push(("Mcp-Session-Id", s));
    }
    http("POST", url, &h, &body.to_string())
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "auth-test", "version": "1"}}})
}

fn echo(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hello"}}})
}

/// The value of `name="..."` in a challenge.
fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let len = challenge[start..].find('"')?;
    Some(&challenge[start..start + len])
}

/// The whole OAuth flow by hand, as a spec-following client does it; returns the token.
fn authorize(url: &str) -> String {
    // 1. No token: 401 naming the metadata and the scope.
    let (status, headers, _) = mcp(url, None, None, &initialize());
    assert_eq!(status, 401);
    let challenge = &headers["www-authenticate"];
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_eq!(param(challenge, "scope"), Some("mcp:tools"), "{challenge}");
    assert_eq!(
        param(challenge, "error"),
        None,
        "no token, no error code: {challenge}"
    );
    let prm_url = param(challenge, "resource_metadata").unwrap();
    assert_eq!(
        prm_url,
        url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    );
    // 2. Protected resource metadata (both well-known forms).
    let (status, _, body) = http("GET", prm_url, &[], "");
    assert_eq!(status, 200);
    let prm: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(prm["resource"], url);
    let root = url.trim_end_matches("/mcp");
    let (status, _, bare) = http(
        "GET",
        &format!("{root}/.well-known/oauth-protected-resource"),
        &[],
        "",
    );
    assert_eq!((status, &bare), (200, &body));
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    // 3. Authorization server metadata (RFC 8414).
    let (_, _, body) = http(
        "GET",
        &format!("{issuer}/.well-known/oauth-authorization-server"),
        &[],
        "",
    );
    let asm: Value = serde_json::from_str(&body).unwrap();
    // 4. Dynamic client registration.
    let redirect = "http://127.0.0.1:1/callback";
    let (status, _, body) = http(
        "POST",
        asm["registration_endpoint"].as_str().unwrap(),
        &[("Content-Type", "application/json")],
        &json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"], "client_name": "auth-test"})
        .to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let client: Value = serde_json::from_str(&body).unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    // 5. Authorization code with PKCE (the endpoint approves at once).
    let verifier = "a-code-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let resource = prm["resource"].as_str().unwrap();
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let (status, headers, _) = http(
        "GET",
        &format!(
            "{}?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=xyz&scope=mcp%3Atools&resource={}",
            asm["authorization_endpoint"].as_str().unwrap(),
            enc(redirect),
            enc(resource)
        ),
        &[],
        "",
    );
    assert_eq!(status, 302);
    let query = headers["location"].split_once('?').unwrap().1.to_owned();
    let q = form(&query);
    assert_eq!(q["state"], "xyz");
    // 6. Token.
    let (status, _, body) = http(
        "POST",
        asm["token_endpoint"].as_str().unwrap(),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!(
            "grant_type=authorization_code&code={}&code_verifier={verifier}&client_id={client_id}&redirect_uri={}&resource={}",
            q["code"],
            enc(redirect),
            enc(resource)
        ),
    );
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn oauth_flow_by_hand_then_every_refusal() {
    let as_ = AuthServer::start();
    let serve = start(&as_);
    let url = serve.url.as_str();
    let token = authorize(url);

    // The token opens a session and calls a tool.
    let (status, headers, body) = mcp(url, Some(&token), None, &initialize());
    assert_eq!(status, 200, "{body}");
    let session = headers["mcp-session-id"].clone();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(mcp(url, Some(&token), Some(&session), &initialized).0, 202);
    let (status, _, body) = mcp(url, Some(&token), Some(&session), &echo(2));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello"), "{body}");

    // The session id is no credential: without the token, 401.
    assert_eq!(mcp(url, None, Some(&session), &echo(3)).0, 401);
    // Another user's valid token on alice's session: 404, as for an unknown session.
    let bob = as_.token(url, "bob", "mcp:tools", 300);
    let (status, headers, body) = mcp(url, Some(&bob), Some(&session), &echo(4));
    assert_eq!(status, 404, "{body}");
    assert!(!headers.contains_key("www-authenticate"));
    // Bob's token is fine for a session of his own.
    let (status, headers, _) = mcp(url, Some(&bob), None, &initialize());
    assert_eq!(status, 200);
    assert_ne!(headers["mcp-session-id"], session);

    // A token for another resource (audience): 401 invalid_token.
    let other = as_.token("http://127.0.0.1:1/mcp", USER, "mcp:tools", 300);
    let (status, headers, _) = mcp(url, Some(&other), Some(&session), &echo(5));
    assert_eq!(status, 401);
    assert_eq!(
        param(&headers["www-authenticate"], "error"),
        Some("invalid_token")
    );
    // Expired: 401 invalid_token.
    let expired = as_.token(url, USER, "mcp:tools", -600);
    let (status, headers, _) = mcp(url, Some(&expired), Some(&session), &echo(6));
    assert_eq!(status, 401);
    assert_eq!(
        param(&headers["www-authenticate"], "error"),
        Some("invalid_token")
    );
    // Without the scope: 403 insufficient_scope naming it.
    let narrow = as_.token(url, USER, "other", 300);
    let (status, headers, _) = mcp(url, Some(&narrow), Some(&session), &echo(7));
    assert_eq!(status, 403);
    let c = &headers["www-authenticate"];
    assert_eq!(param(c, "error"), Some("insufficient_scope"), "{c}");
    assert_eq!(param(c, "scope"), Some("mcp:tools"), "{c}");
    assert!(param(c, "resource_metadata").is_some(), "{c}");
    // A forged signature: 401.
    let mut forged = token.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert_eq!(mcp(url, Some(&forged), Some(&session), &echo(8)).0, 401);
    // Malformed header: 400.
    let (status, _, _) = http(
        "POST",
        url,
        &[
            ("Authorization", "Bearer a b"),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(status, 400);
    // The health check needs no token.
    let root = url.trim_end_matches("/mcp");
    assert_eq!(http("GET", &format!("{root}/healthz"), &[], "").0, 200);
    // The JWKS was fetched once for all of this (cached; no unknown kid).
    let fetches = || as_.jwks_fetches.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(fetches(), 1);
    // A token naming an unknown key: one refetch (a rotation?), then 401; another unknown key
    // right after: no fetch (rate-limited), 401.
    let claims = json!({"iss": as_.issuer, "sub": USER, "aud": url, "scope": "mcp:tools",
        "exp": 4_000_000_000u64});
    let (status, headers, _) = mcp(
        url,
        Some(&sign_with_kid(&claims, "k9")),
        None,
        &initialize(),
    );
    assert_eq!(status, 401);
    assert_eq!(
        param(&headers["www-authenticate"], "error"),
        Some("invalid_token")
    );
    assert_eq!(fetches(), 2);
    assert_eq!(
        mcp(
            url,
            Some(&sign_with_kid(&claims, "k8")),
            None,
            &initialize()
        )
        .0,
        401
    );
    assert_eq!(fetches(), 2, "refresh on unknown kid is rate-limited");

    // Alice still works; her DELETE ends the session, after which it is unknown.
    let (status, _, _) = mcp(url, Some(&token), Some(&session), &echo(9));
    assert_eq!(status, 200);
    let bearer = format!("Bearer {token}");
    let (status, _, _) = http(
        "DELETE",
        url,
        &[
            ("Authorization", &bearer),
            ("Mcp-Session-Id", &session),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(mcp(url, Some(&token), Some(&session), &echo(10)).0, 404);
}

#[test]
fn introspection_verifier_end_to_end() {
    let as_ = AuthServer::start();
    let introspect = format!("{}/introspect", as_.issuer);
    let serve = |secret: &str| {
        Serve::start(&[
            "--response-mode",
            "json",
            "--auth-introspect",
            &introspect,
            "--auth-client-id",
            RS_CLIENT.0,
            "--auth-client-secret",
            secret,
            "--auth-issuer",
            &as_.issuer,
            "--auth-scope",
            "mcp:tools",
        ])
    };
    let good = serve(RS_CLIENT.1);
    let url = good.url.as_str();
    let calls = || {
        as_.introspections
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let token = as_.token(url, USER, "mcp:tools", 300);
    let (status, headers, body) = mcp(url, Some(&token), None, &initialize());
    assert_eq!(status, 200, "{body}");
    let session = headers["mcp-session-id"].clone();
    let (status, _, body) = mcp(url, Some(&token), Some(&session), &echo(2));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello"), "{body}");
    assert_eq!(calls(), 1, "the answer is cached");
    // Inactive (expired) tokens: 401, and the negative answer is cached too.
    let expired = as_.token(url, USER, "mcp:tools", -5);
    for _ in 0..2 {
        let (status, headers, _) = mcp(url, Some(&expired), None, &initialize());
        assert_eq!(status, 401);
        assert_eq!(
            param(&headers["www-authenticate"], "error"),
            Some("invalid_token")
        );
    }
    assert_eq!(calls(), 2);
    // Active but for another resource: 401; lacking the scope: 403.
    let other = as_.token("http://127.0.0.1:1/mcp", USER, "mcp:tools", 300);
    assert_eq!(mcp(url, Some(&other), None, &initialize()).0, 401);
    let narrow = as_.token(url, USER, "read", 300);
    assert_eq!(mcp(url, Some(&narrow), None, &initialize()).0, 403);
    // Another user's token on alice's session: 404.
    let bob = as_.token(url, "bob", "mcp:tools", 300);
    assert_eq!(mcp(url, Some(&bob), Some(&session), &echo(3)).0, 404);

    // mcpx with the wrong client secret: the authorization server refuses it, so tokens cannot
    // be checked: 503 with Retry-After (not 401, which would send the client to re-authorize).
    let bad = serve("wrong");
    let (status, headers, _) = mcp(&bad.url, Some(&token), None, &initialize());
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
}

fn sdk_flow(label: &str, program: &Path, script_name: &str) {
    let as_ = AuthServer::start();
    let serve = start(&as_);
    let peers = std::env::var_os("MCPX_PEERS").unwrap_or_default();
    let (ok, text) = run(Command::new(program)
        .arg(script(script_name))
        .arg(&serve.url)
        .env("MCPX_PEERS", peers));
    assert!(
        ok,
        "{label} OAuth flow failed against mcpx serve --auth-jwks:\n{text}"
    );
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.contains("tools/call ok"), "{label}: {text}");
    eprintln!("{label}: {summary}");
}

#[test]
fn typescript_sdk_oauth_flow() {
    let Some(peers) = peers_or_skip("the TypeScript SDK client's OAuth flow") else {
        return;
    };
    let node = peers.join("node_modules/.bin/node");
    assert!(node.exists(), "{} missing", node.display());
    sdk_flow("ts-sdk", &node, "auth_ts_client.mjs");
}

#[test]
fn python_sdk_oauth_flow() {
    let Some(peers) = peers_or_skip("the Python SDK client's OAuth flow") else {
        return;
    };
    let python = peers.join("venv/bin/python");
    assert!(python.exists(), "{} missing", python.display());
    sdk_flow("python-sdk", &python, "auth_py_client.py");
}

/// Runs a client to its end, killed after [`CLIENT_TIMEOUT`].
fn run(cmd: &mut Command) -> (bool, String) {
    support::run_bounded(cmd, CLIENT_TIMEOUT)
}
