//! ELBv2 (ALB and NLB): one binding per certificate of every HTTPS (ALB) or
//! TLS (NLB) listener.
//!
//! A page is one `DescribeLoadBalancers` page (`Marker`); for each load
//! balancer `DescribeListeners`, and for each secure listener
//! `DescribeListenerCertificates` (default and SNI certificates; AWS lists a
//! default certificate that is also in the certificate list twice, so the
//! list is merged by ARN). The endpoint is the load balancer's DNS name and
//! the listener port. The SNI name sent is a plain host name of the
//! certificate (from ACM `DescribeCertificate` or the IAM certificate's
//! PEM): the default certificate is what a client with any other name gets,
//! an SNI certificate is reached only by one of its own names. A binding's
//! `tags` are its load balancer's with its listener's own on top
//! (`DescribeTags`, 20 ARNs a call).

use std::collections::BTreeMap;

use certinspect_sdk::names::{is_plain_hostname, wildcard_base};
use certinspect_sdk::serde_json::json;
use certinspect_sdk::{Binding, DeclaredCertificate, Endpoint, Location, Page};
use serde::Deserialize;

use crate::client::{AwsError, Client, ELBV2};
use crate::tags::{self, PageTags, Tags, DESCRIBE_TAGS_BATCH};
use crate::xml::{self, Members};
use crate::{acm, iam, xref_arn, Context};

/// Load balancers per page (ELBv2 allows up to 400; each costs more calls).
const PAGE_SIZE: u32 = 20;

#[derive(Debug, Deserialize)]
struct LoadBalancersAnswer {
    #[serde(rename = "DescribeLoadBalancersResult")]
    result: LoadBalancersResult,
}
#[derive(Debug, Deserialize)]
struct LoadBalancersResult {
    #[serde(rename = "LoadBalancers", default)]
    load_balancers: Members<LoadBalancer>,
    #[serde(rename = "NextMarker")]
    next_marker: Option<String>,
}
/// A load balancer as `DescribeLoadBalancers` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct LoadBalancer {
    /// ARN.
    #[serde(rename = "LoadBalancerArn")]
    pub arn: String,
    /// Name.
    #[serde(rename = "LoadBalancerName")]
    pub name: Option<String>,
    /// Public DNS name.
    #[serde(rename = "DNSName")]
    pub dns_name: Option<String>,
    /// `application`, `network`, `gateway`.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    /// `internet-facing` or `internal`.
    #[serde(rename = "Scheme")]
    pub scheme: Option<String>,
    /// State.
    #[serde(rename = "State")]
    pub state: Option<State>,
}
/// A load balancer state.
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    /// `active`, `provisioning`, `active_impaired`, `failed`.
    #[serde(rename = "Code")]
    pub code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListenersAnswer {
    #[serde(rename = "DescribeListenersResult")]
    result: ListenersResult,
}
#[derive(Debug, Deserialize)]
struct ListenersResult {
    #[serde(rename = "Listeners", default)]
    listeners: Members<Listener>,
    #[serde(rename = "NextMarker")]
    next_marker: Option<String>,
}
#[derive(Debug, Clone, Deserialize)]
struct Listener {
    #[serde(rename = "ListenerArn")]
    arn: String,
    #[serde(rename = "Port")]
    port: u16,
    #[serde(rename = "Protocol")]
    protocol: String,
    #[serde(rename = "SslPolicy")]
    ssl_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CertificatesAnswer {
    #[serde(rename = "DescribeListenerCertificatesResult")]
    result: CertificatesResult,
}
#[derive(Debug, Deserialize)]
struct CertificatesResult {
    #[serde(rename = "Certificates", default)]
    certificates: Members<ListenerCertificate>,
    #[serde(rename = "NextMarker")]
    next_marker: Option<String>,
}
#[derive(Debug, Clone, Deserialize)]
struct ListenerCertificate {
    #[serde(rename = "CertificateArn")]
    arn: String,
    #[serde(rename = "IsDefault", default)]
    is_default: Option<bool>,
}

/// One page of a region's load balancers and their secure listeners.
pub fn list_page(context: &Context, region: &str, cursor: Option<&str>) -> Result<Page, AwsError> {
    let client = &context.client;
    let mut params = vec![("PageSize".to_owned(), PAGE_SIZE.to_string())];
    if let Some(marker) = cursor {
        params.push(("Marker".to_owned(), marker.to_owned()));
    }
    let body = client.query(&ELBV2, region, "DescribeLoadBalancers", &params)?;
    let answer: LoadBalancersAnswer = xml::parse("ELBv2 DescribeLoadBalancers", &body)?;
    let mut page = Page::last(Vec::new());
    page.next_cursor = answer.result.next_marker.filter(|m| !m.is_empty());
    let mut names = NameCache::default();
    for lb in &answer.result.load_balancers.member {
        // Each load balancer costs several calls: stop between them when the host cancels.
        if client.host().is_cancelled() {
            return Err(AwsError::Transport {
                operation: "ELBv2 listing".into(),
                message: "cancelled by the host".into(),
                cancelled: true,
            });
        }
        if let Err(e) = load_balancer_bindings(context, region, lb, &mut names, &mut page) {
            page.warnings.push(format!(
                "load balancer {}: {e}; its listeners are not (all) listed",
                lb.name.as_deref().unwrap_or(&lb.arn)
            ));
        }
    }
    tag_bindings(context, region, &mut page);
    Ok(page)
}

/// Each binding's tags: its load balancer's, then its listener's own on
/// top (the more specific resource wins a key both carry). One
/// `DescribeTags` per 20 ARNs of the page's load balancers and listeners.
fn tag_bindings(context: &Context, region: &str, page: &mut Page) {
    let resources = |binding: &Binding| -> Vec<String> {
        let listener = binding.extra["listener_arn"].as_str().map(str::to_owned);
        std::iter::once(binding.location.resource_id.clone()).chain(listener).collect()
    };
    let mut arns: Vec<String> = Vec::new();
    for arn in page.bindings.iter().flat_map(resources) {
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }
    let mut reader = PageTags::new("load balancers and listeners", context.tags);
    let mut outcomes: BTreeMap<String, Result<Tags, String>> = BTreeMap::new();
    for batch in arns.chunks(DESCRIBE_TAGS_BATCH) {
        match reader.read(batch.len(), || tags::elbv2(&context.client, region, batch)) {
            Ok(mut found) => {
                outcomes.extend(batch.iter().map(|arn| (arn.clone(), Ok(found.remove(arn).unwrap_or_default()))))
            }
            Err(sentence) => outcomes.extend(batch.iter().map(|arn| (arn.clone(), Err(sentence.clone())))),
        }
    }
    for binding in &mut page.bindings {
        for arn in resources(binding) {
            tags::apply(binding, outcomes.get(&arn).cloned().unwrap_or_else(|| Ok(Tags::new())));
        }
    }
    page.warnings.extend(reader.warning());
}

/// Every page of a Marker-paged ELBv2 listing, bounded.
fn all_pages<T>(
    mut fetch: impl FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), AwsError>,
) -> Result<Vec<T>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..1000 {
        let (items, next) = fetch(marker.as_deref())?;
        out.extend(items);
        match next.filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next),
            None => return Ok(out),
        }
    }
    Ok(out)
}

fn load_balancer_bindings(
    context: &Context,
    region: &str,
    lb: &LoadBalancer,
    names: &mut NameCache,
    page: &mut Page,
) -> Result<(), AwsError> {
    let client = &context.client;
    let listeners = all_pages(|marker| {
        let mut params = vec![("LoadBalancerArn".to_owned(), lb.arn.clone())];
        if let Some(marker) = marker {
            params.push(("Marker".to_owned(), marker.to_owned()));
        }
        let body = client.query(&ELBV2, region, "DescribeListeners", &params)?;
        let answer: ListenersAnswer = xml::parse("ELBv2 DescribeListeners", &body)?;
        Ok((answer.result.listeners.member, answer.result.next_marker))
    })?;
    for listener in listeners.iter().filter(|l| matches!(l.protocol.as_str(), "HTTPS" | "TLS")) {
        let certificates = all_pages(|marker| {
            let mut params = vec![("ListenerArn".to_owned(), listener.arn.clone())];
            if let Some(marker) = marker {
                params.push(("Marker".to_owned(), marker.to_owned()));
            }
            let body = client.query(&ELBV2, region, "DescribeListenerCertificates", &params)?;
            let answer: CertificatesAnswer = xml::parse("ELBv2 DescribeListenerCertificates", &body)?;
            Ok((answer.result.certificates.member, answer.result.next_marker))
        })?;
        for (arn, is_default) in merge_by_arn(&certificates) {
            let certificate_names = names.get(client, region, &arn, &mut page.warnings);
            page.bindings.push(listener_binding(context, region, lb, listener, &arn, is_default, &certificate_names));
        }
    }
    Ok(())
}

/// Listener certificates in first-seen order, each once; default if any entry says so.
fn merge_by_arn(certificates: &[ListenerCertificate]) -> Vec<(String, bool)> {
    let mut merged: Vec<(String, bool)> = Vec::new();
    for certificate in certificates {
        let is_default = certificate.is_default.unwrap_or(false);
        match merged.iter_mut().find(|(arn, _)| *arn == certificate.arn) {
            Some((_, default)) => *default |= is_default,
            None => merged.push((certificate.arn.clone(), is_default)),
        }
    }
    merged
}

/// Certificate names by ARN, looked up once per page.
#[derive(Default)]
struct NameCache(BTreeMap<String, Vec<String>>);

impl NameCache {
    fn get(&mut self, client: &Client, region: &str, arn: &str, warnings: &mut Vec<String>) -> Vec<String> {
        if let Some(names) = self.0.get(arn) {
            return names.clone();
        }
        let looked_up = if arn.starts_with("arn:aws") && arn.contains(":acm:") {
            acm::describe(client, region, arn).map(|detail| acm::names(&detail))
        } else if arn.contains(":iam::") && arn.contains(":server-certificate/") {
            iam::names_by_arn(client, arn)
        } else {
            Ok(Vec::new())
        };
        let names = looked_up.unwrap_or_else(|e| {
            warnings.push(format!("certificate {arn}: its names could not be read ({e}); no SNI name is sent for it"));
            Vec::new()
        });
        self.0.insert(arn.to_owned(), names.clone());
        names
    }
}

/// The SNI name to probe a certificate with, or why there is none.
pub fn sni_for(names: &[String], wildcard_label: Option<&str>) -> Result<Option<String>, String> {
    if let Some(plain) = names.iter().find(|n| is_plain_hostname(n)) {
        return Ok(Some(plain.clone()));
    }
    match (names.iter().find_map(|n| wildcard_base(n)), wildcard_label) {
        (Some(base), Some(label)) => Ok(Some(format!("{label}.{base}"))),
        (Some(_), None) => {
            Err("the certificate has only wildcard names; set wildcard_probe_label to probe one name under them".into())
        }
        (None, _) => Ok(None),
    }
}

fn listener_binding(
    context: &Context,
    region: &str,
    lb: &LoadBalancer,
    listener: &Listener,
    arn: &str,
    is_default: bool,
    names: &[String],
) -> Binding {
    let state = lb.state.as_ref().and_then(|s| s.code.clone());
    let sni = sni_for(names, context.wildcard_label.as_deref());
    let (endpoint, not_probeable) = match (&lb.dns_name, state.as_deref(), sni) {
        (_, Some("failed"), _) => (None, Some("the load balancer is in state failed".to_owned())),
        (None, _, _) => (None, Some("the load balancer has no DNS name".to_owned())),
        (Some(_), _, Err(reason)) if !is_default => (None, Some(reason)),
        (Some(_), _, Ok(None)) if !is_default => {
            (None, Some("the SNI certificate has no host name to send".to_owned()))
        }
        (Some(host), _, sni) => {
            let mut endpoint = Endpoint::new(host, listener.port);
            endpoint.sni = sni.ok().flatten();
            (Some(endpoint), None)
        }
    };
    let mut location = Location::new("elbv2", &lb.arn)
        .with_account(&context.account)
        .with_region(region)
        .with_listener_port(listener.port);
    location.resource_name = lb.name.clone();
    (location.endpoint, location.not_probeable) = (endpoint, not_probeable);
    let declared = DeclaredCertificate::default().with_provider_id(arn);
    Binding::new(location, declared).with_xrefs([xref_arn(arn)]).with_extra(json!({
            "certificate_role": if is_default { "default" } else { "sni" },
            "listener_arn": listener.arn,
            "listener_protocol": listener.protocol,
            "ssl_policy": listener.ssl_policy,
            "load_balancer_type": lb.kind,
            "load_balancer_state": state,
            "scheme": lb.scheme,
            "certificate_names": names,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_certificate_listed_twice_is_one_default_binding() {
        let listed = |arn: &str, d: Option<bool>| ListenerCertificate { arn: arn.into(), is_default: d };
        let merged = merge_by_arn(&[listed("a", Some(true)), listed("b", Some(false)), listed("a", Some(false))]);
        assert_eq!(merged, [("a".to_owned(), true), ("b".to_owned(), false)]);
    }

    #[test]
    fn sni_names_prefer_plain_host_names() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (names, wildcard label, expected SNI; Err = not probeable)
        type Expected = Result<Option<&'static str>, ()>;
        let cases: [(Vec<String>, Option<&str>, Expected); 4] = [
            (names(&["*.shop.test", "shop.test"]), None, Ok(Some("shop.test"))),
            (names(&["*.shop.test"]), Some("probe"), Ok(Some("probe.shop.test"))),
            (names(&["*.shop.test"]), None, Err(())),
            (names(&["Shop certificate"]), None, Ok(None)),
        ];
        for (input, label, want) in cases {
            let got = sni_for(&input, label);
            assert_eq!(got.as_ref().map(|s| s.as_deref()).map_err(|_| ()), want, "{input:?}");
        }
    }

    #[test]
    fn describe_load_balancers_parses_the_query_protocol_answer() {
        let body = r#"<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeLoadBalancersResult><LoadBalancers><member>
    <LoadBalancerArn>arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/1</LoadBalancerArn>
    <DNSName>web-1.us-east-1.elb.amazonaws.com</DNSName><LoadBalancerName>web</LoadBalancerName>
    <State><Code>active</Code></State><Type>application</Type>
    <AvailabilityZones><member><ZoneName>us-east-1a</ZoneName></member></AvailabilityZones>
  </member></LoadBalancers><NextMarker>m2</NextMarker></DescribeLoadBalancersResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>"#;
        let answer: LoadBalancersAnswer = xml::parse("t", body).unwrap();
        let lb = &answer.result.load_balancers.member[0];
        assert_eq!(lb.dns_name.as_deref(), Some("web-1.us-east-1.elb.amazonaws.com"));
        assert_eq!(lb.state.as_ref().and_then(|s| s.code.as_deref()), Some("active"));
        assert_eq!(answer.result.next_marker.as_deref(), Some("m2"));
    }
}
