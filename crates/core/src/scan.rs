//! The front door: from plain data (the loaded plugins, the configured
//! sources with their settings, options, an observer) to a report.
//!
//! `inspect scan`, `inspect inventory` and `inspect probe` are thin callers
//! of [`scan`], [`inventory`] and [`probe`]; so is any program embedding the
//! engine. Configuration problems come back typed ([`OpenError`]) so a
//! caller can place them in its own configuration format (the CLI maps
//! [`ConfigProblem::path`] to a TOML file's line and column).

use std::sync::Arc;

use certinspect_protocol::{capability, error_kind, Binding};
use serde::Serialize;

use crate::bindings_file::InventoryFile;
use crate::collect::{collect, CollectError, CollectOptions, Collected, SourceStats};
use crate::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use crate::join::{join, JoinOutcome};
use crate::plugins::{Isolation, LoadedPlugin, OpenedSource, PluginOrigin, PluginRegistry, ProcessHost};
use crate::report::Report;
use crate::schema;
use crate::shard::Shard;
use crate::verify::{verify_observed, VerifyInput, VerifyObserver, VerifyOptions};

/// One configured source: a plugin by name and its settings (the JSON the
/// plugin's schema describes).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SourceSpec {
    /// The plugin's name, as `PluginInfo::name` says it.
    pub plugin: String,
    /// The plugin's settings.
    pub settings: serde_json::Value,
    /// Where the plugin runs; `None`: [`ScanOptions::isolation`] decides.
    pub isolation: Option<Isolation>,
}

impl SourceSpec {
    /// A source of `plugin` with `settings`.
    pub fn new(plugin: impl Into<String>, settings: serde_json::Value) -> Self {
        Self { plugin: plugin.into(), settings, isolation: None }
    }

    /// The same source, run with `isolation`.
    pub fn with_isolation(self, isolation: Isolation) -> Self {
        Self { isolation: Some(isolation), ..self }
    }
}

/// One thing wrong with a source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// Where inside the source's settings (`["regions", "1"]`); empty when
    /// the problem is about the settings as a whole.
    pub path: Vec<String>,
    /// What is wrong and what was expected, one line (`regions[1]: expected a string`).
    pub message: String,
}

/// Why the configured sources cannot be used: nothing is scanned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No loaded plugin has that name.
    #[error("unknown plugin '{plugin}'; loaded plugins: {} (see `inspect plugins`)", list_or_none(.loaded))]
    UnknownPlugin {
        /// Index of the source in the specs.
        index: usize,
        /// The name asked for.
        plugin: String,
        /// Names of the loaded plugins.
        loaded: Vec<String>,
    },
    /// The settings break the plugin's schema, or the plugin refused them.
    #[error("source '{plugin}': {}", .problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "))]
    InvalidConfig {
        /// Index of the source in the specs.
        index: usize,
        /// The plugin.
        plugin: String,
        /// Each problem found.
        problems: Vec<ConfigProblem>,
    },
    /// A source asks for process isolation and it cannot be had.
    #[error("source '{plugin}': {message}")]
    Isolation {
        /// Index of the source in the specs.
        index: usize,
        /// The plugin.
        plugin: String,
        /// Why, and what to do instead.
        message: String,
    },
    /// The host's HTTP transport could not be built.
    #[error("cannot start the HTTP transport: {0}")]
    Transport(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none are loaded".to_owned()
    } else {
        names.join(", ")
    }
}

/// Check every source against `registry` without opening anything: the
/// plugin exists and the settings satisfy the schema it publishes. One
/// error per source with problems.
pub fn check_sources(registry: &PluginRegistry, specs: &[SourceSpec]) -> Vec<OpenError> {
    let mut errors = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let Some(plugin) = registry.get(&spec.plugin) else {
            let loaded = registry.plugins().iter().map(|p| p.info().name.clone()).collect();
            errors.push(OpenError::UnknownPlugin { index, plugin: spec.plugin.clone(), loaded });
            continue;
        };
        let problems: Vec<ConfigProblem> = schema::validate(&plugin.info().config_schema, &spec.settings)
            .into_iter()
            .map(|violation| ConfigProblem { path: violation.path_segments(), message: violation.to_string() })
            .collect();
        if !problems.is_empty() {
            errors.push(OpenError::InvalidConfig { index, plugin: spec.plugin.clone(), problems });
        }
    }
    errors
}

/// Options of a scan: how sources are listed, how endpoints are verified,
/// the HTTP transport plugins use, and cancellation.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ScanOptions {
    /// Listing limits (call deadlines, parallelism).
    pub collect: CollectOptions,
    /// Verification settings.
    pub verify: VerifyOptions,
    /// The HTTP transport plugins reach their APIs through.
    pub transport: TransportConfig,
    /// Set it to stop plugin calls early.
    pub cancel: CancelFlag,
    /// Isolation of sources that do not choose their own. Built-in
    /// providers run in-process unless their source asks otherwise.
    pub isolation: Isolation,
    /// The program that runs a plugin library in a child process
    /// (`inspect plugin-host`); needed by any source run with
    /// [`Isolation::Process`].
    pub process_host: Option<ProcessHost>,
}

/// Told about a scan as it goes: listing first, then each result.
pub trait ScanObserver: VerifyObserver {
    /// `sources` sources are opened and being listed.
    fn listing(&mut self, sources: usize) {
        let _ = sources;
    }
    /// Listing is done.
    fn listed(&mut self, collected: &Collected) {
        let _ = collected;
    }
}

impl ScanObserver for crate::verify::NoObserver {}

/// What the sources declare, joined across services, without probing.
#[derive(Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Inventory {
    /// [`crate::shard::inventory_id`] of the bindings and source errors.
    pub id: String,
    /// Every binding, after the join filled in declared certificates.
    pub bindings: Vec<Binding>,
    /// What the join did, per binding, and what it could not do.
    pub join: JoinOutcome,
    /// Sources or scopes that could not be listed completely.
    pub source_errors: Vec<CollectError>,
    /// Warnings sources reported on their pages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_warnings: Vec<CollectError>,
    /// Per-source counts.
    pub source_stats: Vec<SourceStats>,
}

/// The sources, opened and listed.
struct Listed {
    sources: Vec<Arc<OpenedSource>>,
    collected: Collected,
}

/// Check, open and list every source. A source whose plugin refuses its
/// settings stops everything ([`OpenError::InvalidConfig`]); one that
/// cannot be opened for any other reason (credentials, network) is a
/// collection error and the others go on.
fn open_and_list(
    registry: &PluginRegistry,
    specs: &[SourceSpec],
    options: &ScanOptions,
    observer: &mut dyn ScanObserver,
) -> Result<Listed, OpenError> {
    if let Some(error) = check_sources(registry, specs).into_iter().next() {
        return Err(error);
    }
    let transport = HttpTransport::new(options.transport.clone()).map_err(|e| OpenError::Transport(e.message))?;
    let host = Host::new(transport, options.cancel.clone());
    let mut sources = Vec::new();
    let mut failures = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let plugin = registry.get(&spec.plugin).expect("checked above");
        let services = host.for_plugin(&spec.plugin);
        let opened = match isolation_of(plugin, spec, options) {
            Isolation::Process => {
                let isolation_error =
                    |message: String| OpenError::Isolation { index, plugin: spec.plugin.clone(), message };
                if !matches!(plugin.origin(), PluginOrigin::File(_)) {
                    return Err(isolation_error(
                        "isolation = \"process\" needs a plugin library; this provider is built into inspect \
                         (use isolation = \"in-process\", or install its library)"
                            .into(),
                    ));
                }
                let Some(process_host) = &options.process_host else {
                    return Err(isolation_error("process isolation needs a plugin-host program; none is set".into()));
                };
                let process_host = ProcessHost { call_timeout: options.collect.call_timeout, ..process_host.clone() };
                plugin.open_in_child(&spec.settings, services, &process_host)
            }
            _ => plugin.open(&spec.settings, services),
        };
        match opened {
            Ok(opened) => sources.push(Arc::new(opened)),
            Err(e) if e.error.kind == error_kind::INVALID_CONFIG => {
                let problem = ConfigProblem { path: Vec::new(), message: e.error.message };
                return Err(OpenError::InvalidConfig { index, plugin: spec.plugin.clone(), problems: vec![problem] });
            }
            Err(e) => {
                failures.push(CollectError { plugin: spec.plugin.clone(), scope: None, message: e.error.to_string() })
            }
        }
    }
    observer.listing(sources.len());
    let mut collected = collect(&sources, &options.collect);
    failures.append(&mut collected.errors);
    collected.errors = failures;
    observer.listed(&collected);
    Ok(Listed { sources, collected })
}

/// Where `spec`'s plugin runs: the source's own choice; else in-process
/// for a built-in provider, the scan's default for a library.
fn isolation_of(plugin: &LoadedPlugin, spec: &SourceSpec, options: &ScanOptions) -> Isolation {
    match (spec.isolation, plugin.origin()) {
        (Some(isolation), _) => isolation,
        (None, PluginOrigin::Static) => Isolation::InProcess,
        (None, _) => options.isolation,
    }
}

/// List every source and join what they declare; nothing is probed.
pub fn inventory(
    registry: &PluginRegistry,
    specs: &[SourceSpec],
    options: &ScanOptions,
    observer: &mut dyn ScanObserver,
) -> Result<Inventory, OpenError> {
    let Listed { collected, .. } = open_and_list(registry, specs, options, observer)?;
    let mut bindings = collected.bindings;
    let join = join(&mut bindings);
    Ok(Inventory {
        id: crate::shard::inventory_id(&bindings, &collected.errors),
        bindings,
        join,
        source_errors: collected.errors,
        source_warnings: collected.warnings,
        source_stats: collected.stats,
    })
}

/// List every source, probe every endpoint the bindings name, and report.
/// Sources offering `revocation-lookup` are asked about the served leaves.
pub fn scan(
    registry: &PluginRegistry,
    specs: &[SourceSpec],
    options: &ScanOptions,
    observer: &mut dyn ScanObserver,
) -> Result<Report, OpenError> {
    let Listed { sources, collected } = open_and_list(registry, specs, options, observer)?;
    let revocation_sources = sources
        .iter()
        .filter(|s| registry.get(s.plugin()).is_some_and(|p| p.info().has_capability(capability::REVOCATION_LOOKUP)))
        .cloned()
        .collect();
    let input = VerifyInput {
        bindings: collected.bindings,
        revocation_sources,
        source_errors: collected.errors,
        source_warnings: collected.warnings,
        source_stats: collected.stats,
        ..VerifyInput::default()
    };
    Ok(verify_observed(input, &options.verify, observer))
}

/// Verify what an inventory file declares without calling any cloud API
/// (`inspect scan --from-inventory`); with `shard`, only that slice.
pub fn scan_inventory(
    inventory: InventoryFile,
    shard: Option<Shard>,
    options: &VerifyOptions,
    observer: &mut dyn VerifyObserver,
) -> Report {
    verify_observed(VerifyInput::from_inventory(inventory, shard), options, observer)
}

/// Probe bindings that need no source (bare endpoints, or bindings read
/// from a file) and report.
pub fn probe(bindings: Vec<Binding>, options: &VerifyOptions, observer: &mut dyn VerifyObserver) -> Report {
    verify_observed(VerifyInput::bindings(bindings), options, observer)
}

/// [`probe`] of bare endpoints (nothing declared), held small while the
/// run goes on: a few dozen bytes each instead of a whole [`Binding`].
pub fn probe_endpoints(
    endpoints: Vec<crate::verify::BareEndpoint>,
    options: &VerifyOptions,
    observer: &mut dyn VerifyObserver,
) -> Report {
    verify_observed(VerifyInput::endpoints(endpoints), options, observer)
}

/// The exit decision every front end shares: what a report means for a
/// script or CI job, given the severity that should fail it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Everything was checked and nothing is at or above the threshold.
    Clean,
    /// Something checked is wrong at or above the threshold.
    Findings,
    /// Nothing checked is at or above the threshold, but something could not be checked.
    Incomplete,
}

/// [`Outcome`] of `report` when findings at or above `fail_on` should fail.
/// "Could not check" findings never count as "wrong": they make the outcome
/// [`Outcome::Incomplete`] instead.
pub fn outcome(report: &Report, fail_on: crate::findings::Severity) -> Outcome {
    let streamed_wrong = report.streamed.worst_checked.is_some_and(|worst| worst <= fail_on);
    if streamed_wrong || report.findings_at_least(fail_on).any(|f| !f.is_unchecked()) {
        Outcome::Findings
    } else if report.incomplete() {
        Outcome::Incomplete
    } else {
        Outcome::Clean
    }
}
