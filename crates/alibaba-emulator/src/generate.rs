//! World generation with real certificates.
//!
//! One private CA signs every leaf; leaves reuse a small pool of ECDSA P-256 keys (key
//! generation, not signing, is what would make 10,000 certificates slow). Each leaf's
//! declared identity (CN, SANs, serial, validity) is what rcgen puts in the DER, and the
//! fingerprints stored in the world are computed from that DER, so what the API declares
//! and what a TLS farm serves from the PEM files line up exactly — except where drift is
//! planted on purpose and recorded in [`World::manifest`].
//!
//! The structure of a world (names, ids, serials, validity, which domain drifts how)
//! depends only on the options and the seed; key pairs and ECDSA signatures are fresh on
//! every run (ring draws them from the system generator), so fingerprints differ between
//! runs of the same seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{rngs::StdRng, Rng, SeedableRng};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use time::{format_description::well_known::Rfc3339, macros::format_description, Duration, OffsetDateTime, UtcOffset};

use crate::world::*;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of deployed domains (each with its own certificate; drift and expired
    /// inventory add a few more certificates).
    pub domains: usize,
    pub out_dir: PathBuf,
    pub seed: u64,
    /// SLB regions (CDN is global). Default: cn-hangzhou, cn-shanghai, cn-beijing.
    pub regions: Vec<String>,
    pub accounts: usize,
    /// Plant the drift cases (see [`DRIFT_KINDS`]).
    pub drift: bool,
    /// Reference time for validity periods and statuses.
    pub now: OffsetDateTime,
    /// Leaf keys to generate and share.
    pub leaf_key_pool: usize,
    /// Plant an ALB load balancer in the first account and region: an HTTPS listener
    /// whose additional (SNI) certificate is declared renewed while the old one is
    /// still served (a `stale` drift with service `alb`), with the CAS deployment
    /// row naming its domain. Off by default, so existing worlds stay as they were.
    pub alb: bool,
    /// A CRL distribution point URL (an HTTP server the caller runs on loopback):
    /// every leaf names it, the CA publishes `out_dir/ca.crl` listing what it
    /// revoked, and with `drift` one more drift is planted, `revoked_crl`: a
    /// served, declared certificate the provider does not know is revoked, only
    /// the CRL says so (as with a public CA). Off by default: worlds stay as they were.
    pub crl_url: Option<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            domains: 10,
            out_dir: PathBuf::from("world"),
            seed: 1,
            regions: vec!["cn-hangzhou".into(), "cn-shanghai".into(), "cn-beijing".into()],
            accounts: 2,
            drift: false,
            now: OffsetDateTime::now_utc(),
            leaf_key_pool: 8,
            alb: false,
            crl_url: None,
        }
    }
}

/// The result: the world (with absolute paths) and where it was written.
#[derive(Debug, Clone)]
pub struct GeneratedWorld {
    pub world: World,
    /// `out_dir/world.json` (relative paths inside).
    pub world_path: PathBuf,
    /// The private CA certificate (trust anchor for the farm's clients).
    pub ca_pem: PathBuf,
    /// Real certificates made (leaves; the CA not counted).
    pub certificates: usize,
    pub elapsed: std::time::Duration,
}

/// The drift kinds planted with `drift: true`, in planting order (plus `revoked_crl`
/// when the world has a CRL, see [`GenerateOptions::crl_url`]).
pub const DRIFT_KINDS: &[&str] = &["stale", "foreign", "expired", "wrong_name", "revoked", "auto_managed_not_deployed"];

/// Errors of generation.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("invalid options: {0}")]
    Options(String),
}

const CA_NAME: &str = "certinspect Emulator Private CA";

struct Gen {
    out: PathBuf,
    rng: StdRng,
    now: OffsetDateTime,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    ca_pem: String,
    pool: Vec<(KeyPair, PathBuf)>,
    materials: Vec<CertMaterial>,
    next_cas_id: i64,
    next_order: i64,
    next_misc: u64,
    /// Every leaf's CRL distribution point, when the world has a CRL.
    crl_url: Option<String>,
    /// Serials (hex) the CA's CRL lists.
    crl_revoked: Vec<String>,
}

fn write(path: &Path, data: &str) -> Result<(), GenerateError> {
    std::fs::write(path, data).map_err(|source| GenerateError::Io { path: path.to_path_buf(), source })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formats")
}

fn iso_z(t: OffsetDateTime) -> String {
    crate::api::iso(t)
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// CDN strings: "YYYY-MM-DD HH:MM:SS" in UTC+8, like Alibaba's consoles [zone unverified].
fn cdn_time(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::from_hms(8, 0, 0).expect("offset"))
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .expect("formats")
}

fn sha1_hex(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der))
}

fn sha256_hex(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// "aa:bb:..." from "aabb...".
pub fn colon_hex(h: &str) -> String {
    h.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join(":")
}

impl Gen {
    fn new(opts: &GenerateOptions) -> Result<Gen, GenerateError> {
        let out = opts.out_dir.clone();
        for d in [out.clone(), out.join("certs"), out.join("keys")] {
            std::fs::create_dir_all(&d).map_err(|source| GenerateError::Io { path: d, source })?;
        }
        let now = opts.now.replace_nanosecond(0).expect("valid");
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_NAME);
        dn.push(DnType::OrganizationName, "certinspect test");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        p.not_before = now - Duration::days(3650);
        p.not_after = now + Duration::days(3650);
        p.serial_number = Some(SerialNumber::from_slice(&[0x01, 0x00, 0x01]));
        let ca = p.self_signed(&ca_key)?;
        let ca_pem = ca.pem();
        write(&out.join("ca.pem"), &ca_pem)?;
        write(&out.join("ca.key.pem"), &ca_key.serialize_pem())?;
        let mut pool = Vec::new();
        for k in 0..opts.leaf_key_pool.max(1) {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let rel = PathBuf::from(format!("keys/leaf-{k}.key.pem"));
            write(&out.join(&rel), &key.serialize_pem())?;
            pool.push((key, rel));
        }
        Ok(Gen {
            out,
            rng: StdRng::seed_from_u64(opts.seed),
            now,
            ca,
            ca_key,
            ca_pem,
            pool,
            materials: Vec::new(),
            next_cas_id: 12_000_000,
            next_order: 9_000_000,
            next_misc: 1,
            crl_url: opts.crl_url.clone(),
            crl_revoked: Vec::new(),
        })
    }

    fn serial(&mut self) -> String {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b);
        // A positive INTEGER without a padding octet: first byte 0x01..=0x7f.
        b[0] = (b[0] & 0x7f).max(1);
        hex::encode(b)
    }

    /// Makes, writes and records a leaf; returns the material id.
    fn leaf(
        &mut self,
        id: &str,
        cn: &str,
        sans: &[String],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<usize, GenerateError> {
        let serial = self.serial();
        let mut p = CertificateParams::new(sans.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(DnType::OrganizationName, "certinspect test");
        p.distinguished_name = dn;
        p.not_before = not_before;
        p.not_after = not_after;
        p.serial_number = Some(SerialNumber::from_slice(&hex::decode(&serial).expect("hex")));
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        if let Some(url) = &self.crl_url {
            p.crl_distribution_points = vec![rcgen::CrlDistributionPoint { uris: vec![url.clone()] }];
        }
        let slot = self.materials.len() % self.pool.len();
        let (key, key_rel) = &self.pool[slot];
        let cert = p.signed_by(key, &self.ca, &self.ca_key)?;
        let der = cert.der().to_vec();
        let chain_rel = PathBuf::from(format!("certs/{id}.chain.pem"));
        write(&self.out.join(&chain_rel), &format!("{}{}", cert.pem(), self.ca_pem))?;
        self.materials.push(CertMaterial {
            id: id.to_string(),
            common_name: cn.to_string(),
            sans: sans.to_vec(),
            serial,
            sha1: sha1_hex(&der),
            sha256: sha256_hex(&der),
            issuer: CA_NAME.to_string(),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            chain_pem: chain_rel,
            key_pem: key_rel.clone(),
        });
        Ok(self.materials.len() - 1)
    }

    /// The CA's CRL (DER) listing `crl_revoked`, revoked two days ago,
    /// valid from an hour ago for a week.
    fn crl(&self) -> Result<Vec<u8>, GenerateError> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: self.now - Duration::hours(1),
            next_update: self.now + Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: self
                .crl_revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&hex::decode(serial).expect("hex")),
                    revocation_time: self.now - Duration::days(2),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.ca, &self.ca_key)?.der().to_vec())
    }

    fn served(&self, m: usize) -> Served {
        let m = &self.materials[m];
        Served { material: m.id.clone(), chain_pem: m.chain_pem.clone(), key_pem: m.key_pem.clone() }
    }

    fn cas_cert(&mut self, m: usize, upload: bool, instance_id: &str, order_id: Option<i64>) -> CasCertificate {
        let id = self.next_cas_id;
        self.next_cas_id += 1;
        let mat = &self.materials[m];
        CasCertificate {
            certificate_id: id,
            name: format!("cert-{}", mat.id),
            common_name: mat.common_name.clone(),
            sans: mat.sans.clone(),
            serial_no: mat.serial.clone(),
            fingerprint: mat.sha1.to_uppercase(),
            sha2: mat.sha256.to_uppercase(),
            issuer: mat.issuer.clone(),
            org_name: "certinspect test".into(),
            not_before: mat.not_before.clone(),
            not_after: mat.not_after.clone(),
            expired: None,
            upload,
            instance_id: instance_id.to_string(),
            order_id,
            cert_identifier: format!("{id}-cn-hangzhou"),
            algorithm: "ECC".into(),
            resource_group_id: "rg-acfmcertinspect".into(),
            material: Some(mat.id.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    Cdn,
    SlbDefault,
    SlbExtension,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// Bought in CAS (order + instance).
    CasBought,
    /// Uploaded to CAS.
    CasUpload,
    /// CDN free certificate (not in CAS).
    CdnFree,
    /// Uploaded to SLB only (not in CAS).
    SlbUpload,
}

/// SLB endpoint of a region, by the client's endpoint rules (reference §2),
/// so what `DescribeRegions` answers and what clients resolve cannot drift.
/// The ALB case of [`GenerateOptions::alb`].
fn plant_alb(g: &mut Gen, world: &mut World, region: &str) -> Result<(), GenerateError> {
    let now = g.now;
    let account = &world.accounts[0];
    let (account_id, lb_id, listener_id) = (account.id.clone(), "alb-demo0001".to_owned(), "lsn-demo0001".to_owned());
    let default_name = "alb-default.acct0.certinspect.test".to_owned();
    let sni_name = "alb-sni.acct0.certinspect.test".to_owned();
    let default = g.leaf(
        "alb-default",
        &default_name,
        std::slice::from_ref(&default_name),
        now - Duration::days(10),
        now + Duration::days(355),
    )?;
    let renewed = g.leaf(
        "alb-sni",
        &sni_name,
        std::slice::from_ref(&sni_name),
        now - Duration::days(10),
        now + Duration::days(355),
    )?;
    let old = g.leaf(
        "alb-sni-old",
        &sni_name,
        std::slice::from_ref(&sni_name),
        now - Duration::days(310),
        now + Duration::days(20),
    )?;
    let default_cas = g.cas_cert(default, true, "", None);
    let renewed_cas = g.cas_cert(renewed, true, "", None);
    let old_cas = g.cas_cert(old, true, "", None);
    let identifier = |c: &CasCertificate| format!("{}-cn-hangzhou", c.certificate_id);
    let certificates = vec![
        AlbCertificate {
            certificate_id: identifier(&default_cas),
            is_default: true,
            status: "Associated".into(),
            domain: None,
            serves: Some(g.served(default)),
        },
        AlbCertificate {
            certificate_id: identifier(&renewed_cas),
            is_default: false,
            status: "Associated".into(),
            domain: Some(sni_name.clone()),
            serves: Some(g.served(old)),
        },
    ];
    // CAS lists the default certificate's deployment too (DefaultResource 1).
    let default_deployment = CloudResource {
        id: 990_000,
        cert_id: default_cas.certificate_id,
        cert_name: default_cas.name.clone(),
        cloud_name: "aliyun".into(),
        cloud_product: "ALB".into(),
        region_id: region.to_owned(),
        domain: default_name.clone(),
        instance_id: lb_id.clone(),
        listener_id: listener_id.clone(),
        listener_port: "443".into(),
        enable_https: 1,
        default_resource: 1,
        status: "normal".into(),
    };
    let deployment = CloudResource {
        id: 990_001,
        cert_id: renewed_cas.certificate_id,
        cert_name: renewed_cas.name.clone(),
        cloud_name: "aliyun".into(),
        cloud_product: "ALB".into(),
        region_id: region.to_owned(),
        domain: sni_name.clone(),
        instance_id: lb_id.clone(),
        listener_id: listener_id.clone(),
        listener_port: "443".into(),
        enable_https: 1,
        default_resource: 0,
        status: "normal".into(),
    };
    world.manifest.push(PlantedDrift {
        kind: "stale".into(),
        account_id,
        service: "alb".into(),
        region_id: Some(region.to_owned()),
        resource: lb_id.clone(),
        port: Some(443),
        sni: sni_name,
        declared_material: g.materials[renewed].id.clone(),
        served_material: g.materials[old].id.clone(),
        cas_certificate_ids: vec![renewed_cas.certificate_id, old_cas.certificate_id],
        note: "ALB declares the renewed SNI certificate; the listener still serves the previous one (same names)."
            .into(),
    });
    let account = &mut world.accounts[0];
    account.cas.certificates.extend([default_cas, renewed_cas, old_cas]);
    account.cas.deployments.extend([default_deployment, deployment]);
    account.alb.push(AlbRegion {
        region_id: region.to_owned(),
        load_balancers: vec![AlbLoadBalancer {
            load_balancer_id: lb_id.clone(),
            load_balancer_name: "demo ALB".into(),
            dns_name: format!("{lb_id}.{region}.alb.certinspect.test"),
            address: "127.12.0.1".into(),
            address_type: "Internet".into(),
            load_balancer_status: "Active".into(),
            listeners: vec![AlbListener {
                listener_id,
                port: 443,
                protocol: "HTTPS".into(),
                status: "Running".into(),
                certificates,
            }],
            // Tagged as the load balancers are (see there).
            tags: [("owner", "alice"), ("team", "web"), ("cost-center", "cc-100")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }],
    });
    Ok(())
}

pub fn slb_endpoint(region: &str) -> String {
    alibaba_openapi::resolve_endpoint(alibaba_openapi::Product::Slb, Some(region))
        .unwrap_or_else(|_| format!("slb.{region}.aliyuncs.com"))
}

/// Builds a world and writes it (PEM files and `world.json`) under `opts.out_dir`.
pub fn generate(opts: &GenerateOptions) -> Result<GeneratedWorld, GenerateError> {
    let started = Instant::now();
    if opts.accounts == 0 {
        return Err(GenerateError::Options("accounts must be at least 1".into()));
    }
    if opts.regions.is_empty() {
        return Err(GenerateError::Options("at least one region is needed".into()));
    }
    let mut g = Gen::new(opts)?;
    let now = g.now;
    let n = opts.domains;

    let mut world = World {
        format: WORLD_FORMAT,
        regions: opts
            .regions
            .iter()
            .map(|r| Region {
                region_id: r.clone(),
                local_name: crate::api::region_local_name(r),
                region_endpoint: slb_endpoint(r),
            })
            .collect(),
        ..World::default()
    };
    for a in 0..opts.accounts {
        let uid = format!("{}", 1_880_000_000_000_000u64 + a as u64 * 1_000_003);
        let mut keys = vec![AccessKey {
            id: format!("LTAI5tEmu{a:02}{:08X}", g.rng.gen::<u32>()),
            secret: format!("{:016x}{:016x}", g.rng.gen::<u64>(), g.rng.gen::<u64>()),
            enabled: true,
            security_token: None,
            expiration: None,
            permissions: None,
        }];
        if a == 0 {
            keys.push(AccessKey {
                id: "LTAI5tEmuDisabled00".into(),
                secret: "disabled-secret".into(),
                enabled: false,
                security_token: None,
                expiration: None,
                permissions: None,
            });
        }
        world.accounts.push(Account {
            id: uid,
            name: format!("account-{a}"),
            access_keys: keys,
            roles: vec![Role { name: "certinspect-reader".into(), permissions: None }],
            ..Account::default()
        });
    }
    world.ecs_metadata =
        Some(EcsMetadata { account_id: world.accounts[0].id.clone(), role_name: "certinspect-reader".into() });

    // Which domains drift how.
    let mut drift_at: Vec<Option<&'static str>> = vec![None; n];
    if opts.drift {
        for (k, kind) in DRIFT_KINDS.iter().enumerate() {
            let idx = if n >= DRIFT_KINDS.len() {
                (2 * k + 1) * n / (2 * DRIFT_KINDS.len())
            } else if k < n {
                k
            } else {
                continue;
            };
            drift_at[idx] = Some(kind);
        }
        if opts.crl_url.is_some() {
            if let Some(slot) = drift_at.iter_mut().rev().find(|d| d.is_none()) {
                *slot = Some("revoked_crl");
            }
        }
    }

    for (i, drift) in drift_at.iter().copied().enumerate() {
        let a = i % opts.accounts;
        let acct_id = world.accounts[a].id.clone();
        let domain = format!("svc-{i:05}.acct{a}.certinspect.test");
        let mut service = match i % 3 {
            0 => Service::Cdn,
            1 => Service::SlbDefault,
            _ => Service::SlbExtension,
        };
        if drift == Some("wrong_name") {
            service = Service::Cdn;
        }
        let mut source = match service {
            Service::Cdn => match i % 10 {
                3 => Source::CasUpload,
                6 => Source::CdnFree,
                _ => Source::CasBought,
            },
            _ if i % 5 == 0 => Source::SlbUpload,
            _ => Source::CasBought,
        };
        if drift.is_some() {
            source = Source::CasBought;
        }
        let region = opts.regions[(i / 3) % opts.regions.len()].clone();

        // Validity.
        let (nb, na) = if drift == Some("expired") {
            (now - Duration::days(400), now - Duration::days(5))
        } else if i % 17 == 5 {
            let na = now + Duration::days(5 + (i % 20) as i64);
            (na - Duration::days(90), na)
        } else {
            let nb = now - Duration::days(10 + (i % 200) as i64);
            (nb, nb + Duration::days(365))
        };
        let (cn, sans) = if drift == Some("wrong_name") {
            let other = format!("wrong-{i:05}.acct{a}.certinspect.test");
            (other.clone(), vec![other])
        } else {
            (domain.clone(), vec![domain.clone()])
        };
        let declared = g.leaf(&format!("c{i:05}"), &cn, &sans, nb, na)?;
        let mut served = declared;
        let mut extra_cas: Vec<CasCertificate> = Vec::new();
        let mut note = String::new();
        match drift {
            Some("stale") => {
                let old =
                    g.leaf(&format!("c{i:05}-old"), &cn, &sans, nb - Duration::days(300), nb + Duration::days(20))?;
                served = old;
                note = "API declares the renewed certificate; the endpoint still serves the previous one (same names)."
                    .into();
            }
            Some("foreign") => {
                let f = format!("foreign-{i:05}.elsewhere.test");
                served = g.leaf(&format!("c{i:05}-foreign"), &f, std::slice::from_ref(&f), nb, na)?;
                note = "The endpoint serves a certificate for another name, not the declared one.".into();
            }
            Some("expired") => note = "Declared and served certificate expired 5 days ago.".into(),
            Some("wrong_name") => note = "The bound certificate does not cover the domain (CDN says mismatch).".into(),
            Some("revoked") => {
                g.crl_revoked.push(g.materials[declared].serial.clone());
                note = "The private CA reports the declared serial as revoked.".into();
            }
            Some("revoked_crl") => {
                g.crl_revoked.push(g.materials[declared].serial.clone());
                note = "The served, declared certificate is on its CA's CRL; the provider does not know.".into();
            }
            _ => {}
        }

        // CAS entries.
        let mut cas_id: Option<i64> = None;
        let mut declared_cas_ids = Vec::new();
        match source {
            Source::CasBought => {
                let order_id = g.next_order;
                g.next_order += 1;
                let instance = format!("cas-ivauto-{order_id:x}");
                let cert = g.cas_cert(declared, false, &instance, Some(order_id));
                cas_id = Some(cert.certificate_id);
                declared_cas_ids.push(cert.certificate_id);
                let trustee = i % 4 == 0 || drift == Some("auto_managed_not_deployed");
                let mut current = Some(cert.certificate_id);
                if drift == Some("auto_managed_not_deployed") {
                    // CAS renewed it (new certificate on the same instance); nothing deployed it.
                    let renewed = g.leaf(
                        &format!("c{i:05}-renewed"),
                        &cn,
                        &sans,
                        now - Duration::days(1),
                        now + Duration::days(364),
                    )?;
                    let rc = g.cas_cert(renewed, false, &instance, Some(order_id));
                    current = Some(rc.certificate_id);
                    declared_cas_ids.push(rc.certificate_id);
                    extra_cas.push(rc);
                    note = "CAS auto-renewed the hosted certificate; CDN/SLB and CAS deployments still reference the old one.".into();
                }
                if drift == Some("stale") {
                    let old = g.cas_cert(served, false, &instance, Some(order_id));
                    declared_cas_ids.push(old.certificate_id);
                    extra_cas.push(old);
                }
                let status = if na < now {
                    "EXPIRED"
                } else if na - now < Duration::days(30) {
                    "WILLEXPIRED"
                } else {
                    "ISSUED"
                };
                world.accounts[a].cas.orders.push(CasOrder {
                    order_id,
                    instance_id: instance,
                    source_type: if i % 2 == 0 { "cpack" } else { "buy" }.into(),
                    domain: domain.clone(),
                    cert_type: "DV".into(),
                    status: status.into(),
                    buy_date: ms(nb - Duration::days(1)),
                    certificate_id: current,
                    trustee,
                    auto_reissue: trustee,
                    brand: "Alibaba".into(),
                    product_name: "certinspect test DV".into(),
                });
                world.accounts[a].cas.certificates.push(cert);
            }
            Source::CasUpload => {
                let cert = g.cas_cert(declared, true, "", None);
                cas_id = Some(cert.certificate_id);
                declared_cas_ids.push(cert.certificate_id);
                world.accounts[a].cas.certificates.push(cert);
            }
            Source::CdnFree | Source::SlbUpload => {}
        }
        world.accounts[a].cas.certificates.extend(extra_cas);
        // The private CA knows nothing of a certificate only a CRL revokes.
        if (source != Source::CdnFree && source != Source::SlbUpload || drift.is_some()) && drift != Some("revoked_crl")
        {
            let m = &g.materials[declared];
            world.accounts[a].pca.push(PcaStatus {
                serial_number: m.serial.clone(),
                status: if drift == Some("revoked") { "revoked" } else { "good" }.into(),
                revoke_time: (drift == Some("revoked")).then(|| ms(now - Duration::days(2))),
            });
        }
        // Expired inventory: an older certificate still kept in CAS, deployed nowhere.
        if i % 5 == 2 {
            let old =
                g.leaf(&format!("c{i:05}-expired"), &cn, &sans, nb - Duration::days(500), nb - Duration::days(135))?;
            let c = g.cas_cert(old, true, "", None);
            world.accounts[a].cas.certificates.push(c);
        }

        let mat = g.materials[declared].clone();
        let serves = Some(g.served(served));
        let cert_name = format!("cert-{}", mat.id);
        let nbt = OffsetDateTime::parse(&mat.not_before, &Rfc3339).expect("rfc3339");
        let nat = OffsetDateTime::parse(&mat.not_after, &Rfc3339).expect("rfc3339");
        let (resource, port, sni, region_opt);
        match service {
            Service::Cdn => {
                let status = if drift == Some("wrong_name") {
                    "mismatch"
                } else if nat < now {
                    "expired"
                } else if nat - now < Duration::days(30) {
                    "expire_soon"
                } else {
                    "ok"
                };
                world.accounts[a].cdn_domains.push(CdnDomain {
                    domain_name: domain.clone(),
                    cert_name: cert_name.clone(),
                    cert_common_name: mat.common_name.clone(),
                    cert_start_time: cdn_time(nbt),
                    cert_expire_time: cdn_time(nat),
                    cert_update_time: cdn_time(nbt + Duration::hours(1)),
                    cert_type: match source {
                        Source::CasUpload => "upload",
                        Source::CdnFree => "free",
                        _ => "cas",
                    }
                    .into(),
                    cert_status: status.into(),
                    cas_certificate_id: cas_id,
                    https_off: false,
                    material: Some(mat.id.clone()),
                    serves,
                    // Owners tag their domains as they tag load balancers; every
                    // fifth domain has no tags, as in real accounts.
                    tags: if i % 5 == 4 {
                        BTreeMap::new()
                    } else {
                        [
                            ("owner", ["alice", "bob", "carol"][i % 3].to_owned()),
                            ("team", ["web", "payments"][i % 2].to_owned()),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                    },
                });
                if let Some(cid) = cas_id {
                    let id = g.next_misc as i64;
                    g.next_misc += 1;
                    world.accounts[a].cas.deployments.push(CloudResource {
                        id,
                        cert_id: cid,
                        cert_name: cert_name.clone(),
                        cloud_name: "aliyun".into(),
                        cloud_product: "CDN".into(),
                        region_id: "cn-hangzhou".into(),
                        domain: domain.clone(),
                        instance_id: domain.clone(),
                        listener_id: String::new(),
                        listener_port: String::new(),
                        enable_https: 1,
                        default_resource: 1,
                        status: "normal".into(),
                    });
                }
                resource = domain.clone();
                port = None;
                sni = domain.clone();
                region_opt = None;
            }
            Service::SlbDefault | Service::SlbExtension => {
                let sc_id = format!(
                    "{}_{:x}_{}_{}",
                    acct_id,
                    0x18f_0000_0000u64 + i as u64,
                    nbt.unix_timestamp(),
                    100_000_000 + i
                );
                let sc = ServerCertificate {
                    server_certificate_id: sc_id.clone(),
                    server_certificate_name: cert_name.clone(),
                    fingerprint: colon_hex(&mat.sha1),
                    common_name: mat.common_name.clone(),
                    subject_alternative_names: mat.sans.clone(),
                    create_time: iso_z(nbt + Duration::hours(2)),
                    create_time_stamp: ms(nbt + Duration::hours(2)),
                    expire_time: iso_z(nat),
                    expire_time_stamp: ms(nat),
                    is_ali_cloud_certificate: i32::from(cas_id.is_some()),
                    ali_cloud_certificate_id: cas_id.map(|c| c.to_string()).unwrap_or_default(),
                    ali_cloud_certificate_name: if cas_id.is_some() { cert_name.clone() } else { String::new() },
                    resource_group_id: "rg-acfmcertinspect".into(),
                    material: Some(mat.id.clone()),
                };
                let acct = &mut world.accounts[a];
                let reg_idx = match acct.slb.iter().position(|r| r.region_id == region) {
                    Some(x) => x,
                    None => {
                        acct.slb.push(SlbRegion { region_id: region.clone(), ..SlbRegion::default() });
                        acct.slb.len() - 1
                    }
                };
                let reg = &mut acct.slb[reg_idx];
                reg.server_certificates.push(sc);
                // An extension joins the newest LB's HTTPS listener while it has < 3.
                let joins = service == Service::SlbExtension
                    && reg.load_balancers.last().is_some_and(|lb| {
                        lb.listeners.iter().any(|l| l.protocol == "https" && l.domain_extensions.len() < 3)
                    });
                let ext_sni = if joins {
                    let lb = reg.load_balancers.last_mut().expect("exists");
                    let l = lb.listeners.iter_mut().find(|l| l.protocol == "https").expect("https listener");
                    l.domain_extensions.push(DomainExtension {
                        domain: domain.clone(),
                        domain_extension_id: format!("de-{:012x}", 0x5e00_0000u64 + i as u64),
                        server_certificate_id: sc_id,
                        serves,
                    });
                    true
                } else {
                    let lb_n = g.next_misc;
                    g.next_misc += 1;
                    let lb_id = format!("lb-{}{:012x}", &region[..2.min(region.len())], 0xbeef_0000u64 + lb_n);
                    reg.load_balancers.push(LoadBalancer {
                        load_balancer_id: lb_id,
                        load_balancer_name: format!("lb-{domain}"),
                        // Loopback addresses, so an unmapped probe never leaves the host.
                        address: format!("127.10.{}.{}", (lb_n / 250) % 250, lb_n % 250 + 1),
                        address_ip_version: "ipv4".into(),
                        address_type: "internet".into(),
                        load_balancer_status: "active".into(),
                        create_time: iso_z(nbt),
                        create_time_stamp: ms(nbt),
                        listeners: vec![
                            Listener {
                                port: 80,
                                protocol: "http".into(),
                                backend_server_port: 8080,
                                status: "running".into(),
                                ..Listener::default()
                            },
                            Listener {
                                port: 443,
                                protocol: "https".into(),
                                backend_server_port: 8080,
                                status: "running".into(),
                                server_certificate_id: Some(sc_id),
                                domain_extensions: Vec::new(),
                                serves,
                            },
                        ],
                        // Who owns it, as teams tag load balancers; one key
                        // is not a valid Prometheus label name as it is.
                        tags: [
                            ("owner", ["alice", "bob", "carol"][(lb_n % 3) as usize].to_owned()),
                            ("team", ["payments", "web"][(lb_n % 2) as usize].to_owned()),
                            ("cost-center", format!("cc-{}", 100 + lb_n % 4)),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                    });
                    false
                };
                let lb_id = reg.load_balancers.last().expect("exists").load_balancer_id.clone();
                if let Some(cid) = cas_id {
                    let id = g.next_misc as i64;
                    g.next_misc += 1;
                    world.accounts[a].cas.deployments.push(CloudResource {
                        id,
                        cert_id: cid,
                        cert_name: cert_name.clone(),
                        cloud_name: "aliyun".into(),
                        cloud_product: "SLB".into(),
                        region_id: region.clone(),
                        domain: domain.clone(),
                        instance_id: lb_id.clone(),
                        listener_id: format!("{lb_id}-443"),
                        listener_port: "443".into(),
                        enable_https: 1,
                        default_resource: i32::from(!ext_sni),
                        status: "normal".into(),
                    });
                }
                resource = lb_id;
                port = Some(443);
                sni = domain.clone();
                region_opt = Some(region.clone());
            }
        }
        if let Some(kind) = drift {
            world.manifest.push(PlantedDrift {
                kind: kind.into(),
                account_id: acct_id.clone(),
                service: if service == Service::Cdn { "cdn" } else { "slb" }.into(),
                region_id: region_opt,
                resource,
                port,
                sni,
                declared_material: mat.id.clone(),
                served_material: g.materials[served].id.clone(),
                cas_certificate_ids: declared_cas_ids,
                note,
            });
        }
    }

    if opts.alb {
        plant_alb(&mut g, &mut world, &opts.regions[0])?;
    }

    if g.crl_url.is_some() {
        let crl = g.crl()?;
        std::fs::write(g.out.join("ca.crl"), crl)
            .map_err(|source| GenerateError::Io { path: g.out.join("ca.crl"), source })?;
    }
    let certificates = g.materials.len();
    world.materials = std::mem::take(&mut g.materials);
    world.ca_pem = Some(PathBuf::from("ca.pem"));
    let world_path = g.out.join("world.json");
    world
        .save(&world_path)
        .map_err(|e| GenerateError::Io { path: world_path.clone(), source: std::io::Error::other(e.to_string()) })?;
    let base = std::fs::canonicalize(&g.out).unwrap_or(g.out.clone());
    world.resolve_paths(&base);
    Ok(GeneratedWorld { world, world_path, ca_pem: base.join("ca.pem"), certificates, elapsed: started.elapsed() })
}
