//! Splitting one inventory across processes and putting the parts back
//! together: `inspect scan --from-inventory FILE --shard I/N` and
//! `inspect report merge`.
//!
//! A binding's shard is a stable hash of its endpoint (host, port, SNI),
//! so bindings probed together always land together, every process agrees
//! without talking to the others, and a retried shard redoes the same
//! slice. Every shard sees the whole inventory (so verdicts that compare a
//! binding with other declarations read as in one run) but verifies only
//! its slice; its report says which inventory bindings it covers
//! ([`ShardPart`]), and [`merge`] rebuilds the one-run report from the parts.
//!
//! Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use certinspect_protocol::Binding;
use sha2::{Digest, Sha256};

use crate::collect::CollectError;
use crate::report::{number_chains, BindingReport, Report, ShardPart, REPORT_SCHEMA_VERSION};
use crate::verify::sort_findings;
use crate::verify::summary::summarize;

/// One slice of an inventory: shard `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// How many shards there are.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Self { index, count })
    }

    /// Whether `binding` belongs to this shard.
    pub fn selects(&self, binding: &Binding) -> bool {
        shard_of(binding, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`: shard I (from 0, as Kubernetes' `JOB_COMPLETION_INDEX` and AWS
    /// Batch's `AWS_BATCH_JOB_ARRAY_INDEX` count) of N.
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("'{text}': expected I/N, shard I of N counting from 0 (0/4 .. 3/4)");
        let (index, count) = text.split_once('/').ok_or_else(expected)?;
        let index: u32 = index.trim().parse().map_err(|_| expected())?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        Shard::new(index, count).ok_or_else(expected)
    }
}

/// The shard of `binding` among `count`: the first 8 bytes of the SHA-256
/// of its endpoint (lower-case host, port, lower-case SNI), modulo `count`.
/// A binding without an endpoint hashes its provider, service and resource.
pub fn shard_of(binding: &Binding, count: u32) -> u32 {
    let location = &binding.location;
    let key = match &location.endpoint {
        Some(endpoint) => format!(
            "endpoint\0{}\0{}\0{}",
            endpoint.host.to_ascii_lowercase(),
            endpoint.port,
            endpoint.sni.as_deref().unwrap_or("").to_ascii_lowercase()
        ),
        None => format!("resource\0{}\0{}\0{}", location.plugin, location.service, location.resource_id),
    };
    let digest = Sha256::digest(key.as_bytes());
    let prefix = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (prefix % u64::from(count.max(1))) as u32
}

/// The id of an inventory: the SHA-256 (hex, first 32 digits) of its
/// bindings in order and its source errors, as JSON. Deterministic: the
/// same listing gives the same id on any machine, and the order is in it
/// because a report numbers bindings in inventory order.
pub fn inventory_id(bindings: &[Binding], source_errors: &[CollectError]) -> String {
    let mut hasher = Sha256::new();
    for binding in bindings {
        hasher.update(serde_json::to_vec(binding).expect("bindings serialize"));
        hasher.update(b"\n");
    }
    hasher.update(b"source-errors\n");
    for error in source_errors {
        hasher.update(serde_json::to_vec(error).expect("errors serialize"));
        hasher.update(b"\n");
    }
    hex(&hasher.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why shard reports cannot be merged into one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no part reports given")]
    NoParts,
    /// A part is not a shard report.
    #[error("part {part} is not a shard report (it was not written by `inspect scan --shard`)")]
    NotAShard {
        /// Position of the part among those given, from 1.
        part: usize,
    },
    /// Parts come from different inventories or splits.
    #[error("part {part} is {what}, the first part {expected}; all parts must come from one inventory split one way")]
    Mismatch {
        /// Position of the part among those given, from 1.
        part: usize,
        /// What this part says.
        what: String,
        /// What the first part says.
        expected: String,
    },
    /// Two parts cover the same shard.
    #[error("shard {shard} is given twice (parts {first} and {second})")]
    Duplicate {
        /// The shard index.
        shard: u32,
        /// Positions of the parts, from 1.
        first: usize,
        /// Positions of the parts, from 1.
        second: usize,
    },
    /// Shards are missing.
    #[error("shards {} of {count} are missing", .missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    Missing {
        /// The missing indexes.
        missing: Vec<u32>,
        /// How many shards there are.
        count: u32,
    },
    /// The parts together do not hold every inventory binding.
    #[error("inventory binding {index} is in no part: the parts do not cover the inventory")]
    Uncovered {
        /// The first binding no part holds.
        index: usize,
    },
    /// A part was written with another report schema than this version's.
    #[error("part {part} has report schema version {version}; merging needs parts of version {REPORT_SCHEMA_VERSION}, written by this version of inspect (run the shards again)")]
    Version {
        /// Position of the part among those given, from 1.
        part: usize,
        /// Its schema version.
        version: u32,
    },
    /// A part does not hold what it says it holds (truncated or edited).
    #[error("part {part} is damaged: {why}")]
    Damaged {
        /// Position of the part among those given, from 1.
        part: usize,
        /// What does not add up.
        why: String,
    },
}

/// The report one run over the whole inventory would have written, from
/// the reports of all its shards (in any order). Timings and the clock
/// are the parts' own; `generated_at` is the earliest part's.
pub fn merge(parts: Vec<Report>) -> Result<Report, MergeError> {
    let first = parts.first().ok_or(MergeError::NoParts)?;
    let first_shard = first.shard.as_ref().ok_or(MergeError::NotAShard { part: 1 })?;
    let (count, total) = (first_shard.count, first_shard.inventory_bindings);
    let identity = |report: &Report, shard: &ShardPart| {
        let trust = report.trust_store.as_ref().map(|t| serde_json::to_string(t).unwrap_or_default());
        format!(
            "from inventory {} ({} bindings) in {} shards, schema {}, trust store {}",
            report.inventory_id.as_deref().unwrap_or("(none)"),
            shard.inventory_bindings,
            shard.count,
            report.schema_version,
            trust.as_deref().unwrap_or("(not said)")
        )
    };
    // Parts of an older schema lack what this version writes (the served
    // leaf's names, the trust store): merged, they would read as a report
    // of this version that is missing fields. Such parts are re-run.
    if first.schema_version != REPORT_SCHEMA_VERSION {
        return Err(MergeError::Version { part: 1, version: first.schema_version });
    }
    let expected = identity(first, first_shard);
    let mut seen: Vec<Option<usize>> = vec![None; count as usize];
    for (position, part) in parts.iter().enumerate().map(|(i, p)| (i + 1, p)) {
        let shard = part.shard.as_ref().ok_or(MergeError::NotAShard { part: position })?;
        let what = identity(part, shard);
        if what != expected {
            return Err(MergeError::Mismatch { part: position, what, expected });
        }
        let slot = seen.get_mut(shard.index as usize).ok_or_else(|| MergeError::Damaged {
            part: position,
            why: format!("shard {} of {count} does not exist", shard.index),
        })?;
        if let Some(earlier) = slot.replace(position) {
            return Err(MergeError::Duplicate { shard: shard.index, first: earlier, second: position });
        }
        if shard.binding_indexes.len() != part.bindings.len() {
            let why = format!("it lists {} bindings but holds {}", shard.binding_indexes.len(), part.bindings.len());
            return Err(MergeError::Damaged { part: position, why });
        }
    }
    let missing: Vec<u32> = (0..count).filter(|&i| seen[i as usize].is_none()).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }

    let mut slots: Vec<Option<BindingReport>> = vec![None; total];
    let mut findings = Vec::new();
    let mut merged = first.clone();
    merged.source_errors.clear();
    merged.source_stats.clear();
    let mut endpoints = 0;
    let mut chains = Vec::new();
    for (position, part) in parts.into_iter().enumerate().map(|(i, p)| (i + 1, p)) {
        let shard = part.shard.expect("checked above");
        let damaged = |why: String| MergeError::Damaged { part: position, why };
        // The part's chains go after those of the parts before it.
        let offset = chains.len();
        let part_chains = part.chains.len();
        chains.extend(part.chains);
        for (mut binding, &index) in part.bindings.into_iter().zip(&shard.binding_indexes) {
            for chain in binding.results.iter_mut().filter_map(|r| r.chain.as_mut()) {
                if *chain >= part_chains {
                    return Err(damaged(format!("a result names chain {chain}, beyond the part's chains")));
                }
                *chain += offset;
            }
            let slot = slots.get_mut(index).ok_or_else(|| damaged(format!("binding index {index} is out of range")))?;
            if slot.replace(binding).is_some() {
                return Err(damaged(format!("binding {index} is also in another part")));
            }
        }
        for mut finding in part.findings {
            if let Some(local) = finding.binding {
                let global = shard
                    .binding_indexes
                    .get(local)
                    .ok_or_else(|| damaged(format!("a finding names binding {local}, beyond the part's bindings")))?;
                finding.binding = Some(*global);
            }
            findings.push(finding);
        }
        endpoints += part.summary.endpoints;
        merged.generated_at = merged.generated_at.min(part.generated_at);
        merged.source_errors.extend(part.source_errors);
        merged.source_stats.extend(part.source_stats);
    }
    let bindings: Vec<BindingReport> = slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| slot.ok_or(MergeError::Uncovered { index }))
        .collect::<Result<_, _>>()?;
    sort_findings(&mut findings);
    let mut bindings = bindings;
    merged.chains = number_chains(&mut bindings, chains);
    merged.summary = summarize(&bindings, &findings, endpoints, merged.source_errors.len());
    merged.bindings = bindings;
    merged.findings = findings;
    merged.shard = None;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::bare_endpoint;

    #[test]
    fn shard_specs_parse_and_refuse_with_the_expectation() {
        assert_eq!("0/4".parse::<Shard>(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!("3/4".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
        for bad in ["4/4", "1/0", "-1/4", "a/4", "1", "1/4/5", ""] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("expected I/N"), "{bad}: {error}");
        }
    }

    #[test]
    fn every_binding_is_in_exactly_one_shard_and_the_split_is_stable() {
        let bindings: Vec<Binding> =
            (0..400).map(|i| bare_endpoint(&format!("host{i}.test"), 443, Some(format!("host{i}.test")))).collect();
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut sizes = [0; 4];
        for binding in &bindings {
            let owners: Vec<u32> = shards.iter().filter(|s| s.selects(binding)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 60), "roughly even: {sizes:?}");
        // Stable across releases: pinned values (a change re-slices every running fleet).
        assert_eq!(
            shard_of(&bare_endpoint("a.test", 443, Some("a.test".into())), 1000),
            shard_of(&bare_endpoint("A.TEST", 443, Some("A.test".into())), 1000)
        );
        let pinned: Vec<u32> = (0..6).map(|i| shard_of(&bindings[i], 4)).collect();
        assert_eq!(pinned, PINNED_SHARDS);
    }

    // Computed independently: Python `int.from_bytes(sha256(key)[:8], "big") % 4`.
    const PINNED_SHARDS: [u32; 6] = [2, 1, 3, 1, 1, 1];

    #[test]
    fn inventory_ids_follow_content_and_order() {
        let a = bare_endpoint("a.test", 443, None);
        let b = bare_endpoint("b.test", 443, None);
        let id = inventory_id(&[a.clone(), b.clone()], &[]);
        assert_eq!(id.len(), 32);
        assert_eq!(id, inventory_id(&[a.clone(), b.clone()], &[]));
        assert_ne!(id, inventory_id(&[b.clone(), a.clone()], &[]));
        assert_ne!(id, inventory_id(&[a], &[]));
    }
}
