//! Answers as the SDK models document them (cas20200407, slb20140515,
//! cdn20180510): which rows carry which fields, value sets, JSON types and
//! time units; and the error answers clients must retry.

mod common;

use alibaba_emulator::generate::{generate, GenerateOptions};
use alibaba_emulator::world::{AccessKey, World};
use alibaba_emulator::{EmulatorHandle, FaultKind, FaultRule};
use common::*;
use serde_json::Value;

const CDN: &str = "2018-05-10";
const SLB: &str = "2014-05-15";
const CAS: &str = "2020-04-07";

/// Timestamps in seconds are below this; in milliseconds above (year 5138 / 1973).
const SECONDS_CEILING: i64 = 100_000_000_000;

fn world(domains: usize, dir: &std::path::Path) -> World {
    let g =
        generate(&GenerateOptions { domains, out_dir: dir.to_path_buf(), drift: true, ..GenerateOptions::default() })
            .unwrap();
    let mut w = g.world;
    w.accounts[0].access_keys.push(AccessKey {
        id: AK.into(),
        secret: SECRET.into(),
        enabled: true,
        ..Default::default()
    });
    w
}

fn ok(h: &EmulatorHandle, r: Req) -> Value {
    let resp = v3(h, &r);
    assert_eq!(resp.status, 200, "{}: {}", r.action, resp.text);
    resp.json
}

fn unthrottled(w: World) -> EmulatorHandle {
    start_with(w, |c| c.qps_enabled = false)
}

#[test]
fn order_rows_carry_certificate_ids_only_where_the_sdk_documents_them() {
    let dir = tempfile::tempdir().unwrap();
    let h = unthrottled(world(60, dir.path()));
    // (OrderType, CertificateId present?) — "Returned when OrderType is set to CERT or UPLOAD".
    let mut checked = 0;
    for (order_type, has_certificate_id) in [("CPACK", false), ("BUY", false), ("CERT", true), ("UPLOAD", true)] {
        let v = ok(&h, Req::new("ListUserCertificateOrder", CAS).p("OrderType", order_type).p("ShowSize", "100"));
        let rows = v["CertificateOrderList"].as_array().unwrap();
        checked += usize::from(!rows.is_empty()) * if has_certificate_id { 1 } else { 10 };
        for row in rows {
            assert_eq!(row.get("CertificateId").is_some(), has_certificate_id, "{order_type}: {row}");
            assert!(row["InstanceId"].is_string(), "{order_type} rows link by InstanceId: {row}");
        }
    }
    assert!(checked >= 11, "both order rows and certificate rows were checked ({checked})");
}

#[test]
fn cas_instances_and_cloud_resources_use_the_sdk_value_sets_types_and_units() {
    let dir = tempfile::tempdir().unwrap();
    let h = unthrottled(world(60, dir.path()));
    let v = ok(&h, Req::new("ListInstances", CAS).p("ShowSize", "100"));
    let rows = v["InstanceList"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert!(["BUY", "TEST"].contains(&row["InstanceType"].as_str().unwrap()), "{row}");
        let algorithms = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_256", "SM2"];
        assert!(algorithms.contains(&row["KeyAlgorithm"].as_str().unwrap()), "{row}");
        let versions = ["basic", "standard", "professional", "ultimate"];
        assert!(versions.contains(&row["VersionType"].as_str().unwrap()), "{row}");
        for field in [
            "InstanceStartTime",
            "InstanceEndTime",
            "OrderStartTime",
            "OrderEndTime",
            "CertificateNotBefore",
            "CertificateNotAfter",
        ] {
            if let Some(t) = row.get(field).filter(|t| !t.is_null()) {
                let t = t.as_i64().unwrap_or_else(|| panic!("{field} is an integer: {row}"));
                assert!(t > 0 && t < SECONDS_CEILING, "{field} is in seconds: {t}");
            }
        }
    }
    let v = ok(&h, Req::new("ListCloudResources", CAS).p("ShowSize", "100"));
    let rows = v["Data"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        for field in ["GmtCreate", "GmtModified", "CertStartTime", "CertEndTime"] {
            let text = row[field].as_str().unwrap_or_else(|| panic!("{field} is a string: {row}"));
            let t: i64 = text.parse().unwrap();
            assert!(t > 0 && t < SECONDS_CEILING, "{field} is in seconds: {t}");
        }
        assert!(row["CertId"].is_i64() && row["EnableHttps"].is_i64(), "{row}");
    }
}

#[test]
fn slb_sans_come_in_the_shape_the_world_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world(30, dir.path());
    let h = unthrottled(w.clone());
    let region = w.accounts[0].slb[0].region_id.clone();
    let first = |h: &EmulatorHandle| {
        let v = ok(h, Req::new("DescribeServerCertificates", SLB).p("RegionId", &region));
        v["ServerCertificates"]["ServerCertificate"][0]["SubjectAlternativeNames"]["SubjectAlternativeName"].clone()
    };
    let names = &w.accounts[0].slb[0].server_certificates[0].subject_alternative_names;
    assert_eq!(first(&h), serde_json::json!(names));
    drop(h);
    // The API reference's own example: one element holding a JSON array as text.
    w.quirks.slb_sans_as_json_string = true;
    let h = unthrottled(w.clone());
    assert_eq!(first(&h), serde_json::json!([serde_json::to_string(names).unwrap()]));
}

#[test]
fn cdn_domain_certificate_info_names_the_cas_certificate_and_the_https_switch() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world(30, dir.path());
    let domain = w.accounts[0].cdn_domains.iter_mut().find(|d| d.cas_certificate_id.is_some()).unwrap();
    domain.https_off = true;
    let (name, id) = (domain.domain_name.clone(), domain.cas_certificate_id.unwrap());
    let h = unthrottled(w);
    let v = ok(&h, Req::new("DescribeDomainCertificateInfo", CDN).p("DomainName", &name));
    let info = &v["CertInfos"]["CertInfo"][0];
    assert_eq!(info["CertId"], id.to_string(), "{info}");
    assert_eq!(info["ServerCertificateStatus"], "off");
    assert!(info["CertExpireTime"].as_str().unwrap().ends_with('Z'), "ISO-8601 UTC: {info}");
    let missing = v3(&h, &Req::new("DescribeDomainCertificateInfo", CDN).p("DomainName", "nope.example.test"));
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[test]
fn injected_refusals_carry_the_code_and_the_retry_after_hint() {
    let h = start(small_world(3));
    for (code, status) in [("ServiceBusy", 400), ("FlowControlError", 400), ("Rejected.Throttling", 400)] {
        h.set_faults(vec![FaultRule {
            count: Some(1),
            ..FaultRule::always(None, FaultKind::Refuse { code: code.into(), status, retry_after_ms: Some(1500) })
        }]);
        let refused = v3(&h, &Req::new("DescribeCdnHttpsDomainList", CDN));
        assert_eq!((refused.status, refused.code()), (status, code), "{}", refused.text);
        assert_eq!(v3(&h, &Req::new("DescribeCdnHttpsDomainList", CDN)).status, 200, "count bounds the rule");
    }
    assert_eq!(h.stats().faults_injected, 3);
}

#[test]
fn a_page_size_above_the_limit_is_refused_as_invalid_parameter() {
    let h = start_with(small_world(30), |c| {
        c.qps_enabled = false;
        c.page_limits.insert("DescribeCdnHttpsDomainList".into(), 10);
    });
    let refused = v3(&h, &Req::new("DescribeCdnHttpsDomainList", CDN).p("PageSize", "11"));
    assert_eq!((refused.status, refused.code()), (400, "InvalidParameter"), "{}", refused.text);
    assert!(refused.text.contains("PageSize"), "{}", refused.text);
    let v = ok(&h, Req::new("DescribeCdnHttpsDomainList", CDN).p("PageSize", "10"));
    assert_eq!(v["CertInfos"]["CertInfo"].as_array().unwrap().len(), 10);
}

#[test]
fn alb_and_nlb_share_action_names_but_not_their_qps_budget() {
    let h = start_with(small_world(1), |c| {
        c.clock = fixed_clock();
        c.qps.insert("ListLoadBalancers".into(), 1);
    });
    const ALB: &str = "2020-06-16";
    const NLB: &str = "2022-04-30";
    assert_eq!(v3(&h, &Req::new("ListLoadBalancers", ALB)).status, 200);
    assert_eq!(v3(&h, &Req::new("ListLoadBalancers", NLB)).status, 200, "NLB has its own budget");
    let again = v3(&h, &Req::new("ListLoadBalancers", ALB));
    assert_eq!((again.status, again.code()), (400, "Throttling.User"), "{}", again.text);
}
