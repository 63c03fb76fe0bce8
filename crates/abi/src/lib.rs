//! The frozen FFI surface of the certinspect plugin contract.
//!
//! A plugin library exports one root module, [`PluginModV1_Ref`], with two
//! entry points: `info()` and `open(config, host)`. `open` returns a
//! [`SourceV1`] object; the host hands the plugin a [`HostV1`] object
//! (HTTP transport, log, clock, cancellation). Everything else crosses as
//! JSON text defined in `certinspect-protocol`, so this layout can stay frozen
//! while the contract grows by message fields and capability flags.
//!
//! Rules that keep old and new plugins loading (see
//! `docs/ARCHITECTURE.md` and the abi_stable facts this design follows):
//! - Nothing in `v1` ever changes once released. A host whose root module has
//!   more fields than a plugin's refuses that plugin, so a new ABI is a new
//!   module (`v2`) and the loader tries the newest first. The test
//!   `layout_snapshot` compares v1 against a committed snapshot.
//! - Enums that may grow are integers ([`AbiError::kind`]).
//! - Every trait object is `Send + Sync`.
//!
//! What this crate is not: it holds no logic. Plugin authors use
//! `certinspect-sdk`; the host uses the loader in `certinspect-core`. Only
//! those two crates touch `abi_stable` types.

// `#[sabi_trait]` expands to impls that rustc's `non_local_definitions` lint flags.
#![allow(non_local_definitions, non_camel_case_types, missing_debug_implementations)]

mod static_plugin;
pub mod v1;

pub use abi_stable;
pub use static_plugin::StaticPlugin;
pub use v1::*;
