//! Test provider `alpha`: an ordinary library crate, so it can be linked into
//! a binary next to other providers. Its `cdylib` export lives in
//! `static-provider-alpha-dylib`, the only crate that calls `export_plugin!`.

use certinspect_sdk::serde_json;
use certinspect_sdk::{
    capability, Binding, Host, Location, Page, PluginError, PluginInfo, Provider, Scope, Source, PROTOCOL_VERSION,
};

/// The `alpha` test provider: one scope, one binding per page, two pages.
#[derive(Debug)]
pub struct Alpha;

impl Provider for Alpha {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "test-alpha".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol_version: PROTOCOL_VERSION,
            description: "Test provider alpha".into(),
            provider: "test".into(),
            services: vec!["alpha".into()],
            capabilities: vec![capability::INVENTORY.into()],
            config_schema: serde_json::json!({"type": "object", "properties": {}}),
            rate_limits: vec![],
        }
    }

    fn open(_config: serde_json::Value, _host: Host) -> Result<Box<dyn Source>, PluginError> {
        Ok(Box::new(AlphaSource))
    }
}

struct AlphaSource;

impl Source for AlphaSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(vec![Scope { id: "only".into(), label: "alpha scope".into() }])
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let (index, next) = match cursor {
            None => (1, Some("2".to_owned())),
            Some("2") => (2, None),
            Some(other) => return Err(PluginError::protocol(format!("unknown cursor {other}"))),
        };
        let binding = Binding {
            location: Location {
                provider: "test-alpha".into(),
                service: "alpha".into(),
                resource_id: format!("{scope}-{index}"),
                ..Location::default()
            },
            ..Binding::default()
        };
        Ok(Page { bindings: vec![binding], next_cursor: next, warnings: vec![] })
    }
}
