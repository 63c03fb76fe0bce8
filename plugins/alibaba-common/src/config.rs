//! Reading a plugin's configuration section: the settings all three Alibaba
//! plugins share ([`CommonConfig`]), a reader that names the offending field
//! in every error ([`Fields`]), and the JSON Schema fragments the plugins
//! publish (kept next to the reader so the two cannot drift apart).

use std::path::PathBuf;

use alibaba_openapi::SignatureVersion;
use certinspect_sdk::serde_json::{self, json, Map, Value};
use certinspect_sdk::PluginError;

/// A configuration object being read. Every getter records the key as
/// known; [`Fields::finish`] refuses keys nobody asked for, so a typo is an
/// error instead of a silently ignored setting.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
}

impl Fields {
    /// The top-level section. `null` (no section at all) reads as empty.
    pub fn new(config: &Value) -> Result<Self, PluginError> {
        Self::at(config, "")
    }

    fn at(value: &Value, path: &str) -> Result<Self, PluginError> {
        match value {
            Value::Null => Ok(Self { map: Map::new(), path: path.to_owned(), known: Vec::new() }),
            Value::Object(map) => Ok(Self { map: map.clone(), path: path.to_owned(), known: Vec::new() }),
            other => Err(invalid(path, &format!("expected a table, found {}", describe(other)))),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn take(&mut self, key: &'static str) -> Option<Value> {
        self.known.push(key);
        self.map.get(key).cloned()
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A non-empty string.
    pub fn string(&mut self, key: &'static str) -> Result<Option<String>, PluginError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(Value::String(_)) => Err(invalid(&self.name(key), "expected a non-empty string")),
            Some(other) => Err(invalid(&self.name(key), &format!("expected a string, found {}", describe(&other)))),
        }
    }

    /// One of `allowed`.
    pub fn choice(&mut self, key: &'static str, allowed: &[&str]) -> Result<Option<String>, PluginError> {
        let value = self.string(key)?;
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => {
                Err(invalid(&self.name(key), &format!("expected one of {}, found \"{v}\"", allowed.join(", "))))
            }
            other => Ok(other),
        }
    }

    /// An integer in `min..=max`.
    pub fn integer(&mut self, key: &'static str, min: u64, max: u64) -> Result<Option<u64>, PluginError> {
        match self.take(key) {
            None => Ok(None),
            Some(value) => {
                let n = value
                    .as_u64()
                    .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
                match n {
                    Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(invalid(
                        &self.name(key),
                        &format!("expected an integer from {min} to {max}, found {}", describe(&value)),
                    )),
                }
            }
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, PluginError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => {
                Err(invalid(&self.name(key), &format!("expected true or false, found {}", describe(&other))))
            }
        }
    }

    /// A list of non-empty strings, each one of `allowed` when given.
    pub fn strings(&mut self, key: &'static str, allowed: Option<&[&str]>) -> Result<Option<Vec<String>>, PluginError> {
        let Some(value) = self.take(key) else { return Ok(None) };
        let Value::Array(items) = value else {
            return Err(invalid(&self.name(key), &format!("expected a list of strings, found {}", describe(&value))));
        };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let here = format!("{}[{index}]", self.name(key));
            match item.as_str().map(str::trim) {
                Some(s) if !s.is_empty() => {
                    if let Some(allowed) = allowed.filter(|a| !a.contains(&s)) {
                        return Err(invalid(&here, &format!("expected one of {}, found \"{s}\"", allowed.join(", "))));
                    }
                    out.push(s.to_owned());
                }
                _ => return Err(invalid(&here, &format!("expected a non-empty string, found {}", describe(item)))),
            }
        }
        if out.is_empty() {
            return Err(invalid(&self.name(key), "expected at least one entry"));
        }
        Ok(Some(out))
    }

    /// A nested table.
    pub fn table(&mut self, key: &'static str) -> Result<Option<Fields>, PluginError> {
        match self.take(key) {
            None => Ok(None),
            Some(value) => Self::at(&value, &self.name(key)).map(Some),
        }
    }

    /// A table of `name = number` pairs (numbers >= 0).
    pub fn numbers(&mut self, key: &'static str) -> Result<Vec<(String, f64)>, PluginError> {
        let Some(value) = self.take(key) else { return Ok(Vec::new()) };
        let Value::Object(map) = value else {
            return Err(invalid(&self.name(key), &format!("expected a table, found {}", describe(&value))));
        };
        let mut out = Vec::new();
        for (name, number) in &map {
            match number.as_f64() {
                Some(n) if n.is_finite() && n >= 0.0 => out.push((name.clone(), n)),
                _ => {
                    return Err(invalid(
                        &format!("{}.{name}", self.name(key)),
                        &format!("expected a number >= 0, found {}", describe(number)),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Refuses keys that no getter asked for.
    pub fn finish(self) -> Result<(), PluginError> {
        let mut known = self.known.clone();
        known.sort_unstable();
        known.dedup();
        match self.map.keys().find(|key| !known.contains(&key.as_str())) {
            None => Ok(()),
            Some(key) => {
                Err(invalid(&self.name(key), &format!("unknown setting; expected one of: {}", known.join(", "))))
            }
        }
    }
}

/// `field: message` as an invalid-configuration error.
pub fn invalid(field: &str, message: &str) -> PluginError {
    if field.is_empty() {
        PluginError::invalid_config(message.to_owned())
    } else {
        PluginError::invalid_config(format!("{field}: {message}"))
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "a table".into(),
        Value::Array(_) => "a list".into(),
        Value::String(s) => format!("string \"{s}\""),
        other => other.to_string(),
    }
}

/// Where credentials come from. Secrets never appear in the configuration;
/// it only says where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSetting {
    /// The official default chain (environment, `~/.aliyun/config.json`,
    /// `~/.alibabacloud/credentials.ini`, ECS RAM role, credentials URI).
    DefaultChain,
    /// A named profile of `~/.aliyun/config.json` or of the credentials INI
    /// file; `file` names the INI file (and then only it is read).
    Profile {
        /// Profile (CLI) or section (INI) name.
        name: String,
        /// An INI credentials file, instead of the default locations.
        file: Option<PathBuf>,
    },
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN` only.
    Env,
    /// The RAM role of the ECS instance, from the metadata service.
    EcsRamRole(String),
}

/// Settings shared by the CDN, SLB and CAS plugins.
#[derive(Debug, Clone, PartialEq)]
pub struct CommonConfig {
    /// Where credentials come from.
    pub credentials: CredentialsSetting,
    /// Label for `Location::account` (the credentials' profile name by default).
    pub account: String,
    /// A full base URL replacing endpoint resolution (`http://127.0.0.1:8080` in tests).
    pub endpoint: Option<String>,
    /// V3 (default) or V1 signatures.
    pub signature_version: SignatureVersion,
    /// Per-API QPS overrides; 0 lifts the limit.
    pub rate_limits: Vec<(String, f64)>,
    /// STS endpoint override (RAM-role profiles).
    pub sts_endpoint: Option<String>,
    /// ECS metadata endpoint override.
    pub ecs_metadata_endpoint: Option<String>,
    /// Per-request timeout handed to the host transport.
    pub request_timeout_ms: u64,
    /// Attempts per API call, the first included.
    pub max_attempts: u32,
    /// Time budget for retrying one API call.
    pub max_retry_seconds: u64,
}

/// Settings every plugin reads, in the order the schema lists them.
pub const COMMON_KEYS: &[&str] = &[
    "credentials",
    "account",
    "endpoint",
    "signature_version",
    "rate_limits",
    "credential_endpoints",
    "request_timeout_ms",
    "max_attempts",
    "max_retry_seconds",
];

impl CommonConfig {
    /// Reads the shared settings from `fields`; `apis` are the API names the
    /// plugin calls (the only keys `rate_limits` accepts).
    pub fn read(fields: &mut Fields, apis: &[&str]) -> Result<Self, PluginError> {
        let credentials = match fields.table("credentials")? {
            None => CredentialsSetting::DefaultChain,
            Some(mut table) => {
                let profile = table.string("profile")?;
                let file = table.string("credentials_file")?;
                let env = table.boolean("env")?;
                let role = table.string("ecs_ram_role")?;
                table.finish()?;
                let chosen = [profile.is_some(), env == Some(true), role.is_some()].iter().filter(|b| **b).count();
                let setting = match (profile, env, role) {
                    _ if chosen > 1 => {
                        return Err(invalid("credentials", "expected exactly one of profile, env, ecs_ram_role"))
                    }
                    (Some(name), _, _) => CredentialsSetting::Profile { name, file: file.clone().map(PathBuf::from) },
                    (None, Some(true), None) => CredentialsSetting::Env,
                    (None, _, Some(role)) => CredentialsSetting::EcsRamRole(role),
                    _ => return Err(invalid("credentials", "expected one of profile, env = true, ecs_ram_role")),
                };
                if file.is_some() && !matches!(setting, CredentialsSetting::Profile { .. }) {
                    return Err(invalid("credentials.credentials_file", "only goes with credentials.profile"));
                }
                setting
            }
        };
        let account = fields.string("account")?.unwrap_or_else(|| match &credentials {
            CredentialsSetting::Profile { name, .. } => name.clone(),
            CredentialsSetting::Env => "env".into(),
            CredentialsSetting::EcsRamRole(role) => format!("ecs:{role}"),
            CredentialsSetting::DefaultChain => "default".into(),
        });
        let endpoint = fields.string("endpoint")?;
        if let Some(url) = &endpoint {
            check_base_url("endpoint", url)?;
        }
        let signature_version = match fields.choice("signature_version", &["v3", "v1"])?.as_deref() {
            Some("v1") => SignatureVersion::V1,
            _ => SignatureVersion::V3,
        };
        let rate_limits = fields.numbers("rate_limits")?;
        if let Some((api, _)) = rate_limits.iter().find(|(api, _)| !apis.contains(&api.as_str())) {
            return Err(invalid(
                &format!("rate_limits.{api}"),
                &format!("unknown API; expected one of: {}", apis.join(", ")),
            ));
        }
        let (mut sts_endpoint, mut ecs_metadata_endpoint) = (None, None);
        if let Some(mut table) = fields.table("credential_endpoints")? {
            sts_endpoint = table.string("sts")?;
            ecs_metadata_endpoint = table.string("ecs_metadata")?;
            table.finish()?;
            for (name, url) in [("sts", &sts_endpoint), ("ecs_metadata", &ecs_metadata_endpoint)] {
                if let Some(url) = url {
                    check_base_url(&format!("credential_endpoints.{name}"), url)?;
                }
            }
        }
        let request_timeout_ms = fields.integer("request_timeout_ms", 100, 300_000)?.unwrap_or(30_000);
        let max_attempts = fields.integer("max_attempts", 1, 20)?.unwrap_or(6) as u32;
        let max_retry_seconds = fields.integer("max_retry_seconds", 0, 3600)?.unwrap_or(60);
        Ok(Self {
            credentials,
            account,
            endpoint,
            signature_version,
            rate_limits,
            sts_endpoint,
            ecs_metadata_endpoint,
            request_timeout_ms,
            max_attempts,
            max_retry_seconds,
        })
    }
}

/// `scheme://host[:port]`, nothing after.
fn check_base_url(field: &str, url: &str) -> Result<(), PluginError> {
    let expected =
        "expected a full URL like https://cas.aliyuncs.com or http://127.0.0.1:8080 (scheme and host, no path)";
    let Some((scheme, rest)) = url.split_once("://") else { return Err(invalid(field, expected)) };
    let rest = rest.trim_end_matches('/');
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(invalid(field, &format!("{expected}, found \"{url}\"")));
    }
    Ok(())
}

/// The JSON Schema of a plugin's section: the shared settings plus the
/// plugin's own `properties`. Stays within the subset the host validates
/// (type, properties, required, additionalProperties, items, enum,
/// minimum/maximum, minLength, oneOf).
pub fn schema(title: &str, own_properties: Value, apis: &[&str]) -> Value {
    let api_limits: Map<String, Value> =
        apis.iter().map(|api| ((*api).to_owned(), json!({ "type": "number", "minimum": 0 }))).collect();
    let mut properties = json!({
        "credentials": {
            "description": "Where credentials come from (never the secrets themselves). Absent: the official default chain.",
            "type": "object",
            "properties": {
                "profile": { "type": "string", "minLength": 1, "description": "Profile in ~/.aliyun/config.json or section of the credentials INI file." },
                "credentials_file": { "type": "string", "minLength": 1, "description": "INI credentials file to read the profile from (instead of the default locations)." },
                "env": { "type": "boolean", "enum": [true], "description": "Use ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN." },
                "ecs_ram_role": { "type": "string", "minLength": 1, "description": "RAM role of the ECS instance (metadata service)." }
            },
            "oneOf": [
                { "required": ["profile"] },
                { "required": ["env"] },
                { "required": ["ecs_ram_role"] }
            ],
            "additionalProperties": false
        },
        "account": { "type": "string", "minLength": 1, "description": "Label reported as the binding's account (default: the profile name)." },
        "endpoint": { "type": "string", "minLength": 1, "description": "Base URL replacing endpoint resolution, e.g. http://127.0.0.1:8080." },
        "signature_version": { "type": "string", "enum": ["v3", "v1"], "description": "Request signature: v3 (ACS3-HMAC-SHA256, default) or v1 (HMAC-SHA1)." },
        "rate_limits": {
            "type": "object",
            "description": "Calls per second per API, replacing the built-in limits; 0 lifts a limit.",
            "properties": Value::Object(api_limits),
            "additionalProperties": false
        },
        "credential_endpoints": {
            "type": "object",
            "properties": {
                "sts": { "type": "string", "minLength": 1 },
                "ecs_metadata": { "type": "string", "minLength": 1 }
            },
            "additionalProperties": false
        },
        "request_timeout_ms": { "type": "integer", "minimum": 100, "maximum": 300000 },
        "max_attempts": { "type": "integer", "minimum": 1, "maximum": 20 },
        "max_retry_seconds": { "type": "integer", "minimum": 0, "maximum": 3600 }
    });
    if let (Some(all), Value::Object(own)) = (properties.as_object_mut(), own_properties) {
        all.extend(own);
    }
    json!({
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

/// Re-exported for plugins that build their own schema fragments.
pub use serde_json::json as schema_json;

#[cfg(test)]
mod tests {
    use super::*;

    const APIS: &[&str] = &["ListUserCertificateOrder"];

    fn read(config: Value) -> Result<CommonConfig, String> {
        let mut fields = Fields::new(&config).map_err(|e| e.message)?;
        let common = CommonConfig::read(&mut fields, APIS).map_err(|e| e.message)?;
        fields.finish().map_err(|e| e.message)?;
        Ok(common)
    }

    #[test]
    fn defaults_and_labels() {
        let c = read(Value::Null).unwrap();
        assert_eq!(c.credentials, CredentialsSetting::DefaultChain);
        assert_eq!(c.account, "default");
        assert_eq!(c.signature_version, SignatureVersion::V3);
        let c = read(json!({"credentials": {"profile": "prod"}, "signature_version": "v1"})).unwrap();
        assert_eq!(c.account, "prod");
        assert_eq!(c.signature_version, SignatureVersion::V1);
    }

    #[test]
    fn errors_name_the_field_and_what_was_expected() {
        let cases = [
            (json!({"credentials": {"profile": "a", "env": true}}), "credentials: expected exactly one of"),
            (json!({"credentials": {"secret": "x"}}), "credentials.secret: unknown setting"),
            (json!({"endpoint": "127.0.0.1:80"}), "endpoint: expected a full URL"),
            (json!({"endpoint": "http://h/path"}), "endpoint: expected a full URL"),
            (json!({"signature_version": "v2"}), "signature_version: expected one of v3, v1"),
            (json!({"rate_limits": {"Nope": 1}}), "rate_limits.Nope: unknown API"),
            (
                json!({"rate_limits": {"ListUserCertificateOrder": -1}}),
                "rate_limits.ListUserCertificateOrder: expected a number >= 0",
            ),
            (json!({"max_attempts": 0}), "max_attempts: expected an integer from 1 to 20"),
            (json!({"zone": 1}), "zone: unknown setting"),
            (json!([]), "expected a table"),
        ];
        for (config, expected) in cases {
            let error = read(config.clone()).unwrap_err();
            assert!(error.starts_with(expected), "{config}: {error}");
        }
    }

    #[test]
    fn the_schema_agrees_with_the_reader_on_the_shared_keys() {
        let schema = schema("t", json!({}), APIS);
        let keys: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = COMMON_KEYS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
    }
}
