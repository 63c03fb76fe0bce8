//! A strict loopback emulator of the Alibaba Cloud CDN, SLB and CAS APIs, with world
//! generation.
//!
//! **What it is for.** Alibaba Cloud cannot be reached from development machines or CI,
//! so this crate stands in for it: a `127.0.0.1` HTTP server ([`Emulator::start`]) that
//! answers the RPC operations the certinspect plugins call, with the field names, wrappers,
//! units, pagination and errors of the real gateway (see
//! `shared/reference/alibaba-api.md`), and that is at least as strict as the real one:
//! V1 and V3 signatures verified with `alibaba-signing`, a 15-minute timestamp window,
//! nonce replay refused, unknown/disabled keys and STS tokens checked, per-account QPS
//! limits answered with `Throttling.User`, and configurable fault injection (latency,
//! 5xx, throttling storms, malformed or truncated bodies, HTML error pages).
//!
//! It serves a [`World`]: accounts, keys and what each service declares. The
//! [`generate`] module builds worlds of any size with *real* certificates (one private CA,
//! ECDSA P-256 leaves written as PEM files) and planted drift (stale, foreign, expired,
//! wrong-name, revoked, auto-managed-but-not-deployed), recording for every CDN domain and
//! SLB listener/SNI name which files its live endpoint serves, so a loopback TLS farm can
//! serve exactly what the API declares — or, on purpose, something else.
//!
//! **What it is not.** Not a TLS server (the farm is elsewhere), not a general Alibaba
//! Cloud mock (only the operations listed in [`api::OPERATIONS`]), not a write API (worlds
//! change through [`EmulatorHandle::update_world`], not through Create*/Set* calls), and
//! never reachable from other hosts: it refuses non-loopback listen addresses.

pub mod api;
pub mod auth;
pub mod clock;
pub mod error;
pub mod faults;
pub mod generate;
pub mod params;
pub mod server;
pub mod world;

pub use clock::Clock;
pub use error::ApiError;
pub use faults::{FaultKind, FaultRule};
pub use server::{ActionStats, Emulator, EmulatorConfig, EmulatorHandle, RequestRecord, Stats};
pub use world::World;
