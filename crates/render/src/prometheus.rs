//! Prometheus text exposition format (0.0.4): gauges describing one scan,
//! for node_exporter's textfile collector, and what `inspect serve` answers
//! at `/metrics` (the same, plus certificates remembered for endpoints that
//! stopped answering and the health of scanning). A streamed run gathers
//! only the labels and numbers of each series ([`PrometheusSeries`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use certinspect_core::findings::{Finding, Severity};
use certinspect_core::reconcile::Verdict;
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

/// Labels rendered as the exposition format writes them between braces
/// (`provider="cdn",region=""`), without the braces.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"{}\"", escape_label_value(value));
    }
    out
}

/// One family's `# HELP` and `# TYPE` lines.
fn write_header(out: &mut dyn Write, name: &str, help: &str, kind: &str) -> io::Result<()> {
    // HELP text is ours and holds no backslash or newline to escape.
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

/// One sample; `labels` rendered by [`labels`], the parts joined by commas.
fn write_sample(out: &mut dyn Write, name: &str, labels: &[&str], value: f64) -> io::Result<()> {
    let mut parts = labels.iter().filter(|l| !l.is_empty());
    match parts.next() {
        None => writeln!(out, "{name} {value}"),
        Some(first) => {
            write!(out, "{name}{{{first}")?;
            for part in parts {
                write!(out, ",{part}")?;
            }
            writeln!(out, "}} {value}")
        }
    }
}

/// A family of a few samples (totals, health), held whole.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family { name, help, kind: "gauge", samples: Vec::new() }
    }

    fn counter(name: &'static str, help: &'static str) -> Self {
        Family { name, help, kind: "counter", samples: Vec::new() }
    }

    fn one(mut self, pairs: &[(&str, &str)], value: f64) -> Self {
        self.samples.push((labels(pairs), value));
        self
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write_header(out, self.name, self.help, self.kind)?;
        for (labels, value) in &self.samples {
            write_sample(out, self.name, &[labels], *value)?;
        }
        Ok(())
    }
}

/// The Prometheus label a resource tag becomes: `tag_` and the key, every
/// character a label name cannot hold replaced by `_` (`cost-center` ->
/// `tag_cost_center`). The prefix keeps tags apart from our own labels.
pub fn tag_label_name(key: &str) -> String {
    let sanitised: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("tag_{sanitised}")
}

/// The names of the labels naming one binding at one address, then one per
/// tag asked for: the keys of [`observation_values`].
fn observation_label_names(tags: &[String]) -> Vec<String> {
    let fixed = ["provider", "service", "account", "region", "resource", "endpoint", "sni", "address"];
    fixed.into_iter().map(str::to_owned).chain(tags.iter().map(|key| tag_label_name(key))).collect()
}

/// The values of [`observation_label_names`] (a tag's empty when the
/// resource has no such tag), each escaped and followed by `"`: all a run
/// keeps of a series' labels, the names being the same for every series.
fn observation_values(binding: &Binding, result: Option<&ObservationResult>, tags: &[String]) -> Box<str> {
    let l = &binding.location;
    let endpoint = l.endpoint.as_ref();
    let endpoint_text = endpoint_text(binding).unwrap_or_default();
    let sni = result.and_then(|r| r.sni.as_deref()).or_else(|| endpoint.and_then(|e| e.sni.as_deref()));
    let fixed = [
        l.plugin.as_str(),
        l.service.as_str(),
        l.account.as_str(),
        l.region.as_deref().unwrap_or_default(),
        l.resource_id.as_str(),
        endpoint_text.as_str(),
        sni.unwrap_or_default(),
        result.and_then(|r| r.address.as_deref()).unwrap_or_default(),
    ];
    let tag_values = tags.iter().map(|key| binding.tags.get(key).map(String::as_str).unwrap_or_default());
    let mut out = String::new();
    for value in fixed.into_iter().chain(tag_values) {
        out.push_str(&escape_label_value(value));
        out.push('"');
    }
    out.into_boxed_str()
}

/// [`observation_values`] with their `names`, rendered as [`labels`] does.
fn observation_labels(names: &[String], values: &str) -> String {
    let mut out = String::with_capacity(values.len() + names.len() * 12);
    let mut rest = values;
    for name in names {
        // An escaped value holds a quote only after a backslash.
        let bytes = rest.as_bytes();
        let mut end = 0;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(rest.len());
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", &rest[..end]);
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    out
}

/// Where a certificate date of [`CertificateSeries`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateSource {
    /// The leaf served in this scan.
    Served,
    /// The leaf the endpoint served when it last answered (`inspect serve`).
    LastSeen,
    /// The declared certificate: nothing was ever served.
    Declared,
}

impl DateSource {
    fn as_str(self) -> &'static str {
        match self {
            DateSource::Served => "served",
            DateSource::LastSeen => "last_seen",
            DateSource::Declared => "declared",
        }
    }
}

/// What the per-certificate families say about one binding at one address:
/// its labels and a few numbers; all a run keeps per observation.
#[derive(Debug)]
struct CertificateSeries {
    binding: usize,
    /// [`observation_values`], exactly as long as they are: a long run
    /// holds one per observation.
    labels: Box<str>,
    /// The date shown, where it comes from, and when it was seen (`None`:
    /// at the scan).
    date: Option<(DateSource, i64, Option<i64>)>,
    /// The verdict, when probed.
    verdict: Option<Verdict>,
}

/// The Prometheus file of a run, gathered as the run goes: per binding and
/// address only its labels, a date and a verdict; findings as counts per
/// code and severity. Fed by the engine's observer
/// ([`result`](Self::result), [`not_probed`](Self::not_probed)) in a
/// streamed run, whose report keeps no bindings; [`finish`](Self::finish)
/// adds what the report holds (all of it, for a report written whole:
/// [`render_prometheus`](crate::render_prometheus) is `finish` alone) and
/// writes the file.
#[derive(Debug)]
pub struct PrometheusSeries {
    tags: Vec<String>,
    certificates: Vec<CertificateSeries>,
    findings: BTreeMap<(&'static str, Severity), usize>,
}

impl PrometheusSeries {
    /// Nothing gathered yet; `tags`: the resource tags that become labels.
    pub fn new(tags: &[String]) -> Self {
        PrometheusSeries { tags: tags.to_vec(), certificates: Vec::new(), findings: BTreeMap::new() }
    }

    /// Room for `bindings` bindings (each has at least one series), so a
    /// long run's list is not grown by doubling.
    pub fn reserve(&mut self, bindings: usize) {
        self.certificates.reserve_exact(bindings);
    }

    /// One result of binding number `index`, and the findings about it.
    pub fn result(&mut self, index: usize, binding: &Binding, result: &ObservationResult, findings: &[Finding]) {
        self.observation(index, binding, Some(result), None);
        self.count(findings);
    }

    /// Binding number `index`, which was not probed.
    pub fn not_probed(&mut self, index: usize, binding: &Binding) {
        self.observation(index, binding, None, None);
    }

    /// Add the report's bindings and findings (a streamed run's report
    /// holds only those that were not streamed) and write the file. Once.
    pub fn finish(&mut self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        self.add_report(report, &[]);
        let mut out = io::BufWriter::new(out);
        self.write(report, &mut out)?;
        out.flush()
    }

    fn observation(
        &mut self,
        index: usize,
        binding: &Binding,
        result: Option<&ObservationResult>,
        earlier: Option<&Remembered>,
    ) {
        // The declared date stands in only when nothing was ever served:
        // a remembered certificate is what the endpoint really had.
        let date = match (result.and_then(|r| r.served.as_ref()), earlier) {
            (Some(served), _) => Some((DateSource::Served, served.not_after, None)),
            (None, Some(earlier)) => {
                Some((DateSource::LastSeen, earlier.last.served.not_after, Some(earlier.last.seen_at)))
            }
            (None, None) => binding.declared.not_after.map(|time| (DateSource::Declared, time, None)),
        };
        self.certificates.push(CertificateSeries {
            binding: index,
            labels: observation_values(binding, result, &self.tags),
            date,
            verdict: result.map(|r| r.verdict),
        });
    }

    fn count<'f>(&mut self, findings: impl IntoIterator<Item = &'f Finding>) {
        for f in findings {
            *self.findings.entry((f.code.as_str(), f.severity)).or_insert(0) += 1;
        }
    }

    /// One entry per binding x result (a binding without results: one
    /// entry with an empty address), and every finding.
    fn add_report(&mut self, report: &Report, remembered: &[Remembered]) {
        for (index, b) in report.bindings.iter().enumerate() {
            if b.results.is_empty() {
                self.observation(index, &b.binding, None, None);
            }
            for (r, result) in b.results.iter().enumerate() {
                let earlier = remembered.iter().find(|m| m.binding == index && m.result == r);
                self.observation(index, &b.binding, Some(result), earlier);
            }
        }
        self.count(&report.findings);
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // Two bindings can share every label (a listener declaring two
        // certificates for one endpoint). Duplicate series make the whole
        // file invalid, so those, and only those, also get the binding's index.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for c in &self.certificates {
            *seen.entry(&c.labels).or_insert(0) += 1;
        }
        let disambiguation = |c: &CertificateSeries| {
            if seen[&*c.labels] > 1 {
                labels(&[("binding", &c.binding.to_string())])
            } else {
                String::new()
            }
        };
        let names = observation_label_names(&self.tags);
        let now = report.generated_at;
        let dated = || self.certificates.iter().filter_map(|c| Some((c, c.date?)));
        type Value = fn(i64, i64) -> f64;
        let date_families: [(&str, &str, Value); 3] = [
            (
                "certinspect_certificate_not_after_seconds",
                "Validity end of the served leaf certificate (source=\"served\"), else of the one it served when last answering (source=\"last_seen\"), else of the declared one (source=\"declared\"), UNIX seconds.",
                |time, _| time as f64,
            ),
            (
                "certinspect_certificate_expiry_seconds",
                "Seconds from the scan until the certificate in certinspect_certificate_not_after_seconds expires; negative once expired.",
                |time, now| (time - now) as f64,
            ),
            (
                "certinspect_certificate_expired",
                "1 when the certificate in certinspect_certificate_not_after_seconds had expired at the scan, else 0.",
                |time, now| f64::from(u8::from(time <= now)),
            ),
        ];
        for (name, help, value) in date_families {
            write_header(out, name, help, "gauge")?;
            for (c, (source, time, _)) in dated() {
                let source = labels(&[("source", source.as_str())]);
                let labels = observation_labels(&names, &c.labels);
                write_sample(out, name, &[&labels, &disambiguation(c), &source], value(time, now))?;
            }
        }
        let name = "certinspect_certificate_last_seen_timestamp_seconds";
        write_header(
            out,
            name,
            "When the endpoint last served a certificate: this scan, or an earlier one when it stopped answering, UNIX seconds.",
            "gauge",
        )?;
        for (c, (_, _, seen_at)) in dated().filter(|(_, (source, ..))| *source != DateSource::Declared) {
            let labels = observation_labels(&names, &c.labels);
            write_sample(out, name, &[&labels, &disambiguation(c)], seen_at.unwrap_or(now) as f64)?;
        }
        let name = "certinspect_binding_verdict";
        write_header(
            out,
            name,
            "Verdict per binding and address, one-hot: 1 for the verdict observed, 0 for the others.",
            "gauge",
        )?;
        for c in &self.certificates {
            let Some(verdict) = c.verdict else { continue };
            let disambiguation = disambiguation(c);
            let labels_of_series = observation_labels(&names, &c.labels);
            for v in VERDICTS {
                let label = labels(&[("verdict", v.as_str())]);
                let value = f64::from(u8::from(v == verdict));
                write_sample(out, name, &[&labels_of_series, &disambiguation, &label], value)?;
            }
        }
        for family in summary_families(report, &self.findings) {
            family.write(out)?;
        }
        Ok(())
    }
}

/// One scan's report as a file for node_exporter's textfile collector;
/// `tags`: the resource tags that become labels.
pub(crate) fn render(report: &Report, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    PrometheusSeries::new(tags).finish(report, out)
}

/// What `inspect serve` answers at `/metrics`: the last complete scan (with
/// the certificates remembered for endpoints that stopped answering), then
/// the health of scanning.
pub(crate) fn render_snapshot(snapshot: &Snapshot, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    if let Some(report) = &snapshot.report {
        let mut series = PrometheusSeries::new(tags);
        series.add_report(report, &snapshot.remembered);
        series.write(report, &mut out)?;
    }
    for family in health_families(&snapshot.health) {
        family.write(&mut out)?;
    }
    out.flush()
}

/// The families of totals: findings, results, bindings, sources, the scan.
fn summary_families(report: &Report, by_code_counts: &BTreeMap<(&'static str, Severity), usize>) -> Vec<Family> {
    let mut findings = Family::new("certinspect_findings", "Findings of the scan per severity.");
    for severity in Severity::ALL {
        let count: usize = by_code_counts.iter().filter(|((_, s), _)| *s == severity).map(|(_, n)| n).sum();
        findings = findings.one(&[("severity", severity.as_str())], count as f64);
    }
    let mut by_code = Family::new(
        "certinspect_findings_by_code",
        "Findings of the scan per code and severity (codes with none are absent).",
    );
    // Ordered by code, then severity name, as the file always was.
    let mut codes: Vec<(&str, &str, usize)> = by_code_counts.iter().map(|((c, s), n)| (*c, s.as_str(), *n)).collect();
    codes.sort_unstable();
    for (code, severity, n) in codes {
        by_code = by_code.one(&[("code", code), ("severity", severity)], n as f64);
    }

    let s = &report.summary;
    let mut results = Family::new("certinspect_results", "Observations (binding x address) per verdict.");
    for v in VERDICTS {
        results = results.one(&[("verdict", v.as_str())], s.verdicts.get(v.as_str()).copied().unwrap_or(0) as f64);
    }
    let mut bindings =
        Family::new("certinspect_bindings", "Bindings in the report, by kind: probed, not_probeable, inventory_only.");
    for (kind, n) in
        [("probed", s.probed_bindings), ("not_probeable", s.not_probeable), ("inventory_only", s.inventory_only)]
    {
        bindings = bindings.one(&[("kind", kind)], n as f64);
    }
    let source_errors =
        Family::new("certinspect_source_errors", "Sources or scopes that could not be listed completely.")
            .one(&[], report.source_errors.len() as f64);
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
        source_up = source_up.one(&[("plugin", plugin)], f64::from(u8::from(up)));
    }
    let timestamp =
        Family::new("certinspect_scan_timestamp_seconds", "When the scan's analysis clock read, UNIX seconds.")
            .one(&[], report.generated_at as f64);
    let schema_version = report.schema_version.to_string();
    let info =
        Family::new("certinspect_report_info", "The tool and report schema versions that wrote this file; always 1.")
            .one(&[("tool_version", &report.tool_version), ("schema_version", &schema_version)], 1.0);
    vec![findings, by_code, results, bindings, source_errors, source_up, timestamp, info]
}

/// How continuous scanning goes (only `inspect serve` has these).
fn health_families(health: &Health) -> Vec<Family> {
    vec![
        Family::new("certinspect_scan_success", "1 when the last scan attempted produced a report, else 0.")
            .one(&[], f64::from(u8::from(health.last_scan_succeeded))),
        Family::new("certinspect_scan_duration_seconds", "How long the last scan attempted took, seconds.")
            .one(&[], health.last_scan_duration.as_secs_f64()),
        Family::counter("certinspect_scans_total", "Scans attempted since the exporter started.")
            .one(&[], health.scans as f64),
        Family::counter(
            "certinspect_scan_failures_total",
            "Scans that produced no report (the configuration could not be used) since the exporter started.",
        )
        .one(&[], health.failed_scans as f64),
        Family::new(
            "certinspect_config_reload_success",
            "1 unless the last configuration reload (SIGHUP) failed; the previous configuration then stays in use.",
        )
        .one(&[], f64::from(u8::from(health.config_reload_ok))),
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

    #[test]
    fn kept_label_values_render_as_labels_do() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"].map(str::to_owned).to_vec();
        let values = ["q\"uote", "", "back\\slash\\", "line\nbreak \\\"", "plain"];
        let kept: String = values.iter().map(|v| format!("{}\"", escape_label_value(v))).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(values).collect();
        assert_eq!(observation_labels(&names, &kept), labels(&pairs));
    }
}
