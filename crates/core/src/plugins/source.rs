//! An opened source: typed calls over the JSON messages.

use std::sync::Arc;

use certinspect_abi::abi_stable::std_types::{RResult, RStr};
use certinspect_abi::SourceV1Box;
use certinspect_protocol::{
    error_kind, HostServices, Page, PluginError, RevocationStatus, Scope, SourceRequest, SourceResponse,
};

use super::isolated::{ChildSource, Isolation, ProcessHost};
use super::{LoadedPlugin, PluginOrigin};
use crate::host::to_abi_host;

/// A plugin call that failed, naming the plugin.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin '{plugin}': {error}")]
pub struct SourceCallError {
    /// The plugin's name.
    pub plugin: String,
    /// What it (or the host, decoding its answer) reported.
    pub error: PluginError,
}

/// A source opened from a plugin. Calls may come from several threads.
pub struct OpenedSource {
    plugin: String,
    library_sha256: Option<String>,
    backend: Backend,
}

/// Where the source's plugin code runs.
enum Backend {
    InProcess(SourceV1Box),
    Child(ChildSource),
}

impl std::fmt::Debug for OpenedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSource").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

pub(super) fn open(
    plugin: &LoadedPlugin,
    config: &serde_json::Value,
    host: Arc<dyn HostServices>,
) -> Result<OpenedSource, SourceCallError> {
    let name = plugin.info.name.clone();
    let module = plugin.module().map_err(|reason| SourceCallError {
        plugin: name.clone(),
        error: PluginError::other(format!("cannot load the library in this process: {reason}")),
    })?;
    let config = config.to_string();
    match (module.open())(RStr::from_str(&config), to_abi_host(host)) {
        RResult::ROk(source) => Ok(OpenedSource {
            plugin: name,
            library_sha256: plugin.sha256.clone(),
            backend: Backend::InProcess(source),
        }),
        RResult::RErr(e) => Err(SourceCallError { plugin: name, error: PluginError::new(e.kind, e.message) }),
    }
}

pub(super) fn open_in_child(
    plugin: &LoadedPlugin,
    config: &serde_json::Value,
    host: Arc<dyn HostServices>,
    process: &ProcessHost,
) -> Result<OpenedSource, SourceCallError> {
    let name = plugin.info.name.clone();
    let PluginOrigin::File(library) = &plugin.origin else {
        let message = format!("'{name}' is built into this binary and has no library to run in a separate process");
        return Err(SourceCallError { plugin: name, error: PluginError::other(message) });
    };
    match ChildSource::open(&name, library, &config.to_string(), host, process) {
        Ok(child) => {
            Ok(OpenedSource { plugin: name, library_sha256: plugin.sha256.clone(), backend: Backend::Child(child) })
        }
        Err(error) => Err(SourceCallError { plugin: name, error }),
    }
}

impl OpenedSource {
    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Send one request and decode the answer.
    pub fn call(&self, request: &SourceRequest) -> Result<SourceResponse, SourceCallError> {
        let json = serde_json::to_string(request).map_err(|e| self.fail(PluginError::protocol(e.to_string())))?;
        let reply = match &self.backend {
            Backend::InProcess(source) => match source.call(RStr::from_str(&json)) {
                RResult::ROk(reply) => reply.into_string(),
                RResult::RErr(e) => return Err(self.fail(PluginError::new(e.kind, e.message))),
            },
            Backend::Child(child) => child.call(&json).map_err(|e| self.fail(e))?,
        };
        serde_json::from_str(&reply).map_err(|e| self.fail(PluginError::protocol(format!("unreadable reply: {e}"))))
    }

    /// SHA-256 of the plugin's library; `None` for a built-in provider.
    pub fn library_sha256(&self) -> Option<&str> {
        self.library_sha256.as_deref()
    }

    /// Where the plugin's code runs. A source in a child process enforces
    /// its own call deadline (by killing the child).
    pub fn isolation(&self) -> Isolation {
        match self.backend {
            Backend::InProcess(_) => Isolation::InProcess,
            Backend::Child(_) => Isolation::Process,
        }
    }

    /// The scopes to work through.
    pub fn scopes(&self) -> Result<Vec<Scope>, SourceCallError> {
        match self.call(&SourceRequest::Scopes)? {
            SourceResponse::Scopes { scopes } => Ok(scopes),
            other => Err(self.unexpected("scopes", &other)),
        }
    }

    /// One page of a scope.
    pub fn list_page(&self, scope: &str, cursor: Option<&str>) -> Result<Page, SourceCallError> {
        let request = SourceRequest::ListPage { scope: scope.to_owned(), cursor: cursor.map(str::to_owned) };
        match self.call(&request)? {
            SourceResponse::Page(page) => Ok(page),
            other => Err(self.unexpected("list_page", &other)),
        }
    }

    /// Revocation status of `serials`.
    pub fn lookup_revocation(&self, serials: &[String]) -> Result<Vec<RevocationStatus>, SourceCallError> {
        match self.call(&SourceRequest::LookupRevocation { serials: serials.to_vec() })? {
            SourceResponse::Revocation { statuses } => Ok(statuses),
            other => Err(self.unexpected("lookup_revocation", &other)),
        }
    }

    fn fail(&self, error: PluginError) -> SourceCallError {
        SourceCallError { plugin: self.plugin.clone(), error }
    }

    fn unexpected(&self, operation: &str, response: &SourceResponse) -> SourceCallError {
        let got = serde_json::to_value(response).ok().and_then(|v| v.get("op").cloned()).unwrap_or_default();
        self.fail(PluginError::new(error_kind::PROTOCOL, format!("answered {operation} with {got}")))
    }
}
