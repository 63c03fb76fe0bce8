//! A small blocking `HostServices` for the integration tests: HTTP/1.1 over
//! a plain `TcpStream`, to 127.0.0.1 only, one connection per request, real
//! clock and real sleeps, and the host's spacing of rate-limited requests
//! (`certinspect_protocol::RateLimiter`). It reports a body shorter than its
//! `Content-Length` as a transport error, like the real host does.

#![allow(dead_code)]

use certinspect_protocol::{
    HostServices, HttpRequest, HttpResponse, LogLevel, RateLimiter, TransportError, TransportErrorKind,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Largest response accepted (the loopback servers answer far less).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

#[derive(Debug, Default)]
pub struct LoopbackHost {
    pub logs: Mutex<Vec<String>>,
    pub requests: AtomicUsize,
    /// Like curl's `--connect-to`: every request, whatever its URL's host and
    /// scheme, goes over plain HTTP to this loopback address, keeping its
    /// `host` header (so resolved endpoints like `https://cdn.aliyuncs.com`
    /// reach the emulator without leaving loopback).
    pub connect_to: Mutex<Option<SocketAddr>>,
    /// Spaces requests that name a budget, as the host does.
    pub limiter: RateLimiter,
}

fn transport(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
    TransportError { kind, message: message.into() }
}

impl LoopbackHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// A host spacing budgets with `margin` (see `RateLimiter::with_spacing_margin`).
    pub fn with_spacing_margin(margin: f64) -> Self {
        Self { limiter: RateLimiter::new().with_spacing_margin(margin), ..Self::default() }
    }

    /// A host that sends every request to `addr` (see [`LoopbackHost::connect_to`]).
    pub fn connecting_to(addr: SocketAddr) -> Self {
        let host = Self::default();
        *host.connect_to.lock().unwrap() = Some(addr);
        host
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn all_logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

/// Splits `http://127.0.0.1:PORT/path?q` into the socket address and the request target.
fn split_url(url: &str) -> Result<(SocketAddr, String, String), TransportError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| transport(TransportErrorKind::Refused, "tests speak plain http only"))?;
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let addr: SocketAddr = authority
        .parse()
        .map_err(|_| transport(TransportErrorKind::Refused, format!("{authority} is not an ip:port")))?;
    if !addr.ip().is_loopback() {
        return Err(transport(TransportErrorKind::Refused, "tests only talk to loopback"));
    }
    Ok((addr, authority.to_string(), target))
}

fn io_error(e: std::io::Error) -> TransportError {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Other,
    };
    transport(kind, e.to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    // Each round consumes one chunk; the data is finite, so this ends.
    loop {
        let line_end =
            find(data, b"\r\n").ok_or_else(|| transport(TransportErrorKind::Other, "truncated chunk header"))?;
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap_or("");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| transport(TransportErrorKind::Other, "bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(transport(TransportErrorKind::Other, "connection closed mid-body (chunked)"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

impl HostServices for LoopbackHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.limiter.send(self, request, |request| self.send(request))
    }

    fn log(&self, level: LogLevel, target: &str, message: &str) {
        self.logs.lock().unwrap().push(format!("{level:?} {target}: {message}"));
    }

    fn now_unix_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

impl LoopbackHost {
    /// One HTTP/1.1 exchange, once the limiter let the request leave.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let connect_to = *self.connect_to.lock().unwrap();
        let (addr, authority, target) = match connect_to {
            Some(addr) => {
                let rest = request.url.split_once("://").map_or(request.url.as_str(), |(_, rest)| rest);
                let (authority, target) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
                (addr, authority.to_string(), target.to_string())
            }
            None => split_url(&request.url)?,
        };
        let timeout = Duration::from_millis(request.timeout_ms.unwrap_or(30_000));
        let mut stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| transport(TransportErrorKind::Connect, e.to_string()))?;
        stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
        stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, target);
        if !request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("host: {authority}\r\n"));
        }
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", request.body.len()));
        stream.write_all(head.as_bytes()).map_err(io_error)?;
        stream.write_all(&request.body).map_err(io_error)?;

        let mut raw = Vec::new();
        let read_result = (&mut stream).take(MAX_RESPONSE_BYTES as u64 + 1).read_to_end(&mut raw).map_err(io_error);
        if raw.len() > MAX_RESPONSE_BYTES {
            return Err(transport(TransportErrorKind::TooLarge, "response too large"));
        }
        let header_end = match (find(&raw, b"\r\n\r\n"), &read_result) {
            (Some(end), _) => end,
            (None, Err(e)) => return Err(e.clone()),
            (None, Ok(_)) => return Err(transport(TransportErrorKind::Other, "connection closed before the headers")),
        };
        let head_text = String::from_utf8_lossy(&raw[..header_end]).into_owned();
        let mut lines = head_text.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| transport(TransportErrorKind::Other, "bad status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let data = &raw[header_end + 4..];
        let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            decode_chunked(data)?
        } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if data.len() < length {
                return Err(transport(
                    TransportErrorKind::Other,
                    format!("connection closed mid-body ({} of {length} bytes)", data.len()),
                ));
            }
            data[..length].to_vec()
        } else {
            read_result?;
            data.to_vec()
        };
        Ok(HttpResponse { status, headers, body })
    }
}

/// Fixtures: a world with one account, one key, a RAM role, ECS metadata and
/// `certificates` valid CAS certificates.
pub mod fixtures {
    use alibaba_emulator::world::{AccessKey, Account, CasCertificate, EcsMetadata, Region, Role};
    use alibaba_emulator::World;

    pub const ACCOUNT_ID: &str = "1234567890123456";
    pub const KEY_ID: &str = "LTAI5tTestAccessKey00001";
    pub const SECRET: &str = "TestSecret/+=0123456789abcdefXYZ";
    pub const ROLE: &str = "inspector";

    pub fn certificate(id: i64) -> CasCertificate {
        CasCertificate {
            certificate_id: id,
            name: format!("cert-{id}"),
            common_name: format!("host{id}.example.com"),
            sans: vec![format!("host{id}.example.com")],
            serial_no: format!("{id:032x}"),
            fingerprint: format!("{id:040X}"),
            sha2: format!("{id:064X}"),
            issuer: "Test CA".into(),
            org_name: "Example".into(),
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2035-01-01T00:00:00Z".into(),
            expired: Some(false),
            upload: id % 2 == 0,
            instance_id: format!("cas-{id}"),
            cert_identifier: format!("{id}-cn-hangzhou"),
            algorithm: "ECC".into(),
            ..CasCertificate::default()
        }
    }

    pub fn world(certificates: i64) -> World {
        let mut account = Account {
            id: ACCOUNT_ID.into(),
            name: "test".into(),
            access_keys: vec![AccessKey {
                id: KEY_ID.into(),
                secret: SECRET.into(),
                enabled: true,
                ..AccessKey::default()
            }],
            roles: vec![Role { name: ROLE.into(), permissions: None }],
            ..Account::default()
        };
        account.cas.certificates = (1..=certificates).map(|i| certificate(1_000_000 + i)).collect();
        World {
            format: alibaba_emulator::world::WORLD_FORMAT,
            accounts: vec![account],
            regions: vec![Region {
                region_id: "cn-hangzhou".into(),
                local_name: "China (Hangzhou)".into(),
                region_endpoint: "slb.aliyuncs.com".into(),
            }],
            ecs_metadata: Some(EcsMetadata { account_id: ACCOUNT_ID.into(), role_name: ROLE.into() }),
            ..World::default()
        }
    }
}
