//! Collecting bindings from opened sources: the host drives the parallelism.
//!
//! Each source lists its scopes; worker threads page through the scopes, one
//! short call at a time, each under a deadline. A call runs on its own plain
//! `std::thread` (never tokio's blocking pool, which a stuck plugin would keep
//! alive at exit), so a plugin that hangs costs one abandoned thread and one
//! reported error, and the collection goes on. A source in a child process
//! (`plugins::isolated`) keeps the deadline itself: the child is killed.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certinspect_protocol::{Binding, Page, Scope};
use serde::{Deserialize, Serialize};

use crate::plugins::{Isolation, OpenedSource, SourceCallError};

/// Limits of a collection run.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Deadline for one plugin call.
    pub call_timeout: Duration,
    /// Scopes worked on at once, across all sources.
    pub parallelism: usize,
    /// A scope that is still handing out cursors after this many pages is
    /// stopped and reported (a plugin bug must not loop forever).
    pub max_pages_per_scope: usize,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self { call_timeout: Duration::from_secs(120), parallelism: 4, max_pages_per_scope: 100_000 }
    }
}

/// Something that could not be collected. Nothing is dropped silently:
/// every failed source or scope yields one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectError {
    /// The plugin.
    pub plugin: String,
    /// The scope, when the failure is limited to one.
    pub scope: Option<String>,
    /// One line.
    pub message: String,
}

/// Per-plugin counts, so totals can be checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    /// The plugin.
    pub plugin: String,
    /// Scopes listed by the source.
    pub scopes: usize,
    /// Scopes listed to the end.
    pub scopes_complete: usize,
    /// Pages received.
    pub pages: usize,
    /// Bindings received.
    pub bindings: usize,
    /// SHA-256 of the plugin library the source ran (absent for a
    /// provider built into the binary), so a report says which code listed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_sha256: Option<String>,
}

/// Everything collected.
#[derive(Debug, Default, Serialize)]
pub struct Collected {
    /// Bindings, grouped by source and scope in a stable order.
    pub bindings: Vec<Binding>,
    /// Failures of whole sources or single scopes.
    pub errors: Vec<CollectError>,
    /// Warnings sources reported on their pages.
    pub warnings: Vec<CollectError>,
    /// One entry per source, in input order.
    pub stats: Vec<SourceStats>,
}

/// Collect all bindings from `sources`.
pub fn collect(sources: &[Arc<OpenedSource>], options: &CollectOptions) -> Collected {
    let mut collected = Collected {
        stats: sources
            .iter()
            .map(|s| SourceStats {
                plugin: s.plugin().to_owned(),
                library_sha256: s.library_sha256().map(str::to_owned),
                ..SourceStats::default()
            })
            .collect(),
        ..Collected::default()
    };

    // Scopes first, each source under its own deadline.
    let mut jobs = VecDeque::new();
    for (index, source) in sources.iter().enumerate() {
        match call_source(source, options.call_timeout, |source| source.scopes()) {
            Some(Ok(scopes)) => {
                collected.stats[index].scopes = scopes.len();
                jobs.extend(scopes.into_iter().map(|scope| (index, scope)));
            }
            Some(Err(e)) => collected.errors.push(source_error(source, None, &e)),
            None => collected.errors.push(timeout_error(source, None, options.call_timeout)),
        }
    }

    let job_count = jobs.len();
    let queue = Arc::new(Mutex::new(jobs));
    let (results_tx, results_rx) = mpsc::channel::<(usize, ScopeResult)>();
    let mut order = Vec::with_capacity(job_count);
    std::thread::scope(|threads| {
        for _ in 0..options.parallelism.max(1).min(job_count.max(1)) {
            let queue = Arc::clone(&queue);
            let results = results_tx.clone();
            threads.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((index, scope)) = next else { break };
                let result = list_scope(&sources[index], &scope, options);
                if results.send((index, result)).is_err() {
                    break;
                }
            });
        }
        drop(results_tx);
        order.extend(results_rx.iter());
    });

    // Stable output whatever the thread timing: by source, then scope id.
    order.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.scope.id.cmp(&y.scope.id)));
    for (index, result) in order {
        let stats = &mut collected.stats[index];
        stats.pages += result.pages;
        stats.bindings += result.bindings.len();
        stats.scopes_complete += usize::from(result.error.is_none());
        collected.bindings.extend(result.bindings);
        collected.warnings.extend(result.warnings.into_iter().map(|message| CollectError {
            plugin: sources[index].plugin().to_owned(),
            scope: Some(result.scope.label.clone()),
            message,
        }));
        collected.errors.extend(result.error);
    }
    collected
}

struct ScopeResult {
    scope: Scope,
    pages: usize,
    bindings: Vec<Binding>,
    warnings: Vec<String>,
    error: Option<CollectError>,
}

/// Page through one scope. What was listed before a failure is kept, and
/// the failure says how far the listing got.
fn list_scope(source: &Arc<OpenedSource>, scope: &Scope, options: &CollectOptions) -> ScopeResult {
    let mut result =
        ScopeResult { scope: scope.clone(), pages: 0, bindings: Vec::new(), warnings: Vec::new(), error: None };
    let label = if scope.label.is_empty() { scope.id.clone() } else { scope.label.clone() };
    let mut cursor: Option<String> = None;
    loop {
        if result.pages >= options.max_pages_per_scope {
            result.error = Some(CollectError {
                plugin: source.plugin().to_owned(),
                scope: Some(label),
                message: format!("stopped after {} pages: the source keeps returning cursors", result.pages),
            });
            return result;
        }
        let (scope_id, call_cursor) = (scope.id.clone(), cursor.clone());
        let outcome: Option<Result<Page, SourceCallError>> = call_source(source, options.call_timeout, move |source| {
            source.list_page(&scope_id, call_cursor.as_deref())
        });
        let failure = match outcome {
            Some(Ok(page)) => {
                result.pages += 1;
                // The host names the plugin itself: a plugin cannot speak for another.
                result.bindings.extend(page.bindings.into_iter().map(|mut binding| {
                    binding.location.plugin = source.plugin().to_owned();
                    binding
                }));
                result.warnings.extend(page.warnings);
                match page.next_cursor {
                    Some(next) => {
                        cursor = Some(next);
                        continue;
                    }
                    None => return result,
                }
            }
            Some(Err(e)) => source_error(source, Some(&label), &e),
            None => timeout_error(source, Some(&label), options.call_timeout),
        };
        let kept = result.bindings.len();
        result.error = Some(CollectError {
            message: format!(
                "{} (listing incomplete: {kept} bindings from {} pages kept)",
                failure.message, result.pages
            ),
            ..failure
        });
        return result;
    }
}

fn source_error(source: &OpenedSource, scope: Option<&str>, error: &SourceCallError) -> CollectError {
    CollectError {
        plugin: source.plugin().to_owned(),
        scope: scope.map(str::to_owned),
        message: error.error.to_string(),
    }
}

fn timeout_error(source: &OpenedSource, scope: Option<&str>, timeout: Duration) -> CollectError {
    CollectError {
        plugin: source.plugin().to_owned(),
        scope: scope.map(str::to_owned),
        message: format!("the plugin did not answer within {}s; call abandoned", timeout.as_secs_f64()),
    }
}

/// Call `source` under `deadline`. A source in a child process keeps the
/// deadline itself (it kills the child and says so); an in-process call
/// runs on its own thread and is abandoned when it overruns.
fn call_source<T: Send + 'static>(
    source: &Arc<OpenedSource>,
    deadline: Duration,
    call: impl FnOnce(&OpenedSource) -> T + Send + 'static,
) -> Option<T> {
    if source.isolation() == Isolation::Process {
        return Some(call(source));
    }
    let source = Arc::clone(source);
    call_with_deadline(deadline, move || call(&source))
}

/// Run `call` on its own thread and wait at most `deadline` for it. A call
/// that overruns is abandoned: its thread finishes (or hangs) on its own.
fn call_with_deadline<T: Send + 'static>(deadline: Duration, call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("plugin-call".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .ok()?;
    rx.recv_timeout(deadline).ok()
}
