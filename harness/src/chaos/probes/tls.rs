//! Probe `tls`: a rustls handshake against the Grahmos edge, verifying the served chain
//! with the edge's CA (and the clock: an expired certificate fails), and the served
//! `notAfter` later than `min_valid` from now. Reports the days to expiry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gameday_mocks::kit::HumanDuration;
use gameday_mocks::services::grahmos::tls::TlsMode;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::chaos::env::DrillEnv;
use crate::chaos::fault_error::FaultError;
use crate::chaos::lookup;
use crate::probe::ProbeOutcome;

pub use crate::spec::probes::tls::Spec;

/// What a successful handshake saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Served {
    /// The leaf certificate's `notAfter`.
    pub not_after: SystemTime,
    /// Days from now to `notAfter` (negative once past).
    pub days_to_expiry: f64,
}

/// Days from now to `t` (negative once past).
pub fn days_until(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::now()) {
        Ok(d) => d.as_secs_f64() / 86_400.0,
        Err(e) => -e.duration().as_secs_f64() / 86_400.0,
    }
}

/// Why a verifying handshake did not complete (the probe fails; an expired or untrusted
/// certificate says so in the TLS error).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The CA is not PEM.
    #[error("CA PEM: {0}")]
    CaPem(rustls_pki_types::pem::Error),
    /// The CA is not a usable trust anchor.
    #[error("CA: {0}")]
    Ca(rustls::Error),
    /// rustls refused the protocol versions.
    #[error("{0}")]
    Config(rustls::Error),
    /// The server name is not a DNS name or IP.
    #[error("server name: {0}")]
    ServerName(rustls_pki_types::InvalidDnsNameError),
    /// No TCP connection.
    #[error("connect {addr}: {reason}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        reason: std::io::Error,
    },
    /// The TLS handshake failed (an expired or untrusted certificate, ...).
    #[error("TLS handshake with {addr}: {reason}")]
    Tls {
        /// The address.
        addr: SocketAddr,
        /// rustls's error, as an I/O error.
        reason: std::io::Error,
    },
    /// The server sent no certificate.
    #[error("no peer certificate")]
    NoCertificate,
    /// The served certificate is not X.509.
    #[error("served certificate: {0}")]
    Served(x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// The served certificate's notAfter is before 1970.
    #[error("notAfter before 1970")]
    Before1970,
    /// No handshake within the timeout.
    #[error("TLS handshake with {0}: timed out")]
    TimedOut(SocketAddr),
}

/// A verifying rustls handshake with `addr` as `server_name`, trusting only `ca_pem`.
pub async fn handshake(
    addr: SocketAddr,
    ca_pem: &str,
    server_name: &str,
    timeout: Duration,
) -> Result<Served, HandshakeError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(HandshakeError::CaPem)?).map_err(HandshakeError::Ca)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(HandshakeError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned()).map_err(HandshakeError::ServerName)?;
    let connect = async {
        let tcp = TcpStream::connect(addr).await.map_err(|reason| HandshakeError::Connect { addr, reason })?;
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|reason| HandshakeError::Tls { addr, reason })?;
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first().cloned());
        let leaf = leaf.ok_or(HandshakeError::NoCertificate)?;
        let _ = tls.shutdown().await;
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf).map_err(HandshakeError::Served)?;
        let secs = u64::try_from(cert.validity().not_after.timestamp()).map_err(|_| HandshakeError::Before1970)?;
        let not_after = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        Ok(Served { not_after, days_to_expiry: days_until(not_after) })
    };
    tokio::time::timeout(timeout, connect).await.map_err(|_| HandshakeError::TimedOut(addr))?
}

/// Runs the probe once.
pub async fn check(spec: &Spec, target: &str, env: &DrillEnv) -> Result<ProbeOutcome, FaultError> {
    let g = lookup::grahmos(env, Some(target), "tls")?;
    if g.tls_mode() == TlsMode::Off {
        return Err(FaultError::Unsupported {
            fault: "tls probe".into(),
            target: target.to_owned(),
            why: "the edge listener is plain HTTP (profile tls = \"off\")".into(),
        });
    }
    let timeout = spec.timeout.map_or(Duration::from_secs(5), HumanDuration::get);
    let ca = g.handle().tls().pki().ca_pem();
    let min_valid = spec.min_valid.map_or(Duration::ZERO, HumanDuration::get);
    Ok(match handshake(g.api_addr(), &ca, "localhost", timeout).await {
        Err(e) => ProbeOutcome { ok: false, detail: e.to_string(), definitive: false },
        Ok(s) => {
            let ok = s.not_after > SystemTime::now() + min_valid;
            let at = humantime::format_rfc3339_seconds(s.not_after);
            let detail = format!(
                "handshake ok; notAfter {at} ({:.2} days to expiry){}",
                s.days_to_expiry,
                if ok { String::new() } else { format!(", less than min_valid {}", HumanDuration(min_valid)) }
            );
            ProbeOutcome { ok, detail, definitive: false }
        }
    })
}
