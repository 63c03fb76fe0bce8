//! The `alibaba-cdn` certinspect provider: every HTTPS-enabled Alibaba Cloud
//! CDN domain of an account, with the certificate CDN says it serves
//! (`DescribeCdnHttpsDomainList`, 2018-05-10).
//!
//! One binding per domain: endpoint `DomainName:443` with SNI = the domain;
//! the declared certificate's name, common name, validity (CDN date strings
//! carry no zone: read in the configured `cdn_time_zone`, UTC+8 by
//! default), `CertStatus` as `provider_status` and `CertType` in `extra`.
//! CDN's list knows no fingerprint or serial; `DescribeDomainCertificateInfo`
//! (one call per domain, `certificate_info`) gives the CAS certificate id
//! (`CertId`), which becomes the cross-reference `cas-certificate-id`
//! through which the core fills those in from the `alibaba-cas` plugin, and
//! whether HTTPS is on (`ServerCertificateStatus`; a domain with HTTPS off is
//! not probeable). Only a `cas` certificate without an id falls back to
//! `cas-certificate-name` (names are not unique in CAS). Wildcard domains are probed under
//! `wildcard_probe_label` when configured, else reported as not probeable —
//! never dropped.
//!
//! DCDN (`products = ["cdn", "dcdn"]`) answers in the same shape
//! (`DescribeDcdnHttpsDomainList`, `DescribeDcdnDomainCertificateInfo`, whose
//! HTTPS switch is `SSLProtocol`) and goes through the same code, as its own
//! scope; its bindings have service `dcdn`.
//!
//! Tags (`Binding.tags`, unless `tags = false`) come from
//! `DescribeTagResources` (DCDN: `DescribeDcdnTagResources`), one call per 50
//! domains of a page (the documented maximum of `ResourceId.N`). A batch that
//! fails loses no binding: its domains are listed without tags, saying why
//! in `extra.tags_error`, and the page carries one warning (tags route alerts;
//! they decide no verdict, so a missing tag is a partial, not a source error).
//! Refused credentials or a missing RAM permission for the tag call stop the
//! tag calls of that product for the rest of the run, with one warning.
//!
//! What it is not: an exporter (the `cdylib` is
//! `certinspect-alibaba-cdn-dylib`), a prober, or a client of its own: all
//! calls go through `alibaba-openapi` over the host's transport.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use alibaba_openapi::{Client, Product};
use certinspect_alibaba_common::config::{self, schema_json};
use certinspect_alibaba_common::context::{api_names, documented_rate_limits};
use certinspect_alibaba_common::errors::failure;
use certinspect_alibaba_common::names::{is_label, wildcard_base};
use certinspect_alibaba_common::paging::{fetch_page, rows_at, text, ListRequest, PageStyle, Pager};
use certinspect_alibaba_common::state::{decode_cursor, encode_cursor};
use certinspect_alibaba_common::time::{parse_local_datetime, UtcOffset};
use certinspect_alibaba_common::{AlibabaContext, Api, CommonConfig, Fields};
use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, error_kind, Binding, CrossRef, DeclaredCertificate, Endpoint, Host, Location, Page, PluginError,
    PluginInfo, Provider, Scope, Source,
};
use serde::{Deserialize, Serialize};

/// The plugin name.
pub const PLUGIN_NAME: &str = "alibaba-cdn";

/// The listing, and the per-domain certificate detail (CAS id, HTTPS switch).
const LIST: Api = Api::new(Product::Cdn, "DescribeCdnHttpsDomainList");
const INFO: Api = Api::new(Product::Cdn, "DescribeDomainCertificateInfo");
const DCDN_LIST: Api = Api::new(Product::Dcdn, "DescribeDcdnHttpsDomainList");
const DCDN_INFO: Api = Api::new(Product::Dcdn, "DescribeDcdnDomainCertificateInfo");
/// Resource tags of up to [`TAG_BATCH`] domains per call.
const TAGS: Api = Api::new(Product::Cdn, "DescribeTagResources");
const DCDN_TAGS: Api = Api::new(Product::Dcdn, "DescribeDcdnTagResources");
const APIS: &[Api] = &[LIST, INFO, TAGS, DCDN_LIST, DCDN_INFO, DCDN_TAGS];
/// "ResourceId: 最大元素数量: 50" (both tag operations' references).
const TAG_BATCH: usize = 50;

/// One of the two products that answer in the CDN shape.
#[derive(Debug, Clone, Copy)]
struct Flavor {
    /// Scope id (`global` is CDN's, kept from before DCDN).
    scope: &'static str,
    /// Product name in labels and messages.
    label: &'static str,
    /// `Location::service` and the `products` setting value.
    service: &'static str,
    list: Api,
    info: Api,
    tags: Api,
    /// The detail field saying whether HTTPS is on.
    https_field: &'static str,
}

const CDN: Flavor = Flavor {
    scope: "global",
    label: "CDN",
    service: "cdn",
    list: LIST,
    info: INFO,
    tags: TAGS,
    https_field: "ServerCertificateStatus",
};
const DCDN: Flavor = Flavor {
    scope: "dcdn",
    label: "DCDN",
    service: "dcdn",
    list: DCDN_LIST,
    info: DCDN_INFO,
    tags: DCDN_TAGS,
    https_field: "SSLProtocol",
};
const FLAVORS: &[Flavor] = &[CDN, DCDN];

/// How a flavor's list pages. The pager asks for its own page size (the
/// setting); DCDN documents `NoHttpsDomain` for an account without HTTPS domains.
fn list_request(flavor: Flavor) -> ListRequest<'static> {
    ListRequest::new(
        flavor.list.spec(),
        PageStyle::PageNumber { page_size: MAX_PAGE_SIZE as u32 },
        &["CertInfos", "CertInfo"],
    )
    .empty_codes(&["NoHttpsDomain"])
}
/// The largest page size the setting accepts: the identical DCDN operation
/// documents 500 as its maximum; CDN documents none (a refused size is
/// stepped down by the pager).
const MAX_PAGE_SIZE: u64 = 500;
/// One full tag batch per page ("Default value: 20" in the
/// DescribeCdnHttpsDomainList reference would take a tag call per 20 domains,
/// 2.5 times the calls of a 10 QPS budget).
const DEFAULT_PAGE_SIZE: u64 = TAG_BATCH as u64;
/// `DescribeDomainCertificateInfo` calls in flight per page (the rate limiter still applies).
const INFO_CONCURRENCY: usize = 4;

/// The provider type to register statically:
/// `registry.add_static(certinspect_sdk::static_module::<AlibabaCdnProvider>())`.
#[derive(Debug)]
pub struct AlibabaCdnProvider;

impl Provider for AlibabaCdnProvider {
    fn info() -> PluginInfo {
        PluginInfo::new(PLUGIN_NAME, env!("CARGO_PKG_VERSION"))
            .with_description("Alibaba Cloud CDN: HTTPS domains and the certificates CDN declares for them")
            .with_provider("alibaba", ["cdn", "dcdn"])
            .with_capability(capability::INVENTORY)
            .with_config_schema(config_schema())
            .with_rate_limits(documented_rate_limits(APIS))
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = CdnConfig::read(&config)?;
        let context = AlibabaContext::new(settings.common.clone(), APIS, host)?;
        Ok(Box::new(CdnSource { context: Arc::new(context), settings, tags_refused: Default::default() }))
    }
}

/// The JSON Schema of the plugin's configuration.
pub fn config_schema() -> Value {
    config::schema(
        "alibaba-cdn",
        schema_json!({
            "region": { "type": "string", "minLength": 1, "description": "Region deciding the CDN endpoint (international-site regions use cdn.ap-southeast-1.aliyuncs.com). Default: cdn.aliyuncs.com." },
            "page_size": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "Domains per DescribeCdnHttpsDomainList page (default 50: one DescribeTagResources batch; a size the service refuses is stepped down)." },
            "products": { "type": "array", "items": { "type": "string", "enum": ["cdn", "dcdn"] }, "minItems": 1, "description": "Which products to list, one scope each: cdn (DescribeCdnHttpsDomainList) and/or dcdn (DescribeDcdnHttpsDomainList, the same shape). Default [\"cdn\"]." },
            "certificate_info": { "type": "string", "enum": ["all", "cas", "none"], "description": "Which domains DescribeDomainCertificateInfo is asked about (CAS certificate id, HTTPS on/off): all (default), only those with CAS certificates, or none (then CAS is joined by certificate name)." },
            "cdn_time_zone": { "type": "string", "minLength": 1, "description": "UTC offset of CDN's zone-less date strings, e.g. +08:00 (default, as Alibaba's consoles) or UTC." },
            "tags": { "type": "boolean", "description": "Read each domain's tags (DescribeTagResources / DescribeDcdnTagResources, 50 domains a call) into the bindings' tags. Default true." },
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
    certificate_info: CertificateInfo,
    /// Whether tags are read.
    tags: bool,
    /// The products listed, in `FLAVORS` order.
    flavors: Vec<Flavor>,
}

/// Which domains `DescribeDomainCertificateInfo` is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertificateInfo {
    All,
    Cas,
    None,
}

impl CdnConfig {
    fn read(config: &Value) -> Result<Self, PluginError> {
        let mut fields = Fields::new(config)?;
        let common = CommonConfig::read(&mut fields, &api_names(APIS))?;
        let region = fields.string("region")?;
        let page_size = fields.integer("page_size", 1, MAX_PAGE_SIZE)?.unwrap_or(DEFAULT_PAGE_SIZE);
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
        let certificate_info = match fields.choice("certificate_info", &["all", "cas", "none"])?.as_deref() {
            Some("cas") => CertificateInfo::Cas,
            Some("none") => CertificateInfo::None,
            _ => CertificateInfo::All,
        };
        let tags = fields.boolean("tags")?.unwrap_or(true);
        let products = fields.strings("products", Some(&["cdn", "dcdn"]))?.unwrap_or_else(|| vec!["cdn".into()]);
        let flavors = FLAVORS.iter().copied().filter(|f| products.iter().any(|p| p == f.service)).collect();
        fields.finish()?;
        Ok(Self { common, region, page_size, time_zone, wildcard_label, certificate_info, tags, flavors })
    }
}

struct CdnSource {
    context: Arc<AlibabaContext>,
    settings: CdnConfig,
    /// Products (by scope id) whose tag call refused the credentials: not asked again.
    tags_refused: Mutex<Vec<&'static str>>,
}

/// Where the listing stands; the whole state travels in the cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    pager: Pager,
}

impl Source for CdnSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        // CDN and DCDN are global: one scope per product and account.
        Ok(self
            .settings
            .flavors
            .iter()
            .map(|f| Scope { id: f.scope.into(), label: format!("{}, account {}", f.label, self.context.account()) })
            .collect())
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let Some(flavor) = self.settings.flavors.iter().copied().find(|f| f.scope == scope) else {
            return Err(PluginError::protocol(format!("unknown scope {scope:?}")));
        };
        let mut pager = match cursor {
            None => Pager::new(self.settings.page_size),
            Some(text) => decode_cursor::<Cursor>(text)?.pager,
        };
        let client = self.context.client(self.settings.region.as_deref());
        let what = format!("{} (account {})", flavor.label, self.context.account());
        let rows = fetch_page(&mut pager, &client, &list_request(flavor), &what)?;
        let mut page = Page::default();
        let (details, mut tags) = std::thread::scope(|scope| {
            let tags = scope.spawn(|| self.tags(flavor, &client, &rows, &what));
            let details = self.certificate_details(flavor, &client, &rows);
            (details, tags.join().unwrap_or_else(|_| panic!("a {} tag call panicked", flavor.label)))
        });
        page.warnings.append(&mut tags.warnings);
        // Refused credentials or a missing RAM permission would fail every
        // domain alike: one error for the scope, not a warning per domain.
        if let Some(refused) =
            details.iter().find_map(|d| d.as_ref().err().filter(|e| e.kind == error_kind::CREDENTIALS))
        {
            return Err(PluginError::new(
                refused.kind,
                format!("{what}: {} (or set certificate_info = \"none\")", refused.message),
            ));
        }
        for (row, detail) in rows.iter().zip(details) {
            let detail = match detail {
                Ok(detail) => detail,
                Err(warning) => {
                    page.warnings
                        .push(format!("{what}: {}; the domain is joined to CAS by certificate name", warning.message));
                    None
                }
            };
            match self.binding(flavor, row, detail.as_ref()) {
                Some(binding) => page.bindings.push(tags.apply(binding)),
                None => page.warnings.push(format!("{what}: a domain row without DomainName was skipped: {row}")),
            }
        }
        page.next_cursor = (!pager.done()).then(|| encode_cursor(&Cursor { pager }));
        Ok(page)
    }
}

/// What `DescribeDomainCertificateInfo` adds to a listed domain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CertificateDetail {
    /// `CertId`: the CAS certificate id (for `cas` certificates).
    cas_certificate_id: Option<String>,
    /// `ServerCertificateStatus`: `on` or `off`.
    https: Option<String>,
}

impl CertificateDetail {
    fn from_answer(answer: &Value, https_field: &str) -> Self {
        let info = rows_at(answer, &["CertInfos", "CertInfo"]).unwrap_or_default().into_iter().next();
        let field = |name: &str| info.as_ref().and_then(|i| text(&i[name]));
        CertificateDetail {
            cas_certificate_id: field("CertId").filter(|id| id != "0"),
            https: field(https_field).map(|s| s.to_ascii_lowercase()),
        }
    }
}

/// The tags of one page's domains, and what could not be read.
#[derive(Debug, Default)]
struct PageTags {
    /// Tags by domain; a domain asked about and absent has none.
    by_domain: BTreeMap<String, BTreeMap<String, String>>,
    /// Why a domain's tags could not be read, by domain.
    errors: BTreeMap<String, String>,
    warnings: Vec<String>,
}

impl PageTags {
    /// Reads one `TagResources[] {ResourceId, Tag[] {Key, Value}}` answer;
    /// entries without a key are skipped.
    fn merge_answer(&mut self, answer: &Value) {
        for resource in answer["TagResources"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(domain) = text(&resource["ResourceId"]) else { continue };
            let tags = resource["Tag"].as_array().map(Vec::as_slice).unwrap_or_default();
            self.by_domain
                .entry(domain)
                .or_default()
                .extend(tags.iter().filter_map(|t| Some((text(&t["Key"])?, text(&t["Value"]).unwrap_or_default()))));
        }
    }

    /// `binding` with its domain's tags, or with why they are missing
    /// (`extra.tags_error`, as the AWS plugin says it).
    fn apply(&self, binding: Binding) -> Binding {
        let domain = &binding.location.resource_id;
        if let Some(error) = self.errors.get(domain) {
            let mut binding = binding;
            binding.extra["tags_error"] = json!(error);
            return binding;
        }
        match self.by_domain.get(domain) {
            Some(tags) => binding.with_tags(tags.clone()),
            None => binding,
        }
    }
}

impl CdnSource {
    /// The tags of `rows`' domains, [`TAG_BATCH`] a call. A failed batch
    /// leaves its domains without tags, saying why, with one warning.
    fn tags(&self, flavor: Flavor, client: &Client, rows: &[Value], what: &str) -> PageTags {
        let mut tags = PageTags::default();
        if !self.settings.tags {
            return tags;
        }
        let domains: Vec<String> = rows.iter().filter_map(|row| text(&row["DomainName"])).collect();
        for batch in domains.chunks(TAG_BATCH) {
            let failed = |tags: &mut PageTags, why: &str| {
                tags.errors.extend(batch.iter().map(|domain| (domain.clone(), why.to_owned())));
            };
            // Refused credentials would fail every batch alike: asked once, said once.
            if self.tags_refused(flavor) {
                failed(&mut tags, &format!("{} refused the credentials earlier in this run", flavor.tags.action));
                continue;
            }
            let mut params = vec![("ResourceType".to_owned(), "DOMAIN".to_owned())];
            params.extend(batch.iter().enumerate().map(|(i, d)| (format!("ResourceId.{}", i + 1), d.clone())));
            let error = match client.call(&flavor.tags.spec(), &params) {
                Ok(answer) => {
                    tags.merge_answer(&answer);
                    continue;
                }
                Err(e) => failure(
                    &format!(
                        "{what}: {} for {} domains ({} to {})",
                        flavor.tags.action,
                        batch.len(),
                        batch[0],
                        batch[batch.len() - 1]
                    ),
                    &e,
                ),
            };
            failed(&mut tags, &error.message);
            if error.kind == error_kind::CREDENTIALS {
                self.tags_refused.lock().unwrap_or_else(|p| p.into_inner()).push(flavor.scope);
                tags.warnings.push(format!(
                    "{}; tags are not read for {} any more in this run (or set tags = false)",
                    error.message, flavor.label
                ));
            } else {
                tags.warnings.push(format!("{}; these domains are listed without tags", error.message));
            }
        }
        tags
    }

    /// Whether `flavor`'s tag call refused the credentials earlier in the run.
    fn tags_refused(&self, flavor: Flavor) -> bool {
        self.tags_refused.lock().unwrap_or_else(|p| p.into_inner()).contains(&flavor.scope)
    }

    /// `DescribeDomainCertificateInfo` for the rows the setting selects, a
    /// few at a time, in row order. A failed call is a warning for its row.
    fn certificate_details(
        &self,
        flavor: Flavor,
        client: &Client,
        rows: &[Value],
    ) -> Vec<Result<Option<CertificateDetail>, PluginError>> {
        let wanted = |row: &Value| match self.settings.certificate_info {
            CertificateInfo::All => true,
            CertificateInfo::Cas => text(&row["CertType"]).as_deref() == Some("cas"),
            CertificateInfo::None => false,
        };
        let results: Mutex<Vec<Result<Option<CertificateDetail>, PluginError>>> =
            Mutex::new(rows.iter().map(|_| Ok(None)).collect());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let worker = || loop {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(row) = rows.get(index) else { break };
            let Some(domain) = text(&row["DomainName"]).filter(|_| wanted(row)) else { continue };
            let result = client
                .call(&flavor.info.spec(), &[("DomainName".into(), domain.clone())])
                .map(|answer| Some(CertificateDetail::from_answer(&answer, flavor.https_field)))
                .map_err(|e| failure(&format!("domain {domain}: {}", flavor.info.action), &e));
            results.lock().unwrap_or_else(|p| p.into_inner())[index] = result;
        };
        let threads = INFO_CONCURRENCY.min(rows.len()).max(1);
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(worker);
            }
            worker();
        });
        results.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// The binding for one `CertInfo` row and its certificate detail.
    fn binding(&self, flavor: Flavor, row: &Value, detail: Option<&CertificateDetail>) -> Option<Binding> {
        let domain = text(&row["DomainName"])?;
        let cert_type = text(&row["CertType"]);
        let name = text(&row["CertName"]);
        let https = detail.and_then(|d| d.https.clone());
        let time = |field: &str| text(&row[field]).and_then(|t| parse_local_datetime(&t, self.settings.time_zone));
        let (endpoint, not_probeable) = match wildcard_base(&domain) {
            _ if https.as_deref() == Some("off") => (
                None,
                Some(format!(
                    "HTTPS is off for {domain} ({} {} off); the certificate is configured but not served",
                    flavor.info.action, flavor.https_field
                )),
            ),
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
        // The CAS id when CDN gives one; the name (not unique in CAS) only without it.
        let mut xrefs = Vec::new();
        match (detail.and_then(|d| d.cas_certificate_id.clone()), cert_type.as_deref(), &name) {
            (Some(id), _, _) => xrefs.push(CrossRef { kind: "cas-certificate-id".into(), value: id }),
            (None, Some("cas"), Some(name)) => {
                xrefs.push(CrossRef { kind: "cas-certificate-name".into(), value: name.clone() })
            }
            _ => {}
        }
        let mut location = Location::new(flavor.service, domain).with_account(self.context.account());
        (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
        let mut declared = DeclaredCertificate::default();
        declared.name = name;
        declared.common_name = text(&row["CertCommonName"]);
        (declared.not_before, declared.not_after) = (time("CertStartTime"), time("CertExpireTime"));
        declared.provider_status = text(&row["CertStatus"]);
        Some(Binding::new(location, declared).with_xrefs(xrefs).with_extra(json!({
            "cert_type": cert_type,
            "cert_update_time": time("CertUpdateTime"),
            "cdn_time_zone_offset_seconds": self.settings.time_zone.0,
            "https": https,
        })))
    }
}

fn endpoint(name: &str) -> Endpoint {
    Endpoint::new(name, 443).with_sni(name)
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
        assert!(
            error(json!({"certificate_info": "some"})).starts_with("certificate_info: expected one of all, cas, none")
        );
        let ok = CdnConfig::read(&json!({"cdn_time_zone": "UTC", "page_size": 20})).unwrap();
        assert_eq!((ok.time_zone, ok.page_size, ok.certificate_info), (UtcOffset(0), 20, CertificateInfo::All));
        assert_eq!(CdnConfig::read(&json!({})).unwrap().page_size, DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn certificate_details_read_the_cas_id_and_the_https_switch() {
        let cases = [
            (
                json!({"CertInfos": {"CertInfo": [{"CertId": "12345", "ServerCertificateStatus": "on"}]}}),
                Some("12345"),
                Some("on"),
            ),
            (json!({"CertInfos": {"CertInfo": [{"CertId": "", "ServerCertificateStatus": "OFF"}]}}), None, Some("off")),
            (json!({"CertInfos": {"CertInfo": [{"CertId": "0"}]}}), None, None),
            (json!({}), None, None),
        ];
        for (answer, id, https) in cases {
            let detail = CertificateDetail::from_answer(&answer, "ServerCertificateStatus");
            assert_eq!((detail.cas_certificate_id.as_deref(), detail.https.as_deref()), (id, https), "{answer}");
        }
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
