//! Real `openssl s_server` processes on 127.0.0.1 for the servers rustls
//! will not be: TLS 1.0/1.1 only, RSA-1024 and DSA keys, client
//! certificates required. Each server gets its own temporary directory for
//! the PEM files generated at test time and is killed when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The `openssl` command. A missing tool fails the test with what to do:
/// these are the only real legacy servers the suite has.
pub fn openssl() -> PathBuf {
    let candidates = [PathBuf::from("/usr/bin/openssl"), PathBuf::from("/usr/local/bin/openssl")];
    let found = candidates.into_iter().find(|p| p.exists()).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join("openssl")).find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "these tests start real `openssl s_server` processes and need the OpenSSL 3 command-line tool: \
             install it (Debian/Ubuntu: `apt-get install openssl`) and run them again"
        )
    })
}

/// Runs `openssl ARGS` in `dir` and fails the test with its stderr when it fails.
pub fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(openssl()).args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// A self-signed certificate for `name` with a fresh key made by
/// `openssl req -newkey KEY_SPEC` (`rsa:1024`, `dsa:params.pem`, ...), written
/// as `NAME.pem` and `NAME.key` in `dir`. Returns the certificate's DER.
pub fn self_signed_with_openssl(dir: &Path, name: &str, key_spec: &str) -> Vec<u8> {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    run(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            key_spec,
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "30",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            &format!("subjectAltName=DNS:{name}"),
        ],
    );
    let der = dir.join(format!("{name}.der"));
    run(dir, &["x509", "-in", &cert, "-outform", "DER", "-out", der.to_str().unwrap()]);
    std::fs::read(der).unwrap()
}

/// One `openssl s_server` process serving until dropped.
pub struct Server {
    child: Child,
    // Held open: s_server treats end of input as "quit".
    _stdin: ChildStdin,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `openssl s_server -accept 127.0.0.1:0 -cert CERT -key KEY
    /// EXTRA...` in `dir` (paths relative to it) and waits for its ACCEPT
    /// line, which names the port.
    pub fn start(dir: &Path, cert: &str, key: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(openssl())
            .args(["s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the ACCEPT line, then keeps draining so that s_server never
        // blocks on a full pipe.
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
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => break addr.parse::<SocketAddr>().expect("ACCEPT names an address"),
                Err(_) if Instant::now() > until => {
                    let _ = child.kill();
                    panic!("openssl s_server {extra:?} did not start listening within 10 s");
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("openssl s_server {extra:?} exited at start ({status}); run it by hand to see why");
                    }
                }
            }
        };
        assert!(addr.ip().is_loopback(), "s_server listens on {addr}");
        Server { child, _stdin: stdin, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::File::create(dir.join(name)).and_then(|mut f| f.write_all(text.as_bytes())).unwrap();
}
