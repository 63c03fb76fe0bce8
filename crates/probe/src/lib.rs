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
//! What it is not:
//! - **Not a judge.** The handshake completes for expired, self-signed,
//!   wrong-name and unknown-CA certificates alike; trust, expiry and name
//!   matching are decided by the analysis crate from the captured bytes.
//!   Handshake signatures *are* verified, so a captured chain was served by
//!   someone holding the leaf's key.
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
//! checked in the tests with a 1 MB chain) and this crate stops reading
//! after [`ProbeConfig::max_handshake_bytes`]. Handshake signatures are
//! checked with ring's algorithms, so servers whose keys ring cannot verify
//! (RSA under 2048 bits, DSA) fail with [`ProbeErrorKind::Tls`].
//!
//! ```no_run
//! use certinspect_probe::{probe_blocking, ProbeConfig, ProbeTarget};
//! let targets = vec!["example.com:443".parse::<ProbeTarget>()?];
//! for obs in probe_blocking(ProbeConfig::default(), targets)? {
//!     match obs.tls() {
//!         Some(tls) => println!("{:?} served {} certs", obs.address, tls.chain.len()),
//!         None => println!("{:?}: {}", obs.address, obs.error().unwrap()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod model;
mod prober;
mod target;
mod tls;

pub use model::{
    CertDer, FailedAttempt, IpFamily, Phase, ProbeError, ProbeErrorKind, ProbeObservation, ProbeOutcome, Resolution,
    Timings, TlsFacts,
};
pub use prober::{
    probe_blocking, probe_blocking_each, AddressSelection, FamilyFilter, ObservationReceiver, ProbeConfig, Prober,
};
pub use target::{
    apply_resolve_overrides, parse_resolve, ParseError, ProbeTarget, ResolveOverride, SniMode, DEFAULT_PORT,
};
