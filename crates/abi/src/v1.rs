//! Plugin ABI version 1. Frozen: never edit a type in this module once
//! released; add `v2` instead.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RResult, RSlice, RStr, RString, RVec},
    StableAbi,
};

/// An error crossing the boundary: an integer kind (see
/// `certinspect_protocol::error_kind`) and a one-line message.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct AbiError {
    /// Kind code; integers so that the set can grow.
    pub kind: u32,
    /// One line, free of secrets.
    pub message: RString,
}

impl AbiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: u32, message: impl Into<RString>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// A host's answer to an HTTP request: response metadata as JSON
/// (`certinspect_protocol::HttpResponse` without the body) and the raw body.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct HttpReplyV1 {
    /// JSON: status and headers.
    pub meta_json: RString,
    /// The response body.
    pub body: RVec<u8>,
}

/// Services the host offers a plugin. The host implements it; the plugin
/// calls it, possibly from several threads.
#[sabi_trait]
pub trait HostV1: Clone + Send + Sync {
    /// Send an HTTP request. `meta_json` is a
    /// `certinspect_protocol::HttpRequest` without the body; `body` is the body.
    /// Errors carry a `certinspect_protocol::TransportError` as JSON in the message.
    fn http(&self, meta_json: RStr<'_>, body: RSlice<'_, u8>) -> RResult<HttpReplyV1, AbiError>;

    /// Emit a log record (`level`: 1 error .. 5 trace).
    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>);

    /// Milliseconds since the UNIX epoch.
    fn now_unix_ms(&self) -> i64;

    /// Whether the host has cancelled the current work.
    #[sabi(last_prefix_field)]
    fn is_cancelled(&self) -> bool;
}

/// The host-services object as it crosses: reference-counted so that a
/// plugin may keep and clone it.
pub type HostV1Box = HostV1_TO<'static, RArc<()>>;

/// An opened certificate source. The host sends JSON
/// `certinspect_protocol::SourceRequest`s and reads JSON
/// `certinspect_protocol::SourceResponse`s.
#[sabi_trait]
pub trait SourceV1: Send + Sync {
    /// Answer one request.
    #[sabi(last_prefix_field)]
    fn call(&self, request_json: RStr<'_>) -> RResult<RString, AbiError>;
}

/// An opened source as it crosses.
pub type SourceV1Box = SourceV1_TO<'static, RBox<()>>;

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModV1_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginModV1 {
    /// `certinspect_protocol::PluginInfo` as JSON.
    pub info: extern "C" fn() -> RResult<RString, AbiError>,

    /// Open a source with the plugin's configuration section (JSON) and the
    /// host's services.
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(config_json: RStr<'_>, host: HostV1Box) -> RResult<SourceV1Box, AbiError>,
}

impl RootModule for PluginModV1_Ref {
    declare_root_module_statics! {PluginModV1_Ref}
    const BASE_NAME: &'static str = "certinspect_plugin";
    const NAME: &'static str = "certinspect_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The ABI version this crate defines (its package version).
pub const ABI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The symbol abi_stable looks for in a plugin library. The SDK's export
/// macro emits it by hand (so plugins need no direct abi_stable dependency);
/// a test checks it against abi_stable's own constant.
pub const ROOT_MODULE_LOADER_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::library::ROOT_MODULE_LOADER_NAME;

    #[test]
    fn loader_symbol_matches_abi_stable() {
        assert_eq!(ROOT_MODULE_LOADER_SYMBOL, ROOT_MODULE_LOADER_NAME);
    }

    /// An accidental edit of a v1 type changes its layout; this compares the
    /// layout against the committed snapshot. To accept a deliberate change
    /// (before release only!) run with `UPDATE_ABI_SNAPSHOT=1`.
    #[test]
    fn layout_snapshot() {
        let layout = normalized(&format!("{:#?}", <PluginModV1_Ref as StableAbi>::LAYOUT));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/abi-v1.layout.txt");
        if std::env::var_os("UPDATE_ABI_SNAPSHOT").is_some() {
            std::fs::write(path, &layout).unwrap();
        }
        let committed = std::fs::read_to_string(path).expect("abi-v1.layout.txt is committed");
        assert!(committed == layout, "the v1 plugin ABI layout changed; v1 is frozen, add a v2 module instead");
    }

    /// The layout dump prints function and identity addresses and Rust
    /// `TypeId` hashes, which differ per build (they hash the crate's
    /// metadata, features included); none of them is part of the layout.
    fn normalized(dump: &str) -> String {
        let mut out = String::new();
        let mut skipping_until: Option<usize> = None;
        for line in dump.lines() {
            let indent = line.len() - line.trim_start().len();
            if let Some(end_indent) = skipping_until {
                if indent == end_indent && line.trim_start().starts_with('}') {
                    skipping_until = None;
                }
                continue;
            }
            if line.trim_start().starts_with("type_id: UTypeId {") {
                skipping_until = Some(indent);
                continue;
            }
            match line.find("0x") {
                Some(at) => {
                    let hex_end =
                        line[at + 2..].find(|c: char| !c.is_ascii_hexdigit()).map_or(line.len(), |n| at + 2 + n);
                    out.push_str(&format!("{}0x_{}", &line[..at], &line[hex_end..]));
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }
}
