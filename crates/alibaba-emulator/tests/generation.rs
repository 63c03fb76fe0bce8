//! Generated worlds: real certificates whose DER matches every declared fact, drift
//! planted as the manifest says, any size.

use std::collections::{BTreeSet, HashMap};

use alibaba_emulator::generate::{colon_hex, generate, GenerateOptions, DRIFT_KINDS};
use alibaba_emulator::world::{CertMaterial, World};
use x509_parser::prelude::*;

fn pem_chain(path: &std::path::Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).unwrap();
    x509_parser::pem::Pem::iter_from_buffer(&text).map(|p| p.unwrap().contents).collect()
}

fn sha(alg: &'static ring::digest::Algorithm, der: &[u8]) -> String {
    hex::encode(ring::digest::digest(alg, der))
}

fn check_material(m: &CertMaterial) {
    let chain = pem_chain(&m.chain_pem);
    assert_eq!(chain.len(), 2, "leaf + CA in {}", m.chain_pem.display());
    let der = &chain[0];
    assert_eq!(sha(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der), m.sha1, "{}", m.id);
    assert_eq!(sha(&ring::digest::SHA256, der), m.sha256);
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    assert_eq!(hex::encode(cert.raw_serial()), m.serial);
    let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap();
    assert_eq!(cn, m.common_name);
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|g| match g {
            GeneralName::DNSName(d) => d.to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    assert_eq!(sans, m.sans);
    let nb = ::time::OffsetDateTime::parse(&m.not_before, &::time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(cert.validity().not_before.timestamp(), nb.unix_timestamp());
    let issuer = cert.issuer().iter_common_name().next().unwrap().as_str().unwrap();
    assert_eq!(issuer, m.issuer);
    // The CA in the chain signed the leaf, and the key file is the leaf's key.
    let (_, ca) = X509Certificate::from_der(&chain[1]).unwrap();
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        ca.public_key().subject_public_key.data.as_ref(),
    )
    .verify(cert.tbs_certificate.as_ref(), cert.signature_value.data.as_ref())
    .expect("the CA signed the leaf");
    let key_pem = std::fs::read_to_string(&m.key_pem).unwrap();
    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    assert_eq!(key.public_key_raw(), cert.public_key().subject_public_key.data.as_ref());
}

#[test]
fn every_declared_fact_matches_the_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&GenerateOptions {
        domains: 45,
        out_dir: dir.path().to_path_buf(),
        drift: true,
        seed: 3,
        ..GenerateOptions::default()
    })
    .unwrap();
    let w = &g.world;
    assert_eq!(g.certificates, w.materials.len());
    for m in &w.materials {
        check_material(m);
    }
    let by_id: HashMap<&str, &CertMaterial> = w.materials.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut cdn = 0;
    let mut slb = 0;
    let mut cas = 0;
    for a in &w.accounts {
        for d in &a.cdn_domains {
            let m = by_id[d.material.as_deref().unwrap()];
            assert_eq!(d.cert_common_name, m.common_name);
            assert_eq!(d.cert_expire_time.len(), 19);
            cdn += 1;
        }
        for r in &a.slb {
            assert!(w.regions.iter().any(|x| x.region_id == r.region_id));
            for c in &r.server_certificates {
                let m = by_id[c.material.as_deref().unwrap()];
                assert_eq!(c.fingerprint, colon_hex(&m.sha1));
                assert_eq!(c.common_name, m.common_name);
                assert_eq!(c.expire_time_stamp % 1000, 0);
                slb += 1;
            }
            for lb in &r.load_balancers {
                assert!(lb.address.starts_with("127."), "loopback only");
                for l in lb.listeners.iter().filter(|l| l.protocol == "https") {
                    let id = l.server_certificate_id.as_deref().unwrap();
                    assert!(r.server_certificates.iter().any(|c| c.server_certificate_id == id));
                    for e in &l.domain_extensions {
                        assert!(r
                            .server_certificates
                            .iter()
                            .any(|c| c.server_certificate_id == e.server_certificate_id));
                    }
                }
            }
        }
        for c in &a.cas.certificates {
            let m = by_id[c.material.as_deref().unwrap()];
            assert_eq!(c.fingerprint, m.sha1.to_uppercase());
            assert_eq!(c.sha2, m.sha256.to_uppercase());
            assert_eq!(c.serial_no, m.serial);
            assert_eq!(c.cert_identifier, format!("{}-cn-hangzhou", c.certificate_id));
            cas += 1;
        }
        for d in &a.cas.deployments {
            assert!(a.cas.certificates.iter().any(|c| c.certificate_id == d.cert_id));
        }
    }
    assert!(cdn > 5 && slb > 5 && cas > 10, "{cdn} {slb} {cas}");
    assert!(w.accounts.len() == 2 && w.accounts.iter().all(|a| !a.cdn_domains.is_empty()));

    // Drift: exactly the planted kinds, each consistent with what endpoints serve.
    let kinds: BTreeSet<&str> = w.manifest.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, DRIFT_KINDS.iter().copied().collect());
    let endpoints = w.endpoints();
    for d in &w.manifest {
        // The SNI entry when the name is an SLB extension (or a CDN domain), else the
        // listener's default certificate.
        let ep = endpoints
            .iter()
            .find(|e| e.resource == d.resource && e.sni.as_deref() == Some(d.sni.as_str()))
            .or_else(|| endpoints.iter().find(|e| e.resource == d.resource && e.sni.is_none()))
            .unwrap_or_else(|| panic!("endpoint for {d:?}"));
        let declared = by_id[d.declared_material.as_str()];
        let served = by_id[d.served_material.as_str()];
        match d.kind.as_str() {
            "stale" => {
                assert_ne!(declared.serial, served.serial);
                assert_eq!(declared.common_name, served.common_name);
                assert!(served.not_before < declared.not_before);
            }
            "foreign" => assert_ne!(declared.common_name, served.common_name),
            "expired" => {
                assert_eq!(declared.id, served.id);
                assert!(
                    declared.not_after
                        < ::time::OffsetDateTime::now_utc()
                            .format(&::time::format_description::well_known::Rfc3339)
                            .unwrap()
                );
            }
            "wrong_name" => {
                assert!(!declared.sans.contains(&d.sni));
                let a = w.accounts.iter().find(|a| a.id == d.account_id).unwrap();
                assert_eq!(a.cdn_domains.iter().find(|x| x.domain_name == d.sni).unwrap().cert_status, "mismatch");
            }
            "revoked" => {
                let a = w.accounts.iter().find(|a| a.id == d.account_id).unwrap();
                let p = a.pca.iter().find(|p| p.serial_number == declared.serial).unwrap();
                assert_eq!(p.status, "revoked");
                assert!(p.revoke_time.is_some());
            }
            "auto_managed_not_deployed" => {
                let a = w.accounts.iter().find(|a| a.id == d.account_id).unwrap();
                let (old, new) = (d.cas_certificate_ids[0], d.cas_certificate_ids[1]);
                let order = a.cas.orders.iter().find(|o| o.certificate_id == Some(new)).unwrap();
                assert!(order.trustee && order.auto_reissue);
                assert!(a.cas.deployments.iter().any(|x| x.cert_id == old));
                assert!(!a.cas.deployments.iter().any(|x| x.cert_id == new));
            }
            other => panic!("unknown kind {other}"),
        }
        if d.kind != "stale" && d.kind != "foreign" {
            assert_eq!(declared.id, served.id, "{}", d.kind);
        }
        assert_eq!(ep.serves.material, d.served_material, "{}", d.kind);
    }

    // The file on disk loads back to the same world with absolute paths.
    let loaded = World::load(&g.world_path).unwrap();
    assert_eq!(loaded.materials.len(), w.materials.len());
    assert!(loaded.materials[0].chain_pem.is_absolute());
    assert_eq!(loaded.ca_pem.as_deref(), Some(g.ca_pem.as_path()));
    let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&g.world_path).unwrap()).unwrap();
    assert!(raw["materials"][0]["chain_pem"].as_str().unwrap().starts_with("certs/"), "relative on disk");
}

#[test]
fn tiny_and_driftless_worlds() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&GenerateOptions {
        domains: 1,
        out_dir: dir.path().to_path_buf(),
        accounts: 1,
        regions: vec!["cn-zhangjiakou".into()],
        ..GenerateOptions::default()
    })
    .unwrap();
    assert_eq!(g.world.accounts.len(), 1);
    assert!(g.world.manifest.is_empty());
    assert_eq!(g.world.endpoints().len(), 1);
    for m in &g.world.materials {
        check_material(m);
    }
    let dir2 = tempfile::tempdir().unwrap();
    let g = generate(&GenerateOptions {
        domains: 3,
        out_dir: dir2.path().to_path_buf(),
        drift: true,
        ..GenerateOptions::default()
    })
    .unwrap();
    assert_eq!(g.world.manifest.len(), 3, "only as many drift cases as domains");
}

#[test]
fn same_seed_same_structure() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = |d: &std::path::Path| GenerateOptions {
        domains: 20,
        out_dir: d.to_path_buf(),
        drift: true,
        seed: 11,
        now: ::time::macros::datetime!(2026-03-01 00:00:00 UTC),
        ..GenerateOptions::default()
    };
    let a = generate(&opts(d1.path())).unwrap().world;
    let b = generate(&opts(d2.path())).unwrap().world;
    let serials = |w: &World| w.materials.iter().map(|m| m.serial.clone()).collect::<Vec<_>>();
    assert_eq!(serials(&a), serials(&b));
    assert_eq!(a.accounts[0].access_keys, b.accounts[0].access_keys);
    assert_eq!(
        a.manifest.iter().map(|m| &m.resource).collect::<Vec<_>>(),
        b.manifest.iter().map(|m| &m.resource).collect::<Vec<_>>()
    );
}

#[test]
fn the_alb_option_plants_a_stale_sni_certificate_on_a_named_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&GenerateOptions {
        domains: 6,
        out_dir: dir.path().to_path_buf(),
        alb: true,
        ..GenerateOptions::default()
    })
    .unwrap();
    let w = &g.world;
    let drift = w.manifest.iter().find(|d| d.service == "alb").expect("the ALB drift is in the manifest");
    assert_eq!(drift.kind, "stale");
    let lb = &w.accounts[0].alb[0].load_balancers[0];
    assert_eq!(lb.load_balancer_id, drift.resource);
    let endpoints: Vec<_> = w.endpoints().into_iter().filter(|e| e.service == "alb").collect();
    assert_eq!(endpoints.len(), 2, "default and SNI certificate");
    for endpoint in &endpoints {
        assert_eq!(endpoint.host_name.as_deref(), Some(lb.dns_name.as_str()));
    }
    let sni = endpoints.iter().find(|e| e.sni.as_deref() == Some(drift.sni.as_str())).unwrap();
    assert_eq!(sni.serves.material, drift.served_material);
    let declared = w.material(&drift.declared_material).unwrap();
    let served = w.material(&drift.served_material).unwrap();
    assert_eq!((declared.common_name.as_str(), &declared.sans), (served.common_name.as_str(), &served.sans));
    assert!(served.not_before < declared.not_before, "the served one is the older certificate");
    // CAS lists both deployments: the default certificate's (DefaultResource 1) and the SNI one's.
    let deployments: Vec<_> = w.accounts[0].cas.deployments.iter().filter(|d| d.cloud_product == "ALB").collect();
    assert_eq!(deployments.iter().map(|d| d.default_resource).collect::<Vec<_>>(), [1, 0]);
    let deployment = deployments[1];
    assert_eq!((deployment.domain.as_str(), deployment.cert_id), (drift.sni.as_str(), drift.cas_certificate_ids[0]));
    // Without the option nothing changes.
    let plain =
        generate(&GenerateOptions { domains: 6, out_dir: dir.path().join("plain"), ..GenerateOptions::default() })
            .unwrap();
    assert!(plain.world.accounts.iter().all(|a| a.alb.is_empty()));
}
