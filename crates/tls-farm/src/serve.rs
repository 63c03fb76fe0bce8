//! Per-connection behaviour of each endpoint mode.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufReader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::spec::{CertSource, ClientAuth, EndpointMode, TlsEndpoint};
use crate::FarmError;

/// Counters of one endpoint, shared with its connection tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub handshakes: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub clean_closes: AtomicU64,
    pub app_data_bytes: AtomicU64,
}

/// Loads a chain and key with the farm's crypto provider.
pub(crate) fn load_cert(src: &CertSource, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, FarmError> {
    let (chain, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) = match src {
        CertSource::Files { chain, key } => {
            let what = |p: &std::path::Path, e: io::Error| FarmError::Cert(format!("reading {}: {e}", p.display()));
            let c = fs::read(chain).map_err(|e| what(chain, e))?;
            let k = fs::read(key).map_err(|e| what(key, e))?;
            pem_pair(&c, &k, &chain.display().to_string())?
        }
        CertSource::Pem { chain, key } => pem_pair(chain.as_bytes(), key.as_bytes(), "inline PEM")?,
        CertSource::Der { chain, key } => (
            chain.iter().map(|c| CertificateDer::from(c.0.clone())).collect(),
            PrivateKeyDer::try_from(key.0.clone()).map_err(|e| FarmError::Cert(format!("private key DER: {e}")))?,
        ),
    };
    if chain.is_empty() {
        return Err(FarmError::Cert("empty certificate chain".into()));
    }
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| FarmError::Cert(format!("private key unusable: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing_key)))
}

fn pem_pair(
    chain: &[u8],
    key: &[u8],
    what: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), FarmError> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(chain))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FarmError::Cert(format!("{what}: bad PEM chain: {e}")))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(key))
        .map_err(|e| FarmError::Cert(format!("{what}: bad PEM key: {e}")))?
        .ok_or_else(|| FarmError::Cert(format!("{what}: no private key found")))?;
    Ok((certs, key))
}

/// Selects a certificate by SNI: exact name, then `*.` + parent, then the
/// default.
#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = hello.server_name() {
            let name = name.to_ascii_lowercase();
            if let Some(ck) = self.by_name.get(&name) {
                return Some(Arc::clone(ck));
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(ck) = self.by_name.get(&format!("*.{parent}")) {
                    return Some(Arc::clone(ck));
                }
            }
        }
        self.default.clone()
    }
}

/// A verifier that names `auth.cas` in its certificate request and checks
/// client chains against them, letting clients without one in unless
/// `auth.required`.
fn client_verifier(
    auth: &ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, FarmError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in &auth.cas {
        roots
            .add(CertificateDer::from(ca.0.clone()))
            .map_err(|e| FarmError::Cert(format!("client-auth CA certificate: {e}")))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if auth.required { builder } else { builder.allow_unauthenticated() };
    builder.build().map_err(|e| FarmError::Spec(format!("client-auth verifier: {e}")))
}

pub(crate) fn tls_acceptor(spec: &TlsEndpoint) -> Result<TlsAcceptor, FarmError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let load_cert = |cert| {
        let mut certified = Arc::unwrap_or_clone(load_cert(cert, &provider)?);
        certified.ocsp = spec.ocsp_staple.as_ref().map(|staple| staple.0.clone());
        Ok::<_, FarmError>(Arc::new(certified))
    };
    let mut by_name = HashMap::new();
    for entry in &spec.sni {
        let ck = load_cert(&entry.cert)?;
        for n in &entry.names {
            by_name.insert(n.to_ascii_lowercase(), Arc::clone(&ck));
        }
    }
    let default = spec.default.as_ref().map(load_cert).transpose()?;
    if by_name.is_empty() && default.is_none() {
        return Err(FarmError::Spec("a TLS endpoint needs a default or an SNI certificate".into()));
    }
    let versions: &[&'static rustls::SupportedProtocolVersion] = match spec.version.as_deref() {
        None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("1.3") => &[&rustls::version::TLS13],
        Some("1.2") => &[&rustls::version::TLS12],
        Some(v) => return Err(FarmError::Spec(format!("unknown TLS version {v:?} (want \"1.2\" or \"1.3\")"))),
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| FarmError::Spec(format!("TLS config: {e}")))?;
    let builder = match &spec.client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => builder.with_client_cert_verifier(client_verifier(auth, provider)?),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { by_name, default }));
    config.alpn_protocols = spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // Tickets would only be noise: the probe never resumes.
    config.send_tls13_tickets = 0;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What a connection task needs.
#[derive(Clone)]
pub(crate) enum Behaviour {
    Tls(TlsAcceptor),
    Tarpit,
    Garbage(usize),
    PlainHttp,
    Close,
    Reset,
}

impl Behaviour {
    pub(crate) fn from_mode(mode: &EndpointMode) -> Result<Self, FarmError> {
        Ok(match mode {
            EndpointMode::Tls(t) => Behaviour::Tls(tls_acceptor(t)?),
            EndpointMode::HugeChain { count, cert_bytes } => {
                let issued = crate::pki::huge_chain(*count, *cert_bytes)?;
                Behaviour::Tls(tls_acceptor(&TlsEndpoint::single(issued.source()))?)
            }
            EndpointMode::Tarpit => Behaviour::Tarpit,
            EndpointMode::Garbage { bytes } => Behaviour::Garbage(*bytes),
            EndpointMode::PlainHttp => Behaviour::PlainHttp,
            EndpointMode::Close => Behaviour::Close,
            EndpointMode::Reset => Behaviour::Reset,
        })
    }
}

/// Accepts until the listener fails for good; the runtime's shutdown ends it.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    behaviour: Behaviour,
    counters: Arc<Counters>,
    max_connection: Duration,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            // Out of fds or similar: back off rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let behaviour = behaviour.clone();
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            // Every connection ends by itself within `max_connection`.
            let _ = tokio::time::timeout(max_connection, serve(stream, behaviour, &counters)).await;
        });
    }
}

async fn serve(stream: TcpStream, behaviour: Behaviour, counters: &Counters) {
    let _ = stream.set_nodelay(true);
    match behaviour {
        Behaviour::Tls(acceptor) => serve_tls(stream, acceptor, counters).await,
        Behaviour::Tarpit => {
            let mut s = stream;
            drain(&mut s).await;
        }
        Behaviour::Garbage(n) => {
            let mut s = stream;
            let _ = s.write_all(&garbage(n)).await;
            drain(&mut s).await;
        }
        Behaviour::PlainHttp => {
            let mut s = stream;
            let mut buf = [0u8; 4096];
            // Answer once the request (a ClientHello here) has arrived, as an
            // HTTP server does; unread bytes would turn our close into a RST.
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
            let body = "Client sent an HTTP request to an HTTPS server.\n";
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
            drain(&mut s).await;
        }
        Behaviour::Close => {
            let mut s = stream;
            let _ = s.shutdown().await;
            drain(&mut s).await;
        }
        Behaviour::Reset => {
            // SO_LINGER 0 makes close() send RST and skip TIME_WAIT.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    }
}

async fn serve_tls(stream: TcpStream, acceptor: TlsAcceptor, counters: &Counters) {
    let accepted = tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await;
    let mut tls = match accepted {
        Ok(Ok(tls)) => tls,
        _ => {
            counters.handshake_failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    counters.handshakes.fetch_add(1, Ordering::Relaxed);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf).await {
            // With rustls, Ok(0) means close_notify; a bare FIN is an error.
            Ok(0) => {
                counters.clean_closes.fetch_add(1, Ordering::Relaxed);
                let _ = tls.shutdown().await;
                return;
            }
            Ok(n) => {
                counters.app_data_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(_) => return,
        }
    }
}

/// Reads and discards until EOF or error. Bounded by the caller's timeout.
async fn drain<S: AsyncRead + Unpin>(s: &mut S) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Deterministic bytes that cannot start a TLS record (first byte 0x00 is
/// no TLS content type), so a client's classification is reproducible.
fn garbage(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    if let Some(first) = out.first_mut() {
        *first = 0;
    }
    out
}
