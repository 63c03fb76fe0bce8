//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) request signing, as pure
//! functions.
//!
//! Every step of the algorithm is exposed so that tests can compare each one
//! with AWS's published test suite and with botocore's signer:
//! [`canonical_request`] → [`string_to_sign`] → [`signing_key`] →
//! [`signature`] → [`authorization_header`]; [`sign`] does them all and
//! returns the headers to add to the request.
//!
//! The request is signed in its header form (the way every AWS SDK signs
//! ACM, ELBv2, IAM, STS and CloudFront calls): `X-Amz-Date`, the session
//! token as `X-Amz-Security-Token` when there is one, every header the
//! caller passes except the hop-by-hop ones botocore also leaves out, and
//! the SHA-256 of the body.
//!
//! Encoding follows botocore for non-S3 services: the path is normalised
//! (dot segments and empty segments removed) and percent-encoded with `/`
//! and `~` kept; query names and values are encoded keeping only
//! `A-Z a-z 0-9 - _ . ~` (a space is `%20`, never `+`).
//!
//! What this crate is not: it does no I/O, reads no clock (the caller
//! passes the time), knows no credentials chain, endpoints or retries. The
//! AWS plugin builds its HTTP client on it.

#![forbid(unsafe_code)]

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name, first in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers that are never signed (they may change hop by hop), as botocore.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// The secret parts of a signing identity. `Debug` shows the access key id
/// masked and never the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningCredentials {
    /// The access key id (`AKIA...`, `ASIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &mask(&self.access_key_id))
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An access key id shown safely: the first four characters (`AKIA`/`ASIA`,
/// which say the kind of key) and the last two, the rest starred.
pub fn mask(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

/// Where and when a request is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Signing region, e.g. `us-east-1` (global services sign for `us-east-1`).
    pub region: &'a str,
    /// Signing name of the service, e.g. `acm`, `elasticloadbalancing`, `iam`, `cloudfront`, `sts`.
    pub service: &'a str,
    /// Signing time, `YYYYMMDDTHHMMSSZ` (see [`amz_date`]).
    pub amz_date: &'a str,
}

impl Scope<'_> {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date(), self.region, self.service)
    }

    fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }
}

/// The parts of an HTTP request that are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as written in the URL (`/`, `/2020-05-31/distribution`).
    pub path: &'a str,
    /// Query parameters, decoded, in any order.
    pub query: &'a [(String, String)],
    /// Headers to sign (the `host` header must be among them), any case.
    pub headers: &'a [(String, String)],
    /// The body bytes.
    pub body: &'a [u8],
}

/// Why a request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The request has no `host` header; SigV4 always signs it.
    MissingHost,
    /// The signing time is not `YYYYMMDDTHHMMSSZ`.
    BadAmzDate,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::MissingHost => f.write_str("the request has no Host header, which Signature V4 must sign"),
            SignError::BadAmzDate => f.write_str("the signing time is not in the form YYYYMMDDTHHMMSSZ"),
        }
    }
}

impl std::error::Error for SignError {}

/// Percent-encodes `s` keeping `A-Z a-z 0-9 - _ . ~` (and `/` when
/// `keep_slash`), every other UTF-8 byte as `%XX` with upper-case hex.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &byte in s.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') || (keep_slash && byte == b'/') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
    }
    out
}

/// The query string in canonical form: names and values encoded, sorted by
/// name then value, joined with `&`. The same string is what goes on the wire.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(name, value)| (uri_encode(name, false), uri_encode(value, false))).collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// The canonical URI: dot segments and empty segments removed (RFC 3986
/// 5.2.4, as botocore does for every service but S3), then encoded.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    let trail = if path.ends_with('/') && !segments.is_empty() { "/" } else { "" };
    uri_encode(&format!("{lead}{}{trail}", segments.join("/")), true)
}

/// A canonical request and the signed-header list that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    /// The full canonical request text.
    pub text: String,
    /// Lower-case header names, sorted, joined with `;`.
    pub signed_headers: String,
}

/// Builds the canonical request. Header names are lower-cased, values
/// trimmed with inner runs of spaces collapsed, repeated headers joined with
/// `,`; hop-by-hop headers and `user-agent` are left out.
pub fn canonical_request(request: &RequestParts<'_>) -> Result<CanonicalRequest, SignError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers {
        let name = name.trim().to_ascii_lowercase();
        if UNSIGNED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    if !headers.iter().any(|(name, _)| name == "host") {
        return Err(SignError::MissingHost);
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        sha256_hex(request.body),
    );
    Ok(CanonicalRequest { text, signed_headers })
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<credential scope>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(scope: &Scope<'_>, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}\n{}\n{}", scope.amz_date, scope.credential_scope(), sha256_hex(canonical_request))
}

/// The derived key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret_access_key: &str, scope: &Scope<'_>) -> [u8; 32] {
    let date = hmac(format!("AWS4{secret_access_key}").as_bytes(), scope.date().as_bytes());
    let region = hmac(&date, scope.region.as_bytes());
    let service = hmac(&region, scope.service.as_bytes());
    hmac(&service, b"aws4_request")
}

/// The hex signature of `string_to_sign` under `key`.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// `AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<list>, Signature=<hex>`.
pub fn authorization_header(access_key_id: &str, scope: &Scope<'_>, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        scope.credential_scope()
    )
}

/// What [`sign`] produced: the headers to add, and each intermediate step.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// Headers to add to the request as sent: `x-amz-date`, the session
    /// token when there is one, and `authorization`.
    pub headers: Vec<(String, String)>,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token header is a secret; name the headers only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Signed").field("headers", &names).field("signature", &self.signature).finish()
    }
}

/// Signs `request` in header form: adds `x-amz-date` and (for temporary
/// credentials) `x-amz-security-token` to the signed headers, then signs.
/// Any `x-amz-date`, token or `authorization` header the caller passed is
/// replaced, as botocore does on a retry.
pub fn sign(
    request: &RequestParts<'_>,
    credentials: &SigningCredentials,
    scope: &Scope<'_>,
) -> Result<Signed, SignError> {
    if !is_amz_date(scope.amz_date) {
        return Err(SignError::BadAmzDate);
    }
    let replaced = |name: &str| {
        name.eq_ignore_ascii_case("x-amz-date")
            || name.eq_ignore_ascii_case("x-amz-security-token")
            || name.eq_ignore_ascii_case("authorization")
    };
    let mut headers: Vec<(String, String)> =
        request.headers.iter().filter(|(name, _)| !replaced(name)).cloned().collect();
    let mut added = vec![("x-amz-date".to_owned(), scope.amz_date.to_owned())];
    if let Some(token) = &credentials.session_token {
        added.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    headers.extend(added.iter().cloned());
    let canonical = canonical_request(&RequestParts { headers: &headers, ..request.clone() })?;
    let string_to_sign = string_to_sign(scope, &canonical.text);
    let signature = signature(&signing_key(&credentials.secret_access_key, scope), &string_to_sign);
    added.push((
        "authorization".to_owned(),
        authorization_header(&credentials.access_key_id, scope, &canonical.signed_headers, &signature),
    ));
    Ok(Signed { headers: added, canonical_request: canonical.text, string_to_sign, signature })
}

/// The signing time for `unix_ms` milliseconds since the epoch, as
/// `YYYYMMDDTHHMMSSZ` (UTC). `None` outside years 0000-9999.
pub fn amz_date(unix_ms: i64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)).ok()?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    at.format(&format).ok()
}

fn is_amz_date(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8].iter().chain(&bytes[9..15]).all(u8::is_ascii_digit)
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_normalise_like_botocore() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/a/./b/../c", "/a/c"),
            ("//a//b/", "/a/b/"),
            ("/example space/", "/example%20space/"),
            ("/2020-05-31/distribution", "/2020-05-31/distribution"),
            ("/~user/ü", "/~user/%C3%BC"),
        ];
        for (path, want) in cases {
            assert_eq!(canonical_uri(path), want, "path {path:?}");
        }
    }

    #[test]
    fn query_is_encoded_then_sorted_by_name_then_value() {
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
        };
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[("b", "2"), ("a", "1")], "a=1&b=2"),
            (&[("k", "z"), ("k", "a")], "k=a&k=z"),
            (
                &[("Includes.keyTypes.member.1", "RSA_2048"), ("a b", "x*y")],
                "Includes.keyTypes.member.1=RSA_2048&a%20b=x%2Ay",
            ),
            (&[("Param2", "v"), ("param1", "v")], "Param2=v&param1=v"),
        ];
        for (pairs, want) in cases {
            assert_eq!(canonical_query(&query(pairs)), want);
        }
    }

    #[test]
    fn amz_dates_format_utc_and_refuse_garbage() {
        assert_eq!(amz_date(1_440_938_160_000).as_deref(), Some("20150830T123600Z"));
        assert!(is_amz_date("20150830T123600Z"));
        for bad in ["2015-08-30T12:36:00Z", "20150830T123600", "20150830X123600Z", ""] {
            assert!(!is_amz_date(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let credentials = SigningCredentials {
            access_key_id: "ASIAEXAMPLEKEY123456".into(),
            secret_access_key: "very-secret-key".into(),
            session_token: Some("token-secret".into()),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("ASIA***56"), "{shown}");
        for secret in ["very-secret-key", "token-secret", "EXAMPLEKEY1234"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let headers = [("host".to_owned(), "example.amazonaws.com".to_owned())];
        let request = RequestParts { method: "GET", path: "/", query: &[], headers: &headers, body: b"" };
        let scope = Scope { region: "us-east-1", service: "iam", amz_date: "20150830T123600Z" };
        let signed = sign(&request, &credentials, &scope).unwrap();
        assert!(!format!("{signed:?}").contains("token-secret"));
    }

    #[test]
    fn a_request_without_host_or_with_a_bad_date_is_refused() {
        let credentials =
            SigningCredentials { access_key_id: "A".into(), secret_access_key: "s".into(), session_token: None };
        let request = RequestParts { method: "GET", path: "/", query: &[], headers: &[], body: b"" };
        let scope = Scope { region: "us-east-1", service: "iam", amz_date: "20150830T123600Z" };
        assert_eq!(sign(&request, &credentials, &scope).unwrap_err(), SignError::MissingHost);
        let bad = Scope { amz_date: "yesterday", ..scope };
        assert_eq!(sign(&request, &credentials, &bad).unwrap_err(), SignError::BadAmzDate);
    }
}
