//! The client: builds and signs RPC requests (V3 by default, V1 on demand),
//! sends them through the host, turns answers into JSON or [`Error`]s, and
//! retries what is worth retrying within a bounded budget.

use crate::credentials::CredentialsProvider;
use crate::endpoint::{resolve_endpoint, ActionSpec, Product};
use crate::error::{redact_server_message, ApiError, Error, RetryStop};
use crate::ratelimit::{budget, QpsTable};
use crate::request::{build_v1_request, build_v3_request, BaseUrl, V1_COMMON_PARAMS};
use crate::secret::{mask_access_key_id, redact_credentials, Credentials};
use certinspect_protocol::{HostServices, HttpResponse, LogLevel, TransportErrorKind};
use rand::Rng;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

const LOG_TARGET: &str = "alibaba_openapi";

/// Which request signature to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// `ACS3-HMAC-SHA256` in the `Authorization` header (what the SDKs send by default).
    #[default]
    V3,
    /// RPC `HMAC-SHA1`, `SignatureVersion=1.0`, signature as a query parameter.
    V1,
}

/// How often and how long to retry retryable failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt (upper bound of the jitter range).
    pub base_delay: Duration,
    /// Upper bound of any one computed backoff.
    pub max_delay: Duration,
    /// A call gives up rather than wait past this much time since its first attempt.
    pub max_total_retry_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_total_retry_time: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter: uniform in
    /// `[0, min(max_delay, base_delay * 2^(retry-1))]`, where `retry` counts from 1.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self.base_delay.saturating_mul(1u32 << exponent).min(self.max_delay);
        let ceiling_us = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling_us))
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Region for regional endpoints; also sent as `RegionId` to SLB when the
    /// caller does not pass one.
    pub region_id: Option<String>,
    /// Replaces endpoint resolution: a full base URL such as
    /// `https://cas.aliyuncs.com` or `http://127.0.0.1:8080` (tests).
    pub endpoint_override: Option<String>,
    /// V3 (default) or V1.
    pub signature_version: SignatureVersion,
    /// Retry budget per call.
    pub retry: RetryPolicy,
    /// `User-Agent` sent (not signed).
    pub user_agent: String,
    /// Per-request timeout handed to the host transport.
    pub request_timeout_ms: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            region_id: None,
            endpoint_override: None,
            signature_version: SignatureVersion::V3,
            retry: RetryPolicy::default(),
            user_agent: format!("certinspect-alibaba-openapi/{}", env!("CARGO_PKG_VERSION")),
            request_timeout_ms: Some(30_000),
        }
    }
}

/// One failed attempt: the error plus the server's `x-acs-retry-after` hint.
struct AttemptFailure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for AttemptFailure {
    fn from(error: Error) -> Self {
        AttemptFailure { error, retry_after: None }
    }
}

/// The server's hint of how long to wait: `x-acs-retry-after`, a positive
/// integer number of milliseconds (what tea-openapi 0.4's
/// `get_throttling_time_left` reads), else HTTP's own `Retry-After` in
/// seconds (sent by proxies in front of the gateway with a 503 or 429).
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let positive = |name: &str| response.header(name)?.trim().parse::<u64>().ok().filter(|n| *n > 0);
    positive("x-acs-retry-after")
        .map(Duration::from_millis)
        .or_else(|| positive("retry-after").map(Duration::from_secs))
}

/// Turns an HTTP answer into the JSON object or an error. Credentials are
/// redacted wherever they could appear in a message.
fn interpret_response(response: &HttpResponse, credentials: &Credentials) -> Result<Value, Error> {
    let status = response.status;
    let parsed: Result<Value, serde_json::Error> = serde_json::from_slice(&response.body);
    let value = match parsed {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => {
            return Err(Error::MalformedResponse {
                http_status: status,
                detail: "the JSON answer is not an object".into(),
            })
        }
        Err(e) => {
            let what = if e.is_eof() { "truncated JSON" } else { "not JSON" };
            let content_type = response.header("content-type").unwrap_or("no content-type");
            return Err(Error::MalformedResponse {
                http_status: status,
                detail: format!("body is {what} ({} bytes, {content_type})", response.body.len()),
            });
        }
    };
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let text = |a: &str, b: &str| value[a].as_str().or_else(|| value[b].as_str()).map(str::to_string);
    let Some(code) = text("Code", "code") else {
        return Err(Error::MalformedResponse { http_status: status, detail: "error answer without Code".into() });
    };
    let message = text("Message", "message").unwrap_or_default();
    Err(Error::Api(ApiError {
        request_id: text("RequestId", "requestId").or_else(|| response.header("x-acs-request-id").map(str::to_string)),
        code: redact_credentials(&code, credentials),
        message: redact_credentials(&redact_server_message(&message), credentials),
        http_status: status,
    }))
}

/// The Alibaba Cloud OpenAPI client. Cheap to share behind an `Arc`; all
/// methods take `&self`.
pub struct Client {
    host: Arc<dyn HostServices>,
    credentials: Arc<CredentialsProvider>,
    qps: Arc<QpsTable>,
    config: ClientConfig,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("credentials", &self.credentials)
            .field("qps", &self.qps)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose requests name their budgets at the documented QPS.
    pub fn new(host: Arc<dyn HostServices>, credentials: Arc<CredentialsProvider>, config: ClientConfig) -> Self {
        Client { host, credentials, qps: Arc::new(QpsTable::documented()), config }
    }

    /// Uses the limits of `table` instead (documented plus overrides).
    pub fn with_qps_table(mut self, table: Arc<QpsTable>) -> Self {
        self.qps = table;
        self
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The host services the client uses.
    pub fn host(&self) -> &dyn HostServices {
        self.host.as_ref()
    }

    /// The base URL for `product`: the override, or `https://` + the resolved host.
    pub fn endpoint_url(&self, product: Product) -> Result<String, Error> {
        match &self.config.endpoint_override {
            Some(url) => Ok(url.trim_end_matches('/').to_string()),
            None => Ok(format!("https://{}", resolve_endpoint(product, self.config.region_id.as_deref())?)),
        }
    }

    /// Calls `spec` with `params` (API parameters only; the client adds the
    /// common ones), retrying retryable failures within the retry budget.
    /// Returns the answer's JSON object.
    pub fn call(&self, spec: &ActionSpec, params: &[(String, String)]) -> Result<Value, Error> {
        if let Some((name, _)) = params.iter().find(|(name, _)| V1_COMMON_PARAMS.contains(&name.as_str())) {
            return Err(Error::Config(format!("parameter {name:?} is set by the client, not the caller")));
        }
        let mut params = params.to_vec();
        // SLB requires RegionId; ALB and NLB name their region by endpoint, and the
        // gateway takes RegionId as a common parameter (so an endpoint override,
        // as in tests, still says which region is meant).
        let takes_region = matches!(spec.product, Product::Slb | Product::Alb | Product::Nlb);
        if takes_region && !params.iter().any(|(n, _)| n == "RegionId") {
            if let Some(region) = &self.config.region_id {
                params.push(("RegionId".to_string(), region.clone()));
            }
        }
        let base = BaseUrl::parse(&self.endpoint_url(spec.product)?)?;
        let policy = &self.config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let spaced_by_host = self.qps.qps(spec.product, spec.action).is_some();
        let started_ms = self.host.now_unix_ms();
        let mut attempt = 1;
        loop {
            if self.host.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let failure = match self.attempt(spec, &base, &params) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if !failure.error.is_retryable() {
                return Err(failure.error);
            }
            let elapsed_ms = u64::try_from(self.host.now_unix_ms() - started_ms).unwrap_or(0);
            let give_up = |stop| Error::RetriesExhausted {
                action: spec.action.to_string(),
                attempts: attempt,
                elapsed_ms,
                stop,
                last: Box::new(failure.error.clone()),
            };
            if attempt >= max_attempts {
                return Err(give_up(RetryStop::MaxAttempts));
            }
            let delay = match failure.retry_after {
                Some(hint) => hint,
                // Our own budget was over (a call of the window arrived
                // late, so this one counted early): the host already holds
                // the next attempt to the next free slot of the budget, so a
                // random backoff on top would only waste slots. Once: a
                // second refusal means the limit is above the server's (or
                // another client shares the account), and backing off is right.
                None if spaced_by_host && attempt == 1 && failure.error.is_user_throttling() => Duration::ZERO,
                None => policy.backoff(attempt),
            };
            if Duration::from_millis(elapsed_ms) + delay > policy.max_total_retry_time {
                return Err(give_up(RetryStop::RetryTimeBudget));
            }
            self.host.log(
                LogLevel::Debug,
                LOG_TARGET,
                &format!(
                    "{} attempt {attempt}/{max_attempts} failed ({}); retrying in {} ms",
                    spec.action,
                    failure.error,
                    delay.as_millis()
                ),
            );
            self.host.sleep(delay);
            attempt += 1;
        }
    }

    fn attempt(&self, spec: &ActionSpec, base: &BaseUrl, params: &[(String, String)]) -> Result<Value, AttemptFailure> {
        let host = self.host.as_ref();
        let credentials = self.credentials.get(host).map_err(Error::Credentials)?;
        let version = spec.product.api_version();
        let user_agent = &self.config.user_agent;
        let timeout = self.config.request_timeout_ms;
        let mut request = match self.config.signature_version {
            SignatureVersion::V3 => {
                build_v3_request(host, base, spec.action, version, params, &credentials, user_agent, timeout)
            }
            SignatureVersion::V1 => {
                build_v1_request(host, base, spec.action, version, params.to_vec(), &credentials, user_agent, timeout)
            }
        };
        // The host waits for the budget's slot after this request is signed:
        // waits are seconds, and the gateway accepts a timestamp for 15
        // minutes. Spacing in the host rather than here is what lets every
        // source of the account share the budget (and puts the wait next to
        // the wire, after a child process's relay).
        request.rate_limit =
            self.qps.qps(spec.product, spec.action).map(|qps| budget(credentials.access_key_id(), spec, qps));
        let response = host.http(&request).map_err(|mut e| {
            if e.kind == TransportErrorKind::Cancelled {
                // Cancelled before sending (while waiting for its slot).
                return Error::Cancelled;
            }
            e.message = redact_credentials(&e.message, &credentials);
            Error::Transport(e)
        })?;
        interpret_response(&response, &credentials).map_err(|error| {
            if let Error::Api(api) = &error {
                host.log(
                    LogLevel::Debug,
                    LOG_TARGET,
                    &format!("{} by {} answered {api}", spec.action, mask_access_key_id(credentials.access_key_id())),
                );
            }
            AttemptFailure { error, retry_after: retry_after(&response) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alibaba_signing::{v1, v3};
    use certinspect_protocol::TransportError;
    use certinspect_sdk::testing::{json_response, FakeHost};
    use std::sync::atomic::{AtomicU32, Ordering};

    const KEY_ID: &str = "LTAI5tFakeAccessKeyId01";
    const SECRET: &str = "FakeSecretKey/+=0123456789abcdefXYZ";
    const CAS_LIST: ActionSpec = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");

    fn client(host: Arc<FakeHost>, version: SignatureVersion) -> Client {
        let config = ClientConfig {
            endpoint_override: Some("http://127.0.0.1:9".into()),
            signature_version: version,
            ..ClientConfig::default()
        };
        Client::new(host, Arc::new(CredentialsProvider::fixed(Credentials::new(KEY_ID, SECRET))), config)
    }

    #[test]
    fn v3_request_verifies_with_the_signing_crate() {
        let host = FakeHost::answering(1_736_929_800_000, |request| {
            let (_, query) = request.url.split_once('?').unwrap();
            let params = alibaba_signing::parse_form_query(query).unwrap();
            let header = |name: &str| {
                request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap()
            };
            let auth = v3::parse_authorization(&header("authorization")).unwrap();
            let signed: Vec<(String, String)> = auth.signed_headers.iter().map(|n| (n.clone(), header(n))).collect();
            for required in ["host", "accept", "x-acs-action", "x-acs-date", "x-acs-signature-nonce"] {
                assert!(auth.signed_headers.iter().any(|n| n == required), "{required} unsigned");
            }
            assert_eq!(header("x-acs-date"), "2025-01-15T08:30:00Z");
            assert_eq!(header("x-acs-signature-nonce").len(), 32);
            let canonical = v3::canonical_request("POST", "/", &params, &signed, v3::EMPTY_PAYLOAD_SHA256);
            let ok = v3::verify_signature(SECRET, &v3::string_to_sign(&canonical), &auth.signature);
            assert!(ok, "V3 signature does not verify");
            assert_eq!(params, vec![("Keyword".to_string(), "a b*c~/张".to_string())]);
            Ok(json_response(200, r#"{"RequestId":"r1","TotalCount":0}"#))
        });
        let value = client(host.clone(), SignatureVersion::V3)
            .call(&CAS_LIST, &[("Keyword".into(), "a b*c~/张".into())])
            .unwrap();
        assert_eq!(value["RequestId"], "r1");
        assert_eq!(host.request_count(), 1);
    }

    #[test]
    fn v1_request_carries_common_parameters_and_verifies() {
        let host = FakeHost::answering(1_736_929_800_000, |request| {
            let (_, query) = request.url.split_once('?').unwrap();
            let params = alibaba_signing::parse_form_query(query).unwrap();
            let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            assert_eq!(get("Format").as_deref(), Some("JSON"));
            assert_eq!(get("SignatureMethod").as_deref(), Some("HMAC-SHA1"));
            assert_eq!(get("SignatureVersion").as_deref(), Some("1.0"));
            assert_eq!(get("Timestamp").as_deref(), Some("2025-01-15T08:30:00Z"));
            assert_eq!(get("AccessKeyId").as_deref(), Some(KEY_ID));
            assert_eq!(get("Version").as_deref(), Some("2020-04-07"));
            assert_eq!(get("SignatureNonce").map(|n| n.len()), Some(32));
            assert!(v1::verify("POST", &params, SECRET, &get("Signature").unwrap()));
            Ok(json_response(200, r#"{"RequestId":"r1"}"#))
        });
        client(host, SignatureVersion::V1).call(&CAS_LIST, &[("ShowSize".into(), "50".into())]).unwrap();
    }

    #[test]
    fn retries_retryable_errors_and_honours_retry_after() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let host = FakeHost::answering(0, move |_| match counter.fetch_add(1, Ordering::SeqCst) {
            0 => {
                let mut response = json_response(
                    400,
                    r#"{"Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#,
                );
                response.headers.push(("x-acs-retry-after".into(), "1500".into()));
                Ok(response)
            }
            1 => Ok(json_response(503, r#"{"Code":"ServiceUnavailable","Message":"x"}"#)),
            2 => Ok(HttpResponse { status: 200, headers: vec![], body: br#"{"RequestId":"#.to_vec() }),
            3 => Err(TransportError { kind: TransportErrorKind::Timeout, message: "timed out".into() }),
            _ => Ok(json_response(200, r#"{"RequestId":"ok"}"#)),
        });
        let before = host.now();
        let value = client(host.clone(), SignatureVersion::V3).call(&CAS_LIST, &[]).unwrap();
        assert_eq!(value["RequestId"], "ok");
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // At least the server's 1.5 s hint was waited (plus rate-limit spacing).
        assert!(host.now() - before >= 1500);
    }

    /// Two clients of one key id (two sources of one account) and a third of
    /// another: the first two draw from one budget, spaced by the host
    /// (FakeHost spaces as the host does, in virtual time: 10/s, 100 ms),
    /// the third from its own. A `Throttling.User` is
    /// retried at the budget's next slot, with no random backoff on top.
    #[test]
    fn clients_of_one_account_share_a_budget_and_retry_a_throttle_at_the_next_slot() {
        let slot: Arc<std::sync::OnceLock<Arc<FakeHost>>> = Arc::default();
        let handle = slot.clone();
        let seen: Arc<std::sync::Mutex<Vec<(i64, String)>>> = Arc::default();
        let log = seen.clone();
        let host = FakeHost::answering(0, move |request| {
            let mut log = log.lock().unwrap();
            log.push((handle.get().unwrap().now(), request.rate_limit.clone().expect("a limited API").key));
            Ok(match log.len() {
                2 => json_response(400, r#"{"Code":"Throttling.User","Message":"x"}"#),
                _ => json_response(200, r#"{"RequestId":"ok"}"#),
            })
        });
        slot.set(host.clone()).ok().unwrap();
        let source = |key_id: &str| {
            let config =
                ClientConfig { endpoint_override: Some("http://127.0.0.1:9".into()), ..ClientConfig::default() };
            Client::new(host.clone(), Arc::new(CredentialsProvider::fixed(Credentials::new(key_id, SECRET))), config)
        };
        let (cas, alb, other_account) = (source(KEY_ID), source(KEY_ID), source("LTAI5tOtherAccount0001"));
        let resources = ActionSpec::new(Product::Cas, "ListCloudResources");
        let mut table = QpsTable::documented();
        table.set(Product::Cas, "ListCloudResources", Some(10.0));
        let table = Arc::new(table);
        let (cas, alb, other_account) =
            (cas.with_qps_table(table.clone()), alb.with_qps_table(table.clone()), other_account.with_qps_table(table));
        cas.call(&resources, &[]).unwrap();
        alb.call(&resources, &[]).unwrap(); // throttled once, retried
        other_account.call(&resources, &[]).unwrap();
        cas.call(&resources, &[]).unwrap();
        let seen = seen.lock().unwrap();
        let times: Vec<i64> = seen.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [0, 100, 200, 200, 300]);
        let keys: Vec<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
        assert!(keys[0] == keys[1] && keys[1] == keys[2] && keys[2] == keys[4] && keys[3] != keys[0], "{keys:?}");
        assert!(keys.iter().all(|k| !k.contains("LTAI5t")), "{keys:?}");
    }

    #[test]
    fn never_retries_signature_errors_and_redacts_them() {
        let host = FakeHost::answering(0, |_| {
            Ok(json_response(
                400,
                r#"{"RequestId":"r9","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAI5tFakeAccessKeyId01"}"#,
            ))
        });
        let error = client(host.clone(), SignatureVersion::V3).call(&CAS_LIST, &[]).unwrap_err();
        assert_eq!(host.request_count(), 1);
        let api = error.api_error().unwrap();
        assert_eq!(api.code, "SignatureDoesNotMatch");
        assert_eq!(api.request_id.as_deref(), Some("r9"));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(KEY_ID), "{text}");
            assert!(!text.contains("AccessKeyId%3D"), "{text}");
            assert!(!text.contains(SECRET), "{text}");
        }
    }

    #[test]
    fn gives_up_after_max_attempts_with_the_last_error() {
        let host = FakeHost::answering(0, |_| Ok(json_response(500, r#"{"Code":"InternalError","Message":"x"}"#)));
        let mut client = client(host.clone(), SignatureVersion::V3);
        client.config.retry.max_attempts = 3;
        let error = client.call(&CAS_LIST, &[]).unwrap_err();
        assert_eq!(host.request_count(), 3);
        match error {
            Error::RetriesExhausted { attempts: 3, stop: RetryStop::MaxAttempts, last, .. } => {
                assert_eq!(last.api_error().unwrap().code, "InternalError")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn gives_up_when_the_retry_time_budget_would_be_exceeded() {
        let host = FakeHost::answering(0, |_| {
            let mut response = json_response(400, r#"{"Code":"Throttling.User","Message":"x"}"#);
            response.headers.push(("x-acs-retry-after".into(), "40000".into()));
            Ok(response)
        });
        let error = client(host.clone(), SignatureVersion::V3).call(&CAS_LIST, &[]).unwrap_err();
        // 40 s + 40 s exceeds the 60 s budget: two attempts, then stop.
        assert_eq!(host.request_count(), 2);
        assert!(
            matches!(error, Error::RetriesExhausted { stop: RetryStop::RetryTimeBudget, attempts: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn cancellation_stops_retrying() {
        let slot: Arc<std::sync::OnceLock<Arc<FakeHost>>> = Arc::default();
        let handle = slot.clone();
        let host = FakeHost::answering(0, move |_| {
            // The host cancels while the first attempt is in flight.
            handle.get().unwrap().cancel();
            Ok(json_response(503, r#"{"Code":"ServiceUnavailable","Message":"x"}"#))
        });
        slot.set(host.clone()).ok().unwrap();
        let error = client(host.clone(), SignatureVersion::V3).call(&CAS_LIST, &[]).unwrap_err();
        assert!(matches!(error, Error::Cancelled), "{error}");
        assert_eq!(host.request_count(), 1);
    }

    #[test]
    fn retry_after_hints_are_read_in_their_units() {
        type Headers = &'static [(&'static str, &'static str)];
        let cases: &[(Headers, Option<Duration>)] = &[
            (&[("x-acs-retry-after", "1500")], Some(Duration::from_millis(1500))),
            (&[("Retry-After", "3")], Some(Duration::from_secs(3))),
            (&[("x-acs-retry-after", "250"), ("retry-after", "9")], Some(Duration::from_millis(250))),
            (&[("x-acs-retry-after", "0"), ("retry-after", "2")], Some(Duration::from_secs(2))),
            (&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], None),
            (&[], None),
        ];
        for (headers, expected) in cases {
            let response = HttpResponse {
                status: 503,
                headers: headers.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
                body: Vec::new(),
            };
            assert_eq!(retry_after(&response), *expected, "{headers:?}");
        }
    }

    #[test]
    fn client_debug_shows_no_secret() {
        let c = client(FakeHost::new(0), SignatureVersion::V3);
        let debug = format!("{c:?}");
        assert!(!debug.contains(SECRET) && !debug.contains(KEY_ID), "{debug}");
    }

    #[test]
    fn backoff_stays_within_full_jitter_bounds() {
        let policy = RetryPolicy::default();
        for retry in 1..12 {
            let ceiling = policy.base_delay.saturating_mul(1 << (retry - 1)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn rejects_caller_supplied_common_parameters_and_bad_endpoints() {
        let host = FakeHost::answering(0, |_| unreachable!("no request may be sent"));
        let c = client(host, SignatureVersion::V3);
        assert!(matches!(c.call(&CAS_LIST, &[("Signature".into(), "x".into())]), Err(Error::Config(_))));
        for bad in ["127.0.0.1:80", "ftp://x", "http://a/b", "http://user@host"] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080/").unwrap(),
            BaseUrl { scheme: "http".into(), authority: "127.0.0.1:8080".into() }
        );
    }
}
