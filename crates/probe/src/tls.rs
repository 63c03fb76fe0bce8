//! The TLS client configuration: record the served chain, any stapled OCSP
//! response and any client-certificate request first, accept any certificate, verify the
//! handshake signatures, never resume, and count what the server sends.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::model::{CertDer, DistinguishedNameDer};

/// What one connection's server revealed to the verifier and the client
/// certificate resolver, recorded before any check so that it survives a
/// handshake that then fails.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The chain as served, leaf first.
    pub(crate) chain: Vec<CertDer>,
    /// The acceptable CA names of a CertificateRequest, if one came.
    pub(crate) client_certificate_request: Option<Vec<DistinguishedNameDer>>,
    /// The OCSP response the server stapled (rustls always asks with
    /// `status_request`), if it stapled one.
    pub(crate) stapled_ocsp: Option<CertDer>,
}

/// One connection's record, shared by its verifier and resolver.
pub(crate) type CaptureSlot = Arc<Mutex<Captured>>;

/// Takes what was recorded (a poisoned lock still holds valid data).
pub(crate) fn take_captured(slot: &CaptureSlot) -> Captured {
    std::mem::take(&mut *slot.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Records the chain, then accepts it, because the probe observes and the
/// analysis crate judges trust. Handshake signatures are still verified:
/// otherwise anyone on the path could present someone else's certificate
/// without its key, and we would report that chain as served. rustls calls
/// `verify_server_cert` before checking the handshake signature (TLS 1.2
/// and 1.3), so the chain is recorded even when that check fails.
#[derive(Debug)]
struct CaptureThenObserve {
    algs: WebPkiSupportedAlgorithms,
    slot: CaptureSlot,
}

impl ServerCertVerifier for CaptureThenObserve {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity).chain(intermediates).map(|c| CertDer::from(c.as_ref())).collect();
        let mut captured = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        captured.chain = chain;
        captured.stapled_ocsp = (!ocsp_response.is_empty()).then(|| CertDer::from(ocsp_response));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Records the CA names of a server's certificate request and offers no
/// certificate: the probe has none, and the server's reaction to an empty
/// one (carry on or refuse) is itself worth reporting.
#[derive(Debug)]
struct RecordRequestOfferNothing {
    slot: CaptureSlot,
}

impl ResolvesClientCert for RecordRequestOfferNothing {
    fn resolve(&self, root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let names = root_hint_subjects.iter().map(|n| DistinguishedNameDer(n.to_vec())).collect();
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).client_certificate_request = Some(names);
        None
    }

    fn has_certs(&self) -> bool {
        // rustls asks `resolve` on every request whatever this says; it
        // consults this only for ECH, which the probe does not use.
        false
    }
}

/// The client configuration shared by every connection of a prober. The
/// ring provider is passed explicitly so that whatever process-wide default
/// another crate installs (or fails to install) does not change what the
/// probe negotiates.
#[derive(Debug)]
pub(crate) struct ClientTemplate {
    config: ClientConfig,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientTemplate {
    pub(crate) fn new(alpn: &[String]) -> Self {
        let mut provider = rustls::crypto::ring::default_provider();
        // Offer the cheapest suites first, for both sides: servers that
        // honour the client's order then hash the handshake with SHA-256,
        // not SHA-384. Every suite stays offered.
        provider.cipher_suites.sort_by_key(|suite| suite_cost(suite.suite()));
        let provider = Arc::new(provider);
        let algs = provider.signature_verification_algorithms;
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CaptureThenObserve { algs, slot: CaptureSlot::default() }))
            .with_no_client_auth();
        // A resumed session carries no Certificate message: every probe must
        // be a full handshake to capture what is served now.
        config.resumption = Resumption::disabled();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        ClientTemplate { config, algs }
    }

    /// A configuration for one connection, recording into `slot`. The
    /// verifier and resolver are per connection because rustls gives them
    /// no way to tell connections apart; cloning the configuration copies
    /// a few `Arc`s and the ALPN list.
    pub(crate) fn for_connection(&self, slot: &CaptureSlot) -> Arc<ClientConfig> {
        let mut config = self.config.clone();
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(CaptureThenObserve { algs: self.algs, slot: Arc::clone(slot) }));
        config.client_auth_cert_resolver = Arc::new(RecordRequestOfferNothing { slot: Arc::clone(slot) });
        Arc::new(config)
    }
}

/// A cipher suite's rank in the probe's offer: AES-128-GCM (SHA-256)
/// before ChaCha20-Poly1305 (SHA-256) before AES-256-GCM (SHA-384).
fn suite_cost(suite: CipherSuite) -> u8 {
    match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => 1,
        _ => 2,
    }
}

/// Error payload for [`Watched`] refusing to read past its cap.
#[derive(Debug, thiserror::Error)]
#[error("server sent more than {0} bytes during the handshake")]
pub(crate) struct ReadCapExceeded(pub u64);

/// A TCP stream that counts the bytes read, keeps the first record's worth
/// (to tell a TLS peer from an HTTP server or garbage, and to read the
/// ServerHello of a handshake that fails) and stops reading at a cap.
///
/// rustls already bounds memory: a handshake message may not exceed 64 KiB
/// (rustls 0.23 `MAX_HANDSHAKE_SIZE`; larger ones fail with
/// `HandshakePayloadTooLarge`) and its receive buffer is capped likewise. The
/// cap here bounds the total across all messages and records, so a server
/// cannot keep the probe reading (and spending CPU on) an endless flight
/// before the handshake timeout.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    pub(crate) bytes_read: u64,
    /// The first bytes read, up to [`HEAD_CAP`].
    pub(crate) head: Vec<u8>,
    cap: u64,
}

/// One largest plaintext TLS record with its header: enough for the
/// ServerHello, which is the first thing a TLS server sends.
pub(crate) const HEAD_CAP: usize = 5 + (1 << 14) + 256;

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, cap: u64) -> Self {
        Watched { inner, bytes_read: 0, head: Vec::new(), cap }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.bytes_read >= this.cap {
            return Poll::Ready(Err(io::Error::other(ReadCapExceeded(this.cap))));
        }
        // The cap is checked before each read, so it may be overshot by one
        // read: at most the caller's buffer (rustls reads 4 KiB at a time).
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() {
            let take = fresh.len().min(HEAD_CAP - this.head.len());
            this.head.extend_from_slice(&fresh[..take]);
            this.bytes_read += fresh.len() as u64;
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    // Forwarded, not left to the default (which writes only the first
    // buffer): rustls hands over each record as its own buffer, and one
    // writev per flight (ChangeCipherSpec and Finished together) is one
    // syscall and one TCP segment where there were two.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheapest_suites_are_offered_first_and_none_is_dropped() {
        let template = ClientTemplate::new(&[]);
        let offered: Vec<CipherSuite> =
            template.config.crypto_provider().cipher_suites.iter().map(|s| s.suite()).collect();
        let tls13: Vec<CipherSuite> =
            offered.iter().copied().filter(|s| format!("{s:?}").starts_with("TLS13_")).collect();
        assert_eq!(
            tls13,
            [
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS13_AES_256_GCM_SHA384
            ]
        );
        assert_eq!(offered.len(), rustls::crypto::ring::ALL_CIPHER_SUITES.len());
        assert_eq!(offered[offered.len() - 1], CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
    }
}
