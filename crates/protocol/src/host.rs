//! The plugin-side view of the host's services.

use serde::{Deserialize, Serialize};

/// An HTTP request a plugin asks the host to send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http://` or `https://` URL, query included.
    pub url: String,
    /// Header names and values, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request body (not serialised: it crosses the ABI as raw bytes).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Overall timeout for this request, when tighter than the host's default.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The budget this request draws from: the host spaces every request
    /// naming the same key, from every source and scope of the run, at that
    /// rate, and sleeps before sending (see [`RateLimiter`](crate::RateLimiter)).
    /// Absent (old plugins, unlimited APIs): sent at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitKey>,
}

/// A shared request budget: which one, and how many requests per second it
/// allows. Equal keys are one budget, whoever sends; a key names the budget
/// (for a cloud API: product, action and account) and never a credential
/// in clear, since the host may log it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimitKey {
    /// The budget's name, e.g. `alibaba/cas/ListCloudResources/<account hash>`.
    pub key: String,
    /// Requests per second the budget allows (positive and finite, else the
    /// request is not limited).
    pub per_second: f64,
}

impl RateLimitKey {
    /// The budget `key` at `per_second`.
    pub fn new(key: impl Into<String>, per_second: f64) -> Self {
        Self { key: key.into(), per_second }
    }
}

/// The host's answer to an [`HttpRequest`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Response body (not serialised: it crosses the ABI as raw bytes).
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why the transport could not deliver a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// Connecting failed (refused, DNS, TLS).
    Connect,
    /// The request or the whole exchange timed out.
    Timeout,
    /// The response exceeded the host's size cap.
    TooLarge,
    /// The host cancelled the request.
    Cancelled,
    /// The request was refused by host policy (bad URL or scheme).
    Refused,
    /// Anything else, including a connection dropped mid-body.
    Other,
}

/// A transport failure; the message never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// One line.
    pub message: String,
}

impl std::fmt::Display for TransportError {
    /// The message: it says what happened in words (the kind is for code).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// Log levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum LogLevel {
    /// An error.
    Error = 1,
    /// A warning.
    Warn = 2,
    /// Information.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
    /// Tracing detail.
    Trace = 5,
}

impl LogLevel {
    /// From the integer used on the wire; unknown values become `Trace`.
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Error,
            2 => Self::Warn,
            3 => Self::Info,
            4 => Self::Debug,
            _ => Self::Trace,
        }
    }
}

/// Services the host offers a plugin. A plugin reaches the network only
/// through [`HostServices::http`].
pub trait HostServices: Send + Sync {
    /// Send one HTTP request through the host's transport (timeouts, size cap
    /// and proxy settings are the host's).
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
    /// Emit a log record into the host's logger.
    fn log(&self, level: LogLevel, target: &str, message: &str);
    /// Wall-clock time, milliseconds since the UNIX epoch (the host may fake it in tests).
    fn now_unix_ms(&self) -> i64;
    /// Whether the host has cancelled the current work; long loops should check it.
    fn is_cancelled(&self) -> bool;
    /// Sleep for `duration`, or less if the host cancels meanwhile.
    fn sleep(&self, duration: std::time::Duration) {
        let deadline = std::time::Instant::now() + duration;
        while !self.is_cancelled() {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(50)));
        }
    }
}
