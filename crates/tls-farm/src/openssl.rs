//! Real `openssl s_server` processes on 127.0.0.1, for the servers rustls
//! will not be: TLS 1.0/1.1 only, RSA-1024 and DSA keys, old cipher
//! suites. Certificates are generated at run time ([`crate::pki`] or
//! `openssl req`) into a directory the caller owns; each server is killed
//! when its handle is dropped.
//!
//! Needs the OpenSSL 3 command-line tool. Without it every function fails
//! with [`FarmError::Openssl`] saying to install it: tests that need a real
//! legacy server should fail, not skip.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::{pem, Issued};
use crate::FarmError;

/// The `openssl` command: `/usr/bin/openssl`, `/usr/local/bin/openssl` or
/// the first on `PATH`.
pub fn command() -> Result<PathBuf, FarmError> {
    let fixed = [PathBuf::from("/usr/bin/openssl"), PathBuf::from("/usr/local/bin/openssl")];
    let found = fixed.into_iter().find(|p| p.is_file()).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join("openssl")).find(|p| p.is_file())
    });
    found.ok_or_else(|| {
        FarmError::Openssl(
            "the OpenSSL 3 command-line tool is needed to run real legacy TLS servers and was not found: \
             install it (Debian/Ubuntu: `apt-get install openssl`) and run again"
                .into(),
        )
    })
}

/// Runs `openssl ARGS` in `dir`; an error carries its stderr.
pub fn run(dir: &Path, args: &[&str]) -> Result<(), FarmError> {
    let out = Command::new(command()?)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| FarmError::Openssl(format!("could not run openssl {}: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FarmError::Openssl(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A self-signed certificate for `name` (CN and DNS SAN) with a fresh key
/// from `openssl req -newkey KEY_SPEC` (`rsa:1024`, `dsa:PARAMS_FILE`),
/// valid 30 days, written as `NAME.pem` and `NAME.key` in `dir`. Returns
/// the certificate's DER.
pub fn self_signed(dir: &Path, name: &str, key_spec: &str) -> Result<Vec<u8>, FarmError> {
    let (cert, key, der) = (format!("{name}.pem"), format!("{name}.key"), format!("{name}.der"));
    let subject = format!("/CN={name}");
    let san = format!("subjectAltName=DNS:{name}");
    run(
        dir,
        &[
            "req", "-x509", "-newkey", key_spec, "-nodes", "-keyout", &key, "-out", &cert, "-days", "30", "-subj",
            &subject, "-addext", &san,
        ],
    )?;
    run(dir, &["x509", "-in", &cert, "-outform", "DER", "-out", &der])?;
    std::fs::read(dir.join(&der)).map_err(|e| FarmError::Openssl(format!("reading {der}: {e}")))
}

/// Writes `issued` for s_server as `NAME.pem` (the leaf), `NAME-chain.pem`
/// (the rest of the chain, for `-cert_chain`) and `NAME.key`.
pub fn write_issued(dir: &Path, name: &str, issued: &Issued) -> Result<(), FarmError> {
    let rest: String = issued.chain[1..].iter().map(|c| pem("CERTIFICATE", c)).collect();
    write(dir, &format!("{name}.pem"), &pem("CERTIFICATE", issued.leaf()))?;
    write(dir, &format!("{name}-chain.pem"), &rest)?;
    write(dir, &format!("{name}.key"), &issued.key_pem())
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<(), FarmError> {
    std::fs::File::create(dir.join(name))
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| FarmError::Openssl(format!("writing {name}: {e}")))
}

/// One `openssl s_server` process on 127.0.0.1, serving until dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    // Held open: s_server treats the end of its input as "quit".
    _stdin: ChildStdin,
    addr: SocketAddr,
}

impl Server {
    /// Starts `openssl s_server -accept 127.0.0.1:0 -cert CERT -key KEY
    /// EXTRA...` in `dir` (paths relative to it) and waits, up to ten
    /// seconds, for the line naming the port it listens on.
    pub fn start(dir: &Path, cert: &str, key: &str, extra: &[&str]) -> Result<Server, FarmError> {
        let mut child = Command::new(command()?)
            .args(["s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| FarmError::Openssl(format!("could not start openssl s_server: {e}")))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the ACCEPT line, then keeps draining so that s_server never
        // blocks on a full pipe; ends with the process.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                if !sent {
                    if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                        sent = tx.send(addr.to_owned()).is_ok();
                    }
                }
                line.clear();
            }
        });
        let until = Instant::now() + Duration::from_secs(10);
        let failed = |child: &mut Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            Err(FarmError::Openssl(format!("openssl s_server {}: {why}", extra.join(" "))))
        };
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(text) => match text.parse::<SocketAddr>() {
                    Ok(addr) if addr.ip().is_loopback() => break addr,
                    _ => return failed(&mut child, format!("listens on {text:?}, not a loopback address")),
                },
                Err(_) if Instant::now() > until => {
                    return failed(&mut child, "did not start listening within 10 s".into());
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return failed(
                            &mut child,
                            format!("exited at start ({status}); run the same command by hand to see why"),
                        );
                    }
                }
            }
        };
        Ok(Server { child, _stdin: stdin, addr })
    }

    /// Where it listens (127.0.0.1 and a port of its choosing).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
