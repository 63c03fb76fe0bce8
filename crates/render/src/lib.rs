//! Renders a certinspect [`Report`] for people and for other programs.
//!
//! Formats ([`Format`]):
//!
//! - **table**: for a terminal: a summary, the findings most severe first,
//!   one row per binding and address; ANSI colour only when the caller asks
//!   ([`RenderOptions::color`]); gathered as compact rows while a run
//!   streams ([`TableWriter`]);
//! - **json**: the report exactly as serde writes it, described by the
//!   hand-written JSON Schema `docs/report.schema.json` ([`REPORT_SCHEMA`])
//!   ([`JsonWriter`] writes the same bytes for a streamed run, from a
//!   temporary file);
//! - **jsonl**: JSON Lines events (`result`, `finding`, `summary`), written
//!   and flushed one line at a time so an interrupted run keeps what it had
//!   ([`JsonLinesWriter`] for streaming, [`render_jsonl`] for a whole report);
//! - **csv**: one row per binding and result (RFC 4180);
//! - **sarif**: SARIF 2.1.0, one rule per finding code, one result per
//!   finding; gathered as compact results while a run streams ([`SarifWriter`]);
//! - **prometheus**: the text exposition format, for node_exporter's
//!   textfile collector.
//!
//! `docs/REPORT.md` documents every field, code, column and metric.
//!
//! What this crate is not: it does no network or file-system I/O (but
//! [`JsonWriter`]'s anonymous temporary file) and makes
//! no policy. It writes into any [`std::io::Write`] it is handed; which
//! format, where the output goes, whether colour is wanted (a terminal,
//! `NO_COLOR` unset) and how wide the terminal is are the caller's (the
//! CLI's) decisions. It never changes the report: every renderer reads the
//! same [`Report`] the engine produced.

mod csv_out;
mod diff_out;
mod json;
mod json_streamed;
mod prometheus;
mod sarif;
mod table;

mod view;

use std::io::{self, Write};
use std::str::FromStr;

use certinspect_core::diff::ReportDiff;
use certinspect_core::report::Report;

pub use certinspect_core::findings::{CodeInfo, FindingCode, Severity};
pub use csv_out::{tag_column_name, CsvWriter, CSV_COLUMNS};
pub use json::JsonLinesWriter;
pub use json_streamed::JsonWriter;
pub use prometheus::{escape_label_value, tag_label_name, PrometheusSeries};
pub use sarif::{binding_uri, sarif_level, SarifWriter, SARIF_FINGERPRINT_KEY};
pub use table::TableWriter;

/// The JSON Schema (draft 2020-12) of the `json` format, and of the `jsonl`
/// events under `$defs/jsonl_event`: `docs/report.schema.json`, compiled in
/// so the CLI can print it.
pub const REPORT_SCHEMA: &str = include_str!("../../../docs/report.schema.json");

/// How the report is drawn. Colour, verbosity and width shape the table
/// only: the other formats must not depend on the terminal. The chosen
/// tags are columns of the table and CSV and labels in Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Colour with ANSI escape codes. The caller decides (a terminal, and
    /// `NO_COLOR` unset); the renderer never looks at the environment.
    pub color: bool,
    /// List info findings one by one instead of as a count.
    pub verbose: bool,
    /// Width to fit the table in, in columns; long cells are cut with `…`.
    /// 0 means no limit.
    pub width: usize,
    /// Resource tags shown as columns of the bindings table, one per key
    /// in this order (`[output] labels_from_tags`); empty: none.
    pub tags: Vec<String>,
}

impl Default for RenderOptions {
    /// No colour, not verbose, 100 columns, no tag columns.
    fn default() -> Self {
        RenderOptions { color: false, verbose: false, width: 100, tags: Vec::new() }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The human table.
    Table,
    /// The report as pretty JSON.
    Json,
    /// JSON Lines events.
    JsonLines,
    /// CSV, one row per binding and result.
    Csv,
    /// SARIF 2.1.0.
    Sarif,
    /// Prometheus text exposition format.
    Prometheus,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 6] =
        [Format::Table, Format::Json, Format::JsonLines, Format::Csv, Format::Sarif, Format::Prometheus];

    /// The name used on the command line: `table`, `json`, `jsonl`, `csv`,
    /// `sarif`, `prometheus`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::JsonLines => "jsonl",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Prometheus => "prometheus",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Format::ALL.into_iter().find(|f| f.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format '{name}'; expected one of: {}", names.join(", "))
        })
    }
}

/// Render `report` in `format` into `out`.
pub fn render(report: &Report, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => render_table(report, options, out),
        Format::Json => render_json(report, out),
        Format::JsonLines => render_jsonl(report, out),
        Format::Csv => csv_out::render(report, &options.tags, out),
        Format::Sarif => render_sarif(report, out),
        Format::Prometheus => prometheus::render(report, &options.tags, out),
    }
}

/// What changed between two reports ([`certinspect_core::diff`]), for
/// people: one line per finding new, changed or resolved, then the counts.
pub fn render_diff(diff: &ReportDiff, out: &mut dyn Write) -> io::Result<()> {
    diff_out::render_text(diff, out)
}

/// [`render_diff`] as JSON.
pub fn render_diff_json(diff: &ReportDiff, out: &mut dyn Write) -> io::Result<()> {
    diff_out::render_json(diff, out)
}

pub use diff_out::counts as diff_counts;

/// The human table.
pub fn render_table(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    table::render(report, options, out)
}

/// The report as pretty-printed JSON, followed by a newline.
pub fn render_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    json::render(report, out)
}

/// The whole report as JSON Lines events, in the order a streaming run
/// writes them: every binding's results (bindings in report order), the
/// findings, then the summary.
pub fn render_jsonl(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    json::render_lines(report, out)
}

/// CSV with the header [`CSV_COLUMNS`].
pub fn render_csv(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    csv_out::render(report, &[], out)
}

/// [`render_csv`] with a column per resource tag `labels_from_tags` names,
/// after [`CSV_COLUMNS`] (headers: [`tag_column_name`]).
pub fn render_csv_tagged(report: &Report, labels_from_tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    csv_out::render(report, labels_from_tags, out)
}

/// A SARIF 2.1.0 log.
pub fn render_sarif(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    sarif::render(report, out)
}

/// Prometheus text exposition format.
pub fn render_prometheus(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    prometheus::render(report, &[], out)
}

/// [`render_prometheus`] with the resource tags `labels_from_tags` names as
/// labels of every certificate series (see [`tag_label_name`]).
pub fn render_prometheus_tagged(report: &Report, labels_from_tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    prometheus::render(report, labels_from_tags, out)
}

/// Prometheus text exposition format for a continuous scan's state: the
/// last complete report, remembered certificates, scan health; tags as in
/// [`render_prometheus_tagged`].
pub fn render_prometheus_snapshot(
    snapshot: &certinspect_core::watch::Snapshot,
    labels_from_tags: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    prometheus::render_snapshot(snapshot, labels_from_tags, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
        }
        assert!("xml".parse::<Format>().unwrap_err().contains("jsonl"));
    }
}
