//! The FFI entry points: messages in, messages out, panics caught.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use certinspect_abi::abi_stable::prefix_type::PrefixTypeTrait;
use certinspect_abi::abi_stable::sabi_trait::TD_Opaque;
use certinspect_abi::abi_stable::std_types::{RResult, RStr, RString};
use certinspect_abi::{
    AbiError, HostV1Box, PluginModV1, PluginModV1_Ref, SourceV1, SourceV1Box, SourceV1_TO, StaticPlugin,
};
use certinspect_protocol::{error_kind, PluginError, SourceRequest, SourceResponse};

use crate::host::AbiHost;
use crate::{logging, Provider, Source};

/// The root module of a provider linked into the host binary. Register it
/// with the host's plugin registry; it goes through the same entry points
/// (and the same panic handling) as a dynamically loaded plugin.
pub fn static_module<P: Provider>() -> StaticPlugin {
    StaticPlugin::from_module(
        PluginModV1 { info: info_entry::<P, false>, open: open_entry::<P, false> }.leak_into_prefix(),
    )
}

/// The root module a `cdylib` exports; used by [`export_plugin!`](crate::export_plugin).
/// Unlike [`static_module`], it forwards the library's own `log`/`tracing`
/// globals and panic messages to the host (a linked-in provider shares the
/// host's globals, so it must not touch them).
pub fn exported_module<P: Provider>() -> PluginModV1_Ref {
    PluginModV1 { info: info_entry::<P, true>, open: open_entry::<P, true> }.leak_into_prefix()
}

extern "C" fn info_entry<P: Provider, const OWN_GLOBALS: bool>() -> RResult<RString, AbiError> {
    if OWN_GLOBALS {
        logging::install_panic_hook();
    }
    guarded("info()", || {
        serde_json::to_string(&P::info())
            .map(RString::from)
            .map_err(|e| PluginError::protocol(format!("cannot encode plugin info: {e}")))
    })
}

extern "C" fn open_entry<P: Provider, const OWN_GLOBALS: bool>(
    config_json: RStr<'_>,
    host: HostV1Box,
) -> RResult<SourceV1Box, AbiError> {
    if OWN_GLOBALS {
        logging::install_panic_hook();
    }
    guarded("open()", || {
        let host: crate::Host = Arc::new(AbiHost::new(host));
        if OWN_GLOBALS {
            logging::forward_to(host.clone());
        }
        let config: serde_json::Value = serde_json::from_str(config_json.as_str())
            .map_err(|e| PluginError::invalid_config(format!("configuration is not JSON: {e}")))?;
        let source = P::open(config, host)?;
        Ok(SourceV1_TO::from_value(SourceAdapter { source }, TD_Opaque))
    })
}

/// Makes a [`Source`] answer JSON requests.
struct SourceAdapter {
    source: Box<dyn Source>,
}

impl SourceV1 for SourceAdapter {
    fn call(&self, request_json: RStr<'_>) -> RResult<RString, AbiError> {
        let request: SourceRequest = match serde_json::from_str(request_json.as_str()) {
            Ok(request) => request,
            Err(e) => return RResult::RErr(to_abi(PluginError::protocol(format!("bad request: {e}")))),
        };
        let operation = match &request {
            SourceRequest::Scopes => "scopes()",
            SourceRequest::ListPage { .. } => "list_page()",
            SourceRequest::LookupRevocation { .. } => "lookup_revocation()",
        };
        guarded(operation, || {
            let response = match request {
                SourceRequest::Scopes => SourceResponse::Scopes { scopes: self.source.scopes()? },
                SourceRequest::ListPage { scope, cursor } => {
                    SourceResponse::Page(self.source.list_page(&scope, cursor.as_deref())?)
                }
                SourceRequest::LookupRevocation { serials } => {
                    SourceResponse::Revocation { statuses: self.source.lookup_revocation(&serials)? }
                }
            };
            serde_json::to_string(&response)
                .map(RString::from)
                .map_err(|e| PluginError::protocol(format!("cannot encode response: {e}")))
        })
    }
}

/// Runs `body`, turning both its error and a panic into an [`AbiError`].
fn guarded<T>(operation: &str, body: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, AbiError> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(error)) => RResult::RErr(to_abi(error)),
        Err(payload) => RResult::RErr(AbiError::new(
            error_kind::PANIC,
            format!("panicked in {operation}: {}", panic_message(payload.as_ref())),
        )),
    }
}

fn to_abi(error: PluginError) -> AbiError {
    AbiError::new(error.kind, error.message)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
