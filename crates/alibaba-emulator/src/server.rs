//! The loopback HTTP server: request pipeline (parse, authenticate, throttle, inject
//! faults, answer), the ECS metadata paths, statistics, and the start/stop handle.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use time::Duration;

use crate::api;
use crate::auth::{self, NonceStore, RawRequest, SigVersion};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::faults::{FaultEngine, FaultKind, FaultRule};
use crate::params::{form_decode, Params};
use crate::world::World;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// How the emulator runs. `Default` gives loopback on an ephemeral port, the system clock,
/// the documented QPS limits and no faults beyond the world's.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Must be a loopback address.
    pub listen: SocketAddr,
    pub clock: Clock,
    /// Per-action QPS overrides (per account); 0 disables the limit for that action.
    pub qps: BTreeMap<String, u32>,
    /// QPS of each SLB operation, per account. No limit is published for them
    /// [unverified]; 100/s is a conservative guess.
    pub slb_qps: u32,
    /// Turns every QPS limit off (for load measurements).
    pub qps_enabled: bool,
    /// Page-size maxima by action, replacing the emulator's own (a larger size is
    /// refused with `InvalidParameter`): for testing clients that step down.
    pub page_limits: BTreeMap<String, i64>,
    /// Rules added to the world's own.
    pub faults: Vec<FaultRule>,
    /// Seed of the fault generator.
    pub fault_seed: u64,
    /// Live nonces kept at most (see [`NonceStore`]).
    pub nonce_capacity: usize,
    /// Request log entries kept (oldest dropped first).
    pub request_log_capacity: usize,
    /// ECS metadata: require the IMDSv2 token header on credential reads.
    pub require_metadata_token: bool,
    /// Tokio worker threads.
    pub worker_threads: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Clock::system(),
            qps: BTreeMap::new(),
            slb_qps: 100,
            qps_enabled: true,
            page_limits: BTreeMap::new(),
            faults: Vec::new(),
            fault_seed: 0,
            nonce_capacity: 1_000_000,
            request_log_capacity: 100_000,
            require_metadata_token: true,
            worker_threads: 2,
        }
    }
}

impl EmulatorConfig {
    /// The per-account QPS limit of an action, `None` if unlimited.
    pub fn qps_limit(&self, action: &str) -> Option<u32> {
        if !self.qps_enabled {
            return None;
        }
        let limit = match self.qps.get(action) {
            Some(v) => *v,
            None => match action {
                "DescribeCdnHttpsDomainList" | "DescribeDomainCertificateInfo" => 100,
                "DescribeDcdnHttpsDomainList" | "DescribeDcdnDomainCertificateInfo" => 100,
                // "The maximum number of times that each user can call this operation per
                // second is 10" (both API references).
                "DescribeTagResources" | "DescribeDcdnTagResources" => 10,
                "ListUserCertificateOrder" => 10,
                "DescribeClientCertificateStatusForSerialNumber" => 10,
                // Other CAS operations publish no limit [unverified]; CAS's documented
                // ones are 10/s, so assume the same.
                "GetUserCertificateDetail" | "ListInstances" | "GetInstanceDetail" | "ListCloudResources" => 10,
                "AssumeRole" => 100,
                // ALB and NLB publish no QPS for their list operations [unverified]; each
                // product has its own budget (the buckets are keyed by version).
                "ListLoadBalancers" | "ListListeners" | "ListListenerCertificates" => 50,
                _ if api::OPERATIONS.iter().any(|(v, a)| *v == api::SLB && *a == action) => self.slb_qps,
                _ => 0,
            },
        };
        (limit > 0).then_some(limit)
    }
}

/// Counters for one action.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ActionStats {
    pub requests: u64,
    pub ok: u64,
    /// Refusals and injected errors by code.
    pub refused: BTreeMap<String, u64>,
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    pub seq: u64,
    /// When it was answered, on the emulator's clock (UNIX ms).
    pub at_ms: i64,
    pub action: String,
    pub api_version: String,
    /// v1 | v3 | none
    pub signature: String,
    pub access_key_id: String,
    pub account_id: String,
    /// Operation parameters (common/signature parameters left out).
    pub params: BTreeMap<String, String>,
    pub status: u16,
    /// Error code, when refused.
    pub code: Option<String>,
    /// Injected fault, if any.
    pub fault: Option<String>,
}

/// A snapshot of what the emulator has served.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    pub total_requests: u64,
    pub by_action: BTreeMap<String, ActionStats>,
    /// Responses that carried a private key (GetUserCertificateDetail without
    /// CertFilter=true). An inspector must keep this at 0.
    pub key_material_returned: u64,
    pub faults_injected: u64,
    /// The most recent requests, oldest first.
    pub requests: Vec<RequestRecord>,
}

impl Stats {
    /// Requests seen for `action`.
    pub fn requests(&self, action: &str) -> u64 {
        self.by_action.get(action).map_or(0, |a| a.requests)
    }

    /// Successful answers for `action`.
    pub fn ok(&self, action: &str) -> u64 {
        self.by_action.get(action).map_or(0, |a| a.ok)
    }

    /// Refusals of `action` with `code`.
    pub fn refused(&self, action: &str, code: &str) -> u64 {
        self.by_action.get(action).and_then(|a| a.refused.get(code).copied()).unwrap_or(0)
    }

    /// Refusals with `code`, all actions.
    pub fn refused_total(&self, code: &str) -> u64 {
        self.by_action.values().filter_map(|a| a.refused.get(code)).sum()
    }
}

#[derive(Debug, Clone)]
struct DynKey {
    account_id: String,
    secret: String,
    token: String,
    expires_ms: i64,
    /// The role's RAM actions (`None`: all).
    permissions: Option<Vec<String>>,
}

/// A key as looked up: its account, secret, required token, expiry and RAM actions.
#[derive(Debug)]
struct KeyRecord {
    account_id: String,
    secret: String,
    token: Option<String>,
    expires_ms: Option<i64>,
    permissions: Option<Vec<String>>,
}

#[derive(Debug, Default)]
struct StatsInner {
    seq: u64,
    by_action: BTreeMap<String, ActionStats>,
    key_material_returned: u64,
    faults_injected: u64,
    log: VecDeque<RequestRecord>,
}

struct State {
    world: RwLock<Arc<World>>,
    config: EmulatorConfig,
    dyn_keys: Mutex<HashMap<String, DynKey>>,
    nonces: Mutex<NonceStore>,
    throttle: Mutex<HashMap<(String, String), VecDeque<i64>>>,
    faults: Mutex<FaultEngine>,
    stats: Mutex<StatsInner>,
    metadata_tokens: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

/// What to send back.
#[derive(Debug)]
struct Outcome {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: String,
    delay_ms: u64,
    truncate: bool,
    /// `x-acs-retry-after`, milliseconds.
    retry_after_ms: Option<u64>,
}

fn request_id() -> String {
    let x: u128 = rand::thread_rng().gen();
    let h = format!("{x:032X}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Everything `record` needs to know about a finished request.
#[derive(Debug, Default)]
struct Trace {
    action: String,
    api_version: String,
    signature: String,
    access_key_id: String,
    account_id: String,
    params: BTreeMap<String, String>,
    fault: Option<String>,
    key_material: bool,
}

impl State {
    fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }

    fn error_outcome(&self, e: &ApiError, host: &str, xml: bool) -> Outcome {
        let rid = request_id();
        let v = json!({
            "RequestId": rid,
            "HostId": host,
            "Code": e.code,
            "Message": e.message,
            "Recommend": format!(
                "https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US&q={}&product=emulator&requestId={}",
                e.code, rid
            ),
        });
        let (content_type, body) = if xml {
            ("text/xml;charset=utf-8", api::to_xml("Error", &v).into_bytes())
        } else {
            ("application/json;charset=utf-8", serde_json::to_vec(&v).expect("json"))
        };
        Outcome {
            status: e.status,
            content_type,
            body,
            request_id: rid,
            delay_ms: 0,
            truncate: false,
            retry_after_ms: e.retry_after_ms,
        }
    }

    fn record(&self, t: Trace, status: u16, code: Option<String>) {
        let mut s = self.stats.lock();
        s.seq += 1;
        let seq = s.seq;
        let a = s.by_action.entry(t.action.clone()).or_default();
        a.requests += 1;
        match &code {
            None => a.ok += 1,
            Some(c) => *a.refused.entry(c.clone()).or_default() += 1,
        }
        if t.key_material {
            s.key_material_returned += 1;
        }
        if t.fault.is_some() {
            s.faults_injected += 1;
        }
        if self.config.request_log_capacity > 0 {
            if s.log.len() >= self.config.request_log_capacity {
                s.log.pop_front();
            }
            s.log.push_back(RequestRecord {
                seq,
                at_ms: self.now_ms(),
                action: t.action,
                api_version: t.api_version,
                signature: t.signature,
                access_key_id: t.access_key_id,
                account_id: t.account_id,
                params: t.params,
                status,
                code,
                fault: t.fault,
            });
        }
    }

    /// Looks up a key.
    fn lookup_key(&self, world: &World, id: &str) -> Result<KeyRecord, ApiError> {
        for a in &world.accounts {
            if let Some(k) = a.access_keys.iter().find(|k| k.id == id) {
                if !k.enabled {
                    return Err(ApiError::access_key_disabled());
                }
                let exp = k
                    .expiration
                    .as_deref()
                    .and_then(|e| auth::parse_timestamp(e).ok())
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
                return Ok(KeyRecord {
                    account_id: a.id.clone(),
                    secret: k.secret.clone(),
                    token: k.security_token.clone(),
                    expires_ms: exp,
                    permissions: k.permissions.clone(),
                });
            }
        }
        if let Some(k) = self.dyn_keys.lock().get(id) {
            return Ok(KeyRecord {
                account_id: k.account_id.clone(),
                secret: k.secret.clone(),
                token: Some(k.token.clone()),
                expires_ms: Some(k.expires_ms),
                permissions: k.permissions.clone(),
            });
        }
        Err(ApiError::access_key_not_found())
    }

    /// Per account and API: ALB and NLB share action names, so the bucket is
    /// keyed by version and action (the limit is looked up by action).
    fn throttle(&self, account: &str, version: &str, action: &str) -> Result<(), ApiError> {
        let Some(limit) = self.config.qps_limit(action) else {
            return Ok(());
        };
        let now = self.now_ms();
        let mut t = self.throttle.lock();
        let q = t.entry((account.to_string(), format!("{version}/{action}"))).or_default();
        while q.front().is_some_and(|&t0| t0 <= now - 1000 || t0 > now + 1000) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return Err(ApiError::throttling_user());
        }
        q.push_back(now);
        Ok(())
    }

    fn issue_sts(
        &self,
        account_id: &str,
        duration_s: i64,
        permissions: Option<Vec<String>>,
    ) -> (String, String, String, String) {
        let mut rng = rand::thread_rng();
        let id = format!("STS.{}", random_alnum(&mut rng, 24));
        let secret = random_alnum(&mut rng, 40);
        // Tokens carry '+', '/' and '=' like real ones, so clients' encoding is exercised.
        let token = format!(
            "CAIS{}+{}/{}==",
            random_alnum(&mut rng, 60),
            random_alnum(&mut rng, 20),
            random_alnum(&mut rng, 20)
        );
        let expires = self.config.clock.now() + Duration::seconds(duration_s);
        self.dyn_keys.lock().insert(
            id.clone(),
            DynKey {
                account_id: account_id.to_string(),
                secret: secret.clone(),
                token: token.clone(),
                expires_ms: (expires.unix_timestamp_nanos() / 1_000_000) as i64,
                permissions,
            },
        );
        (id, secret, token, api::iso(expires))
    }

    fn assume_role(&self, world: &World, account_id: &str, p: &Params) -> Result<Value, ApiError> {
        let arn = p.required("RoleArn")?;
        let session = p.required("RoleSessionName")?;
        if session.len() < 2
            || session.len() > 64
            || !session.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
        {
            return Err(ApiError::invalid_parameter("RoleSessionName"));
        }
        let duration = p.int("DurationSeconds", 900, 43_200, 3600)?;
        let rest = arn.strip_prefix("acs:ram::").ok_or_else(|| ApiError::invalid_parameter("RoleArn"))?;
        let (uid, role) = rest.split_once(":role/").ok_or_else(|| ApiError::invalid_parameter("RoleArn"))?;
        let account = world.accounts.iter().find(|a| a.id == uid && a.id == account_id);
        let Some(found) = account.and_then(|a| a.roles.iter().find(|r| r.name.eq_ignore_ascii_case(role))) else {
            return Err(ApiError::new(404, "EntityNotExist.Role", format!("The role not exists: {arn}.")));
        };
        let (id, secret, token, expiration) = self.issue_sts(account_id, duration, found.permissions.clone());
        Ok(json!({
            "AssumedRoleUser": {
                "Arn": format!("acs:ram::{uid}:role/{role}/{session}"),
                "AssumedRoleId": format!("3{:017}:{session}", uid.len()),
            },
            "Credentials": {
                "AccessKeyId": id,
                "AccessKeySecret": secret,
                "SecurityToken": token,
                "Expiration": expiration,
            },
        }))
    }

    /// The API pipeline.
    fn process(&self, req: &RawRequest) -> Outcome {
        let host = req.header("host").unwrap_or_default();
        let mut trace = Trace { signature: "none".into(), ..Trace::default() };
        let mut xml = false;
        let result = self.process_inner(req, &mut trace, &mut xml);
        match result {
            Ok((body, delay_ms, fault)) => {
                let rid = request_id();
                match fault {
                    Some(FaultKind::MalformedJson) => {
                        let text = format!("{{\"RequestId\":\"{rid}\",\"TotalCount\":1,\"CertInfos\":{{\"CertInfo\":[{{\"DomainName\":");
                        self.record(trace, 200, None);
                        Outcome {
                            status: 200,
                            content_type: "application/json;charset=utf-8",
                            body: text.into_bytes(),
                            request_id: rid,
                            delay_ms,
                            truncate: false,
                            retry_after_ms: None,
                        }
                    }
                    Some(FaultKind::TruncatedBody) => {
                        let mut v = body;
                        v.as_object_mut().map(|o| o.insert("RequestId".into(), json!(rid)));
                        self.record(trace, 200, None);
                        Outcome {
                            status: 200,
                            content_type: "application/json;charset=utf-8",
                            body: serde_json::to_vec(&v).expect("json"),
                            request_id: rid,
                            delay_ms,
                            truncate: true,
                            retry_after_ms: None,
                        }
                    }
                    Some(FaultKind::HtmlErrorPage) => {
                        self.record(trace, 502, Some("HtmlErrorPage".into()));
                        Outcome {
                            status: 502,
                            content_type: "text/html",
                            body: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n".to_vec(),
                            request_id: rid,
                            delay_ms,
                            truncate: false,
                            retry_after_ms: None,
                        }
                    }
                    _ => {
                        let mut v = body;
                        if let Some(o) = v.as_object_mut() {
                            o.insert("RequestId".into(), json!(rid));
                        }
                        let (content_type, bytes) = if xml {
                            let root = format!("{}Response", trace.action);
                            ("text/xml;charset=utf-8", api::to_xml(&root, &v).into_bytes())
                        } else {
                            ("application/json;charset=utf-8", serde_json::to_vec(&v).expect("json"))
                        };
                        self.record(trace, 200, None);
                        Outcome {
                            status: 200,
                            content_type,
                            body: bytes,
                            request_id: rid,
                            delay_ms,
                            truncate: false,
                            retry_after_ms: None,
                        }
                    }
                }
            }
            Err((e, delay_ms)) => {
                let mut out = self.error_outcome(&e, &host, xml);
                out.delay_ms = delay_ms;
                if trace.action.is_empty() {
                    trace.action = "<none>".into();
                }
                self.record(trace, e.status, Some(e.code.clone()));
                out
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn process_inner(
        &self,
        req: &RawRequest,
        trace: &mut Trace,
        xml: &mut bool,
    ) -> Result<(Value, u64, Option<FaultKind>), (ApiError, u64)> {
        let plain = |e: ApiError| (e, 0u64);
        if req.path != "/" || !(req.method == "GET" || req.method == "POST") {
            return Err(plain(ApiError::action_not_found()));
        }
        if req.bad_encoding {
            return Err(plain(ApiError::new(
                400,
                "InvalidParameter",
                "The request parameters are not well-formed (bad percent escape or not UTF-8).",
            )));
        }
        let mut pairs = req.query.clone();
        pairs.extend(req.form.iter().cloned());
        let params = Params::from_pairs(&pairs).map_err(plain)?;
        trace.params = params.operation_params();
        let claimed = auth::claimed(req, &params).map_err(plain)?;
        trace.action = claimed.action.clone();
        trace.api_version = claimed.api_version.clone();
        trace.signature = claimed.version.as_str().into();
        trace.access_key_id = claimed.access_key_id.clone();
        if claimed.version == SigVersion::V1 {
            *xml = !claimed.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("json"));
        }
        api::resolve(&claimed.api_version, &claimed.action).map_err(plain)?;
        let ts = auth::parse_timestamp(&claimed.timestamp).map_err(plain)?;
        let now = self.config.clock.now();
        auth::check_timestamp(ts, now).map_err(plain)?;
        let world = self.world.read().clone();
        let key = self.lookup_key(&world, &claimed.access_key_id).map_err(plain)?;
        let KeyRecord { account_id, secret, token, expires_ms: expires, permissions } = key;
        trace.account_id = account_id.clone();
        match (&token, &claimed.security_token) {
            (Some(_), None) => return Err(plain(ApiError::security_token_missing())),
            (Some(want), Some(got)) if want != got => return Err(plain(ApiError::security_token_mismatch())),
            (None, Some(_)) => return Err(plain(ApiError::security_token_mismatch())),
            _ => {}
        }
        if token.is_some() && expires.is_some_and(|e| e < self.now_ms()) {
            return Err(plain(ApiError::security_token_expired()));
        }
        auth::verify(req, &claimed, &secret).map_err(plain)?;
        let until = (ts.unix_timestamp_nanos() / 1_000_000) as i64 + 15 * 60 * 1000;
        self.nonces
            .lock()
            .check_and_insert(format!("{}\n{}", claimed.access_key_id, claimed.nonce), until, self.now_ms())
            .map_err(plain)?;
        // The gateway routes by host: another product's host does not know this API.
        let host_name = req.header("host").unwrap_or_default();
        let host_name = host_name.rsplit_once(':').map_or(host_name.as_str(), |(h, _)| h).to_ascii_lowercase();
        if let Some(product) = host_name.strip_suffix(".aliyuncs.com").map(|h| h.split(['.', '-']).next().unwrap_or(h))
        {
            if product != api::host_product(&claimed.api_version) {
                return Err(plain(ApiError::wrong_product_host(&host_name)));
            }
        }
        // RAM: what the key's user (or the assumed role) may call.
        let namespace = api::ram_namespace(&claimed.api_version);
        if let Some(allowed) = permissions.as_deref() {
            if claimed.action != "AssumeRole" && !api::permits(allowed, namespace, &claimed.action) {
                return Err(plain(ApiError::not_authorized(namespace, &claimed.action)));
            }
        }
        self.throttle(&account_id, &claimed.api_version, &claimed.action).map_err(plain)?;

        let faults = self.faults.lock().decide(&claimed.action);
        let mut delay = 0u64;
        let mut answer_fault = None;
        for f in faults {
            match f {
                FaultKind::Latency { ms } => delay += ms,
                other => answer_fault = Some(other),
            }
        }
        if let Some(f) = &answer_fault {
            trace.fault = Some(format!("{f:?}"));
            match f {
                FaultKind::ServiceUnavailable => return Err((ApiError::service_unavailable(), delay)),
                FaultKind::InternalError => return Err((ApiError::internal_error(), delay)),
                FaultKind::Throttling => return Err((ApiError::throttling_user(), delay)),
                FaultKind::Refuse { code, status, retry_after_ms } => {
                    let message = format!("Injected {code}: the service is busy, try again later.");
                    return Err((
                        ApiError::new(*status, code.clone(), message).with_retry_after(*retry_after_ms),
                        delay,
                    ));
                }
                _ => {}
            }
        } else if delay > 0 {
            trace.fault = Some(format!("Latency {{ ms: {delay} }}"));
        }

        let body = if claimed.action == "AssumeRole" {
            self.assume_role(&world, &account_id, &params).map_err(|e| (e, delay))?
        } else {
            let account = world
                .accounts
                .iter()
                .find(|a| a.id == account_id)
                .ok_or_else(|| (ApiError::access_key_not_found(), delay))?;
            let call = api::Call::new(&claimed.api_version, &claimed.action, &params, &host_name);
            let ans = api::dispatch(call, &world, account, now, &self.config.page_limits).map_err(|e| (e, delay))?;
            trace.key_material = ans.key_material;
            ans.body
        };
        Ok((body, delay, answer_fault))
    }

    /// ECS instance metadata (IMDSv2): token, role list, role credentials.
    fn metadata(&self, req: &RawRequest) -> Outcome {
        let text = |status: u16, body: String| Outcome {
            status,
            content_type: "text/plain",
            body: body.into_bytes(),
            request_id: request_id(),
            delay_ms: 0,
            truncate: false,
            retry_after_ms: None,
        };
        let world = self.world.read().clone();
        let Some(md) = world.ecs_metadata.clone() else {
            return text(404, "Not Found".into());
        };
        const CREDS: &str = "/latest/meta-data/ram/security-credentials/";
        let now = self.now_ms();
        if req.path == "/latest/api/token" {
            if req.method != "PUT" {
                return text(405, "Method Not Allowed".into());
            }
            let ttl = req.header("x-aliyun-ecs-metadata-token-ttl-seconds").and_then(|v| v.trim().parse::<i64>().ok());
            let Some(ttl) = ttl.filter(|t| (1..=21_600).contains(t)) else {
                return text(400, "Bad Request".into());
            };
            let token = random_alnum(&mut rand::thread_rng(), 44);
            self.metadata_tokens.lock().insert(token.clone(), now + ttl * 1000);
            return text(200, token);
        }
        if req.method != "GET" {
            return text(405, "Method Not Allowed".into());
        }
        if self.config.require_metadata_token {
            let ok = req
                .header("x-aliyun-ecs-metadata-token")
                .and_then(|t| self.metadata_tokens.lock().get(&t).copied())
                .is_some_and(|exp| exp >= now);
            if !ok {
                return text(401, "Unauthorized".into());
            }
        }
        if req.path == CREDS || req.path == CREDS.trim_end_matches('/') {
            return text(200, md.role_name.clone());
        }
        match req.path.strip_prefix(CREDS) {
            Some(role) if role == md.role_name => {
                let permissions = world
                    .accounts
                    .iter()
                    .find(|a| a.id == md.account_id)
                    .and_then(|a| a.roles.iter().find(|r| r.name == md.role_name))
                    .and_then(|r| r.permissions.clone());
                let (id, secret, token, expiration) = self.issue_sts(&md.account_id, 21_600, permissions);
                let body = json!({
                    "AccessKeyId": id,
                    "AccessKeySecret": secret,
                    "Expiration": expiration,
                    "SecurityToken": token,
                    "LastUpdated": api::iso(self.config.clock.now()),
                    "Code": "Success",
                });
                Outcome {
                    status: 200,
                    content_type: "application/json",
                    body: serde_json::to_vec(&body).expect("json"),
                    request_id: request_id(),
                    delay_ms: 0,
                    truncate: false,
                    retry_after_ms: None,
                }
            }
            _ => text(404, "Not Found".into()),
        }
    }
}

fn random_alnum(rng: &mut impl Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| A[rng.gen_range(0..A.len())] as char).collect()
}

/// Response body: whole, or cut half-way with an error (hyper then aborts the connection,
/// so the client sees fewer bytes than Content-Length promised).
#[derive(Debug)]
enum RespBody {
    Full(Option<Bytes>),
    Truncated(Option<Bytes>, bool),
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        match this {
            RespBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RespBody::Truncated(b, failed) => {
                if let Some(b) = b.take() {
                    Poll::Ready(Some(Ok(Frame::data(b))))
                } else if !*failed {
                    *failed = true;
                    Poll::Ready(Some(Err(std::io::Error::other("injected truncation"))))
                } else {
                    Poll::Ready(None)
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RespBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RespBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            RespBody::Full(None) => SizeHint::with_exact(0),
            RespBody::Truncated(..) => SizeHint::default(),
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(form_decode).unwrap_or(Some(Vec::new()));
    let mut bad_encoding = query.is_none();
    let query = query.unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes().to_vec(),
        Err(_) => {
            let mut r = Response::new(RespBody::Full(Some(Bytes::from_static(b"Payload Too Large"))));
            *r.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(r);
        }
    };
    let is_form = headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form = if is_form && !body.is_empty() {
        let f = std::str::from_utf8(&body).ok().and_then(form_decode);
        bad_encoding |= f.is_none();
        f.unwrap_or_default()
    } else {
        Vec::new()
    };
    let raw = RawRequest { method, path, query, form, headers, body, bad_encoding };
    let st = state.clone();
    let outcome = if raw.path.starts_with("/latest/") { st.metadata(&raw) } else { st.process(&raw) };
    if outcome.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(outcome.delay_ms)).await;
    }
    let len = outcome.body.len();
    let body = if outcome.truncate {
        let half = Bytes::from(outcome.body).slice(0..len / 2);
        RespBody::Truncated(Some(half), false)
    } else {
        RespBody::Full(Some(Bytes::from(outcome.body)))
    };
    let mut r = Response::new(body);
    *r.status_mut() = hyper::StatusCode::from_u16(outcome.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(outcome.content_type));
    if let Ok(v) = hyper::header::HeaderValue::from_str(&outcome.request_id) {
        h.insert("x-acs-request-id", v);
    }
    if let Some(ms) = outcome.retry_after_ms {
        h.insert("x-acs-retry-after", hyper::header::HeaderValue::from(ms));
    }
    if outcome.truncate {
        h.insert(hyper::header::CONTENT_LENGTH, hyper::header::HeaderValue::from(len));
    }
    Ok(r)
}

/// Starts emulators.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds (loopback only), starts the server on its own threads and returns at once.
    pub fn start(world: World, config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        if !config.listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("refusing to listen on {}: the emulator serves loopback addresses only", config.listen),
            ));
        }
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut rules = world.faults.clone();
        rules.extend(config.faults.iter().cloned());
        let state = Arc::new(State {
            faults: Mutex::new(FaultEngine::new(rules, config.fault_seed)),
            nonces: Mutex::new(NonceStore::new(config.nonce_capacity)),
            world: RwLock::new(Arc::new(world)),
            dyn_keys: Mutex::new(HashMap::new()),
            throttle: Mutex::new(HashMap::new()),
            stats: Mutex::new(StatsInner::default()),
            metadata_tokens: Mutex::new(HashMap::new()),
            config,
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(state.config.worker_threads.max(1))
            .thread_name("alibaba-emulator")
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::Builder::new().name("alibaba-emulator-accept".into()).spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(_) => return,
                };
                let mut rx = rx;
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        acc = listener.accept() => {
                            let Ok((stream, _)) = acc else { continue };
                            let st = st.clone();
                            tokio::spawn(async move {
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .keep_alive(true)
                                    .serve_connection(io, svc)
                                    .await;
                            });
                        }
                    }
                }
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        })?;
        Ok(EmulatorHandle { addr, state, shutdown: Some(tx), thread: Some(thread) })
    }
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The emulator's clock (shared: moving it moves the server's time).
    pub fn clock(&self) -> Clock {
        self.state.config.clock.clone()
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        let s = self.state.stats.lock();
        Stats {
            total_requests: s.seq,
            by_action: s.by_action.clone(),
            key_material_returned: s.key_material_returned,
            faults_injected: s.faults_injected,
            requests: s.log.iter().cloned().collect(),
        }
    }

    /// Zeroes the statistics and the request log.
    pub fn reset_stats(&self) {
        *self.state.stats.lock() = StatsInner::default();
    }

    /// Replaces the fault rules (the world's initial rules included).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state.faults.lock().set_rules(rules);
    }

    /// Forgets QPS history (so a test can start from a quiet second).
    pub fn reset_throttle(&self) {
        self.state.throttle.lock().clear();
    }

    /// The world being served.
    pub fn world(&self) -> Arc<World> {
        self.state.world.read().clone()
    }

    /// Changes the world in place (e.g. rotate a certificate); later requests see it.
    pub fn update_world(&self, f: impl FnOnce(&mut World)) {
        let mut w = self.state.world.write();
        let mut new = (**w).clone();
        f(&mut new);
        *w = Arc::new(new);
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
