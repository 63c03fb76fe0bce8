//! SARIF 2.1.0: one run, a rule per finding code, a result per finding.

use std::io::{self, Write};

use certinspect_core::diff::fingerprint;
use certinspect_core::findings::{Finding, FindingCode, Severity};
use certinspect_core::report::Report;
use certinspect_protocol::Binding;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Map, Value};

use crate::view::{endpoint_text, rfc3339};

/// The SARIF level for a severity: critical and high fail a build
/// (`error`), medium is a `warning`, the rest are `note`s.
pub fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// Characters escaped in the host-like part of a resource URI: everything
/// that is not unreserved or a sub-delimiter (RFC 3986), so any resource id
/// yields a valid URI.
const RESOURCE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Escaped in `host:port`: what cannot appear in an authority. Brackets and
/// the colon stay (IPv6 literals, the port).
const HOST_PORT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The URI a finding about `binding` points at: `https://host:port/` for
/// an endpoint, else `<provider>://<resource id>` (`alibaba-cdn://*.example.com`),
/// the provider name reduced to what a URI scheme may hold.
pub fn binding_uri(binding: &Binding) -> String {
    if let Some(endpoint) = endpoint_text(binding) {
        let host_port = utf8_percent_encode(&endpoint, HOST_PORT);
        return format!("https://{host_port}/");
    }
    let mut scheme: String = binding
        .location
        .plugin
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic()) {
        scheme.insert_str(0, "certinspect-");
    }
    format!("{scheme}://{}", utf8_percent_encode(&binding.location.resource_id, RESOURCE))
}

fn rule_name(code: &str) -> String {
    code.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn logical_location(binding: &Binding) -> Value {
    let l = &binding.location;
    let mut path: Vec<&str> = vec![&l.plugin, &l.service, &l.account];
    path.extend(l.region.as_deref());
    path.push(&l.resource_id);
    let mut location = json!({
        "name": l.resource_id,
        "fullyQualifiedName": path.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("/"),
        "kind": "resource",
    });
    if let Some(name) = &l.resource_name {
        location["properties"] = json!({ "resourceName": name });
    }
    location
}

/// The `partialFingerprints` key: versioned, as SARIF asks, so a future
/// change of what goes into a fingerprint gets a new key.
pub const SARIF_FINGERPRINT_KEY: &str = "certinspectFinding/v1";

fn result(report: &Report, finding: &Finding, rule_index: Option<usize>) -> Value {
    let mut properties = Map::new();
    properties.insert("severity".into(), json!(finding.severity));
    let evidence = finding.evidence.to_value();
    if !evidence.is_null() {
        properties.insert("evidence".into(), evidence.clone());
    }
    if let Some(index) = finding.binding {
        properties.insert("binding".into(), json!(index));
    }
    if let Some(address) = &finding.address {
        properties.insert("address".into(), json!(address));
    }
    let mut out = json!({
        "ruleId": finding.code,
        "level": sarif_level(finding.severity),
        "message": { "text": finding.text() },
        // The same fingerprint `inspect diff` matches findings by, so
        // code-scanning UIs track a finding across runs.
        "partialFingerprints": { SARIF_FINGERPRINT_KEY: fingerprint(report, finding) },
    });
    if let Some(index) = rule_index {
        out["ruleIndex"] = json!(index);
    }
    let binding = finding.binding.and_then(|i| report.bindings.get(i)).map(|b| &b.binding);
    let location = match binding {
        Some(binding) => Some(json!({
            "physicalLocation": { "artifactLocation": { "uri": binding_uri(binding) } },
            "logicalLocations": [logical_location(binding)],
        })),
        // A failed source: the plugin (and scope) is the place.
        None => evidence.get("plugin").and_then(Value::as_str).map(|plugin| {
            let scope = evidence.get("scope").and_then(Value::as_str);
            json!({ "logicalLocations": [{
                "name": plugin,
                "fullyQualifiedName": scope.map_or_else(|| plugin.to_owned(), |s| format!("{plugin}/{s}")),
                "kind": "module",
            }] })
        }),
    };
    if let Some(location) = location {
        out["locations"] = json!([location]);
    }
    out["properties"] = Value::Object(properties);
    out
}

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let rules: Vec<Value> = FindingCode::ALL
        .iter()
        .map(|code| {
            let info = code.info();
            json!({
                "id": code,
                "name": rule_name(code.as_str()),
                "shortDescription": { "text": info.summary },
                "defaultConfiguration": { "level": sarif_level(info.default_severity) },
                "properties": { "severity": info.default_severity },
            })
        })
        .collect();
    let results: Vec<Value> =
        report.findings.iter().map(|f| result(report, f, FindingCode::ALL.iter().position(|c| *c == f.code))).collect();
    let log = json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "certinspect",
                "version": report.tool_version,
                "rules": rules,
            } },
            "invocations": [{
                "executionSuccessful": true,
                "endTimeUtc": rfc3339(report.generated_at),
            }],
            "results": results,
            "properties": {
                "schemaVersion": report.schema_version,
                "summary": report.summary,
            },
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use certinspect_protocol::{Endpoint, Location};

    fn binding(provider: &str, resource: &str, endpoint: Option<(&str, u16)>) -> Binding {
        let mut location = Location::new("", resource);
        location.plugin = provider.into();
        location.endpoint = endpoint.map(|(host, port)| Endpoint::new(host, port));
        Binding::new(location, certinspect_protocol::DeclaredCertificate::default())
    }

    #[test]
    fn uris_name_the_endpoint_or_the_resource() {
        assert_eq!(binding_uri(&binding("x", "r", Some(("www.example.com", 443)))), "https://www.example.com:443/");
        assert_eq!(binding_uri(&binding("x", "r", Some(("::1", 8443)))), "https://[::1]:8443/");
        assert_eq!(binding_uri(&binding("alibaba-cdn", "*.example.com", None)), "alibaba-cdn://*.example.com");
        assert_eq!(binding_uri(&binding("Alibaba CAS", "a b/c", None)), "alibabacas://a%20b%2Fc");
        assert_eq!(binding_uri(&binding("9x", "1", None)), "certinspect-9x://1");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(rule_name("cert-expired"), "CertExpired");
        assert_eq!(rule_name("no-tls"), "NoTls");
    }
}
