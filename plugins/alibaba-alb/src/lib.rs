//! The `alibaba-alb` certinspect provider: Alibaba Cloud Application Load
//! Balancer (ALB, API 2020-06-16) HTTPS and QUIC listeners and the server
//! certificates on them, per region.
//!
//! A region is a scope (the configured `regions`). A scope pages through
//! `ListLoadBalancers` (`NextToken`/`MaxResults`, one page per host call,
//! the pager's state travelling in the cursor); for each page,
//! `ListListeners` (up to 20 load balancer ids per call) names the
//! listeners, of which HTTPS and QUIC ones are read, and
//! `ListListenerCertificates` (`CertificateType=Server`) each listener's
//! certificates. Bindings, one per listener certificate:
//!
//! - the default certificate (`IsDefault`): one binding per domain CAS
//!   names for it (its `ListCloudResources` rows, `DefaultResource: 1`),
//!   SNI = the domain, as clients reach it through their own names; without
//!   such a row, endpoint `DNSName:ListenerPort` without SNI — what a client
//!   that names no host gets;
//! - an additional certificate: one binding per domain CAS names for it
//!   (`ListCloudResources` rows of the product with this load balancer,
//!   listener and certificate; `sni_from_cas`), SNI = the domain; without
//!   such a row it is not probeable (ALB does not say which names select it);
//! - QUIC listeners: not probeable (TLS over UDP; the prober speaks TCP).
//!
//! Certificates are CAS certificates named in `CertIdentifier` form
//! (`123-cn-hangzhou`): each binding carries `cas-certificate-id` (`123`)
//! and `cas-cert-identifier`, through which the core fills in names,
//! fingerprints and validity from `alibaba-cas`. Intranet load balancers are
//! not probeable unless `probe_intranet` is set.
//!
//! NLB (API 2022-04-30, `products = ["alb", "nlb"]`) has the same three
//! operations and shapes; its TLS listeners are `TCPSSL`, listed through the
//! same code. Scopes are `<product>:<region>` (`alb:cn-hangzhou`,
//! `nlb:cn-hangzhou`); bindings have service `alb` or `nlb`.
//!
//! What it is not: an exporter (see `certinspect-alibaba-alb-dylib`), a
//! prober, or an HTTP client: every call goes through `alibaba-openapi`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use alibaba_openapi::{list_all, Client, Product};
use certinspect_alibaba_common::config::{self, schema_json};
use certinspect_alibaba_common::context::{api_names, documented_rate_limits};
use certinspect_alibaba_common::errors::paging_failure;
use certinspect_alibaba_common::paging::{fetch_page, read_u64, text, ListRequest, PageStyle, Pager};
use certinspect_alibaba_common::state::{decode_cursor, encode_cursor};
use certinspect_alibaba_common::{AlibabaContext, Api, CommonConfig, Fields};
use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, Binding, CrossRef, DeclaredCertificate, Endpoint, Host, Location, Page, PluginError, PluginInfo,
    Provider, Scope, Source,
};
use serde::{Deserialize, Serialize};

/// The plugin name.
pub const PLUGIN_NAME: &str = "alibaba-alb";

// ALB publishes no QPS for these list operations [unverified]; 50/s per
// operation is our assumption, adjustable with `rate_limits`.
const LOAD_BALANCERS: Api = Api::assumed(Product::Alb, "ListLoadBalancers", 50.0);
const LISTENERS: Api = Api::assumed(Product::Alb, "ListListeners", 50.0);
const CERTIFICATES: Api = Api::assumed(Product::Alb, "ListListenerCertificates", 50.0);
const NLB_LOAD_BALANCERS: Api = Api::assumed(Product::Nlb, "ListLoadBalancers", 50.0);
const NLB_LISTENERS: Api = Api::assumed(Product::Nlb, "ListListeners", 50.0);
const NLB_CERTIFICATES: Api = Api::assumed(Product::Nlb, "ListListenerCertificates", 50.0);
// The NLB operations share the ALB names, so `rate_limits` (keyed by name) sets both.
const APIS: &[Api] =
    &[LOAD_BALANCERS, LISTENERS, CERTIFICATES, NLB_LOAD_BALANCERS, NLB_LISTENERS, NLB_CERTIFICATES, CAS_RESOURCES];

/// ALB or NLB: the same three operations and shapes.
#[derive(Debug, Clone, Copy)]
struct Flavor {
    /// `products` value, scope prefix and `Location::service`.
    service: &'static str,
    label: &'static str,
    load_balancers: Api,
    listeners: Api,
    certificates: Api,
    /// Listener protocols that carry certificates.
    tls_protocols: &'static [&'static str],
    /// `ListListenerCertificates` `MaxResults` maximum ("1 to 100" ALB, "1 to 50" NLB).
    max_certificate_page: u64,
    /// `ListListenerCertificates`' certificate type filter: ALB `CertificateType`, NLB `CertType`.
    certificate_type_param: &'static str,
}

const ALB: Flavor = Flavor {
    service: "alb",
    label: "ALB",
    load_balancers: LOAD_BALANCERS,
    listeners: LISTENERS,
    certificates: CERTIFICATES,
    tls_protocols: &["HTTPS", "QUIC"],
    max_certificate_page: 100,
    certificate_type_param: "CertificateType",
};
const NLB: Flavor = Flavor {
    service: "nlb",
    label: "NLB",
    load_balancers: NLB_LOAD_BALANCERS,
    listeners: NLB_LISTENERS,
    certificates: NLB_CERTIFICATES,
    tls_protocols: &["TCPSSL"],
    max_certificate_page: 50,
    certificate_type_param: "CertType",
};
const FLAVORS: &[Flavor] = &[ALB, NLB];

/// Where CAS says certificates are deployed (the SNI names of additional certificates).
const CAS_RESOURCES: Api = Api::assumed(Product::Cas, "ListCloudResources", 10.0);

/// "Valid values: 1 to 100" (`MaxResults` of all three list operations).
const MAX_PAGE_SIZE: u64 = 100;
/// "A maximum of 20 instance IDs are supported" (`ListListeners` `LoadBalancerIds`).
const IDS_PER_LISTENER_CALL: usize = 20;

/// The provider type to register statically:
/// `registry.add_static(certinspect_sdk::static_module::<AlibabaAlbProvider>())`.
#[derive(Debug)]
pub struct AlibabaAlbProvider;

impl Provider for AlibabaAlbProvider {
    fn info() -> PluginInfo {
        PluginInfo::new(PLUGIN_NAME, env!("CARGO_PKG_VERSION"))
            .with_description(
                "Alibaba Cloud ALB (HTTPS, QUIC) and NLB (TCPSSL) listeners and their server certificates",
            )
            .with_provider("alibaba", ["alb", "nlb"])
            .with_capability(capability::INVENTORY)
            .with_config_schema(config_schema())
            .with_rate_limits(documented_rate_limits(APIS))
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = AlbConfig::read(&config)?;
        let context = AlibabaContext::new(settings.common.clone(), APIS, host)?;
        Ok(Box::new(AlbSource { context: Arc::new(context), settings, domains: Mutex::new(BTreeMap::new()) }))
    }
}

/// The JSON Schema of the plugin's configuration.
pub fn config_schema() -> Value {
    config::schema(
        "alibaba-alb",
        schema_json!({
            "regions": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1, "description": "Regions to list, one scope each (ALB endpoints are regional: alb.<region>.aliyuncs.com). Default [\"cn-hangzhou\"]." },
            "page_size": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "MaxResults of each list call, default 100 (documented maximum)." },
            "products": { "type": "array", "items": { "type": "string", "enum": ["alb", "nlb"] }, "minItems": 1, "description": "alb and/or nlb (the same operations; NLB's TLS listeners are TCPSSL). One scope per product and region. Default [\"alb\"]." },
            "sni_from_cas": { "type": "boolean", "description": "Ask CAS ListCloudResources which domains each additional (SNI) certificate is deployed for, and probe it under each. Default true (needs yundun-cert:ListCloudResources)." },
            "probe_intranet": { "type": "boolean", "description": "Probe load balancers with AddressType Intranet (set when inspect runs inside the VPC). Default false." }
        }),
        &api_names(APIS),
    )
}

#[derive(Debug, Clone)]
struct AlbConfig {
    common: CommonConfig,
    regions: Vec<String>,
    page_size: u64,
    probe_intranet: bool,
    flavors: Vec<Flavor>,
    sni_from_cas: bool,
}

impl AlbConfig {
    fn read(config: &Value) -> Result<Self, PluginError> {
        let mut fields = Fields::new(config)?;
        let common = CommonConfig::read(&mut fields, &api_names(APIS))?;
        let regions = fields.strings("regions", None)?.unwrap_or_else(|| vec!["cn-hangzhou".into()]);
        if let Some(bad) =
            regions.iter().find(|r| !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(config::invalid("regions", &format!("expected region ids like cn-hangzhou, found \"{bad}\"")));
        }
        let page_size = fields.integer("page_size", 1, MAX_PAGE_SIZE)?.unwrap_or(MAX_PAGE_SIZE);
        let probe_intranet = fields.boolean("probe_intranet")?.unwrap_or(false);
        let products = fields.strings("products", Some(&["alb", "nlb"]))?.unwrap_or_else(|| vec!["alb".into()]);
        let flavors = FLAVORS.iter().copied().filter(|f| products.iter().any(|p| p == f.service)).collect();
        let sni_from_cas = fields.boolean("sni_from_cas")?.unwrap_or(true);
        fields.finish()?;
        Ok(Self { common, regions, page_size, probe_intranet, flavors, sni_from_cas })
    }
}

struct AlbSource {
    context: Arc<AlibabaContext>,
    settings: AlbConfig,
    /// Domains by (load balancer, listener, CAS certificate id), per scope,
    /// read once at a scope's first page.
    domains: Mutex<BTreeMap<String, Arc<DomainMap>>>,
}

/// (load balancer id, listener id, CAS certificate id) -> domains.
type DomainMap = BTreeMap<(String, String, String), Vec<String>>;

/// Where a scope's listing stands; the whole state travels in the cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// The scope (`alb:cn-hangzhou`).
    region: String,
    pager: Pager,
}

/// `MaxResults`-paged request for `api`, rows at `rows`.
fn token_request(api: Api, rows: &'static [&'static str], size: u64) -> ListRequest<'static> {
    ListRequest::new(api.spec(), PageStyle::NextToken { max_results: size as u32 }, rows)
}

impl Source for AlbSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        let account = self.context.account();
        Ok(self
            .settings
            .flavors
            .iter()
            .flat_map(|f| {
                self.settings.regions.iter().map(move |region| Scope {
                    id: format!("{}:{region}", f.service),
                    label: format!("{} {region}, account {account}", f.label),
                })
            })
            .collect())
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let known = scope.split_once(':').and_then(|(product, region)| {
            let flavor = self.settings.flavors.iter().copied().find(|f| f.service == product)?;
            self.settings.regions.iter().any(|r| r == region).then_some((flavor, region))
        });
        let Some((flavor, region)) = known else {
            return Err(PluginError::protocol(format!("unknown scope {scope:?}")));
        };
        let mut pager = match cursor {
            None => Pager::new(self.settings.page_size),
            Some(text) => {
                let cursor = decode_cursor::<Cursor>(text)?;
                if cursor.region != scope {
                    return Err(PluginError::protocol(format!(
                        "cursor belongs to scope {}, not {scope}",
                        cursor.region
                    )));
                }
                cursor.pager
            }
        };
        let client = self.context.client(Some(region));
        let what = format!("{} {region} (account {})", flavor.label, self.context.account());
        let request = token_request(flavor.load_balancers, &["LoadBalancers"], self.settings.page_size);
        let load_balancers = fetch_page(&mut pager, &client, &request, &what)?;
        let mut page = Page::default();
        let domains = self.domains(flavor, scope, region, cursor.is_none(), &mut page);
        for chunk in load_balancers.chunks(IDS_PER_LISTENER_CALL) {
            for listener in self.listeners(flavor, &client, chunk, &what)? {
                let Some(lb) = chunk.iter().find(|lb| text(&lb["LoadBalancerId"]) == text(&listener["LoadBalancerId"]))
                else {
                    continue;
                };
                for certificate in self.certificates(flavor, &client, &listener, &what)? {
                    page.bindings.extend(self.bindings(flavor, region, lb, &listener, &certificate, &domains));
                }
            }
        }
        page.next_cursor = (!pager.done()).then(|| encode_cursor(&Cursor { region: scope.to_owned(), pager }));
        Ok(page)
    }
}

impl AlbSource {
    /// The scope's domain map: fetched at its first page (and kept for the
    /// others). A refusal is one warning: additional certificates then stay
    /// not probeable.
    fn domains(&self, flavor: Flavor, scope: &str, region: &str, first: bool, page: &mut Page) -> Arc<DomainMap> {
        let mut cache = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        if !first {
            if let Some(map) = cache.get(scope) {
                return Arc::clone(map);
            }
        }
        let mut map = DomainMap::new();
        if self.settings.sni_from_cas {
            let client = self.context.client(Some(region));
            let request = ListRequest::new(CAS_RESOURCES.spec(), PageStyle::CurrentPage { show_size: 100 }, &["Data"])
                .total_field("Total")
                .param("CloudProduct", flavor.label);
            match list_all(&client, &request) {
                Ok(listing) => {
                    for row in listing.rows {
                        let product = text(&row["CloudProduct"]).unwrap_or_default();
                        let (Some(lb), Some(listener), Some(cert), Some(domain)) = (
                            text(&row["InstanceId"]),
                            text(&row["ListenerId"]),
                            text(&row["CertId"]),
                            text(&row["Domain"]),
                        ) else {
                            continue;
                        };
                        if product.eq_ignore_ascii_case(flavor.label) {
                            map.entry((lb, listener, cert)).or_default().push(domain);
                        }
                    }
                }
                Err(error) => page.warnings.push(format!(
                    "{} {region}: {}; additional certificates are not probeable (grant yundun-cert:ListCloudResources or set sni_from_cas = false)",
                    flavor.label,
                    paging_failure("CAS ListCloudResources", &error).message
                )),
            }
        }
        let map = Arc::new(map);
        cache.insert(scope.to_owned(), Arc::clone(&map));
        map
    }

    /// The bindings of one listener certificate: one, or for an additional
    /// certificate one per domain CAS names for it.
    fn bindings(
        &self,
        flavor: Flavor,
        region: &str,
        lb: &Value,
        listener: &Value,
        certificate: &Value,
        domains: &DomainMap,
    ) -> Vec<Binding> {
        let certificate_id = text(&certificate["CertificateId"]).unwrap_or_default();
        let cas_id = certificate_id.split_once('-').map_or(certificate_id.as_str(), |(d, _)| d).to_owned();
        let key = (
            text(&lb["LoadBalancerId"]).unwrap_or_default(),
            text(&listener["ListenerId"]).unwrap_or_default(),
            cas_id,
        );
        match domains.get(&key) {
            Some(names) => {
                names.iter().map(|name| self.binding(flavor, region, lb, listener, certificate, Some(name))).collect()
            }
            None => vec![self.binding(flavor, region, lb, listener, certificate, None)],
        }
    }

    /// The TLS listeners (ALB: HTTPS and QUIC; NLB: TCPSSL) of `load_balancers` (at most 20).
    fn listeners(
        &self,
        flavor: Flavor,
        client: &Client,
        load_balancers: &[Value],
        what: &str,
    ) -> Result<Vec<Value>, PluginError> {
        let mut request = token_request(flavor.listeners, &["Listeners"], self.settings.page_size);
        for (index, id) in load_balancers.iter().filter_map(|lb| text(&lb["LoadBalancerId"])).enumerate() {
            request = request.param(&format!("LoadBalancerIds.{}", index + 1), &id);
        }
        let listing = list_all(client, &request).map_err(|e| paging_failure(&format!("{what} listeners"), &e))?;
        Ok(listing
            .rows
            .into_iter()
            .filter(|l| {
                text(&l["ListenerProtocol"])
                    .is_some_and(|p| flavor.tls_protocols.iter().any(|t| t.eq_ignore_ascii_case(&p)))
            })
            .collect())
    }

    /// The server certificates of one listener.
    fn certificates(
        &self,
        flavor: Flavor,
        client: &Client,
        listener: &Value,
        what: &str,
    ) -> Result<Vec<Value>, PluginError> {
        let id = text(&listener["ListenerId"]).unwrap_or_default();
        let size = self.settings.page_size.min(flavor.max_certificate_page);
        let request = token_request(flavor.certificates, &["Certificates"], size)
            .param("ListenerId", &id)
            .param(flavor.certificate_type_param, "Server");
        let listing = list_all(client, &request)
            .map_err(|e| paging_failure(&format!("{what} listener {id} certificates"), &e))?;
        Ok(listing.rows)
    }

    /// One binding; `sni` is the domain CAS names for an additional certificate.
    fn binding(
        &self,
        flavor: Flavor,
        region: &str,
        lb: &Value,
        listener: &Value,
        certificate: &Value,
        sni: Option<&str>,
    ) -> Binding {
        let certificate_id = text(&certificate["CertificateId"]).unwrap_or_default();
        let is_default = certificate["IsDefault"].as_bool().unwrap_or(false);
        let protocol = text(&listener["ListenerProtocol"]).unwrap_or_default().to_ascii_uppercase();
        let port = read_u64(&listener["ListenerPort"]).and_then(|p| u16::try_from(p).ok());
        let dns_name = text(&lb["DNSName"]);
        let address_type = text(&lb["AddressType"]);
        let lb_status = text(&lb["LoadBalancerStatus"]);
        let listener_status = text(&listener["ListenerStatus"]);
        let blocked = if lb_status.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("active")) {
            Some(format!("load balancer is {}", lb_status.clone().unwrap_or_default()))
        } else if listener_status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("stopped")) {
            Some("listener is stopped".to_owned())
        } else if protocol == "QUIC" {
            Some("QUIC listener: TLS over UDP, which the prober does not speak".to_owned())
        } else if !is_default && sni.is_none() {
            Some(format!(
                "additional certificate: {} does not say which host names select it; alibaba-cas deployment rows (ListCloudResources) name its domains",
                flavor.label
            ))
        } else if address_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("intranet"))
            && !self.settings.probe_intranet
        {
            Some("intranet load balancer: reachable only inside its VPC; set probe_intranet = true when inspect runs there".to_owned())
        } else {
            None
        };
        let (endpoint, not_probeable) = match (blocked, &dns_name, port) {
            (Some(reason), _, _) => (None, Some(reason)),
            (None, Some(host), Some(port)) => {
                let mut endpoint = Endpoint::new(host, port);
                endpoint.sni = sni.map(str::to_owned);
                (Some(endpoint), None)
            }
            (None, _, _) => (None, Some("the load balancer has no DNS name or the listener no port".to_owned())),
        };
        let mut location = Location::new(flavor.service, text(&lb["LoadBalancerId"]).unwrap_or_default())
            .with_account(self.context.account())
            .with_region(region);
        location.resource_name = text(&lb["LoadBalancerName"]);
        location.listener_port = port;
        (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
        let declared = DeclaredCertificate::default().with_provider_id(&certificate_id);
        Binding::new(location, declared).with_xrefs(xrefs(&certificate_id)).with_tags(tags(&lb["Tags"])).with_extra(
            json!({
                    "certificate_role": if is_default { "default" } else { "additional" },
                    "certificate_status": text(&certificate["Status"]),
                    "listener_id": text(&listener["ListenerId"]),
                    "listener_protocol": protocol,
                    "listener_status": listener_status,
                    "load_balancer_status": lb_status,
                    "address_type": address_type,
                    "sni_source": sni.map(|_| "CAS ListCloudResources"),
            }),
        )
    }
}

/// A load balancer's `Tags[] {Key, Value}` (ALB and NLB alike); entries
/// without a key are skipped.
fn tags(tags: &Value) -> Vec<(String, String)> {
    let list = tags.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter().filter_map(|t| Some((text(&t["Key"])?, text(&t["Value"]).unwrap_or_default()))).collect()
}

/// `123-cn-hangzhou` -> the CAS id `123` and the identifier itself; a plain
/// id is the CAS id.
fn xrefs(certificate_id: &str) -> Vec<CrossRef> {
    let digits = certificate_id.split_once('-').map_or(certificate_id, |(d, _)| d);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut out = vec![CrossRef { kind: "cas-certificate-id".into(), value: digits.to_owned() }];
    if digits != certificate_id {
        out.push(CrossRef { kind: "cas-cert-identifier".into(), value: certificate_id.to_owned() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids_give_cas_cross_references() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("123-cn-hangzhou", &[("cas-certificate-id", "123"), ("cas-cert-identifier", "123-cn-hangzhou")]),
            ("456", &[("cas-certificate-id", "456")]),
            ("cert-abc", &[]),
            ("", &[]),
        ];
        for (id, expected) in cases {
            let got: Vec<(String, String)> = xrefs(id).into_iter().map(|x| (x.kind, x.value)).collect();
            let expected: Vec<(String, String)> =
                expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            assert_eq!(got, expected, "{id}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let error = |config: Value| AlbConfig::read(&config).unwrap_err().message;
        assert!(error(json!({"regions": ["cn hangzhou"]})).starts_with("regions: expected region ids"));
        assert!(error(json!({"page_size": 101})).starts_with("page_size: expected an integer from 1 to 100"));
        assert!(error(json!({"probe_intranet": "yes"})).starts_with("probe_intranet: expected true or false"));
        let ok = AlbConfig::read(&json!({})).unwrap();
        assert_eq!(
            (ok.regions.as_slice(), ok.page_size, ok.probe_intranet),
            (&["cn-hangzhou".to_owned()][..], 100, false)
        );
    }
}
