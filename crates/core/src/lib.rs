//! The embeddable certinspect engine.
//!
//! Today: plugin loading ([`plugins`]) — dynamic libraries and statically
//! linked providers behind one interface — and the host services plugins run
//! on ([`host`]: the HTTP transport, logging, clock, cancellation).
//!
//! What this crate is not: a command line (that is `certinspect-cli`), and
//! not a place for provider-specific code (providers are plugins and never
//! depend on this crate).

pub mod collect;
pub mod findings;
pub mod host;
pub mod join;
pub mod plugins;
pub mod reconcile;
pub mod report;
pub mod schema;
pub mod verify;
