//! JSON (the report as serde writes it) and JSON Lines (the same content
//! as a stream of events).

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use certinspect_core::collect::{CollectError, SourceStats};
use certinspect_core::findings::Finding;
use certinspect_core::report::{ObservationResult, Report, Summary};
use certinspect_protocol::Binding;
use serde::Serialize;

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

#[derive(Serialize)]
struct ResultEvent<'a> {
    r#type: &'static str,
    binding: usize,
    #[serde(flatten)]
    binding_fields: &'a Binding,
    result: Option<&'a ObservationResult>,
}

#[derive(Serialize)]
struct FindingEvent<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    finding: &'a Finding,
}

#[derive(Serialize)]
struct SummaryEvent<'a> {
    r#type: &'static str,
    schema_version: u32,
    tool_version: &'a str,
    generated_at: i64,
    summary: &'a Summary,
    source_errors: &'a [CollectError],
    source_stats: &'a [SourceStats],
}

/// Writes a run as JSON Lines while it happens: one event per line, each
/// line written whole and flushed, so a consumer (or an interrupted run's
/// file) always holds complete lines. A stream without its final
/// `summary` line is a run that did not finish.
///
/// Streaming use: [`result`](Self::result) and [`finding`](Self::finding)
/// as the engine produces them, then [`finish`](Self::finish) with the
/// report, which adds what was not streamed (bindings that were never
/// probed, findings about bindings as a whole, source failures) and the
/// summary. [`render_jsonl`](crate::render_jsonl) is `finish` alone.
///
/// Event shapes are documented in `docs/REPORT.md` and by the
/// `#/$defs/jsonl_event` definition of `docs/report.schema.json`.
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    out: W,
    lines: usize,
    /// (binding index, address) of every result line written.
    results_written: HashSet<(usize, Option<String>)>,
    /// Findings written, as their JSON text, with multiplicity.
    findings_written: HashMap<String, usize>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// Write events to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesWriter { out, lines: 0, results_written: HashSet::new(), findings_written: HashMap::new() }
    }

    /// One observation of binding number `index` (its position in the
    /// report's `bindings`): `{"type":"result","binding":index, <the
    /// binding's fields>, "result": {...}}`. A binding that was not probed
    /// is written once with `"result": null`, so every binding appears.
    pub fn result(&mut self, index: usize, binding: &Binding, result: Option<&ObservationResult>) -> io::Result<()> {
        self.line(&ResultEvent { r#type: "result", binding: index, binding_fields: binding, result })?;
        self.results_written.insert((index, result.and_then(|r| r.address.clone())));
        Ok(())
    }

    /// One finding: `{"type":"finding", <the finding's fields>}`.
    pub fn finding(&mut self, finding: &Finding) -> io::Result<()> {
        self.line(&FindingEvent { r#type: "finding", finding })?;
        *self.findings_written.entry(finding_key(finding)?).or_insert(0) += 1;
        Ok(())
    }

    /// The closing line: the report's version, time, totals and source
    /// errors, `{"type":"summary", ...}`.
    pub fn summary(&mut self, report: &Report) -> io::Result<()> {
        self.line(&SummaryEvent {
            r#type: "summary",
            schema_version: report.schema_version,
            tool_version: &report.tool_version,
            generated_at: report.generated_at,
            summary: &report.summary,
            source_errors: &report.source_errors,
            source_stats: &report.source_stats,
        })
    }

    /// Complete the stream from the finished report: a result line for
    /// every binding and address not written yet (bindings in report
    /// order), every finding not written yet, then the summary.
    pub fn finish(&mut self, report: &Report) -> io::Result<()> {
        for (index, binding) in report.bindings.iter().enumerate() {
            if binding.results.is_empty() {
                if !self.results_written.contains(&(index, None)) {
                    self.result(index, &binding.binding, None)?;
                }
                continue;
            }
            for result in &binding.results {
                if !self.results_written.contains(&(index, result.address.clone())) {
                    self.result(index, &binding.binding, Some(result))?;
                }
            }
        }
        for finding in &report.findings {
            let key = finding_key(finding)?;
            match self.findings_written.get_mut(&key) {
                // Streamed already: count it off, so an identical second
                // finding is still written.
                Some(n) if *n > 0 => *n -= 1,
                _ => self.line(&FindingEvent { r#type: "finding", finding })?,
            }
        }
        self.summary(report)
    }

    /// Lines written so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn line(&mut self, event: &impl Serialize) -> io::Result<()> {
        // Serialize first and write the line in one call: a serialization
        // error never leaves half a line behind.
        let mut buffer = serde_json::to_vec(event)?;
        buffer.push(b'\n');
        self.out.write_all(&buffer)?;
        self.out.flush()?;
        self.lines += 1;
        Ok(())
    }
}

/// A finding's identity for [`JsonLinesWriter::finish`]: all of it.
fn finding_key(finding: &Finding) -> io::Result<String> {
    Ok(serde_json::to_string(finding)?)
}

pub(crate) fn render_lines(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    JsonLinesWriter::new(out).finish(report)
}
