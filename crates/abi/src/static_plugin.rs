//! A provider linked into the host binary, as the host's public API takes it.

use crate::PluginModV1_Ref;

/// The root module of a provider linked into the host binary, built by
/// `certinspect_sdk::static_module` and registered with the host's plugin
/// registry. Opaque, so that `abi_stable` types stay out of the host's
/// public API (only the SDK builds one and only the loader opens one).
#[derive(Clone, Copy)]
pub struct StaticPlugin(PluginModV1_Ref);

impl StaticPlugin {
    /// Wraps a root module (the SDK's side).
    #[doc(hidden)]
    pub fn from_module(module: PluginModV1_Ref) -> Self {
        Self(module)
    }

    /// The root module (the loader's side).
    #[doc(hidden)]
    pub fn module(self) -> PluginModV1_Ref {
        self.0
    }
}

impl std::fmt::Debug for StaticPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticPlugin").finish_non_exhaustive()
    }
}
