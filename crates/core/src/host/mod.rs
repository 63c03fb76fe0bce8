//! The services the host offers plugins: an HTTP transport that is the only
//! way a plugin reaches the network, one rate limiter for the whole run
//! (requests naming the same budget are spaced together, whichever source
//! sends them), logging into the host's `tracing`, a clock, and cancellation.

mod abi;
mod http;

pub(crate) use abi::to_abi_host;
pub use http::{HttpTransport, TransportConfig};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, RateLimiter, TransportError};

/// A cancellation flag shared between the host and everything it runs.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Ask everything that watches this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelFlag::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The host's real services: [`HttpTransport`], the run's [`RateLimiter`],
/// `tracing`, the system clock.
#[derive(Debug, Clone)]
pub struct Host {
    transport: Arc<HttpTransport>,
    limiter: Arc<RateLimiter>,
    cancel: CancelFlag,
}

impl Host {
    /// Services over `transport`, cancelled by `cancel`, with one rate
    /// limiter that every [`Host::for_plugin`] view shares.
    pub fn new(transport: HttpTransport, cancel: CancelFlag) -> Self {
        Self { transport: Arc::new(transport), limiter: Arc::new(RateLimiter::new()), cancel }
    }

    /// The services as one plugin sees them: its log records carry its name.
    pub fn for_plugin(&self, plugin: &str) -> Arc<dyn HostServices> {
        Arc::new(PluginScoped { host: self.clone(), plugin: plugin.to_owned() })
    }
}

/// [`Host`] with the name of the plugin it serves, for log records.
struct PluginScoped {
    host: Host,
    plugin: String,
}

impl HostServices for PluginScoped {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        if self.host.cancel.is_cancelled() {
            return Err(TransportError {
                kind: certinspect_protocol::TransportErrorKind::Cancelled,
                message: "the scan was cancelled".into(),
            });
        }
        // Waits here, next to the wire (after the plugin signed the request,
        // after a child's relay), so the spacing the gateway sees is the
        // spacing made.
        self.host.limiter.send(self, request, |request| self.host.transport.send(request))
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        let plugin = self.plugin.as_str();
        match level {
            LogLevel::Error => tracing::error!(target: "plugin", plugin, module = target, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "plugin", plugin, module = target, "{message}"),
            LogLevel::Info => tracing::info!(target: "plugin", plugin, module = target, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "plugin", plugin, module = target, "{message}"),
            LogLevel::Trace => tracing::trace!(target: "plugin", plugin, module = target, "{message}"),
        }
    }

    fn now_unix_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn is_cancelled(&self) -> bool {
        self.host.cancel.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certinspect_protocol::{RateLimitKey, TransportErrorKind};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;

    /// A loopback server answering every request `200`, counting them.
    fn counting_server() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&served);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        (url, served)
    }

    /// Two plugins' services of one run draw from one budget: the second
    /// request of a budget of one per 1,000 s waits, and cancelling the run
    /// ends the wait without sending it; another budget is not held up.
    #[test]
    fn plugins_share_budgets_and_cancellation_ends_a_wait_unsent() {
        let (url, served) = counting_server();
        let cancel = CancelFlag::default();
        let host = Host::new(HttpTransport::new(TransportConfig::default()).unwrap(), cancel.clone());
        let request = |key: &str| HttpRequest {
            method: "GET".into(),
            url: url.clone(),
            rate_limit: Some(RateLimitKey::new(key, 0.001)),
            ..HttpRequest::default()
        };
        let (cas, alb) = (host.for_plugin("alibaba-cas"), host.for_plugin("alibaba-alb"));
        assert_eq!(cas.http(&request("alibaba/cas/ListCloudResources/a")).unwrap().status, 200);
        assert_eq!(alb.http(&request("alibaba/cas/ListCloudResources/b")).unwrap().status, 200);
        let waiting = {
            let request = request("alibaba/cas/ListCloudResources/a");
            std::thread::spawn(move || alb.http(&request))
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        cancel.cancel();
        let error = waiting.join().unwrap().unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Cancelled, "{error}");
        assert_eq!(served.load(Ordering::SeqCst), 2, "the cancelled request was not sent");
    }
}
