//! Who may put code into the scan: before a library is loaded, the file
//! and every directory on its path must be writable by nobody but their
//! owner, and owned by root or the user running inspect (OpenSSH's
//! `StrictModes` rule); an optional allow-list pins libraries by SHA-256.
//!
//! The loader runs whatever library it finds, in a process holding cloud
//! credentials, so a library another user can replace is someone else's
//! code with your credentials.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What a library must satisfy to be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmissionPolicy {
    /// Refuse libraries that another user could have replaced (on by
    /// default; turning it off is an explicit opt-out).
    pub check_permissions: bool,
    /// When set, only libraries whose SHA-256 (lower-case hex) is listed load.
    pub allow: Option<Vec<String>>,
}

impl Default for AdmissionPolicy {
    fn default() -> Self {
        Self { check_permissions: true, allow: None }
    }
}

impl AdmissionPolicy {
    /// Parse an allow-list entry, `sha256:` and 64 hex digits, into the
    /// lower-case hex digest.
    pub fn parse_pin(entry: &str) -> Result<String, String> {
        entry
            .strip_prefix("sha256:")
            .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| format!("'{entry}' is not a library pin; expected \"sha256:\" and 64 hex digits"))
    }

    /// Check `library` and return its SHA-256 (lower-case hex), or say
    /// why it may not load and how to fix that.
    pub(crate) fn admit(&self, library: &Path) -> Result<String, String> {
        if self.check_permissions {
            check_permissions(library)?;
        }
        let bytes = std::fs::read(library).map_err(|e| format!("cannot read the library: {e}"))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(allow) = &self.allow {
            if !allow.contains(&digest) {
                return Err(format!(
                    "its SHA-256 is not on the allow-list ([plugins] allow); to trust this library add \
                     \"sha256:{digest}\""
                ));
            }
        }
        Ok(digest)
    }
}

/// Refuse a library that a user other than its owner or root can write,
/// or that lies in such a directory. A directory with the sticky bit
/// (`/tmp`) is fine: others cannot replace entries they do not own there.
#[cfg(unix)]
fn check_permissions(library: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let canonical = library.canonicalize().map_err(|e| format!("cannot resolve the library's path: {e}"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut path: Option<PathBuf> = Some(canonical.clone());
    while let Some(current) = path {
        let meta = std::fs::metadata(&current).map_err(|e| format!("cannot check {}: {e}", current.display()))?;
        let what = if current == canonical { "the library" } else { "a directory on its path" };
        if meta.uid() != 0 && meta.uid() != me {
            return Err(format!(
                "{what} {} belongs to another user (uid {}); only files of root or the user running inspect load \
                 (or set [plugins] check_permissions = false)",
                current.display(),
                meta.uid()
            ));
        }
        let sticky_dir = meta.is_dir() && meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky_dir {
            return Err(format!(
                "{what} {} is writable by other users (mode {:o}), so anyone could replace the code inspect runs; \
                 fix it with `chmod go-w {}` (or set [plugins] check_permissions = false)",
                current.display(),
                meta.mode() & 0o7777,
                current.display()
            ));
        }
        path = current.parent().map(Path::to_path_buf);
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_library: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pins_are_sha256_and_64_hex_digits() {
        let hex = "AB".repeat(32);
        assert_eq!(AdmissionPolicy::parse_pin(&format!("sha256:{hex}")), Ok("ab".repeat(32)));
        for bad in ["ab", "sha1:abcd", &format!("sha256:{}", "g".repeat(64)), &format!("sha256:{}", "a".repeat(63))] {
            assert!(AdmissionPolicy::parse_pin(bad).unwrap_err().contains("expected \"sha256:\""), "{bad}");
        }
    }

    #[test]
    fn writable_by_others_is_refused_with_the_fix_and_a_pin_must_match() {
        // In /tmp: its sticky bit makes it a safe directory to be under.
        let dir = std::env::temp_dir().join(format!("ci-admission-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let lib = dir.join("libx.so");
        std::fs::write(&lib, b"code").unwrap();
        let set = |path: &Path, mode| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        let policy = AdmissionPolicy::default();

        // (file mode, dir mode, refused path and mode, or admitted)
        let cases = [
            (0o644, 0o755, None),
            (0o666, 0o755, Some((lib.as_path(), "666"))),
            (0o644, 0o777, Some((dir.as_path(), "777"))),
            (0o644, 0o1777, None),
        ];
        for (file_mode, dir_mode, refused) in cases {
            set(&lib, file_mode);
            set(&dir, dir_mode);
            match (policy.admit(&lib), refused) {
                (Ok(digest), None) => assert_eq!(digest, hex::encode(Sha256::digest(b"code"))),
                (Err(reason), Some((path, mode))) => {
                    assert!(
                        reason.contains(&format!("{} is writable by other users (mode {mode})", path.display())),
                        "{reason}"
                    );
                    assert!(reason.contains(&format!("chmod go-w {}", path.display())), "{reason}");
                }
                (outcome, expected) => panic!("{file_mode:o}/{dir_mode:o}: {outcome:?}, expected refusal {expected:?}"),
            }
        }
        set(&lib, 0o666);
        set(&dir, 0o777);
        assert!(AdmissionPolicy { check_permissions: false, allow: None }.admit(&lib).is_ok(), "the opt-out");

        set(&lib, 0o644);
        set(&dir, 0o755);
        let digest = hex::encode(Sha256::digest(b"code"));
        let pinned = |pins: Vec<String>| AdmissionPolicy { check_permissions: true, allow: Some(pins) }.admit(&lib);
        assert_eq!(pinned(vec![digest.clone()]), Ok(digest.clone()));
        let refused = pinned(vec!["0".repeat(64)]).unwrap_err();
        assert!(refused.contains(&format!("add \"sha256:{digest}\"")), "{refused}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
