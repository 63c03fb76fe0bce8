//! The embeddable certinspect engine.
//!
//! Start at [`scan`]: it takes the loaded plugins ([`plugins`]), the
//! configured sources and options, lists the sources ([`collect`]), joins
//! what they declare across services ([`join`]), probes and analyses every
//! endpoint, reconciles declared with served ([`reconcile`]), and returns a
//! versioned [`report::Report`] whose findings come from one catalogue
//! ([`findings`]). [`verify`] is the engine behind it, usable with bindings
//! from anywhere; [`host`] holds the services plugins run on (HTTP
//! transport, logging, clock, cancellation); [`trust_store`] loads roots;
//! [`watch`] is the state of a continuous scan (`inspect serve`).
//!
//! What this crate is not: a command line (that is `certinspect-cli`), a
//! report format (`certinspect-render`), and not a place for
//! provider-specific code (providers are plugins and never depend on it).

pub mod bindings_file;
pub mod collect;
pub mod diff;
pub mod fetch;
pub mod findings;
pub mod host;
pub mod join;
pub mod plugins;
pub mod reconcile;
pub mod report;
pub mod scan;
pub mod schema;
pub mod shard;
pub mod trust_store;
pub mod verify;
pub mod watch;
