//! What moto cannot show, replayed from answers shaped as real AWS sends
//! them (ACM's JSON 1.1 documentation examples: epoch-second dates,
//! colon-hex serials, `__type` error codes):
//!
//! - ACM `ListCertificates` without `Includes.keyTypes` lists only RSA_1024
//!   and RSA_2048 certificates; the host below behaves that way, so an
//!   ECDSA or RSA_4096 certificate is found only if the plugin asks for every
//!   key type (moto 5.2.5 lists every key type when no filter is sent);
//! - throttling (`ThrottlingException`, `Throttling`, `RequestLimitExceeded`)
//!   and 5xx answers are retried, and a call gives up after its attempts;
//! - secrets never appear in errors;
//! - a refused tag call (CloudFront's `ListTagsForResource`, which moto
//!   cannot refuse: it checks no CloudFront request) keeps every binding,
//!   records why its tags are missing, and is not repeated for the page.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sigv4::SigningCredentials;
use certinspect_aws::client::{AwsError, Client, Endpoints, RetryPolicy, ACM};
use certinspect_aws::credentials::CredentialsProvider;
use certinspect_aws::{acm, Context};
use certinspect_sdk::testing::FakeHost;
use certinspect_sdk::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// A host that answers the n-th request (counting from 1) with `answer`
/// and records what it was asked (the SDK's scripted host).
fn replaying(answer: impl Fn(&HttpRequest, usize) -> HttpResponse + Send + Sync + 'static) -> Arc<FakeHost> {
    let count = AtomicUsize::new(0);
    FakeHost::answering(1_765_000_000_000, move |request| Ok(answer(request, count.fetch_add(1, Ordering::SeqCst) + 1)))
}

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

fn context(replay: Arc<FakeHost>) -> Context {
    let credentials = CredentialsProvider::fixed(SigningCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: SECRET.into(),
        session_token: Some("session-token-secret".into()),
    });
    Context {
        client: Client::new(replay, Endpoints::Aws, credentials, RetryPolicy::default()),
        account: "recorded".into(),
        wildcard_label: None,
        tags: true,
    }
}

fn json_answer(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
        body: body.to_string().into_bytes(),
    }
}

fn target(request: &HttpRequest) -> String {
    request.headers.iter().find(|(n, _)| n == "x-amz-target").map(|(_, v)| v.clone()).unwrap_or_default()
}

fn pem(names: &[&str]) -> String {
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
}

/// Real ACM: three certificates, one RSA_2048 and two that the default
/// filter hides (EC_prime256v1, RSA_4096).
fn acm_like_aws(pems: Vec<(String, &'static str, String)>) -> impl Fn(&HttpRequest, usize) -> HttpResponse {
    move |request, _| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match target(request).as_str() {
            "CertificateManager.ListCertificates" => {
                let asked: Vec<&str> = body["Includes"]["keyTypes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_else(|| vec!["RSA_1024", "RSA_2048"]);
                let listed: Vec<Value> = pems
                    .iter()
                    .filter(|(_, key, _)| asked.contains(key))
                    .map(|(arn, key, _)| {
                        json!({"CertificateArn": arn, "DomainName": "x.example.test", "KeyAlgorithm": key,
                               "Status": "ISSUED", "Type": "AMAZON_ISSUED", "NotAfter": 1.7980992E9, "InUse": true})
                    })
                    .collect();
                json_answer(200, json!({ "CertificateSummaryList": listed }))
            }
            "CertificateManager.DescribeCertificate" => {
                let arn = body["CertificateArn"].as_str().unwrap_or_default();
                json_answer(
                    200,
                    json!({"Certificate": {"CertificateArn": arn, "DomainName": "x.example.test",
                        "SubjectAlternativeNames": ["x.example.test"], "Serial": "0c:9f:33:aa", "Status": "ISSUED",
                        "Type": "AMAZON_ISSUED", "RenewalEligibility": "ELIGIBLE", "NotBefore": 1.7660160E9,
                        "NotAfter": 1.7980992E9, "InUseBy": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"],
                        "RenewalSummary": {"RenewalStatus": "SUCCESS", "DomainValidationOptions": []}}}),
                )
            }
            "CertificateManager.GetCertificate" => {
                let arn = body["CertificateArn"].as_str().unwrap_or_default();
                let pem = pems.iter().find(|(a, _, _)| a == arn).map(|(_, _, p)| p.clone()).unwrap_or_default();
                json_answer(200, json!({ "Certificate": pem }))
            }
            "CertificateManager.ListTagsForCertificate" => {
                // A tag without a value is sent as a bare Key, as ACM does.
                let arn = body["CertificateArn"].as_str().unwrap_or_default();
                json_answer(
                    200,
                    json!({"Tags": [{"Key": "owner", "Value": format!("owner-of-{arn}")}, {"Key": "pci"}]}),
                )
            }
            other => json_answer(400, json!({"__type": "UnknownOperationException", "message": other})),
        }
    }
}

#[test]
fn acm_lists_ecdsa_and_large_rsa_certificates_because_it_asks_for_every_key_type() {
    let arn = |n: u8| format!("arn:aws:acm:us-east-1:123456789012:certificate/0000000{n}-aaaa-bbbb-cccc-dddddddddddd");
    let pems = vec![
        (arn(1), "RSA_2048", pem(&["rsa.example.test"])),
        (arn(2), "EC_prime256v1", pem(&["ec.example.test"])),
        (arn(3), "RSA_4096", pem(&["big.example.test"])),
    ];
    let replay = replaying(acm_like_aws(pems));
    let page = acm::list_page(&context(replay.clone()), "us-east-1", None).unwrap();
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    let mut listed: Vec<&str> = page.bindings.iter().map(|b| b.location.resource_id.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, [arn(1), arn(2), arn(3)]);
    // The identity comes from the PEM, not from the metadata's serial.
    let ec = page.bindings.iter().find(|b| b.location.resource_id == arn(2)).unwrap();
    assert_eq!(ec.declared.common_name.as_deref(), Some("ec.example.test"));
    assert_ne!(ec.declared.serial.as_deref(), Some("c9f33aa"));
    assert_eq!(ec.declared.auto_managed, certinspect_sdk::Tristate::Yes);
    assert_eq!(ec.extra["renewal_summary"]["RenewalStatus"], "SUCCESS");
    let owner = format!("owner-of-{}", arn(2));
    let want = [("owner", owner.as_str()), ("pci", "")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(ec.tags, want.into_iter().collect());

    // The request was signed for ACM in the region and asked for every key type.
    let requests = replay.requests();
    let list = &requests[0];
    assert_eq!(list.url, "https://acm.us-east-1.amazonaws.com/");
    let authorization = list.headers.iter().find(|(n, _)| n == "authorization").unwrap().1.clone();
    assert!(authorization.contains("/us-east-1/acm/aws4_request"), "{authorization}");
    let body: Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(body["Includes"]["keyTypes"].as_array().unwrap().len(), acm::ALL_KEY_TYPES.len());
}

#[test]
fn the_same_account_without_the_key_type_filter_would_hide_two_of_three() {
    // The recorded behaviour itself: proves the replay can fail the test above.
    let replay = replaying(acm_like_aws(vec![
        ("a".into(), "RSA_2048", String::new()),
        ("b".into(), "EC_prime256v1", String::new()),
        ("c".into(), "RSA_4096", String::new()),
    ]));
    let client = context(replay).client;
    let answer = client.json(&ACM, "us-east-1", "ListCertificates", &json!({"MaxItems": 100})).unwrap();
    assert_eq!(answer["CertificateSummaryList"].as_array().unwrap().len(), 1);
}

#[test]
fn throttling_and_server_errors_are_retried_then_given_up_with_a_clear_error() {
    let throttles = [
        json_answer(400, json!({"__type": "com.amazonaws.acm#ThrottlingException", "message": "Rate exceeded"})),
        HttpResponse {
            status: 400,
            headers: Vec::new(),
            body:
                b"<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
                    .to_vec(),
        },
        HttpResponse {
            status: 503,
            headers: Vec::new(),
            body: b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>".to_vec(),
        },
        json_answer(500, json!({"__type": "InternalFailure"})),
    ];
    let replay = replaying(move |_, n| {
        throttles.get(n - 1).cloned().unwrap_or_else(|| json_answer(200, json!({"CertificateSummaryList": []})))
    });
    let client = context(replay.clone()).client;
    client.json(&ACM, "us-east-1", "ListCertificates", &acm::list_request(None)).unwrap();
    assert_eq!(replay.request_count(), 5, "four refusals, then the answer");

    let always =
        replaying(|_, _| json_answer(400, json!({"__type": "ThrottlingException", "message": "Rate exceeded"})));
    let error = context(always.clone()).client.json(&ACM, "us-east-1", "ListCertificates", &json!({})).unwrap_err();
    assert_eq!(always.request_count(), RetryPolicy::default().max_attempts as usize);
    assert_eq!(error.to_string(), "ACM ListCertificates failed: ThrottlingException (HTTP 400): Rate exceeded");

    let denied = replaying(|_, _| {
        json_answer(400, json!({"__type": "AccessDeniedException", "message": "User is not authorized"}))
    });
    let error = context(denied.clone()).client.json(&ACM, "us-east-1", "ListCertificates", &json!({})).unwrap_err();
    assert_eq!(denied.request_count(), 1, "a refusal is not retried");
    assert!(error.is_credentials_problem());
}

#[test]
fn signature_errors_do_not_echo_secrets_or_the_string_to_sign() {
    let replay = replaying(|request, _| {
        let authorization = request.headers.iter().find(|(n, _)| n == "authorization").unwrap().1.clone();
        HttpResponse {
                status: 403,
                headers: Vec::new(),
                body: format!(
                    "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been\n'POST\n/\n{authorization}'</Message></Error></ErrorResponse>"
                )
                .into_bytes(),
            }
    });
    let error = context(replay)
        .client
        .query(&certinspect_aws::client::IAM, "us-east-1", "ListServerCertificates", &[])
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    for secret in [SECRET, "AKIAIOSFODNN7EXAMPLE", "session-token-secret", "Canonical String"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(matches!(error, AwsError::Service { ref code, .. } if code == "SignatureDoesNotMatch"));
}

#[test]
fn acm_hands_its_next_token_to_the_host_as_the_cursor_and_sends_it_back() {
    let replay = replaying(|request, _| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (target(request).as_str(), body["NextToken"].as_str()) {
            ("CertificateManager.ListCertificates", None) => {
                json_answer(200, json!({"CertificateSummaryList": [], "NextToken": "page-2-token"}))
            }
            ("CertificateManager.ListCertificates", Some("page-2-token")) => {
                json_answer(200, json!({"CertificateSummaryList": []}))
            }
            _ => json_answer(400, json!({"__type": "InvalidNextTokenException", "message": "bad token"})),
        }
    });
    let context = context(replay);
    let first = acm::list_page(&context, "us-east-1", None).unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("page-2-token"));
    let second = acm::list_page(&context, "us-east-1", first.next_cursor.as_deref()).unwrap();
    assert_eq!(second.next_cursor, None);
}

/// CloudFront as AWS answers a reader without `cloudfront:ListTagsForResource`.
fn cloudfront_refusing_tags(request: &HttpRequest, _: usize) -> HttpResponse {
    let xml = |status: u16, body: &str| HttpResponse {
        status,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.as_bytes().to_vec(),
    };
    let distribution = |id: &str, aliases: &[&str]| {
        let cnames: String = aliases.iter().map(|a| format!("<CNAME>{a}</CNAME>")).collect();
        format!(
            "<DistributionSummary><Id>{id}</Id><ARN>arn:aws:cloudfront::123456789012:distribution/{id}</ARN>\
             <Status>Deployed</Status><DomainName>{id}.cloudfront.net</DomainName>\
             <Aliases><Quantity>{}</Quantity><Items>{cnames}</Items></Aliases>\
             <ViewerCertificate><ACMCertificateArn>arn:aws:acm:us-east-1:123456789012:certificate/c</ACMCertificateArn>\
             </ViewerCertificate><Enabled>true</Enabled></DistributionSummary>",
            aliases.len()
        )
    };
    if request.url.contains("/2020-05-31/distribution") {
        let items =
            distribution("E1", &["a.example.test", "b.example.test"]) + &distribution("E2", &["c.example.test"]);
        xml(
            200,
            &format!(
                "<?xml version=\"1.0\"?><DistributionList xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
                 <Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>2</Quantity>\
                 <Items>{items}</Items></DistributionList>"
            ),
        )
    } else {
        xml(
            403,
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
             <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/reader \
             is not authorized to perform: cloudfront:ListTagsForResource</Message></Error></ErrorResponse>",
        )
    }
}

#[test]
fn a_refused_tag_call_keeps_every_binding_says_why_and_is_not_repeated() {
    let replay = replaying(cloudfront_refusing_tags);
    let page = certinspect_aws::cloudfront::list_page(&context(replay.clone()), None).unwrap();
    let aliases: Vec<&str> = page.bindings.iter().filter_map(|b| b.extra["alias"].as_str()).collect();
    assert_eq!(aliases, ["a.example.test", "b.example.test", "c.example.test"]);
    for binding in &page.bindings {
        assert!(binding.tags.is_empty());
        let why = binding.extra["tags_error"].as_str().unwrap_or_default();
        assert!(why.contains("CloudFront ListTagsForResource failed: AccessDenied (HTTP 403)"), "{why}");
    }
    assert_eq!(page.warnings.len(), 1, "{:?}", page.warnings);
    assert!(
        page.warnings[0].starts_with(
            "the tags of 2 distributions could not be read (CloudFront ListTagsForResource failed: AccessDenied"
        ),
        "{}",
        page.warnings[0]
    );
    assert!(page.warnings[0].contains("see docs/AWS.md for the policy"), "{}", page.warnings[0]);
    // The listing, then one refused tag call (not retried, not repeated for E2).
    let requests = replay.requests();
    assert_eq!(requests.len(), 2, "{:?}", requests.iter().map(|r| &r.url).collect::<Vec<_>>());
    assert_eq!(
        requests[1].url,
        "https://cloudfront.amazonaws.com/2020-05-31/tagging?Resource=arn%3Aaws%3Acloudfront%3A%3A123456789012%3Adistribution%2FE1"
    );
}
