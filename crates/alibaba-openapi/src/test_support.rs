//! A scripted, virtual-time `HostServices` for unit tests: `sleep` advances
//! the clock instead of waiting, so retry and rate-limit tests are exact and fast.

use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, TransportError};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Responder = dyn Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync;

pub(crate) struct FakeHost {
    now_ms: AtomicI64,
    requests: AtomicUsize,
    cancelled: AtomicBool,
    responder: Box<Responder>,
    pub(crate) logs: Mutex<Vec<String>>,
}

impl FakeHost {
    pub(crate) fn new(now_ms: i64) -> Arc<Self> {
        Self::with_responder(now_ms, |_| panic!("this test sends no requests"))
    }

    pub(crate) fn with_responder(
        now_ms: i64,
        responder: impl Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(FakeHost {
            now_ms: AtomicI64::new(now_ms),
            requests: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            responder: Box::new(responder),
            logs: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub(crate) fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Answers as the responder would, without counting (for wrapping one fake in another).
    pub(crate) fn respond(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (self.responder)(request)
    }
}

pub(crate) fn json_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

impl HostServices for FakeHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        (self.responder)(request)
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        self.logs.lock().unwrap().push(format!("{level:?} {target} {message}"));
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
