//! A host for plugin tests (feature `testing`): scripted HTTP answers, a
//! virtual clock and captured logs, so a plugin's unit tests run without a
//! network and without waiting — `sleep` moves the clock instead, which
//! makes retry and rate-limit tests exact and fast. Requests that name a
//! [`RateLimitKey`](certinspect_protocol::RateLimitKey) are spaced as the
//! host spaces them (the same [`RateLimiter`]), in virtual time.
//!
//! ```
//! use certinspect_sdk::testing::{json_response, FakeHost};
//! use certinspect_sdk::{HostServices, HttpRequest};
//!
//! let host = FakeHost::answering(1_700_000_000_000, |_| Ok(json_response(200, r#"{"ok":true}"#)));
//! let answer = host.http(&HttpRequest { url: "https://api.test/".into(), ..HttpRequest::default() }).unwrap();
//! assert_eq!(answer.status, 200);
//! host.sleep(std::time::Duration::from_secs(2));
//! assert_eq!(host.now_unix_ms(), 1_700_000_002_000);
//! assert_eq!(host.requests()[0].url, "https://api.test/");
//! ```
//!
//! What it is not: a transport. Tests of real HTTP run a real server on
//! loopback and go through the host's transport.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, RateLimiter, TransportError};

type Responder = dyn Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync;

/// A scripted, virtual-time [`HostServices`].
pub struct FakeHost {
    now_ms: AtomicI64,
    cancelled: AtomicBool,
    responder: Box<Responder>,
    limiter: RateLimiter,
    requests: Mutex<Vec<HttpRequest>>,
    logs: Mutex<Vec<String>>,
}

impl std::fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHost").field("now_ms", &self.now_ms).finish_non_exhaustive()
    }
}

impl FakeHost {
    /// A host at `now_ms` (UNIX milliseconds) whose transport must not be used.
    pub fn new(now_ms: i64) -> Arc<Self> {
        Self::answering(now_ms, |request| panic!("this test sends no requests, but got {}", request.url))
    }

    /// A host at `now_ms` answering every request with `responder`.
    pub fn answering(
        now_ms: i64,
        responder: impl Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            now_ms: AtomicI64::new(now_ms),
            cancelled: AtomicBool::new(false),
            responder: Box::new(responder),
            limiter: RateLimiter::new(),
            requests: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
        })
    }

    /// The virtual clock, UNIX milliseconds.
    pub fn now(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    /// Cancel: [`HostServices::is_cancelled`] answers `true` from now on.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// How many requests were sent.
    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The requests sent, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The log records, as `Level target message` lines.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Answers as the responder would, without recording the request (for
    /// wrapping one fake in another).
    pub fn respond(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (self.responder)(request)
    }
}

/// A `status` answer with a JSON `body`.
pub fn json_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

impl HostServices for FakeHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.limiter.send(self, request, |request| {
            self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(request.clone());
            (self.responder)(request)
        })
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{level:?} {target} {message}"));
    }

    fn now_unix_ms(&self) -> i64 {
        self.now()
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn sleep(&self, duration: Duration) {
        // Round up so that a sleep always moves the millisecond clock forward.
        let ms = duration.as_micros().div_ceil(1000) as i64;
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}
