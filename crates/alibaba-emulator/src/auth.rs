//! Request authentication as the POP gateway does it: V1 (HMAC-SHA1 over query + form
//! parameters) and V3 (`ACS3-HMAC-SHA256` over the request's own `SignedHeaders`),
//! timestamp window, nonce replay, key lookup, STS tokens.
//!
//! The signing arithmetic is `alibaba-signing`'s (the one implementation in the repo);
//! this module only decides what to feed it and which error to answer.

use std::collections::HashMap;

use time::{macros::format_description, OffsetDateTime, PrimitiveDateTime};

use crate::error::ApiError;

/// A parsed HTTP request, as far as authentication needs it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    /// Form-decoded query parameters in wire order.
    pub query: Vec<(String, String)>,
    /// Form-decoded body parameters (form-encoded bodies only).
    pub form: Vec<(String, String)>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The query or form body could not be decoded (bad `%` escape, not UTF-8).
    pub bad_encoding: bool,
}

impl RawRequest {
    /// All values of a header joined with ',' (names compared lower-case).
    pub fn header(&self, name: &str) -> Option<String> {
        let vals: Vec<&str> = self.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals.join(","))
        }
    }
}

/// Which signature scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigVersion {
    V1,
    V3,
}

impl SigVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            SigVersion::V1 => "v1",
            SigVersion::V3 => "v3",
        }
    }
}

/// What the signature-relevant parts of a request say, before any check against keys.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub version: SigVersion,
    pub action: String,
    pub api_version: String,
    pub access_key_id: String,
    pub nonce: String,
    pub timestamp: String,
    pub security_token: Option<String>,
    /// V1: `Format` parameter (None = absent).
    pub format: Option<String>,
}

/// Pulls action, version and credentials out of a request; refuses what is structurally
/// incomplete (`Missing<Name>`, `IncompleteSignature`).
pub fn claimed(req: &RawRequest, all_params: &crate::params::Params) -> Result<Claimed, ApiError> {
    if let Some(auth) = req.header("authorization") {
        let parsed = parse_v3_authorization(&auth)?;
        let need = |h: &str, name: &str| {
            req.header(h).filter(|v| !v.trim().is_empty()).ok_or_else(|| ApiError::missing_named(name))
        };
        let action = need("x-acs-action", "Action")?;
        let api_version = need("x-acs-version", "Version")?;
        let timestamp = req.header("x-acs-date").ok_or_else(|| ApiError::missing_named("Timestamp"))?;
        let nonce = need("x-acs-signature-nonce", "SignatureNonce")?;
        Ok(Claimed {
            version: SigVersion::V3,
            action: action.trim().to_string(),
            api_version: api_version.trim().to_string(),
            access_key_id: parsed.access_key_id,
            nonce: nonce.trim().to_string(),
            timestamp: timestamp.trim().to_string(),
            security_token: req.header("x-acs-security-token"),
            format: None,
        })
    } else {
        let need =
            |name: &str| all_params.non_empty(name).map(str::to_string).ok_or_else(|| ApiError::missing_named(name));
        let action = need("Action")?;
        let api_version = need("Version")?;
        let access_key_id = need("AccessKeyId")?;
        need("Signature")?;
        let method = need("SignatureMethod")?;
        if method != "HMAC-SHA1" {
            return Err(ApiError::incomplete_signature("SignatureMethod must be HMAC-SHA1."));
        }
        let sv = need("SignatureVersion")?;
        if sv != "1.0" {
            return Err(ApiError::incomplete_signature("SignatureVersion must be 1.0."));
        }
        let nonce = need("SignatureNonce")?;
        let timestamp = need("Timestamp")?;
        Ok(Claimed {
            version: SigVersion::V1,
            action,
            api_version,
            access_key_id,
            nonce,
            timestamp,
            security_token: all_params.non_empty("SecurityToken").map(str::to_string),
            format: all_params.get("Format").map(str::to_string),
        })
    }
}

/// Parses `yyyy-MM-ddTHH:mm:ssZ` strictly.
pub fn parse_timestamp(s: &str) -> Result<OffsetDateTime, ApiError> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    PrimitiveDateTime::parse(s, fmt).map(PrimitiveDateTime::assume_utc).map_err(|_| ApiError::timestamp_format())
}

/// The ±15 minute window.
pub fn check_timestamp(ts: OffsetDateTime, now: OffsetDateTime) -> Result<(), ApiError> {
    if (ts - now).abs() > time::Duration::minutes(15) {
        return Err(ApiError::timestamp_expired());
    }
    Ok(())
}

/// Verifies the signature with `secret`. On mismatch the error echoes the server's
/// string-to-sign, as the real gateway does.
pub fn verify(req: &RawRequest, claimed: &Claimed, secret: &str) -> Result<(), ApiError> {
    match claimed.version {
        SigVersion::V1 => verify_v1(req, secret),
        SigVersion::V3 => verify_v3(req, secret),
    }
}

fn verify_v1(req: &RawRequest, secret: &str) -> Result<(), ApiError> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut given = String::new();
    for (k, v) in req.query.iter().chain(req.form.iter()) {
        if k == "Signature" {
            given = v.clone();
        } else {
            params.push((k.clone(), v.clone()));
        }
    }
    let sts = alibaba_signing::v1::string_to_sign(&req.method, &params);
    let expected = alibaba_signing::v1::sign_string(&sts, secret);
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(ApiError::signature_does_not_match(&sts));
    }
    Ok(())
}

/// The parts of an `Authorization: ACS3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone)]
pub struct V3Auth {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

fn parse_v3_authorization(h: &str) -> Result<V3Auth, ApiError> {
    let a = alibaba_signing::v3::parse_authorization(h)
        .map_err(|e| ApiError::incomplete_signature(&format!("Authorization header is malformed: {e}")))?;
    if a.algorithm != "ACS3-HMAC-SHA256" {
        return Err(ApiError::incomplete_signature("Only ACS3-HMAC-SHA256 is supported."));
    }
    Ok(V3Auth { access_key_id: a.credential, signed_headers: a.signed_headers, signature: a.signature })
}

fn verify_v3(req: &RawRequest, secret: &str) -> Result<(), ApiError> {
    let auth = parse_v3_authorization(&req.header("authorization").unwrap_or_default())?;
    let signed: Vec<String> = auth.signed_headers.iter().map(|s| s.to_ascii_lowercase()).collect();
    // The documented minimum: host, every x-acs-* header present, and content-type when
    // there is a body.
    let mut must: Vec<String> = vec!["host".into()];
    for (k, _) in &req.headers {
        if k.starts_with("x-acs-") && !must.contains(k) {
            must.push(k.clone());
        }
    }
    if !req.body.is_empty() && req.header("content-type").is_some() {
        must.push("content-type".into());
    }
    for m in &must {
        if !signed.contains(m) {
            return Err(ApiError::incomplete_signature(&format!("Header {m} must be signed.")));
        }
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in &signed {
        match req.header(name) {
            Some(v) => headers.push((name.clone(), v)),
            None => {
                return Err(ApiError::incomplete_signature(&format!("Signed header {name} is not in the request.")))
            }
        }
    }
    let body_hash = alibaba_signing::v3::hex_sha256(&req.body);
    match req.header("x-acs-content-sha256") {
        None => return Err(ApiError::incomplete_signature("Header x-acs-content-sha256 is required.")),
        // A claimed hash that is not the body's cannot have been signed over this body.
        Some(h) if !h.trim().eq_ignore_ascii_case(&body_hash) => {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation: x-acs-content-sha256 does not match the request body.",
            ));
        }
        Some(_) => {}
    }
    let canonical_request =
        alibaba_signing::v3::canonical_request(&req.method, &req.path, &req.query, &headers, &body_hash);
    let sts = alibaba_signing::v3::string_to_sign(&canonical_request);
    let expected = alibaba_signing::v3::signature(secret, &sts);
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(ApiError::signature_does_not_match(&sts));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Nonces seen, each kept until its request's timestamp leaves the 15-minute window (after
/// that the timestamp check refuses a replay anyway). Memory is bounded by `cap`.
#[derive(Debug)]
pub struct NonceStore {
    seen: HashMap<String, i64>,
    cap: usize,
    next_purge: usize,
}

impl NonceStore {
    pub fn new(cap: usize) -> Self {
        NonceStore { seen: HashMap::new(), cap, next_purge: 1024 }
    }

    /// Records `key` (access key + nonce) valid until `until_ms`; refuses a nonce seen
    /// before. When full of live nonces, refuses with `ServiceUnavailable` rather than
    /// forgetting one (forgetting would allow a replay).
    pub fn check_and_insert(&mut self, key: String, until_ms: i64, now_ms: i64) -> Result<(), ApiError> {
        if let Some(&until) = self.seen.get(&key) {
            if until >= now_ms {
                return Err(ApiError::nonce_used());
            }
        }
        if self.seen.len() >= self.next_purge || self.seen.len() >= self.cap {
            self.seen.retain(|_, until| *until >= now_ms);
            self.next_purge = (self.seen.len() * 2).max(1024);
        }
        if self.seen.len() >= self.cap {
            return Err(ApiError::service_unavailable());
        }
        self.seen.insert(key, until_ms);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_strict() {
        assert!(parse_timestamp("2025-01-15T08:30:00Z").is_ok());
        for bad in ["2025-01-15T08:30:00", "2025-01-15 08:30:00Z", "2025-01-15T08:30:00.123Z", "1736929800", ""] {
            assert_eq!(parse_timestamp(bad).unwrap_err().code, "InvalidTimeStamp.Format");
        }
        let t = parse_timestamp("2025-01-15T08:30:00Z").unwrap();
        assert!(check_timestamp(t, t + time::Duration::minutes(15)).is_ok());
        assert!(check_timestamp(t, t - time::Duration::minutes(15)).is_ok());
        assert_eq!(check_timestamp(t, t + time::Duration::seconds(901)).unwrap_err().code, "InvalidTimeStamp.Expired");
    }

    #[test]
    fn nonce_store_refuses_replays_and_stays_bounded() {
        let mut s = NonceStore::new(3000);
        s.check_and_insert("k:a".into(), 1000, 0).unwrap();
        assert_eq!(s.check_and_insert("k:a".into(), 1000, 500).unwrap_err().code, "SignatureNonceUsed");
        // Once expired, the same nonce is acceptable to the store (the timestamp check
        // stops the replay).
        s.check_and_insert("k:a".into(), 5000, 2000).unwrap();
        for i in 0..2999 {
            s.check_and_insert(format!("k:{i}"), 10_000, 2000).unwrap();
        }
        assert_eq!(s.check_and_insert("k:full".into(), 10_000, 2000).unwrap_err().code, "ServiceUnavailable");
        // After expiry the store purges and accepts again.
        s.check_and_insert("k:later".into(), 20_000, 15_000).unwrap();
        assert!(s.len() < 10);
    }
}
