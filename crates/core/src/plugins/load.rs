//! Loading one library file, with one-line errors.

use std::path::Path;

use certinspect_abi::abi_stable::library::{lib_header_from_path, LibraryError};
use certinspect_abi::{PluginModV1_Ref, ABI_VERSION};

use super::PluginOrigin;

/// A plugin that was refused: where it came from and why, in one line.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The file (or static module) refused.
    pub origin: PluginOrigin,
    /// One line saying what is wrong and, where it helps, which side to rebuild.
    pub reason: String,
    /// The full diagnostic (abi_stable's layout dump), for `--verbose`.
    pub detail: Option<String>,
}

impl LoadFailure {
    pub(crate) fn new(origin: PluginOrigin, reason: String) -> Self {
        Self { origin, reason, detail: None }
    }
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.origin, self.reason)
    }
}

/// Open `path` as its own module and check its ABI version and layout.
pub(crate) fn load_library(path: &Path) -> Result<PluginModV1_Ref, LoadFailure> {
    let origin = PluginOrigin::File(path.to_owned());
    let refuse = |error: LibraryError| LoadFailure {
        origin: origin.clone(),
        reason: one_line(&error),
        detail: Some(error.to_string()),
    };
    let header = lib_header_from_path(path).map_err(refuse)?;
    header.init_root_module::<PluginModV1_Ref>().map_err(refuse)
}

/// abi_stable's errors can run to several screens; users get one line.
fn one_line(error: &LibraryError) -> String {
    match error {
        LibraryError::OpenError { err, .. } => format!("cannot open the library: {}", first_line(&err.to_string())),
        LibraryError::GetSymbolError { .. } => "not a certinspect plugin (no plugin header in this library)".into(),
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => format!(
            "incompatible plugin ABI: the plugin was built against certinspect-abi {actual_version}, \
             this inspect expects {expected_version}; rebuild the plugin against certinspect-abi {expected_version}"
        ),
        LibraryError::AbiInstability(_) => format!(
            "incompatible plugin ABI: the plugin's interface layout does not match certinspect-abi {ABI_VERSION}; \
             rebuild the plugin against certinspect-abi {ABI_VERSION} (details with --verbose)"
        ),
        LibraryError::InvalidAbiHeader(_) => format!(
            "incompatible abi_stable: the plugin was built with an incompatible abi_stable; \
             rebuild it against certinspect-abi {ABI_VERSION}"
        ),
        LibraryError::InvalidCAbi { .. } => "incompatible C ABI; rebuild the plugin with the same target".into(),
        LibraryError::ParseVersionError(e) => format!("unreadable plugin ABI version: {e}"),
        LibraryError::RootModule { .. } => {
            format!("the plugin failed while initialising: {}", first_line(&error.to_string()))
        }
        LibraryError::Many(errors) => errors.iter().map(one_line).next().unwrap_or_else(|| "unknown load error".into()),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or(text).trim()
}
