//! Test provider `alpha`: an ordinary library crate, so it can be linked into
//! a binary next to other providers. Its `cdylib` export lives in
//! `static-provider-alpha-dylib`, the only crate that calls `export_plugin!`.

use certinspect_sdk::serde_json;
use certinspect_sdk::{
    capability, Binding, DeclaredCertificate, Host, Location, Page, PluginError, PluginInfo, Provider, Scope, Source,
};

/// The `alpha` test provider: one scope, one binding per page, two pages;
/// with `{"warning": TEXT}`, the second page carries TEXT as a warning.
#[derive(Debug)]
pub struct Alpha;

impl Provider for Alpha {
    fn info() -> PluginInfo {
        PluginInfo::new("test-alpha", env!("CARGO_PKG_VERSION"))
            .with_description("Test provider alpha")
            .with_provider("test", ["alpha"])
            .with_capability(capability::INVENTORY)
            .with_config_schema(serde_json::json!({"type": "object", "properties": {"warning": {"type": "string"}}}))
    }

    fn open(config: serde_json::Value, _host: Host) -> Result<Box<dyn Source>, PluginError> {
        let warning = config.get("warning").and_then(|w| w.as_str()).map(str::to_owned);
        Ok(Box::new(AlphaSource { warning }))
    }
}

struct AlphaSource {
    warning: Option<String>,
}

impl Source for AlphaSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(vec![Scope::new("only", "alpha scope")])
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let (index, next) = match cursor {
            None => (1, Some("2".to_owned())),
            Some("2") => (2, None),
            Some(other) => return Err(PluginError::protocol(format!("unknown cursor {other}"))),
        };
        // The location names no plugin: the host fills that in.
        let location = Location::new("alpha", format!("{scope}-{index}"));
        let page = Page::new(vec![Binding::new(location, DeclaredCertificate::default())], next);
        Ok(match (&self.warning, index) {
            (Some(warning), 2) => page.with_warnings(vec![warning.clone()]),
            _ => page,
        })
    }
}
