//! CloudFront: one binding per distribution alias (a distribution without
//! aliases: one for its `*.cloudfront.net` name). The declared certificate
//! comes from `ViewerCertificate`: an ACM ARN, an IAM server certificate
//! id, or CloudFront's default `*.cloudfront.net` certificate.
//! `ListDistributions` pages by `Marker`/`NextMarker`. Every alias of a
//! distribution carries the distribution's tags (`ListTagsForResource`,
//! one call per distribution).
//!
//! moto answers `CloudFrontDefaultCertificate=true` next to an ACM ARN;
//! an explicit ARN or IAM id wins, as it does on AWS.

use certinspect_sdk::serde_json::json;
use certinspect_sdk::{Binding, CrossRef, DeclaredCertificate, Endpoint, Location, Page};
use serde::Deserialize;

use crate::client::{AwsError, CLOUDFRONT};
use crate::elbv2::sni_for;
use crate::tags::{PageTags, Tags};
use crate::{xref_arn, Context, XREF_IAM_SERVER_CERTIFICATE_ID};

#[derive(Debug, Deserialize)]
struct DistributionList {
    #[serde(rename = "NextMarker")]
    next_marker: Option<String>,
    #[serde(rename = "IsTruncated", default)]
    is_truncated: bool,
    #[serde(rename = "Items", default)]
    items: Summaries,
}
#[derive(Debug, Default, Deserialize)]
struct Summaries {
    #[serde(rename = "DistributionSummary", default)]
    summaries: Vec<Summary>,
}
#[derive(Debug, Deserialize)]
struct Summary {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "ARN")]
    arn: Option<String>,
    #[serde(rename = "DomainName")]
    domain_name: String,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Enabled", default)]
    enabled: Option<bool>,
    #[serde(rename = "Aliases", default)]
    aliases: Aliases,
    #[serde(rename = "ViewerCertificate")]
    viewer_certificate: Option<ViewerCertificate>,
}
#[derive(Debug, Default, Deserialize)]
struct Aliases {
    #[serde(rename = "Items", default)]
    items: Cnames,
}
#[derive(Debug, Default, Deserialize)]
struct Cnames {
    #[serde(rename = "CNAME", default)]
    names: Vec<String>,
}
#[derive(Debug, Default, Deserialize)]
struct ViewerCertificate {
    #[serde(rename = "ACMCertificateArn")]
    acm_arn: Option<String>,
    #[serde(rename = "IAMCertificateId")]
    iam_id: Option<String>,
    #[serde(rename = "SSLSupportMethod")]
    ssl_support_method: Option<String>,
    #[serde(rename = "MinimumProtocolVersion")]
    minimum_protocol_version: Option<String>,
}

/// What a distribution declares as its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Declared {
    Acm(String),
    Iam(String),
    Default,
}

fn declared_of(viewer: Option<&ViewerCertificate>) -> Declared {
    let non_empty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    match viewer {
        Some(v) if non_empty(&v.acm_arn).is_some() => Declared::Acm(non_empty(&v.acm_arn).unwrap_or_default()),
        Some(v) if non_empty(&v.iam_id).is_some() => Declared::Iam(non_empty(&v.iam_id).unwrap_or_default()),
        _ => Declared::Default,
    }
}

/// One page of distributions.
pub fn list_page(context: &Context, cursor: Option<&str>) -> Result<Page, AwsError> {
    let mut query = vec![("MaxItems".to_owned(), "100".to_owned())];
    if let Some(marker) = cursor {
        query.push(("Marker".to_owned(), marker.to_owned()));
    }
    let body = context.client.rest_get(&CLOUDFRONT, "ListDistributions", "/distribution", &query)?;
    let list: DistributionList = crate::xml::parse("CloudFront ListDistributions", &body)?;
    let mut page = Page::last(Vec::new());
    page.next_cursor = list.next_marker.filter(|m| list.is_truncated && !m.is_empty());
    let mut reader = PageTags::new("distributions", context.tags);
    for summary in &list.items.summaries {
        let declared = declared_of(summary.viewer_certificate.as_ref());
        let hosts: Vec<String> = if summary.aliases.items.names.is_empty() {
            vec![summary.domain_name.clone()]
        } else {
            summary.aliases.items.names.clone()
        };
        let tags = match &summary.arn {
            Some(arn) => reader.read(1, || crate::tags::cloudfront(&context.client, arn)),
            None => Ok(Tags::new()),
        };
        for host in hosts {
            let mut binding = binding(context, summary, &declared, &host);
            crate::tags::apply(&mut binding, tags.clone());
            page.bindings.push(binding);
        }
    }
    page.warnings.extend(reader.warning());
    Ok(page)
}

fn binding(context: &Context, summary: &Summary, declared: &Declared, host: &str) -> Binding {
    let (endpoint, not_probeable) = if summary.enabled == Some(false) {
        (None, Some("the distribution is disabled".to_owned()))
    } else {
        match sni_for(&[host.to_owned()], context.wildcard_label.as_deref()) {
            Ok(Some(name)) => (Some(Endpoint::new(&name, 443).with_sni(name)), None),
            Ok(None) => (None, Some(format!("alias {host} is not a host name"))),
            Err(reason) => (None, Some(format!("alias {host}: {reason}"))),
        }
    };
    let (certificate, xrefs, source) = match declared {
        Declared::Acm(arn) => (DeclaredCertificate::default().with_provider_id(arn), vec![xref_arn(arn)], "acm"),
        Declared::Iam(id) => (
            DeclaredCertificate::default().with_provider_id(id),
            vec![CrossRef { kind: XREF_IAM_SERVER_CERTIFICATE_ID.into(), value: id.clone() }],
            "iam",
        ),
        Declared::Default => (
            DeclaredCertificate::default()
                .with_name("CloudFront default certificate")
                .with_common_name("*.cloudfront.net")
                .with_sans(["*.cloudfront.net"]),
            Vec::new(),
            "cloudfront",
        ),
    };
    let viewer = summary.viewer_certificate.as_ref();
    let mut location = Location::new("cloudfront", &summary.id)
        .with_account(&context.account)
        .with_resource_name(&summary.domain_name)
        .with_listener_port(443);
    (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
    Binding::new(location, certificate).with_xrefs(xrefs).with_extra(json!({
            "certificate_role": "alias",
            "alias": host,
            "certificate_source": source,
            "distribution_arn": summary.arn,
            "distribution_status": summary.status,
            "ssl_support_method": viewer.and_then(|v| v.ssl_support_method.clone()),
            "minimum_protocol_version": viewer.and_then(|v| v.minimum_protocol_version.clone()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_certificate_wins_over_the_default_flag() {
        let viewer = |acm: &str, iam: &str| ViewerCertificate {
            acm_arn: Some(acm.into()),
            iam_id: Some(iam.into()),
            ..ViewerCertificate::default()
        };
        assert_eq!(
            declared_of(Some(&viewer("arn:aws:acm:us-east-1:1:certificate/x", ""))),
            Declared::Acm("arn:aws:acm:us-east-1:1:certificate/x".into())
        );
        assert_eq!(declared_of(Some(&viewer("", "ASCAEXAMPLE"))), Declared::Iam("ASCAEXAMPLE".into()));
        assert_eq!(declared_of(Some(&viewer(" ", ""))), Declared::Default);
        assert_eq!(declared_of(None), Declared::Default);
    }

    #[test]
    fn list_distributions_parses_the_rest_xml_answer() {
        let body = r#"<?xml version="1.0"?><DistributionList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Marker></Marker><NextMarker>E2</NextMarker><MaxItems>1</MaxItems><IsTruncated>true</IsTruncated><Quantity>1</Quantity>
  <Items><DistributionSummary><Id>E1</Id><ARN>arn:aws:cloudfront::1:distribution/E1</ARN><Status>Deployed</Status>
  <DomainName>d1.cloudfront.net</DomainName><Aliases><Quantity>2</Quantity><Items><CNAME>a.test</CNAME><CNAME>b.test</CNAME></Items></Aliases>
  <ViewerCertificate><CloudFrontDefaultCertificate>false</CloudFrontDefaultCertificate><IAMCertificateId>ASCA1</IAMCertificateId></ViewerCertificate>
  <Enabled>true</Enabled></DistributionSummary></Items></DistributionList>"#;
        let list: DistributionList = crate::xml::parse("t", body).unwrap();
        assert_eq!(list.next_marker.as_deref(), Some("E2"));
        let summary = &list.items.summaries[0];
        assert_eq!(summary.aliases.items.names, ["a.test", "b.test"]);
        assert_eq!(declared_of(summary.viewer_certificate.as_ref()), Declared::Iam("ASCA1".into()));
    }
}
