//! The real Prometheus, for the tests whose consumer it is: `promtool`
//! (`check metrics` on an exposition, `check rules` on a rules file) and the
//! server itself, scraping on loopback and answering its query API.
//!
//! Both come from Debian's `prometheus` package: taken from `PATH` when
//! installed, else fetched with `apt-get download` (no root needed) and
//! unpacked with `dpkg-deb -x` under a directory the caller names, once;
//! later runs reuse it. The unpacked tree is built aside and renamed into
//! place, so one interrupted halfway never looks ready.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::python::last_words;

/// Where `promtool` and `prometheus` are.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `promtool`.
    pub promtool: PathBuf,
    /// The `prometheus` server.
    pub prometheus: PathBuf,
}

/// The Prometheus tools: on `PATH`, else from Debian's package unpacked
/// under `work` (fetched on first use). The error is a sentence.
pub fn tools(work: &Path) -> Result<Tools, String> {
    if let (Some(promtool), Some(prometheus)) = (on_path("promtool"), on_path("prometheus")) {
        return Ok(Tools { promtool, prometheus });
    }
    let unpacked = work.join("prometheus-deb");
    let in_tree =
        |root: &Path| Tools { promtool: root.join("usr/bin/promtool"), prometheus: root.join("usr/bin/prometheus") };
    if in_tree(&unpacked).prometheus.exists() {
        return Ok(in_tree(&unpacked));
    }
    let building = work.join(format!("prometheus-building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).map_err(|e| format!("cannot create {}: {e}", building.display()))?;
    let fail = |message: String| {
        let _ = std::fs::remove_dir_all(&building);
        message
    };
    let download = Command::new("apt-get")
        .args(["download", "prometheus"])
        .current_dir(&building)
        .output()
        .map_err(|e| fail(format!("cannot run apt-get to fetch Debian's prometheus package: {e}")))?;
    if !download.status.success() {
        return Err(fail(format!(
            "apt-get could not download Debian's prometheus package (run `apt-get update` first?): {}",
            last_words(&download)
        )));
    }
    let deb = std::fs::read_dir(&building)
        .ok()
        .and_then(|entries| entries.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "deb")))
        .ok_or_else(|| fail("apt-get download left no .deb file".to_owned()))?;
    let tree = building.join("tree");
    let unpack = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&tree)
        .output()
        .map_err(|e| fail(format!("cannot run dpkg-deb: {e}")))?;
    if !unpack.status.success() {
        return Err(fail(format!("dpkg-deb could not unpack {}: {}", deb.display(), last_words(&unpack))));
    }
    // Another process may have finished first: keep theirs.
    if std::fs::rename(&tree, &unpacked).is_err() && !in_tree(&unpacked).prometheus.exists() {
        return Err(fail(format!("cannot move the unpacked package to {}", unpacked.display())));
    }
    let _ = std::fs::remove_dir_all(&building);
    Ok(in_tree(&unpacked))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

impl Tools {
    /// `promtool check metrics` on `exposition` (stdin): Ok, or promtool's
    /// complaints.
    pub fn check_metrics(&self, exposition: &str) -> Result<(), String> {
        let mut child = Command::new(&self.promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.promtool.display()))?;
        // promtool reads all of stdin before it answers; the pipe closes on drop.
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(exposition.as_bytes()).map_err(|e| format!("cannot feed promtool: {e}"))?;
        }
        let output = child.wait_with_output().map_err(|e| format!("promtool: {e}"))?;
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        // Lint problems exit non-zero (3); anything it prints is a problem.
        if output.status.success() && said.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("promtool check metrics ({}): {said}", output.status))
        }
    }

    /// `promtool check rules FILE`: Ok with promtool's summary, or its complaints.
    pub fn check_rules(&self, file: &Path) -> Result<String, String> {
        let output = Command::new(&self.promtool)
            .args(["check", "rules"])
            .arg(file)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.promtool.display()))?;
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if output.status.success() {
            Ok(said)
        } else {
            Err(format!("promtool check rules ({}): {said}", output.status))
        }
    }
}

/// A Prometheus server on 127.0.0.1 scraping one target every second,
/// killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Start it with its data under `dir` (created), scraping
    /// `http://TARGET/metrics`; returns once it answers `/-/ready`, or an
    /// error after 30 seconds.
    pub fn start(tools: &Tools, dir: &Path, target: SocketAddr) -> Result<Server, String> {
        if !target.ip().is_loopback() {
            return Err(format!("refusing to scrape {target}: tests scrape loopback only"));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let config = dir.join("prometheus.yml");
        let text = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: certinspect\n    \
             static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        // A free port, released just before Prometheus binds it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?;
        let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| format!("cannot create log: {e}"))?;
        let child = Command::new(&tools.prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", tools.prometheus.display()))?;
        let mut server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if matches!(http_get(addr, "/-/ready"), Ok((200, _))) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
                return Err(format!("prometheus exited ({status}): {}", log.lines().last().unwrap_or("")));
            }
            if Instant::now() > deadline {
                return Err("prometheus was not ready within 30 seconds".to_owned());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JSON answer of `/api/v1/query?query=EXPR`.
    pub fn query(&self, expr: &str) -> Result<serde_json::Value, String> {
        let encoded: String = expr
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={encoded}"))?;
        if status != 200 {
            return Err(format!("query {expr}: HTTP {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("query {expr}: not JSON: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 GET on loopback: the status and the body, within 5 seconds.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(5);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(|e| format!("no answer from {addr}: {e}"))?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{addr} answered no HTTP status line: {status_line:?}"))?;
    let mut rest = String::new();
    reader.read_to_string(&mut rest).map_err(|e| format!("reading from {addr}: {e}"))?;
    let body = rest.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}
