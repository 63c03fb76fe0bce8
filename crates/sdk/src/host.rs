//! The plugin-side view of the host-services object.

use std::panic::{catch_unwind, AssertUnwindSafe};

use certinspect_abi::abi_stable::std_types::{RResult, RStr};
use certinspect_abi::HostV1Box;
use certinspect_protocol::{HostServices, HttpRequest, HttpResponse, LogLevel, TransportError, TransportErrorKind};

/// [`HostServices`] over the host's FFI object.
pub(crate) struct AbiHost {
    inner: HostV1Box,
}

impl AbiHost {
    pub(crate) fn new(inner: HostV1Box) -> Self {
        Self { inner }
    }
}

impl HostServices for AbiHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let meta = serde_json::to_string(request).map_err(|e| TransportError {
            kind: TransportErrorKind::Refused,
            message: format!("cannot encode request: {e}"),
        })?;
        match self.inner.http(RStr::from_str(&meta), request.body.as_slice().into()) {
            RResult::ROk(reply) => {
                let mut response: HttpResponse =
                    serde_json::from_str(reply.meta_json.as_str()).map_err(|e| TransportError {
                        kind: TransportErrorKind::Other,
                        message: format!("host sent an unreadable response: {e}"),
                    })?;
                response.body = reply.body.into_vec();
                Ok(response)
            }
            RResult::RErr(error) => Err(serde_json::from_str(error.message.as_str())
                .unwrap_or(TransportError { kind: TransportErrorKind::Other, message: error.message.into_string() })),
        }
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        // A logging failure must never become a panic inside the plugin.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            self.inner.log(level as u8, RStr::from_str(target), RStr::from_str(message))
        }));
    }

    fn now_unix_ms(&self) -> i64 {
        self.inner.now_unix_ms()
    }

    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}
