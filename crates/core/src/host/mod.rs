//! The services the host offers plugins: an HTTP transport that is the only
//! way a plugin reaches the network, logging into the host's `tracing`, a
//! clock, and cancellation.

mod abi;
mod http;

pub(crate) use abi::to_abi_host;
pub use http::{HttpTransport, TransportConfig};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, TransportError};

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

/// The host's real services: [`HttpTransport`], `tracing`, the system clock.
#[derive(Debug, Clone)]
pub struct Host {
    transport: Arc<HttpTransport>,
    cancel: CancelFlag,
}

impl Host {
    /// Services over `transport`, cancelled by `cancel`.
    pub fn new(transport: HttpTransport, cancel: CancelFlag) -> Self {
        Self { transport: Arc::new(transport), cancel }
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
        self.host.transport.send(request)
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
