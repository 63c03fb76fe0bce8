//! The report's totals, counted from the lists they summarise so they
//! always add up.

use std::collections::BTreeMap;

use crate::findings::Finding;
use crate::report::{BindingReport, Summary};

/// Totals over `reports` and `findings`.
pub(crate) fn summarize(
    reports: &[BindingReport],
    findings: &[Finding],
    endpoints: usize,
    source_errors: usize,
) -> Summary {
    let mut verdicts = BTreeMap::new();
    let mut summary = Summary { bindings: reports.len(), endpoints, source_errors, ..Summary::default() };
    for report in reports {
        let location = &report.binding.location;
        match (&location.endpoint, &location.not_probeable) {
            (Some(_), _) => summary.probed_bindings += 1,
            (None, Some(_)) => summary.not_probeable += 1,
            (None, None) => summary.inventory_only += 1,
        }
        for result in &report.results {
            summary.results += 1;
            *verdicts.entry(result.verdict.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    summary.verdicts = verdicts;
    for finding in findings {
        *summary.findings.entry(finding.severity.as_str().to_owned()).or_insert(0) += 1;
    }
    summary
}
