//! CSV: one row per binding and result (RFC 4180, via the `csv` crate).

use std::io::{self, Write};

use certinspect_core::report::{ObservationResult, Report};

use crate::view::{findings_at, highest, rfc3339};

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

/// `tags`: the resource tags that get a column each (empty cell when the
/// resource lacks the tag).
pub(crate) fn render(report: &Report, tags: &[String], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    let header = CSV_COLUMNS.iter().map(|c| (*c).to_owned()).chain(tags.iter().map(|k| tag_column_name(k)));
    writer.write_record(header).map_err(io_error)?;
    for (index, binding_report) in report.bindings.iter().enumerate() {
        let results: Vec<Option<&ObservationResult>> = if binding_report.results.is_empty() {
            vec![None]
        } else {
            binding_report.results.iter().map(Some).collect()
        };
        let binding = &binding_report.binding;
        let location = &binding.location;
        let declared = &binding.declared;
        let endpoint = location.endpoint.as_ref();
        for result in results {
            let address = result.and_then(|r| r.address.as_deref());
            let findings: Vec<_> = findings_at(report, index, address).collect();
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
            row.extend(tags.iter().map(|key| binding.tags.get(key).cloned().unwrap_or_default()));
            writer.write_record(row.into_iter().map(neutralized)).map_err(io_error)?;
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
