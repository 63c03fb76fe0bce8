//! Alibaba Cloud OpenAPI request signing, as pure functions.
//!
//! This crate computes (and lets a server verify) the two signatures the
//! Alibaba Cloud RPC gateways accept:
//!
//! - [`v1`]: the classic RPC signature (`SignatureVersion=1.0`,
//!   `SignatureMethod=HMAC-SHA1`), where the signature is a query parameter;
//! - [`v3`]: `ACS3-HMAC-SHA256`, where the signature travels in the
//!   `Authorization` header. This is what the official SDKs send by default.
//!
//! Every intermediate string (canonicalised query, string to sign, canonical
//! request, ...) is exposed so that a client can sign and an emulator can
//! verify with the same code, and so that tests can compare each step with
//! the vectors produced by the official SDK
//! (`shared/reference/alibaba-signing-vectors.json`, next to the repository).
//!
//! What this crate is not: it does no I/O, reads no clock and no randomness
//! (nonces and timestamps are the caller's), knows no credentials chain, no
//! endpoints, no retries. The HTTP client built on it is `alibaba-openapi`.
//!
//! Encoding rules (shared by V1 and V3): UTF-8 bytes, `A-Z a-z 0-9 - _ . ~`
//! stay literal, everything else becomes `%XX` with upper-case hex, so a space
//! is `%20` (never `+`) and `*` is `%2A`. Query strings on the wire are
//! form-encoded by the SDK (space as `+`); [`parse_form_query`] decodes them.

#![forbid(unsafe_code)]

use std::fmt;

/// Percent-encodes `s` by Alibaba's rules: keep `A-Z a-z 0-9 - _ . ~`,
/// encode every other UTF-8 byte as `%XX` with upper-case hex.
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &byte in s.as_bytes() {
        if is_unreserved(byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
    }
    out
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

/// Why a percent- or form-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEscape { offset } => {
                write!(f, "invalid percent escape at byte {offset}")
            }
            DecodeError::NotUtf8 => f.write_str("decoded bytes are not UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` is a byte. This is how the wire query the SDK sends must be
/// read before re-signing it.
pub fn form_decode(s: &str) -> Result<String, DecodeError> {
    decode(s, true)
}

/// Decodes `%XX` escapes only (`+` stays `+`), as in a URL path.
pub fn percent_decode(s: &str) -> Result<String, DecodeError> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (high, low) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(DecodeError::BadEscape { offset: i }),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Splits a form-encoded query string (no leading `?`) into decoded
/// `(name, value)` pairs, in wire order. Empty segments (`a=1&&b=2`) are
/// skipped; a segment without `=` is a name with an empty value.
pub fn parse_form_query(query: &str) -> Result<Vec<(String, String)>, DecodeError> {
    query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

/// Form-encodes `(name, value)` pairs for the wire. Uses the same strict
/// percent-encoding as the signature (space as `%20`), which every
/// form decoder accepts, so the server decodes exactly the signed values.
pub fn encode_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Parameters sorted by name in byte order; ties (repeated names, which the
/// SDK never produces) are broken by value so the order is deterministic on
/// both sides.
fn sorted_params<'a>(params: &'a [(String, String)], skip: Option<&str>) -> Vec<&'a (String, String)> {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(name, _)| Some(name.as_str()) != skip).collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| a.1.cmp(&b.1)));
    sorted
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// V1: the RPC signature (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`).
///
/// The signed parameters are every request parameter (query and form body
/// together) except `Signature`, including the common ones the caller adds:
/// `AccessKeyId`, `Action`, `Format`, `SignatureMethod`, `SignatureNonce`,
/// `SignatureVersion`, `Timestamp`, `Version` and, with STS credentials,
/// `SecurityToken`.
pub mod v1 {
    use super::{constant_time_eq, percent_encode, sorted_params};
    use base64::Engine as _;
    use hmac::{Hmac, Mac};

    /// The name of the parameter that carries the signature; excluded from signing.
    pub const SIGNATURE_PARAM: &str = "Signature";

    /// `name=value` pairs, both percent-encoded, sorted by name (byte order),
    /// joined with `&`. A parameter named `Signature` is left out.
    pub fn canonicalized_query(params: &[(String, String)]) -> String {
        sorted_params(params, Some(SIGNATURE_PARAM))
            .into_iter()
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `METHOD&%2F&percent_encode(canonicalized_query)`.
    pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
        format!("{}&{}&{}", method, percent_encode("/"), percent_encode(&canonicalized_query(params)))
    }

    /// Base64 of HMAC-SHA1 keyed with `access_key_secret + "&"` over the
    /// string to sign. (Not yet URL-encoded: the caller encodes it on the wire.)
    pub fn sign(method: &str, params: &[(String, String)], access_key_secret: &str) -> String {
        sign_string(&string_to_sign(method, params), access_key_secret)
    }

    /// The signature of an already-built string to sign.
    pub fn sign_string(string_to_sign: &str, access_key_secret: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(hmac_sha1(string_to_sign, access_key_secret))
    }

    /// Whether `presented` (base64, already URL-decoded) is the signature of
    /// `params` (which may still contain `Signature`; it is ignored).
    /// Compares in constant time.
    pub fn verify(method: &str, params: &[(String, String)], access_key_secret: &str, presented: &str) -> bool {
        let expected = sign(method, params, access_key_secret);
        constant_time_eq(expected.as_bytes(), presented.as_bytes())
    }

    fn hmac_sha1(message: &str, access_key_secret: &str) -> Vec<u8> {
        let key = format!("{access_key_secret}&");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// V3: `ACS3-HMAC-SHA256`, signature in the `Authorization` header.
pub mod v3 {
    use super::{constant_time_eq, percent_encode, sorted_params};
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    use std::fmt;

    /// The algorithm name this module implements.
    pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

    /// Hex SHA-256 of an empty body: the hashed payload of every RPC call
    /// that keeps its parameters in the query.
    pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Lower-case hex SHA-256 of `bytes` (the hashed payload, and the digest
    /// of the canonical request).
    pub fn hex_sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Query parameters sorted by name (byte order), `name=encode(value)`,
    /// joined with `&`; empty when there are none. Names are not encoded,
    /// exactly as the SDK does (RPC parameter names are plain ASCII).
    pub fn canonical_query(params: &[(String, String)]) -> String {
        sorted_params(params, None)
            .into_iter()
            .map(|(name, value)| format!("{}={}", name, percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Returns `(canonical_headers, signed_headers)`: each header as
    /// `lower-case-name:trimmed-value\n`, sorted by name, and the names
    /// joined with `;`.
    pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
        let mut normalised: Vec<(String, &str)> =
            headers.iter().map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim())).collect();
        normalised.sort();
        let canonical: String = normalised.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let signed = normalised.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
        (canonical, signed)
    }

    /// `METHOD\nURI\nCANONICAL_QUERY\nCANONICAL_HEADERS\nSIGNED_HEADERS\nHASHED_PAYLOAD`.
    /// `signed_headers_with_values` are exactly the headers to sign (names in
    /// any case); `canonical_uri` is the already URL-encoded path (`/` for RPC).
    pub fn canonical_request(
        method: &str,
        canonical_uri: &str,
        query_params: &[(String, String)],
        signed_headers_with_values: &[(String, String)],
        hashed_payload: &str,
    ) -> String {
        let (canonical, signed) = canonical_headers(signed_headers_with_values);
        format!("{method}\n{canonical_uri}\n{}\n{canonical}\n{signed}\n{hashed_payload}", canonical_query(query_params))
    }

    /// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
    pub fn string_to_sign(canonical_request: &str) -> String {
        format!("{ALGORITHM}\n{}", hex_sha256(canonical_request.as_bytes()))
    }

    /// Lower-case hex HMAC-SHA256 keyed with the secret itself (no `&`).
    pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
        hex::encode(hmac_sha256(access_key_secret, string_to_sign))
    }

    /// Whether `presented_hex` is the signature of `string_to_sign`.
    /// Case-sensitive (the SDK sends lower case); compares in constant time.
    pub fn verify_signature(access_key_secret: &str, string_to_sign: &str, presented_hex: &str) -> bool {
        let expected = signature(access_key_secret, string_to_sign);
        constant_time_eq(expected.as_bytes(), presented_hex.as_bytes())
    }

    /// The `Authorization` header value:
    /// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`.
    pub fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
        format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
    }

    fn hmac_sha256(key: &str, message: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A parsed `Authorization` header.
    #[derive(Clone, PartialEq, Eq)]
    pub struct Authorization {
        /// e.g. `ACS3-HMAC-SHA256` (not checked here: a server decides which it supports).
        pub algorithm: String,
        /// The AccessKeyId.
        pub credential: String,
        /// Lower-case header names, in the order given.
        pub signed_headers: Vec<String>,
        /// The signature as sent (hex for HMAC algorithms).
        pub signature: String,
    }

    impl fmt::Debug for Authorization {
        // The credential is an AccessKeyId: only its ends are shown so a
        // logged value cannot be reused to look the key up.
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Authorization")
                .field("algorithm", &self.algorithm)
                .field("credential", &mask(&self.credential))
                .field("signed_headers", &self.signed_headers)
                .field("signature", &"<redacted>")
                .finish()
        }
    }

    fn mask(value: &str) -> String {
        let chars: Vec<char> = value.chars().collect();
        if chars.len() <= 6 {
            return "****".to_string();
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("{head}****{tail}")
    }

    /// Why an `Authorization` header could not be parsed.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ParseError {
        /// Empty header, or no space between algorithm and fields.
        MissingAlgorithm,
        /// A required field (`Credential`, `SignedHeaders`, `Signature`) is absent or empty.
        MissingField(&'static str),
        /// A field appears twice.
        DuplicateField(String),
        /// A field this scheme does not define, or a part without `=`.
        UnexpectedField(String),
        /// `SignedHeaders` has an empty name, an upper-case name, or a repeated name.
        BadSignedHeaders,
    }

    impl fmt::Display for ParseError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                ParseError::MissingAlgorithm => f.write_str("authorization has no algorithm"),
                ParseError::MissingField(name) => write!(f, "authorization lacks {name}"),
                ParseError::DuplicateField(name) => write!(f, "authorization repeats {name}"),
                ParseError::UnexpectedField(name) => {
                    write!(f, "authorization has an unexpected part {name:?}")
                }
                ParseError::BadSignedHeaders => {
                    f.write_str("authorization SignedHeaders is not a list of distinct lower-case names")
                }
            }
        }
    }

    impl std::error::Error for ParseError {}

    /// Parses `ALGORITHM Credential=...,SignedHeaders=a;b,Signature=...`.
    /// Whitespace around the comma-separated parts is tolerated; anything
    /// else unexpected is an error, so a verifier never guesses.
    pub fn parse_authorization(value: &str) -> Result<Authorization, ParseError> {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(' ').ok_or(ParseError::MissingAlgorithm)?;
        if algorithm.is_empty() {
            return Err(ParseError::MissingAlgorithm);
        }
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            let part = part.trim();
            let (name, field_value) =
                part.split_once('=').ok_or_else(|| ParseError::UnexpectedField(part.to_string()))?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                other => return Err(ParseError::UnexpectedField(other.to_string())),
            };
            if slot.replace(field_value.to_string()).is_some() {
                return Err(ParseError::DuplicateField(name.to_string()));
            }
        }
        let non_empty = |field: Option<String>, name: &'static str| {
            field.filter(|v| !v.is_empty()).ok_or(ParseError::MissingField(name))
        };
        let credential = non_empty(credential, "Credential")?;
        let signed_headers = non_empty(signed_headers, "SignedHeaders")?;
        let signature = non_empty(signature, "Signature")?;
        let names: Vec<String> = signed_headers.split(';').map(str::to_string).collect();
        let mut seen = std::collections::BTreeSet::new();
        for name in &names {
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) || !seen.insert(name) {
                return Err(ParseError::BadSignedHeaders);
            }
        }
        Ok(Authorization { algorithm: algorithm.to_string(), credential, signed_headers: names, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(percent_encode(" */+=&%'"), "%20%2A%2F%2B%3D%26%25%27");
        assert_eq!(percent_encode("张"), "%E5%BC%A0");
    }

    #[test]
    fn form_decode_turns_plus_into_space_and_rejects_bad_escapes() {
        assert_eq!(form_decode("a+b%2Ac~").unwrap(), "a b*c~");
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
        assert_eq!(form_decode("%4").unwrap_err(), DecodeError::BadEscape { offset: 0 });
        assert_eq!(form_decode("x%zz").unwrap_err(), DecodeError::BadEscape { offset: 1 });
        assert_eq!(form_decode("%FF").unwrap_err(), DecodeError::NotUtf8);
    }

    #[test]
    fn parse_form_query_keeps_order_and_empty_values() {
        let parsed = parse_form_query("b=2&&a=&c").unwrap();
        let expected: Vec<(String, String)> =
            vec![("b".into(), "2".into()), ("a".into(), String::new()), ("c".into(), String::new())];
        assert_eq!(parsed, expected);
    }

    #[test]
    fn v1_ignores_a_signature_parameter() {
        let mut params = vec![("A".to_string(), "1".to_string())];
        let without = v1::canonicalized_query(&params);
        params.push(("Signature".to_string(), "xyz".to_string()));
        assert_eq!(v1::canonicalized_query(&params), without);
    }

    #[test]
    fn parse_authorization_rejects_malformed_values() {
        use v3::{parse_authorization, ParseError};
        assert_eq!(parse_authorization("").unwrap_err(), ParseError::MissingAlgorithm);
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host").unwrap_err(),
            ParseError::MissingField("Signature")
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=00")
                .unwrap_err(),
            ParseError::DuplicateField("Credential".into())
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host,Signature=00").unwrap_err(),
            ParseError::BadSignedHeaders
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature=00").unwrap_err(),
            ParseError::BadSignedHeaders
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,Scope=x,SignedHeaders=host,Signature=00").unwrap_err(),
            ParseError::UnexpectedField("Scope".into())
        );
        let parsed = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=LTAI5tFake01, SignedHeaders=host;x-acs-date, Signature=ab",
        )
        .unwrap();
        assert_eq!(parsed.credential, "LTAI5tFake01");
        assert_eq!(parsed.signed_headers, vec!["host", "x-acs-date"]);
        assert_eq!(parsed.signature, "ab");
    }

    #[test]
    fn authorization_debug_hides_credential_and_signature() {
        let parsed = v3::parse_authorization(
            "ACS3-HMAC-SHA256 Credential=LTAI5tFakeAccessKeyId01,SignedHeaders=host,Signature=deadbeef",
        )
        .unwrap();
        let debug = format!("{parsed:?}");
        assert!(debug.contains("LTAI****01"), "{debug}");
        assert!(!debug.contains("LTAI5tFakeAccessKeyId01"), "{debug}");
        assert!(!debug.contains("deadbeef"), "{debug}");
    }
}
