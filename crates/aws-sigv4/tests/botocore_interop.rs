//! The Rust signer against botocore's own `SigV4Auth` (pinned in
//! `tests/python/requirements.txt`) on the same inputs: requests shaped like
//! the ones the AWS plugin sends (JSON 1.1 to ACM, Query to ELBv2/IAM/STS,
//! REST-XML to CloudFront), with and without a session token, plus awkward
//! paths, queries and headers. Canonical request and `Authorization` header
//! must be identical.
//!
//! The virtualenv is created under the target directory on first use and
//! reused (a new pin set gets a new venv), as the render crate's consumer
//! tests do.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sigv4::{sign, RequestParts, Scope, SigningCredentials};
use serde_json::{json, Value};

/// The venv's python (pinned botocore), created on first use.
fn python() -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aws-sigv4");
    certinspect_testbed::python::pinned_venv(&work, &requirements).unwrap_or_else(|e| panic!("{e}"))
}

struct Case {
    method: &'static str,
    host: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    service: &'static str,
    region: &'static str,
    amz_date: &'static str,
    session_token: Option<&'static str>,
}

const CASES: &[Case] = &[
    // ACM, JSON 1.1.
    Case {
        method: "POST",
        host: "acm.eu-west-1.amazonaws.com",
        path: "/",
        query: &[],
        headers: &[("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "CertificateManager.ListCertificates")],
        body: r#"{"Includes":{"keyTypes":["RSA_1024","RSA_2048","EC_prime256v1"]},"MaxItems":1000}"#,
        service: "acm",
        region: "eu-west-1",
        amz_date: "20261206T235900Z",
        session_token: None,
    },
    // ELBv2, Query protocol with a form body, temporary credentials.
    Case {
        method: "POST",
        host: "elasticloadbalancing.us-east-2.amazonaws.com",
        path: "/",
        query: &[],
        headers: &[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        body: "Action=DescribeListeners&Version=2015-12-01&LoadBalancerArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-2%3A123456789012%3Aloadbalancer%2Fapp%2Fweb%2F50dc6c495c0c9188",
        service: "elasticloadbalancing",
        region: "us-east-2",
        amz_date: "20260101T000000Z",
        session_token: Some("FwoGZXIvYXdzEJr//////////wEaDOaZ+token/with=odd+chars"),
    },
    // CloudFront, REST-XML with a paging query; global, signed for us-east-1.
    Case {
        method: "GET",
        host: "cloudfront.amazonaws.com",
        path: "/2020-05-31/distribution",
        query: &[("MaxItems", "100"), ("Marker", "E2QWRUHAPOMQZL")],
        headers: &[],
        body: "",
        service: "cloudfront",
        region: "us-east-1",
        amz_date: "20261231T235959Z",
        session_token: None,
    },
    // Awkward inputs: dot segments, spaces and UTF-8 in path and query,
    // repeated keys, a header with runs of spaces, an unsigned User-Agent,
    // a loopback host with a port (the emulator in tests).
    Case {
        method: "GET",
        host: "127.0.0.1:5000",
        path: "/a/./b/../c d/ü~x",
        query: &[("z", "1"), ("a", "x y*"), ("a", "é"), ("empty", "")],
        headers: &[("X-Custom", "  one   two  "), ("User-Agent", "certinspect/1.0")],
        body: "",
        service: "iam",
        region: "us-east-1",
        amz_date: "20240229T120000Z",
        session_token: Some("token"),
    },
];

#[test]
fn signatures_match_botocore_on_the_same_requests() {
    let input: Vec<Value> = CASES
        .iter()
        .map(|case| {
            json!({
                "method": case.method,
                "url": format!("https://{}{}", case.host, case.path),
                "query": case.query,
                "headers": case.headers,
                "body": case.body,
                "service": case.service,
                "region": case.region,
                "amz_date": case.amz_date,
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "session_token": case.session_token,
            })
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sign_with_botocore.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), Value::Array(input).to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "botocore script failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answers.len(), CASES.len());

    for (case, botocore) in CASES.iter().zip(&answers) {
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
        };
        let mut headers = owned(case.headers);
        headers.push(("Host".into(), case.host.into()));
        let query = owned(case.query);
        let request = RequestParts {
            method: case.method,
            path: case.path,
            query: &query,
            headers: &headers,
            body: case.body.as_bytes(),
        };
        let credentials = SigningCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: case.session_token.map(str::to_owned),
        };
        let scope = Scope { region: case.region, service: case.service, amz_date: case.amz_date };
        let signed = sign(&request, &credentials, &scope).unwrap();
        let header = |name: &str| signed.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(
            signed.canonical_request,
            botocore["canonical_request"].as_str().unwrap(),
            "{} {}",
            case.method,
            case.host
        );
        assert_eq!(header("authorization"), botocore["authorization"].as_str(), "{} {}", case.method, case.host);
        assert_eq!(header("x-amz-date"), botocore["x_amz_date"].as_str());
        assert_eq!(header("x-amz-security-token"), botocore["x_amz_security_token"].as_str());
    }
}
