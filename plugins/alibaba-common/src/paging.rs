//! One page per call. The host asks for a scope's listing one short call at
//! a time, so the plugins page with [`alibaba_openapi::Pager`] (plain data,
//! kept in a cursor), which carries the paging checks shared with
//! `alibaba_openapi::list_all`: the total must not change between pages, and
//! the rows fetched must add up to it. This module only turns its
//! [`PagingError`](alibaba_openapi::PagingError)s into [`PluginError`]s that
//! name the scope, plus a few readers of answer fields.

pub use alibaba_openapi::paging::{ListRequest, PageStyle, Pager};
use alibaba_openapi::Client;
use certinspect_sdk::serde_json::Value;
use certinspect_sdk::PluginError;

use crate::errors::paging_failure;

/// Fetches the next page of `request` with `pager`. `what` names the listing
/// in errors (`CAS cn-hangzhou certificates`).
pub fn fetch_page(
    pager: &mut Pager,
    client: &Client,
    request: &ListRequest<'_>,
    what: &str,
) -> Result<Vec<Value>, PluginError> {
    pager.fetch_next(client, request).map_err(|error| paging_failure(what, &error))
}

/// The rows at `path`, owned; Alibaba omits empty lists, so an absent or
/// null element is an empty page (the same reader the pager uses).
pub fn rows_at(value: &Value, path: &[&str]) -> Result<Vec<Value>, String> {
    alibaba_openapi::paging::rows_at(value, path).map(<[Value]>::to_vec)
}

/// A number sent as a JSON number or as text.
pub use alibaba_openapi::paging::read_u64;

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
    use alibaba_openapi::{ActionSpec, Product};
    use certinspect_sdk::error_kind;

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

    fn request() -> ListRequest<'static> {
        ListRequest::new(
            ActionSpec::new(Product::Cdn, "DescribeCdnHttpsDomainList"),
            PageStyle::PageNumber { page_size: 10 },
            &["A", "B"],
        )
    }

    #[test]
    fn paging_errors_name_the_scope_and_keep_the_cause_kind() {
        let mut pager = Pager::new(10);
        let refused = client(Canned(403, r#"{"Code":"Forbidden.RAM","Message":"no"}"#));
        let error = fetch_page(&mut pager, &refused, &request(), "CDN").unwrap_err();
        assert_eq!(error.kind, error_kind::CREDENTIALS);
        assert!(error.message.starts_with("CDN: DescribeCdnHttpsDomainList: page 1 failed"), "{}", error.message);
        assert!(error.message.ends_with("see docs/ALIBABA.md)"), "{}", error.message);

        let mut pager = Pager::new(10);
        let short = client(Canned(200, r#"{"TotalCount":12,"A":{"B":[1,2,3]}}"#));
        fetch_page(&mut pager, &short, &request(), "CDN").unwrap();
        let error = fetch_page(&mut pager, &short, &request(), "CDN").unwrap_err();
        assert_eq!(error.kind, error_kind::SERVICE);
        assert!(
            error.message.starts_with(
                "CDN: DescribeCdnHttpsDomainList: fetched 6 rows in 2 pages but TotalCount is 12 (6 rows not listed)"
            ),
            "{}",
            error.message
        );
    }

    #[test]
    fn rows_tolerate_missing_wrappers() {
        assert_eq!(rows_at(&certinspect_sdk::serde_json::json!({}), &["A", "B"]).unwrap().len(), 0);
    }
}
