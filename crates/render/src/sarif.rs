//! SARIF 2.1.0: one run, a rule per finding code, a result per finding;
//! gathered compactly as a run streams ([`SarifWriter`]).

use std::io::{self, Write};

use certinspect_core::diff::fingerprint_of;
use certinspect_core::findings::{Evidence, Finding, FindingCode, Severity};
use certinspect_core::report::{ObservationResult, Report};
use certinspect_core::verify::VerifyObserver;
use certinspect_protocol::Binding;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Map, Value};

use crate::view::{endpoint_text, rfc3339, CompactFinding};

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

/// Where a finding is: the binding it is about, else (a failed source) the
/// plugin and scope its `evidence` names.
fn location(evidence: &Value, binding: Option<&Binding>) -> Option<Value> {
    match binding {
        Some(binding) => Some(json!({
            "physicalLocation": { "artifactLocation": { "uri": binding_uri(binding) } },
            "logicalLocations": [logical_location(binding)],
        })),
        None => evidence.get("plugin").and_then(Value::as_str).map(|plugin| {
            let scope = evidence.get("scope").and_then(Value::as_str);
            json!({ "logicalLocations": [{
                "name": plugin,
                "fullyQualifiedName": scope.map_or_else(|| plugin.to_owned(), |s| format!("{plugin}/{s}")),
                "kind": "module",
            }] })
        }),
    }
}

/// One finding's SARIF result, gathered: the finding's own fields (which
/// also order it), and what else its result needs, kept small: the
/// evidence as compact text, where it is as compact JSON, its fingerprint.
/// The result itself is rendered only when the log is written, so the
/// message, address and code are not held twice.
#[derive(Debug)]
struct Gathered {
    finding: CompactFinding,
    evidence: Evidence,
    location: Option<Box<str>>,
    fingerprint: Box<str>,
}

impl Gathered {
    fn new(finding: &Finding, binding: Option<&Binding>) -> Self {
        let evidence = finding.evidence.clone();
        let location = location(&evidence.to_value(), binding).map(|l| l.to_string().into_boxed_str());
        Gathered {
            finding: CompactFinding::new(finding),
            evidence,
            location,
            // The same fingerprint `inspect diff` matches findings by, so
            // code-scanning UIs track a finding across runs.
            fingerprint: fingerprint_of(finding, binding).into_boxed_str(),
        }
    }

    /// The SARIF result, as compact JSON.
    fn result(&self) -> String {
        let finding = &self.finding;
        let mut properties = Map::new();
        properties.insert("severity".into(), json!(finding.severity));
        let evidence = self.evidence.to_value();
        if !evidence.is_null() {
            properties.insert("evidence".into(), evidence);
        }
        if let Some(index) = finding.binding {
            properties.insert("binding".into(), json!(index));
        }
        if let Some(address) = &finding.address {
            properties.insert("address".into(), json!(address));
        }
        let text = match &finding.place {
            Some(place) => format!("{place}: {}", finding.message),
            None => finding.message.to_string(),
        };
        let mut out = json!({
            "ruleId": finding.code,
            "level": sarif_level(finding.severity),
            "message": { "text": text },
            "partialFingerprints": { SARIF_FINGERPRINT_KEY: self.fingerprint },
        });
        if let Some(index) = FindingCode::ALL.iter().position(|c| *c == finding.code) {
            out["ruleIndex"] = json!(index);
        }
        if let Some(location) = self.location.as_deref().and_then(|l| serde_json::from_str::<Value>(l).ok()) {
            out["locations"] = json!([location]);
        }
        out["properties"] = Value::Object(properties);
        out.to_string()
    }
}

/// A SARIF log gathered as a run goes: per finding only what its result
/// needs ([`Gathered`]); nothing for a binding without findings. [`finish`](Self::finish) adds the report's findings
/// about no binding (failed sources), orders all as the report does and
/// writes the log; the whole report's log is written by the same code
/// ([`render_sarif`](crate::render_sarif)), so the two are byte-identical.
/// A run feeds it as its [`VerifyObserver`].
#[derive(Debug, Default)]
pub struct SarifWriter {
    results: Vec<Gathered>,
}

impl SarifWriter {
    /// A log without results yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn findings(&mut self, binding: &Binding, findings: &[Finding]) {
        for finding in findings {
            self.finding(finding, Some(binding));
        }
    }

    fn finding(&mut self, finding: &Finding, binding: Option<&Binding>) {
        self.results.push(Gathered::new(finding, binding));
    }

    /// Write the log of a streamed run whose `report` keeps no bindings:
    /// the results gathered, and those of the report's findings about no
    /// binding (the ones about a binding came with their results and
    /// bindings).
    pub fn finish(&mut self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        for finding in report.findings.iter().filter(|f| f.binding.is_none()) {
            self.finding(finding, None);
        }
        self.write(report, out)
    }

    fn write(&mut self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // Stable: findings that order the same keep the order they came in.
        self.results.sort_by(|a, b| a.finding.order_key().cmp(&b.finding.order_key()));
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
                "results": RESULTS_PLACEHOLDER,
                "properties": {
                    "schemaVersion": report.schema_version,
                    "summary": report.summary,
                },
            }],
        });
        // The log is small but for its results: it is rendered whole with
        // a placeholder, and the results are written into its place.
        let text = serde_json::to_string_pretty(&log)?;
        let (before, after) = text
            .split_once(&format!("\"{RESULTS_PLACEHOLDER}\""))
            .expect("the placeholder is in the log once, and JSON leaves it as it is");
        out.write_all(before.as_bytes())?;
        // The `"results": ` line's own indentation.
        let indent = before.rsplit('\n').next().map_or(0, |line| line.len() - line.trim_start().len());
        write_array(out, &self.results, indent)?;
        out.write_all(after.as_bytes())?;
        writeln!(out)
    }
}

/// What a run streams: the findings of each result and those about
/// bindings as a whole.
impl VerifyObserver for SarifWriter {
    fn result(&mut self, _index: usize, binding: &Binding, _result: &ObservationResult, findings: &[Finding]) {
        self.findings(binding, findings);
    }

    fn binding_findings(&mut self, _index: usize, binding: &Binding, findings: &[Finding]) {
        self.findings(binding, findings);
    }
}

/// Stands for the results in the log rendered without them.
const RESULTS_PLACEHOLDER: &str = "certinspect:results";

/// The results as the array serde_json's pretty printer writes at `indent` spaces.
fn write_array(out: &mut dyn Write, results: &[Gathered], indent: usize) -> io::Result<()> {
    if results.is_empty() {
        return out.write_all(b"[]");
    }
    let mut text = String::new();
    for (n, gathered) in results.iter().enumerate() {
        text.push_str(if n == 0 { "[" } else { "," });
        new_line(&mut text, indent + 2);
        pretty(&gathered.result(), indent + 2, &mut text);
        out.write_all(text.as_bytes())?;
        text.clear();
    }
    new_line(&mut text, indent);
    text.push(']');
    out.write_all(text.as_bytes())
}

/// `compact` (serde_json's compact output: no space outside strings) as its
/// pretty printer writes the same value at `indent` spaces: each member and
/// element on a line of its own, two spaces deeper per level, `": "` after
/// keys, `{}` and `[]` when empty.
fn pretty(compact: &str, indent: usize, out: &mut String) {
    let mut depth = indent;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                match chars.next_if(|next| matches!(next, '}' | ']')) {
                    Some(close) => out.push(close),
                    None => {
                        depth += 2;
                        new_line(out, depth);
                    }
                }
            }
            '}' | ']' => {
                depth -= 2;
                new_line(out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                new_line(out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
}

fn new_line(out: &mut String, indent: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = SarifWriter::new();
    for finding in &report.findings {
        let binding = finding.binding.and_then(|i| report.bindings.get(i));
        writer.finding(finding, binding.map(|b| &b.binding));
    }
    writer.write(report, out)
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
