//! The plugins `inspect` runs with: the providers built into the binary
//! (feature `bundled-providers`, on by default), then every plugin library
//! on the search path. A library named like a built-in provider replaces
//! it, so a provider newer than the binary installs as a library.

use std::path::PathBuf;

use certinspect_core::plugins::{AdmissionPolicy, PluginRegistry, PluginSearchPath};

/// The registry for this run, with `plugin_dirs` searched first and
/// libraries admitted under `policy`.
pub fn load(plugin_dirs: &[PathBuf], policy: AdmissionPolicy) -> PluginRegistry {
    let mut registry = PluginRegistry::with_policy(policy);
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
