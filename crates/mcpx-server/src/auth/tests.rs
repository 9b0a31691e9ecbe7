//! Unit tests of bearer mode: header parsing, challenges, metadata, the identity checks and
//! the JWT verifier with fixed test keys.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::*;

/// A P-256 test key (`kid` "k1"), and its public half as a JWK.
const KEY1: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSHVTyNHiWH20CG0H
T/xz8YNwdD9AkCkpEGJXdJ0K/QChRANCAATRVSDaVHe7DjCLU0VC5Y0iIG5LGhkf
vgnh0AWlsNBe2e41W3UxvYc3CnrS/pZNGpHIMNnVAPi8x9rkdhND0GvF
-----END PRIVATE KEY-----
";
const JWK1: &str = r#"{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"0VUg2lR3uw4wi1NFQuWNIiBuSxoZH74J4dAFpbDQXtk","y":"7jVbdTG9hzcKetL-lk0akcgw2dUA-LzH2uR2E0PQa8U"}"#;
/// Another P-256 key, not in the set.
const KEY2: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg86ZbGj44ZQI/QXnc
/yJUvMYDFNR8nfvRcFhEFQ3NLzChRANCAARM4sERYzTcMYv7YBRk5enWz9hWGOMA
8ElX0TOF32lvPcxd8pNPfmslhqG+SWQpkI/7pzT6yMOR3CQr4oWuj0m9
-----END PRIVATE KEY-----
";

const RESOURCE: &str = "https://mcp.example.com/mcp";

struct Fixed(Result<Identity, VerifyError>);

impl TokenVerifier for Fixed {
    fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
        let r = self.0.clone();
        Box::pin(async move { r })
    }
}

fn auth(scopes: &[&str]) -> Auth {
    let mut c = AuthConfig::new(RESOURCE, Fixed(Err(VerifyError::invalid("x")))).unwrap();
    c.authorization_server("https://as.example.com");
    for s in scopes {
        c.require_scope(s);
    }
    Auth::new(c)
}

fn headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn bearer_header_parsing() {
    assert_eq!(bearer_token(&headers(&[])), Err(Refusal::Missing));
    assert_eq!(
        bearer_token(&headers(&["Bearer abc.DEF-_~+/=="])),
        Ok("abc.DEF-_~+/==")
    );
    assert_eq!(bearer_token(&headers(&["bearer  tok "])), Ok("tok"));
    // Another scheme is no bearer token: the bare challenge, not an error.
    assert_eq!(
        bearer_token(&headers(&["Basic dXNlcjpwYXNz"])),
        Err(Refusal::Missing)
    );
    for bad in [
        &["Bearer"][..],
        &["Bearer a b"],
        &["Bearer a\"b"],
        &["Bearer ==="],
        &["Bearer a", "Bearer b"],
    ] {
        assert!(
            matches!(bearer_token(&headers(bad)), Err(Refusal::Malformed(_))),
            "{bad:?}"
        );
    }
    let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
    assert!(matches!(
        bearer_token(&headers(&[&long])),
        Err(Refusal::Malformed(_))
    ));
}

#[test]
fn challenges_name_the_metadata_and_the_scopes() {
    let a = auth(&["mcp:tools"]);
    let url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
    assert_eq!(
        a.challenge(&Refusal::Missing),
        format!("Bearer resource_metadata=\"{url}\", scope=\"mcp:tools\"")
    );
    let c = a.challenge(&Refusal::Invalid("the token has \"expired\"".into()));
    assert!(
        c.contains("error=\"invalid_token\"") && c.contains(r#"has \"expired\""#),
        "{c}"
    );
    let c = a.challenge(&Refusal::Scope);
    assert!(
        c.contains("error=\"insufficient_scope\"") && c.contains("scope=\"mcp:tools\""),
        "{c}"
    );
    // No required scope: no scope parameter.
    assert_eq!(
        auth(&[]).challenge(&Refusal::Missing),
        format!("Bearer resource_metadata=\"{url}\"")
    );

    let r = a.refuse(&Refusal::Scope);
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    let r = a.refuse(&Refusal::NotYourSession);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.headers().contains_key(header::WWW_AUTHENTICATE));
    let r = a.refuse(&Refusal::Unavailable);
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        a.refuse(&Refusal::Malformed("x")).status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn metadata_document_and_paths() {
    let a = auth(&["mcp:tools"]);
    let doc: serde_json::Value = serde_json::from_slice(&a.metadata).unwrap();
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"][0], "https://as.example.com");
    assert_eq!(doc["scopes_supported"][0], "mcp:tools");
    assert_eq!(doc["bearer_methods_supported"][0], "header");
    assert_eq!(
        a.metadata_paths,
        [
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp"
        ]
    );
    // A resource at the root: one path, no suffix.
    let c = AuthConfig::new(
        "http://127.0.0.1:8080/",
        Fixed(Err(VerifyError::invalid("x"))),
    )
    .unwrap();
    assert_eq!(c.resource(), "http://127.0.0.1:8080");
    assert_eq!(
        c.metadata_url(),
        "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
    );
}

#[test]
fn canonical_urls_compare_as_rfc_8707_says() {
    let c = CanonicalUrl::parse("HTTPS://MCP.Example.com:443/mcp/#frag").unwrap();
    assert_eq!(c.0, "https://mcp.example.com/mcp");
    assert!(c.matches("https://mcp.example.com/mcp"));
    assert!(c.matches("https://MCP.EXAMPLE.COM/mcp/"));
    assert!(
        !c.matches("https://mcp.example.com/MCP"),
        "paths are case-sensitive"
    );
    assert!(!c.matches("https://mcp.example.com"));
    assert!(!c.matches("https://evil.example.com/mcp"));
    assert!(!c.matches("http://mcp.example.com/mcp"));
    assert!(CanonicalUrl::parse("ftp://x/").is_err());
    assert!(CanonicalUrl::parse("https://x/mcp?a=b").is_err());
}

#[test]
fn identity_checks_expiry_audience_scope() {
    let a = auth(&["mcp:tools"]);
    let now = SystemTime::now();
    let good = Identity::new("alice")
        .with_scopes(["mcp:tools", "other"])
        .with_audience(["https://other.example.com", RESOURCE])
        .with_expiry(now + Duration::from_secs(60));
    assert_eq!(a.check(&good, now), Ok(()));
    let expired = good.clone().with_expiry(now - Duration::from_secs(1));
    assert!(matches!(a.check(&expired, now), Err(Refusal::Invalid(m)) if m.contains("expired")));
    let foreign = good.clone().with_audience(["https://other.example.com"]);
    assert!(matches!(a.check(&foreign, now), Err(Refusal::Invalid(m)) if m.contains("audience")));
    let no_aud = good.clone().with_audience(Vec::<String>::new());
    assert!(matches!(a.check(&no_aud, now), Err(Refusal::Invalid(_))));
    let few = good.clone().with_scopes(["other"]);
    assert_eq!(a.check(&few, now), Err(Refusal::Scope));
    let nobody = Identity {
        subject: String::new(),
        ..good.clone()
    };
    assert!(matches!(a.check(&nobody, now), Err(Refusal::Invalid(_))));
    // An extra accepted audience.
    let mut c = AuthConfig::new(RESOURCE, Fixed(Err(VerifyError::invalid("x")))).unwrap();
    c.accept_audience("api://mcp");
    let api = good
        .with_audience(["api://mcp"])
        .with_scopes(Vec::<String>::new());
    assert_eq!(Auth::new(c).check(&api, now), Ok(()));
}

fn sign(pem: &str, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &h,
        claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(exp_in: i64) -> serde_json::Value {
    let now = jwt::unix_now() as i64;
    serde_json::json!({
        "iss": "https://as.example.com", "sub": "alice", "aud": RESOURCE,
        "exp": now + exp_in, "iat": now, "scope": "mcp:tools read", "scp": ["extra"],
    })
}

#[tokio::test]
async fn jwt_verifier_checks_signature_issuer_expiry_and_alg() {
    let v = JwksVerifier::from_jwks(&format!(r#"{{"keys":[{JWK1},{{"kty":"weird"}}]}}"#))
        .unwrap()
        .issuer("https://as.example.com");
    let id = v
        .verify(&sign(KEY1, Some("k1"), &claims(300)))
        .await
        .unwrap();
    assert_eq!(id.subject, "alice");
    assert_eq!(id.audience, [RESOURCE]);
    assert!(
        ["mcp:tools", "read", "extra"]
            .iter()
            .all(|s| id.scopes.contains(*s)),
        "{:?}",
        id.scopes
    );
    assert!(id.expires_at.is_some());
    // No kid: every key of the family is tried.
    assert!(v.verify(&sign(KEY1, None, &claims(300))).await.is_ok());
    // Signed by a key outside the set, under its kid.
    let e = v
        .verify(&sign(KEY2, Some("k1"), &claims(300)))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("signature") && !e.is_unavailable(),
        "{e}"
    );
    // Unknown kid.
    assert!(
        v.verify(&sign(KEY1, Some("k9"), &claims(300)))
            .await
            .is_err()
    );
    // Expired beyond the leeway.
    let e = v
        .verify(&sign(KEY1, Some("k1"), &claims(-120)))
        .await
        .unwrap_err();
    assert!(e.message().contains("expired"), "{e}");
    // Another issuer.
    let mut c = claims(300);
    c["iss"] = "https://evil.example.com".into();
    assert!(v.verify(&sign(KEY1, Some("k1"), &c)).await.is_err());
    // No subject.
    let mut c = claims(300);
    c.as_object_mut().unwrap().remove("sub");
    assert!(v.verify(&sign(KEY1, Some("k1"), &c)).await.is_err());
    // HS256 (algorithm confusion) refused before any key is looked at.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(300),
        &EncodingKey::from_secret(b"k"),
    )
    .unwrap();
    let e = v.verify(&hs).await.unwrap_err();
    assert!(e.message().contains("symmetric"), "{e}");
    // Garbage.
    for junk in ["", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30."] {
        assert!(v.verify(junk).await.is_err(), "{junk:?}");
    }
}

#[test]
fn jwks_documents_are_bounded_and_filtered() {
    assert!(JwksVerifier::from_jwks("{}").is_err());
    assert!(JwksVerifier::from_jwks(r#"{"keys":[]}"#).is_err());
    // Symmetric and encryption keys are not signing keys.
    assert!(JwksVerifier::from_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).is_err());
    let enc = JWK1.replace(r#""use":"sig""#, r#""use":"enc""#);
    assert!(JwksVerifier::from_jwks(&format!(r#"{{"keys":[{enc}]}}"#)).is_err());
    let many = vec![JWK1; MAX_JWKS_KEYS + 5].join(",");
    let v = JwksVerifier::from_jwks(&format!(r#"{{"keys":[{many}]}}"#)).unwrap();
    assert_eq!(v.current().keys.len(), MAX_JWKS_KEYS);
    assert!(JwksVerifier::from_file("/nonexistent/jwks.json").is_err());
}
