//! IAM server certificates, the legacy store classic ELB and CloudFront
//! still use: one inventory binding per certificate. `ListServerCertificates`
//! pages by `Marker`; `GetServerCertificate` gives the PEM, the only source
//! of dates and identity (moto's metadata dates are placeholders).

use certinspect_sdk::serde_json::json;
use certinspect_sdk::{Binding, Location, Page};
use serde::Deserialize;

use crate::certificate::declared_from_pem;
use crate::client::{AwsError, Client, GLOBAL_REGION, IAM};
use crate::xml::{self, Members};
use crate::{xref_arn, Context, XREF_IAM_SERVER_CERTIFICATE_ID};

#[derive(Debug, Deserialize)]
struct ListAnswer {
    #[serde(rename = "ListServerCertificatesResult")]
    result: ListResult,
}
#[derive(Debug, Deserialize)]
struct ListResult {
    #[serde(rename = "ServerCertificateMetadataList", default)]
    certificates: Members<Metadata>,
    #[serde(rename = "IsTruncated", default)]
    is_truncated: bool,
    #[serde(rename = "Marker")]
    marker: Option<String>,
}
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    #[serde(rename = "ServerCertificateName")]
    name: String,
    #[serde(rename = "ServerCertificateId")]
    id: String,
    #[serde(rename = "Arn")]
    arn: String,
    #[serde(rename = "Path")]
    path: Option<String>,
    #[serde(rename = "UploadDate")]
    upload_date: Option<String>,
}
#[derive(Debug, Deserialize)]
struct GetAnswer {
    #[serde(rename = "GetServerCertificateResult")]
    result: GetResult,
}
#[derive(Debug, Deserialize)]
struct GetResult {
    #[serde(rename = "ServerCertificate")]
    certificate: ServerCertificate,
}
#[derive(Debug, Deserialize)]
struct ServerCertificate {
    #[serde(rename = "CertificateBody")]
    body: String,
}

/// One page of server certificates.
pub fn list_page(context: &Context, cursor: Option<&str>) -> Result<Page, AwsError> {
    let client = &context.client;
    let mut params = vec![("MaxItems".to_owned(), "100".to_owned())];
    if let Some(marker) = cursor {
        params.push(("Marker".to_owned(), marker.to_owned()));
    }
    let body = client.query(&IAM, GLOBAL_REGION, "ListServerCertificates", &params)?;
    let answer: ListAnswer = xml::parse("IAM ListServerCertificates", &body)?;
    let mut page = Page::last(Vec::new());
    page.next_cursor = answer.result.marker.filter(|m| answer.result.is_truncated && !m.is_empty());
    for metadata in &answer.result.certificates.member {
        let mut declared = match get_pem(client, &metadata.name).map(|pem| declared_from_pem(&pem)) {
            Ok(Ok(declared)) => declared,
            Ok(Err(e)) => {
                page.warnings.push(format!("IAM server certificate {}: {e}", metadata.name));
                Default::default()
            }
            Err(e) => {
                page.warnings.push(format!("IAM server certificate {}: {e}; identity not known", metadata.name));
                Default::default()
            }
        };
        declared.provider_id = Some(metadata.id.clone());
        declared.name = Some(metadata.name.clone());
        let location =
            Location::new("iam", &metadata.id).with_account(&context.account).with_resource_name(&metadata.name);
        page.bindings.push(
            Binding::new(location, declared)
                .with_xrefs([xref_arn(&metadata.arn)])
                .with_xref(XREF_IAM_SERVER_CERTIFICATE_ID, &metadata.id)
                .with_extra(
                    json!({ "certificate_role": "inventory", "path": metadata.path, "upload_date": metadata.upload_date }),
                ),
        );
    }
    Ok(page)
}

fn get_pem(client: &Client, name: &str) -> Result<String, AwsError> {
    let body =
        client.query(&IAM, GLOBAL_REGION, "GetServerCertificate", &[("ServerCertificateName".into(), name.into())])?;
    let answer: GetAnswer = xml::parse("IAM GetServerCertificate", &body)?;
    Ok(answer.result.certificate.body)
}

/// The names (CN, then SANs) of the server certificate `arn` names
/// (`arn:aws:iam::<account>:server-certificate/<path>/<name>`).
pub fn names_by_arn(client: &Client, arn: &str) -> Result<Vec<String>, AwsError> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    let pem = get_pem(client, name)?;
    let declared = declared_from_pem(&pem)
        .map_err(|detail| AwsError::Malformed { operation: "IAM GetServerCertificate".into(), detail })?;
    let mut names: Vec<String> = declared.common_name.into_iter().collect();
    names.extend(declared.sans.into_iter().filter(|s| !names.contains(s)).collect::<Vec<_>>());
    Ok(names)
}
