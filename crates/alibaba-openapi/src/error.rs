//! Errors: what the API said ([`ApiError`]), what the transport said, and
//! what the client decided (retry budget spent, cancelled, misconfigured).
//!
//! Every message that can reach a log is redacted first: gateways echo their
//! string to sign (which contains the AccessKeyId and every parameter) in
//! signature errors; [`redact_server_message`] removes it.

use certinspect_protocol::TransportError;
use std::fmt;

/// An error answer from an Alibaba Cloud API (JSON body with `Code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `RequestId` of the failed request, for Alibaba support.
    pub request_id: Option<String>,
    /// e.g. `Throttling.User`, `SignatureDoesNotMatch`.
    pub code: String,
    /// The server's message, with any echoed string-to-sign removed.
    pub message: String,
    /// HTTP status of the answer (throttling is 400, not 429).
    pub http_status: u16,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}", self.code, self.http_status)?;
        if let Some(id) = &self.request_id {
            write!(f, ", RequestId {id}")?;
        }
        write!(f, "): {}", self.message)
    }
}

impl ApiError {
    /// Throttling of any kind (`Throttling`, `Throttling.User`, `Throttling.Api`,
    /// CDN's `FlowControlError`, `Rejected.Throttling`, ...).
    pub fn is_throttling(&self) -> bool {
        self.code == "Throttling"
            || self.code.starts_with("Throttling.")
            || self.code == "FlowControlError"
            || self.code == "Rejected.Throttling"
    }
}

/// Why the client gave up retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryStop {
    /// `RetryPolicy::max_attempts` attempts were made.
    MaxAttempts,
    /// The next wait would exceed `RetryPolicy::max_total_retry_time`.
    RetryTimeBudget,
}

/// Failure to obtain credentials. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No provider in the chain produced credentials; one line per provider tried.
    #[error("no Alibaba Cloud credentials found; tried: {}", .attempts.join("; "))]
    NotFound {
        /// What each provider said.
        attempts: Vec<String>,
    },
    /// A configured source is unusable (bad file, unsupported mode, missing field).
    #[error("Alibaba Cloud credentials misconfigured: {0}")]
    Config(String),
    /// STS, the metadata service or a credentials URI failed.
    #[error("fetching temporary credentials from {source_name} failed: {detail}")]
    Fetch {
        /// `STS AssumeRole`, `ECS metadata`, `credentials URI`.
        source_name: String,
        /// Redacted reason.
        detail: String,
        /// Whether trying again later may succeed (5xx, timeout, throttling).
        transient: bool,
    },
}

/// Everything a call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The API answered with an error.
    #[error("Alibaba Cloud API error: {0}")]
    Api(ApiError),
    /// The host transport failed (connect, timeout, dropped connection).
    #[error("transport error: {0}")]
    Transport(TransportError),
    /// The answer could not be read: not JSON, truncated, or an HTML error page.
    #[error("malformed response (HTTP {http_status}): {detail}")]
    MalformedResponse {
        /// HTTP status of the answer.
        http_status: u16,
        /// What was wrong (never the whole body).
        detail: String,
    },
    /// Credentials could not be obtained.
    #[error(transparent)]
    Credentials(CredentialError),
    /// The client is misconfigured (bad endpoint URL, missing region).
    #[error("configuration error: {0}")]
    Config(String),
    /// The host cancelled the work.
    #[error("cancelled by the host")]
    Cancelled,
    /// Retryable failures kept happening until the retry budget was spent.
    #[error("{action}: gave up after {attempts} attempts in {elapsed_ms} ms ({stop:?}); last error: {last}")]
    RetriesExhausted {
        /// The API action.
        action: String,
        /// Attempts made.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed_ms: u64,
        /// Which budget ran out.
        stop: RetryStop,
        /// The last failure.
        last: Box<Error>,
    },
}

impl Error {
    /// Whether a new attempt of the same request may succeed: the
    /// [`RETRYABLE_CODES`], any throttling code, 5xx, timeouts, dropped connections,
    /// unreadable bodies. Signature, credential and parameter errors never are.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => api_error_is_retryable(api),
            Error::Transport(transport) => {
                use certinspect_protocol::TransportErrorKind as Kind;
                matches!(transport.kind, Kind::Connect | Kind::Timeout | Kind::Other)
            }
            Error::MalformedResponse { http_status, .. } => {
                // A 200 (or 5xx, or 429) whose body does not parse is a broken
                // answer, not a refusal; a 4xx HTML page is a refusal.
                *http_status < 400 || *http_status >= 500 || *http_status == 429
            }
            Error::Credentials(CredentialError::Fetch { transient, .. }) => *transient,
            Error::Credentials(_) | Error::Config(_) | Error::Cancelled => false,
            Error::RetriesExhausted { .. } => false,
        }
    }

    /// Whether the server refused this account's own per-second budget
    /// (`Throttling.User`), which client-side spacing is meant to prevent.
    pub fn is_user_throttling(&self) -> bool {
        matches!(self, Error::Api(api) if api.code == "Throttling.User")
    }

    /// The API error behind this error, if any (looking through `RetriesExhausted`).
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::RetriesExhausted { last, .. } => last.api_error(),
            _ => None,
        }
    }
}

/// Codes that must never be retried, whatever their HTTP status: the same
/// request would be refused again (and repeating signature failures can lock
/// a key out).
fn is_permanent_code(code: &str) -> bool {
    const PERMANENT_PREFIXES: &[&str] = &[
        "IncompleteSignature",
        "SignatureDoesNotMatch",
        "SignatureNonceUsed",
        "InvalidAccessKeyId",
        "InvalidSecurityToken",
        "InvalidTimeStamp",
        "Forbidden",
        "NoPermission",
        "InvalidParameter",
        "MissingParameter",
        "Missing",
        "InvalidVersion",
        "InvalidAction",
        "InvalidApi",
        "InvalidProduct",
    ];
    PERMANENT_PREFIXES.iter().any(|prefix| code.starts_with(prefix))
}

/// Codes Alibaba answers under load or during a brief outage, whatever the
/// HTTP status (most are 400 or 503): throttling by the gateway, the user or
/// the API; a busy or unavailable backend; CDN's `FlowControlError`;
/// `Rejected.Throttling` from products that reject rather than throttle.
/// The emulator's fault injection (`FaultKind::Refuse`) produces each of
/// them, and the client's emulator test retries each.
pub const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
    "SystemBusy",
    "ServiceBusy",
    "FlowControlError",
    "Rejected.Throttling",
];

fn api_error_is_retryable(api: &ApiError) -> bool {
    if is_permanent_code(&api.code) {
        return false;
    }
    api.is_throttling() || RETRYABLE_CODES.contains(&api.code.as_str()) || api.http_status >= 500
}

/// Removes the string to sign that gateways echo in signature errors
/// (`... server string to sign is:GET&%2F&AccessKeyId%3D...`): it carries
/// the AccessKeyId and every request parameter. Everything from the marker on
/// is dropped.
pub fn redact_server_message(message: &str) -> String {
    const MARKERS: &[&str] = &["server string to sign is", "string to sign is", "stringtosign", "string-to-sign"];
    let lower = message.to_ascii_lowercase();
    let cut = MARKERS.iter().filter_map(|marker| lower.find(marker)).min();
    match cut {
        Some(position) => {
            let kept = message[..position].trim_end_matches([' ', '.', ',', ';', ':', '\n']);
            format!("{kept} [server string-to-sign removed]")
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::redact_credentials;

    fn api(code: &str, status: u16) -> Error {
        Error::Api(ApiError { request_id: None, code: code.into(), message: String::new(), http_status: status })
    }

    #[test]
    fn retry_classification_follows_the_documented_codes() {
        for retryable in [
            api("Throttling.User", 400),
            api("Throttling.Api", 400),
            api("Throttling", 400),
            api("ServiceUnavailable", 503),
            api("SystemBusy", 400),
            api("ServiceBusy", 400),
            api("FlowControlError", 400),
            api("Rejected.Throttling", 400),
            api("InternalError", 500),
            Error::MalformedResponse { http_status: 200, detail: "eof".into() },
            Error::MalformedResponse { http_status: 502, detail: "html".into() },
        ] {
            assert!(retryable.is_retryable(), "{retryable}");
        }
        for permanent in [
            api("SignatureDoesNotMatch", 400),
            api("IncompleteSignature", 400),
            api("InvalidAccessKeyId.NotFound", 404),
            api("Forbidden.RAM", 403),
            api("InvalidParameter", 400),
            api("MissingCertId", 400),
            api("InvalidTimeStamp.Expired", 400),
            // A permanent code stays permanent even if a proxy turned it into a 5xx.
            api("SignatureDoesNotMatch", 500),
            Error::MalformedResponse { http_status: 403, detail: "html".into() },
            Error::Config("x".into()),
        ] {
            assert!(!permanent.is_retryable(), "{permanent}");
        }
    }

    #[test]
    fn credentials_are_removed_in_every_spelling() {
        let credentials = crate::secret::Credentials::new("LTAI5tFakeAccessKeyId01", "Secret/+=with space")
            .with_security_token("CAIS+Token/With=And Space");
        let text = "GET http://h/?AccessKeyId=LTAI5tFakeAccessKeyId01&SecurityToken=CAIS%2BToken%2FWith%3DAnd+Space \
                    raw CAIS+Token/With=And Space, secret Secret/+=with space / Secret%2F%2B%3Dwith%20space";
        let redacted = redact_credentials(text, &credentials);
        for leaked in ["LTAI5tFakeAccessKeyId01", "CAIS", "Secret"] {
            assert!(!redacted.contains(leaked), "{leaked} in {redacted}");
        }
        assert!(redacted.contains("LTAI****01"), "{redacted}");
        assert_eq!(redacted.matches("<redacted>").count(), 4, "{redacted}");
    }

    #[test]
    fn echoed_string_to_sign_is_removed() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAI5tFakeAccessKeyId01%26Action";
        let redacted = redact_server_message(message);
        assert_eq!(redacted, "Specified signature is not matched with our calculation [server string-to-sign removed]");
        assert!(!redacted.contains("LTAI5t"));
        assert_eq!(redact_server_message("The Access Key is disabled."), "The Access Key is disabled.");
    }
}
