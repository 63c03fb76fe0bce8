//! ACM: one inventory binding per certificate of a region.
//!
//! `ListCertificates` pages by `NextToken` and is sent with
//! `Includes.keyTypes` naming every key type: without it ACM lists only
//! RSA_1024 and RSA_2048 certificates, so ECDSA and larger RSA keys would
//! silently vanish (moto lists every key type when no filter is sent, so
//! it cannot show the loss; a recorded-answer test
//! covers it). Each certificate is described (`DescribeCertificate`:
//! names, status, type, renewal, `InUseBy`) and its PEM fetched
//! (`GetCertificate`), from which the identity is computed, and its tags
//! read (`ListTagsForCertificate`: the binding's `tags` are the
//! certificate's own).

use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::{Binding, DeclaredCertificate, Location, Page, Tristate};

use crate::certificate::declared_from_pem;
use crate::client::{AwsError, Client, ACM};
use crate::tags::PageTags;
use crate::{xref_arn, Context};

/// Every key type ACM knows (botocore's `KeyAlgorithm` enum).
pub const ALL_KEY_TYPES: &[&str] =
    &["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"];

/// Certificates per `ListCertificates` page (ACM allows up to 1000).
const PAGE_SIZE: u32 = 100;

/// The `ListCertificates` request body for one page.
pub fn list_request(next_token: Option<&str>) -> Value {
    let mut body = json!({ "Includes": { "keyTypes": ALL_KEY_TYPES }, "MaxItems": PAGE_SIZE });
    if let Some(token) = next_token {
        body["NextToken"] = json!(token);
    }
    body
}

/// One page of a region's certificates.
pub fn list_page(context: &Context, region: &str, cursor: Option<&str>) -> Result<Page, AwsError> {
    let client = &context.client;
    let answer = client.json(&ACM, region, "ListCertificates", &list_request(cursor))?;
    let mut page = Page::last(Vec::new());
    page.next_cursor = answer["NextToken"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
    let mut tags = PageTags::new("ACM certificates", context.tags);
    for summary in answer["CertificateSummaryList"].as_array().into_iter().flatten() {
        let Some(arn) = summary["CertificateArn"].as_str() else { continue };
        match certificate_binding(context, client, region, arn) {
            Ok((mut binding, problem)) => {
                if let Some(problem) = problem {
                    page.warnings.push(format!("ACM certificate {arn}: {problem}"));
                }
                crate::tags::apply(&mut binding, tags.read(1, || crate::tags::acm(client, region, arn)));
                page.bindings.push(binding);
            }
            Err(e) => page.warnings.push(format!("ACM certificate {arn} is not listed: {e}")),
        }
    }
    page.warnings.extend(tags.warning());
    Ok(page)
}

/// `DescribeCertificate`'s `Certificate` object.
pub fn describe(client: &Client, region: &str, arn: &str) -> Result<Value, AwsError> {
    let answer = client.json(&ACM, region, "DescribeCertificate", &json!({ "CertificateArn": arn }))?;
    Ok(answer["Certificate"].clone())
}

/// The certificate's binding, and what went wrong reading its body (the
/// binding then carries ACM's metadata only).
fn certificate_binding(
    context: &Context,
    client: &Client,
    region: &str,
    arn: &str,
) -> Result<(Binding, Option<String>), AwsError> {
    let detail = describe(client, region, arn)?;
    let status = detail["Status"].as_str().unwrap_or_default();
    // Only these states have a certificate body to get.
    let has_body = matches!(status, "ISSUED" | "EXPIRED" | "REVOKED" | "INACTIVE");
    let mut note = None;
    let pem = if has_body {
        match client.json(&ACM, region, "GetCertificate", &json!({ "CertificateArn": arn })) {
            Ok(answer) => answer["Certificate"].as_str().map(str::to_owned),
            Err(e) => {
                note = Some(format!("{e}; declared from its metadata, without fingerprints"));
                None
            }
        }
    } else {
        None
    };
    let mut declared = match pem.as_deref().map(declared_from_pem) {
        Some(Ok(from_pem)) => from_pem,
        Some(Err(e)) => {
            note = Some(format!("the certificate body could not be read ({e}); declared from its metadata"));
            from_metadata(&detail)
        }
        None => from_metadata(&detail),
    };
    declared.provider_id = Some(arn.to_owned());
    declared.name = detail["DomainName"].as_str().map(str::to_owned);
    declared.provider_status = Some(status.to_owned()).filter(|s| !s.is_empty());
    declared.auto_managed = match (detail["Type"].as_str(), detail["RenewalEligibility"].as_str()) {
        (Some("AMAZON_ISSUED" | "PRIVATE"), Some("ELIGIBLE")) => Tristate::Yes,
        (Some("AMAZON_ISSUED" | "PRIVATE"), _) => Tristate::Unknown,
        (Some("IMPORTED"), _) => Tristate::No,
        _ => Tristate::Unknown,
    };
    let mut location = Location::new("acm", arn).with_account(&context.account).with_region(region);
    location.resource_name = detail["DomainName"].as_str().map(str::to_owned);
    let binding = Binding::new(location, declared).with_xrefs([xref_arn(arn)]).with_extra(json!({
            "certificate_role": "inventory",
            "type": detail["Type"],
            "status": detail["Status"],
            "key_algorithm": detail["KeyAlgorithm"],
            "in_use_by": detail["InUseBy"],
            "renewal_eligibility": detail["RenewalEligibility"],
            "renewal_summary": detail["RenewalSummary"],
            "imported_at": detail["ImportedAt"],
            "note": note,
    }));
    Ok((binding, note))
}

/// What ACM's metadata says, when there is no PEM (a pending request).
/// Dates are epoch seconds in JSON 1.1; serials are used only in ACM's own
/// colon-separated hex spelling.
fn from_metadata(detail: &Value) -> DeclaredCertificate {
    let seconds = |v: &Value| v.as_f64().map(|s| s.floor() as i64);
    let mut declared = DeclaredCertificate::default()
        .with_sans(detail["SubjectAlternativeNames"].as_array().into_iter().flatten().filter_map(Value::as_str));
    declared.common_name = detail["DomainName"].as_str().map(str::to_owned);
    declared.serial = detail["Serial"].as_str().filter(|s| s.contains(':')).map(certinspect_sdk::normalize_serial);
    declared.issuer = detail["Issuer"].as_str().map(str::to_owned);
    (declared.not_before, declared.not_after) = (seconds(&detail["NotBefore"]), seconds(&detail["NotAfter"]));
    declared
}

/// The names ACM lists for a certificate: `DomainName` first, then the SANs.
pub fn names(detail: &Value) -> Vec<String> {
    let mut out: Vec<String> = detail["DomainName"].as_str().map(str::to_owned).into_iter().collect();
    for name in detail["SubjectAlternativeNames"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_asks_for_every_key_type_and_pages_by_token() {
        let first = list_request(None);
        assert_eq!(first["Includes"]["keyTypes"].as_array().unwrap().len(), 7);
        assert!(first.get("NextToken").is_none());
        assert_eq!(list_request(Some("t2"))["NextToken"], "t2");
    }

    #[test]
    fn metadata_serials_are_used_only_in_acms_hex_spelling() {
        let detail = json!({"DomainName": "a.test", "SubjectAlternativeNames": ["a.test", "b.test"],
            "Serial": "0a:bc", "NotBefore": 1_700_000_000.5, "NotAfter": 1_800_000_000});
        let declared = from_metadata(&detail);
        assert_eq!(declared.serial.as_deref(), Some("abc"));
        assert_eq!((declared.not_before, declared.not_after), (Some(1_700_000_000), Some(1_800_000_000)));
        assert_eq!(from_metadata(&json!({"Serial": "248862304232456063"})).serial, None);
        assert_eq!(names(&detail), ["a.test", "b.test"]);
    }
}
