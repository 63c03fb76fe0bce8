//! Property tests: signing then verifying round-trips for arbitrary
//! parameters (unicode, spaces, `*`, `~`, `/`, list-style names), through the
//! wire encoding, and any change to a signed value breaks the signature.

use alibaba_signing::{encode_query, form_decode, parse_form_query, percent_encode, v1, v3};
use proptest::prelude::*;

fn value_strategy() -> impl Strategy<Value = String> {
    // Mix of the characters the encoding rules single out and arbitrary unicode.
    prop_oneof![
        "[ a-zA-Z0-9*~/+=&%'.,_-]{0,16}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
        "[张三运维证书 ✓é]{0,6}",
    ]
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z][A-Za-z]{0,10}",
        (1u8..5, prop_oneof![Just("Key"), Just("Value")]).prop_map(|(n, f)| format!("Tag.{n}.{f}")),
        (1u8..12).prop_map(|n| format!("LoadBalancerId.{n}")),
    ]
}

fn params_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    // Distinct names, as the SDK produces (it builds a map).
    proptest::collection::btree_map(name_strategy(), value_strategy(), 0..10).prop_map(|map| map.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn percent_encoding_round_trips(value in value_strategy()) {
        let encoded = percent_encode(&value);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        prop_assert_eq!(form_decode(&encoded).unwrap(), value);
    }

    #[test]
    fn v1_sign_verify_round_trips_through_the_wire(
        params in params_strategy(),
        secret in "[ -~]{1,40}",
        method in prop_oneof![Just("GET"), Just("POST")],
    ) {
        let signature = v1::sign(method, &params, &secret);
        let mut wire_params = params.clone();
        wire_params.push(("Signature".to_string(), signature));
        // What the server sees after form-decoding the query we send.
        let received = parse_form_query(&encode_query(&wire_params)).unwrap();
        let presented = received.iter().find(|(n, _)| n == "Signature").unwrap().1.clone();
        prop_assert!(v1::verify(method, &received, &secret, &presented));
        let wrong_secret = format!("{secret}x");
        prop_assert!(!v1::verify(method, &received, &wrong_secret, &presented));
    }

    #[test]
    fn v1_any_changed_value_breaks_the_signature(
        params in params_strategy().prop_filter("needs a parameter", |p| !p.is_empty()),
        index in any::<prop::sample::Index>(),
        secret in "[a-zA-Z0-9]{8,30}",
    ) {
        let signature = v1::sign("POST", &params, &secret);
        let mut tampered = params.clone();
        let i = index.index(tampered.len());
        tampered[i].1.push('x');
        prop_assert!(!v1::verify("POST", &tampered, &secret, &signature));
    }

    #[test]
    fn v3_sign_verify_round_trips_through_the_wire(
        params in params_strategy(),
        secret in "[ -~]{1,40}",
        token in proptest::option::of("[A-Za-z0-9+/= ]{1,30}"),
    ) {
        let mut headers = vec![
            ("host".to_string(), "cas.aliyuncs.com".to_string()),
            ("x-acs-action".to_string(), "ListUserCertificateOrder".to_string()),
            ("x-acs-version".to_string(), "2020-04-07".to_string()),
            ("x-acs-date".to_string(), "2025-01-15T08:30:00Z".to_string()),
            ("x-acs-signature-nonce".to_string(), "0123456789abcdef0123456789abcdef".to_string()),
            ("x-acs-content-sha256".to_string(), v3::EMPTY_PAYLOAD_SHA256.to_string()),
            ("accept".to_string(), "application/json".to_string()),
        ];
        if let Some(token) = token {
            headers.push(("x-acs-security-token".to_string(), token));
        }
        let canonical = v3::canonical_request("POST", "/", &params, &headers, v3::EMPTY_PAYLOAD_SHA256);
        let (_, signed_headers) = v3::canonical_headers(&headers);
        let signature = v3::signature(&secret, &v3::string_to_sign(&canonical));
        let authorization = v3::authorization("LTAI5tFakeAccessKeyId01", &signed_headers, &signature);

        // Server side: decode the wire query, parse the header, recompute.
        let received = parse_form_query(&encode_query(&params)).unwrap();
        let parsed = v3::parse_authorization(&authorization).unwrap();
        let signed: Vec<(String, String)> = parsed.signed_headers.iter()
            .map(|n| headers.iter().find(|(h, _)| h == n).cloned().unwrap())
            .collect();
        let recomputed = v3::string_to_sign(&v3::canonical_request(
            "POST", "/", &received, &signed, v3::EMPTY_PAYLOAD_SHA256));
        prop_assert!(v3::verify_signature(&secret, &recomputed, &parsed.signature));
        let wrong_secret = format!("{secret}x");
        prop_assert!(!v3::verify_signature(&wrong_secret, &recomputed, &parsed.signature));
    }

    #[test]
    fn v3_canonical_query_is_independent_of_parameter_order(params in params_strategy()) {
        let mut reversed = params.clone();
        reversed.reverse();
        prop_assert_eq!(v3::canonical_query(&params), v3::canonical_query(&reversed));
        prop_assert_eq!(v1::canonicalized_query(&params), v1::canonicalized_query(&reversed));
    }
}
