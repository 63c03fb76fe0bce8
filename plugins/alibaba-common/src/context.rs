//! From configuration to API clients: one credentials provider and one QPS
//! table (documented limits, assumptions, `rate_limits` overrides) per
//! opened source, shared by the clients of all its scopes. Every limited
//! request names its per-(account, API) budget and the host spaces each
//! budget for the whole run, so calls of one account count together against
//! Alibaba's per-account quotas across sources and plugins.

use std::sync::Arc;
use std::time::Duration;

use alibaba_openapi::credentials::CredentialSource;
use alibaba_openapi::{
    resolve_endpoint, Client, ClientConfig, CredentialEndpoints, CredentialEnv, CredentialsProvider, Product, QpsTable,
    RetryPolicy,
};
use certinspect_sdk::{error_kind, Host, PluginError};

use crate::config::{CommonConfig, CredentialsSetting};

/// An API a plugin calls, and the limit its requests name when Alibaba
/// publishes none (`None`: unlimited unless configured).
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Product (and so API version and endpoint rule).
    pub product: Product,
    /// Action name.
    pub action: &'static str,
    /// Calls per second assumed when the documented table has no entry.
    pub assumed_qps: Option<f64>,
}

impl Api {
    /// An API with a documented (or no) limit.
    pub const fn new(product: Product, action: &'static str) -> Self {
        Self { product, action, assumed_qps: None }
    }

    /// An API whose limit is not published; `qps` is our assumption.
    pub const fn assumed(product: Product, action: &'static str, qps: f64) -> Self {
        Self { product, action, assumed_qps: Some(qps) }
    }

    /// The `ActionSpec` the client calls.
    pub const fn spec(&self) -> alibaba_openapi::ActionSpec {
        alibaba_openapi::ActionSpec::new(self.product, self.action)
    }
}

/// Names of `apis`, for `rate_limits` validation and the schema.
pub fn api_names(apis: &[Api]) -> Vec<&'static str> {
    apis.iter().map(|a| a.action).collect()
}

/// The documented limits of `apis`, for `PluginInfo::rate_limits`.
pub fn documented_rate_limits(apis: &[Api]) -> Vec<certinspect_sdk::RateLimit> {
    let table = QpsTable::documented();
    apis.iter()
        .filter_map(|api| {
            table
                .qps(api.product, api.action)
                .map(|qps| certinspect_sdk::RateLimit { api: api.action.into(), per_second: qps })
        })
        .collect()
}

/// What every call of an opened source needs: the host, the account label,
/// credentials and the QPS table.
pub struct AlibabaContext {
    host: Host,
    common: CommonConfig,
    credentials: Arc<CredentialsProvider>,
    qps: Arc<QpsTable>,
}

impl std::fmt::Debug for AlibabaContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaContext")
            .field("account", &self.common.account)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl AlibabaContext {
    /// Builds the credentials provider (reading profile files, no network)
    /// and the QPS table. A credentials source that cannot work at all
    /// (no such profile, env variables unset) is an error here, once per
    /// plugin, rather than once per scope later.
    pub fn new(common: CommonConfig, apis: &[Api], host: Host) -> Result<Self, PluginError> {
        let endpoints = CredentialEndpoints {
            sts_endpoint: common.sts_endpoint.clone(),
            metadata_endpoint: common
                .ecs_metadata_endpoint
                .clone()
                .unwrap_or_else(|| CredentialEndpoints::default().metadata_endpoint),
            ..CredentialEndpoints::default()
        };
        let credentials = credentials_provider(&common.credentials, &endpoints)?;
        let mut table = QpsTable::documented();
        for api in apis {
            if table.qps(api.product, api.action).is_none() {
                table.set(api.product, api.action, api.assumed_qps);
            }
        }
        for (action, qps) in &common.rate_limits {
            if let Some(api) = apis.iter().find(|a| a.action == action) {
                table.set(api.product, api.action, Some(*qps).filter(|q| *q > 0.0));
            }
        }
        Ok(Self { host, common, credentials: Arc::new(credentials), qps: Arc::new(table) })
    }

    /// The host services.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The account label for `Location::account`.
    pub fn account(&self) -> &str {
        &self.common.account
    }

    /// The shared settings.
    pub fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// A client for `region` (endpoint resolution and SLB's `RegionId`).
    pub fn client(&self, region: Option<&str>) -> Client {
        let config = ClientConfig {
            region_id: region.map(str::to_owned),
            endpoint_override: self.common.endpoint.clone(),
            signature_version: self.common.signature_version,
            retry: RetryPolicy {
                max_attempts: self.common.max_attempts,
                max_total_retry_time: Duration::from_secs(self.common.max_retry_seconds),
                ..RetryPolicy::default()
            },
            request_timeout_ms: Some(self.common.request_timeout_ms),
            ..ClientConfig::default()
        };
        Client::new(Arc::clone(&self.host), Arc::clone(&self.credentials), config).with_qps_table(Arc::clone(&self.qps))
    }

    /// The endpoint a call for `product` in `region` goes to (the override
    /// when configured), for telling apart scopes that share one inventory.
    pub fn endpoint_for(&self, product: Product, region: Option<&str>) -> Result<String, PluginError> {
        match &self.common.endpoint {
            Some(url) => Ok(url.trim_end_matches('/').to_owned()),
            None => resolve_endpoint(product, region)
                .map(|host| format!("https://{host}"))
                .map_err(|e| PluginError::invalid_config(format!("regions: {e}"))),
        }
    }
}

const AK_VARS: [&str; 3] =
    ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"];

fn credentials_provider(
    setting: &CredentialsSetting,
    endpoints: &CredentialEndpoints,
) -> Result<CredentialsProvider, PluginError> {
    let refuse = |message: String| PluginError::new(error_kind::CREDENTIALS, message);
    let process = CredentialEnv::from_process();
    let chain = |env: &CredentialEnv, what: &str| -> Result<CredentialsProvider, PluginError> {
        let provider = CredentialsProvider::default_chain(env, endpoints).map_err(|e| refuse(e.to_string()))?;
        if provider.plan().candidates.is_empty() {
            let tried = provider.plan().skipped.join("; ");
            return Err(refuse(format!("no Alibaba Cloud credentials for {what}: {tried}")));
        }
        Ok(provider)
    };
    match setting {
        CredentialsSetting::DefaultChain => chain(&process, "the default chain"),
        CredentialsSetting::Env => {
            // Only the environment: no files, no metadata service.
            let mut env = CredentialEnv::default()
                .with_var("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
                .with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
            for name in AK_VARS {
                if let Some(value) = process.get(name) {
                    env = env.with_var(name, value);
                }
            }
            if env.get(AK_VARS[0]).is_none() || env.get(AK_VARS[1]).is_none() {
                return Err(refuse(
                    "credentials.env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET must be set"
                        .into(),
                ));
            }
            chain(&env, "credentials.env")
        }
        CredentialsSetting::Profile { name, file } => {
            // The named profile and nothing else: environment keys, the
            // metadata service and credentials URIs must not win over it.
            let mut env = process.clone();
            for name in AK_VARS.iter().chain(&[
                "ALIBABA_CLOUD_CREDENTIALS_URI",
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                "ALIBABA_CLOUD_ROLE_ARN",
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            ]) {
                env.vars.remove(*name);
            }
            env = env.with_var("ALIBABA_CLOUD_PROFILE", name).with_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
            if let Some(file) = file {
                env = env
                    .with_var("ALIBABA_CLOUD_CREDENTIALS_FILE", &file.to_string_lossy())
                    .with_var("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true");
            }
            chain(&env, &format!("credentials.profile \"{name}\""))
        }
        CredentialsSetting::EcsRamRole(role) => {
            Ok(CredentialsProvider::from_sources(vec![CredentialSource::EcsRamRole {
                role_name: Some(role.clone()),
                metadata_endpoint: endpoints.metadata_endpoint.clone(),
                imdsv1_disabled: false,
                origin: format!("ECS RAM role {role}"),
            }]))
        }
    }
}
