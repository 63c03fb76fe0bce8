//! The `aws` certinspect provider: ACM certificates, ELBv2 (ALB/NLB)
//! listener certificates, CloudFront distribution aliases and IAM server
//! certificates of one AWS account.
//!
//! Scopes: `acm/<region>` and `elbv2/<region>` per region (the configured
//! `regions`, or every region EC2 `DescribeRegions` says is enabled), plus
//! the global `cloudfront` and `iam`. A scope's cursor is the service's own
//! `NextToken`/`Marker`, so every `list_page` call is one page of the
//! service's listing and the source keeps no listing state.
//!
//! Joins: ELB listener and CloudFront bindings carry only the certificate's
//! ARN (cross-reference `aws-certificate-arn`) or IAM id
//! (`aws-iam-server-certificate-id`); the ACM and IAM inventory bindings
//! carry the same keys plus the identity read from the PEM, so the core's
//! join fills the listener's declared certificate from them.
//!
//! What it is not: an exporter (see `certinspect-aws-dylib`), a prober, or
//! an HTTP stack: every request goes through the host's transport.

pub mod acm;
pub mod certificate;
pub mod client;
pub mod cloudfront;
pub mod credentials;
pub mod elbv2;
pub mod iam;
pub mod tags;
pub mod xml;

use std::path::PathBuf;

use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, config, error_kind, CrossRef, Host, Page, PluginError, PluginInfo, Provider, Scope, Source,
};
use serde::Deserialize;

use client::{AwsError, Client, Endpoints, RetryPolicy, EC2};
use credentials::{CredentialsProvider, CredentialsSettings, Environment};

/// The plugin name.
pub const PLUGIN_NAME: &str = "aws";

/// Cross-reference kind: a certificate ARN (ACM or IAM server certificate).
pub const XREF_CERTIFICATE_ARN: &str = "aws-certificate-arn";
/// Cross-reference kind: an IAM server certificate id (`ASCA…`), as CloudFront names it.
pub const XREF_IAM_SERVER_CERTIFICATE_ID: &str = "aws-iam-server-certificate-id";

/// The services this plugin reads.
pub const SERVICES: &[&str] = &["acm", "elbv2", "cloudfront", "iam"];

fn xref_arn(arn: &str) -> CrossRef {
    CrossRef { kind: XREF_CERTIFICATE_ARN.into(), value: arn.to_owned() }
}

/// What an opened source works with.
#[derive(Debug)]
pub struct Context {
    /// The signed client.
    pub client: Client,
    /// Account label for bindings.
    pub account: String,
    /// Label probed under wildcard-only names, if configured.
    pub wildcard_label: Option<String>,
    /// Whether resource tags are read (the `tags` setting).
    pub tags: bool,
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsConfig {
    /// Account label.
    pub account: String,
    /// Regions, or `None` for every enabled region.
    pub regions: Option<Vec<String>>,
    /// Services to read.
    pub services: Vec<String>,
    /// One base URL for every service (an emulator), instead of AWS's endpoints.
    pub endpoint: Option<String>,
    /// Where credentials come from.
    pub credentials: CredentialsSettings,
    /// Attempts per call.
    pub max_attempts: u32,
    /// Label probed under wildcard-only names.
    pub wildcard_label: Option<String>,
    /// Whether resource tags are read (one more call per certificate,
    /// per 20 load balancers or listeners, per distribution).
    pub tags: bool,
}

/// The section as written: types and known keys checked by serde, the
/// rest by [`AwsConfig::read`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    account: Option<String>,
    regions: Option<Vec<String>>,
    services: Option<Vec<String>>,
    endpoint: Option<String>,
    max_attempts: Option<u32>,
    wildcard_probe_label: Option<String>,
    tags: Option<bool>,
    credentials: Option<RawCredentials>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    profile: Option<String>,
    credentials_file: Option<String>,
    config_file: Option<String>,
    sts_endpoint: Option<String>,
    imds_endpoint: Option<String>,
    ecs_endpoint: Option<String>,
    metadata_services: Option<bool>,
}

impl AwsConfig {
    /// Reads the configuration section; errors name the field.
    pub fn read(config: &Value) -> Result<Self, PluginError> {
        let raw: RawConfig = config::parse(config)?;
        let account = config::non_empty("account", raw.account)?;
        let regions = config::list_of("regions", raw.regions, &[])?;
        if let Some(bad) = regions.iter().flatten().find(|r| !is_region_name(r)) {
            return Err(config::invalid(
                "regions",
                &format!("expected region names such as us-east-1, found \"{bad}\""),
            ));
        }
        let services = config::list_of("services", raw.services, SERVICES)?
            .unwrap_or_else(|| SERVICES.iter().map(|s| (*s).to_owned()).collect());
        let endpoint = config::non_empty("endpoint", raw.endpoint)?;
        if let Some(url) = &endpoint {
            check_base_url("endpoint", url)?;
        }
        let max_attempts = config::within("max_attempts", raw.max_attempts, 1..=10)?.unwrap_or(5);
        let wildcard_label = config::non_empty("wildcard_probe_label", raw.wildcard_probe_label)?;
        let mut credentials = CredentialsSettings { metadata_services: true, ..CredentialsSettings::default() };
        if let Some(section) = raw.credentials {
            credentials.profile = config::non_empty("credentials.profile", section.profile)?;
            credentials.credentials_file =
                config::non_empty("credentials.credentials_file", section.credentials_file)?.map(PathBuf::from);
            credentials.config_file =
                config::non_empty("credentials.config_file", section.config_file)?.map(PathBuf::from);
            for (key, value, slot) in [
                ("sts_endpoint", section.sts_endpoint, &mut credentials.sts_endpoint),
                ("imds_endpoint", section.imds_endpoint, &mut credentials.imds_endpoint),
                ("ecs_endpoint", section.ecs_endpoint, &mut credentials.ecs_endpoint),
            ] {
                let field = format!("credentials.{key}");
                *slot = config::non_empty(&field, value)?;
                if let Some(url) = slot.as_deref() {
                    check_base_url(&field, url)?;
                }
            }
            if let Some(allowed) = section.metadata_services {
                credentials.metadata_services = allowed;
            }
        }
        // Like the Alibaba plugins: the profile names the account unless told otherwise.
        let account = account.or_else(|| credentials.profile.clone()).unwrap_or_else(|| "default".into());
        let tags = raw.tags.unwrap_or(true);
        Ok(Self { account, regions, services, endpoint, credentials, max_attempts, wildcard_label, tags })
    }
}

fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

fn check_base_url(field: &str, url: &str) -> Result<(), PluginError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.split_once("://").is_some_and(|(_, rest)| {
            !rest.trim_end_matches('/').is_empty() && !rest.trim_end_matches('/').contains('/')
        });
    if ok {
        Ok(())
    } else {
        Err(config::invalid(field, &format!("expected a base URL such as http://127.0.0.1:5000, found \"{url}\"")))
    }
}

fn config_schema() -> Value {
    let url = json!({ "type": "string", "pattern": "^https?://[^/]+/?$" });
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "account": { "type": "string", "minLength": 1, "description": "Account label shown in reports." },
            "regions": { "type": "array", "minItems": 1, "items": { "type": "string" },
                         "description": "Regions for ACM and ELBv2; default: every enabled region." },
            "services": { "type": "array", "minItems": 1, "items": { "enum": SERVICES } },
            "endpoint": url,
            "max_attempts": { "type": "integer", "minimum": 1, "maximum": 10 },
            "wildcard_probe_label": { "type": "string", "minLength": 1 },
            "tags": { "type": "boolean", "description": "Read resource tags (default true)." },
            "credentials": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "profile": { "type": "string", "minLength": 1 },
                    "credentials_file": { "type": "string", "minLength": 1 },
                    "config_file": { "type": "string", "minLength": 1 },
                    "sts_endpoint": url,
                    "imds_endpoint": url,
                    "ecs_endpoint": url,
                    "metadata_services": { "type": "boolean" }
                }
            }
        }
    })
}

/// The provider.
#[derive(Debug)]
pub struct AwsProvider;

impl Provider for AwsProvider {
    fn info() -> PluginInfo {
        PluginInfo::new(PLUGIN_NAME, env!("CARGO_PKG_VERSION"))
            .with_description(
                "AWS: ACM certificates, ELBv2 HTTPS/TLS listeners, CloudFront aliases, IAM server certificates",
            )
            .with_provider("aws", SERVICES.iter().copied())
            .with_capability(capability::INVENTORY)
            .with_config_schema(config_schema())
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = AwsConfig::read(&config)?;
        Ok(Box::new(AwsSource::new(settings, host, Environment::process())))
    }
}

/// An opened source.
#[derive(Debug)]
pub struct AwsSource {
    settings: AwsConfig,
    context: Context,
}

impl AwsSource {
    /// A source over `host` with the environment `env` (the process's, or a test's).
    pub fn new(settings: AwsConfig, host: Host, env: Environment) -> Self {
        let endpoints = settings.endpoint.clone().map_or(Endpoints::Aws, Endpoints::Override);
        let credentials = CredentialsProvider::chain(settings.credentials.clone(), env, endpoints.clone());
        let retry = RetryPolicy { max_attempts: settings.max_attempts, ..RetryPolicy::default() };
        let context = Context {
            client: Client::new(host, endpoints, credentials, retry),
            account: settings.account.clone(),
            wildcard_label: settings.wildcard_label.clone(),
            tags: settings.tags,
        };
        Self { settings, context }
    }

    fn regions(&self) -> Result<Vec<String>, PluginError> {
        if let Some(regions) = &self.settings.regions {
            return Ok(regions.clone());
        }
        let body = self
            .context
            .client
            .query(&EC2, client::GLOBAL_REGION, "DescribeRegions", &[])
            .map_err(|e| failure("listing the enabled regions", &e))?;
        let answer: RegionsAnswer =
            xml::parse("EC2 DescribeRegions", &body).map_err(|e| failure("listing the enabled regions", &e))?;
        let regions: Vec<String> = answer.regions.items.into_iter().map(|r| r.name).collect();
        if regions.is_empty() {
            return Err(PluginError::new(error_kind::SERVICE, "EC2 DescribeRegions returned no regions"));
        }
        Ok(regions)
    }
}

#[derive(Debug, Deserialize)]
struct RegionsAnswer {
    #[serde(rename = "regionInfo", default)]
    regions: RegionItems,
}
#[derive(Debug, Default, Deserialize)]
struct RegionItems {
    #[serde(rename = "item", default)]
    items: Vec<RegionItem>,
}
#[derive(Debug, Deserialize)]
struct RegionItem {
    #[serde(rename = "regionName")]
    name: String,
}

/// The contract error for `error` while doing `what`.
pub fn failure(what: &str, error: &AwsError) -> PluginError {
    let kind = match error {
        e if e.is_credentials_problem() => error_kind::CREDENTIALS,
        AwsError::Transport { cancelled: true, .. } => error_kind::CANCELLED,
        AwsError::Transport { .. } => error_kind::TRANSPORT,
        _ => error_kind::SERVICE,
    };
    PluginError::new(kind, format!("{what}: {error}{}", permission_hint(error)))
}

/// What to add to a refused call's error: where the policy is documented.
pub fn permission_hint(error: &AwsError) -> &'static str {
    match error {
        AwsError::Service { .. } if error.is_credentials_problem() => {
            " (the credentials were refused or lack a permission; see docs/AWS.md for the policy)"
        }
        _ => "",
    }
}

impl Source for AwsSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        let services = &self.settings.services;
        let mut scopes = Vec::new();
        let regional: Vec<&str> = ["acm", "elbv2"].into_iter().filter(|s| services.iter().any(|x| x == s)).collect();
        if !regional.is_empty() {
            for region in self.regions()? {
                for service in &regional {
                    scopes.push(Scope {
                        id: format!("{service}/{region}"),
                        label: format!("account {}, {service} in {region}", self.settings.account),
                    });
                }
            }
        }
        for service in ["cloudfront", "iam"] {
            if services.iter().any(|s| s == service) {
                scopes
                    .push(Scope { id: service.into(), label: format!("account {}, {service}", self.settings.account) });
            }
        }
        Ok(scopes)
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let context = &self.context;
        let (service, region) = scope.split_once('/').map_or((scope, None), |(s, r)| (s, Some(r)));
        let what = format!("account {}, {scope}", self.settings.account);
        let page = match (service, region) {
            ("acm", Some(region)) => acm::list_page(context, region, cursor),
            ("elbv2", Some(region)) => elbv2::list_page(context, region, cursor),
            ("cloudfront", None) => cloudfront::list_page(context, cursor),
            ("iam", None) => iam::list_page(context, cursor),
            _ => return Err(PluginError::protocol(format!("unknown scope \"{scope}\""))),
        };
        page.map_err(|e| failure(&what, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_field() {
        let error = |config: Value| AwsConfig::read(&config).unwrap_err().message;
        let cases = [
            (json!({"regions": []}), "regions: expected at least one entry"),
            (json!({"regions": ["us east"]}), "regions: expected region names"),
            (json!({"services": ["s3"]}), "services[0]: expected one of acm, elbv2, cloudfront, iam"),
            (json!({"endpoint": "127.0.0.1:5000"}), "endpoint: expected a base URL"),
            (json!({"credentials": {"profile": "x", "secret": "y"}}), "credentials.secret: unknown setting"),
            (json!({"max_attempts": "3"}), "max_attempts: invalid type: string \"3\", expected u32"),
            (json!({"account": " "}), "account: expected a non-empty string"),
            (json!({"zone": "x"}), "zone: unknown setting; expected one of account, regions"),
            (json!({"credentials": {"imds_endpoint": "ftp://x"}}), "credentials.imds_endpoint: expected a base URL"),
            (json!({"max_attempts": 0}), "max_attempts: expected an integer from 1 to 10"),
            (json!({"tags": "yes"}), "tags: invalid type: string \"yes\", expected a boolean"),
        ];
        for (config, want) in cases {
            let message = error(config.clone());
            assert!(message.starts_with(want), "{config}: {message}");
        }
        let fine = AwsConfig::read(&json!({"regions": ["eu-west-1"], "credentials": {"profile": "p"}})).unwrap();
        assert_eq!(fine.services, SERVICES);
        assert_eq!(fine.credentials.profile.as_deref(), Some("p"));
        assert_eq!(fine.account, "p", "the profile names the account by default");
        assert_eq!(AwsConfig::read(&Value::Null).unwrap().account, "default");
        assert!(AwsConfig::read(&Value::Null).unwrap().tags, "tags are read unless switched off");
        assert!(!AwsConfig::read(&json!({"tags": false})).unwrap().tags);
    }
}
