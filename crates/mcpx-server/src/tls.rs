//! TLS for [`Server::serve`](crate::Server::serve): the certificate chain and key (PEM files)
//! turned into a rustls acceptor that offers ALPN `h2` and `http/1.1`.
//!
//! rustls on the `ring` provider (pure Rust plus a C compiler; `aws-lc-rs` would need cmake),
//! the same provider the client and `mcpx record` use. After the handshake the connection is
//! served exactly like a plain one: hyper-util's auto builder reads the HTTP/2 preface when ALPN
//! chose `h2`, and HTTP/1.1 otherwise, so both versions share one port.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A server certificate and key, ready to terminate TLS (ALPN `h2`, `http/1.1`); give it to
/// [`ServerBuilder::tls`](crate::ServerBuilder::tls).
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) acceptor: TlsAcceptor,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// Why a certificate or key could not be used. Its message names the file (or the input) and
/// what is wrong with it; fix that file (a PEM `CERTIFICATE` chain, leaf first, and its PEM
/// private key: PKCS#8, PKCS#1 or SEC1).
#[derive(Debug)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key from files.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file that cannot be read, holds no certificate or key, or
    /// whose key does not match the certificate.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                TlsError(format!(
                    "cannot read the TLS {what} {}: {e}",
                    path.display()
                ))
            })
        };
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "key")?;
        Self::build(
            &cert_pem,
            &key_pem,
            &cert.display().to_string(),
            &key.display().to_string(),
        )
    }

    /// The same from PEM text in memory (tests, secrets from a vault).
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Self::from_pem_files).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_pem, key_pem, "the certificate PEM", "the key PEM")
    }

    fn build(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_name: &str,
        key_name: &str,
    ) -> Result<Self, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError(format!("{cert_name}: not a PEM certificate chain: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError(format!(
                "{cert_name}: no `BEGIN CERTIFICATE` block in it"
            )));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError(format!("{key_name}: no usable PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("TLS setup: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError(format!("{cert_name} with {key_name}: {e}")))?;
        // h2 first: a client that speaks both gets multiplexing.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
