//! Every vector in the shared vectors file (made by the official Python SDK)
//! must be reproduced step by step: intermediate strings and signatures.

use alibaba_signing::{parse_form_query, percent_encode, v1, v3};
use serde_json::Value;

fn vectors() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/alibaba-signing-vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vectors file is JSON")
}

fn string_field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_else(|| panic!("field {name} missing or not a string in {value}"))
}

fn pairs(object: &Value) -> Vec<(String, String)> {
    object
        .as_object()
        .expect("an object of strings")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().expect("string value").to_string()))
        .collect()
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
}

fn list<'a>(all: &'a Value, key: &str) -> &'a Vec<Value> {
    let list = all[key].as_array().unwrap_or_else(|| panic!("{key} is not a list"));
    assert!(!list.is_empty(), "{key} is empty: the test would prove nothing");
    list
}

#[test]
fn v1_vectors_reproduce_every_step() {
    let all = vectors();
    let mut checked = 0;
    for key in ["v1", "v1_public_examples"] {
        for vector in list(&all, key) {
            let name = string_field(vector, "name");
            let method = string_field(vector, "method");
            let secret = string_field(vector, "access_key_secret");
            let params = pairs(&vector["params"]);

            assert_eq!(
                v1::canonicalized_query(&params),
                string_field(vector, "canonicalized_query_string"),
                "{name}: canonicalized query"
            );
            assert_eq!(
                v1::string_to_sign(method, &params),
                string_field(vector, "string_to_sign"),
                "{name}: string to sign"
            );
            let signature = v1::sign(method, &params, secret);
            assert_eq!(signature, string_field(vector, "signature"), "{name}: signature");
            assert_eq!(
                percent_encode(&signature),
                string_field(vector, "signature_url_encoded"),
                "{name}: signature on the wire"
            );

            // The SDK's wire form must decode to the same parameters and verify.
            let wire = parse_form_query(string_field(vector, "sdk_wire_query_example")).unwrap();
            let presented = wire.iter().find(|(n, _)| n == "Signature").expect("wire has Signature").1.clone();
            let wire_params: Vec<_> = wire.into_iter().filter(|(n, _)| n != "Signature").collect();
            assert_eq!(sorted(wire_params.clone()), sorted(params.clone()), "{name}: wire params");
            assert!(v1::verify(method, &wire_params, secret, &presented), "{name}: wire verify");
            assert!(!v1::verify(method, &wire_params, "not-the-secret", &presented), "{name}: wrong secret");
            checked += 1;
        }
    }
    assert_eq!(checked, list(&all, "v1").len() + list(&all, "v1_public_examples").len());
}

#[test]
fn v3_vectors_reproduce_every_step() {
    let all = vectors();
    for key in ["v3", "v3_public_examples"] {
        for vector in list(&all, key) {
            let name = string_field(vector, "name");
            assert_eq!(string_field(vector, "algorithm"), v3::ALGORITHM, "{name}");
            let method = string_field(vector, "method");
            let secret = string_field(vector, "access_key_secret");
            let access_key_id = string_field(vector, "access_key_id");
            let query = pairs(&vector["query"]);
            let headers = pairs(&vector["headers_signed"]);
            let body = string_field(vector, "body");

            let hashed_payload = v3::hex_sha256(body.as_bytes());
            assert_eq!(hashed_payload, string_field(vector, "hashed_payload"), "{name}: payload hash");
            assert_eq!(
                v3::canonical_query(&query),
                string_field(vector, "canonical_query_string"),
                "{name}: canonical query"
            );
            let (canonical_headers, signed_headers) = v3::canonical_headers(&headers);
            assert_eq!(canonical_headers, string_field(vector, "canonical_headers"), "{name}: headers");
            assert_eq!(signed_headers, string_field(vector, "signed_headers"), "{name}: signed headers");
            let canonical_request =
                v3::canonical_request(method, string_field(vector, "canonical_uri"), &query, &headers, &hashed_payload);
            assert_eq!(canonical_request, string_field(vector, "canonical_request"), "{name}: request");
            let string_to_sign = v3::string_to_sign(&canonical_request);
            assert_eq!(string_to_sign, string_field(vector, "string_to_sign"), "{name}: string to sign");
            let signature = v3::signature(secret, &string_to_sign);
            assert_eq!(signature, string_field(vector, "signature"), "{name}: signature");
            let authorization = v3::authorization(access_key_id, &signed_headers, &signature);
            assert_eq!(authorization, string_field(vector, "authorization"), "{name}: authorization");

            let parsed = v3::parse_authorization(&authorization).unwrap();
            assert_eq!(parsed.algorithm, v3::ALGORITHM);
            assert_eq!(parsed.credential, access_key_id);
            assert_eq!(parsed.signed_headers.join(";"), signed_headers);
            assert!(v3::verify_signature(secret, &string_to_sign, &parsed.signature), "{name}");
            assert!(!v3::verify_signature("wrong", &string_to_sign, &parsed.signature), "{name}");
        }
    }
}

/// Splits `https://host/path?query` into (path, query).
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.split_once("://").expect("absolute URL").1;
    let path_and_query = &after_scheme[after_scheme.find('/').expect("URL has a path")..];
    path_and_query.split_once('?').unwrap_or((path_and_query, ""))
}

#[test]
fn sdk_end_to_end_requests_verify_from_the_wire() {
    let all = vectors();
    let secret = string_field(&all["about"], "fake_access_key_secret");
    let access_key_id = string_field(&all["about"], "fake_access_key_id");
    let (mut v3_count, mut v1_count) = (0, 0);
    for entry in list(&all, "sdk_end_to_end_requests") {
        let name = string_field(entry, "name");
        let request = &entry["request"];
        let method = string_field(request, "method");
        let (path, query) = split_url(string_field(request, "url"));
        // The SDK form-encodes the wire query: '+' is a space.
        let query_params = parse_form_query(query).unwrap();
        let headers = pairs(&request["headers"]);
        let body = request["body"].as_str().unwrap_or("");
        let header =
            |wanted: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(wanted)).map(|(_, v)| v.clone());

        if let Some(authorization) = header("authorization") {
            let parsed = v3::parse_authorization(&authorization).unwrap();
            assert_eq!(parsed.algorithm, v3::ALGORITHM, "{name}");
            assert_eq!(parsed.credential, access_key_id, "{name}");
            let signed: Vec<(String, String)> = parsed
                .signed_headers
                .iter()
                .map(|n| (n.clone(), header(n).unwrap_or_else(|| panic!("{name}: signed header {n} absent"))))
                .collect();
            let hashed_payload = v3::hex_sha256(body.as_bytes());
            assert_eq!(header("x-acs-content-sha256").as_deref(), Some(hashed_payload.as_str()), "{name}");
            let canonical = v3::canonical_request(method, path, &query_params, &signed, &hashed_payload);
            let string_to_sign = v3::string_to_sign(&canonical);
            assert_eq!(v3::signature(secret, &string_to_sign), parsed.signature, "{name}: V3 signature");
            v3_count += 1;
        } else {
            let presented =
                query_params.iter().find(|(n, _)| n == "Signature").expect("V1 request has Signature").1.clone();
            assert_eq!(v1::sign(method, &query_params, secret), presented, "{name}: V1 signature");
            v1_count += 1;
        }
    }
    assert!(v3_count >= 1 && v1_count >= 1, "both versions are exercised ({v3_count} V3, {v1_count} V1)");
}
