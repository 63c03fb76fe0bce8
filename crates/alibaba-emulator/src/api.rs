//! The emulated operations: which (version, action) pairs exist, and the handlers that
//! render the world with the exact field names, wrappers, types and units of the real APIs
//! (reference §3–§5).

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use time::{format_description::well_known::Rfc3339, macros::format_description, OffsetDateTime};

use crate::error::ApiError;
use crate::params::Params;
use crate::world::{Account, CasCertificate, CasOrder, World};

pub const CDN: &str = "2018-05-10";
pub const SLB: &str = "2014-05-15";
pub const CAS: &str = "2020-04-07";
pub const PCA: &str = "2020-06-30";
pub const STS: &str = "2015-04-01";
pub const ALB: &str = "2020-06-16";
pub const DCDN: &str = "2018-01-15";
pub const NLB: &str = "2022-04-30";

/// Every emulated operation.
pub const OPERATIONS: &[(&str, &str)] = &[
    (CDN, "DescribeCdnHttpsDomainList"),
    (CDN, "DescribeDomainCertificateInfo"),
    (CDN, "DescribeTagResources"),
    (SLB, "DescribeRegions"),
    (SLB, "DescribeServerCertificates"),
    (SLB, "DescribeLoadBalancers"),
    (SLB, "DescribeLoadBalancerAttribute"),
    (SLB, "DescribeLoadBalancerHTTPSListenerAttribute"),
    (SLB, "DescribeDomainExtensions"),
    (CAS, "ListUserCertificateOrder"),
    (CAS, "GetUserCertificateDetail"),
    (CAS, "ListInstances"),
    (CAS, "GetInstanceDetail"),
    (CAS, "ListCloudResources"),
    (PCA, "DescribeClientCertificateStatusForSerialNumber"),
    (STS, "AssumeRole"),
    (DCDN, "DescribeDcdnHttpsDomainList"),
    (DCDN, "DescribeDcdnDomainCertificateInfo"),
    (DCDN, "DescribeDcdnTagResources"),
    (ALB, "ListLoadBalancers"),
    (ALB, "ListListeners"),
    (ALB, "ListListenerCertificates"),
    (NLB, "ListLoadBalancers"),
    (NLB, "ListListeners"),
    (NLB, "ListListenerCertificates"),
];

/// The RAM namespace of an API version's actions (`cdn:…`, `slb:…`, CAS's `yundun-cert:…`).
pub fn ram_namespace(version: &str) -> &'static str {
    match version {
        CDN => "cdn",
        SLB => "slb",
        CAS | PCA => "yundun-cert",
        STS => "sts",
        ALB => "alb",
        DCDN => "dcdn",
        NLB => "nlb",
        _ => "unknown",
    }
}

/// The product code in the host names of an API version (`cdn.aliyuncs.com`,
/// `slb.cn-hangzhou.aliyuncs.com`, `cas.aliyuncs.com`).
pub fn host_product(version: &str) -> &'static str {
    match version {
        CDN => "cdn",
        SLB => "slb",
        CAS | PCA => "cas",
        STS => "sts",
        ALB => "alb",
        DCDN => "dcdn",
        NLB => "nlb",
        _ => "unknown",
    }
}

/// Whether `permissions` (RAM action patterns: `ns:Action`, `ns:*`, `*`) allow `action`.
pub fn permits(permissions: &[String], namespace: &str, action: &str) -> bool {
    permissions.iter().any(|p| {
        p == "*"
            || p.split_once(':').is_some_and(|(ns, a)| ns.eq_ignore_ascii_case(namespace) && (a == "*" || a == action))
    })
}

/// Checks version then action: `InvalidVersion` for an unknown version,
/// `InvalidAction.NotFound` for an action that version does not have.
pub fn resolve(version: &str, action: &str) -> Result<(), ApiError> {
    if !OPERATIONS.iter().any(|(v, _)| *v == version) {
        return Err(ApiError::invalid_version());
    }
    if !OPERATIONS.iter().any(|(v, a)| *v == version && *a == action) {
        return Err(ApiError::action_not_found());
    }
    Ok(())
}

/// A handler's answer.
#[derive(Debug)]
pub struct Answer {
    pub body: Value,
    /// A private key was put in the body (GetUserCertificateDetail without CertFilter).
    pub key_material: bool,
}

impl From<Value> for Answer {
    fn from(body: Value) -> Self {
        Answer { body, key_material: false }
    }
}

/// One authenticated call as the handlers see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Call<'a> {
    /// API version (ALB and NLB share action names).
    pub version: &'a str,
    pub action: &'a str,
    pub params: &'a Params,
    /// The `host` header, without port (product and region routing).
    pub host: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(version: &'a str, action: &'a str, params: &'a Params, host: &'a str) -> Self {
        Call { version, action, params, host }
    }
}

/// Runs a world-reading operation for `account`. (`AssumeRole` is handled by the server.)
pub fn dispatch(
    call: Call<'_>,
    world: &World,
    account: &Account,
    now: OffsetDateTime,
    page_limits: &BTreeMap<String, i64>,
) -> Result<Answer, ApiError> {
    let Call { version, action, params: p, host } = call;
    // `<product>.<region>.aliyuncs.com`: the region label, when the host has one.
    let host_region = host
        .strip_suffix(".aliyuncs.com")
        .and_then(|h| h.split_once('.'))
        .map(|(_, region)| region.to_owned())
        .filter(|r| world.regions.iter().any(|x| &x.region_id == r));
    let ctx = Ctx { world, account, p, now, page_limits, action, version, host_region };
    match action {
        "DescribeCdnHttpsDomainList" => ctx.cdn_https_domain_list(false).map(Into::into),
        "DescribeDomainCertificateInfo" => ctx.cdn_domain_certificate_info(false).map(Into::into),
        "DescribeDcdnHttpsDomainList" => ctx.cdn_https_domain_list(true).map(Into::into),
        "DescribeDcdnDomainCertificateInfo" => ctx.cdn_domain_certificate_info(true).map(Into::into),
        "DescribeTagResources" => ctx.cdn_tag_resources(false).map(Into::into),
        "DescribeDcdnTagResources" => ctx.cdn_tag_resources(true).map(Into::into),
        "DescribeRegions" => ctx.slb_regions().map(Into::into),
        "DescribeServerCertificates" => ctx.slb_server_certificates().map(Into::into),
        "DescribeLoadBalancers" => ctx.slb_load_balancers().map(Into::into),
        "DescribeLoadBalancerAttribute" => ctx.slb_lb_attribute().map(Into::into),
        "DescribeLoadBalancerHTTPSListenerAttribute" => ctx.slb_https_listener().map(Into::into),
        "DescribeDomainExtensions" => ctx.slb_domain_extensions().map(Into::into),
        "ListUserCertificateOrder" => ctx.cas_list_orders().map(Into::into),
        "GetUserCertificateDetail" => ctx.cas_cert_detail(),
        "ListInstances" => ctx.cas_list_instances().map(Into::into),
        "GetInstanceDetail" => ctx.cas_instance_detail().map(Into::into),
        "ListCloudResources" => ctx.cas_cloud_resources().map(Into::into),
        "DescribeClientCertificateStatusForSerialNumber" => ctx.pca_status().map(Into::into),
        "ListLoadBalancers" => ctx.alb_load_balancers().map(Into::into),
        "ListListeners" => ctx.alb_listeners().map(Into::into),
        "ListListenerCertificates" => ctx.alb_listener_certificates().map(Into::into),
        _ => Err(ApiError::action_not_found()),
    }
}

struct Ctx<'a> {
    world: &'a World,
    account: &'a Account,
    p: &'a Params,
    now: OffsetDateTime,
    /// Page-size maxima replacing the ones below, by action (see `EmulatorConfig::page_limits`).
    page_limits: &'a BTreeMap<String, i64>,
    action: &'a str,
    /// The API version called (ALB and NLB share action names).
    version: &'a str,
    /// The region in the request's host name (`alb.cn-hangzhou.aliyuncs.com`), if any.
    host_region: Option<String>,
}

fn page<T: Clone>(rows: &[T], page: i64, size: i64) -> Vec<T> {
    let start = ((page - 1) * size) as usize;
    rows.iter().skip(start).take(size as usize).cloned().collect()
}

/// Total and the rendered rows of one page; only that page is rendered, so a list call
/// on a 10,000-row world costs a filter, not 10,000 JSON objects.
fn paged<'a, T>(
    rows: impl Iterator<Item = &'a T>,
    pn: i64,
    ps: i64,
    render: impl Fn(&T) -> Value,
) -> (usize, Vec<Value>)
where
    T: 'a,
{
    let all: Vec<&T> = rows.collect();
    let shown = page(&all, pn, ps).into_iter().map(render).collect();
    (all.len(), shown)
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn ms(s: &str) -> i64 {
    parse_time(s).map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64).unwrap_or(0)
}

fn secs(s: &str) -> i64 {
    parse_time(s).map(|t| t.unix_timestamp()).unwrap_or(0)
}

fn ymd(s: &str) -> String {
    parse_time(s).and_then(|t| t.format(format_description!("[year]-[month]-[day]")).ok()).unwrap_or_default()
}

/// "2024-11-21T06:04:25Z" for an instant.
pub fn iso(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap_or_default()
}

/// `SubjectAlternativeName` as the world says SLB sends it: one element per name,
/// or (as the API reference's own example shows) one element holding the names as a
/// JSON array text.
fn slb_sans(world: &World, sans: &[String]) -> Value {
    if world.quirks.slb_sans_as_json_string {
        json!([serde_json::to_string(sans).unwrap_or_default()])
    } else {
        json!(sans)
    }
}

/// The `KeyAlgorithm` value of the ListInstances model for a world algorithm
/// (`RSA` | `ECC` | `SM2`).
fn key_algorithm(algorithm: &str) -> &'static str {
    match algorithm {
        "RSA" => "RSA_2048",
        "SM2" => "SM2",
        _ => "ECC_256",
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// CAS status of a certificate at `now`: ISSUED | WILLEXPIRED | EXPIRED.
fn cert_status(c: &CasCertificate, now: OffsetDateTime) -> &'static str {
    if is_expired(c, now) {
        return "EXPIRED";
    }
    match parse_time(&c.not_after) {
        Some(na) if na - now < time::Duration::days(30) => "WILLEXPIRED",
        _ => "ISSUED",
    }
}

fn is_expired(c: &CasCertificate, now: OffsetDateTime) -> bool {
    c.expired.unwrap_or_else(|| parse_time(&c.not_after).is_some_and(|na| na < now))
}

const REGION_NAMES: &[(&str, &str)] = &[
    ("cn-hangzhou", "华东1（杭州）"),
    ("cn-shanghai", "华东2（上海）"),
    ("cn-beijing", "华北2（北京）"),
    ("cn-shenzhen", "华南1（深圳）"),
    ("cn-zhangjiakou", "华北3（张家口）"),
];

/// Local name for a region id (used by the generator).
pub fn region_local_name(id: &str) -> String {
    REGION_NAMES.iter().find(|(r, _)| *r == id).map(|(_, n)| n.to_string()).unwrap_or_else(|| id.to_string())
}

impl<'a> Ctx<'a> {
    /// A page size parameter: `default` when absent; above the maximum (the
    /// documented one, or the configured override) it is refused with
    /// `InvalidParameter`, as the real services do, so clients must step down.
    fn page_size(&self, name: &str, max: i64, default: i64) -> Result<i64, ApiError> {
        let max = self.page_limits.get(self.action).copied().unwrap_or(max);
        match self.p.non_empty(name).map(|v| v.trim().parse::<i64>()) {
            None => Ok(default.min(max)),
            Some(Ok(n)) if n > max => Err(ApiError::page_size_too_large(name, max)),
            Some(_) => self.p.int(name, 1, max, default),
        }
    }

    // ---------------------------------------------------------------- CDN

    /// CDN's or (`dcdn`) DCDN's domains: the two products answer in one shape.
    fn domains(&self, dcdn: bool) -> &'a [crate::world::CdnDomain] {
        if dcdn {
            &self.account.dcdn_domains
        } else {
            &self.account.cdn_domains
        }
    }

    /// `DescribeCdnHttpsDomainList`, or DCDN's `DescribeDcdnHttpsDomainList` (which
    /// documents `PageSize` 1..=500 and `NoHttpsDomain` for an account without any).
    fn cdn_https_domain_list(&self, dcdn: bool) -> Result<Value, ApiError> {
        let pn = self.p.int("PageNumber", 1, 100_000, 1)?;
        // Undocumented maximum for CDN (DCDN's identical operation documents 500) [unverified].
        let ps = self.page_size("PageSize", 500, 20)?;
        let kw = self.p.non_empty("Keyword");
        if dcdn && self.domains(true).is_empty() {
            // [status unverified]
            return Err(ApiError::new(400, "NoHttpsDomain", "The user has no HTTPS domain."));
        }
        let rows = self
            .domains(dcdn)
            .iter()
            .filter(|d| kw.is_none_or(|k| contains_ci(&d.domain_name, k) || contains_ci(&d.cert_name, k)));
        let (total, shown) = paged(rows, pn, ps, |d| {
            json!({
                "DomainName": d.domain_name,
                "CertName": d.cert_name,
                "CertCommonName": d.cert_common_name,
                "CertStartTime": d.cert_start_time,
                "CertExpireTime": d.cert_expire_time,
                "CertUpdateTime": d.cert_update_time,
                "CertType": d.cert_type,
                "CertStatus": d.cert_status,
            })
        });
        Ok(json!({
            "TotalCount": total,
            "CertInfos": { "CertInfo": shown },
        }))
    }

    /// One domain's certificate (API reference "DescribeDomainCertificateInfo", and DCDN's
    /// "DescribeDcdnDomainCertificateInfo" when `dcdn`; the SDK
    /// model types every field as a string): `CertId` is the CAS certificate id for `cas`
    /// certificates, `ServerCertificateStatus` says whether HTTPS is on, times are
    /// ISO-8601 UTC (unlike the list's zone-less strings).
    fn cdn_domain_certificate_info(&self, dcdn: bool) -> Result<Value, ApiError> {
        let name = self.p.required("DomainName")?;
        // [unverified code] for a domain the account does not have.
        let d = self
            .domains(dcdn)
            .iter()
            .find(|d| d.domain_name == name)
            .ok_or_else(|| ApiError::not_found("InvalidDomain.NotFound", "domain"))?;
        let material = d.material.as_deref().and_then(|m| self.world.material(m));
        let iso_of = |t: Option<&str>| t.and_then(parse_time).map(iso);
        let https = if d.https_off { "off" } else { "on" };
        let mut info = json!({
            "DomainName": d.domain_name,
            "CertName": d.cert_name,
            "CertDomainName": d.cert_common_name,
            "CertStartTime": iso_of(material.map(|m| m.not_before.as_str())),
            "CertExpireTime": iso_of(material.map(|m| m.not_after.as_str())),
            "CertUpdateTime": iso_of(material.map(|m| m.not_before.as_str())),
            "CertLife": "months",
            "CertOrg": material.map(|m| m.issuer.as_str()),
            "CertType": d.cert_type,
            "CertRegion": "cn-hangzhou",
            "CertId": d.cas_certificate_id.map(|id| id.to_string()),
            "Status": "success",
        });
        // The HTTPS switch: CDN's `ServerCertificateStatus`, DCDN's `SSLProtocol`
        // (DescribeDcdnDomainCertificateInfo SDK model).
        let fields = info.as_object_mut().expect("object");
        if dcdn {
            fields.insert("SSLProtocol".into(), json!(https));
        } else {
            fields.insert("ServerCertificateStatus".into(), json!(https));
            fields.insert("DomainCnameStatus".into(), json!("online"));
        }
        Ok(json!({ "CertInfos": { "CertInfo": [info] } }))
    }

    /// CDN's `DescribeTagResources`, or (`dcdn`) DCDN's `DescribeDcdnTagResources`
    /// (API references and SDK models: cdn 2018-05-10, dcdn 2018-01-15): the tags of
    /// up to 50 domains (`ResourceId.N`, `ResourceType=DOMAIN`), answered as
    /// `TagResources[] {ResourceId, Tag[] {Key, Value}}`. The optional `Tag.N.Key` /
    /// `Tag.N.Value` (at most 20) keep only resources carrying every given tag.
    /// [unverified] A domain the account does not have, or one without tags, is
    /// left out of the answer rather than refused.
    fn cdn_tag_resources(&self, dcdn: bool) -> Result<Value, ApiError> {
        match self.p.required("ResourceType")? {
            "DOMAIN" => {}
            _ => return Err(ApiError::invalid_parameter("ResourceType")),
        }
        let ids = self.list_param("ResourceId", 50)?;
        if ids.is_empty() {
            return Err(ApiError::missing_parameter("ResourceId.1"));
        }
        let mut wanted = Vec::new();
        for n in 1..=21 {
            let Some(key) = self.p.non_empty(&format!("Tag.{n}.Key")) else { break };
            if n > 20 {
                return Err(ApiError::invalid_parameter("Tag"));
            }
            wanted.push((key, self.p.non_empty(&format!("Tag.{n}.Value"))));
        }
        let domains = self.domains(dcdn);
        let rows: Vec<Value> = ids
            .iter()
            .filter_map(|id| domains.iter().find(|d| d.domain_name == *id))
            .filter(|d| !d.tags.is_empty())
            .filter(|d| wanted.iter().all(|(k, v)| d.tags.get(*k).is_some_and(|have| v.is_none_or(|v| v == have))))
            .map(|d| {
                json!({
                    "ResourceId": d.domain_name,
                    "Tag": d.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(json!({ "TagResources": rows }))
    }

    // ---------------------------------------------------------------- SLB

    fn region(&self) -> Result<&str, ApiError> {
        let r = self.p.required("RegionId")?;
        if !self.world.regions.iter().any(|x| x.region_id == r) {
            // [unverified code]
            return Err(ApiError::new(400, "InvalidRegionId", "The specified RegionId does not exist."));
        }
        Ok(r)
    }

    fn slb_region(&self) -> Result<Option<&crate::world::SlbRegion>, ApiError> {
        let r = self.region()?;
        Ok(self.account.slb.iter().find(|x| x.region_id == r))
    }

    fn slb_regions(&self) -> Result<Value, ApiError> {
        if let Some(r) = self.p.non_empty("RegionId") {
            if !self.world.regions.iter().any(|x| x.region_id == r) {
                return Err(ApiError::invalid_parameter("RegionId"));
            }
        }
        self.p.one_of("AcceptLanguage", &["zh-CN", "en-US", "ja"])?;
        let rows: Vec<Value> = self
            .world
            .regions
            .iter()
            .map(|r| json!({"RegionId": r.region_id, "LocalName": r.local_name, "RegionEndpoint": r.region_endpoint}))
            .collect();
        Ok(json!({ "Regions": { "Region": rows } }))
    }

    fn slb_server_certificates(&self) -> Result<Value, ApiError> {
        let region = self.slb_region()?;
        let filter = self.p.non_empty("ServerCertificateId");
        let rows: Vec<Value> = region
            .map(|r| r.server_certificates.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|c| filter.is_none_or(|f| f == c.server_certificate_id))
            .map(|c| {
                json!({
                    "ServerCertificateId": c.server_certificate_id,
                    "ServerCertificateName": c.server_certificate_name,
                    "RegionId": region.map(|r| r.region_id.as_str()).unwrap_or_default(),
                    "RegionIdAlias": region.map(|r| r.region_id.as_str()).unwrap_or_default(),
                    "Fingerprint": c.fingerprint,
                    "CommonName": c.common_name,
                    "SubjectAlternativeNames": { "SubjectAlternativeName": slb_sans(self.world, &c.subject_alternative_names) },
                    "CreateTime": c.create_time,
                    "CreateTimeStamp": c.create_time_stamp,
                    "ExpireTime": c.expire_time,
                    "ExpireTimeStamp": c.expire_time_stamp,
                    "IsAliCloudCertificate": c.is_ali_cloud_certificate,
                    "AliCloudCertificateId": c.ali_cloud_certificate_id,
                    "AliCloudCertificateName": c.ali_cloud_certificate_name,
                    "ResourceGroupId": c.resource_group_id,
                    "Tags": { "Tag": [] },
                })
            })
            .collect();
        Ok(json!({ "ServerCertificates": { "ServerCertificate": rows } }))
    }

    fn lb_json(&self, region: &str, lb: &crate::world::LoadBalancer) -> Value {
        json!({
            "LoadBalancerId": lb.load_balancer_id,
            "LoadBalancerName": lb.load_balancer_name,
            "Address": lb.address,
            "AddressIPVersion": lb.address_ip_version,
            "AddressType": lb.address_type,
            "LoadBalancerStatus": lb.load_balancer_status,
            "NetworkType": "vpc",
            "RegionId": region,
            "RegionIdAlias": region,
            "VpcId": format!("vpc-{}", lb.load_balancer_id.trim_start_matches("lb-")),
            "VSwitchId": format!("vsw-{}", lb.load_balancer_id.trim_start_matches("lb-")),
            "MasterZoneId": format!("{region}-a"),
            "SlaveZoneId": format!("{region}-b"),
            "CreateTime": lb.create_time,
            "CreateTimeStamp": lb.create_time_stamp,
            "PayType": "PayOnDemand",
            "InternetChargeType": "paybytraffic",
            "LoadBalancerSpec": "slb.s1.small",
            "ResourceGroupId": "rg-acfmcertinspect",
            "DeleteProtection": "off",
            "ModificationProtectionStatus": "NonProtection",
            "Tags": { "Tag": lb.tags.iter().map(|(k, v)| json!({ "TagKey": k, "TagValue": v })).collect::<Vec<_>>() },
        })
    }

    fn slb_load_balancers(&self) -> Result<Value, ApiError> {
        let region = self.slb_region()?;
        let region_id = self.p.get("RegionId").unwrap_or_default();
        let pn = self.p.int("PageNumber", 1, i64::from(i32::MAX), 1)?;
        let ps = self.page_size("PageSize", 100, 10)?;
        let ids: Option<Vec<&str>> = self.p.non_empty("LoadBalancerId").map(|v| v.split(',').map(str::trim).collect());
        if ids.as_ref().is_some_and(|v| v.len() > 10) {
            return Err(ApiError::invalid_parameter("LoadBalancerId"));
        }
        let addr_type = self.p.one_of("AddressType", &["internet", "intranet"])?;
        let status = self.p.one_of("LoadBalancerStatus", &["inactive", "active", "locked"])?;
        let address = self.p.non_empty("Address");
        let rows: Vec<Value> = region
            .map(|r| r.load_balancers.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|lb| {
                ids.as_ref().is_none_or(|v| v.contains(&lb.load_balancer_id.as_str()))
                    && addr_type.as_deref().is_none_or(|t| t == lb.address_type)
                    && status.as_deref().is_none_or(|s| s == lb.load_balancer_status)
                    && address.is_none_or(|a| a == lb.address)
            })
            .map(|lb| self.lb_json(region_id, lb))
            .collect();
        Ok(json!({
            "PageNumber": pn,
            "PageSize": ps,
            "TotalCount": rows.len(),
            "LoadBalancers": { "LoadBalancer": page(&rows, pn, ps) },
        }))
    }

    fn find_lb(&self) -> Result<(&str, &crate::world::LoadBalancer), ApiError> {
        let region = self.slb_region()?;
        let region_id = self.p.get("RegionId").unwrap_or_default();
        let id = self.p.required("LoadBalancerId")?;
        region
            .and_then(|r| r.load_balancers.iter().find(|lb| lb.load_balancer_id == id))
            .map(|lb| (region_id, lb))
            .ok_or_else(|| ApiError::not_found("InvalidLoadBalancerId.NotFound", "LoadBalancerId"))
    }

    fn find_https_listener(&self) -> Result<(&crate::world::LoadBalancer, &crate::world::Listener), ApiError> {
        let (_, lb) = self.find_lb()?;
        let port = self.p.required_int("ListenerPort", 1, 65535)?;
        lb.listeners
            .iter()
            .find(|l| i64::from(l.port) == port && l.protocol == "https")
            .map(|l| (lb, l))
            // [unverified code]
            .ok_or_else(|| ApiError::new(400, "InvalidParameter", "The specified listener does not exist."))
    }

    fn slb_lb_attribute(&self) -> Result<Value, ApiError> {
        let (region, lb) = self.find_lb()?;
        let mut v = self.lb_json(region, lb);
        let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port).collect();
        let pp: Vec<Value> = lb
            .listeners
            .iter()
            .map(|l| {
                json!({"ListenerPort": l.port, "ListenerProtocol": l.protocol,
                       "ListenerForward": "off", "Description": format!("{}_{}", l.protocol, l.port)})
            })
            .collect();
        let pp_legacy: Vec<Value> =
            lb.listeners.iter().map(|l| json!({"ListenerPort": l.port, "ListenerProtocal": l.protocol})).collect();
        let obj = v.as_object_mut().expect("object");
        obj.insert("ListenerPorts".into(), json!({ "ListenerPort": ports }));
        obj.insert("ListenerPortsAndProtocol".into(), json!({ "ListenerPortAndProtocol": pp }));
        obj.insert("ListenerPortsAndProtocal".into(), json!({ "ListenerPortAndProtocal": pp_legacy }));
        obj.insert("BackendServers".into(), json!({ "BackendServer": [] }));
        obj.insert("Bandwidth".into(), json!(5120));
        Ok(v)
    }

    fn ext_json(l: &crate::world::Listener, filter: Option<&str>) -> Vec<Value> {
        l.domain_extensions
            .iter()
            .filter(|e| filter.is_none_or(|f| f == e.domain_extension_id))
            .map(|e| {
                json!({"Domain": e.domain, "DomainExtensionId": e.domain_extension_id,
                       "ServerCertificateId": e.server_certificate_id})
            })
            .collect()
    }

    fn slb_https_listener(&self) -> Result<Value, ApiError> {
        let (lb, l) = self.find_https_listener()?;
        Ok(json!({
            "LoadBalancerId": lb.load_balancer_id,
            "ListenerPort": l.port,
            "BackendServerPort": l.backend_server_port,
            "Bandwidth": -1,
            "Status": l.status,
            "Scheduler": "wrr",
            "StickySession": "off",
            "HealthCheck": "on",
            "XForwardedFor": "on",
            "Gzip": "on",
            "ServerCertificateId": l.server_certificate_id.clone().unwrap_or_default(),
            "TLSCipherPolicy": "tls_cipher_policy_1_2",
            "EnableHttp2": "on",
            "IdleTimeout": 15,
            "RequestTimeout": 60,
            "Description": format!("https_{}", l.port),
            "AclStatus": "off",
            "DomainExtensions": { "DomainExtension": Self::ext_json(l, None) },
            "Rules": { "Rule": [] },
            "Tags": { "Tag": [] },
        }))
    }

    fn slb_domain_extensions(&self) -> Result<Value, ApiError> {
        let (_, l) = self.find_https_listener()?;
        let f = self.p.non_empty("DomainExtensionId");
        Ok(json!({ "DomainExtensions": { "DomainExtension": Self::ext_json(l, f) } }))
    }

    // ---------------------------------------------------------------- CAS

    fn cas_cert(&self, id: i64) -> Option<&CasCertificate> {
        self.account.cas.certificates.iter().find(|c| c.certificate_id == id)
    }

    fn cert_row(&self, c: &CasCertificate) -> Value {
        json!({
            "CertificateId": c.certificate_id,
            "Name": c.name,
            "CommonName": c.common_name,
            "Sans": c.sans.join(","),
            "SerialNo": c.serial_no,
            "Fingerprint": c.fingerprint,
            "Sha2": c.sha2,
            "Issuer": c.issuer,
            "OrgName": c.org_name,
            "Country": "CN",
            "Province": "Zhejiang",
            "City": "Hangzhou",
            "StartDate": ymd(&c.not_before),
            "EndDate": ymd(&c.not_after),
            "Expired": is_expired(c, self.now),
            "Upload": c.upload,
            "InstanceId": c.instance_id,
            "ResourceGroupId": c.resource_group_id,
        })
    }

    fn order_row(&self, o: &CasOrder) -> Value {
        let cert = o.certificate_id.and_then(|id| self.cas_cert(id));
        json!({
            "OrderId": o.order_id,
            "InstanceId": o.instance_id,
            "AliyunOrderId": o.order_id + 100_000_000_000,
            "PartnerOrderId": format!("P{}", o.order_id),
            // No CertificateId: the SDK model documents it only for CERT/UPLOAD rows,
            // so clients must link orders to certificates by InstanceId.
            "Domain": o.domain,
            "DomainType": if o.domain.starts_with("*.") { "WILDCARD" } else { "ONE" },
            "DomainCount": 1,
            "WildDomainCount": i32::from(o.domain.starts_with("*.")),
            "CertType": o.cert_type,
            "Algorithm": cert.map(|c| c.algorithm.as_str()).unwrap_or("ECC"),
            "RootBrand": o.brand,
            "ProductCode": format!("{}-{}", o.brand.to_lowercase(), o.cert_type.to_lowercase()),
            "ProductName": o.product_name,
            "SourceType": o.source_type,
            "Status": o.status,
            "BuyDate": o.buy_date,
            "CertStartTime": cert.map(|c| ms(&c.not_before)),
            "CertEndTime": cert.map(|c| ms(&c.not_after)),
            "TrusteeStatus": if o.trustee { "trustee" } else { "unTrustee" },
        })
    }

    fn cas_list_orders(&self) -> Result<Value, ApiError> {
        let order_type =
            self.p.one_of("OrderType", &["CPACK", "BUY", "UPLOAD", "CERT"])?.unwrap_or_else(|| "CPACK".into());
        const ALL: &[&str] =
            &["PAYED", "CHECKING", "CHECKED_FAIL", "ISSUED", "WILLEXPIRED", "EXPIRED", "NOTACTIVATED", "REVOKED"];
        const CERT_ONLY: &[&str] = &["ISSUED", "WILLEXPIRED", "EXPIRED"];
        let cert_rows = order_type == "CERT" || order_type == "UPLOAD";
        let status = self.p.one_of("Status", if cert_rows { CERT_ONLY } else { ALL })?;
        let cp = self.p.int("CurrentPage", 1, i64::from(i32::MAX), 1)?;
        // The maximum is undocumented [unverified]; 100 keeps clients honest about paging.
        let ss = self.page_size("ShowSize", 100, 50)?;
        let kw = self.p.non_empty("Keyword");
        let (total, shown) = if cert_rows {
            let rows = self
                .account
                .cas
                .certificates
                .iter()
                .filter(|c| order_type == "CERT" || c.upload)
                .filter(|c| {
                    let st = cert_status(c, self.now);
                    match &status {
                        None => st != "EXPIRED",
                        Some(s) => s == st,
                    }
                })
                .filter(|c| {
                    kw.is_none_or(|k| {
                        contains_ci(&c.common_name, k)
                            || c.sans.iter().any(|s| contains_ci(s, k))
                            || contains_ci(&c.name, k)
                            || contains_ci(&c.instance_id, k)
                    })
                });
            paged(rows, cp, ss, |c| self.cert_row(c))
        } else {
            let source = if order_type == "CPACK" { "cpack" } else { "buy" };
            let rows = self
                .account
                .cas
                .orders
                .iter()
                .filter(|o| o.source_type == source)
                .filter(|o| status.as_deref().is_none_or(|s| s == o.status))
                .filter(|o| kw.is_none_or(|k| contains_ci(&o.domain, k) || contains_ci(&o.instance_id, k)));
            paged(rows, cp, ss, |o| self.order_row(o))
        };
        Ok(json!({
            "TotalCount": total,
            "CurrentPage": cp,
            "ShowSize": ss,
            "CertificateOrderList": shown,
        }))
    }

    fn cas_cert_detail(&self) -> Result<Answer, ApiError> {
        let id = self.p.required_int("CertId", 1, i64::MAX)?;
        let filter = self.p.boolean("CertFilter", false)?;
        let c = self
            .cas_cert(id)
            // [unverified code]
            .ok_or_else(|| ApiError::not_found("NotFound", "certificate"))?;
        let remain = parse_time(&c.not_after).map(|na| (na - self.now).whole_days()).unwrap_or(0);
        let mut v = json!({
            "Id": c.certificate_id,
            "Name": c.name,
            "Common": c.common_name,
            "Sans": c.sans.join(","),
            "SerialNo": c.serial_no,
            "Fingerprint": c.fingerprint,
            "Sha2": c.sha2,
            "CertSha2": c.sha2,
            "Issuer": c.issuer,
            "OrgName": c.org_name,
            "Country": "CN",
            "Province": "Zhejiang",
            "City": "Hangzhou",
            "StartDate": ymd(&c.not_before),
            "EndDate": ymd(&c.not_after),
            "NotBefore": ms(&c.not_before),
            "NotAfter": ms(&c.not_after),
            "Expired": is_expired(c, self.now),
            "BuyInAliyun": !c.upload,
            "OrderId": c.order_id,
            "InstanceId": c.instance_id,
            "CertIdentifier": c.cert_identifier,
            "Algorithm": c.algorithm,
            "ResourceGroupId": c.resource_group_id,
            "Tags": [],
            "CertChain": [{
                "CommonName": c.common_name,
                "IssuerCommonName": c.issuer,
                "NotBefore": ms(&c.not_before),
                "NotAfter": ms(&c.not_after),
                "RemainDay": remain,
            }],
        });
        let mut key_material = false;
        if !filter {
            let m = c.material.as_deref().and_then(|m| self.world.material(m));
            let read =
                |p: Option<&std::path::PathBuf>| p.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
            let obj = v.as_object_mut().expect("object");
            obj.insert("Cert".into(), json!(read(m.map(|m| &m.chain_pem))));
            obj.insert("Key".into(), json!(read(m.map(|m| &m.key_pem))));
            key_material = true;
        }
        Ok(Answer { body: v, key_material })
    }

    /// Cloud products a certificate is deployed to, sorted and deduplicated.
    fn using_products(&self, cert_id: Option<i64>) -> Vec<String> {
        let mut out: Vec<String> = self
            .account
            .cas
            .deployments
            .iter()
            .filter(|d| Some(d.cert_id) == cert_id)
            .map(|d| d.cloud_product.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// An instance's (`CertificateStatus`, `Status`), computed without rendering the row,
    /// so list filters need not build every row.
    fn instance_status(&self, cert: Option<&CasCertificate>) -> (Option<&'static str>, &'static str) {
        let cstatus = cert.map(|c| match cert_status(c, self.now) {
            "EXPIRED" => "expired",
            "WILLEXPIRED" => "willExpire",
            _ => "issued",
        });
        let status = match cstatus {
            Some("expired") => "expired",
            Some("willExpire") => "willExpire",
            Some(_) => "normal",
            None => "inactive",
        };
        (cstatus, status)
    }

    fn instance_json(&self, o: &CasOrder) -> Value {
        let cert = o.certificate_id.and_then(|id| self.cas_cert(id));
        self.instance_row(o, cert, self.using_products(o.certificate_id))
    }

    fn instance_row(&self, o: &CasOrder, cert: Option<&CasCertificate>, using_products: Vec<String>) -> Value {
        let (cstatus, status) = self.instance_status(cert);
        json!({
            "InstanceId": o.instance_id,
            "CertificateId": o.certificate_id,
            "CertificateName": cert.map(|c| c.name.as_str()),
            "CertIdentifier": cert.map(|c| c.cert_identifier.as_str()),
            "Domain": o.domain,
            "CertificateDomain": cert.map(|c| {
                let mut all = vec![c.common_name.clone()];
                all.extend(c.sans.iter().filter(|s| **s != c.common_name).cloned());
                all.join(",")
            }),
            "CertificateNotBefore": cert.map(|c| secs(&c.not_before)),
            "CertificateNotAfter": cert.map(|c| secs(&c.not_after)),
            "CertificateStatus": cstatus,
            "Status": status,
            "AutoReissue": if o.auto_reissue { "enable" } else { "disable" },
            "Brand": o.brand,
            "CertificateType": if o.cert_type == "FREE" { "DV" } else { o.cert_type.as_str() },
            // Value sets and units of the SDK model (cas20200407 ListInstances): key
            // algorithms RSA_2048 | RSA_3072 | RSA_4096 | ECC_256 | SM2; instance type
            // BUY | TEST; every time a UNIX timestamp in seconds.
            "KeyAlgorithm": key_algorithm(cert.map_or("ECC", |c| c.algorithm.as_str())),
            "InstanceType": if o.cert_type == "FREE" { "TEST" } else { "BUY" },
            "InstanceStartTime": o.buy_date.div_euclid(1000),
            "InstanceEndTime": o.buy_date.div_euclid(1000) + 365 * 86_400,
            "OrderStartTime": o.buy_date.div_euclid(1000),
            "OrderEndTime": o.buy_date.div_euclid(1000) + 365 * 86_400,
            "FullDomainCount": 1,
            "WildcardDomainCount": i32::from(o.domain.starts_with("*.")),
            "UsingProductList": using_products,
            "ResourceGroupId": "rg-acfmcertinspect",
            // basic | standard | professional | ultimate (ListInstances model).
            "VersionType": "standard",
        })
    }

    /// Certificates by id, built once per list call: looking each row's certificate up
    /// with a scan made a page of a 10,000-certificate world cost 10,000 x 10,000 steps.
    fn cert_index(&self) -> HashMap<i64, &'a CasCertificate> {
        self.account.cas.certificates.iter().map(|c| (c.certificate_id, c)).collect()
    }

    fn cas_list_instances(&self) -> Result<Value, ApiError> {
        let cp = self.p.int("CurrentPage", 1, i64::from(i32::MAX), 1)?;
        let ss = self.page_size("ShowSize", 100, 10)?;
        let kw = self.p.non_empty("Keyword");
        let cstatus = self.p.one_of("CertificateStatus", &["issued", "revoked", "willExpire", "expired"])?;
        let status =
            self.p.one_of("Status", &["inactive", "pending", "willExpire", "expired", "refund", "normal", "closed"])?;
        let certs = self.cert_index();
        let cert_of = |o: &CasOrder| o.certificate_id.and_then(|id| certs.get(&id).copied());
        // Filter on the statuses alone (computing them only when asked to
        // filter: each one parses a date), then render only the requested page.
        let filtering = cstatus.is_some() || status.is_some();
        let all: Vec<&CasOrder> = self
            .account
            .cas
            .orders
            .iter()
            .filter(|o| kw.is_none_or(|k| contains_ci(&o.domain, k) || contains_ci(&o.instance_id, k)))
            .filter(|o| {
                !filtering || {
                    let (c, s) = self.instance_status(cert_of(o));
                    cstatus.as_deref().is_none_or(|want| c == Some(want))
                        && status.as_deref().is_none_or(|want| s == want)
                }
            })
            .collect();
        let enabled = all.iter().filter(|o| o.auto_reissue).count();
        let shown: Vec<(&CasOrder, Option<&CasCertificate>)> =
            page(&all, cp, ss).into_iter().map(|o| (o, cert_of(o))).collect();
        // Products per certificate, only for the certificates on this page (one scan).
        let wanted: HashSet<i64> = shown.iter().filter_map(|(o, _)| o.certificate_id).collect();
        let mut products: HashMap<i64, Vec<String>> = HashMap::new();
        for d in self.account.cas.deployments.iter().filter(|d| wanted.contains(&d.cert_id)) {
            products.entry(d.cert_id).or_default().push(d.cloud_product.clone());
        }
        for list in products.values_mut() {
            list.sort();
            list.dedup();
        }
        let rows: Vec<Value> = shown
            .into_iter()
            .map(|(o, cert)| {
                let using = o.certificate_id.and_then(|id| products.get(&id).cloned()).unwrap_or_default();
                self.instance_row(o, cert, using)
            })
            .collect();
        Ok(json!({
            "TotalCount": all.len(),
            "CurrentPage": cp,
            "ShowSize": ss,
            "EnableReissueCount": enabled,
            "DisableReissueCount": all.len() - enabled,
            "InstanceList": rows,
        }))
    }

    fn cas_instance_detail(&self) -> Result<Value, ApiError> {
        let id = self.p.required("InstanceId")?;
        let o = self
            .account
            .cas
            .orders
            .iter()
            .find(|o| o.instance_id == id)
            // [unverified code]
            .ok_or_else(|| ApiError::not_found("NotFound", "instance"))?;
        let mut v = self.instance_json(o);
        v.as_object_mut().expect("object").insert("AutoReissueFlag".into(), json!(1));
        Ok(v)
    }

    fn cas_cloud_resources(&self) -> Result<Value, ApiError> {
        let cert_ids: Option<Vec<i64>> = match self.p.non_empty("CertIds") {
            None => None,
            Some(t) => Some(serde_json::from_str(t).map_err(|_| ApiError::invalid_parameter("CertIds"))?),
        };
        let cloud = self.p.one_of("CloudName", &["aliyun", "Tencent", "Huawei", "Aws"])?;
        let product = self.p.non_empty("CloudProduct");
        let kw = self.p.non_empty("Keyword");
        let cp = self.p.int("CurrentPage", 1, i64::from(i32::MAX), 1)?;
        // Undocumented maximum [unverified]; the default (20) is documented.
        let ss = self.page_size("ShowSize", 100, 20)?;
        let rows = self
            .account
            .cas
            .deployments
            .iter()
            .filter(|d| cert_ids.as_ref().is_none_or(|ids| ids.contains(&d.cert_id)))
            .filter(|d| cloud.as_deref().is_none_or(|c| c == d.cloud_name))
            .filter(|d| product.is_none_or(|p| p.eq_ignore_ascii_case(&d.cloud_product)))
            .filter(|d| kw.is_none_or(|k| contains_ci(&d.domain, k) || contains_ci(&d.instance_id, k)));
        let (total, shown) = paged(rows, cp, ss, |d| {
            let cert = self.cas_cert(d.cert_id);
            json!({
                "Id": d.id,
                "CertId": d.cert_id,
                "CertName": d.cert_name,
                // Strings holding UNIX seconds, as the SDK model documents.
                "CertStartTime": cert.map(|c| secs(&c.not_before).to_string()),
                "CertEndTime": cert.map(|c| secs(&c.not_after).to_string()),
                "CloudName": d.cloud_name,
                "CloudProduct": d.cloud_product,
                "CloudRegion": d.region_id,
                "RegionId": d.region_id,
                "Domain": d.domain,
                "InstanceId": d.instance_id,
                "ListenerId": d.listener_id,
                "ListenerPort": d.listener_port,
                "EnableHttps": d.enable_https,
                "DefaultResource": d.default_resource,
                "Status": d.status,
                "UseSsl": 1,
                "UserId": self.account.id.parse::<i64>().unwrap_or(0),
                "GmtCreate": cert.map(|c| secs(&c.not_before).to_string()),
                "GmtModified": cert.map(|c| secs(&c.not_before).to_string()),
            })
        });
        Ok(json!({
            "Total": total,
            "CurrentPage": cp,
            "ShowSize": ss,
            "Data": shown,
        }))
    }

    // ---------------------------------------------------------------- ALB

    /// `Name.1`, `Name.2`, ... (how the SDKs flatten array parameters), at most `max`.
    fn list_param(&self, name: &str, max: usize) -> Result<Vec<&str>, ApiError> {
        let values: Vec<&str> = (1..=max + 1).map_while(|i| self.p.non_empty(&format!("{name}.{i}"))).collect();
        if values.len() > max {
            return Err(ApiError::invalid_parameter(name));
        }
        Ok(values)
    }

    /// The ALB load balancers of the request's region: `RegionId` when sent, else the
    /// region in the host name (`alb.<region>.aliyuncs.com`), else every region.
    fn alb_balancers(&self) -> Vec<&'a crate::world::AlbLoadBalancer> {
        let region = self.p.non_empty("RegionId").map(str::to_owned).or_else(|| self.host_region.clone());
        let regions = if self.version == NLB { &self.account.nlb } else { &self.account.alb };
        regions
            .iter()
            .filter(|r| region.as_deref().is_none_or(|want| want == r.region_id))
            .flat_map(|r| &r.load_balancers)
            .collect()
    }

    /// `NextToken` / `MaxResults` paging over `rows` (tokens are opaque offsets).
    fn token_page<T>(
        &self,
        rows: &[T],
        render: impl Fn(&T) -> Value,
    ) -> Result<(Vec<Value>, Option<String>, i64), ApiError> {
        self.token_page_max(rows, 100, render)
    }

    /// [`Ctx::token_page`] with `max` as the documented `MaxResults` maximum.
    fn token_page_max<T>(
        &self,
        rows: &[T],
        max: i64,
        render: impl Fn(&T) -> Value,
    ) -> Result<(Vec<Value>, Option<String>, i64), ApiError> {
        let size = self.page_size("MaxResults", max, 20)?;
        let start = match self.p.non_empty("NextToken") {
            None => 0,
            Some(token) => token
                .strip_prefix("NT")
                .and_then(|t| usize::from_str_radix(t, 16).ok())
                .filter(|o| *o < rows.len())
                .ok_or_else(|| ApiError::invalid_parameter("NextToken"))?,
        };
        let end = (start + size as usize).min(rows.len());
        let next = (end < rows.len()).then(|| format!("NT{end:08x}"));
        Ok((rows[start..end].iter().map(render).collect(), next, size))
    }

    fn alb_load_balancers(&self) -> Result<Value, ApiError> {
        let ids = self.list_param("LoadBalancerIds", 20)?;
        let rows: Vec<_> = self
            .alb_balancers()
            .into_iter()
            .filter(|lb| ids.is_empty() || ids.contains(&lb.load_balancer_id.as_str()))
            .collect();
        let (shown, next, size) = self.token_page(&rows, |lb| {
            json!({
                "LoadBalancerId": lb.load_balancer_id,
                "LoadBalancerName": lb.load_balancer_name,
                "DNSName": lb.dns_name,
                "AddressType": lb.address_type,
                "AddressIpVersion": "IPv4",
                "AddressAllocatedMode": "Dynamic",
                "LoadBalancerStatus": lb.load_balancer_status,
                "LoadBalancerBussinessStatus": "Normal",
                "LoadBalancerEdition": "Standard",
                "CreateTime": "2024-06-01T08:00:00Z",
                "VpcId": format!("vpc-{}", lb.load_balancer_id.trim_start_matches("alb-")),
                "ResourceGroupId": "rg-acfmcertinspect",
                "LoadBalancerBillingConfig": { "PayType": "PostPay" },
                "DeletionProtectionConfig": { "Enabled": false },
                "Tags": lb.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
            })
        })?;
        Ok(json!({ "TotalCount": rows.len(), "MaxResults": size, "NextToken": next, "LoadBalancers": shown }))
    }

    fn alb_listeners(&self) -> Result<Value, ApiError> {
        let ids = self.list_param("LoadBalancerIds", 20)?;
        let protocols: &[&str] =
            if self.version == NLB { &["TCP", "UDP", "TCPSSL"] } else { &["HTTP", "HTTPS", "QUIC"] };
        let protocol = self.p.one_of("ListenerProtocol", protocols)?;
        let rows: Vec<(&crate::world::AlbLoadBalancer, &crate::world::AlbListener)> = self
            .alb_balancers()
            .into_iter()
            .filter(|lb| ids.is_empty() || ids.contains(&lb.load_balancer_id.as_str()))
            .flat_map(|lb| lb.listeners.iter().map(move |l| (lb, l)))
            .filter(|(_, l)| protocol.as_deref().is_none_or(|p| p == l.protocol))
            .collect();
        let (shown, next, size) = self.token_page(&rows, |(lb, l)| {
            json!({
                "ListenerId": l.listener_id,
                "ListenerPort": l.port,
                "ListenerProtocol": l.protocol,
                "ListenerStatus": l.status,
                "LoadBalancerId": lb.load_balancer_id,
                "ListenerDescription": format!("{}_{}", l.protocol, l.port),
                "IdleTimeout": 15,
                "RequestTimeout": 60,
                "GzipEnabled": true,
                "Http2Enabled": l.protocol == "HTTPS",
                "SecurityPolicyId": "tls_cipher_policy_1_0",
            })
        })?;
        Ok(json!({ "TotalCount": rows.len(), "MaxResults": size, "NextToken": next, "Listeners": shown }))
    }

    fn alb_listener_certificates(&self) -> Result<Value, ApiError> {
        let nlb = self.version == NLB;
        let id = self.p.required("ListenerId")?;
        // NLB names the filter CertType and requires it; ALB's CertificateType is optional.
        let type_param = if nlb { "CertType" } else { "CertificateType" };
        if nlb {
            self.p.required(type_param)?;
        }
        let kind = self.p.one_of(type_param, &["Ca", "Server"])?;
        let listener = self
            .alb_balancers()
            .into_iter()
            .flat_map(|lb| &lb.listeners)
            .find(|l| l.listener_id == id)
            // [unverified code]
            .ok_or_else(|| ApiError::not_found("ResourceNotFound.Listener", "listener"))?;
        if matches!(listener.protocol.as_str(), "HTTP" | "TCP" | "UDP") {
            // [unverified code] "You must specify the ID of an HTTPS listener or a QUIC listener."
            return Err(ApiError::new(
                400,
                "OperationDenied.ListenerProtocolNotSupport",
                "The listener is not an HTTPS or QUIC listener.",
            ));
        }
        // The world has server certificates only.
        let rows: Vec<&crate::world::AlbCertificate> =
            if kind.as_deref() == Some("Ca") { Vec::new() } else { listener.certificates.iter().collect() };
        // NLB: "Valid values: 1 to 50" for this list's MaxResults.
        let (shown, next, size) = self.token_page_max(&rows, if nlb { 50 } else { 100 }, |c| {
            json!({
                "CertificateId": c.certificate_id,
                "IsDefault": c.is_default,
                "Status": c.status,
                "CertificateType": "Server",
            })
        })?;
        Ok(json!({ "TotalCount": rows.len(), "MaxResults": size, "NextToken": next, "Certificates": shown }))
    }

    fn pca_status(&self) -> Result<Value, ApiError> {
        let list = self.p.required("SerialNumber")?;
        let mut rows = Vec::new();
        for raw in list.split(',') {
            let s = raw.trim();
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                return Err(ApiError::invalid_parameter("SerialNumber"));
            }
            let norm = s.replace(':', "").to_ascii_lowercase();
            let found = self.account.pca.iter().find(|x| x.serial_number.eq_ignore_ascii_case(&norm));
            rows.push(match found {
                Some(x) if x.status == "revoked" => json!({
                    "SerialNumber": s, "Status": "revoked", "RevokeTime": x.revoke_time.unwrap_or(0)
                }),
                Some(x) => json!({"SerialNumber": s, "Status": x.status}),
                None => json!({"SerialNumber": s, "Status": "unknown"}),
            });
        }
        Ok(json!({ "CertificateStatus": rows }))
    }
}

/// Renders a JSON value as the gateway's XML (used when a V1 request does not ask for
/// JSON: the real default format is XML, so a client that forgets `Format=JSON` must not
/// get JSON by luck). Arrays become repeated elements named after their key.
pub fn to_xml(root: &str, v: &Value) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }
    fn emit(out: &mut String, name: &str, v: &Value) {
        match v {
            Value::Array(items) => {
                for it in items {
                    emit(out, name, it);
                }
            }
            Value::Object(m) => {
                out.push_str(&format!("<{name}>"));
                for (k, x) in m {
                    emit(out, k, x);
                }
                out.push_str(&format!("</{name}>"));
            }
            Value::Null => out.push_str(&format!("<{name}/>")),
            Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", esc(s))),
            other => out.push_str(&format!("<{name}>{other}</{name}>")),
        }
    }
    let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?>");
    emit(&mut out, root, v);
    out
}
