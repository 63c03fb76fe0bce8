//! Emulated cloud worlds, served end to end on loopback.
//!
//! [`Testbed::start`] generates a world with real certificates (optionally
//! with planted drift), starts `alibaba-emulator` for its API and a TLS farm
//! that serves, for every CDN domain and SLB listener, exactly the chain the
//! world says its live endpoint serves. [`Testbed::connect_to`] gives the
//! `HOST:PORT:ADDRESS:PORT` routes that send each declared endpoint to the
//! farm, so nothing ever leaves 127.0.0.1. With [`TestbedOptions::crl`]
//! the world's CA also publishes its CRL on 127.0.0.1, named by every leaf.
//!
//! [`aws::AwsWorld`] is the AWS half: the real `moto_server` ([`moto`],
//! also what the AWS plugin's tests run against) seeded with planted drift,
//! and its own TLS endpoints. [`Testbed::write_inspect_config_with`] writes
//! one configuration checking both clouds.
//!
//! Used by the offline demo (`cargo xtask demo`), the end-to-end tests and
//! benchmarks. What it is not: product code; `inspect` never links it.

pub mod aws;
pub mod moto;
pub mod prometheus;
pub mod python;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use alibaba_emulator::generate::{generate, GenerateOptions, GeneratedWorld};
use alibaba_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use aws::AwsWorld;
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
    /// Give the accounts ALB load balancers, one with a stale SNI
    /// certificate planted (with `drift`), and an `alibaba-alb` source.
    pub alb: bool,
    /// Publish the world CA's CRL over HTTP on 127.0.0.1, named by every
    /// leaf, and plant `revoked_crl`: a certificate only the CRL revokes.
    pub crl: bool,
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
    /// `None` once [`Testbed::stop_endpoints`] stopped it.
    farm: Option<FarmHandle>,
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

impl Route {
    /// As a `--connect-to` value: `HOST:PORT:ADDRESS:PORT`.
    pub fn connect_to(&self) -> String {
        format!("{}:{}:{}", self.host, self.port, self.to)
    }
}

/// Most requests the CRL server answers before it stops by itself (a demo
/// or test run fetches the list once per run).
const CRL_REQUESTS: usize = 1_000;

/// Answer every request on `listener` with `crl` (HTTP/1.1, one request per
/// connection), on a thread of its own, up to [`CRL_REQUESTS`].
fn serve_crl(listener: TcpListener, crl: Vec<u8>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().take(CRL_REQUESTS) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.read(&mut [0u8; 4096]);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                crl.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&crl));
        }
    });
}

impl Testbed {
    /// Generate the world and start everything serving it.
    pub fn start(options: &TestbedOptions) -> Result<Self, String> {
        // The CRL's URL goes into the certificates, so its server is bound first.
        let crl_listener = options
            .crl
            .then(|| TcpListener::bind("127.0.0.1:0"))
            .transpose()
            .map_err(|e| format!("cannot bind the CRL server: {e}"))?;
        let crl_url = crl_listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| format!("http://{a}/ca.crl")))
            .transpose()
            .map_err(|e| format!("cannot bind the CRL server: {e}"))?;
        let generated = generate(&GenerateOptions {
            domains: options.domains,
            accounts: options.accounts,
            regions: options.regions.clone(),
            drift: options.drift,
            seed: options.seed,
            out_dir: options.dir.clone(),
            alb: options.alb,
            crl_url,
            ..GenerateOptions::default()
        })
        .map_err(|e| format!("cannot generate the world: {e}"))?;
        if let Some(listener) = crl_listener {
            let path = options.dir.join("ca.crl");
            let crl = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serve_crl(listener, crl);
        }
        let emulator = Emulator::start(generated.world.clone(), EmulatorConfig::default())
            .map_err(|e| format!("cannot start the emulator: {e}"))?;

        // One farm endpoint per declared (host, port): CDN domains all share
        // port 443 and are told apart by SNI; an SLB listener is its address
        // and port, with its default certificate and its SNI extensions.
        let mut groups: BTreeMap<(String, u16), TlsEndpoint> = BTreeMap::new();
        let mut hosts_of_group: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
        for endpoint in generated.world.endpoints() {
            let group = (endpoint.address.clone().unwrap_or_else(|| "cdn".into()), endpoint.port);
            let cert =
                CertSource::Files { chain: endpoint.serves.chain_pem.clone(), key: endpoint.serves.key_pem.clone() };
            let tls = groups.entry(group.clone()).or_default();
            let hosts = hosts_of_group.entry(group).or_default();
            // Clients reach an address-bound endpoint by its address, or by the
            // name the world gives it (ALB/NLB `DNSName`).
            let reach = |address: &String| endpoint.host_name.clone().unwrap_or_else(|| address.clone());
            match (&endpoint.address, &endpoint.sni) {
                (Some(address), None) => {
                    tls.default = Some(cert);
                    hosts.push(reach(address));
                }
                (Some(address), Some(name)) => {
                    tls.sni.push(SniEntry { names: vec![name.clone()], cert });
                    hosts.push(reach(address));
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
        Ok(Self { generated, emulator, farm: Some(farm), routes })
    }

    /// Routes from every declared endpoint to the farm.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes as `HOST:PORT:ADDRESS:PORT` strings (`--connect-to`).
    pub fn connect_to(&self) -> Vec<String> {
        self.routes.iter().map(Route::connect_to).collect()
    }

    /// The emulator's base URL.
    pub fn api_url(&self) -> String {
        self.emulator.url()
    }

    /// The TLS farm (for its statistics).
    ///
    /// # Panics
    /// After [`Testbed::stop_endpoints`].
    pub fn farm(&self) -> &FarmHandle {
        self.farm.as_ref().expect("the TLS endpoints were stopped")
    }

    /// Stop every TLS endpoint (an endpoint outage): connections to the
    /// routes are refused from now on; the API keeps answering.
    pub fn stop_endpoints(&mut self) {
        self.farm = None;
    }

    /// Write what `inspect scan` needs to check this world, as a user would
    /// set it up: `DIR/inspect.toml` and the aliyun CLI's credentials file
    /// under `DIR/home` (run `inspect` with `HOME` set to it). Returns both
    /// paths.
    pub fn write_inspect_config(&self, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
        self.write_inspect_config_with(dir, None)
    }

    /// [`Testbed::write_inspect_config`], checking `aws` too when given:
    /// its `[[source]]` (credentials in `DIR/aws`), its routes, and a trust
    /// bundle `DIR/trust.pem` with both worlds' CAs.
    pub fn write_inspect_config_with(&self, dir: &Path, aws: Option<&AwsWorld>) -> Result<(PathBuf, PathBuf), String> {
        let home = dir.join("home");
        write_credentials(self, &home)?;
        let world_ca = self.generated.world.ca_pem.clone().unwrap_or_else(|| PathBuf::from("ca.pem"));
        let (ca_file, aws_part) = match aws {
            None => (world_ca, None),
            Some(aws) => {
                let source = aws.write_source(&dir.join("aws")).map_err(|e| e.to_string())?;
                let bundle = dir.join("trust.pem");
                let world_pem = std::fs::read_to_string(&world_ca)
                    .map_err(|e| format!("cannot read {}: {e}", world_ca.display()))?;
                std::fs::write(&bundle, format!("{world_pem}{}", aws.ca_pem()))
                    .map_err(|e| format!("cannot write {}: {e}", bundle.display()))?;
                (bundle, Some((source, aws.routes())))
            }
        };
        let config = dir.join("inspect.toml");
        std::fs::write(&config, config_text(self, &ca_file, aws_part))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        Ok((config, home))
    }
}
/// `~/.aliyun/config.json` with one AK profile per account, as `aliyun configure` writes it.
fn write_credentials(testbed: &Testbed, home: &Path) -> Result<(), String> {
    let profiles: Vec<serde_json::Value> = testbed
        .generated
        .world
        .accounts
        .iter()
        .filter_map(|account| {
            let key = account.access_keys.iter().find(|k| k.enabled && k.security_token.is_none())?;
            Some(serde_json::json!({
                "name": account.name,
                "mode": "AK",
                "access_key_id": key.id,
                "access_key_secret": key.secret,
                "region_id": "cn-hangzhou",
            }))
        })
        .collect();
    let current = profiles.first().and_then(|p| p["name"].as_str()).unwrap_or("default").to_owned();
    let file = serde_json::json!({ "current": current, "profiles": profiles });
    let dir = home.join(".aliyun");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap_or_default())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The configuration file: one source per plugin and account, the
/// emulator as the API endpoint, the world's CA (`ca_file`) as the only
/// trust anchor, and routes from every declared endpoint to the loopback
/// TLS farm; with `aws`, its `[[source]]` section and routes as well.
fn config_text(testbed: &Testbed, ca_file: &Path, aws: Option<(String, &[Route])>) -> String {
    let world = &testbed.generated.world;
    let regions: Vec<String> = world.regions.iter().map(|r| format!("{:?}", r.region_id)).collect();
    let mut text = String::from(
        "# certinspect configuration for an emulated world (written by the testbed for `cargo xtask demo`).\n\
         # Against the real Alibaba Cloud, drop the `endpoint` lines and the [verify]\n\
         # routes, and name your own aliyun CLI profiles.\n\n",
    );
    for account in &world.accounts {
        // ALB/NLB only for accounts whose world has them (GenerateOptions::alb).
        let balancers = !account.alb.is_empty() || !account.nlb.is_empty();
        let plugins = ["alibaba-cdn", "alibaba-slb", "alibaba-cas", "alibaba-alb"];
        for plugin in plugins.into_iter().filter(|p| *p != "alibaba-alb" || balancers) {
            text.push_str(&format!(
                "[[source]]\nplugin = \"{plugin}\"\n[source.config]\nendpoint = \"{}\"\ncredentials = {{ profile = \"{}\" }}\n",
                testbed.api_url(),
                account.name
            ));
            if plugin == "alibaba-slb" || plugin == "alibaba-alb" {
                text.push_str(&format!("regions = [{}]\n", regions.join(", ")));
            }
            text.push('\n');
        }
    }
    let mut routes = testbed.connect_to();
    if let Some((source, aws_routes)) = aws {
        text.push_str(
            "# The AWS account, emulated by moto: against real AWS, drop `endpoint`, the\n\
             # credentials file settings and `metadata_services`, and name your own profile.\n",
        );
        text.push_str(&source);
        text.push('\n');
        routes.extend(aws_routes.iter().map(Route::connect_to));
    }
    text.push_str(&format!(
        "[verify]\ntrust = \"none\"\nca_file = {:?}\nconnect_to = [\n",
        ca_file.display().to_string()
    ));
    for route in routes {
        text.push_str(&format!("    {route:?},\n"));
    }
    text.push_str("]\n");
    text
}
