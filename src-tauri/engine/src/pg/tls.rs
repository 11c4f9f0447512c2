//! One rustls setup for every TLS connection Lifeboat makes: PostgreSQL servers (tokio-postgres)
//! and web servers holding backups (reqwest). The ring provider, safe protocol versions, and
//! the webpki roots unless the user gives a root certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::base::error::{Error, Result};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Encrypt, whoever is at the other end (libpq's sslmode=require without a root certificate).
    EncryptOnly,
    /// The chain up to `roots`, not the host name (libpq's verify-ca).
    Chain,
    /// The chain and the host name (libpq's verify-full; every HTTPS download).
    ChainAndHost,
}

/// The client settings for `check`; `roots` is unused for [`Check::EncryptOnly`].
pub(crate) fn client_config(
    check: Check,
    roots: RootCertStore,
) -> std::result::Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let roots = Arc::new(roots);
    let chain = match check {
        Check::ChainAndHost => {
            return Ok(builder.with_root_certificates(roots).with_no_client_auth());
        }
        Check::EncryptOnly => None,
        Check::Chain => Some(
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?,
        ),
    };
    let verifier = Arc::new(LibpqVerifier { provider, chain });
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// The webpki roots, or the certificates of the user's PEM file.
pub(crate) fn root_store(root_cert: Option<&str>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let invalid =
                |problem: String| Error::InvalidInput { field: "root certificate", problem };
            let pem = std::fs::read(Path::new(path))
                .map_err(|e| invalid(format!("cannot read {path}: {e}")))?;
            let mut reader = pem.as_slice();
            for cert in rustls_pemfile::certs(&mut reader) {
                let cert = cert
                    .map_err(|e| invalid(format!("{path} is not a PEM certificate file: {e}")))?;
                roots.add(cert).map_err(|e| invalid(format!("{path}: {e}")))?;
            }
            if roots.is_empty() {
                return Err(invalid(format!("{path} holds no certificate")));
            }
        }
    }
    Ok(roots)
}

/// The two checks rustls has no built-in setting for: encrypt without checking who is at the
/// other end (libpq's sslmode=require), and check the chain but not the host name (verify-ca).
/// Handshake signatures are verified either way.
#[derive(Debug)]
struct LibpqVerifier {
    provider: Arc<CryptoProvider>,
    /// The chain check; `None` for encrypt-only.
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
