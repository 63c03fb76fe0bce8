//! The `alibaba-cdn` certinspect provider: every HTTPS-enabled Alibaba Cloud
//! CDN domain of an account, with the certificate CDN says it serves
//! (`DescribeCdnHttpsDomainList`, 2018-05-10).
//!
//! One binding per domain: endpoint `DomainName:443` with SNI = the domain;
//! the declared certificate's name, common name, validity (CDN date strings
//! carry no zone: read in the configured `cdn_time_zone`, UTC+8 by
//! default), `CertStatus` as `provider_status` and `CertType` in `extra`.
//! CDN knows no fingerprint or serial; a `cas` certificate gets the
//! cross-reference `cas-certificate-name`, through which the core fills
//! those in from the `alibaba-cas` plugin. Wildcard domains are probed under
//! `wildcard_probe_label` when configured, else reported as not probeable —
//! never dropped.
//!
//! What it is not: an exporter (the `cdylib` is
//! `certinspect-alibaba-cdn-dylib`), a prober, or a client of its own: all
//! calls go through `alibaba-openapi` over the host's transport.

use std::sync::Arc;

use alibaba_openapi::Product;
use certinspect_alibaba_common::config::{self, schema_json};
use certinspect_alibaba_common::context::{api_names, documented_rate_limits};
use certinspect_alibaba_common::names::{is_label, wildcard_base};
use certinspect_alibaba_common::paging::{fetch_page, text, ListRequest, PageStyle, Pager};
use certinspect_alibaba_common::state::{decode_cursor, encode_cursor};
use certinspect_alibaba_common::time::{parse_local_datetime, UtcOffset};
use certinspect_alibaba_common::{AlibabaContext, Api, CommonConfig, Fields};
use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, Binding, CrossRef, DeclaredCertificate, Endpoint, Host, Location, Page, PluginError, PluginInfo,
    Provider, Scope, Source, PROTOCOL_VERSION,
};
use serde::{Deserialize, Serialize};

/// The plugin name.
pub const PLUGIN_NAME: &str = "alibaba-cdn";

/// The one API this plugin calls.
const LIST: Api = Api::new(Product::Cdn, "DescribeCdnHttpsDomainList");
const APIS: &[Api] = &[LIST];
/// How `LIST` pages. The pager asks for its own page size (the setting);
/// DCDN documents `NoHttpsDomain` for an account without HTTPS domains.
fn list_request() -> ListRequest<'static> {
    ListRequest::new(LIST.spec(), PageStyle::PageNumber { page_size: MAX_PAGE_SIZE as u32 }, &["CertInfos", "CertInfo"])
        .empty_codes(&["NoHttpsDomain"])
}
/// The identical DCDN operation documents 500 as the maximum page size.
const MAX_PAGE_SIZE: u64 = 500;

/// The provider type to register statically:
/// `registry.add_static(certinspect_sdk::static_module::<AlibabaCdnProvider>())`.
#[derive(Debug)]
pub struct AlibabaCdnProvider;

impl Provider for AlibabaCdnProvider {
    fn info() -> PluginInfo {
        PluginInfo {
            name: PLUGIN_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol_version: PROTOCOL_VERSION,
            description: "Alibaba Cloud CDN: HTTPS domains and the certificates CDN declares for them".into(),
            provider: "alibaba".into(),
            services: vec!["cdn".into()],
            capabilities: vec![capability::INVENTORY.into()],
            config_schema: config_schema(),
            rate_limits: documented_rate_limits(APIS),
        }
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = CdnConfig::read(&config)?;
        let context = AlibabaContext::new(settings.common.clone(), APIS, host)?;
        Ok(Box::new(CdnSource { context: Arc::new(context), settings }))
    }
}

/// The JSON Schema of the plugin's configuration.
pub fn config_schema() -> Value {
    config::schema(
        "alibaba-cdn",
        schema_json!({
            "region": { "type": "string", "minLength": 1, "description": "Region deciding the CDN endpoint (international-site regions use cdn.ap-southeast-1.aliyuncs.com). Default: cdn.aliyuncs.com." },
            "page_size": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "Domains per DescribeCdnHttpsDomainList page (default 500)." },
            "cdn_time_zone": { "type": "string", "minLength": 1, "description": "UTC offset of CDN's zone-less date strings, e.g. +08:00 (default, as Alibaba's consoles) or UTC." },
            "wildcard_probe_label": { "type": "string", "minLength": 1, "description": "Probe wildcard domains *.example.com as <label>.example.com; without it they are reported as not probeable." }
        }),
        &api_names(APIS),
    )
}

/// The plugin's settings.
#[derive(Debug, Clone)]
struct CdnConfig {
    common: CommonConfig,
    region: Option<String>,
    page_size: u64,
    time_zone: UtcOffset,
    wildcard_label: Option<String>,
}

impl CdnConfig {
    fn read(config: &Value) -> Result<Self, PluginError> {
        let mut fields = Fields::new(config)?;
        let common = CommonConfig::read(&mut fields, &api_names(APIS))?;
        let region = fields.string("region")?;
        let page_size = fields.integer("page_size", 1, MAX_PAGE_SIZE)?.unwrap_or(MAX_PAGE_SIZE);
        let time_zone = match fields.string("cdn_time_zone")? {
            None => UtcOffset::CHINA,
            Some(zone) => UtcOffset::parse(&zone).ok_or_else(|| {
                config::invalid("cdn_time_zone", &format!("expected a UTC offset like +08:00 or UTC, found \"{zone}\""))
            })?,
        };
        let wildcard_label = fields.string("wildcard_probe_label")?;
        if let Some(label) = wildcard_label.as_deref().filter(|l| !is_label(l)) {
            return Err(config::invalid(
                "wildcard_probe_label",
                &format!("expected one DNS label like www, found \"{label}\""),
            ));
        }
        fields.finish()?;
        Ok(Self { common, region, page_size, time_zone, wildcard_label })
    }
}

struct CdnSource {
    context: Arc<AlibabaContext>,
    settings: CdnConfig,
}

/// CDN is global: one scope per account.
const SCOPE: &str = "global";

/// Where the listing stands; the whole state travels in the cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    pager: Pager,
}

impl Source for CdnSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(vec![Scope { id: SCOPE.into(), label: format!("CDN, account {}", self.context.account()) }])
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        if scope != SCOPE {
            return Err(PluginError::protocol(format!("unknown scope {scope:?}; this source has only {SCOPE:?}")));
        }
        let mut pager = match cursor {
            None => Pager::new(self.settings.page_size),
            Some(text) => decode_cursor::<Cursor>(text)?.pager,
        };
        let client = self.context.client(self.settings.region.as_deref());
        let what = format!("CDN (account {})", self.context.account());
        let rows = fetch_page(&mut pager, &client, &list_request(), &what)?;
        let mut page = Page::default();
        for row in &rows {
            match self.binding(row) {
                Some(binding) => page.bindings.push(binding),
                None => page.warnings.push(format!("{what}: a domain row without DomainName was skipped: {row}")),
            }
        }
        page.next_cursor = (!pager.done()).then(|| encode_cursor(&Cursor { pager }));
        Ok(page)
    }
}

impl CdnSource {
    /// The binding for one `CertInfo` row.
    fn binding(&self, row: &Value) -> Option<Binding> {
        let domain = text(&row["DomainName"])?;
        let cert_type = text(&row["CertType"]);
        let name = text(&row["CertName"]);
        let time = |field: &str| text(&row[field]).and_then(|t| parse_local_datetime(&t, self.settings.time_zone));
        let (endpoint, not_probeable) = match wildcard_base(&domain) {
            None => (Some(endpoint(&domain)), None),
            Some(base) => match &self.settings.wildcard_label {
                Some(label) => (Some(endpoint(&format!("{label}.{base}"))), None),
                None => (
                    None,
                    Some(format!(
                        "wildcard domain {domain}: no single name to connect to; set wildcard_probe_label to probe one name under it"
                    )),
                ),
            },
        };
        let mut xrefs = Vec::new();
        if let (Some("cas"), Some(name)) = (cert_type.as_deref(), &name) {
            xrefs.push(CrossRef { kind: "cas-certificate-name".into(), value: name.clone() });
        }
        Some(Binding {
            location: Location {
                provider: PLUGIN_NAME.into(),
                service: "cdn".into(),
                account: self.context.account().to_owned(),
                region: None,
                resource_id: domain.clone(),
                resource_name: None,
                listener_port: None,
                endpoint,
                not_probeable,
            },
            declared: DeclaredCertificate {
                name,
                common_name: text(&row["CertCommonName"]),
                not_before: time("CertStartTime"),
                not_after: time("CertExpireTime"),
                provider_status: text(&row["CertStatus"]),
                ..DeclaredCertificate::default()
            },
            xrefs,
            extra: json!({
                "cert_type": cert_type,
                "cert_update_time": time("CertUpdateTime"),
                "cdn_time_zone_offset_seconds": self.settings.time_zone.0,
            }),
        })
    }
}

fn endpoint(name: &str) -> Endpoint {
    Endpoint { host: name.to_owned(), port: 443, sni: Some(name.to_owned()), addresses: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_field() {
        let error = |config: Value| CdnConfig::read(&config).unwrap_err().message;
        assert!(error(json!({"page_size": 501})).starts_with("page_size: expected an integer from 1 to 500"));
        assert!(error(json!({"cdn_time_zone": "Asia/Shanghai"})).starts_with("cdn_time_zone: expected a UTC offset"));
        assert!(
            error(json!({"wildcard_probe_label": "a.b"})).starts_with("wildcard_probe_label: expected one DNS label")
        );
        assert!(error(json!({"regions": ["x"]})).starts_with("regions: unknown setting"));
        let ok = CdnConfig::read(&json!({"cdn_time_zone": "UTC", "page_size": 20})).unwrap();
        assert_eq!((ok.time_zone, ok.page_size), (UtcOffset(0), 20));
    }

    #[test]
    fn the_schema_lists_every_setting_the_reader_accepts() {
        let schema = config_schema();
        let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        for key in ["region", "page_size", "cdn_time_zone", "wildcard_probe_label", "credentials", "endpoint"] {
            assert!(keys.iter().any(|k| *k == key), "{key} missing from the schema");
        }
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}
