//! One page per call. The host asks for a scope's listing one short call at
//! a time, so a plugin cannot use `alibaba_openapi::list_all` (which lists
//! everything in one go); [`Pager`] is its one-page-at-a-time counterpart
//! with the same guarantees: `TotalCount` must not change between pages,
//! and at the end the rows fetched must add up to it — otherwise the
//! listing fails with an error that says how many rows were not listed.
//!
//! A `Pager` is plain data (serde), so it can travel inside a cursor.

use alibaba_openapi::{ActionSpec, Client};
use certinspect_sdk::serde_json::Value;
use certinspect_sdk::{error_kind, PluginError};
use serde::{Deserialize, Serialize};

use crate::errors::failure;

/// How an API names its paging parameters.
#[derive(Debug, Clone, Copy)]
pub struct PageParams {
    /// `PageNumber` or `CurrentPage`.
    pub page: &'static str,
    /// `PageSize` or `ShowSize`.
    pub size: &'static str,
    /// `TotalCount`, or `Total` (CAS `ListCloudResources`).
    pub total: &'static str,
    /// Path to the row array, e.g. `["CertInfos", "CertInfo"]`.
    pub rows: &'static [&'static str],
    /// Error codes that mean "nothing to list" on the first page (DCDN
    /// documents `NoHttpsDomain` for an account without HTTPS domains).
    pub empty_codes: &'static [&'static str],
}

/// Where a numbered listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pager {
    /// The next page to fetch (from 1).
    pub next_page: u64,
    /// Rows per page asked for.
    pub size: u64,
    /// `TotalCount` seen on the first page.
    pub total: Option<u64>,
    /// Rows fetched so far.
    pub fetched: u64,
}

impl Pager {
    /// A listing that has not started.
    pub fn new(size: u64) -> Self {
        Self { next_page: 1, size: size.max(1), total: None, fetched: 0 }
    }

    /// Whether every page has been fetched.
    pub fn done(&self) -> bool {
        self.total.is_some_and(|total| (self.next_page - 1).saturating_mul(self.size) >= total)
    }

    /// Fetches the next page and returns its rows. `what` names the listing
    /// in errors (`CAS cn-hangzhou certificates`).
    pub fn fetch(
        &mut self,
        client: &Client,
        spec: &ActionSpec,
        params: &[(String, String)],
        shape: PageParams,
        what: &str,
    ) -> Result<Vec<Value>, PluginError> {
        let page = self.next_page;
        let mut all = params.to_vec();
        all.push((shape.page.to_owned(), page.to_string()));
        all.push((shape.size.to_owned(), self.size.to_string()));
        let answer = match client.call(spec, &all) {
            Err(e) if page == 1 && e.api_error().is_some_and(|api| shape.empty_codes.contains(&api.code.as_str())) => {
                self.total = Some(0);
                self.next_page = 2;
                return Ok(Vec::new());
            }
            other => other,
        };
        let answer = answer.map_err(|e| {
            let lost = match self.total {
                Some(total) => format!("; {} of {total} rows not listed", total.saturating_sub(self.fetched)),
                None => String::new(),
            };
            let mut error = failure(&format!("{what}: {} page {page}", spec.action), &e);
            error.message.push_str(&lost);
            error
        })?;
        let total = read_u64(&answer[shape.total]).ok_or_else(|| {
            PluginError::new(
                error_kind::SERVICE,
                format!("{what}: {} page {page}: answer has no {}", spec.action, shape.total),
            )
        })?;
        if let Some(first) = self.total.filter(|first| *first != total) {
            return Err(PluginError::new(
                error_kind::SERVICE,
                format!(
                    "{what}: {} {} changed from {first} to {total} at page {page} (rows were added or removed while listing; list again)",
                    spec.action, shape.total
                ),
            ));
        }
        // A server that caps the page size says so; page offsets follow it.
        if page == 1 {
            if let Some(size) = read_u64(&answer[shape.size]).filter(|s| *s > 0 && *s < self.size) {
                self.size = size;
            }
        }
        self.total = Some(total);
        let rows = rows_at(&answer, shape.rows).map_err(|detail| {
            PluginError::new(error_kind::SERVICE, format!("{what}: {} page {page}: {detail}", spec.action))
        })?;
        self.fetched += rows.len() as u64;
        self.next_page += 1;
        if self.fetched > total || (self.done() && self.fetched != total) {
            return Err(PluginError::new(
                error_kind::SERVICE,
                format!(
                    "{what}: {} fetched {} rows in {page} pages but {} is {total} ({} rows not listed); list again",
                    spec.action,
                    self.fetched,
                    shape.total,
                    total as i128 - self.fetched as i128
                ),
            ));
        }
        Ok(rows)
    }
}

/// The rows at `path`; Alibaba omits empty lists, so an absent or null
/// element is an empty page.
pub fn rows_at(value: &Value, path: &[&str]) -> Result<Vec<Value>, String> {
    let mut current = value;
    for key in path {
        match current {
            Value::Null => return Ok(Vec::new()),
            Value::Object(map) => match map.get(*key) {
                Some(next) => current = next,
                None => return Ok(Vec::new()),
            },
            _ => return Err(format!("{} is not an object", path.join("."))),
        }
    }
    match current {
        Value::Array(rows) => Ok(rows.clone()),
        Value::Null => Ok(Vec::new()),
        _ => Err(format!("{} is not a list", path.join("."))),
    }
}

/// A number sent as a JSON number or as text.
pub fn read_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number sent as a JSON number or as text.
pub fn read_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Text of a string or number field; `None` when absent or empty.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certinspect_sdk::serde_json::json;

    #[test]
    fn rows_tolerate_missing_wrappers() {
        assert_eq!(rows_at(&json!({}), &["A", "B"]).unwrap().len(), 0);
        assert_eq!(rows_at(&json!({"A": {"B": [1, 2]}}), &["A", "B"]).unwrap().len(), 2);
        assert!(rows_at(&json!({"A": 3}), &["A", "B"]).is_err());
    }

    /// A host answering every request with `status` and `body`.
    struct Canned(u16, &'static str);

    impl certinspect_sdk::HostServices for Canned {
        fn http(
            &self,
            _: &certinspect_sdk::HttpRequest,
        ) -> Result<certinspect_sdk::HttpResponse, certinspect_sdk::TransportError> {
            Ok(certinspect_sdk::HttpResponse { status: self.0, headers: Vec::new(), body: self.1.as_bytes().to_vec() })
        }
        fn log(&self, _: certinspect_sdk::LogLevel, _: &str, _: &str) {}
        fn now_unix_ms(&self) -> i64 {
            1_700_000_000_000
        }
        fn is_cancelled(&self) -> bool {
            false
        }
    }

    fn client(host: Canned) -> Client {
        let credentials =
            alibaba_openapi::CredentialsProvider::fixed(alibaba_openapi::Credentials::new("LTAI5tUnit0001", "s"));
        let config = alibaba_openapi::ClientConfig {
            endpoint_override: Some("http://127.0.0.1:9".into()),
            ..alibaba_openapi::ClientConfig::default()
        };
        Client::new(std::sync::Arc::new(host), std::sync::Arc::new(credentials), config)
    }

    const SHAPE: PageParams = PageParams {
        page: "PageNumber",
        size: "PageSize",
        total: "TotalCount",
        rows: &["A", "B"],
        empty_codes: &["NoHttpsDomain"],
    };
    const SPEC: ActionSpec = ActionSpec::new(alibaba_openapi::Product::Cdn, "DescribeCdnHttpsDomainList");

    #[test]
    fn a_nothing_to_list_code_is_an_empty_listing_and_other_errors_are_not() {
        let mut pager = Pager::new(10);
        let empty =
            client(Canned(400, r#"{"Code":"NoHttpsDomain","Message":"Your account does not have any HTTPS domain."}"#));
        assert!(pager.fetch(&empty, &SPEC, &[], SHAPE, "CDN").unwrap().is_empty());
        assert!(pager.done());
        let mut pager = Pager::new(10);
        let refused = client(Canned(400, r#"{"Code":"InvalidParameter","Message":"bad"}"#));
        let error = pager.fetch(&refused, &SPEC, &[], SHAPE, "CDN").unwrap_err();
        assert!(error.message.starts_with("CDN: DescribeCdnHttpsDomainList page 1: "), "{}", error.message);
        assert!(!pager.done());
    }

    #[test]
    fn a_short_listing_is_an_error_naming_the_rows_lost() {
        let mut pager = Pager::new(10);
        let short = client(Canned(200, r#"{"TotalCount":12,"A":{"B":[1,2,3]}}"#));
        assert_eq!(pager.fetch(&short, &SPEC, &[], SHAPE, "CDN").unwrap().len(), 3);
        let error = pager.fetch(&short, &SPEC, &[], SHAPE, "CDN").unwrap_err();
        assert!(
            error.message.contains("fetched 6 rows in 2 pages but TotalCount is 12 (6 rows not listed)"),
            "{}",
            error.message
        );
        let mut pager = Pager::new(10);
        let first = client(Canned(200, r#"{"TotalCount":25,"A":{"B":[1,2,3,4,5,6,7,8,9,10]}}"#));
        pager.fetch(&first, &SPEC, &[], SHAPE, "CDN").unwrap();
        let grown = client(Canned(200, r#"{"TotalCount":26,"A":{"B":[1,2,3,4,5,6,7,8,9,10]}}"#));
        let error = pager.fetch(&grown, &SPEC, &[], SHAPE, "CDN").unwrap_err();
        assert!(error.message.contains("TotalCount changed from 25 to 26 at page 2"), "{}", error.message);
    }

    #[test]
    fn done_follows_the_page_arithmetic() {
        let mut pager = Pager::new(100);
        assert!(!pager.done());
        pager.total = Some(250);
        pager.next_page = 3;
        assert!(!pager.done());
        pager.next_page = 4;
        assert!(pager.done());
        pager.total = Some(0);
        pager.next_page = 2;
        assert!(pager.done());
    }
}
