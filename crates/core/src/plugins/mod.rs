//! Plugin loading: dynamic libraries and statically linked providers behind
//! one interface, the [`PluginRegistry`].
//!
//! A dynamic plugin is loaded per file with abi_stable's
//! `lib_header_from_path` + `init_root_module` (never `load_from_file`,
//! which caches one module per interface type and would hand back the first
//! plugin for every file). A static provider registers the same root module
//! type, built in-process by `certinspect_sdk::static_module`, and goes
//! through the same checks.

mod admission;
mod discovery;
pub mod isolated;
mod load;
mod source;

pub use admission::AdmissionPolicy;
pub use discovery::{PluginSearchPath, PLUGIN_PATH_ENV};
pub use isolated::{Isolation, ProcessHost};
pub use load::LoadFailure;
pub use source::{OpenedSource, SourceCallError};

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use certinspect_abi::abi_stable::std_types::RResult;
use certinspect_abi::{PluginModV1_Ref, StaticPlugin};
use certinspect_protocol::{HostServices, PluginInfo, SUPPORTED_PROTOCOL_VERSIONS};

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginOrigin {
    /// Loaded from this library file.
    File(PathBuf),
    /// Linked into this binary.
    Static,
}

impl std::fmt::Display for PluginOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Static => f.write_str("(built in)"),
        }
    }
}

/// A plugin that loaded and passed every check.
pub struct LoadedPlugin {
    info: PluginInfo,
    origin: PluginOrigin,
    sha256: Option<String>,
    /// The root module: loaded with the plugin; for a library whose info
    /// came from a child process, loaded here only if a source opens it
    /// in-process.
    module: OnceLock<Result<PluginModV1_Ref, String>>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("info", &self.info).field("origin", &self.origin).finish()
    }
}

impl LoadedPlugin {
    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Where it came from.
    pub fn origin(&self) -> &PluginOrigin {
        &self.origin
    }

    /// The library file's SHA-256 (lower-case hex) as it was when loaded;
    /// `None` for a provider built into the binary.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// The root module in this process, loading the library now if only a
    /// child process has run it so far.
    fn module(&self) -> Result<PluginModV1_Ref, String> {
        self.module
            .get_or_init(|| match &self.origin {
                PluginOrigin::File(path) => load::load_library(path).map_err(|failure| failure.reason),
                PluginOrigin::Static => Err("a built-in provider without its module".to_owned()),
            })
            .clone()
    }

    /// Open a source with `config` (the plugin's configuration section) on
    /// `host`'s services.
    pub fn open(
        &self,
        config: &serde_json::Value,
        host: Arc<dyn HostServices>,
    ) -> Result<OpenedSource, SourceCallError> {
        source::open(self, config, host)
    }

    /// Open a source like [`LoadedPlugin::open`], with the library loaded
    /// in a child process started from `process`. Only plugins loaded from
    /// a library file can; a built-in provider is refused.
    pub fn open_in_child(
        &self,
        config: &serde_json::Value,
        host: Arc<dyn HostServices>,
        process: &ProcessHost,
    ) -> Result<OpenedSource, SourceCallError> {
        source::open_in_child(self, config, host, process)
    }
}

/// Every plugin the host knows, and every file that failed to load.
#[derive(Debug, Default)]
pub struct PluginRegistry {
    policy: AdmissionPolicy,
    plugins: Vec<LoadedPlugin>,
    failures: Vec<LoadFailure>,
    replaced: Vec<Replaced>,
    /// Asks libraries for their info in a child process, if set.
    info_host: Option<ProcessHost>,
}

/// A built-in provider that a plugin library of the same name replaced:
/// a library is how a provider newer than the binary is installed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Replaced {
    /// The built-in provider's info (its version, say).
    pub info: PluginInfo,
    /// The library that replaced it.
    pub by: PathBuf,
}

impl PluginRegistry {
    /// An empty registry that admits libraries under the default
    /// [`AdmissionPolicy`] (permissions checked, no allow-list).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry admitting libraries under `policy`.
    pub fn with_policy(policy: AdmissionPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    /// Ask each library loaded from now on for its info in a child process
    /// started from `host` (`inspect plugin-host`), so nothing of a library
    /// runs in this process unless a source opens it in-process. A library
    /// that crashes there is a load failure saying how, not a crash.
    pub fn set_info_host(&mut self, host: ProcessHost) {
        self.info_host = Some(host);
    }

    /// Plugins that loaded, in load order.
    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.plugins
    }

    /// Files (or static modules) that were refused, with the reason.
    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    /// Built-in providers that a library of the same name replaced.
    pub fn replaced(&self) -> &[Replaced] {
        &self.replaced
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedPlugin> {
        self.plugins.iter().find(|p| p.info.name == name)
    }

    /// Register a provider linked into this binary. A plugin library of the
    /// same name loaded later replaces it (see [`PluginRegistry::replaced`]).
    pub fn add_static(&mut self, plugin: StaticPlugin) {
        let module = plugin.module();
        self.admit(plugin_info(module), PluginOrigin::Static, None, OnceLock::from(Ok(module)));
    }

    /// Load every plugin library found on `search`. Failures are recorded,
    /// never fatal.
    pub fn load_search_path(&mut self, search: &PluginSearchPath) {
        for file in search.library_files(&mut self.failures) {
            self.load_file(&file);
        }
    }

    /// Load one library file. A failure is recorded, never fatal.
    pub fn load_file(&mut self, path: &Path) {
        let already = self.plugins.iter().any(|p| p.origin == PluginOrigin::File(path.to_owned()));
        if already {
            return;
        }
        let origin = PluginOrigin::File(path.to_owned());
        // Checked before the library is opened: opening runs its code.
        let sha256 = match self.policy.admit(path) {
            Ok(sha256) => sha256,
            Err(reason) => return self.failures.push(LoadFailure::new(origin, format!("refused: {reason}"))),
        };
        match &self.info_host {
            Some(host) => match isolated::info_in_child(path, host) {
                Ok(json) => self.admit(parse_info(&json), origin, Some(sha256), OnceLock::new()),
                Err(reason) => self.failures.push(LoadFailure::new(origin, reason)),
            },
            None => match load::load_library(path) {
                Ok(module) => self.admit(plugin_info(module), origin, Some(sha256), OnceLock::from(Ok(module))),
                Err(failure) => self.failures.push(failure),
            },
        }
    }

    /// Admit a plugin by its info if the protocol and name are acceptable.
    fn admit(
        &mut self,
        info: Result<PluginInfo, String>,
        origin: PluginOrigin,
        sha256: Option<String>,
        module: OnceLock<Result<PluginModV1_Ref, String>>,
    ) {
        let info = match info {
            Ok(info) => info,
            Err(reason) => return self.failures.push(LoadFailure::new(origin, reason)),
        };
        if !SUPPORTED_PROTOCOL_VERSIONS.contains(&info.protocol_version) {
            let (low, high) = (SUPPORTED_PROTOCOL_VERSIONS.start(), SUPPORTED_PROTOCOL_VERSIONS.end());
            let side = if info.protocol_version > *high {
                "upgrade inspect"
            } else {
                "rebuild the plugin with a current certinspect-sdk"
            };
            let reason = format!(
                "plugin '{}' speaks protocol version {}, this inspect supports {low}..={high}; {side}",
                info.name, info.protocol_version
            );
            return self.failures.push(LoadFailure::new(origin, reason));
        }
        if let Some(index) = self.plugins.iter().position(|p| p.info.name == info.name) {
            match (&self.plugins[index].origin, &origin) {
                (PluginOrigin::Static, PluginOrigin::File(path)) => {
                    let built_in = self.plugins.remove(index);
                    tracing::info!(plugin = %info.name, library = %path.display(), "a plugin library replaces the built-in provider");
                    self.replaced.push(Replaced { info: built_in.info, by: path.clone() });
                }
                (existing, _) => {
                    let reason = format!("duplicate plugin name '{}' (already loaded from {existing})", info.name);
                    return self.failures.push(LoadFailure::new(origin, reason));
                }
            }
        }
        tracing::debug!(plugin = %info.name, version = %info.version, %origin, "plugin loaded");
        self.plugins.push(LoadedPlugin { info, origin, sha256, module });
    }
}

/// Call `info()`; a panic there arrives as an error value from the SDK.
fn plugin_info(module: PluginModV1_Ref) -> Result<PluginInfo, String> {
    match (module.info())() {
        RResult::ROk(json) => parse_info(json.as_str()),
        RResult::RErr(error) => Err(format!("info() failed: {}", error.message)),
    }
}

fn parse_info(json: &str) -> Result<PluginInfo, String> {
    serde_json::from_str(json).map_err(|e| format!("unreadable plugin info: {e}"))
}
