//! The report's totals, counted as results and findings are made, so they
//! add up whether the results are kept in the report or only streamed.

use std::collections::BTreeMap;

use certinspect_protocol::Location;

use crate::findings::Finding;
use crate::report::{BindingReport, ObservationResult, Summary};

/// Running totals of a verification run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// `probed_bindings`, `not_probeable`, `inventory_only`.
    kinds: [usize; 3],
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

    /// Count one binding, by kind.
    pub fn binding(&mut self, location: &Location) {
        let kind = match (&location.endpoint, &location.not_probeable) {
            (Some(_), _) => 0,
            (None, Some(_)) => 1,
            (None, None) => 2,
        };
        self.kinds[kind] += 1;
    }

    /// The totals.
    pub fn summarize(self, endpoints: usize, source_errors: usize) -> Summary {
        let [probed_bindings, not_probeable, inventory_only] = self.kinds;
        Summary {
            bindings: probed_bindings + not_probeable + inventory_only,
            probed_bindings,
            not_probeable,
            inventory_only,
            endpoints,
            source_errors,
            results: self.results,
            verdicts: self.verdicts,
            findings: self.findings,
        }
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
    for report in reports {
        tally.binding(&report.binding.location);
        report.results.iter().for_each(|result| tally.result(result));
    }
    tally.findings(findings);
    tally.summarize(endpoints, source_errors)
}
