//! A tiny signing client for the tests: builds V1 and V3 requests with `alibaba-signing`
//! and sends them with reqwest's blocking client. Every knob a test needs to break a
//! request on purpose is a field of [`Req`].
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use alibaba_emulator::world::*;
use alibaba_emulator::{Clock, Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;
use time::OffsetDateTime;

pub const AK: &str = "LTAI5tTestKey000001";
pub const SECRET: &str = "TestSecret/+=0123456789abcdef";
pub const AK2: &str = "LTAI5tTestKey000002";
pub const SECRET2: &str = "second-secret";
pub const DISABLED: &str = "LTAI5tDisabledKey01";
pub const STS_AK: &str = "STS.FixedTestKey0001";
pub const STS_SECRET: &str = "sts-secret";
pub const STS_TOKEN: &str = "CAIS+Fixed/Token=With Space";
pub const UID: &str = "1880000000000001";
pub const UID2: &str = "1880000000000002";

static NONCE: AtomicU64 = AtomicU64::new(1);

pub fn nonce() -> String {
    format!("{:x}-{:x}", std::process::id(), NONCE.fetch_add(1, Ordering::Relaxed))
}

pub fn ts(t: OffsetDateTime) -> String {
    alibaba_emulator::api::iso(t)
}

/// A small hand-made world: two accounts, a disabled key, an STS key; `n_cdn` CDN domains.
pub fn small_world(n_cdn: usize) -> World {
    let mut a = Account {
        id: UID.into(),
        name: "one".into(),
        access_keys: vec![
            AccessKey { id: AK.into(), secret: SECRET.into(), enabled: true, ..Default::default() },
            AccessKey { id: DISABLED.into(), secret: "x".into(), enabled: false, ..Default::default() },
            AccessKey {
                id: STS_AK.into(),
                secret: STS_SECRET.into(),
                enabled: true,
                security_token: Some(STS_TOKEN.into()),
                expiration: Some("2999-01-01T00:00:00Z".into()),
                permissions: None,
            },
        ],
        roles: vec![Role { name: "reader".into(), permissions: None }],
        ..Default::default()
    };
    for i in 0..n_cdn {
        a.cdn_domains.push(CdnDomain {
            domain_name: format!("d{i:04}.example.test"),
            cert_name: format!("cert-{i:04}"),
            cert_common_name: format!("d{i:04}.example.test"),
            cert_start_time: "2025-01-01 08:00:00".into(),
            cert_expire_time: "2027-01-01 08:00:00".into(),
            cert_update_time: "2025-01-01 09:00:00".into(),
            cert_type: "cas".into(),
            cert_status: "ok".into(),
            ..Default::default()
        });
    }
    let b = Account {
        id: UID2.into(),
        name: "two".into(),
        access_keys: vec![AccessKey { id: AK2.into(), secret: SECRET2.into(), enabled: true, ..Default::default() }],
        cdn_domains: vec![CdnDomain {
            domain_name: "other-account.example.test".into(),
            cert_name: "other".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    World {
        format: 1,
        regions: vec![Region {
            region_id: "cn-hangzhou".into(),
            local_name: "hz".into(),
            region_endpoint: "slb.aliyuncs.com".into(),
        }],
        accounts: vec![a, b],
        ..Default::default()
    }
}

pub fn start(world: World) -> EmulatorHandle {
    Emulator::start(world, EmulatorConfig::default()).expect("emulator starts")
}

pub fn start_with(world: World, f: impl FnOnce(&mut EmulatorConfig)) -> EmulatorHandle {
    let mut c = EmulatorConfig::default();
    f(&mut c);
    Emulator::start(world, c).expect("emulator starts")
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(20)).build().expect("client")
}

/// One request to build.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub action: String,
    pub version: String,
    pub params: Vec<(String, String)>,
    pub key: String,
    pub secret: String,
    pub token: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    /// V1: put operation parameters in a form body instead of the query.
    pub form_body: bool,
    /// V1: Format parameter (None = leave out).
    pub format: Option<String>,
    /// V3: headers to leave out of SignedHeaders.
    pub unsigned: Vec<String>,
    /// V3: body to send (with content-type form).
    pub body: Option<String>,
    /// V3: x-acs-content-sha256 to claim instead of the real one.
    pub claimed_sha: Option<String>,
    /// Sign with this secret instead (wrong-secret tests).
    pub sign_secret: Option<String>,
    /// Change the signature after signing.
    pub tamper: bool,
}

impl Req {
    pub fn new(action: &str, version: &str) -> Req {
        Req {
            method: "POST",
            action: action.into(),
            version: version.into(),
            params: Vec::new(),
            key: AK.into(),
            secret: SECRET.into(),
            token: None,
            timestamp: None,
            nonce: None,
            form_body: false,
            format: Some("JSON".into()),
            unsigned: Vec::new(),
            body: None,
            claimed_sha: None,
            sign_secret: None,
            tamper: false,
        }
    }

    pub fn p(mut self, k: &str, v: &str) -> Req {
        self.params.push((k.into(), v.into()));
        self
    }

    pub fn key(mut self, k: &str, s: &str) -> Req {
        self.key = k.into();
        self.secret = s.into();
        self
    }
}

/// Form-encodes for the wire like Python's urlencode (space as '+').
pub fn wire(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                alibaba_signing::percent_encode(k).replace("%20", "+"),
                alibaba_signing::percent_encode(v).replace("%20", "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Result of a call: status, parsed JSON (Null if not JSON), raw text.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }
}

fn finish(r: reqwest::blocking::Response) -> Resp {
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, json, text }
}

pub fn v1(h: &EmulatorHandle, r: &Req) -> Resp {
    let now = h.clock().now();
    let mut common: Vec<(String, String)> = vec![
        ("Action".into(), r.action.clone()),
        ("Version".into(), r.version.clone()),
        ("AccessKeyId".into(), r.key.clone()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("SignatureNonce".into(), r.nonce.clone().unwrap_or_else(nonce)),
        ("Timestamp".into(), r.timestamp.clone().unwrap_or_else(|| ts(now))),
    ];
    if let Some(f) = &r.format {
        common.push(("Format".into(), f.clone()));
    }
    if let Some(t) = &r.token {
        common.push(("SecurityToken".into(), t.clone()));
    }
    let mut all = common.clone();
    all.extend(r.params.iter().cloned());
    let secret = r.sign_secret.as_deref().unwrap_or(&r.secret);
    let mut sig = alibaba_signing::v1::sign(r.method, &all, secret);
    if r.tamper {
        sig = format!("A{}", &sig[1..]);
    }
    let client = http();
    if r.form_body {
        let mut q = common;
        q.push(("Signature".into(), sig));
        let url = format!("{}/?{}", h.url(), wire(&q));
        let resp = client
            .request(r.method.parse().unwrap(), url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(wire(&r.params))
            .send()
            .expect("send");
        finish(resp)
    } else {
        all.push(("Signature".into(), sig));
        let url = format!("{}/?{}", h.url(), wire(&all));
        finish(client.request(r.method.parse().unwrap(), url).send().expect("send"))
    }
}

pub fn v3(h: &EmulatorHandle, r: &Req) -> Resp {
    let now = h.clock().now();
    let host = h.addr().to_string();
    let body = r.body.clone().unwrap_or_default();
    let sha = alibaba_signing::v3::hex_sha256(body.as_bytes());
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host),
        ("x-acs-action".into(), r.action.clone()),
        ("x-acs-version".into(), r.version.clone()),
        ("x-acs-date".into(), r.timestamp.clone().unwrap_or_else(|| ts(now))),
        ("x-acs-signature-nonce".into(), r.nonce.clone().unwrap_or_else(nonce)),
        ("x-acs-content-sha256".into(), r.claimed_sha.clone().unwrap_or(sha)),
        ("accept".into(), "application/json".into()),
    ];
    if let Some(t) = &r.token {
        headers.push(("x-acs-security-token".into(), t.clone()));
        headers.push(("x-acs-accesskey-id".into(), r.key.clone()));
    }
    if r.body.is_some() {
        headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    }
    let signed: Vec<(String, String)> = headers.iter().filter(|(k, _)| !r.unsigned.contains(k)).cloned().collect();
    let secret = r.sign_secret.as_deref().unwrap_or(&r.secret);
    let cr = alibaba_signing::v3::canonical_request(
        r.method,
        "/",
        &r.params,
        &signed,
        &alibaba_signing::v3::hex_sha256(body.as_bytes()),
    );
    let sts = alibaba_signing::v3::string_to_sign(&cr);
    let mut sig = alibaba_signing::v3::signature(secret, &sts);
    if r.tamper {
        sig = format!("{}0", &sig[..sig.len() - 1]);
        if sig == alibaba_signing::v3::signature(secret, &sts) {
            sig = format!("{}1", &sig[..sig.len() - 1]);
        }
    }
    let (_, signed_names) = alibaba_signing::v3::canonical_headers(&signed);
    let auth = alibaba_signing::v3::authorization(&r.key, &signed_names, &sig);
    let url = if r.params.is_empty() { format!("{}/", h.url()) } else { format!("{}/?{}", h.url(), wire(&r.params)) };
    let client = http();
    let mut rb = client.request(r.method.parse().unwrap(), url);
    for (k, v) in &headers {
        if k != "host" {
            rb = rb.header(k.as_str(), v.as_str());
        }
    }
    rb = rb.header("authorization", auth);
    if r.body.is_some() {
        rb = rb.body(body);
    }
    finish(rb.send().expect("send"))
}

/// Both signature versions, for tests that must hold for either.
pub fn both(h: &EmulatorHandle, r: &Req) -> [Resp; 2] {
    [v1(h, r), v3(h, r)]
}

pub fn fixed_clock() -> Clock {
    Clock::fixed(time::macros::datetime!(2026-06-01 12:00:00 UTC))
}
