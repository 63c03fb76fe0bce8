//! The real AWS emulator, `moto_server`, for the AWS plugin's tests and the
//! demo: one place that installs it, starts it and seeds it.
//!
//! - [`python`]: a virtualenv with the pinned moto, Flask and boto3
//!   (`python/requirements.txt`), created under a directory the caller
//!   names (tests and the demo both use `target/tmp/certinspect-aws`, so
//!   they share it), built aside and renamed into place so a half-built
//!   venv never looks ready, and reused while the pins are unchanged.
//! - [`Moto`]: `moto_server` on a free 127.0.0.1 port, run by
//!   `python/moto_host.py`, which stops it when its owner goes away (its
//!   stdin closes) and takes `reset` / `auth on|off` commands meanwhile.
//! - [`Moto::seed`]: `python/seed.py` creates what a plan describes (ACM
//!   imports, VPCs, load balancers, listeners, distributions, IAM server
//!   certificates, users) through moto's API with boto3, and answers with
//!   what moto assigned (ARNs, DNS names, ids).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;

#[cfg(test)]
use crate::python::pinned_venv_with;
use crate::python::{last_words, pinned_venv, VenvError};

/// What can go wrong installing, starting or driving moto.
#[derive(Debug)]
#[non_exhaustive]
pub enum MotoError {
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
    /// moto_server did not start or stopped answering.
    Server {
        /// Why, in a sentence.
        reason: String,
    },
    /// Seeding through moto's API failed.
    Seed {
        /// seed.py's last words.
        reason: String,
    },
}

impl MotoError {
    /// Python or moto cannot be installed here: an environment limit, not a
    /// bug (the demo then runs without its AWS part).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::PythonUnavailable { .. } | Self::InstallFailed { .. })
    }
}

impl std::fmt::Display for MotoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PythonUnavailable { python, reason } => {
                write!(f, "cannot create a Python virtualenv with {python}: {reason}")
            }
            Self::InstallFailed { reason } => write!(f, "pip could not install moto: {reason}"),
            Self::Server { reason } => write!(f, "moto_server: {reason}"),
            Self::Seed { reason } => write!(f, "seeding moto failed: {reason}"),
        }
    }
}

impl std::error::Error for MotoError {}

/// `python/` of this crate: the scripts and the pins.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The venv's interpreter (moto, Flask, boto3), created under `work` on
/// first use (see [`crate::python`]). A missing `python3`, or one without
/// `venv`, is [`MotoError::PythonUnavailable`]; a failed pip install
/// (offline) is [`MotoError::InstallFailed`].
pub fn python(work: &Path) -> Result<PathBuf, MotoError> {
    pinned_venv(work, &scripts().join("requirements.txt")).map_err(MotoError::from)
}

impl From<VenvError> for MotoError {
    fn from(error: VenvError) -> Self {
        match error {
            VenvError::PythonUnavailable { python, reason } => MotoError::PythonUnavailable { python, reason },
            VenvError::InstallFailed { reason } => MotoError::InstallFailed { reason },
        }
    }
}

/// `python` with the environment moto's tools get: loopback never through
/// a proxy, and no real AWS credentials or metadata service in reach.
fn python_command(python: &Path) -> Command {
    let mut command = Command::new(python);
    command
        .env("NO_PROXY", "127.0.0.1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    command
}

/// The control channel to moto_host.py: commands down, one answer line each.
struct Control {
    /// `None` once closed (dropping it stops the server).
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// A running `moto_server` on 127.0.0.1, stopped when dropped or when the
/// owning process exits.
pub struct Moto {
    url: String,
    python: PathBuf,
    control: Mutex<Control>,
    child: Child,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Moto {
    /// Starts moto_server with the venv interpreter `python` (see
    /// [`python`]) on a free loopback port and waits until it answers.
    pub fn start(python: &Path) -> Result<Self, MotoError> {
        let server = |reason: String| MotoError::Server { reason };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| server(format!("no free loopback port: {e}")))?
            .port();
        let mut child = python_command(python)
            .arg(scripts().join("moto_host.py"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| server(format!("cannot run moto_host.py: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(server("moto_host.py has no pipes".into()));
        };
        let mut moto = Self {
            url: format!("http://127.0.0.1:{port}"),
            python: python.to_owned(),
            control: Mutex::new(Control { stdin: Some(stdin), stdout: BufReader::new(stdout) }),
            child,
        };
        let first = moto.control.get_mut().map_err(|_| server("control poisoned".into()))?.read_line()?;
        if first != "ready" {
            return Err(server(if first.is_empty() { "it did not start".into() } else { first }));
        }
        Ok(moto)
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The venv interpreter it runs with (for seeding helpers).
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Forgets everything seeded (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<(), MotoError> {
        self.command("reset")
    }

    /// Switches request authentication (signatures checked against moto's
    /// IAM access keys, IAM policies evaluated) on or off.
    pub fn set_authentication(&self, on: bool) -> Result<(), MotoError> {
        self.command(if on { "auth on" } else { "auth off" })
    }

    fn command(&self, command: &str) -> Result<(), MotoError> {
        let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let stdin = control.stdin.as_mut().ok_or_else(|| MotoError::Server { reason: "it was stopped".into() })?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| MotoError::Server { reason: format!("cannot send {command:?}: {e}") })?;
        match control.read_line()?.as_str() {
            "ok" => Ok(()),
            answer => Err(MotoError::Server { reason: format!("{command:?} failed: {answer}") }),
        }
    }

    /// Creates what `plan` describes (the format is documented in
    /// `python/seed.py`) and returns what moto assigned.
    pub fn seed(&self, plan: &Value) -> Result<Value, MotoError> {
        let seed = |reason: String| MotoError::Seed { reason };
        let mut child = python_command(&self.python)
            .arg(scripts().join("seed.py"))
            .arg(&self.url)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| seed(format!("cannot run seed.py: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(plan.to_string().as_bytes()).map_err(|e| seed(format!("cannot send the plan: {e}")))?;
        }
        let output = child.wait_with_output().map_err(|e| seed(format!("seed.py: {e}")))?;
        if !output.status.success() {
            return Err(seed(last_words(&output)));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| seed(format!("seed.py did not answer with JSON: {e}")))
    }
}

impl Control {
    fn read_line(&mut self) -> Result<String, MotoError> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| MotoError::Server { reason: format!("no answer from moto_host.py: {e}") })?;
        Ok(line.trim().to_owned())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // End-of-file on its stdin stops moto_host.py and the server (it
        // waits up to ten seconds for the server, then kills it).
        if let Ok(control) = self.control.get_mut() {
            control.stdin = None;
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    //! What the demo treats as "no AWS part here": no Python, or pip unable
    //! to install (offline). Both leave no venv behind that looks ready.
    use super::*;

    fn venvs_in(work: &Path) -> Vec<String> {
        std::fs::read_dir(work)
            .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_missing_interpreter_is_python_unavailable() {
        let work = tempfile::tempdir().unwrap();
        let requirements = scripts().join("requirements.txt");
        let error =
            MotoError::from(pinned_venv_with("/nonexistent/python3", work.path(), &requirements, &[]).unwrap_err());
        assert!(matches!(error, MotoError::PythonUnavailable { .. }), "{error:?}");
        assert!(error.is_unavailable());
        let message = error.to_string();
        assert!(
            message.starts_with("cannot create a Python virtualenv with /nonexistent/python3: cannot run it:"),
            "{message}"
        );
        assert!(venvs_in(work.path()).is_empty(), "{:?}", venvs_in(work.path()));
    }

    #[test]
    fn an_unreachable_package_index_is_a_failed_install_and_leaves_no_venv() {
        let work = tempfile::tempdir().unwrap();
        // The discard port on loopback: refused at once, no retries, no
        // cached wheels, no pip configuration of this machine.
        let offline = [
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
            ("PIP_NO_CACHE_DIR", "1"),
            ("PIP_CONFIG_FILE", "/dev/null"),
            ("NO_PROXY", "127.0.0.1"),
        ];
        let requirements = scripts().join("requirements.txt");
        let error = MotoError::from(pinned_venv_with("python3", work.path(), &requirements, &offline).unwrap_err());
        assert!(matches!(error, MotoError::InstallFailed { .. }), "{error:?}");
        assert!(error.is_unavailable());
        assert!(error.to_string().starts_with("pip could not install moto: No matching distribution"), "{error}");
        assert!(venvs_in(work.path()).is_empty(), "{:?}", venvs_in(work.path()));
    }

    #[test]
    fn server_and_seed_failures_are_not_unavailability() {
        for error in [MotoError::Server { reason: "it did not start".into() }, MotoError::Seed { reason: "x".into() }] {
            assert!(!error.is_unavailable(), "{error}");
        }
    }
}
