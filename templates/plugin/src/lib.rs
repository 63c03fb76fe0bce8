//! An example certificate-source plugin: the template to copy.
//!
//! It reads a small inventory over HTTP — through the host's transport, the
//! only network path a plugin has — from the URL in its configuration, and
//! turns each line `host:port` into a binding. What it shows:
//! - [`PluginInfo`] and every binding built with constructors and `with_*`
//!   methods (the contract's types grow; struct literals would not compile
//!   against a newer SDK);
//! - configuration read into a typed struct with `certinspect_sdk::config`,
//!   so bad settings are refused naming the field;
//! - transport errors turned into plugin errors with `?`;
//! - the location's plugin name left to the host, which fills it in.

use certinspect_sdk::serde::Deserialize;
use certinspect_sdk::serde_json::{self, json};
use certinspect_sdk::{
    capability, config, export_plugin, Binding, DeclaredCertificate, Endpoint, Host, HttpRequest, Location, LogLevel,
    Page, PluginError, PluginInfo, Provider, Scope, Source,
};

/// The plugin's configuration section.
#[derive(Deserialize)]
#[serde(crate = "certinspect_sdk::serde", deny_unknown_fields)]
struct Settings {
    /// URL of the `host:port` list.
    inventory_url: String,
}

struct ExampleProvider;

impl Provider for ExampleProvider {
    fn info() -> PluginInfo {
        PluginInfo::new("example-inventory", env!("CARGO_PKG_VERSION"))
            .with_description("Reads host:port lines from an inventory URL")
            .with_provider("example", ["inventory"])
            .with_capability(capability::INVENTORY)
            .with_config_schema(json!({
                "type": "object",
                "properties": { "inventory_url": { "type": "string", "description": "URL of the host:port list" } },
                "required": ["inventory_url"],
                "additionalProperties": false
            }))
    }

    fn open(config: serde_json::Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings: Settings = config::parse(&config)?;
        Ok(Box::new(ExampleSource { url: settings.inventory_url, host }))
    }
}

struct ExampleSource {
    url: String,
    host: Host,
}

impl Source for ExampleSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(vec![Scope::new("inventory", self.url.clone())])
    }

    fn list_page(&self, _scope: &str, _cursor: Option<&str>) -> Result<Page, PluginError> {
        let request = HttpRequest { method: "GET".into(), url: self.url.clone(), ..HttpRequest::default() };
        let response = self.host.http(&request)?;
        self.host.log(LogLevel::Debug, "example", &format!("inventory answered {}", response.status));
        let text = String::from_utf8_lossy(&response.body);
        let bindings = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (host, port) = line.rsplit_once(':').unwrap_or((line, "443"));
                let endpoint = Endpoint::new(host, port.parse().unwrap_or(443)).with_sni(host);
                let location = Location::new("inventory", line).with_endpoint(endpoint);
                // The inventory says nothing about the certificate: the
                // probe finds out what is served.
                Binding::new(location, DeclaredCertificate::default())
            })
            .collect();
        Ok(Page::last(bindings))
    }
}

export_plugin!(ExampleProvider);
