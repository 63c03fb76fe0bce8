//! Test provider `beta`: an ordinary library crate, so it can be linked into
//! a binary next to other providers. Its `cdylib` export lives in
//! `static-provider-beta-dylib`, the only crate that calls `export_plugin!`.

use certinspect_sdk::serde_json;
use certinspect_sdk::{
    capability, normalize_serial, Binding, DeclaredCertificate, Host, Location, Page, PluginError, PluginInfo,
    Provider, RevocationState, RevocationStatus, Scope, Source,
};

/// The `beta` test provider: one scope, one binding per page, two pages.
#[derive(Debug)]
pub struct Beta;

impl Provider for Beta {
    fn info() -> PluginInfo {
        PluginInfo::new("test-beta", env!("CARGO_PKG_VERSION"))
            .with_description("Test provider beta")
            .with_provider("test", ["beta"])
            .with_capability(capability::INVENTORY)
            .with_capability(capability::REVOCATION_LOOKUP)
            .with_config_schema(serde_json::json!({
                "type": "object",
                "properties": { "revoked": { "type": "array", "items": { "type": "string" } } }
            }))
    }

    fn open(config: serde_json::Value, _host: Host) -> Result<Box<dyn Source>, PluginError> {
        let revoked = match config.get("revoked") {
            None => Vec::new(),
            Some(list) => serde_json::from_value::<Vec<String>>(list.clone())
                .map_err(|_| PluginError::invalid_config("revoked: expected a list of serial numbers"))?,
        };
        Ok(Box::new(BetaSource { revoked: revoked.iter().map(|s| normalize_serial(s)).collect() }))
    }
}

/// Also answers revocation lookups: the serials in its `revoked` setting are
/// revoked, every other serial is good.
struct BetaSource {
    revoked: Vec<String>,
}

impl Source for BetaSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(vec![Scope::new("only", "beta scope")])
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let (index, next) = match cursor {
            None => (1, Some("2".to_owned())),
            Some("2") => (2, None),
            Some(other) => return Err(PluginError::protocol(format!("unknown cursor {other}"))),
        };
        // The location names no plugin: the host fills that in.
        let location = Location::new("beta", format!("{scope}-{index}"));
        Ok(Page::new(vec![Binding::new(location, DeclaredCertificate::default())], next))
    }

    fn lookup_revocation(&self, serials: &[String]) -> Result<Vec<RevocationStatus>, PluginError> {
        Ok(serials
            .iter()
            .map(|serial| {
                let revoked = self.revoked.contains(&normalize_serial(serial));
                let status = if revoked { RevocationState::Revoked } else { RevocationState::Good };
                let mut answer = RevocationStatus::new(serial.clone(), status);
                answer.revoked_at = revoked.then_some(1_700_000_000);
                answer
            })
            .collect())
    }
}
