//! Rate limits per (account, API), so that a scan stays under Alibaba's
//! per-account QPS instead of discovering it through `Throttling.User`
//! errors: the QPS table (documented limits plus overrides) and the
//! [`budget`] each limited request names. The spacing itself is the host's
//! ([`certinspect_protocol::RateLimiter`]): one schedule per budget for the
//! whole run, so the CAS plugin's and the ALB plugin's `ListCloudResources`
//! calls of one account count together, as the gateway counts them.

use crate::endpoint::{ActionSpec, Product};
use certinspect_protocol::RateLimitKey;
use std::collections::HashMap;

/// Per-account QPS limits published by Alibaba (reference §3, §5, §7).
pub const DOCUMENTED_QPS: &[(Product, &str, f64)] = &[
    (Product::Cdn, "DescribeCdnHttpsDomainList", 100.0),
    (Product::Cdn, "DescribeDomainCertificateInfo", 100.0),
    (Product::Cdn, "DescribeCdnDomainByCertificate", 100.0),
    (Product::Cdn, "DescribeCdnCertificateList", 30.0),
    (Product::Cdn, "DescribeTagResources", 10.0),
    (Product::Dcdn, "DescribeDcdnHttpsDomainList", 100.0),
    (Product::Dcdn, "DescribeDcdnDomainCertificateInfo", 100.0),
    (Product::Dcdn, "DescribeDcdnTagResources", 10.0),
    (Product::Cas, "ListUserCertificateOrder", 10.0),
    (Product::Cas, "ListCert", 10.0),
    (Product::CasPca, "DescribeClientCertificateStatusForSerialNumber", 10.0),
    (Product::CasPca, "DescribeClientCertificateStatus", 10.0),
];

/// QPS per API: the documented table plus overrides. APIs in neither are unlimited.
#[derive(Debug, Clone)]
pub struct QpsTable {
    limits: HashMap<(Product, String), f64>,
}

impl Default for QpsTable {
    fn default() -> Self {
        Self::documented()
    }
}

impl QpsTable {
    /// The documented limits.
    pub fn documented() -> Self {
        let limits = DOCUMENTED_QPS.iter().map(|(p, a, q)| ((*p, a.to_string()), *q)).collect();
        QpsTable { limits }
    }

    /// No limits at all (every API unlimited unless set).
    pub fn unlimited() -> Self {
        QpsTable { limits: HashMap::new() }
    }

    /// Sets (or, with `None`, removes) the limit of one API. Non-positive or
    /// non-finite values remove the limit.
    pub fn set(&mut self, product: Product, action: &str, qps: Option<f64>) -> &mut Self {
        match qps.filter(|q| q.is_finite() && *q > 0.0) {
            Some(qps) => self.limits.insert((product, action.to_string()), qps),
            None => self.limits.remove(&(product, action.to_string())),
        };
        self
    }

    /// The limit for an API, if any.
    pub fn qps(&self, product: Product, action: &str) -> Option<f64> {
        self.limits.get(&(product, action.to_string())).copied()
    }
}

/// The host budget that `account_key_id` calling `spec` draws from, at
/// `qps`: Alibaba counts per account and API (the product's version and the
/// action), whichever source or plugin calls, so two sources of one key share
/// it. The key id enters only as a hash: the host may log the budget's name.
pub fn budget(account_key_id: &str, spec: &ActionSpec, qps: f64) -> RateLimitKey {
    let account = &alibaba_signing::v3::hex_sha256(account_key_id.as_bytes())[..16];
    let product = spec.product;
    RateLimitKey::new(format!("alibaba/{}/{}/{}/{account}", product.code(), product.api_version(), spec.action), qps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_name_account_and_api_and_hide_the_key_id() {
        let cas = ActionSpec::new(Product::Cas, "ListCloudResources");
        let a = budget("LTAI5tAccountA000000001", &cas, 10.0);
        assert_eq!(a.per_second, 10.0);
        assert!(a.key.starts_with("alibaba/cas/2020-04-07/ListCloudResources/"), "{}", a.key);
        assert!(!a.key.contains("LTAI5t"), "{}", a.key);
        let cases = [
            ("the same key id and API: one budget", budget("LTAI5tAccountA000000001", &cas, 5.0), true),
            ("another key id", budget("LTAI5tAccountB000000001", &cas, 10.0), false),
            (
                "another action",
                budget("LTAI5tAccountA000000001", &ActionSpec::new(Product::Cas, "ListCert"), 10.0),
                false,
            ),
            (
                "another product version (PCA shares CAS's host)",
                budget("LTAI5tAccountA000000001", &ActionSpec::new(Product::CasPca, "ListCloudResources"), 10.0),
                false,
            ),
        ];
        for (what, other, same) in cases {
            assert_eq!(other.key == a.key, same, "{what}: {} vs {}", other.key, a.key);
        }
    }

    #[test]
    fn overrides_replace_and_remove_limits() {
        let mut table = QpsTable::documented();
        table.set(Product::Cas, "ListUserCertificateOrder", Some(2.0));
        table.set(Product::Cdn, "DescribeCdnHttpsDomainList", None);
        table.set(Product::Slb, "DescribeServerCertificates", Some(5.0));
        assert_eq!(table.qps(Product::Cas, "ListUserCertificateOrder"), Some(2.0));
        assert_eq!(table.qps(Product::Cdn, "DescribeCdnHttpsDomainList"), None);
        assert_eq!(table.qps(Product::Slb, "DescribeServerCertificates"), Some(5.0));
        assert_eq!(QpsTable::unlimited().qps(Product::Cas, "ListUserCertificateOrder"), None);
    }
}
