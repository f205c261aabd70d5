//! TLS for the API listener, from PEM files.

use std::path::Path;
use std::sync::Arc;

use podid_http::TlsAcceptor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Reads the certificate chain and key, and checks that they belong together.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, String> {
    let chain = read_chain(&config.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .map_err(|e| format!("tls key_file {}: {e}", config.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls cert_file and key_file do not make a usable pair: {e}"))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("tls cert_file {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls cert_file {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "tls cert_file {} holds no certificate",
            path.display()
        ));
    }
    Ok(chain)
}
