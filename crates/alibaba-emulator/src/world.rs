//! The world the emulator serves: accounts, keys, and what each cloud service declares.
//!
//! Stored as JSON (snake_case field names, our own format). Every entity carries the
//! *declared* facts in the units the real API uses for it (CDN date strings, SLB ISO + ms,
//! CAS hex formats) so the emulator renders them verbatim, and, separately, the files its
//! live endpoint *serves* (`serves`), which may differ on purpose (planted drift).
//!
//! Paths of PEM files are stored relative to the directory of the world file;
//! [`World::load`] turns them into absolute paths so consumers (TLS farms) can open them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::faults::FaultRule;

/// Current world file format.
pub const WORLD_FORMAT: u32 = 1;

/// Everything the emulator knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct World {
    /// File format version ([`WORLD_FORMAT`]).
    pub format: u32,
    /// Regions SLB `DescribeRegions` returns (all accounts see the same list).
    pub regions: Vec<Region>,
    /// Accounts; each access key belongs to exactly one.
    pub accounts: Vec<Account>,
    /// Real certificate material (PEM files) that entities and endpoints refer to by `id`.
    pub materials: Vec<CertMaterial>,
    /// PEM of the private CA that issued the materials (the trust anchor a TLS client of
    /// the farm needs), when generated.
    pub ca_pem: Option<PathBuf>,
    /// Fault injection rules active from start.
    pub faults: Vec<FaultRule>,
    /// What the ECS metadata service hands out (RAM role credentials), if anything.
    pub ecs_metadata: Option<EcsMetadata>,
    /// Drift cases planted by the generator, so tests know what must be found.
    pub manifest: Vec<PlantedDrift>,
    /// Answer shapes that differ between what Alibaba documents and what its own
    /// examples show; a world picks one so clients are tested against both.
    pub quirks: Quirks,
}

/// Documented-versus-example answer shapes (see [`World::quirks`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Quirks {
    /// SLB `DescribeServerCertificates`: send `SubjectAlternativeName` as one string
    /// holding a JSON array (`["[\"a.example\",\"b.example\"]"]`), as the API
    /// reference's example does, instead of one element per name.
    pub slb_sans_as_json_string: bool,
}

/// An SLB region (`DescribeRegions`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Region {
    pub region_id: String,
    pub local_name: String,
    pub region_endpoint: String,
}

/// One Alibaba Cloud account (a UID) with its keys and resources.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Account {
    /// Account UID, e.g. "1234567890123456".
    pub id: String,
    pub name: String,
    pub access_keys: Vec<AccessKey>,
    /// RAM roles that `AssumeRole` (and the ECS metadata service) can hand out.
    pub roles: Vec<Role>,
    pub cdn_domains: Vec<CdnDomain>,
    /// DCDN HTTPS domains (`DescribeDcdnHttpsDomainList`, the CDN row shape).
    pub dcdn_domains: Vec<CdnDomain>,
    /// SLB resources, one entry per region that has any.
    pub slb: Vec<SlbRegion>,
    /// ALB resources, one entry per region that has any.
    pub alb: Vec<AlbRegion>,
    /// NLB resources (same shapes as ALB; listeners TCP | UDP | TCPSSL).
    pub nlb: Vec<AlbRegion>,
    pub cas: Cas,
    /// Private-CA revocation status per serial (CAS 2020-06-30).
    pub pca: Vec<PcaStatus>,
}

/// An access key. A key with `security_token` is an STS key: requests must carry that token.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// Disabled keys are refused with `Forbidden.AccessKeyDisabled`.
    pub enabled: bool,
    pub security_token: Option<String>,
    /// For STS keys: ISO-8601 UTC expiration; after it the token is refused.
    pub expiration: Option<String>,
    /// RAM actions the key's user may call (`cdn:DescribeCdnHttpsDomainList`,
    /// `slb:*`, `*`); `None` allows everything (an account owner's key). Others are
    /// refused with `Forbidden.RAM` (CAS: `NoPermission`).
    pub permissions: Option<Vec<String>>,
}

/// A RAM role, addressed as `acs:ram::<account id>:role/<name>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Role {
    pub name: String,
    /// RAM actions the role's credentials may call, as [`AccessKey::permissions`].
    pub permissions: Option<Vec<String>>,
}

/// The ECS instance metadata service: one attached RAM role.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EcsMetadata {
    pub account_id: String,
    pub role_name: String,
}

/// Files of a real certificate: PEM chain (leaf first, then the CA) and the leaf's key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CertMaterial {
    /// Referenced by `material` / `serves.material` elsewhere.
    pub id: String,
    pub common_name: String,
    pub sans: Vec<String>,
    /// Lower-case hex, no separators.
    pub serial: String,
    /// SHA-1 of the leaf DER, lower-case hex, no separators.
    pub sha1: String,
    /// SHA-256 of the leaf DER, lower-case hex, no separators.
    pub sha256: String,
    /// Issuer common name.
    pub issuer: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub chain_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// What a live endpoint serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Served {
    /// Id of the [`CertMaterial`] served.
    pub material: String,
    pub chain_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// A CDN HTTPS domain (`DescribeCdnHttpsDomainList` row) and what its edge serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CdnDomain {
    pub domain_name: String,
    pub cert_name: String,
    pub cert_common_name: String,
    /// "YYYY-MM-DD HH:MM:SS" (the generator writes UTC+8, like Alibaba's consoles).
    pub cert_start_time: String,
    pub cert_expire_time: String,
    pub cert_update_time: String,
    /// free | cas | upload
    pub cert_type: String,
    /// ok | mismatch | expired | expire_soon
    pub cert_status: String,
    /// CAS certificate id when `cert_type` is cas.
    pub cas_certificate_id: Option<i64>,
    /// HTTPS switched off for the domain (`DescribeDomainCertificateInfo`
    /// `ServerCertificateStatus` = off) while the certificate stays configured.
    pub https_off: bool,
    /// Declared certificate material, when known.
    pub material: Option<String>,
    pub serves: Option<Served>,
    /// Resource tags, key to value (answered by `DescribeTagResources` /
    /// `DescribeDcdnTagResources` as `TagResources[] {ResourceId, Tag[] {Key, Value}}`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// SLB resources of one region.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SlbRegion {
    pub region_id: String,
    pub server_certificates: Vec<ServerCertificate>,
    pub load_balancers: Vec<LoadBalancer>,
}

/// An SLB server certificate (`DescribeServerCertificates` row).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerCertificate {
    pub server_certificate_id: String,
    pub server_certificate_name: String,
    /// SHA-1, lower-case hex, ':'-separated.
    pub fingerprint: String,
    pub common_name: String,
    pub subject_alternative_names: Vec<String>,
    /// ISO-8601 UTC "2021-08-31T02:49:05Z".
    pub create_time: String,
    /// ms since epoch.
    pub create_time_stamp: i64,
    pub expire_time: String,
    pub expire_time_stamp: i64,
    /// 1 = from CAS, 0 = uploaded to SLB.
    pub is_ali_cloud_certificate: i32,
    pub ali_cloud_certificate_id: String,
    pub ali_cloud_certificate_name: String,
    pub resource_group_id: String,
    pub material: Option<String>,
}

/// A classic load balancer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LoadBalancer {
    pub load_balancer_id: String,
    pub load_balancer_name: String,
    /// Service address (where its listeners are probed).
    pub address: String,
    /// ipv4 | ipv6
    pub address_ip_version: String,
    /// internet | intranet
    pub address_type: String,
    /// active | inactive | locked
    pub load_balancer_status: String,
    /// ISO-8601 UTC.
    pub create_time: String,
    pub create_time_stamp: i64,
    pub listeners: Vec<Listener>,
    /// Resource tags, key to value (answered as `Tags.Tag[]`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A listener. HTTPS listeners have a default certificate and SNI domain extensions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Listener {
    pub port: u16,
    /// https | http | tcp | udp
    pub protocol: String,
    pub backend_server_port: u16,
    /// running | stopped
    pub status: String,
    pub server_certificate_id: Option<String>,
    pub domain_extensions: Vec<DomainExtension>,
    /// What the listener serves when the client's SNI matches no extension.
    pub serves: Option<Served>,
}

/// An SNI extension certificate of an HTTPS listener.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DomainExtension {
    pub domain: String,
    pub domain_extension_id: String,
    pub server_certificate_id: String,
    /// What the listener serves for this SNI name.
    pub serves: Option<Served>,
}

/// ALB resources of one region.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlbRegion {
    pub region_id: String,
    pub load_balancers: Vec<AlbLoadBalancer>,
}

/// An Application Load Balancer (`ListLoadBalancers` row).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlbLoadBalancer {
    pub load_balancer_id: String,
    pub load_balancer_name: String,
    /// `DNSName`, where clients connect.
    pub dns_name: String,
    /// The loopback address the TLS farm serves the DNS name on (world only).
    pub address: String,
    /// Internet | Intranet
    pub address_type: String,
    /// Active | Inactive | Provisioning | Configuring | CreateFailed
    pub load_balancer_status: String,
    pub listeners: Vec<AlbListener>,
    /// Resource tags, key to value (answered as `Tags[] {Key, Value}`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// An ALB listener (`ListListeners` row) and its certificates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlbListener {
    pub listener_id: String,
    pub port: u16,
    /// HTTP | HTTPS | QUIC
    pub protocol: String,
    /// Running | Stopped | Provisioning | Configuring
    pub status: String,
    /// `ListListenerCertificates` rows.
    pub certificates: Vec<AlbCertificate>,
}

/// A certificate on an ALB listener.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlbCertificate {
    /// CAS `CertIdentifier` form, `123-cn-hangzhou`.
    pub certificate_id: String,
    pub is_default: bool,
    /// Associating | Associated | Diassociating
    pub status: String,
    /// The SNI name the farm serves this certificate for (world only; ALB does not say).
    pub domain: Option<String>,
    /// What the listener serves for `domain` (or without SNI, for the default).
    pub serves: Option<Served>,
}

/// The CAS (SSL Certificates Service) inventory of an account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Cas {
    pub certificates: Vec<CasCertificate>,
    pub orders: Vec<CasOrder>,
    /// `ListCloudResources` rows: where CAS thinks each certificate is deployed.
    pub deployments: Vec<CloudResource>,
}

/// A CAS certificate (`ListUserCertificateOrder` CERT/UPLOAD row, `GetUserCertificateDetail`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CasCertificate {
    pub certificate_id: i64,
    pub name: String,
    pub common_name: String,
    pub sans: Vec<String>,
    /// Lower-case hex, no separators.
    pub serial_no: String,
    /// SHA-1, upper-case hex, no separators.
    pub fingerprint: String,
    /// SHA-256, upper-case hex, no separators.
    pub sha2: String,
    pub issuer: String,
    pub org_name: String,
    /// RFC 3339 UTC; rendered as "YYYY-MM-DD" or ms/seconds depending on the operation.
    pub not_before: String,
    pub not_after: String,
    /// Forces `Expired`; when absent it is computed from `not_after` and the emulator clock.
    pub expired: Option<bool>,
    /// true = uploaded by the user, false = bought/issued in CAS.
    pub upload: bool,
    pub instance_id: String,
    pub order_id: Option<i64>,
    /// "<id>-cn-hangzhou"
    pub cert_identifier: String,
    /// RSA | ECC | SM2
    pub algorithm: String,
    pub resource_group_id: String,
    pub material: Option<String>,
}

/// A CAS order / certificate instance (CPACK/BUY rows, `ListInstances`, `GetInstanceDetail`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CasOrder {
    pub order_id: i64,
    pub instance_id: String,
    /// cpack | buy
    pub source_type: String,
    pub domain: String,
    /// DV | OV | EV | FREE
    pub cert_type: String,
    /// PAYED | CHECKING | CHECKED_FAIL | ISSUED | WILLEXPIRED | EXPIRED | NOTACTIVATED | REVOKED
    pub status: String,
    /// ms since epoch.
    pub buy_date: i64,
    /// The certificate this order currently holds (after renewals, the newest).
    pub certificate_id: Option<i64>,
    /// `TrusteeStatus`: true = "trustee" (hosted), false = "unTrustee".
    pub trustee: bool,
    /// `AutoReissue`: true = "enable".
    pub auto_reissue: bool,
    pub brand: String,
    pub product_name: String,
}

/// A `ListCloudResources` row.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CloudResource {
    pub id: i64,
    pub cert_id: i64,
    pub cert_name: String,
    /// aliyun | Tencent | Huawei | Aws
    pub cloud_name: String,
    /// SLB | CDN | DCDN | ALB | ...
    pub cloud_product: String,
    pub region_id: String,
    pub domain: String,
    pub instance_id: String,
    pub listener_id: String,
    pub listener_port: String,
    pub enable_https: i32,
    pub default_resource: i32,
    pub status: String,
}

/// Private-CA status of one serial.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PcaStatus {
    /// Lower-case hex.
    pub serial_number: String,
    /// good | revoked
    pub status: String,
    /// ms since epoch when revoked.
    pub revoke_time: Option<i64>,
}

/// A deliberate inconsistency the generator planted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PlantedDrift {
    /// stale | foreign | expired | wrong_name | revoked | auto_managed_not_deployed | revoked_crl (with a CRL URL)
    pub kind: String,
    pub account_id: String,
    /// cdn | slb
    pub service: String,
    /// slb only.
    pub region_id: Option<String>,
    /// CDN domain name, or SLB load balancer id.
    pub resource: String,
    /// SLB listener port.
    pub port: Option<u16>,
    /// SNI name the drift is visible under (CDN domain, SLB extension domain or default name).
    pub sni: String,
    /// Material the API declares.
    pub declared_material: String,
    /// Material the endpoint serves.
    pub served_material: String,
    /// CAS certificate ids involved (declared first, then any newer one).
    pub cas_certificate_ids: Vec<i64>,
    pub note: String,
}

/// Errors loading or saving a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write world file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("world file {path} is not valid: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("world is inconsistent: {0}")]
    Invalid(String),
}

impl World {
    /// Reads a world file and makes its relative PEM paths absolute (relative to the file).
    pub fn load(path: &Path) -> Result<World, WorldError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| WorldError::Read { path: path.to_path_buf(), source })?;
        let mut world: World =
            serde_json::from_str(&text).map_err(|source| WorldError::Parse { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        world.resolve_paths(&base);
        world.validate()?;
        Ok(world)
    }

    /// Writes the world as pretty JSON (paths as they are in memory).
    pub fn save(&self, path: &Path) -> Result<(), WorldError> {
        let text = serde_json::to_string_pretty(self).expect("world serialises");
        std::fs::write(path, text).map_err(|source| WorldError::Write { path: path.to_path_buf(), source })
    }

    /// Joins every relative PEM path onto `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if !p.as_os_str().is_empty() && p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let fix_served = |s: &mut Option<Served>| {
            if let Some(s) = s {
                fix(&mut s.chain_pem);
                fix(&mut s.key_pem);
            }
        };
        if let Some(ca) = &mut self.ca_pem {
            fix(ca);
        }
        for m in &mut self.materials {
            fix(&mut m.chain_pem);
            fix(&mut m.key_pem);
        }
        for a in &mut self.accounts {
            for d in a.cdn_domains.iter_mut().chain(&mut a.dcdn_domains) {
                fix_served(&mut d.serves);
            }
            for r in &mut a.slb {
                for lb in &mut r.load_balancers {
                    for l in &mut lb.listeners {
                        fix_served(&mut l.serves);
                        for e in &mut l.domain_extensions {
                            fix_served(&mut e.serves);
                        }
                    }
                }
            }
            for r in a.alb.iter_mut().chain(&mut a.nlb) {
                for c in r.load_balancers.iter_mut().flat_map(|lb| &mut lb.listeners).flat_map(|l| &mut l.certificates)
                {
                    fix_served(&mut c.serves);
                }
            }
        }
    }

    /// Checks what the emulator relies on: unique access key ids, known regions.
    pub fn validate(&self) -> Result<(), WorldError> {
        let mut keys = std::collections::HashSet::new();
        for a in &self.accounts {
            for k in &a.access_keys {
                if !keys.insert(k.id.as_str()) {
                    return Err(WorldError::Invalid(format!("access key id {} appears twice", k.id)));
                }
            }
            for r in &a.slb {
                if !self.regions.iter().any(|x| x.region_id == r.region_id) {
                    return Err(WorldError::Invalid(format!(
                        "account {} has SLB resources in region {} which is not in regions",
                        a.id, r.region_id
                    )));
                }
            }
        }
        Ok(())
    }

    /// The material with this id.
    pub fn material(&self, id: &str) -> Option<&CertMaterial> {
        self.materials.iter().find(|m| m.id == id)
    }

    /// Every live endpoint the world declares, for TLS farms: one entry per CDN domain,
    /// SLB listener default certificate and SLB domain extension that has `serves`.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let mut out = Vec::new();
        for a in &self.accounts {
            let domains = a.cdn_domains.iter().map(|d| ("cdn", d)).chain(a.dcdn_domains.iter().map(|d| ("dcdn", d)));
            for (service, d) in domains {
                if let Some(s) = &d.serves {
                    out.push(Endpoint {
                        account_id: a.id.clone(),
                        service: service.into(),
                        region_id: None,
                        resource: d.domain_name.clone(),
                        address: None,
                        host_name: None,
                        port: 443,
                        sni: Some(d.domain_name.clone()),
                        serves: s.clone(),
                    });
                }
            }
            for r in &a.slb {
                for lb in &r.load_balancers {
                    for l in &lb.listeners {
                        if let Some(s) = &l.serves {
                            out.push(Endpoint {
                                account_id: a.id.clone(),
                                service: "slb".into(),
                                region_id: Some(r.region_id.clone()),
                                resource: lb.load_balancer_id.clone(),
                                address: Some(lb.address.clone()),
                                host_name: None,
                                port: l.port,
                                sni: None,
                                serves: s.clone(),
                            });
                        }
                        for e in &l.domain_extensions {
                            if let Some(s) = &e.serves {
                                out.push(Endpoint {
                                    account_id: a.id.clone(),
                                    service: "slb".into(),
                                    region_id: Some(r.region_id.clone()),
                                    resource: lb.load_balancer_id.clone(),
                                    address: Some(lb.address.clone()),
                                    host_name: None,
                                    port: l.port,
                                    sni: Some(e.domain.clone()),
                                    serves: s.clone(),
                                });
                            }
                        }
                    }
                }
            }
            let balancers = a.alb.iter().map(|r| ("alb", r)).chain(a.nlb.iter().map(|r| ("nlb", r)));
            for (service, r) in balancers {
                for lb in &r.load_balancers {
                    for l in lb.listeners.iter().filter(|l| l.protocol == "HTTPS" || l.protocol == "TCPSSL") {
                        for c in &l.certificates {
                            if let Some(s) = &c.serves {
                                out.push(Endpoint {
                                    account_id: a.id.clone(),
                                    service: service.into(),
                                    region_id: Some(r.region_id.clone()),
                                    resource: lb.load_balancer_id.clone(),
                                    address: Some(lb.address.clone()),
                                    host_name: Some(lb.dns_name.clone()),
                                    port: l.port,
                                    sni: if c.is_default { None } else { c.domain.clone() },
                                    serves: s.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// One live TLS endpoint of the world (see [`World::endpoints`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub account_id: String,
    /// cdn | slb | alb
    pub service: String,
    pub region_id: Option<String>,
    /// CDN domain, or SLB / ALB load balancer id.
    pub resource: String,
    /// SLB service address; CDN has none (resolved by name).
    pub address: Option<String>,
    /// The name clients connect to when it is not the address (ALB/NLB `DNSName`).
    #[serde(default)]
    pub host_name: Option<String>,
    pub port: u16,
    /// SNI name this entry answers; `None` = the listener's default certificate.
    pub sni: Option<String>,
    pub serves: Served,
}
