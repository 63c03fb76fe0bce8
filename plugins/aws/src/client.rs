//! The AWS HTTP client over the host's transport: endpoints, SigV4 signing,
//! the three wire protocols the plugin speaks (JSON 1.1 for ACM, Query for
//! ELBv2/IAM/STS/EC2, REST-XML for CloudFront), error parsing, and retries
//! with jittered exponential backoff on throttling and server errors.
//!
//! Errors name the service and operation, never the URL or a header (the
//! `Authorization` header carries the access key id), and the part of a
//! `SignatureDoesNotMatch` message that echoes the string to sign is cut.

use std::fmt;
use std::time::Duration;

use aws_sigv4::{sign, RequestParts, Scope};
use certinspect_sdk::{Host, HttpRequest, HttpResponse, LogLevel, TransportErrorKind};
use rand::Rng;
use serde_json::Value;

use crate::credentials::{CredentialsError, CredentialsProvider};

const LOG_TARGET: &str = "certinspect_aws";

/// An AWS service as the client reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Endpoint prefix (`acm`, `elasticloadbalancing`, ...).
    pub endpoint_prefix: &'static str,
    /// SigV4 signing name.
    pub signing_name: &'static str,
    /// API version (Query and REST-XML) or JSON target prefix (JSON 1.1).
    pub version: &'static str,
    /// Global services have one endpoint and sign for `us-east-1`.
    pub global: bool,
}

/// AWS Certificate Manager (JSON 1.1).
pub const ACM: Service =
    Service { endpoint_prefix: "acm", signing_name: "acm", version: "CertificateManager", global: false };
/// Elastic Load Balancing v2 (Query).
pub const ELBV2: Service = Service {
    endpoint_prefix: "elasticloadbalancing",
    signing_name: "elasticloadbalancing",
    version: "2015-12-01",
    global: false,
};
/// IAM (Query, global).
pub const IAM: Service = Service { endpoint_prefix: "iam", signing_name: "iam", version: "2010-05-08", global: true };
/// CloudFront (REST-XML, global).
pub const CLOUDFRONT: Service =
    Service { endpoint_prefix: "cloudfront", signing_name: "cloudfront", version: "2020-05-31", global: true };
/// STS (Query, regional endpoints).
pub const STS: Service = Service { endpoint_prefix: "sts", signing_name: "sts", version: "2011-06-15", global: false };
/// EC2, for `DescribeRegions` (Query).
pub const EC2: Service = Service { endpoint_prefix: "ec2", signing_name: "ec2", version: "2016-11-15", global: false };

/// The region global services sign for.
pub const GLOBAL_REGION: &str = "us-east-1";

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsError {
    /// No usable credentials.
    Credentials(CredentialsError),
    /// The service answered with an error.
    Service {
        /// `ACM ListCertificates`.
        operation: String,
        /// HTTP status.
        status: u16,
        /// AWS error code (`AccessDenied`, `ThrottlingException`, ...).
        code: String,
        /// The service's message, with any echoed string to sign removed.
        message: String,
    },
    /// The host could not deliver the request.
    Transport {
        /// `ACM ListCertificates`.
        operation: String,
        /// What the transport said (no URL).
        message: String,
        /// Whether the host cancelled.
        cancelled: bool,
    },
    /// The answer could not be read.
    Malformed {
        /// `ACM ListCertificates`.
        operation: String,
        /// What was wrong.
        detail: String,
    },
}

impl AwsError {
    /// The AWS error code, for service errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the credentials were refused or lack a permission.
    pub fn is_credentials_problem(&self) -> bool {
        match self {
            AwsError::Credentials(_) => true,
            AwsError::Service { code, status, .. } => {
                *status == 403
                    || matches!(
                        code.as_str(),
                        "AccessDenied"
                            | "AccessDeniedException"
                            | "UnrecognizedClientException"
                            | "InvalidClientTokenId"
                            | "SignatureDoesNotMatch"
                            | "IncompleteSignature"
                            | "ExpiredToken"
                            | "ExpiredTokenException"
                            | "InvalidSignatureException"
                            | "AuthFailure"
                    )
            }
            _ => false,
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsError::Credentials(e) => write!(f, "{e}"),
            AwsError::Service { operation, status, code, message } if message.is_empty() => {
                write!(f, "{operation} failed: {code} (HTTP {status})")
            }
            AwsError::Service { operation, status, code, message } => {
                write!(f, "{operation} failed: {code} (HTTP {status}): {message}")
            }
            AwsError::Transport { operation, message, .. } => write!(f, "{operation} could not be sent: {message}"),
            AwsError::Malformed { operation, detail } => {
                write!(f, "{operation} answered something unreadable: {detail}")
            }
        }
    }
}

impl std::error::Error for AwsError {}

/// Error codes worth another attempt after a pause.
pub fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
    )
}

/// How many attempts and how long to wait between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first backoff.
    pub base_delay: Duration,
    /// Upper bound of any backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in `[0, min(max_delay, base_delay * 2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(self.max_delay);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::thread_rng().gen_range(0..=micros))
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoints {
    /// The public AWS endpoints (`https://acm.eu-west-1.amazonaws.com`, ...).
    Aws,
    /// One base URL for every service (an emulator such as moto).
    Override(String),
}

impl Endpoints {
    /// Base URL (scheme and authority) for `service` in `region`.
    pub fn base_url(&self, service: &Service, region: &str) -> String {
        match self {
            Endpoints::Override(url) => url.trim_end_matches('/').to_owned(),
            Endpoints::Aws if service.global => format!("https://{}.amazonaws.com", service.endpoint_prefix),
            Endpoints::Aws => {
                let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
                format!("https://{}.{region}.{suffix}", service.endpoint_prefix)
            }
        }
    }
}

/// A signed, retrying client for one set of credentials.
pub struct Client {
    host: Host,
    endpoints: Endpoints,
    credentials: CredentialsProvider,
    retry: RetryPolicy,
    user_agent: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("endpoints", &self.endpoints).field("retry", &self.retry).finish()
    }
}

impl Client {
    /// A client sending through `host`.
    pub fn new(host: Host, endpoints: Endpoints, credentials: CredentialsProvider, retry: RetryPolicy) -> Self {
        Self {
            host,
            endpoints,
            credentials,
            retry,
            user_agent: format!("certinspect-aws/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The host services.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// A JSON 1.1 call (`X-Amz-Target: <prefix>.<operation>`).
    pub fn json(&self, service: &Service, region: &str, operation: &str, body: &Value) -> Result<Value, AwsError> {
        let name = format!("{} {operation}", label(service));
        let headers = vec![
            ("content-type".to_owned(), "application/x-amz-json-1.1".to_owned()),
            ("x-amz-target".to_owned(), format!("{}.{operation}", service.version)),
        ];
        let response = self.send(&name, service, region, "POST", "/", &[], headers, body.to_string().into_bytes())?;
        serde_json::from_slice(&response.body)
            .map_err(|e| AwsError::Malformed { operation: name, detail: format!("not JSON ({e})") })
    }

    /// A Query-protocol call: form-encoded POST, XML answer (returned as text).
    pub fn query(
        &self,
        service: &Service,
        region: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsError> {
        let name = format!("{} {action}", label(service));
        let mut form =
            vec![("Action".to_owned(), action.to_owned()), ("Version".to_owned(), service.version.to_owned())];
        form.extend(params.iter().cloned());
        let body = aws_sigv4::canonical_query(&form).into_bytes();
        let headers = vec![("content-type".to_owned(), "application/x-www-form-urlencoded; charset=utf-8".to_owned())];
        let response = self.send(&name, service, region, "POST", "/", &[], headers, body)?;
        text(&name, response)
    }

    /// A REST-XML `GET` of `path` (under the API version) with `query`.
    pub fn rest_get(
        &self,
        service: &Service,
        operation: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<String, AwsError> {
        let name = format!("{} {operation}", label(service));
        let full_path = format!("/{}{path}", service.version);
        let response = self.send(&name, service, GLOBAL_REGION, "GET", &full_path, query, Vec::new(), Vec::new())?;
        text(&name, response)
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        operation: &str,
        service: &Service,
        region: &str,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<HttpResponse, AwsError> {
        let signing_region = if service.global { GLOBAL_REGION } else { region };
        let base = self.endpoints.base_url(service, region);
        let authority = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest).to_owned();
        let query_text = aws_sigv4::canonical_query(query);
        let url = if query_text.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{query_text}") };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let credentials = self.credentials.get(&self.host).map_err(AwsError::Credentials)?;
            let mut signed_headers = headers.clone();
            signed_headers.push(("host".to_owned(), authority.clone()));
            let amz_date = aws_sigv4::amz_date(self.host.now_unix_ms()).unwrap_or_default();
            let scope = Scope { region: signing_region, service: service.signing_name, amz_date: &amz_date };
            if let Some(credentials) = credentials {
                let request = RequestParts { method, path, query, headers: &signed_headers, body: &body };
                let signed = sign(&request, &credentials, &scope).map_err(|e| AwsError::Malformed {
                    operation: operation.to_owned(),
                    detail: format!("the request could not be signed: {e}"),
                })?;
                signed_headers.extend(signed.headers);
            }
            signed_headers.push(("user-agent".to_owned(), self.user_agent.clone()));
            let outcome = self.host.http(&HttpRequest {
                method: method.to_owned(),
                url: url.clone(),
                headers: signed_headers,
                body: body.clone(),
                timeout_ms: Some(30_000),
                ..HttpRequest::default()
            });
            let error = match outcome {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) => service_error(operation, &response),
                Err(e) => AwsError::Transport {
                    operation: operation.to_owned(),
                    message: e.message.clone(),
                    cancelled: e.kind == TransportErrorKind::Cancelled,
                },
            };
            let retryable = match &error {
                AwsError::Service { status, code, .. } => *status >= 500 || *status == 429 || is_retryable_code(code),
                AwsError::Transport { cancelled, .. } => !cancelled,
                _ => false,
            };
            if !retryable || attempt >= self.retry.max_attempts || self.host.is_cancelled() {
                return Err(error);
            }
            let pause = self.retry.backoff(attempt);
            self.host.log(
                LogLevel::Debug,
                LOG_TARGET,
                &format!(
                    "{error}; attempt {attempt} of {}, retrying in {} ms",
                    self.retry.max_attempts,
                    pause.as_millis()
                ),
            );
            self.host.sleep(pause);
        }
    }
}

fn label(service: &Service) -> &'static str {
    match service.endpoint_prefix {
        "acm" => "ACM",
        "elasticloadbalancing" => "ELBv2",
        "iam" => "IAM",
        "cloudfront" => "CloudFront",
        "sts" => "STS",
        "ec2" => "EC2",
        other => other,
    }
}

fn text(operation: &str, response: HttpResponse) -> Result<String, AwsError> {
    String::from_utf8(response.body)
        .map_err(|_| AwsError::Malformed { operation: operation.to_owned(), detail: "the body is not UTF-8".into() })
}

/// The error in a non-2xx answer: JSON (`__type`, `message`) or XML
/// (`<Code>`, `<Message>`), whichever the body is.
pub fn service_error(operation: &str, response: &HttpResponse) -> AwsError {
    let body = String::from_utf8_lossy(&response.body);
    let (code, message) = if body.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let code = value["__type"]
            .as_str()
            .or_else(|| response.header("x-amzn-errortype"))
            .map(|t| t.rsplit('#').next().unwrap_or(t).split(':').next().unwrap_or(t).to_owned());
        let message = value["message"].as_str().or_else(|| value["Message"].as_str()).map(str::to_owned);
        (code, message)
    } else {
        (crate::xml::first_text(&body, "Code"), crate::xml::first_text(&body, "Message"))
    };
    AwsError::Service {
        operation: operation.to_owned(),
        status: response.status,
        code: code.unwrap_or_else(|| format!("HTTP{}", response.status)),
        message: redact(&message.unwrap_or_default()),
    }
}

/// Cuts what a signature error echoes back (canonical request, string to
/// sign): it carries the access key id and request details.
fn redact(message: &str) -> String {
    let cut = ["The Canonical String", "The String-to-Sign", "\n"]
        .iter()
        .filter_map(|marker| message.find(marker))
        .min()
        .unwrap_or(message.len());
    message[..cut].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn errors_are_read_from_json_and_xml_bodies() {
        let cases = [
            (
                response(400, r#"{"__type":"com.amazonaws.acm#ThrottlingException","message":"Rate exceeded"}"#),
                "ThrottlingException",
                "Rate exceeded",
            ),
            (
                response(
                    400,
                    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>",
                ),
                "Throttling",
                "Rate exceeded",
            ),
            (
                response(
                    403,
                    "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match. The Canonical String for this request should have been\nPOST\n/ AKIDSECRET</Message></Error></ErrorResponse>",
                ),
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match.",
            ),
            (response(503, "Service Unavailable"), "HTTP503", ""),
        ];
        for (answer, code, message) in cases {
            match service_error("ACM ListCertificates", &answer) {
                AwsError::Service { code: c, message: m, .. } => assert_eq!((c.as_str(), m.as_str()), (code, message)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn public_endpoints_follow_the_partition_and_global_services() {
        let aws = Endpoints::Aws;
        assert_eq!(aws.base_url(&ACM, "eu-west-1"), "https://acm.eu-west-1.amazonaws.com");
        assert_eq!(aws.base_url(&ELBV2, "cn-north-1"), "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn");
        assert_eq!(aws.base_url(&IAM, "eu-west-1"), "https://iam.amazonaws.com");
        assert_eq!(aws.base_url(&CLOUDFRONT, "ap-south-1"), "https://cloudfront.amazonaws.com");
        assert_eq!(Endpoints::Override("http://127.0.0.1:5000/".into()).base_url(&ACM, "x"), "http://127.0.0.1:5000");
    }

    #[test]
    fn throttling_codes_are_retryable_and_permission_codes_are_not() {
        for code in ["Throttling", "ThrottlingException", "RequestLimitExceeded"] {
            assert!(is_retryable_code(code), "{code}");
        }
        for code in ["AccessDenied", "ValidationError", "CertificateNotFound"] {
            assert!(!is_retryable_code(code), "{code}");
        }
        let denied =
            AwsError::Service { operation: "x".into(), status: 400, code: "AccessDenied".into(), message: "".into() };
        assert!(denied.is_credentials_problem());
    }

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for retry in 1..10 {
            let ceiling = Duration::from_millis(100 * (1 << (retry - 1))).min(Duration::from_millis(300));
            assert!(policy.backoff(retry) <= ceiling);
        }
    }
}
