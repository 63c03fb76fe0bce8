//! Turning client errors into the contract's [`PluginError`]s: the right
//! kind (credentials, transport, service), one line, no secrets (the client
//! has already removed echoed strings-to-sign and masked key ids).

use alibaba_openapi::{Error, PagingError};
use certinspect_sdk::{error_kind, PluginError};

/// API error codes that mean the credentials themselves were refused or
/// lack permission.
fn is_credentials_code(code: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "InvalidAccessKeyId",
        "Forbidden.AccessKeyDisabled",
        "InvalidSecurityToken",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "Forbidden.RAM",
        "NoPermission",
    ];
    code == "Forbidden" || PREFIXES.iter().any(|p| code.starts_with(p))
}

/// The contract error for `error`, prefixed by `context` (what was being
/// done: `SLB cn-hangzhou DescribeLoadBalancers page 3`).
pub fn failure(context: &str, error: &Error) -> PluginError {
    let (kind, hint) = classify(error);
    PluginError::new(kind, format!("{context}: {error}{hint}"))
}

/// The contract error for a listing that could not be completed, prefixed by
/// `what` (the scope: `CAS cn-hangzhou valid certificates`). A failed page
/// keeps its cause's kind (refused credentials stay a credentials error);
/// the listing's own checks (total changed, rows missing) are service errors.
pub fn paging_failure(what: &str, error: &PagingError) -> PluginError {
    let (kind, hint) = error.source_error().map_or((error_kind::SERVICE, ""), classify);
    PluginError::new(kind, format!("{what}: {error}{hint}"))
}

fn classify(error: &Error) -> (u32, &'static str) {
    match error {
        Error::Credentials(_) => (error_kind::CREDENTIALS, ""),
        Error::Api(api) if is_credentials_code(&api.code) => {
            if api.code.starts_with("Forbidden.RAM") || api.code == "Forbidden" || api.code.starts_with("NoPermission")
            {
                (error_kind::CREDENTIALS, " (the credentials lack a RAM permission; see docs/ALIBABA.md)")
            } else {
                (error_kind::CREDENTIALS, " (the credentials were refused)")
            }
        }
        Error::Api(_) | Error::MalformedResponse { .. } => (error_kind::SERVICE, ""),
        Error::Transport(_) => (error_kind::TRANSPORT, ""),
        Error::Config(_) => (error_kind::INVALID_CONFIG, ""),
        Error::Cancelled => (error_kind::CANCELLED, ""),
        Error::RetriesExhausted { last, .. } => classify(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alibaba_openapi::ApiError;
    use certinspect_sdk::{TransportError, TransportErrorKind};

    fn api(code: &str) -> Error {
        Error::Api(ApiError { request_id: None, code: code.into(), message: "m".into(), http_status: 400 })
    }

    #[test]
    fn kinds_follow_the_cause() {
        assert_eq!(failure("x", &api("InvalidAccessKeyId.NotFound")).kind, error_kind::CREDENTIALS);
        assert_eq!(failure("x", &api("Forbidden.AccessKeyDisabled")).kind, error_kind::CREDENTIALS);
        assert!(failure("x", &api("Forbidden.RAM")).message.contains("RAM permission"));
        assert_eq!(failure("x", &api("InternalError")).kind, error_kind::SERVICE);
        let transport =
            Error::Transport(TransportError { kind: TransportErrorKind::Connect, message: "refused".into() });
        let exhausted = Error::RetriesExhausted {
            action: "A".into(),
            attempts: 3,
            elapsed_ms: 10,
            stop: alibaba_openapi::RetryStop::MaxAttempts,
            last: Box::new(transport),
        };
        let error = failure("CDN page 1", &exhausted);
        assert_eq!(error.kind, error_kind::TRANSPORT);
        assert!(error.message.starts_with("CDN page 1: A: gave up after 3 attempts"), "{}", error.message);
    }
}
