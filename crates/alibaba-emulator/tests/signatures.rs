//! Authentication strictness with real signed requests: every refusal path of the
//! gateway, for V1 and V3.

mod common;

use common::*;
use time::Duration;

const CDN: &str = "2018-05-10";
const SLB: &str = "2014-05-15";

fn cdn() -> Req {
    Req::new("DescribeCdnHttpsDomainList", CDN)
}

#[test]
fn valid_v1_and_v3_requests_are_answered_with_get_and_post() {
    let h = start(small_world(3));
    for method in ["GET", "POST"] {
        let mut r = cdn();
        r.method = method;
        for resp in both(&h, &r) {
            assert_eq!(resp.status, 200, "{method}: {}", resp.text);
            assert_eq!(resp.json["TotalCount"], 3);
            assert!(resp.json["RequestId"].is_string());
        }
    }
    let s = h.stats();
    assert_eq!(s.ok("DescribeCdnHttpsDomainList"), 4);
    let sigs: Vec<&str> = s.requests.iter().map(|r| r.signature.as_str()).collect();
    assert_eq!(sigs, ["v1", "v3", "v1", "v3"]);
    assert!(s.requests.iter().all(|r| r.account_id == UID));
}

#[test]
fn v1_form_body_parameters_are_signed_and_used() {
    let h = start(small_world(30));
    let mut r = cdn().p("Keyword", "d0012");
    r.form_body = true;
    let resp = v1(&h, &r);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["TotalCount"], 1);
    // The same body with a signature computed without it is refused.
    let mut bad = r.clone();
    bad.sign_secret = Some("nope".into());
    assert_eq!(v1(&h, &bad).code(), "SignatureDoesNotMatch");
}

#[test]
fn plus_in_the_query_is_a_space_and_reserved_characters_survive() {
    let mut w = small_world(0);
    w.accounts[0].cdn_domains.push(alibaba_emulator::world::CdnDomain {
        domain_name: "odd.example.test".into(),
        cert_name: "a b*c~d/e+f=g&h%i'j 张".into(),
        ..Default::default()
    });
    let h = start(w);
    for resp in both(&h, &cdn().p("Keyword", "a b*c~d/e+f=g&h%i'j 张")) {
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.json["TotalCount"], 1, "{}", resp.text);
    }
}

#[test]
fn wrong_secret_is_signature_does_not_match_echoing_the_string_to_sign() {
    let h = start(small_world(1));
    let mut r = cdn();
    r.sign_secret = Some("wrong".into());
    let [a, b] = both(&h, &r);
    for resp in [&a, &b] {
        assert_eq!(resp.status, 400);
        assert_eq!(resp.code(), "SignatureDoesNotMatch");
        assert!(resp.json["Message"].as_str().unwrap().contains("server string to sign is:"));
        assert!(resp.json["HostId"].is_string() && resp.json["Recommend"].is_string());
    }
    // V1's string-to-sign carries the AccessKeyId (why clients must redact it).
    assert!(a.json["Message"].as_str().unwrap().contains(AK));
    assert!(b.json["Message"].as_str().unwrap().contains("ACS3-HMAC-SHA256\n"));
    let mut t = cdn();
    t.tamper = true;
    for resp in both(&h, &t) {
        assert_eq!(resp.code(), "SignatureDoesNotMatch");
    }
    assert_eq!(h.stats().refused("DescribeCdnHttpsDomainList", "SignatureDoesNotMatch"), 4);
}

#[test]
fn unknown_and_disabled_keys() {
    let h = start(small_world(1));
    for resp in both(&h, &cdn().key("LTAI5tNoSuchKey", "x")) {
        assert_eq!((resp.status, resp.code()), (404, "InvalidAccessKeyId.NotFound"));
    }
    for resp in both(&h, &cdn().key(DISABLED, "x")) {
        assert_eq!((resp.status, resp.code()), (403, "Forbidden.AccessKeyDisabled"));
    }
}

#[test]
fn keys_only_see_their_own_account() {
    let h = start(small_world(5));
    for resp in both(&h, &cdn().key(AK2, SECRET2)) {
        assert_eq!(resp.json["TotalCount"], 1);
        assert_eq!(resp.json["CertInfos"]["CertInfo"][0]["DomainName"], "other-account.example.test");
    }
}

#[test]
fn timestamps_outside_fifteen_minutes_or_badly_formatted_are_refused() {
    let h = start_with(small_world(1), |c| c.clock = fixed_clock());
    let now = h.clock().now();
    for (t, want) in [
        (now - Duration::minutes(16), Some("InvalidTimeStamp.Expired")),
        (now + Duration::minutes(16), Some("InvalidTimeStamp.Expired")),
        (now - Duration::minutes(14), None),
        (now + Duration::minutes(14), None),
    ] {
        let mut r = cdn();
        r.timestamp = Some(ts(t));
        for resp in both(&h, &r) {
            match want {
                Some(code) => assert_eq!((resp.status, resp.code()), (400, code)),
                None => assert_eq!(resp.status, 200, "{}", resp.text),
            }
        }
    }
    for bad in ["2026-06-01 12:00:00", "2026-06-01T12:00:00.000Z", "yesterday"] {
        let mut r = cdn();
        r.timestamp = Some(bad.into());
        for resp in both(&h, &r) {
            assert_eq!((resp.status, resp.code()), (400, "InvalidTimeStamp.Format"));
        }
    }
}

#[test]
fn reused_nonces_are_refused_for_the_whole_window() {
    let h = start_with(small_world(1), |c| c.clock = fixed_clock());
    for version in [1, 3] {
        let mut r = cdn();
        r.nonce = Some(format!("fixed-nonce-{version}"));
        let send = |r: &Req| if version == 1 { v1(&h, r) } else { v3(&h, r) };
        assert_eq!(send(&r).status, 200);
        let again = send(&r);
        assert_eq!((again.status, again.code()), (400, "SignatureNonceUsed"));
        // Ten minutes later, a fresh timestamp with the same nonce is still a replay.
        h.clock().advance(Duration::minutes(10));
        r.timestamp = None;
        assert_eq!(send(&r).code(), "SignatureNonceUsed");
    }
    // A refused signature does not burn the nonce.
    let mut r = cdn();
    r.nonce = Some("unburnt".into());
    r.sign_secret = Some("bad".into());
    assert_eq!(v1(&h, &r).code(), "SignatureDoesNotMatch");
    r.sign_secret = None;
    assert_eq!(v1(&h, &r).status, 200);
}

#[test]
fn v3_requires_host_and_every_x_acs_header_signed_and_a_true_body_hash() {
    let h = start(small_world(1));
    for h_name in ["host", "x-acs-date", "x-acs-signature-nonce", "x-acs-action"] {
        let mut r = cdn();
        r.unsigned = vec![h_name.into()];
        let resp = v3(&h, &r);
        assert_eq!((resp.status, resp.code()), (400, "IncompleteSignature"), "{h_name}");
    }
    // Headers the SDK also signs but the gateway does not require may be left out.
    let mut r = cdn();
    r.unsigned = vec!["accept".into()];
    assert_eq!(v3(&h, &r).status, 200);
    // A body whose hash is not the claimed one.
    let mut r = cdn();
    r.body = Some("PageNumber=1".into());
    r.claimed_sha = Some(alibaba_signing::v3::EMPTY_PAYLOAD_SHA256.into());
    assert_eq!(v3(&h, &r).code(), "SignatureDoesNotMatch");
    // With the true hash and the body's content-type signed, a V3 form body is fine.
    let mut r = cdn();
    r.body = Some("PageNumber=1".into());
    let resp = v3(&h, &r);
    assert_eq!(resp.status, 200, "{}", resp.text);
    let mut r = cdn();
    r.body = Some("PageNumber=1".into());
    r.unsigned = vec!["content-type".into()];
    assert_eq!(v3(&h, &r).code(), "IncompleteSignature");
}

#[test]
fn malformed_authorization_headers_are_incomplete_signatures() {
    let h = start(small_world(1));
    let c = http();
    for auth in [
        "ACS3-HMAC-SM3 Credential=x,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=x,Signature=ab",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 Credential=x,SignedHeaders=Host,Signature=ab",
    ] {
        let resp = c
            .post(format!("{}/", h.url()))
            .header("authorization", auth)
            .header("x-acs-action", "DescribeCdnHttpsDomainList")
            .header("x-acs-version", CDN)
            .header("x-acs-date", ts(h.clock().now()))
            .header("x-acs-signature-nonce", nonce())
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{auth}");
        let v: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
        assert_eq!(v["Code"], "IncompleteSignature", "{auth}");
    }
}

#[test]
fn sts_tokens_missing_wrong_expired_or_misplaced() {
    let h = start_with(small_world(1), |c| c.clock = fixed_clock());
    let sts = || cdn().key(STS_AK, STS_SECRET);
    for resp in both(&h, &sts()) {
        assert_eq!((resp.status, resp.code()), (400, "MissingSecurityToken"));
    }
    let mut r = sts();
    r.token = Some("CAIS+other".into());
    for resp in both(&h, &r) {
        assert_eq!(resp.code(), "InvalidSecurityToken.MismatchWithAccessKey");
    }
    let mut r = sts();
    r.token = Some(STS_TOKEN.into());
    for resp in both(&h, &r) {
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
    let mut r = cdn();
    r.token = Some(STS_TOKEN.into());
    for resp in both(&h, &r) {
        assert_eq!(resp.code(), "InvalidSecurityToken.MismatchWithAccessKey");
    }
    h.clock().set(time::macros::datetime!(2999-01-01 00:00:01 UTC));
    let mut r = sts();
    r.token = Some(STS_TOKEN.into());
    for resp in both(&h, &r) {
        assert_eq!(resp.code(), "InvalidSecurityToken.Expired");
    }
}

#[test]
fn missing_common_parameters_and_unknown_actions_or_versions() {
    let h = start(small_world(1));
    let c = http();
    // V1 without a signature at all.
    let url = format!("{}/?Action=DescribeCdnHttpsDomainList&Version={CDN}&AccessKeyId={AK}&Format=JSON", h.url());
    let v: serde_json::Value = serde_json::from_str(&c.get(url).send().unwrap().text().unwrap()).unwrap();
    assert_eq!(v["Code"], "MissingSignature");
    let v: serde_json::Value =
        serde_json::from_str(&c.get(format!("{}/", h.url())).send().unwrap().text().unwrap()).unwrap();
    assert_eq!(v["Code"], "MissingAction");
    for resp in both(&h, &Req::new("DescribeCdnHttpsDomainList", "2099-01-01")) {
        assert_eq!((resp.status, resp.code()), (400, "InvalidVersion"));
    }
    for resp in both(&h, &Req::new("DescribeNothing", CDN)) {
        assert_eq!((resp.status, resp.code()), (404, "InvalidAction.NotFound"));
    }
    // An SLB action sent with the CDN version does not exist there.
    for resp in both(&h, &Req::new("DescribeRegions", CDN)) {
        assert_eq!(resp.code(), "InvalidAction.NotFound");
    }
    for resp in both(&h, &Req::new("DescribeServerCertificates", SLB)) {
        assert_eq!((resp.status, resp.code()), (400, "MissingParameter"));
        assert!(resp.json["Message"].as_str().unwrap().contains("RegionId"));
    }
    for resp in both(&h, &cdn().p("PageSize", "501")) {
        assert_eq!((resp.status, resp.code()), (400, "InvalidParameter"));
    }
    for resp in both(&h, &cdn().p("PageNumber", "x")) {
        assert_eq!(resp.code(), "InvalidParameter");
    }
    let bad = c.get(format!("{}/?Action=%zz", h.url())).send().unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[test]
fn v1_without_format_json_gets_xml_like_the_real_default() {
    let h = start(small_world(2));
    let mut r = cdn();
    r.format = None;
    let resp = v1(&h, &r);
    assert_eq!(resp.status, 200);
    assert!(resp.json.is_null(), "must not be JSON: {}", resp.text);
    assert!(resp.text.starts_with("<?xml"));
    assert!(resp.text.contains("<TotalCount>2</TotalCount>"));
    assert!(resp.text.contains("<CertInfos><CertInfo>"));
    // lower-case json (what the SDK sends) is JSON.
    r.format = Some("json".into());
    assert_eq!(v1(&h, &r).json["TotalCount"], 2);
}

/// The exact wire requests the official Python SDK produced (shared reference vectors),
/// replayed with the emulator's clock at their timestamp.
#[test]
fn official_sdk_wire_requests_from_the_reference_vectors_are_accepted() {
    let text = include_str!("data/alibaba-signing-vectors.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let about = &v["about"];
    let mut w = small_world(0);
    w.accounts[0].access_keys.push(alibaba_emulator::world::AccessKey {
        id: about["fake_access_key_id"].as_str().unwrap().into(),
        secret: about["fake_access_key_secret"].as_str().unwrap().into(),
        enabled: true,
        ..Default::default()
    });
    w.regions.push(alibaba_emulator::world::Region { region_id: "cn-zhangjiakou".into(), ..Default::default() });
    let mut sts_world = w.clone();
    sts_world.accounts[0].access_keys.last_mut().unwrap().security_token =
        Some(about["fake_security_token"].as_str().unwrap().into());
    let c = http();
    let mut checked = 0;
    for e in v["sdk_end_to_end_requests"].as_array().unwrap() {
        let req = &e["request"];
        let is_sts = e["name"].as_str().unwrap().contains("sts");
        let world = if is_sts { sts_world.clone() } else { w.clone() };
        let h = start_with(world, |c| {
            c.clock = alibaba_emulator::Clock::fixed(time::macros::datetime!(2025-01-15 09:00:00 UTC))
        });
        let url = req["url"].as_str().unwrap();
        let path_q = &url[url.find("aliyuncs.com").unwrap() + "aliyuncs.com".len()..];
        let mut rb = c.post(format!("{}{}", h.url(), path_q));
        for (k, val) in req["headers"].as_object().unwrap() {
            rb = rb.header(k.as_str(), val.as_str().unwrap());
        }
        let resp = rb.send().unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().unwrap();
        assert_eq!(status, 200, "{}: {body}", e["name"]);
        checked += 1;
    }
    assert_eq!(checked, 5);
}
