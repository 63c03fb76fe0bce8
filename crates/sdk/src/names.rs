//! Host names: what a plugin can send as SNI or offer as a probe target.

/// A DNS host name (not an IP address, not a wildcard): letters, digits,
/// hyphens, dots, at least one dot.
pub fn is_plain_hostname(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name.parse::<std::net::IpAddr>().is_err()
        && name.split('.').all(is_label)
        && !name.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

/// One DNS label (`www`).
pub fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// `*.example.com` -> `example.com`.
pub fn wildcard_base(name: &str) -> Option<&str> {
    name.strip_prefix("*.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        assert!(is_plain_hostname("www.example.com"));
        assert!(!is_plain_hostname("*.example.com"));
        assert!(!is_plain_hostname("192.0.2.1"));
        assert!(!is_plain_hostname("localhost"));
        assert!(!is_plain_hostname("my cert"));
        assert_eq!(wildcard_base("*.example.com"), Some("example.com"));
        assert!(is_label("www") && !is_label("a.b") && !is_label("-x"));
    }
}
