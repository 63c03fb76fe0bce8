//! What to probe: host, port, the SNI to send and where the name resolves.

use std::fmt;
use std::net::IpAddr;
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

/// Error from [`ProbeTarget::from_str`] and [`parse_resolve`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl FromStr for ProbeTarget {
    type Err = ParseError;

    /// `host`, `host:port`, `1.2.3.4:443`, `[::1]:443` or a bare `::1`
    /// (port 443 when none is given).
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
        Ok(ProbeTarget::new(host, port))
    }
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
    Ok(ResolveOverride { host: host.to_owned(), port, addrs })
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
    }
}
