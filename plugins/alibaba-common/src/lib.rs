//! What the certinspect Alibaba Cloud plugins (`alibaba-cdn`, `alibaba-slb`,
//! `alibaba-cas`) share, in one place instead of three copies:
//!
//! - [`config`]: the shared settings (credentials source, account label,
//!   endpoint override, signature version, rate-limit overrides,
//!   credential-endpoint overrides, timeouts, retries), a reader whose
//!   errors name the field and what was expected, and the JSON Schema
//!   fragments each plugin publishes;
//! - [`context`]: one credentials provider and one QPS table per opened
//!   source, and `alibaba_openapi::Client`s built from them (their requests
//!   name per-account budgets that the host spaces for the whole run);
//! - [`errors`]: client and paging errors as the contract's `PluginError` kinds;
//! - [`fingerprint`]: fingerprints whose algorithm is told by their length;
//! - [`paging`]: one page per host call with `alibaba_openapi::Pager` (the
//!   paging checks live there, shared with `list_all`), errors naming the scope;
//! - [`state`]: per-listing state for cursors that cannot carry it all;
//! - [`time`]: Alibaba's zone-less and day-only date strings;
//! - [`names`]: host-name checks used to choose probe targets and SNI.
//!
//! What it is not: a provider. It holds no CDN/SLB/CAS logic, defines no
//! bindings, and never exports a plugin. Like the plugins, it does all I/O
//! through the host (`certinspect_sdk::HostServices`, via `alibaba-openapi`).

pub mod config;
pub mod context;
pub mod errors;
pub mod fingerprint;
pub mod paging;
pub mod state;
pub mod time;

pub use config::{CommonConfig, CredentialsSetting, Fields};
pub use context::{AlibabaContext, Api};

/// Host names: what can be sent as SNI or probed (the SDK's rules, not Alibaba's).
pub use certinspect_sdk::names;
