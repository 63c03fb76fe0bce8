//! Loopback TLS servers for tests, the offline demo and benchmarks.
//!
//! A [`Farm`] serves many endpoints from one process: each endpoint listens
//! on its own port (on 127.0.0.1, `[::1]` or both) and either speaks TLS —
//! choosing among several certificate chains by SNI, with a default for
//! clients that send no or an unknown SNI, optionally asking for a client
//! certificate ([`ClientAuth`]) — or misbehaves on purpose:
//! tarpit, garbage, plain HTTP, immediate close, TCP reset, or a chain of
//! over a megabyte. Certificates come from PEM files, PEM text or DER bytes;
//! [`pki`] makes throwaway ones. Servers rustls will not be (TLS 1.0/1.1
//! only, RSA-1024 or DSA keys) run as real `openssl s_server` processes
//! ([`openssl`]).
//!
//! [`Farm::start`] binds every socket before it returns (so errors are
//! synchronous and the addresses are known) and runs the servers on a
//! runtime thread of its own; dropping the [`FarmHandle`] stops them. The
//! `tls-farm` binary does the same from a JSON [`FarmSpec`] and prints each
//! endpoint's addresses as JSON lines for a parent process.
//!
//! What it is not: a production server, or anything reachable from another
//! machine. Binding to anything but a loopback address is refused.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

pub mod openssl;
pub mod pki;
mod serve;
mod spec;

pub use spec::{CertSource, ClientAuth, Der, EndpointMode, EndpointSpec, FarmSpec, SniEntry, TlsEndpoint};

use serve::{accept_loop, Behaviour, Counters};

/// Why a farm could not start.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    /// The spec is inconsistent (duplicate names, empty TLS endpoint, ...).
    #[error("farm spec: {0}")]
    Spec(String),
    /// An address that is not loopback.
    #[error("refusing to bind {0}: the farm binds loopback addresses only")]
    NotLoopback(IpAddr),
    /// A certificate or key could not be loaded or generated.
    #[error("certificate: {0}")]
    Cert(String),
    /// An `openssl` server or command ([`openssl`]) could not be run.
    #[error("{0}")]
    Openssl(String),
    /// Binding or the runtime failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> FarmError {
    let context = context.into();
    move |source| FarmError::Io { context, source }
}

/// An endpoint as bound: what the binary prints, one JSON line each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundEndpoint {
    /// The endpoint's name from the spec.
    pub name: String,
    /// Mode (`tls`, `tarpit`, `garbage`, `plain_http`, `close`, `reset`,
    /// `huge_chain`).
    pub mode: String,
    /// Listening addresses, all on one port.
    pub addrs: Vec<SocketAddr>,
    /// SNI names with a certificate of their own (TLS endpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sni_names: Vec<String>,
}

impl BoundEndpoint {
    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The port (the same on every address).
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }
}

/// Connection counters of one endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// TLS handshakes completed.
    pub handshakes: u64,
    /// TLS handshakes that failed or timed out.
    pub handshake_failures: u64,
    /// Connections the client ended with close_notify.
    pub clean_closes: u64,
    /// Application data bytes received from clients.
    pub app_data_bytes: u64,
}

/// Starts farms.
#[derive(Debug)]
pub struct Farm;

impl Farm {
    /// Binds every endpoint of `spec` and serves them on a new runtime
    /// thread until the handle is dropped.
    pub fn start(spec: FarmSpec) -> Result<FarmHandle, FarmError> {
        let mut names = HashSet::new();
        for ep in &spec.endpoints {
            if !names.insert(ep.name.as_str()) {
                return Err(FarmError::Spec(format!("duplicate endpoint name {:?}", ep.name)));
            }
            if ep.bind.is_empty() {
                return Err(FarmError::Spec(format!("endpoint {:?} binds no address", ep.name)));
            }
            if let Some(ip) = ep.bind.iter().find(|ip| !ip.is_loopback()) {
                return Err(FarmError::NotLoopback(*ip));
            }
        }
        // Certificates first: generating or loading them can fail and takes
        // the time; no socket is bound until they are ready.
        let behaviours = spec
            .endpoints
            .iter()
            .map(|ep| {
                Behaviour::from_mode(&ep.mode).map_err(|e| FarmError::Spec(format!("endpoint {:?}: {e}", ep.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(spec.worker_threads.unwrap_or(1).max(1))
            .thread_name("tls-farm")
            .enable_all()
            .build()
            .map_err(io_err("starting the farm runtime"))?;
        let max_connection = spec.max_connection();
        let mut bound = Vec::with_capacity(spec.endpoints.len());
        let mut counters = Vec::with_capacity(spec.endpoints.len());
        {
            // Listeners register with this runtime's reactor.
            let _guard = rt.enter();
            for (ep, behaviour) in spec.endpoints.iter().zip(behaviours) {
                let listeners =
                    bind_all(&ep.bind, ep.port).map_err(io_err(format!("binding endpoint {:?}", ep.name)))?;
                let c = Arc::new(Counters::default());
                let addrs = listeners
                    .iter()
                    .map(|l| l.local_addr())
                    .collect::<io::Result<Vec<_>>>()
                    .map_err(io_err("local address"))?;
                for l in listeners {
                    rt.spawn(accept_loop(l, behaviour.clone(), Arc::clone(&c), max_connection));
                }
                let sni_names = match &ep.mode {
                    EndpointMode::Tls(t) => t.sni.iter().flat_map(|e| e.names.iter().cloned()).collect(),
                    _ => Vec::new(),
                };
                bound.push(BoundEndpoint { name: ep.name.clone(), mode: ep.mode.kind().to_owned(), addrs, sni_names });
                counters.push(c);
            }
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tls-farm".into())
            .spawn(move || {
                // Err means the handle was dropped without a send: stop too.
                let _ = rt.block_on(stop_rx);
                // Cancels every accept loop and connection (tarpits too).
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(io_err("starting the farm thread"))?;
        Ok(FarmHandle { endpoints: bound, counters, stop: Some(stop_tx), thread: Some(thread) })
    }
}

/// Binds `port` (0: a free one) on every address; with port 0 the port
/// chosen for the first address is reused on the others, retrying with a
/// fresh port when another process holds it there.
fn bind_all(ips: &[IpAddr], port: u16) -> io::Result<Vec<TcpListener>> {
    const TRIES: usize = 20;
    let mut last_err = None;
    for _ in 0..TRIES {
        let first = bind_one(SocketAddr::new(ips[0], port))?;
        let chosen = first.local_addr()?.port();
        let mut all = vec![first];
        let mut failed = None;
        for ip in &ips[1..] {
            match bind_one(SocketAddr::new(*ip, chosen)) {
                Ok(l) => all.push(l),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            None => return Ok(all),
            Some(e) if port == 0 && e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
            Some(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no common free port")))
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // Lets a test farm restart on a port that still has TIME_WAIT entries.
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    // Benchmarks open hundreds of connections to one port at once.
    sock.listen(4096)
}

/// A running farm. Dropping it stops every endpoint and joins its thread.
#[derive(Debug)]
pub struct FarmHandle {
    endpoints: Vec<BoundEndpoint>,
    counters: Vec<Arc<Counters>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FarmHandle {
    /// Every endpoint, in spec order.
    pub fn endpoints(&self) -> &[BoundEndpoint] {
        &self.endpoints
    }

    /// The endpoint named `name`.
    pub fn endpoint(&self, name: &str) -> Option<&BoundEndpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// First address of the endpoint named `name`.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.endpoint(name).map(BoundEndpoint::addr)
    }

    /// Counters of the endpoint named `name`.
    pub fn stats(&self, name: &str) -> Option<EndpointStats> {
        let i = self.endpoints.iter().position(|e| e.name == name)?;
        let c = &self.counters[i];
        Some(EndpointStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            handshakes: c.handshakes.load(Ordering::Relaxed),
            handshake_failures: c.handshake_failures.load(Ordering::Relaxed),
            clean_closes: c.clean_closes.load(Ordering::Relaxed),
            app_data_bytes: c.app_data_bytes.load(Ordering::Relaxed),
        })
    }

    /// Stops the farm and waits for its thread (as dropping does).
    pub fn shutdown(self) {}
}

impl Drop for FarmHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, for
/// benchmarks with thousands of sockets. Returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    // rlim_t is u64 on Linux but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    Ok(lim.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn refuses_non_loopback_and_duplicates() {
        let ep = EndpointSpec::new("a", EndpointMode::Tarpit).bind(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]);
        let err = Farm::start(FarmSpec { endpoints: vec![ep], ..FarmSpec::default() }).unwrap_err();
        assert!(matches!(err, FarmError::NotLoopback(_)), "{err}");
        let ep = EndpointSpec::new("a", EndpointMode::Tarpit).bind(vec!["192.168.1.1".parse().unwrap()]);
        assert!(matches!(
            Farm::start(FarmSpec { endpoints: vec![ep], ..FarmSpec::default() }),
            Err(FarmError::NotLoopback(_))
        ));
        let dup = vec![EndpointSpec::new("a", EndpointMode::Close), EndpointSpec::new("a", EndpointMode::Reset)];
        assert!(matches!(Farm::start(FarmSpec { endpoints: dup, ..FarmSpec::default() }), Err(FarmError::Spec(_))));
    }

    #[test]
    fn binds_both_families_on_one_port() {
        let ep = EndpointSpec::new("both", EndpointMode::Close)
            .bind(vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        let farm = Farm::start(FarmSpec { endpoints: vec![ep], ..FarmSpec::default() }).unwrap();
        let e = farm.endpoint("both").unwrap();
        assert_eq!(e.addrs.len(), 2);
        assert_eq!(e.addrs[0].port(), e.addrs[1].port());
        assert!(e.addrs[1].is_ipv6());
        for a in &e.addrs {
            std::net::TcpStream::connect(a).unwrap();
        }
    }

    #[test]
    fn spec_json_round_trip() {
        let json = r#"{"endpoints": [
            {"name": "t", "mode": {"type": "tls", "default": {"files": {"chain": "c.pem", "key": "k.pem"}},
             "sni": [{"names": ["a.test"], "cert": {"pem": {"chain": "x", "key": "y"}}}], "alpn": ["h2"]}},
            {"name": "g", "bind": ["::1"], "port": 0, "mode": {"type": "garbage"}},
            {"name": "h", "mode": {"type": "huge_chain", "count": 3}}
        ]}"#;
        let spec: FarmSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.endpoints.len(), 3);
        assert!(matches!(spec.endpoints[1].mode, EndpointMode::Garbage { bytes: 512 }));
        assert!(matches!(spec.endpoints[2].mode, EndpointMode::HugeChain { count: 3, cert_bytes: 6000 }));
        assert_eq!(spec.endpoints[0].bind, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let again: FarmSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again.endpoints[0].name, "t");
        assert!(serde_json::from_str::<FarmSpec>(r#"{"endpoints": [], "typo": 1}"#).is_err());
    }

    #[test]
    fn pem_and_der_sources_load() {
        let ca = pki::TestCa::new("Test CA").unwrap();
        let leaf = ca.issue(&["a.test"], pki::Validity::days_from_now(30)).unwrap();
        let provider = rustls::crypto::ring::default_provider();
        let from_pem =
            serve::load_cert(&CertSource::Pem { chain: leaf.chain_pem(), key: leaf.key_pem() }, &provider).unwrap();
        let from_der = serve::load_cert(&leaf.source(), &provider).unwrap();
        assert_eq!(from_pem.cert, from_der.cert);
        assert_eq!(from_pem.cert.len(), 2);
        assert!(serve::load_cert(&CertSource::Pem { chain: leaf.chain_pem(), key: String::new() }, &provider).is_err());
    }
}
