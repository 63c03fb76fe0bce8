//! The TLS client configuration: accept any certificate, verify the
//! handshake signatures, never resume, and count what the server sends.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Accepts every certificate chain, because the probe observes and the
/// analysis crate judges trust. Handshake signatures are still verified:
/// otherwise anyone on the path could present someone else's certificate
/// without its key, and we would report that chain as served.
#[derive(Debug)]
struct ObserveOnly {
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ObserveOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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

/// Builds the client configuration. The ring provider is passed explicitly
/// so that whatever process-wide default another crate installs (or fails
/// to install) does not change what the probe negotiates.
pub(crate) fn client_config(alpn: &[String]) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algs = provider.signature_verification_algorithms;
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ObserveOnly { algs }))
        .with_no_client_auth();
    // A resumed session carries no Certificate message: every probe must be
    // a full handshake to capture what is served now.
    config.resumption = Resumption::disabled();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// Error payload for [`Watched`] refusing to read past its cap.
#[derive(Debug, thiserror::Error)]
#[error("server sent more than {0} bytes during the handshake")]
pub(crate) struct ReadCapExceeded(pub u64);

/// A TCP stream that counts the bytes read, keeps the first few (to tell a
/// TLS peer from an HTTP server or garbage) and stops reading at a cap.
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
    pub(crate) head: [u8; 5],
    pub(crate) head_len: usize,
    cap: u64,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, cap: u64) -> Self {
        Watched { inner, bytes_read: 0, head: [0; 5], head_len: 0, cap }
    }

    /// Whether what was read so far starts like a TLS record: content type
    /// 20..=24 and protocol major version 3. `None` when nothing was read.
    pub(crate) fn looks_like_tls(&self) -> Option<bool> {
        match self.head_len {
            0 => None,
            1 => Some((20..=24).contains(&self.head[0])),
            _ => Some((20..=24).contains(&self.head[0]) && self.head[1] == 3),
        }
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
            let take = fresh.len().min(this.head.len() - this.head_len);
            this.head[this.head_len..this.head_len + take].copy_from_slice(&fresh[..take]);
            this.head_len += take;
            this.bytes_read += fresh.len() as u64;
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
