//! Credentials the AWS way: environment variables, the shared
//! `~/.aws/credentials` and `~/.aws/config` profiles (static keys,
//! `role_arn` + `source_profile` through STS `AssumeRole`,
//! `credential_process`, `web_identity_token_file`), web identity from the
//! environment (`AWS_WEB_IDENTITY_TOKEN_FILE`, the EKS way), ECS container
//! credentials and IMDSv2 — in the order the AWS SDKs try them.
//!
//! Every network source has an endpoint override so tests stay on
//! loopback; the environment is passed in ([`Environment`]) rather than
//! read here, so the chain is testable without touching the process.
//! Secrets are masked in `Debug` and never put in an error message.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_sigv4::SigningCredentials;
use certinspect_sdk::{Host, HttpRequest};
use serde::Deserialize;

use crate::client::{AwsError, Client, Endpoints, RetryPolicy, STS};
use crate::xml;

/// Temporary credentials are refreshed this long before they expire.
const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// `source_profile` chains longer than this are refused (a loop, most likely).
const MAX_ROLE_CHAIN: usize = 5;
const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
const DEFAULT_ECS_HOST: &str = "http://169.254.170.2";

/// Why no credentials could be had. Messages name files, profiles and
/// sources, never a key or token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Every source of the chain was tried and none had credentials.
    NotFound(String),
    /// A source was configured but is unusable (bad file, missing key).
    Invalid(String),
    /// A source was asked and failed (STS refused, process failed, endpoint down).
    Failed(String),
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::NotFound(m) | CredentialsError::Invalid(m) | CredentialsError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// The process environment as the chain sees it: variables and the home directory.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Variable values may be secrets: names only.
        f.debug_struct("Environment")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .finish()
    }
}

impl Environment {
    /// This process's `AWS_*` variables and `HOME`.
    pub fn process() -> Self {
        let vars = std::env::vars().filter(|(name, _)| name.starts_with("AWS_")).collect();
        Self { vars, home: std::env::var_os("HOME").map(PathBuf::from) }
    }

    /// An explicit environment (tests).
    pub fn new(vars: &[(&str, &str)], home: Option<&Path>) -> Self {
        Self {
            vars: vars.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

/// Where to look, from the plugin configuration. Every field is optional;
/// an empty setting means the SDKs' default chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsSettings {
    /// Use only this profile (the environment's keys are then ignored, as
    /// when a profile is named in an SDK call).
    pub profile: Option<String>,
    /// Replaces `~/.aws/credentials` (and `AWS_SHARED_CREDENTIALS_FILE`).
    pub credentials_file: Option<PathBuf>,
    /// Replaces `~/.aws/config` (and `AWS_CONFIG_FILE`).
    pub config_file: Option<PathBuf>,
    /// Base URL for STS (`AssumeRole`, `AssumeRoleWithWebIdentity`).
    pub sts_endpoint: Option<String>,
    /// Base URL of the instance metadata service (IMDSv2).
    pub imds_endpoint: Option<String>,
    /// Base URL of the ECS credentials endpoint for a relative URI.
    pub ecs_endpoint: Option<String>,
    /// Whether the chain may end at the container and instance metadata services.
    pub metadata_services: bool,
}

/// Where a set of credentials came from, for logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    credentials: SigningCredentials,
    /// UNIX ms, for temporary credentials.
    expires_at_ms: Option<i64>,
    /// `environment`, `profile prod`, `assume-role via profile ci`, ...
    pub source: String,
}

/// Resolves and caches credentials; refreshes temporary ones before they expire.
pub struct CredentialsProvider {
    kind: ProviderKind,
    cache: Mutex<Option<Resolved>>,
}

enum ProviderKind {
    Anonymous,
    Fixed(SigningCredentials),
    Chain { settings: CredentialsSettings, env: Environment, endpoints: Endpoints },
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            ProviderKind::Anonymous => "anonymous",
            ProviderKind::Fixed(_) => "fixed",
            ProviderKind::Chain { .. } => "chain",
        };
        f.debug_struct("CredentialsProvider").field("kind", &kind).finish_non_exhaustive()
    }
}

impl CredentialsProvider {
    /// Requests go unsigned (STS `AssumeRoleWithWebIdentity`).
    pub fn anonymous() -> Self {
        Self { kind: ProviderKind::Anonymous, cache: Mutex::new(None) }
    }

    /// Always these credentials.
    pub fn fixed(credentials: SigningCredentials) -> Self {
        Self { kind: ProviderKind::Fixed(credentials), cache: Mutex::new(None) }
    }

    /// The chain described by `settings` over `env`; STS calls go to
    /// `settings.sts_endpoint` or else `endpoints`.
    pub fn chain(settings: CredentialsSettings, env: Environment, endpoints: Endpoints) -> Self {
        Self { kind: ProviderKind::Chain { settings, env, endpoints }, cache: Mutex::new(None) }
    }

    /// Credentials to sign with (`None`: send unsigned).
    pub fn get(&self, host: &Host) -> Result<Option<SigningCredentials>, CredentialsError> {
        Ok(self.resolve(host)?.map(|r| r.credentials))
    }

    /// As [`get`](Self::get), with where the credentials came from.
    pub fn resolve(&self, host: &Host) -> Result<Option<Resolved>, CredentialsError> {
        let (settings, env, endpoints) = match &self.kind {
            ProviderKind::Anonymous => return Ok(None),
            ProviderKind::Fixed(c) => {
                return Ok(Some(Resolved { credentials: c.clone(), expires_at_ms: None, source: "fixed".into() }))
            }
            ProviderKind::Chain { settings, env, endpoints } => (settings, env, endpoints),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.as_ref() {
            let fresh = cached.expires_at_ms.is_none_or(|at| at - REFRESH_MARGIN_MS > host.now_unix_ms());
            if fresh {
                return Ok(Some(cached.clone()));
            }
        }
        let resolved = Chain { settings, env, endpoints, host }.resolve()?;
        *cache = Some(resolved.clone());
        Ok(Some(resolved))
    }
}

struct Chain<'a> {
    settings: &'a CredentialsSettings,
    env: &'a Environment,
    endpoints: &'a Endpoints,
    host: &'a Host,
}

impl Chain<'_> {
    fn resolve(&self) -> Result<Resolved, CredentialsError> {
        if let Some(profile) = &self.settings.profile {
            return self.profile(profile, 0);
        }
        if let Some(found) = self.environment_keys()? {
            return Ok(found);
        }
        if let (Some(token_file), Some(role)) =
            (self.env.var("AWS_WEB_IDENTITY_TOKEN_FILE"), self.env.var("AWS_ROLE_ARN"))
        {
            let session = self.env.var("AWS_ROLE_SESSION_NAME").unwrap_or("certinspect");
            return self.web_identity(Path::new(token_file), role, session, "environment web identity");
        }
        let profile = self.env.var("AWS_PROFILE").unwrap_or("default").to_owned();
        match self.profile(&profile, 0) {
            Ok(found) => return Ok(found),
            Err(CredentialsError::NotFound(_)) if self.env.var("AWS_PROFILE").is_none() => {}
            Err(other) => return Err(other),
        }
        if self.settings.metadata_services {
            if let Some(found) = self.container()? {
                return Ok(found);
            }
            if self.env.var("AWS_EC2_METADATA_DISABLED").is_none_or(|v| !v.eq_ignore_ascii_case("true")) {
                return self.instance_metadata();
            }
        }
        Err(CredentialsError::NotFound(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile of \
             ~/.aws/credentials or ~/.aws/config, or run where a container or instance role is available"
                .into(),
        ))
    }

    fn environment_keys(&self) -> Result<Option<Resolved>, CredentialsError> {
        match (self.env.var("AWS_ACCESS_KEY_ID"), self.env.var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok(Some(Resolved {
                credentials: SigningCredentials {
                    access_key_id: id.to_owned(),
                    secret_access_key: secret.to_owned(),
                    session_token: self.env.var("AWS_SESSION_TOKEN").map(str::to_owned),
                },
                expires_at_ms: None,
                source: "environment".into(),
            })),
            (Some(_), None) => {
                Err(CredentialsError::Invalid("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into()))
            }
            _ => Ok(None),
        }
    }

    fn files(&self) -> Result<Profiles, CredentialsError> {
        let home = |name: &str| self.env.home.as_ref().map(|h| h.join(".aws").join(name));
        let credentials = self
            .settings
            .credentials_file
            .clone()
            .or_else(|| self.env.var("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from))
            .or_else(|| home("credentials"));
        let config = self
            .settings
            .config_file
            .clone()
            .or_else(|| self.env.var("AWS_CONFIG_FILE").map(PathBuf::from))
            .or_else(|| home("config"));
        let explicit = self.settings.credentials_file.is_some() || self.settings.config_file.is_some();
        let read = |path: &Option<PathBuf>, is_config: bool| -> Result<BTreeMap<String, Section>, CredentialsError> {
            let Some(path) = path else { return Ok(BTreeMap::new()) };
            match std::fs::read_to_string(path) {
                Ok(text) => Ok(parse_ini(&text, is_config)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(BTreeMap::new()),
                Err(e) => Err(CredentialsError::Invalid(format!("cannot read {}: {e}", path.display()))),
            }
        };
        Ok(Profiles { credentials: read(&credentials, false)?, config: read(&config, true)? })
    }

    fn profile(&self, name: &str, depth: usize) -> Result<Resolved, CredentialsError> {
        if depth > MAX_ROLE_CHAIN {
            return Err(CredentialsError::Invalid(format!(
                "profile {name}: source_profile chain longer than {MAX_ROLE_CHAIN} (a loop?)"
            )));
        }
        let files = self.files()?;
        let Some(section) = files.merged(name) else {
            return Err(CredentialsError::NotFound(format!(
                "profile {name} is in neither the AWS credentials file nor the config file"
            )));
        };
        if let Some(role) = section.value("role_arn") {
            let session = section.value("role_session_name").unwrap_or("certinspect");
            if let Some(token_file) = section.value("web_identity_token_file") {
                return self.web_identity(
                    Path::new(token_file),
                    role,
                    session,
                    &format!("profile {name} web identity"),
                );
            }
            let Some(source) = section.value("source_profile") else {
                return Err(CredentialsError::Invalid(format!(
                    "profile {name} has role_arn but no source_profile (credential_source is not supported)"
                )));
            };
            // A profile that names itself as source uses its own static keys.
            let base = if source == name {
                static_keys(name, &section)?.ok_or_else(|| {
                    CredentialsError::Invalid(format!("profile {name} names itself as source_profile but has no keys"))
                })?
            } else {
                self.profile(source, depth + 1)?
            };
            let mut params =
                vec![("RoleArn".to_owned(), role.to_owned()), ("RoleSessionName".to_owned(), session.to_owned())];
            if let Some(external) = section.value("external_id") {
                params.push(("ExternalId".to_owned(), external.to_owned()));
            }
            let region = section.value("region").or(self.env.var("AWS_REGION")).unwrap_or("us-east-1").to_owned();
            let client = self.sts_client(CredentialsProvider::fixed(base.credentials));
            let answer = client
                .query(&STS, &region, "AssumeRole", &params)
                .map_err(|e| sts_failure(&format!("profile {name}: AssumeRole {role}"), &e))?;
            return sts_credentials(&answer, &format!("assume-role via profile {name}"));
        }
        if let Some(command) = section.value("credential_process") {
            return self.process(name, command);
        }
        static_keys(name, &section)?.ok_or_else(|| {
            CredentialsError::Invalid(format!(
                "profile {name} has no aws_access_key_id/aws_secret_access_key, role_arn or credential_process"
            ))
        })
    }

    fn sts_client(&self, credentials: CredentialsProvider) -> Client {
        let endpoints = match &self.settings.sts_endpoint {
            Some(url) => Endpoints::Override(url.clone()),
            None => self.endpoints.clone(),
        };
        Client::new(
            self.host.clone(),
            endpoints,
            credentials,
            RetryPolicy { max_attempts: 3, ..RetryPolicy::default() },
        )
    }

    fn web_identity(
        &self,
        token_file: &Path,
        role: &str,
        session: &str,
        source: &str,
    ) -> Result<Resolved, CredentialsError> {
        let token = std::fs::read_to_string(token_file).map_err(|e| {
            CredentialsError::Invalid(format!("{source}: cannot read the token file {}: {e}", token_file.display()))
        })?;
        let params = vec![
            ("RoleArn".to_owned(), role.to_owned()),
            ("RoleSessionName".to_owned(), session.to_owned()),
            ("WebIdentityToken".to_owned(), token.trim().to_owned()),
        ];
        let region = self.env.var("AWS_REGION").unwrap_or("us-east-1").to_owned();
        let answer = self
            .sts_client(CredentialsProvider::anonymous())
            .query(&STS, &region, "AssumeRoleWithWebIdentity", &params)
            .map_err(|e| sts_failure(&format!("{source}: AssumeRoleWithWebIdentity {role}"), &e))?;
        sts_credentials(&answer, source)
    }

    fn process(&self, profile: &str, command: &str) -> Result<Resolved, CredentialsError> {
        let what = format!("profile {profile}: credential_process");
        let words =
            split_command(command).ok_or_else(|| CredentialsError::Invalid(format!("{what} has an unclosed quote")))?;
        let Some((program, args)) = words.split_first() else {
            return Err(CredentialsError::Invalid(format!("{what} is empty")));
        };
        let output = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| CredentialsError::Failed(format!("{what}: cannot run {program}: {e}")))?;
        if !output.status.success() {
            // Its stderr may be anything, secrets included: say only how it ended.
            return Err(CredentialsError::Failed(format!("{what}: {program} exited with {}", output.status)));
        }
        let answer: ProcessAnswer = serde_json::from_slice(&output.stdout).map_err(|_| {
            CredentialsError::Failed(format!(
                "{what}: {program} did not print the expected JSON (Version, AccessKeyId, SecretAccessKey)"
            ))
        })?;
        if answer.version != 1 {
            return Err(CredentialsError::Failed(format!(
                "{what}: unsupported Version {} (expected 1)",
                answer.version
            )));
        }
        let expires_at_ms = match answer.expiration.as_deref() {
            Some(text) => Some(
                parse_rfc3339_ms(text)
                    .ok_or_else(|| CredentialsError::Failed(format!("{what}: Expiration is not an RFC 3339 time")))?,
            ),
            None => None,
        };
        Ok(Resolved {
            credentials: SigningCredentials {
                access_key_id: answer.access_key_id,
                secret_access_key: answer.secret_access_key,
                session_token: answer.session_token,
            },
            expires_at_ms,
            source: format!("credential_process of profile {profile}"),
        })
    }

    fn container(&self) -> Result<Option<Resolved>, CredentialsError> {
        let url = match (
            self.env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            self.env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        ) {
            (_, Some(relative)) => {
                let base = self.settings.ecs_endpoint.as_deref().unwrap_or(DEFAULT_ECS_HOST).trim_end_matches('/');
                format!("{base}{relative}")
            }
            (Some(full), None) => full.to_owned(),
            (None, None) => return Ok(None),
        };
        let token = match (
            self.env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            self.env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        CredentialsError::Invalid(format!(
                            "container credentials: cannot read the authorization token file {file}: {e}"
                        ))
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, Some(token)) => Some(token.to_owned()),
            (None, None) => None,
        };
        let headers = token.map(|t| vec![("authorization".to_owned(), t)]).unwrap_or_default();
        let body = self.metadata_get(&url, headers, "container credentials endpoint")?;
        metadata_credentials(&body, "container credentials").map(Some)
    }

    fn instance_metadata(&self) -> Result<Resolved, CredentialsError> {
        let base = self
            .settings
            .imds_endpoint
            .as_deref()
            .or(self.env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
            .unwrap_or(DEFAULT_IMDS_ENDPOINT)
            .trim_end_matches('/')
            .to_owned();
        let token_response = self
            .host
            .http(&HttpRequest {
                method: "PUT".into(),
                url: format!("{base}/latest/api/token"),
                headers: vec![("x-aws-ec2-metadata-token-ttl-seconds".into(), "21600".into())],
                body: Vec::new(),
                timeout_ms: Some(2_000),
                ..HttpRequest::default()
            })
            .map_err(|e| {
                CredentialsError::NotFound(format!(
                    "no credentials found, and the instance metadata service did not answer ({})",
                    e.message
                ))
            })?;
        if token_response.status != 200 {
            return Err(CredentialsError::Failed(format!(
                "instance metadata service refused an IMDSv2 session token (HTTP {})",
                token_response.status
            )));
        }
        let token = String::from_utf8_lossy(&token_response.body).trim().to_owned();
        let headers = vec![("x-aws-ec2-metadata-token".to_owned(), token)];
        let roles = self.metadata_get(
            &format!("{base}/latest/meta-data/iam/security-credentials/"),
            headers.clone(),
            "instance metadata service",
        )?;
        let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(CredentialsError::NotFound("the instance has no IAM role attached".into()));
        };
        let body = self.metadata_get(
            &format!("{base}/latest/meta-data/iam/security-credentials/{role}"),
            headers,
            "instance metadata service",
        )?;
        metadata_credentials(&body, &format!("instance role {role}"))
    }

    fn metadata_get(&self, url: &str, headers: Vec<(String, String)>, what: &str) -> Result<String, CredentialsError> {
        let response = self
            .host
            .http(&HttpRequest {
                method: "GET".into(),
                url: url.to_owned(),
                headers,
                body: Vec::new(),
                timeout_ms: Some(5_000),
                ..HttpRequest::default()
            })
            .map_err(|e| CredentialsError::Failed(format!("the {what} did not answer ({})", e.message)))?;
        if response.status != 200 {
            return Err(CredentialsError::Failed(format!("the {what} answered HTTP {}", response.status)));
        }
        String::from_utf8(response.body)
            .map_err(|_| CredentialsError::Failed(format!("the {what} answered something that is not text")))
    }
}

fn sts_failure(what: &str, error: &AwsError) -> CredentialsError {
    CredentialsError::Failed(format!("{what}: {error}"))
}

fn static_keys(profile: &str, section: &Section) -> Result<Option<Resolved>, CredentialsError> {
    match (section.value("aws_access_key_id"), section.value("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(Some(Resolved {
            credentials: SigningCredentials {
                access_key_id: id.to_owned(),
                secret_access_key: secret.to_owned(),
                session_token: section.value("aws_session_token").map(str::to_owned),
            },
            expires_at_ms: None,
            source: format!("profile {profile}"),
        })),
        (Some(_), None) | (None, Some(_)) => Err(CredentialsError::Invalid(format!(
            "profile {profile} has only one of aws_access_key_id and aws_secret_access_key"
        ))),
        (None, None) => Ok(None),
    }
}

#[derive(Deserialize)]
struct StsAnswer {
    #[serde(rename = "AssumeRoleResult", alias = "AssumeRoleWithWebIdentityResult")]
    result: StsResult,
}
#[derive(Deserialize)]
struct StsResult {
    #[serde(rename = "Credentials")]
    credentials: StsCredentials,
}
#[derive(Deserialize)]
struct StsCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken")]
    session_token: String,
    #[serde(rename = "Expiration")]
    expiration: String,
}

/// The temporary credentials of an `AssumeRole` or `AssumeRoleWithWebIdentity` answer.
fn sts_credentials(body: &str, source: &str) -> Result<Resolved, CredentialsError> {
    let answer: StsAnswer = xml::parse("STS", body)
        .map_err(|_| CredentialsError::Failed(format!("{source}: STS answered without credentials")))?;
    let c = answer.result.credentials;
    Ok(Resolved {
        credentials: SigningCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: Some(c.session_token),
        },
        expires_at_ms: parse_rfc3339_ms(&c.expiration),
        source: source.to_owned(),
    })
}

#[derive(Deserialize)]
struct ProcessAnswer {
    #[serde(rename = "Version")]
    version: u32,
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken", default)]
    session_token: Option<String>,
    #[serde(rename = "Expiration", default)]
    expiration: Option<String>,
}

#[derive(Deserialize)]
struct MetadataAnswer {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "Token", default)]
    token: Option<String>,
    #[serde(rename = "Expiration", default)]
    expiration: Option<String>,
}

fn metadata_credentials(body: &str, source: &str) -> Result<Resolved, CredentialsError> {
    let answer: MetadataAnswer = serde_json::from_str(body)
        .map_err(|_| CredentialsError::Failed(format!("{source}: the answer has no AccessKeyId/SecretAccessKey")))?;
    Ok(Resolved {
        credentials: SigningCredentials {
            access_key_id: answer.access_key_id,
            secret_access_key: answer.secret_access_key,
            session_token: answer.token,
        },
        expires_at_ms: answer.expiration.as_deref().and_then(parse_rfc3339_ms),
        source: source.to_owned(),
    })
}

/// RFC 3339 time as UNIX milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// One INI section: keys lower-cased.
type Section = BTreeMap<String, String>;

trait SectionExt {
    fn value(&self, key: &str) -> Option<&str>;
}

impl SectionExt for Section {
    fn value(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

struct Profiles {
    credentials: BTreeMap<String, Section>,
    config: BTreeMap<String, Section>,
}

impl Profiles {
    /// A profile's settings: the credentials file wins over the config file, key by key.
    fn merged(&self, name: &str) -> Option<Section> {
        let from_config = self.config.get(name);
        let from_credentials = self.credentials.get(name);
        if from_config.is_none() && from_credentials.is_none() {
            return None;
        }
        let mut merged = from_config.cloned().unwrap_or_default();
        merged.extend(from_credentials.cloned().unwrap_or_default());
        Some(merged)
    }
}

/// Parses an AWS INI file. In the config file, sections are `[default]` or
/// `[profile NAME]`; in the credentials file `[NAME]`. Indented lines
/// (nested settings such as `s3 =`) and `[sso-session …]`/`[services …]`
/// sections are skipped.
fn parse_ini(text: &str, is_config: bool) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            current = if !is_config {
                Some(header.to_owned())
            } else if header == "default" {
                Some("default".to_owned())
            } else {
                header.strip_prefix("profile ").map(|n| n.trim().to_owned())
            };
            if let Some(name) = &current {
                out.entry(name.clone()).or_default();
            }
            continue;
        }
        if let (Some(name), Some((key, value))) = (&current, line.split_once('=')) {
            out.entry(name.clone()).or_default().insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    out
}

/// Splits a `credential_process` command line into words: whitespace
/// separates, single and double quotes group. `None` on an unclosed quote.
fn split_command(command: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_files_read_profiles_the_aws_way() {
        let config = "[default]\nregion = eu-west-1\n[profile ci]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\ns3 =\n  max_concurrent_requests = 2\n[sso-session x]\nsso_region = us-east-1\n";
        let parsed = parse_ini(config, true);
        assert_eq!(parsed.keys().collect::<Vec<_>>(), ["ci", "default"]);
        assert_eq!(parsed["ci"].value("source_profile"), Some("base"));
        assert_eq!(parsed["ci"].value("max_concurrent_requests"), None);
        let credentials = parse_ini("# c\n[base]\naws_access_key_id = AKIA\naws_secret_access_key = s = t\n", false);
        assert_eq!(credentials["base"].value("aws_secret_access_key"), Some("s = t"));
    }

    #[test]
    fn command_lines_split_on_spaces_and_respect_quotes() {
        let cases: [(&str, Option<&[&str]>); 4] = [
            ("/bin/helper --profile x", Some(&["/bin/helper", "--profile", "x"])),
            ("'/opt/my tool' \"a b\" c", Some(&["/opt/my tool", "a b", "c"])),
            ("  spaced   out ", Some(&["spaced", "out"])),
            ("broken 'quote", None),
        ];
        for (line, want) in cases {
            assert_eq!(split_command(line), want.map(|w| w.iter().map(|s| (*s).to_owned()).collect()), "{line}");
        }
    }
}
