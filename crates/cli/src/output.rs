//! Where and how results are written: the report format, the output file,
//! streaming JSON Lines, CSV, Prometheus series, table and SARIF rows,
//! JSON (through a temporary file), and progress on stderr.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use certinspect_core::collect::Collected;
use certinspect_core::findings::{Finding, Severity};
use certinspect_core::report::{ChainAnalysis, JoinNoteReport, ObservationResult, Report};
use certinspect_core::scan::{Inventory, ScanObserver};
use certinspect_core::verify::VerifyObserver;
use certinspect_protocol::Binding;

use crate::exit::ClosedPipe;

/// Output flags shared by `scan` and `probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Colour in the table: auto (terminal and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Compare with an earlier JSON report: findings new, resolved and changed are listed on stderr.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Exit with 1 only for findings at or above --fail-on that are new since --baseline (regressions).
    #[arg(long, requires = "baseline")]
    pub fail_on_new: bool,
}

pub fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text).ok_or_else(|| "expected one of critical, high, medium, low, info".to_owned())
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The versioned JSON report.
    Json,
    /// JSON Lines, streamed as results arrive.
    Jsonl,
    /// One row per binding and address.
    Csv,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The destination of the report.
pub struct Sink {
    format: Format,
    color: bool,
    /// Terminal width for the table (0: no limit).
    width: usize,
    writer: Box<dyn Write>,
    /// The writer of a streamed run (JSON Lines and CSV, which write as
    /// results arrive; JSON, which spills them to a temporary file;
    /// Prometheus, the table and SARIF, which gather compact rows); `writer`
    /// is then a sink.
    stream: Option<Stream>,
    /// The report of `--baseline`, read before anything is scanned.
    pub baseline: Option<Report>,
    /// Resource tags that become Prometheus labels and table/CSV columns.
    labels_from_tags: Vec<String>,
}

/// Open the destination `args` name (an output file is created up front,
/// so a bad path fails before any probing), with the resource tags
/// `labels_from_tags` as Prometheus labels and table/CSV columns.
pub fn open(args: &OutputArgs, labels_from_tags: &[String]) -> Result<Sink, String> {
    open_for(args, labels_from_tags, true)
}

/// [`open`] for a report that is complete before it is written (`report
/// merge`): JSON Lines are then written whole, not streamed.
pub fn open_whole(args: &OutputArgs) -> Result<Sink, String> {
    open_for(args, &[], false)
}

fn open_for(args: &OutputArgs, labels_from_tags: &[String], streaming: bool) -> Result<Sink, String> {
    let baseline = args
        .baseline
        .as_deref()
        .map(crate::report_cmd::read_report)
        .transpose()
        .map_err(|e| format!("--baseline {e}"))?;
    let (writer, terminal): (Box<dyn Write>, bool) = match &args.output {
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("--output {}: {e}", path.display()))?;
            (Box::new(BufWriter::new(file)), false)
        }
        None => (Box::new(io::stdout()), io::stdout().is_terminal()),
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    // Every format streams; comparing with a baseline needs the whole
    // report (findings are matched by their bindings), which is then
    // written at the end.
    let (writer, stream) = if streaming && baseline.is_none() {
        (Box::new(io::sink()) as Box<dyn Write>, Some(writer))
    } else {
        (writer, None)
    };
    // The table fits COLUMNS when set (shells export it); on a terminal
    // without it, 100; anywhere else (files, pipes, CI logs) it is never cut.
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    let width = columns.unwrap_or(if terminal { 100 } else { 0 });
    let options = render_options(color, width, labels_from_tags);
    let stream = match stream {
        None => None,
        Some(out) => Some(match args.format {
            Format::Csv => Stream::Csv(Box::new(
                certinspect_render::CsvWriter::new(out, labels_from_tags)
                    .map_err(|e| format!("cannot write the CSV header: {e}"))?,
            )),
            Format::Prometheus => Stream::Prometheus(certinspect_render::PrometheusSeries::new(labels_from_tags), out),
            Format::Json => {
                Stream::Json(Box::new(certinspect_render::JsonWriter::new(out).map_err(|e| e.to_string())?))
            }
            Format::Table => Stream::Table(Box::new(certinspect_render::TableWriter::new(&options)), out),
            Format::Sarif => Stream::Sarif(certinspect_render::SarifWriter::new(), out),
            Format::Jsonl => Stream::Jsonl(certinspect_render::JsonLinesWriter::for_streamed_run(out)),
        }),
    };
    let labels_from_tags = labels_from_tags.to_vec();
    Ok(Sink { format: args.format, color, width, writer, stream, baseline, labels_from_tags })
}

/// How the table is drawn: colour, width (0: no limit), a column per tag.
fn render_options(color: bool, width: usize, tags: &[String]) -> certinspect_render::RenderOptions {
    certinspect_render::RenderOptions { color, width, tags: tags.to_vec(), ..Default::default() }
}

/// A format written as the run goes.
enum Stream {
    Jsonl(certinspect_render::JsonLinesWriter<Box<dyn Write>>),
    Csv(Box<certinspect_render::CsvWriter<Box<dyn Write>>>),
    /// The series gathered, and where the file goes at the end.
    Prometheus(certinspect_render::PrometheusSeries, Box<dyn Write>),
    /// Results spilled to a temporary file, the report written at the end.
    Json(Box<certinspect_render::JsonWriter<Box<dyn Write>>>),
    /// The table's rows gathered, and where the table goes at the end.
    Table(Box<certinspect_render::TableWriter>, Box<dyn Write>),
    /// The SARIF results gathered, and where the log goes at the end.
    Sarif(certinspect_render::SarifWriter, Box<dyn Write>),
}

impl Sink {
    /// Whether the report need not keep results: they are streamed as they
    /// come, so the run's memory stays flat.
    pub fn streams(&self) -> bool {
        self.stream.is_some()
    }

    /// Write the finished report (JSON Lines: the closing summary).
    pub fn finish(&mut self, report: &Report) -> io::Result<()> {
        let options = render_options(self.color, self.width, &self.labels_from_tags);
        match (self.stream.as_mut(), self.format) {
            (Some(Stream::Jsonl(jsonl)), _) => jsonl.finish(report)?,
            (Some(Stream::Csv(csv)), _) => csv.flush()?,
            (Some(Stream::Json(json)), _) => json.finish(report)?,
            (Some(Stream::Prometheus(series, out)), _) => {
                series.finish(report, out)?;
                out.flush()?;
            }
            (Some(Stream::Table(table, out)), _) => {
                table.finish(report, out)?;
                out.flush()?;
            }
            (Some(Stream::Sarif(sarif, out)), _) => {
                sarif.finish(report, out)?;
                out.flush()?;
            }
            (None, Format::Table) => certinspect_render::render_table(report, &options, &mut self.writer)?,
            (None, Format::Json) => certinspect_render::render_json(report, &mut self.writer)?,
            (None, Format::Jsonl) => certinspect_render::render_jsonl(report, &mut self.writer)?,
            (None, Format::Csv) => {
                certinspect_render::render_csv_tagged(report, &self.labels_from_tags, &mut self.writer)?
            }
            (None, Format::Sarif) => certinspect_render::render_sarif(report, &mut self.writer)?,
            (None, Format::Prometheus) => {
                certinspect_render::render_prometheus_tagged(report, &self.labels_from_tags, &mut self.writer)?
            }
        }
        self.writer.flush()
    }
}

/// Streams results (JSON Lines, CSV, JSON, Prometheus series, table and SARIF rows) and shows progress on stderr when it is a terminal.
pub struct Observer<'s> {
    sink: &'s mut Sink,
    progress: bool,
    planned: usize,
    done: usize,
    failed: usize,
}

impl<'s> Observer<'s> {
    /// An observer writing to `sink`; progress only when `progress`.
    pub fn new(sink: &'s mut Sink, progress: bool) -> Self {
        Self { sink, progress, planned: 0, done: 0, failed: 0 }
    }

    /// Clear the progress line.
    pub fn finish(&mut self) {
        if self.progress && self.planned > 0 {
            eprint!("\r\x1b[2K");
        }
    }
}

impl VerifyObserver for Observer<'_> {
    fn planned(&mut self, bindings: usize, endpoints: usize) {
        self.planned = endpoints;
        if let Some(Stream::Prometheus(series, _)) = self.sink.stream.as_mut() {
            series.reserve(bindings);
        }
        if self.progress {
            eprint!("\r\x1b[2K{bindings} bindings, {endpoints} endpoints to probe");
        }
    }

    fn chain(&mut self, index: usize, analysis: &ChainAnalysis) {
        match self.sink.stream.as_mut() {
            Some(Stream::Jsonl(jsonl)) => {
                if let Err(e) = jsonl.chain(index, analysis).filter_closed_pipe() {
                    tracing::error!("cannot write a chain: {e}");
                }
            }
            // A spill write that fails is reported by `finish`.
            Some(Stream::Json(json)) => json.chain(index, analysis),
            _ => {}
        }
    }

    fn not_probed(&mut self, index: usize, binding: &Binding) {
        let written = match self.sink.stream.as_mut() {
            Some(Stream::Jsonl(jsonl)) => jsonl.result(index, binding, None),
            Some(Stream::Csv(csv)) => csv.not_probed(index, binding),
            Some(Stream::Prometheus(series, _)) => {
                series.not_probed(index, binding);
                Ok(())
            }
            Some(Stream::Table(table, _)) => {
                table.not_probed(index, binding);
                Ok(())
            }
            // JSON: written with the binding (`binding_done`).
            Some(Stream::Sarif(..)) | Some(Stream::Json(_)) | None => Ok(()),
        };
        if let Err(e) = written.filter_closed_pipe() {
            tracing::error!("cannot write a binding: {e}");
        }
    }

    fn binding_findings(&mut self, index: usize, binding: &Binding, findings: &[Finding]) {
        // JSON Lines write them from the report, at the end.
        match self.sink.stream.as_mut() {
            Some(Stream::Csv(csv)) => {
                let written = csv.binding_findings(index, binding, findings);
                if let Err(e) = written.filter_closed_pipe() {
                    tracing::error!("cannot write a binding: {e}");
                }
            }
            Some(Stream::Table(table, _)) => table.binding_findings(index, binding, findings),
            Some(Stream::Sarif(sarif, _)) => sarif.binding_findings(index, binding, findings),
            _ => {}
        }
    }

    fn binding_done(&mut self, index: usize, binding: &Binding, join: &JoinNoteReport) {
        if let Some(Stream::Json(json)) = self.sink.stream.as_mut() {
            json.binding(index, binding, join);
        }
    }

    fn result(&mut self, index: usize, binding: &Binding, result: &ObservationResult, findings: &[Finding]) {
        self.done += 1;
        self.failed += usize::from(result.error.is_some());
        let written = match self.sink.stream.as_mut() {
            Some(Stream::Jsonl(jsonl)) => jsonl
                .result(index, binding, Some(result))
                .and_then(|()| findings.iter().try_for_each(|f| jsonl.finding(f))),
            Some(Stream::Csv(csv)) => csv.result(binding, result, findings),
            Some(Stream::Prometheus(series, _)) => {
                series.result(index, binding, result, findings);
                Ok(())
            }
            // A spill write that fails is reported by `finish`.
            Some(Stream::Json(json)) => {
                json.result(index, result, findings);
                Ok(())
            }
            Some(Stream::Table(table, _)) => {
                table.result(index, binding, result, findings);
                Ok(())
            }
            Some(Stream::Sarif(sarif, _)) => {
                sarif.result(index, binding, result, findings);
                Ok(())
            }
            None => Ok(()),
        };
        if let Err(e) = written.filter_closed_pipe() {
            tracing::error!("cannot write a result: {e}");
        }
        if self.progress {
            eprint!(
                "\r\x1b[2K{} endpoints planned: {} results so far, {} could not be checked",
                self.planned, self.done, self.failed
            );
        }
    }
}

impl ScanObserver for Observer<'_> {
    fn listing(&mut self, sources: usize) {
        Progress(self.progress).listing(sources);
    }

    fn listed(&mut self, collected: &Collected) {
        Progress(self.progress).listed(collected);
    }
}

/// Listing progress on stderr (when it is a terminal), for commands that
/// have nothing to stream.
pub struct Progress(pub bool);

impl VerifyObserver for Progress {}

impl ScanObserver for Progress {
    fn listing(&mut self, sources: usize) {
        if self.0 {
            eprint!("\r\x1b[2Klisting {sources} sources...");
        }
    }

    fn listed(&mut self, collected: &Collected) {
        if self.0 {
            let pages: usize = collected.stats.iter().map(|s| s.pages).sum();
            eprintln!(
                "\r\x1b[2Klisted {} bindings in {pages} pages from {} sources, {} failed",
                collected.bindings.len(),
                collected.stats.len(),
                collected.errors.len()
            );
        }
    }
}

/// `inspect inventory` as a table.
pub fn inventory_table(out: &mut dyn Write, inventory: &Inventory) -> io::Result<()> {
    writeln!(
        out,
        "{:<14} {:<10} {:<36} {:<28} {:<12} {:<6} via",
        "plugin", "region", "resource", "certificate", "expires", "auto"
    )?;
    for (binding, note) in inventory.bindings.iter().zip(&inventory.join.notes) {
        let location = &binding.location;
        let declared = &binding.declared;
        let resource = match (&location.endpoint, location.listener_port) {
            (Some(e), _) => format!(
                "{}:{}{}",
                e.host,
                e.port,
                e.sni.as_ref().filter(|s| *s != &e.host).map(|s| format!(" ({s})")).unwrap_or_default()
            ),
            (None, Some(port)) => format!("{}:{port}", location.resource_id),
            (None, None) => location.resource_id.clone(),
        };
        let certificate = declared
            .name
            .clone()
            .or_else(|| declared.common_name.clone())
            .or_else(|| declared.provider_id.clone())
            .unwrap_or_default();
        let expires = declared.not_after.map(format_date).unwrap_or_else(|| "-".into());
        let auto = format!("{:?}", declared.auto_managed).to_lowercase();
        writeln!(
            out,
            "{:<14} {:<10} {:<36} {:<28} {:<12} {:<6} {}",
            location.plugin,
            location.region.as_deref().unwrap_or("-"),
            resource,
            certificate,
            expires,
            auto,
            note.enriched_via.join(", ")
        )?;
    }
    writeln!(
        out,
        "{} bindings, {} join issues, {} source errors",
        inventory.bindings.len(),
        inventory.join.issues.len(),
        inventory.source_errors.len()
    )
}

/// `YYYY-MM-DD` of a UNIX time (UTC).
fn format_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_format_in_utc() {
        assert_eq!(super::format_date(0), "1970-01-01");
        assert_eq!(super::format_date(1_700_000_000), "2023-11-14");
        assert_eq!(super::format_date(951_782_400), "2000-02-29");
    }
}
