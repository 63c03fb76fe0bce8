//! What to probe: host, port, the SNI to send and where the name resolves;
//! and the parsers for how users write targets (`host:port`, `--sni`, a
//! targets-file line), which turn internationalized names into the A-labels
//! DNS and SNI carry.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The port used when a target string names none.
pub const DEFAULT_PORT: u16 = 443;

/// Which SNI (server_name extension) the client sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SniMode {
    /// The target's host when it is a DNS name; nothing when it is an IP
    /// literal (RFC 6066 forbids IP addresses in SNI).
    #[default]
    FromHost,
    /// This name, whatever the host is: how a listener bound to an address
    /// is asked for one of the domains it serves.
    Name(String),
    /// No SNI at all: what a client that predates SNI, or a health checker
    /// connecting by address, receives (the endpoint's default certificate).
    None,
}

/// One endpoint to probe.
///
/// A target may produce several observations: one per address when the
/// prober is configured with [`AddressSelection::All`](crate::AddressSelection::All).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProbeTarget {
    /// DNS name or IP literal (IPv6 with or without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SNI to send.
    #[serde(default)]
    pub sni: SniMode,
    /// Addresses to use instead of resolving `host` (curl's `--resolve`).
    /// The host still determines the SNI under [`SniMode::FromHost`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_override: Option<Vec<IpAddr>>,
}

impl ProbeTarget {
    /// A target with SNI taken from the host and no resolver override.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ProbeTarget { host: host.into(), port, sni: SniMode::FromHost, resolve_override: None }
    }

    /// Same target, sending `sni` instead.
    pub fn with_sni(mut self, sni: SniMode) -> Self {
        self.sni = sni;
        self
    }

    /// Same target, connecting to `addrs` instead of resolving the host.
    pub fn with_resolve_override(mut self, addrs: Vec<IpAddr>) -> Self {
        self.resolve_override = Some(addrs);
        self
    }

    /// The host as an IP address, if it is a literal (`[::1]` accepted).
    pub fn host_ip(&self) -> Option<IpAddr> {
        let h = self.host.trim();
        let h = h.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(h);
        h.parse().ok()
    }
}

impl fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip() {
            Some(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// Error from the parsers of this module: a sentence naming what was
/// given and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl FromStr for ProbeTarget {
    type Err = ParseError;

    /// `host`, `host:port`, `1.2.3.4:443`, `[::1]:443` or a bare `::1`
    /// (port 443 when none is given). An internationalized host
    /// (`bücher.example`) becomes its A-label form (`xn--bcher-kva.example`,
    /// UTS-46), which is what DNS, SNI and certificates carry.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError("empty target".into()));
        }
        let (host, port) = split_host_port(s)?;
        let port = match port {
            Some(p) => parse_port(p, s)?,
            None => DEFAULT_PORT,
        };
        if host.is_empty() {
            return Err(ParseError(format!("target {s:?} has no host")));
        }
        let host = if host.parse::<IpAddr>().is_ok() {
            host.to_owned()
        } else {
            let ascii = ascii_host(host).map_err(|why| ParseError(format!("target {s:?}: {why}")))?;
            // Refused here, before anything could send it to a resolver.
            rustls::pki_types::DnsName::try_from(ascii.as_str()).map_err(|_| {
                ParseError(format!(
                    "target {s:?}: {ascii:?} is not a valid DNS name (letters, digits, hyphens and dots only)"
                ))
            })?;
            ascii
        };
        Ok(ProbeTarget::new(host, port))
    }
}

/// A DNS name as DNS and SNI carry it: ASCII names as given, names with
/// U-labels converted to A-labels by UTS-46 (strict: STD3 characters and
/// DNS lengths). The error says why in words.
pub(crate) fn ascii_host(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_ascii() {
        return Ok(name.to_owned());
    }
    // idna's error type prints only its Debug form, so it is not shown.
    idna::domain_to_ascii_strict(name).map_err(|_| {
        format!(
            "{name:?} is not a valid internationalized domain name (it cannot be converted to an A-label \
             name by UTS-46: a character not allowed in host names, an empty or overlong label, or a \
             disallowed mix of scripts or directions)"
        )
    })
}

/// Parses an SNI name as a user gives it (`--sni`, `sni=` in a targets
/// file): a DNS name, U-labels converted to A-labels. IP addresses are
/// refused, since SNI cannot carry them (RFC 6066).
pub fn parse_sni(s: &str) -> Result<String, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ParseError("empty SNI name".into()));
    }
    let bare = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(s);
    if bare.parse::<IpAddr>().is_ok() {
        return Err(ParseError(format!(
            "SNI {s:?} is an IP address, which SNI cannot carry (RFC 6066); connect to the address and send no SNI instead"
        )));
    }
    let ascii = ascii_host(s).map_err(|why| ParseError(format!("SNI {why}")))?;
    rustls::pki_types::DnsName::try_from(ascii.as_str())
        .map_err(|_| ParseError(format!("SNI {s:?} is not a valid DNS name")))?;
    Ok(ascii)
}

/// One line of a targets file: `HOST[:PORT] [sni=NAME] [connect=ADDRESS[:PORT]]`.
///
/// `HOST[:PORT]` is the endpoint as users and certificates know it (the
/// name checked against the certificate, and the SNI unless `sni=` says
/// otherwise); `connect=` is where to connect instead, an IP address with
/// an optional port (IPv6 in brackets when a port follows), so one file
/// can describe a whole farm of names served from a few addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetLine {
    /// Host, A-labels (or an IP literal).
    pub host: String,
    /// Port of the endpoint as named.
    pub port: u16,
    /// The SNI to send, when not the host (A-labels).
    pub sni: Option<String>,
    /// Where to connect instead of resolving the host: an address and, when
    /// given, a port (else `port`).
    pub connect: Option<(IpAddr, Option<u16>)>,
}

impl TargetLine {
    /// The probe target: SNI from `sni=` or the host, connecting to
    /// `connect=` when given.
    pub fn to_probe_target(&self) -> ProbeTarget {
        let mut target = ProbeTarget::new(self.host.clone(), self.port);
        if let Some(sni) = &self.sni {
            target.sni = SniMode::Name(sni.clone());
        }
        if let Some((ip, port)) = self.connect {
            target.port = port.unwrap_or(self.port);
            target.resolve_override = Some(vec![ip]);
        }
        target
    }
}

/// Parses one line of a targets file. Blank lines and comments (`#` to the
/// end of the line) give `Ok(None)`. Errors name the line's text; the
/// caller adds the file and line number.
pub fn parse_target_line(line: &str) -> Result<Option<TargetLine>, ParseError> {
    let text = line.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut words = text.split_whitespace();
    let endpoint = words.next().expect("a non-empty line has a first word");
    let target: ProbeTarget = endpoint.parse().map_err(|e: ParseError| ParseError(format!("{text:?}: {e}")))?;
    let mut parsed = TargetLine { host: target.host, port: target.port, sni: None, connect: None };
    for word in words {
        let bad = |why: String| ParseError(format!("{text:?}: {why}"));
        match word.split_once('=') {
            Some(("sni", name)) if parsed.sni.is_none() => parsed.sni = Some(parse_sni(name).map_err(|e| bad(e.0))?),
            Some(("connect", to)) if parsed.connect.is_none() => {
                parsed.connect = Some(parse_connect(to).map_err(bad)?);
            }
            Some((key @ ("sni" | "connect"), _)) => return Err(bad(format!("{key}= is given twice"))),
            _ => {
                return Err(bad(format!(
                    "{word:?} is not understood (expected sni=NAME or connect=ADDRESS[:PORT] after the target)"
                )))
            }
        }
    }
    Ok(Some(parsed))
}

/// `ADDRESS`, `ADDRESS:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address.
fn parse_connect(to: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = to.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(addr) = to.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(format!("connect={to}: port 0 cannot be connected to"));
        }
        return Ok((addr.ip(), Some(addr.port())));
    }
    if let Some(ip) = to.strip_prefix('[').and_then(|x| x.strip_suffix(']')).and_then(|x| x.parse::<IpAddr>().ok()) {
        return Ok((ip, None));
    }
    Err(format!("connect={to}: expected an IP address with an optional port (IPv6 in brackets when a port follows)"))
}

fn parse_port(p: &str, whole: &str) -> Result<u16, ParseError> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(ParseError(format!("bad port {p:?} in {whole:?}"))),
        Ok(n) => Ok(n),
    }
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 literal. A bare
/// IPv6 literal (more than one colon, no brackets) is all host.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), ParseError> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| ParseError(format!("unclosed '[' in {s:?}")))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, Some(p))),
                None => Err(ParseError(format!("unexpected {after:?} after ']' in {s:?}"))),
            },
        };
    }
    match s.matches(':').count() {
        0 => Ok((s, None)),
        1 => {
            let (h, p) = s.split_once(':').expect("one colon");
            Ok((h, Some(p)))
        }
        _ => Ok((s, None)),
    }
}

/// A curl-style resolver override: connections to `host:port` go to `addrs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveOverride {
    /// Host name the override applies to (compared case-insensitively).
    pub host: String,
    /// Port the override applies to.
    pub port: u16,
    /// Addresses to connect to, in order.
    pub addrs: Vec<IpAddr>,
}

impl ResolveOverride {
    /// Whether this override applies to `target`.
    pub fn applies_to(&self, target: &ProbeTarget) -> bool {
        self.port == target.port && self.host.eq_ignore_ascii_case(target.host.trim())
    }
}

/// Parses curl's `--resolve` syntax: `host:port:addr[,addr]...`, where each
/// addr may be an IPv4 literal or an IPv6 literal with or without brackets.
///
/// curl's extras (`+host` for lazy resolution, `-host` to remove, `*`
/// wildcards) are not supported and are refused rather than misread.
pub fn parse_resolve(s: &str) -> Result<ResolveOverride, ParseError> {
    let s = s.trim();
    let bad = |why: &str| ParseError(format!("bad --resolve {s:?}: {why}"));
    let (host, rest) = s.split_once(':').ok_or_else(|| bad("expected host:port:addr"))?;
    let (port, addrs) = rest.split_once(':').ok_or_else(|| bad("expected host:port:addr"))?;
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    if host.starts_with(['+', '-']) || host.contains('*') {
        return Err(bad("'+', '-' and '*' forms are not supported"));
    }
    let port = parse_port(port, s)?;
    // Targets carry A-labels, so the override must name the host likewise.
    let host = ascii_host(host).map_err(|why| bad(&why))?;
    let addrs = addrs
        .split(',')
        .map(|a| {
            let a = a.trim();
            let a = a.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(a);
            a.parse::<IpAddr>().map_err(|_| bad(&format!("{a:?} is not an IP address")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(bad("no address"));
    }
    Ok(ResolveOverride { host, port, addrs })
}

/// Sets `resolve_override` on every target an override applies to (the
/// last matching override wins, as with repeated `--resolve` in curl).
/// Returns how many targets were changed.
pub fn apply_resolve_overrides(targets: &mut [ProbeTarget], overrides: &[ResolveOverride]) -> usize {
    let mut changed = 0;
    for t in targets.iter_mut() {
        if let Some(o) = overrides.iter().rev().find(|o| o.applies_to(t)) {
            t.resolve_override = Some(o.addrs.clone());
            changed += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn parses_targets() {
        let t: ProbeTarget = "example.com".parse().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.com", 443));
        let t: ProbeTarget = "example.com:8443".parse().unwrap();
        assert_eq!(t.port, 8443);
        let t: ProbeTarget = "[::1]:8443".parse().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.host_ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(t.to_string(), "[::1]:8443");
        let t: ProbeTarget = "::1".parse().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert!("host:0".parse::<ProbeTarget>().is_err());
        assert!("host:99999".parse::<ProbeTarget>().is_err());
        assert!("[::1".parse::<ProbeTarget>().is_err());
        assert!(":443".parse::<ProbeTarget>().is_err());
    }

    /// Internationalized names become A-labels at parse time; names that
    /// cannot be converted are refused there, naming the target.
    #[test]
    fn internationalized_targets_become_a_labels() {
        for (input, host, port) in [
            ("bücher.example", "xn--bcher-kva.example", 443),
            ("BÜCHER.example:8443", "xn--bcher-kva.example", 8443),
            ("例え.テスト", "xn--r8jz45g.xn--zckzah", 443),
            ("plain.example", "plain.example", 443),
            ("under_score.example", "under_score.example", 443),
        ] {
            let t: ProbeTarget = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((t.host.as_str(), t.port), (host, port), "{input}");
        }
        for bad in ["bü cher.example", "bücher..example", "bü_cher.example", "bücher.example:0"] {
            let e = bad.parse::<ProbeTarget>().unwrap_err().to_string();
            assert!(e.contains(bad.split(':').next().unwrap()), "{bad}: {e}");
        }
        let e = "bü cher.example".parse::<ProbeTarget>().unwrap_err().to_string();
        assert_eq!(
            e,
            "target \"bü cher.example\": \"bü cher.example\" is not a valid internationalized domain name (it \
             cannot be converted to an A-label name by UTS-46: a character not allowed in host names, an empty or \
             overlong label, or a disallowed mix of scripts or directions)"
        );
    }

    #[test]
    fn parses_sni_names() {
        for (input, expected) in [
            ("bücher.example", Ok("xn--bcher-kva.example")),
            (" www.example.com ", Ok("www.example.com")),
            ("127.0.0.1", Err("is an IP address")),
            ("[::1]", Err("is an IP address")),
            ("", Err("empty SNI name")),
            ("bü cher.example", Err("SNI \"bü cher.example\" is not a valid internationalized domain name")),
            ("bad name.example", Err("is not a valid DNS name")),
        ] {
            match (parse_sni(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(got), Err(want)) => assert!(got.to_string().contains(want), "{input}: {got}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn parses_targets_file_lines() {
        let v6: IpAddr = "::1".parse().unwrap();
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let line = |host: &str, port, sni: Option<&str>, connect| {
            Ok(Some(TargetLine { host: host.into(), port, sni: sni.map(str::to_owned), connect }))
        };
        for (input, expected) in [
            ("", Ok(None)),
            ("   # a comment", Ok(None)),
            ("shop.example", line("shop.example", 443, None, None)),
            ("shop.example:8443  # primary", line("shop.example", 8443, None, None)),
            ("shop.example sni=www.example", line("shop.example", 443, Some("www.example"), None)),
            (
                "bücher.example sni=bücher.example",
                line("xn--bcher-kva.example", 443, Some("xn--bcher-kva.example"), None),
            ),
            ("shop.example connect=127.0.0.1", line("shop.example", 443, None, Some((lo, None)))),
            ("shop.example:443 connect=127.0.0.1:8443", line("shop.example", 443, None, Some((lo, Some(8443))))),
            (
                "shop.example connect=[::1]:9443 sni=a.example",
                line("shop.example", 443, Some("a.example"), Some((v6, Some(9443)))),
            ),
            ("shop.example connect=::1", line("shop.example", 443, None, Some((v6, None)))),
            ("shop.example connect=[::1]", line("shop.example", 443, None, Some((v6, None)))),
            ("[::1]:8443", line("::1", 8443, None, None)),
            ("shop.example sni=1.2.3.4", Err("is an IP address")),
            ("shop.example connect=shop.internal", Err("connect=shop.internal: expected an IP address")),
            ("shop.example connect=127.0.0.1:0", Err("port 0")),
            ("shop.example sni=a.example sni=b.example", Err("sni= is given twice")),
            ("shop.example port=8443", Err("\"port=8443\" is not understood")),
            ("shop.example:99999", Err("bad port")),
            ("bü_cher.example connect=127.0.0.1", Err("not a valid internationalized domain name")),
        ] {
            match (parse_target_line(input), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(got), Err(want)) => {
                    let got = got.to_string();
                    assert!(got.contains(want), "{input}: {got}");
                    assert!(got.starts_with(&format!("{:?}", input.split('#').next().unwrap().trim())), "{got}");
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let target = parse_target_line("shop.example sni=www.example connect=127.0.0.1:8443")
            .unwrap()
            .unwrap()
            .to_probe_target();
        assert_eq!(target.host, "shop.example");
        assert_eq!(target.port, 8443, "connects to the connect= port");
        assert_eq!(target.sni, SniMode::Name("www.example".into()));
        assert_eq!(target.resolve_override, Some(vec![lo]));
        let plain = parse_target_line("shop.example:8443").unwrap().unwrap().to_probe_target();
        assert_eq!(plain, ProbeTarget::new("shop.example", 8443));
    }

    #[test]
    fn parses_curl_resolve() {
        let o = parse_resolve("example.com:443:127.0.0.1,[::1],::2").unwrap();
        assert_eq!(o.host, "example.com");
        assert_eq!(o.port, 443);
        assert_eq!(
            o.addrs,
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST), "::2".parse::<IpAddr>().unwrap()]
        );
        for bad in [
            "example.com:443",
            "example.com:x:1.2.3.4",
            ":443:1.2.3.4",
            "example.com:443:nope",
            "+example.com:443:1.2.3.4",
            "*:443:1.2.3.4",
            "example.com:443:",
        ] {
            assert!(parse_resolve(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn applies_overrides_by_host_and_port() {
        let mut ts = vec![
            ProbeTarget::new("A.example", 443),
            ProbeTarget::new("a.example", 8443),
            ProbeTarget::new("b.example", 443),
        ];
        let os = [parse_resolve("a.example:443:10.0.0.1").unwrap(), parse_resolve("a.example:443:127.0.0.1").unwrap()];
        assert_eq!(apply_resolve_overrides(&mut ts, &os), 1);
        assert_eq!(ts[0].resolve_override, Some(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]));
        assert_eq!(ts[1].resolve_override, None);
        assert_eq!(ts[2].resolve_override, None);

        // Written with U-labels on both sides, they still meet.
        let mut ts = vec!["bücher.example".parse::<ProbeTarget>().unwrap()];
        let os = [parse_resolve("Bücher.example:443:127.0.0.1").unwrap()];
        assert_eq!(apply_resolve_overrides(&mut ts, &os), 1);
        assert!(parse_resolve("bü_cher.example:443:127.0.0.1").unwrap_err().to_string().contains("UTS-46"));
    }
}
