//! TLS and mutual TLS for the edge listener, with certificates that can be hot-reloaded.
//!
//! The mock runs its own small PKI: a CA (kept in memory) that signs the server
//! certificate and client certificates. At start-up it writes, in the profile's
//! `cert_dir`, the files the runbook's commands use: `ca.crt`, `server.crt`,
//! `server.key`, `client.crt`, `client.key` (so `openssl x509 -enddate -noout -in
//! certs/server.crt` and `curl --cert client.crt --key client.key --cacert ca.crt` work).
//!
//! The served certificate comes from a [`CertResolver`] (rustls `ResolvesServerCert`)
//! holding the current key behind a lock: [`EdgeTls::install_pem`],
//! [`EdgeTls::reload_from_files`] and [`EdgeTls::renew`] replace it for the next
//! handshake without closing the listener or open connections (the certificate-expiry
//! drill's recovery).
//!
//! Client certificates (mode `mtls`) are requested but optional at the handshake, so
//! probes without one can still reach `/api/health`; a certificate that does not chain
//! to the mock's CA fails the handshake, and `/auth/mtls` refuses a connection that
//! presented none. A client certificate's subject carries the caller's claims:
//! `CN` = subject, `O` = tenant, `OU` = tier.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How the edge listener speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain HTTP (default: load generators need no certificates).
    #[default]
    Off,
    /// HTTPS; no client certificates asked for (`/auth/mtls` always refuses).
    On,
    /// HTTPS; client certificates from the mock's CA accepted and verified; required by
    /// `/auth/mtls`.
    Mtls,
}

/// A certificate and its key, in PEM.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// Its `notAfter`.
    pub not_after: SystemTime,
}

/// The mock's certificate authority.
pub struct EdgePki {
    ca_key: KeyPair,
    ca_cert: rcgen::Certificate,
}

impl std::fmt::Debug for EdgePki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgePki").finish_non_exhaustive()
    }
}

/// Why the CA could not make or sign a certificate; the message is rcgen's.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused a key, a parameter or a signature.
    #[error(transparent)]
    Generate(#[from] rcgen::Error),
}

/// Why a certificate's `notAfter` or identity could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CertReadError {
    /// Not a DER X.509 certificate.
    #[error(transparent)]
    Parse(#[from] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// A `notAfter` before the Unix epoch.
    #[error("notAfter is before 1970")]
    BeforeEpoch,
}

/// Why a certificate and key could not be installed (or issued, written, read).
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The CA failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The certificate PEM did not parse.
    #[error("certificate PEM: {0}")]
    CertPem(rustls_pki_types::pem::Error),
    /// The certificate PEM held no certificate.
    #[error("certificate PEM holds no certificate")]
    NoCertificate,
    /// The leaf's `notAfter` could not be read.
    #[error(transparent)]
    NotAfter(#[from] CertReadError),
    /// The key PEM did not parse.
    #[error("key PEM: {0}")]
    KeyPem(rustls_pki_types::pem::Error),
    /// rustls refused the pair.
    #[error("certificate and key: {0}")]
    Pair(rustls::Error),
    /// A certificate file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Why [`EdgeTls::server_config`] failed; the message is rustls's.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// The protocol versions or the CA root were refused.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error(transparent)]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

impl EdgePki {
    /// A fresh CA valid for ten years.
    pub fn new() -> Result<Self, PkiError> {
        let now = OffsetDateTime::now_utc();
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "Grahmos Edge CA (gameday mock)");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = now - time::Duration::days(1);
        ca.not_after = now + time::Duration::days(3650);
        let ca_cert = ca.self_signed(&ca_key)?;
        Ok(Self { ca_key, ca_cert })
    }

    /// The CA certificate (what clients trust).
    pub fn ca_pem(&self) -> String {
        self.ca_cert.pem()
    }

    fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_cert.der().clone()
    }

    /// A server certificate for `sans`, valid from `not_before` to `not_after`.
    pub fn issue_server(
        &self,
        sans: &[String],
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCert, PkiError> {
        let mut p = CertificateParams::new(sans.to_vec())?;
        p.distinguished_name.push(DnType::CommonName, "grahmos edge-api");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(p, not_before, not_after)
    }

    /// A client certificate: `CN` = `subject`, `O` = `tenant`, `OU` = `tier`.
    pub fn issue_client(
        &self,
        subject: &str,
        tenant: &str,
        tier: &str,
        lifetime: Duration,
    ) -> Result<IssuedCert, PkiError> {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, subject);
        p.distinguished_name.push(DnType::OrganizationName, tenant);
        p.distinguished_name.push(DnType::OrganizationalUnitName, tier);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = SystemTime::now();
        self.sign(p, now - Duration::from_secs(3600), now + lifetime)
    }

    fn sign(
        &self,
        mut p: CertificateParams,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCert, PkiError> {
        p.not_before = OffsetDateTime::from(not_before);
        p.not_after = OffsetDateTime::from(not_after);
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &self.ca_cert, &self.ca_key)?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), not_after })
    }
}

/// The certificate currently served, swappable at run time.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<(Arc<CertifiedKey>, SystemTime)>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let guard = self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(Arc::clone(&guard.0))
    }
}

/// The leaf certificate's `notAfter`, parsed from DER.
pub fn not_after_of(der: &[u8]) -> Result<SystemTime, CertReadError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)?;
    let secs = cert.validity().not_after.timestamp();
    let secs = u64::try_from(secs).map_err(|_| CertReadError::BeforeEpoch)?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn certified_key(
    provider: &CryptoProvider,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(CertifiedKey, SystemTime), InstallError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(InstallError::CertPem)?;
    let leaf = chain.first().ok_or(InstallError::NoCertificate)?;
    let not_after = not_after_of(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(InstallError::KeyPem)?;
    let ck = CertifiedKey::from_der(chain, key, provider).map_err(InstallError::Pair)?;
    Ok((ck, not_after))
}

/// The edge's TLS material: CA, served certificate, files, reload counter.
pub struct EdgeTls {
    pki: EdgePki,
    resolver: Arc<CertResolver>,
    provider: Arc<CryptoProvider>,
    cert_dir: PathBuf,
    sans: Vec<String>,
    reloads: AtomicU64,
}

impl std::fmt::Debug for EdgeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeTls").field("cert_dir", &self.cert_dir).finish_non_exhaustive()
    }
}

impl EdgeTls {
    /// A CA, a server certificate valid for `lifetime` and a client certificate, all
    /// written to `cert_dir`.
    pub fn new(cert_dir: PathBuf, lifetime: Duration) -> Result<Self, InstallError> {
        fs::create_dir_all(&cert_dir).map_err(|source| InstallError::Io { path: cert_dir.clone(), source })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let pki = EdgePki::new()?;
        let sans = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let now = SystemTime::now();
        let server = pki.issue_server(&sans, now - Duration::from_secs(3600), now + lifetime)?;
        let (ck, not_after) = certified_key(&provider, &server.cert_pem, &server.key_pem)?;
        let client = pki.issue_client("grahmos-probe", "tenant-a", "public", lifetime)?;
        let tls = Self {
            resolver: Arc::new(CertResolver { current: RwLock::new((Arc::new(ck), not_after)) }),
            pki,
            provider,
            cert_dir,
            sans,
            reloads: AtomicU64::new(0),
        };
        tls.write("ca.crt", &tls.pki.ca_pem())?;
        tls.write("server.crt", &server.cert_pem)?;
        tls.write("server.key", &server.key_pem)?;
        tls.write("client.crt", &client.cert_pem)?;
        tls.write("client.key", &client.key_pem)?;
        Ok(tls)
    }

    fn write(&self, name: &str, contents: &str) -> Result<(), InstallError> {
        let path = self.cert_dir.join(name);
        fs::write(&path, contents).map_err(|source| InstallError::Io { path, source })
    }

    /// The CA.
    pub fn pki(&self) -> &EdgePki {
        &self.pki
    }

    /// Where the certificate files are.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    /// The served certificate's `notAfter`.
    pub fn not_after(&self) -> SystemTime {
        self.resolver.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).1
    }

    /// Days until the served certificate expires (negative once expired).
    pub fn days_to_expiry(&self) -> f64 {
        let secs = match self.not_after().duration_since(SystemTime::now()) {
            Ok(left) => left.as_secs_f64(),
            Err(past) => -past.duration().as_secs_f64(),
        };
        secs / 86_400.0
    }

    /// Certificates installed since start-up.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Serves `cert_pem` (leaf first) with `key_pem` from the next handshake on.
    pub fn install_pem(&self, cert_pem: &str, key_pem: &str) -> Result<SystemTime, InstallError> {
        let (ck, not_after) = certified_key(&self.provider, cert_pem, key_pem)?;
        let mut guard = self.resolver.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = (Arc::new(ck), not_after);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(not_after)
    }

    /// Re-reads `server.crt` and `server.key` from `cert_dir` and serves them.
    pub fn reload_from_files(&self) -> Result<SystemTime, InstallError> {
        let read = |name: &str| {
            let path = self.cert_dir.join(name);
            fs::read_to_string(&path).map_err(|source| InstallError::Io { path, source })
        };
        self.install_pem(&read("server.crt")?, &read("server.key")?)
    }

    /// Issues a server certificate valid from `not_before` to `not_after` from the CA,
    /// writes it to `server.crt`/`server.key` and serves it (an already expired one
    /// too, for the expiry drill).
    pub fn renew_with(&self, not_before: SystemTime, not_after: SystemTime) -> Result<SystemTime, InstallError> {
        let cert = self.pki.issue_server(&self.sans, not_before, not_after)?;
        self.write("server.crt", &cert.cert_pem)?;
        self.write("server.key", &cert.key_pem)?;
        self.install_pem(&cert.cert_pem, &cert.key_pem)
    }

    /// Renews the server certificate for `lifetime` from now.
    pub fn renew(&self, lifetime: Duration) -> Result<SystemTime, InstallError> {
        let now = SystemTime::now();
        self.renew_with(now - Duration::from_secs(3600), now + lifetime)
    }

    /// The rustls configuration for `mode` (not [`TlsMode::Off`]).
    pub fn server_config(&self, mode: TlsMode) -> Result<Arc<ServerConfig>, ServerConfigError> {
        let builder =
            ServerConfig::builder_with_provider(Arc::clone(&self.provider)).with_safe_default_protocol_versions()?;
        let builder = if mode == TlsMode::Mtls {
            let mut roots = RootCertStore::empty();
            roots.add(self.pki.ca_der())?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&self.provider))
                .allow_unauthenticated()
                .build()?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut cfg = builder.with_cert_resolver(Arc::clone(&self.resolver) as Arc<dyn ResolvesServerCert>);
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // No session resumption (nginx's `ssl_session_cache off; ssl_session_tickets off`):
        // every new connection is a full, verified handshake, so a swapped or expired
        // certificate is seen by the next connection and the handshake counters count
        // every one; a resumed session would skip the client's certificate check.
        cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        cfg.send_tls13_tickets = 0;
        Ok(Arc::new(cfg))
    }
}

/// TLS handshake outcomes, for metrics.
#[derive(Debug, Default)]
pub struct HandshakeCounters {
    /// Completed handshakes.
    pub ok: AtomicU64,
    /// Failed or timed-out handshakes.
    pub failed: AtomicU64,
}

/// A listener that yields connections whose TLS handshake already completed.
///
/// Handshakes run in their own tasks (a slow client does not hold up others), each
/// bounded by a timeout.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` until `shutdown`.
    pub fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        handshake_timeout: Duration,
        counters: Arc<HandshakeCounters>,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = shutdown.cancelled() => break,
                    a = tcp.accept() => a,
                };
                let Ok((stream, addr)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let (acceptor, tx, counters) = (acceptor.clone(), tx.clone(), Arc::clone(&counters));
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            counters.ok.fetch_add(1, Ordering::Relaxed);
                            let _ = tx.send((tls, addr)).await;
                        }
                        _ => {
                            counters.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        Ok(Self { rx, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What the edge knows about a connection: the peer and its verified client certificate.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client certificate, verified against the mock's CA during the handshake.
    pub client_cert: Option<CertificateDer<'static>>,
}

impl PeerInfo {
    /// A TLS connection from `remote`, with the client certificate it presented.
    pub fn of_tls(stream: &TlsStream<TcpStream>, remote: SocketAddr) -> Self {
        let (_, conn) = stream.get_ref();
        let client_cert = conn.peer_certificates().and_then(|c| c.first().cloned());
        Self { remote, tls: true, client_cert }
    }

    /// A plain TCP connection from `remote`.
    pub fn of_tcp(stream: &TcpStream, remote: SocketAddr) -> Self {
        // Best effort: a socket that refuses the option still serves, only slower.
        let _ = stream.set_nodelay(true);
        Self { remote, tls: false, client_cert: None }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self::of_tls(stream.io(), *stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self { remote: *stream.remote_addr(), tls: false, client_cert: None }
    }
}

/// A client certificate's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// `CN`.
    pub subject: String,
    /// `O` (tenant).
    pub tenant: Option<String>,
    /// `OU` (tier).
    pub tier: Option<String>,
    /// `notAfter`, Unix seconds.
    pub not_after_unix_s: i64,
    /// SHA-256 of the DER, base64url (a token's `cnf.x5t#S256`).
    pub thumbprint: String,
}

/// Reads the identity out of a verified client certificate.
pub fn client_identity(der: &CertificateDer<'_>) -> Result<ClientIdentity, CertReadError> {
    use sha2::Digest;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())?;
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    let subject = cert.subject();
    let cn = first(&mut subject.iter_common_name()).unwrap_or_default();
    let tenant = first(&mut subject.iter_organization());
    let tier = first(&mut subject.iter_organizational_unit());
    Ok(ClientIdentity {
        subject: cn,
        tenant,
        tier,
        not_after_unix_s: cert.validity().not_after.timestamp(),
        thumbprint: super::auth::b64(&sha2::Sha256::digest(der.as_ref())),
    })
}
