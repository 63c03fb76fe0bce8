//! The Alibaba Cloud OpenAPI client shared by certinspect's Alibaba provider
//! plugins (CDN, SLB, CAS).
//!
//! What it does:
//! - signs RPC requests with V3 `ACS3-HMAC-SHA256` (default) or V1 HMAC-SHA1
//!   ([`SignatureVersion`]), using the pure functions of `alibaba-signing`;
//! - finds credentials the way Alibaba's tools do ([`credentials`]):
//!   environment, `~/.aliyun/config.json`, `~/.alibabacloud/credentials.ini`,
//!   STS `AssumeRole`, the ECS metadata service; caches and refreshes
//!   temporary credentials; never prints secrets;
//! - resolves endpoints per product and region ([`resolve_endpoint`]), or
//!   uses an explicit endpoint URL;
//! - models errors ([`ApiError`], [`Error`]) with the gateway's echoed
//!   string-to-sign removed, and retries throttling, 5xx, timeouts and
//!   unreadable answers with exponential backoff and full jitter inside a
//!   bounded budget ([`RetryPolicy`]), honouring `x-acs-retry-after`;
//! - names, on each request to a limited API, the per-(account, API) budget
//!   it draws from at the documented QPS ([`QpsTable`], [`budget`]); the
//!   host spaces every request of one budget, from any source;
//! - pages through list APIs or says exactly what was lost ([`paging`]): one
//!   page per call with a serde [`Pager`] (what plugins keep in a cursor), or
//!   a whole listing with [`list_all`], both on the same step and checks.
//!
//! What it is not: it has no HTTP stack, TLS, async runtime or FFI of its
//! own — every request, log line, clock reading and sleep goes through
//! [`certinspect_protocol::HostServices`], so it can live inside a plugin
//! dynamic library. It has no typed per-operation response structs: those
//! belong to the provider plugins, which get `serde_json::Value` from
//! [`Client::call`].

#![forbid(unsafe_code)]

mod client;
pub mod credentials;
mod endpoint;
mod error;
pub mod paging;
mod ratelimit;
mod request;
mod secret;
mod time;

pub use client::{Client, ClientConfig, RetryPolicy, SignatureVersion};
pub use credentials::{CredentialEndpoints, CredentialEnv, Credentials, CredentialsProvider};
pub use endpoint::{resolve_endpoint, ActionSpec, Product};
pub use error::{redact_server_message, ApiError, CredentialError, Error, RetryStop, RETRYABLE_CODES};
pub use paging::{field_key, list_all, ListRequest, Listing, PageRequest, PageStyle, Pager, PagingError};
pub use ratelimit::{budget, QpsTable, DOCUMENTED_QPS};
pub use time::{format_iso8601_utc, parse_iso8601_utc};

/// The operations with documented QPS limits, and the STS call the
/// credential chain makes.
pub mod actions {
    use crate::endpoint::{ActionSpec, Product};

    /// CDN: HTTPS domains and their certificates (100 QPS).
    pub const CDN_DESCRIBE_CDN_HTTPS_DOMAIN_LIST: ActionSpec =
        ActionSpec::new(Product::Cdn, "DescribeCdnHttpsDomainList");
    /// CAS: certificates and orders (10 QPS).
    pub const CAS_LIST_USER_CERTIFICATE_ORDER: ActionSpec = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");
    /// CAS: certificate detail (send `CertFilter=true`).
    pub const CAS_GET_USER_CERTIFICATE_DETAIL: ActionSpec = ActionSpec::new(Product::Cas, "GetUserCertificateDetail");
    /// PCA: revocation status by serial number (10 QPS).
    pub const PCA_DESCRIBE_CLIENT_CERTIFICATE_STATUS_FOR_SERIAL_NUMBER: ActionSpec =
        ActionSpec::new(Product::CasPca, "DescribeClientCertificateStatusForSerialNumber");
    /// SLB: server certificates of a region.
    pub const SLB_DESCRIBE_SERVER_CERTIFICATES: ActionSpec =
        ActionSpec::new(Product::Slb, "DescribeServerCertificates");
    /// STS: assume a RAM role.
    pub const STS_ASSUME_ROLE: ActionSpec = ActionSpec::new(Product::Sts, "AssumeRole");
}
