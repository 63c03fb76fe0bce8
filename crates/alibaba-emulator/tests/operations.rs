//! Every operation against a generated world: field names, wrappers, types, units, and
//! pagination that returns every row exactly once.

mod common;

use std::collections::BTreeSet;

use alibaba_emulator::generate::{generate, GenerateOptions, GeneratedWorld};
use alibaba_emulator::world::{AccessKey, World};
use alibaba_emulator::EmulatorHandle;
use common::*;
use serde_json::Value;

const CDN: &str = "2018-05-10";
const SLB: &str = "2014-05-15";
const CAS: &str = "2020-04-07";
const PCA: &str = "2020-06-30";

/// A generated world whose first account also has the test key.
fn world(domains: usize, dir: &std::path::Path) -> (GeneratedWorld, World) {
    let g =
        generate(&GenerateOptions { domains, out_dir: dir.to_path_buf(), drift: true, ..GenerateOptions::default() })
            .unwrap();
    let mut w = g.world.clone();
    w.accounts[0].access_keys.push(AccessKey {
        id: AK.into(),
        secret: SECRET.into(),
        enabled: true,
        ..Default::default()
    });
    (g, w)
}

fn ok(h: &EmulatorHandle, r: Req) -> Value {
    let resp = v3(h, &r);
    assert_eq!(resp.status, 200, "{}: {}", r.action, resp.text);
    resp.json
}

fn start_unthrottled(w: World) -> EmulatorHandle {
    start_with(w, |c| c.qps_enabled = false)
}

#[test]
fn cdn_pages_return_every_domain_exactly_once() {
    let h = start_unthrottled(small_world(1234));
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let v =
            ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN).p("PageNumber", &page.to_string()).p("PageSize", "500"));
        assert_eq!(v["TotalCount"], 1234);
        assert!(v.get("PageNumber").is_none(), "no page echo in CDN");
        let rows = v["CertInfos"]["CertInfo"].as_array().unwrap();
        seen.extend(rows.iter().map(|r| r["DomainName"].as_str().unwrap().to_string()));
        if page * 500 >= 1234 {
            break;
        }
        page += 1;
    }
    assert_eq!(page, 3);
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (1234, 1234));
    // Past the end: an empty page, not an error.
    let v = ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN).p("PageNumber", "4").p("PageSize", "500"));
    assert_eq!(v["CertInfos"]["CertInfo"].as_array().unwrap().len(), 0);
    // Default page size 20.
    let v = ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN));
    assert_eq!(v["CertInfos"]["CertInfo"].as_array().unwrap().len(), 20);
    let row = &v["CertInfos"]["CertInfo"][0];
    for f in [
        "DomainName",
        "CertName",
        "CertCommonName",
        "CertStartTime",
        "CertExpireTime",
        "CertUpdateTime",
        "CertType",
        "CertStatus",
    ] {
        assert!(row[f].is_string(), "{f}");
    }
    // The request log lets tests check which pages a client asked for.
    let pages: Vec<String> = h.stats().requests.iter().filter_map(|r| r.params.get("PageNumber").cloned()).collect();
    assert_eq!(pages, ["1", "2", "3", "4"]);
}

/// CDN `DescribeTagResources` and DCDN `DescribeDcdnTagResources` (one shape):
/// `ResourceType=DOMAIN`, at most 50 `ResourceId.N`, tagged domains answered as
/// `TagResources[] {ResourceId, Tag[] {Key, Value}}`, `Tag.N` filtering.
#[test]
fn tag_resources_answer_the_tags_of_up_to_fifty_domains() {
    let mut w = small_world(60);
    let domains = &mut w.accounts[0].cdn_domains;
    for (i, domain) in domains.iter_mut().enumerate().filter(|(i, _)| i % 2 == 0) {
        domain.tags = [("owner".to_owned(), format!("owner-{i}")), ("team".to_owned(), "web".to_owned())].into();
    }
    w.accounts[0].dcdn_domains = domains[..4].to_vec();
    let h = start_unthrottled(w);
    let ask = |action: &str, version: &str, ids: std::ops::Range<usize>| {
        ids.enumerate().fold(Req::new(action, version).p("ResourceType", "DOMAIN"), |r, (n, i)| {
            r.p(&format!("ResourceId.{}", n + 1), &format!("d{i:04}.example.test"))
        })
    };
    let v = ok(&h, ask("DescribeTagResources", CDN, 0..50));
    let rows = v["TagResources"].as_array().unwrap();
    assert_eq!(rows.len(), 25, "only the tagged domains: {v}");
    assert_eq!(rows[0]["ResourceId"], "d0000.example.test");
    assert_eq!(
        rows[0]["Tag"],
        serde_json::json!([{"Key": "owner", "Value": "owner-0"}, {"Key": "team", "Value": "web"}])
    );
    let filtered = ok(&h, ask("DescribeTagResources", CDN, 0..50).p("Tag.1.Key", "owner").p("Tag.1.Value", "owner-2"));
    assert_eq!(filtered["TagResources"].as_array().unwrap().len(), 1, "{filtered}");
    let dcdn = ok(&h, ask("DescribeDcdnTagResources", "2018-01-15", 0..50));
    assert_eq!(dcdn["TagResources"].as_array().unwrap().len(), 2, "DCDN answers its own domains: {dcdn}");

    for (request, code) in [
        (ask("DescribeTagResources", CDN, 0..51), "InvalidParameter"),
        (Req::new("DescribeTagResources", CDN).p("ResourceId.1", "d0000.example.test"), "MissingParameter"),
        (
            Req::new("DescribeTagResources", CDN).p("ResourceType", "INSTANCE").p("ResourceId.1", "d0000.example.test"),
            "InvalidParameter",
        ),
        (Req::new("DescribeTagResources", CDN).p("ResourceType", "DOMAIN"), "MissingParameter"),
    ] {
        let resp = v3(&h, &request);
        assert_eq!((resp.status, resp.code()), (400, code), "{:?}: {}", request.params, resp.text);
    }
}

#[test]
fn slb_operations_render_the_world() {
    let dir = tempfile::tempdir().unwrap();
    let (g, w) = world(40, dir.path());
    let acct = &g.world.accounts[0];
    let h = start_unthrottled(w);

    let v = ok(&h, Req::new("DescribeRegions", SLB));
    assert_eq!(v["Regions"]["Region"].as_array().unwrap().len(), 3);
    assert!(v["Regions"]["Region"][0]["RegionEndpoint"].is_string());

    let mut total_lbs = 0;
    for region in &acct.slb {
        let r = region.region_id.as_str();
        let v = ok(&h, Req::new("DescribeServerCertificates", SLB).p("RegionId", r));
        let certs = v["ServerCertificates"]["ServerCertificate"].as_array().unwrap();
        assert_eq!(certs.len(), region.server_certificates.len());
        let c = &certs[0];
        let fp = c["Fingerprint"].as_str().unwrap();
        assert_eq!(fp.len(), 59, "colon hex SHA-1");
        assert_eq!(fp, fp.to_lowercase());
        assert!(c["ExpireTimeStamp"].as_i64().unwrap() > 1_600_000_000_000, "ms");
        assert!(c["ExpireTime"].as_str().unwrap().ends_with('Z'));
        assert!(c["IsAliCloudCertificate"].is_i64());
        assert!(c["SubjectAlternativeNames"]["SubjectAlternativeName"].is_array());
        // Filter by id.
        let id = c["ServerCertificateId"].as_str().unwrap();
        let v = ok(&h, Req::new("DescribeServerCertificates", SLB).p("RegionId", r).p("ServerCertificateId", id));
        assert_eq!(v["ServerCertificates"]["ServerCertificate"].as_array().unwrap().len(), 1);

        // Load balancers, paged by 1 to prove paging.
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let v = ok(
                &h,
                Req::new("DescribeLoadBalancers", SLB)
                    .p("RegionId", r)
                    .p("PageNumber", &page.to_string())
                    .p("PageSize", "1"),
            );
            assert_eq!(v["PageNumber"], page);
            assert_eq!(v["PageSize"], 1);
            let total = v["TotalCount"].as_u64().unwrap() as usize;
            for lb in v["LoadBalancers"]["LoadBalancer"].as_array().unwrap() {
                ids.push(lb["LoadBalancerId"].as_str().unwrap().to_string());
            }
            if page >= total {
                break;
            }
            page += 1;
        }
        assert_eq!(ids.len(), region.load_balancers.len());
        total_lbs += ids.len();
        for lb in &region.load_balancers {
            let id = lb.load_balancer_id.as_str();
            let v = ok(&h, Req::new("DescribeLoadBalancerAttribute", SLB).p("RegionId", r).p("LoadBalancerId", id));
            let pp = v["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"].as_array().unwrap();
            assert!(pp.iter().any(|x| x["ListenerProtocol"] == "https" && x["ListenerPort"] == 443));
            assert!(v["ListenerPortsAndProtocal"]["ListenerPortAndProtocal"][0]["ListenerProtocal"].is_string());
            assert_eq!(v["Address"], lb.address.as_str());
            let v = ok(
                &h,
                Req::new("DescribeLoadBalancerHTTPSListenerAttribute", SLB)
                    .p("RegionId", r)
                    .p("LoadBalancerId", id)
                    .p("ListenerPort", "443"),
            );
            let l = lb.listeners.iter().find(|l| l.protocol == "https").unwrap();
            assert_eq!(v["ServerCertificateId"], l.server_certificate_id.clone().unwrap().as_str());
            let exts = v["DomainExtensions"]["DomainExtension"].as_array().unwrap();
            assert_eq!(exts.len(), l.domain_extensions.len());
            let v2 = ok(
                &h,
                Req::new("DescribeDomainExtensions", SLB)
                    .p("RegionId", r)
                    .p("LoadBalancerId", id)
                    .p("ListenerPort", "443"),
            );
            assert_eq!(&v2["DomainExtensions"]["DomainExtension"], &v["DomainExtensions"]["DomainExtension"]);
            // Port 80 is http: not an HTTPS listener.
            let resp = v3(
                &h,
                &Req::new("DescribeLoadBalancerHTTPSListenerAttribute", SLB)
                    .p("RegionId", r)
                    .p("LoadBalancerId", id)
                    .p("ListenerPort", "80"),
            );
            assert_eq!(resp.status, 400);
        }
    }
    assert!(total_lbs > 0);
    let resp = v3(
        &h,
        &Req::new("DescribeLoadBalancerAttribute", SLB).p("RegionId", "cn-hangzhou").p("LoadBalancerId", "lb-nope"),
    );
    assert_eq!((resp.status, resp.code()), (404, "InvalidLoadBalancerId.NotFound"));
    let resp = v3(&h, &Req::new("DescribeLoadBalancers", SLB).p("RegionId", "cn-hangzhou").p("PageSize", "101"));
    assert_eq!(resp.code(), "InvalidParameter");
    let resp = v3(&h, &Req::new("DescribeLoadBalancers", SLB).p("RegionId", "xx-nowhere-1"));
    assert_eq!(resp.status, 400);
}

#[test]
fn cas_operations_render_the_world() {
    let dir = tempfile::tempdir().unwrap();
    let (g, w) = world(60, dir.path());
    let acct = &g.world.accounts[0];
    let h = start_unthrottled(w);

    // CERT without Status: valid ones only (ISSUED + WILLEXPIRED).
    let now = time::OffsetDateTime::now_utc();
    let expired_count = acct
        .cas
        .certificates
        .iter()
        .filter(|c| {
            time::OffsetDateTime::parse(&c.not_after, &time::format_description::well_known::Rfc3339).unwrap() < now
        })
        .count();
    assert!(expired_count > 0, "the generator plants expired certificates");
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let v = ok(
            &h,
            Req::new("ListUserCertificateOrder", CAS)
                .p("OrderType", "CERT")
                .p("CurrentPage", &page.to_string())
                .p("ShowSize", "7"),
        );
        assert_eq!(v["ShowSize"], 7);
        assert_eq!(v["CurrentPage"], page);
        let list = v["CertificateOrderList"].as_array().unwrap();
        for row in list {
            assert_eq!(row["Expired"], false);
            ids.push(row["CertificateId"].as_i64().unwrap());
        }
        if page * 7 >= v["TotalCount"].as_i64().unwrap() {
            break;
        }
        page += 1;
    }
    assert_eq!(ids.len(), acct.cas.certificates.len() - expired_count);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
    let v = ok(
        &h,
        Req::new("ListUserCertificateOrder", CAS).p("OrderType", "CERT").p("Status", "EXPIRED").p("ShowSize", "100"),
    );
    assert_eq!(v["TotalCount"], expired_count);
    let row = &v["CertificateOrderList"][0];
    assert_eq!(row["Expired"], true);
    let fp = row["Fingerprint"].as_str().unwrap();
    assert_eq!((fp.len(), fp.to_uppercase() == fp), (40, true));
    assert_eq!(row["Sha2"].as_str().unwrap().len(), 64);
    assert_eq!(row["StartDate"].as_str().unwrap().len(), 10);
    assert!(row["Sans"].is_string());
    // Default OrderType is CPACK with TrusteeStatus.
    let v = ok(&h, Req::new("ListUserCertificateOrder", CAS));
    assert_eq!(v["ShowSize"], 50);
    let rows = v["CertificateOrderList"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["SourceType"] == "cpack"));
    assert!(rows.iter().any(|r| r["TrusteeStatus"] == "trustee"));
    assert!(rows[0]["CertEndTime"].as_i64().unwrap() > 1_600_000_000_000, "ms");
    let resp = v3(&h, &Req::new("ListUserCertificateOrder", CAS).p("OrderType", "CERT").p("Status", "PAYED"));
    assert_eq!(resp.code(), "InvalidParameter");

    // Detail: with CertFilter=true no key; without, key material (and the stats say so).
    let cid = acct.cas.certificates[0].certificate_id.to_string();
    let v = ok(&h, Req::new("GetUserCertificateDetail", CAS).p("CertId", &cid).p("CertFilter", "true"));
    assert!(v.get("Key").is_none() && v.get("Cert").is_none());
    assert!(v["NotAfter"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(v["CertIdentifier"], format!("{cid}-cn-hangzhou"));
    assert_eq!(h.stats().key_material_returned, 0);
    let v = ok(&h, Req::new("GetUserCertificateDetail", CAS).p("CertId", &cid));
    assert!(v["Key"].as_str().unwrap().contains("PRIVATE KEY"));
    assert!(v["Cert"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    assert_eq!(h.stats().key_material_returned, 1);
    assert_eq!(v3(&h, &Req::new("GetUserCertificateDetail", CAS)).code(), "MissingParameter");

    // Instances with AutoReissue, seconds.
    let v = ok(&h, Req::new("ListInstances", CAS).p("ShowSize", "100"));
    let list = v["InstanceList"].as_array().unwrap();
    assert_eq!(list.len(), acct.cas.orders.len());
    assert_eq!(
        v["EnableReissueCount"].as_u64().unwrap() + v["DisableReissueCount"].as_u64().unwrap(),
        list.len() as u64
    );
    let nb = list[0]["CertificateNotBefore"].as_i64().unwrap();
    assert!(nb > 1_600_000_000 && nb < 10_000_000_000, "seconds");
    let inst = list[0]["InstanceId"].as_str().unwrap();
    let v = ok(&h, Req::new("GetInstanceDetail", CAS).p("InstanceId", inst));
    assert!(v["AutoReissue"] == "enable" || v["AutoReissue"] == "disable");

    // Deployments: Total (not TotalCount), CertIds as JSON text.
    let dep = &acct.cas.deployments[0];
    let v = ok(&h, Req::new("ListCloudResources", CAS).p("CertIds", &format!("[{}]", dep.cert_id)));
    assert!(v.get("TotalCount").is_none());
    assert!(v["Total"].as_u64().unwrap() >= 1);
    let row = &v["Data"][0];
    assert_eq!(row["CertId"], dep.cert_id);
    assert!(row["CertEndTime"].is_string() && row["ListenerPort"].is_string());
    assert_eq!(v3(&h, &Req::new("ListCloudResources", CAS).p("CertIds", "1,2")).code(), "InvalidParameter");

    // PCA: comma list, revoked with ms RevokeTime.
    let revoked = acct.pca.iter().find(|p| p.status == "revoked");
    let good = acct.pca.iter().find(|p| p.status == "good").unwrap();
    let mut serials = vec![good.serial_number.clone(), "00ff".to_string()];
    if let Some(r) = revoked {
        serials.push(r.serial_number.clone());
    }
    let v =
        ok(&h, Req::new("DescribeClientCertificateStatusForSerialNumber", PCA).p("SerialNumber", &serials.join(",")));
    let rows = v["CertificateStatus"].as_array().unwrap();
    assert_eq!(rows[0]["Status"], "good");
    assert!(rows[0].get("RevokeTime").is_none());
    assert_eq!(rows[1]["Status"], "unknown");
    if revoked.is_some() {
        assert_eq!(rows[2]["Status"], "revoked");
        assert!(rows[2]["RevokeTime"].as_i64().unwrap() > 1_600_000_000_000);
    }
}

#[test]
fn assume_role_and_ecs_metadata_credentials_work_against_the_apis() {
    let mut w = small_world(2);
    w.ecs_metadata = Some(alibaba_emulator::world::EcsMetadata { account_id: UID.into(), role_name: "reader".into() });
    let h = start(w);
    let v = ok(
        &h,
        Req::new("AssumeRole", "2015-04-01")
            .p("RoleArn", &format!("acs:ram::{UID}:role/reader"))
            .p("RoleSessionName", "test-session"),
    );
    let c = &v["Credentials"];
    let (id, secret, token) = (
        c["AccessKeyId"].as_str().unwrap(),
        c["AccessKeySecret"].as_str().unwrap(),
        c["SecurityToken"].as_str().unwrap(),
    );
    assert!(c["Expiration"].as_str().unwrap().ends_with('Z'));
    let mut r = Req::new("DescribeCdnHttpsDomainList", CDN).key(id, secret);
    r.token = Some(token.into());
    for resp in both(&h, &r) {
        assert_eq!(resp.json["TotalCount"], 2, "{}", resp.text);
    }
    r.token = None;
    assert_eq!(v3(&h, &r).code(), "MissingSecurityToken");
    let resp = v3(
        &h,
        &Req::new("AssumeRole", "2015-04-01")
            .p("RoleArn", &format!("acs:ram::{UID}:role/nobody"))
            .p("RoleSessionName", "s1"),
    );
    assert_eq!((resp.status, resp.code()), (404, "EntityNotExist.Role"));

    // ECS metadata: token first (IMDSv2), then the role's credentials.
    let c = http();
    let base = h.url();
    let creds_url = format!("{base}/latest/meta-data/ram/security-credentials/reader");
    assert_eq!(c.get(&creds_url).send().unwrap().status().as_u16(), 401);
    let token = c
        .put(format!("{base}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let list = c
        .get(format!("{base}/latest/meta-data/ram/security-credentials/"))
        .header("X-aliyun-ecs-metadata-token", &token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(list, "reader");
    let body = c.get(&creds_url).header("X-aliyun-ecs-metadata-token", &token).send().unwrap().text().unwrap();
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["Code"], "Success");
    let mut r = Req::new("DescribeCdnHttpsDomainList", CDN)
        .key(m["AccessKeyId"].as_str().unwrap(), m["AccessKeySecret"].as_str().unwrap());
    r.token = Some(m["SecurityToken"].as_str().unwrap().into());
    assert_eq!(v1(&h, &r).json["TotalCount"], 2);
}

#[test]
fn world_updates_are_seen_by_later_requests() {
    let h = start(small_world(2));
    let before = ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN));
    assert_eq!(before["CertInfos"]["CertInfo"][0]["CertName"], "cert-0000");
    h.update_world(|w| {
        let d = &mut w.accounts[0].cdn_domains[0];
        d.cert_name = "cert-0000-renewed".into();
        d.cert_status = "expire_soon".into();
    });
    let after = ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN));
    assert_eq!(after["CertInfos"]["CertInfo"][0]["CertName"], "cert-0000-renewed");
    assert_eq!(after["CertInfos"]["CertInfo"][0]["CertStatus"], "expire_soon");
    assert_eq!(h.world().accounts[0].cdn_domains[0].cert_name, "cert-0000-renewed");
    // Revoking a key takes effect at once.
    h.update_world(|w| w.accounts[0].access_keys[0].enabled = false);
    assert_eq!(v3(&h, &Req::new("DescribeCdnHttpsDomainList", CDN)).code(), "Forbidden.AccessKeyDisabled");
}
