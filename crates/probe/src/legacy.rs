//! The capture-only legacy handshake, for servers rustls cannot negotiate
//! with (TLS 1.0/1.1 only, no suite or signature algorithm in common, DSA
//! keys): send a plaintext ClientHello offering TLS 1.0-1.2 with a broad
//! cipher list, read the ServerHello and the plaintext Certificate message
//! (and a CertificateRequest, if any) up to ServerHelloDone, then close.
//! No key exchange happens and nothing is ever encrypted, so offering weak
//! suites exposes nothing.
//!
//! What the server sends is parsed with `tls-parser` (records, handshake
//! messages, extensions, alerts); this module only joins record payloads
//! into the handshake stream (a Certificate message often spans records)
//! and bounds what it keeps. The one message it writes, the ClientHello,
//! is assembled here (tls-parser's serializer would bring four more crates
//! for a dozen lines) and checked in the tests by parsing it back.
//!
//! The pure part ([`client_hello`], [`Reader`], [`server_hello_in`]) is
//! separate from the one async function that does I/O ([`capture`]).

use tls_parser::nom::Err as NomErr;
use tls_parser::{
    parse_tls_extensions, parse_tls_message_alert, parse_tls_message_handshake, parse_tls_raw_record, TlsCipherSuite,
    TlsCipherSuiteID, TlsExtension, TlsMessage, TlsMessageHandshake, TlsRecordType, TlsServerHelloContents,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::messages::{alert_words, looks_like_tls, not_tls_error, thousands};
use crate::model::{CertDer, DistinguishedNameDer, ProbeError, ProbeErrorKind};

/// Cipher suites offered, strongest first: every key exchange that carries
/// a certificate (ECDHE, DHE with RSA and DSA, static RSA and ECDH) with
/// every bulk cipher old servers may insist on, down to export and RC4
/// suites, plus the renegotiation SCSV.
const OFFERED_SUITES: &[u16] = &[
    0xc02b, 0xc02c, 0xcca9, 0xc02f, 0xc030, 0xcca8, 0xc023, 0xc024, 0xc027, 0xc028, 0xc009, 0xc00a, 0xc013, 0xc014,
    0x009e, 0x009f, 0xccaa, 0x00a2, 0x00a3, 0x0067, 0x006b, 0x0040, 0x006a, 0x0033, 0x0039, 0x0032, 0x0038, 0x009c,
    0x009d, 0x003c, 0x003d, 0x002f, 0x0035, 0x0041, 0x0084, 0x0045, 0x0088, 0x0044, 0x0087, 0x0096, 0xc004, 0xc005,
    0xc00e, 0xc00f, 0xc008, 0xc012, 0x0016, 0x0013, 0x000a, 0xc007, 0xc011, 0x0005, 0x0004, 0x0007, 0x0009, 0x0015,
    0x0012, 0x0003, 0x0006, 0x0008, 0x0014, 0x0011, 0x00ff,
];

/// Named groups offered: X25519, P-256, P-384, P-521, X448, ffdhe2048/3072.
const OFFERED_GROUPS: &[u16] = &[29, 23, 24, 25, 30, 256, 257];

/// Signature algorithms offered, including SHA-1 and DSA ones old servers
/// can only sign with.
const OFFERED_SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0808, 0x0203, 0x0201, 0x0202,
    0x0402, 0x0502, 0x0602, 0x0303, 0x0301, 0x0302,
];

/// The most certificates kept from one Certificate message.
const MAX_CERTIFICATES: usize = 64;

/// The ClientHello: TLS 1.2 as the highest version (so a server chooses
/// 1.2, 1.1 or 1.0), SNI when given, the broad lists above. `random` is
/// the client random; it protects nothing here but should still be fresh.
pub(crate) fn client_hello(sni: Option<&str>, random: &[u8; 32]) -> Vec<u8> {
    let mut extensions = Vec::new();
    if let Some(name) = sni {
        let name = name.as_bytes();
        let mut body = Vec::with_capacity(name.len() + 5);
        body.extend_from_slice(&u16_len(name.len() + 3));
        body.push(0); // host_name
        body.extend_from_slice(&u16_len(name.len()));
        body.extend_from_slice(name);
        push_extension(&mut extensions, 0, &body);
    }
    push_extension(&mut extensions, 10, &u16_list(OFFERED_GROUPS));
    push_extension(&mut extensions, 11, &[1, 0]); // ec_point_formats: uncompressed
    push_extension(&mut extensions, 13, &u16_list(OFFERED_SIGNATURE_ALGORITHMS));
    push_extension(&mut extensions, 23, &[]); // extended_master_secret
                                              // Some old load balancers hang on a ClientHello of 256-511 bytes, the
                                              // very servers this handshake is for; pad past it (RFC 7685).
    let message_len = 4 + 2 + 32 + 1 + 2 + 2 * OFFERED_SUITES.len() + 2 + 2 + extensions.len();
    if (256..512).contains(&message_len) {
        let padding = (512 - message_len).saturating_sub(4);
        push_extension(&mut extensions, 21, &vec![0; padding]);
    }
    let mut body = Vec::with_capacity(message_len + 512);
    body.extend_from_slice(&[3, 3]); // highest version offered: TLS 1.2
    body.extend_from_slice(random);
    body.push(0); // no session id
    body.extend_from_slice(&u16_list(OFFERED_SUITES));
    body.extend_from_slice(&[1, 0]); // compression: null only
    body.extend_from_slice(&u16_len(extensions.len()));
    body.extend_from_slice(&extensions);
    let body_len = u32::try_from(body.len()).expect("ClientHello fields are small").to_be_bytes();
    let mut handshake = vec![1, body_len[1], body_len[2], body_len[3]]; // client_hello, u24 length
    handshake.extend_from_slice(&body);
    // Record version 1.0: the most widely accepted for a first record.
    let mut record = vec![22, 3, 1];
    record.extend_from_slice(&u16_len(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("ClientHello fields are small").to_be_bytes()
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + items.len() * 2);
    out.extend_from_slice(&u16_len(items.len() * 2));
    for item in items {
        out.extend_from_slice(&item.to_be_bytes());
    }
    out
}

fn push_extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16_len(body.len()));
    out.extend_from_slice(body);
}

/// `TLSv1.0` for 0x0301, the spelling rustls uses for 1.2 and 1.3.
pub(crate) fn version_name(version: u16) -> String {
    match version {
        0x0200 => "SSLv2".to_owned(),
        0x0300 => "SSLv3".to_owned(),
        0x0301 => "TLSv1.0".to_owned(),
        0x0302 => "TLSv1.1".to_owned(),
        0x0303 => "TLSv1.2".to_owned(),
        0x0304 => "TLSv1.3".to_owned(),
        other => format!("unknown version {other:#06x}"),
    }
}

/// How people write a version: `TLS 1.0`, `SSL 3.0`.
pub(crate) fn version_words(name: &str) -> String {
    name.replace("TLSv", "TLS ").replace("SSLv3", "SSL 3.0").replace("SSLv2", "SSL 2.0")
}

/// The IANA name of a cipher suite as rustls spells it (so that a suite
/// reads the same whichever handshake saw it; rustls writes TLS 1.3 suites
/// `TLS13_...`), else as tls-parser does, else its number.
fn suite_name(id: TlsCipherSuiteID) -> String {
    if let Some(name) = rustls::CipherSuite::from(id.0).as_str() {
        return name.to_owned();
    }
    TlsCipherSuite::from_id(id.0).map_or_else(|| format!("unknown cipher suite {:#06x}", id.0), |s| s.name.to_owned())
}

/// Version and suite a ServerHello chose. The version is the
/// supported_versions extension's when present (TLS 1.3), else the legacy
/// field.
#[derive(Debug)]
pub(crate) struct HelloFacts {
    pub(crate) version: u16,
    pub(crate) version_name: String,
    pub(crate) cipher_suite: String,
}

fn hello_facts(hello: &TlsServerHelloContents<'_>) -> HelloFacts {
    let mut version = hello.version.0;
    if let Some(Ok((_, extensions))) = hello.ext.map(parse_tls_extensions) {
        for extension in extensions {
            if let TlsExtension::SupportedVersions(chosen) = extension {
                if let Some(v) = chosen.first() {
                    version = v.0;
                }
            }
        }
    }
    HelloFacts { version, version_name: version_name(version), cipher_suite: suite_name(hello.cipher) }
}

/// The ServerHello at the start of what a server sent, if it is there: how
/// a failed full handshake still reports the version and suite chosen.
pub(crate) fn server_hello_in(head: &[u8]) -> Option<HelloFacts> {
    let (_, record) = parse_tls_raw_record(head).ok()?;
    if record.hdr.record_type != TlsRecordType::Handshake {
        return None;
    }
    match parse_tls_message_handshake(record.data).ok()? {
        (_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(hello))) => Some(hello_facts(&hello)),
        _ => None,
    }
}

/// What the legacy handshake captured.
#[derive(Debug, Default)]
pub(crate) struct LegacyCapture {
    pub(crate) version: String,
    pub(crate) version_number: u16,
    pub(crate) cipher_suite: String,
    pub(crate) chain: Vec<CertDer>,
    pub(crate) client_certificate_request: Option<Vec<DistinguishedNameDer>>,
    pub(crate) bytes_read: u64,
}

/// Reads a server's first flight from bytes fed in as they arrive.
#[derive(Debug)]
pub(crate) struct Reader {
    max_bytes: u64,
    /// Bytes received and not yet parsed as a whole record.
    records: Vec<u8>,
    /// Handshake record payloads not yet parsed as whole messages.
    handshake: Vec<u8>,
    /// The first bytes received, to describe an answer that is not TLS.
    head: Vec<u8>,
    hello: Option<HelloFacts>,
    captured: LegacyCapture,
    done: bool,
}

impl Reader {
    /// A reader that refuses more than `max_bytes` from the server.
    pub(crate) fn new(max_bytes: u64) -> Self {
        Reader {
            max_bytes,
            records: Vec::new(),
            handshake: Vec::new(),
            head: Vec::new(),
            hello: None,
            captured: LegacyCapture::default(),
            done: false,
        }
    }

    /// Takes in what the server sent next. `Ok(true)` once ServerHelloDone
    /// has arrived with a certificate before it.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<bool, ProbeError> {
        if self.head.len() < 16 {
            self.head.extend(data.iter().take(16 - self.head.len()));
        }
        self.captured.bytes_read += data.len() as u64;
        if looks_like_tls(&self.head) == Some(false) {
            return Err(not_tls_error(self.captured.bytes_read, &self.head));
        }
        if self.captured.bytes_read > self.max_bytes {
            return Err(ProbeError::new(
                ProbeErrorKind::TooLarge,
                format!(
                    "the server sent more than {} bytes without finishing its first flight",
                    thousands(self.max_bytes)
                ),
            ));
        }
        self.records.extend_from_slice(data);
        while !self.done {
            let (consumed, kind, payload) = match parse_tls_raw_record(&self.records) {
                Ok((rest, record)) => (self.records.len() - rest.len(), record.hdr.record_type, record.data.to_vec()),
                Err(NomErr::Incomplete(_)) => break,
                Err(_) => {
                    return Err(ProbeError::new(
                        ProbeErrorKind::ProtocolViolation,
                        "the server sent a malformed TLS record (or one over the 16 KiB limit)",
                    ))
                }
            };
            self.records.drain(..consumed);
            match kind {
                TlsRecordType::Handshake => {
                    self.handshake.extend_from_slice(&payload);
                    self.handshake_messages()?;
                }
                TlsRecordType::Alert => return Err(alert_error(&payload)),
                _ => {
                    return Err(ProbeError::new(
                        ProbeErrorKind::ProtocolViolation,
                        "the server sent something other than handshake messages before finishing its first flight",
                    ))
                }
            }
        }
        Ok(self.done)
    }

    fn handshake_messages(&mut self) -> Result<(), ProbeError> {
        // Parsed messages borrow the buffer, so it is taken out meanwhile.
        let pending = std::mem::take(&mut self.handshake);
        let mut rest: &[u8] = &pending;
        while !self.done && !rest.is_empty() {
            match parse_tls_message_handshake(rest) {
                Ok((after, message)) => {
                    if let TlsMessage::Handshake(message) = message {
                        self.on_message(&message)?;
                    }
                    rest = after;
                }
                Err(NomErr::Incomplete(_)) => break,
                Err(_) => {
                    return Err(ProbeError::new(
                        ProbeErrorKind::ProtocolViolation,
                        "the server sent a handshake message that could not be parsed",
                    ))
                }
            }
        }
        self.handshake = rest.to_vec();
        Ok(())
    }

    fn on_message(&mut self, message: &TlsMessageHandshake<'_>) -> Result<(), ProbeError> {
        match message {
            TlsMessageHandshake::ServerHello(hello) => {
                let facts = hello_facts(hello);
                if !(0x0300..=0x0303).contains(&facts.version) {
                    return Err(ProbeError::new(
                        ProbeErrorKind::ProtocolViolation,
                        format!("the server chose {}, which was not offered", version_words(&facts.version_name)),
                    ));
                }
                self.hello = Some(facts);
            }
            TlsMessageHandshake::Certificate(certificates) => {
                self.captured.chain =
                    certificates.cert_chain.iter().take(MAX_CERTIFICATES).map(|c| CertDer::from(c.data)).collect();
            }
            TlsMessageHandshake::CertificateRequest(request) => {
                self.captured.client_certificate_request =
                    Some(request.unparsed_ca.iter().map(|n| DistinguishedNameDer(n.to_vec())).collect());
            }
            TlsMessageHandshake::ServerDone(_) => {
                if self.hello.is_none() || self.captured.chain.is_empty() {
                    return Err(ProbeError::new(
                        ProbeErrorKind::ProtocolViolation,
                        "the server finished its first flight without sending a certificate",
                    ));
                }
                self.done = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// What was captured: all of it once [`Reader::feed`] said done, what
    /// arrived so far otherwise.
    pub(crate) fn finish(mut self) -> LegacyCapture {
        if let Some(hello) = self.hello.take() {
            self.captured.version = hello.version_name;
            self.captured.version_number = hello.version;
            self.captured.cipher_suite = hello.cipher_suite;
        }
        self.captured
    }

    /// Why the server stopped before the flight was complete.
    pub(crate) fn ended_early(&self) -> ProbeError {
        if self.captured.bytes_read == 0 {
            ProbeError::new(
                ProbeErrorKind::Closed,
                "the server closed the connection without answering a TLS 1.0-1.2 ClientHello",
            )
        } else {
            ProbeError::new(
                ProbeErrorKind::Closed,
                format!(
                    "the server closed the connection after {} bytes, before finishing its first flight",
                    thousands(self.captured.bytes_read)
                ),
            )
        }
    }
}

fn alert_error(payload: &[u8]) -> ProbeError {
    let code = match parse_tls_message_alert(payload) {
        Ok((_, TlsMessage::Alert(alert))) => alert.code.0,
        _ => {
            return ProbeError::new(ProbeErrorKind::ProtocolViolation, "the server sent a malformed TLS alert");
        }
    };
    let alert = rustls::AlertDescription::from(code);
    let said = alert_words(alert);
    match alert {
        rustls::AlertDescription::ProtocolVersion => ProbeError::new(
            ProbeErrorKind::UnsupportedProtocol,
            "the server refused TLS 1.0, 1.1 and 1.2 as well (alert \"protocol version\")",
        ),
        rustls::AlertDescription::HandshakeFailure | rustls::AlertDescription::InsufficientSecurity => ProbeError::new(
            ProbeErrorKind::NoCommonAlgorithms,
            format!("the server refused every cipher suite offered for TLS 1.0-1.2 as well (alert \"{said}\")"),
        ),
        _ => ProbeError::new(
            ProbeErrorKind::TlsAlert(alert.as_str().map_or_else(|| code.to_string(), str::to_owned)),
            format!("the server ended the TLS 1.0-1.2 handshake with the alert \"{said}\""),
        ),
    }
}

/// A legacy capture that failed, with what it had learnt by then (a server
/// may send its chain and fail after it).
#[derive(Debug)]
pub(crate) struct LegacyFailure {
    pub(crate) error: ProbeError,
    // Boxed: a chain's worth of bytes need not travel through every `?`.
    pub(crate) so_far: Box<LegacyCapture>,
}

impl From<ProbeError> for LegacyFailure {
    fn from(error: ProbeError) -> Self {
        LegacyFailure { error, so_far: Box::default() }
    }
}

/// Runs the legacy handshake on a connected stream: sends the ClientHello,
/// reads to ServerHelloDone, then shuts the stream down. Time limits are the
/// caller's.
pub(crate) async fn capture<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    sni: Option<&str>,
    random: &[u8; 32],
    max_bytes: u64,
) -> Result<LegacyCapture, LegacyFailure> {
    let io_error = |e: std::io::Error| {
        let kind = match e.kind() {
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => ProbeErrorKind::Reset,
            _ => ProbeErrorKind::Io,
        };
        ProbeError::new(kind, "the connection failed during the TLS 1.0-1.2 capture handshake")
    };
    stream.write_all(&client_hello(sni, random)).await.map_err(io_error)?;
    let mut reader = Reader::new(max_bytes);
    let mut buf = vec![0u8; 8192];
    loop {
        let step = match stream.read(&mut buf).await {
            Ok(0) => Err(reader.ended_early()),
            Ok(n) => reader.feed(&buf[..n]),
            Err(e) => Err(io_error(e)),
        };
        match step {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => return Err(LegacyFailure { error, so_far: Box::new(reader.finish()) }),
        }
    }
    // Nothing was negotiated that a close_notify could end; just close.
    let _ = stream.shutdown().await;
    Ok(reader.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 1];
        out.extend_from_slice(&u16_len(payload.len()));
        out.extend_from_slice(payload);
        out
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut out = vec![kind, len[1], len[2], len[3]];
        out.extend_from_slice(body);
        out
    }

    fn server_hello(version: u16, suite: u16) -> Vec<u8> {
        server_hello_with(version, suite, None)
    }

    /// A ServerHello, with a supported_versions extension choosing
    /// `chosen` when given (how TLS 1.3 names its version).
    fn server_hello_with(version: u16, suite: u16, chosen: Option<u16>) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.push(0); // no session id
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0); // null compression
        if let Some(v) = chosen {
            body.extend_from_slice(&[0, 6, 0, 43, 0, 2]);
            body.extend_from_slice(&v.to_be_bytes());
        }
        handshake(2, &body)
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            let len = u32::try_from(c.len()).unwrap().to_be_bytes();
            list.extend_from_slice(&len[1..]);
            list.extend_from_slice(c);
        }
        let len = u32::try_from(list.len()).unwrap().to_be_bytes();
        let mut body = len[1..].to_vec();
        body.extend_from_slice(&list);
        handshake(11, &body)
    }

    #[test]
    fn client_hello_parses_back_with_what_was_offered() {
        let bytes = client_hello(Some("xn--bcher-kva.example"), &[9; 32]);
        let (rest, record) = parse_tls_raw_record(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(record.hdr.version, tls_parser::TlsVersion(0x0301));
        let (_, message) = parse_tls_message_handshake(record.data).unwrap();
        let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = message else {
            panic!("not a ClientHello");
        };
        assert_eq!(hello.version, tls_parser::TlsVersion(0x0303));
        assert_eq!(hello.random, &[9; 32]);
        let suites: Vec<u16> = hello.ciphers.iter().map(|c| c.0).collect();
        assert_eq!(suites, OFFERED_SUITES);
        assert_eq!(hello.comp.len(), 1);
        let (_, extensions) = parse_tls_extensions(hello.ext.unwrap()).unwrap();
        let sni = extensions.iter().find_map(|e| match e {
            TlsExtension::SNI(names) => Some(names[0].1),
            _ => None,
        });
        assert_eq!(sni, Some(&b"xn--bcher-kva.example"[..]));
        assert!(extensions.iter().any(|e| matches!(e, TlsExtension::SignatureAlgorithms(_))));
        assert!(extensions.iter().any(|e| matches!(e, TlsExtension::EllipticCurves(_))));

        let without = client_hello(None, &[9; 32]);
        let (_, record) = parse_tls_raw_record(&without).unwrap();
        let (_, message) = parse_tls_message_handshake(record.data).unwrap();
        let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = message else {
            panic!("not a ClientHello");
        };
        let (_, extensions) = parse_tls_extensions(hello.ext.unwrap()).unwrap();
        assert!(!extensions.iter().any(|e| matches!(e, TlsExtension::SNI(_))), "no SNI extension without a name");

        // Never 256-511 bytes long, whatever the name's length.
        for name_len in [1, 20, 63, 120, 200, 253] {
            let name = "a".repeat(name_len);
            let hello = client_hello(Some(&name), &[9; 32]);
            let message_len = hello.len() - 5;
            assert!(!(256..512).contains(&message_len), "{name_len}: {message_len} bytes");
        }
    }

    /// Flights fed in pieces of every size give the same capture; the
    /// Certificate message may span records.
    #[test]
    fn reads_a_flight_split_anywhere() {
        let leaf = vec![0x30; 300];
        let ca = vec![0x31; 200];
        let cert_message = certificate(&[&leaf, &ca]);
        let (first, second) = cert_message.split_at(100);
        let mut flight = record(22, &server_hello(0x0301, 0xc00a));
        flight.extend(record(22, first));
        flight.extend(record(22, &[second, &handshake(14, &[])].concat()));
        for piece in [1, 3, 7, 64, flight.len()] {
            let mut reader = Reader::new(1 << 20);
            let mut done = false;
            for chunk in flight.chunks(piece) {
                assert!(!done, "done before the end");
                done = reader.feed(chunk).unwrap();
            }
            assert!(done, "piece {piece}");
            let captured = reader.finish();
            assert_eq!(captured.version, "TLSv1.0");
            assert_eq!(captured.cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA");
            assert_eq!(captured.chain, vec![CertDer::from(leaf.clone()), CertDer::from(ca.clone())]);
            assert_eq!(captured.bytes_read, flight.len() as u64);
        }
    }

    #[test]
    fn bad_flights_end_in_sentences() {
        let hello = record(22, &server_hello(0x0302, 0x002f));
        let cases: Vec<(Vec<u8>, ProbeErrorKind, &str)> = vec![
            (record(21, &[2, 70]), ProbeErrorKind::UnsupportedProtocol, "refused TLS 1.0, 1.1 and 1.2 as well"),
            (record(21, &[2, 40]), ProbeErrorKind::NoCommonAlgorithms, "(alert \"handshake failure\")"),
            (
                record(21, &[2, 112]),
                ProbeErrorKind::TlsAlert("UnrecognisedName".into()),
                "with the alert \"unrecognised name\"",
            ),
            (b"HTTP/1.1 400 Bad Request\r\n".to_vec(), ProbeErrorKind::NotTls, "starting with `HTTP/1.1 400 Bad`"),
            (
                [hello.clone(), record(22, &handshake(14, &[]))].concat(),
                ProbeErrorKind::ProtocolViolation,
                "without sending a certificate",
            ),
            (
                record(22, &server_hello_with(0x0303, 0x1301, Some(0x0304))),
                ProbeErrorKind::ProtocolViolation,
                "the server chose TLS 1.3, which was not offered",
            ),
            ([hello, record(23, &[0; 10])].concat(), ProbeErrorKind::ProtocolViolation, "other than handshake"),
            (vec![22, 3, 1, 0xff, 0xff], ProbeErrorKind::ProtocolViolation, "malformed TLS record"),
        ];
        for (flight, kind, sentence) in cases {
            let err = Reader::new(1 << 20).feed(&flight).unwrap_err();
            assert_eq!(err.kind, kind, "{}", err.message);
            assert!(err.message.contains(sentence), "{:?} lacks {sentence:?}", err.message);
        }
    }

    proptest::proptest! {
        /// Whatever a hostile server sends, in whatever pieces, the reader
        /// neither panics nor keeps more than its cap, and it ends in a
        /// capture, an error, or a wish for more.
        #[test]
        fn hostile_flights_are_bounded(
            records in proptest::collection::vec(
                (20u8..=24, 0u8..=4, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)),
                0..12,
            ),
            piece in 1usize..700,
        ) {
            let mut flight = Vec::new();
            for (kind, minor, payload) in &records {
                flight.extend_from_slice(&[*kind, 3, *minor]);
                flight.extend_from_slice(&u16_len(payload.len()));
                flight.extend_from_slice(payload);
            }
            let cap = 2048;
            let mut reader = Reader::new(cap);
            for chunk in flight.chunks(piece) {
                match reader.feed(chunk) {
                    Ok(false) => {
                        proptest::prop_assert!((reader.records.len() + reader.handshake.len()) as u64 <= cap);
                    }
                    Ok(true) => {
                        proptest::prop_assert!(!reader.finish().chain.is_empty());
                        break;
                    }
                    Err(e) => {
                        proptest::prop_assert!(!e.message.is_empty());
                        break;
                    }
                }
            }
        }
    }

    /// A flight cut off after the Certificate still yields the chain.
    #[test]
    fn a_flight_cut_short_keeps_what_arrived() {
        let mut reader = Reader::new(1 << 20);
        let flight = [record(22, &server_hello(0x0302, 0x002f)), record(22, &certificate(&[&[0x30; 40]]))].concat();
        assert!(!reader.feed(&flight).unwrap());
        let error = reader.ended_early();
        assert_eq!(error.kind, ProbeErrorKind::Closed);
        assert!(error.message.contains("before finishing its first flight"), "{}", error.message);
        let so_far = reader.finish();
        assert_eq!((so_far.version.as_str(), so_far.chain.len()), ("TLSv1.1", 1));
        assert_eq!(so_far.cipher_suite, "TLS_RSA_WITH_AES_128_CBC_SHA");
    }

    #[test]
    fn refuses_more_than_the_cap() {
        let mut reader = Reader::new(1000);
        let big = record(22, &vec![11; 4000]);
        let err = reader.feed(&big).unwrap_err();
        assert_eq!(err.kind, ProbeErrorKind::TooLarge);
        assert_eq!(err.message, "the server sent more than 1,000 bytes without finishing its first flight");
    }

    #[test]
    fn finds_the_server_hello_of_a_failed_handshake() {
        let mut head = record(22, &[server_hello(0x0303, 0xc02f), certificate(&[&[0x30; 10]])].concat());
        head.truncate(head.len() - 3); // the rest never arrived
        let facts = server_hello_in(&head).map(|f| (f.version_name, f.cipher_suite));
        assert_eq!(facts, None, "a record cut short is not parsed");
        let head = record(22, &server_hello(0x0303, 0xc02f));
        let facts = server_hello_in(&head).map(|f| (f.version_name, f.cipher_suite));
        assert_eq!(facts, Some(("TLSv1.2".to_owned(), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned())));
        assert!(server_hello_in(b"HTTP/1.1 200 OK").is_none());
        let tls13 = record(22, &server_hello_with(0x0303, 0x1301, Some(0x0304)));
        let facts = server_hello_in(&tls13).map(|f| (f.version_name, f.cipher_suite));
        assert_eq!(facts, Some(("TLSv1.3".to_owned(), "TLS13_AES_128_GCM_SHA256".to_owned())));
    }
}
