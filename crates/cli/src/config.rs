//! The `inspect` configuration file (TOML), with errors that name the file,
//! the line and what was expected.

use std::path::{Path, PathBuf};

use certinspect_core::plugins::isolated::DEFAULT_MEMORY_LIMIT;
use certinspect_core::plugins::{AdmissionPolicy, Isolation, PluginRegistry};
use certinspect_core::scan::{check_sources, OpenError, SourceSpec};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Certificate sources: one plugin each, with its settings.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// How endpoints are verified.
    #[serde(default)]
    pub verify: VerifySettings,
    /// Extra plugin directories.
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    /// How plugin libraries run.
    #[serde(default)]
    pub plugins: PluginSettings,
    /// What the outputs carry beyond the report.
    #[serde(default)]
    pub output: OutputSettings,
}

/// `[plugins]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Where plugin libraries run unless their source says: `process`
    /// (a child process each, the default) or `in-process`. Built-in
    /// providers run in-process unless their source says otherwise.
    pub isolation: IsolationSetting,
    /// Address-space cap of a plugin process, MiB.
    pub memory_limit_mib: u64,
    /// Refuse plugin libraries that users other than their owner or root
    /// can replace (the file or a directory on its path). `false` is the
    /// explicit opt-out.
    pub check_permissions: bool,
    /// When given, only libraries with these SHA-256 pins
    /// (`"sha256:<64 hex digits>"`, as `inspect plugins` shows) load.
    pub allow: Option<Vec<String>>,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            isolation: IsolationSetting::Process,
            memory_limit_mib: DEFAULT_MEMORY_LIMIT >> 20,
            check_permissions: true,
            allow: None,
        }
    }
}

/// `isolation = "process" | "in-process"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationSetting {
    /// A child process per source.
    Process,
    /// Inside `inspect`.
    InProcess,
}

impl From<IsolationSetting> for Isolation {
    fn from(setting: IsolationSetting) -> Self {
        match setting {
            IsolationSetting::Process => Isolation::Process,
            IsolationSetting::InProcess => Isolation::InProcess,
        }
    }
}

/// `[output]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    /// Resource tags that become Prometheus labels (`tag_<key>`) and table
    /// and CSV columns (`tag:<key>`), so alerts route to whoever owns the
    /// certificate.
    #[serde(default)]
    pub labels_from_tags: Vec<String>,
}

/// `[[source]]`: a plugin and its configuration section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Plugin name, as `inspect plugins` lists it.
    pub plugin: Spanned<String>,
    /// The plugin's settings, validated against the schema it publishes.
    #[serde(default)]
    pub config: toml::Table,
    /// Where this source's plugin runs (overrides `[plugins] isolation`).
    #[serde(default)]
    pub isolation: Option<IsolationSetting>,
}

/// `[verify]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySettings {
    /// Warn when fewer days remain.
    pub warn_days: u32,
    /// Critical when fewer days remain.
    pub critical_days: u32,
    /// Warn when less than this fraction of the lifetime remains.
    pub warn_fraction: f64,
    /// Trust roots: `mozilla` (built in), `system`, or `none` (only `ca_file`).
    pub trust: TrustSetting,
    /// Extra trusted roots (PEM), added to `trust`.
    pub ca_file: Option<PathBuf>,
    /// TCP connect timeout, seconds.
    pub connect_timeout_secs: f64,
    /// TLS handshake timeout, seconds.
    pub handshake_timeout_secs: f64,
    /// Deadline for all probing, seconds (0: none).
    pub deadline_secs: f64,
    /// Endpoints probed at once.
    pub concurrency: usize,
    /// Connections to one address at once.
    pub per_address_concurrency: usize,
    /// Probe every address of a name, not just the first that answers.
    pub all_addresses: bool,
    /// Deadline for one plugin call, seconds.
    pub plugin_call_timeout_secs: f64,
    /// `HOST:PORT:ADDRESS:PORT` connection overrides (curl's `--connect-to`).
    pub connect_to: Vec<String>,
    /// Fetch what certificates point at (the issuer named by an AIA URL).
    pub fetch: bool,
    /// A name found only in the legacy subject CN: `reject` (as browsers
    /// do) or `accept` (old private PKIs).
    pub legacy_cn: LegacyCnSetting,
}

/// `[verify] legacy_cn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegacyCnSetting {
    /// A CN-only name is a mismatch.
    #[default]
    Reject,
    /// A CN-only name matches (reported as `name-legacy-cn-only`).
    Accept,
}

/// Where trust anchors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TrustSetting {
    /// Mozilla's root program (built in).
    Mozilla,
    /// The operating system's store.
    System,
    /// No built-in roots: only the roots in `ca_file`.
    None,
}

impl Default for VerifySettings {
    fn default() -> Self {
        Self {
            warn_days: 30,
            critical_days: 7,
            warn_fraction: 0.1,
            trust: TrustSetting::Mozilla,
            ca_file: None,
            connect_timeout_secs: 5.0,
            handshake_timeout_secs: 10.0,
            deadline_secs: 0.0,
            concurrency: 64,
            per_address_concurrency: 8,
            all_addresses: false,
            plugin_call_timeout_secs: 120.0,
            connect_to: Vec::new(),
            fetch: true,
            legacy_cn: LegacyCnSetting::Reject,
        }
    }
}

/// A configuration problem: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A loaded configuration and the text it came from (for positions).
#[derive(Debug)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    text: String,
    /// The parsed file.
    pub file: ConfigFile,
}

impl Config {
    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            position: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Self::parse(path, text)
    }

    /// Parse `text` as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let position = e.span().map(|span| line_column(&text, span.start));
            ConfigError { file: path.to_owned(), position, message: e.message().trim().to_owned() }
        })?;
        let config = Self { path: path.to_owned(), text, file };
        config.check_settings()?;
        Ok(config)
    }

    fn check_settings(&self) -> Result<(), ConfigError> {
        let verify = &self.file.verify;
        let positive = [
            ("connect_timeout_secs", verify.connect_timeout_secs),
            ("handshake_timeout_secs", verify.handshake_timeout_secs),
            ("plugin_call_timeout_secs", verify.plugin_call_timeout_secs),
        ];
        for (name, value) in positive {
            if value.is_nan() || value <= 0.0 {
                return Err(self.error_at(&["verify", name], &format!("{name}: expected a positive number of seconds")));
            }
        }
        if verify.critical_days > verify.warn_days {
            return Err(self.error_at(&["verify", "critical_days"], "critical_days: expected at most warn_days"));
        }
        if !(0.0..=1.0).contains(&verify.warn_fraction) {
            return Err(self.error_at(&["verify", "warn_fraction"], "warn_fraction: expected a number from 0 to 1"));
        }
        let plugins = &self.file.plugins;
        if plugins.memory_limit_mib == 0 {
            return Err(self.error_at(&["plugins", "memory_limit_mib"], "memory_limit_mib: expected a positive number"));
        }
        for (index, pin) in plugins.allow.iter().flatten().enumerate() {
            if let Err(message) = AdmissionPolicy::parse_pin(pin) {
                return Err(self.error_at(&["plugins", "allow", &index.to_string()], &format!("allow: {message}")));
            }
        }
        let mut labels = std::collections::BTreeMap::new();
        for (index, key) in self.file.output.labels_from_tags.iter().enumerate() {
            let label = certinspect_render::tag_label_name(key);
            if let Some(other) = labels.insert(label.clone(), key) {
                return Err(self.error_at(
                    &["output", "labels_from_tags", &index.to_string()],
                    &format!("labels_from_tags: '{key}' and '{other}' would both become the label {label}; expected keys that stay apart"),
                ));
            }
        }
        for (index, route) in verify.connect_to.iter().enumerate() {
            if let Err(message) = route.parse::<certinspect_core::verify::ConnectTo>() {
                return Err(
                    self.error_at(&["verify", "connect_to", &index.to_string()], &format!("connect_to: {message}"))
                );
            }
        }
        Ok(())
    }

    /// Which plugin libraries may load, from `[plugins]`.
    pub fn admission_policy(&self) -> AdmissionPolicy {
        let plugins = &self.file.plugins;
        let mut policy = AdmissionPolicy::default();
        policy.check_permissions = plugins.check_permissions;
        policy.allow = plugins
            .allow
            .as_ref()
            .map(|pins| pins.iter().filter_map(|pin| AdmissionPolicy::parse_pin(pin).ok()).collect());
        policy
    }

    /// Check every source against the loaded plugins (the engine's
    /// [`check_sources`]), each problem placed in the file.
    pub fn check_sources(&self, registry: &PluginRegistry) -> Vec<ConfigError> {
        check_sources(registry, &self.source_specs()).iter().flat_map(|error| self.locate(error)).collect()
    }

    /// Each source's settings as JSON, for the plugin's `open`.
    pub fn source_settings(&self, index: usize) -> serde_json::Value {
        toml_to_json(&toml::Value::Table(self.file.sources[index].config.clone()))
    }

    /// The sources as the engine takes them.
    pub fn source_specs(&self) -> Vec<SourceSpec> {
        (0..self.file.sources.len())
            .map(|index| {
                let source = &self.file.sources[index];
                let spec = SourceSpec::new(source.plugin.get_ref().clone(), self.source_settings(index));
                match source.isolation {
                    Some(isolation) => spec.with_isolation(isolation.into()),
                    None => spec,
                }
            })
            .collect()
    }

    /// An engine error about the sources, placed in the file: one error per
    /// problem, at the value it is about.
    pub fn locate(&self, error: &OpenError) -> Vec<ConfigError> {
        match error {
            OpenError::Isolation { index, .. } => {
                vec![self.error_at(&["source", &index.to_string(), "isolation"], &error.to_string())]
            }
            OpenError::UnknownPlugin { index, .. } => vec![ConfigError {
                file: self.path.clone(),
                position: Some(line_column(&self.text, self.file.sources[*index].plugin.span().start)),
                message: error.to_string(),
            }],
            OpenError::InvalidConfig { index, plugin, problems } => problems
                .iter()
                .map(|problem| {
                    let mut path = vec!["source".to_owned(), index.to_string(), "config".to_owned()];
                    path.extend(problem.path.iter().cloned());
                    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                    let what = if problem.path.is_empty() {
                        problem.message.clone()
                    } else {
                        format!("config.{}", problem.message)
                    };
                    self.error_at(&segments, &format!("[[source]] '{plugin}': {what}"))
                })
                .collect(),
            other => vec![ConfigError { file: self.path.clone(), position: None, message: other.to_string() }],
        }
    }

    /// An error positioned at the value found by `path` (keys and array
    /// indices), or at the nearest enclosing value that exists.
    fn error_at(&self, path: &[&str], message: &str) -> ConfigError {
        ConfigError { file: self.path.clone(), position: self.position_of(path), message: message.to_owned() }
    }

    fn position_of(&self, path: &[&str]) -> Option<(usize, usize)> {
        let root = DeTable::parse(&self.text).ok()?;
        let mut span = None;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
        for segment in path {
            let next = if let Some(t) = table {
                t.iter().find(|(key, _)| key.get_ref().as_ref() == *segment).map(|(_, value)| value)
            } else if let (Some(items), Ok(index)) = (array, segment.parse::<usize>()) {
                items.get(index)
            } else {
                None
            };
            let Some(value) = next else { break };
            span = Some(value.span());
            (table, array) = match value.get_ref() {
                DeValue::Table(t) => (Some(t), None),
                DeValue::Array(a) => (None, Some(&a[..])),
                _ => (None, None),
            };
        }
        span.map(|s| line_column(&self.text, s.start))
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// TOML to JSON: datetimes become their RFC 3339 text.
pub fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => serde_json::Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => {
            serde_json::Value::Object(table.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("inspect.toml"), text.to_owned())
    }

    #[test]
    fn a_valid_file_parses_with_defaults() {
        let config = parse("[[source]]\nplugin = \"p\"\n[source.config]\nregions = [\"a\"]\n").unwrap();
        assert_eq!(config.file.sources.len(), 1);
        assert_eq!(config.source_settings(0), serde_json::json!({"regions": ["a"]}));
        assert_eq!(config.file.verify.warn_days, 30);
    }

    #[test]
    fn a_bad_line_names_file_line_and_expectation() {
        let err = parse("[verify]\nwarn_days = \"soon\"\n").unwrap_err();
        assert_eq!(err.position, Some((2, 13)));
        assert!(err.to_string().starts_with("inspect.toml:2:13: invalid type: string \"soon\", expected u32"), "{err}");

        let err = parse("[verify]\nwarn_dayz = 3\n").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(2));
        assert!(err.message.contains("unknown field `warn_dayz`"), "{err}");

        let err = parse("[verify]\nconnect_to = [\"a:443:127.0.0.1:1\", \"nonsense\"]\n").unwrap_err();
        assert_eq!(err.position, Some((2, 36)));
        assert!(err.message.contains("expected HOST:PORT:ADDRESS:PORT"), "{err}");

        let err = parse("[verify]\nwarn_days = 3\ncritical_days = 9\n").unwrap_err();
        assert_eq!(err.to_string(), "inspect.toml:3:17: critical_days: expected at most warn_days");
    }

    #[test]
    fn tag_labels_must_stay_apart() {
        let config = parse("[output]\nlabels_from_tags = [\"owner\", \"cost-center\"]\n").unwrap();
        assert_eq!(config.file.output.labels_from_tags, ["owner", "cost-center"]);
        let err = parse("[output]\nlabels_from_tags = [\"cost-center\", \"cost_center\"]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "inspect.toml:2:36: labels_from_tags: 'cost_center' and 'cost-center' would both become the label \
             tag_cost_center; expected keys that stay apart"
        );
        let err = parse("[output]\nlabels = [\"owner\"]\n").unwrap_err();
        assert!(err.message.contains("unknown field `labels`"), "{err}");
    }
}
