//! The sandbox's certificate authority and the control plane's certificate.
//!
//! The authority is made once and kept, so whatever trusts it (the node's agent, the cluster
//! calling its admission webhook) keeps trusting the sandbox across restarts. The control
//! plane's certificate is issued anew at every start for the addresses it listens on then.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::layout::write_atomically;

const AUTHORITY_NAME: &str = "podid sandbox certificate authority";

/// Files of the sandbox's TLS material.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub authority_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Makes (or keeps) the authority in `dir` and issues a server certificate for `addresses`
/// and `localhost`.
pub fn prepare(dir: &Path, addresses: &[IpAddr]) -> Result<TlsFiles, String> {
    let (authority_key, authority_params) = authority(dir)?;
    let issuer = Issuer::new(authority_params, authority_key);

    let mut params = CertificateParams::new(vec!["localhost".to_owned()])
        .map_err(|e| format!("server certificate: {e}"))?;
    params
        .subject_alt_names
        .extend(addresses.iter().map(|ip| SanType::IpAddress(*ip)));
    params
        .distinguished_name
        .push(DnType::CommonName, "podid sandbox control plane");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(|e| format!("server key: {e}"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("signing the server certificate: {e}"))?;

    let files = TlsFiles {
        authority_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    write(&files.server_cert, cert.pem().as_bytes())?;
    write(&files.server_key, key.serialize_pem().as_bytes())?;
    Ok(files)
}

/// The authority's key and the parameters it signs with, made on the first call.
fn authority(dir: &Path) -> Result<(KeyPair, CertificateParams), String> {
    let key_path = dir.join("ca.key");
    let params = authority_params()?;
    if let Ok(pem) = std::fs::read_to_string(&key_path) {
        let key = KeyPair::from_pem(&pem).map_err(|e| format!("{}: {e}", key_path.display()))?;
        return Ok((key, params));
    }
    let key = KeyPair::generate().map_err(|e| format!("authority key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("signing the authority: {e}"))?;
    write(&key_path, key.serialize_pem().as_bytes())?;
    write(&dir.join("ca.crt"), cert.pem().as_bytes())?;
    Ok((key, params))
}

/// The same name every time, so certificates issued after a restart chain to the authority
/// certificate made at the first start.
fn authority_params() -> Result<CertificateParams, String> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| format!("authority: {e}"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, AUTHORITY_NAME);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A TLS client configuration that trusts only the sandbox's authority.
pub fn client_config(authority_cert: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let pem = std::fs::read(authority_cert)
        .map_err(|e| format!("cannot read {}: {e}", authority_cert.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        let cert: rustls::pki_types::CertificateDer<'static> =
            cert.map_err(|e| format!("{}: {e}", authority_cert.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", authority_cert.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_kept_and_server_certificates_are_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let local = [IpAddr::from([127, 0, 0, 1])];
        let first = prepare(dir.path(), &local).unwrap();
        let authority = std::fs::read(&first.authority_cert).unwrap();
        let server = std::fs::read(&first.server_cert).unwrap();
        let second = prepare(dir.path(), &local).unwrap();
        assert_eq!(std::fs::read(&second.authority_cert).unwrap(), authority);
        assert_ne!(std::fs::read(&second.server_cert).unwrap(), server);
        assert!(client_config(&second.authority_cert).is_ok());
    }
}
