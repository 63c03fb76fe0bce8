//! Forwards a plugin library's `log` records (and, through `tracing`'s `log`
//! feature, its `tracing` events) and its panic messages to the host. Each
//! library has its own copy of the `log` globals and of std's panic hook, so
//! without this a plugin's logs go nowhere and its panics print to the
//! host's stderr.

use std::sync::{Once, RwLock};

use certinspect_protocol::LogLevel;

use crate::Host;

static HOST: RwLock<Option<Host>> = RwLock::new(None);
static INSTALL: Once = Once::new();
static PANIC_HOOK: Once = Once::new();

/// Report this library's panics as error records to the host (when one is
/// known) instead of printing them; the SDK turns the panic itself into an
/// error value.
pub(crate) fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|panic| {
            let guard = HOST.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(host) = guard.as_ref() {
                host.log(LogLevel::Error, "panic", &panic.to_string());
            }
        }));
    });
}

/// Send this library's log records to `host` from now on.
pub(crate) fn forward_to(host: Host) {
    *HOST.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(host);
    INSTALL.call_once(|| {
        // Fails only when this library already has a logger; then it keeps it.
        if log::set_logger(&ForwardingLogger).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}

struct ForwardingLogger;

impl log::Log for ForwardingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let guard = HOST.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(host) = guard.as_ref() {
            let level = match record.level() {
                log::Level::Error => LogLevel::Error,
                log::Level::Warn => LogLevel::Warn,
                log::Level::Info => LogLevel::Info,
                log::Level::Debug => LogLevel::Debug,
                log::Level::Trace => LogLevel::Trace,
            };
            host.log(level, record.target(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}
