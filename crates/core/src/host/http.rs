//! The host's HTTP transport: the only path from a plugin to the network.

use std::io::Read;
use std::time::Duration;

use certinspect_protocol::{HttpRequest, HttpResponse, TransportError, TransportErrorKind};

/// Limits and identity of the transport.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Default overall timeout per request (a request may ask for less).
    pub timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Responses larger than this are refused with `TooLarge`.
    pub max_response_bytes: usize,
    /// `User-Agent` header when the plugin sets none.
    pub user_agent: String,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: format!("certinspect/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Blocking HTTP over reqwest: connection pooling, proxies from the
/// environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), timeouts, a
/// response size cap, and `http`/`https` URLs only.
#[derive(Debug)]
pub struct HttpTransport {
    client: reqwest::blocking::Client,
    config: TransportConfig,
}

impl HttpTransport {
    /// A transport with `config`.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| error(TransportErrorKind::Other, format!("cannot build HTTP client: {e}")))?;
        Ok(Self { client, config })
    }

    /// Send `request` and read the whole response, up to the size cap.
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| error(TransportErrorKind::Refused, format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(error(TransportErrorKind::Refused, format!("scheme '{}' is not allowed", url.scheme())));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| error(TransportErrorKind::Refused, format!("invalid method '{}'", request.method)))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut builder = self.client.request(method, url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(ms) = request.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms).min(self.config.timeout));
        }
        let response = builder.send().map_err(|e| classify(&host, &e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let cap = self.config.max_response_bytes;
        if response.content_length().is_some_and(|len| len as usize > cap) {
            return Err(too_large(&host, cap));
        }
        let mut body = Vec::new();
        response
            .take(cap as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| error(TransportErrorKind::Other, format!("reading the response from {host} failed: {e}")))?;
        if body.len() > cap {
            return Err(too_large(&host, cap));
        }
        Ok(HttpResponse { status, headers, body })
    }
}

fn too_large(host: &str, cap: usize) -> TransportError {
    error(TransportErrorKind::TooLarge, format!("the response from {host} exceeds {cap} bytes"))
}

fn classify(host: &str, e: &reqwest::Error) -> TransportError {
    // reqwest's Display includes the URL, and ours carry signed query
    // strings; name only the host.
    let (kind, what) = if e.is_timeout() {
        (TransportErrorKind::Timeout, "timed out")
    } else if e.is_connect() {
        (TransportErrorKind::Connect, "could not connect")
    } else {
        (TransportErrorKind::Other, "failed")
    };
    let cause = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
    error(kind, format!("request to {host} {what}{cause}"))
}

fn error(kind: TransportErrorKind, message: String) -> TransportError {
    TransportError { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback answering `reply` to one request.
    fn serve_once(reply: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(&reply);
            }
        });
        format!("http://{addr}/?q=1")
    }

    fn transport(max: usize) -> HttpTransport {
        HttpTransport::new(TransportConfig {
            timeout: Duration::from_secs(2),
            max_response_bytes: max,
            ..TransportConfig::default()
        })
        .unwrap()
    }

    fn get(url: String) -> HttpRequest {
        HttpRequest { method: "GET".into(), url, ..HttpRequest::default() }
    }

    #[test]
    fn reads_a_response() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhello".to_vec());
        let response = transport(1024).send(&get(url)).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"hello");
        assert_eq!(response.header("X-A"), Some("b"));
    }

    #[test]
    fn refuses_oversized_bodies() {
        let url =
            serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".iter().chain(&[b'x'; 100]).copied().collect());
        let err = transport(10).send(&get(url)).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::TooLarge);
    }

    #[test]
    fn refuses_other_schemes() {
        let err = transport(10).send(&get("file:///etc/passwd".into())).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Refused);
    }

    #[test]
    fn times_out_on_a_silent_server_without_leaking_the_query() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = std::thread::spawn(move || {
            let conn = listener.accept();
            std::thread::sleep(Duration::from_millis(1500));
            drop(conn);
        });
        let mut request = get(format!("http://{addr}/?Signature=SECRET"));
        request.timeout_ms = Some(300);
        let err = transport(10).send(&request).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
        assert!(!err.message.contains("SECRET"), "{err}");
        hold.join().unwrap();
    }

    #[test]
    fn connection_refused_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = transport(10).send(&get(format!("http://127.0.0.1:{port}/"))).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    }
}
