//! Errors for people: maps I/O and rustls failures to [`ProbeErrorKind`]s
//! with sentences that name the particulars of one probe. Nothing here may
//! put Rust `Debug` text or byte lists into a message.

use std::io;
use std::net::SocketAddr;

use rustls::{CertificateError, PeerIncompatible};

use crate::model::{ProbeError, ProbeErrorKind};
use crate::tls::ReadCapExceeded;

/// What the probe knew about the server when the handshake failed, to
/// choose the most precise kind and sentence.
#[derive(Debug, Default)]
pub(crate) struct HandshakeContext<'a> {
    /// Bytes read from the server.
    pub(crate) bytes_read: u64,
    /// The first bytes read (at least a TLS record's worth when present).
    pub(crate) head: &'a [u8],
    /// The server had asked for a client certificate (none was sent).
    pub(crate) client_certificate_requested: bool,
    /// The server's certificate chain was captured.
    pub(crate) chain_captured: bool,
}

impl HandshakeContext<'_> {
    /// Whether what was read so far starts like a TLS record: content type
    /// 20..=24 and protocol major version 3. `None` when nothing was read.
    pub(crate) fn looks_like_tls(&self) -> Option<bool> {
        looks_like_tls(self.head)
    }
}

/// Whether `head` starts like a TLS record. `None` when it is empty.
pub(crate) fn looks_like_tls(head: &[u8]) -> Option<bool> {
    match head {
        [] => None,
        [t] => Some((20..=24).contains(t)),
        [t, major, ..] => Some((20..=24).contains(t) && *major == 3),
    }
}

/// `HandshakeFailure` -> `handshake failure`: rustls's and webpki's
/// variant names read as words. Anything that is not a bare identifier
/// (a variant with fields, printed by `Debug`) is refused, so no debug
/// syntax can reach a message.
pub(crate) fn words(identifier: &str) -> String {
    if identifier.is_empty() || !identifier.chars().all(|c| c.is_ascii_alphanumeric()) {
        return "an unrecognised problem".to_owned();
    }
    let mut out = String::with_capacity(identifier.len() + 8);
    let chars: Vec<char> = identifier.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let starts_word = c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(char::is_ascii_lowercase));
        if starts_word {
            out.push(' ');
        }
        out.push(c);
    }
    // Keep acronyms (DER, EKU, ...) as written, lowercase the rest.
    out.split(' ')
        .map(|w| if w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase()) { w.to_owned() } else { w.to_lowercase() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `4096` -> `4,096`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How the first bytes of a non-TLS answer read: ", starting with
/// `HTTP/1.1 400`" when they are text, " or text" otherwise. Never a byte
/// dump.
pub(crate) fn describe_start(head: &[u8]) -> String {
    const SHOWN: usize = 16;
    let text: String = head.iter().take_while(|b| (0x20..0x7f).contains(*b)).take(SHOWN).map(|&b| b as char).collect();
    let text = text.trim_end();
    if text.is_empty() {
        " or text".to_owned()
    } else {
        format!(", starting with `{text}`")
    }
}

/// Names what went wrong connecting to `addr`.
pub(crate) fn classify_connect(e: &io::Error, addr: SocketAddr) -> ProbeError {
    let (kind, message) = match e.kind() {
        io::ErrorKind::ConnectionRefused => (ProbeErrorKind::Refused, format!("{addr} refused the connection")),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            (ProbeErrorKind::Reset, format!("{addr} reset the connection while it was being opened"))
        }
        _ => (ProbeErrorKind::Io, format!("could not connect to {addr}: {}", os_words(e))),
    };
    ProbeError::new(kind, message)
}

/// `5 s`, `1.5 s`, `250 ms`.
pub(crate) fn duration_words(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// An operating-system error's own text without the `(os error N)` tail.
pub(crate) fn os_words(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Names what went wrong during the handshake from the error and from what
/// the probe knew then.
pub(crate) fn classify_handshake(e: &io::Error, ctx: &HandshakeContext<'_>) -> ProbeError {
    let not_tls = ctx.looks_like_tls() == Some(false);
    if not_tls {
        return not_tls_error(ctx.bytes_read, ctx.head);
    }
    if let Some(inner) = e.get_ref() {
        if let Some(cap) = inner.downcast_ref::<ReadCapExceeded>() {
            return ProbeError::new(
                ProbeErrorKind::TooLarge,
                format!("the server sent more than {} bytes without finishing the handshake", thousands(cap.0)),
            );
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return classify_rustls(tls, ctx);
        }
        // rustls's receive buffer refusing more (only reachable while a
        // handshake message is being joined, so: too large).
        if e.kind() == io::ErrorKind::InvalidData && inner.to_string() == "message buffer full" {
            return ProbeError::new(
                ProbeErrorKind::TooLarge,
                "the server sent a handshake message larger than the 64 KiB a TLS client accepts",
            );
        }
    }
    let read = thousands(ctx.bytes_read);
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe
            if ctx.client_certificate_requested =>
        {
            client_certificate_required("reset the connection")
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe
            if ctx.bytes_read == 0 =>
        {
            ProbeError::new(
                ProbeErrorKind::Reset,
                "the server reset the connection without answering the TLS ClientHello",
            )
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
            ProbeError::new(
                ProbeErrorKind::Reset,
                format!("the server reset the connection during the handshake, after sending {read} bytes"),
            )
        }
        io::ErrorKind::UnexpectedEof if ctx.client_certificate_requested => {
            client_certificate_required("closed the connection")
        }
        io::ErrorKind::UnexpectedEof if ctx.bytes_read == 0 => ProbeError::new(
            ProbeErrorKind::Closed,
            "the server closed the connection without answering the TLS ClientHello",
        ),
        io::ErrorKind::UnexpectedEof => ProbeError::new(
            ProbeErrorKind::Closed,
            format!("the server closed the connection during the handshake, after sending {read} bytes"),
        ),
        _ => ProbeError::new(ProbeErrorKind::Io, format!("a network error ended the handshake: {}", os_words(e))),
    }
}

/// "the server sent 4,096 bytes that are not TLS, starting with `HTTP/`".
pub(crate) fn not_tls_error(bytes_read: u64, head: &[u8]) -> ProbeError {
    let unit = if bytes_read == 1 { "byte" } else { "bytes" };
    let verb = if bytes_read == 1 { "is" } else { "are" };
    ProbeError::new(
        ProbeErrorKind::NotTls,
        format!("the server sent {} {unit} that {verb} not TLS{}", thousands(bytes_read), describe_start(head)),
    )
}

fn client_certificate_required(how: &str) -> ProbeError {
    ProbeError::new(
        ProbeErrorKind::ClientCertificateRequired,
        format!("the server asked for a client certificate and {how} when the probe sent none"),
    )
}

/// The name of a TLS alert as a phrase (`handshake failure`).
pub(crate) fn alert_words(alert: rustls::AlertDescription) -> String {
    match alert.as_str() {
        Some(name) => words(name),
        None => format!("number {}", u8::from(alert)),
    }
}

/// Maps a rustls error to a kind and a sentence.
pub(crate) fn classify_rustls(e: &rustls::Error, ctx: &HandshakeContext<'_>) -> ProbeError {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::AlertReceived(alert) => {
            let said = alert_words(*alert);
            match alert {
                _ if ctx.client_certificate_requested && !matches!(alert, A::ProtocolVersion) => {
                    client_certificate_required(&format!("ended the handshake with the alert \"{said}\""))
                }
                A::CertificateRequired => client_certificate_required("said so"),
                A::ProtocolVersion => ProbeError::new(
                    ProbeErrorKind::UnsupportedProtocol,
                    "the server refused TLS 1.2 and 1.3 (alert \"protocol version\")",
                ),
                A::HandshakeFailure | A::InsufficientSecurity if !ctx.chain_captured => ProbeError::new(
                    ProbeErrorKind::NoCommonAlgorithms,
                    format!(
                        "the server refused every cipher suite, signature algorithm and key exchange group offered \
                         for TLS 1.2 and 1.3 (alert \"{said}\")"
                    ),
                ),
                _ => ProbeError::new(
                    ProbeErrorKind::TlsAlert(
                        alert.as_str().map_or_else(|| u8::from(*alert).to_string(), str::to_owned),
                    ),
                    format!("the server ended the handshake with the TLS alert \"{said}\""),
                ),
            }
        }
        rustls::Error::InvalidCertificate(cert) => classify_certificate(cert),
        rustls::Error::PeerIncompatible(why) => classify_incompatible(why),
        rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => ProbeError::new(
            ProbeErrorKind::TooLarge,
            "the server sent a handshake message larger than the 64 KiB a TLS client accepts",
        ),
        rustls::Error::InvalidMessage(what) => ProbeError::new(
            ProbeErrorKind::ProtocolViolation,
            format!("the server sent a malformed TLS message ({})", debug_words(what)),
        ),
        rustls::Error::PeerMisbehaved(what) => ProbeError::new(
            ProbeErrorKind::ProtocolViolation,
            format!("the server broke the TLS protocol ({})", debug_words(what)),
        ),
        rustls::Error::InappropriateMessage { .. } | rustls::Error::InappropriateHandshakeMessage { .. } => {
            ProbeError::new(ProbeErrorKind::ProtocolViolation, "the server sent a TLS message out of order")
        }
        rustls::Error::PeerSentOversizedRecord => {
            ProbeError::new(ProbeErrorKind::ProtocolViolation, "the server sent a TLS record over the size limit")
        }
        rustls::Error::DecryptError => ProbeError::new(
            ProbeErrorKind::ProtocolViolation,
            "a record from the server could not be decrypted (a broken or tampered connection)",
        ),
        rustls::Error::NoCertificatesPresented => {
            ProbeError::new(ProbeErrorKind::ProtocolViolation, "the server sent an empty certificate chain")
        }
        _ => ProbeError::of_kind(ProbeErrorKind::Tls),
    }
}

/// The words of a rustls enum whose `Debug` is a bare variant name; a
/// generic phrase otherwise.
fn debug_words(value: &impl std::fmt::Debug) -> String {
    words(&format!("{value:?}"))
}

fn classify_incompatible(why: &PeerIncompatible) -> ProbeError {
    match why {
        PeerIncompatible::ServerDoesNotSupportTls12Or13 | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig => {
            ProbeError::new(ProbeErrorKind::UnsupportedProtocol, "the server chose a TLS version older than 1.2")
        }
        PeerIncompatible::NoCipherSuitesInCommon => {
            ProbeError::new(ProbeErrorKind::NoCommonAlgorithms, "the server chose a cipher suite that was not offered")
        }
        PeerIncompatible::NoKxGroupsInCommon => ProbeError::new(
            ProbeErrorKind::NoCommonAlgorithms,
            "the server supports none of the key exchange groups offered",
        ),
        PeerIncompatible::NoSignatureSchemesInCommon => ProbeError::new(
            ProbeErrorKind::NoCommonAlgorithms,
            "the server supports none of the signature algorithms offered",
        ),
        other => ProbeError::new(
            ProbeErrorKind::NoCommonAlgorithms,
            format!("the server is incompatible with the probe's TLS client ({})", debug_words(other)),
        ),
    }
}

/// The certificate errors the observe-only verifier can still meet: those
/// raised while checking the handshake signature with the leaf's key.
fn classify_certificate(e: &CertificateError) -> ProbeError {
    match e {
        CertificateError::BadSignature => ProbeError::new(
            ProbeErrorKind::BadHandshakeSignature,
            "the server's handshake signature does not verify with the key in its certificate \
             (signed with another key, or with a key too weak for a current client, such as RSA under 2048 bits)",
        ),
        CertificateError::BadEncoding => ProbeError::new(
            ProbeErrorKind::UnusableCertificate,
            "the server's certificate is malformed: it is not valid DER",
        ),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => ProbeError::new(
            ProbeErrorKind::UnusableCertificate,
            "the key in the server's certificate cannot make the signature it sent (an unsupported key or algorithm)",
        ),
        CertificateError::Other(other) => {
            let why = other
                .0
                .downcast_ref::<webpki::Error>()
                .map_or_else(|| "it could not be parsed".to_owned(), webpki_words);
            ProbeError::new(
                ProbeErrorKind::UnusableCertificate,
                format!("the server's certificate is malformed: {why}"),
            )
        }
        other => ProbeError::new(
            ProbeErrorKind::UnusableCertificate,
            format!("the server's certificate could not be used ({})", debug_words(other)),
        ),
    }
}

/// webpki's parse errors in words.
fn webpki_words(e: &webpki::Error) -> String {
    use webpki::Error as W;
    match e {
        W::BadDer => "it is not valid DER".to_owned(),
        W::BadDerTime => "a date in it is not valid DER".to_owned(),
        W::ExtensionValueInvalid => {
            "an extension is invalid or appears more than once (RFC 5280 allows each extension once)".to_owned()
        }
        W::UnsupportedCertVersion => "its X.509 version is not v3".to_owned(),
        W::UnsupportedCriticalExtension => "it has a critical extension a client does not know".to_owned(),
        W::TrailingData(_) => "it has bytes after its end".to_owned(),
        W::InvalidSignatureForPublicKey => "its key does not verify the handshake signature".to_owned(),
        W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) | W::UnsupportedSignatureAlgorithmContext(_) => {
            "its key type or size is not supported for handshake signatures".to_owned()
        }
        other => debug_words(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_read_as_words() {
        for (identifier, expected) in [
            ("HandshakeFailure", "handshake failure"),
            ("ExtensionValueInvalid", "extension value invalid"),
            ("BadDER", "bad DER"),
            ("ServerDoesNotSupportTls12Or13", "server does not support tls12 or13"),
            ("Other(OtherError(ExtensionValueInvalid))", "an unrecognised problem"),
            ("TrailingData { what: \"x\" }", "an unrecognised problem"),
            ("", "an unrecognised problem"),
        ] {
            assert_eq!(words(identifier), expected, "{identifier}");
        }
    }

    #[test]
    fn numbers_get_thousands_separators() {
        for (n, expected) in [(0, "0"), (999, "999"), (1000, "1,000"), (4096, "4,096"), (1_234_567, "1,234,567")] {
            assert_eq!(thousands(n), expected);
        }
    }

    #[test]
    fn durations_read_as_words() {
        use std::time::Duration;
        for (d, expected) in [
            (Duration::from_millis(250), "250 ms"),
            (Duration::from_secs(5), "5 s"),
            (Duration::from_millis(1500), "1.5 s"),
        ] {
            assert_eq!(duration_words(d), expected);
        }
    }

    #[test]
    fn non_tls_answers_are_described_without_bytes() {
        for (bytes_read, head, expected) in [
            (
                4096,
                &b"HTTP/1.1 400 Bad Request\r\n"[..],
                "the server sent 4,096 bytes that are not TLS, starting with `HTTP/1.1 400 Bad`",
            ),
            (5, &b"HTTP/"[..], "the server sent 5 bytes that are not TLS, starting with `HTTP/`"),
            (1, &[0xff][..], "the server sent 1 byte that is not TLS or text"),
            (7, &b"SSH-2.0\xff"[..], "the server sent 7 bytes that are not TLS, starting with `SSH-2.0`"),
        ] {
            let e = not_tls_error(bytes_read, head);
            assert_eq!(e.kind, ProbeErrorKind::NotTls);
            assert_eq!(e.message, expected);
        }
    }

    #[test]
    fn tls_looking_starts_are_recognised() {
        for (head, expected) in [
            (&[][..], None),
            (&[0x16][..], Some(true)),
            (&[0x16, 0x03, 0x03][..], Some(true)),
            (&[0x15, 0x03][..], Some(true)),
            (&b"HT"[..], Some(false)),
            (&[0x16, 0x02][..], Some(false)),
        ] {
            assert_eq!(looks_like_tls(head), expected, "{head:?}");
        }
    }

    /// Each rustls error the probe can meet becomes a kind and a sentence
    /// without debug syntax.
    #[test]
    fn rustls_errors_become_kinds_with_sentences() {
        use rustls::AlertDescription as A;
        let plain = HandshakeContext { bytes_read: 100, head: &[0x16, 3, 3], ..HandshakeContext::default() };
        let requested = HandshakeContext { client_certificate_requested: true, chain_captured: true, ..plain };
        let captured = HandshakeContext { chain_captured: true, ..plain };
        let duplicate =
            CertificateError::Other(rustls::OtherError(std::sync::Arc::new(webpki::Error::ExtensionValueInvalid)));
        let cases: Vec<(rustls::Error, &HandshakeContext<'_>, ProbeErrorKind, &str)> = vec![
            (
                rustls::Error::AlertReceived(A::ProtocolVersion),
                &plain,
                ProbeErrorKind::UnsupportedProtocol,
                "the server refused TLS 1.2 and 1.3 (alert \"protocol version\")",
            ),
            (
                rustls::Error::AlertReceived(A::HandshakeFailure),
                &plain,
                ProbeErrorKind::NoCommonAlgorithms,
                "(alert \"handshake failure\")",
            ),
            (
                rustls::Error::AlertReceived(A::HandshakeFailure),
                &requested,
                ProbeErrorKind::ClientCertificateRequired,
                "the server asked for a client certificate and ended the handshake with the alert \"handshake failure\" when the probe sent none",
            ),
            (
                rustls::Error::AlertReceived(A::CertificateRequired),
                &plain,
                ProbeErrorKind::ClientCertificateRequired,
                "asked for a client certificate",
            ),
            (
                rustls::Error::AlertReceived(A::UnrecognisedName),
                &plain,
                ProbeErrorKind::TlsAlert("UnrecognisedName".into()),
                "the server ended the handshake with the TLS alert \"unrecognised name\"",
            ),
            (
                rustls::Error::AlertReceived(A::HandshakeFailure),
                &captured,
                ProbeErrorKind::TlsAlert("HandshakeFailure".into()),
                "alert \"handshake failure\"",
            ),
            (
                rustls::Error::InvalidCertificate(duplicate),
                &captured,
                ProbeErrorKind::UnusableCertificate,
                "the server's certificate is malformed: an extension is invalid or appears more than once",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::BadSignature),
                &captured,
                ProbeErrorKind::BadHandshakeSignature,
                "handshake signature does not verify",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
                &captured,
                ProbeErrorKind::UnusableCertificate,
                "not valid DER",
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13),
                &plain,
                ProbeErrorKind::UnsupportedProtocol,
                "older than 1.2",
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::NoKxGroupsInCommon),
                &plain,
                ProbeErrorKind::NoCommonAlgorithms,
                "key exchange groups",
            ),
            (
                rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge),
                &plain,
                ProbeErrorKind::TooLarge,
                "64 KiB",
            ),
            (
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                &plain,
                ProbeErrorKind::ProtocolViolation,
                "malformed TLS message (invalid content type)",
            ),
            (
                rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::SelectedUnofferedCipherSuite),
                &plain,
                ProbeErrorKind::ProtocolViolation,
                "(selected unoffered cipher suite)",
            ),
            (rustls::Error::General("x".into()), &plain, ProbeErrorKind::Tls, "the TLS handshake failed"),
        ];
        for (error, ctx, kind, sentence) in cases {
            let got = classify_rustls(&error, ctx);
            assert_eq!(got.kind, kind, "{error}");
            assert!(got.message.contains(sentence), "{error}: {:?} lacks {sentence:?}", got.message);
            for debug_syntax in ["(Other", "Error(", "{", "[", "::"] {
                assert!(!got.message.contains(debug_syntax), "{error}: debug text in {:?}", got.message);
            }
            assert!(!got.to_string().is_empty());
        }
    }

    /// I/O failures during the handshake, by what the server had sent.
    #[test]
    fn handshake_io_errors_become_kinds_with_sentences() {
        use io::ErrorKind as K;
        let tls = [22u8, 3, 3];
        // error, bytes read, first bytes, client certificate requested, kind, sentence
        type Case<'a> = (io::Error, u64, &'a [u8], bool, ProbeErrorKind, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                K::ConnectionReset.into(),
                0,
                &[],
                false,
                ProbeErrorKind::Reset,
                "the server reset the connection without answering the TLS ClientHello",
            ),
            (
                K::ConnectionReset.into(),
                5000,
                &tls,
                false,
                ProbeErrorKind::Reset,
                "the server reset the connection during the handshake, after sending 5,000 bytes",
            ),
            (
                K::BrokenPipe.into(),
                900,
                &tls,
                true,
                ProbeErrorKind::ClientCertificateRequired,
                "the server asked for a client certificate and reset the connection when the probe sent none",
            ),
            (
                K::UnexpectedEof.into(),
                0,
                &[],
                false,
                ProbeErrorKind::Closed,
                "the server closed the connection without answering the TLS ClientHello",
            ),
            (
                K::UnexpectedEof.into(),
                1200,
                &tls,
                false,
                ProbeErrorKind::Closed,
                "the server closed the connection during the handshake, after sending 1,200 bytes",
            ),
            (
                K::UnexpectedEof.into(),
                1200,
                &tls,
                true,
                ProbeErrorKind::ClientCertificateRequired,
                "the server asked for a client certificate and closed the connection when the probe sent none",
            ),
            (
                K::UnexpectedEof.into(),
                3,
                b"SSH",
                false,
                ProbeErrorKind::NotTls,
                "the server sent 3 bytes that are not TLS, starting with `SSH`",
            ),
            (
                io::Error::other(ReadCapExceeded(16384)),
                20000,
                &tls,
                false,
                ProbeErrorKind::TooLarge,
                "the server sent more than 16,384 bytes without finishing the handshake",
            ),
            (
                io::Error::other(rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)),
                7,
                &[21, 3, 1],
                false,
                ProbeErrorKind::UnsupportedProtocol,
                "the server refused TLS 1.2 and 1.3 (alert \"protocol version\")",
            ),
            (
                io::Error::new(K::AddrNotAvailable, "no address"),
                0,
                &[],
                false,
                ProbeErrorKind::Io,
                "a network error ended the handshake: no address",
            ),
        ];
        for (error, bytes_read, head, requested, kind, sentence) in cases {
            let ctx =
                HandshakeContext { bytes_read, head, client_certificate_requested: requested, chain_captured: false };
            let got = classify_handshake(&error, &ctx);
            assert_eq!((got.kind, got.message.as_str()), (kind, sentence), "{error}");
        }
    }

    #[test]
    fn every_kind_has_a_sentence() {
        use crate::model::Phase;
        let kinds = [
            ProbeErrorKind::InvalidTarget,
            ProbeErrorKind::Dns,
            ProbeErrorKind::Refused,
            ProbeErrorKind::Timeout(Phase::Handshake),
            ProbeErrorKind::Deadline(Phase::Queue),
            ProbeErrorKind::Reset,
            ProbeErrorKind::Closed,
            ProbeErrorKind::NotTls,
            ProbeErrorKind::TlsAlert("HandshakeFailure".into()),
            ProbeErrorKind::TooLarge,
            ProbeErrorKind::Tls,
            ProbeErrorKind::Io,
            ProbeErrorKind::UnsupportedProtocol,
            ProbeErrorKind::NoCommonAlgorithms,
            ProbeErrorKind::UnusableCertificate,
            ProbeErrorKind::BadHandshakeSignature,
            ProbeErrorKind::ClientCertificateRequired,
            ProbeErrorKind::ProtocolViolation,
        ];
        let expected = [
            "the target cannot be probed as given",
            "the name could not be resolved to an address to probe",
            "the connection was refused",
            "the TLS handshake did not finish in time",
            "the run's deadline passed during the wait for a free connection slot",
            "the server reset the connection",
            "the server closed the connection before the handshake finished",
            "the server answered with something that is not TLS",
            "the server ended the handshake with the TLS alert \"handshake failure\"",
            "the server's handshake is larger than the probe accepts",
            "the TLS handshake failed",
            "a network error ended the probe",
            "the server offers no TLS version the probe's client supports (TLS 1.2 or 1.3)",
            "the server accepts none of the cipher suites, signature algorithms or key exchange groups offered",
            "the server's certificate cannot be used to check its handshake signature",
            "the server's handshake signature does not verify with its certificate's key",
            "the server requires a client certificate",
            "the server broke the TLS protocol",
        ];
        // Whether the endpoint answered with TLS (the handshake failed) or
        // was not reached at all.
        let tls_failure = [
            false, false, false, false, false, false, true, false, true, true, true, false, true, true, true, true,
            true, true,
        ];
        for ((kind, sentence), tls_failure) in kinds.iter().zip(expected).zip(tls_failure) {
            assert_eq!(kind.to_string(), sentence);
            assert_eq!(ProbeError::of_kind(kind.clone()).to_string(), sentence);
            assert_eq!(kind.is_tls_failure(), tls_failure, "{kind:?}");
        }
    }
}
