//! Pinned Python virtualenvs, for the tests and the demo that need a real
//! Python tool (moto, botocore, jsonschema, ...): one venv per set of pins,
//! under a directory the caller names, reused while the pins are unchanged.
//!
//! A venv is built aside and renamed into place, so one interrupted halfway
//! (or built by a concurrent process) never looks ready. Callers that may
//! ask from several threads keep the answer in a `OnceLock`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Why no venv could be had.
#[derive(Debug)]
#[non_exhaustive]
pub enum VenvError {
    /// No usable Python: the interpreter is missing or cannot create a venv.
    PythonUnavailable {
        /// The interpreter tried (`$PYTHON`, else `python3`).
        python: String,
        /// Why, in a sentence.
        reason: String,
    },
    /// pip could not install the pinned packages (offline, no index, ...).
    InstallFailed {
        /// pip's last words.
        reason: String,
    },
}

impl std::fmt::Display for VenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PythonUnavailable { python, reason } => {
                write!(f, "cannot create a Python virtualenv with {python}: {reason}")
            }
            Self::InstallFailed { reason } => write!(f, "pip could not install the pinned packages: {reason}"),
        }
    }
}

impl std::error::Error for VenvError {}

/// The interpreter of a venv under `work` with the packages pinned in
/// `requirements` installed; `$PYTHON` (else `python3`) creates it.
pub fn pinned_venv(work: &Path, requirements: &Path) -> Result<PathBuf, VenvError> {
    pinned_venv_with(&std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()), work, requirements, &[])
}

/// [`pinned_venv`] with the system interpreter `system`, and `pip_env` added
/// to pip's environment (tests point pip at an unreachable index).
pub(crate) fn pinned_venv_with(
    system: &str,
    work: &Path,
    requirements: &Path,
    pip_env: &[(&str, &str)],
) -> Result<PathBuf, VenvError> {
    let unavailable = |reason: String| VenvError::PythonUnavailable { python: system.to_owned(), reason };
    let pins = std::fs::read_to_string(requirements)
        .map_err(|e| unavailable(format!("cannot read {}: {e}", requirements.display())))?;
    // FNV-1a of the pins: stable across runs and Rust versions, so a venv
    // is reused exactly while the pins are unchanged.
    let key = pins.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let venv = work.join(format!("venv-{key:016x}"));
    let python = venv.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(work).map_err(|e| unavailable(format!("cannot create {}: {e}", work.display())))?;
    let building = work.join(format!("venv-building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let created = Command::new(system)
        .arg("-m")
        .arg("venv")
        .arg(&building)
        .output()
        .map_err(|e| unavailable(format!("cannot run it: {e}")))?;
    if !created.status.success() {
        let _ = std::fs::remove_dir_all(&building);
        return Err(unavailable(last_words(&created)));
    }
    let installed = Command::new(building.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(requirements)
        .envs(pip_env.iter().copied())
        .output()
        .map_err(|e| VenvError::InstallFailed { reason: format!("cannot run pip: {e}") })?;
    if !installed.status.success() {
        let _ = std::fs::remove_dir_all(&building);
        return Err(VenvError::InstallFailed { reason: last_words(&installed) });
    }
    // Another process may have finished the same venv first: keep theirs.
    if std::fs::rename(&building, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    Ok(python)
}

/// The last non-empty line of a process's stderr (else stdout), for a
/// one-sentence error.
pub(crate) fn last_words(output: &Output) -> String {
    // pip prefixes its messages with "ERROR: "; the message is what a person needs.
    let text = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().trim_start_matches("ERROR: ").to_owned())
    };
    text(&output.stderr).or_else(|| text(&output.stdout)).unwrap_or_else(|| format!("it exited with {}", output.status))
}
