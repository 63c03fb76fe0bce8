//! Fetching what certificates point at over HTTP: the issuer certificate an
//! Authority Information Access `caIssuers` URL names, the revocation
//! lists CRL distribution points name, and OCSP responders' answers (POST),
//! bounded in size and time; issuer
//! certificates are cached per URL per run here, revocation lists (large)
//! by their reader once parsed (`verify::revocation`).
//!
//! The engine's only HTTP client for endpoints' own URLs; plugins' API
//! traffic goes through [`crate::host`]. Turned off as a whole with
//! [`FetchOptions::enabled`] (`--no-fetch`), in which case every answer is
//! [`FetchError::Disabled`] and the report says what was not checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certinspect_protocol::HttpRequest;

use crate::host::{HttpTransport, TransportConfig};

/// Limits of fetching.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Whether anything may be fetched at all.
    pub enabled: bool,
    /// Deadline of one fetch.
    pub timeout: Duration,
    /// Largest answer read; a larger one is refused.
    pub max_bytes: usize,
    /// Largest certificate revocation list read (CRLs of big CAs run to
    /// megabytes); a larger one is refused and revocation stays unknown.
    pub max_crl_bytes: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { enabled: true, timeout: Duration::from_secs(5), max_bytes: 64 * 1024, max_crl_bytes: 8 * 1024 * 1024 }
    }
}

/// Why nothing usable came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Fetching is turned off (`--no-fetch`).
    #[error("fetching is turned off")]
    Disabled,
    /// Only `http://` URLs are fetched (AIA and CRL URLs are plain HTTP).
    #[error("'{0}' is not an http:// URL")]
    NotHttp(String),
    /// The server could not be reached, timed out, or sent too much.
    #[error("{0}")]
    Transport(String),
    /// The server answered with an error status.
    #[error("the server answered HTTP {0}")]
    Status(u16),
}

/// What fetching one URL gave.
type Fetched = Result<Arc<[u8]>, FetchError>;

/// Fetches each URL at most once per run; failures are remembered too, so
/// a responder that is down costs one timeout, not one per endpoint.
pub struct Fetcher {
    options: FetchOptions,
    transport: Option<HttpTransport>,
    /// The same, with the larger bound of revocation lists.
    crl_transport: Option<HttpTransport>,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.cache.lock().map(|c| c.len()).unwrap_or_default();
        f.debug_struct("Fetcher").field("options", &self.options).field("cached", &cached).finish()
    }
}

impl Fetcher {
    /// A fetcher with `options`.
    pub fn new(options: FetchOptions) -> Self {
        let transport_with = |max_response_bytes: usize| {
            options
                .enabled
                .then(|| {
                    HttpTransport::new(TransportConfig {
                        timeout: options.timeout,
                        connect_timeout: options.timeout,
                        max_response_bytes,
                        ..TransportConfig::default()
                    })
                    .map_err(|e| tracing::warn!("fetching is off: {e}"))
                    .ok()
                })
                .flatten()
        };
        let transport = transport_with(options.max_bytes);
        let crl_transport = transport_with(options.max_crl_bytes);
        Self { options, transport, crl_transport, cache: Mutex::new(HashMap::new()) }
    }

    /// Whether anything is fetched at all.
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// The revocation list at `url`, read up to
    /// [`FetchOptions::max_crl_bytes`]. Not cached here: the caller keeps
    /// the parsed list (and failures) for the run rather than the bytes.
    pub fn get_crl(&self, url: &str) -> Fetched {
        fetch_with(self.crl_transport.as_ref(), url)
    }

    /// The OCSP responder at `url`'s answer to the DER `request` (POST
    /// `application/ocsp-request`, RFC 6960 appendix A), read up to
    /// [`FetchOptions::max_bytes`]. Not cached here: the caller keeps one
    /// answer per (issuer, serial) for the run.
    pub fn post_ocsp(&self, url: &str, request: &[u8]) -> Fetched {
        let request = HttpRequest {
            method: "POST".into(),
            url: url.to_owned(),
            headers: vec![("content-type".into(), "application/ocsp-request".into())],
            body: request.to_vec(),
            ..HttpRequest::default()
        };
        send(self.transport.as_ref(), &request)
    }

    /// The body at `url`.
    pub fn get(&self, url: &str) -> Fetched {
        if let Some(known) = self.cache.lock().ok().and_then(|c| c.get(url).cloned()) {
            return known;
        }
        let answer = self.fetch(url);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(url.to_owned(), answer.clone());
        }
        answer
    }

    fn fetch(&self, url: &str) -> Fetched {
        fetch_with(self.transport.as_ref(), url)
    }
}

/// GET `url` through `transport` (`None`: fetching is off).
fn fetch_with(transport: Option<&HttpTransport>, url: &str) -> Fetched {
    send(transport, &HttpRequest { method: "GET".into(), url: url.to_owned(), ..HttpRequest::default() })
}

/// Send `request` (to an `http://` URL only) through `transport`.
fn send(transport: Option<&HttpTransport>, request: &HttpRequest) -> Fetched {
    let Some(transport) = transport else { return Err(FetchError::Disabled) };
    let url = &request.url;
    if !url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")) {
        return Err(FetchError::NotHttp(url.to_owned()));
    }
    let response = transport.send(request).map_err(|e| FetchError::Transport(e.message))?;
    if response.status != 200 {
        return Err(FetchError::Status(response.status));
    }
    Ok(response.body.into())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An HTTP server on 127.0.0.1 answering every request with `status`
    /// and `body`, counting requests; it stops after `max` requests.
    fn serve(status: u16, body: Vec<u8>, max: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/issuer.cer", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max) {
                let Ok(mut stream) = stream else { continue };
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = stream.read(&mut [0u8; 4096]);
                let head =
                    format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (url, count)
    }

    #[test]
    fn one_fetch_per_url_per_run_failures_included() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let (url, count) = serve(200, der.clone(), 10);
        let fetcher = Fetcher::new(FetchOptions::default());
        for _ in 0..3 {
            assert_eq!(&*fetcher.get(&url).unwrap(), &der[..]);
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (missing, count) = serve(404, Vec::new(), 10);
        for _ in 0..3 {
            assert_eq!(fetcher.get(&missing).unwrap_err(), FetchError::Status(404));
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn answers_over_the_size_bound_are_refused() {
        let (url, _) = serve(200, vec![0x30; 70 * 1024], 1);
        let error = Fetcher::new(FetchOptions::default()).get(&url).unwrap_err();
        assert!(matches!(&error, FetchError::Transport(m) if m.contains("exceeds 65536 bytes")), "{error}");
    }

    #[test]
    fn revocation_lists_have_their_own_larger_bound() {
        let (url, count) = serve(200, vec![0x30; 70 * 1024], 2);
        let fetcher = Fetcher::new(FetchOptions { max_crl_bytes: 100 * 1024, ..FetchOptions::default() });
        assert_eq!(fetcher.get_crl(&url).unwrap().len(), 70 * 1024);
        let small = Fetcher::new(FetchOptions { max_crl_bytes: 32 * 1024, ..FetchOptions::default() });
        let error = small.get_crl(&url).unwrap_err();
        assert!(matches!(&error, FetchError::Transport(m) if m.contains("exceeds 32768 bytes")), "{error}");
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn turned_off_it_fetches_nothing_and_says_so() {
        let (url, count) = serve(200, vec![0x30, 0x00], 1);
        let fetcher = Fetcher::new(FetchOptions { enabled: false, ..FetchOptions::default() });
        assert_eq!(fetcher.get(&url).unwrap_err(), FetchError::Disabled);
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(matches!(Fetcher::new(FetchOptions::default()).get("https://a.test/x"), Err(FetchError::NotHttp(_))));
    }
}
