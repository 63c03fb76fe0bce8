//! Joining what different services say about one certificate.
//!
//! A CDN domain knows only its certificate's name; an SLB listener knows a
//! CAS certificate id and a SHA-1 fingerprint; CAS knows serial numbers,
//! fingerprints, auto-renewal and revocation. Bindings that share a
//! cross-reference key (`Binding::xrefs`) describe the same certificate, so
//! the fields one lacks are filled from the others.
//!
//! A declared SHA-256 fingerprint is a key too (`sha256=<hex>`), implicit
//! in every binding that has one: the same certificate declared by two
//! services or two clouds (imported into AWS ACM and Alibaba CAS, say) is
//! linked whatever the providers' own ids. Nothing here knows a provider.
//!
//! Pure: bindings in, enriched bindings and issues out. An ambiguous key
//! (one key, several different certificates) is reported, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use certinspect_protocol::{normalize_serial, Binding, CrossRef, DeclaredCertificate, Tristate};
use serde::{Deserialize, Serialize};

/// What the join did for one binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinNote {
    /// The keys through which fields were filled in, e.g. `cas-certificate-id=123`.
    pub enriched_via: Vec<String>,
}

/// A problem the join found instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinIssue {
    /// Index of the binding that could not be joined.
    pub binding: usize,
    /// The key that was ambiguous.
    pub key: String,
    /// One line: what conflicts.
    pub message: String,
}

/// The result of [`join`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JoinOutcome {
    /// One note per binding, in input order.
    pub notes: Vec<JoinNote>,
    /// Ambiguous or conflicting keys.
    pub issues: Vec<JoinIssue>,
}

/// Fill in each binding's declared certificate from bindings of *other*
/// services that share a cross-reference key with it.
pub fn join(bindings: &mut [Binding]) -> JoinOutcome {
    let keys: Vec<Vec<CrossRef>> = bindings.iter().map(keys_of).collect();
    // key -> bindings under it that carry an identity (fingerprint or serial).
    let mut by_key: BTreeMap<&CrossRef, Vec<usize>> = BTreeMap::new();
    for (index, binding) in bindings.iter().enumerate() {
        if has_identity(&binding.declared) {
            for xref in &keys[index] {
                by_key.entry(xref).or_default().push(index);
            }
        }
    }

    let mut outcome = JoinOutcome { notes: vec![JoinNote::default(); bindings.len()], issues: Vec::new() };
    let mut fills: Vec<(usize, usize, String)> = Vec::new();
    for (index, binding) in bindings.iter().enumerate() {
        let own = &binding.declared;
        let mut used = BTreeSet::new();
        for xref in &keys[index] {
            let key = format!("{}={}", xref.kind, xref.value);
            let candidates: Vec<usize> = by_key
                .get(xref)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&c| c != index && bindings[c].location.service != binding.location.service)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            if has_identity(own) {
                let same: Vec<usize> =
                    candidates.iter().copied().filter(|&c| same_certificate(own, &bindings[c].declared)).collect();
                if same.is_empty() {
                    outcome.issues.push(JoinIssue {
                        binding: index,
                        key: key.clone(),
                        message: format!(
                            "{key} names a certificate whose fingerprint or serial differs from the one declared here"
                        ),
                    });
                }
                for source in same {
                    if used.insert(source) {
                        fills.push((index, source, key.clone()));
                    }
                }
            } else {
                let distinct = distinct_certificates(bindings, &candidates);
                if distinct.len() == 1 {
                    if used.insert(distinct[0]) {
                        fills.push((index, distinct[0], key));
                    }
                } else {
                    outcome.issues.push(JoinIssue {
                        binding: index,
                        key: key.clone(),
                        message: format!("{key} names {} different certificates; not joined", distinct.len()),
                    });
                }
            }
        }
    }
    for (target, source, key) in fills {
        let from = bindings[source].declared.clone();
        fill_missing(&mut bindings[target].declared, &from);
        if !outcome.notes[target].enriched_via.contains(&key) {
            outcome.notes[target].enriched_via.push(key);
        }
    }
    outcome
}

/// The binding's cross-reference keys, and its declared SHA-256 as one.
fn keys_of(binding: &Binding) -> Vec<CrossRef> {
    let mut keys = binding.xrefs.clone();
    if let Some(sha256) = binding.declared.fingerprint("sha256") {
        keys.push(CrossRef { kind: "sha256".into(), value: sha256.to_owned() });
    }
    keys
}

fn has_identity(declared: &DeclaredCertificate) -> bool {
    !declared.fingerprints.is_empty() || declared.serial.is_some()
}

/// Whether two declarations describe one certificate: they agree on the
/// strongest identifier both carry (SHA-256, then SHA-1, then serial).
fn same_certificate(a: &DeclaredCertificate, b: &DeclaredCertificate) -> bool {
    for algorithm in ["sha256", "sha1"] {
        if let (Some(x), Some(y)) = (a.fingerprint(algorithm), b.fingerprint(algorithm)) {
            return x == y;
        }
    }
    match (&a.serial, &b.serial) {
        (Some(x), Some(y)) => normalize_serial(x) == normalize_serial(y),
        _ => false,
    }
}

/// One representative binding per distinct certificate among `candidates`.
fn distinct_certificates(bindings: &[Binding], candidates: &[usize]) -> Vec<usize> {
    let mut representatives: Vec<usize> = Vec::new();
    for &candidate in candidates {
        let declared = &bindings[candidate].declared;
        if !representatives.iter().any(|&r| same_certificate(&bindings[r].declared, declared)) {
            representatives.push(candidate);
        }
    }
    representatives
}

fn fill_missing(target: &mut DeclaredCertificate, from: &DeclaredCertificate) {
    fn fill<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(value);
        }
    }
    fill(&mut target.provider_id, &from.provider_id);
    fill(&mut target.name, &from.name);
    fill(&mut target.common_name, &from.common_name);
    fill(&mut target.serial, &from.serial);
    fill(&mut target.issuer, &from.issuer);
    fill(&mut target.not_before, &from.not_before);
    fill(&mut target.not_after, &from.not_after);
    fill(&mut target.revocation, &from.revocation);
    if target.sans.is_empty() {
        target.sans.clone_from(&from.sans);
    }
    for fingerprint in &from.fingerprints {
        if target.fingerprint(&fingerprint.algorithm).is_none() {
            target.fingerprints.push(fingerprint.clone());
        }
    }
    if target.auto_managed == Tristate::Unknown {
        target.auto_managed = from.auto_managed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certinspect_protocol::{Fingerprint, Location};

    fn xref(kind: &str, value: &str) -> CrossRef {
        CrossRef { kind: kind.into(), value: value.into() }
    }

    fn cas(id: &str, name: &str, sha256: &str, serial: &str) -> Binding {
        let declared = DeclaredCertificate::default()
            .with_provider_id(id)
            .with_name(name)
            .with_serial(serial)
            .with_fingerprint("sha256", sha256)
            .with_auto_managed(Tristate::Yes);
        Binding::new(Location::new("cas", ""), declared)
            .with_xrefs([xref("cas-certificate-id", id), xref("cas-certificate-name", name)])
    }

    fn cdn(cert_name: &str) -> Binding {
        Binding::new(Location::new("cdn", ""), DeclaredCertificate::default().with_name(cert_name))
            .with_xrefs([xref("cas-certificate-name", cert_name)])
    }

    #[test]
    fn a_cdn_binding_gains_serial_fingerprint_and_auto_management_from_cas() {
        let mut bindings = vec![cdn("shop-cert"), cas("42", "shop-cert", "AB:CD", "00ff")];
        let outcome = join(&mut bindings);
        assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);
        assert_eq!(bindings[0].declared.serial.as_deref(), Some("00ff"));
        assert_eq!(bindings[0].declared.fingerprint("sha256"), Some("abcd"));
        assert_eq!(bindings[0].declared.auto_managed, Tristate::Yes);
        assert_eq!(outcome.notes[0].enriched_via, ["cas-certificate-name=shop-cert"]);
        assert!(outcome.notes[1].enriched_via.is_empty());
    }

    #[test]
    fn an_ambiguous_name_is_reported_not_guessed() {
        let mut bindings = vec![cdn("dup"), cas("1", "dup", "aa", "01"), cas("2", "dup", "bb", "02")];
        let outcome = join(&mut bindings);
        assert_eq!(bindings[0].declared.serial, None);
        assert_eq!(outcome.issues.len(), 1);
        assert_eq!(outcome.issues[0].binding, 0);
        assert!(outcome.issues[0].message.contains("names 2 different certificates"));
    }

    #[test]
    fn a_binding_that_declares_a_different_identity_under_a_shared_key_is_a_conflict() {
        let mut slb = cas("7", "x", "ff", "07");
        slb.location.service = "slb".into();
        slb.declared.fingerprints = vec![Fingerprint::new("sha256", "ee")];
        let mut bindings = vec![slb, cas("7", "x", "ff", "07")];
        let outcome = join(&mut bindings);
        assert!(outcome.issues.iter().any(|i| i.binding == 0 && i.key == "cas-certificate-id=7"));
        assert_eq!(bindings[0].declared.fingerprint("sha256"), Some("ee"));
    }

    #[test]
    fn an_slb_certificate_known_by_sha1_gains_sha256_and_auto_management_from_cas() {
        let mut slb =
            Binding::new(Location::new("slb", ""), DeclaredCertificate::default().with_fingerprint("sha1", "11:22"))
                .with_xrefs([xref("cas-certificate-id", "5")]);
        slb.declared.common_name = Some("lb.example".into());
        let mut from_cas = cas("5", "lb", "99", "05");
        from_cas.declared.fingerprints.push(Fingerprint::new("sha1", "1122"));
        let mut bindings = vec![slb, from_cas];
        let outcome = join(&mut bindings);
        assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);
        assert_eq!(bindings[0].declared.fingerprint("sha256"), Some("99"));
        assert_eq!(bindings[0].declared.auto_managed, Tristate::Yes);
        assert_eq!(bindings[0].declared.common_name.as_deref(), Some("lb.example"));
    }

    #[test]
    fn the_same_certificate_seen_twice_is_not_ambiguous() {
        let mut bindings = vec![cdn("c"), cas("9", "c", "aa", "09"), cas("9", "c", "aa", "09")];
        let outcome = join(&mut bindings);
        assert!(outcome.issues.is_empty());
        assert_eq!(bindings[0].declared.serial.as_deref(), Some("09"));
    }

    #[test]
    fn one_certificate_in_two_clouds_is_joined_by_its_fingerprint() {
        let sha256 = "ab".repeat(32);
        // Imported into AWS ACM: an ARN, the fingerprint, its dates; no
        // renewal or revocation knowledge.
        let mut declared = DeclaredCertificate::default()
            .with_provider_id("arn:aws:acm:us-east-1:1:certificate/x")
            .with_fingerprint("sha256", &sha256);
        declared.not_after = Some(2_000_000_000);
        let mut acm = Binding::new(Location::new("acm", ""), declared)
            .with_xref("aws-certificate-arn", "arn:aws:acm:us-east-1:1:certificate/x");
        acm.location.plugin = "aws".into();
        // The same certificate in Alibaba CAS, which knows it is auto-managed.
        let mut alibaba = cas("9", "shop", &sha256, "0a");
        alibaba.location.plugin = "alibaba-cas".into();
        let other = cas("10", "other", &"cd".repeat(32), "0b");
        let mut bindings = vec![acm, alibaba, other];
        let outcome = join(&mut bindings);
        assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);
        assert_eq!(outcome.notes[0].enriched_via, [format!("sha256={sha256}")]);
        assert_eq!(bindings[0].declared.auto_managed, Tristate::Yes);
        assert_eq!(bindings[0].declared.serial.as_deref(), Some("0a"));
        // What ACM knew stays: a join fills gaps, it never overwrites.
        assert_eq!(bindings[0].declared.provider_id.as_deref(), Some("arn:aws:acm:us-east-1:1:certificate/x"));
        assert_eq!(bindings[1].declared.not_after, Some(2_000_000_000), "CAS gains ACM's dates");
        assert!(outcome.notes[2].enriched_via.is_empty(), "a different fingerprint joins nothing");
    }
}
