//! The probing engine: resolution, bounded concurrency, timeouts, handshakes.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::{DnsName, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsConnector;

use crate::legacy;
use crate::messages::{
    classify_connect, classify_handshake, classify_rustls, duration_words, os_words, HandshakeContext,
};
use crate::model::{
    CaptureMethod, ClientCertificateRequest, FailedAttempt, IpFamily, PartialTls, Phase, ProbeError, ProbeErrorKind,
    ProbeObservation, ProbeOutcome, Resolution, Timings, TlsFacts,
};
use crate::target::{ascii_host, ProbeTarget, SniMode};
use crate::tls::{take_captured, CaptureSlot, ClientTemplate, Watched};

/// Which of a name's addresses to probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressSelection {
    /// Addresses in resolver order until one accepts the TCP connection;
    /// one observation per target.
    #[default]
    First,
    /// Every address, concurrently; one observation per address. What
    /// finds the one edge node of a CDN that still serves an old chain.
    All,
}

/// Which IP families to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FamilyFilter {
    /// IPv4 and IPv6, in resolver order.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl FamilyFilter {
    fn admits(self, ip: &IpAddr) -> bool {
        match self {
            FamilyFilter::Any => true,
            FamilyFilter::V4 => ip.is_ipv4(),
            FamilyFilter::V6 => ip.is_ipv6(),
        }
    }
}

/// How a [`Prober`] behaves. `Default` suits a scan of a few hundred
/// endpoints on the public Internet.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Probes (resolution, connect and handshake) in flight at once.
    pub max_concurrency: usize,
    /// Connections in flight to one IP address at once, whatever the port
    /// or SNI: one load balancer address often serves hundreds of names.
    pub per_address_concurrency: usize,
    /// Limit for one name resolution.
    pub resolve_timeout: Duration,
    /// Limit for one TCP connect.
    pub connect_timeout: Duration,
    /// Limit for one TLS handshake (includes the server's think time).
    /// The legacy capture, when it runs, gets the same limit again for its
    /// own connection and handshake; a server that requested a client
    /// certificate gets up to a second more to refuse the connection.
    pub handshake_timeout: Duration,
    /// Limit for a whole run (one `probe_*` call), from its start. Targets
    /// not finished by then are reported with [`ProbeErrorKind::Deadline`].
    pub overall_deadline: Option<Duration>,
    /// First reachable address or all of them.
    pub addresses: AddressSelection,
    /// Families to connect over.
    pub ip_family: FamilyFilter,
    /// ALPN protocols offered, in preference order.
    pub alpn: Vec<String>,
    /// Most bytes read from a server before its handshake completes.
    pub max_handshake_bytes: u64,
    /// When the full handshake cannot be negotiated (the server speaks
    /// only TLS 1.0/1.1, or shares no cipher suite or signature algorithm
    /// with rustls), capture the chain with a second, capture-only TLS
    /// 1.0-1.2 handshake on a new connection
    /// ([`CaptureMethod::LegacyHandshake`]).
    pub legacy_fallback: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            max_concurrency: 64,
            per_address_concurrency: 8,
            resolve_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            overall_deadline: None,
            addresses: AddressSelection::First,
            ip_family: FamilyFilter::Any,
            alpn: vec!["h2".into(), "http/1.1".into()],
            // Ten times a long real chain; rustls separately refuses any
            // single handshake message over 64 KiB.
            max_handshake_bytes: 256 * 1024,
            legacy_fallback: true,
        }
    }
}

/// Probes TLS endpoints. Cheap to clone; clones share the concurrency
/// limits, so two runs on one prober together respect them.
#[derive(Clone, Debug)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProbeConfig,
    tls: ClientTemplate,
    global: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl std::fmt::Debug for Inner {
    // The TLS template is derived from the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The stream of observations of one run, in completion order. The run
/// stops early if this receiver is dropped.
///
/// Unbounded: probing never waits for its consumer (an analysis that
/// fetches an issuer or a CRL does not hold up handshakes, nor push them
/// toward a run deadline); the spawned tasks, not the channel, bound the
/// work in flight.
pub type ObservationReceiver = mpsc::UnboundedReceiver<ProbeObservation>;

impl Prober {
    /// A prober with its own TLS client configuration (ring provider) and
    /// concurrency limits. Zero limits are raised to one.
    pub fn new(mut config: ProbeConfig) -> Self {
        config.max_concurrency = config.max_concurrency.max(1);
        config.per_address_concurrency = config.per_address_concurrency.max(1);
        let tls = ClientTemplate::new(&config.alpn);
        Prober {
            inner: Arc::new(Inner {
                global: Arc::new(Semaphore::new(config.max_concurrency)),
                per_address: Mutex::new(HashMap::new()),
                tls,
                config,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ProbeConfig {
        &self.inner.config
    }

    /// Starts probing `targets` and returns the observations as they
    /// complete. Every target yields at least one observation (see
    /// [`ProbeObservation`]); the channel closes after the last.
    ///
    /// Must be called from within a Tokio runtime (it spawns tasks on it);
    /// the runtime needs the I/O and time drivers.
    pub fn probe_stream(&self, targets: Vec<ProbeTarget>) -> ObservationReceiver {
        let inner = Arc::clone(&self.inner);
        let (tx, rx) = mpsc::unbounded_channel();
        let run_deadline = inner.config.overall_deadline.map(|d| Instant::now() + d);
        tokio::spawn(async move {
            // Bounds the number of spawned tasks (memory), not the probing:
            // probing is bounded by the global and per-address semaphores.
            let spawned = Arc::new(Semaphore::new(inner.config.max_concurrency.saturating_mul(4).max(256)));
            for (index, target) in targets.into_iter().enumerate() {
                let Ok(slot) = Arc::clone(&spawned).acquire_owned().await else {
                    break;
                };
                if tx.is_closed() {
                    break;
                }
                let inner = Arc::clone(&inner);
                let tx = tx.clone();
                tokio::spawn(async move {
                    inner.probe_target(index, target, run_deadline, &tx).await;
                    drop(slot);
                });
            }
        });
        rx
    }

    /// Probes `targets` and returns every observation, ordered by target
    /// index then address.
    pub async fn probe_collect(&self, targets: Vec<ProbeTarget>) -> Vec<ProbeObservation> {
        let mut rx = self.probe_stream(targets);
        let mut out = Vec::new();
        while let Some(obs) = rx.recv().await {
            out.push(obs);
        }
        out.sort_by_key(|o| (o.target_index, o.address));
        out
    }
}

/// Probes on a dedicated Tokio runtime, owned by this call and shut down
/// before it returns, so it touches no process globals and works from any
/// thread that is not itself inside a runtime.
///
/// Errors only if the runtime cannot be created (out of threads or fds).
pub fn probe_blocking(config: ProbeConfig, targets: Vec<ProbeTarget>) -> io::Result<Vec<ProbeObservation>> {
    let mut out = Vec::new();
    probe_blocking_batches(config, targets, usize::MAX, |batch| out.extend(batch))?;
    out.sort_by_key(|o| (o.target_index, o.address));
    Ok(out)
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The per-target state carried into each observation.
#[derive(Clone)]
struct Base {
    index: usize,
    target: ProbeTarget,
    sni: Option<String>,
    resolution: Option<Resolution>,
    started: Instant,
    started_unix_ms: u64,
    resolve_us: Option<u64>,
}

impl Base {
    fn observe(
        &self,
        address: Option<SocketAddr>,
        mut timings: Timings,
        outcome: ProbeOutcome,
        partial_tls: Option<PartialTls>,
        failed_attempts: Vec<FailedAttempt>,
    ) -> ProbeObservation {
        timings.resolve_us = self.resolve_us;
        timings.total_us = micros(self.started.elapsed());
        ProbeObservation {
            target_index: self.index,
            target: self.target.clone(),
            address,
            ip_family: address.map(|a| IpFamily::from(a.ip())),
            sni: self.sni.clone(),
            resolution: self.resolution,
            started_at_unix_ms: self.started_unix_ms,
            timings,
            outcome,
            failed_attempts,
            partial_tls,
        }
    }

    fn fail(&self, timings: Timings, err: ProbeError) -> ProbeObservation {
        self.observe(None, timings, ProbeOutcome::Error(err), None, Vec::new())
    }
}

/// Runs `f` until `per_phase` elapses or the run deadline passes, whichever
/// is first, and says which one it was.
async fn bounded<F: Future>(
    phase: Phase,
    per_phase: Option<Duration>,
    run_deadline: Option<Instant>,
    f: F,
) -> Result<F::Output, ProbeError> {
    let phase_deadline = per_phase.map(|d| Instant::now() + d);
    let (deadline, is_run) = match (phase_deadline, run_deadline) {
        (Some(p), Some(r)) if r < p => (Some(r), true),
        (Some(p), _) => (Some(p), false),
        (None, Some(r)) => (Some(r), true),
        (None, None) => (None, false),
    };
    let Some(deadline) = deadline else {
        return Ok(f.await);
    };
    match tokio::time::timeout_at(deadline.into(), f).await {
        Ok(v) => Ok(v),
        Err(_) if is_run => Err(ProbeError::new(
            ProbeErrorKind::Deadline(phase),
            format!("the run's deadline passed during the {}", phase.activity()),
        )),
        Err(_) => Err(ProbeError::new(
            ProbeErrorKind::Timeout(phase),
            format!("the {} took longer than {}", phase.activity(), duration_words(per_phase.unwrap_or_default())),
        )),
    }
}

/// The SNI to send and the name rustls is given. Without SNI rustls is
/// given the IP address, for which it sends no server_name extension.
/// Internationalized names are sent as A-labels; targets parsed from text
/// are converted already, this covers those built in code.
fn choose_sni(target: &ProbeTarget) -> Result<Option<DnsName<'static>>, ProbeError> {
    let name = match &target.sni {
        SniMode::None => return Ok(None),
        SniMode::FromHost if target.host_ip().is_some() => return Ok(None),
        SniMode::FromHost => target.host.trim(),
        SniMode::Name(n) => {
            if n.parse::<IpAddr>().is_ok() {
                return Err(ProbeError::new(
                    ProbeErrorKind::InvalidTarget,
                    format!("SNI {n:?} is an IP address, which SNI cannot carry (RFC 6066); send no SNI instead"),
                ));
            }
            n.as_str()
        }
    };
    let ascii = ascii_host(name)
        .map_err(|why| ProbeError::new(ProbeErrorKind::InvalidTarget, format!("cannot send SNI: {why}")))?;
    DnsName::try_from(ascii).map(Some).map_err(|_| {
        ProbeError::new(ProbeErrorKind::InvalidTarget, format!("{name:?} is not a valid DNS name for SNI"))
    })
}

impl Inner {
    fn address_semaphore(&self, ip: IpAddr) -> Arc<Semaphore> {
        let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(ip).or_insert_with(|| Arc::new(Semaphore::new(self.config.per_address_concurrency))))
    }

    /// Waits for this address's permit, then a global one. In that order so
    /// that probes queued behind one busy address do not hold global
    /// permits other addresses could use.
    async fn permits(
        &self,
        ip: IpAddr,
        run_deadline: Option<Instant>,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), ProbeError> {
        let per = self.address_semaphore(ip);
        let global = Arc::clone(&self.global);
        let permits = bounded(Phase::Queue, None, run_deadline, async move {
            let a = per.acquire_owned().await.expect("semaphores are never closed");
            let g = global.acquire_owned().await.expect("semaphores are never closed");
            (a, g)
        })
        .await?;
        // A permit freed by a probe that hit the deadline can arrive in the
        // same instant: a probe that starts after the deadline never started.
        if run_deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ProbeError::new(
                ProbeErrorKind::Deadline(Phase::Queue),
                "the run's deadline passed while waiting to start",
            ));
        }
        Ok(permits)
    }

    async fn probe_target(
        self: &Arc<Self>,
        index: usize,
        target: ProbeTarget,
        run_deadline: Option<Instant>,
        tx: &mpsc::UnboundedSender<ProbeObservation>,
    ) {
        let mut base = Base {
            index,
            sni: None,
            resolution: None,
            started: Instant::now(),
            started_unix_ms: unix_ms(),
            resolve_us: None,
            target,
        };
        let mut timings = Timings::default();
        let sni = match choose_sni(&base.target) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(base.fail(timings, e));
                return;
            }
        };
        base.sni = sni.as_ref().map(|n| n.as_ref().to_owned());

        let addrs = match self.resolve(&mut base, &mut timings, run_deadline).await {
            Ok(a) => a,
            Err(e) => {
                let _ = tx.send(base.fail(timings, e));
                return;
            }
        };

        match self.config.addresses {
            AddressSelection::First => {
                let obs = self.probe_first(&base, timings, &addrs, sni, run_deadline).await;
                let _ = tx.send(obs);
            }
            AddressSelection::All => {
                let mut set = tokio::task::JoinSet::new();
                for addr in addrs {
                    let this = Arc::clone(self);
                    let (base, sni, tx) = (base.clone(), sni.clone(), tx.clone());
                    set.spawn(async move {
                        let obs = this.probe_first(&base, timings, &[addr], sni, run_deadline).await;
                        let _ = tx.send(obs);
                    });
                }
                while set.join_next().await.is_some() {}
            }
        }
    }

    /// The addresses to connect to, filtered by family, in order.
    async fn resolve(
        &self,
        base: &mut Base,
        timings: &mut Timings,
        run_deadline: Option<Instant>,
    ) -> Result<Vec<SocketAddr>, ProbeError> {
        let port = base.target.port;
        let ips: Vec<IpAddr> = if let Some(ov) = &base.target.resolve_override {
            base.resolution = Some(Resolution::Override);
            ov.clone()
        } else if let Some(ip) = base.target.host_ip() {
            base.resolution = Some(Resolution::Literal);
            vec![ip]
        } else {
            base.resolution = Some(Resolution::Dns);
            // Resolution runs on the blocking pool: hold a global permit so
            // a long list of names cannot start unbounded lookups.
            let queued = Instant::now();
            let global = Arc::clone(&self.global);
            let _permit = bounded(Phase::Queue, None, run_deadline, global.acquire_owned())
                .await?
                .expect("semaphores are never closed");
            timings.queue_us += micros(queued.elapsed());
            let t0 = Instant::now();
            let host = ascii_host(&base.target.host)
                .map_err(|why| ProbeError::new(ProbeErrorKind::InvalidTarget, format!("cannot resolve: {why}")))?;
            let res = bounded(
                Phase::Resolve,
                Some(self.config.resolve_timeout),
                run_deadline,
                tokio::net::lookup_host((host.clone(), port)),
            )
            .await;
            base.resolve_us = Some(micros(t0.elapsed()));
            let found = res?.map_err(|e| {
                ProbeError::new(ProbeErrorKind::Dns, format!("the name {host} could not be resolved: {}", os_words(&e)))
            })?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for sa in found {
                if !ips.contains(&sa.ip()) {
                    ips.push(sa.ip());
                }
            }
            ips
        };
        let all = ips.len();
        let addrs: Vec<SocketAddr> =
            ips.into_iter().filter(|ip| self.config.ip_family.admits(ip)).map(|ip| SocketAddr::new(ip, port)).collect();
        if addrs.is_empty() {
            return Err(ProbeError::new(
                ProbeErrorKind::Dns,
                format!(
                    "{} has no {} address to probe ({all} found)",
                    base.target.host,
                    match self.config.ip_family {
                        FamilyFilter::V4 => "IPv4",
                        FamilyFilter::V6 => "IPv6",
                        FamilyFilter::Any => "IPv4 or IPv6",
                    }
                ),
            ));
        }
        Ok(addrs)
    }

    /// Tries `addrs` in order until one accepts a TCP connection, then
    /// handshakes with it.
    async fn probe_first(
        &self,
        base: &Base,
        mut timings: Timings,
        addrs: &[SocketAddr],
        sni: Option<DnsName<'static>>,
        run_deadline: Option<Instant>,
    ) -> ProbeObservation {
        let mut failed: Vec<FailedAttempt> = Vec::new();
        for (i, &addr) in addrs.iter().enumerate() {
            let queued = Instant::now();
            let permits = match self.permits(addr.ip(), run_deadline).await {
                Ok(p) => p,
                Err(e) => return base.observe(Some(addr), timings, ProbeOutcome::Error(e), None, failed),
            };
            timings.queue_us += micros(queued.elapsed());
            let t0 = Instant::now();
            let connected =
                bounded(Phase::Connect, Some(self.config.connect_timeout), run_deadline, TcpStream::connect(addr))
                    .await
                    .and_then(|r| r.map_err(|e| classify_connect(&e, addr)));
            timings.connect_us = Some(micros(t0.elapsed()));
            let tcp = match connected {
                Ok(tcp) => tcp,
                Err(e) => {
                    let last = i + 1 == addrs.len();
                    let deadline = matches!(e.kind, ProbeErrorKind::Deadline(_));
                    if last || deadline {
                        return base.observe(Some(addr), timings, ProbeOutcome::Error(e), None, failed);
                    }
                    failed.push(FailedAttempt { address: addr, error: e });
                    continue;
                }
            };
            // Handshake latency matters more than packet count here.
            let _ = tcp.set_nodelay(true);
            let (outcome, partial) = self.handshake(tcp, addr, sni.clone(), &mut timings, run_deadline).await;
            drop(permits);
            return base.observe(Some(addr), timings, outcome, partial, failed);
        }
        unreachable!("resolve() never returns an empty address list")
    }

    /// The full handshake and, when it cannot be negotiated, the legacy
    /// capture. Returns the outcome and, with an error, what the server
    /// revealed before it.
    async fn handshake(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        sni: Option<DnsName<'static>>,
        timings: &mut Timings,
        run_deadline: Option<Instant>,
    ) -> (ProbeOutcome, Option<PartialTls>) {
        let sni_text = sni.as_ref().map(|n| n.as_ref().to_owned());
        let name = match sni {
            Some(dns) => ServerName::DnsName(dns),
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let slot = CaptureSlot::default();
        let connector = TlsConnector::from(self.tls.for_connection(&slot));
        let io = Watched::new(tcp, self.config.max_handshake_bytes);
        let t0 = Instant::now();
        let res = bounded(
            Phase::Handshake,
            Some(self.config.handshake_timeout),
            run_deadline,
            connector.connect(name, io).into_fallible(),
        )
        .await;
        timings.handshake_us = Some(micros(t0.elapsed()));
        let mut tls = match res {
            Err(timeout) => {
                // The stream went with the timed-out future; what the
                // verifier recorded is still here.
                let captured = take_captured(&slot);
                let partial = PartialTls {
                    chain: captured.chain,
                    client_certificate_request: captured.client_certificate_request.map(request_of),
                    ..PartialTls::default()
                };
                return (ProbeOutcome::Error(timeout), Some(partial).filter(|p| !p.is_empty()));
            }
            Ok(Err((err, io))) => {
                let captured = take_captured(&slot);
                let context = HandshakeContext {
                    bytes_read: io.bytes_read,
                    head: &io.head,
                    client_certificate_requested: captured.client_certificate_request.is_some(),
                    chain_captured: !captured.chain.is_empty(),
                };
                let error = classify_handshake(&err, &context);
                let hello = legacy::server_hello_in(&io.head);
                let mut partial = PartialTls {
                    version: hello.as_ref().map(|h| h.version_name.clone()),
                    cipher_suite: hello.map(|h| h.cipher_suite),
                    chain: captured.chain,
                    client_certificate_request: captured.client_certificate_request.map(request_of),
                    handshake_bytes: io.bytes_read,
                };
                if let Some(request) = &mut partial.client_certificate_request {
                    request.required = error.kind == ProbeErrorKind::ClientCertificateRequired;
                }
                drop(io);
                if self.config.legacy_fallback && wants_legacy_capture(&error.kind, &partial) {
                    let t1 = Instant::now();
                    let outcome = self.legacy_capture(addr, sni_text.as_deref(), error, run_deadline).await;
                    timings.handshake_us = timings.handshake_us.map(|us| us + micros(t1.elapsed()));
                    return match outcome {
                        Ok(facts) => (ProbeOutcome::Tls(facts), None),
                        Err((error, so_far)) => {
                            keep_legacy_so_far(&mut partial, *so_far);
                            (ProbeOutcome::Error(error), Some(partial).filter(|p| !p.is_empty()))
                        }
                    };
                }
                return (ProbeOutcome::Error(error), Some(partial).filter(|p| !p.is_empty()));
            }
            Ok(Ok(tls)) => tls,
        };
        let captured = take_captured(&slot);
        let (io, conn) = tls.get_ref();
        let facts = TlsFacts {
            version: match conn.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
                Some(other) => legacy::version_name(u16::from(other)),
                None => String::new(),
            },
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| {
                    let id = s.suite();
                    id.as_str().map_or_else(|| format!("unknown cipher suite {:#06x}", u16::from(id)), str::to_owned)
                })
                .unwrap_or_default(),
            key_exchange_group: conn.negotiated_key_exchange_group().map(|g| {
                let id = g.name();
                id.as_str().map_or_else(|| format!("unknown group {:#06x}", u16::from(id)), str::to_owned)
            }),
            alpn: conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
            chain: captured.chain,
            handshake_bytes: io.bytes_read,
            capture: CaptureMethod::FullHandshake,
            full_handshake_error: None,
            client_certificate_request: captured.client_certificate_request.map(request_of),
            stapled_ocsp: captured.stapled_ocsp,
        };
        if facts.client_certificate_request.is_some() && facts.version == "TLSv1.3" {
            // In TLS 1.3 the client finishes first: a server that insists on
            // a certificate says so only after. Wait briefly for that word.
            // (In TLS 1.2 the refusal comes before the server's Finished, so
            // the handshake itself fails.)
            let wait = self.config.handshake_timeout.min(CLIENT_CERTIFICATE_REFUSAL_WAIT);
            let mut byte = [0u8; 1];
            let refusal = match tokio::time::timeout(wait, tls.read(&mut byte)).await {
                Err(_) | Ok(Ok(1..)) => None,
                Ok(Ok(0)) => Some(ProbeError::new(
                    ProbeErrorKind::ClientCertificateRequired,
                    "the server asked for a client certificate and closed the connection when the probe sent none",
                )),
                Ok(Err(e)) => Some(refusal_error(&e, facts.handshake_bytes)),
            };
            if let Some(error) = refusal {
                let mut partial = PartialTls {
                    version: Some(facts.version),
                    cipher_suite: Some(facts.cipher_suite),
                    chain: facts.chain,
                    client_certificate_request: facts.client_certificate_request,
                    handshake_bytes: facts.handshake_bytes,
                };
                if let Some(request) = &mut partial.client_certificate_request {
                    request.required = true;
                }
                return (ProbeOutcome::Error(error), Some(partial));
            }
        }
        // close_notify, then the socket is closed (FIN) when `tls` drops; no
        // application data is ever written. No `shutdown()`: its half-close
        // is a syscall more per probe for nothing, since close() follows at
        // once (the Go scanner's `Close` does the same). The server's
        // reaction does not matter, so the write gets a short, fixed time.
        let close = self.config.handshake_timeout.min(Duration::from_secs(1));
        tls.get_mut().1.send_close_notify();
        let _ = tokio::time::timeout(close, tls.flush()).await;
        (ProbeOutcome::Tls(facts), None)
    }

    /// The capture-only handshake on a new connection to `addr`, within
    /// the handshake timeout. `full_error` is why the full handshake
    /// failed; it is kept in the facts, or returned (its message extended
    /// by why the capture failed, with what the capture learnt) when the
    /// capture fails too.
    async fn legacy_capture(
        &self,
        addr: SocketAddr,
        sni: Option<&str>,
        mut full_error: ProbeError,
        run_deadline: Option<Instant>,
    ) -> Result<TlsFacts, (ProbeError, Box<legacy::LegacyCapture>)> {
        let mut random = [0u8; 32];
        if rustls::crypto::ring::default_provider().secure_random.fill(&mut random).is_err() {
            return Err((full_error, Box::default()));
        }
        let max_bytes = self.config.max_handshake_bytes;
        let attempt = async {
            // `?` makes a connect error a failure that learnt nothing.
            let tcp = TcpStream::connect(addr).await.map_err(|e| classify_connect(&e, addr))?;
            let _ = tcp.set_nodelay(true);
            legacy::capture(tcp, sni, &random, max_bytes).await
        };
        let result = bounded(Phase::Handshake, Some(self.config.handshake_timeout), run_deadline, attempt)
            .await
            .map_err(legacy::LegacyFailure::from)
            .and_then(|r| r);
        match result {
            Ok(captured) => {
                if full_error.kind == ProbeErrorKind::UnsupportedProtocol && captured.version_number < 0x0303 {
                    full_error.message = format!(
                        "the server speaks only {}, which current clients refuse",
                        legacy::version_words(&captured.version)
                    );
                }
                Ok(TlsFacts {
                    version: captured.version,
                    cipher_suite: captured.cipher_suite,
                    key_exchange_group: None,
                    alpn: None,
                    chain: captured.chain,
                    handshake_bytes: captured.bytes_read,
                    capture: CaptureMethod::LegacyHandshake,
                    full_handshake_error: Some(full_error),
                    client_certificate_request: captured.client_certificate_request.map(request_of),
                    stapled_ocsp: None,
                })
            }
            Err(failure) => {
                full_error.message = format!(
                    "{}; a TLS 1.0-1.2 capture handshake failed too: {}",
                    full_error.message, failure.error.message
                );
                Err((full_error, failure.so_far))
            }
        }
    }
}

/// Adds to a failed full handshake's partial facts what a failed legacy
/// capture learnt (its chain, version and suite), where the full handshake
/// learnt nothing of its own.
fn keep_legacy_so_far(partial: &mut PartialTls, so_far: legacy::LegacyCapture) {
    if partial.chain.is_empty() {
        partial.chain = so_far.chain;
    }
    if partial.version.is_none() && !so_far.version.is_empty() {
        partial.version = Some(so_far.version);
        partial.cipher_suite = Some(so_far.cipher_suite);
    }
    if partial.client_certificate_request.is_none() {
        partial.client_certificate_request = so_far.client_certificate_request.map(request_of);
    }
}

/// How long a server that requested a client certificate gets, after a
/// TLS 1.3 handshake, to refuse the connection for want of one.
const CLIENT_CERTIFICATE_REFUSAL_WAIT: Duration = Duration::from_secs(1);

fn request_of(names: Vec<crate::model::DistinguishedNameDer>) -> ClientCertificateRequest {
    ClientCertificateRequest { acceptable_ca_names: names, required: false }
}

/// A failure read right after a handshake in which the server requested
/// a client certificate: its refusal, whatever alert it chose.
fn refusal_error(e: &io::Error, bytes_read: u64) -> ProbeError {
    let context =
        HandshakeContext { bytes_read, head: &[22, 3], client_certificate_requested: true, chain_captured: true };
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => classify_rustls(tls, &context),
        None => classify_handshake(e, &context),
    }
}

/// Whether a failed full handshake is one the legacy capture can help
/// with: nothing was negotiated (so no chain arrived) and the server
/// refused the version or the algorithms offered, or hung up on the
/// ClientHello without a word (how version-intolerant old servers react to
/// a TLS 1.3 ClientHello).
fn wants_legacy_capture(kind: &ProbeErrorKind, partial: &PartialTls) -> bool {
    partial.chain.is_empty()
        && match kind {
            ProbeErrorKind::UnsupportedProtocol | ProbeErrorKind::NoCommonAlgorithms => true,
            ProbeErrorKind::Closed | ProbeErrorKind::Reset => partial.handshake_bytes == 0,
            ProbeErrorKind::TlsAlert(alert) => {
                matches!(alert.as_str(), "HandshakeFailure" | "InsufficientSecurity" | "IllegalParameter")
            }
            _ => false,
        }
}

/// Probes on a dedicated runtime like [`probe_blocking`], handing the
/// observations to `on_batch` as they complete (completion order), in
/// batches of whatever has arrived, at most `max_batch`, so a caller can
/// stream results while the run goes on.
///
/// `on_batch` runs on the calling thread, outside the runtime (it may
/// block, or start a runtime of its own), while the runtime's workers go on
/// probing: the observations reach the caller with no thread in between,
/// one wake-up per batch.
///
/// Errors only if the runtime cannot be created.
pub fn probe_blocking_batches(
    config: ProbeConfig,
    targets: Vec<ProbeTarget>,
    max_batch: usize,
    mut on_batch: impl FnMut(Vec<ProbeObservation>),
) -> io::Result<()> {
    // Handshakes are CPU-bound (key exchange, signature checks): one worker
    // per core, but no more than the work can use.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(config.max_concurrency.max(1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("certinspect-probe")
        .enable_all()
        .build()?;
    let mut rx = rt.block_on(async move { Prober::new(config).probe_stream(targets) });
    let max_batch = max_batch.max(1);
    loop {
        let mut batch = Vec::new();
        if rt.block_on(rx.recv_many(&mut batch, max_batch)) == 0 {
            break;
        }
        on_batch(batch);
    }
    // Tasks are all finished here; don't wait on lingering blocking DNS
    // lookups that timed out.
    rt.shutdown_background();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CertDer;

    #[test]
    fn legacy_capture_follows_refusals_of_what_was_offered() {
        let nothing = PartialTls::default();
        let answered = PartialTls { handshake_bytes: 7, ..PartialTls::default() };
        let with_chain = PartialTls { chain: vec![CertDer::from(vec![1])], ..PartialTls::default() };
        for (kind, partial, expected) in [
            (ProbeErrorKind::UnsupportedProtocol, &nothing, true),
            (ProbeErrorKind::NoCommonAlgorithms, &nothing, true),
            (ProbeErrorKind::TlsAlert("IllegalParameter".into()), &nothing, true),
            (ProbeErrorKind::TlsAlert("UnrecognisedName".into()), &nothing, false),
            (ProbeErrorKind::Closed, &nothing, true),
            (ProbeErrorKind::Reset, &nothing, true),
            (ProbeErrorKind::Closed, &answered, false),
            (ProbeErrorKind::NoCommonAlgorithms, &with_chain, false),
            (ProbeErrorKind::BadHandshakeSignature, &with_chain, false),
            (ProbeErrorKind::NotTls, &nothing, false),
            (ProbeErrorKind::Timeout(Phase::Handshake), &nothing, false),
        ] {
            assert_eq!(wants_legacy_capture(&kind, partial), expected, "{kind:?} {partial:?}");
        }
    }

    #[test]
    fn a_failed_legacy_capture_adds_what_it_learnt() {
        let so_far = || legacy::LegacyCapture {
            version: "TLSv1.0".into(),
            version_number: 0x0301,
            cipher_suite: "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            chain: vec![CertDer::from(vec![9])],
            client_certificate_request: Some(vec![]),
            bytes_read: 900,
        };
        let mut empty = PartialTls::default();
        keep_legacy_so_far(&mut empty, so_far());
        assert_eq!(empty.version.as_deref(), Some("TLSv1.0"));
        assert_eq!(empty.cipher_suite.as_deref(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert_eq!(empty.chain, vec![CertDer::from(vec![9])]);
        assert!(empty.client_certificate_request.is_some());

        let mut own = PartialTls {
            version: Some("TLSv1.2".into()),
            cipher_suite: Some("X".into()),
            chain: vec![CertDer::from(vec![1])],
            ..PartialTls::default()
        };
        keep_legacy_so_far(&mut own, so_far());
        assert_eq!((own.version.as_deref(), own.chain.clone()), (Some("TLSv1.2"), vec![CertDer::from(vec![1])]));

        let mut untouched = PartialTls::default();
        keep_legacy_so_far(&mut untouched, legacy::LegacyCapture::default());
        assert!(untouched.is_empty());
    }
}
