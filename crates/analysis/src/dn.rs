//! Distinguished names as RFC 4514 strings, and the small DER helpers the
//! chain code needs to compare names with webpki's trust anchors.

use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Formats a name as RFC 4514 does: RDNs in reverse order of the DER
/// sequence, `,` between RDNs, `+` inside a multi-valued RDN.
///
/// Attribute types without an RFC 4514 short name are written as dotted
/// OIDs with the value as `#` + hex of its DER, as the RFC requires; a few
/// extra short names (SERIALNUMBER, POSTALCODE) are used as Go's `pkix` does,
/// because operators read these strings.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> =
        name.iter_rdn().map(|rdn| rdn.iter().map(attribute_to_string).collect::<Vec<_>>().join("+")).collect();
    rdns.reverse();
    rdns.join(",")
}

/// A DER-encoded `Name` (with its outer SEQUENCE, as TLS carries the
/// acceptable CA names of a certificate request) as RFC 4514 text; `None`
/// when the bytes are not a name.
pub fn distinguished_name(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    match X509Name::from_der(der) {
        Ok(([], name)) => Some(rfc4514(&name)),
        _ => None,
    }
}

fn attribute_to_string(atv: &AttributeTypeAndValue<'_>) -> String {
    let oid = atv.attr_type().to_id_string();
    match short_name(&oid) {
        Some(short) => match decode_string(atv.attr_value()) {
            Some(text) => format!("{short}={}", escape_value(&text)),
            None => format!("{short}=#{}", hex::encode(any_der(atv.attr_value()))),
        },
        None => format!("{oid}=#{}", hex::encode(any_der(atv.attr_value()))),
    }
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Decodes the directory string types into text; `None` for anything else
/// (the caller then falls back to the hex form, which loses nothing).
pub(crate) fn decode_string(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString | Tag::VisibleString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        // T61 in practice carries Latin-1.
        Tag::TeletexString => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4).map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))).collect()
        }
        _ => None,
    }
}

/// Re-encodes an attribute value as DER (tag, length, contents) for the
/// `#hex` form. Attribute values in certificates use single-byte tags.
fn any_der(value: &Any<'_>) -> Vec<u8> {
    let header = &value.header;
    let class = (header.class() as u8) << 6;
    let constructed = if header.is_constructed() { 0x20 } else { 0 };
    let tag = header.tag().0;
    let data = value.data;
    let mut out = Vec::with_capacity(data.len() + 6);
    if tag < 31 {
        out.push(class | constructed | tag as u8);
    } else {
        // High tag numbers never occur in directory strings; keep the value
        // readable anyway with base-128 tag encoding.
        out.push(class | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        while t > 0 {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
        }
        for (i, g) in groups.iter().enumerate().rev() {
            out.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    push_der_length(&mut out, data.len());
    out.extend_from_slice(data);
    out
}

fn push_der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// RFC 4514 section 2.4 escaping.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Contents of a DER TLV (drops tag and length). webpki keeps trust-anchor
/// subjects without the outer SEQUENCE header, x509-parser keeps names with
/// it; this lets the two be compared byte for byte.
pub(crate) fn der_contents(tlv: &[u8]) -> &[u8] {
    if tlv.len() < 2 {
        return &[];
    }
    let first_len = tlv[1];
    let (start, len) = if first_len < 0x80 {
        (2, first_len as usize)
    } else {
        let n = (first_len & 0x7f) as usize;
        if n == 0 || n > 4 || tlv.len() < 2 + n {
            return &[];
        }
        let len = tlv[2..2 + n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (2 + n, len)
    };
    tlv.get(start..start + len).unwrap_or(&[])
}

/// Length of the first DER TLV in `bytes` (header included), if it fits.
pub(crate) fn tlv_len(bytes: &[u8]) -> Option<usize> {
    let contents = der_contents(bytes);
    if contents.is_empty() && bytes.get(1) != Some(&0) {
        return None;
    }
    let header = contents.as_ptr() as usize - bytes.as_ptr() as usize;
    Some(header + contents.len())
}

/// Wraps name contents back into a DER SEQUENCE so x509-parser can read a
/// webpki trust anchor's subject.
pub(crate) fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(0x30);
    push_der_length(&mut out, contents.len());
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_rfc4514_specials() {
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value("#lead"), "\\#lead");
        assert_eq!(escape_value(" pad "), "\\ pad\\ ");
        assert_eq!(escape_value("in#side"), "in#side");
    }

    #[test]
    fn der_contents_round_trips_long_form() {
        let contents = vec![7u8; 300];
        let wrapped = wrap_sequence(&contents);
        assert_eq!(&wrapped[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(der_contents(&wrapped), contents.as_slice());
        assert_eq!(der_contents(&wrap_sequence(b"ab")), b"ab");
        let mut trailing = wrapped.clone();
        trailing.extend_from_slice(b"aux");
        assert_eq!(tlv_len(&trailing), Some(wrapped.len()));
        assert_eq!(tlv_len(&[0x30, 0x05, 1]), None);
    }
}
