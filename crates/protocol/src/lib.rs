//! The vocabulary of the certinspect plugin contract.
//!
//! Everything a certificate-source plugin and its host say to each other is a
//! message defined here, carried across the FFI boundary as JSON. The FFI
//! surface itself (`certinspect-abi`) stays frozen; the contract grows by
//! adding optional fields here and by capability flags, never by changing a
//! struct layout.
//!
//! This crate is also the plugin-side view of the host: [`HostServices`]
//! (HTTP transport, log, clock, cancellation). The SDK implements it over the
//! ABI; the core implements it in-process for statically linked providers, and
//! tests implement it directly.
//!
//! [`RateLimiter`] is the one implementation of the spacing a request's
//! [`RateLimitKey`] asks for; every `HostServices` (the core's host, the
//! SDK's `FakeHost`, test hosts) spaces through it, over its own clock.
//!
//! What this crate is not: it does no I/O, knows nothing of `abi_stable`,
//! and holds no provider- or cloud-specific logic.

mod binding;
mod host;
mod messages;
mod ratelimit;

pub use binding::*;
pub use host::*;
pub use messages::*;
pub use ratelimit::{RateLimiter, DEFAULT_SPACING_MARGIN};

/// The message protocol version spoken by this crate.
///
/// A plugin reports the version it speaks in [`PluginInfo::protocol_version`];
/// the host accepts it when it lies in [`SUPPORTED_PROTOCOL_VERSIONS`].
/// Additive changes (new optional fields, new capabilities) do not bump it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Protocol versions this build of the host understands.
pub const SUPPORTED_PROTOCOL_VERSIONS: std::ops::RangeInclusive<u32> = 1..=1;
