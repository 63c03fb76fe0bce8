//! Listing every row of a paged API, for the three paging styles Alibaba
//! uses, without ever returning a short list silently.
//!
//! A listing either returns every row the server announced, or fails with a
//! [`PagingError`] that says which page failed and how many rows were
//! fetched against `TotalCount`. `TotalCount` changing mid-listing, rows
//! fetched twice (when a row key is given) and a row count that does not add
//! up to `TotalCount` are all errors: the caller may list again.

use crate::client::Client;
use crate::endpoint::ActionSpec;
use crate::error::Error;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// How an API pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    /// `PageNumber` (from 1) / `PageSize` / `TotalCount` (CDN, SLB).
    PageNumber {
        /// Rows per page to ask for.
        page_size: u32,
    },
    /// `CurrentPage` (from 1) / `ShowSize` / `TotalCount` (CAS).
    CurrentPage {
        /// Rows per page to ask for.
        show_size: u32,
    },
    /// `NextToken` / `MaxResults`, `TotalCount` optional (SLB listeners).
    NextToken {
        /// Rows per page to ask for.
        max_results: u32,
    },
}

impl PageStyle {
    fn size(self) -> u32 {
        match self {
            PageStyle::PageNumber { page_size } => page_size,
            PageStyle::CurrentPage { show_size } => show_size,
            PageStyle::NextToken { max_results } => max_results,
        }
    }

    fn size_param(self) -> &'static str {
        match self {
            PageStyle::PageNumber { .. } => "PageSize",
            PageStyle::CurrentPage { .. } => "ShowSize",
            PageStyle::NextToken { .. } => "MaxResults",
        }
    }

    fn page_param(self) -> &'static str {
        match self {
            PageStyle::PageNumber { .. } => "PageNumber",
            PageStyle::CurrentPage { .. } => "CurrentPage",
            PageStyle::NextToken { .. } => "NextToken",
        }
    }
}

/// Extracts a row's identity, for duplicate detection.
pub type RowKey = dyn Fn(&Value) -> Option<String> + Send + Sync;

/// A row key that reads one field (string or number), e.g. `CertificateId`.
pub fn field_key(field: &'static str) -> Box<RowKey> {
    Box::new(move |row: &Value| match &row[field] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// What to list and how.
pub struct ListRequest<'a> {
    /// The API.
    pub spec: ActionSpec,
    /// API parameters other than the paging ones.
    pub params: Vec<(String, String)>,
    /// The paging style and page size.
    pub style: PageStyle,
    /// Path to the row array, e.g. `["CertInfos", "CertInfo"]` or
    /// `["CertificateOrderList"]`. An absent array is an empty page.
    pub rows_path: &'a [&'a str],
    /// Name of the total field (`TotalCount`; CAS `ListCloudResources` uses `Total`).
    pub total_field: &'a str,
    /// Row identity for duplicate detection; `None` checks counts only.
    pub row_key: Option<Box<RowKey>>,
    /// Hard bound on pages fetched (the loop is bounded even if the server misbehaves).
    pub max_pages: u32,
    /// Threads fetching numbered pages at once (1..=16; 1 = sequential).
    /// Worth raising when a page takes longer than the rate limit's interval.
    pub concurrency: u32,
}

impl fmt::Debug for ListRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListRequest")
            .field("spec", &self.spec)
            .field("style", &self.style)
            .field("rows_path", &self.rows_path)
            .field("total_field", &self.total_field)
            .field("row_key", &self.row_key.is_some())
            .field("max_pages", &self.max_pages)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<'a> ListRequest<'a> {
    /// A request with `TotalCount`, no row key and a bound of 100 000 pages
    /// (the documented maximum `PageNumber`).
    pub fn new(spec: ActionSpec, style: PageStyle, rows_path: &'a [&'a str]) -> Self {
        ListRequest {
            spec,
            params: Vec::new(),
            style,
            rows_path,
            total_field: "TotalCount",
            row_key: None,
            max_pages: 100_000,
            concurrency: 1,
        }
    }

    /// Fetches numbered pages with up to `threads` threads.
    pub fn concurrency(mut self, threads: u32) -> Self {
        self.concurrency = threads;
        self
    }

    /// Adds an API parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Detects duplicate rows by this key.
    pub fn row_key(mut self, key: Box<RowKey>) -> Self {
        self.row_key = Some(key);
        self
    }
}

/// Every row of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The rows, in server order.
    pub rows: Vec<Value>,
    /// The server's total, when it gives one.
    pub total_count: Option<u64>,
    /// Pages fetched.
    pub pages: u32,
}

/// A listing that could not be completed. Every variant says how many rows
/// were fetched and, when known, how many the server announced.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PagingError {
    /// A page failed (after the client's retries).
    #[error(
        "{action}: page {page} failed after {rows_fetched} of {} rows were fetched ({} rows not fetched): {source}",
        fmt_total(*.total_count), fmt_missing(*.total_count, *.rows_fetched)
    )]
    PageFailed {
        /// The API action.
        action: String,
        /// Page number (1-based; for `NextToken`, the page index).
        page: u64,
        /// Rows fetched before the failure.
        rows_fetched: usize,
        /// `TotalCount` from earlier pages, if any.
        total_count: Option<u64>,
        /// Why the page failed.
        source: Box<Error>,
    },
    /// `TotalCount` changed while listing: rows were added or removed, so
    /// page boundaries moved and rows may have been skipped or repeated.
    #[error("{action}: TotalCount changed from {first} to {now} at page {page} ({rows_fetched} rows fetched so far); list again")]
    TotalCountChanged {
        /// The API action.
        action: String,
        /// Page where the change was seen.
        page: u64,
        /// `TotalCount` of the first page.
        first: u64,
        /// `TotalCount` of `page`.
        now: u64,
        /// Rows fetched before the change was seen.
        rows_fetched: usize,
    },
    /// The same row came back more than once (so others were likely missed).
    #[error("{action}: {duplicate_count} duplicate rows (e.g. {examples:?}) among {rows_fetched} fetched of {} announced", fmt_total(*.total_count))]
    DuplicateRows {
        /// The API action.
        action: String,
        /// Rows seen more than once (counting each extra occurrence).
        duplicate_count: usize,
        /// Up to five duplicate keys.
        examples: Vec<String>,
        /// Rows fetched.
        rows_fetched: usize,
        /// `TotalCount`.
        total_count: Option<u64>,
    },
    /// The rows fetched do not add up to `TotalCount`.
    #[error("{action}: fetched {rows_fetched} rows in {pages} pages but TotalCount is {total_count} ({} rows lost)", *.total_count as i128 - *.rows_fetched as i128)]
    RowCountMismatch {
        /// The API action.
        action: String,
        /// Rows fetched.
        rows_fetched: usize,
        /// `TotalCount`.
        total_count: u64,
        /// Pages fetched.
        pages: u32,
    },
    /// The answer does not have the expected shape (missing `TotalCount`,
    /// rows not an array, a `NextToken` seen before).
    #[error("{action}: page {page}: {detail} ({rows_fetched} rows fetched so far)")]
    UnexpectedAnswer {
        /// The API action.
        action: String,
        /// The page.
        page: u64,
        /// What was wrong.
        detail: String,
        /// Rows fetched so far.
        rows_fetched: usize,
    },
    /// `max_pages` pages were fetched and the server still announced more.
    #[error("{action}: stopped after {pages} pages ({rows_fetched} rows) and the server still had more")]
    TooManyPages {
        /// The API action.
        action: String,
        /// Pages fetched.
        pages: u32,
        /// Rows fetched.
        rows_fetched: usize,
    },
}

fn fmt_total(total: Option<u64>) -> String {
    total.map_or_else(|| "an unknown number of".to_string(), |t| t.to_string())
}

fn fmt_missing(total: Option<u64>, fetched: usize) -> String {
    total.map_or_else(|| "unknown".to_string(), |t| (t.saturating_sub(fetched as u64)).to_string())
}

fn rows_at<'v>(value: &'v Value, path: &[&str]) -> Result<&'v [Value], String> {
    let mut current = value;
    for (depth, key) in path.iter().enumerate() {
        match current {
            // Alibaba omits empty lists (`CertInfos` absent, `{}` or null).
            Value::Null => return Ok(&[]),
            Value::Object(map) => match map.get(*key) {
                Some(next) => current = next,
                None => return Ok(&[]),
            },
            _ => return Err(format!("{} is not an object", path[..depth].join("."))),
        }
    }
    match current {
        Value::Array(rows) => Ok(rows),
        Value::Null => Ok(&[]),
        _ => Err(format!("{} is not an array", path.join("."))),
    }
}

fn read_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Lists every row (see the module docs for the guarantees).
///
/// Numbered styles fetch page 1, learn `TotalCount` and the page size, then
/// fetch the remaining pages with up to [`ListRequest::concurrency`] threads
/// (each call still waits for its rate-limit slot, so concurrency only hides
/// latency; it never exceeds the QPS). Rows are returned in page order.
pub fn list_all(client: &Client, request: &ListRequest<'_>) -> Result<Listing, PagingError> {
    match request.style {
        PageStyle::NextToken { .. } => list_by_token(client, request),
        _ => list_numbered(client, request),
    }
}

fn page_params(request: &ListRequest<'_>, page_or_token: Option<String>) -> Vec<(String, String)> {
    let style = request.style;
    let mut params = request.params.clone();
    params.push((style.size_param().to_string(), style.size().to_string()));
    if let Some(value) = page_or_token {
        params.push((style.page_param().to_string(), value));
    }
    params
}

fn unexpected(request: &ListRequest<'_>, page: u64, detail: String, rows_fetched: usize) -> PagingError {
    PagingError::UnexpectedAnswer { action: request.spec.action.to_string(), page, detail, rows_fetched }
}

fn list_numbered(client: &Client, request: &ListRequest<'_>) -> Result<Listing, PagingError> {
    let action = request.spec.action.to_string();
    let style = request.style;
    let fetch = |page: u64| client.call(&request.spec, &page_params(request, Some(page.to_string())));
    let total_of = |page: u64, answer: &Value, fetched: usize| {
        read_u64(&answer[request.total_field])
            .ok_or_else(|| unexpected(request, page, format!("answer has no {}", request.total_field), fetched))
    };

    let first = fetch(1).map_err(|source| PagingError::PageFailed {
        action: action.clone(),
        page: 1,
        rows_fetched: 0,
        total_count: None,
        source: Box::new(source),
    })?;
    let total = total_of(1, &first, 0)?;
    // A server that caps the page size echoes the size it used; page
    // offsets follow that size.
    let page_size = read_u64(&first[style.size_param()]).filter(|s| *s > 0).unwrap_or(u64::from(style.size().max(1)));
    let mut rows: Vec<Value> = rows_at(&first, request.rows_path).map_err(|d| unexpected(request, 1, d, 0))?.to_vec();
    let last_page = total.div_ceil(page_size).max(1);
    if last_page > u64::from(request.max_pages) {
        return Err(PagingError::TooManyPages { action, pages: 1, rows_fetched: rows.len() });
    }

    let answers = fetch_pages(2..=last_page, request.concurrency, &fetch);
    let mut pages: u32 = 1;
    for (page, answer) in (2..=last_page).zip(answers) {
        let answer = match answer {
            Some(Ok(answer)) => answer,
            Some(Err(source)) => {
                return Err(PagingError::PageFailed {
                    action,
                    page,
                    rows_fetched: rows.len(),
                    total_count: Some(total),
                    source: Box::new(source),
                })
            }
            // Pages after a failed one are not fetched; the failure comes first.
            None => unreachable!("pages are fetched in order and stop only after a failure"),
        };
        pages += 1;
        let now = total_of(page, &answer, rows.len())?;
        if now != total {
            return Err(PagingError::TotalCountChanged { action, page, first: total, now, rows_fetched: rows.len() });
        }
        rows.extend_from_slice(
            rows_at(&answer, request.rows_path).map_err(|d| unexpected(request, page, d, rows.len()))?,
        );
    }
    check_rows(request, rows, Some(total), pages)
}

/// Fetches `pages` with up to `concurrency` threads. Pages are claimed in
/// increasing order and claiming stops after the first failure, so the
/// answer list is complete up to (and including) the first failure; later
/// entries may be `None`.
fn fetch_pages(
    pages: std::ops::RangeInclusive<u64>,
    concurrency: u32,
    fetch: &(dyn Fn(u64) -> Result<Value, Error> + Sync),
) -> Vec<Option<Result<Value, Error>>> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;
    let (first, last) = (*pages.start(), *pages.end());
    if first > last {
        return Vec::new();
    }
    let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
    let results: Mutex<Vec<Option<Result<Value, Error>>>> = Mutex::new(vec![None; count]);
    let next = AtomicU64::new(first);
    let failed = AtomicBool::new(false);
    let worker = || {
        // Each round claims a new page number; numbers are bounded by `last`.
        while !failed.load(Ordering::SeqCst) {
            let page = next.fetch_add(1, Ordering::SeqCst);
            if page > last {
                break;
            }
            let result = fetch(page);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            results.lock().unwrap_or_else(|p| p.into_inner())[(page - first) as usize] = Some(result);
        }
    };
    let threads = concurrency.clamp(1, 16).min(u32::try_from(count).unwrap_or(16));
    if threads <= 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(worker);
            }
        });
    }
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn list_by_token(client: &Client, request: &ListRequest<'_>) -> Result<Listing, PagingError> {
    let action = request.spec.action.to_string();
    let mut rows: Vec<Value> = Vec::new();
    let mut first_total: Option<u64> = None;
    let mut pages: u32 = 0;
    let mut next_token: Option<String> = None;
    let mut seen_tokens: HashSet<String> = HashSet::new();
    // Each round fetches one page; `max_pages` bounds the rounds.
    loop {
        if pages >= request.max_pages {
            return Err(PagingError::TooManyPages { action, pages, rows_fetched: rows.len() });
        }
        let page = u64::from(pages) + 1;
        let answer = client.call(&request.spec, &page_params(request, next_token.clone())).map_err(|source| {
            PagingError::PageFailed {
                action: action.clone(),
                page,
                rows_fetched: rows.len(),
                total_count: first_total,
                source: Box::new(source),
            }
        })?;
        pages += 1;
        match (read_u64(&answer[request.total_field]), first_total) {
            (Some(now), Some(first)) if now != first => {
                return Err(PagingError::TotalCountChanged { action, page, first, now, rows_fetched: rows.len() });
            }
            (Some(now), None) => first_total = Some(now),
            _ => {}
        }
        rows.extend_from_slice(
            rows_at(&answer, request.rows_path).map_err(|d| unexpected(request, page, d, rows.len()))?,
        );
        match answer["NextToken"].as_str().filter(|t| !t.is_empty()) {
            None => break,
            Some(token) => {
                if !seen_tokens.insert(token.to_string()) {
                    return Err(unexpected(request, page, format!("NextToken {token:?} was already seen"), rows.len()));
                }
                next_token = Some(token.to_string());
            }
        }
    }
    check_rows(request, rows, first_total, pages)
}

/// The end-of-listing checks: no duplicate rows, and rows = `TotalCount`.
fn check_rows(
    request: &ListRequest<'_>,
    rows: Vec<Value>,
    total_count: Option<u64>,
    pages: u32,
) -> Result<Listing, PagingError> {
    let action = request.spec.action.to_string();
    if let Some(key) = &request.row_key {
        let mut seen = HashSet::with_capacity(rows.len());
        let mut duplicates = Vec::new();
        for row in &rows {
            if let Some(k) = key(row) {
                if !seen.insert(k.clone()) {
                    duplicates.push(k);
                }
            }
        }
        if !duplicates.is_empty() {
            return Err(PagingError::DuplicateRows {
                action,
                duplicate_count: duplicates.len(),
                examples: duplicates.into_iter().take(5).collect(),
                rows_fetched: rows.len(),
                total_count,
            });
        }
    }
    if let Some(total) = total_count {
        if rows.len() as u64 != total {
            return Err(PagingError::RowCountMismatch { action, rows_fetched: rows.len(), total_count: total, pages });
        }
    }
    Ok(Listing { rows, total_count, pages })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientConfig, RetryPolicy};
    use crate::credentials::{Credentials, CredentialsProvider};
    use crate::endpoint::Product;
    use crate::test_support::{json_response, FakeHost};
    use certinspect_protocol::HttpRequest;
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const CAS_LIST: ActionSpec = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");

    fn param(request: &HttpRequest, name: &str) -> Option<String> {
        let (_, query) = request.url.split_once('?')?;
        alibaba_signing::parse_form_query(query).ok()?.into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn client(host: Arc<FakeHost>) -> Client {
        let config = ClientConfig {
            endpoint_override: Some("http://127.0.0.1:9".into()),
            retry: RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1), ..RetryPolicy::default() },
            ..ClientConfig::default()
        };
        Client::new(host, Arc::new(CredentialsProvider::fixed(Credentials::new("LTAI5tFake01", "s"))), config)
    }

    /// A CAS-style server over `total` rows; `tweak` may change each page's answer.
    fn cas_server(total: u64, tweak: impl Fn(u64, &mut Value) + Send + Sync + 'static) -> Arc<FakeHost> {
        FakeHost::with_responder(0, move |request| {
            let page: u64 = param(request, "CurrentPage").unwrap().parse().unwrap();
            let size: u64 = param(request, "ShowSize").unwrap().parse().unwrap();
            let start = (page - 1) * size;
            let rows: Vec<Value> = (start..(start + size).min(total)).map(|id| json!({"CertificateId": id})).collect();
            let mut answer = json!({"RequestId": "r", "TotalCount": total, "CurrentPage": page,
                                    "ShowSize": size, "CertificateOrderList": rows});
            tweak(page, &mut answer);
            Ok(json_response(200, &answer.to_string()))
        })
    }

    fn cas_request() -> ListRequest<'static> {
        ListRequest::new(CAS_LIST, PageStyle::CurrentPage { show_size: 50 }, &["CertificateOrderList"])
            .param("OrderType", "CERT")
            .row_key(field_key("CertificateId"))
    }

    #[test]
    fn lists_every_row_exactly_once() {
        let host = cas_server(1234, |_, _| {});
        let listing = list_all(&client(host.clone()), &cas_request()).unwrap();
        assert_eq!(listing.rows.len(), 1234);
        assert_eq!(listing.pages, 25);
        assert_eq!(host.request_count(), 25);
        let ids: HashSet<u64> = listing.rows.iter().map(|r| r["CertificateId"].as_u64().unwrap()).collect();
        assert_eq!(ids.len(), 1234);
    }

    #[test]
    fn a_failing_page_names_what_was_lost() {
        let host = cas_server(500, |page, answer| {
            if page == 4 {
                *answer = json!({"Code": "InternalError", "Message": "boom"});
            }
        });
        // Make page 4 a 500 by answering with the error shape: rewrap status.
        let failing = FakeHost::with_responder(0, move |request| {
            let response = host.respond(request)?;
            let is_error = String::from_utf8_lossy(&response.body).contains("InternalError");
            Ok(if is_error { json_response(500, std::str::from_utf8(&response.body).unwrap()) } else { response })
        });
        let error = list_all(&client(failing), &cas_request()).unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(error, PagingError::PageFailed { page: 4, rows_fetched: 150, total_count: Some(500), .. }),
            "{text}"
        );
        assert!(text.contains("150 of 500") && text.contains("350 rows not fetched"), "{text}");
    }

    #[test]
    fn a_changing_total_count_is_reported() {
        let host = cas_server(300, |page, answer| {
            if page == 3 {
                answer["TotalCount"] = json!(301);
            }
        });
        let error = list_all(&client(host), &cas_request()).unwrap_err();
        assert!(
            matches!(error, PagingError::TotalCountChanged { page: 3, first: 300, now: 301, rows_fetched: 100, .. }),
            "{error}"
        );
    }

    #[test]
    fn duplicate_rows_are_reported() {
        let host = cas_server(150, |page, answer| {
            if page == 2 {
                answer["CertificateOrderList"][0] = json!({"CertificateId": 0});
            }
        });
        let error = list_all(&client(host), &cas_request()).unwrap_err();
        assert!(
            matches!(&error, PagingError::DuplicateRows { duplicate_count: 1, examples, .. } if examples == &["0"]),
            "{error}"
        );
    }

    #[test]
    fn a_short_page_is_never_a_silent_short_list() {
        let host = cas_server(200, |page, answer| {
            if page == 2 {
                answer["CertificateOrderList"].as_array_mut().unwrap().truncate(10);
            }
        });
        let error = list_all(&client(host), &cas_request()).unwrap_err();
        assert!(matches!(error, PagingError::RowCountMismatch { rows_fetched: 160, total_count: 200, .. }), "{error}");
        assert!(error.to_string().contains("40 rows lost"), "{error}");

        let host = cas_server(200, |page, answer| {
            if page == 2 {
                answer.as_object_mut().unwrap().remove("CertificateOrderList");
            }
        });
        let error = list_all(&client(host), &cas_request()).unwrap_err();
        assert!(matches!(error, PagingError::RowCountMismatch { rows_fetched: 150, total_count: 200, .. }), "{error}");
    }

    #[test]
    fn concurrent_fetching_keeps_page_order_and_reports_the_first_failure() {
        let host = cas_server(2_345, |_, _| {});
        let listing = list_all(&client(host.clone()), &cas_request().concurrency(4)).unwrap();
        let ids: Vec<u64> = listing.rows.iter().map(|r| r["CertificateId"].as_u64().unwrap()).collect();
        assert_eq!(ids, (0..2_345).collect::<Vec<u64>>());
        assert_eq!(host.request_count(), 47);

        let inner = cas_server(2_345, |_, _| {});
        let failing = FakeHost::with_responder(0, move |request| {
            if param(request, "CurrentPage").as_deref() == Some("20") {
                return Ok(json_response(503, r#"{"Code":"ServiceUnavailable","Message":"x"}"#));
            }
            inner.respond(request)
        });
        let error = list_all(&client(failing), &cas_request().concurrency(4)).unwrap_err();
        assert!(
            matches!(error, PagingError::PageFailed { page: 20, rows_fetched: 950, total_count: Some(2_345), .. }),
            "{error}"
        );
    }

    #[test]
    fn page_number_style_with_nested_rows_and_a_capped_page_size() {
        // The server caps PageSize at 20 and says so; offsets follow the echo.
        let host = FakeHost::with_responder(0, |request| {
            let page: u64 = param(request, "PageNumber").unwrap().parse().unwrap();
            let size = 20u64;
            let start = (page - 1) * size;
            let rows: Vec<Value> =
                (start..(start + size).min(45)).map(|i| json!({"DomainName": format!("d{i}")})).collect();
            let answer = json!({"TotalCount": 45, "PageSize": size, "CertInfos": {"CertInfo": rows}});
            Ok(json_response(200, &answer.to_string()))
        });
        let request = ListRequest::new(
            ActionSpec::new(Product::Cdn, "DescribeCdnHttpsDomainList"),
            PageStyle::PageNumber { page_size: 500 },
            &["CertInfos", "CertInfo"],
        )
        .row_key(field_key("DomainName"));
        let listing = list_all(&client(host), &request).unwrap();
        assert_eq!(listing.rows.len(), 45);
        assert_eq!(listing.pages, 3);
    }

    #[test]
    fn next_token_style_follows_tokens_and_refuses_loops() {
        let host = FakeHost::with_responder(0, |request| {
            let token = param(request, "NextToken");
            let (rows, next) = match token.as_deref() {
                None => (vec![1, 2], Some("t1")),
                Some("t1") => (vec![3, 4], Some("t2")),
                Some("t2") => (vec![5], None),
                other => panic!("unexpected token {other:?}"),
            };
            let rows: Vec<Value> = rows.into_iter().map(|i| json!({"ListenerPort": i})).collect();
            let mut answer = json!({"Listeners": rows, "TotalCount": 5, "MaxResults": 2});
            if let Some(next) = next {
                answer["NextToken"] = json!(next);
            }
            Ok(json_response(200, &answer.to_string()))
        });
        let request = ListRequest::new(
            ActionSpec::new(Product::Slb, "DescribeLoadBalancerListeners"),
            PageStyle::NextToken { max_results: 2 },
            &["Listeners"],
        );
        let listing = list_all(&client(host), &request).unwrap();
        assert_eq!(listing.rows.len(), 5);
        assert_eq!(listing.pages, 3);

        let looping = FakeHost::with_responder(0, |_| {
            Ok(json_response(200, r#"{"Listeners":[{"ListenerPort":1}],"NextToken":"same"}"#))
        });
        let error = list_all(&client(looping), &request).unwrap_err();
        assert!(matches!(error, PagingError::UnexpectedAnswer { page: 2, .. }), "{error}");
    }

    #[test]
    fn listing_is_bounded_by_max_pages() {
        let host = FakeHost::with_responder(0, |request| {
            let n: u64 = param(request, "NextToken").map_or(0, |t| t.parse().unwrap());
            Ok(json_response(200, &json!({"Listeners": [{"n": n}], "NextToken": (n + 1).to_string()}).to_string()))
        });
        let mut request = ListRequest::new(
            ActionSpec::new(Product::Slb, "DescribeLoadBalancerListeners"),
            PageStyle::NextToken { max_results: 1 },
            &["Listeners"],
        );
        request.max_pages = 7;
        let error = list_all(&client(host), &request).unwrap_err();
        assert!(matches!(error, PagingError::TooManyPages { pages: 7, rows_fetched: 7, .. }), "{error}");
    }
}
