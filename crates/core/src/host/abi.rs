//! Offers [`HostServices`] to plugins across the FFI boundary.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use certinspect_abi::abi_stable::sabi_trait::TD_Opaque;
use certinspect_abi::abi_stable::std_types::{RArc, RResult, RSlice, RStr, RString};
use certinspect_abi::{AbiError, HostV1, HostV1Box, HostV1_TO, HttpReplyV1};
use certinspect_protocol::{error_kind, HostServices, HttpRequest, LogLevel, TransportError, TransportErrorKind};

/// Wrap `services` as the FFI host object a plugin's `open` receives.
pub(crate) fn to_abi_host(services: Arc<dyn HostServices>) -> HostV1Box {
    HostV1_TO::from_ptr(RArc::new(AbiHostAdapter { services }), TD_Opaque)
}

#[derive(Clone)]
struct AbiHostAdapter {
    services: Arc<dyn HostServices>,
}

impl HostV1 for AbiHostAdapter {
    fn http(&self, meta_json: RStr<'_>, body: RSlice<'_, u8>) -> RResult<HttpReplyV1, AbiError> {
        // A panic must not unwind into the plugin's frames: abi_stable would
        // end the process.
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<HttpReplyV1, TransportError> {
            let mut request: HttpRequest = serde_json::from_str(meta_json.as_str()).map_err(|e| TransportError {
                kind: TransportErrorKind::Refused,
                message: format!("unreadable request from plugin: {e}"),
            })?;
            request.body = body.to_vec();
            let response = self.services.http(&request)?;
            let meta = serde_json::to_string(&response).map_err(|e| TransportError {
                kind: TransportErrorKind::Other,
                message: format!("cannot encode response: {e}"),
            })?;
            Ok(HttpReplyV1 { meta_json: meta.into(), body: response.body.into() })
        }));
        match outcome {
            Ok(Ok(reply)) => RResult::ROk(reply),
            Ok(Err(error)) => RResult::RErr(transport_error(&error)),
            Err(_) => RResult::RErr(transport_error(&TransportError {
                kind: TransportErrorKind::Other,
                message: "the host's transport panicked".into(),
            })),
        }
    }

    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            self.services.log(LogLevel::from_u8(level), target.as_str(), message.as_str())
        }));
    }

    fn now_unix_ms(&self) -> i64 {
        catch_unwind(AssertUnwindSafe(|| self.services.now_unix_ms())).unwrap_or(0)
    }

    fn is_cancelled(&self) -> bool {
        catch_unwind(AssertUnwindSafe(|| self.services.is_cancelled())).unwrap_or(true)
    }
}

/// Transport errors cross as JSON in the message so the plugin side can
/// recover the kind.
fn transport_error(error: &TransportError) -> AbiError {
    let json = serde_json::to_string(error).unwrap_or_else(|_| error.message.clone());
    AbiError::new(error_kind::TRANSPORT, RString::from(json))
}
