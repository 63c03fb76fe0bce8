//! The plugins `inspect` runs with: the providers built into the binary
//! (feature `bundled-providers`, on by default), then every plugin library
//! on the search path. A library named like a built-in provider replaces
//! it, so a provider newer than the binary installs as a library. Under
//! process isolation libraries are asked for their info in a child process.

use std::path::PathBuf;

use certinspect_core::plugins::{AdmissionPolicy, PluginRegistry, PluginSearchPath, ProcessHost};

/// The registry for this run, with `plugin_dirs` searched first and
/// libraries admitted under `policy`; with `info_host`, each library is
/// asked for its info in a child process started from it.
pub fn load(plugin_dirs: &[PathBuf], policy: AdmissionPolicy, info_host: Option<ProcessHost>) -> PluginRegistry {
    let mut registry = PluginRegistry::with_policy(policy);
    if let Some(host) = info_host {
        registry.set_info_host(host);
    }
    add_bundled(&mut registry);
    registry.load_search_path(&PluginSearchPath::from_process(plugin_dirs));
    registry
}

/// The first-party providers linked into this binary.
#[cfg(feature = "bundled-providers")]
fn add_bundled(registry: &mut PluginRegistry) {
    use certinspect_sdk::static_module;
    registry.add_static(static_module::<certinspect_alibaba_cdn::AlibabaCdnProvider>());
    registry.add_static(static_module::<certinspect_alibaba_slb::AlibabaSlbProvider>());
    registry.add_static(static_module::<certinspect_alibaba_cas::AlibabaCasProvider>());
    registry.add_static(static_module::<certinspect_alibaba_alb::AlibabaAlbProvider>());
    registry.add_static(static_module::<certinspect_aws::AwsProvider>());
}

#[cfg(not(feature = "bundled-providers"))]
fn add_bundled(_registry: &mut PluginRegistry) {}
