//! Live TLS probing: handshakes that capture the served chain, whatever is
//! wrong with it.
//!
//! This crate is the only place in certinspect that opens network
//! connections to endpoints. It connects to each target (host, port, SNI,
//! optionally a curl-style `--resolve` override), completes a full TLS
//! handshake with rustls (ring provider) and reports, per address, what was
//! observed: the certificate chain as served (DER, leaf first), protocol
//! version, cipher suite, key exchange group, ALPN, the address and family
//! connected to, the SNI sent and the time spent per phase. When no
//! handshake happens it reports why, as a [`ProbeError`] whose
//! [`ProbeErrorKind`] code can act on (refused, timeout per phase, reset,
//! not TLS, TLS alert, ...).
//!
//! **Capture first, judge later.** The verifier records the served chain
//! before any check, so every handshake that got as far as the server's
//! Certificate message yields the chain, even when it then fails (a weak
//! or malformed leaf, a bad handshake signature, a client certificate
//! required): the error observation carries it in
//! [`ProbeObservation::partial_tls`], with the version and cipher suite
//! from the ServerHello. [`ProbeObservation::leaf`] and
//! [`ProbeObservation::served_chain`] find the chain either way.
//!
//! **Legacy capture.** When rustls cannot negotiate at all (the server
//! speaks only TLS 1.0/1.1, or shares no cipher suite or signature
//! algorithm with it, as with DSA keys), the probe opens a second
//! connection and runs a capture-only handshake: a plaintext TLS 1.0-1.2
//! ClientHello with a broad cipher list, the ServerHello and Certificate
//! read with `tls-parser`, then close. The observation then succeeds with
//! [`TlsFacts::capture`] = [`CaptureMethod::LegacyHandshake`], the version
//! and suite the server chose, and why the full handshake failed
//! ([`TlsFacts::full_handshake_error`]). No key exchange happens, so such a
//! chain is not proven to be served by the key holder.
//!
//! **Client certificates.** A server's request for a client certificate is
//! recorded with the CA names it listed ([`ClientCertificateRequest`]); the
//! probe never sends one. A server that then refuses the connection yields
//! [`ProbeErrorKind::ClientCertificateRequired`] with its chain kept.
//!
//! **Errors for people.** Every [`ProbeError`] message is a sentence naming
//! this probe's particulars ("the server sent 4,096 bytes that are not TLS,
//! starting with `HTTP/`"), never Rust `Debug` text or bytes.
//!
//! What it is not:
//! - **Not a judge.** The handshake completes for expired, self-signed,
//!   wrong-name and unknown-CA certificates alike; trust, expiry and name
//!   matching are decided by the analysis crate from the captured bytes.
//!   Handshake signatures *are* verified, so a chain from a completed full
//!   handshake was served by someone holding the leaf's key.
//! - **Not an HTTP client.** It never sends application data: after the
//!   handshake it sends close_notify and closes.
//! - **Not a resumption client.** Session resumption is disabled so that
//!   every probe is a full handshake that carries the certificate.
//!
//! Limits: concurrency is bounded globally and per IP address
//! ([`ProbeConfig`]); every phase has a timeout and a run may have an
//! overall deadline, so hostile endpoints (tarpits, garbage, resets) end in
//! a per-target error in bounded time. Memory per probe is bounded: rustls
//! refuses any handshake message over 64 KiB (its `MAX_HANDSHAKE_SIZE`,
//! checked in the tests with a 1 MB chain), this crate stops reading after
//! [`ProbeConfig::max_handshake_bytes`], and the legacy capture applies the
//! same cap and tls-parser's 16 KiB record limit. Handshake signatures are
//! checked with ring's algorithms, so a server whose key ring refuses (RSA
//! under 2048 bits) fails with [`ProbeErrorKind::BadHandshakeSignature`],
//! its chain kept.
//!
//! ```no_run
//! use certinspect_probe::{probe_blocking, ProbeConfig, ProbeTarget};
//! let targets = vec!["example.com:443".parse::<ProbeTarget>()?];
//! for obs in probe_blocking(ProbeConfig::default(), targets)? {
//!     match obs.tls() {
//!         Some(tls) => println!("{:?} served {} certs", obs.address, tls.chain.len()),
//!         None => println!("{:?}: {} ({} certs captured)", obs.address, obs.error().unwrap(), obs.served_chain().len()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod legacy;
mod messages;
mod model;
mod prober;
mod target;
mod tls;

pub use model::{
    is_legacy_version, CaptureMethod, CertDer, ClientCertificateRequest, DistinguishedNameDer, FailedAttempt, IpFamily,
    PartialTls, Phase, ProbeError, ProbeErrorKind, ProbeObservation, ProbeOutcome, Resolution, Timings, TlsFacts,
};
pub use prober::{
    probe_blocking, probe_blocking_batches, AddressSelection, FamilyFilter, ObservationReceiver, ProbeConfig, Prober,
};
pub use target::{
    apply_resolve_overrides, parse_resolve, parse_sni, parse_target_line, ParseError, ProbeTarget, ResolveOverride,
    SniMode, TargetLine, DEFAULT_PORT,
};
