//! What a PEM certificate says about itself: fingerprints, serial, names,
//! issuer and validity. ACM and IAM bindings take their identity from here,
//! never from the service's metadata (moto's IAM dates are placeholders,
//! ACM's serial spelling varies, and only the PEM is what gets served).

use certinspect_sdk::{normalize_serial, DeclaredCertificate};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The leaf of `pem` (the first certificate) as a declared certificate:
/// SHA-256 and SHA-1 fingerprints of its DER, serial, CN, SANs, issuer, validity.
pub fn declared_from_pem(pem: &str) -> Result<DeclaredCertificate, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
        .map_err(|_| "the certificate body is not a PEM certificate".to_owned())?;
    if block.label != "CERTIFICATE" {
        return Err(format!("the PEM block is a {}, not a CERTIFICATE", block.label));
    }
    let der = &block.contents;
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| "the PEM certificate is not valid X.509".to_owned())?;
    let common_name = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
    let mut sans = Vec::new();
    if let Ok(Some(extension)) = cert.subject_alternative_name() {
        for name in &extension.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        sans.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        sans.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let mut declared = DeclaredCertificate::default()
        .with_sans(sans)
        .with_fingerprint("sha256", &hex::encode(Sha256::digest(der)))
        .with_fingerprint("sha1", &hex::encode(Sha1::digest(der)))
        .with_serial(normalize_serial(&hex::encode(cert.raw_serial())))
        .with_issuer(cert.issuer().to_string())
        .with_validity(cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
    declared.common_name = common_name;
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_reads_back_its_names_serial_and_dates() {
        let mut params = rcgen::CertificateParams::new(vec!["shop.example.test".into(), "10.0.0.1".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "shop.example.test");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x0a, 0xbc]));
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2027, 1, 2);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let declared = declared_from_pem(&cert.pem()).unwrap();
        assert_eq!(declared.common_name.as_deref(), Some("shop.example.test"));
        assert_eq!(declared.sans, ["shop.example.test", "10.0.0.1"]);
        assert_eq!(declared.serial.as_deref(), Some("abc"));
        assert_eq!(declared.not_before, Some(1_767_312_000));
        assert_eq!(declared.not_after, Some(1_798_848_000));
        assert_eq!(declared.fingerprint("sha256"), Some(hex::encode(Sha256::digest(cert.der())).as_str()));
    }

    #[test]
    fn bad_pem_is_refused_in_words() {
        assert_eq!(declared_from_pem("nothing here").unwrap_err(), "the certificate body is not a PEM certificate");
    }
}
