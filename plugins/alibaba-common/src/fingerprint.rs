//! Fingerprints whose algorithm the API does not say: CAS `Fingerprint` is
//! documented only as "the certificate fingerprint" and has been seen as
//! SHA-1 and as SHA-256, so the algorithm is read from the length of the
//! hex digest instead of being assumed.

use certinspect_sdk::{normalize_hex, Fingerprint};

/// The fingerprint in `text` (any common hex spelling), its algorithm told
/// by length: 40 hex digits SHA-1, 64 SHA-256. Anything else (MD5's 32, a
/// truncated or non-hex value) is `None`: a wrong algorithm label would make
/// a certificate look replaced.
pub fn fingerprint_by_length(text: &str) -> Option<Fingerprint> {
    let hex = normalize_hex(text);
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        40 => Some(Fingerprint::new("sha1", &hex)),
        64 => Some(Fingerprint::new("sha256", &hex)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_follow_the_digest_length() {
        let sha1 = "68:08:1A:F8:2C:97:69:A3:A1:E4:6F:7A:E4:B6:E9:2D:AD:86:AD:7B";
        let sha256 = "B4".repeat(32);
        let cases: &[(&str, Option<&str>)] = &[
            (sha1, Some("sha1")),
            (&sha256, Some("sha256")),
            ("d41d8cd98f00b204e9800998ecf8427e", None),
            ("not hex at all, forty characters long!!", None),
            ("", None),
        ];
        for (text, algorithm) in cases {
            assert_eq!(fingerprint_by_length(text).map(|f| f.algorithm), algorithm.map(str::to_owned), "{text}");
        }
        assert_eq!(fingerprint_by_length(sha1).unwrap().hex, "68081af82c9769a3a1e46f7ae4b6e92dad86ad7b");
    }
}
