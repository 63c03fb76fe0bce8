//! Paging through Alibaba list APIs, for the three paging styles Alibaba
//! uses, without ever returning a short list silently.
//!
//! There is one per-page step, [`Pager::fetch_next`], and one set of checks:
//! `TotalCount` (or `Total`) must not change between pages, a `NextToken`
//! must not come back twice, and the rows fetched must add up to the total.
//! Two ways to use it:
//!
//! - [`Pager`] fetches one page per call. It is plain data (serde), so it can
//!   travel inside a plugin cursor: the certinspect host asks a plugin for
//!   one page at a time.
//! - [`list_all`] lists everything in one call, on the same step (its
//!   concurrent mode fetches pages ahead on threads, then feeds the answers
//!   through the step in page order), and also checks for duplicate rows.
//!
//! Every failure is a [`PagingError`] that says which page failed and how
//! many rows were fetched against the total; the caller may list again.

use crate::client::Client;
use crate::endpoint::ActionSpec;
use crate::error::Error;
use serde::{Deserialize, Serialize};
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
    /// `CurrentPage` (from 1) / `ShowSize` / `TotalCount` (CAS; `Total` for
    /// `ListCloudResources`, see [`ListRequest::total_field`]).
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
    /// Rows per page to ask for.
    pub fn size(self) -> u32 {
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
    /// The paging style and page size. ([`Pager::fetch_next`] asks for the
    /// pager's own size, which follows a server that caps it.)
    pub style: PageStyle,
    /// Path to the row array, e.g. `["CertInfos", "CertInfo"]` or
    /// `["CertificateOrderList"]`. An absent array is an empty page.
    pub rows_path: &'a [&'a str],
    /// Name of the total field (`TotalCount`; CAS `ListCloudResources` uses `Total`).
    pub total_field: &'a str,
    /// API error codes that mean "nothing to list" when the first page
    /// answers with them (DCDN documents `NoHttpsDomain` for an account
    /// without HTTPS domains).
    pub empty_codes: &'a [&'a str],
    /// Row identity for duplicate detection ([`list_all`] only); `None`
    /// checks counts only.
    pub row_key: Option<Box<RowKey>>,
    /// Hard bound on pages fetched by [`list_all`] (the loop is bounded even
    /// if the server misbehaves).
    pub max_pages: u32,
    /// Threads [`list_all`] fetches numbered pages with (1..=16; 1 = sequential).
    /// Worth raising when a page takes longer than the rate limit's interval.
    pub concurrency: u32,
}

/// The request [`Pager::fetch_next`] takes: the same as a whole listing's.
pub type PageRequest<'a> = ListRequest<'a>;

impl fmt::Debug for ListRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListRequest")
            .field("spec", &self.spec)
            .field("style", &self.style)
            .field("rows_path", &self.rows_path)
            .field("total_field", &self.total_field)
            .field("empty_codes", &self.empty_codes)
            .field("row_key", &self.row_key.is_some())
            .field("max_pages", &self.max_pages)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<'a> ListRequest<'a> {
    /// A request with `TotalCount`, no empty codes, no row key and a bound of
    /// 100 000 pages (the documented maximum `PageNumber`).
    pub fn new(spec: ActionSpec, style: PageStyle, rows_path: &'a [&'a str]) -> Self {
        ListRequest {
            spec,
            params: Vec::new(),
            style,
            rows_path,
            total_field: "TotalCount",
            empty_codes: &[],
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

    /// Reads the total from this field instead of `TotalCount`.
    pub fn total_field(mut self, field: &'a str) -> Self {
        self.total_field = field;
        self
    }

    /// Treats these error codes on the first page as an empty listing.
    pub fn empty_codes(mut self, codes: &'a [&'a str]) -> Self {
        self.empty_codes = codes;
        self
    }

    /// Detects duplicate rows by this key.
    pub fn row_key(mut self, key: Box<RowKey>) -> Self {
        self.row_key = Some(key);
        self
    }

    fn action(&self) -> String {
        self.spec.action.to_string()
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
        "{action}: page {page} failed after {rows_fetched} of {} rows were fetched ({}): {source}",
        fmt_total(*.total_count), fmt_missing(*.total_count, *.rows_fetched)
    )]
    PageFailed {
        /// The API action.
        action: String,
        /// Page number (1-based; for `NextToken`, the page index).
        page: u64,
        /// Rows fetched before the failure.
        rows_fetched: usize,
        /// The total from earlier pages, if any.
        total_count: Option<u64>,
        /// Why the page failed.
        source: Box<Error>,
    },
    /// The total changed while listing: rows were added or removed, so
    /// page boundaries moved and rows may have been skipped or repeated.
    #[error("{action}: {total_field} changed from {first} to {now} at page {page} ({rows_fetched} rows fetched so far; rows were added or removed while listing); list again")]
    TotalCountChanged {
        /// The API action.
        action: String,
        /// `TotalCount` or `Total`.
        total_field: String,
        /// Page where the change was seen.
        page: u64,
        /// The total of the first page.
        first: u64,
        /// The total of `page`.
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
        /// The total.
        total_count: Option<u64>,
    },
    /// The rows fetched do not add up to the total.
    #[error("{action}: fetched {rows_fetched} rows in {pages} pages but {total_field} is {total_count} ({} rows not listed); list again", *.total_count as i128 - *.rows_fetched as i128)]
    RowCountMismatch {
        /// The API action.
        action: String,
        /// `TotalCount` or `Total`.
        total_field: String,
        /// Rows fetched.
        rows_fetched: usize,
        /// The total.
        total_count: u64,
        /// Pages fetched.
        pages: u32,
    },
    /// The answer does not have the expected shape (missing total, rows not
    /// an array, a `NextToken` seen before).
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

impl PagingError {
    /// The client error behind a failed page, for callers that classify
    /// failures (credentials, transport, ...); `None` for the listing's own checks.
    pub fn source_error(&self) -> Option<&Error> {
        match self {
            PagingError::PageFailed { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn fmt_total(total: Option<u64>) -> String {
    total.map_or_else(|| "an unknown number of".to_string(), |t| t.to_string())
}

fn fmt_missing(total: Option<u64>, fetched: usize) -> String {
    match total {
        Some(t) => format!("{} of {t} rows not listed", t.saturating_sub(fetched as u64)),
        None => "rows not listed: unknown".to_string(),
    }
}

/// The rows at `path`; Alibaba omits empty lists (`CertInfos` absent, `{}`
/// or null), so an absent or null element is an empty page.
pub fn rows_at<'v>(value: &'v Value, path: &[&str]) -> Result<&'v [Value], String> {
    let mut current = value;
    for (depth, key) in path.iter().enumerate() {
        match current {
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

/// A number sent as a JSON number or as text.
pub fn read_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Where a listing stands, one page per call. Plain data (serde), so it can
/// travel inside a cursor; [`list_all`] runs on the same step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pager {
    /// The next page to fetch (from 1; for `NextToken`, the page index).
    pub next_page: u64,
    /// Rows per page asked for (follows a server that echoes a smaller size).
    pub size: u64,
    /// The total seen on the first page that had one.
    pub total: Option<u64>,
    /// Rows fetched so far.
    pub fetched: u64,
    /// `NextToken` style: the token for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `NextToken` style: tokens already followed (a repeat is a loop).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_tokens: Vec<String>,
    /// The last page has been fetched (an empty code, or no `NextToken`).
    #[serde(default)]
    pub finished: bool,
}

impl Pager {
    /// A listing that has not started.
    pub fn new(size: u64) -> Self {
        Self {
            next_page: 1,
            size: size.max(1),
            total: None,
            fetched: 0,
            next_token: None,
            seen_tokens: Vec::new(),
            finished: false,
        }
    }

    /// Whether every page has been fetched. Numbered styles know it from the
    /// page arithmetic; `NextToken` from a page without a token.
    pub fn done(&self) -> bool {
        self.finished
            || (self.next_token.is_none()
                && self.total.is_some_and(|total| (self.next_page - 1).saturating_mul(self.size) >= total))
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        u32::try_from(self.next_page - 1).unwrap_or(u32::MAX)
    }

    /// The parameters of the next page: the request's own, the size, and
    /// the page number or token.
    fn params(&self, request: &ListRequest<'_>, page: u64) -> Vec<(String, String)> {
        let style = request.style;
        let mut params = request.params.clone();
        params.push((style.size_param().to_string(), self.size.to_string()));
        match style {
            PageStyle::NextToken { .. } => {
                if let Some(token) = &self.next_token {
                    params.push((style.page_param().to_string(), token.clone()));
                }
            }
            _ => params.push((style.page_param().to_string(), page.to_string())),
        }
        params
    }

    /// Fetches the next page and returns its rows, after the per-page
    /// checks; at the last page, also checks that the rows add up to the total.
    ///
    /// A page size the service refuses (`InvalidParameter` naming the size
    /// parameter: most maxima are undocumented) is stepped down and the same
    /// rows asked for again, so a guess that is too large costs a call, not
    /// the listing.
    pub fn fetch_next(&mut self, client: &Client, request: &PageRequest<'_>) -> Result<Vec<Value>, PagingError> {
        loop {
            let answer = client.call(&request.spec, &self.params(request, self.next_page));
            match answer {
                Err(error) if refuses_page_size(&error, request.style) && self.step_down(request.style) => continue,
                answer => return self.accept(request, answer),
            }
        }
    }

    /// Makes pages smaller while keeping the rows already fetched where they
    /// are: numbered pages need a size that divides the offset reached, so
    /// the new size is the largest proper divisor of the old one (any smaller
    /// size before the first page). `false` when no smaller size is left.
    fn step_down(&mut self, style: PageStyle) -> bool {
        if self.size <= 1 {
            return false;
        }
        let offset = (self.next_page - 1) * self.size;
        let smaller = match style {
            PageStyle::NextToken { .. } => self.size / 2,
            _ if offset == 0 => self.size / 2,
            _ => (2..=self.size).find(|d| self.size % d == 0).map_or(1, |d| self.size / d),
        };
        self.size = smaller.max(1);
        if !matches!(style, PageStyle::NextToken { .. }) {
            self.next_page = offset / self.size + 1;
        }
        true
    }

    /// The per-page step: takes the answer to page `next_page` (fetched by
    /// [`Pager::fetch_next`], or ahead of time by [`list_all`]).
    fn accept(&mut self, request: &ListRequest<'_>, answer: Result<Value, Error>) -> Result<Vec<Value>, PagingError> {
        let page = self.next_page;
        let action = request.action();
        let fetched = self.fetched as usize;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e)
                if page == 1 && e.api_error().is_some_and(|api| request.empty_codes.contains(&api.code.as_str())) =>
            {
                self.total = Some(0);
                self.next_page = 2;
                self.finished = true;
                return Ok(Vec::new());
            }
            Err(source) => {
                return Err(PagingError::PageFailed {
                    action,
                    page,
                    rows_fetched: fetched,
                    total_count: self.total,
                    source: Box::new(source),
                })
            }
        };
        let unexpected = |detail: String| PagingError::UnexpectedAnswer {
            action: request.action(),
            page,
            detail,
            rows_fetched: fetched,
        };
        let by_token = matches!(request.style, PageStyle::NextToken { .. });
        let total = read_u64(&answer[request.total_field]);
        // Numbered pages are located by the total; a token listing may omit it.
        if total.is_none() && !by_token {
            return Err(unexpected(format!("answer has no {}", request.total_field)));
        }
        match (self.total, total) {
            (Some(first), Some(now)) if first != now => {
                return Err(PagingError::TotalCountChanged {
                    action,
                    total_field: request.total_field.to_string(),
                    page,
                    first,
                    now,
                    rows_fetched: fetched,
                });
            }
            (None, Some(now)) => self.total = Some(now),
            _ => {}
        }
        // A server that caps the page size echoes the size it used; page
        // offsets follow that size.
        if page == 1 && !by_token {
            if let Some(size) = read_u64(&answer[request.style.size_param()]).filter(|s| *s > 0) {
                self.size = size;
            }
        }
        let rows = rows_at(&answer, request.rows_path).map_err(unexpected)?.to_vec();
        if by_token {
            match answer["NextToken"].as_str().filter(|t| !t.is_empty()) {
                None => {
                    self.next_token = None;
                    self.finished = true;
                }
                Some(token) => {
                    if self.seen_tokens.iter().any(|seen| seen == token) {
                        return Err(unexpected(format!("NextToken {token:?} was already seen")));
                    }
                    self.seen_tokens.push(token.to_string());
                    self.next_token = Some(token.to_string());
                }
            }
        }
        self.fetched += rows.len() as u64;
        self.next_page += 1;
        if let Some(total) = self.total {
            if self.fetched > total || (self.done() && self.fetched != total) {
                return Err(PagingError::RowCountMismatch {
                    action,
                    total_field: request.total_field.to_string(),
                    rows_fetched: self.fetched as usize,
                    total_count: total,
                    pages: self.pages(),
                });
            }
        }
        Ok(rows)
    }
}

/// Whether `error` is the service refusing the page size: an
/// `InvalidParameter...` (or `Invalid<Size>`) answer whose code or message
/// names the size parameter.
fn refuses_page_size(error: &Error, style: PageStyle) -> bool {
    let Some(api) = error.api_error() else { return false };
    let name = style.size_param();
    let invalid = api.code.starts_with("InvalidParameter") || api.code.starts_with("Invalid");
    invalid && (api.code.contains(name) || api.message.contains(name))
}

/// Lists every row (see the module docs for the guarantees).
///
/// Numbered styles fetch page 1, learn the total and the page size, then
/// fetch the remaining pages with up to [`ListRequest::concurrency`] threads
/// (each call still waits for its rate-limit slot, so concurrency only hides
/// latency; it never exceeds the QPS). Rows are returned in page order.
pub fn list_all(client: &Client, request: &ListRequest<'_>) -> Result<Listing, PagingError> {
    let mut pager = Pager::new(u64::from(request.style.size()));
    let mut rows = pager.fetch_next(client, request)?;
    if matches!(request.style, PageStyle::NextToken { .. }) {
        // Each round fetches one page; `max_pages` bounds the rounds.
        while !pager.done() {
            if pager.pages() >= request.max_pages {
                return Err(PagingError::TooManyPages {
                    action: request.action(),
                    pages: pager.pages(),
                    rows_fetched: rows.len(),
                });
            }
            rows.extend(pager.fetch_next(client, request)?);
        }
    } else if !pager.done() {
        let total = pager.total.unwrap_or(0);
        let last_page = total.div_ceil(pager.size).max(1);
        if last_page > u64::from(request.max_pages) {
            return Err(PagingError::TooManyPages { action: request.action(), pages: 1, rows_fetched: rows.len() });
        }
        // Fetched ahead on threads, checked in page order by the same step.
        let ahead = pager.clone();
        let answers = fetch_pages(2..=last_page, request.concurrency, &|page| {
            client.call(&request.spec, &ahead.params(request, page))
        });
        for answer in answers {
            // Pages after a failed one are not fetched; the failure comes first.
            let answer = answer.expect("pages are fetched in order and stop only after a failure");
            rows.extend(pager.accept(request, answer)?);
        }
    }
    check_duplicates(request, &rows, pager.total)?;
    Ok(Listing { rows, total_count: pager.total, pages: pager.pages() })
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

/// The whole-listing check the per-page step cannot make: no row twice.
fn check_duplicates(request: &ListRequest<'_>, rows: &[Value], total_count: Option<u64>) -> Result<(), PagingError> {
    let Some(key) = &request.row_key else { return Ok(()) };
    let mut seen = HashSet::with_capacity(rows.len());
    let mut duplicates = Vec::new();
    for row in rows {
        if let Some(k) = key(row) {
            if !seen.insert(k.clone()) {
                duplicates.push(k);
            }
        }
    }
    if duplicates.is_empty() {
        return Ok(());
    }
    Err(PagingError::DuplicateRows {
        action: request.action(),
        duplicate_count: duplicates.len(),
        examples: duplicates.into_iter().take(5).collect(),
        rows_fetched: rows.len(),
        total_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientConfig, RetryPolicy};
    use crate::credentials::{Credentials, CredentialsProvider};
    use crate::endpoint::Product;
    use certinspect_protocol::HttpRequest;
    use certinspect_sdk::testing::{json_response, FakeHost};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const CAS_LIST: ActionSpec = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");

    /// (style, size, next page) before -> (size, next page) after a refused size:
    /// rows already fetched keep their place ((next page - 1) * size is unchanged).
    #[test]
    fn stepping_down_keeps_the_offset_reached() {
        let numbered = PageStyle::CurrentPage { show_size: 100 };
        let token = PageStyle::NextToken { max_results: 100 };
        let cases = [
            (numbered, 100, 1, Some((50, 1))),
            (numbered, 100, 3, Some((50, 5))),
            (numbered, 30, 4, Some((15, 7))),
            (numbered, 7, 2, Some((1, 8))),
            (numbered, 1, 5, None),
            (token, 100, 4, Some((50, 4))),
        ];
        for (style, size, next_page, expected) in cases {
            let mut pager = Pager::new(size);
            pager.next_page = next_page;
            let stepped = pager.step_down(style);
            let after = stepped.then_some((pager.size, pager.next_page));
            assert_eq!(after, expected, "{style:?} size {size} page {next_page}");
            if let (Some(_), false) = (after, matches!(style, PageStyle::NextToken { .. })) {
                assert_eq!((pager.next_page - 1) * pager.size, (next_page - 1) * size);
            }
        }
    }

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
        FakeHost::answering(0, move |request| {
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
        let failing = FakeHost::answering(0, move |request| {
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
        assert!(text.contains("150 of 500") && text.contains("350 of 500 rows not listed"), "{text}");
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
        assert!(error.to_string().contains("40 rows not listed"), "{error}");

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
        let failing = FakeHost::answering(0, move |request| {
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
        let host = FakeHost::answering(0, |request| {
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
        let host = FakeHost::answering(0, |request| {
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

        let looping = FakeHost::answering(0, |_| {
            Ok(json_response(200, r#"{"Listeners":[{"ListenerPort":1}],"NextToken":"same"}"#))
        });
        let error = list_all(&client(looping), &request).unwrap_err();
        assert!(matches!(error, PagingError::UnexpectedAnswer { page: 2, .. }), "{error}");
    }

    #[test]
    fn listing_is_bounded_by_max_pages() {
        let host = FakeHost::answering(0, |request| {
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

    // The one-page-per-call pager (what the plugins keep in their cursors).

    const CDN_LIST: ActionSpec = ActionSpec::new(Product::Cdn, "DescribeCdnHttpsDomainList");

    fn cdn_request() -> ListRequest<'static> {
        ListRequest::new(CDN_LIST, PageStyle::PageNumber { page_size: 10 }, &["A", "B"]).empty_codes(&["NoHttpsDomain"])
    }

    fn canned(status: u16, body: &'static str) -> Client {
        client(FakeHost::answering(0, move |_| Ok(json_response(status, body))))
    }

    #[test]
    fn a_nothing_to_list_code_is_an_empty_listing_and_other_errors_are_not() {
        let mut pager = Pager::new(10);
        let empty = canned(400, r#"{"Code":"NoHttpsDomain","Message":"Your account does not have any HTTPS domain."}"#);
        assert!(pager.fetch_next(&empty, &cdn_request()).unwrap().is_empty());
        assert!(pager.done());
        assert_eq!(list_all(&empty, &cdn_request()).unwrap().rows.len(), 0);
        let mut pager = Pager::new(10);
        let refused = canned(400, r#"{"Code":"InvalidParameter","Message":"bad"}"#);
        let error = pager.fetch_next(&refused, &cdn_request()).unwrap_err();
        assert!(
            matches!(error, PagingError::PageFailed { page: 1, rows_fetched: 0, total_count: None, .. }),
            "{error}"
        );
        assert!(error.to_string().starts_with("DescribeCdnHttpsDomainList: page 1 failed"), "{error}");
        assert!(!pager.done());
        // The empty code counts only on the first page: later, it is a failure.
        let mut pager = Pager::new(10);
        pager
            .fetch_next(&canned(200, r#"{"TotalCount":25,"A":{"B":[1,2,3,4,5,6,7,8,9,10]}}"#), &cdn_request())
            .unwrap();
        let gone = canned(400, r#"{"Code":"NoHttpsDomain","Message":"none"}"#);
        let error = pager.fetch_next(&gone, &cdn_request()).unwrap_err();
        assert!(
            error.to_string().contains("page 2 failed after 10 of 25 rows were fetched (15 of 25 rows not listed)"),
            "{error}"
        );
    }

    #[test]
    fn the_pager_names_the_rows_lost_and_a_changing_total() {
        let mut pager = Pager::new(10);
        let short = canned(200, r#"{"TotalCount":12,"A":{"B":[1,2,3]}}"#);
        assert_eq!(pager.fetch_next(&short, &cdn_request()).unwrap().len(), 3);
        let error = pager.fetch_next(&short, &cdn_request()).unwrap_err();
        assert!(
            error.to_string().contains("fetched 6 rows in 2 pages but TotalCount is 12 (6 rows not listed)"),
            "{error}"
        );
        let mut pager = Pager::new(10);
        pager
            .fetch_next(&canned(200, r#"{"TotalCount":25,"A":{"B":[1,2,3,4,5,6,7,8,9,10]}}"#), &cdn_request())
            .unwrap();
        let grown = canned(200, r#"{"TotalCount":26,"A":{"B":[1,2,3,4,5,6,7,8,9,10]}}"#);
        let error = pager.fetch_next(&grown, &cdn_request()).unwrap_err();
        assert!(error.to_string().contains("TotalCount changed from 25 to 26 at page 2"), "{error}");
        // `Total` (ListCloudResources) is named as such.
        let mut pager = Pager::new(10);
        let request = cdn_request().total_field("Total");
        let error = pager.fetch_next(&canned(200, r#"{"Total":3,"A":{"B":[1,2]}}"#), &request).unwrap_err();
        assert!(error.to_string().contains("fetched 2 rows in 1 pages but Total is 3 (1 rows not listed)"), "{error}");
    }

    #[test]
    fn the_pager_follows_a_capped_page_size_and_survives_a_cursor() {
        let host = FakeHost::answering(0, |request| {
            let page: u64 = param(request, "PageNumber").unwrap().parse().unwrap();
            assert_eq!(param(request, "PageSize").unwrap(), if page == 1 { "10" } else { "4" });
            let start = (page - 1) * 4;
            let rows: Vec<Value> = (start..(start + 4).min(9)).map(|i| json!({"n": i})).collect();
            Ok(json_response(200, &json!({"TotalCount": 9, "PageSize": 4, "A": {"B": rows}}).to_string()))
        });
        let client = client(host);
        let mut pager = Pager::new(10);
        let mut rows = Vec::new();
        while !pager.done() {
            rows.extend(pager.fetch_next(&client, &cdn_request()).unwrap());
            // The host keeps the pager in a cursor between calls.
            pager = serde_json::from_str(&serde_json::to_string(&pager).unwrap()).unwrap();
        }
        assert_eq!(rows.len(), 9);
        assert_eq!((pager.pages(), pager.size, pager.total, pager.fetched), (3, 4, Some(9), 9));
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

    #[test]
    fn rows_tolerate_missing_wrappers() {
        assert_eq!(rows_at(&json!({}), &["A", "B"]).unwrap().len(), 0);
        assert_eq!(rows_at(&json!({"A": {"B": [1, 2]}}), &["A", "B"]).unwrap().len(), 2);
        assert!(rows_at(&json!({"A": 3}), &["A", "B"]).is_err());
    }
}
