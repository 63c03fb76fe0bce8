//! What the certinspect Alibaba Cloud plugins (`alibaba-cdn`, `alibaba-slb`,
//! `alibaba-cas`) share, in one place instead of three copies:
//!
//! - [`config`]: the shared settings (credentials source, account label,
//!   endpoint override, signature version, rate-limit overrides,
//!   credential-endpoint overrides, timeouts, retries), a reader whose
//!   errors name the field and what was expected, and the JSON Schema
//!   fragments each plugin publishes;
//! - [`context`]: one credentials provider and one rate limiter per opened
//!   source, and `alibaba_openapi::Client`s built from them;
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

/// Host names: what can be sent as SNI or probed.
pub mod names {
    /// A DNS host name (not an IP address, not a wildcard): letters, digits,
    /// hyphens, dots, at least one dot.
    pub fn is_plain_hostname(name: &str) -> bool {
        let name = name.trim_end_matches('.');
        !name.is_empty()
            && name.len() <= 253
            && name.contains('.')
            && name.parse::<std::net::IpAddr>().is_err()
            && name.split('.').all(is_label)
            && !name.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    }

    /// One DNS label (`www`).
    pub fn is_label(label: &str) -> bool {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    }

    /// `*.example.com` -> `example.com`.
    pub fn wildcard_base(name: &str) -> Option<&str> {
        name.strip_prefix("*.")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plain_names() {
            assert!(is_plain_hostname("www.example.com"));
            assert!(!is_plain_hostname("*.example.com"));
            assert!(!is_plain_hostname("192.0.2.1"));
            assert!(!is_plain_hostname("localhost"));
            assert!(!is_plain_hostname("my cert"));
            assert_eq!(wildcard_base("*.example.com"), Some("example.com"));
            assert!(is_label("www") && !is_label("a.b") && !is_label("-x"));
        }
    }
}
