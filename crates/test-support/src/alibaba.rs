//! Support shared by the integration tests of the Alibaba plugin crates
//! (feature `alibaba`): generated emulator worlds, a credentials file for
//! them, the host the way `inspect` builds it, the host's own collection
//! loop, and the one switch that runs each test under both isolations
//! ([`Isolation`], [`registry`], [`under_both_isolations!`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alibaba_emulator::generate::{generate, GenerateOptions};
use alibaba_emulator::{Emulator, EmulatorConfig, EmulatorHandle, World};
use certinspect_core::collect::{collect, CollectOptions, Collected};
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
pub use certinspect_core::plugins::Isolation;
use certinspect_core::plugins::{LoadedPlugin, OpenedSource, PluginRegistry, ProcessHost, SourceCallError};
use certinspect_sdk::StaticPlugin;
use serde_json::{json, Value};

/// A generated world served by a running emulator.
#[derive(Debug)]
pub struct Served {
    pub dir: tempfile::TempDir,
    pub world: World,
    pub emulator: EmulatorHandle,
    /// `credentials.ini` with the first account's enabled key as `[default]`.
    pub credentials: PathBuf,
}

/// Generates a world of `domains` deployed domains (one account, the given
/// SLB regions; `drift` plants the generator's drift cases).
pub fn world(domains: usize, seed: u64, regions: &[&str], drift: bool) -> (tempfile::TempDir, World) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = GenerateOptions {
        domains,
        out_dir: dir.path().join("world"),
        seed,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        accounts: 1,
        drift,
        ..GenerateOptions::default()
    };
    let generated = generate(&options).expect("world generation");
    (dir, generated.world)
}

/// Serves `world` with `config` and writes a credentials file for it.
pub fn serve(dir: tempfile::TempDir, world: World, config: EmulatorConfig) -> Served {
    let key = world.accounts[0].access_keys.iter().find(|k| k.enabled && k.security_token.is_none()).expect("a key");
    let credentials = dir.path().join("credentials.ini");
    std::fs::write(
        &credentials,
        format!("[default]\ntype = access_key\naccess_key_id = {}\naccess_key_secret = {}\n", key.id, key.secret),
    )
    .expect("write credentials");
    let disabled = world.accounts[0].access_keys.iter().find(|k| !k.enabled);
    if let Some(disabled) = disabled {
        let text = std::fs::read_to_string(&credentials).expect("read");
        std::fs::write(
            &credentials,
            format!(
                "{text}[disabled]\ntype = access_key\naccess_key_id = {}\naccess_key_secret = {}\n",
                disabled.id, disabled.secret
            ),
        )
        .expect("write credentials");
    }
    let emulator = Emulator::start(world.clone(), config).expect("emulator starts");
    Served { dir, world, emulator, credentials }
}

/// A generated world, served with the emulator's defaults (documented QPS).
pub fn served_world(domains: usize, seed: u64, regions: &[&str], drift: bool) -> Served {
    let (dir, world) = world(domains, seed, regions, drift);
    serve(dir, world, EmulatorConfig::default())
}

impl Served {
    /// A plugin configuration pointing at this emulator with the `[default]` profile.
    pub fn config(&self, extra: Value) -> Value {
        config_for(&self.emulator.url(), &self.credentials, "default", extra)
    }
}

/// A configuration for `endpoint` using profile `profile` of `credentials`.
pub fn config_for(endpoint: &str, credentials: &Path, profile: &str, extra: Value) -> Value {
    let mut config = json!({
        "credentials": { "profile": profile, "credentials_file": credentials.to_string_lossy() },
        "endpoint": endpoint,
        "account": "test",
    });
    if let (Some(all), Value::Object(extra)) = (config.as_object_mut(), extra) {
        all.extend(extra);
    }
    config
}

/// The host's services, as `inspect` builds them.
pub fn host() -> Host {
    let transport =
        HttpTransport::new(TransportConfig { timeout: Duration::from_secs(30), ..TransportConfig::default() })
            .expect("transport");
    Host::new(transport, CancelFlag::default())
}

/// The plugins a test opens, and where their code runs.
#[derive(Debug)]
pub struct Plugins {
    registry: PluginRegistry,
    isolation: Isolation,
    /// The run's host: every source opened here shares its services (its
    /// one rate limiter), as the sources of one `inspect` run do.
    host: Host,
}

/// `providers` registered to run under `isolation`: linked into the test
/// binary (`static_module`) for [`Isolation::InProcess`]; for
/// [`Isolation::Process`], the same providers' plugin libraries, each
/// source served by `inspect plugin-host` in a child process of its own.
pub fn registry(isolation: Isolation, providers: impl IntoIterator<Item = StaticPlugin>) -> Plugins {
    let mut linked = PluginRegistry::new();
    for provider in providers {
        linked.add_static(provider);
    }
    assert!(linked.failures().is_empty(), "{:?}", linked.failures());
    match isolation {
        Isolation::InProcess => Plugins { registry: linked, isolation, host: host() },
        _ => libraries(isolation, linked.plugins().iter().map(|p| p.info().name.as_str())),
    }
}

/// The plugin libraries of `names` (`alibaba-cdn`, ...), loaded from files
/// and run under `isolation`; under [`Isolation::Process`] their info comes
/// from a child too, as `inspect` does it, so nothing of them runs here.
pub fn libraries<'a>(isolation: Isolation, names: impl IntoIterator<Item = &'a str>) -> Plugins {
    let mut registry = PluginRegistry::new();
    if isolation == Isolation::Process {
        registry.set_info_host(process_host());
    }
    for name in names {
        registry.load_file(&library(name));
    }
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    Plugins { registry, isolation, host: host() }
}

impl Plugins {
    /// The plugin named `name`.
    ///
    /// # Panics
    /// If it is not registered.
    pub fn get(&self, name: &str) -> &LoadedPlugin {
        self.registry.get(name).unwrap_or_else(|| panic!("{name} not registered: {:?}", self.registry.failures()))
    }

    /// Every registered plugin, in load order.
    pub fn plugins(&self) -> &[LoadedPlugin] {
        self.registry.plugins()
    }

    /// Where the plugins' code runs.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }
}

/// The plugin host of [`Isolation::Process`]: `inspect plugin-host`, the
/// child the product starts, with its default limits.
pub fn process_host() -> ProcessHost {
    ProcessHost::new(crate::inspect_binary(), ["plugin-host"])
}

/// Opens `plugin` with `config` under the registry's isolation, as the
/// host does (on the registry's one host), with no check of the
/// configuration first.
pub fn try_open(plugins: &Plugins, plugin: &str, config: &Value) -> Result<OpenedSource, SourceCallError> {
    let loaded = plugins.get(plugin);
    let services = plugins.host.for_plugin(plugin);
    let source = match plugins.isolation {
        Isolation::InProcess => loaded.open(config, services)?,
        _ => loaded.open_in_child(config, services, &process_host())?,
    };
    assert_eq!(source.isolation(), plugins.isolation, "{plugin} runs where the test asked");
    Ok(source)
}

/// Opens `plugin` with `config` under the registry's isolation, validating
/// the config against the plugin's published schema first (as the CLI does).
pub fn open(plugins: &Plugins, plugin: &str, config: &Value) -> Arc<OpenedSource> {
    let errors = certinspect_core::schema::validate(&plugins.get(plugin).info().config_schema, config);
    assert!(errors.is_empty(), "{plugin} config refused by its own schema: {errors:?}");
    Arc::new(try_open(plugins, plugin, config).unwrap_or_else(|e| panic!("open {plugin}: {e}")))
}

/// Makes each named test function, `fn NAME(isolation: Isolation)`, two
/// tests: `in_process::NAME` and `process::NAME`. One list per test file;
/// a function left off it is dead code, which clippy refuses.
#[macro_export]
macro_rules! under_both_isolations {
    ($($test:ident),+ $(,)?) => {
        mod in_process {
            $(
                #[test]
                fn $test() {
                    super::$test($crate::alibaba::Isolation::InProcess)
                }
            )+
        }
        mod process {
            $(
                #[test]
                fn $test() {
                    super::$test($crate::alibaba::Isolation::Process)
                }
            )+
        }
    };
}

/// Collects the way the host does: scopes, then pages until no cursor.
pub fn collect_all(sources: &[Arc<OpenedSource>]) -> Collected {
    collect(
        sources,
        &CollectOptions { call_timeout: Duration::from_secs(120), parallelism: 4, max_pages_per_scope: 10_000 },
    )
}

/// Asserts that a collection lost nothing: no failed scope, no warning.
#[track_caller]
pub fn assert_complete(collected: &Collected) {
    assert!(
        collected.errors.is_empty() && collected.warnings.is_empty(),
        "{:?} {:?}",
        collected.errors,
        collected.warnings
    );
}

/// Asserts that the clients kept to the emulator's QPS limits (`actions`,
/// or all when empty). A client that ignores a limit is throttled on most
/// of its calls after the first second. Through the host's limiter (which
/// keeps each budget's one-second window by answers) none should be; a
/// few throttles (each retried, so nothing is lost) are still allowed, for
/// a server clock that a loaded machine reads late, not more.
#[track_caller]
pub fn assert_within_qps(stats: &alibaba_emulator::Stats, actions: &[&str]) {
    let counted = |name: &str| actions.is_empty() || actions.contains(&name);
    let of = stats.by_action.iter().filter(|(name, _)| counted(name));
    let (requests, throttled) = of.fold((0, 0), |(requests, throttled), (_, action)| {
        (requests + action.requests, throttled + action.refused.get("Throttling.User").copied().unwrap_or(0))
    });
    assert!(throttled <= (requests / 50).max(2), "{throttled} of {requests} requests throttled");
}

/// The library of the plugin called `name` (`alibaba-cdn`, ...), built
/// once per test process with the other test artifacts.
pub fn library(name: &str) -> PathBuf {
    crate::test_artifacts().join(crate::plugin(name).file_name())
}

/// Expected CDN resource ids (domain names), sorted.
pub fn expected_cdn(world: &World) -> Vec<String> {
    let mut out: Vec<String> = world.accounts[0].cdn_domains.iter().map(|d| d.domain_name.clone()).collect();
    out.sort();
    out
}

/// One SLB binding as (region, resource, port, place): place is `default`,
/// the extension domain, or `unbound`.
pub type SlbKey = (String, String, Option<u16>, String);

/// Expected SLB bindings, sorted: every HTTPS listener default certificate,
/// every domain extension, every certificate bound nowhere.
pub fn expected_slb(world: &World) -> Vec<SlbKey> {
    let mut out = Vec::new();
    for region in &world.accounts[0].slb {
        let mut bound = std::collections::BTreeSet::new();
        for lb in &region.load_balancers {
            for listener in lb.listeners.iter().filter(|l| l.protocol == "https") {
                if let Some(id) = &listener.server_certificate_id {
                    bound.insert(id.clone());
                    out.push((
                        region.region_id.clone(),
                        lb.load_balancer_id.clone(),
                        Some(listener.port),
                        "default".into(),
                    ));
                }
                for extension in &listener.domain_extensions {
                    bound.insert(extension.server_certificate_id.clone());
                    out.push((
                        region.region_id.clone(),
                        lb.load_balancer_id.clone(),
                        Some(listener.port),
                        extension.domain.clone(),
                    ));
                }
            }
        }
        for certificate in region.server_certificates.iter().filter(|c| !bound.contains(&c.server_certificate_id)) {
            out.push((region.region_id.clone(), certificate.server_certificate_id.clone(), None, "unbound".into()));
        }
    }
    out.sort();
    out
}

/// The key of an SLB binding, comparable with [`expected_slb`].
pub fn slb_key(binding: &certinspect_sdk::Binding) -> SlbKey {
    let place = match binding.extra["certificate_role"].as_str() {
        Some("extension") => binding.extra["extension_domain"].as_str().unwrap_or_default().to_owned(),
        Some(role) => role.to_owned(),
        None => "?".into(),
    };
    (
        binding.location.region.clone().unwrap_or_default(),
        binding.location.resource_id.clone(),
        binding.location.listener_port,
        place,
    )
}

/// Expected CAS certificate ids (valid and expired), sorted.
pub fn expected_cas(world: &World) -> Vec<String> {
    let mut out: Vec<String> =
        world.accounts[0].cas.certificates.iter().map(|c| c.certificate_id.to_string()).collect();
    out.sort();
    out
}

/// Resource ids of the bindings of `plugin`, sorted.
pub fn resource_ids(collected: &Collected, plugin: &str) -> Vec<String> {
    let mut out: Vec<String> = collected
        .bindings
        .iter()
        .filter(|b| b.location.plugin == plugin)
        .map(|b| b.location.resource_id.clone())
        .collect();
    out.sort();
    out
}

/// RFC 3339 as UNIX seconds.
pub fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .expect("rfc3339")
        .unix_timestamp()
}
