//! The `alibaba-slb` certinspect provider: Alibaba Cloud SLB (CLB) server
//! certificates and the HTTPS listeners that serve them, per region
//! (API 2014-05-15).
//!
//! A region is a scope (the configured `regions`, or every region
//! `DescribeRegions` returns). A scope's listing starts with
//! `DescribeServerCertificates` (SHA-1 fingerprint, CN, SANs, expiry, the
//! CAS certificate id behind it), then pages through `DescribeLoadBalancers`;
//! for each load balancer `DescribeLoadBalancerAttribute` names its HTTPS
//! ports and `DescribeLoadBalancerHTTPSListenerAttribute` each port's default
//! certificate and SNI `DomainExtensions`. Bindings:
//!
//! - one per listener default certificate: endpoint `Address:ListenerPort`,
//!   SNI = the certificate's CN when that is a plain host name, else no SNI
//!   (what a client without SNI gets is the default certificate);
//! - one per domain extension: same address and port, SNI = the extension
//!   domain (a wildcard domain is probed under `wildcard_probe_label`, or
//!   reported as not probeable);
//! - one inventory record (no endpoint) per certificate bound nowhere, after
//!   the last load balancer page.
//!
//! A load balancer whose calls fail (after the client's retries) becomes a
//! page warning naming it and what was lost; the region goes on.
//! Certificates from CAS carry the cross-reference `cas-certificate-id` (and
//! `cas-cert-identifier` when SLB names them `<id>-<region>`). Intranet load
//! balancers are not probeable unless `probe_intranet` is set. SANs are read
//! in both shapes SLB sends; expiry prefers `ExpireTime` and notes in
//! `extra.expiry_note` when `ExpireTimeStamp` disagrees.
//!
//! What it is not: an exporter (see `certinspect-alibaba-slb-dylib`), a
//! prober, or an HTTP client: every call goes through `alibaba-openapi`
//! over the host's transport. ALB/NLB are other plugins' work.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use alibaba_openapi::{Client, Product};
use certinspect_alibaba_common::config::{self, schema_json};
use certinspect_alibaba_common::context::{api_names, documented_rate_limits};
use certinspect_alibaba_common::errors::failure;
use certinspect_alibaba_common::names::{is_label, is_plain_hostname, wildcard_base};
use certinspect_alibaba_common::paging::{
    fetch_page, read_i64, read_u64, rows_at, text, ListRequest, PageStyle, Pager,
};
use certinspect_alibaba_common::state::{decode_cursor, encode_cursor, ListingStore};
use certinspect_alibaba_common::{AlibabaContext, Api, CommonConfig, Fields};
use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, error_kind, Binding, CrossRef, DeclaredCertificate, Endpoint, Host, Location, Page, PluginError,
    PluginInfo, Provider, Scope, Source,
};
use serde::{Deserialize, Serialize};

/// The plugin name.
pub const PLUGIN_NAME: &str = "alibaba-slb";

// Alibaba publishes no QPS for these operations; 100/s per operation is
// the emulator's (and our) conservative assumption, adjustable per API
// with `rate_limits`.
const REGIONS: Api = Api::assumed(Product::Slb, "DescribeRegions", 100.0);
const CERTIFICATES: Api = Api::assumed(Product::Slb, "DescribeServerCertificates", 100.0);
const LOAD_BALANCERS: Api = Api::assumed(Product::Slb, "DescribeLoadBalancers", 100.0);
const ATTRIBUTE: Api = Api::assumed(Product::Slb, "DescribeLoadBalancerAttribute", 100.0);
const HTTPS_LISTENER: Api = Api::assumed(Product::Slb, "DescribeLoadBalancerHTTPSListenerAttribute", 100.0);
const APIS: &[Api] = &[REGIONS, CERTIFICATES, LOAD_BALANCERS, ATTRIBUTE, HTTPS_LISTENER];
/// How `LOAD_BALANCERS` pages in `region` (the pager asks for its own page size).
fn load_balancers_request(region: &str) -> ListRequest<'static> {
    ListRequest::new(
        LOAD_BALANCERS.spec(),
        PageStyle::PageNumber { page_size: MAX_PAGE_SIZE as u32 },
        &["LoadBalancers", "LoadBalancer"],
    )
    .param("RegionId", region)
}
/// `DescribeLoadBalancers` accepts PageSize 1..=100.
const MAX_PAGE_SIZE: u64 = 100;
/// Unfinished listings kept per opened source (one per region being listed).
const LISTINGS_KEPT: usize = 256;

/// The provider type to register statically:
/// `registry.add_static(certinspect_sdk::static_module::<AlibabaSlbProvider>())`.
#[derive(Debug)]
pub struct AlibabaSlbProvider;

impl Provider for AlibabaSlbProvider {
    fn info() -> PluginInfo {
        PluginInfo::new(PLUGIN_NAME, env!("CARGO_PKG_VERSION"))
            .with_description("Alibaba Cloud SLB (CLB): server certificates and the HTTPS listeners serving them")
            .with_provider("alibaba", ["slb"])
            .with_capability(capability::INVENTORY)
            .with_config_schema(config_schema())
            .with_rate_limits(documented_rate_limits(APIS))
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = SlbConfig::read(&config)?;
        let context = AlibabaContext::new(settings.common.clone(), APIS, host)?;
        Ok(Box::new(SlbSource { context: Arc::new(context), settings, listings: ListingStore::new(LISTINGS_KEPT) }))
    }
}

/// The JSON Schema of the plugin's configuration.
pub fn config_schema() -> Value {
    config::schema(
        "alibaba-slb",
        schema_json!({
            "regions": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1, "description": "Regions to list (one scope each). Default: every region DescribeRegions returns." },
            "page_size": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "Load balancers per page (one host call), default 50." },
            "listener_concurrency": { "type": "integer", "minimum": 1, "maximum": 16, "description": "Load balancers read at once within a page, default 4 (the rate limiter still applies)." },
            "wildcard_probe_label": { "type": "string", "minLength": 1, "description": "Probe wildcard SNI extension domains *.example.com as <label>.example.com; without it they are reported as not probeable." },
            "probe_intranet": { "type": "boolean", "description": "Probe load balancers with AddressType intranet (private addresses, reachable only inside their VPC): set when inspect runs inside the VPC. Default false: they are reported as not probeable." }
        }),
        &api_names(APIS),
    )
}

#[derive(Debug, Clone)]
struct SlbConfig {
    common: CommonConfig,
    regions: Option<Vec<String>>,
    page_size: u64,
    concurrency: usize,
    wildcard_label: Option<String>,
    probe_intranet: bool,
}

impl SlbConfig {
    fn read(config: &Value) -> Result<Self, PluginError> {
        let mut fields = Fields::new(config)?;
        let common = CommonConfig::read(&mut fields, &api_names(APIS))?;
        let regions = fields.strings("regions", None)?;
        if let Some(bad) = regions
            .iter()
            .flatten()
            .find(|r| !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(config::invalid("regions", &format!("expected region ids like cn-hangzhou, found \"{bad}\"")));
        }
        let page_size = fields.integer("page_size", 1, MAX_PAGE_SIZE)?.unwrap_or(50);
        let concurrency = fields.integer("listener_concurrency", 1, 16)?.unwrap_or(4) as usize;
        let wildcard_label = fields.string("wildcard_probe_label")?;
        if let Some(label) = wildcard_label.as_deref().filter(|l| !is_label(l)) {
            return Err(config::invalid(
                "wildcard_probe_label",
                &format!("expected one DNS label like www, found \"{label}\""),
            ));
        }
        let probe_intranet = fields.boolean("probe_intranet")?.unwrap_or(false);
        fields.finish()?;
        Ok(Self { common, regions, page_size, concurrency, wildcard_label, probe_intranet })
    }
}

struct SlbSource {
    context: Arc<AlibabaContext>,
    settings: SlbConfig,
    listings: ListingStore<Listing>,
}

/// A region's listing between calls.
#[derive(Debug)]
struct Listing {
    region: String,
    /// `DescribeServerCertificates` rows by `ServerCertificateId`.
    certificates: Arc<BTreeMap<String, Value>>,
    /// Certificates seen on a listener so far.
    bound: BTreeSet<String>,
    pager: Pager,
    /// Load balancers that could not be read completely.
    failed: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    listing: u64,
}

impl Source for SlbSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        let regions = match &self.settings.regions {
            Some(regions) => regions.clone(),
            None => self.all_regions()?,
        };
        Ok(regions
            .into_iter()
            .map(|region| Scope { label: format!("SLB {region}, account {}", self.context.account()), id: region })
            .collect())
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        let region = scope;
        let client = self.context.client(Some(region));
        let what = format!("SLB {region} (account {})", self.context.account());
        let (id, state) = match cursor {
            None => {
                let certificates = self.server_certificates(&client, region, &what)?;
                let listing = Listing {
                    region: region.to_owned(),
                    certificates: Arc::new(certificates),
                    bound: BTreeSet::new(),
                    pager: Pager::new(self.settings.page_size),
                    failed: Vec::new(),
                };
                let id = self.listings.insert(listing);
                (id, self.listings.get(id)?)
            }
            Some(text) => {
                let id = decode_cursor::<Cursor>(text)?.listing;
                (id, self.listings.get(id)?)
            }
        };
        let mut listing = state.lock().unwrap_or_else(|p| p.into_inner());
        if listing.region != region {
            return Err(PluginError::protocol(format!("cursor belongs to region {}, not {region}", listing.region)));
        }
        let request = load_balancers_request(region);
        let load_balancers = match fetch_page(&mut listing.pager, &client, &request, &what) {
            Ok(rows) => rows,
            Err(error) => {
                drop(listing);
                self.listings.remove(id);
                return Err(error);
            }
        };
        let mut page = Page::default();
        let outcomes = self.read_load_balancers(&client, region, &load_balancers);
        if let Some(refused) = outcomes.iter().find_map(|o| o.refused.clone()) {
            drop(listing);
            self.listings.remove(id);
            return Err(PluginError::new(refused.kind, format!("{what}: {}", refused.message)));
        }
        let certificates = Arc::clone(&listing.certificates);
        for outcome in outcomes {
            for (lb, listener) in outcome.listeners {
                for (place, certificate_id) in listener.places() {
                    listing.bound.insert(certificate_id.clone());
                    match certificates.get(&certificate_id) {
                        Some(_) => {}
                        None => page.warnings.push(format!(
                            "{what}: load balancer {} port {} uses server certificate {certificate_id}, which DescribeServerCertificates does not list; declared with its id only",
                            text(&lb["LoadBalancerId"]).unwrap_or_default(),
                            listener.port
                        )),
                    }
                    page.bindings.push(self.listener_binding(
                        region,
                        &lb,
                        &listener,
                        &place,
                        &certificate_id,
                        &certificates,
                    ));
                }
            }
            if let Some(warning) = outcome.warning {
                listing.failed.push(outcome.id.clone());
                page.warnings.push(format!("{what}: {warning}"));
            }
        }
        if listing.pager.done() {
            let unbound: Vec<(&String, &Value)> =
                certificates.iter().filter(|(id, _)| !listing.bound.contains(*id)).collect();
            if !listing.failed.is_empty() && !unbound.is_empty() {
                page.warnings.push(format!(
                    "{what}: {} certificates are reported as bound nowhere, but load balancers {} could not be read completely, so some of them may be in use there",
                    unbound.len(),
                    listing.failed.join(", ")
                ));
            }
            for (id, row) in unbound {
                page.bindings.push(self.inventory_binding(region, id, row));
            }
            drop(listing);
            self.listings.remove(id);
        } else {
            page.next_cursor = Some(encode_cursor(&Cursor { listing: id }));
        }
        Ok(page)
    }
}

/// One HTTPS listener as read.
#[derive(Debug, Clone)]
struct Listener {
    port: u16,
    status: Option<String>,
    default_certificate: Option<String>,
    /// `(Domain, DomainExtensionId, ServerCertificateId)`.
    extensions: Vec<(String, String, String)>,
}

/// Where on a listener a certificate is served.
#[derive(Debug, Clone)]
enum Place {
    Default,
    Extension { domain: String, id: String },
}

impl Listener {
    fn places(&self) -> Vec<(Place, String)> {
        let mut out = Vec::new();
        if let Some(id) = &self.default_certificate {
            out.push((Place::Default, id.clone()));
        }
        for (domain, id, certificate) in &self.extensions {
            out.push((Place::Extension { domain: domain.clone(), id: id.clone() }, certificate.clone()));
        }
        out
    }
}

/// What reading one load balancer gave.
struct LbOutcome {
    id: String,
    listeners: Vec<(Value, Listener)>,
    warning: Option<String>,
    /// The credentials were refused or lack a RAM permission: every load
    /// balancer would fail the same way, so the scope fails with this one error.
    refused: Option<PluginError>,
}

impl SlbSource {
    fn all_regions(&self) -> Result<Vec<String>, PluginError> {
        // DescribeRegions answers from any regional endpoint; the central one will do.
        let client = self.context.client(Some("cn-hangzhou"));
        let answer = client
            .call(&REGIONS.spec(), &[("RegionId".into(), "cn-hangzhou".into())])
            .map_err(|e| failure(&format!("SLB (account {}): DescribeRegions", self.context.account()), &e))?;
        let rows = rows_at(&answer, &["Regions", "Region"]).map_err(PluginError::other)?;
        let regions: Vec<String> = rows.iter().filter_map(|r| text(&r["RegionId"])).collect();
        if regions.is_empty() {
            return Err(PluginError::other("SLB: DescribeRegions returned no regions"));
        }
        Ok(regions)
    }

    fn server_certificates(
        &self,
        client: &Client,
        region: &str,
        what: &str,
    ) -> Result<BTreeMap<String, Value>, PluginError> {
        let answer = client
            .call(&CERTIFICATES.spec(), &[("RegionId".into(), region.into())])
            .map_err(|e| failure(&format!("{what}: DescribeServerCertificates"), &e))?;
        let rows = rows_at(&answer, &["ServerCertificates", "ServerCertificate"])
            .map_err(|d| PluginError::other(format!("{what}: DescribeServerCertificates: {d}")))?;
        Ok(rows.into_iter().filter_map(|row| text(&row["ServerCertificateId"]).map(|id| (id, row))).collect())
    }

    /// Reads the load balancers of one page, `listener_concurrency` at a
    /// time; results come back in page order.
    fn read_load_balancers(&self, client: &Client, region: &str, rows: &[Value]) -> Vec<LbOutcome> {
        let results: Mutex<Vec<Option<LbOutcome>>> = Mutex::new((0..rows.len()).map(|_| None).collect());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let worker = || loop {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(row) = rows.get(index) else { break };
            let outcome = read_load_balancer(client, region, row);
            results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(outcome);
        };
        let threads = self.settings.concurrency.min(rows.len()).max(1);
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(worker);
            }
            worker();
        });
        results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
    }

    fn listener_binding(
        &self,
        region: &str,
        lb: &Value,
        listener: &Listener,
        place: &Place,
        certificate_id: &str,
        certificates: &BTreeMap<String, Value>,
    ) -> Binding {
        let row = certificates.get(certificate_id);
        let declared =
            row.map(declared).unwrap_or_else(|| DeclaredCertificate::default().with_provider_id(certificate_id));
        let address = text(&lb["Address"]);
        let lb_status = text(&lb["LoadBalancerStatus"]);
        let address_type = text(&lb["AddressType"]);
        let sni: Result<Option<String>, String> = match place {
            Place::Default => Ok(declared.common_name.clone().filter(|cn| is_plain_hostname(cn))),
            Place::Extension { domain, .. } => match (wildcard_base(domain), &self.settings.wildcard_label) {
                (None, _) => Ok(Some(domain.clone())),
                (Some(base), Some(label)) => Ok(Some(format!("{label}.{base}"))),
                (Some(_), None) => Err(format!(
                    "wildcard SNI domain {domain}: no single name to send; set wildcard_probe_label to probe one name under it"
                )),
            },
        };
        let blocked = if lb_status.as_deref().is_some_and(|s| s != "active") {
            Some(format!("load balancer is {}", lb_status.clone().unwrap_or_default()))
        } else if listener.status.as_deref() == Some("stopped") {
            Some(format!("listener {} is stopped", listener.port))
        } else if address.is_none() {
            Some("the load balancer has no address".to_owned())
        } else if address_type.as_deref() == Some("intranet") && !self.settings.probe_intranet {
            Some(format!(
                "intranet load balancer: {} is a private address reachable only inside its VPC; set probe_intranet = true when inspect runs there",
                address.clone().unwrap_or_default()
            ))
        } else {
            None
        };
        let (endpoint, not_probeable) = match (blocked, sni, &address) {
            (Some(reason), _, _) => (None, Some(reason)),
            (None, Err(reason), _) => (None, Some(reason)),
            (None, Ok(sni), Some(address)) => {
                let mut endpoint = Endpoint::new(address, listener.port).with_addresses([address]);
                endpoint.sni = sni;
                (Some(endpoint), None)
            }
            (None, Ok(_), None) => (None, Some("the load balancer has no address".to_owned())),
        };
        let (role, extension_domain, extension_id) = match place {
            Place::Default => ("default", None, None),
            Place::Extension { domain, id } => ("extension", Some(domain.clone()), Some(id.clone())),
        };
        let mut location = Location::new("slb", text(&lb["LoadBalancerId"]).unwrap_or_default())
            .with_account(self.context.account())
            .with_region(region)
            .with_listener_port(listener.port);
        location.resource_name = text(&lb["LoadBalancerName"]);
        (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
        Binding::new(location, declared)
            .with_xrefs(row.map(xrefs).unwrap_or_default())
            .with_tags(tags(&lb["Tags"]))
            .with_extra(json!({
                    "certificate_role": role,
                    "extension_domain": extension_domain,
                    "domain_extension_id": extension_id,
                    "listener_status": listener.status,
                    "load_balancer_status": lb_status,
                    "address_type": address_type,
                    "expiry_note": row.and_then(|r| expiry(r).1),
                    "is_alicloud_certificate": row.and_then(|r| read_i64(&r["IsAliCloudCertificate"])),
                    "alicloud_certificate_name": row.and_then(|r| text(&r["AliCloudCertificateName"])),
            }))
    }

    fn inventory_binding(&self, region: &str, id: &str, row: &Value) -> Binding {
        let mut location = Location::new("slb", id).with_account(self.context.account()).with_region(region);
        location.resource_name = text(&row["ServerCertificateName"]);
        Binding::new(location, declared(row)).with_xrefs(xrefs(row)).with_extra(json!({
                "certificate_role": "unbound",
                "expiry_note": expiry(row).1,
                "is_alicloud_certificate": read_i64(&row["IsAliCloudCertificate"]),
                "alicloud_certificate_name": text(&row["AliCloudCertificateName"]),
        }))
    }
}

/// A resource's `Tags.Tag[] {TagKey, TagValue}`; entries without a key are skipped.
fn tags(tags: &Value) -> Vec<(String, String)> {
    let list = tags["Tag"].as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter().filter_map(|t| Some((text(&t["TagKey"])?, text(&t["TagValue"]).unwrap_or_default()))).collect()
}

/// Reads one load balancer's HTTPS listeners. A failure loses only this
/// load balancer (or one of its listeners) and says so.
fn read_load_balancer(client: &Client, region: &str, lb: &Value) -> LbOutcome {
    let id = text(&lb["LoadBalancerId"]).unwrap_or_default();
    let mut outcome = LbOutcome { id: id.clone(), listeners: Vec::new(), warning: None, refused: None };
    let base = [("RegionId".to_owned(), region.to_owned()), ("LoadBalancerId".to_owned(), id.clone())];
    let attribute = match client.call(&ATTRIBUTE.spec(), &base) {
        Ok(answer) => answer,
        Err(e) => {
            let error = failure(&format!("load balancer {id}: DescribeLoadBalancerAttribute"), &e);
            if error.kind == error_kind::CREDENTIALS {
                outcome.refused = Some(error);
            } else {
                outcome.warning = Some(format!("{}; its listeners are not listed", error.message));
            }
            return outcome;
        }
    };
    let mut failed = Vec::new();
    for port in https_ports(&attribute) {
        let mut params = base.to_vec();
        params.push(("ListenerPort".into(), port.to_string()));
        match client.call(&HTTPS_LISTENER.spec(), &params) {
            Ok(answer) => {
                let extensions = rows_at(&answer, &["DomainExtensions", "DomainExtension"])
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| {
                        Some((
                            text(&e["Domain"])?,
                            text(&e["DomainExtensionId"]).unwrap_or_default(),
                            text(&e["ServerCertificateId"])?,
                        ))
                    })
                    .collect();
                let listener = Listener {
                    port,
                    status: text(&answer["Status"]),
                    default_certificate: text(&answer["ServerCertificateId"]),
                    extensions,
                };
                outcome.listeners.push((lb.clone(), listener));
            }
            Err(e) => {
                let error = failure(&format!("port {port}"), &e);
                if error.kind == error_kind::CREDENTIALS {
                    outcome.refused = Some(failure(
                        &format!("load balancer {id} port {port}: DescribeLoadBalancerHTTPSListenerAttribute"),
                        &e,
                    ));
                    return outcome;
                }
                failed.push(error.message)
            }
        }
    }
    if !failed.is_empty() {
        outcome.warning = Some(format!(
            "load balancer {id}: DescribeLoadBalancerHTTPSListenerAttribute failed for {}; those listeners are not listed",
            failed.join("; ")
        ));
    }
    outcome
}

/// HTTPS listener ports from `DescribeLoadBalancerAttribute` (also reading
/// the legacy misspelt `ListenerPortsAndProtocal` twin).
fn https_ports(attribute: &Value) -> Vec<u16> {
    let mut ports: Vec<u16> = rows_at(attribute, &["ListenerPortsAndProtocol", "ListenerPortAndProtocol"])
        .unwrap_or_default()
        .iter()
        .filter(|l| text(&l["ListenerProtocol"]).is_some_and(|p| p.eq_ignore_ascii_case("https")))
        .filter_map(|l| read_u64(&l["ListenerPort"]).and_then(|p| u16::try_from(p).ok()))
        .collect();
    if ports.is_empty() {
        ports = rows_at(attribute, &["ListenerPortsAndProtocal", "ListenerPortAndProtocal"])
            .unwrap_or_default()
            .iter()
            .filter(|l| text(&l["ListenerProtocal"]).is_some_and(|p| p.eq_ignore_ascii_case("https")))
            .filter_map(|l| read_u64(&l["ListenerPort"]).and_then(|p| u16::try_from(p).ok()))
            .collect();
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// `SubjectAlternativeName` elements as names. The SDK model has a list of
/// strings, one per name; the API reference's example sends one element
/// holding all names as a JSON array text (`["[\"a\",\"b\"]"]`). Both are read.
fn subject_alternative_names(row: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for element in rows_at(row, &["SubjectAlternativeNames", "SubjectAlternativeName"]).unwrap_or_default() {
        let Some(element) = text(&element) else { continue };
        let embedded = element
            .starts_with('[')
            .then(|| certinspect_sdk::serde_json::from_str::<Vec<String>>(&element).ok())
            .flatten();
        match embedded {
            Some(list) => names.extend(list.into_iter().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())),
            None => names.push(element),
        }
    }
    names
}

/// Expiry tolerance between `ExpireTime` (seconds) and `ExpireTimeStamp`.
const EXPIRY_TOLERANCE_SECONDS: i64 = 1;

/// The expiry (UNIX seconds) and, when the two fields disagree, a note
/// saying so. `ExpireTime` (ISO-8601 UTC) is preferred: the API reference's
/// own example pairs a correct `ExpireTime` with an `ExpireTimeStamp` of
/// 15041477450, which is neither seconds nor milliseconds. The timestamp is
/// read by magnitude (milliseconds from 10^11 on) and only used alone.
fn expiry(row: &Value) -> (Option<i64>, Option<String>) {
    let iso_text = text(&row["ExpireTime"]);
    let iso = iso_text.as_deref().and_then(alibaba_openapi::parse_iso8601_utc).map(|ms| ms.div_euclid(1000));
    let stamp = read_i64(&row["ExpireTimeStamp"]).filter(|t| *t != 0);
    let stamp_seconds = stamp.map(certinspect_alibaba_common::time::seconds_by_magnitude);
    match (iso, stamp, stamp_seconds) {
        (Some(iso), Some(raw), Some(seconds)) if (iso - seconds).abs() > EXPIRY_TOLERANCE_SECONDS => {
            let read_as = alibaba_openapi::format_iso8601_utc(seconds.saturating_mul(1000));
            let note = format!(
                "DescribeServerCertificates disagrees with itself: ExpireTime {} but ExpireTimeStamp {raw} (read as {read_as}); ExpireTime is used",
                iso_text.unwrap_or_default()
            );
            (Some(iso), Some(note))
        }
        (Some(iso), _, _) => (Some(iso), None),
        (None, _, seconds) => (seconds, None),
    }
}

/// The declared certificate from a `DescribeServerCertificates` row.
fn declared(row: &Value) -> DeclaredCertificate {
    let sans = subject_alternative_names(row);
    let (not_after, _) = expiry(row);
    let mut declared = DeclaredCertificate::default().with_sans(sans);
    declared.provider_id = text(&row["ServerCertificateId"]);
    declared.name = text(&row["ServerCertificateName"]);
    declared.common_name = text(&row["CommonName"]);
    if let Some(sha1) = text(&row["Fingerprint"]) {
        declared = declared.with_fingerprint("sha1", &sha1);
    }
    declared.not_after = not_after;
    declared
}

/// The CAS cross-references of a certificate from CAS. `AliCloudCertificateId`
/// is a CAS certificate id, or the CAS `CertIdentifier` form `<id>-<region>`
/// (`12345-cn-hangzhou`); both give the CAS id, the latter also the identifier.
fn xrefs(row: &Value) -> Vec<CrossRef> {
    let (Some(1), Some(id)) = (read_i64(&row["IsAliCloudCertificate"]), text(&row["AliCloudCertificateId"])) else {
        return Vec::new();
    };
    match cas_id_of_identifier(&id) {
        Some(digits) => vec![
            CrossRef { kind: "cas-certificate-id".into(), value: digits.to_owned() },
            CrossRef { kind: "cas-cert-identifier".into(), value: id.clone() },
        ],
        None => vec![CrossRef { kind: "cas-certificate-id".into(), value: id }],
    }
}

/// `12345-cn-hangzhou` -> `12345`: digits, a hyphen, a region id.
fn cas_id_of_identifier(id: &str) -> Option<&str> {
    let (digits, region) = id.split_once('-')?;
    let is_region =
        !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && is_region).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_ports_come_from_either_spelling() {
        let modern = json!({"ListenerPortsAndProtocol": {"ListenerPortAndProtocol": [
            {"ListenerPort": 80, "ListenerProtocol": "http"}, {"ListenerPort": 443, "ListenerProtocol": "https"}]}});
        assert_eq!(https_ports(&modern), vec![443]);
        let legacy = json!({"ListenerPortsAndProtocal": {"ListenerPortAndProtocal": [
            {"ListenerPort": 8443, "ListenerProtocal": "https"}]}});
        assert_eq!(https_ports(&legacy), vec![8443]);
    }

    #[test]
    fn declared_certificates_normalise_fingerprints_and_link_cas() {
        let row = json!({"ServerCertificateId": "sc-1", "Fingerprint": "AB:cd:01", "CommonName": "a.example",
            "SubjectAlternativeNames": {"SubjectAlternativeName": ["a.example", "b.example"]},
            "ExpireTimeStamp": 1_732_169_065_000_i64, "IsAliCloudCertificate": 1, "AliCloudCertificateId": "123"});
        let d = declared(&row);
        assert_eq!(d.fingerprint("sha1"), Some("abcd01"));
        assert_eq!(d.not_after, Some(1_732_169_065));
        assert_eq!(d.sans.len(), 2);
        assert_eq!(xrefs(&row), vec![CrossRef { kind: "cas-certificate-id".into(), value: "123".into() }]);
        assert!(xrefs(&json!({"IsAliCloudCertificate": 0, "AliCloudCertificateId": ""})).is_empty());
    }

    /// The example answer of the API reference ("DescribeServerCertificates"): the SANs
    /// as one JSON-array string, and an `ExpireTimeStamp` that is neither seconds nor
    /// milliseconds next to a correct `ExpireTime`.
    fn reference_example() -> Value {
        json!({"ServerCertificateId": "idkp-123-cn-test", "CommonName": "www.example.com",
            "SubjectAlternativeNames": {"SubjectAlternativeName": ["[\"demo.aliyundoc.com\",\"example.aliyundoc.com\"]"]},
            "ExpireTime": "2023-01-26T23:59:59Z", "ExpireTimeStamp": 15_041_477_450_i64,
            "Fingerprint": "68:08:1a:f8:2c:97:69:a3:a1:e4:6f:7a:e4:b6:e9:2d:ad:86:ad:7b",
            "IsAliCloudCertificate": 0})
    }

    #[test]
    fn sans_sent_as_one_json_array_string_are_read_as_names() {
        assert_eq!(declared(&reference_example()).sans, ["demo.aliyundoc.com", "example.aliyundoc.com"]);
    }

    #[test]
    fn expiry_prefers_the_iso_string_over_an_implausible_timestamp() {
        // 2023-01-26T23:59:59Z
        assert_eq!(declared(&reference_example()).not_after, Some(1_674_777_599));
    }

    #[test]
    fn expiry_disagreements_are_noted_and_agreement_is_silent() {
        let (_, note) = expiry(&reference_example());
        let note = note.unwrap();
        assert!(note.contains("2023-01-26T23:59:59Z") && note.contains("15041477450"), "{note}");
        let cases = [
            (
                json!({"ExpireTime": "2024-11-21T06:04:25Z", "ExpireTimeStamp": 1_732_169_065_000_i64}),
                Some(1_732_169_065),
            ),
            (json!({"ExpireTime": "2024-11-21T06:04:25Z", "ExpireTimeStamp": 1_732_169_065_i64}), Some(1_732_169_065)),
            (json!({"ExpireTimeStamp": 1_732_169_065_000_i64}), Some(1_732_169_065)),
            (json!({"ExpireTime": "2024-11-21T06:04:25Z"}), Some(1_732_169_065)),
            (json!({}), None),
        ];
        for (row, expected) in cases {
            assert_eq!(expiry(&row), (expected, None), "{row}");
        }
    }

    #[test]
    fn cas_ids_in_cert_identifier_form_are_normalised() {
        let row = json!({"IsAliCloudCertificate": 1, "AliCloudCertificateId": "12345-cn-hangzhou"});
        let kinds: Vec<(String, String)> = xrefs(&row).into_iter().map(|x| (x.kind, x.value)).collect();
        assert!(kinds.contains(&("cas-certificate-id".into(), "12345".into())), "{kinds:?}");
        assert!(kinds.contains(&("cas-cert-identifier".into(), "12345-cn-hangzhou".into())), "{kinds:?}");
        for not_an_identifier in ["12345", "abc-cn-hangzhou", "12345-", "-cn-hangzhou", "12-CN"] {
            assert_eq!(cas_id_of_identifier(not_an_identifier), None, "{not_an_identifier}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let error = |config: Value| SlbConfig::read(&config).unwrap_err().message;
        assert!(error(json!({"regions": []})).starts_with("regions: expected at least one entry"));
        assert!(error(json!({"regions": ["cn hangzhou"]})).starts_with("regions: expected region ids"));
        assert!(error(json!({"page_size": 101})).starts_with("page_size: expected an integer from 1 to 100"));
        assert!(error(json!({"rate_limits": {"DescribeLoadBalancers": "fast"}}))
            .starts_with("rate_limits.DescribeLoadBalancers: expected a number"));
    }
}
