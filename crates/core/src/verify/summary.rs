//! The report's totals, counted as results and findings are made, so they
//! add up whether the results are kept in the report or only streamed.

use std::collections::BTreeMap;

use crate::findings::Finding;
use crate::report::{BindingReport, ObservationResult, Summary};

/// Running totals of a verification run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    results: usize,
    verdicts: BTreeMap<String, usize>,
    findings: BTreeMap<String, usize>,
}

impl Tally {
    /// Count one result.
    pub fn result(&mut self, result: &ObservationResult) {
        self.results += 1;
        *self.verdicts.entry(result.verdict.as_str().to_owned()).or_insert(0) += 1;
    }

    /// Count findings.
    pub fn findings<'a>(&mut self, findings: impl IntoIterator<Item = &'a Finding>) {
        for finding in findings {
            *self.findings.entry(finding.severity.as_str().to_owned()).or_insert(0) += 1;
        }
    }

    /// The totals, with the bindings of `reports` counted by kind.
    pub fn summarize(self, reports: &[BindingReport], endpoints: usize, source_errors: usize) -> Summary {
        let mut summary = Summary {
            bindings: reports.len(),
            endpoints,
            source_errors,
            results: self.results,
            verdicts: self.verdicts,
            findings: self.findings,
            ..Summary::default()
        };
        for report in reports {
            let location = &report.binding.location;
            match (&location.endpoint, &location.not_probeable) {
                (Some(_), _) => summary.probed_bindings += 1,
                (None, Some(_)) => summary.not_probeable += 1,
                (None, None) => summary.inventory_only += 1,
            }
        }
        summary
    }
}

/// The totals of a report whose results are all kept (a merge of shard
/// reports recounts them this way).
pub(crate) fn summarize(
    reports: &[BindingReport],
    findings: &[Finding],
    endpoints: usize,
    source_errors: usize,
) -> Summary {
    let mut tally = Tally::default();
    reports.iter().flat_map(|report| &report.results).for_each(|result| tally.result(result));
    tally.findings(findings);
    tally.summarize(reports, endpoints, source_errors)
}
