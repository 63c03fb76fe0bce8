//! Products, API versions and endpoint resolution (the SDK endpoint rules of
//! reference §2), plus the `ActionSpec` naming one API operation.

use crate::error::Error;

/// An Alibaba Cloud product (and API version) this client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Product {
    /// CDN, API 2018-05-10 (central endpoint, international map).
    Cdn,
    /// SLB / CLB, API 2014-05-15 (regional).
    Slb,
    /// SSL Certificates Service, API 2020-04-07 (regional with map).
    Cas,
    /// CAS private CA, API 2020-06-30 (same host as [`Product::Cas`]).
    CasPca,
    /// STS, API 2015-04-01 (used for `AssumeRole`).
    Sts,
    /// Application Load Balancer, API 2020-06-16 (regional: `alb.<region>.aliyuncs.com`).
    Alb,
    /// Network Load Balancer, API 2022-04-30 (regional: `nlb.<region>.aliyuncs.com`).
    Nlb,
    /// DCDN (Dynamic Route for CDN / Edge Security Acceleration), API 2018-01-15 (central).
    Dcdn,
}

impl Product {
    /// The `Version` / `x-acs-version` value.
    pub fn api_version(self) -> &'static str {
        match self {
            Product::Cdn => "2018-05-10",
            Product::Slb => "2014-05-15",
            Product::Cas => "2020-04-07",
            Product::CasPca => "2020-06-30",
            Product::Sts => "2015-04-01",
            Product::Alb => "2020-06-16",
            Product::Nlb => "2022-04-30",
            Product::Dcdn => "2018-01-15",
        }
    }

    /// The product code used in host names.
    pub fn code(self) -> &'static str {
        match self {
            Product::Cdn => "cdn",
            Product::Slb => "slb",
            Product::Cas | Product::CasPca => "cas",
            Product::Sts => "sts",
            Product::Alb => "alb",
            Product::Nlb => "nlb",
            Product::Dcdn => "dcdn",
        }
    }

    /// Whether the endpoint depends on the region (and so needs one).
    pub fn is_regional(self) -> bool {
        matches!(self, Product::Slb | Product::Cas | Product::CasPca | Product::Alb | Product::Nlb)
    }
}

/// One API operation: product (and so version and endpoint rule) plus action name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionSpec {
    /// The product.
    pub product: Product,
    /// The action, e.g. `ListUserCertificateOrder`.
    pub action: &'static str,
}

impl ActionSpec {
    /// Names an operation.
    pub const fn new(product: Product, action: &'static str) -> Self {
        ActionSpec { product, action }
    }
}

/// Regions the CDN SDK sends to the international-site endpoint.
const CDN_INTERNATIONAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "eu-central-1",
    "eu-west-1",
    "me-east-1",
    "us-east-1",
    "us-west-1",
];

/// Regions the SLB SDK sends to the central `slb.aliyuncs.com`. The
/// finance/government entries are the ones named in the SDK's map that the
/// reference groups as "finance/gov/internal regions".
const SLB_CENTRAL_REGIONS: &[&str] = &[
    "cn-qingdao",
    "cn-beijing",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-shenzhen",
    "cn-hongkong",
    "ap-southeast-1",
    "us-east-1",
    "us-west-1",
    "cn-hangzhou-finance",
    "cn-shanghai-finance-1",
    "cn-shenzhen-finance-1",
    "cn-north-2-gov-1",
];

/// Non-`cn-` regions the CAS SDK sends to the central `cas.aliyuncs.com`.
const CAS_CENTRAL_NON_CN_REGIONS: &[&str] =
    &["ap-southeast-3", "ap-southeast-5", "us-east-1", "us-west-1", "eu-west-1"];

/// The host name for `product` in `region_id`, by the SDK's rules.
/// Regional products without a region are an error ("RegionId is empty").
pub fn resolve_endpoint(product: Product, region_id: Option<&str>) -> Result<String, Error> {
    let region = region_id.map(str::trim).filter(|r| !r.is_empty());
    if let Some(region) = region {
        // A region goes into a host name: refuse anything that could change the host.
        if !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(Error::Config(format!("invalid RegionId {region:?}")));
        }
    }
    let host = match product {
        Product::Cdn => match region {
            Some(r) if CDN_INTERNATIONAL_REGIONS.contains(&r) => "cdn.ap-southeast-1.aliyuncs.com".to_string(),
            _ => "cdn.aliyuncs.com".to_string(),
        },
        Product::Sts => "sts.aliyuncs.com".to_string(),
        Product::Dcdn => "dcdn.aliyuncs.com".to_string(),
        Product::Slb => {
            let region =
                region.ok_or_else(|| Error::Config("RegionId is empty (SLB endpoints are regional)".into()))?;
            if SLB_CENTRAL_REGIONS.contains(&region) {
                "slb.aliyuncs.com".to_string()
            } else {
                format!("slb.{region}.aliyuncs.com")
            }
        }
        Product::Alb | Product::Nlb => {
            let code = product.code();
            let region = region.ok_or_else(|| {
                Error::Config(format!("RegionId is empty ({} endpoints are regional)", code.to_ascii_uppercase()))
            })?;
            format!("{code}.{region}.aliyuncs.com")
        }
        Product::Cas | Product::CasPca => {
            let region =
                region.ok_or_else(|| Error::Config("RegionId is empty (CAS endpoints are regional)".into()))?;
            if region.starts_with("cn-") || CAS_CENTRAL_NON_CN_REGIONS.contains(&region) {
                "cas.aliyuncs.com".to_string()
            } else {
                format!("cas.{region}.aliyuncs.com")
            }
        }
    };
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_documented_examples() {
        let cases: &[(Product, Option<&str>, &str)] = &[
            (Product::Cdn, None, "cdn.aliyuncs.com"),
            (Product::Cdn, Some("cn-beijing"), "cdn.aliyuncs.com"),
            (Product::Cdn, Some("eu-central-1"), "cdn.ap-southeast-1.aliyuncs.com"),
            (Product::Slb, Some("cn-hangzhou"), "slb.aliyuncs.com"),
            (Product::Slb, Some("cn-zhangjiakou"), "slb.cn-zhangjiakou.aliyuncs.com"),
            (Product::Slb, Some("ap-northeast-1"), "slb.ap-northeast-1.aliyuncs.com"),
            (Product::Slb, Some("eu-central-1"), "slb.eu-central-1.aliyuncs.com"),
            (Product::Cas, Some("cn-hangzhou"), "cas.aliyuncs.com"),
            (Product::Cas, Some("cn-hongkong"), "cas.aliyuncs.com"),
            (Product::Cas, Some("ap-southeast-3"), "cas.aliyuncs.com"),
            (Product::Cas, Some("ap-southeast-1"), "cas.ap-southeast-1.aliyuncs.com"),
            (Product::CasPca, Some("eu-central-1"), "cas.eu-central-1.aliyuncs.com"),
            (Product::Sts, None, "sts.aliyuncs.com"),
            (Product::Alb, Some("cn-hangzhou"), "alb.cn-hangzhou.aliyuncs.com"),
            (Product::Nlb, Some("cn-shanghai"), "nlb.cn-shanghai.aliyuncs.com"),
            (Product::Dcdn, Some("eu-central-1"), "dcdn.aliyuncs.com"),
        ];
        for (product, region, expected) in cases {
            assert_eq!(resolve_endpoint(*product, *region).unwrap(), *expected, "{product:?} {region:?}");
        }
    }

    #[test]
    fn regional_products_need_a_safe_region() {
        assert!(matches!(resolve_endpoint(Product::Slb, None), Err(Error::Config(_))));
        assert!(matches!(resolve_endpoint(Product::Cas, Some("  ")), Err(Error::Config(_))));
        assert!(matches!(resolve_endpoint(Product::Slb, Some("evil.com/x")), Err(Error::Config(_))));
    }
}
