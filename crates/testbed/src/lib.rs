//! An emulated Alibaba Cloud world, served end to end on loopback.
//!
//! [`Testbed::start`] generates a world with real certificates (optionally
//! with planted drift), starts `alibaba-emulator` for its API and a TLS farm
//! that serves, for every CDN domain and SLB listener, exactly the chain the
//! world says its live endpoint serves. [`Testbed::connect_to`] gives the
//! `HOST:PORT:ADDRESS:PORT` routes that send each declared endpoint to the
//! farm, so nothing ever leaves 127.0.0.1.
//!
//! Used by the offline demo (`cargo xtask demo`), the end-to-end tests and
//! benchmarks. What it is not: product code; `inspect` never links it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use alibaba_emulator::generate::{generate, GenerateOptions, GeneratedWorld};
use alibaba_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use certinspect_tls_farm::{CertSource, EndpointMode, EndpointSpec, Farm, FarmHandle, FarmSpec, SniEntry, TlsEndpoint};

/// What to generate.
#[derive(Debug, Clone)]
pub struct TestbedOptions {
    /// Deployed domains.
    pub domains: usize,
    /// Accounts.
    pub accounts: usize,
    /// SLB regions.
    pub regions: Vec<String>,
    /// Plant the drift cases.
    pub drift: bool,
    /// Generator seed.
    pub seed: u64,
    /// Where the world's files go (created).
    pub dir: PathBuf,
}

/// A running world: emulator, TLS farm, routes.
pub struct Testbed {
    /// The generated world.
    pub generated: GeneratedWorld,
    /// The API emulator.
    pub emulator: EmulatorHandle,
    farm: FarmHandle,
    routes: Vec<Route>,
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed").field("emulator", &self.emulator.url()).field("routes", &self.routes.len()).finish()
    }
}

/// A declared endpoint and the farm address that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Host as the provider declares it (CDN domain, SLB address).
    pub host: String,
    /// Port as declared.
    pub port: u16,
    /// Where the farm serves it.
    pub to: SocketAddr,
}

impl Testbed {
    /// Generate the world and start everything serving it.
    pub fn start(options: &TestbedOptions) -> Result<Self, String> {
        let generated = generate(&GenerateOptions {
            domains: options.domains,
            accounts: options.accounts,
            regions: options.regions.clone(),
            drift: options.drift,
            seed: options.seed,
            out_dir: options.dir.clone(),
            ..GenerateOptions::default()
        })
        .map_err(|e| format!("cannot generate the world: {e}"))?;
        let emulator = Emulator::start(generated.world.clone(), EmulatorConfig::default())
            .map_err(|e| format!("cannot start the emulator: {e}"))?;

        // One farm endpoint per declared (host, port): CDN domains all share
        // port 443 and are told apart by SNI; an SLB listener is its address
        // and port, with its default certificate and its SNI extensions.
        let mut groups: BTreeMap<(String, u16), TlsEndpoint> = BTreeMap::new();
        let mut hosts_of_group: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
        for endpoint in generated.world.endpoints() {
            let group = (endpoint.address.clone().unwrap_or_else(|| "cdn".into()), endpoint.port);
            let cert = CertSource::Files { chain: endpoint.serves.chain_pem.clone(), key: endpoint.serves.key_pem.clone() };
            let tls = groups.entry(group.clone()).or_default();
            let hosts = hosts_of_group.entry(group).or_default();
            match (&endpoint.address, &endpoint.sni) {
                (Some(address), None) => {
                    tls.default = Some(cert);
                    hosts.push(address.clone());
                }
                (Some(address), Some(name)) => {
                    tls.sni.push(SniEntry { names: vec![name.clone()], cert });
                    hosts.push(address.clone());
                }
                (None, Some(name)) => {
                    tls.sni.push(SniEntry { names: vec![name.clone()], cert });
                    hosts.push(name.clone());
                }
                (None, None) => return Err(format!("endpoint {} has neither address nor name", endpoint.resource)),
            }
        }
        let names: Vec<(String, u16)> = groups.keys().cloned().collect();
        let spec = FarmSpec {
            endpoints: groups
                .into_iter()
                .map(|((host, port), tls)| EndpointSpec::new(format!("{host}:{port}"), EndpointMode::Tls(tls)))
                .collect(),
            ..FarmSpec::default()
        };
        let farm = Farm::start(spec).map_err(|e| format!("cannot start the TLS endpoints: {e}"))?;
        let mut routes = Vec::new();
        for (host, port) in names {
            let key = format!("{host}:{port}");
            let to = farm.addr(&key).ok_or_else(|| format!("the farm did not bind {key}"))?;
            let mut hosts = hosts_of_group.remove(&(host, port)).unwrap_or_default();
            hosts.sort();
            hosts.dedup();
            routes.extend(hosts.into_iter().map(|host| Route { host, port, to }));
        }
        Ok(Self { generated, emulator, farm, routes })
    }

    /// Routes from every declared endpoint to the farm.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes as `HOST:PORT:ADDRESS:PORT` strings (`--connect-to`).
    pub fn connect_to(&self) -> Vec<String> {
        self.routes.iter().map(|r| format!("{}:{}:{}", r.host, r.port, r.to)).collect()
    }

    /// The emulator's base URL.
    pub fn api_url(&self) -> String {
        self.emulator.url()
    }

    /// The TLS farm (for its statistics).
    pub fn farm(&self) -> &FarmHandle {
        &self.farm
    }
}
