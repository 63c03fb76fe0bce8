//! Prometheus text exposition format (0.0.4): gauges describing one scan,
//! for node_exporter's textfile collector, and what `inspect serve` answers
//! at `/metrics` (the same, plus certificates remembered for endpoints that
//! stopped answering and the health of scanning).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use certinspect_core::findings::Severity;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_core::watch::{Health, Remembered, Snapshot};
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

type Labels = Vec<(String, String)>;

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
    kind: &'static str,
    samples: Vec<(Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family { name, help, kind: "gauge", samples: Vec::new() }
    }

    fn counter(name: &'static str, help: &'static str) -> Self {
        Family { name, help, kind: "counter", samples: Vec::new() }
    }

    fn one(mut self, labels: Labels, value: f64) -> Self {
        self.samples.push((labels, value));
        self
    }

    fn write(&self, out: &mut String) {
        // HELP text is ours and holds no backslash or newline to escape.
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            let _ = writeln!(out, "{}{} {value}", self.name, label_text(labels));
        }
    }
}

/// The Prometheus label a resource tag becomes: `tag_` and the key, every
/// character a label name cannot hold replaced by `_` (`cost-center` ->
/// `tag_cost_center`). The prefix keeps tags apart from our own labels.
pub fn tag_label_name(key: &str) -> String {
    let sanitised: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("tag_{sanitised}")
}

/// The labels naming one binding at one address, then one per tag asked for
/// (empty when the resource has no such tag).
fn observation_labels(binding: &Binding, result: Option<&ObservationResult>, tags: &[String]) -> Labels {
    let l = &binding.location;
    let endpoint = l.endpoint.as_ref();
    let tag_labels = tags.iter().map(|key| (tag_label_name(key), binding.tags.get(key).cloned().unwrap_or_default()));
    vec![
        ("provider".to_owned(), l.plugin.clone()),
        ("service".to_owned(), l.service.clone()),
        ("account".to_owned(), l.account.clone()),
        ("region".to_owned(), l.region.clone().unwrap_or_default()),
        ("resource".to_owned(), l.resource_id.clone()),
        ("endpoint".to_owned(), endpoint_text(binding).unwrap_or_default()),
        (
            "sni".to_owned(),
            result.and_then(|r| r.sni.clone()).or_else(|| endpoint.and_then(|e| e.sni.clone())).unwrap_or_default(),
        ),
        ("address".to_owned(), result.and_then(|r| r.address.clone()).unwrap_or_default()),
    ]
    .into_iter()
    .chain(tag_labels)
    .collect()
}

/// One scan's report as a file for node_exporter's textfile collector;
/// `tags`: the resource tags that become labels.
pub(crate) fn render(report: &Report, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    write_families(&report_families(report, &[], tags), out)
}

/// What `inspect serve` answers at `/metrics`: the last complete scan (with
/// the certificates remembered for endpoints that stopped answering), then
/// the health of scanning.
pub(crate) fn render_snapshot(snapshot: &Snapshot, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    let mut families = match &snapshot.report {
        Some(report) => report_families(report, &snapshot.remembered, tags),
        None => Vec::new(),
    };
    families.extend(health_families(&snapshot.health));
    write_families(&families, out)
}

fn write_families(families: &[Family], out: &mut dyn Write) -> io::Result<()> {
    let mut text = String::new();
    for family in families {
        family.write(&mut text);
    }
    out.write_all(text.as_bytes())
}

fn report_families(report: &Report, remembered: &[Remembered], tags: &[String]) -> Vec<Family> {
    // One entry per binding x result (a binding without results: one entry
    // with an empty address).
    let mut observations: Vec<(usize, Option<usize>, Labels)> = Vec::new();
    for (index, b) in report.bindings.iter().enumerate() {
        if b.results.is_empty() {
            observations.push((index, None, observation_labels(&b.binding, None, tags)));
        }
        for (r, result) in b.results.iter().enumerate() {
            observations.push((index, Some(r), observation_labels(&b.binding, Some(result), tags)));
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
            labels.push(("binding".to_owned(), index.to_string()));
        }
    }

    let mut not_after = Family::new(
        "certinspect_certificate_not_after_seconds",
        "Validity end of the served leaf certificate (source=\"served\"), else of the one it served when last answering (source=\"last_seen\"), else of the declared one (source=\"declared\"), UNIX seconds.",
    );
    let mut expiry = Family::new(
        "certinspect_certificate_expiry_seconds",
        "Seconds from the scan until the certificate in certinspect_certificate_not_after_seconds expires; negative once expired.",
    );
    let mut expired = Family::new(
        "certinspect_certificate_expired",
        "1 when the certificate in certinspect_certificate_not_after_seconds had expired at the scan, else 0.",
    );
    let mut last_seen = Family::new(
        "certinspect_certificate_last_seen_timestamp_seconds",
        "When the endpoint last served a certificate: this scan, or an earlier one when it stopped answering, UNIX seconds.",
    );
    let mut verdict = Family::new(
        "certinspect_binding_verdict",
        "Verdict per binding and address, one-hot: 1 for the verdict observed, 0 for the others.",
    );
    let now = report.generated_at;
    for (index, r, labels) in &observations {
        let binding = &report.bindings[*index].binding;
        let result = r.map(|r| &report.bindings[*index].results[r]);
        let earlier = r.and_then(|r| remembered.iter().find(|m| m.binding == *index && m.result == r));
        let mut dates = Vec::new();
        if let Some(served) = result.and_then(|r| r.served.as_ref()) {
            dates.push(("served", served.not_after, now));
        } else if let Some(earlier) = earlier {
            dates.push(("last_seen", earlier.last.served.not_after, earlier.last.seen_at));
        }
        // The declared date stands in only when nothing was ever served:
        // a remembered certificate is what the endpoint really had.
        if dates.is_empty() {
            if let Some(time) = binding.declared.not_after {
                dates.push(("declared", time, 0));
            }
        }
        for (source, time, seen_at) in dates {
            let mut with_source = labels.clone();
            with_source.push(("source".to_owned(), source.to_owned()));
            not_after.samples.push((with_source.clone(), time as f64));
            expiry.samples.push((with_source.clone(), (time - now) as f64));
            expired.samples.push((with_source, f64::from(u8::from(time <= now))));
            if source != "declared" {
                last_seen.samples.push((labels.clone(), seen_at as f64));
            }
        }
        if let Some(result) = result {
            for v in VERDICTS {
                let mut with_verdict = labels.clone();
                with_verdict.push(("verdict".to_owned(), v.as_str().to_owned()));
                verdict.samples.push((with_verdict, f64::from(u8::from(v == result.verdict))));
            }
        }
    }

    let mut findings = Family::new("certinspect_findings", "Findings of the scan per severity.");
    for severity in Severity::ALL {
        let count = report.findings.iter().filter(|f| f.severity == severity).count();
        findings.samples.push((vec![("severity".to_owned(), severity.as_str().to_owned())], count as f64));
    }
    let mut by_code_counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in &report.findings {
        *by_code_counts.entry((f.code.as_str(), f.severity.as_str())).or_insert(0) += 1;
    }
    let mut by_code = Family::new(
        "certinspect_findings_by_code",
        "Findings of the scan per code and severity (codes with none are absent).",
    );
    by_code.samples = by_code_counts
        .into_iter()
        .map(|((code, severity), n)| {
            (vec![("code".to_owned(), code.to_owned()), ("severity".to_owned(), severity.to_owned())], n as f64)
        })
        .collect();

    let s = &report.summary;
    let mut results = Family::new("certinspect_results", "Observations (binding x address) per verdict.");
    for v in VERDICTS {
        results.samples.push((
            vec![("verdict".to_owned(), v.as_str().to_owned())],
            s.verdicts.get(v.as_str()).copied().unwrap_or(0) as f64,
        ));
    }
    let mut bindings =
        Family::new("certinspect_bindings", "Bindings in the report, by kind: probed, not_probeable, inventory_only.");
    for (kind, n) in
        [("probed", s.probed_bindings), ("not_probeable", s.not_probeable), ("inventory_only", s.inventory_only)]
    {
        bindings.samples.push((vec![("kind".to_owned(), kind.to_owned())], n as f64));
    }
    let source_errors =
        Family::new("certinspect_source_errors", "Sources or scopes that could not be listed completely.")
            .one(vec![], report.source_errors.len() as f64);
    let mut source_up = Family::new(
        "certinspect_source_up",
        "1 when every source of the plugin listed completely in the scan, 0 when one failed (see certinspect_source_errors).",
    );
    let plugins: BTreeSet<&str> = report
        .source_stats
        .iter()
        .map(|s| s.plugin.as_str())
        .chain(report.source_errors.iter().map(|e| e.plugin.as_str()))
        .collect();
    for plugin in plugins {
        let up = !report.source_errors.iter().any(|e| e.plugin == plugin);
        source_up.samples.push((vec![("plugin".to_owned(), plugin.to_owned())], f64::from(u8::from(up))));
    }
    let timestamp =
        Family::new("certinspect_scan_timestamp_seconds", "When the scan's analysis clock read, UNIX seconds.")
            .one(vec![], report.generated_at as f64);
    let info =
        Family::new("certinspect_report_info", "The tool and report schema versions that wrote this file; always 1.")
            .one(
                vec![
                    ("tool_version".to_owned(), report.tool_version.clone()),
                    ("schema_version".to_owned(), report.schema_version.to_string()),
                ],
                1.0,
            );
    vec![
        not_after,
        expiry,
        expired,
        last_seen,
        verdict,
        findings,
        by_code,
        results,
        bindings,
        source_errors,
        source_up,
        timestamp,
        info,
    ]
}

/// How continuous scanning goes (only `inspect serve` has these).
fn health_families(health: &Health) -> Vec<Family> {
    vec![
        Family::new("certinspect_scan_success", "1 when the last scan attempted produced a report, else 0.")
            .one(vec![], f64::from(u8::from(health.last_scan_succeeded))),
        Family::new("certinspect_scan_duration_seconds", "How long the last scan attempted took, seconds.")
            .one(vec![], health.last_scan_duration.as_secs_f64()),
        Family::counter("certinspect_scans_total", "Scans attempted since the exporter started.")
            .one(vec![], health.scans as f64),
        Family::counter(
            "certinspect_scan_failures_total",
            "Scans that produced no report (the configuration could not be used) since the exporter started.",
        )
        .one(vec![], health.failed_scans as f64),
        Family::new(
            "certinspect_config_reload_success",
            "1 unless the last configuration reload (SIGHUP) failed; the previous configuration then stays in use.",
        )
        .one(vec![], f64::from(u8::from(health.config_reload_ok))),
    ]
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
