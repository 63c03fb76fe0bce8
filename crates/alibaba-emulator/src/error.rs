//! API errors with the codes, HTTP statuses and messages of the real POP gateway
//! (reference §7). Product-specific "not found" codes that the reference does not list
//! are marked where they are defined.

/// An error answered to the client as `{RequestId, HostId, Code, Message, Recommend}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Sent as `x-acs-retry-after` (milliseconds), the hint the SDK runtimes read.
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into(), retry_after_ms: None }
    }

    /// The same error with a retry-after hint.
    pub fn with_retry_after(mut self, ms: Option<u64>) -> Self {
        self.retry_after_ms = ms;
        self
    }

    /// `InvalidParameter` for a page size above what the operation accepts.
    pub fn page_size_too_large(name: &str, max: i64) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: the maximum is {max}."),
        )
    }

    /// `MissingParameter` for an operation parameter.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    /// `Missing<Name>` for a common (signature) parameter.
    pub fn missing_named(name: &str) -> Self {
        Self::new(400, format!("Missing{name}"), format!("{name} is mandatory for this action."))
    }

    pub fn invalid_parameter(name: &str) -> Self {
        Self::new(400, "InvalidParameter", format!("The specified parameter \"{name}\" is not valid."))
    }

    pub fn incomplete_signature(detail: &str) -> Self {
        Self::new(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards. {detail}"),
        )
    }

    /// Echoes the server string-to-sign like the real gateway (clients must redact it).
    pub fn signature_does_not_match(string_to_sign: &str) -> Self {
        Self::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }

    pub fn access_key_not_found() -> Self {
        Self::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    }

    pub fn access_key_disabled() -> Self {
        Self::new(403, "Forbidden.AccessKeyDisabled", "The Access Key is disabled.")
    }

    pub fn timestamp_format() -> Self {
        Self::new(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    }

    pub fn timestamp_expired() -> Self {
        Self::new(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    }

    pub fn nonce_used() -> Self {
        Self::new(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    }

    pub fn throttling_user() -> Self {
        Self::new(400, "Throttling.User", "Request was denied due to user flow control.")
    }

    pub fn invalid_version() -> Self {
        Self::new(400, "InvalidVersion", "Specified parameter Version is not valid.")
    }

    pub fn action_not_found() -> Self {
        Self::new(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
    }

    pub fn internal_error() -> Self {
        Self::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }

    pub fn service_unavailable() -> Self {
        Self::new(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
    }

    // STS token errors: codes as seen from the real gateway; statuses not in the
    // reference [unverified].
    pub fn security_token_missing() -> Self {
        Self::new(400, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
    }

    pub fn security_token_mismatch() -> Self {
        Self::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )
    }

    pub fn security_token_expired() -> Self {
        Self::new(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
    }

    /// The gateway's refusal of an action the caller's RAM policy does not allow. CAS
    /// answers `NoPermission` [code per CAS error list; status unverified].
    pub fn not_authorized(namespace: &str, action: &str) -> Self {
        let code = if namespace == "yundun-cert" { "NoPermission" } else { "Forbidden.RAM" };
        Self::new(
            403,
            code,
            format!("User not authorized to operate on the specified resource, or this API doesn't support RAM. (action {namespace}:{action})"),
        )
    }

    /// An action sent to another product's host [unverified code: the gateway does
    /// not know the version on that product].
    pub fn wrong_product_host(host: &str) -> Self {
        Self::new(400, "InvalidVersion", format!("Specified parameter Version is not valid for the endpoint {host}."))
    }

    /// A product "resource not found" error [code per product docs; unverified status].
    pub fn not_found(code: &str, what: &str) -> Self {
        Self::new(404, code, format!("The specified {what} does not exist."))
    }
}
