//! Loading the roots trust is verified against: the built-in Mozilla set,
//! the operating system's bundle, or none, plus PEM files.
//!
//! I/O (reading files) lives here so the analysis crate stays pure; it
//! receives a ready [`TrustStore`].

use std::path::{Path, PathBuf};

use certinspect_analysis::TrustStore;

/// Which roots to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// `base` plus the roots in each of `ca_files` (PEM).
pub fn load_trust_store(base: TrustBase, ca_files: &[&Path]) -> Result<TrustStore, TrustStoreError> {
    let mut store = match base {
        TrustBase::Mozilla => TrustStore::mozilla(),
        TrustBase::None => TrustStore::empty(),
        TrustBase::System => system_store()?,
    };
    for path in ca_files {
        store.extend(read_pem(path)?);
    }
    Ok(store)
}

fn read_pem(path: &Path) -> Result<TrustStore, TrustStoreError> {
    let error = |reason: String| TrustStoreError::CaFile { path: path.to_owned(), reason };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    TrustStore::from_pem(&pem).map_err(|e| error(e.to_string()))
}

fn system_store() -> Result<TrustStore, TrustStoreError> {
    let candidates: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.map(PathBuf::from))
        .collect();
    for path in &candidates {
        if path.is_file() {
            return read_pem(path);
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
        assert!(load_trust_store(TrustBase::None, &[]).unwrap().is_empty());
        assert!(!load_trust_store(TrustBase::Mozilla, &[]).unwrap().is_empty());
    }
}
