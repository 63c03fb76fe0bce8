//! Prometheus text exposition format (0.0.4), for node_exporter's textfile
//! collector: gauges describing one scan.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use certinspect_core::findings::Severity;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_protocol::Binding;

use crate::view::{endpoint_text, VERDICTS};

/// Escape a label value: backslash, double quote and line feed, as the
/// exposition format requires.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

type Labels = Vec<(&'static str, String)>;

fn label_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v))).collect();
    format!("{{{}}}", inner.join(","))
}

struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Labels, i64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family { name, help, samples: Vec::new() }
    }

    fn write(&self, out: &mut String) {
        // HELP text is ours and holds no backslash or newline to escape.
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        for (labels, value) in &self.samples {
            let _ = writeln!(out, "{}{} {value}", self.name, label_text(labels));
        }
    }
}

/// The labels naming one binding at one address.
fn observation_labels(binding: &Binding, result: Option<&ObservationResult>) -> Labels {
    let l = &binding.location;
    let endpoint = l.endpoint.as_ref();
    vec![
        ("provider", l.plugin.clone()),
        ("service", l.service.clone()),
        ("account", l.account.clone()),
        ("region", l.region.clone().unwrap_or_default()),
        ("resource", l.resource_id.clone()),
        ("endpoint", endpoint_text(binding).unwrap_or_default()),
        (
            "sni",
            result.and_then(|r| r.sni.clone()).or_else(|| endpoint.and_then(|e| e.sni.clone())).unwrap_or_default(),
        ),
        ("address", result.and_then(|r| r.address.clone()).unwrap_or_default()),
    ]
}

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // One entry per binding x result (a binding without results: one entry
    // with an empty address).
    let mut observations: Vec<(usize, Option<&ObservationResult>, Labels)> = Vec::new();
    for (index, b) in report.bindings.iter().enumerate() {
        if b.results.is_empty() {
            observations.push((index, None, observation_labels(&b.binding, None)));
        }
        for r in &b.results {
            observations.push((index, Some(r), observation_labels(&b.binding, Some(r))));
        }
    }
    // Two bindings can share every label (a listener declaring two
    // certificates for one endpoint). Duplicate series make the whole file
    // invalid, so those, and only those, also get the binding's index.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, _, labels) in &observations {
        *seen.entry(label_text(labels)).or_insert(0) += 1;
    }
    for (index, _, labels) in &mut observations {
        if seen[&label_text(labels)] > 1 {
            labels.push(("binding", index.to_string()));
        }
    }

    let mut not_after = Family::new(
        "certinspect_certificate_not_after_seconds",
        "Validity end of the served leaf certificate (source=\"served\"), else of the declared one (source=\"declared\"), UNIX seconds.",
    );
    let mut days = Family::new(
        "certinspect_certificate_days_remaining",
        "Whole days until the certificate in certinspect_certificate_not_after_seconds expires; negative once expired.",
    );
    let mut verdict = Family::new(
        "certinspect_binding_verdict",
        "Verdict per binding and address, one-hot: 1 for the verdict observed, 0 for the others.",
    );
    for (index, result, labels) in &observations {
        let binding = &report.bindings[*index].binding;
        let dates = match result.and_then(|r| r.served.as_ref()) {
            Some(served) => Some(("served", served.not_after, served.days_remaining)),
            None => binding.declared.not_after.map(|t| ("declared", t, (t - report.generated_at).div_euclid(86_400))),
        };
        if let Some((source, time, left)) = dates {
            let mut with_source = labels.clone();
            with_source.push(("source", source.to_owned()));
            not_after.samples.push((with_source.clone(), time));
            days.samples.push((with_source, left));
        }
        if let Some(result) = result {
            for v in VERDICTS {
                let mut with_verdict = labels.clone();
                with_verdict.push(("verdict", v.as_str().to_owned()));
                verdict.samples.push((with_verdict, i64::from(v == result.verdict)));
            }
        }
    }

    let mut findings = Family::new("certinspect_findings", "Findings of the scan per severity.");
    for severity in Severity::ALL {
        let count = report.findings.iter().filter(|f| f.severity == severity).count();
        findings.samples.push((vec![("severity", severity.as_str().to_owned())], count as i64));
    }
    let mut by_code_counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for f in &report.findings {
        *by_code_counts.entry((f.code.as_str(), f.severity.as_str())).or_insert(0) += 1;
    }
    let mut by_code = Family::new(
        "certinspect_findings_by_code",
        "Findings of the scan per code and severity (codes with none are absent).",
    );
    by_code.samples = by_code_counts
        .into_iter()
        .map(|((code, severity), n)| (vec![("code", code.to_owned()), ("severity", severity.to_owned())], n))
        .collect();

    let s = &report.summary;
    let mut results = Family::new("certinspect_results", "Observations (binding x address) per verdict.");
    for v in VERDICTS {
        results
            .samples
            .push((vec![("verdict", v.as_str().to_owned())], s.verdicts.get(v.as_str()).copied().unwrap_or(0) as i64));
    }
    let mut bindings =
        Family::new("certinspect_bindings", "Bindings in the report, by kind: probed, not_probeable, inventory_only.");
    for (kind, n) in
        [("probed", s.probed_bindings), ("not_probeable", s.not_probeable), ("inventory_only", s.inventory_only)]
    {
        bindings.samples.push((vec![("kind", kind.to_owned())], n as i64));
    }
    let mut source_errors =
        Family::new("certinspect_source_errors", "Sources or scopes that could not be listed completely.");
    source_errors.samples.push((vec![], report.source_errors.len() as i64));
    let mut timestamp =
        Family::new("certinspect_scan_timestamp_seconds", "When the scan's analysis clock read, UNIX seconds.");
    timestamp.samples.push((vec![], report.generated_at));
    let mut info =
        Family::new("certinspect_report_info", "The tool and report schema versions that wrote this file; always 1.");
    info.samples.push((
        vec![("tool_version", report.tool_version.clone()), ("schema_version", report.schema_version.to_string())],
        1,
    ));

    let mut text = String::new();
    for family in
        [&not_after, &days, &verdict, &findings, &by_code, &results, &bindings, &source_errors, &timestamp, &info]
    {
        family.write(&mut text);
    }
    out.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label_value("tab\tstays"), "tab\tstays");
    }
}
