//! The official Alibaba Cloud Python SDKs (pinned versions) against the emulator: every
//! operation with V3, V1 and STS credentials must parse into the SDK models, and a wrong
//! secret must be refused with the code the SDK expects. The virtualenv is cached under
//! the target directory (rebuilt when the pins change), so reruns do not reach PyPI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use alibaba_emulator::generate::{generate, GenerateOptions};
use alibaba_emulator::world::{AccessKey, AlbCertificate, AlbListener, AlbLoadBalancer, AlbRegion};
use alibaba_emulator::{api, Emulator, EmulatorConfig};
use common::*;
use serde_json::json;

const PINS: &[&str] = &[
    "alibabacloud-cdn20180510==9.2.0",
    "alibabacloud-slb20140515==3.3.31",
    "alibabacloud-cas20200407==3.9.4",
    "alibabacloud-cas20200630==2.1.4",
    "alibabacloud-tea-openapi==0.4.6",
    "alibabacloud-sts20150401==1.2.0",
    "alibabacloud-alb20200616==1.3.3",
    "alibabacloud-dcdn20180115==3.1.0",
    "alibabacloud-nlb20220430==4.1.3",
];

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The cached virtualenv's python, installing the pins when missing or changed.
fn venv_python() -> PathBuf {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "python3 is required for the SDK interop test (set PYTHON to override)"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("alibaba-sdk-venv");
    let py = dir.join("bin").join("python");
    let marker = dir.join(".certinspect-pins");
    let want = PINS.join("\n");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str()) && py.exists() {
        return py;
    }
    if !py.exists() {
        run(Command::new(&python).args(["-m", "venv"]).arg(&dir));
    }
    run(Command::new(&py).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).args(PINS));
    std::fs::write(&marker, want).unwrap();
    py
}

#[test]
fn official_python_sdks_call_every_operation_with_v3_v1_and_sts() {
    let py = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&GenerateOptions {
        domains: 36,
        out_dir: dir.path().to_path_buf(),
        drift: true,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-zhangjiakou".into()],
        ..GenerateOptions::default()
    })
    .unwrap();
    let mut w = g.world.clone();
    let acct = &mut w.accounts[0];
    acct.access_keys.push(AccessKey { id: AK.into(), secret: SECRET.into(), enabled: true, ..Default::default() });
    acct.access_keys.push(AccessKey {
        id: STS_AK.into(),
        secret: STS_SECRET.into(),
        enabled: true,
        security_token: Some(STS_TOKEN.into()),
        expiration: Some("2999-01-01T00:00:00Z".into()),
        permissions: None,
    });
    // A few ALB load balancers (the generator plants none), to page by NextToken.
    let cas_ids: Vec<i64> = acct.cas.certificates.iter().map(|c| c.certificate_id).collect();
    let load_balancers = (0..5)
        .map(|i| AlbLoadBalancer {
            load_balancer_id: format!("alb-sdk{i}"),
            load_balancer_name: format!("sdk {i}"),
            dns_name: format!("alb-sdk{i}.cn-hangzhou.alb.aliyuncs.test"),
            address: format!("127.11.1.{}", i + 1),
            address_type: "Internet".into(),
            load_balancer_status: "Active".into(),
            // Tags, so the SDK reads their shape too.
            tags: [("owner".to_owned(), format!("owner-{i}"))].into(),
            listeners: vec![AlbListener {
                listener_id: format!("lsn-sdk{i}"),
                port: 443,
                protocol: "HTTPS".into(),
                status: "Running".into(),
                certificates: vec![
                    AlbCertificate {
                        certificate_id: format!("{}-cn-hangzhou", cas_ids[i]),
                        is_default: true,
                        status: "Associated".into(),
                        ..AlbCertificate::default()
                    },
                    AlbCertificate {
                        certificate_id: format!("{}-cn-hangzhou", cas_ids[i + 1]),
                        is_default: false,
                        status: "Associated".into(),
                        ..AlbCertificate::default()
                    },
                ],
            }],
        })
        .collect();
    acct.alb.push(AlbRegion { region_id: "cn-hangzhou".into(), load_balancers });
    // NLB: the same shapes, TLS listeners TCPSSL.
    let mut nlb = acct.alb[0].clone();
    for lb in &mut nlb.load_balancers {
        lb.load_balancer_id = lb.load_balancer_id.replace("alb-", "nlb-");
        for listener in &mut lb.listeners {
            listener.listener_id = listener.listener_id.replace("lsn-", "nlsn-");
            listener.protocol = "TCPSSL".into();
        }
    }
    acct.nlb.push(nlb);
    // DCDN answers in CDN's shape: a few of the CDN domains, served by DCDN too.
    acct.dcdn_domains = acct.cdn_domains.iter().take(4).cloned().collect();
    let acct = &w.accounts[0];
    let alb_listener = &acct.alb[0].load_balancers[0].listeners[0];
    let now = time::OffsetDateTime::now_utc();
    let expired = |c: &alibaba_emulator::world::CasCertificate| {
        time::OffsetDateTime::parse(&c.not_after, &time::format_description::well_known::Rfc3339).unwrap() < now
    };
    let region = acct.slb.iter().find(|r| r.region_id == "cn-hangzhou").unwrap();
    let lb = region
        .load_balancers
        .iter()
        .max_by_key(|lb| lb.listeners.iter().map(|l| l.domain_extensions.len()).sum::<usize>())
        .unwrap();
    let https = lb.listeners.iter().find(|l| l.protocol == "https").unwrap();
    let revoked = acct.pca.iter().find(|p| p.status == "revoked").unwrap();
    let good = acct.pca.iter().find(|p| p.status == "good").unwrap();
    let cdn_cas = acct.cdn_domains.iter().find(|d| d.cas_certificate_id.is_some()).unwrap();
    // The generator tags most domains and leaves some untagged.
    let cdn_tagged = acct.cdn_domains.iter().find(|d| !d.tags.is_empty()).unwrap();
    let cdn_untagged = acct.cdn_domains.iter().find(|d| d.tags.is_empty()).unwrap();
    let dcdn_tagged = acct.dcdn_domains.iter().find(|d| !d.tags.is_empty()).unwrap();
    let tag_pairs =
        |d: &alibaba_emulator::world::CdnDomain| d.tags.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>();
    let facts = json!({
        "region": "cn-hangzhou",
        "ak": AK, "secret": SECRET,
        "sts_ak": STS_AK, "sts_secret": STS_SECRET, "sts_token": STS_TOKEN,
        "role_arn": format!("acs:ram::{}:role/certinspect-reader", acct.id),
        "cdn_total": acct.cdn_domains.len(),
        "slb_certs": region.server_certificates.len(),
        "slb_lbs": region.load_balancers.len(),
        "lb_id": lb.load_balancer_id,
        "lb_default_cert": https.server_certificate_id,
        "lb_extensions": https.domain_extensions.len(),
        "cas_valid": acct.cas.certificates.iter().filter(|c| !expired(c)).count(),
        "cas_expired": acct.cas.certificates.iter().filter(|c| expired(c)).count(),
        "cas_cert_id": acct.cas.certificates[0].certificate_id,
        "cas_instances": acct.cas.orders.len(),
        "instance_id": acct.cas.orders[0].instance_id,
        "deployed_cert_id": acct.cas.deployments[0].cert_id,
        "cdn_cas_domain": cdn_cas.domain_name,
        "cdn_tagged_domain": cdn_tagged.domain_name,
        "cdn_untagged_domain": cdn_untagged.domain_name,
        "cdn_tags": tag_pairs(cdn_tagged),
        "dcdn_tagged_domain": dcdn_tagged.domain_name,
        "dcdn_tags": tag_pairs(dcdn_tagged),
        "alb_lbs": acct.alb[0].load_balancers.len(),
        "dcdn_total": acct.dcdn_domains.len(),
        "nlb_lbs": acct.nlb[0].load_balancers.len(),
        "nlb_lb_id": acct.nlb[0].load_balancers[0].load_balancer_id,
        "nlb_listener_id": acct.nlb[0].load_balancers[0].listeners[0].listener_id,
        "nlb_certificates": acct.nlb[0].load_balancers[0].listeners[0].certificates.len(),
        "dcdn_domain": acct.dcdn_domains[0].domain_name,
        "alb_lb_id": acct.alb[0].load_balancers[0].load_balancer_id,
        "alb_listener_id": alb_listener.listener_id,
        "alb_certificates": alb_listener.certificates.iter().map(|c| json!([c.certificate_id, c.is_default])).collect::<Vec<_>>(),
        "cdn_cas_cert_id": cdn_cas.cas_certificate_id,
        "serials": [good.serial_number, revoked.serial_number, "00aa"],
        "serial_statuses": ["good", "revoked", "unknown"],
    });
    assert!(facts["cas_expired"].as_u64().unwrap() > 0);
    let h = Emulator::start(w, EmulatorConfig::default()).unwrap();
    let mut facts = facts;
    facts["endpoint"] = json!(h.addr().to_string());
    let facts_path = dir.path().join("facts.json");
    std::fs::write(&facts_path, facts.to_string()).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk_interop.py");
    let out = Command::new(&py)
        .arg(&script)
        .env("EMU_FACTS", &facts_path)
        // The SDK must not pick up credentials or proxies from the machine.
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .output()
        .unwrap();
    if !out.status.success() {
        for r in h.stats().requests.iter().rev().take(12) {
            eprintln!("{} {} {} {} {:?}", r.seq, r.action, r.signature, r.status, r.code);
        }
        panic!(
            "SDK script failed\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true);

    // The emulator saw each operation answered, with both signature versions.
    let s = h.stats();
    for (version, action) in api::OPERATIONS {
        let ok: Vec<_> =
            s.requests.iter().filter(|r| r.action == *action && r.api_version == *version && r.status == 200).collect();
        let v1 = ok.iter().filter(|r| r.signature == "v1").count();
        let v3 = ok.iter().filter(|r| r.signature == "v3").count();
        let want = if *action == "AssumeRole" { 1 } else { 3 };
        assert!(v1 >= want && v3 >= want, "{action}: v1 {v1} v3 {v3}");
    }
    assert_eq!(s.refused_total("SignatureDoesNotMatch"), 2);
    assert_eq!(s.refused_total("InvalidAccessKeyId.NotFound"), 2);
    assert_eq!(s.key_material_returned, 0, "the SDK run always sends CertFilter=true");
}
