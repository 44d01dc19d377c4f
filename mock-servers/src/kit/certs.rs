//! Real X.509 certificate chains for the mocks (a CA and a leaf signed by it).
//!
//! Midnight's attestation returns a certificate chain and Grahmos serves TLS; both use
//! real certificates with real validity windows, so the certificate-expiry drill can let
//! `notAfter` pass and clients really fail to verify.

use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use time::OffsetDateTime;

/// Why [`CertChain::generate`] failed; the message is the generator's.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused a key, a parameter or a signature.
    #[error(transparent)]
    Generate(#[from] rcgen::Error),
    /// The lifetime does not fit a certificate's validity.
    #[error(transparent)]
    Lifetime(#[from] time::error::ConversionRange),
}

/// A CA certificate and a leaf certificate it signed, in PEM.
#[derive(Clone, Debug)]
pub struct CertChain {
    /// The CA (root) certificate.
    pub ca_pem: String,
    /// The leaf certificate.
    pub leaf_pem: String,
    /// The leaf's private key (PKCS#8 PEM), for serving TLS.
    pub leaf_key_pem: String,
    /// The leaf's `notAfter`.
    pub not_after: SystemTime,
}

/// What to put in a chain.
#[derive(Clone, Debug)]
pub struct ChainSpec<'a> {
    /// Common name of the CA.
    pub ca_name: &'a str,
    /// Common name of the leaf.
    pub leaf_name: &'a str,
    /// Subject alternative names of the leaf (DNS names or IP addresses).
    pub sans: Vec<String>,
    /// The leaf is valid from `now - 1h` to `now + lifetime`.
    pub lifetime: Duration,
}

impl CertChain {
    /// Generates a fresh chain; the error is the generator's message.
    pub fn generate(spec: &ChainSpec<'_>) -> Result<Self, CertError> {
        let now = OffsetDateTime::now_utc();
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, spec.ca_name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = now - time::Duration::days(1);
        ca.not_after = now + time::Duration::days(3650);
        let ca_cert = ca.self_signed(&ca_key)?;

        let leaf_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(spec.sans.clone())?;
        leaf.distinguished_name.push(DnType::CommonName, spec.leaf_name);
        let lifetime = time::Duration::try_from(spec.lifetime)?;
        leaf.not_before = now - time::Duration::hours(1);
        leaf.not_after = now + lifetime;
        let not_after = SystemTime::from(leaf.not_after);
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;
        Ok(Self { ca_pem: ca_cert.pem(), leaf_pem: leaf_cert.pem(), leaf_key_pem: leaf_key.serialize_pem(), not_after })
    }

    /// Seconds until the leaf expires (negative once expired).
    pub fn seconds_to_expiry(&self) -> f64 {
        match self.not_after.duration_since(SystemTime::now()) {
            Ok(left) => left.as_secs_f64(),
            Err(past) => -past.duration().as_secs_f64(),
        }
    }
}
