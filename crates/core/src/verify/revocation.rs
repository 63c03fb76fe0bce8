//! Revocation answers from the sources that offer `revocation-lookup`.
//!
//! I/O through the plugins: the served leaves' serials are asked about in
//! batches, each serial once per run.

use std::collections::HashMap;
use std::sync::Arc;

use certinspect_analysis::ChainAnalysis;
use certinspect_protocol::{normalize_serial, RevocationState, RevocationStatus};

use crate::plugins::OpenedSource;

/// Ask every revocation-capable source about the served leaves' serials not
/// asked about yet. A revoked answer from any source wins over good/unknown.
pub(crate) fn lookup_revocations(
    analyses: &[&ChainAnalysis],
    sources: &[Arc<OpenedSource>],
    batch: usize,
    statuses: &mut HashMap<String, RevocationStatus>,
) {
    if sources.is_empty() {
        return;
    }
    let mut serials: Vec<String> = analyses
        .iter()
        .filter_map(|a| a.certificates.first().and_then(|c| c.facts()).map(|f| f.serial_hex.clone()))
        .filter(|serial| !statuses.contains_key(&normalize_serial(serial)))
        .collect();
    serials.sort();
    serials.dedup();
    for source in sources {
        for chunk in serials.chunks(batch.max(1)) {
            match source.lookup_revocation(chunk) {
                Ok(answers) => {
                    for mut answer in answers {
                        answer.source.get_or_insert_with(|| source.plugin().to_owned());
                        merge(statuses, answer);
                    }
                }
                Err(e) => tracing::warn!(plugin = source.plugin(), error = %e, "revocation lookup failed"),
            }
        }
    }
}

/// Keep the strongest answer per serial: revoked beats good beats unknown.
fn merge(statuses: &mut HashMap<String, RevocationStatus>, answer: RevocationStatus) {
    let key = normalize_serial(&answer.serial);
    let replace = statuses
        .get(&key)
        .is_none_or(|old| old.status != RevocationState::Revoked && answer.status != RevocationState::Unknown);
    if replace {
        statuses.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(serial: &str, status: RevocationState, source: &str) -> RevocationStatus {
        RevocationStatus { serial: serial.into(), status, revoked_at: None, source: Some(source.into()) }
    }

    #[test]
    fn the_strongest_answer_wins_whatever_the_order() {
        use RevocationState::*;
        let cases = [
            (vec![Good, Revoked], Revoked),
            (vec![Revoked, Good], Revoked),
            (vec![Unknown, Good], Good),
            (vec![Good, Unknown], Good),
            (vec![Revoked, Unknown], Revoked),
        ];
        for (answers, expected) in cases {
            let mut statuses = HashMap::new();
            for (i, status) in answers.iter().enumerate() {
                merge(&mut statuses, answer("0A", *status, &format!("source-{i}")));
            }
            assert_eq!(statuses[&normalize_serial("0a")].status, expected, "{answers:?}");
        }
    }
}
