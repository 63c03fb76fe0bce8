//! JSON (the report as serde writes it) and JSON Lines (the same content
//! as a stream of events).

use std::collections::HashMap;
use std::io::{self, Write};

use certinspect_core::collect::{CollectError, SourceStats};
use certinspect_core::findings::Finding;
use certinspect_core::report::{ChainAnalysis, ObservationResult, Report, Summary};
use certinspect_core::trust_store::TrustStoreInfo;
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
struct ChainEvent<'a> {
    r#type: &'static str,
    chain: usize,
    analysis: &'a ChainAnalysis,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_store: Option<&'a TrustStoreInfo>,
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
/// With a run that keeps no results (`VerifyOptions::keep_results` off),
/// use [`for_streamed_run`](Self::for_streamed_run): the engine's observer
/// writes every binding ([`result`](Self::result), with `None` for one not
/// probed), the report then holds only the findings that were not
/// streamed and the totals, and the writer remembers one bit per binding,
/// so memory stays flat however long the run.
///
/// Event shapes are documented in `docs/REPORT.md` and by the
/// `#/$defs/jsonl_event` definition of `docs/report.schema.json`.
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    out: W,
    lines: usize,
    /// Per binding index, whether a result line was written for it.
    bindings_written: Vec<bool>,
    /// Per chain number, whether its `chain` line was written.
    chains_written: Vec<bool>,
    /// Findings written, as their JSON text, with multiplicity; `None` for
    /// a streamed run, whose report does not repeat them.
    findings_written: Option<HashMap<String, usize>>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// Write events to `out`; [`finish`](Self::finish) skips what the
    /// report holds and was streamed already.
    pub fn new(out: W) -> Self {
        JsonLinesWriter {
            out,
            lines: 0,
            bindings_written: Vec::new(),
            chains_written: Vec::new(),
            findings_written: Some(HashMap::new()),
        }
    }

    /// Write events of a run whose report keeps no streamed results or
    /// findings: [`finish`](Self::finish) writes every finding the report
    /// holds.
    pub fn for_streamed_run(out: W) -> Self {
        JsonLinesWriter { findings_written: None, ..Self::new(out) }
    }

    /// One observation of binding number `index` (its position in the
    /// report's `bindings`): `{"type":"result","binding":index, <the
    /// binding's fields>, "result": {...}}`. A binding that was not probed
    /// is written once with `"result": null`, so every binding appears.
    pub fn result(&mut self, index: usize, binding: &Binding, result: Option<&ObservationResult>) -> io::Result<()> {
        self.line(&ResultEvent { r#type: "result", binding: index, binding_fields: binding, result })?;
        if self.bindings_written.len() <= index {
            self.bindings_written.resize(index + 1, false);
        }
        self.bindings_written[index] = true;
        Ok(())
    }

    /// The full analysis of served chain number `index` (`--detail full`),
    /// before the first result whose `chain` is `index`:
    /// `{"type":"chain","chain":index,"analysis":{...}}`.
    pub fn chain(&mut self, index: usize, analysis: &ChainAnalysis) -> io::Result<()> {
        self.line(&ChainEvent { r#type: "chain", chain: index, analysis })?;
        if self.chains_written.len() <= index {
            self.chains_written.resize(index + 1, false);
        }
        self.chains_written[index] = true;
        Ok(())
    }

    /// One finding: `{"type":"finding", <the finding's fields>}`.
    pub fn finding(&mut self, finding: &Finding) -> io::Result<()> {
        self.line(&FindingEvent { r#type: "finding", finding })?;
        if let Some(written) = self.findings_written.as_mut() {
            *written.entry(finding_key(finding)?).or_insert(0) += 1;
        }
        Ok(())
    }

    /// The closing line: the report's version, time, trust store, totals
    /// and source errors, `{"type":"summary", ...}`.
    pub fn summary(&mut self, report: &Report) -> io::Result<()> {
        self.line(&SummaryEvent {
            r#type: "summary",
            schema_version: report.schema_version,
            tool_version: &report.tool_version,
            generated_at: report.generated_at,
            trust_store: report.trust_store.as_ref(),
            summary: &report.summary,
            source_errors: &report.source_errors,
            source_stats: &report.source_stats,
        })
    }

    /// Complete the stream from the finished report: the result lines of
    /// every binding that streamed none (bindings in report order; the
    /// engine streams all of a binding's results or none), every finding
    /// not written yet, then the summary.
    pub fn finish(&mut self, report: &Report) -> io::Result<()> {
        for (index, binding) in report.bindings.iter().enumerate() {
            if self.bindings_written.get(index).copied().unwrap_or(false) {
                continue;
            }
            if binding.results.is_empty() {
                self.result(index, &binding.binding, None)?;
            }
            for result in &binding.results {
                let unwritten_chain = result
                    .chain
                    .filter(|&c| !self.chains_written.get(c).copied().unwrap_or(false))
                    .and_then(|c| Some((c, report.chains.get(c)?)));
                if let Some((chain, analysis)) = unwritten_chain {
                    self.chain(chain, analysis)?;
                }
                self.result(index, &binding.binding, Some(result))?;
            }
        }
        for finding in &report.findings {
            let Some(written) = self.findings_written.as_mut() else {
                self.line(&FindingEvent { r#type: "finding", finding })?;
                continue;
            };
            let key = finding_key(finding)?;
            match written.get_mut(&key) {
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
