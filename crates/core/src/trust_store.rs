//! Loading the roots trust is verified against: the built-in Mozilla set,
//! the operating system's bundle, or none, plus PEM files; and saying which
//! (`TrustStoreInfo`, the report's `trust_store` header).
//!
//! I/O (reading files) lives here so the analysis crate stays pure; it
//! receives a ready [`TrustStore`].

use std::path::{Path, PathBuf};

use certinspect_analysis::TrustStore;
use serde::{Deserialize, Serialize};

/// Which roots to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrustBase {
    /// The Mozilla root program, built in (webpki-roots).
    #[default]
    Mozilla,
    /// The operating system's bundle.
    System,
    /// No roots: only the files given.
    None,
}

impl TrustBase {
    /// The name in the report and on the command line: `mozilla`, `system`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustBase::Mozilla => "mozilla",
            TrustBase::System => "system",
            TrustBase::None => "none",
        }
    }
}

/// Which roots a trust store holds, for the report's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrustStoreInfo {
    /// The roots started from.
    pub base: TrustBase,
    /// The bundle read for [`TrustBase::System`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_bundle: Option<String>,
    /// The PEM files added, in order.
    #[serde(default)]
    pub ca_files: Vec<CaFileInfo>,
    /// Trust anchors in the store, all told.
    pub roots: usize,
}

impl TrustStoreInfo {
    /// What `store` is, when it was not loaded by [`load_trust_store`]:
    /// `base` and its size, no files.
    pub fn describe(base: TrustBase, store: &TrustStore) -> Self {
        TrustStoreInfo { base, system_bundle: None, ca_files: Vec::new(), roots: store.len() }
    }
}

/// One CA file of a trust store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CaFileInfo {
    /// The path as given.
    pub path: String,
    /// Certificates read from it.
    pub certificates: usize,
}

/// Why a trust store could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustStoreError {
    /// A CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
    /// The system bundle was asked for and none was found.
    #[error("no system certificate bundle found at {searched} (set SSL_CERT_FILE)")]
    NoSystemBundle {
        /// The paths looked at, comma-separated.
        searched: String,
    },
}

/// The system bundle's well-known paths (Debian/Ubuntu, Fedora/RHEL,
/// Alpine/openSUSE), after `SSL_CERT_FILE`, as OpenSSL looks.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// `base` plus the roots in each of `ca_files` (PEM), and what that is in
/// words for the report.
pub fn load_trust_store(base: TrustBase, ca_files: &[&Path]) -> Result<(TrustStore, TrustStoreInfo), TrustStoreError> {
    let (mut store, system_bundle) = match base {
        TrustBase::Mozilla => (TrustStore::mozilla(), None),
        TrustBase::None => (TrustStore::empty(), None),
        TrustBase::System => {
            let (store, path) = system_store()?;
            (store, Some(path.display().to_string()))
        }
    };
    let mut files = Vec::new();
    for path in ca_files {
        let roots = read_pem(path)?;
        files.push(CaFileInfo { path: path.display().to_string(), certificates: roots.len() });
        store.extend(roots);
    }
    let info = TrustStoreInfo { base, system_bundle, ca_files: files, roots: store.len() };
    Ok((store, info))
}

fn read_pem(path: &Path) -> Result<TrustStore, TrustStoreError> {
    let error = |reason: String| TrustStoreError::CaFile { path: path.to_owned(), reason };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    TrustStore::from_pem(&pem).map_err(|e| error(e.to_string()))
}

fn system_store() -> Result<(TrustStore, PathBuf), TrustStoreError> {
    let candidates: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.map(PathBuf::from))
        .collect();
    for path in &candidates {
        if path.is_file() {
            return Ok((read_pem(path)?, path.clone()));
        }
    }
    let searched = candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(TrustStoreError::NoSystemBundle { searched })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_names_the_file() {
        let error = load_trust_store(TrustBase::None, &[Path::new("/nonexistent/ca.pem")]).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("CA file /nonexistent/ca.pem: "), "{text}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("certinspect-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("empty.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        assert!(matches!(load_trust_store(TrustBase::None, &[&file]), Err(TrustStoreError::CaFile { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn none_is_empty_and_mozilla_is_not() {
        let (none, info) = load_trust_store(TrustBase::None, &[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(info, TrustStoreInfo::describe(TrustBase::None, &none));
        let (mozilla, info) = load_trust_store(TrustBase::Mozilla, &[]).unwrap();
        assert!(!mozilla.is_empty());
        assert_eq!(info.roots, mozilla.len());
    }

    #[test]
    fn the_description_names_each_file_and_counts_its_roots() {
        let dir = std::env::temp_dir().join(format!("certinspect-trust-info-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("two.pem");
        let pem = |name: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.self_signed(&key).unwrap().pem()
        };
        std::fs::write(&file, pem("Root A") + &pem("Root B")).unwrap();
        let (store, info) = load_trust_store(TrustBase::None, &[&file]).unwrap();
        assert_eq!(store.len(), 2);
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "base": "none",
                "ca_files": [{ "path": file.display().to_string(), "certificates": 2 }],
                "roots": 2
            })
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
