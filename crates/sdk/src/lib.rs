//! Write a certinspect certificate-source plugin.
//!
//! A plugin implements [`Provider`] (what it is, how to open it) and
//! [`Source`] (what an opened instance answers), then exports itself:
//!
//! ```ignore
//! struct MyProvider;
//! impl certinspect_sdk::Provider for MyProvider { /* ... */ }
//! certinspect_sdk::export_plugin!(MyProvider);
//! ```
//!
//! Build it as a `cdylib` with `panic = "unwind"` (the macro refuses
//! `panic = "abort"` at compile time) and drop the library into a plugin
//! directory. The SDK takes care of the contract:
//! - every entry point runs inside `catch_unwind`, so a panic becomes an error
//!   value naming the plugin instead of ending the host process;
//! - messages are (de)serialised against `certinspect-protocol`;
//! - the plugin's `log` and `tracing` output is forwarded to the host's logger;
//! - the host's services (HTTP, clock, cancellation) are offered as
//!   [`HostServices`] — a plugin has no other way to reach the network and
//!   must not start an async runtime of its own.
//!
//! The same provider can be linked statically: keep the provider in an
//! ordinary library crate, call [`export_plugin!`] only in a thin `cdylib`
//! crate, and register [`static_module`] with the host. Two crates that both
//! export would collide at link time.
//!
//! What this crate is not: the host side. Loading, scheduling and
//! reporting live in `certinspect-core`.
//!
//! Rate limits: a request that draws from a per-second budget says so in
//! [`HttpRequest::rate_limit`] (a [`RateLimitKey`]: the budget's name and
//! rate), and the host spaces every request naming that key — from every
//! source and scope of the run, in-process or in a child — before sending
//! it. Name the budget as the service counts it (for a cloud API: product,
//! action and account; hash anything secret, the host may log the key), so
//! two sources of one account share it and two accounts do not. Retrying a
//! throttled call needs no extra backoff of the plugin's own: the next
//! attempt waits for its slot. `PluginInfo::rate_limits` declares the
//! quotas for `inspect plugins` and the docs; the host enforces what
//! requests name, not that list.

pub mod config;
mod entry;
mod host;
mod logging;
pub mod names;
#[cfg(feature = "testing")]
pub mod testing;

pub use certinspect_abi::StaticPlugin;
pub use certinspect_protocol as protocol;
pub use certinspect_protocol::{
    capability, error_kind, normalize_hex, normalize_serial, Binding, CrossRef, DeclaredCertificate, Endpoint,
    Fingerprint, HostServices, HttpRequest, HttpResponse, Location, LogLevel, Page, PluginError, PluginInfo, RateLimit,
    RateLimitKey, RevocationState, RevocationStatus, Scope, TransportError, TransportErrorKind, Tristate,
    PROTOCOL_VERSION,
};
pub use entry::{exported_module, static_module};
/// Re-exported, so a plugin needs no serde dependency of its own: derive
/// with `#[serde(crate = "certinspect_sdk::serde")]`.
pub use serde;
/// Re-exported: configuration and schemas are `serde_json::Value`s.
pub use serde_json;

use std::sync::Arc;

/// The host's services as a plugin holds them.
pub type Host = Arc<dyn HostServices>;

/// A certificate-source plugin: what it is, and how to open it.
pub trait Provider: 'static {
    /// What the plugin is. Called before `open` and possibly more than once.
    /// Set `protocol_version` to [`PROTOCOL_VERSION`].
    fn info() -> PluginInfo;

    /// Open a source with the plugin's configuration section. Bad
    /// configuration is a [`PluginError::invalid_config`] naming the field.
    fn open(config: serde_json::Value, host: Host) -> Result<Box<dyn Source>, PluginError>;
}

/// An opened source. The host may call it from several threads at once.
pub trait Source: Send + Sync {
    /// The units of work (account x region, say) the host should schedule.
    fn scopes(&self) -> Result<Vec<Scope>, PluginError>;

    /// One page of bindings of `scope`; `cursor` is `None` for the first page.
    /// Keep each call short: the host schedules, times and cancels calls.
    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError>;

    /// Revocation status of serial numbers (capability `revocation-lookup`).
    fn lookup_revocation(&self, serials: &[String]) -> Result<Vec<RevocationStatus>, PluginError> {
        let _ = serials;
        Err(PluginError::unsupported("this plugin does not offer revocation lookup"))
    }
}

/// Export `$provider` as this library's plugin. Use it once, in a `cdylib`
/// crate that does nothing else.
#[macro_export]
macro_rules! export_plugin {
    ($provider:ty) => {
        #[cfg(panic = "abort")]
        compile_error!(
            "certinspect plugins must be built with panic = \"unwind\": the SDK turns a panic \
             into an error value, but with panic = \"abort\" a panic would kill the host process"
        );

        /// The header abi_stable looks for; the name is abi_stable's
        /// `ROOT_MODULE_LOADER_NAME` (checked by a test in `certinspect-abi`).
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn __certinspect_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::call_root_module_loader($crate::exported_module::<$provider>)
            }
            // SAFETY: the constructor returns the module type named here,
            // exactly as `#[export_root_module]` generates it.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::__private::PluginModV1_Ref>(
                    __certinspect_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use certinspect_abi::abi_stable::library::{CheckTypeLayout, LibHeader, RootModuleResult};
    pub use certinspect_abi::PluginModV1_Ref;

    /// Runs the module constructor, turning a panic into an error value.
    pub fn call_root_module_loader(constructor: fn() -> PluginModV1_Ref) -> RootModuleResult {
        certinspect_abi::abi_stable::library::__call_root_module_loader(constructor)
    }
}
