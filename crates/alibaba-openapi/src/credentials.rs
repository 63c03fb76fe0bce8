//! Credentials in Alibaba Cloud's conventions: environment variables, the
//! `aliyun` CLI's `~/.aliyun/config.json`, the credentials SDK's
//! `~/.alibabacloud/credentials.ini`, STS `AssumeRole` and the ECS metadata
//! service, tried in the order of the official default chain.
//!
//! The environment is passed in as a [`CredentialEnv`] (variables plus home
//! directory) so the chain can be tested without touching the real process
//! environment; [`CredentialEnv::from_process`] fills it from the real one.
//!
//! Secrets never appear in `Debug` output, logs or error messages:
//! [`Credentials`] prints the AccessKeyId masked (`LTAI****01`) and the
//! secret and token as `<redacted>`.

use crate::error::{redact_server_message, CredentialError};
use crate::time::parse_iso8601_utc;
use certinspect_protocol::{HostServices, HttpRequest, LogLevel};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::secret::{mask_access_key_id, Credentials};

/// The environment the credential chain reads: variables and the home
/// directory. Tests build one by hand; production uses [`Self::from_process`].
#[derive(Clone, Default)]
pub struct CredentialEnv {
    /// Environment variables (only `ALIBABA_CLOUD_*` ones are read).
    pub vars: BTreeMap<String, String>,
    /// The user's home directory (for `~/.aliyun` and `~/.alibabacloud`).
    pub home_dir: Option<PathBuf>,
}

impl fmt::Debug for CredentialEnv {
    // Values may be secrets: only names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialEnv")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home_dir", &self.home_dir)
            .finish()
    }
}

impl CredentialEnv {
    /// The real process environment (`ALIBABA_CLOUD_*` variables, `HOME` /
    /// `USERPROFILE`).
    pub fn from_process() -> Self {
        let vars = std::env::vars().filter(|(name, _)| name.starts_with("ALIBABA_CLOUD_")).collect();
        let home_dir = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        CredentialEnv { vars, home_dir }
    }

    /// Sets a variable (builder style, for tests).
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }

    /// Sets the home directory (builder style, for tests).
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home_dir = Some(home.into());
        self
    }

    /// A variable's value, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// Where temporary credentials are fetched from; tests point these at 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialEndpoints {
    /// STS base URL. `None`: `https://sts.aliyuncs.com`, or
    /// `https://sts.<region>.aliyuncs.com` when an STS region is configured.
    pub sts_endpoint: Option<String>,
    /// ECS metadata base URL (`http://100.100.100.200`).
    pub metadata_endpoint: String,
    /// Timeout for each STS / metadata request.
    pub timeout_ms: u64,
}

impl Default for CredentialEndpoints {
    fn default() -> Self {
        CredentialEndpoints {
            sts_endpoint: None,
            metadata_endpoint: "http://100.100.100.200".to_string(),
            timeout_ms: 5_000,
        }
    }
}

/// Upper bound on each metadata-service request (the SDK uses 1 s too).
pub const METADATA_TIMEOUT_MS: u64 = 1_000;

/// Milliseconds before `Expiration` at which temporary credentials are refreshed.
pub const REFRESH_MARGIN_MS: i64 = 3 * 60 * 1000;

/// One way of obtaining credentials.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// Fixed credentials (env, CLI `AK`/`StsToken`, ini `access_key`).
    Static {
        /// The credentials.
        credentials: Credentials,
        /// Where they came from, for messages.
        origin: String,
    },
    /// STS `AssumeRole` with credentials from `source`.
    RamRoleArn {
        /// Credentials used to call STS.
        source: Box<CredentialSource>,
        /// `acs:ram::<account>:role/<name>`.
        role_arn: String,
        /// `RoleSessionName`.
        session_name: String,
        /// `DurationSeconds` (900..=43200).
        duration_seconds: u32,
        /// `ExternalId`, if the role requires one.
        external_id: Option<String>,
        /// Inline `Policy` narrowing the role.
        policy: Option<String>,
        /// STS base URL.
        sts_endpoint: String,
        /// Where the configuration came from.
        origin: String,
    },
    /// The ECS instance's RAM role via the metadata service.
    EcsRamRole {
        /// Role name; `None` asks the metadata service for it.
        role_name: Option<String>,
        /// Metadata base URL.
        metadata_endpoint: String,
        /// Refuse to fall back to IMDSv1 when the token request fails.
        imdsv1_disabled: bool,
        /// Where the configuration came from.
        origin: String,
    },
    /// `ALIBABA_CLOUD_CREDENTIALS_URI`: a URL answering the metadata JSON shape.
    CredentialsUri {
        /// The URL.
        uri: String,
        /// Where the configuration came from.
        origin: String,
    },
}

impl CredentialSource {
    /// Where this source's configuration came from (`environment`, `~/.aliyun/config.json profile "x"`, ...).
    pub fn origin(&self) -> &str {
        match self {
            CredentialSource::Static { origin, .. }
            | CredentialSource::RamRoleArn { origin, .. }
            | CredentialSource::EcsRamRole { origin, .. }
            | CredentialSource::CredentialsUri { origin, .. } => origin,
        }
    }

    /// Obtains credentials (network I/O for temporary ones).
    pub fn fetch(&self, host: &dyn HostServices, timeout_ms: u64) -> Result<Credentials, CredentialError> {
        match self {
            CredentialSource::Static { credentials, .. } => Ok(credentials.clone()),
            CredentialSource::RamRoleArn {
                source,
                role_arn,
                session_name,
                duration_seconds,
                external_id,
                policy,
                sts_endpoint,
                ..
            } => {
                let base = source.fetch(host, timeout_ms)?;
                let mut params = vec![
                    ("RoleArn".to_string(), role_arn.clone()),
                    ("RoleSessionName".to_string(), session_name.clone()),
                    ("DurationSeconds".to_string(), duration_seconds.to_string()),
                ];
                if let Some(external_id) = external_id {
                    params.push(("ExternalId".to_string(), external_id.clone()));
                }
                if let Some(policy) = policy {
                    params.push(("Policy".to_string(), policy.clone()));
                }
                assume_role(host, sts_endpoint, &base, params, timeout_ms)
            }
            CredentialSource::EcsRamRole { role_name, metadata_endpoint, imdsv1_disabled, .. } => {
                ecs_metadata_credentials(host, metadata_endpoint, role_name.as_deref(), *imdsv1_disabled, timeout_ms)
            }
            CredentialSource::CredentialsUri { uri, .. } => {
                let response = fetch_text(host, "credentials URI", "GET", uri, &[], timeout_ms)?;
                parse_metadata_style_credentials("credentials URI", &response)
            }
        }
    }
}

/// The sources of the default chain that are configured, in order, and why
/// the others were skipped.
#[derive(Debug, Clone, Default)]
pub struct ChainPlan {
    /// Sources to try, first first.
    pub candidates: Vec<CredentialSource>,
    /// One line per provider that was not usable (redacted).
    pub skipped: Vec<String>,
}

/// Builds the default chain of the official credentials SDK (§8.2):
/// 1. environment (`ALIBABA_CLOUD_ACCESS_KEY_ID` + `_SECRET` [+ `_SECURITY_TOKEN`]);
/// 2. OIDC role (not supported here: if it is configured, that is an error
///    rather than silently using other credentials than the SDK would);
/// 3. `~/.aliyun/config.json` (unless `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`),
///    profile `ALIBABA_CLOUD_PROFILE` or the file's `current`;
/// 4. `ALIBABA_CLOUD_CREDENTIALS_FILE` or `~/.alibabacloud/credentials.ini`,
///    section `ALIBABA_CLOUD_PROFILE` or `default`;
/// 5. the ECS RAM role (unless `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`);
/// 6. `ALIBABA_CLOUD_CREDENTIALS_URI`.
///
/// Reading files is the only I/O here; network sources are only planned.
pub fn default_chain(env: &CredentialEnv, endpoints: &CredentialEndpoints) -> Result<ChainPlan, CredentialError> {
    let mut plan = ChainPlan::default();
    fn consider(plan: &mut ChainPlan, name: &str, result: Result<Option<CredentialSource>, String>) {
        match result {
            Ok(Some(source)) => plan.candidates.push(source),
            Ok(None) => {}
            Err(reason) => plan.skipped.push(format!("{name}: {reason}")),
        }
    }

    consider(&mut plan, "environment", env_source(env));

    if env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE").is_some()
        && env.get("ALIBABA_CLOUD_ROLE_ARN").is_some()
        && env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN").is_some()
        && plan.candidates.is_empty()
    {
        return Err(CredentialError::Config(
            "OIDC role credentials (ALIBABA_CLOUD_OIDC_*) are configured but not supported by this client".into(),
        ));
    }

    if env.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED") {
        plan.skipped.push("aliyun CLI profile: disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED".into());
    } else {
        consider(&mut plan, "aliyun CLI profile", cli_profile_source(env, endpoints));
    }

    consider(&mut plan, "credentials file", ini_profile_source(env, endpoints));

    if env.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED") {
        plan.skipped.push("ECS RAM role: disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED".into());
    } else {
        plan.candidates.push(CredentialSource::EcsRamRole {
            role_name: env.get("ALIBABA_CLOUD_ECS_METADATA").map(str::to_string),
            metadata_endpoint: endpoints.metadata_endpoint.clone(),
            imdsv1_disabled: env.flag("ALIBABA_CLOUD_IMDSV1_DISABLED"),
            origin: "ECS metadata".into(),
        });
    }

    if let Some(uri) = env.get("ALIBABA_CLOUD_CREDENTIALS_URI") {
        plan.candidates.push(CredentialSource::CredentialsUri {
            uri: uri.to_string(),
            origin: "ALIBABA_CLOUD_CREDENTIALS_URI".into(),
        });
    }
    Ok(plan)
}

fn env_source(env: &CredentialEnv) -> Result<Option<CredentialSource>, String> {
    let id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID");
    let secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    match (id, secret) {
        (Some(id), Some(secret)) => {
            let mut credentials = Credentials::new(id, secret);
            if let Some(token) = env.get("ALIBABA_CLOUD_SECURITY_TOKEN") {
                credentials = credentials.with_security_token(token);
            }
            Ok(Some(CredentialSource::Static { credentials, origin: "environment".into() }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err("ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is empty".into())
        }
        (None, Some(_)) => {
            Err("ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is empty".into())
        }
    }
}

fn sts_endpoint_for(endpoints: &CredentialEndpoints, region: Option<&str>) -> String {
    match (&endpoints.sts_endpoint, region.filter(|r| !r.is_empty())) {
        (Some(explicit), _) => explicit.clone(),
        (None, Some(region)) => format!("https://sts.{region}.aliyuncs.com"),
        (None, None) => "https://sts.aliyuncs.com".to_string(),
    }
}

fn default_session_name() -> String {
    "certinspect".to_string()
}

/// `~/.aliyun/config.json`.
fn cli_profile_source(
    env: &CredentialEnv,
    endpoints: &CredentialEndpoints,
) -> Result<Option<CredentialSource>, String> {
    let Some(home) = &env.home_dir else { return Ok(None) };
    let path = home.join(".aliyun").join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let config: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let profile_name = env
        .get("ALIBABA_CLOUD_PROFILE")
        .map(str::to_string)
        .or_else(|| config["current"].as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .unwrap_or_else(|| "default".to_string());
    cli_profile(&config, &profile_name, env, endpoints, &path, 0).map(Some)
}

fn cli_profile(
    config: &Value,
    profile_name: &str,
    env: &CredentialEnv,
    endpoints: &CredentialEndpoints,
    path: &Path,
    depth: u32,
) -> Result<CredentialSource, String> {
    // ChainableRamRoleArn profiles refer to other profiles; bound the chain.
    const MAX_PROFILE_DEPTH: u32 = 5;
    if depth > MAX_PROFILE_DEPTH {
        return Err(format!("source_profile chain longer than {MAX_PROFILE_DEPTH} at profile {profile_name:?}"));
    }
    let profile = config["profiles"]
        .as_array()
        .and_then(|profiles| profiles.iter().find(|p| p["name"].as_str() == Some(profile_name)))
        .ok_or_else(|| format!("profile {profile_name:?} not found in {}", path.display()))?;
    let field = |name: &str| profile[name].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let required = |name: &str| field(name).ok_or_else(|| format!("profile {profile_name:?} lacks {name}"));
    let origin = format!("{} profile {profile_name:?}", path.display());
    let mode = profile["mode"].as_str().unwrap_or("AK");
    // The aliyun CLI matches mode names case-insensitively.
    let access_key = || -> Result<Credentials, String> {
        Ok(Credentials::new(required("access_key_id")?, required("access_key_secret")?))
    };
    let role = |source: CredentialSource| -> Result<CredentialSource, String> {
        let duration = profile["expired_seconds"].as_u64().filter(|s| *s > 0).unwrap_or(3600);
        Ok(CredentialSource::RamRoleArn {
            source: Box::new(source),
            role_arn: required("ram_role_arn")?,
            session_name: field("ram_session_name").unwrap_or_else(default_session_name),
            duration_seconds: u32::try_from(duration).unwrap_or(3600),
            external_id: field("external_id"),
            policy: None,
            sts_endpoint: sts_endpoint_for(
                endpoints,
                field("sts_region").as_deref().or(env.get("ALIBABA_CLOUD_STS_REGION")),
            ),
            origin: origin.clone(),
        })
    };
    match mode.to_ascii_lowercase().as_str() {
        "ak" => Ok(CredentialSource::Static { credentials: access_key()?, origin }),
        "ststoken" => Ok(CredentialSource::Static {
            credentials: access_key()?.with_security_token(required("sts_token")?),
            origin,
        }),
        "ramrolearn" => {
            let base = CredentialSource::Static { credentials: access_key()?, origin: origin.clone() };
            role(base)
        }
        "chainableramrolearn" => {
            let source_name = required("source_profile")?;
            let base = cli_profile(config, &source_name, env, endpoints, path, depth + 1)?;
            role(base)
        }
        "ecsramrole" => Ok(CredentialSource::EcsRamRole {
            role_name: field("ram_role_name"),
            metadata_endpoint: endpoints.metadata_endpoint.clone(),
            imdsv1_disabled: env.flag("ALIBABA_CLOUD_IMDSV1_DISABLED"),
            origin,
        }),
        _ => Err(format!("profile {profile_name:?} uses mode {mode:?}, which this client does not support")),
    }
}

/// `ALIBABA_CLOUD_CREDENTIALS_FILE` or `~/.alibabacloud/credentials.ini`.
fn ini_profile_source(
    env: &CredentialEnv,
    endpoints: &CredentialEndpoints,
) -> Result<Option<CredentialSource>, String> {
    let (path, explicit) = match env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") {
        Some(path) => (PathBuf::from(path), true),
        None => match &env.home_dir {
            Some(home) => (home.join(".alibabacloud").join("credentials.ini"), false),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let sections = parse_ini(&text);
    let section_name = env.get("ALIBABA_CLOUD_PROFILE").unwrap_or("default");
    let Some(section) = sections.get(section_name) else {
        return Err(format!("section [{section_name}] not found in {}", path.display()));
    };
    if section.get("enable").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
        return Err(format!("section [{section_name}] is disabled (enable = false)"));
    }
    let origin = format!("{} [{section_name}]", path.display());
    let field = |name: &str| section.get(name).filter(|v| !v.is_empty()).cloned();
    let required = |name: &str| field(name).ok_or_else(|| format!("section [{section_name}] lacks {name}"));
    let kind = field("type").unwrap_or_else(|| "access_key".to_string());
    match kind.as_str() {
        "access_key" => Ok(Some(CredentialSource::Static {
            credentials: Credentials::new(required("access_key_id")?, required("access_key_secret")?),
            origin,
        })),
        "ram_role_arn" => Ok(Some(CredentialSource::RamRoleArn {
            source: Box::new(CredentialSource::Static {
                credentials: Credentials::new(required("access_key_id")?, required("access_key_secret")?),
                origin: origin.clone(),
            }),
            role_arn: required("role_arn")?,
            session_name: field("role_session_name").unwrap_or_else(default_session_name),
            duration_seconds: 3600,
            external_id: field("external_id"),
            policy: field("policy"),
            sts_endpoint: sts_endpoint_for(endpoints, env.get("ALIBABA_CLOUD_STS_REGION")),
            origin,
        })),
        "ecs_ram_role" => Ok(Some(CredentialSource::EcsRamRole {
            role_name: field("role_name"),
            metadata_endpoint: endpoints.metadata_endpoint.clone(),
            imdsv1_disabled: env.flag("ALIBABA_CLOUD_IMDSV1_DISABLED"),
            origin,
        })),
        other => Err(format!("section [{section_name}] has type {other:?}, which this client does not support")),
    }
}

/// Minimal INI: `[section]`, `key = value`, `;`/`#` comments, optional quotes.
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            sections.entry(section.clone()).or_default().insert(key.trim().to_string(), value.to_string());
        }
    }
    sections
}

fn fetch_text(
    host: &dyn HostServices,
    source_name: &str,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    timeout_ms: u64,
) -> Result<String, CredentialError> {
    let request = HttpRequest {
        method: method.to_string(),
        url: url.to_string(),
        headers: headers.to_vec(),
        body: Vec::new(),
        timeout_ms: Some(timeout_ms),
        ..HttpRequest::default()
    };
    let response = host.http(&request).map_err(|e| CredentialError::Fetch {
        source_name: source_name.to_string(),
        detail: e.to_string(),
        transient: !matches!(
            e.kind,
            certinspect_protocol::TransportErrorKind::Refused | certinspect_protocol::TransportErrorKind::Cancelled
        ),
    })?;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    if response.status != 200 {
        return Err(CredentialError::Fetch {
            source_name: source_name.to_string(),
            detail: format!("HTTP {}", response.status),
            transient: response.status >= 500 || response.status == 429,
        });
    }
    Ok(body)
}

/// The JSON the metadata service and credentials URIs answer:
/// `{Code: "Success", AccessKeyId, AccessKeySecret, SecurityToken, Expiration}`.
fn parse_metadata_style_credentials(source_name: &str, body: &str) -> Result<Credentials, CredentialError> {
    let invalid = |detail: &str| CredentialError::Fetch {
        source_name: source_name.to_string(),
        detail: detail.to_string(),
        transient: true,
    };
    let value: Value = serde_json::from_str(body).map_err(|_| invalid("answer is not JSON"))?;
    if let Some(code) = value["Code"].as_str() {
        if code != "Success" {
            return Err(CredentialError::Fetch {
                source_name: source_name.to_string(),
                detail: format!("answered Code {code:?}"),
                transient: false,
            });
        }
    }
    credentials_from_json(&value)
        .ok_or_else(|| invalid("answer lacks AccessKeyId/AccessKeySecret/SecurityToken/Expiration"))
}

fn credentials_from_json(value: &Value) -> Option<Credentials> {
    let text = |name: &str| value[name].as_str().filter(|s| !s.is_empty());
    let expiration = parse_iso8601_utc(text("Expiration")?)?;
    Some(
        Credentials::new(text("AccessKeyId")?, text("AccessKeySecret")?)
            .with_security_token(text("SecurityToken")?)
            .with_expiration_unix_ms(expiration),
    )
}

fn ecs_metadata_credentials(
    host: &dyn HostServices,
    metadata_endpoint: &str,
    role_name: Option<&str>,
    imdsv1_disabled: bool,
    timeout_ms: u64,
) -> Result<Credentials, CredentialError> {
    let base = metadata_endpoint.trim_end_matches('/');
    // The metadata service is link-local and answers in milliseconds; off ECS
    // it does not answer at all, and the chain should not hang on it.
    let timeout_ms = timeout_ms.min(METADATA_TIMEOUT_MS);
    // IMDSv2: a session token first; fall back to v1 only when allowed, and
    // only when the service answered (if it did not, v1 will not either).
    let token_headers = [("X-aliyun-ecs-metadata-token-ttl-seconds".to_string(), "21600".to_string())];
    let mut headers = Vec::new();
    let token_request = HttpRequest {
        method: "PUT".to_string(),
        url: format!("{base}/latest/api/token"),
        headers: token_headers.to_vec(),
        body: Vec::new(),
        timeout_ms: Some(timeout_ms),
        ..HttpRequest::default()
    };
    let token = match host.http(&token_request) {
        Err(e) => {
            return Err(CredentialError::Fetch {
                source_name: "ECS metadata".into(),
                detail: e.to_string(),
                transient: matches!(e.kind, certinspect_protocol::TransportErrorKind::Timeout),
            })
        }
        Ok(response) if response.status == 200 => Ok(String::from_utf8_lossy(&response.body).trim().to_string()),
        Ok(response) => Err(CredentialError::Fetch {
            source_name: "ECS metadata".into(),
            detail: format!("IMDSv2 token request answered HTTP {}", response.status),
            transient: response.status >= 500,
        }),
    };
    match token {
        Ok(token) => headers.push(("X-aliyun-ecs-metadata-token".to_string(), token)),
        Err(e) if imdsv1_disabled => return Err(e),
        Err(e) => host.log(
            LogLevel::Debug,
            "alibaba_openapi::credentials",
            &format!("IMDSv2 token failed ({e}); using IMDSv1"),
        ),
    }
    let listing_url = format!("{base}/latest/meta-data/ram/security-credentials/");
    let role = match role_name {
        Some(role) => role.to_string(),
        None => {
            let listing = fetch_text(host, "ECS metadata", "GET", &listing_url, &headers, timeout_ms)?;
            listing.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string).ok_or_else(|| {
                CredentialError::Fetch {
                    source_name: "ECS metadata".into(),
                    detail: "no RAM role is attached to this instance".into(),
                    transient: false,
                }
            })?
        }
    };
    let body = fetch_text(host, "ECS metadata", "GET", &format!("{listing_url}{role}"), &headers, timeout_ms)?;
    parse_metadata_style_credentials("ECS metadata", &body)
}

fn assume_role(
    host: &dyn HostServices,
    sts_endpoint: &str,
    base: &Credentials,
    params: Vec<(String, String)>,
    timeout_ms: u64,
) -> Result<Credentials, CredentialError> {
    let request = crate::request::build_v1_request(
        host,
        &crate::request::BaseUrl::parse(sts_endpoint).map_err(|e| CredentialError::Config(e.to_string()))?,
        "AssumeRole",
        crate::endpoint::Product::Sts.api_version(),
        params,
        base,
        "certinspect-alibaba-openapi",
        Some(timeout_ms),
    );
    let response = host.http(&request).map_err(|e| CredentialError::Fetch {
        source_name: "STS AssumeRole".into(),
        detail: crate::secret::redact_credentials(&e.to_string(), base),
        transient: true,
    })?;
    let value: Value = serde_json::from_slice(&response.body).map_err(|_| CredentialError::Fetch {
        source_name: "STS AssumeRole".into(),
        detail: format!("HTTP {} answer is not JSON", response.status),
        transient: true,
    })?;
    if response.status != 200 {
        let code = value["Code"].as_str().unwrap_or("Unknown").to_string();
        let message = redact_server_message(value["Message"].as_str().unwrap_or(""));
        let transient = response.status >= 500 || code.starts_with("Throttling") || code == "ServiceUnavailable";
        return Err(CredentialError::Fetch {
            source_name: "STS AssumeRole".into(),
            detail: crate::secret::redact_credentials(&format!("{code} (HTTP {}): {message}", response.status), base),
            transient,
        });
    }
    credentials_from_json(&value["Credentials"]).ok_or_else(|| CredentialError::Fetch {
        source_name: "STS AssumeRole".into(),
        detail: "answer lacks Credentials{AccessKeyId,AccessKeySecret,SecurityToken,Expiration}".into(),
        transient: true,
    })
}

/// Credentials for a client: a chain of sources, the first that works is
/// kept; temporary credentials are cached and refreshed
/// [`REFRESH_MARGIN_MS`] before they expire.
pub struct CredentialsProvider {
    plan: ChainPlan,
    timeout_ms: u64,
    state: Mutex<ProviderState>,
}

#[derive(Default)]
struct ProviderState {
    chosen: Option<usize>,
    cached: Option<Credentials>,
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("candidates", &self.plan.candidates.iter().map(CredentialSource::origin).collect::<Vec<_>>())
            .field("skipped", &self.plan.skipped)
            .finish()
    }
}

impl CredentialsProvider {
    /// Fixed credentials.
    pub fn fixed(credentials: Credentials) -> Self {
        Self::from_sources(vec![CredentialSource::Static { credentials, origin: "explicit".into() }])
    }

    /// Try these sources in order.
    pub fn from_sources(candidates: Vec<CredentialSource>) -> Self {
        Self::from_plan(ChainPlan { candidates, skipped: Vec::new() }, CredentialEndpoints::default().timeout_ms)
    }

    /// The official default chain over `env` (see [`default_chain`]).
    pub fn default_chain(env: &CredentialEnv, endpoints: &CredentialEndpoints) -> Result<Self, CredentialError> {
        Ok(Self::from_plan(default_chain(env, endpoints)?, endpoints.timeout_ms))
    }

    fn from_plan(plan: ChainPlan, timeout_ms: u64) -> Self {
        CredentialsProvider { plan, timeout_ms, state: Mutex::new(ProviderState::default()) }
    }

    /// The chain this provider tries.
    pub fn plan(&self) -> &ChainPlan {
        &self.plan
    }

    /// Current credentials: cached ones while they are valid for more than
    /// the refresh margin, otherwise freshly fetched. If a refresh fails while
    /// the cached credentials have not expired yet, those are used.
    pub fn get(&self, host: &dyn HostServices) -> Result<Credentials, CredentialError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = host.now_unix_ms();
        if let Some(cached) = &state.cached {
            match cached.expiration_unix_ms() {
                None => return Ok(cached.clone()),
                Some(expiry) if now + REFRESH_MARGIN_MS < expiry => return Ok(cached.clone()),
                Some(_) => {}
            }
        }
        let result = match state.chosen {
            Some(index) => self.plan.candidates[index].fetch(host, self.timeout_ms).map(|c| (index, c)),
            None => self.first_working(host),
        };
        match result {
            Ok((index, credentials)) => {
                if state.chosen != Some(index) {
                    host.log(
                        LogLevel::Info,
                        "alibaba_openapi::credentials",
                        &format!(
                            "using Alibaba Cloud credentials from {} (AccessKeyId {})",
                            self.plan.candidates[index].origin(),
                            mask_access_key_id(credentials.access_key_id())
                        ),
                    );
                }
                state.chosen = Some(index);
                state.cached = Some(credentials.clone());
                Ok(credentials)
            }
            Err(error) => match &state.cached {
                Some(cached) if cached.expiration_unix_ms().is_some_and(|expiry| now < expiry) => {
                    host.log(
                        LogLevel::Warn,
                        "alibaba_openapi::credentials",
                        &format!("refreshing credentials failed ({error}); the cached ones are still valid"),
                    );
                    Ok(cached.clone())
                }
                _ => Err(error),
            },
        }
    }

    fn first_working(&self, host: &dyn HostServices) -> Result<(usize, Credentials), CredentialError> {
        let mut attempts = self.plan.skipped.clone();
        let mut last_transient = None;
        for (index, source) in self.plan.candidates.iter().enumerate() {
            match source.fetch(host, self.timeout_ms) {
                Ok(credentials) => return Ok((index, credentials)),
                Err(error) => {
                    if let CredentialError::Fetch { transient: true, .. } = error {
                        last_transient = Some(error.clone());
                    }
                    attempts.push(format!("{}: {error}", source.origin()));
                }
            }
        }
        // A single configured network source that failed transiently is
        // reported as such, so the caller's retry logic can try again.
        if self.plan.candidates.len() == 1 {
            if let Some(error) = last_transient {
                return Err(error);
            }
        }
        Err(CredentialError::NotFound { attempts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_iso8601_utc;

    #[test]
    fn debug_never_shows_secrets() {
        let credentials = Credentials::new("LTAI5tFakeAccessKeyId01", "FakeSecretKey/+=0123456789abcdefXYZ")
            .with_security_token("CAIS+FakeSecurityToken");
        let debug = format!("{credentials:?}");
        assert!(debug.contains("LTAI****01"), "{debug}");
        assert!(!debug.contains("LTAI5tFakeAccessKeyId01"), "{debug}");
        assert!(!debug.contains("FakeSecretKey"), "{debug}");
        assert!(!debug.contains("CAIS+Fake"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");

        let env = CredentialEnv::default().with_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "FakeSecretKey");
        assert!(!format!("{env:?}").contains("FakeSecretKey"));
        let source = CredentialSource::Static { credentials, origin: "test".into() };
        let debug = format!("{source:?}");
        assert!(!debug.contains("FakeSecretKey") && !debug.contains("LTAI5tFakeAccessKeyId01"), "{debug}");
    }

    #[test]
    fn temporary_credentials_are_cached_refreshed_and_kept_while_a_refresh_fails() {
        use certinspect_sdk::testing::{json_response, FakeHost};
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        use std::sync::Arc;

        const START_MS: i64 = 1_736_929_800_000; // 2025-01-15T08:30:00Z
        let fetches = Arc::new(AtomicU32::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (counter, broken) = (fetches.clone(), failing.clone());
        // Every fetch hands out credentials valid for 10 minutes from the
        // fetch, numbered so refreshes are visible.
        let host = FakeHost::answering(START_MS, move |request| {
            assert_eq!(request.url, "http://127.0.0.1:9/creds");
            if broken.load(Ordering::SeqCst) {
                return Ok(json_response(503, "{}"));
            }
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let expiration = format_iso8601_utc(START_MS + i64::from(n) * 60_000 * 8 + 600_000);
            Ok(json_response(
                200,
                &format!(
                    r#"{{"Code":"Success","AccessKeyId":"STS.key{n}","AccessKeySecret":"secret{n}","SecurityToken":"token{n}","Expiration":"{expiration}"}}"#
                ),
            ))
        });
        let provider = CredentialsProvider::from_sources(vec![CredentialSource::CredentialsUri {
            uri: "http://127.0.0.1:9/creds".into(),
            origin: "test".into(),
        }]);
        let advance = |ms: i64| host.sleep(std::time::Duration::from_millis(ms as u64));

        assert_eq!(provider.get(&*host).unwrap().access_key_id(), "STS.key0");
        advance(6 * 60_000); // 4 minutes left: still outside the 3-minute margin
        assert_eq!(provider.get(&*host).unwrap().access_key_id(), "STS.key0");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "cached");

        advance(2 * 60_000); // 2 minutes left: refreshed
        assert_eq!(provider.get(&*host).unwrap().access_key_id(), "STS.key1");

        failing.store(true, Ordering::SeqCst);
        advance(8 * 60_000 + 30_000); // key1 has 1.5 minutes left, the refresh fails
        assert_eq!(provider.get(&*host).unwrap().access_key_id(), "STS.key1");
        assert!(host.logs().iter().any(|l| l.contains("still valid")));

        advance(2 * 60_000); // key1 expired and the refresh still fails
        assert!(matches!(provider.get(&*host), Err(CredentialError::Fetch { transient: true, .. })));
        let logs = host.logs().join("\n");
        assert!(!logs.contains("secret1") && !logs.contains("token1") && !logs.contains("STS.key1"), "{logs}");
    }

    #[test]
    fn ini_parser_reads_sections_comments_and_quotes() {
        let sections = parse_ini("; c\n[default]\ntype = access_key\naccess_key_id = \"id\"\n# c\n[other]\nk=v\n");
        assert_eq!(sections["default"]["type"], "access_key");
        assert_eq!(sections["default"]["access_key_id"], "id");
        assert_eq!(sections["other"]["k"], "v");
    }
}
