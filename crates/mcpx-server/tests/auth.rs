//! Bearer-token mode through the HTTP stack with a custom [`TokenVerifier`] (the trait is the
//! extension point: any token format or authorization server): the metadata endpoints and their
//! methods, a verifier that cannot reach its source (503 + `Retry-After`), the session binding
//! across identities (Streamable HTTP sessions and legacy HTTP+SSE connections), and a
//! 2026-07-28 request, which has no session to bind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::HashMap;

use mcpx_server::auth::{AuthConfig, Identity, TokenVerifier, VerifyError, VerifyFuture};
use mcpx_server::{Handlers, Server, ToolDef, ToolResult};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Tokens are user names; "down" cannot be checked; anything else is invalid.
struct Names {
    resource: String,
}

impl TokenVerifier for Names {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            match token {
                "alice" | "bob" => Ok(Identity::new(token)
                    .with_scopes(["mcp"])
                    .with_audience([self.resource.as_str()])),
                "down" => Err(VerifyError::unavailable("the authorization server is down")),
                _ => Err(VerifyError::invalid("unknown token")),
            }
        })
    }
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

/// Starts a server in bearer mode; returns its MCP URL's authority.
async fn start() -> String {
    start_with(false).await
}

/// [`start`], with the legacy HTTP+SSE transport on or off.
async fn start_with(legacy: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resource = format!("http://{addr}/mcp");
    let mut auth = AuthConfig::new(
        &resource,
        Names {
            resource: resource.clone(),
        },
    )
    .unwrap();
    auth.authorization_server("https://as.example.com")
        .require_scope("mcp");
    let mut handlers = Handlers::new();
    handlers.tool(ToolDef::new("echo"), |_ctx, a: Text| async move {
        Ok(ToolResult::text(a.text))
    });
    let server = Server::builder()
        .handlers(handlers)
        .auth(auth)
        .legacy_sse(legacy)
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr.to_string()
}

/// One HTTP/1.1 exchange with `Connection: close`: status, headers, body.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, HashMap<String, String>, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut text = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sock.read_to_end(&mut text),
    )
    .await
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

async fn post(
    addr: &str,
    token: Option<&str>,
    session: Option<&str>,
    version: &str,
    body: &Value,
) -> (u16, HashMap<String, String>, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", version),
    ];
    if let Some(b) = &bearer {
        h.push(("Authorization", b));
    }
    if let Some(s) = session {
        h.push(("Mcp-Session-Id", s));
    }
    // 2026-07-28 names the method and tool in headers too.
    let method = body["method"].as_str().unwrap_or_default().to_owned();
    let name = body["params"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if version == "2026-07-28" {
        h.push(("Mcp-Method", &method));
        h.push(("Mcp-Name", &name));
    }
    http(addr, "POST", "/mcp", &h, &body.to_string()).await
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
}

#[tokio::test]
async fn metadata_endpoints_answer_without_a_token() {
    let addr = start().await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let (status, headers, body) = http(&addr, "GET", path, &[], "").await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(headers["content-type"], "application/json");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["resource"], format!("http://{addr}/mcp"));
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://as.example.com"])
        );
        assert_eq!(doc["scopes_supported"], json!(["mcp"]));
    }
    let (status, headers, _) = http(
        &addr,
        "POST",
        "/.well-known/oauth-protected-resource",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 405);
    assert!(headers["allow"].contains("GET"));
    // Another well-known path is no metadata: it needs a token like everything else.
    let (status, _, _) = http(&addr, "GET", "/.well-known/other", &[], "").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_verifier_that_cannot_check_gives_503() {
    let addr = start().await;
    let (status, headers, _) = post(&addr, Some("down"), None, "2025-11-25", &initialize()).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    assert!(!headers.contains_key("www-authenticate"));
    let (status, headers, _) = post(&addr, Some("nobody"), None, "2025-11-25", &initialize()).await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"].contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn sessions_belong_to_the_identity_that_created_them() {
    let addr = start().await;
    let (status, headers, _) = post(&addr, Some("alice"), None, "2025-11-25", &initialize()).await;
    assert_eq!(status, 200);
    let session = headers["mcp-session-id"].clone();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hi"}}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let v = "2025-11-25";
    assert_eq!(
        post(&addr, Some("alice"), Some(&session), v, &initialized)
            .await
            .0,
        202
    );
    let (status, _, body) = post(&addr, Some("alice"), Some(&session), v, &call).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"hi\""), "{body}");
    let (status, _, body) = post(&addr, Some("bob"), Some(&session), v, &call).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("-32001"), "{body}");
    // An id the server never issued is nobody's either.
    assert_eq!(
        post(&addr, Some("alice"), Some("made-up"), v, &call)
            .await
            .0,
        404
    );
    // The stateless era has no session: a stray session header is not checked (the core
    // ignores it), the token still is.
    let modern = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"text": "modern"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}});
    let (status, _, body) = post(&addr, Some("bob"), Some(&session), "2026-07-28", &modern).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"modern\""), "{body}");
    assert_eq!(post(&addr, None, None, "2026-07-28", &modern).await.0, 401);
}

#[tokio::test]
async fn legacy_connections_belong_to_the_identity_that_opened_them() {
    let addr = start_with(true).await;
    // Without a token the stream does not open.
    assert_eq!(http(&addr, "GET", "/sse", &[], "").await.0, 401);
    // Alice opens one; the `endpoint` event names it.
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nAuthorization: Bearer alice\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let id = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let mut buf = [0u8; 1024];
            let n = sock.read(&mut buf).await.unwrap();
            assert!(n > 0, "stream closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if let Some(i) = text.find("sessionId=") {
                let rest = &text[i + "sessionId=".len()..];
                if let Some(end) = rest.find(['\r', '\n']) {
                    return rest[..end].to_owned();
                }
            }
        }
    })
    .await
    .unwrap();
    let path = format!("/messages?sessionId={id}");
    let body = initialize().to_string();
    let post = |token: &'static str| {
        let (addr, path, body) = (addr.clone(), path.clone(), body.clone());
        async move {
            let bearer = format!("Bearer {token}");
            http(
                &addr,
                "POST",
                &path,
                &[
                    ("Content-Type", "application/json"),
                    ("Authorization", &bearer),
                ],
                &body,
            )
            .await
            .0
        }
    };
    assert_eq!(post("bob").await, 404, "another user's connection");
    assert_eq!(post("alice").await, 202);
    drop(sock);
}
