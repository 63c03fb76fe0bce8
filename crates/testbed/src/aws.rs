//! An AWS world with planted drift, served end to end on loopback: the
//! AWS half of the demo.
//!
//! [`AwsWorld::start`] installs and starts the real `moto_server` (see
//! [`crate::moto`]), seeds one account in `us-east-1` with certificates
//! issued here by a throwaway CA, and starts loopback TLS endpoints that
//! serve what each load balancer and distribution *really* serves:
//!
//! | where | declared | served | verdict |
//! |---|---|---|---|
//! | ALB `web` :443, default | ACM `shop` (re-imported over its ARN with a renewed certificate) | the certificate the re-import replaced | STALE (planted) |
//! | ALB `web` :443, SNI | ACM `api` | the same | MATCH |
//! | NLB `shop-nlb` :8443 | ACM `other` (the listener points at another certificate) | the shop certificate | FOREIGN (planted) |
//! | ALB `classic` :8443 | IAM server certificate `legacy` | the same | MATCH |
//! | CloudFront alias `cdn.aws.example.test` | ACM `cdn` | the same | MATCH |
//!
//! Owners are tags (`owner`), as `[output] labels_from_tags` reads them: the
//! `web` ALB is alice's, the NLB is alice's but its listener bob's (the
//! listener's tag wins), the distribution and its `cdn` certificate carol's;
//! `classic` and the other certificates have none.
//!
//! Load balancer DNS names are moto's (`*.elb.amazonaws.com`) and are never
//! resolved: [`AwsWorld::routes`] sends every probed endpoint to the farm.
//! [`AwsWorld::write_source`] writes a credentials file with a made-up key
//! (moto accepts any) and returns the `[[source]] plugin = "aws"` section
//! pointing at moto, with the metadata services off.

use std::path::{Path, PathBuf};

use certinspect_tls_farm::pki::{Issued, TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmHandle, FarmSpec, SniEntry, TlsEndpoint};
use serde_json::{json, Value};

use crate::moto::{Moto, MotoError};
use crate::Route;

/// The one region the world lives in (CloudFront and IAM are global).
const REGION: &str = "us-east-1";
/// The profile name in the credentials file, and the account label in reports.
const PROFILE: &str = "aws-demo";

/// What can go wrong building the AWS world.
#[derive(Debug)]
#[non_exhaustive]
pub enum AwsWorldError {
    /// Installing, starting or seeding moto.
    Moto(MotoError),
    /// Issuing the world's certificates.
    Certificates(String),
    /// Starting the TLS endpoints.
    Farm(String),
    /// Moto's answer to the seed lacks something the world needs.
    Seeded(String),
    /// Writing the world's files.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl AwsWorldError {
    /// Python or moto cannot be installed here (see [`MotoError::is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Moto(e) if e.is_unavailable())
    }
}

impl std::fmt::Display for AwsWorldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Moto(e) => e.fmt(f),
            Self::Certificates(reason) => write!(f, "cannot issue the AWS world's certificates: {reason}"),
            Self::Farm(reason) => write!(f, "cannot start the AWS world's TLS endpoints: {reason}"),
            Self::Seeded(what) => write!(f, "moto's answer to the seed has no {what}"),
            Self::Write { path, reason } => write!(f, "cannot write {}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for AwsWorldError {}

impl From<MotoError> for AwsWorldError {
    fn from(e: MotoError) -> Self {
        Self::Moto(e)
    }
}

/// A drift planted on purpose, and where: the binding is the one of
/// `service` probed with `sni`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlantedDrift {
    /// The plugin's service (`elbv2`, `cloudfront`).
    pub service: String,
    /// The SNI the binding is probed with.
    pub sni: String,
    /// `stale` or `foreign` (the generator's kind names).
    pub kind: String,
    /// The load balancer or distribution.
    pub resource: String,
}

/// A running AWS world: moto seeded, TLS endpoints, routes.
pub struct AwsWorld {
    moto: Moto,
    ca: TestCa,
    seeded: Value,
    planted: Vec<PlantedDrift>,
    routes: Vec<Route>,
    _farm: FarmHandle,
}

impl std::fmt::Debug for AwsWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsWorld").field("moto", &self.moto.url()).field("routes", &self.routes.len()).finish()
    }
}

/// Names of the world's certificates.
const SHOP: &str = "shop.aws.example.test";
const API: &str = "api.aws.example.test";
const OTHER: &str = "other.aws.example.test";
const LEGACY: &str = "legacy.aws.example.test";
const CDN: &str = "cdn.aws.example.test";

impl AwsWorld {
    /// Installs moto if needed (a venv under `venv_dir`), starts it, seeds
    /// the world, starts its TLS endpoints, and writes `dir/world.json`
    /// (what moto assigned, and the planted drift as `manifest`).
    pub fn start(dir: &Path, venv_dir: &Path) -> Result<Self, AwsWorldError> {
        let python = crate::moto::python(venv_dir)?;
        let moto = Moto::start(&python)?;
        let ca = TestCa::new("certinspect demo AWS CA").map_err(|e| AwsWorldError::Certificates(e.to_string()))?;
        let issue = |name: &str, validity: Validity| {
            ca.issue(&[name], validity).map_err(|e| AwsWorldError::Certificates(e.to_string()))
        };
        let now = time::OffsetDateTime::now_utc();
        let days = |from: i64, to: i64| Validity {
            not_before: now - time::Duration::days(from),
            not_after: now + time::Duration::days(to),
        };
        // The certificate a re-import replaced: older, still valid for
        // months (so the only finding is that it is stale).
        let shop_old = issue(SHOP, days(300, 200))?;
        let shop_new = issue(SHOP, days(1, 395))?;
        let api = issue(API, days(1, 300))?;
        let other = issue(OTHER, days(1, 300))?;
        let legacy = issue(LEGACY, days(1, 300))?;
        let cdn = issue(CDN, days(1, 300))?;

        let acm = |name: &str, issued: &Issued, reimport_of: Option<&str>| json!({"name": name, "region": REGION, "pem": leaf_pem(issued), "key": issued.key_pem(), "reimport_of": reimport_of});
        // Tagged at import: moto drops a certificate's tags when it is re-imported (AWS keeps them).
        let mut cdn_certificate = acm("cdn", &cdn, None);
        cdn_certificate["tags"] = json!({"owner": "carol"});
        let plan = json!({
            "acm": [acm("shop", &shop_old, None), acm("api", &api, None), acm("other", &other, None),
                    cdn_certificate,
                    // Renewed by re-importing over the same ARN: ACM now declares the new certificate.
                    acm("shop-renewed", &shop_new, Some("shop"))],
            "iam": [{"name": "legacy", "pem": leaf_pem(&legacy), "key": legacy.key_pem()}],
            "load_balancers": [
                {"name": "web", "region": REGION, "type": "application", "tags": {"owner": "alice"}, "listeners": [
                    {"protocol": "HTTPS", "port": 443, "default": "acm:shop", "sni": ["acm:api"]},
                    {"protocol": "HTTP", "port": 80}]},
                // Meant to serve the shop, but its listener points at another certificate.
                {"name": "shop-nlb", "region": REGION, "type": "network", "tags": {"owner": "alice"}, "listeners": [
                    {"protocol": "TLS", "port": 8443, "default": "acm:other", "tags": {"owner": "bob"}}]},
                {"name": "classic", "region": REGION, "type": "application", "listeners": [
                    {"protocol": "HTTPS", "port": 8443, "default": "iam:legacy"}]},
            ],
            "distributions": [{"name": "cdn", "aliases": [CDN], "certificate": "acm:cdn", "tags": {"owner": "carol"}}],
        });
        let seeded = moto.seed(&plan)?;
        let dns = |lb: &str| {
            seeded["load_balancers"][lb]["dns_name"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| AwsWorldError::Seeded(format!("DNS name for load balancer {lb}")))
        };

        // What is really served, endpoint by endpoint.
        let served: Vec<(String, u16, TlsEndpoint)> = vec![
            (
                dns("web")?,
                443,
                TlsEndpoint {
                    default: Some(shop_old.source()),
                    sni: vec![SniEntry { names: vec![API.into()], cert: api.source() }],
                    ..TlsEndpoint::default()
                },
            ),
            (dns("shop-nlb")?, 8443, TlsEndpoint::single(shop_new.source())),
            (dns("classic")?, 8443, TlsEndpoint::single(legacy.source())),
            (CDN.into(), 443, TlsEndpoint::single(cdn.source())),
        ];
        let farm = Farm::start(FarmSpec {
            endpoints: served
                .iter()
                .map(|(host, port, tls)| EndpointSpec::new(format!("{host}:{port}"), EndpointMode::Tls(tls.clone())))
                .collect(),
            ..FarmSpec::default()
        })
        .map_err(|e| AwsWorldError::Farm(e.to_string()))?;
        let routes = served
            .iter()
            .map(|(host, port, _)| {
                let to = farm
                    .addr(&format!("{host}:{port}"))
                    .ok_or_else(|| AwsWorldError::Farm(format!("{host}:{port} is not bound")))?;
                Ok(Route { host: host.clone(), port: *port, to })
            })
            .collect::<Result<Vec<_>, AwsWorldError>>()?;

        let planted = vec![
            PlantedDrift { service: "elbv2".into(), sni: SHOP.into(), kind: "stale".into(), resource: "web".into() },
            PlantedDrift {
                service: "elbv2".into(),
                sni: OTHER.into(),
                kind: "foreign".into(),
                resource: "shop-nlb".into(),
            },
        ];
        let world = Self { moto, ca, seeded, planted, routes, _farm: farm };
        world.write_manifest(dir)?;
        Ok(world)
    }

    /// moto's base URL.
    pub fn api_url(&self) -> &str {
        self.moto.url()
    }

    /// What moto assigned when seeded (ARNs, DNS names, ids), as `seed.py` prints it.
    pub fn seeded(&self) -> &Value {
        &self.seeded
    }

    /// The drift planted on purpose.
    pub fn planted(&self) -> &[PlantedDrift] {
        &self.planted
    }

    /// Routes from every probed AWS endpoint to the farm.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes as `HOST:PORT:ADDRESS:PORT` strings (`--connect-to`).
    pub fn connect_to(&self) -> Vec<String> {
        self.routes.iter().map(Route::connect_to).collect()
    }

    /// The CA that issued every certificate of this world, as PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Writes `dir/credentials` (one made-up static key under the profile
    /// `aws-demo`) and an empty `dir/config`, and returns the
    /// `[[source]]` section reading this world: moto as the endpoint, that
    /// file as the only credentials, and the metadata services off.
    pub fn write_source(&self, dir: &Path) -> Result<String, AwsWorldError> {
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|e| AwsWorldError::Write { path: path.clone(), reason: e.to_string() })
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| AwsWorldError::Write { path: dir.to_owned(), reason: e.to_string() })?;
        let credentials = dir.join("credentials");
        let config = dir.join("config");
        // moto accepts any key while its request authentication is off.
        write(
            credentials.clone(),
            &format!(
                "[{PROFILE}]\naws_access_key_id = AKIADEMOMOTO00000000\naws_secret_access_key = demo-not-a-secret\n"
            ),
        )?;
        write(config.clone(), "")?;
        Ok(format!(
            "[[source]]\nplugin = \"aws\"\n[source.config]\naccount = \"{PROFILE}\"\nendpoint = \"{}\"\nregions = [\"{REGION}\"]\n\
             credentials = {{ profile = \"{PROFILE}\", credentials_file = {:?}, config_file = {:?}, metadata_services = false }}\n",
            self.moto.url(),
            credentials.display().to_string(),
            config.display().to_string(),
        ))
    }

    fn write_manifest(&self, dir: &Path) -> Result<(), AwsWorldError> {
        let manifest: Vec<Value> = self
            .planted
            .iter()
            .map(|p| json!({"service": p.service, "sni": p.sni, "kind": p.kind, "resource": p.resource}))
            .collect();
        let path = dir.join("world.json");
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, json!({"manifest": manifest, "seeded": self.seeded}).to_string()))
            .map_err(|e| AwsWorldError::Write { path, reason: e.to_string() })
    }
}

/// The leaf of an issued chain as PEM: ACM and IAM take the leaf alone.
fn leaf_pem(issued: &Issued) -> String {
    certinspect_tls_farm::pki::pem("CERTIFICATE", issued.leaf())
}
