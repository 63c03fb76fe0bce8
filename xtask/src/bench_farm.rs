//! The peer benchmark's nginx farm, set up from here rather than by the
//! harness's `farm.sh`, for sizes and layouts `farm.sh` cannot serve.
//!
//! It is `farm.sh`'s nginx, configured the same way (one worker, TLS 1.2 and
//! 1.3, no session cache or tickets so every handshake is a full one,
//! `stub_status`, one ECDSA P-256 leaf `host-<i>.bench.test` signed by one
//! test CA, served alone), and laid out so that the harness's `farm.sh cpu`
//! and `run_peers.sh` work on it unchanged (`FARM_DIR`, `nginx.pid`,
//! `targets.txt`, `ca.pem`, `FARM_STATUS_PORT`). Two differences, and why:
//!
//! - **Leaves come from rcgen in this process**: 10,000 take about a second,
//!   where `farm.sh` runs two `openssl` processes per leaf (40 minutes for
//!   9,990 on the loaded 2-core machine).
//! - **Ports are the free ones**, not one fixed contiguous range: the
//!   farm's range 30000-39999 overlaps the kernel's ephemeral ports
//!   (32768-60999 here), so other programs' connections and test servers
//!   sit on some of them, and `farm.sh start 9990` failed with nginx's
//!   `bind() ... (98: Address already in use)`. Each port is tried on
//!   127.0.0.1 first and, when those run out, on ::1 — loopback only —
//!   and bound here, then handed to nginx, so none is lost in between.
//!
//! `per_chain` endpoints share each leaf (`host-<i / per_chain>`, sent as
//! SNI), for the benchmark of an analysis that grows with distinct chains.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certinspect_tls_farm::pki::{LeafOptions, TestCa, Validity};

/// The harness's port range: everything it reaches is in it.
const PORTS: std::ops::RangeInclusive<u16> = 30000..=39999;
/// nginx stops by itself after this long, as `farm.sh`'s `FARM_TTL`.
const TTL_SECONDS: u64 = 3600;

/// A running farm; stopped (gracefully, then killed) when dropped.
#[derive(Debug)]
pub struct Farm {
    dir: PathBuf,
    nginx: Child,
    /// The plain-HTTP `stub_status` port (`FARM_STATUS_PORT` for the harness).
    pub status_port: u16,
    /// `ADDRESS SNI` per endpoint, in order (the harness's targets format).
    pub targets: Vec<String>,
}

/// Starts a farm of `endpoints` in `dir` (emptied first), `per_chain`
/// endpoints sharing each leaf.
pub fn start(dir: &Path, endpoints: usize, per_chain: usize) -> Result<Farm, String> {
    let per_chain = per_chain.max(1);
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["certs", "logs", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let ca = TestCa::new("bench test CA").map_err(|e| e.to_string())?;
    write(dir, "ca.pem", &ca.pem())?;
    for i in 0..endpoints.div_ceil(per_chain) {
        let names = [format!("host-{i}.bench.test"), format!("alt-{i}.bench.test"), format!("*.host-{i}.bench.test")];
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // Expiries differ, as farm.sh's do.
        let days = 1 + (i as i64 * 37) % 825;
        let leaf = ca
            .issue_with(
                &names,
                Validity::days_from_now(days),
                &LeafOptions { leaf_only: true, ..LeafOptions::default() },
            )
            .map_err(|e| e.to_string())?;
        write(dir, &format!("certs/host-{i}.pem"), &leaf.chain_pem())?;
        write(dir, &format!("certs/host-{i}.key"), &leaf.key_pem())?;
    }
    // The listening sockets are bound here and handed to nginx (its
    // `NGINX` variable, meant for binary upgrades, names inherited sockets):
    // a port found free and released could be taken by someone else's
    // connection before nginx, which loads every certificate first, binds
    // it — `farm.sh start 9990` failed that way.
    let mut listeners = free_loopback_listeners(endpoints + 1)?;
    let status = listeners.remove(0);
    let status_port = status.local_addr().map_err(|e| format!("a bound socket has no address: {e}"))?.port();
    let addresses = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<Result<Vec<SocketAddr>, _>>()
        .map_err(|e| format!("a bound socket has no address: {e}"))?;
    let targets: Vec<String> =
        addresses.iter().enumerate().map(|(i, addr)| format!("{addr} host-{}.bench.test", i / per_chain)).collect();
    write(dir, "nginx.conf", &nginx_conf(dir, status_port, &addresses, per_chain))?;
    write(dir, "targets.txt", &(targets.join("\n") + "\n"))?;
    write(dir, "N", &format!("{endpoints}\n"))?;
    listeners.push(status);
    let mut farm = Farm { dir: dir.to_owned(), nginx: spawn_nginx(dir, &listeners)?, status_port, targets };
    farm.wait_ready(Duration::from_secs(120 + endpoints as u64 / 50))?;
    Ok(farm)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
}

/// nginx (daemon off) under `timeout`, which parents it so that the farm
/// stops by itself even if this process dies; in its own process group so
/// that a ^C meant for us does not reach it first. It inherits `listeners`
/// (only it: they stay close-on-exec for every other child of ours).
fn spawn_nginx(dir: &Path, listeners: &[TcpListener]) -> Result<Child, String> {
    let log = std::fs::File::create(dir.join("logs/nginx.out")).map_err(|e| format!("cannot create a log: {e}"))?;
    let fds: Vec<i32> = listeners.iter().map(AsRawFd::as_raw_fd).collect();
    let inherited: String = fds.iter().map(|fd| format!("{fd};")).collect();
    let mut command = Command::new("timeout");
    command
        .args(["-s", "QUIT", "-k", "30", &TTL_SECONDS.to_string(), "nginx", "-p"])
        .arg(format!("{}/", dir.display()))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("logs/error.log"))
        .env("NGINX", inherited)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| format!("cannot share a log: {e}"))?)
        .stderr(log)
        .process_group(0);
    // SAFETY: between fork and exec only fcntl(2), which is async-signal-safe,
    // on descriptors this process owns.
    unsafe {
        command.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command
        .spawn()
        .map_err(|e| format!("cannot start nginx (is it installed? `bash ../shared/bench/run_peers.sh setup`): {e}"))
}

impl Farm {
    /// Waits until nginx has written its pid and answers on the status port.
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.nginx.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(format!("nginx exited ({status}); its error log ends:\n{}", tail.join("\n")));
            }
            let status = SocketAddr::from((Ipv4Addr::LOCALHOST, self.status_port));
            if self.dir.join("nginx.pid").is_file()
                && TcpStream::connect_timeout(&status, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("nginx did not answer on 127.0.0.1:{} within {limit:?}", self.status_port))
    }

    /// The first `n` endpoints as the harness's `targets.txt`, which it counts.
    pub fn select(&self, n: usize) -> Result<(), String> {
        let text = self.targets.iter().take(n).map(|t| format!("{t}\n")).collect::<String>();
        std::fs::write(self.dir.join("targets.txt"), text).map_err(|e| format!("cannot write targets.txt: {e}"))
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        // SIGQUIT to nginx's master is its graceful stop; then `timeout` exits.
        let master = std::fs::read_to_string(self.dir.join("nginx.pid")).ok().and_then(|p| p.trim().parse().ok());
        if let Some(pid) = master {
            // SAFETY: kill(2) with a pid nginx wrote and a signal number.
            unsafe { libc::kill(pid, libc::SIGQUIT) };
        }
        for _ in 0..100 {
            if matches!(self.nginx.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nginx.kill();
        let _ = self.nginx.wait();
    }
}

/// `count` listening sockets on loopback ports in [`PORTS`] that nothing
/// else holds: 127.0.0.1's first, then ::1's.
fn free_loopback_listeners(count: usize) -> Result<Vec<TcpListener>, String> {
    let hosts = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
    let free: Vec<TcpListener> = hosts
        .iter()
        .flat_map(|ip| PORTS.map(move |port| SocketAddr::new(*ip, port)))
        // std sets SO_REUSEADDR, as nginx does, so a port only in TIME_WAIT counts as free.
        .filter_map(|addr| TcpListener::bind(addr).ok())
        .take(count)
        .collect();
    if free.len() < count {
        return Err(format!(
            "only {} of the {count} ports needed are free in {}-{} on 127.0.0.1 and ::1",
            free.len(),
            PORTS.start(),
            PORTS.end()
        ));
    }
    Ok(free)
}

/// `farm.sh`'s nginx.conf, for these addresses.
fn nginx_conf(dir: &Path, status_port: u16, endpoints: &[SocketAddr], per_chain: usize) -> String {
    // nginx takes a connection slot and a descriptor per listening socket.
    let slots = endpoints.len() + 4096;
    let d = dir.display();
    let mut conf = format!(
        "# generated by cargo xtask bench peers; farm.sh's settings\n\
         worker_processes 1;\nworker_rlimit_nofile {slots};\npid {d}/nginx.pid;\n\
         error_log {d}/logs/error.log warn;\ndaemon off;\n\
         events {{ worker_connections {slots}; use epoll; }}\n\
         http {{\n  access_log off;\n  server_tokens off;\n\
         client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         client_header_timeout 10s;\n  keepalive_timeout 5s;\n  ssl_protocols TLSv1.2 TLSv1.3;\n\
         ssl_session_cache off;\n  ssl_session_tickets off;\n\
         server {{ listen 127.0.0.1:{status_port}; location = /status {{ stub_status; }} }}\n"
    );
    for (i, addr) in endpoints.iter().enumerate() {
        let leaf = i / per_chain;
        let _ = writeln!(
            conf,
            "  server {{ listen {addr} ssl; server_name host-{leaf}.bench.test;\n    \
             ssl_certificate certs/host-{leaf}.pem; ssl_certificate_key certs/host-{leaf}.key;\n    \
             return 200 \"host-{leaf}\\n\"; }}"
        );
    }
    conf.push_str("}\n");
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_listen_where_bound_and_share_leaves_per_chain() {
        let endpoints: Vec<SocketAddr> =
            ["127.0.0.1:30001", "127.0.0.1:30002", "[::1]:30000"].iter().map(|a| a.parse().unwrap()).collect();
        let conf = nginx_conf(Path::new("/farm"), 30000, &endpoints, 2);
        let servers: Vec<(&str, &str)> = conf
            .lines()
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("server { listen ")?;
                let (listen, rest) = rest.split_once(" ssl; server_name ")?;
                Some((listen, rest.split_once(';')?.0))
            })
            .collect();
        assert_eq!(
            servers,
            [
                ("127.0.0.1:30001", "host-0.bench.test"),
                ("127.0.0.1:30002", "host-0.bench.test"),
                ("[::1]:30000", "host-1.bench.test")
            ]
        );
        assert!(conf.contains("server { listen 127.0.0.1:30000; location = /status { stub_status; } }"));
        assert!(conf.contains("ssl_session_cache off;") && conf.contains("ssl_session_tickets off;"));
        assert!(conf.contains("worker_processes 1;"));
    }
}
