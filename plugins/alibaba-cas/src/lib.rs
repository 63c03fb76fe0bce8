//! The `alibaba-cas` certinspect provider: the Alibaba Cloud SSL
//! Certificates Service (CAS) inventory of an account, valid and expired,
//! and the revocation-lookup capability.
//!
//! Per scope (a CAS site: the configured `regions`, deduplicated by the
//! endpoint they resolve to, since every `cn-*` region is one inventory):
//!
//! 1. the auto-management sources — `ListUserCertificateOrder` with
//!    `OrderType=CPACK` and `BUY` (`TrusteeStatus`) and `ListInstances`
//!    (`AutoReissue`) — and `ListCloudResources` (where CAS says each
//!    certificate is deployed) are read first. Order rows carry no
//!    `CertificateId` (the SDK documents it for CERT/UPLOAD rows only), so
//!    they are linked by `InstanceId`; `ListInstances` (always read) names
//!    each instance's current certificate, which is how renewals are found;
//! 2. the certificates: `ListUserCertificateOrder` with `OrderType=CERT`,
//!    once without a status (the API then hides expired certificates) and
//!    once with `Status=EXPIRED`, one binding per certificate: serial, SHA-1
//!    and SHA-256, CN, SANs, validity, auto-managed state (linked through
//!    the order/instance id and certificate id), the deployments in `extra`,
//!    and the cross-references `cas-certificate-id`, `cas-certificate-name`
//!    and (when known) `cas-cert-identifier`.
//!
//! Each API has its own 10 QPS budget, so the lists run as one lane per API
//! ([`Lane`]), each on its own thread for a few seconds per host call: the
//! `ListUserCertificateOrder` lane pages CPACK, BUY, then the two certificate
//! passes; `ListInstances` and `ListCloudResources` page beside it. The listing therefore takes as
//! long as its busiest API needs at its limit, not the sum of the lists.
//! Certificate rows fetched before step 1 is complete are held (they need
//! its facts) and handed out as bindings once it is.
//!
//! A certificate is an inventory record (no endpoint): the deployments come
//! from the CDN, SLB and ALB plugins, and the core joins them with these
//! records. Deployments on products without a plugin of their own (WAF, API
//! Gateway, OSS, FC, GA, Live, VOD, ...: every `ListCloudResources` row with a
//! domain, `deployment_bindings`) become probeable bindings of their own —
//! `Domain:ListenerPort` (443 without a port), SNI = the domain — so
//! CAS-managed certificates are verified on every product.
//! A renewed auto-managed certificate is an ordinary record with a later
//! validity start and the same names, so the core sees that a deployment of
//! the older one is stale; `extra.superseded_by` says the same from CAS's side.
//!
//! `GetUserCertificateDetail` (which returns private keys unless
//! `CertFilter=true`) is never called: the list rows carry everything
//! needed. Validity from the list rows is day-precise; where
//! `ListInstances`, `ListCloudResources` or the order rows give exact times
//! for a certificate, those are used (`extra.validity_precision`).
//!
//! Revocation lookup (`lookup_revocation`) asks CAS 2020-06-30
//! `DescribeClientCertificateStatusForSerialNumber` in comma-separated
//! batches, within its 10 QPS. It knows only certificates of Alibaba's
//! private CA; others come back `unknown`.
//!
//! What it is not: an exporter (see `certinspect-alibaba-cas-dylib`) or an
//! HTTP client: every call goes through `alibaba-openapi` over the host.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alibaba_openapi::{Client, Product};
use certinspect_alibaba_common::config::{self, schema_json};
use certinspect_alibaba_common::context::{api_names, documented_rate_limits};
use certinspect_alibaba_common::errors::failure;
use certinspect_alibaba_common::fingerprint::fingerprint_by_length;
use certinspect_alibaba_common::names::is_plain_hostname;
use certinspect_alibaba_common::paging::{fetch_page, read_i64, text, ListRequest, PageStyle, Pager};
use certinspect_alibaba_common::state::{decode_cursor, encode_cursor, ListingStore};
use certinspect_alibaba_common::time::{parse_day, seconds_by_magnitude};
use certinspect_alibaba_common::{AlibabaContext, Api, CommonConfig, Fields};
use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{
    capability, normalize_hex, normalize_serial, Binding, CrossRef, DeclaredCertificate, Endpoint, Host, Location,
    Page, PluginError, PluginInfo, Provider, RevocationState, RevocationStatus, Scope, Source, Tristate,
};
use serde::{Deserialize, Serialize};

/// The plugin name.
pub const PLUGIN_NAME: &str = "alibaba-cas";

const ORDERS: Api = Api::new(Product::Cas, "ListUserCertificateOrder");
// No QPS is published for these two; CAS's documented limits are 10/s, so
// the same is assumed (adjustable with `rate_limits`).
const INSTANCES: Api = Api::assumed(Product::Cas, "ListInstances", 10.0);
const RESOURCES: Api = Api::assumed(Product::Cas, "ListCloudResources", 10.0);
const REVOCATION: Api = Api::new(Product::CasPca, "DescribeClientCertificateStatusForSerialNumber");
const APIS: &[Api] = &[ORDERS, INSTANCES, RESOURCES, REVOCATION];

/// A CAS list (`CurrentPage`/`ShowSize`) with its rows at `rows`; the pager
/// asks for its own page size (the setting, or the API's documented value).
fn cas_request(api: Api, rows: &'static [&'static str]) -> ListRequest<'static> {
    ListRequest::new(api.spec(), PageStyle::CurrentPage { show_size: documented_page_size(api) as u32 }, rows)
}
const ORDER_ROWS: &[&str] = &["CertificateOrderList"];
/// The largest `page_size` the setting accepts. Only `ListInstances`
/// documents a maximum (100); a size a service refuses is stepped down by
/// the pager, so a larger setting costs one call, not the listing.
const MAX_PAGE_SIZE: u64 = 500;

/// The documented `ShowSize` of each list (SDK request models,
/// cas20200407): `ListUserCertificateOrder` "Default value: 50",
/// `ListInstances` "Maximum value: 100", `ListCloudResources` "Default
/// value: 20".
fn documented_page_size(api: Api) -> u64 {
    match api.action {
        "ListInstances" => 100,
        "ListCloudResources" => 20,
        _ => 50,
    }
}
const LISTINGS_KEPT: usize = 64;

/// The provider type to register statically:
/// `registry.add_static(certinspect_sdk::static_module::<AlibabaCasProvider>())`.
#[derive(Debug)]
pub struct AlibabaCasProvider;

impl Provider for AlibabaCasProvider {
    fn info() -> PluginInfo {
        PluginInfo::new(PLUGIN_NAME, env!("CARGO_PKG_VERSION"))
            .with_description("Alibaba Cloud SSL Certificates Service (CAS): certificate inventory, auto-management, deployments, revocation")
            .with_provider("alibaba", ["cas"])
            .with_capability(capability::INVENTORY)
            .with_capability(capability::REVOCATION_LOOKUP)
            .with_config_schema(config_schema())
            .with_rate_limits(documented_rate_limits(APIS))
    }

    fn open(config: Value, host: Host) -> Result<Box<dyn Source>, PluginError> {
        let settings = CasConfig::read(&config)?;
        let context = AlibabaContext::new(settings.common.clone(), APIS, host)?;
        // Regions on one endpoint are one inventory: keep the first of each.
        let mut seen = BTreeSet::new();
        let mut sites = Vec::new();
        for region in &settings.regions {
            let endpoint = context.endpoint_for(Product::Cas, Some(region))?;
            if seen.insert(endpoint.clone()) {
                sites.push((region.clone(), endpoint));
            }
        }
        Ok(Box::new(CasSource {
            context: Arc::new(context),
            settings,
            sites,
            listings: ListingStore::new(LISTINGS_KEPT),
        }))
    }
}

/// The JSON Schema of the plugin's configuration.
pub fn config_schema() -> Value {
    config::schema(
        "alibaba-cas",
        schema_json!({
            "regions": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1, "description": "CAS sites by region (default [\"cn-hangzhou\"], the China site; ap-southeast-1 is the international site). Regions resolving to one endpoint are listed once." },
            "page_size": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "Rows per CAS list call (ShowSize) for every list. Default: each API's documented value (50 orders and certificates, 100 instances, 20 cloud resources); a size the service refuses is stepped down." },
            "auto_managed_sources": { "type": "array", "items": { "type": "string", "enum": ["orders", "instances"] }, "minItems": 1, "description": "Where auto-management is read: orders (TrusteeStatus of CPACK/BUY orders), instances (ListInstances AutoReissue). Default both." },
            "deployments": { "type": "boolean", "description": "Read ListCloudResources (where CAS says certificates are deployed), default true." },
            "deployment_bindings": { "type": "string", "enum": ["uncovered", "all", "none"], "description": "Which ListCloudResources rows with a domain become probeable bindings: uncovered (default: products without their own plugin, i.e. not CDN, DCDN, SLB, ALB), all, or none." },
            "revocation_batch_size": { "type": "integer", "minimum": 1, "maximum": 100, "description": "Serial numbers per DescribeClientCertificateStatusForSerialNumber call, default 20." }
        }),
        &api_names(APIS),
    )
}

#[derive(Debug, Clone)]
struct CasConfig {
    common: CommonConfig,
    regions: Vec<String>,
    /// `None`: each API's documented value.
    page_size: Option<u64>,
    from_orders: bool,
    from_instances: bool,
    deployments: bool,
    deployment_bindings: DeploymentBindings,
    revocation_batch: usize,
}

impl CasConfig {
    fn read(config: &Value) -> Result<Self, PluginError> {
        let mut fields = Fields::new(config)?;
        let common = CommonConfig::read(&mut fields, &api_names(APIS))?;
        let regions = fields.strings("regions", None)?.unwrap_or_else(|| vec!["cn-hangzhou".into()]);
        if let Some(bad) =
            regions.iter().find(|r| !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(config::invalid("regions", &format!("expected region ids like cn-hangzhou, found \"{bad}\"")));
        }
        let page_size = fields.integer("page_size", 1, MAX_PAGE_SIZE)?;
        let sources = fields
            .strings("auto_managed_sources", Some(&["orders", "instances"]))?
            .unwrap_or_else(|| vec!["orders".into(), "instances".into()]);
        let deployments = fields.boolean("deployments")?.unwrap_or(true);
        let deployment_bindings = match fields.choice("deployment_bindings", &["uncovered", "all", "none"])?.as_deref()
        {
            Some("all") => DeploymentBindings::All,
            Some("none") => DeploymentBindings::None,
            _ => DeploymentBindings::Uncovered,
        };
        let revocation_batch = fields.integer("revocation_batch_size", 1, 100)?.unwrap_or(20) as usize;
        fields.finish()?;
        Ok(Self {
            common,
            regions,
            page_size,
            from_orders: sources.iter().any(|s| s == "orders"),
            from_instances: sources.iter().any(|s| s == "instances"),
            deployments,
            deployment_bindings,
            revocation_batch,
        })
    }
}

/// Which `ListCloudResources` rows with a domain become bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeploymentBindings {
    /// Products no other Alibaba plugin lists.
    Uncovered,
    All,
    None,
}

/// `CloudProduct` values whose deployments the CDN, SLB and ALB plugins list themselves.
const COVERED_PRODUCTS: &[&str] = &["CDN", "DCDN", "SLB", "CLB", "ALB"];

struct CasSource {
    context: Arc<AlibabaContext>,
    settings: CasConfig,
    /// (region, endpoint) per scope.
    sites: Vec<(String, String)>,
    listings: ListingStore<Listing>,
}

/// The lists of a scope's listing. Lists of one API share its budget, so
/// they page one after the other in this order; lists of different APIs
/// page side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Cpack,
    Buy,
    Instances,
    Resources,
    /// `OrderType=CERT` without a status: the valid certificates.
    Valid,
    /// `OrderType=CERT`, `Status=EXPIRED`.
    Expired,
}

impl Lane {
    fn call(self) -> (Api, ListRequest<'static>, &'static str) {
        let certificates = || cas_request(ORDERS, ORDER_ROWS).param("OrderType", "CERT");
        match self {
            Lane::Cpack => (ORDERS, cas_request(ORDERS, ORDER_ROWS).param("OrderType", "CPACK"), "CPACK orders"),
            Lane::Buy => (ORDERS, cas_request(ORDERS, ORDER_ROWS).param("OrderType", "BUY"), "BUY orders"),
            Lane::Instances => (INSTANCES, cas_request(INSTANCES, &["InstanceList"]), "instances"),
            // `ListCloudResources` names its total `Total`.
            Lane::Resources => (RESOURCES, cas_request(RESOURCES, &["Data"]).total_field("Total"), "cloud resources"),
            Lane::Valid => (ORDERS, certificates(), "valid certificates"),
            Lane::Expired => (ORDERS, certificates().param("Status", "EXPIRED"), "expired certificates"),
        }
    }

    /// Whether the list gives certificates (bindings) rather than facts about them.
    fn certificates(self) -> bool {
        matches!(self, Lane::Valid | Lane::Expired)
    }
}

/// Held certificate rows handed out per host call once the facts are in.
const HELD_PER_PAGE: usize = 1000;
/// How long one host call pages before it returns: the APIs stop starting
/// pages after it (a page in flight finishes). Long enough that waiting for
/// the other APIs' last page at the end of a call costs the busiest API
/// little; far below the host's call deadline.
const CALL_BUDGET_MS: i64 = 5_000;

/// What CAS says about auto-management of an order/instance or certificate.
#[derive(Debug, Clone, Copy, Default)]
struct Managed {
    yes: bool,
    no: bool,
}

impl Managed {
    fn record(&mut self, value: Option<bool>) {
        match value {
            Some(true) => self.yes = true,
            Some(false) => self.no = true,
            None => {}
        }
    }

    fn merge(self, other: Managed) -> Managed {
        Managed { yes: self.yes || other.yes, no: self.no || other.no }
    }

    fn tristate(self) -> Tristate {
        if self.yes {
            Tristate::Yes
        } else if self.no {
            Tristate::No
        } else {
            Tristate::Unknown
        }
    }
}

/// A scope's listing between calls.
#[derive(Debug)]
struct Listing {
    region: String,
    /// Lists still to page through, with their pagers.
    pending: Vec<(Lane, Pager)>,
    /// Certificate rows listed before the facts were complete, in listing order.
    held: std::collections::VecDeque<Value>,
    /// Whether `ListInstances` `AutoReissue` counts as auto-management.
    from_instances: bool,
    /// Auto-management by instance (order) id and by certificate id.
    by_instance: BTreeMap<String, Managed>,
    by_certificate: BTreeMap<i64, Managed>,
    /// An instance's current certificate (after renewals, the newest).
    current: BTreeMap<String, i64>,
    /// `CertIdentifier` by certificate id.
    identifiers: BTreeMap<i64, String>,
    /// Exact validity (UNIX seconds) by certificate id.
    validity: BTreeMap<i64, (Option<i64>, Option<i64>)>,
    /// Exact validity of an order's (current) certificate, by instance id:
    /// order rows give times but no certificate id.
    order_validity: BTreeMap<String, (i64, i64)>,
    /// `ListInstances` certificate status by certificate id.
    statuses: BTreeMap<i64, String>,
    /// `ListCloudResources` rows by certificate id.
    deployments: BTreeMap<i64, Vec<Value>>,
    /// Certificates already reported (one may move from valid to expired between passes).
    reported: BTreeSet<i64>,
    duplicates: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    listing: u64,
}

impl Source for CasSource {
    fn scopes(&self) -> Result<Vec<Scope>, PluginError> {
        Ok(self
            .sites
            .iter()
            .map(|(region, endpoint)| Scope {
                id: region.clone(),
                label: format!("CAS {region} ({endpoint}), account {}", self.context.account()),
            })
            .collect())
    }

    fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, PluginError> {
        if !self.sites.iter().any(|(region, _)| region == scope) {
            return Err(PluginError::protocol(format!("unknown scope {scope:?}")));
        }
        let id = match cursor {
            None => self.listings.insert(self.new_listing(scope)),
            Some(text) => decode_cursor::<Cursor>(text)?.listing,
        };
        let state = self.listings.get(id)?;
        let mut listing = state.lock().unwrap_or_else(|p| p.into_inner());
        if listing.region != scope {
            return Err(PluginError::protocol(format!("cursor belongs to scope {}, not {scope}", listing.region)));
        }
        let client = self.context.client(Some(scope));
        let what = format!("CAS {scope} (account {})", self.context.account());
        let result = self.round(&client, &what, &mut listing).map(|()| self.certificate_page(&what, &mut listing));
        let finished = listing.pending.is_empty() && listing.held.is_empty();
        match result {
            Ok(mut page) if !finished => {
                page.next_cursor = Some(encode_cursor(&Cursor { listing: id }));
                Ok(page)
            }
            Ok(mut page) => {
                if listing.duplicates > 0 {
                    page.warnings.push(format!(
                        "{what}: {} certificates were listed both as valid and as expired (they expired while listing); each is reported once",
                        listing.duplicates
                    ));
                }
                drop(listing);
                self.listings.remove(id);
                Ok(page)
            }
            Err(error) => {
                drop(listing);
                self.listings.remove(id);
                Err(error)
            }
        }
    }

    fn lookup_revocation(&self, serials: &[String]) -> Result<Vec<RevocationStatus>, PluginError> {
        let Some((region, _)) = self.sites.first() else { return Ok(Vec::new()) };
        let client = self.context.client(Some(region));
        let mut answers: BTreeMap<String, RevocationStatus> = BTreeMap::new();
        // Only hex can be asked about; one malformed serial would make the
        // gateway refuse the whole batch.
        let askable: Vec<String> = {
            let mut list: Vec<String> = serials
                .iter()
                .map(|s| normalize_hex(s))
                .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()))
                .collect();
            list.sort();
            list.dedup();
            list
        };
        let batches: Vec<&[String]> = askable.chunks(self.settings.revocation_batch).collect();
        for (index, batch) in batches.iter().enumerate() {
            let params = [("SerialNumber".to_owned(), batch.join(","))];
            let answer = client.call(&REVOCATION.spec(), &params).map_err(|e| {
                failure(
                    &format!(
                        "CAS revocation lookup: DescribeClientCertificateStatusForSerialNumber batch {} of {} ({} serials)",
                        index + 1,
                        batches.len(),
                        batch.len()
                    ),
                    &e,
                )
            })?;
            let rows = certinspect_alibaba_common::paging::rows_at(&answer, &["CertificateStatus"])
                .map_err(PluginError::other)?;
            for row in rows {
                let Some(serial) = text(&row["SerialNumber"]) else { continue };
                let status = match text(&row["Status"]).as_deref() {
                    Some("good") => RevocationState::Good,
                    Some("revoked") => RevocationState::Revoked,
                    _ => RevocationState::Unknown,
                };
                let revoked_at = (status == RevocationState::Revoked)
                    .then(|| read_i64(&row["RevokeTime"]).filter(|t| *t > 0).map(seconds_by_magnitude))
                    .flatten();
                let mut answer = RevocationStatus::new(serial.clone(), status).with_source(PLUGIN_NAME);
                answer.revoked_at = revoked_at;
                answers.insert(normalize_serial(&serial), answer);
            }
        }
        // One answer per serial asked, in the order asked; what CAS did not
        // answer (or could not be asked) is unknown.
        Ok(serials
            .iter()
            .map(|serial| match answers.get(&normalize_serial(serial)) {
                Some(answer) => {
                    let mut answer = answer.clone();
                    answer.serial = serial.clone();
                    answer
                }
                None => RevocationStatus::new(serial.clone(), RevocationState::Unknown).with_source(PLUGIN_NAME),
            })
            .collect())
    }
}

impl CasSource {
    fn new_listing(&self, region: &str) -> Listing {
        let size = |api: Api| self.settings.page_size.unwrap_or_else(|| documented_page_size(api));
        let mut pending = Vec::new();
        if self.settings.from_orders {
            pending.push((Lane::Cpack, Pager::new(size(ORDERS))));
            pending.push((Lane::Buy, Pager::new(size(ORDERS))));
        }
        // Always read: it names each instance's current certificate (renewals)
        // and exact validity; its AutoReissue counts only when configured.
        pending.push((Lane::Instances, Pager::new(size(INSTANCES))));
        if self.settings.deployments {
            pending.push((Lane::Resources, Pager::new(size(RESOURCES))));
        }
        pending.push((Lane::Valid, Pager::new(size(ORDERS))));
        pending.push((Lane::Expired, Pager::new(size(ORDERS))));
        Listing {
            region: region.to_owned(),
            pending,
            held: Default::default(),
            from_instances: self.settings.from_instances,
            order_validity: BTreeMap::new(),
            by_instance: BTreeMap::new(),
            by_certificate: BTreeMap::new(),
            current: BTreeMap::new(),
            identifiers: BTreeMap::new(),
            validity: BTreeMap::new(),
            statuses: BTreeMap::new(),
            deployments: BTreeMap::new(),
            reported: BTreeSet::new(),
            duplicates: 0,
        }
    }

    /// Pages the pending lists for up to [`CALL_BUDGET_MS`]: one thread per
    /// API, each paging its lists in [`Lane`] order at its own rate limit,
    /// so a slow or throttled call holds up only its own API. Each API
    /// fetches at least one page per host call.
    fn round(&self, client: &Client, what: &str, listing: &mut Listing) -> Result<(), PluginError> {
        let host = self.context.host();
        let started = host.now_unix_ms();
        let mut by_api: Vec<Vec<(Lane, Pager)>> = Vec::new();
        for (lane, pager) in &listing.pending {
            let api = lane.call().0.action;
            match by_api.iter_mut().find(|lists| lists[0].0.call().0.action == api) {
                Some(lists) => lists.push((*lane, pager.clone())),
                None => by_api.push(vec![(*lane, pager.clone())]),
            }
        }
        type Paged = (Lane, Pager, Vec<Value>, Option<PluginError>);
        let results: Vec<Paged> = std::thread::scope(|scope| {
            let handles: Vec<_> = by_api
                .into_iter()
                .map(|lists| {
                    scope.spawn(move || {
                        let mut paged: Vec<Paged> = Vec::new();
                        let mut fetched = false;
                        for (lane, mut pager) in lists {
                            let (_, request, name) = lane.call();
                            let (mut rows, mut error) = (Vec::new(), None);
                            let over_budget = |fetched: bool| fetched && host.now_unix_ms() - started >= CALL_BUDGET_MS;
                            while !pager.done() && !over_budget(fetched) {
                                match fetch_page(&mut pager, client, &request, &format!("{what} {name}")) {
                                    Ok(page) => rows.extend(page),
                                    Err(e) => error = Some(e),
                                }
                                fetched = true;
                                if error.is_some() {
                                    break;
                                }
                            }
                            let stop = error.is_some() || !pager.done();
                            paged.push((lane, pager, rows, error));
                            if stop {
                                break;
                            }
                        }
                        paged
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| panic!("a CAS list call panicked"))).collect()
        });
        for (lane, pager, rows, error) in results {
            if let Some(error) = error {
                return Err(error);
            }
            match lane {
                Lane::Cpack | Lane::Buy => rows.iter().for_each(|row| listing.merge_order(row)),
                Lane::Instances => rows.iter().for_each(|row| listing.merge_instance(row)),
                Lane::Resources => rows.iter().for_each(|row| listing.merge_resource(row)),
                Lane::Valid | Lane::Expired => listing.held.extend(rows),
            }
            if let Some(slot) = listing.pending.iter_mut().find(|(l, _)| *l == lane) {
                slot.1 = pager;
            }
        }
        listing.pending.retain(|(_, pager)| !pager.done());
        Ok(())
    }

    /// Bindings for held certificate rows (valid ones first, then expired
    /// ones), once no list of facts is pending; an empty page before.
    fn certificate_page(&self, what: &str, listing: &mut Listing) -> Page {
        let mut page = Page::last(Vec::new());
        if listing.pending.iter().any(|(lane, _)| !lane.certificates()) {
            return page;
        }
        let take = listing.held.len().min(HELD_PER_PAGE);
        let rows: Vec<Value> = listing.held.drain(..take).collect();
        for row in &rows {
            let Some(id) = read_i64(&row["CertificateId"]) else {
                page.warnings.push(format!("{what}: a certificate row without CertificateId was skipped"));
                continue;
            };
            if !listing.reported.insert(id) {
                listing.duplicates += 1;
                continue;
            }
            let binding = self.binding(listing, id, row);
            for deployment in listing.deployments.get(&id).into_iter().flatten() {
                if let Some(deployed) = self.deployment_binding(&binding, deployment) {
                    page.bindings.push(deployed);
                }
            }
            page.bindings.push(binding);
        }
        page
    }

    /// A probeable binding for one `ListCloudResources` row (as summarised by
    /// `merge_resource`) with a domain, when the setting selects its product.
    fn deployment_binding(&self, certificate: &Binding, deployment: &Value) -> Option<Binding> {
        let domain = text(&deployment["domain"])?;
        let product = text(&deployment["product"]).unwrap_or_else(|| "unknown".to_owned());
        let covered = COVERED_PRODUCTS.iter().any(|p| p.eq_ignore_ascii_case(&product));
        match self.settings.deployment_bindings {
            DeploymentBindings::None => return None,
            DeploymentBindings::Uncovered if covered => return None,
            _ => {}
        }
        let port = text(&deployment["listener_port"]).and_then(|p| p.parse::<u16>().ok()).unwrap_or(443);
        let (endpoint, not_probeable) = if deployment["enable_https"] == json!(false) {
            (None, Some(format!("HTTPS is off for {domain} on {product} (ListCloudResources EnableHttps 0)")))
        } else if !is_plain_hostname(&domain) {
            (None, Some(format!("{domain} is no single host name to connect to")))
        } else {
            (Some(Endpoint::new(&domain, port).with_sni(&domain)), None)
        };
        let resource_id = text(&deployment["instance_id"]).unwrap_or_else(|| domain.clone());
        let mut location = Location::new(product.to_ascii_lowercase(), resource_id)
            .with_account(self.context.account())
            .with_resource_name(domain)
            .with_listener_port(port);
        location.region = text(&deployment["region"]).or_else(|| certificate.location.region.clone());
        (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
        Some(
            Binding::new(location, certificate.declared.clone())
                .with_xrefs(certificate.xrefs.clone())
                .with_extra(json!({ "source": "ListCloudResources", "deployment": deployment })),
        )
    }

    fn binding(&self, listing: &Listing, id: i64, row: &Value) -> Binding {
        let name = text(&row["Name"]);
        let instance = text(&row["InstanceId"]);
        let upload = row["Upload"].as_bool();
        let expired = row["Expired"].as_bool();
        let managed = instance
            .as_ref()
            .and_then(|i| listing.by_instance.get(i).copied())
            .unwrap_or_default()
            .merge(listing.by_certificate.get(&id).copied().unwrap_or_default());
        let mut auto_managed = managed.tristate();
        // CAS cannot renew a certificate it did not issue.
        if auto_managed == Tristate::Unknown && upload == Some(true) {
            auto_managed = Tristate::No;
        }
        let days =
            (text(&row["StartDate"]).and_then(|d| parse_day(&d)), text(&row["EndDate"]).and_then(|d| parse_day(&d)));
        // An order's times belong to its current certificate: used only when
        // they fall on this certificate's days.
        let same_days =
            |(nb, na): (i64, i64)| days == (Some(nb - nb.rem_euclid(86_400)), Some(na - na.rem_euclid(86_400)));
        let exact = match listing.validity.get(&id).copied() {
            Some((Some(nb), Some(na))) => Some((nb, na)),
            _ => instance.as_ref().and_then(|i| listing.order_validity.get(i).copied()).filter(|v| same_days(*v)),
        };
        let (not_before, not_after, precision) = match exact {
            Some((nb, na)) => (Some(nb), Some(na), "second"),
            None => (days.0, days.1, "day"),
        };
        let mut sans: Vec<String> = text(&row["Sans"])
            .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        sans.dedup();
        // `Fingerprint` names no algorithm: told by length. `Sha2` is SHA-256.
        let mut fingerprints: Vec<_> = [text(&row["Fingerprint"]), text(&row["Sha2"])]
            .iter()
            .flatten()
            .filter_map(|f| fingerprint_by_length(f))
            .collect();
        fingerprints.dedup();
        let mut xrefs = vec![CrossRef { kind: "cas-certificate-id".into(), value: id.to_string() }];
        if let Some(name) = &name {
            xrefs.push(CrossRef { kind: "cas-certificate-name".into(), value: name.clone() });
        }
        if let Some(identifier) = listing.identifiers.get(&id) {
            xrefs.push(CrossRef { kind: "cas-cert-identifier".into(), value: identifier.clone() });
        }
        let superseded_by = instance.as_ref().and_then(|i| listing.current.get(i)).filter(|current| **current != id);
        let deployments = listing.deployments.get(&id).cloned().unwrap_or_default();
        let status = listing
            .statuses
            .get(&id)
            .cloned()
            .or_else(|| expired.map(|e| if e { "expired".to_owned() } else { "valid".to_owned() }));
        let mut location =
            Location::new("cas", id.to_string()).with_account(self.context.account()).with_region(&listing.region);
        location.resource_name = name.clone();
        let mut declared = DeclaredCertificate::default()
            .with_provider_id(id.to_string())
            .with_sans(sans)
            .with_auto_managed(auto_managed);
        declared.fingerprints = fingerprints;
        declared.name = name;
        declared.common_name = text(&row["CommonName"]);
        declared.serial = text(&row["SerialNo"]).map(|s| normalize_hex(&s));
        declared.issuer = text(&row["Issuer"]);
        (declared.not_before, declared.not_after) = (not_before, not_after);
        declared.provider_status = status;
        Binding::new(location, declared).with_xrefs(xrefs).with_extra(json!({
                "upload": upload,
                "expired": expired,
                "instance_id": instance,
                "org_name": text(&row["OrgName"]),
                "validity_precision": precision,
                "superseded_by": superseded_by,
                "deployed": !deployments.is_empty(),
                "deployments": deployments,
        }))
    }
}

impl Listing {
    /// A CPACK/BUY order row: `TrusteeStatus` and the certificate's exact
    /// validity for its instance (and its certificate, should a row name one:
    /// the SDK documents `CertificateId` for CERT/UPLOAD rows only).
    fn merge_order(&mut self, row: &Value) {
        let trustee = match text(&row["TrusteeStatus"]).as_deref() {
            Some("trustee") => Some(true),
            Some("unTrustee") => Some(false),
            _ => None,
        };
        let certificate = read_i64(&row["CertificateId"]);
        // "Unit: milliseconds" (SDK model); read by magnitude all the same.
        let start = read_i64(&row["CertStartTime"]).filter(|t| *t > 0).map(seconds_by_magnitude);
        let end = read_i64(&row["CertEndTime"]).filter(|t| *t > 0).map(seconds_by_magnitude);
        if let Some(instance) = text(&row["InstanceId"]) {
            self.by_instance.entry(instance.clone()).or_default().record(trustee);
            if let (Some(start), Some(end)) = (start, end) {
                self.order_validity.entry(instance.clone()).or_insert((start, end));
            }
            if let Some(certificate) = certificate {
                self.current.entry(instance).or_insert(certificate);
            }
        }
        if let Some(certificate) = certificate {
            self.by_certificate.entry(certificate).or_default().record(trustee);
            if start.is_some() && end.is_some() {
                self.validity.entry(certificate).or_insert((start, end));
            }
        }
    }

    /// A `ListInstances` row: `AutoReissue`, the current certificate, its
    /// identifier, exact validity (seconds) and status.
    fn merge_instance(&mut self, row: &Value) {
        let auto = match text(&row["AutoReissue"]).as_deref() {
            Some("enable") => Some(true),
            Some("disable") => Some(false),
            _ => None,
        };
        let auto = auto.filter(|_| self.from_instances);
        let certificate = read_i64(&row["CertificateId"]);
        if let Some(instance) = text(&row["InstanceId"]) {
            self.by_instance.entry(instance.clone()).or_default().record(auto);
            if let Some(certificate) = certificate {
                // ListInstances is authoritative for the current certificate.
                self.current.insert(instance, certificate);
            }
        }
        if let Some(certificate) = certificate {
            self.by_certificate.entry(certificate).or_default().record(auto);
            if let Some(identifier) = text(&row["CertIdentifier"]) {
                self.identifiers.insert(certificate, identifier);
            }
            let start = read_i64(&row["CertificateNotBefore"]).filter(|t| *t > 0).map(seconds_by_magnitude);
            let end = read_i64(&row["CertificateNotAfter"]).filter(|t| *t > 0).map(seconds_by_magnitude);
            if start.is_some() && end.is_some() {
                self.validity.insert(certificate, (start, end));
            }
            if let Some(status) = text(&row["CertificateStatus"]) {
                self.statuses.insert(certificate, status);
            }
        }
    }

    /// A `ListCloudResources` row: one place CAS says a certificate is deployed.
    fn merge_resource(&mut self, row: &Value) {
        let Some(certificate) = read_i64(&row["CertId"]) else { return };
        let start = read_i64(&row["CertStartTime"]).filter(|t| *t > 0).map(seconds_by_magnitude);
        let end = read_i64(&row["CertEndTime"]).filter(|t| *t > 0).map(seconds_by_magnitude);
        if start.is_some() && end.is_some() {
            self.validity.entry(certificate).or_insert((start, end));
        }
        self.deployments.entry(certificate).or_default().push(json!({
            "cloud": text(&row["CloudName"]),
            "product": text(&row["CloudProduct"]),
            "region": text(&row["RegionId"]).or_else(|| text(&row["CloudRegion"])),
            "domain": text(&row["Domain"]),
            "instance_id": text(&row["InstanceId"]),
            "listener_id": text(&row["ListenerId"]),
            "listener_port": text(&row["ListenerPort"]),
            "default_resource": read_i64(&row["DefaultResource"]).map(|d| d == 1),
            "enable_https": read_i64(&row["EnableHttps"]).map(|d| d == 1),
            "status": text(&row["Status"]),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_management_is_yes_if_any_source_says_so() {
        let mut listing = CasSource::empty_listing();
        listing.merge_order(&json!({"InstanceId": "i-1", "TrusteeStatus": "unTrustee"}));
        listing.merge_instance(&json!({"InstanceId": "i-1", "AutoReissue": "enable", "CertificateId": 7,
            "CertIdentifier": "7-cn-hangzhou", "CertificateNotBefore": 100, "CertificateNotAfter": 200}));
        listing.merge_order(&json!({"InstanceId": "i-2", "TrusteeStatus": "unTrustee"}));
        assert_eq!(listing.by_instance["i-1"].tristate(), Tristate::Yes);
        assert_eq!(listing.by_instance["i-2"].tristate(), Tristate::No);
        assert_eq!(listing.current["i-1"], 7);
        assert_eq!(listing.validity[&7], (Some(100), Some(200)));
        assert_eq!(listing.identifiers[&7], "7-cn-hangzhou");
    }

    #[test]
    fn order_rows_without_certificate_ids_link_by_instance() {
        let mut listing = CasSource::empty_listing();
        listing.merge_order(&json!({"InstanceId": "i-9", "TrusteeStatus": "trustee",
            "CertStartTime": 1_700_000_000_000_i64, "CertEndTime": 1_731_536_000_000_i64}));
        assert_eq!(listing.by_instance["i-9"].tristate(), Tristate::Yes);
        assert_eq!(listing.order_validity["i-9"], (1_700_000_000, 1_731_536_000));
        assert!(listing.by_certificate.is_empty() && listing.current.is_empty());
    }

    #[test]
    fn resource_times_are_read_by_magnitude() {
        let mut listing = CasSource::empty_listing();
        listing.merge_resource(&json!({"CertId": 5, "CertStartTime": "1737795520000", "CertEndTime": "1769331520",
            "CloudProduct": "CDN", "Domain": "a.example"}));
        assert_eq!(listing.validity[&5], (Some(1_737_795_520), Some(1_769_331_520)));
        assert_eq!(listing.deployments[&5][0]["product"], "CDN");
    }

    #[test]
    fn config_errors_name_the_field() {
        let error = |config: Value| CasConfig::read(&config).unwrap_err().message;
        assert!(error(json!({"auto_managed_sources": ["orders", "magic"]}))
            .starts_with("auto_managed_sources[1]: expected one of orders, instances"));
        assert!(error(json!({"revocation_batch_size": 0}))
            .starts_with("revocation_batch_size: expected an integer from 1 to 100"));
        assert!(error(json!({"deployments": "yes"})).starts_with("deployments: expected true or false"));
        let ok = CasConfig::read(&json!({"auto_managed_sources": ["instances"]})).unwrap();
        assert!(ok.from_instances && !ok.from_orders && ok.deployments);
        assert_eq!(ok.page_size, None);
        assert_eq!(ok.regions, ["cn-hangzhou"]);
    }

    impl CasSource {
        fn empty_listing() -> Listing {
            Listing {
                region: "cn-hangzhou".into(),
                pending: Vec::new(),
                held: Default::default(),
                from_instances: true,
                order_validity: BTreeMap::new(),
                by_instance: BTreeMap::new(),
                by_certificate: BTreeMap::new(),
                current: BTreeMap::new(),
                identifiers: BTreeMap::new(),
                validity: BTreeMap::new(),
                statuses: BTreeMap::new(),
                deployments: BTreeMap::new(),
                reported: BTreeSet::new(),
                duplicates: 0,
            }
        }
    }
}
