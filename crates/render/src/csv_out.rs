//! CSV: one row per binding and result (RFC 4180, via the `csv` crate),
//! written whole or as a run streams its results ([`CsvWriter`]).

use std::io::{self, Write};

use certinspect_core::findings::Finding;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_core::verify::{report_order, BINDING_FINDING_CODES};
use certinspect_protocol::Binding;

use crate::view::{highest, rfc3339};

/// The header row; `docs/REPORT.md` describes each column. The columns of
/// chosen resource tags follow them ([`tag_column_name`]).
pub const CSV_COLUMNS: &[&str] = &[
    "provider",
    "service",
    "account",
    "region",
    "resource_id",
    "endpoint_host",
    "port",
    "sni",
    "address",
    "verdict",
    "basis",
    "reason",
    "served_subject",
    "served_serial",
    "served_sha256",
    "served_not_after",
    "days_remaining",
    "declared_name",
    "declared_common_name",
    "declared_serial",
    "declared_sha256",
    "declared_not_after",
    "finding_codes",
    "highest_severity",
];

/// The CSV header of the column holding resource tag `key`: `tag:<key>`,
/// the key as the cloud spells it; the prefix keeps a tag named like one of
/// [`CSV_COLUMNS`] (`region`, `account`) apart from it.
pub fn tag_column_name(key: &str) -> String {
    format!("tag:{key}")
}

/// Writes CSV rows as a run produces them, so a streamed run keeps nothing
/// per binding.
///
/// Rows: one per result of a binding, listing the findings about that
/// observation; and one without result columns (empty `address`,
/// `verdict`, ...) for a binding that was not probed or that has findings
/// about it as a whole ([`BINDING_FINDING_CODES`]: those are only known at
/// the end of a run), listing those. A streamed run writes result rows as
/// they arrive and the rows without result at the end; [`render_csv`]
/// writes each binding's rows together; as a set of rows the two are the
/// same.
///
/// [`render_csv`]: crate::render_csv
pub struct CsvWriter<W: Write> {
    writer: csv::Writer<W>,
    tags: Vec<String>,
    /// The binding whose row without result was written last, so a binding
    /// not probed that also has findings gets one such row, not two.
    last_binding_row: Option<usize>,
}

impl<W: Write> std::fmt::Debug for CsvWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter").field("tags", &self.tags).finish_non_exhaustive()
    }
}

impl<W: Write> CsvWriter<W> {
    /// Write the header ([`CSV_COLUMNS`], then a `tag:<key>` column per
    /// resource tag in `tags`) to `out`.
    pub fn new(out: W, tags: &[String]) -> io::Result<Self> {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
        let header = CSV_COLUMNS.iter().map(|c| (*c).to_owned()).chain(tags.iter().map(|k| tag_column_name(k)));
        writer.write_record(header).map_err(io_error)?;
        Ok(CsvWriter { writer, tags: tags.to_vec(), last_binding_row: None })
    }

    /// The row of one result of binding `binding`, with the findings the
    /// engine made about it.
    pub fn result(&mut self, binding: &Binding, result: &ObservationResult, findings: &[Finding]) -> io::Result<()> {
        self.row(binding, Some(result), findings.iter())
    }

    /// The row without result of binding number `index`, with its findings
    /// as a whole (from the engine's observer at the end of a run).
    pub fn binding_findings(&mut self, index: usize, binding: &Binding, findings: &[Finding]) -> io::Result<()> {
        self.last_binding_row = Some(index);
        self.row(binding, None, findings.iter())
    }

    /// Binding number `index` was not probed: its row without result,
    /// unless [`binding_findings`](Self::binding_findings) just wrote it.
    pub fn not_probed(&mut self, index: usize, binding: &Binding) -> io::Result<()> {
        if self.last_binding_row == Some(index) {
            return Ok(());
        }
        self.row(binding, None, [].iter())
    }

    /// Flush what is written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// The underlying writer, flushed.
    pub fn into_inner(self) -> io::Result<W> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }

    fn row<'f>(
        &mut self,
        binding: &Binding,
        result: Option<&ObservationResult>,
        findings: impl Iterator<Item = &'f Finding>,
    ) -> io::Result<()> {
        let location = &binding.location;
        let declared = &binding.declared;
        let endpoint = location.endpoint.as_ref();
        let address = result.and_then(|r| r.address.as_deref());
        // In the report's order, however the engine handed them over.
        let mut findings: Vec<&Finding> = findings.collect();
        findings.sort_by(|a, b| report_order(a, b));
        let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        let served = result.and_then(|r| r.served.as_ref());
        let mut row: Vec<String> = vec![
            location.plugin.clone(),
            location.service.clone(),
            location.account.clone(),
            location.region.clone().unwrap_or_default(),
            location.resource_id.clone(),
            endpoint.map(|e| e.host.clone()).unwrap_or_default(),
            endpoint.map(|e| e.port.to_string()).unwrap_or_default(),
            // The SNI actually sent, else the one the binding asks for.
            result.and_then(|r| r.sni.clone()).or_else(|| endpoint.and_then(|e| e.sni.clone())).unwrap_or_default(),
            address.unwrap_or_default().to_owned(),
            result.map(|r| r.verdict.as_str().to_owned()).unwrap_or_default(),
            result.map(|r| enum_name(&r.basis)).unwrap_or_default(),
            result.map(|r| r.reason.clone()).unwrap_or_default(),
            served.map(|s| s.subject.clone()).unwrap_or_default(),
            served.map(|s| s.serial.clone()).unwrap_or_default(),
            served.map(|s| s.sha256.clone()).unwrap_or_default(),
            served.map(|s| rfc3339(s.not_after)).unwrap_or_default(),
            served.map(|s| s.days_remaining.to_string()).unwrap_or_default(),
            declared.name.clone().unwrap_or_default(),
            declared.common_name.clone().unwrap_or_default(),
            declared.serial.clone().unwrap_or_default(),
            declared.fingerprint("sha256").unwrap_or_default().to_owned(),
            declared.not_after.map(rfc3339).unwrap_or_default(),
            codes.join(";"),
            highest(findings.iter().copied()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
        ];
        row.extend(self.tags.iter().map(|key| binding.tags.get(key).cloned().unwrap_or_default()));
        self.writer.write_record(row.into_iter().map(neutralized)).map_err(io_error)
    }
}

/// `tags`: the resource tags that get a column each (empty cell when the
/// resource lacks the tag).
pub(crate) fn render(report: &Report, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = CsvWriter::new(out, tags)?;
    for (index, binding_report) in report.bindings.iter().enumerate() {
        let binding = &binding_report.binding;
        let (whole, of_results): (Vec<&Finding>, Vec<&Finding>) = report
            .findings
            .iter()
            .filter(|f| f.binding == Some(index))
            .partition(|f| f.address.is_none() && BINDING_FINDING_CODES.contains(&f.code));
        for result in &binding_report.results {
            let address = result.address.as_deref();
            writer.row(
                binding,
                Some(result),
                of_results.iter().copied().filter(|f| f.address.as_deref() == address),
            )?;
        }
        if binding_report.results.is_empty() || !whole.is_empty() {
            writer.row(binding, None, whole.iter().copied())?;
        }
    }
    writer.flush()
}

/// The writer's I/O error as it was (a closed pipe stays a closed pipe for
/// the caller to recognise); other CSV errors wrapped.
fn io_error(error: csv::Error) -> io::Error {
    if !error.is_io_error() {
        return io::Error::other(error);
    }
    match error.into_kind() {
        csv::ErrorKind::Io(inner) => inner,
        _ => io::Error::other("the CSV writer failed"),
    }
}

/// A cell a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, tab or carriage return: OWASP's CSV injection list) gets a
/// leading `'`, which spreadsheets show as text. Numbers (`-3` days) stay
/// numbers. Names and messages come from cloud APIs and servers, so they
/// are not trusted.
fn neutralized(cell: String) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The name serde gives a unit enum variant (`sha256`, `serial_issuer`).
pub(crate) fn enum_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formula_cells_are_neutralized_and_numbers_kept() {
        let cases = [
            ("=HYPERLINK(\"http://x.test\")", "'=HYPERLINK(\"http://x.test\")"),
            ("+cmd", "'+cmd"),
            ("-1+2", "'-1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("-3", "-3"),
            ("-0.5", "-0.5"),
            ("www.example.test", "www.example.test"),
            ("", ""),
        ];
        for (cell, expected) in cases {
            assert_eq!(super::neutralized(cell.to_owned()), expected, "{cell}");
        }
    }
}
