//! Building signed requests: the base URL an RPC call goes to and the V1
//! and V3 signed POSTs. Shared by the client and the credential chain
//! (STS `AssumeRole`), which is why it is neither's.

use alibaba_signing::{encode_query, v1, v3};
use certinspect_protocol::{HostServices, HttpRequest};

use crate::error::Error;
use crate::secret::Credentials;
use crate::time::format_iso8601_utc;

/// A base URL: scheme and authority (host[:port]); RPC calls go to path `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    pub(crate) scheme: String,
    pub(crate) authority: String,
}

impl BaseUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| Error::Config(format!("endpoint {url:?} is not an absolute URL")))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(Error::Config(format!("endpoint {url:?} must be http:// or https://")));
        }
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) || !(path.is_empty()) {
            return Err(Error::Config(format!("endpoint {url:?} must be scheme://host[:port] with no path")));
        }
        Ok(BaseUrl { scheme, authority: authority.to_ascii_lowercase() })
    }

    pub(crate) fn url_with_query(&self, params: &[(String, String)]) -> String {
        if params.is_empty() {
            format!("{}://{}/", self.scheme, self.authority)
        } else {
            format!("{}://{}/?{}", self.scheme, self.authority, encode_query(params))
        }
    }
}

/// 32 random lower-case hex characters, like the SDK's nonces.
fn new_nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Parameter names the V1 signing owns; callers must not pass them.
pub(crate) const V1_COMMON_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "SecurityToken",
    "Signature",
];

/// Builds a V1-signed POST (parameters in the query, empty body).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_v1_request(
    host: &dyn HostServices,
    base: &BaseUrl,
    action: &str,
    version: &str,
    mut params: Vec<(String, String)>,
    credentials: &Credentials,
    user_agent: &str,
    timeout_ms: Option<u64>,
) -> HttpRequest {
    let common = [
        ("Action", action.to_string()),
        ("Version", version.to_string()),
        ("Format", "JSON".to_string()),
        ("AccessKeyId", credentials.access_key_id().to_string()),
        ("SignatureMethod", "HMAC-SHA1".to_string()),
        ("SignatureVersion", "1.0".to_string()),
        ("SignatureNonce", new_nonce()),
        ("Timestamp", format_iso8601_utc(host.now_unix_ms())),
    ];
    params.extend(common.into_iter().map(|(n, v)| (n.to_string(), v)));
    if let Some(token) = credentials.security_token() {
        params.push(("SecurityToken".to_string(), token.to_string()));
    }
    let signature = v1::sign("POST", &params, credentials.access_key_secret());
    params.push(("Signature".to_string(), signature));
    HttpRequest {
        method: "POST".to_string(),
        url: base.url_with_query(&params),
        headers: vec![
            ("host".to_string(), base.authority.clone()),
            ("accept".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), user_agent.to_string()),
        ],
        body: Vec::new(),
        timeout_ms,
        ..HttpRequest::default()
    }
}

/// Builds a V3-signed POST: parameters in the query, empty body; signs
/// `host`, `accept` and every `x-acs-*` header.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_v3_request(
    host: &dyn HostServices,
    base: &BaseUrl,
    action: &str,
    version: &str,
    params: &[(String, String)],
    credentials: &Credentials,
    user_agent: &str,
    timeout_ms: Option<u64>,
) -> HttpRequest {
    let mut signed = vec![
        ("host".to_string(), base.authority.clone()),
        ("accept".to_string(), "application/json".to_string()),
        ("x-acs-action".to_string(), action.to_string()),
        ("x-acs-version".to_string(), version.to_string()),
        ("x-acs-date".to_string(), format_iso8601_utc(host.now_unix_ms())),
        ("x-acs-signature-nonce".to_string(), new_nonce()),
        ("x-acs-content-sha256".to_string(), v3::EMPTY_PAYLOAD_SHA256.to_string()),
    ];
    if let Some(token) = credentials.security_token() {
        signed.push(("x-acs-accesskey-id".to_string(), credentials.access_key_id().to_string()));
        signed.push(("x-acs-security-token".to_string(), token.to_string()));
    }
    let canonical = v3::canonical_request("POST", "/", params, &signed, v3::EMPTY_PAYLOAD_SHA256);
    let signature = v3::signature(credentials.access_key_secret(), &v3::string_to_sign(&canonical));
    let (_, signed_names) = v3::canonical_headers(&signed);
    let mut headers = signed;
    headers.push(("user-agent".to_string(), user_agent.to_string()));
    headers
        .push(("Authorization".to_string(), v3::authorization(credentials.access_key_id(), &signed_names, &signature)));
    HttpRequest {
        method: "POST".to_string(),
        url: base.url_with_query(params),
        headers,
        body: Vec::new(),
        timeout_ms,
        ..HttpRequest::default()
    }
}
