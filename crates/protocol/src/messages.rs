//! Messages exchanged between host and plugin.

use serde::{Deserialize, Serialize};

use crate::{Binding, RevocationStatus};

/// Well-known capability names a plugin may report in [`PluginInfo::capabilities`].
pub mod capability {
    /// The source lists bindings (`scopes` + `list_page`).
    pub const INVENTORY: &str = "inventory";
    /// The source answers [`SourceRequest::LookupRevocation`](super::SourceRequest::LookupRevocation).
    pub const REVOCATION_LOOKUP: &str = "revocation-lookup";
}

/// What a plugin says about itself, before it is opened. Build it with
/// [`PluginInfo::new`] and the `with_*` methods: fields may be added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginInfo {
    /// Unique plugin name, e.g. `alibaba-cdn`. Two plugins with one name are refused.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// Message protocol version the plugin speaks ([`crate::PROTOCOL_VERSION`] when it was built).
    pub protocol_version: u32,
    /// One sentence for `inspect plugins`.
    #[serde(default)]
    pub description: String,
    /// The provider: the cloud or system the plugin reads, e.g. `alibaba`.
    #[serde(default)]
    pub provider: String,
    /// Services of the provider this plugin reads, e.g. `["cdn"]`.
    #[serde(default)]
    pub services: Vec<String>,
    /// Capability names, see [`capability`].
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// JSON Schema of the plugin's configuration section.
    #[serde(default)]
    pub config_schema: serde_json::Value,
    /// Request quotas the plugin keeps to. Declared so `inspect plugins`
    /// and the docs can show them; what the host enforces is each request's
    /// own [`HttpRequest::rate_limit`](crate::HttpRequest::rate_limit)
    /// (the budget's name, which only the plugin can make: it knows the
    /// account), not this list.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
}

impl PluginInfo {
    /// A plugin named `name` at `version` (its own semver), speaking this
    /// build's [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            protocol_version: crate::PROTOCOL_VERSION,
            description: String::new(),
            provider: String::new(),
            services: Vec::new(),
            capabilities: Vec::new(),
            config_schema: serde_json::Value::Null,
            rate_limits: Vec::new(),
        }
    }
    /// With the one-sentence description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
    /// Reading `provider` (the cloud or system, e.g. `alibaba`) and its `services`.
    pub fn with_provider(
        mut self,
        provider: impl Into<String>,
        services: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.provider = provider.into();
        self.services = services.into_iter().map(Into::into).collect();
        self
    }
    /// With one more capability, see [`capability`].
    pub fn with_capability(mut self, capability: &str) -> Self {
        self.capabilities.push(capability.to_owned());
        self
    }
    /// With the JSON Schema of the configuration section.
    pub fn with_config_schema(mut self, schema: serde_json::Value) -> Self {
        self.config_schema = schema;
        self
    }
    /// With the declared request quotas.
    pub fn with_rate_limits(mut self, rate_limits: Vec<RateLimit>) -> Self {
        self.rate_limits = rate_limits;
        self
    }
    /// Speaking `version` instead of this build's protocol version (tests of
    /// the host's version check).
    pub fn with_protocol_version(mut self, version: u32) -> Self {
        self.protocol_version = version;
        self
    }

    /// Whether the plugin reports `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// A declared request quota: at most `per_second` calls of `api`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// The API (operation) name, e.g. `ListUserCertificateOrder`.
    pub api: String,
    /// Calls per second per account.
    pub per_second: f64,
}

impl RateLimit {
    /// At most `per_second` calls of `api`.
    pub fn new(api: impl Into<String>, per_second: f64) -> Self {
        Self { api: api.into(), per_second }
    }
}

/// A unit of work the host schedules on its own threads: account x region, say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// Opaque to the host; passed back in [`SourceRequest::ListPage`].
    pub id: String,
    /// Human-readable, for progress and errors, e.g. `account main, region cn-hangzhou`.
    #[serde(default)]
    pub label: String,
}

impl Scope {
    /// The scope `id`, shown as `label`.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self { id: id.into(), label: label.into() }
    }
}

/// A request from host to an opened source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SourceRequest {
    /// List the scopes this source will work through.
    Scopes,
    /// One page of bindings within a scope. `cursor` is `None` for the first page.
    ListPage {
        /// A [`Scope::id`].
        scope: String,
        /// The [`Page::next_cursor`] of the previous page.
        #[serde(default)]
        cursor: Option<String>,
    },
    /// Revocation status for serial numbers (capability `revocation-lookup`).
    LookupRevocation {
        /// Serial numbers, lower-case hex without separators.
        serials: Vec<String>,
    },
}

/// A successful reply to a [`SourceRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SourceResponse {
    /// Reply to [`SourceRequest::Scopes`].
    Scopes {
        /// Scopes to list, in order.
        scopes: Vec<Scope>,
    },
    /// Reply to [`SourceRequest::ListPage`].
    Page(Page),
    /// Reply to [`SourceRequest::LookupRevocation`].
    Revocation {
        /// One entry per requested serial.
        statuses: Vec<RevocationStatus>,
    },
}

/// One page of a scope's listing. Build one with [`Page::new`] or
/// [`Page::last`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// Bindings found on this page.
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Cursor for the next page, `None` when the scope is done.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Things that could not be listed but did not stop the listing (one
    /// load balancer whose listeners failed, say): the host reports them.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Page {
    /// A page of `bindings`; the host passes `next_cursor` back for the
    /// next page, `None` ends the scope.
    pub fn new(bindings: Vec<Binding>, next_cursor: Option<String>) -> Self {
        Self { bindings, next_cursor, warnings: Vec::new() }
    }
    /// The scope's last page.
    pub fn last(bindings: Vec<Binding>) -> Self {
        Self::new(bindings, None)
    }
    /// With warnings for the host to report.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

/// Error kinds crossing the boundary. Integers, so the set can grow.
pub mod error_kind {
    /// Anything not covered below.
    pub const OTHER: u32 = 0;
    /// The configuration is invalid; the message names the field.
    pub const INVALID_CONFIG: u32 = 1;
    /// The plugin panicked; the message carries the panic payload.
    pub const PANIC: u32 = 2;
    /// A message could not be parsed or is not understood.
    pub const PROTOCOL: u32 = 3;
    /// The remote service answered with an error.
    pub const SERVICE: u32 = 4;
    /// The HTTP transport failed (connect, timeout, size cap).
    pub const TRANSPORT: u32 = 5;
    /// The host cancelled the call.
    pub const CANCELLED: u32 = 6;
    /// The request is not supported by this plugin.
    pub const UNSUPPORTED: u32 = 7;
    /// Credentials are missing or were refused.
    pub const CREDENTIALS: u32 = 8;

    /// A short lower-case name for `kind`.
    pub fn name(kind: u32) -> &'static str {
        match kind {
            INVALID_CONFIG => "invalid config",
            PANIC => "panic",
            PROTOCOL => "protocol error",
            SERVICE => "service error",
            TRANSPORT => "transport error",
            CANCELLED => "cancelled",
            UNSUPPORTED => "unsupported",
            CREDENTIALS => "credentials error",
            _ => "error",
        }
    }
}

/// An error as the contract carries it: a kind code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginError {
    /// One of [`error_kind`].
    pub kind: u32,
    /// One line, free of secrets.
    pub message: String,
}

impl PluginError {
    /// An error of `kind` with `message`.
    pub fn new(kind: u32, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    /// [`error_kind::INVALID_CONFIG`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(error_kind::INVALID_CONFIG, message)
    }
    /// [`error_kind::UNSUPPORTED`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(error_kind::UNSUPPORTED, message)
    }
    /// [`error_kind::PROTOCOL`].
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(error_kind::PROTOCOL, message)
    }
    /// [`error_kind::OTHER`].
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(error_kind::OTHER, message)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", error_kind::name(self.kind), self.message)
    }
}

impl std::error::Error for PluginError {}

/// A transport failure as a plugin reports it: [`error_kind::CANCELLED`]
/// when the host cancelled, else [`error_kind::TRANSPORT`]; the message is
/// the transport's (which never contains credentials).
impl From<crate::TransportError> for PluginError {
    fn from(error: crate::TransportError) -> Self {
        let kind = match error.kind {
            crate::TransportErrorKind::Cancelled => error_kind::CANCELLED,
            _ => error_kind::TRANSPORT,
        };
        Self::new(kind, error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_and_stable() {
        let request = SourceRequest::ListPage { scope: "cn-hangzhou".into(), cursor: None };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"op":"list_page","scope":"cn-hangzhou","cursor":null}"#);
        let back: SourceRequest = serde_json::from_str(r#"{"op":"list_page","scope":"x"}"#).unwrap();
        assert_eq!(back, SourceRequest::ListPage { scope: "x".into(), cursor: None });
    }

    #[test]
    fn unknown_fields_from_a_newer_peer_are_ignored() {
        let info: PluginInfo =
            serde_json::from_str(r#"{"name":"p","version":"1.0.0","protocol_version":1,"future_field":[1,2]}"#)
                .unwrap();
        assert_eq!(info.name, "p");
        assert!(info.capabilities.is_empty());
    }

    #[test]
    fn transport_errors_become_plugin_errors_of_their_kind() {
        use crate::{TransportError, TransportErrorKind};
        let cases = [
            (TransportErrorKind::Connect, error_kind::TRANSPORT),
            (TransportErrorKind::Timeout, error_kind::TRANSPORT),
            (TransportErrorKind::Cancelled, error_kind::CANCELLED),
        ];
        for (kind, expected) in cases {
            let error = PluginError::from(TransportError { kind, message: "cas.test: refused".into() });
            assert_eq!((error.kind, error.message.as_str()), (expected, "cas.test: refused"));
        }
    }
}
