//! Resource tags (`Binding::tags`), so `[output] labels_from_tags` can
//! route a certificate's alerts to whoever owns the resource.
//!
//! Each service has its own tag call: ACM `ListTagsForCertificate` (one
//! certificate, JSON 1.1), ELBv2 `DescribeTags` (up to 20 load balancer or
//! listener ARNs, Query) and CloudFront `ListTagsForResource` (one
//! distribution, REST-XML). All three answer a list of `{Key, Value}`
//! with an optional `Value`; a tag without one maps to `""`.
//!
//! Tags need their own IAM permissions, which read-only policies often
//! lack. A failed tag call never costs a binding: the binding is listed
//! without tags and says why in `extra.tags_error`, and the page carries
//! one warning counting them ([`PageTags`]). After a refusal (a
//! credentials problem) the rest of the page is not asked again, so a
//! missing permission costs one refused call per page, not one per
//! resource.

use std::collections::BTreeMap;

use certinspect_sdk::serde_json::{json, Value};
use certinspect_sdk::Binding;
use serde::Deserialize;

use crate::client::{AwsError, Client, ACM, CLOUDFRONT, ELBV2};
use crate::xml::{self, Members};

/// A resource's tags, key to value.
pub type Tags = BTreeMap<String, String>;

/// ARNs per ELBv2 `DescribeTags` call (the API's limit).
pub const DESCRIBE_TAGS_BATCH: usize = 20;

/// One tag as all three services spell it.
#[derive(Debug, Clone, Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
}

fn collect(tags: impl IntoIterator<Item = Tag>) -> Tags {
    tags.into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect()
}

/// ACM `ListTagsForCertificate`.
pub fn acm(client: &Client, region: &str, arn: &str) -> Result<Tags, AwsError> {
    let answer = client.json(&ACM, region, "ListTagsForCertificate", &json!({ "CertificateArn": arn }))?;
    Ok(acm_answer(&answer))
}

fn acm_answer(answer: &Value) -> Tags {
    let tags = answer["Tags"].as_array().into_iter().flatten();
    collect(tags.filter_map(|t| serde_json::from_value::<Tag>(t.clone()).ok()))
}

#[derive(Debug, Deserialize)]
struct DescribeTagsAnswer {
    #[serde(rename = "DescribeTagsResult")]
    result: DescribeTagsResult,
}
#[derive(Debug, Deserialize)]
struct DescribeTagsResult {
    #[serde(rename = "TagDescriptions", default)]
    descriptions: Members<TagDescription>,
}
#[derive(Debug, Deserialize)]
struct TagDescription {
    #[serde(rename = "ResourceArn")]
    arn: String,
    #[serde(rename = "Tags", default)]
    tags: Members<Tag>,
}

/// The `DescribeTags` request parameters for one batch of ARNs.
pub fn describe_tags_params(arns: &[String]) -> Vec<(String, String)> {
    arns.iter().enumerate().map(|(i, arn)| (format!("ResourceArns.member.{}", i + 1), arn.clone())).collect()
}

/// ELBv2 `DescribeTags` for one batch of at most [`DESCRIBE_TAGS_BATCH`]
/// load balancer or listener ARNs: tags by ARN.
pub fn elbv2(client: &Client, region: &str, arns: &[String]) -> Result<BTreeMap<String, Tags>, AwsError> {
    let body = client.query(&ELBV2, region, "DescribeTags", &describe_tags_params(arns))?;
    elbv2_answer(&body)
}

fn elbv2_answer(body: &str) -> Result<BTreeMap<String, Tags>, AwsError> {
    let answer: DescribeTagsAnswer = xml::parse("ELBv2 DescribeTags", body)?;
    Ok(answer.result.descriptions.member.into_iter().map(|d| (d.arn, collect(d.tags.member))).collect())
}

/// CloudFront's answer: the `Tags` element is the payload.
#[derive(Debug, Deserialize)]
struct CloudFrontTags {
    #[serde(rename = "Items", default)]
    items: CloudFrontItems,
}
#[derive(Debug, Default, Deserialize)]
struct CloudFrontItems {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

/// CloudFront `ListTagsForResource` for one distribution ARN.
pub fn cloudfront(client: &Client, arn: &str) -> Result<Tags, AwsError> {
    let query = [("Resource".to_owned(), arn.to_owned())];
    let body = client.rest_get(&CLOUDFRONT, "ListTagsForResource", "/tagging", &query)?;
    cloudfront_answer(&body)
}

fn cloudfront_answer(body: &str) -> Result<Tags, AwsError> {
    let answer: CloudFrontTags = xml::parse("CloudFront ListTagsForResource", body)?;
    Ok(collect(answer.items.tags))
}

/// The tag calls of one page: what failed, and whether to keep asking.
#[derive(Debug)]
pub struct PageTags {
    /// `ACM certificates`, `load balancers`, ...: what the warning counts.
    what: &'static str,
    /// Whether tags are read at all (the `tags` setting).
    enabled: bool,
    /// The first failure, or the first refusal (which stops further calls).
    failure: Option<AwsError>,
    /// Resources whose tags are missing because of it.
    missed: usize,
}

impl PageTags {
    /// Tag calls for resources counted as `what`; none when not `enabled`.
    pub fn new(what: &'static str, enabled: bool) -> Self {
        Self { what, enabled, failure: None, missed: 0 }
    }

    /// The tags `call` reads for `resources` resources (an empty map when
    /// tags are off), or the sentence each of their bindings records as
    /// `extra.tags_error`. After a refusal `call` is not made.
    pub fn read<T: Default>(
        &mut self,
        resources: usize,
        call: impl FnOnce() -> Result<T, AwsError>,
    ) -> Result<T, String> {
        if !self.enabled {
            return Ok(T::default());
        }
        let outcome = match &self.failure {
            Some(refusal) if refusal.is_credentials_problem() => Err(refusal.clone()),
            _ => call(),
        };
        outcome.map_err(|error| {
            self.missed += resources;
            let sentence = format!("the tags could not be read: {error}");
            if !self.failure.as_ref().is_some_and(AwsError::is_credentials_problem) {
                self.failure = Some(error);
            }
            sentence
        })
    }

    /// The page's one warning about missing tags, if any.
    pub fn warning(&self) -> Option<String> {
        let error = self.failure.as_ref()?;
        Some(format!(
            "the tags of {} {} could not be read ({error}{}); they are listed without tags",
            self.missed,
            self.what,
            crate::permission_hint(error)
        ))
    }
}

/// Sets `binding`'s tags from `outcome`, or records why it has none.
pub fn apply(binding: &mut Binding, outcome: Result<Tags, String>) {
    match outcome {
        Ok(tags) => binding.tags.extend(tags),
        Err(sentence) => {
            if let Value::Object(extra) = &mut binding.extra {
                extra.insert("tags_error".into(), Value::String(sentence));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_three_answer_shapes_read_as_key_to_value_and_a_missing_value_is_empty() {
        // Shapes from botocore's service models (acm 2015-12-08, elbv2
        // 2015-12-01 with its DescribeTagsResult wrapper, cloudfront
        // 2020-05-31 whose payload is the Tags element).
        let acm = json!({"Tags": [{"Key": "owner", "Value": "alice"}, {"Key": "flag"}]});
        assert_eq!(acm_answer(&acm), tags(&[("owner", "alice"), ("flag", "")]));
        assert_eq!(acm_answer(&json!({})), Tags::new());

        let elbv2 = r#"<DescribeTagsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTagsResult><TagDescriptions>
    <member><ResourceArn>arn:lb</ResourceArn><Tags>
      <member><Key>team</Key><Value>payments</Value></member><member><Key>flag</Key></member>
    </Tags></member>
    <member><ResourceArn>arn:listener</ResourceArn><Tags/></member>
  </TagDescriptions></DescribeTagsResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTagsResponse>"#;
        let by_arn = elbv2_answer(elbv2).unwrap();
        assert_eq!(by_arn["arn:lb"], tags(&[("team", "payments"), ("flag", "")]));
        assert_eq!(by_arn["arn:listener"], Tags::new());

        let cloudfront = r#"<?xml version="1.0"?><Tags xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Items><Tag><Key>owner</Key><Value>bob &amp; co</Value></Tag><Tag><Key>empty</Key><Value></Value></Tag></Items></Tags>"#;
        assert_eq!(cloudfront_answer(cloudfront).unwrap(), tags(&[("owner", "bob & co"), ("empty", "")]));
        assert_eq!(cloudfront_answer("<Tags><Items/></Tags>").unwrap(), Tags::new());
        assert!(cloudfront_answer("<Tags><Items><Tag><Value>v</Value></Tag></Items></Tags>").is_err());
    }

    #[test]
    fn describe_tags_lists_arns_as_query_members() {
        let params = describe_tags_params(&["a".into(), "b".into()]);
        assert_eq!(
            params,
            [
                ("ResourceArns.member.1".to_owned(), "a".to_owned()),
                ("ResourceArns.member.2".to_owned(), "b".to_owned())
            ]
        );
    }

    #[test]
    fn a_refusal_stops_the_pages_tag_calls_and_is_counted_once_per_resource() {
        let error = |code: &str, status| AwsError::Service {
            operation: "ACM ListTagsForCertificate".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        let mut page = PageTags::new("ACM certificates", true);
        assert_eq!(page.read(1, || Ok(tags(&[("a", "b")]))), Ok(tags(&[("a", "b")])));
        assert!(page.warning().is_none());
        // A service error is recorded, and the next resource is still asked.
        assert!(page.read::<Tags>(1, || Err(error("InternalFailure", 500))).is_err());
        assert_eq!(page.read(1, || Ok(Tags::new())), Ok(Tags::new()));
        // A refusal is kept, and nothing is asked after it.
        let refused = page.read::<Tags>(2, || Err(error("AccessDeniedException", 400))).unwrap_err();
        assert!(refused.contains("AccessDeniedException"), "{refused}");
        let skipped = page.read::<Tags>(1, || panic!("asked again after a refusal")).unwrap_err();
        assert_eq!(skipped, refused);
        let warning = page.warning().unwrap();
        assert!(warning.starts_with("the tags of 4 ACM certificates could not be read (ACM ListTagsForCertificate failed: AccessDeniedException (HTTP 400) (the credentials"), "{warning}");

        let mut off = PageTags::new("ACM certificates", false);
        assert_eq!(off.read::<Tags>(1, || panic!("tags are off")), Ok(Tags::new()));
        assert!(off.warning().is_none());
    }
}
